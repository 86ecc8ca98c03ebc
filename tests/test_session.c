/*
 * test_session.c: the session engine and the application API driven by a
 * test transport, like TornadIO2's session tests: packets go in through
 * sio_session_receive() (or its run and apply phases, to see what lies
 * between them) and what the server sends is read back from the session's
 * outbox in a real store. Covers the testapp table, the chat example and
 * the protocol rules that hold on every transport.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "cu.h"
#include "fixture.h"
#include "payload.h"
#include "plugin.h"
#include "request.h"
#include "session.h"
#include "store.h"

static struct sio_buf probe_log; /* what the probe app saw, one per line */

/* --- a probe application ---------------------------------------------- */

static void
probe_note(const char *fmt, const char *a, const char *b)
{
	sio_buf_printf(&probe_log, fmt, a ? a : "(null)", b ? b : "(null)");
	sio_buf_putc(&probe_log, '\n');
}

static int
probe_open(struct sio_conn *c, const struct sio_request *req)
{
	const char *reject = sio_request_arg(req, "reject");

	probe_note("open %s a=%s", sio_conn_endpoint(c),
	           sio_request_arg(req, "a"));
	probe_note("open %s b=%s", sio_conn_endpoint(c),
	           sio_request_arg(req, "b"));
	sio_send(c, "hello", 5);
	if (reject &&
	    strcmp(reject, sio_conn_endpoint(c)[0] ? "ep" : "root") == 0)
		return SIO_REJECT;
	return SIO_OK;
}

static void
probe_close(struct sio_conn *c)
{
	char *bye = sio_data_get(c, "bye");

	probe_note("close %s%s", sio_conn_endpoint(c), "");
	/* its reads still see the session; what it broadcasts lands */
	if (bye != NULL) {
		probe_note("close in a transaction: %s%s",
		           sio_store_in_transaction(st) ? "yes" : "no", "");
		sio_broadcast_send(c, NULL, 1, bye, strlen(bye));
		sio_send(c, "to itself", 9);
		free(bye);
	}
}

static int
probe_fail(struct sio_conn *c, json_t *args, json_t *reply)
{
	(void)c, (void)args, (void)reply;
	return SIO_ERR;
}

static int
probe_volatile(struct sio_conn *c, json_t *args, json_t *reply)
{
	(void)reply;
	return sio_emit_volatile(c, "v", args);
}

/* Emits with an ack and volatile, noting each result code. */
static int
probe_emit_codes(struct sio_conn *c, json_t *args, json_t *reply)
{
	char rc[2][16];

	(void)reply;
	snprintf(rc[0], sizeof(rc[0]), "%d", sio_emit_ack(c, "got", "q", args));
	snprintf(rc[1], sizeof(rc[1]), "%d", sio_emit_volatile(c, "v", args));
	probe_note("emit_ack %s volatile %s", rc[0], rc[1]);
	return SIO_OK;
}

static int
probe_got(struct sio_conn *c, const char *name, json_t *args, json_t *ack_args)
{
	(void)c, (void)args, (void)ack_args;
	probe_note("got the ack of %s%s", name, "");
	return SIO_OK;
}

/* An ack handler with effects: a message and a data write. */
static int
probe_sent(struct sio_conn *c, const char *name, json_t *args, json_t *ack_args)
{
	(void)name, (void)args, (void)ack_args;
	return sio_send(c, "acked", 5) == SIO_OK &&
	               sio_data_set(c, "acked", "1") == SIO_OK
	           ? SIO_OK
	           : SIO_ERR;
}

static const struct sio_ack_handler probe_acks[] = {
    {"got", probe_got},
    {"sent", probe_sent},
    {NULL, NULL},
};

/* Asks the client for an ack handled by "sent". */
static int
probe_ask(struct sio_conn *c, json_t *args, json_t *reply)
{
	(void)reply;
	return sio_emit_ack(c, "sent", "q", args);
}

/*
 * Several writes of every kind, and whether a transaction was open while
 * it ran: data, a room, two messages, a broadcast to the others.
 */
static int
probe_many(struct sio_conn *c, json_t *args, json_t *reply)
{
	(void)args, (void)reply;
	probe_note("many in a transaction: %s%s",
	           sio_store_in_transaction(st) ? "yes" : "no", "");
	if (sio_data_set(c, "k", "v") != SIO_OK || sio_join(c, "r") != SIO_OK ||
	    sio_send(c, "one", 3) != SIO_OK || sio_send(c, "two", 3) != SIO_OK)
		return SIO_ERR;
	return sio_broadcast_send(c, NULL, 1, "all", 3);
}

/* Reads its own writes: set, read, delete, read; replies what it read. */
static int
probe_rw(struct sio_conn *c, json_t *args, json_t *reply)
{
	char *v;

	(void)args;
	if (sio_data_set(c, "rw", "first") != SIO_OK ||
	    sio_data_set(c, "rw", "second") != SIO_OK)
		return SIO_ERR;
	v = sio_data_get(c, "rw");
	json_array_append_new(reply, v ? json_string(v) : json_null());
	free(v);
	if (sio_data_set(c, "rw", NULL) != SIO_OK)
		return SIO_ERR;
	v = sio_data_get(c, "rw");
	json_array_append_new(reply, v ? json_string(v) : json_null());
	free(v);
	return sio_data_set(c, "bye", "gone");
}

static int
probe_data(struct sio_conn *c, json_t *args, json_t *reply)
{
	const char *k = json_string_value(json_array_get(args, 0));
	const char *v = json_string_value(json_array_get(args, 1));
	char *old = sio_data_get(c, k);

	json_array_append_new(reply, old ? json_string(old) : json_null());
	free(old);
	return sio_data_set(c, k, v);
}

/* Sends text that is not UTF-8 every way there is, replies with the result
 * codes, then sends "after". */
static int
probe_bad_text(struct sio_conn *c, json_t *args, json_t *reply)
{
	static const char cut[] = "caf\xc3"; /* "café" cut inside the é */

	(void)args;
	json_array_append_new(reply,
	                      json_integer(sio_send(c, cut, sizeof(cut) - 1)));
	json_array_append_new(
	    reply, json_integer(sio_broadcast_send(c, NULL, 0, "\xff", 1)));
	json_array_append_new(reply, json_integer(sio_emit(c, "x\xc3", NULL)));
	return sio_send(c, "after", 5);
}

static const struct sio_event_handler probe_events[] = {
    {"fail", probe_fail},
    {"bad_text", probe_bad_text},
    {"volatile", probe_volatile},
    {"data", probe_data},
    {"emit_codes", probe_emit_codes},
    {"ask", probe_ask},
    {"many", probe_many},
    {"rw", probe_rw},
    {NULL, NULL},
};

static const struct sio_app probe_root = {
    .endpoint = "",
    .on_open = probe_open,
    .on_close = probe_close,
    .events = probe_events,
    .acks = probe_acks,
};
static const struct sio_app probe_ep = {
    .endpoint = "/test",
    .on_open = probe_open,
    .on_close = probe_close,
    .events = probe_events,
};
static const struct sio_app *const probe_apps[] = {&probe_root, &probe_ep,
                                                   NULL};
static const struct sio_plugin probe_plugin = {SIO_API_VERSION, "probe",
                                               probe_apps};

/* --- the test transport ----------------------------------------------- */

static void
setup(void)
{
	char err[SIO_ERR_LEN];

	fixture_setup(sio_plugin_load("testapp", err));
	sio_buf_init(&probe_log);
}

static void
teardown(void)
{
	fixture_teardown();
	sio_buf_cleanup(&probe_log);
}

static int
state_of(const char *sid)
{
	struct sio_store_session s;
	int state;

	if (sio_store_session_get(st, sid, &s) != SIO_OK)
		return -1;
	state = s.state;
	sio_store_session_cleanup(&s);
	return state;
}

/* --- testapp -------------------------------------------------------------- */

static void
test_message_echo(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "3:::hello: world") == SIO_OK);
	EXPECT(sid, "3:::hello: world");
	CU_ASSERT(feed(sid, "3:::") == SIO_OK);
	EXPECT(sid, "3:::");
}

/* A context that keeps finished runs takes them again, each as new: the
 * second session's run carries nothing of the first's; no more are kept
 * than asked, and the cleanup frees them (the asan suite's leak check). */
static void
test_kept_runs(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];

	open_session(a, NULL);
	open_session(b, NULL);
	x.keep_runs = 1;
	for (int i = 0; i < 3; i++) {
		CU_ASSERT(feed(a, "3:::from a") == SIO_OK);
		CU_ASSERT_EQUAL(x.nspare, 1);
		CU_ASSERT(feed(b, "3:::from b") == SIO_OK);
		EXPECT(a, "3:::from a");
		EXPECT(b, "3:::from b");
	}
	/* a run that ends its session, then one of another session */
	CU_ASSERT(feed(a, "0::") == SIO_OK);
	CU_ASSERT(feed(b, "3:::still b") == SIO_OK);
	EXPECT(b, "3:::still b");
	CU_ASSERT(state_of(a) == SIO_SESSION_CLOSED);
	CU_ASSERT(state_of(b) != SIO_SESSION_CLOSED);
	sio_session_ctx_cleanup(&x);
	CU_ASSERT_EQUAL(x.nspare, 0);
	CU_ASSERT_PTR_NULL(x.spare);
	x.keep_runs = 0;
}

static void
test_json_echo(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "4:::{\"a\":10,\"b\":20}") == SIO_OK);
	EXPECT(sid, "4:::{\"a\":10,\"b\":20}");
}

