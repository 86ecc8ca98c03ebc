/*
 * test_config.c: the CUnit suite for common/config.c. Each test writes a
 * configuration file into a fresh temporary directory, loads it over the
 * defaults and checks the fields or the exact "path:line: reason" error.
 * Origin matching is a table of patterns, origins and verdicts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "cu.h"
#include "sign.h"
#include "siogate.h"

static char *tmp;  /* per-test directory */
static char *path; /* tmp/siogate.conf */

static void
setup(void)
{
	tmp = cu_tmpdir();
	if (tmp == NULL || asprintf(&path, "%s/siogate.conf", tmp) < 0)
		path = NULL;
}

static void
teardown(void)
{
	cu_rmtree(tmp);
	free(tmp);
	free(path);
	tmp = NULL;
	path = NULL;
}

static void
write_file(const char *text)
{
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

/* Loads text over the defaults into c; returns sio_config_load's result. */
static int
load(struct sio_config *c, const char *text, char *err)
{
	sio_config_defaults(c);
	write_file(text);
	err[0] = '\0';
	return sio_config_load(c, path, err);
}

/* Asserts that err starts with "path:line:" and contains what. */
static void
assert_err(const char *err, int line, const char *what)
{
	char prefix[SIO_ERR_LEN];

	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", path);
	CU_ASSERT_EQUAL(strncmp(err, prefix, strlen(prefix)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, what));
	if (strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err, what) == NULL)
		fprintf(stderr, "\n  got: %s\n  want: %s...%s\n", err, prefix,
		        what);
}

static void
test_defaults(void)
{
	struct sio_config c;
	int i;

	sio_config_defaults(&c);
	CU_ASSERT_STRING_EQUAL(c.database, SIO_LOCALSTATEDIR "/siogate.db");
	CU_ASSERT_STRING_EQUAL(c.run_dir, SIO_RUNSTATEDIR);
	CU_ASSERT_STRING_EQUAL(c.log, "stderr");
	/* where make install puts socket.io-client's files */
	CU_ASSERT_STRING_EQUAL(c.client_dir, SIO_DATADIR "/client");
	CU_ASSERT_STRING_EQUAL(c.app, "testapp");
	CU_ASSERT_STRING_EQUAL(c.resource, "socket.io");
	/* socket.io 0.9's default: no flashsocket unless listed */
	CU_ASSERT_EQUAL(c.ntransports, SIO_TRANSPORT_COUNT - 1);
	for (i = 0; i < SIO_TRANSPORT_COUNT; i++)
		CU_ASSERT_EQUAL(
		    sio_config_transport_enabled(&c, (enum sio_transport)i),
		    i != SIO_TRANSPORT_FLASHSOCKET);
	CU_ASSERT_EQUAL(c.transports[0], SIO_TRANSPORT_WEBSOCKET);
	CU_ASSERT_EQUAL(c.transports[1], SIO_TRANSPORT_HTMLFILE);
	CU_ASSERT_EQUAL(c.process_lease, 10);
	CU_ASSERT_EQUAL(c.heartbeat_interval, 25);
	CU_ASSERT_EQUAL(c.heartbeat_timeout, 60);
	CU_ASSERT_EQUAL(c.close_timeout, 60);
	CU_ASSERT_EQUAL(c.polling_duration, 20);
	CU_ASSERT_STRING_EQUAL(c.origins, "*:*");
	CU_ASSERT_EQUAL(c.bind_address, 0);
	CU_ASSERT_EQUAL(c.flash_policy_port, 10843);
	CU_ASSERT_EQUAL(c.max_raw_connections, 256);
	CU_ASSERT_EQUAL(c.max_packet, (size_t)SIO_MAX_PACKET);
	CU_ASSERT_EQUAL(c.max_buffered, (size_t)64 << 20);
	CU_ASSERT_EQUAL(c.max_buffered_per_address, 0);
	CU_ASSERT_EQUAL(sio_config_buffered_share(&c), (size_t)8 << 20);
	CU_ASSERT_EQUAL(c.max_payload, (size_t)SIO_MAX_PAYLOAD);
	CU_ASSERT_EQUAL(c.max_payload_packets, SIO_MAX_PAYLOAD_PACKETS);
	CU_ASSERT_EQUAL(c.max_queue, SIO_MAX_QUEUE);
	CU_ASSERT_EQUAL(c.reserved_threads, -1);
	CU_ASSERT_EQUAL(c.max_polls_per_address, 8);
	CU_ASSERT_EQUAL(c.max_requests_per_address, 8);
	CU_ASSERT_EQUAL(c.body_timeout, 10);
	CU_ASSERT_EQUAL(c.synchronous, SIO_SYNC_NORMAL);
	CU_ASSERT_EQUAL(c.db_group, 0);
	CU_ASSERT_EQUAL(c.log_level, SIO_LOG_INFO);
	CU_ASSERT_EQUAL(c.threads, 64);
	CU_ASSERT_EQUAL(c.max_websockets, 16384);
	CU_ASSERT_EQUAL(c.publish, 0);
	CU_ASSERT_STRING_EQUAL(c.publish_allow, "127.0.0.1 ::1");
	CU_ASSERT_EQUAL(c.publish_max_actions, 100);
	CU_ASSERT_STRING_EQUAL(c.bridge_secret, "");
}

static void
test_empty_file(void)
{
	struct sio_config c, d;
	char err[SIO_ERR_LEN];

	CU_ASSERT_EQUAL(load(&c, "", err), SIO_OK);
	sio_config_defaults(&d);
	CU_ASSERT_EQUAL(memcmp(&c, &d, sizeof(c)), 0);
	CU_ASSERT_EQUAL(load(&c, "\n  \n# only comments\n\t# here\n", err),
	                SIO_OK);
	CU_ASSERT_EQUAL(memcmp(&c, &d, sizeof(c)), 0);
}

