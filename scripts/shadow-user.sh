#!/bin/sh
# shadow-user.sh: make the system user that `umbra run`, started as root,
# runs the shadow (and the baseline) as when shadow.user is not set
# (docs/security.md): a user of its own, not nobody, which other daemons
# share. A no-op (and silent) when the user exists. deps.sh runs it.
#
#   scripts/shadow-user.sh           make it if missing (root or sudo)
#   scripts/shadow-user.sh --check   exit 1 and say so when missing
set -eu
USER_NAME=umbra-shadow # PROV_SHADOW_USER in src/provision/provision.h

getent passwd "$USER_NAME" >/dev/null 2>&1 && exit 0
if [ "${1:-}" = "--check" ]; then
	echo "shadow-user.sh: missing system user $USER_NAME" >&2
	exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "shadow-user.sh: not root and no sudo; as root run:" \
		     "useradd --system --user-group --no-create-home" \
		     "--home-dir /nonexistent --shell /usr/sbin/nologin $USER_NAME" >&2
		exit 1
	}
	SUDO=sudo
fi
echo "shadow-user.sh: making the system user $USER_NAME" >&2
$SUDO useradd --system --user-group --no-create-home \
	--home-dir /nonexistent --shell /usr/sbin/nologin "$USER_NAME"