static void
test_message_auto_ack_and_data_ack(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "3:1::abc") == SIO_OK);
	EXPECT(sid, "6:::1\n3:::abc");
	CU_ASSERT(feed(sid, "3:2+::abc") == SIO_OK);
	EXPECT(sid, "3:::abc\n6:::2+[\"abc\"]");
	CU_ASSERT(feed(sid, "4:3+::{\"k\":[1]}") == SIO_OK);
	EXPECT(sid, "4:::{\"k\":[1]}\n6:::3+[{\"k\":[1]}]");
}

static void
test_event_echo_with_and_without_ack(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "5:1+::{\"name\":\"echo\",\"args\":[\"x\",2]}") ==
	          SIO_OK);
	EXPECT(sid, "6:::1+[\"x\",2]");
	CU_ASSERT(feed(sid, "5:::{\"name\":\"echo\",\"args\":[\"x\",2]}") ==
	          SIO_OK);
	EXPECT(sid, "5:::{\"name\":\"echo\",\"args\":[\"x\",2]}");
	/* a plain id is auto-acked without data, then the event runs */
	CU_ASSERT(feed(sid, "5:7::{\"name\":\"echo\",\"args\":[1]}") == SIO_OK);
	EXPECT(sid, "6:::7\n5:::{\"name\":\"echo\",\"args\":[1]}");
}

static void
test_event_carrying_one_dict(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "5:::{\"name\":\"echo\",\"args\":[{\"a\":10,"
	                    "\"b\":20}]}") == SIO_OK);
	EXPECT(sid, "5:::{\"name\":\"echo\",\"args\":[{\"a\":10,\"b\":20}]}");
}

static void
test_broadcast_reaches_every_session_on_the_endpoint(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], c[SIO_SID_LEN + 1];

	open_session(a, NULL);
	open_session(b, NULL);
	open_session(c, NULL);
	CU_ASSERT(feed(c, "1::/chat") == SIO_OK);
	EXPECT(c, "1::/chat");
	CU_ASSERT(feed(a, "5:1+::{\"name\":\"broadcast\",\"args\":[1]}") ==
	          SIO_OK);
	EXPECT(a, "5:::{\"name\":\"broadcast\",\"args\":[1]}\n6:::1");
	EXPECT(b, "5:::{\"name\":\"broadcast\",\"args\":[1]}");
	EXPECT(c, "5:::{\"name\":\"broadcast\",\"args\":[1]}");
	/* on /chat only the sessions connected to /chat hear it */
	CU_ASSERT(feed(c, "5::/chat:{\"name\":\"broadcast\",\"args\":[2]}") ==
	          SIO_OK);
	EXPECT(c, "5::/chat:{\"name\":\"broadcast\",\"args\":[2]}");
	EXPECT(a, "");
	EXPECT(b, "");
}

static void
test_trigger_emits_count_events_with_index(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "5:4+::{\"name\":\"trigger\",\"args\":[{\"name\":"
	                    "\"t\",\"args\":[\"a\"],\"count\":3}]}") == SIO_OK);
	EXPECT(sid, "5:::{\"name\":\"t\",\"args\":[\"a\",0]}\n"
	            "5:::{\"name\":\"t\",\"args\":[\"a\",1]}\n"
	            "5:::{\"name\":\"t\",\"args\":[\"a\",2]}\n"
	            "6:::4+[3]");
	CU_ASSERT(feed(sid, "5:::{\"name\":\"trigger\"}") == SIO_OK);
	EXPECT(sid, "5:::{\"name\":\"triggered\"}");
}

static void
test_trigger_with_delay_is_delivered_after_the_delay(void)
{
	char sid[SIO_SID_LEN + 1];
	long long due;

	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "5:1+::{\"name\":\"trigger\",\"args\":[{\"delay\":"
	                    "500}]}") == SIO_OK);
	EXPECT(sid, "6:::1+[1]");
	CU_ASSERT(sio_store_outbox_next_due(st, sid, now, &due) == SIO_OK);
	CU_ASSERT(due == now + 500);
	now += 499;
	EXPECT(sid, "");
	now += 1;
	EXPECT(sid, "5:::{\"name\":\"triggered\"}");
	CU_ASSERT(sio_store_outbox_next_due(st, sid, now, &due) == SIO_ABSENT);
}

static void
test_trigger_with_ack_runs_the_ack_handler(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "5:::{\"name\":\"trigger\",\"args\":[{\"ack\":true,"
	                    "\"count\":2}]}") == SIO_OK);
	EXPECT(sid, "5:1+::{\"name\":\"triggered\",\"args\":[0]}\n"
	            "5:2+::{\"name\":\"triggered\",\"args\":[1]}");
	CU_ASSERT(feed(sid, "6:::2+[\"thx\",{\"a+b\":1}]") == SIO_OK);
	EXPECT(sid, "5:::{\"name\":\"acked\",\"args\":[\"thx\",{\"a+b\":1}]}");
	/* an ack is taken once */
	CU_ASSERT(feed(sid, "6:::2+[\"again\"]") == SIO_OK);
	EXPECT(sid, "");
	CU_ASSERT(strstr(x.err, "no pending") != NULL);
	CU_ASSERT(feed(sid, "6:::1") == SIO_OK);
	EXPECT(sid, "5:::{\"name\":\"acked\"}");
}

static void
test_kick_ends_the_session(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "5:::{\"name\":\"kick\"}") == SIO_OK);
	EXPECT(sid, "0::");
	CU_ASSERT(state_of(sid) == SIO_SESSION_CLOSED);
	CU_ASSERT(feed(sid, "3:::late") == SIO_CLOSED);
}

static void
test_kick_on_chat_ends_only_that_endpoint(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "1::/chat") == SIO_OK);
	CU_ASSERT(feed(sid, "5::/chat:{\"name\":\"kick\"}") == SIO_OK);
	EXPECT(sid, "1::/chat\n0::/chat");
	CU_ASSERT(state_of(sid) == SIO_SESSION_OPEN);
	CU_ASSERT(feed(sid, "3::/chat:x") == SIO_OK);
	CU_ASSERT(feed(sid, "3:::y") == SIO_OK);
	EXPECT(sid, "3:::y");
}

/* --- TornadIO2's session cases ------------------------------------------ */

static void
test_client_disconnect_answers_and_closes(void)
{
	char sid[SIO_SID_LEN + 1];

	x.plugin = &probe_plugin;
	open_session(sid, NULL);
	EXPECT(sid, "3:::hello");
	CU_ASSERT(feed(sid, "0::") == SIO_OK);
	EXPECT(sid, "0::");
	CU_ASSERT(state_of(sid) == SIO_SESSION_CLOSED);
	CU_ASSERT_STRING_EQUAL(probe_log.p, "open  a=(null)\nopen  b=(null)\n"
	                                    "close \n");
}

/* Socket.IO 0.9: `0::` goes only to a transport attached when the client
 * ended the session; then the session is gone (an unknown one's answer),
 * for `0::` as for the `?disconnect` GET. A kick keeps its `0::` for the
 * client's next request. */
static void
test_client_disconnect_without_transport_is_gone(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], c[SIO_SID_LEN + 1];

	open_session(a, NULL);
	open_session(b, NULL);
	open_session(c, NULL);
	CU_ASSERT(sio_session_detach(st, a, "test", 1, now) == SIO_OK);
	CU_ASSERT(sio_session_detach(st, b, "test", 1, now) == SIO_OK);
	CU_ASSERT(sio_session_detach(st, c, "test", 1, now) == SIO_OK);
	CU_ASSERT(feed(a, "0::") == SIO_OK);
	EXPECT(a, "");
	CU_ASSERT(state_of(a) == SIO_SESSION_CLOSED);
	CU_ASSERT(sio_store_session_gone(st, a) == 1);
	CU_ASSERT(sio_session_disconnect(&x, b, now) == 1);
	EXPECT(b, "");
	CU_ASSERT(sio_store_session_gone(st, b) == 1);
	CU_ASSERT(sio_session_disconnect(&x, b, now) == 0);
	CU_ASSERT(sio_session_end(&x, c, "kicked", now) == 1);
	EXPECT(c, "0::");
	CU_ASSERT(sio_store_session_gone(st, c) == 0);
}

/* Attached, the transport gets its `0::`; the session is gone after. */
static void
test_client_disconnect_attached_gets_its_0(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	CU_ASSERT(sio_session_disconnect(&x, sid, now) == 1);
	EXPECT(sid, "0::");
	CU_ASSERT(sio_store_session_gone(st, sid) == 1);
}

static void
test_failing_handler_closes_every_endpoint(void)
{
	char sid[SIO_SID_LEN + 1];

	x.plugin = &probe_plugin;
	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "1::/test") == SIO_OK);
	EXPECT(sid, "3:::hello\n1::/test\n3::/test:hello");
	/* the packets after the failing one are ignored */
	{
		const char *f = "5:::{\"name\":\"fail\"}";
		const char *d = "5:1+::{\"name\":\"data\",\"args\":[\"k\"]}";
		struct sio_slice s[2] = {{f, strlen(f)}, {d, strlen(d)}};
		CU_ASSERT(sio_session_receive(&x, sid, s, 2, now) == SIO_OK);
	}
	EXPECT(sid, "0::"); /* 0:: alone: the client boots every endpoint */
	CU_ASSERT(state_of(sid) == SIO_SESSION_CLOSED);
	CU_ASSERT(strstr(probe_log.p, "close /test\nclose \n") != NULL);
}

static void
test_endpoint_connect_message_disconnect(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "1::/chat?a=123&b=456") == SIO_OK);
	EXPECT(sid, "1::/chat");
	CU_ASSERT(feed(sid, "3::/chat:abc") == SIO_OK);
	EXPECT(sid, "3::/chat:abc");
	CU_ASSERT(feed(sid, "0::/chat") == SIO_OK);
	EXPECT(sid, "");
	CU_ASSERT(state_of(sid) == SIO_SESSION_OPEN);
	CU_ASSERT(feed(sid, "3::/chat:abc") == SIO_OK);
	EXPECT(sid, "");
	/* a connect twice answers twice; the root's 0:: ends all with 0:: */
	CU_ASSERT(feed(sid, "1::/chat") == SIO_OK);
	CU_ASSERT(feed(sid, "1::/chat") == SIO_OK);
	CU_ASSERT(feed(sid, "0::") == SIO_OK);
	EXPECT(sid, "1::/chat\n1::/chat\n0::");
}

