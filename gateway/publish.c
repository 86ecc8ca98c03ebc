/*
 * publish.c: POST /<resource>/publish, the operator's application queueing
 * actions (emit, send, json, join, leave, set, disconnect) for sessions
 * from outside, signed with bridge_secret (common/sign.h). The body is
 * checked whole (common/actions.h) before anything is written; then the
 * actions apply in one store transaction on the writer, whose commit rings
 * the holders' doorbells as sioctl's does. Answers are JSON, without CORS:
 * a page in a browser has no business here.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "actions.h"
#include "clock.h"
#include "serve.h"
#include "sign.h"

/* Answers {"error": why} with status, and logs it at info: a line per
 * request, but a flood of refused ones (anyone may send them) costs a few
 * lines a minute. */
static void
publish_refuse(struct serve *s, int status, const char *why)
{
	static struct sio_ratelimit rl;
	json_t *o = json_pack("{s:s}", "error", why);
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	gw_log_limited(&rl, SIO_LOG_INFO, "publish from %s: %d %s",
	               gw_req_client(s->r), status, why);
	if (text != NULL)
		serve_respond(s, status, "application/json", text,
		              strlen(text));
	else
		serve_text(s, 500, "out of memory");
	free(text);
	json_decref(o);
}

/* The checks before the body is read, in the documented order: 404 when
 * off, 405 for another method, 403 for an address not in publish_allow,
 * 401 without a signature. 1 when it answered. */
static int
publish_refused_early(struct serve *s, const char *method)
{
	const struct sio_config *cfg = s->x->cfg;

	if (!cfg->publish) {
		serve_text(s, 404, "Not found.");
		return 1;
	}
	if (strcmp(method, "POST") != 0) {
		s->allow = "POST";
		publish_refuse(s, 405, "method not allowed");
		return 1;
	}
	if (!sio_config_publish_allowed(cfg, gw_req_client(s->r))) {
		publish_refuse(s, 403, "address not allowed");
		return 1;
	}
	if (gw_req_param(s->r, "HTTP_X_SIOGATE_SIGNATURE") == NULL) {
		publish_refuse(s, 401, "bad signature");
		return 1;
	}
	return 0;
}

/* Reads the body (max_payload, body_timeout) into b and checks its
 * signature. SIO_OK, or SIO_ERR once answered. */
static int
publish_body(struct serve *s, struct sio_buf *b)
{
	const struct sio_config *cfg = s->x->cfg;
	const char *sig = gw_req_param(s->r, "HTTP_X_SIOGATE_SIGNATURE");
	char err[SIO_ERR_LEN] = "bad signature";
	int rc = serve_body(s, b, cfg->max_payload);

	if (rc != SIO_OK) {
		publish_refuse(s,
		               rc == SIO_TOO_BIG  ? 413
		               : rc == SERVE_LATE ? 408
		                                  : 400,
		               rc == SIO_TOO_BIG  ? "body over max_payload"
		               : rc == SERVE_LATE ? "body too slow"
		                                  : "bad body");
		return SIO_ERR;
	}
	rc = sio_sign_check(cfg->bridge_secret, sig, b->p != NULL ? b->p : "",
	                    b->len, sio_clock_wall_ms() / 1000, err);
	if (rc == SIO_OK)
		return SIO_OK;
	if (rc == SIO_REJECT)
		publish_refuse(s, 401, err);
	else
		publish_refuse(s, 500, "signature check failed");
	return SIO_ERR;
}

/* Applies a on the writer and answers {"results": [...]}. */
static void
publish_apply(struct serve *s, const struct sio_actions *a)
{
	json_t *results = json_array(), *o = NULL;
	struct sio_session_ctx *wx;
	char *text = NULL;
	int rc = SIO_ERR;

	if (results != NULL) {
		wx = gw_write_lock(s->x);
		rc = sio_actions_apply(wx, a, sio_session_now(), results);
		if (rc != SIO_OK)
			gw_log(SIO_LOG_ERROR, "publish: %s",
			       sio_store_errmsg(wx->store));
		gw_write_unlock(wx);
	}
	if (rc != SIO_OK) {
		json_decref(results);
		publish_refuse(s, 503, "store unavailable");
		return;
	}
	o = json_pack("{s:o}", "results", results); /* takes results */
	text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	if (text == NULL) {
		serve_text(s, 500, "out of memory");
	} else {
		gw_log(SIO_LOG_INFO, "publish from %s: 200, %zu actions",
		       gw_req_client(s->r), sio_actions_count(a));
		serve_respond(s, 200, "application/json", text, strlen(text));
	}
	free(text);
	json_decref(o);
}

/* POST /<resource>/publish. */
void
serve_publish(struct serve *s, const char *method)
{
	char err[SIO_ERR_LEN] = "";
	struct sio_actions *a = NULL;
	struct sio_buf body;
	int rc;

	s->origin = NULL; /* not for pages: no CORS headers */
	if (publish_refused_early(s, method))
		return;
	sio_buf_init(&body);
	if (publish_body(s, &body) != SIO_OK)
		goto out;
	rc = sio_actions_parse_max(body.p != NULL ? body.p : "", body.len,
	                           (size_t)s->x->cfg->publish_max_actions,
	                           s->x->cfg->max_packet, NULL, &a, err);
	if (rc == SIO_OK)
		publish_apply(s, a);
	else
		publish_refuse(s, rc == SIO_TOO_BIG ? 413 : 400,
		               err[0] != '\0' ? err : "bad actions");
	sio_actions_free(a);
out:
	sio_buf_cleanup(&body);
}