static const char full_file[] =
    "# siogate test configuration\n"
    "\n"
    "database = /srv/sio/db.sqlite   # trailing comment\n"
    "run_dir=/srv/sio/run\n"
    "client_dir = /usr/share/siogate/client\n"
    "process_lease = 30\n"
    "\tapp\t=\t/usr/lib/siogate/chat.so\t\n"
    "resource = chat.io\n"
    "transports = xhr-polling, websocket ,jsonp-polling\n"
    "heartbeat_interval = 10\n"
    "heartbeat_timeout = 30\n"
    "close_timeout = 40\n"
    "polling_duration = 15\n"
    "origins = example.com:80, *:8080 localhost:*\n"
    "bind_address = yes\n"
    "flash_policy_port = 0\n"
    "max_packet = 64k\n"
    "max_payload = 2M\n"
    "max_payload_packets = 100\n"
    "max_queue = 2k\n"
    "synchronous = FULL\n"
    "db_shared_group = on\n"
    "log_level = debug\n"
    "threads = 8\r\n"
    "max_websockets = 20000\n"
    "# the end\n";

static void
test_full_file(void)
{
	struct sio_config c;
	char err[SIO_ERR_LEN];

	CU_ASSERT_EQUAL_FATAL(load(&c, full_file, err), SIO_OK);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_STRING_EQUAL(c.database, "/srv/sio/db.sqlite");
	CU_ASSERT_STRING_EQUAL(c.run_dir, "/srv/sio/run");
	CU_ASSERT_STRING_EQUAL(c.client_dir, "/usr/share/siogate/client");
	CU_ASSERT_STRING_EQUAL(c.app, "/usr/lib/siogate/chat.so");
	CU_ASSERT_STRING_EQUAL(c.resource, "chat.io");
	CU_ASSERT_EQUAL(c.ntransports, 3);
	CU_ASSERT_EQUAL(c.transports[0], SIO_TRANSPORT_XHR_POLLING);
	CU_ASSERT_EQUAL(c.transports[1], SIO_TRANSPORT_WEBSOCKET);
	CU_ASSERT_EQUAL(c.transports[2], SIO_TRANSPORT_JSONP_POLLING);
	CU_ASSERT_EQUAL(c.heartbeat_interval, 10);
	CU_ASSERT_EQUAL(c.process_lease, 30);
	CU_ASSERT_EQUAL(c.heartbeat_timeout, 30);
	CU_ASSERT_EQUAL(c.close_timeout, 40);
	CU_ASSERT_EQUAL(c.polling_duration, 15);
	CU_ASSERT_STRING_EQUAL(c.origins, "example.com:80, *:8080 localhost:*");
	CU_ASSERT_EQUAL(c.bind_address, 1);
	CU_ASSERT_EQUAL(c.flash_policy_port, 0);
	CU_ASSERT_EQUAL(c.max_packet, (size_t)64 * 1024);
	CU_ASSERT_EQUAL(c.max_payload, (size_t)2 * 1024 * 1024);
	CU_ASSERT_EQUAL(c.max_payload_packets, 100);
	CU_ASSERT_EQUAL(c.max_queue, 2048);
	CU_ASSERT_EQUAL(c.synchronous, SIO_SYNC_FULL);
	CU_ASSERT_EQUAL(c.db_group, 1);
	CU_ASSERT_EQUAL(c.log_level, SIO_LOG_DEBUG);
	CU_ASSERT_EQUAL(c.threads, 8);
	CU_ASSERT_EQUAL(c.max_websockets, 20000);
}

static void
test_quotes_and_comments(void)
{
	struct sio_config c;
	char err[SIO_ERR_LEN];

	CU_ASSERT_EQUAL(load(&c,
	                     "database = \"/var/#1 db\"  # comment\n"
	                     "run_dir = /var/run#2\n"
	                     "app = a=b\n",
	                     err),
	                SIO_OK);
	CU_ASSERT_STRING_EQUAL(c.database, "/var/#1 db");
	CU_ASSERT_STRING_EQUAL(c.run_dir, "/var/run#2");
	CU_ASSERT_STRING_EQUAL(c.app, "a=b");
}

static void
test_repeated_key(void)
{
	struct sio_config c;
	char err[SIO_ERR_LEN];

	CU_ASSERT_EQUAL(load(&c, "threads = 2\nthreads = 3\n", err), SIO_OK);
	CU_ASSERT_EQUAL(c.threads, 3);
}

