/*
 * serve.c: one request of sio-gateway, from route to response: the
 * handshake, the forced disconnect, and the polling transports
 * (xhr-polling and jsonp-polling long polls and posts, the htmlfile
 * stream). Packets leave a session's outbox only after the response that
 * carries them was flushed to the web server. A POST whose packets are
 * for a long poll parked in this process takes them for it in its own
 * transaction and writes them to it once answered itself (struct rung).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "payload.h"
#include "plugin.h"
#include "text.h"

#define SERVE_PLAIN "text/plain; charset=UTF-8"
/* serve_poll_wait(): a POST answered the poll (not a packet count). */
#define SERVE_ANSWERED (-100)
#define SERVE_JS "text/javascript; charset=UTF-8"
/* serve_body(): the body missed its deadline (body_timeout). */
#define SERVE_LATE (-101)

/* What one request is being answered with. */
struct serve {
	struct gw_req *r;
	struct sio_session_ctx *x;
	struct gw_route rt;
	const char *origin; /* Origin; echoed in CORS headers when allowed */
	char jsonp[SIO_TEXT_JSONP_INDEX_MAX + 1]; /* "" when not jsonp */
	int parked; /* holds a waiting place (serve_park()) */
};

/* The packets of one response, gathered by serve_collect(). */
struct batch {
	struct sio_buf data;
	struct sio_slice *pkts; /* p is an offset into data until encoded */
	size_t n, cap, max, bytes, max_bytes;
};

/*
 * Whether the response lets the page of s->origin read it, with the
 * user's cookies: only for an origin that `origins` allows, on every
 * route (a page of another site could otherwise read and send in the
 * session of a user who visits it, sid and all).
 */
static int
serve_cors(struct serve *s)
{
	return s->origin != NULL && strpbrk(s->origin, "\r\n") == NULL &&
	       sio_config_origin_allowed(s->x->cfg, s->origin);
}

static int
serve_head(struct serve *s, int status, const char *ctype, long long clen)
{
	static const struct {
		int code;
		const char *text;
	} reasons[] = {{200, "OK"},
	               {400, "Bad Request"},
	               {403, "Forbidden"},
	               {404, "Not Found"},
	               {405, "Method Not Allowed"},
	               {408, "Request Timeout"},
	               {413, "Payload Too Large"},
	               {500, "Internal Server Error"},
	               {503, "Service Unavailable"}};
	struct sio_buf h;
	const char *reason = "";
	int rc;

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == status)
			reason = reasons[i].text;
	sio_buf_init(&h);
	rc = sio_buf_printf(&h, "Status: %d %s\r\n", status, reason);
	if (rc == SIO_OK && ctype != NULL)
		rc = sio_buf_printf(&h, "Content-Type: %s\r\n", ctype);
	if (rc == SIO_OK && clen >= 0)
		rc = sio_buf_printf(&h, "Content-Length: %lld\r\n", clen);
	/* what a client sent comes back in bodies (messages, the jsonp
	 * index): never to be sniffed as HTML by an old browser */
	if (rc == SIO_OK)
		rc = sio_buf_puts(&h, "X-Content-Type-Options: nosniff\r\n");
	if (rc == SIO_OK && serve_cors(s))
		rc =
		    sio_buf_printf(&h,
		                   "Access-Control-Allow-Origin: %s\r\n"
		                   "Access-Control-Allow-Credentials: true\r\n",
		                   s->origin);
	if (rc == SIO_OK)
		rc = sio_buf_puts(&h, "\r\n");
	if (rc == SIO_OK)
		rc = gw_req_write(s->r, h.p, h.len);
	sio_buf_cleanup(&h);
	return rc;
}

/* A whole response, ended; SIO_OK once the web server has it. It may be
 * written by another thread than the request's (a POST answering a long
 * poll), so the request's thread must not wait to end it. */
static int
serve_respond(struct serve *s, int status, const char *ctype, const char *body,
              size_t len)
{
	if (serve_head(s, status, ctype, (long long)len) != SIO_OK ||
	    gw_req_write(s->r, body, len) != SIO_OK)
		return SIO_ERR;
	return gw_req_end(s->r);
}

static int
serve_text(struct serve *s, int status, const char *text)
{
	return serve_respond(s, status, SERVE_PLAIN, text, strlen(text));
}

/* A polling payload: plain text, or wrapped for jsonp-polling. */
static int
serve_payload(struct serve *s, const char *payload, size_t len)
{
	struct sio_buf b;
	int rc;

	if (s->jsonp[0] == '\0')
		return serve_respond(s, 200, SERVE_PLAIN, payload, len);
	sio_buf_init(&b);
	rc = sio_text_jsonp(&b, s->jsonp, payload, len);
	if (rc == SIO_OK)
		rc = serve_respond(s, 200, SERVE_JS, b.p, b.len);
	sio_buf_cleanup(&b);
	return rc;
}

/* Reads the body to its end, keeping at most max bytes in b. Returns
 * SIO_OK, SIO_AGAIN as soon as it is longer (the rest is not read: a body
 * without end would hold the thread), SERVE_LATE when it missed its
 * deadline (body_timeout), SIO_ERR on a read error. The chunk is small:
 * libfcgi reads the socket in 8 KiB anyway, and a stack page a thread has
 * touched stays resident while it waits (a thread per parked long poll). */
static int
serve_body(struct serve *s, struct sio_buf *b, size_t max)
{
	char chunk[1024];
	long n;

	while ((n = gw_req_read(s->r, chunk, sizeof(chunk))) > 0) {
		if (b->len + (size_t)n > max)
			return SIO_AGAIN;
		if (sio_buf_append(b, chunk, (size_t)n) != SIO_OK)
			return SIO_ERR;
	}
	if (n == SIO_AGAIN)
		return SERVE_LATE;
	return n < 0 ? SIO_ERR : SIO_OK;
}

/* Answers a body serve_body() refused (rc), and logs why. */
static void
serve_body_refused(struct serve *s, int rc)
{
	static struct sio_ratelimit rl;

	gw_log_limited(&rl, SIO_LOG_INFO, "%s: %s from %s", s->rt.sid,
	               rc == SIO_AGAIN    ? "body over max_payload"
	               : rc == SERVE_LATE ? "body late (body_timeout)"
	                                  : "body read error",
	               gw_req_client(s->r));
	if (rc == SIO_AGAIN)
		serve_text(s, 413, "payload too large");
	else if (rc == SERVE_LATE)
		serve_text(s, 408, "body too slow");
	else
		serve_text(s, 400, "bad body");
}

/* --- the outbox ---------------------------------------------------------- */

static int
batch_add(void *udata, const char *pkt, size_t len)
{
	struct batch *bt = udata;

	if (bt->n == bt->max || (bt->n > 0 && bt->bytes + len > bt->max_bytes))
		return SIO_ERR;
	if (bt->n == bt->cap) {
		size_t cap = bt->cap ? bt->cap * 2 : 8;
		struct sio_slice *p;
		if (cap > bt->max)
			cap = bt->max;
		p = realloc(bt->pkts, cap * sizeof(*p));
		if (p == NULL)
			return SIO_ERR;
		bt->pkts = p;
		bt->cap = cap;
	}
	bt->pkts[bt->n].p = (const char *)(uintptr_t)bt->data.len;
	bt->pkts[bt->n].len = len;
	if (sio_buf_append(&bt->data, pkt, len) != SIO_OK)
		return SIO_ERR;
	bt->n++;
	bt->bytes += len;
	return SIO_OK;
}

