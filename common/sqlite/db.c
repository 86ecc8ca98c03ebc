/*
 * db.c: the SQLite backend's connection: opening (file mode, pragmas, the
 * busy handler), the schema and its migrations (schema/schema.sql,
 * compiled in as schema.inc), the statements and their helpers, and the
 * transactions and savepoints the front drives. Writes run in BEGIN
 * IMMEDIATE transactions.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "perm.h"
#include "result.h"
#include "sqlite.h"

static const char schema_sql[] =
#include "schema.inc"
    ;

/* A WAL that starts over is cut back to this (bytes): a burst of writes
 * does not leave a large file behind. */
#define STORE_WAL_KEEP "4194304"
/* The page size of a new database (bytes); see sqlite_configure(). */
#define STORE_PAGE_SIZE "2048"

const char *const sqlite_db_sql[SQL_NSTMT] = {
    [SQL_BEGIN] = "BEGIN IMMEDIATE",
    [SQL_BEGIN_READ] = "BEGIN DEFERRED",
    [SQL_COMMIT] = "COMMIT",
    [SQL_ROLLBACK] = "ROLLBACK",
    [SQL_SAVEPOINT] = "SAVEPOINT sio",
    [SQL_ROLLBACK_TO] = "ROLLBACK TO sio",
    [SQL_RELEASE] = "RELEASE sio",
    /* changes nothing, but a write statement takes the write lock */
    [SQL_UPGRADE] = "UPDATE sessions SET state = state WHERE 0",
};

int
sqlite_sqlfail(struct sio_store *st)
{
	return sio_store_fail(st, "%s", sqlite3_errmsg(SQ(st)->db));
}

/* Each file's statements, in one list. */
static const char *const *const sqlite_tables[] = {
    sqlite_db_sql,      sqlite_wal_sql,    sqlite_session_sql,
    sqlite_timer_sql,   sqlite_outbox_sql, sqlite_data_sql,
    sqlite_process_sql, sqlite_stats_sql,  sqlite_bridge_sql,
};

/* The SQL of statement id, from the table of its file. */
static const char *
sqlite_text(int id)
{
	for (size_t i = 0; i < sizeof(sqlite_tables) / sizeof(*sqlite_tables);
	     i++)
		if (sqlite_tables[i][id] != NULL)
			return sqlite_tables[i][id];
	return NULL;
}

/* Compiles statement id; SIO_OK or SIO_ERR. */
static int
sqlite_prepare(struct sio_store *st, int id)
{
	const char *sql = sqlite_text(id);

	assert(sql != NULL);
	if (sqlite3_prepare_v3(SQ(st)->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	                       &SQ(st)->stmt[id], NULL) != SQLITE_OK)
		return sio_store_fail(st, "preparing statement %d: %s", id,
		                      sqlite3_errmsg(SQ(st)->db));
	return SIO_OK;
}

/*
 * Resets statement id (compiled at its first use) and binds its
 * parameters in order: 't' a C string (NULL binds NULL), 'b' a string and
 * its size_t length, 'i' a long long. Returns the statement, or NULL with
 * the error recorded.
 */
sqlite3_stmt *
sqlite_prep(struct sio_store *st, enum sqlite_sql id, const char *types, ...)
{
	sqlite3_stmt *s;
	const char *t;
	va_list ap;
	size_t len;
	int i, rc = SQLITE_OK;

	if (SQ(st)->stmt[id] == NULL && sqlite_prepare(st, id) != SIO_OK)
		return NULL;
	s = SQ(st)->stmt[id];
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	va_start(ap, types);
	for (i = 0; types[i] != '\0' && rc == SQLITE_OK; i++) {
		switch (types[i]) {
		case 't':
			t = va_arg(ap, const char *);
			rc = t ? sqlite3_bind_text(s, i + 1, t, -1,
			                           SQLITE_STATIC)
			       : sqlite3_bind_null(s, i + 1);
			break;
		case 'b':
			t = va_arg(ap, const char *);
			len = va_arg(ap, size_t);
			rc = sqlite3_bind_text64(s, i + 1, t, len,
			                         SQLITE_STATIC, SQLITE_UTF8);
			break;
		case 'i':
			rc =
			    sqlite3_bind_int64(s, i + 1, va_arg(ap, long long));
			break;
		default:
			assert(!"bad bind type");
		}
	}
	va_end(ap);
	if (rc != SQLITE_OK) {
		sqlite_sqlfail(st);
		return NULL;
	}
	return s;
}

