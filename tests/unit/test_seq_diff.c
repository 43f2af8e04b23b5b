/* test_seq_diff.c - sequence rules: a differential test of the engine against a deliberately
 * naive reference evaluator, written from SPEC.md section 4 and docs/semantics.md "Sequences"
 * alone, plus hand-worked scenarios.
 *
 * The reference keeps a flat list of every run ever started (rule, key, current real step,
 * count, bound events, start event, state) and applies the numbered algorithm of
 * docs/semantics.md literally to each event: within (inclusive), repeat (exact, min, min-max,
 * greedy), not steps between steps and trailing (deadlines fired before the event that passes
 * them and at end of input, in deadline, rule, start order), contiguity, after_match,
 * suppress, events without the key field, and conditions that read earlier steps (a single
 * step's field, aggregates of a repeated step recomputed by rescanning, time()). Missing
 * fields make comparisons unknown. It favours being obviously right over being fast.
 *
 * The random family: 1-3 rules of 1-4 steps over events {"ts","k","type","v"}, integer
 * times with frequent ties and rare gaps, 1-3 keys, lateness 0, no emit.
 *
 * Environment: TL_SEQ_SEED and TL_SEQ_TRIALS override the seed and the number of trials;
 * TL_SEQ_DUMP=FILE writes each trial's rules and stream to FILE before it runs (to catch the
 * case of a crash).
 */
#include <check.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ruleset.h"
#include "tripline.h"

#define MAX_EV 256
#define MAX_STEPS 4
#define MAX_RULES 3
#define MAX_KEYS 3

/* ---- a growing string ---- */

struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		ck_assert_ptr_nonnull(b->s);
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	ck_assert(n >= 0 && (size_t)n < sizeof tmp);
	sb_add(b, tmp, (size_t)n);
}

static const char *sb_str(const struct sbuf *b)
{
	return b->s ? b->s : "";
}

static void sb_free(struct sbuf *b)
{
	free(b->s);
	memset(b, 0, sizeof *b);
}

/* ---- the model: the restricted family of rules and events ---- */

enum { OP_GT, OP_LT, OP_EQ, OP_NE };

static const char *const op_text[] = { ">", "<", "==", "!=" };

/* What `v OP ...` compares with: a single step's v, or an aggregate of a repeated step. */
enum { AGG_NONE, AGG_COUNT, AGG_SUM, AGG_AVG, AGG_MIN, AGG_MAX, AGG_DISTINCT, AGG_FIRST,
       AGG_LAST, N_AGG };

/* type == "TYPE" && v > VGT && v OP AGG(pREF) && time() - time(pTREF) <= TK;
 * a zero field is an absent part. */
struct cond {
	char type;  /* 'a'..'d', 0: no type test */
	int has_vgt;
	int vgt;
	int ref;    /* 1-based position of an earlier real step with `as`, 0: none */
	int op;
	int agg;    /* AGG_NONE (pN.v) for a single step, else an aggregate of a repeated step */
	int tref;   /* 1-based position of an earlier single real step with `as`, 0: none */
	int tk;
};

enum { REP_NONE, REP_EXACT, REP_MIN, REP_MINMAX };

struct step {
	int is_not;
	int has_as;  /* named pN (N: 1-based position), else stepN */
	struct cond cond;
	int rep;     /* REP_* */
	int min, max; /* for REP_EXACT: min = max = N; REP_MIN: max 0 (none) */
};

enum { OPT_DEFAULT, OPT_FIRST, OPT_SECOND }; /* omitted, relaxed|skip_past_last, strict|no_skip */

struct rule {
	int within; /* seconds */
	int suppress; /* seconds, 0: none */
	int contiguity;
	int after_match;
	int n_steps;
	struct step steps[MAX_STEPS];
};

struct ev {
	long t;
	int k;     /* key kK, or -1: no key field */
	char type;
	int v;
	int no_v;  /* the event has no v field: comparisons with it are unknown */
	char line[96];
};

static void ev_line(struct ev *e)
{
	char key[32] = "", v[32] = "";

	if (e->k >= 0)
		snprintf(key, sizeof key, ",\"k\":\"k%d\"", e->k);
	if (!e->no_v)
		snprintf(v, sizeof v, ",\"v\":%d", e->v);
	snprintf(e->line, sizeof e->line, "{\"ts\":%ld%s,\"type\":\"%c\"%s}", e->t, key, e->type,
		 v);
}

static int step_min(const struct step *s)
{
	return s->rep == REP_NONE ? 1 : s->min;
}

/* INT_MAX: no maximum */
static int step_max(const struct step *s)
{
	if (s->rep == REP_NONE)
		return 1;
	if (s->rep == REP_MIN)
		return INT_MAX;
	return s->max;
}

static int strict_of(const struct rule *r)
{
	return r->contiguity == OPT_SECOND;
}

static int no_skip_of(const struct rule *r)
{
	return r->after_match == OPT_SECOND;
}

/* ---- rules as YAML ---- */

static void cond_text(struct sbuf *b, const struct cond *c)
{
	int parts = 0;

	if (c->type) {
		sb_printf(b, "type == \"%c\"", c->type);
		parts++;
	}
	if (c->has_vgt) {
		sb_printf(b, "%sv > %d", parts ? " && " : "", c->vgt);
		parts++;
	}
	if (c->ref) {
		static const char *const fmt[N_AGG] = {
			"p%d.v", "count(p%d)", "sum(p%d.v)", "avg(p%d.v)", "min(p%d.v)",
			"max(p%d.v)", "distinct(p%d.v)", "first(p%d).v", "last(p%d).v",
		};
		char rhs[32];

		snprintf(rhs, sizeof rhs, fmt[c->agg], c->ref);
		sb_printf(b, "%sv %s %s", parts ? " && " : "", op_text[c->op], rhs);
		parts++;
	}
	if (c->tref) {
		sb_printf(b, "%stime() - time(p%d) <= %d", parts ? " && " : "", c->tref, c->tk);
		parts++;
	}
	if (!parts)
		sb_printf(b, "true");
}

