#!/usr/bin/env python3
"""Read an export back with Python's mailbox module, independently of mailkeep.

    readback.py mbox FILE...      one mboxrd file per argument
    readback.py maildir DIR...    one Maildir (the directory holding cur/new/tmp) per argument

Prints one JSON object: path -> list of messages in file order. For an mbox, each
message is un-quoted (mboxrd: one '>' removed from lines that begin with '>'s and
"From ") and given with its From line; for a Maildir, with its key, subdirectory,
flags (the letters after ":2,") and date (the file's mtime).
"""
import hashlib
import json
import mailbox
import re
import sys

QUOTED = re.compile(rb"^>(>*From )", re.M)


def digest(raw):
    return {"sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw)}


def read_mbox(path):
    box = mailbox.mbox(path, create=False)
    out = []
    for key in box.iterkeys():
        raw = QUOTED.sub(rb"\1", box.get_bytes(key))
        out.append(dict(digest(raw), sender_date=box.get_message(key).get_from()))
    box.close()
    return out


def read_maildir(path):
    box = mailbox.Maildir(path, factory=None, create=False)
    out = []
    for key in box.iterkeys():
        msg = box.get_message(key)
        out.append(dict(digest(box.get_bytes(key)), key=key, subdir=msg.get_subdir(),
                        flags=msg.get_flags(), mtime=msg.get_date()))
    return out


def main():
    kind, paths = sys.argv[1], sys.argv[2:]
    read = {"mbox": read_mbox, "maildir": read_maildir}[kind]
    json.dump({p: read(p) for p in paths}, sys.stdout)


if __name__ == "__main__":
    main()
