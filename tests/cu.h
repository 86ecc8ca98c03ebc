/*
 * cu.h: the small layer every CUnit suite of siogate shares. A suite file
 * defines its tests as a table and its main() calls cu_run(), which runs
 * them in CUnit's basic mode (printing the run summary) and returns the
 * exit status. Helpers for temporary directories and waiting on a
 * condition with a deadline live here too.
 */
#ifndef SIO_TEST_CU_H
#define SIO_TEST_CU_H

#include <stddef.h>

#include <CUnit/CUnit.h>

struct cu_test {
	const char *name; /* a sentence: "payload parse counts UTF-16 units" */
	void (*fn)(void);
};

/* Runs the tests (ending with {NULL, NULL}) as suite name. Returns 0 when
 * all passed, 1 otherwise. setup/teardown run around each test (may be
 * NULL). */
int cu_run(const char *name, const struct cu_test *tests, void (*setup)(void),
           void (*teardown)(void));

/* A fresh directory under $TMPDIR (or /tmp), removed with cu_rmtree();
 * returns a static-free string the caller frees with free(). */
char *cu_tmpdir(void);
void cu_rmtree(const char *dir);

/* Path of a helper program built next to the tests (helper_<name>); the
 * caller frees with free(). */
char *cu_helper(const char *name);

/* Monotonic milliseconds. */
long long cu_now_ms(void);

/* The packets a store read passes to its callback, ';'-separated in got;
 * cu_collect() is that callback (udata: a struct cu_pkts), refusing the
 * packet after stop_at of them when stop_at is set. */
struct cu_pkts {
	char got[1024];
	size_t n, stop_at;
};
int cu_collect(void *udata, const char *pkt, size_t len);

#endif
