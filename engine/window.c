/* window.c - threshold windows with incrementally maintained aggregates.
 *
 * Pipeline position: engine (see window.h). With many keys, the engine's time goes to cache
 * misses on windows, and a typical window holds 1 to 3 events; so a window lives in as few
 * blocks as it can, and each block holds only what its rule's aggregates need:
 *
 *   window block  struct window | a state per op | a ring of 2 entries
 *   ring entry    tf_stamp (16 bytes) | line, len (16, with evidence) | a value per distinct
 *                 and sum op (8 each)
 *
 * - What the windows of a rule share is worked out once, in its plan (win_plan_new): the sizes
 *   above, and its ops: the aggregates that keep state, but one per kind and argument
 *   (aggregates of the same kind over the same field share it; sum and avg share a sum),
 *   grouped min and max, then distinct, then sum, so that a push, a pop and the results walk
 *   the ops of each kind without a switch.
 * - Events are numbered by a running 32-bit sequence number that wraps; the oldest event is
 *   number next_seq - n, and the event numbered s sits at ring position s mod the ring's
 *   capacity (a power of two), so that an entry needs no number and the ring no head.
 * - The ring stays inside the window block while it holds at most 2 events; beyond, it is a
 *   block of its own that doubles, and it comes back inside when the window empties.
 * - count needs nothing but the ring's length; min and max keep a monotonic deque of
 *   (sequence number, value) pairs in one array, so their values need no room in the ring;
 *   but a min or max that the rule's when does not read, over the argument of a sum, keeps
 *   nothing: it is needed only for an alert, and read off the sum's values in the ring then.
 * - After a push, only the aggregates when reads are worked out (win_results_when); the others
 *   when it holds.
 * - distinct keeps a set of one short value (up to 10 bytes) inside its state, one longer value
 *   in a block, and from the second value on, an open-addressing table (linear probing,
 *   capacity a power of two from 4, at most 3/4 full, backward-shift deletion, no tombstones)
 *   of (hash, value) pairs: a probe compares hashes without touching the values, each of which
 *   is a pool block with its count.
 * - Deques and sets give their blocks back when they empty, so an idle key costs its window
 *   block only. Clearing and freeing a window release whole blocks without visiting the events
 *   (but for their evidence lines, one block each); so does an eviction of all its events.
 */
#include "window.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "agg.h"
#include "alloc.h"
#include "bytes.h"
#include "hash.h"

#define INLINE_BITS 1 /* the ring inside the window block holds 1 << INLINE_BITS events */
#define MAX_BITS 31   /* sequence numbers are 32 bits: a ring holds at most 2^31 events */

/* ---- distinct: a counted multiset of values ---- */

struct dval {
	uint32_t count; /* events of the window with this value */
	uint32_t len;   /* of bytes */
	char bytes[];   /* a type tag, then the value's bytes, as agg_value_id gives them */
};

struct dslot {
	uint64_t hash;
	struct dval *v; /* NULL: a free slot */
};

#define DIST_INLINE 11 /* the longest value (tag and bytes) that a set keeps in its state */
#define DIST_MIN_CAP 4 /* the smallest table */

/* A set has one of three forms, told by cap (an empty set is the first):
 *   cap 0   at most one value, short, inline; its events hold &dv_inline in the ring
 *   cap 1   one value, in a block
 *   cap 4+  an open-addressing table of cap slots. Events that were pushed while the set was
 *           inline still hold &dv_inline: their value is first, since moved into the table.
 * The blocks are freed when the set empties, and the set is inline again. */
struct dist {
	uint32_t cap;
	uint32_t n; /* distinct values present */
	union {
		struct {
			uint32_t count;
			uint8_t len;
			char bytes[DIST_INLINE];
		} in;              /* cap 0 */
		struct dval *one;  /* cap 1 */
		struct {
			struct dslot *slots;
			struct dval *first; /* the value of the events marked inline, or NULL */
		} t;               /* cap 4+ */
	};
};

static struct dval dv_inline; /* a mark, never a value */

static int same(const char *a, size_t a_len, char tag, const char *bytes, size_t len)
{
	return a_len == len + 1 && a[0] == tag && memcmp(a + 1, bytes, len) == 0;
}

static uint64_t dval_hash(const struct dval *dv)
{
	return tl_hash(dv->bytes, dv->len);
}

static struct dval *dval_new(struct pool *pool, char tag, const char *bytes, size_t len)
{
	struct dval *dv;

	if (len > UINT32_MAX - 1)
		return NULL;
	dv = pool_alloc(pool, sizeof *dv + len + 1);
	if (!dv)
		return NULL;
	dv->count = 1;
	dv->len = (uint32_t)(len + 1);
	dv->bytes[0] = tag;
	memcpy(dv->bytes + 1, bytes, len);
	return dv;
}