/* One bad line 3 after two good ones: the message names path:3. */
static const struct {
	const char *line;
	const char *reason;
} bad_lines[] = {
    {"database =", "bad value '' for database: empty value"},
    {"run_dir = \"\"", "empty value"},
    {"client_dir = \"\"", "empty value"},
    {"app = # nothing", "bad value '' for app"},
    {"resource = a/b", "bad value 'a/b' for resource"},
    {"resource = ..", "not a path segment"},
    {"resource = 0123456789012345678901234567890123456789012345678901234567"
     "89abcd",
     "too long (at most 63 bytes)"},
    {"transports = ", "empty transport name"},
    {"transports = websocket,,htmlfile", "empty transport name"},
    {"transports = websocket,", "empty transport name"},
    {"transports = websocket, gopher", "unknown transport 'gopher'"},
    {"transports = htmlfile,xhr-polling,htmlfile",
     "duplicate transport 'htmlfile'"},
    {"transports = WebSocket", "unknown transport 'WebSocket'"},
    {"heartbeat_interval = 0", "must be at least 1"},
    {"heartbeat_interval = -1", "not a number"},
    {"heartbeat_timeout = 86401", "too large (at most 86400)"},
    {"close_timeout = 1m", "not a number"},
    {"polling_duration = 99999999999999999999999", "too large"},
    {"polling_duration = 5 s", "not a number"},
    {"origins = example.com", "'example.com' is not host:port"},
    {"origins = *:* example.com:http", "'example.com:http' is not"},
    {"origins = host:0", "'host:0' is not"},
    {"origins = host:65536", "'host:65536' is not"},
    {"origins = *.example.com:80", "'*.example.com:80' is not"},
    {"origins = :80", "':80' is not"},
    {"origins = , ", "no host:port pattern"},
    {"origins =", "no host:port pattern"},
    {"bind_address = maybe", "expected yes, no, true, false, on, off, 1 or 0"},
    {"flash_policy_port = 65536", "too large (at most 65535)"},
    {"flash_policy_port = x", "not a number"},
    {"reserved_threads = -1", "not a number"},
    {"reserved_threads = 4096", "too large (at most 4095)"},
    {"max_polls_per_address = 0", "must be at least 1"},
    {"max_polls_per_address = 4097", "too large (at most 4096)"},
    {"max_requests_per_address = 0", "must be at least 1"},
    {"max_requests_per_address = 4097", "too large (at most 4096)"},
    {"body_timeout = 0", "must be at least 1"},
    {"body_timeout = 3601", "too large (at most 3600)"},
    {"max_raw_connections = 0", "must be at least 1"},
    {"max_raw_connections = 65537", "too large (at most 65536)"},
    {"max_packet = 0", "must be at least 1"},
    {"max_packet = 1G", "not a size"},
    {"max_packet = 1kk", "not a size"},
    {"max_buffered = 0", "must be at least 1"},
    {"max_buffered = 1G", "not a size"},
    {"max_payload = k", "not a number"},
    {"max_payload = 18446744073709551616", "too large"},
    {"max_payload = 18014398509481984M", "too large"},
    {"max_packet = 2G", "not a size"},
    {"max_packet = 1025M", "too large (at most 1073741824)"},
    {"max_payload = 1048577k", "too large (at most 1073741824)"},
    {"max_payload_packets = 2097152k", "too large (at most 65536)"},
    {"max_payload_packets = 2147483647", "too large (at most 65536)"},
    {"max_payload_packets = 65537", "too large (at most 65536)"},
    {"max_payload_packets = 0", "must be at least 1"},
    {"max_queue = 2048M", "too large"},
    {"max_queue = 1000001", "too large (at most 1000000)"},
    {"max_queue = 1.5", "not a size"},
    {"synchronous = extra", "expected off, normal or full"},
    {"db_shared_group = 2", "bad value '2' for db_shared_group"},
    {"log_level = trace", "expected error, warn, info or debug"},
    {"process_lease = 2", "must be at least 3"},
    {"process_lease = 3601", "too large (at most 3600)"},
    {"threads = 0", "must be at least 1"},
    {"threads = 4097", "too large (at most 4096)"},
    {"threads = 0x10", "not a number"},
    {"max_websockets = 0", "must be at least 1"},
    {"max_websockets = 16777217", "too large (at most 16777216)"},
    {"trusted_proxies = proxy.local", "'proxy.local' is not an IP address"},
    {"max_sessions = 0", "must be at least 1"},
    {"max_sessions = 16777217", "too large (at most 16777216)"},
    {"max_sessions_per_address = 0", "must be at least 1"},
    {"max_sessions_per_address = 17m", "too large (at most 16777216)"},
    {"request_cookies = a;b", "'a;b' is not a cookie name"},
    {"request_cookies = =x", "'=x' is not a cookie name"},
    {"database = \"unterminated", "missing closing '\"'"},
    {"database = \"a\" b", "text after closing '\"'"},
    {"colour = blue", "unknown key 'colour'"},
    {"Threads = 4", "unknown key 'Threads'"},
    {"threads 4", "missing '='"},
    {"threads # = 4", "missing '='"},
    {" = 4", "empty key"},
};

static void
test_bad_values(void)
{
	struct sio_config c;
	char err[SIO_ERR_LEN], text[512];
	size_t i;

	for (i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		snprintf(text, sizeof(text), "# line 1\nthreads = 2\n%s\n",
		         bad_lines[i].line);
		CU_ASSERT_EQUAL(load(&c, text, err), SIO_ERR);
		assert_err(err, 3, bad_lines[i].reason);
	}
}

/* Every numeric key: its largest value loads, one more is refused. */
static const struct {
	const char *key;
	unsigned long long max;
} bounds[] = {
    {"heartbeat_interval", 86400},
    {"heartbeat_timeout", 86400},
    {"close_timeout", 86400},
    {"polling_duration", 86400},
    {"flash_policy_port", 65535},
    {"max_packet", 1ULL << 30},
    {"max_payload", 1ULL << 30},
    {"max_payload_packets", 65536},
    {"max_queue", 1000000},
    {"threads", 4096},
    {"max_websockets", 1 << 24},
    {"max_buffered", 1ULL << 30},
    {"max_buffered_per_address", 1ULL << 30},
    {"max_raw_connections", 65536},
    {"max_polls_per_address", 4096},
    {"max_requests_per_address", 4096},
    {"body_timeout", 3600},
    {"publish_max_actions", 10000},
};

static void
test_numeric_bounds(void)
{
	struct sio_config c;
	char err[SIO_ERR_LEN], text[512], want[64];
	size_t i;

	for (i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		/* the keys that bound one another, out of the way; an
		 * interval or a duration must stay below its timeout */
		snprintf(
		    text, sizeof(text),
		    "heartbeat_timeout = 86400\nclose_timeout = 86400\n"
		    "max_payload = 1024M\nmax_buffered = 1024M\n%s = %llu\n",
		    bounds[i].key,
		    bounds[i].max -
		        (strcmp(bounds[i].key, "heartbeat_interval") == 0 ||
		         strcmp(bounds[i].key, "polling_duration") == 0));
		CU_ASSERT_EQUAL(load(&c, text, err), SIO_OK);
		if (err[0] != '\0')
			fprintf(stderr, "\n  %s: %s\n", bounds[i].key, err);
		snprintf(text, sizeof(text), "%s = %llu\n", bounds[i].key,
		         bounds[i].max + 1);
		snprintf(want, sizeof(want), "too large (at most %llu)",
		         bounds[i].max);
		CU_ASSERT_EQUAL(load(&c, text, err), SIO_ERR);
		assert_err(err, 1, want);
	}
}

