/*
 * data.c: the PostgreSQL backend's per-session rows beside the session
 * itself (connected endpoints, key/value data, room memberships, pending
 * acks), the counters, the operators' listings (run once each, not
 * prepared) and the stats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

const char *const pg_data_sql[PG_NSTMT] = {
    [PG_EP_ADD] = "INSERT INTO endpoints (sid, endpoint, query)"
                  " VALUES ($1, $2, $3) ON CONFLICT (sid, endpoint)"
                  " DO UPDATE SET query = excluded.query",
    [PG_EP_DEL] = "DELETE FROM endpoints WHERE sid = $1 AND endpoint = $2",
    [PG_EP_HAS] = "SELECT 1 FROM endpoints WHERE sid = $1 AND endpoint = $2",
    /* n keeps the order in which endpoints connected; the root last */
    [PG_EP_LIST] = "SELECT endpoint, query FROM endpoints WHERE sid = $1"
                   " ORDER BY endpoint = '', n",
    [PG_DATA_GET] = "SELECT value FROM data WHERE sid = $1 AND key = $2",
    [PG_DATA_PUT] = "INSERT INTO data (sid, key, value) VALUES ($1, $2, $3)"
                    " ON CONFLICT (sid, key) DO UPDATE"
                    " SET value = excluded.value",
    [PG_DATA_DEL] = "DELETE FROM data WHERE sid = $1 AND key = $2",
    [PG_ROOM_JOIN] = "INSERT INTO rooms (sid, endpoint, room)"
                     " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    [PG_ROOM_LEAVE] = "DELETE FROM rooms WHERE sid = $1"
                      " AND endpoint = $2 AND room = $3",
    [PG_ROOM_LEAVE_ALL] = "DELETE FROM rooms WHERE sid = $1"
                          " AND endpoint = $2",
    [PG_ACK_NEXT] = "UPDATE sessions SET next_ack = next_ack + 1"
                    " WHERE sid = $1 RETURNING next_ack - 1",
    [PG_ACK_PUT] = "INSERT INTO acks (sid, id, endpoint, handler, event,"
                   " created) VALUES ($1, $2, $3, $4, $5, $6)",
    [PG_ACK_TAKE] = "DELETE FROM acks WHERE sid = $1 AND id = $2"
                    " AND endpoint = $3 RETURNING handler, event",
    [PG_ACK_GET] = "SELECT handler, event FROM acks WHERE sid = $1"
                   " AND id = $2 AND endpoint = $3",
    [PG_COUNTER_ADD] = "INSERT INTO counters (name, value) VALUES ($1, $2)"
                       " ON CONFLICT (name) DO UPDATE"
                       " SET value = counters.value + excluded.value",
    [PG_COUNTER_GET] = "SELECT value FROM counters WHERE name = $1",
    /* One sample a second at most, whichever process sweeps first: a
     * second of the lease's clock (siogate_clock()); the minute before
     * it kept. How many it put: 1 or 0. */
    [PG_SAMPLE] =
        "WITH c AS (SELECT siogate_clock($1) AS t),"
        " p AS (INSERT INTO stats_samples (t, connections_opened,"
        " packets_sent, packets_received) SELECT c.t,"
        " (SELECT coalesce(max(value), 0) FROM counters"
        " WHERE name = 'connections_opened'),"
        " (SELECT coalesce(max(value), 0) FROM counters"
        " WHERE name = 'packets_sent'),"
        " (SELECT coalesce(max(value), 0) FROM counters"
        " WHERE name = 'packets_received')"
        " FROM c WHERE NOT EXISTS (SELECT 1 FROM stats_samples"
        " WHERE t > c.t - 1000 AND t <= c.t) RETURNING t),"
        " d AS (DELETE FROM stats_samples WHERE t < (SELECT t FROM c) - 60000"
        " AND EXISTS (SELECT 1 FROM p))"
        " SELECT count(*) FROM p",
};

