/*
 * test_route.c: the two routers, as tables. The gateway's
 * (gateway/route.c), REQUEST_URI to a route: socket.io 0.9's client files
 * by their exact names (and the versioned one), the handshake, transports
 * with their sid and query, the forced disconnect, stats, metrics, health,
 * publish and a protocol other than 1; every static name cut short is
 * some other route. sio-wsd's (wsd/route.c), an upgrade's path to a transport
 * and a sid under the configured resource and transports, and its health path;
 * the two agree on every websocket and flashsocket path.
 */
#include <string.h>

#include "config.h"
#include "cu.h"
#include "gateway.h"
#include "wsd.h"

/* wsd_route() reads the resource and the transports of sio-wsd's config
 * (wsd/main.c defines it in the program). */
struct wsd_server wsd;

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
    {"/socket.io/static/flashsocket/WebSocketMainInsecure.swf", GW_ROUTE_STATIC,
     GW_STATIC_SWF_INSECURE, 0},
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

/* The sid, the transport and the query of the routes that carry them. */
struct sid_case {
	const char *uri;
	enum gw_route_kind kind;
	int transport;
	const char *sid;
	const char *query;
};

static const struct sid_case sid_cases[] = {
    {"/socket.io/1/websocket/abc", GW_ROUTE_TRANSPORT, SIO_TRANSPORT_WEBSOCKET,
     "abc", ""},
    {"/socket.io/1/flashsocket/abc/", GW_ROUTE_TRANSPORT,
     SIO_TRANSPORT_FLASHSOCKET, "abc", ""},
    {"/socket.io/1/htmlfile/abc?i=0", GW_ROUTE_TRANSPORT,
     SIO_TRANSPORT_HTMLFILE, "abc", "i=0"},
    {"/socket.io/1/jsonp-polling/abc?t=1&i=2", GW_ROUTE_TRANSPORT,
     SIO_TRANSPORT_JSONP_POLLING, "abc", "t=1&i=2"},
    {"/socket.io/1/xhr-polling/0123456789abcdefghijkl", GW_ROUTE_TRANSPORT,
     SIO_TRANSPORT_XHR_POLLING, "0123456789abcdefghijkl", ""},
    /* 23 bytes: longer than any sid */
    {"/socket.io/1/xhr-polling/0123456789abcdefghijklm", GW_ROUTE_NOT_FOUND, -1,
     "", ""},
    {"/socket.io/1/xhr-polling/abc/more", GW_ROUTE_NOT_FOUND, -1, "abc", ""},
    {"/socket.io/1/carrier-pigeon/abc", GW_ROUTE_NOT_FOUND, -1, "abc", ""},
    /* the client's sync disconnect: no transport, and with one */
    {"/socket.io/1//abc/?disconnect", GW_ROUTE_DISCONNECT, -1, "abc",
     "disconnect"},
    {"/socket.io/1/xhr-polling/abc?t=1&disconnect=1", GW_ROUTE_DISCONNECT, -1,
     "abc", "t=1&disconnect=1"},
    {"/socket.io/1/xhr-polling/abc?disconnected", GW_ROUTE_TRANSPORT,
     SIO_TRANSPORT_XHR_POLLING, "abc", "disconnected"},
    {"/socket.io/1", GW_ROUTE_HANDSHAKE, -1, "", ""},
    {"/socket.io/health", GW_ROUTE_HEALTH, -1, "", ""},
    {"/socket.io/health?x", GW_ROUTE_HEALTH, -1, "", "x"},
    {"/socket.io/health/", GW_ROUTE_BAD_PROTOCOL, -1, "", ""},
    {"/socket.io/stats/", GW_ROUTE_BAD_PROTOCOL, -1, "", ""},
    {"/socket.io/publish", GW_ROUTE_PUBLISH, -1, "", ""},
    {"/socket.io/publish?x=1", GW_ROUTE_PUBLISH, -1, "", "x=1"},
    {"/socket.io/publish/", GW_ROUTE_BAD_PROTOCOL, -1, "", ""},
    {"/other/publish", GW_ROUTE_NOT_FOUND, -1, "", ""},
    {"/socket.io/0123456789abcdef/", GW_ROUTE_NOT_FOUND, -1, "", ""},
    {"/socket.io", GW_ROUTE_NOT_FOUND, -1, "", ""},
    {"socket.io/1/", GW_ROUTE_NOT_FOUND, -1, "", ""},
    {"/socket.iox/1/", GW_ROUTE_NOT_FOUND, -1, "", ""},
    {"", GW_ROUTE_NOT_FOUND, -1, "", ""},
};