static void
test_long_value_is_cut_in_message(void)
{
	struct sio_config c;
	char err[SIO_ERR_LEN], text[600];

	snprintf(text, sizeof(text), "\n\nresource = %0400d/\n", 7);
	CU_ASSERT_EQUAL(load(&c, text, err), SIO_ERR);
	assert_err(err, 3, "...' for resource: only letters");
}

static void
test_line_length_limit(void)
{
	struct sio_config c;
	char err[SIO_ERR_LEN];
	char *text;
	size_t n;

	/* "app = " plus x's: exactly 4096 bytes before the newline is fine. */
	text = malloc(8192);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	strcpy(text, "\n\napp = ");
	n = strlen(text);
	memset(text + n, 'x', 4096 - 6);
	strcpy(text + n + 4096 - 6, "\n");
	CU_ASSERT_EQUAL(load(&c, text, err), SIO_ERR); /* too long for app */
	assert_err(err, 3, "too long (at most 1023 bytes)");

	strcpy(text, "\n\n# ");
	n = strlen(text);
	memset(text + n, 'x', 4096 - 2);
	strcpy(text + n + 4096 - 2, "\nthreads = 5\n");
	CU_ASSERT_EQUAL(load(&c, text, err), SIO_OK);
	CU_ASSERT_EQUAL(c.threads, 5);

	strcpy(text, "\n\n# ");
	n = strlen(text);
	memset(text + n, 'x', 4096 - 1);
	strcpy(text + n + 4096 - 1, "\nthreads = 5\n");
	CU_ASSERT_EQUAL(load(&c, text, err), SIO_ERR);
	assert_err(err, 3, "line longer than 4096 bytes");
	free(text);
}

static void
test_transports_keep_order(void)
{
	struct sio_config c;
	char err[SIO_ERR_LEN];

	CU_ASSERT_EQUAL(load(&c, "transports = jsonp-polling,htmlfile\n", err),
	                SIO_OK);
	CU_ASSERT_EQUAL(c.ntransports, 2);
	CU_ASSERT_EQUAL(c.transports[0], SIO_TRANSPORT_JSONP_POLLING);
	CU_ASSERT_EQUAL(c.transports[1], SIO_TRANSPORT_HTMLFILE);
	CU_ASSERT_TRUE(
	    sio_config_transport_enabled(&c, SIO_TRANSPORT_HTMLFILE));
	CU_ASSERT_FALSE(
	    sio_config_transport_enabled(&c, SIO_TRANSPORT_WEBSOCKET));
}

static void
test_failed_set_leaves_config_unchanged(void)
{
	struct sio_config c, d;
	char err[SIO_ERR_LEN];

	sio_config_defaults(&c);
	sio_config_defaults(&d);
	CU_ASSERT_EQUAL(
	    sio_config_set(&c, "transports", "websocket,bogus", err), SIO_ERR);
	CU_ASSERT_STRING_EQUAL(err, "bad value 'websocket,bogus' for "
	                            "transports: unknown transport 'bogus'");
	CU_ASSERT_EQUAL(sio_config_set(&c, "threads", "9999", NULL), SIO_ERR);
	CU_ASSERT_EQUAL(sio_config_set(&c, "nope", "1", err), SIO_ERR);
	CU_ASSERT_STRING_EQUAL(err, "unknown key 'nope'");
	CU_ASSERT_EQUAL(memcmp(&c, &d, sizeof(c)), 0);
	CU_ASSERT_EQUAL(sio_config_set(&c, "threads", "12", err), SIO_OK);
	CU_ASSERT_EQUAL(c.threads, 12);
}

static void
test_transport_names(void)
{
	int i;

	for (i = 0; i < SIO_TRANSPORT_COUNT; i++)
		CU_ASSERT_EQUAL(
		    sio_config_transport_parse(
		        sio_config_transport_name((enum sio_transport)i)),
		    i);
	CU_ASSERT_STRING_EQUAL(
	    sio_config_transport_name(SIO_TRANSPORT_XHR_POLLING),
	    "xhr-polling");
	CU_ASSERT_PTR_NULL(sio_config_transport_name(SIO_TRANSPORT_COUNT));
	CU_ASSERT_EQUAL(sio_config_transport_parse("xhr"), -1);
	CU_ASSERT_EQUAL(sio_config_transport_parse(""), -1);
	CU_ASSERT_EQUAL(sio_config_transport_parse(NULL), -1);
}

static void
test_size_suffixes(void)
{
	static const struct {
		const char *value;
		size_t bytes;
	} sizes[] = {
	    {"1", 1},        {"1000", 1000},    {"1k", 1024}, {"3K", 3072},
	    {"1m", 1048576}, {"16M", 16777216}, {"007", 7},
	};
	struct sio_config c;
	char err[SIO_ERR_LEN];
	size_t i;

	sio_config_defaults(&c);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		CU_ASSERT_EQUAL(
		    sio_config_set(&c, "max_payload", sizes[i].value, err),
		    SIO_OK);
		CU_ASSERT_EQUAL(c.max_payload, sizes[i].bytes);
	}
	CU_ASSERT_EQUAL(sio_config_set(&c, "max_queue", "976k", err), SIO_OK);
	CU_ASSERT_EQUAL(c.max_queue, 976 * 1024);
	CU_ASSERT_EQUAL(sio_config_set(&c, "max_payload_packets", "64k", err),
	                SIO_OK);
	CU_ASSERT_EQUAL(c.max_payload_packets, 65536);
	CU_ASSERT_EQUAL(sio_config_set(&c, "max_payload", "1024M", err),
	                SIO_OK);
	CU_ASSERT_EQUAL(c.max_payload, 1024 * 1048576);
}

