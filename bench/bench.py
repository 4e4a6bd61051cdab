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
  export   the IMAP account's mailkeep archive (made once, untimed) written out
           as mbox: mailkeep export, doveadm backup to an mbox: location reading
           a copy of the archive through its zlib plugin, and zstd -d of the
           archive's files alone (the limit)
  serve    every message of a mailkeep archive of the IMAP account fetched
           by rawimap through a server: mailkeep serve, or Dovecot serving
           a copy of the same archive with its zlib plugin. Both servers run
           throughout (started untimed); wall = the client's fetch, CPU and
           peak RSS = the server's during it (mailkeep serve's process; for
           Dovecot its imap session process, and the CPU of every process
           its master reaped meanwhile)
  verify   mailkeep verify of the IMAP account's archive (that of the mailkeep
           peer of this run when it has one, else one made untimed)
  dryrun   mailkeep restore --dry-run of the same archive into the empty
           account (mailkeep-dryrun) and into the account it came from, which
           holds every message already (mailkeep-dryrun-self)

Each run is: bash -c CMD under GNU time, in its own session. wall = monotonic
clock around fork..reap; cpu = user+sys of the whole process tree (wait4);
peak RSS = the largest single process (GNU time %M); server cpu = what
Dovecot's session processes used meanwhile (the master's reaped children).

After every run the result is checked before the run is counted: exit code 0,
the message count equals the server's, and for mailkeep every message is
byte-identical to what the server serves (bench/mkcheck). A run that fails
its check is recorded as broken and never enters the medians.
--content-check names the scenarios whose mailkeep runs are compared byte for
byte; in the others only the count is checked (the huge profile compares the
full backup alone: a fresh reference copy of a million messages after each
delivery would cost more than the runs).
One JSON object per run goes to --results; report.py makes the tables.
"""
import argparse
import json
import mailbox
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
        self.scenario = ""  # the scenario being run, for the checks
        self.peers = {}  # name -> Peer, all of this run
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

    def export_archive(self):
        """Untimed, once: a mailkeep backup of alice, the source of the export peers."""
        if getattr(self, "_export_archive", None) is None:
            d = os.path.join(self.work, "export-source")
            self.discard(d)
            os.makedirs(d)
            config = os.path.join(d, "mailkeep.yaml")
            mailkeep_config(self, config, os.path.join(d, "archive"), [(IMAP_USER, "imap")])
            sh(f"env {mailkeep_env()} '{self.mailkeep}' backup --config '{config}' --no-progress {IMAP_USER}")
            self._export_archive = ExportArchive(config, os.path.join(d, "archive", IMAP_USER, "mail"))
        return self._export_archive

    def read_archive(self):
        """The archive of alice that verify and restore --dry-run read: the mailkeep
        peer's, when its last run of this benchmark was good, else one made untimed."""
        p = self.peers.get("mailkeep")
        if p is not None and getattr(p, "last_ok", False):
            return p.target
        return os.path.join(os.path.dirname(self.export_archive().config), "archive")

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


