/*
 * main.c: sio-wsd's entry point and its one global, the server struct. It
 * reads the configuration, opens the store, registers the process and its
 * doorbell, and runs one lws event loop on one thread: the websocket
 * vhost (TCP or a UNIX socket for the web server's proxy; its raw fallback
 * answers an inline Flash policy request), the doorbell adopted as a raw
 * file so that rings wake the loop, with flashsocket enabled two raw-only
 * vhosts (flash.c: the hixie-76 listener of --flash-listen, which lws 4.1
 * cannot serve on the websocket vhost, and the policy port; accept.c
 * accepts their sockets within max_raw_connections), and a
 * one-second timer that sweeps timeouts and asks the store whether others
 * wrote (sio_store_tick()).
 * SIGTERM and SIGINT stop the loop; the sockets close and only detach, so
 * sessions and queues stay in the store for another transport or process.
 * SIGHUP reloads the configuration in the loop (wsd_reload()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sysexits.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "doorbell.h"
#include "plugin.h"
#include "listen.h"
#include "log.h"
#include "store.h"
#include "thread.h"
#include "bridge.h"
#include "wsd.h"

#define WSD_DEFAULT_LISTEN "127.0.0.1:8081"
#define WSD_VHOST "sio-wsd"

struct wsd_server wsd;

static volatile sig_atomic_t wsd_stopping;
static volatile sig_atomic_t wsd_reloading; /* SIGHUP seen */
/* the `log` setting */
static struct sio_log_sink wsd_sink = {.prog = "sio-wsd", .fd = -1};
/* log_level, read by the store thread too */
static atomic_int wsd_level = SIO_LOG_INFO;
static struct lws_context *wsd_lws;
static lws_sorted_usec_list_t wsd_tick_sul;
static int wsd_grace_over;
static struct lws_vhost *wsd_vhost; /* the websocket one: the doorbell's */
static struct lws *wsd_bell_wsi;    /* the doorbell, adopted */
static struct sio_store *wsd_bridge_store; /* app = bridge: its own */

#define WSD_GRACE_US (500 * 1000)

void
wsd_log(enum sio_log_level level, const char *fmt, ...)
{
	va_list ap;

	if ((int)level > atomic_load(&wsd_level))
		return;
	va_start(ap, fmt);
	sio_log_sink_vlog(&wsd_sink, level, fmt, ap);
	va_end(ap);
}

void
wsd_log_limited(struct sio_ratelimit *rl, enum sio_log_level level,
                const char *fmt, ...)
{
	va_list ap;

	if ((int)level > atomic_load(&wsd_level))
		return;
	va_start(ap, fmt);
	sio_log_sink_vlimited(&wsd_sink, rl, level, fmt, ap);
	va_end(ap);
}

/* lws's own log lines, at our levels (its notices are chatter). */
static void
wsd_lws_log(int level, const char *line)
{
	enum sio_log_level l = level & LLL_ERR    ? SIO_LOG_ERROR
	                       : level & LLL_WARN ? SIO_LOG_WARN
	                                          : SIO_LOG_DEBUG;
	static struct sio_ratelimit rl;
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	/* lws repeats its errors (its listener logs each failed accept) */
	if (l <= SIO_LOG_WARN)
		wsd_log_limited(&rl, l, "lws: %.*s", (int)n, line);
	else
		wsd_log(l, "lws: %.*s", (int)n, line);
}

static void
wsd_on_signal(int sig)
{
	if (sig == SIGHUP)
		wsd_reloading = 1;
	else
		wsd_stopping = 1;
	if (wsd_lws != NULL)
		lws_cancel_service(wsd_lws);
}

/*
 * SIGHUP, in the loop: reads the file again and applies what may change
 * while clients are connected (sio_config_keep_fixed(): origins, limits,
 * log level, the log); the rest keeps its value until a restart, and a
 * line says which. A file with an error changes nothing.
 */
