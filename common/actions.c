/*
 * actions.c: JSON actions from outside a session's callbacks (actions.h).
 * The parse reads the body with jansson, checks every action and encodes
 * its packet, so that the apply only writes; the apply goes through the
 * store's calls that the C API's effects use (outbox put and broadcast,
 * rooms, data) and through the session engine for the disconnects, which
 * run the application's on_close.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "json.h"
#include "packet.h"
#include "payload.h"
#include "result.h"

enum action_do {
	ACTION_EMIT = 0,
	ACTION_SEND,
	ACTION_JSON,
	ACTION_JOIN,
	ACTION_LEAVE,
	ACTION_SET,
	ACTION_DISCONNECT,
	ACTION_ACK,    /* a bridge response's answer to the event's ack */
	ACTION_REJECT, /* a bridge response's refusal of open or connect */
};

static const char *const action_names[] = {
    "emit", "send",       "json", "join",   "leave",
    "set",  "disconnect", "ack",  "reject",
};
#define ACTION_NDO (sizeof(action_names) / sizeof(action_names[0]))

/* One checked action; strings are borrowed from the parsed body. */
struct action {
	enum action_do what;
	struct sio_actions_target t;
	const char *room;  /* join, leave */
	const char *key;   /* set */
	const char *value; /* set; NULL deletes */
	int flags;         /* SIO_STORE_VOLATILE */
	char *pkt;         /* emit, send, json: the encoded packet; owned */
	size_t len;
};

struct sio_actions {
	json_t *body;               /* holds the strings the actions borrow */
	char self[SIO_SID_LEN + 1]; /* the parse's self_sid, "" when none */
	char self_ep[SIO_MAX_ENDPOINT + 1]; /* the default endpoint */
	int rejected;                       /* holds a reject */
	struct action *v;
	size_t n;
};

/* The fields each action may have, "do" included: a misspelt one is
 * refused rather than ignored without a word. "broadcast" is a bridge
 * response's (a self session), checked apart. */
#define ACTION_MAX_FIELDS 8
static const char *const action_fields[ACTION_NDO][ACTION_MAX_FIELDS] = {
    [ACTION_EMIT] = {"do", "sid", "room", "endpoint", "exclude", "name", "args",
                     "volatile"},
    [ACTION_SEND] = {"do", "sid", "room", "endpoint", "exclude", "data"},
    [ACTION_JSON] = {"do", "sid", "room", "endpoint", "exclude", "data"},
    [ACTION_JOIN] = {"do", "sid", "endpoint", "room"},
    [ACTION_LEAVE] = {"do", "sid", "endpoint", "room"},
    [ACTION_SET] = {"do", "sid", "key", "value"},
    [ACTION_DISCONNECT] = {"do", "sid", "endpoint"},
    [ACTION_ACK] = {"do", "args"},
    [ACTION_REJECT] = {"do"},
};

int
sio_actions_sid_form(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return 0;
	return i == SIO_SID_LEN;
}

int
sio_actions_encode(struct sio_buf *b, int type, const char *endpoint,
                   const char *data, size_t len, size_t max_packet, char *err)
{
	struct sio_packet p;
	size_t old = b->len;

	sio_packet_init(&p, type);
	p.endpoint = endpoint;
	p.endpoint_len = strlen(endpoint);
	p.data = data;
	p.data_len = len;
	if (sio_packet_encode(b, &p) != SIO_OK)
		return sio_err(err, "cannot encode for endpoint '%s'",
		               endpoint);
	/* Every transport carries text: a packet the client cannot read
	 * would hold back the session's queue behind it. */
	if (sio_payload_utf16_len(b->p + old, b->len - old) < 0) {
		sio_buf_truncate(b, old);
		return sio_err(err, "the text or endpoint is not valid UTF-8");
	}
	if (b->len - old > max_packet) {
		sio_err(err, "packet of %zu bytes, over max_packet %zu",
		        b->len - old, max_packet);
		sio_buf_truncate(b, old);
		return SIO_ERR;
	}
	return SIO_OK;
}