static void dval_free(struct pool *pool, struct dval *dv)
{
	pool_free(pool, dv, sizeof *dv + dv->len);
}

/* The slot holding the value (tag, bytes) of hash h, or the free slot where it would go; the
 * table has a free slot. */
static uint32_t dist_probe(const struct dist *d, uint64_t h, char tag, const char *bytes,
			   size_t len)
{
	uint32_t mask = d->cap - 1, i = (uint32_t)h & mask;
	const struct dval *v;

	for (; (v = d->t.slots[i].v); i = (i + 1) & mask)
		if (d->t.slots[i].hash == h && same(v->bytes, v->len, tag, bytes, len))
			break;
	return i;
}

/* Puts v (not in the table) in the first free slot of its run. */
static void dist_place(struct dslot *slots, uint32_t cap, uint64_t h, struct dval *v)
{
	uint32_t i;

	for (i = (uint32_t)h & (cap - 1); slots[i].v; i = (i + 1) & (cap - 1))
		;
	slots[i].hash = h;
	slots[i].v = v;
}

/* Moves the set into a table twice as large, or of DIST_MIN_CAP slots; the set is unchanged
 * on failure. */
static int dist_grow(struct pool *pool, struct dist *d)
{
	uint32_t cap = d->cap < DIST_MIN_CAP ? DIST_MIN_CAP : d->cap * 2, i;
	struct dval *first = NULL;
	struct dslot *ns;

	if (d->cap >> MAX_BITS)
		return -1;
	ns = pool_calloc(pool, cap * sizeof *ns);
	if (!ns)
		return -1;
	if (d->cap == 0 && d->n) {
		first = dval_new(pool, d->in.bytes[0], d->in.bytes + 1, d->in.len - 1u);
		if (!first) {
			pool_free(pool, ns, cap * sizeof *ns);
			return -1;
		}
		first->count = d->in.count;
		dist_place(ns, cap, dval_hash(first), first);
	} else if (d->cap == 1) {
		dist_place(ns, cap, dval_hash(d->one), d->one);
	} else if (d->cap) {
		first = d->t.first;
		for (i = 0; i < d->cap; i++)
			if (d->t.slots[i].v)
				dist_place(ns, cap, d->t.slots[i].hash, d->t.slots[i].v);
		pool_free(pool, d->t.slots, d->cap * sizeof *d->t.slots);
	}
	d->t.slots = ns;
	d->t.first = first;
	d->cap = cap;
	return 0;
}

/* dist_add for a value that is neither the set's only value nor a first short one (out of
 * line: the common cases stay small). */
__attribute__((noinline)) static struct dval *dist_add_slow(struct pool *pool, struct dist *d, char tag, const char *bytes,
				  size_t len)
{
	uint64_t h = tl_hash_end(tl_hash_feed(tl_hash_feed(TL_HASH_SEED, &tag, 1), bytes, len));
	struct dval *dv;
	uint32_t i;

	if (d->cap >= DIST_MIN_CAP) {
		i = dist_probe(d, h, tag, bytes, len);
		if (d->t.slots[i].v) {
			d->t.slots[i].v->count++;
			return d->t.slots[i].v;
		}
	}
	/* a value not in the set */
	dv = dval_new(pool, tag, bytes, len);
	if (!dv)
		return NULL;
	if (d->n == 0) {
		d->one = dv;
		d->cap = 1;
	} else {
		/* a second value needs a table; a table is at most 3/4 full */
		if ((d->cap < DIST_MIN_CAP || ((uint64_t)d->n + 1) * 4 > (uint64_t)d->cap * 3) &&
		    dist_grow(pool, d)) {
			dval_free(pool, dv);
			return NULL;
		}
		dist_place(d->t.slots, d->cap, h, dv);
	}
	d->n++;
	return dv;
}

/* Counts v in; what its event holds in the ring to count it out (&dv_inline or its value), or
 * NULL (allocation; the set is unchanged). A set of at most one value takes it without a hash
 * or a call. */
static struct dval *dist_add(struct pool *pool, struct dist *d, const struct tl_value *v)
{
	char tag;
	const char *bytes;
	size_t len = agg_value_id(v, &tag, &bytes);

	if (d->cap == 0) {
		if (d->n == 0) {
			if (len < DIST_INLINE) {
				d->in.count = 1;
				d->in.len = (uint8_t)(len + 1);
				d->in.bytes[0] = tag;
				bytes_copy(d->in.bytes + 1, bytes, len);
				d->n = 1;
				return &dv_inline;
			}
		} else if (d->in.len == len + 1 && d->in.bytes[0] == tag &&
			   bytes_eq(d->in.bytes + 1, bytes, len)) {
			d->in.count++;
			return &dv_inline;
		}
	} else if (d->cap == 1 && same(d->one->bytes, d->one->len, tag, bytes, len)) {
		d->one->count++;
		return d->one;
	}
	return dist_add_slow(pool, d, tag, bytes, len);
}

