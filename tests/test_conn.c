/*
 * test_conn.c: the application API of siogate.h (common/conn.c) as an
 * application calls it. A test app's handlers call one API function each,
 * driven the way every transport drives them: packets go in through
 * sio_session_receive(), and what the API did is read back afterwards
 * from a real store in a temporary directory (the outbox, and the effects
 * a later packet sees: data, rooms). Nothing here calls conn.c's
 * internals, so the suite holds however the engine applies a handler's
 * effects (inside its transaction or after the handler returns).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "cu.h"
#include "fixture.h"
#include "request.h"
#include "session.h"
#include "store.h"

static struct sio_buf closed; /* "<sid-less endpoint>;" per on_close */

/* --- the application ----------------------------------------------------- */

static const char *
arg_str(json_t *args, size_t i)
{
	return json_string_value(json_array_get(args, i));
}

static int
api_who(struct sio_conn *c, json_t *args, json_t *reply)
{
	const struct sio_request *req = sio_conn_request(c);
	const char *q = sio_request_arg(req, "q");

	(void)args;
	json_array_append_new(reply, json_string(sio_conn_sid(c)));
	json_array_append_new(reply, json_string(sio_conn_endpoint(c)));
	json_array_append_new(reply, json_integer(sio_ack_requested(c)));
	json_array_append_new(reply, q ? json_string(q) : json_null());
	json_array_append_new(reply, json_string(sio_request_remote(req)));
	return SIO_OK;
}

static int
api_send(struct sio_conn *c, json_t *args, json_t *reply)
{
	const char *text = arg_str(args, 0);

	json_array_append_new(
	    reply, json_integer(sio_send(c, text, text ? strlen(text) : 0)));
	return SIO_OK;
}

static int
api_send_json(struct sio_conn *c, json_t *args, json_t *reply)
{
	json_array_append_new(
	    reply, json_integer(sio_send_json(c, json_array_get(args, 0))));
	return SIO_OK;
}

/* args: [name, rest...]: emits name with rest. */
static json_t *
rest_of(json_t *args)
{
	json_t *rest = json_array();

	for (size_t i = 1; i < json_array_size(args); i++)
		json_array_append(rest, json_array_get(args, i));
	return rest;
}

static int
api_emit(struct sio_conn *c, json_t *args, json_t *reply)
{
	json_t *rest = rest_of(args);

	json_array_append_new(
	    reply, json_integer(sio_emit(c, arg_str(args, 0), rest)));
	json_decref(rest);
	return SIO_OK;
}

static int
api_emit_ack(struct sio_conn *c, json_t *args, json_t *reply)
{
	json_t *rest = rest_of(args);

	json_array_append_new(reply, json_integer(sio_emit_ack(
	                                 c, "got", arg_str(args, 0), rest)));
	json_decref(rest);
	return SIO_OK;
}

/* The ack of an api_emit_ack event: emits "acked" [name, args, ack]. */
static int
api_got(struct sio_conn *c, const char *name, json_t *args, json_t *ack_args)
{
	json_t *out = json_pack("[sOO]", name, args ? args : json_null(),
	                        ack_args ? ack_args : json_null());
	int rc = sio_emit(c, "acked", out);

	json_decref(out);
	return rc;
}

static int
api_volatile(struct sio_conn *c, json_t *args, json_t *reply)
{
	json_array_append_new(reply,
	                      json_integer(sio_emit_volatile(c, "v", args)));
	return SIO_OK;
}

/* args: [ms]: sends "a", delays by ms, sends "b" and emits "c". */
static int
api_delay(struct sio_conn *c, json_t *args, json_t *reply)
{
	long ms = (long)json_integer_value(json_array_get(args, 0));

	json_array_append_new(reply, json_integer(sio_send(c, "a", 1)));
	json_array_append_new(reply, json_integer(sio_delay(c, ms)));
	json_array_append_new(reply, json_integer(sio_send(c, "b", 1)));
	json_array_append_new(reply, json_integer(sio_emit(c, "c", NULL)));
	return SIO_OK;
}

static int
api_close(struct sio_conn *c, json_t *args, json_t *reply)
{
	(void)args, (void)reply;
	sio_send(c, "bye", 3);
	return sio_close(c);
}

