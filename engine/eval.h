/* eval.h - evaluation of compiled expressions over one event.
 *
 * Pipeline position: engine. Expressions are the resolved trees of rules/ruleset.h; evaluation
 * never allocates on the hot path: strings made by lower()/upper() go to the context's scratch,
 * which is reset per top-level evaluation and grows only between evaluations.
 *
 * Three-valued logic: TL_MISSING is "unknown". A comparison with a missing field, a null or a
 * value of the wrong type is unknown; `f == null` is true when f is missing or null; `!unknown`
 * is unknown; a condition holds only when it is true.
 */
#ifndef TL_EVAL_H
#define TL_EVAL_H

#include <stdint.h>
#include <string.h>

#include "bytes.h"
#include "ruleset.h"

/* Two strings in byte order: <0, 0 or >0. */
static inline int ev_str_cmp(const struct tl_value *a, const struct tl_value *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->str, b->str, n);

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* ==, != : 1, 0, or -1 for unknown. null_test: one side is the literal null, and the
 * comparison tests the other side for absence (missing or null). */
static inline int ev_equal(const struct tl_value *a, const struct tl_value *b, int null_test)
{
	int an = a->type == TL_MISSING || a->type == TL_NULL;
	int bn = b->type == TL_MISSING || b->type == TL_NULL;

	if (null_test)
		return an && bn;
	if (an || bn)
		return -1;
	if (a->type != b->type)
		return -1;
	switch (a->type) {
	case TL_BOOL: return a->b == b->b;
	case TL_NUM: return a->num == b->num;
	case TL_STR: return a->len == b->len && bytes_eq(a->str, b->str, a->len);
	default: return -1; /* arrays and objects compare with null only */
	}
}

/* The comparison n (== != < <= > >=) of two values, its operands' a and b: 1, 0, or -1 for
 * unknown. Inline: a sequence's condition tried on each run is often one of them. */
static inline int ev_compare(const struct ex_node *n, const struct tl_value *a,
			     const struct tl_value *b)
{
	int t;

	switch (n->kind) {
	case EX_EQ: case EX_NE:
		t = ev_equal(a, b, n->fn);
		return t < 0 ? -1 : n->kind == EX_EQ ? t : !t;
	default:
		break;
	}
	if (a->type == TL_NUM && b->type == TL_NUM)
		t = a->num < b->num ? -1 : a->num > b->num ? 1 : 0;
	else if (a->type == TL_STR && b->type == TL_STR)
		t = ev_str_cmp(a, b);
	else
		return -1;
	switch (n->kind) {
	case EX_LT: return t < 0;
	case EX_LE: return t <= 0;
	case EX_GT: return t > 0;
	default: return t >= 0;
	}
}

struct rx_scratch;

/* An event bound to a step of a run, as the evaluator reads it. */
struct ev_bound {
	const struct tl_value *slots; /* NULL: no event bound (yet) */
	int64_t time_us;
};

struct ev_ctx {
	const struct ev_bound *first;  /* sequences: per real step, its first bound event */
	const struct ev_bound *last;   /* ... and its last one */
	const struct tl_value *rv;     /* sequences, a condition tried on a run: the values the
					* run keeps, rv[i] for its rule's reads[i] (an alias node
					* says which: read); NULL: bound events are read through
					* first and last */
	const struct tl_value *slots;  /* the event's fields, by decoder slot */
	int64_t time_us;               /* the event's time */
	const struct tl_value *aggs;   /* threshold: aggregate values, by EX_AGG slot */
	struct rx_scratch *rx;
	uint64_t n_regex_limit;        /* matches that hit the PCRE2 limits (counted) */
	char *scratch;                 /* strings made during one evaluation */
	size_t scratch_cap, scratch_used, scratch_want;
	uint64_t gen;                  /* the owner adds 1 whenever what slots holds may change:
					* the evaluator's memos hold within one value */
	struct {                       /* the address cidr() parsed last */
		uint64_t gen;
		const char *str;
		uint32_t len;
		int family;            /* 4, 6, or 0: not an address */
		uint32_t a4;           /* IPv4, as a number */
		uint64_t a6[2];        /* IPv6, the high word first */
	} ip;
};

/* Prepares a context; 0 or -1 (allocation). */
int ev_init(struct ev_ctx *c);
void ev_fini(struct ev_ctx *c);

/* Starts a top-level evaluation: forgets strings of the previous one (growing the scratch if
 * the previous evaluation ran out of it). */
void ev_reset(struct ev_ctx *c);

/* Evaluates n into *out. Strings in *out may point into the event or the scratch. */
void ev_eval(const struct ex_node *n, struct ev_ctx *c, struct tl_value *out);

/* Evaluates n as a whole expression: resets the scratch first, and evaluates once more with a
 * larger scratch when a string did not fit. */
void ev_eval_top(const struct ex_node *n, struct ev_ctx *c, struct tl_value *out);

/* ev_holds of a condition that is not a marked comparison with a number literal. */
int ev_holds_walk(const struct ex_node *n, struct ev_ctx *c);

/* A comparison marked by the compiler (fn): a field or an aggregate, read in place, against
 * a number literal; 1, 0, or -1 for unknown, as comparison() would give it. */
static inline int ev_num_vs_literal(const struct ex_node *n, const struct ev_ctx *c)
{
	const struct ex_node *l = n->kids[0];
	const struct tl_value *a = l->kind == EX_FIELD ? &c->slots[l->slot] : &c->aggs[l->slot];
	double y = n->kids[1]->val.num;

	if (a->type != TL_NUM)
		return -1;
	switch (n->kind) {
	case EX_LT: return a->num < y;
	case EX_LE: return a->num <= y;
	case EX_GT: return a->num > y;
	default: return a->num >= y;
	}
}

/* 1 when the condition n is true; 0 when false or unknown. Resets the scratch. Inline for the
 * commonest condition, a comparison of a field or an aggregate with a number literal, which
 * makes no string. */
static inline int ev_holds(const struct ex_node *n, struct ev_ctx *c)
{
	if (n->kind >= EX_LT && n->kind <= EX_GE && n->fn)
		return ev_num_vs_literal(n, c) == 1;
	return ev_holds_walk(n, c);
}

#endif
