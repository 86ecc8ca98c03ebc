/*
 * bench/loadgen.c: a Socket.IO protocol 1 load generator over websocket
 * (libwebsockets client) or xhr-polling (raw HTTP/1.1 keep-alive sockets,
 * epoll), many sessions in one event loop.
 *
 *   loadgen --port P [--ws-port W] [--host 127.0.0.1]
 *           [--transport websocket|xhr-polling] --mode MODE [options]
 *
 * xhr-polling: each session holds two keep-alive connections to P, one for
 * the long-poll GET (re-issued as soon as it returns) and one for POSTs
 * (one in flight; what is pending meanwhile goes in the next, framed).
 *
 * Each session does the handshake `GET /socket.io/1/` on P itself (a
 * blocking raw socket, Connection: close), then connects
 * ws://host:W/socket.io/1/websocket/<sid> and waits for `1::`. Heartbeats
 * (`2::`) are answered in every mode.
 *
 * Modes:
 *   echo    --clients N --duration S [--payload B]
 *           each client sends `3:::<B bytes>` and waits for its echo; the
 *           window starts once every client is connected; msgs/s
 *   ack     --count N [--warmup W]
 *           one client, `5:<id>+::{"name":"echo","args":[id]}` answered by
 *           `6:::<id>+[id]`, one in flight; latency p50/p90/p99/max in ms
 *   connect --count N [--clients C]
 *           handshake + websocket + `1::`, C in flight (default 8); each
 *           session then sends `0::` and closes; connects/s
 *   hold    --clients N --duration S [--ready-file F]
 *           opens N idle sessions (at most --clients-in-flight at a time),
 *           touches F once all are open, holds them S seconds answering
 *           heartbeats, reports how many are still open at the end
 *
 * Loopback targets only; every run is bounded (--timeout, default
 * duration + 60 s). Prints one line: `mode=... key=value ...`, including
 * the load generator's own CPU use (getrusage) over its wall time.
 */
#include <libwebsockets.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum mode { M_ECHO, M_ACK, M_CONNECT, M_HOLD };
enum state { S_IDLE, S_CONNECTING, S_OPEN, S_CLOSED, S_FAILED };

#define RXCAP 65536
#define MAX_CLIENTS 20000
#define MAX_COUNT 1000000

struct sess {
	struct lws *wsi;
	enum state st;
	int hb_pending;  /* heartbeats to answer */
	int msg_pending; /* the next message/event to send */
	int bye_pending; /* `0::`, then wait for the server to close */
	int bye_sent;
	int counted;     /* connect mode: completion recorded */
	unsigned ack_id;
	double t_send, t_start;
	char sid[64];
	char *rx;
	size_t rxlen;
	/* xhr-polling: a keep-alive GET (long poll) and a POST connection */
	int gfd, pfd, post_busy, nq;
	char *prx;
	size_t prxlen;
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
	.mode = M_ECHO, .host = "127.0.0.1", .clients = 1, .count = 1000,
	.warmup = 100, .payload = 32, .inflight_max = 0, .duration = 5,
	.timeout = 0,
};

static struct lws_context *ctx;
static struct sess *sess;
static int nsess;       /* sessions allocated */
static int started;     /* sessions started */
static int inflight;    /* connecting, not yet open or failed */
static int n_open, n_opened, n_failed, n_closed_unexpected;
static int done, draining, measuring;
static double t_begin, t_measure, t_measure_end, t_ready, t_drain;
static int alive_at_drain;
static long long msgs;          /* echo: in the window */
static double *lat;             /* ack, connect: latencies (ms) */
static int nlat, latcap;
static char *echo_msg;
static size_t echo_len;
static char last_error[160];
static volatile sig_atomic_t interrupted;
static lws_sorted_usec_list_t tick_sul;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_error(const char *what, const char *detail)
{
	snprintf(last_error, sizeof last_error, "%s%s%s", what, detail ? ": " : "",
		 detail ? detail : "");
	for (char *p = last_error; *p; p++)
		if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '"')
			*p = '_';
}

static void add_lat(double ms)
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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double quantile(double q)
{
	if (!nlat)
		return 0;
	int i = (int)(q * nlat);
	if (i >= nlat)
		i = nlat - 1;
	return lat[i];
}

/* --- the handshake: GET /socket.io/1/ on a blocking socket ------------- */

