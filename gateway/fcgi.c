/*
 * fcgi.c: sio-gateway's only libfcgi user. A struct gw_req is one request,
 * either a FastCGI request accepted by a worker thread (FCGX_Accept_r, one
 * FCGX_Request per thread) or the single request of a CGI process, served
 * from getenv() and stdin/stdout. serve.c sees only the gw_req_* calls.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcgiapp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "gateway.h"
#include "listen.h"
#include "result.h"

struct gw_req {
	FCGX_Request *fr;   /* NULL in CGI mode */
	int has_client;     /* client below is set */
	char client[64];    /* gw_req_client() */
	long long body_end; /* sio_session_mono() when the body is late */
	int timed_out;      /* the body missed body_end */
	int rcvtimeo;       /* SO_RCVTIMEO is set on the connection */
};

const char *
gw_req_param(struct gw_req *r, const char *name)
{
	if (r->fr == NULL)
		return getenv(name);
	return FCGX_GetParam(name, r->fr->envp);
}

const char *
gw_req_client(struct gw_req *r)
{
	/* REMOTE_ADDR comes from the web server itself, never from a header
	 * of the client: a proxy in front of the web server is the web
	 * server's business (mod_remoteip, realip, mod_extforward) */
	if (!r->has_client) {
		sio_config_client_addr(gw.cfg, gw_req_param(r, "REMOTE_ADDR"),
		                       0, NULL, 0, r->client,
		                       sizeof(r->client));
		r->has_client = 1;
	}
	return r->client;
}

/*
 * The web server may pass a body on as the client sends it (Apache's
 * mod_proxy_fcgi does), so a client that trickles it would hold the
 * thread for ever: each read of the connection waits at most until the
 * body's deadline (a receive timeout on the socket, as libfcgi blocks in
 * read()), and once it has passed no read is tried. SIO_OK, or GW_LATE
 * when the deadline has passed.
 */
static int
fcgi_deadline(struct gw_req *r)
{
	long long left = r->body_end - sio_session_mono();
	struct timeval tv;

	if (r->timed_out || left <= 0) {
		r->timed_out = 1;
		return GW_LATE;
	}
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000 * 1000);
	if (setsockopt(r->fr->ipcFd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	               sizeof(tv)) == 0)
		r->rcvtimeo = 1;
	return SIO_OK;
}

/*
 * Reads what the stream has buffered, or else one record's worth (each
 * read of the socket bounded by fcgi_deadline()): FCGX_GetStr() alone
 * would keep reading until it has n bytes, as long as a trickle comes.
 * The count, 0 at the end, -1 on error, GW_LATE once late.
 */
static long
fcgi_get(struct gw_req *r, char *buf, size_t n)
{
	FCGX_Stream *in = r->fr->in;
	long avail = (long)(in->stop - in->rdNext);
	int got, err;

	if (fcgi_deadline(r) != SIO_OK)
		return GW_LATE;
	if (avail <= 0)
		avail = 1; /* fills the buffer once */
	if ((size_t)avail < n)
		n = (size_t)avail;
	got = FCGX_GetStr(buf, (int)n, in);
	if (got > 0)
		return got;
	err = FCGX_GetError(in);
	if (err == 0)
		return 0;
	if (err == EAGAIN || err == EWOULDBLOCK ||
	    sio_session_mono() >= r->body_end) {
		r->timed_out = 1;
		return GW_LATE;
	}
	return -1;
}

long
gw_req_read(struct gw_req *r, char *buf, size_t n)
{
	if (n > 1 << 20)
		n = 1 << 20;
	if (r->fr == NULL) {
		size_t rd = fread(buf, 1, n, stdin);
		return rd == 0 && ferror(stdin) ? -1 : (long)rd;
	}
	return fcgi_get(r, buf, n);
}

int
gw_req_write(struct gw_req *r, const char *buf, size_t n)
{
	if (n == 0)
		return SIO_OK;
	if (r->fr == NULL)
		return fwrite(buf, 1, n, stdout) == n ? SIO_OK : SIO_ERR;
	return FCGX_PutStr(buf, (int)n, r->fr->out) == (int)n ? SIO_OK
	                                                      : SIO_ERR;
}

int
gw_req_flush(struct gw_req *r)
{
	if (r->fr == NULL)
		return fflush(stdout) == 0 && !ferror(stdout) ? SIO_OK
		                                              : SIO_ERR;
	return FCGX_FFlush(r->fr->out) == 0 && FCGX_GetError(r->fr->out) == 0
	           ? SIO_OK
	           : SIO_ERR;
}

int
gw_req_end(struct gw_req *r)
{
	if (r->fr == NULL)
		return gw_req_flush(r);
	/* As FCGX_Finish_r() closes them, stderr first: closing the last
	 * writer sends FCGI_END_REQUEST, and the Finish that follows finds
	 * both closed. */
	FCGX_FClose(r->fr->err);
	return FCGX_FClose(r->fr->out) == 0 ? SIO_OK : SIO_ERR;
}

