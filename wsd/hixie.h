/*
 * hixie.h: the hixie-76 (draft-ietf-hybi-thewebsocketprotocol-00) wire
 * protocol that the flashsocket SWF of socket.io-client 0.9.16 speaks, as
 * pure functions for sio-wsd's raw-socket handler: the upgrade request
 * head, the Key1/Key2/key3 challenge, the 101 response head and the
 * `0x00 <utf8> 0xFF` frames. Nothing here reads a socket or logs. Because
 * lighttpd, nginx and Apache forward key3 only after the backend's 101, the
 * handler writes wsd_hixie_response_head() as soon as the head is parsed
 * and the 16-byte wsd_hixie_digest() once the 8 bytes of key3 arrive.
 * Only hixie.c sees the MD5 library (OpenSSL's libcrypto: link -lcrypto).
 */
#ifndef WSD_HIXIE_H
#define WSD_HIXIE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define WSD_HIXIE_KEY3_LEN 8    /* the challenge bytes after the head */
#define WSD_HIXIE_DIGEST_LEN 16 /* the answer after the 101 head */
#define WSD_HIXIE_MAX_HEAD 8192 /* a longer request head is malformed */

/*
 * The upgrade request, as found by wsd_hixie_parse_request(). Every span
 * points into the caller's buffer (not NUL-terminated); an absent optional
 * header has a NULL pointer and length 0. Header values are trimmed of
 * surrounding spaces and tabs (draft-76 never puts a key's spaces at its
 * start or end).
 */
struct wsd_hixie_req {
	const char *path; /* request-target as sent, query included */
	size_t path_len;
	const char *host;
	size_t host_len;
	const char *origin;
	size_t origin_len;
	const char *key1; /* Sec-WebSocket-Key1, as sent */
	size_t key1_len;
	const char *key2;
	size_t key2_len;
	uint32_t key1_num; /* key1's digits divided by its spaces */
	uint32_t key2_num;
	const char *protocol; /* Sec-WebSocket-Protocol, optional */
	size_t protocol_len;
	const char *fwd_proto; /* X-Forwarded-Proto, optional, last one */
	size_t fwd_proto_len;
	const char *fwd_for; /* X-Forwarded-For, optional, last one */
	size_t fwd_for_len;
	/* Set on -1 only: rfc6455 is 1 when the head is a complete GET
	 * carrying Sec-WebSocket-Version (an RFC 6455 or hybi upgrade, not
	 * hixie-76), 0 for anything else; err is a static reason for the log
	 * line ("no Sec-WebSocket-Key2", "bad Sec-WebSocket-Key1", ...). */
	int rfc6455;
	const char *err;
};

/*
 * Parses the head of a hixie-76 upgrade request in buf[0..len): a GET
 * request line (HTTP/1.0 or 1.1), then header lines ending in CRLF or LF,
 * then a blank line. Host, Origin, Upgrade (equal to "WebSocket" ignoring
 * case), Connection (a list holding the token "upgrade", any case),
 * Sec-WebSocket-Key1 and -Key2 (valid keys, see wsd_hixie_key_number())
 * are required, each at most once. Returns the bytes consumed through the
 * blank line (key3 follows them), -2 when more bytes are needed, -1 when
 * malformed, with req->rfc6455 and req->err set as described above. A head
 * with no end within WSD_HIXIE_MAX_HEAD bytes, a control character in a
 * line or a header continuation line is malformed. Besides rfc6455 and err,
 * *req is unspecified after -1 or -2.
 */
int wsd_hixie_parse_request(const char *buf, size_t len,
                            struct wsd_hixie_req *req);

/*
 * The number of a Sec-WebSocket-Key1/2 value s[0..len): its digits read as
 * one decimal number, divided by the count of its spaces (U+0020). SIO_OK
 * with *out set; SIO_ERR (*out unchanged) when there are no spaces, the
 * number is over 4294967295 or not a multiple of the spaces.
 */
int wsd_hixie_key_number(const char *s, size_t len, uint32_t *out);

/*
 * The challenge answer: out = MD5(BE32(key1) || BE32(key2) || key3), with
 * key1 and key2 the key numbers (req->key1_num, req->key2_num). SIO_OK, or
 * SIO_ERR when the MD5 library fails (out unspecified).
 */
int wsd_hixie_digest(uint32_t key1, uint32_t key2,
                     const unsigned char key3[WSD_HIXIE_KEY3_LEN],
                     unsigned char out[WSD_HIXIE_DIGEST_LEN]);

/*
 * Appends the 101 response head, blank line included, digest excluded:
 *   HTTP/1.1 101 WebSocket Protocol Handshake
 *   Upgrade: WebSocket
 *   Connection: Upgrade
 *   Sec-WebSocket-Origin: <req->origin, verbatim>
 *   Sec-WebSocket-Location: ws[s]://<req->host><req->path>
 *   [Sec-WebSocket-Protocol: <req->protocol>]
 * with CRLF line ends; wss when secure is non-zero (the socket or, when the
 * caller trusts it, X-Forwarded-Proto says TLS). req borrows from a
 * successful wsd_hixie_parse_request(). SIO_OK, or SIO_ERR (out of memory;
 * b unchanged). b->p may move.
 */
int wsd_hixie_response_head(struct sio_buf *b, const struct wsd_hixie_req *req,
                            int secure);

/*
 * Parses one client frame at buf[0..len): a text frame `0x00 <utf8> 0xFF`
 * or the closing frame `0xFF 0x00`. Returns the bytes consumed; for a text
 * frame *payload points at its text inside buf and *plen is its length
 * (0 for an empty message), for the closing frame *payload is NULL and
 * *plen 0. Returns -2 when more bytes are needed, -1 when malformed: any
 * other frame type, invalid UTF-8, or text longer than limit bytes (found
 * as soon as limit + 1 bytes of text are buffered). *payload and *plen are
 * unchanged on -1 and -2.
 *
 * *scanned is the caller's resume point, so that a frame arriving in
 * pieces is scanned once in all (linear, not once per piece): 0 for a new
 * frame; after -2 it holds how many bytes of text were checked, and the
 * next call on the same frame, buf grown at its end, starts there. It is
 * 0 again after a return >= 0, unchanged after -1; a value larger than
 * the text in buf is read as 0.
 */
int wsd_hixie_frame_parse(const char *buf, size_t len, size_t limit,
                          size_t *scanned, const char **payload, size_t *plen);

/*
 * Appends the text frame 0x00 payload[0..len) 0xFF. SIO_OK, or SIO_ERR
 * when payload is not valid UTF-8 (it could hold the 0xFF terminator) or
 * out of memory; b unchanged on error. b->p may move.
 */
int wsd_hixie_frame_encode(struct sio_buf *b, const char *payload, size_t len);

/* Appends the closing frame 0xFF 0x00. SIO_OK or SIO_ERR (out of memory;
 * b unchanged). b->p may move. */
int wsd_hixie_close_encode(struct sio_buf *b);

#endif
