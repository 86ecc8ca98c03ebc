/*
 * store.c: the SQLite implementation of store.h, and the only file that
 * includes sqlite3.h. One struct sio_store wraps one connection with its
 * statements prepared once; the schema (schema/schema.sql, compiled in as
 * schema.inc) is migrated on open. Writes run in BEGIN IMMEDIATE
 * transactions; while one is open the store remembers which (holder, sid)
 * pairs need a doorbell, and rings them once the COMMIT has succeeded.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "doorbell.h"
#include "payload.h"
#include "perm.h"
#include "store.h"

static const char schema_sql[] =
#include "schema.inc"
    ;

#define STORE_MARKER "-- version "
/* A WAL that starts over is cut back to this (bytes): a burst of writes
 * does not leave a large file behind. */
#define STORE_WAL_KEEP "4194304"
/* The page size of a new database (bytes); see store_configure(). */
#define STORE_PAGE_SIZE "2048"

/* The names the schema's CHECK constraints allow, indexed by enum. */
static const char *const store_states[] = {"handshaken", "open", "detached",
                                           "closed"};
static const char *const store_transports[] = {
    "websocket", "flashsocket", "htmlfile", "xhr-polling", "jsonp-polling"};

#define PERSISTENT "('websocket', 'flashsocket', 'htmlfile')"

/* Sessions owed a heartbeat: ?1 the threshold; ?4 a holder whose
 * sessions are due at ?1 (NULL: every holder's), the others' at ?5. */
#define HB_WHERE                                                               \
	" WHERE state = 'open' AND holder IS NOT NULL AND transport "          \
	"IN " PERSISTENT " AND last_heartbeat <= ?1"                           \
	" AND (?4 IS NULL OR holder = ?4 OR last_heartbeat <= ?5)"
#define HB_ROOM " AND s.queued < ?2"

/* Broadcast targets: ?1 endpoint, ?2 room or NULL, ?3 excluded sid or
 * NULL, ?4 volatile, ?5 queue limit. */
#define BCAST_FROM                                                             \
	" FROM sessions s WHERE s.state <> 'closed' AND s.sid IN"              \
	" (SELECT e.sid FROM endpoints e WHERE e.endpoint = ?1"                \
	" AND ?2 IS NULL UNION SELECT r.sid FROM rooms r JOIN endpoints e"     \
	" ON e.sid = r.sid AND e.endpoint = r.endpoint"                        \
	" WHERE r.endpoint = ?1 AND r.room = ?2)"                              \
	" AND (?3 IS NULL OR s.sid <> ?3)"                                     \
	" AND (?4 = 0 OR s.holder IS NOT NULL)"                                \
	" AND s.queued < ?5"

/* Detaches: ?1 now. A closed session keeps its state, loses its holder. */
#define DETACH_SET                                                             \
	"UPDATE sessions SET"                                                  \
	" state = CASE state WHEN 'open' THEN 'detached' ELSE state END,"      \
	" detached_at = CASE state WHEN 'open' THEN ?1 ELSE detached_at END,"  \
	" holder = NULL, holder_conn = NULL"

/* The columns store_session_row() reads, in its order. */
#define SESSION_COLS                                                           \
	"state, transport, holder, holder_conn, created, last_recv,"           \
	" detached_at, closed_at, close_reason"

enum store_sql {
	SQL_BEGIN,
	SQL_COMMIT,
	SQL_ROLLBACK,
	SQL_SAVEPOINT,
	SQL_ROLLBACK_TO,
	SQL_RELEASE,
	SQL_DATA_VERSION,
	SQL_SESSION_NEW,
	SQL_SESSION_GET,
	SQL_SESSION_STATE,
	SQL_ATTACH_GET,
	SQL_ATTACH,
	SQL_DETACH,
	SQL_HELLO_SENT,
	SQL_FORGET,
	SQL_GONE,
	SQL_HOLDER_STATE,
	SQL_TOUCH,
	SQL_END,
	SQL_HOLDER,
	SQL_HOLDER_OTHER,
	SQL_PURGE_ENDPOINTS,
	SQL_PURGE_ROOMS,
	SQL_PURGE_DATA,
	SQL_PURGE_ACKS,
	SQL_CLEANUP,
	SQL_HB_SELECT,
	SQL_HB_INSERT,
	SQL_HB_UPDATE,
	SQL_GONE_DETACH,
	SQL_EXPIRED,
	SQL_PUT_CHECK,
	SQL_PUT,
	SQL_BCAST_SELECT,
	SQL_BCAST_INSERT,
	SQL_PEEK,
	SQL_TAKE,
	SQL_TAKEN_DEL,
	SQL_TAKEN_RELEASE,
	SQL_GONE_HOLDERS,
	SQL_GONE_RELEASE,
	SQL_PROC_LIST,
	SQL_PROC_HOLDERS,
	SQL_PROC_RELEASE,
	SQL_NEXT_DUE,
	SQL_READY,
	SQL_DEL,
	SQL_COUNT,
	SQL_EP_ADD,
	SQL_EP_DEL,
	SQL_EP_HAS,
	SQL_EP_LIST,
	SQL_DATA_GET,
	SQL_DATA_PUT,
	SQL_DATA_DEL,
	SQL_ROOM_JOIN,
	SQL_ROOM_LEAVE,
	SQL_ROOM_LEAVE_ALL,
	SQL_ACK_NEXT,
	SQL_ACK_PUT,
	SQL_ACK_TAKE,
	SQL_ACK_GET,
	SQL_COUNTER_ADD,
	SQL_COUNTER_GET,
	SQL_PROC_PUT,
	SQL_PROC_RENEW,
	SQL_PROC_DEL,
	SQL_PROC_DETACH,
	SQL_SAMPLE_PUT,
	SQL_SAMPLE_TRIM,
	SQL_CLOCK_GET,
	SQL_CLOCK_PUT,
	SQL_CLOCK_SESSIONS,
	SQL_CLOCK_OUTBOX,
	SQL_CLOCK_SAMPLES,
	SQL_CLOCK_PROCESSES,
	SQL_LIVE_OF,
	SQL_NSTMT
};