/* args: [key, value or null] */
static int
api_set(struct sio_conn *c, json_t *args, json_t *reply)
{
	json_array_append_new(
	    reply,
	    json_integer(sio_data_set(c, arg_str(args, 0), arg_str(args, 1))));
	return SIO_OK;
}

static int
api_get(struct sio_conn *c, json_t *args, json_t *reply)
{
	char *v = sio_data_get(c, arg_str(args, 0));

	json_array_append_new(reply, v ? json_string(v) : json_null());
	free(v);
	return SIO_OK;
}

/* args: [room] (absent: NULL) */
static int
api_join(struct sio_conn *c, json_t *args, json_t *reply)
{
	json_array_append_new(reply,
	                      json_integer(sio_join(c, arg_str(args, 0))));
	return SIO_OK;
}

static int
api_leave(struct sio_conn *c, json_t *args, json_t *reply)
{
	json_array_append_new(reply,
	                      json_integer(sio_leave(c, arg_str(args, 0))));
	return SIO_OK;
}

/* args: [room or null, exclude_self, text]: broadcast_send; with a fourth
 * argument true, broadcast_emit of event text instead. */
static int
api_bcast(struct sio_conn *c, json_t *args, json_t *reply)
{
	const char *room = arg_str(args, 0), *text = arg_str(args, 2);
	int excl = json_is_true(json_array_get(args, 1)), rc;

	if (json_is_true(json_array_get(args, 3)))
		rc = sio_broadcast_emit(c, room, excl, text, NULL);
	else
		rc = sio_broadcast_send(c, room, excl, text, strlen(text));
	json_array_append_new(reply, json_integer(rc));
	return SIO_OK;
}

static int
api_stats(struct sio_conn *c, json_t *args, json_t *reply)
{
	json_t *out = json_object();

	(void)args;
	json_array_append_new(reply, json_integer(sio_stats(c, out)));
	json_array_append_new(reply, out);
	return SIO_OK;
}

/* args: [n]: n sends; replies [sent, refused with SIO_FULL, others],
 * and keeps the same as "ok,again,other" under the data key "flood" (a
 * reply does not fit in a full queue). */
static int
api_flood(struct sio_conn *c, json_t *args, json_t *reply)
{
	long long n = json_integer_value(json_array_get(args, 0));
	int count[3] = {0, 0, 0};
	char text[64];

	for (long long i = 0; i < n; i++) {
		int rc = sio_send(c, "f", 1);

		count[rc == SIO_OK ? 0 : rc == SIO_FULL ? 1 : 2]++;
	}
	for (int i = 0; i < 3; i++)
		json_array_append_new(reply, json_integer(count[i]));
	snprintf(text, sizeof(text), "%d,%d,%d", count[0], count[1], count[2]);
	return sio_data_set(c, "flood", text);
}

static void
api_on_close(struct sio_conn *c)
{
	sio_buf_printf(&closed, "%s;", sio_conn_endpoint(c));
}

static const struct sio_event_handler api_events[] = {
    {"who", api_who},
    {"send", api_send},
    {"send_json", api_send_json},
    {"emit", api_emit},
    {"emit_ack", api_emit_ack},
    {"volatile", api_volatile},
    {"delay", api_delay},
    {"close", api_close},
    {"set", api_set},
    {"get", api_get},
    {"join", api_join},
    {"leave", api_leave},
    {"bcast", api_bcast},
    {"stats", api_stats},
    {"flood", api_flood},
    {NULL, NULL},
};

static const struct sio_ack_handler api_acks[] = {
    {"got", api_got},
    {NULL, NULL},
};

static const struct sio_app api_root = {
    .endpoint = "",
    .on_close = api_on_close,
    .events = api_events,
    .acks = api_acks,
};
static const struct sio_app api_ep = {
    .endpoint = "/ep",
    .on_close = api_on_close,
    .events = api_events,
    .acks = api_acks,
};
static const struct sio_app *const api_apps[] = {&api_root, &api_ep, NULL};
static const struct sio_plugin api_plugin = {SIO_API_VERSION, "api", api_apps};

/* --- the test transport -------------------------------------------------- */

static void
setup(void)
{
	fixture_setup(&api_plugin);
	sio_buf_init(&closed);
	sio_buf_puts(&closed, "");
}

