/* test_window.c - threshold windows: every aggregate against a naive rescan after each push
 * and eviction, on random values; allocation failures leave the window unchanged. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "window.h"

enum { N_AGGS = 7 };

static struct ex_node dummy_arg;
static struct rl_agg aggs[N_AGGS] = {
	{ RL_AGG_COUNT, NULL },        { RL_AGG_SUM, &dummy_arg }, { RL_AGG_AVG, &dummy_arg },
	{ RL_AGG_MIN, &dummy_arg },    { RL_AGG_MAX, &dummy_arg }, { RL_AGG_DISTINCT, &dummy_arg },
	{ RL_AGG_DISTINCT, &dummy_arg },
};

static struct rl_rule make_rule(int evidence)
{
	struct rl_rule r;

	memset(&r, 0, sizeof r);
	r.id = "w";
	r.kind = RL_THRESHOLD;
	r.aggs = aggs;
	r.n_aggs = N_AGGS;
	r.evidence = (uint8_t)evidence;
	return r;
}

struct item {
	int64_t t;
	struct tl_value v;  /* numeric aggregates' argument */
	struct tl_value g;  /* distinct's argument */
};

static const char *const names[] = { "a", "b", "c", "d", "e" };

static void random_item(unsigned *seed, struct item *it, int64_t t)
{
	int kind = rand_r(seed) % 6;

	memset(it, 0, sizeof *it);
	it->t = t;
	if (kind == 0) {
		it->v.type = TL_MISSING;
	} else if (kind == 1) {
		it->v.type = TL_STR;
		it->v.str = "x";
		it->v.len = 1;
	} else {
		it->v.type = TL_NUM;
		it->v.num = (rand_r(seed) % 2000 - 1000) / 7.0;
	}
	kind = rand_r(seed) % 5;
	if (kind == 0) {
		it->g.type = TL_NULL;
	} else if (kind == 1) {
		it->g.type = TL_NUM;
		it->g.num = rand_r(seed) % 2 ? 0.0 : -0.0; /* one value */
	} else {
		it->g.type = TL_STR;
		it->g.str = names[rand_r(seed) % 5];
		it->g.len = 1;
	}
}

static void check_against_naive(const struct window *w, const struct rl_rule *r,
				const struct item *items, size_t lo, size_t hi)
{
	struct tl_value out[N_AGGS];
	double sum = 0, mn = INFINITY, mx = -INFINITY;
	size_t i, j, n_num = 0, distinct = 0;

	win_results(w, r, out);
	for (i = lo; i < hi; i++) {
		if (items[i].v.type == TL_NUM) {
			sum += items[i].v.num;
			mn = fmin(mn, items[i].v.num);
			mx = fmax(mx, items[i].v.num);
			n_num++;
		}
		if (items[i].g.type == TL_NULL)
			continue;
		for (j = lo; j < i; j++) {
			const struct tl_value *a = &items[j].g, *b = &items[i].g;

			if (a->type == b->type && (a->type == TL_NUM ? a->num == b->num
					: a->len == b->len && memcmp(a->str, b->str, a->len) == 0))
				break;
		}
		distinct += j == i;
	}
	ck_assert_uint_eq(win_count(w), hi - lo);
	ck_assert_double_eq(out[0].num, (double)(hi - lo));
	ck_assert_double_eq_tol(out[1].num, sum, 1e-9);
	if (n_num) {
		ck_assert_double_eq_tol(out[2].num, sum / (double)n_num, 1e-9);
		ck_assert_double_eq(out[3].num, mn);
		ck_assert_double_eq(out[4].num, mx);
	} else {
		ck_assert_double_eq(out[1].num, 0);
		ck_assert_int_eq(out[2].type, TL_MISSING);
		ck_assert_int_eq(out[3].type, TL_MISSING);
		ck_assert_int_eq(out[4].type, TL_MISSING);
	}
	ck_assert_double_eq(out[5].num, (double)distinct);
	ck_assert_double_eq(out[6].num, (double)distinct);
	if (hi > lo)
		ck_assert_int_eq(win_time(w, 0)->us, items[lo].t);
}