static const char *const store_sql[SQL_NSTMT] = {
    [SQL_BEGIN] = "BEGIN IMMEDIATE",
    [SQL_COMMIT] = "COMMIT",
    [SQL_ROLLBACK] = "ROLLBACK",
    [SQL_SAVEPOINT] = "SAVEPOINT sio",
    [SQL_ROLLBACK_TO] = "ROLLBACK TO sio",
    [SQL_RELEASE] = "RELEASE sio",
    [SQL_DATA_VERSION] = "PRAGMA data_version",
    [SQL_SESSION_NEW] = "INSERT INTO sessions (sid, state, created,"
                        " last_recv, last_heartbeat, request, remote)"
                        " VALUES (?1, 'handshaken', ?2, ?2, ?2, ?3,"
                        " CASE WHEN json_valid(?3)"
                        " THEN json_extract(?3, '$.remote') END)",
    [SQL_SESSION_GET] = "SELECT " SESSION_COLS ", request"
                        " FROM sessions WHERE sid = ?1",
    [SQL_SESSION_STATE] = "SELECT state, last_recv FROM sessions"
                          " WHERE sid = ?1",
    [SQL_ATTACH_GET] = "SELECT state, transport, holder, holder_conn,"
                       " hello FROM sessions WHERE sid = ?1",
    [SQL_ATTACH] = "UPDATE sessions SET state = 'open', transport = ?2,"
                   " holder = ?3, holder_conn = ?4, detached_at = NULL,"
                   " last_recv = ?5, last_heartbeat = ?5 WHERE sid = ?1",
    [SQL_DETACH] = DETACH_SET " WHERE sid = ?2 AND holder = ?3"
                              " AND holder_conn = ?4",
    [SQL_HELLO_SENT] = "UPDATE sessions SET hello = ?2 WHERE sid = ?1",
    [SQL_FORGET] = "UPDATE sessions SET gone = 1 WHERE sid = ?1"
                   " AND state = 'closed'",
    [SQL_GONE] = "SELECT state = 'closed' AND gone FROM sessions"
                 " WHERE sid = ?1",
    [SQL_HOLDER_STATE] = "SELECT state FROM sessions WHERE sid = ?1"
                         " AND holder = ?2 AND holder_conn = ?3",
    [SQL_TOUCH] = "UPDATE sessions SET last_recv = ?2 WHERE sid = ?1",
    [SQL_END] = "UPDATE sessions SET state = 'closed', closed_at = ?2,"
                " close_reason = ?3 WHERE sid = ?1 AND state <> 'closed'",
    [SQL_HOLDER] = "SELECT holder FROM sessions WHERE sid = ?1",
    [SQL_HOLDER_OTHER] = "SELECT holder FROM sessions WHERE sid = ?1"
                         " AND (holder IS NOT ?2 OR holder_conn IS NOT ?3)",
    [SQL_PURGE_ENDPOINTS] = "DELETE FROM endpoints WHERE sid = ?1",
    [SQL_PURGE_ROOMS] = "DELETE FROM rooms WHERE sid = ?1",
    [SQL_PURGE_DATA] = "DELETE FROM data WHERE sid = ?1",
    [SQL_PURGE_ACKS] = "DELETE FROM acks WHERE sid = ?1",
    [SQL_CLEANUP] = "DELETE FROM sessions WHERE state = 'closed'"
                    " AND closed_at < ?1",
    [SQL_HB_SELECT] = "SELECT s.sid, s.holder FROM sessions s" HB_WHERE HB_ROOM,
    [SQL_HB_INSERT] =
        "INSERT INTO outbox (sid, packet, created)"
        " SELECT s.sid, '2::', ?3 FROM sessions s" HB_WHERE HB_ROOM,
    [SQL_HB_UPDATE] = "UPDATE sessions SET last_heartbeat = ?3" HB_WHERE,
    [SQL_GONE_DETACH] =
        DETACH_SET " WHERE state = 'open' AND holder IS NOT NULL"
                   " AND holder NOT IN (SELECT name FROM processes)",
    [SQL_EXPIRED] =
        "SELECT sid, state FROM sessions WHERE"
        " (state = 'open' AND transport IN " PERSISTENT " AND last_recv <= ?1)"
        " OR (state = 'detached' AND detached_at <= ?2)"
        " OR (state = 'handshaken' AND created <= ?2)"
        " ORDER BY sid LIMIT ?3",
    [SQL_PUT_CHECK] = "SELECT state, holder, queued, holder_conn"
                      " FROM sessions WHERE sid = ?1",
    [SQL_PUT] = "INSERT INTO outbox (sid, packet, created, due)"
                " VALUES (?1, ?2, ?3, ?4)",
    [SQL_BCAST_SELECT] = "SELECT s.sid, s.holder" BCAST_FROM,
    [SQL_BCAST_INSERT] = "INSERT INTO outbox (sid, packet, created, due)"
                         " SELECT s.sid, ?6, ?7, ?8" BCAST_FROM,
    /* Taken rows whatever their due: one taken by another writer ends
     * the read (sio_store_outbox_peek()). */
    [SQL_PEEK] = "SELECT seq, packet, taken_by, taken_conn FROM outbox"
                 " WHERE sid = ?1 AND (due <= ?3 OR taken_by IS NOT NULL)"
                 " ORDER BY seq LIMIT ?2",
    [SQL_TAKE] = "UPDATE outbox SET taken_by = ?3, taken_conn = ?4"
                 " WHERE sid = ?1 AND seq <= ?2 AND due <= ?5"
                 " AND taken_by IS NULL",
    [SQL_TAKEN_DEL] = "DELETE FROM outbox WHERE sid = ?1 AND taken_by = ?2"
                      " AND taken_conn = ?3",
    [SQL_TAKEN_RELEASE] = "UPDATE outbox SET taken_by = NULL,"
                          " taken_conn = NULL WHERE sid = ?1"
                          " AND taken_by = ?2 AND taken_conn = ?3",
    /* The current holders of the sessions whose rows the next statement
     * hands back: what they wait for can go. The taken rows alone are
     * read (outbox_taken), not the outbox. */
    [SQL_GONE_HOLDERS] = "SELECT s.sid, s.holder FROM sessions s"
                         " WHERE s.holder IS NOT NULL AND s.sid IN"
                         " (SELECT o.sid FROM outbox o"
                         " WHERE o.taken_by IS NOT NULL AND o.taken_by"
                         " NOT IN (SELECT name FROM processes))",
    [SQL_GONE_RELEASE] = "UPDATE outbox SET taken_by = NULL,"
                         " taken_conn = NULL WHERE taken_by IS NOT NULL"
                         " AND taken_by NOT IN (SELECT name FROM processes)",
    /* Whose lease lapsed (not renewed since ?1), or who may be seen
     * from here: of pid space ?2, the space of this process. */
    [SQL_PROC_LIST] = "SELECT name, renewed < ?1, pid, pid_start"
                      " FROM processes WHERE renewed < ?1 OR pid_space = ?2",
    [SQL_PROC_HOLDERS] = "SELECT s.sid, s.holder FROM sessions s"
                         " WHERE s.holder IS NOT NULL AND s.sid IN"
                         " (SELECT o.sid FROM outbox o WHERE o.taken_by = ?1)",
    [SQL_PROC_RELEASE] = "UPDATE outbox SET taken_by = NULL,"
                         " taken_conn = NULL WHERE taken_by = ?1",
    [SQL_NEXT_DUE] = "SELECT min(due) FROM outbox WHERE sid = ?1"
                     " AND due > ?2",
    /* The first packet of each session that a take would stop at (due
     * and not taken, or taken by another writer than the holder's
     * connection) is one it passes: the index walk ends at the first
     * such row, however long the queue. */
    [SQL_READY] = "SELECT s.sid FROM sessions s WHERE s.holder = ?1"
                  " AND (SELECT o.taken_by IS NULL FROM outbox o"
                  " WHERE o.sid = s.sid AND ((o.taken_by IS NULL"
                  " AND o.due <= ?2) OR (o.taken_by IS NOT NULL"
                  " AND (o.taken_by <> ?1"
                  " OR o.taken_conn IS NOT s.holder_conn)))"
                  " ORDER BY o.seq LIMIT 1)",
    [SQL_DEL] = "DELETE FROM outbox WHERE sid = ?1 AND seq <= ?2"
                " AND due <= ?3",
    [SQL_COUNT] = "SELECT count(*) FROM outbox WHERE sid = ?1",
    [SQL_EP_ADD] = "INSERT INTO endpoints (sid, endpoint, query)"
                   " VALUES (?1, ?2, ?3) ON CONFLICT (sid, endpoint)"
                   " DO UPDATE SET query = excluded.query",
    [SQL_EP_DEL] = "DELETE FROM endpoints WHERE sid = ?1 AND endpoint = ?2",
    [SQL_EP_HAS] = "SELECT 1 FROM endpoints WHERE sid = ?1"
                   " AND endpoint = ?2",
    /* rowid keeps the order in which endpoints connected. */
    [SQL_EP_LIST] = "SELECT endpoint, query FROM endpoints WHERE sid = ?1"
                    " ORDER BY endpoint = '', rowid",
    [SQL_DATA_GET] = "SELECT value FROM data WHERE sid = ?1 AND key = ?2",
    [SQL_DATA_PUT] = "INSERT INTO data (sid, key, value)"
                     " VALUES (?1, ?2, ?3) ON CONFLICT (sid, key)"
                     " DO UPDATE SET value = excluded.value",
    [SQL_DATA_DEL] = "DELETE FROM data WHERE sid = ?1 AND key = ?2",
    [SQL_ROOM_JOIN] = "INSERT INTO rooms (sid, endpoint, room)"
                      " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    [SQL_ROOM_LEAVE] = "DELETE FROM rooms WHERE sid = ?1"
                       " AND endpoint = ?2 AND room = ?3",
    [SQL_ROOM_LEAVE_ALL] = "DELETE FROM rooms WHERE sid = ?1"
                           " AND endpoint = ?2",
    [SQL_ACK_NEXT] = "UPDATE sessions SET next_ack = next_ack + 1"
                     " WHERE sid = ?1 RETURNING next_ack - 1",
    [SQL_ACK_PUT] = "INSERT INTO acks (sid, id, endpoint, handler, event,"
                    " created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQL_ACK_TAKE] = "DELETE FROM acks WHERE sid = ?1 AND id = ?2"
                     " AND endpoint = ?3 RETURNING handler, event",
    [SQL_ACK_GET] = "SELECT handler, event FROM acks WHERE sid = ?1"
                    " AND id = ?2 AND endpoint = ?3",
    [SQL_COUNTER_ADD] = "INSERT INTO counters (name, value) VALUES (?1, ?2)"
                        " ON CONFLICT (name) DO UPDATE"
                        " SET value = counters.value + excluded.value",
    [SQL_COUNTER_GET] = "SELECT value FROM counters WHERE name = ?1",
    [SQL_PROC_PUT] = "INSERT INTO processes (name, pid, started, renewed,"
                     " pid_space, pid_start) VALUES (?1, ?2, ?3, ?3, ?4, ?5)"
                     " ON CONFLICT (name) DO NOTHING",
    [SQL_PROC_RENEW] = "UPDATE processes SET renewed = max(renewed, ?2)"
                       " WHERE name = ?1",
    [SQL_PROC_DEL] = "DELETE FROM processes WHERE name = ?1",
    [SQL_PROC_DETACH] = DETACH_SET " WHERE holder = ?2",
    /* One sample a second at most, whichever process sweeps first; one
     * from the future (the clock went back) does not stop the sweeps. */
    [SQL_SAMPLE_PUT] =
        "INSERT INTO stats_samples (t, connections_opened, packets_sent,"
        " packets_received) SELECT ?1,"
        " (SELECT coalesce(max(value), 0) FROM counters"
        " WHERE name = 'connections_opened'),"
        " (SELECT coalesce(max(value), 0) FROM counters"
        " WHERE name = 'packets_sent'),"
        " (SELECT coalesce(max(value), 0) FROM counters"
        " WHERE name = 'packets_received')"
        " WHERE NOT EXISTS (SELECT 1 FROM stats_samples"
        " WHERE t > ?1 - 1000 AND t <= ?1)",
    [SQL_SAMPLE_TRIM] = "DELETE FROM stats_samples WHERE t < ?1 - 60000",
    [SQL_CLOCK_GET] = "SELECT boot, wall, mono FROM clock WHERE id = 1",
    [SQL_CLOCK_PUT] = "INSERT INTO clock (id, boot, wall, mono)"
                      " VALUES (1, ?1, ?2, ?3) ON CONFLICT (id) DO UPDATE"
                      " SET boot = excluded.boot, wall = excluded.wall,"
                      " mono = excluded.mono",
    /* A step of ?1 ms; rows in [?2, ?3] may be on the new clock already:
     * they stay. The columns hold the times of past events, never
     * future ones; a packet's due is judged by when it was queued. */
    [SQL_CLOCK_SESSIONS] =
        "UPDATE sessions SET"
        " created = created + CASE WHEN created BETWEEN ?2 AND ?3"
        " THEN 0 ELSE ?1 END,"
        " last_recv = last_recv + CASE WHEN last_recv BETWEEN ?2 AND ?3"
        " THEN 0 ELSE ?1 END,"
        " last_heartbeat = last_heartbeat + CASE WHEN last_heartbeat"
        " BETWEEN ?2 AND ?3 THEN 0 ELSE ?1 END,"
        " detached_at = detached_at + CASE WHEN detached_at"
        " BETWEEN ?2 AND ?3 THEN 0 ELSE ?1 END,"
        " closed_at = closed_at + CASE WHEN closed_at BETWEEN ?2 AND ?3"
        " THEN 0 ELSE ?1 END",
    [SQL_CLOCK_OUTBOX] = "UPDATE outbox SET due = due + ?1 WHERE due <> 0"
                         " AND created NOT BETWEEN ?2 AND ?3",
    /* a lease renewed before the step would otherwise lapse (forward)
     * or outlive its process (back) by the step */
    [SQL_CLOCK_PROCESSES] = "UPDATE processes SET renewed = renewed + ?1"
                            " WHERE renewed NOT BETWEEN ?2 AND ?3",
    [SQL_CLOCK_SAMPLES] = "DELETE FROM stats_samples"
                          " WHERE t NOT BETWEEN ?2 AND ?3",
    [SQL_LIVE_OF] = "SELECT count(*) FROM (SELECT 1 FROM sessions"
                    " WHERE remote = ?1 AND state <> 'closed' LIMIT ?2)",
};

/* A doorbell to ring after the commit; sid "": holder was reaped, its
 * bell file is removed instead. */
struct store_bell {
	char holder[SIO_HOLDER_LEN];
	char sid[SIO_SID_LEN + 1];
};

/* A packet for a connection of this process, handed over at the commit
 * (sio_store_set_direct); depth: the savepoint it was queued in. */
struct store_direct {
	char sid[SIO_SID_LEN + 1];
	long long conn;
	int depth;
	unsigned n; /* entries for sid so far, this one included */
	size_t len;
	char *pkt;
};

/* Counters kept in memory between flushes (sio_store_defer_counters). */
enum { LATER_RECEIVED, LATER_SENT, LATER_N };
static const char *const store_later_names[LATER_N] = {"packets_received",
                                                       "packets_sent"};

struct sio_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[SQL_NSTMT];
	int max_queue;
	long long due; /* set by sio_store_outbox_set_due() */
	char *run_dir; /* NULL: never ring */
	int bell_fd;   /* sender socket, opened at the first ring */
	struct store_bell *bells;
	size_t nbells, capbells;
	/* the direct path, when set */
	char direct_holder[SIO_HOLDER_LEN];
	int (*direct_accept)(void *udata, const char *sid, long long conn,
	                     unsigned staged);
	void (*direct_deliver)(void *udata, const char *sid, long long conn,
	                       const char *pkt, size_t len);
	void *direct_udata;
	struct store_direct *directs;
	size_t ndirects, capdirects;
	int depth;          /* savepoints open */
	int defer_counters; /* later[] instead of the counters table */
	long long later[LATER_N];
	long long later_at;   /* ms: the last flush of later[] */
	int busy_ms;          /* the busy timeout */
	long long busy_since; /* us, monotonic: this wait's start */
	/* the last peek's rows no transport can write: how many, the last */
	long long bad, bad_last;
	int dropped; /* rows the last take deleted */
	int blocked; /* the last peek stopped at another writer's packet */
	char errmsg[SIO_ERR_LEN];
};

/* --- errors, statements, transactions --------------------------------- */

static int
store_fail(struct sio_store *st, const char *fmt, ...)
{
	va_list ap;

	if (st == NULL) /* sio_store_sid_new() without a store */
		return SIO_ERR;
	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
	return SIO_ERR;
}

/* Writes a message to an err buffer of SIO_ERR_LEN bytes. */
static void
store_err(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, SIO_ERR_LEN, fmt, ap);
	va_end(ap);
}

static int
store_sqlfail(struct sio_store *st)
{
	return store_fail(st, "%s", sqlite3_errmsg(st->db));
}

static long long
store_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Compiles statement id; SIO_OK or SIO_ERR. */
static int
store_prepare(struct sio_store *st, int id)
{
	assert(store_sql[id] != NULL);
	if (sqlite3_prepare_v3(st->db, store_sql[id], -1,
	                       SQLITE_PREPARE_PERSISTENT, &st->stmt[id],
	                       NULL) != SQLITE_OK)
		return store_fail(st, "preparing statement %d: %s", id,
		                  sqlite3_errmsg(st->db));
	return SIO_OK;
}

/*
 * Resets statement id (compiled at its first use) and binds its
 * parameters in order: 't' a C string (NULL binds NULL), 'b' a string and
 * its size_t length, 'i' a long long. Returns the statement, or NULL with
 * the error recorded.
 */
static sqlite3_stmt *
store_prep(struct sio_store *st, enum store_sql id, const char *types, ...)
{
	sqlite3_stmt *s;
	const char *t;
	va_list ap;
	size_t len;
	int i, rc = SQLITE_OK;

	if (st->stmt[id] == NULL && store_prepare(st, id) != SIO_OK)
		return NULL;
	s = st->stmt[id];
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
		store_sqlfail(st);
		return NULL;
	}
	return s;
}

/* Steps s; on failure records the error and resets. SQLITE_ROW,
 * SQLITE_DONE, or SQLITE_ERROR. */
static int
store_step(struct sio_store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	store_sqlfail(st);
	sqlite3_reset(s);
	return SQLITE_ERROR;
}

/* Runs a prepared write (or s NULL after a failed store_prep) to its end. */
static int
store_run(struct sio_store *st, sqlite3_stmt *s)
{
	int rc;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = store_step(st, s)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		return SIO_ERR;
	sqlite3_reset(s);
	return SIO_OK;
}

/* Reads column 0 of the first row as an integer: SIO_OK, SIO_AGAIN when
 * there is no row, SIO_ERR. */