static void
test_sid_table(void)
{
	for (size_t i = 0; i < sizeof(sid_cases) / sizeof(sid_cases[0]); i++) {
		const struct sid_case *c = &sid_cases[i];
		struct gw_route rt;

		gw_route_parse(c->uri, "socket.io", &rt);
		if (rt.kind != c->kind || rt.transport != c->transport)
			fprintf(stderr, "\n%s: kind %d transport %d\n", c->uri,
			        (int)rt.kind, rt.transport);
		CU_ASSERT_EQUAL(rt.kind, c->kind);
		CU_ASSERT_EQUAL(rt.transport, c->transport);
		CU_ASSERT_STRING_EQUAL(rt.query, c->query);
		if (c->kind == GW_ROUTE_TRANSPORT ||
		    c->kind == GW_ROUTE_DISCONNECT)
			CU_ASSERT_STRING_EQUAL(rt.sid, c->sid);
	}
}

/* --- sio-wsd's router ---------------------------------------------------- */

struct wsd_case {
	const char *path;
	int transport; /* -1: no route */
	const char *sid;
};

static const struct wsd_case wsd_cases[] = {
    {"/socket.io/1/websocket/abc", SIO_TRANSPORT_WEBSOCKET, "abc"},
    {"/socket.io/1/websocket/abc/", SIO_TRANSPORT_WEBSOCKET, "abc"},
    {"/socket.io/1/flashsocket/abc", SIO_TRANSPORT_FLASHSOCKET, "abc"},
    {"/socket.io/1/websocket/0123456789abcdefghijkl", SIO_TRANSPORT_WEBSOCKET,
     "0123456789abcdefghijkl"},
    {"/socket.io/1/websocket/0123456789abcdefghijklm", -1, NULL},
    {"/socket.io/1/websocket/", -1, NULL},
    {"/socket.io/1/websocket//", -1, NULL},
    {"/socket.io/1/websocket/abc//", -1, NULL},
    {"/socket.io/1/websocket/abc/x", -1, NULL},
    {"/socket.io/1/websocket", -1, NULL},
    /* the polling transports are the gateway's */
    {"/socket.io/1/xhr-polling/abc", -1, NULL},
    {"/socket.io/1/htmlfile/abc", -1, NULL},
    {"/socket.io/1/Websocket/abc", -1, NULL},
    {"/socket.io/2/websocket/abc", -1, NULL},
    {"/socket.io//websocket/abc", -1, NULL},
    {"/other/1/websocket/abc", -1, NULL},
    {"/socket.iox/1/websocket/abc", -1, NULL},
    {"socket.io/1/websocket/abc", -1, NULL},
    {"", -1, NULL},
};

/* The defaults with every transport on (flashsocket is off by default,
 * as in socket.io 0.9). */
static void
wsd_setup(void)
{
	char err[SIO_ERR_LEN];

	sio_config_defaults(&wsd.cfg);
	CU_ASSERT_FATAL(sio_config_set(&wsd.cfg, "transports",
	                               "websocket,flashsocket,htmlfile,"
	                               "xhr-polling,jsonp-polling",
	                               err) == SIO_OK);
}

static void
test_wsd_table(void)
{
	wsd_setup();
	for (size_t i = 0; i < sizeof(wsd_cases) / sizeof(wsd_cases[0]); i++) {
		const struct wsd_case *c = &wsd_cases[i];
		char sid[SIO_SID_LEN + 1] = "";
		int t = wsd_route(c->path, sid);

		if (t != c->transport)
			fprintf(stderr, "\n%s: %d, want %d\n", c->path, t,
			        c->transport);
		CU_ASSERT_EQUAL(t, c->transport);
		if (c->sid != NULL)
			CU_ASSERT_STRING_EQUAL(sid, c->sid);
	}
}

/* A transport the configuration leaves out has no route; the resource is
 * the configured one. */