static void dist_free(struct pool *pool, struct dist *d)
{
	uint32_t i;

	if (d->cap == 1) {
		dval_free(pool, d->one);
	} else if (d->cap) {
		for (i = 0; i < d->cap; i++)
			if (d->t.slots[i].v)
				dval_free(pool, d->t.slots[i].v);
		pool_free(pool, d->t.slots, d->cap * sizeof *d->t.slots);
	}
	memset(d, 0, sizeof *d);
}

/* Counts out a value that dist_add counted in (dv as it returned); the last copy of a value
 * leaves the set, and the set's last value takes its blocks along. */
__attribute__((noinline)) static void dist_drop(struct pool *pool, struct dist *d, struct dval *dv)
{
	uint32_t mask = d->cap - 1, i, j;

	if (dv == &dv_inline) {
		if (d->cap == 0) {
			if (--d->in.count == 0)
				d->n = 0;
			return;
		}
		dv = d->t.first;
	}
	if (--dv->count)
		return;
	if (d->n == 1) {
		dist_free(pool, d);
		return;
	}
	for (i = (uint32_t)dval_hash(dv) & mask; d->t.slots[i].v != dv; i = (i + 1) & mask)
		;
	/* backward shift: pull later entries of the run into the hole when their probe path
	 * from their home slot crosses it, so that no lookup stops early */
	for (j = (i + 1) & mask; d->t.slots[j].v; j = (j + 1) & mask)
		if (((j - i) & mask) <= ((j - (uint32_t)d->t.slots[j].hash) & mask)) {
			d->t.slots[i] = d->t.slots[j];
			i = j;
		}
	d->t.slots[i].v = NULL;
	if (dv == d->t.first)
		d->t.first = NULL;
	dval_free(pool, dv);
	d->n--;
}

/* ---- min/max: a monotonic deque of (sequence number, value) ---- */

struct mono_ent {
	double v;
	uint32_t seq;
};

struct mono {
	struct mono_ent *ents; /* cap entries (a power of two); NULL while cap is 0 */
	uint32_t head, n, cap;
};

/* mono_reserve when the deque is full: a twice larger array. */
__attribute__((noinline)) static int mono_grow(struct pool *pool, struct mono *q)
{
	struct mono_ent *ne;
	uint32_t nc, i;

	if (q->cap >> MAX_BITS)
		return -1;
	nc = q->cap ? q->cap * 2 : 2;
	ne = pool_alloc(pool, nc * sizeof *ne);
	if (!ne)
		return -1;
	for (i = 0; i < q->n; i++)
		ne[i] = q->ents[(q->head + i) & (q->cap - 1)];
	pool_free(pool, q->ents, q->cap * sizeof *q->ents);
	q->ents = ne;
	q->head = 0;
	q->cap = nc;
	return 0;
}

/* Makes room for one more entry. */
static int mono_reserve(struct pool *pool, struct mono *q)
{
	return q->n < q->cap ? 0 : mono_grow(pool, q);
}

/* Appends; room must have been reserved. */
static void mono_push(struct mono *q, uint32_t seq, double v, int is_max)
{
	/* values that can never again be the extreme leave from the back */
	while (q->n) {
		uint32_t back = (q->head + q->n - 1) & (q->cap - 1);

		if (is_max ? q->ents[back].v > v : q->ents[back].v < v)
			break;
		q->n--;
	}
	q->ents[(q->head + q->n) & (q->cap - 1)].v = v;
	q->ents[(q->head + q->n) & (q->cap - 1)].seq = seq;
	q->n++;
}

static void mono_free(struct pool *pool, struct mono *q)
{
	pool_free(pool, q->ents, q->cap * sizeof *q->ents);
	memset(q, 0, sizeof *q);
}

/* The event numbered seq leaves; the last entry frees the array. */
static void mono_evict(struct pool *pool, struct mono *q, uint32_t seq)
{
	if (!q->n || q->ents[q->head].seq != seq)
		return;
	if (q->n == 1) {
		mono_free(pool, q);
		return;
	}
	q->head = (q->head + 1) & (q->cap - 1);
	q->n--;
}

/* ---- the plan of a rule's windows ---- */

/* An aggregate with state: aggregates of the same kind over the same argument share one (sum and
 * avg share the sum), and its ring value with it. The plan's ops come grouped: min and max
 * first, then distinct, then sum: an op's state is the window's aggs[op], and the ring value of
 * a distinct or a sum is vals[op - n_mono]. */