static void
test_cross_key_errors(void)
{
	static const struct {
		const char *text;
		const char *reason;
	} cases[] = {
	    {"heartbeat_interval = 60\n",
	     "heartbeat_interval (60) must be less than heartbeat_timeout "
	     "(60)"},
	    {"heartbeat_timeout = 10\n", "heartbeat_interval (25)"},
	    {"polling_duration = 60\n",
	     "polling_duration (60) must be less than close_timeout (60)"},
	    {"close_timeout = 20\n", "polling_duration (20)"},
	    {"max_packet = 5M\n",
	     "max_packet (5242880) must not exceed max_payload (4194304)"},
	    {"max_payload = 512k\n", "max_packet (1048576)"},
	    {"reserved_threads = 64\n",
	     "reserved_threads (64) must be less than threads (64)"},
	    {"threads = 4\nreserved_threads = 4\n", "threads (4)"},
	    {"max_buffered = 512k\n",
	     "max_buffered (524288) must be at least max_packet (1048576)"},
	    {"max_buffered_per_address = 512k\n",
	     "max_buffered_per_address (524288) must be at least max_packet "
	     "(1048576) and at most max_buffered (67108864)"},
	    {"max_buffered = 2M\nmax_buffered_per_address = 4M\n",
	     "max_buffered_per_address (4194304) must be"},
	};
	struct sio_config c;
	char err[SIO_ERR_LEN];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CU_ASSERT_EQUAL(load(&c, cases[i].text, err), SIO_ERR);
		assert_err(err, 0, cases[i].reason);
	}
	/* Equal sizes and limits raised together are fine. */
	CU_ASSERT_EQUAL(load(&c,
	                     "max_packet = 4M\nheartbeat_interval = 100\n"
	                     "heartbeat_timeout = 200\n",
	                     err),
	                SIO_OK);
}

/* publish = yes needs a secret of SIO_SECRET_MIN bytes; the error names
 * the key, and a bad secret is never written into a message. */
static void
test_publish_secret(void)
{
	struct sio_config c;
	char err[SIO_ERR_LEN], text[700], secret[SIO_SECRET_MIN + 1];

	CU_ASSERT_EQUAL(load(&c, "publish = yes\n", err), SIO_ERR);
	assert_err(err, 0,
	           "publish = yes needs a bridge_secret of at least 32 bytes "
	           "(it has 0)");
	memset(secret, 's', SIO_SECRET_MIN - 1);
	secret[SIO_SECRET_MIN - 1] = '\0';
	snprintf(text, sizeof(text), "publish = yes\nbridge_secret = %s\n",
	         secret);
	CU_ASSERT_EQUAL(load(&c, text, err), SIO_ERR);
	assert_err(err, 0, "bridge_secret of at least 32 bytes (it has 31)");
	CU_ASSERT_PTR_NULL(strstr(err, secret));
	/* 32 bytes, with a '#' kept by the quotes */
	memcpy(secret, "#", 1);
	secret[SIO_SECRET_MIN - 1] = 'z';
	secret[SIO_SECRET_MIN] = '\0';
	snprintf(text, sizeof(text),
	         "publish = yes\nbridge_secret = \"%s\"\n"
	         "publish_allow = 10.0.0.1, ::1\npublish_max_actions = 7\n",
	         secret);
	CU_ASSERT_EQUAL(load(&c, text, err), SIO_OK);
	CU_ASSERT_STRING_EQUAL(c.bridge_secret, secret);
	CU_ASSERT_EQUAL(c.publish_max_actions, 7);
	CU_ASSERT_TRUE(sio_config_publish_allowed(&c, "10.0.0.1"));
	CU_ASSERT_TRUE(sio_config_publish_allowed(&c, "::ffff:10.0.0.1"));
	CU_ASSERT_FALSE(sio_config_publish_allowed(&c, "127.0.0.1"));
	CU_ASSERT_FALSE(sio_config_publish_allowed(&c, ""));
	CU_ASSERT_FALSE(sio_config_publish_allowed(&c, NULL));
	/* a secret without publish is fine: the bridge reads it too */
	CU_ASSERT_EQUAL(load(&c, "bridge_secret = short\n", err), SIO_OK);
	/* too long: refused, and the value is not in the message */
	memset(text, 0, sizeof(text));
	memcpy(text, "bridge_secret = ", 16);
	memset(text + 16, 'q', 300);
	text[316] = '\n';
	CU_ASSERT_EQUAL(load(&c, text, err), SIO_ERR);
	assert_err(err, 1,
	           "bad value for bridge_secret: too long (at most 255");
	CU_ASSERT_PTR_NULL(strstr(err, "qqqq"));
	CU_ASSERT_EQUAL(load(&c, "publish_max_actions = 0\n", err), SIO_ERR);
	assert_err(err, 1, "must be at least 1");
	CU_ASSERT_EQUAL(load(&c, "publish_allow = localhost\n", err), SIO_ERR);
	assert_err(err, 1, "'localhost' is not an IP address");
}

/* One address's share of max_buffered: set, or derived from it. */
static void
test_buffered_share(void)
{
	static const struct {
		const char *text;
		size_t share;
	} cases[] = {
	    {"", (size_t)8 << 20},
	    {"max_buffered = 16M\n", (size_t)2 << 20},
	    {"max_buffered = 2M\n", (size_t)1 << 20}, /* max_packet */
	    {"max_buffered = 1M\n", (size_t)1 << 20},
	    {"max_packet = 64k\nmax_buffered = 256k\n", (size_t)64 << 10},
	    {"max_buffered_per_address = 3M\n", (size_t)3 << 20},
	    {"max_buffered_per_address = 64M\n", (size_t)64 << 20},
	};
	struct sio_config c;
	char err[SIO_ERR_LEN];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CU_ASSERT_EQUAL_FATAL(load(&c, cases[i].text, err), SIO_OK);
		CU_ASSERT_EQUAL(sio_config_buffered_share(&c), cases[i].share);
	}
}

