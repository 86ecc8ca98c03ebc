/*
 * chat: the chat room of TornadIO2's examples. A user joins a room with a
 * name (event `join` with [name] or [name, room]); every message then goes
 * to everyone in the room as "name: text", and the room hears when someone
 * joins or leaves. The name and room are session data, so any process can
 * serve any user. A line longer than CHAT_MAX_LINE - 1 bytes is cut, on a
 * character boundary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <siogate.h>

#ifdef SIO_BUILD_PLUGIN
#define sio_chat_plugin sio_plugin
#endif

#define CHAT_MAX_NAME 64
#define CHAT_MAX_LINE 4096

/* Sends a notice to the user's room (all of it, or all but the user). */
static int
chat_notice(struct sio_conn *c, const char *room, int exclude_self,
            const char *text)
{
	return sio_broadcast_send(c, room, exclude_self, text, strlen(text));
}

static int
chat_open(struct sio_conn *c, const struct sio_request *req)
{
	static const char hello[] =
	    "Welcome! Emit 'join' with your name to enter a room.";

	(void)req;
	return sio_send(c, hello, sizeof(hello) - 1);
}

static int
chat_join(struct sio_conn *c, json_t *args, json_t *reply)
{
	const char *name = json_string_value(json_array_get(args, 0));
	const char *room = json_string_value(json_array_get(args, 1));
	char line[CHAT_MAX_LINE];
	char *old = sio_data_get(c, "name");
	int rc;

	if (old != NULL || name == NULL || *name == '\0' ||
	    strlen(name) > CHAT_MAX_NAME) {
		free(old);
		json_array_append_new(reply, json_false());
		return SIO_OK; /* already joined, or no usable name */
	}
	if (room == NULL || *room == '\0' || strlen(room) > CHAT_MAX_NAME)
		room = "lobby";
	rc = sio_data_set(c, "name", name);
	if (rc == SIO_OK)
		rc = sio_data_set(c, "room", room);
	if (rc == SIO_OK)
		rc = sio_join(c, room);
	snprintf(line, sizeof(line), "%s joined %s", name, room);
	if (rc == SIO_OK)
		rc = chat_notice(c, room, 0, line);
	json_array_append_new(reply, json_true());
	return rc;
}

/* How many bytes of the UTF-8 text s[0..len) fit in room: a long message
 * is cut on a character boundary, never inside one (a packet that is not
 * UTF-8 is refused: the text sent would not be). */
static size_t
chat_fit(const char *s, size_t len, size_t room)
{
	if (len <= room)
		return len;
	/* s[room] is the first byte left out; back to its character's start */
	while (room > 0 && ((unsigned char)s[room] & 0xc0) == 0x80)
		room--;
	return room;
}

static int
chat_message(struct sio_conn *c, const char *msg, size_t len, json_t *reply)
{
	char *name = sio_data_get(c, "name"), *room = sio_data_get(c, "room");
	char line[CHAT_MAX_LINE];
	int rc = SIO_OK;

	(void)reply;
	if (name == NULL || room == NULL) {
		static const char first[] = "Join a room first.";
		rc = sio_send(c, first, sizeof(first) - 1);
	} else {
		size_t fit = sizeof(line) - 1 - strlen(name) - 2;
		int n = snprintf(line, sizeof(line), "%s: %.*s", name,
		                 (int)chat_fit(msg, len, fit), msg);
		if (n >= (int)sizeof(line))
			n = (int)sizeof(line) - 1;
		rc = sio_broadcast_send(c, room, 0, line, (size_t)n);
	}
	free(name);
	free(room);
	return rc;
}

static void
chat_close(struct sio_conn *c)
{
	char *name = sio_data_get(c, "name"), *room = sio_data_get(c, "room");
	char line[CHAT_MAX_LINE];

	if (name != NULL && room != NULL) {
		snprintf(line, sizeof(line), "%s left", name);
		chat_notice(c, room, 1, line);
	}
	free(name);
	free(room);
}

static const struct sio_event_handler chat_events[] = {
    {"join", chat_join},
    {NULL, NULL},
};

static const struct sio_app chat_root = {
    .endpoint = "",
    .on_open = chat_open,
    .on_message = chat_message,
    .on_close = chat_close,
    .events = chat_events,
};

static const struct sio_app *const chat_apps[] = {
    &chat_root,
    NULL,
};

const struct sio_plugin sio_chat_plugin = {
    .api_version = SIO_API_VERSION,
    .name = "chat",
    .apps = chat_apps,
};
