/*
 * http_client.c: POSTs over lws's HTTP/1.1 client (http_client.h). One
 * struct http_req per request, pointed to by its connection's opaque user
 * data: the protocol callback writes the headers and the body, gathers the
 * response up to its limit, and finishes the request once (complete,
 * failed, or its timer fired). A finished request is handed to its done
 * from the loop and freed at once; its connection, if still open, is told
 * to close and finds no request any more.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "buf.h"
#include "http_client.h"
#include "result.h"

#define HTTP_PROTOCOL "sio-http-client"
#define HTTP_CHUNK 16384 /* body bytes written per writeable callback */
#define HTTP_MAX_WAIT_S 4000 /* past any request's timeout (at most 3600 s) */

struct http_req {
	struct sio_http_client *c;
	struct lws *wsi;
	lws_sorted_usec_list_t timer;  /* the request's deadline */
	lws_sorted_usec_list_t finish; /* a result to hand over (deferred) */
	char host[256];
	char *body;
	size_t len, sent;
	char **headers; /* "Name:" and value pairs, owned */
	size_t nheaders;
	struct sio_buf resp;
	size_t max_response;
	int status;
	int responded; /* a status line came */
	int starting;  /* inside sio_http_post(): done must wait */
	int finished;
	struct sio_http_result result;
	char err[128];
	void (*done)(void *udata, const struct sio_http_result *r);
	void *udata;
	struct http_req *prev, *next;
};

struct sio_http_client {
	struct lws_context *ctx; /* the client's own */
	struct lws_protocols protocols[2];
	lws_sorted_usec_list_t wake; /* sio_http_client_service()'s bound */
	int max_inflight, inflight;
	struct http_req *reqs;
};

/* --- the target ------------------------------------------------------------- */

/* Resolves host (a name or an address, without brackets) to an IP
 * literal in out. */
static int
http_resolve(const char *host, char *out, size_t size, char *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc != 0)
		return sio_err(err, "bridge_url: %s: %s", host,
		               gai_strerror(rc));
	rc = getnameinfo(res->ai_addr, res->ai_addrlen, out, (socklen_t)size,
	                 NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	if (rc != 0)
		return sio_err(err, "bridge_url: %s: %s", host,
		               gai_strerror(rc));
	return SIO_OK;
}

int
sio_http_target_parse(const char *url, struct sio_http_target *t, char *err)
{
	const char *p, *hp, *he, *path;
	char host[256];
	long port = 80;

	memset(t, 0, sizeof(*t));
	if (strncmp(url, "http://", 7) != 0)
		return sio_err(err, "bridge_url: not an http:// URL");
	p = url + 7;
	if (strchr(url, '#') != NULL || strpbrk(url, " \t\r\n") != NULL)
		return sio_err(err, "bridge_url: a fragment or a blank");
	if (strncmp(p, "unix:/", 6) == 0) {
		const char *sock = p + 5, *end = strchr(sock, ':');

		if (end == NULL || end[1] != '/' || end == sock + 1 ||
		    (size_t)(end - sock) + 2 > sizeof(t->addr))
			return sio_err(err, "bridge_url: http://unix:/PATH.sock:"
			                    "/URLPATH expected");
		snprintf(t->addr, sizeof(t->addr), "+%.*s", (int)(end - sock),
		         sock);
		snprintf(t->host, sizeof(t->host), "localhost");
		path = end + 1;
		t->unix_socket = 1;
	} else {
		path = p + strcspn(p, "/?");
		if (memchr(p, '@', (size_t)(path - p)) != NULL)
			return sio_err(err, "bridge_url: no user@ allowed");
		if (*p == '[') {
			hp = p + 1;
			he = memchr(hp, ']', (size_t)(path - hp));
			if (he == NULL)
				return sio_err(err, "bridge_url: bad [IPv6]");
			p = he + 1;
		} else {
			hp = p;
			he = p + strcspn(p, ":/?");
			p = he;
		}
		if (he == hp || (size_t)(he - hp) >= sizeof(host))
			return sio_err(err, "bridge_url: bad host");
		memcpy(host, hp, (size_t)(he - hp));
		host[he - hp] = '\0';
		if (*p == ':') {
			char *end;

			port = strtol(p + 1, &end, 10);
			if (end == p + 1 || end != path || port < 1 ||
			    port > 65535)
				return sio_err(err, "bridge_url: bad port");
		} else if (p != path) {
			return sio_err(err, "bridge_url: bad host");
		}
		if (http_resolve(host, t->addr, sizeof(t->addr), err) != SIO_OK)
			return SIO_ERR;
		t->port = (int)port;
		snprintf(t->host, sizeof(t->host), "%.*s",
		         (int)(path - url - 7), url + 7);
	}
	if (strlen(path) >= sizeof(t->path))
		return sio_err(err, "bridge_url: path too long");
	snprintf(t->path, sizeof(t->path), "%s", *path == '/' ? path : "/");
	if (*path == '?')
		snprintf(t->path, sizeof(t->path), "/%s", path);
	return SIO_OK;
}

/* --- requests --------------------------------------------------------------- */

