/*
 * db.c: the PostgreSQL backend's connection: opening (libpq, the session's
 * settings), the schema and its migrations (schema/pg.sql, compiled in as
 * pg_schema.inc), the statements and their helpers, and the transactions
 * and savepoints the front drives. A write transaction takes siogate's
 * advisory lock at its begin (pg.h says why).
 */
#include <assert.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "result.h"

static const char schema_sql[] =
#include "pg_schema.inc"
    ;

/* The key of the migrations' advisory lock (the writers' is in pg.sql). */
#define PG_MIGRATE_LOCK "5181117"
/* The most parameters a statement has (PG_EXPIRED's 17). */
#define PG_MAX_PARAMS 20

const char *const pg_db_sql[PG_NSTMT] = {
    /* the next transaction id of the cluster: it moves when anything
     * writes (our own commits included: a spare scan, not a lost one) */
    [PG_TICK] = PG_TICK_SQL,
    /* a ring of another host's holder: its channel, the sids */
    [PG_NOTIFY] = "SELECT pg_notify($1, $2)",
};

static const char *const *const pg_tables[] = {
    pg_db_sql,     pg_session_sql, pg_timer_sql,
    pg_outbox_sql, pg_data_sql,    pg_ahead_sql,
};

static const char *
pg_sql_text(int id)
{
	for (size_t i = 0; i < sizeof(pg_tables) / sizeof(*pg_tables); i++)
		if (pg_tables[i][id] != NULL)
			return pg_tables[i][id];
	return NULL;
}

/* Records the server's or libpq's message (r may be NULL); SIO_ERR. */
static int
pg_fail(struct sio_store *st, const PGresult *r)
{
	const char *m = r ? PQresultErrorMessage(r) : "";
	const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	if (m == NULL || *m == '\0')
		m = PQerrorMessage(PGC(st)->db);
	sio_store_fail(st, "%.*s", (int)strcspn(m, "\n"), m);
	/* a deadlock's victim, a serialization failure */
	st->retryable = code != NULL && (strcmp(code, "40P01") == 0 ||
	                                 strcmp(code, "40001") == 0);
	return SIO_ERR;
}

/* Whether r is a success; records the error when it is not. */
static int
pg_ok(struct sio_store *st, PGresult *r)
{
	ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;

	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return 1;
	pg_fail(st, r);
	return 0;
}

static int pg_configure(struct sio_store *st);

/*
 * Reads what waits on a connection with no transaction on the server: a
 * server that closed it (a restart, an administrator) sent its reason,
 * then the end, which may take a few reads; the connection then reads as
 * bad, before a statement is sent on it.
 */
static void
pg_idle_read(PGconn *c)
{
	struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};

	for (int i = 0; i < 4 && PQstatus(c) == CONNECTION_OK &&
	                PQtransactionStatus(c) == PQTRANS_IDLE && p.fd >= 0 &&
	                poll(&p, 1, 0) > 0;
	     i++)
		if (!PQconsumeInput(c))
			break;
}

/*
 * A connection the server closed (it restarted, or ended an idle
 * transaction) is made again before a statement outside a transaction,
 * with its settings; its prepared statements went with it. Inside a
 * transaction the statement fails instead, the transaction is rolled back
 * and the next begin reconnects. SIO_OK, or SIO_ERR when the server is
 * still away.
 */
static int
pg_alive(struct sio_store *st)
{
	struct pg_conn *q = PGC(st);

	pg_idle_read(q->db);
	if (PQstatus(q->db) != CONNECTION_BAD)
		return SIO_OK;
	if (q->in_tx && q->sent) /* never run the rest of it outside it */
		return sio_store_fail(st, "the connection to the server was "
		                          "lost");
	PQreset(q->db);
	if (PQstatus(q->db) != CONNECTION_OK)
		return pg_fail(st, NULL);
	memset(q->prepared, 0, sizeof(q->prepared));
	if (PQsetClientEncoding(q->db, "UTF8") != 0)
		return pg_fail(st, NULL);
	return pg_configure(st);
}

static int pg_prepare(struct sio_store *st, enum pg_sql id, char name[16]);

