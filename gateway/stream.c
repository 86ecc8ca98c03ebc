/*
 * stream.c: the htmlfile transport: one response that streams the
 * session's packets as script chunks until the stream ends.
 */
#include "serve.h"

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

/* Streams d's session until the stream ends (superseded, the session
 * over, the client gone), starting with `1::` when d says so. */
static void
serve_stream(struct serve *s, struct sio_deliver *d, struct batch *bt)
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
		if (sio_deliver_holds(d, s->x->store) < 0)
			break;
		n = d->hello || serve_ready(s, d, now)
		        ? serve_take(s, d, bt, now, &out)
		        : 0;
		if (n < 0)
			break;
		if (n > 0) {
			if (serve_chunk(s, out.p, out.len) != SIO_OK) {
				serve_delivered(s, d, 0);
				gw_log(SIO_LOG_INFO,
				       "%s: htmlfile write failed", s->rt.sid);
				break;
			}
			serve_delivered(s, d, 1);
			continue; /* more may be queued past the batch limit */
		}
		if (sio_deliver_over(d, s->x->store))
			break;
		wait_ms =
		    serve_timeout(now, now + recheck, serve_due(s, d, now));
		if (serve_sleep(s, w, wait_ms) < 0)
			break;
	}
	gw_wait_end(w);
	sio_buf_cleanup(&out);
}

void
serve_htmlfile(struct serve *s, struct batch *bt)
{
	struct sio_deliver d;
	struct poll_write p = {.w.fn = poll_attach,
	                       .w.sid = d.sid,
	                       .s = s,
	                       .d = &d,
	                       .now = sio_session_now()};
	int rc;

	sio_deliver_init(&d, s->rt.sid, s->rt.transport, gw.holder,
	                 gw_conn_next(), SIO_DELIVER_HELLO_AT_TAKE);
	if (serve_drain(s) != SIO_OK)
		return;
	if (serve_store(s) != SIO_OK) { /* the stream reads as it goes */
		serve_text(s, 503, "store unavailable");
		return;
	}
	rc = serve_attach(s, &p);
	if (rc == SIO_ERR) { /* logged */
		serve_text(s, 500, "store error");
		return;
	}
	if (serve_head(s, 200, "text/html; charset=UTF-8", -1) != SIO_OK ||
	    gw_req_write(s->r, sio_text_htmlfile_prelude(),
	                 SIO_HTMLFILE_PRELUDE_LEN) != SIO_OK ||
	    gw_req_flush(s->r) != SIO_OK) {
		rc = SIO_ERR;
	} else if (rc == SIO_CLOSED) {
		serve_chunk(s, "7:::1+0", 7);
		return;
	} else {
		gw_log(SIO_LOG_DEBUG, "%s: attached htmlfile conn %lld",
		       s->rt.sid, d.conn);
		serve_stream(s, &d, bt);
	}
	serve_finish(s, &d, 0, 0, 1);
}