static void
test_endpoint_sees_its_query_then_the_handshake(void)
{
	char sid[SIO_SID_LEN + 1];

	x.plugin = &probe_plugin;
	open_session(sid, "a=1&b=2");
	CU_ASSERT(feed(sid, "1::/test?a=x%20y") == SIO_OK);
	CU_ASSERT_STRING_EQUAL(probe_log.p,
	                       "open  a=1\nopen  b=2\n"
	                       "open /test a=x y\nopen /test b=2\n");
}

static void
test_packet_to_unconnected_endpoint_is_dropped(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "3::/chat:abc") == SIO_OK);
	EXPECT(sid, "");
	CU_ASSERT(strstr(x.err, "unconnected endpoint") != NULL);
}

static void
test_unknown_endpoint_gets_an_error_packet(void)
{
	char sid[SIO_SID_LEN + 1];

	open_session(sid, NULL);
	CU_ASSERT(feed(sid, "1::/nope") == SIO_OK);
	EXPECT(sid, "7::/nope:2");
}

static void
test_endpoint_reject_undoes_its_open(void)
{
	char sid[SIO_SID_LEN + 1];

	x.plugin = &probe_plugin;
	open_session(sid, "reject=ep");
	EXPECT(sid, "3:::hello");
	CU_ASSERT(feed(sid, "1::/test") == SIO_OK);
	EXPECT(sid, "7::/test:2");
	CU_ASSERT(sio_store_endpoint_has(st, sid, "/test") == 0);
}

static void
test_handshake_reject_keeps_nothing(void)
{
	struct sio_request req;
	char sid[SIO_SID_LEN + 1] = "";

	x.plugin = &probe_plugin;
	sio_request_init(&req, "10.0.0.1", "reject=root", NULL);
	CU_ASSERT(sio_session_handshake(&x, &req, now, sid) == SIO_REJECT);
	sio_request_cleanup(&req);
	CU_ASSERT(sid[0] == '\0' || state_of(sid) == -1);
}

/* A handshake beyond max_sessions_per_address or max_sessions is
 * refused with SIO_FULL and keeps nothing; other addresses go on until
 * the overall cap, and an ended session makes room again. */
static void
test_handshake_caps(void)
{
	struct sio_request a, b;
	char sid[4][SIO_SID_LEN + 1], more[SIO_SID_LEN + 1];
	int all = 0, mine = 0;

	cfg.max_sessions_per_address = 2;
	cfg.max_sessions = 3;
	sio_request_init(&a, "10.0.0.1", NULL, NULL);
	sio_request_init(&b, "10.0.0.2", NULL, NULL);
	CU_ASSERT(sio_session_handshake(&x, &a, now, sid[0]) == SIO_OK);
	CU_ASSERT(sio_session_handshake(&x, &a, now, sid[1]) == SIO_OK);
	CU_ASSERT(sio_session_handshake(&x, &a, now, more) == SIO_FULL);
	CU_ASSERT(sio_session_handshake(&x, &b, now, sid[2]) == SIO_OK);
	CU_ASSERT(sio_session_handshake(&x, &b, now, more) == SIO_FULL);
	CU_ASSERT(sio_store_sessions_live(x.store, "10.0.0.1", 10, &all,
	                                  &mine) == SIO_OK);
	CU_ASSERT_EQUAL(all, 3);
	CU_ASSERT_EQUAL(mine, 2);
	CU_ASSERT(sio_session_end(&x, sid[0], "bye", now) == 1);
	CU_ASSERT(sio_session_handshake(&x, &a, now, sid[3]) == SIO_OK);
	sio_request_cleanup(&a);
	sio_request_cleanup(&b);
}

static void
test_malformed_packet_loses_nothing_else(void)
{
	char sid[SIO_SID_LEN + 1];
	struct sio_slice s[3] = {
	    {"x:garbage", 9}, {"3:::ok", 6}, {"4:::{bad", 8}};

	open_session(sid, NULL);
	CU_ASSERT(sio_session_receive(&x, sid, s, 3, now) == SIO_OK);
	EXPECT(sid, "3:::ok");
	CU_ASSERT(x.err[0] != '\0');
	CU_ASSERT(state_of(sid) == SIO_SESSION_OPEN);
}

static void
test_unknown_sid_is_refused(void)
{
	CU_ASSERT(feed("AAAAAAAAAAAAAAAAAAAAAA", "3:::x") == SIO_CLOSED);
}

static void
test_volatile_is_dropped_without_transport(void)
{
	char sid[SIO_SID_LEN + 1];

	x.plugin = &probe_plugin;
	open_session(sid, NULL);
	EXPECT(sid, "3:::hello");
	CU_ASSERT(feed(sid, "5:::{\"name\":\"volatile\",\"args\":[1]}") ==
	          SIO_OK);
	EXPECT(sid, "5:::{\"name\":\"v\",\"args\":[1]}");
	CU_ASSERT(sio_session_detach(st, sid, "test", 1, now) == SIO_OK);
	CU_ASSERT(feed(sid, "5:::{\"name\":\"volatile\",\"args\":[2]}") ==
	          SIO_OK);
	EXPECT(sid, "");
}

static void
test_session_data_survives_between_packets(void)
{
	char sid[SIO_SID_LEN + 1];

	x.plugin = &probe_plugin;
	open_session(sid, NULL);
	EXPECT(sid, "3:::hello");
	CU_ASSERT(
	    feed(sid, "5:1+::{\"name\":\"data\",\"args\":[\"k\",\"v\"]}") ==
	    SIO_OK);
	CU_ASSERT(
	    feed(sid, "5:2+::{\"name\":\"data\",\"args\":[\"k\",\"w\"]}") ==
	    SIO_OK);
	EXPECT(sid, "6:::1+[null]\n6:::2+[\"v\"]");
}

/* The holders renew their leases at now, as live processes do each
 * second: what the sweeps below end is the sessions' timeouts, not a
 * holder's lapsed lease. */
static void
renew(void)
{
	CU_ASSERT(sio_store_process_renew(st, "test", now) == SIO_OK);
	(void)sio_store_process_renew(st, "other", now);
}

static void
test_sweep_ends_sessions_past_their_timeouts(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];
	int changed;

	x.plugin = &probe_plugin;
	open_session(a, NULL);
	open_session(b, NULL);
	CU_ASSERT(sio_session_attach(st, a, SIO_TRANSPORT_WEBSOCKET, "test", 2,
	                             now, &changed) == SIO_OK);
	CU_ASSERT(sio_session_detach(st, b, "test", 1, now) == SIO_OK);
	now += cfg.heartbeat_interval * 1000LL;
	renew();
	CU_ASSERT(sio_session_sweep(&x, now) == 0);
	EXPECT(a, "3:::hello\n2::");
	now += (cfg.close_timeout - cfg.heartbeat_interval) * 1000LL;
	renew();
	CU_ASSERT(sio_session_sweep(&x, now) == 2);
	CU_ASSERT(state_of(a) == SIO_SESSION_CLOSED);
	CU_ASSERT(state_of(b) == SIO_SESSION_CLOSED);
	CU_ASSERT(sio_session_sweep(&x, now) == 0);
}

/* The sweep reaps a holder that stopped renewing once process_lease has
 * passed, not before: its session detaches and lives on for its close
 * timeout; a holder that renews keeps its own. */
static void
test_sweep_reaps_a_lapsed_holder(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];
	int changed;

	cfg.process_lease = 7;
	CU_ASSERT_FATAL(sio_store_process_register(st, "stalled", 4242, now) ==
	                SIO_OK);
	open_session(a, NULL);
	open_session(b, NULL);
	CU_ASSERT(sio_session_attach(st, a, SIO_TRANSPORT_WEBSOCKET, "stalled",
	                             1, now, &changed) == SIO_OK);
	CU_ASSERT(sio_session_attach(st, b, SIO_TRANSPORT_WEBSOCKET, "test", 1,
	                             now, &changed) == SIO_OK);
	now += 7000;
	renew();
	CU_ASSERT(sio_session_sweep(&x, now) == 0);
	CU_ASSERT(state_of(a) == SIO_SESSION_OPEN);
	now += 1;
	renew();
	CU_ASSERT(sio_session_sweep(&x, now) == 0);
	CU_ASSERT(state_of(a) == SIO_SESSION_DETACHED);
	CU_ASSERT(state_of(b) == SIO_SESSION_OPEN);
	CU_ASSERT(sio_store_process_renew(st, "stalled", now) == SIO_ABSENT);
}

/*
 * The timers of long-running processes: each sends its own sessions'
 * heartbeats; of several, the one taking a second's stats sample sweeps
 * (timeouts), and sends other holders' heartbeats only 2 s late.
 */
