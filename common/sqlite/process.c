/*
 * process.c: the SQLite backend's processes: each long-running process's
 * row (its name, pid and lease), and what a process that ends or is reaped
 * held and was writing, handed back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlite.h"

const char *const sqlite_process_sql[SQL_NSTMT] = {
    /* Whose lease lapsed (not renewed since ?1), or who may be seen
     * from here: of pid space ?2, the space of this process. */
    [SQL_PROC_LIST] = "SELECT name, renewed < ?1, pid, pid_start"
                      " FROM processes WHERE renewed < ?1 OR pid_space = ?2",
    [SQL_PROC_HOLDERS] = "SELECT s.sid, s.holder FROM sessions s"
                         " WHERE s.holder IS NOT NULL AND s.sid IN"
                         " (SELECT o.sid FROM outbox o WHERE o.taken_by = ?1)",
    [SQL_PROC_RELEASE] = "UPDATE outbox SET taken_by = NULL,"
                         " taken_conn = NULL WHERE taken_by = ?1",
    [SQL_PROC_PUT] = "INSERT INTO processes (name, pid, started, renewed,"
                     " pid_space, pid_start) VALUES (?1, ?2, ?3, ?3, ?4, ?5)"
                     " ON CONFLICT (name) DO NOTHING",
    [SQL_PROC_RENEW] = "UPDATE processes SET renewed = max(renewed, ?2)"
                       " WHERE name = ?1",
    [SQL_PROC_DEL] = "DELETE FROM processes WHERE name = ?1",
    [SQL_PROC_DETACH] = DETACH_SET " WHERE holder = ?4",
};

int
sqlite_process_register(struct sio_store *st, const char *name, int pid,
                        long long now)
{
	char space[SIO_STORE_SPACE_LEN];
	long long start = 0;
	int own, rc, known;

	/* seen from its own pid space only when it is this process */
	known = pid == getpid() && sio_store_pid_space(space, &start) == SIO_OK;
	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_run(st, sqlite_prep(st, SQL_PROC_PUT, "tiiti", name,
	                                (long long)pid, now,
	                                known ? space : NULL, start));
	if (rc == SIO_OK && sqlite3_changes(SQ(st)->db) == 0) {
		sio_store_fail(st, "process name %s is taken", name);
		rc = SIO_FULL;
	}
	return sio_store_tx_end(st, own, rc);
}

int
sqlite_process_renew(struct sio_store *st, const char *name, long long now)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = sqlite_run(st, sqlite_prep(st, SQL_PROC_RENEW, "ti", name, now));
	if (rc == SIO_OK && sqlite3_changes(SQ(st)->db) == 0) {
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
	int rc = sqlite_run(st, sqlite_prep(st, SQL_PROC_DEL, "t", name));
	char w[SIO_STORE_WORDS_LEN];

	if (rc == SIO_OK)
		rc =
		    sqlite_run(st, sqlite_prep(st, SQL_PROC_DETACH, "ittt", now,
		                               sio_store_words(from, 0, w),
		                               sio_store_state_name(to), name));
	/* the sessions' new holders wait for what it had taken */
	if (rc == SIO_OK)
		rc = sqlite_ring_rows(
		    st, sqlite_prep(st, SQL_PROC_HOLDERS, "t", name));
	if (rc == SIO_OK)
		rc = sqlite_run(st,
		                sqlite_prep(st, SQL_PROC_RELEASE, "t", name));
	return rc;
}

int
sqlite_process_unregister(struct sio_store *st, const char *name, long long now,
                          unsigned from, int to)
{
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = process_forget(st, name, now, from, to);
	return sio_store_tx_end(st, own, rc);
}

/* A row of SQL_PROC_LIST: 1 when its process is gone (its lease lapsed,
 * or its pid, seen from its own pid space, is no longer its process). */
static int
process_gone(sqlite3_stmt *s)
{
	if (sqlite3_column_int(s, 1))
		return 1;
	return sio_store_pid_gone(sqlite3_column_int64(s, 2),
	                          sqlite3_column_int64(s, 3));
}

/*
 * A pid alone is no proof of life: it says nothing about a process in
 * another pid namespace (a container sharing the database), and a pid the
 * kernel gave again to another program would keep a dead process alive
 * for ever. The lease decides, and where the reaper sees the process's
 * pid space, the pid with its start time (sio_store_pid_space()).
 */
int
sqlite_reap(struct sio_store *st, long long now, long long lease_ms,
            unsigned from, int to)
{
	char(*dead)[SIO_HOLDER_LEN] = NULL, (*more)[SIO_HOLDER_LEN];
	char space[SIO_STORE_SPACE_LEN];
	long long start;
	int own, rc, n = 0;
	sqlite3_stmt *s;

	if (sio_store_pid_space(space, &start) != SIO_OK)
		space[0] = '\0'; /* matches no row: the leases alone */
	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	s = sqlite_prep(st, SQL_PROC_LIST, "it", now - lease_ms, space);
	rc = s ? SIO_OK : SIO_ERR;
	while (rc == SIO_OK && (rc = sqlite_step(st, s)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(s, 0);
		rc = SIO_OK;
		if (name == NULL ||
		    strlen((const char *)name) >= SIO_HOLDER_LEN ||
		    !process_gone(s))
			continue;
		if ((more = realloc(dead, (n + 1) * sizeof(*dead))) == NULL) {
			rc = sio_store_fail(st, "out of memory");
			break;
		}
		dead = more;
		snprintf(dead[n++], SIO_HOLDER_LEN, "%s", (const char *)name);
	}
	if (s)
		sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		rc = SIO_OK;
	else if (rc != SIO_OK)
		rc = SIO_ERR;
	for (int i = 0; rc == SIO_OK && i < n; i++) {
		rc = process_forget(st, dead[i], now, from, to);
		/* its doorbell file goes after the commit */
		sio_store_bell(st, (const char *)dead[i], "");
	}
	free(dead);
	rc = sio_store_tx_end(st, own, rc);
	return rc == SIO_OK ? n : SIO_ERR;
}
