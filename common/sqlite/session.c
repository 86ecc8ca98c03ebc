/*
 * session.c: the SQLite backend's sessions: creation, reads, attach and
 * detach of a transport, the end of a session (claimed once), and the
 * deletion of ended ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"

const char *const sqlite_session_sql[SQL_NSTMT] = {
    [SQL_SESSION_NEW] = "INSERT INTO sessions (sid, state, created,"
                        " last_recv, last_heartbeat, request, remote)"
                        " VALUES (?1, 'handshaken', ?2, ?2, ?2, ?3,"
                        " CASE WHEN json_valid(?3)"
                        " THEN json_extract(?3, '$.remote') END)",
    [SQL_SESSION_GET] = "SELECT " SESSION_COLS ", request"
                        " FROM sessions WHERE sid = ?1",
    [SQL_SESSION_STATE] = "SELECT state, last_recv FROM sessions"
                          " WHERE sid = ?1",
    /* and whether the attaching holder may (fenced: ?2 <> 0) */
    [SQL_ATTACH_GET] = "SELECT state, transport, holder, holder_conn,"
                       " hello, ?2 = 0 OR EXISTS (SELECT 1 FROM processes"
                       " WHERE name = ?3) FROM sessions WHERE sid = ?1",
    [SQL_ATTACH] = "UPDATE sessions SET state = ?6, transport = ?2,"
                   " holder = ?3, holder_conn = ?4, detached_at = NULL,"
                   " last_recv = ?5, last_heartbeat = ?5 WHERE sid = ?1"
                   " AND instr(?7, ',' || state || ',') > 0",
    [SQL_DETACH] = DETACH_SET " WHERE sid = ?4 AND holder = ?5"
                              " AND holder_conn = ?6",
    [SQL_HELLO_SENT] = "UPDATE sessions SET hello = ?2 WHERE sid = ?1",
    [SQL_FORGET] = "UPDATE sessions SET gone = 1 WHERE sid = ?1"
                   " AND state = 'closed'",
    [SQL_GONE] = "SELECT state = 'closed' AND gone FROM sessions"
                 " WHERE sid = ?1",
    [SQL_HOLDER_STATE] = "SELECT state FROM sessions WHERE sid = ?1"
                         " AND holder = ?2 AND holder_conn = ?3",
    [SQL_TOUCH] = "UPDATE sessions SET last_recv = ?2 WHERE sid = ?1",
    [SQL_END] = "UPDATE sessions SET state = ?4, closed_at = ?2,"
                " close_reason = ?3 WHERE sid = ?1"
                " AND instr(?5, ',' || state || ',') > 0",
    [SQL_HOLDER] = "SELECT holder FROM sessions WHERE sid = ?1",
    [SQL_HOLDER_OTHER] = "SELECT holder FROM sessions WHERE sid = ?1"
                         " AND (holder IS NOT ?2 OR holder_conn IS NOT ?3)",
    [SQL_PURGE_ENDPOINTS] = "DELETE FROM endpoints WHERE sid = ?1",
    [SQL_PURGE_ROOMS] = "DELETE FROM rooms WHERE sid = ?1",
    [SQL_PURGE_DATA] = "DELETE FROM data WHERE sid = ?1",
    [SQL_PURGE_ACKS] = "DELETE FROM acks WHERE sid = ?1",
    [SQL_CLEANUP] = "DELETE FROM sessions WHERE state = 'closed'"
                    " AND closed_at < ?1",
    [SQL_LIVE_OF] = "SELECT count(*) FROM (SELECT 1 FROM sessions"
                    " WHERE remote = ?1 AND state <> 'closed' LIMIT ?2)",
};

int
sqlite_session_new(struct sio_store *st, const char *sid, const char *request,
                   long long now)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_run(
	    st, sqlite_prep(st, SQL_SESSION_NEW, "tit", sid, now, request));
	if (rc == SIO_OK)
		rc = sqlite_run(st, sqlite_prep(st, SQL_EP_ADD, "ttt", sid, "",
		                                (const char *)NULL));
	return sio_store_tx_end(st, own, rc);
}

int
sqlite_sessions_live(struct sio_store *st, const char *remote, int max,
                     int *all, int *of_remote)
{
	long long n = 0;
	int rc;

	rc = sqlite_one(
	    st, sqlite_prep(st, SQL_COUNTER_GET, "t", "sessions_active"), &n);
	if (rc == SIO_ERR)
		return SIO_ERR;
	*all = rc == SIO_OK ? (int)n : 0;
	n = 0;
	if (sqlite_one(
	        st, sqlite_prep(st, SQL_LIVE_OF, "ti", remote, (long long)max),
	        &n) == SIO_ERR)
		return SIO_ERR;
	*of_remote = (int)n;
	return SIO_OK;
}