/* Whether a statement that failed lost its connection outside a
 * transaction: then it is run again once on a new one. */
static int
pg_again(struct sio_store *st)
{
	return PQstatus(PGC(st)->db) == CONNECTION_BAD &&
	       !(PGC(st)->in_tx && PGC(st)->sent);
}

/* The commands a transaction defers (pointers compared). */
static const char PG_BEGIN[] = "BEGIN";
static const char PG_BEGIN_READ[] =
    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
static const char PG_LOCK[] = "SELECT siogate_lock()";
static const char PG_SAVEPOINT[] = "SAVEPOINT sio";
static const char PG_RELEASE[] = "RELEASE SAVEPOINT sio";
static const char PG_ROLLBACK_TO[] = "ROLLBACK TO SAVEPOINT sio";

/*
 * Runs the deferred commands, then the statement (a prepared one by name,
 * or sql; neither: none), in one round trip (libpq's pipeline mode).
 * Returns the statement's result, or with none an empty success; NULL
 * when any failed, the first error recorded.
 */
static PGresult *
pg_send(struct sio_store *st, const char *name, const char *sql, int n,
        const char *const *val, const int *len, const int *fmt)
{
	struct pg_conn *q = PGC(st);
	PGconn *c = q->db;
	PGresult *r, *out = NULL, *ahead = NULL;
	const char *pend[sizeof(q->pend) / sizeof(*q->pend)];
	int total = q->npend + (name || sql), failed = 0, k, begun, npend;

	if (q->npend == 0) {
		if (name)
			return PQexecPrepared(c, name, n, val, len, fmt, 0);
		return PQexecParams(c, sql, n, NULL, val, len, fmt, 0);
	}
	/* a new connection (pg_alive()) has prepared nothing yet */
	if (q->ahead_pend && !q->prepared[q->ahead_id] &&
	    pg_prepare(st, (enum pg_sql)q->ahead_id, q->ahead_name) != SIO_OK)
		return NULL;
	if (!PQenterPipelineMode(c))
		return NULL;
	for (k = 0; k < q->npend; k++)
		if (q->pend[k] == PG_AHEAD_PEND) /* prepared: pg_prelude() */
			PQsendQueryPrepared(c, q->ahead_name, 1,
			                    (const char *const *)&q->ahead_list,
			                    NULL, NULL, 0);
		else
			PQsendQueryParams(c, q->pend[k], 0, NULL, NULL, NULL,
			                  NULL, 0);
	if (name)
		PQsendQueryPrepared(c, name, n, val, len, fmt, 0);
	else if (sql)
		PQsendQueryParams(c, sql, n, NULL, val, len, fmt, 0);
	PQpipelineSync(c);
	begun = q->pend[0] == PG_BEGIN || q->pend[0] == PG_BEGIN_READ;
	memcpy(pend, q->pend, sizeof(pend));
	npend = q->npend;
	q->sent |= begun;
	q->npend = 0;
	q->ahead_pend = 0;
	for (k = 0; k < total && PQstatus(c) != CONNECTION_BAD; k++)
		while ((r = PQgetResult(c)) != NULL) {
			ExecStatusType s = PQresultStatus(r);
			int mine = k == total - 1 && (name || sql);

			if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK &&
			    s != PGRES_PIPELINE_ABORTED && !failed) {
				pg_fail(st, r);
				failed = 1;
			}
			if (mine && out == NULL)
				out = r;
			else if (k < npend && pend[k] == PG_AHEAD_PEND &&
			         s == PGRES_TUPLES_OK && ahead == NULL)
				ahead = r;
			else
				PQclear(r);
		}
	if (PQstatus(c) != CONNECTION_BAD) {
		while ((r = PQgetResult(c)) != NULL) {
			int sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;

			PQclear(r);
			if (sync)
				break;
		}
		PQexitPipelineMode(c);
	} else {
		if (!failed)
			pg_fail(st, NULL);
		failed = 1;
		/* the transaction began in this round trip and died with the
		 * connection: nothing of it was done, it may start over */
		if (begun) {
			memcpy(q->pend, pend, sizeof(pend));
			q->npend = npend;
			q->sent = 0;
			for (k = 0; k < npend; k++)
				q->ahead_pend |= pend[k] == PG_AHEAD_PEND;
		}
	}
	if (!failed && (name || sql) && out == NULL) {
		pg_fail(st, NULL); /* the statement's result never came */
		failed = 1;
	}
	if (!failed && ahead != NULL && /* read before the statement ran */
	    pg_ahead_fill(st, ahead) != SIO_OK)
		pg_ahead_clear(st); /* out of memory: the reads ask */
	PQclear(ahead);
	if (failed) {
		PQclear(out);
		return NULL;
	}
	return out ? out : PQmakeEmptyPGresult(c, PGRES_COMMAND_OK);
}

