/*
 * outbox.c: the PostgreSQL backend's outbox (packets queued per session in
 * order, read, taken by a writer, deleted once written or handed back;
 * broadcasts in one statement) and the bridge's queue (each session's
 * events for the application, taken one at a time under a lease).
 *
 * A take marks exactly the rows it read (their seqs), not a range: under
 * READ COMMITTED a range would also catch a row committed between the
 * read and the mark, which would then be deleted unsent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pg.h"

/* Broadcast targets: $1 endpoint, $2 room or NULL, $3 excluded sid or
 * NULL, $4 volatile, $5 queue limit. */
#define BCAST_FROM                                                             \
	" FROM sessions s WHERE s.state <> 'closed' AND s.sid IN"              \
	" (SELECT e.sid FROM endpoints e WHERE e.endpoint = $1::text"          \
	" AND $2::text IS NULL UNION SELECT r.sid FROM rooms r"                \
	" JOIN endpoints e ON e.sid = r.sid AND e.endpoint = r.endpoint"       \
	" WHERE r.endpoint = $1::text AND r.room = $2::text)"                  \
	" AND ($3::text IS NULL OR s.sid <> $3::text)"                         \
	" AND ($4::int = 0 OR s.holder IS NOT NULL)"                           \
	" AND s.queued < $5::bigint"

/* The first event of a session when it is free: not taken or its lease
 * over, and not held back by a retry ($2 now). */
#define BRIDGE_FREE                                                            \
	" AND (q.taker IS NULL OR q.until < $2::bigint)"                       \
	" AND q.next_at <= $2::bigint"
#define BRIDGE_COLS "q.seq, q.sid, q.body, q.tries, q.created"

/* A take's page p marked: each free row before the first taken by
 * another writer than ($4, $5); p's rows, and when none one row of NULLs
 * with the due of the next delayed packet ($3 now). */
#define TAKE_MARK                                                              \
	" b AS (SELECT min(seq) AS seq FROM p WHERE taken_by IS NOT NULL"      \
	" AND (taken_by <> $4::text"                                           \
	" OR taken_conn IS DISTINCT FROM $5::bigint)),"                        \
	" m AS (UPDATE outbox o SET taken_by = $4, taken_conn = $5 FROM p"     \
	" WHERE o.sid = $1 AND o.seq = p.seq AND p.taken_by IS NULL"           \
	" AND p.seq < coalesce((SELECT seq FROM b), p.seq + 1)"                \
	" RETURNING o.seq)"
#define TAKE_COLS                                                              \
	" p.seq, p.packet, p.taken_by, p.taken_conn,"                          \
	" CASE WHEN p.seq IS NULL THEN (SELECT min(due) FROM outbox"           \
	" WHERE sid = $1 AND due > $3::bigint) END"

