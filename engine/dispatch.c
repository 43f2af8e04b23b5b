/* dispatch.c - rule guards by one field's string value, read off the compiled conditions. */
#include "dispatch.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "hash.h"

/* Past this many entries in the rule lists (literals x rules), the index is not worth its
 * memory: every event then runs every rule, as without an index. */
#define DP_MAX_ENTRIES (4u << 20)

/* The strings a field must equal for a condition to hold; all: any value may do. A hash
 * index keeps membership O(1): lists of thousands of strings in hundreds of rules are a rule
 * file, not an attack, and must load at once. */
struct guard {
	int all;
	const struct tl_value **v; /* the strings, in the order added */
	size_t n, cap;
	uint32_t *idx;             /* 2 * cap places: 1 + an index into v, or 0 when empty */
};

struct dp_entry {
	const char *str;  /* NULL: an empty place in the table */
	uint32_t len;
	uint32_t off, n;  /* the rule list in d->lists */
	uint32_t id;      /* the literal's index, for the bits of dp_item */
};

struct dp_index {
	int64_t field;
	const struct rl_ruleset *rs;
	struct dp_entry *tab; /* open addressing, at most half full */
	size_t mask;
	uint32_t *lists;
	uint32_t other_off, other_n; /* unguarded rules */
	uint32_t every_off, every_n; /* every rule */
	struct dp_rest *rest;        /* per rule: what is left to check past the guard */
	struct dp_item **items;      /* per rule: a sequence's items by step id, or NULL */
	uint64_t *bits;              /* the items' literal bits, in one block */
};