static void rules_yaml(struct sbuf *b, const struct rule *rules, int n_rules)
{
	int i, j;

	sb_printf(b, "rules:\n");
	for (i = 0; i < n_rules; i++) {
		const struct rule *r = &rules[i];

		sb_printf(b, "  - id: r%d\n    key: k\n    within: %ds\n", i, r->within);
		if (r->contiguity)
			sb_printf(b, "    contiguity: %s\n",
				  r->contiguity == OPT_SECOND ? "strict" : "relaxed");
		if (r->after_match)
			sb_printf(b, "    after_match: %s\n",
				  r->after_match == OPT_SECOND ? "no_skip" : "skip_past_last");
		if (r->suppress)
			sb_printf(b, "    suppress: %ds\n", r->suppress);
		sb_printf(b, "    sequence:\n");
		for (j = 0; j < r->n_steps; j++) {
			const struct step *s = &r->steps[j];

			if (s->is_not)
				sb_printf(b, "      - not: true\n        where: ");
			else if (s->has_as)
				sb_printf(b, "      - as: p%d\n        where: ", j + 1);
			else
				sb_printf(b, "      - where: ");
			cond_text(b, &s->cond);
			sb_printf(b, "\n");
			if (s->rep == REP_EXACT)
				sb_printf(b, "        repeat: %d\n", s->min);
			else if (s->rep == REP_MIN)
				sb_printf(b, "        repeat: {min: %d}\n", s->min);
			else if (s->rep == REP_MINMAX)
				sb_printf(b, "        repeat: {min: %d, max: %d}\n", s->min, s->max);
		}
	}
}

/* ---- the reference evaluator ---- */

enum { RUN_ACTIVE, RUN_PENDING, RUN_COMPLETE, RUN_DEAD };

struct ref_run {
	int rule;
	int key;
	int pos;       /* position (0-based, in the step list) of the current real step */
	int c;         /* events taken by that step */
	int start;     /* index of the first event */
	int state;
	int n_bound;
	int bound_ev[MAX_EV];  /* event indexes, in the order bound */
	int bound_pos[MAX_EV]; /* the step position each was bound to */
};

struct ref {
	const struct rule *rules;
	int n_rules;
	const struct ev *evs;
	struct ref_run *runs; /* every run ever started, in start order */
	int n_runs, cap_runs;
	/* suppress: the time of the last alert written, per rule and key */
	int has_written[MAX_RULES][MAX_KEYS];
	long last_written[MAX_RULES][MAX_KEYS];
	struct sbuf *out;
};

/* Position of the first real step after pos, or -1 when pos is the last real step. */
static int next_real(const struct rule *r, int pos)
{
	int j;

	for (j = pos + 1; j < r->n_steps; j++)
		if (!r->steps[j].is_not)
			return j;
	return -1;
}

/* The event bound to the single step at position pos. */
static int bound_single(const struct ref_run *run, int pos)
{
	int i;

	for (i = 0; i < run->n_bound; i++)
		if (run->bound_pos[i] == pos)
			return run->bound_ev[i];
	ck_abort_msg("reference: step %d read before it was bound", pos + 1);
	return -1;
}

/* The value an aggregate reads from the events the run bound to step pos, by a rescan;
 * 0 when it is unknown. */
static int agg_value(int agg, const struct ref_run *run, int pos, const struct ev *evs,
		     double *out)
{
	int i, n = 0, n_v = 0, seen[10] = { 0 }, distinct = 0, first = -1, last = -1;
	double sum = 0, mn = 0, mx = 0;

	for (i = 0; i < run->n_bound; i++) {
		const struct ev *o = &evs[run->bound_ev[i]];

		if (run->bound_pos[i] != pos)
			continue;
		n++;
		if (first < 0)
			first = run->bound_ev[i];
		last = run->bound_ev[i];
		if (o->no_v)
			continue;
		if (!n_v || o->v < mn)
			mn = o->v;
		if (!n_v || o->v > mx)
			mx = o->v;
		n_v++;
		sum += o->v;
		if (!seen[o->v]) {
			seen[o->v] = 1;
			distinct++;
		}
	}
	ck_assert_int_ge(n, 1);
	switch (agg) {
	case AGG_COUNT:
		*out = n;
		return 1;
	case AGG_SUM:
		*out = sum;
		return 1;
	case AGG_AVG:
		*out = n_v ? sum / n_v : 0;
		return n_v > 0;
	case AGG_MIN:
		*out = mn;
		return n_v > 0;
	case AGG_MAX:
		*out = mx;
		return n_v > 0;
	case AGG_DISTINCT:
		*out = distinct;
		return 1;
	case AGG_FIRST:
		*out = evs[first].v;
		return !evs[first].no_v;
	default: /* AGG_LAST */
		*out = evs[last].v;
		return !evs[last].no_v;
	}
}

static int cond_match(const struct cond *c, const struct ev *evs, int e, const struct ref_run *run)
{
	const struct ev *x = &evs[e];

	if (c->type && x->type != c->type)
		return 0;
	if (c->has_vgt && (x->no_v || !(x->v > c->vgt)))
		return 0;
	if (c->ref) {
		double other;
		int known;

		ck_assert_ptr_nonnull(run);
		if (c->agg == AGG_NONE) {
			const struct ev *o = &evs[bound_single(run, c->ref - 1)];

			other = o->v;
			known = !o->no_v;
		} else {
			known = agg_value(c->agg, run, c->ref - 1, evs, &other);
		}
		if (x->no_v || !known)
			return 0; /* unknown: does not hold */
		switch (c->op) {
		case OP_GT:
			if (!(x->v > other))
				return 0;
			break;
		case OP_LT:
			if (!(x->v < other))
				return 0;
			break;
		case OP_EQ:
			if (!(x->v == other))
				return 0;
			break;
		default:
			if (!(x->v != other))
				return 0;
			break;
		}
	}
	if (c->tref) {
		ck_assert_ptr_nonnull(run);
		if (!(x->t - evs[bound_single(run, c->tref - 1)].t <= c->tk))
			return 0;
	}
	return 1;
}

/* Does event e match a `not` step after the real step at pos: one guarding the next real step,
 * or, when pos is the last real step, a trailing one? */
static int not_match(const struct rule *r, int pos, const struct ev *evs, int e,
		     const struct ref_run *run)
{
	int j;

	for (j = pos + 1; j < r->n_steps && r->steps[j].is_not; j++)
		if (cond_match(&r->steps[j].cond, evs, e, run))
			return 1;
	return 0;
}

static int has_trailing_not(const struct rule *r)
{
	return r->steps[r->n_steps - 1].is_not;
}

static void bind(struct ref_run *run, int pos, int e)
{
	ck_assert_int_lt(run->n_bound, MAX_EV);
	run->bound_ev[run->n_bound] = e;
	run->bound_pos[run->n_bound] = pos;
	run->n_bound++;
}

/* The run reached min on its last real step: complete, or pending with a trailing not. */
static void reached_min(const struct rule *r, struct ref_run *run)
{
	run->state = has_trailing_not(r) ? RUN_PENDING : RUN_COMPLETE;
}

static long run_deadline(const struct ref *rf, const struct ref_run *run)
{
	return rf->evs[run->start].t + rf->rules[run->rule].within;
}

