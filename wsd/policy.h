/*
 * policy.h: the Flash socket policy file that sio-wsd serves so the
 * flashsocket SWF may open its socket: the request it recognises and the
 * cross-domain-policy XML built from the config's origins, in the exact
 * bytes of socket.io 0.9 (npm policyfile 0.0.4). Two ways out: on the
 * policy port (flash_policy_port, 10843 by default) the XML is written
 * without reading anything and with no trailing NUL, then the socket is
 * ended; inline, when a connection's first bytes are the request, the XML
 * is followed by one NUL (Flash's XMLSocket message terminator).
 */
#ifndef WSD_POLICY_H
#define WSD_POLICY_H

#include <stddef.h>

#include "buf.h"

#define WSD_POLICY_REQUEST "<policy-file-request/>" /* then a NUL */
#define WSD_POLICY_REQUEST_LEN 23                   /* NUL included */

/* How the XML is sent: on the policy port, or inline after a request. */
enum wsd_policy_mode {
	WSD_POLICY_PORT,   /* the XML alone */
	WSD_POLICY_INLINE, /* the XML and a trailing NUL byte */
};

/*
 * Recognises the policy request `<policy-file-request/>\0` at buf[0..len).
 * Returns WSD_POLICY_REQUEST_LEN (the bytes consumed) when it is there,
 * -2 when buf is a shorter prefix of it (0 bytes included), -1 otherwise
 * (for instance an HTTP request).
 */
int wsd_policy_is_request(const char *buf, size_t len);

/*
 * Appends the policy XML for origins, a config `origins` value (host:port
 * entries separated by spaces, tabs or commas; '*' for any host or any
 * port), with one <allow-access-from domain="H" to-ports="P"/> per entry in
 * order ("*:*" gives domain="*" to-ports="*"). The host is XML-escaped;
 * the entry splits at its last ':'. mode says whether a NUL follows. SIO_OK,
 * or SIO_ERR when an entry has an empty host or a port that is neither
 * digits nor '*', when there is no entry, or out of memory; b unchanged on
 * error. b->p may move.
 */
int wsd_policy_encode(struct sio_buf *b, const char *origins,
                      enum wsd_policy_mode mode);

#endif
