// Package s3test runs a private S3-compatible object store for tests:
// versitygw's posix backend on a free loopback port, one per test, with
// a directory of its own (a bucket is a directory of it). The binary is
// found as $MAILKEEP_VERSITYGW, else versitygw in
// /opt/mailkeep-test/bin, else on $PATH; scripts/test-servers.sh installs
// it. A missing binary fails the test: the tests of replication never
// skip.
//
// Requests counts the PUT requests the server logged, so a test can tell
// how many objects a run sent.
package s3test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mailkeep/mailkeep/internal/servertest"
)

// Keys the server accepts.
const (
	AccessKey = "mailkeep-test"
	SecretKey = "mailkeep-test-secret"
)

// Binary returns the path of the versitygw binary, or an error that says
// how to install it.
func Binary() (string, error) {
	if p := os.Getenv("MAILKEEP_VERSITYGW"); p != "" {
		if !isExec(p) {
			return "", fmt.Errorf("$MAILKEEP_VERSITYGW=%s is not an executable file", p)
		}
		return p, nil
	}
	if p := "/opt/mailkeep-test/bin/versitygw"; isExec(p) {
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("versitygw not found in $MAILKEEP_VERSITYGW, /opt/mailkeep-test/bin or $PATH: " +
		"run scripts/test-servers.sh (it builds it with go install)")
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Server is a running versitygw.
type Server struct {
	Addr     string // 127.0.0.1:port
	Endpoint string // http://127.0.0.1:port
	Data     string // the posix backend's directory: Data/<bucket>/<object>
	proc     *servertest.Process
	log      string
	dir      string
	t        testing.TB
}

// Start runs a server until test cleanup, with one empty bucket per name
// in buckets.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := servertest.MakeDir(t, "s3test-")
	s := &Server{Data: filepath.Join(dir, "data"), log: filepath.Join(dir, "access.log"), dir: dir, t: t}
	if err := os.Mkdir(s.Data, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		if err := os.Mkdir(filepath.Join(s.Data, b), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s.start(t, bin)
	return s
}

func (s *Server) start(t testing.TB, bin string) {
	t.Helper()
	for range 3 {
		ports, err := servertest.FreePorts(1)
		if err != nil {
			t.Fatal(err)
		}
		s.Addr = servertest.HostPort(ports[0])
		s.Endpoint = "http://" + s.Addr
		stderr, err := os.Create(filepath.Join(s.dir, "stderr"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--port", s.Addr, "--access", AccessKey, "--secret", SecretKey,
			"--access-log", s.log, "--keep-alive", "--quiet", "posix", s.Data)
		cmd.Stdout, cmd.Stderr = stderr, stderr
		p, err := servertest.Start(cmd, syscall.SIGKILL)
		stderr.Close()
		if err != nil {
			t.Fatal(err)
		}
		err = p.WaitListening(10*time.Second, s.Addr)
		if err == nil {
			s.proc = p
			t.Cleanup(func() { p.Stop(5 * time.Second) })
			return
		}
		p.Stop(5 * time.Second)
		if !strings.Contains(err.Error(), servertest.ErrPortTaken.Error()) {
			out, _ := os.ReadFile(filepath.Join(s.dir, "stderr"))
			t.Fatalf("versitygw: %v\n%s", err, servertest.Tail(string(out), 20))
		}
	}
	t.Fatal("versitygw: no free port after 3 tries")
}

// Stop kills the server; a later request finds no endpoint.
func (s *Server) Stop() {
	if err := s.proc.Stop(5 * time.Second); err != nil {
		s.t.Fatal(err)
	}
}

// Client returns a minio client of the server.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Addr, &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Objects lists the names of the objects in bucket below prefix.
func (s *Server) Objects(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	var out []string
	for o := range s.Client(t).ListObjects(context.Background(), bucket,
		minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out = append(out, o.Key)
	}
	return out
}

// Puts counts the PUT requests (s3_PutObject) of objects whose names contain part that
// the server has logged so far.
func (s *Server) Puts(t testing.TB, part string) int {
	t.Helper()
	f, err := os.Open(s.log)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, " s3_PutObject ") && strings.Contains(l, part) {
			n++
		}
	}
	return n
}
