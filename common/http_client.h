/*
 * http_client.h: the bridge's HTTP client (bridge.h): POSTs to one
 * application URL over libwebsockets' own HTTP/1.1 client, never waiting:
 * a request is sockets and timers of the client's own lws context, served
 * by the thread that runs it, and its answer comes to a callback from
 * that loop. Plain http only, on this machine or the LAN;
 * a name is resolved once, when the URL is parsed, so that the loop never
 * waits on DNS.
 */
#ifndef SIO_HTTP_CLIENT_H
#define SIO_HTTP_CLIENT_H

#include <stddef.h>

#include "siogate.h"

/* Where requests go: a URL parsed and resolved once. */
struct sio_http_target {
	char host[256];  /* the Host header ("localhost:8080") */
	char addr[256];  /* what lws connects to: an IP literal, or "+/path" */
	int port;        /* 0 for a unix socket */
	char path[1024]; /* "/app.php?x=1" */
	int unix_socket;
};

/*
 * Parses url: "http://HOST[:PORT][/PATH]" (HOST a name, an IPv4 or a
 * [IPv6]; a name resolved here, with getaddrinfo) or
 * "http://unix:/ABS/PATH.sock:/URLPATH" (nginx's form). No https, no
 * userinfo, no fragment. SIO_OK, or SIO_ERR with the reason in err.
 */
int sio_http_target_parse(const char *url, struct sio_http_target *t,
                          char *err);

enum sio_http_failure {
	SIO_HTTP_OK = 0,   /* a complete response (any status) */
	SIO_HTTP_CONNECT,  /* no connection, or closed before any response
	                      byte: the request did not reach the application */
	SIO_HTTP_TIMEOUT,  /* the time given passed */
	SIO_HTTP_TOO_BIG,  /* a body over the size given */
	SIO_HTTP_PROTOCOL, /* a broken response, closed mid-body */
};

struct sio_http_result {
	enum sio_http_failure failure;
	int status;       /* the HTTP status when failure is SIO_HTTP_OK */
	const char *body; /* the response body, NUL-terminated ("" none) */
	size_t len;
	const char *err; /* a short reason for the log, "" when OK */
};

struct sio_http_client;

/* A client on an lws context of its own (the caller runs
 * sio_http_client_service()), at most max_inflight requests at once. NULL
 * with err on failure. */
struct sio_http_client *sio_http_client_new(int max_inflight, char *err);
/* Cancels every request in flight (their done gets SIO_HTTP_CONNECT,
 * "cancelled") and frees c. */
void sio_http_client_free(struct sio_http_client *c);

/*
 * Starts a POST of body (copied), Content-Type application/json, with
 * extra headers (nheaders name/value pairs), to t. done is called exactly
 * once, from the loop, never from inside this call, with the result
 * (valid during the call). SIO_OK; SIO_FULL when max_inflight requests
 * are in flight (nothing started); SIO_ERR.
 */
int sio_http_post(struct sio_http_client *c, const struct sio_http_target *t,
                  const char *const *headers, size_t nheaders,
                  const char *body, size_t len, long timeout_ms,
                  size_t max_response,
                  void (*done)(void *udata, const struct sio_http_result *r),
                  void *udata);

/* Requests in flight. */
int sio_http_client_busy(const struct sio_http_client *c);

/* Serves the client's context for at most timeout_ms. SIO_OK or SIO_ERR. */
int sio_http_client_service(struct sio_http_client *c, int timeout_ms);

/* Any thread: a sio_http_client_service() in progress returns soon. */
void sio_http_client_wake(struct sio_http_client *c);

#endif
