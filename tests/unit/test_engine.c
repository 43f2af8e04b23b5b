/* test_engine.c - the engine through its public interface: filters, thresholds, windows,
 * suppress, the reorder buffer, key expiry, and a differential test of the incremental window
 * aggregates against a naive rescan. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json.h"
#include "ruleset.h"
#include "tripline.h"

struct capture {
	char *buf;
	size_t len, cap;
	int n_alerts;
};

static void emit(void *ctx, const char *line, size_t len, int is_alert)
{
	struct capture *c = ctx;

	if (c->len + len + 1 > c->cap) {
		c->cap = (c->len + len + 1) * 2;
		c->buf = realloc(c->buf, c->cap);
	}
	memcpy(c->buf + c->len, line, len);
	c->len += len;
	c->buf[c->len] = '\0';
	c->n_alerts += is_alert;
}

struct run {
	struct rl_ruleset *rs;
	struct tl_engine *e;
	struct capture out;
	char *errtext;
	size_t errlen;
};

/* An engine with options o (their emit and ctx are the run's). */
static void start_opts(struct run *r, const char *rules, struct tl_engine_opts o)
{
	FILE *err = open_memstream(&r->errtext, &r->errlen);
	struct dg_sink sink = { err, 0, 0 };

	o.emit = emit;
	o.ctx = &r->out;
	memset(&r->out, 0, sizeof r->out);
	r->rs = rl_load_mem("t.yaml", rules, strlen(rules), &sink);
	fclose(err);
	ck_assert_msg(r->rs != NULL, "rules failed to load: %s", r->errtext);
	r->e = tl_engine_new(r->rs, &o);
	ck_assert_ptr_nonnull(r->e);
}

static void start(struct run *r, const char *rules, int passthrough, uint64_t max_keys)
{
	struct tl_engine_opts o = { .passthrough = passthrough, .max_keys = max_keys };

	start_opts(r, rules, o);
}

static enum tl_feed feed(struct run *r, const char *line)
{
	char reason[256];

	return tl_engine_feed(r->e, line, strlen(line), reason, sizeof reason);
}

static void stop(struct run *r)
{
	tl_engine_free(r->e);
	rl_free(r->rs);
	free(r->out.buf);
	free(r->errtext);
}

START_TEST(filter_alert_shape)
{
	struct run r;

	start(&r, "rules:\n"
		  "  - id: big\n"
		  "    severity: high\n"
		  "    key: card\n"
		  "    where: amount > 100\n"
		  "    emit: {amt: \"{{ amount }}\", note: \"card {{ card }}\", n: 3}\n",
	      0, 0);
	ck_assert_int_eq(feed(&r, "{\"ts\":10,\"card\":\"c1\",\"amount\":50}"), TL_FEED_OK);
	ck_assert_int_eq(feed(&r, " {\"ts\":11,\"card\":\"c1\",\"amount\":150} "), TL_FEED_OK);
	ck_assert_int_eq(feed(&r, "{\"ts\":12,\"amount\":150}"), TL_FEED_OK); /* no key */
	tl_engine_finish(r.e);
	ck_assert_str_eq(r.out.buf,
			 "{\"rule\":\"big\",\"ts\":11,\"key\":\"c1\",\"severity\":\"high\",\"start\":11,"
			 "\"amt\":150,\"note\":\"card c1\",\"n\":3,"
			 "\"events\":{\"event\":{\"ts\":11,\"card\":\"c1\",\"amount\":150}}}\n");
	stop(&r);
}
END_TEST

