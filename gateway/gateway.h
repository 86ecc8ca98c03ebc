/*
 * gateway.h: the parts of sio-gateway, the FastCGI/CGI program that serves
 * the handshake and the polling transports. main.c owns the one server
 * struct and the threads, fcgi.c is the only user of libfcgi (one request's
 * parameters, body and output), wait.c parks a request until its session
 * is rung, park.c admits the requests that wait, write.c runs the
 * process's write transactions, pool.c holds the store connections the
 * requests share, route.c turns REQUEST_URI into a route and serve.c
 * answers it (with respond.c, outbox.c, poll.c, stream.c, post.c,
 * handshake.c, stats.c and publish.c, which share serve.h); static.c serves
 * socket.io-client's files.
 */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <pthread.h>
#include <stddef.h>

#include "log.h"
#include "config.h"
#include "session.h"

struct sio_bridge;

/* --- main.c ----------------------------------------------------------- */

/* What every thread shares; set up before the first thread starts. */
struct gw_server {
	/* The configuration, never changed once published: a reload
	 * (SIGHUP) publishes a new one, and a request reads the one it
	 * started with (old ones are kept: a thread may still hold one). */
	const struct sio_config *_Atomic cfg;
	const struct sio_plugin *plugin;
	/* "gw-<pid>-<8 hex>": doorbell and holder name of this incarnation
	 * (sio_store_process_new). A fence moves the process to a new one;
	 * an old name is never freed, as a thread may still be passing it
	 * to the store. */
	const char *_Atomic holder;
	struct sio_doorbell *bell;      /* the dispatcher's (main.c) */
	struct sio_store_listener *far; /* rings from other hosts (main.c) */
	/* app = bridge: the bridge's dispatcher (its own thread, or the CGI
	 * request's end), kicked by every store connection's commits */
	struct sio_bridge *bridge;
};

/* --- bridge.c: app = bridge ---------------------------------------------- */

struct sio_store;

/* FastCGI: the bridge's dispatcher, on a store connection and in a
 * thread of its own. SIO_OK (nothing to do for another app) or SIO_ERR
 * (logged). */
int gw_bridge_start(void);

/* Every store connection the gateway opens: its commits kick the
 * dispatcher (FastCGI) or are noted for the sender (CGI). */
void gw_bridge_hook(struct sio_store *st);

/* CGI, after the response, on the request's store st (conf: the -c
 * argument or NULL): when events wait for the application, starts the
 * sender (sio-gateway --bridge-send) in a session of its own. */
void gw_bridge_drain(struct sio_store *st, const char *conf);

/* sio-gateway --bridge-send: sends the events of the sessions named in
 * SIOGATE_BRIDGE_SIDS, then what the scan finds, for a bounded time.
 * Returns the exit status. */
int gw_bridge_send(void);

extern struct gw_server gw;

/* One line to the log (the `log` setting) when level is enabled, control
 * characters escaped: "sio-gateway[pid]: <level>: ...". */