void
gw_req_wait_taken(struct gw_req *r, int timeout_ms)
{
	struct pollfd p;

	if (r->fr == NULL || r->fr->keepConnection || r->fr->ipcFd < 0)
		return;
	p.fd = r->fr->ipcFd;
	p.events = POLLIN | POLLRDHUP; /* its close, once it has it all */
	while (poll(&p, 1, timeout_ms) < 0 && errno == EINTR)
		;
}

/*
 * libfcgi closes a request's connection with shutdown() and then waits
 * (up to 2 s) for the web server to close its side, so that data the web
 * server still sends cannot turn into a reset that loses the response.
 * Once the request's input has been read to its end nothing more comes;
 * what a route left unread (a handshake's empty stdin) is read here, and
 * then a plain close() is enough: one wake-up less per request.
 */
static void
fcgi_close_early(struct gw_req *r)
{
	FCGX_Request *fr = r->fr;
	char drain[1024]; /* small: see serve_body() */
	int n = 0;

	if (fr->in == NULL)
		return;
	while (FCGX_GetError(fr->in) == 0 && FCGX_HasSeenEOF(fr->in) != EOF &&
	       n++ < 64 && fcgi_get(r, drain, sizeof(drain)) > 0)
		;
	if (FCGX_HasSeenEOF(fr->in) == EOF && FCGX_GetError(fr->in) == 0)
		fr->detached = 1; /* FCGX_Free(): close() without the drain */
	else if (r->timed_out || FCGX_HasSeenEOF(fr->in) != EOF) {
		/* A body cut short (late, or over max_payload): libfcgi's
		 * drain would read it as long as it keeps coming. Closed
		 * at once instead (what is left unread may reset the
		 * connection: a response the web server has not read yet is
		 * lost, the answer to a request that broke its limits). */
		fr->keepConnection = 0;
		fr->detached = 1;
	}
	if (r->rcvtimeo && fr->ipcFd >= 0) {
		struct timeval tv = {0, 0}; /* a kept connection idles */
		setsockopt(fr->ipcFd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
}

int
gw_req_abort_fd(struct gw_req *r)
{
	return r->fr != NULL ? r->fr->ipcFd : -1;
}

void
gw_fcgi_worker(int lsock)
{
	struct sio_session_ctx x = {0};
	FCGX_Request fr;
	struct gw_req r = {.fr = &fr};

	x.plugin = gw.plugin;
	x.cfg = gw.cfg;
	if (FCGX_InitRequest(&fr, lsock, 0) != 0) {
		gw_log(SIO_LOG_ERROR, "FCGX_InitRequest failed");
		return;
	}
	for (;;) {
		const char *addr;
		int rc = FCGX_Accept_r(&fr);
		if (rc < 0) {
			gw_log(SIO_LOG_ERROR, "accept: %s", strerror(-rc));
			break;
		}
		/* no store connection yet: a route that reads takes one from
		 * the pool (serve.c), and gives it back while it sleeps */
		r.has_client = 0;
		/* the configuration of this request, start to end: a reload
		 * (SIGHUP) applies to the next */
		x.cfg = gw.cfg;
		r.body_end = sio_session_mono() + x.cfg->body_timeout * 1000LL;
		r.timed_out = r.rcvtimeo = 0;
		/* counted from here until the connection is let go: what
		 * holds the thread, reading a body included */
		addr = gw_req_param(&r, "REMOTE_ADDR");
		rc = gw_park_begin(addr);
		if (rc == SIO_OK)
			gw_serve(&r, &x);
		else {
			gw_serve_refused(&r, &x, rc);
			/* the rest of its body, if any, is not waited for */
			if (r.body_end > sio_session_mono() + 100)
				r.body_end = sio_session_mono() + 100;
		}
		gw_store_give(x.store);
		x.store = NULL;
		fcgi_close_early(&r);
		if (rc == SIO_OK)
			gw_park_end(addr);
		FCGX_Finish_r(&fr);
	}
}

/*
 * Reads and drops a small body that the answer ignores (a POST to a client
 * file gets 405): mod_cgid gives a CGI one socket for both ways, and one
 * closed with input unread is reset, so that Apache loses the answer
 * already written. A body over CGI_DRAIN_MAX is left (the answer may then
 * be lost; the client had no business sending it).
 */
#define CGI_DRAIN_MAX 65536
static void
fcgi_cgi_drain(struct gw_req *r)
{
	const char *cl = getenv("CONTENT_LENGTH");
	char buf[4096];
	long long left;
	long n;

	if (cl == NULL || (left = strtoll(cl, NULL, 10)) <= 0 ||
	    left > CGI_DRAIN_MAX)
		return;
	while (left > 0 && (n = gw_req_read(r, buf,
	                                    left < (long long)sizeof(buf)
	                                        ? (size_t)left
	                                        : sizeof(buf))) > 0)
		left -= n;
}

int
gw_fcgi_cgi_static(void)
{
	struct sio_session_ctx x = {.plugin = gw.plugin, .cfg = gw.cfg};
	struct gw_req r = {.fr = NULL};
	struct gw_route rt;
	const char *uri = getenv("REQUEST_URI");

	gw_route_parse(uri != NULL ? uri : "", gw.cfg->resource, &rt);
	if (rt.kind != GW_ROUTE_STATIC)
		return 0;
	fcgi_cgi_drain(&r);
	gw_serve(&r, &x);
	fflush(stdout);
	return 1;
}

int
gw_fcgi_cgi(const char *conf)
{
	struct sio_session_ctx x = {0};
	struct gw_req r = {.fr = NULL};
	char drain[8192];

	x.store = gw_store_open(SIO_STORE_PLAIN);
	if (x.store == NULL) {
		fputs("Status: 500 Internal Server Error\r\n"
		      "Content-Type: text/plain\r\n"
		      "X-Content-Type-Options: nosniff\r\n\r\n"
		      "store unavailable\n",
		      stdout);
		return 1;
	}
	x.plugin = gw.plugin;
	x.cfg = gw.cfg;
	/* No sweep thread outlives a CGI request: the timers run here, in
	 * the one request a second that takes the stats sample (a sweep with
	 * full queues takes tens of ms; not for every request, a 404 too). */
	if (sio_session_timers(&x, NULL, sio_session_now()) < 0)
		gw_log(SIO_LOG_WARN, "sweep: %s", sio_store_errmsg(x.store));
	gw_serve(&r, &x);
	fflush(stdout);
	/* A body the route did not read (a PUT answered 405, a POST to an
	 * unknown route) must still be read: under mod_cgid stdin is the
	 * socket the response goes out on, and exiting with unread input
	 * resets it, cutting the response short. */
	while (fread(drain, 1, sizeof(drain), stdin) > 0)
		;
	gw_bridge_drain(x.store, conf); /* app = bridge: after answering */
	sio_store_close(x.store);
	return 0;
}

int
gw_fcgi_is_cgi(void)
{
	FCGX_Init();
	return FCGX_IsCGI();
}

/*
 * A UNIX socket at path, listening: refused while another server listens
 * there or when something else than a socket is there (a stale socket
 * from a crash is replaced). It takes the umask's mode at bind: 0660 from
 * the start (the web server's group, nobody else), never a chmod after
 * the bind, which left a window with the socket open to every user. No
 * other thread runs yet.
 */
static int
fcgi_listen_unix(const char *path, char *err)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat stt;
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		sio_err(err, "%s: path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) {
		sio_err(err, "socket: %s", strerror(errno));
		return -1;
	}
	if (stat(path, &stt) == 0) {
		if (!S_ISSOCK(stt.st_mode)) {
			sio_err(err, "%s: exists and is not a socket", path);
			close(fd);
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			sio_err(err, "%s: another server listens there", path);
			close(fd);
			return -1;
		}
		unlink(path);
	}
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == 0 && listen(fd, 1024) == 0)
		return fd;
	sio_err(err, "cannot listen on %s: %s", path, strerror(errno));
	close(fd);
	return -1;
}