/* The packet array grows with what is taken (batch_add()), not to
 * max_payload_packets at once: a parked long poll holds its batch, and
 * most answers carry a packet or two. */
static void
batch_init(struct batch *bt, const struct sio_config *cfg)
{
	memset(bt, 0, sizeof(*bt));
	sio_buf_init(&bt->data);
	bt->max = (size_t)cfg->max_payload_packets + 1;
	bt->max_bytes = cfg->max_payload;
}

static void
batch_cleanup(struct batch *bt)
{
	sio_buf_cleanup(&bt->data);
	free(bt->pkts);
}

/*
 * Gathers `1::` (when hello is set) and the packets of sid due by now into
 * one payload in out, taking them for (gw.holder, conn) in st. Returns the
 * number of packets (0: nothing to send) or SIO_ERR; the packets stay
 * taken until serve_delivered(). Runs inside a write (write.c).
 */
static int
serve_collect(struct sio_store *st, const char *sid, struct batch *bt,
              int hello, long long now, struct sio_buf *out, long long conn)
{
	int n;

	bt->n = bt->bytes = 0;
	sio_buf_reset(&bt->data);
	sio_buf_reset(out);
	if (hello)
		batch_add(bt, "1::", 3);
	n = sio_store_outbox_take(st, sid, now, bt->max - bt->n, gw.holder,
	                          conn, batch_add, bt);
	if (n < 0)
		return SIO_ERR;
	if (sio_store_outbox_dropped(st) > 0) {
		static struct sio_ratelimit rl;
		gw_log_limited(&rl, SIO_LOG_WARN,
		               "%s: %d queued packets dropped: not valid UTF-8 "
		               "or empty (queued with SQL?)",
		               sid, sio_store_outbox_dropped(st));
	}
	for (size_t i = 0; i < bt->n; i++)
		bt->pkts[i].p = bt->data.p + (uintptr_t)bt->pkts[i].p;
	if (bt->n > 0 && sio_payload_encode(out, bt->pkts, bt->n) != SIO_OK)
		return SIO_ERR;
	return (int)bt->n;
}

/* Logs the store error of the writer (SIO_LOG_ERROR), a few lines a
 * minute: a store that stays locked or full fails every request. */
static void
serve_store_error(const char *sid, struct sio_session_ctx *wx, const char *what)
{
	static struct sio_ratelimit rl;

	gw_log_limited(&rl, SIO_LOG_ERROR, "%s: %s: %s", sid, what,
	               sio_store_errmsg(wx->store));
}

/* The writes of a poll or stream (write.c): its attach (with a take when
 * bt is set), a take, and its finish. */
struct poll_write {
	struct gw_write w; /* first: the write.c part */
	struct serve *s;
	struct batch *bt;    /* attach, take */
	struct sio_buf *out; /* idem */
	long long conn, now;
	long long due;              /* attach: set when want_due (-1: none) */
	int want_due;               /* attach: the next delayed packet's due */
	int hello;                  /* take; set by attach */
	int taken, written, detach; /* finish */
	int n;                      /* packets taken */
};

static int
poll_attach(struct sio_session_ctx *wx, struct gw_write *w)
{
	struct poll_write *p = (struct poll_write *)w;
	struct serve *s = p->s;
	int rc;

	rc = sio_store_attach(wx->store, s->rt.sid, s->rt.transport, gw.holder,
	                      p->conn, p->now, &p->hello);
	if (rc == SIO_OK && p->bt != NULL &&
	    (p->n = serve_collect(wx->store, s->rt.sid, p->bt, p->hello, p->now,
	                          p->out, p->conn)) < 0)
		rc = SIO_ERR;
	if (rc == SIO_OK && p->want_due && p->n == 0 &&
	    sio_store_outbox_next_due(wx->store, s->rt.sid, p->now, &p->due) !=
	        SIO_OK)
		p->due = -1;
	if (rc == SIO_ERR)
		serve_store_error(s->rt.sid, wx, "attach");
	return rc;
}

static int
poll_take(struct sio_session_ctx *wx, struct gw_write *w)
{
	struct poll_write *p = (struct poll_write *)w;

	p->n = serve_collect(wx->store, p->s->rt.sid, p->bt, p->hello, p->now,
	                     p->out, p->conn);
	if (p->n >= 0)
		return SIO_OK;
	serve_store_error(p->s->rt.sid, wx, "outbox");
	return SIO_ERR;
}

/* serve_collect() as a write of its own: its result (SIO_ERR logged). */
static int
serve_take(struct serve *s, struct batch *bt, int hello, long long now,
           struct sio_buf *out, long long conn)
{
	struct poll_write p = {.w.fn = poll_take,
	                       .s = s,
	                       .bt = bt,
	                       .out = out,
	                       .conn = conn,
	                       .now = now,
	                       .hello = hello};

	return gw_write_run(s->x, &p.w) == SIO_ERR ? SIO_ERR : p.n;
}

/* The end of what one request did with a session (struct finish_write). */
struct finish {
	char sid[SIO_SID_LEN + 1];
	long long conn;
	int taken, written, detach;
};

/*
 * What requests that are over did with sessions, as one posted write: what
 * (holder, conn) took is deleted (written) or handed back (not), and with
 * detach the session loses its transport. No thread waits for it: the
 * responses are out, and until it runs the packets stay taken, so that
 * nobody sends them again.
 */
struct finish_write {
	struct gw_write w; /* first: the write.c part */
	long long now;
	size_t n;
	struct finish v[];
};

static int
finish_run(struct sio_session_ctx *wx, struct gw_write *w)
{
	struct finish_write *p = (struct finish_write *)w;
	struct sio_store *st = wx->store;

	for (size_t i = 0; i < p->n; i++) {
		const struct finish *f = &p->v[i];
		int rc = SIO_OK;
		if (f->taken)
			rc = f->written
			         ? sio_store_outbox_done(st, f->sid, gw.holder,
			                                 f->conn)
			         : sio_store_outbox_release(st, f->sid,
			                                    gw.holder, f->conn);
		if (rc == SIO_OK && f->detach)
			rc = sio_store_detach(st, f->sid, gw.holder, f->conn,
			                      p->now);
		if (rc != SIO_OK)
			serve_store_error(f->sid, wx, "finishing");
	}
	return SIO_OK;
}

/* A finish_write of n ends; NULL when out of memory (logged). */
static struct finish_write *
finish_new(size_t n)
{
	struct finish_write *p = calloc(1, sizeof(*p) + n * sizeof(p->v[0]));

	if (p == NULL)
		gw_log(SIO_LOG_ERROR, "out of memory: a finish is lost");
	else
		p->w.fn = finish_run;
	return p;
}

/* Posts the end of what (holder, conn) did with the request's session. */
static void
serve_finish(struct serve *s, long long conn, int taken, int written,
             int detach)
{
	struct finish_write *p = finish_new(1);

	if (p == NULL)
		return;
	p->now = sio_session_now();
	p->n = 1;
	snprintf(p->v[0].sid, sizeof(p->v[0].sid), "%s", s->rt.sid);
	p->v[0].conn = conn;
	p->v[0].taken = taken;
	p->v[0].written = written;
	p->v[0].detach = detach;
	gw_write_post(s->x, &p->w);
}

/* Deletes what a flushed response carried (written), or hands it back to
 * the next transport (the write failed). */
