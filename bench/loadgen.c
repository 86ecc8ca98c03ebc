/*
 * bench/loadgen.c: a Socket.IO protocol 1 load generator over websocket
 * (libwebsockets client) or xhr-polling (raw HTTP/1.1 keep-alive sockets),
 * many sessions in one event loop.
 *
 *   loadgen --port P [--ws-port W] [--host 127.0.0.1]
 *           [--transport websocket|xhr-polling] --mode MODE [options]
 *
 * Every raw socket (handshakes, xhr-polling GETs and POSTs) is
 * non-blocking and sits in one epoll set. xhr-polling alone runs that set
 * as its loop; whenever a websocket is involved, a libuv loop runs, lws
 * joins it (a foreign loop: lws's own polls every fd on each turn) and the
 * epoll fd is one more watcher in it, so handshakes and polling requests
 * are served between websocket frames without ever blocking.
 *
 * Each session does the handshake `GET /socket.io/1/` on P (Connection:
 * close, --in-flight at a time), then either connects
 * ws://host:W/socket.io/1/websocket/<sid> and waits for `1::`, or polls
 * /socket.io/1/xhr-polling/<sid> on P: one keep-alive connection for the
 * long-poll GET (re-issued as soon as it returns) and one for POSTs,
 * opened when something is to be sent (one in flight; what is pending
 * meanwhile goes in the next, framed). Heartbeats (`2::`) are answered in
 * every mode. A session ends with `0::`; the server closes the socket (a
 * websocket it leaves open is closed 0.2 s after its `0::` answer came).
 *
 * Modes:
 *   echo    --clients N --duration S [--payload B]
 *           each client sends `3:::<B bytes>` and waits for its echo; the
 *           window starts once every client is connected; msgs/s
 *   ack     --count N [--warmup W]
 *           one client, `5:<id>+::{"name":"echo","args":[id]}` answered by
 *           `6:::<id>+[id]`, one in flight; latency p50/p90/p99/max in ms
 *   connect --count N [--clients C]
 *           handshake + transport + `1::`, C in flight (default 8); each
 *           session then sends `0::` and closes; connects/s
 *   hold    --clients N --duration S [--ready-file F]
 *           opens N idle sessions (--in-flight at a time), writes F once
 *           all are open, holds them S seconds answering heartbeats (over
 *           xhr-polling each keeps its long-poll GET open; POST
 *           connections are opened only to send and then closed), reports
 *           how many are still open (and polling) at the end
 *   relay   --count N [--warmup W]
 *           session A on websocket (W), session B on xhr-polling (P);
 *           B POSTs `5:::{"name":"broadcast","args":[i]}`, the server
 *           broadcasts it and A receives it; one in flight; latency from
 *           B's POST to A's receipt, p50/p90/p99/max in ms
 *
 * Loopback targets only; every run is bounded (--timeout, default
 * duration + 60 s; a handshake or first poll gives up after 10 s, a relay
 * after 5 s). Prints one line: `transport=... mode=... key=value ...`,
 * including the load generator's own CPU use (getrusage) over its wall
 * time and ok=1 when the phase completed.
 */
#include <libwebsockets.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum mode { M_ECHO, M_ACK, M_CONNECT, M_HOLD, M_RELAY };
enum state { S_IDLE, S_CONNECTING, S_OPEN, S_CLOSED, S_FAILED };
/* The raw connections of a session, also the low bits of its epoll data. */
enum { C_GET, C_POST, C_HS, C_N };

#define RXCAP 65536
#define PRXCAP 8192
#define MAX_CLIENTS 20000
#define MAX_COUNT 1000000
#define CONNECT_TIMEOUT 10.0 /* s: handshake, or the first poll's `1::` */
#define RELAY_TIMEOUT 5.0    /* s: one relayed packet */
#define HOLD_POSTS 256       /* hold mode: POST connections open at once */

static const char *const mode_names[] = {"echo", "ack", "connect", "hold",
                                         "relay"};

/* One raw HTTP/1.1 connection; one request in flight at a time. */
struct raw {
	int fd;
	int connecting; /* connect() in progress: write once writable */
	int armed_out;  /* EPOLLOUT is in the epoll set */
	char *out;      /* the part of the request not written yet */
	size_t outlen;
};

struct sess {
	struct lws *wsi;
	enum state st;
	int xhr;         /* transport: xhr-polling, else websocket */
	int hb_pending;  /* heartbeats to answer */
	int msg_pending; /* the next message/event to send */
	int bye_pending; /* `0::`, then wait for the server to close */
	int bye_sent;
	int bye_answered; /* the server's `0::` came back */
	int killed;       /* closed by us after `0::` */
	int post_busy, post_wait, get_busy;
	unsigned seq; /* ack id, relay sequence */
	double t_send, t_start, t_bye;
	char sid[64];
	char *rx; /* websocket messages; handshake and GET responses */
	size_t rxlen;
	char *prx; /* POST responses */
	size_t prxlen;
	struct raw c[C_N];
	unsigned gets, posts;
};

static struct {
	enum mode mode;
	const char *host;
	struct in_addr addr;
	int port, ws_port;
	int clients, count, warmup, payload, inflight_max;
	double duration, timeout;
	const char *ready_file;
	int verbose, xhr;
} opt = {
    .mode = M_ECHO,
    .host = "127.0.0.1",
    .clients = 1,
    .count = 1000,
    .warmup = 100,
    .payload = 32,
    .duration = 5,
};

static struct lws_context *ctx;
static int ep = -1;
static struct sess *sess;
static int nsess;    /* sessions allocated */
static int started;  /* sessions started */
static int inflight; /* connecting, not yet open or failed */
static int n_open, n_opened, n_failed, n_closed_unexpected;
static int n_posts_open, n_post_wait;
static int n_client_closed; /* we closed after `0::` came back */
static int done, draining, measuring;
static double t_begin, t_measure, t_measure_end, t_ready, t_drain, t_scan;
static int alive_at_drain, polls_at_drain;
static double cpu_at_drain;
static long long msgs; /* echo: in the window */
static double *lat;    /* ack, connect, relay: latencies (ms) */
static int nlat, latcap;
static char *echo_msg;
static size_t echo_len;
static char last_error[160];
static volatile sig_atomic_t interrupted;
static uv_loop_t uvloop;
static uv_timer_t uvtick;
static uv_poll_t uvep;

