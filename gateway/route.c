/*
 * route.c: REQUEST_URI to a route. The web servers disagree on SCRIPT_NAME
 * and PATH_INFO, so only the raw URI is used. The path after the resource
 * is read as socket.io 0.9's regex reads it,
 * ^/([^/]+)/?([^/]+)?/?([^/]+)?/?$, so `/1//SID/` is protocol 1, no
 * transport, id SID (the client's sync disconnect). socket.io 0.9 looks
 * for its client files first (static.js); so does this, by exact name.
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

/* Whether s[0..n) is digits, one or more. */
static int
route_digits(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Whether s[0..n) is "X.Y.Z", each a number (socket.io 0.9's versioned
 * name, \.v\d+\.\d+\.\d+\.js, has any version: it answers its own). */
static int
route_version(const char *s, size_t n)
{
	const char *a = memchr(s, '.', n), *b;

	if (a == NULL ||
	    (b = memchr(a + 1, '.', n - (size_t)(a + 1 - s))) == NULL)
		return 0;
	return route_digits(s, (size_t)(a - s)) &&
	       route_digits(a + 1, (size_t)(b - a - 1)) &&
	       route_digits(b + 1, n - (size_t)(b + 1 - s));
}

/* The client files, by the names socket.io 0.9 serves them under (p..end
 * is the path after "/<resource>/"); 1 with rt filled when one matches.
 * Its substring match (any path containing "/socket.io.v" is the client)
 * is not copied: a fixed list, nothing else. */
static int
route_static(const char *p, const char *end, struct gw_route *rt)
{
	static const struct {
		const char *name;
		int file;
	} names[] = {{"socket.io.js", GW_STATIC_JS},
	             {"socket.io.min.js", GW_STATIC_MIN_JS},
	             {"static/flashsocket/WebSocketMain.swf", GW_STATIC_SWF},
	             {"static/flashsocket/WebSocketMainInsecure.swf",
	              GW_STATIC_SWF_INSECURE}};
	static const char vpre[] = "socket.io.v", bpre[] = "socket.io+";
	size_t n = (size_t)(end - p), vn = sizeof(vpre) - 1;

	rt->file = -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (n == strlen(names[i].name) &&
		    memcmp(p, names[i].name, n) == 0)
			rt->file = names[i].file;
	if (rt->file < 0 && n > vn + 3 && memcmp(p, vpre, vn) == 0 &&
	    memcmp(end - 3, ".js", 3) == 0 &&
	    route_version(p + vn, n - vn - 3)) {
		rt->file = GW_STATIC_JS;
		rt->versioned = 1;
	}
	/* a custom build (socket.io+websocket.js): a route, refused */
	if (rt->file < 0 &&
	    !(n > sizeof(bpre) + 2 && memcmp(p, bpre, sizeof(bpre) - 1) == 0 &&
	      memcmp(end - 3, ".js", 3) == 0 && memchr(p, '/', n) == NULL))
		return 0;
	rt->kind = GW_ROUTE_STATIC;
	return 1;
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
	if (route_static(p, end, rt))
		return;
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
	if (p == end && strcmp(proto, "publish") == 0) {
		rt->kind = GW_ROUTE_PUBLISH;
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
