#!/usr/bin/env bash
# A three-host siogate cluster on this machine (make cluster): network
# namespaces on a private bridge, nothing addressed from the root
# namespace, no traffic leaving the machine.
#
#   T      the bridge; every other namespace has a veth pair into it
#   P      PostgreSQL (Debian's), 10.231.0.2, trust for the /24
#   L      nginx, 10.231.0.3:80, round robin over the hosts, no stickiness;
#          a request not answered in 10 s (120 s for a websocket) is given
#          up, and an idempotent one tried on the next host; and
#          10.231.0.3:81, the same but /socket.io/1/websocket/ to h1 only
#          (a websocket upgrade whose host is known)
#   C      the clients (node, socket.io-client 0.9.16), 10.231.0.4
#   H1..H3 10.231.0.11..13, each also in a pid and uts namespace of its
#          own (pids collide as on real machines): lighttpd + sio-gateway
#          + sio-wsd through scripts/webserver.sh on port 8080, a run_dir
#          of its own, the database over TCP, process_lease = 10 (the
#          default; LEASE=N changes it)
#
# Then: the interop suite through the load balancer over xhr-polling and
# websocket, and tests/cluster/cluster.test.mjs (publish across hosts, a
# host killed mid-stream, sioctl, a PostgreSQL restart mid-stream, a
# host's link cut while messages flow, a 15 s partition of a host, a
# websocket refused on h1 (its sio-wsd stopped) and the same session
# carried on over polling on the other hosts).
#
#   tests/cluster/run.sh            everything, torn down on every way out
#   tests/cluster/run.sh ctl ...    what the node suite asks of the
#                                   topology (CLUSTER_ID set by run.sh)
#
# Needs root and `ip netns`; without them it is skipped (and fails when
# CI=true). Namespaces are named sgc<pid>-<name>; ones of a run whose
# pid is dead are removed first. Files in /tmp/siogate-cluster.<pid>
# (KEEP=1 keeps them; LOG_LEVEL=debug for the hosts' siogate.log).
# CLUSTER_TESTS=PATTERN runs only the scenarios of cluster.test.mjs whose
# name matches, without the interop suite; CLUSTER_HOLD=SECONDS keeps the
# cluster up that long at the end (its CLUSTER_ID, DIR and SECRET are
# printed, for `run.sh ctl`); CLUSTER_TIMEOUT bounds the run (600 s).
# Exit status: 0 passed or skipped, 1 failed.
# shellcheck disable=SC2317 # functions run by the traps
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-$root/build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
NET=10.231.0
P_ADDR=$NET.2 L_ADDR=$NET.3 C_ADDR=$NET.4
HOSTS=3
PORT=8080
LEASE=${LEASE:-10}

host_addr() { echo "$NET.$((10 + $1))"; }
ns() { echo "sgc${CLUSTER_ID}-$1"; }
say() { echo "cluster: $*"; }
in_ns() { # name command...
	local n
	n=$(ns "$1")
	shift
	ip netns exec "$n" "$@"
}

skip() {
	say "skipped: $*"
	if [ "${CI:-}" = true ]; then
		say "CI must run it"
		exit 1
	fi
	exit 0
}

# ---- teardown --------------------------------------------------------------

# Kills every process in a namespace (by pid, what `ip netns pids` names),
# then deletes it.
ns_remove() { # full-name
	local p i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		p=$(ip netns pids "$1" 2>/dev/null)
		[ -n "$p" ] || break
		# shellcheck disable=SC2086
		kill -KILL $p 2>/dev/null
		sleep 0.1
	done
	ip netns del "$1" 2>/dev/null
}

# Removes the namespaces of a cluster id (ours, or a dead run's).
remove_cluster() { # id
	local n
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^sgc$1-[a-z0-9]+\$"); do
		ns_remove "$n"
	done
}

# Stops the PostgreSQL of a run's directory by itself (bounded), so that
# it removes its shared memory, before its namespace's processes are
# killed.
pg_stop() { # namespace dir
	[ -n "${PGBIN:-}" ] && [ -f "$2/.cluster" ] && [ -f "$2/pg/data/postmaster.pid" ] ||
		return 0
	timeout 20 ip netns exec "$1" runuser -u postgres -- \
		"$PGBIN/pg_ctl" -D "$2/pg/data" -m immediate -w -t 15 stop >/dev/null 2>&1
}