static int handshake(char *sid, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0) {
		set_error("socket", strerror(errno));
		return -1;
	}
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port),
				 .sin_addr = opt.addr};
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		set_error("handshake_connect", strerror(errno));
		close(fd);
		return -1;
	}
	char req[256];
	int n = snprintf(req, sizeof req,
			 "GET /socket.io/1/?t=%d HTTP/1.1\r\nHost: %s:%d\r\n"
			 "Connection: close\r\n\r\n",
			 started, opt.host, opt.port);
	if (write(fd, req, (size_t)n) != n) {
		set_error("handshake_write", strerror(errno));
		close(fd);
		return -1;
	}
	char buf[4096];
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = 0;
		/* Done once the body holds the sid and its three fields. */
		char *b = strstr(buf, "\r\n\r\n");
		if (b) {
			char *c = b + 4;
			int colons = 0;
			for (; *c; c++)
				if (*c == ':')
					colons++;
			if (colons >= 3 && strchr(b + 4, '\n'))
				break;
			if (colons >= 3 && !strstr(buf, "chunked"))
				break;
		}
		if (len == sizeof buf - 1)
			break;
	}
	close(fd);
	buf[len] = 0;
	if (len < 12 || strncmp(buf + 9, "200", 3) != 0) {
		set_error("handshake_status", len >= 12 ? buf + 9 : "none");
		last_error[30 < sizeof last_error ? 30 : 0] = 0;
		return -1;
	}
	char *body = strstr(buf, "\r\n\r\n");
	if (!body) {
		set_error("handshake_body", NULL);
		return -1;
	}
	body += 4;
	if (strcasestr(buf, "transfer-encoding: chunked")) {
		char *nl = strstr(body, "\r\n");
		if (!nl) {
			set_error("handshake_chunk", NULL);
			return -1;
		}
		body = nl + 2;
	}
	size_t sl = strcspn(body, ":");
	if (!sl || body[sl] != ':' || sl >= cap) {
		set_error("handshake_sid", NULL);
		return -1;
	}
	memcpy(sid, body, sl);
	sid[sl] = 0;
	return 0;
}

/* --- sessions ---------------------------------------------------------- */

/* What every session starts with, whatever its transport: the handshake
 * and the receive buffer. Returns -1 (session failed) when the handshake
 * does. */
static int session_begin(struct sess *s)
{
	memset(s, 0, sizeof *s);
	s->gfd = s->pfd = -1;
	s->st = S_CONNECTING;
	s->t_start = now();
	started++;
	inflight++;
	if (handshake(s->sid, sizeof s->sid) < 0) {
		s->st = S_FAILED;
		inflight--;
		n_failed++;
		return -1;
	}
	s->rx = malloc(RXCAP);
	if (!s->rx) {
		fprintf(stderr, "loadgen: out of memory\n");
		exit(1);
	}
	return 0;
}

static void start_session(struct sess *s)
{
	if (session_begin(s) < 0)
		return;
	char path[128], hosthdr[64];
	snprintf(path, sizeof path, "/socket.io/1/websocket/%s", s->sid);
	snprintf(hosthdr, sizeof hosthdr, "%s:%d", opt.host, opt.ws_port);
	struct lws_client_connect_info i;
	memset(&i, 0, sizeof i);
	i.context = ctx;
	i.address = inet_ntoa(opt.addr);
	i.port = opt.ws_port;
	i.path = path;
	i.host = hosthdr;
	i.origin = hosthdr;
	i.local_protocol_name = "sio";
	i.pwsi = &s->wsi;
	i.userdata = s;
	if (!lws_client_connect_via_info(&i)) {
		if (s->st == S_CONNECTING) {
			s->st = S_FAILED;
			inflight--;
			n_failed++;
			set_error("ws_connect", "connect_via_info");
		}
		free(s->rx);
		s->rx = NULL;
	}
}

static void xhr_flush(struct sess *s);

static void want_write(struct sess *s)
{
	if (opt.xhr)
		xhr_flush(s);
	else if (s->wsi)
		lws_callback_on_writable(s->wsi);
}