/* Reads the SESSION_COLS of a row, from column col on, into out. */
void
sqlite_session_row(sqlite3_stmt *s, int col, struct sio_store_session *out)
{
	const unsigned char *t;

	out->state = sqlite_state(s, col);
	out->transport = sqlite_transport(s, col + 1);
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
 * SIO_ABSENT when there is none (s reset), SIO_ERR. */
static int
sqlite_session_step(struct sio_store *st, sqlite3_stmt *s)
{
	int rc;

	if (s == NULL || (rc = sqlite_step(st, s)) == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		sio_store_fail(st, "no such session");
		return SIO_ABSENT;
	}
	return SIO_OK;
}

int
sqlite_session_get(struct sio_store *st, const char *sid,
                   struct sio_store_session *out)
{
	sqlite3_stmt *s = sqlite_prep(st, SQL_SESSION_GET, "t", sid);
	int rc, failed = 0;

	if ((rc = sqlite_session_step(st, s)) != SIO_OK)
		return rc;
	snprintf(out->sid, sizeof(out->sid), "%s", sid);
	sqlite_session_row(s, 0, out);
	out->request = sqlite_column_dup(s, 9, &failed);
	sqlite3_reset(s);
	if (failed)
		return sio_store_fail(st, "out of memory");
	return SIO_OK;
}

int
sqlite_session_state(struct sio_store *st, const char *sid,
                     long long *last_recv)
{
	sqlite3_stmt *s = sqlite_prep(st, SQL_SESSION_STATE, "t", sid);
	int rc;

	if ((rc = sqlite_session_step(st, s)) != SIO_OK)
		return rc;
	rc = (int)sqlite_state(s, 0);
	*last_recv = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	return rc;
}

/* Reads what attach replaces; the previous holder is rung unless it is
 * (holder, conn) itself. SIO_OK, SIO_ABSENT (absent), SIO_CLOSED (in no
 * state of from), SIO_ERR (also: fenced, and holder's row is gone). */
static int
sqlite_attach_prev(struct sio_store *st, const char *sid, const char *holder,
                   long long conn, int *hello, unsigned from, int fenced)
{
	sqlite3_stmt *s = sqlite_prep(st, SQL_ATTACH_GET, "tit", sid,
	                              (long long)fenced, holder);
	const unsigned char *prev;
	int rc;

	if (s == NULL || (rc = sqlite_step(st, s)) == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_ROW && sqlite3_column_int(s, 5) == 0) {
		sqlite3_reset(s);
		st->fenced = 1;
		return sio_store_fail(st,
		                      "process %s was reaped: it attaches "
		                      "nothing until it registers anew",
		                      holder);
	}
	if (rc == SQLITE_DONE || !(from & (1u << sqlite_state(s, 0)))) {
		sqlite3_reset(s);
		sio_store_fail(st, "no such session");
		return rc == SQLITE_DONE ? SIO_ABSENT : SIO_CLOSED;
	}
	*hello = sqlite3_column_int(s, 4) == 0;
	prev = sqlite3_column_text(s, 2);
	if (prev != NULL && (strcmp((const char *)prev, holder) != 0 ||
	                     sqlite3_column_int64(s, 3) != conn))
		sio_store_bell(st, (const char *)prev, sid);
	sqlite3_reset(s);
	return SIO_OK;
}

int
sqlite_attach(struct sio_store *st, const char *sid, int transport,
              const char *holder, long long conn, long long now, int *hello,
              unsigned from, int to, int fenced)
{
	char w[SIO_STORE_WORDS_LEN];
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_attach_prev(st, sid, holder, conn, hello, from, fenced);
	if (rc == SIO_OK)
		rc = sqlite_run(
		    st, sqlite_prep(st, SQL_ATTACH, "tttiitt", sid,
		                    sio_store_transport_name(transport), holder,
		                    conn, now, sio_store_state_name(to),
		                    sio_store_words(from, 0, w)));
	if (rc == SIO_OK && sqlite3_changes(SQ(st)->db) != 1) {
		sio_store_fail(st, "no such session");
		rc = SIO_CLOSED; /* not in from after all: nothing written */
	}
	if (rc == SIO_OK)
		rc = sqlite_run(st, sqlite_prep(st, SQL_COUNTER_ADD, "ti",
		                                "connections_opened", 1LL));
	return sio_store_tx_end(st, own, rc);
}

int
sqlite_detach(struct sio_store *st, const char *sid, const char *holder,
              long long conn, long long now, unsigned from, int to)
{
	char w[SIO_STORE_WORDS_LEN];
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_run(st, sqlite_prep(st, SQL_DETACH, "itttti", now,
	                                sio_store_words(from, 0, w),
	                                sio_store_state_name(to), sid, holder,
	                                conn));
	return sio_store_tx_end(st, own, rc);
}

int
sqlite_hello_sent(struct sio_store *st, const char *sid, int sent)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_run(st, sqlite_prep(st, SQL_HELLO_SENT, "ti", sid,
	                                (long long)(sent != 0)));
	return sio_store_tx_end(st, own, rc);
}

int
sqlite_holder_state(struct sio_store *st, const char *sid, const char *holder,
                    long long conn)
{
	sqlite3_stmt *s =
	    sqlite_prep(st, SQL_HOLDER_STATE, "tti", sid, holder, conn);
	int rc;

	if ((rc = sqlite_session_step(st, s)) != SIO_OK)
		return rc;
	rc = (int)sqlite_state(s, 0);
	sqlite3_reset(s);
	return rc;
}

