/*
 * respond.c: sio-gateway's HTTP answers: the status line and headers
 * (CORS for the origins `origins` allows), whole responses, polling payloads
 * (plain or jsonp), and the request body read to its limit.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "serve.h"

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

int
serve_head(struct serve *s, int status, const char *ctype, long long clen)
{
	static const struct {
		int code;
		const char *text;
	} reasons[] = {{200, "OK"},
	               {400, "Bad Request"},
	               {401, "Unauthorized"},
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
	if (rc == SIO_OK && s->allow != NULL)
		rc = sio_buf_printf(&h, "Allow: %s\r\n", s->allow);
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
int
serve_respond(struct serve *s, int status, const char *ctype, const char *body,
              size_t len)
{
	if (serve_head(s, status, ctype, (long long)len) != SIO_OK ||
	    gw_req_write(s->r, body, len) != SIO_OK)
		return SIO_ERR;
	return gw_req_end(s->r);
}

int
serve_text(struct serve *s, int status, const char *text)
{
	return serve_respond(s, status, SERVE_PLAIN, text, strlen(text));
}

/* A polling payload: plain text, or wrapped for jsonp-polling. */
int
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
 * SIO_OK, SIO_TOO_BIG as soon as it is longer (the rest is not read: a body
 * without end would hold the thread), SERVE_LATE when it missed its
 * deadline (body_timeout), SIO_ERR on a read error. The chunk is small:
 * libfcgi reads the socket in 8 KiB anyway, and a stack page a thread has
 * touched stays resident while it waits (a thread per parked long poll). */
int
serve_body(struct serve *s, struct sio_buf *b, size_t max)
{
	char chunk[1024];
	long n;

	while ((n = gw_req_read(s->r, chunk, sizeof(chunk))) > 0) {
		if (b->len + (size_t)n > max)
			return SIO_TOO_BIG;
		if (sio_buf_append(b, chunk, (size_t)n) != SIO_OK)
			return SIO_ERR;
	}
	if (n == GW_LATE)
		return SERVE_LATE;
	return n < 0 ? SIO_ERR : SIO_OK;
}

int
serve_json_error(struct serve *s, int status, const char *why)
{
	json_t *o = json_pack("{s:s}", "error", why);
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	int rc;

	if (text != NULL)
		rc = serve_respond(s, status, "application/json", text,
		                   strlen(text));
	else
		rc = serve_text(s, 500, "out of memory");
	free(text);
	json_decref(o);
	return rc;
}

/* Answers a body serve_body() refused (rc), and logs why; json: as
 * {"error": why} (the publish endpoint's answers). */
void
serve_body_refused(struct serve *s, int rc, int json)
{
	static struct sio_ratelimit rl;
	int status = rc == SIO_TOO_BIG ? 413 : rc == SERVE_LATE ? 408 : 400;
	const char *why = rc == SIO_TOO_BIG  ? "body over max_payload"
	                  : rc == SERVE_LATE ? "body too slow"
	                                     : "bad body";

	gw_log_limited(&rl, SIO_LOG_INFO, "%s: %s from %s",
	               json ? "publish" : s->rt.sid, why, gw_req_client(s->r));
	if (json)
		serve_json_error(s, status, why);
	else
		serve_text(s, status,
		           rc == SIO_TOO_BIG ? "payload too large" : why);
}
