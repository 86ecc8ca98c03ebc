/*
 * http_client.c: POST requests over libwebsockets' HTTP client. Each
 * request is a struct req on the client's list, bound to its wsi through
 * the wsi's opaque user data; a request ends once (finish()): its done is
 * called and it is unbound from the wsi, which lws then closes. A sul per
 * request is its deadline; another, at zero delay, delivers a result
 * decided inside sio_http_post() (done never runs from there).
 */
#include "http_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "siogate.h"

#define CHUNK 4096 /* body bytes written per writeable callback */

struct sio_http_client;

struct req {
	lws_sorted_usec_list_t sul_deadline; /* first: the sul callbacks */
	lws_sorted_usec_list_t sul_defer;
	struct sio_http_client *c;
	struct req *next;
	struct lws *wsi;
	char **headers; /* name/value pairs, copied */
	size_t nheaders;
	char *body;
	size_t len, sent;
	char *resp; /* the response body, at most max_response bytes */
	size_t rlen, rcap, max_response;
	int status;
	int got_bytes; /* a response byte arrived */
	int starting;  /* inside sio_http_post() */
	int ended;
	enum sio_http_failure failure;
	char err[128];
	void (*done)(void *udata, const struct sio_http_result *r);
	void *udata;
};

struct sio_http_client {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	int own; /* ctx is ours */
	int max_inflight;
	int busy;
	struct req *reqs;
	lws_sorted_usec_list_t sul_service; /* ends a service() wait */
	struct lws_protocols protocols[2];
};

static void
req_free(struct req *q)
{
	size_t i;

	for (i = 0; i < 2 * q->nheaders; i++)
		free(q->headers[i]);
	free(q->headers);
	free(q->body);
	free(q->resp);
	free(q);
}

