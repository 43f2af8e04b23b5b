/* window.c - threshold windows with incrementally maintained aggregates.
 *
 * Pipeline position: engine (see window.h). With many keys, the engine's time goes to cache
 * misses on windows, and a typical window holds 1 to 3 events; so a window lives in as few
 * blocks as it can, and each block holds only what its rule's aggregates need:
 *
 *   window block  struct window | a state per aggregate but count | a ring of 2 entries
 *   ring entry    tf_stamp (16 bytes) | line, len (16, with evidence) | a value per sum, avg and
 *                 distinct (8 each)
 *
 * - Events are numbered by a running 32-bit sequence number that wraps; the oldest event is
 *   number next_seq - n, and the event numbered s sits at ring position s mod the ring's
 *   capacity (a power of two), so that an entry needs no number and the ring no head.
 * - The ring stays inside the window block while it holds at most 2 events; beyond, it is a
 *   block of its own that doubles, and it comes back inside when the window empties.
 * - count needs nothing but the ring's length; min and max keep a monotonic deque of
 *   (sequence number, value) pairs in one array, so their values need no room in the ring.
 * - distinct keeps a set of one short value (up to 10 bytes) inside its state, one longer value
 *   in a block, and from the second value on, an open-addressing table (linear probing,
 *   capacity a power of two from 4, at most 3/4 full, backward-shift deletion, no tombstones)
 *   of (hash, value) pairs: a probe compares hashes without touching the values, each of which
 *   is a pool block with its count.
 * - Deques and sets give their blocks back when they empty, so an idle key costs its window
 *   block only. Clearing and freeing a window release whole blocks without visiting the events
 *   (but for their evidence lines, one block each).
 */
#include "window.h"

#include <math.h>
#include <string.h>

#include "agg.h"
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

/* Counts v in; what its event holds in the ring to count it out (&dv_inline or its value), or
 * NULL (allocation; the set is unchanged). */
static struct dval *dist_add(struct pool *pool, struct dist *d, const struct tl_value *v)
{
	char tag;
	const char *bytes;
	size_t len = agg_value_id(v, &tag, &bytes);
	uint64_t h;
	struct dval *dv;
	uint32_t i;

	if (d->cap == 0 && d->n == 0 && len + 1 <= DIST_INLINE) {
		d->in.count = 1;
		d->in.len = (uint8_t)(len + 1);
		d->in.bytes[0] = tag;
		memcpy(d->in.bytes + 1, bytes, len);
		d->n = 1;
		return &dv_inline;
	}
	if (d->cap == 0 && d->n && same(d->in.bytes, d->in.len, tag, bytes, len)) {
		d->in.count++;
		return &dv_inline;
	}
	if (d->cap == 1 && same(d->one->bytes, d->one->len, tag, bytes, len)) {
		d->one->count++;
		return d->one;
	}
	h = tl_hash_end(tl_hash_feed(tl_hash_feed(TL_HASH_SEED, &tag, 1), bytes, len));
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
static void dist_drop(struct pool *pool, struct dist *d, struct dval *dv)
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

/* Makes room for one more entry. */
static int mono_reserve(struct pool *pool, struct mono *q)
{
	struct mono_ent *ne;
	uint32_t nc, i;

	if (q->n < q->cap)
		return 0;
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
	uint32_t n;             /* events in the window */
	uint32_t next_seq;      /* the number of the next event */
	uint32_t stride;        /* bytes per ring entry */
	uint8_t cap_bits;       /* the ring holds 1 << cap_bits entries; inside when INLINE_BITS */
	uint8_t evidence;       /* the entries hold an ev_line after the time */
	union agg_state aggs[]; /* one per aggregate but count, in the rule's order */
};

static int has_state(int kind)
{
	return kind != RL_AGG_COUNT;
}

/* Whether the ring keeps each event's value of the aggregate, to take it out again. */
static int has_value(int kind)
{
	return kind == RL_AGG_SUM || kind == RL_AGG_AVG || kind == RL_AGG_DISTINCT;
}

static size_t n_states(const struct rl_rule *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->n_aggs; i++)
		n += has_state(r->aggs[i].kind);
	return n;
}

static size_t block_size(const struct window *w, const struct rl_rule *r)
{
	return sizeof *w + n_states(r) * sizeof w->aggs[0] + ((size_t)w->stride << INLINE_BITS);
}

