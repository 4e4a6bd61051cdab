package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/agent"
	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/logtest"
)

// These tests run the built binary as the agent, against a real Dovecot,
// with schedules of one second: what only a process shows (signals,
// systemd notifications, the metrics server, exit codes). The agent's
// rules are tested in package agent with a fake job.

// agentProc is a running "mailkeep run".
type agentProc struct {
	cmd    *exec.Cmd
	stderr *logtest.Buffer
	exited chan struct{}
}

func startAgent(t *testing.T, cfg string, env []string, args ...string) *agentProc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"run", "--config", cfg}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	p := &agentProc{cmd: cmd, stderr: &logtest.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", p.stderr)
		}
	})
	return p
}

func (p *agentProc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// stop sends SIGTERM and returns the exit code and how long the agent took.
func (p *agentProc) stop(t *testing.T, limit time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	p.signal(t, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(limit):
		t.Fatalf("the agent did not exit within %s of SIGTERM", limit)
	}
	return p.cmd.ProcessState.ExitCode(), time.Since(start)
}

// waitLog waits until the agent's log holds n lines with text.
func (p *agentProc) waitLog(t *testing.T, text string, n int, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("%d log lines with %q", n, text), func() bool {
		return strings.Count(p.stderr.String(), text) >= n
	})
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notifySocket listens where NOTIFY_SOCKET will point and returns the
// environment entry and the messages received.
func notifySocket(t *testing.T) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch := make(chan string, 1000)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return "NOTIFY_SOCKET=" + path, ch
}

func waitNotify(t *testing.T, ch <-chan string, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case msg, ok := <-ch:
			if !ok {
				t.Fatalf("notify socket closed before %q", want)
			}
			if slices.Contains(strings.Split(msg, "\n"), want) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q on NOTIFY_SOCKET within %s", want, timeout)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$`)

// scrape reads /metrics into a map from `name{labels}` to value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	m, err := tryScrape(addr)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tryScrape(addr string) (map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := sampleLine.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			out[m[1]] = v
		}
	}
	return out, sc.Err()
}

// runs returns a runs_total counter, or 0 while the agent does not answer.
func runs(t *testing.T, addr, account, outcome string) float64 {
	m, _ := tryScrape(addr)
	return m[fmt.Sprintf(`mailkeep_runs_total{account=%q,outcome=%q}`, account, outcome)]
}

