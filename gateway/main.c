/*
 * main.c: sio-gateway's entry point and its one global, the server struct.
 * It reads the configuration, picks the mode (standalone listener, plain
 * CGI, or FastCGI on fd 0 as spawned by a web server), registers the
 * process doorbell, opens the writer (write.c) and starts the threads: the
 * FastCGI workers, the dispatcher that turns doorbell rings into wake-ups,
 * and the ticker that sweeps timeouts and asks the store whether others
 * wrote (sio_store_tick()).
 * Signals are taken by sigwait() here, because libfcgi's own handlers only
 * stop a thread that sits in accept(): TERM and INT stop, HUP reloads the
 * configuration (gw_reload()) and reopens the log.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "doorbell.h"
#include "gateway.h"
#include "plugin.h"
#include "log.h"
#include "store.h"
#include "thread.h"

struct gw_server gw;

static atomic_llong gw_conn_counter;
static int gw_stop_fd = -1;     /* eventfd that wakes the dispatcher */
static atomic_int gw_stopping;  /* ... to stop, else to take gw.bell anew */
static pthread_t gw_dispatcher; /* joined before the doorbell closes */

/* The lease (gw_lease()) and what a fence changes: gw.holder, gw.bell,
 * the doorbell it replaced (closed by the dispatcher once it no longer
 * polls it), and whether the process has unregistered for good. */
static pthread_mutex_t gw_lease_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sio_doorbell *gw_bell_old;
static int gw_leaving;

/* the `log` setting */
static struct sio_log_sink gw_sink = {.prog = "sio-gateway", .fd = -1};

/* The level of a line that may be written: the configuration's, or every
 * line before it is read. */
static int
gw_log_enabled(enum sio_log_level level)
{
	const struct sio_config *c = gw.cfg;

	return c == NULL || level <= c->log_level;
}

void
gw_log(enum sio_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!gw_log_enabled(level))
		return;
	va_start(ap, fmt);
	sio_log_sink_vlog(&gw_sink, level, fmt, ap);
	va_end(ap);
}

void
gw_log_limited(struct sio_ratelimit *rl, enum sio_log_level level,
               const char *fmt, ...)
{
	va_list ap;

	if (!gw_log_enabled(level))
		return;
	va_start(ap, fmt);
	sio_log_sink_vlimited(&gw_sink, rl, level, fmt, ap);
	va_end(ap);
}

long long
gw_conn_next(void)
{
	return atomic_fetch_add(&gw_conn_counter, 1) + 1;
}

/* Turns doorbell rings into wake-ups of the requests waiting on the sid,
 * until gw_stop_fd is written with gw_stopping set; written without, it
 * takes the doorbell a fence opened (gw.bell) and closes the old one. It
 * polls again each SIO_WATCH_MS: a bell bound again (gw_tick) is then
 * the one polled. */
static void *
gw_dispatch(void *arg)
{
	struct pollfd p[2] = {{-1, POLLIN, 0}, {gw_stop_fd, POLLIN, 0}};
	struct sio_doorbell *bell, *old;
	char sid[SIO_SID_LEN + 8];
	uint64_t n;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&gw_lease_lock);
		bell = gw.bell;
		old = gw_bell_old;
		gw_bell_old = NULL;
		pthread_mutex_unlock(&gw_lease_lock);
		sio_doorbell_close(old);
		p[0].fd = sio_doorbell_fd(bell);
		if (poll(p, 2, SIO_WATCH_MS) < 0 && errno != EINTR)
			break;
		if (p[1].revents != 0) {
			if (atomic_load(&gw_stopping))
				break;
			if (read(gw_stop_fd, &n, sizeof(n)) < 0)
				gw_log(SIO_LOG_WARN, "dispatcher: %s",
				       strerror(errno));
			continue;
		}
		while (sio_doorbell_recv(bell, sid, sizeof(sid)) == SIO_OK)
			gw_wait_ring(strcmp(sid, SIO_DOORBELL_ALL) == 0 ? NULL
			                                                : sid);
	}
	return NULL;
}

/* Listens for the rings of other hosts' writers for name (a database
 * server's), in place of those for the previous name. */
