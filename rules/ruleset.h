/* ruleset.h - the compiled rule set: what the engine runs.
 *
 * Pipeline position: rules. rl_load reads rule files (parser/yaml_load), checks them against the
 * schema and the expression types, resolves names (fields -> decoder slots, lists -> sets,
 * macros -> their trees, regexes -> compiled patterns) and produces an immutable rl_ruleset.
 * No partial rule set is ever returned: any error in any file fails the whole load.
 *
 * Ownership: the rule set owns everything it points to (one arena, the field table, the compiled
 * patterns); rl_free releases it all. The engine only reads it.
 */
#ifndef TL_RULESET_H
#define TL_RULESET_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "diag.h"
#include "expr.h"
#include "json.h"
#include "timefmt.h"

/* Built-in functions (EX_FUNC): X(name, min args, max args). */
#define RL_FUNCS(X)        \
	X(EXISTS, "exists", 1, 1) \
	X(LOWER, "lower", 1, 1)   \
	X(UPPER, "upper", 1, 1)   \
	X(LEN, "len", 1, 1)       \
	X(ABS, "abs", 1, 1)       \
	X(TIME, "time", 0, 1)     \
	X(CIDR, "cidr", 2, 2)

enum rl_func {
#define RL_FN_ENUM(id, name, lo, hi) RL_FN_##id,
	RL_FUNCS(RL_FN_ENUM)
#undef RL_FN_ENUM
	RL_N_FUNCS
};

/* Window aggregates of a threshold's `when` and `emit` (EX_AGG). */
#define RL_AGGS(X)        \
	X(COUNT, "count")   \
	X(SUM, "sum")       \
	X(AVG, "avg")       \
	X(MIN, "min")       \
	X(MAX, "max")       \
	X(DISTINCT, "distinct")

enum rl_agg_kind {
#define RL_AGG_ENUM(id, name) RL_AGG_##id,
	RL_AGGS(RL_AGG_ENUM)
#undef RL_AGG_ENUM
	RL_N_AGGS
};

extern const char *const rl_agg_names[RL_N_AGGS];

enum rl_kind { RL_FILTER, RL_THRESHOLD, RL_SEQUENCE };

/* A step of a sequence. Real steps are matched in order; `not` steps guard the real step after
 * them (or trail the sequence). */
struct rl_step {
	const char *name;      /* `as`, or stepN (N: 1-based position in the sequence list) */
	uint32_t id;           /* position in the sequence list, from 0 */
	struct ex_node *where;
	const char *where_text; /* as written, for explain */
	uint32_t min, max;     /* repeat bounds; max UINT32_MAX: no maximum */
	uint8_t reads_run;     /* where reads aliases or run aggregates: evaluated per run */
	unsigned line;         /* for explain */
	struct rl_step *guards; /* real steps: the `not` steps just before this one */
	size_t n_guards;
	/* real steps, worked out once the rule is read: what binding an event to this step
	 * updates, so that a bind visits nothing else (indices into the rule's run_aggs and
	 * reads) */
	uint32_t *accs;         /* its run aggregates but count() (which the step's taken
				 * count gives) */
	uint32_t n_accs;
	uint32_t *keeps;        /* the reads of its events */
	uint32_t n_keeps;
	uint8_t bind_plain;     /* no keeps, and no distinct() among accs: a bind updates
				 * numbers only */
};

enum rl_contiguity { RL_RELAXED, RL_STRICT };
enum rl_after_match { RL_SKIP_PAST_LAST, RL_NO_SKIP };

/* An aggregate over a repeated step, kept per run: count(a), sum(a.f), ... */
struct rl_run_agg {
	uint8_t kind;  /* enum rl_agg_kind */
	uint32_t step; /* the real step */
	uint32_t slot; /* the field read (unused for count) */
};

struct rl_agg {
	uint8_t kind;        /* enum rl_agg_kind */
	struct ex_node *arg; /* NULL for count() */
};

/* A set of literals for `in` (EX_SET): numbers and strings sorted for binary search. */
struct rl_set {
	double *nums;
	size_t n_nums;
	struct tl_value *strs; /* TL_STR values sorted bytewise */
	size_t n_strs;
	uint64_t *words;       /* when every string is at most 7 bytes: each as rl_word() makes
				* it, sorted (else NULL) */
	uint8_t has_true, has_false;
};

/* The 4 bytes at s as a number, the first the lowest (one load where the machine is
 * little-endian). */