struct wp_op {
	uint8_t kind;  /* RL_AGG_MIN, RL_AGG_MAX, RL_AGG_DISTINCT or RL_AGG_SUM */
	uint32_t arg;  /* the index of its argument in win_push's args */
	int32_t field; /* the event's slot when that argument is a field, read there; or -1 */
};

/* Where the value of an aggregate of the rule comes from. */
struct wp_res {
	uint32_t kind; /* the aggregate's own kind */
	uint32_t op;   /* its op (but count); lazy: the sum op over the same argument */
	size_t off;    /* of its op's state in the window block */
	uint8_t lazy;  /* a min or max that keeps no state: read off the sum's ring values */
};

struct win_plan {
	size_t block;        /* bytes of a window block */
	size_t stride;       /* bytes of a ring entry */
	uint32_t vals_off;   /* where an entry's values start: after the time and the line */
	uint32_t n_ops, n_mono, n_dist;
	uint8_t evidence;
	uint8_t too_big;     /* the ring's entries do not fit: win_new fails */
	size_t n_aggs;
	struct wp_res *res;  /* n_aggs */
	uint32_t *when_res;  /* the aggregates the rule's when reads (indices in res) */
	size_t n_when;
	struct wp_op ops[];
};

/* ---- the window ---- */

union agg_state {
	struct {
		double sum, comp; /* compensated running sum (Neumaier) */
		uint64_t n;       /* numeric values in the window */
	} s;                      /* sum, avg */
	struct mono q;            /* min, max */
	struct dist d;            /* distinct */
};

union aggv {
	double d;        /* sum/avg: NAN when the value was not a number */
	struct dval *dv; /* distinct: as dist_add returned it; NULL when missing or null */
};

_Static_assert(sizeof(union agg_state) <= 24, "an aggregate's state fits in 24 bytes");

struct ev_line {
	char *line; /* a NUL-terminated copy of the event's line */
	size_t len;
};

struct window {
	struct pool *pool;
	char *ring;             /* inside this block (after aggs) or a block of its own */
	int64_t t_oldest;       /* the oldest event's time, when n > 0: the test for eviction reads
				 * no ring entry, which in a long window lies far from the newest */
	uint32_t n;             /* events in the window */
	uint32_t next_seq;      /* the number of the next event */
	uint32_t stride;        /* bytes per ring entry */
	uint8_t cap_bits;       /* the ring holds 1 << cap_bits entries; inside when INLINE_BITS */
	uint8_t evidence;       /* the entries hold an ev_line after the time */
	union agg_state aggs[]; /* one per op of the plan */
};

/* The class of an aggregate's state: sum and avg keep the same; count none (0). */
static int op_kind(int kind)
{
	switch (kind) {
	case RL_AGG_SUM: case RL_AGG_AVG:
		return RL_AGG_SUM;
	case RL_AGG_MIN: case RL_AGG_MAX: case RL_AGG_DISTINCT:
		return kind;
	default:
		return 0;
	}
}

/* Whether two arguments give the same value for every event: the same node, or the same field
 * (the engine copies a field's value without evaluating it). */
static int same_arg(const struct ex_node *a, const struct ex_node *b)
{
	return a == b || (a && b && a->kind == EX_FIELD && b->kind == EX_FIELD && a->slot == b->slot);
}

#define DEDUP_SCAN 256 /* an aggregate is compared with this many ops of its group at most */

/* Marks in reads[] the aggregates that expression n reads. */
static void mark_reads(const struct ex_node *n, uint8_t *reads, size_t n_aggs)
{
	size_t i;

	if (!n)
		return;
	if (n->kind == EX_AGG && n->slot < n_aggs)
		reads[n->slot] = 1;
	for (i = 0; i < n->n_kids; i++)
		mark_reads(n->kids[i], reads, n_aggs);
}

struct win_plan *win_plan_new(const struct rl_rule *r)
{
	static const uint8_t groups[] = { RL_AGG_MIN, RL_AGG_MAX, RL_AGG_DISTINCT, RL_AGG_SUM };
	struct win_plan *p;
	size_t i, g, n_vals;
	uint32_t j, first;
	uint8_t *reads;