static void
gw_far_listen(const char *name)
{
	char err[SIO_ERR_LEN];

	sio_store_unlisten(gw.far);
	gw.far = sio_store_listen(gw.cfg->database, name, gw.cfg->run_dir, err);
	if (gw.far == NULL && err[0] != '\0')
		gw_log(SIO_LOG_WARN,
		       "rings from other hosts: %s (their writes are found "
		       "each second instead)",
		       err);
}

/*
 * This process's row was reaped (its lease lapsed: the process stood
 * still longer than process_lease, or the clocks jumped): its sessions
 * were detached, what it was writing given back and its doorbell removed,
 * and another process may have taken its sessions over. It fences itself:
 * it registers under a new name with a new doorbell, and wakes every
 * waiting request, which no longer holds its session under that name and
 * is answered (a long poll with 8::, an htmlfile stream ends), so that its
 * client comes back, to any process. Under gw_lease_lock; a step that
 * fails is tried again at the next renewal, which fails again.
 */
static void
gw_fence(struct sio_store *st)
{
	char name[SIO_HOLDER_LEN], err[SIO_ERR_LEN];
	struct sio_doorbell *bell;
	uint64_t one = 1;
	char *copy;

	gw_log(SIO_LOG_WARN,
	       "%s was reaped (lease lapsed): answering its waiting requests, "
	       "registering anew",
	       gw.holder);
	if (sio_store_process_new(st, "gw", (int)getpid(), sio_session_now(),
	                          name) != SIO_OK) {
		gw_log(SIO_LOG_ERROR, "register: %s", sio_store_errmsg(st));
		return;
	}
	bell = sio_doorbell_open(gw.cfg->run_dir, name, gw.cfg->db_group, err);
	copy = bell != NULL ? strdup(name) : NULL;
	if (copy == NULL) {
		gw_log(SIO_LOG_ERROR, "doorbell: %s",
		       bell ? "out of memory" : err);
		sio_doorbell_close(bell);
		sio_session_unregister(st, name, sio_session_now());
		return;
	}
	if (gw_bell_old == NULL)
		gw_bell_old = gw.bell;
	else /* the dispatcher has not taken the last one: never polled */
		sio_doorbell_close(gw.bell);
	gw.bell = bell;
	gw.holder = copy;
	if (write(gw_stop_fd, &one, sizeof(one)) != sizeof(one))
		gw_log(SIO_LOG_WARN, "dispatcher: %s", strerror(errno));
	gw_wait_ring(NULL);
	gw_far_listen(name);
	gw_log(SIO_LOG_INFO, "registered as %s", name);
}

/* Renews this process's lease on st, and fences the process when its row
 * is gone. Once a second: the ticker, or as CGI gw_cgi_lease(). */
static void
gw_lease(struct sio_store *st)
{
	int rc;

	pthread_mutex_lock(&gw_lease_lock);
	if (!gw_leaving) {
		rc = sio_store_process_renew(st, gw.holder, sio_session_now());
		if (rc == SIO_ABSENT)
			gw_fence(st);
		else if (rc != SIO_OK)
			gw_log(SIO_LOG_WARN, "lease: %s", sio_store_errmsg(st));
	}
	pthread_mutex_unlock(&gw_lease_lock);
}

/* This process's name now (a fence changes it). */
static const char *
gw_holder(void)
{
	const char *h;

	pthread_mutex_lock(&gw_lease_lock);
	h = gw.holder;
	pthread_mutex_unlock(&gw_lease_lock);
	return h;
}

/* A renewal of holder found its row gone: fences the process, unless it
 * is leaving or another thread fenced it meanwhile (a new name). */
static void
gw_lease_lost(struct sio_store *st, const char *holder)
{
	pthread_mutex_lock(&gw_lease_lock);
	if (!gw_leaving && gw.holder == holder)
		gw_fence(st);
	pthread_mutex_unlock(&gw_lease_lock);
}

void
gw_lease_now(struct sio_session_ctx *x)
{
	struct sio_session_ctx *wx = gw_write_lock(x);

	if (wx->store != NULL)
		gw_lease(wx->store);
	gw_write_unlock(wx);
}

/* As CGI no ticker runs: this thread renews the lease of a request that
 * lasts (a long poll, an htmlfile stream), on a store connection of its
 * own, opened at the first renewal (most requests end before it). */
