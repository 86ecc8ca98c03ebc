/*
 * test_actions.c: the JSON actions of the publish endpoint and the bridge
 * (common/actions.c): every action applied to a real store in a
 * temporary directory and its packets read back from the outbox, every
 * refusal of the parse with its message, and the apply's one transaction.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "buf.h"
#include "cu.h"
#include "fixture.h"
#include "packet.h"
#include "session.h"
#include "store.h"

static struct sio_buf closed; /* "<endpoint>;" per on_close */

static void
app_close(struct sio_conn *c)
{
	sio_buf_printf(&closed, "%s;", sio_conn_endpoint(c));
}

static const struct sio_app app_root = {.endpoint = "", .on_close = app_close};
static const struct sio_app app_chat = {.endpoint = "/chat",
                                        .on_close = app_close};
static const struct sio_app *const app_list[] = {&app_root, &app_chat, NULL};
static const struct sio_plugin app_plugin = {SIO_API_VERSION, "actions",
                                             app_list};

static void
setup(void)
{
	fixture_setup(&app_plugin);
	sio_buf_init(&closed);
	sio_buf_puts(&closed, "");
}

static void
teardown(void)
{
	sio_buf_cleanup(&closed);
	fixture_teardown();
}

/* A session on the test transport, its `1::` drained; with "/chat"
 * connected when chat. */
static void
session(char sid[SIO_SID_LEN + 1], int chat)
{
	open_session(sid, NULL);
	if (chat)
		CU_ASSERT_FATAL(feed(sid, "1::/chat") == SIO_OK);
	free(drain(sid));
}

/* Parses and applies body (with %s replaced by sid, up to three times),
 * and returns the results as compact JSON; the caller frees it. NULL when
 * the parse or the apply failed. */
static char *
run(const char *fmt, const char *s1, const char *s2, const char *s3)
{
	char body[4096], err[SIO_ERR_LEN];
	struct sio_actions *a;
	json_t *res;
	char *out;

	snprintf(body, sizeof(body), fmt, s1, s2, s3);
	if (sio_actions_parse(body, strlen(body), 100, NULL, &a, err) !=
	    SIO_OK) {
		fprintf(stderr, "\n  parse: %s\n", err);
		return NULL;
	}
	res = json_array();
	if (sio_actions_apply(&x, a, res) != SIO_OK) {
		CU_ASSERT_EQUAL(json_array_size(res), 0);
		json_decref(res);
		sio_actions_free(a);
		return NULL;
	}
	for (size_t i = 0; i < sio_actions_count(a); i++)
		if (sio_actions_is_disconnect(a, i))
			CU_ASSERT_EQUAL(
			    sio_actions_disconnect(&x, a, i, now, res), SIO_OK);
	sio_actions_free(a);
	out = json_dumps(res, JSON_COMPACT);
	json_decref(res);
	return out;
}

#define EXPECT_RUN(want, fmt, s1, s2, s3)                                      \
	do {                                                                   \
		char *got_ = run(fmt, s1, s2, s3);                             \
		CU_ASSERT_PTR_NOT_NULL(got_);                                  \
		if (got_ != NULL) {                                            \
			CU_ASSERT_STRING_EQUAL(got_, want);                    \
			if (strcmp(got_, want) != 0)                           \
				fprintf(stderr, "\n  got  %s\n  want %s\n",    \
				        got_, want);                           \
		}                                                              \
		free(got_);                                                    \
	} while (0)

static void
test_packets_to_a_session_in_order(void)
{
	char sid[SIO_SID_LEN + 1];

	session(sid, 1);
	EXPECT_RUN("[{\"queued\":1},{\"queued\":1},{\"queued\":1},"
	           "{\"queued\":1},{\"queued\":1}]",
	           "{\"actions\":["
	           "{\"do\":\"emit\",\"sid\":\"%s\",\"name\":\"news\","
	           "\"args\":[1,\"two\",{\"3\":null}]},"
	           "{\"do\":\"send\",\"sid\":\"%s\",\"data\":\"caf\xc3\xa9\"},"
	           "{\"do\":\"json\",\"sid\":\"%s\",\"data\":{\"k\":[true]}},"
	           "{\"do\":\"emit\",\"sid\":\"%1$s\",\"name\":\"bare\","
	           "\"endpoint\":\"/chat\"},"
	           "{\"do\":\"send\",\"sid\":\"%1$s\",\"data\":\"\","
	           "\"endpoint\":\"/\"}]}",
	           sid, sid, sid);
	EXPECT(sid,
	       "5:::{\"name\":\"news\",\"args\":[1,\"two\",{\"3\":null}]}\n"
	       "3:::caf\xc3\xa9\n"
	       "4:::{\"k\":[true]}\n"
	       "5::/chat:{\"name\":\"bare\"}\n"
	       "3:::");
}