const char *const pg_outbox_sql[PG_NSTMT] = {
    [PG_PUT_CHECK] = "SELECT state, holder, queued, holder_conn, last_recv"
                     " FROM sessions WHERE sid = $1",
    [PG_PUT] = "INSERT INTO outbox (sid, packet, created, due)"
               " VALUES ($1, $2, $3, $4)",
    /* PG_PUT_CHECK and PG_PUT in one statement: the session's row as it
     * was, and the packet appended when the session is live, has room
     * ($6, the queue limit) and, for a volatile one ($5 <> 0), a holder;
     * whether it was */
    [PG_PUT_ONE] =
        "WITH s AS (SELECT state, holder, queued FROM sessions"
        " WHERE sid = $1), i AS (INSERT INTO outbox (sid, packet, created,"
        " due) SELECT $1, $2, $3, $4 FROM s WHERE s.state <> 'closed'"
        " AND s.queued < $6::bigint AND (s.holder IS NOT NULL"
        " OR $5::int = 0) RETURNING 1)"
        " SELECT s.state, s.holder, s.queued, (SELECT count(*) FROM i)"
        " FROM s",
    /* the packet appended to each recipient's queue; a row a recipient,
     * with its holder (NULL: none) for the ring */
    [PG_BCAST] = "WITH i AS (INSERT INTO outbox (sid, packet, created, due)"
                 " SELECT s.sid, $6::text, $7::bigint, $8::bigint"
                 " " BCAST_FROM " RETURNING sid)"
                 " SELECT i.sid, s.holder FROM i JOIN sessions s"
                 " ON s.sid = i.sid",
    /* Taken rows whatever their due: one taken by another writer ends
     * the read (pg_outbox_peek()). Read in pages of $2. */
    [PG_PEEK] = "SELECT seq, packet, taken_by, taken_conn FROM outbox"
                " WHERE sid = $1 AND seq > $4::bigint"
                " AND (due <= $3::bigint OR taken_by IS NOT NULL)"
                " ORDER BY seq LIMIT $2",
    /* the seqs the take read, as a list: "{3,4,5}" */
    [PG_TAKE] = "UPDATE outbox SET taken_by = $2, taken_conn = $3"
                " WHERE sid = $1 AND seq = ANY ($4::bigint[])"
                " AND taken_by IS NULL",
    /* the unwritable rows a take read (PG_TAKE_PAGE marked them) */
    [PG_DROP_BAD] = "DELETE FROM outbox WHERE sid = $1"
                    " AND seq = ANY ($2::bigint[]) AND (taken_by IS NULL"
                    " OR (taken_by = $3 AND taken_conn = $4))",
    /*
     * A take's first page in one statement: the rows PG_PEEK reads ($2 of
     * them at most), each free one before the first taken by another
     * writer marked taken by ($4, $5) as it is read; when none is read,
     * one row of NULLs with the due of the next delayed packet. What the
     * caller does not take is handed back (PG_UNTAKE).
     */
    [PG_TAKE_PAGE] =
        "WITH p AS (SELECT seq, packet, taken_by, taken_conn FROM outbox"
        " WHERE sid = $1 AND (due <= $3::bigint OR taken_by IS NOT NULL)"
        " ORDER BY seq LIMIT $2)," TAKE_MARK " SELECT" TAKE_COLS
        " FROM (SELECT 1) one LEFT JOIN p ON true ORDER BY p.seq",
    /*
     * Outside any transaction, with no writers' lock (pg_outbox_done_take()):
     * the session's row locked first, so that this statement waits, holding
     * nothing, for any transaction that changed it; then, when $6 <> 0,
     * what ($4, $5) took deleted (PG_TAKEN_DEL), and, when $7 <> 0 and ($4,
     * $5) holds the session, a page as PG_TAKE_PAGE reads and marks it (the
     * rows just deleted left out). Each row also carries the count deleted
     * and the session's state, holder and holder_conn.
     */
    [PG_DONE_TAKE] =
        "WITH s AS (SELECT state, holder, holder_conn FROM sessions"
        " WHERE sid = $1 FOR NO KEY UPDATE),"
        " d AS (DELETE FROM outbox WHERE sid = $1 AND $6::int <> 0"
        " AND" PG_TAKEN_BY " = $4::text AND taken_conn = $5::bigint"
        " AND EXISTS (SELECT 1 FROM s) RETURNING 1),"
        " p AS (SELECT seq, packet, taken_by, taken_conn FROM outbox"
        " WHERE sid = $1 AND $7::int <> 0 AND EXISTS (SELECT 1 FROM s"
        " WHERE s.holder = $4::text AND s.holder_conn = $5::bigint)"
        " AND (due <= $3::bigint OR taken_by IS NOT NULL)"
        " AND NOT ($6::int <> 0 AND taken_by IS NOT DISTINCT FROM $4::text"
        " AND taken_conn IS NOT DISTINCT FROM $5::bigint)"
        " ORDER BY seq LIMIT $2)," TAKE_MARK " SELECT" TAKE_COLS ","
        " (SELECT count(*) FROM d), (SELECT state FROM s),"
        " (SELECT holder FROM s), (SELECT holder_conn FROM s)"
        " FROM (SELECT 1) one LEFT JOIN p ON true ORDER BY p.seq",
    [PG_UNTAKE] = "UPDATE outbox SET taken_by = NULL, taken_conn = NULL"
                  " WHERE sid = $1 AND seq = ANY ($2::bigint[])"
                  " AND" PG_TAKEN_BY " = $3 AND taken_conn = $4",
    /* the rows deleted, and the session's holder when another (it may
     * wait for them to be done), in one statement */
    [PG_TAKEN_DEL] = "WITH d AS (DELETE FROM outbox WHERE sid = $1"
                     " AND" PG_TAKEN_BY " = $2 AND taken_conn = $3"
                     " RETURNING 1) SELECT (SELECT count(*) FROM d),"
                     " (SELECT holder FROM sessions"
                     " WHERE sid = $1 AND holder IS NOT NULL"
                     " AND (holder IS DISTINCT FROM $2::text"
                     " OR holder_conn IS DISTINCT FROM $3::bigint))",
    /* PG_TAKEN_DEL, then PG_DETACH's parameters in its order ($4 the
     * sid, $5 the holder, $6 its connection): the session's holder is
     * read as it was before, another one to ring */
    [PG_TAKEN_DEL_DETACH] =
        "WITH d AS (DELETE FROM outbox WHERE sid = $4"
        " AND" PG_TAKEN_BY " = $5 AND taken_conn = $6 RETURNING 1),"
        " u AS (" PG_DETACH_SET " WHERE sid = $4 AND" PG_HOLDER_COL " = $5"
        " AND holder_conn = $6 RETURNING 1)"
        " SELECT (SELECT count(*) FROM d), (SELECT holder FROM sessions"
        " WHERE sid = $4 AND holder IS NOT NULL"
        " AND (holder IS DISTINCT FROM $5::text"
        " OR holder_conn IS DISTINCT FROM $6::bigint)),"
        " (SELECT count(*) FROM u)",
    [PG_TAKEN_RELEASE] = "UPDATE outbox SET taken_by = NULL,"
                         " taken_conn = NULL WHERE sid = $1"
                         " AND" PG_TAKEN_BY " = $2 AND taken_conn = $3",
    [PG_NEXT_DUE] = "SELECT min(due) FROM outbox WHERE sid = $1"
                    " AND due > $2",
    [PG_READY] = "SELECT s.sid FROM sessions s WHERE" PG_READY_WHERE,
    /* PG_TICK's snapshot, then, when it is not $3's, PG_READY */
    [PG_WATCH] = "SELECT x.v, r.sid FROM (" PG_TICK_SQL ") x(v)"
                 " LEFT JOIN LATERAL (SELECT s.sid FROM sessions s"
                 " WHERE x.v <> $3::text AND" PG_READY_WHERE ") r ON true",
    [PG_DEL] = "DELETE FROM outbox WHERE sid = $1 AND seq <= $2"
               " AND due <= $3",
    [PG_COUNT] = "SELECT count(*) FROM outbox WHERE sid = $1",
    [PG_BRIDGE_PUT] = "INSERT INTO bridge_queue (sid, body, created)"
                      " VALUES ($1, $2, $3)",
    [PG_BRIDGE_COUNT] = "SELECT count(*) FROM bridge_queue WHERE sid = $1",
    [PG_BRIDGE_COUNT_ALL] = "SELECT count(*) FROM bridge_queue",
    [PG_BRIDGE_FIRST] =
        "SELECT " BRIDGE_COLS " FROM bridge_queue q WHERE q.sid = $1"
        " AND q.seq = (SELECT min(seq) FROM bridge_queue"
        " WHERE sid = $1)" BRIDGE_FREE,
    /* the scan: $3 the grace's cutoff, $4 the most sessions */
    [PG_BRIDGE_SCAN] = "SELECT " BRIDGE_COLS " FROM bridge_queue q"
                       " WHERE q.seq = (SELECT min(r.seq) FROM bridge_queue r"
                       " WHERE r.sid = q.sid)" BRIDGE_FREE
                       " AND (q.created <= $3 OR q.tries > 0)"
                       " AND ($1::text IS NULL OR q.sid = $1::text)"
                       " ORDER BY q.created, q.seq LIMIT $4",
    [PG_BRIDGE_MARK] = "UPDATE bridge_queue SET taker = $2, until = $3,"
                       " tries = tries + 1 WHERE seq = $1",
    [PG_BRIDGE_DONE] = "DELETE FROM bridge_queue"
                       " WHERE seq = $2 AND sid = $1 AND taker = $3",
    [PG_BRIDGE_RETRY] = "UPDATE bridge_queue SET taker = NULL, until = 0,"
                        " next_at = $4"
                        " WHERE seq = $2 AND sid = $1 AND taker = $3",
};