static void
wsd_reload(const char *conf)
{
	char err[SIO_ERR_LEN], kept[512];
	struct sio_config next;

	if (sio_config_read(&next, conf, err) != SIO_OK) {
		wsd_log(SIO_LOG_ERROR,
		        "reload: %s; going on with the configuration as it was",
		        err);
		return;
	}
	if (sio_config_keep_fixed(&wsd.cfg, &next, kept, sizeof(kept)) > 0)
		wsd_log(SIO_LOG_WARN, "reload: kept until a restart: %s", kept);
	if (sio_log_sink_open(&wsd_sink, "sio-wsd", next.log, err) != SIO_OK) {
		wsd_log(SIO_LOG_ERROR, "reload: %s; log kept", err);
		snprintf(next.log, sizeof(next.log), "%s", wsd.cfg.log);
	}
	wsd.cfg = next; /* only the loop's thread reads it */
	atomic_store(&wsd_level, (int)wsd.cfg.log_level);
	/* the policy file lists the origins */
	if (sio_config_transport_enabled(&wsd.cfg, SIO_TRANSPORT_FLASHSOCKET))
		wsd_flash_init();
	wsd_log(SIO_LOG_INFO, "reloaded %s", sio_config_path(conf));
}

static int wsd_bell_adopt(void);

/* Listens for the rings of other hosts' writers for this holder (a
 * database server's), in place of those for its previous name. */
static void
wsd_far_listen(void)
{
	char err[SIO_ERR_LEN];

	sio_store_unlisten(wsd.far);
	wsd.far = sio_store_listen(wsd.cfg.database, wsd.holder,
	                           wsd.cfg.run_dir, err);
	if (wsd.far == NULL && err[0] != '\0')
		wsd_log(SIO_LOG_WARN,
		        "rings from other hosts: %s (their writes are found "
		        "each second instead)",
		        err);
}

/*
 * This process's row was reaped: its lease lapsed (the process stood
 * still longer than process_lease, or the clocks jumped), and another
 * process has detached its sessions, given back what it was writing and
 * removed its doorbell. Whatever it still does under the old name may
 * race a process that took a session over, so it fences itself: every
 * client is closed (each reconnects, to any process), and it registers
 * under a new name with a new doorbell. A step that fails is tried again
 * at the next tick, whose renewal fails again.
 */
static void
wsd_fence(void)
{
	struct sio_doorbell *old = wsd.bell;
	struct lws *old_wsi = wsd_bell_wsi;
	char name[SIO_HOLDER_LEN], err[SIO_ERR_LEN];

	wsd_log(SIO_LOG_WARN,
	        "%s was reaped (lease lapsed): closing its %d connections, "
	        "registering anew",
	        wsd.holder, wsd_conn_count());
	wsd_conn_close_all();
	if (sio_store_process_new(wsd.x.store, "wsd", (int)getpid(),
	                          sio_session_now(), name) != SIO_OK) {
		wsd_log(SIO_LOG_ERROR, "register: %s",
		        sio_store_errmsg(wsd.x.store));
		return;
	}
	wsd.bell =
	    sio_doorbell_open(wsd.cfg.run_dir, name, wsd.cfg.db_group, err);
	if (wsd.bell == NULL) {
		wsd_log(SIO_LOG_ERROR, "doorbell: %s", err);
		sio_session_unregister(wsd.x.store, name, sio_session_now());
		wsd.bell = old;
		return;
	}
	memcpy(wsd.holder, name, sizeof(name));
	if (wsd_bell_adopt() != SIO_OK)
		wsd_log(SIO_LOG_ERROR, "cannot adopt the doorbell");
	if (old_wsi != NULL) /* closed at the next service */
		lws_set_timeout(old_wsi, PENDING_TIMEOUT_KILLED_BY_PARENT,
		                LWS_TO_KILL_ASYNC);
	sio_doorbell_close(old);
	wsd_conn_init(wsd_lws); /* the direct path, under the new name */
	wsd_far_listen();
	wsd_log(SIO_LOG_INFO, "registered as %s", wsd.holder);
}

/* Longer than this, a callback has kept the loop from its timers. */
#define WSD_SUL_LATE_US (100 * LWS_US_PER_MS)

void
wsd_sul_done(int64_t t0)
{
	if (lws_now_usecs() - t0 > WSD_SUL_LATE_US)
		lws_cancel_service(wsd_lws);
}

/*
 * Once a second (SIO_WATCH_MS, the same as SIO_SWEEP_MS): the timers, in
 * one transaction (the lease renewed first, so that this process's own
 * sweep never finds it lapsed; the heartbeats of the sessions held here;
 * the sweep when this process takes it; the counters kept in memory),
 * then sio_store_watch(), which catches rows written by programs that do
 * not ring (the sqlite3 shell) and lost rings.
 */
