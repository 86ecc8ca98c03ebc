/*
 * test_fuzz_seeded.c: the fuzz targets of fuzz_body.h run without clang's
 * libFuzzer, so every `make check` and `make asan` repeats the same cases:
 * first every file of tests/fuzz_corpus/<target>/ as it is (the seeds and
 * every input a fuzz run found and kept as a regression), then inputs from
 * a fixed-seed generator: the target's dictionary tokens (fuzz_corpus/
 * <target>.dict) and random bytes, and the seeds mutated by flips,
 * insertions, deletions and truncations. The real checks are the targets'
 * aborts and the sanitizers. Run from the top of the tree.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "fuzz_body.h"

#define SEEDED_CORPUS "tests/fuzz_corpus"
#define SEEDED_MAX_LEN 4096
#define SEEDED_MAX_ITEMS 256

/* A target's seeds or tokens: owned copies, and their lengths. */
struct seeded_set {
	uint8_t *item[SEEDED_MAX_ITEMS];
	size_t len[SEEDED_MAX_ITEMS];
	size_t n;
};

/* Runs per target (the wire target's figure is the suite's from before
 * there were more targets). */
static const struct {
	const char *name;
	long runs;
} seeded_runs[] = {
    {"wire", 200000},   {"text", 200000},    {"hixie", 100000},
    {"route", 200000},  {"request", 100000}, {"config", 50000},
    {"origin", 200000}, {"publish", 50000},  {NULL, 0},
};

/* xorshift64*: small, fast and the same on every platform. */
static uint64_t
seeded_next(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 2685821657736338717ULL;
}

static size_t
seeded_below(uint64_t *state, size_t n)
{
	return (size_t)(seeded_next(state) % n);
}

/* Inserts tok[0..n) at pos when it fits. */
static size_t
seeded_insert(uint8_t *buf, size_t len, size_t pos, const uint8_t *tok,
              size_t n)
{
	if (len + n > SEEDED_MAX_LEN)
		return len;
	memmove(buf + pos + n, buf + pos, len - pos);
	memcpy(buf + pos, tok, n);
	return len + n;
}

static size_t
seeded_token(uint64_t *st, const struct seeded_set *tokens, uint8_t *buf,
             size_t len, size_t pos)
{
	size_t k;

	if (tokens->n == 0)
		return len;
	k = seeded_below(st, tokens->n);
	return seeded_insert(buf, len, pos, tokens->item[k], tokens->len[k]);
}

static size_t
seeded_mutate(uint64_t *st, const struct seeded_set *tokens, uint8_t *buf,
              size_t len)
{
	size_t pos = len ? seeded_below(st, len + 1) : 0;

	switch (seeded_below(st, 6)) {
	case 0:
		if (pos < len)
			buf[pos] ^= (uint8_t)(1u << seeded_below(st, 8));
		return len;
	case 1:
		return seeded_token(st, tokens, buf, len, pos);
	case 2:
		if (pos < len)
			memmove(buf + pos, buf + pos + 1, len - pos - 1);
		return pos < len ? len - 1 : len;
	case 3:
		return pos;
	case 4:
		if (pos < len)
			buf[pos] = (uint8_t)seeded_next(st);
		return len;
	default:
		/* Repeat the input's own bytes: a second frame or packet. */
		if (pos > 0 && len + pos <= SEEDED_MAX_LEN) {
			memcpy(buf + len, buf, pos);
			return len + pos;
		}
		return len;
	}
}

static size_t
seeded_input(uint64_t *st, const struct seeded_set *seeds,
             const struct seeded_set *tokens, uint8_t *buf)
{
	size_t len = 0, k, n;

	if (seeded_below(st, 4) == 0 || seeds->n == 0) {
		n = seeded_below(st, 24);
		for (k = 0; k < n; k++) {
			if (seeded_below(st, 2))
				len = seeded_token(st, tokens, buf, len, len);
			else if (len < SEEDED_MAX_LEN)
				buf[len++] = (uint8_t)seeded_next(st);
		}
		return len;
	}
	k = seeded_below(st, seeds->n);
	len = seeds->len[k];
	memcpy(buf, seeds->item[k], len);
	n = 1 + seeded_below(st, 4);
	for (k = 0; k < n; k++)
		len = seeded_mutate(st, tokens, buf, len);
	return len;
}

static void
seeded_add(struct seeded_set *set, const void *data, size_t len)
{
	uint8_t *copy;

	CU_ASSERT_FATAL(set->n < SEEDED_MAX_ITEMS && len <= SEEDED_MAX_LEN);
	copy = malloc(len ? len : 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, data, len);
	set->item[set->n] = copy;
	set->len[set->n++] = len;
}

static void
seeded_free(struct seeded_set *set)
{
	while (set->n > 0)
		free(set->item[--set->n]);
}

static int
seeded_hex(int c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* The tokens of a libFuzzer dictionary: one "..." per line with \\, \"
 * and \xNN escapes; '#' lines are comments. */
static void
seeded_dict(struct seeded_set *set, const char *path)
{
	char line[512], tok[512];
	const char *p;
	size_t n;
	FILE *f = fopen(path, "r");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		p = strchr(line, '"');
		if (line[0] == '#' || p == NULL)
			continue;
		for (n = 0, p++; *p != '"' && *p != '\0'; p++) {
			if (*p == '\\' && p[1] == 'x' &&
			    seeded_hex(p[2]) >= 0 && seeded_hex(p[3]) >= 0) {
				tok[n++] = (char)(seeded_hex(p[2]) << 4 |
				                  seeded_hex(p[3]));
				p += 3;
			} else {
				p += *p == '\\' && p[1] != '\0';
				tok[n++] = *p;
			}
		}
		CU_ASSERT_EQUAL_FATAL(*p, '"');
		seeded_add(set, tok, n);
	}
	fclose(f);
}