static void on_gone(struct sess *s, const char *why);
static void progress(void);
static void xhr_flush(struct sess *s);
static int xhr_get(struct sess *s);
static void ws_connect(struct sess *s);

static void *
xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		exit(1);
	}
	return p;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
set_error(const char *what, const char *detail)
{
	snprintf(last_error, sizeof last_error, "%s%s%s", what,
	         detail ? ": " : "", detail ? detail : "");
	for (char *p = last_error; *p; p++)
		if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '"')
			*p = '_';
}

static void
add_lat(double ms)
{
	if (nlat == latcap) {
		latcap = latcap ? latcap * 2 : 1024;
		double *n = realloc(lat, (size_t)latcap * sizeof *n);
		if (!n) {
			fprintf(stderr, "loadgen: out of memory\n");
			exit(1);
		}
		lat = n;
	}
	lat[nlat++] = ms;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
quantile(double q)
{
	if (!nlat)
		return 0;
	int i = (int)(q * nlat);
	if (i >= nlat)
		i = nlat - 1;
	return lat[i];
}

/* The load generator's own CPU time so far (s). */
static double
cpu_used(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* --- raw connections (epoll) -------------------------------------------- */

/* Adds the connection to the epoll set, or updates whether it waits to
 * write. */
static int
raw_arm(struct sess *s, int kind, int op)
{
	struct raw *r = &s->c[kind];
	int out = r->out || r->connecting;
	struct epoll_event ev = {
	    .events = EPOLLIN | (out ? EPOLLOUT : 0),
	    .data.u64 = ((uint64_t)(s - sess) << 2) | (uint64_t)kind,
	};

	if (op == EPOLL_CTL_MOD && out == r->armed_out)
		return 0;
	r->armed_out = out;
	return epoll_ctl(ep, op, r->fd, &ev);
}

/* Starts a non-blocking connect to P; 0, or -1 with errno. */
static int
raw_open(struct sess *s, int kind)
{
	struct raw *r = &s->c[kind];
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)opt.port),
	                         .sin_addr = opt.addr};
	int one = 1;

	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0)
		return -1;
	setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	r->connecting = 0;
	if (connect(r->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		if (errno != EINPROGRESS) {
			int e = errno;
			close(r->fd);
			r->fd = -1;
			errno = e;
			return -1;
		}
		r->connecting = 1;
	}
	if (raw_arm(s, kind, EPOLL_CTL_ADD) < 0) {
		close(r->fd);
		r->fd = -1;
		return -1;
	}
	if (kind == C_POST)
		n_posts_open++;
	return 0;
}

static void
raw_close(struct sess *s, int kind)
{
	struct raw *r = &s->c[kind];

	if (r->fd >= 0) {
		close(r->fd); /* leaves the epoll set too */
		if (kind == C_POST)
			n_posts_open--;
	}
	r->fd = -1;
	r->connecting = 0;
	r->armed_out = 0;
	free(r->out);
	r->out = NULL;
	r->outlen = 0;
}

/* Writes what it can; 0 when all is written or the rest waits for
 * EPOLLOUT, -1 on error. */
