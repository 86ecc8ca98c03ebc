/*
 * config.c: reads siogate's one configuration file into a struct sio_config
 * (see config.h). A file is a list of `key = value` lines; each value goes
 * through sio_config_set(), which checks it against the key's type, and the
 * keys that limit one another are checked once the whole file is read. The
 * origin matcher that the gateway and the websocket sidecar apply to a
 * handshake's Origin header lives here too, next to the key it reads.
 * Nothing here logs: every failure is a message in the caller's err.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "result.h"
#include "sign.h"
#include "siogate.h"

/* make install's data directory (the Makefile passes DATADIR). */
#ifndef SIO_DATADIR
#define SIO_DATADIR "/usr/local/share/siogate"
#endif

#define CONFIG_LINE_MAX 4096 /* bytes in a line, not counting its newline */
#define CONFIG_MAX_SECONDS 86400
/* A packet or a request body is held in memory whole, and sio-wsd's send
 * queue counts in 32-bit offsets: 1 GiB, well inside both. */
#define CONFIG_MAX_BYTES (1ULL << 30)
/* A POST sets aside one slice (16 bytes) per packet it may carry before it
 * splits the payload: at most 1 MiB a request. */
#define CONFIG_MAX_PAYLOAD_PACKETS 65536
/* Packets one session may keep queued: past this a session is a leak, and
 * its outbox rows (up to max_packet each) fill the database. */
#define CONFIG_MAX_QUEUE 1000000

enum config_kind {
	CONFIG_PATH,       /* non-empty text, fits the char array */
	CONFIG_RESOURCE,   /* a URL segment, [A-Za-z0-9._-]+ */
	CONFIG_TRANSPORTS, /* comma-separated transport names */
	CONFIG_ORIGINS,    /* host:port patterns */
	CONFIG_INT,        /* decimal int in [min, max] */
	CONFIG_COUNT,      /* positive int, k/m suffix allowed */
	CONFIG_SIZE,       /* positive size_t, k/m suffix allowed */
	CONFIG_BOOL,       /* int, yes/no */
	CONFIG_SYNC,       /* enum sio_synchronous */
	CONFIG_LOG,        /* enum sio_log_level */
	CONFIG_LOGDEST,    /* stderr, syslog or a file path */
	CONFIG_ADDRS,      /* addresses, space or comma separated */
	CONFIG_NAMES,      /* cookie names, space or comma separated */
	CONFIG_SECRET,     /* any text, may be empty; never echoed in errors */
	CONFIG_TEXTS,      /* any text, may be empty */
	CONFIG_URL,        /* an http:// URL (checked by the bridge's parse) */
	CONFIG_EVENTS,     /* bridge event names, space or comma separated */
	CONFIG_ON_ERROR,   /* enum sio_bridge_on_error */
	CONFIG_OPEN        /* wait (1) or notify (0) */
};

struct config_key {
	const char *name;
	enum config_kind kind;
	size_t off;  /* offset of the field in struct sio_config */
	size_t size; /* text kinds: size of the char array */
	unsigned long long min, max; /* number kinds */
};

#define CONFIG_FIELD(f) offsetof(struct sio_config, f)
#define CONFIG_TEXT(f) CONFIG_FIELD(f), sizeof(((struct sio_config *)0)->f)

