#!/usr/bin/env bash
# Installs the servers the tests start: Dovecot with apt-get install,
# Cyrus IMAP and Courier IMAP unpacked from their Debian packages into
# directories of their own (Debian's packages conflict with dovecot-imapd:
# "Conflicts: imap-server", so apt-get cannot put them beside it), and the
# S3 server versitygw, built once with go install.
#
#   scripts/test-servers.sh            # safe to run again; installing takes root
#
# Where they go (the tests look in the same places):
#   MAILKEEP_CYRUS_ROOT   (/opt/mailkeep-test/cyrus)
#   MAILKEEP_COURIER_ROOT (/opt/mailkeep-test/courier)
#   MAILKEEP_VERSITYGW    (/opt/mailkeep-test/bin/versitygw)
#
# A root that holds a complete unpacking of the same package versions is left
# alone. Any failure ends the script with a non-zero status.
set -euo pipefail

CYRUS_ROOT=${MAILKEEP_CYRUS_ROOT:-/opt/mailkeep-test/cyrus}
COURIER_ROOT=${MAILKEEP_COURIER_ROOT:-/opt/mailkeep-test/courier}
VERSITYGW=${MAILKEEP_VERSITYGW:-/opt/mailkeep-test/bin/versitygw}
VERSITYGW_VERSION=v1.8.0

CYRUS_PKGS=(cyrus-imapd cyrus-common cyrus-clients sasl2-bin libical3 libpcre3 libxapian30)
COURIER_PKGS=(courier-imap courier-base courier-authlib courier-authdaemon courier-authlib-userdb
  libcourier-unicode4 libgamin0 gamin libltdl7 libpcre3)

# Binaries whose shared libraries must all resolve, relative to each root.
CYRUS_BINS=(usr/lib/cyrus/bin/master usr/lib/cyrus/bin/imapd usr/lib/cyrus/bin/ctl_cyrusdb usr/sbin/saslpasswd2)
COURIER_BINS=(usr/sbin/couriertcpd usr/bin/imapd usr/lib/courier/courier/imaplogin
  usr/lib/courier/courier-authlib/authdaemond usr/lib/courier/courier-authlib/makedatprog
  usr/bin/maildirmake.courier usr/libexec/gam_server)

say() { echo "test-servers: $*" >&2; }
die() { say "$*"; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "$* takes root: run this script as root"; }
export DEBIAN_FRONTEND=noninteractive

updated=
apt_update() {
  [ -n "$updated" ] && return 0
  need_root "apt-get update"
  apt-get update -qq
  updated=1
}

# install_dovecot: the reference server, installed the ordinary way.
install_dovecot() {
  if command -v dovecot >/dev/null 2>&1 && [ -x /usr/lib/dovecot/imap ] && [ -x /usr/lib/dovecot/pop3 ]; then
    return 0
  fi
  need_root "installing dovecot-imapd and dovecot-pop3d"
  apt_update
  apt-get install -y -qq dovecot-imapd dovecot-pop3d >/dev/null
}

# versions prints "package=version" of the candidates, one per line, sorted;
# it fails when a package has no candidate.
versions() {
  local out
  out=$(apt-cache policy "$@" 2>/dev/null |
    awk '/^[^ ]/ {p = $1; sub(/:$/, "", p)} /Candidate:/ && $2 != "(none)" {print p "=" $2}' | sort)
  [ "$(echo "$out" | grep -c .)" = "$#" ] || return 1
  echo "$out"
}

# Libraries the packages depend on that the tests' programs do not load:
# ClamAV (cyr_virusscan) and Zephyr (notifyd) are large and unused here.
UNUSED_LIBS=" libclamav12 libzephyr4 "

# library_deps prints the shared-library packages the given packages depend
# on that are neither among them, nor unused, nor installed. Libraries
# conflict with nothing, so they are installed the ordinary way.
library_deps() {
  apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances --no-pre-depends "$@" |
    awk '$1 == "Depends:" && $2 ~ /^lib/ {print $2}' | sort -u |
    while read -r dep; do
      case " $* $UNUSED_LIBS " in *" $dep "*) continue ;; esac
      dpkg-query -W -f='${Status}\n' "$dep" 2>/dev/null | grep -q '^install ok installed' || echo "$dep"
    done
}

