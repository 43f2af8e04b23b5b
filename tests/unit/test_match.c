/* test_match.c - the run store of sequences: bindings, reference counts, per-run aggregates,
 * and the compiled form of sequence rules (steps, guards, trailing not steps, aliases). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

static struct rl_ruleset *load(const char *text, char **errtext)
{
	size_t len = 0;
	FILE *err = open_memstream(errtext, &len);
	struct dg_sink sink = { err, 0, 0 };
	struct rl_ruleset *rs = rl_load_mem("m.yaml", text, strlen(text), &sink);

	fclose(err);
	return rs;
}

/* A sequence rule s (within 1m) whose first step is a, taking 2 or more events where x holds,
 * followed by the steps and emit of rest. */
static struct rl_ruleset *load_after_a(const char *rest, char **errtext)
{
	char text[2048];

	int n = snprintf(text, sizeof text,
			 "rules:\n  - id: s\n    within: 1m\n    sequence:\n"
			 "      - {as: a, where: x, repeat: {min: 2}}\n%s",
			 rest);

	ck_assert_int_lt(n, (int)sizeof text);
	return load(text, errtext);
}

static const char *const seq_rules =
	"rules:\n"
	"  - id: s\n"
	"    key: k\n"
	"    sequence:\n"
	"      - {as: a, where: type == \"a\", repeat: {min: 2, max: 5}}\n"
	"      - {not: true, where: type == \"x\"}\n"
	"      - {not: true, where: type == \"y\"}\n"
	"      - {as: b, where: type == \"b\" && v > max(a.v) && v > first(a).v}\n"
	"      - {where: type == \"c\"}\n"
	"      - {not: true, where: type == \"z\"}\n"
	"    within: 1m\n"
	"    contiguity: strict\n"
	"    after_match: no_skip\n"
	"    emit: {n: \"{{ count(a) }}\", s: \"{{ sum(a.v) }}\", d: \"{{ distinct(a.g) }}\","
	" l: \"{{ last(a).v }}\", t: \"{{ time(b) }}\"}\n";

START_TEST(sequence_compiles_to_steps_and_guards)
{
	char *err = NULL;
	struct rl_ruleset *rs = load(seq_rules, &err);
	const struct rl_rule *r;

	ck_assert_msg(rs != NULL, "%s", err);
	r = &rs->rules[0];
	ck_assert_int_eq(r->kind, RL_SEQUENCE);
	ck_assert_uint_eq(r->n_steps, 3);
	ck_assert_str_eq(r->steps[0].name, "a");
	ck_assert_uint_eq(r->steps[0].min, 2);
	ck_assert_uint_eq(r->steps[0].max, 5);
	ck_assert_str_eq(r->steps[1].name, "b");
	ck_assert_uint_eq(r->steps[1].n_guards, 2);
	ck_assert_str_eq(r->steps[1].guards[0].where_text, "type == \"x\"");
	ck_assert_str_eq(r->steps[1].guards[1].where_text, "type == \"y\"");
	ck_assert_int_eq(r->steps[1].reads_run, 1);
	ck_assert_int_eq(r->steps[0].reads_run, 0);
	ck_assert_str_eq(r->steps[2].name, "step5"); /* position 5 in the list */
	ck_assert_uint_eq(r->n_trailing, 1);
	ck_assert_int_eq(r->within_us, 60000000);
	ck_assert_int_eq(r->contiguity, RL_STRICT);
	ck_assert_int_eq(r->after_match, RL_NO_SKIP);
	/* max(a.v) in step b, then count, sum, distinct in emit */
	ck_assert_uint_eq(r->n_run_aggs, 4);
	ck_assert_int_eq(r->run_aggs[0].kind, RL_AGG_MAX);
	ck_assert_uint_eq(r->run_aggs[0].step, 0);
	rl_free(rs);
	free(err);
}
END_TEST

/* What a bind to each step updates is listed once, when the rule is read: the aggregates of
 * the step but count (the step's taken count is count), and the reads of the step. */