static int send_text(struct sess *s, const char *text, size_t len)
{
	static unsigned char *buf;
	static size_t cap;
	if (LWS_PRE + len > cap) {
		cap = LWS_PRE + len + 256;
		buf = realloc(buf, cap);
		if (!buf) {
			fprintf(stderr, "loadgen: out of memory\n");
			exit(1);
		}
	}
	memcpy(buf + LWS_PRE, text, len);
	if (lws_write(s->wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len) {
		set_error("ws_write", NULL);
		return -1;
	}
	return 0;
}

static int send_next(struct sess *s)
{
	char tmp[160];
	int n;
	switch (opt.mode) {
	case M_ECHO:
		s->t_send = now();
		return send_text(s, echo_msg, echo_len);
	case M_ACK:
		s->ack_id++;
		n = snprintf(tmp, sizeof tmp, "5:%u+::{\"name\":\"echo\",\"args\":[%u]}",
			     s->ack_id, s->ack_id);
		s->t_send = now();
		return send_text(s, tmp, (size_t)n);
	default:
		return 0;
	}
}

static void maybe_finish_setup(void);

static void on_open(struct sess *s)
{
	s->st = S_OPEN;
	inflight--;
	n_open++;
	n_opened++;
	switch (opt.mode) {
	case M_ECHO:
	case M_ACK:
		s->msg_pending = 1;
		want_write(s);
		break;
	case M_CONNECT:
		add_lat((now() - s->t_start) * 1e3);
		s->counted = 1;
		s->bye_pending = 1;
		want_write(s);
		break;
	case M_HOLD:
		break;
	}
	maybe_finish_setup();
}

/* One packet (no framing) from the server. */
static int on_packet(struct sess *s, const char *p, size_t len)
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
		if (s->bye_sent || s->bye_pending)
			return 0; /* the server closes: socket.io 0.9 crashes on
				     EPIPE if the client closes first */
		set_error("server_disconnect", NULL);
		return -1;
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
		int n = snprintf(want, sizeof want, "6:::%u+[%u]", s->ack_id, s->ack_id);
		if ((size_t)n != len || memcmp(p, want, len)) {
			set_error("ack_mismatch", NULL);
			return -1;
		}
		if (s->ack_id > (unsigned)opt.warmup)
			add_lat((now() - s->t_send) * 1e3);
		if ((int)s->ack_id >= opt.count + opt.warmup) {
			done = 1;
			return 0;
		}
		s->msg_pending = 1;
		want_write(s);
		return 0;
	}
	return 0; /* events and anything else: ignored */
}

/* A websocket message: one packet, or several in U+FFFD framing. */
static int on_message(struct sess *s, const char *m, size_t len)
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

static void on_gone(struct sess *s, const char *why)
{
	if (s->st == S_CONNECTING) {
		inflight--;
		n_failed++;
		set_error("ws_connect", why);
	} else if (s->st == S_OPEN) {
		n_open--;
		if (!draining && !s->bye_pending && opt.mode != M_CONNECT) {
			n_closed_unexpected++;
			if (!last_error[0])
				set_error("closed", why);
		}
	}
	s->st = S_CLOSED;
	s->wsi = NULL;
	free(s->rx);
	s->rx = NULL;
	maybe_finish_setup();
}

static int callback_sio(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			void *in, size_t len)
{
	struct sess *s = user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (s)
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
		if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
			return 0;
		{
			size_t n = s->rxlen;
			s->rxlen = 0;
			if (on_message(s, s->rx, n) < 0)
				return -1;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (!s)
			return 0;
		if (s->hb_pending) {
			s->hb_pending--;
			if (send_text(s, "2::", 3) < 0)
				return -1;
		} else if (s->bye_pending) {
			if (!s->bye_sent) {
				s->bye_sent = 1;
				if (send_text(s, "0::", 3) < 0)
					return -1;
				/* Closed by the server; by us after a while. */
				lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 5);
			}
			return 0;
		} else if (s->msg_pending && !draining && !done) {
			s->msg_pending = 0;
			if (send_next(s) < 0)
				return -1;
		}
		if (s->hb_pending || (s->bye_pending && !s->bye_sent) || (s->msg_pending && !draining && !done))
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (s)
			on_gone(s, "closed");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (s && s->wsi == wsi && s->st != S_CLOSED && s->st != S_FAILED)
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


/* --- xhr-polling over raw HTTP/1.1 keep-alive sockets (epoll) ---------- */

#define PRXCAP 8192
static int ep = -1;

static int tcp_open(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port),
				 .sin_addr = opt.addr};
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static int xhr_add(struct sess *s, int fd, int which)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)(s - sess) << 1) | (uint64_t)which};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void xhr_close(struct sess *s)
{
	if (s->gfd > 0)
		close(s->gfd);
	if (s->pfd > 0)
		close(s->pfd);
	s->gfd = s->pfd = -1;
	free(s->prx);
	s->prx = NULL;
	s->post_busy = 0;
}