static int
store_int(struct sio_store *st, sqlite3_stmt *s, long long *out)
{
	int rc;

	if (s == NULL)
		return SIO_ERR;
	rc = store_step(st, s);
	if (rc == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? SIO_OK : SIO_AGAIN;
}

/* Copies a text column, NULL staying NULL; *failed set when out of memory. */
static char *
store_column_dup(sqlite3_stmt *s, int col, int *failed)
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

static void
store_bell_add(struct sio_store *st, const unsigned char *holder,
               const char *sid)
{
	struct store_bell *b;
	size_t cap;

	if (st->run_dir == NULL || holder == NULL ||
	    strlen((const char *)holder) >= SIO_HOLDER_LEN ||
	    strlen(sid) > SIO_SID_LEN)
		return;
	if (st->nbells == st->capbells) {
		cap = st->capbells ? st->capbells * 2 : 16;
		b = realloc(st->bells, cap * sizeof(*b));
		if (b == NULL)
			return; /* a ring is a hint; data_version covers it */
		st->bells = b;
		st->capbells = cap;
	}
	b = &st->bells[st->nbells++];
	strcpy(b->holder, (const char *)holder);
	strcpy(b->sid, sid);
}

static int
store_bell_cmp(const void *a, const void *b)
{
	const struct store_bell *x = a, *y = b;
	int c = strcmp(x->holder, y->holder);

	return c ? c : strcmp(x->sid, y->sid);
}

/* Rings each distinct (holder, sid) once; failures are ignored because
 * the holder also watches data_version. */
static void
store_ring(struct sio_store *st)
{
	struct store_bell *b = st->bells;
	size_t i;

	if (st->nbells > 0 && st->bell_fd < 0)
		st->bell_fd = sio_doorbell_sender();
	if (st->nbells > 1)
		qsort(b, st->nbells, sizeof(*b), store_bell_cmp);
	for (i = 0; i < st->nbells; i++) {
		if (i > 0 && store_bell_cmp(&b[i - 1], &b[i]) == 0)
			continue;
		if (b[i].sid[0] == '\0')
			(void)sio_doorbell_remove(st->run_dir, b[i].holder);
		else if (st->bell_fd >= 0)
			(void)sio_doorbell_ring(st->bell_fd, st->run_dir,
			                        b[i].holder, b[i].sid);
	}
	st->nbells = 0;
}

/* Forgets the direct packets queued at savepoint depth and deeper. */
static void
store_direct_drop(struct sio_store *st, int depth)
{
	while (st->ndirects > 0 && st->directs[st->ndirects - 1].depth >= depth)
		free(st->directs[--st->ndirects].pkt);
}

/* After a commit: hands the direct packets over, in the order queued. */
static void
store_direct_deliver(struct sio_store *st)
{
	struct store_direct *d;
	size_t i;

	for (i = 0; i < st->ndirects; i++) {
		d = &st->directs[i];
		st->direct_deliver(st->direct_udata, d->sid, d->conn, d->pkt,
		                   d->len);
		free(d->pkt);
	}
	st->later[LATER_SENT] += (long long)st->ndirects;
	st->ndirects = 0;
}

/* Rolls back keeping the error message of what made us roll back. */
static void
store_rollback_quiet(struct sio_store *st)
{
	st->nbells = 0;
	store_direct_drop(st, 0);
	if (sqlite3_get_autocommit(st->db))
		return;
	sqlite3_reset(st->stmt[SQL_ROLLBACK]);
	sqlite3_step(st->stmt[SQL_ROLLBACK]);
	sqlite3_reset(st->stmt[SQL_ROLLBACK]);
}

int
sio_store_begin(struct sio_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		return store_fail(st, "a transaction is already open");
	st->nbells = 0;
	st->depth = 0;
	store_direct_drop(st, 0);
	return store_run(st, store_prep(st, SQL_BEGIN, ""));
}

int
sio_store_read_begin(struct sio_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		return store_fail(st, "a transaction is already open");
	if (sqlite3_exec(st->db, "BEGIN DEFERRED", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return store_fail(st, "%s", sqlite3_errmsg(st->db));
	return SIO_OK;
}

void
sio_store_read_end(struct sio_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
}

int
sio_store_in_transaction(struct sio_store *st)
{
	return !sqlite3_get_autocommit(st->db);
}

void
sio_store_bells_take(struct sio_store *st, const char *holder,
                     void (*fn)(void *udata, const char *sid), void *udata)
{
	size_t i, n = 0;

	for (i = 0; i < st->nbells; i++) {
		if (strcmp(st->bells[i].holder, holder) == 0 &&
		    st->bells[i].sid[0] != '\0')
			fn(udata, st->bells[i].sid);
		else
			st->bells[n++] = st->bells[i];
	}
	st->nbells = n;
}

int
sio_store_commit(struct sio_store *st)
{
	if (sqlite3_get_autocommit(st->db)) {
		st->nbells = 0;
		store_direct_drop(st, 0);
		return store_fail(st, "no transaction is open");
	}
	if (store_run(st, store_prep(st, SQL_COMMIT, "")) != SIO_OK) {
		store_rollback_quiet(st);
		return SIO_ERR;
	}
	store_direct_deliver(st);
	store_ring(st);
	return SIO_OK;
}

int
sio_store_rollback(struct sio_store *st)
{
	st->nbells = 0;
	store_direct_drop(st, 0);
	if (sqlite3_get_autocommit(st->db))
		return SIO_OK; /* SQLite may have rolled back on its own */
	return store_run(st, store_prep(st, SQL_ROLLBACK, ""));
}

static int
store_savepoint_op(struct sio_store *st, enum store_sql id)
{
	if (sqlite3_get_autocommit(st->db))
		return store_fail(st, "no transaction is open");
	return store_run(st, store_prep(st, id, ""));
}

int
sio_store_savepoint(struct sio_store *st)
{
	if (store_savepoint_op(st, SQL_SAVEPOINT) != SIO_OK)
		return SIO_ERR;
	st->depth++;
	return SIO_OK;
}

int
sio_store_rollback_to(struct sio_store *st)
{
	store_direct_drop(st, st->depth);
	if (st->depth > 0)
		st->depth--;
	if (store_savepoint_op(st, SQL_ROLLBACK_TO) != SIO_OK)
		return SIO_ERR;
	return store_savepoint_op(st, SQL_RELEASE);
}

int
sio_store_release(struct sio_store *st)
{
	size_t i;

	/* what the savepoint queued now belongs to the level around it */
	for (i = st->ndirects; i > 0 && st->directs[i - 1].depth >= st->depth;
	     i--)
		st->directs[i - 1].depth = st->depth - 1;
	if (st->depth > 0)
		st->depth--;
	return store_savepoint_op(st, SQL_RELEASE);
}

void
sio_store_set_direct(struct sio_store *st, const char *holder,
                     int (*accept)(void *udata, const char *sid, long long conn,
                                   unsigned staged),
                     void (*deliver)(void *udata, const char *sid,
                                     long long conn, const char *pkt,
                                     size_t len),
                     void *udata)
{
	snprintf(st->direct_holder, sizeof(st->direct_holder), "%s", holder);
	st->direct_accept = accept;
	st->direct_deliver = deliver;
	st->direct_udata = udata;
}

/* How many packets for sid wait for the commit. */
static unsigned
store_direct_staged(const struct sio_store *st, const char *sid)
{
	for (size_t i = st->ndirects; i > 0; i--)
		if (strcmp(st->directs[i - 1].sid, sid) == 0)
			return st->directs[i - 1].n;
	return 0;
}

/* Queues pkt for delivery at the commit. SIO_OK or SIO_ERR. */
static int
store_direct_add(struct sio_store *st, const char *sid, long long conn,
                 const char *pkt, size_t len)
{
	struct store_direct *d;
	size_t cap;

	if (st->ndirects == st->capdirects) {
		cap = st->capdirects ? st->capdirects * 2 : 16;
		d = realloc(st->directs, cap * sizeof(*d));
		if (d == NULL)
			return store_fail(st, "out of memory");
		st->directs = d;
		st->capdirects = cap;
	}
	d = &st->directs[st->ndirects];
	if ((d->pkt = malloc(len ? len : 1)) == NULL)
		return store_fail(st, "out of memory");
	memcpy(d->pkt, pkt, len);
	d->len = len;
	d->conn = conn;
	d->depth = st->depth;
	d->n = store_direct_staged(st, sid) + 1;
	snprintf(d->sid, sizeof(d->sid), "%s", sid);
	st->ndirects++;
	return SIO_OK;
}

/* Opens a transaction for one call unless the caller has one: *own says
 * whether store_tx_end must commit it. */
static int
store_tx_begin(struct sio_store *st, int *own)
{
	*own = sqlite3_get_autocommit(st->db);
	return *own ? sio_store_begin(st) : SIO_OK;
}

/* Ends a store_tx_begin transaction: rc SIO_ERR rolls back, anything else
 * commits. Returns rc, or SIO_ERR when the commit fails. */
static int
store_tx_end(struct sio_store *st, int own, int rc)
{
	if (!own)
		return rc;
	if (rc == SIO_ERR) {
		store_rollback_quiet(st);
		return SIO_ERR;
	}
	return sio_store_commit(st) == SIO_OK ? rc : SIO_ERR;
}

void
sio_store_defer_counters(struct sio_store *st)
{
	st->defer_counters = 1;
}

int
sio_store_counters_flush(struct sio_store *st, long long now)
{
	int own, rc = SIO_OK, i, any = 0;

	for (i = 0; i < LATER_N; i++)
		any |= st->later[i] != 0;
	/* a wall clock gone back does not hold the counters for as long */
	if (!any || (now > 0 && now >= st->later_at &&
	             now - st->later_at < 1000))
		return SIO_OK;
	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	for (i = 0; i < LATER_N && rc == SIO_OK; i++)
		if (st->later[i] != 0)
			rc = store_run(st, store_prep(st, SQL_COUNTER_ADD, "ti",
			                              store_later_names[i],
			                              st->later[i]));
	rc = store_tx_end(st, own, rc);
	if (rc == SIO_OK) {
		memset(st->later, 0, sizeof(st->later));
		st->later_at = now > 0 ? now : store_now();
	}
	return rc;
}

/* --- opening and migrating ------------------------------------------- */

/*
 * Creates the file with mode before SQLite does, so that SQLite's -wal and
 * -shm files copy that mode too. An existing file is never opened here:
 * closing any descriptor of a file drops every POSIX lock this process
 * holds on it, the locks of SQLite connections in other threads included,
 * and another process would then checkpoint and delete the WAL under them.
 */
static int
store_create(const char *path, mode_t mode, char *err)
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
	store_err(err, "%s: %s", path, strerror(errno));
	return SIO_ERR;
}

static int
store_exec(struct sio_store *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return SIO_OK;
	store_fail(st, "%s", msg ? msg : sqlite3_errmsg(st->db));
	sqlite3_free(msg);
	return SIO_ERR;
}

/* Runs a pragma (or any one statement) once, reading the first column of
 * its first row into buf when there is one. */
static int
store_pragma(struct sio_store *st, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt *s;
	const unsigned char *t;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_sqlfail(st);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_sqlfail(st);
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

/* The next `-- version N` line at or after the line starting at p, or
 * NULL; N in *version. */
static const char *
store_marker(const char *p, int *version)
{
	size_t n = strlen(STORE_MARKER);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, STORE_MARKER, n) == 0 &&
		    isdigit((unsigned char)p[n])) {
			*version = atoi(p + n);
			return p;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

int
sio_store_schema_version(void)
{
	const char *p = schema_sql;
	int v, max = 0;

	while ((p = store_marker(p, &v)) != NULL) {
		if (v > max)
			max = v;
		p += strlen(STORE_MARKER);
	}
	return max;
}

/* Runs the section of the schema from body up to next (or the end). */
static int
store_section(struct sio_store *st, const char *body, const char *next)
{
	size_t len = next ? (size_t)(next - body) : strlen(body);
	char *sql = strndup(body, len);
	int rc;

	if (sql == NULL)
		return store_fail(st, "out of memory");
	rc = store_exec(st, sql);
	free(sql);
	return rc;
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
store_vacuum_mode(struct sio_store *st)
{
	char buf[16];

	if (store_pragma(st, "PRAGMA auto_vacuum", buf, sizeof(buf)) != SIO_OK)
		return SIO_ERR;
	if (atoi(buf) == 2)
		return SIO_OK;
	if (store_exec(st, "PRAGMA auto_vacuum = INCREMENTAL") != SIO_OK ||
	    store_exec(st, "VACUUM") != SIO_OK)
		return SIO_ERR;
	return SIO_OK;
}

static int
store_migrate(struct sio_store *st)
{
	const char *p, *body;
	char buf[64];
	int v, next, have, want = sio_store_schema_version();

	if (store_exec(st, "BEGIN IMMEDIATE") != SIO_OK)
		return SIO_ERR;
	if (store_pragma(st, "PRAGMA user_version", buf, sizeof(buf)) != SIO_OK)
		goto err;
	have = atoi(buf);
	if (have > want) {
		store_fail(st,
		           "schema version %d is newer than this build's %d",
		           have, want);
		goto err;
	}
	for (p = store_marker(schema_sql, &v); p != NULL; v = next) {
		body = strchr(p, '\n');
		body = body ? body + 1 : p + strlen(p);
		p = store_marker(body, &next);
		if (v > have && store_section(st, body, p) != SIO_OK)
			goto err;
	}
	snprintf(buf, sizeof(buf), "PRAGMA user_version = %d", want);
	if (want > have && store_exec(st, buf) != SIO_OK)
		goto err;
	if (store_exec(st, "COMMIT") != SIO_OK)
		return SIO_ERR;
	/* not fatal: a VACUUM that another process's lock held off is
	 * tried again at the next open */
	if (have > 0 && want >= STORE_VACUUM_VERSION)
		(void)store_vacuum_mode(st);
	return SIO_OK;
err:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return SIO_ERR;
}

/*
 * Waiting for another process's write lock: short sleeps growing from
 * 50 us to 2 ms, up to the busy timeout. SQLite's own handler sleeps
 * 1, 2, 5, 10 ... 100 ms, which puts tens of milliseconds on a packet
 * whose writer holds the lock for a fraction of one.
 */
static int
store_busy(void *udata, int count)
{
	struct sio_store *st = udata;
	struct timespec ts;
	long long now, us = 50LL << (count < 6 ? count : 6);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (count == 0)
		st->busy_since = now;
	else if (now - st->busy_since >= st->busy_ms * 1000LL)
		return 0; /* SQLITE_BUSY */
	if (us > 2000)
		us = 2000;
	ts.tv_sec = 0;
	ts.tv_nsec = us * 1000;
	nanosleep(&ts, NULL);
	return 1;
}

static int
store_configure(struct sio_store *st, const struct sio_store_opts *opts)
{
	char buf[64];
	int sync = opts ? (int)opts->synchronous : SIO_SYNC_NORMAL;
	int ms =
	    opts && opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000;

	sqlite3_extended_result_codes(st->db, 1);
	st->busy_ms = ms;
	if (sqlite3_busy_handler(st->db, store_busy, st) != SQLITE_OK)
		return store_sqlfail(st);
	/* A new database gets 2 KiB pages: a commit writes each page it
	 * changed to the WAL whole, and a session's change of state touches
	 * its row and up to three indexes (measured: handshake + connect
	 * about 11 % faster than with 4 KiB pages; rows up to about 2 KB stay
	 * on one page). An existing database keeps its page size (the
	 * pragma does nothing there). */
	if (store_pragma(st, "PRAGMA page_size = " STORE_PAGE_SIZE, NULL, 0) !=
	        SIO_OK ||
	    /* likewise only before the first table: a new file gives the
	     * pages of deleted rows back (sio_store_cleanup()) */
	    store_pragma(st, "PRAGMA auto_vacuum = INCREMENTAL", NULL, 0) !=
	        SIO_OK)
		return SIO_ERR;
	/* On a new (rollback-mode) file, connections switching it to WAL at
	 * once can get SQLITE_BUSY without the busy handler (SQLite's
	 * deadlock avoidance): processes starting together would fail. */
	for (int waited = 0;; waited += 10) {
		if (store_pragma(st, "PRAGMA journal_mode = WAL", buf,
		                 sizeof(buf)) == SIO_OK)
			break;
		if ((sqlite3_errcode(st->db) & 0xff) != SQLITE_BUSY ||
		    waited >= ms)
			return SIO_ERR;
		sqlite3_sleep(10);
	}
	if (strcmp(buf, "wal") != 0 && strcmp(buf, "memory") != 0)
		return store_fail(st, "journal_mode is %s, not wal", buf);
	snprintf(buf, sizeof(buf), "PRAGMA synchronous = %d",
	         sync == SIO_SYNC_OFF    ? 0
	         : sync == SIO_SYNC_FULL ? 2
	                                 : 1);
	/* statement journals in memory: on disk, each statement's journal
	 * made the heap shrink and grow again (tens of us per UPDATE) */
	if (store_pragma(st, buf, NULL, 0) != SIO_OK ||
	    store_pragma(st, "PRAGMA temp_store = MEMORY", NULL, 0) != SIO_OK ||
	    store_pragma(st, "PRAGMA journal_size_limit = " STORE_WAL_KEEP,
	                 NULL, 0) != SIO_OK ||
	    store_pragma(st, "PRAGMA foreign_keys = ON", NULL, 0) != SIO_OK)
		return SIO_ERR;
	return SIO_OK;
}

static int
store_prepare_all(struct sio_store *st)
{
	int i;

	/* Every statement compiles against the schema now, at the open,
	 * not at its first use; each is then kept only once used (a
	 * connection uses a few of them, and all of them took about 280 KB
	 * of each connection's memory: the gateway's pool holds up to 128).
	 * The rollback stays: a failure path must not need to prepare. */
	for (i = 0; i < SQL_NSTMT; i++) {
		if (store_prepare(st, i) != SIO_OK)
			return SIO_ERR;
		if (i != SQL_ROLLBACK) {
			sqlite3_finalize(st->stmt[i]);
			st->stmt[i] = NULL;
		}
	}
	return SIO_OK;
}

static void store_sql_packet_ok(sqlite3_context *ctx, int argc,
                                sqlite3_value **argv);

/* The SQL functions siogate's statements use (not the sqlite3 shell). */
static int
store_functions(struct sio_store *st)
{
	if (sqlite3_create_function_v2(
	        st->db, "siogate_packet_ok", 1,
	        SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
	        store_sql_packet_ok, NULL, NULL, NULL) != SQLITE_OK)
		return store_sqlfail(st);
	return SIO_OK;
}

struct sio_store *
sio_store_open(const char *path, const struct sio_store_opts *opts, char *err)
{
	struct sio_store *st;
	char dummy[SIO_ERR_LEN];
	mode_t mode = opts && opts->shared_group ? 0660 : 0600;

	if (err == NULL)
		err = dummy;
	if (store_create(path, mode, err) != SIO_OK)
		return NULL;
	/* rings go there: never to a socket another user could put */
	if (opts && opts->run_dir &&
	    sio_perm_path_safe("run_dir", opts->run_dir,
	                       SIO_PERM_DIR | SIO_PERM_MISSING |
	                           (opts->shared_group ? SIO_PERM_SHARED : 0),
	                       "another user could receive the session ids "
	                       "rung there",
	                       err) != SIO_OK)
		return NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		store_err(err, "out of memory");
		return NULL;
	}
	st->bell_fd = -1;
	st->max_queue =
	    opts && opts->max_queue > 0 ? opts->max_queue : SIO_MAX_QUEUE;
	if (opts && opts->run_dir &&
	    (st->run_dir = strdup(opts->run_dir)) == NULL) {
		store_fail(st, "out of memory");
		goto err;
	}
	if (sqlite3_open_v2(path, &st->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                        SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		store_fail(st, "%s",
		           st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto err;
	}
	if (store_configure(st, opts) != SIO_OK ||
	    store_migrate(st) != SIO_OK || store_prepare_all(st) != SIO_OK ||
	    store_functions(st) != SIO_OK)
		goto err;
	return st;
err:
	store_err(err, "%s: %s", path, st->errmsg);
	sio_store_close(st);
	return NULL;
}

struct sio_store *
sio_store_open_config(const struct sio_config *cfg, char *err)
{
	struct sio_store_opts opts = {
	    .synchronous = cfg->synchronous,
	    .shared_group = cfg->db_group,
	    .run_dir = cfg->run_dir,
	    .max_queue = cfg->max_queue,
	};

	return sio_store_open(cfg->database, &opts, err);
}

void
sio_store_close(struct sio_store *st)
{
	int i;

	if (st == NULL)
		return;
	if (sqlite3_get_autocommit(st->db))
		sio_store_counters_flush(st, 0);
	store_direct_drop(st, 0);
	free(st->directs);
	for (i = 0; i < SQL_NSTMT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	if (st->bell_fd >= 0)
		close(st->bell_fd);
	free(st->bells);
	free(st->run_dir);
	free(st);
}

const char *
sio_store_errmsg(struct sio_store *st)
{
	return st->errmsg;
}

int
sio_store_data_version(struct sio_store *st, long long *version)
{
	int rc = store_int(st, store_prep(st, SQL_DATA_VERSION, ""), version);

	return rc == SIO_OK ? SIO_OK : SIO_ERR;
}

/* --- sessions --------------------------------------------------------- */

/* Fills buf with size bytes from the kernel. SIO_OK or SIO_ERR. */
static int
store_random(struct sio_store *st, void *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size) {
		n = getrandom((char *)buf + got, size - got, 0);
		if (n < 0 && errno != EINTR)
			return store_fail(st, "getrandom: %s", strerror(errno));
		if (n > 0)
			got += (size_t)n;
	}
	return SIO_OK;
}

/* 128 bits from the kernel as unpadded base64url: 22 characters. */
static int
store_new_sid(struct sio_store *st, char sid[SIO_SID_LEN + 1])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[16];
	unsigned int acc = 0;
	size_t i, j = 0;
	int bits = 0;

	if (store_random(st, raw, sizeof(raw)) != SIO_OK)
		return SIO_ERR;
	for (i = 0; i < sizeof(raw); i++) {
		acc = (acc << 8) | raw[i];
		for (bits += 8; bits >= 6; bits -= 6)
			sid[j++] = b64[(acc >> (bits - 6)) & 63];
	}
	sid[j++] = b64[(acc << (6 - bits)) & 63];
	sid[j] = '\0';
	assert(j == SIO_SID_LEN);
	return SIO_OK;
}

int
sio_store_sid_new(struct sio_store *st, char sid[SIO_SID_LEN + 1])
{
	return store_new_sid(st, sid);
}

int
sio_store_session_new(struct sio_store *st, const char *request, long long now,
                      char sid[SIO_SID_LEN + 1])
{
	if (store_new_sid(st, sid) != SIO_OK)
		return SIO_ERR;
	return sio_store_session_add(st, sid, request, now);
}

int
sio_store_session_add(struct sio_store *st, const char *sid,
                      const char *request, long long now)
{
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_run(
	    st, store_prep(st, SQL_SESSION_NEW, "tit", sid, now, request));
	if (rc == SIO_OK)
		rc = store_run(st, store_prep(st, SQL_EP_ADD, "ttt", sid, "",
		                              (const char *)NULL));
	return store_tx_end(st, own, rc);
}

int
sio_store_sessions_live(struct sio_store *st, const char *remote, int max,
                        int *all, int *of_remote)
{
	long long n = 0;
	int rc;

	rc = store_int(st, store_prep(st, SQL_COUNTER_GET, "t",
	                              "sessions_active"),
	               &n);
	if (rc == SIO_ERR)
		return SIO_ERR;
	*all = rc == SIO_OK ? (int)n : 0;
	n = 0;
	if (store_int(st, store_prep(st, SQL_LIVE_OF, "ti", remote, (long long)max),
	              &n) == SIO_ERR)
		return SIO_ERR;
	*of_remote = (int)n;
	return SIO_OK;
}

static int
store_parse(const char *const *names, int n, const unsigned char *word)
{
	int i;

	for (i = 0; word != NULL && i < n; i++)
		if (strcmp(names[i], (const char *)word) == 0)
			return i;
	return -1;
}

static int
store_state(sqlite3_stmt *s, int col)
{
	int state = store_parse(store_states, 4, sqlite3_column_text(s, col));

	return state < 0 ? SIO_SESSION_CLOSED : state;
}

static int
store_transport(sqlite3_stmt *s, int col)
{
	return store_parse(store_transports, SIO_TRANSPORT_COUNT,
	                   sqlite3_column_text(s, col));
}

/* Reads the SESSION_COLS of a row, from column col on, into out. */
static void
store_session_row(sqlite3_stmt *s, int col, struct sio_store_session *out)
{
	const unsigned char *t;

	out->state = store_state(s, col);
	out->transport = store_transport(s, col + 1);
	t = sqlite3_column_text(s, col + 2);
	snprintf(out->holder, sizeof(out->holder), "%s",
	         t ? (const char *)t : "");
	out->holder_conn = sqlite3_column_int64(s, col + 3);
	out->created = sqlite3_column_int64(s, col + 4);
	out->last_recv = sqlite3_column_int64(s, col + 5);
	out->detached_at = sqlite3_column_int64(s, col + 6);
	out->closed_at = sqlite3_column_int64(s, col + 7);
	t = sqlite3_column_text(s, col + 8);
	snprintf(out->close_reason, sizeof(out->close_reason), "%s",
	         t ? (const char *)t : "");
}

/* Steps s (a query by sid) onto the session's row: SIO_OK there,
 * SIO_AGAIN when there is none (s reset), SIO_ERR. */
static int
store_session_step(struct sio_store *st, sqlite3_stmt *s)
{
	int rc;

	if (s == NULL || (rc = store_step(st, s)) == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		store_fail(st, "no such session");
		return SIO_AGAIN;
	}
	return SIO_OK;
}

int
sio_store_session_get(struct sio_store *st, const char *sid,
                      struct sio_store_session *out)
{
	sqlite3_stmt *s = store_prep(st, SQL_SESSION_GET, "t", sid);
	int rc, failed = 0;

	memset(out, 0, sizeof(*out));
	if ((rc = store_session_step(st, s)) != SIO_OK)
		return rc;
	snprintf(out->sid, sizeof(out->sid), "%s", sid);
	store_session_row(s, 0, out);
	out->request = store_column_dup(s, 9, &failed);
	sqlite3_reset(s);
	if (failed)
		return store_fail(st, "out of memory");
	return SIO_OK;
}

int
sio_store_session_state(struct sio_store *st, const char *sid,
                        long long *last_recv)
{
	sqlite3_stmt *s = store_prep(st, SQL_SESSION_STATE, "t", sid);
	int rc;

	if ((rc = store_session_step(st, s)) != SIO_OK)
		return rc;
	rc = (int)store_state(s, 0);
	*last_recv = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	return rc;
}

void
sio_store_session_cleanup(struct sio_store_session *s)
{
	free(s->request);
	s->request = NULL;
}

/* Reads what attach replaces; the previous holder is rung unless it is
 * (holder, conn) itself. SIO_OK, SIO_AGAIN (absent or closed), SIO_ERR. */
static int
store_attach_prev(struct sio_store *st, const char *sid, const char *holder,
                  long long conn, int *hello)
{
	sqlite3_stmt *s = store_prep(st, SQL_ATTACH_GET, "t", sid);
	const unsigned char *prev;
	int rc;

	if (s == NULL || (rc = store_step(st, s)) == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_DONE || store_state(s, 0) == SIO_SESSION_CLOSED) {
		sqlite3_reset(s);
		store_fail(st, "no such session");
		return SIO_AGAIN;
	}
	*hello = sqlite3_column_int(s, 4) == 0;
	prev = sqlite3_column_text(s, 2);
	if (prev != NULL && (strcmp((const char *)prev, holder) != 0 ||
	                     sqlite3_column_int64(s, 3) != conn))
		store_bell_add(st, prev, sid);
	sqlite3_reset(s);
	return SIO_OK;
}

int
sio_store_attach(struct sio_store *st, const char *sid, int transport,
                 const char *holder, long long conn, long long now,
                 int *hello)
{
	int own, rc;

	if (transport < 0 || transport >= SIO_TRANSPORT_COUNT)
		return store_fail(st, "bad transport %d", transport);
	if (strlen(holder) >= SIO_HOLDER_LEN)
		return store_fail(st, "holder name too long");
	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_attach_prev(st, sid, holder, conn, hello);
	if (rc == SIO_OK)
		rc = store_run(st, store_prep(st, SQL_ATTACH, "tttii", sid,
		                              store_transports[transport],
		                              holder, conn, now));
	if (rc == SIO_OK)
		rc = store_run(st, store_prep(st, SQL_COUNTER_ADD, "ti",
		                              "connections_opened", 1LL));
	return store_tx_end(st, own, rc);
}

int
sio_store_detach(struct sio_store *st, const char *sid, const char *holder,
                 long long conn, long long now)
{
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_run(
	    st, store_prep(st, SQL_DETACH, "itti", now, sid, holder, conn));
	return store_tx_end(st, own, rc);
}

int
sio_store_hello_sent(struct sio_store *st, const char *sid, int sent)
{
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_run(st, store_prep(st, SQL_HELLO_SENT, "ti", sid,
	                              (long long)(sent != 0)));
	return store_tx_end(st, own, rc);
}

int
sio_store_is_holder(struct sio_store *st, const char *sid, const char *holder,
                    long long conn)
{
	return sio_store_holder_state(st, sid, holder, conn) >= 0;
}

int
sio_store_holder_state(struct sio_store *st, const char *sid,
                       const char *holder, long long conn)
{
	sqlite3_stmt *s =
	    store_prep(st, SQL_HOLDER_STATE, "tti", sid, holder, conn);
	int rc;

	if ((rc = store_session_step(st, s)) != SIO_OK)
		return rc;
	rc = (int)store_state(s, 0);
	sqlite3_reset(s);
	return rc;
}

int
sio_store_touch(struct sio_store *st, const char *sid, long long now)
{
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_run(st, store_prep(st, SQL_TOUCH, "ti", sid, now));
	return store_tx_end(st, own, rc);
}

/* Queues a ring for sid's holder, if it has one. */
static int
store_ring_holder(struct sio_store *st, const char *sid)
{
	sqlite3_stmt *s = store_prep(st, SQL_HOLDER, "t", sid);
	int rc;

	if (s == NULL || (rc = store_step(st, s)) == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_ROW)
		store_bell_add(st, sqlite3_column_text(s, 0), sid);
	sqlite3_reset(s);
	return SIO_OK;
}

/* Queues a ring for sid's holder, if it has one and it is not (holder,
 * conn). */
static int
store_ring_other(struct sio_store *st, const char *sid, const char *holder,
                 long long conn)
{
	sqlite3_stmt *s =
	    store_prep(st, SQL_HOLDER_OTHER, "tti", sid, holder, conn);
	int rc;

	if (s == NULL || (rc = store_step(st, s)) == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_ROW)
		store_bell_add(st, sqlite3_column_text(s, 0), sid);
	sqlite3_reset(s);
	return SIO_OK;
}

int
sio_store_session_end(struct sio_store *st, const char *sid, const char *reason,
                      long long now)
{
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_run(st, store_prep(st, SQL_END, "tit", sid, now, reason));
	if (rc == SIO_OK && sqlite3_changes(st->db) == 1) {
		rc = store_ring_holder(st, sid);
		if (rc == SIO_OK)
			rc = 1;
	}
	return store_tx_end(st, own, rc);
}

int
sio_store_session_forget(struct sio_store *st, const char *sid)
{
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_run(st, store_prep(st, SQL_FORGET, "t", sid));
	return store_tx_end(st, own, rc);
}

int
sio_store_session_gone(struct sio_store *st, const char *sid)
{
	sqlite3_stmt *s = store_prep(st, SQL_GONE, "t", sid);
	int rc;

	if ((rc = store_session_step(st, s)) != SIO_OK)
		return rc == SIO_AGAIN ? 1 : SIO_ERR;
	rc = sqlite3_column_int(s, 0) != 0;
	sqlite3_reset(s);
	return rc;
}

int
sio_store_session_purge(struct sio_store *st, const char *sid)
{
	static const enum store_sql del[] = {SQL_PURGE_ENDPOINTS,
	                                     SQL_PURGE_ROOMS, SQL_PURGE_DATA,
	                                     SQL_PURGE_ACKS};
	size_t i;
	int own, rc = SIO_OK;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	for (i = 0; i < sizeof(del) / sizeof(del[0]) && rc == SIO_OK; i++)
		rc = store_run(st, store_prep(st, del[i], "t", sid));
	return store_tx_end(st, own, rc);
}

/* Free pages kept for the next inserts; beyond them the sweep gives the
 * file's free pages back to the system (incremental auto_vacuum), so a
 * flood of handshakes does not leave the file at its peak size. */
#define STORE_FREE_KEEP 512

/* Truncates the file by its free pages beyond STORE_FREE_KEEP (a no-op
 * for a file without incremental auto_vacuum). SIO_OK or SIO_ERR. */
static int
store_give_back(struct sio_store *st)
{
	char buf[64];
	sqlite3_stmt *s;
	long long n;
	int rc;

	if (store_pragma(st, "PRAGMA freelist_count", buf, sizeof(buf)) !=
	    SIO_OK)
		return SIO_ERR;
	n = atoll(buf) - STORE_FREE_KEEP;
	if (n <= 0)
		return SIO_OK;
	snprintf(buf, sizeof(buf), "PRAGMA incremental_vacuum(%lld)", n);
	if (sqlite3_prepare_v2(st->db, buf, -1, &s, NULL) != SQLITE_OK)
		return store_sqlfail(st);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE || (rc & 0xff) == SQLITE_BUSY)
		return SIO_OK; /* busy: the next sweep does it */
	return store_sqlfail(st);
}

int
sio_store_cleanup(struct sio_store *st, long long before)
{
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_run(st, store_prep(st, SQL_CLEANUP, "i", before));
	if (rc == SIO_OK)
		rc = sqlite3_changes(st->db);
	rc = store_tx_end(st, own, rc);
	if (rc >= 0 && own && store_give_back(st) != SIO_OK)
		return SIO_ERR;
	return rc;
}

/* Queues a ring for the holder in column 1 of every row of s (sid in
 * column 0). */
static int
store_ring_rows(struct sio_store *st, sqlite3_stmt *s)
{
	int rc;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = store_step(st, s)) == SQLITE_ROW)
		store_bell_add(st, sqlite3_column_text(s, 1),
		               (const char *)sqlite3_column_text(s, 0));
	if (rc == SQLITE_ERROR)
		return SIO_ERR;
	sqlite3_reset(s);
	return SIO_OK;
}

int
sio_store_heartbeat_due(struct sio_store *st, long long now,
                        long long interval_ms, const char *holder,
                        long long others_late_ms)
{
	long long due = now - interval_ms, max = st->max_queue;
	long long others =
	    others_late_ms < 0 ? LLONG_MIN : due - others_late_ms;
	int own, rc, n = 0;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_ring_rows(st, store_prep(st, SQL_HB_SELECT, "iiiti", due,
	                                    max, now, holder, others));
	if (rc == SIO_OK)
		rc = store_run(st, store_prep(st, SQL_HB_INSERT, "iiiti", due,
		                              max, now, holder, others));
	if (rc == SIO_OK) {
		n = sqlite3_changes(st->db);
		rc = store_run(st, store_prep(st, SQL_HB_UPDATE, "iiiti", due,
		                              max, now, holder, others));
	}
	return store_tx_end(st, own, rc == SIO_OK ? n : rc);
}

static int
store_expired_list(struct sio_store *st, sqlite3_stmt *s,
                   char (*sids)[SIO_SID_LEN + 1], const char **reasons)
{
	const unsigned char *sid;
	int rc, n = 0;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = store_step(st, s)) == SQLITE_ROW) {
		sid = sqlite3_column_text(s, 0);
		if (sid == NULL || strlen((const char *)sid) > SIO_SID_LEN)
			continue; /* not one of ours; never a session to end */
		strcpy(sids[n], (const char *)sid);
		reasons[n++] = store_state(s, 1) == SIO_SESSION_OPEN
		                   ? "heartbeat timeout"
		                   : "close timeout";
	}
	if (rc == SQLITE_ERROR)
		return SIO_ERR;
	sqlite3_reset(s);
	return n;
}

