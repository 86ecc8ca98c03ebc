/*
 * session.c: the PostgreSQL backend's sessions: creation, reads, attach and
 * detach of a transport, the end of a session (claimed once), and the
 * deletion of ended ones. Each compare-and-set is one UPDATE ... WHERE
 * state is one of the given ones, under the writers' lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pg.h"

const char *const pg_session_sql[PG_NSTMT] = {
    /* with its root endpoint, in one statement (the endpoint's key is
     * checked at the statement's end, the session's row there) */
    [PG_SESSION_NEW] =
        "WITH s AS (INSERT INTO sessions (sid, state, created, last_recv,"
        " last_heartbeat, request, remote) VALUES ($1, 'handshaken', $2,"
        " $2, $2, $3, siogate_json_field($3, 'remote')) RETURNING sid)"
        " INSERT INTO endpoints (sid, endpoint) SELECT sid, '' FROM s",
    [PG_SESSION_GET] = "SELECT " PG_SESSION_COLS ", request"
                       " FROM sessions WHERE sid = $1",
    [PG_SESSION_STATE] = "SELECT state, last_recv FROM sessions"
                         " WHERE sid = $1",
    /* In one statement: the row as it was, and whether the holder may
     * attach (fenced, $8 <> 0: only while its process's row is there);
     * the attach when it may and the state is one of $7, counted in
     * connections_opened; the number of rows attached last. */
    [PG_ATTACH] =
        "WITH o AS (SELECT state, holder, holder_conn, hello,"
        " $8::int = 0 OR EXISTS (SELECT 1 FROM processes WHERE name = $3)"
        " AS may FROM sessions WHERE sid = $1),"
        " a AS (UPDATE sessions s SET state = $6, transport = $2,"
        " holder = $3, holder_conn = $4, detached_at = NULL,"
        " last_recv = $5, last_heartbeat = $5 FROM o WHERE s.sid = $1"
        " AND o.may AND strpos($7::text, ',' || s.state || ',') > 0"
        " RETURNING 1),"
        " c AS (INSERT INTO counters (name, value)"
        " SELECT 'connections_opened', 1 FROM a ON CONFLICT (name)"
        " DO UPDATE SET value = counters.value + excluded.value)"
        " SELECT o.state, o.holder, o.holder_conn, o.hello, o.may,"
        " (SELECT count(*) FROM a) FROM o",
    [PG_DETACH] = PG_DETACH_SET " WHERE sid = $4"
                                " AND" PG_HOLDER_COL " = $5"
                                " AND holder_conn = $6",
    [PG_HELLO_SENT] = "UPDATE sessions SET hello = $2 WHERE sid = $1",
    [PG_FORGET] = "UPDATE sessions SET gone = 1 WHERE sid = $1"
                  " AND" PG_NOINDEX("state") " = 'closed'",
    [PG_GONE] = "SELECT (state = 'closed' AND gone <> 0)::int"
                " FROM sessions WHERE sid = $1",
    [PG_HOLDER_STATE] = "SELECT state FROM sessions WHERE sid = $1"
                        " AND" PG_HOLDER_COL " = $2 AND holder_conn = $3",
    [PG_TOUCH] = "UPDATE sessions SET last_recv = $2 WHERE sid = $1",
    /* and the holder to ring, when it ended it */
    [PG_END] = "UPDATE sessions SET state = $4, closed_at = $2,"
               " close_reason = $3 WHERE sid = $1"
               " AND strpos($5::text, ',' || state || ',') > 0"
               " RETURNING holder",
    [PG_HOLDER] = "SELECT holder FROM sessions WHERE sid = $1"
                  " AND holder IS NOT NULL",
    /* a session's rows beside it, in one statement */
    [PG_PURGE] = "WITH e AS (DELETE FROM endpoints WHERE sid = $1),"
                 " r AS (DELETE FROM rooms WHERE sid = $1),"
                 " d AS (DELETE FROM data WHERE sid = $1)"
                 " DELETE FROM acks WHERE sid = $1",
    [PG_CLEANUP] = "DELETE FROM sessions WHERE state = 'closed'"
                   " AND closed_at < $1",
    /* at most $2: what the admission compares */
    [PG_LIVE_OF] = "SELECT least(coalesce((SELECT live FROM remotes"
                   " WHERE remote = $1), 0), $2::bigint)",
};

int
pg_session_new(struct sio_store *st, const char *sid, const char *request,
               long long now)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = pg_run(st, PG_SESSION_NEW, "tit", sid, now, request);
	return sio_store_tx_end(st, own, rc);
}

