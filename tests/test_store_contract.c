/*
 * test_store_contract.c: the store's contract, the CUnit suite that every
 * backend of common/store.h must pass. It calls sio_store_* and nothing
 * else of the store (no SQL, no file of the database looked at), so what
 * it checks is what store.h promises, whichever engine keeps the rows;
 * SQLite's own checks (schema, file modes, WAL, migrations, rows written
 * by the sqlite3 shell) stay in test_store.c.
 *
 * Plugging in a backend: contract_open() is the one place that opens a
 * store. It reads $SIO_TEST_STORE ("sqlite", the default: a file in the
 * test's temporary directory) and opens one more connection to the
 * test's store each time it is called; contract_close() closes one, and
 * teardown() whatever a test left open (an assertion that ends a test
 * skips its own closes). "postgresql" gives each test an empty database
 * of its own, made in setup() and dropped in teardown() through libpq,
 * on the cluster that $SIO_TEST_PG_HOST, _PORT and _USER name
 * (scripts/pg-cluster.sh env; make check-pg); it needs the suite built
 * with SIO_TEST_PG (the Makefile's PG). The run directory for doorbells
 * is always the test's temporary directory: doorbells are the front's,
 * the same for every backend. Where concurrency is the contract, two
 * connections to one store (and threads, one connection each) race for
 * real.
 *
 * Every put and broadcast goes through put_at() and broadcast_at(), so
 * that a change of how a delay is given touches those two only.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef SIO_TEST_PG
#include <libpq-fe.h>
#endif

#include "cu.h"
#include "doorbell.h"
#include "session.h"
#include "store.h"

#define T0 1700000000000LL /* a fake "now" */

static char *tmp;            /* per-test directory: the store, the bells */
static struct sio_store *st; /* the test's first connection */

/* --- the backend under test ------------------------------------------- */

/* The connections a test opened and has not closed (contract_open() is
 * called from the test's thread only). */
#define CONTRACT_CONNS 16
static struct sio_store *conns[CONTRACT_CONNS];

static const char *
backend_name(void)
{
	const char *b = getenv("SIO_TEST_STORE");

	return b == NULL || *b == '\0' ? "sqlite" : b;
}

#ifdef SIO_TEST_PG
static char pg_db[64]; /* the test's database; "" when none was made */
static unsigned pg_made;

/* $name, or NULL with the reason printed when unset or empty. */
static const char *
pg_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		fprintf(stderr,
		        "postgresql: %s is not set (eval the output of "
		        "scripts/pg-cluster.sh env DIR, or make check-pg)\n",
		        name);
		return NULL;
	}
	return v;
}

/* Runs sql on the cluster's database "postgres" through a connection of
 * its own. SIO_OK, or SIO_ERR with the reason printed. */
static int
pg_admin(const char *sql)
{
	const char *keys[] = {"host", "port", "user", "dbname", NULL};
	const char *vals[] = {pg_env("SIO_TEST_PG_HOST"),
	                      pg_env("SIO_TEST_PG_PORT"),
	                      pg_env("SIO_TEST_PG_USER"), "postgres", NULL};
	PGconn *c;
	PGresult *r;
	int rc = SIO_ERR;

	if (vals[0] == NULL || vals[1] == NULL || vals[2] == NULL)
		return SIO_ERR;
	c = PQconnectdbParams(keys, vals, 0);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "postgresql: %s", PQerrorMessage(c));
		PQfinish(c);
		return SIO_ERR;
	}
	r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_COMMAND_OK)
		rc = SIO_OK;
	else
		fprintf(stderr, "postgresql: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return rc;
}

/* Makes the test's empty database, contract_<pid>_<n>; pg_db stays ""
 * on failure. */
static void
pg_db_make(void)
{
	char name[sizeof(pg_db)], sql[128];

	snprintf(name, sizeof(name), "contract_%d_%u", (int)getpid(),
	         ++pg_made);
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\" TEMPLATE template0",
	         name);
	if (pg_admin(sql) == SIO_OK)
		snprintf(pg_db, sizeof(pg_db), "%s", name);
}

/* Drops the test's database, and any connection still in it. */
static void
pg_db_drop(void)
{
	char sql[128];

	if (pg_db[0] == '\0')
		return;
	snprintf(sql, sizeof(sql),
	         "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", pg_db);
	pg_admin(sql);
	pg_db[0] = '\0';
}

/* Appends sep to buf as is, then s percent-encoded but for what a URI's
 * path and query keep as is. -1 when it does not fit. */
static int
pg_uri_add(char *buf, size_t size, const char *sep, const char *s)
{
	size_t n = strlen(buf);
	int w = snprintf(buf + n, size - n, "%s", sep);

	for (;; s++) {
		unsigned char ch = (unsigned char)*s;

		if (w < 0 || (size_t)w >= size - n)
			return -1;
		n += (size_t)w;
		if (ch == '\0')
			return 0;
		if (strchr(
		        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		        "0123456789-._~/",
		        ch) != NULL)
			w = snprintf(buf + n, size - n, "%c", ch);
		else
			w = snprintf(buf + n, size - n, "%%%02X", ch);
	}
}

/* The test's database as a URI for sio_store_open(): SIO_OK, or SIO_ERR
 * with the reason in err. */
static int
pg_uri(char *uri, size_t size, char *err)
{
	const char *host = getenv("SIO_TEST_PG_HOST"),
	           *port = getenv("SIO_TEST_PG_PORT"),
	           *user = getenv("SIO_TEST_PG_USER");

	/* setup() made it with these, or said why not */
	if (pg_db[0] == '\0' || host == NULL || port == NULL || user == NULL) {
		snprintf(err, SIO_ERR_LEN, "no database made for the test");
		return SIO_ERR;
	}
	uri[0] = '\0';
	if (pg_uri_add(uri, size, "postgresql://", user) < 0 ||
	    pg_uri_add(uri, size, "@/", pg_db) < 0 ||
	    pg_uri_add(uri, size, "?host=", host) < 0 ||
	    pg_uri_add(uri, size, "&port=", port) < 0 ||
	    /* leases on the times the tests pass (pg.sql: siogate_clock) */
	    pg_uri_add(uri, size, "&options=", "-c siogate.host_clock=on") <
	        0) {
		snprintf(err, SIO_ERR_LEN, "the cluster's URI is too long");
		return SIO_ERR;
	}
	return SIO_OK;
}
#endif

/* Opens the backend's store: s, or NULL with the reason in err. */
static struct sio_store *
contract_open_backend(const struct sio_store_opts *opts, char *err)
{
	const char *backend = backend_name();
	struct sio_store *s = NULL;
	char *path = NULL;

	if (strcmp(backend, "sqlite") == 0) {
		if (asprintf(&path, "%s/contract.db", tmp) < 0)
			return NULL;
		s = sio_store_open(path, opts, err);
		free(path);
	} else if (strcmp(backend, "postgresql") == 0) {
#ifdef SIO_TEST_PG
		char uri[1024];

		if (pg_uri(uri, sizeof(uri), err) == SIO_OK)
			s = sio_store_open(uri, opts, err);
#else
		snprintf(err, SIO_ERR_LEN, "postgresql: built without libpq");
#endif
	} else {
		snprintf(err, SIO_ERR_LEN, "unknown backend %s", backend);
	}
	return s;
}

/*
 * Opens one more connection to this test's store, with a queue limit of
 * max_queue packets a session (0: SIO_MAX_QUEUE) and doorbells in tmp.
 * NULL on failure, with the reason printed.
 */
static struct sio_store *
contract_open(int max_queue)
{
	struct sio_store_opts opts = {
	    .synchronous = SIO_SYNC_NORMAL,
	    .run_dir = tmp,
	    .max_queue = max_queue,
	};
	char err[SIO_ERR_LEN] = "";
	struct sio_store *s;
	int i;

	if (tmp == NULL)
		return NULL;
	for (i = 0; i < CONTRACT_CONNS && conns[i] != NULL; i++)
		;
	if (i == CONTRACT_CONNS) {
		fprintf(stderr, "contract_open: over %d connections\n",
		        CONTRACT_CONNS);
		return NULL;
	}
	s = contract_open_backend(&opts, err);
	if (s == NULL)
		fprintf(stderr, "contract_open: %s\n", err);
	conns[i] = s;
	return s;
}

/* Closes a connection of contract_open() (NULL: nothing). */
static void
contract_close(struct sio_store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < CONTRACT_CONNS; i++)
		if (conns[i] == s)
			conns[i] = NULL;
	sio_store_close(s);
}

static void
setup(void)
{
	tmp = cu_tmpdir();
#ifdef SIO_TEST_PG
	if (strcmp(backend_name(), "postgresql") == 0)
		pg_db_make();
#endif
	st = contract_open(0);
}

static void
teardown(void)
{
	st = NULL;
	for (int i = 0; i < CONTRACT_CONNS; i++)
		contract_close(conns[i]);
#ifdef SIO_TEST_PG
	pg_db_drop();
#endif
	cu_rmtree(tmp);
	free(tmp);
	tmp = NULL;
}

/* --- helpers ------------------------------------------------------------ */

/* The two ways into the outbox, with a due time (0: now). */
static int
put_at(struct sio_store *s, const char *sid, const char *pkt, int flags,
       long long due)
{
	return sio_store_outbox_put(s, sid, pkt, strlen(pkt), flags, due);
}

static int
broadcast_at(struct sio_store *s, const char *endpoint, const char *room,
             const char *exclude, const char *pkt, int flags, long long due)
{
	return sio_store_outbox_broadcast(s, endpoint, room, exclude, pkt,
	                                  strlen(pkt), flags, due);
}

static void
put(const char *sid, const char *pkt)
{
	CU_ASSERT_EQUAL(put_at(st, sid, pkt, 0, 0), SIO_OK);
}

static void
new_session(char sid[SIO_SID_LEN + 1])
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_new(st, "{}", T0, sid), SIO_OK);
}

static int
attach(const char *sid, int transport, const char *holder, long long conn)
{
	int hello;

	return sio_session_attach(st, sid, transport, holder, conn, T0, &hello);
}

/* Two new sessions, a on a websocket of wsd-1, b of wsd-2. */
static void
two_held(char a[SIO_SID_LEN + 1], char b[SIO_SID_LEN + 1])
{
	new_session(a);
	new_session(b);
	CU_ASSERT_EQUAL(attach(a, SIO_TRANSPORT_WEBSOCKET, "wsd-1", 1), SIO_OK);
	CU_ASSERT_EQUAL(attach(b, SIO_TRANSPORT_WEBSOCKET, "wsd-2", 1), SIO_OK);
}

/* Registers a holder as a live process (this one's pid: only its lease
 * can lapse). */
static void
process(const char *name)
{
	CU_ASSERT_EQUAL(sio_store_process_register(st, name, (int)getpid(), T0),
	                SIO_OK);
}

static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Packets passed to a callback, ';'-separated; stop_at stops after that
 * many. */
static void
pkts_reset(struct cu_pkts *c)
{
	c->got[0] = '\0';
	c->n = 0;
}

/* What peek passes at now for anyone (holder NULL), into c (reset). */
static int
peek_at(const char *sid, long long now, struct cu_pkts *c, long long *last)
{
	pkts_reset(c);
	return sio_store_outbox_peek(st, sid, now, 100, NULL, 0, cu_collect, c,
	                             last);
}

static int
take(struct sio_store *s, const char *sid, const char *holder, long long conn,
     struct cu_pkts *c)
{
	pkts_reset(c);
	return sio_store_outbox_take(s, sid, T0, 100, holder, conn, cu_collect,
	                             c);
}

/* Sids passed to a callback, ';'-separated. */
struct sids {
	char got[512];
};

static void
sids_cb(void *udata, const char *sid)
{
	struct sids *l = udata;
	size_t n = strlen(l->got);

	snprintf(l->got + n, sizeof(l->got) - n, "%s;", sid);
}

static const char *
one(const char *sid)
{
	static char buf[SIO_SID_LEN + 2];

	snprintf(buf, sizeof(buf), "%s;", sid);
	return buf;
}

/* The doorbell of process name in tmp. */
static struct sio_doorbell *
bell_open(const char *name)
{
	char err[SIO_ERR_LEN] = "";
	struct sio_doorbell *d = sio_doorbell_open(tmp, name, 0, err);

	if (d == NULL)
		fprintf(stderr, "sio_doorbell_open: %s\n", err);
	return d;
}

/* The rings waiting at d, ';'-separated, in out (emptied first). */
static void
rings(struct sio_doorbell *d, struct sids *out)
{
	char sid[SIO_SID_LEN + 8];

	out->got[0] = '\0';
	while (sio_doorbell_recv(d, sid, sizeof(sid)) == SIO_OK)
		sids_cb(out, sid);
}

/* --- sessions ----------------------------------------------------------- */

static int
cmp_sid(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_session_new(void)
{
	enum { N = 200 };
	char(*sids)[SIO_SID_LEN + 1] = calloc(N, sizeof(*sids));
	struct sio_store_session s;
	long long last = 0;
	int bad = 0, dup = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sids);
	CU_ASSERT(sio_store_schema_version() >= 1);
	CU_ASSERT_EQUAL_FATAL(
	    sio_store_session_new(st, "{\"remote\":\"1.2.3.4\"}", T0, sids[0]),
	    SIO_OK);
	for (int i = 1; i < N; i++)
		bad +=
		    sio_store_session_new(st, NULL, T0 + i, sids[i]) != SIO_OK;
	CU_ASSERT_EQUAL_FATAL(sio_store_session_get(st, sids[0], &s), SIO_OK);
	CU_ASSERT_STRING_EQUAL(s.sid, sids[0]);
	CU_ASSERT_EQUAL(s.state, SIO_SESSION_HANDSHAKEN);
	CU_ASSERT_EQUAL(s.transport, -1);
	CU_ASSERT_STRING_EQUAL(s.holder, "");
	CU_ASSERT_EQUAL(s.created, T0);
	CU_ASSERT_EQUAL(s.last_recv, T0);
	CU_ASSERT_EQUAL(s.detached_at, 0);
	CU_ASSERT_EQUAL(s.closed_at, 0);
	CU_ASSERT_STRING_EQUAL(s.close_reason, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s.request);
	CU_ASSERT_STRING_EQUAL(s.request, "{\"remote\":\"1.2.3.4\"}");
	sio_store_session_cleanup(&s);
	CU_ASSERT_PTR_NULL(s.request);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_get(st, sids[1], &s), SIO_OK);
	CU_ASSERT_PTR_NULL(s.request);
	CU_ASSERT_EQUAL(s.created, T0 + 1);
	sio_store_session_cleanup(&s);
	/* the root endpoint is connected from the start */
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, sids[0], ""), 1);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sids[1], &last),
	                SIO_SESSION_HANDSHAKEN);
	CU_ASSERT_EQUAL(last, T0 + 1);
	CU_ASSERT_EQUAL(sio_store_session_get(st, "nosuchsession", &s),
	                SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_session_state(st, "nosuchsession", &last),
	                SIO_ABSENT);
	for (int i = 0; i < N; i++) {
		bad += strlen(sids[i]) != SIO_SID_LEN;
		bad +=
		    strspn(sids[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                    "abcdefghijklmnopqrstuvwxyz0123456789-_") !=
		    SIO_SID_LEN;
	}
	qsort(sids, N, sizeof(*sids), cmp_sid);
	for (int i = 1; i < N; i++)
		dup += strcmp(sids[i - 1], sids[i]) == 0;
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(dup, 0);
	CU_ASSERT_STRING_EQUAL(sio_store_state_name(SIO_SESSION_HANDSHAKEN),
	                       "handshaken");
	CU_ASSERT_STRING_EQUAL(sio_store_state_name(SIO_SESSION_OPEN), "open");
	CU_ASSERT_STRING_EQUAL(sio_store_state_name(SIO_SESSION_DETACHED),
	                       "detached");
	CU_ASSERT_STRING_EQUAL(sio_store_state_name(SIO_SESSION_CLOSED),
	                       "closed");
	free(sids);
}

static void
test_attach_and_hello(void)
{
	struct sio_store_session s;
	char sid[SIO_SID_LEN + 1], other[SIO_SID_LEN + 1];
	int hello = -1;

	new_session(sid);
	new_session(other);
	CU_ASSERT_EQUAL(sio_session_attach(st, sid, SIO_TRANSPORT_WEBSOCKET,
	                                   "w", 1, T0 + 5, &hello),
	                SIO_OK);
	CU_ASSERT_EQUAL(hello, 1);
	/* never written (the websocket failed): the next one says it */
	CU_ASSERT_EQUAL(sio_session_attach(st, sid, SIO_TRANSPORT_XHR_POLLING,
	                                   "g", 2, T0 + 6, &hello),
	                SIO_OK);
	CU_ASSERT_EQUAL(hello, 1);
	CU_ASSERT_EQUAL(sio_store_hello_sent(st, sid, 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_attach(st, sid, SIO_TRANSPORT_WEBSOCKET,
	                                   "w", 3, T0 + 7, &hello),
	                SIO_OK);
	CU_ASSERT_EQUAL(hello, 0);
	/* a write that failed takes it back */
	CU_ASSERT_EQUAL(sio_store_hello_sent(st, sid, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_attach(st, sid, SIO_TRANSPORT_HTMLFILE, "g",
	                                   4, T0 + 8, &hello),
	                SIO_OK);
	CU_ASSERT_EQUAL(hello, 1);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_get(st, sid, &s), SIO_OK);
	CU_ASSERT_EQUAL(s.state, SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(s.transport, SIO_TRANSPORT_HTMLFILE);
	CU_ASSERT_STRING_EQUAL(s.holder, "g");
	CU_ASSERT_EQUAL(s.holder_conn, 4);
	sio_store_session_cleanup(&s);
	/* each session's hello is its own */
	CU_ASSERT_EQUAL(sio_store_hello_sent(st, sid, 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_attach(st, other, SIO_TRANSPORT_XHR_POLLING,
	                                   "g", 5, T0, &hello),
	                SIO_OK);
	CU_ASSERT_EQUAL(hello, 1);
	CU_ASSERT_EQUAL(sio_store_hello_sent(st, "nosuchsession", 1), SIO_OK);
	/* absent: SIO_ABSENT, closed: SIO_CLOSED; a bad transport: SIO_ERR */
	CU_ASSERT_EQUAL(
	    attach("nosuchsession", SIO_TRANSPORT_WEBSOCKET, "w", 1),
	    SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, other, "bye", T0), 1);
	CU_ASSERT_EQUAL(attach(other, SIO_TRANSPORT_WEBSOCKET, "w", 1),
	                SIO_CLOSED);
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_COUNT, "w", 1), SIO_ERR);
	CU_ASSERT_EQUAL(attach(sid, 99, "w", 1), SIO_ERR);
}