static void
test_missing_file(void)
{
	struct sio_config c;
	char err[SIO_ERR_LEN], missing[SIO_ERR_LEN];

	sio_config_defaults(&c);
	snprintf(missing, sizeof(missing), "%s/nope.conf", tmp);
	CU_ASSERT_EQUAL(sio_config_load(&c, missing, err), SIO_ERR);
	CU_ASSERT_EQUAL(strncmp(err, missing, strlen(missing)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
}

static void
test_config_path(void)
{
	const char *old = getenv(SIO_CONFIG_ENV);
	char *saved = old ? strdup(old) : NULL;

	setenv(SIO_CONFIG_ENV, "/etc/siogate.conf", 1);
	CU_ASSERT_STRING_EQUAL(sio_config_path("my.conf"), "my.conf");
	CU_ASSERT_STRING_EQUAL(sio_config_path(NULL), "/etc/siogate.conf");
	CU_ASSERT_FALSE(sio_config_path_is_default(NULL));
	setenv(SIO_CONFIG_ENV, "", 1);
	CU_ASSERT_STRING_EQUAL(sio_config_path(NULL), SIO_CONFIG_DEFAULT);
	CU_ASSERT_TRUE(sio_config_path_is_default(NULL));
	unsetenv(SIO_CONFIG_ENV);
	CU_ASSERT_STRING_EQUAL(sio_config_path(NULL),
	                       SIO_SYSCONFDIR "/siogate.conf");
	CU_ASSERT_TRUE(sio_config_path_is_default(NULL));
	CU_ASSERT_STRING_EQUAL(sio_config_path("my.conf"), "my.conf");
	CU_ASSERT_FALSE(sio_config_path_is_default("my.conf"));
	if (saved)
		setenv(SIO_CONFIG_ENV, saved, 1);
	free(saved);
}

static void
test_origin_table(void)
{
	static const struct {
		const char *origins;
		const char *origin;
		int allowed;
	} cases[] = {
	    {"*:*", "http://anything.example:1234", 1},
	    {"*:*", NULL, 1},
	    {"*:*", "", 1},
	    {"*:*", "garbage://", 1},
	    {"example.com:80", NULL, 0},
	    {"example.com:80", "", 0},
	    {"example.com:80", "http://example.com", 1},
	    {"example.com:80", "http://example.com:80", 1},
	    {"example.com:80", "http://example.com/", 1},
	    {"example.com:80", "example.com", 1},
	    {"example.com:80", "example.com:80", 1},
	    {"example.com:80", "HTTP://Example.COM", 1},
	    {"example.com:80", "https://example.com", 0},
	    {"example.com:80", "http://example.com:8080", 0},
	    {"example.com:80", "http://www.example.com", 0},
	    {"example.com:80", "http://example.co", 0},
	    {"example.com:80", "http://example.com.evil.org", 0},
	    {"example.com:443", "https://example.com", 1},
	    {"example.com:443", "https://example.com:443", 1},
	    {"example.com:*", "https://example.com:9999", 1},
	    {"example.com:*", "http://other.com", 0},
	    {"*:8080", "http://a.b:8080", 1},
	    {"*:8080", "http://a.b", 0},
	    {"*:80", "null", 1},
	    {"a.com:80 b.com:81,c.com:*", "http://b.com:81", 1},
	    {"a.com:80 b.com:81,c.com:*", "http://c.com:5", 1},
	    {"a.com:80 b.com:81,c.com:*", "http://b.com:80", 0},
	    {"localhost:* *:*", "http://x", 1},
	    {"[::1]:8080", "http://[::1]:8080", 1},
	    {"[::1]:8080", "http://[::1]", 0},
	    {"example.com:80", "http://example.com:99999", 0},
	    {"example.com:80", "http://example.com:x", 0},
	    {"example.com:80", "http://", 0},
	    {"example.com:80", "http://:80", 0},
	    {"example.com:80", "http://user@example.com", 1},
	    {"example.com:80", "http://example.com:", 1},
	};
	struct sio_config c;
	size_t i;
	int got;

	sio_config_defaults(&c);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(c.origins, sizeof(c.origins), "%s", cases[i].origins);
		got = sio_config_origin_allowed(&c, cases[i].origin);
		CU_ASSERT_EQUAL(got, cases[i].allowed);
		if (got != cases[i].allowed)
			fprintf(stderr, "\n  origins '%s' origin '%s': %d\n",
			        cases[i].origins,
			        cases[i].origin ? cases[i].origin : "(null)",
			        got);
	}
}

/* The text of file (under the source tree, where make runs the suites)
 * from the line starting with from to the next line starting with to (or
 * the end); the caller frees it. NULL when absent. */
static char *
doc_section(const char *file, const char *from, const char *to)
{
	static char buf[1 << 17];
	FILE *f = fopen(file, "r");
	size_t n;
	char *start, *end;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((start = strstr(buf, from)) == NULL)
		return NULL;
	end = strstr(start + strlen(from), to);
	return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

/* What synchronous = off risks (corruption on a power loss) and what no
 * value prevents (packets written just before a kill are sent again) are
 * said where the setting is documented. */
static void
test_synchronous_documented(void)
{
	char *doc =
	    doc_section("docs/configuration.md", "### synchronous\n", "\n### ");
	char *ex = doc_section("siogate.conf.example", "# SQLite synchronous",
	                       "#synchronous");

	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	CU_ASSERT_PTR_NOT_NULL(strstr(doc, "power loss"));
	CU_ASSERT_PTR_NOT_NULL(strstr(doc, "**corrupt the database**"));
	CU_ASSERT_PTR_NOT_NULL(strstr(doc, "SIGKILL"));
	CU_ASSERT_PTR_NOT_NULL(strstr(doc, "sent again"));
	CU_ASSERT_PTR_NOT_NULL(strstr(doc, "does not drop duplicates"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(ex);
	CU_ASSERT_PTR_NOT_NULL(strstr(ex, "corrupt"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ex, "redelivers"));
	free(doc);
	free(ex);
}

/* The client address: the peer's, or a trusted proxy's X-Forwarded-For. */
static void
test_client_addr_table(void)
{
	static const struct {
		const char *peer;
		int peer_trusted;
		const char *fwd, *want;
	} t[] = {
	    {"10.0.0.5", 0, NULL, "10.0.0.5"},
	    {"::ffff:10.0.0.5", 0, NULL, "10.0.0.5"},
	    {"10.0.0.5", 0, "192.0.2.1", "10.0.0.5"},   /* not trusted */
	    {"127.0.0.1", 0, "192.0.2.1", "192.0.2.1"}, /* trusted */
	    {"::ffff:127.0.0.1", 0, "192.0.2.1", "192.0.2.1"},
	    {"127.0.0.1", 0, "6.6.6.6, 192.0.2.1", "192.0.2.1"}, /* the last */
	    {"127.0.0.1", 0, "192.0.2.1 ,", "192.0.2.1"},
	    {"127.0.0.1", 0, "::ffff:192.0.2.1", "192.0.2.1"},
	    {"127.0.0.1", 0, "2001:db8::1", "2001:db8::1"},
	    {"127.0.0.1", 0, "unknown", "127.0.0.1"}, /* not an address */
	    {"127.0.0.1", 0, "192.0.2.1x", "127.0.0.1"},
	    {"127.0.0.1", 0, "for=192.0.2.1", "127.0.0.1"},
	    {"127.0.0.1", 0, "junk, 192.0.2.1", "192.0.2.1"},
	    {"127.0.0.1", 0, "", "127.0.0.1"},
	    {"", 1, "192.0.2.1", "192.0.2.1"}, /* a UNIX socket */
	    {"", 1, NULL, ""},
	    {NULL, 0, "192.0.2.1", ""},
	};
	struct sio_config c;
	char out[64], err[SIO_ERR_LEN];

	sio_config_defaults(&c);
	CU_ASSERT_EQUAL_FATAL(
	    sio_config_set(&c, "trusted_proxies", "127.0.0.1 ::1", err),
	    SIO_OK);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *got = sio_config_client_addr(
		    &c, t[i].peer, t[i].peer_trusted, t[i].fwd,
		    t[i].fwd ? strlen(t[i].fwd) : 0, out, sizeof(out));
		CU_ASSERT_STRING_EQUAL(got, t[i].want);
		if (strcmp(got, t[i].want) != 0)
			fprintf(stderr, "case %zu: got '%s'\n", i, got);
	}
	/* by default no proxy is trusted */
	sio_config_defaults(&c);
	CU_ASSERT_STRING_EQUAL(sio_config_client_addr(&c, "127.0.0.1", 0,
	                                              "192.0.2.1", 9, out,
	                                              sizeof(out)),
	                       "127.0.0.1");
}

/* request_cookies: none by default, the names given, or all with "*". */
static void
test_cookie_kept(void)
{
	struct sio_config c;
	char err[SIO_ERR_LEN];

	sio_config_defaults(&c);
	CU_ASSERT_FALSE(sio_config_cookie_kept(&c, "none", 4));
	CU_ASSERT_FALSE(sio_config_cookie_kept(&c, "sid", 3));
	CU_ASSERT_EQUAL(
	    sio_config_set(&c, "request_cookies", "lang, app_sid", err),
	    SIO_OK);
	CU_ASSERT_TRUE(sio_config_cookie_kept(&c, "lang", 4));
	CU_ASSERT_TRUE(sio_config_cookie_kept(&c, "app_sid", 7));
	CU_ASSERT_FALSE(sio_config_cookie_kept(&c, "app", 3));
	CU_ASSERT_FALSE(sio_config_cookie_kept(&c, "LANG", 4));
	CU_ASSERT_EQUAL(sio_config_set(&c, "request_cookies", "*", err),
	                SIO_OK);
	CU_ASSERT_TRUE(sio_config_cookie_kept(&c, "anything", 8));
}

/* Relative paths name files next to the configuration file, whatever
 * the working directory; absolute ones and the words of log stay. */
static void
test_relative_paths(void)
{
	struct sio_config c;
	char err[SIO_ERR_LEN], want[SIO_CONFIG_PATH_MAX * 2], *real;
	char *sub = NULL;
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(tmp);
	real = realpath(tmp, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(real);
	CU_ASSERT_EQUAL(load(&c,
	                     "database = data/sio.db\nrun_dir = run\n"
	                     "log = logs/siogate.log\napp = apps/my.so\n",
	                     err),
	                SIO_OK);
	snprintf(want, sizeof(want), "%s/data/sio.db", real);
	CU_ASSERT_STRING_EQUAL(c.database, want);
	snprintf(want, sizeof(want), "%s/run", real);
	CU_ASSERT_STRING_EQUAL(c.run_dir, want);
	snprintf(want, sizeof(want), "%s/logs/siogate.log", real);
	CU_ASSERT_STRING_EQUAL(c.log, want);
	snprintf(want, sizeof(want), "%s/apps/my.so", real);
	CU_ASSERT_STRING_EQUAL(c.app, want);

	/* a bare NAME.so not installed in SIO_PLUGINDIR: the file's
	 * neighbour; a built-in name, syslog and absolute paths stay */
	CU_ASSERT_EQUAL(load(&c,
	                     "app = siogate-test-absent.so\nlog = syslog\n"
	                     "database = /srv/x.db\n",
	                     err),
	                SIO_OK);
	snprintf(want, sizeof(want), "%s/siogate-test-absent.so", real);
	CU_ASSERT_STRING_EQUAL(c.app, want);
	CU_ASSERT_STRING_EQUAL(c.log, "syslog");
	CU_ASSERT_STRING_EQUAL(c.database, "/srv/x.db");
	CU_ASSERT_EQUAL(load(&c, "app = chat\nlog = stderr\n", err), SIO_OK);
	CU_ASSERT_STRING_EQUAL(c.app, "chat");
	CU_ASSERT_STRING_EQUAL(c.log, "stderr");
	/* defaults (unset keys) are absolute already */
	CU_ASSERT_STRING_EQUAL(c.run_dir, SIO_RUNSTATEDIR);

	/* the same file named by a relative path from another directory */
	CU_ASSERT_EQUAL_FATAL(asprintf(&sub, "%s/sub", tmp) > 0, 1);
	CU_ASSERT_EQUAL_FATAL(mkdir(sub, 0700), 0);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("database = db/x.db\n", f);
	fclose(f);
	{
		char cwd[4096];

		CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof(cwd)));
		CU_ASSERT_EQUAL_FATAL(chdir(sub), 0);
		sio_config_defaults(&c);
		CU_ASSERT_EQUAL(sio_config_load(&c, "../siogate.conf", err),
		                SIO_OK);
		CU_ASSERT_EQUAL(chdir(cwd), 0);
	}
	snprintf(want, sizeof(want), "%s/db/x.db", real);
	CU_ASSERT_STRING_EQUAL(c.database, want);

	/* a path that no longer fits once made absolute is refused */
	{
		char line[SIO_CONFIG_PATH_MAX * 2 + 32];

		memset(want, 'a', SIO_CONFIG_PATH_MAX - 2);
		want[SIO_CONFIG_PATH_MAX - 2] = '\0';
		snprintf(line, sizeof(line), "database = %s\n", want);
		CU_ASSERT_EQUAL(load(&c, line, err), SIO_ERR);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "too long"));
	}
	free(sub);
	free(real);
}

