/*
 * hash.c: FNV-1a over a C string, the hash of the programs' in-process
 * tables (hash.h).
 */
#include "hash.h"

uint32_t
sio_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}
