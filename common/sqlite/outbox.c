/*
 * outbox.c: the SQLite backend's outbox: packets queued per session in
 * order (seq), read, taken by a writer, and deleted once written or handed
 * back; broadcasts to an endpoint or a room in one statement.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "sqlite.h"

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

const char *const sqlite_outbox_sql[SQL_NSTMT] = {
    [SQL_PUT_CHECK] = "SELECT state, holder, queued, holder_conn, last_recv"
                      " FROM sessions WHERE sid = ?1",
    [SQL_PUT] = "INSERT INTO outbox (sid, packet, created, due)"
                " VALUES (?1, ?2, ?3, ?4)",
    [SQL_BCAST_SELECT] = "SELECT s.sid, s.holder" BCAST_FROM,
    [SQL_BCAST_INSERT] = "INSERT INTO outbox (sid, packet, created, due)"
                         " SELECT s.sid, ?6, ?7, ?8" BCAST_FROM,
    /* Taken rows whatever their due: one taken by another writer ends
     * the read (sqlite_outbox_peek()). */
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
};

/* siogate_packet_ok(packet) in SQL: sio_store_packet_ok(). */
static void
sqlite_sql_packet_ok(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *pkt = (const char *)sqlite3_value_text(argv[0]);

	(void)argc;
	sqlite3_result_int(ctx, sio_store_packet_ok(
	                            pkt, (size_t)sqlite3_value_bytes(argv[0])));
}

/* The SQL functions siogate's statements use (not the sqlite3 shell). */
int
sqlite_outbox_functions(struct sio_store *st)
{
	if (sqlite3_create_function_v2(
	        SQ(st)->db, "siogate_packet_ok", 1,
	        SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
	        sqlite_sql_packet_ok, NULL, NULL, NULL) != SQLITE_OK)
		return sqlite_sqlfail(st);
	return SIO_OK;
}

int
sqlite_outbox_room(struct sio_store *st, const char *sid, int *room,
                   int *attached, long long *last_recv)
{
	sqlite3_stmt *s = sqlite_prep(st, SQL_PUT_CHECK, "t", sid);
	long long queued;
	int rc;

	*room = 0;
	*attached = 0;
	if (s == NULL || (rc = sqlite_step(st, s)) == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_DONE || sqlite_state(s, 0) == SIO_SESSION_CLOSED) {
		sqlite3_reset(s);
		sio_store_fail(st, "no such session");
		return rc == SQLITE_DONE ? SIO_ABSENT : SIO_CLOSED;
	}
	queued = sqlite3_column_int64(s, 2);
	if (queued < SQ(st)->max_queue)
		*room = (int)(SQ(st)->max_queue - queued);
	*attached = sqlite3_column_type(s, 1) != SQLITE_NULL;
	*last_recv = sqlite3_column_int64(s, 4);
	sqlite3_reset(s);
	return SIO_OK;
}

int
sqlite_outbox_target(struct sio_store *st, const char *sid, int flags,
                     char holder[SIO_HOLDER_LEN], long long *conn,
                     long long *queued)
{
	sqlite3_stmt *s = sqlite_prep(st, SQL_PUT_CHECK, "t", sid);
	const unsigned char *t;
	int rc;

	holder[0] = '\0';
	*queued = 0;
	if (s == NULL || (rc = sqlite_step(st, s)) == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_DONE || sqlite_state(s, 0) == SIO_SESSION_CLOSED) {
		sqlite3_reset(s);
		sio_store_fail(st, "no such session");
		return rc == SQLITE_DONE ? SIO_ABSENT : SIO_CLOSED;
	}
	/* a volatile packet with no transport attached is dropped whatever
	 * the queue holds: SIO_OK, as socket.io 0.9 drops it */
	if (sqlite3_column_int64(s, 2) >= SQ(st)->max_queue &&
	    !((flags & SIO_STORE_VOLATILE) &&
	      sqlite3_column_type(s, 1) == SQLITE_NULL)) {
		sqlite3_reset(s);
		sio_store_fail(st, "queue full");
		return SIO_FULL;
	}
	t = sqlite3_column_text(s, 1);
	sio_buf_copy(holder, SIO_HOLDER_LEN, t ? (const char *)t : "");
	*queued = sqlite3_column_int64(s, 2);
	*conn = sqlite3_column_int64(s, 3);
	sqlite3_reset(s);
	return SIO_OK;
}

