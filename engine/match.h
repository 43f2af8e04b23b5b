/* match.h - the runs of a sequence rule for one key: partial matches and their bindings.
 *
 * Pipeline position: engine. A run is at a real step with a count of events that step took,
 * and holds the events bound so far (shared by reference count: one event can be bound by many
 * runs), a copy of what the conditions tried on it read of them (the value of a.f, first(a).f,
 * last(a).f or time(a): conditions tried on many runs per event read the run's block only),
 * and the aggregates of the rule's run aggregates (count, sum, avg, min, max, distinct over a
 * step), updated as events are bound, never recomputed. The first and last bound event of each
 * step, which an alert reads, are worked out when it fires. engine.c drives the transitions of
 * docs/semantics.md; this module keeps the data.
 *
 * Ownership: runs and bound events come from the engine's pool; mt_run_free releases a run's
 * references and the events no run holds any more.
 */
#ifndef TL_MATCH_H
#define TL_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "eval.h"
#include "pool.h"
#include "ruleset.h"

/* An event kept because runs bound it: a self-contained copy. */
struct mt_event {
	uint32_t refs;
	uint64_t seq;            /* processing order */
	struct tf_stamp ts;
	const char *line;
	size_t len;
	struct tl_value *slots;
	size_t size;             /* of the whole allocation */
};

/* Accumulator of one run aggregate: what its kind needs (runs are many, and each binds
 * every event it takes: the smaller, the fewer cache lines). */
struct mt_acc {
	union {
		struct {
			double sum, comp; /* sum, avg: compensated sum */
		} s;
		double m;                 /* min, max: the least or greatest so far */
		struct {
			char **vals;      /* distinct: the values seen (tag, length, bytes) */
			uint32_t n_vals, cap_vals;
		} d;
	};
	uint64_t n;                       /* numbers seen (sum, avg, min, max) */
};

/* A run and its arrays are one block: the struct, then a value per read of the rule (see
 * mt_bind) and room for the bytes of each, then an accumulator per run aggregate, then a count
 * per real step. The fields that an event offered to the run reads come last in the struct,
 * next to the arrays, so that trying and binding an event touch as few cache lines as they
 * can: nothing of the run is a pointer that could be worked out. */
struct mt_run {
	struct mt_run *prev, *next; /* the key's runs, in the order they started */
	void *key;                  /* the key state that owns the run */
	ptrdiff_t heap_idx;         /* place in the deadline heap, or -1 */
	uint64_t start_seq;
	int64_t deadline;           /* time of the first event + within */
	uint32_t rule;              /* index of the rule */
	uint8_t pending;            /* complete but for its trailing not steps: waits for deadline */
	uint8_t complete;           /* completed by the event being processed */
	uint32_t gidx;              /* its place in its group's array */
	/* read for every event offered to the run */
	uint64_t seen;              /* the last event that was offered to it */
	struct mt_event **bound;    /* the bound events in order (cap_bound of them): those of
				     * step 0, then of step 1... (mt_taken says how many each) */
	uint32_t group;             /* its state: step * 3 + repeat class (mt_group) */
	uint32_t step, count;       /* the real step it is at, events that step took */
	uint32_t n_bound, cap_bound;
};

/* Strings a run keeps of its reads in its own block: up to this many bytes (a longer one is
 * read in its bound event). */
#define MT_READ_INLINE 16

/* The values a run keeps, rv[i] for its rule's reads[i]: a field (or the time, as a number of
 * seconds) of its bound events, TL_MISSING until the step binds one. */
static inline struct tl_value *mt_rv(const struct mt_run *run)
{
	return (struct tl_value *)((uintptr_t)run + sizeof *run);
}

/* Where a run's accumulators and counts (below) start in its block, for rule r. */
static inline size_t mt_acc_offset(const struct rl_rule *r)
{
	return sizeof(struct mt_run) + r->n_reads * (sizeof(struct tl_value) + MT_READ_INLINE);
}

static inline size_t mt_taken_offset(const struct rl_rule *r)
{
	return mt_acc_offset(r) + r->n_run_aggs * sizeof(struct mt_acc);
}

/* Its accumulators, one per run aggregate of its rule r. */
static inline struct mt_acc *mt_acc(const struct rl_rule *r, const struct mt_run *run)
{
	return (struct mt_acc *)((uintptr_t)run + mt_acc_offset(r));
}

/* The events each real step of rule r took: a run takes the steps in order, so that its first
 * taken[0] bound events are those of step 0, the next taken[1] those of step 1, and so on. */
static inline uint32_t *mt_taken(const struct rl_rule *r, const struct mt_run *run)
{
	return (uint32_t *)((uintptr_t)run + mt_taken_offset(r));
}

/* The runs of a key in one state, in no particular order: an array rather than a list, so
 * that a walk over them can ask for the memory of the runs ahead of the one it is at. */
struct mt_group {
	struct mt_run **runs;
	uint32_t n, cap;
};

/* The runs of one key of a sequence rule: in start order, and by state. Runs in one state
 * take the same transition for an event when no condition reads their bindings, so a state
 * where nothing happens is skipped whole: the cost of an event does not grow with the number
 * of runs that wait. */
struct mt_key {
	struct mt_run *head, *tail;
	uint32_t n_runs;
	uint32_t n_groups;       /* 3 per real step */
	struct mt_group groups[];
};

/* Repeat classes of the state of a run at a step: below min, from min to below max, at max. */
enum { MT_BELOW_MIN, MT_BETWEEN, MT_AT_MAX };