/* Defers cmd to the transaction's next round trip. */
static int
pg_defer(struct sio_store *st, const char *cmd)
{
	struct pg_conn *q = PGC(st);
	PGresult *r;

	if (q->npend == (int)(sizeof(q->pend) / sizeof(*q->pend))) {
		r = pg_send(st, NULL, NULL, 0, NULL, NULL, NULL);
		if (r == NULL)
			return SIO_ERR;
		PQclear(r);
	}
	q->pend[q->npend++] = cmd;
	return SIO_OK;
}

int
pg_flush(struct sio_store *st)
{
	PGresult *r = pg_send(st, NULL, NULL, 0, NULL, NULL, NULL);

	PQclear(r);
	return r != NULL ? SIO_OK : SIO_ERR;
}

int
pg_defer_prelude(struct sio_store *st, enum pg_sql id)
{
	struct pg_conn *q = PGC(st);

	if (pg_prepare(st, id, q->ahead_name) != SIO_OK ||
	    pg_defer(st, PG_AHEAD_PEND) != SIO_OK)
		return SIO_ERR;
	q->ahead_id = (int)id;
	q->ahead_pend = 1;
	return SIO_OK;
}

/* Runs statement id (prepared at its first use), or with id -1 the text
 * sql, with the parameters of types/ap. */
static PGresult *
pg_vexec(struct sio_store *st, int id, const char *sql, const char *types,
         va_list ap)
{
	char name[16];
	const char *val[PG_MAX_PARAMS];
	int len[PG_MAX_PARAMS], fmt[PG_MAX_PARAMS], n;
	char num[PG_MAX_PARAMS][24];
	PGresult *r;

	for (n = 0; types[n] != '\0'; n++) {
		assert(n < PG_MAX_PARAMS);
		len[n] = 0;
		fmt[n] = 0;
		switch (types[n]) {
		case 't':
			val[n] = va_arg(ap, const char *);
			break;
		case 'b': /* text's binary form: the bytes, no NUL needed */
			val[n] = va_arg(ap, const char *);
			len[n] = (int)va_arg(ap, size_t);
			fmt[n] = 1;
			break;
		case 'i':
			snprintf(num[n], sizeof(num[n]), "%lld",
			         va_arg(ap, long long));
			val[n] = num[n];
			break;
		default:
			assert(!"bad parameter type");
		}
	}
	PGC(st)->due_set = 0; /* pg_take_page()'s read-ahead */
	for (int tries = 0;; tries++) {
		r = NULL;
		if (id >= 0 ? pg_prepare(st, (enum pg_sql)id, name) == SIO_OK
		            : pg_alive(st) == SIO_OK)
			r = pg_send(st, id >= 0 ? name : NULL,
			            id >= 0 ? NULL : sql, n, val, len, fmt);
		if (r != NULL && pg_ok(st, r))
			break;
		PQclear(r);
		/* a write outside a transaction (PG_DONE_TAKE) may have
		 * been made: never run it again */
		if (tries > 0 || id == PG_DONE_TAKE || !pg_again(st)) {
			pg_ahead_clear(st);
			return NULL;
		}
	}
	pg_ahead_forget(st, id, n, types, val);
	PGC(st)->changes = atoll(PQcmdTuples(r));
	return r;
}

