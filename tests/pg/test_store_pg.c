/*
 * test_store_pg.c: the PostgreSQL backend's races, scripted. The contract
 * suite (test_store_contract.c) says what every backend promises; these
 * tests hold a PostgreSQL transaction open at a chosen point, through a
 * raw libpq connection, and check what siogate does around it: a take
 * waiting on a late commit, siogate_push() and its NOTIFY, processes
 * migrating one database at once, the lock timeout, two processes ending
 * one session, a new holder attaching while a packet is put, two hosts'
 * heartbeat rounds at once, the election of each second's sweeper. Waits are
 * for a condition seen in the server (pg_locks), with a deadline, never a fixed
 * sleep.
 *
 * Each test has an empty database of its own on the cluster that
 * $SIO_TEST_PG_HOST, _PORT and _USER name (make check-pg).
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cu.h"
#include "config.h"
#include "doorbell.h"
#include "session.h"
#include "store.h"
#include "store_ops.h"

#define T0 1700000000000LL /* a fake "now" */
#define HOLDER "wsd-1-0000abcd"
#define DEADLINE_MS 10000 /* the longest a wait for the server lasts */

/* The schema, to know its latest version. */
static const char pg_schema[] =
#include "pg_schema.inc"
    ;

static char db[64];   /* the test's database; "" when none was made */
static unsigned made; /* databases made by this run */

/* What a test opened, closed in teardown() (opened from its thread). */
#define MAX_OPEN 8
static struct sio_store *stores[MAX_OPEN];
static PGconn *raws[MAX_OPEN];
/* The doorbells' directory of stores opened after run_make() (NULL:
 * they ring none), and the bells opened in it. */
static char *run;
static struct sio_doorbell *bells[MAX_OPEN];

/* --- the cluster and the test's database -------------------------------- */

/* A connection to database name, or NULL with the reason printed. */
static PGconn *
pg_connect(const char *name)
{
	const char *keys[] = {"host", "port", "user", "dbname", NULL};
	const char *vals[] = {getenv("SIO_TEST_PG_HOST"),
	                      getenv("SIO_TEST_PG_PORT"),
	                      getenv("SIO_TEST_PG_USER"), name, NULL};
	PGconn *c;

	for (int i = 0; i < 3; i++)
		if (vals[i] == NULL || *vals[i] == '\0') {
			fprintf(stderr,
			        "test_store_pg: $SIO_TEST_PG_%s is "
			        "not set (make check-pg)\n",
			        i == 0   ? "HOST"
			        : i == 1 ? "PORT"
			                 : "USER");
			return NULL;
		}
	c = PQconnectdbParams(keys, vals, 0);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "test_store_pg: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Runs sql (no rows wanted) on c: 1 on success, 0 with the error
 * printed. */
static int
pg_do(PGconn *c, const char *sql)
{
	PGresult *r;
	int ok;

	if (c == NULL)
		return 0;
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
	     PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "test_store_pg: %s: %s", sql,
		        PQerrorMessage(c));
	PQclear(r);
	return ok;
}

/* Runs sql with one text parameter (may be NULL) and reads column 0 of
 * its first row: the integer, -1 when NULL or no row, -2 on error. */
static long long
pg_int1(PGconn *c, const char *sql, const char *p1, const char *p2)
{
	const char *vals[] = {p1, p2};
	PGresult *r;
	long long v = -2;

	if (c == NULL)
		return -2;
	r = PQexecParams(c, sql,
	                 p2   ? 2
	                 : p1 ? 1
	                      : 0,
	                 NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)
		        ? atoll(PQgetvalue(r, 0, 0))
		        : -1;
	else
		fprintf(stderr, "test_store_pg: %s: %s", sql,
		        PQerrorMessage(c));
	PQclear(r);
	return v;
}

/* Runs sql on the cluster's database "postgres": 1 on success. */
static int
pg_admin(const char *sql)
{
	PGconn *c = pg_connect("postgres");
	int ok = pg_do(c, sql);

	PQfinish(c);
	return ok;
}

/* One more raw connection to the test's database, closed in teardown(). */
static PGconn *
raw_open(void)
{
	int i;

	for (i = 0; i < MAX_OPEN && raws[i] != NULL; i++)
		;
	if (i == MAX_OPEN || db[0] == '\0')
		return NULL;
	return raws[i] = pg_connect(db);
}

/* The test's database as a URI for sio_store_open() (the cluster's
 * names are plain: a directory, a number, a user); host_clock: leases on
 * the times the test passes (pg.sql: siogate_clock()), not the server's
 * clock. */
static void
store_uri(char *uri, size_t size, int host_clock)
{
	snprintf(uri, size, "postgresql://%s@/%s?host=%s&port=%s%s",
	         getenv("SIO_TEST_PG_USER"), db, getenv("SIO_TEST_PG_HOST"),
	         getenv("SIO_TEST_PG_PORT"),
	         host_clock ? "&options=-c%20siogate.host_clock%3Don" : "");
}

/* Opens a store on the test's database (busy_ms 0: the default), or
 * NULL with the reason printed; not recorded for teardown(). */
static struct sio_store *
store_open_raw(int busy_ms)
{
	struct sio_store_opts opts = {
	    .synchronous = SIO_SYNC_NORMAL,
	    .busy_timeout_ms = busy_ms,
	    .run_dir = run,
	};
	char uri[1024], err[SIO_ERR_LEN] = "";
	struct sio_store *s;

	if (db[0] == '\0')
		return NULL;
	store_uri(uri, sizeof(uri), 1);
	s = sio_store_open(uri, &opts, err);
	if (s == NULL)
		fprintf(stderr, "test_store_pg: open: %s\n", err);
	return s;
}

/* Records s for teardown(); returns it. */
static struct sio_store *
store_keep(struct sio_store *s)
{
	for (int i = 0; s != NULL && i < MAX_OPEN; i++)
		if (stores[i] == NULL)
			return stores[i] = s;
	sio_store_close(s);
	return NULL;
}

static struct sio_store *
store_open(int busy_ms)
{
	return store_keep(store_open_raw(busy_ms));
}

static void
setup(void)
{
	char name[sizeof(db)], sql[128];

	snprintf(name, sizeof(name), "store_pg_%d_%u", (int)getpid(), ++made);
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\" TEMPLATE template0",
	         name);
	db[0] = '\0';
	if (pg_admin(sql))
		snprintf(db, sizeof(db), "%s", name);
}

static void
teardown(void)
{
	char sql[128];

	for (int i = 0; i < MAX_OPEN; i++) {
		if (stores[i] != NULL)
			sio_store_close(stores[i]);
		PQfinish(raws[i]);
		if (bells[i] != NULL)
			sio_doorbell_close(bells[i]);
		stores[i] = NULL;
		raws[i] = NULL;
		bells[i] = NULL;
	}
	if (run != NULL) {
		cu_rmtree(run);
		free(run);
		run = NULL;
	}
	if (db[0] == '\0')
		return;
	snprintf(sql, sizeof(sql),
	         "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", db);
	pg_admin(sql);
	db[0] = '\0';
}

/* --- helpers -------------------------------------------------------------- */

#define LIVE                                                                   \
	(SIO_STATE_BIT(SIO_SESSION_HANDSHAKEN) |                               \
	 SIO_STATE_BIT(SIO_SESSION_OPEN) |                                     \
	 SIO_STATE_BIT(SIO_SESSION_DETACHED))

/* A new session held by (HOLDER, 1). */
static void
held_session(struct sio_store *s, char sid[SIO_SID_LEN + 1])
{
	int hello;

	CU_ASSERT_EQUAL_FATAL(sio_store_session_new(s, "{}", T0, sid), SIO_OK);
	CU_ASSERT_EQUAL_FATAL(
	    sio_store_attach(s, sid, SIO_TRANSPORT_XHR_POLLING, HOLDER, 1, T0,
	                     &hello, LIVE, SIO_SESSION_OPEN),
	    SIO_OK);
}

static void
pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Waits until a backend of the test's database waits for an advisory
 * lock (pg_locks), seen through c: 1, or 0 at the deadline. */
