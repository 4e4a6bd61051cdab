#!/usr/bin/env python3
"""Time mailkeep and its peers on the benchmark Dovecot, interleaved, and check every result.

    bench.py --dovecot DIR --work DIR --results FILE.jsonl [--tools DIR] [--mailkeep BIN]

bench/run.sh starts the server, fills it and calls this; see bench/README.md.

Scenarios run in rounds. In each round every tool runs once, in an order that
rotates from round to round, so that a burst of load from elsewhere on the
machine hits all tools alike and the ratios between them stay fair:

  full     a first backup into an empty target (untimed: the previous target is
           moved aside, not deleted, see README)
  noop     the same again, nothing changed on the server
  add100   ADD_N new messages are delivered (untimed, once per round, the same
           messages for every tool), then every tool runs once
  restore  the restore target account is emptied (untimed), then one restore
           of the IMAP account into it

Each run is: bash -c CMD under GNU time, in its own session. wall = monotonic
clock around fork..reap; cpu = user+sys of the whole process tree (wait4);
peak RSS = the largest single process (GNU time %M); server cpu = what
Dovecot's session processes used meanwhile (the master's reaped children).

After every run the result is checked before the run is counted: exit code 0,
the message count equals the server's, and for mailkeep every message is
byte-identical to what the server serves (bench/mkcheck). A run that fails
its check is recorded as broken and never enters the medians.
One JSON object per run goes to --results; report.py makes the tables.
"""
import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")
GNU_TIME = "/usr/bin/time"

IMAP_USER, POP3_USER, RESTORE_USER = "alice", "bob", "carol"


def password(user):
    return f"secret-{user}"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(cmd, out=None, check=True, timeout=None):
    """Run an untimed shell command; returns its stdout when out is None."""
    if out is None:
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"command failed ({r.returncode}): {cmd}\n{r.stdout}{r.stderr}")
        return r.stdout
    r = subprocess.run(["bash", "-c", cmd], stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"command failed ({r.returncode}): {cmd}")
    return ""


class Server:
    """The benchmark Dovecot started by dovecot.sh, and its corpus."""

    def __init__(self, a):
        self.dir = a.dovecot
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.imap_port, self.pop3_port = a.imap_port, a.pop3_port
        self.pid = int(sh(f"'{HERE}/dovecot.sh' pid '{self.dir}'").strip())
        self.generation = 0  # bumped whenever the corpus changes

    def count(self, user):
        out = sh(f"doveadm -c '{self.conf}' -f tab mailbox status -u {user} messages '*'")
        return sum(int(l.split("\t")[-1]) for l in out.strip().splitlines()[1:])

    def maildir_bytes(self, user):
        return int(sh(f"du -sb '{self.dir}/mail/{user}/Maildir'").split()[0])

    def cpu(self):
        """user+sys seconds of the master and its reaped children."""
        try:
            with open(f"/proc/{self.pid}/stat") as fh:
                f = fh.read().rsplit(")", 1)[1].split()
            return sum(int(x) for x in f[11:15]) / TICK
        except OSError:
            return 0.0

    def add(self, n):
        sh(f"python3 '{HERE}/gencorpus.py' --dir '{self.dir}' --add {n}")
        self.generation += 1

    def reset(self):
        """Drop what earlier add runs delivered (INTERNALDATE >= 2025)."""
        for u in (IMAP_USER, POP3_USER):
            sh(f"doveadm -c '{self.conf}' expunge -u {u} mailbox '*' since 2025-01-01", check=False)
        state = os.path.join(self.dir, "gencorpus-state.json")
        if os.path.exists(state):
            os.unlink(state)
        self.generation += 1

    def wipe(self, user):
        sh(f"'{HERE}/dovecot.sh' wipe-user {user} '{self.dir}'")