START_TEST(each_step_lists_what_a_bind_updates)
{
	char *err = NULL;
	struct rl_ruleset *rs =
		load_after_a("      - {as: b, where: v > max(a.v) && count(a) < 9 && w != first(a).w}\n"
			     "      - {where: u == b.u && sum(a.v) > min(a.v) && count(b) == 1}\n"
			     "    emit: {d: \"{{ distinct(b.g) }}\"}\n",
			     &err);
	const struct rl_rule *r;
	size_t s, i;

	ck_assert_msg(rs != NULL, "%s", err);
	r = &rs->rules[0];
	ck_assert_uint_eq(r->n_steps, 3);
	/* max(a.v), count(a), sum(a.v), min(a.v), count(b), distinct(b.g) */
	ck_assert_uint_eq(r->n_run_aggs, 6);
	ck_assert_uint_eq(r->steps[0].n_accs, 3);
	ck_assert_uint_eq(r->steps[0].accs[0], 0);
	ck_assert_uint_eq(r->steps[0].accs[1], 2);
	ck_assert_uint_eq(r->steps[0].accs[2], 3);
	ck_assert_uint_eq(r->steps[1].n_accs, 1);
	ck_assert_uint_eq(r->steps[1].accs[0], 5);
	ck_assert_uint_eq(r->steps[2].n_accs, 0);
	/* first(a).w and b.u */
	ck_assert_uint_eq(r->n_reads, 2);
	ck_assert_uint_eq(r->steps[0].n_keeps, 1);
	ck_assert_uint_eq(r->reads[r->steps[0].keeps[0]].step, 0);
	ck_assert_uint_eq(r->steps[1].n_keeps, 1);
	ck_assert_uint_eq(r->reads[r->steps[1].keeps[0]].step, 1);
	ck_assert_uint_eq(r->steps[2].n_keeps, 0);
	/* every aggregate but count, and every read, is in the list of its step, once */
	for (i = 0; i < r->n_run_aggs; i++) {
		size_t seen = 0, j;

		for (s = 0; s < r->n_steps; s++)
			for (j = 0; j < r->steps[s].n_accs; j++)
				if (r->steps[s].accs[j] == i) {
					ck_assert_uint_eq(r->run_aggs[i].step, s);
					seen++;
				}
		ck_assert_uint_eq(seen, r->run_aggs[i].kind == RL_AGG_COUNT ? 0 : 1);
	}
	rl_free(rs);
	free(err);
}
END_TEST

START_TEST(an_aggregate_written_twice_is_kept_once)
{
	char *err = NULL;
	struct rl_ruleset *rs = load_after_a("      - {where: v > max(a.v) && count(a) < 9}\n"
					     "    emit: {m: \"{{ max(a.v) }}\", n: \"{{ count(a) }}\","
					     " w: \"{{ max(a.w) }}\", s: \"{{ min(a.v) }}\"}\n",
					     &err);
	const struct rl_rule *r;

	ck_assert_msg(rs != NULL, "%s", err);
	r = &rs->rules[0];
	/* max(a.v) and count(a) twice each, max(a.w) and min(a.v) once: four, not six */
	ck_assert_uint_eq(r->n_run_aggs, 4);
	ck_assert_int_eq(r->run_aggs[0].kind, RL_AGG_MAX);
	ck_assert_int_eq(r->run_aggs[1].kind, RL_AGG_COUNT);
	ck_assert_int_eq(r->run_aggs[2].kind, RL_AGG_MAX);
	ck_assert_uint_ne(r->run_aggs[2].slot, r->run_aggs[0].slot);
	ck_assert_int_eq(r->run_aggs[3].kind, RL_AGG_MIN);
	rl_free(rs);
	free(err);
}
END_TEST

