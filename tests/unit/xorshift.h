/* xorshift.h - the unit tests' pseudo-random numbers: xorshift64, fixed seeds, so that every
 * run of a test draws the same sequence. */
#ifndef TL_TEST_XORSHIFT_H
#define TL_TEST_XORSHIFT_H

#include <stdint.h>

/* The next number from the state *s (which must not be 0). */
static inline uint32_t xorshift_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 16);
}

#endif