int
sqlite_outbox_insert(struct sio_store *st, const char *sid, const char *pkt,
                     size_t len, long long due)
{
	return sqlite_run(st, sqlite_prep(st, SQL_PUT, "tbii", sid, pkt, len,
	                                  sio_store_now(), due));
}

int
sqlite_outbox_broadcast(struct sio_store *st, const char *endpoint,
                        const char *room, const char *exclude_sid,
                        const char *pkt, size_t len, int flags, long long due)
{
	long long vol = (flags & SIO_STORE_VOLATILE) != 0,
	          max = SQ(st)->max_queue;
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_ring_rows(st, sqlite_prep(st, SQL_BCAST_SELECT, "tttii",
	                                      endpoint, room, exclude_sid, vol,
	                                      max));
	if (rc == SIO_OK)
		rc = sqlite_run(st, sqlite_prep(st, SQL_BCAST_INSERT,
		                                "tttiibii", endpoint, room,
		                                exclude_sid, vol, max, pkt, len,
		                                sio_store_now(), due));
	if (rc == SIO_OK)
		rc = sqlite3_changes(SQ(st)->db);
	return sio_store_tx_end(st, own, rc);
}

/* Whether row s (SQL_PEEK) is taken by someone other than (holder,
 * conn); holder NULL: by anyone. */
