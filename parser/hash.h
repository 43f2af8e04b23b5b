/* hash.h - the byte hash of the project's tables (FNV-1a, then a fold of the high bits down).
 *
 * Pipeline position: shared. Field paths, rule ids, guard strings, distinct values: every
 * table keyed by bytes uses this one function. FNV-1a alone leaves the low bits (the ones a
 * power-of-two table uses) depending on the low bits of the bytes only; the fold makes every
 * bit count.
 */
#ifndef TL_HASH_H
#define TL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define TL_HASH_SEED 0xcbf29ce484222325ULL

/* Feeds n bytes to a running FNV-1a state h (start with TL_HASH_SEED). */
static inline uint64_t tl_hash_feed(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* The final value of a running state. */
static inline uint64_t tl_hash_end(uint64_t h)
{
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	return h ^ (h >> 32);
}

static inline uint64_t tl_hash(const void *p, size_t n)
{
	return tl_hash_end(tl_hash_feed(TL_HASH_SEED, p, n));
}

#endif
