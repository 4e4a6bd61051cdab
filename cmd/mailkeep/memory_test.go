package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// rssBound is the peak resident memory a backup may use, whatever the
// folder size or message size: the bound of the performance targets.
const rssBound = 64 << 20

// bigMessageSize is the size of the one large message of TestPeakRSS.
const bigMessageSize = 25 << 20

// memoryFolderSize is how many messages TestPeakRSS puts in one folder:
// 20,000 by default (CI), MAILKEEP_MEMORY_MESSAGES for a bigger run
// (bench/run.sh uses 100,000).
func memoryFolderSize(t *testing.T) int {
	s := os.Getenv("MAILKEEP_MEMORY_MESSAGES")
	if s == "" {
		return 20000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("MAILKEEP_MEMORY_MESSAGES=%q: want a positive number", s)
	}
	return n
}

// TestPeakRSS backs up, with the built binary, a folder of many small
// messages and a folder holding one 25 MB message, and checks that both
// runs stay within the same peak resident memory (ru_maxrss of the child,
// as wait4 reports it; see lowerOwnPeak). The mail is written straight into
// Dovecot's Maildir: APPENDing 100,000 messages would take longer than
// backing them up. Linux only, like the rest of the Dovecot tests.
func TestPeakRSS(t *testing.T) {
	n := memoryFolderSize(t)
	srv := dovecottest.Start(t, dovecottest.Options{Users: []string{"many", "big"}})
	manyBytes := writeMaildir(t, srv.MailDir("many"), n, smallMessage)
	bigBytes := writeMaildir(t, srv.MailDir("big"), 1, func(r *rand.Rand, _ int) []byte {
		return bigMessage(r, bigMessageSize)
	})
	cases := []struct {
		name, user string
		messages   int
		bytes      int64
	}{
		{fmt.Sprintf("folder-%d", n), "many", n, manyBytes},
		{"message-25MB", "big", 1, bigBytes},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, root := writeMemoryConfig(t, srv, c.user)
			start := time.Now()
			rss, floor, out := runPeakRSS(t, "backup", "--config", cfg, "--no-progress")
			wall := time.Since(start)
			if want := " " + plural(c.messages, "new message"); !strings.Contains(out, want) {
				t.Fatalf("backup did not report%s:\n%s", want, out)
			}
			if got := countArchived(t, root); got != c.messages {
				t.Fatalf("archive holds %d message files, want %d", got, c.messages)
			}
			// A line bench/run.sh picks up for its report.
			t.Logf("memory: case=%s messages=%d bytes=%d wall=%.1fs peak_rss_kib=%d bound_kib=%d floor_kib=%d",
				c.name, c.messages, c.bytes, wall.Seconds(), rss>>10, rssBound>>10, floor>>10)
			if rss > rssBound {
				t.Errorf("peak RSS %.1f MiB, above the bound of %d MiB", float64(rss)/(1<<20), rssBound>>20)
			}
			if c.user == "many" {
				oneMore(t, srv.MailDir("many"), cfg, c.messages)
			}
		})
	}
}

// oneMore delivers one message to the folder of n messages already backed
// up, and times and measures the incremental backup that fetches it: its
// cost must follow what changed, not the folder's size.
func oneMore(t *testing.T, dir, cfg string, n int) {
	t.Helper()
	msg := smallMessage(rand.New(rand.NewPCG(43, 1)), n)
	name := fmt.Sprintf("%d.M%dP0.mem,S=%d:2,", time.Now().Unix(), n, len(msg))
	if err := os.WriteFile(filepath.Join(dir, "new", name), msg, 0o644); err != nil {
		t.Fatal(err)
	}
	chownLike(t, dir, filepath.Dir(dir))
	start := time.Now()
	rss, floor, out := runPeakRSS(t, "backup", "--config", cfg, "--no-progress")
	wall := time.Since(start)
	if !strings.Contains(out, " 1 new message ") {
		t.Fatalf("backup did not report 1 new message:\n%s", out)
	}
	t.Logf("memory: case=folder-%d-plus-1 messages=1 bytes=%d wall=%.2fs peak_rss_kib=%d bound_kib=%d floor_kib=%d",
		n, len(msg), wall.Seconds(), rss>>10, rssBound>>10, floor>>10)
	if rss > rssBound {
		t.Errorf("incremental run: peak RSS %.1f MiB, above the bound of %d MiB", float64(rss)/(1<<20), rssBound>>20)
	}
}

// runPeakRSS runs the binary and returns its peak RSS in bytes, the floor
// below which ru_maxrss cannot see, and its combined output; a non-zero
// exit fails the test.
//
// A child started by os/exec (vfork, then execve) gets the peak RSS of its
// parent as the floor of its own ru_maxrss, and this test process holds the
// generated mail (and, under -race, much more). So the parent first returns
// what it can and resets its own peak (lowerOwnPeak), and the child's VmHWM,
// which its fresh address space has from execve on, is read every
// millisecond while it runs. The result is the larger of the two: exact when
// ru_maxrss is clearly above the floor, and otherwise the child's VmHWM as of
// at most a millisecond before it exited.
func runPeakRSS(t *testing.T, args ...string) (peak, floor int64, output string) {
	t.Helper()
	floor = lowerOwnPeak(t)
	cmd := exec.CommandContext(t.Context(), binary, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	polled := make(chan int64)
	done := make(chan struct{})
	go func() { polled <- pollHWM(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid), done) }()
	err := cmd.Wait()
	close(done)
	peak = <-polled
	if err != nil {
		t.Fatalf("mailkeep %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no resource usage for the child process")
	}
	// The parent's RSS when it forks is the floor plus what it allocated
	// since: a ru_maxrss only just above the floor is still the parent's.
	if maxrss := ru.Maxrss << 10; maxrss > floor+forkSlack { // Linux reports KiB
		peak = max(peak, maxrss)
	}
	return peak, floor, out.String()
}