static void
test_holder(void)
{
	char sid[SIO_SID_LEN + 1];

	new_session(sid);
	CU_ASSERT_EQUAL(sio_store_is_holder(st, sid, "a", 1), 0);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, sid, "a", 1), SIO_ABSENT);
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_XHR_POLLING, "a", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_is_holder(st, sid, "a", 1), 1);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, sid, "a", 1),
	                SIO_SESSION_OPEN);
	/* a new attachment supersedes the previous one */
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_XHR_POLLING, "b", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_is_holder(st, sid, "a", 1), 0);
	CU_ASSERT_EQUAL(sio_store_is_holder(st, sid, "b", 1), 1);
	CU_ASSERT_EQUAL(sio_store_is_holder(st, sid, "b", 2), 0);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, sid, "a", 1), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, sid, "b", 2), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_is_holder(st, "nosuchsession", "b", 1), 0);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, "nosuchsession", "b", 1),
	                SIO_ABSENT);
	/* a closed session is still its holder's to finish */
	CU_ASSERT_EQUAL(sio_session_claim_end(st, sid, "bye", T0), 1);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, sid, "b", 1),
	                SIO_SESSION_CLOSED);
}

static void
test_detach(void)
{
	struct sio_store_session s;
	char sid[SIO_SID_LEN + 1];
	long long last;

	new_session(sid);
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_WEBSOCKET, "a", 1), SIO_OK);
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_XHR_POLLING, "b", 2), SIO_OK);
	/* not the holder (any more): nothing changes */
	CU_ASSERT_EQUAL(sio_session_detach(st, sid, "a", 1, T0 + 5), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_detach(st, sid, "b", 3, T0 + 5), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
	                SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(sio_store_is_holder(st, sid, "b", 2), 1);
	CU_ASSERT_EQUAL(sio_session_detach(st, sid, "b", 2, T0 + 9), SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_get(st, sid, &s), SIO_OK);
	CU_ASSERT_EQUAL(s.state, SIO_SESSION_DETACHED);
	CU_ASSERT_STRING_EQUAL(s.holder, "");
	CU_ASSERT_EQUAL(s.detached_at, T0 + 9);
	CU_ASSERT_EQUAL(s.transport, SIO_TRANSPORT_XHR_POLLING);
	sio_store_session_cleanup(&s);
	CU_ASSERT_EQUAL(sio_session_detach(st, "nosuchsession", "b", 2, T0),
	                SIO_OK);
	/* attaching again opens it */
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_WEBSOCKET, "a", 3), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
	                SIO_SESSION_OPEN);
}

/*
 * The store decides no move: attach, detach, session_end, unregister,
 * heartbeat_due and expired do what the caller's states and transports
 * say (the engine's table; here other values), compare-and-set.
 */
static void
test_moves_as_told(void)
{
	const unsigned H = SIO_STATE_BIT(SIO_SESSION_HANDSHAKEN),
	               O = SIO_STATE_BIT(SIO_SESSION_OPEN),
	               D = SIO_STATE_BIT(SIO_SESSION_DETACHED);
	struct sio_store_expiry e = {.n = 1};
	char sid[SIO_SID_LEN + 1], sids[4][SIO_SID_LEN + 1];
	struct sio_store_session s;
	long long last, before, after;
	int hello, states[4];

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	new_session(sid);
	CU_ASSERT_EQUAL(
	    sio_store_counter_get(st, "connections_opened", &before), SIO_OK);
	/* handshaken is not in from: refused, nothing written */
	CU_ASSERT_EQUAL(sio_store_attach(st, sid, SIO_TRANSPORT_WEBSOCKET, "a",
	                                 1, T0, &hello, O | D,
	                                 SIO_SESSION_OPEN),
	                SIO_CLOSED);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
	                SIO_SESSION_HANDSHAKEN);
	CU_ASSERT_EQUAL(sio_store_is_holder(st, sid, "a", 1), 0);
	CU_ASSERT_EQUAL(sio_store_counter_get(st, "connections_opened", &after),
	                SIO_OK);
	CU_ASSERT_EQUAL(after, before);
	/* the state written is the caller's */
	CU_ASSERT_EQUAL(sio_store_attach(st, sid, SIO_TRANSPORT_XHR_POLLING,
	                                 "a", 1, T0, &hello, H,
	                                 SIO_SESSION_DETACHED),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
	                SIO_SESSION_DETACHED);
	CU_ASSERT_EQUAL(sio_store_is_holder(st, sid, "a", 1), 1);
	/* detach outside from: the holder goes, the state stays */
	CU_ASSERT_EQUAL(
	    sio_store_detach(st, sid, "a", 1, T0 + 5, O, SIO_SESSION_DETACHED),
	    SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_get(st, sid, &s), SIO_OK);
	CU_ASSERT_EQUAL(s.state, SIO_SESSION_DETACHED);
	CU_ASSERT_STRING_EQUAL(s.holder, "");
	CU_ASSERT_EQUAL(s.detached_at, 0);
	sio_store_session_cleanup(&s);
	/* a holder gone moves what the caller says */
	process("p");
	CU_ASSERT_EQUAL(sio_store_attach(st, sid, SIO_TRANSPORT_XHR_POLLING,
	                                 "p", 2, T0, &hello, D,
	                                 SIO_SESSION_OPEN),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_process_unregister(st, "p", T0 + 7, D,
	                                             SIO_SESSION_DETACHED),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
	                SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(sio_store_is_holder(st, sid, "p", 2), 0);
	/* heartbeats for the transports passed, polling included */
	CU_ASSERT_EQUAL(sio_store_attach(st, sid, SIO_TRANSPORT_XHR_POLLING,
	                                 "q", 3, T0, &hello, O,
	                                 SIO_SESSION_OPEN),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_heartbeat_due(st, T0 + 25000, 25000, NULL, 0,
	                                        SIO_SESSION_OPEN,
	                                        1u << SIO_TRANSPORT_WEBSOCKET),
	                0);
	CU_ASSERT_EQUAL(
	    sio_store_heartbeat_due(st, T0 + 25000, 25000, NULL, 0,
	                            SIO_SESSION_DETACHED,
	                            1u << SIO_TRANSPORT_XHR_POLLING),
	    0);
	CU_ASSERT_EQUAL(sio_store_heartbeat_due(
	                    st, T0 + 25000, 25000, NULL, 0, SIO_SESSION_OPEN,
	                    1u << SIO_TRANSPORT_XHR_POLLING),
	                1);
	/* expired: the timeouts passed, and the state found */
	e.t[0] = (struct sio_store_timeout){SIO_SESSION_OPEN,
	                                    1u << SIO_TRANSPORT_WEBSOCKET,
	                                    SIO_STORE_SINCE_CREATED, T0};
	CU_ASSERT_EQUAL(sio_store_expired(st, T0, &e, sids, states, 4), 0);
	e.t[0].transports = 0;
	CU_ASSERT_EQUAL(sio_store_expired(st, T0, &e, sids, states, 4), 1);
	CU_ASSERT_STRING_EQUAL(sids[0], sid);
	CU_ASSERT_EQUAL(states[0], SIO_SESSION_OPEN);
	e.t[0].before = T0 - 1;
	CU_ASSERT_EQUAL(sio_store_expired(st, T0, &e, sids, states, 4), 0);
	/* the end: claimed only from a state in from */
	CU_ASSERT_EQUAL(
	    sio_store_session_end(st, sid, "x", T0, H | D, SIO_SESSION_CLOSED),
	    0);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
	                SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(
	    sio_store_session_end(st, sid, "x", T0, O, SIO_SESSION_CLOSED), 1);
	CU_ASSERT_EQUAL(
	    sio_store_session_end(st, sid, "x", T0, O, SIO_SESSION_CLOSED), 0);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
	                SIO_SESSION_CLOSED);
}

static void
test_touch(void)
{
	char sid[SIO_SID_LEN + 1];
	long long last = 0;

	new_session(sid);
	CU_ASSERT_EQUAL(sio_store_touch(st, sid, T0 + 42), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
	                SIO_SESSION_HANDSHAKEN);
	CU_ASSERT_EQUAL(last, T0 + 42);
}

static void
test_end_claimed_once(void)
{
	struct sio_store_session s;
	char sid[SIO_SID_LEN + 1], reason[200];
	long long last;

	new_session(sid);
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	CU_ASSERT_EQUAL(sio_session_claim_end(st, sid, reason, T0 + 3), 1);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, sid, "again", T0 + 4), 0);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, "nosuchsession", "x", T0), 0);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_get(st, sid, &s), SIO_OK);
	CU_ASSERT_EQUAL(s.state, SIO_SESSION_CLOSED);
	CU_ASSERT_EQUAL(s.closed_at, T0 + 3);
	/* cut to fit */
	CU_ASSERT_EQUAL(strlen(s.close_reason), sizeof(s.close_reason) - 1);
	CU_ASSERT_EQUAL(strspn(s.close_reason, "r"), strlen(s.close_reason));
	sio_store_session_cleanup(&s);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
	                SIO_SESSION_CLOSED);
}

/* Threads, each on a connection of its own, end the same sessions at
 * once: each session is claimed exactly once. */
enum { RACERS = 4, RACES = 25 };

struct racer {
	struct sio_store *st;
	pthread_barrier_t *go;
	char (*sids)[SIO_SID_LEN + 1];
	int got[RACES];
};

static void *
racer_run(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < RACES; i++) {
		pthread_barrier_wait(r->go);
		r->got[i] =
		    sio_session_claim_end(r->st, r->sids[i], "race", T0);
	}
	return NULL;
}

static void
test_end_race(void)
{
	char sids[RACES][SIO_SID_LEN + 1];
	struct racer r[RACERS];
	pthread_t th[RACERS];
	pthread_barrier_t go;
	int bad = 0;

	for (int i = 0; i < RACES; i++)
		new_session(sids[i]);
	pthread_barrier_init(&go, NULL, RACERS);
	for (int t = 0; t < RACERS; t++) {
		r[t] = (struct racer){.go = &go, .sids = sids};
		r[t].st = contract_open(0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r[t].st);
	}
	for (int t = 0; t < RACERS; t++)
		CU_ASSERT_EQUAL_FATAL(
		    pthread_create(&th[t], NULL, racer_run, &r[t]), 0);
	for (int t = 0; t < RACERS; t++)
		pthread_join(th[t], NULL);
	for (int i = 0; i < RACES; i++) {
		int ones = 0, zeros = 0;
		for (int t = 0; t < RACERS; t++) {
			ones += r[t].got[i] == 1;
			zeros += r[t].got[i] == 0;
		}
		bad += ones != 1 || zeros != RACERS - 1;
	}
	CU_ASSERT_EQUAL(bad, 0);
	for (int t = 0; t < RACERS; t++)
		contract_close(r[t].st);
	pthread_barrier_destroy(&go);
}

/* A session its client ended is gone (answered as an unknown one); one
 * the server ended is not (its final packets are for the client). */
static void
test_forget_and_gone(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];

	new_session(a);
	new_session(b);
	CU_ASSERT_EQUAL(sio_store_session_gone(st, a), 0);
	CU_ASSERT_EQUAL(sio_store_session_gone(st, "nosuchsession"), 1);
	/* only a closed session is forgotten */
	CU_ASSERT_EQUAL(sio_store_session_forget(st, a), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_session_gone(st, a), 0);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, a, "client", T0), 1);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, b, "kicked", T0), 1);
	CU_ASSERT_EQUAL(sio_store_session_gone(st, a), 0);
	CU_ASSERT_EQUAL(sio_store_session_forget(st, a), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_session_gone(st, a), 1);
	CU_ASSERT_EQUAL(sio_store_session_gone(st, b), 0);
	CU_ASSERT_EQUAL(sio_store_session_forget(st, "nosuchsession"), SIO_OK);
}

static void
room_cb(void *udata, const char *endpoint, const char *room)
{
	struct sids *l = udata;
	size_t n = strlen(l->got);

	snprintf(l->got + n, sizeof(l->got) - n, "%s#%s;", endpoint, room);
}

static void
test_purge(void)
{
	char sid[SIO_SID_LEN + 1], other[SIO_SID_LEN + 1], *h = NULL, *e = NULL;
	struct sids rooms = {""};

	new_session(sid);
	new_session(other);
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, sid, "/chat", NULL), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_room_join(st, sid, "/chat", "lobby"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_room_join(st, other, "", "lobby"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "k", "v"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_ack_new(st, sid, "", "h", "[]"), 1);
	put(sid, "0::");
	CU_ASSERT_EQUAL(sio_session_claim_end(st, sid, "bye", T0), 1);
	CU_ASSERT_EQUAL(sio_store_session_purge(st, sid), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, sid, ""), 0);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, sid, "/chat"), 0);
	CU_ASSERT_EQUAL(sio_store_room_list(st, sid, room_cb, &rooms), 0);
	CU_ASSERT_PTR_NULL(sio_store_data_get(st, sid, "k"));
	CU_ASSERT_EQUAL(sio_store_ack_take(st, sid, "", 1, &h, &e), SIO_ABSENT);
	/* the outbox stays for the final packets; others are untouched */
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 1);
	CU_ASSERT_EQUAL(sio_store_room_list(st, other, room_cb, &rooms), 1);
	CU_ASSERT_STRING_EQUAL(rooms.got, "#lobby;");
}

static void
test_cleanup(void)
{
	struct sio_store_session s;
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], c[SIO_SID_LEN + 1];

	new_session(a);
	new_session(b);
	new_session(c);
	put(a, "0::");
	put(c, "3:::live");
	CU_ASSERT_EQUAL(sio_session_claim_end(st, a, "bye", T0), 1);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, b, "bye", T0 + 1000), 1);
	CU_ASSERT_EQUAL(sio_store_cleanup(st, T0 + 500), 1);
	CU_ASSERT_EQUAL(sio_store_session_get(st, a, &s), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, a), 0);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, a, ""), 0);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, b, ""), 1);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_get(st, b, &s), SIO_OK);
	sio_store_session_cleanup(&s);
	CU_ASSERT_EQUAL(sio_store_cleanup(st, T0 + 2000), 1);
	CU_ASSERT_EQUAL(sio_store_cleanup(st, T0 + 2000), 0);
	/* a live session is never cleaned up */
	CU_ASSERT_EQUAL_FATAL(sio_store_session_get(st, c, &s), SIO_OK);
	sio_store_session_cleanup(&s);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, c), 1);
}

static void
test_cleanup_drained(void)
{
	struct sio_store_session s;
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], c[SIO_SID_LEN + 1];
	long long last;

	new_session(a);
	new_session(b);
	new_session(c);
	put(b, "0::");
	CU_ASSERT_EQUAL(sio_session_claim_end(st, a, "bye", T0), 1);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, b, "bye", T0), 1);
	CU_ASSERT_EQUAL(sio_store_cleanup_drained(st), 1);
	CU_ASSERT_EQUAL(sio_store_session_get(st, a, &s), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_session_state(st, b, &last),
	                SIO_SESSION_CLOSED);
	CU_ASSERT_EQUAL(sio_store_session_state(st, c, &last),
	                SIO_SESSION_HANDSHAKEN);
	/* its final packet went out: then it goes too */
	CU_ASSERT_EQUAL(sio_store_outbox_del(st, b, T0, 1LL << 60), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_cleanup_drained(st), 1);
	CU_ASSERT_EQUAL(sio_store_session_get(st, b, &s), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_cleanup_drained(st), 0);
}

/* A new session handshaken from the address remote. */
static int
session_from(const char *remote, char sid[SIO_SID_LEN + 1])
{
	char req[64];

	snprintf(req, sizeof(req), "{\"remote\":\"%s\"}", remote);
	return sio_store_session_new(st, req, T0, sid);
}

/* The live sessions of remote sessions_live counts up to max (all of
 * them in *all), or -1 when it fails. */
static int
live_of(const char *remote, int max, int *all)
{
	int mine = -1;

	if (sio_store_sessions_live(st, remote, max, all, &mine) != SIO_OK)
		return -1;
	return mine;
}

static void
test_sessions_live(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], c[SIO_SID_LEN + 1];
	int all = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(session_from("10.0.0.1", a), SIO_OK);
	CU_ASSERT_EQUAL(session_from("10.0.0.1", b), SIO_OK);
	CU_ASSERT_EQUAL(session_from("10.0.0.2", c), SIO_OK);
	CU_ASSERT_EQUAL(live_of("10.0.0.1", 100, &all), 2);
	CU_ASSERT_EQUAL(all, 3);
	CU_ASSERT_EQUAL(live_of("10.0.0.1", 1, &all), 1);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, a, "bye", T0), 1);
	CU_ASSERT_EQUAL(live_of("10.0.0.1", 100, &all), 1);
	CU_ASSERT_EQUAL(all, 2);
	CU_ASSERT_EQUAL(live_of("10.0.0.9", 100, &all), 0);
	/* an address whose last session ended, then one more from it */
	CU_ASSERT_EQUAL(sio_session_claim_end(st, c, "bye", T0), 1);
	CU_ASSERT_EQUAL(live_of("10.0.0.2", 100, &all), 0);
	CU_ASSERT_EQUAL(session_from("10.0.0.2", c), SIO_OK);
	CU_ASSERT_EQUAL(live_of("10.0.0.2", 100, &all), 1);
	CU_ASSERT_EQUAL(all, 2);
	/* the closed ones deleted: the counts stay */
	CU_ASSERT_EQUAL(sio_store_cleanup(st, T0 + 1), 2);
	CU_ASSERT_EQUAL(live_of("10.0.0.1", 100, &all), 1);
	CU_ASSERT_EQUAL(all, 2);
}

/* sio_store_expired() with the engine's timeouts, each found session's
 * reason in reasons[i], as the sweeper ends it. */