static inline uint32_t rl_le32(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A string of at most 7 bytes as one number: byte i at bits 8i, the length in the top byte;
 * two strings are equal exactly when their numbers are. */
static inline uint64_t rl_word(const char *s, uint32_t len)
{
	uint64_t w;

	if (len >= 4) { /* two reads of 4 that overlap: the bytes in common are the same */
		w = rl_le32(s) | (uint64_t)rl_le32(s + len - 4) << (8 * (len - 4));
	} else if (len) {
		w = (uint64_t)(unsigned char)s[0] |
		    (uint64_t)(unsigned char)s[len / 2] << (8 * (len / 2)) |
		    (uint64_t)(unsigned char)s[len - 1] << (8 * (len - 1));
	} else {
		w = 0;
	}
	return w | (uint64_t)len << 56;
}

/* The networks cidr() tests an address against: one network, a list of them, or every
 * network of an || of cidr() over one field. When rules load they become sorted, disjoint
 * address ranges per family (overlapping and adjacent ones merged), so that an address is
 * found by one binary search however long the block list. An IPv6 address is two words, the
 * high one first. */
struct rl_range4 {
	uint32_t lo, hi;
};

struct rl_range6 {
	uint64_t lo[2], hi[2];
};

/* The 16 bytes of an IPv6 address (network order, as inet_pton gives them) as two words. */
static inline void rl_addr6(const uint8_t *a, uint64_t *w)
{
	int i, j;

	for (i = 0; i < 2; i++)
		for (j = 0, w[i] = 0; j < 8; j++)
			w[i] = w[i] << 8 | a[8 * i + j];
}

/* Two IPv6 addresses as rl_addr6 gives them, in order: -1, 0 or 1. */
static inline int rl_cmp6(const uint64_t *a, const uint64_t *b)
{
	if (a[0] != b[0])
		return a[0] < b[0] ? -1 : 1;
	return a[1] < b[1] ? -1 : a[1] > b[1];
}

struct rl_nets {
	const struct rl_range4 *v4;
	const struct rl_range6 *v6;
	uint32_t n4, n6;
	/* A list is a membership test: an address of either family that no network holds is
	 * not in it. cidr() of one network is unknown for an address of the other family, and
	 * so is an || with such a side: lone4 (lone6) is set when a side is one IPv4 (IPv6)
	 * network, and an IPv6 (IPv4) address that no network holds is then unknown. */
	uint8_t lone4, lone6;
	/* Bit o set when an IPv4 network holds an address whose first octet is o: most
	 * addresses of a stream are ruled out by it before they are parsed (see eval.c). */
	uint64_t first4[4];
};

/* One emit field: a literal JSON value, one typed expression, or a text template. */
enum rl_emit_kind { RL_EMIT_JSON, RL_EMIT_EXPR, RL_EMIT_TEMPLATE };

struct rl_tpart {
	const char *text; /* literal text before expr (may be empty) */
	size_t len;
	struct ex_node *expr; /* NULL for a trailing text part */
};

struct rl_emit {
	const char *name;
	size_t name_len;
	uint8_t kind;            /* enum rl_emit_kind */
	const char *json;        /* RL_EMIT_JSON: the JSON text */
	size_t json_len;
	struct ex_node *expr;    /* RL_EMIT_EXPR */
	struct rl_tpart *parts;  /* RL_EMIT_TEMPLATE */
	size_t n_parts;
};

/* A field of a bound event that a sequence's conditions read: step.slot, or
 * first(step).slot / last(step).slot; slot EX_ALIAS_TIME is its time, time(step). Each run keeps
 * the value of each (its conditions, tried on many runs per event, then read the run only). */
struct rl_read {
	uint32_t step, slot;
	uint8_t last; /* the step's last bound event, not its first */
};

struct rl_rule {
	const char *id;
	const char *description; /* NULL when not given */
	const char *severity;    /* NULL when not given */
	const char *file;        /* the rule file, for messages and explain */
	unsigned line;
	uint8_t kind;            /* enum rl_kind */
	uint32_t *key_slots;     /* decoder slots of the key fields */
	size_t n_keys;           /* 0: one global group */
	uint8_t key_is_list;     /* key was given as a YAML list: the alert's key is an array */
	const char *key_text;    /* the key as written, for explain */
	struct ex_node *where;   /* filter, or the threshold's where; NULL: every event */
	const char *where_text;  /* as written, for explain */
	const char *when_text;
	int64_t window_us;       /* threshold */
	struct ex_node *when;    /* threshold */
	struct rl_agg *aggs;     /* threshold: aggregates read by when and emit */
	size_t n_aggs;
	uint8_t evidence;        /* threshold: put the window's events in the alert */
	int64_t suppress_us;     /* 0: no suppression */
	struct rl_step *steps;   /* sequence: the real steps */
	size_t n_steps;
	struct rl_step *trailing; /* sequence: `not` steps after the last real step */
	size_t n_trailing;
	int64_t within_us;       /* sequence */
	uint8_t contiguity;      /* enum rl_contiguity */
	uint8_t after_match;     /* enum rl_after_match */
	struct rl_run_agg *run_aggs; /* sequence: aggregates over repeated steps */
	size_t n_run_aggs;
	struct rl_read *reads;   /* sequence: what the conditions read of bound events, once each */
	size_t n_reads;
	size_t n_seq_items;      /* sequence: steps in the list, `not` steps included */
	const struct rl_step **items; /* sequence: each of them, by id (its place in the list) */
	struct rl_emit *emits;
	size_t n_emits;
};

struct rl_ruleset {
	struct arena arena;
	struct jd_fields *fields;
	size_t n_slots;
	uint32_t time_slot;
	uint8_t time_format; /* enum tf_kind */
	int64_t lateness_us;
	const char **time_segs; /* the time field's path, for alerts */
	size_t *time_seg_lens;
	size_t n_time_segs;
	struct rl_rule *rules;
	size_t n_rules;
	struct rx **regexes; /* owned, for rl_free */
	size_t n_regexes, cap_regexes;
	size_t n_lists, n_macros, n_tests; /* for `check` */
};

/* Loads, checks and compiles rule files. Reports every error of every file to sink (then a
 * count per file) and returns NULL if there was any; else the compiled set. */
struct rl_ruleset *rl_load(const char *const *paths, size_t n_paths, struct dg_sink *sink);
/* The same from memory (tests): one source named name. */
struct rl_ruleset *rl_load_mem(const char *name, const char *text, size_t len,
			       struct dg_sink *sink);
void rl_free(struct rl_ruleset *rs);

/* 1 when a step's condition tree reads aliases or run aggregates (it must be evaluated per
 * run of a sequence). */
int rl_reads_run(const struct ex_node *n);

#endif
