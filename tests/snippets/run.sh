#!/usr/bin/env bash
# The snippets of deploy/snippets/ in the stock Debian configuration of each
# web server: the server's /etc tree (as its Debian package installed it) is
# copied into var/snippets/SERVER/etc, the snippet enabled there the Debian
# way, the server started on that copy, sio-gateway --listen and sio-wsd
# started on the snippet's socket paths (@RUN_DIR@ = var/snippets/SERVER/run),
# and the interop suite (tests/interop/testapp.test.mjs, socket.io-client
# 0.9.16) run through it over xhr-polling and websocket; then a hixie-76
# client (the Flash SWF's handshake) on /socket.io/1/flashsocket/ must reach
# sio-wsd's flash listener: routed by its Sec-WebSocket-Key1 header.
#
#   tests/snippets/run.sh [apache2|lighttpd|nginx ...]   (default: all three)
#
# Enabling, with Debian's own tools on the copy:
#   apache2   the snippet to conf-available/siogate.conf; a2enmod with the
#             modules its header names, a2enconf siogate (APACHE_CONFDIR and
#             APACHE_STATE_DIRECTORY point them at the copy)
#   lighttpd  the snippet to conf-available/50-siogate.conf; lighty-enable-mod
#             siogate (the script with its conf dir set to the copy; it
#             follows the snippet's depends line: fastcgi, proxy)
#   nginx     the snippet to snippets/siogate.conf; `include
#             snippets/siogate.conf;` in the default site's server block
# What changes in the copy so that it runs unprivileged-style on a free
# loopback port with its files in var/snippets/SERVER (nothing else):
#   apache2   ports.conf `Listen 80` -> `Listen 127.0.0.1:PORT`, the default
#             site's `<VirtualHost *:80>` -> `*:PORT`; the APACHE_* variables
#             that envvars sets (pid file, run, lock and log dirs) point into
#             var/snippets/apache2; started as apache2ctl does:
#             apache2 -d ETC -f apache2.conf -DFOREGROUND
#   lighttpd  the include of conf-enabled/ names the copy; server.port = PORT,
#             server.bind = 127.0.0.1, no use-ipv6.pl include (it binds
#             [::]:PORT); server.errorlog, server.pid-file, server.upload-dirs
#             into var/snippets/lighttpd; lighttpd -D -f ETC/lighttpd.conf
#   nginx     nginx.conf: the includes name the copy, pid, error_log and
#             access_log into var/snippets/nginx, the temp paths too (the
#             compiled-in ones are under /var/lib/nginx); the default site
#             listens on 127.0.0.1:PORT only (its [::]:80 line removed);
#             nginx -c ETC/nginx.conf -e LOG
# As root the servers' workers run as www-data (the stock User/user/
# server.username lines stay): the sockets are given group www-data, 0660.
#
# Environment: GATEWAY, WSD (default build/sio-gateway, build/sio-wsd),
# NODE, KEEP_VAR=1 (keep var/snippets/SERVER), SIO_CONNECT_TIMEOUT.
# Exit status: 0 when every server passed, 1 on a failure, 2 on a setup error.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
node=${NODE:-node}
cd "$root" || exit 2

servers=()
for a in "$@"; do
	case $a in
	apache2 | lighttpd | nginx) servers+=("$a") ;;
	*) echo "snippets: unknown server '$a' (apache2 lighttpd nginx)" >&2; exit 2 ;;
	esac