static void
test_rooms_join_emit_leave(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];

	session(a, 1);
	session(b, 1);
	EXPECT_RUN("[{\"done\":true},{\"done\":true},{\"queued\":2},"
	           "{\"queued\":0}]",
	           "{\"actions\":["
	           "{\"do\":\"join\",\"sid\":\"%s\",\"room\":\"r1\","
	           "\"endpoint\":\"/chat\"},"
	           "{\"do\":\"join\",\"sid\":\"%s\",\"room\":\"r1\","
	           "\"endpoint\":\"/chat\"},"
	           "{\"do\":\"send\",\"room\":\"r1\",\"endpoint\":\"/chat\","
	           "\"data\":\"hi\"},"
	           "{\"do\":\"send\",\"room\":\"r1\",\"data\":\"root\"}]}",
	           a, b, NULL);
	EXPECT(a, "3::/chat:hi");
	EXPECT(b, "3::/chat:hi");
	EXPECT_RUN("[{\"done\":true},{\"queued\":1}]",
	           "{\"actions\":["
	           "{\"do\":\"leave\",\"sid\":\"%s\",\"room\":\"r1\","
	           "\"endpoint\":\"/chat\"},"
	           "{\"do\":\"send\",\"room\":\"r1\",\"endpoint\":\"/chat\","
	           "\"data\":\"again\"}]}",
	           a, NULL, NULL);
	EXPECT(a, "");
	EXPECT(b, "3::/chat:again");
	/* joining a room of an endpoint the session is not on */
	EXPECT_RUN("[{\"error\":\"endpoint not connected\"}]",
	           "{\"actions\":[{\"do\":\"join\",\"sid\":\"%s\","
	           "\"room\":\"r\",\"endpoint\":\"/nowhere\"}]}",
	           a, NULL, NULL);
}

static void
test_endpoint_broadcast_with_exclude(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], c[SIO_SID_LEN + 1];

	session(a, 1);
	session(b, 1);
	session(c, 0);
	EXPECT_RUN("[{\"queued\":1},{\"queued\":2}]",
	           "{\"actions\":["
	           "{\"do\":\"emit\",\"endpoint\":\"/chat\",\"name\":\"e\","
	           "\"exclude\":\"%s\"},"
	           "{\"do\":\"emit\",\"name\":\"all\",\"exclude\":\"%s\"}]}",
	           a, c, NULL);
	EXPECT(a, "5:::{\"name\":\"all\"}");
	EXPECT(b, "5::/chat:{\"name\":\"e\"}\n5:::{\"name\":\"all\"}");
	EXPECT(c, "");
}

static void
test_set_stores_session_data(void)
{
	char sid[SIO_SID_LEN + 1], *v;

	session(sid, 0);
	EXPECT_RUN("[{\"done\":true},{\"done\":true}]",
	           "{\"actions\":["
	           "{\"do\":\"set\",\"sid\":\"%s\",\"key\":\"k\","
	           "\"value\":\"v1\"},"
	           "{\"do\":\"set\",\"sid\":\"%s\",\"key\":\"gone\","
	           "\"value\":null}]}",
	           sid, sid, NULL);
	v = sio_store_data_get(st, sid, "k");
	CU_ASSERT_PTR_NOT_NULL(v);
	if (v != NULL)
		CU_ASSERT_STRING_EQUAL(v, "v1");
	free(v);
	EXPECT_RUN("[{\"done\":true}]",
	           "{\"actions\":[{\"do\":\"set\",\"sid\":\"%s\",\"key\":\"k\","
	           "\"value\":null}]}",
	           sid, NULL, NULL);
	CU_ASSERT_PTR_NULL(sio_store_data_get(st, sid, "k"));
}

static void
test_disconnect_an_endpoint_then_the_session(void)
{
	char sid[SIO_SID_LEN + 1];
	long long lr;

	session(sid, 1);
	EXPECT_RUN("[{\"queued\":1},{\"done\":true},"
	           "{\"error\":\"endpoint not connected\"}]",
	           "{\"actions\":["
	           "{\"do\":\"send\",\"sid\":\"%s\",\"data\":\"bye\"},"
	           "{\"do\":\"disconnect\",\"sid\":\"%s\","
	           "\"endpoint\":\"/chat\"},"
	           "{\"do\":\"disconnect\",\"sid\":\"%s\","
	           "\"endpoint\":\"/chat\"}]}",
	           sid, sid, sid);
	EXPECT(sid, "3:::bye\n0::/chat");
	CU_ASSERT_STRING_EQUAL(closed.p, "/chat;");
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, sid, "/chat"), 0);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &lr),
	                SIO_SESSION_OPEN);
	EXPECT_RUN("[{\"done\":true},{\"error\":\"no such session\"}]",
	           "{\"actions\":["
	           "{\"do\":\"disconnect\",\"sid\":\"%s\"},"
	           "{\"do\":\"disconnect\",\"sid\":\"%s\"}]}",
	           sid, sid, NULL);
	EXPECT(sid, "0::");
	CU_ASSERT_STRING_EQUAL(closed.p, "/chat;;");
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &lr),
	                SIO_SESSION_CLOSED);
}

static void
test_ended_and_absent_sessions_say_so(void)
{
	char sid[SIO_SID_LEN + 1];
	const char *ghost = "AAAAAAAAAAAAAAAAAAAAAA";

	session(sid, 0);
	CU_ASSERT_EQUAL(sio_session_end(&x, sid, "test", now), 1);
	EXPECT_RUN("[{\"error\":\"no such session\"},"
	           "{\"error\":\"no such session\"},"
	           "{\"error\":\"no such session\"},"
	           "{\"error\":\"no such session\"}]",
	           "{\"actions\":["
	           "{\"do\":\"emit\",\"sid\":\"%s\",\"name\":\"x\"},"
	           "{\"do\":\"join\",\"sid\":\"%s\",\"room\":\"r\"},"
	           "{\"do\":\"set\",\"sid\":\"%s\",\"key\":\"k\","
	           "\"value\":\"v\"},"
	           "{\"do\":\"disconnect\",\"sid\":\"%1$s\"}]}",
	           sid, sid, sid);
	EXPECT_RUN("[{\"error\":\"no such session\"},{\"queued\":0}]",
	           "{\"actions\":["
	           "{\"do\":\"send\",\"sid\":\"%s\",\"data\":\"x\"},"
	           "{\"do\":\"send\",\"room\":\"nobody\",\"data\":\"x\"}]}",
	           ghost, NULL, NULL);
	/* the engine's answer for the endpoint of an absent session */
	CU_ASSERT_EQUAL(sio_session_close_endpoint(&x, ghost, "/chat", now),
	                SIO_CLOSED);
}

