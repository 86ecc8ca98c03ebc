/*
 * fuzz_request.h: the fuzz target over what sio_request reads from a
 * client: the query string and the Cookie header (split into arguments
 * and cookies), the selected headers, and the JSON kept in the store,
 * which must come back the same through any process. The input is NUL-
 * separated: remote address, query, Cookie, then header names and
 * values; the whole input, to its first NUL, is also read as a stored
 * request. Included by fuzz_body.h only.
 */
#ifndef SIO_FUZZ_REQUEST_H
#define SIO_FUZZ_REQUEST_H

#define FUZZ_REQUEST_PARTS 16

/* The query's arguments: one per '&' part with a name, in order. */
static void
fuzz_request_args(const struct sio_request *r)
{
	const char *q = r->query;
	size_t n, want = 0;

	for (; *q != '\0'; q += n + (q[n] == '&')) {
		n = strcspn(q, "&");
		want += n > 0 && q[0] != '=';
	}
	FUZZ_CHECK(r->nargs == want);
	if (r->nargs > 0)
		FUZZ_CHECK(sio_request_arg(r, r->args[0].name) ==
		           r->args[0].value);
}

/* Cookies: named, no ';' anywhere, names without '=' or outer blanks. */
static void
fuzz_request_cookies(const struct sio_request *r)
{
	const struct sio_request_kv *kv;
	size_t k, n;

	FUZZ_CHECK(r->ncookies <= strlen(r->cookie));
	for (k = 0; k < r->ncookies; k++) {
		kv = &r->cookies[k];
		n = strlen(kv->name);
		FUZZ_CHECK(n > 0 && strpbrk(kv->name, ";=") == NULL);
		FUZZ_CHECK(strchr(" \t", kv->name[0]) == NULL &&
		           strchr(" \t", kv->name[n - 1]) == NULL);
		FUZZ_CHECK(strchr(kv->value, ';') == NULL);
		FUZZ_CHECK(strstr(r->cookie, kv->name) != NULL &&
		           strstr(r->cookie, kv->value) != NULL);
	}
	if (r->ncookies > 0)
		FUZZ_CHECK(sio_request_cookie(r, r->cookies[0].name) ==
		           r->cookies[0].value);
}

/* A field of the stored form: itself, or "" beyond
 * SIO_REQUEST_FIELD_MAX. */
static const char *
fuzz_request_kept(const char *v)
{
	return strlen(v) <= SIO_REQUEST_FIELD_MAX ? v : "";
}

/* The most the stored form's cookies can take: each "; name=\"value\"". */
static size_t
fuzz_request_cookies_len(const struct sio_request *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->ncookies; i++)
		n += strlen(r->cookies[i].name) + strlen(r->cookies[i].value) +
		     5;
	return n;
}

/* The stored form (every cookie kept): what is read back stores the same
 * again, and no field is longer than SIO_REQUEST_FIELD_MAX. */
static void
fuzz_request_stored(const struct sio_request *r)
{
	struct sio_request back;
	char *json, *again;
	int qkept = strlen(r->query) <= SIO_REQUEST_FIELD_MAX;
	int ckept = strlen(r->cookie) <= SIO_REQUEST_FIELD_MAX;

	json = sio_request_to_json(r, NULL);
	if (json == NULL)
		return; /* not UTF-8: the session keeps no request */
	FUZZ_CHECK(sio_request_from_json(&back, json) == SIO_OK);
	FUZZ_CHECK(strcmp(back.remote, fuzz_request_kept(r->remote)) == 0 &&
	           strcmp(back.query, fuzz_request_kept(r->query)) == 0);
	/* the cookies are stored as "name=value; ...", as parsed */
	FUZZ_CHECK(strlen(back.cookie) <= SIO_REQUEST_FIELD_MAX);
	FUZZ_CHECK(!qkept || back.nargs == r->nargs);
	/* the stored cookies are the first of r's that fit (each is written
	 * again with "; ", so even a short header may not fit whole) */
	FUZZ_CHECK(back.ncookies <= r->ncookies);
	FUZZ_CHECK(!ckept || back.ncookies == r->ncookies ||
	           fuzz_request_cookies_len(r) > SIO_REQUEST_FIELD_MAX);
	for (size_t i = 0; i < back.ncookies; i++)
		FUZZ_CHECK(
		    strcmp(back.cookies[i].name, r->cookies[i].name) == 0 &&
		    strcmp(back.cookies[i].value, r->cookies[i].value) == 0);
	FUZZ_CHECK(back.nheaders <= r->nheaders);
	for (size_t i = 0; i < back.nheaders; i++)
		FUZZ_CHECK(strlen(back.headers[i].value) <=
		           SIO_REQUEST_FIELD_MAX);
	again = sio_request_to_json(&back, NULL);
	FUZZ_CHECK(again != NULL && strcmp(again, json) == 0);
	free(again);
	free(json);
	sio_request_cleanup(&back);
}

/* A request from the wire's raw strings. */
static void
fuzz_request_raw(const uint8_t *data, size_t size)
{
	const char *part[FUZZ_REQUEST_PARTS] = {NULL};
	struct sio_request r;
	char *s = fuzz_cstr(data, size), *p = s;
	size_t n = 0, k;

	while (n < FUZZ_REQUEST_PARTS && p <= s + size) {
		part[n++] = p;
		p += strlen(p) + 1;
	}
	FUZZ_CHECK(sio_request_init(&r, part[0], part[1], part[2]) == SIO_OK);
	FUZZ_CHECK(strcmp(r.query, part[1] ? part[1] : "") == 0 &&
	           strcmp(r.cookie, part[2] ? part[2] : "") == 0);
	for (k = 3; k + 1 < n; k += 2)
		FUZZ_CHECK(sio_request_add_header(&r, part[k], part[k + 1]) ==
		           SIO_OK);
	FUZZ_CHECK(r.nheaders <= (n > 3 ? (n - 3) / 2 : 0));
	fuzz_request_args(&r);
	fuzz_request_cookies(&r);
	fuzz_request_stored(&r);
	sio_request_cleanup(&r);
	free(s);
}

/* A stored request as the store hands it back: refused cleanly, or read
 * into a request that stores the same again. */
static void
fuzz_request_json(const uint8_t *data, size_t size)
{
	struct sio_request r;
	char *s = fuzz_cstr(data, size);

	if (sio_request_from_json(&r, s) != SIO_OK) {
		FUZZ_CHECK(r.nargs == 0 && r.ncookies == 0 && r.nheaders == 0);
	} else {
		fuzz_request_args(&r);
		fuzz_request_cookies(&r);
		fuzz_request_stored(&r);
	}
	sio_request_cleanup(&r);
	free(s);
}

static void
fuzz_request(const uint8_t *data, size_t size)
{
	fuzz_request_raw(data, size);
	fuzz_request_json(data, size);
}

#endif
