/*
 * siogate.h: the one header a siogate application includes. It declares the
 * result codes and limits shared by every module, the application structure
 * (one struct sio_app per endpoint, gathered in a struct sio_plugin), the
 * request accessors and everything a callback may do with its connection:
 * send, emit, acks, per-session data, rooms, broadcast and close. Callbacks
 * run in whichever process received the packet (on_close of a timed-out
 * session in the one that sweeps: sio-wsd, sio-gateway, a CGI request or
 * sioctl; docs/api.md), with no store lock held: what a callback reads may
 * be a moment old, and what it writes lands together (or not at all) once
 * it returns (docs/api.md, "What a handler may assume"). An application
 * keeps its state in the session data and rooms, never in process memory.
 * JSON values are jansson's json_t.
 */
#ifndef SIOGATE_H
#define SIOGATE_H

#include <stddef.h>

#include <jansson.h>

#define SIOGATE_VERSION "0.1.0"
/* 2: a full queue is SIO_FULL (it was SIO_AGAIN) */
#define SIO_API_VERSION 2

/*
 * Result codes, everywhere in siogate: store, engine, transports and this
 * API. Each function says which of them it returns; a caller tests for the
 * specific code. sio_strerror() names one for logs. A module's private
 * results (the engine's SESSION_ENDED, the gateway's SERVE_ANSWERED) are
 * members of its own enum, at 100 and beyond of either sign: never one of
 * these.
 */
#define SIO_OK 0
#define SIO_ERR (-1)     /* failure; a callback returning it ends the session */
#define SIO_AGAIN (-2)   /* incomplete input: a parser needs more bytes */
#define SIO_ABSENT (-3)  /* no such session, ack, key, file; nothing waiting */
#define SIO_CLOSED (-4)  /* the session has ended */
#define SIO_FULL (-5)    /* a queue or limit is full, a name taken: not done */
#define SIO_TOO_BIG (-6) /* over a size limit */
#define SIO_REJECT                                                             \
	1 /* on_open refuses: 403 at the handshake, 7::/ep:2 on an endpoint */

/* A static name for a result code: "ok", "error", "full"... */
const char *sio_strerror(int rc);

/*
 * Three error channels, each for its own reader:
 * - a char *err buffer of SIO_ERR_LEN bytes that a function taking one
 *   fills when it fails (configuration, listen specs, plugins, the store's
 *   open, the doorbell); callers may pass NULL. Every such message is
 *   written by one setter, sio_err() (common/result.h);
 * - the store's message, sio_store_errmsg(): why the last store call on
 *   that handle failed (or "queue full"), read by the caller that logs;
 * - a session's notes (struct sio_session_ctx's err): what the engine
 *   noticed in a run (a malformed or misdirected packet, a send dropped
 *   over the queue limit), kept with the run and logged by the transport
 *   once its writes are applied.
 */
#define SIO_ERR_LEN 256 /* size of the optional char *err buffers */

/* Limits. Exceeding one is a protocol error with a message, never a cut. */
#define SIO_SID_LEN 22         /* 128 random bits, base64url without padding */
#define SIO_MAX_ENDPOINT 256   /* bytes in an endpoint name */
#define SIO_MAX_EVENT_NAME 256 /* bytes in an event name */
#define SIO_MAX_PACKET (1 << 20)    /* default packet limit, bytes */
#define SIO_MAX_PAYLOAD (4 << 20)   /* default payload (request body) limit */
#define SIO_MAX_PAYLOAD_PACKETS 512 /* default packets per payload */
#define SIO_MAX_QUEUE 1000          /* default packets queued per session */

struct sio_conn; /* a session seen from one endpoint, valid during a callback */
struct sio_request; /* the handshake (or endpoint connect) request */

/*
 * An event handler. args is the event's argument array (borrowed). reply is
 * an empty array the handler may append to; when the client asked for a data
 * ack it is sent back as the ack's arguments. Return SIO_OK, or SIO_ERR to
 * end the whole session.
 */
