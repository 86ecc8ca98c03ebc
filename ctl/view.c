/*
 * view.c: the read-only subcommands of sioctl: list, show and stats. Each
 * session becomes one JSON object, which --json prints as it is and the
 * text forms print a line or a block of; the root endpoint is "/" in both,
 * as in the schema's session_view. What clients sent (packets, the
 * handshake's query and headers, endpoints, rooms) goes to the operator's
 * terminal escaped, as in the log: no escape sequence gets through.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "log.h"
#include "store.h"

#define CTL_SHOW_PACKETS 20 /* queued packets `show` prints */

/* Prints s[0..len) escaped by sio_log_escape(). */
static void
view_put(const char *s, size_t len)
{
	char buf[1024];
	size_t used;

	while (len > 0) {
		sio_log_escape(buf, sizeof(buf), s, len, &used);
		fputs(buf, stdout);
		s += used;
		len -= used;
	}
}

/* sio_log_escape() of the string s into buf (cut to fit): for a column. */
static const char *
view_esc(char *buf, size_t size, const char *s)
{
	sio_log_escape(buf, size, s, strlen(s), NULL);
	return buf;
}

static const char *
view_ep(const char *endpoint)
{
	return endpoint == NULL || endpoint[0] == '\0' ? "/" : endpoint;
}

/* Takes --json as the only option; returns the index of the first operand
 * or -1 on a bad option. */
static int
view_opts(int argc, char **argv, int *json)
{
	int i;

	*json = 0;
	/* Only the known options are options: a sid may begin with '-'. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			*json = 1;
		else if (strcmp(argv[i], "--") == 0)
			return i + 1;
		else
			break;
	}
	return i;
}

static void
view_add_endpoint(void *udata, const char *endpoint, const char *query)
{
	(void)query;
	json_array_append_new(udata, json_string(view_ep(endpoint)));
}

static void
view_add_room(void *udata, const char *endpoint, const char *room)
{
	json_array_append_new(udata, json_pack("{s:s,s:s}", "endpoint",
	                                       view_ep(endpoint), "room",
	                                       room ? room : ""));
}

/* ms since the epoch, or JSON null for 0 (never). */
static json_t *
view_time(long long ms)
{
	return ms > 0 ? json_integer(ms) : json_null();
}

struct view_acc {
	struct ctl *c;
	json_t *out; /* array of session objects */
	int failed;
};

static int
view_session(void *udata, const struct sio_store_summary *sum)
{
	const struct sio_store_session *s = &sum->session;
	struct view_acc *a = udata;
	struct sio_store *st = a->c->x.store;
	json_t *eps = json_array(), *rooms = json_array(), *o;
	const char *tr =
	    s->transport < 0
	        ? NULL
	        : sio_config_transport_name((enum sio_transport)s->transport);

	if (sio_store_endpoint_list(st, s->sid, view_add_endpoint, eps) < 0 ||
	    sio_store_room_list(st, s->sid, view_add_room, rooms) < 0)
		a->failed = 1;
	o = json_pack(
	    "{s:s,s:s,s:o,s:o,s:o,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:I}", "sid",
	    s->sid, "state", sio_store_state_name(s->state), "transport",
	    tr ? json_string(tr) : json_null(), "holder",
	    s->holder[0] ? json_string(s->holder) : json_null(), "holder_conn",
	    s->holder[0] ? json_integer(s->holder_conn) : json_null(), "age",
	    (json_int_t)((a->c->now - s->created) / 1000), "created",
	    (json_int_t)s->created, "last_recv", view_time(s->last_recv),
	    "detached_at", view_time(s->detached_at), "closed_at",
	    view_time(s->closed_at), "close_reason",
	    s->close_reason[0] ? json_string(s->close_reason) : json_null(),
	    "endpoints", eps, "rooms", rooms, "queue", (json_int_t)sum->queue);
	if (o == NULL || json_array_append_new(a->out, o) != 0)
		a->failed = 1;
	return a->failed ? SIO_ERR : SIO_OK;
}

/* The sessions (all, or sid) as a JSON array; NULL when the store failed
 * (message printed). */
static json_t *
view_sessions(struct ctl *c, const char *sid)
{
	struct view_acc a = {c, json_array(), 0};

	if (sio_store_session_list(c->x.store, sid, view_session, &a) < 0 ||
	    a.failed) {
		ctl_fail(CTL_EXIT_FAIL, "listing sessions: %s",
		         sio_store_errmsg(c->x.store));
		json_decref(a.out);
		return NULL;
	}
	return a.out;
}

static void
view_age(char *buf, size_t size, long long s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, size, "%llds", s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%lldh%02lldm", s / 3600, s / 60 % 60);
	else
		snprintf(buf, size, "%lldd%02lldh", s / 86400, s / 3600 % 24);
}

/* Appends the strings of a JSON array, comma separated, "-" when empty. */
static void
view_join(char *buf, size_t size, json_t *arr, int rooms)
{
	size_t i, n = 0;
	json_t *v;

	buf[0] = '\0';
	json_array_foreach(arr, i, v)
	{
		const char *ep =
		    json_string_value(json_object_get(v, "endpoint"));
		if (rooms && strcmp(ep, "/") != 0)
			n += snprintf(
			    buf + n, n < size ? size - n : 0, "%s%s:%s",
			    i ? "," : "", ep,
			    json_string_value(json_object_get(v, "room")));
		else
			n += snprintf(buf + n, n < size ? size - n : 0, "%s%s",
			              i ? "," : "",
			              rooms ? json_string_value(
			                          json_object_get(v, "room"))
			                    : json_string_value(v));
	}
	if (n == 0)
		snprintf(buf, size, "-");
}

static int
view_print_json(json_t *v)
{
	char *t = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
	                            JSON_ENCODE_ANY);

	if (t == NULL)
		return ctl_fail(CTL_EXIT_FAIL, "out of memory");
	/* jansson escapes C0 controls in strings but writes DEL and the C1
	 * controls (C2 80 to C2 9F) raw: those become \u escapes too, which
	 * is the same JSON. Outside strings there are no such bytes. */
	for (const unsigned char *u = (const unsigned char *)t; *u; u++) {
		if (*u == 0x7f)
			fputs("\\u007f", stdout);
		else if (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f) {
			printf("\\u%04x", u[1]);
			u++;
		} else
			putchar(*u);
	}
	putchar('\n');
	free(t);
	return CTL_EXIT_OK;
}