	if (r->n_aggs > UINT32_MAX / 2)
		return NULL;
	p = tl_calloc(1, sizeof *p + r->n_aggs * sizeof p->ops[0]);
	if (!p)
		return NULL;
	p->res = tl_calloc(r->n_aggs ? r->n_aggs : 1, sizeof *p->res);
	p->when_res = tl_calloc(r->n_aggs ? r->n_aggs : 1, sizeof *p->when_res);
	reads = tl_calloc(r->n_aggs ? r->n_aggs : 1, 1);
	if (!p->res || !p->when_res || !reads) {
		tl_free(reads);
		win_plan_free(p);
		return NULL;
	}
	p->n_aggs = r->n_aggs;
	mark_reads(r->when, reads, r->n_aggs);
	for (i = 0; i < r->n_aggs; i++) {
		if (reads[i])
			p->when_res[p->n_when++] = (uint32_t)i;
		/* a min or max that when does not read, over the argument of a sum (sum(amount)
		 * and max(amount)), is needed only for an alert: it keeps no deque, and is read
		 * off the sum's values in the ring then */
		if ((r->aggs[i].kind == RL_AGG_MIN || r->aggs[i].kind == RL_AGG_MAX) && !reads[i])
			for (j = 0; j < r->n_aggs && j < DEDUP_SCAN; j++)
				if (op_kind(r->aggs[j].kind) == RL_AGG_SUM &&
				    same_arg(r->aggs[j].arg, r->aggs[i].arg)) {
					p->res[i].lazy = 1;
					p->res[i].op = j; /* for now the sum's aggregate */
					break;
				}
	}
	tl_free(reads);
	for (g = 0; g < sizeof groups; g++) {
		first = p->n_ops;
		for (i = 0; i < r->n_aggs; i++) {
			if (op_kind(r->aggs[i].kind) != groups[g] || p->res[i].lazy)
				continue;
			for (j = first; j < p->n_ops && j - first < DEDUP_SCAN; j++)
				if (p->ops[j].kind == groups[g] &&
				    same_arg(r->aggs[p->ops[j].arg].arg, r->aggs[i].arg))
					break;
			if (j == p->n_ops || j - first == DEDUP_SCAN) {
				j = p->n_ops++;
				p->ops[j].kind = groups[g];
				p->ops[j].arg = (uint32_t)i;
				p->ops[j].field = win_arg_field(&r->aggs[i]);
			}
			p->res[i].op = j;
		}
		if (groups[g] == RL_AGG_MAX)
			p->n_mono = p->n_ops;
		else if (groups[g] == RL_AGG_DISTINCT)
			p->n_dist = p->n_ops - p->n_mono;
	}
	for (i = 0; i < r->n_aggs; i++) {
		if (p->res[i].lazy)
			p->res[i].op = p->res[p->res[i].op].op;
		p->res[i].kind = r->aggs[i].kind;
		p->res[i].off = offsetof(struct window, aggs) + p->res[i].op * sizeof(union agg_state);
	}
	n_vals = p->n_ops - p->n_mono;
	p->evidence = r->evidence != 0;
	p->vals_off = (uint32_t)(sizeof(struct tf_stamp) + (p->evidence ? sizeof(struct ev_line) : 0));
	p->stride = p->vals_off + n_vals * sizeof(union aggv);
	p->too_big = p->stride > UINT32_MAX >> INLINE_BITS;
	p->block = sizeof(struct window) + p->n_ops * sizeof(union agg_state) +
		   (p->stride << INLINE_BITS);
	return p;
}

void win_plan_free(struct win_plan *p)
{
	if (!p)
		return;
	tl_free(p->res);
	tl_free(p->when_res);
	tl_free(p);
}

int32_t win_arg_field(const struct rl_agg *a)
{
	return a->arg && a->arg->kind == EX_FIELD ? (int32_t)a->arg->slot : -1;
}

size_t win_block_size(const struct win_plan *p)
{
	return p->block;
}

static uint32_t ring_mask(const struct window *w)
{
	return ((uint32_t)1 << w->cap_bits) - 1;
}

/* The ring entry of the event numbered seq. */
static char *entry(const struct window *w, uint32_t seq)
{
	return w->ring + (size_t)(seq & ring_mask(w)) * w->stride;
}

static struct ev_line *entry_line(char *e)
{
	return (struct ev_line *)(e + sizeof(struct tf_stamp));
}

static union aggv *entry_vals(const struct win_plan *p, char *e)
{
	return (union aggv *)(e + p->vals_off);
}

static char *inline_ring(struct window *w, const struct win_plan *p)
{
	return (char *)&w->aggs[p->n_ops];
}

static const union agg_state empty_state;

struct window *win_new(struct pool *pool, const struct win_plan *p)
{
	void *mem;

	if (p->too_big || !(mem = pool_alloc(pool, p->block)))
		return NULL;
	return win_init(mem, pool, p);
}

int win_too_big(const struct win_plan *p)
{
	return p->too_big;
}

struct window *win_init(void *mem, struct pool *pool, const struct win_plan *p)
{
	struct window *w = mem;
	uint32_t i;

	w->pool = pool;
	w->n = 0;
	w->next_seq = 0;
	w->stride = (uint32_t)p->stride;
	w->cap_bits = INLINE_BITS;
	w->evidence = p->evidence;
	w->ring = inline_ring(w, p);
	for (i = 0; i < p->n_ops; i++)
		w->aggs[i] = empty_state;
	return w;
}

