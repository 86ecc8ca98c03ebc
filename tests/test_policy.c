/*
 * test_policy.c: the Flash policy suite (wsd/policy.c). The request is
 * recognised whole and as every prefix, and refused otherwise; the XML is
 * socket.io 0.9's byte for byte for the default "*:*" and for a list, with
 * and without the inline NUL, and bad origins leave the buffer unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "siogate.h"
#include "../wsd/policy.h"

#define XML_HEAD                                                               \
	"<?xml version=\"1.0\"?><!DOCTYPE cross-domain-policy SYSTEM "         \
	"\"http://www.macromedia.com/xml/dtds/cross-domain-policy.dtd\">"      \
	"<cross-domain-policy>"
#define XML_TAIL "</cross-domain-policy>"

static void
test_request_whole_and_prefixes(void)
{
	static const char req[] = "<policy-file-request/>"; /* NUL in sizeof */
	size_t n;
	char *copy;

	CU_ASSERT_EQUAL(sizeof(req), WSD_POLICY_REQUEST_LEN);
	for (n = 0; n <= sizeof(req); n++) {
		copy = malloc(n ? n : 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
		memcpy(copy, req, n);
		CU_ASSERT_EQUAL(wsd_policy_is_request(copy, n),
		                n == sizeof(req) ? WSD_POLICY_REQUEST_LEN : -2);
		free(copy);
	}
}

static void
test_request_refuses_other_bytes(void)
{
	static const struct {
		const char *in;
		size_t len;
		int rc;
	} cases[] = {
	    {"GET / HTTP/1.1\r\n", 16, -1},
	    {"<policy-file-request/>x", 23, -1}, /* no NUL */
	    {"<policy-file-request/> ", 23, -1},
	    {"<policy-file-request>", 21, -1},
	    {"<POLICY", 7, -1},
	    {"\0", 1, -1},
	    /* Bytes after the request are the caller's business. */
	    {"<policy-file-request/>\0GET", 26, WSD_POLICY_REQUEST_LEN},
	};
	size_t k;

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		CU_ASSERT_EQUAL(
		    wsd_policy_is_request(cases[k].in, cases[k].len),
		    cases[k].rc);
}

struct xml_case {
	const char *origins;
	const char *want; /* between head and tail; NULL when refused */
};

static const struct xml_case xml_cases[] = {
    {"*:*", "<allow-access-from domain=\"*\" to-ports=\"*\"/>"},
    {"example.com:80 *.example.org:*, localhost:8080\t*:443",
     "<allow-access-from domain=\"example.com\" to-ports=\"80\"/>"
     "<allow-access-from domain=\"*.example.org\" to-ports=\"*\"/>"
     "<allow-access-from domain=\"localhost\" to-ports=\"8080\"/>"
     "<allow-access-from domain=\"*\" to-ports=\"443\"/>"},
    {"  [::1]:80  ", "<allow-access-from domain=\"[::1]\" to-ports=\"80\"/>"},
    {"a&b<c>\"d'e:1",
     "<allow-access-from domain=\"a&amp;b&lt;c&gt;&quot;d&apos;e\" "
     "to-ports=\"1\"/>"},
    {"", NULL},
    {" , ", NULL},
    {"host", NULL},
    {":80", NULL},
    {"host:", NULL},
    {"host:8x", NULL},
    {"good:1 host:**", NULL},
};

static void
test_xml_table(void)
{
	struct sio_buf b, want;
	size_t k;
	int mode;

	sio_buf_init(&b);
	sio_buf_init(&want);
	for (k = 0; k < sizeof(xml_cases) / sizeof(xml_cases[0]); k++) {
		for (mode = WSD_POLICY_PORT; mode <= WSD_POLICY_INLINE;
		     mode++) {
			sio_buf_reset(&b);
			sio_buf_puts(&b, "x");
			if (xml_cases[k].want == NULL) {
				CU_ASSERT_EQUAL(wsd_policy_encode(
				                    &b, xml_cases[k].origins,
				                    (enum wsd_policy_mode)mode),
				                SIO_ERR);
				CU_ASSERT_EQUAL(b.len, 1);
				CU_ASSERT_STRING_EQUAL(b.p, "x");
				continue;
			}
			sio_buf_reset(&want);
			sio_buf_printf(&want, "x%s%s%s", XML_HEAD,
			               xml_cases[k].want, XML_TAIL);
			if (mode == WSD_POLICY_INLINE)
				sio_buf_putc(&want, '\0');
			CU_ASSERT_EQUAL(
			    wsd_policy_encode(&b, xml_cases[k].origins,
			                      (enum wsd_policy_mode)mode),
			    SIO_OK);
			CU_ASSERT_EQUAL(b.len, want.len);
			CU_ASSERT(b.len == want.len &&
			          memcmp(b.p, want.p, b.len) == 0);
			if (b.len != want.len || memcmp(b.p, want.p, b.len))
				fprintf(stderr, "\norigins \"%s\": %s\n",
				        xml_cases[k].origins, b.p);
		}
	}
	sio_buf_cleanup(&want);
	sio_buf_cleanup(&b);
}

/* The default policy, as socket.io 0.9 writes it on port 10843. */
static void
test_default_bytes(void)
{
	static const char want[] =
	    "<?xml version=\"1.0\"?><!DOCTYPE cross-domain-policy SYSTEM "
	    "\"http://www.macromedia.com/xml/dtds/cross-domain-policy.dtd\">"
	    "<cross-domain-policy><allow-access-from domain=\"*\" "
	    "to-ports=\"*\"/></cross-domain-policy>";
	struct sio_buf b;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(wsd_policy_encode(&b, "*:*", WSD_POLICY_PORT), SIO_OK);
	CU_ASSERT_EQUAL(b.len, sizeof(want) - 1);
	CU_ASSERT_STRING_EQUAL(b.p, want);
	sio_buf_reset(&b);
	CU_ASSERT_EQUAL(wsd_policy_encode(&b, "*:*", WSD_POLICY_INLINE),
	                SIO_OK);
	CU_ASSERT_EQUAL(b.len, sizeof(want));
	CU_ASSERT(memcmp(b.p, want, sizeof(want)) == 0);
	sio_buf_cleanup(&b);
}

static const struct cu_test tests[] = {
    {"policy request is recognised whole and incomplete at every prefix",
     test_request_whole_and_prefixes},
    {"policy request refuses HTTP and near misses",
     test_request_refuses_other_bytes},
    {"policy xml lists every origin, escaped, and refuses bad entries",
     test_xml_table},
    {"policy xml for *:* is socket.io's bytes, with a NUL only inline",
     test_default_bytes},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("policy", tests, NULL, NULL);
}
