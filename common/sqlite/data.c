/*
 * data.c: the SQLite backend's per-session rows beside the session itself:
 * connected endpoints, key/value data, room memberships, pending acks;
 * and the counters.
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"

const char *const sqlite_data_sql[SQL_NSTMT] = {
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
};

int
sqlite_endpoint_add(struct sio_store *st, const char *sid, const char *endpoint,
                    const char *query)
{
	return sqlite_write(
	    st, sqlite_prep(st, SQL_EP_ADD, "ttt", sid, endpoint, query));
}

int
sqlite_endpoint_del(struct sio_store *st, const char *sid, const char *endpoint)
{
	return sqlite_write(st,
	                    sqlite_prep(st, SQL_EP_DEL, "tt", sid, endpoint));
}

int
sqlite_endpoint_has(struct sio_store *st, const char *sid, const char *endpoint)
{
	long long one;
	int rc = sqlite_one(
	    st, sqlite_prep(st, SQL_EP_HAS, "tt", sid, endpoint), &one);

	return rc == SIO_ERR ? SIO_ERR : rc == SIO_OK;
}

int
sqlite_endpoint_list(struct sio_store *st, const char *sid,
                     void (*fn)(void *udata, const char *endpoint,
                                const char *query),
                     void *udata)
{
	sqlite3_stmt *s = sqlite_prep(st, SQL_EP_LIST, "t", sid);
	int rc, n = 0;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = sqlite_step(st, s)) == SQLITE_ROW) {
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
sqlite_data_get(struct sio_store *st, const char *sid, const char *key)
{
	sqlite3_stmt *s = sqlite_prep(st, SQL_DATA_GET, "tt", sid, key);
	char *value = NULL;
	int rc, failed = 0;

	if (s == NULL || (rc = sqlite_step(st, s)) == SQLITE_ERROR)
		return NULL;
	if (rc == SQLITE_ROW)
		value = sqlite_column_dup(s, 0, &failed);
	sqlite3_reset(s);
	if (failed)
		sio_store_fail(st, "out of memory");
	return value;
}

int
sqlite_data_put(struct sio_store *st, const char *sid, const char *key,
                const char *value)
{
	if (value == NULL)
		return sqlite_write(
		    st, sqlite_prep(st, SQL_DATA_DEL, "tt", sid, key));
	return sqlite_write(
	    st, sqlite_prep(st, SQL_DATA_PUT, "ttt", sid, key, value));
}

int
sqlite_room_join(struct sio_store *st, const char *sid, const char *endpoint,
                 const char *room)
{
	return sqlite_write(
	    st, sqlite_prep(st, SQL_ROOM_JOIN, "ttt", sid, endpoint, room));
}

int
sqlite_room_leave(struct sio_store *st, const char *sid, const char *endpoint,
                  const char *room)
{
	if (room == NULL)
		return sqlite_write(st, sqlite_prep(st, SQL_ROOM_LEAVE_ALL,
		                                    "tt", sid, endpoint));
	return sqlite_write(
	    st, sqlite_prep(st, SQL_ROOM_LEAVE, "ttt", sid, endpoint, room));
}

long long
sqlite_ack_new(struct sio_store *st, const char *sid, const char *endpoint,
               const char *handler, const char *event)
{
	long long id = 0;
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_one(st, sqlite_prep(st, SQL_ACK_NEXT, "t", sid), &id);
	if (rc == SIO_ABSENT)
		rc = sio_store_fail(st, "no such session");
	if (rc == SIO_OK)
		rc = sqlite_run(st, sqlite_prep(st, SQL_ACK_PUT, "tittti", sid,
		                                id, endpoint, handler, event,
		                                sio_store_now()));
	rc = sio_store_tx_end(st, own, rc);
	return rc == SIO_OK ? id : SIO_ERR;
}

/* Reads the handler and event of an ACK_TAKE row. */
static int
sqlite_ack_row(struct sio_store *st, sqlite3_stmt *s, char **handler,
               char **event)
{
	int rc, failed = 0;

	if (s == NULL || (rc = sqlite_step(st, s)) == SQLITE_ERROR)
		return SIO_ERR;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		sio_store_fail(st, "no such ack");
		return SIO_ABSENT;
	}
	*handler = sqlite_column_dup(s, 0, &failed);
	*event = sqlite_column_dup(s, 1, &failed);
	while (sqlite_step(st, s) == SQLITE_ROW)
		;
	sqlite3_reset(s);
	if (!failed)
		return SIO_OK;
	free(*handler);
	free(*event);
	*handler = *event = NULL;
	return sio_store_fail(st, "out of memory");
}

int
sqlite_ack_take(struct sio_store *st, const char *sid, const char *endpoint,
                long long id, char **handler, char **event)
{
	int own, rc;

	*handler = *event = NULL;
	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_ack_row(
	    st, sqlite_prep(st, SQL_ACK_TAKE, "tit", sid, id, endpoint),
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
sqlite_ack_get(struct sio_store *st, const char *sid, const char *endpoint,
               long long id, char **handler, char **event)
{
	*handler = *event = NULL;
	return sqlite_ack_row(
	    st, sqlite_prep(st, SQL_ACK_GET, "tit", sid, id, endpoint), handler,
	    event);
}

int
sqlite_counter_add(struct sio_store *st, const char *name, long long delta)
{
	return sqlite_write(
	    st, sqlite_prep(st, SQL_COUNTER_ADD, "ti", name, delta));
}

int
sqlite_counter_get(struct sio_store *st, const char *name, long long *value)
{
	long long v = 0;
	int rc =
	    sqlite_one(st, sqlite_prep(st, SQL_COUNTER_GET, "t", name), &v);

	if (rc == SIO_ERR)
		return SIO_ERR;
	*value = v;
	return SIO_OK;
}