int
sio_store_expired(struct sio_store *st, long long now, long long hb_timeout_ms,
                  long long close_timeout_ms, char (*sids)[SIO_SID_LEN + 1],
                  const char **reasons, int max)
{
	int own, rc;

	if (max <= 0)
		return 0;
	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	/* A holder that unregistered (or was removed) holds nothing: its
	 * sessions start their close timeout now. */
	rc = store_run(st, store_prep(st, SQL_GONE_DETACH, "i", now));
	if (rc == SIO_OK)
		rc = store_ring_rows(st, store_prep(st, SQL_GONE_HOLDERS, ""));
	if (rc == SIO_OK)
		rc = store_run(st, store_prep(st, SQL_GONE_RELEASE, ""));
	if (rc == SIO_OK)
		rc = store_expired_list(
		    st,
		    store_prep(st, SQL_EXPIRED, "iii", now - hb_timeout_ms,
		               now - close_timeout_ms, (long long)max),
		    sids, reasons);
	return store_tx_end(st, own, rc);
}

int
sio_store_clock_check(struct sio_store *st, const char *boot, long long wall,
                      long long mono, long long *step)
{
	sqlite3_stmt *s;
	long long d = 0, e = 0, lo;
	int own, rc, same = 0;

	*step = 0;
	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	s = store_prep(st, SQL_CLOCK_GET, "");
	if (s == NULL || (rc = store_step(st, s)) == SQLITE_ERROR)
		return store_tx_end(st, own, SIO_ERR);
	/* another boot, or a boot clock gone back (no boot id): no step to
	 * measure, only a new pair to store */
	if (rc == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL &&
	    strcmp((const char *)sqlite3_column_text(s, 0), boot) == 0 &&
	    mono >= sqlite3_column_int64(s, 2)) {
		e = mono - sqlite3_column_int64(s, 2);
		d = (wall - sqlite3_column_int64(s, 1)) - e;
		same = 1;
	}
	sqlite3_reset(s);
	rc = SIO_OK;
	if (same && (d >= SIO_CLOCK_STEP_MS || d <= -SIO_CLOCK_STEP_MS)) {
		/* the step came after the last check: what was written
		 * since may be on the new clock */
		lo = wall - (e < SIO_CLOCK_BAND_MS ? e : SIO_CLOCK_BAND_MS);
		rc = store_run(st, store_prep(st, SQL_CLOCK_SESSIONS, "iii", d,
		                              lo, wall));
		if (rc == SIO_OK)
			rc = store_run(st, store_prep(st, SQL_CLOCK_OUTBOX,
			                              "iii", d, lo, wall));
		if (rc == SIO_OK)
			rc = store_run(st, store_prep(st, SQL_CLOCK_PROCESSES,
			                              "iii", d, lo, wall));
		if (rc == SIO_OK)
			rc = store_run(st, store_prep(st, SQL_CLOCK_SAMPLES,
			                              "iii", d, lo, wall));
		if (rc == SIO_OK)
			*step = d;
	}
	if (rc == SIO_OK)
		rc = store_run(st, store_prep(st, SQL_CLOCK_PUT, "tii", boot,
		                              wall, mono));
	return store_tx_end(st, own, rc);
}

