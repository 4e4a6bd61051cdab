#!/usr/bin/env python3
"""Deterministic synthetic mail corpus, written straight into a dovecot Maildir.

    gencorpus.py --dir DIR --profile small          # alice (IMAP) + bob (POP3)
    gencorpus.py --dir DIR --add 100                # 100 new deliveries (alice + bob)
    gencorpus.py --dir DIR --flat many:100000       # 100,000 small messages in one INBOX
    gencorpus.py --dir DIR --count                  # print server-side counts
    gencorpus.py --dir DIR --profile huge --messages 100000   # huge, scaled down

DIR is a bench/dovecot.sh instance directory; the mail lives in DIR/mail/USER/Maildir.

The same --seed and profile always give byte-identical messages, folder
placement, flags and INTERNALDATEs (the Maildir file names carry a counter,
not the pid/host, so even names repeat).  --add keeps a small state file so that
successive --add calls give new, unique (but still reproducible) messages.

Layout is dovecot's Maildir++ with '/' as the IMAP hierarchy separator:
'Archive/2024' is stored as .Archive.2024, non-ASCII names in modified UTF-7
('Entwürfe' -> .Entw&APw-rfe).  Keywords go through dovecot-keywords
(letters a, b, ...), INTERNALDATE is the file mtime, file names carry
,S=<size>,W=<vsize> like dovecot's own.

Size mix per message: mostly 2-20 KB text / HTML, ~10% with base64 attachments
of 100 KB-3 MB (Pareto, most near the low end), plus --big messages of 10-25 MB.

Profile huge is the scale case: 1,000,000 small text messages (0.5-3 KB, like
--flat) for alice in four folders (INBOX 50%, Archive 30%, Sent 10%, Lists 10%)
and a tenth of that for bob, written by one process in a few minutes
(--messages scales it; bob gets a tenth of --messages unless --pop3-messages).
"""
import argparse
import base64
import json
import os
import random
import subprocess
import sys
import time
from email.header import Header
from email.utils import format_datetime
import datetime as dt

PROFILES = {
    # user alice: multi-folder IMAP account; user bob: POP3 inbox
    "tiny":   dict(messages=200,   big=0, pop3_messages=100,  pop3_big=0),
    "small":  dict(messages=2000,  big=2, pop3_messages=1000, pop3_big=1),
    "medium": dict(messages=20000, big=6, pop3_messages=5000, pop3_big=2),
    "huge":   dict(messages=1000000, big=0, pop3_messages=100000, pop3_big=0),
}

# the huge profile's folders: (IMAP name, share in percent, (year_from, year_to))
HUGE_FOLDERS = [
    ("INBOX", 50, (2020, 2024)),
    ("Archive", 30, (2008, 2019)),
    ("Sent", 10, (2008, 2024)),
    ("Lists", 10, (2015, 2024)),
]

# (IMAP name, weight, (year_from, year_to) for INTERNALDATE)
FOLDERS = [
    ("INBOX", 28, (2023, 2024)),
    ("Sent", 12, (2019, 2024)),
    ("Drafts", 1, (2024, 2024)),
    ("Entwürfe", 2, (2022, 2024)),
    ("Trash", 2, (2024, 2024)),
    ("Archive", 4, (2015, 2020)),
    ("Archive/2023", 12, (2023, 2023)),
    ("Archive/2024", 15, (2024, 2024)),
    ("Archive/2024/Projekte", 5, (2024, 2024)),
    ("Sent Items", 3, (2012, 2016)),
    ("R&D", 4, (2021, 2024)),
    ("Отчёты", 3, (2020, 2024)),
    ("Lists/dev-announce", 6, (2018, 2024)),
    ("Lists/golang-nuts", 4, (2018, 2024)),
    ("Empty", 0, (2024, 2024)),          # exists, no messages
    ("Archive/Leer", 0, (2024, 2024)),   # nested empty folder
]
KEYWORDS = ["$Label1", "$Label2", "$Label3", "$Forwarded", "$MDNSent", "NonJunk"]

