/*
 * test_store.c: the CUnit suite for the store with its SQLite backend
 * (common/store.c, common/sqlite/). Every test opens a real database file
 * in a fresh temporary directory; a few look at it through SQLite
 * directly (schema, modes, constraints, views, the WAL). The last
 * tests run tests/helper_store in other processes: concurrent writers, a
 * writer killed mid-stream and processes racing to end one session. They
 * start together by waiting for end of file on a pipe, never by sleeping.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cu.h"
#include "doorbell.h"
#include "session.h"
#include "store.h"

#define T0 1700000000000LL /* a fake "now" */

static char *tmp;    /* per-test directory */
static char *dbpath; /* tmp/test.db */
static struct sio_store *st;

static struct sio_store *
open_store(const char *path, int max_queue, int shared_group)
{
	struct sio_store_opts opts = {
	    .synchronous = SIO_SYNC_NORMAL,
	    .shared_group = shared_group,
	    .max_queue = max_queue,
	};
	char err[SIO_ERR_LEN] = "";
	struct sio_store *s = sio_store_open(path, &opts, err);

	if (s == NULL)
		fprintf(stderr, "sio_store_open: %s\n", err);
	return s;
}

static void
setup(void)
{
	tmp = cu_tmpdir();
	if (tmp == NULL || asprintf(&dbpath, "%s/test.db", tmp) < 0)
		dbpath = NULL;
	st = dbpath ? open_store(dbpath, 0, 0) : NULL;
}

static void
teardown(void)
{
	sio_store_close(st);
	st = NULL;
	cu_rmtree(tmp);
	free(tmp);
	free(dbpath);
	tmp = dbpath = NULL;
}

/* --- raw SQLite access ------------------------------------------------ */

/* Runs sql on its own connection; returns the SQLite result code and the
 * first column of the first row as text in out (if out is not NULL). */
static int
raw(const char *sql, char *out, size_t size)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int rc;

	if (out)
		out[0] = '\0';
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(db);
		return SQLITE_CANTOPEN;
	}
	sqlite3_busy_timeout(db, 5000);
	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW && out)
			snprintf(out, size, "%s",
			         sqlite3_column_text(s, 0)
			             ? (const char *)sqlite3_column_text(s, 0)
			             : "");
		rc = sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return rc;
}

/* The schema, as the store compiles it in. */
static const char schema_sql[] =
#include "schema.inc"
    ;

/*
 * Replaces dbpath with a database as a siogate of schema version v left
 * it: the schema's sections up to v and user_version v. An upgrade test
 * then adds rows and opens it, whatever versions come later.
 */
static void
at_version(int v)
{
	char mark[32], *sql, *err = NULL, *end;
	sqlite3 *db;

	static const char *const files[] = {"", "-wal", "-shm"};
	char path[1024];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dbpath, files[i]);
		unlink(path);
	}
	snprintf(mark, sizeof(mark), "-- version %d\n", v + 1);
	end = strstr(schema_sql, mark);
	CU_ASSERT_PTR_NOT_NULL_FATAL(end);
	sql = strndup(schema_sql, (size_t)(end - schema_sql));
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(dbpath, &db), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK);
	if (err != NULL)
		fprintf(stderr, "at_version %d: %s\n", v, err);
	sqlite3_free(err);
	free(sql);
	snprintf(mark, sizeof(mark), "PRAGMA user_version = %d", v);
	CU_ASSERT_EQUAL(sqlite3_exec(db, mark, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static long long
raw_int(const char *sql)
{
	char buf[64];

	CU_ASSERT_EQUAL_FATAL(raw(sql, buf, sizeof(buf)), SQLITE_OK);
	return atoll(buf);
}

/* --- helpers ------------------------------------------------------------ */

static void
new_session(char sid[SIO_SID_LEN + 1])
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_new(st, "{}", T0, sid), SIO_OK);
}

static void
put_due(const char *sid, const char *pkt, long long due)
{
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sid, pkt, strlen(pkt), 0, due),
	                SIO_OK);
}

static void
put(const char *sid, const char *pkt)
{
	put_due(sid, pkt, 0);
}

/* Packets collected by peek; stop_at stops after that many. */
struct pkts {
	char (*p)[32];
	size_t n, cap;
	size_t stop_at;
};

static int
collect(void *udata, const char *pkt, size_t len)
{
	struct pkts *c = udata;

	if (c->stop_at && c->n == c->stop_at)
		return SIO_ERR;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->p = realloc(c->p, c->cap * sizeof(*c->p));
		if (c->p == NULL)
			return SIO_ERR;
	}
	snprintf(c->p[c->n++], sizeof(c->p[0]), "%.*s", (int)len, pkt);
	return SIO_OK;
}

/* Peeks up to max packets of sid into c (reset first). */
static int
peek(const char *sid, size_t max, struct pkts *c, long long *last)
{
	c->n = 0;
	return sio_store_outbox_peek(st, sid, T0, max, NULL, 0, collect, c,
	                             last);
}

static int
attach(const char *sid, int transport, const char *holder, long long conn,
       int *changed)
{
	int dummy;

	return sio_session_attach(st, sid, transport, holder, conn, T0,
	                          changed ? changed : &dummy);
}

/* --- schema and file ---------------------------------------------------- */

static void
test_schema_applied(void)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT(sio_store_schema_version() >= 1);
	CU_ASSERT_EQUAL(raw_int("PRAGMA user_version"),
	                sio_store_schema_version());
	CU_ASSERT_EQUAL(raw_int("SELECT count(*) FROM sqlite_master WHERE name"
	                        " IN ('processes', 'sessions', 'endpoints',"
	                        " 'outbox', 'data', 'rooms', 'acks',"
	                        " 'counters', 'session_view', 'queue_view',"
	                        " 'outbox_view', 'bridge_queue',"
	                        " 'bridge_view')"),
	                13);
}

/* 1 when SQLite's plan for sql ranges over col in an index. */
static int
plan_ranges(const char *sql, const char *col)
{
	char want[64], plan[1024] = "";
	sqlite3 *db;
	sqlite3_stmt *s;
	size_t n = 0;

	snprintf(want, sizeof(want), "%s<", col);
	snprintf(plan, sizeof(plan), "EXPLAIN QUERY PLAN %s", sql);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(dbpath, &db), SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db, plan, -1, &s, NULL),
	                      SQLITE_OK);
	plan[0] = '\0';
	while (sqlite3_step(s) == SQLITE_ROW && n < sizeof(plan))
		n += (size_t)snprintf(plan + n, sizeof(plan) - n, "%s;",
		                      sqlite3_column_text(s, 3));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return strstr(plan, want) != NULL;
}

/* What the sweeps look for each second is found by an index range, not
 * by reading every closed or every open session (version 4). */
static void
test_sweeps_read_only_what_is_due(void)
{
	CU_ASSERT(plan_ranges("DELETE FROM sessions WHERE state = 'closed'"
	                      " AND closed_at < 1",
	                      "closed_at"));
	CU_ASSERT(plan_ranges("UPDATE sessions SET last_heartbeat = 2"
	                      " WHERE state = 'open' AND holder IS NOT NULL"
	                      " AND transport IN ('websocket', 'htmlfile')"
	                      " AND last_heartbeat <= 1"
	                      " AND (holder = 'w' OR last_heartbeat <= 0)",
	                      "last_heartbeat"));
}

/* The frames in the WAL, as another connection sees them. */
static long long
wal_frames(void)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	long long n = -1;

	CU_ASSERT_EQUAL_FATAL(sqlite3_open(dbpath, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(PASSIVE)", -1, &s,
	                       NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 1);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/*
 * sio_store_maintain() on a housekeeping connection: with a long WAL its
 * RESTART checkpoint gives up while a reader keeps an old snapshot (no
 * error, no stall); once the reader is gone it copies the WAL, and the
 * next write starts the WAL over.
 */
static void
test_maintain_restarts_wal(void)
{
	struct sio_store_opts opts = {.role = SIO_STORE_MAINTAIN};
	char sid[SIO_SID_LEN + 1], err[SIO_ERR_LEN];
	struct sio_store *m = sio_store_open(dbpath, &opts, err);
	sqlite3 *reader;
	sqlite3_stmt *q;
	long long long_wal;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	new_session(sid);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(dbpath, &reader), SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL),
	                      SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(
	    sqlite3_prepare_v2(reader, "SELECT count(*) FROM sessions", -1, &q,
	                       NULL),
	    SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_step(q), SQLITE_ROW);
	/* past the reader's snapshot, and past the WAL's long mark */
	for (int i = 0; i < 100; i++)
		new_session(sid);
	long_wal = wal_frames();
	CU_ASSERT(long_wal >= 256);
	CU_ASSERT_EQUAL(sio_store_maintain(m, T0), SIO_OK);
	sqlite3_finalize(q);
	sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(reader);
	/* the WAL was long: again at once, not a second later */
	CU_ASSERT_EQUAL(sio_store_maintain(m, T0 + 1), SIO_OK);
	new_session(sid);
	CU_ASSERT(wal_frames() < long_wal / 4);
	sio_store_close(m);
}

/* Reopening an up-to-date database migrates nothing, and takes no write
 * lock: it opens while another connection holds that lock. */
