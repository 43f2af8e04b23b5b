/* engine.c - the runtime: event time order, per-key state, filters, thresholds, alerts.
 *
 * Pipeline position: engine. tl_engine_feed decodes a line (parser/json), reads its time
 * (parser/timefmt), puts it in event-time order (the reorder buffer of time.lateness) and runs
 * over it, in rule order, the rules its type can matter to (engine/dispatch). Rule state lives
 * per key in key spaces shared by the rules keyed alike (engine/keys), one entry per key value
 * with every rule's state side by side; each rule keeps its keys in the order they were last
 * touched, so that expired keys are found at the head of that list in O(1) each: a key's
 * state can matter only while touched + horizon >= now, the horizon being max(within,
 * suppress) for a sequence, suppress for a filter, and for a threshold its window, or
 * max(window, suppress) once the key has alerted (such keys move to a second list, with that
 * horizon). A heap of rules says when the next key can expire. Threshold windows and their
 * aggregates are engine/window, runs of sequences engine/match; alerts are written by
 * engine/alert.
 */
#include "tripline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "dispatch.h"
#include "eval.h"
#include "json.h"
#include "keys.h"
#include "match.h"
#include "obuf.h"
#include "pool.h"
#include "ruleset.h"
#include "timefmt.h"
#include "window.h"

/* An event being processed, or held in the reorder buffer. */
struct event {
	const char *line;
	size_t len;
	struct tl_value *slots;
	struct tf_stamp ts;
	uint64_t seq; /* arrival order */
	struct mt_event *held; /* its copy from the reorder buffer (which line and slots are in),
				* or NULL */
};

/* A key space of the engine: the rules keyed the same way, and the current event's key. */
struct espace {
	struct kspace ks;
	const struct rl_rule *spec; /* a rule of the space, for its key fields */
	struct obuf key;            /* the current event's key as JSON text */
	uint64_t pseq;              /* the event it was made for */
	int ok;                     /* 0: the event has the key; -1: a key field is not a scalar */
	uint64_t hash;
	struct kentry *cur;         /* the key's entry; NULL while it has none */
	uint32_t *state_size;       /* per rule with state in the space: its block's size, for
				     * prefetching (0: one line) */
};

/* A condition of the form most conditions tried on each run have: a field of the event
 * compared with a value the run keeps (`country != l1.country`), read in place. */
struct quick {
	const struct ex_node *n;  /* the comparison */
	uint32_t slot;            /* the field's slot */
	uint32_t read;            /* the place of the kept value in mt_rv */
	uint32_t field_first;     /* the field is the left operand */
};

/* Conditions that must all hold. */
struct conds {
	const struct ex_node **c;
	size_t n;
	struct quick *q;          /* post only: each of c as a quick comparison, when they all
				   * are one (else NULL) */
};

#define HC_SIZE 8 /* events whose hashes are kept: the current one and the three after it,
		   * told apart by arrival number (events come back a little out of order) */
#define HC_MAX_SPACES 16

struct espace;

/* Key hashes of an event, per space. */
struct hashes {
	uint64_t seq;   /* the event's arrival number */
	int valid;
	uint64_t *h;
	uint8_t *ok;    /* the event has the space's key (and the space has state) */
	uint32_t n_pf;  /* the spaces to prefetch in (ok, and many keys), each with its hash
			 * copied from h: read from h through an index, it cost 43 more
			 * instructions per event on (a) */
	struct {
		const struct espace *sp;
		uint64_t h;
	} pf[HC_MAX_SPACES];
};

struct rstate {
	const struct rl_rule *r;
	struct espace *sp;        /* its key space */
	int64_t xat;              /* in the expiry heap: when its oldest key may expire, at the
				   * earliest */
	ptrdiff_t xpos;           /* its place in the expiry heap, or -1 */
	struct ktable keys;       /* its live key states (but those in alerted) */
	int64_t horizon;          /* how long after its last touch a key can still matter */
	int64_t look_due;         /* expire_ahead: its walk waits for this time */
	struct ktable alerted;    /* thresholds whose suppress outlasts their window: the keys
				   * that have alerted, which matter for ahorizon after their last
				   * touch (the others only for the window) */
	int64_t ahorizon;         /* ... or 0: every key is in keys */
	struct tl_value *args;    /* thresholds: this event's aggregate arguments that are not
				   * fields (the window reads those from the event) */
	uint32_t *eval_args;      /* ... the aggregates they are of, listed when the rules load */
	size_t n_eval_args;
	struct tl_value *results; /* aggregate values for when and emit */
	struct win_plan *wp;      /* thresholds: the layout of its windows */
	uint32_t when_min;        /* ... the fewest events for which when can hold (when_min) */
	int8_t *memo;             /* sequences: per step, this event matches it (-1: not known);
				   * for a step that reads runs, its pre holds */
	struct conds *pre;        /* sequences: per step that reads runs, its conjuncts that do
				   * not: when one fails, no run can match */
	struct conds *post;       /* ... and its conjuncts that do: once pre holds, all that is
				   * left to evaluate per run */
	const struct dp_item *items; /* sequences: per step, what dispatch knows of it, or NULL */
	struct conds *pre_rest;   /* ... and per step, once dispatch says the event passes its
				   * guard: its conjuncts but the guard's that read no run (for a
				   * step that reads none, all that is left of its where) */
	struct mt_run **done;     /* sequences: runs completed by this event */
	size_t n_done, cap_done;
	struct ev_bound *first, *last; /* sequences: per real step, the events of the run that
					* fires (mt_views) */
};

struct tl_engine {
	const struct rl_ruleset *rs;
	struct pool pool;    /* key states and windows */
	struct tl_engine_opts opts;
	struct jd_decoder *dec;
	struct tl_value *slots;
	struct ev_ctx ev;
	struct rstate *rules;
	struct tl_rule_stats *rstats;
	struct tl_stats st;
	struct obuf out;
	struct obuf text;    /* emit templates being rendered */
	struct espace *spaces;
	size_t n_spaces;
	uint64_t seq;
	int64_t max_seen;    /* greatest event time taken */
	int have_time;
	int64_t now;         /* time of the event being processed */
	struct mt_event **ring; /* reorder buffer (see buf_push): the events that came in
				 * order, a ring of ring_cap (a power of two) from ring_at */
	size_t ring_cap, ring_at, ring_n;
	struct mt_event **heap; /* ... and those that came before the ring's back: a min-heap
				 * on (time, arrival) */
	size_t n_heap, cap_heap;
	uint32_t batch;      /* lines taken before the held events run (opts.batch, at least 1) */
	uint32_t unsynced;   /* lines held since they last ran */
	struct mt_run **dl;  /* deadlines of pending runs: min-heap on (deadline, rule, start) */
	size_t n_dl, cap_dl;
	uint64_t pseq;       /* processing order of events */
	const struct event *cur;  /* the event being processed */
	int nomem;           /* an allocation failed while processing: the feed reports it */
	struct mt_event *cur_kept; /* its copy, once a run binds it */
	struct dp_index *dp; /* the rules an event can matter to */
	const struct dp_rest *rest; /* per rule, what is left of its where (NULL: all of it) */
	uint32_t lit;        /* the literal the event's dispatch value is, when rest is set */
	int64_t next_expire; /* expire runs once now passes this: when the first key can
			      * expire, plus xgrace */
	int64_t xgrace;      /* how long a key may outlive its horizon: a sixteenth of the
			      * shortest, so that one run of expire frees the keys of several
			      * events (and sifts the heap once for them) */
	struct rstate **xheap; /* rules with keys, a min-heap on xat (lazy: see expire) */
	size_t n_xheap;
	size_t table_bytes;  /* of the key spaces' tables */
	struct hashes hc[HC_SIZE];
	uint32_t *hot;       /* the key spaces with state, by index */
	size_t n_hot;
	int use_hc;          /* key hashes are made ahead, for prefetching (few spaces) */
};

static void seq_key_free(struct tl_engine *e, struct rstate *rs, struct kstate *k);

/* Asks for every cache line of the n bytes at p (a hint: at least the first, for n 0). */
static inline void prefetch_lines(const void *p, size_t n)
{
	const char *at = (const char *)((uintptr_t)p & ~(uintptr_t)63), *end = (const char *)p + n;

	do
		__builtin_prefetch(at);
	while ((at += 64) < end);
}

/* ---- key states ---- */

/* The list of rule rs that its live state k is in. */
static struct ktable *klist(struct rstate *rs, const struct kstate *k)
{
	return k->has_alert && rs->ahorizon ? &rs->alerted : &rs->keys;
}

/* The state of rule rs touched longest ago, or NULL. */
static struct kstate *oldest_key(const struct rstate *rs)
{
	struct kstate *a = rs->keys.oldest, *b = rs->alerted.oldest;

	return !a || (b && b->touched < a->touched) ? b : a;
}

/* When the first key of rule rs can expire (INT64_MAX: it has none). Each list is in touch
 * order and has one horizon, so its oldest key expires first. */
static int64_t next_xat(const struct rstate *rs, const struct kstate **first)
{
	int64_t x = INT64_MAX;

	*first = NULL;
	if (rs->keys.oldest) {
		*first = rs->keys.oldest;
		x = rs->keys.oldest->touched + rs->horizon;
	}
	if (rs->alerted.oldest && rs->alerted.oldest->touched + rs->ahorizon < x) {
		*first = rs->alerted.oldest;
		x = rs->alerted.oldest->touched + rs->ahorizon;
	}
	return x;
}

/* Ends the live state k of rule rs (its own state already released). */
static void key_drop(struct rstate *rs, struct kstate *k)
{
	struct kentry *ent = kt_entry(k);

	if (kt_remove(klist(rs, k), k) && rs->sp->cur == ent)
		rs->sp->cur = NULL;
}

static void key_free(struct tl_engine *e, struct rstate *rs, struct kstate *k)
{
	if (rs->r->kind == RL_SEQUENCE)
		seq_key_free(e, rs, k);
	else if (rs->sp->ks.extra)
		win_release(k->state, rs->wp);
	else
		win_free(k->state, rs->wp);
	key_drop(rs, k);
	e->st.keys--;
}