static void xhr_gone(struct sess *s, const char *why)
{
	xhr_close(s);
	if (s->st == S_OPEN || s->st == S_CONNECTING)
		on_gone(s, why);
}

/* Writes a whole small request on a nonblocking socket. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct timespec ts = {0, 50000};
			nanosleep(&ts, NULL);
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int xhr_get(struct sess *s)
{
	char req[256];
	if (s->gfd < 0) {
		if ((s->gfd = tcp_open()) < 0 || xhr_add(s, s->gfd, 0) < 0)
			return -1;
	}
	int n = snprintf(req, sizeof req,
			 "GET /socket.io/1/xhr-polling/%s?t=%u HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
			 s->sid, s->gets++, opt.host, opt.port);
	return write_all(s->gfd, req, (size_t)n);
}

/* Sends what is pending (heartbeats, the next message, `0::`) in one POST. */
static void xhr_flush(struct sess *s)
{
	if (s->post_busy || s->pfd < 0 || (s->st != S_OPEN))
		return;
	char pk[4][200];
	size_t pl[4];
	int np = 0;
	while (s->hb_pending && np < 2) {
		s->hb_pending--;
		memcpy(pk[np], "2::", 3);
		pl[np++] = 3;
	}
	if (s->msg_pending && !draining && !done && !s->bye_pending) {
		s->msg_pending = 0;
		if (opt.mode == M_ECHO) {
			size_t n = echo_len < sizeof pk[0] ? echo_len : sizeof pk[0];
			memcpy(pk[np], echo_msg, n);
			pl[np++] = n;
		} else if (opt.mode == M_ACK) {
			s->ack_id++;
			pl[np] = (size_t)snprintf(pk[np], sizeof pk[np],
						  "5:%u+::{\"name\":\"echo\",\"args\":[%u]}",
						  s->ack_id, s->ack_id);
			np++;
		}
		s->t_send = now();
	}
	if (s->bye_pending && !s->bye_sent) {
		s->bye_sent = 1;
		memcpy(pk[np], "0::", 3);
		pl[np++] = 3;
	}
	if (!np)
		return;
	char body[1024];
	size_t bl = 0;
	if (np == 1) {
		memcpy(body, pk[0], pl[0]);
		bl = pl[0];
	} else {
		for (int i = 0; i < np; i++)
			bl += (size_t)snprintf(body + bl, sizeof body - bl, "\xef\xbf\xbd%zu\xef\xbf\xbd%.*s",
					       pl[i], (int)pl[i], pk[i]);
	}
	char req[1400];
	int n = snprintf(req, sizeof req,
			 "POST /socket.io/1/xhr-polling/%s?t=%u HTTP/1.1\r\nHost: %s:%d\r\n"
			 "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n\r\n%.*s",
			 s->sid, s->posts++, opt.host, opt.port, bl, (int)bl, body);
	if (write_all(s->pfd, req, (size_t)n) < 0) {
		set_error("post_write", strerror(errno));
		xhr_gone(s, "post_write");
		return;
	}
	s->post_busy = 1;
}

/* One HTTP response in buf[0..len): 1 when complete (body dechunked in
 * place), 0 when more is needed, -1 when malformed. */
