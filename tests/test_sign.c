/*
 * test_sign.c: the signatures of publish requests and bridge calls
 * (common/sign.c) against vectors from an independent HMAC-SHA256, and
 * every way a received header can be wrong.
 */
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "sign.h"

#define SECRET "0123456789abcdef0123456789abcdef-test"
#define SECRET2 "another secret, also long enough to use!"
#define BODY "{\"a\":1}"
#define T 1700000000LL

/*
 * The expected MACs were computed outside siogate, with
 *   printf '%s' '1700000000.{"a":1}' | \
 *       openssl dgst -sha256 -hmac '0123456789abcdef0123456789abcdef-test'
 * and checked with python3's hmac.new(secret, msg, hashlib.sha256).
 */
#define MAC_BODY                                                               \
	"add52a55d0f214ded21d0f335d6721ac85ab7b43e6b7f67040ebf94c67315635"
/* the same secret over "1700000000." (an empty body) */
#define MAC_EMPTY                                                              \
	"83027b67a6b99899dc0055c7be7cd170a77612165856b35335db5b446b4f00ed"
/* SECRET2 over '1700000123.{"actions":[]}' (python3's hmac) */
#define MAC_OTHER                                                              \
	"cf3f084d22cae87073d1eda4a8ed33ab292c6c23db78b1501608fb12b90e8b1f"

static int
check(const char *secret, const char *header, const char *body, long long now,
      char *err)
{
	return sio_sign_check(secret, header, body, strlen(body), now, err);
}

static void
test_sign_vectors(void)
{
	char out[SIO_SIGN_LEN];

	CU_ASSERT_EQUAL(sio_sign(SECRET, BODY, strlen(BODY), T, out), SIO_OK);
	CU_ASSERT_STRING_EQUAL(out, "t=1700000000,v1=" MAC_BODY);
	CU_ASSERT_EQUAL(sio_sign(SECRET, "", 0, T, out), SIO_OK);
	CU_ASSERT_STRING_EQUAL(out, "t=1700000000,v1=" MAC_EMPTY);
	CU_ASSERT_EQUAL(sio_sign(SECRET2, "{\"actions\":[]}", 14, T + 123, out),
	                SIO_OK);
	CU_ASSERT_STRING_EQUAL(out, "t=1700000123,v1=" MAC_OTHER);
}

static void
test_sign_refuses_short_secret_and_negative_time(void)
{
	char out[SIO_SIGN_LEN], err[SIO_ERR_LEN];

	CU_ASSERT_EQUAL(sio_sign("too short", BODY, strlen(BODY), T, out),
	                SIO_ERR);
	CU_ASSERT_STRING_EQUAL(out, "");
	CU_ASSERT_EQUAL(sio_sign(NULL, BODY, strlen(BODY), T, out), SIO_ERR);
	CU_ASSERT_EQUAL(sio_sign(SECRET, BODY, strlen(BODY), -1, out), SIO_ERR);
	CU_ASSERT_EQUAL(
	    check("too short", "t=1700000000,v1=" MAC_BODY, BODY, T, err),
	    SIO_ERR);
}

static void
test_check_accepts_the_vector_within_the_skew(void)
{
	char err[SIO_ERR_LEN] = "";
	const char *h = "t=1700000000,v1=" MAC_BODY;

	CU_ASSERT_EQUAL(check(SECRET, h, BODY, T, err), SIO_OK);
	CU_ASSERT_EQUAL(check(SECRET, h, BODY, T + SIO_SIGN_SKEW, err), SIO_OK);
	CU_ASSERT_EQUAL(check(SECRET, h, BODY, T - SIO_SIGN_SKEW, err), SIO_OK);
	/* uppercase hex and spaces after the commas, as some write it */
	CU_ASSERT_EQUAL(check(SECRET,
	                      "t=1700000000, v1=ADD52A55D0F214DED21D0F335D6721"
	                      "AC85AB7B43E6B7F67040EBF94C67315635",
	                      BODY, T, err),
	                SIO_OK);
	CU_ASSERT_EQUAL(
	    check(SECRET, "v1=" MAC_BODY ",t=1700000000", BODY, T, err),
	    SIO_OK);
}

static void
test_check_refuses_stale_both_sides(void)
{
	char err[SIO_ERR_LEN] = "";
	const char *h = "t=1700000000,v1=" MAC_BODY;

	CU_ASSERT_EQUAL(check(SECRET, h, BODY, T + SIO_SIGN_SKEW + 1, err),
	                SIO_REJECT);
	CU_ASSERT_STRING_EQUAL(err, "stale signature");
	err[0] = '\0';
	CU_ASSERT_EQUAL(check(SECRET, h, BODY, T - SIO_SIGN_SKEW - 1, err),
	                SIO_REJECT);
	CU_ASSERT_STRING_EQUAL(err, "stale signature");
}

static void
test_check_refuses_tampered_body_and_wrong_secret(void)
{
	char err[SIO_ERR_LEN] = "";
	const char *h = "t=1700000000,v1=" MAC_BODY;

	CU_ASSERT_EQUAL(check(SECRET, h, "{\"a\":2}", T, err), SIO_REJECT);
	CU_ASSERT_STRING_EQUAL(err, "bad signature");
	err[0] = '\0';
	CU_ASSERT_EQUAL(check(SECRET2, h, BODY, T, err), SIO_REJECT);
	CU_ASSERT_STRING_EQUAL(err, "bad signature");
	/* the time is signed too: another t with the same MAC fails */
	err[0] = '\0';
	CU_ASSERT_EQUAL(
	    check(SECRET, "t=1700000001,v1=" MAC_BODY, BODY, T, err),
	    SIO_REJECT);
	CU_ASSERT_STRING_EQUAL(err, "bad signature");
	/* a stale time with a bad MAC says bad, not stale */
	CU_ASSERT_EQUAL(check(SECRET, "t=1,v1=" MAC_BODY, BODY, T, err),
	                SIO_REJECT);
	CU_ASSERT_STRING_EQUAL(err, "bad signature");
}