FIRST = ["Alice", "Bob", "Carol", "Dave", "Eve", "Jürgen", "Zoë", "José", "Łukasz", "Søren",
         "Anna", "Mehmet", "Olga", "Priya", "Chen", "Fatima", "Hiroshi", "Ines", "Kofi", "Noor"]
LAST = ["Müller", "Smith", "García", "Nowak", "Jensen", "Schmidt", "Ivanova", "Tanaka", "Okafor",
        "Rossi", "Dubois", "Kowalski", "Andersson", "Yılmaz", "Wang", "Patel", "O'Brien", "Nguyen"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "lists.example.org", "beispiel.de",
           "corp.example", "uni.example.edu"]
SUBJ = ["Re: quarterly report", "Meeting notes", "Invoice #{n}", "Weekly status", "Fwd: slides",
        "Urlaubsantrag für nächste Woche", "Build failed on main", "[dev-announce] release {n}",
        "Lunch?", "Отчёт за квартал", "ご確認ください", "Café order confirmation {n}",
        "Your ticket #{n} has been updated", "Re: Re: design review", "Holiday photos",
        "Server maintenance window", "Über die Änderungen", "Contract draft v{n}", "Newsletter {n}"]
TZS = [0, 60, 120, -300, -420, 330, 540, -180]
SYLL = ["ka", "lo", "mi", "ne", "ra", "to", "su", "ve", "an", "er", "in", "ung", "sch", "ei",
        "the", "and", "ion", "ent", "ver", "ge", "st", "ch", "ä", "ö", "ü", "ß", "é", "qu", "x"]

KIB = 1024
MIB = 1024 * 1024


def mutf7(name):
    """IMAP modified UTF-7 (RFC 3501 5.1.3) for one path component."""
    out, buf = [], []

    def flush():
        if buf:
            b = "".join(buf).encode("utf-16-be")
            out.append("&" + base64.b64encode(b).decode().rstrip("=").replace("/", ",") + "-")
            buf.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


def folder_dir(maildir, imap_name):
    if imap_name == "INBOX":
        return maildir
    return os.path.join(maildir, "." + ".".join(mutf7(p) for p in imap_name.split("/")))


