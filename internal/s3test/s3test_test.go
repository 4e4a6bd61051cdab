package s3test_test

import (
	"context"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/mailkeep/mailkeep/internal/s3test"
)

func TestServer(t *testing.T) {
	srv := s3test.Start(t, "mail")
	c := srv.Client(t)
	ctx := context.Background()
	for _, name := range []string{"a/one", "a/two", "b/three"} {
		if _, err := c.PutObject(ctx, "mail", name, strings.NewReader(name), int64(len(name)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Objects(t, "mail", "a/"); len(got) != 2 {
		t.Errorf("objects under a/: %v", got)
	}
	if n := srv.Puts(t, "mail/a/"); n != 2 {
		t.Errorf("%d PUTs logged under a/, want 2", n)
	}
	srv.Stop()
	if _, err := c.BucketExists(ctx, "mail"); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("after Stop: %v", err)
	}
}

func TestBinaryMissing(t *testing.T) {
	t.Setenv("MAILKEEP_VERSITYGW", "/nonexistent/versitygw")
	if _, err := s3test.Binary(); err == nil || !strings.Contains(err.Error(), "not an executable file") {
		t.Fatalf("Binary: %v", err)
	}
}
