/*
 * bridge.c: the SQLite backend's bridge queue (table bridge_queue): each
 * session's events for the application, taken one at a time per session
 * under a lease, deleted when sent, freed for a later try when not.
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"

/* The first event of a session (?1 the sid, ?2 now), when it is free:
 * not taken or its lease over, and not held back by a retry. */
#define BRIDGE_FREE " AND (q.taker IS NULL OR q.until < ?2) AND q.next_at <= ?2"
#define BRIDGE_COLS "q.seq, q.sid, q.body, q.tries, q.created"

const char *const sqlite_bridge_sql[SQL_NSTMT] = {
    [SQL_BRIDGE_PUT] = "INSERT INTO bridge_queue (sid, body, created)"
                       " VALUES (?1, ?2, ?3)",
    [SQL_BRIDGE_COUNT] = "SELECT count(*) FROM bridge_queue WHERE sid = ?1",
    [SQL_BRIDGE_COUNT_ALL] = "SELECT count(*) FROM bridge_queue",
    [SQL_BRIDGE_FIRST] =
        "SELECT " BRIDGE_COLS " FROM bridge_queue q WHERE q.sid = ?1"
        " AND q.seq = (SELECT min(seq) FROM bridge_queue"
        " WHERE sid = ?1)" BRIDGE_FREE,
    /* the scan: ?3 the grace's cutoff, ?4 the most sessions */
    [SQL_BRIDGE_SCAN] = "SELECT " BRIDGE_COLS " FROM bridge_queue q"
                        " WHERE q.seq = (SELECT min(r.seq) FROM bridge_queue r"
                        " WHERE r.sid = q.sid)" BRIDGE_FREE
                        " AND (q.created <= ?3 OR q.tries > 0)"
                        " ORDER BY q.created, q.seq LIMIT ?4",
    [SQL_BRIDGE_MARK] = "UPDATE bridge_queue SET taker = ?2, until = ?3,"
                        " tries = tries + 1 WHERE seq = ?1",
    [SQL_BRIDGE_DONE] = "DELETE FROM bridge_queue"
                        " WHERE seq = ?2 AND sid = ?1 AND taker = ?3",
    [SQL_BRIDGE_RETRY] = "UPDATE bridge_queue SET taker = NULL, until = 0,"
                         " next_at = ?4"
                         " WHERE seq = ?2 AND sid = ?1 AND taker = ?3",
};

int
sqlite_bridge_put(struct sio_store *st, const char *sid, const char *body,
                  size_t len, long long now, int max)
{
	long long n = 0;
	int rc;

	if (max > 0) {
		rc = sqlite_one(st, sqlite_prep(st, SQL_BRIDGE_COUNT, "t", sid),
		                &n);
		if (rc == SIO_ERR)
			return SIO_ERR;
		if (n >= max)
			return SIO_FULL;
	}
	return sqlite_write(
	    st, sqlite_prep(st, SQL_BRIDGE_PUT, "tbi", sid, body, len, now));
}

/* The events a take found, copied out of the statement: they are marked,
 * and passed on after the commit. */
struct bridge_taken {
	struct sio_store_bridge_event *ev;
	int n, cap;
};

static void
bridge_taken_free(struct bridge_taken *t)
{
	for (int i = 0; i < t->n; i++) {
		free((char *)t->ev[i].sid);
		free((char *)t->ev[i].body);
	}
	free(t->ev);
}

/* Copies the row of s into t. SIO_OK or SIO_ERR. */
static int
bridge_taken_add(struct sio_store *st, struct bridge_taken *t, sqlite3_stmt *s)
{
	struct sio_store_bridge_event *e;
	const char *body = (const char *)sqlite3_column_text(s, 2);
	int failed = 0, cap;

	if (t->n == t->cap) {
		cap = t->cap ? t->cap * 2 : 8;
		e = realloc(t->ev, (size_t)cap * sizeof(*e));
		if (e == NULL)
			return sio_store_fail(st, "out of memory");
		t->ev = e;
		t->cap = cap;
	}
	e = &t->ev[t->n];
	memset(e, 0, sizeof(*e));
	e->seq = sqlite3_column_int64(s, 0);
	e->len = (size_t)sqlite3_column_bytes(s, 2);
	e->sid = sqlite_column_dup(s, 1, &failed);
	e->body = malloc(e->len + 1);
	if (failed || e->sid == NULL || e->body == NULL) {
		free((char *)e->sid);
		free((char *)e->body);
		return sio_store_fail(st, "out of memory");
	}
	memcpy((char *)e->body, body ? body : "", e->len);
	((char *)e->body)[e->len] = '\0';
	e->tries = sqlite3_column_int(s, 3) + 1;
	e->created = sqlite3_column_int64(s, 4);
	t->n++;
	return SIO_OK;
}

