/*
 * fuzz_route.h: the fuzz target over the two routers: the gateway's
 * REQUEST_URI (gw_route_parse) and sio-wsd's upgrade path (wsd_route).
 * Each route found must be what its URI spells ("/<resource>/1/<transport>
 * /<sid>[/]" and so on), and the two must agree on every websocket and
 * flashsocket path. The input is the URI, to its first NUL. Included by
 * fuzz_body.h only.
 */
#ifndef SIO_FUZZ_ROUTE_H
#define SIO_FUZZ_ROUTE_H

/* wsd_route() reads the transports and the resource of sio-wsd's config. */
struct wsd_server wsd;

/* True when the query has the key (a "key" or "key=..." part). */
static int
fuzz_route_has_key(const char *q, const char *key)
{
	size_t n, klen = strlen(key);

	for (; *q != '\0'; q += n + (q[n] == '&')) {
		n = strcspn(q, "&");
		if (n >= klen && strncmp(q, key, klen) == 0 &&
		    (n == klen || q[klen] == '='))
			return 1;
	}
	return 0;
}

/* True when path[0..len) is "/<resource>/<rest>" or that and a '/'. */
static int
fuzz_route_is(const char *path, size_t len, const char *resource,
              const char *rest, int slash_ok)
{
	char want[512];
	int n;

	n = snprintf(want, sizeof(want), "/%s/%s", resource, rest);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(want));
	if (len == (size_t)n && memcmp(path, want, len) == 0)
		return 1;
	return slash_ok && len == (size_t)n + 1 &&
	       memcmp(path, want, (size_t)n) == 0 && path[n] == '/';
}

/* The gateway's route of uri: what each kind promises. */
static void
fuzz_route_gw(const char *uri, const char *resource, struct gw_route *rt)
{
	const char *q = strchr(uri, '?'), *name;
	size_t len = q != NULL ? (size_t)(q - uri) : strlen(uri);
	char rest[128];

	gw_route_parse(uri, resource, rt);
	FUZZ_CHECK(rt->kind >= GW_ROUTE_NOT_FOUND &&
	           rt->kind <= GW_ROUTE_PUBLISH);
	FUZZ_CHECK(q != NULL ? rt->query == q + 1 : *rt->query == '\0');
	FUZZ_CHECK(strlen(rt->sid) <= SIO_SID_LEN &&
	           strchr(rt->sid, '/') == NULL &&
	           strchr(rt->sid, '?') == NULL);
	FUZZ_CHECK((rt->transport >= 0) == (rt->kind == GW_ROUTE_TRANSPORT));
	switch (rt->kind) {
	case GW_ROUTE_TRANSPORT:
		FUZZ_CHECK(rt->transport < SIO_TRANSPORT_COUNT);
		name = sio_config_transport_name(rt->transport);
		snprintf(rest, sizeof(rest), "1/%s/%s", name, rt->sid);
		FUZZ_CHECK(rt->sid[0] != '\0' &&
		           fuzz_route_is(uri, len, resource, rest, 1));
		FUZZ_CHECK(!fuzz_route_has_key(rt->query, "disconnect"));
		break;
	case GW_ROUTE_DISCONNECT:
		FUZZ_CHECK(rt->sid[0] != '\0');
		FUZZ_CHECK(fuzz_route_has_key(rt->query, "disconnect"));
		snprintf(rest, sizeof(rest), "/%s", rt->sid);
		FUZZ_CHECK(memmem(uri, len, rest, strlen(rest)) != NULL);
		break;
	case GW_ROUTE_HANDSHAKE:
		FUZZ_CHECK(rt->sid[0] == '\0');
		FUZZ_CHECK(fuzz_route_is(uri, len, resource, "1", 1) ||
		           (len > strlen(resource) + 4 &&
		            fuzz_route_is(uri, strlen(resource) + 4, resource,
		                          "1/", 0)));
		break;
	case GW_ROUTE_STATS:
		FUZZ_CHECK(fuzz_route_is(uri, len, resource, "stats", 0));
		break;
	case GW_ROUTE_METRICS:
		FUZZ_CHECK(fuzz_route_is(uri, len, resource, "metrics", 0));
		break;
	case GW_ROUTE_HEALTH:
		FUZZ_CHECK(fuzz_route_is(uri, len, resource, "health", 0));
		break;
	case GW_ROUTE_PUBLISH:
		FUZZ_CHECK(fuzz_route_is(uri, len, resource, "publish", 0));
		break;
	case GW_ROUTE_BAD_PROTOCOL:
		FUZZ_CHECK(len > strlen(resource) + 2 && uri[0] == '/' &&
		           strncmp(uri + 1, resource, strlen(resource)) == 0 &&
		           uri[1 + strlen(resource)] == '/');
		FUZZ_CHECK(!fuzz_route_is(uri, len, resource, "1", 1));
		break;
	case GW_ROUTE_STATIC:
		/* a name of the client, no further segment, no sid */
		FUZZ_CHECK(rt->file >= -1 && rt->file < GW_STATIC_COUNT);
		FUZZ_CHECK(rt->sid[0] == '\0');
		FUZZ_CHECK(len > strlen(resource) + 2 && uri[0] == '/' &&
		           strncmp(uri + 1, resource, strlen(resource)) == 0 &&
		           uri[1 + strlen(resource)] == '/');
		name = uri + strlen(resource) + 2;
		FUZZ_CHECK(rt->file == GW_STATIC_SWF ||
		           rt->file == GW_STATIC_SWF_INSECURE ||
		           memchr(name, '/', len - (size_t)(name - uri)) ==
		               NULL);
		FUZZ_CHECK(!rt->versioned || rt->file == GW_STATIC_JS);
		break;
	case GW_ROUTE_NOT_FOUND:
		break;
	}
}