static int
raw_flush(struct sess *s, int kind)
{
	struct raw *r = &s->c[kind];
	size_t off = 0;

	if (r->connecting)
		return 0;
	while (off < r->outlen) {
		ssize_t w = write(r->fd, r->out + off, r->outlen - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	if (off == r->outlen) {
		free(r->out);
		r->out = NULL;
		r->outlen = 0;
	} else {
		memmove(r->out, r->out + off, r->outlen - off);
		r->outlen -= off;
	}
	return raw_arm(s, kind, EPOLL_CTL_MOD);
}

/* Queues a request on a connection with nothing pending and writes it. */
static int
raw_send(struct sess *s, int kind, const char *p, size_t n)
{
	struct raw *r = &s->c[kind];

	if (r->fd < 0 || r->out)
		return -1;
	r->out = xmalloc(n);
	memcpy(r->out, p, n);
	r->outlen = n;
	return raw_flush(s, kind);
}

/* Reads what is there into buf; -1 when it overflows cap. */
static int
raw_read(struct sess *s, int kind, char *buf, size_t *len, size_t cap, int *eof)
{
	int fd = s->c[kind].fd;

	*eof = 0;
	for (;;) {
		if (*len >= cap)
			return -1;
		ssize_t r = read(fd, buf + *len, cap - *len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0) {
			*eof = 1;
			break;
		}
		*len += (size_t)r;
	}
	buf[*len] = 0;
	return 0;
}

/* One HTTP response in buf[0..len): 1 when complete (body dechunked in
 * place), 0 when more is needed, -1 when malformed. */
static int
http_response(char *buf, size_t len, int eof, int *status, char **body,
              size_t *blen, size_t *used, int *conn_close)
{
	char *end = memmem(buf, len, "\r\n\r\n", 4);
	if (!end)
		return eof ? -1 : 0;
	size_t hl = (size_t)(end - buf) + 4;
	char save = buf[hl - 2];
	buf[hl - 2] = 0;
	*status = len > 12 ? atoi(buf + 9) : 0;
	char *cl = strcasestr(buf, "\r\ncontent-length:");
	int chunked = strcasestr(buf, "\r\ntransfer-encoding: chunked") != NULL;
	*conn_close = strcasestr(buf, "\r\nconnection: close") != NULL;
	buf[hl - 2] = save;
	*body = buf + hl;
	if (cl && !chunked) {
		size_t n = strtoul(cl + 17, NULL, 10);
		if (len < hl + n)
			return eof ? -1 : 0;
		*blen = n;
		*used = hl + n;
		return 1;
	}
	if (chunked) {
		size_t p = hl, o = hl;
		for (;;) {
			char *nl = memmem(buf + p, len - p, "\r\n", 2);
			if (!nl)
				return eof ? -1 : 0;
			size_t n = strtoul(buf + p, NULL, 16);
			size_t data = (size_t)(nl - buf) + 2;
			if (!n) {
				if (len < data + 2)
					return eof ? -1 : 0;
				*blen = o - hl;
				*used = data + 2;
				break;
			}
			if (len < data + n + 2)
				return eof ? -1 : 0;
			p = data + n + 2;
			o += n;
		}
		/* complete: move the chunks together */
		size_t p2 = hl;
		o = hl;
		for (;;) {
			char *nl = memmem(buf + p2, len - p2, "\r\n", 2);
			size_t n = strtoul(buf + p2, NULL, 16);
			size_t data = (size_t)(nl - buf) + 2;
			if (!n)
				break;
			memmove(buf + o, buf + data, n);
			o += n;
			p2 = data + n + 2;
		}
		return 1;
	}
	if (!eof)
		return 0;
	*blen = len - hl;
	*used = len;
	*conn_close = 1;
	return 1;
}

/* --- sessions ----------------------------------------------------------- */

static int ws_writeable(struct sess *s, struct lws *wsi);

/* Something is to be sent. A websocket writes at once when nothing waits
 * in lws's buffer (loopback sockets take small frames whole), which saves
 * the writeable round trip and two epoll_ctl calls per message; else it
 * waits for the writeable callback. */
static void
want_write(struct sess *s)
{
	if (s->xhr)
		xhr_flush(s);
	else if (s->wsi && s->st == S_OPEN && !lws_partial_buffered(s->wsi)) {
		if (ws_writeable(s, s->wsi) < 0)
			lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK,
			                LWS_TO_KILL_ASYNC);
	} else if (s->wsi)
		lws_callback_on_writable(s->wsi);
}

/* The first step of every session: `GET /socket.io/1/`, non-blocking. */
static void
session_start(struct sess *s)
{
	char req[256];

	memset(s, 0, sizeof *s);
	for (int k = 0; k < C_N; k++)
		s->c[k].fd = -1;
	/* relay: A (session 0) on websocket, B (session 1) on xhr-polling */
	s->xhr = opt.mode == M_RELAY ? s != sess : opt.xhr;
	s->st = S_CONNECTING;
	s->t_start = now();
	s->rx = xmalloc(RXCAP);
	started++;
	inflight++;
	int n = snprintf(req, sizeof req,
	                 "GET /socket.io/1/?t=%d HTTP/1.1\r\nHost: %s:%d\r\n"
	                 "Connection: close\r\n\r\n",
	                 started, opt.host, opt.port);
	if (raw_open(s, C_HS) < 0 || raw_send(s, C_HS, req, (size_t)n) < 0) {
		set_error("handshake_connect", strerror(errno));
		on_gone(s, NULL);
	}
}

/* The handshake's response: the sid, then the transport. */
static void
hs_readable(struct sess *s)
{
	int eof, status = 0, cc = 0, rc;
	char *body = NULL, st[16];
	size_t blen = 0, used = 0;

	if (raw_read(s, C_HS, s->rx, &s->rxlen, RXCAP - 1, &eof) < 0) {
		set_error("handshake_overflow", NULL);
		on_gone(s, NULL);
		return;
	}
	rc = http_response(s->rx, s->rxlen, eof, &status, &body, &blen, &used,
	                   &cc);
	if (rc == 0 && !eof)
		return;
	raw_close(s, C_HS);
	s->rxlen = 0;
	if (rc <= 0) {
		set_error("handshake_response", eof ? "eof" : "malformed");
		on_gone(s, NULL);
		return;
	}
	if (status != 200) {
		snprintf(st, sizeof st, "%d", status);
		set_error("handshake_status", st);
		on_gone(s, NULL);
		return;
	}
	size_t sl = 0;
	while (sl < blen && body[sl] != ':')
		sl++;
	if (!sl || sl == blen || sl >= sizeof s->sid) {
		set_error("handshake_sid", NULL);
		on_gone(s, NULL);
		return;
	}
	memcpy(s->sid, body, sl);
	s->sid[sl] = 0;
	if (done || draining) {
		/* too late to matter: not a failure */
		inflight--;
		s->st = S_CLOSED;
		on_gone(s, NULL);
		return;
	}
	if (!s->xhr) {
		ws_connect(s);
		return;
	}
	s->prx = xmalloc(PRXCAP);
	if (xhr_get(s) < 0) {
		set_error("get_connect", strerror(errno));
		on_gone(s, NULL);
	}
}

/* Starts sessions while fewer than --in-flight are connecting. */
static void
fill(void)
{
	static int filling;

	if (filling)
		return;
	filling = 1;
	while (!done && !draining && started < nsess &&
	       inflight < opt.inflight_max)
		session_start(&sess[started]);
	filling = 0;
}

static int
send_text(struct sess *s, const char *text, size_t len)
{
	static unsigned char *buf;
	static size_t cap;

	if (LWS_PRE + len > cap) {
		cap = LWS_PRE + len + 256;
		free(buf);
		buf = xmalloc(cap);
	}
	memcpy(buf + LWS_PRE, text, len);
	if (lws_write(s->wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len) {
		set_error("ws_write", NULL);
		return -1;
	}
	return 0;
}

/* The next message of the mode into p (cap bytes); its length. */
static size_t
next_message(struct sess *s, char *p, size_t cap)
{
	int n = 0;

	s->t_send = now();
	switch (opt.mode) {
	case M_ECHO:
		n = (int)(echo_len < cap ? echo_len : cap);
		memcpy(p, echo_msg, (size_t)n);
		break;
	case M_ACK:
		s->seq++;
		n = snprintf(p, cap, "5:%u+::{\"name\":\"echo\",\"args\":[%u]}",
		             s->seq, s->seq);
		break;
	case M_RELAY:
		s->seq++;
		n = snprintf(p, cap,
		             "5:::{\"name\":\"broadcast\",\"args\":[%u]}",
		             s->seq);
		break;
	default:
		break;
	}
	return n > 0 ? (size_t)n : 0;
}

static void
on_open(struct sess *s)
{
	s->st = S_OPEN;
	inflight--;
	n_open++;
	n_opened++;
	if (draining) {
		s->bye_pending = 1;
		want_write(s);
		progress();
		return;
	}
	switch (opt.mode) {
	case M_ECHO:
	case M_ACK:
		s->msg_pending = 1;
		want_write(s);
		break;
	case M_CONNECT:
		add_lat((now() - s->t_start) * 1e3);
		s->bye_pending = 1;
		want_write(s);
		break;
	case M_HOLD:
		break;
	case M_RELAY:
		/* B sends once both are open */
		if (sess[0].st == S_OPEN && sess[1].st == S_OPEN) {
			sess[1].msg_pending = 1;
			want_write(&sess[1]);
		}
		break;
	}
	progress();
}

/* Relay: A received a broadcast; the one B sent last? */
static int
on_relayed(struct sess *s, const char *p, size_t len)
{
	struct sess *b = &sess[1];
	char want[96];
	int n;

	if (s != &sess[0])
		return 0; /* B's own copy */
	n = snprintf(want, sizeof want,
	             "5:::{\"name\":\"broadcast\",\"args\":[%u]}", b->seq);
	if ((size_t)n != len || memcmp(p, want, len))
		return 0; /* not ours */
	if (!b->t_send)
		return 0;
	if (b->seq > (unsigned)opt.warmup)
		add_lat((now() - b->t_send) * 1e3);
	b->t_send = 0;
	if ((int)b->seq >= opt.count + opt.warmup) {
		done = 1;
		return 0;
	}
	b->msg_pending = 1;
	want_write(b);
	return 0;
}

/* One packet (no framing) from the server. */
static int
on_packet(struct sess *s, const char *p, size_t len)
{
	if (len >= 3 && p[0] == '2' && p[1] == ':' && p[2] == ':') {
		s->hb_pending++;
		want_write(s);
		return 0;
	}
	if (len >= 3 && !memcmp(p, "1::", 3) && len <= 4) {
		if (s->st == S_CONNECTING)
			on_open(s);
		return 0;
	}
	if (len >= 3 && !memcmp(p, "0::", 3) && (len == 3 || p[3] == '\0')) {
		if (s->bye_sent || s->bye_pending) {
			/* The server closes: socket.io 0.9 crashes on EPIPE
			 * if the client closes first. Past a grace period we
			 * do (scan()), lest connections pile up. */
			if (!s->bye_answered)
				s->t_bye = now();
			s->bye_answered = 1;
			return 0;
		}
		set_error("server_disconnect", NULL);
		return -1;
	}
	if (len == 7 && !memcmp(p, "7:::1+0", 7) &&
	    (s->bye_sent || s->bye_pending)) {
		/* a poll that was out when the bye went: the session is
		 * gone, as the bye asked (protocol 1.5) */
		if (!s->bye_answered)
			s->t_bye = now();
		s->bye_answered = 1;
		return 0;
	}
	if (len >= 2 && p[0] == '7' && p[1] == ':') {
		char e[64];
		snprintf(e, sizeof e, "%.*s", (int)(len < 40 ? len : 40), p);
		set_error("server_error", e);
		return -1;
	}
	if (opt.mode == M_ECHO && len >= 4 && !memcmp(p, "3:::", 4)) {
		if (len != echo_len || memcmp(p, echo_msg, len)) {
			set_error("echo_mismatch", NULL);
			return -1;
		}
		if (measuring && !done)
			msgs++;
		if (!draining && !done) {
			s->msg_pending = 1;
			want_write(s);
		}
		return 0;
	}
	if (opt.mode == M_ACK && len >= 4 && !memcmp(p, "6:::", 4)) {
		char want[64];
		int n =
		    snprintf(want, sizeof want, "6:::%u+[%u]", s->seq, s->seq);
		if ((size_t)n != len || memcmp(p, want, len)) {
			set_error("ack_mismatch", NULL);
			return -1;
		}
		if (s->seq > (unsigned)opt.warmup)
			add_lat((now() - s->t_send) * 1e3);
		if ((int)s->seq >= opt.count + opt.warmup) {
			done = 1;
			return 0;
		}
		s->msg_pending = 1;
		want_write(s);
		return 0;
	}
	if (opt.mode == M_RELAY && len >= 5 && !memcmp(p, "5:::", 4))
		return on_relayed(s, p, len);
	return 0; /* events and anything else: ignored */
}

/* A websocket message or a polling payload: one packet, or several in
 * U+FFFD framing. */
static int
on_message(struct sess *s, const char *m, size_t len)
{
	static const char fffd[] = "\xef\xbf\xbd";

	if (len < 3 || memcmp(m, fffd, 3))
		return on_packet(s, m, len);
	size_t i = 0;
	while (i + 3 <= len && !memcmp(m + i, fffd, 3)) {
		i += 3;
		size_t n = 0;
		while (i < len && m[i] >= '0' && m[i] <= '9')
			n = n * 10 + (size_t)(m[i++] - '0');
		if (i + 3 > len || memcmp(m + i, fffd, 3))
			return -1;
		i += 3;
		/* n counts characters; packets here are ASCII. */
		if (i + n > len)
			return -1;
		if (on_packet(s, m + i, n) < 0)
			return -1;
		i += n;
	}
	return 0;
}

/* The end of a session, whatever ended it; why NULL keeps the error
 * already set. */
static void
on_gone(struct sess *s, const char *why)
{
	if (s->st == S_CONNECTING) {
		inflight--;
		n_failed++;
		if (why)
			set_error("connect", why);
		s->st = S_FAILED;
	} else if (s->st == S_OPEN) {
		n_open--;
		if (!draining && !s->bye_pending && opt.mode != M_CONNECT) {
			n_closed_unexpected++;
			if (!last_error[0])
				set_error("closed", why);
		}
		s->st = S_CLOSED;
	}
	if (s->post_wait) {
		s->post_wait = 0;
		n_post_wait--;
	}
	for (int k = 0; k < C_N; k++)
		raw_close(s, k);
	s->wsi = NULL;
	free(s->rx);
	s->rx = NULL;
	free(s->prx);
	s->prx = NULL;
	progress();
}

/* --- websocket (lws) ---------------------------------------------------- */

/* No lws validity timer: lws keeps them in one sorted list, re-armed on
 * every message received, which costs O(sessions) each time. */
static const lws_retry_bo_t no_validity;

static void
ws_connect(struct sess *s)
{
	char path[128], hosthdr[64];
	struct lws_client_connect_info i;

	snprintf(path, sizeof path, "/socket.io/1/websocket/%s", s->sid);
	snprintf(hosthdr, sizeof hosthdr, "%s:%d", opt.host, opt.ws_port);
	memset(&i, 0, sizeof i);
	i.context = ctx;
	i.address = opt.host;
	i.port = opt.ws_port;
	i.path = path;
	i.host = hosthdr;
	i.origin = hosthdr;
	i.local_protocol_name = "sio";
	i.pwsi = &s->wsi;
	i.userdata = s;
	i.retry_and_idle_policy = &no_validity;
	if (!lws_client_connect_via_info(&i) && s->st == S_CONNECTING) {
		s->wsi = NULL;
		on_gone(s, "connect_via_info");
	}
}

static int
ws_writeable(struct sess *s, struct lws *wsi)
{
	char tmp[256];

	if (s->hb_pending) {
		s->hb_pending--;
		if (send_text(s, "2::", 3) < 0)
			return -1;
	} else if (s->bye_pending) {
		if (!s->bye_sent) {
			s->bye_sent = 1;
			s->t_bye = now(); /* see scan() */
			if (send_text(s, "0::", 3) < 0)
				return -1;
		}
		return 0;
	} else if (s->msg_pending && !draining && !done) {
		s->msg_pending = 0;
		size_t n = next_message(s, tmp, sizeof tmp);
		if (n && send_text(s, tmp, n) < 0)
			return -1;
	}
	if (s->hb_pending || (s->bye_pending && !s->bye_sent) ||
	    (s->msg_pending && !draining && !done))
		lws_callback_on_writable(wsi);
	return 0;
}

static int
callback_sio(struct lws *wsi, enum lws_callback_reasons reason, void *user,
             void *in, size_t len)
{
	struct sess *s = user;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (s && s->wsi == wsi)
			on_gone(s, in ? (const char *)in : "connection_error");
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		return 0; /* open once `1::` arrives */
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (!s || !s->rx)
			return -1;
		if (s->rxlen + len > RXCAP) {
			set_error("rx_overflow", NULL);
			return -1;
		}
		memcpy(s->rx + s->rxlen, in, len);
		s->rxlen += len;
		if (!lws_is_final_fragment(wsi) ||
		    lws_remaining_packet_payload(wsi))
			return 0;
		{
			size_t n = s->rxlen;
			s->rxlen = 0;
			if (on_message(s, s->rx, n) < 0)
				return -1;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return s ? ws_writeable(s, wsi) : 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (s && s->wsi == wsi)
			on_gone(s, "closed");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (s && s->wsi == wsi && s->st != S_CLOSED &&
		    s->st != S_FAILED)
			on_gone(s, "destroyed");
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"sio", callback_sio, 0, RXCAP, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* --- xhr-polling -------------------------------------------------------- */

static void
xhr_gone(struct sess *s, const char *why)
{
	if (s->st == S_OPEN || s->st == S_CONNECTING)
		on_gone(s, why);
}

/* (Re-)issues the long-poll GET, on a new connection if needed. */
static int
xhr_get(struct sess *s)
{
	char req[256];

	if (s->c[C_GET].fd < 0 && raw_open(s, C_GET) < 0)
		return -1;
	int n = snprintf(req, sizeof req,
	                 "GET /socket.io/1/xhr-polling/%s?t=%u HTTP/1.1\r\n"
	                 "Host: %s:%d\r\n\r\n",
	                 s->sid, s->gets++, opt.host, opt.port);
	s->get_busy = 1;
	return raw_send(s, C_GET, req, (size_t)n);
}

static int
xhr_has_pending(const struct sess *s)
{
	return s->hb_pending ||
	       (s->msg_pending && !draining && !done && !s->bye_pending) ||
	       (s->bye_pending && !s->bye_sent);
}

/* Sends what is pending (heartbeats, the next message, `0::`) in one POST. */
static void
xhr_flush(struct sess *s)
{
	char pk[4][256], body[1200], req[1600];
	size_t pl[4], bl = 0;
	int np = 0;

	if (s->post_busy || s->st != S_OPEN || !xhr_has_pending(s))
		return;
	if (s->c[C_POST].fd < 0) {
		/* holding: a bounded number of POST connections at once */
		if (opt.mode == M_HOLD && n_posts_open >= HOLD_POSTS) {
			if (!s->post_wait) {
				s->post_wait = 1;
				n_post_wait++;
			}
			return;
		}
		if (raw_open(s, C_POST) < 0) {
			set_error("post_connect", strerror(errno));
			xhr_gone(s, "post_connect");
			return;
		}
	}
	if (s->post_wait) {
		s->post_wait = 0;
		n_post_wait--;
	}
	while (s->hb_pending && np < 2) {
		s->hb_pending--;
		memcpy(pk[np], "2::", 3);
		pl[np++] = 3;
	}
	if (s->msg_pending && !draining && !done && !s->bye_pending) {
		s->msg_pending = 0;
		pl[np] = next_message(s, pk[np], sizeof pk[np]);
		np++;
	}
	if (s->bye_pending && !s->bye_sent) {
		s->bye_sent = 1;
		memcpy(pk[np], "0::", 3);
		pl[np++] = 3;
	}
	if (np == 1) {
		memcpy(body, pk[0], pl[0]);
		bl = pl[0];
	} else {
		for (int i = 0; i < np; i++)
			bl +=
			    (size_t)snprintf(body + bl, sizeof body - bl,
			                     "\xef\xbf\xbd%zu\xef\xbf\xbd%.*s",
			                     pl[i], (int)pl[i], pk[i]);
	}
	int n =
	    snprintf(req, sizeof req,
	             "POST /socket.io/1/xhr-polling/%s?t=%u HTTP/1.1\r\n"
	             "Host: %s:%d\r\nContent-Type: text/plain;charset=UTF-8\r\n"
	             "Content-Length: %zu\r\n\r\n%.*s",
	             s->sid, s->posts++, opt.host, opt.port, bl, (int)bl, body);
	if (raw_send(s, C_POST, req, (size_t)n) < 0) {
		set_error("post_write", strerror(errno));
		xhr_gone(s, "post_write");
		return;
	}
	s->post_busy = 1;
}

/* A POST's response arrived (or its connection ended). */
static void
xhr_posted(struct sess *s, int close_conn)
{
	s->post_busy = 0;
	if (s->bye_sent) {
		s->st = S_OPEN; /* counted as a clean end */
		xhr_gone(s, "bye");
		return;
	}
	/* holding: idle sessions keep only their GET */
	if (close_conn || opt.mode == M_HOLD)
		raw_close(s, C_POST);
	xhr_flush(s);
}

/* A GET's response arrived: handle the payload, poll again. */
static void
xhr_polled(struct sess *s, const char *body, size_t blen, int close_conn)
{
	s->get_busy = 0;
	if (close_conn)
		raw_close(s, C_GET);
	if (blen && on_message(s, body, blen) < 0) {
		xhr_gone(s, "packet");
		return;
	}
	if (s->st != S_OPEN && s->st != S_CONNECTING)
		return;
	if (s->bye_sent) {
		/* `0::` went out: the server ends the session */
		s->st = S_OPEN;
		xhr_gone(s, "bye");
		return;
	}
	if (xhr_get(s) < 0) {
		set_error("get_write", strerror(errno));
		xhr_gone(s, "get_write");
		return;
	}
	xhr_flush(s);
}

static void
xhr_readable(struct sess *s, int kind)
{
	char *buf = kind == C_POST ? s->prx : s->rx;
	size_t *len = kind == C_POST ? &s->prxlen : &s->rxlen;
	size_t cap = (kind == C_POST ? PRXCAP : RXCAP) - 1;
	int eof, status = 0, cc = 0, rc;
	char *body = NULL, st[16];
	size_t blen = 0, used = 0;

	if (!buf || s->c[kind].fd < 0)
		return;
	if (raw_read(s, kind, buf, len, cap, &eof) < 0) {
		set_error("rx_overflow", NULL);
		xhr_gone(s, "rx_overflow");
		return;
	}
	if (eof && !*len && kind == C_POST && !s->post_busy) {
		/* an idle keep-alive connection closed (Node: after 5 s) */
		raw_close(s, C_POST);
		return;
	}
	rc = http_response(buf, *len, eof, &status, &body, &blen, &used, &cc);
	if (rc == 0 && !eof)
		return;
	if (rc <= 0 || status != 200) {
		if (s->bye_sent) {
			/* after `0::` whatever comes back ends the session */
			s->st = S_OPEN;
			xhr_gone(s, "bye");
			return;
		}
		snprintf(st, sizeof st, "%d", status);
		if (rc <= 0)
			set_error(kind == C_POST ? "post_response"
			                         : "get_response",
			          eof ? "eof" : "malformed");
		else
			set_error(kind == C_POST ? "post_status" : "get_status",
			          st);
		xhr_gone(s, "http");
		return;
	}
	cc |= eof;
	if (kind == C_POST) {
		*len -= used;
		memmove(buf, buf + used, *len);
		xhr_posted(s, cc);
		return;
	}
	/* the payload is handled before the buffer is reused */
	char *payload = xmalloc(blen + 1);
	memcpy(payload, body, blen);
	*len -= used;
	memmove(buf, buf + used, *len);
	xhr_polled(s, payload, blen, cc);
	free(payload);
}

static void
raw_event(struct sess *s, int kind, uint32_t events)
{
	struct raw *r = &s->c[kind];

	if (r->fd < 0)
		return; /* closed earlier in this batch */
	if (events & EPOLLOUT) {
		r->connecting = 0;
		if (raw_flush(s, kind) < 0)
			events |= EPOLLIN; /* the read tells why */
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (kind == C_HS)
		hs_readable(s);
	else
		xhr_readable(s, kind);
}

static void
ep_service(int timeout_ms)
{
	struct epoll_event evs[256];
	int k = epoll_wait(ep, evs, 256, timeout_ms);

	for (int e = 0; e < k; e++)
		raw_event(&sess[evs[e].data.u64 >> 2],
		          (int)(evs[e].data.u64 & 3), evs[e].events);
}

/* --- the run ------------------------------------------------------------ */

static int
target_sessions(void)
{
	switch (opt.mode) {
	case M_CONNECT:
		return opt.count;
	case M_ACK:
		return 1;
	case M_RELAY:
		return 2;
	default:
		return opt.clients;
	}
}

static void
maybe_finish_setup(void)
{
	if (measuring || done)
		return;
	if (opt.mode == M_ECHO || opt.mode == M_HOLD) {
		if (started < opt.clients || inflight > 0)
			return;
		measuring = 1;
		t_measure = now();
		t_ready = t_measure;
		t_measure_end = t_measure + opt.duration;
		msgs = 0;
		if (opt.ready_file) {
			FILE *f = fopen(opt.ready_file, "w");
			if (f) {
				fprintf(f, "%d\n", n_open);
				fclose(f);
			}
		}
	}
}

/* After a session opened or ended: the setup, the next sessions, the end
 * of a connect run. */
static void
progress(void)
{
	maybe_finish_setup();
	if (opt.mode == M_CONNECT && !done &&
	    n_opened + n_failed >= opt.count) {
		done = 1;
		t_measure_end = now();
	}
	fill();
}

static int
polling_now(void)
{
	int n = 0;

	for (int i = 0; i < nsess; i++)
		n += sess[i].st == S_OPEN && sess[i].xhr && sess[i].get_busy;
	return n;
}

static void
begin_drain(void)
{
	if (draining)
		return;
	alive_at_drain = n_open;
	polls_at_drain = polling_now();
	cpu_at_drain = cpu_used();
	draining = 1;
	t_drain = now();
	for (int i = 0; i < nsess; i++)
		if (sess[i].st == S_OPEN && (sess[i].wsi || sess[i].xhr)) {
			sess[i].bye_pending = 1;
			want_write(&sess[i]);
		}
}

/* How long a server may take to answer `0::` (s): longer when
 * thousands say it at once. */
static double
bye_limit(void)
{
	return 1 + nsess / 2000.0;
}

/* How long the goodbyes may take altogether (s). */
static double
drain_limit(void)
{
	return bye_limit() + 1 + nsess / 1000.0;
}

/* Every 50 ms: sessions stuck connecting, relays lost, POSTs waiting for
 * a connection. */
static void
scan(double t)
{
	if (t - t_scan < 0.05)
		return;
	t_scan = t;
	for (int i = 0; i < started; i++) {
		struct sess *s = &sess[i];
		if (s->st == S_CONNECTING && !s->wsi &&
		    t - s->t_start > CONNECT_TIMEOUT) {
			set_error("connect_timeout",
			          s->sid[0] ? "poll" : "handshake");
			on_gone(s, NULL);
		}
		if (s->post_wait && n_posts_open < HOLD_POSTS)
			xhr_flush(s);
		/* A websocket the server should have closed after `0::`: 0.2 s
		 * after its `0::` came back, a while after ours went. (Not
		 * lws timers: it keeps them in one sorted list, O(n) to add.)
		 */
		if (s->wsi && s->bye_sent && !s->killed &&
		    t - s->t_bye > (s->bye_answered ? 0.2 : bye_limit())) {
			s->killed = 1;
			n_client_closed += s->bye_answered;
			lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK,
			                LWS_TO_KILL_SYNC);
		}
	}
	if (opt.mode == M_RELAY && !done && sess[1].t_send &&
	    t - sess[1].t_send > RELAY_TIMEOUT) {
		set_error("relay_timeout", NULL);
		done = 1;
	}
}

/* The periodic checks; returns when they are next due (ms). */
static int
tick(void)
{
	double t = now();

	if (interrupted && !done) {
		done = 1;
		set_error("interrupted", NULL);
	}
	if (t - t_begin > opt.timeout && !done) {
		done = 1;
		set_error("timeout", NULL);
	}
	scan(t);
	progress();
	if ((opt.mode == M_ECHO || opt.mode == M_HOLD) &&
	    n_failed >= opt.clients && !done)
		done = 1; /* nothing to measure */
	if (!done) {
		if ((opt.mode == M_ACK || opt.mode == M_RELAY) && n_failed)
			done = 1;
		if (opt.mode == M_RELAY && started == 2 && n_open < 2 &&
		    sess[0].st != S_CONNECTING && sess[1].st != S_CONNECTING)
			done = 1; /* A or B ended */
		if (measuring && opt.mode != M_CONNECT && t >= t_measure_end)
			done = 1;
	}
	if (done && !draining)
		begin_drain();
	/* once idle sessions are all open, wake seldom */
	return opt.mode == M_HOLD && measuring && !done ? 100 : 10;
}

static int
all_closed(void)
{
	return n_open == 0 && inflight == 0;
}

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void
usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "loadgen: %s\n", msg);
	fprintf(stderr,
	        "usage: loadgen --port P [--ws-port W] [--host 127.0.0.1] "
	        "[--transport websocket|xhr-polling]\n"
	        "  --mode echo    --clients N --duration S [--payload B]\n"
	        "  --mode ack     --count N [--warmup W]\n"
	        "  --mode connect --count N [--clients C]\n"
	        "  --mode hold    --clients N --duration S [--ready-file F]\n"
	        "  --mode relay   --count N [--warmup W]   (xhr-polling -> "
	        "websocket)\n"
	        "  [--in-flight K] [--timeout S] [--label L] [-v]\n");
	exit(2);
}

static long
num(const char *s, long lo, long hi, const char *what)
{
	char *end;

	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		char m[128];
		snprintf(m, sizeof m, "bad %s '%s' (%ld..%ld)", what, s, lo,
		         hi);
		usage(m);
	}
	return v;
}

/* Seconds, fractions allowed. */
static double
secs(const char *s, double lo, double hi, const char *what)
{
	char *end;

	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || end == s || !(v >= lo && v <= hi)) {
		char m[128];
		snprintf(m, sizeof m, "bad %s '%s' (%g..%g s)", what, s, lo,
		         hi);
		usage(m);
	}
	return v;
}