typedef int (*sio_event_fn)(struct sio_conn *c, json_t *args, json_t *reply);

/*
 * A named ack handler, run when the client acknowledges an event sent with
 * sio_emit_ack(), in whichever process receives the ack. name and args are
 * the event that was sent, ack_args what the client replied (all borrowed).
 */
typedef int (*sio_ack_fn)(struct sio_conn *c, const char *name, json_t *args,
                          json_t *ack_args);

struct sio_event_handler {
	const char *name;
	sio_event_fn fn;
};

struct sio_ack_handler {
	const char *name;
	sio_ack_fn fn;
};

/*
 * One endpoint of an application. Every callback is optional. A message or
 * json packet with no callback, and an event with no handler and no
 * on_event, is dropped with no reply. The reply array of on_message and
 * on_json is sent as the ack's arguments when the client asked for a data
 * ack (`3:<id>+::...`), as for events.
 */
struct sio_app {
	const char
	    *endpoint; /* "" for the root, "/chat" for a multiplexed one */
	/* SIO_OK accepts, SIO_REJECT refuses, SIO_ERR ends the session. */
	int (*on_open)(struct sio_conn *c, const struct sio_request *req);
	int (*on_message)(struct sio_conn *c, const char *msg, size_t len,
	                  json_t *reply);
	int (*on_json)(struct sio_conn *c, json_t *value, json_t *reply);
	/* Events with no entry in events[]; same contract as sio_event_fn. */
	int (*on_event)(struct sio_conn *c, const char *name, json_t *args,
	                json_t *reply);
	void (*on_close)(struct sio_conn *c);
	const struct sio_event_handler *events; /* ends with {NULL, NULL} */
	const struct sio_ack_handler *acks;     /* ends with {NULL, NULL} */
};

/*
 * What an application shared object exports under the symbol "sio_plugin"
 * (SIO_PLUGIN_SYMBOL). apps ends with NULL; the root app ("") is required.
 */
struct sio_plugin {
	int api_version; /* SIO_API_VERSION */
	const char *name;
	const struct sio_app *const *apps;
};

#define SIO_PLUGIN_SYMBOL "sio_plugin"

/* --- the request ------------------------------------------------------ */

/*
 * Query argument, cookie or selected header (case-insensitive name: Host,
 * Origin, Referer, User-Agent, Accept-Language, X-Forwarded-For) of the
 * request. An endpoint's on_open sees its connect query first, then the
 * handshake's. Returns a borrowed string valid during the callback, or
 * NULL when absent.
 */
const char *sio_request_arg(const struct sio_request *req, const char *name);
const char *sio_request_cookie(const struct sio_request *req, const char *name);
const char *sio_request_header(const struct sio_request *req, const char *name);
/* The remote address of the handshake, never NULL (may be ""). */
const char *sio_request_remote(const struct sio_request *req);

/* --- the connection --------------------------------------------------- */

/* The session id and the endpoint ("" for root); borrowed. */
const char *sio_conn_sid(const struct sio_conn *c);
const char *sio_conn_endpoint(const struct sio_conn *c);
/* 1 while handling a packet whose sender asked for a data ack (its reply
 * array will be sent back), else 0. */
int sio_ack_requested(const struct sio_conn *c);

/* The handshake request of the session; borrowed, valid during the callback. */
const struct sio_request *sio_conn_request(struct sio_conn *c);

/*
 * Queue a message (type 3), a JSON message (type 4, value borrowed) or an
 * event (type 5, args borrowed, may be NULL for none) on this endpoint.
 * Return SIO_OK; SIO_FULL when the session's queue is full (the packet is
 * dropped and the transport logs it; returning SIO_FULL from a callback
 * does not end the session); SIO_ERR for a closed session, a store
 * failure, or msg (or an event name) that is not valid UTF-8 (nothing is
 * queued: every transport carries text). Full is decided from the queue
 * as read at the callback's first send plus what it queued since; a
 * queue filled meanwhile by others drops the packet when the callback's
 * writes land (logged).
 */