static int
sqlite_taken_by_other(sqlite3_stmt *s, const char *holder, long long conn)
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
sqlite_outbox_peek(struct sio_store *st, const char *sid, long long now,
                   size_t max, const char *holder, long long conn,
                   int (*fn)(void *udata, const char *pkt, size_t len),
                   void *udata, long long *last_seq, int *blocked)
{
	sqlite3_stmt *s;
	const char *pkt;
	size_t len;
	int rc = SQLITE_DONE, n = 0;

	*last_seq = 0;
	SQ(st)->bad = SQ(st)->bad_last = 0;
	*blocked = 0;
	/* No LIMIT (-1): rows that cannot be written do not count, and the
	 * index walks in seq order, so the steps stop where max is reached. */
	s = sqlite_prep(st, SQL_PEEK, "tii", sid, (long long)-1, now);
	if (s == NULL)
		return SIO_ERR;
	while ((size_t)n < max && (rc = sqlite_step(st, s)) == SQLITE_ROW) {
		if (sqlite3_column_type(s, 2) != SQLITE_NULL) {
			if (sqlite_taken_by_other(s, holder, conn)) {
				*blocked = 1;
				break;
			}
			continue;
		}
		pkt = (const char *)sqlite3_column_text(s, 1);
		len = (size_t)sqlite3_column_bytes(s, 1);
		if (!sio_store_packet_ok(pkt, len)) {
			SQ(st)->bad++;
			SQ(st)->bad_last = sqlite3_column_int64(s, 0);
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
sqlite_outbox_next_due(struct sio_store *st, const char *sid, long long now,
                       long long *due)
{
	sqlite3_stmt *s = sqlite_prep(st, SQL_NEXT_DUE, "ti", sid, now);
	int rc;

	if (s == NULL)
		return SIO_ERR;
	rc = sqlite_step(st, s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return SIO_ERR;
	}
	rc = sqlite3_column_type(s, 0) == SQLITE_NULL ? SIO_ABSENT : SIO_OK;
	if (rc == SIO_OK)
		*due = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc;
}

int
sqlite_outbox_ready(struct sio_store *st, const char *holder, long long now,
                    void (*fn)(void *udata, const char *sid), void *udata)
{
	sqlite3_stmt *s = sqlite_prep(st, SQL_READY, "ti", holder, now);
	int rc, n = 0;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = sqlite_step(st, s)) == SQLITE_ROW) {
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
sqlite_count_sent(struct sio_store *st, int rc)
{
	long long n;

	if (rc != SIO_OK)
		return rc;
	n = sqlite3_changes64(SQ(st)->db);
	if (n == 0)
		return SIO_OK;
	return sio_store_counter_add(st, "packets_sent", n);
}

int
sqlite_outbox_del(struct sio_store *st, const char *sid, long long now,
                  long long last_seq)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc =
	    sqlite_run(st, sqlite_prep(st, SQL_DEL, "tii", sid, last_seq, now));
	rc = sqlite_count_sent(st, rc);
	return sio_store_tx_end(st, own, rc);
}

/*
 * Deletes sid's rows up to seq that no transport could write (what the
 * last peek skipped, SQ(st)->bad of them): rows written by something else
 * with SQL, *dropped of them. Prepared here, not kept: it is the rare
 * path. SIO_OK or SIO_ERR.
 */
static int
sqlite_drop_bad(struct sio_store *st, const char *sid, long long seq,
                int *dropped)
{
	static const char sql[] =
	    "DELETE FROM outbox WHERE sid = ?1 AND seq <= ?2"
	    " AND taken_by IS NULL AND NOT siogate_packet_ok(packet)";
	sqlite3_stmt *s = NULL;
	int rc = SIO_ERR;

	if (sqlite3_prepare_v2(SQ(st)->db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(s, 1, sid, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(s, 2, seq) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_DONE) {
		*dropped = sqlite3_changes(SQ(st)->db);
		rc = SIO_OK;
	} else {
		sqlite_sqlfail(st);
	}
	sqlite3_finalize(s);
	return rc;
}

int
sqlite_outbox_take(struct sio_store *st, const char *sid, long long now,
                   size_t max, const char *holder, long long conn,
                   int (*fn)(void *udata, const char *pkt, size_t len),
                   void *udata, int *blocked, int *dropped)
{
	long long last_seq;
	int own, n, rc;

	*dropped = 0;
	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	n = sqlite_outbox_peek(st, sid, now, max, holder, conn, fn, udata,
	                       &last_seq, blocked);
	rc = n < 0 ? SIO_ERR : SIO_OK;
	if (rc == SIO_OK && SQ(st)->bad > 0)
		rc = sqlite_drop_bad(st, sid, SQ(st)->bad_last, dropped);
	if (rc == SIO_OK && n > 0)
		rc = sqlite_run(st, sqlite_prep(st, SQL_TAKE, "titii", sid,
		                                last_seq, holder, conn, now));
	rc = sio_store_tx_end(st, own, rc);
	return rc == SIO_OK ? n : SIO_ERR;
}

int
sqlite_outbox_done(struct sio_store *st, const char *sid, const char *holder,
                   long long conn)
{
	int own, rc, n;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_run(
	    st, sqlite_prep(st, SQL_TAKEN_DEL, "tti", sid, holder, conn));
	n = rc == SIO_OK ? sqlite3_changes(SQ(st)->db) : 0;
	rc = sqlite_count_sent(st, rc);
	/* a holder other than this writer may wait for them to be done */
	if (rc == SIO_OK && n > 0)
		rc = sqlite_ring_other(st, sid, holder, conn);
	return sio_store_tx_end(st, own, rc);
}

int
sqlite_outbox_release(struct sio_store *st, const char *sid, const char *holder,
                      long long conn)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_run(
	    st, sqlite_prep(st, SQL_TAKEN_RELEASE, "tti", sid, holder, conn));
	if (rc == SIO_OK) /* the current holder may be waiting for them */
		rc = sqlite_ring_holder(st, sid);
	return sio_store_tx_end(st, own, rc);
}

int
sqlite_outbox_count(struct sio_store *st, const char *sid)
{
	long long n = 0;

	if (sqlite_one(st, sqlite_prep(st, SQL_COUNT, "t", sid), &n) == SIO_ERR)
		return SIO_ERR;
	return (int)n;
}