class Bench:
    """Paths, tools and the reference copies shared by all peers."""

    def __init__(self, a, server):
        self.a, self.srv = a, server
        self.work = a.work
        self.trash = os.path.join(a.work, "trash")
        self.tools = a.tools
        self.mailkeep = a.mailkeep
        self.addr = f"127.0.0.1:{a.imap_port}"
        self.pop3_addr = f"127.0.0.1:{a.pop3_port}"
        self.refs = {}  # (kind, user) -> (generation, dir)
        self.log_dir = os.path.join(os.path.dirname(a.results), "logs")
        os.makedirs(self.trash, exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)

    def rawimap(self, *args):
        return f"'{self.tools}/rawimap' " + " ".join(args)

    def discard(self, path):
        """Move path aside into the trash (deleted at the end of the benchmark)."""
        if os.path.lexists(path):
            dst = os.path.join(self.trash, f"{time.monotonic_ns()}")
            os.rename(path, dst)

    def reference(self, kind, user):
        """A fresh copy of what the server serves for user (IMAP tree or POP3 files)."""
        gen, d = self.refs.get((kind, user), (-1, None))
        if gen == self.srv.generation:
            return d
        d = os.path.join(self.work, f"ref-{kind}-{user}")
        self.discard(d)
        if kind == "imap":
            sh(self.rawimap("fetch", f"-addr {self.addr} -user {user} -pass {password(user)} -out '{d}'"))
        else:
            sh(self.rawimap("pop3", f"-addr {self.pop3_addr} -user {user} -pass {password(user)} -out '{d}'"))
        self.refs[(kind, user)] = (self.srv.generation, d)
        return d


def write_config(template, path, bench, **values):
    """Fill a template of bench/config/ with the ports, passwords and values."""
    with open(os.path.join(HERE, "config", template)) as fh:
        text = fh.read()
    values = dict(dict(imap_port=bench.a.imap_port, pop3_port=bench.a.pop3_port,
                       **{f"{u}_pass": password(u) for u in (IMAP_USER, POP3_USER, RESTORE_USER)}), **values)
    with open(path, "w") as fh:
        fh.write(text.format(**values))
    os.chmod(path, 0o600)


def maildir_count(path):
    return f"find '{path}' \\( -path '*/cur/*' -o -path '*/new/*' \\) -type f | wc -l"


# ------------------------------------------------------------------ peers

class Peer:
    """One tool in one role. Subclasses set the commands."""
    kind = "imap"          # imap | pop3 | restore
    user = IMAP_USER
    scenarios = ("full", "noop", "add100")
    needs = ()             # commands that must be installed
    slow = False           # runs at most --slow-runs counted rounds
    anchor = False         # a bound or anchor, not a backup tool
    probe = False          # one untimed run first: is the job supported at all?

    def __init__(self, bench, name):
        self.b, self.name = bench, name
        self.dir = os.path.join(bench.work, name)
        self.target = os.path.join(self.dir, "target")
        self.state = os.path.join(self.dir, "state")
        self.unavailable = ""
        os.makedirs(self.dir, exist_ok=True)

    def available(self):
        for n in self.needs:
            if shutil.which(n) is None:
                return f"{n} is not installed"
        return ""

    def fresh(self):
        """Untimed: an empty target and state, and the tool's config."""
        self.b.discard(self.target)
        self.b.discard(self.state)
        os.makedirs(self.target)
        os.makedirs(self.state)
        self.configure()

    def configure(self):
        pass

    def count_cmd(self):
        return maildir_count(self.target)

    def expected(self):
        return self.b.srv.count(self.user)

    def check(self):
        """Untimed, after each run: '' when the result is right, else why not."""
        got = sh(self.count_cmd(), check=False).strip()
        want = str(self.expected())
        return "" if got == want else f"count {got or '?'} != server {want}"

    def size(self):
        return int(sh(f"du -sb '{self.target}'").split()[0])

    def index_size(self):
        return None