stale() {
	local n id
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^sgc[0-9]+-(t|p|l|c|h[0-9])$'); do
		id=${n#sgc}
		id=${id%%-*}
		[ "$id" != "$CLUSTER_ID" ] || continue
		kill -0 "$id" 2>/dev/null && continue
		say "removing $n of a dead run ($id)"
		case $n in *-p) pg_stop "$n" "/tmp/siogate-cluster.$id" ;; esac
		ns_remove "$n"
		[ ! -f "/tmp/siogate-cluster.$id/.cluster" ] || rm -rf "/tmp/siogate-cluster.$id"
	done
}

cleanup() {
	trap '' INT TERM HUP
	[ -n "${CLUSTER_ID:-}" ] || return
	[ -z "${watchdog:-}" ] || kill "$watchdog" 2>/dev/null
	[ -z "${node_pid:-}" ] || kill -KILL "$node_pid" 2>/dev/null
	pg_stop "$(ns p)" "${DIR:-}"
	remove_cluster "$CLUSTER_ID"
	if [ -n "${DIR:-}" ] && [ -f "$DIR/.cluster" ]; then
		[ "${status:-1}" = 0 ] || show_logs
		if [ -n "${KEEP:-}" ]; then
			say "files kept in $DIR"
		else
			rm -rf "$DIR"
		fi
	fi
}

show_logs() {
	local f
	for f in "$DIR"/h*/siogate.log "$DIR"/h*/wsd.log "$DIR"/h*/lighttpd-error.log \
		"$DIR"/h*/host.log "$DIR"/lb/error.log "$DIR"/postgres.log; do
		[ -s "$f" ] || continue
		echo "-- last lines of ${f#"$DIR"/}" >&2
		grep -v ': debug: ' "$f" | tail -n 12 >&2
	done
}

# ---- topology --------------------------------------------------------------

# A namespace with lo up and a veth pair into the bridge in T.
add_ns() { # name addr|""
	local n t
	n=$(ns "$1")
	t=$(ns t)
	ip netns add "$n" || return 1
	ip -n "$n" link set lo up
	ip -n "$t" link add "v$1" type veth peer name eth0 netns "$n" || return 1
	ip -n "$t" link set "v$1" master br0 up
	ip -n "$n" addr add "$2/24" dev eth0
	ip -n "$n" link set eth0 up
}

topology() {
	local t i
	t=$(ns t)
	ip netns add "$t" || return 1
	ip -n "$t" link set lo up
	ip -n "$t" link add br0 type bridge || return 1
	ip -n "$t" link set br0 up
	add_ns p "$P_ADDR" && add_ns l "$L_ADDR" && add_ns c "$C_ADDR" || return 1
	for i in $(seq 1 $HOSTS); do
		add_ns "h$i" "$(host_addr "$i")" || return 1
	done
}

# Waits until cmd succeeds, at most s seconds.
wait_for() { # seconds what cmd...
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			say "timed out waiting for $what"
			return 1
		fi
		sleep 0.1
	done
}

pg_bindir() {
	local b
	b=$(pg_config --bindir 2>/dev/null)
	if [ -z "$b" ] || [ ! -x "$b/initdb" ]; then
		b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	fi
	[ -x "$b/initdb" ] || return 1
	echo "$b"
}

pg_ctl() { # args...
	in_ns p runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/postgres.log" "$@"
}

