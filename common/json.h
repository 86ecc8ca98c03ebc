/*
 * json.h: the JSON carried by packets, through jansson: event bodies
 * `{"name":..,"args":[..]}`, ack argument arrays and json messages. Output
 * is compact, keys in insertion order, non-ASCII raw, like JSON.stringify.
 */
#ifndef SIO_JSON_H
#define SIO_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"

/*
 * Parses an event body. On success returns SIO_OK, *name a new string the
 * caller frees with free(), *args a new reference to the argument array
 * (an empty array when "args" is absent or null). SIO_ERR when the text is
 * not an object with a string "name" of at most SIO_MAX_EVENT_NAME bytes, or
 * "args" is neither an array nor null.
 */
int sio_json_event_parse(const char *data, size_t len, char **name,
                         json_t **args);

/*
 * Appends an event body: `{"name":<name>}` plus `,"args":[...]` when args is
 * a non-empty array (args borrowed, may be NULL). SIO_OK or SIO_ERR (args
 * not an array, name not UTF-8); b unchanged on error.
 */
int sio_json_event_encode(struct sio_buf *b, const char *name, json_t *args);

/*
 * Parses any JSON value (json messages, ack arrays). Returns a new
 * reference, or NULL when malformed. Accepts any top-level value.
 */
/* Arrays and objects nest at most this deep in the JSON siogate reads:
 * jansson's parser and encoder recurse once a level, and a thread's stack
 * (SIO_THREAD_STACK) holds a few hundred levels, not its 2048. */
#define SIO_JSON_MAX_DEPTH 128

/* 1 when the JSON text data (len bytes) nests no deeper than max, else 0
 * (strings are skipped; the text is not otherwise checked). */
int sio_json_depth_ok(const char *data, size_t len, int max);

json_t *sio_json_parse(const char *data, size_t len);

/* Appends the compact text of v. SIO_OK or SIO_ERR (b unchanged). */
int sio_json_encode(struct sio_buf *b, json_t *v);

#endif