/* Steps s; on failure records the error and resets. SQLITE_ROW,
 * SQLITE_DONE, or SQLITE_ERROR. */
int
sqlite_step(struct sio_store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	sqlite_sqlfail(st);
	sqlite3_reset(s);
	return SQLITE_ERROR;
}

/* Runs a prepared write (or s NULL after a failed sqlite_prep) to its end. */
int
sqlite_run(struct sio_store *st, sqlite3_stmt *s)
{
	int rc;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = sqlite_step(st, s)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		return SIO_ERR;
	sqlite3_reset(s);
	return SIO_OK;
}

/* Reads column 0 of the first row as an integer: SIO_OK, SIO_ABSENT when
 * there is no row, SIO_ERR. */
int
sqlite_one(struct sio_store *st, sqlite3_stmt *s, long long *out)
{
	int rc;

	if (s == NULL)
		return SIO_ERR;
	rc = sqlite_step(st, s);
	if (rc == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? SIO_OK : SIO_ABSENT;
}

/* Copies a text column, NULL staying NULL; *failed set when out of memory. */
char *
sqlite_column_dup(sqlite3_stmt *s, int col, int *failed)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	char *p;

	if (t == NULL)
		return NULL;
	p = strdup((const char *)t);
	if (p == NULL)
		*failed = 1;
	return p;
}

/* Runs one write statement in a transaction of its own when needed. */
int
sqlite_write(struct sio_store *st, sqlite3_stmt *s)
{
	int own, rc;

	if (s == NULL)
		return SIO_ERR;
	if (sio_store_tx_begin(st, &own) != SIO_OK) {
		sqlite3_reset(s);
		return SIO_ERR;
	}
	rc = sqlite_run(st, s);
	return sio_store_tx_end(st, own, rc);
}

/* Queues a ring for the holder in column 1 of every row of s (sid in
 * column 0). */
int
sqlite_ring_rows(struct sio_store *st, sqlite3_stmt *s)
{
	int rc;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = sqlite_step(st, s)) == SQLITE_ROW)
		sio_store_bell(st, (const char *)sqlite3_column_text(s, 1),
		               (const char *)sqlite3_column_text(s, 0));
	if (rc == SQLITE_ERROR)
		return SIO_ERR;
	sqlite3_reset(s);
	return SIO_OK;
}

int
sqlite_state(sqlite3_stmt *s, int col)
{
	int state =
	    sio_store_state_parse((const char *)sqlite3_column_text(s, col));

	return state < 0 ? SIO_SESSION_CLOSED : state;
}

int
sqlite_transport(sqlite3_stmt *s, int col)
{
	return sio_store_transport_parse(
	    (const char *)sqlite3_column_text(s, col));
}

/*
 * The listings are rare (an operator's command), so their statements are
 * prepared per call rather than kept with the hot ones. Prepares sql and
 * binds sid (may be NULL) to ?1 when the statement has a parameter.
 */
sqlite3_stmt *
sqlite_adhoc(struct sio_store *st, const char *sql, const char *sid)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(SQ(st)->db, sql, -1, &s, NULL) != SQLITE_OK) {
		sqlite_sqlfail(st);
		return NULL;
	}
	if (sqlite3_bind_parameter_count(s) > 0 &&
	    (sid ? sqlite3_bind_text(s, 1, sid, -1, SQLITE_STATIC)
	         : sqlite3_bind_null(s, 1)) != SQLITE_OK) {
		sqlite_sqlfail(st);
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

/* Finalizes an adhoc statement after stepping ended with rc; returns n
 * when the rows ran out, SIO_ERR when a step failed. */
int
sqlite_adhoc_end(struct sio_store *st, sqlite3_stmt *s, int rc, int n)
{
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		sqlite_sqlfail(st);
		n = SIO_ERR;
	}
	sqlite3_finalize(s);
	return n;
}

/*
 * Creates the file with mode before SQLite does, so that SQLite's -wal and
 * -shm files copy that mode too. An existing file is never opened here:
 * closing any descriptor of a file drops every POSIX lock this process
 * holds on it, the locks of SQLite connections in other threads included,
 * and another process would then checkpoint and delete the WAL under them.
 */