START_TEST(threshold_inclusive_window_and_consume)
{
	struct run r;

	start(&r, "rules:\n"
		  "  - id: v\n"
		  "    key: k\n"
		  "    threshold: {window: 10s, when: count() >= 3}\n",
	      0, 0);
	feed(&r, "{\"ts\":0,\"k\":1}");
	feed(&r, "{\"ts\":5,\"k\":1}");
	feed(&r, "{\"ts\":10,\"k\":1}"); /* span equal to the window: inside */
	feed(&r, "{\"ts\":11,\"k\":1}"); /* window was consumed: count 1 */
	feed(&r, "{\"ts\":12,\"k\":1}");
	feed(&r, "{\"ts\":23,\"k\":1}"); /* 11 and 12 are out: count 1 */
	tl_engine_finish(r.e);
	ck_assert_str_eq(r.out.buf,
			 "{\"rule\":\"v\",\"ts\":10,\"key\":1,\"start\":0,\"count\":3}\n");
	stop(&r);
}
END_TEST

START_TEST(suppress_drops_but_consumes)
{
	struct run r;
	struct tl_stats st;

	start(&r, "rules:\n"
		  "  - id: v\n"
		  "    threshold: {window: 1m, when: count() >= 2}\n"
		  "    suppress: 30s\n",
	      0, 0);
	feed(&r, "{\"ts\":0}");
	feed(&r, "{\"ts\":1}");  /* fires */
	feed(&r, "{\"ts\":2}");
	feed(&r, "{\"ts\":3}");  /* fires, suppressed, consumed */
	feed(&r, "{\"ts\":4}");  /* count 1 */
	feed(&r, "{\"ts\":31}"); /* count 2 at 31: 30s after 1 -> still suppressed */
	feed(&r, "{\"ts\":40}");
	feed(&r, "{\"ts\":41}"); /* 40s after the written alert: written */
	tl_engine_finish(r.e);
	ck_assert_str_eq(r.out.buf, "{\"rule\":\"v\",\"ts\":1,\"start\":0,\"count\":2}\n"
				    "{\"rule\":\"v\",\"ts\":41,\"start\":40,\"count\":2}\n");
	tl_engine_stats(r.e, &st);
	ck_assert_uint_eq(st.rules[0].alerts, 2);
	ck_assert_uint_eq(st.rules[0].suppressed, 2);
	stop(&r);
}
END_TEST

START_TEST(reorder_buffer_and_late)
{
	struct run r;
	struct tl_stats st;

	start(&r, "time: {lateness: 5s}\n"
		  "rules:\n"
		  "  - id: all\n"
		  "    where: true\n",
	      1, 0);
	ck_assert_int_eq(feed(&r, "{\"ts\":10,\"n\":1}"), TL_FEED_OK);
	ck_assert_int_eq(feed(&r, "{\"ts\":8,\"n\":2}"), TL_FEED_OK);
	ck_assert_int_eq(feed(&r, "{\"ts\":10,\"n\":3}"), TL_FEED_OK);
	ck_assert_str_eq(r.out.buf ? r.out.buf : "", ""); /* all held: watermark is 5 */
	ck_assert_int_eq(feed(&r, "{\"ts\":16,\"n\":4}"), TL_FEED_OK); /* watermark 11 */
	ck_assert_int_eq(feed(&r, "{\"ts\":10,\"n\":5}"), TL_FEED_LATE);
	ck_assert_int_eq(feed(&r, "{\"ts\":11,\"n\":6}"), TL_FEED_OK); /* equal: not late */
	tl_engine_finish(r.e);
	/* passthrough lines and alerts, in (time, arrival) order */
	ck_assert_int_eq(r.out.n_alerts, 5);
	ck_assert_ptr_nonnull(strstr(r.out.buf, "{\"ts\":8,\"n\":2}\n{\"rule\""));
	{
		const char *p2 = strstr(r.out.buf, "{\"ts\":8,\"n\":2}\n");
		const char *p1 = strstr(r.out.buf, "{\"ts\":10,\"n\":1}\n");
		const char *p3 = strstr(r.out.buf, "{\"ts\":10,\"n\":3}\n");
		const char *p6 = strstr(r.out.buf, "{\"ts\":11,\"n\":6}\n");
		const char *p4 = strstr(r.out.buf, "{\"ts\":16,\"n\":4}\n");

		ck_assert(p2 && p1 && p3 && p6 && p4);
		ck_assert(p2 < p1 && p1 < p3 && p3 < p6 && p6 < p4);
	}
	tl_engine_stats(r.e, &st);
	ck_assert_uint_eq(st.late, 1);
	ck_assert_uint_eq(st.processed, 5);
	ck_assert_uint_eq(st.peak_buffered, 4); /* 8, 10, 10 held, then 16 enters before release */
	stop(&r);
}
END_TEST