int
pg_sessions_live(struct sio_store *st, const char *remote, int max, int *all,
                 int *of_remote)
{
	long long n = 0;
	int rc;

	rc = pg_one(st, &n, PG_COUNTER_GET, "t", "sessions_active");
	if (rc == SIO_ERR)
		return SIO_ERR;
	*all = rc == SIO_OK ? (int)n : 0;
	n = 0;
	if (pg_one(st, &n, PG_LIVE_OF, "ti", remote, (long long)max) == SIO_ERR)
		return SIO_ERR;
	*of_remote = (int)n;
	return SIO_OK;
}

/* Reads the PG_SESSION_COLS of a row, from column col on, into out. */
void
pg_session_row(const PGresult *r, int row, int col,
               struct sio_store_session *out)
{
	const char *t;

	out->state = pg_state(r, row, col);
	out->transport = pg_transport(r, row, col + 1);
	t = pg_text(r, row, col + 2);
	snprintf(out->holder, sizeof(out->holder), "%s", t ? t : "");
	out->holder_conn = pg_int(r, row, col + 3);
	out->created = pg_int(r, row, col + 4);
	out->last_recv = pg_int(r, row, col + 5);
	out->detached_at = pg_int(r, row, col + 6);
	out->closed_at = pg_int(r, row, col + 7);
	t = pg_text(r, row, col + 8);
	snprintf(out->close_reason, sizeof(out->close_reason), "%s",
	         t ? t : "");
}

/* A query by sid: SIO_OK with its row, SIO_ABSENT (r cleared) when there
 * is none, SIO_ERR. */
static int
pg_session_found(struct sio_store *st, PGresult *r)
{
	if (r == NULL)
		return SIO_ERR;
	if (PQntuples(r) == 0) {
		PQclear(r);
		sio_store_fail(st, "no such session");
		return SIO_ABSENT;
	}
	return SIO_OK;
}

int
pg_session_get(struct sio_store *st, const char *sid,
               struct sio_store_session *out)
{
	PGresult *r = pg_exec(st, PG_SESSION_GET, "t", sid);
	int rc, failed = 0;

	if ((rc = pg_session_found(st, r)) != SIO_OK)
		return rc;
	snprintf(out->sid, sizeof(out->sid), "%s", sid);
	pg_session_row(r, 0, 0, out);
	out->request = pg_dup(r, 0, 9, &failed);
	PQclear(r);
	if (failed)
		return sio_store_fail(st, "out of memory");
	return SIO_OK;
}

int
pg_session_state(struct sio_store *st, const char *sid, long long *last_recv)
{
	const struct pg_ahead *a = pg_ahead_find(st, sid);
	PGresult *r;
	int rc;

	if (a != NULL) {
		*last_recv = a->last_recv;
		return a->state;
	}
	r = pg_exec(st, PG_SESSION_STATE, "t", sid);
	if ((rc = pg_session_found(st, r)) != SIO_OK)
		return rc;
	rc = pg_state(r, 0, 0);
	*last_recv = pg_int(r, 0, 1);
	PQclear(r);
	return rc;
}

/* Rings the previous holder unless it is (holder, conn) itself. */
int
pg_attach(struct sio_store *st, const char *sid, int transport,
          const char *holder, long long conn, long long now, int *hello,
          unsigned from, int to, int fenced)
{
	char w[SIO_STORE_WORDS_LEN];
	struct pg_ahead *a;
	const char *prev;
	PGresult *r;
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	r = pg_exec(st, PG_ATTACH, "tttiitti", sid,
	            sio_store_transport_name(transport), holder, conn, now,
	            sio_store_state_name(to), sio_store_words(from, 0, w),
	            (long long)fenced);
	if ((rc = pg_session_found(st, r)) != SIO_OK)
		return sio_store_tx_end(st, own, rc);
	if (strcmp(pg_text(r, 0, 4), "t") != 0) {
		st->fenced = 1;
		rc = sio_store_fail(st,
		                    "process %s was reaped: it attaches "
		                    "nothing until it registers anew",
		                    holder);
	} else if (pg_int(r, 0, 5) != 1) {
		sio_store_fail(st, "no such session"); /* not in from */
		rc = SIO_CLOSED;
	} else {
		if ((a = pg_ahead_mend(st, sid)) != NULL) {
			a->state = to;
			a->held = a->has_conn = 1;
			sio_buf_copy(a->holder, sizeof(a->holder), holder);
			a->conn = conn;
			a->last_recv = now;
		}
		*hello = pg_int(r, 0, 3) == 0;
		prev = pg_text(r, 0, 1);
		if (prev != NULL &&
		    (strcmp(prev, holder) != 0 || pg_int(r, 0, 2) != conn))
			sio_store_bell(st, prev, sid);
	}
	PQclear(r);
	return sio_store_tx_end(st, own, rc);
}

