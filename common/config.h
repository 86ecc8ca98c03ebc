/*
 * config.h: the one configuration file read by every siogate program,
 * `key = value` lines with '#' comments. Every key has a default; an
 * unknown key or a bad value is an error naming the file and line.
 */
#ifndef SIO_CONFIG_H
#define SIO_CONFIG_H

#include <stddef.h>

#define SIO_CONFIG_PATH_MAX 1024
#define SIO_CONFIG_ENV "SIOGATE_CONF"

/* The installed directories, from the Makefile (PREFIX, SYSCONFDIR, ...);
 * these fallbacks are its defaults. */
#ifndef SIO_SYSCONFDIR
#define SIO_SYSCONFDIR "/etc/siogate"
#endif
#ifndef SIO_DATADIR
#define SIO_DATADIR "/usr/local/share/siogate"
#endif
#ifndef SIO_PLUGINDIR
#define SIO_PLUGINDIR "/usr/local/lib/siogate"
#endif
#ifndef SIO_LOCALSTATEDIR
#define SIO_LOCALSTATEDIR "/var/lib/siogate"
#endif
#ifndef SIO_RUNSTATEDIR
#define SIO_RUNSTATEDIR "/run/siogate"
#endif
/* The file read when neither -c nor $SIOGATE_CONF names one. */
#define SIO_CONFIG_DEFAULT SIO_SYSCONFDIR "/siogate.conf"

enum sio_transport {
	SIO_TRANSPORT_WEBSOCKET = 0,
	SIO_TRANSPORT_FLASHSOCKET,
	SIO_TRANSPORT_HTMLFILE,
	SIO_TRANSPORT_XHR_POLLING,
	SIO_TRANSPORT_JSONP_POLLING,
	SIO_TRANSPORT_COUNT
};

enum sio_synchronous {
	SIO_SYNC_OFF = 0,
	SIO_SYNC_NORMAL = 1,
	SIO_SYNC_FULL = 2
};

enum sio_log_level {
	SIO_LOG_ERROR = 0,
	SIO_LOG_WARN,
	SIO_LOG_INFO,
	SIO_LOG_DEBUG
};