static void
serve_delivered(struct serve *s, long long conn, int written)
{
	serve_finish(s, conn, 1, written, 0);
}

struct hello_write {
	struct gw_write w; /* first: the write.c part */
	const char *sid;
	int sent;
};

static int
hello_run(struct sio_session_ctx *wx, struct gw_write *w)
{
	struct hello_write *p = (struct hello_write *)w;

	if (sio_store_hello_sent(wx->store, p->sid, p->sent) == SIO_OK)
		return SIO_OK;
	serve_store_error(p->sid, wx, "hello");
	return SIO_ERR;
}

/* Records that the session's `1::` goes out (sent 1), before it is
 * written: the client polls again as soon as it has read this response,
 * and that poll, on any transport, must not get it again. sent 0 takes it
 * back after a write that failed. */
static void
serve_hello_sent(struct serve *s, int sent)
{
	struct hello_write p = {.w.fn = hello_run, .sid = s->rt.sid, .sent = sent};

	gw_write_run(s->x, &p.w);
}

static int
serve_count(void *udata, const char *pkt, size_t len)
{
	(void)udata;
	(void)pkt;
	(void)len;
	return SIO_OK;
}

/* Whether sid has a packet due by now that nobody has taken, behind none
 * that another request took (or the store failed: the take will say so);
 * conn's own taken packets are passed over. A read: a waiter rung for
 * nothing, or for packets another request took, never queues for the
 * writer. */
static int
serve_ready(struct serve *s, long long now, long long conn)
{
	long long last;

	return sio_store_outbox_peek(s->x->store, s->rt.sid, now, 1, gw.holder,
	                             conn, serve_count, NULL, &last) != 0;
}

/* When the session's next delayed packet is due, -1 for none (or when
 * the store fails: the wait ends at its deadline and looks again). */
static long long
serve_due(struct serve *s, long long now)
{
	long long due;

	if (sio_store_outbox_next_due(s->x->store, s->rt.sid, now, &due) !=
	    SIO_OK)
		return -1;
	return due;
}

/* How long to wait: until deadline (-1: none), or sooner for a delayed
 * packet due then (-1: none). */
static long long
serve_timeout(long long now, long long deadline, long long due)
{
	if (due >= 0 && (deadline < 0 || due < deadline))
		deadline = due;
	if (deadline < 0)
		return -1;
	return deadline > now ? deadline - now : 0;
}

/*
 * A request's own store connection, for its reads: taken from the pool
 * when it first needs one (as CGI it has one from the start). Writes run
 * on the writer's, so a POST, a handshake and a poll's attach take none:
 * under load they would otherwise hold one through the writer's queue,
 * and a burst of polls would open connections that only wait. SIO_OK or
 * SIO_ERR (none can be opened: logged by gw_store_open()).
 */
static int
serve_store(struct serve *s)
{
	if (s->x->store == NULL && (s->x->store = gw_store_take()) == NULL)
		return SIO_ERR;
	return SIO_OK;
}

/* Gives the request's connection back to the pool until it reads again
 * (threaded modes; as CGI it is the request's only one). */
static void
serve_store_drop(struct serve *s)
{
	if (!gw_write_threaded())
		return;
	gw_store_give(s->x->store);
	s->x->store = NULL;
}

/* The client's address, as far as the gateway knows it: what every
 * per-client limit counts by. */
static const char *
serve_client_addr(struct serve *s)
{
	const char *a = gw_req_param(s->r, "REMOTE_ADDR");

	return a != NULL ? a : "";
}

/*
 * Admits a request that is about to wait (gw_park_enter()): SIO_OK (the
 * caller gives the place back with serve_unpark() before it answers),
 * SIO_AGAIN when its address has max_polls_per_address waiting, SIO_ERR
 * when every unreserved thread has one; then the caller answers it. As
 * CGI, a request is a process of its own and the web server's limits on
 * those apply.
 */
static int
serve_park(struct serve *s)
{
	static struct sio_ratelimit rl_addr, rl_full;
	const char *addr = serve_client_addr(s);
	int parked, rc;

	if (!gw_write_threaded())
		return SIO_OK;
	rc = gw_park_enter(addr, &parked);
	if (rc == SIO_OK)
		s->parked = 1;
	else if (rc == SIO_AGAIN)
		gw_log_limited(&rl_addr, SIO_LOG_WARN,
		               "%s: refused: %s has max_polls_per_address "
		               "(%d) polls waiting",
		               s->rt.sid, addr,
		               s->x->cfg->max_polls_per_address);
	else
		gw_log_limited(
		    &rl_full, SIO_LOG_WARN,
		    "%s: not waiting: %d polls waiting, every thread but "
		    "the reserved ones",
		    s->rt.sid, parked);
	return rc;
}

/* Gives the waiting place back, before the answer is written: the
 * client's next poll may come as soon as it has it. */
static void
serve_unpark(struct serve *s)
{
	if (s->parked)
		gw_park_leave(serve_client_addr(s));
	s->parked = 0;
}

/* --- xhr-polling and jsonp-polling GET --------------------------------- */

/*
 * A session that is gone: its final packets (`0::` after a kick) if they
 * are still queued, else "client not handshaken". One forgotten (its
 * client ended it, or it timed out) has none: as with socket.io 0.9, it
 * is an unknown session.
 */
static void
serve_gone(struct serve *s, struct batch *bt)
{
	struct sio_buf out;
	long long conn = gw_conn_next();
	int n = 0;

	sio_buf_init(&out);
	if (serve_store(s) == SIO_OK &&
	    sio_store_session_gone(s->x->store, s->rt.sid) == 0)
		n = serve_take(s, bt, 0, sio_session_now(), &out, conn);
	if (n > 0) {
		serve_delivered(s, conn,
		                serve_payload(s, out.p, out.len) == SIO_OK);
	} else {
		serve_payload(s, "7:::1+0", 7);
	}
	sio_buf_cleanup(&out);
}

/* libfcgi reads the connection only when asked, so a GET's stdin is
 * consumed first: then the FastCGI socket can signal a client abort while
 * the request waits. A GET has no body; one over max_payload or late is
 * refused (answered; SIO_ERR). */
static int
serve_drain(struct serve *s)
{
	struct sio_buf sink;
	int rc;

	sio_buf_init(&sink);
	rc = serve_body(s, &sink, s->x->cfg->max_payload);
	sio_buf_cleanup(&sink);
	if (rc == SIO_OK)
		return SIO_OK;
	serve_body_refused(s, rc);
	return SIO_ERR;
}

/*
 * Attaches the GET's transport to its session as (holder, conn) and takes
 * what is already queued, in one write. Returns the number of packets in
 * out (0: the poll must wait; *due is then when its next delayed packet
 * is, -1 for none), SIO_AGAIN for a session that is gone, SIO_ERR
 * (logged).
 */
static int
serve_poll_attach(struct serve *s, struct batch *bt, long long conn,
                  struct sio_buf *out, int *hello, long long *due)
{
	struct poll_write p = {.w.fn = poll_attach,
	                       .s = s,
	                       .bt = bt,
	                       .out = out,
	                       .conn = conn,
	                       .now = sio_session_now(),
	                       .due = -1,
	                       .want_due = 1};
	int rc = gw_write_run(s->x, &p.w);

	*hello = p.hello;
	*due = p.due;
	return rc == SIO_OK ? p.n : rc;
}

/*
 * gw_wait_for() without a store connection: the request's goes back to
 * the pool while it sleeps, and another is taken when it wakes (it reads
 * then). A negative result when none can be had (logged): the request
 * ends as if the client had gone.
 */