static int
wait_lock_waiter(PGconn *c)
{
	long long end = cu_now_ms() + DEADLINE_MS;

	while (cu_now_ms() < end) {
		long long n =
		    pg_int1(c,
		            "SELECT count(*) FROM pg_locks l"
		            " JOIN pg_database d ON d.oid = l.database"
		            " WHERE l.locktype = 'advisory'"
		            " AND NOT l.granted AND d.datname = $1",
		            db, NULL);

		if (n > 0)
			return 1;
		if (n < 0)
			return 0;
		pause_ms(5); /* between polls of the condition */
	}
	return 0;
}

/* The next notification on c, waiting up to the deadline; NULL when none
 * came. PQfreemem() it. */
static PGnotify *
wait_notify(PGconn *c)
{
	long long end = cu_now_ms() + DEADLINE_MS, now;
	PGnotify *n = NULL;

	while (PQconsumeInput(c) && (n = PQnotifies(c)) == NULL &&
	       (now = cu_now_ms()) < end) {
		struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};

		if (poll(&p, 1, (int)(end - now)) < 0)
			return NULL;
	}
	return n;
}

/* --- a take waiting on a late commit -------------------------------------- */

/* A take by (HOLDER, 1) on a thread of its own; with done_take, a done
 * and take outside a transaction (max 10) instead. */
struct taker {
	struct sio_store *st;
	const char *sid;
	struct cu_pkts c;
	int done_take, rc, state, more;
	atomic_int done;
};

static void *
taker_run(void *arg)
{
	struct taker *t = arg;

	t->rc = t->done_take
	            ? sio_store_outbox_done_take(t->st, t->sid, T0, 10, HOLDER,
	                                         1, 1, cu_collect, &t->c,
	                                         &t->state, &t->more)
	            : sio_store_outbox_take(t->st, t->sid, T0, 100, HOLDER, 1,
	                                    cu_collect, &t->c);
	atomic_store(&t->done, 1);
	return NULL;
}

/*
 * A writer from outside inserts a packet and holds its transaction open
 * (with the writers' lock, which the outbox's trigger took); a take
 * waits for that lock, then sees the writer's packets, the one inserted
 * while it waited too, and marks exactly the rows it passed: done then
 * empties the outbox.
 */
static void
test_take_waits_for_a_late_commit(void)
{
	struct sio_store *st = store_open(0);
	PGconn *raw = raw_open(), *watch = raw_open();
	struct taker t = {.st = st};
	char sid[SIO_SID_LEN + 1];
	pthread_t th;
	int waited;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	CU_ASSERT_PTR_NOT_NULL_FATAL(watch);
	held_session(st, sid);
	t.sid = sid;
	CU_ASSERT_FATAL(pg_do(raw, "BEGIN"));
	CU_ASSERT_EQUAL_FATAL(pg_int1(raw,
	                              "INSERT INTO outbox (sid, packet)"
	                              " VALUES ($1, '3:::a') RETURNING seq",
	                              sid, NULL) > 0,
	                      1);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, taker_run, &t), 0);
	waited = wait_lock_waiter(watch);
	CU_ASSERT(waited);
	CU_ASSERT_EQUAL(atomic_load(&t.done), 0); /* it waits for the lock */
	CU_ASSERT(pg_int1(raw,
	                  "INSERT INTO outbox (sid, packet)"
	                  " VALUES ($1, '3:::b') RETURNING seq",
	                  sid, NULL) > 0);
	CU_ASSERT(pg_do(raw, "COMMIT"));
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(t.rc, 2);
	CU_ASSERT_STRING_EQUAL(t.c.got, "3:::a;3:::b;");
	CU_ASSERT_EQUAL(pg_int1(watch,
	                        "SELECT count(*) FROM outbox WHERE sid = $1"
	                        " AND taken_by = $2",
	                        sid, HOLDER),
	                2);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, sid, HOLDER, 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 0);
}

/* --- plans chosen on an empty table ----------------------------------------
 */

/* Index tuples the server has counted as fetched from sessions, through
 * c (what other backends report, up to a second late). */
static long long
sessions_fetched(PGconn *c)
{
	return pg_int1(c,
	               "SELECT coalesce(idx_tup_fetch, 0) FROM"
	               " pg_stat_user_tables WHERE relname = 'sessions'",
	               NULL, NULL);
}

/*
 * A connection's prepared statements keep the plan chosen once the table
 * was nearly empty. Looking up one session of a holder that holds
 * thousands reads that session's row, not the holder's every row (which
 * the index on holder would give).
 */
static void
test_session_lookups_by_sid_stay_cheap(void)
{
	enum { CALLS = 50 };
	struct sio_store *st = store_open(0);
	PGconn *raw = raw_open();
	char sid[SIO_SID_LEN + 1];
	long long before, after = 0, end;
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	held_session(st, sid);
	/* past the plan cache's five custom plans: the generic one */
	for (i = 0; i < 10; i++)
		CU_ASSERT(sio_store_holder_state(st, sid, HOLDER, 1) >= 0);
	CU_ASSERT_FATAL(pg_do(raw, "INSERT INTO sessions (sid, state, created,"
	                           " last_recv, last_heartbeat, holder,"
	                           " holder_conn) SELECT 'many-' || i, 'open',"
	                           " 0, 0, 0, '" HOLDER "', i"
	                           " FROM generate_series(1, 3000) i"));
	/* what the lookups so far fetched shows once their backend has
	 * reported it: until a lookup changes nothing */
	end = cu_now_ms() + DEADLINE_MS;
	before = sessions_fetched(raw);
	while (cu_now_ms() < end) {
		long long was = before;

		pause_ms(1100); /* a backend reports once a second at most */
		CU_ASSERT(sio_store_holder_state(st, sid, HOLDER, 1) >= 0);
		before = sessions_fetched(raw);
		if (before == was)
			break;
	}
	for (i = 0; i < CALLS; i++)
		CU_ASSERT(sio_store_holder_state(st, sid, HOLDER, 1) >= 0);
	end = cu_now_ms() + DEADLINE_MS;
	while (cu_now_ms() < end) {
		after = sessions_fetched(raw);
		if (after - before >= CALLS)
			break;
		pause_ms(50); /* between polls of the condition */
		CU_ASSERT(sio_store_holder_state(st, sid, HOLDER, 1) >= 0);
	}
	/* a row or so a lookup, not one of HOLDER's 3,000 */
	CU_ASSERT(after - before >= CALLS);
	CU_ASSERT(after - before < 4 * CALLS);
}

/* --- an apply chosen as a deadlock's victim --------------------------------
 */

/* The application: on_message counts its calls and echoes. */
static atomic_int echo_calls;

static int
echo_message(struct sio_conn *c, const char *msg, size_t len, json_t *reply)
{
	(void)reply;
	atomic_fetch_add(&echo_calls, 1);
	return sio_send(c, msg, len);
}

static const struct sio_app echo_root = {.endpoint = "",
                                         .on_message = echo_message};
static const struct sio_app *const echo_apps[] = {&echo_root, NULL};
static const struct sio_plugin echo_plugin = {SIO_API_VERSION, "echo",
                                              echo_apps};

struct receiver {
	struct sio_session_ctx x;
	const char *sid;
	int rc;
};

static void *
receiver_run(void *arg)
{
	struct receiver *v = arg;
	struct sio_slice pkt = {"3:::hi", 6};

	v->rc = sio_session_receive(&v->x, v->sid, &pkt, 1, T0 + 60000);
	return NULL;
}

/*
 * A receive whose apply PostgreSQL picks as a deadlock's victim: another
 * transaction holds the session's row and then asks for the writers'
 * lock, which the apply holds while it waits for that row. The apply is
 * tried again and commits; the application's code ran once, its echo is
 * queued once.
 */
