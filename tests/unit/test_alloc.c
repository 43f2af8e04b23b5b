/* test_alloc.c - Check suite for parser/alloc.c: the allocation wrappers and their failure
 * injection (which every other suite relies on to test its cleanup paths), overflow-checked
 * array growth, and the bump arena.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* Every test starts and ends with failure injection off. */
static void reset_injection(void)
{
	tl_alloc_fail_at = 0;
	tl_alloc_count = 0;
}

/* ---- wrappers ---------------------------------------------------------------------------- */

START_TEST(test_wrappers)
{
	char *p = tl_malloc(0), *q;
	unsigned char *z;

	/* size 0 still gives a pointer that can be freed */
	ck_assert_ptr_nonnull(p);
	tl_free(p);
	z = tl_calloc(100, 3);
	ck_assert_ptr_nonnull(z);
	for (int i = 0; i < 300; i++)
		ck_assert_int_eq(z[i], 0);
	tl_free(z);
	ck_assert_ptr_nonnull(z = tl_calloc(0, 0));
	tl_free(z);

	p = tl_malloc(4);
	ck_assert_ptr_nonnull(p);
	memcpy(p, "abc", 4);
	q = tl_realloc(p, 1 << 20);
	ck_assert_ptr_nonnull(q);
	ck_assert_str_eq(q, "abc");
	tl_free(q);
	tl_free(NULL);

	/* tl_strndup copies exactly len bytes, NULs included, and terminates */
	p = tl_strndup("ab\0cdef", 5);
	ck_assert_ptr_nonnull(p);
	ck_assert(memcmp(p, "ab\0cd", 5) == 0);
	ck_assert_int_eq(p[5], '\0');
	tl_free(p);
	p = tl_strndup("", 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p, "");
	tl_free(p);
}
END_TEST

/* ---- failure injection ------------------------------------------------------------------- */

START_TEST(test_fail_at_nth)
{
	void *a, *b, *c, *d;

	/* the 3rd allocation fails, the others succeed, and then the counter stops */
	reset_injection();
	tl_alloc_fail_at = 3;
	a = tl_malloc(10);
	b = tl_calloc(1, 10);
	c = tl_malloc(10);
	d = tl_malloc(10);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(tl_alloc_fail_at, 0);
	ck_assert_uint_eq(tl_alloc_count, 3);
	tl_free(a);
	tl_free(b);
	tl_free(d);

	/* the very first */
	reset_injection();
	tl_alloc_fail_at = 1;
	ck_assert_ptr_null(tl_malloc(1));
	ck_assert_ptr_nonnull(a = tl_malloc(1));
	tl_free(a);
	reset_injection();
}
END_TEST

START_TEST(test_fail_each_kind)
{
	char *p, *q;

	reset_injection();
	tl_alloc_fail_at = 1;
	ck_assert_ptr_null(tl_calloc(4, 4));

	reset_injection();
	tl_alloc_fail_at = 1;
	ck_assert_ptr_null(tl_strndup("abc", 3));

	/* a failed realloc leaves the block as it was */
	reset_injection();
	p = tl_malloc(8);
	ck_assert_ptr_nonnull(p);
	memcpy(p, "1234567", 8);
	tl_alloc_fail_at = 1;
	q = tl_realloc(p, 4096);
	ck_assert_ptr_null(q);
	ck_assert_str_eq(p, "1234567");
	tl_free(p);
	reset_injection();
}
END_TEST

START_TEST(test_no_injection_no_count)
{
	void *p;

	/* with injection off, nothing is counted: tests set both before a run */
	reset_injection();
	p = tl_malloc(1);
	tl_free(p);
	ck_assert_uint_eq(tl_alloc_count, 0);
}
END_TEST

/* ---- tl_grow ----------------------------------------------------------------------------- */

START_TEST(test_grow_doubling)
{
	int *v = NULL;
	size_t cap = 0;

	/* first growth gives 8, then powers of two; data survives */
	ck_assert_int_eq(tl_grow((void **)&v, &cap, 1, sizeof *v), 0);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(cap, 8);
	for (int i = 0; i < 8; i++)
		v[i] = i * 7;
	ck_assert_int_eq(tl_grow((void **)&v, &cap, 9, sizeof *v), 0);
	ck_assert_uint_eq(cap, 16);
	ck_assert_int_eq(tl_grow((void **)&v, &cap, 100, sizeof *v), 0);
	ck_assert_uint_eq(cap, 128);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(v[i], i * 7);
	v[127] = 1; /* the whole capacity is usable (ASan) */

	/* a need within the capacity allocates nothing: even an injected failure is not hit */
	reset_injection();
	tl_alloc_fail_at = 1;
	ck_assert_int_eq(tl_grow((void **)&v, &cap, 128, sizeof *v), 0);
	ck_assert_int_eq(tl_grow((void **)&v, &cap, 0, sizeof *v), 0);
	ck_assert_uint_eq(cap, 128);
	ck_assert_uint_eq(tl_alloc_fail_at, 1);
	reset_injection();
	tl_free(v);

	/* growing one at a time, as callers do */
	v = NULL;
	cap = 0;
	for (size_t n = 1; n <= 5000; n++) {
		size_t before = cap;

		ck_assert_int_eq(tl_grow((void **)&v, &cap, n, sizeof *v), 0);
		ck_assert(cap >= n && (cap == before || cap == (before ? 2 * before : 8)));
		v[n - 1] = (int)n;
	}
	for (size_t n = 1; n <= 5000; n++)
		ck_assert_int_eq(v[n - 1], (int)n);
	tl_free(v);
}
END_TEST