int
pg_endpoint_add(struct sio_store *st, const char *sid, const char *endpoint,
                const char *query)
{
	return pg_write(st, PG_EP_ADD, "ttt", sid, endpoint, query);
}

int
pg_endpoint_del(struct sio_store *st, const char *sid, const char *endpoint)
{
	return pg_write(st, PG_EP_DEL, "tt", sid, endpoint);
}

int
pg_endpoint_has(struct sio_store *st, const char *sid, const char *endpoint)
{
	const struct pg_ahead *a = pg_ahead_find(st, sid);
	long long one;
	int rc;

	if (a != NULL && a->has_eps)
		return pg_ahead_endpoint(st, a, endpoint);
	rc = pg_one(st, &one, PG_EP_HAS, "tt", sid, endpoint);
	return rc == SIO_ERR ? SIO_ERR : rc == SIO_OK;
}

/* Calls fn with the two text columns of each row of r, then clears it:
 * the rows, or SIO_ERR for r NULL. */
static int
pg_pairs(PGresult *r, void (*fn)(void *udata, const char *a, const char *b),
         void *udata)
{
	int n;

	if (r == NULL)
		return SIO_ERR;
	n = PQntuples(r);
	for (int i = 0; i < n; i++)
		fn(udata, pg_text(r, i, 0), pg_text(r, i, 1));
	PQclear(r);
	return n;
}

int
pg_endpoint_list(struct sio_store *st, const char *sid,
                 void (*fn)(void *udata, const char *endpoint,
                            const char *query),
                 void *udata)
{
	return pg_pairs(pg_exec(st, PG_EP_LIST, "t", sid), fn, udata);
}

char *
pg_data_get(struct sio_store *st, const char *sid, const char *key)
{
	PGresult *r = pg_exec(st, PG_DATA_GET, "tt", sid, key);
	char *value = NULL;
	int failed = 0;

	if (r == NULL)
		return NULL;
	if (PQntuples(r) > 0)
		value = pg_dup(r, 0, 0, &failed);
	PQclear(r);
	if (failed)
		sio_store_fail(st, "out of memory");
	return value;
}

int
pg_data_put(struct sio_store *st, const char *sid, const char *key,
            const char *value)
{
	if (value == NULL)
		return pg_write(st, PG_DATA_DEL, "tt", sid, key);
	return pg_write(st, PG_DATA_PUT, "ttt", sid, key, value);
}

int
pg_room_join(struct sio_store *st, const char *sid, const char *endpoint,
             const char *room)
{
	return pg_write(st, PG_ROOM_JOIN, "ttt", sid, endpoint, room);
}

int
pg_room_leave(struct sio_store *st, const char *sid, const char *endpoint,
              const char *room)
{
	if (room == NULL)
		return pg_write(st, PG_ROOM_LEAVE_ALL, "tt", sid, endpoint);
	return pg_write(st, PG_ROOM_LEAVE, "ttt", sid, endpoint, room);
}

long long
pg_ack_new(struct sio_store *st, const char *sid, const char *endpoint,
           const char *handler, const char *event)
{
	long long id = 0;
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = pg_one(st, &id, PG_ACK_NEXT, "t", sid);
	if (rc == SIO_ABSENT)
		rc = sio_store_fail(st, "no such session");
	if (rc == SIO_OK)
		rc = pg_run(st, PG_ACK_PUT, "tittti", sid, id, endpoint,
		            handler, event, sio_store_now());
	rc = sio_store_tx_end(st, own, rc);
	return rc == SIO_OK ? id : SIO_ERR;
}

