/* engine.c - the runtime: event time order, per-key state, filters, thresholds, alerts.
 *
 * Pipeline position: engine. tl_engine_feed decodes a line (parser/json), reads its time
 * (parser/timefmt), puts it in event-time order (the reorder buffer of time.lateness) and runs
 * every rule over it in rule order. Rule state lives per key in a hash table per rule, with the
 * keys of a rule kept in the order they were last touched, so that expired keys are found at
 * the head of that list in O(1) each: a key's state can matter only while
 * touched + max(window, suppress) >= now.
 *
 * Threshold windows keep their events in a ring; aggregates are maintained as events enter and
 * leave: count from the ring, sum/avg with a compensated running sum, min/max with monotonic
 * deques, distinct with a counted hash multiset: O(1) amortised per event, no rescans.
 */
#include "tripline.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eval.h"
#include "json.h"
#include "ruleset.h"
#include "timefmt.h"

/* ---- output buffer ---- */

struct obuf {
	char *buf;
	size_t len, cap;
	int oom;
};

static char *ob_room(struct obuf *b, size_t n)
{
	if (b->cap - b->len < n &&
	    tl_grow((void **)&b->buf, &b->cap, b->len + n, 1)) {
		b->oom = 1;
		return NULL;
	}
	return b->buf + b->len;
}

static void ob_put(struct obuf *b, const char *s, size_t n)
{
	char *p = ob_room(b, n);

	if (!p)
		return;
	memcpy(p, s, n);
	b->len += n;
}

static void ob_lit(struct obuf *b, const char *s)
{
	ob_put(b, s, strlen(s));
}

static void ob_quote(struct obuf *b, const char *s, size_t n)
{
	char *p;

	if (n > (SIZE_MAX - 2) / 6 || !(p = ob_room(b, 6 * n + 2)))
		return;
	b->len += jd_quote(s, n, p);
}

static void ob_num(struct obuf *b, double v)
{
	char *p = ob_room(b, 32);

	if (p)
		b->len += jd_format_number(v, p);
}

static void ob_u64(struct obuf *b, uint64_t v)
{
	char tmp[24];

	ob_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v));
}

/* A JSON value of the evaluator as JSON text (unknown is null). */
static void ob_value(struct obuf *b, const struct tl_value *v)
{
	switch (v->type) {
	case TL_BOOL: ob_lit(b, v->b ? "true" : "false"); break;
	case TL_NUM: ob_num(b, v->num); break;
	case TL_STR: ob_quote(b, v->str, v->len); break;
	case TL_ARR: case TL_OBJ: ob_put(b, v->str, v->len); break;
	default: ob_lit(b, "null"); break;
	}
}

/* A value as text inside a template (unknown is empty). */
static void ob_text(struct obuf *b, const struct tl_value *v)
{
	switch (v->type) {
	case TL_STR: ob_put(b, v->str, v->len); break;
	case TL_NULL: ob_lit(b, "null"); break;
	case TL_MISSING: break;
	default: ob_value(b, v); break;
	}
}

/* ---- events ---- */

struct event {
	const char *line;
	size_t len;
	struct tl_value *slots;
	struct tf_stamp ts;
	uint64_t seq; /* arrival order */
};

/* ---- distinct: a counted multiset of values ---- */

struct dval {
	struct dval *next;
	uint64_t hash;
	uint32_t count;
	uint32_t len;
	char bytes[];
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

#define HASH_SEED 0xcbf29ce484222325ULL

/* The identity of a value for distinct(): a type tag then its bytes. */
static size_t value_id(const struct tl_value *v, char *tag, const char **bytes)
{
	static double zero = 0;

	switch (v->type) {
	case TL_BOOL:
		*tag = v->b ? 't' : 'f';
		*bytes = "";
		return 0;
	case TL_NUM:
		*tag = 'n';
		*bytes = (const char *)(v->num == 0 ? &zero : &v->num);
		return sizeof v->num;
	case TL_STR:
		*tag = 's';
		*bytes = v->str;
		return v->len;
	default:
		*tag = 'r';
		*bytes = v->str;
		return v->len;
	}
}

static struct dval *dmap_add(struct dmap *m, const struct tl_value *v)
{
	char tag;
	const char *bytes;
	size_t len = value_id(v, &tag, &bytes), i;
	uint64_t h = hash_bytes(bytes, len, hash_bytes(&tag, 1, HASH_SEED));
	struct dval *d;