int
sio_actions_event(struct sio_buf *b, const char *name, json_t *args, char *err)
{
	size_t n = strlen(name);

	if (n == 0 || n > SIO_MAX_EVENT_NAME ||
	    sio_json_event_encode(b, name, args) != SIO_OK)
		return sio_err(err, "bad event name '%.*s'",
		               n > 64 ? 64 : (int)n, name);
	return SIO_OK;
}

/* The put of a session target: its state and endpoint checked first, so
 * that the answer says which is wrong. */
static int
actions_queue_session(struct sio_store *st, const struct sio_actions_target *t,
                      const char *pkt, size_t len, int flags)
{
	int room, attached, rc;

	rc = sio_store_outbox_room(st, t->sid, &room, &attached, NULL);
	if (rc == SIO_ABSENT || rc == SIO_CLOSED)
		return rc;
	if (rc != SIO_OK)
		return SIO_ERR;
	rc = sio_store_endpoint_has(st, t->sid, t->endpoint);
	if (rc <= 0)
		return rc == 0 ? SIO_ACTIONS_NOT_CONNECTED : SIO_ERR;
	if ((flags & SIO_STORE_VOLATILE) && !attached)
		return 0; /* socket.io 0.9's volatile: nobody to hear it */
	rc = sio_store_outbox_put(st, t->sid, pkt, len, flags, 0);
	return rc == SIO_OK ? 1 : rc;
}

int
sio_actions_queue(struct sio_store *st, const struct sio_actions_target *t,
                  const char *pkt, size_t len, int flags)
{
	if (t->sid != NULL)
		return actions_queue_session(st, t, pkt, len, flags);
	return sio_store_outbox_broadcast(st, t->endpoint, t->room, t->exclude,
	                                  pkt, len, flags, 0);
}

/* --- the apply ------------------------------------------------------------ */

/* {"error": msg} */
static json_t *
apply_error(const char *msg)
{
	return json_pack("{ss}", "error", msg);
}

/* A session that can still be ended is live: the engine's table says. */
static int
apply_live(struct sio_store *st, const char *sid)
{
	long long last_recv;
	int state = sio_store_session_state(st, sid, &last_recv);

	if (state == SIO_ABSENT)
		return 0;
	if (state < 0)
		return SIO_ERR;
	return sio_session_next(state, -1, SIO_EVENT_END) != NULL;
}

/* emit, send, json: the packet queued; NULL when the store failed. */
static json_t *
apply_packet(struct sio_session_ctx *x, const struct action *a)
{
	size_t max = x->cfg != NULL ? x->cfg->max_packet : SIO_MAX_PACKET;
	int n;

	if (a->len > max)
		return apply_error("packet too big");
	n = sio_actions_queue(x->store, &a->t, a->pkt, a->len, a->flags);
	switch (n) {
	case SIO_ABSENT:
	case SIO_CLOSED:
		return apply_error("no such session");
	case SIO_ACTIONS_NOT_CONNECTED:
		return apply_error("endpoint not connected");
	case SIO_FULL:
		return json_pack("{sisi}", "queued", 0, "dropped", 1);
	case SIO_ERR:
		return NULL;
	}
	return json_pack("{si}", "queued", n);
}

/* join, leave, set: for a live session; NULL when the store failed. */
static json_t *
apply_session(struct sio_store *st, const struct action *a)
{
	int rc = apply_live(st, a->t.sid);

	if (rc == 0)
		return apply_error("no such session");
	if (rc > 0 && a->what == ACTION_JOIN)
		rc = sio_store_endpoint_has(st, a->t.sid, a->t.endpoint);
	if (rc == 0)
		return apply_error("endpoint not connected");
	if (rc < 0)
		return NULL;
	if (a->what == ACTION_JOIN)
		rc = sio_store_room_join(st, a->t.sid, a->t.endpoint, a->room);
	else if (a->what == ACTION_LEAVE)
		rc = sio_store_room_leave(st, a->t.sid, a->t.endpoint, a->room);
	else
		rc = sio_store_data_put(st, a->t.sid, a->key, a->value);
	return rc == SIO_OK ? json_pack("{sb}", "done", 1) : NULL;
}