static void
test_reopen_is_noop(void)
{
	struct sio_store_opts opts = {.busy_timeout_ms = 50};
	char sid[SIO_SID_LEN + 1], err[SIO_ERR_LEN] = "";
	struct sio_store *other;
	long long objects;
	sqlite3 *locker;

	new_session(sid);
	objects = raw_int("SELECT count(*) FROM sqlite_master");
	sio_store_close(st);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(dbpath, &locker), SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(
	    sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
	other = sio_store_open(dbpath, &opts, err);
	if (other == NULL)
		fprintf(stderr, "sio_store_open: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL(other);
	sio_store_close(other);
	sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(locker);
	st = open_store(dbpath, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(raw_int("SELECT count(*) FROM sqlite_master"), objects);
	CU_ASSERT_EQUAL(raw_int("PRAGMA user_version"),
	                sio_store_schema_version());
	CU_ASSERT_EQUAL(raw_int("SELECT count(*) FROM sessions"), 1);
	CU_ASSERT_EQUAL(sio_store_tick(st, T0), 0);
}

static void
test_newer_schema_refused(void)
{
	char err[SIO_ERR_LEN] = "";
	struct sio_store_opts opts = {0};
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	         sio_store_schema_version() + 1);
	CU_ASSERT_EQUAL_FATAL(raw(sql, NULL, 0), SQLITE_OK);
	CU_ASSERT_PTR_NULL(sio_store_open(dbpath, &opts, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "newer"));
}

static int
file_mode(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return -1;
	return (int)(sb.st_mode & 07777);
}

static void
test_file_mode(void)
{
	char sid[SIO_SID_LEN + 1], *wal, *shared;
	struct sio_store *s2;
	mode_t old = umask(0);

	umask(old);
	new_session(sid);
	CU_ASSERT_EQUAL(file_mode(dbpath), 0600);
	CU_ASSERT_FATAL(asprintf(&wal, "%s-wal", dbpath) > 0);
	CU_ASSERT_EQUAL(file_mode(wal), 0600);
	free(wal);
	/* shared_group: 0660 even under a umask that takes group bits. */
	CU_ASSERT_FATAL(asprintf(&shared, "%s/shared.db", tmp) > 0);
	old = umask(077);
	s2 = open_store(shared, 0, 1);
	umask(old);
	CU_ASSERT_PTR_NOT_NULL(s2);
	CU_ASSERT_EQUAL(file_mode(shared), 0660);
	sio_store_close(s2);
	free(shared);
}

static void
test_wal_mode(void)
{
	char buf[32];

	CU_ASSERT_EQUAL(raw("PRAGMA journal_mode", buf, sizeof(buf)),
	                SQLITE_OK);
	CU_ASSERT_STRING_EQUAL(buf, "wal");
}

/* An open connection keeps no statement it has not used: compiled, all
 * of them took about 280 KB more per connection (a pool holds many). */
static void
test_open_connection_memory(void)
{
	struct sio_store *more[4];
	long long before = sqlite3_memory_used(), per;
	char sid[SIO_SID_LEN + 1];

	for (int i = 0; i < 4; i++) {
		more[i] = open_store(dbpath, 0, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(more[i]);
	}
	per = (sqlite3_memory_used() - before) / 4;
	CU_ASSERT(per > 0);
	CU_ASSERT(per < 200 * 1024);
	/* and a statement compiled at its first use works */
	CU_ASSERT_EQUAL(sio_store_session_new(more[0], "{}", T0, sid), SIO_OK);
	for (int i = 0; i < 4; i++)
		sio_store_close(more[i]);
}

/* A new database gets 2 KiB pages; an existing one keeps its own. */
static void
test_page_size(void)
{
	char *old;
	sqlite3 *db;
	sqlite3_stmt *q;
	struct sio_store *s2;

	CU_ASSERT_EQUAL(raw_int("PRAGMA page_size"), 2048);
	CU_ASSERT_FATAL(asprintf(&old, "%s/old.db", tmp) > 0);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(old, &db), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(db,
	                             "PRAGMA page_size = 4096;"
	                             " CREATE TABLE before_siogate (a)",
	                             NULL, NULL, NULL),
	                SQLITE_OK);
	sqlite3_close(db);
	s2 = open_store(old, 0, 0);
	CU_ASSERT_PTR_NOT_NULL(s2);
	sio_store_close(s2);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(old, &db), SQLITE_OK);
	CU_ASSERT_EQUAL(
	    sqlite3_exec(db, "SELECT count(*) FROM sessions", NULL, NULL, NULL),
	    SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(
	    sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &q, NULL),
	    SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_step(q), SQLITE_ROW);
	CU_ASSERT_EQUAL(sqlite3_column_int(q, 0), 4096);
	sqlite3_finalize(q);
	sqlite3_close(db);
	free(old);
}

static void
test_check_constraints(void)
{
	char sid[SIO_SID_LEN + 1], sql[160];

	new_session(sid);
	snprintf(sql, sizeof(sql),
	         "UPDATE sessions SET state = 'bogus' WHERE sid = '%s'", sid);
	CU_ASSERT_EQUAL(raw(sql, NULL, 0) & 0xff, SQLITE_CONSTRAINT);
	snprintf(sql, sizeof(sql),
	         "UPDATE sessions SET transport = 'carrier-pigeon'"
	         " WHERE sid = '%s'",
	         sid);
	CU_ASSERT_EQUAL(raw(sql, NULL, 0) & 0xff, SQLITE_CONSTRAINT);
	snprintf(sql, sizeof(sql),
	         "UPDATE sessions SET state = 'open', transport = 'htmlfile'"
	         " WHERE sid = '%s'",
	         sid);
	CU_ASSERT_EQUAL(raw(sql, NULL, 0), SQLITE_OK);
}

/* --- sessions ----------------------------------------------------------- */

static int
cmp_sid(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_sid_format_and_uniqueness(void)
{
	enum { N = 10000 };
	char(*sids)[SIO_SID_LEN + 1] = calloc(N, sizeof(*sids));
	int i, j, bad = 0, dup = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sids);
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	for (i = 0; i < N; i++)
		if (sio_store_session_new(st, NULL, T0, sids[i]) != SIO_OK)
			bad++;
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_EQUAL(bad, 0);
	for (i = 0; i < N; i++) {
		bad += strlen(sids[i]) != SIO_SID_LEN;
		for (j = 0; sids[i][j]; j++)
			bad += strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			              "abcdefghijklmnopqrstuvwxyz0123456789-_",
			              sids[i][j]) == NULL;
	}
	qsort(sids, N, sizeof(*sids), cmp_sid);
	for (i = 1; i < N; i++)
		dup += strcmp(sids[i - 1], sids[i]) == 0;
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(dup, 0);
	CU_ASSERT_EQUAL(raw_int("SELECT count(DISTINCT sid) FROM sessions"), N);
	free(sids);
}

/* --- lifecycle ----------------------------------------------------------- */

/* A new file uses incremental auto_vacuum: the sweep gives the pages of
 * deleted sessions back, beyond the few it keeps for the next inserts. */
static void
test_cleanup_gives_space_back(void)
{
	char(*sids)[SIO_SID_LEN + 1] = calloc(400, sizeof(*sids));
	char *req = malloc(8192);
	long long peak, after;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sids);
	CU_ASSERT_PTR_NOT_NULL_FATAL(req);
	CU_ASSERT_EQUAL(raw_int("PRAGMA auto_vacuum"), 2);
	snprintf(req, 8192, "{\"remote\":\"10.0.0.1\",\"query\":\"%0*d\"}",
	         8000, 0);
	for (int i = 0; i < 400; i++)
		CU_ASSERT_EQUAL_FATAL(
		    sio_store_session_new(st, req, T0, sids[i]), SIO_OK);
	peak = raw_int("PRAGMA page_count");
	for (int i = 0; i < 400; i++)
		CU_ASSERT_EQUAL(sio_session_claim_end(st, sids[i], "bye", T0),
		                1);
	CU_ASSERT_EQUAL(sio_store_cleanup(st, T0 + 1), 400);
	after = raw_int("PRAGMA page_count");
	/* 400 rows of 8 KB: about 1,600 pages of 2 KiB; 512 free ones kept */
	CU_ASSERT(peak > 1500);
	CU_ASSERT(after < peak - 900);
	CU_ASSERT(raw_int("PRAGMA freelist_count") <= 512);
	free(sids);
	free(req);
}

/* Version 8 fills the address column of an older file's live sessions
 * and switches the file to incremental auto_vacuum (one VACUUM). */