/* The ring back inside the window block (the window is empty). */
static void ring_release(struct window *w, const struct win_plan *p)
{
	if (w->cap_bits == INLINE_BITS)
		return;
	pool_free(w->pool, w->ring, (size_t)w->stride << w->cap_bits);
	w->ring = inline_ring(w, p);
	w->cap_bits = INLINE_BITS;
}

/* The evidence lines of all the window's events back to the pool. */
__attribute__((noinline)) static void free_lines(struct window *w)
{
	uint32_t k;

	for (k = 0; k < w->n; k++) {
		struct ev_line *el = entry_line(entry(w, w->next_seq - w->n + k));

		pool_free(w->pool, el->line, el->len + 1);
	}
}

/* Whether the window holds blocks besides its own (a leaf: most windows hold none). */
static int holds_blocks(const struct window *w, const struct win_plan *p)
{
	const union agg_state *a = w->aggs, *end_mono = a + p->n_mono, *end = end_mono + p->n_dist;

	if (w->evidence || w->cap_bits != INLINE_BITS)
		return 1;
	for (; a < end_mono; a++)
		if (a->q.cap)
			return 1;
	for (; a < end; a++)
		if (a->d.cap)
			return 1;
	return 0;
}

/* Gives back every block of a window but its own, without visiting the events (but for their
 * evidence lines); its states are left as they were. */
__attribute__((noinline)) static void release_blocks(struct window *w, const struct win_plan *p)
{
	union agg_state *a = w->aggs, *end_mono = a + p->n_mono, *end = end_mono + p->n_dist;

	if (w->evidence)
		free_lines(w);
	for (; a < end_mono; a++)
		if (a->q.cap)
			pool_free(w->pool, a->q.ents, a->q.cap * sizeof *a->q.ents);
	for (; a < end; a++)
		if (a->d.cap)
			dist_free(w->pool, &a->d);
	if (w->cap_bits != INLINE_BITS)
		ring_release(w, p);
}

/* Empties the window by giving back whole blocks. */
static void drop_all(struct window *w, const struct win_plan *p)
{
	uint32_t i;

	if (holds_blocks(w, p))
		release_blocks(w, p);
	for (i = 0; i < p->n_ops; i++)
		w->aggs[i] = empty_state;
	w->n = 0;
}

void win_release(struct window *w, const struct win_plan *p)
{
	/* an empty window holds nothing but its block */
	if (w->n && holds_blocks(w, p))
		release_blocks(w, p);
}

void win_free(struct window *w, const struct win_plan *p)
{
	if (!w)
		return;
	win_release(w, p);
	pool_free(w->pool, w, p->block);
}

/* Evidence lines asked for ahead of freeing a window (most windows freed hold one or two). */
#define PREFETCH_LINES 4

/* What release_blocks reads first, block by block: the ring grown out of the window, each
 * deque's array, each distinct set's value or table (the values in a table are only known once
 * it is read), and the evidence lines of the first events (from an inline ring: an outer one
 * is not read yet). */
void win_prefetch_free(const struct window *w, const struct win_plan *p)
{
	const union agg_state *a, *end_mono, *end;
	uint32_t k;

	if (!w || !w->n) /* an empty window holds no block but its own */
		return;
	a = w->aggs;
	end_mono = a + p->n_mono;
	end = end_mono + p->n_dist;
	if (w->cap_bits != INLINE_BITS)
		__builtin_prefetch(w->ring);
	for (; a < end_mono; a++)
		if (a->q.cap)
			__builtin_prefetch(a->q.ents);
	for (; a < end; a++)
		if (a->d.cap == 1)
			__builtin_prefetch(a->d.one);
		else if (a->d.cap)
			__builtin_prefetch(a->d.t.slots);
	if (w->evidence && w->cap_bits == INLINE_BITS)
		for (k = 0; k < w->n && k < PREFETCH_LINES; k++)
			__builtin_prefetch(entry_line(entry(w, w->next_seq - w->n + k))->line);
}

static void pop_oldest(struct window *w, const struct win_plan *p)
{
	uint32_t seq = w->next_seq - w->n, i, n_fall = p->n_mono + p->n_dist;
	char *e = entry(w, seq);
	union aggv *vals = entry_vals(p, e);

	for (i = 0; i < p->n_mono; i++)
		mono_evict(w->pool, &w->aggs[i].q, seq);
	for (; i < n_fall; i++)
		if (vals[i - p->n_mono].dv)
			dist_drop(w->pool, &w->aggs[i].d, vals[i - p->n_mono].dv);
	for (; i < p->n_ops; i++) {
		union agg_state *a = &w->aggs[i];
		double d = vals[i - p->n_mono].d;

		if (!isnan(d)) {
			agg_sum_add(&a->s.sum, &a->s.comp, -d);
			/* no drift survives an empty window */
			if (--a->s.n == 0)
				a->s.sum = a->s.comp = 0;
		}
	}
	if (w->evidence)
		pool_free(w->pool, entry_line(e)->line, entry_line(e)->len + 1);
	if (--w->n == 0)
		ring_release(w, p);
	else
		w->t_oldest = ((const struct tf_stamp *)entry(w, seq + 1))->us;
}

