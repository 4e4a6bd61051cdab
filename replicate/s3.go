package replicate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Options name a bucket of an S3-compatible object store and the keys
// to it.
type S3Options struct {
	Endpoint  string // https://host[:port] or http://host[:port]
	Bucket    string
	Prefix    string // "" or ending in "/"; the account's name follows it
	Region    string // "" lets the client ask the server
	AccessKey string
	SecretKey string
	// Timeout bounds connecting, and any wait for the server to accept
	// or send the next bytes: a server that stalls fails the request
	// after it. Default 30 s.
	Timeout time.Duration
}

// S3 is a replica in a bucket: each object one S3 object under
// <prefix><account>/. A PUT is atomic in S3: an object is listed only once
// it is complete.
type S3 struct {
	c      *minio.Client
	bucket string
	root   string // <prefix><account>/
	url    string
}

// NewS3 returns the replica of an account in the bucket o names. It
// checks that the bucket exists, so that a wrong endpoint, wrong keys or
// a missing bucket fail before anything is read or sent.
func NewS3(ctx context.Context, o S3Options, account string) (*S3, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("s3 endpoint %q: want https://host[:port] or http://host[:port]", o.Endpoint)
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:      credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:     u.Scheme == "https",
		Region:     o.Region,
		Transport:  transport(o.Timeout),
		MaxRetries: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 endpoint %s: %w", o.Endpoint, err)
	}
	s := &S3{c: c, bucket: o.Bucket, root: o.Prefix + account + "/"}
	s.url = "s3://" + o.Bucket + "/" + s.root
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func transport(timeout time.Duration) http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, timeout: timeout}, nil
	}
	t.ResponseHeaderTimeout = timeout
	t.TLSHandshakeTimeout = timeout
	t.MaxIdleConnsPerHost = 16
	return t
}

// idleConn fails a read or write that makes no progress for timeout, so
// that a server that stops answering in the middle of a body cannot hang
// a run (net/http bounds only the wait for a response's headers). An idle
// pooled connection is closed after timeout; the transport dials anew.
type idleConn struct {
	net.Conn
	timeout time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(p)
}

// check asks whether the bucket exists: the first request, which
// proves the endpoint, the keys and the bucket.
func (s *S3) check(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	switch {
	case err != nil:
		return s.fail("check bucket", err)
	case !ok:
		return fmt.Errorf("%s: bucket %q does not exist: create it first", s.c.EndpointURL().Host, s.bucket)
	}
	return nil
}

func (s *S3) String() string { return s.url }

func (s *S3) List(ctx context.Context, prefix string, fn func(string, int64) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine when fn fails
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.root + prefix, Recursive: true}) {
		if o.Err != nil {
			return s.fail("list "+prefix, o.Err)
		}
		if err := fn(strings.TrimPrefix(o.Key, s.root), o.Size); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (s *S3) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	_, err := s.c.PutObject(ctx, s.bucket, s.root+name, r, size,
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: size < 64<<20})
	if err != nil {
		return s.fail("put "+name, err)
	}
	return nil
}

func (s *S3) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	o, err := s.c.GetObject(ctx, s.bucket, s.root+name, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.fail("get "+name, err)
	}
	// GetObject sends nothing until the first read: Stat makes a missing
	// object an error here rather than inside a reader's stream.
	if _, err := o.Stat(); err != nil {
		o.Close()
		return nil, s.fail("get "+name, err)
	}
	return o, nil
}

func (s *S3) Delete(ctx context.Context, name string) error {
	if err := s.c.RemoveObject(ctx, s.bucket, s.root+name, minio.RemoveObjectOptions{}); err != nil {
		return s.fail("delete "+name, err)
	}
	return nil
}

// ErrAccess reports that the object store refused the keys.
var ErrAccess = errors.New("access denied")

// fail wraps an error of the store with what was done, naming a missing
// object (fs.ErrNotExist) and refused keys (ErrAccess) so that callers
// can tell them.
func (s *S3) fail(what string, err error) error {
	host := s.c.EndpointURL().Host
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchKey":
		return fmt.Errorf("%s: %s: %w", s.url, what, fs.ErrNotExist)
	case "NoSuchBucket":
		return fmt.Errorf("%s: bucket %q does not exist: create it first", host, s.bucket)
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
		return fmt.Errorf("%s: %s: %w: the server refused the access key or secret key (%s)", host, what, ErrAccess, resp.Code)
	}
	if resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%s: %s: %w (%s)", host, what, ErrAccess, cmp.Or(resp.Message, resp.Code))
	}
	return fmt.Errorf("%s: %s: %w", host, what, err)
}
