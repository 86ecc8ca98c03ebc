/*
 * packet.h: Socket.IO protocol 1 packets, `type:id[+]:endpoint[:data]`, the
 * nine types of the wire. Parsing is pure and points into the caller's
 * bytes; encoding appends to a struct sio_buf.
 */
#ifndef SIO_PACKET_H
#define SIO_PACKET_H

#include <stddef.h>

#include "buf.h"

enum sio_packet_type {
	SIO_PKT_DISCONNECT = 0,
	SIO_PKT_CONNECT = 1,
	SIO_PKT_HEARTBEAT = 2,
	SIO_PKT_MESSAGE = 3,
	SIO_PKT_JSON = 4,
	SIO_PKT_EVENT = 5,
	SIO_PKT_ACK = 6,
	SIO_PKT_ERROR = 7,
	SIO_PKT_NOOP = 8,
};

/* Error reasons and advice (7::ep:reason+advice), as indexes. */
enum sio_error_reason {
	SIO_EREASON_TRANSPORT = 0,      /* transport not supported */
	SIO_EREASON_NOT_HANDSHAKEN = 1, /* client not handshaken */
	SIO_EREASON_UNAUTHORIZED = 2,   /* unauthorized */
};
#define SIO_EADVICE_NONE (-1)
#define SIO_EADVICE_RECONNECT 0

struct sio_packet {
	enum sio_packet_type type;
	long long id; /* message id, -1 when absent */
	int data_ack; /* 1 when the id carries '+' (the ack wants data) */
	const char *endpoint; /* into the input; "" when empty for encode */
	size_t endpoint_len;
	const char *data; /* NULL when the packet has no data part */
	size_t data_len;
};

/*
 * Parses one packet that fills buf[0..len). Returns len on success, -1 when
 * malformed (bad type, id, or a ':' missing after the id), -2 when the bytes
 * are a proper prefix of a packet (e.g. "3", "3:1"). Fields of p point into
 * buf; p is unchanged on error. An id over 15 digits is malformed.
 */
int sio_packet_parse(const char *buf, size_t len, struct sio_packet *p);

/*
 * Appends the wire form of p to b: `type:id[+]:endpoint` then `:data` when
 * data is not NULL. SIO_OK or SIO_ERR (out of memory or an endpoint that
 * contains ':'); b is unchanged on error.
 */
int sio_packet_encode(struct sio_buf *b, const struct sio_packet *p);

/* A packet with no id, no endpoint and no data, for convenience. */
void sio_packet_init(struct sio_packet *p, enum sio_packet_type type);

/*
 * Splits ack data `<id>` or `<id>+<json>`: sets *id, and *args and
 * *args_len to the text after '+' (NULL when absent). The JSON may itself
 * contain '+'. Returns SIO_OK or SIO_ERR when the id is not digits.
 */
int sio_packet_ack_parse(const char *data, size_t len, long long *id,
                         const char **args, size_t *args_len);

/*
 * Splits error data `reason[+advice]`; *advice is SIO_EADVICE_NONE when
 * absent. Returns SIO_OK or SIO_ERR when either is not digits.
 */
int sio_packet_error_parse(const char *data, size_t len, int *reason,
                           int *advice);

/* Appends `7::ep:reason[+advice]`. SIO_OK or SIO_ERR. */
int sio_packet_error_encode(struct sio_buf *b, const char *endpoint, int reason,
                            int advice);

/* Human name of a type ("event"), or "unknown". */
const char *sio_packet_type_name(int type);

#endif
