/*
 * hash.h: the string hash of siogate's in-process tables (waiting polls
 * and addresses in the gateway, connections and addresses in sio-wsd):
 * FNV-1a over the bytes of a C string. Not for anything a client could
 * exploit beyond a long bucket: the tables hash sids (random) and
 * addresses (a few per client).
 */
#ifndef SIO_HASH_H
#define SIO_HASH_H

#include <stdint.h>

/* FNV-1a (32 bits) of s up to its NUL. Pure. */
uint32_t sio_hash(const char *s);

#endif