	if (m->n >= m->n_buckets) {
		size_t nb = m->n_buckets ? m->n_buckets * 2 : 8;
		struct dval **nbk = tl_calloc(nb, sizeof *nbk);

		if (!nbk)
			return NULL;
		for (i = 0; i < m->n_buckets; i++)
			while (m->buckets[i]) {
				d = m->buckets[i];
				m->buckets[i] = d->next;
				d->next = nbk[d->hash & (nb - 1)];
				nbk[d->hash & (nb - 1)] = d;
			}
		tl_free(m->buckets);
		m->buckets = nbk;
		m->n_buckets = nb;
	}
	for (d = m->buckets[h & (m->n_buckets - 1)]; d; d = d->next)
		if (d->hash == h && d->len == len + 1 && d->bytes[0] == tag &&
		    memcmp(d->bytes + 1, bytes, len) == 0) {
			d->count++;
			return d;
		}
	d = tl_malloc(sizeof *d + len + 1);
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

static void dmap_drop(struct dmap *m, struct dval *d)
{
	struct dval **pp;

	if (--d->count)
		return;
	for (pp = &m->buckets[d->hash & (m->n_buckets - 1)]; *pp != d; pp = &(*pp)->next)
		;
	*pp = d->next;
	tl_free(d);
	m->n--;
}

static void dmap_clear(struct dmap *m)
{
	size_t i;

	for (i = 0; i < m->n_buckets; i++)
		while (m->buckets[i]) {
			struct dval *d = m->buckets[i];

			m->buckets[i] = d->next;
			tl_free(d);
		}
	tl_free(m->buckets);
	m->buckets = NULL;
	m->n_buckets = m->n = 0;
}

/* ---- min/max: a monotonic deque of (entry sequence, value) ---- */

struct mono {
	uint64_t *seqs;
	double *vals;
	size_t head, n, cap;
};

static int mono_push(struct mono *q, uint64_t seq, double v, int is_max)
{
	while (q->n) {
		size_t back = (q->head + q->n - 1) & (q->cap - 1);

		if (is_max ? q->vals[back] > v : q->vals[back] < v)
			break;
		q->n--;
	}
	if (q->n == q->cap) {
		size_t nc = q->cap ? q->cap * 2 : 4, i;
		uint64_t *ns = tl_malloc(nc * sizeof *ns);
		double *nv = tl_malloc(nc * sizeof *nv);

		if (!ns || !nv) {
			tl_free(ns);
			tl_free(nv);
			return -1;
		}
		for (i = 0; i < q->n; i++) {
			ns[i] = q->seqs[(q->head + i) & (q->cap - 1)];
			nv[i] = q->vals[(q->head + i) & (q->cap - 1)];
		}
		tl_free(q->seqs);
		tl_free(q->vals);
		q->seqs = ns;
		q->vals = nv;
		q->head = 0;
		q->cap = nc;
	}
	q->seqs[(q->head + q->n) & (q->cap - 1)] = seq;
	q->vals[(q->head + q->n) & (q->cap - 1)] = v;
	q->n++;
	return 0;
}

static void mono_evict(struct mono *q, uint64_t seq)
{
	if (q->n && q->seqs[q->head] == seq) {
		q->head = (q->head + 1) & (q->cap - 1);
		q->n--;
	}
}

static void mono_free(struct mono *q)
{
	tl_free(q->seqs);
	tl_free(q->vals);
	memset(q, 0, sizeof *q);
}

/* ---- threshold windows ---- */

struct agg_state {
	double sum, comp; /* compensated running sum (Neumaier) */
	uint64_t n;       /* numeric values in the window */
	struct mono dq;
	struct dmap dm;
};

union aggv {
	double d;         /* sum/avg/min/max: NAN when the value was not a number */
	struct dval *dv;  /* distinct: NULL when the value was missing or null */
};

struct wentry {
	struct tf_stamp ts;
	uint64_t seq;
	char *evidence; /* copy of the event's line with evidence: true */
	size_t ev_len;
};

struct window {
	struct wentry *ents;
	union aggv *vals; /* n_aggs per entry, parallel to ents */
	size_t head, n, cap;
	uint64_t next_seq;
	struct agg_state aggs[];
};

static void sum_add(struct agg_state *a, double x)
{
	double t = a->sum + x;

	if (fabs(a->sum) >= fabs(x))
		a->comp += (a->sum - t) + x;
	else
		a->comp += (x - t) + a->sum;
	a->sum = t;
}

/* ---- keys ---- */

struct kstate {
	struct kstate *prev, *next; /* the rule's keys by last touch, oldest first */
	struct kstate *hnext;       /* hash chain */
	uint64_t hash;
	int64_t touched;
	int64_t last_alert;
	uint8_t has_alert;
	struct window *win;
	uint32_t key_len;
	char key[];                 /* the key as JSON text */
};

struct rstate {
	const struct rl_rule *r;
	struct kstate **buckets;
	size_t n_buckets, n_keys;
	struct kstate *oldest, *newest;
	int64_t horizon;        /* how long after its last touch a key can still matter */
	union aggv *vals;       /* this event's aggregate arguments */
	struct tl_value *results; /* aggregate values for when and emit */
};

struct tl_engine {
	const struct rl_ruleset *rs;
	struct tl_engine_opts opts;
	struct jd_decoder *dec;
	struct tl_value *slots;
	struct ev_ctx ev;
	struct rstate *rules;
	struct tl_rule_stats *rstats;
	struct tl_stats st;
	struct obuf out;
	struct obuf keybuf;
	uint64_t seq;
	int64_t max_seen;   /* greatest event time taken */
	int have_time;
	int64_t now;        /* time of the event being processed */
	struct event **heap; /* reorder buffer: min-heap on (time, seq) */
	size_t n_heap, cap_heap;
};

static void window_free(struct window *w, size_t n_aggs)
{
	size_t i;

	if (!w)
		return;
	for (i = 0; i < w->n; i++)
		tl_free(w->ents[(w->head + i) & (w->cap - 1)].evidence);
	for (i = 0; i < n_aggs; i++) {
		mono_free(&w->aggs[i].dq);
		dmap_clear(&w->aggs[i].dm);
	}
	tl_free(w->ents);
	tl_free(w->vals);
	tl_free(w);
}

static void key_unlink(struct rstate *rs, struct kstate *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		rs->oldest = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		rs->newest = k->prev;
	k->prev = k->next = NULL;
}

static void key_free(struct tl_engine *e, struct rstate *rs, struct kstate *k)
{
	struct kstate **pp = &rs->buckets[k->hash & (rs->n_buckets - 1)];

	while (*pp != k)
		pp = &(*pp)->hnext;
	*pp = k->hnext;
	key_unlink(rs, k);
	window_free(k->win, rs->r->n_aggs);
	tl_free(k);
	rs->n_keys--;
	e->st.keys--;
}

static void key_touch(struct rstate *rs, struct kstate *k, int64_t now)
{
	k->touched = now;
	if (rs->newest == k)
		return;
	if (k->prev || rs->oldest == k)
		key_unlink(rs, k);
	k->prev = rs->newest;
	k->next = NULL;
	if (rs->newest)
		rs->newest->next = k;
	else
		rs->oldest = k;
	rs->newest = k;
}

static void expire(struct tl_engine *e, struct rstate *rs)
{
	while (rs->oldest && rs->oldest->touched + rs->horizon < e->now)
		key_free(e, rs, rs->oldest);
}

static void evict_oldest_key(struct tl_engine *e)
{
	struct rstate *best = NULL;
	size_t i;

	for (i = 0; i < e->rs->n_rules; i++) {
		struct rstate *rs = &e->rules[i];

		if (rs->oldest && (!best || rs->oldest->touched < best->oldest->touched))
			best = rs;
	}
	if (best) {
		key_free(e, best, best->oldest);
		e->st.evicted_keys++;
	}
}

static struct kstate *key_get(struct tl_engine *e, struct rstate *rs, const char *key,
			      size_t len)
{
	uint64_t h = hash_bytes(key, len, HASH_SEED);
	struct kstate *k;
	size_t i;

	if (rs->n_buckets)
		for (k = rs->buckets[h & (rs->n_buckets - 1)]; k; k = k->hnext)
			if (k->hash == h && k->key_len == len && memcmp(k->key, key, len) == 0)
				return k;
	if (e->opts.max_keys && e->st.keys >= e->opts.max_keys)
		evict_oldest_key(e);
	if (rs->n_keys >= rs->n_buckets) {
		size_t nb = rs->n_buckets ? rs->n_buckets * 2 : 16;
		struct kstate **nbk = tl_calloc(nb, sizeof *nbk);

		if (!nbk)
			return NULL;
		for (i = 0; i < rs->n_buckets; i++)
			while (rs->buckets[i]) {
				k = rs->buckets[i];
				rs->buckets[i] = k->hnext;
				k->hnext = nbk[k->hash & (nb - 1)];
				nbk[k->hash & (nb - 1)] = k;
			}
		tl_free(rs->buckets);
		rs->buckets = nbk;
		rs->n_buckets = nb;
	}
	k = tl_calloc(1, sizeof *k + len + 1);
	if (!k)
		return NULL;
	if (rs->r->kind == RL_THRESHOLD) {
		k->win = tl_calloc(1, sizeof *k->win + rs->r->n_aggs * sizeof k->win->aggs[0]);
		if (!k->win) {
			tl_free(k);
			return NULL;
		}
	}
	k->hash = h;
	k->key_len = (uint32_t)len;
	memcpy(k->key, key, len);
	k->hnext = rs->buckets[h & (rs->n_buckets - 1)];
	rs->buckets[h & (rs->n_buckets - 1)] = k;
	rs->n_keys++;
	if (++e->st.keys > e->st.peak_keys)
		e->st.peak_keys = e->st.keys;
	return k;
}

/* The key of an event for a rule as JSON text in e->keybuf; -1 when a key field is missing,
 * null, an array or an object: the event then takes no part in the rule. */
static int build_key(struct tl_engine *e, const struct rl_rule *r, const struct event *ev)
{
	size_t i;

	e->keybuf.len = 0;
	if (r->key_is_list)
		ob_lit(&e->keybuf, "[");
	for (i = 0; i < r->n_keys; i++) {
		const struct tl_value *v = &ev->slots[r->key_slots[i]];

		if (v->type != TL_STR && v->type != TL_NUM && v->type != TL_BOOL)
			return -1;
		if (i)
			ob_lit(&e->keybuf, ",");
		if (v->type == TL_NUM && v->num == 0)
			ob_lit(&e->keybuf, "0"); /* -0 and 0 are one key */
		else
			ob_value(&e->keybuf, v);
	}
	if (r->key_is_list)
		ob_lit(&e->keybuf, "]");
	return e->keybuf.oom ? -1 : 0;
}

/* ---- alerts ---- */

static void put_time(struct obuf *b, const struct tf_stamp *st)
{
	char *p = ob_room(b, TF_JSON_MAX);

	if (p)
		b->len += tf_format_json(st, st->us, p);
}

/* The event's line without surrounding JSON whitespace. */
static void put_line(struct obuf *b, const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	ob_put(b, s, n);
}

static void put_emits(struct tl_engine *e, const struct rl_rule *r)
{
	struct tl_value v;
	size_t i, j;

	for (i = 0; i < r->n_emits; i++) {
		const struct rl_emit *em = &r->emits[i];

		ob_lit(&e->out, ",");
		ob_quote(&e->out, em->name, em->name_len);
		ob_lit(&e->out, ":");
		switch (em->kind) {
		case RL_EMIT_JSON:
			ob_put(&e->out, em->json, em->json_len);
			break;
		case RL_EMIT_EXPR:
			ev_eval_top(em->expr, &e->ev, &v);
			ob_value(&e->out, &v);
			break;
		default: {
			/* render the text into keybuf's tail, then quote it */
			struct obuf text = { 0 };

			for (j = 0; j < em->n_parts; j++) {
				ob_put(&text, em->parts[j].text, em->parts[j].len);
				if (em->parts[j].expr) {
					ev_eval_top(em->parts[j].expr, &e->ev, &v);
					ob_text(&text, &v);
				}
			}
			ob_quote(&e->out, text.buf ? text.buf : "", text.len);
			if (text.oom)
				e->out.oom = 1;
			tl_free(text.buf);
			break;
		}
		}
	}
}

static void put_time_field(struct tl_engine *e, const struct tf_stamp *st)
{
	const struct rl_ruleset *rs = e->rs;
	size_t i;

	for (i = 0; i < rs->n_time_segs; i++) {
		if (i == 0)
			ob_lit(&e->out, ",");
		ob_quote(&e->out, rs->time_segs[i], rs->time_seg_lens[i]);
		ob_lit(&e->out, i + 1 < rs->n_time_segs ? ":{" : ":");
	}
	put_time(&e->out, st);
	for (i = 1; i < rs->n_time_segs; i++)
		ob_lit(&e->out, "}");
}

/* Writes an alert of rule r at event ev; win is the threshold's window (NULL for filters). */
static void write_alert(struct tl_engine *e, struct rstate *rs, const struct event *ev,
			const struct window *win)
{
	const struct rl_rule *r = rs->r;
	size_t i;

	e->out.len = 0;
	ob_lit(&e->out, "{\"rule\":");
	ob_quote(&e->out, r->id, strlen(r->id));
	put_time_field(e, &ev->ts);
	if (r->n_keys) {
		ob_lit(&e->out, ",\"key\":");
		ob_put(&e->out, e->keybuf.buf, e->keybuf.len);
	}
	if (r->severity) {
		ob_lit(&e->out, ",\"severity\":");
		ob_quote(&e->out, r->severity, strlen(r->severity));
	}
	ob_lit(&e->out, ",\"start\":");
	put_time(&e->out, win ? &win->ents[win->head].ts : &ev->ts);
	if (win) {
		ob_lit(&e->out, ",\"count\":");
		ob_u64(&e->out, win->n);
	}
	put_emits(e, r);
	if (!win) {
		ob_lit(&e->out, ",\"events\":{\"event\":");
		put_line(&e->out, ev->line, ev->len);
		ob_lit(&e->out, "}");
	} else if (r->evidence) {
		ob_lit(&e->out, ",\"events\":{\"window\":[");
		for (i = 0; i < win->n; i++) {
			const struct wentry *we = &win->ents[(win->head + i) & (win->cap - 1)];

			if (i)
				ob_lit(&e->out, ",");
			put_line(&e->out, we->evidence, we->ev_len);
		}
		ob_lit(&e->out, "]}");
	}
	ob_lit(&e->out, "}\n");
	if (e->out.oom) {
		e->out.oom = 0;
		return;
	}
	e->opts.emit(e->opts.ctx, e->out.buf, e->out.len, 1);
	e->rstats[r - e->rs->rules].alerts++;
	e->st.alerts++;
}

/* Suppress: 1 when an alert of this key at now must be dropped. */
static int suppressed(struct tl_engine *e, struct rstate *rs, struct kstate *k)
{
	if (!rs->r->suppress_us || !k)
		return 0;
	if (k->has_alert && e->now - k->last_alert <= rs->r->suppress_us) {
		e->rstats[rs->r - e->rs->rules].suppressed++;
		return 1;
	}
	k->has_alert = 1;
	k->last_alert = e->now;
	return 0;
}

/* ---- rules ---- */

static void run_filter(struct tl_engine *e, struct rstate *rs, const struct event *ev)
{
	struct kstate *k = NULL;

	if (!ev_holds(rs->r->where, &e->ev))
		return;
	if (rs->r->suppress_us) {
		k = key_get(e, rs, e->keybuf.buf ? e->keybuf.buf : "", e->keybuf.len);
		if (!k)
			return;
		key_touch(rs, k, e->now);
	}
	if (!suppressed(e, rs, k))
		write_alert(e, rs, ev, NULL);
}

static void window_pop(struct window *w, const struct rl_rule *r)
{
	struct wentry *we = &w->ents[w->head];
	union aggv *vals = &w->vals[w->head * r->n_aggs];
	size_t i;

	for (i = 0; i < r->n_aggs; i++) {
		struct agg_state *a = &w->aggs[i];

		switch (r->aggs[i].kind) {
		case RL_AGG_SUM: case RL_AGG_AVG:
			if (!isnan(vals[i].d)) {
				sum_add(a, -vals[i].d);
				if (--a->n == 0)
					a->sum = a->comp = 0;
			}
			break;
		case RL_AGG_MIN: case RL_AGG_MAX:
			mono_evict(&a->dq, we->seq);
			break;
		case RL_AGG_DISTINCT:
			if (vals[i].dv)
				dmap_drop(&a->dm, vals[i].dv);
			break;
		default:
			break;
		}
	}
	tl_free(we->evidence);
	we->evidence = NULL;
	w->head = (w->head + 1) & (w->cap - 1);
	w->n--;
}

static int window_push(struct tl_engine *e, struct rstate *rs, struct window *w,
		       const struct event *ev)
{
	const struct rl_rule *r = rs->r;
	size_t i, slot;
	struct wentry *we;

	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 4;
		struct wentry *ne = tl_malloc(nc * sizeof *ne);
		union aggv *nv = tl_malloc(nc * (r->n_aggs ? r->n_aggs : 1) * sizeof *nv);

		if (!ne || !nv) {
			tl_free(ne);
			tl_free(nv);
			return -1;
		}
		for (i = 0; i < w->n; i++) {
			size_t from = (w->head + i) & (w->cap - 1);

			ne[i] = w->ents[from];
			memcpy(&nv[i * r->n_aggs], &w->vals[from * r->n_aggs],
			       r->n_aggs * sizeof *nv);
		}
		tl_free(w->ents);
		tl_free(w->vals);
		w->ents = ne;
		w->vals = nv;
		w->head = 0;
		w->cap = nc;
	}
	slot = (w->head + w->n) & (w->cap - 1);
	we = &w->ents[slot];
	memset(we, 0, sizeof *we);
	we->ts = ev->ts;
	we->seq = w->next_seq++;
	if (r->evidence) {
		we->evidence = tl_strndup(ev->line, ev->len);
		if (!we->evidence)
			return -1;
		we->ev_len = ev->len;
	}
	for (i = 0; i < r->n_aggs; i++) {
		struct agg_state *a = &w->aggs[i];
		union aggv *v = &w->vals[slot * r->n_aggs + i];
		struct tl_value x;

		if (!r->aggs[i].arg)
			continue;
		ev_eval_top(r->aggs[i].arg, &e->ev, &x);
		if (r->aggs[i].kind == RL_AGG_DISTINCT) {
			v->dv = NULL;
			if (x.type != TL_MISSING && x.type != TL_NULL && !(v->dv = dmap_add(&a->dm, &x)))
				return -1;
			continue;
		}
		v->d = x.type == TL_NUM ? x.num : NAN;
		if (x.type != TL_NUM)
			continue;
		if (r->aggs[i].kind == RL_AGG_MIN || r->aggs[i].kind == RL_AGG_MAX) {
			if (mono_push(&a->dq, we->seq, x.num, r->aggs[i].kind == RL_AGG_MAX))
				return -1;
		} else {
			sum_add(a, x.num);
			a->n++;
		}
	}
	w->n++;
	return 0;
}

static void window_results(struct rstate *rs, const struct window *w)
{
	const struct rl_rule *r = rs->r;
	size_t i;

	for (i = 0; i < r->n_aggs; i++) {
		const struct agg_state *a = &w->aggs[i];
		struct tl_value *v = &rs->results[i];

		v->type = TL_NUM;
		switch (r->aggs[i].kind) {
		case RL_AGG_COUNT: v->num = (double)w->n; break;
		case RL_AGG_SUM: v->num = a->sum + a->comp; break;
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
		case RL_AGG_DISTINCT: v->num = (double)a->dm.n; break;
		default: v->type = TL_MISSING; break;
		}
	}
}

static void window_clear(struct window *w, const struct rl_rule *r)
{
	while (w->n)
		window_pop(w, r);
}

static void run_threshold(struct tl_engine *e, struct rstate *rs, const struct event *ev)
{
	const struct rl_rule *r = rs->r;
	struct kstate *k;
	struct window *w;

	if (r->where && !ev_holds(r->where, &e->ev))
		return;
	k = key_get(e, rs, e->keybuf.buf ? e->keybuf.buf : "", e->keybuf.len);
	if (!k)
		return;
	key_touch(rs, k, e->now);
	w = k->win;
	while (w->n && w->ents[w->head].ts.us < e->now - r->window_us)
		window_pop(w, r);
	if (window_push(e, rs, w, ev))
		return;
	window_results(rs, w);
	e->ev.aggs = rs->results;
	if (ev_holds(r->when, &e->ev)) {
		if (!suppressed(e, rs, k))
			write_alert(e, rs, ev, w);
		/* fired (even when suppressed): the window's events are consumed */
		window_clear(w, r);
		if (!r->suppress_us)
			key_free(e, rs, k);
	}
	e->ev.aggs = NULL;
}

static void process(struct tl_engine *e, const struct event *ev)
{
	size_t i;

	e->now = ev->ts.us;
	e->ev.slots = ev->slots;
	e->ev.time_us = ev->ts.us;
	e->st.processed++;
	if (e->opts.passthrough) {
		e->out.len = 0;
		put_line(&e->out, ev->line, ev->len);
		ob_lit(&e->out, "\n");
		if (!e->out.oom)
			e->opts.emit(e->opts.ctx, e->out.buf, e->out.len, 0);
		e->out.oom = 0;
	}
	for (i = 0; i < e->rs->n_rules; i++) {
		struct rstate *rs = &e->rules[i];

		expire(e, rs);
		e->keybuf.len = 0;
		if (rs->r->n_keys && build_key(e, rs->r, ev))
			continue;
		if (rs->r->kind == RL_FILTER)
			run_filter(e, rs, ev);
		else if (rs->r->kind == RL_THRESHOLD)
			run_threshold(e, rs, ev);
	}
	e->st.regex_limit = e->ev.n_regex_limit;
}

/* ---- the reorder buffer ---- */

static int ev_before(const struct event *a, const struct event *b)
{
	return a->ts.us < b->ts.us || (a->ts.us == b->ts.us && a->seq < b->seq);
}

static void heap_up(struct event **h, size_t i)
{
	while (i) {
		size_t p = (i - 1) / 2;
		struct event *t;

		if (!ev_before(h[i], h[p]))
			break;
		t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

static struct event *heap_pop(struct tl_engine *e)
{
	struct event **h = e->heap, *top = h[0];
	size_t i = 0, n = --e->n_heap;

	h[0] = h[n];
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct event *t;

		if (l < n && ev_before(h[l], h[m]))
			m = l;
		if (l + 1 < n && ev_before(h[l + 1], h[m]))
			m = l + 1;
		if (m == i)
			break;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
	return top;
}

/* A self-contained copy of an event: one allocation holding slots, line and strings. */
static struct event *retain(const struct tl_engine *e, const struct event *ev)
{
	size_t n = e->rs->n_slots, extra = 0, i;
	const char *lo = ev->line, *hi = ev->line + ev->len;
	struct event *c;
	char *line, *p;

	for (i = 0; i < n; i++) {
		const struct tl_value *v = &ev->slots[i];

		if (v->type >= TL_STR && !(v->str >= lo && v->str < hi))
			extra += v->len;
	}
	c = tl_malloc(sizeof *c + n * sizeof *c->slots + ev->len + extra + 1);
	if (!c)
		return NULL;
	*c = *ev;
	c->slots = (struct tl_value *)(c + 1);
	line = (char *)(c->slots + n);
	memcpy(line, ev->line, ev->len);
	c->line = line;
	p = line + ev->len;
	for (i = 0; i < n; i++) {
		struct tl_value v = ev->slots[i];

		if (v.type >= TL_STR) {
			if (v.str >= lo && v.str < hi) {
				v.str = line + (v.str - lo);
			} else {
				memcpy(p, v.str, v.len);
				v.str = p;
				p += v.len;
			}
		}
		c->slots[i] = v;
	}
	return c;
}

static void release(struct tl_engine *e, int64_t watermark, int all)
{
	while (e->n_heap && (all || e->heap[0]->ts.us <= watermark)) {
		struct event *ev = heap_pop(e);

		process(e, ev);
		tl_free(ev);
	}
	e->st.buffered = e->n_heap;
}

static const char *unquote(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"') {
		s[n - 1] = '\0';
		return s + 1;
	}
	return s;
}

enum tl_feed tl_engine_feed(struct tl_engine *e, const char *line, size_t len, char *reason,
			    size_t cap)
{
	const struct rl_ruleset *rs = e->rs;
	struct jd_error jerr;
	struct event ev;
	const char *terr;

	e->st.events_in++;
	if (jd_decode(e->dec, line, len, e->slots, &jerr)) {
		snprintf(reason, cap, "invalid JSON at byte %zu: %s", jerr.off + 1, jerr.msg);
		e->st.malformed++;
		return TL_FEED_MALFORMED;
	}
	ev.line = line;
	ev.len = len;
	ev.slots = e->slots;
	ev.seq = e->seq++;
	if (tf_from_value((enum tf_kind)rs->time_format, &e->slots[rs->time_slot], &ev.ts, &terr)) {
		char path[256];
		size_t i, n = 0;

		for (i = 0; i < rs->n_time_segs && n + 2 < sizeof path; i++)
			n += (size_t)snprintf(path + n, sizeof path - n, "%s%s", i ? "." : "",
					      rs->time_segs[i]);
		snprintf(reason, cap, "no valid event time in '%s': %s", path, terr);
		e->st.malformed++;
		return TL_FEED_MALFORMED;
	}
	if (e->have_time && ev.ts.us < e->max_seen - rs->lateness_us) {
		char t1[TF_JSON_MAX], t2[TF_JSON_MAX];
		struct tf_stamp wm = ev.ts;

		t1[tf_format_json(&ev.ts, ev.ts.us, t1)] = '\0';
		t2[tf_format_json(&wm, e->max_seen - rs->lateness_us, t2)] = '\0';
		/* times as text: an RFC 3339 time without its JSON quotes */
		snprintf(reason, cap, "late event: time %s is behind the watermark %s", unquote(t1),
			 unquote(t2));
		e->st.late++;
		return TL_FEED_LATE;
	}
	if (!e->have_time || ev.ts.us > e->max_seen)
		e->max_seen = ev.ts.us;
	e->have_time = 1;
	if (rs->lateness_us == 0 && e->n_heap == 0) {
		process(e, &ev);
		return TL_FEED_OK;
	}
	{
		struct event *c = retain(e, &ev);

		if (!c || tl_grow((void **)&e->heap, &e->cap_heap, e->n_heap + 1, sizeof *e->heap)) {
			tl_free(c);
			return TL_FEED_NOMEM;
		}
		e->heap[e->n_heap] = c;
		heap_up(e->heap, e->n_heap++);
		if (e->n_heap > e->st.peak_buffered)
			e->st.peak_buffered = e->n_heap;
	}
	release(e, e->max_seen - rs->lateness_us, 0);
	return TL_FEED_OK;
}

int tl_engine_finish(struct tl_engine *e)
{
	release(e, 0, 1);
	return 0;
}

void tl_engine_stats(const struct tl_engine *e, struct tl_stats *st)
{
	*st = e->st;
	st->rules = e->rstats;
}

struct tl_engine *tl_engine_new(const struct rl_ruleset *rs, const struct tl_engine_opts *opts)
{
	struct tl_engine *e = tl_calloc(1, sizeof *e);
	size_t i;

	if (!e)
		return NULL;
	e->rs = rs;
	e->opts = *opts;
	if (ev_init(&e->ev))
		goto fail;
	e->dec = jd_decoder_new(rs->fields);
	e->slots = tl_calloc(rs->n_slots ? rs->n_slots : 1, sizeof *e->slots);
	e->rules = tl_calloc(rs->n_rules ? rs->n_rules : 1, sizeof *e->rules);
	e->rstats = tl_calloc(rs->n_rules ? rs->n_rules : 1, sizeof *e->rstats);
	if (!e->dec || !e->slots || !e->rules || !e->rstats)
		goto fail;
	for (i = 0; i < rs->n_rules; i++) {
		struct rstate *r = &e->rules[i];
		const struct rl_rule *rule = &rs->rules[i];

		r->r = rule;
		r->horizon = rule->suppress_us;
		if (rule->kind == RL_THRESHOLD && rule->window_us > r->horizon)
			r->horizon = rule->window_us;
		if (rule->n_aggs) {
			r->results = tl_calloc(rule->n_aggs, sizeof *r->results);
			if (!r->results)
				goto fail;
		}
	}
	return e;
fail:
	tl_engine_free(e);
	return NULL;
}

void tl_engine_free(struct tl_engine *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; e->rules && i < e->rs->n_rules; i++) {
		struct rstate *rs = &e->rules[i];

		while (rs->oldest)
			key_free(e, rs, rs->oldest);
		tl_free(rs->buckets);
		tl_free(rs->results);
		tl_free(rs->vals);
	}
	for (i = 0; i < e->n_heap; i++)
		tl_free(e->heap[i]);
	tl_free(e->heap);
	tl_free(e->rules);
	tl_free(e->rstats);
	tl_free(e->slots);
	tl_free(e->out.buf);
	tl_free(e->keybuf.buf);
	jd_decoder_free(e->dec);
	ev_fini(&e->ev);
	tl_free(e);
}
