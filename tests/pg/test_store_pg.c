/*
 * test_store_pg.c: the PostgreSQL backend's races, scripted. The contract
 * suite (test_store_contract.c) says what every backend promises; these
 * tests hold a PostgreSQL transaction open at a chosen point, through a
 * raw libpq connection, and check what siogate does around it: a take
 * waiting on a late commit, siogate_push() and its NOTIFY, processes
 * migrating one database at once, the lock timeout, two processes ending
 * one session. Waits are for a condition seen in the server (pg_locks),
 * with a deadline, never a fixed sleep.
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
#include "store.h"

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
 * names are plain: a directory, a number, a user). */
static void
store_uri(char *uri, size_t size)
{
	snprintf(uri, size, "postgresql://%s@/%s?host=%s&port=%s",
	         getenv("SIO_TEST_PG_USER"), db, getenv("SIO_TEST_PG_HOST"),
	         getenv("SIO_TEST_PG_PORT"));
}

/* Opens a store on the test's database (busy_ms 0: the default), or
 * NULL with the reason printed; not recorded for teardown(). */
static struct sio_store *
store_open_raw(int busy_ms)
{
	struct sio_store_opts opts = {
	    .synchronous = SIO_SYNC_NORMAL,
	    .busy_timeout_ms = busy_ms,
	};
	char uri[1024], err[SIO_ERR_LEN] = "";
	struct sio_store *s;

	if (db[0] == '\0')
		return NULL;
	store_uri(uri, sizeof(uri));
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
		stores[i] = NULL;
		raws[i] = NULL;
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

/* Packets passed to a callback, ';'-separated. */
struct pkts {
	char got[1024];
	int n;
};

static int
collect(void *udata, const char *pkt, size_t len)
{
	struct pkts *c = udata;
	size_t used = strlen(c->got);

	snprintf(c->got + used, sizeof(c->got) - used, "%.*s;", (int)len, pkt);
	c->n++;
	return SIO_OK;
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

struct taker {
	struct sio_store *st;
	const char *sid;
	struct pkts c;
	int rc;
	atomic_int done;
};

static void *
taker_run(void *arg)
{
	struct taker *t = arg;

	t->rc = sio_store_outbox_take(t->st, t->sid, T0, 100, HOLDER, 1,
	                              collect, &t->c);
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
	struct pkts c = {.n = 0};
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
	    sio_store_outbox_take(st, sid, T0, 100, HOLDER, 1, collect, &c), 2);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::x;3:::y;");
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

/* --- a connection the server dropped -------------------------------------
 */

/* The server ends the store's connection while it is idle (a restart,
 * an administrator): the next write makes it anew and succeeds, its
 * statements prepared again. */
static void
test_a_dropped_connection_is_made_anew(void)
{
	struct sio_store *st = store_open(0);
	PGconn *raw = raw_open();
	char sid[SIO_SID_LEN + 1], *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_new(st, "{}", T0, sid), SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_data_put(st, sid, "k", "v1"), SIO_OK);
	/* every connection to the test's database but raw's, waiting
	 * until each server process is gone (its socket closed) */
	CU_ASSERT(pg_int1(raw,
	                  "SELECT count(*) FILTER (WHERE"
	                  " pg_terminate_backend(pid, 5000)) FROM"
	                  " pg_stat_activity WHERE datname = $1 AND pid <>"
	                  " pg_backend_pid()",
	                  db, NULL) >= 1);
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

int
main(void)
{
	static const struct cu_test tests[] = {
	    {"a take waits for a late commit and marks only what it read",
	     test_take_waits_for_a_late_commit},
	    {"siogate_push from SQL queues and notifies the holder at commit",
	     test_push_from_sql_notifies_at_commit},
	    {"three processes opening an empty database migrate it once",
	     test_opening_an_empty_database_at_once},
	    {"a write fails at the lock timeout and the connection recovers",
	     test_write_fails_at_the_lock_timeout},
	    {"two connections ending a session claim its end once",
	     test_ending_one_session_twice_at_once},
	    {"a connection the server dropped is made anew",
	     test_a_dropped_connection_is_made_anew},
	    {NULL, NULL},
	};

	return cu_run("store_pg", tests, setup, teardown);
}