static const char *
parse_args(int argc, char **argv)
{
	const char *label = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-v")) {
			opt.verbose = 1;
			continue;
		}
		if (!v)
			usage("missing value");
		i++;
		if (!strcmp(a, "--mode")) {
			size_t m = 0;
			while (m < sizeof mode_names / sizeof *mode_names &&
			       strcmp(v, mode_names[m]))
				m++;
			if (m == sizeof mode_names / sizeof *mode_names)
				usage("bad mode");
			opt.mode = (enum mode)m;
		} else if (!strcmp(a, "--transport")) {
			if (!strcmp(v, "xhr-polling"))
				opt.xhr = 1;
			else if (strcmp(v, "websocket"))
				usage("bad transport");
		} else if (!strcmp(a, "--host"))
			opt.host = v;
		else if (!strcmp(a, "--port"))
			opt.port = (int)num(v, 1, 65535, "port");
		else if (!strcmp(a, "--ws-port"))
			opt.ws_port = (int)num(v, 1, 65535, "ws port");
		else if (!strcmp(a, "--clients"))
			opt.clients = (int)num(v, 1, MAX_CLIENTS, "clients");
		else if (!strcmp(a, "--count"))
			opt.count = (int)num(v, 1, MAX_COUNT, "count");
		else if (!strcmp(a, "--warmup"))
			opt.warmup = (int)num(v, 0, 100000, "warmup");
		else if (!strcmp(a, "--payload"))
			opt.payload = (int)num(v, 0, 200, "payload");
		else if (!strcmp(a, "--duration"))
			opt.duration = secs(v, 0.1, 600, "duration");
		else if (!strcmp(a, "--timeout"))
			opt.timeout = secs(v, 1, 1800, "timeout");
		else if (!strcmp(a, "--in-flight"))
			opt.inflight_max = (int)num(v, 1, 1000, "in-flight");
		else if (!strcmp(a, "--ready-file"))
			opt.ready_file = v;
		else if (!strcmp(a, "--label"))
			label = v;
		else
			usage("unknown option");
	}
	return label;
}

