/*
 * route.c: REQUEST_URI to a route. The web servers disagree on SCRIPT_NAME
 * and PATH_INFO, so only the raw URI is used. The path after the resource
 * is read as socket.io 0.9's regex reads it,
 * ^/([^/]+)/?([^/]+)?/?([^/]+)?/?$, so `/1//SID/` is protocol 1, no
 * transport, id SID (the client's sync disconnect).
 */
#include <string.h>

#include "gateway.h"

/* Copies the segment at *p (up to '/' or the end) into out; advances. */
static size_t
route_segment(const char **p, const char *end, char *out, size_t size)
{
	const char *s = *p;
	size_t n = 0;

	while (s + n < end && s[n] != '/')
		n++;
	*p = s + n;
	if (n >= size)
		return (size_t)-1;
	memcpy(out, s, n);
	out[n] = '\0';
	return n;
}

static int
route_has_key(const char *query, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = query; *p != '\0';) {
		size_t n = strcspn(p, "&");
		if (n >= klen && strncmp(p, key, klen) == 0 &&
		    (n == klen || p[klen] == '='))
			return 1;
		p += n;
		if (*p == '&')
			p++;
	}
	return 0;
}

void
gw_route_parse(const char *uri, const char *resource, struct gw_route *rt)
{
	char proto[16], transport[32];
	const char *q = strchr(uri, '?'), *end, *p = uri;
	size_t rlen = strlen(resource);

	memset(rt, 0, sizeof(*rt));
	rt->transport = -1;
	rt->query = q != NULL ? q + 1 : "";
	end = q != NULL ? q : uri + strlen(uri);
	if (*p++ != '/' || (size_t)(end - p) < rlen ||
	    strncmp(p, resource, rlen) != 0 || p[rlen] != '/')
		return;
	p += rlen + 1;
	if (route_segment(&p, end, proto, sizeof(proto)) == (size_t)-1 ||
	    proto[0] == '\0')
		return;
	if (p == end && strcmp(proto, "stats") == 0) {
		rt->kind = GW_ROUTE_STATS;
		return;
	}
	if (p == end && strcmp(proto, "metrics") == 0) {
		rt->kind = GW_ROUTE_METRICS;
		return;
	}
	if (p == end && strcmp(proto, "health") == 0) {
		rt->kind = GW_ROUTE_HEALTH;
		return;
	}
	if (strcmp(proto, "1") != 0) {
		rt->kind = GW_ROUTE_BAD_PROTOCOL;
		return;
	}
	transport[0] = '\0';
	if (p < end)
		p++; /* the '/' after the protocol */
	if (p < end && *p != '/' &&
	    route_segment(&p, end, transport, sizeof(transport)) == (size_t)-1)
		return;
	if (p < end)
		p++;
	if (route_segment(&p, end, rt->sid, sizeof(rt->sid)) == (size_t)-1)
		return;
	if (p < end && *p == '/')
		p++;
	if (p != end)
		return; /* more segments than the regex allows */
	if (rt->sid[0] == '\0') {
		rt->kind = GW_ROUTE_HANDSHAKE;
		return;
	}
	if (route_has_key(rt->query, "disconnect")) {
		rt->kind = GW_ROUTE_DISCONNECT;
		return;
	}
	rt->transport = sio_config_transport_parse(transport);
	if (rt->transport >= 0)
		rt->kind = GW_ROUTE_TRANSPORT;
}
