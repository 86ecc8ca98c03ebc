/*
 * gateway.h: the parts of sio-gateway, the FastCGI/CGI program that serves
 * the handshake and the polling transports. main.c owns the one server
 * struct and the threads, fcgi.c is the only user of libfcgi (one request's
 * parameters, body and output), wait.c parks a request until its session
 * is rung, route.c turns REQUEST_URI into a route and serve.c answers it.
 */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <stddef.h>

#include "config.h"
#include "session.h"

/* --- main.c ----------------------------------------------------------- */

/* What every thread shares; set up before the first thread starts. */
struct gw_server {
	struct sio_config cfg;
	const struct sio_plugin *plugin;
	char holder[SIO_HOLDER_LEN]; /* "gw-<pid>": doorbell and holder name */
	struct sio_doorbell *bell;
};

extern struct gw_server gw;

/* One line to stderr when level is enabled: "sio-gateway: <level>: ...". */
void gw_log(enum sio_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A fresh connection number for sio_store_attach(), unique per process. */
long long gw_conn_next(void);

/* Opens a store connection with the configured options, logging failure. */
struct sio_store *gw_store_open(void);

/* --- fcgi.c: one request ---------------------------------------------- */

struct gw_req;

/* A request parameter (CGI variable), NULL when absent; borrowed until the
 * request finishes. */
const char *gw_req_param(struct gw_req *r, const char *name);
/* Reads up to n body bytes: the count, 0 at the end, -1 on error. */
long gw_req_read(struct gw_req *r, char *buf, size_t n);
/* Queues output bytes. SIO_OK or SIO_ERR (the client went away). */
int gw_req_write(struct gw_req *r, const char *buf, size_t n);
/* Sends what was queued to the web server. SIO_OK or SIO_ERR. */
int gw_req_flush(struct gw_req *r);
/* A descriptor that becomes readable when the web server drops the
 * request (client abort), or -1 when there is none to watch. */
int gw_req_abort_fd(struct gw_req *r);

/*
 * Runs a worker: accepts FastCGI requests on lsock and serves them until
 * accepting fails. Returns when it does.
 */
void gw_fcgi_worker(int lsock);
/* Serves the single CGI request of this process from the environment and
 * stdin/stdout. Returns the exit status. */
int gw_fcgi_cgi(void);
/* Initialises libfcgi; 1 when the process was started as CGI. */
int gw_fcgi_is_cgi(void);
/* Opens the standalone listener spec ("host:port" or a UNIX path) after
 * checking it can be bound; -1 with the reason in err. */
int gw_fcgi_listen(const char *spec, char *err);

/* --- wait.c: parking a request until its session is rung ---------------- */

struct gw_waiter;

/* The calling thread's waiter (created on first use); NULL on failure. */
struct gw_waiter *gw_wait_self(void);
/* Registers w as waiting for sid; rings that arrive from now on count. */
void gw_wait_begin(struct gw_waiter *w, const char *sid);
/* Forgets rings received so far (call before looking at the store). */
void gw_wait_clear(struct gw_waiter *w);
/*
 * Waits until w is rung, abort_fd (may be -1) becomes readable or timeout_ms
 * (-1: forever) pass. Returns 1 rung, 0 timed out, SIO_ERR aborted.
 */
int gw_wait_for(struct gw_waiter *w, int abort_fd, long long timeout_ms);
/* Unregisters w. */
void gw_wait_end(struct gw_waiter *w);
/* Wakes the waiters of sid (NULL: all of them). */
void gw_wait_ring(const char *sid);

/* --- route.c ------------------------------------------------------------ */

enum gw_route_kind {
	GW_ROUTE_NOT_FOUND = 0,
	GW_ROUTE_BAD_PROTOCOL,
	GW_ROUTE_HANDSHAKE,
	GW_ROUTE_TRANSPORT,  /* transport and sid set */
	GW_ROUTE_DISCONNECT, /* sid set; ?disconnect on a sid URL */
	GW_ROUTE_STATS,      /* /<resource>/stats: counters as JSON */
	GW_ROUTE_METRICS,    /* /<resource>/metrics: Prometheus text */
};

struct gw_route {
	enum gw_route_kind kind;
	int transport; /* enum sio_transport, -1 for none */
	char sid[SIO_SID_LEN + 1];
	const char *query; /* into the URI, "" when none */
};

/* Parses uri for resource; fills rt. Pure. */
void gw_route_parse(const char *uri, const char *resource,
                    struct gw_route *rt);

/* --- serve.c ------------------------------------------------------------ */

/* Answers one request. x is the thread's session context. */
void gw_serve(struct gw_req *r, struct sio_session_ctx *x);

#endif