static void
test_apply_retried_after_a_deadlock(void)
{
	struct receiver v = {.rc = SIO_ERR};
	struct sio_config cfg;
	PGconn *raw = raw_open(), *watch = raw_open();
	char sid[SIO_SID_LEN + 1];
	long long queued;
	pthread_t th;

	sio_config_defaults(&cfg);
	v.x.store = store_open(0);
	v.x.plugin = &echo_plugin;
	v.x.cfg = &cfg;
	CU_ASSERT_PTR_NOT_NULL_FATAL(v.x.store);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	CU_ASSERT_PTR_NOT_NULL_FATAL(watch);
	held_session(v.x.store, sid);
	v.sid = sid;
	queued = sio_store_outbox_count(v.x.store, sid);
	/* raw waits long before it looks for a deadlock: the apply, which
	 * waits first, finds it and is the victim */
	CU_ASSERT_FATAL(pg_do(raw, "SET deadlock_timeout = '30s'"));
	CU_ASSERT_FATAL(pg_do(raw, "BEGIN"));
	CU_ASSERT_FATAL(pg_int1(raw,
	                        "SELECT 1 FROM sessions WHERE sid = $1"
	                        " FOR UPDATE",
	                        sid, NULL) == 1);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, receiver_run, &v), 0);
	/* the apply holds the writers' lock and waits for the row */
	{
		long long end = cu_now_ms() + DEADLINE_MS, n = 0;

		while (cu_now_ms() < end &&
		       (n = pg_int1(watch,
		                    "SELECT count(*) FROM pg_stat_activity"
		                    " WHERE datname = $1"
		                    " AND wait_event_type = 'Lock'",
		                    db, NULL)) == 0)
			pause_ms(5); /* between polls of the condition */
		CU_ASSERT(n > 0);
	}
	/* the cycle: raw now waits for the writers' lock, which it gets
	 * only when the apply's first try is rolled back (it holds the row
	 * the apply waits for) */
	CU_ASSERT(pg_do(raw, "SELECT siogate_lock()"));
	CU_ASSERT(pg_do(raw, "COMMIT"));
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(v.rc, SIO_OK);
	CU_ASSERT_EQUAL(atomic_load(&echo_calls), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_count(v.x.store, sid), queued + 1);
}

/* --- siogate_push() from SQL ------------------------------------------------
 */

/*
 * siogate_push() queues for a live session and rings its holder through
 * NOTIFY "siogate", payload "<holder> <sid>", at the commit and not
 * before; an unknown sid gets NULL and nothing queued; the packets go
 * out in the order pushed.
 */
static void
test_push_from_sql_notifies_at_commit(void)
{
	struct sio_store *st = store_open(0);
	PGconn *push = raw_open(), *listen = raw_open();
	char sid[SIO_SID_LEN + 1], want[128];
	struct cu_pkts c = {.n = 0};
	long long s1, s2;
	PGnotify *n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(push);
	CU_ASSERT_PTR_NOT_NULL_FATAL(listen);
	CU_ASSERT_EQUAL_FATAL(
	    sio_store_process_register(st, HOLDER, (int)getpid(), T0), SIO_OK);
	held_session(st, sid);
	/* the holder's channel is its name */
	CU_ASSERT_FATAL(pg_do(listen, "LISTEN \"" HOLDER "\""));
	CU_ASSERT_FATAL(pg_do(push, "BEGIN"));
	s1 = pg_int1(push, "SELECT siogate_push($1, '3:::x')", sid, NULL);
	s2 = pg_int1(push, "SELECT siogate_push($1, '3:::y')", sid, NULL);
	CU_ASSERT(s1 > 0);
	CU_ASSERT(s2 > s1);
	/* a round trip on the listener: nothing for it yet */
	CU_ASSERT(pg_do(listen, "SELECT 1"));
	CU_ASSERT(PQconsumeInput(listen));
	n = PQnotifies(listen);
	CU_ASSERT_PTR_NULL(n);
	PQfreemem(n);
	CU_ASSERT_FATAL(pg_do(push, "COMMIT"));
	n = wait_notify(listen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	snprintf(want, sizeof(want), "%s", sid);
	CU_ASSERT_STRING_EQUAL(n->relname, HOLDER);
	CU_ASSERT_STRING_EQUAL(n->extra, want);
	PQfreemem(n);
	/* no live session: NULL, nothing queued */
	CU_ASSERT_EQUAL(pg_int1(push, "SELECT siogate_push($1, '3:::z')",
	                        "no-such-session", NULL),
	                -1);
	CU_ASSERT_EQUAL(
	    pg_int1(push, "SELECT count(*) FROM outbox", NULL, NULL), 2);
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 100, HOLDER, 1, cu_collect, &c),
	    2);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::x;3:::y;");
}

/*
 * A writer rings a holder with no doorbell on its host through NOTIFY on
 * the holder's channel after its commit: the sids of one transaction in
 * one notification, space-separated; more than one notification holds,
 * SIO_DOORBELL_ALL alone (the holder looks at all its sessions).
 */