/* A TCP socket on l, listening. A name takes its first IPv4 address
 * when it has one (FCGI_WEB_SERVER_ADDRS, which libfcgi applies to IPv4
 * peers only, then holds), else its first. */
static int
fcgi_listen_tcp(const char *spec, const struct sio_listen *l, char *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE},
	                *res, *ai;
	char port[8];
	int fd, one = 1, rc;

	hints.ai_family = l->v6 ? AF_INET6 : AF_UNSPEC;
	snprintf(port, sizeof(port), "%d", l->port);
	rc = getaddrinfo(l->host[0] != '\0' ? l->host : NULL, port, &hints,
	                 &res);
	if (rc != 0) {
		sio_err(err, "%s: %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && ai->ai_family != AF_INET; ai = ai->ai_next)
		;
	if (ai == NULL)
		ai = res;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
		    listen(fd, 1024) != 0) {
			sio_err(err, "cannot bind %s: %s", spec,
			        strerror(errno));
			close(fd);
			fd = -1;
		}
	} else
		sio_err(err, "socket: %s", strerror(errno));
	freeaddrinfo(res);
	return fd;
}

int
gw_fcgi_listen(const char *spec, char *err)
{
	struct sio_listen l;

	if (sio_listen_parse(spec, &l, err) != SIO_OK)
		return -1;
	return l.unix_path ? fcgi_listen_unix(spec, err)
	                   : fcgi_listen_tcp(spec, &l, err);
}