func healthz(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// agentConfig writes a config backing up users of srv on schedule, with
// the agent settings in agentYAML (indented two spaces), and returns its
// path and the archive root. A user is backed up over IMAP, or over POP3
// when written "pop3:user".
func agentConfig(t *testing.T, dir string, srv *dovecottest.Server, schedule string, agentYAML string, users ...string) (string, string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "archive: %s/archive\naccounts:\n", dir)
	for _, u := range users {
		protocol, addr := "imap", srv.IMAPAddr
		if name, ok := strings.CutPrefix(u, "pop3:"); ok {
			protocol, addr, u = "pop3", srv.POP3Addr, name
		}
		host, port, _ := strings.Cut(addr, ":")
		pass := filepath.Join(dir, u+".pass")
		if err := os.WriteFile(pass, []byte(srv.Password(u)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  - name: %s\n    protocol: %s\n    host: %s\n    port: %s\n    tls: none\n    username: %s\n    password_file: %s\n    schedule: %q\n",
			u, protocol, host, port, u, pass, schedule)
	}
	fmt.Fprintf(&b, "agent:\n%s", agentYAML)
	path := filepath.Join(dir, "mailkeep.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, filepath.Join(dir, "archive")
}

func loadCorpus(t *testing.T, srv *dovecottest.Server, user string, opts corpus.Options) []corpus.Message {
	t.Helper()
	msgs := corpus.Generate(opts)
	if err := corpus.Load(t.Context(), srv.Dial(t, user), msgs); err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestAgentRunsOnSchedule(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := loadCorpus(t, srv, "alice", corpus.Options{Seed: 5, Count: 30})
	addr := freeAddr(t)
	cfg, root := agentConfig(t, t.TempDir(), srv, "@every 1s",
		fmt.Sprintf("  metrics: %s\n  stop_timeout: 10s\n", addr), "alice")
	env, notes := notifySocket(t)
	p := startAgent(t, cfg, []string{env, "WATCHDOG_USEC=400000"})

	waitNotify(t, notes, "READY=1", 15*time.Second)
	waitNotify(t, notes, "WATCHDOG=1", 5*time.Second)
	waitFor(t, 30*time.Second, "three ok runs", func() bool { return runs(t, addr, "alice", "ok") >= 3 })

	m := scrape(t, addr)
	if got := m[`mailkeep_archived_messages_total{account="alice"}`]; got != float64(len(msgs)) {
		t.Errorf("archived_messages_total %v, want %d", got, len(msgs))
	}
	last := m[`mailkeep_last_success_timestamp_seconds{account="alice"}`]
	if age := float64(time.Now().UnixNano())/1e9 - last; age < 0 || age > 10 {
		t.Errorf("last success %v s ago", age)
	}
	if m[`mailkeep_last_run_outcome{account="alice",outcome="ok"}`] != 1 || m[`mailkeep_build_info{version="dev"}`] != 1 {
		t.Errorf("outcome or build info missing:\n%v", m)
	}
	if m[`mailkeep_next_run_timestamp_seconds{account="alice"}`] < last {
		t.Errorf("next run is not after the last success")
	}
	if code, body := healthz(t, addr); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}

	// status reads the catalog while the agent holds the account.
	r := mailkeep(t, nil, "status", "--config", cfg, "--check")
	if r.code != exitOK || !strings.Contains(r.stdout, "alice") {
		t.Errorf("status beside the agent: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// An account locked by another process (a manual backup) is skipped.
	checkBusySkip(t, p, addr, root)

	code, took := p.stop(t, 15*time.Second)
	if code != exitOK {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
	t.Logf("stopped in %s", took)
	waitNotify(t, notes, "STOPPING=1", time.Second)
	checkNoOverlap(t, root, "alice")
	if strings.Contains(p.stderr.String(), srv.Password("alice")) {
		t.Error("the password is in the log")
	}
}

func checkBusySkip(t *testing.T, p *agentProc, addr, root string) {
	t.Helper()
	var a *archive.Writer
	waitFor(t, 10*time.Second, "the account's lock", func() bool {
		var err error
		a, err = archive.OpenWriter(t.Context(), root, "alice", nil)
		return err == nil
	})
	busy := `mailkeep_skipped_runs_total{account="alice",reason="busy"}`
	waitFor(t, 10*time.Second, "a busy skip", func() bool { return scrape(t, addr)[busy] >= 2 })
	a.Close()
	ok := runs(t, addr, "alice", "ok")
	waitFor(t, 10*time.Second, "runs after the lock is free", func() bool { return runs(t, addr, "alice", "ok") > ok })
	if !strings.Contains(p.stderr.String(), "run skipped: the account is busy") {
		t.Error("the busy skip is not logged")
	}
	if strings.Contains(p.stderr.String(), "level=ERROR") {
		t.Error("a busy account was logged as an error")
	}
}

// checkNoOverlap checks in the catalog that no two runs of an account
// overlapped.
func checkNoOverlap(t *testing.T, root, account string) {
	t.Helper()
	cat, err := archive.OpenSnapshot(t.Context(), root, account)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	list, err := cat.Runs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(list)
	for i := 1; i < len(list); i++ {
		prev, r := list[i-1], list[i]
		if prev.Ended.IsZero() || r.Started.Before(prev.Ended) {
			t.Fatalf("run %d (started %s) overlaps run %d (%s, ended %s)", r.ID, r.Started, prev.ID, prev.Outcome, prev.Ended)
		}
	}
}

func TestAgentStopMidRunLosesNothing(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	loadCorpus(t, srv, "alice", corpus.Options{Seed: 9, Count: 2500})
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg, root := agentConfig(t, dir, srv, "* * * * * *",
		fmt.Sprintf("  metrics: %s\n  stop_timeout: 10s\n", addr), "alice")

	p := startAgent(t, cfg, nil, "--log-level", "debug")
	p.waitLog(t, "syncing folder", 1, 30*time.Second)
	code, took := p.stop(t, 15*time.Second)
	if code != exitOK || took > 10*time.Second {
		t.Fatalf("exit %d after %s, want 0 within the 10s stop timeout", code, took)
	}
	// The run stopped at a safe point: its record is closed. (The outcome
	// is interrupted or failed, depending on whether the cancelled context
	// or the closed connection reached backup first.)
	if last := lastRun(t, root, "alice"); last.Ended.IsZero() || last.Outcome == archive.OutcomeOK {
		t.Fatalf("last run %+v, want a closed record of an unfinished run", last)
	}
	t.Logf("stopped mid-run in %s", took)

	p = startAgent(t, cfg, nil)
	waitFor(t, 60*time.Second, "an ok run", func() bool { return runs(t, addr, "alice", "ok") >= 1 })
	if code, _ := p.stop(t, 15*time.Second); code != exitOK {
		t.Fatalf("second agent: exit %d", code)
	}
	checkNoOverlap(t, root, "alice")
	compareWithServer(t, srv, root, "alice")
}

// lastRun returns an account's newest run.
func lastRun(t *testing.T, root, account string) archive.Run {
	t.Helper()
	snap, err := archive.OpenSnapshot(t.Context(), root, account)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	runs, err := snap.Runs(t.Context())
	if err != nil || len(runs) == 0 {
		t.Fatalf("runs: %v, %v", runs, err)
	}
	return runs[0]
}

// compareWithServer checks that the catalog holds each message of each
// server folder exactly once.
func compareWithServer(t *testing.T, srv *dovecottest.Server, root, user string) {
	t.Helper()
	c := srv.Dial(t, user)
	cat, err := archive.OpenSnapshot(t.Context(), root, user)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	folders, err := cat.Folders(t.Context(), archive.View{Gone: archive.GoneToo})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, f := range folders {
		if _, err := c.Select(f.Name, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			t.Fatal(err)
		}
		sd, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		var want []uint32
		for _, uid := range sd.AllUIDs() {
			want = append(want, uint32(uid))
		}
		present, err := cat.Messages(t.Context(), f.ID, archive.View{})
		if err != nil {
			t.Fatal(err)
		}
		var got []uint32
		for _, m := range present {
			got = append(got, m.UID)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("folder %q: catalog has %d messages, server %d", f.Name, len(got), len(want))
		}
		total += len(got)
	}
	t.Logf("%d folders, %d messages, each once", len(folders), total)
}

func TestAgentStartErrors(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name, schedule, agent string
		code                  int
		want                  string
	}{
		{"invalid schedule", "0 0 30 2 *", "  stop_timeout: 1s\n", exitUsage, "never comes due"},
		{"metrics address taken", "@hourly", "  metrics: " + taken.Addr().String() + "\n", exitFailure, "agent.metrics"},
		{"unknown time zone", "@hourly", "  timezone: Mars/Olympus\n", exitUsage, "agent.timezone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := agentConfig(t, t.TempDir(), srv, tc.schedule, tc.agent, "alice")
			r := mailkeep(t, nil, "run", "--config", cfg, "--log-format", "json")
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, want %d with %q\n%s", r.code, tc.code, tc.want, r.stderr)
			}
		})
	}
}

func TestAgentJSONLogs(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	cfg, _ := agentConfig(t, t.TempDir(), srv, "@every 1s", "  stop_timeout: 5s\n", "alice")
	p := startAgent(t, cfg, nil, "--log-format", "json")
	p.waitLog(t, `"msg":"backup finished"`, 1, 20*time.Second)
	p.stop(t, 10*time.Second)
	for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
	}
}

func TestStatus(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := loadCorpus(t, srv, "alice", corpus.Options{Seed: 4, Count: 12})
	dir := t.TempDir()
	cfg, _ := agentConfig(t, dir, srv, "0 3 * * *", "  timezone: Europe/Berlin\n", "alice", "bob")

	r := mailkeep(t, nil, "status", "--config", cfg, "--check")
	if r.code != exitOK || strings.Count(r.stdout, "never") != 4 {
		t.Fatalf("before any run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := mailkeep(t, nil, "backup", "--config", cfg, "alice"); r.code != exitOK {
		t.Fatalf("backup: exit %d\n%s", r.code, r.stderr)
	}
	r = mailkeep(t, nil, "status", "--config", cfg)
	if r.code != exitOK || !regexp.MustCompile(`alice +\d{4}-\d\d-\d\d \d\d:\d\d CES?T +ok +`+strconv.Itoa(len(msgs))+` `).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, " 03:00 CE") {
		t.Fatalf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = mailkeep(t, nil, "status", "--config", cfg, "--json", "alice")
	var list []agent.Status
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if s := list[0]; s.LastRun == nil || s.LastRun.Outcome != "ok" || s.LastRun.NewMessages != len(msgs) ||
		s.LastSuccess == nil || s.NextRun == nil || s.NextRun.In(berlin).Hour() != 3 || s.MaxAge == "" {
		t.Fatalf("--json: %+v", s)
	}

	stale, _ := agentConfig(t, dir, srv, "0 3 * * *", "  health_max_age: 1ms\n", "alice", "bob")
	r = mailkeep(t, nil, "status", "--config", stale, "--check")
	if r.code != exitFailure || !strings.Contains(r.stderr, "mailkeep: alice: last success") || strings.Contains(r.stderr, "bob: ") {
		t.Fatalf("--check with a stale account: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// The service files: systemd units and the Dockerfile.

// unitFile is a parsed systemd unit: section → key → values in order.
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u, section := unitFile{}, ""
	lines := strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n")
	for i, line := range lines {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, i+1, line)
			}
			k := strings.TrimSpace(key)
			u[section][k] = append(u[section][k], strings.TrimSpace(value))
		}
	}
	return u
}

// get returns the last value of section.key: the one systemd uses.
// timeSpan parses a systemd time span such as "12h", "30m" or "90"
// (seconds); "" and "infinity" are none.
func timeSpan(t *testing.T, s string) time.Duration {
	t.Helper()
	units := map[string]time.Duration{"": time.Second, "s": time.Second, "sec": time.Second,
		"m": time.Minute, "min": time.Minute, "h": time.Hour, "hr": time.Hour, "d": 24 * time.Hour}
	var total time.Duration
	for _, f := range strings.Fields(s) {
		i := strings.IndexFunc(f, func(r rune) bool { return r < '0' || r > '9' })
		if i < 0 {
			i = len(f)
		}
		n, err := strconv.Atoi(f[:i])
		unit, ok := units[f[i:]]
		if err != nil || !ok {
			t.Fatalf("time span %q", s)
		}
		total += time.Duration(n) * unit
	}
	if total == 0 {
		t.Fatalf("time span %q: none", s)
	}
	return total
}

func (u unitFile) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// hardening are the settings both services share, with the values
// required of them.
var hardening = map[string]string{
	"User": "mailkeep", "Group": "mailkeep", "StateDirectory": "mailkeep", "ReadWritePaths": "/var/lib/mailkeep",
	"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
	"PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
	"ProtectControlGroups": "yes", "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes",
	"LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "CapabilityBoundingSet": "",
	"SystemCallArchitectures": "native", "SystemCallErrorNumber": "EPERM",
}

const unitDir = "../../dist/systemd"

func TestSystemdUnits(t *testing.T) {
	agent := parseUnit(t, filepath.Join(unitDir, "mailkeep.service"))
	oneShot := parseUnit(t, filepath.Join(unitDir, "mailkeep-backup.service"))
	timer := parseUnit(t, filepath.Join(unitDir, "mailkeep-backup.timer"))

	want := map[string]string{"Type": "notify", "NotifyAccess": "main", "ExecReload": "/bin/kill -HUP $MAINPID",
		"Restart": "on-failure"}
	for k, v := range want {
		if got := agent.get("Service", k); got != v {
			t.Errorf("mailkeep.service: %s=%q, want %q", k, got, v)
		}
	}
	watchdog, _ := strconv.Atoi(agent.get("Service", "WatchdogSec"))
	stop, _ := strconv.Atoi(agent.get("Service", "TimeoutStopSec"))
	if watchdog < 10 || stop <= 30 {
		t.Errorf("WatchdogSec=%d, TimeoutStopSec=%d: want a watchdog and more than the default stop_timeout of 30s", watchdog, stop)
	}
	if oneShot.get("Service", "Type") != "oneshot" {
		t.Error("mailkeep-backup.service is not Type=oneshot")
	}
	// The one-shot run has a bound that a first backup fits in and that
	// ends well before the timer's next daily start.
	start := timeSpan(t, oneShot.get("Service", "TimeoutStartSec"))
	if next := 24*time.Hour - timeSpan(t, timer.get("Timer", "RandomizedDelaySec")); start < 4*time.Hour || start > next-time.Hour {
		t.Errorf("mailkeep-backup.service: TimeoutStartSec=%v; want 4h or more and an hour before the next start at the latest (%v)", start, next)
	}
	for name, u := range map[string]unitFile{"mailkeep.service": agent, "mailkeep-backup.service": oneShot} {
		for k, v := range hardening {
			if got, ok := u["Service"][k]; !ok || got[len(got)-1] != v {
				t.Errorf("%s: %s=%q, want %q", name, k, got, v)
			}
		}
		if !slices.Contains(u["Unit"]["After"], "network-online.target") {
			t.Errorf("%s does not start after the network is up", name)
		}
		checkExecStart(t, name, u.get("Service", "ExecStart"))
	}
	if agent.get("Install", "WantedBy") != "multi-user.target" || timer.get("Install", "WantedBy") != "timers.target" {
		t.Error("the agent or the timer is not enabled by a target")
	}
	if timer.get("Timer", "OnCalendar") == "" || timer.get("Timer", "Persistent") != "true" {
		t.Errorf("mailkeep-backup.timer: %v", timer["Timer"])
	}
	verifyUnits(t)
}

// checkExecStart runs the unit's command line with --help: the binary
// must know the subcommand and every flag.
func checkExecStart(t *testing.T, unit, line string) {
	t.Helper()
	args := strings.Fields(line)
	if len(args) < 2 || args[0] != "/usr/local/bin/mailkeep" {
		t.Fatalf("%s: ExecStart=%s", unit, line)
	}
	if r := mailkeep(t, nil, append(args[1:], "--help")...); r.code != exitOK {
		t.Errorf("%s: mailkeep refuses %q: %s", unit, args[1:], r.stderr)
	}
}

// verifyUnits runs systemd-analyze verify (Debian's systemd package) on
// the units, with ExecStart pointing at the test binary, where it is
// installed.
func verifyUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the units were only parsed")
		return
	}
	dir := t.TempDir()
	for _, name := range []string{"mailkeep.service", "mailkeep-backup.service", "mailkeep-backup.timer"} {
		data, err := os.ReadFile(filepath.Join(unitDir, name))
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.ReplaceAll(data, []byte("/usr/local/bin/mailkeep"), []byte(binary))
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, "mailkeep.service"),
		filepath.Join(dir, "mailkeep-backup.service"), filepath.Join(dir, "mailkeep-backup.timer"))
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// dockerInstr is one Dockerfile instruction.
type dockerInstr struct {
	cmd, args string
	stage     int // index of the FROM it belongs to
}

