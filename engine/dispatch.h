/* dispatch.h - which rules an event can matter to, by the value of one field.
 *
 * Pipeline position: engine. Rules are mostly guarded by an equality on a field such as `type`
 * (`type == "txn"`, `type in ["txn", "decline"]`). When rules load, each rule's conditions are
 * read for the strings that field must equal for the rule to do anything; the field that
 * guards the most rules is chosen. For each event, one hash lookup of that field's value then
 * gives the rules to run, in rule order: the rules guarded by that value and the unguarded
 * ones. An event whose value is not a string, or is a string no rule names, runs only the
 * unguarded rules (all of them when the value is not a string, since a guard only speaks of
 * strings).
 *
 * What "does anything" means per kind: a filter or a threshold does nothing unless its `where`
 * holds; a sequence with relaxed contiguity does nothing unless some step, `not` step or
 * trailing `not` step can hold; a sequence with strict contiguity is never guarded (any event
 * of its key kills runs).
 *
 * Ownership: the index owns its tables; the literals point into the rule set, which must
 * outlive it.
 */
#ifndef TL_DISPATCH_H
#define TL_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "ruleset.h"

struct dp_index;

/* The index of rule set rs; NULL on allocation failure. */
struct dp_index *dp_build(const struct rl_ruleset *rs);
void dp_free(struct dp_index *d);

/* What is left of a filter's or threshold's `where` once its guard is known to hold: the
 * conjuncts (of its top-level &&) that are not equalities on the field; it holds when every
 * one of them does (none: it holds). */
struct dp_rest {
	const struct ex_node **conds;
	size_t n;
};

/* The literal an event's value is, when it names one (an index among the strings of all the
 * guards), or DP_NO_LIT. */
#define DP_NO_LIT UINT32_MAX

/* An item of a sequence (a step, a `not` step, a trailing `not` step), as dispatch knows it:
 * what is left of its where once its own guard holds, and for which values that can be. */
struct dp_item {
	struct dp_rest rest;   /* the conjuncts of its where but its exact guards */
	const uint64_t *lits;  /* the literals that pass its guard, as bits; NULL: any value */
};

/* The rules to run for an event with these decoded slots: *n indices into rs->rules, in
 * ascending order. *rest is NULL, or, indexed by rule, what is left to check of each listed
 * rule's `where` now that the event passed its guard; then *lit is the literal the value is
 * (or DP_NO_LIT), for dp_item_may. */
const uint32_t *dp_rules(const struct dp_index *d, const struct tl_value *slots, size_t *n,
			 const struct dp_rest **rest, uint32_t *lit);

/* The items of sequence rule i, by step id, or NULL (not a sequence, no field chosen, or too
 * many literals to keep their bits). */
const struct dp_item *dp_items(const struct dp_index *d, size_t i);

/* Whether an event whose value is literal lit (rest was not NULL) can match item it; when it
 * can, the item matches exactly when every conjunct of it->rest holds. */
static inline int dp_item_may(const struct dp_item *it, uint32_t lit)
{
	return !it->lits || (lit != DP_NO_LIT && (it->lits[lit / 64] >> (lit % 64) & 1));
}

/* The slot of the chosen field, or -1 when no rule is guarded (every event runs every rule). */
int64_t dp_field(const struct dp_index *d);

#endif