class RawIMAP(Peer):
    def cmd(self):
        return self.b.rawimap("fetch", f"-addr {self.b.addr} -user alice -pass {password('alice')} -state '{self.state}/state.json'")

    def count_cmd(self):
        return (f"python3 -c \"import json; print(sum(f['count'] for f in "
                f"json.load(open('{self.state}/state.json'))['folders'].values()))\"")

    def size(self):
        return None


class RawIMAPWrite(Peer):
    scenarios = ("full",)
    anchor = True
    fsync = False

    def cmd(self):
        return self.b.rawimap("fetch", f"-addr {self.b.addr} -user alice -pass {password('alice')} "
                              f"-out '{self.target}'" + (" -fsync" if self.fsync else ""))

    def count_cmd(self):
        return f"find '{self.target}' -type f -name '*.msg' | wc -l"


class RawIMAPFsync(RawIMAPWrite):
    fsync = True


class DiskZstd(Peer):
    """tar | zstd -3 of the server's Maildir: the size anchor of a compressed copy."""
    scenarios = ("full",)
    anchor = True
    needs = ("zstd",)

    def cmd(self):
        return (f"tar -C '{self.b.srv.dir}/mail/alice' -cf - Maildir | "
                f"zstd -q -3 -T1 -o '{self.target}/maildir.tar.zst'")

    def count_cmd(self):
        return f"zstd -dc '{self.target}/maildir.tar.zst' | tar -tf - | grep -cE '/(cur|new)/[^/]+$'"


class Mbsync(Peer):
    needs = ("mbsync",)

    def configure(self):
        write_config("mbsync-pull.rc", os.path.join(self.dir, "mbsyncrc"), self.b, target=self.target)

    def cmd(self):
        return f"mbsync -c '{self.dir}/mbsyncrc' -q -a"


class OfflineIMAP(Peer):
    needs = ("offlineimap",)
    slow = True

    def configure(self):
        write_config("offlineimaprc", os.path.join(self.dir, "offlineimaprc"), self.b,
                     target=self.target, state=self.state)

    def cmd(self):
        return f"offlineimap -c '{self.dir}/offlineimaprc' -o -u quiet"


def mailkeep_config(bench, path, archive, users, extra=""):
    """A mailkeep config for the given (user, protocol) pairs, all with defaults
    but for extra, lines added to each account."""
    with open(os.path.join(HERE, "config", "mailkeep-account.yaml")) as fh:
        account = fh.read()
    accounts = "".join(account.format(user=u, protocol=proto, upper=u.upper(),
                                      port=bench.a.imap_port if proto == "imap" else bench.a.pop3_port) + extra
                       for u, proto in users)
    write_config("mailkeep.yaml", path, bench, archive=archive, accounts=accounts.rstrip("\n"))


def mailkeep_env():
    return " ".join(f"BENCH_PASS_{u.upper()}={password(u)}" for u in (IMAP_USER, POP3_USER, RESTORE_USER))


class Mailkeep(Peer):
    """mailkeep backup of one account into its archive, checked byte for byte."""
    protocol = "imap"
    probe = True
    extra = ""

    def configure(self):
        mailkeep_config(self.b, os.path.join(self.dir, "mailkeep.yaml"), self.target,
                        [(self.user, self.protocol)], self.extra)

    def cmd(self):
        return (f"env {mailkeep_env()} '{self.b.mailkeep}' backup --config '{self.dir}/mailkeep.yaml' "
                f"--no-progress {self.user}")

    def count_cmd(self):
        return f"find '{self.target}' -path '*/.mk/cur/*' -type f | wc -l"

    def index_files(self):
        return [os.path.join(self.target, self.user, f) for f in ("index.db", "index.db-wal", "index.db-shm")]

    def size(self):
        """The archive without its search index (index_size)."""
        return super().size() - sum(os.path.getsize(f) for f in self.index_files() if os.path.exists(f))

    def index_size(self):
        """index.db and its WAL, as mailkeep ls reports it."""
        files = [f for f in self.index_files()[:2] if os.path.exists(f)]
        return sum(os.path.getsize(f) for f in files) if files else None

    def check(self):
        why = super().check()
        if why:
            return why
        ref = self.b.reference(self.protocol, self.user)
        r = subprocess.run([f"{self.b.tools}/mkcheck", self.protocol, "-archive",
                            os.path.join(self.target, self.user), "-ref", ref, "-zstd", "5"],
                           capture_output=True, text=True)
        return "" if r.returncode == 0 else "content: " + (r.stderr.strip().splitlines() or ["?"])[-1]


