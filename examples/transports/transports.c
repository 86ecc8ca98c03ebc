/*
 * transports: TornadIO2's transports example, a chat-like echo to try each
 * transport by hand. Every message a client sends goes to every connected
 * client, the sender included, so the sender sees its own message come
 * back over the transport its page forced; with a data-ack request
 * (`3:<id>+::`) the ack carries the message too.
 */
#include <siogate.h>

#ifdef SIO_BUILD_PLUGIN
#define sio_transports_plugin sio_plugin
#endif

static int
transports_open(struct sio_conn *c, const struct sio_request *req)
{
	static const char hello[] = "Welcome! Every message goes to everyone.";

	(void)req;
	return sio_send(c, hello, sizeof(hello) - 1);
}

static int
transports_message(struct sio_conn *c, const char *msg, size_t len,
                   json_t *reply)
{
	if (sio_ack_requested(c))
		json_array_append_new(reply, json_stringn(msg, len));
	return sio_broadcast_send(c, NULL, 0, msg, len);
}

static const struct sio_app transports_root = {
    .endpoint = "",
    .on_open = transports_open,
    .on_message = transports_message,
};

static const struct sio_app *const transports_apps[] = {
    &transports_root,
    NULL,
};

const struct sio_plugin sio_transports_plugin = {
    .api_version = SIO_API_VERSION,
    .name = "transports",
    .apps = transports_apps,
};
