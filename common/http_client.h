/*
 * http_client.h: a non-blocking HTTP/1.1 POST client over libwebsockets,
 * for the bridge: requests to one target (bridge_url), each with a
 * deadline and a bounded response body, their results delivered from the
 * lws loop.
 */
#ifndef SIO_HTTP_CLIENT_H
#define SIO_HTTP_CLIENT_H

#include <stddef.h>

#include <libwebsockets.h>

/* Where requests go: bridge_url parsed and resolved once. */
struct sio_http_target {
	char host[256]; /* the Host header ("localhost:8080") */
	char addr[256]; /* what lws connects to: an IP literal, or "+/path.sock"
	                 */
	int port;       /* 0 for a unix socket */
	char path[1024]; /* "/app.php?x=1" */
	int unix_socket;
};

/* Parses url: "http://HOST[:PORT][/PATH]" (HOST a name, an IPv4 or a
 * [IPv6]; the name resolved here, once, with getaddrinfo: the loop never
 * waits on DNS) or "http://unix:/ABS/PATH.sock:/URLPATH". No https, no
 * userinfo, no fragment. SIO_OK, or SIO_ERR with the reason in err
 * (SIO_ERR_LEN). */
int sio_http_target_parse(const char *url, struct sio_http_target *t,
                          char *err);

enum sio_http_failure {
	SIO_HTTP_OK = 0,   /* a complete response (any status) */
	SIO_HTTP_CONNECT,  /* no connection: refused, unreachable, reset
	                      before any response byte: not delivered */
	SIO_HTTP_TIMEOUT,  /* timeout_ms passed */
	SIO_HTTP_TOO_BIG,  /* body over max_response */
	SIO_HTTP_PROTOCOL, /* a broken response, closed mid-body */
};

struct sio_http_result {
	enum sio_http_failure failure;
	int status;       /* HTTP status when failure is OK, else 0 */
	const char *body; /* the response body (NUL-terminated), "" */
	size_t len;
	const char *err; /* a short reason for logs, "" when OK */
};

struct sio_http_client;

/* A client on lws context ctx (a vhost of its own, listening nowhere, is
 * added to it; the caller runs the context's loop) or, ctx NULL, on a
 * context of its own (the caller runs sio_http_client_service()). At
 * most max_inflight requests at once. NULL with err on failure. */
struct sio_http_client *sio_http_client_new(struct lws_context *ctx,
                                            int max_inflight, char *err);
/* Cancels every request in flight (their done is called with
 * SIO_HTTP_CONNECT, err "cancelled") and frees c; an own context is
 * destroyed. */
void sio_http_client_free(struct sio_http_client *c);

/* Starts a POST of body (copied) with extra headers (name/value pairs,
 * nheaders pairs; Content-Type, Content-Length, Host and User-Agent are
 * the client's) to t. done is called exactly once, from the loop (never
 * from inside sio_http_post()), with the result, valid during the call.
 * SIO_OK; SIO_FULL when max_inflight requests are in flight (nothing
 * started); SIO_ERR. */
int sio_http_post(struct sio_http_client *c, const struct sio_http_target *t,
                  const char *const *headers, size_t nheaders, const char *body,
                  size_t len, long timeout_ms, size_t max_response,
                  void (*done)(void *udata, const struct sio_http_result *r),
                  void *udata);

/* Requests in flight. */
int sio_http_client_busy(const struct sio_http_client *c);

/* Own context only: services it for at most timeout_ms (0: what is ready).
 * SIO_OK or SIO_ERR. */
int sio_http_client_service(struct sio_http_client *c, int timeout_ms);

/* Own context only, any thread: makes a sio_http_client_service() in
 * progress return soon (lws_cancel_service). */
void sio_http_client_wake(struct sio_http_client *c);

/* A blocking POST on a context of its own, for the one caller that must
 * wait (the handshake's open in bridge_open = wait): the result is
 * copied into *r (r->body malloc'ed, the caller frees it with
 * sio_http_result_free()). SIO_OK (r filled, look at r->failure) or
 * SIO_ERR. */
int sio_http_post_wait(const struct sio_http_target *t,
                       const char *const *headers, size_t nheaders,
                       const char *body, size_t len, long timeout_ms,
                       size_t max_response, struct sio_http_result *r);
void sio_http_result_free(struct sio_http_result *r);

#endif