static void
req_unlink(struct req *q)
{
	struct req **pp;

	for (pp = &q->c->reqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
}

/* Calls done with the request's result, unbinds its wsi (killed soon)
 * and frees it. */
static void
req_deliver(struct req *q)
{
	struct sio_http_result r;

	lws_sul_cancel(&q->sul_deadline);
	lws_sul_cancel(&q->sul_defer);
	if (q->wsi != NULL) {
		lws_set_opaque_user_data(q->wsi, NULL);
		lws_set_timeout(q->wsi, PENDING_TIMEOUT_USER_OK,
		                LWS_TO_KILL_ASYNC);
		q->wsi = NULL;
	}
	req_unlink(q);
	q->c->busy--;
	memset(&r, 0, sizeof(r));
	r.failure = q->failure;
	r.status = q->failure == SIO_HTTP_OK ? q->status : 0;
	r.body = q->failure == SIO_HTTP_OK && q->resp != NULL ? q->resp : "";
	r.len = q->failure == SIO_HTTP_OK ? q->rlen : 0;
	r.err = q->err;
	q->done(q->udata, &r);
	req_free(q);
}

static void
req_defer_cb(lws_sorted_usec_list_t *sul)
{
	req_deliver(lws_container_of(sul, struct req, sul_defer));
}

/* Ends q with failure f (err a short reason): delivered now, or from the
 * loop when inside sio_http_post(). Only the first end counts. */
static void
finish(struct req *q, enum sio_http_failure f, const char *err)
{
	if (q->ended)
		return;
	q->ended = 1;
	q->failure = f;
	snprintf(q->err, sizeof(q->err), "%s", err);
	if (q->wsi != NULL) {
		lws_set_opaque_user_data(q->wsi, NULL);
		lws_set_timeout(q->wsi, PENDING_TIMEOUT_USER_OK,
		                LWS_TO_KILL_ASYNC);
		q->wsi = NULL;
	}
	if (q->starting)
		lws_sul_schedule(q->c->ctx, 0, &q->sul_defer, req_defer_cb, 1);
	else
		req_deliver(q);
}

static void
req_deadline_cb(lws_sorted_usec_list_t *sul)
{
	finish(lws_container_of(sul, struct req, sul_deadline),
	       SIO_HTTP_TIMEOUT, "timeout");
}

/* Appends the response bytes in[0..len) within max_response. */
static int
req_append(struct req *q, const void *in, size_t len)
{
	size_t cap;
	char *p;

	q->got_bytes = 1;
	if (len > q->max_response - q->rlen) {
		finish(q, SIO_HTTP_TOO_BIG, "response body too big");
		return -1;
	}
	if (q->rlen + len + 1 > q->rcap) {
		cap = q->rcap ? q->rcap : 1024;
		while (cap < q->rlen + len + 1)
			cap *= 2;
		if (cap > q->max_response + 1)
			cap = q->max_response + 1;
		p = realloc(q->resp, cap);
		if (p == NULL) {
			finish(q, SIO_HTTP_PROTOCOL, "out of memory");
			return -1;
		}
		q->resp = p;
		q->rcap = cap;
	}
	memcpy(q->resp + q->rlen, in, len);
	q->rlen += len;
	q->resp[q->rlen] = '\0';
	return 0;
}

static int
add_header(struct lws *wsi, const char *name, const char *value,
           unsigned char **p, unsigned char *end)
{
	char n[128];

	/* lws wants the name with its colon */
	if (snprintf(n, sizeof(n), "%s:", name) >= (int)sizeof(n))
		return -1;
	return lws_add_http_header_by_name(wsi, (const unsigned char *)n,
	                                   (const unsigned char *)value,
	                                   (int)strlen(value), p, end);
}

static int
append_headers(struct req *q, struct lws *wsi, unsigned char **p, size_t room)
{
	unsigned char *end = *p + room - 1;
	char len[32];
	size_t i;

	/* lws writes the Host header and "connection: close" itself */
	snprintf(len, sizeof(len), "%zu", q->len);
	if (add_header(wsi, "Content-Type", "application/json", p, end) ||
	    add_header(wsi, "Content-Length", len, p, end) ||
	    add_header(wsi, "User-Agent", "siogate/" SIOGATE_VERSION, p, end))
		return -1;
	for (i = 0; i < q->nheaders; i++)
		if (add_header(wsi, q->headers[2 * i], q->headers[2 * i + 1], p,
		               end))
			return -1;
	if (q->len > 0) {
		lws_client_http_body_pending(wsi, 1);
		lws_callback_on_writable(wsi);
	}
	return 0;
}

/* Writes the next chunk of the request body. */
static int
write_body(struct req *q, struct lws *wsi)
{
	unsigned char buf[LWS_PRE + CHUNK];
	size_t n = q->len - q->sent;
	int final;

	if (n > CHUNK)
		n = CHUNK;
	final = q->sent + n == q->len;
	memcpy(buf + LWS_PRE, q->body + q->sent, n);
	if (lws_write(wsi, buf + LWS_PRE, n,
	              final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
		return -1;
	q->sent += n;
	if (final)
		lws_client_http_body_pending(wsi, 0);
	else
		lws_callback_on_writable(wsi);
	return 0;
}

static int
http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
        size_t len)
{
	struct req *q = lws_get_opaque_user_data(wsi);
	char buf[LWS_PRE + 4096], *px;
	int lenx;

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (q == NULL)
			return -1;
		return append_headers(q, wsi, (unsigned char **)in, len) ? -1
		                                                         : 0;
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
		if (q == NULL)
			return -1;
		if (q->sent < q->len && write_body(q, wsi)) {
			finish(q, SIO_HTTP_CONNECT, "write failed");
			return -1;
		}
		return 0;
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		if (q == NULL)
			return -1;
		q->got_bytes = 1;
		q->status = (int)lws_http_client_http_response(wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
		if (q == NULL)
			return -1;
		px = buf + LWS_PRE;
		lenx = (int)sizeof(buf) - LWS_PRE;
		if (lws_http_client_read(wsi, &px, &lenx) < 0)
			return -1;
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (q == NULL)
			return -1;
		return req_append(q, in, len) ? -1 : 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		if (q == NULL)
			return -1;
		if (q->resp == NULL && req_append(q, "", 0))
			return -1;
		finish(q, SIO_HTTP_OK, "");
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (q == NULL)
			return 0;
		{
			char err[120];

			snprintf(err, sizeof(err), "%s",
			         in != NULL ? (const char *)in
			                    : "connection error");
			finish(q,
			       q->got_bytes ? SIO_HTTP_PROTOCOL
			                    : SIO_HTTP_CONNECT,
			       err);
		}
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		if (q == NULL)
			return 0;
		q->wsi = NULL;
		lws_set_opaque_user_data(wsi, NULL);
		if (q->got_bytes)
			finish(q, SIO_HTTP_PROTOCOL, "closed mid-response");
		else
			finish(q, SIO_HTTP_CONNECT,
			       "closed before any response");
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

struct sio_http_client *
sio_http_client_new(struct lws_context *ctx, int max_inflight, char *err)
{
	struct lws_context_creation_info info;
	struct sio_http_client *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, SIO_ERR_LEN, "out of memory");
		return NULL;
	}
	c->max_inflight = max_inflight > 0 ? max_inflight : 1;
	c->protocols[0].name = "sio-http-client";
	c->protocols[0].callback = http_cb;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = c->protocols;
	info.gid = -1;
	info.uid = -1;
	/* each request's deadline is its own sul: lws's timeouts (20 s by
	 * default) must not end a request that is given longer */
	info.timeout_secs = 24 * 3600;
	if (ctx == NULL) {
		c->ctx = lws_create_context(&info);
		if (c->ctx == NULL) {
			snprintf(err, SIO_ERR_LEN,
			         "cannot create an lws context");
			free(c);
			return NULL;
		}
		c->own = 1;
		return c;
	}
	c->ctx = ctx;
	info.vhost_name = "sio-http-client";
	c->vh = lws_create_vhost(ctx, &info);
	if (c->vh == NULL) {
		snprintf(err, SIO_ERR_LEN, "cannot create the lws vhost");
		free(c);
		return NULL;
	}
	return c;
}

void
sio_http_client_free(struct sio_http_client *c)
{
	struct req *q;

	if (c == NULL)
		return;
	while ((q = c->reqs) != NULL) {
		if (!q->ended) {
			q->ended = 1;
			q->failure = SIO_HTTP_CONNECT;
			snprintf(q->err, sizeof(q->err), "cancelled");
		}
		req_deliver(q);
	}
	lws_sul_cancel(&c->sul_service);
	if (c->own)
		lws_context_destroy(c->ctx);
	else if (c->vh != NULL)
		lws_vhost_destroy(c->vh);
	free(c);
}

static char *
dup_mem(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		if (n > 0)
			memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static struct req *
req_new(const char *const *headers, size_t nheaders, const char *body,
        size_t len)
{
	struct req *q = calloc(1, sizeof(*q));
	size_t i;

	if (q == NULL)
		return NULL;
	q->body = dup_mem(body, len);
	q->len = len;
	q->headers = calloc(2 * nheaders + 1, sizeof(char *));
	if (q->body == NULL || q->headers == NULL) {
		req_free(q);
		return NULL;
	}
	q->nheaders = nheaders;
	for (i = 0; i < 2 * nheaders; i++)
		if (strpbrk(headers[i], "\r\n") != NULL ||
		    (q->headers[i] = strdup(headers[i])) == NULL) {
			req_free(q);
			return NULL;
		}
	return q;
}

int
sio_http_post(struct sio_http_client *c, const struct sio_http_target *t,
              const char *const *headers, size_t nheaders, const char *body,
              size_t len, long timeout_ms, size_t max_response,
              void (*done)(void *udata, const struct sio_http_result *r),
              void *udata)
{
	struct lws_client_connect_info ci;
	struct req *q;

	if (c->busy >= c->max_inflight)
		return SIO_FULL;
	q = req_new(headers, nheaders, body, len);
	if (q == NULL)
		return SIO_ERR;
	q->c = c;
	q->done = done;
	q->udata = udata;
	q->max_response = max_response;
	q->next = c->reqs;
	c->reqs = q;
	c->busy++;
	q->starting = 1;
	lws_sul_schedule(c->ctx, 0, &q->sul_deadline, req_deadline_cb,
	                 (lws_usec_t)(timeout_ms > 0 ? timeout_ms : 1) *
	                     LWS_US_PER_MS);

	memset(&ci, 0, sizeof(ci));
	ci.context = c->ctx;
	ci.vhost = c->vh;
	ci.address = t->addr;
	ci.port = t->port;
	ci.path = t->path;
	ci.host = t->host;
	ci.method = "POST";
	ci.alpn = "http/1.1";
	ci.protocol = c->protocols[0].name;
	ci.ssl_connection = LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
	ci.opaque_user_data = q;
	ci.pwsi = &q->wsi;
	if (lws_client_connect_via_info(&ci) == NULL) {
		q->wsi = NULL;
		finish(q, SIO_HTTP_CONNECT, "cannot connect");
	}
	q->starting = 0;
	return SIO_OK;
}

int
sio_http_client_busy(const struct sio_http_client *c)
{
	return c->busy;
}

static void
service_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
}

int
sio_http_client_service(struct sio_http_client *c, int timeout_ms)
{
	if (!c->own)
		return SIO_ERR;
	if (timeout_ms <= 0)
		return lws_service(c->ctx, -1) < 0 ? SIO_ERR : SIO_OK;
	/* lws 4.1 waits for its next timer: one of ours bounds the wait */
	lws_sul_schedule(c->ctx, 0, &c->sul_service, service_cb,
	                 (lws_usec_t)timeout_ms * LWS_US_PER_MS);
	if (lws_service(c->ctx, 0) < 0)
		return SIO_ERR;
	return SIO_OK;
}

void
sio_http_client_wake(struct sio_http_client *c)
{
	if (c->own)
		lws_cancel_service(c->ctx);
}

struct wait_state {
	struct sio_http_result *r;
	int done;
	int oom;
};

static void
wait_done(void *udata, const struct sio_http_result *r)
{
	struct wait_state *w = udata;

	*w->r = *r;
	w->r->body = dup_mem(r->body, r->len);
	w->r->err = strdup(r->err);
	if (w->r->body == NULL || w->r->err == NULL)
		w->oom = 1;
	w->done = 1;
}

int
sio_http_post_wait(const struct sio_http_target *t, const char *const *headers,
                   size_t nheaders, const char *body, size_t len,
                   long timeout_ms, size_t max_response,
                   struct sio_http_result *r)
{
	struct sio_http_client *c;
	struct wait_state w = {r, 0, 0};
	char err[SIO_ERR_LEN];

	memset(r, 0, sizeof(*r));
	c = sio_http_client_new(NULL, 1, err);
	if (c == NULL)
		return SIO_ERR;
	if (sio_http_post(c, t, headers, nheaders, body, len, timeout_ms,
	                  max_response, wait_done, &w) != SIO_OK) {
		sio_http_client_free(c);
		return SIO_ERR;
	}
	while (!w.done)
		if (sio_http_client_service(c, 100) != SIO_OK)
			break;
	sio_http_client_free(c); /* a request left is cancelled: done */
	if (w.oom) {
		sio_http_result_free(r);
		return SIO_ERR;
	}
	return SIO_OK;
}

void
sio_http_result_free(struct sio_http_result *r)
{
	free((char *)r->body);
	free((char *)r->err);
	r->body = NULL;
	r->err = NULL;
}

/* Resolves name to an IP literal in out. */
static int
resolve(const char *name, char *out, size_t n, char *err)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0) {
		snprintf(err, SIO_ERR_LEN, "cannot resolve %.120s: %s", name,
		         gai_strerror(rc));
		return SIO_ERR;
	}
	rc = getnameinfo(res->ai_addr, res->ai_addrlen, out, (socklen_t)n, NULL,
	                 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	if (rc != 0) {
		snprintf(err, SIO_ERR_LEN, "cannot resolve %.120s", name);
		return SIO_ERR;
	}
	return SIO_OK;
}

static int
parse_unix(const char *rest, struct sio_http_target *t, char *err)
{
	const char *colon = strstr(rest, ":/");
	size_t n;

	/* unix:/ABS/PATH.sock:/URLPATH */
	if (rest[0] != '/' || colon == NULL) {
		snprintf(err, SIO_ERR_LEN,
		         "bad url: want http://unix:/PATH.sock:/URLPATH");
		return SIO_ERR;
	}
	n = (size_t)(colon - rest);
	if (n + 2 > sizeof(t->addr)) {
		snprintf(err, SIO_ERR_LEN, "bad url: socket path too long");
		return SIO_ERR;
	}
	t->addr[0] = '+';
	memcpy(t->addr + 1, rest, n);
	t->addr[n + 1] = '\0';
	if (snprintf(t->path, sizeof(t->path), "%s", colon + 1) >=
	    (int)sizeof(t->path)) {
		snprintf(err, SIO_ERR_LEN, "bad url: path too long");
		return SIO_ERR;
	}
	snprintf(t->host, sizeof(t->host), "localhost");
	t->port = 0;
	t->unix_socket = 1;
	return SIO_OK;
}

int
sio_http_target_parse(const char *url, struct sio_http_target *t, char *err)
{
	const char *p, *hend, *slash;
	char name[256];
	size_t hn;
	long port = 80;
	char *e;

	memset(t, 0, sizeof(*t));
	if (strncmp(url, "http://", 7) != 0) {
		snprintf(err, SIO_ERR_LEN,
		         "bad url: only http:// is supported");
		return SIO_ERR;
	}
	p = url + 7;
	if (strchr(p, '#') != NULL) {
		snprintf(err, SIO_ERR_LEN, "bad url: a fragment");
		return SIO_ERR;
	}
	if (strncmp(p, "unix:", 5) == 0)
		return parse_unix(p + 5, t, err);
	slash = strchr(p, '/');
	hend = slash ? slash : p + strlen(p);
	if (memchr(p, '@', (size_t)(hend - p)) != NULL) {
		snprintf(err, SIO_ERR_LEN,
		         "bad url: userinfo is not supported");
		return SIO_ERR;
	}
	if (memchr(p, '?', (size_t)(hend - p)) != NULL) {
		snprintf(err, SIO_ERR_LEN, "bad url: a query needs a path");
		return SIO_ERR;
	}
	hn = (size_t)(hend - p);
	if (hn == 0 || hn >= sizeof(t->host)) {
		snprintf(err, SIO_ERR_LEN, "bad url: no host or too long");
		return SIO_ERR;
	}
	memcpy(t->host, p, hn);
	t->host[hn] = '\0';
	/* the name, and the port after it */
	if (t->host[0] == '[') {
		const char *rb = strchr(t->host, ']');

		if (rb == NULL || rb == t->host + 1 ||
		    (rb[1] != '\0' && rb[1] != ':')) {
			snprintf(err, SIO_ERR_LEN, "bad url: bad [IPv6] host");
			return SIO_ERR;
		}
		memcpy(name, t->host + 1, (size_t)(rb - t->host - 1));
		name[rb - t->host - 1] = '\0';
		p = rb + 1;
	} else {
		const char *c = strchr(t->host, ':');
		size_t nn = c ? (size_t)(c - t->host) : strlen(t->host);

		if (nn == 0) {
			snprintf(err, SIO_ERR_LEN, "bad url: no host");
			return SIO_ERR;
		}
		memcpy(name, t->host, nn);
		name[nn] = '\0';
		p = t->host + nn;
	}
	if (*p == ':') {
		port = strtol(p + 1, &e, 10);
		if (p[1] < '0' || p[1] > '9' || *e != '\0' || port < 1 ||
		    port > 65535) {
			snprintf(err, SIO_ERR_LEN, "bad url: bad port");
			return SIO_ERR;
		}
	}
	t->port = (int)port;
	if (snprintf(t->path, sizeof(t->path), "%s", slash ? slash : "/") >=
	    (int)sizeof(t->path)) {
		snprintf(err, SIO_ERR_LEN, "bad url: path too long");
		return SIO_ERR;
	}
	if (strpbrk(t->path, " \t\r\n") != NULL) {
		snprintf(err, SIO_ERR_LEN, "bad url: space in the path");
		return SIO_ERR;
	}
	return resolve(name, t->addr, sizeof(t->addr), err);
}