/* Reads the free first events into t, then marks each for taker. */
static int
bridge_take_rows(struct sio_store *st, const char *sid, const char *taker,
                 long long now, long long lease_ms, long long grace_ms, int max,
                 struct bridge_taken *t)
{
	sqlite3_stmt *s;
	int rc, i;

	if (sid != NULL)
		s = sqlite_prep(st, SQL_BRIDGE_FIRST, "ti", sid, now);
	else
		s = sqlite_prep(st, SQL_BRIDGE_SCAN, "tiii", NULL, now,
		                now - grace_ms, (long long)max);
	if (s == NULL)
		return SIO_ERR;
	while ((rc = sqlite_step(st, s)) == SQLITE_ROW)
		if (bridge_taken_add(st, t, s) != SIO_OK) {
			sqlite3_reset(s);
			return SIO_ERR;
		}
	if (rc == SQLITE_ERROR)
		return SIO_ERR;
	sqlite3_reset(s);
	for (i = 0; i < t->n; i++)
		if (sqlite_run(st, sqlite_prep(st, SQL_BRIDGE_MARK, "iti",
		                               t->ev[i].seq, taker,
		                               now + lease_ms)) != SIO_OK)
			return SIO_ERR;
	return SIO_OK;
}

int
sqlite_bridge_take(struct sio_store *st, const char *sid, const char *taker,
                   long long now, long long lease_ms, long long grace_ms,
                   int max,
                   void (*fn)(void *udata,
                              const struct sio_store_bridge_event *e),
                   void *udata)
{
	struct bridge_taken t = {0};
	int own, rc;

	if (sid == NULL && max <= 0)
		return 0;
	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = bridge_take_rows(st, sid, taker, now, lease_ms, grace_ms, max, &t);
	rc = sio_store_tx_end(st, own, rc == SIO_OK ? t.n : SIO_ERR);
	for (int i = 0; rc > 0 && fn != NULL && i < t.n; i++)
		fn(udata, &t.ev[i]);
	bridge_taken_free(&t);
	return rc;
}

/* Runs a done or retry: SIO_OK when it changed the row, SIO_ABSENT.
 * (sqlite3_changes() counts the last INSERT, UPDATE or DELETE: a COMMIT
 * after it leaves it be.) */
static int
bridge_held(struct sio_store *st, sqlite3_stmt *s)
{
	int rc = sqlite_write(st, s);

	return rc == SIO_OK && sqlite3_changes(SQ(st)->db) == 0 ? SIO_ABSENT
	                                                        : rc;
}

int
sqlite_bridge_done(struct sio_store *st, const char *sid, long long seq,
                   const char *taker)
{
	return bridge_held(
	    st, sqlite_prep(st, SQL_BRIDGE_DONE, "tit", sid, seq, taker));
}

int
sqlite_bridge_retry(struct sio_store *st, const char *sid, long long seq,
                    const char *taker, long long next_at)
{
	return bridge_held(st, sqlite_prep(st, SQL_BRIDGE_RETRY, "titi", sid,
	                                   seq, taker, next_at));
}

int
sqlite_bridge_count(struct sio_store *st, const char *sid, long long *n)
{
	sqlite3_stmt *s = sid ? sqlite_prep(st, SQL_BRIDGE_COUNT, "t", sid)
	                      : sqlite_prep(st, SQL_BRIDGE_COUNT_ALL, "");
	int rc = sqlite_one(st, s, n);

	return rc == SIO_ERR ? SIO_ERR : SIO_OK;
}