static const struct {
	const char *steps;
	const char *want;
} bad[] = {
	{ "      - {not: true, where: x}\n      - {where: y}\n", "cannot start with a not step" },
	{ "      - {where: b.v > 1}\n      - {as: b, where: y}\n",
	  "step alias 'b' is used before it is bound" },
	{ "      - {as: a, where: x, repeat: 3}\n      - {where: v > a.v}\n",
	  "'a' is a repeated step: read it with first(a).f" },
	{ "      - {as: a, where: x}\n      - {where: v > first(q).v}\n", "first() reads a step" },
	{ "      - {as: a, where: x, repeat: {min: 3, max: 2}}\n", "repeat max is smaller than min" },
	{ "      - {as: a, where: x, repeat: 0}\n", "repeat must be a whole number" },
	{ "      - {as: a, where: x}\n      - {as: a, where: y}\n", "step alias 'a' is used twice" },
	{ "      - {as: a, where: x}\n      - {not: true, as: n, where: y}\n",
	  "a not step has no alias and no repeat" },
	{ "      - {as: step2, where: x}\n      - {where: y}\n", "step alias 'step2' is used twice" },
	{ "      - {as: a, where: x, repeat: 0}\n      - {where: foo(y)}\n", "unknown function 'foo'" },
	{ "      - {as: a}\n", "a step needs a where condition" },
};

START_TEST(sequence_errors)
{
	char text[1024], *err = NULL;
	struct rl_ruleset *rs;

	snprintf(text, sizeof text, "rules:\n  - id: s\n    within: 1m\n    sequence:\n%s",
		 bad[_i].steps);
	rs = load(text, &err);
	ck_assert_ptr_null(rs);
	ck_assert_msg(strstr(err, bad[_i].want) != NULL, "want '%s' in:\n%s", bad[_i].want, err);
	free(err);
}
END_TEST

START_TEST(within_is_required)
{
	char *err = NULL;
	struct rl_ruleset *rs = load("rules:\n  - id: s\n    sequence:\n      - {where: x}\n", &err);

	ck_assert_ptr_null(rs);
	ck_assert_ptr_nonnull(strstr(err, "m.yaml:2:5: error: a sequence needs within"));
	free(err);
}
END_TEST

static struct mt_event *event(struct pool *pool, const struct rl_ruleset *rs, double v,
			      const char *g, int64_t t)
{
	struct tl_value *slots = calloc(rs->n_slots, sizeof *slots);
	struct tf_stamp ts = { .us = t, .kind = TF_EPOCH_S };
	struct mt_event *ev;
	size_t i;

	/* fill every slot: the test does not care which field is which except v and g */
	for (i = 0; i < rs->n_slots; i++) {
		slots[i].type = TL_NUM;
		slots[i].num = v;
	}
	(void)g;
	ev = mt_event_new(pool, "{}", 2, slots, rs->n_slots, &ts, (uint64_t)t);
	free(slots);
	return ev;
}

/* The end of a test that made runs: every block went back to the pool. */
static void finish(struct pool *pool, struct rl_ruleset *rs, char *err)
{
	ck_assert_uint_eq(pool->in_use, 0);
	pool_destroy(pool);
	rl_free(rs);
	free(err);
}