/* Reads the handler and event of an ack's row, then clears r. */
static int
pg_ack_row(struct sio_store *st, PGresult *r, char **handler, char **event)
{
	int failed = 0;

	if (r == NULL)
		return SIO_ERR;
	if (PQntuples(r) == 0) {
		PQclear(r);
		sio_store_fail(st, "no such ack");
		return SIO_ABSENT;
	}
	*handler = pg_dup(r, 0, 0, &failed);
	*event = pg_dup(r, 0, 1, &failed);
	PQclear(r);
	if (!failed)
		return SIO_OK;
	free(*handler);
	free(*event);
	*handler = *event = NULL;
	return sio_store_fail(st, "out of memory");
}

int
pg_ack_take(struct sio_store *st, const char *sid, const char *endpoint,
            long long id, char **handler, char **event)
{
	int own, rc;

	*handler = *event = NULL;
	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = pg_ack_row(st, pg_exec(st, PG_ACK_TAKE, "tit", sid, id, endpoint),
	                handler, event);
	rc = sio_store_tx_end(st, own, rc);
	if (rc == SIO_ERR) {
		free(*handler);
		free(*event);
		*handler = *event = NULL;
	}
	return rc;
}

int
pg_ack_get(struct sio_store *st, const char *sid, const char *endpoint,
           long long id, char **handler, char **event)
{
	*handler = *event = NULL;
	return pg_ack_row(st, pg_exec(st, PG_ACK_GET, "tit", sid, id, endpoint),
	                  handler, event);
}

int
pg_counter_add(struct sio_store *st, const char *name, long long delta)
{
	return pg_write(st, PG_COUNTER_ADD, "ti", name, delta);
}

int
pg_counter_get(struct sio_store *st, const char *name, long long *value)
{
	long long v = 0;

	if (pg_one(st, &v, PG_COUNTER_GET, "t", name) == SIO_ERR)
		return SIO_ERR;
	*value = v;
	return SIO_OK;
}

/* --- listings ------------------------------------------------------------- */

int
pg_session_list(struct sio_store *st, const char *sid,
                int (*fn)(void *udata, const struct sio_store_summary *s),
                void *udata)
{
	PGresult *r = pg_adhoc(st,
	                       "SELECT sid, " PG_SESSION_COLS ", queued"
	                       " FROM sessions s WHERE $1::text IS NULL"
	                       " OR s.sid = $1::text ORDER BY s.created, s.sid",
	                       "t", sid);
	struct sio_store_summary sum;
	int n = 0;

	if (r == NULL)
		return SIO_ERR;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *t = pg_text(r, i, 0);

		memset(&sum, 0, sizeof(sum));
		snprintf(sum.session.sid, sizeof(sum.session.sid), "%s",
		         t ? t : "");
		pg_session_row(r, i, 1, &sum.session);
		sum.queue = pg_int(r, i, 10);
		if (fn(udata, &sum) != SIO_OK)
			break;
		n++;
	}
	PQclear(r);
	return n;
}

int
pg_room_list(struct sio_store *st, const char *sid,
             void (*fn)(void *udata, const char *endpoint, const char *room),
             void *udata)
{
	return pg_pairs(pg_adhoc(st,
	                         "SELECT endpoint, room FROM rooms"
	                         " WHERE sid = $1 ORDER BY endpoint, room",
	                         "t", sid),
	                fn, udata);
}

int
pg_process_list(struct sio_store *st,
                int (*fn)(void *udata, const struct sio_store_process *p),
                void *udata)
{
	PGresult *r = pg_adhoc(st, SIO_STORE_PROCESS_LIST_SQL, "");
	struct sio_store_process p;
	int n = 0;

	if (r == NULL)
		return SIO_ERR;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *t = pg_text(r, i, 0);

		memset(&p, 0, sizeof(p));
		snprintf(p.name, sizeof(p.name), "%s", t ? t : "");
		p.pid = pg_int(r, i, 1);
		p.started = pg_int(r, i, 2);
		p.renewed = pg_int(r, i, 3);
		p.sessions = pg_int(r, i, 4);
		if (fn(udata, &p) != SIO_OK)
			break;
		n++;
	}
	PQclear(r);
	return n;
}

