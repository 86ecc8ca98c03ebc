/*
 * rpcping: TornadIO2's rpcping example, an event answered by an emitted
 * event. The client emits `ping` with (client, text), positionally
 *   socket.emit('ping', client, text)
 * or as one object (TornadIO2 unpacked it into keyword arguments)
 *   socket.emit('ping', {client: client, text: text})
 * and the server emits back `pong` with (client, [hours, minutes, seconds,
 * milliseconds]), the server's local time.
 */
#include <time.h>

#include <siogate.h>

#ifdef SIO_BUILD_PLUGIN
#define sio_rpcping_plugin sio_plugin
#endif

static int
rpcping_ping(struct sio_conn *c, json_t *args, json_t *reply)
{
	json_t *first = json_array_get(args, 0), *client, *pong;
	struct timespec ts;
	struct tm tm;
	int rc;

	(void)reply;
	if (json_array_size(args) == 1 && json_is_object(first))
		client = json_object_get(first, "client"); /* the dict form */
	else
		client = first;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	pong = json_pack("[O[iiii]]", client ? client : json_null(), tm.tm_hour,
	                 tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
	if (pong == NULL)
		return SIO_ERR;
	rc = sio_emit(c, "pong", pong);
	json_decref(pong);
	return rc;
}

static const struct sio_event_handler rpcping_events[] = {
    {"ping", rpcping_ping},
    {NULL, NULL},
};

static const struct sio_app rpcping_root = {
    .endpoint = "",
    .events = rpcping_events,
};

static const struct sio_app *const rpcping_apps[] = {
    &rpcping_root,
    NULL,
};

const struct sio_plugin sio_rpcping_plugin = {
    .api_version = SIO_API_VERSION,
    .name = "rpcping",
    .apps = rpcping_apps,
};
