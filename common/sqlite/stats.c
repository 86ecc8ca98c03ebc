/*
 * stats.c: the SQLite backend's operational stats: stats_view and
 * transport_view read in one snapshot, and the samples their rates are
 * computed from.
 */
#include <string.h>

#include "sqlite.h"

const char *const sqlite_stats_sql[SQL_NSTMT] = {
    /* One sample a second at most, whichever process sweeps first; one
     * from the future (the clock went back) does not stop the sweeps. */
    [SQL_SAMPLE_PUT] =
        "INSERT INTO stats_samples (t, connections_opened, packets_sent,"
        " packets_received) SELECT ?1,"
        " (SELECT coalesce(max(value), 0) FROM counters"
        " WHERE name = 'connections_opened'),"
        " (SELECT coalesce(max(value), 0) FROM counters"
        " WHERE name = 'packets_sent'),"
        " (SELECT coalesce(max(value), 0) FROM counters"
        " WHERE name = 'packets_received')"
        " WHERE NOT EXISTS (SELECT 1 FROM stats_samples"
        " WHERE t > ?1 - 1000 AND t <= ?1)",
    [SQL_SAMPLE_TRIM] = "DELETE FROM stats_samples WHERE t < ?1 - 60000",
};

int
sqlite_stats_sample(struct sio_store *st, long long now)
{
	int own, rc, n = 0;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_run(st, sqlite_prep(st, SQL_SAMPLE_PUT, "i", now));
	if (rc == SIO_OK) {
		n = sqlite3_changes(SQ(st)->db);
		rc = sqlite_run(st, sqlite_prep(st, SQL_SAMPLE_TRIM, "i", now));
	}
	return sio_store_tx_end(st, own, rc == SIO_OK ? n : rc);
}

int
sqlite_stats(struct sio_store *st, struct sio_store_stats *out)
{
	static const char sql[] =
	    "SELECT active_sessions, peak_sessions, active_connections,"
	    " peak_connections, sessions_opened, connections_opened,"
	    " packets_sent, packets_received, queued_packets, connections_ps,"
	    " packets_sent_ps, packets_received_ps, time FROM stats_view";
	static const char by_transport[] =
	    "SELECT transport, sessions FROM transport_view";
	sqlite3_stmt *s;
	int rc, t;

	if (sqlite3_exec(SQ(st)->db, "SAVEPOINT sio_stats", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return sqlite_sqlfail(st);
	s = sqlite_adhoc(st, sql, NULL);
	if (s == NULL)
		goto err;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->active_sessions = sqlite3_column_int64(s, 0);
		out->peak_sessions = sqlite3_column_int64(s, 1);
		out->active_connections = sqlite3_column_int64(s, 2);
		out->peak_connections = sqlite3_column_int64(s, 3);
		out->sessions_opened = sqlite3_column_int64(s, 4);
		out->connections_opened = sqlite3_column_int64(s, 5);
		out->packets_sent = sqlite3_column_int64(s, 6);
		out->packets_received = sqlite3_column_int64(s, 7);
		out->queued_packets = sqlite3_column_int64(s, 8);
		out->connections_ps = sqlite3_column_double(s, 9);
		out->packets_sent_ps = sqlite3_column_double(s, 10);
		out->packets_received_ps = sqlite3_column_double(s, 11);
		out->time = sqlite3_column_int64(s, 12);
		rc = sqlite3_step(s);
	}
	if (sqlite_adhoc_end(st, s, rc, 0) != SIO_OK)
		goto err;
	s = sqlite_adhoc(st, by_transport, NULL);
	if (s == NULL)
		goto err;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		t = sqlite_transport(s, 0);
		if (t >= 0)
			out->sessions[t] = sqlite3_column_int64(s, 1);
		else
			out->sessions_no_transport = sqlite3_column_int64(s, 1);
	}
	if (sqlite_adhoc_end(st, s, rc, 0) != SIO_OK)
		goto err;
	sqlite3_exec(SQ(st)->db, "RELEASE sio_stats", NULL, NULL, NULL);
	return SIO_OK;
err:
	sqlite3_exec(SQ(st)->db, "ROLLBACK TO sio_stats; RELEASE sio_stats",
	             NULL, NULL, NULL);
	return SIO_ERR;
}
