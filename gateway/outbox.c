/*
 * outbox.c: what a response of sio-gateway carries out of a session's
 * outbox: the batch of packets taken for one response, the writes that
 * attach a poll and take for it, and the posted write that ends what a
 * request did (written packets deleted, others handed back, detach).
 * Packets leave the outbox only after the response that carries them was
 * flushed to the web server.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "payload.h"

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
void
batch_init(struct batch *bt, const struct sio_config *cfg)
{
	memset(bt, 0, sizeof(*bt));
	sio_buf_init(&bt->data);
	bt->max = (size_t)cfg->max_payload_packets + 1;
	bt->max_bytes = cfg->max_payload;
}

void
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
int
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
void
serve_store_error(const char *sid, struct sio_session_ctx *wx, const char *what)
{
	static struct sio_ratelimit rl;

	gw_log_limited(&rl, SIO_LOG_ERROR, "%s: %s: %s", sid, what,
	               sio_store_errmsg(wx->store));
}

int
poll_attach(struct sio_session_ctx *wx, struct gw_write *w)
{
	struct poll_write *p = (struct poll_write *)w;
	struct serve *s = p->s;
	int rc;

	rc = sio_session_attach(wx->store, s->rt.sid, s->rt.transport,
	                        gw.holder, p->conn, p->now, &p->hello);
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
int
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
			rc = sio_session_detach(st, f->sid, gw.holder, f->conn,
			                        p->now);
		if (rc != SIO_OK)
			serve_store_error(f->sid, wx, "finishing");
	}
	return SIO_OK;
}

/* A finish_write of n ends; NULL when out of memory (logged). */
struct finish_write *
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
void
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
void
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
void
serve_hello_sent(struct serve *s, int sent)
{
	struct hello_write p = {
	    .w.fn = hello_run, .sid = s->rt.sid, .sent = sent};

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
int
serve_ready(struct serve *s, long long now, long long conn)
{
	long long last;

	return sio_store_outbox_peek(s->x->store, s->rt.sid, now, 1, gw.holder,
	                             conn, serve_count, NULL, &last) != 0;
}

/* When the session's next delayed packet is due, -1 for none (or when
 * the store fails: the wait ends at its deadline and looks again). */
long long
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
long long
serve_timeout(long long now, long long deadline, long long due)
{
	if (due >= 0 && (deadline < 0 || due < deadline))
		deadline = due;
	if (deadline < 0)
		return -1;
	return deadline > now ? deadline - now : 0;
}