static void
test_far_rings_one_notification_or_all(void)
{
	enum { MANY = SIO_STORE_NOTIFY_MAX / (SIO_SID_LEN + 1) + 1 };
	static char sids[MANY][SIO_SID_LEN + 1];
	struct sio_store *st;
	PGconn *listen = raw_open();
	char want[2 * SIO_SID_LEN + 2];
	PGnotify *n;
	int i, first;

	/* a run directory where HOLDER has no doorbell: another host's */
	if (run == NULL)
		run = cu_tmpdir();
	CU_ASSERT_PTR_NOT_NULL_FATAL(run);
	st = store_open(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(listen);
	CU_ASSERT_EQUAL_FATAL(
	    sio_store_process_register(st, HOLDER, (int)getpid(), T0), SIO_OK);
	for (i = 0; i < MANY; i++)
		held_session(st, sids[i]);
	CU_ASSERT_FATAL(pg_do(listen, "LISTEN \"" HOLDER "\""));
	/* two sessions: one notification naming both (in sid order) */
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sids[0], "3:::a", 5, 0, 0),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sids[1], "3:::b", 5, 0, 0),
	                SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_commit(st), SIO_OK);
	first = strcmp(sids[0], sids[1]) > 0;
	snprintf(want, sizeof(want), "%s %s", sids[first], sids[!first]);
	n = wait_notify(listen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_STRING_EQUAL(n->relname, HOLDER);
	CU_ASSERT_STRING_EQUAL(n->extra, want);
	PQfreemem(n);
	/* more than fit: one notification, SIO_DOORBELL_ALL */
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	for (i = 0; i < MANY; i++)
		CU_ASSERT_EQUAL(
		    sio_store_outbox_put(st, sids[i], "3:::c", 5, 0, 0),
		    SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_commit(st), SIO_OK);
	n = wait_notify(listen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_STRING_EQUAL(n->extra, SIO_DOORBELL_ALL);
	PQfreemem(n);
	/* and no other: a round trip brings nothing more */
	CU_ASSERT(pg_do(listen, "SELECT 1"));
	CU_ASSERT(PQconsumeInput(listen));
	n = PQnotifies(listen);
	CU_ASSERT_PTR_NULL(n);
	PQfreemem(n);
}

/* --- processes migrating one database at once -------------------------------
 */

#define OPENERS 3

struct opener {
	pthread_barrier_t *go;
	struct sio_store *st;
};

static void *
opener_run(void *arg)
{
	struct opener *o = arg;

	pthread_barrier_wait(o->go);
	o->st = store_open_raw(0);
	return NULL;
}

/* The latest `-- version N` of schema/pg.sql. */
static int
schema_latest(void)
{
	const char *p = pg_schema;
	int v, max = 0;

	while ((p = strstr(p, "-- version ")) != NULL) {
		p += strlen("-- version ");
		if ((p == pg_schema + strlen("-- version ") ||
		     p[-strlen("-- version ") - 1] == '\n') &&
		    (v = atoi(p)) > max)
			max = v;
	}
	return max;
}

/* Three processes open one empty database at once: each succeeds, and
 * the schema was made once, at the latest version. */
static void
test_opening_an_empty_database_at_once(void)
{
	struct opener o[OPENERS];
	pthread_t th[OPENERS];
	pthread_barrier_t go;
	PGconn *raw;
	int i;

	CU_ASSERT_FATAL(db[0] != '\0');
	CU_ASSERT_FATAL(schema_latest() >= 1);
	pthread_barrier_init(&go, NULL, OPENERS);
	for (i = 0; i < OPENERS; i++) {
		o[i] = (struct opener){.go = &go};
		CU_ASSERT_EQUAL_FATAL(
		    pthread_create(&th[i], NULL, opener_run, &o[i]), 0);
	}
	for (i = 0; i < OPENERS; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_PTR_NOT_NULL(o[i].st);
		store_keep(o[i].st);
	}
	pthread_barrier_destroy(&go);
	raw = raw_open();
	CU_ASSERT_EQUAL(
	    pg_int1(raw, "SELECT count(*) FROM siogate_schema", NULL, NULL), 1);
	CU_ASSERT_EQUAL(
	    pg_int1(raw, "SELECT version FROM siogate_schema", NULL, NULL),
	    schema_latest());
}

/* A database at version 2 with live sessions from two addresses (and a
 * closed one) gets, migrating to version 3, each address's live count. */
static void
test_migration_counts_live_sessions_per_address(void)
{
	const char *v3 = strstr(pg_schema, "\n-- version 3\n");
	PGconn *raw = raw_open();
	struct sio_store *s;
	int all = -1, mine = -1;
	char *upto2;

	CU_ASSERT_PTR_NOT_NULL_FATAL(v3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	upto2 = strndup(pg_schema, (size_t)(v3 - pg_schema));
	CU_ASSERT_PTR_NOT_NULL_FATAL(upto2);
	CU_ASSERT(pg_do(raw, upto2));
	free(upto2);
	CU_ASSERT(pg_do(raw, "UPDATE siogate_schema SET version = 2"));
	CU_ASSERT(pg_do(raw, "INSERT INTO sessions (sid, state, created,"
	                     " last_recv, last_heartbeat, remote) VALUES"
	                     " ('a1', 'open', 0, 0, 0, '10.0.0.1'),"
	                     " ('a2', 'detached', 0, 0, 0, '10.0.0.1'),"
	                     " ('a3', 'closed', 0, 0, 0, '10.0.0.1'),"
	                     " ('b1', 'open', 0, 0, 0, '10.0.0.2')"));
	s = store_open_raw(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	store_keep(s);
	CU_ASSERT_EQUAL(
	    pg_int1(raw, "SELECT version FROM siogate_schema", NULL, NULL),
	    schema_latest());
	CU_ASSERT_EQUAL(
	    sio_store_sessions_live(s, "10.0.0.1", 100, &all, &mine), SIO_OK);
	CU_ASSERT_EQUAL(mine, 2);
	CU_ASSERT_EQUAL(
	    sio_store_sessions_live(s, "10.0.0.2", 100, &all, &mine), SIO_OK);
	CU_ASSERT_EQUAL(mine, 1);
}

/* --- the lock timeout ------------------------------------------------------
 */

struct writer {
	struct sio_store *st;
	const char *sid;
	int rc;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

static void *
writer_run(void *arg)
{
	struct writer *w = arg;
	int rc = sio_store_data_put(w->st, w->sid, "k", "v1");

	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Waits for the writer up to the deadline: whether it returned. */
static int
writer_wait(struct writer *w)
{
	struct timespec end;
	int done;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += DEADLINE_MS / 1000;
	pthread_mutex_lock(&w->mu);
	while (!w->done && pthread_cond_timedwait(&w->cv, &w->mu, &end) == 0)
		;
	done = w->done;
	pthread_mutex_unlock(&w->mu);
	return done;
}

/*
 * A writer from outside holds the writers' lock: a store's write fails
 * after its busy timeout instead of hanging, and once the lock is free
 * the same connection writes again.
 */
static void
test_write_fails_at_the_lock_timeout(void)
{
	struct sio_store *st = store_open(300);
	PGconn *raw = raw_open();
	struct writer w = {.st = st};
	char sid[SIO_SID_LEN + 1], *v;
	long long t0;
	pthread_t th;
	int returned;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_new(st, "{}", T0, sid), SIO_OK);
	w.sid = sid;
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	CU_ASSERT_FATAL(pg_do(raw, "BEGIN; SELECT siogate_lock()"));
	t0 = cu_now_ms();
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, writer_run, &w), 0);
	returned = writer_wait(&w);
	CU_ASSERT(returned); /* not hanging */
	CU_ASSERT(cu_now_ms() - t0 >= 250);
	CU_ASSERT(pg_do(raw, "COMMIT")); /* frees a writer that hangs */
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(w.rc, SIO_ERR);
	CU_ASSERT(strlen(sio_store_errmsg(st)) > 0);
	CU_ASSERT_EQUAL(sio_store_in_transaction(st), 0);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	/* usable again */
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "k", "v2"), SIO_OK);
	v = sio_store_data_get(st, sid, "k");
	CU_ASSERT_PTR_NOT_NULL(v);
	if (v != NULL)
		CU_ASSERT_STRING_EQUAL(v, "v2");
	free(v);
}

/* --- two processes ending one session ----------------------------------------
 */

#define ENDS 50

struct ender {
	pthread_barrier_t *go;
	struct sio_store *st;
	char (*sids)[SIO_SID_LEN + 1];
	int rc[ENDS];
};

static void *
ender_run(void *arg)
{
	struct ender *e = arg;

	for (int i = 0; i < ENDS; i++) {
		pthread_barrier_wait(e->go);
		e->rc[i] = sio_store_session_end(e->st, e->sids[i], "bye", T0,
		                                 LIVE, SIO_SESSION_CLOSED);
	}
	return NULL;
}

/* Two connections end each of 50 sessions at the same moment: each
 * session's end is claimed exactly once. */
static void
test_ending_one_session_twice_at_once(void)
{
	static char sids[ENDS][SIO_SID_LEN + 1];
	struct ender e[2];
	pthread_t th[2];
	pthread_barrier_t go;
	int i, claimed = 0, failed = 0;

	e[0] = (struct ender){.st = store_open(0), .sids = sids, .go = &go};
	e[1] = (struct ender){.st = store_open(0), .sids = sids, .go = &go};
	CU_ASSERT_PTR_NOT_NULL_FATAL(e[0].st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e[1].st);
	for (i = 0; i < ENDS; i++)
		CU_ASSERT_EQUAL_FATAL(
		    sio_store_session_new(e[0].st, "{}", T0, sids[i]), SIO_OK);
	pthread_barrier_init(&go, NULL, 2);
	for (i = 0; i < 2; i++)
		CU_ASSERT_EQUAL_FATAL(
		    pthread_create(&th[i], NULL, ender_run, &e[i]), 0);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < ENDS; i++) {
		if (e[0].rc[i] < 0 || e[1].rc[i] < 0)
			failed++;
		else if (e[0].rc[i] + e[1].rc[i] == 1)
			claimed++;
	}
	CU_ASSERT_EQUAL(failed, 0);
	CU_ASSERT_EQUAL(claimed, ENDS);
}

/*
 * The server ends a store's connection (a restart, an administrator's
 * pg_terminate_backend): an operation outside a transaction reconnects
 * and succeeds; inside a transaction the rest fails and is rolled back,
 * never run outside it, and the next transaction reconnects.
 */
static void
test_connection_lost_is_made_again(void)
{
	struct sio_store *st = store_open(0);
	PGconn *raw = raw_open();
	char sid[SIO_SID_LEN + 1], *v;
	const char *kill = "SELECT count(pg_terminate_backend(pid))"
	                   " FROM pg_stat_activity WHERE datname ="
	                   " current_database() AND pid <> pg_backend_pid()";

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_new(st, "{}", T0, sid), SIO_OK);
	/* outside a transaction: made again at the next use */
	CU_ASSERT_EQUAL(pg_int1(raw, kill, NULL, NULL), 1);
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "k", "v1"), SIO_OK);
	v = sio_store_data_get(st, sid, "k");
	CU_ASSERT_STRING_EQUAL(v ? v : "", "v1");
	free(v);
	/* inside one: the write after the loss fails, nothing is kept */
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "k", "v2"), SIO_OK);
	CU_ASSERT_EQUAL(pg_int1(raw, kill, NULL, NULL), 1);
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "k2", "x"), SIO_ERR);
	CU_ASSERT_NOT_EQUAL(sio_store_commit(st), SIO_OK);
	sio_store_rollback(st);
	CU_ASSERT_EQUAL(pg_int1(raw,
	                        "SELECT count(*) FROM data WHERE key = 'k2'"
	                        " OR value = 'v2'",
	                        NULL, NULL),
	                0);
	/* and the next transaction has a connection again */
	CU_ASSERT_EQUAL(sio_store_data_put(st, sid, "k", "v3"), SIO_OK);
	v = sio_store_data_get(st, sid, "k");
	CU_ASSERT_STRING_EQUAL(v ? v : "", "v3");
	free(v);
	/* lost before the transaction's first round trip, its read-ahead
	 * not sent yet: the first write makes the connection again and
	 * sends both (the read-ahead prepared anew) */
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_prelude(st, (const char *const[]){sid}, 1, 1),
	                SIO_OK);
	CU_ASSERT_EQUAL(pg_int1(raw, kill, NULL, NULL), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sid, "3:::x", 5, 0, 0),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_endpoint_has(st, sid, ""), 1);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 1);
}

