/*
 * timer.c: the SQLite backend's timers: heartbeats owed, sessions whose
 * timeout ran out (and what a holder that went away held), and the
 * correction of stored times after a step of the wall clock.
 */
#include <limits.h>
#include <string.h>

#include "sqlite.h"

/* Sessions owed a heartbeat: in state ?6, attached on a transport of ?7;
 * ?1 the threshold; ?4 a holder whose sessions are due at ?1 (NULL: every
 * holder's), the others' at ?5. */
#define HB_WHERE                                                               \
	" WHERE state = ?6 AND holder IS NOT NULL"                             \
	" AND instr(?7, ',' || transport || ',') > 0"                          \
	" AND last_heartbeat <= ?1"                                            \
	" AND (?4 IS NULL OR holder = ?4 OR last_heartbeat <= ?5)"
#define HB_ROOM " AND s.queued < ?2"

/* One timeout of expired: state ?s, transports ?t (NULL: any), the clock
 * ?c (enum sio_store_since) at or before ?b. */
#define EXPIRED_ONE(s, t, c, b)                                                \
	" (state = ?" #s " AND (?" #t " IS NULL OR instr(?" #t ","             \
	" ',' || transport || ',') > 0) AND CASE ?" #c " WHEN 1 THEN created"  \
	" WHEN 2 THEN detached_at ELSE last_recv END <= ?" #b ")"
#define EXPIRED_1 EXPIRED_ONE(1, 2, 3, 4)
#define EXPIRED_2 EXPIRED_ONE(5, 6, 7, 8)
#define EXPIRED_3 EXPIRED_ONE(9, 10, 11, 12)
#define EXPIRED_4 EXPIRED_ONE(13, 14, 15, 16)
#define EXPIRED_ALL EXPIRED_1 " OR" EXPIRED_2 " OR" EXPIRED_3 " OR" EXPIRED_4

const char *const sqlite_timer_sql[SQL_NSTMT] = {
    [SQL_HB_SELECT] = "SELECT s.sid, s.holder FROM sessions s" HB_WHERE HB_ROOM,
    [SQL_HB_INSERT] =
        "INSERT INTO outbox (sid, packet, created)"
        " SELECT s.sid, '2::', ?3 FROM sessions s" HB_WHERE HB_ROOM,
    [SQL_HB_UPDATE] = "UPDATE sessions SET last_heartbeat = ?3" HB_WHERE,
    [SQL_GONE_DETACH] =
        DETACH_SET " WHERE" DETACH_FROM " AND holder IS NOT NULL"
                   " AND holder NOT IN (SELECT name FROM processes)",
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
    /* Up to SIO_STORE_TIMEOUTS_MAX timeouts, one (state, transports,
     * clock, threshold) per EXPIRED_ONE; a state NULL matches nothing. */
    [SQL_EXPIRED] = "SELECT sid, state FROM sessions WHERE" EXPIRED_ALL
                    " ORDER BY sid LIMIT ?17",
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
};

int
sqlite_heartbeat_due(struct sio_store *st, long long now, long long interval_ms,
                     const char *holder, long long others_late_ms, int state,
                     unsigned transports)
{
	const char *sw = sio_store_state_name(state);
	char tw[SIO_STORE_WORDS_LEN];
	long long due = now - interval_ms, max = SQ(st)->max_queue;
	long long others =
	    others_late_ms < 0 ? LLONG_MIN : due - others_late_ms;
	int own, rc, n = 0;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	sio_store_words(transports, 1, tw);
	rc =
	    sqlite_ring_rows(st, sqlite_prep(st, SQL_HB_SELECT, "iiititt", due,
	                                     max, now, holder, others, sw, tw));
	if (rc == SIO_OK)
		rc = sqlite_run(st,
		                sqlite_prep(st, SQL_HB_INSERT, "iiititt", due,
		                            max, now, holder, others, sw, tw));
	if (rc == SIO_OK) {
		n = sqlite3_changes(SQ(st)->db);
		rc = sqlite_run(st,
		                sqlite_prep(st, SQL_HB_UPDATE, "iiititt", due,
		                            max, now, holder, others, sw, tw));
	}
	return sio_store_tx_end(st, own, rc == SIO_OK ? n : rc);
}

/* Prepares SQL_EXPIRED for e, max rows, the transports' words in tw (the
 * statement binds them: tw must outlive it); NULL on error. */
