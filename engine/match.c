/* match.c - runs of sequence rules: bindings and per-run aggregates. */
#include "match.h"

#include <math.h>
#include <string.h>

#include "agg.h"
#include "alloc.h"

/* The arrays after a run (values, their bytes, accumulators, counts) need no padding: each
 * size is a multiple of the next one's alignment. */
_Static_assert(sizeof(struct mt_run) % 8 == 0 && sizeof(struct tl_value) % 8 == 0 &&
		       MT_READ_INLINE % 8 == 0 && sizeof(struct mt_acc) % 4 == 0,
	       "a run's arrays are aligned without padding");

size_t mt_run_size(const struct rl_rule *r)
{
	return mt_taken_offset(r) + r->n_steps * sizeof(uint32_t);
}

struct mt_run *mt_run_new(struct pool *pool, const struct rl_rule *r, uint32_t rule)
{
	struct mt_run *run = pool_calloc(pool, mt_run_size(r)); /* values TL_MISSING */
	struct mt_acc *acc;
	size_t i;

	if (!run)
		return NULL;
	run->rule = rule;
	run->heap_idx = -1;
	acc = mt_acc(r, run);
	for (i = 0; i < r->n_run_aggs; i++) {
		if (r->run_aggs[i].kind == RL_AGG_MIN)
			acc[i].m = INFINITY;
		else if (r->run_aggs[i].kind == RL_AGG_MAX)
			acc[i].m = -INFINITY;
	}
	return run;
}

/* Out of line, as are the other rare paths of mt_bind, whose common case (a number or nothing
 * to keep, room in the array) is a few instructions per run. */
__attribute__((noinline)) static int acc_distinct(struct pool *pool, struct mt_acc *a,
						  const struct tl_value *v)
{
	char tag, *blob;
	const char *bytes;
	size_t len = agg_value_id(v, &tag, &bytes), i;
	uint32_t l32 = (uint32_t)len;

	for (i = 0; i < a->d.n_vals; i++) {
		uint32_t bl;

		memcpy(&bl, a->d.vals[i] + 1, sizeof bl);
		if (a->d.vals[i][0] == tag && bl == l32 && memcmp(a->d.vals[i] + 5, bytes, len) == 0)
			return 0;
	}
	if (a->d.n_vals == a->d.cap_vals) {
		uint32_t nc = a->d.cap_vals ? a->d.cap_vals * 2 : 4;
		char **nv = pool_alloc(pool, nc * sizeof *nv);

		if (!nv)
			return -1;
		if (a->d.n_vals)
			memcpy(nv, a->d.vals, a->d.n_vals * sizeof *nv);
		pool_free(pool, a->d.vals, a->d.cap_vals * sizeof *a->d.vals);
		a->d.vals = nv;
		a->d.cap_vals = nc;
	}
	blob = pool_alloc(pool, len + 5);
	if (!blob)
		return -1;
	blob[0] = tag;
	memcpy(blob + 1, &l32, sizeof l32);
	memcpy(blob + 5, bytes, len);
	a->d.vals[a->d.n_vals++] = blob;
	return 0;
}

/* The block of a run's bound events, for cap of them. */
static size_t bound_size(uint32_t cap)
{
	return cap * sizeof(struct mt_event *);
}

/* Keeps in the run the values that the reads of step st (of rule r) take from ev, just bound
 * to it (first: the step's first event). */