static int http_response(char *buf, size_t len, int eof, int *status, char **body,
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
			return 0;
		*blen = n;
		*used = hl + n;
		return 1;
	}
	if (chunked) {
		size_t p = hl, out = hl;
		for (;;) {
			char *nl = memmem(buf + p, len - p, "\r\n", 2);
			if (!nl)
				return 0;
			size_t n = strtoul(buf + p, NULL, 16);
			size_t data = (size_t)(nl - buf) + 2;
			if (!n) {
				if (len < data + 2)
					return 0;
				*blen = out - hl;
				*used = data + 2;
				/* compact only now that it is complete */
				break;
			}
			if (len < data + n + 2)
				return 0;
			p = data + n + 2;
			out += n;
		}
		/* second pass: move the chunks together */
		size_t p2 = hl, o = hl;
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

static void xhr_readable(struct sess *s, int which)
{
	int fd = which ? s->pfd : s->gfd;
	char *buf = which ? s->prx : s->rx;
	size_t *len = which ? &s->prxlen : &s->rxlen, cap = (which ? PRXCAP : RXCAP) - 1;
	int eof = 0;
	if (fd < 0 || !buf)
		return;
	for (;;) {
		if (*len >= cap) {
			set_error("rx_overflow", NULL);
			xhr_gone(s, "rx_overflow");
			return;
		}
		ssize_t r = read(fd, buf + *len, cap - *len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0) {
			eof = 1;
			break;
		}
		*len += (size_t)r;
	}
	buf[*len] = 0;
	int status = 0, cc = 0;
	char *body = NULL;
	size_t blen = 0, used = 0;
	int rc = http_response(buf, *len, eof, &status, &body, &blen, &used, &cc);
	if (rc == 0 && !eof)
		return;
	if (s->bye_sent && (rc <= 0 || status != 200 || which == 0)) {
		/* `0::` went out: whatever comes back ends the session */
		s->st = S_OPEN;
		xhr_gone(s, "bye");
		return;
	}
	if (rc <= 0) {
		if (!(s->bye_sent && which == 0))
			set_error(which ? "post_response" : "get_response", eof ? "eof" : "malformed");
		xhr_gone(s, "http");
		return;
	}
	if (status != 200) {
		char st[16];
		snprintf(st, sizeof st, "%d", status);
		if (!s->bye_sent)
			set_error(which ? "post_status" : "get_status", st);
		xhr_gone(s, "status");
		return;
	}
	/* body is in buf: handle it before the buffer is reused */
	int bad = 0;
	if (which == 0 && blen)
		bad = on_message(s, body, blen) < 0;
	memmove(buf, buf + used, *len - used);
	*len -= used;
	if (cc || eof) {
		epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
		close(fd);
		if (which)
			s->pfd = tcp_open();
		else
			s->gfd = -1;
		if (which && (s->pfd < 0 || xhr_add(s, s->pfd, 1) < 0)) {
			xhr_gone(s, "reconnect");
			return;
		}
	}
	if (bad) {
		xhr_gone(s, "packet");
		return;
	}
	if (which) {
		s->post_busy = 0;
		if (s->bye_sent) {
			s->st = S_OPEN; /* counted as a clean end */
			xhr_gone(s, "bye");
			return;
		}
		xhr_flush(s);
	} else if (s->st == S_OPEN || s->st == S_CONNECTING) {
		if (!s->bye_sent && xhr_get(s) < 0) {
			set_error("get_write", strerror(errno));
			xhr_gone(s, "get_write");
			return;
		}
		xhr_flush(s);
	}
}

static void xhr_start_session(struct sess *s)
{
	if (session_begin(s) < 0)
		return;
	s->prx = malloc(PRXCAP);
	if (!s->prx) {
		fprintf(stderr, "loadgen: out of memory\n");
		exit(1);
	}
	if ((s->pfd = tcp_open()) < 0 || xhr_add(s, s->pfd, 1) < 0 || xhr_get(s) < 0) {
		set_error("xhr_connect", strerror(errno));
		xhr_gone(s, "xhr_connect");
	}
}

/* --- the run ----------------------------------------------------------- */

static int target_sessions(void)
{
	return opt.mode == M_CONNECT ? opt.count : opt.mode == M_ACK ? 1 : opt.clients;
}

static void maybe_finish_setup(void)
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

static void begin_drain(void)
{
	if (draining)
		return;
	draining = 1;
	t_drain = now();
	alive_at_drain = n_open;
	for (int i = 0; i < nsess; i++)
		if (sess[i].st == S_OPEN && (sess[i].wsi || opt.xhr)) {
			sess[i].bye_pending = 1;
			want_write(&sess[i]);
		}
}

static void tick(lws_sorted_usec_list_t *sul)
{
	double t = now();
	(void)sul;
	if (interrupted && !done) {
		done = 1;
		set_error("interrupted", NULL);
	}
	if (t - t_begin > opt.timeout && !done) {
		done = 1;
		set_error("timeout", NULL);
	}
	maybe_finish_setup();
	if ((opt.mode == M_ECHO || opt.mode == M_HOLD) && n_failed >= opt.clients && !done) {
		done = 1; /* nothing to measure */
	}
	if (!done) {
		/* Start sessions, at most inflight_max connecting at once; a
		 * blocking handshake each, so a few per turn. */
		int budget = 16;
		while (started < target_sessions() && inflight < opt.inflight_max && budget-- > 0)
			(opt.xhr ? xhr_start_session : start_session)(&sess[started]);
		if (opt.mode == M_CONNECT && n_opened + n_failed >= opt.count && !done) {
			done = 1;
			t_measure_end = t;
		}
		if (opt.mode == M_ACK && n_failed && !done)
			done = 1;
		if (measuring && opt.mode != M_CONNECT && t >= t_measure_end)
			done = 1;
	}
	if (done && !draining)
		begin_drain();
	if (!opt.xhr)
		/* lws_service() polls every fd: once idle sessions are all
		 * open, wake seldom so that holding 10,000 costs nothing */
		lws_sul_schedule(ctx, 0, &tick_sul, tick,
				 opt.mode == M_CONNECT ? 200 :
				 opt.mode == M_HOLD && measuring && !done ? 100000 : 2000);
}

static int all_closed(void)
{
	for (int i = 0; i < nsess; i++)
		if (sess[i].st == S_OPEN || sess[i].st == S_CONNECTING)
			return 0;
	return 1;
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "loadgen: %s\n", msg);
	fprintf(stderr,
		"usage: loadgen --port P [--ws-port W] [--host 127.0.0.1] [--transport websocket|xhr-polling]\n"
		"  --mode echo    --clients N --duration S [--payload B]\n"
		"  --mode ack     --count N [--warmup W]\n"
		"  --mode connect --count N [--clients C]\n"
		"  --mode hold    --clients N --duration S [--ready-file F]\n"
		"  [--in-flight K] [--timeout S] [--label L]\n");
	exit(2);
}

