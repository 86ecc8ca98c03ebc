/*
 * timer.c: the PostgreSQL backend's timers (heartbeats owed, sessions
 * whose timeout ran out, the correction of stored times after a step of
 * the wall clock) and processes (each long-running process's row and
 * lease, and what one that ends or is reaped held, handed back).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "pg.h"

/* Sessions owed a heartbeat: in state $6, attached on a transport of $7;
 * $1 the threshold; $4 a holder whose sessions are due at $1 (NULL: every
 * holder's), the others' at $5. */
#define HB_WHERE                                                               \
	" WHERE state = $6::text AND holder IS NOT NULL"                       \
	" AND strpos($7::text, ',' || transport || ',') > 0"                   \
	" AND last_heartbeat <= $1::bigint"                                    \
	" AND ($4::text IS NULL OR holder = $4::text"                          \
	" OR last_heartbeat <= $5::bigint)"
#define HB_ROOM " AND s.queued < $2::bigint"

/* One timeout of expired: state $s, transports $t (NULL: any), the clock
 * $c (enum sio_store_since) at or before $b. */
#define EXPIRED_ONE(s, t, c, b)                                                \
	" (state = $" #s "::text AND ($" #t "::text IS NULL OR strpos($" #t    \
	"::text, ',' || transport || ',') > 0) AND CASE $" #c "::int"          \
	" WHEN 1 THEN created WHEN 2 THEN detached_at ELSE last_recv END"      \
	" <= $" #b "::bigint)"
#define EXPIRED_ALL                                                            \
	EXPIRED_ONE(1, 2, 3, 4)                                                \
	" OR" EXPIRED_ONE(5, 6, 7, 8) " OR" EXPIRED_ONE(                       \
	    9, 10, 11, 12) " OR" EXPIRED_ONE(13, 14, 15, 16)

/* Rows in [$2, $3] may be on the new clock already: they stay. */
#define CLOCK_MOVE(col)                                                        \
	" " col " = " col " + CASE WHEN " col " BETWEEN $2::bigint AND"        \
	" $3::bigint THEN 0 ELSE $1::bigint END"

/* A process not renewed for $4 ms (on c.t, the lease's clock) whose
 * listener's connection is gone. */
#define LISTENER_GONE                                                          \
	"(p.listener IS NOT NULL AND p.renewed < c.t - $4::bigint AND"         \
	" NOT EXISTS (SELECT 1 FROM pg_stat_activity a"                        \
	" WHERE a.pid = p.listener))"
/* Moves nothing unless the leases are on the hosts' clocks (pg.sql:
 * siogate_clock()): a step of this host's clock is not the server's. */
#define ON_HOST_CLOCK " AND current_setting('siogate.host_clock', true) = 'on'"
/* How long a process whose listener's connection ended may go without
 * renewing (ms): above its once-a-second renewal, so that one that only
 * lost its listener (the server restarted) renews and stays. */
#define LISTENER_STALE_MS 2500