static void
test_timers_own_heartbeats_and_one_sweeper(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];
	int changed;

	x.plugin = &probe_plugin;
	CU_ASSERT_FATAL(sio_store_process_register(st, "other", (int)getpid(),
	                                           now) == SIO_OK);
	open_session(a, NULL);
	open_session(b, NULL);
	CU_ASSERT(sio_session_attach(st, a, SIO_TRANSPORT_WEBSOCKET, "test", 2,
	                             now, &changed) == SIO_OK);
	CU_ASSERT(sio_session_attach(st, b, SIO_TRANSPORT_WEBSOCKET, "other", 1,
	                             now, &changed) == SIO_OK);
	now += cfg.heartbeat_interval * 1000LL;
	/* "other" sweeps this second: its own session's heartbeat only */
	renew();
	CU_ASSERT(sio_session_timers(&x, "other", now) == 0);
	EXPECT(a, "3:::hello");
	EXPECT(b, "3:::hello\n2::");
	/* "test", later in the same second: not the sweeper, its own */
	now += 500;
	renew();
	CU_ASSERT(sio_session_timers(&x, "test", now) == 0);
	EXPECT(a, "2::");
	EXPECT(b, "");
	/* a holder that runs no timers: the sweeper sends its sessions'
	 * heartbeats SIO_HB_LATE_MS late */
	now += cfg.heartbeat_interval * 1000LL;
	renew();
	CU_ASSERT(sio_session_timers(&x, "other", now) == 0);
	EXPECT(a, "");
	now += SIO_HB_LATE_MS - SIO_SWEEP_MS; /* a second later: sweeps */
	renew();
	CU_ASSERT(sio_session_timers(&x, "other", now) == 0);
	EXPECT(a, "");
	now += SIO_SWEEP_MS;
	renew();
	CU_ASSERT(sio_session_timers(&x, "other", now) == 0);
	EXPECT(a, "2::");
	/* past the heartbeat timeout: only the sweeper of the second ends */
	now += cfg.heartbeat_timeout * 1000LL;
	CU_ASSERT(sio_store_stats_sample(st, now) == 1);
	CU_ASSERT(sio_store_stats_sample(st, now + 999) == 0);
	renew();
	CU_ASSERT(sio_session_timers(&x, "test", now + 999) == 0);
	CU_ASSERT(state_of(a) == SIO_SESSION_OPEN);
	renew();
	CU_ASSERT(sio_session_timers(&x, "test", now + 1000) == 2);
	CU_ASSERT(state_of(a) == SIO_SESSION_CLOSED);
	CU_ASSERT(state_of(b) == SIO_SESSION_CLOSED);
	/* the clock went back an hour: a sample from the future does not
	 * keep every process from sweeping */
	CU_ASSERT(sio_store_stats_sample(st, now - 3600000) == 1);
}

/*
 * A CGI request holds nothing past itself: it sweeps (heartbeats of every
 * holder, timeouts) only in the one request a second that takes the stats
 * sample, however many requests come in that second.
 */
static void
test_timers_without_holder_sweep_once_a_second(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];
	int changed;

	x.plugin = &probe_plugin;
	CU_ASSERT_FATAL(sio_store_process_register(st, "other", (int)getpid(),
	                                           now) == SIO_OK);
	open_session(a, NULL);
	open_session(b, NULL);
	CU_ASSERT(sio_session_attach(st, a, SIO_TRANSPORT_WEBSOCKET, "other", 1,
	                             now, &changed) == SIO_OK);
	EXPECT(a, "3:::hello");
	EXPECT(b, "3:::hello");
	CU_ASSERT(sio_session_detach(st, b, "test", 1, now) == SIO_OK);
	now += cfg.heartbeat_interval * 1000LL;
	/* this second's sample is taken: a's heartbeat waits */
	CU_ASSERT(sio_store_stats_sample(st, now) == 1);
	for (int i = 0; i < 10; i++)
		CU_ASSERT(sio_session_timers(&x, NULL, now + 10 * i) == 0);
	EXPECT(a, "");
	/* the next second's first request sweeps */
	CU_ASSERT(sio_session_timers(&x, NULL, now + SIO_SWEEP_MS) == 0);
	EXPECT(a, "2::");
	CU_ASSERT(sio_session_timers(&x, NULL, now + SIO_SWEEP_MS + 1) == 0);
	EXPECT(a, "");
	/* b's close timeout passes: ended by the sweeping request alone */
	now += cfg.close_timeout * 1000LL;
	CU_ASSERT(sio_store_stats_sample(st, now) == 1);
	CU_ASSERT(sio_session_timers(&x, NULL, now + 1) == 0);
	CU_ASSERT(state_of(b) != SIO_SESSION_CLOSED);
	CU_ASSERT(sio_session_timers(&x, NULL, now + SIO_SWEEP_MS) >= 1);
	CU_ASSERT(state_of(b) == SIO_SESSION_CLOSED);
}

/* Sessions a (websocket, silent since now) and b (detached now), then a
 * sweep that stores the clocks. */
static void
two_idle_sessions(char *a, char *b)
{
	int changed;

	x.plugin = &probe_plugin;
	open_session(a, NULL);
	open_session(b, NULL);
	CU_ASSERT(sio_session_attach(st, a, SIO_TRANSPORT_WEBSOCKET, "test", 2,
	                             now, &changed) == SIO_OK);
	CU_ASSERT(sio_session_detach(st, b, "test", 1, now) == SIO_OK);
	renew();
	CU_ASSERT(sio_session_sweep(&x, now) == 0);
}

/* Socket.IO 0.9: a session that timed out is gone. Its attached
 * transport (a silent websocket) gets `0::`; one with no transport gets
 * nothing, and a client coming back is answered as an unknown session. */
static void
test_timed_out_session_is_gone(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], *got;

	two_idle_sessions(a, b);
	EXPECT(a, "3:::hello");
	EXPECT(b, "3:::hello");
	now += (cfg.close_timeout > cfg.heartbeat_timeout
	            ? cfg.close_timeout
	            : cfg.heartbeat_timeout) *
	           1000LL +
	       1000;
	renew();
	CU_ASSERT(sio_session_sweep(&x, now) == 2);
	CU_ASSERT(state_of(a) == SIO_SESSION_CLOSED);
	CU_ASSERT(state_of(b) == SIO_SESSION_CLOSED);
	got = drain(a); /* its heartbeats, then 0:: */
	CU_ASSERT(strlen(got) >= 3 &&
	          strcmp(got + strlen(got) - 3, "0::") == 0);
	free(got);
	EXPECT(b, "");
	CU_ASSERT(sio_store_session_gone(st, a) == 1);
	CU_ASSERT(sio_store_session_gone(st, b) == 1);
}

/*
 * The wall clock jumps an hour ahead while a second passes: no session
 * expires for it. A packet that arrived after the jump counts on the new
 * clock; the timeouts run from the moved times.
 */
static void
test_wall_clock_step_forward_expires_nothing(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];

	two_idle_sessions(a, b);
	now += 3600000;
	step_ms += 3600000 - 1000;
	CU_ASSERT(sio_store_touch(st, a, now) == SIO_OK);
	renew();
	CU_ASSERT(sio_session_sweep(&x, now) == 0);
	CU_ASSERT(state_of(a) == SIO_SESSION_OPEN);
	CU_ASSERT(state_of(b) == SIO_SESSION_DETACHED);
	/* b was detached 1 s before the jump: 59 s on, its close timeout */
	now += cfg.close_timeout * 1000LL - 1000;
	renew();
	CU_ASSERT(sio_session_sweep(&x, now) == 1);
	CU_ASSERT(state_of(b) == SIO_SESSION_CLOSED);
	CU_ASSERT(state_of(a) == SIO_SESSION_OPEN);
	now += 1000;
	renew();
	CU_ASSERT(sio_session_sweep(&x, now) == 1);
	CU_ASSERT(state_of(a) == SIO_SESSION_CLOSED);
}

/*
 * The wall clock goes back an hour while a second passes: the timeouts
 * still end the sessions when they are due, not an hour later.
 */
static void
test_wall_clock_step_back_keeps_timeouts(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];

	two_idle_sessions(a, b);
	now -= 3600000;
	step_ms -= 3600000 + 1000;
	renew();
	CU_ASSERT(sio_session_sweep(&x, now) == 0);
	now += cfg.close_timeout * 1000LL - 2000;
	renew();
	CU_ASSERT(sio_session_sweep(&x, now) == 0);
	CU_ASSERT(state_of(b) == SIO_SESSION_DETACHED);
	now += 1000;
	renew();
	CU_ASSERT(sio_session_sweep(&x, now) == 2);
	CU_ASSERT(state_of(a) == SIO_SESSION_CLOSED);
	CU_ASSERT(state_of(b) == SIO_SESSION_CLOSED);
}

/*
 * The wall clock jumps an hour ahead: a process that has not renewed
 * since (it renews once a second, the sweeper may come first) keeps its
 * lease, moved with the step, and its row.
 */
static void
test_wall_clock_step_forward_keeps_leases(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];

	CU_ASSERT_FATAL(sio_store_process_register(st, "other", (int)getpid(),
	                                           now) == SIO_OK);
	two_idle_sessions(a, b);
	now += 3600000;
	step_ms += 3600000 - 1000;
	CU_ASSERT(sio_store_process_renew(st, "test", now) == SIO_OK);
	CU_ASSERT(sio_session_sweep(&x, now) == 0);
	CU_ASSERT(sio_store_process_renew(st, "other", now) == SIO_OK);
}