done
[ ${#servers[@]} -gt 0 ] || servers=(apache2 lighttpd nginx)

absbin() { # value default
	local b=${1:-$2}
	case $b in /*) ;; *) b=$root/$b ;; esac
	printf '%s\n' "$b"
}
gateway=$(absbin "${GATEWAY:-}" build/sio-gateway)
wsd=$(absbin "${WSD:-}" build/sio-wsd)
for b in "$gateway" "$wsd"; do
	[ -x "$b" ] || { echo "snippets: $b is not built (run make)" >&2; exit 2; }
done
[ -d node_modules/socket.io-client ] || npm ci --no-audit --no-fund || exit 2
for b in /usr/sbin/apache2 /usr/sbin/lighttpd /usr/sbin/nginx; do
	[ -x $b ] || { echo "snippets: $b missing (make deps)" >&2; exit 2; }
done
uid=$(id -u)
[ "$uid" = 0 ] && www="www-data" || www=$(id -un)
[ "$uid" = 0 ] && wwwgroup="www-data" || wwwgroup=$(id -gn)

free_port() {
	"$node" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

vardir=""
cleanup() {
	[ -z "$vardir" ] || scripts/webserver.sh stop "$vardir" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Waits for a condition (a command) while pid lives, at most 30 s.
wait_for() { # pid command...
	local pid=$1 deadline=$((SECONDS + 30))
	shift
	until "$@"; do
		kill -0 "$pid" 2>/dev/null || return 1
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts a program in its own process group, its pid in vardir/NAME.pid
# (the names scripts/webserver.sh stop knows); sets started.
start_bg() { # name log command...
	local name=$1 log=$2
	shift 2
	setsid "$@" </dev/null >>"$log" 2>&1 &
	started=$!
	echo "$started" >"$vardir/$name.pid"
}

# sio-gateway --listen and sio-wsd on the snippets' socket paths.
start_siogate() {
	local s
	start_bg gateway "$vardir/gateway.log" "$gateway" -c "$vardir/siogate.conf" \
		--listen "$rundir/gateway.sock"
	wait_for "$started" test -S "$rundir/gateway.sock" || return 1
	start_bg wsd "$vardir/wsd.log" "$wsd" -c "$vardir/siogate.conf" \
		--listen "$rundir/wsd.sock" --flash-listen "$rundir/wsd-flash.sock"
	for s in wsd wsd-flash; do
		wait_for "$started" test -S "$rundir/$s.sock" || return 1
	done
	for s in gateway wsd wsd-flash; do
		chmod 0660 "$rundir/$s.sock"
		chgrp "$wwwgroup" "$rundir/$s.sock"
	done
}

# /etc/SERVER copied to vardir/etc/SERVER; a symbolic link that names a
# file of /etc/SERVER by its absolute path (Debian's nginx links
# sites-enabled/default so) is made to name the copy's file.
copy_etc() { # server
	local etc=$vardir/etc/$1 l t
	cp -a "/etc/$1" "$etc" || return 1
	while IFS= read -r -d '' l; do
		t=$(readlink "$l")
		case $t in "/etc/$1/"*) ln -sfn "$etc/${t#"/etc/$1/"}" "$l" ;; esac
	done < <(find "$etc" -type l -print0)
}

# The snippet with @RUN_DIR@ filled in, to $2.
snippet() { # server-dir dest
	sed -e "s|@RUN_DIR@|$rundir|g" "deploy/snippets/$1" >"$2"
}

setup_apache2() {
	local etc=$vardir/etc/apache2 mods
	copy_etc apache2 || return 1
	snippet apache2/siogate.conf "$etc/conf-available/siogate.conf"
	mods=$(sed -n 's/^#[[:space:]]*a2enmod \(.*\)$/\1/p' deploy/snippets/apache2/siogate.conf)
	echo "   a2enmod $mods; a2enconf siogate"
	mkdir -p "$vardir/apache-state"
	# shellcheck disable=SC2086 # the module names are words
	APACHE_CONFDIR=$etc APACHE_STATE_DIRECTORY=$vardir/apache-state \
		a2enmod -q $mods >>"$vardir/enable.log" 2>&1 &&
		APACHE_CONFDIR=$etc APACHE_STATE_DIRECTORY=$vardir/apache-state \
			a2enconf -q siogate >>"$vardir/enable.log" 2>&1 || return 1
	sed -i -e "s/^Listen 80\$/Listen 127.0.0.1:$port/" "$etc/ports.conf"
	sed -i -e "s/<VirtualHost \*:80>/<VirtualHost *:$port>/" \
		"$etc/sites-available/000-default.conf"
	mkdir -p "$vardir/apache-run" "$vardir/apache-lock"
	srv_env=(APACHE_RUN_USER="$www" APACHE_RUN_GROUP="$wwwgroup"
		APACHE_PID_FILE="$vardir/apache2.pid" APACHE_RUN_DIR="$vardir/apache-run"
		APACHE_LOCK_DIR="$vardir/apache-lock" APACHE_LOG_DIR="$vardir/log" LANG=C)
	env "${srv_env[@]}" /usr/sbin/apache2 -d "$etc" -f apache2.conf -t \
		>>"$vardir/enable.log" 2>&1 || return 1
	srv_cmd=(env "${srv_env[@]}" /usr/sbin/apache2 -d "$etc" -f apache2.conf -DFOREGROUND)
}

setup_lighttpd() {
	local etc=$vardir/etc/lighttpd
	copy_etc lighttpd || return 1
	snippet lighttpd/50-siogate.conf "$etc/conf-available/50-siogate.conf"
	sed -e "s|^my \$confdir = \"/etc/lighttpd/\";|my \$confdir = \"$etc/\";|" \
		/usr/sbin/lighty-enable-mod >"$vardir/lighty-enable-mod"
	grep -q "confdir = \"$etc/\"" "$vardir/lighty-enable-mod" || return 1
	echo "   lighty-enable-mod siogate"
	perl "$vardir/lighty-enable-mod" siogate >>"$vardir/enable.log" 2>&1 || return 1
	sed -i -e "s|\"/etc/lighttpd/conf-enabled/|\"$etc/conf-enabled/|" \
		-e "s|^server.port .*|server.port = $port\nserver.bind = \"127.0.0.1\"|" \
		-e "/use-ipv6.pl/d" \
		-e "s|^server.errorlog .*|server.errorlog = \"$vardir/log/error.log\"|" \
		-e "s|^server.pid-file .*|server.pid-file = \"$vardir/lighttpd.pid\"|" \
		-e "s|^server.upload-dirs .*|server.upload-dirs = ( \"$vardir/tmp\" )|" \
		"$etc/lighttpd.conf"
	mkdir -p "$vardir/tmp"
	# lighttpd opens its log after dropping to www-data (Debian's
	# /var/log/lighttpd is www-data's too).
	[ "$uid" != 0 ] || chown "$www:$wwwgroup" "$vardir/tmp" "$vardir/log"
	/usr/sbin/lighttpd -tt -f "$etc/lighttpd.conf" >>"$vardir/enable.log" 2>&1 || return 1
	srv_cmd=(/usr/sbin/lighttpd -D -f "$etc/lighttpd.conf")
}

setup_nginx() {
	local etc=$vardir/etc/nginx site
	copy_etc nginx || return 1
	snippet nginx/siogate.conf "$etc/snippets/siogate.conf"
	site=$etc/sites-available/default
	echo "   include snippets/siogate.conf; in the server block of sites-enabled/default"
	# The first server block's server_name line is followed by the include.
	sed -i -e "0,/^\([[:space:]]*\)server_name \(.*\)\$/s||&\n\1include snippets/siogate.conf;|" \
		-e "s/^\([[:space:]]*\)listen 80 default_server;/\1listen 127.0.0.1:$port default_server;/" \
		-e "/listen \[::\]:80 default_server;/d" "$site"
	grep -q "include snippets/siogate.conf;" "$site" || return 1
	sed -i -e "s|/etc/nginx/|$etc/|g" \
		-e "s|^pid .*|pid $vardir/nginx.pid;|" \
		-e "s|^error_log .*|error_log $vardir/log/error.log;|" \
		-e "s|^\([[:space:]]*\)access_log .*|\1access_log $vardir/log/access.log;|" \
		-e "s|^http {|&\n\tclient_body_temp_path $vardir/tmp/body;\n\tproxy_temp_path $vardir/tmp/proxy;\n\tfastcgi_temp_path $vardir/tmp/fastcgi;\n\tuwsgi_temp_path $vardir/tmp/uwsgi;\n\tscgi_temp_path $vardir/tmp/scgi;|" \
		"$etc/nginx.conf"
	mkdir -p "$vardir/tmp"
	[ "$uid" != 0 ] || chown "$www:$wwwgroup" "$vardir/tmp"
	/usr/sbin/nginx -t -c "$etc/nginx.conf" -e "$vardir/log/error.log" \
		>>"$vardir/enable.log" 2>&1 || return 1
	srv_cmd=(/usr/sbin/nginx -g 'daemon off;' -c "$etc/nginx.conf" -e "$vardir/log/error.log")
}

show_logs() {
	local f
	for f in "$vardir"/enable.log "$vardir"/gateway.log "$vardir"/wsd.log \
		"$vardir"/webserver.out "$vardir"/log/*error*.log; do
		[ -s "$f" ] || continue
		echo "-- last lines of ${f#"$root"/}" >&2
		grep -v ': debug: ' "$f" | tail -n 15 >&2
	done
}

status=0
summary=()
for server in "${servers[@]}"; do
	t0=$SECONDS
	vardir=$root/var/snippets/$server
	rundir=$vardir/run
	scripts/webserver.sh stop "$vardir" >/dev/null 2>&1 || true
	rm -rf "$vardir"
	mkdir -p "$rundir" "$vardir/etc" "$vardir/log"
	[ "$uid" != 0 ] || chmod o+rx "$vardir" "$rundir"
	cat >"$vardir/siogate.conf" <<-EOF
		# written by tests/snippets/run.sh
		database = $vardir/siogate.db
		run_dir = $rundir
		app = testapp
		transports = websocket, flashsocket, htmlfile, xhr-polling, jsonp-polling
		polling_duration = 5
		log_level = debug
		flash_policy_port = 0
	EOF
	port=$(free_port)
	echo "== snippet for $server in Debian's configuration, 127.0.0.1:$port (files in var/snippets/$server)"
	srv_cmd=()
	if ! "setup_$server" || ! start_siogate; then
		summary+=("$server: SETUP FAILED, files in var/snippets/$server")
		show_logs
		[ $status != 0 ] || status=2
		cleanup
		continue
	fi
	start_bg webserver "$vardir/webserver.out" "${srv_cmd[@]}"
	if ! wait_for "$started" port_open "$port"; then
		summary+=("$server: did not start, files in var/snippets/$server")
		show_logs
		[ $status != 0 ] || status=2
		cleanup
		continue
	fi
	failed=0
	for transport in xhr-polling websocket; do
		echo "== $server (snippet), $transport"
		rc=0
		SIO_URL="http://127.0.0.1:$port" SIO_TRANSPORT=$transport \
			SIO_CONNECT_TIMEOUT=${SIO_CONNECT_TIMEOUT:-10000} \
			"$node" --test --test-reporter=spec tests/interop/testapp.test.mjs || rc=$?
		[ $rc = 0 ] || failed=1
	done
	echo "   sio-wsd attached $(grep -c 'attached websocket' "$vardir/wsd.log") websockets"
	echo "== $server (snippet), htmlfile stream, hixie-76 on /socket.io/1/flashsocket/"
	"$node" "$here/streams.mjs" "http://127.0.0.1:$port" || failed=1
	cleanup
	if [ $failed = 0 ]; then
		summary+=("$server: passed ($((SECONDS - t0)) s)")
		[ -n "${KEEP_VAR:-}" ] || rm -rf "$vardir"
	else
		summary+=("$server: FAILED ($((SECONDS - t0)) s), files in var/snippets/$server")
		show_logs
		status=1
	fi
done
vardir=""
echo "== snippets summary"
printf '   %s\n' "${summary[@]}"
exit $status