// forkSlack is how far above the floor ru_maxrss must be to be the child's.
const forkSlack = 8 << 20

// pollHWM reads VmHWM from a /proc status file every millisecond until done
// is closed or the file goes away, and returns the largest value seen.
func pollHWM(path string, done <-chan struct{}) int64 {
	var peak int64
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		if v, err := vmHWM(path); err == nil {
			peak = max(peak, v)
		}
		select {
		case <-done:
			return peak
		case <-tick.C:
		}
	}
}

// lowerOwnPeak returns freed memory to the system, resets this process's
// peak RSS and returns what is left of it.
func lowerOwnPeak(t *testing.T) int64 {
	t.Helper()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset the test's own peak RSS: %v", err)
	}
	v, err := vmHWM("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// vmHWM returns the VmHWM line of a /proc status file, in bytes.
func vmHWM(path string) (int64, error) {
	status, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kib << 10, err
		}
	}
	return 0, fmt.Errorf("%s: no VmHWM", path)
}

func writeMemoryConfig(t *testing.T, srv *dovecottest.Server, user string) (cfg, root string) {
	t.Helper()
	dir := t.TempDir()
	host, port, _ := strings.Cut(srv.IMAPAddr, ":")
	text := fmt.Sprintf(`archive: %s/archive
accounts:
  - name: %s
    protocol: imap
    host: %s
    port: %s
    tls: none
    username: %s
    password_env: MAILKEEP_MEMORY_PASSWORD
`, dir, user, host, port, user)
	cfg = filepath.Join(dir, "mailkeep.yaml")
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MAILKEEP_MEMORY_PASSWORD", srv.Password(user))
	return cfg, filepath.Join(dir, "archive", user)
}

func countArchived(t *testing.T, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(root, "mail"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && filepath.Base(filepath.Dir(p)) == "cur" {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// writeMaildir writes n messages into the INBOX of the Maildir at dir, the
// way Dovecot names delivered files (with S= and W=), gives the tree to
// the owner of its parent (the mail user, when Dovecot runs as root) and
// returns the bytes written.
func writeMaildir(t *testing.T, dir string, n int, gen func(*rand.Rand, int) []byte) int64 {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(42, uint64(n)))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var total int64
	for i := range n {
		msg := gen(r, i)
		date := base.Add(time.Duration(i) * time.Minute)
		name := fmt.Sprintf("%d.M%dP0.mem,S=%d,W=%d:2,S", date.Unix(), i, len(msg), len(msg)+bytes.Count(msg, []byte("\n")))
		p := filepath.Join(dir, "cur", name)
		if err := os.WriteFile(p, msg, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, date, date); err != nil {
			t.Fatal(err)
		}
		total += int64(len(msg))
	}
	chownLike(t, dir, filepath.Dir(dir))
	return total
}

// chownLike gives the tree at root to the owner of ref.
func chownLike(t *testing.T, root, ref string) {
	t.Helper()
	info, err := os.Stat(ref)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return
	}
	err = filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(st.Uid), int(st.Gid))
	})
	if err != nil {
		t.Fatal(err)
	}
}

var memoryWords = strings.Fields(`backup archive folder message server mailbox quarterly report meeting
	notes invoice status release build review draft contract holiday window maintenance ticket
	Rechnung Änderungen Woche über café naïve`)

// smallMessage returns message i: a few hundred bytes to a few KB of text
// with LF line ends, as Dovecot stores mail on disk.
func smallMessage(r *rand.Rand, i int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Sender %d <sender%d@example.org>\nTo: many@example.com\n", i%97, i%97)
	fmt.Fprintf(&b, "Subject: message %d\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n", i)
	fmt.Fprintf(&b, "Message-ID: <%d.memory@example.org>\nMIME-Version: 1.0\n", i)
	b.WriteString("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
	for size := 300 + r.IntN(2500); b.Len() < size; {
		for range 10 {
			b.WriteString(memoryWords[r.IntN(len(memoryWords))])
			b.WriteByte(' ')
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// bigMessage returns a message of about size bytes, nearly all of it one
// base64 attachment of random bytes (incompressible, as photos are).
func bigMessage(r *rand.Rand, size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 4096)
	b.WriteString("From: Big <big@example.org>\nTo: big@example.com\nSubject: big attachment\n")
	b.WriteString("Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <big.memory@example.org>\n")
	b.WriteString("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n")
	b.WriteString("--b\nContent-Type: text/plain\n\nThe scan.\n--b\n")
	b.WriteString("Content-Type: application/octet-stream; name=\"scan.bin\"\nContent-Transfer-Encoding: base64\n\n")
	raw := make([]byte, 57)
	line := make([]byte, base64.StdEncoding.EncodedLen(len(raw)))
	for b.Len() < size-100 {
		for i := range raw {
			raw[i] = byte(r.Uint32())
		}
		base64.StdEncoding.Encode(line, raw)
		b.Write(line)
		b.WriteByte('\n')
	}
	b.WriteString("--b--\n")
	return b.Bytes()
}
