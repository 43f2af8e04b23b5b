/* load.c - rule files -> compiled rule set: schema, names, types.
 *
 * Pipeline position: rules. For each file: read it (16 MiB at most), build the YAML tree
 * (parser/yaml_load), walk it against the schema of SPEC section 2, parse every expression
 * (parser/expr), resolve names in place (macros are re-parsed at each use so that they are
 * checked in the context of the rule that uses them; fields become decoder slots; lists become
 * sets; regexes are compiled once) and check types between literals. Every error of a file is
 * reported; any error anywhere means no rule set at all.
 */
#define _GNU_SOURCE
#include "ruleset.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "regex.h"
#include "yaml_load.h"

#define RL_MAX_FILE (16u * 1024 * 1024)
#define RL_MAX_MACRO_DEPTH 32
/* Macros that use macros twice double at each level: m1: m0 && m0 ... m30 would be a billion
 * nodes. One expression may expand this many macro uses, all levels together, and a file
 * (10,000 rules of such expressions would still take minutes) a hundred times as many. */
#define RL_MAX_EXPANSIONS 10000
#define RL_MAX_FILE_EXPANSIONS (100 * RL_MAX_EXPANSIONS)

const char *const rl_agg_names[RL_N_AGGS] = {
#define RL_AGG_NAME(id, name) name,
	RL_AGGS(RL_AGG_NAME)
#undef RL_AGG_NAME
};

static const struct {
	const char *name;
	int lo, hi;
} rl_funcs[RL_N_FUNCS] = {
#define RL_FN_ROW(id, name, lo, hi) { name, lo, hi },
	RL_FUNCS(RL_FN_ROW)
#undef RL_FN_ROW
};

/* Static types of expressions, for the checks between literals. */
enum st { ST_ANY, ST_BOOL, ST_NUM, ST_STR, ST_NULL, ST_LIST, ST_ERR };

static const char *st_name(enum st t)
{
	switch (t) {
	case ST_BOOL: return "a boolean";
	case ST_NUM: return "a number";
	case ST_STR: return "a string";
	case ST_NULL: return "null";
	case ST_LIST: return "a list";
	default: return "a value";
	}
}

/* Where an expression stands decides what it may use. */
enum ctx_kind { CX_EVENT, CX_WINDOW, CX_SEQ };

struct named {
	const char *name;
	const struct yl_node *node; /* lists: the sequence; macros: the scalar */
	struct rl_set *set;         /* lists, built on first use */
	const struct rl_nets *nets; /* lists used by cidr(), built on first use */
	int nets_bad;               /* ... and found to hold something else than networks */
};

/* State of loading one file. */
/* Rule ids seen so far, across the files of a load: 1 + an index into rs->rules, by hash (a
 * file of 100,000 rules must not take minutes to check for duplicates). */
struct rule_ids {
	uint32_t *slot;
	size_t mask, n;
};

struct file_ld {
	struct rl_ruleset *rs;
	struct rule_ids *ids;
	struct dg_source *src;
	struct dg_sink *sink;
	struct arena *tmp;      /* YAML tree and other parse-time data */
	struct named *lists;
	size_t n_lists;
	struct named *macros;
	size_t n_macros;
	const char *macro_stack[RL_MAX_MACRO_DEPTH];
	size_t macro_depth;
	size_t expansions;      /* macro uses expanded in the current expression */
	size_t file_expansions; /* ... and in the whole file */
	const struct yl_node *expr_sc; /* the scalar of the current expression */
	/* the rule being compiled */
	struct rl_rule *rule;
	enum ctx_kind cx;
	struct rl_agg *aggs;
	size_t n_aggs, cap_aggs;
	/* sequences: the real steps whose aliases the expression may read (the first n_bound) */
	size_t n_bound;
	struct rl_run_agg *run_aggs;
	size_t n_run_aggs, cap_run_aggs;
	/* sequences: what the conditions read of bound events (in_where: compiling one) */
	struct rl_read *reads;
	size_t n_reads, cap_reads;
	uint8_t in_where;
};

/* Maps an offset in a scalar's value to an offset in the file. Exact when the value is the
 * source text itself (plain one-line scalars, quoted ones without escapes); otherwise the
 * scalar's start. */
static size_t scalar_off(const struct file_ld *ld, const struct yl_node *n, size_t off)
{
	size_t start = n->off;

	if (n->style == YL_SINGLE || n->style == YL_DOUBLE)
		start++;
	if (start + n->len <= ld->src->len && memcmp(ld->src->text + start, n->str, n->len) == 0 &&
	    off <= n->len)
		return start + off;
	return n->off;
}

static int is_ident(const char *s, size_t n)
{
	size_t i;

	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return 0;
	return 1;
}

static void oom(struct file_ld *ld, size_t off)
{
	dg_error(ld->sink, ld->src, off, 0, "out of memory");
}

static const char *kind_text(const struct yl_node *n)
{
	if (n->kind == YL_MAP)
		return "a mapping";
	if (n->kind == YL_SEQ)
		return "a list";
	return "a scalar";
}

/* A scalar the YAML loader refused (a tag, an alias): it was reported there, and has no
 * value to check here. */
static int refused(const struct yl_node *n)
{
	return n->bad && n->kind == YL_SCALAR;
}

/* A scalar that must be a string (any YAML scalar text is accepted as text). */
static const char *want_text(struct file_ld *ld, const struct yl_node *n, const char *what)
{
	if (refused(n))
		return NULL;
	if (n->kind != YL_SCALAR) {
		dg_error(ld->sink, ld->src, n->off, 1, "%s must be text, not %s", what,
			 kind_text(n));
		return NULL;
	}
	return n->str;
}

static int want_duration(struct file_ld *ld, const struct yl_node *n, const char *what,
			 int64_t *us)
{
	const char *err;

	if (refused(n))
		return -1;
	if (n->kind != YL_SCALAR) {
		dg_error(ld->sink, ld->src, n->off, 1, "%s must be a duration such as 30s, 5m or 1h30m",
			 what);
		return -1;
	}
	if (tf_parse_duration(n->str, n->len, us, &err)) {
		dg_error(ld->sink, ld->src, n->off, n->end - n->off, "%s: %s", what, err);
		return -1;
	}
	return 0;
}

