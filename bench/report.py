#!/usr/bin/env python3
"""Markdown tables from the benchmark's results.

    report.py RESULTS.jsonl [--meta META.json] [--memory MEMORY.txt] [--search SEARCH.jsonl]

RESULTS.jsonl is what bench.py wrote (one object per run); broken runs
(failed check) and warm-up runs never enter the medians. META.json
(written by run.sh) describes the corpus and the machine; MEMORY.txt holds
the "memory:" lines of the peak-RSS test; SEARCH.jsonl the query times of
search.py. Ratios compare medians of the same
run: wall × ref is the tool's median wall time divided by the reference
peer's (mbsync for IMAP, mpop for POP3, mbsync push for restore, doveadm for
export, Dovecot for serve), wall × raw by the lower-bound's (rawimap; zstd -d for
export). In the serve rows, wall is the client's fetch of the whole archive, CPU
and peak RSS are the server's.
"""
import argparse
import json
import re
import statistics

REF = {"imap": "mbsync", "pop3": "mpop", "restore": "mbsync-push", "export": "doveadm-export",
       "serve": "dovecot-serve"}
RAW = {"imap": "raw-imap", "pop3": "raw-pop3", "restore": "raw-append", "export": "zstd-decompress"}
SCEN_ORDER = ["full", "noop", "add100", "restore", "export", "serve", "verify", "dryrun"]
SCEN_NAME = {"full": "full", "noop": "no change", "add100": "+N new", "restore": "restore", "export": "mbox",
             "serve": "fetch all", "verify": "verify", "dryrun": "restore --dry-run"}
KIND_NAME = {"imap": "IMAP", "pop3": "POP3", "restore": "restore", "export": "export", "serve": "serve",
             "archive": "archive"}
RSS_BOUND_MIB = 64


def load(path):
    runs, unavailable = [], {}
    with open(path) as fh:
        for line in fh:
            r = json.loads(line)
            if "unavailable" in r:
                unavailable[r["peer"]] = r["unavailable"]
            else:
                runs.append(r)
    return runs, unavailable


class Row:
    def __init__(self, peer, kind, scen, runs):
        self.peer, self.kind, self.scen = peer, kind, scen
        counted = [r for r in runs if not r["warmup"]]
        self.good = [r for r in counted if r["ok"]]
        self.broken = [r for r in counted if not r["ok"]]
        self.anchor = any(r.get("anchor") for r in runs)

    def med(self, k):
        vals = [r[k] for r in self.good if r.get(k) is not None]
        return statistics.median(vals) if vals else None

    def span(self, k):
        vals = [r[k] for r in self.good]
        return (min(vals), max(vals)) if vals else (None, None)


def fmt(v, spec=".3f"):
    return "" if v is None else format(v, spec)


def rows_of(runs):
    groups = {}
    for r in runs:
        groups.setdefault((r["kind"], r["scenario"], r["peer"]), []).append(r)
    rows = {}
    for (kind, scen, peer), rs in groups.items():
        rows[(kind, scen, peer)] = Row(peer, kind, scen, rs)
    return rows


def ratio(a, b):
    return a / b if a is not None and b else None