static void
test_version8_upgrade(void)
{
	static const char *const v7[] = {
	    "INSERT INTO sessions (sid, state, created, last_recv,"
	    " last_heartbeat, request) VALUES"
	    " ('a', 'open', 0, 0, 0, '{\"remote\":\"10.0.0.7\"}'),"
	    " ('b', 'detached', 0, 0, 0, 'not json'),"
	    " ('c', 'handshaken', 0, 0, 0, NULL)",
	};
	char buf[64];

	sio_store_close(st);
	st = NULL;
	at_version(7);
	for (size_t i = 0; i < sizeof(v7) / sizeof(v7[0]); i++)
		CU_ASSERT_EQUAL_FATAL(raw(v7[i], NULL, 0), SQLITE_OK);
	/* an older file: auto_vacuum none (the mode and the VACUUM that
	 * applies it on one connection) */
	{
		sqlite3 *db;
		CU_ASSERT_EQUAL_FATAL(sqlite3_open(dbpath, &db), SQLITE_OK);
		CU_ASSERT_EQUAL(
		    sqlite3_exec(db, "PRAGMA auto_vacuum = NONE; VACUUM", NULL,
		                 NULL, NULL),
		    SQLITE_OK);
		sqlite3_close(db);
	}
	CU_ASSERT_EQUAL_FATAL(raw_int("PRAGMA auto_vacuum"), 0);
	st = open_store(dbpath, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(raw_int("PRAGMA auto_vacuum"), 2);
	CU_ASSERT_EQUAL(raw("SELECT remote FROM sessions WHERE sid = 'a'", buf,
	                    sizeof(buf)),
	                SQLITE_OK);
	CU_ASSERT_STRING_EQUAL(buf, "10.0.0.7");
	CU_ASSERT_EQUAL(raw_int("SELECT count(*) FROM sessions"
	                        " WHERE remote IS NULL"),
	                2);
}

/* Version 9: the sessions a transport attached to had their `1::`
 * written; none was ended by its client. */
static void
test_version9_upgrade(void)
{
	static const char *const rows =
	    "INSERT INTO sessions (sid, state, transport, created, last_recv,"
	    " last_heartbeat) VALUES ('a', 'open', 'websocket', 0, 0, 0),"
	    " ('b', 'detached', 'xhr-polling', 0, 0, 0),"
	    " ('c', 'handshaken', NULL, 0, 0, 0),"
	    " ('d', 'closed', 'websocket', 0, 0, 0)";
	int hello = -1;

	sio_store_close(st);
	st = NULL;
	at_version(8);
	CU_ASSERT_EQUAL_FATAL(raw(rows, NULL, 0), SQLITE_OK);
	st = open_store(dbpath, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT(raw_int("PRAGMA user_version") >= 9);
	CU_ASSERT_EQUAL(raw_int("SELECT count(*) FROM sessions WHERE hello = 1"
	                        " AND sid IN ('a', 'b', 'd')"),
	                3);
	CU_ASSERT_EQUAL(raw_int("SELECT hello FROM sessions WHERE sid = 'c'"),
	                0);
	CU_ASSERT_EQUAL(raw_int("SELECT count(*) FROM sessions"
	                        " WHERE gone <> 0"),
	                0);
	CU_ASSERT_EQUAL(sio_session_attach(st, "b", SIO_TRANSPORT_WEBSOCKET,
	                                   "wsd", 1, T0, &hello),
	                SIO_OK);
	CU_ASSERT_EQUAL(hello, 0);
	CU_ASSERT_EQUAL(sio_session_attach(st, "c", SIO_TRANSPORT_WEBSOCKET,
	                                   "wsd", 2, T0, &hello),
	                SIO_OK);
	CU_ASSERT_EQUAL(hello, 1);
	CU_ASSERT_EQUAL(sio_store_session_gone(st, "d"), 0);
}

/* Version 10: a version 9 database gains the bridge's queue and its view;
 * its sessions stay. */
static void
test_version10_upgrade(void)
{
	char buf[64];
	long long n = -1;

	sio_store_close(st);
	st = NULL;
	at_version(9);
	CU_ASSERT_EQUAL_FATAL(
	    raw("INSERT INTO sessions (sid, created, last_recv,"
	        " last_heartbeat) VALUES ('a', 0, 0, 0)",
	        NULL, 0),
	    SQLITE_OK);
	st = open_store(dbpath, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT(raw_int("PRAGMA user_version") >= 10);
	CU_ASSERT_EQUAL(raw_int("SELECT count(*) FROM sessions"), 1);
	CU_ASSERT_EQUAL(
	    sio_store_bridge_put(st, "a", "{\"type\":\"close\"}", 16, T0, 0),
	    SIO_OK);
	CU_ASSERT_EQUAL(sio_store_bridge_count(st, NULL, &n), SIO_OK);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(raw("SELECT type FROM bridge_view WHERE sid = 'a'", buf,
	                    sizeof(buf)),
	                SQLITE_OK);
	CU_ASSERT_STRING_EQUAL(buf, "close");
	CU_ASSERT_EQUAL(
	    raw("SELECT created FROM bridge_view", buf, sizeof(buf)),
	    SQLITE_OK);
	CU_ASSERT_STRING_EQUAL(buf, "2023-11-14T22:13:20.000Z");
	/* a body that is not JSON does not break the view */
	CU_ASSERT_EQUAL(raw("INSERT INTO bridge_queue (sid, body, created)"
	                    " VALUES ('b', 'x', 0)",
	                    NULL, 0),
	                SQLITE_OK);
	CU_ASSERT_EQUAL(raw_int("SELECT count(*) FROM bridge_view"
	                        " WHERE type IS NULL"),
	                1);
}

/* A database every user can write, or another user's, is refused. */
static void
test_unsafe_database(void)
{
	struct sio_store_opts shared = {.shared_group = 1};
	char err[SIO_ERR_LEN] = "";

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	sio_store_close(st);
	st = NULL;
	CU_ASSERT_EQUAL_FATAL(chmod(dbpath, 0666), 0);
	CU_ASSERT_PTR_NULL(sio_store_open(dbpath, NULL, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "writable by every user"));
	CU_ASSERT_EQUAL_FATAL(chmod(dbpath, 0600), 0);
	st = sio_store_open(dbpath, NULL, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	if (geteuid() != 0)
		return; /* giving the file away takes root */
	sio_store_close(st);
	st = NULL;
	CU_ASSERT_EQUAL_FATAL(chown(dbpath, 65534, 65534), 0);
	CU_ASSERT_PTR_NULL(sio_store_open(dbpath, NULL, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "belongs to uid 65534"));
	/* db_shared_group: another user's file of one of our groups */
	CU_ASSERT_EQUAL_FATAL(chown(dbpath, 65534, getegid()), 0);
	CU_ASSERT_EQUAL_FATAL(chmod(dbpath, 0660), 0);
	CU_ASSERT_PTR_NULL(sio_store_open(dbpath, NULL, err));
	st = sio_store_open(dbpath, &shared, err);
	CU_ASSERT_PTR_NOT_NULL(st);
}

/*
 * Whoever can write the database's directory can replace the file or its
 * -wal and -shm; whoever owns a link on the way can point it elsewhere:
 * refused, the file not even made. A run_dir the store would ring into is
 * held to the same rule.
 */
static void
test_unsafe_database_path(void)
{
	struct sio_store_opts opts = {.run_dir = NULL};
	char *dir, *db, *link, err[SIO_ERR_LEN] = "";
	struct stat sb;

	CU_ASSERT_FATAL(asprintf(&dir, "%s/open", tmp) > 0);
	CU_ASSERT_FATAL(asprintf(&db, "%s/open/x.db", tmp) > 0);
	CU_ASSERT_FATAL(asprintf(&link, "%s/link", tmp) > 0);
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	CU_ASSERT_EQUAL_FATAL(chmod(dir, 0777), 0);
	CU_ASSERT_PTR_NULL(sio_store_open(db, NULL, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "writable by every user"));
	CU_ASSERT_EQUAL(stat(db, &sb), -1);
	/* sticky is no help where the -wal and -shm are made */
	CU_ASSERT_EQUAL_FATAL(chmod(dir, 01777), 0);
	CU_ASSERT_PTR_NULL(sio_store_open(db, NULL, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "which holds it"));
	/* a run_dir there: the store never rings into it */
	opts.run_dir = dir;
	CU_ASSERT_PTR_NULL(sio_store_open(dbpath, &opts, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "run_dir"));
	CU_ASSERT_EQUAL_FATAL(chmod(dir, 0700), 0);
	struct sio_store *s = sio_store_open(dbpath, &opts, err);
	CU_ASSERT_PTR_NOT_NULL(s);
	sio_store_close(s);
	if (geteuid() != 0)
		goto out; /* giving the link away takes root */
	CU_ASSERT_EQUAL_FATAL(symlink(dir, link), 0);
	CU_ASSERT_EQUAL_FATAL(lchown(link, 65534, 65534), 0);
	free(db);
	CU_ASSERT_FATAL(asprintf(&db, "%s/link/x.db", tmp) > 0);
	CU_ASSERT_PTR_NULL(sio_store_open(db, NULL, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "symbolic link"));
	opts.run_dir = link;
	CU_ASSERT_PTR_NULL(sio_store_open(dbpath, &opts, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "belongs to uid 65534"));
out:
	free(dir);
	free(db);
	free(link);
}

/* The sweep's sio_store_expired() at T0, with the engine's timeouts of a
 * minute: how many sessions it found, up to max (4 at most). */
static int
sweep(char (*sids)[SIO_SID_LEN + 1], int max)
{
	struct sio_store_expiry e;
	int states[4];

	CU_ASSERT_FATAL(max <= 4);
	sio_session_expiry(&e, T0, 60000, 60000);
	return sio_store_expired(st, T0, &e, sids, states, max);
}

static void
test_unregister_detaches(void)
{
	struct sio_store_session s;
	char sid[SIO_SID_LEN + 1];

	new_session(sid);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "wsd", 10, T0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "wsd", 11, T0),
	                SIO_FULL);
	CU_ASSERT_EQUAL(raw_int("SELECT pid FROM processes"), 10);
	CU_ASSERT_EQUAL(attach(sid, SIO_TRANSPORT_WEBSOCKET, "wsd", 1, NULL),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_session_unregister(st, "wsd", T0 + 3), SIO_OK);
	CU_ASSERT_EQUAL(raw_int("SELECT count(*) FROM processes"), 0);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_get(st, sid, &s), SIO_OK);
	CU_ASSERT_EQUAL(s.state, SIO_SESSION_DETACHED);
	CU_ASSERT_EQUAL(s.detached_at, T0 + 3);
	sio_store_session_cleanup(&s);
}

/* --- endpoints, data, acks, counters ------------------------------------ */

static void
list_fn(void *udata, const char *endpoint, const char *query)
{
	char *out = udata;

	strcat(out, "[");
	strcat(out, endpoint);
	strcat(out, query ? "?" : "");
	strcat(out, query ? query : "");
	strcat(out, "]");
}

/* SQLite lists the endpoints in the order they connected (a replaced one
 * keeps its place), which the contract leaves open: only the root last. */
static void
test_endpoints(void)
{
	char sid[SIO_SID_LEN + 1], out[256] = "";

	new_session(sid);
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, sid, "/b", "x=1"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, sid, "/a", NULL), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, sid, "/b", "x=2"), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_endpoint_list(st, sid, list_fn, out), 3);
	CU_ASSERT_STRING_EQUAL(out, "[/b?x=2][/a][]");
}