static const struct config_key config_keys[] = {
    {"database", CONFIG_PATH, CONFIG_TEXT(database), 0, 0},
    {"run_dir", CONFIG_PATH, CONFIG_TEXT(run_dir), 0, 0},
    {"client_dir", CONFIG_PATH, CONFIG_TEXT(client_dir), 0, 0},
    {"process_lease", CONFIG_INT, CONFIG_FIELD(process_lease), 0, 3, 3600},
    {"app", CONFIG_PATH, CONFIG_TEXT(app), 0, 0},
    {"resource", CONFIG_RESOURCE, CONFIG_TEXT(resource), 0, 0},
    {"transports", CONFIG_TRANSPORTS, 0, 0, 0, 0},
    {"heartbeat_interval", CONFIG_INT, CONFIG_FIELD(heartbeat_interval), 0, 1,
     CONFIG_MAX_SECONDS},
    {"heartbeat_timeout", CONFIG_INT, CONFIG_FIELD(heartbeat_timeout), 0, 1,
     CONFIG_MAX_SECONDS},
    {"close_timeout", CONFIG_INT, CONFIG_FIELD(close_timeout), 0, 1,
     CONFIG_MAX_SECONDS},
    {"polling_duration", CONFIG_INT, CONFIG_FIELD(polling_duration), 0, 1,
     CONFIG_MAX_SECONDS},
    {"origins", CONFIG_ORIGINS, CONFIG_TEXT(origins), 0, 0},
    {"bind_address", CONFIG_BOOL, CONFIG_FIELD(bind_address), 0, 0, 0},
    {"trusted_proxies", CONFIG_ADDRS, CONFIG_TEXT(trusted_proxies), 0, 0},
    {"max_sessions", CONFIG_COUNT, CONFIG_FIELD(max_sessions), 0, 1, 1 << 24},
    {"max_sessions_per_address", CONFIG_COUNT,
     CONFIG_FIELD(max_sessions_per_address), 0, 1, 1 << 24},
    {"request_cookies", CONFIG_NAMES, CONFIG_TEXT(request_cookies), 0, 0},
    {"flash_policy_port", CONFIG_INT, CONFIG_FIELD(flash_policy_port), 0, 0,
     65535},
    {"max_raw_connections", CONFIG_INT, CONFIG_FIELD(max_raw_connections), 0, 1,
     65536},
    {"max_packet", CONFIG_SIZE, CONFIG_FIELD(max_packet), 0, 1,
     CONFIG_MAX_BYTES},
    {"max_buffered", CONFIG_SIZE, CONFIG_FIELD(max_buffered), 0, 1,
     CONFIG_MAX_BYTES},
    {"max_buffered_per_address", CONFIG_SIZE,
     CONFIG_FIELD(max_buffered_per_address), 0, 1, CONFIG_MAX_BYTES},
    {"max_payload", CONFIG_SIZE, CONFIG_FIELD(max_payload), 0, 1,
     CONFIG_MAX_BYTES},
    {"max_payload_packets", CONFIG_COUNT, CONFIG_FIELD(max_payload_packets), 0,
     1, CONFIG_MAX_PAYLOAD_PACKETS},
    {"max_queue", CONFIG_COUNT, CONFIG_FIELD(max_queue), 0, 1,
     CONFIG_MAX_QUEUE},
    {"synchronous", CONFIG_SYNC, 0, 0, 0, 0},
    {"db_shared_group", CONFIG_BOOL, CONFIG_FIELD(db_group), 0, 0, 0},
    {"log_level", CONFIG_LOG, 0, 0, 0, 0},
    {"log", CONFIG_LOGDEST, CONFIG_TEXT(log), 0, 0},
    {"threads", CONFIG_INT, CONFIG_FIELD(threads), 0, 1, 4096},
    {"database_connections", CONFIG_INT, CONFIG_FIELD(database_connections), 0,
     1, 1024},
    {"reserved_threads", CONFIG_INT, CONFIG_FIELD(reserved_threads), 0, 0,
     4095},
    {"max_polls_per_address", CONFIG_INT, CONFIG_FIELD(max_polls_per_address),
     0, 1, 4096},
    {"max_requests_per_address", CONFIG_INT,
     CONFIG_FIELD(max_requests_per_address), 0, 1, 4096},
    {"body_timeout", CONFIG_INT, CONFIG_FIELD(body_timeout), 0, 1, 3600},
    {"max_websockets", CONFIG_INT, CONFIG_FIELD(max_websockets), 0, 1, 1 << 24},
    {"stats", CONFIG_BOOL, CONFIG_FIELD(stats), 0, 0, 0},
    {"stats_allow", CONFIG_ADDRS, CONFIG_TEXT(stats_allow), 0, 0},
    {"publish", CONFIG_BOOL, CONFIG_FIELD(publish), 0, 0, 0},
    {"publish_allow", CONFIG_ADDRS, CONFIG_TEXT(publish_allow), 0, 0},
    {"publish_max_actions", CONFIG_COUNT, CONFIG_FIELD(publish_max_actions), 0,
     1, 10000},
    {"bridge_secret", CONFIG_SECRET, CONFIG_TEXT(bridge_secret), 0, 0},
    {"bridge_url", CONFIG_URL, CONFIG_TEXT(bridge_url), 0, 0},
    {"bridge_endpoints", CONFIG_TEXTS, CONFIG_TEXT(bridge_endpoints), 0, 0},
    {"bridge_events", CONFIG_EVENTS, CONFIG_FIELD(bridge_events), 0, 0, 0},
    {"bridge_timeout", CONFIG_INT, CONFIG_FIELD(bridge_timeout), 0, 1, 3600},
    {"bridge_retries", CONFIG_INT, CONFIG_FIELD(bridge_retries), 0, 0, 10},
    {"bridge_open", CONFIG_OPEN, CONFIG_FIELD(bridge_open_wait), 0, 0, 0},
    {"bridge_on_error", CONFIG_ON_ERROR, CONFIG_FIELD(bridge_on_error), 0, 0,
     0},
    {"bridge_max_queue", CONFIG_COUNT, CONFIG_FIELD(bridge_max_queue), 0, 1,
     CONFIG_MAX_QUEUE},
    {"bridge_max_inflight", CONFIG_INT, CONFIG_FIELD(bridge_max_inflight), 0, 1,
     4096},
    {"bridge_max_response", CONFIG_SIZE, CONFIG_FIELD(bridge_max_response), 0,
     1, CONFIG_MAX_BYTES},
    {"bridge_data", CONFIG_TEXTS, CONFIG_TEXT(bridge_data), 0, 0},
    {NULL, 0, 0, 0, 0, 0}};

static const char *const config_bridge_types[SIO_BRIDGE_NTYPES] = {
    "open", "connect", "message", "json", "event", "disconnect", "close"};

static const char *const config_transport_names[SIO_TRANSPORT_COUNT] = {
    "websocket", "flashsocket", "htmlfile", "xhr-polling", "jsonp-polling"};

struct config_word {
	const char *name;
	int value;
};

static const struct config_word config_bools[] = {
    {"yes", 1}, {"no", 0}, {"true", 1}, {"false", 0}, {"on", 1},
    {"off", 0}, {"1", 1},  {"0", 0},    {NULL, 0}};

static const struct config_word config_syncs[] = {{"off", SIO_SYNC_OFF},
                                                  {"normal", SIO_SYNC_NORMAL},
                                                  {"full", SIO_SYNC_FULL},
                                                  {NULL, 0}};

static const struct config_word config_opens[] = {
    {"wait", 1}, {"notify", 0}, {NULL, 0}};

static const struct config_word config_on_errors[] = {
    {"error", SIO_BRIDGE_ERROR},
    {"end", SIO_BRIDGE_END},
    {"ignore", SIO_BRIDGE_IGNORE},
    {NULL, 0}};

static const struct config_word config_levels[] = {{"error", SIO_LOG_ERROR},
                                                   {"warn", SIO_LOG_WARN},
                                                   {"info", SIO_LOG_INFO},
                                                   {"debug", SIO_LOG_DEBUG},
                                                   {NULL, 0}};

