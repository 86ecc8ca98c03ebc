/*
 * test_route.c: the gateway's router (gateway/route.c), REQUEST_URI to a
 * route, as a table: socket.io 0.9's client files by their exact names
 * (and the versioned one), the handshake, transports, the forced
 * disconnect, stats and a protocol other than 1. Every static name cut
 * short is some other route.
 */
#include <string.h>

#include "cu.h"
#include "gateway.h"

struct route_case {
	const char *uri;
	enum gw_route_kind kind;
	int file; /* GW_ROUTE_STATIC: the file, -1 a custom build */
	int versioned;
};

static const struct route_case route_cases[] = {
    {"/socket.io/socket.io.js", GW_ROUTE_STATIC, GW_STATIC_JS, 0},
    {"/socket.io/socket.io.js?v=3", GW_ROUTE_STATIC, GW_STATIC_JS, 0},
    {"/socket.io/socket.io.min.js", GW_ROUTE_STATIC, GW_STATIC_MIN_JS, 0},
    {"/socket.io/socket.io.v0.9.16.js", GW_ROUTE_STATIC, GW_STATIC_JS, 1},
    {"/socket.io/socket.io.v0.9.0.js", GW_ROUTE_STATIC, GW_STATIC_JS, 1},
    {"/socket.io/socket.io.v10.20.300.js", GW_ROUTE_STATIC, GW_STATIC_JS, 1},
    {"/socket.io/static/flashsocket/WebSocketMain.swf", GW_ROUTE_STATIC,
     GW_STATIC_SWF, 0},
    {"/socket.io/static/flashsocket/WebSocketMainInsecure.swf",
     GW_ROUTE_STATIC, GW_STATIC_SWF_INSECURE, 0},
    {"/socket.io/socket.io+websocket.js", GW_ROUTE_STATIC, -1, 0},
    {"/socket.io/socket.io+xhr-polling+websocket.v0.9.16.js", GW_ROUTE_STATIC,
     -1, 0},
    /* socket.io 0.9 matches "/socket.io.v" anywhere; a fixed list here
     * (a first segment over 15 bytes is no protocol: not found) */
    {"/socket.io/socket.io.v1.js", GW_ROUTE_BAD_PROTOCOL, 0, 0},
    {"/socket.io/socket.io.v0.9.x.js", GW_ROUTE_NOT_FOUND, 0, 0},
    {"/socket.io/socket.io.v0..16.js", GW_ROUTE_NOT_FOUND, 0, 0},
    {"/socket.io/socket.io.v0.9.16", GW_ROUTE_NOT_FOUND, 0, 0},
    {"/socket.io/x/socket.io.js", GW_ROUTE_BAD_PROTOCOL, 0, 0},
    {"/socket.io/socket.io.js/", GW_ROUTE_BAD_PROTOCOL, 0, 0},
    {"/socket.io/static/flashsocket/../../socket.io.js", GW_ROUTE_BAD_PROTOCOL,
     0, 0},
    {"/socket.io/static/x.swf", GW_ROUTE_BAD_PROTOCOL, 0, 0},
    {"/socket.io/static/flashsocket/WebSocketMain.swf/", GW_ROUTE_BAD_PROTOCOL,
     0, 0},
    {"/socket.io/Socket.io.js", GW_ROUTE_BAD_PROTOCOL, 0, 0},
    {"/socket.io/socket.io+/.js", GW_ROUTE_BAD_PROTOCOL, 0, 0},
    {"/socket.io.js", GW_ROUTE_NOT_FOUND, 0, 0},
    {"/other/socket.io.js", GW_ROUTE_NOT_FOUND, 0, 0},
    /* the routes that were there before */
    {"/socket.io/1/", GW_ROUTE_HANDSHAKE, 0, 0},
    {"/socket.io/1/?t=1", GW_ROUTE_HANDSHAKE, 0, 0},
    {"/socket.io/1/xhr-polling/abc", GW_ROUTE_TRANSPORT, 0, 0},
    {"/socket.io/1/xhr-polling/abc?disconnect", GW_ROUTE_DISCONNECT, 0, 0},
    {"/socket.io/stats", GW_ROUTE_STATS, 0, 0},
    {"/socket.io/metrics", GW_ROUTE_METRICS, 0, 0},
    {"/socket.io/2/", GW_ROUTE_BAD_PROTOCOL, 0, 0},
};

static void
test_table(void)
{
	for (size_t i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]);
	     i++) {
		const struct route_case *c = &route_cases[i];
		struct gw_route rt;

		gw_route_parse(c->uri, "socket.io", &rt);
		if (rt.kind != c->kind)
			fprintf(stderr, "\n%s: kind %d, want %d\n", c->uri,
			        (int)rt.kind, (int)c->kind);
		CU_ASSERT_EQUAL(rt.kind, c->kind);
		if (c->kind != GW_ROUTE_STATIC)
			continue;
		CU_ASSERT_EQUAL(rt.file, c->file);
		CU_ASSERT_EQUAL(rt.versioned, c->versioned);
		CU_ASSERT_EQUAL(rt.transport, -1);
		CU_ASSERT_STRING_EQUAL(rt.sid, "");
	}
}

/* Each static name cut at every length is no static route. */
static void
test_truncated(void)
{
	for (size_t i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]);
	     i++) {
		const struct route_case *c = &route_cases[i];
		char uri[128];
		size_t len = strcspn(c->uri, "?");

		if (c->kind != GW_ROUTE_STATIC)
			continue;
		for (size_t n = 0; n < len; n++) {
			struct gw_route rt;

			memcpy(uri, c->uri, n);
			uri[n] = '\0';
			gw_route_parse(uri, "socket.io", &rt);
			if (rt.kind == GW_ROUTE_STATIC)
				fprintf(stderr, "\n%s: static\n", uri);
			CU_ASSERT_NOT_EQUAL(rt.kind, GW_ROUTE_STATIC);
		}
	}
}

/* The names live under the configured resource, not under socket.io. */
static void
test_resource(void)
{
	struct gw_route rt;

	gw_route_parse("/rt/socket.io.js", "rt", &rt);
	CU_ASSERT_EQUAL(rt.kind, GW_ROUTE_STATIC);
	CU_ASSERT_EQUAL(rt.file, GW_STATIC_JS);
	gw_route_parse("/rt/static/flashsocket/WebSocketMain.swf", "rt", &rt);
	CU_ASSERT_EQUAL(rt.kind, GW_ROUTE_STATIC);
	CU_ASSERT_EQUAL(rt.file, GW_STATIC_SWF);
	gw_route_parse("/socket.io/socket.io.js", "rt", &rt);
	CU_ASSERT_EQUAL(rt.kind, GW_ROUTE_NOT_FOUND);
}

static const struct cu_test tests[] = {
    {"route finds socket.io 0.9's client files by their exact names, and "
     "the other routes as before",
     test_table},
    {"route takes no static name cut short for a file", test_truncated},
    {"route looks for the client files under the configured resource",
     test_resource},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("route", tests, NULL, NULL);
}