const char *const pg_timer_sql[PG_NSTMT] = {
    /* the heartbeats queued (where there is room), the sessions' times
     * moved (all that are due), the holders to ring: one statement */
    [PG_HB] =
        "WITH d AS (SELECT s.sid, s.holder FROM sessions s" HB_WHERE HB_ROOM
        "), i AS (INSERT INTO outbox (sid, packet, created)"
        " SELECT sid, '2::', $3 FROM d),"
        " u AS (UPDATE sessions SET last_heartbeat = $3" HB_WHERE ")"
        " SELECT sid, holder FROM d",
    [PG_GONE_DETACH] =
        PG_DETACH_SET " WHERE" PG_DETACH_FROM " AND holder IS NOT NULL"
                      " AND holder NOT IN (SELECT name FROM processes)",
    [PG_GONE_HOLDERS] = "SELECT s.sid, s.holder FROM sessions s"
                        " WHERE s.holder IS NOT NULL AND s.sid IN"
                        " (SELECT o.sid FROM outbox o"
                        " WHERE o.taken_by IS NOT NULL AND o.taken_by"
                        " NOT IN (SELECT name FROM processes))",
    [PG_GONE_RELEASE] = "UPDATE outbox SET taken_by = NULL,"
                        " taken_conn = NULL WHERE taken_by IS NOT NULL"
                        " AND taken_by NOT IN (SELECT name FROM processes)",
    [PG_EXPIRED] = "SELECT sid, state FROM sessions WHERE" EXPIRED_ALL
                   " ORDER BY sid LIMIT $17",
    [PG_CLOCK_GET] = "SELECT boot, wall, mono FROM clock WHERE id = 1",
    [PG_CLOCK_PUT] = "INSERT INTO clock (id, boot, wall, mono)"
                     " VALUES (1, $1, $2, $3) ON CONFLICT (id) DO UPDATE"
                     " SET boot = excluded.boot, wall = excluded.wall,"
                     " mono = excluded.mono",
    /* as CLOCK_MOVE() each time, written out; only the rows with a
     * time off the new clock are written again */
    [PG_CLOCK_SESSIONS] =
        "UPDATE sessions SET"
        " created = created + CASE WHEN created BETWEEN $2::bigint"
        " AND $3::bigint THEN 0 ELSE $1::bigint END,"
        " last_recv = last_recv + CASE WHEN last_recv BETWEEN $2::bigint"
        " AND $3::bigint THEN 0 ELSE $1::bigint END,"
        " last_heartbeat = last_heartbeat + CASE WHEN last_heartbeat"
        " BETWEEN $2::bigint AND $3::bigint THEN 0 ELSE $1::bigint END,"
        " detached_at = detached_at + CASE WHEN detached_at BETWEEN $2::bigint"
        " AND $3::bigint THEN 0 ELSE $1::bigint END,"
        " closed_at = closed_at + CASE WHEN closed_at BETWEEN $2::bigint"
        " AND $3::bigint THEN 0 ELSE $1::bigint END"
        " WHERE created NOT BETWEEN $2::bigint AND $3::bigint"
        " OR last_recv NOT BETWEEN $2::bigint AND $3::bigint"
        " OR last_heartbeat NOT BETWEEN $2::bigint AND $3::bigint"
        " OR detached_at NOT BETWEEN $2::bigint AND $3::bigint"
        " OR closed_at NOT BETWEEN $2::bigint AND $3::bigint",
    [PG_CLOCK_OUTBOX] = "UPDATE outbox SET due = due + $1 WHERE due <> 0"
                        " AND created NOT BETWEEN $2 AND $3",
    [PG_CLOCK_PROCESSES] = "UPDATE processes SET renewed = renewed + $1"
                           " WHERE renewed NOT BETWEEN $2 AND $3" ON_HOST_CLOCK,
    [PG_CLOCK_SAMPLES] = "DELETE FROM stats_samples"
                         " WHERE t NOT BETWEEN $2 AND $3"
                         " AND $1::bigint IS NOT NULL" ON_HOST_CLOCK,
    /* On the lease's clock (c.t: siogate_clock($1), $1 this host's
     * now): whose lease lapsed (not renewed for $3 ms), or whose
     * listener's connection ended while it stopped renewing (not for $4
     * ms), or who may be seen from here: of pid space $2, the space of
     * this process. */
    [PG_PROC_LIST] =
        "SELECT name, (renewed < c.t - $3::bigint OR " LISTENER_GONE
        ")::int, pid, pid_start"
        " FROM processes p, (SELECT siogate_clock($1) AS t) c"
        " WHERE renewed < c.t - $3::bigint OR pid_space = $2"
        " OR " LISTENER_GONE,
    [PG_PROC_HOLDERS] = "SELECT s.sid, s.holder FROM sessions s"
                        " WHERE s.holder IS NOT NULL AND s.sid IN"
                        " (SELECT o.sid FROM outbox o WHERE o.taken_by = $1)",
    [PG_PROC_RELEASE] = "UPDATE outbox SET taken_by = NULL,"
                        " taken_conn = NULL WHERE taken_by = $1",
    [PG_PROC_PUT] = "INSERT INTO processes (name, pid, started, renewed,"
                    " pid_space, pid_start) VALUES ($1, $2, $3,"
                    " siogate_clock($3), $4, $5)"
                    " ON CONFLICT (name) DO NOTHING",
    [PG_PROC_RENEW] = "UPDATE processes SET renewed = greatest(renewed,"
                      " siogate_clock($2)) WHERE name = $1",
    [PG_PROC_DEL] = "DELETE FROM processes WHERE name = $1",
    [PG_PROC_DETACH] = PG_DETACH_SET " WHERE holder = $4",
};

int
pg_heartbeat_due(struct sio_store *st, long long now, long long interval_ms,
                 const char *holder, long long others_late_ms, int state,
                 unsigned transports)
{
	const char *sw = sio_store_state_name(state);
	char tw[SIO_STORE_WORDS_LEN];
	long long due = now - interval_ms, max = PGC(st)->max_queue;
	long long others =
	    others_late_ms < 0 ? LLONG_MIN : due - others_late_ms;
	PGresult *r;
	int own, rc, n = 0;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	sio_store_words(transports, 1, tw);
	r = pg_exec(st, PG_HB, "iiititt", due, max, now, holder, others, sw,
	            tw);
	if (r != NULL)
		n = PQntuples(r);
	rc = pg_ring_rows(st, r);
	return sio_store_tx_end(st, own, rc == SIO_OK ? n : rc);
}