void
sio_config_defaults(struct sio_config *c)
{
	int i;

	memset(c, 0, sizeof(*c));
	snprintf(c->database, sizeof(c->database), "%s",
	         SIO_LOCALSTATEDIR "/siogate.db");
	snprintf(c->run_dir, sizeof(c->run_dir), "%s", SIO_RUNSTATEDIR);
	snprintf(c->client_dir, sizeof(c->client_dir), "%s",
	         SIO_DATADIR "/client");
	c->process_lease = 10;
	snprintf(c->app, sizeof(c->app), "%s", "testapp");
	snprintf(c->resource, sizeof(c->resource), "%s", "socket.io");
	/* socket.io 0.9's default: flashsocket (and so its policy port) only
	 * when the operator lists it */
	for (i = 0; i < SIO_TRANSPORT_COUNT; i++)
		if (i != SIO_TRANSPORT_FLASHSOCKET)
			c->transports[c->ntransports++] = (enum sio_transport)i;
	c->heartbeat_interval = 25;
	c->heartbeat_timeout = 60;
	c->close_timeout = 60;
	c->polling_duration = 20;
	snprintf(c->origins, sizeof(c->origins), "%s", "*:*");
	c->bind_address = 0;
	snprintf(c->trusted_proxies, sizeof(c->trusted_proxies), "%s", "none");
	c->max_sessions = 100000;
	c->max_sessions_per_address = 500;
	snprintf(c->request_cookies, sizeof(c->request_cookies), "%s", "none");
	c->flash_policy_port = 10843;
	c->max_raw_connections = 256;
	c->max_packet = SIO_MAX_PACKET;
	c->max_buffered = (size_t)64 << 20;
	c->max_buffered_per_address = 0; /* max_buffered / 8 */
	c->max_payload = SIO_MAX_PAYLOAD;
	c->max_payload_packets = SIO_MAX_PAYLOAD_PACKETS;
	c->max_queue = SIO_MAX_QUEUE;
	c->synchronous = SIO_SYNC_NORMAL;
	c->db_group = 0;
	c->log_level = SIO_LOG_INFO;
	snprintf(c->log, sizeof(c->log), "%s", "stderr");
	c->threads = 64;
	c->database_connections = 0; /* by engine: sio_config_db_connections */
	c->reserved_threads = -1;
	c->max_polls_per_address = 8;
	c->max_requests_per_address = 8;
	c->body_timeout = 10;
	c->max_websockets = 16384;
	c->stats = 0;
	snprintf(c->stats_allow, sizeof(c->stats_allow), "%s", "127.0.0.1 ::1");
	c->publish = 0;
	snprintf(c->publish_allow, sizeof(c->publish_allow), "%s",
	         "127.0.0.1 ::1");
	c->publish_max_actions = 100;
	c->bridge_secret[0] = '\0';
	c->bridge_events = (1u << SIO_BRIDGE_NTYPES) - 1;
	c->bridge_timeout = 10;
	c->bridge_retries = 3;
	c->bridge_on_error = SIO_BRIDGE_ERROR;
	c->bridge_open_wait = 0;
	c->bridge_max_queue = 1000;
	c->bridge_max_inflight = 64;
	c->bridge_max_response = (size_t)1 << 20;
}

const char *
sio_bridge_type_name(int type)
{
	return type >= 0 && type < SIO_BRIDGE_NTYPES ? config_bridge_types[type]
	                                             : NULL;
}

/* bridge_events: words of config_bridge_types, space or comma separated;
 * "none" forwards nothing. */
static int
config_events(unsigned *bits, const char *v, char *err)
{
	unsigned set = 0;
	const char *p = v;

	if (strcmp(v, "none") == 0) {
		*bits = 0;
		return 0;
	}
	while (*p) {
		size_t n;
		int t;

		p += strspn(p, " ,\t");
		if ((n = strcspn(p, " ,\t")) == 0)
			break;
		for (t = 0; t < SIO_BRIDGE_NTYPES; t++)
			if (strlen(config_bridge_types[t]) == n &&
			    strncmp(config_bridge_types[t], p, n) == 0)
				break;
		if (t == SIO_BRIDGE_NTYPES) {
			sio_err(err,
			        "unknown event '%.*s' (open connect message "
			        "json event disconnect close, or none)",
			        (int)(n > 32 ? 32 : n), p);
			return -1;
		}
		set |= 1u << t;
		p += n;
	}
	if (set == 0) {
		sio_err(err, "empty value (none forwards nothing)");
		return -1;
	}
	*bits = set;
	return 0;
}

const char *
sio_config_transport_name(enum sio_transport t)
{
	if ((int)t < 0 || t >= SIO_TRANSPORT_COUNT)
		return NULL;
	return config_transport_names[t];
}

int
sio_config_transport_parse(const char *name)
{
	int i;

	if (name == NULL)
		return -1;
	for (i = 0; i < SIO_TRANSPORT_COUNT; i++)
		if (strcmp(name, config_transport_names[i]) == 0)
			return i;
	return -1;
}

int
sio_config_transport_enabled(const struct sio_config *c, enum sio_transport t)
{
	int i;

	for (i = 0; i < c->ntransports; i++)
		if (c->transports[i] == t)
			return 1;
	return 0;
}

const char *
sio_config_path(const char *arg)
{
	const char *env;

	if (arg != NULL)
		return arg;
	env = getenv(SIO_CONFIG_ENV);
	if (env != NULL && *env != '\0')
		return env;
	return SIO_CONFIG_DEFAULT;
}

int
sio_config_path_is_default(const char *arg)
{
	const char *env = getenv(SIO_CONFIG_ENV);

	return arg == NULL && (env == NULL || *env == '\0');
}

int
sio_config_read(struct sio_config *c, const char *arg, char *err)
{
	const char *path = sio_config_path(arg);

	sio_config_defaults(c);
	/* an installed program runs without a file: the defaults are whole */
	if (sio_config_path_is_default(arg) && access(path, F_OK) != 0 &&
	    errno == ENOENT)
		return SIO_OK;
	return sio_config_load(c, path, err);
}

/* --- values ----------------------------------------------------------- */

/*
 * Decimal digits with an optional k/K/m/M suffix (when suffix is set), at
 * most max. Returns 0, or -1 with the reason in err.
 */