/* n packets were queued for sid: its entry read ahead shows them (the
 * trigger outbox_queued changes nothing else of its row). */
static void
pg_queued_mend(struct sio_store *st, const char *sid, long long n)
{
	struct pg_ahead *a = pg_ahead_mend(st, sid);

	if (a != NULL)
		a->queued += n;
}

/* The outbox check's row of sid into *a (read ahead, or read now):
 * SIO_OK, SIO_ABSENT, SIO_CLOSED, SIO_ERR. */
static int
pg_put_check(struct sio_store *st, const char *sid, struct pg_ahead *a)
{
	const struct pg_ahead *ahead = pg_ahead_find(st, sid);
	PGresult *r = NULL;
	const char *t;

	if (ahead != NULL) {
		*a = *ahead;
	} else if ((r = pg_exec(st, PG_PUT_CHECK, "t", sid)) == NULL) {
		return SIO_ERR;
	} else if (PQntuples(r) == 0) {
		PQclear(r);
		sio_store_fail(st, "no such session");
		return SIO_ABSENT;
	} else {
		a->state = pg_state(r, 0, 0);
		t = pg_text(r, 0, 1);
		a->held = t != NULL;
		sio_buf_copy(a->holder, sizeof(a->holder), t ? t : "");
		a->queued = pg_int(r, 0, 2);
		a->conn = pg_int(r, 0, 3);
		a->last_recv = pg_int(r, 0, 4);
		PQclear(r);
	}
	if (a->state != SIO_SESSION_CLOSED)
		return SIO_OK;
	sio_store_fail(st, "no such session");
	return SIO_CLOSED;
}

int
pg_outbox_room(struct sio_store *st, const char *sid, int *room, int *attached,
               long long *last_recv)
{
	struct pg_ahead a;
	int rc;

	*room = 0;
	*attached = 0;
	if ((rc = pg_put_check(st, sid, &a)) != SIO_OK)
		return rc;
	if (a.queued < PGC(st)->max_queue)
		*room = (int)(PGC(st)->max_queue - a.queued);
	*attached = a.held;
	*last_recv = a.last_recv;
	return SIO_OK;
}