class Pools:
    """Big pre-generated byte pools; messages are slices at random offsets (fast, varied)."""

    def __init__(self, seed):
        r = random.Random(f"pool-{seed}")
        words = ["".join(r.choice(SYLL) for _ in range(r.randint(1, 4))) for _ in range(4000)]
        words += ["the", "and", "of", "to", "in", "is", "for", "on", "with", "der", "die", "und"] * 200
        out, n = [], 0
        while n < 3 * MIB:
            line = " ".join(r.choice(words) for _ in range(r.randint(6, 14)))
            if r.random() < 0.08:
                line += "\n"
            out.append(line)
            n += len(line.encode()) + 1
        self.text = ("\n".join(out) + "\n").encode()
        rows = []
        for i in range(60000):
            rows.append(f"{i},{r.choice(words)},{r.randint(0, 10**6)},{r.random():.6f},{r.choice(DOMAINS)}")
        self.csv = ("\n".join(rows) + "\n").encode()

    def slice(self, pool, r, n):
        """n bytes (about) from a random offset, cut at line/word boundaries (valid UTF-8)."""
        if n >= len(pool) - 64:
            return (pool * (n // len(pool) + 1))[:n].rsplit(b"\n", 1)[0] + b"\n"
        o = r.randrange(0, len(pool) - n - 64)
        o = pool.index(b"\n", o) + 1 if pool.find(b"\n", o, o + 200) >= 0 else pool.index(b" ", o) + 1
        e = pool.rfind(b"\n", o, o + n)
        if e <= o:
            e = pool.rfind(b" ", o, o + n)
        return pool[o:e] + b"\n" if e > o else b"hello\n"


def person(r):
    f, l = r.choice(FIRST), r.choice(LAST)
    addr = f"{f.lower()}.{l.lower()}".encode("ascii", "ignore").decode().replace("'", "") + "@" + r.choice(DOMAINS)
    disp = f"{f} {l}"
    if any(ord(c) > 127 for c in disp):
        disp = Header(disp, "utf-8").encode()
    elif r.random() < 0.5:
        disp = f'"{l}, {f}"'
    return f"{disp} <{addr}>"


def fold_b64(raw):
    return base64.encodebytes(raw)  # 76-char lines, LF


def attachment_size(r, big):
    if big:
        return r.randint(10 * MIB, 25 * MIB)
    # Pareto(alpha=2.5) scaled to 100 KiB, capped at 3 MiB: mean ~170 KiB
    return min(int(100 * KIB * (1.0 / (1.0 - r.random())) ** (1 / 2.5)), 3 * MIB)


def make_message(pools, r, idx, when, folder, big=False, attach=None):
    """Return bytes of one RFC 5322 message with LF line endings."""
    tz = dt.timezone(dt.timedelta(minutes=r.choice(TZS)))
    sent = (when - dt.timedelta(seconds=r.randint(1, 3600))).astimezone(tz)
    frm, to = person(r), person(r)
    if folder in ("Sent", "Sent Items", "Drafts", "Entwürfe"):
        frm = '"Alice Example" <alice@example.com>'
    subj = r.choice(SUBJ).format(n=r.randint(1, 99999))
    if any(ord(c) > 127 for c in subj):
        subj = Header(subj, "utf-8").encode(maxlinelen=76)
    mid = f"<{idx:08d}.{r.getrandbits(48):012x}@{r.choice(DOMAINS)}>"
    h = []
    for hop in range(r.randint(1, 4)):
        h.append(f"Received: from mx{hop}.{r.choice(DOMAINS)} (mx{hop}.{r.choice(DOMAINS)} [192.0.2.{r.randint(1, 254)}])\n"
                 f"\tby mail.example.com with ESMTPS id {r.getrandbits(40):010X}\n"
                 f"\tfor <alice@example.com>; {format_datetime(sent)}")
    if r.random() < 0.4:
        sig = base64.b64encode(r.randbytes(256)).decode()
        h.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=sel1;\n"
                 f"\th=from:to:subject:date:message-id; bh={base64.b64encode(r.randbytes(32)).decode()};\n"
                 "\tb=" + "\n\t ".join(sig[i:i + 70] for i in range(0, len(sig), 70)))
    h += [f"From: {frm}", f"To: {to}"]
    if r.random() < 0.3:
        h.append("Cc: " + ",\n\t".join(person(r) for _ in range(r.randint(1, 4))))
    h += [f"Subject: {subj}", f"Date: {format_datetime(sent)}", f"Message-ID: {mid}"]
    if r.random() < 0.35:
        ref = f"<{r.randint(0, idx + 1):08d}.ref@{r.choice(DOMAINS)}>"
        h += [f"In-Reply-To: {ref}", f"References: {ref}"]
    if folder.startswith("Lists/"):
        h += [f"List-Id: <{folder[6:]}.lists.example.org>", "Precedence: list",
              f"List-Unsubscribe: <mailto:leave-{folder[6:]}@lists.example.org>"]
    h.append("MIME-Version: 1.0")

    body_len = int(2 * KIB * (10 ** r.random())) - 1200  # total ~2-20 KB incl. headers
    body_len = max(body_len, 200)
    kind = r.random()
    if attach is None:
        attach = big or r.random() < 0.10
    if attach or kind >= 0.55:
        body_len = max(int(body_len / 2.6), 200)  # text + base64(html) alternative ~= same total
    text = pools.slice(pools.text, r, body_len)
    if not attach and kind < 0.55:
        cte = "8bit" if r.random() < 0.7 else "quoted-printable"
        if cte == "quoted-printable":
            import quopri
            text = quopri.encodestring(text)
        h += ["Content-Type: text/plain; charset=utf-8; format=flowed", f"Content-Transfer-Encoding: {cte}"]
        return ("\n".join(h) + "\n\n").encode() + text
    bnd = f"=_bench_{r.getrandbits(64):016x}"
    parts = []
    html = b"<html><head><meta charset=\"utf-8\"></head><body><p>" + \
        text.replace(b"\n\n", b"</p>\n<p>") + b"</p></body></html>\n"
    alt_b = f"=_alt_{r.getrandbits(64):016x}"
    alt = (f"Content-Type: multipart/alternative; boundary=\"{alt_b}\"\n\n"
           f"--{alt_b}\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n").encode() + text + \
        (f"\n--{alt_b}\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n").encode() + \
        fold_b64(html) + f"--{alt_b}--\n".encode()
    if not attach:
        h += [f"Content-Type: multipart/alternative; boundary=\"{alt_b}\""]
        return ("\n".join(h) + "\n\n").encode() + b"This is a multi-part message in MIME format.\n\n" + \
            alt.split(b"\n\n", 1)[1]
    parts.append(alt)
    size = attachment_size(r, big)
    if r.random() < 0.6:
        ctype, ext = r.choice([("application/pdf", "pdf"), ("image/jpeg", "jpg"), ("application/zip", "zip")])
        raw = r.randbytes(size)
    else:
        ctype, ext = r.choice([("text/csv", "csv"), ("application/octet-stream", "log")])
        raw = pools.slice(pools.csv, r, size)
    fname = r.choice(["report", "Präsentation", "scan", "data", "photo", "Rechnung"]) + f"_{idx}.{ext}"
    fhdr = Header(fname, "utf-8").encode() if any(ord(c) > 127 for c in fname) else fname
    parts.append((f"Content-Type: {ctype}; name=\"{fhdr}\"\nContent-Transfer-Encoding: base64\n"
                  f"Content-Disposition: attachment; filename=\"{fhdr}\"\n\n").encode() + fold_b64(raw))
    h.append(f"Content-Type: multipart/mixed; boundary=\"{bnd}\"")
    out = [("\n".join(h) + "\n\nThis is a multi-part message in MIME format.\n").encode()]
    for p in parts:
        out.append(f"\n--{bnd}\n".encode() + p)
    out.append(f"\n--{bnd}--\n".encode())
    return b"".join(out)


def rand_time(r, years):
    a = dt.datetime(years[0], 1, 1, tzinfo=dt.timezone.utc).timestamp()
    b = dt.datetime(years[1], 12, 31, 23, 59, tzinfo=dt.timezone.utc).timestamp()
    return int(r.uniform(a, b))


def flags_for(r, folder, kw_letters):
    f = set()
    if folder in ("Drafts", "Entwürfe"):
        f.add("D")
    elif folder in ("Sent", "Sent Items") or r.random() < 0.8:
        f.add("S")
    if r.random() < 0.05:
        f.add("F")
    if r.random() < 0.15:
        f.add("R")
    if folder == "Trash" and r.random() < 0.3:
        f.add("T")
    for i, p in enumerate([0.05, 0.02, 0.01, 0.03, 0.01, 0.02]):
        if r.random() < p:
            f.add(kw_letters[i])
    return "".join(sorted(f))


def ensure_maildir(d):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)