func parseDockerfile(t *testing.T, path string) []dockerInstr {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstr
	stage := -1
	var pending strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if pending.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			pending.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		pending.WriteString(trimmed)
		cmd, args, _ := strings.Cut(pending.String(), " ")
		pending.Reset()
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, dockerInstr{cmd: cmd, args: strings.TrimSpace(args), stage: stage})
	}
	if pending.Len() > 0 {
		t.Fatal("Dockerfile ends in a continuation line")
	}
	return out
}

func TestDockerfile(t *testing.T) {
	instrs := parseDockerfile(t, "../../Dockerfile")
	var froms []string
	final := map[string][]string{} // instructions of the last stage
	var buildRun string
	args := map[string]string{}
	for _, in := range instrs {
		switch {
		case in.cmd == "FROM":
			froms = append(froms, in.args)
		case in.cmd == "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		case in.cmd == "RUN" && strings.Contains(in.args, "go build"):
			buildRun = in.args
		}
	}
	last := len(froms) - 1
	for _, in := range instrs {
		if in.stage == last {
			final[in.cmd] = append(final[in.cmd], in.args)
		}
	}
	if len(froms) < 2 || !strings.HasPrefix(froms[0], "golang:${GO_VERSION}") || !strings.HasSuffix(froms[0], " AS build") {
		t.Fatalf("want a golang builder stage then the image: FROM %q", froms)
	}
	if base := froms[last]; !strings.HasPrefix(base, "gcr.io/distroless/static") && !strings.HasPrefix(base, "alpine") {
		t.Errorf("final image %q is not distroless/static or alpine", base)
	}
	if gv := goVersion(t); args["GO_VERSION"] != gv {
		t.Errorf("ARG GO_VERSION=%s, but go.mod wants go %s", args["GO_VERSION"], gv)
	}
	checkFinalStage(t, final)
	checkDockerBuild(t, buildRun)
	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil || !slices.Contains(strings.Split(string(ignore), "\n"), ".git") {
		t.Errorf(".dockerignore does not leave out .git: %v", err)
	}
}

