/*
 * queue.c: sioctl send and emit: encode a message `3::EP:TEXT` or an event
 * `5::EP:{"name":..,"args":[..]}` and queue it for one session, a room or
 * every session connected to an endpoint. Text that is not valid UTF-8 is
 * refused. The encoding and the queuing are the actions module's
 * (common/actions.c), which the gateway's publish endpoint uses too. The
 * store rings the holders' doorbells after the commit, so connected
 * clients get it at once.
 */
#include <stdio.h>
#include <string.h>

#include "actions.h"
#include "buf.h"
#include "ctl.h"
#include "json.h"
#include "packet.h"
#include "store.h"

/*
 * Reads the options and the target; *first is the first operand after the
 * target. With --endpoint and neither --room nor --sid, a first operand
 * with the form of a session id is the session, anything else means every
 * session on the endpoint. -1 on bad usage.
 */
static int
queue_target_parse(int argc, char **argv, struct sio_actions_target *t,
                   int *first)
{
	int i, endpoint_given = 0;

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
			endpoint_given = 1;
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
	    (!endpoint_given || sio_actions_sid_form(argv[i])))
		t->sid = argv[i++];
	if (t->room == NULL && t->sid == NULL && !endpoint_given)
		return -1;
	*first = i;
	return 0;
}

/* Queues packet b for t and says where it went. */
static int
queue_packet(struct ctl *c, const struct sio_actions_target *t,
             const struct sio_buf *b)
{
	struct sio_store *st = c->x.store;
	int rc = t->sid != NULL ? ctl_session_check(c, t->sid, 0) : CTL_EXIT_OK;

	if (rc != CTL_EXIT_OK)
		return rc;
	rc = sio_actions_queue(st, t, b->p, b->len, 0);
	if (rc == SIO_ACTIONS_NOT_CONNECTED)
		return ctl_fail(CTL_EXIT_FAIL,
		                "session %s is not connected to %s", t->sid,
		                t->endpoint);
	if (rc == SIO_ABSENT) /* ended and forgotten since the check */
		return ctl_fail(CTL_EXIT_FAIL, "no session '%s'", t->sid);
	if (rc == SIO_CLOSED)
		return ctl_fail(CTL_EXIT_FAIL, "session %s is closed", t->sid);
	if (rc < 0 && t->sid != NULL)
		return ctl_fail(CTL_EXIT_FAIL, "session %s: %s", t->sid,
		                sio_store_errmsg(st));
	if (rc < 0)
		return ctl_fail(CTL_EXIT_FAIL, "%s", sio_store_errmsg(st));
	if (t->sid != NULL)
		printf("queued %s to session %s\n", b->p, t->sid);
	else
		printf("queued %s to %d session%s\n", b->p, rc,
		       rc == 1 ? "" : "s");
	return CTL_EXIT_OK;
}

/* Encodes a packet of type with data on t's endpoint and queues it. */
static int
queue_encoded(struct ctl *c, const struct sio_actions_target *t, int type,
              const char *data, size_t len)
{
	char err[SIO_ERR_LEN];
	struct sio_buf b;
	int rc;

	sio_buf_init(&b);
	if (sio_actions_encode(&b, type, t->endpoint, data, len,
	                       c->cfg.max_packet, err) != SIO_OK)
		rc = ctl_fail(CTL_EXIT_USAGE, "%s", err);
	else
		rc = queue_packet(c, t, &b);
	sio_buf_cleanup(&b);
	return rc;
}

int
ctl_send(struct ctl *c, int argc, char **argv)
{
	struct sio_actions_target t;
	int i;

	if (queue_target_parse(argc, argv, &t, &i) != 0 || i + 1 != argc)
		return ctl_usage();
	return queue_encoded(c, &t, SIO_PKT_MESSAGE, argv[i], strlen(argv[i]));
}

int
ctl_emit(struct ctl *c, int argc, char **argv)
{
	struct sio_actions_target t;
	char err[SIO_ERR_LEN];
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
	rc = sio_actions_event(&b, argv[i], args, err);
	json_decref(args);
	if (rc != SIO_OK)
		rc = ctl_fail(CTL_EXIT_USAGE, "%s", err);
	else
		rc = queue_encoded(c, &t, SIO_PKT_EVENT, b.p, b.len);
	sio_buf_cleanup(&b);
	return rc;
}