/* Prepares statement id on this connection at its first use. */
static int
pg_prepare(struct sio_store *st, enum pg_sql id, char name[16])
{
	const char *sql = pg_sql_text(id);
	PGresult *r;
	int ok;

	assert(sql != NULL);
	snprintf(name, 16, "s%d", (int)id);
	if (pg_alive(st) != SIO_OK)
		return SIO_ERR;
	if (PGC(st)->prepared[id])
		return SIO_OK;
	r = PQprepare(PGC(st)->db, name, sql, 0, NULL);
	ok = pg_ok(st, r);
	PQclear(r);
	if (!ok) {
		char why[SIO_ERR_LEN];

		snprintf(why, sizeof(why), "%s", st->errmsg);
		return sio_store_fail(st, "preparing statement %d: %s", (int)id,
		                      why);
	}
	PGC(st)->prepared[id] = 1;
	return SIO_OK;
}

PGresult *
pg_exec(struct sio_store *st, enum pg_sql id, const char *types, ...)
{
	PGresult *r;
	va_list ap;

	va_start(ap, types);
	r = pg_vexec(st, (int)id, NULL, types, ap);
	va_end(ap);
	return r;
}

PGresult *
pg_adhoc(struct sio_store *st, const char *sql, const char *types, ...)
{
	PGresult *r;
	va_list ap;

	va_start(ap, types);
	r = pg_vexec(st, -1, sql, types, ap);
	va_end(ap);
	return r;
}

int
pg_run(struct sio_store *st, enum pg_sql id, const char *types, ...)
{
	PGresult *r;
	va_list ap;

	va_start(ap, types);
	r = pg_vexec(st, (int)id, NULL, types, ap);
	va_end(ap);
	PQclear(r);
	return r ? SIO_OK : SIO_ERR;
}

int
pg_one(struct sio_store *st, long long *out, enum pg_sql id, const char *types,
       ...)
{
	PGresult *r;
	va_list ap;
	int rc = SIO_ABSENT;

	va_start(ap, types);
	r = pg_vexec(st, (int)id, NULL, types, ap);
	va_end(ap);
	if (r == NULL)
		return SIO_ERR;
	if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
		*out = atoll(PQgetvalue(r, 0, 0));
		rc = SIO_OK;
	}
	PQclear(r);
	return rc;
}

int
pg_write(struct sio_store *st, enum pg_sql id, const char *types, ...)
{
	PGresult *r;
	va_list ap;
	int own;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	va_start(ap, types);
	r = pg_vexec(st, (int)id, NULL, types, ap);
	va_end(ap);
	PQclear(r);
	return sio_store_tx_end(st, own, r ? SIO_OK : SIO_ERR);
}

const char *
pg_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

long long
pg_int(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : atoll(PQgetvalue(r, row, col));
}

int
pg_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col);
}

int
pg_state(const PGresult *r, int row, int col)
{
	int state = sio_store_state_parse(pg_text(r, row, col));

	return state < 0 ? SIO_SESSION_CLOSED : state;
}

int
pg_transport(const PGresult *r, int row, int col)
{
	return sio_store_transport_parse(pg_text(r, row, col));
}

int
pg_ring_rows(struct sio_store *st, PGresult *r)
{
	if (r == NULL)
		return SIO_ERR;
	for (int i = 0; i < PQntuples(r); i++)
		sio_store_bell(st, pg_text(r, i, 1), pg_text(r, i, 0));
	PQclear(r);
	return SIO_OK;
}

char *
pg_dup(const PGresult *r, int row, int col, int *failed)
{
	const char *t = pg_text(r, row, col);
	char *p;

	if (t == NULL)
		return NULL;
	if ((p = strdup(t)) == NULL)
		*failed = 1;
	return p;
}

/* Runs one or more statements without parameters. */
static int
pg_exec_text(struct sio_store *st, const char *sql)
{
	PGresult *r;
	int ok;

	for (int tries = 0;; tries++) {
		if (pg_alive(st) != SIO_OK)
			return SIO_ERR;
		r = PQexec(PGC(st)->db, sql);
		ok = pg_ok(st, r);
		if (ok || tries > 0 || !pg_again(st))
			break;
		PQclear(r);
	}

	PQclear(r);
	return ok ? SIO_OK : SIO_ERR;
}