/* Runs PG_EXPIRED for e, max rows. */
static PGresult *
timer_expired_exec(struct sio_store *st, const struct sio_store_expiry *e,
                   int max)
{
	char tw[SIO_STORE_TIMEOUTS_MAX][SIO_STORE_WORDS_LEN];
	const char *w[SIO_STORE_TIMEOUTS_MAX], *sn[SIO_STORE_TIMEOUTS_MAX];
	long long c[SIO_STORE_TIMEOUTS_MAX], b[SIO_STORE_TIMEOUTS_MAX];

	for (int i = 0; i < SIO_STORE_TIMEOUTS_MAX; i++) {
		const struct sio_store_timeout *t = &e->t[i];

		sn[i] = w[i] = NULL;
		c[i] = b[i] = 0;
		if (i >= e->n)
			continue;
		sn[i] = sio_store_state_name(t->state);
		w[i] = t->transports ? sio_store_words(t->transports, 1, tw[i])
		                     : NULL;
		c[i] = t->since;
		b[i] = t->before;
	}
	return pg_exec(st, PG_EXPIRED, "ttiittiittiittiii", sn[0], w[0], c[0],
	               b[0], sn[1], w[1], c[1], b[1], sn[2], w[2], c[2], b[2],
	               sn[3], w[3], c[3], b[3], (long long)max);
}

static int
timer_expired_list(PGresult *r, char (*sids)[SIO_SID_LEN + 1], int *states)
{
	int n = 0;

	if (r == NULL)
		return SIO_ERR;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *sid = pg_text(r, i, 0);

		if (sid == NULL || strlen(sid) > SIO_SID_LEN)
			continue; /* not one of ours; never a session to end */
		strcpy(sids[n], sid);
		states[n++] = pg_state(r, i, 1);
	}
	PQclear(r);
	return n;
}

int
pg_expired(struct sio_store *st, long long now,
           const struct sio_store_expiry *e, char (*sids)[SIO_SID_LEN + 1],
           int *states, int max)
{
	char w[SIO_STORE_WORDS_LEN];
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	/* A holder that unregistered (or was removed) holds nothing: its
	 * sessions start their close timeout now. */
	rc = pg_run(st, PG_GONE_DETACH, "itt", now,
	            sio_store_words(e->gone_from, 0, w),
	            sio_store_state_name(e->gone_to));
	if (rc == SIO_OK)
		rc = pg_ring_rows(st, pg_exec(st, PG_GONE_HOLDERS, ""));
	if (rc == SIO_OK)
		rc = pg_run(st, PG_GONE_RELEASE, "");
	if (rc == SIO_OK)
		rc = timer_expired_list(timer_expired_exec(st, e, max), sids,
		                        states);
	return sio_store_tx_end(st, own, rc);
}

/* Moves the stored times by a step d of the wall clock, but for the rows
 * written in [lo, wall]. */
static int
timer_clock_move(struct sio_store *st, long long d, long long lo,
                 long long wall)
{
	static const enum pg_sql moves[] = {PG_CLOCK_SESSIONS, PG_CLOCK_OUTBOX,
	                                    PG_CLOCK_PROCESSES,
	                                    PG_CLOCK_SAMPLES};
	int rc = SIO_OK;

	for (size_t i = 0; rc == SIO_OK && i < sizeof(moves) / sizeof(*moves);
	     i++)
		rc = pg_run(st, moves[i], "iii", d, lo, wall);
	return rc;
}

int
pg_clock_check(struct sio_store *st, const char *boot, long long wall,
               long long mono, long long *step)
{
	long long d = 0, e = 0, lo;
	int own, rc = SIO_OK, same = 0;
	PGresult *r;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	if ((r = pg_exec(st, PG_CLOCK_GET, "")) == NULL)
		return sio_store_tx_end(st, own, SIO_ERR);
	/* another boot, or a boot clock gone back: no step to measure */
	if (PQntuples(r) > 0 && pg_text(r, 0, 0) != NULL &&
	    strcmp(pg_text(r, 0, 0), boot) == 0 && mono >= pg_int(r, 0, 2)) {
		e = mono - pg_int(r, 0, 2);
		d = (wall - pg_int(r, 0, 1)) - e;
		same = 1;
	}
	PQclear(r);
	if (same && (d >= SIO_CLOCK_STEP_MS || d <= -SIO_CLOCK_STEP_MS)) {
		lo = wall - (e < SIO_CLOCK_BAND_MS ? e : SIO_CLOCK_BAND_MS);
		rc = timer_clock_move(st, d, lo, wall);
		if (rc == SIO_OK)
			*step = d;
	}
	if (rc == SIO_OK)
		rc = pg_run(st, PG_CLOCK_PUT, "tii", boot, wall, mono);
	return sio_store_tx_end(st, own, rc);
}