static int
serve_sleep(struct serve *s, struct gw_waiter *w, long long timeout_ms)
{
	int n;

	serve_store_drop(s);
	n = gw_wait_for(w, gw_req_abort_fd(s->r), timeout_ms);
	if (serve_store(s) != SIO_OK)
		return n == GW_WAIT_ANSWERED ? n : SIO_ERR;
	return n;
}

/*
 * Waits for the attached poll's packets until the polling duration ends;
 * due: when the next delayed packet is (-1: none). Returns the number of
 * packets taken into out, 0 when the poll ended without any (answered,
 * or the client went away), SIO_ERR (answered), SERVE_ANSWERED when a
 * POST answered it (struct rung).
 */
static int
serve_poll_wait(struct serve *s, struct gw_waiter *w, struct batch *bt,
                long long conn, struct sio_buf *out, long long due)
{
	long long now = sio_session_now();
	/* the polling duration runs on the boot clock: a step of the wall
	 * clock neither stretches nor cuts it */
	long long end = sio_session_mono() + s->x->cfg->polling_duration * 1000LL;
	int n;

	gw_wait_park(w, conn, s);
	for (;;) {
		n = serve_sleep(s, w,
		                serve_timeout(now, now + end - sio_session_mono(),
		                              due));
		if (n == GW_WAIT_ANSWERED)
			return SERVE_ANSWERED;
		if (n < 0) {
			gw_log(SIO_LOG_DEBUG, "%s: client went away",
			       s->rt.sid);
			return 0;
		}
		gw_wait_clear(w);
		now = sio_session_now();
		if (!sio_store_is_holder(s->x->store, s->rt.sid, gw.holder,
		                         conn)) {
			gw_log(SIO_LOG_DEBUG, "%s: poll superseded", s->rt.sid);
			serve_unpark(s);
			serve_payload(s, "8::", 3);
			return 0;
		}
		if (serve_ready(s, now, conn)) {
			n = serve_take(s, bt, 0, now, out, conn);
			if (n != 0)
				return n;
		}
		if (sio_session_mono() >= end) {
			serve_unpark(s);
			serve_payload(s, "8::", 3);
			return 0;
		}
		due = serve_due(s, now);
	}
}

/*
 * A long-poll GET: attach, take what is queued or wait for it, answer,
 * then delete what was written and detach in one write. The waiter is
 * registered before the attach, so a ring for a packet queued after the
 * attach's take cannot be missed; parked, a POST may answer it instead.
 */
static void
serve_poll_get(struct serve *s, struct batch *bt)
{
	struct gw_waiter *w = gw_wait_self();
	long long conn = gw_conn_next();
	struct sio_buf out;
	long long due;
	int hello = 0, n, ok = 0, rc;

	if (w == NULL) {
		serve_text(s, 500, "out of memory");
		return;
	}
	if (serve_drain(s) != SIO_OK)
		return;
	sio_buf_init(&out);
	gw_wait_begin(w, s->rt.sid);
	/* the attach reads what the first wait needs: no connection of
	 * its own until the poll wakes (serve_sleep()) */
	n = serve_poll_attach(s, bt, conn, &out, &hello, &due);
	if (n == SIO_AGAIN) {
		gw_wait_end(w);
		sio_buf_cleanup(&out);
		serve_gone(s, bt);
		return;
	}
	if (n < 0) { /* nothing attached */
		gw_wait_end(w);
		sio_buf_cleanup(&out);
		serve_text(s, 500, "store error");
		return;
	}
	gw_log(SIO_LOG_DEBUG, "%s: attached %s conn %lld", s->rt.sid,
	       sio_config_transport_name((enum sio_transport)s->rt.transport),
	       conn);
	/* only a poll that waits takes a waiting place: one with an
	 * answer at hand (its 1::, queued packets) is never refused */
	if (n == 0) {
		rc = serve_park(s);
		if (rc == SIO_OK)
			n = serve_poll_wait(s, w, bt, conn, &out, due);
		else if (rc == SIO_AGAIN)
			serve_text(s, 503, "too many polls waiting");
		else /* as at the end of polling_duration: it polls again */
			serve_payload(s, "8::", 3);
	}
	serve_unpark(s);
	gw_wait_end(w);
	if (n == SERVE_ANSWERED) { /* answered, deleted, detached */
		sio_buf_cleanup(&out);
		return;
	}
	if (n < 0) { /* logged */
		serve_text(s, 500, "store error");
		n = 0;
	} else if (n > 0) {
		if (hello)
			serve_hello_sent(s, 1);
		ok = serve_payload(s, out.p, out.len) == SIO_OK;
		if (!ok) {
			gw_log(SIO_LOG_INFO, "%s: poll write failed",
			       s->rt.sid);
			if (hello)
				serve_hello_sent(s, 0);
		}
	}
	sio_buf_cleanup(&out);
	serve_finish(s, conn, n > 0, ok, 1);
}

/* --- htmlfile ------------------------------------------------------------ */

static int
serve_chunk(struct serve *s, const char *payload, size_t len)
{
	struct sio_buf b;
	int rc;

	sio_buf_init(&b);
	rc = sio_text_htmlfile(&b, payload, len);
	if (rc == SIO_OK)
		rc = gw_req_write(s->r, b.p, b.len);
	if (rc == SIO_OK)
		rc = gw_req_flush(s->r);
	sio_buf_cleanup(&b);
	return rc;
}

/* 1 when sid is closed or gone (its stream should end). */
static int
serve_closed(struct serve *s)
{
	struct sio_store_session ss;
	int rc = sio_store_session_get(s->x->store, s->rt.sid, &ss), closed;

	if (rc != SIO_OK)
		return rc == SIO_AGAIN;
	closed = ss.state == SIO_SESSION_CLOSED;
	sio_store_session_cleanup(&ss);
	return closed;
}

/* Streams until the stream ends, starting with `1::` when hello is
 * set. */
static void
serve_stream(struct serve *s, struct batch *bt, long long conn, int hello)
{
	struct gw_waiter *w = gw_wait_self();
	struct sio_buf out;
	long long now, wait_ms;
	long long recheck = s->x->cfg->heartbeat_interval * 1000LL;
	int n;

	if (w == NULL)
		return;
	sio_buf_init(&out);
	gw_wait_begin(w, s->rt.sid);
	for (;;) {
		gw_wait_clear(w);
		now = sio_session_now();
		if (!sio_store_is_holder(s->x->store, s->rt.sid, gw.holder,
		                         conn))
			break;
		n = hello || serve_ready(s, now, conn)
		        ? serve_take(s, bt, hello, now, &out, conn)
		        : 0;
		if (n < 0)
			break;
		if (n > 0) {
			if (hello)
				serve_hello_sent(s, 1);
			if (serve_chunk(s, out.p, out.len) != SIO_OK) {
				serve_delivered(s, conn, 0);
				gw_log(SIO_LOG_INFO,
				       "%s: htmlfile write failed", s->rt.sid);
				if (hello)
					serve_hello_sent(s, 0);
				break;
			}
			serve_delivered(s, conn, 1);
			hello = 0;
			continue; /* more may be queued past the batch limit */
		}
		if (serve_closed(s))
			break;
		wait_ms = serve_timeout(now, now + recheck, serve_due(s, now));
		if (serve_sleep(s, w, wait_ms) < 0)
			break;
	}
	gw_wait_end(w);
	sio_buf_cleanup(&out);
}

