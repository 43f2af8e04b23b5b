/* window.h - the sliding window of a threshold rule for one key, with its aggregates.
 *
 * Pipeline position: engine. A window holds the events of one key that passed the rule's
 * `where`, oldest first, and keeps every aggregate of the rule up to date as events enter and
 * leave, in O(1) amortised time per event: count from the ring, sum and avg with a compensated
 * running sum, min and max with monotonic deques, distinct with a counted multiset. Nothing is
 * ever rescanned.
 *
 * Ownership: the window owns copies of what it keeps (evidence lines, distinct values), all
 * taken from the pool it was made with, and its own block, unless its caller gave it the
 * memory (win_init).
 */
#ifndef TL_WINDOW_H
#define TL_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"
#include "ruleset.h"

struct window;

/* What the windows of one rule share, made once for the rule: the layout of a window and of
 * its ring entries, and which aggregates keep state. Aggregates of the same kind over the same
 * argument (the same expression node, or the same field) share their state: the caller gives
 * them the same value (args below). NULL on allocation failure. */
struct win_plan;
struct win_plan *win_plan_new(const struct rl_rule *r);
void win_plan_free(struct win_plan *p);
/* The size of a window block of plan p (a window whose ring is inside it, as most are). */
size_t win_block_size(const struct win_plan *p);

/* An empty window for the rule of plan p (a threshold), its memory from pool; NULL on
 * allocation failure. Every call below takes the plan the window was made with. */
struct window *win_new(struct pool *pool, const struct win_plan *p);
void win_free(struct window *w, const struct win_plan *p);
/* An empty window in win_block_size(p) bytes of the caller's at mem (8-byte aligned; a key's
 * entry holds one: engine.c), for a plan that is not too big; its other blocks come from
 * pool. win_release gives those back, but not mem. */
struct window *win_init(void *mem, struct pool *pool, const struct win_plan *p);
void win_release(struct window *w, const struct win_plan *p);
/* Whether p's windows cannot be made (win_new fails: the ring's entries do not fit). */
int win_too_big(const struct win_plan *p);
/* Asks for the blocks beyond its own that freeing w will read (a hint, for a caller that
 * frees many windows in a row: their blocks then come in together; w's own block is read).
 * NULL is allowed. */
void win_prefetch_free(const struct window *w, const struct win_plan *p);

/* Drops the events older than t_min (events at t_min stay: bounds are inclusive). */
void win_evict_before(struct window *w, const struct win_plan *p, int64_t t_min);

/* The event slot that aggregate a's argument is, when it is a field, or -1. */
int32_t win_arg_field(const struct rl_agg *a);

/* Adds an event: its time, the values of the rule's aggregate arguments, and, with evidence,
 * its line (copied). An argument that is a field is read from the event's slots (at
 * win_arg_field); the others from args (args[i] for r->aggs[i]; ignored for count()), which
 * the caller evaluates: those only. 0 or -1 (allocation; the window is unchanged). */
int win_push(struct window *w, const struct win_plan *p, const struct tf_stamp *ts,
	     const struct tl_value *slots, const struct tl_value *args, const char *line,
	     size_t len);

/* The aggregate values, out[i] for r->aggs[i]: count and distinct as numbers; sum of no
 * number is 0; avg, min and max of no number are unknown. */
void win_results(const struct window *w, const struct win_plan *p, struct tl_value *out);
/* Only the values the rule's when reads (the others in out are left as they were): what
 * deciding needs, the rest being needed for an alert only. */
void win_results_when(const struct window *w, const struct win_plan *p, struct tl_value *out);

/* Empties the window (after it fired: its events are consumed). */
void win_clear(struct window *w, const struct win_plan *p);

size_t win_count(const struct window *w);
/* The time of the i-th event, oldest first (i < win_count). */
const struct tf_stamp *win_time(const struct window *w, size_t i);
/* The line of the i-th event with evidence (NULL without). */
const char *win_line(const struct window *w, size_t i, size_t *len);

#endif