/* Writes the alert of a fired run, unless suppress drops it. */
static void ref_alert(struct ref *rf, const struct ref_run *run, long ts)
{
	const struct rule *r = &rf->rules[run->rule];
	int j, i, first = 1;

	if (r->suppress && rf->has_written[run->rule][run->key] &&
	    ts - rf->last_written[run->rule][run->key] <= r->suppress)
		return; /* dropped; it still counts as fired */
	rf->has_written[run->rule][run->key] = 1;
	rf->last_written[run->rule][run->key] = ts;

	sb_printf(rf->out, "{\"rule\":\"r%d\",\"ts\":%ld,\"key\":\"k%d\",\"start\":%ld,\"events\":{",
		  run->rule, ts, run->key, rf->evs[run->start].t);
	for (j = 0; j < r->n_steps; j++) {
		const struct step *s = &r->steps[j];
		int n = 0;

		if (s->is_not)
			continue;
		if (!first)
			sb_printf(rf->out, ",");
		first = 0;
		if (s->has_as)
			sb_printf(rf->out, "\"p%d\":", j + 1);
		else
			sb_printf(rf->out, "\"step%d\":", j + 1);
		if (s->rep != REP_NONE)
			sb_printf(rf->out, "[");
		for (i = 0; i < run->n_bound; i++) {
			const char *line;

			if (run->bound_pos[i] != j)
				continue;
			line = rf->evs[run->bound_ev[i]].line;
			if (n++)
				sb_printf(rf->out, ",");
			sb_add(rf->out, line, strlen(line));
		}
		ck_assert_int_ge(n, 1);
		if (s->rep == REP_NONE)
			ck_assert_int_eq(n, 1);
		if (s->rep != REP_NONE)
			sb_printf(rf->out, "]");
	}
	sb_printf(rf->out, "}}\n");
}

static int is_live(const struct ref_run *run)
{
	return run->state == RUN_ACTIVE || run->state == RUN_PENDING || run->state == RUN_COMPLETE;
}

/* Fires the pending runs whose deadline is before limit (LONG_MAX: all of them, end of input),
 * one at a time, in deadline order, then rule order, then start order. */
static void ref_deadlines(struct ref *rf, long limit)
{
	for (;;) {
		struct ref_run *best = NULL;
		int i, last = -1;

		for (i = 0; i < rf->n_runs; i++) {
			struct ref_run *run = &rf->runs[i];
			long d;

			if (run->state != RUN_PENDING)
				continue;
			d = run_deadline(rf, run);
			if (limit != LONG_MAX && !(d < limit))
				continue;
			if (!best || d < run_deadline(rf, best) ||
			    (d == run_deadline(rf, best) &&
			     (run->rule < best->rule ||
			      (run->rule == best->rule && run->start < best->start))))
				best = run;
		}
		if (!best)
			return;
		ref_alert(rf, best, run_deadline(rf, best));
		best->state = RUN_DEAD;
		if (no_skip_of(&rf->rules[best->rule]))
			continue;
		/* skip_past_last: discard the runs of its rule and key that started at or before
		 * the last event it bound */
		for (i = 0; i < best->n_bound; i++)
			if (best->bound_ev[i] > last)
				last = best->bound_ev[i];
		for (i = 0; i < rf->n_runs; i++) {
			struct ref_run *run = &rf->runs[i];

			if (is_live(run) && run->rule == best->rule && run->key == best->key &&
			    run->start <= last)
				run->state = RUN_DEAD;
		}
	}
}

/* Steps 1 to 4 of docs/semantics.md "Runs" for event e and rule ri. */
static void ref_rule_event(struct ref *rf, int ri, int e)
{
	const struct rule *r = &rf->rules[ri];
	const struct ev *E = &rf->evs[e];
	int i, n_before = rf->n_runs;

	/* 1. drop the runs whose first event is more than within before E */
	for (i = 0; i < n_before; i++) {
		struct ref_run *run = &rf->runs[i];

		if (run->rule != ri || run->key != E->k || !is_live(run))
			continue;
		if (E->t - rf->evs[run->start].t > r->within)
			run->state = RUN_DEAD;
	}

	/* 2. each run, in start order, takes at most one transition */
	for (i = 0; i < n_before; i++) {
		struct ref_run *run = &rf->runs[i];
		const struct step *s;
		int nx;

		if (run->rule != ri || run->key != E->k)
			continue;
		if (run->state != RUN_ACTIVE && run->state != RUN_PENDING)
			continue;
		s = &r->steps[run->pos];
		nx = next_real(r, run->pos);
		if (run->c < step_max(s) && cond_match(&s->cond, rf->evs, e, run)) {
			/* a. taken by the repeated step */
			bind(run, run->pos, e);
			run->c++;
			if (nx < 0 && run->state == RUN_ACTIVE && run->c == step_min(s))
				reached_min(r, run);
		} else if (run->c >= step_min(s) && nx >= 0 &&
			   cond_match(&r->steps[nx].cond, rf->evs, e, run)) {
			/* b. advances to the next real step */
			run->pos = nx;
			run->c = 1;
			bind(run, nx, e);
			if (next_real(r, nx) < 0 && step_min(&r->steps[nx]) == 1)
				reached_min(r, run);
		} else if (run->c >= step_min(s) && not_match(r, run->pos, rf->evs, e, run)) {
			/* c. a not step matched */
			run->state = RUN_DEAD;
		} else if (strict_of(r) && run->state != RUN_PENDING) {
			/* d. strict contiguity */
			run->state = RUN_DEAD;
		}
	}

	/* 3. E starts a new run when it matches the first step */
	if (cond_match(&r->steps[0].cond, rf->evs, e, NULL)) {
		struct ref_run *run;

		ck_assert_int_lt(rf->n_runs, rf->cap_runs);
		run = &rf->runs[rf->n_runs++];
		memset(run, 0, sizeof *run);
		run->rule = ri;
		run->key = E->k;
		run->pos = 0;
		run->c = 1;
		run->start = e;
		run->state = RUN_ACTIVE;
		bind(run, 0, e);
		if (next_real(r, 0) < 0 && step_min(&r->steps[0]) == 1)
			reached_min(r, run);
	}

	/* 4. the runs completed by E fire in start order */
	for (i = 0; i < rf->n_runs; i++) {
		struct ref_run *run = &rf->runs[i];
		int j;

		if (run->rule != ri || run->key != E->k || run->state != RUN_COMPLETE)
			continue;
		ref_alert(rf, run, E->t);
		run->state = RUN_DEAD;
		if (no_skip_of(r))
			continue;
		for (j = 0; j < rf->n_runs; j++)
			if (rf->runs[j].rule == ri && rf->runs[j].key == E->k)
				rf->runs[j].state = RUN_DEAD;
		break;
	}
}

