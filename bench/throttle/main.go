// Command throttle is a TCP proxy that gives the benchmark a slower link:
// what the server sends reaches the clients at no more than -rate bytes per
// second, shared by all connections, as over one network link. It shows
// how much of mailkeep's work overlaps a fetch that waits on the network
// (the search index's, for one), which a loopback Dovecot hides.
//
//	throttle -listen 127.0.0.1:12993 -to 127.0.0.1:11143 -rate 12500000
//
// It prints "listening ADDR" and runs until killed. Standard library only.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"time"
)

// bucket hands out bytes at rate per second, in slices of at most burst.
type bucket struct {
	mu    sync.Mutex
	rate  float64
	next  time.Time // when the bytes handed out so far have been "sent"
	burst int
}

// take waits until n bytes may pass.
func (b *bucket) take(n int) {
	b.mu.Lock()
	now := time.Now()
	if b.next.Before(now) {
		b.next = now
	}
	b.next = b.next.Add(time.Duration(float64(n) / b.rate * float64(time.Second)))
	wait := b.next.Sub(now)
	b.mu.Unlock()
	time.Sleep(wait)
}

// copyThrottled copies src to dst through the bucket.
func copyThrottled(dst io.Writer, src io.Reader, b *bucket) {
	buf := make([]byte, b.burst)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			b.take(n)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func serve(c net.Conn, to string, b *bucket) {
	defer c.Close()
	s, err := net.Dial("tcp", to)
	if err != nil {
		log.Print(err)
		return
	}
	defer s.Close()
	go func() {
		io.Copy(s, c)
		s.(*net.TCPConn).CloseWrite()
	}()
	copyThrottled(c, s, b)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	to := flag.String("to", "127.0.0.1:11143", "server address")
	rate := flag.Float64("rate", 12.5e6, "bytes per second from the server, all connections together")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening", ln.Addr())
	b := &bucket{rate: *rate, burst: 16 << 10}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c, *to, b)
	}
}