int
pg_outbox_target(struct sio_store *st, const char *sid, int flags,
                 char holder[SIO_HOLDER_LEN], long long *conn,
                 long long *queued)
{
	struct pg_ahead a;
	int rc;

	holder[0] = '\0';
	*queued = 0;
	if ((rc = pg_put_check(st, sid, &a)) != SIO_OK)
		return rc;
	/* a volatile packet with no transport attached is dropped whatever
	 * the queue holds: SIO_OK, as socket.io 0.9 drops it */
	if (a.queued >= PGC(st)->max_queue &&
	    !((flags & SIO_STORE_VOLATILE) && !a.held)) {
		sio_store_fail(st, "queue full");
		return SIO_FULL;
	}
	sio_buf_copy(holder, SIO_HOLDER_LEN, a.holder);
	*queued = a.queued;
	*conn = a.conn;
	return SIO_OK;
}

int
pg_outbox_insert(struct sio_store *st, const char *sid, const char *pkt,
                 size_t len, long long due)
{
	if (pg_run(st, PG_PUT, "tbii", sid, pkt, len, sio_store_now(), due) !=
	    SIO_OK)
		return SIO_ERR;
	pg_queued_mend(st, sid, PGC(st)->changes);
	return SIO_OK;
}

int
pg_outbox_put(struct sio_store *st, const char *sid, const char *pkt,
              size_t len, int flags, long long due, char holder[SIO_HOLDER_LEN])
{
	long long vol = (flags & SIO_STORE_VOLATILE) != 0;
	PGresult *r =
	    pg_exec(st, PG_PUT_ONE, "tbiiii", sid, pkt, len, sio_store_now(),
	            due, vol, (long long)PGC(st)->max_queue);
	const char *t;
	int rc = SIO_OK;

	holder[0] = '\0';
	if (r == NULL)
		return SIO_ERR;
	if (PQntuples(r) == 0 || pg_state(r, 0, 0) == SIO_SESSION_CLOSED) {
		rc = PQntuples(r) == 0 ? SIO_ABSENT : SIO_CLOSED;
		sio_store_fail(st, "no such session");
	} else if (pg_int(r, 0, 3) == 1) {
		t = pg_text(r, 0, 1);
		sio_buf_copy(holder, SIO_HOLDER_LEN, t ? t : "");
		pg_queued_mend(st, sid, 1);
	} else if (!(vol && pg_null(r, 0, 1))) {
		/* as pg_outbox_target(): a volatile packet with no transport
		 * attached is dropped, whatever the queue holds */
		rc = SIO_FULL;
		sio_store_fail(st, "queue full");
	}
	PQclear(r);
	return rc;
}

int
pg_outbox_broadcast(struct sio_store *st, const char *endpoint,
                    const char *room, const char *exclude_sid, const char *pkt,
                    size_t len, int flags, long long due)
{
	long long vol = (flags & SIO_STORE_VOLATILE) != 0,
	          max = PGC(st)->max_queue;
	PGresult *r;
	int own, rc, n;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	r = pg_exec(st, PG_BCAST, "tttiibii", endpoint, room, exclude_sid, vol,
	            max, pkt, len, sio_store_now(), due);
	n = r != NULL ? PQntuples(r) : 0;
	for (int i = 0; i < n; i++)
		pg_queued_mend(st, pg_text(r, i, 0), 1);
	rc = pg_ring_rows(st, r);
	return sio_store_tx_end(st, own, rc == SIO_OK ? n : rc);
}

/* Whether row i of a PG_PEEK result is taken by someone other than
 * (holder, conn); holder NULL: by anyone. */
static int
pg_taken_by_other(const PGresult *r, int i, const char *holder, long long conn)
{
	const char *by = pg_text(r, i, 2);

	if (by == NULL)
		return 0;
	return holder == NULL || strcmp(by, holder) != 0 || pg_null(r, i, 3) ||
	       pg_int(r, i, 3) != conn;
}

/* The seqs a peek passed to fn and those it skipped as unwritable, each a
 * PostgreSQL array literal ("{3,4}") for the take's mark and drop. */
struct pg_seqs {
	char *list;
	size_t len, cap;
};

static int
pg_seqs_add(struct pg_seqs *s, long long seq)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%s%lld", s->len ? "," : "{", seq);

	if (s->len + (size_t)n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		char *p = realloc(s->list, cap);

		if (p == NULL)
			return SIO_ERR;
		s->list = p;
		s->cap = cap;
	}
	memcpy(s->list + s->len, num, (size_t)n);
	s->len += (size_t)n;
	strcpy(s->list + s->len, "}");
	return SIO_OK;
}

/* Rows of a page of the peek. */
#define PG_PEEK_PAGE 256

/* What a take collects as it reads (pg_outbox_take()). */
struct pg_take {
	PGresult *first; /* its first page (PG_TAKE_PAGE): the free rows
	                    before the first taken by another are marked */
	struct pg_seqs taken, bad; /* passed to fn; skipped as unwritable */
	struct pg_seqs untake;     /* of the first page, marked, not taken */
	long long limit;           /* rows of the first page at most */
	int later;                 /* taken past the first page: to mark */
};

/* After the first page's row i, where its read stopped: what it marked
 * and nobody took, handed back (t->untake). */