/* The reorder buffer against a sort: events mostly in order, some behind by up to more than
 * the lateness (late, or held in order among the rest), many equal times; what comes out is
 * every event that was not late, by time, then arrival. */
static int by_time_then_arrival(const void *a, const void *b)
{
	const long *x = a, *y = b;

	return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

START_TEST(reorder_buffer_matches_a_sort)
{
	enum { N = 20000 };
	static long want[N][2];
	struct run r;
	unsigned seed = 5;
	long t = 1000, max_seen = 0;
	size_t n_want = 0, i;
	int have = 0;
	const char *p;

	start(&r, "time: {lateness: 20s}\n"
		  "rules:\n"
		  "  - id: none\n"
		  "    where: n < 0\n",
	      1, 0);
	for (i = 0; i < N; i++) {
		char line[64];
		long ts;
		int pick = rand_r(&seed) % 10;

		t += rand_r(&seed) % 3; /* forward by 0 to 2 seconds: equal times are common */
		ts = pick < 7 ? t : t - rand_r(&seed) % 26; /* 3 in 10 behind, by 0 to 25 s */
		snprintf(line, sizeof line, "{\"ts\":%ld,\"n\":%zu}", ts, i);
		if (have && ts < max_seen - 20) {
			ck_assert_int_eq(feed(&r, line), TL_FEED_LATE);
			continue;
		}
		ck_assert_int_eq(feed(&r, line), TL_FEED_OK);
		if (!have || ts > max_seen)
			max_seen = ts;
		have = 1;
		want[n_want][0] = ts;
		want[n_want][1] = (long)i;
		n_want++;
	}
	tl_engine_finish(r.e);
	qsort(want, n_want, sizeof want[0], by_time_then_arrival);
	ck_assert_uint_gt(n_want, N / 2);
	ck_assert_uint_lt(n_want, N);
	p = r.out.buf;
	for (i = 0; i < n_want; i++) {
		long ts, n;

		ck_assert_ptr_nonnull(p);
		ck_assert_int_eq(sscanf(p, "{\"ts\":%ld,\"n\":%ld}", &ts, &n), 2);
		ck_assert_msg(ts == want[i][0] && n == want[i][1], "event %zu: got %ld/%ld, want %ld/%ld",
			      i, ts, n, want[i][0], want[i][1]);
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	ck_assert(!p || !*p);
	stop(&r);
}
END_TEST

/* A batch of lines runs later, to the same output: fed the same stream, out of order and with
 * late lines, an engine with a batch of 16 has written nothing while its first batch is not
 * full, and after each tl_engine_sync (at lines the batches do not end on) exactly what the
 * engine without a batch has written by then. */
START_TEST(batches_run_later_to_the_same_output)
{
	static const char rules[] = "time: {lateness: 10s}\n"
				    "rules:\n"
				    "  - id: big\n"
				    "    key: card\n"
				    "    where: amount > 90\n"
				    "  - id: many\n"
				    "    key: card\n"
				    "    threshold: {window: 30s, when: count() >= 3}\n";
	struct tl_engine_opts batched = { .passthrough = 1, .batch = 16 };
	struct run one, many;
	unsigned seed = 11;
	long t = 100;
	int i, late = 0;

	start(&one, rules, 1, 0);
	start_opts(&many, rules, batched);
	for (i = 0; i < 2000; i++) {
		char line[96];
		long ts;
		enum tl_feed f;

		t += rand_r(&seed) % 4;
		ts = rand_r(&seed) % 5 ? t : t - rand_r(&seed) % 15; /* 1 in 5 up to 14 s behind */
		snprintf(line, sizeof line, "{\"ts\":%ld,\"card\":\"c%d\",\"amount\":%d}", ts,
			 rand_r(&seed) % 7, rand_r(&seed) % 100);
		f = feed(&one, line);
		ck_assert_int_eq(feed(&many, line), f);
		late += f == TL_FEED_LATE;
		if (i == 14) {
			ck_assert_uint_gt(one.out.len, 0);
			ck_assert_uint_eq(many.out.len, 0);
		}
		if (i % 37 == 5) {
			ck_assert_int_eq(tl_engine_sync(many.e), 0);
			ck_assert_uint_eq(many.out.len, one.out.len);
			ck_assert_str_eq(many.out.len ? many.out.buf : "", one.out.len ? one.out.buf : "");
		}
	}
	ck_assert_int_gt(late, 0);
	ck_assert_int_eq(tl_engine_finish(one.e), 0);
	ck_assert_int_eq(tl_engine_finish(many.e), 0);
	ck_assert_int_gt(one.out.n_alerts, 100);
	ck_assert_int_eq(many.out.n_alerts, one.out.n_alerts);
	ck_assert_str_eq(many.out.buf, one.out.buf);
	stop(&one);
	stop(&many);
}
END_TEST

/* A sync that runs out of memory while the batch's events run says so. */
START_TEST(sync_reports_memory_running_out)
{
	struct tl_engine_opts batched = { .batch = 64 };
	struct run r;

	start_opts(&r, "time: {lateness: 1s}\n"
		       "rules:\n"
		       "  - id: many\n"
		       "    key: card\n"
		       "    threshold: {window: 1m, when: count() >= 2}\n",
		   batched);
	ck_assert_int_eq(feed(&r, "{\"ts\":1,\"card\":\"a\"}"), TL_FEED_OK);
	ck_assert_int_eq(feed(&r, "{\"ts\":5,\"card\":\"b\"}"), TL_FEED_OK);
	tl_alloc_fail_at = 1; /* the next allocation: for card a's state */
	ck_assert_int_eq(tl_engine_sync(r.e), -1);
	tl_alloc_fail_at = 0;
	ck_assert_int_eq(tl_engine_finish(r.e), 0);
	stop(&r);
}
END_TEST

/* Events held by the reorder buffer are the engine's own copies: their values (escaped strings
 * too) and their lines, bound by runs, outlive the caller's buffer, and copies of lines that
 * turn out malformed or late are given back (the sanitizer and valgrind runs check that). */
START_TEST(held_events_are_copies)
{
	static const char *lines[] = {
		"{\"ts\":10,\"type\":\"a\",\"card\":\"c1\",\"note\":\"tab\\there \\u00e9\"}",
		"{\"ts\":11,\"type\":\"a\",\"card\":",                /* malformed */
		"{\"ts\":12,\"type\":\"b\",\"card\":\"c\\u0031\",\"note\":\"plain\"}",
		"{\"type\":\"b\",\"card\":\"c1\"}",                   /* no time */
		"{\"ts\":30,\"type\":\"x\"}",                         /* watermark 25 */
		"{\"ts\":20,\"type\":\"b\",\"card\":\"c1\"}",          /* late */
	};
	static const enum tl_feed want[] = { TL_FEED_OK, TL_FEED_MALFORMED, TL_FEED_OK,
					     TL_FEED_MALFORMED, TL_FEED_OK, TL_FEED_LATE };
	struct run r;
	char buf[256], reason[256];
	size_t i;

	start(&r, "time: {lateness: 5s}\n"
		  "rules:\n"
		  "  - id: ab\n"
		  "    key: card\n"
		  "    sequence:\n"
		  "      - {as: a, where: type == \"a\"}\n"
		  "      - {as: b, where: type == \"b\" && note != a.note}\n"
		  "    within: 1m\n"
		  "    emit: {first: \"{{ a.note }}\", card: \"{{ b.card }}\"}\n",
	      0, 0);
	for (i = 0; i < sizeof lines / sizeof *lines; i++) {
		size_t n = strlen(lines[i]);

		memcpy(buf, lines[i], n);
		ck_assert_int_eq(tl_engine_feed(r.e, buf, n, reason, sizeof reason), want[i]);
		memset(buf, 'x', sizeof buf); /* the caller's buffer is reused */
	}
	tl_engine_finish(r.e);
	ck_assert_int_eq(r.out.n_alerts, 1);
	ck_assert_str_eq(r.out.buf,
			 "{\"rule\":\"ab\",\"ts\":12,\"key\":\"c1\",\"start\":10,"
			 "\"first\":\"tab\\there \u00e9\",\"card\":\"c1\",\"events\":{\"a\":"
			 "{\"ts\":10,\"type\":\"a\",\"card\":\"c1\",\"note\":\"tab\\there \\u00e9\"},"
			 "\"b\":{\"ts\":12,\"type\":\"b\",\"card\":\"c\\u0031\",\"note\":\"plain\"}}}\n");
	stop(&r);
}
END_TEST

START_TEST(malformed_reasons)
{
	struct run r;
	char reason[256];

	start(&r, "rules:\n  - id: a\n    where: true\n", 0, 0);
	ck_assert_int_eq(tl_engine_feed(r.e, "{\"ts\":1,", 8, reason, sizeof reason),
			 TL_FEED_MALFORMED);
	ck_assert_ptr_nonnull(strstr(reason, "invalid JSON at byte"));
	ck_assert_int_eq(tl_engine_feed(r.e, "{\"x\":1}", 7, reason, sizeof reason),
			 TL_FEED_MALFORMED);
	ck_assert_str_eq(reason, "no valid event time in 'ts': time field is missing");
	ck_assert_int_eq(tl_engine_feed(r.e, "[1]", 3, reason, sizeof reason), TL_FEED_MALFORMED);
	stop(&r);
}
END_TEST

START_TEST(keys_expire_and_are_capped)
{
	struct run r;
	struct tl_stats st;
	char line[64];
	int i;

	start(&r, "rules:\n"
		  "  - id: v\n"
		  "    key: k\n"
		  "    threshold: {window: 10s, when: count() >= 100}\n",
	      0, 0);
	for (i = 0; i < 1000; i++) {
		snprintf(line, sizeof line, "{\"ts\":%d,\"k\":\"k%d\"}", i, i);
		feed(&r, line);
	}
	tl_engine_stats(r.e, &st);
	/* keys touched within the last 10s (inclusive) are alive; older ones are freed, at most
	 * a sixteenth of the window late */
	ck_assert_uint_le(st.keys, 12);
	ck_assert_uint_ge(st.keys, 10);
	stop(&r);

	start(&r, "rules:\n"
		  "  - id: v\n"
		  "    key: k\n"
		  "    threshold: {window: 1h, when: count() >= 100}\n",
	      0, 50);
	for (i = 0; i < 1000; i++) {
		snprintf(line, sizeof line, "{\"ts\":%d,\"k\":\"k%d\"}", i, i);
		feed(&r, line);
	}
	tl_engine_stats(r.e, &st);
	ck_assert_uint_eq(st.keys, 50);
	ck_assert_uint_eq(st.evicted_keys, 950);
	stop(&r);

	/* a key that alerted is kept for the suppress, the others for the window only, also when
	 * one of them comes after the alerted key and alone in its list */
	start(&r, "rules:\n"
		  "  - id: v\n"
		  "    key: k\n"
		  "    threshold: {window: 10s, when: count() >= 2}\n"
		  "    suppress: 1000s\n",
	      0, 0);
	feed(&r, "{\"ts\":0,\"k\":\"a\"}");
	feed(&r, "{\"ts\":1,\"k\":\"a\"}"); /* alerts: a is kept until 1001 */
	/* at 20, expiry first finds nothing due but a, at 1001; then b comes, due at 30 */
	feed(&r, "{\"ts\":20,\"k\":\"b\"}");
	ck_assert_int_eq(r.out.n_alerts, 1);
	feed(&r, "{\"ts\":100,\"k\":\"c\"}");
	tl_engine_stats(r.e, &st);
	ck_assert_uint_eq(st.keys, 2); /* a and c */
	feed(&r, "{\"ts\":1100,\"k\":\"c\"}");
	tl_engine_stats(r.e, &st);
	ck_assert_uint_eq(st.keys, 1); /* c, touched again */
	stop(&r);
}
END_TEST

/* ---- differential: incremental aggregates versus a naive rescan ---- */

struct nev {
	long t;
	int has_v, has_g;
	long v;
	int g;
};

static void naive_format(char *out, size_t cap, const char *id, int key, long t,
			 const struct nev *win, int n)
{
	long sum = 0, mn = 0, mx = 0;
	int nv = 0, i, j, distinct = 0;
	char s[40], a[40], smin[40], smax[40];

	for (i = 0; i < n; i++) {
		if (win[i].has_v) {
			if (!nv || win[i].v < mn)
				mn = win[i].v;
			if (!nv || win[i].v > mx)
				mx = win[i].v;
			sum += win[i].v;
			nv++;
		}
		if (win[i].has_g) {
			for (j = 0; j < i; j++)
				if (win[j].has_g && win[j].g == win[i].g)
					break;
			distinct += j == i;
		}
	}
	s[jd_format_number((double)sum, s)] = '\0';
	if (nv) {
		a[jd_format_number((double)sum / nv, a)] = '\0';
		smin[jd_format_number((double)mn, smin)] = '\0';
		smax[jd_format_number((double)mx, smax)] = '\0';
	} else {
		strcpy(a, "null");
		strcpy(smin, "null");
		strcpy(smax, "null");
	}
	snprintf(out, cap,
		 "{\"rule\":\"%s\",\"ts\":%ld,\"key\":%d,\"start\":%ld,\"count\":%d,\"c\":%d,"
		 "\"s\":%s,\"a\":%s,\"mn\":%s,\"mx\":%s,\"d\":%d}\n",
		 id, t, key, win[0].t, n, n, s, a, smin, smax, distinct);
}

static int naive_when(int kind, int param, const struct nev *win, int n)
{
	long sum = 0, mn = 0, mx = 0;
	int nv = 0, i, j, distinct = 0;

	for (i = 0; i < n; i++) {
		if (win[i].has_v) {
			if (!nv || win[i].v < mn)
				mn = win[i].v;
			if (!nv || win[i].v > mx)
				mx = win[i].v;
			sum += win[i].v;
			nv++;
		}
		if (win[i].has_g) {
			for (j = 0; j < i; j++)
				if (win[j].has_g && win[j].g == win[i].g)
					break;
			distinct += j == i;
		}
	}
	switch (kind) {
	case 0: return n >= param;
	case 1: return distinct >= param;
	case 2: return sum >= param;
	default: return nv && mx - mn >= param;
	}
}

START_TEST(aggregates_match_naive_rescan)
{
	static const char *whens[] = { "count() >= %d", "distinct(g) >= %d", "sum(v) >= %d",
				       "max(v) - min(v) >= %d" };
	unsigned seed = 12345;
	int trial;

	for (trial = 0; trial < 300; trial++) {
		struct run r;
		char rules[1024], when[64], line[128], want_line[512];
		int kind, param, window, n_events, i, n_keys;
		struct nev *wins[4];
		int wn[4] = { 0 };
		char *want = calloc(1, 1 << 20);
		size_t want_len = 0;
		long t = 0;

		kind = rand_r(&seed) % 4;
		param = kind == 0 ? 2 + rand_r(&seed) % 6 : kind == 1 ? 1 + rand_r(&seed) % 4
						: kind == 2 ? rand_r(&seed) % 60 : rand_r(&seed) % 15;
		window = 1 + rand_r(&seed) % 20;
		n_events = 20 + rand_r(&seed) % 200;
		n_keys = 1 + rand_r(&seed) % 4;
		snprintf(when, sizeof when, whens[kind], param);
		snprintf(rules, sizeof rules,
			 "rules:\n"
			 "  - id: r\n"
			 "    key: k\n"
			 "    threshold: {window: %ds, when: \"%s\"}\n"
			 "    emit: {c: \"{{ count() }}\", s: \"{{ sum(v) }}\", a: \"{{ avg(v) }}\","
			 " mn: \"{{ min(v) }}\", mx: \"{{ max(v) }}\", d: \"{{ distinct(g) }}\"}\n",
			 window, when);
		start(&r, rules, 0, 0);
		for (i = 0; i < 4; i++)
			wins[i] = calloc((size_t)n_events, sizeof *wins[i]);
		for (i = 0; i < n_events; i++) {
			struct nev ev = { 0 };
			int k = rand_r(&seed) % n_keys, n = 0, j;
			char *p = line;

			t += rand_r(&seed) % 4; /* ties are common */
			ev.t = t;
			ev.has_v = rand_r(&seed) % 5 != 0;
			ev.v = (long)(rand_r(&seed) % 21) - 5;
			ev.has_g = rand_r(&seed) % 4 != 0;
			ev.g = rand_r(&seed) % 5;
			p += sprintf(p, "{\"ts\":%ld,\"k\":%d", t, k);
			if (ev.has_v)
				p += sprintf(p, ",\"v\":%ld", ev.v);
			else if (rand_r(&seed) % 2)
				p += sprintf(p, ",\"v\":\"text\"");
			if (ev.has_g)
				p += sprintf(p, ",\"g\":\"g%d\"", ev.g);
			sprintf(p, "}");
			ck_assert_int_eq(feed(&r, line), TL_FEED_OK);
			/* the reference: rescan the key's window */
			for (j = 0; j < wn[k]; j++)
				if (wins[k][j].t >= t - window)
					wins[k][n++] = wins[k][j];
			wins[k][n++] = ev;
			wn[k] = n;
			if (naive_when(kind, param, wins[k], n)) {
				naive_format(want_line, sizeof want_line, "r", k, t, wins[k], n);
				memcpy(want + want_len, want_line, strlen(want_line) + 1);
				want_len += strlen(want_line);
				wn[k] = 0;
			}
		}
		tl_engine_finish(r.e);
		ck_assert_msg(strcmp(r.out.buf ? r.out.buf : "", want) == 0,
			      "trial %d (%s, window %ds):\nwant:\n%s\ngot:\n%s", trial, when, window,
			      want, r.out.buf ? r.out.buf : "");
		for (i = 0; i < 4; i++)
			free(wins[i]);
		free(want);
		stop(&r);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("engine");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, filter_alert_shape);
	tcase_add_test(tc, threshold_inclusive_window_and_consume);
	tcase_add_test(tc, suppress_drops_but_consumes);
	tcase_add_test(tc, reorder_buffer_and_late);
	tcase_add_test(tc, reorder_buffer_matches_a_sort);
	tcase_add_test(tc, batches_run_later_to_the_same_output);
	tcase_add_test(tc, sync_reports_memory_running_out);
	tcase_add_test(tc, held_events_are_copies);
	tcase_add_test(tc, malformed_reasons);
	tcase_add_test(tc, keys_expire_and_are_capped);
	tcase_add_test(tc, aggregates_match_naive_rescan);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
