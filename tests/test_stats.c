/*
 * test_stats.c: the stats formatting suite. The exact JSON of
 * /<resource>/stats and Prometheus text of /<resource>/metrics for given
 * counters: every field under its name, rates with two decimals in JSON
 * and in full in the metrics, the sessions by transport with "none"
 * first, and what is already in the buffer kept in front.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cu.h"
#include "stats.h"

/* Counters with a distinct value in every field. */
static void
sample(struct sio_store_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->active_sessions = 1;
	st->peak_sessions = 2;
	st->active_connections = 3;
	st->peak_connections = 4;
	st->sessions_opened = 5;
	st->connections_opened = 6;
	st->packets_sent = 7;
	st->packets_received = 8;
	st->queued_packets = 9;
	st->connections_ps = 0.5;
	st->packets_sent_ps = 12.25;
	st->packets_received_ps = 1.0 / 3;
	st->time = 1700000000123LL;
	for (int t = 0; t < SIO_TRANSPORT_COUNT; t++)
		st->sessions[t] = 10 + t;
	st->sessions_no_transport = 20;
}

static void
test_json_exact(void)
{
	struct sio_store_stats st;
	struct sio_buf b;

	sample(&st);
	sio_buf_init(&b);
	CU_ASSERT_EQUAL_FATAL(sio_stats_json(&b, &st), SIO_OK);
	CU_ASSERT_STRING_EQUAL(
	    b.p, "{\"active_sessions\":1,\"peak_sessions\":2,"
	         "\"active_connections\":3,\"peak_connections\":4,"
	         "\"connections_ps\":0.50,\"packets_sent_ps\":12.25,"
	         "\"packets_received_ps\":0.33,\"sessions_opened\":5,"
	         "\"connections_opened\":6,\"packets_sent\":7,"
	         "\"packets_received\":8,\"queued_packets\":9,"
	         "\"sessions_by_transport\":{\"none\":20,\"websocket\":10,"
	         "\"flashsocket\":11,\"htmlfile\":12,\"xhr-polling\":13,"
	         "\"jsonp-polling\":14},\"time\":1700000000123}\n");
	sio_buf_cleanup(&b);
}