static void *
gw_cgi_lease(void *arg)
{
	const struct timespec nap = {SIO_SWEEP_MS / 1000,
	                             (SIO_SWEEP_MS % 1000) * 1000000L};
	struct sio_store *st = NULL;

	(void)arg;
	for (;;) {
		nanosleep(&nap, NULL);
		if (st == NULL && (st = gw_store_open(SIO_STORE_PLAIN)) == NULL)
			continue;
		gw_lease(st);
	}
	return NULL;
}

static void
gw_ring_ready(void *udata, const char *sid)
{
	(void)udata;
	gw_wait_ring(sid);
}

/*
 * Every SIO_STORE_MAINTAIN_MS, the store's housekeeping on the ticker's
 * own connection (sio_store_maintain(): for SQLite, the checkpoints that
 * the writer, write.c, leaves to it); once a second (SIO_WATCH_MS,
 * SIO_SWEEP_MS): on the writer's connection, the timers in one
 * transaction (the lease, heartbeats of the sessions held here, the sweep
 * when this process takes it, the writer's counters kept in memory:
 * sio_session_timers()), the pool's unused connections closed
 * (gw_pool_trim()), and sio_store_watch(), which catches rows written by
 * programs that do not ring (the sqlite3 shell, a cron job). It says yes
 * after any other connection's commit, the other threads' included, so it
 * only tells that something was written: the waiters woken are those of
 * sessions held here with a packet ready, not every one.
 */
static void *
gw_tick(void *arg)
{
	/* once a second while the store is locked or full: a few lines a minute
	 */
	static struct sio_ratelimit sweep_rl, outbox_rl, bell_rl, keep_rl;
	char err[SIO_ERR_LEN];
	struct sio_session_ctx x = {.plugin = gw.plugin, .cfg = gw.cfg};
	struct timespec nap = {0, SIO_STORE_MAINTAIN_MS * 1000000L};
	int rc;

	(void)arg;
	x.store = gw_store_open(SIO_STORE_MAINTAIN);
	if (x.store == NULL)
		return NULL;
	for (unsigned n = 1;; n++) {
		nanosleep(&nap, NULL);
		x.cfg = gw.cfg; /* the one reloaded last */
		if (sio_store_maintain(x.store, sio_session_now()) != SIO_OK)
			gw_log_limited(&keep_rl, SIO_LOG_WARN, "store: %s",
			               sio_store_errmsg(x.store));
		if (n % (SIO_WATCH_MS / SIO_STORE_MAINTAIN_MS) != 0)
			continue;
		struct sio_session_ctx *wx = gw_write_lock(&x);
		const char *holder = gw_holder();

		rc = sio_session_timers(wx, holder, sio_session_now());
		if (rc == SIO_ABSENT)
			gw_lease_lost(wx->store, holder);
		else if (rc < 0)
			gw_log_limited(&sweep_rl, SIO_LOG_WARN, "timers: %s",
			               sio_store_errmsg(wx->store));
		gw_write_unlock(wx);
		gw_pool_trim(sio_session_mono());
		switch (sio_doorbell_check(gw.bell, err)) {
		case SIO_ABSENT: /* rings went nowhere until now */
			gw_log(SIO_LOG_WARN, "doorbell: %s", err);
			break;
		case SIO_ERR:
			gw_log_limited(&bell_rl, SIO_LOG_ERROR, "doorbell: %s",
			               err);
			break;
		}
		if (sio_store_watch(x.store, gw_holder(), sio_session_now(),
		                    gw_ring_ready, NULL) < 0)
			gw_log_limited(&outbox_rl, SIO_LOG_WARN, "outbox: %s",
			               sio_store_errmsg(x.store));
	}
	return NULL;
}

static void *
gw_worker(void *arg)
{
	gw_fcgi_worker((int)(intptr_t)arg);
	return NULL;
}

/* Starts fn(arg) (sio_thread_start()): detached, or joinable into *tid;
 * SIO_OK or SIO_ERR (logged). */