class ExportArchive:
    """The archive the export peers read: its mailkeep config and its mail tree."""

    def __init__(self, config, mail):
        self.config, self.mail = config, mail


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
    kind = "imap"          # imap | pop3 | restore | serve
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

    def measure_start(self):
        """Untimed, right before a run: what measure_end compares with."""
        return None

    def measure_end(self, start):
        """Untimed, right after a run: fields that replace the run's own."""
        return {}


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
        self.last_ok = not why
        if why or self.b.scenario not in self.b.a.content_check.split():
            return why
        ref = self.b.reference(self.protocol, self.user)
        r = subprocess.run([f"{self.b.tools}/mkcheck", self.protocol, "-archive",
                            os.path.join(self.target, self.user), "-ref", ref, "-zstd", "5"] + self.check_args(),
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.last_ok = False
            return "content: " + (r.stderr.strip().splitlines() or ["?"])[-1]
        return ""

    def check_args(self):
        return []


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


class MailkeepPOP3NoIndex(MailkeepPOP3):
    """mailkeep-pop3 without its search index (index: false)."""
    extra = "    index: false\n"


class MailkeepAge(Mailkeep):
    """mailkeep backup into an encrypted archive: the config holds the age
    recipient only, as on a backup host; the check decrypts with the identity."""

    def keys(self):
        d = os.path.join(self.b.work, "age")
        sh(f"'{self.b.tools}/mkcheck' age-keygen '{d}'")
        return d

    def configure(self):
        extra = f"    encryption:\n      recipients_file: {self.keys()}/recipients.txt\n"
        mailkeep_config(self.b, os.path.join(self.dir, "mailkeep.yaml"), self.target,
                        [(self.user, self.protocol)], extra)

    def check_args(self):
        return ["-identity", os.path.join(self.keys(), "identity.txt")]


class MailkeepPOP3Age(MailkeepAge):
    kind, user, protocol = "pop3", POP3_USER, "pop3"


# archive readers: verify and restore --dry-run of alice's archive

class ArchiveReader(Peer):
    """A mailkeep command that reads alice's whole archive and writes nothing;
    checked by its --json report against the archive's message count."""
    kind, user = "archive", IMAP_USER
    probe = True

    def prepare(self):
        self.source = self.b.read_archive()
        mailkeep_config(self.b, os.path.join(self.dir, "mailkeep.yaml"), self.source,
                        [(IMAP_USER, "imap"), (RESTORE_USER, "imap")])

    def fresh(self):
        pass

    def expected(self):
        return int(sh(f"find '{self.source}/{IMAP_USER}' -path '*/.mk/cur/*' -type f | wc -l").strip())

    def size(self):
        return None

    def cmd(self):
        return (f"env {mailkeep_env()} '{self.b.mailkeep}' {self.args()} --config '{self.dir}/mailkeep.yaml' "
                f"--json > '{self.dir}/report.json'")

    def check(self):
        try:
            with open(os.path.join(self.dir, "report.json")) as fh:
                rep = json.loads(fh.read().splitlines()[0])
        except (OSError, ValueError, IndexError) as e:
            return f"no report: {e}"
        return self.judge(rep, self.expected())


class MailkeepVerify(ArchiveReader):
    scenarios = ("verify",)

    def args(self):
        return f"verify {IMAP_USER}"

    def judge(self, rep, want):
        if rep.get("outcome") != "clean":
            return f"verify: {rep.get('outcome')}, {rep.get('problems')}"[:300]
        return "" if rep.get("messages") == want else f"verify saw {rep.get('messages')} messages, archive {want}"


class MailkeepDryRun(ArchiveReader):
    """restore --dry-run into carol, who is empty: every message is to append."""
    scenarios = ("dryrun",)
    to = RESTORE_USER

    def prepare(self):
        super().prepare()
        self.b.srv.wipe(RESTORE_USER)

    def args(self):
        return f"restore --dry-run --account {IMAP_USER} --to-account {self.to}"

    def judge(self, rep, want):
        if rep.get("outcome") != "ok":
            return f"restore --dry-run: {rep.get('outcome')} {rep.get('error', '')}"
        got = rep.get("appended", 0) + rep.get("already_present", 0)
        return "" if got == want else f"{got} messages to append or present, archive {want}"


class MailkeepDryRunSelf(MailkeepDryRun):
    """restore --dry-run into alice herself: each folder's messages are matched
    with what the server holds (Message-ID and size of every target message)."""
    to = IMAP_USER


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


class MailkeepRestore2(MailkeepRestore):
    """mailkeep-restore over 2 connections (connections: 2 for the target)."""
    def prepare(self):
        super().prepare()
        with open(os.path.join(self.dir, "mailkeep.yaml"), "a") as f:
            f.write("    connections: 2\n")  # the target, carol, is the last account


# export peers: the mbox of every folder of alice, from one mailkeep archive

class Export(Peer):
    kind = "export"
    scenarios = ("export",)

    def prepare(self):
        self.archive = self.b.export_archive()

    def expected(self):
        return self.b.srv.count(IMAP_USER)


class MailkeepExport(Export):
    """mailkeep export --format mbox, checked byte for byte (bench/mkcheck mbox)."""
    probe = True

    def cmd(self):
        return (f"'{self.b.mailkeep}' export --config '{self.archive.config}' --no-progress "
                f"{IMAP_USER} --format mbox --to '{self.target}'")

    def check(self):
        got, want = mbox_count(self.target, ".mbox"), self.expected()
        if got != want:
            return f"count {got} != server {want}"
        r = subprocess.run([f"{self.b.tools}/mkcheck", "mbox", "-dir", self.target,
                            "-ref", self.b.reference("imap", IMAP_USER)], capture_output=True, text=True)
        return "" if r.returncode == 0 else "content: " + (r.stderr.strip().splitlines() or ["?"])[-1]


class DoveadmExport(Export):
    """doveadm backup from a copy of the archive (Maildir, LAYOUT=fs:DIRNAME=.mk, read
    through the zlib plugin) to an mbox: location. Dovecot's mbox cannot give a folder
    both messages and subfolders, so the target uses LAYOUT=maildir++ (one mbox file
    per folder, named .Archive.2024). Dovecot adds its own headers (Status, X-UID, ...)
    and a first pseudo message per file, so the check counts the messages."""
    needs = ("doveadm",)

    def fresh(self):
        """Untimed: a fresh copy of the archive (Dovecot writes its uidlists into it)
        and an empty target, both the mail user's."""
        super().fresh()
        self.copy = os.path.join(self.dir, "archive")
        self.b.discard(self.copy)
        sh(f"cp -a '{self.archive.mail}' '{self.copy}' && chown -R mail:mail '{self.copy}' '{self.target}'")

    def cmd(self):
        src = (f"maildir:{self.copy}:LAYOUT=fs:DIRNAME=.mk:INBOX={self.copy}/INBOX/.mk:INDEX=MEMORY")
        dst = f"mbox:{self.target}:LAYOUT=maildir++:INBOX={self.target}/INBOX"
        return f"doveadm -c '{self.b.srv.conf}' -o 'mail_location={src}' backup -u {IMAP_USER} '{dst}'"

    def check(self):
        got, want = mbox_count(self.target, ""), self.expected()
        return "" if got == want else f"count {got} != server {want}"


def mbox_count(d, suffix):
    """Messages in the mbox files under d whose names end in suffix, read with Python's
    mailbox module, without Dovecot's pseudo message that keeps its folder data."""
    n = 0
    for top, dirs, files in os.walk(d):
        dirs[:] = [x for x in dirs if x != ".imap"]
        for f in files:
            if f.endswith(suffix):
                box = mailbox.mbox(os.path.join(top, f), create=False)
                n += sum(1 for m in box if not (m["Subject"] or "").startswith("DON'T DELETE THIS MESSAGE"))
    return n


class ZstdDecompress(Export):
    """zstd -d of every archive file into one output file: the limit of reading the archive."""
    anchor = True
    needs = ("zstd",)

    def cmd(self):
        return (f"find '{self.archive.mail}' -path '*/.mk/cur/*' -type f -print0 | "
                f"xargs -0 zstd -dcq > '{self.target}/all'")

    def check(self):
        want = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(self.b.reference("imap", IMAP_USER))
                   for f in fs if f.endswith(".msg"))
        got = os.path.getsize(os.path.join(self.target, "all"))
        return "" if got == want else f"{got} bytes decompressed, the messages have {want}"