static int
config_number(const char *v, int suffix, unsigned long long max,
              unsigned long long *out, char *err)
{
	unsigned long long n = 0, mult = 1;
	const char *p;

	if (!isdigit((unsigned char)*v)) {
		sio_err(err, "not a number");
		return -1;
	}
	for (p = v; isdigit((unsigned char)*p); p++) {
		if (n > (ULLONG_MAX - (unsigned)(*p - '0')) / 10)
			goto big;
		n = n * 10 + (unsigned)(*p - '0');
	}
	if (suffix && (*p == 'k' || *p == 'K'))
		mult = 1024, p++;
	else if (suffix && (*p == 'm' || *p == 'M'))
		mult = 1024 * 1024, p++;
	if (*p != '\0') {
		sio_err(err, suffix ? "not a size (digits, then k or M)"
		                    : "not a number");
		return -1;
	}
	if (n > max / mult)
		goto big;
	*out = n * mult;
	return 0;
big:
	sio_err(err, "too large (at most %llu)", max);
	return -1;
}

static int
config_word(const struct config_word *w, const char *v, int *out, char *err)
{
	const struct config_word *i;
	size_t len = 0;

	for (i = w; i->name; i++)
		if (strcasecmp(v, i->name) == 0) {
			*out = i->value;
			return 0;
		}
	/* List the accepted words so the message is its own documentation. */
	sio_err(err, "expected ");
	for (i = w; i->name && err != NULL; i++) {
		len = strlen(err);
		snprintf(err + len, SIO_ERR_LEN - len, "%s%s",
		         i == w ? "" : (i[1].name ? ", " : " or "), i->name);
	}
	return -1;
}

static int
config_text(char *dst, size_t size, const char *v, char *err)
{
	size_t len = strlen(v);

	if (len == 0) {
		sio_err(err, "empty value");
		return -1;
	}
	if (len >= size) {
		sio_err(err, "too long (at most %zu bytes)", size - 1);
		return -1;
	}
	memcpy(dst, v, len + 1);
	return 0;
}

static int
config_resource(char *dst, size_t size, const char *v, char *err)
{
	const char *p;

	for (p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p)) {
			sio_err(err, "only letters, digits, '.', '_' and "
			             "'-' are allowed");
			return -1;
		}
	/* A dot segment would be folded away by clients and proxies. */
	if (strcmp(v, ".") == 0 || strcmp(v, "..") == 0) {
		sio_err(err, "not a path segment");
		return -1;
	}
	return config_text(dst, size, v, err);
}

/* Parses the whole list first so that c is unchanged on error. */
static int
config_transports(struct sio_config *c, const char *v, char *err)
{
	enum sio_transport list[SIO_TRANSPORT_COUNT];
	char name[32];
	int n = 0, i, t;
	const char *p = v, *end;
	size_t len;

	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len == 0) {
			sio_err(err, "empty transport name");
			return -1;
		}
		t = -1;
		if (len < sizeof(name)) {
			memcpy(name, p, len);
			name[len] = '\0';
			t = sio_config_transport_parse(name);
		}
		if (t < 0) {
			sio_err(err, "unknown transport '%.*s'",
			        (int)(len < 64 ? len : 64), p);
			return -1;
		}
		for (i = 0; i < n; i++)
			if ((int)list[i] == t) {
				sio_err(err, "duplicate transport '%s'", name);
				return -1;
			}
		list[n++] = (enum sio_transport)t;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	memcpy(c->transports, list, sizeof(list[0]) * (size_t)n);
	c->ntransports = n;
	return 0;
}

/* --- origins ---------------------------------------------------------- */

#define CONFIG_ORIGIN_SEP " \t,"
#define CONFIG_PORT_ANY 0 /* a pattern's '*'; never a real port */

/*
 * "80" -> 80, "*" -> CONFIG_PORT_ANY (when wild), else -1 for anything that
 * is not a port number 1..65535.
 */
static long
config_port(const char *p, size_t len, int wild)
{
	long port = 0;
	size_t i;

	if (wild && len == 1 && *p == '*')
		return CONFIG_PORT_ANY;
	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		port = port * 10 + (p[i] - '0');
	}
	return port >= 1 && port <= 65535 ? port : -1;
}

/*
 * Splits one pattern "host:port" at its last ':' (so "[::1]:80" works).
 * Returns 0 with the host span and port (CONFIG_PORT_ANY for '*'), or -1.
 */
static int
config_pattern(const char *p, size_t len, size_t *hostlen, long *port)
{
	size_t colon = len, i;

	while (colon > 0 && p[colon - 1] != ':')
		colon--;
	if (colon < 2)
		return -1;
	*hostlen = colon - 1;
	*port = config_port(p + colon, len - colon, 1);
	if (*port < 0)
		return -1;
	/* '*' is a whole side, never a glob inside a name. */
	if (*hostlen > 1 && memchr(p, '*', *hostlen) != NULL)
		return -1;
	for (i = 0; i < *hostlen; i++)
		if (p[i] == '/' || p[i] == '@' || (p[i] == ':' && *p != '['))
			return -1;
	return 0;
}

/* Addresses: text of [0-9A-Fa-f.:] words (no names: REMOTE_ADDR is an
 * address); "none" allows no address. */
static int
config_addrs(char *dst, size_t size, const char *v, char *err)
{
	const char *p = v;
	size_t len;

	if (strcmp(v, "none") == 0)
		return config_text(dst, size, v, err);
	for (;;) {
		p += strspn(p, CONFIG_ORIGIN_SEP);
		if (*p == '\0')
			break;
		len = strcspn(p, CONFIG_ORIGIN_SEP);
		if (strspn(p, "0123456789abcdefABCDEF.:") < len) {
			sio_err(err, "'%.*s' is not an IP address",
			        (int)(len < 64 ? len : 64), p);
			return -1;
		}
		p += len;
	}
	return config_text(dst, size, v, err);
}