static int
pg_take_rest(struct pg_take *t, const PGresult *r, int i, int rows,
             const char *holder, long long conn)
{
	for (; i < rows; i++) {
		if (pg_null(r, i, 2)) {
			if (pg_seqs_add(&t->untake, pg_int(r, i, 0)) != SIO_OK)
				return SIO_ERR;
		} else if (pg_taken_by_other(r, i, holder, conn)) {
			break; /* nothing past it was marked */
		}
	}
	return SIO_OK;
}

/*
 * Delivery is in order: a packet another writer has taken may yet be
 * handed back, so nothing after it goes out before it is done with.
 * Packets (holder, conn) took itself are being written by it: passed
 * over. A take (t; NULL for a peek) collects the seqs passed to fn and
 * those skipped as unwritable, its first page read (and marked) already.
 */
static int
pg_peek(struct sio_store *st, const char *sid, long long now, size_t max,
        const char *holder, long long conn,
        int (*fn)(void *udata, const char *pkt, size_t len), void *udata,
        long long *last_seq, int *blocked, struct pg_take *t)
{
	long long after = 0;
	int n = 0, done = 0, page = 0;

	*last_seq = 0;
	*blocked = 0;
	for (; !done && (size_t)n < max; page++) {
		PGresult *r =
		    t != NULL && page == 0
		        ? t->first
		        : pg_exec(st, PG_PEEK, "tiii", sid,
		                  (long long)PG_PEEK_PAGE, now, after);
		int rows, i, oom = 0;

		if (r == NULL)
			return SIO_ERR;
		rows = PQntuples(r);
		if (rows == 1 && pg_null(r, 0, 0)) /* PG_TAKE_PAGE's none */
			rows = 0;
		done =
		    rows < (t != NULL && page == 0 ? t->limit : PG_PEEK_PAGE);
		for (i = 0; i < rows && (size_t)n < max; i++) {
			const char *pkt = pg_text(r, i, 1);
			size_t len = pkt ? (size_t)PQgetlength(r, i, 1) : 0;
			long long seq = pg_int(r, i, 0);

			after = seq;
			if (!pg_null(r, i, 2)) {
				if (pg_taken_by_other(r, i, holder, conn)) {
					*blocked = 1;
					done = 1;
					break;
				}
				continue;
			}
			if (!sio_store_packet_ok(pkt, len)) {
				if (t && pg_seqs_add(&t->bad, seq) != SIO_OK) {
					oom = 1;
					break;
				}
				continue;
			}
			if (fn(udata, pkt, len) != SIO_OK) {
				done = 1;
				break;
			}
			if (t && pg_seqs_add(&t->taken, seq) != SIO_OK) {
				oom = 1;
				break;
			}
			if (t && page > 0)
				t->later++;
			*last_seq = seq;
			n++;
		}
		if (!oom && t != NULL && page == 0)
			oom =
			    pg_take_rest(t, r, i, rows, holder, conn) != SIO_OK;
		PQclear(r);
		if (t != NULL && page == 0)
			t->first = NULL;
		if (oom)
			return sio_store_fail(st, "out of memory");
	}
	if (t != NULL && t->first != NULL) { /* max 0: never read */
		if (pg_take_rest(t, t->first, 0, PQntuples(t->first), holder,
		                 conn) != SIO_OK)
			n = sio_store_fail(st, "out of memory");
		PQclear(t->first);
		t->first = NULL;
	}
	return n;
}

int
pg_outbox_peek(struct sio_store *st, const char *sid, long long now, size_t max,
               const char *holder, long long conn,
               int (*fn)(void *udata, const char *pkt, size_t len), void *udata,
               long long *last_seq, int *blocked)
{
	return pg_peek(st, sid, now, max, holder, conn, fn, udata, last_seq,
	               blocked, NULL);
}

/* Keeps what a take read of sid's next delayed packet at now (absent:
 * none) for pg_outbox_next_due(): an attach that found nothing to take
 * asks for it next. */
static void
pg_due_keep(struct sio_store *st, const char *sid, long long now, int absent,
            long long due)
{
	struct pg_conn *q = PGC(st);

	q->due_absent = absent;
	q->due = due;
	q->due_now = now;
	sio_buf_copy(q->due_sid, sizeof(q->due_sid), sid);
	q->due_set = 1;
}

/* The first page of a take and, when it read none, the next delayed
 * packet's due (pg_due_keep()). */
static PGresult *
pg_take_page(struct sio_store *st, const char *sid, long long now,
             long long limit, const char *holder, long long conn)
{
	PGresult *r =
	    pg_exec(st, PG_TAKE_PAGE, "tiiti", sid, limit, now, holder, conn);

	if (r != NULL && PQntuples(r) == 1 && pg_null(r, 0, 0))
		pg_due_keep(st, sid, now, pg_null(r, 0, 4), pg_int(r, 0, 4));
	return r;
}

/* Whether sid's queue, read ahead, is empty: then a take finds nothing,
 * nor a delayed packet. */
static int
pg_take_none(struct sio_store *st, const char *sid, long long now)
{
	const struct pg_ahead *a = pg_ahead_find(st, sid);

	if (a == NULL || a->queued != 0)
		return 0;
	pg_due_keep(st, sid, now, 1, 0);
	return 1;
}