__attribute__((noinline)) static void keep_reads(const struct rl_rule *r,
						 const struct rl_step *st, struct mt_run *run,
						 const struct mt_event *ev, int first)
{
	const struct rl_read *reads = r->reads;
	struct tl_value *rv = mt_rv(run);
	char *bytes = (char *)(rv + r->n_reads);
	uint32_t j;

	for (j = 0; j < st->n_keeps; j++) {
		uint32_t i = st->keeps[j];
		struct tl_value *v = &rv[i];

		if (!reads[i].last && !first)
			continue;
		if (reads[i].slot == EX_ALIAS_TIME) {
			v->type = TL_NUM; /* as the evaluator gives time(step) */
			v->num = (double)ev->ts.us / 1e6;
			continue;
		}
		*v = ev->slots[reads[i].slot];
		if (v->type == TL_STR && v->len <= MT_READ_INLINE) {
			if (v->len)
				memcpy(bytes + i * MT_READ_INLINE, v->str, v->len);
			v->str = bytes + i * MT_READ_INLINE;
		}
	}
}

/* Doubles the run's array of bound events: 0, or -1 (the run is unchanged). */
__attribute__((noinline)) static int bound_grow(struct pool *pool, struct mt_run *run)
{
	uint32_t nc = run->cap_bound ? run->cap_bound * 2 : 4;
	struct mt_event **nb = pool_alloc(pool, bound_size(nc));

	if (!nb)
		return -1;
	if (run->n_bound)
		memcpy(nb, run->bound, run->n_bound * sizeof *nb);
	pool_free(pool, run->bound, bound_size(run->cap_bound));
	run->bound = nb;
	run->cap_bound = nc;
	return 0;
}

/* The end of every bind: ev joins the run's events (the array has room) as one more of step's. */
static inline void take(const struct rl_rule *r, struct mt_run *run, uint32_t step,
			struct mt_event *ev)
{
	run->bound[run->n_bound] = ev;
	run->n_bound++;
	ev->refs++;
	mt_taken(r, run)[step]++;
}

__attribute__((noinline)) int mt_bind_any(struct pool *pool, const struct rl_rule *r,
					  struct mt_run *run, uint32_t step, struct mt_event *ev)
{
	const struct rl_step *st = &r->steps[step];
	struct mt_acc *acc = mt_acc(r, run);
	uint32_t j;

	if (run->n_bound == run->cap_bound && bound_grow(pool, run))
		return -1;
	for (j = 0; j < st->n_accs; j++) {
		uint32_t i = st->accs[j];
		const struct rl_run_agg *ra = &r->run_aggs[i];
		const struct tl_value *v = &ev->slots[ra->slot];

		if (ra->kind == RL_AGG_DISTINCT) {
			if (v->type != TL_MISSING && v->type != TL_NULL &&
			    acc_distinct(pool, &acc[i], v))
				return -1;
		} else if (v->type == TL_NUM) {
			mt_acc_add(&acc[i], ra->kind, v->num);
		}
	}
	if (st->n_keeps)
		keep_reads(r, st, run, ev, mt_taken(r, run)[step] == 0);
	take(r, run, step, ev);
	return 0;
}

int mt_bind(struct pool *pool, const struct rl_rule *r, struct mt_run *run, uint32_t step,
	    struct mt_event *ev)
{
	const struct rl_step *st = &r->steps[step];
	struct mt_acc *acc;
	uint32_t j;

	/* the common case, with no call and so no registers to save: room in the array, and
	 * only numbers to add up */
	if (!st->bind_plain || run->n_bound == run->cap_bound)
		return mt_bind_any(pool, r, run, step, ev);
	acc = mt_acc(r, run);
	for (j = 0; j < st->n_accs; j++) {
		uint32_t i = st->accs[j];
		const struct tl_value *v = &ev->slots[r->run_aggs[i].slot];

		if (v->type == TL_NUM)
			mt_acc_add(&acc[i], r->run_aggs[i].kind, v->num);
	}
	take(r, run, step, ev);
	return 0;
}

void mt_views(const struct rl_rule *r, const struct mt_run *run, struct ev_bound *first,
	      struct ev_bound *last)
{
	const uint32_t *taken = mt_taken(r, run);
	uint32_t s, j = 0; /* the first bound event of step s */