/* Cookie names: RFC 6265 tokens; "none" keeps none, "*" all. */
static int
config_names(char *dst, size_t size, const char *v, char *err)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
	                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                            "abcdefghijklmnopqrstuvwxyz";
	const char *p = v;
	size_t len;

	for (;;) {
		p += strspn(p, CONFIG_ORIGIN_SEP);
		if (*p == '\0')
			break;
		len = strcspn(p, CONFIG_ORIGIN_SEP);
		if (strspn(p, tchar) < len) {
			sio_err(err, "'%.*s' is not a cookie name",
			        (int)(len < 64 ? len : 64), p);
			return -1;
		}
		p += len;
	}
	return config_text(dst, size, v, err);
}

static int
config_origins(char *dst, size_t size, const char *v, char *err)
{
	const char *p = v;
	size_t len, hostlen;
	long port;
	int n = 0;

	for (;; n++) {
		p += strspn(p, CONFIG_ORIGIN_SEP);
		if (*p == '\0')
			break;
		len = strcspn(p, CONFIG_ORIGIN_SEP);
		if (config_pattern(p, len, &hostlen, &port) < 0) {
			sio_err(err, "'%.*s' is not host:port ('*' for any)",
			        (int)(len < 64 ? len : 64), p);
			return -1;
		}
		p += len;
	}
	if (n == 0) {
		sio_err(err, "no host:port pattern");
		return -1;
	}
	return config_text(dst, size, v, err);
}

/*
 * Splits an Origin header value into host span and port: "http://h:p",
 * "https://h" (443), "h:p", "h" (80). Returns 0, or -1 when malformed.
 */
static int
config_origin_split(const char *o, const char **host, size_t *hostlen,
                    long *port)
{
	const char *s = strstr(o, "://"), *h, *end, *at;
	long def = 80;
	size_t len;

	if (s != NULL) {
		len = (size_t)(s - o);
		if ((len == 5 && strncasecmp(o, "https", 5) == 0) ||
		    (len == 3 && strncasecmp(o, "wss", 3) == 0))
			def = 443;
		o = s + 3;
	}
	end = o + strcspn(o, "/?#");
	at = memchr(o, '@', (size_t)(end - o));
	if (at != NULL)
		o = at + 1;
	h = o;
	if (*h == '[') {
		s = memchr(h, ']', (size_t)(end - h));
		if (s == NULL)
			return -1;
		s++;
	} else {
		s = memchr(h, ':', (size_t)(end - h));
		if (s == NULL)
			s = end;
	}
	*host = h;
	*hostlen = (size_t)(s - h);
	if (*hostlen == 0)
		return -1;
	if (s == end || (*s == ':' && s + 1 == end)) {
		*port = def;
		return 0;
	}
	if (*s != ':')
		return -1;
	*port = config_port(s + 1, (size_t)(end - s - 1), 0);
	return *port < 0 ? -1 : 0;
}

int
sio_config_origin_allowed(const struct sio_config *c, const char *origin)
{
	const char *p = c->origins, *host = NULL;
	size_t len, plen, hostlen = 0;
	long pport, port = 0;
	int ok;

	ok = origin != NULL && *origin != '\0' &&
	     config_origin_split(origin, &host, &hostlen, &port) == 0;
	for (;;) {
		p += strspn(p, CONFIG_ORIGIN_SEP);
		if (*p == '\0')
			return 0;
		len = strcspn(p, CONFIG_ORIGIN_SEP);
		if (len == 3 && memcmp(p, "*:*", 3) == 0)
			return 1;
		if (ok && config_pattern(p, len, &plen, &pport) == 0 &&
		    (pport == CONFIG_PORT_ANY || pport == port) &&
		    ((plen == 1 && *p == '*') ||
		     (plen == hostlen && strncasecmp(p, host, plen) == 0)))
			return 1;
		p += len;
	}
}

/* --- keys and files --------------------------------------------------- */

/* Sets one typed field; c is unchanged on error. */
static int
config_apply(struct sio_config *c, const struct config_key *k, const char *v,
             char *err)
{
	char *field = (char *)c + k->off;
	unsigned long long n;
	int w;

	switch (k->kind) {
	case CONFIG_PATH:
		return config_text(field, k->size, v, err);
	case CONFIG_RESOURCE:
		return config_resource(field, k->size, v, err);
	case CONFIG_TRANSPORTS:
		return config_transports(c, v, err);
	case CONFIG_ORIGINS:
		return config_origins(field, k->size, v, err);
	case CONFIG_INT:
	case CONFIG_COUNT:
	case CONFIG_SIZE:
		if (config_number(v, k->kind != CONFIG_INT, k->max, &n, err) <
		    0)
			return -1;
		if (n < k->min) {
			sio_err(err, "must be at least %llu", k->min);
			return -1;
		}
		if (k->kind == CONFIG_SIZE)
			*(size_t *)(void *)field = (size_t)n;
		else
			*(int *)(void *)field = (int)n;
		return 0;
	case CONFIG_BOOL:
	case CONFIG_ON_ERROR:
	case CONFIG_OPEN: /* a word of the kind's table, into an int */
		if (config_word(k->kind == CONFIG_BOOL   ? config_bools
		                : k->kind == CONFIG_OPEN ? config_opens
		                                         : config_on_errors,
		                v, &w, err) < 0)
			return -1;
		*(int *)(void *)field = w;
		return 0;
	case CONFIG_SYNC:
		if (config_word(config_syncs, v, &w, err) < 0)
			return -1;
		c->synchronous = (enum sio_synchronous)w;
		return 0;
	case CONFIG_LOG:
		if (config_word(config_levels, v, &w, err) < 0)
			return -1;
		c->log_level = (enum sio_log_level)w;
		return 0;
	case CONFIG_LOGDEST:
		/* anything else is a file; "stderr" and "syslog" are words */
		return config_text(field, k->size, v, err);
	case CONFIG_ADDRS:
		return config_addrs(field, k->size, v, err);
	case CONFIG_NAMES:
		return config_names(field, k->size, v, err);
	case CONFIG_SECRET: /* empty: no secret (publish refuses to start) */
	case CONFIG_TEXTS:
		if (strlen(v) >= k->size) {
			sio_err(err, "too long (at most %zu bytes)",
			        k->size - 1);
			return -1;
		}
		memcpy(field, v, strlen(v) + 1);
		return 0;
	case CONFIG_URL:
		if (strncmp(v, "http://", 7) != 0) {
			sio_err(err, "not an http:// URL");
			return -1;
		}
		return config_text(field, k->size, v, err);
	case CONFIG_EVENTS:
		return config_events((unsigned *)(void *)field, v, err);
	}
	return -1;
}

