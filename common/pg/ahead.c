/*
 * ahead.c: the PostgreSQL backend's read-ahead (the prelude). A batch
 * reads the rows of the sessions it is about to work on in one
 * statement; the reads each session's run and apply would make one round
 * trip at a time (is it live, what does its queue take, who holds it, is
 * this endpoint connected) are answered from them until a statement
 * writes what they show, or the transaction ends.
 *
 * Why the rows stay true: inside a read transaction (REPEATABLE READ) the
 * snapshot does not move; inside a write transaction every writer of
 * every process holds siogate's lock (pg.h), so only this transaction's
 * own statements change them. Each statement says what it leaves
 * (ahead_keeps[]): everything (a read, a write of a table the rows do not
 * show), everything but its session's ($1) row, or, for all others and
 * any statement added later, nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pg.h"

/* The most sessions read ahead at once: a batch's (CONN_BATCH_MAX). */
#define AHEAD_MAX 512

/* A session's row by a plain index scan whatever plan the statement
 * keeps (a subquery with a LIMIT is never merged into a join): a plan
 * chosen while the table looked small would otherwise scan all of it,
 * and a bitmap scan would visit, at every batch, the index entries of
 * every dead version of the busy rows, which a plain scan marks dead
 * once. */
#define AHEAD_FROM                                                             \
	" FROM unnest($1::text[]) k(sid) CROSS JOIN LATERAL (SELECT sid,"      \
	" state, holder, queued, holder_conn, last_recv FROM sessions"         \
	" WHERE sid = k.sid LIMIT 1) s"
#define AHEAD_COLS                                                             \
	"SELECT s.sid, s.state, s.holder, s.queued,"                           \
	" s.holder_conn, s.last_recv"
/* in the byte order of sid, as strcmp() sorts */
#define AHEAD_ORDER " ORDER BY s.sid COLLATE \"C\""

const char *const pg_ahead_sql[PG_NSTMT] = {
    /* a row a session */
    [PG_PRELUDE] = AHEAD_COLS ", NULL" AHEAD_FROM AHEAD_ORDER,
    /* and its endpoints in one column, each as its length in bytes,
     * ':', and itself ("5:/chat0:") */
    [PG_PRELUDE_EPS] = AHEAD_COLS
    ", e.eps" AHEAD_FROM
    " CROSS JOIN LATERAL (SELECT string_agg(octet_length(endpoint)"
    " || ':' || endpoint, '') AS eps FROM endpoints"
    " WHERE sid = k.sid) e" AHEAD_ORDER,
};

/* What each statement leaves of the rows read ahead: nothing (0, the
 * default) unless named here; all of them (AHEAD_KEEP); all but the
 * entry of the session it writes alone (its row, endpoints or queue),
 * whose sid is its parameter $k (AHEAD_DROP(k)); all, its caller mending
 * the entry it changes (AHEAD_MENDED: pg_ahead_mend()). */
enum { AHEAD_NONE, AHEAD_KEEP = 0xff, AHEAD_MENDED = 0xfe };
#define AHEAD_DROP(k) (k)
#define AHEAD_DROP_SID AHEAD_DROP(1)

static const unsigned char ahead_keeps[PG_NSTMT] = {
    [PG_PRELUDE] = AHEAD_KEEP,
    [PG_PRELUDE_EPS] = AHEAD_KEEP,
    /* reads */
    [PG_TICK] = AHEAD_KEEP,
    [PG_SESSION_GET] = AHEAD_KEEP,
    [PG_SESSION_STATE] = AHEAD_KEEP,
    [PG_GONE] = AHEAD_KEEP,
    [PG_HOLDER_STATE] = AHEAD_KEEP,
    [PG_HOLDER] = AHEAD_KEEP,
    [PG_LIVE_OF] = AHEAD_KEEP,
    [PG_PUT_CHECK] = AHEAD_KEEP,
    [PG_PEEK] = AHEAD_KEEP,
    [PG_NEXT_DUE] = AHEAD_KEEP,
    [PG_COUNT] = AHEAD_KEEP,
    [PG_BRIDGE_COUNT] = AHEAD_KEEP,
    [PG_BRIDGE_COUNT_ALL] = AHEAD_KEEP,
    [PG_BRIDGE_FIRST] = AHEAD_KEEP,
    [PG_BRIDGE_SCAN] = AHEAD_KEEP,
    [PG_EP_HAS] = AHEAD_KEEP,
    [PG_EP_LIST] = AHEAD_KEEP,
    [PG_DATA_GET] = AHEAD_KEEP,
    [PG_ACK_GET] = AHEAD_KEEP,
    [PG_COUNTER_GET] = AHEAD_KEEP,
    /* writes of tables the rows do not show */
    [PG_BRIDGE_PUT] = AHEAD_KEEP,
    [PG_BRIDGE_MARK] = AHEAD_KEEP,
    [PG_BRIDGE_DONE] = AHEAD_KEEP,
    [PG_BRIDGE_RETRY] = AHEAD_KEEP,
    [PG_DATA_PUT] = AHEAD_KEEP,
    [PG_DATA_DEL] = AHEAD_KEEP,
    [PG_ROOM_JOIN] = AHEAD_KEEP,
    [PG_ROOM_LEAVE] = AHEAD_KEEP,
    [PG_ROOM_LEAVE_ALL] = AHEAD_KEEP,
    [PG_ACK_PUT] = AHEAD_KEEP,
    [PG_ACK_TAKE] = AHEAD_KEEP,
    [PG_COUNTER_ADD] = AHEAD_KEEP,
    [PG_HELLO_SENT] = AHEAD_KEEP, /* hello is not read ahead */
    /* writes of one session, $1 */
    [PG_TOUCH] = AHEAD_MENDED,
    [PG_ATTACH] = AHEAD_MENDED,
    [PG_FORGET] = AHEAD_KEEP, /* gone is not read ahead */
    [PG_END] = AHEAD_MENDED,
    [PG_PURGE] = AHEAD_DROP_SID,
    [PG_PUT] = AHEAD_MENDED,
    [PG_PUT_ONE] = AHEAD_MENDED,
    [PG_BCAST] = AHEAD_MENDED, /* each recipient's queue */
    [PG_TAKE] = AHEAD_DROP_SID,
    [PG_TAKE_PAGE] = AHEAD_DROP_SID,
    [PG_UNTAKE] = AHEAD_DROP_SID,
    [PG_DROP_BAD] = AHEAD_DROP_SID,
    [PG_TAKEN_DEL] = AHEAD_MENDED,
    [PG_DETACH] = AHEAD_DROP(4),
    [PG_TAKEN_DEL_DETACH] = AHEAD_DROP(4),
    [PG_TAKEN_RELEASE] = AHEAD_DROP_SID,
    [PG_DEL] = AHEAD_DROP_SID,
    [PG_EP_ADD] = AHEAD_DROP_SID,
    [PG_EP_DEL] = AHEAD_DROP_SID,
    [PG_ACK_NEXT] = AHEAD_DROP_SID,
};

