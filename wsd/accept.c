/*
 * accept.c: the listening sockets of sio-wsd's raw listeners (the flash
 * listener and the Flash policy port), accepted here rather than by lws so
 * that they keep to a budget of their own. At most max_raw_connections
 * sockets that are not yet a session's (policy requests, hixie-76
 * handshakes, the inline policy requests the websocket listener hands
 * over) are open at once; at the budget the listeners stop accepting until
 * one ends, and the kernel's backlog holds the rest. An accept() that
 * fails for want of descriptors or memory pauses the listeners for
 * ACCEPT_BACKOFF_MS instead of retrying at once on a listener that stays
 * readable (what lws 4.1's own listener does: a busy loop and a log line
 * per turn). Each accepted socket is adopted into its listener's vhost as
 * a raw socket of the listener's protocol.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "wsd.h"

#define ACCEPT_MAX 2          /* the flash listener, the policy port */
#define ACCEPT_BACKOFF_MS 250 /* after EMFILE, ENFILE, ENOBUFS, ENOMEM */
#define ACCEPT_PROTOCOL "sio-accept"

struct accept_listener {
	struct lws *wsi; /* the listening socket, adopted as a raw file */
	struct lws_vhost *vh;
	const char *protocol; /* what its connections become */
	int fd;
	char spec[300];
};

static struct accept_listener accept_ls[ACCEPT_MAX];
static int accept_n;
static int accept_open;    /* raw connections counted now */
static int accept_paused;  /* the listeners do not poll for input */
static int accept_backoff; /* ... because accept() failed: a timer */
static lws_sorted_usec_list_t accept_sul;
static struct sio_ratelimit accept_rl, accept_budget_rl;

/* Stops or restarts polling every listener. */
static void
accept_pause(int pause)
{
	int flags = LWS_RXFLOW_REASON_USER_BOOL |
	            LWS_RXFLOW_REASON_FLAG_PROCESS_NOW |
	            (pause ? LWS_RXFLOW_REASON_APPLIES_DISABLE
	                   : LWS_RXFLOW_REASON_APPLIES_ENABLE);

	if (accept_paused == pause)
		return;
	accept_paused = pause;
	for (int i = 0; i < accept_n; i++)
		if (accept_ls[i].wsi != NULL)
			lws_rx_flow_control(accept_ls[i].wsi, flags);
}

static void
accept_resume(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	accept_backoff = 0;
	if (accept_open < wsd.cfg.max_raw_connections)
		accept_pause(0);
}

/* The listener's pending connections, while the budget allows. */
static void
accept_ready(struct accept_listener *l)
{
	lws_sock_file_fd_type a;
	int fd;

	while (accept_open < wsd.cfg.max_raw_connections) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			wsd_log_limited(&accept_rl, SIO_LOG_WARN,
			                "accept on %s: %s: pausing the raw "
			                "listeners for %d ms",
			                l->spec, strerror(errno),
			                ACCEPT_BACKOFF_MS);
			accept_backoff = 1;
			accept_pause(1);
			lws_sul_schedule(lws_get_context(l->wsi), 0,
			                 &accept_sul, accept_resume,
			                 ACCEPT_BACKOFF_MS * LWS_US_PER_MS);
			return;
		}
		a.sockfd = fd;
		/* on failure lws has closed fd */
		if (lws_adopt_descriptor_vhost(l->vh, LWS_ADOPT_SOCKET, a,
		                               l->protocol, NULL) == NULL)
			wsd_log_limited(&accept_rl, SIO_LOG_WARN,
			                "%s: cannot adopt a connection",
			                l->spec);
	}
	/* the budget is spent; wsd_accept_give() resumes */
	wsd_log_limited(&accept_budget_rl, SIO_LOG_WARN,
	                "max_raw_connections (%d) reached: the flash and "
	                "policy listeners wait for one to close",
	                wsd.cfg.max_raw_connections);
	accept_pause(1);
}