static void
wsd_tick(lws_sorted_usec_list_t *sul)
{
	static struct sio_ratelimit tick_rl;
	lws_usec_t t0 = lws_now_usecs();
	int rc = sio_session_timers(&wsd.x, wsd.holder, sio_session_now());

	if (rc == SIO_ABSENT)
		wsd_fence();
	else if (rc < 0)
		wsd_log_limited(&tick_rl, SIO_LOG_WARN, "timers: %s",
		                sio_store_errmsg(wsd.x.store));
	wsd_conn_check_stalled();
	wsd_conn_ring_ready(0);
	lws_sul_schedule(wsd_lws, 0, sul, wsd_tick,
	                 SIO_WATCH_MS * LWS_US_PER_MS);
	wsd_sul_done(t0);
}

static void
wsd_bridge_log(int level, const char *msg)
{
	wsd_log((enum sio_log_level)level, "%s", msg);
}

/* app = bridge: the dispatcher, in a thread of its own on a store
 * connection of its own; the loop's commits kick it. */
static int
wsd_start_bridge(void)
{
	char err[SIO_ERR_LEN];

	if (strcmp(wsd.cfg.app, "bridge") != 0)
		return SIO_OK;
	wsd_bridge_store =
	    sio_store_open_config(&wsd.cfg, SIO_STORE_PLAIN, err);
	if (wsd_bridge_store == NULL) {
		wsd_log(SIO_LOG_ERROR, "bridge: store: %s", err);
		return SIO_ERR;
	}
	wsd.bridge = sio_bridge_new(&wsd.cfg, wsd.plugin, wsd_bridge_store,
	                            wsd.holder, wsd_bridge_log, err);
	if (wsd.bridge == NULL || sio_bridge_start(wsd.bridge, err) != SIO_OK) {
		wsd_log(SIO_LOG_ERROR, "bridge: %s", err);
		return SIO_ERR;
	}
	sio_bridge_hook(wsd_bridge_store, wsd.bridge);
	sio_bridge_hook(wsd.x.store, wsd.bridge);
	return SIO_OK;
}

/* The doorbell, adopted as a raw file: each datagram names a sid. */
static int
wsd_bell_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                  void *in, size_t len)
{
	char sid[SIO_SID_LEN + 8];

	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (wsi != wsd_bell_wsi)
			return -1; /* a doorbell a fence replaced */
		while (sio_doorbell_recv(wsd.bell, sid, sizeof(sid)) == SIO_OK)
			if (strcmp(sid, SIO_DOORBELL_ALL) == 0)
				wsd_conn_ring_ready(1);
			else
				wsd_conn_ring(sid);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (!wsd_stopping && wsi == wsd_bell_wsi)
			wsd_log(SIO_LOG_ERROR, "doorbell closed");
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void
wsd_grace_end(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	wsd_grace_over = 1;
}

/* Stopping: close frames (going away) to every client, then up to
 * WSD_GRACE_US for the closing handshakes; what remains is dropped by
 * lws_context_destroy. Either way each socket only detaches. */
static void
wsd_drain(void)
{
	static lws_sorted_usec_list_t grace;

	lws_sul_cancel(&wsd_tick_sul);
	wsd_conn_close_all();
	lws_sul_schedule(wsd_lws, 0, &grace, wsd_grace_end, WSD_GRACE_US);
	while (!wsd_grace_over && wsd_conn_count() > 0 &&
	       lws_service(wsd_lws, 0) >= 0)
		;
	lws_sul_cancel(&grace);
}

/* SIO_OK when nothing listens on the UNIX socket path (absent, or a
 * stale socket file), else SIO_ERR with a message printed. */
static int
wsd_sock_in_use(const char *flag, const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat sb;
	int fd, alive;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "sio-wsd: %s %s: path too long\n", flag, path);
		return SIO_ERR;
	}
	if (lstat(path, &sb) != 0)
		return SIO_OK;
	if (!S_ISSOCK(sb.st_mode)) {
		fprintf(stderr, "sio-wsd: %s %s: exists and is not a socket\n",
		        flag, path);
		return SIO_ERR;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	alive =
	    fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	if (fd >= 0)
		close(fd);
	if (alive) {
		fprintf(stderr,
		        "sio-wsd: %s %s: another server listens there (a "
		        "running sio-wsd?)\n",
		        flag, path);
		return SIO_ERR;
	}
	return SIO_OK;
}

/* A --listen value (sio_listen_parse()); fills the vhost's listening fields.
 * SIO_OK or SIO_ERR with a message printed (flag names the option). */
