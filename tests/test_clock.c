/*
 * test_clock.c: the three clocks read what their names say: the wall clock
 * in ms since the epoch (as time(2) tells it), the boot and monotonic
 * clocks never going back.
 */
#include <time.h>

#include "clock.h"
#include "cu.h"

static void
test_wall(void)
{
	long long before = (long long)time(NULL) * 1000;
	long long ms = sio_clock_wall_ms();
	/* time(2) reads the kernel's coarse clock, up to a tick behind:
	 * just past a second's start it may still tell the one before */
	long long after = (long long)time(NULL) * 1000 + 2000;

	CU_ASSERT(ms >= before && ms < after);
}

static void
test_steady(void)
{
	struct timespec pause = {0, 5000000};
	long long b = sio_clock_boot_ms(), m = sio_clock_mono_us();

	for (int i = 0; i < 1000; i++) {
		long long b2 = sio_clock_boot_ms(), m2 = sio_clock_mono_us();

		CU_ASSERT(b2 >= b);
		CU_ASSERT(m2 >= m);
		b = b2;
		m = m2;
	}
	/* the boot clock counts from the boot, the monotonic one in us:
	 * a millisecond of one is a thousand of the other */
	m = sio_clock_mono_us();
	b = sio_clock_boot_ms();
	nanosleep(&pause, NULL);
	CU_ASSERT(sio_clock_mono_us() - m >= 5000);
	CU_ASSERT(sio_clock_boot_ms() - b >= 4);
}

static const struct cu_test tests[] = {
    {"the wall clock is ms since the epoch", test_wall},
    {"the boot and monotonic clocks never go back", test_steady},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("clock", tests, NULL, NULL);
}
