/*
 * post.c: a POST of xhr-polling or jsonp-polling: its packets received
 * in one write, and the relay of what they queue to a long poll parked in
 * this process (struct rung): the POST's transaction takes the packets
 * for that poll, and its thread writes them to it once answered itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "sidset.h"
#include "payload.h"

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
	char sid[SIO_SID_LEN + 1]; /* its session */
	struct gw_waiter *w;  /* its parked poll, claimed; NULL when none */
	struct serve *gs;     /* the poll's request */
	struct sio_deliver d; /* the poll's holder connection */
	struct sio_buf out;   /* the payload taken for it */
	int taken;            /* packets in out */
};

/* The sessions of ours a POST's write rang: a set of sids whose values
 * are struct rung (rungs_init()); lost (out of memory) rings every waiter
 * after the commit. */
static void
rungs_init(struct sio_sidset *l)
{
	sio_sidset_init(l, sizeof(struct rung));
}

static struct rung *
rungs_get(struct sio_sidset *l, size_t i)
{
	return sio_sidset_val(l, i);
}

static void
rungs_add(void *udata, const char *sid)
{
	struct rung *g = sio_sidset_add(udata, sid); /* zeroed: out empty */

	if (g != NULL)
		snprintf(g->sid, sizeof(g->sid), "%s", sid);
}

/* Inside the POST's transaction: claims g's parked poll and takes what g
 * has queued for it. */
static void
rung_take(struct sio_store *st, struct batch *bt, struct rung *g, long long now)
{
	void *udata = NULL;
	long long conn = -1;
	int n;

	g->w = gw_wait_claim(g->sid, &conn, &udata);
	g->gs = udata;
	if (g->w == NULL)
		return;
	/* an attached poll's `1::` went out with its attach */
	sio_deliver_init(&g->d, g->sid, g->gs->rt.transport, gw.holder, conn,
	                 SIO_DELIVER_HELLO_AT_TAKE);
	if (sio_deliver_holds(&g->d, st) < 0)
		return;
	n = serve_collect(st, &g->d, bt, now, &g->out);
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
	f->d = g->d;
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
rungs_answer(struct serve *s, struct sio_sidset *l, int committed)
{
	struct finish_write *p = NULL;
	struct rung *own = NULL;

	for (size_t i = 0; i < sio_sidset_len(l); i++) {
		struct rung *g = rungs_get(l, i);
		if (g->w == NULL || !committed || g->taken <= 0) {
			if (g->w != NULL)
				gw_wait_answer(g->w, 0);
			gw_wait_ring(g->sid);
			continue;
		}
		if (p == NULL)
			p = finish_new(sio_sidset_len(l));
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
	for (size_t i = 0; i < sio_sidset_len(l); i++)
		sio_buf_cleanup(&rungs_get(l, i)->out);
	sio_sidset_cleanup(l);
}

/* A POST's packets as a write (write.c). */
struct post_write {
	struct gw_write w; /* first: the write.c part */
	struct serve *s;
	struct sio_session_run *run; /* the packets, run before the write */
	long long now;
	struct sio_sidset l; /* our sessions that got packets (rungs_init()) */
	struct batch bt;     /* for rung_take(), when have_bt */
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
	for (size_t i = 0; i < sio_sidset_len(&p->l); i++) {
		if (!p->have_bt)
			batch_init(&p->bt, wx->cfg);
		p->have_bt = 1;
		rung_take(wx->store, &p->bt, rungs_get(&p->l, i), p->now);
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

void
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
		serve_body_refused(s, rc, 0);
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
	post.w.sid = s->rt.sid; /* its endpoints: the run asked */
	post.now = sio_session_now();
	rungs_init(&post.l);
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
	if (rc == SIO_CLOSED)
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
