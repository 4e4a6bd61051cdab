package main

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
)

func exportArgs(cfg string, args ...string) []string {
	return append([]string{"export", "--config", cfg, "--no-progress"}, args...)
}

// TestExportCLI exports in each format through the binary: summary lines,
// standard output, a second run, and the exit code and message of each
// error.
func TestExportCLI(t *testing.T) {
	_, cfg, root, _ := restoreSetup(t, corpus.Options{Seed: 51, Count: 30})
	dir := t.TempDir()
	r := mailkeep(t, nil, exportArgs(cfg, "alice", "--format", "mbox", "--to", dir)...)
	summary := regexp.MustCompile(`^alice: ok — mbox to ` + regexp.QuoteMeta(dir) +
		`, latest state, 8 folders, 40 messages \([0-9.]+ [KM]iB\), 0 already in place, 1 given a final newline, 0 damaged, [0-9.]+m?s\n$`)
	if r.code != exitOK || !summary.MatchString(r.stdout) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	inbox, err := os.ReadFile(filepath.Join(dir, "INBOX.mbox"))
	if err != nil {
		t.Fatal(err)
	}
	r = mailkeep(t, nil, exportArgs(cfg, "alice", "--format", "mbox", "--to", "-", "--folder", "inbox")...)
	if r.code != exitOK || r.stdout != string(inbox) || !strings.Contains(r.stderr, "alice: ok — mbox to standard output, latest state, 1 folders") {
		t.Fatalf("--to -: exit %d, %d bytes on stdout (INBOX.mbox has %d)\nstderr: %s", r.code, len(r.stdout), len(inbox), r.stderr)
	}
	for _, format := range []string{"eml", "maildir"} {
		dir := t.TempDir()
		for _, present := range []string{"0", "40"} {
			r := mailkeep(t, nil, exportArgs(cfg, "alice", "--format", format, "--to", dir)...)
			if r.code != exitOK || !strings.Contains(r.stdout, "40 messages") || !strings.Contains(r.stdout, ", "+present+" already in place, 0 damaged") {
				t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", format, r.code, r.stdout, r.stderr)
			}
		}
	}
	t.Run("errors", func(t *testing.T) { testExportErrors(t, cfg) })
	t.Run("damaged", func(t *testing.T) { testExportDamaged(t, cfg, root) })
}