static int
sqlite_create(const char *path, mode_t mode, char *err)
{
	struct stat sb;
	int fd;

	if (path[0] == '\0' || strcmp(path, ":memory:") == 0)
		return SIO_OK;
	/* the file and its directory, where the -wal and -shm go */
	if (sio_perm_path_safe(
	        "database", path,
	        SIO_PERM_MISSING | (mode & 0060 ? SIO_PERM_SHARED : 0),
	        "another user could forge and read sessions", err) != SIO_OK)
		return SIO_ERR;
	if (stat(path, &sb) == 0) {
		/* umask may have taken bits away; leave files of others alone
		 */
		if (sb.st_uid == geteuid() && (sb.st_mode & 0777) != mode &&
		    chmod(path, mode) < 0)
			goto err;
		return SIO_OK;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		if (errno == EEXIST) /* created by someone else just now */
			return SIO_OK;
		goto err;
	}
	if (fchmod(fd, mode) < 0) {
		close(fd);
		goto err;
	}
	close(fd);
	return SIO_OK;
err:
	sio_err(err, "%s: %s", path, strerror(errno));
	return SIO_ERR;
}

int
sqlite_exec(struct sio_store *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(SQ(st)->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return SIO_OK;
	sio_store_fail(st, "%s", msg ? msg : sqlite3_errmsg(SQ(st)->db));
	sqlite3_free(msg);
	return SIO_ERR;
}

/* Runs a pragma (or any one statement) once, reading the first column of
 * its first row into buf when there is one. */
int
sqlite_pragma(struct sio_store *st, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt *s;
	const unsigned char *t;
	int rc;

	if (sqlite3_prepare_v2(SQ(st)->db, sql, -1, &s, NULL) != SQLITE_OK)
		return sqlite_sqlfail(st);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite_sqlfail(st);
		sqlite3_finalize(s);
		return SIO_ERR;
	}
	if (buf != NULL) {
		t = rc == SQLITE_ROW ? sqlite3_column_text(s, 0) : NULL;
		snprintf(buf, size, "%s", t ? (const char *)t : "");
	}
	sqlite3_finalize(s);
	return SIO_OK;
}

int
sio_store_schema_version(void)
{
	return sio_store_schema_latest(schema_sql);
}

/* The schema version whose migration switches an existing file to
 * incremental auto_vacuum (schema.sql says so). */
#define STORE_VACUUM_VERSION 8

/*
 * An existing file keeps the auto_vacuum mode it was created with until a
 * VACUUM rebuilds it: done once, by the first program that opens it after
 * the upgrade (outside the migration's transaction, which VACUUM cannot
 * run in); a file already incremental costs one pragma.
 */
static int
sqlite_vacuum_mode(struct sio_store *st)
{
	char buf[16];

	if (sqlite_pragma(st, "PRAGMA auto_vacuum", buf, sizeof(buf)) != SIO_OK)
		return SIO_ERR;
	if (atoi(buf) == 2)
		return SIO_OK;
	if (sqlite_exec(st, "PRAGMA auto_vacuum = INCREMENTAL") != SIO_OK ||
	    sqlite_exec(st, "VACUUM") != SIO_OK)
		return SIO_ERR;
	return SIO_OK;
}

/* The file's schema version (PRAGMA user_version) in *have; a version
 * newer than this build's is an error. SIO_OK or SIO_ERR. */
static int
sqlite_user_version(struct sio_store *st, int *have)
{
	char buf[64];
	int want = sio_store_schema_version();

	if (sqlite_pragma(st, "PRAGMA user_version", buf, sizeof(buf)) !=
	    SIO_OK)
		return SIO_ERR;
	*have = atoi(buf);
	if (*have > want)
		return sio_store_fail(
		    st, "schema version %d is newer than this build's %d",
		    *have, want);
	return SIO_OK;
}

/*
 * Brings the schema up to this build's version. An up-to-date file (every
 * open but the first after an upgrade) is only read: the threads of a
 * server opening their connections at once take no write lock. Behind, the
 * migration runs under BEGIN IMMEDIATE, reading the version again there:
 * of processes upgrading at once, one migrates, the others find it done.
 */