postgres() {
	mkdir -p "$DIR/pg" && chown postgres "$DIR/pg" && chmod 0700 "$DIR/pg" || return 1
	runuser -u postgres -- "$PGBIN/initdb" -D "$DIR/pg/data" --auth=trust -U siogate \
		-E UTF8 --no-sync >"$DIR/initdb.log" 2>&1 || {
		cat "$DIR/initdb.log" >&2
		return 1
	}
	runuser -u postgres -- mkdir -m 0700 "$DIR/pg/sock"
	cat >>"$DIR/pg/data/postgresql.conf" <<-EOF
		# tests/cluster/run.sh
		listen_addresses = '$P_ADDR'
		unix_socket_directories = '$DIR/pg/sock'
		port = 5432
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		max_connections = 300
		shared_buffers = 32MB
	EOF
	echo "host all all $NET.0/24 trust" >>"$DIR/pg/data/pg_hba.conf"
	: >"$DIR/postgres.log"
	chown postgres "$DIR/postgres.log"
	pg_ctl -w -t 30 start >/dev/null || return 1
	in_ns c psql -qX "postgresql://siogate@$P_ADDR/postgres" -c "CREATE DATABASE siogate" >/dev/null
}

lb() {
	local i servers=""
	mkdir -p "$DIR/lb/tmp"
	for i in $(seq 1 $HOSTS); do
		servers+="server $(host_addr "$i"):$PORT max_fails=0;
		"
	done
	cat >"$DIR/lb/nginx.conf" <<-EOF
		# tests/cluster/run.sh: round robin, no stickiness
		daemon off;
		worker_processes 1;
		pid $DIR/lb/nginx.pid;
		error_log $DIR/lb/error.log warn;
		events { worker_connections 2048; }
		http {
			access_log off;
			client_body_temp_path $DIR/lb/tmp/body;
			proxy_temp_path $DIR/lb/tmp/proxy;
			fastcgi_temp_path $DIR/lb/tmp/fastcgi;
			uwsgi_temp_path $DIR/lb/tmp/uwsgi;
			scgi_temp_path $DIR/lb/tmp/scgi;
			map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
			upstream hosts {
				$servers
			}
			upstream h1 {
				server $(host_addr 1):$PORT max_fails=0;
			}
			proxy_http_version 1.1;
			proxy_set_header Upgrade \$http_upgrade;
			proxy_set_header Connection \$connection_upgrade;
			proxy_set_header Host \$host;
			proxy_next_upstream error timeout http_503;
			proxy_connect_timeout 1s;
			proxy_send_timeout 30s;
			proxy_buffering off;
			server {
				listen $L_ADDR:80;
				# a long poll is answered within polling_duration (5 s):
				# one a silent host holds is tried on the next host
				location / {
					proxy_pass http://hosts;
					proxy_read_timeout 10s;
				}
				location /socket.io/1/websocket/ {
					proxy_pass http://hosts;
					proxy_read_timeout 120s;
				}
			}
			# the websocket upgrade always to h1, the rest round robin
			server {
				listen $L_ADDR:81;
				location / {
					proxy_pass http://hosts;
					proxy_read_timeout 10s;
				}
				location /socket.io/1/websocket/ {
					proxy_pass http://h1;
					proxy_read_timeout 120s;
				}
			}
		}
	EOF
	in_ns l setsid /usr/sbin/nginx -p "$DIR/lb/" -c "$DIR/lb/nginx.conf" \
		</dev/null >"$DIR/lb/out.log" 2>&1 &
	wait_for 15 "nginx in L" in_ns c bash -c "exec 3<>/dev/tcp/$L_ADDR/80" &&
		wait_for 5 "nginx in L on :81" in_ns c bash -c "exec 3<>/dev/tcp/$L_ADDR/81"
}

# Closes the descriptors above 2 that this shell inherited (a caller's
# pipe, e.g. node's): a host started from here must not hold them open.
close_fds() {
	local f fd
	for f in /proc/$BASHPID/fd/*; do
		fd=${f##*/}
		case $fd in 0 | 1 | 2 | 255) continue ;; esac
		[ "$(readlink "$f")" != "$(readlink /proc/$BASHPID/fd/255 2>/dev/null)" ] || continue
		{ eval "exec $fd>&-"; } 2>/dev/null
	done
}

