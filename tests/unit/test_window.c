/* test_window.c - threshold windows: every aggregate against a naive rescan after each push
 * and eviction, on random values, in short windows and in long streams whose windows grow to
 * hundreds of events and empty again, min and max both kept in deques (when the rule's when
 * reads them) and read off the sum's values, arguments given or read from the event's fields;
 * windows of their own block and windows in memory of the caller's (win_init, released with
 * win_release, as a key's entry holds one) alike; an empty window holds nothing but its own
 * block; allocation failures leave the window unchanged; asking for what freeing a window reads (under the sanitizers: reads only what it
 * holds) changes nothing. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "window.h"

enum { N_AGGS = 7 };

static struct ex_node dummy_arg;
static struct rl_agg aggs[N_AGGS] = {
	{ RL_AGG_COUNT, NULL },        { RL_AGG_SUM, &dummy_arg }, { RL_AGG_AVG, &dummy_arg },
	{ RL_AGG_MIN, &dummy_arg },    { RL_AGG_MAX, &dummy_arg }, { RL_AGG_DISTINCT, &dummy_arg },
	{ RL_AGG_DISTINCT, &dummy_arg },
};

/* The same aggregates in another order: a window keeps state for some kinds only, and values
 * in the ring for some only, so it must find each aggregate's own. */
static struct rl_agg aggs_mixed[N_AGGS] = {
	{ RL_AGG_DISTINCT, &dummy_arg }, { RL_AGG_MAX, &dummy_arg }, { RL_AGG_COUNT, NULL },
	{ RL_AGG_AVG, &dummy_arg },      { RL_AGG_DISTINCT, &dummy_arg }, { RL_AGG_MIN, &dummy_arg },
	{ RL_AGG_SUM, &dummy_arg },
};

/* The aggregates of aggs[] over fields of the event (slot 0 the numbers' argument, slot 1
 * distinct's), which the window reads from the event's slots, not from args. */
static struct ex_node field_v = { .kind = EX_FIELD, .slot = 0 },
		      field_g = { .kind = EX_FIELD, .slot = 1 };
static struct rl_agg aggs_fields[N_AGGS] = {
	{ RL_AGG_COUNT, NULL },      { RL_AGG_SUM, &field_v }, { RL_AGG_AVG, &field_v },
	{ RL_AGG_MIN, &field_v },    { RL_AGG_MAX, &field_v }, { RL_AGG_DISTINCT, &field_g },
	{ RL_AGG_DISTINCT, &field_g },
};

/* A when that reads min and max (aggs[3] and aggs[4]): they keep deques. Without it they are
 * read off the ring values of the sum over the same argument. */
static struct ex_node reads_min = { .kind = EX_AGG, .slot = 3 }, reads_max = { .kind = EX_AGG,
									      .slot = 4 };
static struct ex_node *reads_kids[] = { &reads_min, &reads_max };
static struct ex_node when_min_max = { .kind = EX_AND, .kids = reads_kids, .n_kids = 2 };
/* ... the same for aggs_mixed, whose min and max are aggs_mixed[5] and [1] */
static struct ex_node reads_min_mixed = { .kind = EX_AGG, .slot = 5 },
		      reads_max_mixed = { .kind = EX_AGG, .slot = 1 };
static struct ex_node *reads_kids_mixed[] = { &reads_min_mixed, &reads_max_mixed };
static struct ex_node when_min_max_mixed = { .kind = EX_AND, .kids = reads_kids_mixed,
					     .n_kids = 2 };

/* Check's assertions each write a mark to a file: for checks in inner loops, assert only what
 * fails. */