/* What a client parses: one object, numbers as numbers. */
static void
test_json_parses(void)
{
	struct sio_store_stats st;
	struct sio_buf b;
	json_error_t e;
	json_t *o;

	sample(&st);
	sio_buf_init(&b);
	CU_ASSERT_EQUAL_FATAL(sio_stats_json(&b, &st), SIO_OK);
	o = json_loadb(b.p, b.len, 0, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(
	    json_integer_value(json_object_get(o, "queued_packets")), 9);
	CU_ASSERT_DOUBLE_EQUAL(
	    json_real_value(json_object_get(o, "packets_sent_ps")), 12.25,
	    1e-9);
	CU_ASSERT_EQUAL(
	    json_integer_value(json_object_get(
	        json_object_get(o, "sessions_by_transport"), "xhr-polling")),
	    13);
	json_decref(o);
	sio_buf_cleanup(&b);
}

/* Formatting appends: a prefix stays, the text follows it. */
static void
test_appends(void)
{
	struct sio_store_stats st;
	struct sio_buf b;

	memset(&st, 0, sizeof(st));
	sio_buf_init(&b);
	sio_buf_puts(&b, "x");
	CU_ASSERT_EQUAL_FATAL(sio_stats_json(&b, &st), SIO_OK);
	CU_ASSERT_EQUAL(strncmp(b.p, "x{\"active_sessions\":0,", 22), 0);
	sio_buf_reset(&b);
	sio_buf_puts(&b, "y");
	CU_ASSERT_EQUAL_FATAL(sio_stats_prometheus(&b, &st), SIO_OK);
	CU_ASSERT_EQUAL(strncmp(b.p, "y# HELP siogate_active_sessions ", 32),
	                0);
	sio_buf_cleanup(&b);
}

static const struct {
	const char *line;
} metric_lines[] = {
    {"# HELP siogate_active_sessions Sessions from handshake to end.\n"
     "# TYPE siogate_active_sessions gauge\nsiogate_active_sessions 1\n"},
    {"# TYPE siogate_peak_sessions gauge\nsiogate_peak_sessions 2\n"},
    {"# TYPE siogate_active_connections gauge\n"
     "siogate_active_connections 3\n"},
    {"# TYPE siogate_peak_connections gauge\nsiogate_peak_connections 4\n"},
    {"# HELP siogate_connections_per_second Transport attaches per second "
     "over the last 10 s.\n# TYPE siogate_connections_per_second gauge\n"
     "siogate_connections_per_second 0.5\n"},
    {"siogate_packets_sent_per_second 12.25\n"},
    {"siogate_packets_received_per_second 0.33333333333333331\n"},
    {"# TYPE siogate_sessions_opened_total counter\n"
     "siogate_sessions_opened_total 5\n"},
    {"# TYPE siogate_connections_opened_total counter\n"
     "siogate_connections_opened_total 6\n"},
    {"# TYPE siogate_packets_sent_total counter\n"
     "siogate_packets_sent_total 7\n"},
    {"# TYPE siogate_packets_received_total counter\n"
     "siogate_packets_received_total 8\n"},
    {"# TYPE siogate_queued_packets gauge\nsiogate_queued_packets 9\n"},
    {"# HELP siogate_sessions Active sessions by transport.\n"
     "# TYPE siogate_sessions gauge\n"
     "siogate_sessions{transport=\"none\"} 20\n"
     "siogate_sessions{transport=\"websocket\"} 10\n"
     "siogate_sessions{transport=\"flashsocket\"} 11\n"
     "siogate_sessions{transport=\"htmlfile\"} 12\n"
     "siogate_sessions{transport=\"xhr-polling\"} 13\n"
     "siogate_sessions{transport=\"jsonp-polling\"} 14\n"},
};

/* Each metric once, in this order, and the text ends with the last. */
static void
test_prometheus_metrics(void)
{
	size_t n = sizeof(metric_lines) / sizeof(metric_lines[0]);
	struct sio_store_stats st;
	const char *at, *prev;
	struct sio_buf b;

	sample(&st);
	sio_buf_init(&b);
	CU_ASSERT_EQUAL_FATAL(sio_stats_prometheus(&b, &st), SIO_OK);
	prev = b.p;
	for (size_t i = 0; i < n; i++) {
		at = strstr(b.p, metric_lines[i].line);
		CU_ASSERT_PTR_NOT_NULL(at);
		if (at == NULL)
			continue;
		CU_ASSERT_TRUE(at >= prev);
		CU_ASSERT_PTR_NULL(strstr(at + 1, metric_lines[i].line));
		prev = at;
	}
	CU_ASSERT_EQUAL(strcmp(b.p + b.len - strlen(metric_lines[n - 1].line),
	                       metric_lines[n - 1].line),
	                0);
	sio_buf_cleanup(&b);
}

/* Every non-comment line is "name[{labels}] value", every metric has a
 * HELP and a TYPE before its first sample. */
static void
test_prometheus_well_formed(void)
{
	struct sio_store_stats st;
	struct sio_buf b;
	char *line, *save = NULL, name[128], last[128] = "";
	int samples = 0;

	sample(&st);
	sio_buf_init(&b);
	CU_ASSERT_EQUAL_FATAL(sio_stats_prometheus(&b, &st), SIO_OK);
	CU_ASSERT_EQUAL(b.p[b.len - 1], '\n');
	for (line = strtok_r(b.p, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			CU_ASSERT_EQUAL(sscanf(line + 7, "%127s", last), 1);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			CU_ASSERT_EQUAL(sscanf(line + 7, "%127s", name), 1);
			CU_ASSERT_STRING_EQUAL(name, last);
			continue;
		}
		CU_ASSERT_EQUAL(sscanf(line, "%127[a-z_]", name), 1);
		CU_ASSERT_STRING_EQUAL(name, last);
		CU_ASSERT_PTR_NOT_NULL(strchr(line, ' '));
		samples++;
	}
	CU_ASSERT_EQUAL(samples, 12 + 1 + SIO_TRANSPORT_COUNT);
	sio_buf_cleanup(&b);
}

static const struct cu_test tests[] = {
    {"stats json is socket.io 0.9's object with sessions by transport",
     test_json_exact},
    {"stats json parses as one object of numbers", test_json_parses},
    {"stats json and prometheus append after what the buffer holds",
     test_appends},
    {"stats prometheus gives each metric once, with HELP and TYPE",
     test_prometheus_metrics},
    {"stats prometheus lines are comments or 'name value' samples",
     test_prometheus_well_formed},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("stats", tests, NULL, NULL);
}