int
pg_outbox_take(struct sio_store *st, const char *sid, long long now, size_t max,
               const char *holder, long long conn,
               int (*fn)(void *udata, const char *pkt, size_t len), void *udata,
               int *blocked, int *dropped)
{
	struct pg_take t = {0};
	long long last_seq;
	int own, n, rc;

	*dropped = 0;
	*blocked = 0;
	if (pg_take_none(st, sid, now))
		return 0;
	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	/* as many as it may take, unless it passes over some: a read of
	 * the rest follows then */
	t.limit = max < PG_PEEK_PAGE ? (long long)max : PG_PEEK_PAGE;
	if ((t.first = pg_take_page(st, sid, now, t.limit, holder, conn)) ==
	    NULL)
		return sio_store_tx_end(st, own, SIO_ERR);
	n = pg_peek(st, sid, now, max, holder, conn, fn, udata, &last_seq,
	            blocked, &t);
	rc = n < 0 ? SIO_ERR : SIO_OK;
	if (rc == SIO_OK && t.bad.len > 0) {
		rc = pg_run(st, PG_DROP_BAD, "ttti", sid, t.bad.list, holder,
		            conn);
		*dropped = (int)PGC(st)->changes;
	}
	if (rc == SIO_OK && t.untake.len > 0)
		rc = pg_run(st, PG_UNTAKE, "ttti", sid, t.untake.list, holder,
		            conn);
	if (rc == SIO_OK && t.later > 0)
		rc = pg_run(st, PG_TAKE, "ttit", sid, holder, conn,
		            t.taken.list);
	free(t.taken.list);
	free(t.bad.list);
	free(t.untake.list);
	rc = sio_store_tx_end(st, own, rc);
	return rc == SIO_OK ? n : SIO_ERR;
}

int
pg_outbox_next_due(struct sio_store *st, const char *sid, long long now,
                   long long *due)
{
	struct pg_conn *q = PGC(st);

	if (q->due_set && q->due_now == now && strcmp(q->due_sid, sid) == 0) {
		q->due_set = 0;
		*due = q->due;
		return q->due_absent ? SIO_ABSENT : SIO_OK;
	}
	return pg_one(st, due, PG_NEXT_DUE, "ti", sid, now);
}

int
pg_watch(struct sio_store *st, const char *holder, long long now,
         void (*fn)(void *udata, const char *sid), void *udata)
{
	struct pg_conn *q = PGC(st);
	char was[24];
	PGresult *r;
	int n = 0;

	snprintf(was, sizeof(was), "%lld", q->xmax);
	r = pg_exec(st, PG_WATCH, "tit", holder, now, q->xmax < 0 ? NULL : was);
	if (r == NULL)
		return SIO_ERR;
	if (PQntuples(r) > 0)
		q->xmax = atoll(pg_text(r, 0, 0));
	for (int i = 0; i < PQntuples(r); i++)
		if (!PQgetisnull(r, i, 1)) {
			fn(udata, pg_text(r, i, 1));
			n++;
		}
	PQclear(r);
	return n;
}

int
pg_outbox_ready(struct sio_store *st, const char *holder, long long now,
                void (*fn)(void *udata, const char *sid), void *udata)
{
	PGresult *r = pg_exec(st, PG_READY, "ti", holder, now);
	int n;

	if (r == NULL)
		return SIO_ERR;
	n = PQntuples(r);
	for (int i = 0; i < n; i++)
		fn(udata, pg_text(r, i, 0));
	PQclear(r);
	return n;
}

/* After a delete of written packets (rc its result): adds the rows it
 * deleted to packets_sent, in the same transaction. */
static int
pg_count_sent(struct sio_store *st, int rc)
{
	if (rc != SIO_OK || PGC(st)->changes == 0)
		return rc;
	return sio_store_counter_add(st, "packets_sent", PGC(st)->changes);
}

int
pg_outbox_del(struct sio_store *st, const char *sid, long long now,
              long long last_seq)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = pg_run(st, PG_DEL, "tii", sid, last_seq, now);
	rc = pg_count_sent(st, rc);
	return sio_store_tx_end(st, own, rc);
}

/* n rows of sid deleted by a done: counted as sent, and the session's
 * other holder (NULL: none), who may wait for them, rung. */
static int
pg_done_count(struct sio_store *st, const char *sid, long long n,
              const char *other)
{
	int rc;

	if (n <= 0)
		return SIO_OK;
	/* first: outside a transaction, the add is one of its own, whose
	 * begin would forget a bell made before it */
	rc = sio_store_counter_add(st, "packets_sent", n);
	if (other != NULL)
		sio_store_bell(st, other, sid);
	return rc;
}

/* A done's result r (cleared): the rows it deleted (column 0), the
 * session's other holder (column 1), as pg_done_count(). */
static int
pg_done_rows(struct sio_store *st, PGresult *r, const char *sid)
{
	int rc = pg_done_count(st, sid, pg_int(r, 0, 0), pg_text(r, 0, 1));

	PQclear(r);
	return rc;
}

