/*
 * serve.c: one request of sio-gateway, from route to response: the
 * routes (handshake, forced disconnect, the polling transports, stats,
 * publish, client files, health) and what every transport shares: the
 * request's store connection and its waiting place. The answers live in
 * respond.c, the outbox in outbox.c, the transports in poll.c, stream.c
 * and post.c, the handshake in handshake.c, stats in stats.c, publish in
 * publish.c.
 */
#include <string.h>

#include "serve.h"

/*
 * A request's own store connection, for its reads: taken from the pool
 * when it first needs one (as CGI it has one from the start). Writes run
 * on the writer's, so a POST, a handshake and a poll's attach take none:
 * under load they would otherwise hold one through the writer's queue,
 * and a burst of polls would open connections that only wait. SIO_OK or
 * SIO_ERR (none can be opened: logged by gw_store_open()).
 */
int
serve_store(struct serve *s)
{
	if (s->x->store == NULL && (s->x->store = gw_store_take()) == NULL)
		return SIO_ERR;
	return SIO_OK;
}

/* Gives the request's connection back to the pool until it reads again
 * (threaded modes; as CGI it is the request's only one). */
void
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
 * SIO_FULL when its address has max_polls_per_address waiting, SIO_ERR
 * when every unreserved thread has one; then the caller answers it. As
 * CGI, a request is a process of its own and the web server's limits on
 * those apply.
 */
int
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
	else if (rc == SIO_FULL)
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
void
serve_unpark(struct serve *s)
{
	if (s->parked)
		gw_park_leave(serve_client_addr(s));
	s->parked = 0;
}

/* Reads query field name into s->jsonp when it is a jsonp index
 * (sio_text_jsonp_index_valid()). Returns SIO_OK, SIO_ABSENT when absent,
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
		if (rc == SIO_ABSENT)
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

void
gw_serve_refused(struct gw_req *r, struct sio_session_ctx *x, int rc)
{
	static struct sio_ratelimit rl;
	struct serve s = {.r = r, .x = x};

	s.origin = gw_req_param(r, "HTTP_ORIGIN");
	if (rc == SIO_FULL)
		gw_log_limited(&rl, SIO_LOG_WARN,
		               "refused: %s has max_requests_per_address (%d) "
		               "requests in progress",
		               serve_client_addr(&s),
		               gw.cfg->max_requests_per_address);
	serve_text(&s, 503,
	           rc == SIO_FULL ? "too many requests" : "out of memory");
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
	    s.rt.kind != GW_ROUTE_BAD_PROTOCOL && s.rt.kind != GW_ROUTE_STATS &&
	    s.rt.kind != GW_ROUTE_METRICS && s.rt.kind != GW_ROUTE_PUBLISH &&
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
	case GW_ROUTE_PUBLISH:
		serve_publish(&s, method);
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