static int
accept_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		for (int i = 0; i < accept_n; i++)
			if (accept_ls[i].wsi == wsi)
				accept_ready(&accept_ls[i]);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		for (int i = 0; i < accept_n; i++)
			if (accept_ls[i].wsi == wsi)
				accept_ls[i].wsi = NULL;
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols accept_protocol = {
    .name = ACCEPT_PROTOCOL,
    .callback = accept_callback,
};

const struct lws_protocols *
wsd_accept_protocol(void)
{
	return &accept_protocol;
}

/* A listening UNIX socket at path (group access for the web server). */
static int
accept_unix(const char *path)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path); /* a stale file: main.c refused a live one */
	/* bound with mode 0660 (the umask at bind), never chmod-ed after:
	 * no window in which every user may connect */
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || listen(fd, SOMAXCONN) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A listening TCP socket on host (empty or "*": every interface, both
 * families) and port. */
static int
accept_tcp(const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, one = 1, zero = 0, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	hints.ai_family = AF_UNSPEC;
	if (host[0] == '\0' || strcmp(host, "*") == 0) {
		host = NULL;
		hints.ai_family = AF_INET6; /* :: takes IPv4 too (below) */
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 && host == NULL) {
		hints.ai_family = AF_INET; /* no IPv6 here */
		rc = getaddrinfo(host, port, &hints, &res);
	}
	if (rc != 0) {
		errno = EADDRNOTAVAIL;
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		            ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && host == NULL)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
			           sizeof(zero));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0)
			break;
		rc = errno;
		close(fd);
		errno = rc;
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* The listening socket of spec: a path, or HOST:PORT ("[v6]:PORT"). */
static int
accept_socket(const char *spec)
{
	char host[256], *end;
	const char *colon = strrchr(spec, ':');
	size_t n;
	long port;

	if (spec[0] == '/')
		return accept_unix(spec);
	if (colon == NULL || (n = (size_t)(colon - spec)) >= sizeof(host))
		goto bad;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
		goto bad;
	memcpy(host, spec, n);
	host[n] = '\0';
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	if (strcmp(host, "localhost") == 0) /* as --listen reads it */
		snprintf(host, sizeof(host), "127.0.0.1");
	return accept_tcp(host, colon + 1);
bad:
	errno = EINVAL;
	return -1;
}

int
wsd_accept_listen(struct lws_vhost *vh, const char *spec, const char *protocol)
{
	struct accept_listener *l;
	lws_sock_file_fd_type a;

	assert(accept_n < ACCEPT_MAX);
	l = &accept_ls[accept_n];
	memset(l, 0, sizeof(*l));
	snprintf(l->spec, sizeof(l->spec), "%s", spec);
	l->vh = vh;
	l->protocol = protocol;
	l->fd = accept_socket(spec);
	if (l->fd < 0) {
		wsd_log(SIO_LOG_ERROR, "cannot listen on %s: %s", spec,
		        errno == EINVAL ? "not HOST:PORT or /path"
		                        : strerror(errno));
		return SIO_ERR;
	}
	a.filefd = l->fd;
	l->wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, a,
	                                    ACCEPT_PROTOCOL, NULL);
	if (l->wsi == NULL) {
		wsd_log(SIO_LOG_ERROR, "cannot adopt the listener on %s", spec);
		return SIO_ERR; /* lws closed the descriptor */
	}
	accept_n++;
	if (accept_paused)
		lws_rx_flow_control(l->wsi,
		                    LWS_RXFLOW_REASON_USER_BOOL |
		                        LWS_RXFLOW_REASON_FLAG_PROCESS_NOW |
		                        LWS_RXFLOW_REASON_APPLIES_DISABLE);
	return SIO_OK;
}

int
wsd_accept_take(void)
{
	if (accept_open >= wsd.cfg.max_raw_connections)
		return 0;
	accept_open++;
	return 1;
}

void
wsd_accept_give(void)
{
	assert(accept_open > 0);
	accept_open--;
	if (!accept_backoff && accept_open < wsd.cfg.max_raw_connections)
		accept_pause(0);
}

int
wsd_accept_count(void)
{
	return accept_open;
}
