/*
 * request.h: what an application learns about the request that opened a
 * session or an endpoint: remote address, query arguments, cookies and a
 * few selected headers. Transports build one with sio_request_init() from
 * the raw strings; the store keeps it as JSON so that any process can give
 * it to a later callback.
 */
#ifndef SIO_REQUEST_H
#define SIO_REQUEST_H

#include <stddef.h>

#include "siogate.h"

struct sio_request_kv {
	char *name;
	char *value;
};

struct sio_request {
	char *remote;
	char *query;  /* raw, as received */
	char *cookie; /* raw Cookie header */
	struct sio_request_kv *args, *cookies, *headers;
	size_t nargs, ncookies, nheaders;
	const struct sio_request *parent; /* consulted when a name is absent */
};

/*
 * Initialises r from the remote address, the raw query string (without
 * '?') and the raw Cookie header; each may be NULL. Malformed query escapes
 * are kept literally. SIO_OK or SIO_ERR (out of memory). Free with
 * sio_request_cleanup() in both cases.
 */
int sio_request_init(struct sio_request *r, const char *remote,
                     const char *query, const char *cookie);
void sio_request_cleanup(struct sio_request *r);

/*
 * Keeps header name: value when name is one of the selected headers (Host,
 * Origin, Referer, User-Agent, Accept-Language, X-Forwarded-For); others
 * are ignored. SIO_OK or SIO_ERR.
 */
int sio_request_add_header(struct sio_request *r, const char *name,
                           const char *value);

/* Bytes of the query, a header value or the cookies that the stored form
 * of a request keeps: a longer one is left out of it. */
#define SIO_REQUEST_FIELD_MAX 1024

/*
 * The request as a JSON object text, as the store keeps it: with cfg, only
 * the cookies named in cfg->request_cookies; no field longer than
 * SIO_REQUEST_FIELD_MAX (a longer query or header is left out, cookies
 * beyond it are dropped). cfg NULL keeps every cookie. Caller frees with
 * free(). NULL on failure.
 */
struct sio_config;
char *sio_request_to_json(const struct sio_request *r,
                          const struct sio_config *cfg);

/* Initialises r from sio_request_to_json() output; SIO_ERR when the text is
 * not such an object (r is then empty but valid). Free with cleanup. */
int sio_request_from_json(struct sio_request *r, const char *json);

#endif