static void
test_wsd_config(void)
{
	char sid[SIO_SID_LEN + 1], err[SIO_ERR_LEN];

	wsd_setup();
	CU_ASSERT_FATAL(sio_config_set(&wsd.cfg, "transports",
	                               "websocket,xhr-polling", err) == SIO_OK);
	CU_ASSERT_EQUAL(wsd_route("/socket.io/1/websocket/abc", sid),
	                SIO_TRANSPORT_WEBSOCKET);
	CU_ASSERT_EQUAL(wsd_route("/socket.io/1/flashsocket/abc", sid), -1);
	CU_ASSERT_FATAL(sio_config_set(&wsd.cfg, "transports", "xhr-polling",
	                               err) == SIO_OK);
	CU_ASSERT_EQUAL(wsd_route("/socket.io/1/websocket/abc", sid), -1);
	sio_config_defaults(&wsd.cfg);
	CU_ASSERT_EQUAL(wsd_route("/socket.io/1/websocket/abc", sid),
	                SIO_TRANSPORT_WEBSOCKET);
	CU_ASSERT_EQUAL(wsd_route("/socket.io/1/flashsocket/abc", sid), -1);

	wsd_setup();
	CU_ASSERT_FATAL(sio_config_set(&wsd.cfg, "resource", "rt", err) ==
	                SIO_OK);
	CU_ASSERT_EQUAL(wsd_route("/rt/1/websocket/abc", sid),
	                SIO_TRANSPORT_WEBSOCKET);
	CU_ASSERT_STRING_EQUAL(sid, "abc");
	CU_ASSERT_EQUAL(wsd_route("/socket.io/1/websocket/abc", sid), -1);
	CU_ASSERT_EQUAL(wsd_route("/r/1/websocket/abc", sid), -1);
	CU_ASSERT(wsd_route_health("/rt/health"));
	CU_ASSERT(!wsd_route_health("/socket.io/health"));
}

static void
test_wsd_health(void)
{
	wsd_setup();
	CU_ASSERT(wsd_route_health("/socket.io/health"));
	CU_ASSERT(wsd_route_health("/socket.io/health?probe=1"));
	CU_ASSERT(!wsd_route_health("/socket.io/health/"));
	CU_ASSERT(!wsd_route_health("/socket.io/healthy"));
	CU_ASSERT(!wsd_route_health("/socket.io/healt"));
	CU_ASSERT(!wsd_route_health("/socket.io/1/health"));
	CU_ASSERT(!wsd_route_health("socket.io/health"));
	CU_ASSERT(!wsd_route_health(""));
}

/* Every websocket and flashsocket path of either table routes the same
 * way through both: the gateway never answers a path sio-wsd takes with
 * anything but that transport and sid. */
static void
test_routers_agree(void)
{
	wsd_setup();
	for (size_t i = 0; i < sizeof(wsd_cases) / sizeof(wsd_cases[0]); i++) {
		const struct wsd_case *c = &wsd_cases[i];
		char sid[SIO_SID_LEN + 1] = "";
		struct gw_route rt;

		if (wsd_route(c->path, sid) < 0)
			continue;
		gw_route_parse(c->path, "socket.io", &rt);
		CU_ASSERT_EQUAL(rt.kind, GW_ROUTE_TRANSPORT);
		CU_ASSERT_EQUAL(rt.transport, c->transport);
		CU_ASSERT_STRING_EQUAL(rt.sid, sid);
	}
	for (size_t i = 0; i < sizeof(sid_cases) / sizeof(sid_cases[0]); i++) {
		const struct sid_case *c = &sid_cases[i];
		char sid[SIO_SID_LEN + 1] = "";
		size_t n = strcspn(c->uri, "?");
		char path[128];
		int t;

		if (c->kind != GW_ROUTE_TRANSPORT ||
		    (c->transport != SIO_TRANSPORT_WEBSOCKET &&
		     c->transport != SIO_TRANSPORT_FLASHSOCKET))
			continue;
		CU_ASSERT_FATAL(n < sizeof(path));
		memcpy(path, c->uri, n);
		path[n] = '\0';
		t = wsd_route(path, sid);
		CU_ASSERT_EQUAL(t, c->transport);
		CU_ASSERT_STRING_EQUAL(sid, c->sid);
	}
}

static const struct cu_test tests[] = {
    {"route finds socket.io 0.9's client files by their exact names, and "
     "the other routes as before",
     test_table},
    {"route takes no static name cut short for a file", test_truncated},
    {"route looks for the client files under the configured resource",
     test_resource},
    {"route gives the transport, the sid and the query of a session's URI, "
     "and no route for a sid too long or a segment too many",
     test_sid_table},
    {"wsd route takes websocket and flashsocket upgrades with their sid, "
     "nothing else",
     test_wsd_table},
    {"wsd route follows the configured transports and resource",
     test_wsd_config},
    {"wsd route knows its health path exactly", test_wsd_health},
    {"the gateway's and sio-wsd's routers agree on every websocket path",
     test_routers_agree},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("route", tests, NULL, NULL);
}
