/*
 * request.c: the request seen by applications (see request.h): parsing of
 * query strings and Cookie headers into name/value lists, selected
 * headers, and the JSON form kept in the store.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "request.h"
#include "text.h"

static const char *const selected_headers[] = {
    "Host",       "Origin",          "Referer",
    "User-Agent", "Accept-Language", "X-Forwarded-For",
    NULL,
};

static int
kv_add(struct sio_request_kv **list, size_t *n, const char *name, size_t nlen,
       const char *value, size_t vlen)
{
	struct sio_request_kv *l;
	char *k, *v;

	l = realloc(*list, (*n + 1) * sizeof(**list));
	if (l == NULL)
		return SIO_ERR;
	*list = l;
	k = strndup(name, nlen);
	v = strndup(value, vlen);
	if (k == NULL || v == NULL) {
		free(k);
		free(v);
		return SIO_ERR;
	}
	l[*n].name = k;
	l[*n].value = v;
	(*n)++;
	return SIO_OK;
}

static void
kv_free(struct sio_request_kv *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(list[i].name);
		free(list[i].value);
	}
	free(list);
}

/* Adds the URL-decoded pair; a badly escaped one is kept as it is. */
static int
arg_add(struct sio_request *r, const char *p, size_t len)
{
	const char *eq = memchr(p, '=', len);
	size_t nlen = eq ? (size_t)(eq - p) : len;
	const char *v = eq ? eq + 1 : p + len;
	size_t vlen = eq ? len - nlen - 1 : 0;
	struct sio_buf k, val;
	int rc;

	if (nlen == 0)
		return SIO_OK;
	sio_buf_init(&k);
	sio_buf_init(&val);
	if (sio_text_url_decode(&k, p, nlen, 1) != SIO_OK) {
		sio_buf_reset(&k);
		sio_buf_append(&k, p, nlen);
	}
	if (sio_text_url_decode(&val, v, vlen, 1) != SIO_OK) {
		sio_buf_reset(&val);
		sio_buf_append(&val, v, vlen);
	}
	rc = kv_add(&r->args, &r->nargs, k.p ? k.p : "", k.len,
	            val.p ? val.p : "", val.len);
	sio_buf_cleanup(&k);
	sio_buf_cleanup(&val);
	return rc;
}

static int
parse_query(struct sio_request *r, const char *q)
{
	while (*q) {
		size_t len = strcspn(q, "&");
		if (arg_add(r, q, len) != SIO_OK)
			return SIO_ERR;
		q += len;
		if (*q == '&')
			q++;
	}
	return SIO_OK;
}