int
pg_detach(struct sio_store *st, const char *sid, const char *holder,
          long long conn, long long now, unsigned from, int to)
{
	char w[SIO_STORE_WORDS_LEN];
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = pg_run(st, PG_DETACH, "itttti", now, sio_store_words(from, 0, w),
	            sio_store_state_name(to), sid, holder, conn);
	return sio_store_tx_end(st, own, rc);
}

int
pg_hello_sent(struct sio_store *st, const char *sid, int sent)
{
	return pg_write(st, PG_HELLO_SENT, "ti", sid, (long long)(sent != 0));
}

int
pg_holder_state(struct sio_store *st, const char *sid, const char *holder,
                long long conn)
{
	const struct pg_ahead *a = pg_ahead_find(st, sid);
	PGresult *r;
	int rc;

	if (a != NULL && a->held && a->has_conn && a->conn == conn &&
	    strcmp(a->holder, holder) == 0)
		return a->state;
	if (a != NULL) {
		sio_store_fail(st, "no such session");
		return SIO_ABSENT;
	}
	r = pg_exec(st, PG_HOLDER_STATE, "tti", sid, holder, conn);
	if ((rc = pg_session_found(st, r)) != SIO_OK)
		return rc;
	rc = pg_state(r, 0, 0);
	PQclear(r);
	return rc;
}

int
pg_touch(struct sio_store *st, const char *sid, long long now)
{
	struct pg_ahead *a;
	int rc = pg_write(st, PG_TOUCH, "ti", sid, now);

	if (rc == SIO_OK && (a = pg_ahead_mend(st, sid)) != NULL)
		a->last_recv = now;
	return rc;
}

/* Queues a ring for the holder r (its first column) reads for sid. */
static int
pg_ring_read(struct sio_store *st, PGresult *r, const char *sid)
{
	if (r == NULL)
		return SIO_ERR;
	if (PQntuples(r) > 0 && !pg_null(r, 0, 0))
		sio_store_bell(st, pg_text(r, 0, 0), sid);
	PQclear(r);
	return SIO_OK;
}

int
pg_ring_holder(struct sio_store *st, const char *sid)
{
	return pg_ring_read(st, pg_exec(st, PG_HOLDER, "t", sid), sid);
}

int
pg_session_end(struct sio_store *st, const char *sid, const char *reason,
               long long now, unsigned from, int to)
{
	char w[SIO_STORE_WORDS_LEN];
	struct pg_ahead *a;
	PGresult *r;
	int own, rc = SIO_OK;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	r = pg_exec(st, PG_END, "tittt", sid, now, reason,
	            sio_store_state_name(to), sio_store_words(from, 0, w));
	if (r == NULL) {
		rc = SIO_ERR;
	} else if (PQntuples(r) == 1) {
		if ((a = pg_ahead_mend(st, sid)) != NULL)
			a->state = to;
		rc = pg_ring_read(st, r, sid) == SIO_OK ? 1 : SIO_ERR;
		r = NULL;
	}
	PQclear(r);
	return sio_store_tx_end(st, own, rc);
}

int
pg_session_forget(struct sio_store *st, const char *sid)
{
	return pg_write(st, PG_FORGET, "t", sid);
}

int
pg_session_gone(struct sio_store *st, const char *sid)
{
	PGresult *r = pg_exec(st, PG_GONE, "t", sid);
	int rc;

	if ((rc = pg_session_found(st, r)) != SIO_OK)
		return rc == SIO_ABSENT ? 1 : SIO_ERR;
	rc = pg_int(r, 0, 0) != 0;
	PQclear(r);
	return rc;
}

int
pg_session_purge(struct sio_store *st, const char *sid)
{
	return pg_write(st, PG_PURGE, "t", sid);
}

int
pg_cleanup(struct sio_store *st, long long before)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = pg_run(st, PG_CLEANUP, "i", before);
	if (rc == SIO_OK)
		rc = (int)PGC(st)->changes;
	return sio_store_tx_end(st, own, rc);
}