/* --- the schema -------------------------------------------------------- */

static int
pg_schema_want(void)
{
	return sio_store_schema_latest(schema_sql);
}

/*
 * The database's schema version in *have (0: none yet); newer than this
 * build's is an error. Whether siogate_schema exists is read from
 * pg_class, not with to_regclass(): that looks in the backend's catalog
 * cache, which keeps the table's absence after another process's
 * migration committed while this one waited for the migrations' lock
 * (an advisory lock reads no invalidation), and the migration would run
 * twice ("relation siogate_schema already exists").
 */
static int
pg_schema_have(struct sio_store *st, int *have)
{
	PGresult *r = pg_adhoc(st,
	                       "SELECT 1 FROM pg_catalog.pg_class c"
	                       " JOIN pg_catalog.pg_namespace n"
	                       " ON n.oid = c.relnamespace"
	                       " WHERE c.relname = 'siogate_schema'"
	                       " AND n.nspname = current_schema()",
	                       "");
	int exists;

	if (r == NULL)
		return SIO_ERR;
	exists = PQntuples(r) > 0 && !pg_null(r, 0, 0);
	PQclear(r);
	*have = 0;
	if (exists) {
		r = pg_adhoc(st, "SELECT max(version) FROM siogate_schema", "");
		if (r == NULL)
			return SIO_ERR;
		*have = PQntuples(r) > 0 ? (int)pg_int(r, 0, 0) : 0;
		PQclear(r);
	}
	if (*have > pg_schema_want())
		return sio_store_fail(
		    st, "schema version %d is newer than this build's %d",
		    *have, pg_schema_want());
	return SIO_OK;
}

/*
 * Brings the schema up to this build's version. An up-to-date database
 * is only read; behind, the migration runs under an advisory lock,
 * reading the version again there: of processes upgrading at once, one
 * migrates, the others find it done.
 */
static int
pg_migrate(struct sio_store *st)
{
	char buf[96];
	int have, want = pg_schema_want();

	if (pg_schema_have(st, &have) != SIO_OK)
		return SIO_ERR;
	if (have == want)
		return SIO_OK;
	if (pg_exec_text(st,
	                 "BEGIN; SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK
	                 ")") != SIO_OK ||
	    pg_schema_have(st, &have) != SIO_OK)
		goto err;
	if (sio_store_schema_run(st, schema_sql, have, pg_exec_text) != SIO_OK)
		goto err;
	snprintf(buf, sizeof(buf), "UPDATE siogate_schema SET version = %d",
	         want);
	if (pg_exec_text(st, buf) != SIO_OK ||
	    pg_exec_text(st, "COMMIT") != SIO_OK)
		goto err;
	return SIO_OK;
err:
	PQclear(PQexec(PGC(st)->db, "ROLLBACK"));
	return SIO_ERR;
}

/* --- opening and closing ------------------------------------------------ */

/* The server side's keepalives, added to the URI's options: the server
 * ends the connections of a host gone silent within seconds, and with
 * them its transactions (the writers' lock) and its listener. On the
 * client's side, besides keepalives, connect_timeout: a connection tried
 * while the server is unreachable gives up after 3 s (not after TCP's
 * minutes of retries), so a process cut off registers again within
 * seconds of its link coming back. */
#define PG_SERVER_KEEPALIVES                                                   \
	"-c tcp_keepalives_idle=2 -c tcp_keepalives_interval=1"                \
	" -c tcp_keepalives_count=2 -c tcp_user_timeout=4000"