static void
uv_tick(uv_timer_t *t)
{
	uv_timer_start(t, uv_tick, (uint64_t)tick(), 0);
}

static void
uv_ep(uv_poll_t *p, int status, int events)
{
	(void)p;
	(void)status;
	(void)events;
	ep_service(0);
}

/* Runs the sessions in a libuv loop that lws joins (its own loop polls
 * every fd on each turn, too slow with 10,000), the epoll set in it too. */
static int
run_lws(void)
{
	struct lws_context_creation_info info;
	void *loops[1] = {&uvloop};

	uv_loop_init(&uvloop);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.options = LWS_SERVER_OPTION_LIBUV;
	info.foreign_loops = loops;
	/* no fd_limit_per_thread: with it lws finds a connection by its fd
	 * with a linear search; without, it indexes up to RLIMIT_NOFILE */
	info.timeout_secs = 10;
	ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr, "loadgen: lws_create_context failed\n");
		return -1;
	}
	uv_poll_init(&uvloop, &uvep, ep);
	uv_poll_start(&uvep, UV_READABLE, uv_ep);
	uv_timer_init(&uvloop, &uvtick);
	uv_timer_start(&uvtick, uv_tick, 0, 0);
	while (!(draining && (all_closed() || now() - t_drain > drain_limit())))
		uv_run(&uvloop, UV_RUN_ONCE);
	uv_timer_stop(&uvtick);
	uv_poll_stop(&uvep);
	lws_context_destroy(ctx);
	ctx = NULL;
	return 0;
}