/*
 * A process whose listener's connection the server saw end, and which
 * stopped renewing, is reaped within seconds, without waiting for its
 * lease; one whose listener is alive, or which still renews, is not.
 */
static void
test_reap_when_the_listener_is_gone(void)
{
	struct sio_store *st = store_open(0);
	/* lis is closed here, not by the teardown */
	PGconn *raw = raw_open(), *lis = pg_connect(db);
	const char *gone = "gw-far-7-0000aaaa", *live = "gw-far-8-0000bbbb";
	const unsigned from = 1u << SIO_SESSION_OPEN;
	long long pid, end;
	char pidtext[24];

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	CU_ASSERT_PTR_NOT_NULL_FATAL(lis);
	/* pids that are no process here: only the database can tell */
	CU_ASSERT_EQUAL_FATAL(sio_store_process_register(st, gone, 0, T0),
	                      SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_process_register(st, live, 0, T0),
	                      SIO_OK);
	/* live's listener stays; gone's connects, then its host dies */
	CU_ASSERT_FATAL(pg_do(raw, "UPDATE processes SET listener ="
	                           " pg_backend_pid() WHERE name = "
	                           "'gw-far-8-0000bbbb'"));
	CU_ASSERT_FATAL(pg_do(lis, "UPDATE processes SET listener ="
	                           " pg_backend_pid() WHERE name = "
	                           "'gw-far-7-0000aaaa'"));
	pid = pg_int1(raw, "SELECT listener FROM processes WHERE name = $1",
	              gone, NULL);
	CU_ASSERT_FATAL(pid > 0);
	/* renewed 1 s ago: not yet, whatever its listener */
	CU_ASSERT_EQUAL(
	    sio_store_reap(st, T0 + 1000, 10000, from, SIO_SESSION_DETACHED),
	    0);
	/* 3 s without renewal, listener alive: the lease decides */
	CU_ASSERT_EQUAL(
	    sio_store_reap(st, T0 + 3000, 10000, from, SIO_SESSION_DETACHED),
	    0);
	snprintf(pidtext, sizeof(pidtext), "%lld", pid);
	PQfinish(lis);
	/* until the server has seen it end */
	for (end = cu_now_ms() + DEADLINE_MS;
	     cu_now_ms() < end && pg_int1(raw,
	                                  "SELECT count(*) FROM"
	                                  " pg_stat_activity WHERE pid ="
	                                  " $1::int",
	                                  pidtext, NULL) != 0;)
		pause_ms(5); /* between polls of the condition */
	CU_ASSERT_EQUAL(
	    sio_store_reap(st, T0 + 3000, 10000, from, SIO_SESSION_DETACHED),
	    1);
	CU_ASSERT_EQUAL(pg_int1(raw,
	                        "SELECT count(*) FROM processes"
	                        " WHERE name = $1",
	                        gone, NULL),
	                0);
	CU_ASSERT_EQUAL(pg_int1(raw,
	                        "SELECT count(*) FROM processes"
	                        " WHERE name = $1",
	                        live, NULL),
	                1);
}

/* --- helpers of the races below --------------------------------------------
 */

/* The doorbell of process name in run (made at the first call), closed
 * in teardown(); NULL with the reason printed. */
static struct sio_doorbell *
bell_open(const char *name)
{
	char err[SIO_ERR_LEN] = "";
	int i;

	if (run == NULL && (run = cu_tmpdir()) == NULL)
		return NULL;
	for (i = 0; i < MAX_OPEN && bells[i] != NULL; i++)
		;
	if (i == MAX_OPEN)
		return NULL;
	bells[i] = sio_doorbell_open(run, name, 0, err);
	if (bells[i] == NULL)
		fprintf(stderr, "test_store_pg: bell %s: %s\n", name, err);
	return bells[i];
}

/* How many rings for sid b holds, reading them all. */
static int
bell_rings(struct sio_doorbell *b, const char *sid)
{
	char got[SIO_SID_LEN + 8];
	int n = 0;

	while (sio_doorbell_recv(b, got, sizeof(got)) == SIO_OK)
		n += strcmp(got, sid) == 0;
	return n;
}

/* --- a new holder attaching while a packet is put ---------------------------
 */

#define ATTACHES 40
#define NEWER "wsd-2-0000beef"

struct racer {
	pthread_barrier_t *go;
	struct sio_store *st;
	char (*sids)[SIO_SID_LEN + 1];
	int rounds;
	int rc[ATTACHES];
};

static void *
attacher_run(void *arg)
{
	struct racer *r = arg;
	int hello;

	for (int i = 0; i < r->rounds; i++) {
		pthread_barrier_wait(r->go);
		r->rc[i] = sio_session_attach(r->st, r->sids[i],
		                              SIO_TRANSPORT_WEBSOCKET, NEWER, 2,
		                              T0 + 1, &hello);
		pthread_barrier_wait(r->go); /* the round is checked */
	}
	return NULL;
}

static void *
putter_run(void *arg)
{
	struct racer *r = arg;
	char pkt[32];

	for (int i = 0; i < r->rounds; i++) {
		snprintf(pkt, sizeof(pkt), "3:::%d", i);
		pthread_barrier_wait(r->go);
		r->rc[i] = sio_store_outbox_put(r->st, r->sids[i], pkt,
		                                strlen(pkt), 0, 0);
		pthread_barrier_wait(r->go);
	}
	return NULL;
}

/*
 * For each of 40 sessions held by HOLDER, one connection attaches NEWER
 * while another puts a packet, at the same moment. The packet is queued
 * once; the old holder is rung (superseded); the new one is rung for the
 * packet exactly when the put committed after the attach (a put before
 * it is found by the attach's own first take), which the transaction
 * ids of the two writes tell; and a take by the new holder gets it.
 */