static int
sqlite_migrate(struct sio_store *st)
{
	char buf[64];
	int have, want = sio_store_schema_version();

	if (sqlite_user_version(st, &have) != SIO_OK)
		return SIO_ERR;
	if (have == want)
		goto vacuum;
	if (sqlite_exec(st, "BEGIN IMMEDIATE") != SIO_OK)
		return SIO_ERR;
	if (sqlite_user_version(st, &have) != SIO_OK)
		goto err;
	if (sio_store_schema_run(st, schema_sql, have, sqlite_exec) != SIO_OK)
		goto err;
	snprintf(buf, sizeof(buf), "PRAGMA user_version = %d", want);
	if (want > have && sqlite_exec(st, buf) != SIO_OK)
		goto err;
	if (sqlite_exec(st, "COMMIT") != SIO_OK)
		return SIO_ERR;
vacuum:
	/* not fatal: a VACUUM that another process's lock held off is
	 * tried again at the next open */
	if (have > 0 && want >= STORE_VACUUM_VERSION)
		(void)sqlite_vacuum_mode(st);
	return SIO_OK;
err:
	sqlite3_exec(SQ(st)->db, "ROLLBACK", NULL, NULL, NULL);
	return SIO_ERR;
}

/*
 * Waiting for another process's write lock: short sleeps growing from
 * 50 us to 2 ms, up to the busy timeout. SQLite's own handler sleeps
 * 1, 2, 5, 10 ... 100 ms, which puts tens of milliseconds on a packet
 * whose writer holds the lock for a fraction of one.
 */
static int
sqlite_busy(void *udata, int count)
{
	struct sio_store *st = udata;
	struct timespec ts;
	long long now = sio_clock_mono_us(),
	          us = 50LL << (count < 6 ? count : 6);

	if (count == 0)
		SQ(st)->busy_since = now;
	else if (now - SQ(st)->busy_since >= SQ(st)->busy_ms * 1000LL)
		return 0; /* SQLITE_BUSY */
	if (us > 2000)
		us = 2000;
	ts.tv_sec = 0;
	ts.tv_nsec = us * 1000;
	nanosleep(&ts, NULL);
	return 1;
}

static int
sqlite_configure(struct sio_store *st, const struct sio_store_opts *opts)
{
	char buf[64];
	int sync = opts ? (int)opts->synchronous : SIO_SYNC_NORMAL;
	int ms =
	    opts && opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000;

	sqlite3_extended_result_codes(SQ(st)->db, 1);
	SQ(st)->busy_ms = ms;
	if (sqlite3_busy_handler(SQ(st)->db, sqlite_busy, st) != SQLITE_OK)
		return sqlite_sqlfail(st);
	/* A new database gets 2 KiB pages: a commit writes each page it
	 * changed to the WAL whole, and a session's change of state touches
	 * its row and up to three indexes (measured: handshake + connect
	 * about 11 % faster than with 4 KiB pages; rows up to about 2 KB stay
	 * on one page). An existing database keeps its page size (the
	 * pragma does nothing there). */
	if (sqlite_pragma(st, "PRAGMA page_size = " STORE_PAGE_SIZE, NULL, 0) !=
	        SIO_OK ||
	    sqlite_pragma(st, "PRAGMA auto_vacuum", buf, sizeof(buf)) != SIO_OK)
		return SIO_ERR;
	/* likewise only before the first table: a new file gives the pages
	 * of deleted rows back (sio_store_cleanup()). Setting it takes the
	 * write lock: a file that has it already is left alone. */
	if (atoi(buf) != 2 &&
	    sqlite_pragma(st, "PRAGMA auto_vacuum = INCREMENTAL", NULL, 0) !=
	        SIO_OK)
		return SIO_ERR;
	/* On a new (rollback-mode) file, connections switching it to WAL at
	 * once can get SQLITE_BUSY without the busy handler (SQLite's
	 * deadlock avoidance): processes starting together would fail. */
	for (int waited = 0;; waited += 10) {
		if (sqlite_pragma(st, "PRAGMA journal_mode = WAL", buf,
		                  sizeof(buf)) == SIO_OK)
			break;
		if ((sqlite3_errcode(SQ(st)->db) & 0xff) != SQLITE_BUSY ||
		    waited >= ms)
			return SIO_ERR;
		sqlite3_sleep(10);
	}
	if (strcmp(buf, "wal") != 0 && strcmp(buf, "memory") != 0)
		return sio_store_fail(st, "journal_mode is %s, not wal", buf);
	snprintf(buf, sizeof(buf), "PRAGMA synchronous = %d",
	         sync == SIO_SYNC_OFF    ? 0
	         : sync == SIO_SYNC_FULL ? 2
	                                 : 1);
	/* statement journals in memory: on disk, each statement's journal
	 * made the heap shrink and grow again (tens of us per UPDATE) */
	if (sqlite_pragma(st, buf, NULL, 0) != SIO_OK ||
	    sqlite_pragma(st, "PRAGMA temp_store = MEMORY", NULL, 0) !=
	        SIO_OK ||
	    sqlite_pragma(st, "PRAGMA journal_size_limit = " STORE_WAL_KEEP,
	                  NULL, 0) != SIO_OK ||
	    sqlite_pragma(st, "PRAGMA foreign_keys = ON", NULL, 0) != SIO_OK)
		return SIO_ERR;
	return SIO_OK;
}