START_TEST(bindings_and_aggregates)
{
	char *err = NULL;
	struct rl_ruleset *rs = load(seq_rules, &err);
	const struct rl_rule *r = &rs->rules[0];
	struct pool pool = { 0 };
	struct mt_run *run1, *run2, *run3;
	struct mt_event *e1, *e2, *e3;
	struct tl_value vals[8];
	struct ev_bound first[3], last[3];

	ck_assert_ptr_nonnull(rs);
	ck_assert_uint_eq(r->n_steps, 3);
	run1 = mt_run_new(&pool, r, 0);
	run2 = mt_run_new(&pool, r, 0);
	e1 = event(&pool, rs, 4, "x", 1);
	e2 = event(&pool, rs, 10, "y", 2);
	e3 = event(&pool, rs, 10, "y", 3);
	ck_assert_int_eq(mt_bind(&pool, r, run1, 0, e1), 0);
	ck_assert_int_eq(mt_bind(&pool, r, run1, 0, e2), 0);
	ck_assert_int_eq(mt_bind(&pool, r, run1, 0, e3), 0);
	ck_assert_int_eq(mt_bind(&pool, r, run2, 0, e2), 0); /* shared */
	ck_assert_uint_eq(e2->refs, 2);
	mt_values(r, run1, vals);
	ck_assert_double_eq(vals[0].num, 10); /* max(a.v) */
	ck_assert_double_eq(vals[1].num, 3);  /* count(a) */
	ck_assert_double_eq(vals[2].num, 24); /* sum(a.v) */
	ck_assert_double_eq(vals[3].num, 2);  /* distinct(a.g): every slot is v here: 4, 10 */
	mt_views(r, run1, first, last);
	ck_assert_int_eq(first[0].time_us, 1);
	ck_assert_ptr_eq(first[0].slots, e1->slots);
	ck_assert_int_eq(last[0].time_us, 3);
	ck_assert_ptr_eq(last[0].slots, e3->slots);
	ck_assert_ptr_null(first[1].slots);
	ck_assert_ptr_null(last[1].slots);
	ck_assert_ptr_null(first[2].slots);
	/* a run that went through every step: each step's events follow the step before's */
	run3 = mt_run_new(&pool, r, 0);
	ck_assert_int_eq(mt_bind(&pool, r, run3, 0, e1), 0);
	ck_assert_int_eq(mt_bind(&pool, r, run3, 0, e2), 0);
	ck_assert_int_eq(mt_bind(&pool, r, run3, 1, e3), 0);
	ck_assert_int_eq(mt_bind(&pool, r, run3, 2, e2), 0);
	ck_assert_uint_eq(mt_taken(r, run3)[0], 2);
	ck_assert_uint_eq(mt_taken(r, run3)[1], 1);
	ck_assert_uint_eq(mt_taken(r, run3)[2], 1);
	mt_views(r, run3, first, last);
	ck_assert_ptr_eq(first[0].slots, e1->slots);
	ck_assert_ptr_eq(last[0].slots, e2->slots);
	ck_assert_ptr_eq(first[1].slots, e3->slots);
	ck_assert_ptr_eq(last[1].slots, e3->slots);
	ck_assert_int_eq(first[2].time_us, 2);
	ck_assert_ptr_eq(last[2].slots, e2->slots);
	ck_assert_uint_eq(e2->refs, 4);
	mt_run_free(&pool, r, run3);
	mt_run_free(&pool, r, run1);
	ck_assert_uint_eq(e2->refs, 1); /* e1 and e3 went with run1 */
	mt_run_free(&pool, r, run2);
	finish(&pool, rs, err);
}
END_TEST

/* A rule whose conditions read a repeated step's first and last events, a later step and its
 * time, a field the events lack; its emit reads one more, which runs need not keep. */
static const char *const read_rules =
	"rules:\n"
	"  - id: r\n"
	"    key: k\n"
	"    sequence:\n"
	"      - {as: a, where: type == \"a\", repeat: {min: 1, max: 5}}\n"
	"      - {as: b, where: type == \"b\" && s != first(a).s && s != last(a).s &&"
	" l != last(a).l && n > first(a).n && zz != first(a).zz}\n"
	"      - {where: type == \"c\" && s == b.s && time() - time(b) < 60}\n"
	"    within: 1m\n"
	"    emit: {x: \"{{ first(a).l }}\"}\n";

/* The event of a JSON line, decoded as the engine decodes it, numbered and timed us. */
static struct mt_event *event_json(struct pool *pool, const struct rl_ruleset *rs,
				   const char *line, int64_t us)
{
	struct jd_decoder *dec = jd_decoder_new(rs->fields);
	struct tl_value *slots = calloc(rs->n_slots, sizeof *slots);
	struct tf_stamp ts = { .us = us, .kind = TF_EPOCH_S };
	struct jd_error jerr;
	struct mt_event *ev;

	ck_assert_int_eq(jd_decode(dec, line, strlen(line), slots, &jerr), 0);
	ev = mt_event_new(pool, line, strlen(line), slots, rs->n_slots, &ts, (uint64_t)us);
	free(slots);
	jd_decoder_free(dec);
	return ev;
}

/* The slot of top-level field name. */
static uint32_t slot_of(const struct rl_ruleset *rs, const char *name)
{
	char line[64];
	struct mt_event *ev;
	struct pool pool = { 0 };
	uint32_t i, slot = UINT32_MAX;

	snprintf(line, sizeof line, "{\"%s\":true}", name);
	ev = event_json(&pool, rs, line, 0);
	for (i = 0; i < rs->n_slots; i++)
		if (ev->slots[i].type == TL_BOOL)
			slot = i;
	mt_event_release(&pool, ev);
	pool_destroy(&pool);
	ck_assert_uint_ne(slot, UINT32_MAX);
	return slot;
}