static int
wsd_listen_spec(const char *flag, const char *spec,
                struct lws_context_creation_info *info, char *host,
                size_t hostsize)
{
	struct sio_listen l;
	struct in_addr a4;
	char err[SIO_ERR_LEN];

	if (sio_listen_parse(spec, &l, err) != SIO_OK) {
		fprintf(stderr, "sio-wsd: %s: %s\n", flag, err);
		return SIO_ERR;
	}
	if (l.unix_path) {
		/* lws unlinks and binds it: refuse while another server is
		 * listening there (a stale file from a crash is fine) */
		if (wsd_sock_in_use(flag, spec) != SIO_OK)
			return SIO_ERR;
		info->options |= LWS_SERVER_OPTION_UNIX_SOCK;
		info->iface = spec;
		info->port = 0;
		return SIO_OK;
	}
	if (strlen(l.host) >= hostsize) {
		fprintf(stderr, "sio-wsd: %s '%s': host too long\n", flag,
		        spec);
		return SIO_ERR;
	}
	snprintf(host, hostsize, "%s", l.host);
	info->port = l.port;
	if (strcmp(host, "localhost") == 0)
		snprintf(host, hostsize, "127.0.0.1");
	if (host[0] == '\0')
		info->iface = NULL; /* every interface */
	else if (inet_pton(AF_INET, host, &a4) == 1) {
		/* With IPv6 on, lws binds in6addr_any for an IPv4 iface,
		 * i.e. every interface; loopback must mean loopback. */
		info->options |= LWS_SERVER_OPTION_DISABLE_IPV6;
		info->iface = strcmp(host, "0.0.0.0") == 0 ? NULL : host;
	} else
		info->iface = host; /* an IPv6 address or interface name */
	return SIO_OK;
}

/* What the command line says to listen on. */
struct wsd_listen {
	const char *ws;          /* --listen: websocket (and inline policy) */
	const char *flash;       /* --flash-listen: hixie-76, or NULL */
	const char *policy_host; /* --policy-host, or NULL: --listen's host */
};

/* The UNIX sockets this process bound (--listen, --flash-listen). */
#define WSD_MAX_SOCKS 2
static struct {
	const char *path;
	dev_t dev;
	ino_t ino;
} wsd_socks[WSD_MAX_SOCKS];
static int wsd_nsocks;

/*
 * lws_create_vhost(), a UNIX socket bound with mode 0660 (group access for
 * the web server, nobody else): the socket takes the umask's mode at
 * bind, so the umask is set around it (the store thread, the only
 * other one now, creates no file), never a chmod after the bind, which
 * left a window with the socket open to every user.
 */
static struct lws_vhost *
wsd_create_vhost(const struct lws_context_creation_info *info)
{
	int unix_sock = (info->options & LWS_SERVER_OPTION_UNIX_SOCK) != 0;
	mode_t old = 0;
	struct lws_vhost *vh;
	struct stat sb;

	if (unix_sock)
		old = umask(0117);
	vh = lws_create_vhost(wsd_lws, info);
	if (unix_sock)
		umask(old);
	if (vh != NULL && unix_sock && wsd_nsocks < WSD_MAX_SOCKS &&
	    stat(info->iface, &sb) == 0) {
		wsd_socks[wsd_nsocks].path = info->iface;
		wsd_socks[wsd_nsocks].dev = sb.st_dev;
		wsd_socks[wsd_nsocks++].ino = sb.st_ino;
	}
	return vh;
}

/* At exit: removes the socket files this process created, and only them
 * (never the one of another sio-wsd that has taken the path since). */
static void
wsd_unlink_socks(void)
{
	struct stat sb;

	for (int i = 0; i < wsd_nsocks; i++)
		if (stat(wsd_socks[i].path, &sb) == 0 &&
		    sb.st_dev == wsd_socks[i].dev &&
		    sb.st_ino == wsd_socks[i].ino)
			unlink(wsd_socks[i].path);
}

/*
 * The policy port's address when --policy-host does not say: the host of
 * --listen (a loopback sidecar keeps its policy port on loopback too), or
 * 127.0.0.1 when --listen is a UNIX socket.
 */
static void
wsd_policy_spec(const struct wsd_listen *l, char *spec, size_t size)
{
	const char *colon = strrchr(l->ws, ':');
	int n;

	if (l->policy_host != NULL)
		snprintf(spec, size, "%s:%d", l->policy_host,
		         wsd.cfg.flash_policy_port);
	else if (l->ws[0] == '/' || colon == NULL)
		snprintf(spec, size, "127.0.0.1:%d", wsd.cfg.flash_policy_port);
	else {
		n = (int)(colon - l->ws);
		snprintf(spec, size, "%.*s:%d", n, l->ws,
		         wsd.cfg.flash_policy_port);
	}
}