int
pg_counter_list(struct sio_store *st,
                void (*fn)(void *udata, const char *name, long long value),
                void *udata)
{
	PGresult *r =
	    pg_adhoc(st, "SELECT name, value FROM counters ORDER BY name", "");
	int n;

	if (r == NULL)
		return SIO_ERR;
	n = PQntuples(r);
	for (int i = 0; i < n; i++)
		fn(udata, pg_text(r, i, 0), pg_int(r, i, 1));
	PQclear(r);
	return n;
}

int
pg_session_counts(struct sio_store *st,
                  void (*fn)(void *udata, enum sio_session_state state,
                             int transport, long long sessions,
                             long long queued),
                  void *udata)
{
	PGresult *r = pg_adhoc(
	    st,
	    "SELECT state, transport, count(*), sum(queued) FROM sessions"
	    " GROUP BY state, transport ORDER BY state, transport",
	    "");
	int n;

	if (r == NULL)
		return SIO_ERR;
	n = PQntuples(r);
	for (int i = 0; i < n; i++)
		fn(udata, (enum sio_session_state)pg_state(r, i, 0),
		   pg_transport(r, i, 1), pg_int(r, i, 2), pg_int(r, i, 3));
	PQclear(r);
	return n;
}

int
pg_cleanup_drained(struct sio_store *st)
{
	PGresult *r;
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	r = pg_adhoc(st,
	             "DELETE FROM sessions WHERE state = 'closed' AND NOT"
	             " EXISTS (SELECT 1 FROM outbox o WHERE o.sid ="
	             " sessions.sid)",
	             "");
	rc = r ? (int)PGC(st)->changes : SIO_ERR;
	PQclear(r);
	return sio_store_tx_end(st, own, rc);
}

/* --- stats ---------------------------------------------------------------- */

int
pg_stats_sample(struct sio_store *st, long long now)
{
	long long n = 0;
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = pg_one(st, &n, PG_SAMPLE, "i", now);
	return sio_store_tx_end(st, own, rc == SIO_OK ? (int)n : rc);
}

/* stats_view and transport_view in one statement, one snapshot: a row
 * for each transport, the totals repeated on each. */
int
pg_stats(struct sio_store *st, struct sio_store_stats *out)
{
	PGresult *r = pg_adhoc(
	    st,
	    "SELECT active_sessions, peak_sessions, active_connections,"
	    " peak_connections, sessions_opened, connections_opened,"
	    " packets_sent, packets_received, queued_packets, connections_ps,"
	    " packets_sent_ps, packets_received_ps, time, t.transport,"
	    " t.sessions FROM stats_view LEFT JOIN transport_view t ON true",
	    "");
	long long *v[] = {&out->active_sessions,    &out->peak_sessions,
	                  &out->active_connections, &out->peak_connections,
	                  &out->sessions_opened,    &out->connections_opened,
	                  &out->packets_sent,       &out->packets_received,
	                  &out->queued_packets};
	double *ps[] = {&out->connections_ps, &out->packets_sent_ps,
	                &out->packets_received_ps};

	if (r == NULL)
		return SIO_ERR;
	if (PQntuples(r) < 1) {
		PQclear(r);
		return sio_store_fail(st, "stats_view has no row");
	}
	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++)
		*v[i] = pg_int(r, 0, (int)i);
	for (size_t i = 0; i < sizeof(ps) / sizeof(*ps); i++)
		*ps[i] = atof(PQgetvalue(r, 0, 9 + (int)i));
	out->time = pg_int(r, 0, 12);
	for (int i = 0; i < PQntuples(r); i++) {
		int t = pg_transport(r, i, 13);

		if (pg_null(r, i, 13))
			continue; /* no live session at all */
		if (t >= 0)
			out->sessions[t] = pg_int(r, i, 14);
		else
			out->sessions_no_transport = pg_int(r, i, 14);
	}
	PQclear(r);
	return SIO_OK;
}