struct sio_config {
	/* Paths: a relative one in a file is taken from the file's
	 * directory (sio_config_load()). */
	char database[SIO_CONFIG_PATH_MAX]; /* SIO_LOCALSTATEDIR/siogate.db */
	char run_dir[SIO_CONFIG_PATH_MAX];  /* SIO_RUNSTATEDIR */
	/* client_dir = SIO_DATADIR "/client": socket.io-client's files that
	 * the gateway serves under the resource */
	char client_dir[SIO_CONFIG_PATH_MAX];
	int process_lease; /* seconds, 10: a process not renewing is reaped */
	char app[SIO_CONFIG_PATH_MAX]; /* app = testapp (built-in name or .so
	                                  path) */
	char resource[64];             /* resource = socket.io */
	/* transports = websocket,htmlfile,xhr-polling,jsonp-polling
	 * (socket.io 0.9's: flashsocket only when listed) */
	enum sio_transport transports[SIO_TRANSPORT_COUNT];
	int ntransports;
	int heartbeat_interval; /* seconds, 25 */
	int heartbeat_timeout;  /* seconds, 60 */
	int close_timeout;      /* seconds, 60 */
	int polling_duration;   /* seconds, 20 */
	char origins[1024];     /* origins = *:* (space or comma separated
	                           host:port) */
	int bind_address; /* bind_address = no: session bound to its handshake
	                     address */
	char trusted_proxies[512];    /* trusted_proxies = none: peers whose
	                                 X-Forwarded-For names the client */
	int max_sessions;             /* live sessions in the store, 100000 */
	int max_sessions_per_address; /* live sessions of one client, 500 */
	char request_cookies[512];    /* request_cookies = none: cookie names a
	                                 session's stored request keeps; "*" all */
	int flash_policy_port;        /* 10843; 0 disables */
	int max_raw_connections; /* sio-wsd's policy and hixie-76 sockets not
	                            yet in a session, 256 */
	size_t max_packet;       /* bytes, SIO_MAX_PACKET */
	size_t max_buffered;     /* sio-wsd's unfinished messages, all
	                            connections together, bytes, 64M */
	/* ... those of one client address; 0: max_buffered / 8, at least
	 * max_packet (sio_config_buffered_share()) */
	size_t max_buffered_per_address;
	size_t max_payload;      /* bytes, SIO_MAX_PAYLOAD */
	int max_payload_packets; /* SIO_MAX_PAYLOAD_PACKETS */
	int max_queue;           /* packets per session, SIO_MAX_QUEUE */
	enum sio_synchronous synchronous; /* normal */
	int db_group; /* db_shared_group = no: files 0600, else 0660 */
	enum sio_log_level log_level; /* info */
	/* log = stderr: where the programs' lines go: stderr, syslog, or a
	 * file (appended to, reopened on SIGHUP) */
	char log[SIO_CONFIG_PATH_MAX];
	int threads;                  /* gateway worker threads, 64 */
	int database_connections;     /* the gateway's pool; 0: 128 for
	                                 SQLite, 16 for PostgreSQL */
	int reserved_threads;         /* threads no waiting request takes; -1: a
	                                 quarter of threads */
	int max_polls_per_address;    /* waiting requests of one address, 8 */
	int max_requests_per_address; /* other requests of one address in
	                                 progress in the gateway, 8 */
	int body_timeout;   /* seconds a request body may take to arrive, 10 */
	int max_websockets; /* sio-wsd's websocket + flashsocket, 16384 */
	int stats; /* stats = no: GET /<resource>/stats and /metrics served */
	char stats_allow[512]; /* stats_allow = 127.0.0.1 ::1: REMOTE_ADDRs
	                          allowed them (space or comma separated) */
	int publish; /* publish = no: POST /<resource>/publish served */
	char publish_allow[512]; /* publish_allow = 127.0.0.1 ::1: REMOTE_ADDRs
	                            allowed to publish */
	int publish_max_actions; /* actions in one publish request, 100 */
	/* bridge_secret = "": the key of the signatures of publish requests
	 * (and the bridge's), SIO_SECRET_MIN bytes at least when used */
	char bridge_secret[256];
	/* app = bridge (docs/bridge.md): where events go and how */
	char bridge_url[1100];      /* http://HOST[:PORT]/PATH or
	                               http://unix:/PATH.sock:/URLPATH */
	char bridge_endpoints[512]; /* endpoints besides the root, "" */
	unsigned bridge_events;     /* SIO_BRIDGE_EV_ bits forwarded: all */
	int bridge_timeout;         /* seconds a request may take, 10 */
	int bridge_retries;         /* attempts after the first, 3 */
	int bridge_open_wait;       /* bridge_open = wait (1), notify (0) */
	int bridge_on_error;        /* enum sio_bridge_on_error, error */
	int bridge_max_queue;       /* events waiting per session, 1000 */
	int bridge_max_inflight;    /* requests at once per process, 64 */
	size_t bridge_max_response; /* bytes of a response body, 1 MiB */
	char bridge_data[512];      /* data keys copied into events, "" */
};

/* The events the bridge forwards (bridge_events), by type. */
enum sio_bridge_event_type {
	SIO_BRIDGE_OPEN = 0,
	SIO_BRIDGE_CONNECT,
	SIO_BRIDGE_MESSAGE,
	SIO_BRIDGE_JSON,
	SIO_BRIDGE_EVENT,
	SIO_BRIDGE_DISCONNECT,
	SIO_BRIDGE_CLOSE,
	SIO_BRIDGE_NTYPES
};

/* What the bridge does after a request's last failure (bridge_on_error). */
enum sio_bridge_on_error {
	SIO_BRIDGE_ERROR = 0, /* the client gets an error packet */
	SIO_BRIDGE_END,       /* the session ends */
	SIO_BRIDGE_IGNORE     /* logged only */
};

/* The word of an event type ("open", ...); NULL when out of range. */
const char *sio_bridge_type_name(int type);

/* Fills c with the defaults. */
void sio_config_defaults(struct sio_config *c);