static sqlite3_stmt *
timer_expired_prep(struct sio_store *st, const struct sio_store_expiry *e,
                   int max, char (*tw)[SIO_STORE_WORDS_LEN])
{
	const char *w[SIO_STORE_TIMEOUTS_MAX];
	const struct sio_store_timeout *t = e->t;
	const char *st_[SIO_STORE_TIMEOUTS_MAX] = {NULL};
	long long c[SIO_STORE_TIMEOUTS_MAX] = {0}, b[SIO_STORE_TIMEOUTS_MAX];

	for (int i = 0; i < SIO_STORE_TIMEOUTS_MAX; i++) {
		w[i] = NULL;
		b[i] = 0;
		if (i >= e->n)
			continue;
		st_[i] = sio_store_state_name(t[i].state);
		w[i] = t[i].transports
		           ? sio_store_words(t[i].transports, 1, tw[i])
		           : NULL;
		c[i] = t[i].since;
		b[i] = t[i].before;
	}
	return sqlite_prep(st, SQL_EXPIRED, "ttiittiittiittiii", st_[0], w[0],
	                   c[0], b[0], st_[1], w[1], c[1], b[1], st_[2], w[2],
	                   c[2], b[2], st_[3], w[3], c[3], b[3],
	                   (long long)max);
}

static int
timer_expired_list(struct sio_store *st, sqlite3_stmt *s,
                   char (*sids)[SIO_SID_LEN + 1], int *states)
{
	const unsigned char *sid;
	int rc, n = 0;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = sqlite_step(st, s)) == SQLITE_ROW) {
		sid = sqlite3_column_text(s, 0);
		if (sid == NULL || strlen((const char *)sid) > SIO_SID_LEN)
			continue; /* not one of ours; never a session to end */
		strcpy(sids[n], (const char *)sid);
		states[n++] = sqlite_state(s, 1);
	}
	if (rc == SQLITE_ERROR)
		return SIO_ERR;
	sqlite3_reset(s);
	return n;
}

int
sqlite_expired(struct sio_store *st, long long now,
               const struct sio_store_expiry *e, char (*sids)[SIO_SID_LEN + 1],
               int *states, int max)
{
	char w[SIO_STORE_WORDS_LEN],
	    tw[SIO_STORE_TIMEOUTS_MAX][SIO_STORE_WORDS_LEN];
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	/* A holder that unregistered (or was removed) holds nothing: its
	 * sessions start their close timeout now. */
	rc = sqlite_run(st, sqlite_prep(st, SQL_GONE_DETACH, "itt", now,
	                                sio_store_words(e->gone_from, 0, w),
	                                sio_store_state_name(e->gone_to)));
	if (rc == SIO_OK)
		rc =
		    sqlite_ring_rows(st, sqlite_prep(st, SQL_GONE_HOLDERS, ""));
	if (rc == SIO_OK)
		rc = sqlite_run(st, sqlite_prep(st, SQL_GONE_RELEASE, ""));
	if (rc == SIO_OK)
		rc = timer_expired_list(st, timer_expired_prep(st, e, max, tw),
		                        sids, states);
	return sio_store_tx_end(st, own, rc);
}

int
sqlite_clock_check(struct sio_store *st, const char *boot, long long wall,
                   long long mono, long long *step)
{
	sqlite3_stmt *s;
	long long d = 0, e = 0, lo;
	int own, rc, same = 0;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	s = sqlite_prep(st, SQL_CLOCK_GET, "");
	if (s == NULL || (rc = sqlite_step(st, s)) == SQLITE_ERROR)
		return sio_store_tx_end(st, own, SIO_ERR);
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
		rc = sqlite_run(st, sqlite_prep(st, SQL_CLOCK_SESSIONS, "iii",
		                                d, lo, wall));
		if (rc == SIO_OK)
			rc = sqlite_run(st, sqlite_prep(st, SQL_CLOCK_OUTBOX,
			                                "iii", d, lo, wall));
		if (rc == SIO_OK)
			rc = sqlite_run(st, sqlite_prep(st, SQL_CLOCK_PROCESSES,
			                                "iii", d, lo, wall));
		if (rc == SIO_OK)
			rc = sqlite_run(st, sqlite_prep(st, SQL_CLOCK_SAMPLES,
			                                "iii", d, lo, wall));
		if (rc == SIO_OK)
			*step = d;
	}
	if (rc == SIO_OK)
		rc = sqlite_run(st, sqlite_prep(st, SQL_CLOCK_PUT, "tii", boot,
		                                wall, mono));
	return sio_store_tx_end(st, own, rc);
}