# Host i: its own pid and uts namespace inside its network namespace; its
# pid 1 (a shell) starts the servers and then waits, so killing it kills
# the whole host.
start_host() { # i
	local i=$1 v=$DIR/h$1 addr
	addr=$(host_addr "$i")
	mkdir -p "$v/run" "$v/www"
	rm -f "$v/ready" "$v/failed"
	echo "$(date +%T.%N) starting h$i" >>"$v/host.log"
	cat >"$v/siogate.conf" <<-EOF
		# tests/cluster/run.sh: host h$i
		database = postgresql://siogate@$P_ADDR:5432/siogate
		run_dir = $v/run
		app = testapp
		process_lease = $LEASE
		polling_duration = 5
		publish = yes
		publish_allow = $C_ADDR $L_ADDR $(host_addr 1) $(host_addr 2) $(host_addr 3)
		bridge_secret = $SECRET
		log = $v/siogate.log
		log_level = ${LOG_LEVEL:-info}
		flash_policy_port = 0
	EOF
	close_fds
	in_ns "h$i" setsid unshare --pid --uts --fork --mount-proc bash -c '
		hostname "$1"
		if LISTEN_HOST=$2 GATEWAY=$5/sio-gateway WSD=$5/sio-wsd \
			SIOGATE_CONF=$4/siogate.conf DOCROOT=$4/www \
			"$6/scripts/webserver.sh" start lighttpd "$3" "$4"; then
			: >"$4/ready"
		else
			: >"$4/failed"
		fi
		trap "" TERM INT HUP
		while :; do sleep 1; done' host "h$i" "$addr" "$PORT" "$v" "$BUILD" "$root" \
		</dev/null >>"$v/host.log" 2>&1 &
	wait_for 30 "host h$i" test -e "$v/ready" -o -e "$v/failed" || return 1
	echo "$(date +%T.%N) h$i ready" >>"$v/host.log"
	[ -e "$v/ready" ] || {
		cat "$v/host.log" >&2
		return 1
	}
}

# The pid (from here) of host i's pid-namespace init: the process of its
# network namespace whose NSpid ends in 1.
host_init() { # i
	local p
	for p in $(ip netns pids "$(ns "h$1")" 2>/dev/null); do
		if awk '$1 == "NSpid:" && NF == 3 && $3 == 1 { f = 1 } END { exit !f }' \
			"/proc/$p/status" 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# The pids (from here) of host i's processes named name (their comm).
host_procs() { # i name
	local p
	for p in $(ip netns pids "$(ns "h$1")" 2>/dev/null); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" != "$2" ] || echo "$p"
	done
}

host_wsd() { # i
	host_procs "$1" sio-wsd
}

no_wsd() { # i
	[ -z "$(host_wsd "$1")" ]
}

# Stops host i's sio-wsd (TERM, KILL after 5 s): its lighttpd then answers
# the websocket upgrade 503, as with no sidecar at all.
stop_wsd() { # i
	local p
	p=$(host_wsd "$1")
	[ -n "$p" ] || return 0
	# shellcheck disable=SC2086
	kill -TERM $p 2>/dev/null
	wait_for 5 "h$1's sio-wsd to end" no_wsd "$1" && return 0
	# shellcheck disable=SC2086
	kill -KILL $p 2>/dev/null
	wait_for 5 "h$1's sio-wsd to die" no_wsd "$1"
}

# Starts host i's sio-wsd again as webserver.sh does, inside the host's
# namespaces (its init adopts it); returns once its socket is there.
start_wsd() { # i
	local v=$DIR/h$1 p
	p=$(host_init "$1") || { echo "no init of h$1" >&2; return 1; }
	[ -z "$(host_wsd "$1")" ] || return 0
	rm -f "$v/sio-wsd.sock" "$v/sio-wsd-flash.sock"
	echo "$(date +%T.%N) starting h$1's sio-wsd again" >>"$v/host.log"
	close_fds
	nsenter -t "$p" -n -p -u -m setsid -f "$BUILD/sio-wsd" -c "$v/siogate.conf" \
		--listen "$v/sio-wsd.sock" --flash-listen "$v/sio-wsd-flash.sock" \
		</dev/null >>"$v/wsd.log" 2>&1
	wait_for 15 "h$1's sio-wsd" test -S "$v/sio-wsd.sock"
}

# ---- what the suite asks (run.sh ctl ...) -----------------------------------

ctl() {
	[ -n "${CLUSTER_ID:-}" ] && [ -f "${DIR:-}/.cluster" ] || {
		echo "run.sh ctl: not inside a cluster run" >&2
		exit 2
	}
	PGBIN=$(pg_bindir)
	case ${1:-} in
	kill-host) # i: kill -9 its pid-namespace init, wait until all is gone
		local p
		p=$(host_init "$2") || { echo "no init of h$2" >&2; exit 1; }
		kill -KILL "$p"
		wait_for 10 "h$2's processes to end" bash -c \
			"[ -z \"\$(ip netns pids $(ns "h$2"))\" ]"
		echo "$p"
		;;
	start-host) start_host "$2" >/dev/null ;;
	link-down) # i: host i's port on the bridge down: it falls silent
		ip -n "$(ns t)" link set "vh$2" down ;;
	link-up) ip -n "$(ns t)" link set "vh$2" up ;;
	stop-wsd) stop_wsd "$2" ;; # i: host i's websocket route answers 503
	start-wsd) start_wsd "$2" ;;
	flush-logs) # every host's lighttpd writes out its access log (SIGHUP)
		local i p
		for i in $(seq 1 $HOSTS); do
			p=$(host_procs "$i" lighttpd)
			# shellcheck disable=SC2086
			[ -z "$p" ] || kill -HUP $p
		done
		;;
	ns-inode) # i: the inode of host i's pid namespace (in its processes' pid_space)
		local p
		p=$(host_init "$2") || { echo "no init of h$2" >&2; exit 1; }
		stat -L -c %i "/proc/$p/ns/pid"
		;;
	pg-restart) pg_ctl -w -t 30 -m fast restart >/dev/null ;;
	psql) # sql: tuples only, from namespace P over TCP
		in_ns p psql -qAtX "postgresql://siogate@$P_ADDR/siogate" -c "$2" ;;
	sioctl) # args...: build/sioctl in host h1's namespace
		shift
		in_ns h1 "$BUILD/sioctl" -c "$DIR/sioctl.conf" "$@" ;;
	*)
		echo "run.sh ctl: kill-host I | start-host I | link-down I | link-up I | stop-wsd I | start-wsd I | flush-logs | pg-restart | psql SQL | sioctl ARGS" >&2
		exit 2
		;;
	esac
}

