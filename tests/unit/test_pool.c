/* test_pool.c - the size-classed pool against a plain model: random allocations and frees of
 * every size class and of large blocks, more than 12 MiB live at the peak (past the point where
 * slabs become 2 MiB ones, and through many of those), each block filled with a pattern of its
 * own, so that two blocks that overlapped, or a block handed out twice, would show; the bytes
 * counted in use; a slab that cannot be had; and a pool destroyed with blocks still out. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "pool.h"
#include "xorshift.h"

enum { SLOTS = 100000, STEPS = 400000, BIG = 1500 };

struct block {
	unsigned char *p;
	size_t n;
	uint32_t id;
};

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint32_t next_rand(void)
{
	return xorshift_next(&rng);
}

/* A block's bytes: noise from an offset that depends on its id. */
static unsigned char noise[BIG + 1024];

static const unsigned char *pattern(uint32_t id)
{
	return noise + (id * 7919u) % 1024;
}

static void fill(const struct block *b)
{
	memcpy(b->p, pattern(b->id), b->n);
}

static int intact(const struct block *b)
{
	return memcmp(b->p, pattern(b->id), b->n) == 0;
}

/* What the pool counts in use for a block of n bytes. */
static size_t counted(size_t n)
{
#ifndef TL_POOL_BYPASS
	if (n <= POOL_MAX)
		return (n + POOL_STEP - 1) / POOL_STEP * POOL_STEP;
#endif
	return n;
}

static size_t random_size(void)
{
	uint32_t r = next_rand() % 100;

	if (r < 70)
		return 1 + next_rand() % 256;  /* the common small blocks */
	if (r < 97)
		return 1 + next_rand() % POOL_MAX; /* every class */
	return POOL_MAX + 1 + next_rand() % (BIG - POOL_MAX); /* past the classes */
}

START_TEST(random_blocks_keep_their_bytes)
{
	static struct block live[SLOTS];
	struct pool pool = { 0 };
	size_t in_use = 0, peak = 0, i, s;
	uint32_t id = 0;

	memset(live, 0, sizeof live);
	for (i = 0; i < sizeof noise; i++)
		noise[i] = (unsigned char)next_rand();
	for (s = 0; s < STEPS; s++) {
		struct block *b = &live[next_rand() % SLOTS];

		/* mostly allocations early on, so that the pool grows well past 8 MiB */
		if (b->p && (s > STEPS / 2 || next_rand() % 4 == 0)) {
			if (!intact(b))
				ck_abort_msg("block %u (%zu bytes) was overwritten", b->id, b->n);
			pool_free(&pool, b->p, b->n);
			in_use -= counted(b->n);
			b->p = NULL;
		} else if (!b->p) {
			b->n = random_size();
			b->id = ++id;
			b->p = pool_alloc(&pool, b->n);
			if (!b->p || (uintptr_t)b->p % 16)
				ck_abort_msg("block %u (%zu bytes): %p", b->id, b->n, (void *)b->p);
			fill(b);
			in_use += counted(b->n);
		}
		/* (plain tests first: a Check assertion per step would cost more than the step) */
		if (pool.in_use != in_use || pool.reserved < pool.in_use) {
			ck_assert_uint_eq(pool.in_use, in_use);
			ck_assert_uint_ge(pool.reserved, pool.in_use);
		}
		if (in_use > peak)
			peak = in_use;
	}
	ck_assert_uint_gt(peak, 12 * 1024 * 1024); /* past 8 MiB: 2 MiB slabs */
	for (i = 0; i < SLOTS; i++)
		if (live[i].p) {
			ck_assert_msg(intact(&live[i]), "block %u was overwritten", live[i].id);
			pool_free(&pool, live[i].p, live[i].n);
			in_use -= counted(live[i].n);
		}
	ck_assert_uint_eq(pool.in_use, 0);
	ck_assert_uint_eq(in_use, 0);
	pool_destroy(&pool);
	ck_assert_uint_eq(pool.reserved, 0);
}
END_TEST

/* A block given back is the next one of its class; blocks of other classes are not. */
START_TEST(freed_blocks_are_reused_by_class)
{
	struct pool pool = { 0 };
	void *a = pool_alloc(&pool, 40), *b;

	ck_assert_ptr_nonnull(a);
	pool_free(&pool, a, 40);
	b = pool_alloc(&pool, 100);
	ck_assert_ptr_nonnull(b);
#ifndef TL_POOL_BYPASS
	ck_assert_ptr_ne(a, b);
	ck_assert_ptr_eq(pool_alloc(&pool, 33), a); /* 33 and 40 bytes: one class of 48 */
	pool_free(&pool, a, 48);
#endif
	pool_free(&pool, b, 100);
	ck_assert_uint_eq(pool.in_use, 0);
	pool_destroy(&pool);
}
END_TEST

