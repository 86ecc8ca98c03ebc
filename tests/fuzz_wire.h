/*
 * fuzz_wire.h: the fuzz target over socket.io's wire parsers: packets
 * (with their ack, error and event bodies) and payload framing. It aborts
 * when a result lies outside the input or a valid packet or payload does
 * not re-encode to what was parsed. Included by fuzz_body.h only.
 */
#ifndef SIO_FUZZ_WIRE_H
#define SIO_FUZZ_WIRE_H

#define FUZZ_MAX_PKTS 64

/* An event body that parses encodes to one that parses the same. */
static void
fuzz_event(const char *data, size_t len)
{
	struct sio_buf b;
	json_t *args, *args2;
	char *name, *name2;

	if (sio_json_event_parse(data, len, &name, &args) != SIO_OK)
		return;
	FUZZ_CHECK(json_is_array(args));
	sio_buf_init(&b);
	FUZZ_CHECK(sio_json_event_encode(&b, name, args) == SIO_OK);
	FUZZ_CHECK(sio_json_event_parse(b.p, b.len, &name2, &args2) == SIO_OK);
	FUZZ_CHECK(strcmp(name, name2) == 0 && json_equal(args, args2));
	free(name);
	free(name2);
	json_decref(args);
	json_decref(args2);
	sio_buf_cleanup(&b);
}

/* The packet parser: strict, inside the input, and encode(parse(x)) == x. */
static void
fuzz_packet(const char *s, size_t size)
{
	struct sio_packet p;
	struct sio_buf b;
	const char *args;
	size_t args_len;
	long long id;
	int rc, reason, advice;

	rc = sio_packet_parse(s, size, &p);
	FUZZ_CHECK(rc == -1 || rc == -2 || (rc >= 0 && (size_t)rc == size));
	if (rc < 0)
		return;
	FUZZ_CHECK(p.type >= SIO_PKT_DISCONNECT && p.type <= SIO_PKT_NOOP);
	FUZZ_CHECK(fuzz_inside(s, size, p.endpoint, p.endpoint_len));
	FUZZ_CHECK(p.data == NULL || fuzz_inside(s, size, p.data, p.data_len));
	sio_buf_init(&b);
	FUZZ_CHECK(sio_packet_encode(&b, &p) == SIO_OK);
	FUZZ_CHECK(b.len == size && memcmp(b.p, s, size) == 0);
	sio_buf_cleanup(&b);
	if (p.data == NULL)
		return;
	if (sio_packet_ack_parse(p.data, p.data_len, &id, &args, &args_len) ==
	        SIO_OK &&
	    args != NULL)
		FUZZ_CHECK(fuzz_inside(s, size, args, args_len));
	(void)sio_packet_error_parse(p.data, p.data_len, &reason, &advice);
	if (p.type == SIO_PKT_EVENT)
		fuzz_event(p.data, p.data_len);
}

/* One framed element: inside the input and valid UTF-8. */
static void
fuzz_element(const char *s, size_t size)
{
	struct sio_slice pkt;
	int rc;

	rc = sio_payload_parse(s, size, &pkt);
	FUZZ_CHECK(rc == -1 || rc == -2 || (rc > 0 && (size_t)rc <= size));
	if (rc < 0)
		return;
	FUZZ_CHECK(fuzz_inside(s, (size_t)rc, pkt.p, pkt.len));
	FUZZ_CHECK(pkt.p + pkt.len == s + rc);
	FUZZ_CHECK(sio_payload_utf16_len(pkt.p, pkt.len) > 0);
}

/* A whole payload: split, encode, split again gives the same packets. */
static void
fuzz_payload(const char *s, size_t size)
{
	struct sio_slice out[FUZZ_MAX_PKTS], again[FUZZ_MAX_PKTS];
	struct sio_buf b;
	size_t n, m, k;

	if (sio_payload_split(s, size, out, FUZZ_MAX_PKTS, &n) != SIO_OK)
		return;
	FUZZ_CHECK(n >= 1 && n <= FUZZ_MAX_PKTS);
	for (k = 0; k < n; k++)
		FUZZ_CHECK(fuzz_inside(s, size, out[k].p, out[k].len));
	sio_buf_init(&b);
	FUZZ_CHECK(sio_payload_encode(&b, out, n) == SIO_OK);
	if (n == 1) {
		FUZZ_CHECK(b.len == out[0].len);
	} else {
		FUZZ_CHECK(sio_payload_split(b.p, b.len, again, FUZZ_MAX_PKTS,
		                             &m) == SIO_OK);
		FUZZ_CHECK(m == n);
		for (k = 0; k < n; k++)
			FUZZ_CHECK(again[k].len == out[k].len &&
			           memcmp(again[k].p, out[k].p, out[k].len) ==
			               0);
	}
	sio_buf_cleanup(&b);
}

static void
fuzz_wire(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	fuzz_packet(s, size);
	fuzz_element(s, size);
	fuzz_payload(s, size);
}

#endif