static void reference(const struct rule *rules, int n_rules, const struct ev *evs, int n_evs,
		      struct sbuf *out)
{
	struct ref rf;
	int e, ri;

	memset(&rf, 0, sizeof rf);
	rf.rules = rules;
	rf.n_rules = n_rules;
	rf.evs = evs;
	rf.out = out;
	rf.cap_runs = n_evs * n_rules + 1;
	rf.runs = calloc((size_t)rf.cap_runs, sizeof *rf.runs);
	ck_assert_ptr_nonnull(rf.runs);
	for (e = 0; e < n_evs; e++) {
		/* the deadlines the watermark passes, before the event */
		ref_deadlines(&rf, evs[e].t);
		if (evs[e].k < 0)
			continue; /* no key: takes part in no rule */
		for (ri = 0; ri < n_rules; ri++)
			ref_rule_event(&rf, ri, e);
	}
	ref_deadlines(&rf, LONG_MAX);
	free(rf.runs);
}

/* ---- the engine ---- */

static void capture(void *ctx, const char *line, size_t len, int is_alert)
{
	(void)is_alert;
	sb_add(ctx, line, len);
}

/* Runs the engine; returns 0, or -1 when the rules do not load (the errors in out). */
static int engine(const char *yaml, const struct ev *evs, int n_evs, struct sbuf *out)
{
	char *errtext = NULL;
	size_t errlen = 0;
	FILE *err = open_memstream(&errtext, &errlen);
	struct dg_sink sink = { err, 0, 0 };
	struct tl_engine_opts o = { .emit = capture, .ctx = out };
	struct rl_ruleset *rs;
	struct tl_engine *en;
	char reason[256];
	int i;

	rs = rl_load_mem("seq.yaml", yaml, strlen(yaml), &sink);
	fclose(err);
	if (!rs) {
		sb_add(out, errtext, errlen);
		free(errtext);
		return -1;
	}
	free(errtext);
	en = tl_engine_new(rs, &o);
	ck_assert_ptr_nonnull(en);
	for (i = 0; i < n_evs; i++)
		ck_assert_int_eq(tl_engine_feed(en, evs[i].line, strlen(evs[i].line), reason,
						sizeof reason),
				 TL_FEED_OK);
	tl_engine_finish(en);
	tl_engine_free(en);
	rl_free(rs);
	return 0;
}

static void stream_text(struct sbuf *b, const struct ev *evs, int n_evs)
{
	int i;

	for (i = 0; i < n_evs; i++)
		sb_printf(b, "%s\n", evs[i].line);
}

/* Runs both; 1 when they agree. want and got receive the outputs. */
static int compare(const struct rule *rules, int n_rules, const struct ev *evs, int n_evs,
		   struct sbuf *want, struct sbuf *got, int *load_failed)
{
	struct sbuf yaml = { 0 };
	int rc;

	rules_yaml(&yaml, rules, n_rules);
	reference(rules, n_rules, evs, n_evs, want);
	rc = engine(sb_str(&yaml), evs, n_evs, got);
	sb_free(&yaml);
	*load_failed = rc < 0;
	return rc == 0 && strcmp(sb_str(want), sb_str(got)) == 0;
}

/* ---- hand-worked scenarios ---- */

#define C(t) { .type = (t) }
#define STEP(t) { .cond = C(t) }
#define NOT(t) { .is_not = 1, .cond = C(t) }

struct sev {
	long t;
	int k;
	char type;
	int v;     /* -1: no v field */
};

/* Expands the compact notation of an expected output: one alert per line,
 * "RULE TS KEY START NAME=I NAME=[I,I,...] ..." (I: index of an input event). */
static void expand(struct sbuf *b, const char *spec, const struct ev *evs)
{
	const char *p = spec;

	while (*p) {
		int rule, key, n, first = 1;
		long ts, start;

		ck_assert_int_eq(sscanf(p, "r%d %ld k%d %ld%n", &rule, &ts, &key, &start, &n), 4);
		p += n;
		sb_printf(b, "{\"rule\":\"r%d\",\"ts\":%ld,\"key\":\"k%d\",\"start\":%ld,\"events\":{",
			  rule, ts, key, start);
		while (*p == ' ') {
			const char *eq;

			p++;
			eq = strchr(p, '=');
			ck_assert_ptr_nonnull(eq);
			sb_printf(b, "%s\"%.*s\":", first ? "" : ",", (int)(eq - p), p);
			first = 0;
			p = eq + 1;
			if (*p == '[') {
				int m = 0;

				sb_printf(b, "[");
				p++;
				while (*p != ']') {
					int idx = (int)strtol(p, (char **)&p, 10);

					sb_printf(b, "%s%s", m++ ? "," : "", evs[idx].line);
					if (*p == ',')
						p++;
				}
				p++;
				sb_printf(b, "]");
			} else {
				int idx = (int)strtol(p, (char **)&p, 10);

				sb_printf(b, "%s", evs[idx].line);
			}
		}
		sb_printf(b, "}}\n");
		if (*p == '\n')
			p++;
	}
}