/* The expiry heap holds every rule that has keys, by the time its oldest key can expire as it
 * was when the rule went in. A key's expiry time only grows (keys are touched, never
 * untouched), so that time is a lower bound: when it comes, the rule is looked at and goes
 * back in with its true time. Nothing is looked at before, whatever the number of rules. */
static int xbefore(const struct rstate *a, const struct rstate *b)
{
	return a->xat < b->xat;
}

static void xswap(struct tl_engine *e, size_t i, size_t j)
{
	struct rstate *t = e->xheap[i];

	e->xheap[i] = e->xheap[j];
	e->xheap[j] = t;
	e->xheap[i]->xpos = (ptrdiff_t)i;
	e->xheap[j]->xpos = (ptrdiff_t)j;
}

static void xsift(struct tl_engine *e, size_t i)
{
	while (i && xbefore(e->xheap[i], e->xheap[(i - 1) / 2])) {
		xswap(e, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < e->n_xheap && xbefore(e->xheap[l], e->xheap[m]))
			m = l;
		if (l + 1 < e->n_xheap && xbefore(e->xheap[l + 1], e->xheap[m]))
			m = l + 1;
		if (m == i)
			return;
		xswap(e, i, m);
		i = m;
	}
}

/* Puts rule rs (with keys, not in the heap) in the expiry heap; the heap has room for every
 * rule. */
static void xpush(struct tl_engine *e, struct rstate *rs)
{
	const struct kstate *first;

	rs->xat = next_xat(rs, &first);
	rs->xpos = (ptrdiff_t)e->n_xheap;
	e->xheap[e->n_xheap++] = rs;
	xsift(e, e->n_xheap - 1);
}

#define EXPIRE_BATCH 16

/* Frees the keys of list t of rule rs that are due at e->now (touched more than horizon
 * ago), a few at a time: their states and entries are asked for all together, then what
 * freeing them reads beyond those (the table slot of each entry, a window's own blocks: its
 * distinct sets, evidence lines, a ring grown out of it), then they are freed (a rule's keys
 * are apart: freeing one leaves the others). expire_ahead has asked for their states and
 * entries some events before, but most of that has left the nearest caches since. 1 when
 * more may be due. */
static int expire_list(struct tl_engine *e, struct rstate *rs, struct ktable *t,
		       int64_t horizon)
{
	struct kstate *due[EXPIRE_BATCH], *k;
	size_t n = 0, i;

	for (k = t->oldest; k && n < EXPIRE_BATCH && k->touched + horizon < e->now; k = k->next) {
		__builtin_prefetch(k->state);
		__builtin_prefetch(kt_entry(k));
		due[n++] = k;
	}
	for (i = 0; i < n; i++) {
		ks_prefetch_slot(t->space, kt_entry(due[i]));
		if (rs->r->kind == RL_THRESHOLD)
			win_prefetch_free(due[i]->state, rs->wp);
	}
	for (i = 0; i < n; i++)
		key_free(e, rs, due[i]);
	return n == EXPIRE_BATCH;
}

/* Frees the keys whose state can no longer matter at e->now, and notes when the next one
 * can. */
static void expire(struct tl_engine *e)
{
	while (e->n_xheap && e->xheap[0]->xat < e->now) {
		struct rstate *rs = e->xheap[0];
		const struct kstate *k;
		int64_t x;

		if (expire_list(e, rs, &rs->keys, rs->horizon) |
		    (rs->alerted.oldest && expire_list(e, rs, &rs->alerted, rs->ahorizon)))
			continue; /* more may be due */
		x = next_xat(rs, &k);
		if (k) {
			/* what freeing it reads is asked for by expire_ahead once it is due (in
			 * keys; those in alerted are few) */
			rs->xat = x;
			xsift(e, 0);
		} else {
			rs->xpos = -1;
			if (--e->n_xheap) {
				xswap(e, 0, e->n_xheap);
				e->xheap[e->n_xheap]->xpos = -1;
				xsift(e, 0);
			}
		}
	}
	e->next_expire = e->n_xheap ? e->xheap[0]->xat + e->xgrace : INT64_MAX;
}

/* Walks, one key per event, down the list of each rule that has keys due, asking for each
 * key's memory (every line of its state, its entry, the key after it) an event or more before
 * expire reads it: expire then follows the list through the cache instead of from one miss to
 * the next (keys are touched at random, so a list jumps all over memory). A rule's walk stops
 * at its first key that is not due yet: expire runs in batches (see xgrace), so the keys it
 * frees are due some events before, and a walk of one key per event keeps up with a rule that
 * frees fewer keys than it takes events. A rule notes when its walk can next go on (look_due, a
 * lower bound: the list is in touch order), so that a rule not due costs no key read. */
static void expire_ahead(struct tl_engine *e)
{
	size_t i;

	for (i = 0; i < e->n_xheap; i++) {
		struct rstate *rs = e->xheap[i];
		struct ktable *t;
		struct kstate *k;

		if (rs->look_due > e->now)
			continue;
		t = &rs->keys;
		k = t->look ? t->look : t->oldest;
		if (!k) {
			rs->look_due = e->now + rs->horizon; /* a key made from now on */
			continue;
		}
		rs->look_due = k->touched + rs->horizon;
		if (rs->look_due > e->now)
			continue;
		prefetch_lines(k->state, rs->sp->state_size[t->idx]);
		__builtin_prefetch(kt_entry(k));
		if (k->next) {
			/* the walk reads the whole state, which may span two lines */
			prefetch_lines(k->next, sizeof *k->next);
			t->look = k->next;
		}
	}
}

/* Evicts the key state touched longest ago, of any rule; 0 when there is none. */
static int evict_oldest_key(struct tl_engine *e)
{
	struct rstate *best = NULL;
	struct kstate *oldest = NULL;
	size_t i;

	for (i = 0; i < e->rs->n_rules; i++) {
		struct rstate *rs = &e->rules[i];
		struct kstate *k = oldest_key(rs);

		if (k && (!oldest || k->touched < oldest->touched)) {
			best = rs;
			oldest = k;
		}
	}
	if (!best)
		return 0;
	key_free(e, best, oldest);
	return 1;
}

/* Mixes the bytes b[0 .. n) into h, eight at a time. */
static uint64_t mix_bytes(uint64_t h, const unsigned char *b, size_t n)
{
	uint64_t w;

	for (; n >= 8; b += 8, n -= 8) {
		memcpy(&w, b, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 32;
	}
	if (n) {
		/* the last 1 to 7 bytes in two loads that may overlap, and the count */
		uint32_t lo, hi;

		if (n >= 4) {
			memcpy(&lo, b, 4);
			memcpy(&hi, b + n - 4, 4);
		} else {
			lo = b[0] | (uint32_t)b[n / 2] << 8 | (uint32_t)b[n - 1] << 16;
			hi = 0;
		}
		w = (lo | (uint64_t)hi << 32) ^ ((uint64_t)n << 61);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 32;
	}
	return h;
}

/* The hash of the key of space sp in an event's slots, from the key values themselves (so
 * that it can be had without making the key's text); -1 when the event has no such key. */
static int space_hash(const struct espace *sp, const struct tl_value *slots, uint64_t *hash)
{
	const struct rl_rule *r = sp->spec;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < r->n_keys; i++) {
		const struct tl_value *v = &slots[r->key_slots[i]];
		double num;

		h = (h ^ v->type) * 0x100000001b3ULL;
		switch (v->type) {
		case TL_STR:
			h = mix_bytes(h ^ v->len, (const unsigned char *)v->str, v->len);
			break;
		case TL_NUM:
			num = v->num == 0 ? 0 : v->num; /* -0 and 0 are one key */
			h = mix_bytes(h, (const unsigned char *)&num, sizeof num);
			break;
		case TL_BOOL:
			h = mix_bytes(h, &v->b, 1);
			break;
		default:
			return -1;
		}
	}
	/* the last bytes mixed in reach only the high bits: fold them down into the low bits
	 * that pick the table place */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	*hash = h ^ (h >> 33);
	return 0;
}

/* Spaces with fewer keys than this are not prefetched: their entries stay in cache, and most
 * events would hash a key for nothing (a filter's suppress state, say, made only when it
 * fires). */
#define PF_MIN_KEYS 1024

/* hashes_of when the hashes are not made yet. */
static __attribute__((noinline)) const struct hashes *
hashes_make(struct tl_engine *e, struct hashes *hs, uint64_t seq, const struct tl_value *slots)
{
	size_t i;

	hs->n_pf = 0;
	for (i = 0; i < e->n_hot; i++) {
		const struct espace *sp = &e->spaces[e->hot[i]];

		hs->ok[e->hot[i]] = sp->ks.n >= PF_MIN_KEYS &&
				    space_hash(sp, slots, &hs->h[e->hot[i]]) == 0;
		if (hs->ok[e->hot[i]]) {
			hs->pf[hs->n_pf].sp = sp;
			hs->pf[hs->n_pf++].h = hs->h[e->hot[i]];
		}
	}
	hs->seq = seq;
	hs->valid = 1;
	return hs;
}

/* The key hashes of an event (by arrival number) in every space with state and many keys,
 * made once: for the prefetches of the three events before it, then for itself. Inline for
 * the common case, hashes already made (5 calls of 6). */
static inline const struct hashes *hashes_of(struct tl_engine *e, uint64_t seq,
					     const struct tl_value *slots)
{
	struct hashes *hs = &e->hc[seq % HC_SIZE];

	if (hs->valid && hs->seq == seq)
		return hs;
	return hashes_make(e, hs, seq, slots);
}

/* Asks the memory for what an event about to be processed will read, in three stages, three
 * events ahead, then two, then one, each reading what the one before brought in: the places
 * of its keys in the tables, the entries found there, then the rules' states and their
 * neighbours in touch order. Key states are too many to stay in cache; this way their misses
 * overlap with the work on the events before. */
enum { PF_SLOTS, PF_ENTRIES, PF_STATES };