/* A reload keeps what needs a restart and names it; the live keys
 * change. */
static void
test_keep_fixed(void)
{
	struct sio_config cur, next;
	char err[SIO_ERR_LEN], kept[256];

	sio_config_defaults(&cur);
	sio_config_defaults(&next);
	CU_ASSERT_EQUAL(sio_config_keep_fixed(&cur, &next, kept, sizeof(kept)),
	                0);
	CU_ASSERT_STRING_EQUAL(kept, "");
	CU_ASSERT_EQUAL(sio_config_set(&next, "origins", "example.com:80", err),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_config_set(&next, "log_level", "debug", err),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_config_set(&next, "max_sessions", "7", err),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_config_set(&next, "database", "/x.db", err),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_config_set(&next, "threads", "3", err), SIO_OK);
	CU_ASSERT_EQUAL(sio_config_set(&next, "transports", "websocket", err),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_config_set(&next, "max_packet", "1k", err), SIO_OK);
	CU_ASSERT_EQUAL(sio_config_keep_fixed(&cur, &next, kept, sizeof(kept)),
	                4);
	CU_ASSERT_STRING_EQUAL(kept, "database transports max_packet threads");
	CU_ASSERT_STRING_EQUAL(next.database, cur.database);
	CU_ASSERT_EQUAL(next.threads, cur.threads);
	CU_ASSERT_EQUAL(next.ntransports, cur.ntransports);
	CU_ASSERT_EQUAL(next.max_packet, cur.max_packet);
	CU_ASSERT_STRING_EQUAL(next.origins, "example.com:80");
	CU_ASSERT_EQUAL(next.log_level, SIO_LOG_DEBUG);
	CU_ASSERT_EQUAL(next.max_sessions, 7);
	CU_ASSERT_TRUE(sio_config_key_live("origins"));
	CU_ASSERT_FALSE(sio_config_key_live("resource"));
	/* read by each request: a reload turns publishing on or off */
	CU_ASSERT_TRUE(sio_config_key_live("publish"));
	CU_ASSERT_TRUE(sio_config_key_live("bridge_secret"));
	/* a short kept buffer is cut, never overrun */
	CU_ASSERT_EQUAL(sio_config_set(&next, "threads", "3", err), SIO_OK);
	CU_ASSERT_EQUAL(sio_config_keep_fixed(&cur, &next, kept, 4), 1);
	CU_ASSERT_STRING_EQUAL(kept, "thr");
}