/* A raw-only vhost that listens nowhere itself: accept.c adopts its
 * connections, as protocol p. NULL (logged) on failure. */
static struct lws_vhost *
wsd_raw_vhost(struct lws_protocols protocols[3], const struct lws_protocols *p,
              const char *name)
{
	struct lws_context_creation_info info;
	struct lws_vhost *vh;

	protocols[0] = *p;
	protocols[1] = *wsd_accept_protocol();
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.vhost_name = name;
	vh = lws_create_vhost(wsd_lws, &info);
	if (vh == NULL)
		wsd_log(SIO_LOG_ERROR, "cannot create the vhost %s", name);
	return vh;
}

/*
 * The flash listener (hixie-76 and inline policy, raw sockets) and the
 * policy port (flash_policy_port; 0 disables it; a port that cannot be
 * bound is logged, not fatal), each its own raw-only vhost whose sockets
 * accept.c accepts, within max_raw_connections. SIO_OK or SIO_ERR.
 */
static int
wsd_start_flash(const struct wsd_listen *l)
{
	static struct lws_protocols flash[3], policy[3];
	struct lws_vhost *vh;
	char spec[300];

	if (!sio_config_transport_enabled(&wsd.cfg, SIO_TRANSPORT_FLASHSOCKET))
		return SIO_OK;
	if (l->flash != NULL) {
		/* accept.c unlinks and binds a path: refuse while another
		 * server listens there */
		if (l->flash[0] == '/' &&
		    wsd_sock_in_use("--flash-listen", l->flash) != SIO_OK)
			return SIO_ERR;
		vh =
		    wsd_raw_vhost(flash, wsd_flash_protocol(), "sio-wsd-flash");
		if (vh == NULL ||
		    wsd_accept_listen(vh, l->flash, flash[0].name) != SIO_OK)
			return SIO_ERR;
		wsd_log(SIO_LOG_INFO, "serving flashsocket (hixie-76) on %s",
		        l->flash);
	}
	if (wsd.cfg.flash_policy_port <= 0)
		return SIO_OK;
	wsd_policy_spec(l, spec, sizeof(spec));
	vh = wsd_raw_vhost(policy, wsd_policy_protocol(), "sio-wsd-policy");
	if (vh == NULL || wsd_accept_listen(vh, spec, policy[0].name) != SIO_OK)
		wsd_log(SIO_LOG_WARN,
		        "cannot serve the Flash policy on %s "
		        "(going on without it)",
		        spec);
	else
		wsd_log(SIO_LOG_INFO, "serving the Flash policy on %s", spec);
	return SIO_OK;
}

/* Descriptors beyond max_websockets (and, with flashsocket, the raw
 * connections' max_raw_connections): listeners, the doorbell, the
 * database files of the loop's and the store thread's connections, lws's
 * own, standard streams. */
#define WSD_FD_RESERVE 64

/*
 * Sets RLIMIT_NOFILE to what max_websockets needs. lws sizes its table
 * of connections by that limit when the context is created, and Debian's
 * build keeps lws's sanity checks, which walk the whole table as each
 * connection opens and closes (measured: 170 us of CPU a handshake +
 * connect with 20,000 slots, 158 with 2,000, about 0.7 ns a slot): a
 * limit left at a container's 1,048,576 would add about 0.7 ms to every
 * connection, one left at a login's 1,024 would refuse the 1,000th.
 * Raised up to the hard limit, or lowered; the hard limit stays.
 */
static void
wsd_set_nofile(int max_websockets, int max_raw)
{
	rlim_t want = (rlim_t)max_websockets + (rlim_t)max_raw + WSD_FD_RESERVE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		wsd_log(SIO_LOG_WARN, "getrlimit: %s", strerror(errno));
		return;
	}
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		wsd_log(SIO_LOG_WARN,
		        "max_websockets = %d needs %llu open files, the hard "
		        "limit allows %llu: at most about %llu connections",
		        max_websockets, (unsigned long long)want,
		        (unsigned long long)rl.rlim_max,
		        rl.rlim_max > WSD_FD_RESERVE + (rlim_t)max_raw
		            ? (unsigned long long)(rl.rlim_max -
		                                   WSD_FD_RESERVE -
		                                   (rlim_t)max_raw)
		            : 0ULL);
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		wsd_log(SIO_LOG_WARN, "setrlimit(RLIMIT_NOFILE, %llu): %s",
		        (unsigned long long)want, strerror(errno));
}

