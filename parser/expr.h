/* expr.h - the expression language of `where`, `when` and `emit`: text -> AST with positions.
 *
 * Pipeline position: parser. ex_parse turns one expression text into a tree allocated in an
 * arena; positions are byte offsets into that text (the rule layer maps them to the rule file).
 * Names are not resolved here: a dotted path may be a field, an alias (sequences) or a macro;
 * a call may be a function or an aggregate. rules/compile resolves them in place.
 *
 * Grammar, loosest first (comparisons do not chain):
 *   or    := and ('||' and)*
 *   and   := not ('&&' not)*
 *   not   := '!' not | cmp
 *   cmp   := add [('=='|'!='|'<'|'<='|'>'|'>='|'in'|'not' 'in'|'matches'|'contains'
 *                 |'startswith'|'endswith') add]
 *   add   := mul (('+'|'-') mul)*
 *   mul   := unary (('*'|'/'|'%') unary)*
 *   unary := '-' unary | post
 *   post  := primary ('.' name)*          (member access after a call: first(a).amount)
 *   primary := number | string | true | false | null | '[' [or (',' or)*] ']' | '(' or ')'
 *            | name ['(' [or (',' or)*] ')'] | path
 *   path  := name ('.' name)*,  name := identifier | `any text`
 */
#ifndef TL_EXPR_H
#define TL_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "value.h"

/* Node kinds: X(name, text shown in messages and by `explain`). */
#define EX_KINDS(X)                                                                       \
	X(LIT, "literal")  /* val */                                                     \
	X(LIST, "list")    /* kids: the items (literals once checked) */                  \
	X(PATH, "name")    /* segs: a field, an alias field or a macro, until resolved */  \
	X(CALL, "call")    /* name, kids: the arguments */                                \
	X(MEMBER, ".")     /* kids[0] . segs (after a call) */                             \
	X(NOT, "!")                                                                       \
	X(NEG, "unary -")                                                                 \
	X(OR, "||")                                                                       \
	X(AND, "&&")                                                                      \
	X(EQ, "==")                                                                       \
	X(NE, "!=")                                                                       \
	X(LT, "<")                                                                        \
	X(LE, "<=")                                                                       \
	X(GT, ">")                                                                        \
	X(GE, ">=")                                                                       \
	X(IN, "in")                                                                       \
	X(NOT_IN, "not in")                                                               \
	X(MATCHES, "matches")                                                             \
	X(CONTAINS, "contains")                                                           \
	X(STARTSWITH, "startswith")                                                       \
	X(ENDSWITH, "endswith")                                                           \
	X(ADD, "+")                                                                       \
	X(SUB, "-")                                                                       \
	X(MUL, "*")                                                                       \
	X(DIV, "/")                                                                       \
	X(MOD, "%")                                                                       \
	/* kinds below are made by the compiler when it resolves names */                 \
	X(FIELD, "field")  /* slot: a field of the current event */                      \
	X(FUNC, "function") /* fn: a built-in function; kids: arguments */                \
	X(AGG, "aggregate") /* slot: index of the aggregate's value in the context */     \
	X(SET, "set")      /* set: a list compiled for `in` */                            \
	X(REGEX, "regex")  /* kids[0] matches the compiled pattern re */                  \
	X(ALIAS, "alias")  /* a field (slot) of the event bound to step `step`: fn says   \
			      which one of a repeated step (EX_ALIAS_*) */

enum ex_kind {
#define EX_ENUM(name, text) EX_##name,
	EX_KINDS(EX_ENUM)
#undef EX_ENUM
	EX_N_KINDS
};

extern const char *const ex_kind_text[EX_N_KINDS];

struct ex_node {
	uint8_t kind;        /* enum ex_kind */
	uint16_t height;     /* levels of the subtree: 1 for a leaf (bounded by the parser) */
	uint8_t fn;          /* EX_FUNC: which function (rules/ruleset.h); EX_EQ, EX_NE: 1 when
			      * one side is the literal null (a test for absence); EX_LT to
			      * EX_GE: 1 when kids[0] is a field or an aggregate and kids[1] a
			      * number literal (judged without the walk: amount < 5); EX_OR: 1
			      * when its sides are all cidr() of the field at slot; EX_REGEX: 1
			      * when kids[0] is lower() and the pattern literal strings of small
			      * letters (matched on lower()'s argument in place) */
	uint32_t off, len;   /* span in the expression text */
	struct tl_value val; /* EX_LIT */
	struct ex_node **kids;
	size_t n_kids;
	const char **segs;   /* EX_PATH, EX_MEMBER */
	size_t *seg_lens;
	size_t n_segs;
	const char *name;    /* EX_CALL */
	size_t name_len;
	uint32_t slot;       /* EX_FIELD, EX_ALIAS: decoder slot (EX_ALIAS_TIME: the event's
			      * time); EX_AGG: aggregate index */
	uint32_t step;       /* EX_ALIAS: the real step whose event is read */
	uint32_t read;       /* EX_ALIAS in a sequence's condition: 1 + its place in the rule's
			      * reads (rl_rule); 0 elsewhere (emit reads the bound events) */
	void *ref;           /* EX_SET: the set; EX_REGEX: the compiled pattern */
};

/* EX_ALIAS: which bound event of the step (fn), and the slot that means "its time". */
enum { EX_ALIAS_ONLY, EX_ALIAS_FIRST, EX_ALIAS_LAST };
#define EX_ALIAS_TIME UINT32_MAX

struct ex_error {
	char msg[160];
	size_t off, len; /* span in the expression text */
};

/* Parses text[0..len) as one expression. Returns the root, or NULL with *err filled (the first
 * error only). Nodes and strings live in the arena. */
struct ex_node *ex_parse(const char *text, size_t len, struct arena *a, struct ex_error *err);

/* Parses a field path such as geo.country or `user-agent`.x into segments (arena). Returns the
 * number of segments, or -1 with *err filled. */
int ex_parse_path(const char *text, size_t len, struct arena *a, const char ***segs,
		  size_t **seg_lens, struct ex_error *err);

/* Writes the expression back as source text (canonical spacing, fully parenthesised where
 * needed) into buf; returns the length it needed (like snprintf). */
size_t ex_unparse(const struct ex_node *n, char *buf, size_t cap);

#endif