/* --- the outbox ------------------------------------------------------- */

static int store_write(struct sio_store *st, sqlite3_stmt *s);

/* Whether a transport can write the packet: text the client can read,
 * valid UTF-8 and not empty. siogate's writers refuse others where they
 * enter; a row written with SQL by something else is checked when read. */
static int
store_packet_ok(const char *pkt, size_t len)
{
	return pkt != NULL && len > 0 && sio_payload_utf16_len(pkt, len) >= 0;
}

/* siogate_packet_ok(packet) in SQL: store_packet_ok(). */
static void
store_sql_packet_ok(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *pkt = (const char *)sqlite3_value_text(argv[0]);

	(void)argc;
	sqlite3_result_int(
	    ctx, store_packet_ok(pkt, (size_t)sqlite3_value_bytes(argv[0])));
}

void
sio_store_outbox_set_due(struct sio_store *st, long long due)
{
	st->due = due;
}

/* Whether sid takes one more packet: SIO_OK (*holder set, or NULL),
 * SIO_AGAIN absent or closed, SIO_ERR full or failed. holder is a copy
 * the caller frees. */
static int
store_put_check(struct sio_store *st, const char *sid, int flags,
                char **holder, long long *conn, long long *queued)
{
	sqlite3_stmt *s = store_prep(st, SQL_PUT_CHECK, "t", sid);
	int rc, failed = 0;

	*holder = NULL;
	*queued = 0;
	if (s == NULL || (rc = store_step(st, s)) == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_DONE || store_state(s, 0) == SIO_SESSION_CLOSED) {
		sqlite3_reset(s);
		store_fail(st, "no such session");
		return SIO_AGAIN;
	}
	/* a volatile packet with no transport attached is dropped whatever
	 * the queue holds: SIO_OK, as socket.io 0.9 drops it */
	if (sqlite3_column_int64(s, 2) >= st->max_queue &&
	    !((flags & SIO_STORE_VOLATILE) &&
	      sqlite3_column_type(s, 1) == SQLITE_NULL)) {
		sqlite3_reset(s);
		store_fail(st, "queue full");
		return SIO_STORE_FULL;
	}
	*holder = store_column_dup(s, 1, &failed);
	*queued = sqlite3_column_int64(s, 2);
	*conn = sqlite3_column_int64(s, 3);
	sqlite3_reset(s);
	return failed ? store_fail(st, "out of memory") : SIO_OK;
}

