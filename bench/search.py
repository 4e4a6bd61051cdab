#!/usr/bin/env python3
"""Time mailkeep find beside notmuch search on the same mail, warm.

    search.py --dovecot DIR --work DIR --results FILE --mailkeep BIN --imap-port N [--runs 10]
              [--findtime BIN] [--reuse]

Untimed first: a mailkeep backup of alice with its search index (its wall
time, archive and index sizes are recorded), and a copy of alice's Maildir on
the server, which `notmuch new` indexes (timed too). Then each query runs once
to warm up and --runs times counted, every tool once per round in turn; the
wall time is the process's, start to exit, output discarded. Both tools print
at most 50 results, newest first: mailkeep one line per message with date,
sender and subject; notmuch its default summary (one line per thread), and
with --output=messages the message ids alone. A process that does nothing
(--version) gives each tool's floor: on a loaded machine, starting a process
costs more than most queries. With --findtime (bench/findtime), the same
queries are also timed inside one process, warm: the query alone.
--reuse keeps the archive and the notmuch database of an earlier run.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench as B  # noqa: E402  the config writers and the Dovecot helpers

# (label, mailkeep query, notmuch query): a word, a sender, a date range,
# and the three together. The corpus's INTERNALDATE is its Date header.
QUERIES = [
    ("word", "invoice", "invoice"),
    ("from:", "from:okafor", "from:okafor"),
    ("date range", "after:2023-03-01 before:2023-04-01", "date:2023-03-01..2023-03-31"),
    ("word from: dates", "invoice from:okafor after:2023-01-01", "invoice from:okafor date:2023-01-01.."),
    ("message-id, no match", "message-id:none@nowhere", "id:none@nowhere"),
]


def run(cmd, env=None):
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd}: exit {p.returncode}: {p.stderr.decode()[-300:]}")
    return wall, p.stdout.count(b"\n")


def du(path):
    return int(subprocess.run(["du", "-sb", path], capture_output=True, text=True, check=True).stdout.split()[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dovecot", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--mailkeep", required=True)
    ap.add_argument("--imap-port", type=int, default=11143)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--findtime", help="bench/findtime binary: time the queries in one process too")
    ap.add_argument("--reuse", action="store_true", help="keep the archive and notmuch database of a run before")
    a = ap.parse_args()

    work = os.path.join(a.work, "search")
    archive = os.path.join(work, "archive")
    saved = os.path.join(work, "setup.json")
    if a.reuse and os.path.exists(saved):
        out = json.load(open(saved))
    else:
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        out = setup(a, work, archive)
        json.dump(out, open(saved, "w"))
    cfg = os.path.join(work, "mailkeep.yaml")
    env = dict(os.environ, BENCH_PASS_ALICE=B.password("alice"))
    nm = [shutil.which("notmuch"), f"--config={os.path.join(work, 'notmuch-config')}"] if "notmuch_bytes" in out else []
    with open(a.results, "a") as res:
        res.write(json.dumps(out) + "\n")
        tools = [("mailkeep find", lambda q: [a.mailkeep, "find", "--config", cfg, "alice", q[1], "--limit", "50"]
                  if q[1] is not None else [a.mailkeep, "--version"])]
        if nm:
            tools += [("notmuch search", lambda q: nm + ["search", "--limit=50", "--sort=newest-first", q[2]]
                       if q[2] is not None else nm[:1] + ["--version"]),
                      ("notmuch --output=messages",
                       lambda q: nm + ["search", "--output=messages", "--limit=50", "--sort=newest-first", q[2]]
                       if q[2] is not None else nm[:1] + ["--version"])]
        for q in [("process start (--version)", None, None)] + QUERIES:
            time_query(a, res, tools, q, env)
        if a.findtime:
            p = subprocess.run([a.findtime, "-dir", os.path.join(archive, "alice"), "-runs", str(a.runs)]
                               + [q[1] for q in QUERIES], capture_output=True, text=True, check=True)
            for line, q in zip(p.stdout.splitlines(), QUERIES):
                r = json.loads(line)
                res.write(json.dumps(dict(kind="search", query=q[0], tool="Search in process", runs=r["runs"],
                                          median=r["median_ms"] / 1000, min=r["min_ms"] / 1000,
                                          max=r["max_ms"] / 1000, lines=r["hits"])) + "\n")
                B.log(f"search: {q[0]:22} in process median {r['median_ms']:7.1f} ms, {r['hits']} hits")


def time_query(a, res, tools, q, env):
    """One warm-up and a.runs counted rounds of every tool, in turn."""
    times = {t: [] for t, _ in tools}
    lines = {}
    for rnd in range(1 + a.runs):
        for name, argv in tools[rnd % len(tools):] + tools[:rnd % len(tools)]:
            wall, n = run(argv(q), env)
            lines[name] = n
            if rnd > 0:
                times[name].append(wall)
    for name, ts in times.items():
        r = dict(kind="search", query=q[0], tool=name, runs=len(ts), median=statistics.median(ts),
                 min=min(ts), max=max(ts), lines=lines[name])
        res.write(json.dumps(r) + "\n")
        B.log(f"search: {q[0]:22} {name:26} median {r['median'] * 1000:7.1f} ms "
              f"[{r['min'] * 1000:.1f}–{r['max'] * 1000:.1f}], {r['lines']} lines")


def setup(a, work, archive):
    """Untimed: the archive with its index, and notmuch's database of the same mail."""

    class Args:  # what mailkeep_config needs of bench.py's arguments
        imap_port, pop3_port = a.imap_port, 0

    class Bench:
        a = Args()
    cfg = os.path.join(work, "mailkeep.yaml")
    B.mailkeep_config(Bench(), cfg, archive, [("alice", "imap")])
    env = dict(os.environ, BENCH_PASS_ALICE=B.password("alice"))
    out = {"kind": "search-setup"}
    out["backup_wall"], _ = run([a.mailkeep, "backup", "--config", cfg, "--no-progress", "alice"], env)
    acct = os.path.join(archive, "alice")
    index = sum(os.path.getsize(os.path.join(acct, f)) for f in ("index.db", "index.db-wal")
                if os.path.exists(os.path.join(acct, f)))
    out.update(index_bytes=index, archive_bytes=du(acct) - index - os.path.getsize(os.path.join(acct, "index.db-shm")),
               messages=int(subprocess.run(f"find '{acct}/mail' -path '*/.mk/cur/*' -type f | wc -l", shell=True,
                                           capture_output=True, text=True).stdout))
    B.log(f"search: backup {out['backup_wall']:.1f}s, {out['messages']} messages, index {index:,} bytes, "
          f"archive {out['archive_bytes']:,} bytes")

    notmuch = shutil.which("notmuch")
    nm = []
    if notmuch:
        maildir = os.path.join(work, "maildir")
        shutil.copytree(os.path.join(a.dovecot, "mail", "alice", "Maildir"), maildir, symlinks=True)
        nmcfg = os.path.join(work, "notmuch-config")
        with open(nmcfg, "w") as fh:
            fh.write(f"[database]\npath={maildir}\n[user]\nname=Alice\nprimary_email=alice@example.org\n"
                     "[new]\ntags=inbox;\n[maildir]\nsynchronize_flags=true\n")
        nm = [notmuch, f"--config={nmcfg}"]
        out["notmuch_new_wall"], _ = run(nm + ["new", "--quiet"])
        out["notmuch_bytes"] = du(os.path.join(maildir, ".notmuch"))
        out["maildir_bytes"] = du(maildir) - out["notmuch_bytes"]
        B.log(f"search: notmuch new {out['notmuch_new_wall']:.1f}s, database {out['notmuch_bytes']:,} bytes")
    else:
        out["notmuch"] = "not installed"
    return out


if __name__ == "__main__":
    main()
