/*
 * handshake.c: the handshake of sio-gateway (GET /socket.io/1/): the
 * origin check, the request data kept with the session, and the answer,
 * plain or jsonp.
 */
#include <stdio.h>
#include <string.h>

#include "plugin.h"
#include "serve.h"

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

	if (sio_request_init(req, gw_req_client(s->r), s->rt.query,
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

	if (rc == SIO_ERR)
		gw_log_limited(&rl, SIO_LOG_ERROR, "handshake: %s",
		               sio_store_errmsg(wx->store));
	return rc;
}

void
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
	if (rc == SIO_FULL) {
		static struct sio_ratelimit full_rl;
		gw_log_limited(
		    &full_rl, SIO_LOG_WARN,
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
