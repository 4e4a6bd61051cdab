// Package servertest holds what the packages that run real mail servers for
// tests share: a private directory, free loopback ports, a child process
// that cannot outlive the test binary, a wait until that very process
// listens, and a logged-in IMAP client.
//
// A [Process] is started in its own process group with a parent-death
// signal, from a goroutine locked to its OS thread (the signal fires when
// the creating thread ends, not the process). [Process.Stop] kills the whole
// group and waits until the process has been reaped. A process started in
// new PID and mount namespaces (couriertest does, as root) is the init of
// its namespace: when it dies the kernel kills every process inside before
// its parent can reap it, so a reaped server has left nothing behind.
//
// [Process.WaitListening] waits until each address accepts connections on
// a listening socket that the process or one of its descendants holds (read
// from /proc), so a port taken meanwhile by another server is never
// mistaken for a started one.
//
// The package is meant for the test server packages only; it needs Linux.
package servertest