int
ctl_list(struct ctl *c, int argc, char **argv)
{
	char age[32], eps[256], rooms[512], sid[4 * 64], eeps[4 * 256],
	    erooms[4 * 512];
	json_t *all, *o;
	int json, i = view_opts(argc, argv, &json);
	size_t k;

	if (i != argc)
		return ctl_usage();
	if ((all = view_sessions(c, NULL)) == NULL)
		return CTL_EXIT_FAIL;
	if (json) {
		i = view_print_json(all);
		json_decref(all);
		return i;
	}
	printf("%-22s %-10s %-13s %7s %5s %-16s %s\n", "SID", "STATE",
	       "TRANSPORT", "AGE", "QUEUE", "ENDPOINTS", "ROOMS");
	json_array_foreach(all, k, o)
	{
		json_t *tr = json_object_get(o, "transport");
		view_age(age, sizeof(age),
		         json_integer_value(json_object_get(o, "age")));
		view_join(eps, sizeof(eps), json_object_get(o, "endpoints"), 0);
		view_join(rooms, sizeof(rooms), json_object_get(o, "rooms"), 1);
		printf(
		    "%-22s %-10s %-13s %7s %5lld %-16s %s\n",
		    view_esc(sid, sizeof(sid),
		             json_string_value(json_object_get(o, "sid"))),
		    json_string_value(json_object_get(o, "state")),
		    json_is_string(tr) ? json_string_value(tr) : "-", age,
		    (long long)json_integer_value(json_object_get(o, "queue")),
		    view_esc(eeps, sizeof(eeps), eps),
		    view_esc(erooms, sizeof(erooms), rooms));
	}
	json_decref(all);
	return CTL_EXIT_OK;
}

