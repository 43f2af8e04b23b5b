/* bytes.h - copies and comparisons of short byte strings, inline.
 *
 * Pipeline position: engine (keys, conditions). Keys and compared values are mostly a few to a
 * few dozen bytes; for them a call into the C library's memcpy or memcmp, which first works out
 * how long the string is, costs more than the work. These read and write only inside the n
 * bytes given (loads that overlap in the middle), so they are as safe as the library's.
 */
#ifndef TL_BYTES_H
#define TL_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* memcpy(d, s, n) */
static inline void bytes_copy(char *d, const char *s, size_t n)
{
	uint64_t a, b;
	uint32_t x, y;

	if (n > 16) {
		memcpy(d, s, n);
	} else if (n >= 8) {
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		memcpy(&x, s, 4);
		memcpy(&y, s + n - 4, 4);
		memcpy(d, &x, 4);
		memcpy(d + n - 4, &y, 4);
	} else if (n) {
		d[0] = s[0];
		d[n / 2] = s[n / 2];
		d[n - 1] = s[n - 1];
	}
}

/* memcmp(a, b, n) == 0 */
static inline int bytes_eq(const char *a, const char *b, size_t n)
{
	uint64_t a0, a1, b0, b1;
	uint32_t x0, x1, y0, y1;

	if (n > 16)
		return memcmp(a, b, n) == 0;
	if (n >= 8) {
		memcpy(&a0, a, 8);
		memcpy(&a1, a + n - 8, 8);
		memcpy(&b0, b, 8);
		memcpy(&b1, b + n - 8, 8);
		return ((a0 ^ b0) | (a1 ^ b1)) == 0;
	}
	if (n >= 4) {
		memcpy(&x0, a, 4);
		memcpy(&x1, a + n - 4, 4);
		memcpy(&y0, b, 4);
		memcpy(&y1, b + n - 4, 4);
		return ((x0 ^ y0) | (x1 ^ y1)) == 0;
	}
	return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

#endif