static void prefetch(struct tl_engine *e, const struct mt_event *ev, int stage)
{
	const struct hashes *hs = hashes_of(e, ev->seq, ev->slots);
	size_t i;

	for (i = 0; i < hs->n_pf; i++) {
		const struct espace *sp = hs->pf[i].sp;
		const struct kspace *ks = &sp->ks; /* with a table: it had many keys */
		const struct kslot *sl;
		const struct kentry *ent;
		const char *p, *end;
		uint64_t h = hs->pf[i].h, live;

		sl = &ks->tab[h & ks->mask];
		if (stage == PF_SLOTS) {
			__builtin_prefetch(sl);
			continue;
		}
		if (!(ent = sl->e) || sl->hash != h)
			continue;
		if (stage == PF_ENTRIES) {
			/* the whole entry: the key, then the state of every rule of the space, and
			 * the window of a space's only rule (its size is the space's to know, not
			 * yet the entry's) */
			end = (const char *)ent + sizeof *ent + 32 + ks->n_rules * sizeof(struct kstate) +
			      ks->extra;
			for (p = (const char *)ent; p < end; p += 64)
				__builtin_prefetch(p);
			continue;
		}
		/* the live states' own blocks, and their neighbours in touch order that a touch
		 * rewrites */
		for (live = ent->live; live; live &= live - 1) {
			uint32_t j = (uint32_t)__builtin_ctzll(live);
			const struct kstate *k = (const struct kstate *)((const char *)ent + ent->ks_off) + j;

			/* every line of the state: a window's ring entries come after its header
			 * and aggregates, often on the next line */
			prefetch_lines(k->state, sp->state_size[j]);
			__builtin_prefetch(k->prev);
			__builtin_prefetch(k->next);
		}
	}
}

/* The current event's key for space sp (made once per event): 0, or -1 when a key field is
 * missing, null, an array or an object: the event then takes no part in the space's rules. */
static int space_key(struct tl_engine *e, struct espace *sp)
{
	const struct rl_rule *r = sp->spec;
	struct obuf *b = &sp->key;
	const struct hashes *hs;

	if (sp->pseq == e->pseq)
		return sp->ok;
	sp->pseq = e->pseq;
	sp->ok = -1;
	sp->cur = NULL;
	b->len = 0;
	if (kv_encode(b, e->ev.slots, r->key_slots, r->n_keys))
		return -1;
	if (b->oom) {
		b->oom = 0;
		e->nomem = 1;
		return -1;
	}
	if (!b->buf)
		ob_lit(b, "");
	/* the hash made ahead, unless the space had few keys then */
	hs = sp->ks.n_rules && e->use_hc ? hashes_of(e, e->cur->seq, e->ev.slots) : NULL;
	if (hs && hs->ok[sp - e->spaces])
		sp->hash = hs->h[sp - e->spaces];
	else
		space_hash(sp, e->ev.slots, &sp->hash);
	sp->cur = ks_find(&sp->ks, b->buf ? b->buf : "", b->len, sp->hash);
	sp->ok = 0;
	return 0;
}

/* The live state of rule rs for the current key, or NULL (space_key must have succeeded). */
static struct kstate *key_find(struct rstate *rs)
{
	struct kentry *ent = rs->sp->cur;

	return ent && kt_is_live(&rs->keys, ent) ? kt_state(&rs->keys, ent) : NULL;
}

/* The state of the current key for rule rs (space_key must have succeeded), created when
 * new; touched. */
static struct kstate *key_get(struct tl_engine *e, struct rstate *rs)
{
	struct espace *sp = rs->sp;
	struct kstate *k = key_find(rs);

	if (!k) {
		if (e->opts.max_keys && e->st.keys >= e->opts.max_keys) {
			expire(e);
			if (e->st.keys >= e->opts.max_keys && evict_oldest_key(e))
				e->st.evicted_keys++; /* it may have freed the key's entry: see below */
		}
		if (!sp->cur &&
		    !(sp->cur = ks_add(&sp->ks, sp->key.buf ? sp->key.buf : "", sp->key.len,
				       sp->hash))) {
			e->nomem = 1;
			return NULL;
		}
		k = kt_live(&rs->keys, sp->cur, e->now);
		if (rs->r->kind == RL_THRESHOLD &&
		    !(k->state = sp->ks.extra ? win_init(ks_extra(&sp->ks, sp->cur), &e->pool, rs->wp)
					      : win_new(&e->pool, rs->wp))) {
			key_drop(rs, k);
			e->nomem = 1;
			return NULL;
		}
		if (rs->r->kind == RL_SEQUENCE) {
			struct mt_key *mk = pool_calloc(&e->pool, mt_key_size(rs->r));

			if (!mk) {
				key_drop(rs, k);
				e->nomem = 1;
				return NULL;
			}
			mk->n_groups = (uint32_t)(3 * rs->r->n_steps);
			k->state = mk;
		}
		if (++e->st.keys > e->st.peak_keys)
			e->st.peak_keys = e->st.keys;
		if (rs->xpos < 0) {
			xpush(e, rs);
		} else if (rs->keys.oldest == k && e->now + rs->horizon < rs->xat) {
			/* the first of its list, due before every key of the rule's other list */
			rs->xat = e->now + rs->horizon;
			xsift(e, (size_t)rs->xpos);
		} else {
			return k;
		}
		if (rs->xat + e->xgrace < e->next_expire)
			e->next_expire = rs->xat + e->xgrace;
		return k;
	}
	kt_touch(klist(rs, k), k, e->now);
	return k;
}

/* ---- rules ---- */

/* Suppress: 1 when an alert of this key at now must be dropped; else records it. */
static int suppressed(struct tl_engine *e, struct rstate *rs, struct kstate *k)
{
	if (!rs->r->suppress_us || !k)
		return 0;
	if (k->has_alert && e->now - k->last_alert <= rs->r->suppress_us) {
		e->rstats[rs->r - e->rs->rules].suppressed++;
		return 1;
	}
	/* a threshold's key that alerts for the first time now matters for longer (it was
	 * touched now: it is the newest of either list) */
	if (!k->has_alert && rs->ahorizon)
		kt_move(&rs->keys, &rs->alerted, k);
	k->has_alert = 1;
	k->last_alert = e->now;
	return 0;
}

static void emit_alert(struct tl_engine *e, struct rstate *rs, const struct al_alert *a)
{
	al_write(&e->out, &e->text, e->rs, a, &e->ev);
	if (e->out.oom) {
		e->out.oom = 0;
		e->nomem = 1;
		return;
	}
	e->opts.emit(e->opts.ctx, e->out.buf, e->out.len, 1);
	e->rstats[rs->r - e->rs->rules].alerts++;
	e->st.alerts++;
}

static inline int where_holds(struct tl_engine *e, struct rstate *rs)
{
	const struct rl_rule *r = rs->r;
	const struct dp_rest *rest;
	size_t i;

	if (!r->where)
		return 1;
	if (!e->rest)
		return ev_holds(r->where, &e->ev);
	rest = &e->rest[r - e->rs->rules];
	for (i = 0; i < rest->n; i++)
		if (!ev_holds(rest->conds[i], &e->ev))
			return 0;
	return 1;
}

static void run_filter(struct tl_engine *e, struct rstate *rs, const struct event *ev)
{
	struct kstate *k = NULL;

	if (!where_holds(e, rs))
		return;
	if (space_key(e, rs->sp))
		return;
	if (rs->r->suppress_us && !(k = key_get(e, rs)))
		return;
	if (!suppressed(e, rs, k)) {
		struct al_alert a = { rs->r, &ev->ts, rs->sp->key.buf, rs->sp->key.len, &ev->ts,
				      NULL, ev->line, ev->len, NULL };

		emit_alert(e, rs, &a);
	}
}

/* 1 when condition n has a regex (whose evaluation counts the times it hits its limits). */
static int has_regex(const struct ex_node *n)
{
	size_t i;

	if (n->kind == EX_REGEX)
		return 1;
	for (i = 0; i < n->n_kids; i++)
		if (has_regex(n->kids[i]))
			return 1;
	return 0;
}

/* The fewest events a window of threshold r must hold for its condition n to be true, or 0
 * when none is known: count() is the number of events, and distinct() at most that, so
 * "count() >= 10" needs 10, "distinct(card) > 4" 5, "3 <= count()" 3; both sides of an
 * && must hold, one of an || may. Below that number the condition is not evaluated. */
static uint32_t when_min(const struct rl_rule *r, const struct ex_node *n)
{
	const struct ex_node *agg, *lit;
	uint32_t x, y;
	double k;

	switch (n->kind) {
	case EX_AND: case EX_OR:
		x = when_min(r, n->kids[0]);
		y = when_min(r, n->kids[1]);
		if (n->kind == EX_AND)
			return x > y ? x : y;
		return x < y ? x : y;
	case EX_GE: case EX_GT: case EX_EQ:
		agg = n->kids[0];
		lit = n->kids[1];
		break;
	case EX_LE: case EX_LT:
		agg = n->kids[1];
		lit = n->kids[0];
		break;
	default:
		return 0;
	}
	if (agg->kind != EX_AGG || lit->kind != EX_LIT || lit->val.type != TL_NUM ||
	    (r->aggs[agg->slot].kind != RL_AGG_COUNT && r->aggs[agg->slot].kind != RL_AGG_DISTINCT))
		return 0;
	k = lit->val.num;
	if (!(k > 0)) /* NaN too */
		return 0;
	if (k >= UINT32_MAX - 1)
		return UINT32_MAX;
	/* a count is a whole number: above k it is at least floor(k) + 1, from k on ceil(k) */
	x = (uint32_t)k;
	return n->kind == EX_GT || n->kind == EX_LT ? x + 1 : x + (x < k);
}