static int
store_expired(struct sio_store *s, long long now, long long hb_ms,
              long long close_ms, char (*sids)[SIO_SID_LEN + 1],
              const char **reasons, int max)
{
	struct sio_store_expiry e;
	int states[64], n;

	CU_ASSERT_FATAL(max <= 64);
	sio_session_expiry(&e, now, hb_ms, close_ms);
	n = sio_store_expired(s, now, &e, sids, states, max);
	for (int i = 0; i < n; i++)
		reasons[i] = sio_session_expiry_reason(states[i]);
	return n;
}

/* The reason expired() gave for sid, NULL when it did not list it. */
static const char *
reason_of(const char *sid, char (*sids)[SIO_SID_LEN + 1], const char **reasons,
          int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(sids[i], sid) == 0)
			return reasons[i];
	return NULL;
}

static void
test_expired(void)
{
	char hs[SIO_SID_LEN + 1], ws[SIO_SID_LEN + 1], det[SIO_SID_LEN + 1],
	    poll[SIO_SID_LEN + 1], dead[SIO_SID_LEN + 1], fs[SIO_SID_LEN + 1];
	char sids[8][SIO_SID_LEN + 1];
	const char *reasons[8];
	long long now = T0 + 60000;
	int n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	process("w");
	new_session(hs);
	new_session(ws);
	new_session(det);
	new_session(poll);
	new_session(dead);
	new_session(fs);
	CU_ASSERT_EQUAL(attach(ws, SIO_TRANSPORT_WEBSOCKET, "w", 1), SIO_OK);
	CU_ASSERT_EQUAL(attach(det, SIO_TRANSPORT_WEBSOCKET, "w", 2), SIO_OK);
	CU_ASSERT_EQUAL(attach(poll, SIO_TRANSPORT_XHR_POLLING, "w", 3),
	                SIO_OK);
	CU_ASSERT_EQUAL(attach(fs, SIO_TRANSPORT_FLASHSOCKET, "w", 4), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_touch(st, fs, T0 + 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_detach(st, det, "w", 2, T0), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, dead, "bye", T0), 1);
	CU_ASSERT_EQUAL(
	    store_expired(st, now - 1, 60000, 60000, sids, reasons, 8), 0);
	n = store_expired(st, now, 60000, 60000, sids, reasons, 8);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_STRING_EQUAL(reason_of(hs, sids, reasons, n),
	                       "close timeout");
	CU_ASSERT_STRING_EQUAL(reason_of(ws, sids, reasons, n),
	                       "heartbeat timeout");
	CU_ASSERT_STRING_EQUAL(reason_of(det, sids, reasons, n),
	                       "close timeout");
	/* a polling transport has no heartbeat timeout; a closed session
	 * is not ended again; fs was heard from later */
	CU_ASSERT_PTR_NULL(reason_of(poll, sids, reasons, n));
	CU_ASSERT_PTR_NULL(reason_of(dead, sids, reasons, n));
	CU_ASSERT_PTR_NULL(reason_of(fs, sids, reasons, n));
	CU_ASSERT_EQUAL(
	    store_expired(st, now + 1, 60000, 60000, sids, reasons, 8), 4);
	CU_ASSERT_EQUAL(store_expired(st, now, 60000, 60000, sids, reasons, 2),
	                2);
	/* the two timeouts are apart */
	n = store_expired(st, T0 + 1000, 60000, 1000, sids, reasons, 8);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_PTR_NOT_NULL(reason_of(hs, sids, reasons, n));
	CU_ASSERT_PTR_NOT_NULL(reason_of(det, sids, reasons, n));
	n = store_expired(st, T0 + 1000, 1000, 60000, sids, reasons, 8);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_PTR_NOT_NULL(reason_of(ws, sids, reasons, n));
}

/* A session whose holder has no process row (gone) is detached by the
 * sweep, and ends with the close timeout after that. */
static void
test_expired_holder_gone(void)
{
	struct sio_store_session s;
	char sid[SIO_SID_LEN + 1], sids[4][SIO_SID_LEN + 1];
	const char *reasons[4];

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	process("gw");
	new_session(sid);
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_XHR_POLLING, "gone", 1),
	                SIO_OK);
	CU_ASSERT_EQUAL(
	    store_expired(st, T0 + 100, 60000, 60000, sids, reasons, 4), 0);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_get(st, sid, &s), SIO_OK);
	CU_ASSERT_EQUAL(s.state, SIO_SESSION_DETACHED);
	CU_ASSERT_EQUAL(s.detached_at, T0 + 100);
	sio_store_session_cleanup(&s);
	CU_ASSERT_EQUAL(
	    store_expired(st, T0 + 60100, 60000, 60000, sids, reasons, 4), 1);
	CU_ASSERT_STRING_EQUAL(reasons[0], "close timeout");
}

static void
test_heartbeat_due(void)
{
	struct cu_pkts c = {0};
	char w1[SIO_SID_LEN + 1], w2[SIO_SID_LEN + 1], hf[SIO_SID_LEN + 1],
	    poll[SIO_SID_LEN + 1];
	long long last;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	process("w1");
	process("w2");
	new_session(w1);
	new_session(w2);
	new_session(hf);
	new_session(poll);
	CU_ASSERT_EQUAL(attach(w1, SIO_TRANSPORT_WEBSOCKET, "w1", 1), SIO_OK);
	CU_ASSERT_EQUAL(attach(w2, SIO_TRANSPORT_FLASHSOCKET, "w2", 1), SIO_OK);
	CU_ASSERT_EQUAL(attach(hf, SIO_TRANSPORT_HTMLFILE, "w1", 2), SIO_OK);
	CU_ASSERT_EQUAL(attach(poll, SIO_TRANSPORT_XHR_POLLING, "w1", 3),
	                SIO_OK);
	/* every holder's (NULL): persistent transports only, each interval */
	CU_ASSERT_EQUAL(
	    sio_session_heartbeat_due(st, T0 + 24999, 25000, NULL, 0), 0);
	CU_ASSERT_EQUAL(
	    sio_session_heartbeat_due(st, T0 + 25000, 25000, NULL, 0), 3);
	CU_ASSERT_EQUAL(
	    sio_session_heartbeat_due(st, T0 + 25001, 25000, NULL, 0), 0);
	CU_ASSERT_EQUAL(peek_at(w1, T0 + 25000, &c, &last), 1);
	CU_ASSERT_STRING_EQUAL(c.got, "2::;");
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, w2), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, hf), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, poll), 0);
	CU_ASSERT_EQUAL(
	    sio_session_heartbeat_due(st, T0 + 49999, 25000, NULL, 0), 0);
	/* one holder's: another holder's only others_late_ms later */
	CU_ASSERT_EQUAL(
	    sio_session_heartbeat_due(st, T0 + 50000, 25000, "w1", 5000), 2);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, w2), 1);
	CU_ASSERT_EQUAL(peek_at(w1, T0 + 50000, &c, &last), 2);
	CU_ASSERT_STRING_EQUAL(c.got, "2::;2::;");
	CU_ASSERT_EQUAL(
	    sio_session_heartbeat_due(st, T0 + 54999, 25000, "w1", 5000), 0);
	CU_ASSERT_EQUAL(
	    sio_session_heartbeat_due(st, T0 + 55000, 25000, "w1", 5000), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, w2), 2);
	/* others_late_ms < 0: none of another holder's */
	CU_ASSERT_EQUAL(
	    sio_session_heartbeat_due(st, T0 + 200000, 25000, "w1", -1), 2);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, w2), 2);
	CU_ASSERT_EQUAL(
	    sio_session_heartbeat_due(st, T0 + 200000, 25000, "w2", -1), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, w2), 3);
}

/* A step of the wall clock moves the times that timers read. */
static void
test_clock_check(void)
{
	char sid[SIO_SID_LEN + 1];
	long long step = -1, wall = T0 + 3600000, last = 0, due = 0;

	new_session(sid);
	CU_ASSERT_EQUAL(put_at(st, sid, "3:::later", 0, T0 + 5000), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_clock_check(st, "boot-1", T0, 1000, &step),
	                SIO_OK);
	CU_ASSERT_EQUAL(step, 0);
	/* a second on the boot clock, an hour on the wall clock */
	CU_ASSERT_EQUAL(sio_store_clock_check(st, "boot-1", wall, 2000, &step),
	                SIO_OK);
	CU_ASSERT_EQUAL(step, 3600000 - 1000);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
	                SIO_SESSION_HANDSHAKEN);
	CU_ASSERT_EQUAL(last, T0 + step);
	CU_ASSERT_EQUAL(sio_store_outbox_next_due(st, sid, wall, &due), SIO_OK);
	CU_ASSERT_EQUAL(due, T0 + 5000 + step);
	/* a step under SIO_CLOCK_STEP_MS is none */
	CU_ASSERT_EQUAL(sio_store_clock_check(st, "boot-1", wall + 1500,
	                                      2000 + SIO_CLOCK_STEP_MS, &step),
	                SIO_OK);
	CU_ASSERT_EQUAL(step, 0);
	/* another boot: its boot clock starts over, nothing to compare */
	CU_ASSERT_EQUAL(
	    sio_store_clock_check(st, "boot-2", wall + 900000, 7, &step),
	    SIO_OK);
	CU_ASSERT_EQUAL(step, 0);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
	                SIO_SESSION_HANDSHAKEN);
	CU_ASSERT_EQUAL(last, T0 + 3600000 - 1000);
}

/* --- the outbox --------------------------------------------------------- */

static void
test_outbox_order_peek_del(void)
{
	struct cu_pkts c = {0};
	char sid[SIO_SID_LEN + 1], other[SIO_SID_LEN + 1];
	long long first = -1, last = -1;

	new_session(sid);
	new_session(other);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 0);
	put(sid, "3:::1");
	put(other, "3:::x");
	put(sid, "3:::2");
	put(sid, "3:::3");
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 3);
	/* max */
	pkts_reset(&c);
	CU_ASSERT_EQUAL(sio_store_outbox_peek(st, sid, T0, 2, NULL, 0,
	                                      cu_collect, &c, &first),
	                2);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::1;3:::2;");
	/* the callback stops it; that packet is not counted */
	pkts_reset(&c);
	c.stop_at = 1;
	CU_ASSERT_EQUAL(sio_store_outbox_peek(st, sid, T0, 10, NULL, 0,
	                                      cu_collect, &c, &first),
	                1);
	c.stop_at = 0;
	CU_ASSERT(first > 0);
	CU_ASSERT_EQUAL(peek_at(sid, T0, &c, &last), 3);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::1;3:::2;3:::3;");
	CU_ASSERT(last > first);
	/* nothing deleted by a peek */
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 3);
	/* del: up to last_seq, what came later stays */
	put(sid, "3:::4");
	CU_ASSERT_EQUAL(sio_store_outbox_del(st, sid, T0, last), SIO_OK);
	CU_ASSERT_EQUAL(peek_at(sid, T0, &c, &last), 1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::4;");
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, other), 1);
	CU_ASSERT_EQUAL(peek_at("nosuchsession", T0, &c, &last), 0);
	CU_ASSERT_EQUAL(last, 0);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, "nosuchsession"), 0);
}

static void
test_outbox_full(void)
{
	struct sio_store *small = contract_open(3);
	char sid[SIO_SID_LEN + 1], other[SIO_SID_LEN + 1];

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(small);
	new_session(sid);
	new_session(other);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(put_at(small, sid, "3:::x", 0, 0), SIO_OK);
	CU_ASSERT_EQUAL(put_at(small, sid, "3:::4", 0, 0), SIO_FULL);
	CU_ASSERT_STRING_EQUAL(sio_store_errmsg(small), "queue full");
	CU_ASSERT_EQUAL(sio_store_outbox_count(small, sid), 3);
	CU_ASSERT_FALSE(sio_store_in_transaction(small));
	/* a volatile packet without a transport is dropped, full or not */
	CU_ASSERT_EQUAL(put_at(small, sid, "5:::{}", SIO_STORE_VOLATILE, 0),
	                SIO_OK);
	/* in a transaction: the refused packet only */
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(small), SIO_OK);
	CU_ASSERT_EQUAL(put_at(small, other, "3:::kept", 0, 0), SIO_OK);
	CU_ASSERT_EQUAL(put_at(small, sid, "3:::5", 0, 0), SIO_FULL);
	CU_ASSERT_TRUE(sio_store_in_transaction(small));
	CU_ASSERT_EQUAL(sio_store_commit(small), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, other), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 3);
	contract_close(small);
}

static void
test_outbox_volatile_closed_absent(void)
{
	char sid[SIO_SID_LEN + 1];

	new_session(sid);
	CU_ASSERT_EQUAL(put_at(st, sid, "5:::{}", SIO_STORE_VOLATILE, 0),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 0);
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_WEBSOCKET, "w", 1), SIO_OK);
	CU_ASSERT_EQUAL(put_at(st, sid, "5:::{}", SIO_STORE_VOLATILE, 0),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 1);
	CU_ASSERT_EQUAL(sio_session_detach(st, sid, "w", 1, T0), SIO_OK);
	CU_ASSERT_EQUAL(put_at(st, sid, "5:::{}", SIO_STORE_VOLATILE, 0),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 1);
	CU_ASSERT_EQUAL(put_at(st, "nosuchsession", "3:::", 0, 0), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, sid, "bye", T0), 1);
	CU_ASSERT_EQUAL(put_at(st, sid, "3:::", 0, 0), SIO_CLOSED);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 1);
}

/* A delayed packet is as if queued at its due time: it holds back
 * nothing queued after it, and is read (and deleted) only once due. */
static void
test_outbox_delayed(void)
{
	struct cu_pkts c = {0};
	char sid[SIO_SID_LEN + 1];
	long long last, due = 0;

	new_session(sid);
	CU_ASSERT_EQUAL(sio_store_outbox_next_due(st, sid, T0, &due),
	                SIO_ABSENT);
	put(sid, "3:::now");
	CU_ASSERT_EQUAL(put_at(st, sid, "3:::t+500", 0, T0 + 500), SIO_OK);
	CU_ASSERT_EQUAL(put_at(st, sid, "3:::t+900", 0, T0 + 900), SIO_OK);
	put(sid, "3:::after");
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 4);
	CU_ASSERT_EQUAL(peek_at(sid, T0, &c, &last), 2);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::now;3:::after;");
	CU_ASSERT_EQUAL(sio_store_outbox_next_due(st, sid, T0, &due), SIO_OK);
	CU_ASSERT_EQUAL(due, T0 + 500);
	/* del deletes only what was due */
	CU_ASSERT_EQUAL(sio_store_outbox_del(st, sid, T0, 1LL << 60), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 2);
	CU_ASSERT_EQUAL(peek_at(sid, T0 + 499, &c, &last), 0);
	CU_ASSERT_EQUAL(peek_at(sid, T0 + 500, &c, &last), 1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::t+500;");
	CU_ASSERT_EQUAL(sio_store_outbox_next_due(st, sid, T0 + 500, &due),
	                SIO_OK);
	CU_ASSERT_EQUAL(due, T0 + 900);
	CU_ASSERT_EQUAL(peek_at(sid, T0 + 900, &c, &last), 2);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::t+500;3:::t+900;");
	CU_ASSERT_EQUAL(sio_store_outbox_next_due(st, sid, T0 + 900, &due),
	                SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_outbox_del(st, sid, T0 + 900, last), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 0);
}

static void
join(const char *sid, const char *ep, const char *room)
{
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, sid, ep, NULL), SIO_OK);
	if (room)
		CU_ASSERT_EQUAL(sio_store_room_join(st, sid, ep, room), SIO_OK);
}

static void
test_broadcast(void)
{
	struct sio_store *small = contract_open(2);
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], c[SIO_SID_LEN + 1],
	    d[SIO_SID_LEN + 1], e[SIO_SID_LEN + 1];
	struct cu_pkts p = {0};
	long long last, due = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(small);
	new_session(a);
	new_session(b);
	new_session(c);
	new_session(d);
	new_session(e);
	join(a, "/chat", "lobby");
	join(b, "/chat", "lobby");
	join(c, "/chat", "kitchen");
	join(e, "/chat", NULL);
	join(d, "/other", "lobby");
	/* the endpoint, except the sender */
	CU_ASSERT_EQUAL(broadcast_at(st, "/chat", NULL, a, "3::/chat:1", 0, 0),
	                3);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, a), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, b), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, d), 0);
	/* a room of the endpoint: its members only */
	CU_ASSERT_EQUAL(
	    broadcast_at(st, "/chat", "lobby", NULL, "3::/chat:2", 0, 0), 2);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, c), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, a), 1);
	/* leaving one room, then every room of the endpoint */
	CU_ASSERT_EQUAL(sio_store_room_leave(st, b, "/chat", "lobby"), SIO_OK);
	CU_ASSERT_EQUAL(
	    broadcast_at(st, "/chat", "lobby", a, "3::/chat:3", 0, 0), 0);
	CU_ASSERT_EQUAL(sio_store_room_leave(st, c, "/chat", NULL), SIO_OK);
	CU_ASSERT_EQUAL(
	    broadcast_at(st, "/chat", "kitchen", NULL, "3::/chat:4", 0, 0), 0);
	/* the root reaches every session; full queues (2 here) are skipped,
	 * closed sessions too */
	CU_ASSERT_EQUAL(sio_session_claim_end(st, e, "bye", T0), 1);
	CU_ASSERT_EQUAL(broadcast_at(small, "", NULL, NULL, "3:::5", 0, 0), 3);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, a), 2);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, b), 2);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, e), 1);
	CU_ASSERT_EQUAL(broadcast_at(small, "", NULL, NULL, "3:::6", 0, 0), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, c), 2);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, d), 2);
	/* volatile: only sessions with a transport */
	CU_ASSERT_EQUAL(attach(d, SIO_TRANSPORT_WEBSOCKET, "w", 1), SIO_OK);
	CU_ASSERT_EQUAL(
	    broadcast_at(st, "", NULL, NULL, "3:::v", SIO_STORE_VOLATILE, 0),
	    1);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, d), 3);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, a), 2);
	/* delayed */
	CU_ASSERT_EQUAL(
	    broadcast_at(st, "/other", NULL, NULL, "3:::late", 0, T0 + 700), 1);
	CU_ASSERT_EQUAL(peek_at(d, T0, &p, &last), 3);
	CU_ASSERT_STRING_EQUAL(p.got, "3:::5;3:::6;3:::v;");
	CU_ASSERT_EQUAL(sio_store_outbox_next_due(st, d, T0, &due), SIO_OK);
	CU_ASSERT_EQUAL(due, T0 + 700);
	contract_close(small);
}