static int
gw_start(void *(*fn)(void *), void *arg, pthread_t *tid)
{
	int rc = sio_thread_start(fn, arg, SIO_THREAD_STACK, tid);

	if (rc != 0)
		gw_log(SIO_LOG_ERROR, "pthread_create: %s", strerror(rc));
	return rc == 0 ? SIO_OK : SIO_ERR;
}

/* The process row, then its doorbell (the name is ours before its file
 * is) and the dispatcher; SIO_OK or SIO_ERR (logged). */
static int
gw_register(void)
{
	char name[SIO_HOLDER_LEN], err[SIO_ERR_LEN];
	struct sio_store *st = gw_store_open(SIO_STORE_PLAIN);

	if (st == NULL)
		return SIO_ERR;
	if (sio_store_process_new(st, "gw", (int)getpid(), sio_session_now(),
	                          name) != SIO_OK) {
		gw_log(SIO_LOG_ERROR, "register: %s", sio_store_errmsg(st));
		sio_store_close(st);
		return SIO_ERR;
	}
	gw.bell =
	    sio_doorbell_open(gw.cfg->run_dir, name, gw.cfg->db_group, err);
	if (gw.bell == NULL || (gw.holder = strdup(name)) == NULL) {
		gw_log(SIO_LOG_ERROR, "doorbell: %s",
		       gw.bell ? "out of memory" : err);
		sio_session_unregister(st, name, sio_session_now());
		sio_store_close(st);
		return SIO_ERR;
	}
	sio_store_close(st);
	gw_stop_fd = eventfd(0, EFD_CLOEXEC);
	if (gw_stop_fd < 0 ||
	    gw_start(gw_dispatch, NULL, &gw_dispatcher) != SIO_OK) {
		gw_log(SIO_LOG_ERROR, "dispatcher: %s", strerror(errno));
		return SIO_ERR;
	}
	gw_far_listen(name);
	gw_log(SIO_LOG_DEBUG, "registered as %s", name);
	return SIO_OK;
}