def write_msg(d, sub, ts, counter, data, flags):
    size = len(data)
    vsize = size + data.count(b"\n")
    base = f"{ts}.M{counter}P0Q{counter}.bench,S={size},W={vsize}"
    name = base + (f":2,{flags}" if sub == "cur" else "")
    p = os.path.join(d, sub, name)
    with open(p, "wb") as fh:
        fh.write(data)
    os.utime(p, (ts, ts))
    return size


def gen_user(args, pools, user, n, nbig, folders, stats):
    maildir = os.path.join(args.dir, "mail", user, "Maildir")
    if os.path.exists(maildir):
        if not args.force:
            sys.exit(f"{maildir} exists; use --force (or dovecot.sh reset) to regenerate")
        subprocess.run(["rm", "-rf", os.path.join(args.dir, "mail", user)], check=True)
    kw_letters = [chr(ord("a") + i) for i in range(len(KEYWORDS))]
    names = [f[0] for f in folders]
    weights = [f[1] for f in folders]
    make_folders(maildir, names)
    top = random.Random(f"{args.seed}-{user}-layout")
    big_idx = set(top.sample(range(n), min(nbig, n)))
    years = {f[0]: f[2] for f in folders}
    total = 0
    per = {}
    for i in range(n):
        r = random.Random(f"{args.seed}-{user}-{i}")
        folder = r.choices(names, weights)[0]
        ts = rand_time(r, years[folder])
        when = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
        data = make_message(pools, r, i, when, folder, big=i in big_idx)
        fl = flags_for(r, folder, kw_letters) if user != args.pop3_user else ""
        total += write_msg(folder_dir(maildir, folder), "cur", ts, i, data, fl)
        per[folder] = per.get(folder, 0) + 1
    stats[user] = dict(messages=n, bytes=total, folders=per)