/* The value run keeps for what its rule's conditions read of step.name (first or last; name
 * NULL: the time). */
static const struct tl_value *kept(const struct rl_ruleset *rs, const struct rl_rule *r,
				   const struct mt_run *run, uint32_t step, const char *name,
				   int last)
{
	uint32_t slot = name ? slot_of(rs, name) : EX_ALIAS_TIME;
	size_t i;

	for (i = 0; i < r->n_reads; i++)
		if (r->reads[i].step == step && r->reads[i].slot == slot && r->reads[i].last == last)
			return &mt_rv(run)[i];
	ck_abort_msg("no read of step %u's %s", step, name ? name : "time");
	return NULL;
}

/* What a run keeps of its bound events for the conditions tried on it: the first or the last
 * event of a step, its time, a short string in the run's own block, a long one where the
 * event has it, and nothing (unknown) for a step not bound yet. */
START_TEST(a_run_keeps_what_its_conditions_read)
{
	static const char long1[] = "a string longer than sixteen bytes, first";
	static const char long2[] = "a string longer than sixteen bytes, second";
	char *err = NULL, line[256];
	struct rl_ruleset *rs = load(read_rules, &err);
	const struct rl_rule *r = &rs->rules[0];
	struct pool pool = { 0 };
	struct mt_run *run;
	struct mt_event *e1, *e2, *e3;
	const struct tl_value *v;
	const char *lo, *hi;

	ck_assert_msg(rs != NULL, "%s", err);
	/* 7 reads in the conditions, each once; emit's first(a).l is not one */
	ck_assert_uint_eq(r->n_reads, 7);
	run = mt_run_new(&pool, r, 0);
	ck_assert_ptr_nonnull(run);
	lo = (const char *)run;
	hi = lo + mt_run_size(r);
	snprintf(line, sizeof line, "{\"type\":\"a\",\"s\":\"DE\",\"l\":\"%s\",\"n\":7}", long1);
	e1 = event_json(&pool, rs, line, 1500000);
	snprintf(line, sizeof line,
		 "{\"type\":\"a\",\"s\":\"FR-sixteen-bytes\",\"l\":\"%s\",\"n\":8}", long2);
	e2 = event_json(&pool, rs, line, 2250000);
	e3 = event_json(&pool, rs, "{\"type\":\"b\",\"s\":\"GB\"}", 3000000);
	ck_assert_int_eq(kept(rs, r, run, 0, "s", 0)->type, TL_MISSING); /* nothing bound yet */
	ck_assert_int_eq(mt_bind(&pool, r, run, 0, e1), 0);
	ck_assert_int_eq(mt_bind(&pool, r, run, 0, e2), 0);
	/* first(a).s: "DE" from e1, copied into the run */
	v = kept(rs, r, run, 0, "s", 0);
	ck_assert_int_eq(v->type, TL_STR);
	ck_assert_uint_eq(v->len, 2);
	ck_assert_mem_eq(v->str, "DE", 2);
	ck_assert(v->str >= lo && v->str + v->len <= hi);
	/* last(a).s: 16 bytes from e2, still in the run */
	v = kept(rs, r, run, 0, "s", 1);
	ck_assert_uint_eq(v->len, 16);
	ck_assert_mem_eq(v->str, "FR-sixteen-bytes", 16);
	ck_assert(v->str >= lo && v->str + v->len <= hi);
	/* last(a).l: longer, read where e2 holds it */
	v = kept(rs, r, run, 0, "l", 1);
	ck_assert_uint_eq(v->len, sizeof long2 - 1);
	ck_assert_ptr_eq(v->str, e2->slots[slot_of(rs, "l")].str);
	ck_assert_mem_eq(v->str, long2, sizeof long2 - 1);
	/* first(a).n: e1's number; a field the events lack; b, not bound yet */
	v = kept(rs, r, run, 0, "n", 0);
	ck_assert_int_eq(v->type, TL_NUM);
	ck_assert_double_eq(v->num, 7);
	ck_assert_int_eq(kept(rs, r, run, 0, "zz", 0)->type, TL_MISSING);
	ck_assert_int_eq(kept(rs, r, run, 1, "s", 0)->type, TL_MISSING);
	ck_assert_int_eq(kept(rs, r, run, 1, NULL, 0)->type, TL_MISSING);
	/* b binds e3: its field, and its time in seconds */
	ck_assert_int_eq(mt_bind(&pool, r, run, 1, e3), 0);
	v = kept(rs, r, run, 1, "s", 0);
	ck_assert_uint_eq(v->len, 2);
	ck_assert_mem_eq(v->str, "GB", 2);
	v = kept(rs, r, run, 1, NULL, 0);
	ck_assert_int_eq(v->type, TL_NUM);
	ck_assert_double_eq(v->num, 3);
	/* the accumulators and counts after the values are the run's own */
	ck_assert_uint_eq(mt_taken(r, run)[0], 2);
	ck_assert_uint_eq(mt_taken(r, run)[1], 1);
	ck_assert_uint_eq(run->n_bound, 3);
	ck_assert_ptr_eq(run->bound[1], e2);
	mt_run_free(&pool, r, run);
	finish(&pool, rs, err);
}
END_TEST

