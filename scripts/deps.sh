#!/bin/sh
# deps.sh: install the Debian packages that building, testing, benchmarking
# and the demo need. A no-op (and silent) when every package is present, so
# make can call it whenever a pkg-config check fails.
#
#   scripts/deps.sh           install what is missing (apt-get update once)
#   scripts/deps.sh --check   exit 1 and list what is missing, install nothing
set -eu

# The system user `umbra run` (as root) runs the shadow as, made first
# (scripts/shadow-user.sh: silent when it exists; --check only reports).
"$(dirname "$0")/shadow-user.sh" "$@"

# Build: compiler, pkg-config and every linked library (DESIGN.md).
BUILD="build-essential pkg-config clang libclang-rt-14-dev
libevent-dev libfyaml-dev libssl-dev libpcre2-dev libsqlite3-dev libpcap-dev
libcurl4-openssl-dev libjansson-dev libgsl-dev zlib1g-dev libzstd-dev
libseccomp-dev"
# Run: `umbra run` builds an isolated shadow's network namespace, veth
# pair and filter rules with these (shadow.isolate_network); util-linux
# gives the tests setpriv (a root without capabilities).
RUN="iproute2 nftables util-linux"
# Tests: Criterion, real peers and tools the end-to-end tests start;
# stress-ng loads the machine for `make check-loaded`; libfaketime steps
# the daemon's wall clock (tests/e2e/test_loop.py).
TEST="libcriterion-dev python3 curl sqlite3 procps tcpdump
prometheus prometheus-alertmanager stress-ng libfaketime"
# Benchmarks: the anchors of ../shared/bench (nginx with its mirror module,
# HAProxy) and the load generator.
BENCH="nginx-light haproxy wrk"

# check WHAT PACKAGES...: appends those of PACKAGES not installed to
# $missing and says, per group, what is missing and what for.
missing=""
report=""
check() {
	what=$1
	shift
	m=""
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		case "$st" in
		*"install ok installed"*) ;;
		*) m="$m $p" ;;
		esac
	done
	[ -z "$m" ] && return 0
	missing="$missing$m"
	report="$report  for $what:$m
"
}
# shellcheck disable=SC2086
check "the build" $BUILD
# shellcheck disable=SC2086
check "umbra run (namespaces, filters)" $RUN
# shellcheck disable=SC2086
check "the tests" $TEST
# shellcheck disable=SC2086
check "the benchmarks" $BENCH
[ -z "$missing" ] && exit 0

if [ "${1:-}" = "--check" ]; then
	printf 'deps.sh: missing Debian packages:\n%s' "$report" >&2
	exit 1
fi

printf 'deps.sh: installing Debian packages:\n%s' "$report" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "deps.sh: not root and no sudo; install as root:$missing" >&2
		exit 1
	}
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian may start nginx, HAProxy, Prometheus and Alertmanager as system
# services on install where an init system runs. They are left as the
# package left them: the tests and benchmarks start their own instances
# on free loopback ports and never touch system services.
exit 0