/* Whether a packet for sid, held by (holder, conn) with queued packets
 * in its outbox, can skip the outbox: the direct path. */
static int
store_direct_ok(struct sio_store *st, const char *sid, const char *holder,
                long long conn, long long queued)
{
	return st->direct_accept != NULL && queued == 0 && st->due == 0 &&
	       holder != NULL && strcmp(holder, st->direct_holder) == 0 &&
	       st->direct_accept(st->direct_udata, sid, conn,
	                         store_direct_staged(st, sid));
}

int
sio_store_outbox_room(struct sio_store *st, const char *sid, int *room,
                      int *attached)
{
	sqlite3_stmt *s = store_prep(st, SQL_PUT_CHECK, "t", sid);
	int rc;

	*room = 0;
	*attached = 0;
	if (s == NULL || (rc = store_step(st, s)) == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_DONE || store_state(s, 0) == SIO_SESSION_CLOSED) {
		sqlite3_reset(s);
		return SIO_AGAIN;
	}
	if (sqlite3_column_int64(s, 2) < st->max_queue)
		*room = st->max_queue - (int)sqlite3_column_int64(s, 2);
	*attached = sqlite3_column_type(s, 1) != SQLITE_NULL;
	sqlite3_reset(s);
	return SIO_OK;
}

int
sio_store_outbox_put(struct sio_store *st, const char *sid, const char *pkt,
                     size_t len, int flags)
{
	long long conn = 0, queued = 0;
	char *holder = NULL;
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_put_check(st, sid, flags, &holder, &conn, &queued);
	if (rc == SIO_OK && store_direct_ok(st, sid, holder, conn, queued)) {
		rc = store_direct_add(st, sid, conn, pkt, len);
	} else if (rc == SIO_OK &&
	           (holder != NULL || !(flags & SIO_STORE_VOLATILE))) {
		rc = store_run(st, store_prep(st, SQL_PUT, "tbii", sid, pkt,
		                              len, store_now(), st->due));
		if (rc == SIO_OK)
			store_bell_add(st, (const unsigned char *)holder, sid);
	}
	free(holder);
	return store_tx_end(st, own, rc);
}

int
sio_store_outbox_broadcast(struct sio_store *st, const char *endpoint,
                           const char *room, const char *exclude_sid,
                           const char *pkt, size_t len, int flags)
{
	long long vol = (flags & SIO_STORE_VOLATILE) != 0, max = st->max_queue;
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_ring_rows(st,
	                     store_prep(st, SQL_BCAST_SELECT, "tttii", endpoint,
	                                room, exclude_sid, vol, max));
	if (rc == SIO_OK)
		rc = store_run(st,
		               store_prep(st, SQL_BCAST_INSERT, "tttiibii",
		                          endpoint, room, exclude_sid, vol, max,
		                          pkt, len, store_now(), st->due));
	if (rc == SIO_OK)
		rc = sqlite3_changes(st->db);
	return store_tx_end(st, own, rc);
}

/* Whether row s (SQL_PEEK) is taken by someone other than (holder,
 * conn); holder NULL: by anyone. */
static int
store_taken_by_other(sqlite3_stmt *s, const char *holder, long long conn)
{
	const char *by = (const char *)sqlite3_column_text(s, 2);

	if (by == NULL)
		return 0;
	return holder == NULL || strcmp(by, holder) != 0 ||
	       sqlite3_column_type(s, 3) == SQLITE_NULL ||
	       sqlite3_column_int64(s, 3) != conn;
}

/*
 * Delivery is in order: a packet that another writer has taken may yet
 * be handed back (its process died before writing it, and is reaped when
 * its lease lapses), so nothing after it goes out before it is done with;
 * that writer's done, release or reaping rings the session's holder.
 * Packets (holder, conn) took itself are being written by it: passed
 * over.
 */
int
sio_store_outbox_peek(struct sio_store *st, const char *sid, long long now,
                      size_t max, const char *holder, long long conn,
                      int (*fn)(void *udata, const char *pkt, size_t len),
                      void *udata, long long *last_seq)
{
	sqlite3_stmt *s;
	const char *pkt;
	size_t len;
	int rc = SQLITE_DONE, n = 0;

	*last_seq = 0;
	st->bad = st->bad_last = 0;
	st->blocked = 0;
	/* No LIMIT (-1): rows that cannot be written do not count, and the
	 * index walks in seq order, so the steps stop where max is reached. */
	s = store_prep(st, SQL_PEEK, "tii", sid, (long long)-1, now);
	if (s == NULL)
		return SIO_ERR;
	while ((size_t)n < max && (rc = store_step(st, s)) == SQLITE_ROW) {
		if (sqlite3_column_type(s, 2) != SQLITE_NULL) {
			if (store_taken_by_other(s, holder, conn)) {
				st->blocked = 1;
				break;
			}
			continue;
		}
		pkt = (const char *)sqlite3_column_text(s, 1);
		len = (size_t)sqlite3_column_bytes(s, 1);
		if (!store_packet_ok(pkt, len)) {
			st->bad++;
			st->bad_last = sqlite3_column_int64(s, 0);
			continue;
		}
		if (fn(udata, pkt, len) != SIO_OK)
			break;
		*last_seq = sqlite3_column_int64(s, 0);
		n++;
	}
	if (rc == SQLITE_ERROR)
		return SIO_ERR;
	sqlite3_reset(s);
	return n;
}

int
sio_store_outbox_blocked(struct sio_store *st)
{
	return st->blocked;
}

int
sio_store_outbox_next_due(struct sio_store *st, const char *sid, long long now,
                          long long *due)
{
	sqlite3_stmt *s = store_prep(st, SQL_NEXT_DUE, "ti", sid, now);
	int rc;

	if (s == NULL)
		return SIO_ERR;
	rc = store_step(st, s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return SIO_ERR;
	}
	rc = sqlite3_column_type(s, 0) == SQLITE_NULL ? SIO_AGAIN : SIO_OK;
	if (rc == SIO_OK)
		*due = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc;
}

int
sio_store_outbox_ready(struct sio_store *st, const char *holder, long long now,
                       void (*fn)(void *udata, const char *sid), void *udata)
{
	sqlite3_stmt *s = store_prep(st, SQL_READY, "ti", holder, now);
	int rc, n = 0;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = store_step(st, s)) == SQLITE_ROW) {
		fn(udata, (const char *)sqlite3_column_text(s, 0));
		n++;
	}
	if (rc == SQLITE_ERROR)
		return SIO_ERR;
	sqlite3_reset(s);
	return n;
}

/* After a delete of written packets (rc its result): adds the rows it
 * deleted to packets_sent, in the same transaction. */
static int
store_count_sent(struct sio_store *st, int rc)
{
	long long n;

	if (rc != SIO_OK)
		return rc;
	n = sqlite3_changes64(st->db);
	if (n == 0)
		return SIO_OK;
	return sio_store_counter_add(st, "packets_sent", n);
}

int
sio_store_outbox_del(struct sio_store *st, const char *sid, long long now,
                     long long last_seq)
{
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_run(st, store_prep(st, SQL_DEL, "tii", sid, last_seq, now));
	rc = store_count_sent(st, rc);
	return store_tx_end(st, own, rc);
}

/*
 * Deletes sid's rows up to seq that no transport could write (what the
 * last peek skipped, st->bad of them): rows written by something else
 * with SQL. Sets st->dropped. Prepared here, not kept: it is the rare
 * path. SIO_OK or SIO_ERR.
 */
static int
store_drop_bad(struct sio_store *st, const char *sid, long long seq)
{
	static const char sql[] =
	    "DELETE FROM outbox WHERE sid = ?1 AND seq <= ?2"
	    " AND taken_by IS NULL AND NOT siogate_packet_ok(packet)";
	sqlite3_stmt *s = NULL;
	int rc = SIO_ERR;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(s, 1, sid, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(s, 2, seq) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_DONE) {
		st->dropped = sqlite3_changes(st->db);
		rc = SIO_OK;
	} else {
		store_sqlfail(st);
	}
	sqlite3_finalize(s);
	return rc;
}

int
sio_store_outbox_take(struct sio_store *st, const char *sid, long long now,
                      size_t max, const char *holder, long long conn,
                      int (*fn)(void *udata, const char *pkt, size_t len),
                      void *udata)
{
	long long last_seq;
	int own, n, rc;

	st->dropped = 0;
	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	n = sio_store_outbox_peek(st, sid, now, max, holder, conn, fn, udata,
	                          &last_seq);
	rc = n < 0 ? SIO_ERR : SIO_OK;
	if (rc == SIO_OK && st->bad > 0)
		rc = store_drop_bad(st, sid, st->bad_last);
	if (rc == SIO_OK && n > 0)
		rc = store_run(st, store_prep(st, SQL_TAKE, "titii", sid,
		                              last_seq, holder, conn, now));
	rc = store_tx_end(st, own, rc);
	return rc == SIO_OK ? n : SIO_ERR;
}

int
sio_store_outbox_dropped(struct sio_store *st)
{
	return st->dropped;
}