/* xhr-polling alone: the epoll set is the loop. */
static void
run_epoll(void)
{
	while (
	    !(draining && (all_closed() || now() - t_drain > drain_limit()))) {
		int ms = tick();
		ep_service(ms);
	}
	if (opt.verbose)
		for (int e = 0; e < nsess; e++)
			if (sess[e].st == S_OPEN)
				fprintf(
				    stderr,
				    "loadgen: session %d still open: "
				    "post_busy=%d bye_sent=%d msg=%d hb=%d\n",
				    e, sess[e].post_busy, sess[e].bye_sent,
				    sess[e].msg_pending, sess[e].hb_pending);
}

static int
report(const char *label)
{
	double t_end = now();
	int alive = draining ? alive_at_drain : n_open;
	int ok = 1;
	/* CPU over the time the load ran, not the goodbyes after it */
	double cpu = draining ? cpu_at_drain : cpu_used();
	double wall = (draining ? t_drain : t_end) - t_begin;

	printf("transport=%s mode=%s",
	       opt.mode == M_RELAY ? "xhr-polling>websocket"
	       : opt.xhr           ? "xhr-polling"
	                           : "websocket",
	       mode_names[opt.mode]);
	if (label)
		printf(" label=%s", label);
	qsort(lat, (size_t)nlat, sizeof *lat, cmp_double);
	switch (opt.mode) {
	case M_ECHO: {
		double w = (draining ? t_drain : t_end) - t_measure;
		if (!measuring || w <= 0)
			w = 0, ok = 0;
		printf(" clients=%d open=%d payload=%d window_s=%.2f msgs=%lld "
		       "rate=%.0f",
		       opt.clients, n_opened, opt.payload, w, msgs,
		       w > 0 ? (double)msgs / w : 0.0);
		if (n_closed_unexpected || n_failed || !msgs)
			ok = 0;
		break;
	}
	case M_ACK:
	case M_RELAY:
		printf(" count=%d %s=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
		       "max_ms=%.3f",
		       opt.count, opt.mode == M_ACK ? "acks" : "relayed", nlat,
		       quantile(0.5), quantile(0.9), quantile(0.99),
		       nlat ? lat[nlat - 1] : 0.0);
		if (nlat < opt.count)
			ok = 0;
		break;
	case M_CONNECT: {
		double w =
		    (t_measure_end > 0 ? t_measure_end : t_end) - t_begin;
		printf(" count=%d in_flight=%d connected=%d failed=%d "
		       "window_s=%.2f rate=%.0f p50_ms=%.3f p99_ms=%.3f "
		       "client_closed=%d",
		       opt.count, opt.inflight_max, nlat, n_failed, w,
		       w > 0 ? nlat / w : 0.0, quantile(0.5), quantile(0.99),
		       n_client_closed);
		if (n_failed || nlat < opt.count)
			ok = 0;
		break;
	}
	case M_HOLD:
		printf(" clients=%d opened=%d failed=%d alive=%d lost=%d",
		       opt.clients, n_opened, n_failed, alive,
		       n_closed_unexpected);
		if (opt.xhr)
			printf(" polls=%d",
			       draining ? polls_at_drain : polling_now());
		printf(" setup_s=%.2f held_s=%.2f",
		       t_ready > 0 ? t_ready - t_begin : 0.0,
		       t_ready > 0 ? (draining ? t_drain : t_end) - t_ready
		                   : 0.0);
		if (alive < opt.clients || n_closed_unexpected)
			ok = 0;
		break;
	}
	printf(" lg_cpu_s=%.2f lg_wall_s=%.2f lg_cpu_pct=%.1f drain_s=%.2f "
	       "ok=%d%s%s\n",
	       cpu, wall, wall > 0 ? 100.0 * cpu / wall : 0.0,
	       draining ? t_end - t_drain : 0.0, ok,
	       last_error[0] ? " error=" : "", last_error);
	return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *label = parse_args(argc, argv);
	struct rlimit rl;

	if (!opt.port)
		usage("--port is required");
	if (!opt.ws_port)
		opt.ws_port = opt.port;
	/* Loopback only. */
	if (!strcmp(opt.host, "localhost"))
		opt.host = "127.0.0.1";
	if (inet_pton(AF_INET, opt.host, &opt.addr) != 1 ||
	    (ntohl(opt.addr.s_addr) >> 24) != 127)
		usage("--host must be a 127.0.0.0/8 address (loopback targets "
		      "only)");
	if (!opt.inflight_max)
		opt.inflight_max = opt.mode == M_CONNECT
		                       ? (opt.clients > 1 ? opt.clients : 8)
		                       : 64;
	if (opt.mode == M_RELAY && opt.inflight_max < 2)
		opt.inflight_max = 2;
	if (!opt.timeout)
		opt.timeout =
		    (opt.mode == M_ECHO || opt.mode == M_HOLD ? opt.duration
		                                              : 0) +
		    60 + (opt.mode == M_HOLD ? opt.clients / 100.0 : 0);
	if (opt.mode == M_ACK)
		opt.clients = 1;

	echo_len = 4 + (size_t)opt.payload;
	echo_msg = xmalloc(echo_len + 1);
	memcpy(echo_msg, "3:::", 4);
	for (size_t k = 4; k < echo_len; k++)
		echo_msg[k] = (char)('a' + k % 26);
	echo_msg[echo_len] = 0;

	nsess = target_sessions();
	sess = calloc((size_t)nsess, sizeof *sess);
	if (!sess) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	lws_set_log_level(
	    opt.verbose ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR, NULL);
	/* As many descriptors as the run needs, not more: lws's table of
	 * connections has RLIMIT_NOFILE slots, and the Debian build keeps
	 * its sanity checks, which walk the whole table as each connection
	 * opens and closes (at 20,000 slots, a tenth of the load generator's
	 * CPU in the connect phase). A session has at most three sockets. */
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rlim_t need =
		    (rlim_t)(opt.mode == M_CONNECT ? opt.inflight_max : nsess) *
		        3 +
		    64;

		rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("loadgen: epoll_create1");
		return 1;
	}

	t_begin = now();
	if (opt.mode == M_CONNECT) {
		measuring = 1;
		t_measure = t_begin;
	}
	if (opt.xhr && opt.mode != M_RELAY)
		run_epoll();
	else if (run_lws() < 0)
		return 1;
	for (int i = 0; i < nsess; i++)
		for (int k = 0; k < C_N; k++)
			if (sess[i].c[k].fd >= 0)
				close(sess[i].c[k].fd);
	return report(label);
}