/* Adopts the doorbell into the websocket vhost, so that rings wake the
 * loop. lws closes what it adopted: it gets a copy of the descriptor, the
 * doorbell keeps its own. SIO_OK or SIO_ERR. */
static int
wsd_bell_adopt(void)
{
	lws_sock_file_fd_type fd;

	fd.filefd = dup(sio_doorbell_fd(wsd.bell));
	if (fd.filefd < 0)
		return SIO_ERR;
	wsd_bell_wsi = lws_adopt_descriptor_vhost(
	    wsd_vhost, LWS_ADOPT_RAW_FILE_DESC, fd, "sio-doorbell", NULL);
	if (wsd_bell_wsi == NULL) {
		close(fd.filefd);
		return SIO_ERR;
	}
	return SIO_OK;
}

/*
 * The lws context with its vhosts: the websocket listener (whose raw
 * fallback answers an inline policy request, lws not taking it for HTTP),
 * with the doorbell adopted into it, then the flash ones.
 */
static int
wsd_start_lws(const struct wsd_listen *l)
{
	static struct lws_protocols protocols[4];
	static char host[256];
	struct lws_context_creation_info info;
	struct lws_vhost *vh;

	memset(&info, 0, sizeof(info));
	/* lws 4.1 reads VALIDATE_UTF8 from the context's options only (a
	 * vhost's is ignored): text frames that are not UTF-8 get 1007 */
	info.options =
	    LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.gid = -1;
	info.uid = -1;
	wsd_set_nofile(
	    wsd.cfg.max_websockets,
	    sio_config_transport_enabled(&wsd.cfg, SIO_TRANSPORT_FLASHSOCKET)
	        ? wsd.cfg.max_raw_connections
	        : 0);
	wsd_lws = lws_create_context(&info);
	if (wsd_lws == NULL) {
		wsd_log(SIO_LOG_ERROR, "cannot create the lws context");
		return SIO_ERR;
	}
	wsd_conn_init(wsd_lws);
	protocols[0] = *wsd_ws_protocol();
	protocols[1] = (struct lws_protocols){.name = "sio-doorbell",
	                                      .callback = wsd_bell_callback};
	protocols[2] = *wsd_flash_protocol();
	memset(&info, 0, sizeof(info));
	if (wsd_listen_spec("--listen", l->ws, &info, host, sizeof(host)) !=
	    SIO_OK)
		return SIO_ERR;
	info.protocols = protocols;
	info.vhost_name = WSD_VHOST;
	if (sio_config_transport_enabled(&wsd.cfg, SIO_TRANSPORT_FLASHSOCKET)) {
		/* `<` is no HTTP method: lws hands such a connection, with
		 * the bytes it read, to the flash protocol (inline policy) */
		info.options |=
		    LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG;
		info.listen_accept_role = "raw-skt";
		info.listen_accept_protocol = protocols[2].name;
	}
	vh = wsd_create_vhost(&info);
	if (vh == NULL) {
		wsd_log(SIO_LOG_ERROR, "cannot listen on %s", l->ws);
		return SIO_ERR;
	}
	wsd_vhost = vh;
	if (wsd_bell_adopt() != SIO_OK) {
		wsd_log(SIO_LOG_ERROR, "cannot adopt the doorbell");
		return SIO_ERR;
	}
	if (wsd_start_flash(l) != SIO_OK)
		return SIO_ERR;
	if (wsd_start_bridge() != SIO_OK)
		return SIO_ERR;
	/* The first tick compares with this: a row written by the sqlite3
	 * shell before it is not missed. */
	(void)sio_store_tick(wsd.x.store, sio_session_now());
	lws_sul_schedule(wsd_lws, 0, &wsd_tick_sul, wsd_tick,
	                 SIO_WATCH_MS * LWS_US_PER_MS);
	return SIO_OK;
}

/*
 * The store's housekeeping off the event loop (sio_store_maintain(): for
 * SQLite, the WAL's checkpoints, whose fsyncs would otherwise run in the
 * loop's commits), on a store connection of its own.
 */
static void *
wsd_maintainer(void *arg)
{
	static struct sio_ratelimit rl; /* every turn while the store fails */
	struct sio_store *st = arg;
	const struct timespec nap = {0, SIO_STORE_MAINTAIN_MS * 1000000L};

	for (;;) {
		nanosleep(&nap, NULL);
		if (sio_store_maintain(st, sio_session_now()) != SIO_OK)
			wsd_log_limited(&rl, SIO_LOG_WARN, "store: %s",
			                sio_store_errmsg(st));
	}
	return NULL;
}

