/*
 * cu.c: the shared CUnit runner and test utilities declared in cu.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "cu.h"

static void (*cu_setup_fn)(void);
static void (*cu_teardown_fn)(void);

static void
cu_setup(void)
{
	if (cu_setup_fn)
		cu_setup_fn();
}

static void
cu_teardown(void)
{
	if (cu_teardown_fn)
		cu_teardown_fn();
}

int
cu_run(const char *name, const struct cu_test *tests, void (*setup)(void),
       void (*teardown)(void))
{
	CU_pSuite s;
	unsigned int failed;

	cu_setup_fn = setup;
	cu_teardown_fn = teardown;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite_with_setup_and_teardown(name, NULL, NULL, cu_setup,
	                                         cu_teardown);
	if (s == NULL)
		goto err;
	for (; tests->name; tests++)
		if (CU_add_test(s, tests->name, tests->fn) == NULL)
			goto err;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto err;
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
err:
	fprintf(stderr, "%s: CUnit error: %s\n", name, CU_get_error_msg());
	CU_cleanup_registry();
	return 1;
}

char *
cu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&path, "%s/siogate-test-XXXXXX", base) < 0)
		return NULL;
	if (mkdtemp(path) == NULL) {
		free(path);
		return NULL;
	}
	return path;
}

void
cu_rmtree(const char *dir)
{
	char *cmd;

	if (dir == NULL || strncmp(dir, "/", 1) != 0 ||
	    strstr(dir, "siogate-test-") == NULL)
		return;
	if (asprintf(&cmd, "rm -rf '%s'", dir) < 0)
		return;
	if (system(cmd) != 0)
		fprintf(stderr, "cu_rmtree: could not remove %s\n", dir);
	free(cmd);
}

char *
cu_helper(const char *name)
{
	const char *bin = getenv("SIO_TEST_BIN");
	char *path;

	if (bin == NULL)
		bin = "build/tests";
	if (asprintf(&path, "%s/helper_%s", bin, name) < 0)
		return NULL;
	return path;
}

long long
cu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
cu_collect(void *udata, const char *pkt, size_t len)
{
	struct cu_pkts *c = udata;
	size_t used = strlen(c->got);

	if (c->stop_at && c->n == c->stop_at)
		return -1; /* SIO_ERR: taken no further */
	snprintf(c->got + used, sizeof(c->got) - used, "%.*s;", (int)len, pkt);
	c->n++;
	return 0; /* SIO_OK */
}
