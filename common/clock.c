/*
 * clock.c: the clocks of clock.h.
 */
#include <time.h>

#include "clock.h"

static long long
clock_read(clockid_t id, long long per_s, long long ns_per)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * per_s + ts.tv_nsec / ns_per;
}

long long
sio_clock_wall_ms(void)
{
	return clock_read(CLOCK_REALTIME, 1000, 1000000);
}

long long
sio_clock_boot_ms(void)
{
	return clock_read(CLOCK_BOOTTIME, 1000, 1000000);
}

long long
sio_clock_mono_us(void)
{
	return clock_read(CLOCK_MONOTONIC, 1000000, 1000);
}
