/*
 * queue.c: sioctl send and emit: encode a message `3::EP:TEXT` or an event
 * `5::EP:{"name":..,"args":[..]}` and queue it for one session, a room or
 * every session connected to an endpoint. Text that is not valid UTF-8 is
 * refused. The store rings the holders' doorbells after the commit, so
 * connected clients get it at once.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "ctl.h"
#include "json.h"
#include "packet.h"
#include "payload.h"
#include "store.h"

/* Where a packet goes: a session, a room of an endpoint, or the endpoint. */
struct queue_target {
	const char *sid;      /* NULL unless a session */
	const char *room;     /* NULL unless a room */
	const char *endpoint; /* "" is the root */
	int endpoint_given;
};

/* Whether s has the form of the ids siogate makes (base64url, 22). */
static int
queue_sid_form(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return 0;
	return i == SIO_SID_LEN;
}

/*
 * Reads the options and the target; *first is the first operand after the
 * target. With --endpoint and neither --room nor --sid, a first operand
 * with the form of a session id is the session, anything else means every
 * session on the endpoint. -1 on bad usage.
 */
static int
queue_target_parse(int argc, char **argv, struct queue_target *t, int *first)
{
	int i;

	memset(t, 0, sizeof(*t));
	t->endpoint = "";
	/* Only the known options are options: a sid may begin with '-'. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--endpoint") != 0 &&
		    strcmp(argv[i], "--room") != 0 &&
		    strcmp(argv[i], "--sid") != 0)
			break;
		if (i + 1 >= argc)
			return -1;
		if (strcmp(argv[i], "--endpoint") == 0) {
			t->endpoint = argv[++i];
			t->endpoint_given = 1;
		} else if (strcmp(argv[i], "--room") == 0)
			t->room = argv[++i];
		else
			t->sid = argv[++i];
	}
	if (strcmp(t->endpoint, "/") == 0)
		t->endpoint = "";
	if (t->room != NULL && t->sid != NULL)
		return -1;
	if (t->room == NULL && t->sid == NULL && i < argc &&
	    (!t->endpoint_given || queue_sid_form(argv[i])))
		t->sid = argv[i++];
	if (t->room == NULL && t->sid == NULL && !t->endpoint_given)
		return -1;
	*first = i;
	return 0;
}

static int
queue_to_session(struct ctl *c, const struct queue_target *t,
                 const struct sio_buf *b)
{
	struct sio_store *st = c->x.store;
	int rc = ctl_session_check(c, t->sid, 0);

	if (rc != CTL_EXIT_OK)
		return rc;
	rc = sio_store_endpoint_has(st, t->sid, t->endpoint);
	if (rc == 0)
		return ctl_fail(CTL_EXIT_FAIL,
		                "session %s is not connected to %s", t->sid,
		                t->endpoint);
	if (rc == 1)
		rc = sio_store_outbox_put(st, t->sid, b->p, b->len, 0, 0);
	if (rc == SIO_ABSENT || rc == SIO_CLOSED)
		return ctl_fail(CTL_EXIT_FAIL, "session %s is closed", t->sid);
	if (rc != SIO_OK)
		return ctl_fail(CTL_EXIT_FAIL, "session %s: %s", t->sid,
		                sio_store_errmsg(st));
	printf("queued %s to session %s\n", b->p, t->sid);
	return CTL_EXIT_OK;
}

/* Encodes a packet of type with data on t's endpoint and queues it. */
static int
queue_packet(struct ctl *c, const struct queue_target *t, int type,
             const char *data, size_t len)
{
	struct sio_packet p;
	struct sio_buf b;
	int rc, n;

	sio_packet_init(&p, type);
	p.endpoint = t->endpoint;
	p.endpoint_len = strlen(t->endpoint);
	p.data = data;
	p.data_len = len;
	sio_buf_init(&b);
	if (sio_packet_encode(&b, &p) != SIO_OK) {
		sio_buf_cleanup(&b);
		return ctl_fail(CTL_EXIT_USAGE,
		                "cannot encode for endpoint "
		                "'%s'",
		                t->endpoint);
	}
	/* Every transport carries text: a packet the client cannot read
	 * would hold back the session's queue behind it. */
	if (sio_payload_utf16_len(b.p, b.len) < 0) {
		sio_buf_cleanup(&b);
		return ctl_fail(CTL_EXIT_USAGE,
		                "the text or endpoint is not valid UTF-8");
	}
	if (t->sid != NULL) {
		rc = queue_to_session(c, t, &b);
	} else {
		n = sio_store_outbox_broadcast(c->x.store, t->endpoint, t->room,
		                               NULL, b.p, b.len, 0, 0);
		rc = n < 0 ? ctl_fail(CTL_EXIT_FAIL, "%s",
		                      sio_store_errmsg(c->x.store))
		           : CTL_EXIT_OK;
		if (n >= 0)
			printf("queued %s to %d session%s\n", b.p, n,
			       n == 1 ? "" : "s");
	}
	sio_buf_cleanup(&b);
	return rc;
}

int
ctl_send(struct ctl *c, int argc, char **argv)
{
	struct queue_target t;
	int i;

	if (queue_target_parse(argc, argv, &t, &i) != 0 || i + 1 != argc)
		return ctl_usage();
	return queue_packet(c, &t, SIO_PKT_MESSAGE, argv[i], strlen(argv[i]));
}

int
ctl_emit(struct ctl *c, int argc, char **argv)
{
	struct queue_target t;
	struct sio_buf b;
	json_t *args, *v;
	int i, rc;

	if (queue_target_parse(argc, argv, &t, &i) != 0 || i >= argc)
		return ctl_usage();
	args = json_array();
	for (int k = i + 1; k < argc; k++) {
		v = sio_json_parse(argv[k], strlen(argv[k]));
		if (v == NULL) {
			json_decref(args);
			return ctl_fail(CTL_EXIT_USAGE,
			                "argument %d is not JSON: %s", k - i,
			                argv[k]);
		}
		json_array_append_new(args, v);
	}
	sio_buf_init(&b);
	rc = sio_json_event_encode(&b, argv[i], args);
	json_decref(args);
	if (rc != SIO_OK || strlen(argv[i]) > SIO_MAX_EVENT_NAME)
		rc = ctl_fail(CTL_EXIT_USAGE, "bad event name '%s'", argv[i]);
	else
		rc = queue_packet(c, &t, SIO_PKT_EVENT, b.p, b.len);
	sio_buf_cleanup(&b);
	return rc;
}