static int same_str(const struct tl_value *a, const struct tl_value *b)
{
	return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

/* The place of v in g's index: where it is, or the empty place where it would go. */
static size_t place_of(const struct guard *g, const struct tl_value *v)
{
	size_t mask = 2 * g->cap - 1, i = (size_t)tl_hash(v->str, v->len) & mask;

	while (g->idx[i] && !same_str(g->v[g->idx[i] - 1], v))
		i = (i + 1) & mask;
	return i;
}

static int has(const struct guard *g, const struct tl_value *v)
{
	return g->idx && g->idx[place_of(g, v)];
}

static void guard_free(struct guard *g)
{
	tl_free(g->v);
	tl_free(g->idx);
	memset(g, 0, sizeof *g);
}

/* Appends v when absent; 0 or -1. */
static int guard_add(struct guard *g, const struct tl_value *v)
{
	if (has(g, v))
		return 0;
	if (g->n == g->cap) {
		size_t nc = g->cap ? 2 * g->cap : 8, i;
		const struct tl_value **nv;
		uint32_t *ni;

		if (nc > UINT32_MAX / 2)
			return -1;
		nv = tl_realloc(g->v, nc * sizeof *nv);
		if (!nv)
			return -1;
		g->v = nv;
		ni = tl_calloc(2 * nc, sizeof *ni);
		if (!ni)
			return -1;
		tl_free(g->idx);
		g->idx = ni;
		g->cap = nc;
		for (i = 0; i < g->n; i++)
			g->idx[place_of(g, g->v[i])] = (uint32_t)i + 1;
	}
	g->idx[place_of(g, v)] = (uint32_t)g->n + 1;
	g->v[g->n++] = v;
	return 0;
}

static int is_field(const struct ex_node *n, uint32_t slot)
{
	return n->kind == EX_FIELD && n->slot == slot;
}

static int is_str_lit(const struct ex_node *n)
{
	return n->kind == EX_LIT && n->val.type == TL_STR;
}

/* The guard of condition n on field slot, into *g (zeroed by the caller); 0 or -1. */
static int guard_of(const struct ex_node *n, uint32_t slot, struct guard *g)
{
	struct guard a = { 0 }, b = { 0 };
	size_t i;
	int rc = 0;

	g->all = 0;
	switch (n->kind) {
	case EX_EQ:
		if (!n->fn && is_field(n->kids[0], slot) && is_str_lit(n->kids[1]))
			return guard_add(g, &n->kids[1]->val);
		if (!n->fn && is_field(n->kids[1], slot) && is_str_lit(n->kids[0]))
			return guard_add(g, &n->kids[0]->val);
		break;
	case EX_IN:
		if (is_field(n->kids[0], slot) && n->kids[1]->kind == EX_SET) {
			const struct rl_set *s = n->kids[1]->ref;

			for (i = 0; i < s->n_strs; i++)
				if (guard_add(g, &s->strs[i]))
					return -1;
			return 0;
		}
		break;
	case EX_AND:
		rc = guard_of(n->kids[0], slot, &a) || guard_of(n->kids[1], slot, &b) ? -1 : 0;
		if (!rc && a.all) {
			*g = b; /* b's strings, or all */
			memset(&b, 0, sizeof b);
		} else if (!rc && b.all) {
			*g = a;
			memset(&a, 0, sizeof a);
		} else {
			for (i = 0; i < a.n && !rc; i++)
				if (has(&b, a.v[i]))
					rc = guard_add(g, a.v[i]);
		}
		guard_free(&a);
		guard_free(&b);
		return rc;
	case EX_OR:
		if (guard_of(n->kids[0], slot, &a) || guard_of(n->kids[1], slot, &b)) {
			rc = -1;
		} else if (a.all || b.all) {
			g->all = 1;
		} else {
			for (i = 0; i < a.n && !rc; i++)
				rc = guard_add(g, a.v[i]);
			for (i = 0; i < b.n && !rc; i++)
				rc = guard_add(g, b.v[i]);
		}
		guard_free(&a);
		guard_free(&b);
		return rc;
	default:
		break;
	}
	g->all = 1;
	return 0;
}

/* 1 when condition n holds exactly when the field is one of its guard's strings. */
static int exact(const struct ex_node *n, uint32_t slot)
{
	switch (n->kind) {
	case EX_EQ:
		return !n->fn && ((is_field(n->kids[0], slot) && is_str_lit(n->kids[1])) ||
				  (is_field(n->kids[1], slot) && is_str_lit(n->kids[0])));
	case EX_IN:
		return is_field(n->kids[0], slot) && n->kids[1]->kind == EX_SET;
	case EX_OR:
		return exact(n->kids[0], slot) && exact(n->kids[1], slot);
	default:
		return 0;
	}
}

/* Appends the conjuncts of n that are not exact guards on slot to *r; 0 or -1. */
static int residue(const struct ex_node *n, uint32_t slot, struct dp_rest *r)
{
	const struct ex_node **nc;

	if (n->kind == EX_AND)
		return residue(n->kids[0], slot, r) || residue(n->kids[1], slot, r) ? -1 : 0;
	if (exact(n, slot))
		return 0;
	nc = tl_realloc(r->conds, (r->n + 1) * sizeof *nc);
	if (!nc)
		return -1;
	r->conds = nc;
	r->conds[r->n++] = n;
	return 0;
}

/* Adds the guard of condition n to an accumulated union *u. */
static int unite(const struct ex_node *n, uint32_t slot, struct guard *u)
{
	struct guard g = { 0 };
	size_t i;
	int rc = 0;

	if (u->all)
		return 0;
	if (!n) {
		u->all = 1;
		return 0;
	}
	if (guard_of(n, slot, &g)) {
		guard_free(&g);
		return -1;
	}
	if (g.all)
		u->all = 1;
	for (i = 0; i < g.n && !rc && !u->all; i++)
		rc = guard_add(u, g.v[i]);
	guard_free(&g);
	return rc;
}

/* The guard of rule r on field slot: when may an event make it do anything. */
static int rule_guard(const struct rl_rule *r, uint32_t slot, struct guard *g)
{
	size_t i, j;
	int rc = 0;

	memset(g, 0, sizeof *g);
	switch (r->kind) {
	case RL_FILTER: case RL_THRESHOLD:
		return unite(r->where, slot, g);
	default:
		if (r->contiguity == RL_STRICT) {
			g->all = 1;
			return 0;
		}
		for (i = 0; i < r->n_steps && !rc; i++) {
			rc = unite(r->steps[i].where, slot, g);
			for (j = 0; j < r->steps[i].n_guards && !rc; j++)
				rc = unite(r->steps[i].guards[j].where, slot, g);
		}
		for (i = 0; i < r->n_trailing && !rc; i++)
			rc = unite(r->trailing[i].where, slot, g);
		return rc;
	}
}

/* Counts, per slot, the rules that compare it for equality with a string somewhere. */
static void count_fields(const struct ex_node *n, uint32_t *seen, uint32_t mark, uint32_t *count)
{
	size_t i;
	const struct ex_node *f = NULL;

	if (!n)
		return;
	if (n->kind == EX_EQ && !n->fn) {
		if (n->kids[0]->kind == EX_FIELD && is_str_lit(n->kids[1]))
			f = n->kids[0];
		else if (n->kids[1]->kind == EX_FIELD && is_str_lit(n->kids[0]))
			f = n->kids[1];
	} else if (n->kind == EX_IN && n->kids[0]->kind == EX_FIELD &&
		   n->kids[1]->kind == EX_SET) {
		f = n->kids[0];
	}
	if (f && seen[f->slot] != mark) {
		seen[f->slot] = mark;
		count[f->slot]++;
	}
	for (i = 0; i < n->n_kids; i++)
		count_fields(n->kids[i], seen, mark, count);
}

static void rule_fields(const struct rl_rule *r, uint32_t *seen, uint32_t mark, uint32_t *count)
{
	size_t i, j;

	count_fields(r->where, seen, mark, count);
	for (i = 0; i < r->n_steps; i++) {
		count_fields(r->steps[i].where, seen, mark, count);
		for (j = 0; j < r->steps[i].n_guards; j++)
			count_fields(r->steps[i].guards[j].where, seen, mark, count);
	}
	for (i = 0; i < r->n_trailing; i++)
		count_fields(r->trailing[i].where, seen, mark, count);
}

static int64_t pick_field(const struct rl_ruleset *rs)
{
	uint32_t *seen = tl_calloc(rs->n_slots + 1, sizeof *seen);
	uint32_t *count = tl_calloc(rs->n_slots + 1, sizeof *count);
	int64_t best = -1;
	size_t i;

	if (!seen || !count) {
		tl_free(seen);
		tl_free(count);
		return -2;
	}
	for (i = 0; i < rs->n_rules; i++)
		rule_fields(&rs->rules[i], seen, (uint32_t)i + 1, count);
	for (i = 0; i < rs->n_slots; i++)
		if (count[i] && (best < 0 || count[i] > count[best]))
			best = (int64_t)i;
	tl_free(seen);
	tl_free(count);
	return best;
}

static const struct dp_entry *lookup(const struct dp_index *d, const char *s, size_t len)
{
	size_t h = (size_t)tl_hash(s, len);

	for (;; h++) {
		const struct dp_entry *e = &d->tab[h & d->mask];

		if (!e->str || (e->len == len && memcmp(e->str, s, len) == 0))
			return e;
	}
}

/* The items of every sequence, with what is left of each past its guard and the bits of the
 * literals that pass it (ig: the items' guards, by rule then step id); 0 or -1. Too many bits
 * for the index's budget: no items, the engine then evaluates every where whole. */
static int build_items(struct dp_index *d, const struct rl_ruleset *rs, struct guard **ig,
		       size_t n_lits)
{
	size_t words = (n_lits + 63) / 64, total = 0, at = 0, i, j, k;

	for (i = 0; i < rs->n_rules; i++)
		for (j = 0; ig[i] && j < rs->rules[i].n_seq_items; j++)
			if (!ig[i][j].all)
				total += words;
	if (total > DP_MAX_ENTRIES / 2)
		return 0;
	d->items = tl_calloc(rs->n_rules ? rs->n_rules : 1, sizeof *d->items);
	d->bits = tl_calloc(total ? total : 1, sizeof *d->bits);
	if (!d->items || !d->bits)
		return -1;
	for (i = 0; i < rs->n_rules; i++) {
		const struct rl_rule *r = &rs->rules[i];

		if (!ig[i])
			continue;
		d->items[i] = tl_calloc(r->n_seq_items, sizeof *d->items[i]);
		if (!d->items[i])
			return -1;
		for (j = 0; j < r->n_seq_items; j++) {
			struct dp_item *t = &d->items[i][j];

			if (residue(r->items[j]->where, (uint32_t)d->field, &t->rest))
				return -1;
			if (ig[i][j].all)
				continue;
			t->lits = d->bits + at;
			for (k = 0; k < ig[i][j].n; k++) {
				const struct dp_entry *e = lookup(d, ig[i][j].v[k]->str, ig[i][j].v[k]->len);

				d->bits[at + e->id / 64] |= (uint64_t)1 << (e->id % 64);
			}
			at += words;
		}
	}
	return 0;
}

/* Builds the lists once the field is chosen and the guards are known (gs: the rules', ig: the
 * sequences' items', whose strings are literals too: a strict sequence's rule guard has none). */
static int build_lists(struct dp_index *d, const struct rl_ruleset *rs, const struct guard *gs,
		       struct guard **ig)
{
	struct guard lits = { 0 };
	struct dp_entry **ent = NULL; /* each literal's entry, by its index in lits */
	size_t i, j, k, total = 2 * rs->n_rules, size = 2;
	uint32_t at = 0;

	for (i = 0; i < rs->n_rules; i++) {
		for (j = 0; j < gs[i].n; j++)
			if (guard_add(&lits, gs[i].v[j]))
				goto fail;
		for (j = 0; ig[i] && j < rs->rules[i].n_seq_items; j++)
			for (k = 0; k < ig[i][j].n; k++)
				if (guard_add(&lits, ig[i][j].v[k]))
					goto fail;
	}
	for (i = 0; i < rs->n_rules; i++)
		if (gs[i].all)
			d->other_n++;
	/* each literal's list: its rules and the unguarded ones */
	for (i = 0; i < lits.n; i++) {
		total += d->other_n;
		if (total > DP_MAX_ENTRIES)
			goto too_big;
	}
	for (i = 0; i < rs->n_rules; i++)
		total += gs[i].n;
	if (total > DP_MAX_ENTRIES)
		goto too_big;
	while (size < 2 * lits.n)
		size *= 2;
	d->tab = tl_calloc(size, sizeof *d->tab);
	d->lists = tl_malloc((total ? total : 1) * sizeof *d->lists);
	ent = tl_malloc((lits.n ? lits.n : 1) * sizeof *ent);
	if (!d->tab || !d->lists || !ent)
		goto fail;
	d->mask = size - 1;
	d->every_off = at;
	for (i = 0; i < rs->n_rules; i++)
		d->lists[at++] = (uint32_t)i;
	d->every_n = (uint32_t)rs->n_rules;
	d->other_off = at;
	for (i = 0; i < rs->n_rules; i++)
		if (gs[i].all)
			d->lists[at++] = (uint32_t)i;
	/* each literal's list: its place first (sizes counted), then the rules in rule order,
	 * each appending itself to the lists of its literals (or of all, unguarded) */
	for (i = 0; i < lits.n; i++) {
		struct dp_entry *e = (struct dp_entry *)lookup(d, lits.v[i]->str, lits.v[i]->len);

		e->str = lits.v[i]->str;
		e->len = lits.v[i]->len;
		e->n = 0;
		e->id = (uint32_t)i;
		ent[i] = e;
	}
	for (j = 0; j < rs->n_rules; j++)
		for (i = 0; i < gs[j].n; i++)
			ent[lits.idx[place_of(&lits, gs[j].v[i])] - 1]->n++;
	for (i = 0; i < lits.n; i++) {
		ent[i]->off = at;
		at += ent[i]->n + d->other_n;
		ent[i]->n = 0;
	}
	for (j = 0; j < rs->n_rules; j++) {
		if (gs[j].all) {
			for (i = 0; i < lits.n; i++)
				d->lists[ent[i]->off + ent[i]->n++] = (uint32_t)j;
			continue;
		}
		for (i = 0; i < gs[j].n; i++) {
			struct dp_entry *e = ent[lits.idx[place_of(&lits, gs[j].v[i])] - 1];

			d->lists[e->off + e->n++] = (uint32_t)j;
		}
	}
	tl_free(ent);
	ent = NULL;
	if (build_items(d, rs, ig, lits.n))
		goto fail;
	guard_free(&lits);
	return 0;
too_big:
	d->field = -1;
	guard_free(&lits);
	return 0;
fail:
	tl_free(ent);
	guard_free(&lits);
	return -1;
}

static void free_rest(struct dp_index *d)
{
	const struct rl_ruleset *rs = d->rs;
	size_t i, j;

	for (i = 0; d->rest && i < rs->n_rules; i++)
		tl_free(d->rest[i].conds);
	tl_free(d->rest);
	d->rest = NULL;
	for (i = 0; d->items && i < rs->n_rules; i++) {
		for (j = 0; d->items[i] && j < rs->rules[i].n_seq_items; j++)
			tl_free(d->items[i][j].rest.conds);
		tl_free(d->items[i]);
	}
	tl_free(d->items);
	tl_free(d->bits);
	d->items = NULL;
	d->bits = NULL;
}

/* The guards of sequence r's items, by step id, into *ig (NULL for another kind); 0 or -1. */
static int item_guards(const struct rl_rule *r, uint32_t slot, struct guard **ig)
{
	size_t j;
	int rc = 0;

	*ig = NULL;
	if (r->kind != RL_SEQUENCE || !r->n_seq_items)
		return 0;
	if (!(*ig = tl_calloc(r->n_seq_items, sizeof **ig)))
		return -1;
	for (j = 0; j < r->n_seq_items && !rc; j++)
		rc = guard_of(r->items[j]->where, slot, &(*ig)[j]);
	return rc;
}

static void item_guards_free(const struct rl_rule *r, struct guard *ig)
{
	size_t j;

	for (j = 0; ig && j < r->n_seq_items; j++)
		guard_free(&ig[j]);
	tl_free(ig);
}

struct dp_index *dp_build(const struct rl_ruleset *rs)
{
	struct dp_index *d = tl_calloc(1, sizeof *d);
	struct guard *gs = NULL, **ig = NULL;
	size_t i, entries = 0;
	int rc = 0;

	if (!d)
		return NULL;
	d->rs = rs;
	d->field = pick_field(rs);
	if (d->field == -2)
		goto fail;
	if (d->field >= 0) {
		gs = tl_calloc(rs->n_rules ? rs->n_rules : 1, sizeof *gs);
		ig = tl_calloc(rs->n_rules ? rs->n_rules : 1, sizeof *ig);
		if (!gs || !ig) {
			tl_free(gs);
			tl_free(ig);
			goto fail;
		}
		d->rest = tl_calloc(rs->n_rules ? rs->n_rules : 1, sizeof *d->rest);
		if (!d->rest)
			rc = -1;
		for (i = 0; i < rs->n_rules && !rc && d->field >= 0; i++) {
			const struct rl_rule *r = &rs->rules[i];

			rc = rule_guard(r, (uint32_t)d->field, &gs[i]);
			if (!rc && r->kind != RL_SEQUENCE && r->where)
				rc = residue(r->where, (uint32_t)d->field, &d->rest[i]);
			if (!rc)
				rc = item_guards(r, (uint32_t)d->field, &ig[i]);
			/* the lists would hold at least this many entries: too many, stop here */
			entries += gs[i].n;
			if (entries > DP_MAX_ENTRIES)
				d->field = -1;
		}
		if (!rc && d->field >= 0)
			rc = build_lists(d, rs, gs, ig);
		for (i = 0; i < rs->n_rules; i++) {
			guard_free(&gs[i]);
			item_guards_free(&rs->rules[i], ig[i]);
		}
		tl_free(gs);
		tl_free(ig);
		if (rc)
			goto fail;
	}
	if (d->field < 0) {
		/* every event runs every rule */
		free_rest(d);
		tl_free(d->tab);
		tl_free(d->lists);
		d->tab = NULL;
		d->lists = tl_malloc((rs->n_rules ? rs->n_rules : 1) * sizeof *d->lists);
		if (!d->lists)
			goto fail;
		for (i = 0; i < rs->n_rules; i++)
			d->lists[i] = (uint32_t)i;
		d->every_off = 0;
		d->every_n = (uint32_t)rs->n_rules;
	}
	return d;
fail:
	dp_free(d);
	return NULL;
}

void dp_free(struct dp_index *d)
{
	if (!d)
		return;
	free_rest(d);
	tl_free(d->tab);
	tl_free(d->lists);
	tl_free(d);
}

const uint32_t *dp_rules(const struct dp_index *d, const struct tl_value *slots, size_t *n,
			 const struct dp_rest **rest, uint32_t *lit)
{
	const struct tl_value *v;
	const struct dp_entry *e;

	*rest = NULL;
	*lit = DP_NO_LIT;
	if (d->field < 0 || (v = &slots[d->field])->type != TL_STR) {
		*n = d->every_n;
		return d->lists + d->every_off;
	}
	e = lookup(d, v->str, v->len);
	*rest = d->rest; /* the unguarded rules have no guard to take off: all of theirs is left */
	if (!e->str) {
		*n = d->other_n;
		return d->lists + d->other_off;
	}
	*lit = e->id;
	*n = e->n;
	return d->lists + e->off;
}

const struct dp_item *dp_items(const struct dp_index *d, size_t i)
{
	return d->items ? d->items[i] : NULL;
}

int64_t dp_field(const struct dp_index *d)
{
	return d->field;
}