const char PG_AHEAD_PEND[] = "prelude";

/* Forgets the entries, and a prelude not sent yet: a read, it may go. */
void
pg_ahead_clear(struct sio_store *st)
{
	struct pg_conn *q = PGC(st);
	int k = 0;

	q->nahead = 0;
	if (!q->ahead_pend)
		return;
	while (k < q->npend && q->pend[k] != PG_AHEAD_PEND)
		k++;
	if (k < q->npend) {
		memmove(&q->pend[k], &q->pend[k + 1],
		        (size_t)(q->npend - k - 1) * sizeof(*q->pend));
		q->npend--;
	}
	q->ahead_pend = 0;
}

void
pg_ahead_free(struct sio_store *st)
{
	pg_ahead_clear(st);
	free(PGC(st)->ahead);
	free(PGC(st)->ahead_eps);
	free(PGC(st)->ahead_list);
	PGC(st)->ahead = NULL;
	PGC(st)->ahead_eps = NULL;
	PGC(st)->ahead_list = NULL;
}

static int
ahead_cmp(const void *key, const void *elt)
{
	return strcmp(key, ((const struct pg_ahead *)elt)->sid);
}

/* The entry of sid as the rows read last show it. */
static struct pg_ahead *
ahead_lookup(struct pg_conn *q, const char *sid)
{
	struct pg_ahead *a;

	if (q->nahead == 0 || sid == NULL)
		return NULL;
	a = bsearch(sid, q->ahead, (size_t)q->nahead, sizeof(*q->ahead),
	            ahead_cmp);
	return a != NULL && !a->dropped ? a : NULL;
}

/* A read asks: a prelude still deferred is sent now (it failing, the
 * read asks the server itself, and fails as the transaction did). */
const struct pg_ahead *
pg_ahead_find(struct sio_store *st, const char *sid)
{
	if (PGC(st)->ahead_pend && sid != NULL && pg_flush(st) != SIO_OK) {
		pg_ahead_clear(st);
		return NULL;
	}
	return ahead_lookup(PGC(st), sid);
}

void
pg_ahead_forget(struct sio_store *st, int id, int n, const char *types,
                const char *const *val)
{
	int k = id >= 0 ? ahead_keeps[id] : AHEAD_NONE;
	struct pg_ahead *a;

	if (PGC(st)->nahead == 0 || k == AHEAD_KEEP || k == AHEAD_MENDED)
		return;
	if (k == AHEAD_NONE || k > n || types[k - 1] != 't') {
		pg_ahead_clear(st);
		return;
	}
	if ((a = ahead_lookup(PGC(st), val[k - 1])) != NULL)
		a->dropped = 1;
}

struct pg_ahead *
pg_ahead_mend(struct sio_store *st, const char *sid)
{
	return ahead_lookup(PGC(st), sid);
}

int
pg_ahead_endpoint(struct sio_store *st, const struct pg_ahead *a,
                  const char *endpoint)
{
	const char *e;

	if (a->neps == 0)
		return 0;
	e = PGC(st)->ahead_eps + a->eps;
	for (size_t i = 0; i < a->neps; i++, e += strlen(e) + 1)
		if (strcmp(e, endpoint) == 0)
			return 1;
	return 0;
}

