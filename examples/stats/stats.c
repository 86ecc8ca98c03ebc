/*
 * stats: TornadIO2's stats example. The page emits `stats` with a callback
 * every second and graphs what the ack brings: one object with the
 * server's counters from the store (sio_stats, the names of
 * /socket.io/stats; TornadIO2 calls the peaks max_*):
 * active_sessions, peak_sessions, active_connections, peak_connections,
 * connections_ps, packets_sent_ps, packets_received_ps, the totals and the
 * server's time in ms.
 */
#include <siogate.h>

#ifdef SIO_BUILD_PLUGIN
#define sio_stats_plugin sio_plugin
#endif

static int
stats_stats(struct sio_conn *c, json_t *args, json_t *reply)
{
	json_t *out = json_object();
	int rc;

	(void)args;
	if (out == NULL)
		return SIO_ERR;
	rc = sio_stats(c, out);
	if (rc == SIO_OK)
		json_array_append(reply, out);
	json_decref(out);
	return rc;
}

static const struct sio_event_handler stats_events[] = {
    {"stats", stats_stats},
    {NULL, NULL},
};

static const struct sio_app stats_root = {
    .endpoint = "",
    .events = stats_events,
};

static const struct sio_app *const stats_apps[] = {
    &stats_root,
    NULL,
};

const struct sio_plugin sio_stats_plugin = {
    .api_version = SIO_API_VERSION,
    .name = "stats",
    .apps = stats_apps,
};