/*
 * Reads path into c (which holds the defaults or earlier values). A
 * relative path the file sets (database, run_dir, log, an app with a '/')
 * is made absolute against the file's directory, never the working
 * directory; `app = NAME.so` without a '/' is SIO_PLUGINDIR/NAME.so when
 * that exists, else NAME.so in the file's directory. Returns SIO_OK, or
 * SIO_ERR with "path:line: reason" in err (SIO_ERR_LEN bytes); c may be
 * partly updated on error.
 */
int sio_config_load(struct sio_config *c, const char *path, char *err);

/*
 * Sets one key from its text value, as a line of the file would. SIO_OK, or
 * SIO_ERR with the reason in err ("unknown key 'x'", "bad value ...").
 */
int sio_config_set(struct sio_config *c, const char *key, const char *value,
                   char *err);

/*
 * The file to read: arg (from -c) when not NULL, else $SIOGATE_CONF, else
 * SIO_CONFIG_DEFAULT. Borrowed.
 */
const char *sio_config_path(const char *arg);
/*
 * Fills c with the defaults, then reads sio_config_path(arg) over them;
 * SIO_CONFIG_DEFAULT may be absent (the defaults alone then). SIO_OK, or
 * SIO_ERR with the reason in err, as sio_config_load().
 */
int sio_config_read(struct sio_config *c, const char *arg, char *err);

/* 1 when sio_config_path(arg) is SIO_CONFIG_DEFAULT because neither arg
 * nor $SIOGATE_CONF names a file, else 0. */
int sio_config_path_is_default(const char *arg);

/*
 * Reloading (SIGHUP): copies into next, from cur, the settings a running
 * program cannot change (every key but the live ones: origins, log,
 * log_level, the per-address and session limits, timeouts of requests,
 * stats), so that next keeps them, and writes the names of those that
 * differed, space separated, into kept (size bytes; "" when none).
 * Returns the number of them.
 */
int sio_config_keep_fixed(const struct sio_config *cur, struct sio_config *next,
                          char *kept, size_t size);

/* 1 when key is one sio_config_keep_fixed() lets change, 0 when not. */
int sio_config_key_live(const char *key);

/* Name of a transport ("xhr-polling"); parse returns -1 when unknown. */
const char *sio_config_transport_name(enum sio_transport t);
int sio_config_transport_parse(const char *name);
/* 1 when t is enabled in c. */
int sio_config_transport_enabled(const struct sio_config *c,
                                 enum sio_transport t);
/* 1 when origin (an Origin header value, "http://h:p" or "h:p") is allowed
 * by c->origins ("*:*", "host:*", "*:port", "host:port" entries). */
int sio_config_origin_allowed(const struct sio_config *c, const char *origin);
/* 1 when addr (REMOTE_ADDR) is one of c->stats_allow, compared as text
 * ("::ffff:a.b.c.d" also matches "a.b.c.d"); 0 when not or addr NULL. */
int sio_config_stats_allowed(const struct sio_config *c, const char *addr);
/* The same for c->publish_allow. */
int sio_config_publish_allowed(const struct sio_config *c, const char *addr);

/* The bytes of unfinished messages one client address may hold in
 * sio-wsd: max_buffered_per_address, or when it is 0 (unset) max_buffered
 * / 8, at least max_packet and at most max_buffered. */
size_t sio_config_buffered_share(const struct sio_config *c);

/*
 * The client's address, written to out (size bytes): peer (the immediate
 * peer's address, NULL when unknown), or, when the peer is trusted (one of
 * c->trusted_proxies, or peer_trusted: a UNIX socket only the web server
 * can reach), the last address of fwd[0..fwd_len) (an X-Forwarded-For
 * value, which the proxy appends to) when it is one. "::ffff:a.b.c.d"
 * becomes "a.b.c.d". Returns out; "" when no address is known.
 */
const char *sio_config_client_addr(const struct sio_config *c, const char *peer,
                                   int peer_trusted, const char *fwd,
                                   size_t fwd_len, char *out, size_t size);
/* 1 when name is a cookie c->request_cookies keeps ("*" keeps all). */
int sio_config_cookie_kept(const struct sio_config *c, const char *name,
                           size_t len);

#endif