int
sqlite_touch(struct sio_store *st, const char *sid, long long now)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_run(st, sqlite_prep(st, SQL_TOUCH, "ti", sid, now));
	return sio_store_tx_end(st, own, rc);
}

/* Queues a ring for the holder s (prepared, its first column) reads for
 * sid, if it reads one. */
static int
sqlite_ring_read(struct sio_store *st, sqlite3_stmt *s, const char *sid)
{
	int rc;

	if (s == NULL || (rc = sqlite_step(st, s)) == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_ROW)
		sio_store_bell(st, (const char *)sqlite3_column_text(s, 0),
		               sid);
	sqlite3_reset(s);
	return SIO_OK;
}

/* Queues a ring for sid's holder, if it has one. */
int
sqlite_ring_holder(struct sio_store *st, const char *sid)
{
	return sqlite_ring_read(st, sqlite_prep(st, SQL_HOLDER, "t", sid), sid);
}

/* Queues a ring for sid's holder, if it has one and it is not (holder,
 * conn). */
int
sqlite_ring_other(struct sio_store *st, const char *sid, const char *holder,
                  long long conn)
{
	return sqlite_ring_read(
	    st, sqlite_prep(st, SQL_HOLDER_OTHER, "tti", sid, holder, conn),
	    sid);
}

int
sqlite_session_end(struct sio_store *st, const char *sid, const char *reason,
                   long long now, unsigned from, int to)
{
	char w[SIO_STORE_WORDS_LEN];
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_run(st, sqlite_prep(st, SQL_END, "tittt", sid, now, reason,
	                                sio_store_state_name(to),
	                                sio_store_words(from, 0, w)));
	if (rc == SIO_OK && sqlite3_changes(SQ(st)->db) == 1) {
		rc = sqlite_ring_holder(st, sid);
		if (rc == SIO_OK)
			rc = 1;
	}
	return sio_store_tx_end(st, own, rc);
}

int
sqlite_session_forget(struct sio_store *st, const char *sid)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_run(st, sqlite_prep(st, SQL_FORGET, "t", sid));
	return sio_store_tx_end(st, own, rc);
}

int
sqlite_session_gone(struct sio_store *st, const char *sid)
{
	sqlite3_stmt *s = sqlite_prep(st, SQL_GONE, "t", sid);
	int rc;

	if ((rc = sqlite_session_step(st, s)) != SIO_OK)
		return rc == SIO_ABSENT ? 1 : SIO_ERR;
	rc = sqlite3_column_int(s, 0) != 0;
	sqlite3_reset(s);
	return rc;
}

int
sqlite_session_purge(struct sio_store *st, const char *sid)
{
	static const enum sqlite_sql del[] = {SQL_PURGE_ENDPOINTS,
	                                      SQL_PURGE_ROOMS, SQL_PURGE_DATA,
	                                      SQL_PURGE_ACKS};
	size_t i;
	int own, rc = SIO_OK;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	for (i = 0; i < sizeof(del) / sizeof(del[0]) && rc == SIO_OK; i++)
		rc = sqlite_run(st, sqlite_prep(st, del[i], "t", sid));
	return sio_store_tx_end(st, own, rc);
}

/* Free pages kept for the next inserts; beyond them the sweep gives the
 * file's free pages back to the system (incremental auto_vacuum), so a
 * flood of handshakes does not leave the file at its peak size. */
#define STORE_FREE_KEEP 512

/* Truncates the file by its free pages beyond STORE_FREE_KEEP (a no-op
 * for a file without incremental auto_vacuum). SIO_OK or SIO_ERR. */
static int
sqlite_give_back(struct sio_store *st)
{
	char buf[64];
	sqlite3_stmt *s;
	long long n;
	int rc;

	if (sqlite_pragma(st, "PRAGMA freelist_count", buf, sizeof(buf)) !=
	    SIO_OK)
		return SIO_ERR;
	n = atoll(buf) - STORE_FREE_KEEP;
	if (n <= 0)
		return SIO_OK;
	snprintf(buf, sizeof(buf), "PRAGMA incremental_vacuum(%lld)", n);
	if (sqlite3_prepare_v2(SQ(st)->db, buf, -1, &s, NULL) != SQLITE_OK)
		return sqlite_sqlfail(st);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE || (rc & 0xff) == SQLITE_BUSY)
		return SIO_OK; /* busy: the next sweep does it */
	return sqlite_sqlfail(st);
}

int
sqlite_cleanup(struct sio_store *st, long long before)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_run(st, sqlite_prep(st, SQL_CLEANUP, "i", before));
	if (rc == SIO_OK)
		rc = sqlite3_changes(SQ(st)->db);
	rc = sio_store_tx_end(st, own, rc);
	if (rc >= 0 && own && sqlite_give_back(st) != SIO_OK)
		return SIO_ERR;
	return rc;
}