/* The state of a run at real step `step` that took `count` events there. */
uint32_t mt_group(const struct rl_rule *r, uint32_t step, uint32_t count);
/* The size of an mt_key for rule r. */
size_t mt_key_size(const struct rl_rule *r);
/* Moves run into the group of its current (step, count): 0, or -1 when the group could not
 * grow (the run stays where it was). Removing a run from a group moves the group's last run
 * into its place. */
int mt_regroup(struct pool *pool, const struct rl_rule *r, struct mt_key *k, struct mt_run *run);

/* The bytes of a run of rule r with its arrays: one block. */
size_t mt_run_size(const struct rl_rule *r);
/* A new run of rule r (index rule) at step 0 with no event bound yet; NULL on failure. */
struct mt_run *mt_run_new(struct pool *pool, const struct rl_rule *r, uint32_t rule);

/* Adds a number to the accumulator of an aggregate of kind `kind`: only what it reads. */
static inline void mt_acc_add(struct mt_acc *a, int kind, double x)
{
	if (kind == RL_AGG_SUM || kind == RL_AGG_AVG)
		agg_sum_add(&a->s.sum, &a->s.comp, x);
	else if (kind == RL_AGG_MIN)
		a->m = x < a->m ? x : a->m; /* event numbers are never NaN */
	else
		a->m = x > a->m ? x : a->m;
	a->n++;
}

/* mt_bind in every case: a full array, distinct values, reads to keep. */
int mt_bind_any(struct pool *pool, const struct rl_rule *r, struct mt_run *run, uint32_t step,
		struct mt_event *ev);

/* Binds ev to real step `step` of the run (ev->refs is taken) and keeps in mt_rv(run)[i] what
 * r->reads[i] reads of it; 0 or -1. */
int mt_bind(struct pool *pool, const struct rl_rule *r, struct mt_run *run, uint32_t step,
	    struct mt_event *ev);

/* What binding one event to many runs at one step needs of the event, worked out once for all
 * of them (mt_plan): the numbers each of the step's aggregates adds. */
#define MT_PLAN_MAX 8
struct mt_plan {
	uint32_t step;
	uint32_t n;                 /* numbers to add; UINT32_MAX: bind through mt_bind_any */
	size_t acc_off, taken_off;  /* mt_acc and mt_taken, as offsets in a run's block */
	uint32_t idx[MT_PLAN_MAX];  /* the accumulator each adds to ... */
	int kind[MT_PLAN_MAX];      /* ... of this kind */
	double x[MT_PLAN_MAX];
};

/* The plan for binding ev to real step `step` of runs of rule r. */
static inline void mt_plan(const struct rl_rule *r, uint32_t step, const struct mt_event *ev,
			   struct mt_plan *p)
{
	const struct rl_step *st = &r->steps[step];
	uint32_t j;

	p->step = step;
	p->n = 0;
	p->acc_off = mt_acc_offset(r);
	p->taken_off = mt_taken_offset(r);
	if (!st->bind_plain || st->n_accs > MT_PLAN_MAX) {
		p->n = UINT32_MAX;
		return;
	}
	for (j = 0; j < st->n_accs; j++) {
		uint32_t i = st->accs[j];
		const struct tl_value *v = &ev->slots[r->run_aggs[i].slot];

		if (v->type != TL_NUM)
			continue;
		p->idx[p->n] = i;
		p->kind[p->n] = r->run_aggs[i].kind;
		p->x[p->n] = v->num;
		p->n++;
	}
}

/* mt_bind(pool, r, run, p->step, ev) with p = mt_plan(r, p->step, ev): 0 or -1. */
static inline int mt_bind_planned(struct pool *pool, const struct rl_rule *r, struct mt_run *run,
				  struct mt_event *ev, const struct mt_plan *p)
{
	struct mt_acc *acc = (struct mt_acc *)((uintptr_t)run + p->acc_off);
	uint32_t j;

	if (p->n == UINT32_MAX || run->n_bound == run->cap_bound)
		return mt_bind_any(pool, r, run, p->step, ev);
	for (j = 0; j < p->n; j++)
		mt_acc_add(&acc[p->idx[j]], p->kind[j], p->x[j]);
	run->bound[run->n_bound++] = ev;
	ev->refs++;
	((uint32_t *)((uintptr_t)run + p->taken_off))[p->step]++;
	return 0;
}

/* The first and the last event bound to each real step, as the evaluator reads them (slots
 * NULL for a step with none): first and last have r->n_steps entries. */
void mt_views(const struct rl_rule *r, const struct mt_run *run, struct ev_bound *first,
	      struct ev_bound *last);
/* Releases the run's events and memory (the caller has unlinked it). */
void mt_run_free(struct pool *pool, const struct rl_rule *r, struct mt_run *run);
/* The run aggregates' values, out[i] for r->run_aggs[i]. */
void mt_values(const struct rl_rule *r, const struct mt_run *run, struct tl_value *out);

/* A self-contained copy of an event for binding (refs 0); NULL on failure. */
struct mt_event *mt_event_new(struct pool *pool, const char *line, size_t len,
			      const struct tl_value *slots, size_t n_slots,
			      const struct tf_stamp *ts, uint64_t seq);
/* A copy of a line with room for its n_slots values, which the caller fills (decoding the copy,
 * so that its values point into it), and its time and number; NULL on allocation failure. */
struct mt_event *mt_event_hold(struct pool *pool, const char *line, size_t len, size_t n_slots);
void mt_event_release(struct pool *pool, struct mt_event *ev);

/* Adds a run (its group set) as the key's newest: 0, or -1 when its group could not grow. */
int mt_key_link(struct pool *pool, struct mt_key *k, struct mt_run *run);
/* Removes a run from the key; a group left empty gives its array back. */
void mt_key_unlink(struct pool *pool, struct mt_key *k, struct mt_run *run);

#endif