static void
serve_htmlfile(struct serve *s, struct batch *bt)
{
	long long conn = gw_conn_next();
	struct poll_write p = {.w.fn = poll_attach,
	                       .s = s,
	                       .conn = conn,
	                       .now = sio_session_now()};
	int rc;

	if (serve_drain(s) != SIO_OK)
		return;
	if (serve_store(s) != SIO_OK) { /* the stream reads as it goes */
		serve_text(s, 503, "store unavailable");
		return;
	}
	rc = gw_write_run(s->x, &p.w);
	if (rc == SIO_ERR) { /* logged */
		serve_text(s, 500, "store error");
		return;
	}
	if (serve_head(s, 200, "text/html; charset=UTF-8", -1) != SIO_OK ||
	    gw_req_write(s->r, sio_text_htmlfile_prelude(),
	                 SIO_HTMLFILE_PRELUDE_LEN) != SIO_OK ||
	    gw_req_flush(s->r) != SIO_OK) {
		rc = SIO_ERR;
	} else if (rc == SIO_AGAIN) {
		serve_chunk(s, "7:::1+0", 7);
		return;
	} else {
		gw_log(SIO_LOG_DEBUG, "%s: attached htmlfile conn %lld",
		       s->rt.sid, conn);
		serve_stream(s, bt, conn, p.hello);
	}
	serve_finish(s, conn, 0, 0, 1);
}

/* --- POST ------------------------------------------------------------------
 */

/*
 * A session of ours that a POST's packets went to. When its long poll is
 * parked in this process, the POST's transaction takes the packets for
 * that poll, and once it has committed and the POST is answered, the
 * POST's thread writes them to the poll itself: no doorbell, no thread
 * hand-off, no transaction of the poll's own to take them. They leave the
 * outbox only once written (deleted then, with the poll's detach; handed
 * back when the write fails), as when the poll writes them; and the poll's
 * answer never reaches the client before the POST's, since the socket.io
 * 0.9 client holds back what it sends while a POST is out (socket.io 0.9
 * too answers a POST before it handles what came in it).
 */
struct rung {
	char sid[SIO_SID_LEN + 1]; /* first: a gw_sids_add() record */
	struct gw_waiter *w; /* its parked poll, claimed; NULL when none */
	struct serve *gs;    /* the poll's request */
	long long conn;      /* the poll's holder connection */
	struct sio_buf out;  /* the payload taken for it */
	int taken;           /* packets in out */
};

struct rungs {
	struct sio_buf set; /* struct rung records (gw_sids_add()) */
	int lost; /* out of memory: ring every waiter after the commit */
};

#define RUNGS_N(l) ((l)->set.len / sizeof(struct rung))
#define RUNG(l, i) ((struct rung *)(void *)(l)->set.p + (i))

static void
rungs_add(void *udata, const char *sid)
{
	static const struct rung blank; /* out: an empty buffer */
	struct rungs *l = udata;

	gw_sids_add(&l->set, sid, &blank, sizeof(blank), &l->lost);
}

/* Inside the POST's transaction: claims g's parked poll and takes what g
 * has queued for it. */
static void
rung_take(struct sio_store *st, struct batch *bt, struct rung *g, long long now)
{
	void *udata = NULL;
	int n;

	g->conn = -1;
	g->w = gw_wait_claim(g->sid, &g->conn, &udata);
	g->gs = udata;
	if (g->w == NULL ||
	    !sio_store_is_holder(st, g->sid, gw.holder, g->conn))
		return;
	n = serve_collect(st, g->sid, bt, 0, now, &g->out, g->conn);
	if (n < 0)
		gw_log(SIO_LOG_ERROR, "%s: outbox: %s", g->sid,
		       sio_store_errmsg(st));
	g->taken = n > 0 ? n : 0;
}

/* Writes g's packets to its poll and ends the claim, adding its end to
 * p (NULL: out of memory, the poll is handed back instead). */
static void
rung_answer(struct rung *g, struct finish_write *p)
{
	struct finish *f;

	if (p == NULL) {
		gw_wait_answer(g->w, 0);
		gw_wait_ring(g->sid);
		return;
	}
	f = &p->v[p->n++];
	serve_unpark(g->gs); /* claimed: its thread is off it */
	f->written = serve_payload(g->gs, g->out.p, g->out.len) == SIO_OK;
	if (!f->written)
		gw_log(SIO_LOG_INFO, "%s: poll write failed", g->sid);
	else
		gw_log(SIO_LOG_DEBUG, "%s: poll answered by a POST", g->sid);
	gw_wait_answer(g->w, 1);
	strcpy(f->sid, g->sid);
	f->conn = g->conn;
	f->taken = f->detach = 1;
}

/*
 * After the POST's commit (committed: whether it did) and its answer:
 * writes the polls their packets, posts their end, and wakes every other
 * waiter of the sessions that got packets. The poll of the POST's own
 * session goes last, once the web server has taken the POST's answer: the
 * client must see that one first, as the 0.9 client holds back what it
 * sends while its POST is out, and loses it if it closes meanwhile (a
 * disconnect on an echo); the wait is short (the web server lets the
 * connection go at once) and capped. Frees l.
 */
static void
rungs_answer(struct serve *s, struct rungs *l, int committed)
{
	struct finish_write *p = NULL;
	struct rung *own = NULL;

	for (size_t i = 0; i < RUNGS_N(l); i++) {
		struct rung *g = RUNG(l, i);
		if (g->w == NULL || !committed || g->taken <= 0) {
			if (g->w != NULL)
				gw_wait_answer(g->w, 0);
			gw_wait_ring(g->sid);
			continue;
		}
		if (p == NULL)
			p = finish_new(RUNGS_N(l));
		if (strcmp(g->sid, s->rt.sid) == 0)
			own = g;
		else
			rung_answer(g, p);
	}
	if (own != NULL) {
		gw_req_wait_taken(s->r, 1);
		rung_answer(own, p);
	}
	if (l->lost)
		gw_wait_ring(NULL);
	if (p != NULL && p->n > 0) {
		p->now = sio_session_now();
		gw_write_post(s->x, &p->w);
	} else
		free(p);
	for (size_t i = 0; i < RUNGS_N(l); i++)
		sio_buf_cleanup(&RUNG(l, i)->out);
	sio_buf_cleanup(&l->set);
}

/* A POST's packets as a write (write.c). */
struct post_write {
	struct gw_write w; /* first: the write.c part */
	struct serve *s;
	struct sio_session_run *run; /* the packets, run before the write */
	long long now;
	struct rungs l;  /* our sessions that got packets */
	struct batch bt; /* for rung_take(), when have_bt */
	int have_bt;
	char err[SIO_ERR_LEN]; /* the session's note on the packets */
};

static int
post_receive(struct sio_session_ctx *wx, struct gw_write *w)
{
	struct post_write *p = (struct post_write *)w;
	const char *sid = p->s->rt.sid;
	int rc;

	rc = sio_session_apply(wx, p->run);
	snprintf(p->err, sizeof(p->err), "%s", wx->err);
	if (rc == SIO_ERR)
		serve_store_error(sid, wx, "receive");
	if (rc != SIO_OK)
		return rc;
	sio_store_bells_take(wx->store, gw.holder, rungs_add, &p->l);
	for (size_t i = 0; i < RUNGS_N(&p->l); i++) {
		if (!p->have_bt)
			batch_init(&p->bt, wx->cfg);
		p->have_bt = 1;
		rung_take(wx->store, &p->bt, RUNG(&p->l, i), p->now);
	}
	return SIO_OK;
}