static void
test_check_takes_any_of_several_v1_entries(void)
{
	char err[SIO_ERR_LEN] = "";

	CU_ASSERT_EQUAL(check(SECRET,
	                      "t=1700000000,v1=" MAC_EMPTY ",v1=" MAC_BODY,
	                      BODY, T, err),
	                SIO_OK);
	CU_ASSERT_EQUAL(check(SECRET,
	                      "t=1700000000,v1=" MAC_BODY ",v1=" MAC_EMPTY,
	                      BODY, T, err),
	                SIO_OK);
	/* unknown keys are passed over */
	CU_ASSERT_EQUAL(
	    check(SECRET, "t=1700000000,v0=zz,v2=" MAC_EMPTY ",v1=" MAC_BODY,
	          BODY, T, err),
	    SIO_OK);
	CU_ASSERT_EQUAL(check(SECRET,
	                      "t=1700000000,v1=" MAC_EMPTY ",v1=" MAC_EMPTY,
	                      BODY, T, err),
	                SIO_REJECT);
}

static void
test_check_refuses_malformed_headers(void)
{
	static const char *const bad[] = {
	    "",
	    "v1=" MAC_BODY,                           /* no t */
	    "t=1700000000",                           /* no v1 */
	    "t=,v1=" MAC_BODY,                        /* empty t */
	    "t=17e8,v1=" MAC_BODY,                    /* t not a number */
	    "t=-1700000000,v1=" MAC_BODY,             /* negative */
	    "t=1700000000000000000000,v1=" MAC_BODY,  /* too many digits */
	    "t=1700000000,t=1700000000,v1=" MAC_BODY, /* two t */
	    "t=1700000000,v1=" MAC_BODY "0",          /* odd hex */
	    "t=1700000000,v1=" MAC_BODY "00",         /* too long */
	    "t=1700000000,v1=xdd52a55d0f214ded21d0f335d6721ac85ab7b43e6b7f6704"
	    "0ebf94c67315635",           /* not hex */
	    "t=1700000000;v1=" MAC_BODY, /* wrong separator */
	};
	char err[SIO_ERR_LEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(check(SECRET, bad[i], BODY, T, err),
		                SIO_REJECT);
		CU_ASSERT_STRING_EQUAL(err, "bad signature");
	}
	err[0] = '\0';
	CU_ASSERT_EQUAL(check(SECRET, NULL, BODY, T, err), SIO_REJECT);
	CU_ASSERT_STRING_EQUAL(err, "bad signature");
	CU_ASSERT_EQUAL(check(SECRET, NULL, BODY, T, NULL), SIO_REJECT);
}

/* 10 KB of header, the good entry first: refused unread. */
static void
test_check_refuses_a_huge_header(void)
{
	size_t n = 10 * 1024;
	char *h = malloc(n + 1), err[SIO_ERR_LEN] = "";
	size_t k = strlen("t=1700000000,v1=" MAC_BODY);

	memcpy(h, "t=1700000000,v1=" MAC_BODY, k);
	memset(h + k, ',', n - k);
	h[n] = '\0';
	CU_ASSERT_EQUAL(check(SECRET, h, BODY, T, err), SIO_REJECT);
	CU_ASSERT_STRING_EQUAL(err, "bad signature");
	/* just under the limit with padding: fine */
	h[SIO_SIGN_MAX_HEADER] = '\0';
	CU_ASSERT_EQUAL(check(SECRET, h, BODY, T, err), SIO_OK);
	free(h);
}

/* What sio_sign() writes, sio_sign_check() accepts, over every length of
 * a body with every byte value. */
static void
test_sign_and_check_agree(void)
{
	char body[256], out[SIO_SIGN_LEN];

	for (int i = 0; i < 256; i++)
		body[i] = (char)i;
	for (size_t len = 0; len <= sizeof(body); len += 17) {
		CU_ASSERT_EQUAL(sio_sign(SECRET, body, len, T, out), SIO_OK);
		CU_ASSERT(strlen(out) < SIO_SIGN_LEN);
		CU_ASSERT_EQUAL(sio_sign_check(SECRET, out, body, len, T, NULL),
		                SIO_OK);
		if (len > 0) {
			body[len - 1] ^= 1;
			CU_ASSERT_EQUAL(
			    sio_sign_check(SECRET, out, body, len, T, NULL),
			    SIO_REJECT);
			body[len - 1] ^= 1;
		}
	}
}

int
main(void)
{
	static const struct cu_test tests[] = {
	    {"sign matches HMAC-SHA256 vectors from openssl and python",
	     test_sign_vectors},
	    {"sign refuses a short secret and a negative time",
	     test_sign_refuses_short_secret_and_negative_time},
	    {"check accepts the vector within the skew",
	     test_check_accepts_the_vector_within_the_skew},
	    {"check refuses a stale time on both sides",
	     test_check_refuses_stale_both_sides},
	    {"check refuses a tampered body, time and a wrong secret",
	     test_check_refuses_tampered_body_and_wrong_secret},
	    {"check takes any of several v1 entries",
	     test_check_takes_any_of_several_v1_entries},
	    {"check refuses malformed headers as bad signatures",
	     test_check_refuses_malformed_headers},
	    {"check refuses a 10 KB header", test_check_refuses_a_huge_header},
	    {"what sign writes check accepts, and a flipped bit not",
	     test_sign_and_check_agree},
	    {NULL, NULL},
	};
	return cu_run("sign", tests, NULL, NULL);
}