static void
http_req_free(struct http_req *r)
{
	for (size_t i = 0; i < 2 * r->nheaders; i++)
		free(r->headers[i]);
	free(r->headers);
	free(r->body);
	sio_buf_cleanup(&r->resp);
	free(r);
}

/* Hands r's result to its done and frees r. */
static void
http_deliver(struct http_req *r)
{
	struct sio_http_client *c = r->c;

	lws_sul_cancel(&r->timer);
	lws_sul_cancel(&r->finish);
	if (r->prev)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	c->inflight--;
	if (r->wsi != NULL) { /* still open: closed without us */
		lws_set_opaque_user_data(r->wsi, NULL);
		lws_set_timeout(r->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT,
		                LWS_TO_KILL_ASYNC);
	}
	r->result.body = r->resp.p != NULL ? r->resp.p : "";
	r->result.len = r->resp.len;
	r->result.err = r->err;
	r->done(r->udata, &r->result);
	http_req_free(r);
}

static void
http_deliver_cb(lws_sorted_usec_list_t *sul)
{
	http_deliver(lws_container_of(sul, struct http_req, finish));
}

/* Finishes r once with failure f (its reason why): at once, or from the
 * loop when inside sio_http_post(). */
static void
http_finish(struct http_req *r, enum sio_http_failure f, const char *why)
{
	if (r->finished)
		return;
	r->finished = 1;
	r->result.failure = f;
	r->result.status = f == SIO_HTTP_OK ? r->status : 0;
	snprintf(r->err, sizeof(r->err), "%s", why ? why : "");
	if (f != SIO_HTTP_OK)
		sio_buf_truncate(&r->resp, 0);
	if (r->starting) {
		lws_sul_schedule(r->c->ctx, 0, &r->finish, http_deliver_cb, 1);
		return;
	}
	http_deliver(r);
}

static void
http_timeout_cb(lws_sorted_usec_list_t *sul)
{
	http_finish(lws_container_of(sul, struct http_req, timer),
	            SIO_HTTP_TIMEOUT, "timed out");
}

/* The request headers after lws's own (method, path, Host). */
static int
http_headers(struct http_req *r, unsigned char **p, unsigned char *end)
{
	char n[24];
	struct lws *wsi = r->wsi;

	snprintf(n, sizeof(n), "%zu", r->len);
	if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
	                                 (const unsigned char *)
	                                 "application/json",
	                                 16, p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
	                                 (const unsigned char *)n,
	                                 (int)strlen(n), p, end) ||
	    lws_add_http_header_by_token(
	        wsi, WSI_TOKEN_HTTP_USER_AGENT,
	        (const unsigned char *)"siogate/" SIOGATE_VERSION,
	        (int)strlen("siogate/" SIOGATE_VERSION), p, end))
		return -1;
	for (size_t i = 0; i < r->nheaders; i++)
		if (lws_add_http_header_by_name(
		        wsi, (const unsigned char *)r->headers[2 * i],
		        (const unsigned char *)r->headers[2 * i + 1],
		        (int)strlen(r->headers[2 * i + 1]), p, end))
			return -1;
	if (r->len > 0) {
		lws_client_http_body_pending(wsi, 1);
		lws_callback_on_writable(wsi);
	}
	return 0;
}

