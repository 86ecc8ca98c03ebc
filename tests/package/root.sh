#!/bin/sh
# A clean Debian 12 root for the package test: debootstrap --variant=minbase
# bookworm from the mirror of this machine's apt sources, with lighttpd and
# curl added (the web server the package's snippet is tested in), kept as a
# tarball so that later runs only unpack it.
#
#   tests/package/root.sh CACHE_DIR ROOT     unpacks a fresh ROOT
#   tests/package/root.sh --clean ROOT       unmounts and removes ROOT
set -eu

umount_all() {
	for m in dev/pts dev proc; do
		if mountpoint -q "$1/$m" 2>/dev/null; then umount -l "$1/$m"; fi
	done
}

if [ "$1" = --clean ]; then
	umount_all "$2"
	rm -rf "$2"
	exit 0
fi
cache=$1 root=$2
tarball=$cache/bookworm-minbase-lighttpd.tar
mkdir -p "$cache"
if [ ! -f "$tarball" ]; then
	build=$cache/build
	umount_all "$build"
	rm -rf "$build"
	mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
	echo "# debootstrap --variant=minbase bookworm from ${mirror:-https://deb.debian.org/debian} (once)"
	debootstrap --variant=minbase bookworm "$build" "${mirror:-https://deb.debian.org/debian}" >"$cache/debootstrap.log" 2>&1
	cp /etc/resolv.conf "$build/etc/resolv.conf"
	printf '#!/bin/sh\nexit 101\n' > "$build/usr/sbin/policy-rc.d"
	chmod 0755 "$build/usr/sbin/policy-rc.d"
	chroot "$build" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lighttpd curl >/dev/null'
	chroot "$build" apt-get clean
	rm -f "$build/usr/sbin/policy-rc.d"
	tar -C "$build" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
	rm -rf "$build"
fi
umount_all "$root"
rm -rf "$root"
mkdir -p "$root"
tar -C "$root" -xf "$tarball"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# No package starts a service here: the test starts them, in its namespace.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
# Extra CA certificates this machine trusts (a proxy in front of the mirror).
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
	mkdir -p "$root/usr/local/share/ca-certificates"
	cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