/* A disconnect, after the commit: the engine ends the session or
 * disconnects the endpoint, running on_close. */
static json_t *
apply_disconnect(struct sio_session_ctx *x, const struct action *a,
                 long long now)
{
	int rc;

	if (a->t.endpoint[0] == '\0')
		rc = sio_session_end(x, a->t.sid, "published", now);
	else
		rc =
		    sio_session_close_endpoint(x, a->t.sid, a->t.endpoint, now);
	if (rc == 1)
		return json_pack("{sb}", "done", 1);
	if (rc == 0 && a->t.endpoint[0] != '\0')
		return apply_error("endpoint not connected");
	if (rc == 0 || rc == SIO_CLOSED)
		return apply_error("no such session");
	return apply_error("store failed");
}

/* Every action but the disconnects, in the open transaction, appended to
 * results (a disconnect's place holds null for sio_actions_disconnect()).
 * SIO_OK or SIO_ERR (the caller rolls back). */
static int
apply_locked(struct sio_session_ctx *x, const struct sio_actions *a,
             json_t *results)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct action *ac = &a->v[i];
		json_t *o;

		if (ac->what == ACTION_DISCONNECT)
			o = json_null();
		else if (ac->what == ACTION_REJECT)
			o = json_pack("{sb}", "done", 1);
		else if (ac->what <= ACTION_JSON || ac->what == ACTION_ACK)
			o = apply_packet(x, ac);
		else
			o = apply_session(x->store, ac);
		if (o == NULL || json_array_append_new(results, o) != 0)
			return SIO_ERR;
	}
	return SIO_OK;
}

int
sio_actions_apply_locked(struct sio_session_ctx *x, const struct sio_actions *a,
                         json_t *results)
{
	if (json_array_size(results) != 0 ||
	    !sio_store_in_transaction(x->store))
		return SIO_ERR;
	return apply_locked(x, a, results);
}

int
sio_actions_rejected(const struct sio_actions *a)
{
	return a->rejected;
}

int
sio_actions_apply(struct sio_session_ctx *x, const struct sio_actions *a,
                  json_t *results)
{
	struct sio_store *st = x->store;

	/* it refuses, saying so, when a transaction is open already */
	if (json_array_size(results) != 0 || sio_store_begin(st) != SIO_OK)
		return SIO_ERR;
	if (apply_locked(x, a, results) != SIO_OK) {
		sio_store_rollback(st);
		json_array_clear(results);
		return SIO_ERR;
	}
	if (sio_store_commit(st) != SIO_OK) {
		json_array_clear(results);
		return SIO_ERR;
	}
	return SIO_OK;
}

int
sio_actions_is_disconnect(const struct sio_actions *a, size_t i)
{
	return i < a->n && a->v[i].what == ACTION_DISCONNECT;
}

int
sio_actions_disconnect(struct sio_session_ctx *x, const struct sio_actions *a,
                       size_t i, long long now, json_t *results)
{
	json_t *o;

	if (!sio_actions_is_disconnect(a, i) || i >= json_array_size(results))
		return SIO_ERR;
	o = apply_disconnect(x, &a->v[i], now);
	if (o == NULL || json_array_set_new(results, i, o) != 0)
		return SIO_ERR;
	return SIO_OK;
}

/* --- the parse ------------------------------------------------------------ */

/* What a parse reads with; i is the action's index for the messages. */
struct parse {
	size_t i;
	size_t max_packet;
	const char *self_sid;
	size_t disconnects;
	char *err;
	const char *self_ep; /* a bridge response's default endpoint */
	long long ack;       /* the event's ack id, -1 none */
	int may_reject;      /* the event is an open or a connect */
	int acks;            /* ack actions seen */
};