PGconn *
pg_connect(const char *path, const char *appname)
{
	/* ours first: what the URI says overrides them (libpq) */
	const char *keys[] = {"keepalives_idle",
	                      "keepalives_interval",
	                      "keepalives_count",
	                      "tcp_user_timeout",
	                      "connect_timeout",
	                      "application_name",
	                      "dbname",
	                      "options",
	                      NULL};
	const char *values[] = {"5", "2",     "2",  "10000",
	                        "3", appname, path, PG_SERVER_KEEPALIVES,
	                        NULL};
	PQconninfoOption *opts = PQconninfoParse(path, NULL), *o;
	char *options = NULL;
	PGconn *c;

	/* the URI's own options, and the keepalives after them */
	for (o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "options") == 0 && o->val != NULL &&
		    *o->val != '\0' &&
		    asprintf(&options, "%s " PG_SERVER_KEEPALIVES, o->val) >= 0)
			values[7] = options;
	c = PQconnectdbParams(keys, values, 1);
	PQconninfoFree(opts);
	free(options);
	return c;
}

/* The server's notices (a NOTICE of a migration) are not ours to print. */
static void
pg_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/*
 * The session's settings: a commit waits for its WAL flush with
 * synchronous = full only (normal, the default, is PostgreSQL's
 * synchronous_commit = off: a crash of the server may lose the last
 * commits, never consistency, as SQLite's NORMAL in WAL mode); a lock
 * waited for longer than the busy timeout fails the transaction (the
 * front rolls back) rather than freezing its process; a transaction
 * left open by a stuck process ends after a minute.
 */
static int
pg_configure(struct sio_store *st)
{
	char sql[256];
	int sync = PGC(st)->sync, ms = PGC(st)->busy_ms;

	PQsetNoticeProcessor(PGC(st)->db, pg_notice, NULL);
	snprintf(sql, sizeof(sql),
	         "SET synchronous_commit = %s; SET lock_timeout = %d;"
	         " SET idle_in_transaction_session_timeout = 60000;"
	         " SET client_min_messages = warning; SET TimeZone = 'UTC'",
	         sync == SIO_SYNC_FULL ? "on" : "off", ms);
	return pg_exec_text(st, sql);
}

static int
pg_open(struct sio_store *st, const char *path,
        const struct sio_store_opts *opts, char *err)
{
	struct pg_conn *q;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		sio_err(err, "out of memory");
		return SIO_ERR;
	}
	st->be = q;
	q->max_queue =
	    opts && opts->max_queue > 0 ? opts->max_queue : SIO_MAX_QUEUE;
	q->xmax = -1;
	q->sync = opts ? (int)opts->synchronous : SIO_SYNC_NORMAL;
	q->busy_ms =
	    opts && opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000;
	q->db = pg_connect(path, "siogate");
	if (q->db == NULL) {
		sio_store_fail(st, "out of memory");
		goto err;
	}
	if (PQstatus(q->db) != CONNECTION_OK) {
		pg_fail(st, NULL);
		goto err;
	}
	if (PQsetClientEncoding(q->db, "UTF8") != 0) {
		pg_fail(st, NULL);
		goto err;
	}
	if (pg_configure(st) != SIO_OK || pg_migrate(st) != SIO_OK)
		goto err;
	return SIO_OK;
err:
	/* the URI may hold a password: the database is named, not shown */
	sio_err(err, "PostgreSQL database: %s", st->errmsg);
	PQfinish(q->db);
	pg_ahead_free(st);
	free(q);
	st->be = NULL;
	return SIO_ERR;
}

static void
pg_close(struct sio_store *st)
{
	struct pg_conn *q = PGC(st);

	if (q == NULL)
		return;
	PQfinish(q->db);
	pg_ahead_free(st);
	free(q);
	st->be = NULL;
}

/* --- transactions -------------------------------------------------------- */

static int
pg_in_transaction(struct sio_store *st)
{
	PGTransactionStatusType s = PQtransactionStatus(PGC(st)->db);

	return PGC(st)->in_tx || s == PQTRANS_INTRANS || s == PQTRANS_INERROR ||
	       s == PQTRANS_ACTIVE;
}

/* Ends the transaction's bookkeeping. */
static void
pg_tx_over(struct sio_store *st)
{
	PGC(st)->in_tx = PGC(st)->sent = PGC(st)->npend = 0;
	PGC(st)->depth = PGC(st)->due_set = 0;
	pg_ahead_clear(st);
}