static void
test_volatile_is_dropped_without_a_transport(void)
{
	char on[SIO_SID_LEN + 1], off[SIO_SID_LEN + 1];
	struct sio_request req;

	session(on, 0);
	CU_ASSERT_FATAL(sio_request_init(&req, "127.0.0.1", NULL, NULL) ==
	                SIO_OK);
	CU_ASSERT_FATAL(sio_session_handshake(&x, &req, now, off) == SIO_OK);
	sio_request_cleanup(&req);
	EXPECT_RUN("[{\"queued\":1},{\"queued\":0},{\"queued\":1},"
	           "{\"queued\":1}]",
	           "{\"actions\":["
	           "{\"do\":\"emit\",\"sid\":\"%s\",\"name\":\"v\","
	           "\"volatile\":true},"
	           "{\"do\":\"emit\",\"sid\":\"%s\",\"name\":\"v\","
	           "\"volatile\":true},"
	           "{\"do\":\"emit\",\"name\":\"all\",\"volatile\":true},"
	           "{\"do\":\"emit\",\"sid\":\"%2$s\",\"name\":\"kept\","
	           "\"volatile\":false}]}",
	           on, off, NULL);
	EXPECT(on, "5:::{\"name\":\"v\"}\n5:::{\"name\":\"all\"}");
	EXPECT(off, "5:::{\"name\":\"kept\"}");
}

/* A full queue drops the packet and says so; the rest apply. */
static void
test_a_full_queue_drops_and_says_so(void)
{
	char sid[SIO_SID_LEN + 1];

	sio_store_close(st);
	fixture_open_store(2);
	session(sid, 0);
	EXPECT_RUN("[{\"queued\":1},{\"queued\":1},{\"queued\":0,"
	           "\"dropped\":1},{\"queued\":0}]",
	           "{\"actions\":["
	           "{\"do\":\"send\",\"sid\":\"%s\",\"data\":\"1\"},"
	           "{\"do\":\"send\",\"sid\":\"%s\",\"data\":\"2\"},"
	           "{\"do\":\"send\",\"sid\":\"%s\",\"data\":\"3\"},"
	           "{\"do\":\"send\",\"data\":\"4\"}]}",
	           sid, sid, sid);
	EXPECT(sid, "3:::1\n3:::2");
}

/* A store failure in the middle (a trigger refuses the join) undoes the
 * packets written before it: nothing is applied, no results. */