/* After the POST's commit: an end its handlers claimed (on_close, on the
 * writer: it writes), and the run freed. */
static void
serve_post_done(struct serve *s, struct sio_session_run *run, int committed)
{
	struct sio_session_ctx *wx;

	if (run == NULL || !sio_session_ending(run)) {
		sio_session_done(s->x, run, 0); /* frees */
		return;
	}
	wx = gw_write_lock(s->x);
	if (sio_session_done(wx, run, committed) == SIO_ERR)
		serve_store_error(s->rt.sid, wx, "end");
	gw_write_unlock(wx);
}

static void
serve_post(struct serve *s)
{
	const struct sio_config *cfg = s->x->cfg;
	struct post_write post = {.w.fn = post_receive};
	struct sio_buf body, dec, *payload = &body;
	struct sio_slice *pkts = NULL;
	size_t n = 0;
	int rc;

	sio_buf_init(&body);
	sio_buf_init(&dec);
	rc = serve_body(s, &body, cfg->max_payload);
	if (rc != SIO_OK) {
		serve_body_refused(s, rc);
		goto out;
	}
	if (s->rt.transport == SIO_TRANSPORT_JSONP_POLLING) {
		if (sio_text_jsonp_post_decode(&dec, body.p, body.len) !=
		    SIO_OK) {
			gw_log(SIO_LOG_INFO, "%s: malformed jsonp form",
			       s->rt.sid);
			serve_text(s, 400, "malformed payload");
			goto out;
		}
		payload = &dec;
	}
	pkts = calloc((size_t)cfg->max_payload_packets, sizeof(*pkts));
	if (pkts == NULL) {
		serve_text(s, 500, "out of memory");
		goto out;
	}
	if (sio_payload_split(payload->p ? payload->p : "", payload->len, pkts,
	                      (size_t)cfg->max_payload_packets, &n) != SIO_OK) {
		gw_log(SIO_LOG_INFO,
		       "%s: malformed payload or over "
		       "max_payload_packets",
		       s->rt.sid);
		serve_text(s, 400, "malformed payload");
		goto out;
	}
	/* the limit of every transport (sio-wsd closes a websocket with
	 * 1009): a POST with a packet over it is refused whole */
	for (size_t i = 0; i < n; i++)
		if (pkts[i].len > cfg->max_packet) {
			gw_log(SIO_LOG_INFO, "%s: packet over max_packet (%zu)",
			       s->rt.sid, cfg->max_packet);
			serve_text(s, 413, "packet too large");
			goto out;
		}
	/* the handlers run on this thread, no write lock held; then one
	 * write: what they did, and the takes for polls parked here */
	post.s = s;
	post.now = sio_session_now();
	rc = serve_store(s) != SIO_OK ? SIO_ERR
	                              : sio_session_run(s->x, s->rt.sid, pkts,
	                                                n, post.now, &post.run);
	if (rc == SIO_ERR && s->x->store != NULL)
		serve_store_error(s->rt.sid, s->x, "receive");
	serve_store_drop(s); /* not held through the writer's queue */
	if (rc == SIO_OK)
		rc = gw_write_run(s->x, &post.w);
	else
		snprintf(post.err, sizeof(post.err), "%s", s->x->err);
	serve_post_done(s, post.run, rc == SIO_OK);
	if (post.err[0] != '\0')
		gw_log(SIO_LOG_INFO, "%s: %s", s->rt.sid, post.err);
	if (rc == SIO_AGAIN)
		gw_log(SIO_LOG_DEBUG, "%s: post to unknown session", s->rt.sid);
	if (rc == SIO_ERR) /* logged */
		serve_text(s, 500, "store error");
	else
		serve_text(s, 200, "1");
	rungs_answer(s, &post.l, rc != SIO_ERR);
	if (post.have_bt)
		batch_cleanup(&post.bt);
out:
	free(pkts);
	sio_buf_cleanup(&dec);
	sio_buf_cleanup(&body);
}

/* --- handshake and routes ---------------------------------------------- */

static int
serve_request(struct serve *s, struct sio_request *req)
{
	static const struct {
		const char *var, *name;
	} hdrs[] = {{"HTTP_HOST", "Host"},
	            {"HTTP_ORIGIN", "Origin"},
	            {"HTTP_REFERER", "Referer"},
	            {"HTTP_USER_AGENT", "User-Agent"},
	            {"HTTP_ACCEPT_LANGUAGE", "Accept-Language"},
	            {"HTTP_X_FORWARDED_FOR", "X-Forwarded-For"}};

	if (sio_request_init(req, gw_req_client(s->r),
	                     s->rt.query,
	                     gw_req_param(s->r, "HTTP_COOKIE")) != SIO_OK)
		return SIO_ERR;
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		const char *v = gw_req_param(s->r, hdrs[i].var);
		if (v != NULL &&
		    sio_request_add_header(req, hdrs[i].name, v) != SIO_OK)
			return SIO_ERR;
	}
	return SIO_OK;
}

/* Handshake failures, plain (403/500) or as a jsonp Error. */
static void
serve_hs_error(struct serve *s, int status, const char *msg)
{
	char js[128];

	if (s->jsonp[0] == '\0') {
		serve_text(s, status, msg);
		return;
	}
	snprintf(js, sizeof(js), "io.j[%s](new Error(\"%s\"));", s->jsonp, msg);
	serve_respond(s, 200, "application/javascript", js, strlen(js));
}

static int
serve_open_reads(struct serve *s)
{
	const struct sio_app *root = sio_plugin_app(s->x->plugin, "");

	return root != NULL && root->on_open != NULL;
}

/* A handshake as a write of a batch: several commit together. The root
 * on_open ran before, on the request's thread (sio_session_open()). */
struct hs_write {
	struct gw_write w;
	struct sio_session_run *run;
};

static int
hs_run(struct sio_session_ctx *wx, struct gw_write *w)
{
	struct hs_write *h = (struct hs_write *)w;
	int rc = sio_session_apply(wx, h->run);

	static struct sio_ratelimit rl;

	if (rc != SIO_OK && rc != SIO_REJECT)
		gw_log_limited(&rl, SIO_LOG_ERROR, "handshake: %s",
		               sio_store_errmsg(wx->store));
	return rc;
}