static void
test_a_full_queue_drops_packets_but_keeps_the_session(void)
{
	struct sio_store_opts opts = {.max_queue = 3};
	char sid[SIO_SID_LEN + 1], err[SIO_ERR_LEN], *path;

	sio_store_close(st);
	CU_ASSERT_FATAL(asprintf(&path, "%s/siogate.db", dir) > 0);
	st = sio_store_open(path, &opts, err);
	free(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	x.store = st; /* "test" is still registered: the same file */
	open_session(sid, NULL);
	for (int i = 0; i < 5; i++)
		CU_ASSERT(feed(sid, "5:1::{\"name\":\"echo\",\"args\":[1]}") ==
		          SIO_OK);
	CU_ASSERT(strstr(x.err, "queue full") != NULL);
	CU_ASSERT(state_of(sid) == SIO_SESSION_OPEN);
	EXPECT(sid, "6:::1\n5:::{\"name\":\"echo\",\"args\":[1]}\n6:::1");
	CU_ASSERT(feed(sid, "3:::after") == SIO_OK);
	EXPECT(sid, "3:::after");
}

/*
 * With the queue full, sio_emit_ack returns SIO_FULL and keeps no pending
 * ack (an ack the client sends for that id later runs nothing), and
 * sio_emit_volatile returns SIO_FULL while a transport is attached, SIO_OK
 * (dropped, as without a transport) when none is.
 */
static void
test_a_full_queue_keeps_no_pending_ack(void)
{
	struct sio_store_opts opts = {.max_queue = 2};
	char sid[SIO_SID_LEN + 1], err[SIO_ERR_LEN], *path;

	sio_store_close(st);
	CU_ASSERT_FATAL(asprintf(&path, "%s/siogate.db", dir) > 0);
	st = sio_store_open(path, &opts, err);
	free(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	x.store = st;
	x.plugin = &probe_plugin;
	open_session(sid, NULL); /* on_open queues "hello" */
	CU_ASSERT(sio_store_outbox_put(st, sid, "3:::x", 5, 0, 0) == SIO_OK);
	CU_ASSERT(feed(sid, "5:::{\"name\":\"emit_codes\",\"args\":[1]}") ==
	          SIO_OK);
	CU_ASSERT(feed(sid, "6:::1+[\"late\"]") == SIO_OK);
	CU_ASSERT(sio_session_detach(st, sid, "test", 1, now) == SIO_OK);
	CU_ASSERT(feed(sid, "5:::{\"name\":\"emit_codes\",\"args\":[2]}") ==
	          SIO_OK);
	CU_ASSERT_STRING_EQUAL(probe_log.p, "open  a=(null)\nopen  b=(null)\n"
	                                    "emit_ack -5 volatile -5\n"
	                                    "emit_ack -5 volatile 0\n");
	fprintf(stderr, "\n  probe saw [%s]\n", probe_log.p);
	EXPECT(sid, "3:::hello\n3:::x");
	CU_ASSERT(state_of(sid) != SIO_SESSION_CLOSED);
}

/* Text that is not UTF-8 is refused where it enters: the application gets
 * SIO_ERR, nothing is queued, what it sends next goes out. */
static void
test_api_refuses_text_that_is_not_utf8(void)
{
	char sid[SIO_SID_LEN + 1];

	x.plugin = &probe_plugin;
	open_session(sid, NULL);
	EXPECT(sid, "3:::hello");
	CU_ASSERT(feed(sid, "5:1+::{\"name\":\"bad_text\"}") == SIO_OK);
	CU_ASSERT(state_of(sid) == SIO_SESSION_OPEN);
	/* the rows themselves, not what a read passes on */
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 2);
	EXPECT(sid, "3:::after\n6:::1+[-1,-1,-1]");
}

/* --- chat ---------------------------------------------------------------- */

static void
test_chat_room_hears_joins_messages_and_leaves(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];
	char err[SIO_ERR_LEN];

	x.plugin = sio_plugin_load("chat", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x.plugin);
	open_session(a, NULL);
	open_session(b, NULL);
	EXPECT(a, "3:::Welcome! Emit 'join' with your name to enter a room.");
	EXPECT(b, "3:::Welcome! Emit 'join' with your name to enter a room.");
	CU_ASSERT(feed(a, "3:::early") == SIO_OK);
	EXPECT(a, "3:::Join a room first.");
	CU_ASSERT(feed(a, "5:1+::{\"name\":\"join\",\"args\":[\"ann\"]}") ==
	          SIO_OK);
	CU_ASSERT(feed(b, "5:::{\"name\":\"join\",\"args\":[\"bob\"]}") ==
	          SIO_OK);
	EXPECT(a, "3:::ann joined lobby\n6:::1+[true]\n3:::bob joined lobby");
	EXPECT(b, "3:::bob joined lobby");
	CU_ASSERT(feed(b, "3:::hi: there") == SIO_OK);
	EXPECT(a, "3:::bob: hi: there");
	EXPECT(b, "3:::bob: hi: there");
	CU_ASSERT(feed(b, "0::") == SIO_OK);
	EXPECT(a, "3:::bob left");
	EXPECT(b, "0::");
}

/* A message longer than a chat line is cut on a character boundary: the
 * line stays UTF-8, so it reaches the room. */
static void
test_chat_cuts_a_long_message_between_characters(void)
{
	char a[SIO_SID_LEN + 1], err[SIO_ERR_LEN];
	struct sio_buf msg;
	char *got;

	x.plugin = sio_plugin_load("chat", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x.plugin);
	open_session(a, NULL);
	CU_ASSERT(feed(a, "5:::{\"name\":\"join\",\"args\":[\"ann\"]}") ==
	          SIO_OK);
	free(drain(a));
	for (int shift = 0; shift < 4; shift++) {
		/* "ann: " + shift ASCII bytes, then 2-, 3- and 4-byte ones */
		const char *chars[] = {"\xc3\xa9", "\xe2\x82\xac",
		                       "\xf0\x9f\x98\x80"};
		for (int k = 0; k < 3; k++) {
			sio_buf_init(&msg);
			sio_buf_puts(&msg, "3:::");
			for (int i = 0; i < shift; i++)
				sio_buf_putc(&msg, 'x');
			for (int i = 0; i < 3000; i++)
				sio_buf_puts(&msg, chars[k]);
			CU_ASSERT(feed(a, msg.p) == SIO_OK);
			got = drain(a);
			CU_ASSERT(state_of(a) == SIO_SESSION_OPEN);
			CU_ASSERT(strncmp(got, "3:::ann: ", 9) == 0);
			/* the whole line (4095 bytes at most), less at most
			 * one character, and UTF-8 */
			CU_ASSERT(strlen(got) - 4 <= 4095);
			CU_ASSERT(strlen(got) - 4 > 4095 - strlen(chars[k]));
			CU_ASSERT(sio_payload_utf16_len(got, strlen(got)) >= 0);
			free(got);
			sio_buf_cleanup(&msg);
		}
	}
}

static void
test_plugin_loads_from_a_shared_object(void)
{
	const char *bin = getenv("SIO_TEST_BIN");
	char err[SIO_ERR_LEN], *path;
	const struct sio_plugin *p;

	CU_ASSERT_FATAL(asprintf(&path, "%s/../examples/chat.so",
	                         bin ? bin : "build/tests") > 0);
	p = sio_plugin_load(path, err);
	if (p == NULL)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_PTR_NOT_NULL(p);
	if (p)
		CU_ASSERT_STRING_EQUAL(p->name, "chat");
	free(path);
	CU_ASSERT_PTR_NULL(sio_plugin_load("/nonexistent/app.so", err));
	CU_ASSERT_PTR_NULL(sio_plugin_load("nosuchapp", err));
	CU_ASSERT(strstr(err, "nosuchapp") != NULL);
}

/* --- handlers run outside the write transaction ----------------------------
 */

/* The run and the apply of one packet, apart. */
static struct sio_session_run *
run_only(const char *sid, const char *pkt)
{
	struct sio_slice sl = {pkt, strlen(pkt)};
	struct sio_session_run *r = NULL;

	CU_ASSERT(sio_session_run(&x, sid, &sl, 1, now, &r) == SIO_OK);
	CU_ASSERT_PTR_NOT_NULL(r);
	return r;
}

/*
 * A handler runs with no transaction open and writes nothing while it
 * runs; its writes (data, a room, packets, a broadcast) land together
 * when the run is applied.
 */
static void
test_effects_land_together_after_the_handler(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], *v;
	struct sio_session_run *r;

	x.plugin = &probe_plugin;
	open_session(a, NULL);
	open_session(b, NULL);
	EXPECT(a, "3:::hello");
	EXPECT(b, "3:::hello");
	r = run_only(a, "5:::{\"name\":\"many\"}");
	CU_ASSERT_STRING_EQUAL(probe_log.p, "open  a=(null)\nopen  b=(null)\n"
	                                    "open  a=(null)\nopen  b=(null)\n"
	                                    "many in a transaction: no\n");
	/* nothing of it is in the store yet */
	CU_ASSERT_PTR_NULL(sio_store_data_get(st, a, "k"));
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, a), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, b), 0);
	CU_ASSERT(sio_session_apply(&x, r) == SIO_OK);
	CU_ASSERT(sio_session_done(&x, r, 1) == 0);
	v = sio_store_data_get(st, a, "k");
	CU_ASSERT(v != NULL && strcmp(v, "v") == 0);
	free(v);
	EXPECT(a, "3:::one\n3:::two");
	EXPECT(b, "3:::all");
	/* the room was joined: a broadcast to it reaches a */
	CU_ASSERT(sio_store_outbox_broadcast(st, "", "r", NULL, "3:::room", 8,
	                                     0, 0) >= 0);
	EXPECT(a, "3:::room");
	EXPECT(b, "");
}

/*
 * A session closed between a handler's run and its apply (another process
 * ended it) gets none of its writes, nor do the others get its broadcast:
 * a handler's writes land together or not at all.
 */
static void
test_session_closed_between_run_and_apply_drops_the_effects(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];
	struct sio_session_run *r;

	x.plugin = &probe_plugin;
	open_session(a, NULL);
	open_session(b, NULL);
	EXPECT(a, "3:::hello");
	EXPECT(b, "3:::hello");
	r = run_only(a, "5:::{\"name\":\"many\"}");
	CU_ASSERT(sio_session_end(&x, a, "kicked", now) == 1);
	CU_ASSERT(sio_session_apply(&x, r) == SIO_CLOSED);
	CU_ASSERT(sio_session_done(&x, r, 0) == 0);
	EXPECT(a, "0::");
	EXPECT(b, "");
	CU_ASSERT(state_of(a) == SIO_SESSION_CLOSED);
}