static long long
counter(const char *name)
{
	long long v = -1;

	CU_ASSERT_EQUAL(sio_store_counter_get(st, name, &v), SIO_OK);
	return v;
}

/* The active counts and peaks follow every change of state or holder,
 * those made outside the store (the sqlite3 shell) included. */
static void
test_active_counts(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], c[SIO_SID_LEN + 1];
	char d[SIO_SID_LEN + 1], sql[128];

	new_session(a);
	new_session(b);
	new_session(c);
	CU_ASSERT_EQUAL(counter("sessions_active"), 3);
	CU_ASSERT_EQUAL(counter("sessions_peak"), 3);
	CU_ASSERT_EQUAL(counter("connections_active"), 0);
	CU_ASSERT_EQUAL(attach(a, SIO_TRANSPORT_WEBSOCKET, "wsd", 1, NULL),
	                SIO_OK);
	CU_ASSERT_EQUAL(attach(b, SIO_TRANSPORT_WEBSOCKET, "wsd", 2, NULL),
	                SIO_OK);
	/* a second attach of a held session is no new connection */
	CU_ASSERT_EQUAL(attach(b, SIO_TRANSPORT_XHR_POLLING, "gw", 3, NULL),
	                SIO_OK);
	CU_ASSERT_EQUAL(counter("connections_active"), 2);
	CU_ASSERT_EQUAL(counter("connections_peak"), 2);
	CU_ASSERT_EQUAL(sio_session_detach(st, a, "wsd", 1, T0), SIO_OK);
	CU_ASSERT_EQUAL(counter("connections_active"), 1);
	CU_ASSERT_EQUAL(counter("connections_peak"), 2);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, c, "bye", T0), 1);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, c, "bye", T0), 0);
	CU_ASSERT_EQUAL(counter("sessions_active"), 2);
	CU_ASSERT_EQUAL(counter("sessions_peak"), 3);
	new_session(d);
	CU_ASSERT_EQUAL(counter("sessions_peak"), 3);
	CU_ASSERT_EQUAL(sio_store_cleanup(st, T0 + 1), 1); /* c: closed */
	CU_ASSERT_EQUAL(counter("sessions_active"), 3);
	/* b, open and held, deleted by hand */
	snprintf(sql, sizeof(sql), "DELETE FROM sessions WHERE sid = '%s'", b);
	CU_ASSERT_EQUAL(raw(sql, NULL, 0), SQLITE_OK);
	CU_ASSERT_EQUAL(counter("sessions_active"), 2);
	CU_ASSERT_EQUAL(counter("connections_active"), 0);
	CU_ASSERT_EQUAL(counter("sessions_active"),
	                raw_int("SELECT count(*) FROM sessions"
	                        " WHERE state <> 'closed'"));
	CU_ASSERT_EQUAL(counter("sessions_peak"), 3);
	CU_ASSERT_EQUAL(counter("connections_peak"), 2);
}

/* Version 5 counts what a version 4 database holds. */
static void
test_active_counts_upgrade(void)
{
	static const char *const v4[] = {
	    "INSERT INTO sessions (sid, state, holder, created, last_recv,"
	    " last_heartbeat) VALUES ('a', 'open', 'wsd', 0, 0, 0),"
	    " ('b', 'detached', NULL, 0, 0, 0), ('c', 'closed', NULL, 0, 0, 0)",
	    "INSERT INTO counters (name, value) VALUES ('sessions_peak', 1)",
	};

	sio_store_close(st);
	at_version(4);
	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
		CU_ASSERT_EQUAL_FATAL(raw(v4[i], NULL, 0), SQLITE_OK);
	st = open_store(dbpath, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(raw_int("SELECT count(*) FROM sqlite_master"
	                        " WHERE type = 'trigger'"
	                        " AND tbl_name IN ('sessions', 'counters')"),
	                7);
	CU_ASSERT_EQUAL(counter("sessions_active"), 2);
	CU_ASSERT_EQUAL(counter("sessions_peak"), 2);
	CU_ASSERT_EQUAL(counter("connections_active"), 1);
	CU_ASSERT_EQUAL(counter("connections_peak"), 1);
}

/* The depth of sid's queue as the sessions row keeps it. */
static long long
queued(const char *sid)
{
	char sql[128];

	snprintf(sql, sizeof(sql),
	         "SELECT queued FROM sessions WHERE sid = '%s'", sid);
	return raw_int(sql);
}

static void
test_queue_counts(void)
{
	char a[SIO_SID_LEN + 1], b[SIO_SID_LEN + 1], sql[200];
	struct pkts c = {0};
	long long last;

	new_session(a);
	new_session(b);
	put(a, "3:::1");
	put(a, "3:::2");
	put(b, "3:::3");
	CU_ASSERT_EQUAL(queued(a), 2);
	CU_ASSERT_EQUAL(queued(b), 1);
	/* what the sqlite3 shell writes counts too */
	snprintf(sql, sizeof(sql),
	         "INSERT INTO outbox (sid, packet, created, due)"
	         " VALUES ('%s', '3:::4', 0, 0)",
	         b);
	CU_ASSERT_EQUAL(raw(sql, NULL, 0), SQLITE_OK);
	CU_ASSERT_EQUAL(queued(b), 2);
	CU_ASSERT_EQUAL(peek(a, 10, &c, &last), 2);
	CU_ASSERT_EQUAL(sio_store_outbox_del(st, a, T0, last), SIO_OK);
	CU_ASSERT_EQUAL(queued(a), 0);
	/* taken, written, deleted */
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, b, T0, 1, "gw", 7, collect, &c), 1);
	CU_ASSERT_EQUAL(queued(b), 2);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, b, "gw", 7), SIO_OK);
	CU_ASSERT_EQUAL(queued(b), 1);
	CU_ASSERT_EQUAL(raw_int("SELECT count(*) FROM sessions s WHERE queued"
	                        " <> (SELECT count(*) FROM outbox o"
	                        " WHERE o.sid = s.sid)"),
	                0);
	free(c.p);
}

static void
test_queue_counts_upgrade(void)
{
	static const char *const v5[] = {
	    "INSERT INTO sessions (sid, state, created, last_recv,"
	    " last_heartbeat) VALUES ('a', 'open', 0, 0, 0),"
	    " ('b', 'detached', 0, 0, 0)",
	    "INSERT INTO outbox (sid, packet, created) VALUES ('a', '1', 0),"
	    " ('a', '2', 0), ('a', '3', 0), ('b', '4', 0)",
	};

	sio_store_close(st);
	at_version(5);
	for (size_t i = 0; i < sizeof(v5) / sizeof(v5[0]); i++)
		CU_ASSERT_EQUAL_FATAL(raw(v5[i], NULL, 0), SQLITE_OK);
	st = open_store(dbpath, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(queued("a"), 3);
	CU_ASSERT_EQUAL(queued("b"), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, "a", "5", 1, 0, 0), SIO_OK);
	CU_ASSERT_EQUAL(queued("a"), 4);
}

/* Milliseconds of this thread's CPU since t0 (CLOCK_THREAD_CPUTIME_ID):
 * the store runs in this thread, and a loaded machine's waits do not
 * count. */
static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

#define BCAST_SESSIONS 2000
#define BCAST_DEPTH 900 /* of max_queue 1000 */

/* The fastest of 5 broadcasts to every session's root (ms); each must
 * reach all of them. The packets are deleted again. */