static int
view_add_packet(void *udata, const char *pkt, size_t len)
{
	return json_array_append_new(udata, json_stringn(pkt, len)) == 0
	           ? SIO_OK
	           : SIO_ERR;
}

/* Adds the handshake request and the first queued packets to o. */
static int
view_details(struct ctl *c, const char *sid, json_t *o)
{
	struct sio_store_session s;
	json_t *pkts = json_array(), *req = NULL;
	long long last;

	if (sio_store_session_get(c->x.store, sid, &s) == SIO_OK) {
		if (s.request != NULL)
			req = json_loads(s.request, JSON_DECODE_ANY, NULL);
		sio_store_session_cleanup(&s);
	}
	json_object_set_new(o, "request", req ? req : json_null());
	if (sio_store_outbox_peek(c->x.store, sid, LLONG_MAX, CTL_SHOW_PACKETS,
	                          NULL, 0, view_add_packet, pkts, &last) < 0) {
		json_decref(pkts);
		return ctl_fail(CTL_EXIT_FAIL, "%s",
		                sio_store_errmsg(c->x.store));
	}
	json_object_set_new(o, "packets", pkts);
	return CTL_EXIT_OK;
}

static void
view_show_text(json_t *o)
{
	const char *key;
	char *t;
	json_t *v, *p;
	size_t i;

	json_object_foreach(o, key, v)
	{
		if (strcmp(key, "packets") == 0) {
			printf("%-13s%zu shown\n", key, json_array_size(v));
			json_array_foreach(v, i, p)
			{
				fputs("  ", stdout);
				view_put(json_string_value(p),
				         json_string_length(p));
				putchar('\n');
			}
			continue;
		}
		printf("%-13s", key);
		if (json_is_string(v)) {
			view_put(json_string_value(v), json_string_length(v));
		} else {
			t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			view_put(t ? t : "?", t ? strlen(t) : 1);
			free(t);
		}
		putchar('\n');
	}
}

int
ctl_show(struct ctl *c, int argc, char **argv)
{
	json_t *all, *o;
	int json, rc, i = view_opts(argc, argv, &json);

	if (i < 0 || i + 1 != argc)
		return ctl_usage();
	if ((all = view_sessions(c, argv[i])) == NULL)
		return CTL_EXIT_FAIL;
	if ((o = json_array_get(all, 0)) == NULL) {
		json_decref(all);
		return ctl_fail(CTL_EXIT_FAIL, "no session '%s'", argv[i]);
	}
	rc = view_details(c, argv[i], o);
	if (rc == CTL_EXIT_OK && json)
		rc = view_print_json(o);
	else if (rc == CTL_EXIT_OK)
		view_show_text(o);
	json_decref(all);
	return rc;
}

static void
view_add_counter(void *udata, const char *name, long long value)
{
	json_object_set_new(udata, name, json_integer(value));
}

/* Adds n to key of object o. */
static void
view_bump(json_t *o, const char *key, long long n)
{
	json_t *v = json_object_get(o, key);

	json_object_set_new(o, key,
	                    json_integer(n + (v ? json_integer_value(v) : 0)));
}

static void
view_add_count(void *udata, enum sio_session_state state, int transport,
               long long sessions, long long queued)
{
	json_t *o = udata;
	const char *tr =
	    transport < 0
	        ? "none"
	        : sio_config_transport_name((enum sio_transport)transport);

	view_bump(o, "sessions", sessions);
	view_bump(json_object_get(o, "by_state"), sio_store_state_name(state),
	          sessions);
	if (state != SIO_SESSION_CLOSED) /* live sessions per transport */
		view_bump(json_object_get(o, "by_transport"), tr, sessions);
	view_bump(o, "queued", queued);
}

