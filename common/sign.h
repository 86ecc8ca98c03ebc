/*
 * sign.h: the signature of the requests between siogate and the user's
 * own application: the publish endpoint checks it on what it receives,
 * and the bridge puts it on what it sends. The header value is
 * "t=<unix seconds>,v1=<hex>", HMAC-SHA256 keyed with the shared secret
 * (bridge_secret) over "<t>.<body>", as docs/bridge.md describes for
 * those who write the other side. libcrypto is seen here only.
 */
#ifndef SIO_SIGN_H
#define SIO_SIGN_H

#include <stddef.h>

#include "siogate.h"

#define SIO_SIGN_HEADER "X-Siogate-Signature"
#define SIO_SIGN_SKEW 300 /* seconds either side of now a signature is good */
#define SIO_SIGN_LEN                                                           \
	160 /* bytes of a header value sio_sign() writes, NUL included */
#define SIO_SECRET_MIN 32 /* bytes a secret needs at least */
/* A received header longer than this is refused unread ("bad
 * signature"): room for a time and a dozen v1 entries. */
#define SIO_SIGN_MAX_HEADER 1024

/*
 * The header value for body at time t (unix seconds): "t=<t>,v1=<64
 * lowercase hex>", HMAC-SHA256 keyed with secret over "<t>.<body>".
 * SIO_OK; SIO_ERR when secret is NULL or shorter than SIO_SECRET_MIN, t is
 * negative, or libcrypto failed (out is then "").
 */
int sio_sign(const char *secret, const void *body, size_t len, long long t,
             char out[SIO_SIGN_LEN]);

/*
 * Whether header (as received, may be NULL) signs body with secret within
 * SIO_SIGN_SKEW of now (unix seconds): SIO_OK; SIO_REJECT with "bad
 * signature" or "stale signature" in err (SIO_ERR_LEN, may be NULL);
 * SIO_ERR on a crypto failure or a secret shorter than SIO_SECRET_MIN.
 * Constant-time compare; several v1= entries: any may match; unknown keys
 * ignored; malformed (no t, bad hex, huge header) is "bad signature". The
 * MAC is checked before the time, so that only a holder of the secret
 * learns that a signature is stale.
 */
int sio_sign_check(const char *secret, const char *header, const void *body,
                   size_t len, long long now, char *err);

#endif