static void
serve_handshake(struct serve *s)
{
	const struct sio_config *cfg = s->x->cfg;
	const char *origin = s->origin;
	struct sio_request req;
	struct sio_buf b;
	char sid[SIO_SID_LEN + 1];
	int rc;

	if (origin == NULL)
		origin = gw_req_param(s->r, "HTTP_REFERER");
	if (!sio_config_origin_allowed(cfg, origin)) {
		gw_log(SIO_LOG_INFO, "handshake: bad origin from %s",
		       gw_req_client(s->r));
		s->origin = NULL;
		serve_hs_error(s, 403, "handshake bad origin");
		return;
	}
	rc = serve_request(s, &req);
	if (rc == SIO_OK) {
		struct hs_write h = {.w.fn = hs_run};
		/* a read connection only for an on_open, which may read */
		rc = serve_open_reads(s) && serve_store(s) != SIO_OK
		         ? SIO_ERR
		         : sio_session_open(s->x, &req, sio_session_now(),
		                            &h.run);
		serve_store_drop(s);
		if (rc == SIO_OK)
			rc = gw_write_run(s->x, &h.w);
		if (h.run != NULL)
			snprintf(sid, sizeof(sid), "%s",
			         sio_session_run_sid(h.run));
		sio_session_done(s->x, h.run, 0); /* no end: frees */
	}
	sio_request_cleanup(&req);
	if (rc == SIO_REJECT) {
		serve_hs_error(s, 403, "handshake unauthorized");
		return;
	}
	if (rc == SIO_AGAIN) {
		static struct sio_ratelimit full_rl;
		gw_log_limited(&full_rl, SIO_LOG_WARN,
		               "handshake from %s refused: max_sessions (%d) or "
		               "max_sessions_per_address (%d) reached",
		               gw_req_client(s->r), cfg->max_sessions,
		               cfg->max_sessions_per_address);
		serve_hs_error(s, 503, "handshake refused: too many sessions");
		return;
	}
	if (rc != SIO_OK) {
		serve_hs_error(s, 500, "handshake error");
		return;
	}
	sio_buf_init(&b);
	rc = sio_buf_printf(&b, "%s:%d:%d:", sid, cfg->heartbeat_timeout,
	                    cfg->close_timeout);
	for (int i = 0; rc == SIO_OK && i < cfg->ntransports; i++)
		rc = sio_buf_printf(
		    &b, "%s%s", i > 0 ? "," : "",
		    sio_config_transport_name(cfg->transports[i]));
	if (rc != SIO_OK)
		serve_text(s, 500, "out of memory");
	else if (s->jsonp[0] == '\0')
		serve_text(s, 200, b.p);
	else {
		struct sio_buf js;
		sio_buf_init(&js);
		if (sio_text_jsonp(&js, s->jsonp, b.p, b.len) == SIO_OK)
			serve_respond(s, 200, "application/javascript", js.p,
			              js.len);
		else
			serve_text(s, 500, "out of memory");
		sio_buf_cleanup(&js);
	}
	sio_buf_cleanup(&b);
}

/* Reads query field name into s->jsonp when it is a jsonp index
 * (sio_text_jsonp_index_valid()). Returns SIO_OK, SIO_AGAIN when absent,
 * SIO_ERR when present but not an index (s->jsonp is then ""). */
static int
serve_jsonp_index(struct serve *s, const char *name)
{
	struct sio_buf v;
	int rc;

	s->jsonp[0] = '\0';
	sio_buf_init(&v);
	rc = sio_text_form_field(&v, s->rt.query, strlen(s->rt.query), name);
	if (rc == SIO_OK && !sio_text_jsonp_index_valid(v.p, v.len))
		rc = SIO_ERR;
	if (rc == SIO_OK)
		memcpy(s->jsonp, v.p, v.len + 1);
	sio_buf_cleanup(&v);
	return rc;
}

/*
 * With bind_address, a session answers only requests from the address of
 * its handshake. Returns 1 (and logs) for a request from elsewhere.
 */
static int
serve_bound_elsewhere(struct serve *s)
{
	const char *remote = gw_req_client(s->r);
	struct sio_store_session ss;
	struct sio_request req;
	int other = 0, rc;

	if (!s->x->cfg->bind_address || serve_store(s) != SIO_OK)
		return 0;
	rc = sio_store_session_get(s->x->store, s->rt.sid, &ss);
	serve_store_drop(s); /* what comes next reads after a wait, if at all */
	if (rc != SIO_OK)
		return 0;
	if (sio_request_from_json(&req, ss.request) == SIO_OK)
		other =
		    strcmp(sio_request_remote(&req), remote ? remote : "") != 0;
	if (other)
		gw_log(SIO_LOG_INFO,
		       "%s: request from %s, but the session is bound to %s",
		       s->rt.sid, remote ? remote : "?",
		       sio_request_remote(&req));
	sio_request_cleanup(&req);
	sio_store_session_cleanup(&ss);
	return other;
}

static void
serve_transport(struct serve *s, const char *method, struct batch *bt)
{
	int t = s->rt.transport;

	if (!sio_config_transport_enabled(s->x->cfg, (enum sio_transport)t) ||
	    t == SIO_TRANSPORT_WEBSOCKET || t == SIO_TRANSPORT_FLASHSOCKET) {
		serve_text(s, 404, "transport not served here");
		return;
	}
	if (t == SIO_TRANSPORT_JSONP_POLLING) {
		int rc = serve_jsonp_index(s, "i");
		if (rc == SIO_ERR) {
			gw_log(SIO_LOG_INFO, "%s: bad jsonp index", s->rt.sid);
			serve_text(s, 400, "bad jsonp index");
			return;
		}
		if (rc == SIO_AGAIN)
			strcpy(s->jsonp, "0");
	}
	if (serve_bound_elsewhere(s)) {
		/* as for an unknown session: the client starts over */
		if (strcmp(method, "POST") == 0)
			serve_text(s, 200, "1");
		else
			serve_payload(s, "7:::1+0", 7);
		return;
	}
	if (strcmp(method, "POST") == 0) {
		s->jsonp[0] = '\0'; /* a POST is answered as xhr's */
		serve_post(s);
	} else if (strcmp(method, "GET") != 0)
		serve_text(s, 405, "method not allowed");
	else if (t != SIO_TRANSPORT_HTMLFILE)
		serve_poll_get(s, bt);
	else if (serve_park(s) == SIO_OK) { /* a stream always waits */
		serve_htmlfile(s, bt);
		serve_unpark(s);
	} else
		serve_text(s, 503, "too many polls waiting");
}

/* --- stats and metrics ---------------------------------------------------- */

static int
stats_json(struct sio_buf *b, const struct sio_store_stats *st)
{
	int rc = sio_buf_printf(
	    b,
	    "{\"active_sessions\":%lld,\"peak_sessions\":%lld,"
	    "\"active_connections\":%lld,\"peak_connections\":%lld,"
	    "\"connections_ps\":%.2f,\"packets_sent_ps\":%.2f,"
	    "\"packets_received_ps\":%.2f,\"sessions_opened\":%lld,"
	    "\"connections_opened\":%lld,\"packets_sent\":%lld,"
	    "\"packets_received\":%lld,\"queued_packets\":%lld,"
	    "\"sessions_by_transport\":{\"none\":%lld",
	    st->active_sessions, st->peak_sessions, st->active_connections,
	    st->peak_connections, st->connections_ps, st->packets_sent_ps,
	    st->packets_received_ps, st->sessions_opened,
	    st->connections_opened, st->packets_sent, st->packets_received,
	    st->queued_packets, st->sessions_no_transport);

	for (int t = 0; rc == SIO_OK && t < SIO_TRANSPORT_COUNT; t++)
		rc = sio_buf_printf(b, ",\"%s\":%lld",
		                    sio_config_transport_name(t),
		                    st->sessions[t]);
	if (rc == SIO_OK)
		rc = sio_buf_printf(b, "},\"time\":%lld}\n", st->time);
	return rc;
}

static int
stats_metric(struct sio_buf *b, const char *name, const char *type,
             const char *help, double v)
{
	return sio_buf_printf(b, "# HELP siogate_%s %s\n# TYPE siogate_%s %s\n"
	                         "siogate_%s %.17g\n",
	                      name, help, name, type, name, v);
}