static void
teardown(void)
{
	fixture_teardown();
	sio_buf_cleanup(&closed);
}

/* Sends event name with args (a JSON array text) asking for a data ack
 * with id 1, and checks that the reply (what the handler appended) is
 * want_reply after the packets want_before. */
static void
call(const char *sid, const char *ep, const char *name, const char *args,
     const char *want_before, const char *want_reply)
{
	char pkt[1024], want[2048];

	snprintf(pkt, sizeof(pkt), "5:1+:%s:{\"name\":\"%s\",\"args\":%s}", ep,
	         name, args);
	CU_ASSERT(feed(sid, pkt) == SIO_OK);
	snprintf(want, sizeof(want), "%s%s6::%s:1+%s", want_before,
	         want_before[0] ? "\n" : "", ep, want_reply);
	EXPECT(sid, want);
}

/* --- the tests ----------------------------------------------------------- */

static void
test_who(void)
{
	char sid[SIO_SID_LEN + 1], want[128];

	open_session(sid, "q=1&x=2");
	snprintf(want, sizeof(want), "[\"%s\",\"\",1,\"1\",\"127.0.0.1\"]",
	         sid);
	call(sid, "", "who", "[]", "", want);
	/* an endpoint's handler sees its own name; its request is the
	 * handshake's (only the endpoint's on_open sees its connect query) */
	CU_ASSERT(feed(sid, "1::/ep?q=3") == SIO_OK);
	EXPECT(sid, "1::/ep");
	CU_ASSERT(feed(sid, "5::/ep:{\"name\":\"who\"}") == SIO_OK);
	EXPECT(sid, "");
	snprintf(want, sizeof(want), "[\"%s\",\"/ep\",1,\"1\",\"127.0.0.1\"]",
	         sid);
	call(sid, "/ep", "who", "[]", "", want);
}

static void
test_send_and_send_json(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	call(sid, "", "send", "[\"h\\u00e9llo: world\"]",
	     "3:::h\xc3\xa9llo: world", "[0]");
	call(sid, "", "send", "[\"\"]", "3:::", "[0]");
	call(sid, "", "send_json", "[{\"a\":[1,null]}]", "4:::{\"a\":[1,null]}",
	     "[0]");
	call(sid, "", "send_json", "[\"s\"]", "4:::\"s\"", "[0]");
	CU_ASSERT(feed(sid, "1::/ep") == SIO_OK);
	EXPECT(sid, "1::/ep");
	call(sid, "/ep", "send", "[\"x\"]", "3::/ep:x", "[0]");
	call(sid, "/ep", "send_json", "[[1]]", "4::/ep:[1]", "[0]");
}

static void
test_emit(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	call(sid, "", "emit", "[\"e\",1,\"two\"]",
	     "5:::{\"name\":\"e\",\"args\":[1,\"two\"]}", "[0]");
	/* no args: no "args" member, as socket.io 0.9 sends it */
	call(sid, "", "emit", "[\"e\"]", "5:::{\"name\":\"e\"}", "[0]");
	/* an event name that is not text: nothing queued */
	call(sid, "", "emit", "[]", "", "[-1]");
	CU_ASSERT(feed(sid, "1::/ep") == SIO_OK);
	EXPECT(sid, "1::/ep");
	call(sid, "/ep", "emit", "[\"e\",{}]",
	     "5::/ep:{\"name\":\"e\",\"args\":[{}]}", "[0]");
}

