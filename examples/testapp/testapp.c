/*
 * testapp: the application every interop test and benchmark talks to. It
 * behaves the same on the root endpoint and on /chat, answering on the
 * endpoint the request came on: echo of messages, json and events,
 * broadcast, trigger (server-initiated events, optionally delayed and
 * acknowledged), kick and sleep (a slow handler). The table is in
 * docs/development.md.
 */
#include <string.h>
#include <time.h>

#include <siogate.h>

#ifdef SIO_BUILD_PLUGIN
#define sio_testapp_plugin sio_plugin
#endif

static int
testapp_message(struct sio_conn *c, const char *msg, size_t len, json_t *reply)
{
	if (sio_ack_requested(c))
		json_array_append_new(reply, json_stringn(msg, len));
	return sio_send(c, msg, len);
}

static int
testapp_json(struct sio_conn *c, json_t *value, json_t *reply)
{
	if (sio_ack_requested(c))
		json_array_append(reply, value);
	return sio_send_json(c, value);
}

static int
testapp_echo(struct sio_conn *c, json_t *args, json_t *reply)
{
	if (sio_ack_requested(c))
		return json_array_extend(reply, args) == 0 ? SIO_OK : SIO_ERR;
	return sio_emit(c, "echo", args);
}

static int
testapp_broadcast(struct sio_conn *c, json_t *args, json_t *reply)
{
	(void)reply;
	return sio_broadcast_emit(c, NULL, 0, "broadcast", args);
}

/* One triggered event: args, plus the index when there are several. */
static int
testapp_trigger_one(struct sio_conn *c, const char *name, json_t *args,
                    json_int_t count, json_int_t i, int ack)
{
	json_t *a = json_copy(args);
	int rc;

	if (a == NULL)
		return SIO_ERR;
	if (count > 1)
		json_array_append_new(a, json_integer(i));
	rc = ack ? sio_emit_ack(c, "acked", name, a) : sio_emit(c, name, a);
	json_decref(a);
	return rc;
}

static int
testapp_trigger(struct sio_conn *c, json_t *args, json_t *reply)
{
	json_t *o = json_array_get(args, 0), *eargs = NULL;
	const char *name = "triggered";
	json_int_t count = 1, delay = 0, i;
	int ack = 0, rc = SIO_OK;

	if (o != NULL && json_unpack(o, "{s?s, s?o, s?I, s?I, s?b}", "name",
	                             &name, "args", &eargs, "count", &count,
	                             "delay", &delay, "ack", &ack) != 0)
		return SIO_OK; /* not a trigger object: ignore it */
	if (eargs != NULL && !json_is_array(eargs))
		return SIO_OK;
	if (count < 0 || count > 100000 || delay < 0 || delay > 3600000)
		return SIO_OK;
	if (eargs == NULL)
		eargs = json_array();
	else
		json_incref(eargs);
	sio_delay(c, (long)delay);
	for (i = 0; rc == SIO_OK && i < count; i++)
		rc = testapp_trigger_one(c, name, eargs, count, i, ack);
	sio_delay(c, 0);
	json_decref(eargs);
	json_array_append_new(reply, json_integer(count));
	return rc;
}

static int
testapp_kick(struct sio_conn *c, json_t *args, json_t *reply)
{
	(void)args;
	(void)reply;
	return sio_close(c);
}

/* A slow handler: sleeps args[0] ms (at most TESTAPP_SLEEP_MAX), then
 * acks with them, what a handler doing blocking work looks like. */
#define TESTAPP_SLEEP_MAX 2000

static int
testapp_sleep(struct sio_conn *c, json_t *args, json_t *reply)
{
	json_int_t ms = json_integer_value(json_array_get(args, 0));
	struct timespec ts;

	(void)c;
	if (ms < 0)
		ms = 0;
	if (ms > TESTAPP_SLEEP_MAX)
		ms = TESTAPP_SLEEP_MAX;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0)
		;
	return json_array_extend(reply, args) == 0 ? SIO_OK : SIO_ERR;
}

/* The client acknowledged a triggered event: tell it what it said. */
static int
testapp_acked(struct sio_conn *c, const char *name, json_t *args,
              json_t *ack_args)
{
	(void)name;
	(void)args;
	return sio_emit(c, "acked", ack_args);
}

static const struct sio_event_handler testapp_events[] = {
    {"echo", testapp_echo},       {"broadcast", testapp_broadcast},
    {"trigger", testapp_trigger}, {"kick", testapp_kick},
    {"sleep", testapp_sleep},     {NULL, NULL},
};

static const struct sio_ack_handler testapp_acks[] = {
    {"acked", testapp_acked},
    {NULL, NULL},
};

static const struct sio_app testapp_root = {
    .endpoint = "",
    .on_message = testapp_message,
    .on_json = testapp_json,
    .events = testapp_events,
    .acks = testapp_acks,
};

static const struct sio_app testapp_chat = {
    .endpoint = "/chat",
    .on_message = testapp_message,
    .on_json = testapp_json,
    .events = testapp_events,
    .acks = testapp_acks,
};

static const struct sio_app *const testapp_apps[] = {
    &testapp_root,
    &testapp_chat,
    NULL,
};

const struct sio_plugin sio_testapp_plugin = {
    .api_version = SIO_API_VERSION,
    .name = "testapp",
    .apps = testapp_apps,
};