static int
seeded_skip_dots(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Every file of a target's corpus directory, in name order. */
static void
seeded_corpus(struct seeded_set *set, const char *dir)
{
	struct dirent **names;
	char path[512];
	uint8_t buf[SEEDED_MAX_LEN];
	size_t len;
	FILE *f;
	int n, k;

	n = scandir(dir, &names, seeded_skip_dots, alphasort);
	CU_ASSERT_FATAL(n > 0);
	for (k = 0; k < n; k++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[k]->d_name);
		f = fopen(path, "rb");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		len = fread(buf, 1, sizeof(buf), f);
		CU_ASSERT_FATAL(feof(f) && !ferror(f));
		fclose(f);
		seeded_add(set, buf, len);
		free(names[k]);
	}
	free(names);
}

/* Runs data[0..len) through the target from an exact-size copy, so ASan
 * catches a read past the end. */
static void
seeded_one(const struct fuzz_target *t, const uint8_t *data, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, data, len);
	t->run(copy, len);
	free(copy);
}

/* The corpus as it is, then runs generated inputs. */
static void
seeded_target(const char *name, long runs)
{
	const struct fuzz_target *t;
	struct seeded_set seeds = {0}, tokens = {0};
	uint8_t buf[2 * SEEDED_MAX_LEN];
	uint64_t state = 0x5105ea7e5eedULL;
	char path[256];
	size_t len, k;
	long i;

	for (t = fuzz_targets; t->name != NULL; t++)
		if (strcmp(t->name, name) == 0)
			break;
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->name);
	snprintf(path, sizeof(path), "%s/%s", SEEDED_CORPUS, name);
	seeded_corpus(&seeds, path);
	snprintf(path, sizeof(path), "%s/%s.dict", SEEDED_CORPUS, name);
	seeded_dict(&tokens, path);
	CU_ASSERT_FATAL(tokens.n > 0);
	for (k = 0; k < seeds.n; k++)
		seeded_one(t, seeds.item[k], seeds.len[k]);
	for (i = 0; i < runs; i++) {
		len = seeded_input(&state, &seeds, &tokens, buf);
		seeded_one(t, buf, len);
	}
	CU_ASSERT_EQUAL(i, runs);
	seeded_free(&seeds);
	seeded_free(&tokens);
}

static long
seeded_runs_of(const char *name)
{
	for (int k = 0; seeded_runs[k].name != NULL; k++)
		if (strcmp(seeded_runs[k].name, name) == 0)
			return seeded_runs[k].runs;
	return 0;
}

#define SEEDED_TEST(name)                                                      \
	static void test_##name(void)                                          \
	{                                                                      \
		seeded_target(#name, seeded_runs_of(#name));                   \
	}
SEEDED_TEST(wire)
SEEDED_TEST(text)
SEEDED_TEST(hixie)
SEEDED_TEST(route)
SEEDED_TEST(request)
SEEDED_TEST(config)
SEEDED_TEST(origin)
SEEDED_TEST(publish)

/* The packet and payload seeds are accepted, so mutations start there. */
static void
test_seeds_are_valid(void)
{
	struct seeded_set seeds = {0};
	struct sio_slice out[4];
	struct sio_packet p;
	struct dirent **names;
	size_t k, n;
	int count;

	seeded_corpus(&seeds, SEEDED_CORPUS "/wire");
	count =
	    scandir(SEEDED_CORPUS "/wire", &names, seeded_skip_dots, alphasort);
	CU_ASSERT_FATAL(count == (int)seeds.n);
	for (k = 0; k < seeds.n; k++) {
		const char *s = (const char *)seeds.item[k];

		if (strncmp(names[k]->d_name, "packet-", 7) == 0)
			CU_ASSERT_EQUAL(sio_packet_parse(s, seeds.len[k], &p),
			                (int)seeds.len[k]);
		if (strncmp(names[k]->d_name, "payload-", 8) == 0)
			CU_ASSERT_EQUAL(
			    sio_payload_split(s, seeds.len[k], out, 4, &n),
			    SIO_OK);
		free(names[k]);
	}
	free(names);
	seeded_free(&seeds);
}

static const struct cu_test tests[] = {
    {"fuzz seeds of packets and payloads are valid", test_seeds_are_valid},
    {"fuzz wire: packets and payloads survive their corpus and seeded inputs",
     test_wire},
    {"fuzz hixie: heads, keys and frames survive their corpus and seeded "
     "inputs",
     test_hixie},
    {"fuzz route: both routers survive their corpus and seeded inputs",
     test_route},
    {"fuzz request: query, cookies and stored JSON survive their corpus "
     "and seeded inputs",
     test_request},
    {"fuzz config: the file and its values survive their corpus and seeded "
     "inputs",
     test_config},
    {"fuzz origin: origins, stats_allow and the policy survive their "
     "corpus and seeded inputs",
     test_origin},
    {"fuzz publish: action lists and signature headers survive their "
     "corpus and seeded inputs",
     test_publish},
    /* Last: an abort ends the suite, and this one checks what a page
     * makes of the escaping, which others may change. */
    {"fuzz text: escaping, URL, form and jsonp decoding survive their "
     "corpus and seeded inputs",
     test_text},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("fuzz_seeded", tests, NULL, NULL);
}
