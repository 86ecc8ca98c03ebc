/*
 * packet.c: the Socket.IO protocol 1 packet `type:id[+]:endpoint[:data]`
 * (packet.h). The 0.9 JavaScript decoder is an unanchored regex that
 * tolerates garbage; this parser is strict instead, so that what it accepts
 * re-encodes to the same bytes, and it tells a truncated packet (-2) from
 * a malformed one (-1) for the transports that read from a stream.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "packet.h"
#include "siogate.h"

#define SIO_PACKET_MAX_ID_DIGITS 15

static const char *const sio_packet_names[] = {
    "disconnect", "connect", "heartbeat", "message", "json",
    "event",      "ack",     "error",     "noop",
};

static int
sio_packet_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Reads the id field starting at buf[*i]: digits without a leading zero,
 * then an optional '+' after at least one digit. Returns SIO_OK with *i past
 * it, -1 when malformed, -2 when buf ends inside it.
 */
static int
sio_packet_parse_id(const char *buf, size_t len, size_t *i, long long *id,
                    int *data_ack)
{
	size_t j = *i, ndigits = 0;
	long long v = 0;

	for (; j < len && sio_packet_isdigit(buf[j]); j++) {
		/* A leading zero would not survive a re-encode. */
		if (++ndigits > SIO_PACKET_MAX_ID_DIGITS ||
		    (ndigits == 2 && v == 0))
			return -1;
		v = v * 10 + (buf[j] - '0');
	}
	if (j == len)
		return -2;
	*id = ndigits ? v : -1;
	*data_ack = 0;
	if (buf[j] == '+') {
		if (ndigits == 0)
			return -1;
		*data_ack = 1;
		if (++j == len)
			return -2;
	}
	*i = j;
	return SIO_OK;
}

int
sio_packet_parse(const char *buf, size_t len, struct sio_packet *p)
{
	struct sio_packet q;
	const char *colon;
	size_t i = 2;
	int rc;

	if (len > INT_MAX)
		return -1;
	if (len == 0)
		return -2;
	if (buf[0] < '0' || buf[0] > '8')
		return -1;
	if (len == 1)
		return -2;
	if (buf[1] != ':')
		return -1;
	q.type = (enum sio_packet_type)(buf[0] - '0');
	rc = sio_packet_parse_id(buf, len, &i, &q.id, &q.data_ack);
	if (rc != SIO_OK)
		return rc;
	if (buf[i++] != ':')
		return -1;
	/* Past the second ':' every byte string is a whole packet. */
	q.endpoint = buf + i;
	colon = memchr(buf + i, ':', len - i);
	if (colon == NULL) {
		q.endpoint_len = len - i;
		q.data = NULL;
		q.data_len = 0;
	} else {
		q.endpoint_len = (size_t)(colon - (buf + i));
		q.data = colon + 1;
		q.data_len = len - (size_t)(q.data - buf);
	}
	*p = q;
	return (int)len;
}

void
sio_packet_init(struct sio_packet *p, enum sio_packet_type type)
{
	p->type = type;
	p->id = -1;
	p->data_ack = 0;
	p->endpoint = "";
	p->endpoint_len = 0;
	p->data = NULL;
	p->data_len = 0;
}

int
sio_packet_encode(struct sio_buf *b, const struct sio_packet *p)
{
	char head[40];
	size_t old = b->len;
	size_t eplen = p->endpoint ? p->endpoint_len : 0;
	int n;

	if ((int)p->type < 0 || (int)p->type > SIO_PKT_NOOP)
		return SIO_ERR;
	if (p->id > 999999999999999LL)
		return SIO_ERR;
	if (eplen > 0 && memchr(p->endpoint, ':', eplen) != NULL)
		return SIO_ERR;
	if (p->id >= 0)
		n = snprintf(head, sizeof(head), "%d:%lld%s:", (int)p->type,
		             p->id, p->data_ack ? "+" : "");
	else
		n = snprintf(head, sizeof(head), "%d::", (int)p->type);
	if (sio_buf_append(b, head, (size_t)n) != SIO_OK)
		goto err;
	if (eplen > 0 && sio_buf_append(b, p->endpoint, eplen) != SIO_OK)
		goto err;
	if (p->data == NULL)
		return SIO_OK;
	if (sio_buf_putc(b, ':') != SIO_OK ||
	    sio_buf_append(b, p->data, p->data_len) != SIO_OK)
		goto err;
	return SIO_OK;
err:
	sio_buf_truncate(b, old);
	return SIO_ERR;
}

/* Reads 1..max digits at s[*i]; SIO_OK with *i past them, else SIO_ERR. */
static int
sio_packet_digits(const char *s, size_t len, size_t *i, size_t max,
                  long long *v)
{
	size_t j = *i;

	*v = 0;
	while (j < len && sio_packet_isdigit(s[j])) {
		if (j - *i == max)
			return SIO_ERR;
		*v = *v * 10 + (s[j++] - '0');
	}
	if (j == *i)
		return SIO_ERR;
	*i = j;
	return SIO_OK;
}

int
sio_packet_ack_parse(const char *data, size_t len, long long *id,
                     const char **args, size_t *args_len)
{
	size_t i = 0;
	long long v;

	if (data == NULL ||
	    sio_packet_digits(data, len, &i, SIO_PACKET_MAX_ID_DIGITS, &v) !=
	        SIO_OK)
		return SIO_ERR;
	if (i < len && data[i] != '+')
		return SIO_ERR;
	*id = v;
	/* Split on the first '+': the JSON after it may hold more. */
	if (i < len) {
		*args = data + i + 1;
		*args_len = len - i - 1;
	} else {
		*args = NULL;
		*args_len = 0;
	}
	return SIO_OK;
}

int
sio_packet_error_parse(const char *data, size_t len, int *reason, int *advice)
{
	size_t i = 0;
	long long r, a = SIO_EADVICE_NONE;

	if (data == NULL || sio_packet_digits(data, len, &i, 9, &r) != SIO_OK)
		return SIO_ERR;
	if (i < len) {
		if (data[i++] != '+' ||
		    sio_packet_digits(data, len, &i, 9, &a) != SIO_OK ||
		    i != len)
			return SIO_ERR;
	}
	*reason = (int)r;
	*advice = (int)a;
	return SIO_OK;
}

int
sio_packet_error_encode(struct sio_buf *b, const char *endpoint, int reason,
                        int advice)
{
	struct sio_packet p;
	char data[32];
	int n;

	if (reason < 0)
		return SIO_ERR;
	if (advice >= 0)
		n = snprintf(data, sizeof(data), "%d+%d", reason, advice);
	else
		n = snprintf(data, sizeof(data), "%d", reason);
	sio_packet_init(&p, SIO_PKT_ERROR);
	if (endpoint) {
		p.endpoint = endpoint;
		p.endpoint_len = strlen(endpoint);
	}
	p.data = data;
	p.data_len = (size_t)n;
	return sio_packet_encode(b, &p);
}

const char *
sio_packet_type_name(int type)
{
	if (type < 0 || type > SIO_PKT_NOOP)
		return "unknown";
	return sio_packet_names[type];
}