static double
bcast_best(void)
{
	double best = 1e9, ms;
	struct timespec t0;
	long long top = raw_int("SELECT coalesce(max(seq), 0) FROM outbox");

	for (int i = 0; i < 5; i++) {
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
		CU_ASSERT_EQUAL(sio_store_outbox_broadcast(st, "", NULL, NULL,
		                                           "3:::b", 5, 0, 0),
		                BCAST_SESSIONS);
		ms = ms_since(&t0);
		best = ms < best ? ms : best;
	}
	{
		char sql[80];

		snprintf(sql, sizeof(sql),
		         "DELETE FROM outbox WHERE seq > %lld", top);
		CU_ASSERT_EQUAL(raw(sql, NULL, 0), SQLITE_OK);
	}
	return best;
}

/* The fastest of 3 sweeps of the store's part (ms): what sio_store_expired
 * does each second, with nothing to expire. */
static double
expired_best(void)
{
	char sids[4][SIO_SID_LEN + 1];
	double best = 1e9, ms;
	struct timespec t0;

	for (int i = 0; i < 3; i++) {
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
		CU_ASSERT_EQUAL(sweep(sids, 4), 0);
		ms = ms_since(&t0);
		best = ms < best ? ms : best;
	}
	return best;
}

/*
 * A scenario, not a benchmark: a broadcast to 2,000 sessions and a sweep,
 * with empty queues and then with queues near max_queue. Their cost must
 * not follow the depth of the queues (the bounds are generous: a loaded
 * machine passes, counting each target's rows does not).
 */
