/*
 * bridge.c: the gateway's side of app = bridge (common/bridge.h). As
 * FastCGI, one thread runs the dispatcher (sio_bridge_start()): the
 * request threads only kick it (every store connection's commit that
 * queued an event does, gw_store_open()), so no request thread waits for
 * the application. As CGI, the request's process answers first; then, if
 * events wait for the application, it starts the sender: sio-gateway
 * again (--bridge-send), in a session of its own, which sends the
 * request's events, then those the scan finds, and exits. The web server
 * ends (and may kill) the request's process once the response is
 * complete; the sender is a new program, not a fork, because a SQLite
 * connection must not cross a fork.
 */
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "bridge.h"
#include "gateway.h"
#include "sidset.h"
#include "store.h"

/* The sender stays at most this long, taking events until a request's
 * timeout before its end. */
#define GW_BRIDGE_SEND_MAX_MS 60000
/* Senders at once, each with its lock (run_dir/bridge-send.N.lock): more
 * requests leave their events to the running senders' scans. */
#define GW_BRIDGE_SENDERS 4
/* Sids handed to the sender; more: it finds them by its scan. */
#define GW_BRIDGE_SEND_SIDS 64
#define GW_BRIDGE_SIDS_ENV "SIOGATE_BRIDGE_SIDS"

/* As CGI: the sessions whose events this request queued. */
static struct sio_sidset gw_bridge_kicked;
static pthread_mutex_t gw_bridge_kick_lock = PTHREAD_MUTEX_INITIALIZER;

static void
gw_bridge_log(int level, const char *msg)
{
	gw_log((enum sio_log_level)level, "%s", msg);
}

/* lws's own lines, its errors and warnings only (each context it makes
 * would otherwise say hello on stderr: the web server's error log) */
static void
gw_bridge_lws_log(int level, const char *line)
{
	gw_log(level == LLL_ERR ? SIO_LOG_ERROR : SIO_LOG_WARN, "lws: %.*s",
	       (int)strcspn(line, "\n"), line);
}

static void
gw_bridge_cgi_kick(void *udata, const char *sid)
{
	(void)udata;
	pthread_mutex_lock(&gw_bridge_kick_lock);
	if (sio_sidset_find(&gw_bridge_kicked, sid) < 0)
		(void)sio_sidset_add(&gw_bridge_kicked, sid);
	pthread_mutex_unlock(&gw_bridge_kick_lock);
}

void
gw_bridge_hook(struct sio_store *st)
{
	if (gw.bridge != NULL)
		sio_bridge_hook(st, gw.bridge);
	else if (strcmp(gw.cfg->app, "bridge") == 0) /* CGI */
		sio_store_set_bridge_hook(st, gw_bridge_cgi_kick, NULL);
}

int
gw_bridge_start(void)
{
	char err[SIO_ERR_LEN];
	struct sio_store *st;
	struct sio_bridge *b;

	if (strcmp(gw.cfg->app, "bridge") != 0)
		return SIO_OK;
	lws_set_log_level(LLL_ERR | LLL_WARN, gw_bridge_lws_log);
	if ((st = gw_store_open(SIO_STORE_PLAIN)) == NULL)
		return SIO_ERR;
	b = sio_bridge_new(gw.cfg, gw.plugin, st, gw.holder, gw_bridge_log,
	                   err);
	if (b == NULL) {
		gw_log(SIO_LOG_ERROR, "bridge: %s", err);
		sio_store_close(st);
		return SIO_ERR;
	}
	gw.bridge = b;
	sio_bridge_hook(st, b);
	if (sio_bridge_start(b, err) != SIO_OK) {
		gw_log(SIO_LOG_ERROR, "bridge: %s", err);
		return SIO_ERR;
	}
	return SIO_OK;
}

/* A sender's lock, run_dir/<name>.lock (flock): a descriptor holding
 * it, inherited by the sender started next (not closed at exec), or -1
 * when another holds it. */