/* Starts wsd_maintainer() on a store of its own, signals blocked (the
 * loop's thread takes them). SIO_OK or SIO_ERR (logged). */
static int
wsd_start_maintainer(void)
{
	char err[SIO_ERR_LEN];
	struct sio_store *st =
	    sio_store_open_config(&wsd.cfg, SIO_STORE_MAINTAIN, err);
	int rc;

	if (st == NULL) {
		wsd_log(SIO_LOG_ERROR, "store %s: %s",
		        sio_store_label(wsd.cfg.database), err);
		return SIO_ERR;
	}
	rc = sio_thread_start(wsd_maintainer, st, SIO_THREAD_STACK, NULL);
	if (rc != 0) {
		wsd_log(SIO_LOG_ERROR, "store thread: %s", strerror(rc));
		sio_store_close(st);
		return SIO_ERR;
	}
	return SIO_OK;
}

/* The store, the doorbell and the process row; SIO_OK or SIO_ERR. */
static int
wsd_register(void)
{
	char err[SIO_ERR_LEN];

	wsd.x.store = sio_store_open_config(&wsd.cfg, SIO_STORE_LOOP, err);
	if (wsd.x.store == NULL) {
		wsd_log(SIO_LOG_ERROR, "store %s: %s",
		        sio_store_label(wsd.cfg.database), err);
		return SIO_ERR;
	}
	if (wsd_start_maintainer() != SIO_OK)
		return SIO_ERR;
	/* a batch runs the handlers of many sessions at once (conn.c) */
	wsd.x.keep_runs = WSD_KEEP_RUNS;
	/* The row first: the name is ours before its doorbell file is. */
	if (sio_store_process_new(wsd.x.store, "wsd", (int)getpid(),
	                          sio_session_now(), wsd.holder) != SIO_OK) {
		wsd_log(SIO_LOG_ERROR, "register: %s",
		        sio_store_errmsg(wsd.x.store));
		return SIO_ERR;
	}
	wsd.bell = sio_doorbell_open(wsd.cfg.run_dir, wsd.holder,
	                             wsd.cfg.db_group, err);
	if (wsd.bell == NULL) {
		wsd_log(SIO_LOG_ERROR, "doorbell: %s", err);
		return SIO_ERR; /* wsd_unregister() removes the row */
	}
	wsd_far_listen();
	wsd_log(SIO_LOG_INFO, "registered as %s", wsd.holder);
	return SIO_OK;
}

static void
wsd_unregister(void)
{
	if (wsd.x.store != NULL && wsd.holder[0] != '\0')
		sio_session_unregister(wsd.x.store, wsd.holder,
		                       sio_session_now());
	sio_store_unlisten(wsd.far);
	wsd.far = NULL;
	if (wsd.bell != NULL)
		sio_doorbell_close(wsd.bell);
	if (wsd.x.store != NULL)
		sio_store_close(wsd.x.store);
	sio_session_ctx_cleanup(&wsd.x);
	wsd.bell = NULL;
	wsd.x.store = NULL;
}

static void
wsd_usage(FILE *out)
{
	fputs(
	    "usage: sio-wsd [-c FILE] [--check-config] "
	    "[--listen HOST:PORT|PATH]\n"
	    "               [--flash-listen HOST:PORT|PATH] "
	    "[--policy-host HOST]\n"
	    "       sio-wsd --help | --version\n"
	    "  -c FILE             configuration (default $SIOGATE_CONF, else\n"
	    "                      " SIO_CONFIG_DEFAULT ")\n"
	    "  --check-config      check the configuration and exit\n"
	    "  --listen SPEC       websocket address "
	    "(default " WSD_DEFAULT_LISTEN ") or UNIX socket path;\n"
	    "                      also answers an inline Flash policy "
	    "request\n"
	    "  --flash-listen SPEC hixie-76 flashsocket listener (raw "
	    "sockets; lws 4.1\n"
	    "                      drops hixie-76 on --listen): route the web "
	    "server's\n"
	    "                      /<resource>/1/flashsocket/ here; none by "
	    "default\n"
	    "  --policy-host HOST  host of the Flash policy port "
	    "(flash_policy_port;\n"
	    "                      default: the host of --listen, 127.0.0.1 "
	    "for a path;\n"
	    "                      '*' for every interface)\n"
	    "  --help              this text; --version: the version\n"
	    "Signals: TERM and INT stop; HUP reloads the configuration and "
	    "reopens the log.\n"
	    "Exit status: 0 stopped by a signal, or --check-config found no "
	    "error;\n"
	    "  1 a runtime failure (store, listener); 64 bad command line;\n"
	    "  78 configuration error (unreadable file, bad or out-of-range "
	    "setting, app).\n",
	    out);
}