/*
 * A done and a take in one statement outside any transaction, taking no
 * writers' lock (PG_DONE_TAKE): what it may do without one. It locks the
 * session's row before anything else and waits, holding nothing, for a
 * writer that changed it (an attach by another holder, a put, an end),
 * then reads that row as the writer left it (its holder, its state); the
 * outbox it reads as it was when the statement began, so the packets
 * such a writer queued come with the writer's ring, after its commit.
 * Inserts into an outbox are still made under the lock, so that what it
 * reads of one is in order. A closed session with nothing taken is left
 * to a transaction (SIO_AGAIN), lest its end be decided before the final
 * packets queued with it. It marks only the first page; a page with an
 * unwritable packet is handed back whole (SIO_AGAIN: the caller takes in
 * a transaction, which drops them). Not run again when its connection is
 * lost (pg_vexec()): what it did is then unknown (SIO_ERR).
 */
int
pg_outbox_done_take(struct sio_store *st, const char *sid, long long now,
                    size_t max, const char *holder, long long conn, int done,
                    int (*fn)(void *udata, const char *pkt, size_t len),
                    void *udata, int *state, int *blocked, int *more)
{
	struct pg_take t = {0};
	long long limit = max < PG_PEEK_PAGE ? (long long)max : PG_PEEK_PAGE;
	const char *h;
	int rows, i, n = 0, held, rc = SIO_OK;

	*state = SIO_ABSENT;
	*blocked = *more = 0;
	if (PGC(st)->in_tx)
		return sio_store_fail(st, "done_take: inside a transaction");
	t.first = pg_exec(st, PG_DONE_TAKE, "tiitiii", sid, limit, now, holder,
	                  conn, (long long)(done != 0), (long long)(max > 0));
	if (t.first == NULL)
		return SIO_ERR;
	/* a row at least: p's, or one of NULLs */
	h = pg_text(t.first, 0, 7);
	held = h != NULL && strcmp(h, holder) == 0 && !pg_null(t.first, 0, 8) &&
	       pg_int(t.first, 0, 8) == conn;
	if (held)
		*state = pg_state(t.first, 0, 6);
	/* done whatever becomes of the count (deferred in sio-wsd) */
	(void)pg_done_count(st, sid, pg_int(t.first, 0, 5), held ? NULL : h);
	rows = pg_null(t.first, 0, 0) ? 0 : PQntuples(t.first);
	if (held && max > 0 && rows == 0)
		pg_due_keep(st, sid, now, pg_null(t.first, 0, 4),
		            pg_int(t.first, 0, 4));
	for (i = 0; rc == SIO_OK && i < rows; i++)
		if (pg_null(t.first, i, 2) &&
		    !sio_store_packet_ok(pg_text(t.first, i, 1),
		                         (size_t)PQgetlength(t.first, i, 1)))
			rc = SIO_AGAIN;
	for (i = 0; rc == SIO_OK && i < rows; i++) {
		if (!pg_null(t.first, i, 2)) {
			if (pg_taken_by_other(t.first, i, holder, conn)) {
				*blocked = 1;
				break;
			}
			continue; /* its own, being written */
		}
		if (fn(udata, pg_text(t.first, i, 1),
		       (size_t)PQgetlength(t.first, i, 1)) != SIO_OK)
			rc = SIO_AGAIN;
		else
			n++;
	}
	*more = limit > 0 && rows == limit && !*blocked;
	/* a closed session's end may have queued what it did not see */
	if (rc == SIO_OK && n == 0 && *state == SIO_SESSION_CLOSED)
		rc = SIO_AGAIN;
	/* on trouble, every row it marked goes back; the done stands */
	if (rc != SIO_OK &&
	    (pg_take_rest(&t, t.first, 0, rows, holder, conn) != SIO_OK ||
	     (t.untake.len > 0 &&
	      pg_run(st, PG_UNTAKE, "ttti", sid, t.untake.list, holder, conn) !=
	          SIO_OK)))
		rc = SIO_ERR;
	PQclear(t.first);
	free(t.untake.list);
	return rc == SIO_OK ? n : rc;
}

int
pg_outbox_done(struct sio_store *st, const char *sid, const char *holder,
               long long conn)
{
	struct pg_ahead *a;
	PGresult *r;
	int own;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	r = pg_exec(st, PG_TAKEN_DEL, "tti", sid, holder, conn);
	if (r == NULL)
		return sio_store_tx_end(st, own, SIO_ERR);
	if ((a = pg_ahead_mend(st, sid)) != NULL)
		a->queued -= pg_int(r, 0, 0);
	return sio_store_tx_end(st, own, pg_done_rows(st, r, sid));
}

int
pg_outbox_done_detach(struct sio_store *st, const char *sid, const char *holder,
                      long long conn, long long now, unsigned from, int to)
{
	char w[SIO_STORE_WORDS_LEN];
	PGresult *r;
	int own;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	r = pg_exec(st, PG_TAKEN_DEL_DETACH, "itttti", now,
	            sio_store_words(from, 0, w), sio_store_state_name(to), sid,
	            holder, conn);
	if (r == NULL)
		return sio_store_tx_end(st, own, SIO_ERR);
	return sio_store_tx_end(st, own, pg_done_rows(st, r, sid));
}

