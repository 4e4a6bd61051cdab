package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// Replica is one place where an account's archive is copied by
// "mailkeep replicate": exactly one of S3 and Dir is set.
type Replica struct {
	S3         S3Replica `yaml:"s3"`          // a bucket of an S3-compatible object store
	Dir        string    `yaml:"dir"`         // a directory (another disk, a mount)
	KeepPruned bool      `yaml:"keep_pruned"` // keep in the replica what prune removed from the archive
}

// S3Replica names a bucket, a prefix in it and the files holding the keys.
type S3Replica struct {
	Endpoint      string `yaml:"endpoint"`        // https://host[:port]; http:// too
	Bucket        string `yaml:"bucket"`          // must exist
	Prefix        string `yaml:"prefix"`          // "" or ending in "/" (added when missing)
	Region        string `yaml:"region"`          // "" lets the client ask the server
	AccessKeyFile string `yaml:"access_key_file"` // file holding the access key ID
	SecretKeyFile string `yaml:"secret_key_file"` // file holding the secret access key
}

// String names a replica as "mailkeep replicate" and --from spell it:
// s3://bucket/prefix or the directory.
func (r *Replica) String() string {
	if r.Dir != "" {
		return r.Dir
	}
	return "s3://" + r.S3.Bucket + "/" + r.S3.Prefix
}

// Keys reads the access key ID and the secret access key from their files.
// Errors name the key and the file, never the contents.
func (s *S3Replica) Keys() (access, secret string, err error) {
	if access, err = readSecretFile("access_key_file", s.AccessKeyFile); err != nil {
		return "", "", err
	}
	if secret, err = readSecretFile("secret_key_file", s.SecretKeyFile); err != nil {
		return "", "", err
	}
	return access, secret, nil
}

// checkReplicas checks an account's replicate list; archive is the
// resolved archive directory.
func checkReplicas(a *Account, s *section, dir, archive string) {
	seen := map[string]int{}
	for i := range a.Replicate {
		r := &a.Replicate[i]
		key := fmt.Sprintf("replicate[%d]", i)
		hasS3 := r.S3 != (S3Replica{})
		switch {
		case hasS3 && r.Dir != "":
			s.errorf(key, "%s: set either s3 or dir, not both", key)
			continue
		case hasS3:
			checkS3Replica(&r.S3, s, key+".s3", dir)
		case r.Dir != "":
			checkDirReplica(r, s, key, dir, archive)
		default:
			s.errorf(key, "%s: set s3 or dir", key)
			continue
		}
		if j, dup := seen[r.String()]; dup {
			s.errorf(key, "%s: the same replica as replicate[%d]", key, j)
		}
		seen[r.String()] = i
	}
}

func checkS3Replica(r *S3Replica, s *section, key, dir string) {
	checkEndpoint(r.Endpoint, s, key+".endpoint")
	switch {
	case r.Bucket == "":
		s.errorf(key+".bucket", "%s.bucket: missing", key)
	case strings.ContainsAny(r.Bucket, "/ ") || len(r.Bucket) < 3 || len(r.Bucket) > 63:
		s.errorf(key+".bucket", "%s.bucket: %q is not a bucket name (3 to 63 characters, no \"/\")", key, r.Bucket)
	}
	if strings.HasPrefix(r.Prefix, "/") {
		s.errorf(key+".prefix", "%s.prefix: %q must not start with \"/\"", key, r.Prefix)
	}
	if r.Prefix != "" && !strings.HasSuffix(r.Prefix, "/") {
		r.Prefix += "/"
	}
	for _, k := range []struct {
		name string
		v    *string
	}{{"access_key_file", &r.AccessKeyFile}, {"secret_key_file", &r.SecretKeyFile}} {
		if *k.v == "" {
			s.errorf(key+"."+k.name, "%s.%s: missing", key, k.name)
			continue
		}
		*k.v = resolvePath(s, key+"."+k.name, dir, *k.v)
	}
}

func checkEndpoint(endpoint string, s *section, key string) {
	if endpoint == "" {
		s.errorf(key, "%s: missing (https://host or https://host:port)", key)
		return
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.User != nil {
		s.errorf(key, "%s: %q: want https://host or https://host:port (http:// for a store without TLS), nothing after the host", key, endpoint)
	}
}

func checkDirReplica(r *Replica, s *section, key, dir, archive string) {
	r.Dir = filepath.Clean(resolvePath(s, key+".dir", dir, r.Dir))
	if rel, err := filepath.Rel(filepath.Clean(archive), r.Dir); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		s.errorf(key+".dir", "%s.dir: %s lies inside the archive %s: a replica belongs on another disk", key, r.Dir, archive)
	}
}

// insecureReplicas lists the s3 endpoints of a that send the mail
// unencrypted to another machine.
func insecureReplicas(a *Account) []string {
	var out []string
	for _, r := range a.Replicate {
		u, err := url.Parse(r.S3.Endpoint)
		if err != nil || u.Scheme != "http" {
			continue
		}
		if !loopback(u.Hostname()) {
			out = append(out, r.S3.Endpoint)
		}
	}
	return out
}
