/*
 * stats.c: the server's counters (struct sio_store_stats) as the text the
 * operator reads: the JSON of GET /<resource>/stats and the Prometheus
 * text of /<resource>/metrics. Pure: no I/O, no store.
 */
#include "config.h"
#include "stats.h"

static int
stats_json_put(struct sio_buf *b, const struct sio_store_stats *st)
{
	int rc = sio_buf_printf(
	    b,
	    "{\"active_sessions\":%lld,\"peak_sessions\":%lld,"
	    "\"active_connections\":%lld,\"peak_connections\":%lld,"
	    "\"connections_ps\":%.2f,\"packets_sent_ps\":%.2f,"
	    "\"packets_received_ps\":%.2f,\"sessions_opened\":%lld,"
	    "\"connections_opened\":%lld,\"packets_sent\":%lld,"
	    "\"packets_received\":%lld,\"queued_packets\":%lld,"
	    "\"sessions_by_transport\":{\"none\":%lld",
	    st->active_sessions, st->peak_sessions, st->active_connections,
	    st->peak_connections, st->connections_ps, st->packets_sent_ps,
	    st->packets_received_ps, st->sessions_opened,
	    st->connections_opened, st->packets_sent, st->packets_received,
	    st->queued_packets, st->sessions_no_transport);

	for (int t = 0; rc == SIO_OK && t < SIO_TRANSPORT_COUNT; t++)
		rc = sio_buf_printf(b, ",\"%s\":%lld",
		                    sio_config_transport_name(t),
		                    st->sessions[t]);
	if (rc == SIO_OK)
		rc = sio_buf_printf(b, "},\"time\":%lld}\n", st->time);
	return rc;
}

static int
stats_metric(struct sio_buf *b, const char *name, const char *type,
             const char *help, double v)
{
	return sio_buf_printf(b,
	                      "# HELP siogate_%s %s\n# TYPE siogate_%s %s\n"
	                      "siogate_%s %.17g\n",
	                      name, help, name, type, name, v);
}

static int
stats_prometheus_put(struct sio_buf *b, const struct sio_store_stats *st)
{
	const struct {
		const char *name, *type, *help;
		double v;
	} m[] = {
	    {"active_sessions", "gauge", "Sessions from handshake to end.",
	     (double)st->active_sessions},
	    {"peak_sessions", "gauge", "Most active sessions at once.",
	     (double)st->peak_sessions},
	    {"active_connections", "gauge",
	     "Sessions with a transport attached now.",
	     (double)st->active_connections},
	    {"peak_connections", "gauge", "Most active connections at once.",
	     (double)st->peak_connections},
	    {"connections_per_second", "gauge",
	     "Transport attaches per second over the last 10 s.",
	     st->connections_ps},
	    {"packets_sent_per_second", "gauge",
	     "Packets written to clients per second over the last 10 s.",
	     st->packets_sent_ps},
	    {"packets_received_per_second", "gauge",
	     "Packets received from clients per second over the last 10 s.",
	     st->packets_received_ps},
	    {"sessions_opened_total", "counter",
	     "Handshakes that opened a "
	     "session.",
	     (double)st->sessions_opened},
	    {"connections_opened_total", "counter", "Transport attaches.",
	     (double)st->connections_opened},
	    {"packets_sent_total", "counter", "Packets written to clients.",
	     (double)st->packets_sent},
	    {"packets_received_total", "counter",
	     "Packets received from clients.", (double)st->packets_received},
	    {"queued_packets", "gauge", "Packets waiting in outboxes.",
	     (double)st->queued_packets},
	};
	int rc = SIO_OK;

	for (size_t i = 0; rc == SIO_OK && i < sizeof(m) / sizeof(m[0]); i++)
		rc = stats_metric(b, m[i].name, m[i].type, m[i].help, m[i].v);
	if (rc == SIO_OK)
		rc = sio_buf_puts(
		    b, "# HELP siogate_sessions Active sessions by transport.\n"
		       "# TYPE siogate_sessions gauge\n");
	if (rc == SIO_OK)
		rc = sio_buf_printf(b,
		                    "siogate_sessions{transport=\"none\"} "
		                    "%lld\n",
		                    st->sessions_no_transport);
	for (int t = 0; rc == SIO_OK && t < SIO_TRANSPORT_COUNT; t++)
		rc = sio_buf_printf(b,
		                    "siogate_sessions{transport=\"%s\"} "
		                    "%lld\n",
		                    sio_config_transport_name(t),
		                    st->sessions[t]);
	return rc;
}

int
sio_stats_json(struct sio_buf *b, const struct sio_store_stats *st)
{
	size_t len = b->len;
	int rc = stats_json_put(b, st);

	if (rc != SIO_OK)
		sio_buf_truncate(b, len);
	return rc;
}

int
sio_stats_prometheus(struct sio_buf *b, const struct sio_store_stats *st)
{
	size_t len = b->len;
	int rc = stats_prometheus_put(b, st);

	if (rc != SIO_OK)
		sio_buf_truncate(b, len);
	return rc;
}