def main_table(rows, meta):
    server_bytes = meta.get("alice_maildir_bytes")
    pop3_bytes = meta.get("bob_maildir_bytes")
    out = ["| kind | scenario | tool | runs ok | wall s, median [min–max] | CPU s (user+sys) | peak RSS MiB "
           "| server CPU s | result bytes (× server Maildir) | wall × ref | wall × raw | check |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    kinds = ["imap", "pop3", "restore", "export", "serve", "archive"]
    for kind in kinds:
        for scen in SCEN_ORDER:
            ref = rows.get((kind, scen, REF.get(kind)))
            raw = rows.get((kind, scen, RAW.get(kind)))
            peers = sorted((r for (k, s, _), r in rows.items() if k == kind and s == scen),
                           key=lambda r: (r.anchor, not r.peer.startswith("mailkeep"), r.peer))
            for r in peers:
                lo, hi = r.span("wall")
                wall = f"{fmt(r.med('wall'))} [{fmt(lo)}–{fmt(hi)}]" if r.good else "—"
                cpu = (f"{fmt(r.med('cpu'), '.2f')} ({fmt(r.med('user'), '.2f')}+{fmt(r.med('sys'), '.2f')})"
                       if r.good else "")
                rss = fmt(r.med("rss_kib") / 1024, ".1f") if r.good else ""
                size = ""
                b = r.med("bytes")
                base = pop3_bytes if kind == "pop3" else server_bytes
                if b is not None and scen in ("full", "export"):
                    size = f"{int(b):,}" + (f" ({b / base:.3f}×)" if base else "")
                wr = ratio(r.med("wall"), ref.med("wall") if ref else None)
                rr = ratio(r.med("wall"), raw.med("wall") if raw else None)
                check = "ok" if r.good and not r.broken else (
                    f"{len(r.broken)} broken: {r.broken[0]['why']}" if r.broken else "no run")
                out.append(f"| {KIND_NAME[kind]} | {SCEN_NAME[scen]} | {r.peer}{' (anchor)' if r.anchor else ''} "
                           f"| {len(r.good)} | {wall} | {cpu} | {rss} | {fmt(r.med('srv_cpu'), '.2f')} | {size} "
                           f"| {fmt(wr, '.2f')} | {fmt(rr, '.1f')} | {check} |")
    return out


def memory_lines(path):
    cases = []
    if not path:
        return cases
    with open(path) as fh:
        for line in fh:
            m = re.search(r"memory: (.*)", line)
            if m:
                cases.append(dict(kv.split("=", 1) for kv in m.group(1).split()))
    return cases


def targets(rows, meta, memory):
    def med(kind, scen, peer, k="wall"):
        r = rows.get((kind, scen, peer))
        return r.med(k) if r and r.good else None

    out = ["| target | measured | met |", "|---|---|---|"]

    def row(name, value, ok):
        verdict = "—" if ok is None else ("yes" if ok else "**no**")
        out.append(f"| {name} | {value} | {verdict} |")

    if meta.get("profile") == "huge":
        return scale_targets(rows, meta, row, out)

    def cmp_row(name, kind, scen, peer, ref, limit):
        a, b = med(kind, scen, peer), med(kind, scen, ref)
        if a is None or b is None:
            row(name, "not measured", None)
            return
        row(name, f"{a:.3f} s vs {ref} {b:.3f} s = {a / b:.2f}×", a / b <= limit)

    cmp_row("IMAP full ≤ 1/3 of mbsync wall", "imap", "full", "mailkeep", "mbsync", 1 / 3)
    rss = med("imap", "full", "mailkeep", "rss_kib")
    row("IMAP full peak RSS ≤ 64 MiB", "not measured" if rss is None else f"{rss / 1024:.1f} MiB",
        None if rss is None else rss / 1024 <= RSS_BOUND_MIB)
    cmp_row("IMAP full with the search index ≤ 1.15 × without", "imap", "full", "mailkeep", "mailkeep-noindex", 1.15)
    cmp_row("IMAP +N with the search index ≤ 1.15 × without", "imap", "add100", "mailkeep", "mailkeep-noindex", 1.15)
    cmp_row("POP3 full with the search index ≤ 1.15 × without", "pop3", "full", "mailkeep-pop3", "mailkeep-pop3-noindex", 1.15)
    ib, ab = med("imap", "full", "mailkeep", "index_bytes"), med("imap", "full", "mailkeep", "bytes")
    row("search index ÷ archive (reported, no target)",
        "not measured" if ib is None or not ab else f"{int(ib):,} / {int(ab):,} = {ib / ab:.3f}×", None)
    cmp_row("IMAP no change ≤ mbsync", "imap", "noop", "mailkeep", "mbsync", 1)
    cmp_row("IMAP +N ≤ mbsync", "imap", "add100", "mailkeep", "mbsync", 1)
    cmp_row("POP3 full ≤ mpop", "pop3", "full", "mailkeep-pop3", "mpop", 1)
    cmp_row("POP3 no change ≤ mpop", "pop3", "noop", "mailkeep-pop3", "mpop", 1)
    cmp_row("POP3 +N ≤ mpop", "pop3", "add100", "mailkeep-pop3", "mpop", 1)
    cmp_row("restore ≤ mbsync push", "restore", "restore", "mailkeep-restore", "mbsync-push", 1)
    w, c = med("restore", "restore", "mailkeep-restore"), med("restore", "restore", "mailkeep-restore", "cpu")
    cmp_row("export mbox ≤ doveadm backup to mbox", "export", "export", "mailkeep-export", "doveadm-export", 1)
    row("restore: mailkeep CPU ≤ 10% of wall", "not measured" if w is None else f"{c:.2f} s of {w:.2f} s = {c / w:.0%}",
        None if w is None else c / w <= 0.10)
    cmp_row("serve: fetching the archive ≤ Dovecot serving it", "serve", "serve", "mailkeep-serve", "dovecot-serve", 1)
    rss = med("serve", "serve", "mailkeep-serve", "rss_kib")
    row("serve: peak RSS ≤ 64 MiB", "not measured" if rss is None else f"{rss / 1024:.1f} MiB",
        None if rss is None else rss / 1024 <= RSS_BOUND_MIB)
    b, base = med("imap", "full", "mailkeep", "bytes"), meta.get("alice_maildir_bytes")
    row("archive ≤ 0.65 × server Maildir bytes",
        "not measured" if b is None or not base else f"{int(b):,} / {base:,} = {b / base:.3f}×",
        None if b is None or not base else b / base <= 0.65)
    for m in memory:
        kib = int(m["peak_rss_kib"])
        row(f"memory: {m['case']} ({int(m['messages']):,} msgs, {int(m['bytes']) / 1e6:.0f} MB) within {int(m['bound_kib']) // 1024} MiB",
            f"{kib / 1024:.1f} MiB peak RSS, {m['wall']}", kib <= int(m["bound_kib"]))
    return out


def second_round(rows):
    """The second round's targets on small and medium, each beside the floor
    measured in the same run: a target above its floor may yet be met, one
    below it cannot be on this machine. mailkeep is the peer without the
    search index where both ran (encryption is off in both)."""
    def pick(kind, scen, *peers):
        for p in peers:
            r = rows.get((kind, scen, p))
            if r and r.good:
                return r
        return None

    out = ["| target (second round) | measured | floor in this run | met |", "|---|---|---|---|"]

    def row(name, value, floor, ok, possible=True):
        verdict = "—" if ok is None else ("yes" if ok else ("**no**" if possible else "**no**, below the floor"))
        out.append(f"| {name} | {value} | {floor} | {verdict} |")

    def full_floor(r):
        srv = r.med("srv_cpu")
        return None if srv is None else (r.med("cpu") + srv) / 2

    def vs(name, kind, scen, mine, ref, limit, floor_of):
        a, b = pick(kind, scen, *mine), pick(kind, scen, ref)
        if a is None or b is None:
            row(name, "not measured", "", None)
            return
        x, y = a.med("wall"), b.med("wall")
        fl, why = floor_of(a)
        floor = "" if fl is None else f"{why} {fl:.3f} s = {fl / y:.2f}×"
        row(name, f"{a.peer} {x:.3f} s vs {ref} {y:.3f} s = {x / y:.2f}×", floor, x / y <= limit,
            fl is None or fl / y <= limit)

    def cpu_floor(r):
        return full_floor(r), "(CPU + server CPU) / 2 ="

    def raw_floor(kind, scen, raw):
        def f(_):
            r = pick(kind, scen, raw)
            return (None, "") if r is None else (r.med("wall"), raw)
        return f

    vs("IMAP full ≤ 0.5 × mbsync", "imap", "full", ("mailkeep-noindex", "mailkeep"), "mbsync", 0.5, cpu_floor)
    vs("POP3 full ≤ 0.8 × mpop", "pop3", "full", ("mailkeep-pop3-noindex", "mailkeep-pop3"), "mpop", 0.8, cpu_floor)
    for scen in ("noop", "add100"):
        vs(f"POP3 {SCEN_NAME[scen]} ≤ 0.8 × mpop", "pop3", scen, ("mailkeep-pop3-noindex", "mailkeep-pop3"), "mpop",
           0.8, raw_floor("pop3", scen, "raw-pop3"))
    r = pick("pop3", "full", "mailkeep-pop3-noindex", "mailkeep-pop3")
    rss = None if r is None else r.med("rss_kib") / 1024
    row("POP3 full peak RSS ≤ 32 MiB", "not measured" if rss is None else f"{r.peer} {rss:.1f} MiB", "",
        None if rss is None else rss <= 32)
    restore_rows(pick, row)
    a, b = pick("imap", "add100", "mailkeep-noindex", "mailkeep"), pick("imap", "add100", "mbsync")
    row("IMAP +N (no target: not slower than 1.05 × mbsync)", "not measured" if a is None or b is None else
        f"{a.peer} {a.med('wall'):.3f} s vs mbsync {b.med('wall'):.3f} s = {a.med('wall') / b.med('wall'):.2f}×",
        "", None)
    return out


def restore_rows(pick, row):
    """Restore: the client's CPU against 15 % of the wall time, beside what
    mailkeep's reading and checking of every message costs alone (verify of
    the same archive, when it ran): a restore reads and checks each message
    before it sends it. That is no floor of the protocol (raw-append is
    none either: it reads plain files one whole file at a time); it tells
    how much of the CPU the reading is. And the server's CPU against
    mbsync push's."""
    r, push = pick("restore", "restore", "mailkeep-restore"), pick("restore", "restore", "mbsync-push")
    if r is None:
        row("restore: client CPU ≤ 15 % of wall", "not measured", "", None)
        return
    w, c = r.med("wall"), r.med("cpu")
    ver = pick("archive", "verify", "mailkeep-verify")
    row("restore: client CPU ≤ 15 % of wall", f"{c:.2f} s of {w:.2f} s = {c / w:.0%}",
        "" if ver is None else f"(reading alone: verify {ver.med('cpu'):.2f} s = {ver.med('cpu') / w:.0%})",
        c / w <= 0.15)
    s, p = r.med("srv_cpu"), None if push is None else push.med("srv_cpu")
    row("restore: server CPU ≤ mbsync push's", "not measured" if s is None or p is None else
        f"{s:.2f} s vs {p:.2f} s = {s / p:.2f}×", "", None if s is None or p is None else s <= p)


def scale_targets(rows, meta, row, out):
    """Issue 20's targets at scale: a bound on memory for everything that reads the
    whole account, and incremental runs whose time does not grow with it."""
    def limit(name, kind, scen, peer, key, bound, unit):
        r = rows.get((kind, scen, peer))
        v = r.med(key) if r and r.good else None
        if v is None:
            row(name, "not measured", None)
            return
        v = v / 1024 if key == "rss_kib" else v
        hi = r.span(key)[1]
        hi = hi / 1024 if key == "rss_kib" else hi
        row(name, f"{v:.3f} {unit} (max {hi:.3f})" if unit == "s" else f"{v:.1f} {unit} (max {hi:.1f})", v <= bound)

    who = f"{meta.get('alice_messages', 0):,} messages"
    for kind, scen, peer in [("imap", "full", "mailkeep"), ("imap", "full", "mailkeep-noindex"),
                             ("imap", "noop", "mailkeep"), ("imap", "add100", "mailkeep"),
                             ("archive", "verify", "mailkeep-verify"), ("archive", "dryrun", "mailkeep-dryrun"),
                             ("archive", "dryrun", "mailkeep-dryrun-self")]:
        if (kind, scen, peer) in rows:
            limit(f"{peer} {SCEN_NAME[scen]}, {who}: peak RSS ≤ {RSS_BOUND_MIB} MiB", kind, scen, peer,
                  "rss_kib", RSS_BOUND_MIB, "MiB")
    for peer in ("mailkeep", "mailkeep-noindex"):
        if (("imap", "noop", peer) in rows) or peer == "mailkeep":
            limit(f"{peer} no change, {who}: ≤ 0.5 s", "imap", "noop", peer, "wall", 0.5, "s")
        if (("imap", "add100", peer) in rows) or peer == "mailkeep":
            limit(f"{peer} +N new, {who}: ≤ 1 s", "imap", "add100", peer, "wall", 1.0, "s")
    full = rows.get(("imap", "full", "mailkeep")) or rows.get(("imap", "full", "mailkeep-noindex"))
    row(f"full backup of {who} completes", "not measured" if full is None else
        f"{full.peer}: {len(full.good)} of {len(full.good) + len(full.broken)} runs good", None if full is None
        else bool(full.good) and not full.broken)
    return out


SEARCH_GOAL_MS = 50
SEARCH_TOOLS = ["mailkeep find", "Search in process", "notmuch search", "notmuch --output=messages"]


def search_tables(path):
    """The query latencies of search.py, and the setup it measured."""
    if not path:
        return []
    setup, rows = {}, {}
    with open(path) as fh:
        for line in fh:
            r = json.loads(line)
            if r["kind"] == "search-setup":
                setup = r
            else:
                rows.setdefault(r["query"], {})[r["tool"]] = r
    out = []
    if setup:
        s = setup
        out.append(f"Search: alice, {s['messages']:,} messages; mailkeep backup with the index {s['backup_wall']:.1f} s, "
                   f"index {s['index_bytes']:,} bytes = {s['index_bytes'] / s['archive_bytes']:.3f} × the archive "
                   f"({s['archive_bytes']:,} bytes)" + (
                       f"; notmuch new {s['notmuch_new_wall']:.1f} s, its database {s['notmuch_bytes']:,} bytes = "
                       f"{s['notmuch_bytes'] / s['maildir_bytes']:.3f} × the Maildir" if "notmuch_new_wall" in s else
                       "; notmuch not installed") + ".")
        out.append("")
    tools = [t for t in SEARCH_TOOLS if any(t in r for r in rows.values())]
    out.append("| query | " + " | ".join(f"{t}, ms median [min–max] (lines)" for t in tools) + " | ≤ 50 ms (in process) |")
    out.append("|---|" + "---|" * (len(tools) + 1))
    for q, by in rows.items():
        cells = []
        for t in tools:
            r = by.get(t)
            cells.append("" if r is None else f"{r['median'] * 1000:.1f} [{r['min'] * 1000:.1f}–{r['max'] * 1000:.1f}] ({r['lines']})")
        mk = by.get("Search in process") or by.get("mailkeep find")
        met = "—" if mk is None or q.startswith("process") else (
            "yes" if mk["median"] * 1000 <= SEARCH_GOAL_MS else "**no**")
        out.append(f"| {q} | " + " | ".join(cells) + f" | {met} |")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--meta")
    ap.add_argument("--memory")
    ap.add_argument("--search")
    a = ap.parse_args()
    runs, unavailable = load(a.results)
    meta = json.load(open(a.meta)) if a.meta else {}
    rows = rows_of(runs)
    for line in meta.get("describe", []):
        print(line)
    print()
    print("\n".join(main_table(rows, meta)))
    if unavailable:
        print()
        for p, why in unavailable.items():
            print(f"- {p}: not run ({why})")
    print()
    print("\n".join(targets(rows, meta, memory_lines(a.memory))))
    if meta.get("profile") != "huge":
        print()
        print("\n".join(second_round(rows)))
    search = search_tables(a.search)
    if search:
        print()
        print("\n".join(search))


if __name__ == "__main__":
    main()