func testExportErrors(t *testing.T, cfg string) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no format", []string{"alice", "--to", dir}, exitUsage, `required flag(s) "format" not set`},
		{"no target", []string{"alice", "--format", "mbox"}, exitUsage, `required flag(s) "to" not set`},
		{"no account", []string{"--format", "mbox", "--to", dir}, exitUsage, "export needs ACCOUNT or --id"},
		{"bad format", []string{"alice", "--format", "pdf", "--to", dir}, exitUsage, `--format "pdf": want mbox, eml or maildir`},
		{"unknown account", []string{"nobody", "--format", "mbox", "--to", dir}, exitUsage, `no account "nobody"`},
		{"no archive", []string{"carol", "--format", "mbox", "--to", dir}, exitFailure, "no archive yet"},
		{"stdout, every folder", []string{"alice", "--format", "mbox", "--to", "-"}, exitUsage,
			"standard output takes the mbox of exactly one folder: 8 folders selected"},
		{"stdout, eml", []string{"alice", "--format", "eml", "--to", "-", "--folder", "INBOX"}, exitUsage,
			"standard output takes the mbox of exactly one folder: --format eml"},
		{"no such folder", []string{"alice", "--format", "mbox", "--to", dir, "--folder", "Nope*"}, exitUsage,
			"no folder of the archive matches"},
		{"bad pattern", []string{"alice", "--format", "mbox", "--to", dir, "--folder", `a\`}, exitUsage,
			`--folder: folder pattern "a\\" ends with a lone "\"`},
		{"bad date", []string{"alice", "--format", "mbox", "--to", dir, "--since", "yesterday"}, exitUsage,
			`--since "yesterday": want a date`},
		{"as of before the first run", []string{"alice", "--format", "mbox", "--to", dir, "--as-of", "2001-01-01T00:00:00Z"},
			exitUsage, "no such backup run: none started at or before 2001-01-01T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mailkeep(t, nil, exportArgs(cfg, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, want %d and %q\nstdout: %s\nstderr: %s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
			if lines := errorLines(r.stderr); len(lines) != 1 || r.stdout != "" {
				t.Errorf("want one line on stderr and nothing on stdout, got:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("failed exports wrote %d entries", len(entries))
	}
}

// testExportDamaged flips a byte of an archived message: the export goes
// on without it, names it, and exits with 5.
func testExportDamaged(t *testing.T, cfg, root string) {
	cur := filepath.Join(root, "alice", "mail", "INBOX", archive.MaildirLevel, "cur")
	entries, err := os.ReadDir(cur)
	if err != nil || len(entries) < 3 {
		t.Fatalf("%d files in %s: %v", len(entries), cur, err)
	}
	name := entries[2].Name()
	data, err := os.ReadFile(filepath.Join(cur, name))
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(filepath.Join(cur, name), data, 0o640); err != nil {
		t.Fatal(err)
	}
	key, _, _ := strings.Cut(name, ",")
	for _, format := range []string{"mbox", "eml", "maildir"} {
		r := mailkeep(t, nil, exportArgs(cfg, "alice", "--format", format, "--to", t.TempDir())...)
		if r.code != exitProblems || !strings.Contains(r.stdout, "alice: problems — "+format) ||
			!strings.Contains(r.stdout, "39 messages") || !strings.Contains(r.stdout, "1 damaged") ||
			!strings.Contains(r.stdout, "  damaged: INBOX: "+key+": ") ||
			!strings.Contains(r.stderr, "messages could not be exported: 1 left out, first: INBOX: "+key) {
			t.Errorf("%s: exit %d, want %d naming %s\nstdout: %s\nstderr: %s", format, r.code, exitProblems, key, r.stdout, r.stderr)
		}
	}
}

// TestExportKilled kills `mailkeep export` with SIGKILL at random points
// of its progress (a random count of files under their final names), in
// each format, then interrupts it with SIGINT, then lets a run finish:
// no file under its final name is ever incomplete, and the finished tree
// equals an export made in one go, with no temp file left.
func TestExportKilled(t *testing.T) {
	_, cfg, _, _ := restoreSetup(t, corpus.Options{Seed: 53, Count: 250, Big: 3 << 20})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	n, killed := trials("MAILKEEP_EXPORT_CRASH_TRIALS", 4), 0
	for _, format := range []string{"eml", "maildir", "mbox"} {
		want := t.TempDir()
		if r := mailkeep(t, nil, exportArgs(cfg, "alice", "--format", format, "--to", want)...); r.code != exitOK {
			t.Fatalf("%s: exit %d\n%s%s", format, r.code, r.stdout, r.stderr)
		}
		wantTree := exportTree(t, want)
		dir := t.TempDir()
		for i := 0; i < n; i++ {
			cmd := exec.Command(binary, exportArgs(cfg, "alice", "--format", format, "--to", dir)...)
			if killWhen(t, cmd, func() int { return countExported(dir) }, rng.IntN(len(wantTree)), rng) {
				killed++
			}
			for p, d := range exportTree(t, dir) {
				if wantTree[p] != d {
					t.Fatalf("%s, after a kill: %s is %s, want %s", format, p, d, wantTree[p])
				}
			}
		}
		interrupt(t, cfg, format, dir)
		if r := mailkeep(t, nil, exportArgs(cfg, "alice", "--format", format, "--to", dir)...); r.code != exitOK {
			t.Fatalf("%s, run after the kills: exit %d\n%s%s", format, r.code, r.stdout, r.stderr)
		}
		got := exportTree(t, dir)
		if temps := tempFiles(t, dir); len(got) != len(wantTree) || len(temps) > 0 {
			t.Errorf("%s: %d files and %d temp files, want %d files", format, len(got), len(temps), len(wantTree))
		}
		for p, d := range wantTree {
			if got[p] != d {
				t.Errorf("%s: %s is %q, want %s", format, p, got[p], d)
			}
		}
	}
	t.Logf("%d trials, %d killed mid-run", 3*n, killed)
	if killed < 3*n*3/4 {
		t.Errorf("only %d of %d trials killed a running export", killed, 3*n)
	}
}

// interrupt sends SIGINT to an export once it has written a file: it
// stops with exit 130, says so, and leaves no temp file.
func interrupt(t *testing.T, cfg, format, dir string) {
	t.Helper()
	other := t.TempDir()
	cmd := exec.Command(binary, exportArgs(cfg, "alice", "--format", format, "--to", other)...)
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); countExported(other) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code == exitOK {
		t.Logf("%s: the export finished before SIGINT", format)
		return
	} else if code != exitInterrupted || !strings.Contains(out.String(), "alice: interrupted — "+format) {
		t.Errorf("%s, SIGINT: exit %d (%v), want %d\n%s", format, code, err, exitInterrupted, out.String())
	}
	if temps := tempFiles(t, other); len(temps) > 0 {
		t.Errorf("%s, SIGINT: temp files left: %q", format, temps)
	}
}

// exportTree maps every file under dir but temp files to its SHA-256 and,
// for message files, its mtime.
func exportTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".mailkeep-") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		v := fmt.Sprintf("%x", sha256.Sum256(data))
		if info, err := d.Info(); err == nil && (strings.HasSuffix(p, ".eml") || strings.Contains(p, "/cur/")) {
			v += " " + info.ModTime().UTC().Format(time.RFC3339)
		}
		tree[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// countExported counts the files under dir but temp files.
func countExported(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".mailkeep-") {
			n++
		}
		return nil
	})
	return n
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var temps []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".mailkeep-") {
			temps = append(temps, p)
		}
		return err
	})
	return temps
}