/* The next part of the body. */
static int
http_write_body(struct http_req *r)
{
	unsigned char buf[LWS_PRE + HTTP_CHUNK];
	size_t n = r->len - r->sent;
	int last;

	if (n > HTTP_CHUNK)
		n = HTTP_CHUNK;
	last = r->sent + n == r->len;
	memcpy(buf + LWS_PRE, r->body + r->sent, n);
	if (lws_write(r->wsi, buf + LWS_PRE, n,
	              last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
		return -1;
	r->sent += n;
	if (last)
		lws_client_http_body_pending(r->wsi, 0);
	else
		lws_callback_on_writable(r->wsi);
	return 0;
}

static int
http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
              void *in, size_t len)
{
	struct http_req *r = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	char buf[LWS_PRE + 4096], *px;
	int lenx;

	if (r == NULL)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		r->wsi = NULL;
		lws_set_opaque_user_data(wsi, NULL);
		http_finish(r, r->responded ? SIO_HTTP_PROTOCOL : SIO_HTTP_CONNECT,
		            in ? (const char *)in : "connection failed");
		return 0;
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return http_headers(r, (unsigned char **)in,
		                    *(unsigned char **)in + len);
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
		return r->sent < r->len ? http_write_body(r) : 0;
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		r->responded = 1;
		r->status = (int)lws_http_client_http_response(wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
		px = buf + LWS_PRE;
		lenx = (int)sizeof(buf) - LWS_PRE;
		return lws_http_client_read(wsi, &px, &lenx) < 0 ? -1 : 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (r->resp.len + len > r->max_response) {
			http_finish(r, SIO_HTTP_TOO_BIG, "response too big");
			return -1;
		}
		if (sio_buf_append(&r->resp, in, len) != SIO_OK) {
			http_finish(r, SIO_HTTP_PROTOCOL, "out of memory");
			return -1;
		}
		return 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		http_finish(r, SIO_HTTP_OK, NULL);
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
	case LWS_CALLBACK_WSI_DESTROY:
		r->wsi = NULL;
		lws_set_opaque_user_data(wsi, NULL);
		http_finish(r, r->responded ? SIO_HTTP_PROTOCOL : SIO_HTTP_CONNECT,
		            r->responded ? "closed before the response's end"
		                         : "closed before a response");
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

int
sio_http_post(struct sio_http_client *c, const struct sio_http_target *t,
              const char *const *headers, size_t nheaders, const char *body,
              size_t len, long timeout_ms, size_t max_response,
              void (*done)(void *udata, const struct sio_http_result *r),
              void *udata)
{
	struct lws_client_connect_info info;
	struct http_req *r;
	size_t i;

	if (c->inflight >= c->max_inflight)
		return SIO_FULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return SIO_ERR;
	r->c = c;
	r->done = done;
	r->udata = udata;
	r->max_response = max_response;
	sio_buf_init(&r->resp);
	r->len = len;
	r->body = malloc(len + 1);
	r->headers = calloc(2 * nheaders + 1, sizeof(char *));
	if (r->body == NULL || r->headers == NULL) {
		http_req_free(r);
		return SIO_ERR;
	}
	memcpy(r->body, body, len);
	for (i = 0; i < nheaders; i++) {
		size_t n = strlen(headers[2 * i]);

		r->nheaders++;
		r->headers[2 * i] = malloc(n + 2);
		r->headers[2 * i + 1] = strdup(headers[2 * i + 1]);
		if (r->headers[2 * i] == NULL || r->headers[2 * i + 1] == NULL) {
			http_req_free(r);
			return SIO_ERR;
		}
		memcpy(r->headers[2 * i], headers[2 * i], n);
		memcpy(r->headers[2 * i] + n, ":", 2);
	}
	snprintf(r->host, sizeof(r->host), "%s", t->host);
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = r;
	c->reqs = r;
	c->inflight++;
	r->starting = 1;
	memset(&info, 0, sizeof(info));
	info.context = c->ctx;
	info.address = t->addr;
	info.port = t->port;
	info.path = t->path;
	info.host = r->host;
	info.method = "POST";
	info.protocol = HTTP_PROTOCOL;
	info.local_protocol_name = HTTP_PROTOCOL;
	info.ssl_connection = LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
	info.opaque_user_data = r;
	info.pwsi = &r->wsi;
	lws_sul_schedule(c->ctx, 0, &r->timer, http_timeout_cb,
	                 (lws_usec_t)timeout_ms * LWS_US_PER_MS);
	if (lws_client_connect_via_info(&info) == NULL) {
		r->wsi = NULL;
		http_finish(r, SIO_HTTP_CONNECT, "cannot connect");
	}
	r->starting = 0;
	return SIO_OK;
}

int
sio_http_client_busy(const struct sio_http_client *c)
{
	return c->inflight;
}

/* --- the client --------------------------------------------------------------- */

struct sio_http_client *
sio_http_client_new(int max_inflight, char *err)
{
	struct sio_http_client *c = calloc(1, sizeof(*c));
	struct lws_context_creation_info info;

	if (c == NULL) {
		sio_err(err, "out of memory");
		return NULL;
	}
	c->max_inflight = max_inflight > 0 ? max_inflight : 1;
	c->protocols[0].name = HTTP_PROTOCOL;
	c->protocols[0].callback = http_callback;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = c->protocols;
	info.gid = -1;
	info.uid = -1;
	/* each request's own timer is its deadline: lws's default of 5 s
	 * (timeout_secs, the context's) for an answer would cut a slow
	 * application short */
	info.timeout_secs = HTTP_MAX_WAIT_S;
	info.connect_timeout_secs = HTTP_MAX_WAIT_S;
	c->ctx = lws_create_context(&info);
	if (c->ctx == NULL) {
		free(c);
		sio_err(err, "cannot create an lws context");
		return NULL;
	}
	return c;
}

void
sio_http_client_free(struct sio_http_client *c)
{
	if (c == NULL)
		return;
	while (c->reqs != NULL) {
		c->reqs->starting = 0;
		c->reqs->finished = 0;
		http_finish(c->reqs, SIO_HTTP_CONNECT, "cancelled");
	}
	lws_sul_cancel(&c->wake);
	lws_context_destroy(c->ctx);
	free(c);
}

static void
http_wake_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul; /* lws_service() returns */
}

int
sio_http_client_service(struct sio_http_client *c, int timeout_ms)
{
	/* lws 4 waits until its next timer, whatever the service's timeout */
	lws_sul_schedule(c->ctx, 0, &c->wake, http_wake_cb,
	                 (lws_usec_t)timeout_ms * LWS_US_PER_MS);
	if (lws_service(c->ctx, 0) < 0)
		return SIO_ERR;
	return SIO_OK;
}

void
sio_http_client_wake(struct sio_http_client *c)
{
	lws_cancel_service(c->ctx);
}