static void
test_attach_against_put(void)
{
	static char sids[ATTACHES][SIO_SID_LEN + 1];
	struct sio_doorbell *old_bell = bell_open(HOLDER),
	                    *new_bell = bell_open(NEWER);
	struct racer a = {.sids = sids, .rounds = ATTACHES},
	             p = {.sids = sids, .rounds = ATTACHES};
	PGconn *raw = raw_open();
	pthread_barrier_t go;
	pthread_t th[2];
	int i, after = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(old_bell);
	CU_ASSERT_PTR_NOT_NULL_FATAL(new_bell);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	a.st = store_open(0);
	p.st = store_open(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a.st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p.st);
	CU_ASSERT_EQUAL_FATAL(
	    sio_store_process_register(a.st, HOLDER, (int)getpid(), T0),
	    SIO_OK);
	CU_ASSERT_EQUAL_FATAL(
	    sio_store_process_register(a.st, NEWER, (int)getpid(), T0), SIO_OK);
	for (i = 0; i < ATTACHES; i++)
		held_session(a.st, sids[i]);
	(void)bell_rings(old_bell, "");
	(void)bell_rings(new_bell, "");
	pthread_barrier_init(&go, NULL, 3);
	a.go = p.go = &go;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th[0], NULL, attacher_run, &a),
	                      0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th[1], NULL, putter_run, &p), 0);
	for (i = 0; i < ATTACHES; i++) {
		struct cu_pkts c = {.n = 0};
		char want[32];
		long long put_after;
		int rung_new;

		pthread_barrier_wait(&go); /* both start */
		pthread_barrier_wait(&go); /* both are done */
		CU_ASSERT_EQUAL(a.rc[i], SIO_OK);
		CU_ASSERT_EQUAL(p.rc[i], SIO_OK);
		CU_ASSERT_EQUAL(sio_store_outbox_count(a.st, sids[i]), 1);
		/* the attach's transaction id is the counter row it raised;
		 * ids are given under the writers' lock, in commit order */
		put_after = pg_int1(
		    raw,
		    "SELECT ((SELECT xmin::text::bigint FROM outbox"
		    " WHERE sid = $1) > (SELECT xmin::text::bigint"
		    " FROM counters WHERE name = 'connections_opened'))::int",
		    sids[i], NULL);
		CU_ASSERT(put_after == 0 || put_after == 1);
		after += put_after == 1;
		rung_new = bell_rings(new_bell, sids[i]);
		CU_ASSERT(bell_rings(old_bell, sids[i]) >= 1);
		CU_ASSERT_EQUAL(rung_new, put_after == 1);
		CU_ASSERT_EQUAL(sio_store_is_holder(a.st, sids[i], NEWER, 2),
		                1);
		CU_ASSERT_EQUAL(sio_store_outbox_take(a.st, sids[i], T0 + 2,
		                                      100, NEWER, 2, cu_collect,
		                                      &c),
		                1);
		snprintf(want, sizeof(want), "3:::%d;", i);
		CU_ASSERT_STRING_EQUAL(c.got, want);
		CU_ASSERT_EQUAL(sio_store_outbox_done(a.st, sids[i], NEWER, 2),
		                SIO_OK);
		CU_ASSERT_EQUAL(sio_store_outbox_count(a.st, sids[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	if (after == 0 || after == ATTACHES)
		fprintf(stderr, "(the put came %s the attach in every round) ",
		        after ? "after" : "before");
}

/* --- the heartbeat rounds of two hosts -------------------------------------
 */

#define HB_ROUNDS 30
#define HB_SESSIONS 20 /* half held by each host */
#define HB_MS 25000LL
#define HOST1 "wsd-h1-0000c0de"
#define HOST2 "wsd-h2-0000d00d"

struct beater {
	pthread_barrier_t *go;
	struct sio_store *st;
	const char *holder;
	int rc[HB_ROUNDS];
};

/* Round r at T0 + (r + 1) heartbeat intervals: even rounds as the sweep
 * (every holder's sessions), odd ones as a process's timers (its own,
 * another's only when late: none is). */
static void *
beater_run(void *arg)
{
	struct beater *b = arg;

	for (int r = 0; r < HB_ROUNDS; r++) {
		pthread_barrier_wait(b->go);
		b->rc[r] = sio_session_heartbeat_due(
		    b->st, T0 + (r + 1) * HB_MS, HB_MS,
		    r % 2 ? b->holder : NULL, r % 2 ? SIO_HB_LATE_MS : 0);
		pthread_barrier_wait(b->go);
	}
	return NULL;
}

/* Two hosts' processes run their heartbeat round at the same instant over
 * sessions held by either: each session gets exactly one `2::` a round,
 * and the two counts add up to the sessions. */
static void
test_heartbeats_of_two_hosts_at_once(void)
{
	static char sids[HB_SESSIONS][SIO_SID_LEN + 1];
	struct beater b[2] = {{.holder = HOST1}, {.holder = HOST2}};
	PGconn *raw = raw_open();
	pthread_barrier_t go;
	pthread_t th[2];
	int i, r, hello;

	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	pthread_barrier_init(&go, NULL, 3);
	for (i = 0; i < 2; i++) {
		b[i].st = store_open(0);
		b[i].go = &go;
		CU_ASSERT_PTR_NOT_NULL_FATAL(b[i].st);
		CU_ASSERT_EQUAL_FATAL(
		    sio_store_process_register(b[i].st, b[i].holder,
		                               (int)getpid(), T0),
		    SIO_OK);
	}
	for (i = 0; i < HB_SESSIONS; i++) {
		CU_ASSERT_EQUAL_FATAL(
		    sio_store_session_new(b[0].st, "{}", T0, sids[i]), SIO_OK);
		CU_ASSERT_EQUAL_FATAL(
		    sio_session_attach(b[i % 2].st, sids[i],
		                       SIO_TRANSPORT_WEBSOCKET, b[i % 2].holder,
		                       1, T0, &hello),
		    SIO_OK);
	}
	for (i = 0; i < 2; i++)
		CU_ASSERT_EQUAL_FATAL(
		    pthread_create(&th[i], NULL, beater_run, &b[i]), 0);
	for (r = 0; r < HB_ROUNDS; r++) {
		pthread_barrier_wait(&go);
		pthread_barrier_wait(&go);
		CU_ASSERT(b[0].rc[r] >= 0 && b[1].rc[r] >= 0);
		CU_ASSERT_EQUAL(b[0].rc[r] + b[1].rc[r], HB_SESSIONS);
		if (r % 2)
			CU_ASSERT(b[0].rc[r] == HB_SESSIONS / 2 &&
			          b[1].rc[r] == HB_SESSIONS / 2);
		/* one 2:: for each session, none missed, none twice */
		CU_ASSERT_EQUAL(pg_int1(raw,
		                        "SELECT count(*) FROM sessions s"
		                        " WHERE (SELECT count(*) FROM outbox o"
		                        " WHERE o.sid = s.sid"
		                        " AND o.packet = '2::') <> 1",
		                        NULL, NULL),
		                0);
		CU_ASSERT_EQUAL(
		    pg_int1(raw, "SELECT count(*) FROM outbox", NULL, NULL),
		    HB_SESSIONS);
		CU_ASSERT(pg_do(raw, "DELETE FROM outbox"));
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
}

/* --- the sweeper's election ------------------------------------------------
 */

#define VOTERS 3
#define SECONDS 100

struct voter {
	pthread_barrier_t *go;
	struct sio_store *st;
	int rc[SECONDS];
};

static void *
voter_run(void *arg)
{
	struct voter *v = arg;

	for (int s = 0; s < SECONDS; s++) {
		pthread_barrier_wait(v->go);
		v->rc[s] = sio_store_stats_sample(v->st, T0 + s * 1000LL);
	}
	return NULL;
}

/* Three processes take the stats sample of the same second at the same
 * instant, 100 seconds running: exactly one of them wins each second
 * (it is the second's sweeper). */
static void
test_one_sweeper_a_second(void)
{
	struct voter v[VOTERS];
	pthread_t th[VOTERS];
	pthread_barrier_t go;
	int i, s, once = 0, failed = 0;

	pthread_barrier_init(&go, NULL, VOTERS);
	for (i = 0; i < VOTERS; i++) {
		v[i] = (struct voter){.go = &go, .st = store_open(0)};
		CU_ASSERT_PTR_NOT_NULL_FATAL(v[i].st);
	}
	for (i = 0; i < VOTERS; i++)
		CU_ASSERT_EQUAL_FATAL(
		    pthread_create(&th[i], NULL, voter_run, &v[i]), 0);
	for (i = 0; i < VOTERS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (s = 0; s < SECONDS; s++) {
		int won = 0;

		for (i = 0; i < VOTERS; i++) {
			failed += v[i].rc[s] < 0;
			won += v[i].rc[s] == 1;
		}
		once += won == 1;
	}
	CU_ASSERT_EQUAL(failed, 0);
	CU_ASSERT_EQUAL(once, SECONDS);
}

/* --- a take's first page, read and marked in one statement ------------- */

/*
 * Rows no transport can write (an empty packet, queued with SQL by
 * something else) are passed over and deleted by the take that meets
 * them, in its first page (read and marked at once) or in a later one;
 * a take that stops at max leaves nothing marked past what it took.
 */
static void
test_take_drops_unwritable_rows(void)
{
	struct sio_store *st = store_open(0), *other = store_open(0);
	PGconn *raw = raw_open();
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	held_session(st, sid);
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sid, "3:::a", 5, 0, 0),
	                SIO_OK);
	CU_ASSERT_FATAL(pg_int1(raw, "SELECT siogate_push($1, '')", sid, NULL) >
	                0);
	CU_ASSERT_FATAL(pg_int1(raw, "SELECT siogate_push($1, '')", sid, NULL) >
	                0);
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sid, "3:::b", 5, 0, 0),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sid, "3:::c", 5, 0, 0),
	                SIO_OK);
	/* max 2: a in the first page (two rows), the empty ones passed
	 * over there and in the next, b taken from it */
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 2, HOLDER, 1, cu_collect, &c),
	    2);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::a;3:::b;");
	CU_ASSERT_EQUAL(sio_store_outbox_dropped(st), 2);
	CU_ASSERT_EQUAL(
	    pg_int1(raw, "SELECT count(*) FROM outbox WHERE taken_by IS NULL",
	            NULL, NULL),
	    1);
	/* c is not the first writer's: another takes it once it is done */
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, sid, HOLDER, 1), SIO_OK);
	c.got[0] = '\0';
	c.n = 0;
	CU_ASSERT_EQUAL(sio_store_outbox_take(other, sid, T0, 10, "gw-other", 1,
	                                      cu_collect, &c),
	                1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::c;");
}

