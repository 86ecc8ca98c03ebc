/*
 * poll.c: the long poll of xhr-polling and jsonp-polling (GET): attach,
 * take what is queued or park until the session is rung, answer, then
 * delete what was written and detach.
 */
#include "serve.h"

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
	struct sio_deliver d;
	int n = 0;

	sio_deliver_init(&d, s->rt.sid, s->rt.transport, gw.holder,
	                 gw_conn_next(), SIO_DELIVER_HELLO_AT_TAKE);
	sio_buf_init(&out);
	if (serve_store(s) == SIO_OK &&
	    sio_store_session_gone(s->x->store, s->rt.sid) == 0)
		n = serve_take(s, &d, bt, sio_session_now(), &out);
	if (n > 0) {
		serve_delivered(s, &d,
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
int
serve_drain(struct serve *s)
{
	struct sio_buf sink;
	int rc;

	sio_buf_init(&sink);
	rc = serve_body(s, &sink, s->x->cfg->max_payload);
	sio_buf_cleanup(&sink);
	if (rc == SIO_OK)
		return SIO_OK;
	serve_body_refused(s, rc, 0);
	return SIO_ERR;
}

/*
 * Attaches the GET's transport to its session as d's connection and takes
 * what is already queued (`1::` first when the session never sent it), in
 * one write. Returns the number of packets in out (0: the poll must wait;
 * *due is then when its next delayed packet is, -1 for none), SIO_CLOSED
 * for a session that is gone, SIO_ERR (logged).
 */
static int
serve_poll_attach(struct serve *s, struct sio_deliver *d, struct batch *bt,
                  struct sio_buf *out, long long *due)
{
	struct poll_write p = {.w.fn = poll_attach,
	                       .w.sid = d->sid,
	                       .s = s,
	                       .d = d,
	                       .bt = bt,
	                       .out = out,
	                       .now = sio_session_now(),
	                       .due = -1,
	                       .want_due = 1};
	int rc = serve_attach(s, &p);

	*due = p.due;
	return rc == SIO_OK ? p.n : rc;
}

/*
 * gw_wait_for() without a store connection: the request's goes back to
 * the pool while it sleeps, and another is taken when it wakes (it reads
 * then). A negative result when none can be had (logged): the request
 * ends as if the client had gone.
 */
int
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
serve_poll_wait(struct serve *s, struct gw_waiter *w, struct sio_deliver *d,
                struct batch *bt, struct sio_buf *out, long long due)
{
	long long now = sio_session_now();
	/* the polling duration runs on the boot clock: a step of the wall
	 * clock neither stretches nor cuts it */
	long long end =
	    sio_session_mono() + s->x->cfg->polling_duration * 1000LL;
	int n;

	gw_wait_park(w, d->conn, s);
	for (;;) {
		n = serve_sleep(
		    s, w,
		    serve_timeout(now, now + end - sio_session_mono(), due));
		if (n == GW_WAIT_ANSWERED)
			return SERVE_ANSWERED;
		if (n < 0) {
			gw_log(SIO_LOG_DEBUG, "%s: client went away",
			       s->rt.sid);
			return 0;
		}
		gw_wait_clear(w);
		now = sio_session_now();
		if (sio_deliver_holds(d, s->x->store) < 0) {
			gw_log(SIO_LOG_DEBUG, "%s: poll superseded", s->rt.sid);
			serve_unpark(s);
			serve_payload(s, "8::", 3);
			return 0;
		}
		if (serve_ready(s, d, now)) {
			n = serve_take(s, d, bt, now, out);
			if (n != 0)
				return n;
		}
		if (sio_session_mono() >= end) {
			serve_unpark(s);
			serve_payload(s, "8::", 3);
			return 0;
		}
		due = serve_due(s, d, now);
	}
}

/*
 * A long-poll GET: attach, take what is queued or wait for it, answer,
 * then delete what was written and detach in one write. The waiter is
 * registered before the attach, so a ring for a packet queued after the
 * attach's take cannot be missed; parked, a POST may answer it instead.
 */
void
serve_poll_get(struct serve *s, struct batch *bt)
{
	struct gw_waiter *w = gw_wait_self();
	struct sio_deliver d;
	struct sio_buf out;
	long long due;
	int n, ok = 0, rc;

	if (w == NULL) {
		serve_text(s, 500, "out of memory");
		return;
	}
	if (serve_drain(s) != SIO_OK)
		return;
	sio_deliver_init(&d, s->rt.sid, s->rt.transport, gw.holder,
	                 gw_conn_next(), SIO_DELIVER_HELLO_AT_TAKE);
	sio_buf_init(&out);
	gw_wait_begin(w, s->rt.sid);
	/* the attach reads what the first wait needs: no connection of
	 * its own until the poll wakes (serve_sleep()) */
	n = serve_poll_attach(s, &d, bt, &out, &due);
	if (n == SIO_CLOSED) {
		gw_wait_end(w);
		sio_buf_cleanup(&out);
		serve_gone(s, bt);
		return;
	}
	if (n < 0) { /* nothing attached: it may be asked again, here or of
		      * another host (a balancer's next upstream on 503) */
		gw_wait_end(w);
		sio_buf_cleanup(&out);
		serve_text(s, 503, "store unavailable");
		return;
	}
	gw_log(SIO_LOG_DEBUG, "%s: attached %s conn %lld", s->rt.sid,
	       sio_config_transport_name((enum sio_transport)s->rt.transport),
	       d.conn);
	/* only a poll that waits takes a waiting place: one with an
	 * answer at hand (its 1::, queued packets) is never refused */
	if (n == 0) {
		rc = serve_park(s);
		if (rc == SIO_OK)
			n = serve_poll_wait(s, w, &d, bt, &out, due);
		else if (rc == SIO_FULL)
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
		ok = serve_payload(s, out.p, out.len) == SIO_OK;
		if (!ok)
			gw_log(SIO_LOG_INFO, "%s: poll write failed",
			       s->rt.sid);
	}
	sio_buf_cleanup(&out);
	serve_finish(s, &d, n > 0, ok, 1);
}
