/*
 * test_result.c: the result codes suite: every code distinct and named,
 * internal results apart from them, and the one err setter.
 */
#include <string.h>

#include "cu.h"
#include "result.h"

static const int codes[] = {SIO_OK,     SIO_ERR,  SIO_AGAIN,   SIO_ABSENT,
                            SIO_CLOSED, SIO_FULL, SIO_TOO_BIG, SIO_REJECT};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

static void
test_distinct(void)
{
	for (size_t i = 0; i < NCODES; i++) {
		/* internal results (SESSION_ENDED, SERVE_ANSWERED...) lie at
		 * 100 and beyond, either sign */
		CU_ASSERT(codes[i] > -100 && codes[i] < 100);
		CU_ASSERT_STRING_NOT_EQUAL(sio_strerror(codes[i]),
		                           "unknown result");
		for (size_t j = i + 1; j < NCODES; j++) {
			CU_ASSERT_NOT_EQUAL(codes[i], codes[j]);
			CU_ASSERT_STRING_NOT_EQUAL(sio_strerror(codes[i]),
			                           sio_strerror(codes[j]));
		}
	}
	CU_ASSERT_STRING_EQUAL(sio_strerror(SIO_FULL), "full");
	CU_ASSERT_STRING_EQUAL(sio_strerror(12345), "unknown result");
}

static void
test_err_setter(void)
{
	char err[SIO_ERR_LEN], big[2 * SIO_ERR_LEN];

	CU_ASSERT_EQUAL(sio_err(NULL, "ignored %d", 1), SIO_ERR);
	CU_ASSERT_EQUAL(sio_err(err, "%s: %d", "limit", 7), SIO_ERR);
	CU_ASSERT_STRING_EQUAL(err, "limit: 7");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_EQUAL(sio_err(err, "%s", big), SIO_ERR);
	CU_ASSERT_EQUAL(strlen(err), SIO_ERR_LEN - 1);
}

static const struct cu_test tests[] = {
    {"result codes are distinct, named, and apart from internal results",
     test_distinct},
    {"sio_err writes a cut message, takes NULL, returns SIO_ERR",
     test_err_setter},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("result", tests, NULL, NULL);
}
