/* engine.c - the runtime: event time order, per-key state, filters, thresholds, alerts.
 *
 * Pipeline position: engine. tl_engine_feed decodes a line (parser/json), reads its time
 * (parser/timefmt), puts it in event-time order (the reorder buffer of time.lateness) and runs
 * every rule over it in rule order. Rule state lives per key in a hash table per rule, with the
 * keys of a rule kept in the order they were last touched, so that expired keys are found at
 * the head of that list in O(1) each: a key's state can matter only while
 * touched + max(window, suppress) >= now (engine/keys). Threshold windows and their
 * aggregates are engine/window; alerts are written by engine/alert.
 */
#include "tripline.h"

#include <stdio.h>
#include <string.h>

#include "alert.h"
#include "eval.h"
#include "json.h"
#include "keys.h"
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
};

struct rstate {
	const struct rl_rule *r;
	struct ktable keys;
	int64_t horizon;          /* how long after its last touch a key can still matter */
	struct tl_value *args;    /* this event's aggregate arguments */
	struct tl_value *results; /* aggregate values for when and emit */
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
	struct obuf keybuf;
	uint64_t seq;
	int64_t max_seen;    /* greatest event time taken */
	int have_time;
	int64_t now;         /* time of the event being processed */
	struct event **heap; /* reorder buffer: min-heap on (time, seq) */
	size_t n_heap, cap_heap;
};

/* ---- key states ---- */

static void key_free(struct tl_engine *e, struct rstate *rs, struct kstate *k)
{
	win_free(k->state, rs->r);
	kt_remove(&rs->keys, k);
	e->st.keys--;
}

/* Frees the keys of a rule whose state can no longer matter at e->now. */
static void expire(struct tl_engine *e, struct rstate *rs)
{
	while (rs->keys.oldest && rs->keys.oldest->touched + rs->horizon < e->now)
		key_free(e, rs, rs->keys.oldest);
}

static void evict_oldest_key(struct tl_engine *e)
{
	struct rstate *best = NULL;
	size_t i;

	for (i = 0; i < e->rs->n_rules; i++) {
		struct rstate *rs = &e->rules[i];

		if (rs->keys.oldest &&
		    (!best || rs->keys.oldest->touched < best->keys.oldest->touched))
			best = rs;
	}
	if (best) {
		key_free(e, best, best->keys.oldest);
		e->st.evicted_keys++;
	}
}

/* The state of the current key (e->keybuf) for rule rs, created when new; touched. */
static struct kstate *key_get(struct tl_engine *e, struct rstate *rs)
{
	const char *key = e->keybuf.buf ? e->keybuf.buf : "";
	uint64_t h = kt_hash(key, e->keybuf.len);
	struct kstate *k = kt_find(&rs->keys, key, e->keybuf.len, h);

	if (!k) {
		if (e->opts.max_keys && e->st.keys >= e->opts.max_keys)
			evict_oldest_key(e);
		k = kt_add(&rs->keys, key, e->keybuf.len, h);
		if (!k)
			return NULL;
		if (rs->r->kind == RL_THRESHOLD && !(k->state = win_new(&e->pool, rs->r))) {
			kt_remove(&rs->keys, k);
			return NULL;
		}
		if (++e->st.keys > e->st.peak_keys)
			e->st.peak_keys = e->st.keys;
	}
	kt_touch(&rs->keys, k, e->now);
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
	k->has_alert = 1;
	k->last_alert = e->now;
	return 0;
}

static void emit_alert(struct tl_engine *e, struct rstate *rs, const struct al_alert *a)
{
	al_write(&e->out, e->rs, a, &e->ev);
	if (e->out.oom) {
		e->out.oom = 0;
		return;
	}
	e->opts.emit(e->opts.ctx, e->out.buf, e->out.len, 1);
	e->rstats[rs->r - e->rs->rules].alerts++;
	e->st.alerts++;
}

static void run_filter(struct tl_engine *e, struct rstate *rs, const struct event *ev)
{
	struct kstate *k = NULL;
	struct al_alert a = { rs->r, &ev->ts, e->keybuf.buf, e->keybuf.len, &ev->ts, NULL,
			      ev->line, ev->len };

	if (!ev_holds(rs->r->where, &e->ev))
		return;
	if (rs->r->suppress_us && !(k = key_get(e, rs)))
		return;
	if (!suppressed(e, rs, k))
		emit_alert(e, rs, &a);
}

static void run_threshold(struct tl_engine *e, struct rstate *rs, const struct event *ev)
{
	const struct rl_rule *r = rs->r;
	struct kstate *k;
	struct window *w;
	size_t i;

	if (r->where && !ev_holds(r->where, &e->ev))
		return;
	k = key_get(e, rs);
	if (!k)
		return;
	w = k->state;
	win_evict_before(w, r, e->now - r->window_us);
	for (i = 0; i < r->n_aggs; i++) {
		rs->args[i].type = TL_MISSING;
		if (r->aggs[i].arg)
			ev_eval_top(r->aggs[i].arg, &e->ev, &rs->args[i]);
	}
	if (win_push(w, r, &ev->ts, rs->args, ev->line, ev->len))
		return;
	win_results(w, r, rs->results);
	e->ev.aggs = rs->results;
	if (ev_holds(r->when, &e->ev)) {
		struct al_alert a = { r, &ev->ts, k->key, k->key_len, win_time(w, 0), w, NULL, 0 };

		if (!suppressed(e, rs, k))
			emit_alert(e, rs, &a);
		/* fired (even when suppressed): the window's events are consumed */
		win_clear(w, r);
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
		ob_line(&e->out, ev->line, ev->len);
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
		r->keys.pool = &e->pool;
		r->horizon = rule->suppress_us;
		if (rule->kind == RL_THRESHOLD && rule->window_us > r->horizon)
			r->horizon = rule->window_us;
		if (rule->n_aggs) {
			r->results = tl_calloc(rule->n_aggs, sizeof *r->results);
			r->args = tl_calloc(rule->n_aggs, sizeof *r->args);
			if (!r->results || !r->args)
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

		while (rs->keys.oldest)
			key_free(e, rs, rs->keys.oldest);
		kt_fini(&rs->keys);
		tl_free(rs->results);
		tl_free(rs->args);
	}
	for (i = 0; i < e->n_heap; i++)
		tl_free(e->heap[i]);
	tl_free(e->heap);
	tl_free(e->rules);
	tl_free(e->rstats);
	tl_free(e->slots);
	ob_free(&e->out);
	ob_free(&e->keybuf);
	pool_destroy(&e->pool);
	jd_decoder_free(e->dec);
	ev_fini(&e->ev);
	tl_free(e);
}