static long num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		char m[128];
		snprintf(m, sizeof m, "bad %s '%s' (%ld..%ld)", what, s, lo, hi);
		usage(m);
	}
	return v;
}

int main(int argc, char **argv)
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
			if (!strcmp(v, "echo"))
				opt.mode = M_ECHO;
			else if (!strcmp(v, "ack"))
				opt.mode = M_ACK;
			else if (!strcmp(v, "connect"))
				opt.mode = M_CONNECT;
			else if (!strcmp(v, "hold"))
				opt.mode = M_HOLD;
			else
				usage("bad mode");
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
			opt.payload = (int)num(v, 0, 60000, "payload");
		else if (!strcmp(a, "--duration"))
			opt.duration = (double)num(v, 1, 600, "duration");
		else if (!strcmp(a, "--timeout"))
			opt.timeout = (double)num(v, 1, 1800, "timeout");
		else if (!strcmp(a, "--in-flight"))
			opt.inflight_max = (int)num(v, 1, 1000, "in-flight");
		else if (!strcmp(a, "--ready-file"))
			opt.ready_file = v;
		else if (!strcmp(a, "--label"))
			label = v;
		else
			usage("unknown option");
	}
	if (!opt.port)
		usage("--port is required");
	if (!opt.ws_port)
		opt.ws_port = opt.port;
	/* Loopback only. */
	if (!strcmp(opt.host, "localhost"))
		opt.host = "127.0.0.1";
	if (inet_pton(AF_INET, opt.host, &opt.addr) != 1 ||
	    (ntohl(opt.addr.s_addr) >> 24) != 127)
		usage("--host must be a 127.0.0.0/8 address (loopback targets only)");
	if (!opt.inflight_max)
		opt.inflight_max = opt.mode == M_CONNECT ? (opt.clients > 1 ? opt.clients : 8) : 64;
	if (!opt.timeout)
		opt.timeout = (opt.mode == M_ECHO || opt.mode == M_HOLD ? opt.duration : 0) + 60 +
			      (opt.mode == M_HOLD ? opt.clients / 100.0 : 0);
	if (opt.mode == M_ACK)
		opt.clients = 1;

	echo_len = 4 + (size_t)opt.payload;
	echo_msg = malloc(echo_len + 1);
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
	lws_set_log_level(opt.verbose ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR, NULL);

	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	t_begin = now();
	if (opt.xhr) {
		if (opt.mode == M_CONNECT) {
			measuring = 1;
			t_measure = t_begin;
		}
		ep = epoll_create1(0);
		if (ep < 0) {
			perror("loadgen: epoll_create1");
			return 1;
		}
		struct epoll_event evs[256];
		while (!(draining && (all_closed() || now() - t_drain > 2))) {
			tick(NULL);
			int k = epoll_wait(ep, evs, 256, 1);
			for (int e = 0; e < k; e++) {
				struct sess *xs = &sess[evs[e].data.u64 >> 1];
				xhr_readable(xs, (int)(evs[e].data.u64 & 1));
			}
		}
		for (int e = 0; e < nsess; e++) {
			if (opt.verbose && sess[e].st == S_OPEN)
				fprintf(stderr, "loadgen: session %d still open: post_busy=%d bye_sent=%d bye_pending=%d msg=%d hb=%d\n",
					e, sess[e].post_busy, sess[e].bye_sent, sess[e].bye_pending,
					sess[e].msg_pending, sess[e].hb_pending);
			xhr_close(&sess[e]);
		}
		goto report;
	}

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.fd_limit_per_thread =
		(unsigned)(opt.mode == M_CONNECT ? (opt.count < MAX_CLIENTS ? opt.count : MAX_CLIENTS) + 64
						: opt.clients + 64);
	info.timeout_secs = 10;
	ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr, "loadgen: lws_create_context failed\n");
		return 1;
	}

	t_begin = now();
	if (opt.mode == M_CONNECT || opt.mode == M_ACK) {
		measuring = opt.mode == M_CONNECT;
		t_measure = t_begin;
	}
	lws_sul_schedule(ctx, 0, &tick_sul, tick, 1);
	int n = 0;
	while (n >= 0 && !(draining && (all_closed() || now() - t_drain > 6)))
		n = lws_service(ctx, 0);
	lws_context_destroy(ctx);