START_TEST(test_grow_overflow)
{
	char *p = NULL;
	uint64_t *w;
	size_t cap = 0;

	/* counts whose byte size overflows are refused without allocating */
	reset_injection();
	tl_alloc_fail_at = 1000;
	ck_assert_int_eq(tl_grow((void **)&p, &cap, SIZE_MAX, 1), -1);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(cap, 0);
	ck_assert_int_eq(tl_grow((void **)&p, &cap, SIZE_MAX / 2 + 2, 1), -1);
	ck_assert_int_eq(tl_grow((void **)&p, &cap, SIZE_MAX / 8 + 1, 16), -1);
	ck_assert_int_eq(tl_grow((void **)&p, &cap, SIZE_MAX / 16 + 1, 16), -1);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(cap, 0);
	ck_assert_uint_eq(tl_alloc_count, 0);
	reset_injection();

	/* and an existing array is left as it was */
	w = NULL;
	ck_assert_int_eq(tl_grow((void **)&w, &cap, 3, sizeof *w), 0);
	w[0] = 42;
	ck_assert_int_eq(tl_grow((void **)&w, &cap, SIZE_MAX / 4, sizeof *w), -1);
	ck_assert_uint_eq(cap, 8);
	ck_assert_uint_eq(w[0], 42);
	tl_free(w);
}
END_TEST

START_TEST(test_grow_failure)
{
	int *v = NULL, *before;
	size_t cap = 0;

	ck_assert_int_eq(tl_grow((void **)&v, &cap, 8, sizeof *v), 0);
	for (int i = 0; i < 8; i++)
		v[i] = i;
	before = v;
	reset_injection();
	tl_alloc_fail_at = 1;
	ck_assert_int_eq(tl_grow((void **)&v, &cap, 9, sizeof *v), -1);
	ck_assert_ptr_eq(v, before);
	ck_assert_uint_eq(cap, 8);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(v[i], i);
	/* the next attempt works */
	ck_assert_int_eq(tl_grow((void **)&v, &cap, 9, sizeof *v), 0);
	ck_assert_uint_eq(cap, 16);
	reset_injection();
	tl_free(v);
}
END_TEST

/* ---- arena ------------------------------------------------------------------------------- */

static int is_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

START_TEST(test_arena_alignment)
{
	struct arena a = { 0 };

	/* every size, however odd, gives 16-byte aligned, zeroed, writable memory */
	for (size_t n = 0; n < 600; n++) {
		unsigned char *p = arena_alloc(&a, n);

		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % 16, 0);
		ck_assert(is_zero(p, n));
		memset(p, 0xff, n);
	}
	arena_free(&a);
}
END_TEST

START_TEST(test_arena_no_overlap)
{
	struct arena a = { 0 };
	unsigned char *blocks[5000];
	size_t sizes[5000];

	/* many chunks' worth; each block keeps its own bytes */
	for (size_t i = 0; i < 5000; i++) {
		sizes[i] = 1 + (i * 37) % 200;
		blocks[i] = arena_alloc(&a, sizes[i]);
		ck_assert_ptr_nonnull(blocks[i]);
		memset(blocks[i], (int)(i & 0xff), sizes[i]);
	}
	for (size_t i = 0; i < 5000; i++)
		for (size_t k = 0; k < sizes[i]; k++)
			if (blocks[i][k] != (unsigned char)(i & 0xff))
				ck_abort_msg("block %zu byte %zu overwritten", i, k);
	ck_assert_uint_gt(a.total, 5000 * 16);
	arena_free(&a);
	ck_assert_ptr_null(a.head);
	ck_assert_uint_eq(a.total, 0);
}
END_TEST