#define EXPECT(c) \
	do { if (!(c)) ck_abort_msg("%s:%d: failed: %s", __FILE__, __LINE__, #c); } while (0)

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
	int gid;            /* long streams: the identity of g (-1: null) */
	unsigned n;         /* long streams: the event's number, in its line */
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

static void check_against_naive(const struct window *w, const struct win_plan *wp,
				const struct item *items, size_t lo, size_t hi)
{
	struct tl_value out[N_AGGS];
	double sum = 0, mn = INFINITY, mx = -INFINITY;
	size_t i, j, n_num = 0, distinct = 0;

	win_results(w, wp, out);
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
	EXPECT(win_count(w) == hi - lo);
	EXPECT(out[0].num == (double)(hi - lo));
	EXPECT(fabs(out[1].num - sum) <= 1e-9);
	if (n_num) {
		EXPECT(fabs(out[2].num - sum / (double)n_num) <= 1e-9);
		EXPECT(out[3].num == mn);
		EXPECT(out[4].num == mx);
	} else {
		EXPECT(out[1].num == 0);
		EXPECT(out[2].type == TL_MISSING);
		EXPECT(out[3].type == TL_MISSING);
		EXPECT(out[4].type == TL_MISSING);
	}
	EXPECT(out[5].num == (double)distinct);
	EXPECT(out[6].num == (double)distinct);
	if (hi > lo)
		EXPECT(win_time(w, 0)->us == items[lo].t);
}

/* Pushes the item's values: as args, or (by_field, for aggs_fields) as the event's slots, with
 * args that would be counted wrong if the window read them. */
static void push(struct window *w, const struct win_plan *wp, const struct item *it, int rc_want,
		 int by_field)
{
	static const struct tl_value poison = { .type = TL_STR, .str = "poison", .len = 6 };
	struct tl_value args[N_AGGS], slots[2] = { it->v, it->g };
	struct tf_stamp ts = { 0 };
	size_t i;

	for (i = 0; i < N_AGGS; i++)
		args[i] = by_field ? poison : aggs[i].kind == RL_AGG_DISTINCT ? it->g : it->v;
	ts.us = it->t;
	ts.kind = TF_EPOCH_S;
	EXPECT(win_push(w, wp, &ts, by_field ? slots : NULL, args, "{\"x\":1}", 7) == rc_want);
}

START_TEST(random_streams_match_naive)
{
	unsigned seed = 99;
	int trial;

	for (trial = 0; trial < 200; trial++) {
		struct rl_rule r = make_rule(trial % 2);
		struct pool pool = { 0 };
		struct win_plan *wp;
		struct window *w;
		struct item *items = calloc(600, sizeof *items);
		size_t n = 0, lo = 0, block = 0, i;
		int64_t t = 0, span = 1 + rand_r(&seed) % 40;
		int by_field = trial % 3 == 2; /* the arguments fields, read from the event */
		/* one window in five in memory of the caller's (as a key's entry holds it), with
		 * marked bytes after it that it must leave alone */
		unsigned char *own = NULL;

		r.when = trial % 4 >= 2 ? &when_min_max : NULL;
		if (by_field)
			r.aggs = aggs_fields;
		wp = win_plan_new(&r);
		if (trial % 5 == 4) {
			block = win_block_size(wp);
			own = malloc(block + 64);
			ck_assert_ptr_nonnull(own);
			memset(own + block, 0xa5, 64);
			w = win_init(own, &pool, wp);
		} else {
			w = win_new(&pool, wp);
		}
		ck_assert_ptr_nonnull(w);
		while (n < 600) {
			t += rand_r(&seed) % 5;
			random_item(&seed, &items[n], t);
			win_evict_before(w, wp, t - span);
			while (lo < n && items[lo].t < t - span)
				lo++;
			push(w, wp, &items[n], 0, by_field);
			n++;
			win_prefetch_free(w, wp); /* reads what the window holds, changes nothing */
			check_against_naive(w, wp, items, lo, n);
			if (rand_r(&seed) % 50 == 0) { /* fired: consumed */
				win_clear(w, wp);
				lo = n;
				check_against_naive(w, wp, items, lo, n);
			}
		}
		if (own) {
			win_release(w, wp);
			for (i = 0; i < 64; i++)
				EXPECT(own[block + i] == 0xa5);
			free(own);
		} else {
			win_free(w, wp);
		}
		win_plan_free(wp);
		ck_assert_uint_eq(pool.in_use, 0); /* a window released holds no block */
		pool_destroy(&pool);
		free(items);
	}
}
END_TEST

START_TEST(evidence_keeps_lines)
{
	struct rl_rule r = make_rule(1);
	struct pool pool = { 0 };
	struct win_plan *wp = win_plan_new(&r);
	struct window *w = win_new(&pool, wp);
	struct item it;
	unsigned seed = 1;
	size_t len;

	random_item(&seed, &it, 5);
	push(w, wp, &it, 0, 0);
	win_prefetch_free(NULL, wp);
	win_prefetch_free(w, wp);
	ck_assert_str_eq(win_line(w, 0, &len), "{\"x\":1}");
	ck_assert_uint_eq(len, 7);
	win_free(w, wp);
	win_plan_free(wp);
	pool_destroy(&pool);
}
END_TEST

/* ---- long streams, checked in O(window) per step ---- */

enum { N_IDS = 3000, LINE_CAP = 1300, PAD_BIG = 1100 /* over POOL_MAX */ };

static char id_strs[N_IDS][24];
static unsigned id_seen[2 * N_IDS], id_stamp;

/* The line of the n-th event, with pad filler bytes. */
static size_t item_line(char *buf, unsigned n, size_t pad)
{
	char digits[16];
	size_t len = 0, k = 0;

	memcpy(buf, "{\"n\":", 5);
	len = 5;
	do
		digits[k++] = (char)('0' + n % 10);
	while (n /= 10);
	while (k)
		buf[len++] = digits[--k];
	memcpy(buf + len, ",\"p\":\"", 6);
	len += 6;
	memset(buf + len, 'x', pad);
	len += pad;
	memcpy(buf + len, "\"}", 3);
	return len + 2;
}

struct gen {
	unsigned seed;
	int trend;  /* 0: random numbers; 1: rising; -1: falling (long min or max deques) */
	int n_ids;  /* distinct's argument takes this many numbers and as many strings */
	double last;
};

static void gen_item(struct gen *g, struct item *it, int64_t t, unsigned n)
{
	int kind = rand_r(&g->seed) % 10, id;

	memset(it, 0, sizeof *it);
	it->t = t;
	it->n = n;
	if (kind == 0) {
		it->v.type = TL_MISSING;
	} else if (kind == 1) {
		it->v.type = TL_STR;
		it->v.str = "x";
		it->v.len = 1;
	} else {
		if (g->trend)
			g->last += g->trend * (rand_r(&g->seed) % 64) / 8.0;
		else
			g->last = (rand_r(&g->seed) % 2000 - 1000) / 7.0;
		it->v.type = TL_NUM;
		it->v.num = g->last;
	}
	if (rand_r(&g->seed) % 8 == 0) {
		it->g.type = TL_NULL;
		it->gid = -1;
		return;
	}
	id = rand_r(&g->seed) % g->n_ids;
	if (rand_r(&g->seed) % 2) {
		it->g.type = TL_NUM;
		it->g.num = id == 0 && rand_r(&g->seed) % 2 ? -0.0 : id; /* -0 is 0 */
		it->gid = id;
	} else {
		it->g.type = TL_STR;
		it->g.str = id_strs[id];
		it->g.len = (uint32_t)strlen(id_strs[id]);
		it->gid = N_IDS + id; /* "1" is not 1 */
	}
}

/* Strings short and long: a set keeps a short one (up to 10 bytes) in its state. */
static void init_ids(void)
{
	int i;

	for (i = 0; i < N_IDS; i++)
		snprintf(id_strs[i], sizeof id_strs[i], i % 2 ? "a longer value %d" : "%d", i);
}

static int push_item(struct window *w, const struct rl_rule *r, const struct win_plan *wp,
		     const struct item *it, size_t pad)
{
	struct tl_value args[N_AGGS];
	struct tf_stamp ts = { .us = it->t, .kind = TF_EPOCH_S };
	char line[LINE_CAP];
	size_t i, len = item_line(line, it->n, pad);

	for (i = 0; i < N_AGGS; i++)
		args[i] = r->aggs[i].kind == RL_AGG_DISTINCT ? it->g : it->v;
	return win_push(w, wp, &ts, NULL, args, line, len);
}

/* The results of r's aggregates in the order of aggs[] (the distinct ones in turn). */
static void results_in_order(const struct window *w, const struct rl_rule *r,
			     const struct win_plan *wp, struct tl_value *out)
{
	struct tl_value raw[N_AGGS];
	size_t i, j, n_distinct = 0;

	win_results(w, wp, raw);
	for (i = 0; i < N_AGGS; i++) {
		for (j = 0; aggs[j].kind != r->aggs[i].kind; j++)
			;
		if (r->aggs[i].kind == RL_AGG_DISTINCT)
			j += n_distinct++;
		out[j] = raw[i];
	}
}

/* The window holds items[lo..hi): aggregates, times and lines against a rescan. */
static void check_model(const struct window *w, const struct rl_rule *r,
			const struct win_plan *wp, const struct item *items, size_t lo, size_t hi,
			size_t pad)
{
	struct tl_value out[N_AGGS];
	long double sum = 0;
	double abs_sum = 0, mn = INFINITY, mx = -INFINITY, tol;
	size_t i, n_num = 0, distinct = 0;
	char want[LINE_CAP];

	id_stamp++;
	results_in_order(w, r, wp, out);
	EXPECT(win_count(w) == hi - lo);
	for (i = lo; i < hi; i++) {
		const struct item *it = &items[i];
		const char *line;
		size_t len, want_len;

		if (it->v.type == TL_NUM) {
			sum += it->v.num;
			abs_sum += fabs(it->v.num);
			mn = fmin(mn, it->v.num);
			mx = fmax(mx, it->v.num);
			n_num++;
		}
		if (it->gid >= 0 && id_seen[it->gid] != id_stamp) {
			id_seen[it->gid] = id_stamp;
			distinct++;
		}
		EXPECT(win_time(w, i - lo)->us == it->t);
		line = win_line(w, i - lo, &len);
		if (r->evidence) {
			want_len = item_line(want, it->n, pad);
			EXPECT(line && len == want_len && memcmp(line, want, len) == 0);
		} else {
			EXPECT(!line);
		}
	}
	tol = 1e-9 * (1 + abs_sum);
	EXPECT(out[0].type == TL_NUM && out[0].num == (double)(hi - lo));
	EXPECT(out[1].type == TL_NUM && fabs(out[1].num - (double)sum) <= tol);
	if (n_num) {
		EXPECT(out[2].type == TL_NUM && fabs(out[2].num - (double)(sum / n_num)) <= tol);
		EXPECT(out[3].type == TL_NUM && out[3].num == mn);
		EXPECT(out[4].type == TL_NUM && out[4].num == mx);
	} else {
		EXPECT(out[1].num == 0);
		EXPECT(out[2].type == TL_MISSING);
		EXPECT(out[3].type == TL_MISSING);
		EXPECT(out[4].type == TL_MISSING);
	}
	EXPECT(out[5].type == TL_NUM && out[5].num == (double)distinct);
	EXPECT(out[6].type == TL_NUM && out[6].num == (double)distinct);
}

START_TEST(long_streams_match_naive)
{
	static const int steps[] = { 1, 3, 50, 400, 3000 };
	static const int ids[] = { 1, 2, 5, 60, N_IDS };
	enum { N_ITEMS = 15000, SPAN = 1000 };
	int trial;

	init_ids();
	for (trial = 0; trial < 8; trial++) {
		struct rl_rule r = make_rule(trial % 2);
		struct pool pool = { 0 };
		struct win_plan *wp;
		struct window *w;
		struct item *items = calloc(N_ITEMS, sizeof *items);
		struct gen g = { .seed = 1000u + (unsigned)trial, .n_ids = 1 };
		size_t n = 0, lo = 0, phase_end = 0, base;
		int64_t t = 0;
		int step = 1;

		if (trial / 2 % 2)
			r.aggs = aggs_mixed;
		if (trial >= 4)
			r.when = r.aggs == aggs_mixed ? &when_min_max_mixed : &when_min_max;
		wp = win_plan_new(&r);
		w = win_new(&pool, wp);
		base = pool.in_use;
		ck_assert_ptr_nonnull(w);
		while (n < N_ITEMS) {
			if (n == phase_end) {
				phase_end += 200 + rand_r(&g.seed) % 1000;
				step = steps[rand_r(&g.seed) % 5];
				g.trend = rand_r(&g.seed) % 3 - 1;
				g.n_ids = ids[rand_r(&g.seed) % 5];
			}
			t += rand_r(&g.seed) % (2 * step);
			gen_item(&g, &items[n], t, (unsigned)n);
			win_evict_before(w, wp, t - SPAN);
			while (lo < n && items[lo].t < t - SPAN)
				lo++;
			if (lo == n) /* empty: the window's own block is all it holds */
				EXPECT(pool.in_use == base);
			EXPECT(push_item(w, &r, wp, &items[n], 0) == 0);
			n++;
			win_prefetch_free(w, wp); /* grown rings, deques and sets, lines over POOL_MAX */
			check_model(w, &r, wp, items, lo, n, 0);
			if (rand_r(&g.seed) % 1500 == 0) { /* fired: consumed */
				win_clear(w, wp);
				lo = n;
				check_model(w, &r, wp, items, lo, n, 0);
				ck_assert_uint_eq(pool.in_use, base);
			}
		}
		win_free(w, wp);
		win_plan_free(wp);
		ck_assert_uint_eq(pool.in_use, 0);
		pool_destroy(&pool);
		free(items);
	}
}
END_TEST

/* Every allocation in turn fails (one per run): the push that meets it returns -1 and leaves the
 * window as it was (and an empty window holds no more than its block), and the window goes on.
 * Lines over POOL_MAX make the line copies real allocations even when the pool takes its
 * blocks from slabs. */
START_TEST(allocation_failure_leaves_window_unchanged)
{
	enum { N = 160, SPAN = 40 };
	struct item items[N], kept[N];
	struct gen g = { .seed = 7, .n_ids = 12 };
	int64_t t = 0;
	int i, variant;

	init_ids();
	for (i = 0; i < N; i++) {
		t += rand_r(&g.seed) % 16 ? rand_r(&g.seed) % 4 : SPAN + 1; /* now and then empty */
		gen_item(&g, &items[i], t, (unsigned)i);
	}
	for (variant = 0; variant < 4; variant++) {
		struct rl_rule r = make_rule(variant % 2);
		size_t pad = r.evidence ? PAD_BIG : 0;
		unsigned long n;

		if (variant / 2)
			r.aggs = aggs_mixed;
		for (n = 1;; n++) {
			struct pool pool = { 0 };
			struct win_plan *wp = win_plan_new(&r);
			struct window *w = win_new(&pool, wp);
			size_t n_kept = 0, lo = 0, failed = 0, base = pool.in_use;

			ck_assert_ptr_nonnull(w);
			tl_alloc_count = 0;
			tl_alloc_fail_at = n;
			for (i = 0; i < N; i++) {
				win_evict_before(w, wp, items[i].t - SPAN);
				while (lo < n_kept && kept[lo].t < items[i].t - SPAN)
					lo++;
				if (lo == n_kept) /* empty, failures or not */
					EXPECT(pool.in_use == base);
				if (push_item(w, &r, wp, &items[i], pad) == 0)
					kept[n_kept++] = items[i];
				else
					failed++;
				check_model(w, &r, wp, kept, lo, n_kept, pad);
			}
			tl_alloc_fail_at = 0;
			ck_assert_uint_le(failed, 1);
			win_free(w, wp);
			win_plan_free(wp);
			ck_assert_uint_eq(pool.in_use, 0); /* nothing lost on a failure path */
			pool_destroy(&pool);
			if (!failed)
				break; /* no allocation failed any more */
		}
	}
}
END_TEST

/* ---- plans: shared states, fast paths ---- */

static struct tl_value num_value(double x)
{
	struct tl_value v;

	memset(&v, 0, sizeof v);
	v.type = TL_NUM;
	v.num = x;
	return v;
}

static struct tl_value str_value(const char *s)
{
	struct tl_value v;

	memset(&v, 0, sizeof v);
	v.type = TL_STR;
	v.str = s;
	v.len = (uint32_t)strlen(s);
	return v;
}

/* Aggregates over the same field share their state; over another field, they do not, even of
 * the same kind. */
START_TEST(same_argument_shares_state_others_do_not)
{
	static struct ex_node fa1, fa2, fb;
	struct rl_agg ag[] = {
		{ RL_AGG_SUM, &fa1 },      { RL_AGG_AVG, &fa2 },      { RL_AGG_SUM, &fb },
		{ RL_AGG_DISTINCT, &fa1 }, { RL_AGG_DISTINCT, &fb }, { RL_AGG_MAX, &fa2 },
		{ RL_AGG_MAX, &fb },       { RL_AGG_COUNT, NULL },   { RL_AGG_DISTINCT, &fa2 },
	};
	enum { N = sizeof ag / sizeof ag[0] };
	struct rl_rule r;
	struct pool pool = { 0 };
	struct win_plan *wp;
	struct window *w;
	struct tl_value slots[6], out[N];
	struct tf_stamp ts = { .us = 1, .kind = TF_EPOCH_S };
	static const double a[] = { 3, -0.0, 3, 7.5 }, b[] = { 100, 200, 100, -1 };
	size_t k;

	fa1.kind = fa2.kind = fb.kind = EX_FIELD;
	fa1.slot = fa2.slot = 4;
	fb.slot = 5;
	r = make_rule(0);
	r.aggs = ag;
	r.n_aggs = N;
	wp = win_plan_new(&r);
	ck_assert_ptr_nonnull(wp);
	w = win_new(&pool, wp);
	ck_assert_ptr_nonnull(w);
	for (k = 0; k < 4; k++) {
		slots[4] = num_value(a[k]); /* every argument is a field, read from the event */
		slots[5] = num_value(b[k]);
		ts.us = (int64_t)k;
		ck_assert_int_eq(win_push(w, wp, &ts, slots, NULL, "{}", 2), 0);
	}
	win_results(w, wp, out);
	ck_assert(out[0].num == 13.5);
	ck_assert(out[1].num == 13.5 / 4);
	ck_assert(out[2].num == 399);
	ck_assert(out[3].num == 3); /* 3, 0 (-0 is 0), 7.5 */
	ck_assert(out[4].num == 3); /* 100, 200, -1 */
	ck_assert(out[5].num == 7.5);
	ck_assert(out[6].num == 200);
	ck_assert(out[7].num == 4);
	ck_assert(out[8].num == 3);
	win_evict_before(w, wp, 2); /* the first two leave */
	win_results(w, wp, out);
	ck_assert(out[0].num == 10.5 && out[2].num == 99 && out[3].num == 2 && out[4].num == 2);
	ck_assert(out[5].num == 7.5 && out[6].num == 100 && out[7].num == 2);
	win_free(w, wp);
	win_plan_free(wp);
	ck_assert_uint_eq(pool.in_use, 0);
	pool_destroy(&pool);
}
END_TEST

/* What when reads is worked out first, the rest only for an alert: a min or max that when does
 * not read keeps no state (read off the ring values of the sum over its argument), one that it
 * reads keeps its deque; win_results_when fills in only what when reads. */
START_TEST(when_decides_with_its_own_aggregates)
{
	static struct ex_node fx = { .kind = EX_FIELD, .slot = 2 };
	static struct ex_node count_node = { .kind = EX_AGG, .slot = 0 };
	static struct ex_node max_node = { .kind = EX_AGG, .slot = 2 };
	static struct ex_node *both[] = { &count_node, &max_node };
	static struct ex_node when_count = { .kind = EX_AGG, .slot = 0 };
	static struct ex_node when_count_max = { .kind = EX_AND, .kids = both, .n_kids = 2 };
	struct rl_agg ag[] = {
		{ RL_AGG_COUNT, NULL }, { RL_AGG_SUM, &fx }, { RL_AGG_MAX, &fx }, { RL_AGG_MIN, &fx },
	};
	static const double vals[] = { 5, -1, 9, NAN, 2 };
	const struct ex_node *whens[] = { &when_count, &when_count_max };
	size_t sizes[2];
	int v;

	for (v = 0; v < 2; v++) {
		struct rl_rule r = make_rule(0);
		struct pool pool = { 0 };
		struct win_plan *wp;
		struct window *w;
		struct tl_value slots[3], out[4];
		struct tf_stamp ts = { .us = 0, .kind = TF_EPOCH_S };
		size_t i, k;

		r.aggs = ag;
		r.n_aggs = 4;
		r.when = (struct ex_node *)whens[v];
		wp = win_plan_new(&r);
		ck_assert_ptr_nonnull(wp);
		sizes[v] = win_block_size(wp);
		w = win_new(&pool, wp);
		ck_assert_ptr_nonnull(w);
		for (k = 0; k < 5; k++) {
			/* the arguments are the field in slot 2: nothing to give in args */
			slots[2] = isnan(vals[k]) ? str_value("x") : num_value(vals[k]);
			ts.us = (int64_t)k;
			ck_assert_int_eq(win_push(w, wp, &ts, slots, NULL, "{}", 2), 0);
		}
		for (i = 0; i < 4; i++)
			out[i].type = TL_BOOL; /* not touched unless asked for */
		win_results_when(w, wp, out);
		ck_assert(out[0].type == TL_NUM && out[0].num == 5);
		ck_assert(out[1].type == TL_BOOL && out[3].type == TL_BOOL);
		ck_assert(v ? out[2].type == TL_NUM && out[2].num == 9 : out[2].type == TL_BOOL);
		win_results(w, wp, out);
		ck_assert(out[1].num == 15 && out[2].num == 9 && out[3].num == -1);
		win_evict_before(w, wp, 3); /* 5, -1 and 9 leave: "x" and 2 are left */
		win_results(w, wp, out);
		ck_assert(out[0].num == 2 && out[1].num == 2 && out[2].num == 2 && out[3].num == 2);
		win_evict_before(w, wp, 4); /* only 2 is left */
		win_evict_before(w, wp, 5); /* nothing */
		win_results(w, wp, out);
		ck_assert(out[0].num == 0 && out[1].num == 0);
		ck_assert(out[2].type == TL_MISSING && out[3].type == TL_MISSING);
		win_free(w, wp);
		win_plan_free(wp);
		ck_assert_uint_eq(pool.in_use, 0);
		pool_destroy(&pool);
	}
	ck_assert_uint_gt(sizes[1], sizes[0]); /* the max read by when has a deque's state */
}
END_TEST

/* win_block_size is what a window takes while its ring is inside it (up to two events), which
 * the engine prefetches whole: an empty window, and one of two events, take that much of the
 * pool, more only from the third event on; the block grows with the aggregates' states. */
START_TEST(block_size_is_what_a_window_takes)
{
	static struct rl_agg count_only[] = { { RL_AGG_COUNT, NULL } };
	/* no min or max: their deques are blocks of their own from the first event */
	static struct rl_agg no_deque[] = {
		{ RL_AGG_SUM, &dummy_arg }, { RL_AGG_COUNT, NULL }, { RL_AGG_DISTINCT, &dummy_arg },
	};
	struct rl_rule r = make_rule(0), rc = make_rule(0);
	struct pool pool = { 0 };
	struct win_plan *wp, *wc;
	struct window *w;
	struct tl_value args[N_AGGS];
	struct tf_stamp ts = { .us = 1, .kind = TF_EPOCH_S };
	size_t size, i;

	r.aggs = no_deque;
	r.n_aggs = 3;
	rc.aggs = count_only;
	rc.n_aggs = 1;
	wp = win_plan_new(&r);
	wc = win_plan_new(&rc);
	ck_assert_ptr_nonnull(wp);
	ck_assert_ptr_nonnull(wc);
	ck_assert_uint_gt(win_block_size(wp), win_block_size(wc));
	size = win_block_size(wp);
#ifndef TL_POOL_BYPASS /* the sanitizer build's pool gives each block its size exactly */
	size = (size + POOL_STEP - 1) / POOL_STEP * POOL_STEP;
#endif
	w = win_new(&pool, wp);
	ck_assert_ptr_nonnull(w);
	ck_assert_uint_eq(pool.in_use, size);
	for (i = 0; i < N_AGGS; i++)
		args[i] = num_value(1);
	for (i = 0; i < 3; i++) {
		ts.us = (int64_t)i;
		ck_assert_int_eq(win_push(w, wp, &ts, NULL, args, "{}", 2), 0);
		if (i < 2)
			ck_assert_uint_eq(pool.in_use, size);
	}
	ck_assert_uint_gt(pool.in_use, size);
	win_free(w, wp);
	win_plan_free(wp);
	win_plan_free(wc);
	ck_assert_uint_eq(pool.in_use, 0);
	pool_destroy(&pool);
}
END_TEST

/* Evicting every event at once (all older than the bound) leaves the window as popping them one
 * by one does: empty, holding its block only, and ready for more; events out of time order are
 * evicted from the oldest up to the first one that stays. */
START_TEST(evicting_all_at_once_empties_the_window)
{
	static const char *const vals[] = { "a", "a value longer than inline", "b", "c", "d" };
	struct rl_rule r = make_rule(1);
	struct pool pool = { 0 };
	struct win_plan *wp = win_plan_new(&r);
	struct window *w = win_new(&pool, wp);
	struct tl_value args[N_AGGS], out[N_AGGS];
	struct tf_stamp ts = { .kind = TF_EPOCH_S };
	size_t base = pool.in_use, i, k, round;

	ck_assert_ptr_nonnull(w);
	for (round = 0; round < 3; round++) {
		size_t n = round == 0 ? 1 : round == 1 ? 2 : 9;

		for (k = 0; k < n; k++) {
			for (i = 0; i < N_AGGS; i++)
				args[i] = aggs[i].kind == RL_AGG_DISTINCT ? str_value(vals[k % 5])
									 : num_value((double)k - 3);
			ts.us = (int64_t)(100 * round + k);
			ck_assert_int_eq(win_push(w, wp, &ts, NULL, args, "{\"e\":1}", 7), 0);
		}
		ck_assert_uint_eq(win_count(w), n);
		win_evict_before(w, wp, (int64_t)(100 * round + n)); /* all older */
		ck_assert_uint_eq(win_count(w), 0);
		ck_assert_uint_eq(pool.in_use, base);
		win_results(w, wp, out);
		ck_assert(out[0].num == 0 && out[1].num == 0 && out[5].num == 0);
		ck_assert_int_eq(out[2].type, TL_MISSING);
		ck_assert_int_eq(out[3].type, TL_MISSING);
		ck_assert_int_eq(out[4].type, TL_MISSING);
	}
	/* times 5, 1, 9 (out of order), then the bound 6: 5 and 1 go, 9 stays */
	for (k = 0; k < 3; k++) {
		static const int64_t t[] = { 5, 1, 9 };

		for (i = 0; i < N_AGGS; i++)
			args[i] = aggs[i].kind == RL_AGG_DISTINCT ? str_value(vals[k]) : num_value(t[k]);
		ts.us = t[k];
		ck_assert_int_eq(win_push(w, wp, &ts, NULL, args, "{\"e\":2}", 7), 0);
	}
	win_evict_before(w, wp, 6);
	ck_assert_uint_eq(win_count(w), 1);
	ck_assert_int_eq(win_time(w, 0)->us, 9);
	win_results(w, wp, out);
	ck_assert(out[1].num == 9 && out[3].num == 9 && out[4].num == 9 && out[5].num == 1);
	/* 9, then 2: the bound 8 stops at 9, the first */
	ts.us = 2;
	ck_assert_int_eq(win_push(w, wp, &ts, NULL, args, "{\"e\":3}", 7), 0);
	win_evict_before(w, wp, 8);
	ck_assert_uint_eq(win_count(w), 2);
	win_evict_before(w, wp, 10);
	ck_assert_uint_eq(win_count(w), 0);
	ck_assert_uint_eq(pool.in_use, base);
	win_free(w, wp);
	win_plan_free(wp);
	ck_assert_uint_eq(pool.in_use, 0);
	pool_destroy(&pool);
}
END_TEST

/* A set of one short value compares and copies it inline: values of every short length, equal
 * or differing in their first, middle or last byte only, or in their type. */
START_TEST(short_values_inline_compare_exactly)
{
	static const char *const pairs[][2] = {
		{ "", "" },         { "", "a" },          { "a", "a" },          { "a", "b" },
		{ "ab", "ab" },     { "ab", "ba" },       { "abc", "abc" },      { "abc", "aXc" },
		{ "abcd", "abcd" }, { "abcd", "abcX" },   { "abcd", "Xbcd" },    { "abcdef", "abcdef" },
		{ "abcdefg", "abcXefg" }, { "abcdefgh", "abcdefgh" }, { "abcdefgh", "abcdefgX" },
		{ "abcdefghi", "abcdefghi" }, { "abcdefghi", "abcdXfghi" }, { "abcdefghij", "abcdefghij" },
		{ "abcdefghij", "Xbcdefghij" }, { "abcdefghij", "abcdefghiX" },
		{ "abcdefghijk", "abcdefghijk" }, { "abcdefghijk", "abcdefghijX" },
		{ "abcdefghij", "abcdefghijk" },
	};
	struct rl_rule r = make_rule(0);
	struct pool pool = { 0 };
	struct win_plan *wp = win_plan_new(&r);
	struct window *w = win_new(&pool, wp);
	struct tl_value args[N_AGGS], out[N_AGGS];
	struct tf_stamp ts = { .kind = TF_EPOCH_S };
	size_t base = pool.in_use, i, k, j;

	ck_assert_ptr_nonnull(w);
	for (k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
		for (j = 0; j < 3; j++) {
			for (i = 0; i < N_AGGS; i++)
				args[i] = str_value(pairs[k][j % 2]);
			ts.us = (int64_t)(10 * k + j);
			ck_assert_int_eq(win_push(w, wp, &ts, NULL, args, "{}", 2), 0);
			win_results(w, wp, out);
			ck_assert(out[5].num == (strcmp(pairs[k][0], pairs[k][1]) == 0 || j == 0 ? 1 : 2));
		}
		/* the string "1" is not the number 1 */
		for (i = 0; i < N_AGGS; i++)
			args[i] = num_value(1);
		ck_assert_int_eq(win_push(w, wp, &ts, NULL, args, "{}", 2), 0);
		win_results(w, wp, out);
		ck_assert(out[5].num == (strcmp(pairs[k][0], pairs[k][1]) == 0 ? 2 : 3));
		win_clear(w, wp);
		ck_assert_uint_eq(pool.in_use, base);
	}
	for (i = 0; i < N_AGGS; i++)
		args[i] = str_value("1");
	ck_assert_int_eq(win_push(w, wp, &ts, NULL, args, "{}", 2), 0);
	for (i = 0; i < N_AGGS; i++)
		args[i] = num_value(1);
	ck_assert_int_eq(win_push(w, wp, &ts, NULL, args, "{}", 2), 0);
	win_results(w, wp, out);
	ck_assert(out[5].num == 2);
	win_free(w, wp);
	win_plan_free(wp);
	ck_assert_uint_eq(pool.in_use, 0);
	pool_destroy(&pool);
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
	tcase_add_test(tc, long_streams_match_naive);
	tcase_add_test(tc, allocation_failure_leaves_window_unchanged);
	tcase_add_test(tc, same_argument_shares_state_others_do_not);
	tcase_add_test(tc, when_decides_with_its_own_aggregates);
	tcase_add_test(tc, evicting_all_at_once_empties_the_window);
	tcase_add_test(tc, block_size_is_what_a_window_takes);
	tcase_add_test(tc, short_values_inline_compare_exactly);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