static int
sqlite_prepare_all(struct sio_store *st)
{
	int i;

	/* Every statement compiles against the schema now, at the open,
	 * not at its first use; each is then kept only once used (a
	 * connection uses a few of them, and all of them took about 280 KB
	 * of each connection's memory: the gateway's pool holds up to 128).
	 * The rollback stays: a failure path must not need to prepare. */
	for (i = 0; i < SQL_NSTMT; i++) {
		if (sqlite_prepare(st, i) != SIO_OK)
			return SIO_ERR;
		if (i != SQL_ROLLBACK) {
			sqlite3_finalize(SQ(st)->stmt[i]);
			SQ(st)->stmt[i] = NULL;
		}
	}
	return SIO_OK;
}

int
sqlite_open(struct sio_store *st, const char *path,
            const struct sio_store_opts *opts, char *err)
{
	mode_t mode = opts && opts->shared_group ? 0660 : 0600;
	struct sqlite_conn *q;

	if (sqlite_create(path, mode, err) != SIO_OK)
		return SIO_ERR;
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		sio_err(err, "out of memory");
		return SIO_ERR;
	}
	st->be = q;
	q->max_queue =
	    opts && opts->max_queue > 0 ? opts->max_queue : SIO_MAX_QUEUE;
	q->role = opts ? opts->role : SIO_STORE_PLAIN;
	q->version = -1;
	if (sqlite3_open_v2(path, &q->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                        SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		sio_store_fail(st, "%s",
		               q->db ? sqlite3_errmsg(q->db) : "out of memory");
		goto err;
	}
	if (sqlite_configure(st, opts) != SIO_OK ||
	    sqlite_migrate(st) != SIO_OK || sqlite_prepare_all(st) != SIO_OK ||
	    sqlite_outbox_functions(st) != SIO_OK ||
	    sqlite_wal_role(st) != SIO_OK)
		goto err;
	return SIO_OK;
err:
	sio_err(err, "%s: %s", path, st->errmsg);
	sqlite_close(st);
	return SIO_ERR;
}

void
sqlite_close(struct sio_store *st)
{
	struct sqlite_conn *q = SQ(st);

	if (q == NULL)
		return;
	for (int i = 0; i < SQL_NSTMT; i++)
		sqlite3_finalize(q->stmt[i]);
	sqlite3_close(q->db);
	free(q);
	st->be = NULL;
}

/* --- transactions --------------------------------------------------------- */

int
sqlite_begin(struct sio_store *st)
{
	return sqlite_run(st, sqlite_prep(st, SQL_BEGIN, ""));
}

/* A read snapshot: BEGIN DEFERRED takes no write lock. */
int
sqlite_read_begin(struct sio_store *st)
{
	if (!sqlite3_get_autocommit(SQ(st)->db))
		return sio_store_fail(st, "a transaction is already open");
	return sqlite_run(st, sqlite_prep(st, SQL_BEGIN_READ, ""));
}

void
sqlite_read_end(struct sio_store *st)
{
	if (!sqlite3_get_autocommit(SQ(st)->db))
		sqlite_run(st, sqlite_prep(st, SQL_COMMIT, ""));
}

/*
 * A read transaction becomes the write transaction at its first write:
 * SQLite refuses at once (SQLITE_BUSY, or SQLITE_BUSY_SNAPSHOT, with no
 * busy handler: waiting could deadlock) when another connection holds the
 * write lock or committed since the snapshot. The read transaction then
 * stays open, and the front ends it and begins anew.
 */
int
sqlite_read_upgrade(struct sio_store *st)
{
	sqlite3_stmt *s = sqlite_prep(st, SQL_UPGRADE, "");
	int rc;

	if (s == NULL)
		return SIO_ERR;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE && sqlite_in_transaction(st) ? SIO_OK
	                                                      : SIO_ERR;
}

int
sqlite_in_transaction(struct sio_store *st)
{
	return !sqlite3_get_autocommit(SQ(st)->db);
}