	for (s = 0; s < r->n_steps; j += taken[s], s++) {
		const struct mt_event *f, *l;

		if (!taken[s]) {
			first[s].slots = last[s].slots = NULL;
			first[s].time_us = last[s].time_us = 0;
			continue;
		}
		f = run->bound[j];
		l = run->bound[j + taken[s] - 1];
		first[s].slots = f->slots;
		first[s].time_us = f->ts.us;
		last[s].slots = l->slots;
		last[s].time_us = l->ts.us;
	}
}

void mt_values(const struct rl_rule *r, const struct mt_run *run, struct tl_value *out)
{
	size_t i;

	for (i = 0; i < r->n_run_aggs; i++) {
		const struct rl_run_agg *ra = &r->run_aggs[i];
		const struct mt_acc *a = &mt_acc(r, run)[i];
		struct tl_value *v = &out[i];

		v->type = TL_NUM;
		switch (ra->kind) {
		case RL_AGG_COUNT: v->num = mt_taken(r, run)[ra->step]; break;
		case RL_AGG_SUM: v->num = a->s.sum + a->s.comp; break;
		case RL_AGG_AVG:
			if (a->n)
				v->num = (a->s.sum + a->s.comp) / (double)a->n;
			else
				v->type = TL_MISSING;
			break;
		case RL_AGG_MIN:
			if (a->n)
				v->num = a->m;
			else
				v->type = TL_MISSING;
			break;
		case RL_AGG_MAX:
			if (a->n)
				v->num = a->m;
			else
				v->type = TL_MISSING;
			break;
		case RL_AGG_DISTINCT: v->num = a->d.n_vals; break;
		default: v->type = TL_MISSING; break;
		}
	}
}

void mt_run_free(struct pool *pool, const struct rl_rule *r, struct mt_run *run)
{
	size_t i, j;

	for (i = 0; i < run->n_bound; i++)
		if (--run->bound[i]->refs == 0)
			mt_event_release(pool, run->bound[i]);
	pool_free(pool, run->bound, bound_size(run->cap_bound));
	for (i = 0; i < r->n_run_aggs; i++) {
		struct mt_acc *a = &mt_acc(r, run)[i];

		if (r->run_aggs[i].kind != RL_AGG_DISTINCT)
			continue;
		for (j = 0; j < a->d.n_vals; j++) {
			uint32_t bl;

			memcpy(&bl, a->d.vals[j] + 1, sizeof bl);
			pool_free(pool, a->d.vals[j], (size_t)bl + 5);
		}
		pool_free(pool, a->d.vals, a->d.cap_vals * sizeof *a->d.vals);
	}
	pool_free(pool, run, mt_run_size(r));
}

/* A block for an event: the header, room for n_slots values, the line and its NUL, then extra
 * bytes (refs 0; time and number not set). */
static struct mt_event *event_block(struct pool *pool, const char *line, size_t len,
				    size_t n_slots, size_t extra)
{
	size_t size = sizeof(struct mt_event) + n_slots * sizeof(struct tl_value) + len + 1 + extra;
	struct mt_event *ev = pool_alloc(pool, size);
	char *copy;

	if (!ev)
		return NULL;
	ev->refs = 0;
	ev->size = size;
	ev->slots = (struct tl_value *)(ev + 1);
	copy = (char *)(ev->slots + n_slots);
	memcpy(copy, line, len);
	copy[len] = '\0';
	ev->line = copy;
	ev->len = len;
	return ev;
}

