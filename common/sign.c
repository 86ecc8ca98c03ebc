/*
 * sign.c: HMAC-SHA256 signatures of request bodies (sign.h), over
 * OpenSSL's EVP_MAC. The header is parsed here by hand: it is short,
 * bounded, and comes from the network.
 */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>

#include "result.h"
#include "sign.h"
#include "text.h"

#define SIGN_MAC_LEN 32 /* SHA-256 */
#define SIGN_T_MAX 20   /* digits of a time: more is not a time */

/* HMAC-SHA256 of "<t>.<body>" with secret into mac. SIO_OK or SIO_ERR. */
static int
sign_mac(const char *secret, const void *body, size_t len, long long t,
         unsigned char mac[SIGN_MAC_LEN])
{
	char ts[SIGN_T_MAX + 2];
	int tn = snprintf(ts, sizeof(ts), "%lld.", t);
	OSSL_PARAM params[2];
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = m != NULL ? EVP_MAC_CTX_new(m) : NULL;
	size_t n = 0;
	int ok;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	                                             (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = c != NULL &&
	     EVP_MAC_init(c, (const unsigned char *)secret, strlen(secret),
	                  params) == 1 &&
	     EVP_MAC_update(c, (const unsigned char *)ts, (size_t)tn) == 1 &&
	     (len == 0 || EVP_MAC_update(c, body, len) == 1) &&
	     EVP_MAC_final(c, mac, &n, SIGN_MAC_LEN) == 1 && n == SIGN_MAC_LEN;
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
	return ok ? SIO_OK : SIO_ERR;
}

int
sio_sign(const char *secret, const void *body, size_t len, long long t,
         char out[SIO_SIGN_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[SIGN_MAC_LEN];
	int n;

	out[0] = '\0';
	if (secret == NULL || strlen(secret) < SIO_SECRET_MIN || t < 0 ||
	    sign_mac(secret, body, len, t, mac) != SIO_OK)
		return SIO_ERR;
	n = snprintf(out, SIO_SIGN_LEN, "t=%lld,v1=", t);
	for (int i = 0; i < SIGN_MAC_LEN; i++) {
		out[n++] = hex[mac[i] >> 4];
		out[n++] = hex[mac[i] & 15];
	}
	out[n] = '\0';
	return SIO_OK;
}

/* The 64 hex digits of s[0..n) as a MAC: SIO_OK, or SIO_ERR when s is
 * not exactly that. */
static int
sign_unhex(const char *s, size_t n, unsigned char mac[SIGN_MAC_LEN])
{
	if (n != 2 * SIGN_MAC_LEN)
		return SIO_ERR;
	for (size_t i = 0; i < SIGN_MAC_LEN; i++) {
		int hi = sio_text_hexval(s[2 * i]),
		    lo = sio_text_hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return SIO_ERR;
		mac[i] = (unsigned char)(hi << 4 | lo);
	}
	return SIO_OK;
}

/* The decimal digits of s[0..n) as a time: SIO_OK, or SIO_ERR. */
static int
sign_time(const char *s, size_t n, long long *t)
{
	long long v = 0;

	if (n == 0 || n > 18) /* 18 digits cannot overflow */
		return SIO_ERR;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return SIO_ERR;
		v = v * 10 + (s[i] - '0');
	}
	*t = v;
	return SIO_OK;
}

/*
 * Reads "t=<t>,v1=<hex>[,v1=<hex>...]" (items in any order, spaces around
 * them allowed, unknown keys ignored): the time in *t and up to max MACs
 * in macs. Returns how many MACs, or SIO_ERR when malformed: no t or two,
 * a v1 that is not 64 hex digits, no v1.
 */
static int
sign_parse(const char *h, long long *t, unsigned char (*macs)[SIGN_MAC_LEN],
           int max)
{
	int nmacs = 0, have_t = 0;

	while (*h != '\0') {
		const char *end = strchr(h, ','), *eq;
		size_t n;

		if (end == NULL)
			end = h + strlen(h);
		while (h < end && *h == ' ')
			h++;
		n = (size_t)(end - h);
		while (n > 0 && h[n - 1] == ' ')
			n--;
		eq = memchr(h, '=', n);
		if (eq != NULL && eq - h == 1 && h[0] == 't') {
			if (have_t++ || sign_time(eq + 1, n - 2, t) != SIO_OK)
				return SIO_ERR;
		} else if (eq != NULL && eq - h == 2 &&
		           memcmp(h, "v1", 2) == 0) {
			if (nmacs == max ||
			    sign_unhex(eq + 1, n - 3, macs[nmacs]) != SIO_OK)
				return SIO_ERR;
			nmacs++;
		}
		h = *end == ',' ? end + 1 : end;
	}
	return have_t && nmacs > 0 ? nmacs : SIO_ERR;
}

int
sio_sign_check(const char *secret, const char *header, const void *body,
               size_t len, long long now, char *err)
{
	unsigned char macs[SIO_SIGN_MAX_HEADER / 64][SIGN_MAC_LEN];
	unsigned char want[SIGN_MAC_LEN];
	long long t = 0;
	int n, match = 0;

	if (secret == NULL || strlen(secret) < SIO_SECRET_MIN)
		return sio_err(err, "the secret is shorter than %d bytes",
		               SIO_SECRET_MIN);
	if (header == NULL ||
	    strnlen(header, SIO_SIGN_MAX_HEADER + 1) > SIO_SIGN_MAX_HEADER ||
	    (n = sign_parse(header, &t, macs,
	                    (int)(sizeof(macs) / sizeof(macs[0])))) < 0) {
		sio_err(err, "bad signature");
		return SIO_REJECT;
	}
	if (sign_mac(secret, body, len, t, want) != SIO_OK)
		return sio_err(err, "libcrypto failed to compute an HMAC");
	/* every entry compared, so that the time does not tell which */
	for (int i = 0; i < n; i++)
		match |= CRYPTO_memcmp(macs[i], want, SIGN_MAC_LEN) == 0;
	if (!match) {
		sio_err(err, "bad signature");
		return SIO_REJECT;
	}
	if (t > now + SIO_SIGN_SKEW || t < now - SIO_SIGN_SKEW) {
		sio_err(err, "stale signature");
		return SIO_REJECT;
	}
	return SIO_OK;
}