def gen_flat(args, user, n, stats):
    """n small text messages (about 0.5-3 KB) in the INBOX of user: the many-messages memory case."""
    maildir = os.path.join(args.dir, "mail", user, "Maildir")
    if os.path.exists(maildir):
        subprocess.run(["rm", "-rf", os.path.join(args.dir, "mail", user)], check=True)
    ensure_maildir(maildir)
    r = random.Random(f"{args.seed}-{user}-flat")
    words = ["backup", "archive", "folder", "message", "report", "meeting", "Rechnung", "über", "café"]
    base = int(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc).timestamp())
    total = 0
    for i in range(n):
        lines = [f"From: Sender {i % 97} <sender{i % 97}@example.org>", f"To: {user}@example.com",
                 f"Subject: message {i}", "Date: Mon, 1 Jan 2024 00:00:00 +0000",
                 f"Message-ID: <{i}.flat@example.org>", "MIME-Version: 1.0",
                 "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", ""]
        size, body = r.randint(300, 2800), 0
        while body < size:
            line = " ".join(r.choice(words) for _ in range(10))
            lines.append(line)
            body += len(line) + 1
        data = ("\n".join(lines) + "\n").encode()
        total += write_msg(maildir, "cur", base + i * 60, i, data, "S")
    stats[user] = dict(messages=n, bytes=total, folders={"INBOX": n})


def make_folders(maildir, names):
    """The Maildir++ folders of names under maildir, subscribed, with the keyword list."""
    ensure_maildir(maildir)
    for name in names:
        d = folder_dir(maildir, name)
        ensure_maildir(d)
        if name != "INBOX":
            open(os.path.join(d, "maildirfolder"), "w").close()
        with open(os.path.join(d, "dovecot-keywords"), "w") as fh:
            fh.writelines(f"{i} {k}\n" for i, k in enumerate(KEYWORDS))
    with open(os.path.join(maildir, "subscriptions"), "w") as fh:
        fh.writelines(f"{n}\n" for n in names if n != "INBOX")