int sio_send(struct sio_conn *c, const char *msg, size_t len);
int sio_send_json(struct sio_conn *c, json_t *value);
int sio_emit(struct sio_conn *c, const char *name, json_t *args);

/*
 * Emit an event that asks the client for a data ack (`5:<id>+:ep:...`). When
 * the ack arrives the app's ack handler named handler runs, in whichever
 * process receives it. Returns as sio_emit(): SIO_OK; SIO_FULL when the
 * queue is full (dropped, and no ack is awaited); SIO_ERR.
 */
int sio_emit_ack(struct sio_conn *c, const char *handler, const char *name,
                 json_t *args);

/*
 * Like sio_emit(), but dropped (SIO_OK) when no transport is attached to the
 * session, as socket.io 0.9's volatile, however full its queue; SIO_FULL
 * when one is attached and the queue is full.
 */
int sio_emit_volatile(struct sio_conn *c, const char *name, json_t *args);

/*
 * Delay what this callback queues from now on (for every target) by ms
 * milliseconds: those packets are delivered no earlier than that, after
 * what was queued before them. ms 0 ends the delay. SIO_OK or SIO_ERR.
 */
int sio_delay(struct sio_conn *c, long ms);

/*
 * Close this endpoint: on the root this ends the session (on_close for every
 * endpoint, then `0::`); on another endpoint it disconnects only that one
 * (`0::/ep`). The effect happens when the callback returns.
 */
int sio_close(struct sio_conn *c);

/*
 * Per-session data kept in the store. sio_data_get returns a copy the caller
 * frees with free(), or NULL when absent; it sees this callback's own
 * sio_data_set first. sio_data_set with value NULL deletes the key; the
 * write lands when the callback returns.
 */
char *sio_data_get(struct sio_conn *c, const char *key);
int sio_data_set(struct sio_conn *c, const char *key, const char *value);

/* Rooms are per endpoint. Join and leave return SIO_OK or SIO_ERR. */
int sio_join(struct sio_conn *c, const char *room);
int sio_leave(struct sio_conn *c, const char *room);

/*
 * Send to every session connected to this endpoint (room NULL) or to those
 * in a room of this endpoint, excluding the sender when exclude_self is set.
 * All targets get the packet in the same transaction, once the callback
 * returns (dropped if the sender's session ended meanwhile). Return SIO_OK
 * or SIO_ERR (a store failure, or msg not valid UTF-8: nothing is queued).
 */
int sio_broadcast_send(struct sio_conn *c, const char *room, int exclude_self,
                       const char *msg, size_t len);
int sio_broadcast_emit(struct sio_conn *c, const char *room, int exclude_self,
                       const char *name, json_t *args);

/*
 * The server's counters, shared by every process through the store, with
 * the names of /<resource>/stats and stats_view. Sets these members of out,
 * an object:
 *   integers  "active_sessions" (handshaken, not ended), "peak_sessions"
 *             (their peak), "active_connections" (sessions with a transport
 *             attached), "peak_connections" (their peak), "sessions_opened"
 *             (handshakes so far), "connections_opened" (transport attaches
 *             so far), "packets_sent", "packets_received" (packets to and
 *             from clients so far), "queued_packets" (waiting in the
 *             outbox), "time" (milliseconds since the epoch, this
 *             process's clock);
 *   reals     "connections_ps", "packets_sent_ps", "packets_received_ps"
 *             (the growth of those totals per second over the last few
 *             seconds, 0 until the sweep has taken a sample at least 1 s
 *             old).
 * All numbers come from one snapshot of the store. In the root on_open,
 * which runs before the session is stored, sessions_opened counts this
 * session too (read plus one; concurrent handshakes may see the same
 * number). Returns SIO_OK or SIO_ERR (out may then be partly filled).
 */
int sio_stats(struct sio_conn *c, json_t *out);

#endif