void gw_log(enum sio_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* As gw_log(), but a line of this kind (one rl each, zeroed static) is
 * written at most SIO_LOG_BURST times per SIO_LOG_INTERVAL_MS; the next
 * line written says how many were dropped. */
void gw_log_limited(struct sio_ratelimit *rl, enum sio_log_level level,
                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A fresh connection number for sio_session_attach(), unique per process. */
long long gw_conn_next(void);

/* --- pool.c: store connections ------------------------------------------ */

/* Opens a store connection with the configured options for role, logging
 * failure. */
struct sio_store *gw_store_open(enum sio_store_role role);
/*
 * The requests' store connections, shared: a request takes one when it
 * first reads (its writes run on the writer's) and gives it back before
 * it sleeps and when it ends (a parked long poll holds none), so that a
 * thousand parked polls cost a thousand threads and a few connections,
 * not a thousand connections (each some hundred KiB: its prepared
 * statements and page cache). take opens one when none is free; NULL when
 * that fails (logged).
 */
struct sio_store *gw_store_take(void);
void gw_store_give(struct sio_store *st);
/* Closes the pool's free connections that stayed unused a while (the
 * ticker, once a second; now on the boot clock, sio_session_mono()). */
void gw_pool_trim(long long now);

/* --- fcgi.c: one request ---------------------------------------------- */

struct gw_req;

/* A request parameter (CGI variable), NULL when absent; borrowed until the
 * request finishes. */
const char *gw_req_param(struct gw_req *r, const char *name);
/* The client's address: REMOTE_ADDR as the web server gives it
 * ("::ffff:a.b.c.d" as "a.b.c.d"), "" when absent; what bind_address,
 * stats_allow and the session caps compare. Borrowed until the request
 * finishes. */
const char *gw_req_client(struct gw_req *r);
/* gw_req_read()'s result besides a count and siogate.h's codes. */
enum gw_result {
	GW_LATE = -102, /* the body missed its deadline */
};
/* Reads up to n body bytes: the count, 0 at the end, -1 on error,
 * GW_LATE once the body has missed its deadline (body_timeout from the
 * request's start; not as CGI, where the web server times its CGI). */
long gw_req_read(struct gw_req *r, char *buf, size_t n);
/* Queues output bytes. SIO_OK or SIO_ERR (the client went away). */
int gw_req_write(struct gw_req *r, const char *buf, size_t n);
/* Sends what was queued to the web server. SIO_OK or SIO_ERR. */
int gw_req_flush(struct gw_req *r);
/* Sends what was queued and ends the response (the web server completes
 * it at once); nothing may be written after. SIO_OK or SIO_ERR. */
int gw_req_end(struct gw_req *r);
/* After gw_req_end(): waits, up to timeout_ms, until the web server has
 * taken the whole response and let the connection go, so that what is
 * written next to another request reaches the client after it. */
void gw_req_wait_taken(struct gw_req *r, int timeout_ms);
/* A descriptor that becomes readable when the web server drops the
 * request (client abort), or -1 when there is none to watch. */
int gw_req_abort_fd(struct gw_req *r);

/*
 * Runs a worker: accepts FastCGI requests on lsock and serves them until
 * accepting fails. Returns when it does.
 */
void gw_fcgi_worker(int lsock);
/* Serves the single CGI request of this process from the environment and
 * stdin/stdout (conf: the configuration's -c argument, or NULL). Returns
 * the exit status. */
int gw_fcgi_cgi(const char *conf);
/* As CGI, serves the request when it is for a client file (static.c),
 * which needs no store: before the process registers. 1 when served. */
int gw_fcgi_cgi_static(void);
/* Initialises libfcgi; 1 when the process was started as CGI. */
int gw_fcgi_is_cgi(void);
/* Opens the standalone listener spec (sio_listen_parse(): HOST:PORT,
 * [V6]:PORT, :PORT, PORT or a UNIX path, bound with mode 0660): its
 * descriptor, or -1 with the reason in err. */
int gw_fcgi_listen(const char *spec, char *err);

/* --- wait.c: parking a request until its session is rung ---------------- */

struct gw_waiter;

/* gw_wait_for(): another thread answered the request (gw_wait_claim). */
#define GW_WAIT_ANSWERED 2

/* The calling thread's waiter (created on first use); NULL on failure. */
struct gw_waiter *gw_wait_self(void);
/* Registers w as waiting for sid; rings that arrive from now on count. */
void gw_wait_begin(struct gw_waiter *w, const char *sid);
/* Lets other threads answer w's long poll while it sleeps: conn is the
 * poll's holder connection, udata (borrowed) what they answer with. */
void gw_wait_park(struct gw_waiter *w, long long conn, void *udata);
/* Forgets rings received so far (call before looking at the store). */
void gw_wait_clear(struct gw_waiter *w);
/*
 * Waits until w is rung, abort_fd (may be -1) becomes readable or timeout_ms
 * (-1: forever) pass. Returns 1 rung, 0 timed out, SIO_ERR aborted,
 * GW_WAIT_ANSWERED when another thread answered the request meanwhile.
 */
int gw_wait_for(struct gw_waiter *w, int abort_fd, long long timeout_ms);
/* Unregisters w. */
void gw_wait_end(struct gw_waiter *w);
/* Wakes the waiters of sid (NULL: all of them). */
void gw_wait_ring(const char *sid);
/*
 * Claims a parked long poll of sid on connection *conn (any when *conn is
 * negative: then set): its thread stays off the request until
 * gw_wait_answer(). Returns the waiter, its udata in *udata, or NULL when
 * none is parked.
 */
struct gw_waiter *gw_wait_claim(const char *sid, long long *conn, void **udata);
/* Ends a claim: answered, or handed back to its thread, which is rung. */
void gw_wait_answer(struct gw_waiter *w, int answered);

/* --- park.c: how many requests of an address, and waiting ones -------- */

/* How many waiting requests (long polls, htmlfile streams) the threads
 * take at once: threads less reserved_threads. */
int gw_park_max(void);
/*
 * A request from addr (the client address; NULL counts as "") begins:
 * SIO_OK, and the caller ends it with gw_park_end(addr); SIO_FULL when
 * addr has max_requests_per_address (at most gw_park_max()) in progress
 * that do not wait; SIO_ERR out of memory.
 */
int gw_park_begin(const char *addr);
void gw_park_end(const char *addr);
/*
 * A begun request from addr is about to wait: SIO_OK, and the caller gives
 * the place back with gw_park_leave(addr) before it answers; SIO_FULL
 * when addr has max_polls_per_address waiting already; SIO_ERR when
 * gw_park_max() are. *parked (may be NULL) is then the number waiting in
 * the process.
 */
int gw_park_enter(const char *addr, int *parked);
void gw_park_leave(const char *addr);

/* --- write.c: the process's write transactions -------------------------- */

/*
 * One write of a request for gw_write_run(): fn runs inside a transaction
 * of the writer wx, in a savepoint of its own, on whichever thread leads
 * the batch; it returns SIO_ERR to undo its part (and logs why: the
 * store's message is gone once the batch goes on), anything else to keep
 * it. Embed it in a struct of the write's own arguments.
 */
struct gw_write {
	int (*fn)(struct sio_session_ctx *wx, struct gw_write *w);
	/* the session whose row fn reads (NULL: none), read with those of
	 * the batch's other writes in one statement before they run
	 * (sio_store_prelude(), without endpoints) */
	const char *sid;
	int rc; /* fn's result, SIO_ERR when the batch failed to commit */
	/* gw_write_run()'s */
	struct gw_write *next;
	int state, posted;
	pthread_cond_t cond;
};

/* Opens the writer (threaded modes; without it, x writes). SIO_OK or
 * SIO_ERR (logged). */
int gw_write_open(void);
/* Whether the writer is open: then writes do not use the request's own
 * store connection. */
int gw_write_threaded(void);
/*
 * Runs w in the next batch of writes and returns once it is committed
 * (or not): w->rc. The doorbells of this process's own sessions rung by
 * the batch wake their waiters in process after the commit.
 */
int gw_write_run(struct sio_session_ctx *x, struct gw_write *w);
/* Runs w (malloc()ed; freed once run) in the batch after the one running,
 * without waiting for it; when none is running, now. */
void gw_write_post(struct sio_session_ctx *x, struct gw_write *w);
/*
 * The writer alone, for what opens a transaction itself (handshake,
 * session end, sweep): returns the context to use (x as CGI) until
 * gw_write_unlock().
 */
struct sio_session_ctx *gw_write_lock(struct sio_session_ctx *x);
/* Renews this process's lease at once, on the writer (main.c): a request
 * found the process reaped (sio_store_fenced()), and the renewal fences
 * it, moving gw.holder to a new name. */
void gw_lease_now(struct sio_session_ctx *x);
void gw_write_unlock(struct sio_session_ctx *wx);
/* Adds the counters the writer keeps in memory (the store's direct path)
 * to the database, once a second (now 0: at once). */
void gw_write_flush(long long now);

/* --- route.c ------------------------------------------------------------ */

enum gw_route_kind {
	GW_ROUTE_NOT_FOUND = 0,
	GW_ROUTE_BAD_PROTOCOL,
	GW_ROUTE_HANDSHAKE,
	GW_ROUTE_TRANSPORT,  /* transport and sid set */
	GW_ROUTE_DISCONNECT, /* sid set; ?disconnect on a sid URL */
	GW_ROUTE_STATS,      /* /<resource>/stats: counters as JSON */
	GW_ROUTE_METRICS,    /* /<resource>/metrics: Prometheus text */
	GW_ROUTE_STATIC,     /* socket.io-client's files: file, versioned */
	GW_ROUTE_HEALTH,     /* /<resource>/health: 200 "ok" */
	GW_ROUTE_PUBLISH,    /* /<resource>/publish: actions from outside */
};

/* The files socket.io 0.9 serves under its resource (static.c). */
enum gw_static_file {
	GW_STATIC_JS,           /* socket.io.js, socket.io.vX.Y.Z.js */
	GW_STATIC_MIN_JS,       /* socket.io.min.js */
	GW_STATIC_SWF,          /* static/flashsocket/WebSocketMain.swf */
	GW_STATIC_SWF_INSECURE, /* .../WebSocketMainInsecure.swf */
	GW_STATIC_COUNT
};

struct gw_route {
	enum gw_route_kind kind;
	int transport; /* enum sio_transport, -1 for none */
	char sid[SIO_SID_LEN + 1];
	const char *query; /* into the URI, "" when none */
	/* GW_ROUTE_STATIC: an enum gw_static_file, or -1 for a custom build
	 * (socket.io+<transports>.js), which is not served */
	int file;
	int versioned; /* the name carries a version: cacheable for good */
};

/* Parses uri for resource; fills rt. Pure. */
void gw_route_parse(const char *uri, const char *resource, struct gw_route *rt);

/* --- serve.c ------------------------------------------------------------ */

/* Answers one request. x is the thread's session context. */
void gw_serve(struct gw_req *r, struct sio_session_ctx *x);
/* Answers a request gw_park_begin() refused (rc) with 503. */
void gw_serve_refused(struct gw_req *r, struct sio_session_ctx *x, int rc);

/* --- static.c: socket.io-client's files --------------------------------- */

/*
 * Answers a GW_ROUTE_STATIC request (GET or HEAD) with rt->file from the
 * configured client_dir, as socket.io 0.9 does: ETag and If-None-Match
 * (304), the build-time gzip file when Accept-Encoding takes it. Each file
 * is read on first use and kept for the life of the process.
 */
void gw_static_serve(struct gw_req *r, const struct gw_route *rt,
                     const char *method);

#endif
