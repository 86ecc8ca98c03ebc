/*
 * bridge.c: the gateway's side of app = bridge (common/bridge.h). As
 * FastCGI, one thread runs the dispatcher (sio_bridge_start()):
 * the request threads only kick it (every store connection's commit that
 * queued an event does, gw_store_open()), so no request thread waits for
 * the application. As CGI, the request's process runs it after it has
 * answered: the client has its response, the web server its end of output,
 * and the process sends what this request queued before it exits.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"
#include "gateway.h"
#include "store.h"

/* A CGI request stays at most this long after its response for the
 * bridge's requests (the web server's own CGI timeout is longer). */
#define GW_BRIDGE_DRAIN_MAX_MS 30000

static void
gw_bridge_log(int level, const char *msg)
{
	gw_log((enum sio_log_level)level, "%s", msg);
}

int
gw_bridge_start(int cgi)
{
	char err[SIO_ERR_LEN];
	struct sio_store *st;
	struct sio_bridge *b;

	if (strcmp(gw.cfg->app, "bridge") != 0)
		return SIO_OK;
	if ((st = gw_store_open(SIO_STORE_PLAIN)) == NULL)
		return SIO_ERR;
	b = sio_bridge_new(gw.cfg, gw.plugin, st, gw.holder, gw_bridge_log,
	                   err);
	if (b == NULL) {
		gw_log(SIO_LOG_ERROR, "bridge: %s", err);
		sio_store_close(st);
		return SIO_ERR;
	}
	sio_bridge_hook(st, b);
	gw.bridge = b;
	if (cgi)
		return SIO_OK;
	if (sio_bridge_start(b, err) != SIO_OK) {
		gw_log(SIO_LOG_ERROR, "bridge: %s", err);
		return SIO_ERR;
	}
	return SIO_OK;
}

void
gw_bridge_drain(void)
{
	struct sio_bridge *b = gw.bridge;
	long long until = sio_session_mono() + GW_BRIDGE_DRAIN_MAX_MS;
	int fd;

	if (b == NULL)
		return;
	/* the response is complete for the web server once output is
	 * closed; stdin was read to its end */
	fflush(stdout);
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	if (sio_bridge_run(b, sio_session_now()) < 0)
		return;
	while (sio_bridge_busy(b) && sio_session_mono() < until)
		if (sio_bridge_service(b, 200) < 0)
			break;
}