if [ "${1:-}" = ctl ]; then
	shift
	ctl "$@"
	exit
fi

# ---- the run -----------------------------------------------------------------

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
ip netns list >/dev/null 2>&1 || skip "no ip netns"
# Where a namespace cannot be made (a chroot, a container without the
# right to mount), nothing of the cluster can be. In a chroot, `ip netns
# add` would also leave its mount of /run/netns behind: not even tried.
mountpoint -q / ||
	skip "in a chroot (/ is no mount point: network namespaces need one)"
probe="sgc$$-probe"
if ip netns add "$probe" >/dev/null 2>&1; then
	ip netns del "$probe" 2>/dev/null
else
	ip netns del "$probe" >/dev/null 2>&1
	skip "ip netns add does not work here"
fi
command -v unshare >/dev/null || skip "no unshare"
PGBIN=$(pg_bindir) || skip "no PostgreSQL server (Debian's postgresql)"
[ -x /usr/sbin/nginx ] && [ -x /usr/sbin/lighttpd ] || skip "needs nginx and lighttpd"
for b in sio-gateway sio-wsd sioctl; do
	[ -x "$BUILD/$b" ] || { say "$BUILD/$b is not built (make)"; exit 1; }
done
[ -d "$root/node_modules/socket.io-client" ] || { say "node_modules missing (npm ci)"; exit 1; }

export CLUSTER_ID=$$
export DIR=/tmp/siogate-cluster.$CLUSTER_ID
status=1
trap cleanup EXIT
trap 'say interrupted; exit 130' INT
trap 'say terminated; exit 143' TERM HUP
# Bounded: the whole run, whatever hangs.
# It ends with the run, however that ends.
bash -c 'end=$((SECONDS + $1))
	while kill -0 "$2" 2>/dev/null; do
		[ $SECONDS -lt $end ] || { kill -TERM "$2"; exit; }
		sleep 1
	done' watchdog "${CLUSTER_TIMEOUT:-600}" $$ </dev/null >/dev/null 2>&1 &