static int
stats_prometheus(struct sio_buf *b, const struct sio_store_stats *st)
{
	const struct {
		const char *name, *type, *help;
		double v;
	} m[] = {
	    {"active_sessions", "gauge", "Sessions from handshake to end.",
	     (double)st->active_sessions},
	    {"peak_sessions", "gauge", "Most active sessions at once.",
	     (double)st->peak_sessions},
	    {"active_connections", "gauge",
	     "Sessions with a transport attached now.",
	     (double)st->active_connections},
	    {"peak_connections", "gauge", "Most active connections at once.",
	     (double)st->peak_connections},
	    {"connections_per_second", "gauge",
	     "Transport attaches per second over the last 10 s.",
	     st->connections_ps},
	    {"packets_sent_per_second", "gauge",
	     "Packets written to clients per second over the last 10 s.",
	     st->packets_sent_ps},
	    {"packets_received_per_second", "gauge",
	     "Packets received from clients per second over the last 10 s.",
	     st->packets_received_ps},
	    {"sessions_opened_total", "counter", "Handshakes that opened a "
	                                         "session.",
	     (double)st->sessions_opened},
	    {"connections_opened_total", "counter", "Transport attaches.",
	     (double)st->connections_opened},
	    {"packets_sent_total", "counter", "Packets written to clients.",
	     (double)st->packets_sent},
	    {"packets_received_total", "counter",
	     "Packets received from clients.", (double)st->packets_received},
	    {"queued_packets", "gauge", "Packets waiting in outboxes.",
	     (double)st->queued_packets},
	};
	int rc = SIO_OK;

	for (size_t i = 0; rc == SIO_OK && i < sizeof(m) / sizeof(m[0]); i++)
		rc = stats_metric(b, m[i].name, m[i].type, m[i].help, m[i].v);
	if (rc == SIO_OK)
		rc = sio_buf_puts(
		    b, "# HELP siogate_sessions Active sessions by transport.\n"
		       "# TYPE siogate_sessions gauge\n");
	if (rc == SIO_OK)
		rc = sio_buf_printf(b, "siogate_sessions{transport=\"none\"} "
		                       "%lld\n",
		                    st->sessions_no_transport);
	for (int t = 0; rc == SIO_OK && t < SIO_TRANSPORT_COUNT; t++)
		rc = sio_buf_printf(b, "siogate_sessions{transport=\"%s\"} "
		                       "%lld\n",
		                    sio_config_transport_name(t),
		                    st->sessions[t]);
	return rc;
}

/* GET /<resource>/stats (JSON) or /metrics (Prometheus text): 404 when
 * stats are off, 403 unless REMOTE_ADDR is in stats_allow. */
static void
serve_stats(struct serve *s, const char *method, int metrics)
{
	const struct sio_config *cfg = s->x->cfg;
	struct sio_store_stats st;
	struct sio_buf b;
	int rc;

	s->origin = NULL; /* no CORS for the operator's pages */
	if (!cfg->stats) {
		serve_text(s, 404, "Not found.");
		return;
	}
	if (!sio_config_stats_allowed(cfg, gw_req_client(s->r))) {
		serve_text(s, 403, "Forbidden.");
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		serve_text(s, 405, "method not allowed");
		return;
	}
	if (serve_store(s) != SIO_OK) {
		serve_text(s, 503, "store unavailable");
		return;
	}
	if (sio_store_stats(s->x->store, &st) != SIO_OK) {
		gw_log(SIO_LOG_ERROR, "stats: %s",
		       sio_store_errmsg(s->x->store));
		serve_text(s, 500, "stats unavailable");
		return;
	}
	sio_buf_init(&b);
	rc = metrics ? stats_prometheus(&b, &st) : stats_json(&b, &st);
	if (rc == SIO_OK)
		serve_respond(s, 200,
		              metrics ? "text/plain; version=0.0.4; charset=utf-8"
		                      : "application/json",
		              b.p, b.len);
	else
		serve_text(s, 500, "out of memory");
	sio_buf_cleanup(&b);
}

void
gw_serve_refused(struct gw_req *r, struct sio_session_ctx *x, int rc)
{
	static struct sio_ratelimit rl;
	struct serve s = {.r = r, .x = x};

	s.origin = gw_req_param(r, "HTTP_ORIGIN");
	if (rc == SIO_AGAIN)
		gw_log_limited(&rl, SIO_LOG_WARN,
		               "refused: %s has max_requests_per_address (%d) "
		               "requests in progress",
		               serve_client_addr(&s),
		               gw.cfg->max_requests_per_address);
	serve_text(&s, 503, rc == SIO_AGAIN ? "too many requests" : "out of memory");
}

void
gw_serve(struct gw_req *r, struct sio_session_ctx *x)
{
	struct serve s = {.r = r, .x = x};
	const char *uri = gw_req_param(r, "REQUEST_URI");
	const char *method = gw_req_param(r, "REQUEST_METHOD");
	struct sio_session_ctx *wx;
	struct batch bt;
	int rc;

	s.origin = gw_req_param(r, "HTTP_ORIGIN");
	if (method == NULL)
		method = "GET";
	gw_route_parse(uri != NULL ? uri : "", x->cfg->resource, &s.rt);
	if (s.rt.kind != GW_ROUTE_NOT_FOUND &&
	    s.rt.kind != GW_ROUTE_BAD_PROTOCOL &&
	    s.rt.kind != GW_ROUTE_STATS && s.rt.kind != GW_ROUTE_METRICS &&
	    strcmp(method, "OPTIONS") == 0) {
		serve_respond(&s, 200, NULL, "", 0);
		return;
	}
	switch (s.rt.kind) {
	case GW_ROUTE_NOT_FOUND:
		serve_text(&s, 404, "Not found.");
		break;
	case GW_ROUTE_BAD_PROTOCOL:
		serve_text(&s, 500, "Protocol version not supported.");
		break;
	case GW_ROUTE_HANDSHAKE:
		if (serve_jsonp_index(&s, "jsonp") == SIO_ERR) {
			gw_log(SIO_LOG_INFO, "handshake: bad jsonp index");
			serve_text(&s, 400, "bad jsonp index");
			break;
		}
		serve_handshake(&s);
		break;
	case GW_ROUTE_DISCONNECT:
		if (serve_bound_elsewhere(&s)) {
			serve_text(&s, 403, "session bound to another address");
			break;
		}
		wx = gw_write_lock(x);
		rc = sio_session_disconnect(wx, s.rt.sid, sio_session_now());
		if (rc < 0)
			serve_store_error(s.rt.sid, wx, "disconnect");
		else
			gw_log(SIO_LOG_DEBUG, "%s: forced disconnect",
			       s.rt.sid);
		gw_write_unlock(wx);
		serve_respond(&s, 200, NULL, "", 0);
		break;
	case GW_ROUTE_TRANSPORT:
		batch_init(&bt, x->cfg);
		serve_transport(&s, method, &bt);
		batch_cleanup(&bt);
		break;
	case GW_ROUTE_STATS:
	case GW_ROUTE_METRICS:
		serve_stats(&s, method, s.rt.kind == GW_ROUTE_METRICS);
		break;
	case GW_ROUTE_STATIC:
		gw_static_serve(r, &s.rt, method);
		break;
	case GW_ROUTE_HEALTH:
		/* for load balancers: the request was served, and a store
		 * connection is at hand (the pool's; no query is run) */
		s.origin = NULL;
		if (serve_store(&s) != SIO_OK)
			serve_text(&s, 503, "store unavailable");
		else
			serve_text(&s, 200, "ok");
		break;
	}
}