static void run_threshold(struct tl_engine *e, struct rstate *rs, const struct event *ev)
{
	const struct rl_rule *r = rs->r;
	struct kstate *k;
	struct window *w;
	size_t i;

	if (!where_holds(e, rs))
		return;
	if (space_key(e, rs->sp))
		return;
	k = key_get(e, rs);
	if (!k)
		return;
	w = k->state;
	win_evict_before(w, rs->wp, e->now - r->window_us);
	for (i = 0; i < rs->n_eval_args; i++) /* most arguments are fields: none to evaluate */
		ev_eval_top(r->aggs[rs->eval_args[i]].arg, &e->ev, &rs->args[rs->eval_args[i]]);
	if (win_push(w, rs->wp, &ev->ts, ev->slots, rs->args, ev->line, ev->len)) {
		e->nomem = 1;
		return;
	}
	if (win_count(w) < rs->when_min)
		return; /* too few events for the condition to hold */
	win_results_when(w, rs->wp, rs->results);
	e->ev.aggs = rs->results;
	if (ev_holds(r->when, &e->ev)) {
		struct al_alert a = { r, &ev->ts, NULL, 0, win_time(w, 0), w, NULL, 0, NULL };

		win_results(w, rs->wp, rs->results); /* and the others, for emit */

		a.key = kt_key(k, &a.key_len);
		if (!suppressed(e, rs, k))
			emit_alert(e, rs, &a);
		/* fired (even when suppressed): the window's events are consumed */
		win_clear(w, rs->wp);
		if (!r->suppress_us)
			key_free(e, rs, k);
	}
	e->ev.aggs = NULL;
}

/* ---- sequences ---- */

static int dl_before(const struct mt_run *a, const struct mt_run *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	if (a->rule != b->rule)
		return a->rule < b->rule;
	return a->start_seq < b->start_seq;
}

static void dl_swap(struct tl_engine *e, size_t i, size_t j)
{
	struct mt_run *t = e->dl[i];

	e->dl[i] = e->dl[j];
	e->dl[j] = t;
	e->dl[i]->heap_idx = (ptrdiff_t)i;
	e->dl[j]->heap_idx = (ptrdiff_t)j;
}

static void dl_sift(struct tl_engine *e, size_t i)
{
	while (i && dl_before(e->dl[i], e->dl[(i - 1) / 2])) {
		dl_swap(e, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < e->n_dl && dl_before(e->dl[l], e->dl[m]))
			m = l;
		if (l + 1 < e->n_dl && dl_before(e->dl[l + 1], e->dl[m]))
			m = l + 1;
		if (m == i)
			return;
		dl_swap(e, i, m);
		i = m;
	}
}

static int dl_push(struct tl_engine *e, struct mt_run *run)
{
	if (tl_grow((void **)&e->dl, &e->cap_dl, e->n_dl + 1, sizeof *e->dl))
		return -1;
	e->dl[e->n_dl] = run;
	run->heap_idx = (ptrdiff_t)e->n_dl++;
	dl_sift(e, e->n_dl - 1);
	return 0;
}

static void dl_remove(struct tl_engine *e, struct mt_run *run)
{
	size_t i = (size_t)run->heap_idx;

	run->heap_idx = -1;
	if (i == --e->n_dl)
		return;
	e->dl[i] = e->dl[e->n_dl];
	e->dl[i]->heap_idx = (ptrdiff_t)i;
	dl_sift(e, i);
}

static void run_kill(struct tl_engine *e, struct rstate *rs, struct kstate *k,
		     struct mt_run *run)
{
	if (run->heap_idx >= 0)
		dl_remove(e, run);
	mt_key_unlink(&e->pool, k->state, run);
	mt_run_free(&e->pool, rs->r, run);
	e->st.runs--;
}

static void seq_key_free(struct tl_engine *e, struct rstate *rs, struct kstate *k)
{
	struct mt_key *mk = k->state;

	while (mk->head)
		run_kill(e, rs, k, mk->head);
	pool_free(&e->pool, mk, mt_key_size(rs->r));
}

/* The current event, kept for binding (one copy however many runs bind it). */
static struct mt_event *kept(struct tl_engine *e)
{
	const struct event *ev = e->cur;

	if (e->cur_kept)
		return e->cur_kept;
	if (ev->held) {
		/* the reorder buffer's copy serves: it is out of the buffer, and numbered now in
		 * processing order (the buffer holds its own reference) */
		e->cur_kept = ev->held;
		e->cur_kept->seq = e->pseq;
		e->cur_kept->refs++;
	} else if ((e->cur_kept = mt_event_new(&e->pool, ev->line, ev->len, ev->slots,
					       e->rs->n_slots, &ev->ts, e->pseq))) {
		/* the engine's own reference until the event is processed: a run that binds it
		 * may die before the event is done */
		e->cur_kept->refs = 1;
	}
	return e->cur_kept;
}

/* The part of step st that reads no run, for the current event (once per event): for a step
 * that reads no run, whether it matches; for one that does, whether its conjuncts that read
 * no run all hold (when one fails, no run can match, whatever it bound). */
__attribute__((noinline)) static int step_pre_eval(struct tl_engine *e, struct rstate *rs,
						   const struct rl_step *st)
{
	int8_t *m = &rs->memo[st->id];
	const struct conds *pre = &rs->pre[st->id];
	size_t i;

	e->ev.first = e->ev.last = NULL;
	e->ev.aggs = NULL;
	if (e->rest && rs->items) {
		/* dispatch read the event's value: the step's guard is known, the rest is left */
		if (!dp_item_may(&rs->items[st->id], e->lit))
			return *m = 0;
		pre = &rs->pre_rest[st->id];
	} else if (!st->reads_run) {
		*m = (int8_t)ev_holds(st->where, &e->ev);
		return *m;
	}
	*m = 1;
	for (i = 0; i < pre->n && *m; i++)
		*m = (int8_t)ev_holds(pre->c[i], &e->ev);
	return *m;
}

/* Called for every run an event is offered to: known after the first, inline. */
static inline int step_pre(struct tl_engine *e, struct rstate *rs, const struct rl_step *st)
{
	int8_t m = rs->memo[st->id];

	return m >= 0 ? m : step_pre_eval(e, rs, st);
}

/* Whether the quick comparisons of post (post->q) hold for run, for the current event. */
static inline int quick_holds(const struct tl_engine *e, const struct conds *post,
			      const struct mt_run *run)
{
	const struct tl_value *rv = mt_rv(run), *slots = e->ev.slots;
	size_t i;

	for (i = 0; i < post->n; i++) {
		const struct quick *q = &post->q[i];
		const struct tl_value *f = &slots[q->slot], *k = &rv[q->read];

		if (ev_compare(q->n, q->field_first ? f : k, q->field_first ? k : f) != 1)
			return 0;
	}
	return 1;
}

/* Whether the conditions of step st that read runs hold for run, for the current event. */
__attribute__((noinline)) static int post_holds(struct tl_engine *e, struct rstate *rs,
						const struct rl_step *st,
						const struct mt_run *run)
{
	const struct conds *post = &rs->post[st->id];
	size_t i;

	if (post->q)
		return quick_holds(e, post, run);
	mt_values(rs->r, run, rs->results);
	e->ev.first = e->ev.last = NULL; /* what the conditions read of the run is in rv */
	e->ev.aggs = rs->results;
	e->ev.rv = mt_rv(run);
	for (i = 0; i < post->n; i++)
		if (!ev_holds(post->c[i], &e->ev))
			break;
	e->ev.rv = NULL; /* what else evaluates reads the events */
	return i == post->n;
}

/* Does the current event match step st, for run (NULL: a new run)? What reads no run is
 * evaluated once per event for all runs. */
static inline int matches(struct tl_engine *e, struct rstate *rs, const struct rl_step *st,
			  const struct mt_run *run)
{
	if (!step_pre(e, rs, st))
		return 0;
	if (!st->reads_run)
		return 1;
	return run && post_holds(e, rs, st, run);
}

static int any_guard(struct tl_engine *e, struct rstate *rs, const struct rl_step *g, size_t n,
		     const struct mt_run *run)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (matches(e, rs, &g[i], run))
			return 1;
	return 0;
}

/* reached for a run at the last real step. */
static void reached_last(struct tl_engine *e, struct rstate *rs, struct mt_run *run)
{
	const struct rl_rule *r = rs->r;
	const struct rl_step *st = &r->steps[run->step];

	if (run->count < st->min || run->pending)
		return;
	if (!r->n_trailing) {
		run->complete = 1;
		return;
	}
	run->pending = 1;
	if (dl_push(e, run)) {
		run->pending = 0; /* out of memory: the run cannot wait; it is dropped below */
		e->nomem = 1;
	}
}

/* After step `run->step` took an event: complete, pending, or neither (nothing to do before
 * the last step: inline). */
static inline void reached(struct tl_engine *e, struct rstate *rs, struct mt_run *run)
{
	if (run->step + 1 == rs->r->n_steps)
		reached_last(e, rs, run);
}

enum { T_NONE, T_BOUND, T_KILL, T_FAIL };

/* One transition of a run for the current event (docs/semantics.md, Runs, step 2). take: the
 * run's step takes the event (its caller knows: take_all). */
static int transition(struct tl_engine *e, struct rstate *rs, struct mt_key *mk,
		      struct mt_run *run, int take)
{
	const struct rl_rule *r = rs->r;
	const struct rl_step *st = &r->steps[run->step], *next;
	struct mt_event *ev;

	if (take ||
	    (run->count < st->max && !(st->min == 1 && st->max == 1) && matches(e, rs, st, run))) {
		if (!(ev = kept(e)) || mt_bind(&e->pool, r, run, run->step, ev))
			return T_FAIL;
		run->count++;
		/* its state changes only when the count reaches min or max */
		if ((run->count == st->min || run->count == st->max) &&
		    mt_regroup(&e->pool, r, mk, run))
			return T_FAIL;
		reached(e, rs, run);
		return T_BOUND;
	}
	next = run->step + 1 < r->n_steps ? st + 1 : NULL;
	if (run->count >= st->min && next && matches(e, rs, next, run)) {
		if (!(ev = kept(e)) || mt_bind(&e->pool, r, run, run->step + 1, ev))
			return T_FAIL;
		run->step++;
		run->count = 1;
		if (mt_regroup(&e->pool, r, mk, run))
			return T_FAIL;
		reached(e, rs, run);
		return T_BOUND;
	}
	if (run->count >= st->min &&
	    (next ? any_guard(e, rs, next->guards, next->n_guards, run)
		  : any_guard(e, rs, r->trailing, r->n_trailing, run)))
		return T_KILL;
	if (r->contiguity == RL_STRICT && !run->pending)
		return T_KILL;
	return T_NONE;
}

