/*
 * multiplexed: TornadIO2's multiplexed example, two applications on one
 * connection. The root endpoint does little (TornadIO2's RouterConnection):
 * at the handshake it names the user "UserN", N being the number of
 * sessions opened so far with this one (sio_stats; two handshakes at the
 * same instant may get the same N, as TornadIO2's counter could). /chat is a
 * chat room of every session connected to it: a welcome, "UserN joined",
 * "UserN: text" for each message, "UserN left". /ping takes a JSON message
 * (`ping.json.send({...})`) and sends it back with the server's time added
 * as "server": [hours, minutes, seconds, milliseconds] (local time) and
 * "server_ms" (milliseconds since the epoch).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <siogate.h>

#ifdef SIO_BUILD_PLUGIN
#define sio_multiplexed_plugin sio_plugin
#endif

#define MUX_MAX_LINE 4096

/* Names the session's user at the handshake: User<sessions opened>. */
static int
mux_root_open(struct sio_conn *c, const struct sio_request *req)
{
	json_t *stats = json_object();
	char name[32];
	int rc;

	(void)req;
	if (stats == NULL)
		return SIO_ERR;
	rc = sio_stats(c, stats);
	if (rc == SIO_OK) {
		snprintf(name, sizeof(name), "User%lld",
		         (long long)json_integer_value(
		             json_object_get(stats, "sessions_opened")));
		rc = sio_data_set(c, "name", name);
	}
	json_decref(stats);
	return rc;
}

static const struct sio_app mux_root = {
    .endpoint = "",
    .on_open = mux_root_open,
};

/* --- /chat -------------------------------------------------------------- */

static int
mux_chat_open(struct sio_conn *c, const struct sio_request *req)
{
	static const char hello[] = "Welcome from the server.";
	char *name = sio_data_get(c, "name");
	char line[MUX_MAX_LINE];
	int rc;

	(void)req;
	if (name == NULL)
		return SIO_REJECT;
	rc = sio_send(c, hello, sizeof(hello) - 1);
	if (rc == SIO_OK) {
		int n = snprintf(line, sizeof(line), "%s joined", name);
		rc = sio_broadcast_send(c, NULL, 0, line, (size_t)n);
	}
	free(name);
	return rc;
}

static int
mux_chat_message(struct sio_conn *c, const char *msg, size_t len, json_t *reply)
{
	char *name = sio_data_get(c, "name");
	char line[MUX_MAX_LINE];
	int n, rc;

	(void)reply;
	if (name == NULL)
		return SIO_OK;
	n = snprintf(line, sizeof(line), "%s: %.*s", name,
	             (int)(len > MUX_MAX_LINE ? MUX_MAX_LINE : len), msg);
	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	rc = sio_broadcast_send(c, NULL, 0, line, (size_t)n);
	free(name);
	return rc;
}

static void
mux_chat_close(struct sio_conn *c)
{
	char *name = sio_data_get(c, "name");
	char line[MUX_MAX_LINE];

	if (name != NULL) {
		int n = snprintf(line, sizeof(line), "%s left", name);
		sio_broadcast_send(c, NULL, 1, line, (size_t)n);
	}
	free(name);
}

static const struct sio_app mux_chat = {
    .endpoint = "/chat",
    .on_open = mux_chat_open,
    .on_message = mux_chat_message,
    .on_close = mux_chat_close,
};

/* --- /ping -------------------------------------------------------------- */

/* [hours, minutes, seconds, milliseconds] of now, local time. */
static json_t *
mux_clock(void)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	return json_pack("[iiii]", tm.tm_hour, tm.tm_min, tm.tm_sec,
	                 (int)(ts.tv_nsec / 1000000));
}

static int
mux_ping_json(struct sio_conn *c, json_t *value, json_t *reply)
{
	json_t *out;
	struct timespec ts;
	int rc;

	(void)reply;
	/* An object gets the time added; anything else is wrapped first. */
	if (json_is_object(value))
		out = json_copy(value);
	else
		out = json_pack("{sO}", "value", value);
	if (out == NULL)
		return SIO_ERR;
	clock_gettime(CLOCK_REALTIME, &ts);
	json_object_set_new(out, "server", mux_clock());
	json_object_set_new(
	    out, "server_ms",
	    json_integer((json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
	rc = sio_send_json(c, out);
	json_decref(out);
	return rc;
}

static const struct sio_app mux_ping = {
    .endpoint = "/ping",
    .on_json = mux_ping_json,
};

static const struct sio_app *const mux_apps[] = {
    &mux_root,
    &mux_chat,
    &mux_ping,
    NULL,
};

const struct sio_plugin sio_multiplexed_plugin = {
    .api_version = SIO_API_VERSION,
    .name = "multiplexed",
    .apps = mux_apps,
};
