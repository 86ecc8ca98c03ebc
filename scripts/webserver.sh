#!/bin/bash
# shellcheck disable=SC2034 # the T_* variables are read by render()
# Starts and stops a web server in front of siogate, from deploy/*.conf.in.
#
#   scripts/webserver.sh start [--no-wsd] SERVER PORT VARDIR [GATEWAY-ADDR[,ADDR...]]
#   scripts/webserver.sh stop VARDIR
#
# SERVER is lighttpd, nginx, apache (mod_proxy_fcgi) or apache-cgi (mod_cgid).
# The server listens on 127.0.0.1:PORT and keeps its config, pid file, logs
# and temp files in VARDIR. It runs in the background; start returns once the
# port accepts connections, and VARDIR/webserver.pid holds its pid.
#
# The gateway: lighttpd spawns it (bin-path; env GATEWAY_PROCS processes,
# default 1); apache-cgi runs it per request. For nginx and apache, start
# also runs `sio-gateway --listen VARDIR/sio-gateway.sock` (VARDIR/gateway.pid)
# unless GATEWAY-ADDR is given: host:port or /path.sock of gateways already
# listening; several, comma separated, are round-robin for nginx and lighttpd
# and the members of a balancer for Apache. stop kills only what start started.
#
# The websocket sidecar: every config routes /socket.io/1/websocket/ to
# WSD_ADDR and /socket.io/1/flashsocket/ (hixie-76, the Flash SWF) to
# WSD_FLASH_ADDR, and start runs
# `sio-wsd -c SIOGATE_CONF --listen WSD_ADDR --flash-listen WSD_FLASH_ADDR`
# first (VARDIR/wsd.pid, log VARDIR/wsd.log; as root with apache-cgi it runs
# as www-data, like the CGI processes that share its database; the flash
# listener exists only when flashsocket is in the config's transports, and
# its policy port is the config's flash_policy_port). --no-wsd (or
# NO_WSD=1) leaves it out: the routes stay, the upgrade fails (502/503 from
# the server) and clients fall back to polling; WSD_ADDR and WSD_FLASH_ADDR
# may then name anything else, e.g. a server that refuses the upgrade.
#
# Environment (all optional):
#   GATEWAY       sio-gateway binary      (default: build/sio-gateway)
#   WSD           sio-wsd binary          (default: build/sio-wsd)
#   NO_WSD=1      do not start sio-wsd    (same as --no-wsd)
#   SIOGATE_CONF  siogate config file     (default: VARDIR/siogate.conf,
#                 written when missing: database VARDIR/siogate.db,
#                 run_dir VARDIR/run, app $APP or testapp)
#   DOCROOT       document root           (default: VARDIR/www)
#   WSD_ADDR      sio-wsd address: /path.sock or host:port
#                 (default: VARDIR/sio-wsd.sock)
#   WSD_FLASH_ADDR sio-wsd's hixie-76 (flashsocket) address, the same forms
#                 (default: VARDIR/sio-wsd-flash.sock)
#   LISTEN_HOST   address to listen on    (default: 127.0.0.1)
#   START_TIMEOUT seconds to wait for the port (default: 15)
#   STOP_TIMEOUT  seconds stop waits after TERM before KILL (default: 5)
# Missing Debian packages (lighttpd, nginx-light, apache2) are installed.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WWW_USER=www-data
WWW_GROUP=www-data

# Pid files of what start started so far, stopped again if it fails.
CLEANUP=""
trap 'for f in $CLEANUP; do stop_pidfile "$f"; done' EXIT

die() {
	echo "webserver.sh: $*" >&2
	exit 1
}

usage() {
	die "usage: $0 start [--no-wsd] lighttpd|nginx|apache|apache-cgi PORT VARDIR [GATEWAY-ADDR] | stop VARDIR"
}

abspath() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$(pwd)" "$1" ;;
	esac
}

# Installs Debian packages when their binary is missing. Services the
# packages would start are held back while installing (policy-rc.d), so a
# package's default site cannot take port 80 or fail on it.
ensure_pkg() { # binary package [fallback-package]
	[ -x "$1" ] && return 0
	local sudo="" rc=0 policy=/usr/sbin/policy-rc.d tmp_policy=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	echo "webserver.sh: installing $2" >&2
	if [ ! -e $policy ]; then
		printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null
		$sudo chmod 755 $policy
		tmp_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >/dev/null || true
	$sudo apt-get install -y -qq --no-install-recommends "$2" >/dev/null ||
		{ [ -n "${3:-}" ] && $sudo apt-get install -y -qq \
			--no-install-recommends "$3" >/dev/null; } || rc=1
	[ -z "$tmp_policy" ] || $sudo rm -f $policy
	if [ $rc != 0 ] || [ ! -x "$1" ]; then die "could not install $2"; fi
}

