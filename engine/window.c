/* window.c - threshold windows with incrementally maintained aggregates. */
#include "window.h"

#include <math.h>
#include <string.h>

#include "agg.h"
#include "alloc.h"

/* ---- distinct: a counted multiset of values ---- */

struct dval {
	struct dval *next;
	uint64_t hash;
	uint32_t count;
	uint32_t len;
	char bytes[]; /* a type tag, then the value's bytes */
};

struct dmap {
	struct dval **buckets;
	size_t n_buckets, n; /* n: distinct values present */
};

static uint64_t hash_bytes(const char *s, size_t n, uint64_t h)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int dmap_rehash(struct pool *pool, struct dmap *m)
{
	size_t nb = m->n_buckets ? m->n_buckets * 2 : 8, i;
	struct dval **nbk = pool_calloc(pool, nb * sizeof *nbk);

	if (!nbk)
		return -1;
	for (i = 0; i < m->n_buckets; i++)
		while (m->buckets[i]) {
			struct dval *d = m->buckets[i];

			m->buckets[i] = d->next;
			d->next = nbk[d->hash & (nb - 1)];
			nbk[d->hash & (nb - 1)] = d;
		}
	pool_free(pool, m->buckets, m->n_buckets * sizeof *m->buckets);
	m->buckets = nbk;
	m->n_buckets = nb;
	return 0;
}

static struct dval *dmap_add(struct pool *pool, struct dmap *m, const struct tl_value *v)
{
	char tag;
	const char *bytes;
	size_t len = agg_value_id(v, &tag, &bytes);
	uint64_t h = hash_bytes(bytes, len, hash_bytes(&tag, 1, 0xcbf29ce484222325ULL));
	struct dval *d;

	if (m->n >= m->n_buckets && dmap_rehash(pool, m))
		return NULL;
	for (d = m->buckets[h & (m->n_buckets - 1)]; d; d = d->next)
		if (d->hash == h && d->len == len + 1 && d->bytes[0] == tag &&
		    memcmp(d->bytes + 1, bytes, len) == 0) {
			d->count++;
			return d;
		}
	if (len > UINT32_MAX - 1)
		return NULL;
	d = pool_alloc(pool, sizeof *d + len + 1);
	if (!d)
		return NULL;
	d->hash = h;
	d->count = 1;
	d->len = (uint32_t)(len + 1);
	d->bytes[0] = tag;
	memcpy(d->bytes + 1, bytes, len);
	d->next = m->buckets[h & (m->n_buckets - 1)];
	m->buckets[h & (m->n_buckets - 1)] = d;
	m->n++;
	return d;
}

static void dmap_drop(struct pool *pool, struct dmap *m, struct dval *d)
{
	struct dval **pp;

	if (--d->count)
		return;
	for (pp = &m->buckets[d->hash & (m->n_buckets - 1)]; *pp != d; pp = &(*pp)->next)
		;
	*pp = d->next;
	pool_free(pool, d, sizeof *d + d->len);
	m->n--;
}

static void dmap_clear(struct pool *pool, struct dmap *m)
{
	size_t i;

	for (i = 0; i < m->n_buckets; i++)
		while (m->buckets[i]) {
			struct dval *d = m->buckets[i];

			m->buckets[i] = d->next;
			pool_free(pool, d, sizeof *d + d->len);
		}
	pool_free(pool, m->buckets, m->n_buckets * sizeof *m->buckets);
	memset(m, 0, sizeof *m);
}

/* ---- min/max: a monotonic deque of (entry sequence, value) ---- */

struct mono {
	uint64_t *seqs;
	double *vals;
	size_t head, n, cap; /* cap is a power of two */
};

/* Makes room for need entries; the deque never holds more than its window's events. */
static int mono_reserve(struct pool *pool, struct mono *q, size_t need)
{
	size_t nc = q->cap ? q->cap : 4, i;
	uint64_t *ns;
	double *nv;

	if (need <= q->cap)
		return 0;
	while (nc < need)
		nc *= 2;
	ns = pool_alloc(pool, nc * sizeof *ns);
	nv = pool_alloc(pool, nc * sizeof *nv);
	if (!ns || !nv) {
		pool_free(pool, ns, nc * sizeof *ns);
		pool_free(pool, nv, nc * sizeof *nv);
		return -1;
	}
	for (i = 0; i < q->n; i++) {
		ns[i] = q->seqs[(q->head + i) & (q->cap - 1)];
		nv[i] = q->vals[(q->head + i) & (q->cap - 1)];
	}
	pool_free(pool, q->seqs, q->cap * sizeof *q->seqs);
	pool_free(pool, q->vals, q->cap * sizeof *q->vals);
	q->seqs = ns;
	q->vals = nv;
	q->head = 0;
	q->cap = nc;
	return 0;
}