int
sio_store_outbox_done(struct sio_store *st, const char *sid, const char *holder,
                      long long conn)
{
	int own, rc, n;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_run(st,
	               store_prep(st, SQL_TAKEN_DEL, "tti", sid, holder, conn));
	n = rc == SIO_OK ? sqlite3_changes(st->db) : 0;
	rc = store_count_sent(st, rc);
	/* a holder other than this writer may wait for them to be done */
	if (rc == SIO_OK && n > 0)
		rc = store_ring_other(st, sid, holder, conn);
	return store_tx_end(st, own, rc);
}

int
sio_store_outbox_release(struct sio_store *st, const char *sid,
                         const char *holder, long long conn)
{
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_run(
	    st, store_prep(st, SQL_TAKEN_RELEASE, "tti", sid, holder, conn));
	if (rc == SIO_OK) /* the current holder may be waiting for them */
		rc = store_ring_holder(st, sid);
	return store_tx_end(st, own, rc);
}

int
sio_store_outbox_count(struct sio_store *st, const char *sid)
{
	long long n = 0;

	if (store_int(st, store_prep(st, SQL_COUNT, "t", sid), &n) == SIO_ERR)
		return SIO_ERR;
	return (int)n;
}

/* --- endpoints, data, rooms, acks, counters --------------------------- */

/* Runs one write statement in a transaction of its own when needed. */
static int
store_write(struct sio_store *st, sqlite3_stmt *s)
{
	int own, rc;

	if (s == NULL)
		return SIO_ERR;
	if (store_tx_begin(st, &own) != SIO_OK) {
		sqlite3_reset(s);
		return SIO_ERR;
	}
	rc = store_run(st, s);
	return store_tx_end(st, own, rc);
}

int
sio_store_endpoint_add(struct sio_store *st, const char *sid,
                       const char *endpoint, const char *query)
{
	return store_write(
	    st, store_prep(st, SQL_EP_ADD, "ttt", sid, endpoint, query));
}

int
sio_store_endpoint_del(struct sio_store *st, const char *sid,
                       const char *endpoint)
{
	return store_write(st, store_prep(st, SQL_EP_DEL, "tt", sid, endpoint));
}

int
sio_store_endpoint_has(struct sio_store *st, const char *sid,
                       const char *endpoint)
{
	long long one;
	int rc = store_int(st, store_prep(st, SQL_EP_HAS, "tt", sid, endpoint),
	                   &one);

	return rc == SIO_ERR ? SIO_ERR : rc == SIO_OK;
}

int
sio_store_endpoint_list(struct sio_store *st, const char *sid,
                        void (*fn)(void *udata, const char *endpoint,
                                   const char *query),
                        void *udata)
{
	sqlite3_stmt *s = store_prep(st, SQL_EP_LIST, "t", sid);
	int rc, n = 0;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = store_step(st, s)) == SQLITE_ROW) {
		fn(udata, (const char *)sqlite3_column_text(s, 0),
		   (const char *)sqlite3_column_text(s, 1));
		n++;
	}
	if (rc == SQLITE_ERROR)
		return SIO_ERR;
	sqlite3_reset(s);
	return n;
}

char *
sio_store_data_get(struct sio_store *st, const char *sid, const char *key)
{
	sqlite3_stmt *s = store_prep(st, SQL_DATA_GET, "tt", sid, key);
	char *value = NULL;
	int rc, failed = 0;

	if (s == NULL || (rc = store_step(st, s)) == SQLITE_ERROR)
		return NULL;
	st->errmsg[0] = '\0';
	if (rc == SQLITE_ROW)
		value = store_column_dup(s, 0, &failed);
	sqlite3_reset(s);
	if (failed)
		store_fail(st, "out of memory");
	return value;
}

int
sio_store_data_put(struct sio_store *st, const char *sid, const char *key,
                   const char *value)
{
	if (value == NULL)
		return store_write(
		    st, store_prep(st, SQL_DATA_DEL, "tt", sid, key));
	return store_write(
	    st, store_prep(st, SQL_DATA_PUT, "ttt", sid, key, value));
}

int
sio_store_room_join(struct sio_store *st, const char *sid, const char *endpoint,
                    const char *room)
{
	return store_write(
	    st, store_prep(st, SQL_ROOM_JOIN, "ttt", sid, endpoint, room));
}

int
sio_store_room_leave(struct sio_store *st, const char *sid,
                     const char *endpoint, const char *room)
{
	if (room == NULL)
		return store_write(st, store_prep(st, SQL_ROOM_LEAVE_ALL, "tt",
		                                  sid, endpoint));
	return store_write(
	    st, store_prep(st, SQL_ROOM_LEAVE, "ttt", sid, endpoint, room));
}

long long
sio_store_ack_new(struct sio_store *st, const char *sid, const char *endpoint,
                  const char *handler, const char *event)
{
	long long id = 0;
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_int(st, store_prep(st, SQL_ACK_NEXT, "t", sid), &id);
	if (rc == SIO_AGAIN)
		rc = store_fail(st, "no such session");
	if (rc == SIO_OK)
		rc = store_run(st, store_prep(st, SQL_ACK_PUT, "tittti", sid,
		                              id, endpoint, handler, event,
		                              store_now()));
	rc = store_tx_end(st, own, rc);
	return rc == SIO_OK ? id : SIO_ERR;
}

/* Reads the handler and event of an ACK_TAKE row. */
static int
store_ack_row(struct sio_store *st, sqlite3_stmt *s, char **handler,
              char **event)
{
	int rc, failed = 0;

	if (s == NULL || (rc = store_step(st, s)) == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		store_fail(st, "no such ack");
		return SIO_AGAIN;
	}
	*handler = store_column_dup(s, 0, &failed);
	*event = store_column_dup(s, 1, &failed);
	while (store_step(st, s) == SQLITE_ROW)
		;
	sqlite3_reset(s);
	if (!failed)
		return SIO_OK;
	free(*handler);
	free(*event);
	*handler = *event = NULL;
	return store_fail(st, "out of memory");
}

int
sio_store_ack_take(struct sio_store *st, const char *sid, const char *endpoint,
                   long long id, char **handler, char **event)
{
	int own, rc;

	*handler = *event = NULL;
	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_ack_row(
	    st, store_prep(st, SQL_ACK_TAKE, "tit", sid, id, endpoint), handler,
	    event);
	rc = store_tx_end(st, own, rc);
	if (rc == SIO_ERR) {
		free(*handler);
		free(*event);
		*handler = *event = NULL;
	}
	return rc;
}

int
sio_store_ack_get(struct sio_store *st, const char *sid, const char *endpoint,
                  long long id, char **handler, char **event)
{
	*handler = *event = NULL;
	return store_ack_row(
	    st, store_prep(st, SQL_ACK_GET, "tit", sid, id, endpoint), handler,
	    event);
}

int
sio_store_counter_add(struct sio_store *st, const char *name, long long delta)
{
	/* deferred, the hot counters wait in memory */
	for (int i = 0; st->defer_counters && i < LATER_N; i++)
		if (strcmp(name, store_later_names[i]) == 0) {
			st->later[i] += delta;
			return SIO_OK;
		}
	return store_write(st,
	                   store_prep(st, SQL_COUNTER_ADD, "ti", name, delta));
}

int
sio_store_counter_get(struct sio_store *st, const char *name, long long *value)
{
	long long v = 0;
	int rc = store_int(st, store_prep(st, SQL_COUNTER_GET, "t", name), &v);

	if (rc == SIO_ERR)
		return SIO_ERR;
	for (int i = 0; i < LATER_N; i++)
		if (strcmp(name, store_later_names[i]) == 0)
			v += st->later[i]; /* this connection's, not flushed */
	*value = v;
	return SIO_OK;
}

/* --- processes ------------------------------------------------------- */

/*
 * A process's lease says when it is gone at the latest. Where the reaper
 * can see the process itself it need not wait: in the same pid space
 * (the same pid namespace, on the same boot of the same kernel, with a
 * /proc that shows that namespace), a pid that is gone, or whose process
 * started at another time than the registered one (the kernel gave the
 * pid again), is a process that died. Elsewhere (another container, a
 * /proc of another namespace) the pid says nothing and the lease alone
 * decides.
 */
#define STORE_SPACE_LEN 96

/* Reads the start time (clock ticks after boot, field 22) of pid from
 * /proc; pid 0: this process, with its pid in *seen. SIO_OK, SIO_AGAIN
 * when there is no such process, SIO_ERR when /proc cannot tell. */
static int
store_pid_start(long long pid, long long *start, long long *seen)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, i;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/stat");
	else
		snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? SIO_AGAIN : SIO_ERR;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n == 0 || errno == ESRCH ? SIO_AGAIN : SIO_ERR;
	buf[n] = '\0';
	if (seen != NULL)
		*seen = strtoll(buf, NULL, 10);
	/* the command name may hold spaces and parentheses: after the last
	 * ')' come field 3 (state) and the others */
	if ((p = strrchr(buf, ')')) == NULL)
		return SIO_ERR;
	for (i = 3; i <= 22 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return SIO_ERR;
	*start = strtoll(p + 1, NULL, 10);
	return SIO_OK;
}

/* This process's pid space ("<boot id>/<pid ns dev>:<inode>/<time ns
 * dev>:<inode>": start times in /proc are offset by the reader's time
 * namespace) and start time: SIO_OK, or SIO_AGAIN when it has none that
 * others could use (no /proc, or a /proc of another pid namespace). */
static int
store_pid_space(char space[STORE_SPACE_LEN], long long *start)
{
	char boot[64] = "";
	long long seen = -1;
	struct stat sb;
	ssize_t n;
	int fd;

	if (store_pid_start(0, start, &seen) != SIO_OK || seen != getpid() ||
	    stat("/proc/self/ns/pid", &sb) < 0)
		return SIO_AGAIN;
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return SIO_AGAIN;
	n = read(fd, boot, sizeof(boot) - 1);
	close(fd);
	if (n < 32)
		return SIO_AGAIN;
	boot[36 < n ? 36 : n] = '\0';
	n = snprintf(space, STORE_SPACE_LEN, "%s/%llu:%llu", boot,
	             (unsigned long long)sb.st_dev,
	             (unsigned long long)sb.st_ino);
	if (stat("/proc/self/ns/time", &sb) == 0 && n > 0 &&
	    n < STORE_SPACE_LEN)
		snprintf(space + n, STORE_SPACE_LEN - (size_t)n, "/%llu:%llu",
		         (unsigned long long)sb.st_dev,
		         (unsigned long long)sb.st_ino);
	return SIO_OK;
}

int
sio_store_process_register(struct sio_store *st, const char *name, int pid,
                           long long now)
{
	char space[STORE_SPACE_LEN];
	long long start = 0;
	int own, rc, known;

	/* the name is also a file name in the run directory */
	if (name[0] == '\0' || strlen(name) >= SIO_HOLDER_LEN ||
	    strchr(name, '/') != NULL)
		return store_fail(st, "bad process name");
	/* seen from its own pid space only when it is this process */
	known = pid == getpid() && store_pid_space(space, &start) == SIO_OK;
	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_run(st, store_prep(st, SQL_PROC_PUT, "tiiti", name,
	                              (long long)pid, now,
	                              known ? space : NULL, start));
	if (rc == SIO_OK && sqlite3_changes(st->db) == 0) {
		store_fail(st, "process name %s is taken", name);
		rc = SIO_AGAIN;
	}
	return store_tx_end(st, own, rc);
}

/* A name that is taken means a collision of 32 random bits: a few tries
 * are plenty. */
#define STORE_NAME_TRIES 8

int
sio_store_process_new(struct sio_store *st, const char *kind, int pid,
                      long long now, char name[SIO_HOLDER_LEN])
{
	char try[SIO_HOLDER_LEN];
	uint32_t r;
	int n, rc = SIO_AGAIN;

	for (int i = 0; rc == SIO_AGAIN && i < STORE_NAME_TRIES; i++) {
		if (store_random(st, &r, sizeof(r)) != SIO_OK)
			return SIO_ERR;
		n = snprintf(try, sizeof(try), "%s-%d-%08" PRIx32, kind, pid,
		             r);
		if (n < 0 || (size_t)n >= sizeof(try))
			return store_fail(st, "process kind too long");
		rc = sio_store_process_register(st, try, pid, now);
	}
	if (rc == SIO_OK)
		memcpy(name, try, sizeof(try));
	return rc == SIO_AGAIN ? SIO_ERR : rc;
}

int
sio_store_process_renew(struct sio_store *st, const char *name, long long now)
{
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_run(st, store_prep(st, SQL_PROC_RENEW, "ti", name, now));
	if (rc == SIO_OK && sqlite3_changes(st->db) == 0) {
		store_fail(st, "process %s is not registered", name);
		rc = SIO_AGAIN;
	}
	return store_tx_end(st, own, rc);
}

/* Removes a process: what it held is detached, what it was writing is
 * released for the next transport. */