static void scenario(const struct rule *rules, int n_rules, const struct sev *sevs, int n_evs,
		     const char *spec)
{
	struct ev evs[MAX_EV];
	struct sbuf want = { 0 }, ref_out = { 0 }, got = { 0 }, yaml = { 0 };
	int i;

	for (i = 0; i < n_evs; i++) {
		evs[i].t = sevs[i].t;
		evs[i].k = sevs[i].k;
		evs[i].type = sevs[i].type;
		evs[i].v = sevs[i].v < 0 ? 0 : sevs[i].v;
		evs[i].no_v = sevs[i].v < 0;
		ev_line(&evs[i]);
	}
	expand(&want, spec, evs);
	rules_yaml(&yaml, rules, n_rules);
	reference(rules, n_rules, evs, n_evs, &ref_out);
	ck_assert_msg(strcmp(sb_str(&want), sb_str(&ref_out)) == 0,
		      "the reference is wrong:\nwant:\n%sgot:\n%s", sb_str(&want), sb_str(&ref_out));
	ck_assert_msg(engine(sb_str(&yaml), evs, n_evs, &got) == 0, "rules do not load:\n%s\n%s",
		      sb_str(&yaml), sb_str(&got));
	ck_assert_msg(strcmp(sb_str(&want), sb_str(&got)) == 0,
		      "engine:\n%swant:\n%sgot:\n%s", sb_str(&yaml), sb_str(&want), sb_str(&got));
	sb_free(&want);
	sb_free(&ref_out);
	sb_free(&got);
	sb_free(&yaml);
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The literal alert shape, written out in full once. */
START_TEST(alert_shape)
{
	static const struct rule rules[] = { {
		.within = 10,
		.n_steps = 3,
		.steps = { { .has_as = 1, .cond = C('a'), .rep = REP_MIN, .min = 2 },
			   NOT('d'),
			   STEP('b') },
	} };
	struct ev evs[4] = {
		{ 0, 1, 'a', 1, 0, "" }, { 1, 1, 'a', 2, 0, "" }, { 1, 1, 'c', 3, 0, "" },
		{ 3, 1, 'b', 4, 0, "" },
	};
	struct sbuf ref_out = { 0 }, got = { 0 }, yaml = { 0 };
	const char *want =
		"{\"rule\":\"r0\",\"ts\":3,\"key\":\"k1\",\"start\":0,\"events\":{"
		"\"p1\":[{\"ts\":0,\"k\":\"k1\",\"type\":\"a\",\"v\":1},"
		"{\"ts\":1,\"k\":\"k1\",\"type\":\"a\",\"v\":2}],"
		"\"step3\":{\"ts\":3,\"k\":\"k1\",\"type\":\"b\",\"v\":4}}}\n";
	int i;

	for (i = 0; i < 4; i++)
		ev_line(&evs[i]);
	rules_yaml(&yaml, rules, 1);
	ck_assert_str_eq(sb_str(&yaml), "rules:\n"
					"  - id: r0\n"
					"    key: k\n"
					"    within: 10s\n"
					"    sequence:\n"
					"      - as: p1\n"
					"        where: type == \"a\"\n"
					"        repeat: {min: 2}\n"
					"      - not: true\n"
					"        where: type == \"d\"\n"
					"      - where: type == \"b\"\n");
	reference(rules, 1, evs, 4, &ref_out);
	ck_assert_str_eq(sb_str(&ref_out), want);
	ck_assert_msg(engine(sb_str(&yaml), evs, 4, &got) == 0, "rules do not load:\n%s",
		      sb_str(&got));
	ck_assert_str_eq(sb_str(&got), want);
	sb_free(&ref_out);
	sb_free(&got);
	sb_free(&yaml);
}
END_TEST

/* [a, a]: the second a advances the first run and starts another. */
START_TEST(advance_and_start)
{
	static const struct rule skip[] = { { .within = 10, .n_steps = 2,
					      .steps = { STEP('a'), STEP('a') } } };
	static const struct rule no_skip[] = { { .within = 10, .n_steps = 2,
						 .after_match = OPT_SECOND,
						 .steps = { STEP('a'), STEP('a') } } };
	static const struct sev evs[] = {
		{ 0, 1, 'a', 0 }, { 1, 1, 'a', 0 }, { 2, 1, 'a', 0 }, { 3, 1, 'a', 0 },
	};

	/* skip_past_last: the run the second a started is discarded with the match */
	scenario(skip, 1, evs, N(evs),
		 "r0 1 k1 0 step1=0 step2=1\n"
		 "r0 3 k1 2 step1=2 step2=3\n");
	/* no_skip: every a completes the run the previous one started */
	scenario(no_skip, 1, evs, N(evs),
		 "r0 1 k1 0 step1=0 step2=1\n"
		 "r0 2 k1 1 step1=1 step2=2\n"
		 "r0 3 k1 2 step1=2 step2=3\n");
}
END_TEST

/* Ties in time: a match within one instant, and a not at the deadline's own time. */
START_TEST(ties_in_time)
{
	static const struct rule seq[] = { { .within = 5, .n_steps = 2,
					     .steps = { STEP('a'), STEP('b') } } };
	static const struct rule trailing[] = { { .within = 5, .n_steps = 2,
						  .steps = { STEP('a'), NOT('b') } } };
	static const struct sev evs1[] = {
		{ 7, 1, 'a', 0 }, { 7, 1, 'b', 0 }, { 7, 1, 'b', 0 },
	};
	/* deadline 5: the b at 5 kills the first run; the second (deadline 7) fires at the end */
	static const struct sev evs2[] = {
		{ 0, 1, 'a', 0 }, { 2, 1, 'a', 0 }, { 5, 1, 'c', 0 }, { 5, 1, 'b', 0 },
		{ 6, 2, 'c', 0 },
	};
	/* a b at 7 does not save a run whose deadline 5 passed at the event at 6 (other key) */
	static const struct sev evs3[] = {
		{ 0, 1, 'a', 0 }, { 6, 2, 'c', 0 }, { 6, 1, 'b', 0 },
	};

	scenario(seq, 1, evs1, N(evs1), "r0 7 k1 7 step1=0 step2=1\n");
	/* second run (a at 2): killed too by the b at 5 (guarding trailing not) */
	scenario(trailing, 1, evs2, N(evs2), "");
	scenario(trailing, 1, evs3, N(evs3), "r0 5 k1 0 step1=0\n");
}
END_TEST

/* A span exactly equal to within is inside; one more second is out. */
START_TEST(span_equal_to_within)
{
	static const struct rule rules[] = { { .within = 10, .n_steps = 2,
					       .steps = { STEP('a'), STEP('b') } } };
	static const struct sev in[] = { { 0, 1, 'a', 0 }, { 10, 1, 'b', 0 } };
	static const struct sev out[] = { { 0, 1, 'a', 0 }, { 11, 1, 'b', 0 } };

	scenario(rules, 1, in, N(in), "r0 10 k1 0 step1=0 step2=1\n");
	scenario(rules, 1, out, N(out), "");
}
END_TEST

/* A trailing not: fires at end of input, and before the event that passes its deadline. */
START_TEST(trailing_not_deadline)
{
	static const struct rule rules[] = {
		{ .within = 10, .n_steps = 2, .steps = { STEP('a'), NOT('b') } },
		{ .within = 10, .n_steps = 1, .steps = { STEP('c') } },
	};
	static const struct sev end[] = { { 0, 1, 'a', 0 }, { 3, 1, 'd', 0 } };
	/* the deadline 10 passes at 11: its alert comes before r1's alert of the c at 11 */
	static const struct sev before[] = { { 0, 1, 'a', 0 }, { 11, 1, 'c', 0 } };
	/* deadline order across keys, then rule order */
	static const struct sev order[] = { { 0, 2, 'a', 0 }, { 1, 1, 'a', 0 } };

	scenario(rules, 2, end, N(end), "r0 10 k1 0 step1=0\n");
	scenario(rules, 2, before, N(before),
		 "r0 10 k1 0 step1=0\n"
		 "r1 11 k1 11 step1=1\n");
	scenario(rules, 2, order, N(order),
		 "r0 10 k2 0 step1=0\n"
		 "r0 11 k1 1 step1=1\n");
}
END_TEST

/* Strict contiguity: any event of the key that does not advance a run kills it. */
START_TEST(strict_contiguity)
{
	static const struct rule rules[] = { { .within = 10, .n_steps = 2,
					       .contiguity = OPT_SECOND,
					       .steps = { STEP('a'), STEP('b') } } };
	/* the c kills the run; an event of another key does not */
	static const struct sev killed[] = { { 0, 1, 'a', 0 }, { 1, 1, 'c', 0 }, { 2, 1, 'b', 0 } };
	static const struct sev other_key[] = {
		{ 0, 1, 'a', 0 }, { 1, 2, 'c', 0 }, { 2, 1, 'b', 0 },
	};
	/* the second a kills the first run and starts its own */
	static const struct sev restart[] = { { 0, 1, 'a', 0 }, { 1, 1, 'a', 0 }, { 2, 1, 'b', 0 } };

	scenario(rules, 1, killed, N(killed), "");
	scenario(rules, 1, other_key, N(other_key), "r0 2 k1 0 step1=0 step2=2\n");
	scenario(rules, 1, restart, N(restart), "r0 2 k1 1 step1=1 step2=2\n");
}
END_TEST

/* no_skip: one event completes several runs, which fire in start order. */
START_TEST(no_skip_several)
{
	static const struct rule no_skip[] = { { .within = 10, .n_steps = 2,
						 .after_match = OPT_SECOND,
						 .steps = { STEP('a'), STEP('b') } } };
	static const struct rule skip[] = { { .within = 10, .n_steps = 2,
					      .steps = { STEP('a'), STEP('b') } } };
	static const struct sev evs[] = {
		{ 0, 1, 'a', 0 }, { 1, 1, 'a', 0 }, { 1, 1, 'a', 0 }, { 2, 1, 'b', 0 },
		{ 3, 1, 'b', 0 },
	};

	scenario(no_skip, 1, evs, N(evs),
		 "r0 2 k1 0 step1=0 step2=3\n"
		 "r0 2 k1 1 step1=1 step2=3\n"
		 "r0 2 k1 1 step1=2 step2=3\n");
	scenario(skip, 1, evs, N(evs), "r0 2 k1 0 step1=0 step2=3\n");
}
END_TEST

/* Repeats: greedy up to max, exact counts, a repeated last step completing at min. */
START_TEST(repeats)
{
	static const struct rule greedy[] = { {
		.within = 20,
		.n_steps = 2,
		.steps = { { .has_as = 1, .cond = C('a'), .rep = REP_MINMAX, .min = 2, .max = 3 },
			   STEP('b') },
	} };
	static const struct rule exact_last[] = { {
		.within = 20,
		.n_steps = 2,
		.steps = { STEP('b'), { .cond = C('a'), .rep = REP_EXACT, .min = 2, .max = 2 } },
	} };
	/* 4 a: the first run takes 3 (max), ignores the 4th; b completes it */
	static const struct sev evs1[] = {
		{ 0, 1, 'a', 0 }, { 1, 1, 'a', 0 }, { 2, 1, 'a', 0 }, { 3, 1, 'a', 0 },
		{ 4, 1, 'b', 0 },
	};
	/* a single a is below min: b does not advance */
	static const struct sev evs2[] = { { 0, 1, 'a', 0 }, { 1, 1, 'b', 0 } };
	static const struct sev evs3[] = {
		{ 0, 1, 'b', 0 }, { 1, 1, 'a', 0 }, { 2, 1, 'c', 0 }, { 3, 1, 'a', 0 },
		{ 4, 1, 'a', 0 },
	};

	scenario(greedy, 1, evs1, N(evs1), "r0 4 k1 0 p1=[0,1,2] step2=4\n");
	scenario(greedy, 1, evs2, N(evs2), "");
	scenario(exact_last, 1, evs3, N(evs3), "r0 3 k1 0 step1=0 step2=[1,3]\n");
}
END_TEST

/* A pending run keeps taking events into its repeated last step; its deadline alert discards
 * the runs that started at or before the last event it bound. */
START_TEST(pending_repeat)
{
	static const struct rule rules[] = { {
		.within = 5,
		.n_steps = 2,
		.steps = { { .cond = C('a'), .rep = REP_MINMAX, .min = 1, .max = 2 }, NOT('b') },
	} };
	static const struct sev evs[] = {
		{ 0, 1, 'a', 0 }, { 1, 1, 'a', 0 }, { 2, 1, 'a', 0 }, { 4, 1, 'a', 0 },
		{ 9, 2, 'c', 0 },
	};

	/* e0 run: [e0,e1]; e1 run: [e1,e2]; e2 run: [e2,e3]; e3 run: [e3].
	 * At 9: deadline 5 (e0 run) fires, discards runs started at or before e1 (e1 run).
	 * Deadline 7 (e2 run) fires, discards e2 and e3 runs. */
	scenario(rules, 1, evs, N(evs),
		 "r0 5 k1 0 step1=[0,1]\n"
		 "r0 7 k1 2 step1=[2,3]\n");
}
END_TEST

/* Cross-step conditions and a guarding not that reads an alias. */
START_TEST(cross_step)
{
	static const struct rule rules[] = { {
		.within = 10,
		.n_steps = 3,
		.steps = { { .has_as = 1, .cond = C('a') },
			   { .is_not = 1, .cond = { .type = 'c', .ref = 1, .op = OP_EQ } },
			   { .cond = { .type = 'b', .ref = 1, .op = OP_GT } } },
	} };
	/* run e0 (v 5): b v 3 does not advance; c v 4 is no kill (v != 5); b v 6 completes */
	static const struct sev evs1[] = {
		{ 0, 1, 'a', 5 }, { 1, 1, 'b', 3 }, { 2, 1, 'c', 4 }, { 3, 1, 'b', 6 },
	};
	/* c v 5 kills run e0; run e2 (a v 1) then completes with b v 6 */
	static const struct sev evs2[] = {
		{ 0, 1, 'a', 5 }, { 1, 1, 'c', 5 }, { 2, 1, 'a', 1 }, { 3, 1, 'b', 6 },
	};

	scenario(rules, 1, evs1, N(evs1), "r0 3 k1 0 p1=0 step3=3\n");
	scenario(rules, 1, evs2, N(evs2), "r0 3 k1 2 p1=2 step3=3\n");
}
END_TEST

/* Aggregates of a repeated step, over the events the run bound; a missing v is skipped. */
START_TEST(aggregates_of_repeat)
{
	static const struct rule max_rule[] = { {
		.within = 10,
		.n_steps = 2,
		.steps = { { .has_as = 1, .cond = C('a'), .rep = REP_MIN, .min = 2 },
			   { .cond = { .type = 'b', .ref = 1, .op = OP_GT, .agg = AGG_MAX } } },
	} };
	static const struct rule avg_rule[] = { {
		.within = 10,
		.n_steps = 2,
		.steps = { { .has_as = 1, .cond = C('a'), .rep = REP_MIN, .min = 2 },
			   { .cond = { .type = 'b', .ref = 1, .op = OP_LT, .agg = AGG_AVG } } },
	} };
	/* b v 5 is not above max 7; b v 8 is */
	static const struct sev evs1[] = {
		{ 0, 1, 'a', 3 }, { 1, 1, 'a', 7 }, { 2, 1, 'b', 5 }, { 3, 1, 'b', 8 },
	};
	/* avg of the v present is 2 (not 1): b v 1 is below it */
	static const struct sev evs2[] = {
		{ 0, 1, 'a', -1 }, { 1, 1, 'a', 2 }, { 2, 1, 'b', 1 },
	};

	scenario(max_rule, 1, evs1, N(evs1), "r0 3 k1 0 p1=[0,1] step2=3\n");
	scenario(avg_rule, 1, evs2, N(evs2), "r0 2 k1 0 p1=[0,1] step2=2\n");
}
END_TEST

/* A not step that reads an alias. Found by the random test in a build of the engine that
 * skipped events matching no step without looking at not steps whose condition reads the
 * run: the guard was ignored and the run fired. */
START_TEST(not_reads_alias)
{
	static const struct rule guard[] = { {
		.within = 13,
		.n_steps = 3,
		.steps = { { .has_as = 1, .cond = { .type = 'a', .has_vgt = 1, .vgt = 4 } },
			   { .is_not = 1, .cond = { .type = 'd', .ref = 1, .op = OP_LT } },
			   { .has_as = 1, .cond = C('b') } },
	} };
	static const struct rule trailing[] = { {
		.within = 13,
		.n_steps = 2,
		.steps = { { .has_as = 1, .cond = C('a') },
			   { .is_not = 1, .cond = { .type = 'd', .ref = 1, .op = OP_LT } } },
	} };
	/* d v 4 < p1.v 5: the run is killed */
	static const struct sev killed[] = {
		{ 117, 0, 'a', 5 }, { 120, 0, 'd', 4 }, { 126, 0, 'b', 6 },
	};
	/* d v 6 is not below 5: no kill */
	static const struct sev kept[] = {
		{ 117, 0, 'a', 5 }, { 120, 0, 'd', 6 }, { 126, 0, 'b', 6 },
	};

	scenario(guard, 1, kept, N(kept), "r0 126 k0 117 p1=0 p3=2\n");
	scenario(guard, 1, killed, N(killed), "");
	scenario(trailing, 1, kept, N(kept), "r0 130 k0 117 p1=0\n");
	scenario(trailing, 1, killed, N(killed), "");
}
END_TEST

/* Suppress: a dropped alert does not restart the period, and still discards runs. */
START_TEST(suppress_discards)
{
	static const struct rule rules[] = { { .within = 10, .suppress = 5, .n_steps = 2,
					       .steps = { STEP('a'), STEP('b') } } };
	/* written at 1; at 4 the run of the a at 2 fires, is dropped (3 after 1) and still
	 * discards the run of the a at 3, so the b at 6 completes nothing; the match at 8 is
	 * 7 after the alert written at 1, and the dropped one at 4 did not restart the
	 * period: written */
	static const struct sev evs[] = {
		{ 0, 1, 'a', 0 }, { 1, 1, 'b', 0 }, { 2, 1, 'a', 0 }, { 3, 1, 'a', 0 },
		{ 4, 1, 'b', 0 }, { 6, 1, 'b', 0 }, { 7, 1, 'a', 0 }, { 8, 1, 'b', 0 },
	};

	scenario(rules, 1, evs, N(evs),
		 "r0 1 k1 0 step1=0 step2=1\n"
		 "r0 8 k1 7 step1=6 step2=7\n");
}
END_TEST

/* ---- the random part ---- */

static int rnd(unsigned *seed, int n)
{
	return (int)(rand_r(seed) % (unsigned)n);
}

static void random_cond(unsigned *seed, const struct rule *r, int pos, struct cond *c)
{
	int refs[MAX_STEPS], n_refs = 0, j;

	memset(c, 0, sizeof *c);
	if (rnd(seed, 10) != 0)
		c->type = (char)('a' + rnd(seed, 4));
	if (rnd(seed, 4) == 0) {
		c->has_vgt = 1;
		c->vgt = rnd(seed, 9);
	}
	/* earlier real steps with an alias: v of a single one, an aggregate of a repeated one */
	for (j = 0; j < pos; j++)
		if (!r->steps[j].is_not && r->steps[j].has_as)
			refs[n_refs++] = j;
	if (n_refs && rnd(seed, 3) == 0) {
		j = refs[rnd(seed, n_refs)];
		c->ref = j + 1;
		c->op = rnd(seed, 4);
		c->agg = r->steps[j].rep == REP_NONE ? AGG_NONE : 1 + rnd(seed, N_AGG - 1);
	}
	/* the time since an earlier single step */
	for (j = n_refs = 0; j < pos; j++)
		if (!r->steps[j].is_not && r->steps[j].has_as && r->steps[j].rep == REP_NONE)
			refs[n_refs++] = j;
	if (n_refs && rnd(seed, 8) == 0) {
		c->tref = refs[rnd(seed, n_refs)] + 1;
		c->tk = rnd(seed, 10);
	}
	if (!c->type && !c->has_vgt && !c->ref && !c->tref)
		c->type = (char)('a' + rnd(seed, 4));
}

static void random_rule(unsigned *seed, struct rule *r)
{
	int j;

	memset(r, 0, sizeof *r);
	r->within = 3 + rnd(seed, 28);
	r->contiguity = rnd(seed, 5) == 0 ? OPT_SECOND : rnd(seed, 4) == 0 ? OPT_FIRST : OPT_DEFAULT;
	r->after_match = rnd(seed, 3) == 0 ? OPT_SECOND : rnd(seed, 4) == 0 ? OPT_FIRST
									  : OPT_DEFAULT;
	r->suppress = rnd(seed, 6) == 0 ? 1 + rnd(seed, 20) : 0;
	r->n_steps = 1 + rnd(seed, MAX_STEPS);
	for (j = 0; j < r->n_steps; j++) {
		struct step *s = &r->steps[j];

		s->is_not = j > 0 && rnd(seed, 4) == 0;
		if (!s->is_not) {
			int k = rnd(seed, 20);

			s->has_as = rnd(seed, 2);
			if (k < 12) {
				s->rep = REP_NONE;
			} else if (k < 15) {
				s->rep = REP_EXACT;
				s->min = s->max = 2 + rnd(seed, 2);
			} else if (k < 18) {
				s->rep = REP_MIN;
				s->min = 1 + rnd(seed, 3);
			} else {
				s->rep = REP_MINMAX;
				s->min = 1 + rnd(seed, 2);
				s->max = 2 + rnd(seed, 2);
				if (s->max < s->min)
					s->max = s->min;
			}
		}
		random_cond(seed, r, j, &s->cond);
	}
}

static int random_stream(unsigned *seed, struct ev *evs)
{
	int n = 20 + rnd(seed, 181), n_keys = 1 + rnd(seed, MAX_KEYS), i;
	long t = rnd(seed, 100);

	for (i = 0; i < n; i++) {
		/* ties are common; now and then a gap that outlives runs and keys */
		t += rnd(seed, 40) == 0 ? 10 + rnd(seed, 50) : rnd(seed, 4);
		evs[i].t = t;
		evs[i].k = rnd(seed, 25) == 0 ? -1 : rnd(seed, n_keys);
		evs[i].type = (char)('a' + rnd(seed, 4));
		evs[i].v = rnd(seed, 10);
		evs[i].no_v = rnd(seed, 12) == 0;
		ev_line(&evs[i]);
	}
	return n;
}

/* Shrinks a failing case: drops rules, then events, one at a time, while it still fails. */
static void shrink(struct rule *rules, int *n_rules, struct ev *evs, int *n_evs)
{
	int changed = 1;

	while (changed) {
		int i;

		changed = 0;
		for (i = 0; *n_rules > 1 && i < *n_rules; i++) {
			struct rule save[MAX_RULES];
			struct sbuf w = { 0 }, g = { 0 };
			int lf, ok;

			memcpy(save, rules, sizeof save);
			memmove(&rules[i], &rules[i + 1], (size_t)(*n_rules - i - 1) * sizeof *rules);
			ok = compare(rules, *n_rules - 1, evs, *n_evs, &w, &g, &lf);
			sb_free(&w);
			sb_free(&g);
			if (!ok && !lf) {
				(*n_rules)--;
				changed = 1;
				i--;
			} else {
				memcpy(rules, save, sizeof save);
			}
		}
		for (i = *n_evs - 1; i >= 0; i--) {
			struct ev save = evs[i];
			struct sbuf w = { 0 }, g = { 0 };
			int lf, ok;

			memmove(&evs[i], &evs[i + 1], (size_t)(*n_evs - i - 1) * sizeof *evs);
			ok = compare(rules, *n_rules, evs, *n_evs - 1, &w, &g, &lf);
			sb_free(&w);
			sb_free(&g);
			if (!ok) {
				(*n_evs)--;
				changed = 1;
			} else {
				memmove(&evs[i + 1], &evs[i], (size_t)(*n_evs - i - 1) * sizeof *evs);
				evs[i] = save;
			}
		}
	}
}

static unsigned env_uint(const char *name, unsigned dflt)
{
	const char *s = getenv(name);

	return s && *s ? (unsigned)strtoul(s, NULL, 0) : dflt;
}

static void dump_case(const struct rule *rules, int n_rules, const struct ev *evs, int n_evs)
{
	const char *path = getenv("TL_SEQ_DUMP");
	struct sbuf b = { 0 };
	FILE *f;

	if (!path || !*path)
		return;
	rules_yaml(&b, rules, n_rules);
	sb_printf(&b, "---\n");
	stream_text(&b, evs, n_evs);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(sb_str(&b), f);
	fclose(f);
	sb_free(&b);
}

START_TEST(random_differential)
{
	unsigned seed = env_uint("TL_SEQ_SEED", 20240611u);
	int trials = (int)env_uint("TL_SEQ_TRIALS", 2500), trial;
	long alerts = 0;

	for (trial = 0; trial < trials; trial++) {
		struct rule rules[MAX_RULES];
		struct ev evs[MAX_EV];
		struct sbuf want = { 0 }, got = { 0 };
		int n_rules = 1 + rnd(&seed, MAX_RULES), n_evs, i, lf;
		unsigned trial_seed = seed;

		for (i = 0; i < n_rules; i++)
			random_rule(&seed, &rules[i]);
		n_evs = random_stream(&seed, evs);
		dump_case(rules, n_rules, evs, n_evs);
		if (!compare(rules, n_rules, evs, n_evs, &want, &got, &lf)) {
			struct sbuf yaml = { 0 }, stream = { 0 };

			if (!lf) {
				sb_free(&want);
				sb_free(&got);
				shrink(rules, &n_rules, evs, &n_evs);
				compare(rules, n_rules, evs, n_evs, &want, &got, &lf);
			}
			rules_yaml(&yaml, rules, n_rules);
			stream_text(&stream, evs, n_evs);
			ck_abort_msg("trial %d (seed state %u)%s\n--- rules:\n%s--- stream:\n%s"
				     "--- expected:\n%s--- actual:\n%s",
				     trial, trial_seed, lf ? ": rules do not load" : ", shrunk",
				     sb_str(&yaml), sb_str(&stream), sb_str(&want), sb_str(&got));
		}
		for (i = 0; want.s && want.s[i]; i++)
			alerts += want.s[i] == '\n';
		sb_free(&want);
		sb_free(&got);
	}
	/* the family must produce alerts, or the test would prove little */
	ck_assert_int_gt(alerts, trials);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("seq_diff");
	TCase *tc = tcase_create("seq_diff");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, alert_shape);
	tcase_add_test(tc, advance_and_start);
	tcase_add_test(tc, ties_in_time);
	tcase_add_test(tc, span_equal_to_within);
	tcase_add_test(tc, trailing_not_deadline);
	tcase_add_test(tc, strict_contiguity);
	tcase_add_test(tc, no_skip_several);
	tcase_add_test(tc, repeats);
	tcase_add_test(tc, pending_repeat);
	tcase_add_test(tc, cross_step);
	tcase_add_test(tc, aggregates_of_repeat);
	tcase_add_test(tc, not_reads_alias);
	tcase_add_test(tc, suppress_discards);
	tcase_add_test(tc, random_differential);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