func goVersion(t *testing.T) string {
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

func checkFinalStage(t *testing.T, final map[string][]string) {
	t.Helper()
	one := func(cmd string) string {
		if len(final[cmd]) != 1 {
			t.Errorf("the image has %d %s instructions, want 1", len(final[cmd]), cmd)
			return ""
		}
		return final[cmd][0]
	}
	if u := one("USER"); u == "" || u == "root" || u == "0" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root:") {
		t.Errorf("USER %q: want a non-root user", u)
	}
	if v := one("VOLUME"); v != `["/data"]` {
		t.Errorf("VOLUME %s", v)
	}
	if !slices.Contains(final["ENV"], "MAILKEEP_CONFIG=/data/mailkeep.yaml") {
		t.Errorf("ENV %q lacks MAILKEEP_CONFIG=/data/mailkeep.yaml", final["ENV"])
	}
	if e, c := one("ENTRYPOINT"), one("CMD"); e != `["mailkeep"]` || c != `["run"]` {
		t.Errorf("ENTRYPOINT %s CMD %s", e, c)
	}
	hc := one("HEALTHCHECK")
	_, exe, ok := strings.Cut(hc, "CMD ")
	var argv []string
	if !ok || json.Unmarshal([]byte(exe), &argv) != nil || len(argv) < 2 || argv[0] != "mailkeep" {
		t.Fatalf("HEALTHCHECK %q: want an exec-form mailkeep command", hc)
	}
	if r := mailkeep(t, nil, append(argv[1:], "--help")...); r.code != exitOK {
		t.Errorf("HEALTHCHECK %q: %s", argv, r.stderr)
	}
}

// checkDockerBuild runs the Dockerfile's go build, as it is written, and
// checks that the binary is static and carries the version.
func checkDockerBuild(t *testing.T, run string) {
	t.Helper()
	for _, want := range []string{"CGO_ENABLED=0 ", "-trimpath", "-X main.version=${VERSION}"} {
		if !strings.Contains(run, want) {
			t.Fatalf("the build %q lacks %q", run, want)
		}
	}
	out := filepath.Join(t.TempDir(), "mailkeep")
	run = strings.Replace(run, "-o /out/mailkeep", "-o "+out, 1)
	cmd := exec.Command("sh", "-c", run)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "VERSION=1.2.3-test")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", run, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if libs, _ := f.ImportedLibraries(); f.Section(".interp") != nil || len(libs) > 0 {
		t.Errorf("the binary is dynamically linked: %v", libs)
	}
	v, err := exec.Command(out, "--version").Output()
	if err != nil || !strings.Contains(string(v), "1.2.3-test") {
		t.Errorf("--version: %q %v", v, err)
	}
}