# unpack ROOT BINS... -- PKGS...: downloads the packages and extracts them
# into ROOT, unless ROOT/.packages already lists the same versions.
unpack() {
  local root=$1; shift
  local bins=() pkgs=()
  while [ "$1" != -- ]; do bins+=("$1"); shift; done
  shift
  pkgs=("$@")
  local want
  if ! want=$(versions "${pkgs[@]}"); then
    apt_update
    want=$(versions "${pkgs[@]}") || die "no candidate for one of: ${pkgs[*]}"
  fi
  if [ -f "$root/.packages" ] && [ "$(cat "$root/.packages")" = "$want" ] && check_libs "$root" "${bins[@]}"; then
    say "$root: up to date"
    return 0
  fi
  local deps
  deps=$(library_deps "${pkgs[@]}")
  if [ -n "$deps" ]; then
    need_root "installing $deps"
    apt_update
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $deps >/dev/null
  fi
  local tmp
  tmp="$WORK/$(basename "$root")"
  # apt's sandbox user must be able to write the download directory.
  mkdir -m 0777 "$tmp"
  # shellcheck disable=SC2046
  (cd "$tmp" && apt-get download -qq $(echo "$want" | tr '\n' ' ')) ||
    { apt_update; (cd "$tmp" && apt-get download -qq $(echo "$want" | tr '\n' ' ')); } ||
    die "apt-get download failed for: ${pkgs[*]}"
  rm -rf "$root.new"
  mkdir -p "$root.new"
  local deb
  for deb in "$tmp"/*.deb; do
    dpkg-deb -x "$deb" "$root.new"
  done
  # Merged /usr, as Debian 12 has it: the few files packages still put in
  # /lib join /usr/lib, so that one library directory serves.
  if [ -d "$root.new/lib" ]; then
    cp -a "$root.new/lib/." "$root.new/usr/lib/"
    rm -rf "$root.new/lib"
  fi
  echo "$want" >"$root.new/.packages"
  check_libs "$root.new" "${bins[@]}" || die "$root: shared libraries missing (see above)"
  rm -rf "$root"
  mv "$root.new" "$root"
  say "$root: unpacked $(echo "$want" | tr '\n' ' ')"
}

# check_libs ROOT BINS...: every binary exists and ldd finds all its
# libraries, looking in ROOT's library directories first.
check_libs() {
  local root=$1; shift
  local arch lib
  arch=$(uname -m)-linux-gnu
  lib="$root/usr/lib/$arch:$root/usr/lib:$root/usr/lib/courier-authlib"
  local bin ok=0
  for bin in "$@"; do
    if [ ! -x "$root/$bin" ]; then
      say "$root/$bin: missing"
      ok=1
      continue
    fi
    if LD_LIBRARY_PATH=$lib ldd "$root/$bin" | grep 'not found' >&2; then
      say "$root/$bin: libraries not found"
      ok=1
    fi
  done
  return $ok
}

# install_versitygw: the S3 server of the replicate tests, built from its Go
# module (one binary; about a minute to build); kept while it is the same
# version.
install_versitygw() {
  if [ -x "$VERSITYGW" ] && go version -m "$VERSITYGW" 2>/dev/null |
    grep -q "mod[[:space:]]*github.com/versity/versitygw[[:space:]]*$VERSITYGW_VERSION"; then
    return 0
  fi
  command -v go >/dev/null 2>&1 || die "go is needed to build versitygw"
  mkdir -p "$(dirname "$VERSITYGW")"
  local bin
  bin=$(mktemp -d)
  GOBIN=$bin go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" ||
    die "go install versitygw@$VERSITYGW_VERSION failed"
  mv "$bin/versitygw" "$VERSITYGW"
  rmdir "$bin"
}

WORK=$(mktemp -d)
chmod 0755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
install_dovecot
unpack "$CYRUS_ROOT" "${CYRUS_BINS[@]}" -- "${CYRUS_PKGS[@]}"
unpack "$COURIER_ROOT" "${COURIER_BINS[@]}" -- "${COURIER_PKGS[@]}"
install_versitygw
# Courier's namespace mounts its overlays with mount(8); its makeuserdb is Perl.
for tool in mount perl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (Debian: mount, perl-base)"
done
dovecot --version | sed 's/^/dovecot /'
echo "cyrus $(grep '^cyrus-imapd=' "$CYRUS_ROOT/.packages" | cut -d= -f2) in $CYRUS_ROOT"
echo "courier $(grep '^courier-imap=' "$COURIER_ROOT/.packages" | cut -d= -f2) in $COURIER_ROOT"
echo "versitygw $VERSITYGW_VERSION in $VERSITYGW"
