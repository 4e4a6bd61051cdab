package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const s3Item = `    replicate:
      - s3: {endpoint: https://s3.example.com, bucket: mail, prefix: work, access_key_file: a, secret_key_file: /k/s}
`

func TestParseReplicate(t *testing.T) {
	cfg, err := Parse([]byte(withAccount(s3Item+"      - dir: /mnt/copy\n        keep_pruned: true\n")), "/etc/mailkeep/t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Accounts[0].Replicate
	want := []Replica{
		{S3: S3Replica{Endpoint: "https://s3.example.com", Bucket: "mail", Prefix: "work/",
			AccessKeyFile: "/etc/mailkeep/a", SecretKeyFile: "/k/s"}},
		{Dir: "/mnt/copy", KeepPruned: true},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if s := got[0].String(); s != "s3://mail/work/" {
		t.Errorf("String: %q", s)
	}
}

func TestParseReplicateErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"unknown key in an item", withAccount("    replicate:\n      - dir: /x\n        keep_prune: true\n"),
			`t.yaml:10: unknown key "replicate[0].keep_prune" in account "work" (did you mean "keep_pruned"?)`},
		{"unknown s3 key", withAccount("    replicate:\n      - s3: {bukcet: x}\n"),
			`t.yaml:9: unknown key "replicate[0].s3.bukcet" in account "work" (did you mean "bucket"?)`},
		{"neither", withAccount("    replicate:\n      - keep_pruned: true\n"),
			`t.yaml:9: account "work": replicate[0]: set s3 or dir`},
		{"both", withAccount("    replicate:\n      - {dir: /x, s3: {bucket: abc}}\n"),
			`t.yaml:9: account "work": replicate[0]: set either s3 or dir, not both`},
		{"endpoint missing", withAccount(strings.Replace(s3Item, "endpoint: https://s3.example.com, ", "", 1)),
			`t.yaml:9: account "work": replicate[0].s3.endpoint: missing (https://host or https://host:port)`},
		{"endpoint with a path", withAccount(strings.Replace(s3Item, "s3.example.com", "s3.example.com/mail", 1)),
			`t.yaml:9: account "work": replicate[0].s3.endpoint: "https://s3.example.com/mail": want https://host or https://host:port (http:// for a store without TLS), nothing after the host`},
		{"endpoint without a scheme", withAccount(strings.Replace(s3Item, "https://", "", 1)),
			`t.yaml:9: account "work": replicate[0].s3.endpoint: "s3.example.com": want https://host or https://host:port (http:// for a store without TLS), nothing after the host`},
		{"bucket missing", withAccount(strings.Replace(s3Item, "bucket: mail, ", "", 1)),
			`t.yaml:9: account "work": replicate[0].s3.bucket: missing`},
		{"bucket with a slash", withAccount(strings.Replace(s3Item, "bucket: mail", "bucket: mail/x", 1)),
			`t.yaml:9: account "work": replicate[0].s3.bucket: "mail/x" is not a bucket name (3 to 63 characters, no "/")`},
		{"prefix from the root", withAccount(strings.Replace(s3Item, "prefix: work", "prefix: /work", 1)),
			`t.yaml:9: account "work": replicate[0].s3.prefix: "/work" must not start with "/"`},
		{"secret key file missing", withAccount(strings.Replace(s3Item, ", secret_key_file: /k/s", "", 1)),
			`t.yaml:9: account "work": replicate[0].s3.secret_key_file: missing`},
		{"dir inside the archive", withAccount("    replicate:\n      - dir: /srv/mail/copy\n"),
			`t.yaml:9: account "work": replicate[0].dir: /srv/mail/copy lies inside the archive /srv/mail: a replica belongs on another disk`},
		{"dir is the archive", withAccount("    replicate:\n      - dir: /srv/mail/\n"),
			`t.yaml:9: account "work": replicate[0].dir: /srv/mail lies inside the archive /srv/mail: a replica belongs on another disk`},
		{"the same twice", withAccount("    replicate:\n      - dir: /x\n      - dir: /x/\n"),
			`t.yaml:10: account "work": replicate[1]: the same replica as replicate[0]`},
		{"not a list", withAccount("    replicate: {dir: /x}\n"),
			`t.yaml:8: account "work": replicate: want a list of replicas (each an s3 or a dir mapping), got a mapping`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "t.yaml")
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if !containsLine(strings.Split(err.Error(), "\n"), tt.want) {
				t.Errorf("error lacks line\n  %s\ngot\n  %v", tt.want, err)
			}
		})
	}
}

func TestS3ReplicaKeys(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("AKID\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "s"), []byte("sekrit\n"), 0o600)
	r := S3Replica{AccessKeyFile: filepath.Join(dir, "a"), SecretKeyFile: filepath.Join(dir, "s")}
	a, s, err := r.Keys()
	if err != nil || a != "AKID" || s != "sekrit" {
		t.Fatalf("Keys: %q %q %v", a, s, err)
	}
	r.SecretKeyFile = filepath.Join(dir, "none")
	if _, _, err := r.Keys(); err == nil || !strings.Contains(err.Error(), "secret_key_file: open "+r.SecretKeyFile) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestReplicateWarning(t *testing.T) {
	for _, tt := range []struct{ endpoint, want string }{
		{"https://s3.example.com", ""},
		{"http://127.0.0.1:9000", ""},
		{"http://s3.lan:9000", "replicate endpoint http://s3.lan:9000 sends the archive unencrypted; use https outside a trusted network"},
	} {
		cfg, err := Parse([]byte(withAccount(strings.Replace(s3Item, "https://s3.example.com", tt.endpoint, 1))), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for _, w := range cfg.Warnings() {
			got += w.Text
		}
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: warnings %q, want %q", tt.endpoint, got, tt.want)
		}
	}
}