/* Reports every key of map not in allowed[]. */
static int check_keys(struct file_ld *ld, const struct yl_node *map, const char *const *allowed,
		      const char *where)
{
	size_t i, j;
	int bad = 0;

	for (i = 0; i < map->n_items; i += 2) {
		const struct yl_node *k = map->items[i];

		if (k->kind != YL_SCALAR) {
			bad = 1; /* reported by the YAML loader */
			continue;
		}
		for (j = 0; allowed[j]; j++)
			if (strcmp(k->str, allowed[j]) == 0)
				break;
		if (!allowed[j]) {
			dg_error(ld->sink, ld->src, k->off, k->len, "unknown key '%s' in %s",
				 k->str, where);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

/* ---- expressions: names and types ---- */

static enum st resolve(struct file_ld *ld, const struct yl_node *sc, struct ex_node *n);

static void ex_fail(struct file_ld *ld, const struct yl_node *sc, const struct ex_node *n,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void ex_fail(struct file_ld *ld, const struct yl_node *sc, const struct ex_node *n,
		    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	dg_error(ld->sink, ld->src, scalar_off(ld, sc, n->off), n->len, "%s", msg);
}

static struct named *find_named(struct named *v, size_t n, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(v[i].name) == len && memcmp(v[i].name, name, len) == 0)
			return &v[i];
	return NULL;
}

/* The list from lists: that path p (one segment) names, or NULL after reporting it unknown. */
static struct named *named_list(struct file_ld *ld, const struct yl_node *sc,
				const struct ex_node *p)
{
	struct named *l = find_named(ld->lists, ld->n_lists, p->segs[0], p->seg_lens[0]);

	if (!l)
		ex_fail(ld, sc, p, "unknown list '%s' (declare it under lists:)", p->segs[0]);
	return l;
}

static int cmp_num(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
	const struct tl_value *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->str, y->str, n);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int cmp_word(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Builds a set from literal values. */
static struct rl_set *make_set(struct file_ld *ld, const struct tl_value *vals, size_t n)
{
	struct rl_set *s = arena_alloc(&ld->rs->arena, sizeof *s);
	size_t i;

	if (!s)
		return NULL;
	s->nums = arena_alloc(&ld->rs->arena, (n + 1) * sizeof *s->nums);
	s->strs = arena_alloc(&ld->rs->arena, (n + 1) * sizeof *s->strs);
	if (!s->nums || !s->strs)
		return NULL;
	for (i = 0; i < n; i++) {
		if (vals[i].type == TL_NUM)
			s->nums[s->n_nums++] = vals[i].num;
		else if (vals[i].type == TL_STR)
			s->strs[s->n_strs++] = vals[i];
		else if (vals[i].type == TL_BOOL && vals[i].b)
			s->has_true = 1;
		else if (vals[i].type == TL_BOOL)
			s->has_false = 1;
	}
	qsort(s->nums, s->n_nums, sizeof *s->nums, cmp_num);
	qsort(s->strs, s->n_strs, sizeof *s->strs, cmp_str);
	for (i = 0; i < s->n_strs && s->strs[i].len <= 7; i++)
		;
	if (s->n_strs && i == s->n_strs) {
		/* short strings (country codes, categories) are found as numbers */
		s->words = arena_alloc(&ld->rs->arena, s->n_strs * sizeof *s->words);
		if (!s->words)
			return NULL;
		for (i = 0; i < s->n_strs; i++)
			s->words[i] = rl_word(s->strs[i].str, s->strs[i].len);
		qsort(s->words, s->n_strs, sizeof *s->words, cmp_word);
	}
	return s;
}

/* The set of a named list, built from its YAML sequence on first use. */
static struct rl_set *list_set(struct file_ld *ld, struct named *l)
{
	const struct yl_node *seq = l->node;
	struct tl_value *vals;
	size_t i;

	if (l->set)
		return l->set;
	vals = arena_alloc(ld->tmp, (seq->n_items + 1) * sizeof *vals);
	if (!vals)
		return NULL;
	for (i = 0; i < seq->n_items; i++) {
		const struct yl_node *it = seq->items[i];
		double d;
		int b;

		if (yl_get_number(it, &d)) {
			vals[i].type = TL_NUM;
			vals[i].num = d;
		} else if (yl_get_bool(it, &b)) {
			vals[i].type = TL_BOOL;
			vals[i].b = (uint8_t)b;
		} else {
			vals[i].type = TL_STR;
			vals[i].str = arena_strndup(&ld->rs->arena, it->str, it->len);
			vals[i].len = (uint32_t)it->len;
			if (!vals[i].str)
				return NULL;
		}
	}
	l->set = make_set(ld, vals, seq->n_items);
	return l->set;
}

static int add_field(struct file_ld *ld, const char *const *segs, const size_t *lens, size_t n,
		     uint32_t *slot)
{
	int s = jd_fields_add(ld->rs->fields, segs, lens, n);

	if (s < 0)
		return -1;
	*slot = (uint32_t)s;
	return 0;
}

static enum st resolve_in(struct file_ld *ld, const struct yl_node *sc, struct ex_node *n)
{
	struct ex_node *r = n->kids[1];
	struct rl_set *set = NULL;
	enum st lt = resolve(ld, sc, n->kids[0]);

	if (r->kind == EX_LIST) {
		struct tl_value *vals = arena_alloc(ld->tmp, (r->n_kids + 1) * sizeof *vals);
		size_t i;

		if (!vals) {
			oom(ld, sc->off);
			return ST_ERR;
		}
		for (i = 0; i < r->n_kids; i++) {
			if (r->kids[i]->kind != EX_LIT || r->kids[i]->val.type == TL_NULL) {
				ex_fail(ld, sc, r->kids[i],
					"a list after 'in' holds strings, numbers or booleans");
				return ST_ERR;
			}
			vals[i] = r->kids[i]->val;
		}
		set = make_set(ld, vals, r->n_kids);
	} else if (r->kind == EX_PATH && r->n_segs == 1) {
		struct named *l = named_list(ld, sc, r);

		if (!l)
			return ST_ERR;
		set = list_set(ld, l);
	} else {
		ex_fail(ld, sc, r, "'%s' needs a list: [a, b] or the name of a list from lists:",
			ex_kind_text[n->kind]);
		return ST_ERR;
	}
	if (!set) {
		oom(ld, sc->off);
		return ST_ERR;
	}
	r->kind = EX_SET;
	r->ref = set;
	if (lt == ST_ERR)
		return ST_ERR;
	if (lt == ST_LIST || lt == ST_NULL) {
		ex_fail(ld, sc, n->kids[0], "%s cannot be looked up in a list", st_name(lt));
		return ST_ERR;
	}
	return ST_BOOL;
}

static enum st resolve_regex(struct file_ld *ld, const struct yl_node *sc, struct ex_node *n)
{
	struct ex_node *p = n->kids[1];
	enum st lt = resolve(ld, sc, n->kids[0]);
	char msg[256];
	size_t erroff;
	struct rx *re;

	if (p->kind != EX_LIT || p->val.type != TL_STR) {
		ex_fail(ld, sc, p, "'matches' needs a regular expression in a string literal");
		return ST_ERR;
	}
	re = rx_compile(p->val.str, p->val.len, msg, sizeof msg, &erroff);
	if (!re) {
		/* point into the pattern when its text is the source text */
		struct ex_node at = *p;

		if (erroff < p->val.len) {
			at.off = p->off + 1 + (uint32_t)erroff;
			at.len = 1;
		}
		ex_fail(ld, sc, &at, "invalid regular expression: %s (at offset %zu of the pattern)",
			msg, erroff);
		return ST_ERR;
	}
	if (tl_grow((void **)&ld->rs->regexes, &ld->rs->cap_regexes, ld->rs->n_regexes + 1,
		    sizeof *ld->rs->regexes)) {
		rx_free(re);
		oom(ld, sc->off);
		return ST_ERR;
	}
	ld->rs->regexes[ld->rs->n_regexes++] = re;
	n->kind = EX_REGEX;
	n->ref = re;
	/* lower(s) matches literal strings of small letters: s is searched in place, its
	 * capitals read as small letters (eval.c), instead of lowered into a copy first */
	n->fn = n->kids[0]->kind == EX_FUNC && n->kids[0]->fn == RL_FN_LOWER && rx_folds(re);
	if (lt != ST_ANY && lt != ST_STR && lt != ST_ERR) {
		ex_fail(ld, sc, n->kids[0], "'matches' needs a string, not %s", st_name(lt));
		return ST_ERR;
	}
	return lt == ST_ERR ? ST_ERR : ST_BOOL;
}

/* A network of cidr(), "address/prefix", as the range of addresses it spans: returns its
 * family, 4 or 6, or 0 when the text is no network. Address bits past the prefix are ignored. */
static int parse_net(const char *s, size_t len, struct rl_range4 *r4, struct rl_range6 *r6)
{
	char buf[64];
	const char *slash;
	char *end;
	long prefix;
	uint8_t a[16];
	int family, i;

	if (len >= sizeof buf || (len && memchr(s, '\0', len)))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (!slash)
		return 0;
	buf[slash - buf] = '\0';
	if (inet_pton(AF_INET, buf, a) == 1)
		family = 4;
	else if (inet_pton(AF_INET6, buf, a) == 1)
		family = 6;
	else
		return 0;
	if (!isdigit((unsigned char)slash[1]))
		return 0;
	prefix = strtol(slash + 1, &end, 10);
	if (*end || prefix < 0 || prefix > (family == 4 ? 32 : 128))
		return 0;
	if (family == 4) {
		uint32_t x = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
		uint32_t host = prefix == 0 ? UINT32_MAX : (uint32_t)((1ull << (32 - prefix)) - 1);

		r4->lo = x & ~host;
		r4->hi = x | host;
		return 4;
	}
	rl_addr6(a, r6->lo);
	for (i = 0; i < 2; i++) {
		uint64_t w = r6->lo[i], host;
		long bits = prefix - 64 * i; /* bits of the prefix in this word */

		host = bits <= 0 ? UINT64_MAX : bits >= 64 ? 0 : UINT64_MAX >> bits;
		r6->lo[i] = w & ~host;
		r6->hi[i] = w | host;
	}
	return 6;
}

static int cmp_range4(const void *a, const void *b)
{
	uint32_t x = ((const struct rl_range4 *)a)->lo, y = ((const struct rl_range4 *)b)->lo;

	return x < y ? -1 : x > y;
}

static int cmp_range6(const void *a, const void *b)
{
	return rl_cmp6(((const struct rl_range6 *)a)->lo, ((const struct rl_range6 *)b)->lo);
}

/* 1 when the range starting at lo touches or overlaps the one ending at hi (lo <= hi + 1). */
static int joins6(const uint64_t *lo, const uint64_t *hi)
{
	uint64_t next[2];

	if (rl_cmp6(lo, hi) <= 0)
		return 1;
	/* lo > hi, so hi is not the last address and hi + 1 does not wrap */
	next[1] = hi[1] + 1;
	next[0] = hi[0] + (next[1] == 0);
	return rl_cmp6(lo, next) == 0;
}

/* The networks v4[0 .. n4) and v6[0 .. n6) (scratch, reordered here) as an rl_nets in the rule
 * set's arena: sorted, overlapping and adjacent ranges merged. NULL on allocation failure. */
static struct rl_nets *nets_make(struct file_ld *ld, struct rl_range4 *v4, size_t n4,
				 struct rl_range6 *v6, size_t n6)
{
	struct rl_nets *s = arena_alloc(&ld->rs->arena, sizeof *s);
	struct rl_range4 *o4;
	struct rl_range6 *o6;
	size_t i, m = 0;

	if (!s || n4 > UINT32_MAX || n6 > UINT32_MAX)
		return NULL;
	o4 = arena_alloc(&ld->rs->arena, (n4 + 1) * sizeof *o4);
	o6 = arena_alloc(&ld->rs->arena, (n6 + 1) * sizeof *o6);
	if (!o4 || !o6)
		return NULL;
	if (n4)
		qsort(v4, n4, sizeof *v4, cmp_range4);
	for (i = 0; i < n4; i++) {
		if (m && (o4[m - 1].hi == UINT32_MAX || v4[i].lo <= o4[m - 1].hi + 1)) {
			if (v4[i].hi > o4[m - 1].hi)
				o4[m - 1].hi = v4[i].hi;
		} else {
			o4[m++] = v4[i];
		}
	}
	s->v4 = o4;
	s->n4 = (uint32_t)m;
	memset(s->first4, 0, sizeof s->first4);
	for (i = 0; i < m; i++) {
		unsigned o;

		for (o = o4[i].lo >> 24; o <= o4[i].hi >> 24; o++)
			s->first4[o / 64] |= (uint64_t)1 << (o % 64);
	}
	m = 0;
	if (n6)
		qsort(v6, n6, sizeof *v6, cmp_range6);
	for (i = 0; i < n6; i++) {
		if (m && joins6(v6[i].lo, o6[m - 1].hi)) {
			if (rl_cmp6(v6[i].hi, o6[m - 1].hi) > 0)
				memcpy(o6[m - 1].hi, v6[i].hi, sizeof v6[i].hi);
		} else {
			o6[m++] = v6[i];
		}
	}
	s->v6 = o6;
	s->n6 = (uint32_t)m;
	return s;
}

/* The networks of both sides of an || of cidr() over one field, as one rl_nets. */
static const struct rl_nets *nets_union(struct file_ld *ld, const struct rl_nets *a,
					const struct rl_nets *b)
{
	size_t n4 = (size_t)a->n4 + b->n4, n6 = (size_t)a->n6 + b->n6;
	struct rl_range4 *v4 = arena_alloc(ld->tmp, (n4 + 1) * sizeof *v4);
	struct rl_range6 *v6 = arena_alloc(ld->tmp, (n6 + 1) * sizeof *v6);
	struct rl_nets *u;

	if (!v4 || !v6)
		return NULL;
	if (a->n4)
		memcpy(v4, a->v4, a->n4 * sizeof *v4);
	if (b->n4)
		memcpy(v4 + a->n4, b->v4, b->n4 * sizeof *v4);
	if (a->n6)
		memcpy(v6, a->v6, a->n6 * sizeof *v6);
	if (b->n6)
		memcpy(v6 + a->n6, b->v6, b->n6 * sizeof *v6);
	u = nets_make(ld, v4, n4, v6, n6);
	if (u) {
		u->lone4 = a->lone4 | b->lone4;
		u->lone6 = a->lone6 | b->lone6;
	}
	return u;
}

#define NET_EXPECTED "expected an address/prefix such as \"10.0.0.0/8\" or \"2001:db8::/32\""

/* The networks of cidr()'s second argument: a string literal, a list literal of them, or the
 * name of a list from lists:. NULL after reporting (or on allocation failure, reported). */
static const struct rl_nets *cidr_nets(struct file_ld *ld, const struct yl_node *sc,
				       struct ex_node *net)
{
	struct rl_range4 *v4;
	struct rl_range6 *v6;
	struct named *l = NULL;
	size_t n, n4 = 0, n6 = 0, i;
	struct rl_nets *nets;
	int bad = 0;

	if (net->kind == EX_LIT && net->val.type == TL_STR) {
		n = 1;
	} else if (net->kind == EX_LIST) {
		n = net->n_kids;
	} else if (net->kind == EX_PATH && net->n_segs == 1) {
		if (!(l = named_list(ld, sc, net)))
			return NULL;
		if (l->nets || l->nets_bad)
			goto named;
		n = l->node->n_items;
	} else {
		ex_fail(ld, sc, net, "cidr() needs a network in a string literal, such as \"10.0.0.0/8\", "
			"a list of them, or the name of a list from lists:");
		return NULL;
	}
	v4 = arena_alloc(ld->tmp, (n + 1) * sizeof *v4);
	v6 = arena_alloc(ld->tmp, (n + 1) * sizeof *v6);
	if (!v4 || !v6) {
		oom(ld, sc->off);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		const char *text;
		size_t len;
		int fam;

		if (l) {
			const struct yl_node *it = l->node->items[i];
			double d;
			int b;

			if (it->kind != YL_SCALAR || it->bad || !it->str) {
				bad = 1; /* reported when lists: was read */
				continue;
			}
			fam = yl_get_number(it, &d) || yl_get_bool(it, &b)
				      ? 0
				      : parse_net(it->str, it->len, &v4[n4], &v6[n6]);
			if (!fam) {
				dg_error(ld->sink, ld->src, it->off, it->end - it->off,
					 "invalid network \"%.*s\" in list '%s', used by cidr(): " NET_EXPECTED,
					 (int)it->len, it->str, l->name);
				bad = 1;
			}
		} else {
			const struct ex_node *k = net->kind == EX_LIST ? net->kids[i] : net;

			if (k->kind != EX_LIT || k->val.type != TL_STR) {
				ex_fail(ld, sc, k, "cidr() needs networks in string literals, such as \"10.0.0.0/8\"");
				bad = 1;
				continue;
			}
			text = k->val.str;
			len = k->val.len;
			fam = parse_net(text, len, &v4[n4], &v6[n6]);
			if (!fam) {
				ex_fail(ld, sc, k, "invalid network \"%.*s\": " NET_EXPECTED, (int)len, text);
				bad = 1;
			}
		}
		n4 += fam == 4;
		n6 += fam == 6;
	}
	if (bad) {
		if (l)
			l->nets_bad = 1;
		return NULL;
	}
	nets = nets_make(ld, v4, n4, v6, n6);
	if (!nets) {
		oom(ld, sc->off);
		return NULL;
	}
	if (net->kind == EX_LIT) { /* one network */
		nets->lone4 = n4 == 1;
		nets->lone6 = n6 == 1;
	}
	if (l)
		l->nets = nets;
	if (net->kind != EX_LIT)
		net->kind = EX_SET; /* printed as the list or its name; no rl_set: not for `in` */
	return nets;
named:
	if (l->nets_bad)
		return NULL; /* reported where the list was first used */
	net->kind = EX_SET; /* printed as the list's name */
	return l->nets;
}

static int is_repeated(const struct rl_step *st)
{
	return !(st->min == 1 && st->max == 1);
}

/* The real step named by a one-segment path in a sequence, or -1. Reports a step that is not
 * bound yet (-2). */
static int find_step(struct file_ld *ld, const struct yl_node *sc, const struct ex_node *p)
{
	const struct rl_rule *r = ld->rule;
	size_t i;

	if (ld->cx != CX_SEQ || p->kind != EX_PATH)
		return -1;
	for (i = 0; i < r->n_steps; i++)
		if (strlen(r->steps[i].name) == p->seg_lens[0] &&
		    memcmp(r->steps[i].name, p->segs[0], p->seg_lens[0]) == 0)
			break;
	if (i == r->n_steps)
		return -1;
	if (i >= ld->n_bound) {
		ex_fail(ld, sc, p, "step alias '%s' is used before it is bound", r->steps[i].name);
		return -2;
	}
	return (int)i;
}

/* count(a), sum(a.f), ... over the events of a step, kept per run. */
static enum st resolve_run_agg(struct file_ld *ld, const struct yl_node *sc, struct ex_node *n,
			       int kind)
{
	struct ex_node *a = n->n_kids == 1 ? n->kids[0] : NULL;
	struct rl_run_agg *ra;
	int step = a && a->kind == EX_PATH ? find_step(ld, sc, a) : -1;
	size_t i;

	if (step == -2)
		return ST_ERR;
	if (step < 0 || (kind == RL_AGG_COUNT ? a->n_segs != 1 : a->n_segs < 2)) {
		ex_fail(ld, sc, n, kind == RL_AGG_COUNT
				       ? "in a sequence, count() reads a step: count(a)"
				       : "in a sequence, %s() reads a field of a step: %s(a.amount)",
			n->name, n->name);
		return ST_ERR;
	}
	if (tl_grow((void **)&ld->run_aggs, &ld->cap_run_aggs, ld->n_run_aggs + 1,
		    sizeof *ld->run_aggs)) {
		oom(ld, sc->off);
		return ST_ERR;
	}
	ra = &ld->run_aggs[ld->n_run_aggs];
	ra->kind = (uint8_t)kind;
	ra->step = (uint32_t)step;
	ra->slot = 0;
	if (kind != RL_AGG_COUNT &&
	    add_field(ld, (const char *const *)a->segs + 1, a->seg_lens + 1, a->n_segs - 1,
		      &ra->slot)) {
		oom(ld, sc->off);
		return ST_ERR;
	}
	n->kind = EX_AGG;
	/* the same aggregate written twice (in a step and in emit, say) is kept once: every run
	 * updates each of its aggregates on every event it binds */
	for (i = 0; i < ld->n_run_aggs; i++)
		if (ld->run_aggs[i].kind == ra->kind && ld->run_aggs[i].step == ra->step &&
		    ld->run_aggs[i].slot == ra->slot)
			break;
	n->slot = (uint32_t)i;
	if (i == ld->n_run_aggs)
		ld->n_run_aggs++;
	return ST_NUM;
}

/* Moves the n items of size `size` that *from holds (a growing array of the loader) into the
 * rule set's arena, as *to and *n_to; frees *from. 0, or -1 on allocation failure. */
static int to_arena(struct file_ld *ld, void **from, size_t n, size_t size, void **to,
		    size_t *n_to)
{
	int ret = 0;

	if (n) {
		*to = arena_alloc(&ld->rs->arena, n * size);
		if (*to) {
			memcpy(*to, *from, n * size);
			*n_to = n;
		} else {
			ret = -1;
		}
	}
	tl_free(*from);
	*from = NULL;
	return ret;
}

/* What binding an event to each real step of a sequence rule r updates (rl_step.accs and
 * keeps): 0, or -1 on allocation failure (reported at off, the rule's place). */
static int step_binds(struct file_ld *ld, struct rl_rule *r, size_t off)
{
	size_t s, i;

	for (s = 0; s < r->n_steps; s++) {
		struct rl_step *st = &r->steps[s];

		st->accs = arena_alloc(&ld->rs->arena, (r->n_run_aggs + 1) * sizeof *st->accs);
		st->keeps = arena_alloc(&ld->rs->arena, (r->n_reads + 1) * sizeof *st->keeps);
		if (!st->accs || !st->keeps) {
			oom(ld, off);
			return -1;
		}
		st->n_accs = st->n_keeps = 0;
		for (i = 0; i < r->n_run_aggs; i++)
			if (r->run_aggs[i].step == s && r->run_aggs[i].kind != RL_AGG_COUNT)
				st->accs[st->n_accs++] = (uint32_t)i;
		for (i = 0; i < r->n_reads; i++)
			if (r->reads[i].step == s)
				st->keeps[st->n_keeps++] = (uint32_t)i;
		st->bind_plain = st->n_keeps == 0;
		for (i = 0; i < st->n_accs; i++)
			if (r->run_aggs[st->accs[i]].kind == RL_AGG_DISTINCT)
				st->bind_plain = 0;
	}
	return 0;
}

/* Notes that alias n (resolved) is read by a sequence's condition: n->read is its place in the
 * rule's reads, each (step, field, first or last) once. Elsewhere (emit) nothing. */
static enum st note_read(struct file_ld *ld, const struct yl_node *sc, struct ex_node *n,
			 enum st t)
{
	struct rl_read rd = { n->step, n->slot, n->fn == EX_ALIAS_LAST };
	size_t i;

	if (!ld->in_where)
		return t;
	for (i = 0; i < ld->n_reads; i++)
		if (ld->reads[i].step == rd.step && ld->reads[i].slot == rd.slot &&
		    ld->reads[i].last == rd.last)
			break;
	if (i == ld->n_reads) {
		if (tl_grow((void **)&ld->reads, &ld->cap_reads, ld->n_reads + 1, sizeof *ld->reads)) {
			oom(ld, sc->off);
			return ST_ERR;
		}
		ld->reads[ld->n_reads++] = rd;
	}
	n->read = (uint32_t)i + 1;
	return t;
}

/* first(a).f and last(a).f: n is the member node. */
static enum st resolve_member(struct file_ld *ld, const struct yl_node *sc, struct ex_node *n)
{
	struct ex_node *call = n->kids[0];
	int which, step = -1;

	if (call->kind != EX_CALL || (strcmp(call->name, "first") && strcmp(call->name, "last"))) {
		ex_fail(ld, sc, n, "'.' after a call reads first(step) or last(step) of a sequence");
		return ST_ERR;
	}
	which = strcmp(call->name, "first") == 0 ? EX_ALIAS_FIRST : EX_ALIAS_LAST;
	if (call->n_kids == 1 && call->kids[0]->kind == EX_PATH && call->kids[0]->n_segs == 1)
		step = find_step(ld, sc, call->kids[0]);
	if (step == -2)
		return ST_ERR;
	if (step < 0) {
		ex_fail(ld, sc, call, "%s() reads a step of a sequence, as in %s(a).amount",
			call->name, call->name);
		return ST_ERR;
	}
	if (add_field(ld, (const char *const *)n->segs, n->seg_lens, n->n_segs, &n->slot)) {
		oom(ld, sc->off);
		return ST_ERR;
	}
	n->kind = EX_ALIAS;
	n->fn = (uint8_t)which;
	n->step = (uint32_t)step;
	return note_read(ld, sc, n, ST_ANY);
}

static enum st resolve_call(struct file_ld *ld, const struct yl_node *sc, struct ex_node *n)
{
	size_t i;
	int fn;

	for (i = 0; i < RL_N_AGGS; i++) {
		struct rl_agg *agg;

		if (strcmp(n->name, rl_agg_names[i]) != 0)
			continue;
		if (ld->cx == CX_SEQ)
			return resolve_run_agg(ld, sc, n, (int)i);
		if (ld->cx != CX_WINDOW) {
			ex_fail(ld, sc, n,
				"%s() is an aggregate: it can be used in a threshold's when and emit, "
				"and over a step of a sequence",
				n->name);
			return ST_ERR;
		}
		if (i == RL_AGG_COUNT ? n->n_kids != 0 : n->n_kids != 1) {
			ex_fail(ld, sc, n, i == RL_AGG_COUNT ? "count() takes no argument in a threshold"
							     : "%s() takes one argument", n->name);
			return ST_ERR;
		}
		if (n->n_kids) {
			enum st t;

			ld->cx = CX_EVENT;
			t = resolve(ld, sc, n->kids[0]);
			ld->cx = CX_WINDOW;
			if (t == ST_ERR)
				return ST_ERR;
			if (i != RL_AGG_DISTINCT && t != ST_ANY && t != ST_NUM) {
				ex_fail(ld, sc, n->kids[0], "%s() needs a number, not %s", n->name,
					st_name(t));
				return ST_ERR;
			}
		}
		if (tl_grow((void **)&ld->aggs, &ld->cap_aggs, ld->n_aggs + 1, sizeof *ld->aggs)) {
			oom(ld, sc->off);
			return ST_ERR;
		}
		agg = &ld->aggs[ld->n_aggs];
		agg->kind = (uint8_t)i;
		agg->arg = n->n_kids ? n->kids[0] : NULL;
		n->kind = EX_AGG;
		n->slot = (uint32_t)ld->n_aggs++;
		return ST_NUM;
	}
	for (fn = 0; fn < RL_N_FUNCS; fn++)
		if (strcmp(n->name, rl_funcs[fn].name) == 0)
			break;
	if (fn == RL_N_FUNCS) {
		if (strcmp(n->name, "first") == 0 || strcmp(n->name, "last") == 0)
			ex_fail(ld, sc, n, "%s() reads a step of a sequence, as in %s(a).amount",
				n->name, n->name);
		else
			ex_fail(ld, sc, n, "unknown function '%s'", n->name);
		return ST_ERR;
	}
	if ((int)n->n_kids < rl_funcs[fn].lo || (int)n->n_kids > rl_funcs[fn].hi) {
		if (rl_funcs[fn].lo == rl_funcs[fn].hi)
			ex_fail(ld, sc, n, "%s() takes %d argument%s", n->name, rl_funcs[fn].lo,
				rl_funcs[fn].lo == 1 ? "" : "s");
		else
			ex_fail(ld, sc, n, "%s() takes %d to %d arguments", n->name, rl_funcs[fn].lo,
				rl_funcs[fn].hi);
		return ST_ERR;
	}
	n->kind = EX_FUNC;
	n->fn = (uint8_t)fn;
	switch (fn) {
	case RL_FN_EXISTS: {
		struct ex_node *a = n->kids[0];

		if (a->kind != EX_PATH) {
			ex_fail(ld, sc, a, "exists() needs a field name");
			return ST_ERR;
		}
		if (add_field(ld, (const char *const *)a->segs, a->seg_lens, a->n_segs, &a->slot)) {
			oom(ld, sc->off);
			return ST_ERR;
		}
		a->kind = EX_FIELD;
		return ST_BOOL;
	}
	case RL_FN_TIME:
		if (n->n_kids) {
			struct ex_node *a = n->kids[0];
			int step = a->kind == EX_PATH && a->n_segs == 1 ? find_step(ld, sc, a) : -1;

			if (step == -2)
				return ST_ERR;
			if (step < 0) {
				ex_fail(ld, sc, n, ld->cx == CX_SEQ
					? "time() takes no argument, or the alias of a step"
					: "time(alias) reads a step of a sequence; this rule has no steps");
				return ST_ERR;
			}
			if (is_repeated(&ld->rule->steps[step])) {
				ex_fail(ld, sc, n, "'%s' is a repeated step: time() reads a single "
					"step; read first(%s).ts or last(%s).ts",
					ld->rule->steps[step].name, ld->rule->steps[step].name,
					ld->rule->steps[step].name);
				return ST_ERR;
			}
			n->kind = EX_ALIAS;
			n->fn = EX_ALIAS_ONLY;
			n->step = (uint32_t)step;
			n->slot = EX_ALIAS_TIME;
			return note_read(ld, sc, n, ST_NUM);
		}
		return ST_NUM;
	case RL_FN_CIDR: {
		enum st t = resolve(ld, sc, n->kids[0]);
		const struct rl_nets *nets = cidr_nets(ld, sc, n->kids[1]);

		if (!nets)
			return ST_ERR;
		n->ref = (void *)nets;
		if (t == ST_ERR)
			return ST_ERR;
		if (t != ST_ANY && t != ST_STR) {
			ex_fail(ld, sc, n->kids[0], "cidr() needs an address string, not %s",
				st_name(t));
			return ST_ERR;
		}
		return ST_BOOL;
	}
	default:
		break;
	}
	{
		enum st t = resolve(ld, sc, n->kids[0]);
		enum st need = (fn == RL_FN_ABS) ? ST_NUM : ST_STR;

		if (t == ST_ERR)
			return ST_ERR;
		if (t != ST_ANY && t != need) {
			ex_fail(ld, sc, n->kids[0], "%s() needs %s, not %s", n->name, st_name(need),
				st_name(t));
			return ST_ERR;
		}
		return (fn == RL_FN_LOWER || fn == RL_FN_UPPER) ? ST_STR : ST_NUM;
	}
}

static enum st resolve_macro(struct file_ld *ld, struct ex_node *n, struct named *m)
{
	const struct yl_node *msc = m->node;
	struct ex_error err;
	struct ex_node *root;
	enum st t;
	size_t i;

	if (ld->expansions >= RL_MAX_EXPANSIONS) {
		if (ld->expansions++ == RL_MAX_EXPANSIONS) /* said once; the rest is cut short */
			dg_error(ld->sink, ld->src, ld->expr_sc->off,
				 ld->expr_sc->end - ld->expr_sc->off,
				 "macros expand to more than %d macro uses in this expression (macro "
				 "'%s' at the limit)", RL_MAX_EXPANSIONS, m->name);
		return ST_ERR;
	}
	if (ld->file_expansions >= RL_MAX_FILE_EXPANSIONS) {
		if (ld->file_expansions++ == RL_MAX_FILE_EXPANSIONS)
			dg_error(ld->sink, ld->src, ld->expr_sc->off,
				 ld->expr_sc->end - ld->expr_sc->off,
				 "macros expand to more than %d macro uses in this file",
				 RL_MAX_FILE_EXPANSIONS);
		return ST_ERR;
	}
	ld->expansions++;
	ld->file_expansions++;
	for (i = 0; i < ld->macro_depth; i++)
		if (ld->macro_stack[i] == m->name) {
			dg_error(ld->sink, ld->src, msc->off, msc->end - msc->off,
				 "macro '%s' uses itself", m->name);
			return ST_ERR;
		}
	if (ld->macro_depth == RL_MAX_MACRO_DEPTH) {
		dg_error(ld->sink, ld->src, msc->off, 0, "macros nested too deeply");
		return ST_ERR;
	}
	root = ex_parse(msc->str, msc->len, &ld->rs->arena, &err);
	if (!root)
		return ST_ERR; /* reported once where the macro is declared */
	ld->macro_stack[ld->macro_depth++] = m->name;
	t = resolve(ld, msc, root);
	ld->macro_depth--;
	*n = *root;
	return t;
}

static enum st resolve_path(struct file_ld *ld, const struct yl_node *sc, struct ex_node *n)
{
	/* a step alias is read through one of its fields (a.amount); a name alone is a macro
	 * or a field of the current event, even when a step has that name */
	int step = n->n_segs >= 2 ? find_step(ld, sc, n) : -1;

	if (step == -2)
		return ST_ERR;
	if (step >= 0) {
		const struct rl_step *st = &ld->rule->steps[step];

		if (is_repeated(st)) {
			ex_fail(ld, sc, n, "'%s' is a repeated step: read it with first(%s).f, "
				"last(%s).f or an aggregate such as sum(%s.f)",
				st->name, st->name, st->name, st->name);
			return ST_ERR;
		}
		if (add_field(ld, (const char *const *)n->segs + 1, n->seg_lens + 1, n->n_segs - 1,
			      &n->slot)) {
			oom(ld, sc->off);
			return ST_ERR;
		}
		n->kind = EX_ALIAS;
		n->fn = EX_ALIAS_ONLY;
		n->step = (uint32_t)step;
		return note_read(ld, sc, n, ST_ANY);
	}
	if (n->n_segs == 1) {
		struct named *m = find_named(ld->macros, ld->n_macros, n->segs[0], n->seg_lens[0]);

		if (m)
			return resolve_macro(ld, n, m);
		if (find_named(ld->lists, ld->n_lists, n->segs[0], n->seg_lens[0])) {
			ex_fail(ld, sc, n, "list '%s' can only be used after 'in'", n->segs[0]);
			return ST_ERR;
		}
	}
	if (add_field(ld, (const char *const *)n->segs, n->seg_lens, n->n_segs, &n->slot)) {
		oom(ld, sc->off);
		return ST_ERR;
	}
	n->kind = EX_FIELD;
	return ST_ANY;
}

static enum st lit_type(const struct tl_value *v)
{
	switch (v->type) {
	case TL_NULL: return ST_NULL;
	case TL_BOOL: return ST_BOOL;
	case TL_NUM: return ST_NUM;
	case TL_STR: return ST_STR;
	default: return ST_ANY;
	}
}

/* The field slot that cidr() at n reads, when n is one (or an || of them, marked), or -1. */
static long cidr_field(const struct ex_node *n)
{
	if (n->kind == EX_FUNC && n->fn == RL_FN_CIDR && n->kids[0]->kind == EX_FIELD)
		return (long)n->kids[0]->slot;
	if (n->kind == EX_OR && n->fn)
		return (long)n->slot;
	return -1;
}

/* Marks an || whose sides are all cidr() of one field (a block list: cidr(ip, "...") ||
 * cidr(ip, "...")): fn 1, slot the field's, ref the networks of both sides in one rl_nets;
 * the evaluator judges it as one cidr(). 0, or -1 on allocation failure. */
static int mark_cidr_any(struct file_ld *ld, struct ex_node *n)
{
	long a = cidr_field(n->kids[0]);

	if (a >= 0 && a == cidr_field(n->kids[1])) {
		n->ref = (void *)nets_union(ld, n->kids[0]->ref, n->kids[1]->ref);
		if (!n->ref)
			return -1;
		n->fn = 1;
		n->slot = (uint32_t)a;
	}
	return 0;
}

/* Resolves names in place and returns the static type, or ST_ERR after reporting. */
static enum st resolve(struct file_ld *ld, const struct yl_node *sc, struct ex_node *n)
{
	enum st a, b;

	switch (n->kind) {
	case EX_LIT:
		return lit_type(&n->val);
	case EX_LIST:
		ex_fail(ld, sc, n, "a list literal can only follow 'in' or 'not in'");
		return ST_ERR;
	case EX_PATH:
		return resolve_path(ld, sc, n);
	case EX_CALL:
		return resolve_call(ld, sc, n);
	case EX_MEMBER:
		return resolve_member(ld, sc, n);
	case EX_IN: case EX_NOT_IN:
		return resolve_in(ld, sc, n);
	case EX_MATCHES:
		return resolve_regex(ld, sc, n);
	case EX_NOT: case EX_NEG:
		a = resolve(ld, sc, n->kids[0]);
		if (a == ST_ERR)
			return ST_ERR;
		if (n->kind == EX_NOT && a != ST_ANY && a != ST_BOOL) {
			ex_fail(ld, sc, n, "'!' needs a condition, not %s", st_name(a));
			return ST_ERR;
		}
		if (n->kind == EX_NEG && a != ST_ANY && a != ST_NUM) {
			ex_fail(ld, sc, n, "unary '-' needs a number, not %s", st_name(a));
			return ST_ERR;
		}
		return n->kind == EX_NOT ? ST_BOOL : ST_NUM;
	default:
		break;
	}
	/* binary operators */
	a = resolve(ld, sc, n->kids[0]);
	b = resolve(ld, sc, n->kids[1]);
	if (a == ST_ERR || b == ST_ERR)
		return ST_ERR;
	switch (n->kind) {
	case EX_OR: case EX_AND:
		if ((a != ST_ANY && a != ST_BOOL) || (b != ST_ANY && b != ST_BOOL)) {
			ex_fail(ld, sc, (a != ST_ANY && a != ST_BOOL) ? n->kids[0] : n->kids[1],
				"'%s' needs conditions, not %s", ex_kind_text[n->kind],
				st_name((a != ST_ANY && a != ST_BOOL) ? a : b));
			return ST_ERR;
		}
		if (n->kind == EX_OR && mark_cidr_any(ld, n)) {
			oom(ld, sc->off);
			return ST_ERR;
		}
		return ST_BOOL;
	case EX_EQ: case EX_NE:
		/* `f == null` tests for absence; every other comparison with a null is unknown */
		n->fn = (uint8_t)((n->kids[0]->kind == EX_LIT && n->kids[0]->val.type == TL_NULL) ||
				  (n->kids[1]->kind == EX_LIT && n->kids[1]->val.type == TL_NULL));
		if (a != ST_ANY && b != ST_ANY && a != b && a != ST_NULL && b != ST_NULL) {
			ex_fail(ld, sc, n, "type error: '%s' between %s and %s is never true",
				ex_kind_text[n->kind], st_name(a), st_name(b));
			return ST_ERR;
		}
		return ST_BOOL;
	case EX_LT: case EX_LE: case EX_GT: case EX_GE:
		if ((a != ST_ANY && a != ST_NUM && a != ST_STR) ||
		    (b != ST_ANY && b != ST_NUM && b != ST_STR) ||
		    (a != ST_ANY && b != ST_ANY && a != b)) {
			ex_fail(ld, sc, n, "type error: cannot order %s and %s with '%s'",
				st_name(a), st_name(b), ex_kind_text[n->kind]);
			return ST_ERR;
		}
		n->fn = (uint8_t)((n->kids[0]->kind == EX_FIELD || n->kids[0]->kind == EX_AGG) &&
				  n->kids[1]->kind == EX_LIT && n->kids[1]->val.type == TL_NUM);
		return ST_BOOL;
	case EX_CONTAINS: case EX_STARTSWITH: case EX_ENDSWITH:
		if ((a != ST_ANY && a != ST_STR) || (b != ST_ANY && b != ST_STR)) {
			ex_fail(ld, sc, n, "type error: '%s' needs strings, not %s and %s",
				ex_kind_text[n->kind], st_name(a), st_name(b));
			return ST_ERR;
		}
		return ST_BOOL;
	default: /* arithmetic */
		if ((a != ST_ANY && a != ST_NUM) || (b != ST_ANY && b != ST_NUM)) {
			ex_fail(ld, sc, n, "type error: '%s' needs numbers, not %s and %s",
				ex_kind_text[n->kind], st_name(a), st_name(b));
			return ST_ERR;
		}
		return ST_NUM;
	}
}

/* Parses and resolves the expression text[0..len) that sits at offset base of scalar sc. */
static struct ex_node *compile_expr_at(struct file_ld *ld, const struct yl_node *sc,
				       const char *text, size_t len, size_t base, enum st *type)
{
	struct ex_error err;
	struct ex_node *root = ex_parse(text, len, &ld->rs->arena, &err);

	if (!root) {
		dg_error(ld->sink, ld->src, scalar_off(ld, sc, base + err.off), err.len, "%s",
			 err.msg);
		return NULL;
	}
	/* the offsets of the nodes become offsets in the scalar */
	if (base) {
		struct ex_node *stack[256];
		size_t sp = 0;

		stack[sp++] = root;
		while (sp) {
			struct ex_node *x = stack[--sp];
			size_t i;

			x->off += (uint32_t)base;
			for (i = 0; i < x->n_kids && sp < 256; i++)
				stack[sp++] = x->kids[i];
		}
	}
	ld->expansions = 0;
	ld->expr_sc = sc;
	*type = resolve(ld, sc, root);
	return *type == ST_ERR ? NULL : root;
}

/* The text of a condition scalar, for explain. */
static const char *cond_text(struct file_ld *ld, const struct yl_node *sc)
{
	return sc->kind == YL_SCALAR ? arena_strndup(&ld->rs->arena, sc->str, sc->len) : NULL;
}

/* A `where` or `when` condition. */
static struct ex_node *compile_cond(struct file_ld *ld, const struct yl_node *sc,
				    const char *what)
{
	struct ex_node *root;
	enum st t;

	if (refused(sc))
		return NULL;
	if (sc->kind != YL_SCALAR) {
		dg_error(ld->sink, ld->src, sc->off, 1,
			 "%s must be an expression; one that starts with '[' or '{' must be quoted",
			 what);
		return NULL;
	}
	if (sc->style == YL_PLAIN && sc->len == 0) {
		dg_error(ld->sink, ld->src, sc->off, 1, "%s is empty", what);
		return NULL;
	}
	root = compile_expr_at(ld, sc, sc->str, sc->len, 0, &t);
	if (root && t != ST_ANY && t != ST_BOOL) {
		ex_fail(ld, sc, root, "%s must be a condition, not %s", what, st_name(t));
		return NULL;
	}
	return root;
}

/* ---- emit ---- */

static int is_reserved_emit(const struct file_ld *ld, const char *name)
{
	static const char *const names[] = { "rule", "key", "severity", "start", "count",
					     "events", NULL };
	size_t i;

	for (i = 0; names[i]; i++)
		if (strcmp(name, names[i]) == 0)
			return 1;
	return strlen(name) == ld->rs->time_seg_lens[0] &&
	       memcmp(name, ld->rs->time_segs[0], ld->rs->time_seg_lens[0]) == 0;
}

static int compile_template(struct file_ld *ld, const struct yl_node *v, struct rl_emit *e)
{
	const char *s = arena_strndup(&ld->rs->arena, v->str, v->len);
	size_t len = v->len, pos = 0, n_parts = 0, cap = 0;
	struct rl_tpart *parts = NULL;
	enum st t;

	if (!s) {
		oom(ld, v->off);
		return -1;
	}

	/* exactly one {{ expr }}: the field keeps the expression's type */
	if (len >= 4 && memcmp(s, "{{", 2) == 0 && memcmp(s + len - 2, "}}", 2) == 0 &&
	    !memmem(s + 2, len - 4, "{{", 2) && !memmem(s + 2, len - 4, "}}", 2)) {
		e->kind = RL_EMIT_EXPR;
		e->expr = compile_expr_at(ld, v, s + 2, len - 4, 2, &t);
		return e->expr ? 0 : -1;
	}
	e->kind = RL_EMIT_TEMPLATE;
	while (pos <= len) {
		const char *open = memmem(s + pos, len - pos, "{{", 2);
		struct rl_tpart *p;

		if (n_parts == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct rl_tpart *np = arena_alloc(&ld->rs->arena, ncap * sizeof *np);

			if (!np) {
				oom(ld, v->off);
				return -1;
			}
			if (n_parts)
				memcpy(np, parts, n_parts * sizeof *np);
			parts = np;
			cap = ncap;
		}
		p = &parts[n_parts++];
		if (!open) {
			p->text = s + pos;
			p->len = len - pos;
			break;
		}
		{
			size_t o = (size_t)(open - s);
			const char *close = memmem(s + o + 2, len - o - 2, "}}", 2);
			size_t c;

			if (!close) {
				dg_error(ld->sink, ld->src, scalar_off(ld, v, o), 2,
					 "'{{' without a closing '}}' in an emit template");
				return -1;
			}
			c = (size_t)(close - s);
			p->text = s + pos;
			p->len = o - pos;
			p->expr = compile_expr_at(ld, v, s + o + 2, c - o - 2, o + 2, &t);
			if (!p->expr)
				return -1;
			pos = c + 2;
		}
	}
	e->parts = parts;
	e->n_parts = n_parts;
	return 0;
}

static int json_scalar(struct file_ld *ld, const struct yl_node *v, struct rl_emit *e)
{
	double d;
	int b;
	char buf[40];

	if (yl_get_number(v, &d)) {
		size_t n = jd_format_number(d, buf);

		e->json = arena_strndup(&ld->rs->arena, buf, n);
		e->json_len = n;
	} else if (yl_get_bool(v, &b)) {
		e->json = b ? "true" : "false";
		e->json_len = strlen(e->json);
		return 0;
	} else if (yl_is_null(v)) {
		e->json = "null";
		e->json_len = 4;
		return 0;
	} else {
		return 1; /* a string */
	}
	if (!e->json) {
		oom(ld, v->off);
		return -1;
	}
	return 0;
}

static int compile_emit(struct file_ld *ld, const struct yl_node *map, struct rl_rule *r)
{
	size_t i;
	int bad = 0;

	if (map->kind != YL_MAP) {
		dg_error(ld->sink, ld->src, map->off, 1, "emit must be a mapping of field: value");
		return -1;
	}
	r->emits = arena_alloc(&ld->rs->arena, (map->n_items / 2 + 1) * sizeof *r->emits);
	if (!r->emits) {
		oom(ld, map->off);
		return -1;
	}
	for (i = 0; i < map->n_items; i += 2) {
		const struct yl_node *k = map->items[i], *v = map->items[i + 1];
		struct rl_emit *e = &r->emits[r->n_emits];
		int rc;

		if (k->kind != YL_SCALAR) {
			bad = 1; /* reported by the YAML loader */
			continue;
		}
		if (is_reserved_emit(ld, k->str)) {
			dg_error(ld->sink, ld->src, k->off, k->len,
				 "emit cannot set '%s': the alert sets it itself", k->str);
			bad = 1;
			continue;
		}
		e->name = arena_strndup(&ld->rs->arena, k->str, k->len);
		e->name_len = k->len;
		if (refused(v)) {
			bad = 1;
			continue;
		}
		if (v->kind != YL_SCALAR) {
			dg_error(ld->sink, ld->src, v->off, 1,
				 "an emit value is a number, a boolean or a string template");
			bad = 1;
			continue;
		}
		e->kind = RL_EMIT_JSON;
		rc = v->style == YL_PLAIN ? json_scalar(ld, v, e) : 1;
		if (rc < 0 || (rc == 1 && compile_template(ld, v, e)))
			bad = 1;
		r->n_emits++;
	}
	return bad ? -1 : 0;
}

/* ---- rules ---- */

static int valid_id(const char *s, size_t n)
{
	size_t i;

	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return 0;
	return 1;
}

static int compile_key(struct file_ld *ld, const struct yl_node *k, struct rl_rule *r)
{
	const struct yl_node *const *items = (const struct yl_node *const *)&k;
	size_t n = 1, i;

	if (k->kind == YL_MAP) {
		dg_error(ld->sink, ld->src, k->off, 1, "key must be a field path or a list of them");
		return -1;
	}
	if (k->kind == YL_SEQ) {
		if (k->n_items == 0) {
			dg_error(ld->sink, ld->src, k->off, 1,
				 "key is an empty list; leave key out for one global group");
			return -1;
		}
		items = (const struct yl_node *const *)k->items;
		n = k->n_items;
		r->key_is_list = 1;
	}
	r->key_slots = arena_alloc(&ld->rs->arena, n * sizeof *r->key_slots);
	if (!r->key_slots) {
		oom(ld, k->off);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const struct yl_node *p = items[i];
		const char **segs;
		size_t *lens;
		struct ex_error err;
		int ns;

		if (refused(p))
			return -1;
		if (p->kind != YL_SCALAR) {
			dg_error(ld->sink, ld->src, p->off, 1, "a key field must be a field path");
			return -1;
		}
		ns = ex_parse_path(p->str, p->len, &ld->rs->arena, &segs, &lens, &err);
		if (ns < 0) {
			dg_error(ld->sink, ld->src, scalar_off(ld, p, err.off), err.len, "%s",
				 err.msg);
			return -1;
		}
		if (add_field(ld, segs, lens, (size_t)ns, &r->key_slots[i])) {
			oom(ld, p->off);
			return -1;
		}
	}
	r->n_keys = n;
	r->key_text = arena_strndup(&ld->rs->arena, ld->src->text + k->off, k->end - k->off);
	return 0;
}

static int compile_threshold(struct file_ld *ld, const struct yl_node *t, struct rl_rule *r)
{
	static const char *const keys[] = { "where", "window", "when", NULL };
	const struct yl_node *v;
	int bad = 0;

	if (t->kind != YL_MAP) {
		dg_error(ld->sink, ld->src, t->off, 1,
			 "threshold must be a mapping: {where: ..., window: 1m, when: count() >= 10}");
		return -1;
	}
	bad |= check_keys(ld, t, keys, "a threshold");
	if ((v = yl_map_get(t, "where")) && !(r->where = compile_cond(ld, v, "where")))
		bad = 1;
	if (v)
		r->where_text = cond_text(ld, v);
	if (!(v = yl_map_get(t, "window"))) {
		dg_error(ld->sink, ld->src, t->off, 1, "threshold needs a window, such as window: 1m");
		bad = 1;
	} else if (want_duration(ld, v, "window", &r->window_us)) {
		bad = 1;
	} else if (r->window_us <= 0) {
		dg_error(ld->sink, ld->src, v->off, v->end - v->off, "window must be longer than 0s");
		bad = 1;
	}
	if (!(v = yl_map_get(t, "when"))) {
		dg_error(ld->sink, ld->src, t->off, 1,
			 "threshold needs a when condition, such as when: count() >= 10");
		bad = 1;
	} else {
		ld->cx = CX_WINDOW;
		if (!(r->when = compile_cond(ld, v, "when")))
			bad = 1;
		r->when_text = cond_text(ld, v);
	}
	return bad ? -1 : 0;
}

int rl_reads_run(const struct ex_node *n)
{
	size_t i;

	if (n->kind == EX_ALIAS || n->kind == EX_AGG)
		return 1;
	for (i = 0; i < n->n_kids; i++)
		if (rl_reads_run(n->kids[i]))
			return 1;
	return 0;
}

static int want_count(struct file_ld *ld, const struct yl_node *v, const char *what,
		      uint32_t *out)
{
	double d;

	if (refused(v))
		return -1;
	if (!yl_get_number(v, &d) || d < 1 || d > 1000000 || d != (double)(uint32_t)d) {
		dg_error(ld->sink, ld->src, v->off, v->end - v->off,
			 "%s must be a whole number from 1 to 1000000", what);
		return -1;
	}
	*out = (uint32_t)d;
	return 0;
}

/* repeat: N | {min: M} | {min: M, max: X} */
static int compile_repeat(struct file_ld *ld, const struct yl_node *v, struct rl_step *st)
{
	static const char *const keys[] = { "min", "max", NULL };
	const struct yl_node *x;

	if (v->kind == YL_SCALAR) {
		if (want_count(ld, v, "repeat", &st->min))
			return -1;
		st->max = st->min;
		return 0;
	}
	if (v->kind != YL_MAP) {
		dg_error(ld->sink, ld->src, v->off, 1,
			 "repeat is a count (repeat: 3) or bounds (repeat: {min: 2, max: 10})");
		return -1;
	}
	if (check_keys(ld, v, keys, "repeat"))
		return -1;
	st->min = 1;
	st->max = UINT32_MAX;
	if ((x = yl_map_get(v, "min")) && want_count(ld, x, "repeat min", &st->min))
		return -1;
	if ((x = yl_map_get(v, "max")) && want_count(ld, x, "repeat max", &st->max))
		return -1;
	if (st->max < st->min) {
		dg_error(ld->sink, ld->src, v->off, v->end - v->off,
			 "repeat max is smaller than min");
		return -1;
	}
	return 0;
}

/* sequence: [{as: NAME, where: COND, repeat: R} | {not: true, where: COND}, ...] */
static int compile_sequence(struct file_ld *ld, const struct yl_node *seq, struct rl_rule *r)
{
	static const char *const keys[] = { "as", "where", "repeat", "not", NULL };
	struct rl_step *all, *pending_guards;
	uint8_t *is_not;
	size_t i, n = seq->n_items, n_real = 0, n_guards = 0, bound;
	int bad = 0;

	if (seq->kind != YL_SEQ || n == 0) {
		dg_error(ld->sink, ld->src, seq->off, 1,
			 "sequence must be a list of steps: [{as: a, where: ...}, ...]");
		return -1;
	}
	all = arena_alloc(&ld->rs->arena, n * sizeof *all);
	is_not = arena_alloc(ld->tmp, n);
	if (!all || !is_not) {
		oom(ld, seq->off);
		return -1;
	}
	/* the shape of every step first: names must be known before any where is compiled */
	for (i = 0; i < n; i++) {
		const struct yl_node *m = seq->items[i], *v;
		struct rl_step *st = &all[i];
		char name[32];
		unsigned col;
		int b = 0;

		st->min = st->max = 1;
		st->id = (uint32_t)i;
		dg_linecol(ld->src, m->off, &st->line, &col);
		snprintf(name, sizeof name, "step%zu", i + 1);
		st->name = arena_strndup(&ld->rs->arena, name, strlen(name));
		is_not[i] = 0;
		if (!st->name) {
			oom(ld, m->off);
			return -1;
		}
		if (m->kind != YL_MAP) {
			dg_error(ld->sink, ld->src, m->off, 1,
				 "a step is a mapping: {as: a, where: ...} or {not: true, where: ...}");
			bad = 1;
			continue;
		}
		bad |= check_keys(ld, m, keys, "a step");
		if ((v = yl_map_get(m, "not")) && !refused(v) && (!yl_get_bool(v, &b))) {
			dg_error(ld->sink, ld->src, v->off, v->end - v->off, "not is true or false");
			bad = 1;
		}
		is_not[i] = (uint8_t)b;
		if (!yl_map_get(m, "where")) {
			dg_error(ld->sink, ld->src, m->off, 1, "a step needs a where condition");
			bad = 1;
		}
		if (b) {
			if (i == 0) {
				dg_error(ld->sink, ld->src, m->off, 1,
					 "a sequence cannot start with a not step");
				bad = 1;
			}
			if ((v = yl_map_get(m, "as")) || (v = yl_map_get(m, "repeat"))) {
				dg_error(ld->sink, ld->src, v->off, 0,
					 "a not step has no alias and no repeat");
				bad = 1;
			}
			n_guards++;
		} else {
			n_real++;
			if ((v = yl_map_get(m, "repeat")) && compile_repeat(ld, v, st))
				bad = 1;
		}
		if ((v = yl_map_get(m, "as")) && !b) {
			if (refused(v) || v->kind != YL_SCALAR || !is_ident(v->str, v->len)) {
				if (!refused(v))
					dg_error(ld->sink, ld->src, v->off, v->end - v->off,
						 "a step alias is made of letters, digits and '_'");
				bad = 1;
				continue;
			}
			st->name = arena_strndup(&ld->rs->arena, v->str, v->len);
			if (!st->name) {
				oom(ld, v->off);
				return -1;
			}
		}
	}
	/* every name of a real step, given or stepN, names one step only */
	for (i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < i && !is_not[i]; j++)
			if (!is_not[j] && strcmp(all[j].name, all[i].name) == 0) {
				const struct yl_node *as = seq->items[i]->kind == YL_MAP
					? yl_map_get(seq->items[i], "as") : NULL;
				const struct yl_node *at = as ? as : seq->items[i];

				dg_error(ld->sink, ld->src, at->off, as ? as->len : 1,
					 "step alias '%s' is used twice", all[i].name);
				bad = 1;
				break;
			}
	}
	if (!n_real) {
		dg_error(ld->sink, ld->src, seq->off, 1, "a sequence needs a step that is not a not step");
		return -1;
	}
	r->n_seq_items = n;
	/* a step that is not a mapping was reported and not counted above, but it takes the
	 * place of a real step below */
	for (n_real = 0, i = 0; i < n; i++)
		n_real += !is_not[i];
	/* real steps in order, each with the not steps just before it */
	r->steps = arena_alloc(&ld->rs->arena, n_real * sizeof *r->steps);
	r->items = arena_alloc(&ld->rs->arena, n * sizeof *r->items);
	if (!r->steps || !r->items) {
		oom(ld, seq->off);
		return -1;
	}
	pending_guards = NULL;
	for (i = 0; i < n; i++) {
		if (is_not[i]) {
			if (!pending_guards)
				pending_guards = &all[i];
			n_guards = (size_t)(&all[i] - pending_guards) + 1;
			r->items[i] = &all[i];
			continue;
		}
		r->items[i] = &r->steps[r->n_steps];
		r->steps[r->n_steps] = all[i];
		r->steps[r->n_steps].guards = pending_guards;
		r->steps[r->n_steps].n_guards = pending_guards ? n_guards : 0;
		r->n_steps++;
		pending_guards = NULL;
	}
	if (pending_guards) {
		r->trailing = pending_guards;
		r->n_trailing = (size_t)(&all[n - 1] - pending_guards) + 1;
	}
	/* then the conditions, each reading the aliases bound before it */
	ld->cx = CX_SEQ;
	ld->in_where = 1;
	for (i = 0, bound = 0; i < n; i++) {
		const struct yl_node *w = yl_map_get(seq->items[i], "where");
		struct rl_step *st = is_not[i] ? &all[i] : &r->steps[bound];

		ld->n_bound = bound;
		if (!w) { /* reported above */
			if (!is_not[i])
				bound++;
			continue;
		}
		st->where_text = cond_text(ld, w);
		if (!(st->where = compile_cond(ld, w, "where"))) {
			bad = 1;
		} else {
			st->reads_run = (uint8_t)rl_reads_run(st->where);
			if (bound == 0 && !is_not[i] && st->reads_run) {
				ex_fail(ld, w, st->where, "the first step cannot read other steps");
				bad = 1;
			}
		}
		if (is_not[i]) {
			all[i].where = st->where;
			all[i].where_text = st->where_text;
		} else {
			bound++;
		}
	}
	ld->in_where = 0;
	return bad ? -1 : 0;
}

/* The place of id in the index: where it is, or the empty place where it would go. */
static size_t id_place(const struct rl_ruleset *rs, const struct rule_ids *ids, const char *id)
{
	size_t i = (size_t)tl_hash(id, strlen(id)) & ids->mask;

	while (ids->slot[i] && strcmp(rs->rules[ids->slot[i] - 1].id, id) != 0)
		i = (i + 1) & ids->mask;
	return i;
}

static const struct rl_rule *find_rule(const struct rl_ruleset *rs, const struct rule_ids *ids,
				       const char *id)
{
	size_t i;

	if (!ids->slot)
		return NULL;
	i = id_place(rs, ids, id);
	return ids->slot[i] ? &rs->rules[ids->slot[i] - 1] : NULL;
}

/* Indexes the id of rs->rules[index] (not yet in the index); 0 or -1. */
static int add_rule_id(const struct rl_ruleset *rs, struct rule_ids *ids, size_t index)
{
	if (index >= UINT32_MAX - 1)
		return -1;
	if (!ids->slot || 2 * (ids->n + 1) > ids->mask + 1) {
		size_t size = ids->slot ? 2 * (ids->mask + 1) : 64, i;
		uint32_t *old = ids->slot, old_size = ids->slot ? (uint32_t)ids->mask + 1 : 0;

		ids->slot = tl_calloc(size, sizeof *ids->slot);
		if (!ids->slot) {
			ids->slot = old;
			return -1;
		}
		ids->mask = size - 1;
		for (i = 0; i < old_size; i++)
			if (old[i])
				ids->slot[id_place(rs, ids, rs->rules[old[i] - 1].id)] = old[i];
		tl_free(old);
	}
	ids->slot[id_place(rs, ids, rs->rules[index].id)] = (uint32_t)index + 1;
	ids->n++;
	return 0;
}

static int compile_rule(struct file_ld *ld, const struct yl_node *m, struct rl_rule *r)
{
	static const char *const keys[] = { "id", "description", "severity", "key", "where",
					    "threshold", "sequence", "within", "contiguity",
					    "after_match", "suppress", "emit", "evidence", NULL };
	const struct yl_node *v, *where, *thr, *seq;
	unsigned col;
	int bad = 0, n_kinds;

	if (m->kind != YL_MAP) {
		dg_error(ld->sink, ld->src, m->off, 1, "a rule must be a mapping with an id");
		return -1;
	}
	bad |= check_keys(ld, m, keys, "a rule");
	r->file = arena_strndup(&ld->rs->arena, ld->src->name, strlen(ld->src->name));
	dg_linecol(ld->src, m->off, &r->line, &col);
	v = yl_map_get(m, "id");
	if (!v) {
		dg_error(ld->sink, ld->src, m->off, 1, "a rule needs an id");
		bad = 1;
	} else if (refused(v)) {
		bad = 1;
	} else if (v->kind != YL_SCALAR || !valid_id(v->str, v->len)) {
		dg_error(ld->sink, ld->src, v->off, v->end - v->off,
			 "a rule id is made of a-z, 0-9, '_' and '-'");
		bad = 1;
	} else {
		const struct rl_rule *prev = find_rule(ld->rs, ld->ids, v->str);

		r->id = arena_strndup(&ld->rs->arena, v->str, v->len);
		if (!r->id) {
			oom(ld, v->off);
			return -1;
		}
		if (prev) {
			dg_error(ld->sink, ld->src, v->off, v->len, "duplicate rule id '%s'", v->str);
			if (!ld->sink->max_shown || ld->sink->n_errors <= ld->sink->max_shown)
				fprintf(ld->sink->out, "%s:%u: note: first defined here\n",
					prev->file, prev->line);
			bad = 1;
		}
	}
	if ((v = yl_map_get(m, "description")) && want_text(ld, v, "description"))
		r->description = arena_strndup(&ld->rs->arena, v->str, v->len);
	else if (v)
		bad = 1;
	if ((v = yl_map_get(m, "severity")) && want_text(ld, v, "severity"))
		r->severity = arena_strndup(&ld->rs->arena, v->str, v->len);
	else if (v)
		bad = 1;
	if ((v = yl_map_get(m, "key")) && compile_key(ld, v, r))
		bad = 1;
	if ((v = yl_map_get(m, "suppress")) && want_duration(ld, v, "suppress", &r->suppress_us))
		bad = 1;
	if ((v = yl_map_get(m, "evidence"))) {
		int b = 0;

		if (refused(v)) {
			bad = 1;
		} else if (!yl_get_bool(v, &b)) {
			dg_error(ld->sink, ld->src, v->off, v->end - v->off, "evidence is true or false");
			bad = 1;
		}
		r->evidence = (uint8_t)(b == 1);
	}
	where = yl_map_get(m, "where");
	thr = yl_map_get(m, "threshold");
	seq = yl_map_get(m, "sequence");
	n_kinds = !!where + !!thr + !!seq;
	if (n_kinds != 1) {
		dg_error(ld->sink, ld->src, m->off, 1,
			 n_kinds ? "a rule has only one of where, sequence and threshold"
				 : "a rule needs one of where (a filter), sequence or threshold");
		bad = 1;
	}
	ld->cx = CX_EVENT;
	ld->aggs = NULL;
	ld->n_aggs = ld->cap_aggs = 0;
	ld->n_run_aggs = ld->cap_run_aggs = 0;
	ld->run_aggs = NULL;
	ld->n_reads = ld->cap_reads = 0;
	ld->reads = NULL;
	if (seq) {
		r->kind = RL_SEQUENCE;
		if (compile_sequence(ld, seq, r))
			bad = 1;
		if (!(v = yl_map_get(m, "within"))) {
			dg_error(ld->sink, ld->src, m->off, 1,
				 "a sequence needs within, such as within: 30m");
			bad = 1;
		} else if (want_duration(ld, v, "within", &r->within_us)) {
			bad = 1;
		}
		if ((v = yl_map_get(m, "contiguity"))) {
			if (v->kind == YL_SCALAR && strcmp(v->str, "strict") == 0) {
				r->contiguity = RL_STRICT;
			} else if (!(v->kind == YL_SCALAR && strcmp(v->str, "relaxed") == 0)) {
				if (!refused(v))
					dg_error(ld->sink, ld->src, v->off, v->end - v->off,
						 "contiguity is relaxed or strict");
				bad = 1;
			}
		}
		if ((v = yl_map_get(m, "after_match"))) {
			if (v->kind == YL_SCALAR && strcmp(v->str, "no_skip") == 0) {
				r->after_match = RL_NO_SKIP;
			} else if (!(v->kind == YL_SCALAR && strcmp(v->str, "skip_past_last") == 0)) {
				if (!refused(v))
					dg_error(ld->sink, ld->src, v->off, v->end - v->off,
						 "after_match is skip_past_last or no_skip");
				bad = 1;
			}
		}
	} else if (thr) {
		r->kind = RL_THRESHOLD;
		if (compile_threshold(ld, thr, r))
			bad = 1;
	} else if (where) {
		r->kind = RL_FILTER;
		if (!(r->where = compile_cond(ld, where, "where")))
			bad = 1;
		r->where_text = cond_text(ld, where);
	}
	if (!seq) {
		static const char *const seq_only[] = { "within", "contiguity", "after_match", NULL };
		size_t i;

		for (i = 0; seq_only[i]; i++)
			if ((v = yl_map_get(m, seq_only[i]))) {
				dg_error(ld->sink, ld->src, v->off, 0,
					 "%s applies to sequence rules only", seq_only[i]);
				bad = 1;
			}
	}
	if ((v = yl_map_get(m, "emit"))) {
		ld->cx = r->kind == RL_THRESHOLD ? CX_WINDOW : r->kind == RL_SEQUENCE ? CX_SEQ : CX_EVENT;
		ld->n_bound = r->n_steps;
		if (compile_emit(ld, v, r))
			bad = 1;
	}
	/* the aggregates of when and emit, of runs, and the reads of runs: into the rule set's
	 * arena */
	if (to_arena(ld, (void **)&ld->aggs, ld->n_aggs, sizeof *ld->aggs, (void **)&r->aggs,
		     &r->n_aggs) |
	    to_arena(ld, (void **)&ld->run_aggs, ld->n_run_aggs, sizeof *ld->run_aggs,
		     (void **)&r->run_aggs, &r->n_run_aggs) |
	    to_arena(ld, (void **)&ld->reads, ld->n_reads, sizeof *ld->reads, (void **)&r->reads,
		     &r->n_reads) ||
	    step_binds(ld, r, m->off))
		bad = 1;
	return bad ? -1 : 0;
}

/* ---- top level ---- */

/* time: {field: ts, format: auto, lateness: 5s} */
static int load_time(struct file_ld *ld, const struct yl_node *t, int *seen_time)
{
	static const char *const keys[] = { "field", "format", "lateness", NULL };
	static const char *const formats[] = { "auto", "epoch_s", "epoch_ms", "epoch_us",
					       "rfc3339", NULL };
	struct rl_ruleset *rs = ld->rs;
	const struct yl_node *v;
	const char *field = "ts";
	size_t field_len = 2;
	int format = TF_AUTO, bad = 0;
	int64_t lateness = 0;

	if (t->kind != YL_MAP) {
		dg_error(ld->sink, ld->src, t->off, 1,
			 "time must be a mapping: {field: ts, format: auto, lateness: 5s}");
		return -1;
	}
	bad |= check_keys(ld, t, keys, "time");
	if ((v = yl_map_get(t, "field"))) {
		if (!want_text(ld, v, "time field"))
			return -1;
		field = v->str;
		field_len = v->len;
	}
	if ((v = yl_map_get(t, "format"))) {
		if (refused(v))
			return -1;
		for (format = 0; formats[format]; format++)
			if (v->kind == YL_SCALAR && strcmp(v->str, formats[format]) == 0)
				break;
		if (!formats[format]) {
			dg_error(ld->sink, ld->src, v->off, v->end - v->off,
				 "time format is one of auto, epoch_s, epoch_ms, epoch_us, rfc3339");
			bad = 1;
			format = TF_AUTO;
		}
	}
	if ((v = yl_map_get(t, "lateness")) && want_duration(ld, v, "lateness", &lateness))
		bad = 1;
	if (bad)
		return -1;
	{
		const char **segs;
		size_t *lens;
		struct ex_error err;
		int ns = ex_parse_path(field, field_len, &rs->arena, &segs, &lens, &err);
		size_t i;
		int same;

		v = yl_map_get(t, "field");
		if (ns < 0) {
			dg_error(ld->sink, ld->src, v ? scalar_off(ld, v, err.off) : t->off, err.len,
				 "%s", err.msg);
			return -1;
		}
		if (*seen_time) {
			same = (size_t)ns == rs->n_time_segs && format == rs->time_format &&
			       lateness == rs->lateness_us;
			for (i = 0; same && i < (size_t)ns; i++)
				same = lens[i] == rs->time_seg_lens[i] &&
				       memcmp(segs[i], rs->time_segs[i], lens[i]) == 0;
			if (!same) {
				dg_error(ld->sink, ld->src, t->off, 1,
					 "time settings differ from those of an earlier rule file; all files of a run share one time field, format and lateness");
				return -1;
			}
			return 0;
		}
		*seen_time = 1;
		rs->time_segs = segs;
		rs->time_seg_lens = lens;
		rs->n_time_segs = (size_t)ns;
		rs->time_format = (uint8_t)format;
		rs->lateness_us = lateness;
	}
	return 0;
}

static int load_named(struct file_ld *ld, const struct yl_node *m, const char *what,
		      struct named **out, size_t *n_out)
{
	struct named *v;
	size_t i;
	int bad = 0;

	if (m->kind != YL_MAP) {
		dg_error(ld->sink, ld->src, m->off, 1, "%s must be a mapping of name: value", what);
		return -1;
	}
	v = arena_alloc(ld->tmp, (m->n_items / 2 + 1) * sizeof *v);
	if (!v) {
		oom(ld, m->off);
		return -1;
	}
	for (i = 0; i < m->n_items; i += 2) {
		const struct yl_node *k = m->items[i], *val = m->items[i + 1];

		if (k->kind != YL_SCALAR) {
			bad = 1; /* reported by the YAML loader */
			continue;
		}
		if (!is_ident(k->str, k->len)) {
			dg_error(ld->sink, ld->src, k->off, k->len,
				 "a name in %s is made of letters, digits and '_'", what);
			bad = 1;
			continue;
		}
		if (strcmp(what, "lists") == 0) {
			size_t j;

			if (val->kind != YL_SEQ) {
				dg_error(ld->sink, ld->src, val->off, 1,
					 "list '%s' must be a YAML list such as [NG, RU]", k->str);
				bad = 1;
				continue;
			}
			for (j = 0; j < val->n_items; j++)
				if (refused(val->items[j])) {
					bad = 1;
				} else if (val->items[j]->kind != YL_SCALAR ||
					   yl_is_null(val->items[j])) {
					dg_error(ld->sink, ld->src, val->items[j]->off, 1,
						 "list items are strings, numbers or booleans");
					bad = 1;
				}
		} else {
			struct ex_error err;

			if (refused(val)) {
				bad = 1;
				continue;
			}
			if (val->kind != YL_SCALAR) {
				dg_error(ld->sink, ld->src, val->off, 1,
					 "macro '%s' must be an expression; one that starts with '[' or '{' must be quoted",
					 k->str);
				bad = 1;
				continue;
			}
			if (!ex_parse(val->str, val->len, ld->tmp, &err)) {
				dg_error(ld->sink, ld->src, scalar_off(ld, val, err.off), err.len,
					 "%s", err.msg);
				bad = 1;
			}
		}
		v[*n_out].name = k->str;
		v[*n_out].node = val;
		(*n_out)++;
	}
	*out = v;
	return bad ? -1 : 0;
}

static int load_file(struct rl_ruleset *rs, struct dg_source *src, struct dg_sink *sink,
		     int *seen_time, size_t *cap_rules, struct rule_ids *ids)
{
	static const char *const keys[] = { "version", "time", "lists", "macros", "rules", "tests",
					    NULL };
	struct arena tmp = { 0 };
	struct file_ld ld = { .rs = rs, .src = src, .sink = sink, .tmp = &tmp, .ids = ids };
	const struct yl_node *root, *v;
	unsigned before = sink->n_errors;
	size_t i;

	root = yl_load(src, &tmp, sink);
	if (!root)
		goto out_tmp;
	if (root->kind != YL_MAP) {
		dg_error(sink, src, root->off, 1,
			 "a rule file is a mapping with version, time, lists, macros, rules and tests");
		goto out_tmp;
	}
	check_keys(&ld, root, keys, "a rule file");
	if ((v = yl_map_get(root, "version"))) {
		double d;

		if (!refused(v) && (!yl_get_number(v, &d) || d != 1))
			dg_error(sink, src, v->off, v->end - v->off,
				 "unsupported version: this tripline reads version 1");
	}
	/* without a time block a file takes the defaults, or what an earlier file set */
	if ((v = yl_map_get(root, "time")))
		load_time(&ld, v, seen_time);
	if ((v = yl_map_get(root, "lists")))
		load_named(&ld, v, "lists", &ld.lists, &ld.n_lists);
	if ((v = yl_map_get(root, "macros")))
		load_named(&ld, v, "macros", &ld.macros, &ld.n_macros);
	rs->n_lists += ld.n_lists;
	rs->n_macros += ld.n_macros;
	if ((v = yl_map_get(root, "tests"))) {
		if (v->kind != YL_SEQ && !yl_is_null(v))
			dg_error(sink, src, v->off, 1, "tests must be a list of test cases");
		else if (v->kind == YL_SEQ)
			rs->n_tests += v->n_items;
	}
	v = yl_map_get(root, "rules");
	if (!v) {
		dg_error(sink, src, root->off, 0, "a rule file needs rules:");
	} else if (v->kind != YL_SEQ) {
		dg_error(sink, src, v->off, 1, "rules must be a list of rules");
	} else {
		for (i = 0; i < v->n_items; i++) {
			struct rl_rule *r;

			if (tl_grow((void **)&rs->rules, cap_rules, rs->n_rules + 1, sizeof *rs->rules)) {
				oom(&ld, v->off);
				break;
			}
			r = &rs->rules[rs->n_rules];
			memset(r, 0, sizeof *r);
			ld.rule = r;
			if (compile_rule(&ld, v->items[i], r) == 0 || r->id) {
				/* kept for duplicate-id checks even when bad; a duplicate is not
				 * indexed again (its first definition is) */
				rs->n_rules++;
				if (r->id && find_rule(rs, ids, r->id) == NULL &&
				    add_rule_id(rs, ids, rs->n_rules - 1)) {
					oom(&ld, v->off);
					break;
				}
			}
		}
	}
out_tmp:
	arena_free(&tmp);
	return sink->n_errors > before ? -1 : 0;
}

static struct rl_ruleset *rs_new(void)
{
	struct rl_ruleset *rs = tl_calloc(1, sizeof *rs);

	if (!rs)
		return NULL;
	rs->fields = jd_fields_new();
	if (!rs->fields) {
		tl_free(rs);
		return NULL;
	}
	return rs;
}

static void report_count(struct dg_sink *sink, const char *name, unsigned n)
{
	fprintf(sink->out, "%s: %u error%s", name, n, n == 1 ? "" : "s");
	if (sink->max_shown && sink->n_errors > sink->max_shown)
		fprintf(sink->out, " (only the first %u of the run are shown)", sink->max_shown);
	fputc('\n', sink->out);
}

/* Loads the given sources (already read) into one rule set. */
static struct rl_ruleset *load_sources(struct dg_source *srcs, size_t n, struct dg_sink *sink)
{
	struct rl_ruleset *rs = rs_new();
	struct rule_ids ids = { 0 };
	size_t cap_rules = 0, i;
	int seen_time = 0, bad = 0;
	static const char *def_seg = "ts";
	static size_t def_len = 2;

	if (!rs) {
		fprintf(sink->out, "tripline: out of memory\n");
		sink->n_errors++;
		return NULL;
	}
	/* the time field of the first file that sets one; default ts */
	rs->time_segs = &def_seg;
	rs->time_seg_lens = &def_len;
	rs->n_time_segs = 1;
	for (i = 0; i < n; i++) {
		unsigned before = sink->n_errors;

		if (load_file(rs, &srcs[i], sink, &seen_time, &cap_rules, &ids)) {
			report_count(sink, srcs[i].name, sink->n_errors - before);
			bad = 1;
		}
	}
	if (!bad) {
		int slot = jd_fields_add(rs->fields, (const char *const *)rs->time_segs,
					 rs->time_seg_lens, rs->n_time_segs);

		if (slot < 0 || jd_fields_freeze(rs->fields)) {
			fprintf(sink->out, "tripline: out of memory\n");
			sink->n_errors++;
			bad = 1;
		} else {
			rs->time_slot = (uint32_t)slot;
			rs->n_slots = jd_fields_count(rs->fields);
		}
	}
	tl_free(ids.slot);
	if (bad) {
		rl_free(rs);
		return NULL;
	}
	return rs;
}

struct rl_ruleset *rl_load(const char *const *paths, size_t n_paths, struct dg_sink *sink)
{
	struct dg_source *srcs = tl_calloc(n_paths ? n_paths : 1, sizeof *srcs);
	struct rl_ruleset *rs = NULL;
	size_t i, n_loaded = 0;
	int bad = 0;

	if (!srcs) {
		fprintf(sink->out, "tripline: out of memory\n");
		sink->n_errors++;
		return NULL;
	}
	for (i = 0; i < n_paths; i++) {
		char err[256];

		if (dg_source_load(&srcs[n_loaded], paths[i], RL_MAX_FILE, err, sizeof err)) {
			dg_error_file(sink, paths[i], "%s", err);
			bad = 1;
			continue;
		}
		n_loaded++;
	}
	if (!bad)
		rs = load_sources(srcs, n_loaded, sink);
	for (i = 0; i < n_loaded; i++)
		dg_source_free(&srcs[i]);
	tl_free(srcs);
	return rs;
}

struct rl_ruleset *rl_load_mem(const char *name, const char *text, size_t len,
			       struct dg_sink *sink)
{
	struct dg_source src;
	struct rl_ruleset *rs;

	if (dg_source_init_mem(&src, name, text, len)) {
		sink->n_errors++;
		return NULL;
	}
	rs = load_sources(&src, 1, sink);
	dg_source_free(&src);
	return rs;
}

void rl_free(struct rl_ruleset *rs)
{
	size_t i;

	if (!rs)
		return;
	for (i = 0; i < rs->n_regexes; i++)
		rx_free(rs->regexes[i]);
	tl_free(rs->regexes);
	tl_free(rs->rules);
	jd_fields_free(rs->fields);
	arena_free(&rs->arena);
	tl_free(rs);
}