static char *inline_ring(struct window *w, const struct rl_rule *r)
{
	return (char *)&w->aggs[n_states(r)];
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

static union aggv *entry_vals(const struct window *w, char *e)
{
	return (union aggv *)(e + sizeof(struct tf_stamp) +
			      (w->evidence ? sizeof(struct ev_line) : 0));
}

struct window *win_new(struct pool *pool, const struct rl_rule *r)
{
	size_t i, n_vals = 0, stride;
	struct window *w;

	for (i = 0; i < r->n_aggs; i++)
		n_vals += has_value(r->aggs[i].kind);
	stride = sizeof(struct tf_stamp) + (r->evidence ? sizeof(struct ev_line) : 0) +
		 n_vals * sizeof(union aggv);
	if (stride > UINT32_MAX >> INLINE_BITS)
		return NULL;
	w = pool_alloc(pool, sizeof *w + n_states(r) * sizeof w->aggs[0] +
			     (stride << INLINE_BITS));
	if (!w)
		return NULL;
	memset(w, 0, sizeof *w + n_states(r) * sizeof w->aggs[0]);
	w->pool = pool;
	w->stride = (uint32_t)stride;
	w->cap_bits = INLINE_BITS;
	w->evidence = r->evidence != 0;
	w->ring = inline_ring(w, r);
	return w;
}

/* The ring back inside the window block (the window is empty). */
static void ring_release(struct window *w, const struct rl_rule *r)
{
	if (w->cap_bits == INLINE_BITS)
		return;
	pool_free(w->pool, w->ring, (size_t)w->stride << w->cap_bits);
	w->ring = inline_ring(w, r);
	w->cap_bits = INLINE_BITS;
}

/* Empties the window by giving back whole blocks, without visiting the events (but for their
 * evidence lines). */
static void drop_all(struct window *w, const struct rl_rule *r)
{
	union agg_state *a = w->aggs;
	uint32_t k;
	size_t i;

	if (w->evidence)
		for (k = 0; k < w->n; k++) {
			struct ev_line *el = entry_line(entry(w, w->next_seq - w->n + k));

			pool_free(w->pool, el->line, el->len + 1);
		}
	for (i = 0; i < r->n_aggs; i++) {
		switch (r->aggs[i].kind) {
		case RL_AGG_COUNT:
			continue;
		case RL_AGG_SUM: case RL_AGG_AVG:
			memset(&a->s, 0, sizeof a->s);
			break;
		case RL_AGG_MIN: case RL_AGG_MAX:
			mono_free(w->pool, &a->q);
			break;
		case RL_AGG_DISTINCT:
			dist_free(w->pool, &a->d);
			break;
		default:
			break;
		}
		a++;
	}
	ring_release(w, r);
	w->n = 0;
}

void win_free(struct window *w, const struct rl_rule *r)
{
	if (!w)
		return;
	drop_all(w, r);
	pool_free(w->pool, w, block_size(w, r));
}

static void pop_oldest(struct window *w, const struct rl_rule *r)
{
	uint32_t seq = w->next_seq - w->n;
	char *e = entry(w, seq);
	union aggv *vals = entry_vals(w, e);
	union agg_state *a = w->aggs;
	size_t i;

	for (i = 0; i < r->n_aggs; i++) {
		switch (r->aggs[i].kind) {
		case RL_AGG_COUNT:
			continue;
		case RL_AGG_SUM: case RL_AGG_AVG:
			if (!isnan(vals->d)) {
				agg_sum_add(&a->s.sum, &a->s.comp, -vals->d);
				/* no drift survives an empty window */
				if (--a->s.n == 0)
					a->s.sum = a->s.comp = 0;
			}
			vals++;
			break;
		case RL_AGG_MIN: case RL_AGG_MAX:
			mono_evict(w->pool, &a->q, seq);
			break;
		case RL_AGG_DISTINCT:
			if (vals->dv)
				dist_drop(w->pool, &a->d, vals->dv);
			vals++;
			break;
		default:
			break;
		}
		a++;
	}
	if (w->evidence)
		pool_free(w->pool, entry_line(e)->line, entry_line(e)->len + 1);
	if (--w->n == 0)
		ring_release(w, r);
}

void win_evict_before(struct window *w, const struct rl_rule *r, int64_t t_min)
{
	while (w->n && ((const struct tf_stamp *)entry(w, w->next_seq - w->n))->us < t_min)
		pop_oldest(w, r);
}

void win_clear(struct window *w, const struct rl_rule *r)
{
	drop_all(w, r);
}

/* Doubles the ring (it is full); its events keep their numbers. */
static int ring_grow(struct window *w)
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

/* Takes back the distinct values that win_push counted in for aggregates before the n-th. */
static void undo_distinct(struct window *w, const struct rl_rule *r, union aggv *vals, size_t n)
{
	union agg_state *a = w->aggs;
	size_t i;

	for (i = 0; i < n; i++) {
		int kind = r->aggs[i].kind;

		if (kind == RL_AGG_DISTINCT && vals->dv)
			dist_drop(w->pool, &a->d, vals->dv);
		vals += has_value(kind);
		a += has_state(kind);
	}
}

int win_push(struct window *w, const struct rl_rule *r, const struct tf_stamp *ts,
	     const struct tl_value *args, const char *line, size_t len)
{
	uint32_t seq = w->next_seq;
	union agg_state *a;
	union aggv *vals;
	char *e, *copy = NULL;
	size_t i;

	if (w->n > ring_mask(w) && ring_grow(w))
		return -1;
	if (w->evidence) {
		copy = pool_alloc(w->pool, len + 1);
		if (!copy)
			return -1;
		memcpy(copy, line, len);
		copy[len] = '\0';
	}
	for (i = 0, a = w->aggs; i < r->n_aggs; i++) {
		int kind = r->aggs[i].kind;

		if ((kind == RL_AGG_MIN || kind == RL_AGG_MAX) && args[i].type == TL_NUM &&
		    mono_reserve(w->pool, &a->q))
			goto fail;
		a += has_state(kind);
	}
	/* the entry's slot is free (n < capacity): writing to it changes nothing yet */
	e = entry(w, seq);
	vals = entry_vals(w, e);
	/* the distinct values next: the last step here that can fail */
	for (i = 0, a = w->aggs; i < r->n_aggs; i++) {
		int kind = r->aggs[i].kind;

		if (kind == RL_AGG_DISTINCT) {
			vals->dv = NULL;
			if (args[i].type != TL_MISSING && args[i].type != TL_NULL &&
			    !(vals->dv = dist_add(w->pool, &a->d, &args[i]))) {
				undo_distinct(w, r, entry_vals(w, e), i);
				goto fail;
			}
		}
		vals += has_value(kind);
		a += has_state(kind);
	}
	memcpy(e, ts, sizeof *ts);
	if (w->evidence) {
		entry_line(e)->line = copy;
		entry_line(e)->len = len;
	}
	vals = entry_vals(w, e);
	for (i = 0, a = w->aggs; i < r->n_aggs; i++) {
		int kind = r->aggs[i].kind, num = args[i].type == TL_NUM;

		switch (kind) {
		case RL_AGG_SUM: case RL_AGG_AVG:
			vals->d = num ? args[i].num : NAN;
			if (num) {
				agg_sum_add(&a->s.sum, &a->s.comp, args[i].num);
				a->s.n++;
			}
			break;
		case RL_AGG_MIN: case RL_AGG_MAX:
			if (num)
				mono_push(&a->q, seq, args[i].num, kind == RL_AGG_MAX);
			break;
		default:
			break;
		}
		vals += has_value(kind);
		a += has_state(kind);
	}
	w->next_seq++;
	w->n++;
	return 0;
fail:
	/* a deque that was empty gives back the array reserved for this event */
	for (i = 0, a = w->aggs; i < r->n_aggs; i++) {
		int kind = r->aggs[i].kind;

		if ((kind == RL_AGG_MIN || kind == RL_AGG_MAX) && !a->q.n)
			mono_free(w->pool, &a->q);
		a += has_state(kind);
	}
	pool_free(w->pool, copy, len + 1);
	return -1;
}

void win_results(const struct window *w, const struct rl_rule *r, struct tl_value *out)
{
	const union agg_state *a = w->aggs;
	size_t i;

	for (i = 0; i < r->n_aggs; i++) {
		struct tl_value *v = &out[i];
		int kind = r->aggs[i].kind;

		v->type = TL_NUM;
		switch (kind) {
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
			if (a->q.n)
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
		a += has_state(kind);
	}
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