static const struct cu_test tests[] = {
    {"defaults match the documented values", test_defaults},
    {"the synchronous docs say what a power loss and a kill can do",
     test_synchronous_documented},
    {"an empty or comment-only file keeps the defaults", test_empty_file},
    {"a full file with comments sets every key", test_full_file},
    {"quotes keep a '#' and a '#' inside a word is not a comment",
     test_quotes_and_comments},
    {"a repeated key takes the last value", test_repeated_key},
    {"every number takes its largest value and refuses one more",
     test_numeric_bounds},
    {"each bad line is an error naming the file and line 3", test_bad_values},
    {"a long bad value is cut short in the message",
     test_long_value_is_cut_in_message},
    {"lines up to 4096 bytes are read and longer ones rejected",
     test_line_length_limit},
    {"transports keep the order given", test_transports_keep_order},
    {"a failed set leaves the configuration unchanged",
     test_failed_set_leaves_config_unchanged},
    {"transport names parse back to their enum", test_transport_names},
    {"sizes accept k and M suffixes", test_size_suffixes},
    {"keys that bound one another are checked after the file",
     test_cross_key_errors},
    {"publish needs a bridge_secret of 32 bytes, never shown in a message",
     test_publish_secret},
    {"one address's share of max_buffered is set or an eighth of it, at "
     "least max_packet",
     test_buffered_share},
    {"a missing file is an error naming it", test_missing_file},
    {"the path comes from -c, then SIOGATE_CONF, then SYSCONFDIR",
     test_config_path},
    {"relative paths are taken from the file's directory, not the working "
     "one",
     test_relative_paths},
    {"a reload keeps the settings that need a restart and names them",
     test_keep_fixed},
    {"origins match host and port with wildcards", test_origin_table},
    {"the client address is read from a trusted proxy only",
     test_client_addr_table},
    {"request_cookies names the cookies a stored request keeps",
     test_cookie_kept},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("config", tests, setup, teardown);
}