static void
test_costs_do_not_follow_queue_depth(void)
{
	char sql[512];
	double bcast_empty, bcast_full, sweep_empty, sweep_full;
	struct timespec t0;

	sio_store_close(st);
	st = open_store(dbpath, 1000, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	snprintf(sql, sizeof(sql),
	         "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1"
	         " FROM n WHERE i < %d) INSERT INTO sessions (sid, state,"
	         " transport, holder, created, last_recv, last_heartbeat)"
	         " SELECT printf('s%%05d', i), 'open', 'websocket', 'gone',"
	         " %lld, %lld, %lld FROM n",
	         BCAST_SESSIONS, T0, T0, T0);
	CU_ASSERT_EQUAL_FATAL(raw(sql, NULL, 0), SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(
	    raw("INSERT INTO processes (name, pid, started, renewed)"
	        " VALUES ('gone', 1, 0, 9e15)",
	        NULL, 0),
	    SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(raw("INSERT INTO endpoints (sid, endpoint)"
	                          " SELECT sid, '' FROM sessions",
	                          NULL, 0),
	                      SQLITE_OK);
	bcast_empty = bcast_best();
	sweep_empty = expired_best();
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	snprintf(sql, sizeof(sql),
	         "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1"
	         " FROM n WHERE i < %d) INSERT INTO outbox (sid, packet,"
	         " created) SELECT s.sid, '3:::queued', %lld"
	         " FROM sessions s, n ORDER BY s.sid, n.i",
	         BCAST_DEPTH, T0);
	CU_ASSERT_EQUAL_FATAL(raw(sql, NULL, 0), SQLITE_OK);
	printf("\n    filled %d queues to %d in %.0f ms of CPU", BCAST_SESSIONS,
	       BCAST_DEPTH, ms_since(&t0));
	bcast_full = bcast_best();
	sweep_full = expired_best();
	printf(
	    "\n    broadcast to %d (ms of CPU): %.1f (empty queues), %.1f"
	    " (queues at %d of 1000)\n    sweep (ms of CPU): %.1f, %.1f\n    ",
	    BCAST_SESSIONS, bcast_empty, bcast_full, BCAST_DEPTH, sweep_empty,
	    sweep_full);
	CU_ASSERT(bcast_full < 12 * bcast_empty + 20);
	CU_ASSERT(sweep_full < 3 * sweep_empty + 20);
}

static void
test_clock_step_moves_stored_times(void)
{
	char sid[SIO_SID_LEN + 1], sql[256];
	long long step = -1, wall = T0 + 3600000;

	new_session(sid);
	snprintf(sql, sizeof(sql),
	         "INSERT INTO outbox (sid, packet, created, due) VALUES"
	         " ('%s', 'old', %lld, %lld)",
	         sid, T0, T0 + 5000);
	CU_ASSERT_EQUAL(raw(sql, NULL, 0), SQLITE_OK);
	CU_ASSERT_EQUAL(sio_store_clock_check(st, "boot-1", T0, 1000, &step),
	                SIO_OK);
	CU_ASSERT_EQUAL(step, 0);
	/* a packet queued after the step, on the new clock */
	snprintf(sql, sizeof(sql),
	         "INSERT INTO outbox (sid, packet, created, due) VALUES"
	         " ('%s', 'new', %lld, %lld)",
	         sid, wall - 10, wall + 5000);
	CU_ASSERT_EQUAL(raw(sql, NULL, 0), SQLITE_OK);
	/* one second on the boot clock, an hour on the wall clock */
	CU_ASSERT_EQUAL(sio_store_clock_check(st, "boot-1", wall, 2000, &step),
	                SIO_OK);
	CU_ASSERT_EQUAL(step, 3600000 - 1000);
	snprintf(sql, sizeof(sql),
	         "SELECT last_recv FROM sessions WHERE sid = '%s'", sid);
	CU_ASSERT_EQUAL(raw_int(sql), T0 + step);
	CU_ASSERT_EQUAL(raw_int("SELECT due FROM outbox WHERE packet = 'old'"),
	                T0 + 5000 + step);
	CU_ASSERT_EQUAL(raw_int("SELECT due FROM outbox WHERE packet = 'new'"),
	                wall + 5000);
	/* the same pair again: no step */
	CU_ASSERT_EQUAL(
	    sio_store_clock_check(st, "boot-1", wall + 500, 2500, &step),
	    SIO_OK);
	CU_ASSERT_EQUAL(step, 0);
	/* another boot: its boot clock starts over, nothing to compare */
	CU_ASSERT_EQUAL(
	    sio_store_clock_check(st, "boot-2", wall + 900000, 7, &step),
	    SIO_OK);
	CU_ASSERT_EQUAL(step, 0);
	CU_ASSERT_EQUAL(raw_int(sql), T0 + 3600000 - 1000);
}

/* Deferred counters wait a second between flushes, on whatever clock the
 * caller gives: one gone back an hour does not hold them for the hour. */
static void
test_counters_flush_after_clock_back(void)
{
	sio_store_defer_counters(st);
	CU_ASSERT_EQUAL(sio_store_counter_add(st, "packets_sent", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counters_flush(st, T0), SIO_OK);
	CU_ASSERT_EQUAL(raw_int("SELECT value FROM counters"
	                        " WHERE name = 'packets_sent'"),
	                1);
	CU_ASSERT_EQUAL(sio_store_counter_add(st, "packets_sent", 2), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_counters_flush(st, T0 + 500), SIO_OK);
	CU_ASSERT_EQUAL(raw_int("SELECT value FROM counters"
	                        " WHERE name = 'packets_sent'"),
	                1);
	CU_ASSERT_EQUAL(sio_store_counters_flush(st, T0 - 3600000), SIO_OK);
	CU_ASSERT_EQUAL(raw_int("SELECT value FROM counters"
	                        " WHERE name = 'packets_sent'"),
	                3);
}

static void
test_views(void)
{
	char sid[SIO_SID_LEN + 1], sql[200], buf[64];

	new_session(sid);
	CU_ASSERT_EQUAL(sio_store_endpoint_add(st, sid, "/chat", NULL), SIO_OK);
	put(sid, "3:::1");
	put(sid, "3:::2");
	snprintf(sql, sizeof(sql),
	         "SELECT queue FROM session_view WHERE sid = '%s'", sid);
	CU_ASSERT_EQUAL(raw_int(sql), 2);
	snprintf(sql, sizeof(sql),
	         "SELECT created FROM session_view WHERE sid = '%s'", sid);
	CU_ASSERT_EQUAL(raw(sql, buf, sizeof(buf)), SQLITE_OK);
	CU_ASSERT_STRING_EQUAL(buf, "2023-11-14T22:13:20.000Z");
	snprintf(sql, sizeof(sql),
	         "SELECT endpoints FROM session_view WHERE sid = '%s'", sid);
	CU_ASSERT_EQUAL(raw(sql, buf, sizeof(buf)), SQLITE_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "/chat"));
	snprintf(sql, sizeof(sql),
	         "SELECT depth FROM queue_view WHERE sid = '%s'", sid);
	CU_ASSERT_EQUAL(raw_int(sql), 2);
	CU_ASSERT_EQUAL(
	    raw_int("SELECT count(*) FROM outbox_view"
	            " WHERE created LIKE '____-__-__T__:__:__.___Z'"),
	    2);
	CU_ASSERT_EQUAL(raw("SELECT * FROM session_view", NULL, 0), SQLITE_OK);
}

/* --- transactions ------------------------------------------------------- */

/* --- several processes --------------------------------------------------- */

/* Starts helper_store with argv; its stdin is barrier, its stdout out (or
 * ours when -1). Both pipes are close-on-exec, so the child holds only
 * what dup2 gave it. */
static pid_t
spawn(char *const argv[], int barrier, int out)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	if (dup2(barrier, 0) < 0 || (out >= 0 && dup2(out, 1) < 0))
		_exit(126);
	execv(argv[0], argv);
	_exit(127);
}

static int
wait_ok(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Checks that packets "prefix:0".."prefix:k-1" appear in order in c (with
 * other packets between them); returns k. */
static long
prefix_run(const struct pkts *c, const char *prefix)
{
	size_t i, len = strlen(prefix);
	long next = 0;

	for (i = 0; i < c->n; i++) {
		if (strncmp(c->p[i], prefix, len) != 0 || c->p[i][len] != ':')
			continue;
		if (atol(c->p[i] + len + 1) != next)
			return -1;
		next++;
	}
	return next;
}

static void
test_concurrent_writers(void)
{
	char *helper = cu_helper("store"), sid[SIO_SID_LEN + 1];
	char *a[] = {helper, "append", dbpath, sid, "A", "10000", NULL};
	char *b[] = {helper, "append", dbpath, sid, "B", "10000", NULL};
	struct pkts c = {0};
	long long last;
	pid_t pa, pb;
	int barrier[2];

	CU_ASSERT_EQUAL_FATAL(access(helper, X_OK), 0);
	new_session(sid);
	CU_ASSERT_EQUAL_FATAL(pipe2(barrier, O_CLOEXEC), 0);
	pa = spawn(a, barrier[0], -1);
	pb = spawn(b, barrier[0], -1);
	close(barrier[0]);
	close(barrier[1]); /* go */
	CU_ASSERT(wait_ok(pa));
	CU_ASSERT(wait_ok(pb));
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 20000);
	CU_ASSERT_EQUAL(peek(sid, 30000, &c, &last), 20000);
	CU_ASSERT_EQUAL(prefix_run(&c, "A"), 10000);
	CU_ASSERT_EQUAL(prefix_run(&c, "B"), 10000);
	free(c.p);
	free(helper);
}

/* Polls until sid has at least n packets; 0 after 60 s. */
static int
wait_count(const char *sid, int n)
{
	long long deadline = cu_now_ms() + 60000;
	struct timespec ms = {0, 1000000};

	while (sio_store_outbox_count(st, sid) < n) {
		if (cu_now_ms() > deadline)
			return 0;
		nanosleep(&ms, NULL);
	}
	return 1;
}

static void
test_killed_writer(void)
{
	char *helper = cu_helper("store"), sid[SIO_SID_LEN + 1], buf[64];
	char *argv[] = {helper, "append", dbpath, sid, "K", "0", NULL};
	struct pkts c = {0};
	long long last;
	int barrier[2], status, seen, n;
	pid_t pid;

	CU_ASSERT_EQUAL_FATAL(access(helper, X_OK), 0);
	new_session(sid);
	CU_ASSERT_EQUAL_FATAL(pipe2(barrier, O_CLOEXEC), 0);
	pid = spawn(argv, barrier[0], -1);
	close(barrier[0]);
	close(barrier[1]);
	seen = wait_count(sid, 500);
	CU_ASSERT(seen);
	n = sio_store_outbox_count(st, sid);
	kill(pid, SIGKILL);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CU_ASSERT_EQUAL(raw("PRAGMA integrity_check", buf, sizeof(buf)),
	                SQLITE_OK);
	CU_ASSERT_STRING_EQUAL(buf, "ok");
	CU_ASSERT(peek(sid, 1 << 30, &c, &last) >= n);
	CU_ASSERT_EQUAL(prefix_run(&c, "K"), (long)c.n);
	/* the store still takes writes */
	put(sid, "3:::after");
	free(c.p);
	free(helper);
}

/* Runs n helpers racing to end one session; returns how many claimed it
 * (-1 when a helper failed). */
static int
race_end(int n)
{
	char *helper = cu_helper("store"), sid[SIO_SID_LEN + 1], out[512];
	char *argv[] = {helper, "end", dbpath, sid, NULL};
	int barrier[2], pipefd[2], i, claimed = 0, failed = 0;
	pid_t pids[4];
	size_t len = 0;
	ssize_t r;
	char *p;

	new_session(sid);
	CU_ASSERT_EQUAL_FATAL(pipe2(barrier, O_CLOEXEC), 0);
	CU_ASSERT_EQUAL_FATAL(pipe2(pipefd, O_CLOEXEC), 0);
	for (i = 0; i < n; i++)
		pids[i] = spawn(argv, barrier[0], pipefd[1]);
	close(barrier[0]);
	close(pipefd[1]);
	close(barrier[1]);
	while ((r = read(pipefd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = '\0';
	close(pipefd[0]);
	for (i = 0; i < n; i++)
		failed += !wait_ok(pids[i]);
	for (p = out; (p = strstr(p, "claimed")) != NULL; p++)
		claimed += p == out || p[-1] == '\n';
	free(helper);
	return failed ? -1 : claimed;
}

static void
test_end_race(void)
{
	int n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	for (n = 2; n <= 4; n++)
		CU_ASSERT_EQUAL(race_end(n), 1);
}

/* Counts sessions from another process, the sqlite3 shell. */
static int
shell_count(void)
{
	char *cmd, line[32] = "";
	FILE *f;

	if (asprintf(&cmd, "sqlite3 '%s' 'SELECT count(*) FROM sessions'",
	             dbpath) < 0)
		return -1;
	f = popen(cmd, "r");
	free(cmd);
	if (f == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	pclose(f);
	return line[0] ? atoi(line) : -1;
}

/*
 * A second connection opened in the same process must not drop the locks
 * of the first: otherwise the next process to close the database deletes
 * the WAL, and the first connection's later writes are lost to everyone.
 */
static void
test_second_connection_keeps_the_first_ones_locks(void)
{
	struct sio_store *st2;
	char sid[SIO_SID_LEN + 1];

	CU_ASSERT_EQUAL(sio_store_session_new(st, NULL, T0, sid), SIO_OK);
	st2 = open_store(dbpath, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st2);
	CU_ASSERT_EQUAL(shell_count(), 1);
	CU_ASSERT_EQUAL(sio_store_session_new(st, NULL, T0, sid), SIO_OK);
	CU_ASSERT_EQUAL(shell_count(), 2);
	CU_ASSERT_EQUAL(sio_store_session_new(st2, NULL, T0, sid), SIO_OK);
	CU_ASSERT_EQUAL(shell_count(), 3);
	sio_store_close(st2);
}

static int
count_cb(void *udata, const char *pkt, size_t len)
{
	(void)pkt;
	(void)len;
	++*(int *)udata;
	return SIO_OK;
}

/* A packet being written by one request is not sent again by the next,
 * nor overtaken by what follows it; a writer's own taken packets do not
 * hold it back. */
static void
test_taken_packets_go_to_one_writer(void)
{
	char sid[SIO_SID_LEN + 1];
	int n = 0;

	new_session(sid);
	put(sid, "3:::a");
	put(sid, "3:::b");
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw", 1, count_cb, &n), 2);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(st), 0);
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw", 2, count_cb, &n), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(st), 1);
	put(sid, "3:::c");
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw", 2, count_cb, &n), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(st), 1);
	/* the first writer, past its own packets */
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw", 1, count_cb, &n), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(st), 0);
	/* it wrote them; the next one gets nothing new before it is done */
	put(sid, "3:::d");
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw", 2, count_cb, &n), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, sid, "gw", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 1);
	n = 0;
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw", 2, count_cb, &n), 1);
	/* the second failed: handed back, d goes to the next */
	CU_ASSERT_EQUAL(sio_store_outbox_release(st, sid, "gw", 2), SIO_OK);
	n = 0;
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw", 3, count_cb, &n), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, sid, "gw", 3), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 0);
}

/* Reopens st with a run directory: the store then queues doorbells. */
static void
reopen_with_bells(void)
{
	struct sio_store_opts opts = {.synchronous = SIO_SYNC_NORMAL,
	                              .run_dir = tmp};
	char err[SIO_ERR_LEN];

	sio_store_close(st);
	st = sio_store_open(dbpath, &opts, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
}

static void
sids_cb(void *udata, const char *sid)
{
	char *got = udata;
	size_t n = strlen(got);

	snprintf(got + n, 256 - n, "%s;", sid);
}

/*
 * A holder in another pid namespace dies while writing: the packets it
 * took stay taken until its lease lapses. The session's next holder gets
 * nothing before that (not the packet queued after them), is rung when
 * the reaper hands them back, and then gets them all, in order.
 */
static void
test_taken_packets_hold_back_the_next_holder(void)
{
	char sid[SIO_SID_LEN + 1], want[64], got[256] = "";
	struct pkts c = {0};
	long long last;
	int n = 0, changed;

	reopen_with_bells();
	new_session(sid);
	snprintf(want, sizeof(want), "%s;", sid);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "wsd-a", 4242, T0),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "wsd-b", 4243, T0),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_session_attach(st, sid, SIO_TRANSPORT_WEBSOCKET,
	                                   "wsd-a", 1, T0, &changed),
	                SIO_OK);
	put(sid, "3:::1");
	put(sid, "3:::2");
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "wsd-a", 1, count_cb, &n),
	    2);
	/* wsd-a stops here, without done or release */
	put(sid, "3:::3");
	CU_ASSERT_EQUAL(
	    attach(sid, SIO_TRANSPORT_XHR_POLLING, "wsd-b", 1, &changed),
	    SIO_OK);
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "wsd-b", 1, collect, &c), 0);
	CU_ASSERT_EQUAL(c.n, 0);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(st), 1);
	CU_ASSERT_EQUAL(peek(sid, 10, &c, &last), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_ready(st, "wsd-b", T0, sids_cb, got),
	                0);
	/* wsd-b renews its lease, wsd-a does not */
	CU_ASSERT_EQUAL(sio_store_process_renew(st, "wsd-b", T0 + 9000),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_session_reap(st, T0 + 9999, 10000), 0);
	c.n = 0;
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "wsd-b", 1, collect, &c), 0);
	/* the reaper hands them back and rings the holder */
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_reap(st, T0 + 10001, 10000), 1);
	sio_store_bells_take(st, "wsd-b", sids_cb, got);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(got, want);
	got[0] = '\0';
	CU_ASSERT_EQUAL(sio_store_outbox_ready(st, "wsd-b", T0, sids_cb, got),
	                1);
	CU_ASSERT_STRING_EQUAL(got, want);
	c.n = 0;
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "wsd-b", 1, collect, &c), 3);
	CU_ASSERT_EQUAL(sio_store_outbox_blocked(st), 0);
	CU_ASSERT_EQUAL_FATAL(c.n, 3);
	CU_ASSERT_STRING_EQUAL(c.p[0], "3:::1");
	CU_ASSERT_STRING_EQUAL(c.p[1], "3:::2");
	CU_ASSERT_STRING_EQUAL(c.p[2], "3:::3");
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, sid, "wsd-b", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 0);
	free(c.p);
}