/* Discards after a run of k fired: with skip_past_last every run that started at or before
 * `upto` (the last event the match bound), else the fired run only. */
static void after_match(struct tl_engine *e, struct rstate *rs, struct kstate *k,
			struct mt_run *fired, uint64_t upto)
{
	struct mt_key *mk = k->state;
	struct mt_run *run, *next;

	if (rs->r->after_match == RL_NO_SKIP) {
		run_kill(e, rs, k, fired);
		return;
	}
	for (run = mk->head; run; run = next) {
		next = run->next;
		if (run->start_seq <= upto)
			run_kill(e, rs, k, run);
	}
}

static void fire_run(struct tl_engine *e, struct rstate *rs, struct kstate *k, struct mt_run *run,
		     const struct tf_stamp *ts, const struct tl_value *slots)
{
	const struct rl_rule *r = rs->r;
	struct tf_stamp start = run->bound[0]->ts;
	struct al_alert a = { r, ts, NULL, 0, &start, NULL, NULL, 0, run };
	int64_t now = e->now;

	a.key = kt_key(k, &a.key_len);
	e->now = ts->us;
	if (!suppressed(e, rs, k)) {
		mt_values(r, run, rs->results);
		mt_views(r, run, rs->first, rs->last);
		e->ev.first = rs->first;
		e->ev.last = rs->last;
		e->ev.aggs = rs->results;
		e->ev.slots = slots;
		e->ev.gen++;
		e->ev.time_us = ts->us;
		emit_alert(e, rs, &a);
	}
	e->now = now;
}

/* Fires the pending runs whose deadline is before t (all of them at the end of input). */
static void fire_deadlines(struct tl_engine *e, int64_t t, int all)
{
	while (e->n_dl && (all || e->dl[0]->deadline < t)) {
		struct mt_run *run = e->dl[0];
		struct rstate *rs = &e->rules[run->rule];
		struct kstate *k = run->key;
		struct tf_stamp ts = run->bound[0]->ts;
		const struct mt_event *last = run->bound[run->n_bound - 1];

		dl_remove(e, run);
		ts.us = run->deadline;
		fire_run(e, rs, k, run, &ts, last->slots);
		after_match(e, rs, k, run, last->seq);
		if (!((struct mt_key *)k->state)->head && !rs->r->suppress_us)
			key_free(e, rs, k);
	}
	e->ev.slots = e->cur ? e->cur->slots : NULL;
	e->ev.gen++;
	e->ev.time_us = e->cur ? e->cur->ts.us : 0;
}

/* With relaxed contiguity and conditions that read no run, an event that matches no step
 * and no not step cannot change any run: its key need not even be looked up. */
static int seq_may_matter(struct tl_engine *e, struct rstate *rs)
{
	const struct rl_rule *r = rs->r;
	size_t i;

	if (r->contiguity == RL_STRICT)
		return 1;
	for (i = 0; i < r->n_steps; i++) {
		const struct rl_step *st = &r->steps[i];
		size_t j;

		if (step_pre(e, rs, st))
			return 1;
		for (j = 0; j < st->n_guards; j++)
			if (step_pre(e, rs, &st->guards[j]))
				return 1;
	}
	for (i = 0; i < r->n_trailing; i++)
		if (step_pre(e, rs, &r->trailing[i]))
			return 1;
	return 0;
}

/* 1 when no run in state g can change for the current event: then the state is skipped,
 * whatever the number of its runs. A condition that reads runs lets it be skipped only when
 * one of its conjuncts that read no run fails. */
static int state_idle(struct tl_engine *e, struct rstate *rs, uint32_t g)
{
	const struct rl_rule *r = rs->r;
	uint32_t i = g / 3, cls = g % 3;
	const struct rl_step *st = &r->steps[i];
	const struct rl_step *next = i + 1 < r->n_steps ? &r->steps[i + 1] : NULL;
	const struct rl_step *gd = next ? next->guards : r->trailing;
	size_t n_gd = next ? next->n_guards : r->n_trailing, j;
	int take = !(st->min == 1 && st->max == 1) && cls != MT_AT_MAX;
	int later = cls != MT_BELOW_MIN; /* may advance, or be killed by a not step */

	if (take && step_pre(e, rs, st))
		return 0;
	if (later && next && step_pre(e, rs, next))
		return 0;
	for (j = 0; later && j < n_gd; j++)
		if (step_pre(e, rs, &gd[j]))
			return 0;
	/* strict contiguity kills every run the event does not advance, but pending ones */
	if (r->contiguity == RL_STRICT && !(!next && r->n_trailing && later))
		return 0;
	return 1;
}

/* 1 when every run in state g takes the current event at its step: the step reads no run,
 * matches, and can take more (transition() would find so for each; a step of one event
 * holds its runs at max). */
static int take_all(struct tl_engine *e, struct rstate *rs, uint32_t g)
{
	const struct rl_step *st = &rs->r->steps[g / 3];

	return g % 3 != MT_AT_MAX && !st->reads_run && step_pre(e, rs, st);
}

/* For state g, when the current event can do nothing to its runs but advance them to the next
 * step, whose conditions that read runs are quick comparisons: those conditions (a run they
 * fail for stays as it is, and need not go through transition()). Else NULL. */
static const struct conds *advance_sieve(struct tl_engine *e, struct rstate *rs, uint32_t g)
{
	const struct rl_rule *r = rs->r;
	uint32_t i = g / 3;
	const struct rl_step *st = &r->steps[i], *next = i + 1 < r->n_steps ? st + 1 : NULL;

	/* none of the runs takes the event at its step (at max, or the step's conditions that
	 * read no run fail), no not step stands before the next one, and a run is not killed
	 * for an event it does not take (relaxed contiguity) */
	if (!next || !next->reads_run || !rs->post[next->id].q || next->n_guards ||
	    r->contiguity == RL_STRICT || !(g % 3 == MT_AT_MAX || !step_pre(e, rs, st)))
		return NULL;
	return &rs->post[next->id];
}

static int by_start(const void *a, const void *b)
{
	const struct mt_run *x = *(const struct mt_run *const *)a;
	const struct mt_run *y = *(const struct mt_run *const *)b;

	return x->start_seq < y->start_seq ? -1 : x->start_seq > y->start_seq;
}

/* A walk over the runs of a group asks for the memory of the runs ahead of the one it is at,
 * in stages, each reading what the stage before asked for: the run's block RUN_AHEAD runs
 * ahead (with the values its conditions read, which it keeps), then the end of its bound
 * array (BOUND_AHEAD), then the strings of those values too long to be kept in the block
 * (STR_AHEAD). */
#define RUN_AHEAD 6
#define BOUND_AHEAD 3
#define STR_AHEAD 1

/* Asks for the strings a run keeps of its bound events that are not in its block. */
static inline void prefetch_reads(const struct rstate *rs, const struct mt_run *run)
{
	const struct tl_value *rv = mt_rv(run);
	size_t i;

	for (i = 0; i < rs->r->n_reads; i++)
		if (rv[i].type >= TL_STR && (rv[i].type != TL_STR || rv[i].len > MT_READ_INLINE))
			__builtin_prefetch(rv[i].str);
}

/* Asks for the part of a run's block that an event offered to it reads (from `seen` on). */
static inline void prefetch_run(const struct mt_run *run, size_t size)
{
	const char *p = (const char *)&run->seen, *end = (const char *)run + size;

	/* up to 128 bytes (most rules: a few aggregates, no reads) without a loop: the lines of
	 * the first byte, the one 64 on and the last */
	__builtin_prefetch(p, 1);
	__builtin_prefetch(p + 64, 1);
	__builtin_prefetch(end - 1, 1);
	for (p += 128; p < end; p += 64)
		__builtin_prefetch(p, 1);
}

/* For a walk from the end of a state's runs, at run `at`: asks for the block of the run
 * RUN_AHEAD ahead and for the bound-events slot of the one BOUND_AHEAD ahead. Always inline:
 * left to GCC, it was called out of line, and (e) ran 900 fewer instructions per event but took
 * 1.2 times as long. */
static inline __attribute__((always_inline)) void prefetch_group(const struct mt_group *gr, uint32_t at, size_t rsize)
{
	if (at >= RUN_AHEAD)
		prefetch_run(gr->runs[at - RUN_AHEAD], rsize);
	if (at >= BOUND_AHEAD) {
		const struct mt_run *b = gr->runs[at - BOUND_AHEAD];

		__builtin_prefetch(b->bound + b->n_bound, 1);
	}
}

/* The walk of run_sequence over state g of key k when every run of it takes the current event
 * at its step (take_all), which is not the last: each binds it, and none completes. */
__attribute__((noinline)) static void take_group(struct tl_engine *e, struct rstate *rs,
						 struct kstate *k, uint32_t g)
{
	const struct rl_rule *r = rs->r;
	const struct rl_step *st = &r->steps[g / 3];
	struct mt_key *mk = k->state;
	struct mt_group *gr = &mk->groups[g];
	struct mt_event *ev = kept(e);
	size_t rsize = mt_run_size(r);
	struct mt_plan plan;
	uint32_t at;

	if (ev)
		mt_plan(r, g / 3, ev, &plan);

	/* as in run_sequence: from the end, the runs ahead asked for in advance */
	for (at = gr->n; at-- > 0;) {
		struct mt_run *run;

		prefetch_group(gr, at, rsize);
		run = gr->runs[at];
		if (run->seen == e->pseq)
			continue; /* moved here by this event */
		run->seen = e->pseq;
		if (!ev || mt_bind_planned(&e->pool, r, run, ev, &plan)) {
			e->nomem = 1;
			run_kill(e, rs, k, run);
			continue;
		}
		run->count++;
		if ((run->count == st->min || run->count == st->max) &&
		    mt_regroup(&e->pool, r, mk, run)) {
			e->nomem = 1;
			run_kill(e, rs, k, run);
		}
	}
}