/* Packets taken by one writer (on one connection) are not passed to
 * another (on another) before it is done with them or hands them back;
 * nothing goes out ahead of them; a writer's own taken packets do not
 * hold it back. */
static void
test_take_done_release(void)
{
	struct sio_store *other = contract_open(0);
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c = {0};
	long long last;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	new_session(sid);
	put(sid, "3:::a");
	put(sid, "3:::b");
	CU_ASSERT_EQUAL(take(st, sid, "gw-1", 1, &c), 2);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::a;3:::b;");
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(st), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_dropped(st), 0);
	CU_ASSERT_EQUAL(take(other, sid, "gw-2", 1, &c), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(other), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(st), 0);
	put(sid, "3:::c");
	CU_ASSERT_EQUAL(take(other, sid, "gw-2", 1, &c), 0);
	/* peek: anyone (NULL) stops at a taken packet; its taker passes
	 * over its own */
	CU_ASSERT_EQUAL(peek_at(sid, T0, &c, &last), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(st), 1);
	pkts_reset(&c);
	CU_ASSERT_EQUAL(sio_store_outbox_peek(st, sid, T0, 10, "gw-1", 1,
	                                      cu_collect, &c, &last),
	                1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::c;");
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(st), 0);
	/* the first writer takes c past its own */
	CU_ASSERT_EQUAL(take(st, sid, "gw-1", 1, &c), 1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::c;");
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, sid, "gw-1", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(other, sid), 0);
	/* the second writer fails: handed back, the next one gets it */
	put(sid, "3:::d");
	CU_ASSERT_EQUAL(take(other, sid, "gw-2", 1, &c), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(other), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_release(other, sid, "gw-2", 1),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 1);
	CU_ASSERT_EQUAL(take(st, sid, "gw-1", 2, &c), 1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::d;");
	/* done by another writer than the marker deletes nothing */
	CU_ASSERT_EQUAL(sio_store_outbox_done(other, sid, "gw-2", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, sid, "gw-1", 2), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 0);
	/* a delayed packet is not taken before it is due */
	CU_ASSERT_EQUAL(put_at(st, sid, "3:::late", 0, T0 + 10), SIO_OK);
	CU_ASSERT_EQUAL(take(st, sid, "gw-1", 3, &c), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(st), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_dropped(st), 0);
	contract_close(other);
}

/* A take that stops early (the writer's budget, or max) marks what it
 * passed and nothing after it: once it is done, the next writer gets the
 * rest, in order. */
static void
test_take_stops_early(void)
{
	struct sio_store *other = contract_open(0);
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	new_session(sid);
	put(sid, "3:::a");
	put(sid, "3:::b");
	put(sid, "3:::c");
	put(sid, "3:::d");
	/* max */
	pkts_reset(&c);
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 1, "gw-1", 1, cu_collect, &c),
	    1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::a;");
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, sid, "gw-1", 1), SIO_OK);
	/* the writer's budget: its callback refuses the second */
	pkts_reset(&c);
	c.stop_at = 1;
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw-1", 2, cu_collect, &c),
	    1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::b;");
	c.stop_at = 0;
	CU_ASSERT_EQUAL(take(other, sid, "gw-2", 1, &c), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(other), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, sid, "gw-1", 2), SIO_OK);
	CU_ASSERT_EQUAL(take(other, sid, "gw-2", 1, &c), 2);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::c;3:::d;");
	CU_ASSERT_EQUAL(sio_store_outbox_done(other, sid, "gw-2", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 0);
	contract_close(other);
}

static void
test_outbox_ready(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], d[SIO_SID_LEN + 1];
	struct sids got = {""};
	struct cu_pkts c = {0};

	two_held(a, b);
	new_session(d);
	CU_ASSERT_EQUAL(attach(d, SIO_TRANSPORT_WEBSOCKET, "wsd-1", 2), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_ready(st, "wsd-1", T0, sids_cb, &got),
	                0);
	put(a, "3:::x");
	put(b, "3:::y");
	CU_ASSERT_EQUAL(put_at(st, d, "3:::later", 0, T0 + 100), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_ready(st, "wsd-1", T0, sids_cb, &got),
	                1);
	CU_ASSERT_STRING_EQUAL(got.got, one(a));
	got.got[0] = '\0';
	CU_ASSERT_EQUAL(
	    sio_store_outbox_ready(st, "wsd-1", T0 + 100, sids_cb, &got), 2);
	got.got[0] = '\0';
	/* taken by its holder's connection: not ready, being written */
	CU_ASSERT_EQUAL(take(st, a, "wsd-1", 1, &c), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_ready(st, "wsd-1", T0, sids_cb, &got),
	                0);
	/* behind a packet another writer took: not ready */
	put(a, "3:::z");
	CU_ASSERT_EQUAL(sio_store_outbox_ready(st, "wsd-1", T0, sids_cb, &got),
	                1);
	got.got[0] = '\0';
	CU_ASSERT_EQUAL(take(st, b, "gw-9", 1, &c), 1);
	put(b, "3:::w");
	CU_ASSERT_EQUAL(sio_store_outbox_ready(st, "wsd-2", T0, sids_cb, &got),
	                0);
	CU_ASSERT_EQUAL(sio_store_outbox_release(st, b, "gw-9", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_ready(st, "wsd-2", T0, sids_cb, &got),
	                1);
	CU_ASSERT_STRING_EQUAL(got.got, one(b));
	CU_ASSERT_EQUAL(sio_store_outbox_ready(st, "wsd-3", T0, sids_cb, &got),
	                0);
}

/* Threads writing one session's outbox at once, each on a connection of
 * its own: nothing is lost, and each writer's packets keep its order. */
enum { WRITERS = 2, WRITES = 300 };

struct writer {
	struct sio_store *st;
	pthread_barrier_t *go;
	const char *sid;
	char name;
	int failed;
};

static void *
writer_run(void *arg)
{
	struct writer *w = arg;
	char pkt[32];

	pthread_barrier_wait(w->go);
	for (int i = 0; i < WRITES; i++) {
		snprintf(pkt, sizeof(pkt), "%c:%d", w->name, i);
		w->failed += put_at(w->st, w->sid, pkt, 0, 0) != SIO_OK;
	}
	return NULL;
}

struct runs {
	int next[WRITERS];
	int bad;
};

static int
runs_cb(void *udata, const char *pkt, size_t len)
{
	struct runs *r = udata;
	int w = pkt[0] - 'A';

	if (len < 3 || w < 0 || w >= WRITERS || atoi(pkt + 2) != r->next[w])
		r->bad++;
	else
		r->next[w]++;
	return SIO_OK;
}

static void
test_concurrent_writers(void)
{
	char sid[SIO_SID_LEN + 1];
	struct writer w[WRITERS];
	pthread_t th[WRITERS];
	pthread_barrier_t go;
	struct runs r = {{0}, 0};
	long long last;

	new_session(sid);
	pthread_barrier_init(&go, NULL, WRITERS);
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){.go = &go, .sid = sid, .name = 'A' + i};
		w[i].st = contract_open(WRITERS * WRITES);
		CU_ASSERT_PTR_NOT_NULL_FATAL(w[i].st);
	}
	for (int i = 0; i < WRITERS; i++)
		CU_ASSERT_EQUAL_FATAL(
		    pthread_create(&th[i], NULL, writer_run, &w[i]), 0);
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(w[i].failed, 0);
		contract_close(w[i].st);
	}
	pthread_barrier_destroy(&go);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), WRITERS * WRITES);
	CU_ASSERT_EQUAL(sio_store_outbox_peek(st, sid, T0, WRITERS * WRITES,
	                                      NULL, 0, runs_cb, &r, &last),
	                WRITERS * WRITES);
	CU_ASSERT_EQUAL(r.bad, 0);
	for (int i = 0; i < WRITERS; i++)
		CU_ASSERT_EQUAL(r.next[i], WRITES);
}

/* --- endpoints, data, rooms, acks, counters ------------------------------ */

static void
endpoint_cb(void *udata, const char *endpoint, const char *query)
{
	struct sids *l = udata;
	size_t n = strlen(l->got);

	snprintf(l->got + n, sizeof(l->got) - n, "[%s%s%s]", endpoint,
	         query ? "?" : "", query ? query : "");
}

static void
test_endpoints(void)
{
	char sid[SIO_SID_LEN + 1];
	struct sids out = {""};

	new_session(sid);
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, sid, "/b", "x=1"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, sid, "/a", NULL), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, sid, "/b", "x=2"), SIO_OK);
	/* the root last, the order on_close runs in */
	CU_ASSERT_EQUAL(sio_store_endpoint_list(st, sid, endpoint_cb, &out), 3);
	CU_ASSERT_EQUAL(strlen(out.got), strlen("[/b?x=2][/a][]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.got, "[/b?x=2]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.got, "[/a]"));
	CU_ASSERT_STRING_EQUAL(out.got + strlen(out.got) - 2, "[]");
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, sid, "/a"), 1);
	CU_ASSERT_EQUAL(sio_store_endpoint_del(st, sid, "/a"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, sid, "/a"), 0);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, sid, "/c"), 0);
	CU_ASSERT_EQUAL(sio_store_endpoint_del(st, sid, "/c"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, "nosuchsession", ""), 0);
	out.got[0] = '\0';
	CU_ASSERT_EQUAL(
	    sio_store_endpoint_list(st, "nosuchsession", endpoint_cb, &out), 0);
	/* an endpoint of no session is an error that says so */
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, "nosuchsession", "/a", NULL),
	                SIO_ERR);
	CU_ASSERT(strlen(sio_store_errmsg(st)) > 0);
}

static void
test_data(void)
{
	char sid[SIO_SID_LEN + 1], other[SIO_SID_LEN + 1], *v;

	new_session(sid);
	new_session(other);
	CU_ASSERT_PTR_NULL(sio_store_data_get(st, sid, "nick"));
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "nick", "ann"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "nick", "bob"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_data_put(st, other, "nick", "cy"), SIO_OK);
	v = sio_store_data_get(st, sid, "nick");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, "bob");
	free(v);
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "nick", NULL), SIO_OK);
	CU_ASSERT_PTR_NULL(sio_store_data_get(st, sid, "nick"));
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "nick", NULL), SIO_OK);
	v = sio_store_data_get(st, other, "nick");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, "cy");
	free(v);
	/* any text, empty included */
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "k", ""), SIO_OK);
	v = sio_store_data_get(st, sid, "k");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, "");
	free(v);
}

static void
test_rooms(void)
{
	char sid[SIO_SID_LEN + 1];
	struct sids out = {""};

	new_session(sid);
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, sid, "/b", NULL), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_room_join(st, sid, "/b", "y"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_room_join(st, sid, "/b", "x"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_room_join(st, sid, "", "z"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_room_join(st, sid, "", "z"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_room_list(st, sid, room_cb, &out), 3);
	CU_ASSERT_STRING_EQUAL(out.got, "#z;/b#x;/b#y;");
	CU_ASSERT_EQUAL(sio_store_room_leave(st, sid, "/b", "x"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_room_leave(st, sid, "/b", "nosuchroom"),
	                SIO_OK);
	out.got[0] = '\0';
	CU_ASSERT_EQUAL(sio_store_room_list(st, sid, room_cb, &out), 2);
	CU_ASSERT_STRING_EQUAL(out.got, "#z;/b#y;");
	CU_ASSERT_EQUAL(sio_store_room_leave(st, sid, "/b", NULL), SIO_OK);
	out.got[0] = '\0';
	CU_ASSERT_EQUAL(sio_store_room_list(st, sid, room_cb, &out), 1);
	CU_ASSERT_STRING_EQUAL(out.got, "#z;");
}

static void
test_acks(void)
{
	char sid[SIO_SID_LEN + 1], other[SIO_SID_LEN + 1], *h, *e;

	new_session(sid);
	new_session(other);
	CU_ASSERT_EQUAL(sio_store_ack_new(st, sid, "/chat", "done", "[1]"), 1);
	CU_ASSERT_EQUAL(sio_store_ack_new(st, sid, "", "again", "[2]"), 2);
	CU_ASSERT_EQUAL(sio_store_ack_new(st, other, "", "x", "[]"), 1);
	CU_ASSERT_EQUAL(sio_store_ack_new(st, "nosuchsession", "", "x", "[]"),
	                SIO_ERR);
	/* by session, endpoint and id */
	CU_ASSERT_EQUAL(sio_store_ack_take(st, sid, "", 1, &h, &e), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_ack_take(st, sid, "/chat", 3, &h, &e),
	                SIO_ABSENT);
	CU_ASSERT_EQUAL_FATAL(sio_store_ack_take(st, sid, "/chat", 1, &h, &e),
	                      SIO_OK);
	CU_ASSERT_STRING_EQUAL(h, "done");
	CU_ASSERT_STRING_EQUAL(e, "[1]");
	free(h);
	free(e);
	/* taken once */
	CU_ASSERT_EQUAL(sio_store_ack_take(st, sid, "/chat", 1, &h, &e),
	                SIO_ABSENT);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT_EQUAL_FATAL(sio_store_ack_take(st, sid, "", 2, &h, &e),
	                      SIO_OK);
	CU_ASSERT_STRING_EQUAL(h, "again");
	free(h);
	free(e);
	/* ids are not given again once taken */
	CU_ASSERT_EQUAL(sio_store_ack_new(st, sid, "", "next", "[3]"), 3);
	CU_ASSERT_EQUAL_FATAL(sio_store_ack_take(st, other, "", 1, &h, &e),
	                      SIO_OK);
	CU_ASSERT_STRING_EQUAL(h, "x");
	free(h);
	free(e);
}

/* ack_get reads what ack_take would take and leaves it there. */
static void
test_ack_get(void)
{
	char sid[SIO_SID_LEN + 1], *h, *e;

	new_session(sid);
	CU_ASSERT_EQUAL(sio_store_ack_new(st, sid, "/chat", "done", "[1]"), 1);
	CU_ASSERT_EQUAL(sio_store_ack_get(st, sid, "", 1, &h, &e), SIO_ABSENT);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT_EQUAL(sio_store_ack_get(st, sid, "/chat", 2, &h, &e),
	                SIO_ABSENT);
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL_FATAL(
		    sio_store_ack_get(st, sid, "/chat", 1, &h, &e), SIO_OK);
		CU_ASSERT_STRING_EQUAL(h, "done");
		CU_ASSERT_STRING_EQUAL(e, "[1]");
		free(h);
		free(e);
	}
	CU_ASSERT_EQUAL_FATAL(sio_store_ack_take(st, sid, "/chat", 1, &h, &e),
	                      SIO_OK);
	free(h);
	free(e);
	CU_ASSERT_EQUAL(sio_store_ack_get(st, sid, "/chat", 1, &h, &e),
	                SIO_ABSENT);
}

/* An id first, the session under it later: what an engine does when the
 * application's on_open runs before the handshake is stored. */
static void
test_sid_then_session(void)
{
	char sid[SIO_SID_LEN + 1], other[SIO_SID_LEN + 1];
	struct sio_store_session s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL_FATAL(sio_store_sid_new(NULL, sid), SIO_OK);
	CU_ASSERT_EQUAL(strlen(sid), SIO_SID_LEN);
	CU_ASSERT_EQUAL(strspn(sid, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                            "abcdefghijklmnopqrstuvwxyz0123456789-_"),
	                SIO_SID_LEN);
	CU_ASSERT_EQUAL_FATAL(sio_store_sid_new(st, other), SIO_OK);
	CU_ASSERT_STRING_NOT_EQUAL(sid, other);
	/* nothing is stored until the session is added */
	CU_ASSERT_EQUAL(sio_store_session_get(st, sid, &s), SIO_ABSENT);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_add(st, sid, "{\"a\":1}", T0),
	                      SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_get(st, sid, &s), SIO_OK);
	CU_ASSERT_EQUAL(s.state, SIO_SESSION_HANDSHAKEN);
	CU_ASSERT_EQUAL(s.created, T0);
	CU_ASSERT_STRING_EQUAL(s.request, "{\"a\":1}");
	sio_store_session_cleanup(&s);
	/* an id is added once */
	CU_ASSERT_EQUAL(sio_store_session_add(st, sid, "{}", T0), SIO_ERR);
}

/* outbox_room: what a queue takes before it is full, and whether a
 * transport is attached, read outside any transaction. */
static void
test_outbox_room(void)
{
	struct sio_store *small;
	char sid[SIO_SID_LEN + 1];
	int room = -1, attached = -1;
	long long last = 0;

	contract_close(st);
	st = small = contract_open(3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(small);
	new_session(sid);
	CU_ASSERT_EQUAL(sio_store_outbox_room(st, sid, &room, &attached, NULL),
	                SIO_OK);
	CU_ASSERT_EQUAL(room, 3);
	CU_ASSERT_EQUAL(attached, 0);
	put(sid, "3:::a");
	put(sid, "3:::b");
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_WEBSOCKET, "h", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_room(st, sid, &room, &attached, NULL),
	                SIO_OK);
	CU_ASSERT_EQUAL(room, 1);
	CU_ASSERT_EQUAL(attached, 1);
	put(sid, "3:::c");
	CU_ASSERT_EQUAL(sio_store_touch(st, sid, T0 + 5), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_room(st, sid, &room, &attached, &last),
	                SIO_OK);
	CU_ASSERT_EQUAL(room, 0);
	CU_ASSERT_EQUAL(last, T0 + 5);
	CU_ASSERT_EQUAL(
	    sio_store_outbox_room(st, "nosuchsession", &room, &attached, NULL),
	    SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, sid, "test", T0), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_room(st, sid, &room, &attached, NULL),
	                SIO_CLOSED);
}

/* A read snapshot: what another connection commits meanwhile is seen
 * only after read_end. */