/* sio-wsd's route of a path without query: the gateway's, for the two
 * transports sio-wsd serves. */
static void
fuzz_route_wsd(const char *path, const struct gw_route *rt)
{
	char sid[SIO_SID_LEN + 1];
	int t;

	memset(sid, 'x', sizeof(sid));
	t = wsd_route(path, sid);
	FUZZ_CHECK(t == -1 || t == SIO_TRANSPORT_WEBSOCKET ||
	           t == SIO_TRANSPORT_FLASHSOCKET);
	if (t < 0) {
		FUZZ_CHECK(rt->kind != GW_ROUTE_TRANSPORT ||
		           (rt->transport != SIO_TRANSPORT_WEBSOCKET &&
		            rt->transport != SIO_TRANSPORT_FLASHSOCKET));
		return;
	}
	FUZZ_CHECK(rt->kind == GW_ROUTE_TRANSPORT && rt->transport == t);
	FUZZ_CHECK(memchr(sid, '\0', sizeof(sid)) != NULL &&
	           strcmp(sid, rt->sid) == 0);
}

static void
fuzz_route(const uint8_t *data, size_t size)
{
	static const char *const resources[] = {"socket.io", "s"};
	static int ready;
	struct gw_route rt;
	char err[SIO_ERR_LEN];
	char *uri = fuzz_cstr(data, size);
	size_t k;

	for (k = 0; k < sizeof(resources) / sizeof(resources[0]); k++) {
		if (!ready) {
			sio_config_defaults(&wsd.cfg);
			FUZZ_CHECK(
			    sio_config_set(&wsd.cfg, "transports",
			                   "websocket,flashsocket,htmlfile,"
			                   "xhr-polling,jsonp-polling",
			                   err) == SIO_OK);
		}
		FUZZ_CHECK(sio_config_set(&wsd.cfg, "resource", resources[k],
		                          err) == SIO_OK);
		fuzz_route_gw(uri, resources[k], &rt);
		if (strchr(uri, '?') == NULL)
			fuzz_route_wsd(uri, &rt);
		ready = 1;
	}
	free(uri);
}

#endif