static void run_sequence(struct tl_engine *e, struct rstate *rs, const struct event *ev)
{
	const struct rl_rule *r = rs->r;
	struct kstate *k;
	struct mt_key *mk;
	size_t i, rsize;
	struct mt_run *run;
	uint32_t g;
	int take;
	const struct conds *sieve;

	for (i = 0; i < r->n_seq_items; i++) /* a few steps: no call to memset */
		rs->memo[i] = -1;
	if (!seq_may_matter(e, rs))
		return;
	if (space_key(e, rs->sp))
		return;
	k = key_find(rs);
	if (!k) {
		/* a key with no runs: only a first step can change anything */
		if (!matches(e, rs, &r->steps[0], NULL))
			return;
		if (!(k = key_get(e, rs)))
			return;
	} else {
		kt_touch(klist(rs, k), k, e->now);
	}
	mk = k->state;
	rs->n_done = 0;
	/* runs too old to complete: the oldest are first (a run's deadline is its first event's
	 * time + within: its header tells, without its bound events) */
	while (mk->head && mk->head->deadline < e->now)
		run_kill(e, rs, k, mk->head);
	rsize = mt_run_size(r);
	for (g = 0; g < mk->n_groups; g++) {
		uint32_t at;

		if (!mk->groups[g].n || state_idle(e, rs, g))
			continue;
		take = take_all(e, rs, g);
		if (take && g / 3 + 1 < r->n_steps) {
			take_group(e, rs, k, g);
			continue;
		}
		sieve = take ? NULL : advance_sieve(e, rs, g);
		/* From the end: a run that leaves the group takes the place of its last run, which
		 * has been seen; runs that join it during the walk (from earlier groups) come
		 * after the end and are never reached. Runs ahead are asked for in advance. */
		for (at = mk->groups[g].n; at-- > 0;) {
			int t;

			prefetch_group(&mk->groups[g], at, rsize);
			if (r->n_reads && at >= STR_AHEAD)
				prefetch_reads(rs, mk->groups[g].runs[at - STR_AHEAD]);
			run = mk->groups[g].runs[at];
			if (run->seen == e->pseq)
				continue; /* moved here by this event */
			run->seen = e->pseq;
			if (sieve && !quick_holds(e, sieve, run))
				continue;
			t = transition(e, rs, mk, run, take);
			if (t == T_FAIL)
				e->nomem = 1;
			if (t == T_KILL || t == T_FAIL ||
			    (r->n_trailing && run->step + 1 == r->n_steps &&
			     run->count >= r->steps[run->step].min && !run->pending)) {
				run_kill(e, rs, k, run);
				continue;
			}
			if (run->complete) {
				if (tl_grow((void **)&rs->done, &rs->cap_done, rs->n_done + 1,
					    sizeof *rs->done))
					e->nomem = 1;
				else
					rs->done[rs->n_done++] = run;
			}
		}
	}
	/* completed runs fire in the order they started */
	if (rs->n_done > 1)
		qsort(rs->done, rs->n_done, sizeof *rs->done, by_start);
	if (matches(e, rs, &r->steps[0], NULL)) {
		struct mt_event *kev = kept(e);

		if (e->opts.max_runs && mk->n_runs - rs->n_done >= e->opts.max_runs) {
			/* the oldest run still waiting makes room; the runs completed by this event
			 * leave anyway once they fire */
			struct mt_run *old;

			for (old = mk->head; old; old = old->next)
				if (!old->complete)
					break;
			if (old) {
				run_kill(e, rs, k, old);
				e->st.evicted_runs++;
			}
		}
		run = kev ? mt_run_new(&e->pool, r, (uint32_t)(rs - e->rules)) : NULL;
		if (run && mt_bind(&e->pool, r, run, 0, kev)) {
			mt_run_free(&e->pool, r, run);
			run = NULL;
		}
		if (!run)
			e->nomem = 1;
		if (run) {
			run->key = k;
			run->start_seq = e->pseq;
			run->seen = e->pseq;
			run->deadline = ev->ts.us + r->within_us;
			run->count = 1;
			run->group = mt_group(r, 0, 1);
			if (mt_key_link(&e->pool, mk, run)) {
				mt_run_free(&e->pool, r, run);
				e->nomem = 1;
				run = NULL;
			}
		}
		if (run) {
			if (++e->st.runs > e->st.peak_runs)
				e->st.peak_runs = e->st.runs;
			reached(e, rs, run);
			if (r->n_steps == 1 && r->steps[0].min == 1 && r->n_trailing && !run->pending)
				run_kill(e, rs, k, run);
			else if (run->complete &&
				 tl_grow((void **)&rs->done, &rs->cap_done, rs->n_done + 1,
					 sizeof *rs->done))
				e->nomem = 1;
			else if (run->complete)
				rs->done[rs->n_done++] = run;
		}
	}
	/* completed runs fire in the order they started */
	for (i = 0; i < rs->n_done; i++) {
		run = rs->done[i];
		fire_run(e, rs, k, run, &ev->ts, ev->slots);
		if (r->after_match == RL_SKIP_PAST_LAST) {
			after_match(e, rs, k, run, e->pseq);
			break;
		}
		run_kill(e, rs, k, run);
	}
	rs->n_done = 0;
	e->ev.first = e->ev.last = NULL;
	e->ev.aggs = NULL;
	if (!mk->head && !r->suppress_us)
		key_free(e, rs, k);
}

/* The memory of the engine's state: what the pool handed out (key entries, windows, runs,
 * bound and held events) and the tables that index it. */
static uint64_t state_bytes(const struct tl_engine *e)
{
	return e->pool.in_use + e->cap_heap * sizeof *e->heap + e->ring_cap * sizeof *e->ring +
	       e->cap_dl * sizeof *e->dl + e->table_bytes;
}

/* --max-memory: after an event, evicts key states, oldest first, until the state fits (or
 * none is left: what remains is the reorder buffer, bounded by time.lateness). */
static void fit_memory(struct tl_engine *e)
{
	uint64_t n = state_bytes(e);

	while (e->opts.max_memory && n > e->opts.max_memory && evict_oldest_key(e)) {
		e->st.evicted_memory++;
		n = state_bytes(e);
	}
	e->st.state_bytes = n;
	if (n > e->st.peak_state_bytes)
		e->st.peak_state_bytes = n;
}

static void process(struct tl_engine *e, const struct event *ev)
{
	const uint32_t *todo;
	size_t i, n;

	e->cur = ev;
	e->pseq++;
	e->ev.slots = ev->slots;
	e->ev.gen++;
	e->ev.time_us = ev->ts.us;
	fire_deadlines(e, ev->ts.us, 0);
	e->now = ev->ts.us;
	e->st.processed++;
	if (e->opts.passthrough) {
		e->out.len = 0;
		ob_line(&e->out, ev->line, ev->len);
		ob_lit(&e->out, "\n");
		if (!e->out.oom)
			e->opts.emit(e->opts.ctx, e->out.buf, e->out.len, 0);
		e->out.oom = 0;
	}
	if (e->now > e->next_expire)
		expire(e);
	expire_ahead(e);
	todo = dp_rules(e->dp, ev->slots, &n, &e->rest, &e->lit);
	for (i = 0; i < n; i++) {
		struct rstate *rs = &e->rules[todo[i]];

		if (rs->r->kind == RL_FILTER)
			run_filter(e, rs, ev);
		else if (rs->r->kind == RL_THRESHOLD)
			run_threshold(e, rs, ev);
		else
			run_sequence(e, rs, ev);
	}
	if (e->cur_kept && --e->cur_kept->refs == 0)
		mt_event_release(&e->pool, e->cur_kept);
	e->cur_kept = NULL;
	e->cur = NULL;
	e->st.regex_limit = e->ev.n_regex_limit;
	fit_memory(e);
}

/* ---- the reorder buffer ---- */

/* Events held by the reorder buffer are mt_event copies from the pool, ordered by time,
 * then arrival. */
static int ev_before(const struct mt_event *a, const struct mt_event *b)
{
	return a->ts.us < b->ts.us || (a->ts.us == b->ts.us && a->seq < b->seq);
}