static int
pg_rollback(struct sio_store *st)
{
	PGTransactionStatusType s = PQtransactionStatus(PGC(st)->db);

	pg_tx_over(st);
	if (s == PQTRANS_IDLE || s == PQTRANS_UNKNOWN)
		return SIO_OK; /* never sent, or the connection is gone */
	return pg_exec_text(st, "ROLLBACK");
}

/* The writers' lock is taken with the begin; both go with the
 * transaction's first statement (pg_send()). */
static int
pg_begin(struct sio_store *st)
{
	if (pg_alive(st) != SIO_OK)
		return SIO_ERR;
	pg_tx_over(st);
	PGC(st)->in_tx = 1;
	PGC(st)->pend[0] = PG_BEGIN;
	PGC(st)->pend[1] = PG_LOCK;
	PGC(st)->npend = 2;
	return SIO_OK;
}

/* A transaction that failed is rolled back by COMMIT, without an error:
 * that is the commit's failure here. One that never reached the server
 * has nothing to commit. */
static int
pg_commit(struct sio_store *st)
{
	struct pg_conn *q = PGC(st);
	PGresult *r;
	int ok;

	if (!q->sent) {
		pg_tx_over(st);
		return SIO_OK;
	}
	if (PQtransactionStatus(q->db) != PQTRANS_INTRANS)
		return st->errmsg[0] ? SIO_ERR
		                     : sio_store_fail(st, "the transaction "
		                                          "failed");
	r = pg_send(st, NULL, "COMMIT", 0, NULL, NULL, NULL);
	ok = r != NULL && strcmp(PQcmdStatus(r), "COMMIT") == 0;
	if (ok)
		pg_tx_over(st);
	else if (r != NULL)
		sio_store_fail(st, "the commit was rolled back");
	PQclear(r);
	return ok ? SIO_OK : SIO_ERR;
}

static int
pg_read_begin(struct sio_store *st)
{
	if (pg_in_transaction(st))
		return sio_store_fail(st, "a transaction is already open");
	if (pg_alive(st) != SIO_OK)
		return SIO_ERR;
	pg_tx_over(st);
	PGC(st)->in_tx = 1;
	PGC(st)->pend[0] = PG_BEGIN_READ;
	PGC(st)->npend = 1;
	return SIO_OK;
}

static void
pg_read_end(struct sio_store *st)
{
	int sent = PGC(st)->sent;

	pg_tx_over(st);
	if (sent && PQtransactionStatus(PGC(st)->db) != PQTRANS_IDLE)
		PQclear(PQexec(PGC(st)->db, "COMMIT"));
}

/*
 * A savepoint with nothing after it is never sent, nor its end; one
 * opened right after another, nothing between them, shares it (a batch's
 * savepoint for each write, and the write's own inside it): rolling back
 * to the inner one rolls back to the shared savepoint and keeps it for
 * the outer, releasing the inner one releases nothing.
 */
static int
pg_savepoint(struct sio_store *st)
{
	struct pg_conn *q = PGC(st);
	int shared = q->depth > 0 && q->npend > 0 &&
	             q->pend[q->npend - 1] == PG_SAVEPOINT;

	if (q->depth == (int)sizeof(q->shared))
		return sio_store_fail(st, "savepoints nested too deep");
	if (!shared && pg_defer(st, PG_SAVEPOINT) != SIO_OK)
		return SIO_ERR;
	q->shared[q->depth++] = (unsigned char)shared;
	return SIO_OK;
}

/* Ends the innermost savepoint: rolled back to (back) or released. */
static int
pg_savepoint_end(struct sio_store *st, int back)
{
	struct pg_conn *q = PGC(st);
	int shared = q->depth > 0 && q->shared[q->depth - 1];
	int unsent = q->npend > 0 && q->pend[q->npend - 1] == PG_SAVEPOINT;

	if (q->depth > 0)
		q->depth--;
	if (unsent) { /* nothing ran since the savepoint */
		if (!shared)
			q->npend--;
		return SIO_OK;
	}
	/* what was read ahead may have been mended since the savepoint */
	if (back)
		pg_ahead_clear(st);
	if (back && pg_defer(st, PG_ROLLBACK_TO) != SIO_OK)
		return SIO_ERR;
	return shared ? SIO_OK : pg_defer(st, PG_RELEASE);
}