static int64_t time_of(const struct window *w, uint32_t seq)
{
	return ((const struct tf_stamp *)entry(w, seq))->us;
}

/* win_evict_before when the oldest event goes: when all go, the window is emptied at once (as
 * popping them one by one would leave it). Out of line: the test before it is the common
 * case. */
__attribute__((noinline)) static void evict_some(struct window *w, const struct win_plan *p, int64_t t_min)
{
	uint32_t k;

	for (k = 1; k < w->n && time_of(w, w->next_seq - w->n + k) < t_min; k++)
		;
	if (k == w->n) {
		drop_all(w, p);
		return;
	}
	while (k--)
		pop_oldest(w, p);
}

void win_evict_before(struct window *w, const struct win_plan *p, int64_t t_min)
{
	if (w->n && w->t_oldest < t_min)
		evict_some(w, p, t_min);
}

void win_clear(struct window *w, const struct win_plan *p)
{
	drop_all(w, p);
}

/* Doubles the ring (it is full); its events keep their numbers. */
__attribute__((noinline)) static int ring_grow(struct window *w)
{
	uint32_t nc, i, seq;
	char *nr;

	if (w->cap_bits >= MAX_BITS)
		return -1;
	nc = (uint32_t)2 << w->cap_bits;
	nr = pool_alloc(w->pool, (size_t)w->stride * nc);
	if (!nr)
		return -1;
	for (i = 0; i < w->n; i++) {
		seq = w->next_seq - w->n + i;
		memcpy(nr + (size_t)(seq & (nc - 1)) * w->stride, entry(w, seq), w->stride);
	}
	if (w->cap_bits > INLINE_BITS)
		pool_free(w->pool, w->ring, (size_t)w->stride << w->cap_bits);
	w->ring = nr;
	w->cap_bits++;
	return 0;
}

/* The value of op's argument for the event being pushed. */
static const struct tl_value *op_value(const struct wp_op *op, const struct tl_value *slots,
				       const struct tl_value *args)
{
	return op->field >= 0 ? &slots[op->field] : &args[op->arg];
}

/* win_push's min and max: room for the event in each deque (0), or -1 with the deques as they
 * were. */
__attribute__((noinline)) static int mono_reserve_all(struct window *w, const struct win_plan *p,
						      const struct tl_value *slots,
						      const struct tl_value *args)
{
	uint32_t i;

	for (i = 0; i < p->n_mono; i++)
		if (op_value(&p->ops[i], slots, args)->type == TL_NUM &&
		    mono_reserve(w->pool, &w->aggs[i].q)) {
			/* a deque that was empty gives back the array reserved for this event */
			for (i = 0; i < p->n_mono; i++)
				if (!w->aggs[i].q.n)
					mono_free(w->pool, &w->aggs[i].q);
			return -1;
		}
	return 0;
}

/* win_push's min and max, once nothing can fail. */
__attribute__((noinline)) static void mono_push_all(struct window *w, const struct win_plan *p,
						    const struct tl_value *slots,
						    const struct tl_value *args, uint32_t seq)
{
	uint32_t i;

	for (i = 0; i < p->n_mono; i++) {
		const struct tl_value *v = op_value(&p->ops[i], slots, args);

		if (v->type == TL_NUM)
			mono_push(&w->aggs[i].q, seq, v->num, p->ops[i].kind == RL_AGG_MAX);
	}
}

/* win_push failed after mono_reserve_all: the deques as they were, the line copy freed. */
__attribute__((noinline)) static void push_failed(struct window *w, const struct win_plan *p,
						  char *copy, size_t len)
{
	uint32_t i;

	for (i = 0; i < p->n_mono; i++)
		if (!w->aggs[i].q.n)
			mono_free(w->pool, &w->aggs[i].q);
	pool_free(w->pool, copy, len + 1);
}