START_TEST(test_arena_large)
{
	struct arena a = { 0 };
	unsigned char *small, *big, *after;
	size_t total;

	small = arena_alloc(&a, 10);
	ck_assert_ptr_nonnull(small);
#ifndef TL_POOL_BYPASS
	/* one chunk of 16 KiB plus its header */
	ck_assert_uint_ge(a.total, 16384);
	ck_assert_uint_lt(a.total, 16384 + 128);
#else
	/* the sanitizer build: 10 bytes and a chunk header */
	ck_assert_uint_ge(a.total, 10);
	ck_assert_uint_lt(a.total, 10 + 128);
#endif
	total = a.total;

	/* larger than a chunk: a chunk of its own, aligned, zeroed, all usable */
	big = arena_alloc(&a, 1000000);
	ck_assert_ptr_nonnull(big);
	ck_assert_uint_eq((uintptr_t)big % 16, 0);
	ck_assert(is_zero(big, 1000000));
	memset(big, 0xab, 1000000);
	ck_assert_uint_ge(a.total, total + 1000000);

	/* exactly one chunk, and then small ones again */
	ck_assert_ptr_nonnull(arena_alloc(&a, 16384));
	after = arena_alloc(&a, 32);
	ck_assert_ptr_nonnull(after);
	ck_assert(is_zero(after, 32));
	ck_assert_int_eq(small[0], 0);
	ck_assert_int_eq(big[999999], 0xab);
	arena_free(&a);
}
END_TEST

START_TEST(test_arena_overflow)
{
	struct arena a = { 0 };

	/* sizes that overflow when rounded up or with the chunk header: NULL, arena intact */
	ck_assert_ptr_null(arena_alloc(&a, SIZE_MAX));
	ck_assert_ptr_null(arena_alloc(&a, SIZE_MAX - 15));
	ck_assert_ptr_null(arena_alloc(&a, SIZE_MAX - 20));
	ck_assert_ptr_null(a.head);
	ck_assert_uint_eq(a.total, 0);
	ck_assert_ptr_null(arena_strndup(&a, "x", SIZE_MAX));
	ck_assert_ptr_nonnull(arena_alloc(&a, 1));
	arena_free(&a);
}
END_TEST

START_TEST(test_arena_strndup)
{
	struct arena a = { 0 };
	char *s = arena_strndup(&a, "hello, world", 5);

	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "hello");
	s = arena_strndup(&a, "", 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "");
	s = arena_strndup(&a, "a\0b", 3);
	ck_assert(memcmp(s, "a\0b", 4) == 0);
	s = arena_strndup(&a, NULL, 0); /* a node with no text */
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "");
	arena_free(&a);
}
END_TEST

START_TEST(test_arena_failure)
{
	struct arena a = { 0 };
	void *p;

	/* the first chunk cannot be had: NULL, and the arena is still empty and usable */
	reset_injection();
	tl_alloc_fail_at = 1;
	ck_assert_ptr_null(arena_alloc(&a, 10));
	ck_assert_ptr_null(a.head);
	ck_assert_uint_eq(a.total, 0);
	ck_assert_ptr_nonnull(arena_alloc(&a, 10));

	/* a later chunk: the existing ones stay, and arena_free releases them (ASan) */
	p = arena_alloc(&a, 16000);
	ck_assert_ptr_nonnull(p);
	reset_injection();
	tl_alloc_fail_at = 1;
	ck_assert_ptr_null(arena_alloc(&a, 16000));
	ck_assert_uint_eq(tl_alloc_fail_at, 0);
	/* what fits in the current chunk needs no allocation: an armed failure is not hit */
	tl_alloc_fail_at = 1;
	ck_assert_ptr_nonnull(arena_strndup(&a, "abc", 3));
	ck_assert_uint_eq(tl_alloc_fail_at, 1);
	reset_injection();
	memset(p, 1, 16000);
	arena_free(&a);

	/* a freed arena starts over */
	ck_assert_ptr_nonnull(arena_alloc(&a, 10));
	arena_free(&a);
	arena_free(&a); /* twice is harmless */
}
END_TEST

static Suite *alloc_suite(void)
{
	Suite *s = suite_create("alloc");
	TCase *tc;

	tc = tcase_create("wrappers");
	tcase_add_checked_fixture(tc, reset_injection, reset_injection);
	tcase_add_test(tc, test_wrappers);
	tcase_add_test(tc, test_fail_at_nth);
	tcase_add_test(tc, test_fail_each_kind);
	tcase_add_test(tc, test_no_injection_no_count);
	suite_add_tcase(s, tc);

	tc = tcase_create("grow");
	tcase_add_checked_fixture(tc, reset_injection, reset_injection);
	tcase_add_test(tc, test_grow_doubling);
	tcase_add_test(tc, test_grow_overflow);
	tcase_add_test(tc, test_grow_failure);
	suite_add_tcase(s, tc);

	tc = tcase_create("arena");
	tcase_add_checked_fixture(tc, reset_injection, reset_injection);
	tcase_add_test(tc, test_arena_alignment);
	tcase_add_test(tc, test_arena_no_overlap);
	tcase_add_test(tc, test_arena_large);
	tcase_add_test(tc, test_arena_overflow);
	tcase_add_test(tc, test_arena_strndup);
	tcase_add_test(tc, test_arena_failure);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(alloc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
