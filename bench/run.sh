#!/usr/bin/env bash
# mailkeep's benchmark: mailkeep and its peers (mbsync, mpop, offlineimap, a
# raw lower-bound client) on one local Dovecot with a seeded corpus, several
# runs each, interleaved; then mailkeep's peak memory on a 100,000-message
# folder and on a 25 MB message. Prints a markdown report. See bench/README.md.
#
#   bench/run.sh                        # everything, small profile (~10 min on 2 cores)
#   RUNS=3 PEERS="raw-imap mbsync mailkeep" SCENARIOS="full noop" MEMORY=0 bench/run.sh
#   PROFILE=huge bench/run.sh           # opt-in scale case: 1,000,000 messages, see README
#   PROFILE=huge HUGE_MESSAGES=100000 bench/run.sh   # the same, scaled down
#
# Runs as root (Dovecot drops privileges itself). Knobs, all optional:
#   PROFILE (small) tiny | small | medium | huge    BENCH_ROOT (/tmp/mailkeep-bench)
#   huge only: HUGE_MESSAGES (1000000: alice; bob gets a tenth), FULL_RUNS (1: counted
#     rounds of full, verify and dryrun, no warm-up), CONTENT_CHECK (full: the scenarios
#     checked byte for byte, the others by count), PROBE (0); its defaults differ:
#     PEERS (mailkeep raw-imap mailkeep-verify mailkeep-dryrun mailkeep-dryrun-self),
#     SCENARIOS (full noop add100 verify dryrun), RUNS (3), TIMEOUT (7200), MEMORY=0, SEARCH=0
#   RUNS (5) WARMUP (1) SLOW_RUNS (3: offlineimap) ADD_N (100) TIMEOUT (900 s per run)
#   PEERS, SCENARIOS (full noop add100 restore export serve): see bench.py --help
#   MAILKEEP (bin/mailkeep, built if missing)   MEMORY (1) MEMORY_MESSAGES (100000)
#   SEARCH (1: mailkeep find beside notmuch search, see search.py) SEARCH_RUNS (10)
#   SEARCH_REUSE (unset: 1 keeps search.py's archive and notmuch database of a run before)
#   IMAP_PORT/POP3_PORT (11143/11110, or free ones when taken)
#   INSTALL (1: apt-get install what is missing)  REGEN (0: 1 regenerates the corpus)
#   KEEP_SERVER (0: 1 leaves Dovecot running for profiling, see README)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PROFILE=${PROFILE:-small}
BENCH_ROOT=${BENCH_ROOT:-/tmp/mailkeep-bench}
B=$BENCH_ROOT/$PROFILE
GENARGS=""
if [ "$PROFILE" = huge ]; then
  # the scale case (issue 20): one corpus directory per size, the account-wide
  # scenarios once, every message compared after the full backup only
  HUGE_MESSAGES=${HUGE_MESSAGES:-1000000}
  B=$BENCH_ROOT/huge-$HUGE_MESSAGES
  GENARGS="--messages $HUGE_MESSAGES"
  PEERS=${PEERS-mailkeep raw-imap mailkeep-verify mailkeep-dryrun mailkeep-dryrun-self}
  SCENARIOS=${SCENARIOS-full noop add100 verify dryrun}
  RUNS=${RUNS:-3} FULL_RUNS=${FULL_RUNS:-1} CONTENT_CHECK=${CONTENT_CHECK-full} PROBE=${PROBE:-0}
  TIMEOUT=${TIMEOUT:-7200} MEMORY=${MEMORY:-0} SEARCH=${SEARCH:-0}
fi
DV=$B/dovecot
W=$B/work
RES=$B/results
TOOLS=$BENCH_ROOT/bin
MAILKEEP=${MAILKEEP:-$ROOT/bin/mailkeep}
MEMORY=${MEMORY:-1}
MEMORY_MESSAGES=${MEMORY_MESSAGES:-100000}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)

say() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
die() { echo "bench/run.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root: Dovecot switches to the mail user itself"

# ---------------------------------------------------------------- what the benchmark needs
install_missing() {
  local pkgs=() cmd pkg
  for pair in dovecot:dovecot-imapd /usr/lib/dovecot/pop3:dovecot-pop3d mbsync:isync mpop:mpop \
              offlineimap:offlineimap zstd:zstd /usr/bin/time:time python3:python3 go:golang-go notmuch:notmuch; do
    cmd=${pair%%:*} pkg=${pair#*:}
    if [ "${cmd#/}" != "$cmd" ]; then [ -x "$cmd" ] && continue; else command -v "$cmd" >/dev/null && continue; fi
    pkgs+=("$pkg")
  done
  [ ${#pkgs[@]} = 0 ] && return
  if [ "${INSTALL:-1}" = 1 ] && command -v apt-get >/dev/null; then
    say "installing ${pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null ||
      { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null; }
  else
    say "missing (peers that need them are skipped): ${pkgs[*]}"
  fi
}
install_missing
for need in dovecot doveadm python3 go /usr/bin/time; do
  command -v "$need" >/dev/null || [ -x "$need" ] || die "$need is required"
done

mkdir -p "$B" "$W" "$RES" "$TOOLS"
(cd "$ROOT" && go build -o "$TOOLS/rawimap" ./bench/rawimap && go build -o "$TOOLS/mkcheck" ./bench/mkcheck &&
  go build -o "$TOOLS/findtime" ./bench/findtime)
[ -x "$MAILKEEP" ] || (cd "$ROOT" && make build)

# ---------------------------------------------------------------- server and corpus
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
if "$HERE/dovecot.sh" status "$DV" >/dev/null 2>&1 && [ -s "$B/ports" ]; then
  read -r IMAP_PORT POP3_PORT < "$B/ports"          # our instance is running: keep its ports
else
  IMAP_PORT=${IMAP_PORT:-11143} POP3_PORT=${POP3_PORT:-11110}
  port_free "$IMAP_PORT" || IMAP_PORT=$(free_port)
  port_free "$POP3_PORT" || POP3_PORT=$(free_port)
fi
export IMAP_PORT POP3_PORT
echo "$IMAP_PORT $POP3_PORT" > "$B/ports"

if [ "${REGEN:-0}" = 1 ] || [ ! -s "$DV/corpus.json" ] || \
   ! python3 -c "import json,sys; c=json.load(open('$DV/corpus.json'))
sys.exit(c.get('profile') != '$PROFILE' or c['alice']['messages'] != int('${HUGE_MESSAGES:-}' or c['alice']['messages']))" 2>/dev/null; then
  say "generating the $PROFILE corpus"
  "$HERE/dovecot.sh" reset "$DV" >/dev/null
  python3 "$HERE/gencorpus.py" --dir "$DV" --profile "$PROFILE" $GENARGS --force >/dev/null
fi
DPID=$("$HERE/dovecot.sh" restart "$DV")
say "dovecot pid $DPID on 127.0.0.1:$IMAP_PORT (IMAP), :$POP3_PORT (POP3), in $DV"

cleanup() {
  [ -z "${SAMPLER:-}" ] || kill "$SAMPLER" 2>/dev/null || true
  if [ "${KEEP_SERVER:-0}" != 1 ]; then "$HERE/dovecot.sh" stop "$DV" >/dev/null || true; fi
  rm -rf "$W/trash" "$DV/trash"
}
trap cleanup EXIT

# what else the machine is doing: every 10 s, the load and the processes using >= 20% of a core
LOAD=$RES/load-$STAMP.txt
( while :; do
    l=$(cut -d' ' -f1 /proc/loadavg)
    top -b -n 2 -d 1 -w 256 | awk -v l="$l" '/^top -/ {n++} n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 20 {p = p " " $12 ":" $9}
                                               END {print l p}'
    sleep 9
  done ) > "$LOAD" 2>/dev/null &
SAMPLER=$!

# ---------------------------------------------------------------- the runs
RESULTS=$RES/results-$STAMP.jsonl
say "results: $RESULTS"
python3 "$HERE/bench.py" --dovecot "$DV" --work "$W" --results "$RESULTS" --tools "$TOOLS" \
  --mailkeep "$MAILKEEP" --imap-port "$IMAP_PORT" --pop3-port "$POP3_PORT" \
  --runs "${RUNS:-5}" --warmup "${WARMUP:-1}" --slow-runs "${SLOW_RUNS:-3}" --add "${ADD_N:-100}" \
  --timeout "${TIMEOUT:-900}" ${PEERS:+--peers "$PEERS"} ${SCENARIOS:+--scenarios "$SCENARIOS"} \
  ${FULL_RUNS:+--full-runs "$FULL_RUNS"} ${CONTENT_CHECK+--content-check "$CONTENT_CHECK"} \
  $([ "${PROBE:-1}" = 1 ] || echo --no-probe)

SRCH=""
if [ "${SEARCH:-1}" = 1 ]; then
  SRCH=$RES/search-$STAMP.jsonl
  say "search: mailkeep find beside notmuch search on alice's mail"
  python3 "$HERE/search.py" --dovecot "$DV" --work "$W" --results "$SRCH" --mailkeep "$MAILKEEP" \
    --imap-port "$IMAP_PORT" --runs "${SEARCH_RUNS:-10}" --findtime "$TOOLS/findtime" \
    ${SEARCH_REUSE:+--reuse} || say "search benchmark failed"
fi

kill "$SAMPLER" 2>/dev/null || true
SAMPLER=""
MEM=""
if [ "$MEMORY" = 1 ]; then
  MEM=$RES/memory-$STAMP.txt
  say "memory: peak RSS of mailkeep backing up a $MEMORY_MESSAGES-message folder and a 25 MB message"
  (cd "$ROOT" && MAILKEEP_MEMORY_MESSAGES=$MEMORY_MESSAGES go test -count=1 -timeout 30m \
     -run '^TestPeakRSS$' -v ./cmd/mailkeep) > "$MEM" 2>&1 || say "memory test failed: see $MEM"
  grep -E 'memory:|FAIL|peak RSS' "$MEM" >&2 || true
fi

# ---------------------------------------------------------------- the report
META=$RES/meta-$STAMP.json
python3 - "$DV" "$PROFILE" "$LOAD" "$MAILKEEP" > "$META" <<'EOF'
import collections, json, os, platform, subprocess, sys
dv, profile, load, mk = sys.argv[1:5]
corpus = json.load(open(os.path.join(dv, "corpus.json")))
du = lambda u: int(subprocess.run(["du", "-sb", f"{dv}/mail/{u}/Maildir"], capture_output=True, text=True).stdout.split()[0])
samples = [l.split() for l in open(load) if l.strip()]
loads = [float(s[0]) for s in samples] or [0.0]
ours = {"mailkeep", "mbsync", "mpop", "offlineimap", "rawimap", "mkcheck", "python3", "tar", "zstd",
        "time", "doveadm", "dovecot", "imap", "pop3", "imap-login", "pop3-login", "auth", "top", "bash",
        os.path.basename(mk)[:15]}
busy = collections.Counter()
for s in samples:
    for p in s[1:]:
        name = p.rpartition(":")[0]
        if name not in ours:
            busy[name] += 1
version = subprocess.run([mk, "--version"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
m = dict(alice_maildir_bytes=du("alice"), bob_maildir_bytes=du("bob"), profile=profile,
         alice_messages=corpus["alice"]["messages"])
where = ("in " + ", ".join(f"{f} {n:,}" for f, n in corpus["alice"]["folders"].items()) if profile == "huge"
         else "in 16 folders")
m["describe"] = [
    f"Profile {profile}: alice {corpus['alice']['messages']:,} messages {where}, "
    f"{corpus['alice']['bytes']:,} bytes as stored (LF), Maildir {m['alice_maildir_bytes']:,} bytes (du -sb); "
    f"bob (POP3) {corpus['bob']['messages']:,} messages, Maildir {m['bob_maildir_bytes']:,} bytes.",
    f"Machine: {os.cpu_count()} cores ({cpu}), Linux {platform.release()}; {version}.",
    f"Load average during the run: median {sorted(loads)[len(loads) // 2]:.1f}, max {max(loads):.1f} "
    f"({len(samples)} samples, every 10 s). Other processes seen using ≥ 20% of a core (samples): "
    + (", ".join(f"{n} ×{c}" for n, c in busy.most_common(6)) or "none") + ".",
]
json.dump(m, sys.stdout)
EOF
REPORT=$RES/report-$STAMP.md
python3 "$HERE/report.py" "$RESULTS" --meta "$META" ${MEM:+--memory "$MEM"} ${SRCH:+--search "$SRCH"} | tee "$REPORT"
say "report: $REPORT"