static void
test_emit_ack_runs_the_named_handler(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	call(sid, "", "emit_ack", "[\"q\",7]",
	     "5:1+::{\"name\":\"q\",\"args\":[7]}", "[0]");
	call(sid, "", "emit_ack", "[\"r\"]", "5:2+::{\"name\":\"r\"}", "[0]");
	/* the client acks the second, then the first */
	CU_ASSERT(feed(sid, "6:::2+[\"ok\"]") == SIO_OK);
	EXPECT(sid, "5:::{\"name\":\"acked\",\"args\":[\"r\",[],[\"ok\"]]}");
	CU_ASSERT(feed(sid, "6:::1+[]") == SIO_OK);
	EXPECT(sid, "5:::{\"name\":\"acked\",\"args\":[\"q\",[7],[]]}");
	/* each is taken once */
	CU_ASSERT(feed(sid, "6:::1+[]") == SIO_OK);
	EXPECT(sid, "");
	/* an ack is taken on the endpoint its event went out on */
	CU_ASSERT(feed(sid, "1::/ep") == SIO_OK);
	EXPECT(sid, "1::/ep");
	call(sid, "/ep", "emit_ack", "[\"s\"]", "5:3+:/ep:{\"name\":\"s\"}",
	     "[0]");
	CU_ASSERT(feed(sid, "6:::3+[]") == SIO_OK);
	EXPECT(sid, "");
	CU_ASSERT(feed(sid, "6::/ep:3+[1]") == SIO_OK);
	EXPECT(sid, "5::/ep:{\"name\":\"acked\",\"args\":[\"s\",[],[1]]}");
}

static void
test_volatile(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	call(sid, "", "volatile", "[1]", "5:::{\"name\":\"v\",\"args\":[1]}",
	     "[0]");
	/* with no transport attached it is dropped, and says SIO_OK */
	CU_ASSERT(sio_session_detach(st, sid, "test", 1, now) == SIO_OK);
	call(sid, "", "volatile", "[2]", "", "[0]");
}

static void
test_delay(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	call(sid, "", "delay", "[300]", "3:::a", "[0,0,0,0]");
	now += 299;
	EXPECT(sid, "");
	now += 1;
	EXPECT(sid, "3:::b\n5:::{\"name\":\"c\"}");
	/* a negative delay is refused; what follows is not delayed */
	call(sid, "", "delay", "[-1]", "3:::a\n3:::b\n5:::{\"name\":\"c\"}",
	     "[0,-1,0,0]");
	/* the delay is the handler's: the next one starts undelayed */
	call(sid, "", "send", "[\"now\"]", "3:::now", "[0]");
}

static void
test_close_endpoint_and_root(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "1::/ep") == SIO_OK);
	EXPECT(sid, "1::/ep");
	/* on an endpoint: that endpoint only, after what the handler sent */
	CU_ASSERT(feed(sid, "5::/ep:{\"name\":\"close\"}") == SIO_OK);
	EXPECT(sid, "3::/ep:bye\n0::/ep");
	CU_ASSERT_STRING_EQUAL(closed.p, "/ep;");
	call(sid, "", "send", "[\"still\"]", "3:::still", "[0]");
	/* on the root: every endpoint's on_close, the root's last, then 0::
	 * alone (the client's endpoints go with its session) */
	CU_ASSERT(feed(sid, "1::/ep") == SIO_OK);
	EXPECT(sid, "1::/ep");
	CU_ASSERT(feed(sid, "5:::{\"name\":\"close\"}") == SIO_OK);
	EXPECT(sid, "3:::bye\n0::");
	CU_ASSERT_STRING_EQUAL(closed.p, "/ep;/ep;;");
	/* the session is over: nothing more runs on it */
	CU_ASSERT(feed(sid, "5:::{\"name\":\"send\",\"args\":[\"x\"]}") !=
	          SIO_OK);
	EXPECT(sid, "");
}

static void
test_data(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];

	open_session(a, NULL);
	open_session(b, NULL);
	call(a, "", "get", "[\"k\"]", "", "[null]");
	call(a, "", "set", "[\"k\",\"v\\u00e9\"]", "", "[0]");
	call(a, "", "get", "[\"k\"]", "", "[\"v\xc3\xa9\"]");
	call(a, "", "set", "[\"k\",\"w\"]", "", "[0]");
	call(a, "", "get", "[\"k\"]", "", "[\"w\"]");
	/* per session, shared by its endpoints */
	call(b, "", "get", "[\"k\"]", "", "[null]");
	CU_ASSERT(feed(a, "1::/ep") == SIO_OK);
	EXPECT(a, "1::/ep");
	call(a, "/ep", "get", "[\"k\"]", "", "[\"w\"]");
	/* NULL deletes */
	call(a, "/ep", "set", "[\"k\",null]", "", "[0]");
	call(a, "", "get", "[\"k\"]", "", "[null]");
}

