#!/bin/sh
# shadow-reach.sh DIR: let the shadow's user reach DIR.
#
# Started as root, `umbra run` runs the shadow as umbra-shadow
# (docs/security.md), and the tests and the demo run programs of the
# build tree (testsvc, demosvc) as the shadow. The user can exec them only
# when every directory above them lets others search it (the x bit). A
# checkout under a 0700 directory (a home directory, mktemp -d) does not:
# every shadow would fail to start. This gives o+x, and only that (search,
# not listing), to each such directory above DIR and prints each one it
# changed. A no-op when not root, when the user does not exist, or when
# DIR is reachable already. make runs it before the tests and the demo.
set -eu
USER_NAME=umbra-shadow # PROV_SHADOW_USER in src/provision/provision.h
dir=$(cd "${1:?usage: shadow-reach.sh DIR}" && pwd -P)
[ "$(id -u)" = 0 ] || exit 0
getent passwd "$USER_NAME" >/dev/null 2>&1 || exit 0
reach() {
	setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --clear-groups \
		test -x "$dir" 2>/dev/null
}
reach && exit 0
d=$dir
while :; do
	case $(stat -c %A "$d") in
	*x | *t) ;;
	*)
		chmod o+x "$d"
		echo "shadow-reach.sh: $d: o+x, so that $USER_NAME (the" \
		     "shadow's user) can reach $dir" >&2
		;;
	esac
	[ "$d" = / ] && break
	d=$(dirname "$d")
done
reach || {
	echo "shadow-reach.sh: $USER_NAME still cannot reach $dir" \
	     "(an ACL or a mount option?); the tests that start a shadow" \
	     "as that user will fail" >&2
	exit 1
}