/* A writer that is not the session's holder (the request before, the
 * superseded websocket) rings the holder when it is done, and what
 * waited behind its packets goes out; a process that unregisters, and
 * the sweep that finds a taker gone, ring it too. */
static void
test_other_writers_end_rings_the_holder(void)
{
	char sid[SIO_SID_LEN + 1], want[64], got[256] = "";
	char sids[2][SIO_SID_LEN + 1];
	int n = 0, changed;

	reopen_with_bells();
	new_session(sid);
	snprintf(want, sizeof(want), "%s;", sid);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "gw-1", 1, T0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "gw-2", 2, T0), SIO_OK);
	CU_ASSERT_EQUAL(
	    attach(sid, SIO_TRANSPORT_XHR_POLLING, "gw-1", 1, &changed),
	    SIO_OK);
	put(sid, "3:::a");
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw-1", 1, count_cb, &n), 1);
	CU_ASSERT_EQUAL(
	    attach(sid, SIO_TRANSPORT_XHR_POLLING, "gw-1", 2, &changed),
	    SIO_OK);
	put(sid, "3:::b");
	/* its own done rings nobody; another's done rings the holder */
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw-1", 2, count_cb, &n), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, sid, "gw-1", 1), SIO_OK);
	sio_store_bells_take(st, "gw-1", sids_cb, got);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(got, want);
	got[0] = '\0';
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw-1", 2, count_cb, &n), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, sid, "gw-1", 2), SIO_OK);
	sio_store_bells_take(st, "gw-1", sids_cb, got);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(got, "");
	/* a taker that unregisters */
	put(sid, "3:::c");
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw-2", 1, count_cb, &n), 1);
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_unregister(st, "gw-2", T0), SIO_OK);
	sio_store_bells_take(st, "gw-1", sids_cb, got);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(got, want);
	got[0] = '\0';
	/* a taker with no process row, found by the sweep */
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "cgi-3", 1, count_cb, &n),
	    1);
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw-1", 2, count_cb, &n), 0);
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sweep(sids, 2), 0);
	sio_store_bells_take(st, "gw-1", sids_cb, got);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(got, want);
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw-1", 2, count_cb, &n), 1);
}

/* Queues a row with raw SQL, as the sqlite3 shell would: packet is an SQL
 * expression. */
static void
raw_put(const char *sid, const char *packet)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
	         "INSERT INTO outbox (sid, packet, created)"
	         " VALUES ('%s', %s, 0)",
	         sid, packet);
	CU_ASSERT_EQUAL(raw(sql, NULL, 0), SQLITE_OK);
}

/* Rows no transport can write (not UTF-8, empty), queued with SQL by
 * something else, are skipped by every read and deleted by the take that
 * meets them; what follows them is delivered. */
static void
test_outbox_drops_unwritable_rows(void)
{
	char sid[SIO_SID_LEN + 1];
	struct pkts c = {0};
	long long last;
	int n = 0;

	new_session(sid);
	put(sid, "3:::a");
	raw_put(sid, "CAST(X'ff' AS TEXT)");
	raw_put(sid, "''");
	put(sid, "3:::b");
	raw_put(sid, "CAST(X'333a3a3ac3' AS TEXT)"); /* cut mid-character */
	raw_put(sid, "X'333a3a3aff'");               /* a blob, not UTF-8 */
	put(sid, "3:::c");
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 7);
	CU_ASSERT_EQUAL(peek(sid, 10, &c, &last), 3);
	CU_ASSERT_EQUAL(c.n, 3);
	if (c.n == 3) {
		CU_ASSERT_STRING_EQUAL(c.p[0], "3:::a");
		CU_ASSERT_STRING_EQUAL(c.p[1], "3:::b");
		CU_ASSERT_STRING_EQUAL(c.p[2], "3:::c");
	}
	/* a read deletes nothing */
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 7);
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 2, "gw", 1, count_cb, &n), 2);
	CU_ASSERT_EQUAL(sio_store_outbox_dropped(st), 2);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, sid, "gw", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 3);
	/* two bad rows at the head do not hide the packet behind them */
	CU_ASSERT_EQUAL(peek(sid, 1, &c, &last), 1);
	CU_ASSERT_EQUAL(c.n, 1);
	if (c.n == 1)
		CU_ASSERT_STRING_EQUAL(c.p[0], "3:::c");
	n = 0;
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw", 2, count_cb, &n), 1);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(sio_store_outbox_dropped(st), 2);
	CU_ASSERT_EQUAL(sio_store_outbox_done(st, sid, "gw", 2), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 0);
	/* only bad rows: the take passes none and deletes them */
	raw_put(sid, "''");
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "gw", 3, count_cb, &n), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_dropped(st), 1);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st, sid), 0);
	free(c.p);
}

/* A holder killed without unregistering: its sessions detach and what it
 * was writing goes to the next transport. */
/* A holder killed without unregistering: once its lease lapses, its
 * sessions detach and what it was writing goes to the next transport. */
static void
test_reap_frees_what_a_dead_process_held(void)
{
	char sid[SIO_SID_LEN + 1], state[32];
	int n = 0, changed;

	new_session(sid);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "dead", 4242, T0),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "alive", 4243, T0),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_session_attach(st, sid, SIO_TRANSPORT_WEBSOCKET,
	                                   "dead", 1, T0, &changed),
	                SIO_OK);
	put(sid, "3:::a");
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "dead", 1, count_cb, &n), 1);
	/* "alive" renews; "dead" stopped at T0 */
	CU_ASSERT_EQUAL(sio_store_process_renew(st, "alive", T0 + 9000),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_session_reap(st, T0 + 9999, 10000), 0);
	raw("SELECT state FROM sessions", state, sizeof(state));
	CU_ASSERT_STRING_EQUAL(state, "open"); /* a lease not yet lapsed */
	CU_ASSERT_EQUAL(sio_session_reap(st, T0 + 10001, 10000), 1);
	CU_ASSERT_EQUAL(sio_session_reap(st, T0 + 10001, 10000), 0);
	CU_ASSERT_EQUAL(raw_int("SELECT count(*) FROM processes"), 1);
	raw("SELECT state FROM sessions", state, sizeof(state));
	CU_ASSERT_STRING_EQUAL(state, "detached");
	n = 0;
	CU_ASSERT_EQUAL(
	    sio_store_outbox_take(st, sid, T0, 10, "alive", 1, count_cb, &n),
	    1);
	/* the reaped process finds out at its next renewal */
	CU_ASSERT_EQUAL(sio_store_process_renew(st, "dead", T0 + 11000),
	                SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_process_renew(st, "alive", T0 + 11000),
	                SIO_OK);
}

/* The pid is no proof of life: a row whose pid is a live process (this
 * one: the kernel gave the dead holder's pid to another program) is
 * reaped once its lease lapses. */
static void
test_reap_ignores_a_live_pid(void)
{
	char sid[SIO_SID_LEN + 1], state[32];
	int changed;

	new_session(sid);
	CU_ASSERT_EQUAL(
	    sio_store_process_register(st, "reused", (int)getpid(), T0),
	    SIO_OK);
	CU_ASSERT_EQUAL(sio_session_attach(st, sid, SIO_TRANSPORT_WEBSOCKET,
	                                   "reused", 1, T0, &changed),
	                SIO_OK);
	CU_ASSERT_EQUAL(kill(getpid(), 0), 0);
	CU_ASSERT_EQUAL(sio_session_reap(st, T0 + 60000, 10000), 1);
	CU_ASSERT_EQUAL(raw_int("SELECT count(*) FROM processes"), 0);
	raw("SELECT state FROM sessions", state, sizeof(state));
	CU_ASSERT_STRING_EQUAL(state, "detached");
}