static int
parse_cookies(struct sio_request *r, const char *c)
{
	while (*c) {
		size_t len, nlen, vlen;
		const char *eq, *v;

		c += strspn(c, " \t;");
		len = strcspn(c, ";");
		eq = memchr(c, '=', len);
		if (eq != NULL && eq > c) {
			nlen = (size_t)(eq - c);
			while (nlen > 0 &&
			       (c[nlen - 1] == ' ' || c[nlen - 1] == '\t'))
				nlen--;
			v = eq + 1;
			vlen = len - (size_t)(v - c);
			while (vlen > 0 && (*v == ' ' || *v == '\t'))
				v++, vlen--;
			while (vlen > 0 &&
			       (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
				v++, vlen -= 2;
			if (kv_add(&r->cookies, &r->ncookies, c, nlen, v,
			           vlen) != SIO_OK)
				return SIO_ERR;
		}
		c += len;
	}
	return SIO_OK;
}

int
sio_request_init(struct sio_request *r, const char *remote, const char *query,
                 const char *cookie)
{
	memset(r, 0, sizeof(*r));
	r->remote = strdup(remote ? remote : "");
	r->query = strdup(query ? query : "");
	r->cookie = strdup(cookie ? cookie : "");
	if (r->remote == NULL || r->query == NULL || r->cookie == NULL)
		return SIO_ERR;
	if (parse_query(r, r->query) != SIO_OK)
		return SIO_ERR;
	return parse_cookies(r, r->cookie);
}

void
sio_request_cleanup(struct sio_request *r)
{
	free(r->remote);
	free(r->query);
	free(r->cookie);
	kv_free(r->args, r->nargs);
	kv_free(r->cookies, r->ncookies);
	kv_free(r->headers, r->nheaders);
	memset(r, 0, sizeof(*r));
}

int
sio_request_add_header(struct sio_request *r, const char *name,
                       const char *value)
{
	for (int i = 0; selected_headers[i]; i++)
		if (strcasecmp(name, selected_headers[i]) == 0)
			return kv_add(
			    &r->headers, &r->nheaders, selected_headers[i],
			    strlen(selected_headers[i]), value, strlen(value));
	return SIO_OK;
}

static const char *
kv_find(const struct sio_request_kv *l, size_t n, const char *name, int icase)
{
	for (size_t i = 0; i < n; i++)
		if ((icase ? strcasecmp(l[i].name, name)
		           : strcmp(l[i].name, name)) == 0)
			return l[i].value;
	return NULL;
}

enum request_list { REQUEST_ARGS, REQUEST_COOKIES, REQUEST_HEADERS };

/* Looks name up in one list of req, then of its parents. */
static const char *
request_find(const struct sio_request *req, enum request_list which,
             const char *name)
{
	for (; req; req = req->parent) {
		const char *v;

		if (which == REQUEST_ARGS)
			v = kv_find(req->args, req->nargs, name, 0);
		else if (which == REQUEST_COOKIES)
			v = kv_find(req->cookies, req->ncookies, name, 0);
		else
			v = kv_find(req->headers, req->nheaders, name, 1);
		if (v)
			return v;
	}
	return NULL;
}

const char *
sio_request_arg(const struct sio_request *req, const char *name)
{
	return request_find(req, REQUEST_ARGS, name);
}

const char *
sio_request_cookie(const struct sio_request *req, const char *name)
{
	return request_find(req, REQUEST_COOKIES, name);
}

const char *
sio_request_header(const struct sio_request *req, const char *name)
{
	return request_find(req, REQUEST_HEADERS, name);
}

const char *
sio_request_remote(const struct sio_request *req)
{
	for (; req; req = req->parent)
		if (req->remote && *req->remote)
			return req->remote;
	return "";
}

/* The kept cookies as a Cookie header value, at most
 * SIO_REQUEST_FIELD_MAX bytes. SIO_OK or SIO_ERR. */
static int
request_kept_cookies(const struct sio_request *r, const struct sio_config *cfg,
                     struct sio_buf *b)
{
	for (size_t i = 0; i < r->ncookies; i++) {
		const struct sio_request_kv *kv = &r->cookies[i];
		size_t nlen = strlen(kv->name), vlen = strlen(kv->value);

		if (cfg != NULL && !sio_config_cookie_kept(cfg, kv->name, nlen))
			continue;
		/* quoted where parsing would change it: it takes one pair of
		 * quotes off, and the blanks outside them */
		int quote =
		    vlen > 0 && (strchr(" \t", kv->value[0]) != NULL ||
		                 strchr(" \t", kv->value[vlen - 1]) != NULL ||
		                 (vlen >= 2 && kv->value[0] == '"' &&
		                  kv->value[vlen - 1] == '"'));

		if (b->len + nlen + vlen + 5 > SIO_REQUEST_FIELD_MAX)
			break;
		if (sio_buf_printf(b, "%s%s=%s%s%s", b->len ? "; " : "",
		                   kv->name, quote ? "\"" : "", kv->value,
		                   quote ? "\"" : "") != SIO_OK)
			return SIO_ERR;
	}
	return SIO_OK;
}

/* s when it fits in a stored request, else "". */
static const char *
request_field(const char *s)
{
	return s != NULL && strlen(s) <= SIO_REQUEST_FIELD_MAX ? s : "";
}

char *
sio_request_to_json(const struct sio_request *r, const struct sio_config *cfg)
{
	struct sio_buf c;
	json_t *o, *h;
	char *s = NULL;

	sio_buf_init(&c);
	if (request_kept_cookies(r, cfg, &c) != SIO_OK) {
		sio_buf_cleanup(&c);
		return NULL;
	}
	h = json_object();
	for (size_t i = 0; h && i < r->nheaders; i++)
		if (strlen(r->headers[i].value) <= SIO_REQUEST_FIELD_MAX)
			json_object_set_new(h, r->headers[i].name,
			                    json_string(r->headers[i].value));
	o = json_pack(
	    "{s:s, s:s, s:s, s:o}", "remote", request_field(r->remote), "query",
	    request_field(r->query), "cookie", c.p ? c.p : "", "headers", h);
	if (o != NULL)
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	sio_buf_cleanup(&c);
	return s;
}

int
sio_request_from_json(struct sio_request *r, const char *json)
{
	const char *remote = "", *query = "", *cookie = "", *k;
	json_t *o, *h = NULL, *v;
	int rc = SIO_ERR;

	o = json ? json_loads(json, 0, NULL) : NULL;
	if (o == NULL ||
	    json_unpack(o, "{s?s, s?s, s?s, s?o}", "remote", &remote, "query",
	                &query, "cookie", &cookie, "headers", &h) != 0) {
		sio_request_init(r, NULL, NULL, NULL);
		json_decref(o);
		return SIO_ERR;
	}
	rc = sio_request_init(r, remote, query, cookie);
	if (rc == SIO_OK && json_is_object(h)) {
		json_object_foreach(h, k, v)
		{
			if (json_is_string(v) &&
			    sio_request_add_header(
			        r, k, json_string_value(v)) != SIO_OK)
				rc = SIO_ERR;
		}
	}
	json_decref(o);
	return rc;
}