static void
test_read_snapshot(void)
{
	struct sio_store *other = contract_open(0);
	char sid[SIO_SID_LEN + 1], *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	new_session(sid);
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "k", "old"), SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_read_begin(st), SIO_OK);
	v = sio_store_data_get(st, sid, "k");
	CU_ASSERT(v != NULL && strcmp(v, "old") == 0);
	free(v);
	/* a writer is not held off by the snapshot */
	CU_ASSERT_EQUAL(sio_store_data_put(other, sid, "k", "new"), SIO_OK);
	v = sio_store_data_get(st, sid, "k");
	CU_ASSERT(v != NULL && strcmp(v, "old") == 0);
	free(v);
	/* a write transaction cannot start inside it */
	CU_ASSERT_EQUAL(sio_store_begin(st), SIO_ERR);
	sio_store_read_end(st);
	v = sio_store_data_get(st, sid, "k");
	CU_ASSERT(v != NULL && strcmp(v, "new") == 0);
	free(v);
	CU_ASSERT_EQUAL(sio_store_read_begin(st), SIO_OK);
	sio_store_read_end(st);
	contract_close(other);
}

/* A snapshot upgraded to the write transaction: its writes commit; when
 * another connection wrote since the snapshot, the transaction it gets is
 * a new one, which sees that write (what was read must be re-checked);
 * with no snapshot open it begins one. */
static void
test_read_upgrade(void)
{
	struct sio_store *other = contract_open(0);
	char sid[SIO_SID_LEN + 1], *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	new_session(sid);
	/* nobody wrote meanwhile */
	CU_ASSERT_EQUAL_FATAL(sio_store_read_begin(st), SIO_OK);
	v = sio_store_data_get(st, sid, "k");
	CU_ASSERT_PTR_NULL(v);
	free(v);
	CU_ASSERT_EQUAL_FATAL(sio_store_read_upgrade(st), SIO_OK);
	CU_ASSERT(sio_store_in_transaction(st));
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "k", "mine"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	v = sio_store_data_get(other, sid, "k");
	CU_ASSERT(v != NULL && strcmp(v, "mine") == 0);
	free(v);
	/* another wrote after the snapshot was taken */
	CU_ASSERT_EQUAL_FATAL(sio_store_read_begin(st), SIO_OK);
	v = sio_store_data_get(st, sid, "k");
	CU_ASSERT(v != NULL && strcmp(v, "mine") == 0);
	free(v);
	CU_ASSERT_EQUAL(sio_store_data_put(other, sid, "k", "theirs"), SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_read_upgrade(st), SIO_OK);
	v = sio_store_data_get(st, sid, "k");
	CU_ASSERT(v != NULL && strcmp(v, "theirs") == 0);
	free(v);
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "j", "after"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	v = sio_store_data_get(other, sid, "j");
	CU_ASSERT(v != NULL && strcmp(v, "after") == 0);
	free(v);
	/* with no snapshot: a write transaction all the same */
	CU_ASSERT_EQUAL_FATAL(sio_store_read_upgrade(st), SIO_OK);
	CU_ASSERT(sio_store_in_transaction(st));
	CU_ASSERT_EQUAL(sio_store_rollback(st), SIO_OK);
	contract_close(other);
}

/* tick says when another connection wrote since the last tick. */
static void
test_tick(void)
{
	struct sio_store *other = contract_open(0);
	char sid[SIO_SID_LEN + 1];

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	CU_ASSERT_EQUAL(sio_store_tick(st, T0), 0); /* the first call */
	CU_ASSERT_EQUAL(sio_store_tick(st, T0 + 1000), 0);
	CU_ASSERT_EQUAL(sio_store_session_new(other, "{}", T0, sid), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_tick(st, T0 + 2000), 1);
	CU_ASSERT_EQUAL(sio_store_tick(st, T0 + 3000), 0);
	CU_ASSERT_EQUAL(sio_store_data_put(other, sid, "k", "v"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_tick(st, T0 + 4000), 1);
	contract_close(other);
}

/* watch: tick, then the holder's sessions with a packet ready, when and
 * only when another connection wrote. */
static void
test_watch(void)
{
	struct sio_store *other = contract_open(0);
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];
	struct sids got = {""};
	struct cu_pkts c = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	two_held(a, b);
	put(a, "3:::x");
	/* the first call sets the reference, the next finds nothing new */
	CU_ASSERT_EQUAL(sio_store_watch(st, "wsd-1", T0, sids_cb, &got), 0);
	CU_ASSERT_EQUAL(sio_store_watch(st, "wsd-1", T0, sids_cb, &got), 0);
	CU_ASSERT_STRING_EQUAL(got.got, "");
	/* another connection wrote: a's packet, still there, is found */
	CU_ASSERT_EQUAL(put_at(other, b, "3:::y", 0, T0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_watch(st, "wsd-1", T0, sids_cb, &got), 1);
	CU_ASSERT_STRING_EQUAL(got.got, one(a));
	got.got[0] = '\0';
	CU_ASSERT_EQUAL(sio_store_watch(st, "wsd-1", T0, sids_cb, &got), 0);
	/* written and none ready: a's packet taken and written */
	CU_ASSERT_EQUAL(take(st, a, "wsd-1", 1, &c), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, a, "wsd-1", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_data_put(other, b, "k", "v"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_watch(st, "wsd-1", T0, sids_cb, &got), 0);
	CU_ASSERT_STRING_EQUAL(got.got, "");
	/* and b's, for its holder */
	CU_ASSERT_EQUAL(sio_store_data_put(other, b, "k", "w"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_watch(st, "wsd-2", T0, sids_cb, &got), 1);
	CU_ASSERT_STRING_EQUAL(got.got, one(b));
	contract_close(other);
}

/* The room outbox_room gives sid on s, or -1 when it fails. */
static int
room_of(struct sio_store *s, const char *sid)
{
	int room, attached;

	return sio_store_outbox_room(s, sid, &room, &attached, NULL) == SIO_OK
	           ? room
	           : -1;
}

/* prelude: the reads after it answer as without it, through the
 * transaction's own writes to those sessions, and once the transaction
 * is over, others' writes show again. */
static void
test_prelude(void)
{
	struct sio_store *other = contract_open(0);
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], c[SIO_SID_LEN + 1];
	const char *sids[] = {a, b, c, "not a sid", "AAAAAAAAAAAAAAAAAAAAAA",
	                      a};
	long long last = 0;
	int attached = 0, room = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	two_held(a, b);
	new_session(c);
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, a, "", ""), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, b, "", ""), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, b, "/a:1", ""), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, b, "/\xc3\xa9t\xc3\xa9", ""),
	                SIO_OK);
	put(a, "3:::x");
	/* outside a transaction: nothing kept, another's write shows */
	CU_ASSERT_EQUAL(sio_store_prelude(st, sids, 5, 1), SIO_OK);
	CU_ASSERT_EQUAL(put_at(other, a, "3:::y", 0, 0), SIO_OK);
	CU_ASSERT_EQUAL(room_of(st, a), SIO_MAX_QUEUE - 2);

	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_prelude(st, sids, 6, 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_room(st, a, &room, &attached, &last),
	                SIO_OK);
	CU_ASSERT_EQUAL(room, SIO_MAX_QUEUE - 2);
	CU_ASSERT_EQUAL(attached, 1);
	CU_ASSERT_EQUAL(last, T0);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, a, ""), 1);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, a, "/chat"), 0);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, c, "/chat"), 0);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, b, "/a:1"), 1);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, b, "/a"), 0);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, b, "/\xc3\xa9t\xc3\xa9"), 1);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, b, ""), 1);
	CU_ASSERT_EQUAL(sio_store_session_state(st, c, &last),
	                SIO_SESSION_HANDSHAKEN);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sids[4], &last),
	                SIO_ABSENT);
	/* the transaction's own writes, read back */
	put(a, "3:::z");
	CU_ASSERT_EQUAL(room_of(st, a), SIO_MAX_QUEUE - 3);
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, a, "/chat", ""), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, a, "/chat"), 1);
	CU_ASSERT_EQUAL(sio_store_touch(st, b, T0 + 5000), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_session_state(st, b, &last),
	                SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(last, T0 + 5000);
	CU_ASSERT(broadcast_at(st, "", NULL, a, "3:::all", 0, 0) >= 1);
	CU_ASSERT_EQUAL(room_of(st, b), SIO_MAX_QUEUE - 1);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, c, "bye", T0), 1);
	CU_ASSERT_EQUAL(room_of(st, c), -1);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);

	/* over: another's write shows */
	CU_ASSERT_EQUAL(put_at(other, b, "3:::w", 0, 0), SIO_OK);
	CU_ASSERT_EQUAL(room_of(st, b), SIO_MAX_QUEUE - 2);
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_prelude(st, sids, 2, 1), SIO_OK);
	CU_ASSERT_EQUAL(room_of(st, b), SIO_MAX_QUEUE - 2);
	CU_ASSERT_EQUAL(sio_store_rollback(st), SIO_OK);
	CU_ASSERT_EQUAL(put_at(other, b, "3:::v", 0, 0), SIO_OK);
	CU_ASSERT_EQUAL(room_of(st, b), SIO_MAX_QUEUE - 3);
	contract_close(other);
}

/* The first packet sid has for holder's conn 1, taken into c (reset). */
static int
take1(const char *sid, const char *holder, struct cu_pkts *c)
{
	pkts_reset(c);
	return sio_store_outbox_take(st, sid, T0, 1, holder, 1, cu_collect, c);
}

/* prelude without endpoints: a holder's check, takes and dones answer as
 * without it, also after a savepoint rolled back what they did. */
static void
test_prelude_take(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], c[SIO_SID_LEN + 1];
	const char *sids[] = {a, b, c};
	struct cu_pkts got = {0};
	long long due = 0, last = 0;
	int room = 0, attached = 0, hello = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	two_held(a, b);
	new_session(c);
	put(a, "3:::1");
	put(a, "3:::2");
	put(b, "3:::3");
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_prelude(st, sids, 3, 0), SIO_OK);
	/* a session attached after the prelude: held by its new holder */
	CU_ASSERT_EQUAL(sio_session_attach(st, c, SIO_TRANSPORT_WEBSOCKET,
	                                   "wsd-3", 7, T0 + 9, &hello),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, c, "wsd-3", 7),
	                SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, c, "wsd-3", 1), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_outbox_room(st, c, &room, &attached, &last),
	                SIO_OK);
	CU_ASSERT_EQUAL(attached, 1);
	CU_ASSERT_EQUAL(last, T0 + 9);
	/* endpoints not read ahead: read as before */
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, a, ""), 1);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, a, "/x"), 0);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, a, "wsd-1", 1),
	                SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, a, "wsd-1", 2), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, a, "wsd-2", 1), SIO_ABSENT);
	/* one at a time, each done after a prelude: a done leaves the
	 * other, then none */
	CU_ASSERT_EQUAL(take1(a, "wsd-1", &got), 1);
	CU_ASSERT_STRING_EQUAL(got.got, "3:::1;");
	CU_ASSERT_EQUAL(sio_store_prelude(st, sids, 3, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, a, "wsd-1", 1), SIO_OK);
	CU_ASSERT_EQUAL(take1(a, "wsd-1", &got), 1);
	CU_ASSERT_STRING_EQUAL(got.got, "3:::2;");
	CU_ASSERT_EQUAL(sio_store_prelude(st, sids, 3, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, a, "wsd-1", 1), SIO_OK);
	CU_ASSERT_EQUAL(take1(a, "wsd-1", &got), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_next_due(st, a, T0, &due), SIO_ABSENT);
	/* b's only packet done, then rolled back: in its queue again */
	CU_ASSERT_EQUAL(take1(b, "wsd-2", &got), 1);
	CU_ASSERT_EQUAL(sio_store_prelude(st, sids, 3, 0), SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_savepoint(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, b, "wsd-2", 1), SIO_OK);
	CU_ASSERT_EQUAL(room_of(st, b), SIO_MAX_QUEUE);
	CU_ASSERT_EQUAL(sio_store_rollback_to(st), SIO_OK);
	CU_ASSERT_EQUAL(room_of(st, b), SIO_MAX_QUEUE - 1);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, a), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, b), 1);
}

/* prelude: its rows are the sessions as they were before the statement
 * that follows it (a backend may send the two in one round trip), and
 * that statement's changes show in the reads after it, whichever rows it
 * changed; one that nothing follows, or that a savepoint's rollback
 * undoes, leaves the reads as without it. */
static void
test_prelude_first(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];
	const char *sids[] = {a, b};
	unsigned open = SIO_STATE_BIT(SIO_SESSION_OPEN);
	long long last = 0;
	int room = 0, attached = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	two_held(a, b);
	put(b, "3:::1");
	/* first after it: a write of rows it does not name by sid */
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_prelude(st, sids, 2, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_process_unregister(st, "wsd-1", T0 + 7, open,
	                                             SIO_SESSION_DETACHED),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, a, "wsd-1", 1), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_outbox_room(st, a, &room, &attached, &last),
	                SIO_OK);
	CU_ASSERT_EQUAL(attached, 0);
	CU_ASSERT_EQUAL(sio_store_session_state(st, a, &last),
	                SIO_SESSION_DETACHED);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, b, "wsd-2", 1),
	                SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(room_of(st, b), SIO_MAX_QUEUE - 1);
	/* first after it: a write of one of them */
	CU_ASSERT_EQUAL(sio_store_prelude(st, sids, 2, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_detach(st, b, "wsd-2", 1, T0 + 8, open,
	                                 SIO_SESSION_DETACHED),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, b, "wsd-2", 1), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_session_state(st, b, &last),
	                SIO_SESSION_DETACHED);
	/* first after it: a packet queued, then a broadcast, counted */
	CU_ASSERT_EQUAL(sio_store_prelude(st, sids, 2, 0), SIO_OK);
	put(b, "3:::2");
	CU_ASSERT_EQUAL(room_of(st, b), SIO_MAX_QUEUE - 2);
	CU_ASSERT_EQUAL(sio_store_prelude(st, sids, 2, 1), SIO_OK);
	CU_ASSERT_EQUAL(broadcast_at(st, "", NULL, NULL, "3:::all", 0, 0), 2);
	CU_ASSERT_EQUAL(room_of(st, a), SIO_MAX_QUEUE - 1);
	CU_ASSERT_EQUAL(room_of(st, b), SIO_MAX_QUEUE - 3);
	/* asked for inside a savepoint rolled back before anything ran */
	CU_ASSERT_EQUAL_FATAL(sio_store_savepoint(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_prelude(st, sids, 2, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_rollback_to(st), SIO_OK);
	CU_ASSERT_EQUAL(room_of(st, b), SIO_MAX_QUEUE - 3);
	/* and after a write rolled back */
	CU_ASSERT_EQUAL_FATAL(sio_store_savepoint(st), SIO_OK);
	put(a, "3:::gone");
	CU_ASSERT_EQUAL(sio_store_prelude(st, sids, 2, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_rollback_to(st), SIO_OK);
	CU_ASSERT_EQUAL(room_of(st, a), SIO_MAX_QUEUE - 1);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	/* nothing after it: the transaction commits as an empty one */
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_prelude(st, sids, 2, 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, a), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, b), 3);
}

/* done_detach: what done and then detach do. Its taken packets leave the
 * queue (counted as sent) and the session detaches; superseded, only its
 * packets go, the new holder is rung and keeps the session. */
static void
test_done_detach(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];
	struct sio_store_session s;
	struct sids got = {""};
	struct cu_pkts c = {0};
	long long sent0 = 0, sent1 = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	new_session(a);
	new_session(b);
	CU_ASSERT_EQUAL(attach(a, SIO_TRANSPORT_XHR_POLLING, "gw-1", 1),
	                SIO_OK);
	CU_ASSERT_EQUAL(attach(b, SIO_TRANSPORT_XHR_POLLING, "gw-1", 2),
	                SIO_OK);
	put(a, "3:::1");
	put(a, "3:::2");
	put(b, "3:::3");
	CU_ASSERT_EQUAL(take(st, a, "gw-1", 1, &c), 2);
	put(a, "3:::later");
	CU_ASSERT_EQUAL(take(st, b, "gw-1", 2, &c), 1);
	/* b's poll is superseded by another process's before its end */
	CU_ASSERT_EQUAL(attach(b, SIO_TRANSPORT_WEBSOCKET, "wsd-9", 4), SIO_OK);
	sio_store_counters_flush(st, T0);
	CU_ASSERT_EQUAL(sio_store_counter_get(st, "packets_sent", &sent0),
	                SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_done_detach(st, a, "gw-1", 1, T0 + 4),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_session_done_detach(st, b, "gw-1", 2, T0 + 5),
	                SIO_OK);
	sio_store_bells_take(st, "wsd-9", sids_cb, &got);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(got.got, one(b));
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, a), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, b), 0);
	sio_store_counters_flush(st, T0);
	CU_ASSERT_EQUAL(sio_store_counter_get(st, "packets_sent", &sent1),
	                SIO_OK);
	CU_ASSERT_EQUAL(sent1 - sent0, 3);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_get(st, a, &s), SIO_OK);
	CU_ASSERT_EQUAL(s.state, SIO_SESSION_DETACHED);
	CU_ASSERT_EQUAL(s.detached_at, T0 + 4);
	CU_ASSERT_STRING_EQUAL(s.holder, "");
	sio_store_session_cleanup(&s);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_get(st, b, &s), SIO_OK);
	CU_ASSERT_EQUAL(s.state, SIO_SESSION_OPEN);
	CU_ASSERT_STRING_EQUAL(s.holder, "wsd-9");
	CU_ASSERT_EQUAL(s.holder_conn, 4);
	sio_store_session_cleanup(&s);
	/* a's packet queued after the take is the next one's */
	CU_ASSERT_EQUAL(take(st, a, "gw-1", 3, &c), 1);
}

/* A done (when done) and take of at most max by (holder, conn) of sid,
 * outside a transaction, into c (reset first). */
static int
done_take(const char *sid, size_t max, const char *holder, long long conn,
          int done, struct cu_pkts *c, int *state, int *more)
{
	pkts_reset(c);
	return sio_store_outbox_done_take(st, sid, T0, max, holder, conn, done,
	                                  cu_collect, c, state, more);
}

/* done_take: where the store has it, outside a transaction, a done then
 * a take from the first page while the writer holds the session; it stops
 * at another writer's packet, and a superseded writer's done rings the
 * new holder. Where it has none, the call is refused, nothing done. */