/* In the reaper's own pid space the pid is seen with its start time: a
 * process that is gone, or a pid given to another program, is reaped at
 * once; a live one waits for its lease. */
static void
test_reap_sees_its_own_pid_space(void)
{
	char sql[256], names[64];
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	CU_ASSERT_FATAL(pid > 0);
	waitpid(pid, NULL, 0);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "me", (int)getpid(), T0),
	                SIO_OK);
	CU_ASSERT_EQUAL(raw_int("SELECT pid_space IS NOT NULL AND pid_start > 0"
	                        " FROM processes"),
	                1);
	/* a copy of this process's row under a pid that is gone */
	snprintf(sql, sizeof(sql),
	         "INSERT INTO processes SELECT 'gone', %d, started, renewed,"
	         " pid_space, pid_start FROM processes WHERE name = 'me'",
	         (int)pid);
	CU_ASSERT_EQUAL(raw(sql, NULL, 0), SQLITE_OK);
	/* this pid, but a process that started at another time */
	CU_ASSERT_EQUAL(raw("INSERT INTO processes SELECT 'reused', pid,"
	                    " started, renewed, pid_space, pid_start + 1"
	                    " FROM processes WHERE name = 'me'",
	                    NULL, 0),
	                SQLITE_OK);
	/* another pid space: only the lease */
	snprintf(sql, sizeof(sql),
	         "INSERT INTO processes SELECT 'elsewhere', %d, started,"
	         " renewed, 'other-boot/1:2', pid_start FROM processes"
	         " WHERE name = 'me'",
	         (int)pid);
	CU_ASSERT_EQUAL(raw(sql, NULL, 0), SQLITE_OK);
	CU_ASSERT_EQUAL(sio_session_reap(st, T0, 10000), 2);
	raw("SELECT group_concat(name, ' ') FROM"
	    " (SELECT name FROM processes ORDER BY name)",
	    names, sizeof(names));
	CU_ASSERT_STRING_EQUAL(names, "elsewhere me");
	CU_ASSERT_EQUAL(sio_session_reap(st, T0 + 10001, 10000), 2);
}

/* Two processes with one pid (each pid 1 in its own pid namespace) get
 * names of their own: unregistering one leaves the other's sessions. */
static void
test_process_names_are_incarnations(void)
{
	char a[SIO_HOLDER_LEN], b[SIO_HOLDER_LEN], sid[SIO_SID_LEN + 1];
	char state[32], want[SIO_HOLDER_LEN + 64];
	int changed;

	CU_ASSERT_EQUAL_FATAL(sio_store_process_new(st, "wsd", 1, T0, a),
	                      SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_process_new(st, "wsd", 1, T0, b),
	                      SIO_OK);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
	for (const char *n = a; n != NULL; n = n == a ? b : NULL) {
		/* wsd-<host>-1-<8 hex>: the host's letters and digits */
		const char *tail = strstr(n, "-1-");
		unsigned hex;
		int end = 0;
		CU_ASSERT_EQUAL(strncmp(n, "wsd-", 4), 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(tail);
		CU_ASSERT(tail - n > 4 && tail - n <= 4 + 20);
		for (const char *h = n + 4; h < tail; h++)
			CU_ASSERT(isalnum((unsigned char)*h));
		CU_ASSERT_EQUAL(sscanf(tail, "-1-%8x%n", &hex, &end), 1);
		CU_ASSERT_EQUAL(end, 11);
		CU_ASSERT_EQUAL(strlen(tail), 11);
	}
	CU_ASSERT_EQUAL(raw_int("SELECT count(*) FROM processes WHERE pid = 1"),
	                2);
	/* a name is never taken over */
	CU_ASSERT_EQUAL(sio_store_process_register(st, a, 7, T0), SIO_FULL);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "a/b", 7, T0), SIO_ERR);
	new_session(sid);
	CU_ASSERT_EQUAL(sio_session_attach(st, sid, SIO_TRANSPORT_WEBSOCKET, a,
	                                   1, T0, &changed),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_session_unregister(st, b, T0 + 1), SIO_OK);
	raw("SELECT state FROM sessions", state, sizeof(state));
	CU_ASSERT_STRING_EQUAL(state, "open");
	snprintf(want, sizeof(want),
	         "SELECT count(*) FROM sessions WHERE"
	         " holder = '%s'",
	         a);
	CU_ASSERT_EQUAL(raw_int(want), 1);
}

/* A reaped process's doorbell file goes after the commit; a file of the
 * same name that is not a socket stays. */
static void
test_reap_removes_the_doorbell(void)
{
	struct sio_store_opts opts = {.synchronous = SIO_SYNC_NORMAL,
	                              .run_dir = tmp};
	char err[SIO_ERR_LEN], *bell = NULL, *other = NULL;
	struct sio_doorbell *d;
	struct stat sb;
	int fd;

	sio_store_close(st);
	st = sio_store_open(dbpath, &opts, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	d = sio_doorbell_open(tmp, "gone", 0, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_FATAL(asprintf(&bell, "%s/gone.bell", tmp) > 0);
	CU_ASSERT_FATAL(asprintf(&other, "%s/plain.bell", tmp) > 0);
	fd = open(other, O_CREAT | O_WRONLY, 0600);
	CU_ASSERT(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "gone", 1, T0), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "plain", 1, T0), SIO_OK);
	CU_ASSERT_EQUAL(stat(bell, &sb), 0);
	CU_ASSERT_EQUAL(sio_session_reap(st, T0 + 20000, 10000), 2);
	CU_ASSERT_EQUAL(stat(bell, &sb), -1);
	CU_ASSERT_EQUAL(stat(other, &sb), 0);
	sio_doorbell_close(d);
	free(bell);
	free(other);
}

static const struct cu_test tests[] = {
    {"taken packets go to one writer until done or released",
     test_taken_packets_go_to_one_writer},
    {"store outbox skips rows that are not UTF-8 or empty, the take deletes "
     "them",
     test_outbox_drops_unwritable_rows},
    {"reap frees what a dead process held",
     test_reap_frees_what_a_dead_process_held},
    {"reap ignores a live pid: a lapsed lease is reaped",
     test_reap_ignores_a_live_pid},
    {"reap sees its own pid space: a pid gone or given again is reaped",
     test_reap_sees_its_own_pid_space},
    {"processes with one pid register under names of their own",
     test_process_names_are_incarnations},
    {"reap removes the doorbell file, and only a socket",
     test_reap_removes_the_doorbell},
    {"packets another holder took hold back the next holder until it is "
     "reaped, then go out in order",
     test_taken_packets_hold_back_the_next_holder},
    {"the end of another writer's packets rings the session's holder",
     test_other_writers_end_rings_the_holder},
    {"a second connection in one process keeps the first one's locks",
     test_second_connection_keeps_the_first_ones_locks},
    {"open applies the schema and sets user_version", test_schema_applied},
    {"the sweeps read only what is due", test_sweeps_read_only_what_is_due},
    {"maintain's RESTART checkpoint gives way to readers, then starts the"
     " WAL over",
     test_maintain_restarts_wal},
    {"reopening an up-to-date database changes nothing and takes no lock",
     test_reopen_is_noop},
    {"a database from a newer build is refused", test_newer_schema_refused},
    {"the database files are created 0600, or 0660 when shared",
     test_file_mode},
    {"the journal mode is WAL", test_wal_mode},
    {"an open connection keeps only the statements it used",
     test_open_connection_memory},
    {"a new database has 2 KiB pages, an old one keeps its size",
     test_page_size},
    {"CHECK constraints reject a bad state or transport",
     test_check_constraints},
    {"session ids are 22 base64url characters, unique over 10,000",
     test_sid_format_and_uniqueness},
    {"a database others can write to or another user's is refused",
     test_unsafe_database},
    {"a database or run_dir under a directory others can write, or "
     "through another user's link, is refused",
     test_unsafe_database_path},
    {"the sweep gives the pages of deleted sessions back",
     test_cleanup_gives_space_back},
    {"version 8 fills the address and switches to incremental auto_vacuum",
     test_version8_upgrade},
    {"version 9 marks the 1:: of attached sessions written",
     test_version9_upgrade},
    {"version 10 adds the bridge's queue and its view", test_version10_upgrade},
    {"unregister detaches what the process held", test_unregister_detaches},
    {"endpoints list in connect order with the root last", test_endpoints},
    {"active sessions, connections and their peaks follow every change",
     test_active_counts},
    {"version 5 counts the active sessions of an older database",
     test_active_counts_upgrade},
    {"each session's queue depth is kept with its rows", test_queue_counts},
    {"version 6 counts the queues of an older database",
     test_queue_counts_upgrade},
    {"a broadcast and a sweep cost the same with full queues",
     test_costs_do_not_follow_queue_depth},
    {"a step of the wall clock moves the stored times once",
     test_clock_step_moves_stored_times},
    {"deferred counters are flushed after the clock went back",
     test_counters_flush_after_clock_back},
    {"the views show ISO times and queue depths", test_views},
    {"two processes appending at once keep every packet in order",
     test_concurrent_writers},
    {"a writer killed mid-stream leaves every committed packet intact",
     test_killed_writer},
    {"processes racing to end a session claim it exactly once", test_end_race},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("store", tests, setup, teardown);
}