def gen_huge(args, pools, user, n, folders, stats, flags=True):
    """n small text messages (about 0.5-3 KB) spread over folders by share, each
    folder's INTERNALDATEs rising through its years: the scale case. One Random
    and slices of the text pool keep it at tens of microseconds a message."""
    maildir = os.path.join(args.dir, "mail", user, "Maildir")
    if os.path.exists(maildir):
        if not args.force:
            sys.exit(f"{maildir} exists; use --force (or dovecot.sh reset) to regenerate")
        subprocess.run(["rm", "-rf", os.path.join(args.dir, "mail", user)], check=True)
    make_folders(maildir, [f[0] for f in folders])
    total_share = sum(f[1] for f in folders)
    counts = [n * f[1] // total_share for f in folders]
    counts[0] += n - sum(counts)
    r = random.Random(f"{args.seed}-{user}-huge")
    total, per, i = 0, {}, 0
    for (name, _, years), k in zip(folders, counts):
        d = folder_dir(maildir, name)
        a = int(dt.datetime(years[0], 1, 1, tzinfo=dt.timezone.utc).timestamp())
        step = max((int(dt.datetime(years[1] + 1, 1, 1, tzinfo=dt.timezone.utc).timestamp()) - a) // max(k, 1), 1)
        for j in range(k):
            ts = a + j * step + r.randrange(step)
            frm = '"Alice Example" <alice@example.com>' if name == "Sent" else \
                f"Sender {i % 997} <sender{i % 997}@{DOMAINS[i % len(DOMAINS)]}>"
            head = (f"From: {frm}\nTo: {user}@example.com\nSubject: {SUBJ[i % len(SUBJ)].format(n=i)}\n"
                    f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(ts))}\n"
                    f"Message-ID: <{i:08d}.huge@example.org>\n")
            if name == "Lists":
                head += "List-Id: <dev.lists.example.org>\nPrecedence: list\n"
            head += "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            data = head.encode() + pools.slice(pools.text, r, r.randint(200, 2700))
            fl = ""
            if flags:
                x = r.random()
                fl = ("S" if x < 0.8 or name == "Sent" else "") + ("F" if x < 0.05 else "") + \
                    ("R" if 0.7 < x < 0.85 else "")
                fl = "".join(sorted(fl))
            total += write_msg(d, "cur", ts, i, data, fl)
            i += 1
        per[name] = k
    stats[user] = dict(messages=n, bytes=total, folders=per)


def chown_tree(path, owner="mail"):
    subprocess.run(["chown", "-R", f"{owner}:{owner}", path], check=True)


def doveadm(args, *a, capture=False):
    conf = os.path.join(args.dir, "dovecot.conf")
    cmd = ["doveadm", "-c", conf] + list(a)
    if capture:
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    subprocess.run(cmd, check=True)