static void heap_up(struct mt_event **h, size_t i)
{
	while (i) {
		size_t p = (i - 1) / 2;
		struct mt_event *t;

		if (!ev_before(h[i], h[p]))
			break;
		t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

static struct mt_event *heap_pop(struct tl_engine *e)
{
	struct mt_event **h = e->heap, *top = h[0];
	size_t i = 0, n = --e->n_heap;

	h[0] = h[n];
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct mt_event *t;

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

/* The reorder buffer's ring: nearly every event comes at or after the one before (within
 * the lateness), and goes to the back of the ring, with nothing to sort; an event that comes
 * before the ring's back goes to the heap. The next event is the lesser of the ring's front
 * and the heap's top. */
static size_t buf_n(const struct tl_engine *e)
{
	return e->ring_n + e->n_heap;
}

static struct mt_event *ring_get(const struct tl_engine *e, size_t i)
{
	return e->ring[(e->ring_at + i) & (e->ring_cap - 1)];
}

/* Holds event c until the watermark passes it. 0, or -1 when memory ran out. */
static int buf_push(struct tl_engine *e, struct mt_event *c)
{
	if (e->ring_n && ev_before(c, ring_get(e, e->ring_n - 1))) {
		if (tl_grow((void **)&e->heap, &e->cap_heap, e->n_heap + 1, sizeof *e->heap))
			return -1;
		e->heap[e->n_heap] = c;
		heap_up(e->heap, e->n_heap++);
		return 0;
	}
	if (e->ring_n == e->ring_cap) {
		size_t cap = e->ring_cap ? 2 * e->ring_cap : 64, i;
		struct mt_event **r = cap <= SIZE_MAX / sizeof *r ? tl_malloc(cap * sizeof *r) : NULL;

		if (!r)
			return -1;
		for (i = 0; i < e->ring_n; i++)
			r[i] = ring_get(e, i);
		tl_free(e->ring);
		e->ring = r;
		e->ring_cap = cap;
		e->ring_at = 0;
	}
	e->ring[(e->ring_at + e->ring_n++) & (e->ring_cap - 1)] = c;
	return 0;
}

/* 1 when the next event of the buffer (not empty) is the heap's top, 0 the ring's front. */
static int heap_first(const struct tl_engine *e)
{
	return e->n_heap && (!e->ring_n || ev_before(e->heap[0], ring_get(e, 0)));
}

/* The next event of the buffer (not empty). */
static struct mt_event *buf_next(const struct tl_engine *e)
{
	return heap_first(e) ? e->heap[0] : ring_get(e, 0);
}

/* Takes the next event out of the buffer (not empty). */
static struct mt_event *buf_pop(struct tl_engine *e)
{
	struct mt_event *c;

	if (heap_first(e))
		return heap_pop(e);
	c = ring_get(e, 0);
	e->ring_at = (e->ring_at + 1) & (e->ring_cap - 1);
	e->ring_n--;
	return c;
}

/* The three events processed next, each asked a stage further ahead: the first three of the
 * ring merged with the heap's three least (its top, then the least of its two children, then
 * the second least of the six in the two levels below the top, where the third least of a
 * heap is). */
static void prefetch_ahead(struct tl_engine *e)
{
	static const int stage[3] = { PF_STATES, PF_ENTRIES, PF_SLOTS };
	struct mt_event **h = e->heap, *least[3];
	size_t nh = 0, nr = e->ring_n < 3 ? e->ring_n : 3, r = 0, k, i;

	if (e->n_heap) {
		size_t n = e->n_heap < 7 ? e->n_heap : 7, a = 0, b = 0;

		for (i = 1; i < n; i++) {
			if (!a || ev_before(h[i], h[a])) {
				b = a;
				a = i;
			} else if (!b || ev_before(h[i], h[b])) {
				b = i;
			}
		}
		least[nh++] = h[0];
		if (a)
			least[nh++] = h[a];
		if (b)
			least[nh++] = h[b];
	}
	for (k = i = 0; k < 3 && (r < nr || i < nh); k++) {
		struct mt_event *ev = r < nr && (i == nh || ev_before(ring_get(e, r), least[i]))
					      ? ring_get(e, r++)
					      : least[i++];

		prefetch(e, ev, stage[k]);
	}
}

static void release(struct tl_engine *e, int64_t watermark, int all)
{
	while (buf_n(e) && (all || buf_next(e)->ts.us <= watermark)) {
		struct mt_event *held = buf_pop(e);
		struct event ev = { held->line, held->len, held->slots, held->ts, held->seq, held };

		if (e->use_hc)
			prefetch_ahead(e);
		held->refs = 1; /* the buffer's, until processed: runs may bind it */
		process(e, &ev);
		if (--held->refs == 0)
			mt_event_release(&e->pool, held);
	}
	e->st.buffered = buf_n(e);
}

/* Runs the held events the watermark has passed, and starts the next batch. */
static void release_due(struct tl_engine *e)
{
	e->unsynced = 0;
	release(e, e->max_seen - e->rs->lateness_us, 0);
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
	/* an event that will wait in the reorder buffer is decoded from its copy there, so that
	 * its values point into the copy as they are made */
	int buffered = !(rs->lateness_us == 0 && buf_n(e) == 0);
	struct mt_event *held = NULL;
	enum tl_feed result = TL_FEED_MALFORMED;

	e->st.events_in++;
	ev.line = line;
	ev.slots = e->slots;
	if (buffered) {
		if (!(held = mt_event_hold(&e->pool, line, len, rs->n_slots)))
			return TL_FEED_NOMEM;
		ev.line = held->line;
		ev.slots = held->slots;
	}
	if (jd_decode(e->dec, ev.line, len, ev.slots, &jerr)) {
		snprintf(reason, cap, "invalid JSON at byte %zu: %s", jerr.off + 1, jerr.msg);
		e->st.malformed++;
		goto drop;
	}
	ev.len = len;
	ev.seq = e->seq++;
	ev.held = NULL;
	if (tf_from_value((enum tf_kind)rs->time_format, &ev.slots[rs->time_slot], &ev.ts, &terr)) {
		char path[256];
		size_t i, n = 0;

		for (i = 0; i < rs->n_time_segs && n + 2 < sizeof path; i++)
			n += (size_t)snprintf(path + n, sizeof path - n, "%s%s", i ? "." : "",
					      rs->time_segs[i]);
		snprintf(reason, cap, "no valid event time in '%s': %s", path, terr);
		e->st.malformed++;
		goto drop;
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
		result = TL_FEED_LATE;
		goto drop;
	}
	if (!e->have_time || ev.ts.us > e->max_seen)
		e->max_seen = ev.ts.us;
	e->have_time = 1;
	e->nomem = 0;
	if (!buffered) {
		process(e, &ev);
		return e->nomem ? TL_FEED_NOMEM : TL_FEED_OK;
	}
	{
		struct mt_event *c = held;

		if (jd_scratch_used(e->dec)) {
			/* strings unescaped into the decoder's scratch: a copy that holds them */
			c = mt_event_new(&e->pool, ev.line, ev.len, ev.slots, rs->n_slots, &ev.ts,
					 ev.seq);
			mt_event_release(&e->pool, held);
		} else {
			c->ts = ev.ts;
			c->seq = ev.seq;
		}
		if (!c || buf_push(e, c)) {
			if (c)
				mt_event_release(&e->pool, c);
			return TL_FEED_NOMEM;
		}
		if (buf_n(e) > e->st.peak_buffered)
			e->st.peak_buffered = buf_n(e);
	}
	/* the events the watermark has passed run now, or after the batch's last line */
	if (++e->unsynced >= e->batch)
		release_due(e);
	return e->nomem ? TL_FEED_NOMEM : TL_FEED_OK;
drop: /* a malformed or late line: its copy, if it had one, goes */
	if (held)
		mt_event_release(&e->pool, held);
	return result;
}

int tl_engine_sync(struct tl_engine *e)
{
	e->nomem = 0;
	release_due(e);
	return e->nomem ? -1 : 0;
}

int tl_engine_stop(struct tl_engine *e)
{
	e->nomem = 0;
	release(e, 0, 1);
	return e->nomem ? -1 : 0;
}

int tl_engine_finish(struct tl_engine *e)
{
	e->nomem = 0;
	release(e, 0, 1);
	fire_deadlines(e, 0, 1); /* the watermark goes to infinity */
	return e->nomem ? -1 : 0;
}

void tl_engine_stats(const struct tl_engine *e, struct tl_stats *st)
{
	*st = e->st;
	st->rules = e->rstats;
}

/* Adds the conjuncts of n (its top-level &&) that read no run to *pre, the others to *post;
 * 0 or -1. The step matches exactly when every conjunct holds (a conjunct false or unknown
 * makes the && false or unknown), so they can be evaluated apart. */
static int add_pre(const struct ex_node *n, struct conds *pre, struct conds *post)
{
	const struct ex_node **nc;
	struct conds *c = rl_reads_run(n) ? post : pre;

	if (n->kind == EX_AND)
		return add_pre(n->kids[0], pre, post) || add_pre(n->kids[1], pre, post) ? -1 : 0;
	nc = tl_realloc(c->c, (c->n + 1) * sizeof *nc);
	if (!nc)
		return -1;
	c->c = nc;
	c->c[c->n++] = n;
	return 0;
}

/* Whether condition n is a quick comparison; if so, fills *q. */
static int quick_form(const struct ex_node *n, struct quick *q)
{
	const struct ex_node *a, *b;

	if (n->kind < EX_EQ || n->kind > EX_GE)
		return 0;
	a = n->kids[0];
	b = n->kids[1];
	q->n = n;
	q->field_first = a->kind == EX_FIELD;
	if (!q->field_first) {
		b = a;
		a = n->kids[1];
	}
	if (a->kind != EX_FIELD || b->kind != EX_ALIAS || !b->read)
		return 0;
	q->slot = a->slot;
	q->read = b->read - 1;
	return 1;
}

/* Fills post->q when each of its conditions is a quick comparison: 0 or -1. */
static int make_quick(struct conds *post)
{
	size_t i;

	if (!post->n || !(post->q = tl_calloc(post->n, sizeof *post->q)))
		return post->n ? -1 : 0;
	for (i = 0; i < post->n; i++) {
		if (!quick_form(post->c[i], &post->q[i])) {
			tl_free(post->q);
			post->q = NULL;
			break;
		}
	}
	return 0;
}

/* The pre and post of every step of sequence r that reads runs, by step id. */
static int make_pre(const struct rl_rule *r, struct conds *pre, struct conds *post)
{
	size_t i;

	for (i = 0; i < r->n_seq_items; i++)
		if (r->items[i]->reads_run &&
		    (add_pre(r->items[i]->where, &pre[i], &post[i]) || make_quick(&post[i])))
			return -1;
	return 0;
}

/* Per step of sequence r, by id: the conjuncts dispatch leaves of its where (items) that read
 * no run; 0 or -1. */
static int make_pre_rest(const struct rl_rule *r, const struct dp_item *items,
			 struct conds **pre_rest)
{
	size_t i, j;

	if (!(*pre_rest = tl_calloc(r->n_seq_items, sizeof **pre_rest)))
		return -1;
	for (i = 0; i < r->n_seq_items; i++) {
		struct conds *c = &(*pre_rest)[i];

		if (!(c->c = tl_calloc(items[i].rest.n ? items[i].rest.n : 1, sizeof *c->c)))
			return -1;
		for (j = 0; j < items[i].rest.n; j++)
			if (!rl_reads_run(items[i].rest.conds[j]))
				c->c[c->n++] = items[i].rest.conds[j];
	}
	return 0;
}

static int same_key(const struct rl_rule *a, const struct rl_rule *b)
{
	return a->n_keys == b->n_keys && a->key_is_list == b->key_is_list &&
	       (!a->n_keys || memcmp(a->key_slots, b->key_slots, a->n_keys * sizeof *a->key_slots) == 0);
}

/* Whether a rule keeps state per key: all but a filter without suppress. */
static int keeps_keys(const struct rl_rule *r)
{
	return r->kind != RL_FILTER || r->suppress_us;
}

/* Whether rule r goes in space sp: one of its key with room for its state (KS_MAX_RULES); a
 * filter without suppress keeps none, and joins any of its key. */
static int joins(const struct espace *sp, const struct rl_rule *r)
{
	return same_key(sp->spec, r) && (!keeps_keys(r) || sp->ks.n_rules < KS_MAX_RULES);
}

static uint64_t key_spec_hash(const struct rl_rule *r)
{
	uint64_t h = (r->n_keys * 2 + r->key_is_list) * 0x9e3779b97f4a7c15ULL;
	size_t i;

	for (i = 0; i < r->n_keys; i++)
		h = (h ^ r->key_slots[i]) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

/* One key space per way of keying rules (found through a hash: 50,000 rules keyed 50,000 ways
 * must not take minutes); each rule with state gets its place in its space. */
static int make_spaces(struct tl_engine *e)
{
	size_t n = e->rs->n_rules, size = 16, i, j;
	uint32_t *tab; /* 1 + a space's index, by the hash of its key */

	while (size < 2 * n)
		size *= 2;
	tab = tl_calloc(size, sizeof *tab);
	e->spaces = tl_calloc(n ? n : 1, sizeof *e->spaces);
	e->hot = tl_calloc(n ? n : 1, sizeof *e->hot);
	if (!tab || !e->spaces || !e->hot) {
		tl_free(tab);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct rstate *rs = &e->rules[i];
		const struct rl_rule *r = &e->rs->rules[i];

		rs->r = r;
		for (j = key_spec_hash(r) & (size - 1); tab[j] && !joins(&e->spaces[tab[j] - 1], r);
		     j = (j + 1) & (size - 1))
			;
		if (!tab[j]) {
			struct espace *sp = &e->spaces[e->n_spaces];

			sp->spec = r;
			sp->ks.pool = &e->pool;
			sp->ks.table_bytes = &e->table_bytes;
			tab[j] = (uint32_t)++e->n_spaces;
		}
		rs->sp = &e->spaces[tab[j] - 1];
		rs->keys.space = rs->alerted.space = &rs->sp->ks;
		if (keeps_keys(r)) {
			if (!rs->sp->ks.n_rules)
				e->hot[e->n_hot++] = (uint32_t)(rs->sp - e->spaces);
			rs->keys.idx = rs->alerted.idx = rs->sp->ks.n_rules++;
		}
	}
	tl_free(tab);
	for (i = 0; i < e->n_spaces; i++)
		if (!(e->spaces[i].state_size = tl_calloc(e->spaces[i].ks.n_rules + 1, sizeof(uint32_t))))
			return -1;
	/* with many key spaces, hashing every event's keys ahead costs more than it saves; with
	 * none, there is nothing to ask for */
	e->use_hc = e->n_hot > 0 && e->n_hot <= HC_MAX_SPACES;
	return 0;
}

struct tl_engine *tl_engine_new(const struct rl_ruleset *rs, const struct tl_engine_opts *opts)
{
	struct tl_engine *e = tl_calloc(1, sizeof *e);
	int64_t shortest = 0; /* the shortest horizon of a rule with keys */
	size_t i;

	if (!e)
		return NULL;
	e->rs = rs;
	e->opts = *opts;
	e->batch = opts->batch > 1 ? opts->batch : 1;
	e->next_expire = INT64_MAX;
	if (ev_init(&e->ev))
		goto fail;
	e->dp = dp_build(rs);
	if (!e->dp)
		goto fail;
	e->dec = jd_decoder_new(rs->fields);
	e->slots = tl_calloc(rs->n_slots ? rs->n_slots : 1, sizeof *e->slots);
	e->rules = tl_calloc(rs->n_rules ? rs->n_rules : 1, sizeof *e->rules);
	e->xheap = tl_calloc(rs->n_rules ? rs->n_rules : 1, sizeof *e->xheap);
	e->rstats = tl_calloc(rs->n_rules ? rs->n_rules : 1, sizeof *e->rstats);
	if (!e->dec || !e->slots || !e->rules || !e->rstats || !e->xheap)
		goto fail;
	for (i = 0; i < rs->n_rules; i++)
		e->rules[i].xpos = -1;
	if (make_spaces(e))
		goto fail;
	for (i = 0; i < HC_SIZE; i++) {
		e->hc[i].h = tl_calloc(e->n_spaces + 1, sizeof *e->hc[i].h);
		e->hc[i].ok = tl_calloc(e->n_spaces + 1, 1);
		if (!e->hc[i].h || !e->hc[i].ok)
			goto fail;
	}
	for (i = 0; i < rs->n_rules; i++) {
		struct rstate *r = &e->rules[i];
		const struct rl_rule *rule = &rs->rules[i];

		switch (rule->kind) {
		case RL_THRESHOLD:
			/* a key that never alerted matters for its window only */
			r->horizon = rule->window_us;
			if (rule->suppress_us > rule->window_us)
				r->ahorizon = rule->suppress_us;
			break;
		case RL_SEQUENCE:
			r->horizon = rule->within_us > rule->suppress_us ? rule->within_us
									 : rule->suppress_us;
			break;
		default:
			r->horizon = rule->suppress_us;
			break;
		}
		if (rule->n_aggs || rule->n_run_aggs) {
			size_t n = rule->n_aggs > rule->n_run_aggs ? rule->n_aggs : rule->n_run_aggs;

			if (!(r->results = tl_calloc(n, sizeof *r->results)))
				goto fail;
		}
		if (rule->kind == RL_THRESHOLD) {
			size_t sz, j;

			if (!(r->wp = win_plan_new(rule)) ||
			    !(r->args = tl_calloc(rule->n_aggs + 1, sizeof *r->args)) ||
			    !(r->eval_args = tl_calloc(rule->n_aggs + 1, sizeof *r->eval_args)))
				goto fail;
			for (j = 0; j < rule->n_aggs; j++)
				if (rule->aggs[j].arg && win_arg_field(&rule->aggs[j]) < 0)
					r->eval_args[r->n_eval_args++] = (uint32_t)j;
			if (rule->when && !has_regex(rule->when))
				r->when_min = when_min(rule, rule->when);
			sz = win_block_size(r->wp);
			r->sp->state_size[r->keys.idx] = sz > 1024 ? 1024 : (uint32_t)sz;
			/* The only rule of its space keeps its window in the key's entry, right
			 * after its state: they are made and freed together anyway, and this way a
			 * key seen once (a device, say) costs one block instead of two, whose
			 * lines follow one another (on one page, mostly) and are asked for with
			 * the entry's. Not for a large window: the entry stays a pool block. */
			if (r->sp->ks.n_rules == 1 && !win_too_big(r->wp) && sz <= 512)
				r->sp->ks.extra = (uint32_t)sz;
		}
		if (rule->kind == RL_SEQUENCE) {
			r->memo = tl_malloc(rule->n_seq_items);
			r->pre = tl_calloc(rule->n_seq_items, sizeof *r->pre);
			r->post = tl_calloc(rule->n_seq_items, sizeof *r->post);
			if (!r->memo || !r->pre || !r->post || make_pre(rule, r->pre, r->post))
				goto fail;
			if ((r->items = dp_items(e->dp, i)) &&
			    make_pre_rest(rule, r->items, &r->pre_rest))
				goto fail;
			r->first = tl_calloc(2 * (size_t)rule->n_steps, sizeof *r->first);
			if (!r->first)
				goto fail;
			r->last = r->first + rule->n_steps;
		}
		if (keeps_keys(rule) &&
		    (!shortest || r->horizon < shortest))
			shortest = r->horizon;
	}
	e->xgrace = shortest / 16;
	return e;
fail:
	tl_engine_free(e);
	return NULL;
}

void tl_engine_free(struct tl_engine *e)
{
	size_t i, j;

	if (!e)
		return;
	for (i = 0; e->rules && i < e->rs->n_rules; i++) {
		struct rstate *rs = &e->rules[i];
		struct kstate *k;

		/* the pool releases the states at once; the sanitizer build frees each, so that a
		 * block lost on the way shows as a leak */
		while (!POOL_DESTROY_FREES_ALL && (k = oldest_key(rs)))
			key_free(e, rs, k);
		tl_free(rs->results);
		tl_free(rs->args);
		win_plan_free(rs->wp);
		tl_free(rs->eval_args);
		tl_free(rs->memo);
		for (j = 0; rs->pre && j < rs->r->n_seq_items; j++)
			tl_free(rs->pre[j].c);
		for (j = 0; rs->post && j < rs->r->n_seq_items; j++) {
			tl_free(rs->post[j].c);
			tl_free(rs->post[j].q);
		}
		for (j = 0; rs->pre_rest && j < rs->r->n_seq_items; j++)
			tl_free(rs->pre_rest[j].c);
		tl_free(rs->pre_rest);
		tl_free(rs->post);
		tl_free(rs->first);
		tl_free(rs->pre);
		tl_free(rs->done);
	}
	for (i = 0; i < e->n_heap; i++)
		mt_event_release(&e->pool, e->heap[i]);
	for (i = 0; i < e->ring_n; i++)
		mt_event_release(&e->pool, ring_get(e, i));
	tl_free(e->heap);
	tl_free(e->ring);
	tl_free(e->dl);
	tl_free(e->rules);
	tl_free(e->xheap);
	tl_free(e->rstats);
	tl_free(e->slots);
	ob_free(&e->out);
	ob_free(&e->text);
	for (i = 0; i < e->n_spaces; i++) {
		ks_fini(&e->spaces[i].ks);
		ob_free(&e->spaces[i].key);
		tl_free(e->spaces[i].state_size);
	}
	tl_free(e->spaces);
	tl_free(e->hot);
	for (i = 0; i < HC_SIZE; i++) {
		tl_free(e->hc[i].h);
		tl_free(e->hc[i].ok);
	}
	pool_destroy(&e->pool);
	jd_decoder_free(e->dec);
	dp_free(e->dp);
	ev_fini(&e->ev);
	tl_free(e);
}
