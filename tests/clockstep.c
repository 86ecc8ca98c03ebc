/*
 * clockstep.c: an LD_PRELOAD library for tests. clock_gettime() with
 * CLOCK_REALTIME answers the real clock plus the seconds written in the
 * file named by SIO_TEST_CLOCK_STEP (read at each call; no file, or no
 * number in it: no step), so that a test steps the wall clock of the
 * processes it starts without touching the machine's. The other clocks
 * are left alone.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int clock_gettime(clockid_t id, struct timespec *ts);

int
clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	const char *path = getenv("SIO_TEST_CLOCK_STEP");
	long step = 0;
	FILE *f;
	int rc;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "clock_gettime");
	if (real == NULL)
		return -1;
	rc = real(id, ts);
	if (rc != 0 || id != CLOCK_REALTIME || path == NULL)
		return rc;
	f = fopen(path, "re");
	if (f != NULL) {
		if (fscanf(f, "%ld", &step) != 1)
			step = 0;
		fclose(f);
	}
	ts->tv_sec += step;
	return rc;
}