static void
test_done_take(void)
{
	char a[SIO_SID_LEN + 1];
	struct sio_doorbell *bell = bell_open("wsd-9");
	struct sids got;
	struct cu_pkts c = {0};
	long long sent0 = 0, sent1 = 0;
	int state = 0, more = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bell);
	new_session(a);
	CU_ASSERT_EQUAL(attach(a, SIO_TRANSPORT_WEBSOCKET, "wsd-1", 1), SIO_OK);
	put(a, "3:::1");
	put(a, "3:::2");
	CU_ASSERT_EQUAL(take(st, a, "wsd-1", 1, &c), 2);
	put(a, "3:::3");
	if (!sio_store_can_done_take(st)) {
		CU_ASSERT_EQUAL(
		    done_take(a, 10, "wsd-1", 1, 1, &c, &state, &more),
		    SIO_ERR);
		CU_ASSERT_EQUAL(sio_store_outbox_count(st, a), 3);
		sio_doorbell_close(bell);
		return;
	}
	sio_store_counters_flush(st, T0);
	CU_ASSERT_EQUAL(sio_store_counter_get(st, "packets_sent", &sent0),
	                SIO_OK);
	CU_ASSERT_EQUAL(done_take(a, 10, "wsd-1", 1, 1, &c, &state, &more), 1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::3;");
	CU_ASSERT_EQUAL(state, SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, a), 1);
	sio_store_counters_flush(st, T0);
	CU_ASSERT_EQUAL(sio_store_counter_get(st, "packets_sent", &sent1),
	                SIO_OK);
	CU_ASSERT_EQUAL(sent1 - sent0, 2);
	/* max 1 with two waiting: one, and more may wait */
	put(a, "3:::4");
	put(a, "3:::5");
	CU_ASSERT_EQUAL(done_take(a, 1, "wsd-1", 1, 1, &c, &state, &more), 1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::4;");
	CU_ASSERT_EQUAL(more, 1);
	/* max 0: the done alone */
	CU_ASSERT_EQUAL(done_take(a, 0, "wsd-1", 1, 1, &c, &state, &more), 0);
	CU_ASSERT_STRING_EQUAL(c.got, "");
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, a), 1);
	/* a packet taken by another writer stops the take before it */
	CU_ASSERT_EQUAL(take(st, a, "gw-2", 5, &c), 1); /* 5 */
	put(a, "3:::6");
	CU_ASSERT_EQUAL(done_take(a, 10, "wsd-1", 1, 0, &c, &state, &more), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(st), 1);
	CU_ASSERT_EQUAL(more, 0);
	CU_ASSERT_EQUAL(sio_store_outbox_release(st, a, "gw-2", 5), SIO_OK);
	CU_ASSERT_EQUAL(done_take(a, 10, "wsd-1", 1, 0, &c, &state, &more), 2);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::5;3:::6;");
	/* superseded before its done: its packets go, nothing is taken,
	 * the new holder is rung */
	CU_ASSERT_EQUAL(attach(a, SIO_TRANSPORT_XHR_POLLING, "wsd-9", 4),
	                SIO_OK);
	put(a, "3:::7");
	rings(bell, &got);
	CU_ASSERT_EQUAL(done_take(a, 10, "wsd-1", 1, 1, &c, &state, &more), 0);
	CU_ASSERT_EQUAL(state, SIO_ABSENT);
	CU_ASSERT_STRING_EQUAL(c.got, "");
	rings(bell, &got);
	CU_ASSERT_STRING_EQUAL(got.got, one(a));
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, a), 1);
	CU_ASSERT_EQUAL(take(st, a, "wsd-9", 4, &c), 1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::7;");
	/* inside a transaction: refused */
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(done_take(a, 10, "wsd-9", 4, 1, &c, &state, &more),
	                SIO_ERR);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, a), 1);
	sio_doorbell_close(bell);
}

/* maintain may be called at any time, on any connection, repeatedly,
 * with writes in between, and leaves every row as it was. */
static void
test_maintain(void)
{
	struct sio_store *other = contract_open(0);
	char sid[SIO_SID_LEN + 1];

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	new_session(sid);
	for (int i = 0; i < 50; i++) {
		put(sid, "3:::x");
		CU_ASSERT_EQUAL(
		    sio_store_maintain(i % 2 ? st : other, T0 + i * 250),
		    SIO_OK);
	}
	CU_ASSERT_EQUAL(sio_store_outbox_count(other, sid), 50);
	contract_close(other);
}

static void
counter_cb(void *udata, const char *name, long long value)
{
	struct sids *l = udata;
	size_t n = strlen(l->got);

	if (strncmp(name, "t_", 2) == 0)
		snprintf(l->got + n, sizeof(l->got) - n, "%s=%lld;", name,
		         value);
}

static void
test_counters(void)
{
	struct sids out = {""};
	long long v = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(sio_store_counter_get(st, "t_packets", &v), SIO_OK);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(sio_store_counter_add(st, "t_packets", 3), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counter_add(st, "t_packets", 4), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counter_add(st, "t_other", -1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counter_get(st, "t_packets", &v), SIO_OK);
	CU_ASSERT_EQUAL(v, 7);
	CU_ASSERT_EQUAL(sio_store_counter_get(st, "t_other", &v), SIO_OK);
	CU_ASSERT_EQUAL(v, -1);
	/* by name */
	CU_ASSERT(sio_store_counter_list(st, counter_cb, &out) >= 2);
	CU_ASSERT_STRING_EQUAL(out.got, "t_other=-1;t_packets=7;");
}

/* The hot counters of a deferring connection wait in memory: it reads
 * them, another connection sees them once flushed (a second after the
 * last flush, at once with now 0, at close). */
static void
test_deferred_counters(void)
{
	struct sio_store *other = contract_open(0), *third;
	long long v = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	sio_store_defer_counters(st);
	CU_ASSERT_EQUAL(sio_store_counter_add(st, "packets_sent", 2), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counter_add(st, "packets_received", 5),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counter_add(st, "t_cold", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counter_get(st, "packets_sent", &v), SIO_OK);
	CU_ASSERT_EQUAL(v, 2);
	CU_ASSERT_EQUAL(sio_store_counter_get(other, "packets_sent", &v),
	                SIO_OK);
	CU_ASSERT_EQUAL(v, 0);
	/* only the hot ones wait */
	CU_ASSERT_EQUAL(sio_store_counter_get(other, "t_cold", &v), SIO_OK);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_EQUAL(sio_store_counters_flush(st, T0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counter_get(other, "packets_sent", &v),
	                SIO_OK);
	CU_ASSERT_EQUAL(v, 2);
	CU_ASSERT_EQUAL(sio_store_counter_get(other, "packets_received", &v),
	                SIO_OK);
	CU_ASSERT_EQUAL(v, 5);
	/* under a second later: they wait */
	CU_ASSERT_EQUAL(sio_store_counter_add(st, "packets_sent", 3), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counters_flush(st, T0 + 500), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counter_get(other, "packets_sent", &v),
	                SIO_OK);
	CU_ASSERT_EQUAL(v, 2);
	CU_ASSERT_EQUAL(sio_store_counter_get(st, "packets_sent", &v), SIO_OK);
	CU_ASSERT_EQUAL(v, 5);
	/* a clock gone back does not hold them */
	CU_ASSERT_EQUAL(sio_store_counters_flush(st, T0 - 3600000), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counter_get(other, "packets_sent", &v),
	                SIO_OK);
	CU_ASSERT_EQUAL(v, 5);
	/* now 0: at once */
	CU_ASSERT_EQUAL(sio_store_counter_add(st, "packets_sent", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counters_flush(st, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counter_get(other, "packets_sent", &v),
	                SIO_OK);
	CU_ASSERT_EQUAL(v, 6);
	/* closing flushes */
	third = contract_open(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(third);
	sio_store_defer_counters(third);
	CU_ASSERT_EQUAL(sio_store_counter_add(third, "packets_sent", 10),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counter_get(other, "packets_sent", &v),
	                SIO_OK);
	CU_ASSERT_EQUAL(v, 6);
	contract_close(third);
	CU_ASSERT_EQUAL(sio_store_counter_get(other, "packets_sent", &v),
	                SIO_OK);
	CU_ASSERT_EQUAL(v, 16);
	contract_close(other);
}

/* --- processes ------------------------------------------------------------ */

static void
test_process_names(void)
{
	char a[SIO_HOLDER_LEN], b[SIO_HOLDER_LEN];
	int pid = (int)getpid(), end;
	unsigned hex;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL_FATAL(sio_store_process_new(st, "wsd", pid, T0, a),
	                      SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_process_new(st, "wsd", pid, T0, b),
	                      SIO_OK);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
	for (const char *n = a; n != NULL; n = n == a ? b : NULL) {
		/* wsd-<host>-<pid>-<8 hex>: the host's letters and digits */
		char want[64];
		const char *tail;
		snprintf(want, sizeof(want), "-%d-", pid);
		CU_ASSERT_EQUAL(strncmp(n, "wsd-", 4), 0);
		tail = strstr(n + 4, want);
		CU_ASSERT_PTR_NOT_NULL_FATAL(tail);
		CU_ASSERT(tail - n > 4 && tail - n <= 4 + 20);
		end = 0;
		CU_ASSERT_EQUAL(
		    sscanf(tail + strlen(want), "%8x%n", &hex, &end), 1);
		CU_ASSERT_EQUAL(end, 8);
		CU_ASSERT_EQUAL(strlen(tail), strlen(want) + 8);
	}
	/* a name is never taken over; a name is also a file name */
	CU_ASSERT_EQUAL(sio_store_process_register(st, a, pid, T0), SIO_FULL);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "a/b", pid, T0),
	                SIO_ERR);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "gw-x", pid, T0),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_process_renew(st, "gw-x", T0 + 1000), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_unregister(st, "gw-x", T0 + 2000), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_process_renew(st, "gw-x", T0 + 3000),
	                SIO_ABSENT);
	/* its name is free again */
	CU_ASSERT_EQUAL(sio_store_process_register(st, "gw-x", pid, T0),
	                SIO_OK);
}

/* Unregistering detaches what a process held and hands back what it was
 * writing, ringing the sessions' holders. */
static void
test_process_unregister(void)
{
	char held[SIO_SID_LEN + 1], kept[SIO_SID_LEN + 1],
	    other[SIO_SID_LEN + 1];
	struct sids got = {""};
	struct sio_store_session s;
	struct cu_pkts c = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	process("wsd-a");
	process("wsd-b");
	new_session(held);
	new_session(kept);
	new_session(other);
	CU_ASSERT_EQUAL(attach(held, SIO_TRANSPORT_WEBSOCKET, "wsd-a", 1),
	                SIO_OK);
	CU_ASSERT_EQUAL(attach(kept, SIO_TRANSPORT_WEBSOCKET, "wsd-b", 1),
	                SIO_OK);
	CU_ASSERT_EQUAL(attach(other, SIO_TRANSPORT_XHR_POLLING, "wsd-b", 2),
	                SIO_OK);
	put(other, "3:::o");
	CU_ASSERT_EQUAL(take(st, other, "wsd-a", 7, &c), 1);
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_unregister(st, "wsd-a", T0 + 3), SIO_OK);
	sio_store_bells_take(st, "wsd-b", sids_cb, &got);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(got.got, one(other));
	CU_ASSERT_EQUAL_FATAL(sio_store_session_get(st, held, &s), SIO_OK);
	CU_ASSERT_EQUAL(s.state, SIO_SESSION_DETACHED);
	CU_ASSERT_EQUAL(s.detached_at, T0 + 3);
	sio_store_session_cleanup(&s);
	CU_ASSERT_EQUAL(sio_store_is_holder(st, kept, "wsd-b", 1), 1);
	CU_ASSERT_EQUAL(take(st, other, "wsd-b", 2, &c), 1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::o;");
	CU_ASSERT_EQUAL(sio_store_process_renew(st, "wsd-a", T0 + 4),
	                SIO_ABSENT);
}

/* A process whose lease lapsed is reaped as if it unregistered (whatever
 * its pid: this one's here), its doorbell removed after the commit; a
 * reaped process finds out at its next renewal. */
static void
test_reap(void)
{
	char sid[SIO_SID_LEN + 1], err[SIO_ERR_LEN];
	struct sio_doorbell *dead_bell = bell_open("dead");
	struct sids got = {""};
	struct cu_pkts c = {0};
	long long last;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dead_bell);
	process("dead");
	process("alive");
	new_session(sid);
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_WEBSOCKET, "dead", 1),
	                SIO_OK);
	put(sid, "3:::a");
	CU_ASSERT_EQUAL(take(st, sid, "dead", 1, &c), 1);
	/* the next holder waits for what the dead one took */
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_XHR_POLLING, "alive", 1),
	                SIO_OK);
	CU_ASSERT_EQUAL(take(st, sid, "alive", 1, &c), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(st), 1);
	CU_ASSERT_EQUAL(sio_store_process_renew(st, "alive", T0 + 9000),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_session_reap(st, T0 + 9999, 10000), 0);
	CU_ASSERT_EQUAL(sio_doorbell_check(dead_bell, err), SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_reap(st, T0 + 10001, 10000), 1);
	sio_store_bells_take(st, "alive", sids_cb, &got);
	/* the bell stays until the commit */
	CU_ASSERT_EQUAL(sio_doorbell_check(dead_bell, err), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(got.got, one(sid));
	CU_ASSERT_EQUAL(sio_doorbell_check(dead_bell, err), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_session_reap(st, T0 + 10001, 10000), 0);
	CU_ASSERT_EQUAL(take(st, sid, "alive", 1, &c), 1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::a;");
	CU_ASSERT_EQUAL(sio_store_process_renew(st, "dead", T0 + 11000),
	                SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_process_renew(st, "alive", T0 + 11000),
	                SIO_OK);
	/* a session the dead one held alone is detached */
	process("dead2");
	new_session(sid);
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_WEBSOCKET, "dead2", 1),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_session_reap(st, T0 + 20500, 10000), 1);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
	                SIO_SESSION_DETACHED);
	sio_doorbell_close(dead_bell);
}

/* A long-running process's name (sio_store_process_new) that was reaped
 * while the process went on (a partition it never noticed) attaches
 * nothing: its row is gone. */
static void
test_reaped_fenced(void)
{
	char sid[SIO_SID_LEN + 1], me[SIO_HOLDER_LEN], again[SIO_HOLDER_LEN];
	long long last;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL_FATAL(
	    sio_store_process_new(st, "gw", (int)getpid(), T0, me), SIO_OK);
	new_session(sid);
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_WEBSOCKET, me, 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_reap(st, T0 + 20000, 10000), 1);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
	                SIO_SESSION_DETACHED);
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_XHR_POLLING, me, 2), SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(sio_store_errmsg(st), "reaped"));
	CU_ASSERT_EQUAL(sio_store_fenced(st), 1);
	CU_ASSERT_EQUAL(sio_store_session_state(st, sid, &last),
	                SIO_SESSION_DETACHED);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, sid, me, 2), SIO_ABSENT);
	/* a holder that is no process of this program's is not fenced */
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_WEBSOCKET, "elsewhere", 3),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_fenced(st), 0);
	/* registered anew, under a new name, it attaches again */
	CU_ASSERT_EQUAL(sio_store_process_unregister(
	                    st, me, T0 + 20000, SIO_STATE_BIT(SIO_SESSION_OPEN),
	                    SIO_SESSION_DETACHED),
	                SIO_OK);
	CU_ASSERT_EQUAL_FATAL(
	    sio_store_process_new(st, "gw", (int)getpid(), T0 + 20000, again),
	    SIO_OK);
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_WEBSOCKET, again, 4), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_holder_state(st, sid, again, 4),
	                SIO_SESSION_OPEN);
}

/* --- listings ------------------------------------------------------------- */

struct listing {
	char got[512];
	int stop_after, n;
};

static int
summary_cb(void *udata, const struct sio_store_summary *s)
{
	struct listing *l = udata;
	size_t n = strlen(l->got);

	if (l->stop_after && l->n == l->stop_after)
		return SIO_ERR;
	l->n++;
	snprintf(l->got + n, sizeof(l->got) - n, "%.4s:%s:%d:%s:%lld:%s;",
	         s->session.sid, sio_store_state_name(s->session.state),
	         s->session.transport, s->session.holder, s->queue,
	         s->session.request ? "request" : "");
	return SIO_OK;
}

static void
test_session_list(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], want[512];
	struct listing l = {"", 0, 0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(sio_store_session_list(st, NULL, summary_cb, &l), 0);
	CU_ASSERT_EQUAL(sio_store_session_new(st, "{}", T0 + 2, b), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_session_new(st, "{}", T0 + 1, a), SIO_OK);
	CU_ASSERT_EQUAL(attach(b, SIO_TRANSPORT_JSONP_POLLING, "gw", 1),
	                SIO_OK);
	put(b, "3:::1");
	put(b, "3:::2");
	/* in order of creation */
	CU_ASSERT_EQUAL(sio_store_session_list(st, NULL, summary_cb, &l), 2);
	snprintf(want, sizeof(want),
	         "%.4s:handshaken:-1::0:;%.4s:open:%d:gw:2:;", a, b,
	         SIO_TRANSPORT_JSONP_POLLING);
	CU_ASSERT_STRING_EQUAL(l.got, want);
	l = (struct listing){"", 0, 0};
	CU_ASSERT_EQUAL(sio_store_session_list(st, b, summary_cb, &l), 1);
	CU_ASSERT_EQUAL(strncmp(l.got, b, 4), 0);
	l = (struct listing){"", 1, 0};
	CU_ASSERT_EQUAL(sio_store_session_list(st, NULL, summary_cb, &l), 1);
	l = (struct listing){"", 0, 0};
	CU_ASSERT_EQUAL(
	    sio_store_session_list(st, "nosuchsession", summary_cb, &l), 0);
}

struct counts {
	long long sessions[SIO_SESSION_CLOSED + 1][SIO_TRANSPORT_COUNT + 1];
	long long queued[SIO_SESSION_CLOSED + 1][SIO_TRANSPORT_COUNT + 1];
};

static void
counts_cb(void *udata, enum sio_session_state state, int transport,
          long long sessions, long long queued)
{
	struct counts *c = udata;

	c->sessions[state][transport + 1] += sessions;
	c->queued[state][transport + 1] += queued;
}