watchdog=$!

stale
rm -rf "$DIR"
mkdir -p "$DIR" && chmod 0711 "$DIR" && : >"$DIR/.cluster" || exit 1
SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export SECRET

t0=$SECONDS
topology || { say "could not build the namespaces"; exit 1; }
postgres || { say "PostgreSQL did not start"; exit 1; }
for i in $(seq 1 $HOSTS); do
	start_host "$i" || { say "host h$i did not start"; exit 1; }
done
lb || exit 1
cat >"$DIR/sioctl.conf" <<-EOF
	database = postgresql://siogate@$P_ADDR:5432/siogate
	run_dir = $DIR/h1/run
EOF
say "up in $((SECONDS - t0)) s: PostgreSQL $P_ADDR, nginx $L_ADDR:80, hosts" \
	"$(for i in $(seq 1 $HOSTS); do printf '%s ' "$(host_addr "$i"):$PORT"; done)(namespaces sgc$CLUSTER_ID-*);" \
	"nginx $L_ADDR:81 sends websockets to h1"

failed=""
node_env=(env CLUSTER_LB="http://$L_ADDR" CLUSTER_LB_WS_H1="http://$L_ADDR:81"
	CLUSTER_LEASE="$LEASE"
	CLUSTER_HOSTS="$(for i in $(seq 1 $HOSTS); do printf '%s,' "http://$(host_addr "$i"):$PORT"; done)"
	CLUSTER_CTL="$here/run.sh" CLUSTER_ID="$CLUSTER_ID" DIR="$DIR" SECRET="$SECRET")
run_node() { # label args...
	local label=$1 rc=0
	shift
	echo "== $label"
	in_ns c "${node_env[@]}" "$@" &
	node_pid=$!
	wait "$node_pid" || rc=$?
	node_pid=""
	[ $rc = 0 ] || failed+=" $label"
}

cd "$root" || exit 1
pattern=()
[ -z "${CLUSTER_TESTS:-}" ] || pattern=(--test-name-pattern="$CLUSTER_TESTS")
for tr in xhr-polling websocket; do
	[ -z "${CLUSTER_TESTS:-}" ] || break
	run_node "interop through the load balancer over $tr" \
		env SIO_URL="http://$L_ADDR" SIO_TRANSPORT=$tr SIO_CONNECT_TIMEOUT=10000 \
		node --test --test-reporter=spec tests/interop/testapp.test.mjs
done
run_node "cluster scenarios" node --test --test-reporter=spec --test-concurrency=1 \
	"${pattern[@]}" "$here/cluster.test.mjs"

(ctl flush-logs) && sleep 0.5 # lighttpd buffers its access log
for i in $(seq 1 $HOSTS); do
	printf '# h%s served %s requests in all, %s of them websocket upgrades\n' "$i" \
		"$(wc -l <"$DIR/h$i/lighttpd-access.log" 2>/dev/null || echo 0)" \
		"$(grep -c '/socket\.io/1/websocket/' "$DIR/h$i/lighttpd-access.log" 2>/dev/null)"
done
printf '# nginx: %s requests cut off by a host, %s connections refused (idempotent requests went on to the next host)\n' \
	"$(grep -c 'upstream prematurely closed\|reset by peer' "$DIR/lb/error.log" 2>/dev/null)" \
	"$(grep -c 'Connection refused' "$DIR/lb/error.log" 2>/dev/null)"
if [ -n "${CLUSTER_HOLD:-}" ]; then
	say "holding the cluster for $CLUSTER_HOLD s: CLUSTER_ID=$CLUSTER_ID DIR=$DIR SECRET=$SECRET"
	sleep "$CLUSTER_HOLD"
fi
kill "$watchdog" 2>/dev/null
if [ -z "$failed" ]; then
	status=0
	say "passed ($((SECONDS - t0)) s)"
else
	say "FAILED:$failed"
fi
exit $status