class MailkeepNoIndex(Mailkeep):
    """mailkeep without its search index (index: false): the index's cost is the difference."""
    extra = "    index: false\n"


class RawPOP3(Peer):
    kind, user = "pop3", POP3_USER

    def cmd(self):
        return self.b.rawimap("pop3", f"-addr {self.b.pop3_addr} -user bob -pass {password('bob')} -state '{self.state}/state.json'")

    def count_cmd(self):
        return f"python3 -c \"import json; print(len(json.load(open('{self.state}/state.json'))['pop3']))\""

    def size(self):
        return None


class Mpop(Peer):
    kind, user = "pop3", POP3_USER
    needs = ("mpop",)

    def configure(self):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.target, sub), exist_ok=True)
        write_config("mpoprc", os.path.join(self.dir, "mpoprc"), self.b, target=self.target, state=self.state)

    def cmd(self):
        return f"mpop -C '{self.dir}/mpoprc' -q bench"


class MailkeepPOP3(Mailkeep):
    kind, user, protocol = "pop3", POP3_USER, "pop3"


# restore peers: fill the empty account carol from a copy of alice

class Restore(Peer):
    kind = "restore"
    user = RESTORE_USER
    scenarios = ("restore",)

    def fresh(self):
        self.b.srv.wipe(RESTORE_USER)

    def expected(self):
        return self.b.srv.count(IMAP_USER)

    def count_cmd(self):
        return f"doveadm -c '{self.b.srv.conf}' -f tab mailbox status -u {RESTORE_USER} messages '*' | awk -F'\\t' 'NR>1 {{s+=$NF}} END {{print s+0}}'"

    def size(self):
        return None


class RawAppend(Restore):
    def prepare(self):
        self.source = self.b.reference("imap", IMAP_USER)

    def cmd(self):
        return self.b.rawimap("append", f"-addr {self.b.addr} -user carol -pass {password('carol')} -src '{self.source}'")


class MbsyncPush(Restore):
    needs = ("mbsync",)

    def prepare(self):
        """Untimed: a fresh mbsync pull of alice is the source."""
        self.source = os.path.join(self.dir, "source")
        for d in (self.source, os.path.join(self.dir, "pullstate")):
            self.b.discard(d)
            os.makedirs(d)
        write_config("mbsync-push.rc", os.path.join(self.dir, "mbsyncrc"), self.b, source=self.source,
                     pullstate=os.path.join(self.dir, "pullstate"), state=self.state)
        sh(f"mbsync -c '{self.dir}/mbsyncrc' -q pull")

    def fresh(self):
        super().fresh()
        self.b.discard(self.state)
        os.makedirs(self.state)

    def cmd(self):
        return f"mbsync -c '{self.dir}/mbsyncrc' -q push"