# serve peers: fetch alice's archive through a server

SERVE_PASS = "secret-serve"


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def serve_archive(bench):
    """Untimed, once: a mailkeep backup of alice, the archive both servers serve."""
    d = os.path.join(bench.work, "serve-source")
    if getattr(bench, "serve_source", None) != bench.srv.generation:
        bench.discard(d)
        os.makedirs(d)
        mailkeep_config(bench, os.path.join(d, "mailkeep.yaml"), os.path.join(d, "archive"), [(IMAP_USER, "imap")])
        sh(f"env {mailkeep_env()} '{bench.mailkeep}' backup --config '{d}/mailkeep.yaml' --no-progress {IMAP_USER}")
        bench.serve_source = bench.srv.generation
    return d


def proc_cpu(pid, children=False):
    """(user, sys) seconds of a process, or of the children it reaped."""
    with open(f"/proc/{pid}/stat") as fh:
        f = fh.read().rsplit(")", 1)[1].split()
    i = 13 if children else 11
    return int(f[i]) / TICK, int(f[i + 1]) / TICK


def cpu_fields(start, end):
    user, sys_ = end[0] - start[0], end[1] - start[1]
    return dict(cpu=user + sys_, user=user, sys=sys_)


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Serve(Peer):
    """rawimap fetches every message of alice's archive through a server."""
    kind, user = "serve", IMAP_USER
    scenarios = ("serve",)

    def cmd(self):
        return self.b.rawimap("fetch", f"-addr 127.0.0.1:{self.port} -user {IMAP_USER} -pass {self.password} "
                              f"-state '{self.state}/state.json'")

    def count_cmd(self):
        return RawIMAP.count_cmd(self)

    def size(self):
        return None

    def check_content(self):
        """Untimed, once: what the server serves is the account, byte for byte."""
        got = os.path.join(self.dir, "served")
        self.b.discard(got)
        sh(self.b.rawimap("fetch", f"-addr 127.0.0.1:{self.port} -user {IMAP_USER} -pass {self.password} -out '{got}'"))
        r = subprocess.run([f"{self.b.tools}/mkcheck", "trees", "-want", self.b.reference("imap", IMAP_USER),
                            "-got", got], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("served content: " + (r.stderr.strip().splitlines() or ["?"])[-1])


class ServeMailkeep(Serve):
    """mailkeep serve on the archive."""
    password = SERVE_PASS

    def prepare(self):
        src = serve_archive(self.b)
        self.port = free_port()
        cfg = os.path.join(self.dir, "mailkeep.yaml")
        with open(os.path.join(src, "mailkeep.yaml")) as fh:
            text = fh.read()
        with open(cfg, "w") as fh:
            fh.write(text + f"serve:\n  listen: 127.0.0.1:{self.port}\n  password_env: BENCH_SERVE_PASS\n")
        os.chmod(cfg, 0o600)
        env = dict(os.environ, BENCH_SERVE_PASS=SERVE_PASS)
        self.log = open(os.path.join(self.b.log_dir, f"{self.name}-server.log"), "ab")
        self.proc = subprocess.Popen([self.b.mailkeep, "serve", "--config", cfg, IMAP_USER], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_port(self.port)
        except RuntimeError:
            self.stop()
            raise RuntimeError("mailkeep serve did not start: see " + self.log.name)
        self.check_content()

    def measure_start(self):
        with open(f"/proc/{self.proc.pid}/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM, the peak RSS
        return proc_cpu(self.proc.pid)

    def measure_end(self, start):
        return dict(cpu_fields(start, proc_cpu(self.proc.pid)), rss_kib=vm_hwm_kib(self.proc.pid), srv_cpu=None)

    def stop(self):
        if getattr(self, "proc", None) and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


class ServeDovecot(Serve):
    """Dovecot serving a copy of the archive (LAYOUT=fs:DIRNAME=.mk, zlib)."""
    password = "secret-alice"
    needs = ("doveadm",)

    def prepare(self):
        src = serve_archive(self.b)
        self.ddir = os.path.join(self.dir, "dovecot")
        sh(f"'{HERE}/dovecot.sh' stop '{self.ddir}'", check=False)
        self.b.discard(self.ddir)
        home = os.path.join(self.ddir, "mail", IMAP_USER)
        os.makedirs(home)
        sh(f"cp -a '{src}/archive/{IMAP_USER}/mail' '{home}/mail' && chown -R mail:mail '{self.ddir}/mail'")
        self.port = free_port()
        env = (f"USERS={IMAP_USER} IMAP_PORT={self.port} POP3_PORT={free_port()} "
               f"MAIL_LOCATION='maildir:~/mail:LAYOUT=fs:DIRNAME=.mk:INBOX=~/mail/INBOX/.mk:INDEX=~/index'")
        self.pid = int(sh(f"env {env} '{HERE}/dovecot.sh' start '{self.ddir}'").strip())
        self.check_content()

    def measure_start(self):
        self.peak, self.stop_sampling = 0, threading.Event()
        self.sampler = threading.Thread(target=self.sample, daemon=True)
        self.sampler.start()
        return proc_cpu(self.pid, children=True)

    def sample(self):
        """The peak RSS of the master's imap processes, every 10 ms."""
        while not self.stop_sampling.is_set():
            for name in os.listdir("/proc"):
                if not name.isdigit():
                    continue
                try:
                    with open(f"/proc/{name}/stat") as fh:
                        head, _, rest = fh.read().partition(" (")
                        comm, _, rest = rest.rpartition(") ")
                    if comm == "imap" and int(rest.split()[1]) == self.pid:
                        self.peak = max(self.peak, vm_hwm_kib(name))
                except (OSError, ValueError, IndexError):
                    pass
            time.sleep(0.01)

    def measure_end(self, start):
        time.sleep(0.3)  # the master reaps the session process
        self.stop_sampling.set()
        self.sampler.join()
        return dict(cpu_fields(start, proc_cpu(self.pid, children=True)), rss_kib=self.peak, srv_cpu=None)

    def stop(self):
        if getattr(self, "ddir", None):
            sh(f"'{HERE}/dovecot.sh' stop '{self.ddir}'", check=False)


PEERS = {
    "raw-imap": RawIMAP, "raw-imap-write": RawIMAPWrite, "raw-imap-fsync": RawIMAPFsync,
    "disk-zstd": DiskZstd, "mbsync": Mbsync, "offlineimap": OfflineIMAP, "mailkeep": Mailkeep,
    "mailkeep-noindex": MailkeepNoIndex,
    "raw-pop3": RawPOP3, "mpop": Mpop, "mailkeep-pop3": MailkeepPOP3, "mailkeep-pop3-noindex": MailkeepPOP3NoIndex,
    "mailkeep-age": MailkeepAge, "mailkeep-pop3-age": MailkeepPOP3Age,
    "raw-append": RawAppend, "mbsync-push": MbsyncPush, "mailkeep-restore": MailkeepRestore,
    "mailkeep-restore-2": MailkeepRestore2,
    "mailkeep-export": MailkeepExport, "doveadm-export": DoveadmExport, "zstd-decompress": ZstdDecompress,
    "mailkeep-serve": ServeMailkeep, "dovecot-serve": ServeDovecot,
    "mailkeep-verify": MailkeepVerify, "mailkeep-dryrun": MailkeepDryRun, "mailkeep-dryrun-self": MailkeepDryRunSelf,
}
READ_SCENARIOS = ("verify", "dryrun")


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
    bench.scenario = scenario
    logpath = os.path.join(bench.log_dir, f"{peer.name}-{scenario}.log")
    with open(logpath, "ab") as logf:
        logf.write(f"\n### {peer.name} {scenario} round {rnd}{' (warm-up)' if warm else ''}\n".encode())
        logf.flush()
        s0 = bench.srv.cpu()
        m0 = peer.measure_start()
        r = timed(peer.cmd(), logf, bench.a.timeout)
        time.sleep(0.3)  # let the master reap the session process
        r["srv_cpu"] = bench.srv.cpu() - s0
        r.update(peer.measure_end(m0))
    why = f"exit {r['rc']} (see {logpath})" if r["rc"] != "0" else peer.check()
    r.update(peer=peer.name, kind=peer.kind, scenario=scenario, round=rnd, warmup=warm,
             ok=not why, why=why, anchor=peer.anchor)
    if scenario in ("full", "export") and not why:
        r["bytes"] = peer.size()
        ib = peer.index_size()
        if ib is not None:
            r["index_bytes"] = ib
    out.write(json.dumps(r) + "\n")
    out.flush()
    srv = "" if r["srv_cpu"] is None else f" srv {r['srv_cpu']:5.2f}s"
    log(f"  {peer.name:16} {scenario:7} round {rnd}{'w' if warm else ' '} wall {r['wall']:7.3f}s "
        f"cpu {r['cpu']:6.2f}s rss {r['rss_kib'] / 1024:6.1f}MiB{srv} "
        f"{'ok' if not why else 'BROKEN: ' + why}")
    return not why


def rounds(bench, peers, scenario, out, before_round=None):
    a = bench.a
    counted = {p.name: 0 for p in peers}
    warmup, runs = a.warmup, a.runs
    if a.full_runs and scenario in ("full",) + READ_SCENARIOS:
        warmup, runs = 0, a.full_runs
    for rnd in range(warmup + runs):
        warm = rnd < warmup
        if before_round:
            before_round()
        k = rnd % max(len(peers), 1)
        for p in peers[k:] + peers[:k]:
            if p.unavailable or (p.slow and not warm and counted[p.name] >= a.slow_runs) or (p.slow and warm):
                continue
            if scenario in ("full", "restore", "export", "serve"):
                p.fresh()
            ok = run_one(bench, p, scenario, rnd, warm, out)
            if not warm:
                counted[p.name] += 1
            if not ok and scenario != "full":
                p.unavailable = f"broken in {scenario}"


def probe(peer):
    """Untimed: can this build of mailkeep do the job at all?"""
    if not peer.b.a.probe:
        return ""
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
    ap.add_argument("--peers", default=" ".join(n for n in PEERS if not n.endswith("-age")),
                    help="the tools to run (default: all but the -age ones, the encrypted archives)")
    ap.add_argument("--scenarios", default="full noop add100 restore export serve")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--slow-runs", type=int, default=3, help="counted runs of slow tools (offlineimap)")
    ap.add_argument("--add", type=int, default=100, help="messages delivered per add round")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per run")
    ap.add_argument("--full-runs", type=int, default=0,
                    help="counted rounds, without warm-up, of full, verify and dryrun (default: as the others)")
    ap.add_argument("--content-check", default="full noop add100",
                    help="scenarios whose mailkeep runs are checked byte for byte (others: the count)")
    ap.add_argument("--no-probe", dest="probe", action="store_false",
                    help="no untimed first run of each mailkeep peer (a full backup: long on a big corpus)")
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
    bench.peers = {p.name: p for p in peers}
    scen = a.scenarios.split()
    with open(a.results, "a") as out:
        backup = usable([p for p in peers if p.kind not in ("restore", "export", "serve", "archive")], out)
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
        for sc in READ_SCENARIOS:
            group = [p for p in peers if p.kind == "archive" and sc in p.scenarios]
            if sc in scen and group:
                group = usable(group, out)
                log(f"== {sc}: {' '.join(p.name for p in group)}")
                rounds(bench, group, sc, out)
        srv.reset()
        if "restore" in scen:
            group = usable([p for p in peers if p.kind == "restore"], out)
            log(f"== restore: {' '.join(p.name for p in group)}")
            rounds(bench, group, "restore", out)
            srv.wipe(RESTORE_USER)
        if "export" in scen:
            group = usable([p for p in peers if p.kind == "export"], out)
            log(f"== export: {' '.join(p.name for p in group)}")
            rounds(bench, group, "export", out)
        if "serve" in scen:
            group = usable([p for p in peers if p.kind == "serve"], out)
            log(f"== serve: {' '.join(p.name for p in group)}")
            try:
                rounds(bench, group, "serve", out)
            finally:
                for p in peers:
                    if p.kind == "serve":
                        p.stop()


def usable(peers, out):
    """The peers that can run: installed, their source ready (restore), and
    for mailkeep, one untimed run that works with this build."""
    ok = []
    for p in peers:
        p.unavailable = p.available()
        try:
            if not p.unavailable and p.kind in ("restore", "export", "serve", "archive"):
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