static int
pg_rollback_to(struct sio_store *st)
{
	return pg_savepoint_end(st, 1);
}

static int
pg_release(struct sio_store *st)
{
	return pg_savepoint_end(st, 0);
}

static int
pg_tick(struct sio_store *st, long long now)
{
	long long v, was = PGC(st)->xmax;

	(void)now;
	if (pg_one(st, &v, PG_TICK, "") != SIO_OK)
		return SIO_ERR;
	PGC(st)->xmax = v;
	return was >= 0 && v != was;
}

/* PostgreSQL's upkeep is its own (autovacuum). */
static int
pg_maintain(struct sio_store *st, long long now)
{
	(void)st;
	(void)now;
	return SIO_OK;
}

const struct sio_store_ops sio_store_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .in_transaction = pg_in_transaction,
    .read_begin = pg_read_begin,
    .read_end = pg_read_end,
    .read_upgrade = NULL,
    .savepoint = pg_savepoint,
    .rollback_to = pg_rollback_to,
    .release = pg_release,
    .tick = pg_tick,
    .maintain = pg_maintain,
    .watch = pg_watch,
    .prelude = pg_prelude,
    .notify = pg_notify,
    .listen = pg_listen,
    .unlisten = pg_unlisten,
    .session_new = pg_session_new,
    .sessions_live = pg_sessions_live,
    .session_get = pg_session_get,
    .session_state = pg_session_state,
    .holder_state = pg_holder_state,
    .attach = pg_attach,
    .detach = pg_detach,
    .hello_sent = pg_hello_sent,
    .touch = pg_touch,
    .session_end = pg_session_end,
    .session_forget = pg_session_forget,
    .session_gone = pg_session_gone,
    .session_purge = pg_session_purge,
    .cleanup = pg_cleanup,
    .cleanup_drained = pg_cleanup_drained,
    .heartbeat_due = pg_heartbeat_due,
    .expired = pg_expired,
    .clock_check = pg_clock_check,
    .outbox_target = pg_outbox_target,
    .outbox_room = pg_outbox_room,
    .outbox_insert = pg_outbox_insert,
    .outbox_put = pg_outbox_put,
    .outbox_broadcast = pg_outbox_broadcast,
    .outbox_peek = pg_outbox_peek,
    .outbox_take = pg_outbox_take,
    .outbox_done = pg_outbox_done,
    .outbox_done_detach = pg_outbox_done_detach,
    .outbox_done_take = pg_outbox_done_take,
    .outbox_release = pg_outbox_release,
    .outbox_del = pg_outbox_del,
    .outbox_next_due = pg_outbox_next_due,
    .outbox_count = pg_outbox_count,
    .outbox_ready = pg_outbox_ready,
    .bridge_put = pg_bridge_put,
    .bridge_take = pg_bridge_take,
    .bridge_done = pg_bridge_done,
    .bridge_retry = pg_bridge_retry,
    .bridge_count = pg_bridge_count,
    .endpoint_add = pg_endpoint_add,
    .endpoint_del = pg_endpoint_del,
    .endpoint_has = pg_endpoint_has,
    .endpoint_list = pg_endpoint_list,
    .data_get = pg_data_get,
    .data_put = pg_data_put,
    .room_join = pg_room_join,
    .room_leave = pg_room_leave,
    .ack_new = pg_ack_new,
    .ack_take = pg_ack_take,
    .ack_get = pg_ack_get,
    .counter_add = pg_counter_add,
    .counter_get = pg_counter_get,
    .process_register = pg_process_register,
    .process_unregister = pg_process_unregister,
    .process_renew = pg_process_renew,
    .reap = pg_reap,
    .session_list = pg_session_list,
    .room_list = pg_room_list,
    .process_list = pg_process_list,
    .counter_list = pg_counter_list,
    .session_counts = pg_session_counts,
    .stats = pg_stats,
    .stats_sample = pg_stats_sample,
};
