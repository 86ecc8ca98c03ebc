/*
 * fuzz_text.h: the fuzz target over the browser transports' text: the
 * JavaScript string escaping of jsonp-polling and htmlfile bodies, the
 * jsonp POST decoding, and the URL and form-field decoders. What reaches a
 * page must not end its script element, open an HTML comment or start a
 * script ("<!--" and "<script" change how the HTML parser reads the rest
 * of a script element). Included by fuzz_body.h only.
 */
#ifndef SIO_FUZZ_TEXT_H
#define SIO_FUZZ_TEXT_H

/* Nothing in an escaped body that the HTML parser of a page acts on. */
static void
fuzz_text_page_safe(const char *s, size_t len)
{
	FUZZ_CHECK(!fuzz_find_ci(s, len, "</"));
	FUZZ_CHECK(!fuzz_find_ci(s, len, "<!--"));
	FUZZ_CHECK(!fuzz_find_ci(s, len, "<script"));
	FUZZ_CHECK(!fuzz_find_ci(s, len, "\xe2\x80\xa8") &&
	           !fuzz_find_ci(s, len, "\xe2\x80\xa9"));
}

/* Escaping: valid exactly when the UTF-8 is, and JSON decodes it back. */
static void
fuzz_text_escape(const char *s, size_t size)
{
	static const char head[] = "<script>_(", tail[] = ");</script>";
	struct sio_buf b;
	json_t *v;
	ssize_t units;
	int rc;

	units = sio_payload_utf16_len(s, size);
	FUZZ_CHECK(units >= -1 && units <= (ssize_t)size);
	sio_buf_init(&b);
	rc = sio_text_js_string(&b, s, size);
	FUZZ_CHECK((rc == SIO_OK) == (units >= 0));
	if (rc == SIO_OK) {
		v = sio_json_parse(b.p, b.len);
		FUZZ_CHECK(json_is_string(v) && json_string_length(v) == size &&
		           memcmp(json_string_value(v), s, size) == 0);
		json_decref(v);
	}
	/* The htmlfile body: the payload between the fixed head and tail. */
	sio_buf_reset(&b);
	rc = sio_text_htmlfile(&b, s, size);
	FUZZ_CHECK((rc == SIO_OK) == (units >= 0));
	if (rc == SIO_OK) {
		FUZZ_CHECK(b.len >= sizeof(head) + sizeof(tail) - 2);
		FUZZ_CHECK(memcmp(b.p, head, sizeof(head) - 1) == 0);
		FUZZ_CHECK(memcmp(b.p + b.len - (sizeof(tail) - 1), tail,
		                  sizeof(tail) - 1) == 0);
		fuzz_text_page_safe(b.p + sizeof(head) - 1,
		                    b.len - (sizeof(head) - 1) -
		                        (sizeof(tail) - 1));
	}
	/* The jsonp body: io.j[<digits>]("..."); and nothing else. */
	sio_buf_reset(&b);
	rc = sio_text_jsonp(&b, "1", s, size);
	FUZZ_CHECK((rc == SIO_OK) == (units >= 0));
	if (rc == SIO_OK)
		fuzz_text_page_safe(b.p, b.len);
	sio_buf_cleanup(&b);
}

/* An index is echoed into JavaScript: accepted only as digits. */
static void
fuzz_text_jsonp_index(const char *s, size_t size)
{
	struct sio_buf b;
	char index[32];
	size_t n = size < sizeof(index) - 1 ? size : sizeof(index) - 1;

	memcpy(index, s, n);
	index[n] = '\0';
	sio_buf_init(&b);
	if (sio_text_jsonp(&b, index, "x", 1) == SIO_OK) {
		n = strlen(index);
		FUZZ_CHECK(n > 0 && strspn(index, "0123456789") == n);
		FUZZ_CHECK(strncmp(b.p, "io.j[", 5) == 0 &&
		           memcmp(b.p + 5, index, n) == 0 && b.p[5 + n] == ']');
	} else {
		FUZZ_CHECK(b.len == 0);
	}
	sio_buf_cleanup(&b);
}

/* How many bytes %XX decoding yields, or -1 when an escape is bad. */
static long
fuzz_text_decoded_len(const char *s, size_t len)
{
	long n = 0;
	size_t i;

	for (i = 0; i < len; i++, n++)
		if (s[i] == '%') {
			if (len - i < 3 || !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]))
				return -1;
			i += 2;
		}
	return n;
}

