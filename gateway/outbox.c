/*
 * outbox.c: what a response of sio-gateway carries out of a session's
 * outbox: the batch of packets taken for one response, the writes that
 * attach a poll and take for it, and the posted write that ends what a
 * request did (written packets deleted, others handed back, detach).
 * Packets leave the outbox only after the response that carries them was
 * flushed to the web server. Each step is a call of common/deliver.h on
 * the request's struct sio_deliver, in the writer's transaction; `1::` is
 * recorded with the take that carries it (the client polls again as soon
 * as it has read the response) and taken back by a failed write's release.
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
 * Gathers `1::` (when d says so) and the packets of d's session due by
 * now into one payload in out, taking them for d's connection in st.
 * Returns the number of packets (0: nothing to send) or SIO_ERR; the
 * packets stay taken until serve_delivered(). Runs inside a write
 * (write.c).
 */
int
serve_collect(struct sio_store *st, struct sio_deliver *d, struct batch *bt,
              long long now, struct sio_buf *out)
{
	int n;

	bt->n = bt->bytes = 0;
	sio_buf_reset(&bt->data);
	sio_buf_reset(out);
	n = sio_deliver_take(d, st, now, bt->max, batch_add, bt);
	if (n < 0)
		return SIO_ERR;
	if (d->dropped > 0) {
		static struct sio_ratelimit rl;
		gw_log_limited(&rl, SIO_LOG_WARN,
		               "%s: %d queued packets dropped: not valid UTF-8 "
		               "or empty (queued with SQL?)",
		               d->sid, d->dropped);
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
	struct sio_deliver *d = p->d;
	int rc;

	rc = sio_deliver_attach(d, wx->store, p->now);
	if (rc == SIO_OK && p->bt != NULL &&
	    (p->n = serve_collect(wx->store, d, p->bt, p->now, p->out)) < 0)
		rc = SIO_ERR;
	if (rc == SIO_OK && p->want_due && p->n == 0 &&
	    sio_deliver_next_due(d, wx->store, p->now, &p->due) != SIO_OK)
		p->due = -1;
	/* refused, this process reaped: serve_attach() fences, then tries
	 * again (a second refusal is an error) */
	if (rc == SIO_ERR && !p->fenced && sio_store_fenced(wx->store))
		p->fenced = 1;
	else if (rc == SIO_ERR)
		serve_store_error(d->sid, wx, "attach");
	return rc;
}

int
serve_attach(struct serve *s, struct poll_write *p)
{
	int rc = gw_write_run(s->x, &p->w);

	if (rc != SIO_ERR || !p->fenced)
		return rc;
	/* this process was reaped (cut off longer than its lease) before
	 * its renewal found out: it fences now and attaches under its new
	 * name, so that the client keeps its session */
	gw_log(SIO_LOG_WARN, "%s: attach refused: %s was reaped", s->rt.sid,
	       p->d->holder);
	gw_lease_now(s->x);
	sio_deliver_init(p->d, s->rt.sid, s->rt.transport, gw.holder,
	                 gw_conn_next(), (enum sio_deliver_hello)p->d->when);
	return gw_write_run(s->x, &p->w);
}

static int
poll_take(struct sio_session_ctx *wx, struct gw_write *w)
{
	struct poll_write *p = (struct poll_write *)w;

	p->n = serve_collect(wx->store, p->d, p->bt, p->now, p->out);
	if (p->n >= 0)
		return SIO_OK;
	serve_store_error(p->d->sid, wx, "outbox");
	return SIO_ERR;
}

/* serve_collect() as a write of its own: its result (SIO_ERR logged). */
int
serve_take(struct serve *s, struct sio_deliver *d, struct batch *bt,
           long long now, struct sio_buf *out)
{
	struct poll_write p = {.w.fn = poll_take,
	                       .w.sid = d->sid,
	                       .s = s,
	                       .d = d,
	                       .bt = bt,
	                       .out = out,
	                       .now = now};

	return gw_write_run(s->x, &p.w) == SIO_ERR ? SIO_ERR : p.n;
}

static int
finish_run(struct sio_session_ctx *wx, struct gw_write *w)
{
	struct finish_write *p = (struct finish_write *)w;
	struct sio_store *st = wx->store;

	for (size_t i = 0; i < p->n; i++) {
		struct finish *f = &p->v[i];
		int rc = SIO_OK;
		if (f->taken && f->written && f->detach) {
			rc = sio_deliver_written_detach(&f->d, st, p->now);
		} else {
			if (f->taken)
				rc = f->written
				         ? sio_deliver_written(&f->d, st)
				         : sio_deliver_release(&f->d, st);
			if (rc == SIO_OK && f->detach)
				rc = sio_deliver_detach(&f->d, st, p->now);
		}
		if (rc != SIO_OK)
			serve_store_error(f->d.sid, wx, "finishing");
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

/*
 * Posts the end of what d's connection did with the request's session.
 * A failed write that carried the session's `1::` runs at once instead:
 * its release takes the `1::` back before the client, which never got
 * it, can attach again (the take recorded it, see serve_collect()).
 */
void
serve_finish(struct serve *s, const struct sio_deliver *d, int taken,
             int written, int detach)
{
	struct finish_write *p = finish_new(1);

	if (p == NULL)
		return;
	p->now = sio_session_now();
	p->n = 1;
	p->v[0].d = *d;
	p->v[0].taken = taken;
	p->v[0].written = written;
	p->v[0].detach = detach;
	if (taken && !written && d->hello_taken) {
		gw_write_run(s->x, &p->w);
		free(p);
	} else
		gw_write_post(s->x, &p->w);
}

/* Deletes what a flushed response carried (written), or hands it back to
 * the next transport (the write failed); d is ready for its next take. */
void
serve_delivered(struct serve *s, struct sio_deliver *d, int written)
{
	serve_finish(s, d, 1, written, 0);
	d->taken = d->hello_taken = 0;
}

/* Whether d's session has a packet due by now that nobody has taken,
 * behind none that another request took (or the store failed: the take
 * will say so). A read: a waiter rung for nothing, or for packets another
 * request took, never queues for the writer. */
int
serve_ready(struct serve *s, struct sio_deliver *d, long long now)
{
	return sio_deliver_ready(d, s->x->store, now);
}

/* When the session's next delayed packet is due, -1 for none (or when
 * the store fails: the wait ends at its deadline and looks again). */
long long
serve_due(struct serve *s, struct sio_deliver *d, long long now)
{
	long long due;

	if (sio_deliver_next_due(d, s->x->store, now, &due) != SIO_OK)
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
