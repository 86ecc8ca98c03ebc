/*
 * wsd.h: the parts of sio-wsd, the libwebsockets sidecar that serves the
 * websocket and flashsocket transports over the same store as sio-gateway.
 * main.c owns the one server struct, the lws context and its timers;
 * conn.c is one transport connection of a session, whatever its framing
 * (attach, receive, the next packet to write, detach) plus the table that
 * finds the connections of a sid when its doorbell rings; ws.c is the
 * RFC 6455 protocol callback that drives conn.c. A hixie-76 front (for the
 * Flash client) drives the same conn.c functions from a raw socket, whose
 * listeners accept.c serves within a budget of their own.
 */
#ifndef WSD_WSD_H
#define WSD_WSD_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "config.h"
#include "deliver.h"
#include "payload.h"
#include "session.h"

struct lws;
struct sio_bridge;
struct lws_context;
struct lws_protocols;
struct lws_vhost;

/* --- main.c ----------------------------------------------------------- */

/* What the loop shares; one thread runs everything. */
struct wsd_server {
	struct sio_config cfg;
	const struct sio_plugin *plugin;
	/* "wsd-<pid>-<8 hex>": doorbell and holder name of this incarnation
	 * (sio_store_process_new); a new one after a fence */
	char holder[SIO_HOLDER_LEN];
	struct sio_doorbell *bell;
	struct sio_store_listener *far; /* rings from other hosts */
	struct sio_session_ctx x;       /* the loop's store connection */
	struct sio_bridge *bridge; /* app = bridge: its dispatcher, else NULL */
};

extern struct wsd_server wsd;

/* One line to the log (the `log` setting) when level is enabled, control
 * characters escaped: "sio-wsd[pid]: <level>: ...". */
