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

	gw_log_limited(&rl, SIO_LOG_INFO, "publish from %s: %d %s",
	               gw_req_client(s->r), status, why);
	serve_json_error(s, status, why);
}

/* 1 when the request says its body is longer than max: refused before a
 * byte of it is read (the signature, which covers it, cannot be checked
 * before). */
static int
publish_declared_too_big(struct serve *s, size_t max)
{
	const char *cl = gw_req_param(s->r, "CONTENT_LENGTH");

	if (cl == NULL || cl[0] < '0' || cl[0] > '9')
		return 0;
	return strtoull(cl, NULL, 10) > max; /* ULLONG_MAX when huge */
}

/* The checks before the body is read, in the documented order: 404 when
 * off, 405 for another method, 403 for an address not in publish_allow,
 * 401 without a signature, 413 for a Content-Length over max_payload. 1
 * when it answered. */
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
	if (publish_declared_too_big(s, cfg->max_payload)) {
		publish_refuse(s, 413, "body over max_payload");
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
		serve_body_refused(s, rc, 1);
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

/* The disconnects of a, after the rest: each runs the application's
 * on_close, so the writer is taken for one at a time, and the other
 * requests of the process get it in between. */
static void
publish_disconnects(struct serve *s, const struct sio_actions *a,
                    json_t *results)
{
	struct sio_session_ctx *wx;

	for (size_t i = 0; i < sio_actions_count(a); i++) {
		if (!sio_actions_is_disconnect(a, i))
			continue;
		wx = gw_write_lock(s->x);
		if (sio_actions_disconnect(wx, a, i, sio_session_now(),
		                           results) != SIO_OK)
			gw_log(SIO_LOG_ERROR,
			       "publish: disconnect %zu: out "
			       "of memory",
			       i);
		gw_write_unlock(wx);
	}
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
		rc = sio_actions_apply(wx, a, results);
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
	publish_disconnects(s, a, results);
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