/* Appends; room must have been reserved. */
static void mono_push(struct mono *q, uint64_t seq, double v, int is_max)
{
	/* values that can never again be the extreme leave from the back */
	while (q->n) {
		size_t back = (q->head + q->n - 1) & (q->cap - 1);

		if (is_max ? q->vals[back] > v : q->vals[back] < v)
			break;
		q->n--;
	}
	q->seqs[(q->head + q->n) & (q->cap - 1)] = seq;
	q->vals[(q->head + q->n) & (q->cap - 1)] = v;
	q->n++;
}

static void mono_evict(struct mono *q, uint64_t seq)
{
	if (q->n && q->seqs[q->head] == seq) {
		q->head = (q->head + 1) & (q->cap - 1);
		q->n--;
	}
}

static void mono_free(struct pool *pool, struct mono *q)
{
	pool_free(pool, q->seqs, q->cap * sizeof *q->seqs);
	pool_free(pool, q->vals, q->cap * sizeof *q->vals);
	memset(q, 0, sizeof *q);
}

/* ---- the window ---- */

struct agg_state {
	double sum, comp; /* compensated running sum (Neumaier) */
	uint64_t n;       /* numeric values in the window */
	struct mono dq;
	struct dmap dm;
};

union aggv {
	double d;        /* sum/avg/min/max: NAN when the value was not a number */
	struct dval *dv; /* distinct: NULL when the value was missing or null */
};

struct wentry {
	struct tf_stamp ts;
	uint64_t seq;
	char *line; /* with evidence: a copy of the event's line */
	size_t len;
};

struct window {
	struct pool *pool;
	struct wentry *ents; /* ring, cap a power of two */
	union aggv *vals;    /* n_aggs per entry, parallel to ents */
	size_t head, n, cap;
	uint64_t next_seq;
	struct agg_state aggs[];
};

static size_t win_size(const struct rl_rule *r)
{
	return sizeof(struct window) + r->n_aggs * sizeof(struct agg_state);
}

static size_t vals_size(const struct rl_rule *r, size_t cap)
{
	return cap * (r->n_aggs ? r->n_aggs : 1) * sizeof(union aggv);
}

struct window *win_new(struct pool *pool, const struct rl_rule *r)
{
	struct window *w = pool_calloc(pool, win_size(r));

	if (w)
		w->pool = pool;
	return w;
}

void win_free(struct window *w, const struct rl_rule *r)
{
	size_t i;

	if (!w)
		return;
	/* no aggregate bookkeeping per event: the whole structures go */
	for (i = 0; i < w->n; i++) {
		struct wentry *we = &w->ents[(w->head + i) & (w->cap - 1)];

		if (we->line)
			pool_free(w->pool, we->line, we->len + 1);
	}
	for (i = 0; i < r->n_aggs; i++) {
		mono_free(w->pool, &w->aggs[i].dq);
		dmap_clear(w->pool, &w->aggs[i].dm);
	}
	pool_free(w->pool, w->ents, w->cap * sizeof *w->ents);
	pool_free(w->pool, w->vals, vals_size(r, w->cap));
	pool_free(w->pool, w, win_size(r));
}

static void pop_oldest(struct window *w, const struct rl_rule *r)
{
	struct wentry *we = &w->ents[w->head];
	union aggv *vals = &w->vals[w->head * r->n_aggs];
	size_t i;

	for (i = 0; i < r->n_aggs; i++) {
		struct agg_state *a = &w->aggs[i];

		switch (r->aggs[i].kind) {
		case RL_AGG_SUM: case RL_AGG_AVG:
			if (!isnan(vals[i].d)) {
				agg_sum_add(&a->sum, &a->comp, -vals[i].d);
				if (--a->n == 0)
					a->sum = a->comp = 0; /* no drift survives an empty window */
			}
			break;
		case RL_AGG_MIN: case RL_AGG_MAX:
			mono_evict(&a->dq, we->seq);
			break;
		case RL_AGG_DISTINCT:
			if (vals[i].dv)
				dmap_drop(w->pool, &a->dm, vals[i].dv);
			break;
		default:
			break;
		}
	}
	if (we->line)
		pool_free(w->pool, we->line, we->len + 1);
	we->line = NULL;
	w->head = (w->head + 1) & (w->cap - 1);
	w->n--;
}

void win_evict_before(struct window *w, const struct rl_rule *r, int64_t t_min)
{
	while (w->n && w->ents[w->head].ts.us < t_min)
		pop_oldest(w, r);
}

void win_clear(struct window *w, const struct rl_rule *r)
{
	while (w->n)
		pop_oldest(w, r);
	w->head = 0;
}