/*
 * The end of a session runs on_close once, outside any transaction, with
 * the session's data still readable; what on_close broadcasts lands, what
 * it sends to the ended session itself is dropped.
 */
static void
test_on_close_runs_once_with_its_effects(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];

	x.plugin = &probe_plugin;
	open_session(a, NULL);
	open_session(b, NULL);
	EXPECT(a, "3:::hello");
	EXPECT(b, "3:::hello");
	/* rw leaves data "bye" = "gone", which on_close broadcasts */
	CU_ASSERT(feed(a, "5:1+::{\"name\":\"rw\"}") == SIO_OK);
	EXPECT(a, "6:::1+[\"second\",null]");
	probe_log.len = 0;
	sio_buf_puts(&probe_log, "");
	CU_ASSERT(sio_session_end(&x, a, "kicked", now) == 1);
	CU_ASSERT(sio_session_end(&x, a, "kicked", now) == 0);
	CU_ASSERT(feed(a, "3:::late") == SIO_CLOSED);
	CU_ASSERT_STRING_EQUAL(probe_log.p,
	                       "close \nclose in a transaction: no\n");
	EXPECT(a, "0::");
	EXPECT(b, "3:::gone");
	/* purged after on_close */
	CU_ASSERT_PTR_NULL(sio_store_data_get(st, a, "bye"));
}

/*
 * The ends of a batch (sio-wsd): the runs applied in one transaction;
 * after its commit, on_close of each outside any transaction
 * (sio_session_close_run()), then what they did, all in one transaction:
 * each on_close once, each broadcast lands, each session purged. A batch
 * that did not commit has no end to finish.
 */
static void
test_ends_of_a_batch_finish_in_one_transaction(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], c[SIO_SID_LEN + 1];
	struct sio_session_run *ra, *rb, *rc;

	x.plugin = &probe_plugin;
	open_session(a, NULL);
	open_session(b, NULL);
	open_session(c, NULL);
	CU_ASSERT(feed(a, "5:1+::{\"name\":\"rw\"}") == SIO_OK);
	CU_ASSERT(feed(b, "5:1+::{\"name\":\"rw\"}") == SIO_OK);
	free(drain(a));
	free(drain(b));
	free(drain(c));
	ra = run_only(a, "0::");
	rb = run_only(b, "0::");
	rc = run_only(c, "0::");
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT(sio_session_apply(&x, ra) == SIO_OK);
	CU_ASSERT(sio_session_apply(&x, rb) == SIO_OK);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT(sio_session_ending(ra) && sio_session_ending(rb));
	probe_log.len = 0;
	sio_buf_puts(&probe_log, "");
	CU_ASSERT_EQUAL(sio_session_close_run(&x, ra, 1), 1);
	CU_ASSERT_EQUAL(sio_session_close_run(&x, rb, 1), 1);
	CU_ASSERT_EQUAL(sio_session_close_run(&x, ra, 1), 0);
	CU_ASSERT_STRING_EQUAL(probe_log.p,
	                       "close \nclose in a transaction: no\n"
	                       "close \nclose in a transaction: no\n");
	/* nothing written yet: the data on_close read is still there */
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, c), 0);
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_done(&x, ra, 1), 1);
	CU_ASSERT_EQUAL(sio_session_done(&x, rb, 1), 1);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(probe_log.p,
	                       "close \nclose in a transaction: no\n"
	                       "close \nclose in a transaction: no\n");
	EXPECT(c, "3:::gone\n3:::gone");
	CU_ASSERT_PTR_NULL(sio_store_data_get(st, a, "bye"));
	CU_ASSERT_PTR_NULL(sio_store_data_get(st, b, "bye"));
	CU_ASSERT(state_of(a) == SIO_SESSION_CLOSED);
	/* c's end was never committed: nothing to finish, c lives */
	CU_ASSERT(sio_session_apply(&x, rc) == SIO_OK);
	CU_ASSERT_EQUAL(sio_session_close_run(&x, rc, 0), 0);
	CU_ASSERT_EQUAL(sio_session_done(&x, rc, 0), 0);
	CU_ASSERT_STRING_EQUAL(probe_log.p,
	                       "close \nclose in a transaction: no\n"
	                       "close \nclose in a transaction: no\n");
}

/* A handler reads what it wrote itself, before it is applied. */
static void
test_a_handler_reads_its_own_writes(void)
{
	char sid[SIO_SID_LEN + 1], *v;

	x.plugin = &probe_plugin;
	open_session(sid, NULL);
	EXPECT(sid, "3:::hello");
	CU_ASSERT(sio_store_data_put(st, sid, "rw", "stored") == SIO_OK);
	CU_ASSERT(feed(sid, "5:1+::{\"name\":\"rw\"}") == SIO_OK);
	EXPECT(sid, "6:::1+[\"second\",null]");
	CU_ASSERT_PTR_NULL(sio_store_data_get(st, sid, "rw"));
	v = sio_store_data_get(st, sid, "bye");
	CU_ASSERT(v != NULL && strcmp(v, "gone") == 0);
	free(v);
	/* and a data read across packets of one run */
	CU_ASSERT(
	    feed(sid, "5:2+::{\"name\":\"data\",\"args\":[\"k\",\"1\"]}") ==
	    SIO_OK);
	EXPECT(sid, "6:::2+[null]");
}

/*
 * The client's ack taken by two runs at once (two processes got it): the
 * first apply takes it and its handler's writes land; the second's are
 * dropped. Ack ids are allocated when applied.
 */
static void
test_an_ack_applied_twice_runs_its_effects_once(void)
{
	char sid[SIO_SID_LEN + 1];
	struct sio_session_run *r1, *r2;

	x.plugin = &probe_plugin;
	open_session(sid, NULL);
	EXPECT(sid, "3:::hello");
	CU_ASSERT(feed(sid, "5:::{\"name\":\"ask\",\"args\":[1]}") == SIO_OK);
	CU_ASSERT(feed(sid, "5:::{\"name\":\"ask\",\"args\":[2]}") == SIO_OK);
	EXPECT(sid, "5:1+::{\"name\":\"q\",\"args\":[1]}\n"
	            "5:2+::{\"name\":\"q\",\"args\":[2]}");
	r1 = run_only(sid, "6:::2+[\"x\"]");
	r2 = run_only(sid, "6:::2+[\"x\"]");
	CU_ASSERT(sio_session_apply(&x, r1) == SIO_OK);
	CU_ASSERT(sio_session_apply(&x, r2) == SIO_OK);
	CU_ASSERT(strstr(x.err, "ack taken") != NULL);
	sio_session_done(&x, r1, 1);
	sio_session_done(&x, r2, 1);
	EXPECT(sid, "3:::acked");
	/* the same ack twice in one payload runs once too */
	{
		struct sio_slice two[2] = {{"6:::1+[1]", 9}, {"6:::1+[1]", 9}};
		CU_ASSERT(sio_session_receive(&x, sid, two, 2, now) == SIO_OK);
	}
	EXPECT(sid, "3:::acked");
}