int
sio_config_set(struct sio_config *c, const char *key, const char *value,
               char *err)
{
	const struct config_key *k;
	char why[SIO_ERR_LEN];
	size_t len;

	for (k = config_keys; k->name; k++)
		if (strcmp(k->name, key) == 0)
			break;
	if (k->name == NULL) {
		sio_err(err, "unknown key '%.64s'", key);
		return SIO_ERR;
	}
	if (config_apply(c, k, value, why) == 0)
		return SIO_OK;
	/* a secret stays out of messages, which go to logs */
	if (k->kind == CONFIG_SECRET) {
		sio_err(err, "bad value for %s: %s", k->name, why);
		return SIO_ERR;
	}
	len = strlen(value);
	sio_err(err, "bad value '%.48s%s' for %s: %s", value,
	        len > 48 ? "..." : "", k->name, why);
	return SIO_ERR;
}

/* A '#' starts a comment at the start of a line or after whitespace. */
static int
config_comment(const char *line, const char *p)
{
	return *p == '#' && (p == line || isspace((unsigned char)p[-1]));
}

/*
 * Splits one line (no newline) in place into key and value. Returns 1 for a
 * setting, 0 for a blank or comment line, -1 with the reason in err.
 */
static int
config_split(char *line, char **key, char **value, char *err)
{
	char *p = line, *e;

	while (*p && !config_comment(line, p) && *p != '=')
		p++;
	for (e = line; isspace((unsigned char)*e); e++)
		;
	if (*p != '=') {
		if (e == p)
			return 0; /* blank, or only a comment */
		sio_err(err, "missing '='");
		return -1;
	}
	*key = e;
	for (e = p; e > *key && isspace((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	if (**key == '\0') {
		sio_err(err, "empty key");
		return -1;
	}
	for (p++; isspace((unsigned char)*p); p++)
		;
	if (*p == '"') {
		/* Quotes keep a '#'; there are no escapes inside. */
		*value = ++p;
		e = strchr(p, '"');
		if (e == NULL) {
			sio_err(err, "missing closing '\"'");
			return -1;
		}
		*e++ = '\0';
		while (isspace((unsigned char)*e))
			e++;
		if (*e != '\0' && *e != '#') {
			sio_err(err, "text after closing '\"'");
			return -1;
		}
		return 1;
	}
	*value = p;
	while (*p && !config_comment(line, p))
		p++;
	while (p > *value && isspace((unsigned char)p[-1]))
		p--;
	*p = '\0';
	return 1;
}

/* The keys that bound one another, checked once a whole file is read. */
static int
config_check(const struct sio_config *c, const char *path, char *err)
{
	if (c->heartbeat_interval >= c->heartbeat_timeout) {
		sio_err(err,
		        "%s: heartbeat_interval (%d) must be less than "
		        "heartbeat_timeout (%d)",
		        path, c->heartbeat_interval, c->heartbeat_timeout);
		return SIO_ERR;
	}
	if (c->polling_duration >= c->close_timeout) {
		sio_err(err,
		        "%s: polling_duration (%d) must be less than "
		        "close_timeout (%d)",
		        path, c->polling_duration, c->close_timeout);
		return SIO_ERR;
	}
	if (c->reserved_threads >= c->threads) {
		sio_err(err,
		        "%s: reserved_threads (%d) must be less than threads "
		        "(%d)",
		        path, c->reserved_threads, c->threads);
		return SIO_ERR;
	}
	if (c->max_packet > c->max_payload) {
		sio_err(err,
		        "%s: max_packet (%zu) must not exceed max_payload "
		        "(%zu)",
		        path, c->max_packet, c->max_payload);
		return SIO_ERR;
	}
	if (c->max_buffered < c->max_packet) {
		sio_err(err,
		        "%s: max_buffered (%zu) must be at least max_packet "
		        "(%zu)",
		        path, c->max_buffered, c->max_packet);
		return SIO_ERR;
	}
	if (c->max_buffered_per_address != 0 &&
	    (c->max_buffered_per_address < c->max_packet ||
	     c->max_buffered_per_address > c->max_buffered)) {
		sio_err(err,
		        "%s: max_buffered_per_address (%zu) must be at least "
		        "max_packet (%zu) and at most max_buffered (%zu)",
		        path, c->max_buffered_per_address, c->max_packet,
		        c->max_buffered);
		return SIO_ERR;
	}
	/* a short key is one an attacker can guess offline from a single
	 * signed request */
	if (c->publish && strlen(c->bridge_secret) < SIO_SECRET_MIN) {
		sio_err(err,
		        "%s: publish = yes needs a bridge_secret of at least "
		        "%d bytes (it has %zu)",
		        path, SIO_SECRET_MIN, strlen(c->bridge_secret));
		return SIO_ERR;
	}
	if (strcmp(c->app, "bridge") == 0 &&
	    strlen(c->bridge_secret) < SIO_SECRET_MIN) {
		sio_err(err,
		        "%s: app = bridge needs a bridge_secret of at least "
		        "%d bytes (it has %zu)",
		        path, SIO_SECRET_MIN, strlen(c->bridge_secret));
		return SIO_ERR;
	}
	if (strcmp(c->app, "bridge") == 0 && c->bridge_url[0] == '\0') {
		sio_err(err, "%s: app = bridge needs a bridge_url", path);
		return SIO_ERR;
	}
	return SIO_OK;
}

size_t
sio_config_buffered_share(const struct sio_config *c)
{
	size_t n = c->max_buffered_per_address;

	if (n == 0) {
		n = c->max_buffered / 8;
		if (n < c->max_packet)
			n = c->max_packet;
	}
	return n < c->max_buffered ? n : c->max_buffered;
}

/* Reads the lines of f; the error names path and the line number. */
static int
config_read(struct sio_config *c, FILE *f, const char *path, char *err)
{
	char line[CONFIG_LINE_MAX + 2], why[SIO_ERR_LEN], *key, *value;
	size_t len;
	int lineno = 0, r;

	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			sio_err(err, "%s:%d: line longer than %d bytes", path,
			        lineno, CONFIG_LINE_MAX);
			return SIO_ERR;
		}
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		r = config_split(line, &key, &value, why);
		if (r == 1)
			r = sio_config_set(c, key, value, why) == SIO_OK ? 0
			                                                 : -1;
		if (r < 0) {
			sio_err(err, "%s:%d: %s", path, lineno, why);
			return SIO_ERR;
		}
	}
	if (ferror(f)) {
		sio_err(err, "%s: read error", path);
		return SIO_ERR;
	}
	return SIO_OK;
}

/*
 * Makes the relative path in field (size bytes) dir/field; absolute ones
 * stay. Returns 0, or -1 with the reason in err when it does not fit.
 */
static int
config_resolve(char *field, size_t size, const char *dir, const char *key,
               const char *path, char *err)
{
	char out[SIO_CONFIG_PATH_MAX * 2];

	if (field[0] == '/')
		return 0;
	snprintf(out, sizeof(out), "%s/%s", dir, field);
	if (strlen(out) >= size) {
		sio_err(err,
		        "%s: %s: '%.64s' in %s is too long (at most %zu "
		        "bytes)",
		        path, key, field, dir, size - 1);
		return -1;
	}
	memcpy(field, out, strlen(out) + 1);
	return 0;
}

/* The directory of the file at path, absolute when it can be known. */
static void
config_dir(const char *path, char *dir, size_t size)
{
	char *real = realpath(path, NULL), *slash;

	snprintf(dir, size, "%s", real != NULL ? real : path);
	free(real);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, size, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
}

/*
 * Relative paths in the file name files next to it: a web server or a
 * service manager chooses the working directory, not the operator. An
 * app is a built-in name unless it has a '/' or ends in ".so"; a bare
 * NAME.so is the installed plugin's, then the file's neighbour's.
 */
static int
config_resolve_all(struct sio_config *c, const char *path, char *err)
{
	char dir[SIO_CONFIG_PATH_MAX], so[SIO_CONFIG_PATH_MAX * 2];
	const struct config_key *k;
	size_t len = strlen(c->app);

	config_dir(path, dir, sizeof(dir));
	for (k = config_keys; k->name; k++) {
		char *field = (char *)c + k->off;

		if (k->kind != CONFIG_PATH && k->kind != CONFIG_LOGDEST)
			continue;
		if (k->kind == CONFIG_LOGDEST &&
		    (strcmp(field, "stderr") == 0 ||
		     strcmp(field, "syslog") == 0))
			continue;
		if (field == c->database && strstr(field, "://") != NULL)
			continue; /* a server's URI: postgresql://... */
		if (field == c->app && strchr(c->app, '/') == NULL) {
			if (len < 3 || strcmp(c->app + len - 3, ".so") != 0)
				continue; /* a built-in name */
			snprintf(so, sizeof(so), "%s/%s", SIO_PLUGINDIR,
			         c->app);
			if (access(so, F_OK) == 0 &&
			    strlen(so) < sizeof(c->app)) {
				memcpy(c->app, so, strlen(so) + 1);
				continue;
			}
		}
		if (config_resolve(field, k->size, dir, k->name, path, err) < 0)
			return SIO_ERR;
	}
	return SIO_OK;
}

int
sio_config_load(struct sio_config *c, const char *path, char *err)
{
	FILE *f;
	int r;

	f = fopen(path, "r");
	if (f == NULL) {
		sio_err(err, "%s: %s", path, strerror(errno));
		return SIO_ERR;
	}
	r = config_read(c, f, path, err);
	fclose(f);
	if (r != SIO_OK || (r = config_resolve_all(c, path, err)) != SIO_OK)
		return r;
	return config_check(c, path, err);
}

/* --- reloading -------------------------------------------------------- */

/* What a running program applies at once: read where it is used, by the
 * next handshake or request. Everything else needs a restart. */
static const char *const config_live_keys[] = {"origins",
                                               "log",
                                               "log_level",
                                               "trusted_proxies",
                                               "bind_address",
                                               "request_cookies",
                                               "max_sessions",
                                               "max_sessions_per_address",
                                               "max_queue",
                                               "max_polls_per_address",
                                               "max_requests_per_address",
                                               "body_timeout",
                                               "stats",
                                               "stats_allow",
                                               "publish",
                                               "publish_allow",
                                               "publish_max_actions",
                                               "bridge_secret",
                                               NULL};

int
sio_config_key_live(const char *key)
{
	for (int i = 0; config_live_keys[i]; i++)
		if (strcmp(config_live_keys[i], key) == 0)
			return 1;
	return 0;
}

/* 1 when key k has the same value in a and b. */
static int
config_same(const struct config_key *k, const struct sio_config *a,
            const struct sio_config *b)
{
	switch (k->kind) {
	case CONFIG_TRANSPORTS:
		return a->ntransports == b->ntransports &&
		       memcmp(a->transports, b->transports,
		              sizeof(a->transports[0]) *
		                  (size_t)a->ntransports) == 0;
	case CONFIG_SYNC:
		return a->synchronous == b->synchronous;
	case CONFIG_LOG:
		return a->log_level == b->log_level;
	case CONFIG_INT:
	case CONFIG_COUNT:
	case CONFIG_BOOL:
	case CONFIG_EVENTS:
	case CONFIG_ON_ERROR:
	case CONFIG_OPEN:
		return *(const int *)(const void *)((const char *)a + k->off) ==
		       *(const int *)(const void *)((const char *)b + k->off);
	case CONFIG_SIZE:
		return *(const size_t *)(const void *)((const char *)a +
		                                       k->off) ==
		       *(const size_t *)(const void *)((const char *)b +
		                                       k->off);
	default:
		return strcmp((const char *)a + k->off,
		              (const char *)b + k->off) == 0;
	}
}

/* Copies key k's value from src into dst. */
static void
config_copy(const struct config_key *k, struct sio_config *dst,
            const struct sio_config *src)
{
	switch (k->kind) {
	case CONFIG_TRANSPORTS:
		memcpy(dst->transports, src->transports,
		       sizeof(dst->transports));
		dst->ntransports = src->ntransports;
		return;
	case CONFIG_SYNC:
		dst->synchronous = src->synchronous;
		return;
	case CONFIG_LOG:
		dst->log_level = src->log_level;
		return;
	case CONFIG_INT:
	case CONFIG_COUNT:
	case CONFIG_BOOL:
	case CONFIG_EVENTS:
	case CONFIG_ON_ERROR:
	case CONFIG_OPEN:
		memcpy((char *)dst + k->off, (const char *)src + k->off,
		       sizeof(int));
		return;
	case CONFIG_SIZE:
		memcpy((char *)dst + k->off, (const char *)src + k->off,
		       sizeof(size_t));
		return;
	default:
		memcpy((char *)dst + k->off, (const char *)src + k->off,
		       k->size);
		return;
	}
}

int
sio_config_keep_fixed(const struct sio_config *cur, struct sio_config *next,
                      char *kept, size_t size)
{
	const struct config_key *k;
	size_t len = 0;
	int n = 0;

	if (size > 0)
		kept[0] = '\0';
	for (k = config_keys; k->name; k++) {
		if (sio_config_key_live(k->name) || config_same(k, cur, next))
			continue;
		config_copy(k, next, cur);
		n++;
		if (len < size) {
			int w = snprintf(kept + len, size - len, "%s%s",
			                 len > 0 ? " " : "", k->name);
			len += w > 0 ? (size_t)w : 0;
		}
	}
	return n;
}

/* 1 when the word addr[0..alen) is in list (words compared as text,
 * without case); "*" in list matches any word when star is set. */
static int
config_in_list(const char *list, const char *addr, size_t alen, int star,
               int icase)
{
	const char *p = list;
	size_t len;

	for (;;) {
		p += strspn(p, CONFIG_ORIGIN_SEP);
		if (*p == '\0')
			return 0;
		len = strcspn(p, CONFIG_ORIGIN_SEP);
		if (star && len == 1 && *p == '*')
			return 1;
		if (len == alen && (icase ? strncasecmp(p, addr, len)
		                          : strncmp(p, addr, len)) == 0)
			return 1;
		p += len;
	}
}

/* addr without an IPv4-mapped IPv6 prefix. */
static const char *
config_unmapped(const char *addr)
{
	if (strncasecmp(addr, "::ffff:", 7) == 0 && strchr(addr + 7, '.'))
		return addr + 7;
	return addr;
}

/* 1 when addr (IPv4-mapped IPv6 read as IPv4) is in list, a CONFIG_ADDRS
 * value; an unknown address never is. */
static int
config_addr_allowed(const char *list, const char *addr)
{
	if (addr == NULL || *addr == '\0')
		return 0;
	addr = config_unmapped(addr);
	return config_in_list(list, addr, strlen(addr), 0, 1);
}

int
sio_config_stats_allowed(const struct sio_config *c, const char *addr)
{
	return config_addr_allowed(c->stats_allow, addr);
}

int
sio_config_publish_allowed(const struct sio_config *c, const char *addr)
{
	return config_addr_allowed(c->publish_allow, addr);
}

const char *
sio_config_client_addr(const struct sio_config *c, const char *peer,
                       int peer_trusted, const char *fwd, size_t fwd_len,
                       char *out, size_t size)
{
	const char *a = peer != NULL ? config_unmapped(peer) : "";
	size_t alen = strlen(a);

	if (fwd != NULL && fwd_len > 0 &&
	    (peer_trusted ||
	     (alen > 0 && config_in_list(c->trusted_proxies, a, alen, 0, 1)))) {
		/* the proxy appended the address it saw: the last entry, an
		 * address ([0-9A-Fa-f.:]) or nothing; fwd may not end in NUL */
		const char *e = fwd + fwd_len, *b;
		while (e > fwd &&
		       (e[-1] == ' ' || e[-1] == '\t' || e[-1] == ','))
			e--;
		for (b = e; b > fwd && (isxdigit((unsigned char)b[-1]) ||
		                        b[-1] == '.' || b[-1] == ':');
		     b--)
			;
		if (e > b && (size_t)(e - b) < size &&
		    (b == fwd || b[-1] == ' ' || b[-1] == '\t' ||
		     b[-1] == ',')) {
			memcpy(out, b, (size_t)(e - b));
			out[e - b] = '\0';
			return config_unmapped(out) == out
			           ? out
			           : memmove(out, out + 7, strlen(out + 7) + 1);
		}
	}
	if (alen >= size)
		alen = 0; /* no address is that long */
	memcpy(out, a, alen);
	out[alen] = '\0';
	return out;
}

int
sio_config_cookie_kept(const struct sio_config *c, const char *name, size_t len)
{
	if (strcmp(c->request_cookies, "none") == 0)
		return 0;
	return config_in_list(c->request_cookies, name, len, 1, 0);
}