static void push(struct window *w, const struct rl_rule *r, const struct item *it, int rc_want)
{
	struct tl_value args[N_AGGS];
	struct tf_stamp ts = { 0 };
	size_t i;

	for (i = 0; i < N_AGGS; i++)
		args[i] = aggs[i].kind == RL_AGG_DISTINCT ? it->g : it->v;
	ts.us = it->t;
	ts.kind = TF_EPOCH_S;
	ck_assert_int_eq(win_push(w, r, &ts, args, "{\"x\":1}", 7), rc_want);
}

START_TEST(random_streams_match_naive)
{
	unsigned seed = 99;
	int trial;

	for (trial = 0; trial < 200; trial++) {
		struct rl_rule r = make_rule(trial % 2);
		struct pool pool = { 0 };
		struct window *w = win_new(&pool, &r);
		struct item *items = calloc(600, sizeof *items);
		size_t n = 0, lo = 0;
		int64_t t = 0, span = 1 + rand_r(&seed) % 40;

		ck_assert_ptr_nonnull(w);
		while (n < 600) {
			t += rand_r(&seed) % 5;
			random_item(&seed, &items[n], t);
			win_evict_before(w, &r, t - span);
			while (lo < n && items[lo].t < t - span)
				lo++;
			push(w, &r, &items[n], 0);
			n++;
			check_against_naive(w, &r, items, lo, n);
			if (rand_r(&seed) % 50 == 0) { /* fired: consumed */
				win_clear(w, &r);
				lo = n;
				check_against_naive(w, &r, items, lo, n);
			}
		}
		win_free(w, &r);
		ck_assert_uint_eq(pool.in_use, 0);
		pool_destroy(&pool);
		free(items);
	}
}
END_TEST

START_TEST(evidence_keeps_lines)
{
	struct rl_rule r = make_rule(1);
	struct pool pool = { 0 };
	struct window *w = win_new(&pool, &r);
	struct item it;
	unsigned seed = 1;
	size_t len;

	random_item(&seed, &it, 5);
	push(w, &r, &it, 0);
	ck_assert_str_eq(win_line(w, 0, &len), "{\"x\":1}");
	ck_assert_uint_eq(len, 7);
	win_free(w, &r);
	pool_destroy(&pool);
}
END_TEST

START_TEST(allocation_failure_leaves_window_unchanged)
{
	struct rl_rule r = make_rule(1);
	struct item items[64];
	unsigned seed = 7;
	unsigned long n;
	int i;

	for (i = 0; i < 64; i++)
		random_item(&seed, &items[i], i);
	for (n = 1; n < 400; n++) {
		struct pool pool = { 0 };
		struct window *w = win_new(&pool, &r);
		int pushed = 0;

		ck_assert_ptr_nonnull(w);
		tl_alloc_count = 0;
		tl_alloc_fail_at = n;
		for (i = 0; i < 64; i++) {
			struct tl_value args[N_AGGS];
			struct tf_stamp ts = { .us = items[i].t, .kind = TF_EPOCH_S };
			size_t j;

			for (j = 0; j < N_AGGS; j++)
				args[j] = aggs[j].kind == RL_AGG_DISTINCT ? items[i].g : items[i].v;
			if (win_push(w, &r, &ts, args, "{}", 2) == 0)
				pushed++;
			else
				ck_assert_uint_eq(win_count(w), (size_t)pushed);
		}
		tl_alloc_fail_at = 0;
		win_free(w, &r);
		ck_assert_uint_eq(pool.in_use, 0); /* nothing lost on a failure path */
		pool_destroy(&pool);
		if (pushed == 64)
			break; /* no allocation failed any more */
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("window");
	TCase *tc = tcase_create("window");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, random_streams_match_naive);
	tcase_add_test(tc, evidence_keeps_lines);
	tcase_add_test(tc, allocation_failure_leaves_window_unchanged);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