int
sqlite_commit(struct sio_store *st)
{
	return sqlite_run(st, sqlite_prep(st, SQL_COMMIT, ""));
}

/* Its statement is prepared at the open and kept (sqlite_prepare_all()):
 * a failure path must not need to prepare. */
int
sqlite_rollback(struct sio_store *st)
{
	if (sqlite3_get_autocommit(SQ(st)->db))
		return SIO_OK; /* SQLite may have rolled back on its own */
	return sqlite_run(st, sqlite_prep(st, SQL_ROLLBACK, ""));
}

int
sqlite_savepoint(struct sio_store *st)
{
	return sqlite_run(st, sqlite_prep(st, SQL_SAVEPOINT, ""));
}

int
sqlite_rollback_to(struct sio_store *st)
{
	if (sqlite_run(st, sqlite_prep(st, SQL_ROLLBACK_TO, "")) != SIO_OK)
		return SIO_ERR;
	return sqlite_run(st, sqlite_prep(st, SQL_RELEASE, ""));
}

int
sqlite_release(struct sio_store *st)
{
	return sqlite_run(st, sqlite_prep(st, SQL_RELEASE, ""));
}

const struct sio_store_ops sio_store_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .in_transaction = sqlite_in_transaction,
    .read_begin = sqlite_read_begin,
    .read_end = sqlite_read_end,
    .read_upgrade = sqlite_read_upgrade,
    .savepoint = sqlite_savepoint,
    .rollback_to = sqlite_rollback_to,
    .release = sqlite_release,
    .tick = sqlite_tick,
    .maintain = sqlite_maintain,
    .session_new = sqlite_session_new,
    .sessions_live = sqlite_sessions_live,
    .session_get = sqlite_session_get,
    .session_state = sqlite_session_state,
    .holder_state = sqlite_holder_state,
    .attach = sqlite_attach,
    .detach = sqlite_detach,
    .hello_sent = sqlite_hello_sent,
    .touch = sqlite_touch,
    .session_end = sqlite_session_end,
    .session_forget = sqlite_session_forget,
    .session_gone = sqlite_session_gone,
    .session_purge = sqlite_session_purge,
    .cleanup = sqlite_cleanup,
    .cleanup_drained = sqlite_cleanup_drained,
    .heartbeat_due = sqlite_heartbeat_due,
    .expired = sqlite_expired,
    .clock_check = sqlite_clock_check,
    .outbox_target = sqlite_outbox_target,
    .outbox_room = sqlite_outbox_room,
    .outbox_insert = sqlite_outbox_insert,
    .outbox_broadcast = sqlite_outbox_broadcast,
    .outbox_peek = sqlite_outbox_peek,
    .outbox_take = sqlite_outbox_take,
    .outbox_done = sqlite_outbox_done,
    .outbox_release = sqlite_outbox_release,
    .outbox_del = sqlite_outbox_del,
    .outbox_next_due = sqlite_outbox_next_due,
    .outbox_count = sqlite_outbox_count,
    .outbox_ready = sqlite_outbox_ready,
    .bridge_put = sqlite_bridge_put,
    .bridge_take = sqlite_bridge_take,
    .bridge_done = sqlite_bridge_done,
    .bridge_retry = sqlite_bridge_retry,
    .bridge_count = sqlite_bridge_count,
    .endpoint_add = sqlite_endpoint_add,
    .endpoint_del = sqlite_endpoint_del,
    .endpoint_has = sqlite_endpoint_has,
    .endpoint_list = sqlite_endpoint_list,
    .data_get = sqlite_data_get,
    .data_put = sqlite_data_put,
    .room_join = sqlite_room_join,
    .room_leave = sqlite_room_leave,
    .ack_new = sqlite_ack_new,
    .ack_take = sqlite_ack_take,
    .ack_get = sqlite_ack_get,
    .counter_add = sqlite_counter_add,
    .counter_get = sqlite_counter_get,
    .process_register = sqlite_process_register,
    .process_unregister = sqlite_process_unregister,
    .process_renew = sqlite_process_renew,
    .reap = sqlite_reap,
    .session_list = sqlite_session_list,
    .room_list = sqlite_room_list,
    .process_list = sqlite_process_list,
    .counter_list = sqlite_counter_list,
    .session_counts = sqlite_session_counts,
    .stats = sqlite_stats,
    .stats_sample = sqlite_stats_sample,
};