# Waits until something accepts connections on host:port, while pid lives.
wait_port() { # host port pid what
	local deadline=$((SECONDS + ${START_TIMEOUT:-15}))
	while ! (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
		alive "$3" || return 1
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

wait_socket() { # path pid
	local deadline=$((SECONDS + ${START_TIMEOUT:-15}))
	while [ ! -S "$1" ]; do
		alive "$2" || return 1
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

# True while pid runs (a zombie waiting for a slow init to reap it counts
# as stopped).
alive() { # pid
	kill -0 "$1" 2>/dev/null || return 1
	[ "$(sed -e 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# True while a process of group pgid runs (zombies do not count).
group_alive() { # pgid
	ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'
}

# Stops what a pid file names: the process was started as the leader of its
# own process group (setsid), so the group gets TERM: web server, workers,
# CGI children and spawned gateways at once (a CGI blocked in a long poll
# would otherwise hold an Apache worker past its shutdown). KILL after a
# deadline.
stop_pidfile() { # pidfile
	local pid deadline
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	rm -f "$1"
	case $pid in '' | *[!0-9]*) return 0 ;; esac
	group_alive "$pid" || return 0
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	deadline=$((SECONDS + ${STOP_TIMEOUT:-5}))
	while group_alive "$pid"; do
		if [ $SECONDS -ge $deadline ]; then
			kill -KILL -- "-$pid" 2>/dev/null || true
			break
		fi
		sleep 0.05
	done
}

# A config value from siogate.conf (last one wins), or the default.
conf_value() { # file key default
	local v
	v=$(sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*\"\{0,1\}\([^\"#]*[^\"#[:space:]]\).*/\1/p" \
		"$1" 2>/dev/null | tail -n 1)
	printf '%s\n' "${v:-$3}"
}

# How each template names a sidecar address: sets T_<PREFIX>_LIGHTTPD,
# T_<PREFIX>_NGINX and T_<PREFIX>_URL.
wsd_names() { # PREFIX addr what
	local -n lt=T_$1_LIGHTTPD ng=T_$1_NGINX url=T_$1_URL
	case $2 in
	/*) # a UNIX socket: each server names it its own way
		lt="\"socket\" => \"$2\""
		ng="unix:$2"
		# a host name of its own per socket: Apache picks the worker
		# of a proxied URL by its ws://host/path alone
		url="unix:$2|ws://$(printf '%s' "$1" | tr 'A-Z_' 'a-z-')"
		;;
	*:*)
		lt="\"host\" => \"${2%:*}\", \"port\" => ${2##*:}"
		ng=$2
		url="ws://$2"
		;;
	*) die "bad $3 '$2' (host:port or /path.sock)" ;;
	esac
}

# Waits for a sidecar listener: a UNIX socket or host:port.
wait_addr() { # addr pid
	case $1 in
	/*) wait_socket "$1" "$2" ;;
	*) wait_port "${1%:*}" "${1##*:}" "$2" ;;
	esac
}

# Fills a template: every @NAME@ from the shell variable T_NAME.
render() { # template output
	local args=() v name
	for v in $(compgen -v T_); do
		name=${v#T_}
		args+=(-e "s|@${name}@|$(printf '%s' "${!v}" | sed -e 's/[|&\\]/\\&/g' | sed -e ':a;N;$!ba;s/\n/\\n/g')|g")
	done
	sed "${args[@]}" "$1" >"$2"
	if grep -q '@[A-Z_]*@' "$2"; then
		die "unfilled placeholder in $2: $(grep -o '@[A-Z_]*@' "$2" | sort -u | tr '\n' ' ')"
	fi
}

# PHP-FPM in the foreground, its pool on VARDIR/php-fpm.sock (as
# www-data when root), pid in VARDIR/php-fpm.pid.
start_fpm() { # binary vardir
	local fpm=$1 vardir=$2 user=""
	[ "$(id -u)" != 0 ] || user="user = $WWW_USER
group = $WWW_GROUP"
	cat >"$vardir/php-fpm.conf" <<EOF
[global]
pid = $vardir/php-fpm.pid
error_log = $vardir/php-fpm.log
daemonize = no
[app]
$user
listen = $vardir/php-fpm.sock
listen.mode = 0666
pm = static
pm.max_children = ${PHP_CHILDREN:-8}
EOF
	setsid "$fpm" -y "$vardir/php-fpm.conf" -F </dev/null \
		>>"$vardir/php-fpm.log" 2>&1 &
	echo $! >"$vardir/php-fpm.pid"
	wait_socket "$vardir/php-fpm.sock" "$!" ||
		die "php-fpm did not start (see $vardir/php-fpm.log)"
}

start() {
	local start_wsd=1
	case ${NO_WSD:-} in '' | 0 | no) ;; *) start_wsd="" ;; esac
	if [ "${1:-}" = --no-wsd ]; then
		start_wsd=""
		shift
	fi
	[ $# -ge 3 ] || usage
	local server=$1 port=$2 vardir gwaddrs=${4:-} conf gateway docroot
	case $server in lighttpd | nginx | apache | apache-cgi) ;; *) usage ;; esac
	case $port in '' | *[!0-9]*) die "bad port '$port'" ;; esac
	mkdir -p "$3"
	vardir=$(cd "$3" && pwd)
	[ ! -f "$vardir/webserver.pid" ] ||
		! alive "$(cat "$vardir/webserver.pid")" ||
		die "a server is already running for $vardir (stop it first)"

	gateway=$(abspath "${GATEWAY:-$ROOT/build/sio-gateway}")
	local wsdbin
	wsdbin=$(abspath "${WSD:-$ROOT/build/sio-wsd}")
	docroot=$(abspath "${DOCROOT:-$vardir/www}")
	conf=$(abspath "${SIOGATE_CONF:-$vardir/siogate.conf}")
	if [ ! -f "$conf" ]; then
		cat >"$conf" <<-EOF
			# written by scripts/webserver.sh
			database = $vardir/siogate.db
			run_dir = $vardir/run
			app = ${APP:-testapp}
			transports = websocket,flashsocket,htmlfile,xhr-polling,jsonp-polling
		EOF
	fi
	mkdir -p "$docroot" "$vardir/tmp" "$(conf_value "$conf" run_dir "$vardir/run")"
	[ "$server" != nginx ] || mkdir -p "$vardir/nginx-tmp"
	if [ -z "$gwaddrs" ] && [ "$server" != apache-cgi ] && [ ! -x "$gateway" ]; then
		die "$gateway is not built (make), or set GATEWAY"
	fi
	if [ -n "$start_wsd" ] && [ ! -x "$wsdbin" ]; then
		# Asked for by name: an error; the default one: polling only.
		[ -z "${WSD:-}" ] || die "$wsdbin is not built (make), or use --no-wsd"
		echo "webserver.sh: $wsdbin is not built (make): no websocket, clients fall back to polling" >&2
		start_wsd=""
	fi

	local wsd=${WSD_ADDR:-$vardir/sio-wsd.sock}
	local wsdflash=${WSD_FLASH_ADDR:-$vardir/sio-wsd-flash.sock}
	[ "$wsd" != "$wsdflash" ] || die "WSD_ADDR and WSD_FLASH_ADDR must differ ($wsd)"
	wsd_names WSD "$wsd" WSD_ADDR
	wsd_names WSD_FLASH "$wsdflash" WSD_FLASH_ADDR
	# The flash listener exists when flashsocket is in transports (not by
	# default, as in socket.io 0.9: list it to have it).
	local flash="" transports
	transports=$(conf_value "$conf" transports "")
	case ",${transports// /}," in *,flashsocket,*) flash=1 ;; esac
	T_PORT=$port
	T_LISTEN_HOST=${LISTEN_HOST:-127.0.0.1}
	T_DOCROOT=$docroot
	T_VARDIR=$vardir
	T_CONF=$conf
	T_GATEWAY=$gateway
	T_GATEWAY_DIR=$(dirname "$gateway")
	T_USER=$WWW_USER
	T_GROUP=$WWW_GROUP
	if [ "$(id -u)" = 0 ]; then T_ROOT_ONLY=""; else T_ROOT_ONLY="#"; fi
	T_FASTCGI_BACKENDS=""
	# PHP (Debian's php-cgi, which lighttpd spawns) for the .php pages of
	# an app = bridge application, when the document root has them
	T_PHP_LIGHTTPD=""
	if [ -x /usr/bin/php-cgi ] && compgen -G "$docroot/*.php" >/dev/null; then
		T_PHP_LIGHTTPD="\$HTTP[\"url\"] =~ \"\\.php\$\" {
  fastcgi.server = ( \".php\" => ((
      \"bin-path\" => \"/usr/bin/php-cgi\",
      \"socket\" => \"$vardir/php.sock\",
      \"max-procs\" => 1,
      \"bin-environment\" => ( \"PHP_FCGI_CHILDREN\" => \"${PHP_CHILDREN:-8}\",
                               \"PHP_FCGI_MAX_REQUESTS\" => \"10000\" ) )) )
}"
	fi
	T_GATEWAY_SERVERS=""
	T_GATEWAY_MEMBERS=""
	# PHP-FPM (Debian's php-fpm) for Apache and nginx, when the document
	# root has PHP pages
	T_PHP_APACHE="" T_PHP_NGINX="" fpm=""
	case $server in apache | nginx)
		fpm=$(ls /usr/sbin/php-fpm* 2>/dev/null | head -n 1)
		compgen -G "$docroot/*.php" >/dev/null || fpm=""
		;;
	esac
	if [ -n "$fpm" ]; then
		T_PHP_APACHE="<FilesMatch \"\\.php\$\">
    SetHandler \"proxy:unix:$vardir/php-fpm.sock|fcgi://localhost\"
</FilesMatch>"
		T_PHP_NGINX="location ~ \\.php\$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            fastcgi_pass unix:$vardir/php-fpm.sock;
        }"
	fi

	# Workers run as www-data when we are root: let them reach what they use.
	if [ "$(id -u)" = 0 ]; then
		chmod o+rx "$vardir"
		if [ "$server" = apache-cgi ]; then
			local db rd
			db=$(conf_value "$conf" database "$vardir/siogate.db")
			rd=$(conf_value "$conf" run_dir "$vardir/run")
			mkdir -p "$(dirname "$db")" "$rd"
			chown "$WWW_USER:$WWW_GROUP" "$(dirname "$db")" "$rd"
			for f in "$db" "$db-wal" "$db-shm"; do
				[ ! -e "$f" ] || chown "$WWW_USER:$WWW_GROUP" "$f"
			done
		fi
	fi

	# Gateway: external addresses, or one we start (nginx, apache).
	local gwpid="" sock="$vardir/sio-gateway.sock" a
	if [ -z "$gwaddrs" ] && { [ "$server" = nginx ] || [ "$server" = apache ]; }; then
		rm -f "$sock"
		setsid "$gateway" -c "$conf" --listen "$sock" </dev/null \
			>>"$vardir/gateway.log" 2>&1 &
		gwpid=$!
		echo "$gwpid" >"$vardir/gateway.pid"
		CLEANUP=$vardir/gateway.pid
		if ! wait_socket "$sock" "$gwpid"; then
			tail -n 20 "$vardir/gateway.log" >&2 || true
			die "sio-gateway did not create $sock"
		fi
		chmod 0660 "$sock"
		[ "$(id -u)" != 0 ] || chgrp "$WWW_GROUP" "$sock"
		gwaddrs=$sock
	fi

	# The websocket sidecar, on the same config. As root with apache-cgi,
	# as www-data: the database and run_dir are theirs (see above).
	local wsdpid=""
	if [ -n "$start_wsd" ]; then
		local asuser=()
		if [ "$(id -u)" = 0 ] && [ "$server" = apache-cgi ]; then
			asuser=(setpriv "--reuid=$WWW_USER" "--regid=$WWW_GROUP" --init-groups)
		fi
		local a
		for a in "$wsd" "$wsdflash"; do
			case $a in /*) rm -f "$a" ;; esac
		done
		setsid "${asuser[@]}" "$wsdbin" -c "$conf" --listen "$wsd" \
			--flash-listen "$wsdflash" </dev/null >>"$vardir/wsd.log" 2>&1 &
		wsdpid=$!
		echo "$wsdpid" >"$vardir/wsd.pid"
		CLEANUP="$vardir/wsd.pid $CLEANUP"
		for a in "$wsd" ${flash:+"$wsdflash"}; do
			wait_addr "$a" "$wsdpid" || {
				tail -n 20 "$vardir/wsd.log" >&2 || true
				die "sio-wsd did not start on $a"
			}
			# As root, the workers (www-data) must be able to connect (0660).
			case $a in /*) [ "$(id -u)" != 0 ] || chgrp "$WWW_GROUP" "$a" ;; esac
		done
	fi
	local nl='
'
	# An Apache balancer member: a request whose gateway fails (503) goes to
	# the next member; retry=0, a failed member is tried again at once.
	local n=0
	member() { # url
		T_GATEWAY_MEMBERS+="BalancerMember \"$1\" flushpackets=on timeout=120 retry=1$nl    "
		n=$((n + 1))
	}
	local IFS_SAVE=$IFS
	IFS=,
	for a in $gwaddrs; do
		IFS=$IFS_SAVE
		case $a in
		/*)
			# As root, the workers (www-data) must be able to connect.
			[ "$(id -u)" != 0 ] || [ "$server" = lighttpd ] || [ ! -S "$a" ] ||
				chgrp "$WWW_GROUP" "$a"
			T_FASTCGI_BACKENDS+="( \"socket\" => \"$a\", \"check-local\" => \"disable\" ),$nl    "
			T_GATEWAY_SERVERS+="server unix:$a;$nl        "
			member "unix:$a|fcgi://gw$n"
			;;
		*:*)
			T_FASTCGI_BACKENDS+="( \"host\" => \"${a%:*}\", \"port\" => ${a##*:}, \"check-local\" => \"disable\" ),$nl    "
			T_GATEWAY_SERVERS+="server $a;$nl        "
			member "fcgi://$a"
			;;
		*) die "bad gateway address '$a' (host:port or /path.sock)" ;;
		esac
	done
	IFS=$IFS_SAVE
	if [ -z "$T_FASTCGI_BACKENDS" ]; then # lighttpd spawns the gateway
		[ -x "$gateway" ] || die "$gateway is not built (make), or set GATEWAY"
		T_FASTCGI_BACKENDS="( \"bin-path\" => \"$gateway\",
      \"socket\" => \"$vardir/sio-gateway.sock\",
      \"max-procs\" => ${GATEWAY_PROCS:-1},
      \"check-local\" => \"disable\",
      \"bin-environment\" => ( \"SIOGATE_CONF\" => \"$conf\" ) ),"
	fi

	local cfg cmd
	case $server in
	lighttpd)
		ensure_pkg /usr/sbin/lighttpd lighttpd
		cfg=$vardir/lighttpd.conf
		render "$ROOT/deploy/lighttpd.conf.in" "$cfg"
		/usr/sbin/lighttpd -tt -f "$cfg" >"$vardir/webserver.out" 2>&1 ||
			{ cat "$vardir/webserver.out" >&2; die "bad config $cfg"; }
		cmd=(/usr/sbin/lighttpd -D -f "$cfg")
		;;
	nginx)
		ensure_pkg /usr/sbin/nginx nginx-light nginx
		cfg=$vardir/nginx.conf
		render "$ROOT/deploy/nginx.conf.in" "$cfg"
		cmd=(/usr/sbin/nginx -p "$vardir/" -c "$cfg" -e "$vardir/nginx-error.log")
		;;
	apache | apache-cgi)
		ensure_pkg /usr/sbin/apache2 apache2
		cfg=$vardir/apache.conf
		render "$ROOT/deploy/$server.conf.in" "$cfg"
		cmd=(/usr/sbin/apache2 -f "$cfg" -DFOREGROUND)
		;;
	esac

	if [ -n "$fpm" ]; then
		start_fpm "$fpm" "$vardir"
	fi

	# Its own process group (and session): stop reaches all it starts, and
	# a terminal's Ctrl-C reaches only the caller, which then calls stop.
	setsid "${cmd[@]}" </dev/null >>"$vardir/webserver.out" 2>&1 &
	local pid=$!
	echo "$pid" >"$vardir/webserver.pid"
	echo "$server" >"$vardir/webserver.name"
	CLEANUP="$vardir/webserver.pid $CLEANUP"
	if ! wait_port "$T_LISTEN_HOST" "$port" "$pid"; then
		tail -n 20 "$vardir/webserver.out" "$vardir"/*error*.log >&2 2>/dev/null || true
		die "$server did not start on $T_LISTEN_HOST:$port (see $vardir)"
	fi
	CLEANUP=""
	echo "webserver.sh: $server on http://$T_LISTEN_HOST:$port/ (pid $pid${gwpid:+, gateway $gwpid}, wsd ${wsdpid:-not started} on $wsd${flash:+ and $wsdflash}, files in $vardir)"
}

stop() {
	[ $# -ge 1 ] || usage
	[ -d "$1" ] || return 0
	# The gateway first: its FastCGI connections close, so the web server's
	# workers waiting on long polls finish at once.
	stop_pidfile "$1/gateway.pid"
	stop_pidfile "$1/wsd.pid"
	stop_pidfile "$1/webserver.pid"
	stop_pidfile "$1/php-fpm.pid"
	rm -f "$1/sio-gateway.sock" "$1/sio-wsd.sock" "$1/sio-wsd-flash.sock" \
		"$1/webserver.name"
}

action=${1:-}
[ $# -gt 0 ] && shift
case $action in
start) start "$@" ;;
stop) stop "$@" ;;
*) usage ;;
esac