/* Processes racing to end one session run on_close once. */
static void
test_racing_processes_run_on_close_once(void)
{
	char sid[SIO_SID_LEN + 1], *helper, *log, *db, line[64];
	int pipefd[2], n = 0;
	pid_t pids[4];
	FILE *f;

	open_session(sid, NULL);
	helper = cu_helper("session");
	CU_ASSERT_FATAL(asprintf(&log, "%s/close.log", dir) > 0);
	CU_ASSERT_FATAL(asprintf(&db, "%s/siogate.db", dir) > 0);
	CU_ASSERT_FATAL(pipe(pipefd) == 0);
	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			char go;
			close(pipefd[1]);
			if (read(pipefd[0], &go, 1) != 0)
				_exit(3);
			execl(helper, helper, "end", db, sid, log,
			      (char *)NULL);
			_exit(2);
		}
	}
	close(pipefd[0]);
	close(pipefd[1]); /* the start signal: every child's read returns */
	for (int i = 0; i < 4; i++) {
		int status;
		waitpid(pids[i], &status, 0);
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	f = fopen(log, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT(state_of(sid) == SIO_SESSION_CLOSED);
	free(helper);
	free(log);
	free(db);
}

/* --- the transition table ---------------------------------------------- */

#define REFUSED -2

/* Every (state, event) pair, with the transport that matters: the next
 * state, or REFUSED when the table has no row for it. */
static const struct {
	int state, transport;
	enum sio_session_event ev;
	int next;
} expected_moves[] = {
    {SIO_SESSION_NONE, -1, SIO_EVENT_HANDSHAKE, SIO_SESSION_HANDSHAKEN},
    {SIO_SESSION_NONE, -1, SIO_EVENT_REFUSED, SIO_SESSION_NONE},
    {SIO_SESSION_NONE, -1, SIO_EVENT_ATTACH, REFUSED},
    {SIO_SESSION_NONE, -1, SIO_EVENT_PACKET, REFUSED},
    {SIO_SESSION_NONE, -1, SIO_EVENT_END, REFUSED},
    {SIO_SESSION_HANDSHAKEN, -1, SIO_EVENT_HANDSHAKE, REFUSED},
    {SIO_SESSION_HANDSHAKEN, SIO_TRANSPORT_XHR_POLLING, SIO_EVENT_ATTACH,
     SIO_SESSION_OPEN},
    {SIO_SESSION_OPEN, SIO_TRANSPORT_WEBSOCKET, SIO_EVENT_ATTACH,
     SIO_SESSION_OPEN},
    {SIO_SESSION_DETACHED, SIO_TRANSPORT_HTMLFILE, SIO_EVENT_ATTACH,
     SIO_SESSION_OPEN},
    {SIO_SESSION_CLOSED, SIO_TRANSPORT_XHR_POLLING, SIO_EVENT_ATTACH,
     SIO_SESSION_CLOSED},
    {SIO_SESSION_OPEN, SIO_TRANSPORT_XHR_POLLING, SIO_EVENT_DETACH,
     SIO_SESSION_DETACHED},
    {SIO_SESSION_CLOSED, -1, SIO_EVENT_DETACH, SIO_SESSION_CLOSED},
    {SIO_SESSION_HANDSHAKEN, -1, SIO_EVENT_DETACH, REFUSED},
    {SIO_SESSION_DETACHED, -1, SIO_EVENT_DETACH, REFUSED},
    {SIO_SESSION_OPEN, -1, SIO_EVENT_SUPERSEDED, SIO_SESSION_OPEN},
    {SIO_SESSION_CLOSED, -1, SIO_EVENT_SUPERSEDED, SIO_SESSION_CLOSED},
    {SIO_SESSION_HANDSHAKEN, -1, SIO_EVENT_PACKET, SIO_SESSION_HANDSHAKEN},
    {SIO_SESSION_OPEN, -1, SIO_EVENT_PACKET, SIO_SESSION_OPEN},
    {SIO_SESSION_DETACHED, -1, SIO_EVENT_PACKET, SIO_SESSION_DETACHED},
    {SIO_SESSION_CLOSED, -1, SIO_EVENT_PACKET, REFUSED},
    {SIO_SESSION_OPEN, SIO_TRANSPORT_WEBSOCKET, SIO_EVENT_HEARTBEAT_DUE,
     SIO_SESSION_OPEN},
    {SIO_SESSION_OPEN, SIO_TRANSPORT_FLASHSOCKET, SIO_EVENT_HEARTBEAT_DUE,
     SIO_SESSION_OPEN},
    {SIO_SESSION_OPEN, SIO_TRANSPORT_HTMLFILE, SIO_EVENT_HEARTBEAT_DUE,
     SIO_SESSION_OPEN},
    {SIO_SESSION_OPEN, SIO_TRANSPORT_XHR_POLLING, SIO_EVENT_HEARTBEAT_DUE,
     REFUSED},
    {SIO_SESSION_OPEN, SIO_TRANSPORT_JSONP_POLLING, SIO_EVENT_HEARTBEAT_DUE,
     REFUSED},
    {SIO_SESSION_DETACHED, SIO_TRANSPORT_WEBSOCKET, SIO_EVENT_HEARTBEAT_DUE,
     REFUSED},
    {SIO_SESSION_OPEN, SIO_TRANSPORT_WEBSOCKET, SIO_EVENT_HEARTBEAT_TIMEOUT,
     SIO_SESSION_CLOSED},
    {SIO_SESSION_OPEN, SIO_TRANSPORT_XHR_POLLING, SIO_EVENT_HEARTBEAT_TIMEOUT,
     REFUSED},
    {SIO_SESSION_OPEN, -1, SIO_EVENT_HEARTBEAT_TIMEOUT, REFUSED},
    {SIO_SESSION_HANDSHAKEN, -1, SIO_EVENT_CLOSE_TIMEOUT, SIO_SESSION_CLOSED},
    {SIO_SESSION_DETACHED, -1, SIO_EVENT_CLOSE_TIMEOUT, SIO_SESSION_CLOSED},
    {SIO_SESSION_OPEN, SIO_TRANSPORT_XHR_POLLING, SIO_EVENT_CLOSE_TIMEOUT,
     REFUSED},
    {SIO_SESSION_CLOSED, -1, SIO_EVENT_CLOSE_TIMEOUT, REFUSED},
    {SIO_SESSION_HANDSHAKEN, -1, SIO_EVENT_END, SIO_SESSION_CLOSED},
    {SIO_SESSION_OPEN, -1, SIO_EVENT_END, SIO_SESSION_CLOSED},
    {SIO_SESSION_DETACHED, -1, SIO_EVENT_END, SIO_SESSION_CLOSED},
    {SIO_SESSION_CLOSED, -1, SIO_EVENT_END, REFUSED},
    {SIO_SESSION_HANDSHAKEN, -1, SIO_EVENT_DISCONNECT, SIO_SESSION_CLOSED},
    {SIO_SESSION_OPEN, -1, SIO_EVENT_DISCONNECT, SIO_SESSION_CLOSED},
    {SIO_SESSION_DETACHED, -1, SIO_EVENT_DISCONNECT, SIO_SESSION_CLOSED},
    {SIO_SESSION_CLOSED, -1, SIO_EVENT_DISCONNECT, REFUSED},
    {SIO_SESSION_OPEN, -1, SIO_EVENT_HOLDER_GONE, SIO_SESSION_DETACHED},
    {SIO_SESSION_CLOSED, -1, SIO_EVENT_HOLDER_GONE, SIO_SESSION_CLOSED},
    {SIO_SESSION_DETACHED, -1, SIO_EVENT_HOLDER_GONE, REFUSED},
    {SIO_SESSION_CLOSED, -1, SIO_EVENT_FORGET, SIO_SESSION_CLOSED},
    {SIO_SESSION_OPEN, -1, SIO_EVENT_FORGET, REFUSED},
    {SIO_SESSION_CLOSED, -1, SIO_EVENT_CLEANUP, SIO_SESSION_NONE},
    {SIO_SESSION_DETACHED, -1, SIO_EVENT_CLEANUP, REFUSED},
    {SIO_SESSION_OPEN, -1, SIO_EVENT_CLEANUP, REFUSED},
};

static void
test_transition_table_row_by_row(void)
{
	for (size_t i = 0; i < sizeof(expected_moves) / sizeof(*expected_moves);
	     i++) {
		const struct sio_session_rule *r = sio_session_next(
		    expected_moves[i].state, expected_moves[i].transport,
		    expected_moves[i].ev);
		if (expected_moves[i].next == REFUSED) {
			CU_ASSERT_PTR_NULL(r);
			continue;
		}
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_EQUAL(r->from, expected_moves[i].state);
		CU_ASSERT_EQUAL(r->event, expected_moves[i].ev);
		CU_ASSERT_EQUAL(r->next, expected_moves[i].next);
	}
}

/* Every row is answered by sio_session_next() (no row shadowed by an
 * earlier one), and each event has a name. */
static void
test_transition_table_rows_are_reachable(void)
{
	for (size_t i = 0; i < sio_session_nrules; i++) {
		const struct sio_session_rule *r = &sio_session_rules[i];
		int t = -1;
		for (int k = 0; r->transports && k < SIO_TRANSPORT_COUNT; k++)
			if (r->transports & (1u << k))
				t = k;
		CU_ASSERT_PTR_EQUAL(sio_session_next(r->from, t, r->event), r);
	}
	for (int ev = 0; ev < SIO_EVENT_COUNT; ev++)
		CU_ASSERT_STRING_NOT_EQUAL(sio_session_event_name(ev), "?");
}

/* What the store is told to expect and to write, from the table. */
static void
test_transition_table_masks(void)
{
	unsigned live = (1u << SIO_SESSION_HANDSHAKEN) |
	                (1u << SIO_SESSION_OPEN) | (1u << SIO_SESSION_DETACHED);

	CU_ASSERT_EQUAL(sio_session_from(SIO_EVENT_ATTACH, SIO_SESSION_OPEN),
	                (1u << SIO_SESSION_HANDSHAKEN) |
	                    (1u << SIO_SESSION_DETACHED));
	CU_ASSERT_EQUAL(
	    sio_session_from(SIO_EVENT_DETACH, SIO_SESSION_DETACHED),
	    1u << SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(
	    sio_session_from(SIO_EVENT_HOLDER_GONE, SIO_SESSION_DETACHED),
	    1u << SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(sio_session_from(SIO_EVENT_END, SIO_SESSION_CLOSED),
	                live);
	CU_ASSERT_EQUAL(
	    sio_session_from(SIO_EVENT_DISCONNECT, SIO_SESSION_CLOSED), live);
	CU_ASSERT_EQUAL(sio_session_transports(SIO_EVENT_HEARTBEAT_DUE),
	                (1u << SIO_TRANSPORT_WEBSOCKET) |
	                    (1u << SIO_TRANSPORT_FLASHSOCKET) |
	                    (1u << SIO_TRANSPORT_HTMLFILE));
	CU_ASSERT_EQUAL(sio_session_transports(SIO_EVENT_HEARTBEAT_TIMEOUT),
	                sio_session_transports(SIO_EVENT_HEARTBEAT_DUE));
	CU_ASSERT_EQUAL(sio_session_transports(SIO_EVENT_CLOSE_TIMEOUT), 0);
}

/* Puts a new session in state, held by (holder, 1) once attached. */
static void
session_in(int state, const char *holder, char sid[SIO_SID_LEN + 1])
{
	int hello;

	CU_ASSERT_FATAL(sio_store_session_new(st, "{}", now, sid) == SIO_OK);
	if (state == SIO_SESSION_HANDSHAKEN)
		return;
	CU_ASSERT_FATAL(sio_session_attach(st, sid, SIO_TRANSPORT_XHR_POLLING,
	                                   holder, 1, now, &hello) == SIO_OK);
	if (state == SIO_SESSION_DETACHED)
		CU_ASSERT_FATAL(sio_session_detach(st, sid, holder, 1, now) ==
		                SIO_OK);
	if (state == SIO_SESSION_CLOSED)
		CU_ASSERT_FATAL(sio_session_claim_end(st, sid, "x", now) == 1);
}

/* The engine's calls move the stored session as the table says, in
 * every state, and leave it where the table has no row. */
static void
test_transition_table_reaches_the_store(void)
{
	static const enum sio_session_event evs[] = {
	    SIO_EVENT_ATTACH, SIO_EVENT_DETACH, SIO_EVENT_END,
	    SIO_EVENT_HOLDER_GONE};
	char sid[SIO_SID_LEN + 1], name[32];
	long long last;
	int hello, rc, n = 0;

	for (int state = 0; state <= SIO_SESSION_CLOSED; state++)
		for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
			const struct sio_session_rule *r = sio_session_next(
			    state, SIO_TRANSPORT_XHR_POLLING, evs[i]);
			int want = r ? r->next : state;

			snprintf(name, sizeof(name), "p%d", n++);
			CU_ASSERT_FATAL(
			    sio_store_process_register(st, name, (int)getpid(),
			                               now) == SIO_OK);
			session_in(state, name, sid);
			switch (evs[i]) {
			case SIO_EVENT_ATTACH:
				rc = sio_session_attach(
				    st, sid, SIO_TRANSPORT_XHR_POLLING, name, 2,
				    now, &hello);
				CU_ASSERT_EQUAL(rc, want == SIO_SESSION_OPEN
				                        ? SIO_OK
				                        : SIO_CLOSED);
				break;
			case SIO_EVENT_DETACH:
				rc = sio_session_detach(st, sid, name, 1, now);
				CU_ASSERT_EQUAL(rc, SIO_OK);
				break;
			case SIO_EVENT_END:
				rc = sio_session_claim_end(st, sid, "y", now);
				CU_ASSERT_EQUAL(rc, want != state);
				break;
			default:
				rc = sio_session_unregister(st, name, now);
				CU_ASSERT_EQUAL(rc, SIO_OK);
				break;
			}
			CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
			                want);
		}
}

/* The sweep's timeouts are the table's rows, and so are its reasons. */
static void
test_transition_table_timeouts(void)
{
	struct sio_store_expiry e;

	sio_session_expiry(&e, 100000, 60000, 25000);
	CU_ASSERT_EQUAL_FATAL(e.n, 3);
	CU_ASSERT_EQUAL(e.t[0].state, SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(e.t[0].transports,
	                sio_session_transports(SIO_EVENT_HEARTBEAT_TIMEOUT));
	CU_ASSERT_EQUAL(e.t[0].since, SIO_STORE_SINCE_RECV);
	CU_ASSERT_EQUAL(e.t[0].before, 40000);
	CU_ASSERT_EQUAL(e.t[1].state, SIO_SESSION_HANDSHAKEN);
	CU_ASSERT_EQUAL(e.t[1].transports, 0);
	CU_ASSERT_EQUAL(e.t[1].since, SIO_STORE_SINCE_CREATED);
	CU_ASSERT_EQUAL(e.t[1].before, 75000);
	CU_ASSERT_EQUAL(e.t[2].state, SIO_SESSION_DETACHED);
	CU_ASSERT_EQUAL(e.t[2].since, SIO_STORE_SINCE_DETACHED);
	CU_ASSERT_EQUAL(e.t[2].before, 75000);
	CU_ASSERT_EQUAL(e.gone_from, 1u << SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(e.gone_to, SIO_SESSION_DETACHED);
	CU_ASSERT_STRING_EQUAL(sio_session_expiry_reason(SIO_SESSION_OPEN),
	                       "heartbeat timeout");
	CU_ASSERT_STRING_EQUAL(
	    sio_session_expiry_reason(SIO_SESSION_HANDSHAKEN), "close timeout");
	CU_ASSERT_STRING_EQUAL(sio_session_expiry_reason(SIO_SESSION_DETACHED),
	                       "close timeout");
}

/* docs/internals.md shows the table: its rows, in order, are the array's
 * (make check runs the suites from the top of the tree). */
static void
test_transition_table_is_documented(void)
{
	char line[1024], want[1024];
	size_t i = 0;
	FILE *f = fopen("docs/internals.md", "r");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fgets(line, sizeof(line), f) != NULL && i < sio_session_nrules) {
		line[strcspn(line, "\n")] = '\0';
		sio_session_rule_format(&sio_session_rules[i], want,
		                        sizeof(want));
		if (strcmp(line, want) == 0)
			i++;
	}
	fclose(f);
	if (i < sio_session_nrules) {
		sio_session_rule_format(&sio_session_rules[i], want,
		                        sizeof(want));
		fprintf(stderr, "docs/internals.md lacks, at its place: %s\n",
		        want);
	}
	CU_ASSERT_EQUAL(i, sio_session_nrules);
}

static const struct cu_test tests[] = {
    {"the transition table, row by row", test_transition_table_row_by_row},
    {"every row of the transition table is reachable",
     test_transition_table_rows_are_reachable},
    {"the store's expected states come from the table",
     test_transition_table_masks},
    {"the engine's calls move the stored session as the table says",
     test_transition_table_reaches_the_store},
    {"the sweep's timeouts and their reasons are the table's",
     test_transition_table_timeouts},
    {"docs/internals.md shows the transition table",
     test_transition_table_is_documented},
    {"testapp echoes messages with their type", test_message_echo},
    {"kept runs are taken again as new, no more than asked", test_kept_runs},
    {"testapp echoes json messages", test_json_echo},
    {"plain ids are auto-acked first, data acks carry the data",
     test_message_auto_ack_and_data_ack},
    {"event echo acks with its args or emits them back",
     test_event_echo_with_and_without_ack},
    {"an event carrying one dict arrives whole", test_event_carrying_one_dict},
    {"broadcast reaches every session on the endpoint, sender included",
     test_broadcast_reaches_every_session_on_the_endpoint},
    {"trigger emits count events with their index",
     test_trigger_emits_count_events_with_index},
    {"trigger with a delay is delivered after the delay",
     test_trigger_with_delay_is_delivered_after_the_delay},
    {"trigger with ack runs the ack handler when the client acks",
     test_trigger_with_ack_runs_the_ack_handler},
    {"kick ends the session with 0::", test_kick_ends_the_session},
    {"kick on /chat ends only that endpoint",
     test_kick_on_chat_ends_only_that_endpoint},
    {"the ends of a batch: each on_close once, outside any transaction, "
     "then their writes in one",
     test_ends_of_a_batch_finish_in_one_transaction},
    {"client disconnect is answered and closes the session",
     test_client_disconnect_answers_and_closes},
    {"a client that ended its session with no transport attached gets no "
     "0:: and the session is gone",
     test_client_disconnect_without_transport_is_gone},
    {"a client that ended its session gets 0:: on the attached transport",
     test_client_disconnect_attached_gets_its_0},
    {"a session that timed out is gone: 0:: only to its attached transport",
     test_timed_out_session_is_gone},
    {"a failing handler closes the session with every endpoint",
     test_failing_handler_closes_every_endpoint},
    {"endpoint connect, message and disconnect",
     test_endpoint_connect_message_disconnect},
    {"an endpoint sees its connect query, then the handshake's",
     test_endpoint_sees_its_query_then_the_handshake},
    {"a packet to an unconnected endpoint is dropped",
     test_packet_to_unconnected_endpoint_is_dropped},
    {"an unknown endpoint gets an error packet",
     test_unknown_endpoint_gets_an_error_packet},
    {"an endpoint's reject undoes what its on_open queued",
     test_endpoint_reject_undoes_its_open},
    {"a rejected handshake keeps nothing", test_handshake_reject_keeps_nothing},
    {"handshakes beyond the session caps are refused and keep nothing",
     test_handshake_caps},
    {"a malformed packet loses nothing else",
     test_malformed_packet_loses_nothing_else},
    {"an unknown sid is refused", test_unknown_sid_is_refused},
    {"volatile events are dropped without a transport",
     test_volatile_is_dropped_without_transport},
    {"session data survives between packets",
     test_session_data_survives_between_packets},
    {"the sweep reaps a holder whose lease lapsed, not before",
     test_sweep_reaps_a_lapsed_holder},
    {"the sweep sends heartbeats and ends timed-out sessions",
     test_sweep_ends_sessions_past_their_timeouts},
    {"timers: own heartbeats, one process sweeps",
     test_timers_own_heartbeats_and_one_sweeper},
    {"timers without a holder (CGI) sweep once a second, not per request",
     test_timers_without_holder_sweep_once_a_second},
    {"a wall clock that jumps ahead expires no session",
     test_wall_clock_step_forward_expires_nothing},
    {"a wall clock that goes back keeps the timeouts when they are due",
     test_wall_clock_step_back_keeps_timeouts},
    {"a wall clock that jumps ahead leaves the leases of live processes",
     test_wall_clock_step_forward_keeps_leases},
    {"a full queue keeps no pending ack and drops volatile events",
     test_a_full_queue_keeps_no_pending_ack},
    {"a full queue drops packets but keeps the session",
     test_a_full_queue_drops_packets_but_keeps_the_session},
    {"the chat room hears joins, messages and leaves",
     test_chat_room_hears_joins_messages_and_leaves},
    {"the chat cuts a long message between characters",
     test_chat_cuts_a_long_message_between_characters},
    {"the API refuses text that is not UTF-8 and sends what follows",
     test_api_refuses_text_that_is_not_utf8},
    {"an application loads from a shared object",
     test_plugin_loads_from_a_shared_object},
    {"processes racing to end a session run on_close once",
     test_racing_processes_run_on_close_once},
    {"a handler's effects land together after it returns",
     test_effects_land_together_after_the_handler},
    {"a session closed between run and apply drops the effects",
     test_session_closed_between_run_and_apply_drops_the_effects},
    {"on_close runs once, outside the transaction, with its effects",
     test_on_close_runs_once_with_its_effects},
    {"a handler reads its own writes", test_a_handler_reads_its_own_writes},
    {"an ack applied twice runs its handler's effects once",
     test_an_ack_applied_twice_runs_its_effects_once},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("session", tests, setup, teardown);
}