/* A session id as the store writes them (base64url): anything else is
 * not read ahead, and its reads go to the server as before. */
static int
ahead_sid_ok(const char *sid)
{
	size_t n = strspn(sid, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                       "abcdefghijklmnopqrstuvwxyz0123456789-_");

	return n > 0 && n <= SIO_SID_LEN && sid[n] == '\0';
}

/* Copies the endpoints of column 6 ("5:/chat0:") to q->ahead_eps at
 * *off, each NUL-terminated, counting them in a->neps; SIO_ERR when the
 * column is not what PG_PRELUDE makes. */
static int
ahead_endpoints(struct pg_conn *q, struct pg_ahead *a, const char *t,
                size_t *off)
{
	while (*t != '\0') {
		char *end;
		unsigned long len = strtoul(t, &end, 10);

		if (end == t || *end != ':' || strnlen(end + 1, len) < len)
			return SIO_ERR;
		memcpy(q->ahead_eps + *off, end + 1, len);
		q->ahead_eps[*off + len] = '\0';
		*off += len + 1;
		a->neps++;
		t = end + 1 + len;
	}
	return SIO_OK;
}

/* The rows of r into q->ahead, one entry a session; with eps, their
 * endpoints too. */
int
pg_ahead_fill(struct sio_store *st, const PGresult *r)
{
	struct pg_conn *q = PGC(st);
	int rows = PQntuples(r), n = 0, eps = q->ahead_id == PG_PRELUDE_EPS;
	size_t need = 0, off = 0;

	if (rows <= 0)
		return SIO_OK;
	/* each endpoint's NUL fits in the place of its ':' */
	for (int i = 0; i < rows; i++)
		need += pg_null(r, i, 6) ? 0 : strlen(pg_text(r, i, 6));
	if ((size_t)rows > q->ahead_cap) {
		struct pg_ahead *v =
		    realloc(q->ahead, (size_t)rows * sizeof(*v));

		if (v == NULL)
			return sio_store_fail(st, "out of memory");
		q->ahead = v;
		q->ahead_cap = (size_t)rows;
	}
	if (need > q->ahead_eps_cap) {
		char *v = realloc(q->ahead_eps, need);

		if (v == NULL)
			return sio_store_fail(st, "out of memory");
		q->ahead_eps = v;
		q->ahead_eps_cap = need;
	}
	for (int i = 0; i < rows; i++) {
		struct pg_ahead *a = &q->ahead[n];
		const char *h = pg_text(r, i, 2);

		/* a sid asked twice (two connections of one session): one
		 * entry, the one bsearch() finds */
		if (n > 0 && strcmp(q->ahead[n - 1].sid, pg_text(r, i, 0)) == 0)
			continue;
		n++;
		memset(a, 0, sizeof(*a));
		sio_buf_copy(a->sid, sizeof(a->sid), pg_text(r, i, 0));
		a->state = pg_state(r, i, 1);
		a->held = h != NULL;
		sio_buf_copy(a->holder, sizeof(a->holder), h ? h : "");
		a->queued = pg_int(r, i, 3);
		a->conn = pg_int(r, i, 4);
		a->has_conn = !pg_null(r, i, 4);
		a->last_recv = pg_int(r, i, 5);
		a->eps = off;
		a->has_eps = eps;
		if (!pg_null(r, i, 6) &&
		    ahead_endpoints(q, a, pg_text(r, i, 6), &off) != SIO_OK)
			return sio_store_fail(st, "prelude: bad endpoints");
	}
	q->nahead = n;
	return SIO_OK;
}

/*
 * The list is sent with the transaction's next round trip: with the
 * statement that follows, or alone when a read asks for an entry first
 * (pg_ahead_find()). Its rows are what the sessions were before that
 * statement ran: pg_vexec() forgets what the statement wrote once they
 * are in.
 */
int
pg_prelude(struct sio_store *st, const char *const *sids, int n, int endpoints)
{
	struct pg_conn *q = PGC(st);
	struct sio_buf list;
	int rc = SIO_OK, any = 0;

	pg_ahead_clear(st);
	if (!q->in_tx)
		return SIO_OK; /* others commit between two statements */
	sio_buf_init(&list);
	if (sio_buf_putc(&list, '{') != SIO_OK)
		rc = SIO_ERR;
	for (int i = 0; rc == SIO_OK && i < n && i < AHEAD_MAX; i++) {
		if (!ahead_sid_ok(sids[i]))
			continue;
		if ((any && sio_buf_putc(&list, ',') != SIO_OK) ||
		    sio_buf_puts(&list, sids[i]) != SIO_OK)
			rc = SIO_ERR;
		any = 1;
	}
	if (rc == SIO_OK && any && sio_buf_puts(&list, "}") == SIO_OK) {
		free(q->ahead_list);
		q->ahead_list = sio_buf_steal(&list);
		rc = pg_defer_prelude(st,
		                      endpoints ? PG_PRELUDE_EPS : PG_PRELUDE);
	}
	sio_buf_cleanup(&list);
	if (rc != SIO_OK)
		pg_ahead_clear(st);
	return rc;
}