def server_counts(args, user):
    out = doveadm(args, "-f", "tab", "mailbox", "status", "-u", user, "messages vsize", "*", capture=True)
    lines = out.strip().splitlines()
    hdr = lines[0].split("\t")
    im, iv = hdr.index("messages"), hdr.index("vsize")
    rows = [l.split("\t") for l in lines[1:]]
    return sum(int(x[im]) for x in rows), sum(int(x[iv]) for x in rows), len(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=os.environ.get("BENCH_DOVECOT_DIR", "/tmp/mailkeep-bench/dovecot"),
                    help="dovecot.sh instance dir (mail lives in DIR/mail/USER/Maildir)")
    ap.add_argument("--profile", choices=sorted(PROFILES), help="corpus size preset")
    ap.add_argument("--messages", type=int, help="override: messages for the IMAP user")
    ap.add_argument("--big", type=int, help="override: number of 10-25 MB messages")
    ap.add_argument("--pop3-messages", type=int, help="override: messages for the POP3 user")
    ap.add_argument("--user", default="alice", help="IMAP (multi-folder) user")
    ap.add_argument("--pop3-user", default="bob", help="POP3 (INBOX only) user; '' to skip")
    ap.add_argument("--seed", default="42")
    ap.add_argument("--force", action="store_true", help="replace existing mail of these users")
    ap.add_argument("--add", type=int, metavar="N",
                    help="deliver N new messages (70%% INBOX, 20%% Sent, 10%% Archive/2024) to --user, and N to --pop3-user")
    ap.add_argument("--count", action="store_true", help="print server-side counts and exit")
    ap.add_argument("--no-index", action="store_true", help="skip doveadm force-resync/status")
    ap.add_argument("--flat", metavar="USER:N",
                    help="only write N small messages into the INBOX of USER (the memory case) and exit")
    args = ap.parse_args()

    users = [u for u in (args.user, args.pop3_user) if u]
    if args.count:
        for u in users:
            m, v, f = server_counts(args, u)
            print(f"{u}\tmessages={m}\tvsize={v}\tfolders={f}")
        return

    t0 = time.time()
    if args.flat:
        user, n = args.flat.split(":")
        stats = {}
        gen_flat(args, user, int(n), stats)
        chown_tree(os.path.join(args.dir, "mail", user))
        if not args.no_index:
            m, _, _ = server_counts(args, user)
            if m != int(n):
                sys.exit(f"server sees {m} messages for {user}, generated {n}")
        print(json.dumps(dict(stats, seconds=round(time.time() - t0, 1))))
        return
    pools = Pools(args.seed)
    if args.add:
        state_p = os.path.join(args.dir, "gencorpus-state.json")
        state = json.load(open(state_p)) if os.path.exists(state_p) else {}
        for u in users:
            maildir = os.path.join(args.dir, "mail", u, "Maildir")
            k = state.get(f"add-{u}", 0)
            base_ts = int(dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()) + k * 60
            for j in range(args.add):
                idx = 10_000_000 + k + j
                r = random.Random(f"{args.seed}-{u}-add-{idx}")
                if u == args.pop3_user:
                    folder = "INBOX"
                else:
                    folder = r.choices(["INBOX", "Sent", "Archive/2024"], [70, 20, 10])[0]
                    if not os.path.isdir(folder_dir(maildir, folder)):
                        folder = "Archive"  # the huge profile has no Archive/2024
                ts = base_ts + j * 60
                data = make_message(pools, r, idx, dt.datetime.fromtimestamp(ts, dt.timezone.utc), folder, attach=False)
                d = folder_dir(maildir, folder)
                ensure_maildir(d)
                write_msg(d, "new", ts, idx, data, "")
            state[f"add-{u}"] = k + args.add
            chown_tree(maildir)
            if not args.no_index:
                server_counts(args, u)  # lets dovecot pick the deliveries up, like an LDA would
        json.dump(state, open(state_p, "w"))
        print(f"added {args.add} to {users} in {time.time() - t0:.1f}s")
        return

    if not args.profile and args.messages is None:
        ap.error("--profile or --messages required")
    prof = dict(PROFILES[args.profile or "small"])
    if args.messages is not None:
        prof["messages"] = args.messages
    if args.big is not None:
        prof["big"] = args.big
    if args.pop3_messages is not None:
        prof["pop3_messages"] = args.pop3_messages
    stats = {}
    if args.profile == "huge":
        if args.messages is not None and args.pop3_messages is None:
            prof["pop3_messages"] = args.messages // 10
        gen_huge(args, pools, args.user, prof["messages"], HUGE_FOLDERS, stats)
        if args.pop3_user:
            gen_huge(args, pools, args.pop3_user, prof["pop3_messages"], [("INBOX", 1, (2023, 2024))],
                     stats, flags=False)
    else:
        gen_user(args, pools, args.user, prof["messages"], prof["big"], FOLDERS, stats)
        if args.pop3_user:
            gen_user(args, pools, args.pop3_user, prof["pop3_messages"], prof["pop3_big"],
                     [("INBOX", 1, (2023, 2024))], stats)
    t1 = time.time()
    for u in users:
        chown_tree(os.path.join(args.dir, "mail", u))
    state_p = os.path.join(args.dir, "gencorpus-state.json")
    if os.path.exists(state_p):
        os.unlink(state_p)
    if not args.no_index:
        for u in users:
            doveadm(args, "force-resync", "-u", u, "*")
            m, v, f = server_counts(args, u)
            stats[u]["server_messages"], stats[u]["server_vsize"], stats[u]["server_folders"] = m, v, f
            if m != stats[u]["messages"]:
                sys.exit(f"server sees {m} messages for {u}, generated {stats[u]['messages']}")
    stats["profile"] = args.profile
    stats["seed"] = args.seed
    stats["gen_seconds"] = round(t1 - t0, 1)
    stats["index_seconds"] = round(time.time() - t1, 1)
    with open(os.path.join(args.dir, "corpus.json"), "w") as fh:
        json.dump(stats, fh, indent=1, ensure_ascii=False)
    print(json.dumps(stats, ensure_ascii=False))


if __name__ == "__main__":
    main()