/* Adds a process to the array udata, with how long ago it renewed. */
static int
view_add_process(void *udata, const struct sio_store_process *p)
{
	struct ctl *c = ((void **)udata)[0];
	json_t *all = ((void **)udata)[1];

	return json_array_append_new(
	           all, json_pack("{s:s,s:I,s:I,s:I,s:I}", "name", p->name,
	                          "pid", (json_int_t)p->pid, "sessions",
	                          (json_int_t)p->sessions, "age",
	                          (json_int_t)((c->now - p->started) / 1000),
	                          "renewed_ms",
	                          (json_int_t)(c->now - p->renewed))) == 0
	           ? SIO_OK
	           : SIO_ERR;
}

/* The processes registered on the database, of every host: their names
 * (<kind>-<host>-<pid>-<hex>), age, last renewal and sessions held. */
int
ctl_processes(struct ctl *c, int argc, char **argv)
{
	json_t *all = json_array(), *o;
	void *ud[2] = {c, all};
	char age[32], name[4 * SIO_HOLDER_LEN];
	int json, rc = CTL_EXIT_OK;
	size_t k;

	if (view_opts(argc, argv, &json) != argc) {
		json_decref(all);
		return ctl_usage();
	}
	if (all == NULL ||
	    sio_store_process_list(c->x.store, view_add_process, ud) < 0) {
		json_decref(all);
		return ctl_fail(CTL_EXIT_FAIL, "%s",
		                sio_store_errmsg(c->x.store));
	}
	if (json) {
		rc = view_print_json(all);
		json_decref(all);
		return rc;
	}
	printf("%-40s %8s %7s %9s %8s\n", "NAME", "PID", "AGE", "RENEWED",
	       "SESSIONS");
	json_array_foreach(all, k, o)
	{
		view_age(age, sizeof(age),
		         json_integer_value(json_object_get(o, "age")));
		printf("%-40s %8lld %7s %7.1fs %8lld\n",
		       view_esc(name, sizeof(name),
		                json_string_value(json_object_get(o, "name"))),
		       (long long)json_integer_value(json_object_get(o, "pid")),
		       age,
		       json_integer_value(json_object_get(o, "renewed_ms")) /
		           1000.0,
		       (long long)json_integer_value(
		           json_object_get(o, "sessions")));
	}
	json_decref(all);
	return rc;
}

int
ctl_stats(struct ctl *c, int argc, char **argv)
{
	json_t *o, *counters = json_object(), *by_state = json_object();
	const char *key;
	json_t *v;
	int json, rc = CTL_EXIT_OK;

	if (view_opts(argc, argv, &json) != argc)
		return ctl_usage();
	for (int s = SIO_SESSION_HANDSHAKEN; s <= SIO_SESSION_CLOSED; s++)
		json_object_set_new(by_state, sio_store_state_name(s),
		                    json_integer(0));
	o = json_pack("{s:i,s:o,s:o,s:i,s:o}", "sessions", 0, "by_state",
	              by_state, "by_transport", json_object(), "queued", 0,
	              "counters", counters);
	if (sio_store_session_counts(c->x.store, view_add_count, o) < 0 ||
	    sio_store_counter_list(c->x.store, view_add_counter, counters) < 0)
		rc =
		    ctl_fail(CTL_EXIT_FAIL, "%s", sio_store_errmsg(c->x.store));
	else if (json)
		rc = view_print_json(o);
	else {
		printf("sessions: %lld\n", (long long)json_integer_value(
		                               json_object_get(o, "sessions")));
		printf("queued packets: %lld\n",
		       (long long)json_integer_value(
		           json_object_get(o, "queued")));
		static const char *const groups[] = {"by_state", "by_transport",
		                                     "counters"};
		for (size_t g = 0; g < 3; g++) {
			printf("%s:\n", groups[g]);
			json_object_foreach(json_object_get(o, groups[g]), key,
			                    v)
			    printf("  %-20s %lld\n", key,
			           (long long)json_integer_value(v));
		}
	}
	json_decref(o);
	return rc;
}