void wsd_log(enum sio_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* As wsd_log(), but a line of this kind (one rl each, zeroed static) is
 * written at most SIO_LOG_BURST times per SIO_LOG_INTERVAL_MS; the next
 * line written says how many were dropped. */
void wsd_log_limited(struct sio_ratelimit *rl, enum sio_log_level level,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Ends a scheduled callback (lws_sul) that began at t0 (lws_now_usecs()):
 * one that waited long for the store (a database out of reach) wakes the
 * loop, whose next poll lws would otherwise size from the time the
 * callback began, sleeping as long again past every timer due meanwhile
 * (the lease's renewal among them). */
void wsd_sul_done(int64_t t0);

/* --- conn.c: one transport connection of a session ---------------------- */

/* A client address as text (an IPv6 address with a zone fits). */
#define WSD_ADDR_LEN 64

/* The bytes of an unfinished message a connection holds without counting
 * them under max_buffered (wsd_conn_buffer_hold()). */
#define WSD_BUFFER_FREE 4096

/* The engine's runs a batch frees and the next takes again (about 800
 * bytes each; a batch of more sessions allocates the rest). */
#define WSD_KEEP_RUNS 256

struct wsd_conn_addr;

/* What wsd_conn_next() asks the transport to do. */
enum wsd_conn_step {
	WSD_CONN_IDLE = 0, /* nothing to write now; wait for a ring */
	WSD_CONN_WRITE,    /* write the packet, then wsd_conn_written() */
	WSD_CONN_CLOSE,    /* everything was written: close the socket */
};

/*
 * Where a connection is in its life; conn.c moves it, in one function
 * (conn_event()), whose comment is the table of transitions. "Attached":
 * the store may name it the holder of its session, so its close detaches.
 */
enum wsd_conn_state {
	/* zeroed: not opened (the upgrade is under way, or was refused) */
	WSD_STATE_NEW = 0,
	/* opened: the next batch attaches it */
	WSD_STATE_ATTACHING,
	/* attached: takes its session's packets, writes them, reads */
	WSD_STATE_LIVE,
	/* attached, but another transport holds the session now: reads,
	 * writes nothing more (protocol 5.6: it is not closed) */
	WSD_STATE_SUPERSEDED,
	/* attached, its session ended and the final packets are out: closes */
	WSD_STATE_ENDED,
	/* attached: closes at its next writeable callback */
	WSD_STATE_CLOSING,
	/* the session was unknown or closed at the attach: writes `7:::1+0`,
	 * then closes */
	WSD_STATE_GONE,
	/* never attached: closes at its next writeable callback */
	WSD_STATE_DROPPING,
	/* the socket closed; the record of one that was attached waits for
	 * the batch (done or release, packets in, detach) */
	WSD_STATE_CLOSED,
};

/*
 * One connection, kept in the transport's per-connection data (zeroed
 * when it is created). The transport owns the socket; conn.c only asks
 * lws to call the transport back when there is something to write.
 */
struct wsd_conn {
	struct lws *wsi;                /* NULL in a closed record */
	struct wsd_conn *next;          /* in its sid's bucket */
	struct wsd_conn *dnext, *dprev; /* on the dirty list */
	/* its session, transport and holder_conn (d.conn: 0 before open and
	 * once closed), and what the batch took for it */
	struct sio_deliver d;
	enum wsd_conn_state state : 4; /* where it is in its life */
	/* what is written, beside the state */
	unsigned hello_out : 1;  /* the write under way is the `1::` */
	unsigned hello_sent : 1; /* it was written: the batch records it */
	/* what the batch does for it */
	unsigned dirty : 1;     /* on the dirty list */
	unsigned want_take : 1; /* the batch should look for packets */
	unsigned rung : 1;      /* ... and for a delayed one's due time */
	/* why the socket closes, for the transport and the stall check */
	unsigned going_away : 1; /* the server is stopping */
	unsigned killed : 1;     /* stuck: the socket is being dropped */
	/* the RFC 6455 close handshake, ws.c's own */
	unsigned local_close : 1;    /* the transport chose to close it */
	unsigned rx_close : 1;       /* for what the client sent */
	unsigned peer_close : 1;     /* the client started the close */
	unsigned proto_error : 1;    /* lws fails it: close frame, then TCP */
	unsigned nin;                /* complete messages in inq */
	struct sio_session_run *run; /* their run, applied in the batch */
	unsigned ntaken;             /* packets the last take passed (`1::`
	                                too), not yet written and done */
	unsigned nq;                 /* packets in txq not yet written */
	/* Offsets in txq, 32-bit: a take stops before txq would pass 4 GiB
	 * (conn_take_one()); the rest waits for the next take. */
	uint32_t txq_off;     /* the next packet in txq to write */
	uint32_t txq_done;    /* txq is written up to here */
	long long want_since; /* ms, sio_session_mono(): asked to write */
	/* its client address (NULL when closed), and what it holds of an
	 * unfinished message that counts (wsd_conn_buffer_hold()) */
	struct wsd_conn_addr *addr;
	size_t counted;
	struct sio_buf rx;  /* the text message being reassembled */
	struct sio_buf inq; /* messages in, for the batch */
	struct sio_buf txq; /* packets taken, to write in order */
	/* The packet being written is in a buffer of the process's, filled
	 * and written in one writeable callback (wsd_conn_next()): an idle
	 * connection is the memory sio-wsd holds most of. */
};

/*
 * Opens c (on socket wsi) for session sid as transport, from client
 * address addr (wsd_conn_client_addr()); the next batch attaches it,
 * superseding the previous holder, and asks for a writeable callback. An
 * unknown or closed session is not an error: c then writes `7:::1+0` and
 * closes; neither is a failed attach (logged, c closes). SIO_OK.
 */
int wsd_conn_open(struct wsd_conn *c, struct lws *wsi, const char *sid,
                  int transport, const char *addr);

/*
 * The client of wsi, written to out and returned: wsi's peer, or the last
 * address of fwd[0..fwd_len) (its X-Forwarded-For) when the peer is one
 * of trusted_proxies or came through a UNIX socket (the web server); ""
 * when unknown (see sio_config_client_addr()).
 */
const char *wsd_conn_client_addr(struct lws *wsi, const char *fwd,
                                 size_t fwd_len, char out[WSD_ADDR_LEN]);

/*
 * With bind_address, 1 (and a log line) when the client of wsi (as
 * wsd_conn_client_addr() finds it) is not the address session sid's
 * handshake came from. 0 otherwise, and for an unknown session (the attach
 * answers that).
 */
int wsd_conn_bound_elsewhere(struct lws *wsi, const char *sid, const char *fwd,
                             size_t fwd_len);

/*
 * Handles one complete text message from the client: one packet. Logs
 * what the session engine found wrong with it. SIO_OK, SIO_ERR when the
 * store failed (the message is lost; the connection may go on).
 */
int wsd_conn_receive(struct wsd_conn *c, const char *msg, size_t len);

/*
 * Decides what c writes next. On WSD_CONN_WRITE, *out is the headroom
 * bytes, the transport's to fill, then the packet (out->len - headroom
 * bytes), in a buffer shared by every connection: write it before the
 * callback returns. Call at most once per writeable callback, then
 * wsd_conn_written().
 */
enum wsd_conn_step wsd_conn_next(struct wsd_conn *c, size_t headroom,
                                 struct sio_slice *out);

/* Reports whether the packet from wsd_conn_next() reached the socket: it
 * leaves the outbox, or goes back for the next transport. */
void wsd_conn_written(struct wsd_conn *c, int ok);

/*
 * The one teardown: releases what c had taken and not written, detaches
 * it (the session lives on for the close timeout), unlinks it and frees
 * its buffers. Safe on a connection that never opened. reason is logged.
 */
void wsd_conn_close(struct wsd_conn *c, const char *reason);

/* The connections of sid look in the store at the next batch. */
void wsd_conn_ring(const char *sid);

/* Rings the sids of this process that have packets ready: all, or only
 * when someone wrote to the store since the last call (sio_store_watch():
 * a write that rang nobody). */
void wsd_conn_ring_ready(int all);

/*
 * The batch (one transaction per turn of the event loop, see conn.c)
 * runs from a timer of ctx; wsd_conn_init(NULL) stops scheduling it when
 * the context goes, and wsd_conn_flush() runs it now (what the closing
 * of the last sockets left).
 */
void wsd_conn_init(struct lws_context *ctx);
void wsd_conn_flush(void);
/* wsd_conn_flush() until nothing is left (a batch takes CONN_BATCH_MAX),
 * or a batch settles nothing. */
void wsd_conn_flush_all(void);

/* Closes every connection (status going away) from its next writeable
 * callback: the server is stopping. */
void wsd_conn_close_all(void);

/* Number of open connections. */
int wsd_conn_count(void);

/*
 * c now holds n bytes of an unfinished message (a websocket message's
 * fragments, what a flash connection has of a frame). What is over
 * WSD_BUFFER_FREE counts under max_buffered (all connections of the
 * process together) and under the share of c's client address
 * (sio_config_buffered_share()), so that one client cannot hold what
 * everyone needs. SIO_OK; SIO_ERR when more would pass max_buffered,
 * SIO_FULL when it would pass the address's share, with what c counted
 * unchanged: the caller then drops c's bytes, holds 0 and closes it (the
 * others keep going). Holding less always succeeds; wsd_conn_close()
 * holds 0.
 */
int wsd_conn_buffer_hold(struct wsd_conn *c, size_t n);
/* Bytes counted now, all connections together. */
size_t wsd_conn_buffered(void);
/* c's client address, "" when unknown or closed. Borrowed. */
const char *wsd_conn_address(const struct wsd_conn *c);

/*
 * Once a second: idle connections give their buffers back; and a
 * connection that asked for a writeable callback and got none for a
 * while is stuck (the client does not read; the kernel's
 * buffer is full), so it would never see its session end. It is dropped,
 * with a log line, once its session is closed or gone, or after twice
 * the heartbeat timeout (at least 10 s) in any case.
 */
void wsd_conn_check_stalled(void);

/* --- accept.c: the raw listeners' sockets -------------------------------- */

/*
 * Listens on spec ("HOST:PORT", "[IPv6]:PORT", "*:PORT" for every
 * interface, or a UNIX socket path, made mode 0660) and adopts each
 * connection into vh as a raw socket of the protocol named protocol; vh's
 * protocol list must also hold wsd_accept_protocol(). Accepts only while
 * wsd_accept_take() would count one more, and pauses after an accept()
 * error (EMFILE ...). SIO_OK, or SIO_ERR (logged).
 */
int wsd_accept_listen(struct lws_vhost *vh, const char *spec,
                      const char *protocol);

/* The protocol that serves the listening sockets. Borrowed, static. */
const struct lws_protocols *wsd_accept_protocol(void);

/*
 * The raw connections' budget (max_raw_connections): a raw connection
 * that opens takes a place, 1, or gets 0 when there is none (the caller
 * closes it at once); wsd_accept_give() gives the place back when it
 * closes or becomes a session's connection (then under max_websockets).
 */
int wsd_accept_take(void);
void wsd_accept_give(void);
/* Places taken now. */
int wsd_accept_count(void);

/* --- route.c: the upgrade's path ---------------------------------------- */

/*
 * Reads "/<resource>/1/<transport>/<sid>[/]" (a path without its query).
 * Returns the transport (websocket or flashsocket, if enabled) with the
 * sid in sid, or -1. Pure: it reads only path and wsd.cfg.
 */
int wsd_route(const char *path, char sid[SIO_SID_LEN + 1]);
/* 1 when path is "/<resource>/health" (a query may follow), else 0. */
int wsd_route_health(const char *path);

/* --- ws.c: RFC 6455 --------------------------------------------------- */

/* The websocket protocol of the listening vhost; it must come first in the
 * vhost's list (lws binds an upgrade without Sec-WebSocket-Protocol to the
 * first), and it also answers plain HTTP with 404. Borrowed, static. */
const struct lws_protocols *wsd_ws_protocol(void);

/* --- flash.c: hixie-76 and the Flash policy file ----------------------- */

/*
 * Builds the policy XML from the configured origins; call once before the
 * protocols below serve anything. SIO_OK, or SIO_ERR (logged).
 */
int wsd_flash_init(void);

/*
 * The raw-socket protocol of the flash listener (--flash-listen): a
 * connection whose first bytes are `<policy-file-request/>\0` gets the
 * policy XML and a NUL; anything else must be a hixie-76 upgrade on a
 * route of wsd_route() (400, 404 or 403 otherwise), answered with the 101
 * head at once and the digest once key3 arrives, then served through the
 * wsd_conn_* functions with 0x00 <utf8> 0xFF frames. The same protocol is
 * the raw fallback of the websocket listener, which sees only what is not
 * HTTP there (the inline policy request). Borrowed, static.
 */
const struct lws_protocols *wsd_flash_protocol(void);

/* The raw-socket protocol of the policy port: the policy XML (no NUL) to
 * every connection, then a half-close and a drain. Borrowed, static. */
const struct lws_protocols *wsd_policy_protocol(void);

#endif