int
pg_outbox_release(struct sio_store *st, const char *sid, const char *holder,
                  long long conn)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = pg_run(st, PG_TAKEN_RELEASE, "tti", sid, holder, conn);
	if (rc == SIO_OK) /* the current holder may be waiting for them */
		rc = pg_ring_holder(st, sid);
	return sio_store_tx_end(st, own, rc);
}

int
pg_outbox_count(struct sio_store *st, const char *sid)
{
	long long n = 0;

	if (pg_one(st, &n, PG_COUNT, "t", sid) == SIO_ERR)
		return SIO_ERR;
	return (int)n;
}

/* --- the bridge's queue --------------------------------------------------- */

int
pg_bridge_put(struct sio_store *st, const char *sid, const char *body,
              size_t len, long long now, int max)
{
	long long n = 0;

	if (max > 0) {
		if (pg_one(st, &n, PG_BRIDGE_COUNT, "t", sid) == SIO_ERR)
			return SIO_ERR;
		if (n >= max)
			return SIO_FULL;
	}
	return pg_write(st, PG_BRIDGE_PUT, "tbi", sid, body, len, now);
}

static void
bridge_events_free(struct sio_store_bridge_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		free((char *)ev[i].sid);
		free((char *)ev[i].body);
	}
	free(ev);
}

/* Copies the events of r into *out, then marks each for taker. */
static int
bridge_take_rows(struct sio_store *st, PGresult *r, const char *taker,
                 long long until, struct sio_store_bridge_event **out, int *n)
{
	struct sio_store_bridge_event *ev;
	int rows = PQntuples(r), failed = 0;

	*n = 0;
	if (rows == 0)
		return SIO_OK;
	if ((ev = calloc((size_t)rows, sizeof(*ev))) == NULL)
		return sio_store_fail(st, "out of memory");
	*out = ev;
	for (int i = 0; i < rows; i++) {
		ev[i].seq = pg_int(r, i, 0);
		ev[i].sid = pg_dup(r, i, 1, &failed);
		ev[i].body = pg_dup(r, i, 2, &failed);
		ev[i].len = (size_t)PQgetlength(r, i, 2);
		ev[i].tries = (int)pg_int(r, i, 3) + 1;
		ev[i].created = pg_int(r, i, 4);
		*n = i + 1;
		if (failed || ev[i].sid == NULL || ev[i].body == NULL)
			return sio_store_fail(st, "out of memory");
	}
	for (int i = 0; i < rows; i++)
		if (pg_run(st, PG_BRIDGE_MARK, "iti", ev[i].seq, taker,
		           until) != SIO_OK)
			return SIO_ERR;
	return SIO_OK;
}

int
pg_bridge_take(struct sio_store *st, const char *sid, const char *taker,
               long long now, long long lease_ms, long long grace_ms, int max,
               void (*fn)(void *udata, const struct sio_store_bridge_event *e),
               void *udata)
{
	struct sio_store_bridge_event *ev = NULL;
	PGresult *r;
	int own, rc, n = 0;

	if (sid == NULL && max <= 0)
		return 0;
	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	if (sid != NULL)
		r = pg_exec(st, PG_BRIDGE_FIRST, "ti", sid, now);
	else
		r = pg_exec(st, PG_BRIDGE_SCAN, "tiii", (const char *)NULL, now,
		            now - grace_ms, (long long)max);
	rc = r ? bridge_take_rows(st, r, taker, now + lease_ms, &ev, &n)
	       : SIO_ERR;
	PQclear(r);
	rc = sio_store_tx_end(st, own, rc == SIO_OK ? n : SIO_ERR);
	for (int i = 0; rc > 0 && fn != NULL && i < n; i++)
		fn(udata, &ev[i]);
	bridge_events_free(ev, n);
	return rc;
}

/* A done or retry: SIO_OK when it changed the row, SIO_ABSENT when the
 * event is no longer the taker's. */
static int
bridge_held(struct sio_store *st, int rc)
{
	return rc == SIO_OK && PGC(st)->changes == 0 ? SIO_ABSENT : rc;
}

int
pg_bridge_done(struct sio_store *st, const char *sid, long long seq,
               const char *taker)
{
	return bridge_held(
	    st, pg_write(st, PG_BRIDGE_DONE, "tit", sid, seq, taker));
}

int
pg_bridge_retry(struct sio_store *st, const char *sid, long long seq,
                const char *taker, long long next_at)
{
	return bridge_held(st, pg_write(st, PG_BRIDGE_RETRY, "titi", sid, seq,
	                                taker, next_at));
}

int
pg_bridge_count(struct sio_store *st, const char *sid, long long *n)
{
	int rc = sid ? pg_one(st, n, PG_BRIDGE_COUNT, "t", sid)
	             : pg_one(st, n, PG_BRIDGE_COUNT_ALL, "");

	return rc == SIO_ERR ? SIO_ERR : SIO_OK;
}