/* No memory for a new slab: NULL, and the pool is as it was and works again after. */
START_TEST(a_slab_that_cannot_be_had)
{
	struct pool pool = { 0 };
	void *held[128], *b;
	size_t size[128], n_held = 0, reserved, in_use;

	size[n_held] = 64;
	held[n_held++] = pool_alloc(&pool, 64);
	ck_assert_ptr_nonnull(held[0]);
#ifndef TL_POOL_BYPASS
	/* use up the first slab (64 KiB), so that the next block needs a new one */
	while (pool.left >= 64) {
		ck_assert_uint_lt(n_held, 128);
		size[n_held] = pool.left >= POOL_MAX ? POOL_MAX : 64;
		held[n_held] = pool_alloc(&pool, size[n_held]);
		ck_assert_ptr_nonnull(held[n_held]);
		n_held++;
	}
#endif
	reserved = pool.reserved;
	in_use = pool.in_use;
	tl_alloc_count = 0;
	tl_alloc_fail_at = 1;
	b = pool_alloc(&pool, 64);
	ck_assert_ptr_null(b);
	ck_assert_uint_eq(tl_alloc_fail_at, 0); /* the allocation that failed was the slab's */
	ck_assert_uint_eq(pool.reserved, reserved);
	ck_assert_uint_eq(pool.in_use, in_use);
	b = pool_alloc(&pool, 64);
	ck_assert_ptr_nonnull(b);
	memset(b, 1, 64);
	pool_free(&pool, b, 64);
	ck_assert_uint_eq(pool.in_use, in_use);
	while (n_held--)
		pool_free(&pool, held[n_held], size[n_held]);
	ck_assert_uint_eq(pool.in_use, 0);
	pool_destroy(&pool);
}
END_TEST

/* pool_destroy releases the blocks still handed out, large ones too, whichever of them were
 * given back before (the first, a middle and the last made): valgrind, which runs this suite,
 * reports any it missed. A large block that cannot be had leaves the pool as it was. In the
 * sanitizer build every block must be given back, and is. */
START_TEST(destroy_releases_what_is_handed_out)
{
	struct pool pool = { 0 };
	unsigned char *big[5], *small[3];
	size_t i, in_use;

	for (i = 0; i < 5; i++) {
		big[i] = pool_alloc(&pool, POOL_MAX + 1 + i * 1000);
		ck_assert_ptr_nonnull(big[i]);
		ck_assert_uint_eq((uintptr_t)big[i] % 16, 0);
		memset(big[i], (int)i, POOL_MAX + 1 + i * 1000);
	}
	for (i = 0; i < 3; i++) {
		small[i] = pool_alloc(&pool, 24 + i * 100);
		ck_assert_ptr_nonnull(small[i]);
	}
	pool_free(&pool, big[0], POOL_MAX + 1);
	pool_free(&pool, big[2], POOL_MAX + 1 + 2000);
	pool_free(&pool, big[4], POOL_MAX + 1 + 4000);
	for (i = 1; i < 5; i += 2) /* the others are intact */
		ck_assert(big[i][0] == i && big[i][POOL_MAX + i * 1000] == i);
	in_use = pool.in_use;
	tl_alloc_count = 0;
	tl_alloc_fail_at = 1;
	ck_assert_ptr_null(pool_alloc(&pool, 5000));
	ck_assert_uint_eq(tl_alloc_fail_at, 0);
	ck_assert_uint_eq(pool.in_use, in_use);
#ifdef TL_POOL_BYPASS
	pool_free(&pool, big[1], POOL_MAX + 1 + 1000);
	pool_free(&pool, big[3], POOL_MAX + 1 + 3000);
	for (i = 0; i < 3; i++)
		pool_free(&pool, small[i], 24 + i * 100);
#endif
	pool_destroy(&pool);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, random_blocks_keep_their_bytes);
	tcase_add_test(tc, freed_blocks_are_reused_by_class);
	tcase_add_test(tc, a_slab_that_cannot_be_had);
	tcase_add_test(tc, destroy_releases_what_is_handed_out);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