static void
test_session_counts(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], c[SIO_SID_LEN + 1],
	    d[SIO_SID_LEN + 1];
	struct counts n;
	const int ws = SIO_TRANSPORT_WEBSOCKET + 1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	memset(&n, 0, sizeof(n));
	new_session(a);
	new_session(b);
	new_session(c);
	new_session(d);
	CU_ASSERT_EQUAL(attach(b, SIO_TRANSPORT_WEBSOCKET, "w", 1), SIO_OK);
	CU_ASSERT_EQUAL(attach(c, SIO_TRANSPORT_WEBSOCKET, "w", 2), SIO_OK);
	CU_ASSERT_EQUAL(attach(d, SIO_TRANSPORT_WEBSOCKET, "w", 3), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_detach(st, d, "w", 3, T0), SIO_OK);
	put(a, "3:::1");
	put(b, "3:::1");
	put(c, "3:::1");
	put(c, "3:::2");
	CU_ASSERT_EQUAL(sio_store_session_counts(st, counts_cb, &n), 3);
	CU_ASSERT_EQUAL(n.sessions[SIO_SESSION_HANDSHAKEN][0], 1);
	CU_ASSERT_EQUAL(n.queued[SIO_SESSION_HANDSHAKEN][0], 1);
	CU_ASSERT_EQUAL(n.sessions[SIO_SESSION_OPEN][ws], 2);
	CU_ASSERT_EQUAL(n.queued[SIO_SESSION_OPEN][ws], 3);
	CU_ASSERT_EQUAL(n.sessions[SIO_SESSION_DETACHED][ws], 1);
	CU_ASSERT_EQUAL(n.queued[SIO_SESSION_DETACHED][ws], 0);
}

/* --- stats ---------------------------------------------------------------- */

static void
test_stats(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], c[SIO_SID_LEN + 1];
	struct sio_store_stats s;
	struct cu_pkts p = {0};
	long long last;

	new_session(a);
	new_session(b);
	new_session(c);
	CU_ASSERT_EQUAL(attach(a, SIO_TRANSPORT_WEBSOCKET, "w", 1), SIO_OK);
	CU_ASSERT_EQUAL(attach(b, SIO_TRANSPORT_XHR_POLLING, "g", 1), SIO_OK);
	/* the same held session attached again: no new connection */
	CU_ASSERT_EQUAL(attach(b, SIO_TRANSPORT_XHR_POLLING, "g", 2), SIO_OK);
	put(a, "3:::1");
	put(a, "3:::2");
	put(b, "3:::3");
	put(c, "3:::4");
	CU_ASSERT_EQUAL(take(st, a, "w", 1, &p), 2);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, a, "w", 1), SIO_OK);
	CU_ASSERT_EQUAL(peek_at(b, T0, &p, &last), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_del(st, b, T0, last), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_detach(st, a, "w", 1, T0), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, c, "bye", T0), 1);
	sio_store_defer_counters(st);
	CU_ASSERT_EQUAL(sio_store_counter_add(st, "packets_received", 9),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_stats(st, &s), SIO_OK);
	CU_ASSERT_EQUAL(s.active_sessions, 2);
	CU_ASSERT_EQUAL(s.peak_sessions, 3);
	CU_ASSERT_EQUAL(s.active_connections, 1);
	CU_ASSERT_EQUAL(s.peak_connections, 2);
	CU_ASSERT_EQUAL(s.connections_opened, 3);
	CU_ASSERT_EQUAL(s.packets_sent, 3);
	CU_ASSERT_EQUAL(s.packets_received, 9); /* flushed by stats */
	CU_ASSERT_EQUAL(s.queued_packets, 1);
	CU_ASSERT_EQUAL(s.sessions[SIO_TRANSPORT_WEBSOCKET], 1);
	CU_ASSERT_EQUAL(s.sessions[SIO_TRANSPORT_XHR_POLLING], 1);
	CU_ASSERT_EQUAL(s.sessions[SIO_TRANSPORT_HTMLFILE], 0);
	CU_ASSERT_EQUAL(s.sessions_no_transport, 0);
	CU_ASSERT(s.time > wall_ms() - 60000 && s.time < wall_ms() + 60000);
	/* no sample yet: no rates */
	CU_ASSERT_EQUAL(s.packets_sent_ps, 0.0);
	CU_ASSERT_EQUAL(s.connections_ps, 0.0);
}

/* Rates are the growth since a sample at least a second old. */
static void
test_stats_sample(void)
{
	struct sio_store_stats s;
	long long now = wall_ms();

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(sio_store_stats_sample(st, now - 3000), 1);
	CU_ASSERT_EQUAL(sio_store_stats_sample(st, now - 2500), 0);
	CU_ASSERT_EQUAL(sio_store_counter_add(st, "packets_received", 30),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counter_add(st, "packets_sent", 15), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_stats(st, &s), SIO_OK);
	/* 30 in 3 s or more (a slow machine), per second */
	CU_ASSERT(s.packets_received_ps > 0.0 && s.packets_received_ps <= 10.0);
	CU_ASSERT(s.packets_sent_ps > 0.0 && s.packets_sent_ps <= 5.0);
	CU_ASSERT_EQUAL(s.connections_ps, 0.0);
	CU_ASSERT_EQUAL(sio_store_stats_sample(st, now - 1500), 1);
}

/* --- transactions --------------------------------------------------------- */

static void
test_transactions(void)
{
	struct sio_store *other = contract_open(0);
	char sid[SIO_SID_LEN + 1], *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	new_session(sid);
	CU_ASSERT_FALSE(sio_store_in_transaction(st));
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_ERR);
	CU_ASSERT_EQUAL(sio_store_rollback(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_TRUE(sio_store_in_transaction(st));
	CU_ASSERT_EQUAL(sio_store_begin(st), SIO_ERR); /* no nesting */
	CU_ASSERT_TRUE(sio_store_in_transaction(st));
	put(sid, "3:::1");
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "k", "v"), SIO_OK);
	/* its own reads see it, another connection does not yet */
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_count(other, sid), 0);
	CU_ASSERT_PTR_NULL(sio_store_data_get(other, sid, "k"));
	CU_ASSERT_EQUAL(sio_store_rollback(st), SIO_OK);
	CU_ASSERT_FALSE(sio_store_in_transaction(st));
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 0);
	CU_ASSERT_PTR_NULL(sio_store_data_get(st, sid, "k"));
	/* committed: everyone sees it */
	CU_ASSERT_EQUAL(sio_store_begin(st), SIO_OK);
	put(sid, "3:::2");
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "k", "w"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_FALSE(sio_store_in_transaction(st));
	CU_ASSERT_EQUAL(sio_store_outbox_count(other, sid), 1);
	v = sio_store_data_get(other, sid, "k");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, "w");
	free(v);
	/* a session made in a transaction that rolls back never was */
	CU_ASSERT_EQUAL(sio_store_begin(st), SIO_OK);
	new_session(sid);
	CU_ASSERT_EQUAL(sio_store_rollback(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_session_gone(other, sid), 1);
	contract_close(other);
}

static void
test_savepoints(void)
{
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c = {0};
	long long last;

	new_session(sid);
	CU_ASSERT_EQUAL(sio_store_savepoint(st), SIO_ERR);
	CU_ASSERT_EQUAL(sio_store_rollback_to(st), SIO_ERR);
	CU_ASSERT_EQUAL(sio_store_release(st), SIO_ERR);
	CU_ASSERT_EQUAL(sio_store_begin(st), SIO_OK);
	put(sid, "3:::kept");
	CU_ASSERT_EQUAL(sio_store_savepoint(st), SIO_OK);
	put(sid, "3:::undone");
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "k", "undone"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_rollback_to(st), SIO_OK);
	CU_ASSERT_TRUE(sio_store_in_transaction(st));
	CU_ASSERT_EQUAL(sio_store_savepoint(st), SIO_OK);
	put(sid, "3:::released");
	CU_ASSERT_EQUAL(sio_store_release(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_EQUAL(peek_at(sid, T0, &c, &last), 2);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::kept;3:::released;");
	CU_ASSERT_PTR_NULL(sio_store_data_get(st, sid, "k"));
}

/* --- doorbells ------------------------------------------------------------ */

/* The holder of a session that receives packets is rung after the
 * commit, once per session; a rollback rings nobody. */
static void
test_doorbells(void)
{
	struct sio_store *other = contract_open(0);
	struct sio_doorbell *w1 = bell_open("wsd-1"), *w2 = bell_open("wsd-2");
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1];
	struct sids got = {""};
	struct cu_pkts c = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w2);
	two_held(a, b);
	rings(w1, &got);
	CU_ASSERT_STRING_EQUAL(got.got, "");
	/* alone: rung at its own commit */
	CU_ASSERT_EQUAL(put_at(other, a, "3:::1", 0, 0), SIO_OK);
	rings(w1, &got);
	CU_ASSERT_STRING_EQUAL(got.got, one(a));
	/* in a transaction: after the commit, once per session */
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(other), SIO_OK);
	CU_ASSERT_EQUAL(put_at(other, a, "3:::2", 0, 0), SIO_OK);
	CU_ASSERT_EQUAL(put_at(other, a, "3:::3", 0, 0), SIO_OK);
	CU_ASSERT_EQUAL(put_at(other, b, "3:::4", 0, 0), SIO_OK);
	rings(w1, &got);
	CU_ASSERT_STRING_EQUAL(got.got, "");
	CU_ASSERT_EQUAL(sio_store_commit(other), SIO_OK);
	rings(w1, &got);
	CU_ASSERT_STRING_EQUAL(got.got, one(a));
	rings(w2, &got);
	CU_ASSERT_STRING_EQUAL(got.got, one(b));
	/* rolled back: nobody */
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(other), SIO_OK);
	CU_ASSERT_EQUAL(put_at(other, a, "3:::5", 0, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_rollback(other), SIO_OK);
	rings(w1, &got);
	CU_ASSERT_STRING_EQUAL(got.got, "");
	/* a broadcast rings every holder it queued for */
	CU_ASSERT_EQUAL(broadcast_at(other, "", NULL, NULL, "3:::6", 0, 0), 2);
	rings(w1, &got);
	CU_ASSERT_STRING_EQUAL(got.got, one(a));
	rings(w2, &got);
	CU_ASSERT_STRING_EQUAL(got.got, one(b));
	/* the holder's own bells, taken before the commit, are not rung;
	 * the others are */
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	put(a, "3:::7");
	put(b, "3:::8");
	got.got[0] = '\0';
	sio_store_bells_take(st, "wsd-1", sids_cb, &got);
	CU_ASSERT_STRING_EQUAL(got.got, one(a));
	got.got[0] = '\0';
	sio_store_bells_take(st, "wsd-1", sids_cb, &got);
	CU_ASSERT_STRING_EQUAL(got.got, ""); /* taken once */
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	rings(w1, &got);
	CU_ASSERT_STRING_EQUAL(got.got, "");
	rings(w2, &got);
	CU_ASSERT_STRING_EQUAL(got.got, one(b));
	/* a superseded holder is rung */
	CU_ASSERT_EQUAL(attach(a, SIO_TRANSPORT_XHR_POLLING, "wsd-2", 2),
	                SIO_OK);
	rings(w1, &got);
	CU_ASSERT_STRING_EQUAL(got.got, one(a));
	/* the end of another writer's packets rings the holder: done,
	 * release; its own do not */
	CU_ASSERT(take(other, a, "wsd-1", 1, &c) > 0);
	CU_ASSERT_EQUAL(sio_store_outbox_done(other, a, "wsd-1", 1), SIO_OK);
	rings(w2, &got);
	CU_ASSERT_STRING_EQUAL(got.got, one(a));
	put(a, "3:::9");
	rings(w2, &got);
	CU_ASSERT_EQUAL(take(other, a, "wsd-1", 1, &c), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_release(other, a, "wsd-1", 1), SIO_OK);
	rings(w2, &got);
	CU_ASSERT_STRING_EQUAL(got.got, one(a));
	CU_ASSERT_EQUAL(take(other, a, "wsd-2", 2, &c), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_done(other, a, "wsd-2", 2), SIO_OK);
	rings(w2, &got);
	CU_ASSERT_STRING_EQUAL(got.got, "");
	/* ending a session rings its holder */
	CU_ASSERT_EQUAL(sio_session_claim_end(other, b, "kicked", T0), 1);
	rings(w2, &got);
	CU_ASSERT_STRING_EQUAL(got.got, one(b));
	/* so does a heartbeat */
	CU_ASSERT_EQUAL(attach(b, SIO_TRANSPORT_WEBSOCKET, "wsd-1", 3),
	                SIO_CLOSED);
	CU_ASSERT_EQUAL(attach(a, SIO_TRANSPORT_WEBSOCKET, "wsd-1", 3), SIO_OK);
	rings(w2, &got);
	CU_ASSERT_EQUAL(
	    sio_session_heartbeat_due(other, T0 + 25000, 25000, NULL, 0), 1);
	rings(w1, &got);
	CU_ASSERT_STRING_EQUAL(got.got, one(a));
	sio_doorbell_close(w1);
	sio_doorbell_close(w2);
	contract_close(other);
}

/* --- the direct path -------------------------------------------------- */

struct direct_log {
	int accept;      /* what accept() answers */
	int accepted;    /* how often it was asked */
	char got[256];   /* delivered packets, ';'-separated */
	long long conn;  /* the conn of the last delivery */
	unsigned staged; /* what accept() was told last */
};

static int
direct_accept(void *udata, const char *sid, long long conn, unsigned staged)
{
	struct direct_log *l = udata;

	(void)sid;
	(void)conn;
	l->accepted++;
	l->staged = staged;
	return l->accept && staged < 3;
}

static void
direct_deliver(void *udata, const char *sid, long long conn, const char *pkt,
               size_t len)
{
	struct direct_log *l = udata;
	size_t n = strlen(l->got);

	(void)sid;
	snprintf(l->got + n, sizeof(l->got) - n, "%.*s;", (int)len, pkt);
	l->conn = conn;
}

static void
test_direct_path(void)
{
	struct direct_log l = {.accept = 1};
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c = {0};
	long long v = 0;

	new_session(sid);
	CU_ASSERT_EQUAL_FATAL(attach(sid, SIO_TRANSPORT_WEBSOCKET, "wsd-1", 7),
	                      SIO_OK);
	sio_store_set_direct(st, "wsd-1", direct_accept, direct_deliver, &l);
	/* alone: at its own commit, never in the outbox */
	put(sid, "3:::a");
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 0);
	CU_ASSERT_STRING_EQUAL(l.got, "3:::a;");
	CU_ASSERT_EQUAL(l.conn, 7);
	l.got[0] = '\0';
	/* in a transaction: at the commit, in order */
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	put(sid, "3:::b");
	put(sid, "3:::c");
	CU_ASSERT_EQUAL(l.staged, 1); /* b was staged when c came */
	CU_ASSERT_STRING_EQUAL(l.got, "");
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 0);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(l.got, "3:::b;3:::c;");
	/* past what accept() takes, the outbox, behind the staged ones */
	l.got[0] = '\0';
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	put(sid, "3:::1");
	put(sid, "3:::2");
	put(sid, "3:::3");
	put(sid, "3:::4");
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(l.got, "3:::1;3:::2;3:::3;");
	CU_ASSERT_EQUAL(take(st, sid, "wsd-1", 7, &c), 1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::4;");
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, sid, "wsd-1", 7), SIO_OK);
	/* delivered packets count as sent */
	CU_ASSERT_EQUAL(sio_store_counter_get(st, "packets_sent", &v), SIO_OK);
	CU_ASSERT_EQUAL(v, 7);
	/* a savepoint rolled back takes its packets; a released one keeps
	 * them; a rollback drops them all */
	l.got[0] = '\0';
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	put(sid, "3:::d");
	CU_ASSERT_EQUAL(sio_store_savepoint(st), SIO_OK);
	put(sid, "3:::e");
	CU_ASSERT_EQUAL(sio_store_rollback_to(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_savepoint(st), SIO_OK);
	put(sid, "3:::f");
	CU_ASSERT_EQUAL(sio_store_release(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(l.got, "3:::d;3:::f;");
	l.got[0] = '\0';
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	put(sid, "3:::g");
	CU_ASSERT_EQUAL(sio_store_rollback(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(l.got, "");
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 0);
	/* a delayed packet goes to the outbox, and what follows it too */
	CU_ASSERT_EQUAL(put_at(st, sid, "3:::late", 0, T0 + 1000), SIO_OK);
	put(sid, "3:::h");
	CU_ASSERT_STRING_EQUAL(l.got, "");
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 2);
	CU_ASSERT_EQUAL(sio_store_outbox_del(st, sid, T0 + 1000, 1LL << 60),
	                SIO_OK);
	/* a connection that does not accept: the outbox */
	l.accept = 0;
	l.accepted = 0;
	put(sid, "3:::i");
	CU_ASSERT_EQUAL(l.accepted, 1);
	CU_ASSERT_STRING_EQUAL(l.got, "");
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_del(st, sid, T0, 1LL << 60), SIO_OK);
	/* another holder's session: the outbox, accept not asked */
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_XHR_POLLING, "gw-2", 1),
	                SIO_OK);
	l.accept = 1;
	l.accepted = 0;
	put(sid, "3:::j");
	CU_ASSERT_EQUAL(l.accepted, 0);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 1);
	/* behind a packet another writer took: the outbox, behind it */
	CU_ASSERT_EQUAL(take(st, sid, "gw-2", 1, &c), 1);
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_WEBSOCKET, "wsd-1", 8),
	                SIO_OK);
	put(sid, "3:::k");
	CU_ASSERT_EQUAL(l.accepted, 0);
	CU_ASSERT_STRING_EQUAL(l.got, "");
	CU_ASSERT_EQUAL(sio_store_outbox_release(st, sid, "gw-2", 1), SIO_OK);
	CU_ASSERT_EQUAL(take(st, sid, "wsd-1", 8, &c), 2);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::j;3:::k;");
	sio_store_set_direct(st, "", NULL, NULL, NULL);
}

/* --- the bridge's queue ----------------------------------------------------
 */

/* What bridge_take passed, "sid:seq:tries:body;" each. */
struct bridge_log {
	char got[512];
	long long seq[8];
	long long created[8];
	int n;
};