static int grow(struct window *w, const struct rl_rule *r)
{
	size_t nc = w->cap ? w->cap * 2 : 4, i, na = r->n_aggs;
	struct wentry *ne = pool_alloc(w->pool, nc * sizeof *ne);
	union aggv *nv = pool_alloc(w->pool, vals_size(r, nc));

	if (!ne || !nv) {
		pool_free(w->pool, ne, nc * sizeof *ne);
		pool_free(w->pool, nv, vals_size(r, nc));
		return -1;
	}
	for (i = 0; i < w->n; i++) {
		size_t from = (w->head + i) & (w->cap - 1);

		ne[i] = w->ents[from];
		if (na)
			memcpy(&nv[i * na], &w->vals[from * na], na * sizeof *nv);
	}
	pool_free(w->pool, w->ents, w->cap * sizeof *w->ents);
	pool_free(w->pool, w->vals, vals_size(r, w->cap));
	w->ents = ne;
	w->vals = nv;
	w->head = 0;
	w->cap = nc;
	return 0;
}

int win_push(struct window *w, const struct rl_rule *r, const struct tf_stamp *ts,
	     const struct tl_value *args, const char *line, size_t len)
{
	size_t i, slot;
	struct wentry *we;
	union aggv *vals;
	char *copy = NULL;

	if (w->n == w->cap && grow(w, r))
		return -1;
	if (r->evidence) {
		copy = pool_alloc(w->pool, len + 1);
		if (!copy)
			return -1;
		memcpy(copy, line, len);
		copy[len] = '\0';
	}
	for (i = 0; i < r->n_aggs; i++)
		if ((r->aggs[i].kind == RL_AGG_MIN || r->aggs[i].kind == RL_AGG_MAX) &&
		    mono_reserve(w->pool, &w->aggs[i].dq, w->n + 1)) {
			if (copy)
				pool_free(w->pool, copy, len + 1);
			return -1;
		}
	slot = (w->head + w->n) & (w->cap - 1);
	vals = &w->vals[slot * r->n_aggs];
	/* the distinct values next: the last step here that can fail */
	for (i = 0; i < r->n_aggs; i++) {
		if (r->aggs[i].kind != RL_AGG_DISTINCT)
			continue;
		vals[i].dv = NULL;
		if (args[i].type != TL_MISSING && args[i].type != TL_NULL &&
		    !(vals[i].dv = dmap_add(w->pool, &w->aggs[i].dm, &args[i]))) {
			while (i--)
				if (r->aggs[i].kind == RL_AGG_DISTINCT && vals[i].dv)
					dmap_drop(w->pool, &w->aggs[i].dm, vals[i].dv);
			if (copy)
				pool_free(w->pool, copy, len + 1);
			return -1;
		}
	}
	we = &w->ents[slot];
	we->ts = *ts;
	we->seq = w->next_seq++;
	we->line = copy;
	we->len = len;
	for (i = 0; i < r->n_aggs; i++) {
		struct agg_state *a = &w->aggs[i];
		int num = args[i].type == TL_NUM;

		switch (r->aggs[i].kind) {
		case RL_AGG_SUM: case RL_AGG_AVG:
			vals[i].d = num ? args[i].num : NAN;
			if (num) {
				agg_sum_add(&a->sum, &a->comp, args[i].num);
				a->n++;
			}
			break;
		case RL_AGG_MIN: case RL_AGG_MAX:
			vals[i].d = num ? args[i].num : NAN;
			if (num)
				mono_push(&a->dq, we->seq, args[i].num,
					  r->aggs[i].kind == RL_AGG_MAX);
			break;
		default:
			break;
		}
	}
	w->n++;
	return 0;
}

void win_results(const struct window *w, const struct rl_rule *r, struct tl_value *out)
{
	size_t i;

	for (i = 0; i < r->n_aggs; i++) {
		const struct agg_state *a = &w->aggs[i];
		struct tl_value *v = &out[i];

		v->type = TL_NUM;
		switch (r->aggs[i].kind) {
		case RL_AGG_COUNT:
			v->num = (double)w->n;
			break;
		case RL_AGG_SUM:
			v->num = a->sum + a->comp;
			break;
		case RL_AGG_AVG:
			if (a->n)
				v->num = (a->sum + a->comp) / (double)a->n;
			else
				v->type = TL_MISSING;
			break;
		case RL_AGG_MIN: case RL_AGG_MAX:
			if (a->dq.n)
				v->num = a->dq.vals[a->dq.head];
			else
				v->type = TL_MISSING;
			break;
		case RL_AGG_DISTINCT:
			v->num = (double)a->dm.n;
			break;
		default:
			v->type = TL_MISSING;
			break;
		}
	}
}

size_t win_count(const struct window *w)
{
	return w->n;
}

const struct tf_stamp *win_time(const struct window *w, size_t i)
{
	return &w->ents[(w->head + i) & (w->cap - 1)].ts;
}

const char *win_line(const struct window *w, size_t i, size_t *len)
{
	const struct wentry *we = &w->ents[(w->head + i) & (w->cap - 1)];

	*len = we->len;
	return we->line;
}