static void
test_rooms_and_broadcast(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], c[SIO_SID_LEN + 1];

	open_session(a, NULL);
	open_session(b, NULL);
	open_session(c, NULL);
	call(a, "", "join", "[\"r\"]", "", "[0]");
	call(b, "", "join", "[\"r\"]", "", "[0]");
	call(b, "", "join", "[\"r\"]", "", "[0]"); /* twice is once */
	call(c, "", "join", "[]", "", "[-1]");     /* a NULL room */
	/* to the room, the sender included */
	call(a, "", "bcast", "[\"r\",false,\"1\"]", "3:::1", "[0]");
	EXPECT(b, "3:::1");
	EXPECT(c, "");
	/* to the room, the sender excluded */
	call(a, "", "bcast", "[\"r\",true,\"2\"]", "", "[0]");
	EXPECT(b, "3:::2");
	EXPECT(c, "");
	/* to the endpoint: every session on it */
	call(c, "", "bcast", "[null,true,\"3\"]", "", "[0]");
	EXPECT(a, "3:::3");
	EXPECT(b, "3:::3");
	call(c, "", "bcast", "[null,false,\"ev\",true]",
	     "5:::{\"name\":\"ev\"}", "[0]");
	EXPECT(a, "5:::{\"name\":\"ev\"}");
	EXPECT(b, "5:::{\"name\":\"ev\"}");
	/* leave: no longer in the room */
	call(b, "", "leave", "[\"r\"]", "", "[0]");
	call(a, "", "bcast", "[\"r\",false,\"4\"]", "3:::4", "[0]");
	EXPECT(b, "");
	call(b, "", "leave", "[\"r\"]", "", "[0]"); /* not in it: fine */
	call(b, "", "leave", "[]", "", "[-1]");
	/* rooms are per endpoint: the same name on /ep is another room */
	CU_ASSERT(feed(a, "1::/ep") == SIO_OK);
	EXPECT(a, "1::/ep");
	CU_ASSERT(feed(b, "1::/ep") == SIO_OK);
	EXPECT(b, "1::/ep");
	call(b, "/ep", "join", "[\"r\"]", "", "[0]");
	call(a, "/ep", "bcast", "[\"r\",false,\"5\"]", "", "[0]");
	EXPECT(b, "3::/ep:5");
	call(a, "", "bcast", "[\"r\",false,\"6\"]", "3:::6", "[0]");
	EXPECT(b, "");
	/* an endpoint's broadcast reaches only the sessions connected to it */
	call(b, "/ep", "bcast", "[null,false,\"7\"]", "3::/ep:7", "[0]");
	EXPECT(a, "3::/ep:7");
	EXPECT(c, "");
	/* text beyond ASCII arrives as it was sent */
	call(a, "", "bcast", "[null,false,\"\\u00ff\"]", "3:::\xc3\xbf", "[0]");
	EXPECT(b, "3:::\xc3\xbf");
	EXPECT(c, "3:::\xc3\xbf");
}

/* A session that ended is in no room and hears no broadcast. */
static void
test_broadcast_skips_ended_sessions(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];

	open_session(a, NULL);
	open_session(b, NULL);
	call(b, "", "join", "[\"r\"]", "", "[0]");
	CU_ASSERT(feed(b, "5:::{\"name\":\"close\"}") == SIO_OK);
	EXPECT(b, "3:::bye\n0::");
	call(a, "", "bcast", "[\"r\",false,\"x\"]", "", "[0]");
	call(a, "", "bcast", "[null,false,\"y\"]", "3:::y", "[0]");
	EXPECT(b, "");
}

