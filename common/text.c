/*
 * text.c: the text transformations of the browser transports (text.h).
 * jsonp-polling and htmlfile deliver packets as JavaScript string literals
 * inside <script>, so the escaping must survive both the JavaScript parser
 * (U+2028/U+2029 are line terminators before ES2019) and the HTML one
 * ("</script>" would end the element, "<!--<script" would keep the next
 * ones from ending theirs). The jsonp POST arrives as a form
 * field holding a JSON string literal, decoded here back to UTF-8.
 */
#include <string.h>

#include <jansson.h>

#include "payload.h"
#include "siogate.h"
#include "text.h"

#define SIO_TEXT_SP8 "        "
#define SIO_TEXT_SP40                                                          \
	SIO_TEXT_SP8 SIO_TEXT_SP8 SIO_TEXT_SP8 SIO_TEXT_SP8 SIO_TEXT_SP8

/* 83 bytes of script and 173 spaces: IE renders nothing before 256. */
static const char sio_text_prelude[] =
    "<html><body><script>var _ = function (msg) "
    "{ parent.s._(msg, document); };</script>" SIO_TEXT_SP40 SIO_TEXT_SP40
        SIO_TEXT_SP40 SIO_TEXT_SP40 SIO_TEXT_SP8 "     ";

_Static_assert(sizeof(sio_text_prelude) == SIO_HTMLFILE_PRELUDE_LEN + 1,
               "htmlfile prelude must be 256 bytes");

/*
 * The escape for the byte at s[i], or NULL when it goes out raw. Control
 * characters without a short form get \u00XX through tmp.
 */
static const char *
sio_text_escape(const unsigned char *s, size_t len, size_t i, char tmp[7])
{
	static const char hex[] = "0123456789abcdef";

	switch (s[i]) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '/':
		return "\\/";
	case '<':
		/* "<!--" then "<script" inside a script element puts the HTML
		 * tokenizer in its "double escaped" state, where "</script>"
		 * no longer ends the element: the rest of an htmlfile stream
		 * would be swallowed. No '<' reaches the page raw. */
		return "\\u003c";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	case 0xe2:
		/* U+2028 and U+2029 are E2 80 A8 and E2 80 A9. */
		if (i + 2 < len && s[i + 1] == 0x80 &&
		    (s[i + 2] == 0xa8 || s[i + 2] == 0xa9))
			return s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
		return NULL;
	default:
		if (s[i] >= 0x20)
			return NULL;
		memcpy(tmp, "\\u00", 4);
		tmp[4] = hex[s[i] >> 4];
		tmp[5] = hex[s[i] & 0xf];
		tmp[6] = '\0';
		return tmp;
	}
}

int
sio_text_js_string(struct sio_buf *b, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t old = b->len, i, run = 0;
	const char *esc;
	char tmp[7];

	if (sio_payload_utf16_len(s, len) < 0)
		return SIO_ERR;
	if (sio_buf_putc(b, '"') != SIO_OK)
		return SIO_ERR;
	for (i = 0; i < len; i++) {
		esc = sio_text_escape(u, len, i, tmp);
		if (esc == NULL)
			continue;
		if (sio_buf_append(b, s + run, i - run) != SIO_OK ||
		    sio_buf_puts(b, esc) != SIO_OK)
			goto err;
		if (u[i] == 0xe2)
			i += 2;
		run = i + 1;
	}
	if (sio_buf_append(b, s + run, len - run) != SIO_OK ||
	    sio_buf_putc(b, '"') != SIO_OK)
		goto err;
	return SIO_OK;
err:
	sio_buf_truncate(b, old);
	return SIO_ERR;
}

int
sio_text_jsonp_index_valid(const char *s, size_t len)
{
	/* echoed into JavaScript: digits and nothing else */
	if (len == 0 || len > SIO_TEXT_JSONP_INDEX_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int
sio_text_jsonp(struct sio_buf *b, const char *index, const char *payload,
               size_t len)
{
	size_t old = b->len, n = strlen(index);

	if (!sio_text_jsonp_index_valid(index, n))
		return SIO_ERR;
	if (sio_buf_puts(b, "io.j[") != SIO_OK ||
	    sio_buf_append(b, index, n) != SIO_OK ||
	    sio_buf_puts(b, "](") != SIO_OK ||
	    sio_text_js_string(b, payload, len) != SIO_OK ||
	    sio_buf_puts(b, ");") != SIO_OK) {
		sio_buf_truncate(b, old);
		return SIO_ERR;
	}
	return SIO_OK;
}

int
sio_text_htmlfile(struct sio_buf *b, const char *payload, size_t len)
{
	size_t old = b->len;

	if (sio_buf_puts(b, "<script>_(") != SIO_OK ||
	    sio_text_js_string(b, payload, len) != SIO_OK ||
	    sio_buf_puts(b, ");</script>") != SIO_OK) {
		sio_buf_truncate(b, old);
		return SIO_ERR;
	}
	return SIO_OK;
}

const char *
sio_text_htmlfile_prelude(void)
{
	return sio_text_prelude;
}

int
sio_text_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
sio_text_url_decode(struct sio_buf *b, const char *s, size_t len, int form)
{
	size_t old = b->len, i, run = 0;
	int hi, lo;
	char c;

	for (i = 0; i < len; i++) {
		if (s[i] != '%' && !(form && s[i] == '+'))
			continue;
		if (sio_buf_append(b, s + run, i - run) != SIO_OK)
			goto err;
		if (s[i] == '+') {
			c = ' ';
		} else {
			if (len - i < 3)
				goto err;
			hi = sio_text_hexval(s[i + 1]);
			lo = sio_text_hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				goto err;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (sio_buf_putc(b, c) != SIO_OK)
			goto err;
		run = i + 1;
	}
	if (sio_buf_append(b, s + run, len - run) != SIO_OK)
		goto err;
	return SIO_OK;
err:
	sio_buf_truncate(b, old);
	return SIO_ERR;
}

int
sio_text_form_field(struct sio_buf *b, const char *body, size_t len,
                    const char *name)
{
	size_t nlen = strlen(name), i = 0, end, klen;
	const char *amp, *eq;

	if (body == NULL)
		return SIO_ABSENT;
	while (i <= len) {
		amp = memchr(body + i, '&', len - i);
		end = amp ? (size_t)(amp - body) : len;
		eq = memchr(body + i, '=', end - i);
		klen = eq ? (size_t)(eq - (body + i)) : end - i;
		/* Names are compared as sent: siogate's are plain ASCII. */
		if (klen == nlen && memcmp(body + i, name, nlen) == 0) {
			if (eq == NULL)
				return sio_buf_append(b, "", 0);
			return sio_text_url_decode(
			    b, eq + 1, end - (size_t)(eq + 1 - body), 1);
		}
		i = end + 1;
	}
	return SIO_ABSENT;
}

int
sio_text_jsonp_post_decode(struct sio_buf *b, const char *body, size_t len)
{
	struct sio_buf d;
	json_error_t jerr;
	json_t *v = NULL;
	int rc = SIO_ERR;

	sio_buf_init(&d);
	if (sio_text_form_field(&d, body, len, "d") != SIO_OK || d.len == 0)
		goto out;
	/* jansson validates the UTF-8 and refuses lone surrogates. */
	v = json_loadb(d.p, d.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (v == NULL || !json_is_string(v))
		goto out;
	rc = sio_buf_append(b, json_string_value(v), json_string_length(v));
out:
	json_decref(v);
	sio_buf_cleanup(&d);
	return rc;
}
