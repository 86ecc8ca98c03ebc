/*
 * list.c: the SQLite backend's listings for operators (sioctl): sessions,
 * rooms, counters, counts by state and transport. They are rare, so their
 * statements are prepared per call (sqlite_adhoc()) rather than kept.
 */
#include <stdio.h>
#include <string.h>

#include "sqlite.h"

static void
list_summary_row(sqlite3_stmt *s, struct sio_store_summary *out)
{
	const unsigned char *t = sqlite3_column_text(s, 0);

	memset(out, 0, sizeof(*out));
	snprintf(out->session.sid, sizeof(out->session.sid), "%s",
	         t ? (const char *)t : "");
	sqlite_session_row(s, 1, &out->session);
	out->queue = sqlite3_column_int64(s, 10);
}

int
sqlite_session_list(struct sio_store *st, const char *sid,
                    int (*fn)(void *udata, const struct sio_store_summary *s),
                    void *udata)
{
	static const char sql[] =
	    "SELECT sid, " SESSION_COLS ", (SELECT count(*) FROM outbox o"
	    " WHERE o.sid = s.sid) FROM sessions s"
	    " WHERE ?1 IS NULL OR s.sid = ?1 ORDER BY s.created, s.sid";
	struct sio_store_summary sum;
	sqlite3_stmt *s = sqlite_adhoc(st, sql, sid);
	int rc, n = 0;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		list_summary_row(s, &sum);
		if (fn(udata, &sum) != SIO_OK)
			break;
		n++;
	}
	return sqlite_adhoc_end(st, s, rc, n);
}

int
sqlite_room_list(struct sio_store *st, const char *sid,
                 void (*fn)(void *udata, const char *endpoint,
                            const char *room),
                 void *udata)
{
	sqlite3_stmt *s =
	    sqlite_adhoc(st,
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
	return sqlite_adhoc_end(st, s, rc, n);
}

int
sqlite_process_list(struct sio_store *st,
                    int (*fn)(void *udata, const struct sio_store_process *p),
                    void *udata)
{
	sqlite3_stmt *s = sqlite_adhoc(st, SIO_STORE_PROCESS_LIST_SQL, NULL);
	struct sio_store_process p;
	int rc, n = 0;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);

		memset(&p, 0, sizeof(p));
		snprintf(p.name, sizeof(p.name), "%s",
		         t ? (const char *)t : "");
		p.pid = sqlite3_column_int64(s, 1);
		p.started = sqlite3_column_int64(s, 2);
		p.renewed = sqlite3_column_int64(s, 3);
		p.sessions = sqlite3_column_int64(s, 4);
		if (fn(udata, &p) != SIO_OK)
			break;
		n++;
	}
	return sqlite_adhoc_end(st, s, rc, n);
}

int
sqlite_counter_list(struct sio_store *st,
                    void (*fn)(void *udata, const char *name, long long value),
                    void *udata)
{
	sqlite3_stmt *s = sqlite_adhoc(
	    st, "SELECT name, value FROM counters ORDER BY name", NULL);
	int rc, n = 0;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		fn(udata, (const char *)sqlite3_column_text(s, 0),
		   sqlite3_column_int64(s, 1));
		n++;
	}
	return sqlite_adhoc_end(st, s, rc, n);
}

int
sqlite_session_counts(struct sio_store *st,
                      void (*fn)(void *udata, enum sio_session_state state,
                                 int transport, long long sessions,
                                 long long queued),
                      void *udata)
{
	static const char sql[] =
	    "SELECT s.state, s.transport, count(*), sum((SELECT count(*)"
	    " FROM outbox o WHERE o.sid = s.sid)) FROM sessions s"
	    " GROUP BY s.state, s.transport ORDER BY s.state, s.transport";
	sqlite3_stmt *s = sqlite_adhoc(st, sql, NULL);
	int rc, n = 0;

	if (s == NULL)
		return SIO_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		fn(udata, (enum sio_session_state)sqlite_state(s, 0),
		   sqlite_transport(s, 1), sqlite3_column_int64(s, 2),
		   sqlite3_column_int64(s, 3));
		n++;
	}
	return sqlite_adhoc_end(st, s, rc, n);
}

int
sqlite_cleanup_drained(struct sio_store *st)
{
	static const char sql[] =
	    "DELETE FROM sessions WHERE state = 'closed' AND NOT EXISTS"
	    " (SELECT 1 FROM outbox o WHERE o.sid = sessions.sid)";
	sqlite3_stmt *s;
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	s = sqlite_adhoc(st, sql, NULL);
	rc = s ? sqlite3_step(s) : SQLITE_ERROR;
	if (s != NULL)
		rc = sqlite_adhoc_end(st, s, rc, 0);
	else
		rc = SIO_ERR;
	if (rc == SIO_OK)
		rc = sqlite3_changes(SQ(st)->db);
	return sio_store_tx_end(st, own, rc);
}