static void
test_stats(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];
	char pkt[] = "5:1+::{\"name\":\"stats\"}";
	json_t *v, *o;
	json_error_t jerr;
	char *got;

	open_session(a, NULL);
	open_session(b, NULL);
	CU_ASSERT(feed(a, pkt) == SIO_OK);
	got = drain(a);
	CU_ASSERT_FATAL(strncmp(got, "6:::1+", 6) == 0);
	v = json_loads(got + 6, 0, &jerr);
	free(got);
	CU_ASSERT_FATAL(json_is_array(v));
	CU_ASSERT_EQUAL(json_integer_value(json_array_get(v, 0)), SIO_OK);
	o = json_array_get(v, 1);
	CU_ASSERT_EQUAL(
	    json_integer_value(json_object_get(o, "active_sessions")), 2);
	CU_ASSERT_EQUAL(
	    json_integer_value(json_object_get(o, "sessions_opened")), 2);
	CU_ASSERT(json_integer_value(json_object_get(o, "peak_sessions")) >= 2);
	CU_ASSERT_EQUAL(
	    json_integer_value(json_object_get(o, "active_connections")), 2);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "time")), now);
	CU_ASSERT(json_integer_value(json_object_get(o, "packets_received")) >=
	          0);
	CU_ASSERT(json_is_number(json_object_get(o, "connections_ps")));
	CU_ASSERT(json_is_number(json_object_get(o, "packets_sent_ps")));
	CU_ASSERT(json_is_number(json_object_get(o, "packets_received_ps")));
	CU_ASSERT(json_is_integer(json_object_get(o, "queued_packets")));
	CU_ASSERT(json_is_integer(json_object_get(o, "connections_opened")));
	CU_ASSERT(json_is_integer(json_object_get(o, "packets_sent")));
	CU_ASSERT(json_is_integer(json_object_get(o, "peak_connections")));
	json_decref(v);
}

/* A full queue drops what does not fit with SIO_FULL, and the session
 * goes on; a pending ack is not kept for an event that was dropped. */
static void
test_queue_full(void)
{
	char sid[SIO_SID_LEN + 1];
	char pkt[] = "5:::{\"name\":\"flood\",\"args\":[5]}";

	sio_store_close(st);
	fixture_open_store(3);
	open_session(sid, NULL);
	CU_ASSERT(feed(sid, pkt) == SIO_OK);
	EXPECT(sid, "3:::f\n3:::f\n3:::f");
	call(sid, "", "flood", "[0]", "", "[0,0,0]");
	/* with the queue full, the reply is what does not fit: fill it */
	CU_ASSERT(feed(sid, "5:::{\"name\":\"flood\",\"args\":[3]}") == SIO_OK);
	CU_ASSERT(feed(sid, "5:::{\"name\":\"emit_ack\",\"args\":[\"q\"]}") ==
	          SIO_OK);
	EXPECT(sid, "3:::f\n3:::f\n3:::f");
	/* the dropped event's ack was never awaited */
	CU_ASSERT(feed(sid, "6:::1+[]") == SIO_OK);
	EXPECT(sid, "");
	/* and the session still runs */
	call(sid, "", "send", "[\"x\"]", "3:::x", "[0]");
}

/* sio_send says SIO_FULL for each packet that did not fit. */
static void
test_flood_counts(void)
{
	char sid[SIO_SID_LEN + 1];

	sio_store_close(st);
	fixture_open_store(4);
	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "5:::{\"name\":\"flood\",\"args\":[6]}") == SIO_OK);
	EXPECT(sid, "3:::f\n3:::f\n3:::f\n3:::f");
	call(sid, "", "get", "[\"flood\"]", "", "[\"4,2,0\"]");
	call(sid, "", "flood", "[2]", "3:::f\n3:::f", "[2,0,0]");
}

static const struct cu_test tests[] = {
    {"a handler knows its sid, endpoint, whether an ack was asked and its "
     "request",
     test_who},
    {"sio_send and sio_send_json queue a message and a json packet on the "
     "handler's endpoint",
     test_send_and_send_json},
    {"sio_emit queues an event on the handler's endpoint", test_emit},
    {"sio_emit_ack asks for an ack and runs the named handler once when it "
     "comes",
     test_emit_ack_runs_the_named_handler},
    {"sio_emit_volatile is dropped without a transport", test_volatile},
    {"sio_delay holds back what the handler queues after it", test_delay},
    {"sio_close ends an endpoint, or on the root the session",
     test_close_endpoint_and_root},
    {"sio_data_set and sio_data_get keep text per session", test_data},
    {"sio_join, sio_leave and the broadcasts reach the room or endpoint",
     test_rooms_and_broadcast},
    {"a broadcast skips sessions that ended",
     test_broadcast_skips_ended_sessions},
    {"sio_stats gives every counter of its contract", test_stats},
    {"a full queue drops with SIO_FULL and keeps no ack", test_queue_full},
    {"a flood stops at the queue's limit", test_flood_counts},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("conn", tests, setup, teardown);
}
