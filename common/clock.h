/*
 * clock.h: the three clocks siogate reads, read in one place. The wall
 * clock (CLOCK_REALTIME, ms since the epoch) is the time every stored row
 * carries, shared by the processes; the boot clock (CLOCK_BOOTTIME, ms)
 * measures what one process waits for and is never stepped; the monotonic
 * clock (CLOCK_MONOTONIC, us) times short waits inside a process (the
 * store's busy handler, the log's rate limit). session.h says which one a
 * session's timers use, and why.
 */
#ifndef SIO_CLOCK_H
#define SIO_CLOCK_H

long long sio_clock_wall_ms(void);
long long sio_clock_boot_ms(void);
long long sio_clock_mono_us(void);

#endif
