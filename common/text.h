/*
 * text.h: the text transformations of the browser transports, as pure
 * functions: a JavaScript string literal safe inside a <script> element
 * (jsonp-polling and htmlfile bodies), the jsonp POST form decoding, and
 * URL query decoding.
 */
#ifndef SIO_TEXT_H
#define SIO_TEXT_H

#include <stddef.h>

#include "buf.h"

/*
 * Appends s[0..len) (UTF-8) as a double-quoted JSON string literal with '/'
 * written "\/" and '<' written \u003c (so neither "</script>" nor
 * "<!--<script" can change how the page parses the script), U+2028 and
 * U+2029 written as \u2028 and \u2029, '"' '\\' and control characters
 * escaped, other characters raw. SIO_OK, or SIO_ERR on invalid UTF-8 (b
 * unchanged).
 */
int sio_text_js_string(struct sio_buf *b, const char *s, size_t len);

/* The most digits in a jsonp index (io.j[...]): the client's count of its
 * jsonp requests, echoed into JavaScript. */
#define SIO_TEXT_JSONP_INDEX_MAX 9

/* 1 when s[0..len) is a jsonp index: 1 to SIO_TEXT_JSONP_INDEX_MAX digits
 * and nothing else; 0 when not. The one rule for every jsonp index. */
int sio_text_jsonp_index_valid(const char *s, size_t len);

/* Appends `io.j[<index>]("<escaped payload>");`. index must pass
 * sio_text_jsonp_index_valid() (else SIO_ERR, b unchanged). */
int sio_text_jsonp(struct sio_buf *b, const char *index, const char *payload,
                   size_t len);

/* Appends `<script>_("<escaped payload>");</script>`. SIO_OK or SIO_ERR. */
int sio_text_htmlfile(struct sio_buf *b, const char *payload, size_t len);

/* The 256-byte htmlfile prelude (padded with spaces); static storage. */
const char *sio_text_htmlfile_prelude(void);
#define SIO_HTMLFILE_PRELUDE_LEN 256

/* The value of hex digit c (either case), or -1 when it is not one. */
int sio_text_hexval(char c);

/*
 * Decodes %XX escapes (and '+' as a space when form is set) of s[0..len),
 * appending the bytes to b. SIO_OK, or SIO_ERR on a bad escape.
 */
int sio_text_url_decode(struct sio_buf *b, const char *s, size_t len, int form);

/*
 * Finds field name in an application/x-www-form-urlencoded body or a query
 * string and appends its decoded value to b. Returns SIO_OK, SIO_ABSENT when
 * absent, SIO_ERR when badly encoded.
 */
int sio_text_form_field(struct sio_buf *b, const char *body, size_t len,
                        const char *name);

/*
 * Decodes a jsonp-polling POST body: form field `d`, URL-decoded with '+'
 * as space, then one JSON string literal unescaped (surrogate pairs
 * included) to UTF-8, appended to b. SIO_OK or SIO_ERR (b unchanged).
 */
int sio_text_jsonp_post_decode(struct sio_buf *b, const char *body, size_t len);

#endif
