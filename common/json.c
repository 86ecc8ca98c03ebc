/*
 * json.c: siogate's one seam to jansson for the JSON inside packets
 * (json.h). Output matches what the 0.9 server's JSON.stringify writes:
 * compact, keys in insertion order, non-ASCII raw and '/' unescaped, so the
 * event body is `{"name":..}` with `,"args":[..]` only when there are args.
 * One deliberate difference: U+2028 and U+2029 are written \u2028 and
 * \u2029, because the 0.9 client reads ack data with a regular expression
 * whose `.` stops at line terminators, which would cut the JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "siogate.h"

#define SIO_JSON_DUMP_FLAGS                                                    \
	(JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)
/* JSON.parse accepts any value and "\u0000" inside strings. */
#define SIO_JSON_LOAD_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

int
sio_json_depth_ok(const char *data, size_t len, int max)
{
	int depth = 0, in_string = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = data[i];

		if (in_string) {
			if (ch == '\\')
				i++; /* the escaped character */
			else if (ch == '"')
				in_string = 0;
		} else if (ch == '"') {
			in_string = 1;
		} else if (ch == '[' || ch == '{') {
			if (++depth > max)
				return 0;
		} else if (ch == ']' || ch == '}') {
			depth--;
		}
	}
	return 1;
}

json_t *
sio_json_parse(const char *data, size_t len)
{
	json_error_t err;

	if (data == NULL || !sio_json_depth_ok(data, len, SIO_JSON_MAX_DEPTH))
		return NULL;
	return json_loadb(data, len, SIO_JSON_LOAD_FLAGS, &err);
}

/* Appends a chunk of jansson's output, escaping U+2028 and U+2029 (bytes
 * E2 80 A8/A9, which in JSON text can only stand inside strings). jansson
 * writes each string in one call, so a character is never split. */
static int
sio_json_dump_cb(const char *buffer, size_t size, void *udata)
{
	struct sio_buf *b = udata;
	size_t run = 0;

	for (size_t i = 0; i + 2 < size; i++) {
		if ((unsigned char)buffer[i] != 0xe2 ||
		    (unsigned char)buffer[i + 1] != 0x80 ||
		    ((unsigned char)buffer[i + 2] & 0xfe) != 0xa8)
			continue;
		if (sio_buf_append(b, buffer + run, i - run) != SIO_OK ||
		    sio_buf_puts(b, buffer[i + 2] == (char)0xa8
		                        ? "\\u2028"
		                        : "\\u2029") != SIO_OK)
			return -1;
		i += 2;
		run = i + 1;
	}
	return sio_buf_append(b, buffer + run, size - run) == SIO_OK ? 0 : -1;
}

int
sio_json_encode(struct sio_buf *b, json_t *v)
{
	size_t old = b->len;

	if (v == NULL)
		return SIO_ERR;
	if (json_dump_callback(v, sio_json_dump_cb, b, SIO_JSON_DUMP_FLAGS) !=
	    0) {
		sio_buf_truncate(b, old);
		return SIO_ERR;
	}
	/* An empty dump still leaves the buffer NUL-terminated. */
	return sio_buf_append(b, "", 0);
}

int
sio_json_event_parse(const char *data, size_t len, char **name, json_t **args)
{
	json_t *root, *jname, *jargs;
	char *s;
	size_t n;

	root = sio_json_parse(data, len);
	if (root == NULL)
		return SIO_ERR;
	jname = json_object_get(root, "name");
	jargs = json_object_get(root, "args");
	if (!json_is_string(jname) ||
	    (jargs != NULL && !json_is_array(jargs) && !json_is_null(jargs)))
		goto err;
	n = json_string_length(jname);
	/* A name is a C string for the callbacks: no NUL inside. */
	if (n > SIO_MAX_EVENT_NAME || strlen(json_string_value(jname)) != n)
		goto err;
	if ((s = strdup(json_string_value(jname))) == NULL)
		goto err;
	if (json_is_array(jargs))
		json_incref(jargs);
	else if ((jargs = json_array()) == NULL) {
		free(s);
		goto err;
	}
	*name = s;
	*args = jargs;
	json_decref(root);
	return SIO_OK;
err:
	json_decref(root);
	return SIO_ERR;
}

int
sio_json_event_encode(struct sio_buf *b, const char *name, json_t *args)
{
	json_t *body, *jname;
	int rc = SIO_ERR;

	if (name == NULL || (args != NULL && !json_is_array(args)))
		return SIO_ERR;
	if ((body = json_object()) == NULL)
		return SIO_ERR;
	/* json_string() refuses invalid UTF-8. */
	jname = json_string(name);
	if (jname == NULL || json_object_set_new(body, "name", jname) != 0)
		goto out;
	if (args != NULL && json_array_size(args) > 0 &&
	    json_object_set(body, "args", args) != 0)
		goto out;
	rc = sio_json_encode(b, body);
out:
	json_decref(body);
	return rc;
}