static void
test_a_store_failure_applies_nothing(void)
{
	char sid[SIO_SID_LEN + 1], *path;
	sqlite3 *db;

	session(sid, 0);
	CU_ASSERT_FATAL(asprintf(&path, "%s/siogate.db", dir) > 0);
	CU_ASSERT_FATAL(sqlite3_open(path, &db) == SQLITE_OK);
	free(path);
	CU_ASSERT_FATAL(sqlite3_exec(db,
	                             "CREATE TRIGGER refuse BEFORE INSERT ON "
	                             "rooms BEGIN SELECT RAISE(ABORT, "
	                             "'provoked'); END",
	                             NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CU_ASSERT_PTR_NULL(
	    run("{\"actions\":["
	        "{\"do\":\"send\",\"sid\":\"%s\",\"data\":\"1\"},"
	        "{\"do\":\"set\",\"sid\":\"%s\",\"key\":\"k\","
	        "\"value\":\"v\"},"
	        "{\"do\":\"join\",\"sid\":\"%s\",\"room\":\"r\"}]}",
	        sid, sid, sid));
	EXPECT(sid, "");
	CU_ASSERT_PTR_NULL(sio_store_data_get(st, sid, "k"));
	/* and with a transaction already open, nothing either */
	CU_ASSERT_FATAL(sio_store_begin(st) == SIO_OK);
	CU_ASSERT_PTR_NULL(run("{\"actions\":[{\"do\":\"send\",\"sid\":\"%s\","
	                       "\"data\":\"1\"}]}",
	                       sid, NULL, NULL));
	CU_ASSERT_STRING_EQUAL(sio_store_errmsg(st),
	                       "a transaction is already open");
	sio_store_rollback(st);
	EXPECT(sid, "");
}

/* sio_actions_queue()'s codes, as the store's: absent, closed, and its
 * own for an endpoint the session is not connected to. */
static void
test_queue_codes(void)
{
	char sid[SIO_SID_LEN + 1];
	struct sio_actions_target t = {NULL, NULL, "", NULL};

	t.sid = "AAAAAAAAAAAAAAAAAAAAAA";
	CU_ASSERT_EQUAL(sio_actions_queue(st, &t, "3:::x", 5, 0), SIO_ABSENT);
	session(sid, 0);
	t.sid = sid;
	t.endpoint = "/chat";
	CU_ASSERT_EQUAL(sio_actions_queue(st, &t, "3::/chat:x", 10, 0),
	                SIO_ACTIONS_NOT_CONNECTED);
	t.endpoint = "";
	CU_ASSERT_EQUAL(sio_actions_queue(st, &t, "3:::x", 5, 0), 1);
	CU_ASSERT_EQUAL(sio_session_end(&x, sid, "test", now), 1);
	CU_ASSERT_EQUAL(sio_actions_queue(st, &t, "3:::y", 5, 0), SIO_CLOSED);
}

/* An endpoint's on_close runs once, however many disconnect it: the
 * claim removes it before on_close runs. */
static void
test_endpoint_on_close_runs_once(void)
{
	char sid[SIO_SID_LEN + 1];

	session(sid, 1);
	CU_ASSERT_EQUAL(sio_store_room_join(st, sid, "/chat", "r"), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_close_endpoint(&x, sid, "/chat", now), 1);
	CU_ASSERT_EQUAL(sio_session_close_endpoint(&x, sid, "/chat", now), 0);
	CU_ASSERT_STRING_EQUAL(closed.p, "/chat;");
	/* its rooms went with it */
	CU_ASSERT_EQUAL(sio_store_outbox_broadcast(st, "/chat", "r", NULL,
	                                           "3::/chat:x", 10, 0, 0),
	                0);
	/* the session's end runs only the root's now */
	CU_ASSERT_EQUAL(sio_session_end(&x, sid, "test", now), 1);
	CU_ASSERT_STRING_EQUAL(closed.p, "/chat;;");
	CU_ASSERT_EQUAL(sio_session_close_endpoint(&x, sid, "/chat", now),
	                SIO_CLOSED);
}

/* --- the parse's refusals ------------------------------------------------ */

#define SID "abcdefghijklmnopqrstuv"

static void
refuse(const char *body, int want_rc, const char *want_err)
{
	char err[SIO_ERR_LEN] = "";
	struct sio_actions *a = (struct sio_actions *)&err; /* not NULL */
	int rc =
	    sio_actions_parse_max(body, strlen(body), 5, 1000, NULL, &a, err);

	CU_ASSERT_EQUAL(rc, want_rc);
	CU_ASSERT_PTR_NULL(a);
	CU_ASSERT_STRING_EQUAL(err, want_err);
	if (strcmp(err, want_err) != 0)
		fprintf(stderr, "\n  body %s\n  got  %s\n  want %s\n", body,
		        err, want_err);
}

static void
test_parse_refuses_bad_bodies(void)
{
	static const struct {
		const char *body, *err;
	} t[] = {
	    {"{}", "body needs an actions array"},
	    {"[]", "body needs an actions array"},
	    {"{\"actions\":{}}", "body needs an actions array"},
	    {"{\"actions\":[1]}", "action 0: not an object"},
	    {"{\"actions\":[{}]}", "action 0: needs a \"do\""},
	    {"{\"actions\":[{\"do\":1}]}", "action 0: do must be a string"},
	    {"{\"actions\":[{\"do\":\"shout\"}]}",
	     "action 0: unknown do 'shout'"},
	    {"{\"actions\":[{\"do\":\"ack\"}]}",
	     "action 0: ack is for bridge responses"},
	    {"{\"actions\":[{\"do\":\"nack\"}]}",
	     "action 0: unknown do 'nack'"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\"},{\"do\":"
	     "\"emit\"}]}",
	     "action 1: emit needs a name"},
	    {"{\"actions\":[{\"do\":\"emit\",\"name\":3}]}",
	     "action 0: name must be a string"},
	    {"{\"actions\":[{\"do\":\"emit\",\"name\":\"\"}]}",
	     "action 0: bad event name ''"},
	    {"{\"actions\":[{\"do\":\"emit\",\"name\":\"e\",\"args\":{}}]}",
	     "action 0: args must be an array"},
	    {"{\"actions\":[{\"do\":\"emit\",\"name\":\"e\",\"volatile\":1}]}",
	     "action 0: volatile must be true or false"},
	    {"{\"actions\":[{\"do\":\"emit\",\"name\":\"e\",\"arg\":[]}]}",
	     "action 0: emit has no field 'arg'"},
	    {"{\"actions\":[{\"do\":\"send\"}]}", "action 0: send needs data"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":1}]}",
	     "action 0: data must be a string"},
	    {"{\"actions\":[{\"do\":\"json\"}]}", "action 0: json needs data"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"volatile\":true}]"
	     "}",
	     "action 0: send has no field 'volatile'"},
	    {"{\"actions\":[{\"do\":\"join\",\"room\":\"r\"}]}",
	     "action 0: join needs a sid"},
	    {"{\"actions\":[{\"do\":\"join\",\"sid\":\"" SID "\"}]}",
	     "action 0: join needs a room"},
	    {"{\"actions\":[{\"do\":\"leave\",\"sid\":\"" SID "\"}]}",
	     "action 0: leave needs a room"},
	    {"{\"actions\":[{\"do\":\"join\",\"sid\":\"" SID
	     "\",\"room\":\"\"}]}",
	     "action 0: bad room (1 to 256 bytes)"},
	    {"{\"actions\":[{\"do\":\"set\",\"sid\":\"" SID "\"}]}",
	     "action 0: set needs a key"},
	    {"{\"actions\":[{\"do\":\"set\",\"sid\":\"" SID "\",\"key\":\"\","
	     "\"value\":null}]}",
	     "action 0: bad key (1 to 256 bytes)"},
	    {"{\"actions\":[{\"do\":\"set\",\"sid\":\"" SID
	     "\",\"key\":\"k\"}]}",
	     "action 0: set needs a value (null deletes)"},
	    {"{\"actions\":[{\"do\":\"set\",\"sid\":\"" SID "\",\"key\":\"k\","
	     "\"value\":1}]}",
	     "action 0: value must be a string or null"},
	    {"{\"actions\":[{\"do\":\"disconnect\"}]}",
	     "action 0: disconnect needs a sid"},
	    {"{\"actions\":[{\"do\":\"disconnect\",\"broadcast\":true}]}",
	     "action 0: disconnect has no field 'broadcast'"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"broadcast\":"
	     "true}]}",
	     "action 0: send has no field 'broadcast'"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"do sid\":1}]}",
	     "action 0: send has no field 'do sid'"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"\":1}]}",
	     "action 0: send has no field ''"},
	    {"{\"actions\":[{\"do\":\"set\",\"sid\":\"" SID "\",\"key\":\"k\","
	     "\"value\":null,\"room\":\"r\"}]}",
	     "action 0: set has no field 'room'"},
	    {"{\"actions\":[{\"do\":\"disconnect\",\"sid\":\"" SID
	     "\",\"room\":\"r\"}]}",
	     "action 0: disconnect has no field 'room'"},
	    {"{\"actions\":[{\"do\":\"join\",\"sid\":\"" SID
	     "\",\"room\":\"r\",\"exclude\":\"" SID "\"}]}",
	     "action 0: join has no field 'exclude'"},
	    {"{\"actions\":[],\"actions\":[]}",
	     "not JSON: duplicate object key near '\"actions\"'"},
	    {"{\"actions\":[{\"do\":\"json\",\"data\":1e999}]}",
	     "not JSON: real number overflow near '1e999'"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"sid\":\"short\"}]"
	     "}",
	     "action 0: bad sid (not a session id)"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"sid\":"
	     "\"abcdefghijklmnopqrstu!\"}]}",
	     "action 0: bad sid (not a session id)"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"sid\":7}]}",
	     "action 0: bad sid (not a session id)"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"sid\":\"" SID
	     "\",\"room\":\"r\"}]}",
	     "action 0: a sid goes with neither room nor broadcast"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"sid\":\"" SID
	     "\",\"exclude\":\"" SID "\"}]}",
	     "action 0: exclude goes with a room or endpoint target"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"exclude\":\"x\"}]"
	     "}",
	     "action 0: bad exclude (not a session id)"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"endpoint\":"
	     "\"chat\"}]}",
	     "action 0: bad endpoint 'chat' (\"\" or /name)"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"endpoint\":"
	     "\"/a:b\"}]}",
	     "action 0: bad endpoint '/a:b' (\"\" or /name)"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"endpoint\":1}]}",
	     "action 0: endpoint must be a string"},
	    {"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"sid\":\"" SID
	     "\",\"sid\":\"" SID "\"}]}",
	     "not JSON: duplicate object key near '\"sid\"'"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		refuse(t[i].body, SIO_ERR, t[i].err);
}

static void
test_parse_refuses_what_is_not_json_or_utf8(void)
{
	char err[SIO_ERR_LEN];
	struct sio_actions *a;
	static const char *const bad[] = {
	    "",
	    "{",
	    "{\"actions\":[]",
	    "{\"actions\":[{\"do\":\"send\","
	    "\"data\":\"\xff\"}]}",
	    "{\"actions\":[{\"do\":\"send\",\"data\":\"caf\xc3\"}]}",
	    "{\"actions\":[{\"do\":\"send\",\"data\":\"a\\u0000b\"}]}",
	    "{\"actions\":[{\"do\":\"send\",\"data\":\"\\ud800\"}]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(
		    sio_actions_parse(bad[i], strlen(bad[i]), 5, NULL, &a, err),
		    SIO_ERR);
		CU_ASSERT_PTR_NULL(a);
		CU_ASSERT(strncmp(err, "not JSON: ", 10) == 0);
	}
}

#define SEND0 "{\"do\":\"send\",\"data\":\"\"}"
#define EMIT_FMT "{\"actions\":[{\"do\":\"emit\",\"name\":\"%s\"}]}"
#define EP_FMT                                                                 \
	"{\"actions\":[{\"do\":\"send\",\"data\":\"\",\"endpoint\":\"%s\"}]}"
#define SEND_FMT "{\"actions\":[{\"do\":\"send\",\"data\":\"%s\"}]}"

/* Parses fmt with its %s replaced by n bytes: first, then as many 'x'
 * as it takes, with max_packet 1000; the parse's code and err. */
static int
parse_sized(const char *fmt, char first, size_t n, char *err)
{
	char body[2048], s[1024];
	struct sio_actions *a = NULL;
	int rc;

	memset(s, first == '/' ? 'x' : first, n);
	s[0] = first;
	s[n] = '\0';
	snprintf(body, sizeof(body), fmt, s);
	rc = sio_actions_parse_max(body, strlen(body), 5, 1000, NULL, &a, err);
	sio_actions_free(a);
	return rc;
}

static void
test_parse_limits(void)
{
	char body[2048], err[SIO_ERR_LEN];
	struct sio_actions *a;

	refuse("{\"actions\":[{},{},{},{},{},{}]}", SIO_TOO_BIG,
	       "too many actions: 6, at most 5");
	/* five is the most: accepted */
	snprintf(body, sizeof(body), "{\"actions\":[%s,%s,%s,%s,%s]}", SEND0,
	         SEND0, SEND0, SEND0, SEND0);
	CU_ASSERT_FATAL(
	    sio_actions_parse(body, strlen(body), 5, NULL, &a, err) == SIO_OK);
	CU_ASSERT_EQUAL(sio_actions_count(a), 5);
	sio_actions_free(a);
	/* an event name of SIO_MAX_EVENT_NAME bytes, then one more */
	CU_ASSERT_EQUAL(parse_sized(EMIT_FMT, 'n', SIO_MAX_EVENT_NAME, err),
	                SIO_OK);
	CU_ASSERT_EQUAL(parse_sized(EMIT_FMT, 'n', SIO_MAX_EVENT_NAME + 1, err),
	                SIO_ERR);
	CU_ASSERT(strncmp(err, "action 0: bad event name 'nnn", 29) == 0);
	/* an endpoint of SIO_MAX_ENDPOINT bytes, then one more */
	CU_ASSERT_EQUAL(parse_sized(EP_FMT, '/', SIO_MAX_ENDPOINT, err),
	                SIO_OK);
	CU_ASSERT_EQUAL(parse_sized(EP_FMT, '/', SIO_MAX_ENDPOINT + 1, err),
	                SIO_ERR);
	CU_ASSERT_STRING_EQUAL(err, "action 0: bad endpoint (0 to 256 bytes)");
	/* a packet of max_packet (1000 here: 3::: and 996 bytes), then one
	 * more */
	CU_ASSERT_EQUAL(parse_sized(SEND_FMT, 'x', 996, err), SIO_OK);
	CU_ASSERT_EQUAL(parse_sized(SEND_FMT, 'x', 997, err), SIO_ERR);
	CU_ASSERT_STRING_EQUAL(
	    err, "action 0: packet of 1001 bytes, over max_packet 1000");
}

/* A bridge response: no target is the event's session, broadcast: true
 * the endpoint. */
static void
test_parse_with_a_self_session(void)
{
	const char *body =
	    "{\"actions\":["
	    "{\"do\":\"emit\",\"name\":\"me\"},"
	    "{\"do\":\"emit\",\"name\":\"all\",\"broadcast\":true},"
	    "{\"do\":\"set\",\"key\":\"k\",\"value\":\"v\"}]}";
	char sid[SIO_SID_LEN + 1], other[SIO_SID_LEN + 1], err[SIO_ERR_LEN];
	struct sio_actions *a;
	json_t *res = json_array();
	char *v;

	session(sid, 0);
	session(other, 0);
	CU_ASSERT_FATAL(
	    sio_actions_parse(body, strlen(body), 10, sid, &a, err) == SIO_OK);
	CU_ASSERT_EQUAL(sio_actions_apply(&x, a, res), SIO_OK);
	sio_actions_free(a);
	v = json_dumps(res, JSON_COMPACT);
	CU_ASSERT_STRING_EQUAL(v, "[{\"queued\":1},{\"queued\":2},"
	                          "{\"done\":true}]");
	free(v);
	json_decref(res);
	EXPECT(sid, "5:::{\"name\":\"me\"}\n5:::{\"name\":\"all\"}");
	EXPECT(other, "5:::{\"name\":\"all\"}");
	v = sio_store_data_get(st, sid, "k");
	CU_ASSERT(v != NULL && strcmp(v, "v") == 0);
	free(v);
	/* broadcast is a packet's, and only a bridge response's */
	body = "{\"actions\":[{\"do\":\"send\",\"data\":\"\","
	       "\"broadcast\":1}]}";
	CU_ASSERT_EQUAL(sio_actions_parse(body, strlen(body), 10, sid, &a, err),
	                SIO_ERR);
	CU_ASSERT_STRING_EQUAL(err,
	                       "action 0: broadcast must be true or false");
	body = "{\"actions\":[{\"do\":\"set\",\"key\":\"k\",\"value\":null,"
	       "\"broadcast\":true}]}";
	CU_ASSERT_EQUAL(sio_actions_parse(body, strlen(body), 10, sid, &a, err),
	                SIO_ERR);
	CU_ASSERT_STRING_EQUAL(err, "action 0: set has no field 'broadcast'");
}

/* A bridge response to an event on /chat with ack id 7: actions default
 * to /chat, ack answers `6::/chat:7+[..]` once, reject only where the
 * event may be refused, and neither outside a bridge response. */
static void
test_parse_a_bridge_response(void)
{
	struct sio_actions_self self = {NULL, "/chat", 7, 0};
	char sid[SIO_SID_LEN + 1], err[SIO_ERR_LEN];
	struct sio_actions *a;
	json_t *res = json_array();
	const char *body =
	    "{\"actions\":[{\"do\":\"emit\",\"name\":\"e\"},"
	    "{\"do\":\"ack\",\"args\":[1,\"x\"]},"
	    "{\"do\":\"send\",\"data\":\"root\",\"endpoint\":\"\"}]}";
	char *v;

	session(sid, 1);
	self.sid = sid;
	CU_ASSERT_FATAL(sio_actions_parse_self(body, strlen(body), 10,
	                                       SIO_MAX_PACKET, &self, &a,
	                                       err) == SIO_OK);
	CU_ASSERT_EQUAL(sio_actions_rejected(a), 0);
	/* inside the caller's transaction only */
	CU_ASSERT_EQUAL(sio_actions_apply_locked(&x, a, res), SIO_ERR);
	CU_ASSERT_FATAL(sio_store_begin(st) == SIO_OK);
	CU_ASSERT_EQUAL(sio_actions_apply_locked(&x, a, res), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	sio_actions_free(a);
	v = json_dumps(res, JSON_COMPACT);
	CU_ASSERT_STRING_EQUAL(v, "[{\"queued\":1},{\"queued\":1},"
	                          "{\"queued\":1}]");
	free(v);
	json_decref(res);
	EXPECT(sid, "5::/chat:{\"name\":\"e\"}\n6::/chat:7+[1,\"x\"]\n"
	            "3:::root");
	/* an ack without args is the bare id */
	body = "{\"actions\":[{\"do\":\"ack\"}]}";
	CU_ASSERT_FATAL(sio_actions_parse_self(body, strlen(body), 10,
	                                       SIO_MAX_PACKET, &self, &a,
	                                       err) == SIO_OK);
	res = json_array();
	CU_ASSERT_EQUAL(sio_actions_apply(&x, a, res), SIO_OK);
	json_decref(res);
	sio_actions_free(a);
	EXPECT(sid, "6::/chat:7");
	/* refusals */
	body = "{\"actions\":[{\"do\":\"ack\"},{\"do\":\"ack\"}]}";
	CU_ASSERT_EQUAL(sio_actions_parse_self(body, strlen(body), 10,
	                                       SIO_MAX_PACKET, &self, &a, err),
	                SIO_ERR);
	CU_ASSERT_STRING_EQUAL(err, "action 1: one ack per event");
	body = "{\"actions\":[{\"do\":\"reject\"}]}";
	CU_ASSERT_EQUAL(sio_actions_parse_self(body, strlen(body), 10,
	                                       SIO_MAX_PACKET, &self, &a, err),
	                SIO_ERR);
	CU_ASSERT_STRING_EQUAL(
	    err, "action 0: reject answers only an open or a connect");
	self.may_reject = 1;
	CU_ASSERT_FATAL(sio_actions_parse_self(body, strlen(body), 10,
	                                       SIO_MAX_PACKET, &self, &a,
	                                       err) == SIO_OK);
	CU_ASSERT_EQUAL(sio_actions_rejected(a), 1);
	sio_actions_free(a);
	self.ack = -1;
	body = "{\"actions\":[{\"do\":\"ack\",\"args\":[]}]}";
	CU_ASSERT_EQUAL(sio_actions_parse_self(body, strlen(body), 10,
	                                       SIO_MAX_PACKET, &self, &a, err),
	                SIO_ERR);
	CU_ASSERT_STRING_EQUAL(err, "action 0: the event asked for no ack");
	body = "{\"actions\":[{\"do\":\"ack\",\"args\":{}}]}";
	self.ack = 1;
	CU_ASSERT_EQUAL(sio_actions_parse_self(body, strlen(body), 10,
	                                       SIO_MAX_PACKET, &self, &a, err),
	                SIO_ERR);
	CU_ASSERT_STRING_EQUAL(err, "action 0: args must be an array");
	/* publish bodies have neither */
	CU_ASSERT_EQUAL(
	    sio_actions_parse(body, strlen(body), 10, NULL, &a, err), SIO_ERR);
	CU_ASSERT_STRING_EQUAL(err, "action 0: ack is for bridge responses");
}

/* A set's value of SIO_ACTIONS_MAX_VALUE bytes, then one more; at most
 * SIO_ACTIONS_MAX_DISCONNECTS disconnects; nesting past jansson's depth. */
static void
test_parse_value_disconnect_and_depth_limits(void)
{
	size_t cap = SIO_ACTIONS_MAX_VALUE + 4096;
	char *body = malloc(cap), err[SIO_ERR_LEN];
	struct sio_actions *a = NULL;
	size_t n;
	int rc;

	CU_ASSERT_FATAL(body != NULL);
	for (int extra = 0; extra <= 1; extra++) {
		n = (size_t)snprintf(body, cap,
		                     "{\"actions\":[{\"do\":\"set\",\"sid\":"
		                     "\"" SID "\",\"key\":\"k\",\"value\":\"");
		memset(body + n, 'v', SIO_ACTIONS_MAX_VALUE + extra);
		n += SIO_ACTIONS_MAX_VALUE + extra;
		n += (size_t)snprintf(body + n, cap - n, "\"}]}");
		rc = sio_actions_parse(body, n, 5, NULL, &a, err);
		CU_ASSERT_EQUAL(rc, extra ? SIO_ERR : SIO_OK);
		sio_actions_free(a);
	}
	CU_ASSERT_STRING_EQUAL(err, "action 0: value of 65537 bytes, over "
	                            "65536");
	for (int extra = 0; extra <= 1; extra++) {
		n = (size_t)snprintf(body, cap, "{\"actions\":[");
		for (int i = 0; i < SIO_ACTIONS_MAX_DISCONNECTS + extra; i++)
			n +=
			    (size_t)snprintf(body + n, cap - n,
			                     "%s{\"do\":\"disconnect\",\"sid\":"
			                     "\"" SID "\"}",
			                     i ? "," : "");
		n += (size_t)snprintf(body + n, cap - n, "]}");
		rc = sio_actions_parse(body, n, 1000, NULL, &a, err);
		CU_ASSERT_EQUAL(rc, extra ? SIO_TOO_BIG : SIO_OK);
		sio_actions_free(a);
	}
	CU_ASSERT_STRING_EQUAL(err, "action 100: more than 100 disconnects");
	/* json data nested 5000 deep: refused by the parser, no crash */
	n = (size_t)snprintf(body, cap,
	                     "{\"actions\":[{\"do\":\"json\",\"data\":");
	memset(body + n, '[', 5000);
	n += 5000;
	memset(body + n, ']', 5000);
	n += 5000;
	n += (size_t)snprintf(body + n, cap - n, "}]}");
	CU_ASSERT_EQUAL(sio_actions_parse(body, n, 5, NULL, &a, err), SIO_ERR);
	CU_ASSERT(strncmp(err, "not JSON: ", 10) == 0);
	free(body);
}

/* Every prefix of a good body is refused cleanly, never a crash. */
static void
test_parse_every_truncation(void)
{
	const char *body = "{\"actions\":[{\"do\":\"emit\",\"sid\":\"" SID
	                   "\",\"name\":\"e\",\"args\":[1,{\"a\":[]}]},"
	                   "{\"do\":\"set\",\"sid\":\"" SID "\",\"key\":\"k\","
	                   "\"value\":null}]}";
	size_t n = strlen(body);
	char err[SIO_ERR_LEN];
	struct sio_actions *a;

	for (size_t len = 0; len < n; len++) {
		char *copy = malloc(len + 1);
		memcpy(copy, body, len);
		copy[len] = '\0';
		CU_ASSERT_EQUAL(sio_actions_parse(copy, len, 5, NULL, &a, err),
		                SIO_ERR);
		CU_ASSERT_PTR_NULL(a);
		free(copy);
	}
	CU_ASSERT_EQUAL(sio_actions_parse(body, n, 5, NULL, &a, err), SIO_OK);
	sio_actions_free(a);
}

static void
test_encode_and_event_shared_with_sioctl(void)
{
	char err[SIO_ERR_LEN];
	struct sio_buf b;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_actions_encode(&b, SIO_PKT_MESSAGE, "/a", "hi", 2,
	                                   SIO_MAX_PACKET, err),
	                SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "3::/a:hi");
	CU_ASSERT_EQUAL(sio_actions_encode(&b, SIO_PKT_MESSAGE, "", "\xff", 1,
	                                   SIO_MAX_PACKET, err),
	                SIO_ERR);
	CU_ASSERT_STRING_EQUAL(err, "the text or endpoint is not valid UTF-8");
	CU_ASSERT_EQUAL(b.len, 8);
	CU_ASSERT_EQUAL(sio_actions_encode(&b, SIO_PKT_MESSAGE, "/a:b", "", 0,
	                                   SIO_MAX_PACKET, err),
	                SIO_ERR);
	CU_ASSERT_STRING_EQUAL(err, "cannot encode for endpoint '/a:b'");
	CU_ASSERT_EQUAL(b.len, 8);
	sio_buf_reset(&b);
	CU_ASSERT_EQUAL(sio_actions_event(&b, "ev", NULL, err), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "{\"name\":\"ev\"}");
	CU_ASSERT_EQUAL(sio_actions_event(&b, "", NULL, err), SIO_ERR);
	CU_ASSERT_STRING_EQUAL(err, "bad event name ''");
	CU_ASSERT_EQUAL(sio_actions_sid_form(SID), 1);
	CU_ASSERT_EQUAL(sio_actions_sid_form("abc-_"), 0);
	sio_buf_cleanup(&b);
}

int
main(void)
{
	static const struct cu_test tests[] = {
	    {"emit, send and json reach a session in order",
	     test_packets_to_a_session_in_order},
	    {"join, a room's emit, leave", test_rooms_join_emit_leave},
	    {"an endpoint's broadcast leaves out the excluded session",
	     test_endpoint_broadcast_with_exclude},
	    {"set stores and null deletes session data",
	     test_set_stores_session_data},
	    {"disconnect an endpoint runs its on_close, then the session's",
	     test_disconnect_an_endpoint_then_the_session},
	    {"an ended or absent session's result says so",
	     test_ended_and_absent_sessions_say_so},
	    {"a volatile emit is dropped without a transport",
	     test_volatile_is_dropped_without_a_transport},
	    {"a full queue drops the packet and says so",
	     test_a_full_queue_drops_and_says_so},
	    {"a store failure in the middle applies nothing",
	     test_a_store_failure_applies_nothing},
	    {"parse refuses bad bodies with the action's index",
	     test_parse_refuses_bad_bodies},
	    {"parse refuses what is not JSON or not UTF-8",
	     test_parse_refuses_what_is_not_json_or_utf8},
	    {"parse limits: actions, name, endpoint, packet",
	     test_parse_limits},
	    {"parse with a self session: targets and broadcast",
	     test_parse_with_a_self_session},
	    {"a bridge response: default endpoint, ack, reject",
	     test_parse_a_bridge_response},
	    {"parse limits: a set's value, disconnects, nesting",
	     test_parse_value_disconnect_and_depth_limits},
	    {"queue's codes: absent, closed, not connected", test_queue_codes},
	    {"an endpoint's on_close runs once",
	     test_endpoint_on_close_runs_once},
	    {"parse refuses every truncation of a good body",
	     test_parse_every_truncation},
	    {"encode and event, shared with sioctl",
	     test_encode_and_event_shared_with_sioctl},
	    {NULL, NULL},
	};
	return cu_run("actions", tests, setup, teardown);
}
