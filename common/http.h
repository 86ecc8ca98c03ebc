/*
 * http.h: the values of two HTTP request headers that choose what a
 * static response carries: Accept-Encoding (RFC 9110 12.5.3) and
 * If-None-Match (RFC 9110 13.1.2). Pure functions over the header's text,
 * as the web server passes it (HTTP_ACCEPT_ENCODING, HTTP_IF_NONE_MATCH).
 */
#ifndef SIO_HTTP_H
#define SIO_HTTP_H

/*
 * Whether an Accept-Encoding value takes coding (a lowercase token such as
 * "gzip"): listed by name (case-insensitive; "x-gzip" counts as "gzip") or
 * matched by "*", with a q-value above 0. 0 when header is NULL or says
 * nothing of it; a malformed element is skipped.
 */
int sio_http_accepts(const char *header, const char *coding);

/*
 * Whether an If-None-Match value matches etag (a quoted entity tag,
 * "\"...\""): "*", or etag in its list, compared weakly (a W/ prefix is
 * ignored). 0 when header is NULL.
 */
int sio_http_etag_match(const char *header, const char *etag);

#endif