/* Each accumulator keeps only what its kind needs (they share their room): every kind side
 * by side in one run, then a run that bound nothing. */
START_TEST(each_kind_of_run_aggregate)
{
	char *err = NULL;
	struct rl_ruleset *rs = load_after_a("      - {where: y}\n"
					     "    emit: {a: \"{{ min(a.v) }}\", b: \"{{ max(a.v) }}\","
					     " c: \"{{ avg(a.v) }}\", d: \"{{ sum(a.v) }}\","
					     " e: \"{{ distinct(a.v) }}\", f: \"{{ count(a) }}\"}\n",
					     &err);
	const struct rl_rule *r;
	struct pool pool = { 0 };
	struct mt_run *run, *empty;
	struct mt_event *ev[4];
	const double v[4] = { 4, 10, 1, 10 };
	struct tl_value vals[6];
	int i;

	ck_assert_msg(rs != NULL, "%s", err);
	r = &rs->rules[0];
	ck_assert_uint_eq(r->n_run_aggs, 6);
	run = mt_run_new(&pool, r, 0);
	empty = mt_run_new(&pool, r, 0);
	for (i = 0; i < 4; i++) {
		ev[i] = event(&pool, rs, v[i], NULL, i + 1);
		ck_assert_int_eq(mt_bind(&pool, r, run, 0, ev[i]), 0);
	}
	mt_values(r, run, vals);
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(vals[i].type, TL_NUM);
	ck_assert_double_eq(vals[0].num, 1);     /* min */
	ck_assert_double_eq(vals[1].num, 10);    /* max */
	ck_assert_double_eq(vals[2].num, 6.25);  /* avg */
	ck_assert_double_eq(vals[3].num, 25);    /* sum */
	ck_assert_double_eq(vals[4].num, 3);     /* distinct: 4, 10, 1 */
	ck_assert_double_eq(vals[5].num, 4);     /* count */
	mt_values(r, empty, vals);
	ck_assert_int_eq(vals[0].type, TL_MISSING);
	ck_assert_int_eq(vals[1].type, TL_MISSING);
	ck_assert_int_eq(vals[2].type, TL_MISSING);
	ck_assert_double_eq(vals[3].num, 0);
	ck_assert_double_eq(vals[4].num, 0);
	ck_assert_double_eq(vals[5].num, 0);
	mt_run_free(&pool, r, run);
	mt_run_free(&pool, r, empty);
	finish(&pool, rs, err);
}
END_TEST

/* Every run of the key is in the group of its state, exactly once, at the place it records;
 * and the key's list holds the runs in start order. */