class MailkeepRestore(Restore):
    probe = True
    def prepare(self):
        """Untimed: a mailkeep backup of alice is the source."""
        self.source = os.path.join(self.dir, "source")
        self.b.discard(self.source)
        mailkeep_config(self.b, os.path.join(self.dir, "mailkeep.yaml"), self.source,
                        [(IMAP_USER, "imap"), (RESTORE_USER, "imap")])
        sh(f"env {mailkeep_env()} '{self.b.mailkeep}' backup --config '{self.dir}/mailkeep.yaml' "
           f"--no-progress {IMAP_USER}")

    def cmd(self):
        return (f"env {mailkeep_env()} '{self.b.mailkeep}' restore --config '{self.dir}/mailkeep.yaml' "
                f"--account {IMAP_USER} --to-account {RESTORE_USER}")

    def check(self):
        why = super().check()
        if why:
            return why
        got = os.path.join(self.dir, "restored")
        self.b.discard(got)
        sh(self.b.rawimap("fetch", f"-addr {self.b.addr} -user carol -pass {password('carol')} -out '{got}'"))
        r = subprocess.run([f"{self.b.tools}/mkcheck", "trees", "-want", self.b.reference("imap", IMAP_USER),
                            "-got", got], capture_output=True, text=True)
        return "" if r.returncode == 0 else "content: " + (r.stderr.strip().splitlines() or ["?"])[-1]


PEERS = {
    "raw-imap": RawIMAP, "raw-imap-write": RawIMAPWrite, "raw-imap-fsync": RawIMAPFsync,
    "disk-zstd": DiskZstd, "mbsync": Mbsync, "offlineimap": OfflineIMAP, "mailkeep": Mailkeep,
    "mailkeep-noindex": MailkeepNoIndex,
    "raw-pop3": RawPOP3, "mpop": Mpop, "mailkeep-pop3": MailkeepPOP3,
    "raw-append": RawAppend, "mbsync-push": MbsyncPush, "mailkeep-restore": MailkeepRestore,
}


# ------------------------------------------------------------------ timing

def timed(cmd, logf, timeout):
    """Run cmd under GNU time in its own session; wall, cpu and peak RSS."""
    rss_file = f"/tmp/mailkeep-bench-rss.{os.getpid()}"
    argv = [GNU_TIME, "-f", "%M", "-o", rss_file, "bash", "-c", cmd]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    killed = []

    def kill():
        killed.append(1)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    timer = threading.Timer(timeout, kill)
    timer.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    timer.cancel()
    try:  # anything the command left running in its session
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    rc = "timeout" if killed else str(os.waitstatus_to_exitcode(status))
    rss = 0
    try:
        with open(rss_file) as fh:
            rss = int(fh.read().split()[-1])
        os.unlink(rss_file)
    except (OSError, ValueError, IndexError):
        pass
    return dict(wall=wall, user=ru.ru_utime, sys=ru.ru_stime, cpu=ru.ru_utime + ru.ru_stime, rss_kib=rss, rc=rc)


def run_one(bench, peer, scenario, rnd, warm, out):
    logpath = os.path.join(bench.log_dir, f"{peer.name}-{scenario}.log")
    with open(logpath, "ab") as logf:
        logf.write(f"\n### {peer.name} {scenario} round {rnd}{' (warm-up)' if warm else ''}\n".encode())
        logf.flush()
        s0 = bench.srv.cpu()
        r = timed(peer.cmd(), logf, bench.a.timeout)
        time.sleep(0.3)  # let the master reap the session process
        r["srv_cpu"] = bench.srv.cpu() - s0
    why = f"exit {r['rc']} (see {logpath})" if r["rc"] != "0" else peer.check()
    r.update(peer=peer.name, kind=peer.kind, scenario=scenario, round=rnd, warmup=warm,
             ok=not why, why=why, anchor=peer.anchor)
    if scenario == "full" and not why:
        r["bytes"] = peer.size()
        ib = peer.index_size()
        if ib is not None:
            r["index_bytes"] = ib
    out.write(json.dumps(r) + "\n")
    out.flush()
    log(f"  {peer.name:16} {scenario:7} round {rnd}{'w' if warm else ' '} wall {r['wall']:7.3f}s "
        f"cpu {r['cpu']:6.2f}s rss {r['rss_kib'] / 1024:6.1f}MiB srv {r['srv_cpu']:5.2f}s "
        f"{'ok' if not why else 'BROKEN: ' + why}")
    return not why