static int parse_fail(struct parse *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
parse_fail(struct parse *ps, const char *fmt, ...)
{
	char msg[SIO_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return sio_err(ps->err, "action %zu: %s", ps->i, msg);
}

/* A string field of o, at most max bytes, not empty when nonempty:
 * SIO_OK with *s (NULL when absent), else SIO_ERR. */
static int
parse_string(struct parse *ps, json_t *o, const char *field, size_t max,
             int nonempty, const char **s)
{
	json_t *v = json_object_get(o, field);

	*s = NULL;
	if (v == NULL)
		return SIO_OK;
	if (!json_is_string(v))
		return parse_fail(ps, "%s must be a string", field);
	if (json_string_length(v) > max ||
	    (nonempty && json_string_length(v) == 0))
		return parse_fail(ps, "bad %s (%d to %zu bytes)", field,
		                  nonempty, max);
	*s = json_string_value(v);
	return SIO_OK;
}

/* 1 when k is a field of what (action_fields), or a bridge response's
 * "broadcast" on a packet. */
static int
parse_field_known(const struct parse *ps, enum action_do what, const char *k)
{
	for (size_t f = 0; f < ACTION_MAX_FIELDS; f++)
		if (action_fields[what][f] != NULL &&
		    strcmp(action_fields[what][f], k) == 0)
			return 1;
	return ps->self_sid != NULL && what <= ACTION_JSON &&
	       strcmp(k, "broadcast") == 0;
}

/* Refuses a field this kind of action does not have: a misspelt one
 * would otherwise be ignored without a word. */
static int
parse_fields(struct parse *ps, json_t *o, enum action_do what)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
	{
		if (!parse_field_known(ps, what, k))
			return parse_fail(ps, "%s has no field '%.32s'",
			                  action_names[what], k);
	}
	return SIO_OK;
}

/* "do": which action; SIO_ERR for a missing or unknown one. */
static int
parse_do(struct parse *ps, json_t *o, enum action_do *what)
{
	const char *s;

	if (parse_string(ps, o, "do", 32, 1, &s) != SIO_OK)
		return SIO_ERR;
	if (s == NULL)
		return parse_fail(ps, "needs a \"do\"");
	for (size_t d = 0; d < ACTION_NDO; d++)
		if (strcmp(s, action_names[d]) == 0) {
			*what = (enum action_do)d;
			return SIO_OK;
		}
	return parse_fail(ps, "unknown do '%s'", s);
}

/* A sid field (sid, exclude): of the form siogate makes, or absent. */
static int
parse_sid(struct parse *ps, json_t *o, const char *field, const char **s)
{
	json_t *v = json_object_get(o, field);

	*s = json_string_value(v);
	if (v != NULL && (*s == NULL || !sio_actions_sid_form(*s)))
		return parse_fail(ps, "bad %s (not a session id)", field);
	return SIO_OK;
}

/* The endpoint: "" or "/name", encodable; "/" is the root, as the 0.9
 * client's io.connect('/') means. */
static int
parse_endpoint(struct parse *ps, json_t *o, const char **ep)
{
	if (parse_string(ps, o, "endpoint", SIO_MAX_ENDPOINT, 0, ep) != SIO_OK)
		return SIO_ERR;
	if (*ep == NULL)
		*ep = ps->self_ep != NULL ? ps->self_ep : "";
	if (strcmp(*ep, "/") == 0)
		*ep = "";
	if ((*ep)[0] != '\0' && ((*ep)[0] != '/' || strchr(*ep, ':') != NULL))
		return parse_fail(ps, "bad endpoint '%.64s' (\"\" or /name)",
		                  *ep);
	return SIO_OK;
}

/* The target of a: sid, room, endpoint, exclude, broadcast. */
static int
parse_target(struct parse *ps, json_t *o, struct action *a)
{
	struct sio_actions_target *t = &a->t;
	json_t *bc = json_object_get(o, "broadcast");
	int packet = a->what <= ACTION_JSON;

	if (parse_sid(ps, o, "sid", &t->sid) != SIO_OK ||
	    parse_sid(ps, o, "exclude", &t->exclude) != SIO_OK ||
	    parse_endpoint(ps, o, &t->endpoint) != SIO_OK ||
	    parse_string(ps, o, "room", SIO_ACTIONS_MAX_NAME, 1, &a->room) !=
	        SIO_OK)
		return SIO_ERR;
	if (bc != NULL && !json_is_boolean(bc))
		return parse_fail(ps, "broadcast must be true or false");
	if (packet)
		t->room = a->room;
	if (t->sid != NULL && (t->room != NULL || json_is_true(bc)))
		return parse_fail(ps, "a sid goes with neither room nor "
		                      "broadcast");
	if (t->exclude != NULL && (!packet || t->sid != NULL))
		return parse_fail(ps, "exclude goes with a room or endpoint "
		                      "target");
	/* a bridge response's action without a target is for the session
	 * of the event */
	if (t->sid == NULL && t->room == NULL && !json_is_true(bc) &&
	    ps->self_sid != NULL)
		t->sid = ps->self_sid;
	if (!packet && t->sid == NULL)
		return parse_fail(ps, "%s needs a sid", action_names[a->what]);
	return SIO_OK;
}

/* Encodes a's packet of type with data into a->pkt. */
static int
parse_packet(struct parse *ps, struct action *a, int type, const char *data,
             size_t len)
{
	char err[SIO_ERR_LEN];
	struct sio_buf b;

	sio_buf_init(&b);
	if (sio_actions_encode(&b, type, a->t.endpoint, data, len,
	                       ps->max_packet, err) != SIO_OK) {
		sio_buf_cleanup(&b);
		return parse_fail(ps, "%s", err);
	}
	a->len = b.len;
	a->pkt = sio_buf_steal(&b);
	return a->pkt != NULL ? SIO_OK : sio_err(ps->err, "out of memory");
}

/* parse_packet() of the data in b, which it frees. */
static int
parse_packet_of(struct parse *ps, struct action *a, int type, struct sio_buf *b)
{
	int rc = parse_packet(ps, a, type, b->p, b->len);

	sio_buf_cleanup(b);
	return rc;
}

/* emit: name, args, volatile. */
static int
parse_emit(struct parse *ps, json_t *o, struct action *a)
{
	json_t *args = json_object_get(o, "args");
	json_t *vol = json_object_get(o, "volatile");
	json_t *name = json_object_get(o, "name");
	char err[SIO_ERR_LEN];
	struct sio_buf b;

	if (name == NULL)
		return parse_fail(ps, "emit needs a name");
	if (!json_is_string(name))
		return parse_fail(ps, "name must be a string");
	if (args != NULL && !json_is_array(args))
		return parse_fail(ps, "args must be an array");
	if (vol != NULL && !json_is_boolean(vol))
		return parse_fail(ps, "volatile must be true or false");
	a->flags = json_is_true(vol) ? SIO_STORE_VOLATILE : 0;
	sio_buf_init(&b);
	if (sio_actions_event(&b, json_string_value(name), args, err) !=
	    SIO_OK) {
		sio_buf_cleanup(&b);
		return parse_fail(ps, "%s", err);
	}
	return parse_packet_of(ps, a, SIO_PKT_EVENT, &b);
}

/* send (a string) and json (any value): data. */
static int
parse_data(struct parse *ps, json_t *o, struct action *a)
{
	json_t *data = json_object_get(o, "data");
	struct sio_buf b;

	if (data == NULL)
		return parse_fail(ps, "%s needs data", action_names[a->what]);
	if (a->what == ACTION_SEND) {
		if (!json_is_string(data))
			return parse_fail(ps, "data must be a string");
		return parse_packet(ps, a, SIO_PKT_MESSAGE,
		                    json_string_value(data),
		                    json_string_length(data));
	}
	sio_buf_init(&b);
	if (sio_json_encode(&b, data) != SIO_OK) {
		sio_buf_cleanup(&b);
		return sio_err(ps->err, "out of memory");
	}
	return parse_packet_of(ps, a, SIO_PKT_JSON, &b);
}

/* set: key, value (a string, or null to delete). */
static int
parse_set(struct parse *ps, json_t *o, struct action *a)
{
	json_t *v = json_object_get(o, "value");

	if (parse_string(ps, o, "key", SIO_ACTIONS_MAX_NAME, 1, &a->key) !=
	    SIO_OK)
		return SIO_ERR;
	if (a->key == NULL)
		return parse_fail(ps, "set needs a key");
	if (v == NULL)
		return parse_fail(ps, "set needs a value (null deletes)");
	if (!json_is_string(v) && !json_is_null(v))
		return parse_fail(ps, "value must be a string or null");
	if (json_string_length(v) > SIO_ACTIONS_MAX_VALUE)
		return parse_fail(ps, "value of %zu bytes, over %d",
		                  json_string_length(v), SIO_ACTIONS_MAX_VALUE);
	a->value = json_string_value(v);
	return SIO_OK;
}

/* A bridge response's ack (`6::ep:id+[args]` to the event's session,
 * once, when the client asked for one) and reject (of an open or a
 * connect). */
static int
parse_self_action(struct parse *ps, json_t *o, struct action *a)
{
	json_t *args = json_object_get(o, "args");
	struct sio_buf b;

	if (ps->self_sid == NULL)
		return parse_fail(ps, "%s is for bridge responses",
		                  action_names[a->what]);
	a->t.sid = ps->self_sid;
	a->t.endpoint = ps->self_ep != NULL ? ps->self_ep : "";
	if (a->what == ACTION_REJECT) {
		if (!ps->may_reject)
			return parse_fail(ps, "reject answers only an open or "
			                      "a connect");
		return SIO_OK;
	}
	if (ps->ack < 0)
		return parse_fail(ps, "the event asked for no ack");
	if (++ps->acks > 1)
		return parse_fail(ps, "one ack per event");
	if (args != NULL && !json_is_array(args))
		return parse_fail(ps, "args must be an array");
	sio_buf_init(&b);
	if (sio_buf_printf(&b, "%lld", ps->ack) != SIO_OK ||
	    (json_array_size(args) > 0 &&
	     (sio_buf_putc(&b, '+') != SIO_OK ||
	      sio_json_encode(&b, args) != SIO_OK))) {
		sio_buf_cleanup(&b);
		return sio_err(ps->err, "out of memory");
	}
	return parse_packet_of(ps, a, SIO_PKT_ACK, &b);
}

/* One action of the body: its kind, fields, target and packet. */
static int
parse_action(struct parse *ps, json_t *o, struct action *a)
{
	if (!json_is_object(o))
		return parse_fail(ps, "not an object");
	if (parse_do(ps, o, &a->what) != SIO_OK ||
	    parse_fields(ps, o, a->what) != SIO_OK)
		return SIO_ERR;
	if (a->what >= ACTION_ACK)
		return parse_self_action(ps, o, a);
	if (parse_target(ps, o, a) != SIO_OK)
		return SIO_ERR;
	switch (a->what) {
	case ACTION_EMIT:
		return parse_emit(ps, o, a);
	case ACTION_SEND:
	case ACTION_JSON:
		return parse_data(ps, o, a);
	case ACTION_JOIN:
	case ACTION_LEAVE:
		if (a->room == NULL)
			return parse_fail(ps, "%s needs a room",
			                  action_names[a->what]);
		return SIO_OK;
	case ACTION_SET:
		return parse_set(ps, o, a);
	case ACTION_ACK:
	case ACTION_REJECT:
		break;
	case ACTION_DISCONNECT:
		/* each runs on_close with the writer held: bounded */
		if (++ps->disconnects > SIO_ACTIONS_MAX_DISCONNECTS) {
			parse_fail(ps, "more than %d disconnects",
			           SIO_ACTIONS_MAX_DISCONNECTS);
			return SIO_TOO_BIG;
		}
		return SIO_OK;
	}
	return SIO_ERR;
}

/* The body's actions array, its size checked against max. */
static int
parse_body(const char *body, size_t len, size_t max, json_t **root,
           json_t **list, char *err)
{
	json_error_t jerr;

	if (!sio_json_depth_ok(body, len, SIO_JSON_MAX_DEPTH)) {
		*root = NULL;
		return sio_err(err, "not JSON: nested deeper than %d",
		               SIO_JSON_MAX_DEPTH);
	}
	*root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*root == NULL)
		return sio_err(err, "not JSON: %s", jerr.text);
	*list = json_object_get(*root, "actions");
	if (!json_is_array(*list)) {
		json_decref(*root);
		return sio_err(err, "body needs an actions array");
	}
	if (json_array_size(*list) > max) {
		sio_err(err, "too many actions: %zu, at most %zu",
		        json_array_size(*list), max);
		json_decref(*root);
		return SIO_TOO_BIG;
	}
	return SIO_OK;
}

