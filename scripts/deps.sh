#!/bin/sh
# Installs the Debian packages siogate builds and tests with, when missing.
# Idempotent and silent when everything is present.
set -e
PKGS="build-essential pkg-config clang libclang-rt-14-dev
libfcgi-dev libwebsockets-dev libuv1-dev libsqlite3-dev libcunit1-dev libjansson-dev
sqlite3 curl python3 groff-base man-db lighttpd libssl-dev nginx-light apache2 chromium
php-cli php-sqlite3"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Web servers are started by the tests on their own ports: keep the
# packages' system services from starting on port 80 during the install.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null
	$SUDO chmod 755 $policy
fi
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
[ -z "$policy" ] || $SUDO rm -f "$policy"
