/*
 * ackping: TornadIO2's ackping example, an event whose ack carries several
 * values. The client emits `ping` with its date and a callback:
 *   socket.emit('ping', new Date(), function (clientDate, serverTime) {...})
 * and the ack brings back the client's date as it was sent and the
 * server's time, [hours, minutes, seconds, milliseconds] (local time).
 */
#include <time.h>

#include <siogate.h>

#ifdef SIO_BUILD_PLUGIN
#define sio_ackping_plugin sio_plugin
#endif

static int
ackping_ping(struct sio_conn *c, json_t *args, json_t *reply)
{
	json_t *client = json_array_get(args, 0);
	struct timespec ts;
	struct tm tm;

	(void)c;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	json_array_append_new(reply,
	                      client ? json_incref(client) : json_null());
	json_array_append_new(reply, json_pack("[iiii]", tm.tm_hour, tm.tm_min,
	                                       tm.tm_sec,
	                                       (int)(ts.tv_nsec / 1000000)));
	return SIO_OK;
}

static const struct sio_event_handler ackping_events[] = {
    {"ping", ackping_ping},
    {NULL, NULL},
};

static const struct sio_app ackping_root = {
    .endpoint = "",
    .events = ackping_events,
};

static const struct sio_app *const ackping_apps[] = {
    &ackping_root,
    NULL,
};

const struct sio_plugin sio_ackping_plugin = {
    .api_version = SIO_API_VERSION,
    .name = "ackping",
    .apps = ackping_apps,
};