int
sio_actions_parse_max(const char *body, size_t len, size_t max,
                      size_t max_packet, const char *self_sid,
                      struct sio_actions **out, char *err)
{
	struct sio_actions_self self = {self_sid, NULL, -1, 0};

	return sio_actions_parse_self(body, len, max, max_packet,
	                              self_sid != NULL ? &self : NULL, out,
	                              err);
}

int
sio_actions_parse_self(const char *body, size_t len, size_t max,
                       size_t max_packet, const struct sio_actions_self *self,
                       struct sio_actions **out, char *err)
{
	const char *self_sid = self != NULL ? self->sid : NULL;
	struct parse ps = {0, max_packet, self_sid, 0, err, NULL, -1, 0, 0};
	struct sio_actions *a;
	json_t *root = NULL, *list = NULL;
	int rc;

	*out = NULL;
	if (self_sid != NULL && !sio_actions_sid_form(self_sid))
		return sio_err(err, "bad session id");
	if (self != NULL && self->endpoint != NULL &&
	    strlen(self->endpoint) > SIO_MAX_ENDPOINT)
		return sio_err(err, "bad endpoint");
	if ((rc = parse_body(body, len, max, &root, &list, err)) != SIO_OK)
		return rc;
	a = calloc(1, sizeof(*a));
	if (a == NULL ||
	    (json_array_size(list) > 0 &&
	     (a->v = calloc(json_array_size(list), sizeof(*a->v))) == NULL)) {
		free(a);
		json_decref(root);
		return sio_err(err, "out of memory");
	}
	a->body = root;
	if (self_sid != NULL) {
		memcpy(a->self, self_sid, SIO_SID_LEN + 1);
		ps.self_sid = a->self;
		strcpy(a->self_ep, self->endpoint ? self->endpoint : "");
		ps.self_ep = a->self_ep;
		ps.ack = self->ack;
		ps.may_reject = self->may_reject;
	}
	for (; ps.i < json_array_size(list); ps.i++, a->n++) {
		rc = parse_action(&ps, json_array_get(list, ps.i), &a->v[ps.i]);
		if (rc != SIO_OK) {
			a->n++; /* its packet, if any, is freed too */
			sio_actions_free(a);
			return rc == SIO_TOO_BIG ? rc : SIO_ERR;
		}
		if (a->v[ps.i].what == ACTION_REJECT)
			a->rejected = 1;
	}
	*out = a;
	return SIO_OK;
}

int
sio_actions_parse(const char *body, size_t len, size_t max,
                  const char *self_sid, struct sio_actions **out, char *err)
{
	return sio_actions_parse_max(body, len, max, SIO_MAX_PACKET, self_sid,
	                             out, err);
}

size_t
sio_actions_count(const struct sio_actions *a)
{
	return a->n;
}

void
sio_actions_free(struct sio_actions *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i].pkt);
	free(a->v);
	json_decref(a->body);
	free(a);
}