/* --- a done and a take without the writers' lock ----------------------- */

/* Waits until a backend of the test's database waits for a row's lock
 * (pg_stat_activity), seen through c: 1, or 0 at the deadline. */
static int
wait_row_waiter(PGconn *c)
{
	long long end = cu_now_ms() + DEADLINE_MS;

	while (cu_now_ms() < end) {
		long long n = pg_int1(c,
		                      "SELECT count(*) FROM pg_stat_activity"
		                      " WHERE datname = $1"
		                      " AND wait_event_type = 'Lock'"
		                      " AND wait_event IN ('transactionid',"
		                      " 'tuple')",
		                      db, NULL);

		if (n > 0)
			return 1;
		if (n < 0)
			return 0;
		pause_ms(5); /* between polls of the condition */
	}
	return 0;
}

/* Runs t on a thread of its own while raw holds a transaction open on the
 * session's row: t waits for it (seen through watch), then raw commits
 * and t ends. */
static void
take_while_held(struct taker *t, PGconn *raw, PGconn *watch)
{
	pthread_t th;

	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, taker_run, t), 0);
	CU_ASSERT(wait_row_waiter(watch));
	CU_ASSERT_EQUAL(atomic_load(&t->done), 0);
	CU_ASSERT(pg_do(raw, "COMMIT"));
	pthread_join(th, NULL);
}

/*
 * A done and a take in one statement outside any transaction: no wait for
 * the writers' lock that another holds; a wait, holding nothing, for a
 * transaction that changed the session (another holder attaching), then
 * that transaction's work seen: nothing taken by the superseded writer,
 * its written packets deleted all the same.
 */
static void
test_done_take_waits_for_the_session_not_the_lock(void)
{
	struct sio_store *st = store_open(0);
	PGconn *raw = raw_open(), *watch = raw_open();
	struct taker t = {.st = st, .done_take = 1};
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c = {0};
	int state = 0, more = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	CU_ASSERT_PTR_NOT_NULL_FATAL(watch);
	CU_ASSERT_EQUAL(sio_store_can_done_take(st), 1);
	held_session(st, sid);
	t.sid = sid;
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sid, "3:::a", 5, 0, 0),
	                SIO_OK);
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, HOLDER, 1, cu_collect, &c),
	    1);
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sid, "3:::b", 5, 0, 0),
	                SIO_OK);
	/* another holds the writers' lock: a done and take go on */
	CU_ASSERT_FATAL(pg_do(raw, "BEGIN"));
	CU_ASSERT_FATAL(pg_do(raw, "SELECT siogate_lock()"));
	c.got[0] = '\0';
	c.n = 0;
	CU_ASSERT_EQUAL(sio_store_outbox_done_take(st, sid, T0, 10, HOLDER, 1,
	                                           1, cu_collect, &c, &state,
	                                           &more),
	                1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::b;");
	CU_ASSERT_EQUAL(state, SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(more, 0);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(st), 0);
	CU_ASSERT(pg_do(raw, "COMMIT"));
	CU_ASSERT_EQUAL(pg_int1(watch,
	                        "SELECT count(*) FROM outbox WHERE sid = $1"
	                        " AND taken_by = $2",
	                        sid, HOLDER),
	                1);
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sid, "3:::c", 5, 0, 0),
	                SIO_OK);
	/* another holder attaches, not yet committed: the done and take
	 * wait for it, then see it */
	CU_ASSERT_FATAL(pg_do(raw, "BEGIN"));
	CU_ASSERT_FATAL(pg_int1(raw,
	                        "UPDATE sessions SET holder = 'gw-other',"
	                        " holder_conn = 7 WHERE sid = $1 RETURNING 1",
	                        sid, NULL) == 1);
	take_while_held(&t, raw, watch);
	CU_ASSERT_EQUAL(t.rc, 0);
	CU_ASSERT_EQUAL(t.state, SIO_ABSENT);
	CU_ASSERT_STRING_EQUAL(t.c.got, "");
	/* b, written, is gone; c waits for the new holder, untaken */
	CU_ASSERT_EQUAL(pg_int1(watch,
	                        "SELECT count(*) FROM outbox WHERE sid = $1",
	                        sid, NULL),
	                1);
	CU_ASSERT_EQUAL(pg_int1(watch,
	                        "SELECT count(*) FROM outbox WHERE sid = $1"
	                        " AND taken_by IS NULL AND packet = '3:::c'",
	                        sid, NULL),
	                1);
}

/*
 * The end of a session (its `0::` queued, its state closed, in one
 * transaction) committed while a done and take waited for the session's
 * row: the statement read the outbox as it was before, so it takes
 * nothing and leaves the end to a transaction (SIO_AGAIN) instead of
 * saying the session closed with nothing left; the take in a transaction
 * then gets the `0::`.
 */
static void
test_done_take_leaves_an_end_to_a_transaction(void)
{
	struct sio_store *st = store_open(0);
	PGconn *raw = raw_open(), *watch = raw_open();
	struct taker t = {.st = st, .done_take = 1};
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	CU_ASSERT_PTR_NOT_NULL_FATAL(watch);
	held_session(st, sid);
	t.sid = sid;
	CU_ASSERT_FATAL(pg_do(raw, "BEGIN"));
	CU_ASSERT_FATAL(pg_int1(raw,
	                        "INSERT INTO outbox (sid, packet)"
	                        " VALUES ($1, '0::') RETURNING 1",
	                        sid, NULL) == 1);
	CU_ASSERT_FATAL(pg_int1(raw,
	                        "UPDATE sessions SET state = 'closed',"
	                        " closed_at = 1 WHERE sid = $1 RETURNING 1",
	                        sid, NULL) == 1);
	take_while_held(&t, raw, watch);
	CU_ASSERT_EQUAL(t.rc, SIO_AGAIN);
	CU_ASSERT_STRING_EQUAL(t.c.got, "");
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, HOLDER, 1, cu_collect, &c),
	    1);
	CU_ASSERT_STRING_EQUAL(c.got, "0::;");
}

/*
 * What a done and take outside a transaction hands over to one inside:
 * a page with an unwritable row (SIO_AGAIN, nothing marked, the done
 * made), and a call inside a transaction (refused).
 */
static void
test_done_take_hands_over(void)
{
	struct sio_store *st = store_open(0);
	PGconn *raw = raw_open();
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c = {0};
	int state = 0, more = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	held_session(st, sid);
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sid, "3:::a", 5, 0, 0),
	                SIO_OK);
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, HOLDER, 1, cu_collect, &c),
	    1);
	CU_ASSERT_FATAL(pg_int1(raw, "SELECT siogate_push($1, '')", sid, NULL) >
	                0);
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sid, "3:::b", 5, 0, 0),
	                SIO_OK);
	c.got[0] = '\0';
	c.n = 0;
	CU_ASSERT_EQUAL(sio_store_outbox_done_take(st, sid, T0, 10, HOLDER, 1,
	                                           1, cu_collect, &c, &state,
	                                           &more),
	                SIO_AGAIN);
	CU_ASSERT_EQUAL(pg_int1(raw,
	                        "SELECT count(*) FROM outbox WHERE sid = $1"
	                        " AND taken_by IS NOT NULL",
	                        sid, NULL),
	                0);
	CU_ASSERT_EQUAL(pg_int1(raw,
	                        "SELECT count(*) FROM outbox WHERE sid = $1",
	                        sid, NULL),
	                2); /* a, written, deleted */
	/* the take in a transaction drops the empty one, takes b */
	c.got[0] = '\0';
	c.n = 0;
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, HOLDER, 1, cu_collect, &c),
	    1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::b;");
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_done_take(st, sid, T0, 10, HOLDER, 1,
	                                           1, cu_collect, &c, &state,
	                                           &more),
	                SIO_ERR);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 1);
}