static void check_groups(const struct mt_key *k, struct mt_run *const *runs, const int *in,
			 int n)
{
	const struct mt_run *p;
	uint32_t g, j, total = 0, listed = 0;
	int i, at = 0;

	for (g = 0; g < k->n_groups; g++) {
		for (j = 0; j < k->groups[g].n; j++) {
			ck_assert_uint_eq(k->groups[g].runs[j]->group, g);
			ck_assert_uint_eq(k->groups[g].runs[j]->gidx, j);
		}
		total += k->groups[g].n;
		if (!k->groups[g].n)
			ck_assert_ptr_null(k->groups[g].runs);
	}
	for (p = k->head; p; p = p->next) {
		while (at < n && !in[at])
			at++;
		ck_assert_int_lt(at, n);
		ck_assert_ptr_eq(p, runs[at++]);
		listed++;
	}
	for (i = 0; i < n; i++)
		total -= in[i] ? 1 : 0;
	ck_assert_uint_eq(total, 0);
	ck_assert_uint_eq(listed, k->n_runs);
}

/* The runs of a key by state: groups are arrays that grow, and from which a run leaves by
 * giving its place to the last one. */
/* Binds take two ways: a step whose aggregates are numbers only (the common case, inline)
 * and one with distinct() or kept reads. Both must give the aggregates of the events bound,
 * as many as they are (the array of bound events grows past its first 4 on either way). A
 * second run binds the same events through a plan (mt_plan, as the engine binds one event to
 * many runs): it ends with the same events and values. */
START_TEST(plain_and_other_binds_agree_with_a_recount)
{
	char *err = NULL;
	struct rl_ruleset *rs = load_after_a("      - {as: b, where: y, repeat: {min: 1}}\n"
					     "    emit: {a: \"{{ min(a.v) }}\", b: \"{{ max(a.v) }}\","
					     " c: \"{{ sum(a.v) }}\", d: \"{{ count(a) }}\","
					     " e: \"{{ distinct(b.v) }}\", f: \"{{ max(b.v) }}\","
					     " g: \"{{ count(b) }}\"}\n",
					     &err);
	const struct rl_rule *r;
	struct pool pool = { 0 };
	struct mt_run *run, *planned;
	struct tl_value vals[7], pvals[7];
	double mn = 1e9, mx = -1e9, sum = 0, bmx = -1e9;
	int i, n_a = 13, n_b = 9;

	ck_assert_msg(rs != NULL, "%s", err);
	r = &rs->rules[0];
	ck_assert_int_eq(r->steps[0].bind_plain, 1);
	ck_assert_int_eq(r->steps[1].bind_plain, 0); /* distinct(b.v) */
	run = mt_run_new(&pool, r, 0);
	planned = mt_run_new(&pool, r, 0);
	for (i = 0; i < n_a + n_b; i++) {
		double v = (double)((i * 37) % 11) - 3; /* 11 values, repeated */
		struct mt_event *ev = event(&pool, rs, v, NULL, i + 1);
		uint32_t step = i < n_a ? 0 : 1;
		struct mt_plan plan;

		ck_assert_int_eq(mt_bind(&pool, r, run, step, ev), 0);
		mt_plan(r, step, ev, &plan);
		ck_assert_uint_eq(plan.n, step == 0 ? 3 : UINT32_MAX); /* min, max, sum */
		ck_assert_int_eq(mt_bind_planned(&pool, r, planned, ev, &plan), 0);
		if (step == 0) {
			mn = v < mn ? v : mn;
			mx = v > mx ? v : mx;
			sum += v;
		} else {
			bmx = v > bmx ? v : bmx;
		}
	}
	ck_assert_uint_eq(run->n_bound, (uint32_t)(n_a + n_b));
	for (i = 0; i < n_a + n_b; i++)
		ck_assert_uint_eq(run->bound[i]->seq, (uint64_t)(i + 1)); /* in order */
	mt_values(r, run, vals);
	ck_assert_double_eq(vals[0].num, mn);
	ck_assert_double_eq(vals[1].num, mx);
	ck_assert_double_eq(vals[2].num, sum);
	ck_assert_double_eq(vals[3].num, n_a);
	ck_assert_double_eq(vals[4].num, 9); /* (i * 37) % 11 for i = 13 .. 21: 9 values */
	ck_assert_double_eq(vals[5].num, bmx);
	ck_assert_double_eq(vals[6].num, n_b);
	ck_assert_uint_eq(planned->n_bound, run->n_bound);
	for (i = 0; i < n_a + n_b; i++)
		ck_assert_ptr_eq(planned->bound[i], run->bound[i]);
	for (i = 0; i < 2; i++)
		ck_assert_uint_eq(mt_taken(r, planned)[i], mt_taken(r, run)[i]);
	mt_values(r, planned, pvals);
	for (i = 0; i < 7; i++) {
		ck_assert_int_eq(pvals[i].type, TL_NUM);
		ck_assert_double_eq(pvals[i].num, vals[i].num);
	}
	mt_run_free(&pool, r, run);
	mt_run_free(&pool, r, planned);
	finish(&pool, rs, err);
}
END_TEST