/* Reads the configuration and the application. SIO_OK or SIO_ERR. */
static int
wsd_setup(const char *conf)
{
	char err[SIO_ERR_LEN];

	if (sio_plugin_setup(conf, &wsd.cfg, &wsd.plugin, err) != SIO_OK) {
		fprintf(stderr, "sio-wsd: %s\n", err);
		return SIO_ERR;
	}
	wsd.x.plugin = wsd.plugin;
	wsd.x.cfg = &wsd.cfg;
	atomic_store(&wsd_level, (int)wsd.cfg.log_level);
	return SIO_OK;
}

int
main(int argc, char **argv)
{
	const char *conf = NULL;
	struct wsd_listen l = {WSD_DEFAULT_LISTEN, NULL, NULL};
	struct sigaction sa;
	int check = 0, rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "--check-config") == 0)
			check = 1;
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			l.ws = argv[++i];
		else if (strcmp(argv[i], "--flash-listen") == 0 && i + 1 < argc)
			l.flash = argv[++i];
		else if (strcmp(argv[i], "--policy-host") == 0 && i + 1 < argc)
			l.policy_host = argv[++i];
		else if (strcmp(argv[i], "--help") == 0 ||
		         strcmp(argv[i], "-h") == 0) {
			wsd_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("sio-wsd siogate %s\n", SIOGATE_VERSION);
			return 0;
		} else {
			fprintf(stderr, "sio-wsd: bad argument '%s'\n",
			        argv[i]);
			wsd_usage(stderr);
			return EX_USAGE;
		}
	}
	if (wsd_setup(conf) != SIO_OK)
		return EX_CONFIG;
	if (sio_config_transport_enabled(&wsd.cfg, SIO_TRANSPORT_FLASHSOCKET) &&
	    wsd_flash_init() != SIO_OK)
		return EX_CONFIG;
	if (check) {
		printf("sio-wsd: configuration ok\n");
		return 0;
	}
	{
		char err[SIO_ERR_LEN];

		if (sio_log_sink_open(&wsd_sink, "sio-wsd", wsd.cfg.log, err) !=
		    SIO_OK) {
			fprintf(stderr, "sio-wsd: %s\n", err);
			return EX_CONFIG;
		}
	}
	if (sio_config_path_is_default(conf) &&
	    access(sio_config_path(conf), F_OK) != 0)
		wsd_log(SIO_LOG_INFO, "no %s: built-in defaults",
		        sio_config_path(conf));
	else
		wsd_log(SIO_LOG_INFO, "configuration %s",
		        sio_config_path(conf));
	lws_set_log_level(
	    LLL_ERR | LLL_WARN |
	        (wsd.cfg.log_level >= SIO_LOG_DEBUG ? LLL_NOTICE : 0),
	    wsd_lws_log);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wsd_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (wsd_register() == SIO_OK && wsd_start_lws(&l) == SIO_OK) {
		wsd_log(SIO_LOG_INFO, "serving websocket on %s", l.ws);
		while (!wsd_stopping && lws_service(wsd_lws, 0) >= 0)
			if (wsd_reloading) {
				wsd_reloading = 0;
				wsd_reload(conf);
			}
		wsd_log(SIO_LOG_INFO, "stopping with %d connections",
		        wsd_conn_count());
		wsd_drain();
		rc = 0;
	}
	wsd_stopping = 1;
	if (wsd_lws != NULL) {
		lws_sul_cancel(&wsd_tick_sul);
		/* requests in flight are cancelled: their events are taken
		 * again, here or elsewhere */
		sio_bridge_hook(wsd.x.store, NULL);
		sio_bridge_free(wsd.bridge);
		sio_store_close(wsd_bridge_store);
		wsd.bridge = NULL;
		wsd_conn_init(NULL);
		lws_context_destroy(wsd_lws); /* CLOSED detaches each socket */
		wsd_lws = NULL;
		wsd_conn_flush_all(); /* ... in the last batches */
	}
	wsd_unlink_socks();
	wsd_unregister();
	return rc;
}