static void
gw_unregister(void)
{
	struct sio_store *st = gw_store_open(SIO_STORE_PLAIN);
	uint64_t one = 1;

	pthread_mutex_lock(&gw_lease_lock);
	gw_leaving = 1; /* no renewal, no fence from now on */
	if (st != NULL) {
		sio_session_unregister(st, gw.holder, sio_session_now());
		sio_store_close(st);
	}
	pthread_mutex_unlock(&gw_lease_lock);
	atomic_store(&gw_stopping, 1);
	if (write(gw_stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(gw_dispatcher, NULL);
	sio_store_unlisten(gw.far);
	gw.far = NULL;
	sio_doorbell_close(gw_bell_old);
	sio_doorbell_close(gw.bell);
	gw_bell_old = NULL;
	gw.bell = NULL;
}

static void
gw_usage(FILE *out)
{
	fputs(
	    "usage: sio-gateway [-c FILE] [--check-config] "
	    "[--listen HOST:PORT|PATH]\n"
	    "       sio-gateway --help | --version\n"
	    "  -c FILE           configuration (default $SIOGATE_CONF, "
	    "else " SIO_CONFIG_DEFAULT ")\n"
	    "  --check-config    check the configuration and exit\n"
	    "  --listen SPEC     standalone FastCGI listener\n"
	    "  --bridge-send     (app = bridge) send the events a CGI request "
	    "queued\n"
	    "  --help            this text; --version: the version\n"
	    "Without --listen: CGI when started as CGI, else FastCGI on "
	    "fd 0.\n"
	    "Signals: TERM and INT stop; HUP reloads the configuration and "
	    "reopens the log.\n"
	    "Exit status: 0 stopped by a signal, or --check-config found "
	    "no error;\n"
	    "  1 a runtime failure (store, listener); 64 bad command line;\n"
	    "  78 configuration error (unreadable file, bad or out-of-range "
	    "setting, app).\n",
	    out);
}

/*
 * A CGI request that Apache rewrote internally (an .htaccess RewriteRule
 * to sio-gateway.cgi) carries the variables set for the first pass renamed
 * REDIRECT_*: SetEnv applies again only where the second pass meets it,
 * mod_rewrite's [E=] never does. SIOGATE_CONF wins when both are set. The
 * server sets these, never the client (its headers arrive as HTTP_*).
 * Returns the path, or NULL for sio_config_path()'s own choice.
 */
static const char *
gw_cgi_conf(void)
{
	const char *v = getenv(SIO_CONFIG_ENV);

	if (v != NULL && *v != '\0')
		return NULL;
	v = getenv("REDIRECT_" SIO_CONFIG_ENV);
	return v != NULL && *v != '\0' ? v : NULL;
}

/* Reads the configuration and the application: SIO_OK, or SIO_ERR with
 * the reason printed. */
static int
gw_setup(const char *conf)
{
	char err[SIO_ERR_LEN];
	struct sio_config *c = malloc(sizeof(*c));

	if (c == NULL || sio_plugin_setup(conf, c, &gw.plugin, err) != SIO_OK) {
		fprintf(stderr, "sio-gateway: %s\n",
		        c != NULL ? err : "out of memory");
		free(c);
		return SIO_ERR;
	}
	gw.cfg = c;
	return SIO_OK;
}

/* Says which file the configuration came from. */
static void
gw_log_source(const char *conf)
{
	const char *path = sio_config_path(conf);

	if (sio_config_path_is_default(conf) && access(path, F_OK) != 0)
		gw_log(SIO_LOG_INFO, "no %s: built-in defaults", path);
	else
		gw_log(SIO_LOG_INFO, "configuration %s", path);
}

/*
 * SIGHUP: reads the file again and publishes what may change while
 * requests run (sio_config_keep_fixed(): origins, limits, log level, the
 * log); the rest keeps its value until a restart, and a line says which.
 * A file with an error changes nothing. The old configuration is never
 * freed: a request may still be reading it.
 */
static void
gw_reload(const char *conf)
{
	char err[SIO_ERR_LEN], kept[512];
	struct sio_config *next = malloc(sizeof(*next));
	const struct sio_config *cur = gw.cfg;

	if (next == NULL || sio_config_read(next, conf, err) != SIO_OK) {
		gw_log(SIO_LOG_ERROR,
		       "reload: %s; going on with the configuration as it was",
		       next != NULL ? err : "out of memory");
		free(next);
		return;
	}
	if (sio_config_keep_fixed(cur, next, kept, sizeof(kept)) > 0)
		gw_log(SIO_LOG_WARN, "reload: kept until a restart: %s", kept);
	if (sio_log_sink_open(&gw_sink, "sio-gateway", next->log, err) !=
	    SIO_OK) {
		gw_log(SIO_LOG_ERROR, "reload: %s; log kept", err);
		snprintf(next->log, sizeof(next->log), "%s", cur->log);
	}
	gw.cfg = next;
	gw_log(SIO_LOG_INFO, "reloaded %s", sio_config_path(conf));
}

/*
 * Whoever connects to a TCP listener sends the request's REMOTE_ADDR,
 * which bind_address, stats_allow and the session caps trust. libfcgi
 * accepts connections from FCGI_WEB_SERVER_ADDRS only, when set (IPv4);
 * a local user still connects from 127.0.0.1, which only a UNIX socket
 * (mode 0660) keeps out.
 */
static void
gw_listen_warn(int fd, const char *spec)
{
	const char *addrs = getenv("FCGI_WEB_SERVER_ADDRS");
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0 ||
	    (sa.ss_family != AF_INET && sa.ss_family != AF_INET6))
		return;
	if (addrs != NULL && *addrs != '\0' && sa.ss_family == AF_INET6)
		gw_log(SIO_LOG_WARN,
		       "FastCGI on TCP %s (IPv6) from any address: libfcgi "
		       "applies FCGI_WEB_SERVER_ADDRS to IPv4 only; listen on "
		       "an IPv4 address or a UNIX socket",
		       spec);
	else if (addrs == NULL || *addrs == '\0')
		gw_log(SIO_LOG_WARN,
		       "FastCGI on TCP %s from any address: set "
		       "FCGI_WEB_SERVER_ADDRS to the web server's, or better "
		       "listen on a UNIX socket (any local user can connect "
		       "to a TCP port and choose REMOTE_ADDR)",
		       spec);
	else
		gw_log(
		    SIO_LOG_INFO,
		    "FastCGI on TCP %s from %s only (FCGI_WEB_SERVER_ADDRS); "
		    "local users can still connect: prefer a UNIX socket",
		    spec, addrs);
}

int
main(int argc, char **argv)
{
	const char *conf = NULL, *listen_spec = NULL;
	char err[SIO_ERR_LEN];
	int check = 0, bridge_send = 0, lsock = 0, sig, rc;
	sigset_t set;

	/* A CGI request's arguments are the words of a query string without
	 * '=' (RFC 3875 4.4: Apache passes `?disconnect` as argv[1]), never
	 * options: a client must not choose the configuration file. */
	if (getenv("GATEWAY_INTERFACE") != NULL &&
	    getenv("REQUEST_METHOD") != NULL) {
		argc = 1;
		conf = gw_cgi_conf();
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "--check-config") == 0)
			check = 1;
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen_spec = argv[++i];
		else if (strcmp(argv[i], "--bridge-send") == 0)
			bridge_send = 1;
		else if (strcmp(argv[i], "--help") == 0 ||
		         strcmp(argv[i], "-h") == 0) {
			gw_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("sio-gateway siogate %s\n", SIOGATE_VERSION);
			return 0;
		} else {
			fprintf(stderr, "sio-gateway: bad argument '%s'\n",
			        argv[i]);
			gw_usage(stderr);
			return EX_USAGE;
		}
	}
	/* glibc gives the free top of a heap back to the kernel once it
	 * passes 128 KiB (dynamically adjusted): SQLite's statement journal
	 * (any UPDATE of an indexed, CHECKed column) crossed that on every
	 * statement, and each cost an madvise() and the page faults after
	 * it, 40 us an attach. A fixed 1 MiB per heap stops the bouncing. */
	mallopt(M_TRIM_THRESHOLD, 1 << 20);
	if (gw_setup(conf) != SIO_OK)
		return EX_CONFIG;
	if (check) {
		printf("sio-gateway: configuration ok\n");
		return 0;
	}
	if (sio_log_sink_open(&gw_sink, "sio-gateway", gw.cfg->log, err) !=
	    SIO_OK) {
		fprintf(stderr, "sio-gateway: %s\n", err);
		return EX_CONFIG;
	}
	if (bridge_send) /* started by a CGI request (bridge.c) */
		return gw_bridge_send();
	gw_log_source(conf);
	/* libfcgi installs SIGPIPE/SIGTERM handlers at init; block the
	 * stopping signals first so that every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (listen_spec != NULL) {
		gw_fcgi_is_cgi(); /* initialises libfcgi */
		lsock = gw_fcgi_listen(listen_spec, err);
		if (lsock < 0) {
			fprintf(stderr, "sio-gateway: %s\n", err);
			return 1;
		}
		gw_listen_warn(lsock, listen_spec);
	} else if (gw_fcgi_is_cgi()) {
		/* One request per process: the web server's TERM must end it
		 * (libfcgi's handler would ignore it); a process that dies
		 * without unregistering is reaped once its lease lapses. */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		if (gw_fcgi_cgi_static())
			return 0; /* a page's socket.io.js: no database */
		if (gw_register() != SIO_OK)
			return 1;
		rc = gw_start(gw_cgi_lease, NULL, NULL) == SIO_OK
		         ? gw_fcgi_cgi(conf)
		         : 1;
		gw_unregister();
		return rc;
	}
	if (listen_spec == NULL)
		gw_listen_warn(lsock, "fd 0"); /* spawned by the web server */
	if (gw_register() != SIO_OK || gw_bridge_start() != SIO_OK ||
	    gw_write_open() != SIO_OK)
		return 1;
	if (gw_start(gw_tick, NULL, NULL) != SIO_OK)
		return 1;
	for (int i = 0; i < gw.cfg->threads; i++)
		if (gw_start(gw_worker, (void *)(intptr_t)lsock, NULL) !=
		    SIO_OK)
			return 1;
	gw_log(SIO_LOG_INFO, "serving with %d threads", gw.cfg->threads);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
		gw_reload(conf);
	}
	gw_log(SIO_LOG_INFO, "stopping on signal %d", sig);
	gw_write_flush(0);
	gw_unregister();
	return 0;
}