static int
gw_bridge_lock(const char *name)
{
	char path[SIO_CONFIG_PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/%s.lock", gw.cfg->run_dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A free sender slot of GW_BRIDGE_SENDERS (its lock), or -1. */
static int
gw_bridge_slot(void)
{
	char name[32];
	int fd = -1;

	for (int i = 0; fd < 0 && i < GW_BRIDGE_SENDERS; i++) {
		snprintf(name, sizeof(name), "bridge-send.%d", i);
		fd = gw_bridge_lock(name);
	}
	return fd;
}

void
gw_bridge_drain(struct sio_store *st, const char *conf)
{
	char sids[GW_BRIDGE_SEND_SIDS * (SIO_SID_LEN + 1) + 1];
	long long queued = 0;
	size_t n, i, len = 0;
	int fd, lock = -1;
	pid_t pid;

	if (strcmp(gw.cfg->app, "bridge") != 0)
		return;
	pthread_mutex_lock(&gw_bridge_kick_lock);
	n = sio_sidset_len(&gw_bridge_kicked);
	sids[0] = '\0';
	for (i = 0; i < n && i < GW_BRIDGE_SEND_SIDS; i++)
		len += (size_t)snprintf(sids + len, sizeof(sids) - len, "%s%s",
		                        i ? "," : "",
		                        sio_sidset_sid(&gw_bridge_kicked, i));
	pthread_mutex_unlock(&gw_bridge_kick_lock);
	if (n == 0 && (sio_store_bridge_count(st, NULL, &queued) != SIO_OK ||
	               queued == 0))
		return; /* nothing for the application */
	/* the host counts processes: at most GW_BRIDGE_SENDERS at once, and
	 * when only other sessions' events wait (put by sioctl, left by a
	 * sender that died, the application down), one that scans for them;
	 * the others leave their events to the running senders' scans */
	if ((lock = n == 0 ? gw_bridge_lock("bridge-scan") : gw_bridge_slot()) <
	    0)
		return;
	/* the sender first, then output closed: once it is, the web server
	 * has the response and may kill this process at once */
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		gw_log(SIO_LOG_WARN, "bridge: fork: %m: the events wait for "
		                     "another request");
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	if (pid != 0) {
		if (lock >= 0)
			close(lock); /* the sender's copy holds the lock */
		return;              /* the request's process ends as usual */
	}
	/* a session of its own: what ends the request's process leaves it
	 * be; not a CGI request any more, so that it reads its options */
	setsid();
	unsetenv("GATEWAY_INTERFACE");
	unsetenv("REQUEST_METHOD");
	setenv(GW_BRIDGE_SIDS_ENV, sids, 1);
	execl("/proc/self/exe", "sio-gateway", "-c", sio_config_path(conf),
	      "--bridge-send", (char *)NULL);
	gw_log(SIO_LOG_WARN, "bridge: exec: %m");
	_exit(127);
}

int
gw_bridge_send(void)
{
	long long until = sio_session_mono() + GW_BRIDGE_SEND_MAX_MS;
	const char *sids = getenv(GW_BRIDGE_SIDS_ENV);
	char taker[SIO_HOLDER_LEN], err[SIO_ERR_LEN];
	struct sio_store *st;
	struct sio_bridge *b;

	if (strcmp(gw.cfg->app, "bridge") != 0)
		return 0;
	lws_set_log_level(LLL_ERR | LLL_WARN, gw_bridge_lws_log);
	snprintf(taker, sizeof(taker), "gw-bridge-%d", (int)getpid());
	if ((st = gw_store_open(SIO_STORE_PLAIN)) == NULL)
		return 1;
	b = sio_bridge_new(gw.cfg, gw.plugin, st, taker, gw_bridge_log, err);
	if (b == NULL) {
		gw_log(SIO_LOG_ERROR, "bridge: %s", err);
		sio_store_close(st);
		return 1;
	}
	sio_bridge_hook(st, b); /* the closes its disconnects queue */
	for (const char *p = sids ? sids : ""; *p != '\0';) {
		char sid[SIO_SID_LEN + 1];
		size_t k = strcspn(p, ",");

		if (k == SIO_SID_LEN) {
			memcpy(sid, p, k);
			sid[k] = '\0';
			sio_bridge_kick(b, sid);
		}
		p += k + (p[k] == ',');
	}
	/* new events are taken while those taken can still be answered
	 * before the end: one cut short would be sent again by another */
	long long last = until - gw.cfg->bridge_timeout * 1000LL - 1000;

	if (sio_bridge_run(b, sio_session_now()) >= 0)
		while (sio_bridge_busy(b) && sio_session_mono() < until)
			if (sio_bridge_service(b, 200,
			                       sio_session_mono() < last) < 0)
				break;
	sio_bridge_hook(st, NULL);
	sio_bridge_free(b);
	sio_store_close(st);
	return 0;
}