report:;
	double t_end = now();
	int alive_at_end = draining ? alive_at_drain : n_open;

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	/* CPU over the time the load ran (the goodbyes after it are cheap) */
	double wall = (draining ? t_drain : t_end) - t_begin;

	printf("transport=%s mode=%s", opt.xhr ? "xhr-polling" : "websocket", opt.mode == M_ECHO ? "echo" : opt.mode == M_ACK ? "ack" :
			  opt.mode == M_CONNECT ? "connect" : "hold");
	if (label)
		printf(" label=%s", label);
	int ok = 1;
	switch (opt.mode) {
	case M_ECHO: {
		double w = (draining ? t_drain : t_end) - t_measure;
		if (!measuring || w <= 0)
			w = 0, ok = 0;
		printf(" clients=%d open=%d payload=%d window_s=%.2f msgs=%lld rate=%.0f", opt.clients,
		       n_opened, opt.payload, w, msgs, w > 0 ? (double)msgs / w : 0.0);
		if (n_closed_unexpected || n_failed || !msgs)
			ok = 0;
		break;
	}
	case M_ACK:
		qsort(lat, (size_t)nlat, sizeof *lat, cmp_double);
		printf(" count=%d acks=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f", opt.count,
		       nlat, quantile(0.5), quantile(0.9), quantile(0.99), nlat ? lat[nlat - 1] : 0.0);
		if (nlat < opt.count)
			ok = 0;
		break;
	case M_CONNECT: {
		double w = (t_measure_end > 0 ? t_measure_end : t_end) - t_begin;
		qsort(lat, (size_t)nlat, sizeof *lat, cmp_double);
		printf(" count=%d in_flight=%d connected=%d failed=%d window_s=%.2f rate=%.0f "
		       "p50_ms=%.3f p99_ms=%.3f",
		       opt.count, opt.inflight_max, nlat, n_failed, w, w > 0 ? nlat / w : 0.0,
		       quantile(0.5), quantile(0.99));
		if (n_failed || nlat < opt.count)
			ok = 0;
		break;
	}
	case M_HOLD:
		printf(" clients=%d opened=%d failed=%d alive=%d lost=%d setup_s=%.2f held_s=%.2f",
		       opt.clients, n_opened, n_failed, alive_at_end, n_closed_unexpected,
		       t_ready > 0 ? t_ready - t_begin : 0.0,
		       t_ready > 0 ? (draining ? t_drain : t_end) - t_ready : 0.0);
		if (alive_at_end < opt.clients)
			ok = 0;
		break;
	}
	printf(" lg_cpu_s=%.2f lg_wall_s=%.2f lg_cpu_pct=%.1f ok=%d%s%s\n", cpu, wall,
	       wall > 0 ? 100.0 * cpu / wall : 0.0, ok, last_error[0] ? " error=" : "", last_error);
	return ok ? 0 : 1;
}