int win_push(struct window *w, const struct win_plan *p, const struct tf_stamp *ts,
	     const struct tl_value *slots, const struct tl_value *args, const char *line,
	     size_t len)
{
	const struct wp_op *op = p->ops + p->n_mono, *end_dist = op + p->n_dist,
			   *end = p->ops + p->n_ops;
	union agg_state *a = w->aggs + p->n_mono;
	union aggv *vals, *val;
	char *e, *copy = NULL;

	if (w->n > ring_mask(w) && ring_grow(w))
		return -1;
	if (w->evidence) {
		copy = pool_alloc(w->pool, len + 1);
		if (!copy)
			return -1;
		memcpy(copy, line, len);
		copy[len] = '\0';
	}
	if (p->n_mono && mono_reserve_all(w, p, slots, args)) {
		pool_free(w->pool, copy, len + 1);
		return -1;
	}
	/* the entry's slot is free (n < capacity): writing to it changes nothing yet */
	e = entry(w, w->next_seq);
	vals = val = entry_vals(p, e);
	/* the distinct values next: the last step here that can fail */
	for (; op < end_dist; op++, a++, val++) {
		const struct tl_value *v = op_value(op, slots, args);
		struct dval *dv = NULL;

		if (v->type != TL_MISSING && v->type != TL_NULL && !(dv = dist_add(w->pool, &a->d, v))) {
			/* take back the values counted in before */
			while (val > vals) {
				val--;
				a--;
				if (val->dv)
					dist_drop(w->pool, &a->d, val->dv);
			}
			push_failed(w, p, copy, len);
			return -1;
		}
		val->dv = dv;
	}
	memcpy(e, ts, sizeof *ts);
	if (!w->n)
		w->t_oldest = ts->us;
	if (w->evidence) {
		entry_line(e)->line = copy;
		entry_line(e)->len = len;
	}
	for (; op < end; op++, a++, val++) {
		const struct tl_value *v = op_value(op, slots, args);

		if (v->type == TL_NUM) {
			val->d = v->num;
			agg_sum_add(&a->s.sum, &a->s.comp, v->num);
			a->s.n++;
		} else {
			val->d = NAN;
		}
	}
	if (p->n_mono)
		mono_push_all(w, p, slots, args, w->next_seq);
	w->next_seq++;
	w->n++;
	return 0;
}

/* A lazy min or max: the extreme of the numbers among its sum's ring values (of equal ones,
 * the newest, as the deque keeps); unknown when there is none. */
static void ring_extreme(const struct window *w, const struct win_plan *p,
			 const struct wp_res *res, struct tl_value *v)
{
	uint32_t first = w->next_seq - w->n, k = res->op - p->n_mono, s;
	int is_max = res->kind == RL_AGG_MAX, found = 0;
	double best = 0;

	for (s = 0; s < w->n; s++) {
		double d = entry_vals(p, entry(w, first + s))[k].d;

		if (isnan(d))
			continue;
		if (!found || (is_max ? d >= best : d <= best))
			best = d;
		found = 1;
	}
	if (found)
		v->num = best;
	else
		v->type = TL_MISSING;
}

static void result(const struct window *w, const struct win_plan *p, const struct wp_res *res,
		   struct tl_value *v)
{
	const union agg_state *a = (const union agg_state *)((const char *)w + res->off);

	v->type = TL_NUM;
	switch (res->kind) {
	case RL_AGG_COUNT:
		v->num = (double)w->n;
		break;
	case RL_AGG_SUM:
		v->num = a->s.sum + a->s.comp;
		break;
	case RL_AGG_AVG:
		if (a->s.n)
			v->num = (a->s.sum + a->s.comp) / (double)a->s.n;
		else
			v->type = TL_MISSING;
		break;
	case RL_AGG_MIN: case RL_AGG_MAX:
		if (res->lazy)
			ring_extreme(w, p, res, v);
		else if (a->q.n)
			v->num = a->q.ents[a->q.head].v;
		else
			v->type = TL_MISSING;
		break;
	case RL_AGG_DISTINCT:
		v->num = (double)a->d.n;
		break;
	default:
		v->type = TL_MISSING;
		break;
	}
}

void win_results(const struct window *w, const struct win_plan *p, struct tl_value *out)
{
	size_t i;

	for (i = 0; i < p->n_aggs; i++)
		result(w, p, &p->res[i], &out[i]);
}

void win_results_when(const struct window *w, const struct win_plan *p, struct tl_value *out)
{
	size_t i;

	for (i = 0; i < p->n_when; i++)
		result(w, p, &p->res[p->when_res[i]], &out[p->when_res[i]]);
}

size_t win_count(const struct window *w)
{
	return w->n;
}

const struct tf_stamp *win_time(const struct window *w, size_t i)
{
	return (const struct tf_stamp *)entry(w, w->next_seq - w->n + (uint32_t)i);
}

const char *win_line(const struct window *w, size_t i, size_t *len)
{
	const struct ev_line *el;

	if (!w->evidence) {
		*len = 0;
		return NULL;
	}
	el = entry_line(entry(w, w->next_seq - w->n + (uint32_t)i));
	*len = el->len;
	return el->line;
}