/* --- a step of the wall clock ------------------------------------------ */

/*
 * A step moves the times of the rows written before it and writes no
 * other row again: a session whose times are on the new clock keeps its
 * row version (xmin), however many sessions there are.
 */
static void
test_clock_step_writes_only_moved_rows(void)
{
	struct sio_store *st = store_open(0);
	PGconn *raw = raw_open();
	char old[SIO_SID_LEN + 1], fresh[SIO_SID_LEN + 1];
	long long step = -1, wall = T0 + 3600000, x0, x1;
	const char *xmin = "SELECT xmin::text::bigint FROM sessions"
	                   " WHERE sid = $1";
	const char *recv = "SELECT last_recv FROM sessions WHERE sid = $1";

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	CU_ASSERT_EQUAL(sio_store_clock_check(st, "boot-s", T0, 1000, &step),
	                SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_new(st, "{}", T0, old), SIO_OK);
	/* written on the new clock, within the step's band */
	CU_ASSERT_EQUAL_FATAL(sio_store_session_new(st, "{}", wall - 10, fresh),
	                      SIO_OK);
	x0 = pg_int1(raw, xmin, fresh, NULL);
	CU_ASSERT(x0 > 0);
	CU_ASSERT_EQUAL(sio_store_clock_check(st, "boot-s", wall, 2000, &step),
	                SIO_OK);
	CU_ASSERT_EQUAL(step, 3600000 - 1000);
	CU_ASSERT_EQUAL(pg_int1(raw, recv, old, NULL), T0 + step);
	CU_ASSERT_EQUAL(pg_int1(raw, recv, fresh, NULL), wall - 10);
	x1 = pg_int1(raw, xmin, fresh, NULL);
	CU_ASSERT_EQUAL(x1, x0);
}

/* --- leases on the server's clock -------------------------------------- */

/*
 * Without siogate.host_clock, leases run on the server's clock: processes
 * whose hosts' clocks are an hour behind and an hour ahead register and
 * renew, and reapers with either clock leave both alone; once one has gone
 * past its lease on the server's clock (its renewal moved back), it alone
 * is reaped, whatever the reaper's clock says.
 */
static void
test_leases_on_the_server_clock(void)
{
	struct sio_store_opts opts = {.synchronous = SIO_SYNC_NORMAL,
	                              .run_dir = run};
	const char *slow = "gw-slow-1-0000cccc", *fast = "gw-fast-2-0000dddd";
	const unsigned from = 1u << SIO_SESSION_OPEN;
	const long long hour = 3600000, now = cu_now_ms();
	char uri[1024], err[SIO_ERR_LEN] = "";
	struct sio_store *st;
	PGconn *raw = raw_open();

	store_uri(uri, sizeof(uri), 0);
	st = store_keep(sio_store_open(uri, &opts, err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	CU_ASSERT_EQUAL_FATAL(
	    sio_store_process_register(st, slow, 0, now - hour), SIO_OK);
	CU_ASSERT_EQUAL_FATAL(
	    sio_store_process_register(st, fast, 0, now + hour), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_process_renew(st, slow, now - hour), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_process_renew(st, fast, now + hour), SIO_OK);
	/* renewed on the server's clock, whatever the host said */
	CU_ASSERT_EQUAL(pg_int1(raw,
	                        "SELECT count(*) FROM processes WHERE"
	                        " abs(renewed - siogate_now_ms()) < 60000",
	                        NULL, NULL),
	                2);
	CU_ASSERT_EQUAL(
	    sio_store_reap(st, now + hour, 10000, from, SIO_SESSION_DETACHED),
	    0);
	CU_ASSERT_EQUAL(
	    sio_store_reap(st, now - hour, 10000, from, SIO_SESSION_DETACHED),
	    0);
	/* 11 s of the server's clock without a renewal */
	CU_ASSERT_FATAL(pg_do(raw, "UPDATE processes SET renewed ="
	                           " renewed - 11000 WHERE name ="
	                           " 'gw-slow-1-0000cccc'"));
	CU_ASSERT_EQUAL(
	    sio_store_reap(st, now - hour, 10000, from, SIO_SESSION_DETACHED),
	    1);
	CU_ASSERT_EQUAL(pg_int1(raw,
	                        "SELECT count(*) FROM processes"
	                        " WHERE name = $1",
	                        slow, NULL),
	                0);
	CU_ASSERT_EQUAL(pg_int1(raw,
	                        "SELECT count(*) FROM processes"
	                        " WHERE name = $1",
	                        fast, NULL),
	                1);
	/* the host's clock stepping moves nothing of the server's */
	CU_ASSERT_EQUAL(
	    pg_int1(raw, "SELECT count(*) FROM stats_samples", NULL, NULL), 0);
	CU_ASSERT_EQUAL(sio_store_stats_sample(st, now - hour), 1);
	CU_ASSERT_EQUAL(pg_int1(raw,
	                        "SELECT count(*) FROM stats_samples WHERE"
	                        " abs(t - siogate_now_ms()) < 60000",
	                        NULL, NULL),
	                1);
}

int
main(void)
{
	static const struct cu_test tests[] = {
	    {"a take waits for a late commit and marks only what it read",
	     test_take_waits_for_a_late_commit},
	    {"siogate_push from SQL queues and notifies the holder at commit",
	     test_push_from_sql_notifies_at_commit},
	    {"a lookup by sid reads one row however many its holder holds",
	     test_session_lookups_by_sid_stay_cheap},
	    {"an apply that a deadlock failed is tried again, its code run "
	     "once",
	     test_apply_retried_after_a_deadlock},
	    {"a writer rings another host's holder in one notification, or all",
	     test_far_rings_one_notification_or_all},
	    {"three processes opening an empty database migrate it once",
	     test_opening_an_empty_database_at_once},
	    {"migrating to version 3 counts each address's live sessions",
	     test_migration_counts_live_sessions_per_address},
	    {"a write fails at the lock timeout and the connection recovers",
	     test_write_fails_at_the_lock_timeout},
	    {"two connections ending a session claim its end once",
	     test_ending_one_session_twice_at_once},
	    {"a connection the server ended is made again, never "
	     "mid-transaction",
	     test_connection_lost_is_made_again},
	    {"a process whose listener is gone is reaped without its lease",
	     test_reap_when_the_listener_is_gone},
	    {"a new holder attaching while a packet is put: queued once, "
	     "rung right",
	     test_attach_against_put},
	    {"two hosts' heartbeat rounds at once queue one 2:: a session",
	     test_heartbeats_of_two_hosts_at_once},
	    {"three processes sampling one second elect one sweeper",
	     test_one_sweeper_a_second},
	    {"a step of the wall clock writes only the rows it moves",
	     test_clock_step_writes_only_moved_rows},
	    {"leases and the sweep's second run on the server's clock",
	     test_leases_on_the_server_clock},
	    {"a take passes over and deletes unwritable rows, marks what it "
	     "took",
	     test_take_drops_unwritable_rows},
	    {"a done and take outside a transaction wait for the session, "
	     "not the writers' lock",
	     test_done_take_waits_for_the_session_not_the_lock},
	    {"a done and take outside a transaction hand a page with an "
	     "unwritable row over",
	     test_done_take_hands_over},
	    {"a done and take that waited for a session's end leave it to a "
	     "transaction",
	     test_done_take_leaves_an_end_to_a_transaction},
	    {NULL, NULL},
	};

	return cu_run("store_pg", tests, setup, teardown);
}