static int
store_proc_forget(struct sio_store *st, const char *name, long long now)
{
	int rc = store_run(st, store_prep(st, SQL_PROC_DEL, "t", name));

	if (rc == SIO_OK)
		rc = store_run(
		    st, store_prep(st, SQL_PROC_DETACH, "it", now, name));
	/* the sessions' new holders wait for what it had taken */
	if (rc == SIO_OK)
		rc = store_ring_rows(
		    st, store_prep(st, SQL_PROC_HOLDERS, "t", name));
	if (rc == SIO_OK)
		rc = store_run(st, store_prep(st, SQL_PROC_RELEASE, "t", name));
	return rc;
}

int
sio_store_process_unregister(struct sio_store *st, const char *name,
                             long long now)
{
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_proc_forget(st, name, now);
	return store_tx_end(st, own, rc);
}

/* A row of SQL_PROC_LIST: 1 when its process is gone (its lease lapsed,
 * or its pid, seen from its own pid space, is no longer its process). */
static int
store_proc_gone(sqlite3_stmt *s)
{
	long long pid = sqlite3_column_int64(s, 2), start;

	if (sqlite3_column_int(s, 1))
		return 1;
	if (pid <= 0)
		return 0; /* not a pid: the lease will tell */
	switch (store_pid_start(pid, &start, NULL)) {
	case SIO_AGAIN:
		return 1;
	case SIO_OK:
		return start != sqlite3_column_int64(s, 3);
	default:
		return 0; /* /proc cannot tell: the lease will */
	}
}

/*
 * A pid alone is no proof of life: it says nothing about a process in
 * another pid namespace (a container sharing the database), and a pid the
 * kernel gave again to another program would keep a dead process alive
 * for ever. The lease decides, and where the reaper sees the process's
 * pid space, the pid with its start time (store_pid_space()).
 */
int
sio_store_reap(struct sio_store *st, long long now, long long lease_ms)
{
	char(*dead)[SIO_HOLDER_LEN] = NULL, (*more)[SIO_HOLDER_LEN];
	char space[STORE_SPACE_LEN];
	long long start;
	int own, rc, n = 0;
	sqlite3_stmt *s;

	if (store_pid_space(space, &start) != SIO_OK)
		space[0] = '\0'; /* matches no row: the leases alone */
	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	s = store_prep(st, SQL_PROC_LIST, "it", now - lease_ms, space);
	rc = s ? SIO_OK : SIO_ERR;
	while (rc == SIO_OK && (rc = store_step(st, s)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(s, 0);
		rc = SIO_OK;
		if (name == NULL ||
		    strlen((const char *)name) >= SIO_HOLDER_LEN ||
		    !store_proc_gone(s))
			continue;
		if ((more = realloc(dead, (n + 1) * sizeof(*dead))) == NULL) {
			rc = store_fail(st, "out of memory");
			break;
		}
		dead = more;
		snprintf(dead[n++], SIO_HOLDER_LEN, "%s", (const char *)name);
	}
	if (s)
		sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		rc = SIO_OK;
	else if (rc != SIO_OK)
		rc = SIO_ERR;
	for (int i = 0; rc == SIO_OK && i < n; i++) {
		rc = store_proc_forget(st, dead[i], now);
		/* its doorbell file goes after the commit */
		store_bell_add(st, (const unsigned char *)dead[i], "");
	}
	free(dead);
	rc = store_tx_end(st, own, rc);
	return rc == SIO_OK ? n : SIO_ERR;
}

/* --- listings for operators (sioctl) ------------------------------------ */

/*
 * The listings are rare (an operator's command), so their statements are
 * prepared per call rather than kept with the hot ones. Prepares sql and
 * binds sid (may be NULL) to ?1 when the statement has a parameter.
 */
static sqlite3_stmt *
store_adhoc(struct sio_store *st, const char *sql, const char *sid)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		store_sqlfail(st);
		return NULL;
	}
	if (sqlite3_bind_parameter_count(s) > 0 &&
	    (sid ? sqlite3_bind_text(s, 1, sid, -1, SQLITE_STATIC)
	         : sqlite3_bind_null(s, 1)) != SQLITE_OK) {
		store_sqlfail(st);
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

/* Finalizes an adhoc statement after stepping ended with rc; returns n
 * when the rows ran out, SIO_ERR when a step failed. */
static int
store_adhoc_end(struct sio_store *st, sqlite3_stmt *s, int rc, int n)
{
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		store_sqlfail(st);
		n = SIO_ERR;
	}
	sqlite3_finalize(s);
	return n;
}

const char *
sio_store_state_name(enum sio_session_state state)
{
	assert((unsigned)state <= SIO_SESSION_CLOSED);
	return store_states[state];
}

static void
store_summary_row(sqlite3_stmt *s, struct sio_store_summary *out)
{
	const unsigned char *t = sqlite3_column_text(s, 0);

	memset(out, 0, sizeof(*out));
	snprintf(out->session.sid, sizeof(out->session.sid), "%s",
	         t ? (const char *)t : "");
	store_session_row(s, 1, &out->session);
	out->queue = sqlite3_column_int64(s, 10);
}

int
sio_store_session_list(struct sio_store *st, const char *sid,
                       int (*fn)(void *udata,
                                 const struct sio_store_summary *s),
                       void *udata)
{
	static const char sql[] =
	    "SELECT sid, " SESSION_COLS ", (SELECT count(*) FROM outbox o"
	    " WHERE o.sid = s.sid) FROM sessions s"
	    " WHERE ?1 IS NULL OR s.sid = ?1 ORDER BY s.created, s.sid";
	struct sio_store_summary sum;
	sqlite3_stmt *s = store_adhoc(st, sql, sid);
	int rc, n = 0;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		store_summary_row(s, &sum);
		if (fn(udata, &sum) != SIO_OK)
			break;
		n++;
	}
	return store_adhoc_end(st, s, rc, n);
}

int
sio_store_room_list(struct sio_store *st, const char *sid,
                    void (*fn)(void *udata, const char *endpoint,
                               const char *room),
                    void *udata)
{
	sqlite3_stmt *s = store_adhoc(st,
	                              "SELECT endpoint, room FROM rooms"
	                              " WHERE sid = ?1 ORDER BY endpoint, room",
	                              sid);
	int rc, n = 0;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		fn(udata, (const char *)sqlite3_column_text(s, 0),
		   (const char *)sqlite3_column_text(s, 1));
		n++;
	}
	return store_adhoc_end(st, s, rc, n);
}

int
sio_store_counter_list(struct sio_store *st,
                       void (*fn)(void *udata, const char *name,
                                  long long value),
                       void *udata)
{
	sqlite3_stmt *s = store_adhoc(
	    st, "SELECT name, value FROM counters ORDER BY name", NULL);
	int rc, n = 0;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		fn(udata, (const char *)sqlite3_column_text(s, 0),
		   sqlite3_column_int64(s, 1));
		n++;
	}
	return store_adhoc_end(st, s, rc, n);
}

int
sio_store_session_counts(struct sio_store *st,
                         void (*fn)(void *udata, enum sio_session_state state,
                                    int transport, long long sessions,
                                    long long queued),
                         void *udata)
{
	static const char sql[] =
	    "SELECT s.state, s.transport, count(*), sum((SELECT count(*)"
	    " FROM outbox o WHERE o.sid = s.sid)) FROM sessions s"
	    " GROUP BY s.state, s.transport ORDER BY s.state, s.transport";
	sqlite3_stmt *s = store_adhoc(st, sql, NULL);
	int rc, n = 0;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		fn(udata, (enum sio_session_state)store_state(s, 0),
		   store_transport(s, 1), sqlite3_column_int64(s, 2),
		   sqlite3_column_int64(s, 3));
		n++;
	}
	return store_adhoc_end(st, s, rc, n);
}

int
sio_store_cleanup_drained(struct sio_store *st)
{
	static const char sql[] =
	    "DELETE FROM sessions WHERE state = 'closed' AND NOT EXISTS"
	    " (SELECT 1 FROM outbox o WHERE o.sid = sessions.sid)";
	sqlite3_stmt *s;
	int own, rc;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	s = store_adhoc(st, sql, NULL);
	rc = s ? sqlite3_step(s) : SQLITE_ERROR;
	if (s != NULL)
		rc = store_adhoc_end(st, s, rc, 0);
	else
		rc = SIO_ERR;
	if (rc == SIO_OK)
		rc = sqlite3_changes(st->db);
	return store_tx_end(st, own, rc);
}

/* --- operational stats ------------------------------------------------- */

int
sio_store_stats_sample(struct sio_store *st, long long now)
{
	int own, rc, n = 0;

	if (store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = store_run(st, store_prep(st, SQL_SAMPLE_PUT, "i", now));
	if (rc == SIO_OK) {
		n = sqlite3_changes(st->db);
		rc = store_run(st, store_prep(st, SQL_SAMPLE_TRIM, "i", now));
	}
	return store_tx_end(st, own, rc == SIO_OK ? n : rc);
}

int
sio_store_stats(struct sio_store *st, struct sio_store_stats *out)
{
	static const char sql[] =
	    "SELECT active_sessions, peak_sessions, active_connections,"
	    " peak_connections, sessions_opened, connections_opened,"
	    " packets_sent, packets_received, queued_packets, connections_ps,"
	    " packets_sent_ps, packets_received_ps, time FROM stats_view";
	static const char by_transport[] =
	    "SELECT transport, sessions FROM transport_view";
	sqlite3_stmt *s;
	int rc, t;

	memset(out, 0, sizeof(*out));
	/* a read only (a callback's run may ask, holding no write lock):
	 * this connection's deferred counters are added below */
	if (sqlite3_exec(st->db, "SAVEPOINT sio_stats", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return store_sqlfail(st);
	s = store_adhoc(st, sql, NULL);
	if (s == NULL)
		goto err;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->active_sessions = sqlite3_column_int64(s, 0);
		out->peak_sessions = sqlite3_column_int64(s, 1);
		out->active_connections = sqlite3_column_int64(s, 2);
		out->peak_connections = sqlite3_column_int64(s, 3);
		out->sessions_opened = sqlite3_column_int64(s, 4);
		out->connections_opened = sqlite3_column_int64(s, 5);
		out->packets_sent =
		    sqlite3_column_int64(s, 6) + st->later[LATER_SENT];
		out->packets_received =
		    sqlite3_column_int64(s, 7) + st->later[LATER_RECEIVED];
		out->queued_packets = sqlite3_column_int64(s, 8);
		out->connections_ps = sqlite3_column_double(s, 9);
		out->packets_sent_ps = sqlite3_column_double(s, 10);
		out->packets_received_ps = sqlite3_column_double(s, 11);
		out->time = sqlite3_column_int64(s, 12);
		rc = sqlite3_step(s);
	}
	if (store_adhoc_end(st, s, rc, 0) != SIO_OK)
		goto err;
	s = store_adhoc(st, by_transport, NULL);
	if (s == NULL)
		goto err;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		t = store_transport(s, 0);
		if (t >= 0)
			out->sessions[t] = sqlite3_column_int64(s, 1);
		else
			out->sessions_no_transport = sqlite3_column_int64(s, 1);
	}
	if (store_adhoc_end(st, s, rc, 0) != SIO_OK)
		goto err;
	sqlite3_exec(st->db, "RELEASE sio_stats", NULL, NULL, NULL);
	return SIO_OK;
err:
	sqlite3_exec(st->db, "ROLLBACK TO sio_stats; RELEASE sio_stats", NULL,
	             NULL, NULL);
	return SIO_ERR;
}

/* --- appended for sio-gateway: checkpoints off the writer ---------------- */

int
sio_store_autocheckpoint(struct sio_store *st, int pages)
{
	if (sqlite3_wal_autocheckpoint(st->db, pages) != SQLITE_OK)
		return store_sqlfail(st);
	return SIO_OK;
}

int
sio_store_cache_limit(struct sio_store *st, int kib)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", kib);
	return store_pragma(st, sql, NULL, 0);
}

/* How long a RESTART checkpoint waits (ms), holding every writer off
 * meanwhile: a reader that keeps an old snapshot (a long query in the
 * sqlite3 shell) makes it give up, not stall the servers. */
#define STORE_RESTART_WAIT_MS 20

int
sio_store_checkpoint(struct sio_store *st, int restart)
{
	int log = 0, done = 0, keep = st->busy_ms, rc;

	if (restart)
		st->busy_ms = STORE_RESTART_WAIT_MS;
	rc = sqlite3_wal_checkpoint_v2(st->db, NULL,
	                               restart ? SQLITE_CHECKPOINT_RESTART
	                                       : SQLITE_CHECKPOINT_PASSIVE,
	                               &log, &done);
	st->busy_ms = keep;
	if (rc == SQLITE_OK)
		return log > 0 ? log : 0;
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return 0; /* another checkpoint runs, or readers stay */
	return store_sqlfail(st);
}