/* URL decoding: refused exactly at a bad escape, and it undoes %XX. */
static void
fuzz_text_url(const char *s, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	struct sio_buf b, enc;
	long want = fuzz_text_decoded_len(s, size);
	size_t i;
	int rc;

	sio_buf_init(&b);
	FUZZ_CHECK(sio_buf_puts(&b, "pre") == SIO_OK);
	rc = sio_text_url_decode(&b, s, size, 0);
	FUZZ_CHECK((rc == SIO_OK) == (want >= 0));
	FUZZ_CHECK(rc == SIO_OK ? b.len == 3 + (size_t)want : b.len == 3);
	sio_buf_reset(&b);
	rc = sio_text_url_decode(&b, s, size, 1);
	FUZZ_CHECK((rc == SIO_OK) == (want >= 0));
	FUZZ_CHECK(rc != SIO_OK || b.len == (size_t)want);
	/* Every byte as %XX, '+' for spaces: decodes back to s. */
	sio_buf_init(&enc);
	for (i = 0; i < size; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[3] = {'%', hex[c >> 4], hex[c & 15]};

		FUZZ_CHECK(c == ' ' ? sio_buf_putc(&enc, '+') == SIO_OK
		                    : sio_buf_append(&enc, e, 3) == SIO_OK);
	}
	sio_buf_reset(&b);
	FUZZ_CHECK(sio_text_url_decode(&b, enc.p ? enc.p : "", enc.len, 1) ==
	           SIO_OK);
	FUZZ_CHECK(b.len == size && (size == 0 || memcmp(b.p, s, size) == 0));
	sio_buf_cleanup(&enc);
	sio_buf_cleanup(&b);
}

/* Form fields: the first "name=" segment, decoded, or SIO_ABSENT. */
static void
fuzz_text_form(const char *s, size_t size, const char *name)
{
	struct sio_buf got, want;
	size_t i = 0, end, klen, nlen = strlen(name);
	const char *amp, *eq;
	int rc, wrc = SIO_ABSENT;

	sio_buf_init(&got);
	sio_buf_init(&want);
	rc = sio_text_form_field(&got, s, size, name);
	/* The reference: split at '&', compare the part before '='. */
	for (i = 0; i <= size; i = end + 1) {
		amp = memchr(s + i, '&', size - i);
		end = amp != NULL ? (size_t)(amp - s) : size;
		eq = memchr(s + i, '=', end - i);
		klen = eq != NULL ? (size_t)(eq - (s + i)) : end - i;
		if (klen != nlen || memcmp(s + i, name, nlen) != 0)
			continue;
		wrc = eq == NULL
		          ? SIO_OK
		          : sio_text_url_decode(&want, eq + 1,
		                                end - (size_t)(eq + 1 - s), 1);
		break;
	}
	FUZZ_CHECK(rc == wrc);
	FUZZ_CHECK(got.len == want.len &&
	           (got.len == 0 || memcmp(got.p, want.p, got.len) == 0));
	sio_buf_cleanup(&got);
	sio_buf_cleanup(&want);
}

/* jsonp POST: what decodes is UTF-8, and the client's encoding of it
 * (a JSON string in form field d) decodes to the same bytes. */
static void
fuzz_text_jsonp_post(const char *s, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	struct sio_buf out, lit, body, again;
	size_t i;

	sio_buf_init(&out);
	if (sio_text_jsonp_post_decode(&out, s, size) != SIO_OK) {
		FUZZ_CHECK(out.len == 0);
		sio_buf_cleanup(&out);
		return;
	}
	FUZZ_CHECK(sio_payload_utf16_len(out.p ? out.p : "", out.len) >= 0);
	sio_buf_init(&lit);
	sio_buf_init(&body);
	sio_buf_init(&again);
	FUZZ_CHECK(sio_text_js_string(&lit, out.p ? out.p : "", out.len) ==
	           SIO_OK);
	FUZZ_CHECK(sio_buf_puts(&body, "d=") == SIO_OK);
	for (i = 0; i < lit.len; i++) {
		unsigned char c = (unsigned char)lit.p[i];
		char e[3] = {'%', hex[c >> 4], hex[c & 15]};

		FUZZ_CHECK(sio_buf_append(&body, e, 3) == SIO_OK);
	}
	FUZZ_CHECK(sio_text_jsonp_post_decode(&again, body.p, body.len) ==
	           SIO_OK);
	FUZZ_CHECK(again.len == out.len &&
	           (out.len == 0 || memcmp(again.p, out.p, out.len) == 0));
	sio_buf_cleanup(&again);
	sio_buf_cleanup(&body);
	sio_buf_cleanup(&lit);
	sio_buf_cleanup(&out);
}

static void
fuzz_text(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	fuzz_text_escape(s, size);
	fuzz_text_jsonp_index(s, size);
	fuzz_text_url(s, size);
	fuzz_text_form(s, size, "d");
	fuzz_text_form(s, size, "");
	fuzz_text_jsonp_post(s, size);
}

#endif