START_TEST(runs_grouped_by_state)
{
	char *err = NULL;
	struct rl_ruleset *rs = load(seq_rules, &err);
	const struct rl_rule *r = &rs->rules[0];
	struct pool pool = { 0 };
	struct mt_key *k;
	struct mt_run *runs[9];
	int in[9], i;

	ck_assert_ptr_nonnull(rs);
	k = pool_calloc(&pool, mt_key_size(r));
	k->n_groups = (uint32_t)(3 * r->n_steps);
	for (i = 0; i < 9; i++) { /* more than the first array holds */
		runs[i] = mt_run_new(&pool, r, 0);
		runs[i]->count = 1;
		runs[i]->group = mt_group(r, 0, 1);
		ck_assert_int_eq(mt_key_link(&pool, k, runs[i]), 0);
		in[i] = 1;
	}
	ck_assert_uint_eq(k->n_runs, 9);
	ck_assert_uint_eq(k->groups[0].n, 9);
	check_groups(k, runs, in, 9);
	/* a to 2 events: from min on (a state of its own); then to max */
	for (i = 0; i < 9; i += 2) {
		runs[i]->count = 2;
		ck_assert_int_eq(mt_regroup(&pool, r, k, runs[i]), 0);
	}
	runs[4]->count = 5;
	ck_assert_int_eq(mt_regroup(&pool, r, k, runs[4]), 0);
	runs[3]->count = 1; /* unchanged: stays */
	ck_assert_int_eq(mt_regroup(&pool, r, k, runs[3]), 0);
	ck_assert_uint_eq(k->groups[0].n, 4);
	ck_assert_uint_eq(k->groups[1].n, 4);
	ck_assert_uint_eq(k->groups[2].n, 1);
	check_groups(k, runs, in, 9);
	/* the last run of a group, one in the middle, the first of the key, one alone */
	mt_key_unlink(&pool, k, runs[8]);
	mt_key_unlink(&pool, k, runs[3]);
	mt_key_unlink(&pool, k, runs[0]);
	mt_key_unlink(&pool, k, runs[4]);
	for (i = 0; i < 9; i++)
		if (i == 8 || i == 3 || i == 0 || i == 4) {
			in[i] = 0;
			mt_run_free(&pool, r, runs[i]);
		}
	ck_assert_uint_eq(k->n_runs, 5);
	ck_assert_ptr_null(k->groups[2].runs); /* an empty group gave its array back */
	check_groups(k, runs, in, 9);
	for (i = 0; i < 9; i++)
		if (in[i]) {
			mt_key_unlink(&pool, k, runs[i]);
			mt_run_free(&pool, r, runs[i]);
		}
	ck_assert_ptr_null(k->head);
	ck_assert_uint_eq(k->n_runs, 0);
	pool_free(&pool, k, mt_key_size(r));
	finish(&pool, rs, err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match");
	TCase *tc = tcase_create("match");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, sequence_compiles_to_steps_and_guards);
	tcase_add_test(tc, each_step_lists_what_a_bind_updates);
	tcase_add_test(tc, plain_and_other_binds_agree_with_a_recount);
	tcase_add_test(tc, an_aggregate_written_twice_is_kept_once);
	tcase_add_loop_test(tc, sequence_errors, 0, (int)(sizeof bad / sizeof bad[0]));
	tcase_add_test(tc, within_is_required);
	tcase_add_test(tc, bindings_and_aggregates);
	tcase_add_test(tc, each_kind_of_run_aggregate);
	tcase_add_test(tc, a_run_keeps_what_its_conditions_read);
	tcase_add_test(tc, runs_grouped_by_state);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