/* --- processes ------------------------------------------------------------ */

int
pg_process_register(struct sio_store *st, const char *name, int pid,
                    long long now)
{
	char space[SIO_STORE_SPACE_LEN];
	long long start = 0;
	int own, rc, known;

	/* seen from its own pid space only when it is this process */
	known = pid == getpid() && sio_store_pid_space(space, &start) == SIO_OK;
	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = pg_run(st, PG_PROC_PUT, "tiiti", name, (long long)pid, now,
	            known ? space : NULL, start);
	if (rc == SIO_OK && PGC(st)->changes == 0) {
		sio_store_fail(st, "process name %s is taken", name);
		rc = SIO_FULL;
	}
	return sio_store_tx_end(st, own, rc);
}

int
pg_process_renew(struct sio_store *st, const char *name, long long now)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = pg_run(st, PG_PROC_RENEW, "ti", name, now);
	if (rc == SIO_OK && PGC(st)->changes == 0) {
		sio_store_fail(st, "process %s is not registered", name);
		rc = SIO_ABSENT;
	}
	return sio_store_tx_end(st, own, rc);
}

/* Removes a process: what it held is detached (from, to), what it was
 * writing is released for the next transport. */
static int
process_forget(struct sio_store *st, const char *name, long long now,
               unsigned from, int to)
{
	char w[SIO_STORE_WORDS_LEN];
	int rc = pg_run(st, PG_PROC_DEL, "t", name);

	if (rc == SIO_OK)
		rc = pg_run(st, PG_PROC_DETACH, "ittt", now,
		            sio_store_words(from, 0, w),
		            sio_store_state_name(to), name);
	/* the sessions' new holders wait for what it had taken */
	if (rc == SIO_OK)
		rc = pg_ring_rows(st, pg_exec(st, PG_PROC_HOLDERS, "t", name));
	if (rc == SIO_OK)
		rc = pg_run(st, PG_PROC_RELEASE, "t", name);
	return rc;
}

int
pg_process_unregister(struct sio_store *st, const char *name, long long now,
                      unsigned from, int to)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = process_forget(st, name, now, from, to);
	return sio_store_tx_end(st, own, rc);
}

/* A row of PG_PROC_LIST: 1 when its process is gone (its lease lapsed,
 * or its pid, seen from its own pid space, is no longer its process). */
static int
process_gone(const PGresult *r, int row)
{
	if (pg_int(r, row, 1))
		return 1;
	return sio_store_pid_gone(pg_int(r, row, 2), pg_int(r, row, 3));
}

int
pg_reap(struct sio_store *st, long long now, long long lease_ms, unsigned from,
        int to)
{
	char space[SIO_STORE_SPACE_LEN], **dead = NULL;
	long long start;
	int own, rc = SIO_OK, n = 0;
	PGresult *r;

	if (sio_store_pid_space(space, &start) != SIO_OK)
		space[0] = '\0'; /* matches no row: the leases alone */
	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	r = pg_exec(st, PG_PROC_LIST, "itii", now, space, lease_ms,
	            (long long)LISTENER_STALE_MS);
	if (r == NULL)
		return sio_store_tx_end(st, own, SIO_ERR);
	if (PQntuples(r) > 0 &&
	    (dead = calloc((size_t)PQntuples(r), sizeof(*dead))) == NULL)
		rc = sio_store_fail(st, "out of memory");
	for (int i = 0; rc == SIO_OK && i < PQntuples(r); i++) {
		const char *name = pg_text(r, i, 0);

		if (name == NULL || strlen(name) >= SIO_HOLDER_LEN ||
		    !process_gone(r, i))
			continue;
		if ((dead[n] = strdup(name)) == NULL)
			rc = sio_store_fail(st, "out of memory");
		else
			n++;
	}
	PQclear(r);
	for (int i = 0; rc == SIO_OK && i < n; i++) {
		rc = process_forget(st, dead[i], now, from, to);
		/* its doorbell file goes after the commit */
		sio_store_bell(st, dead[i], "");
	}
	for (int i = 0; i < n; i++)
		free(dead[i]);
	free(dead);
	rc = sio_store_tx_end(st, own, rc);
	return rc == SIO_OK ? n : SIO_ERR;
}
