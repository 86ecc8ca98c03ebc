/*
 * wal.c: the SQLite backend's write-ahead log policy, for every program
 * alike. SQLite's own checkpoint runs inside the commit that crosses its
 * threshold, fsyncs included, and holds every writer of the process
 * meanwhile; and when the WAL cannot start over (another process writes
 * too), in every commit after. So a server's event loop connection
 * (SIO_STORE_LOOP) leaves checkpoints to its housekeeping thread
 * (SIO_STORE_MAINTAIN, sqlite_maintain()): each second, every
 * WAL_BUSY_MS while the WAL is long, a PASSIVE checkpoint (the loop
 * writes on), then, when the WAL is long, a RESTART one for the rest
 * (the loop's writes wait for that short part), after which the next
 * write starts the WAL over. SQLite's own stays on the loop's connection
 * as a backstop, at a threshold only a stalled housekeeping thread lets
 * the WAL reach. Other connections (a CGI request, sioctl) keep SQLite's
 * defaults. tick reads PRAGMA data_version.
 */
#include <stdio.h>

#include "sqlite.h"

const char *const sqlite_wal_sql[SQL_NSTMT] = {
    [SQL_DATA_VERSION] = "PRAGMA data_version",
};

/* A WAL this long (frames) at a checkpoint: the next one comes after
 * SIO_STORE_MAINTAIN_MS rather than a second, and a RESTART follows the
 * PASSIVE one. */
#define WAL_BUSY 256
#define WAL_EVERY_MS 1000
/* SQLite's own checkpoint on the loop's connection (pages). */
#define WAL_BACKSTOP_PAGES 4096
/* Page caches (KiB). SQLite's default (2 MB) fills up with the sessions
 * table as connections come, a fifth of each one's memory at 10,000; the
 * pages a turn of the loop touches are far fewer (measured in sio-wsd: no
 * change in the benchmark's rates at 512 KiB, nor at 256). */
#define WAL_LOOP_CACHE_KIB 256
#define WAL_MAINTAIN_CACHE_KIB 64
/* How long a RESTART checkpoint waits (ms), holding every writer off
 * meanwhile: a reader that keeps an old snapshot (a long query in the
 * sqlite3 shell) makes it give up, not stall the servers. */
#define WAL_RESTART_WAIT_MS 20

static int
wal_cache(struct sio_store *st, int kib)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", kib);
	return sqlite_pragma(st, sql, NULL, 0);
}

int
sqlite_wal_role(struct sio_store *st)
{
	switch (SQ(st)->role) {
	case SIO_STORE_LOOP:
		if (sqlite3_wal_autocheckpoint(SQ(st)->db,
		                               WAL_BACKSTOP_PAGES) != SQLITE_OK)
			return sqlite_sqlfail(st);
		return wal_cache(st, WAL_LOOP_CACHE_KIB);
	case SIO_STORE_MAINTAIN:
		return wal_cache(st, WAL_MAINTAIN_CACHE_KIB);
	case SIO_STORE_PLAIN:
		break;
	}
	return SIO_OK;
}

/* A PASSIVE checkpoint, waiting for no reader and no writer, or a RESTART
 * one (restart), which holds writers off while it copies the rest and
 * waits for the readers (WAL_RESTART_WAIT_MS at most, then gives up), so
 * that the next write starts the WAL over. Returns the frames the WAL held
 * (0 when empty or another checkpoint was running), or SIO_ERR. */
static int
wal_checkpoint(struct sio_store *st, int restart)
{
	int log = 0, done = 0, keep = SQ(st)->busy_ms, rc;

	if (restart)
		SQ(st)->busy_ms = WAL_RESTART_WAIT_MS;
	rc = sqlite3_wal_checkpoint_v2(SQ(st)->db, NULL,
	                               restart ? SQLITE_CHECKPOINT_RESTART
	                                       : SQLITE_CHECKPOINT_PASSIVE,
	                               &log, &done);
	SQ(st)->busy_ms = keep;
	if (rc == SQLITE_OK)
		return log > 0 ? log : 0;
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return 0; /* another checkpoint runs, or readers stay */
	return sqlite_sqlfail(st);
}

int
sqlite_maintain(struct sio_store *st, long long now)
{
	struct sqlite_conn *q = SQ(st);
	int log;

	/* a wall clock gone back does not hold the checkpoints off */
	if (q->wal < WAL_BUSY && now >= q->checkpoint_at &&
	    now - q->checkpoint_at < WAL_EVERY_MS)
		return SIO_OK;
	q->checkpoint_at = now;
	log = wal_checkpoint(st, 0);
	if (log >= WAL_BUSY && wal_checkpoint(st, 1) < 0)
		log = SIO_ERR;
	q->wal = log < 0 ? 0 : log;
	return log < 0 ? SIO_ERR : SIO_OK;
}

int
sqlite_tick(struct sio_store *st, long long now)
{
	long long v, was = SQ(st)->version;

	(void)now;
	if (sqlite_one(st, sqlite_prep(st, SQL_DATA_VERSION, ""), &v) != SIO_OK)
		return SIO_ERR;
	SQ(st)->version = v;
	return was >= 0 && v != was;
}