static void
bridge_took(void *udata, const struct sio_store_bridge_event *e)
{
	struct bridge_log *l = udata;
	size_t used = strlen(l->got);

	CU_ASSERT_EQUAL(strlen(e->body), e->len);
	snprintf(l->got + used, sizeof(l->got) - used, "%s:%d:%s;", e->sid,
	         e->tries, e->body);
	if (l->n < 8) {
		l->seq[l->n] = e->seq;
		l->created[l->n] = e->created;
	}
	l->n++;
}

static int
bridge_put(const char *sid, const char *body, long long now, int max)
{
	return sio_store_bridge_put(st, sid, body, strlen(body), now, max);
}

/* Takes for sid (NULL: the scan, grace_ms and max) as taker at now with a
 * lease of 1 s, into a cleared l. */
static int
bridge_take(const char *sid, const char *taker, long long now,
            long long grace_ms, int max, struct bridge_log *l)
{
	memset(l, 0, sizeof(*l));
	return sio_store_bridge_take(st, sid, taker, now, 1000, grace_ms, max,
	                             bridge_took, l);
}

static long long
bridge_count(const char *sid)
{
	long long n = -1;

	CU_ASSERT_EQUAL(sio_store_bridge_count(st, sid, &n), SIO_OK);
	return n;
}

static void
test_bridge_order(void)
{
	struct bridge_log l;
	long long a1, a2;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	/* no session needed: a queue outlives its session */
	CU_ASSERT_EQUAL(bridge_put("a", "{\"n\":1}", T0, 0), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("b", "{\"n\":2}", T0 + 1, 0), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("a", "{\"n\":3}", T0 + 2, 0), SIO_OK);
	CU_ASSERT_EQUAL(bridge_count("a"), 2);
	CU_ASSERT_EQUAL(bridge_count("b"), 1);
	CU_ASSERT_EQUAL(bridge_count("c"), 0);
	CU_ASSERT_EQUAL(bridge_count(NULL), 3);
	/* the first event, then nothing while it is in flight */
	CU_ASSERT_EQUAL(bridge_take("a", "gw-1", T0 + 5, 0, 1, &l), 1);
	CU_ASSERT_STRING_EQUAL(l.got, "a:1:{\"n\":1};");
	CU_ASSERT_EQUAL(l.created[0], T0);
	a1 = l.seq[0];
	CU_ASSERT_EQUAL(bridge_take("a", "gw-1", T0 + 5, 0, 1, &l), 0);
	CU_ASSERT_EQUAL(bridge_take("a", "gw-2", T0 + 5, 0, 1, &l), 0);
	CU_ASSERT_STRING_EQUAL(l.got, "");
	/* another session is independent */
	CU_ASSERT_EQUAL(bridge_take("b", "gw-2", T0 + 5, 0, 1, &l), 1);
	CU_ASSERT_STRING_EQUAL(l.got, "b:1:{\"n\":2};");
	/* done by another taker, or for another sid: absent, kept */
	CU_ASSERT_EQUAL(sio_store_bridge_done(st, "a", a1, "gw-2"), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_bridge_done(st, "b", a1, "gw-1"), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_bridge_retry(st, "a", a1, "gw-2", 0),
	                SIO_ABSENT);
	CU_ASSERT_EQUAL(bridge_count("a"), 2);
	CU_ASSERT_EQUAL(sio_store_bridge_done(st, "a", a1, "gw-1"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_bridge_done(st, "a", a1, "gw-1"), SIO_ABSENT);
	CU_ASSERT_EQUAL(bridge_count("a"), 1);
	/* then the next one */
	CU_ASSERT_EQUAL(bridge_take("a", "gw-1", T0 + 6, 0, 1, &l), 1);
	CU_ASSERT_STRING_EQUAL(l.got, "a:1:{\"n\":3};");
	a2 = l.seq[0];
	CU_ASSERT(a2 > a1);
	/* a retry frees it from next_at on, tries counting */
	CU_ASSERT_EQUAL(sio_store_bridge_retry(st, "a", a2, "gw-1", T0 + 500),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_bridge_retry(st, "a", a2, "gw-1", T0 + 500),
	                SIO_ABSENT);
	CU_ASSERT_EQUAL(bridge_take("a", "gw-1", T0 + 499, 0, 1, &l), 0);
	CU_ASSERT_EQUAL(bridge_take("a", "gw-2", T0 + 500, 0, 1, &l), 1);
	CU_ASSERT_STRING_EQUAL(l.got, "a:2:{\"n\":3};");
	CU_ASSERT_EQUAL(sio_store_bridge_done(st, "a", a2, "gw-1"), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_bridge_done(st, "a", a2, "gw-2"), SIO_OK);
	CU_ASSERT_EQUAL(bridge_count("a"), 0);
	CU_ASSERT_EQUAL(bridge_take("a", "gw-1", T0 + 600, 0, 1, &l), 0);
	CU_ASSERT_EQUAL(bridge_count(NULL), 1);
}

/* A taker's lease ends: the event goes to the next taker, and the first
 * can no longer finish it. */
static void
test_bridge_lease(void)
{
	struct bridge_log l;
	long long seq;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(bridge_put("a", "{}", T0, 0), SIO_OK);
	CU_ASSERT_EQUAL(bridge_take("a", "gw-1", T0, 0, 1, &l), 1);
	seq = l.seq[0];
	CU_ASSERT_EQUAL(bridge_take("a", "gw-2", T0 + 1000, 0, 1, &l), 0);
	CU_ASSERT_EQUAL(bridge_take(NULL, "gw-2", T0 + 1000, 0, 10, &l), 0);
	CU_ASSERT_EQUAL(bridge_take("a", "gw-2", T0 + 1001, 0, 1, &l), 1);
	CU_ASSERT_STRING_EQUAL(l.got, "a:2:{};");
	CU_ASSERT_EQUAL(l.seq[0], seq);
	CU_ASSERT_EQUAL(sio_store_bridge_retry(st, "a", seq, "gw-1", 0),
	                SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_bridge_done(st, "a", seq, "gw-1"),
	                SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_bridge_done(st, "a", seq, "gw-2"), SIO_OK);
}

/* A full queue refuses the event and writes nothing; max 0: no limit. */
static void
test_bridge_full(void)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(bridge_put("a", "{\"n\":1}", T0, 2), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("a", "{\"n\":2}", T0, 2), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("a", "{\"n\":3}", T0, 2), SIO_FULL);
	CU_ASSERT_EQUAL(bridge_count("a"), 2);
	CU_ASSERT_EQUAL(bridge_put("b", "{}", T0, 2), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("a", "{\"n\":4}", T0, 3), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("a", "{\"n\":5}", T0, 0), SIO_OK);
	CU_ASSERT_EQUAL(bridge_count("a"), 4);
	CU_ASSERT_EQUAL(bridge_count(NULL), 5);
	/* a bad call writes nothing */
	CU_ASSERT_EQUAL(bridge_put("a", "", T0, 0), SIO_ERR);
	CU_ASSERT_EQUAL(sio_store_bridge_put(st, NULL, "{}", 2, T0, 0),
	                SIO_ERR);
	CU_ASSERT_EQUAL(bridge_count(NULL), 5);
}

/* The scan: one event a session, oldest first, past the grace or tried
 * before, up to max. */
static void
test_bridge_scan(void)
{
	struct bridge_log l;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(bridge_put("b", "{\"n\":1}", T0 + 10, 0), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("c", "{\"n\":2}", T0, 0), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("b", "{\"n\":3}", T0 + 11, 0), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("a", "{\"n\":4}", T0 + 20, 0), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("d", "{\"n\":5}", T0 + 30, 0), SIO_OK);
	/* nothing old enough yet */
	CU_ASSERT_EQUAL(bridge_take(NULL, "gw-1", T0 + 5, 10, 10, &l), 0);
	CU_ASSERT_EQUAL(bridge_take(NULL, "gw-1", T0 + 30, 10, 0, &l), 0);
	/* up to max, oldest first */
	CU_ASSERT_EQUAL(bridge_take(NULL, "gw-1", T0 + 30, 10, 1, &l), 1);
	CU_ASSERT_STRING_EQUAL(l.got, "c:1:{\"n\":2};");
	CU_ASSERT_EQUAL(bridge_take(NULL, "gw-1", T0 + 30, 10, 10, &l), 2);
	CU_ASSERT_STRING_EQUAL(l.got, "b:1:{\"n\":1};a:1:{\"n\":4};");
	/* each session's first is in flight: nothing more */
	CU_ASSERT_EQUAL(bridge_take(NULL, "gw-1", T0 + 30, 10, 10, &l), 0);
	/* tried before: past the grace at once, once next_at has come */
	CU_ASSERT_EQUAL(bridge_take("d", "gw-1", T0 + 30, 0, 1, &l), 1);
	CU_ASSERT_EQUAL(
	    sio_store_bridge_retry(st, "d", l.seq[0], "gw-1", T0 + 35), SIO_OK);
	CU_ASSERT_EQUAL(bridge_take(NULL, "gw-1", T0 + 34, 10, 10, &l), 0);
	CU_ASSERT_EQUAL(bridge_take(NULL, "gw-1", T0 + 35, 10, 10, &l), 1);
	CU_ASSERT_STRING_EQUAL(l.got, "d:2:{\"n\":5};");
	/* leases over: again, oldest first */
	CU_ASSERT_EQUAL(bridge_take(NULL, "gw-2", T0 + 2000, 10, 10, &l), 4);
	CU_ASSERT_STRING_EQUAL(l.got, "c:2:{\"n\":2};b:2:{\"n\":1};"
	                              "a:2:{\"n\":4};d:3:{\"n\":5};");
	CU_ASSERT_EQUAL(bridge_count(NULL), 5);
}

/* What the bridge hook was called with, and whether a transaction was
 * open then. */
struct hook_log {
	char got[256];
	int in_tx;
};

static void
bridge_hook(void *udata, const char *sid)
{
	struct hook_log *l = udata;
	size_t used = strlen(l->got);

	l->in_tx |= sio_store_in_transaction(st);
	snprintf(l->got + used, sizeof(l->got) - used, "%s;", sid);
}

static void
test_bridge_hook(void)
{
	struct hook_log l = {0};
	struct bridge_log b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(bridge_put("x", "{}", T0, 0), SIO_OK); /* no hook */
	sio_store_set_bridge_hook(st, bridge_hook, &l);
	/* alone: at its own commit */
	CU_ASSERT_EQUAL(bridge_put("a", "{}", T0, 0), SIO_OK);
	CU_ASSERT_STRING_EQUAL(l.got, "a;");
	/* in a transaction: after the commit, in put order, repeats kept */
	l.got[0] = '\0';
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("b", "{}", T0, 0), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("a", "{}", T0, 0), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("b", "{}", T0, 0), SIO_OK);
	CU_ASSERT_STRING_EQUAL(l.got, "");
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(l.got, "b;a;b;");
	CU_ASSERT_EQUAL(l.in_tx, 0);
	/* a rollback forgets them; so does a savepoint rolled back, and a
	 * released one keeps its own */
	l.got[0] = '\0';
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("c", "{}", T0, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_rollback(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(l.got, "");
	CU_ASSERT_EQUAL(bridge_count("c"), 0);
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("d", "{}", T0, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_savepoint(st), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("e", "{}", T0, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_rollback_to(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_savepoint(st), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("f", "{}", T0, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_release(st), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("g", "{}", T0, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(l.got, "d;f;g;");
	CU_ASSERT_EQUAL(bridge_count("e"), 0);
	CU_ASSERT_EQUAL(bridge_count("f"), 1);
	/* a full queue calls nothing; other writes call nothing */
	l.got[0] = '\0';
	CU_ASSERT_EQUAL(bridge_put("d", "{}", T0, 1), SIO_FULL);
	CU_ASSERT_EQUAL(bridge_take("d", "gw-1", T0, 0, 1, &b), 1);
	CU_ASSERT_EQUAL(sio_store_bridge_done(st, "d", b.seq[0], "gw-1"),
	                SIO_OK);
	CU_ASSERT_STRING_EQUAL(l.got, "");
	CU_ASSERT_EQUAL(l.in_tx, 0);
	sio_store_set_bridge_hook(st, NULL, NULL);
	CU_ASSERT_EQUAL(bridge_put("h", "{}", T0, 0), SIO_OK);
	CU_ASSERT_STRING_EQUAL(l.got, "");
}

/* A hook may write at once: its put's transaction is over. */
static void
bridge_hook_take(void *udata, const char *sid)
{
	struct bridge_log *l = udata;

	CU_ASSERT_EQUAL(sio_store_bridge_take(st, sid, "gw-1", T0, 1000, 0, 1,
	                                      bridge_took, l),
	                1);
}

static void
test_bridge_hook_writes(void)
{
	struct bridge_log l = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	sio_store_set_bridge_hook(st, bridge_hook_take, &l);
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("a", "{\"n\":1}", T0, 0), SIO_OK);
	CU_ASSERT_EQUAL(bridge_put("b", "{\"n\":2}", T0, 0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(l.got, "a:1:{\"n\":1};b:1:{\"n\":2};");
	CU_ASSERT_EQUAL(sio_store_in_transaction(st), 0);
	sio_store_set_bridge_hook(st, NULL, NULL);
}

static const struct cu_test tests[] = {
    {"a new session is handshaken with a fresh id, its request and the root",
     test_session_new},
    {"attach opens the session and says 1:: until one was written",
     test_attach_and_hello},
    {"the holder is the last attachment; holder_state is its view",
     test_holder},
    {"detach by a non-holder is a no-op, by the holder starts the timeout",
     test_detach},
    {"the store moves a state only as the caller's from and to say",
     test_moves_as_told},
    {"touch records when the client was last heard", test_touch},
    {"ending a session is claimed once, with its time and reason",
     test_end_claimed_once},
    {"connections racing to end sessions claim each exactly once",
     test_end_race},
    {"a session its client ended is gone, one the server ended is not",
     test_forget_and_gone},
    {"purge keeps only the outbox of a closed session", test_purge},
    {"cleanup deletes sessions closed before the cutoff, outboxes too",
     test_cleanup},
    {"cleanup_drained deletes closed sessions with an empty outbox",
     test_cleanup_drained},
    {"live sessions are counted per handshake address", test_sessions_live},
    {"expired finds heartbeat and close timeouts, up to max", test_expired},
    {"a session whose holder is gone is detached and expires",
     test_expired_holder_gone},
    {"heartbeats go to persistent transports, another holder's later",
     test_heartbeat_due},
    {"a step of the wall clock moves the times timers read", test_clock_check},
    {"the outbox keeps order; peek reads, del deletes up to last_seq",
     test_outbox_order_peek_del},
    {"a full queue refuses a packet and nothing else", test_outbox_full},
    {"volatile packets need a transport; closed or absent: SIO_CLOSED, "
     "SIO_ABSENT",
     test_outbox_volatile_closed_absent},
    {"a delayed packet waits for its time and holds back nothing",
     test_outbox_delayed},
    {"broadcast reaches an endpoint or room, except the sender and full "
     "queues",
     test_broadcast},
    {"a take that stops early marks nothing past what it passed",
     test_take_stops_early},
    {"taken packets go to one writer until done or released",
     test_take_done_release},
    {"ready lists a holder's sessions with a packet it can write",
     test_outbox_ready},
    {"connections writing one outbox at once lose nothing and keep order",
     test_concurrent_writers},
    {"endpoints are added, replaced, listed root last and deleted",
     test_endpoints},
    {"data is kept per session and key; NULL deletes", test_data},
    {"rooms are per endpoint; leave NULL leaves all of them", test_rooms},
    {"ack ids count from 1 per session and are taken once", test_acks},
    {"ack_get reads a pending ack and leaves it", test_ack_get},
    {"an id first, the session under it later", test_sid_then_session},
    {"outbox_room tells the room left and whether a transport is attached",
     test_outbox_room},
    {"a read snapshot holds off no writer and sees its writes after",
     test_read_snapshot},
    {"a snapshot upgraded to the write transaction, or a new one when "
     "another wrote",
     test_read_upgrade},
    {"tick says when another connection wrote since the last tick", test_tick},
    {"watch finds the holder's ready sessions when another connection wrote",
     test_watch},
    {"prelude: reads answer as without it, through the transaction's own "
     "writes",
     test_prelude},
    {"prelude: a holder's check, takes and dones answer as without it",
     test_prelude_take},
    {"done_detach: as done, then detach", test_done_detach},
    {"done_take: outside a transaction, a done then a take while held",
     test_done_take},
    {"prelude: its rows are from before the next statement, whose "
     "changes show",
     test_prelude_first},
    {"maintain runs at any time and keeps every row", test_maintain},
    {"counters add, read and list by name", test_counters},
    {"deferred counters wait in memory until flushed", test_deferred_counters},
    {"process names are incarnations, registered once, renewed until gone",
     test_process_names},
    {"unregistering detaches and hands back what a process held",
     test_process_unregister},
    {"reap unregisters a lapsed lease and removes its doorbell", test_reap},
    {"a reaped process of this program's attaches nothing under its name",
     test_reaped_fenced},
    {"session_list lists sessions in order of creation", test_session_list},
    {"session_counts counts sessions and queues per state and transport",
     test_session_counts},
    {"stats count sessions, connections, packets and transports", test_stats},
    {"stats_sample gives the rates their base", test_stats_sample},
    {"a transaction commits or rolls back together; others see commits",
     test_transactions},
    {"a savepoint rolls back or releases what came after it", test_savepoints},
    {"doorbells ring holders after the commit, never after a rollback",
     test_doorbells},
    {"the direct path delivers after the commit, drops with a rollback",
     test_direct_path},
    {"bridge events are taken in order, one in flight a session",
     test_bridge_order},
    {"a bridge taker's lease ends: another takes it, the first cannot finish",
     test_bridge_lease},
    {"a full bridge queue refuses the event", test_bridge_full},
    {"the bridge scan takes the oldest past the grace, up to max",
     test_bridge_scan},
    {"the bridge hook runs after the commit, never for what rolled back",
     test_bridge_hook},
    {"the bridge hook may write at once", test_bridge_hook_writes},
    {NULL, NULL},
};

int
main(void)
{
	int ok;

	/* a backend that cannot open fails once, not in every test */
	setup();
	ok = st != NULL;
	teardown();
	if (!ok)
		return 1;
	return cu_run("store contract", tests, setup, teardown);
}