def rounds(bench, peers, scenario, out, before_round=None):
    a = bench.a
    counted = {p.name: 0 for p in peers}
    for rnd in range(a.warmup + a.runs):
        warm = rnd < a.warmup
        if before_round:
            before_round()
        k = rnd % max(len(peers), 1)
        for p in peers[k:] + peers[:k]:
            if p.unavailable or (p.slow and not warm and counted[p.name] >= a.slow_runs) or (p.slow and warm):
                continue
            if scenario in ("full", "restore"):
                p.fresh()
            ok = run_one(bench, p, scenario, rnd, warm, out)
            if not warm:
                counted[p.name] += 1
            if not ok and scenario != "full":
                p.unavailable = f"broken in {scenario}"


def probe(peer):
    """Untimed: can this build of mailkeep do the job at all?"""
    peer.fresh()
    r = subprocess.run(["bash", "-c", peer.cmd()], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        lines = (r.stderr + r.stdout).strip().splitlines()
        return "not available in this build: " + (lines[-1] if lines else f"exit {r.returncode}")
    return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dovecot", required=True, help="bench/dovecot.sh instance directory")
    ap.add_argument("--work", required=True, help="targets and state of the tools")
    ap.add_argument("--results", required=True, help="JSON lines file to append to")
    ap.add_argument("--tools", required=True, help="directory with rawimap and mkcheck")
    ap.add_argument("--mailkeep", required=True, help="the mailkeep binary")
    ap.add_argument("--imap-port", type=int, default=11143)
    ap.add_argument("--pop3-port", type=int, default=11110)
    ap.add_argument("--peers", default=" ".join(PEERS))
    ap.add_argument("--scenarios", default="full noop add100 restore")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--slow-runs", type=int, default=3, help="counted runs of slow tools (offlineimap)")
    ap.add_argument("--add", type=int, default=100, help="messages delivered per add round")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per run")
    a = ap.parse_args()
    if not os.access(GNU_TIME, os.X_OK):
        sys.exit(f"{GNU_TIME} (GNU time) is needed for peak RSS")

    srv = Server(a)
    bench = Bench(a, srv)
    srv.reset()
    unknown = [n for n in a.peers.split() if n not in PEERS]
    if unknown:
        sys.exit(f"unknown peers: {unknown} (known: {' '.join(PEERS)})")
    peers = [PEERS[n](bench, n) for n in a.peers.split()]
    scen = a.scenarios.split()
    with open(a.results, "a") as out:
        backup = usable([p for p in peers if p.kind != "restore"], out)
        for sc in ("full", "noop", "add100"):
            group = [p for p in backup if sc in p.scenarios and not p.unavailable]
            if sc not in scen or not group:
                continue
            log(f"== {sc}: {' '.join(p.name for p in group)}")
            if sc != "full" and "full" not in scen:
                for p in group:  # the incremental scenarios start from a synced target
                    p.fresh()
                    sh(p.cmd(), check=False)
            before = (lambda: srv.add(a.add)) if sc == "add100" else None
            rounds(bench, group, sc, out, before)
        srv.reset()
        if "restore" in scen:
            group = usable([p for p in peers if p.kind == "restore"], out)
            log(f"== restore: {' '.join(p.name for p in group)}")
            rounds(bench, group, "restore", out)
            srv.wipe(RESTORE_USER)


def usable(peers, out):
    """The peers that can run: installed, their source ready (restore), and
    for mailkeep, one untimed run that works with this build."""
    ok = []
    for p in peers:
        p.unavailable = p.available()
        try:
            if not p.unavailable and p.kind == "restore":
                p.prepare()
        except RuntimeError as e:
            p.unavailable = f"preparing its source failed: {str(e).splitlines()[0]}"
        if not p.unavailable and p.probe:
            p.unavailable = probe(p)
        if p.unavailable:
            log(f"skip {p.name}: {p.unavailable}")
            out.write(json.dumps(dict(peer=p.name, kind=p.kind, unavailable=p.unavailable)) + "\n")
        else:
            ok.append(p)
    return ok


if __name__ == "__main__":
    main()