struct mt_event *mt_event_new(struct pool *pool, const char *line, size_t len,
			      const struct tl_value *slots, size_t n_slots,
			      const struct tf_stamp *ts, uint64_t seq)
{
	size_t extra = 0, i;
	const char *lo = line, *hi = line + len;
	struct mt_event *ev;
	char *p;

	for (i = 0; i < n_slots; i++)
		if (slots[i].type >= TL_STR && !(slots[i].str >= lo && slots[i].str < hi))
			extra += slots[i].len;
	ev = event_block(pool, line, len, n_slots, extra);
	if (!ev)
		return NULL;
	ev->seq = seq;
	ev->ts = *ts;
	p = (char *)ev->line + len + 1;
	for (i = 0; i < n_slots; i++) {
		struct tl_value v = slots[i];

		if (v.type >= TL_STR) {
			if (v.str >= lo && v.str < hi) {
				v.str = ev->line + (v.str - lo);
			} else {
				memcpy(p, v.str, v.len);
				v.str = p;
				p += v.len;
			}
		}
		ev->slots[i] = v;
	}
	return ev;
}

struct mt_event *mt_event_hold(struct pool *pool, const char *line, size_t len, size_t n_slots)
{
	return event_block(pool, line, len, n_slots, 0);
}

void mt_event_release(struct pool *pool, struct mt_event *ev)
{
	pool_free(pool, ev, ev->size);
}

uint32_t mt_group(const struct rl_rule *r, uint32_t step, uint32_t count)
{
	const struct rl_step *st = &r->steps[step];
	uint32_t cls = count < st->min ? MT_BELOW_MIN : count < st->max ? MT_BETWEEN : MT_AT_MAX;

	return step * 3 + cls;
}

size_t mt_key_size(const struct rl_rule *r)
{
	return sizeof(struct mt_key) + 3 * r->n_steps * sizeof(struct mt_group);
}

static void group_unlink(struct pool *pool, struct mt_key *k, struct mt_run *run)
{
	struct mt_group *gr = &k->groups[run->group];
	struct mt_run *last = gr->runs[--gr->n];

	gr->runs[run->gidx] = last;
	last->gidx = run->gidx;
	if (!gr->n) {
		pool_free(pool, gr->runs, gr->cap * sizeof *gr->runs);
		gr->runs = NULL;
		gr->cap = 0;
	}
}

/* Room for one more run in group gr: 0, or -1. */
static int group_reserve(struct pool *pool, struct mt_group *gr)
{
	uint32_t nc;
	struct mt_run **nr;

	if (gr->n < gr->cap)
		return 0;
	nc = gr->cap ? gr->cap * 2 : 4;
	nr = pool_alloc(pool, nc * sizeof *nr);
	if (!nr)
		return -1;
	if (gr->n)
		memcpy(nr, gr->runs, gr->n * sizeof *nr);
	pool_free(pool, gr->runs, gr->cap * sizeof *gr->runs);
	gr->runs = nr;
	gr->cap = nc;
	return 0;
}

/* Appends run to the group of run->group, which has room. */
static void group_put(struct mt_key *k, struct mt_run *run)
{
	struct mt_group *gr = &k->groups[run->group];

	run->gidx = gr->n;
	gr->runs[gr->n++] = run;
}

int mt_regroup(struct pool *pool, const struct rl_rule *r, struct mt_key *k, struct mt_run *run)
{
	uint32_t g = mt_group(r, run->step, run->count);

	if (g == run->group)
		return 0;
	if (group_reserve(pool, &k->groups[g]))
		return -1;
	group_unlink(pool, k, run);
	run->group = g;
	group_put(k, run);
	return 0;
}

int mt_key_link(struct pool *pool, struct mt_key *k, struct mt_run *run)
{
	if (group_reserve(pool, &k->groups[run->group]))
		return -1;
	group_put(k, run);
	run->prev = k->tail;
	run->next = NULL;
	if (k->tail)
		k->tail->next = run;
	else
		k->head = run;
	k->tail = run;
	k->n_runs++;
	return 0;
}

void mt_key_unlink(struct pool *pool, struct mt_key *k, struct mt_run *run)
{
	group_unlink(pool, k, run);
	if (run->prev)
		run->prev->next = run->next;
	else
		k->head = run->next;
	if (run->next)
		run->next->prev = run->prev;
	else
		k->tail = run->prev;
	run->prev = run->next = NULL;
	k->n_runs--;
}
