/* test_eval.c - expression evaluation: operators, functions, three-valued logic.
 *
 * Each case compiles `where: EXPR` and `where: !(EXPR)` and evaluates both on one event:
 * true holds for the first, false for the second, unknown for neither. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "json.h"
#include "ruleset.h"

#define T 1
#define F 0
#define U (-1)

static const char *const ev_default =
	"{\"ts\":1700000000.5,\"type\":\"txn\",\"amount\":120.5,\"n\":7,\"zero\":0,\"card\":\"c1\","
	"\"name\":\"Alice Smith\",\"flag\":true,\"off\":false,\"nul\":null,\"arr\":[1,2],"
	"\"obj\":{\"a\":1},\"geo\":{\"country\":\"NG\",\"city\":\"Lagos\"},\"ip\":\"10.1.2.3\","
	"\"ip6\":\"2001:db8::1\",\"user-agent\":\"curl/8.0\",\"s\":\"\xc3\xa9t\xc3\xa9\",\"neg\":-3}";

static const struct {
	const char *expr;
	int want;
} cases[] = {
	/* comparisons and types */
	{ "amount > 100", T }, { "amount > 200", F }, { "amount >= 120.5", T },
	{ "n == 7", T }, { "n != 7", F }, { "card == \"c1\"", T }, { "card < \"c2\"", T },
	{ "amount > \"100\"", U }, { "card == 1", U }, { "missing > 1", U },
	{ "missing == 1", U }, { "nul > 1", U }, { "flag == true", T }, { "flag", T },
	{ "off", F }, { "n", U }, { "missing", U },
	/* null and existence */
	{ "missing == null", T }, { "nul == null", T }, { "card == null", F },
	{ "missing != null", F }, { "card != null", T }, { "arr == null", F },
	{ "exists(card)", T }, { "exists(missing)", F }, { "exists(nul)", T },
	{ "exists(geo.country)", T }, { "exists(geo.zip)", F }, { "arr == 1", U },
	{ "obj == obj", U }, { "nul != 20", U }, { "nul == 20", U }, { "nul == missing", U },
	{ "missing == missing", U }, { "null == null", T }, { "nul != null", F },
	/* three-valued logic */
	{ "missing > 1 && true", U }, { "missing > 1 && false", F },
	{ "missing > 1 || true", T }, { "missing > 1 || false", U },
	{ "!(missing > 1)", U }, { "!flag", F }, { "!off", T },
	/* arithmetic */
	{ "1 + 2 * 3 == 7", T }, { "(1 + 2) * 3 == 9", T }, { "10 - 4 - 3 == 3", T },
	{ "7 % 4 == 3", T }, { "n / zero > 0", U }, { "n % zero == 0", U },
	{ "-n == -7", T }, { "-neg == 3", T }, { "amount * 2 == 241", T },
	{ "card + 1 > 0", U },
	/* lists */
	{ "geo.country in risky", T }, { "geo.country not in risky", F },
	{ "card in [\"c1\", \"c2\"]", T }, { "n in [1, 7]", T }, { "n in [\"7\"]", F },
	{ "missing in [1]", U }, { "missing not in [1]", U }, { "nul in [1]", U },
	{ "flag in [true]", T }, { "off in [true]", F },
	/* lists of short strings are searched as numbers: lengths, prefixes, longer values */
	{ "card in [\"c\", \"c10\", \"C1\"]", F }, { "card in [\"c\", \"c1\", \"c10\"]", T },
	{ "s in [\"\xc3\xa9t\", \"\xc3\xa9t\xc3\xa9\"]", T }, { "name in [\"Alice S\", \"Alice\"]", F },
	{ "`user-agent` in [\"curl/8.\", \"url/8.0\"]", F },
	{ "`user-agent` in [\"curl/8.0\", \"x\"]", T }, { "geo.country in [\"NGA\", \"N\"]", F },
	{ "geo.country not in [\"RU\", \"NG\", \"\"]", F }, { "missing in [\"NG\"]", U },
	/* strings */
	{ "name contains \"Smith\"", T }, { "name startswith \"Ali\"", T },
	{ "name endswith \"Smith\"", T }, { "name endswith \"Alice\"", F },
	{ "name contains \"\"", T }, { "n contains \"7\"", U },
	{ "name matches \"^A.*h$\"", T }, { "name matches \"^smith\"", F },
	{ "name matches \"(?i)^alice\"", T }, { "n matches \"7\"", U },
	/* lower() matched against literal strings reads its argument in place */
	{ "lower(name) matches \"alice\"", T }, { "lower(name) matches \"(bob|e s)\"", T },
	{ "lower(name) matches \"(bob|e  s)\"", F }, { "lower(name) matches \"Alice\"", F },
	{ "lower(card) matches \"c1|c2\"", T }, { "lower(s) matches \"\xc3\xa9t\"", T },
	{ "lower(n) matches \"7\"", U }, { "lower(missing) matches \"a\"", U },
	{ "name matches \"Alice|Bob\"", T }, { "name matches \"alice|bob\"", F },
	{ "`user-agent` startswith \"curl/\"", T },
	/* functions */
	{ "lower(name) == \"alice smith\"", T }, { "upper(card) == \"C1\"", T },
	{ "len(name) == 11", T }, { "len(s) == 3", T }, { "len(n) == 1", U },
	{ "abs(neg) == 3", T }, { "abs(card) == 1", U },
	{ "time() == 1700000000.5", T },
	{ "cidr(ip, \"10.0.0.0/8\")", T }, { "cidr(ip, \"10.1.2.0/24\")", T },
	{ "cidr(ip, \"11.0.0.0/8\")", F }, { "cidr(ip, \"0.0.0.0/0\")", T },
	{ "cidr(ip6, \"2001:db8::/32\")", T }, { "cidr(ip6, \"2001:db9::/32\")", F },
	{ "cidr(ip, \"2001:db8::/32\")", U }, { "cidr(card, \"10.0.0.0/8\")", U },
	{ "cidr(missing, \"10.0.0.0/8\")", U },
	/* one address against several networks, of both families (parsed once per event) */
	{ "cidr(ip, \"11.0.0.0/8\") || cidr(ip, \"10.0.0.0/8\")", T },
	{ "cidr(ip, \"2001:db8::/32\") || cidr(ip, \"10.0.0.0/8\")", T },
	{ "cidr(ip6, \"10.0.0.0/8\") || cidr(ip6, \"2001:db8::/32\")", T },
	{ "cidr(ip, \"10.0.0.0/8\") && cidr(ip6, \"2001:db8::/32\") && cidr(ip, \"10.1.0.0/16\")", T },
	{ "cidr(lower(ip), \"10.0.0.0/8\") && cidr(lower(ip6), \"2001:db8::/32\")", T },
	/* block lists: an || of cidr() over one field, judged as one */
	{ "cidr(ip, \"11.0.0.0/8\") || cidr(ip, \"12.0.0.0/8\")", F },
	{ "cidr(ip, \"2001:db8::/32\") || cidr(ip, \"11.0.0.0/8\")", U },
	{ "cidr(ip, \"11.0.0.0/8\") || cidr(ip, \"12.0.0.0/8\") || cidr(ip, \"10.1.2.3/32\")", T },
	{ "cidr(card, \"10.0.0.0/8\") || cidr(card, \"11.0.0.0/8\")", U },
	{ "cidr(missing, \"10.0.0.0/8\") || cidr(missing, \"11.0.0.0/8\")", U },
	{ "cidr(ip, \"11.0.0.0/8\") || cidr(ip6, \"2001:db8::/32\")", T },
	/* networks in a list (literal or from lists:), merged into ranges when rules load; a
	 * list is a membership test: an address of the other family is not in it */
	{ "cidr(ip, nets)", T }, { "cidr(ip6, nets)", F }, { "cidr(ip, nets6)", F },
	{ "cidr(ip6, nets6)", T }, { "cidr(ip, nets4)", T }, { "cidr(missing, nets)", U },
	{ "cidr(card, nets4)", U }, { "cidr(lower(ip), nets4)", T }, { "cidr(ip, [])", F },
	{ "cidr(card, [])", U }, { "cidr(n, nets4)", U }, { "cidr(ip6, [\"10.0.0.0/8\"])", F },
	{ "cidr(ip, [\"11.0.0.0/8\", \"12.0.0.0/8\"])", F },
	{ "cidr(ip, [\"10.1.2.4/30\", \"10.1.2.2/31\"])", T },
	{ "cidr(ip, [\"10.1.2.128/25\", \"10.1.2.0/25\"])", T },
	{ "cidr(ip, [\"10.1.2.4/30\", \"10.1.2.0/31\", \"10.1.2.8/29\"])", F },
	{ "cidr(ip, [\"10.0.0.0/8\", \"10.1.2.0/24\", \"10.1.0.0/16\"])", T },
	{ "cidr(ip, [\"9.0.0.0/8\", \"0.0.0.0/1\", \"128.0.0.0/1\"])", T },
	{ "cidr(ip, [\"255.255.255.255/32\", \"0.0.0.0/0\"])", T },
	{ "cidr(ip, [\"255.255.255.0/24\", \"10.1.2.4/32\", \"10.1.2.2/32\"])", F },
	{ "cidr(ip, [\"10.1.2.99/24\"])", T }, /* bits past the prefix are ignored */
	{ "cidr(ip6, [\"2001:db8::/128\"])", F }, { "cidr(ip6, [\"2001:db8::1/128\"])", T },
	{ "cidr(ip6, [\"2001:db8::/127\"])", T }, { "cidr(ip6, [\"2001:db8::2/127\"])", F },
	{ "cidr(ip6, [\"::/0\"])", T }, { "cidr(ip6, [\"2001:db8::/64\"])", T },
	{ "cidr(ip6, [\"2001:db8:0:0:8000::/65\"])", F },
	{ "cidr(ip6, [\"2001:db8:0:1::/64\", \"2001:db7::/32\"])", F },
	{ "cidr(ip6, [\"2001:db7::/32\", \"2001:db8::/64\", \"2001:db8:0:1::/64\"])", T },
	{ "cidr(ip, nets4) || cidr(ip, \"12.0.0.0/8\")", T },
	{ "cidr(ip, nets6) || cidr(ip, \"10.0.0.0/8\")", T },
	{ "cidr(ip, nets6) || cidr(ip, \"11.0.0.0/8\")", F },
	{ "cidr(ip, nets4) || cidr(ip, \"2001:db8::/32\")", T },
	{ "cidr(ip, [\"11.0.0.0/8\"]) || cidr(ip, \"2001:db8::/32\")", U },
	{ "cidr(ip6, [\"11.0.0.0/8\"]) || cidr(ip6, \"12.0.0.0/8\")", U },
	{ "cidr(ip6, [\"2001:db9::/32\"]) || cidr(ip6, [\"11.0.0.0/8\"])", F },
	{ "cidr(ip6, [\"11.0.0.0/8\"]) || cidr(ip6, nets6)", T },
	/* macros */
	{ "txn && big", T }, { "txn && !big", F },
};

static int eval_case(const char *expr, const char *event)
{
	char rules[2048];
	char *errtext = NULL;
	size_t errlen = 0;
	FILE *err = open_memstream(&errtext, &errlen);
	struct dg_sink sink = { err, 0, 0 };
	struct rl_ruleset *rs;
	struct jd_decoder *dec;
	struct tl_value *slots;
	struct jd_error jerr;
	struct ev_ctx ctx;
	int yes, no;

	snprintf(rules, sizeof rules,
		 "lists:\n  risky: [NG, RU]\n"
		 "  nets: [11.0.0.0/8, 10.1.0.0/16, \"2001:db9::/32\"]\n"
		 "  nets4: [11.0.0.0/8, 10.1.2.3/32]\n  nets6: [\"2001:db8::/48\"]\n"
		 "macros:\n  txn: type == \"txn\"\n  big: amount > 100\n"
		 "rules:\n"
		 "  - id: yes\n    where: |-\n      %s\n"
		 "  - id: no\n    where: |-\n      !(%s)\n",
		 expr, expr);
	rs = rl_load_mem("t.yaml", rules, strlen(rules), &sink);
	fclose(err);
	ck_assert_msg(rs != NULL, "%s: %s", expr, errtext);
	free(errtext);
	dec = jd_decoder_new(rs->fields);
	slots = calloc(rs->n_slots, sizeof *slots);
	ck_assert_int_eq(jd_decode(dec, event, strlen(event), slots, &jerr), 0);
	ck_assert_int_eq(ev_init(&ctx), 0);
	ctx.slots = slots;
	ctx.time_us = 1700000000500000LL;
	yes = ev_holds(rs->rules[0].where, &ctx);
	no = ev_holds(rs->rules[1].where, &ctx);
	ev_fini(&ctx);
	free(slots);
	jd_decoder_free(dec);
	rl_free(rs);
	ck_assert_msg(!(yes && no), "%s: both true and false", expr);
	return yes ? T : no ? F : U;
}

START_TEST(table)
{
	int got = eval_case(cases[_i].expr, ev_default);

	ck_assert_msg(got == cases[_i].want, "%s: got %d, want %d", cases[_i].expr, got,
		      cases[_i].want);
}
END_TEST

/* A rule set loaded from text, and the default event decoded for it. */
struct loaded {
	struct rl_ruleset *rs;
	struct jd_decoder *dec;
	struct tl_value *slots;
	struct ev_ctx ctx;
};

static void load_with_event(struct loaded *l, const char *rules)
{
	struct dg_sink sink = { stderr, 0, 0 };
	struct jd_error jerr;

	l->rs = rl_load_mem("t.yaml", rules, strlen(rules), &sink);
	ck_assert_msg(l->rs != NULL, "%s", rules);
	l->dec = jd_decoder_new(l->rs->fields);
	l->slots = calloc(l->rs->n_slots, sizeof *l->slots);
	ck_assert_int_eq(jd_decode(l->dec, ev_default, strlen(ev_default), l->slots, &jerr), 0);
	ck_assert_int_eq(ev_init(&l->ctx), 0);
	l->ctx.slots = l->slots;
}

static void unload(struct loaded *l)
{
	ev_fini(&l->ctx);
	free(l->slots);
	jd_decoder_free(l->dec);
	rl_free(l->rs);
}

/* The compiler marks a field or an aggregate ordered against a number literal, which the
 * evaluator then judges without its walk: both ways must agree, for values of every type. */
static int holds_both_ways(struct ex_node *n, struct ev_ctx *ctx)
{
	int fast, walked;

	ck_assert_int_eq(n->fn, 1);
	fast = ev_holds(n, ctx);
	n->fn = 0;
	walked = ev_holds(n, ctx);
	n->fn = 1;
	ck_assert_int_eq(fast, walked);
	return fast;
}

START_TEST(number_literal_shortcut_agrees_with_the_walk)
{
	static const char *const fields[] = { "amount", "n", "zero", "neg", "card", "flag",
					      "off", "nul", "arr", "obj", "missing", "geo.country" };
	static const char *const ops[] = { "<", "<=", ">", ">=" };
	static const char *const lits[] = { "-3", "0", "7", "120.5", "1e300", "-1e300" };
	static const char *const aggs[] = { "count()", "sum(amount)", "max(card)" };
	struct tl_value agg_vals[] = { { .type = TL_NUM, .num = 7 }, { .type = TL_MISSING },
				       { .type = TL_STR, .str = "7", .len = 1 } };
	size_t f, o, l, held = 0;

	for (f = 0; f < sizeof fields / sizeof *fields + sizeof aggs / sizeof *aggs; f++)
		for (o = 0; o < 4; o++)
			for (l = 0; l < sizeof lits / sizeof *lits; l++) {
				int is_agg = f >= sizeof fields / sizeof *fields;
				const char *lhs = is_agg ? aggs[f - sizeof fields / sizeof *fields]
							 : fields[f];
				char rules[512];
				struct loaded ld;
				struct ex_node *n;

				if (is_agg)
					snprintf(rules, sizeof rules,
						 "rules:\n  - id: t\n    threshold: {window: 1m, "
						 "when: \"%s %s %s\"}\n", lhs, ops[o], lits[l]);
				else
					snprintf(rules, sizeof rules,
						 "rules:\n  - id: t\n    where: \"%s %s %s\"\n",
						 lhs, ops[o], lits[l]);
				load_with_event(&ld, rules);
				n = is_agg ? ld.rs->rules[0].when : ld.rs->rules[0].where;
				if (is_agg) { /* the rule's one aggregate, given one value each */
					ck_assert_uint_eq(n->kids[0]->slot, 0);
					ld.ctx.aggs = &agg_vals[f - sizeof fields / sizeof *fields];
				}
				held += (size_t)holds_both_ways(n, &ld.ctx);
				unload(&ld);
			}
	ck_assert_uint_gt(held, 0); /* some held, some did not */
	ck_assert_uint_lt(held, 4 * 6 * (sizeof fields / sizeof *fields + 3));
}
END_TEST

/* rl_word: two strings of up to 7 bytes give the same number exactly when they are equal
 * (bytes from a small alphabet, NUL among them, so that near misses are many). */
/* Clears the compiler's mark on every || of a cidr() chain: the walk, for reference. */
static void unmark(struct ex_node *n, int fn)
{
	if (n->kind != EX_OR)
		return;
	n->fn = (uint8_t)fn;
	unmark(n->kids[0], fn);
	unmark(n->kids[1], fn);
}

/* An || of cidr() over one field is judged in one pass over the chain: as the walk judges it,
 * for addresses of both families, values that are not addresses or not strings, chains of 2
 * and 3 networks of both families, and under '!'. */
START_TEST(cidr_chain_agrees_with_the_walk)
{
	static const char *const fields[] = { "ip", "ip6", "card", "n", "nul", "missing",
					      "arr", "name", "zero" };
	static const char *const nets[] = { "10.0.0.0/8", "11.0.0.0/8", "2001:db8::/32",
					    "2001:db9::/32", "0.0.0.0/0", "10.1.2.3/32" };
	enum { NN = sizeof nets / sizeof *nets };
	size_t f, a, b, k, seen[3] = { 0 };

	for (f = 0; f < sizeof fields / sizeof *fields; f++)
		for (a = 0; a < NN; a++)
			for (b = 0; b < NN; b++)
				for (k = 0; k <= NN; k++) { /* k == NN: a chain of two */
					char expr[256], rules[640];
					struct loaded l;
					int i;

					if (k == NN)
						snprintf(expr, sizeof expr,
							 "cidr(%s, '%s') || cidr(%s, '%s')",
							 fields[f], nets[a], fields[f], nets[b]);
					else
						snprintf(expr, sizeof expr,
							 "cidr(%s, '%s') || cidr(%s, '%s') || "
							 "cidr(%s, '%s')",
							 fields[f], nets[a], fields[f], nets[b],
							 fields[f], nets[k]);
					snprintf(rules, sizeof rules,
						 "rules:\n  - id: t\n    where: \"%s\"\n"
						 "  - id: f\n    where: \"!(%s)\"\n", expr, expr);
					load_with_event(&l, rules);
					for (i = 0; i < 2; i++) {
						struct ex_node *root = l.rs->rules[i].where;
						struct ex_node *n = i ? root->kids[0] : root; /* under '!' */
						int fast, walked;

						ck_assert_msg(n->kind == EX_OR && n->fn == 1, "%s", expr);
						fast = ev_holds(root, &l.ctx);
						unmark(n, 0);
						walked = ev_holds(root, &l.ctx);
						unmark(n, 1);
						ck_assert_msg(fast == walked, "%s (rule %d): %d, walked %d",
							      expr, i, fast, walked);
					}
					/* true, false or unknown: each comes up */
					seen[ev_holds(l.rs->rules[0].where, &l.ctx) ? 0
					     : ev_holds(l.rs->rules[1].where, &l.ctx) ? 1 : 2]++;
					unload(&l);
				}
	ck_assert(seen[0] && seen[1] && seen[2]);
}
END_TEST

/* A list of networks is searched as merged ranges: against every network tried one by one,
 * for random lists of overlapping, nested and adjacent networks of both families and random
 * addresses in and around them. */
static int in_net4(uint32_t x, uint32_t net, int prefix)
{
	uint32_t mask = prefix ? UINT32_MAX << (32 - prefix) : 0;

	return (x & mask) == (net & mask);
}

START_TEST(cidr_lists_agree_with_each_network)
{
	unsigned seed = 5;
	int round;

	for (round = 0; round < 60; round++) {
		char rules[8192], event[128];
		uint32_t net[40];
		int prefix[40], n = 1 + rand_r(&seed) % 40, i, j, v6 = round % 3 == 2;
		size_t len;
		struct dg_sink sink = { stderr, 0, 0 };
		struct rl_ruleset *rs;
		struct jd_decoder *dec;
		struct tl_value *slots;
		struct jd_error jerr;
		struct ev_ctx ctx;

		/* networks in 10.0.0.0/22 (the low 32 bits of 2001:db8::/96 for IPv6) */
		len = (size_t)snprintf(rules, sizeof rules, "lists:\n  nets: [");
		for (i = 0; i < n; i++) {
			net[i] = 0x0a000000u | (uint32_t)(rand_r(&seed) % 1024);
			prefix[i] = 22 + rand_r(&seed) % 11;
			if (v6)
				len += (size_t)snprintf(rules + len, sizeof rules - len,
							"%s\"2001:db8::%x:%x/%d\"", i ? ", " : "",
							net[i] >> 16, net[i] & 0xffff, 96 + prefix[i]);
			else
				len += (size_t)snprintf(rules + len, sizeof rules - len,
							"%s\"%u.%u.%u.%u/%d\"", i ? ", " : "",
							net[i] >> 24, (net[i] >> 16) & 255,
							(net[i] >> 8) & 255, net[i] & 255, prefix[i]);
		}
		snprintf(rules + len, sizeof rules - len,
			 "]\nrules:\n  - id: t\n    where: cidr(ip, nets)\n");
		rs = rl_load_mem("t.yaml", rules, strlen(rules), &sink);
		ck_assert_msg(rs != NULL, "%s", rules);
		dec = jd_decoder_new(rs->fields);
		slots = calloc(rs->n_slots, sizeof *slots);
		ck_assert_int_eq(ev_init(&ctx), 0);
		ctx.slots = slots;
		for (j = 0; j < 300; j++) {
			/* 10.0.0.0/22 and its neighbours */
			uint32_t x = 0x0a000000u - 2 + (uint32_t)(rand_r(&seed) % 1028);
			int want = 0;

			for (i = 0; i < n; i++)
				want |= in_net4(x, net[i], prefix[i]);
			if (v6)
				snprintf(event, sizeof event, "{\"ip\":\"2001:db8::%x:%x\"}", x >> 16,
					 x & 0xffff);
			else
				snprintf(event, sizeof event, "{\"ip\":\"%u.%u.%u.%u\"}", x >> 24,
					 (x >> 16) & 255, (x >> 8) & 255, x & 255);
			ck_assert_int_eq(jd_decode(dec, event, strlen(event), slots, &jerr), 0);
			ctx.gen++;
			ck_assert_msg(ev_holds(rs->rules[0].where, &ctx) == want, "%s in %s", event,
				      rules);
		}
		ev_fini(&ctx);
		free(slots);
		jd_decoder_free(dec);
		rl_free(rs);
	}
}
END_TEST

START_TEST(short_string_words_tell_strings_apart)
{
	static const char alphabet[] = { 'a', 'b', '\0', '\xff' };
	unsigned seed = 11;
	int i;

	for (i = 0; i < 200000; i++) {
		char a[8], b[8];
		uint32_t la = (uint32_t)(rand_r(&seed) % 8), lb = (uint32_t)(rand_r(&seed) % 8), j;

		for (j = 0; j < la; j++)
			a[j] = alphabet[rand_r(&seed) % 4];
		for (j = 0; j < lb; j++)
			b[j] = rand_r(&seed) % 3 ? (j < la ? a[j] : 'a') : alphabet[rand_r(&seed) % 4];
		ck_assert_int_eq(rl_word(a, la) == rl_word(b, lb),
				 la == lb && memcmp(a, b, la) == 0);
	}
}
END_TEST

START_TEST(case_mapping_matches_a_byte_at_a_time)
{
	/* lower() and upper() map eight bytes at a time: against a plain byte loop, over strings
	 * of every length up to 40 of letters, the bytes next to them in ASCII ('@' '[' '`' '{'),
	 * digits and two-byte UTF-8 (whose bytes are not letters) */
	static const char *const parts[] = { "A", "Z", "a", "z", "M", "q", "@", "[", "`", "{",
					     "0", "9", " ", ".", "\xc3\xa9", "\xc3\x89" };
	unsigned seed = 5;
	int i;

	for (i = 0; i < 1500; i++) {
		char s[128] = "", lo[128], up[128], ev[256], expr[512];
		int n = i % 41, j;

		for (j = 0; (int)strlen(s) < n; j++)
			strcat(s, parts[rand_r(&seed) % (sizeof parts / sizeof parts[0])]);
		for (j = 0; s[j]; j++) {
			lo[j] = s[j] >= 'A' && s[j] <= 'Z' ? (char)(s[j] + 32) : s[j];
			up[j] = s[j] >= 'a' && s[j] <= 'z' ? (char)(s[j] - 32) : s[j];
		}
		lo[j] = up[j] = '\0';
		snprintf(ev, sizeof ev, "{\"ts\":1,\"name\":\"%s\"}", s);
		snprintf(expr, sizeof expr, "lower(name) == \"%s\" && upper(name) == \"%s\"", lo, up);
		ck_assert_msg(eval_case(expr, ev) == T, "%s", s);
	}
}
END_TEST

START_TEST(scratch_grows_for_long_strings)
{
	/* lower() of a string larger than the initial scratch of a fresh context */
	static char ev[20000];
	size_t n;
	int got;

	n = (size_t)snprintf(ev, sizeof ev, "{\"ts\":1,\"name\":\"");
	memset(ev + n, 'A', 10000);
	n += 10000;
	snprintf(ev + n, sizeof ev - n, "\"}");
	got = eval_case("len(lower(name)) == 10000", ev);
	ck_assert_int_eq(got, T);
}
END_TEST

/* cidr() of string ip (as an event's field) against the C library's reading of it: an
 * address exactly when inet_pton takes it, and then the same one, in its own /32 and not in
 * the one next to it. */
static void check_ipv4(const char *ip)
{
	char ev[128], net[128];
	unsigned char addr[4];
	int want = inet_pton(AF_INET, ip, addr) == 1 ? T : U;

	snprintf(ev, sizeof ev, "{\"ts\":1,\"ip\":\"%s\"}", ip);
	ck_assert_msg(eval_case("cidr(ip, \"0.0.0.0/0\")", ev) == want, "%s", ip);
	if (want != T)
		return;
	snprintf(net, sizeof net, "cidr(ip, \"%u.%u.%u.%u/32\")", addr[0], addr[1], addr[2],
		 addr[3]);
	ck_assert_msg(eval_case(net, ev) == T, "%s", ip);
	snprintf(net, sizeof net, "cidr(ip, \"%u.%u.%u.%u/32\")", addr[0], addr[1], addr[2],
		 addr[3] ^ 1u);
	ck_assert_msg(eval_case(net, ev) == F, "%s", ip);
}

START_TEST(cidr_reads_ipv4_as_inet_pton)
{
	/* dotted strings made of tricky parts: the evaluator's own IPv4 reader against the C
	 * library's */
	static const char *const parts[] = { "", "0", "00", "01", "7", "10", "099", "255",
					     "256", "1000", "12a", " 1", "-1", "+1" };
	unsigned seed = 11;
	int i;

	for (i = 0; i < 4000; i++) {
		char ip[64] = "";
		int n = 3 + rand_r(&seed) % 3, j;

		for (j = 0; j < n; j++) {
			if (j)
				strcat(ip, ".");
			strcat(ip, parts[rand_r(&seed) % (sizeof parts / sizeof parts[0])]);
		}
		check_ipv4(ip);
	}
	/* dotted strings of 3 to 5 parts of 0 to 4 digits (mostly 1 to 3), a quarter of them
	 * with one byte changed to a neighbour of a digit or a dot in ASCII ('/' and ':') or
	 * another byte an address may sit beside */
	for (i = 0; i < 4000; i++) {
		static const char odd[] = "/:a -.0";
		char ip[32];
		int parts = 3 + rand_r(&seed) % 3, j, k;
		size_t n = 0;

		for (j = 0; j < parts; j++) {
			int digits = rand_r(&seed) % 8;

			digits = digits == 0 ? 0 : digits == 7 ? 4 : 1 + digits % 3;
			if (j)
				ip[n++] = '.';
			for (k = 0; k < digits; k++)
				ip[n++] = (char)('0' + rand_r(&seed) % 10);
		}
		if (n && rand_r(&seed) % 4 == 0)
			ip[rand_r(&seed) % n] = odd[rand_r(&seed) % (sizeof odd - 1)];
		ip[n] = '\0';
		check_ipv4(ip);
	}
	/* addresses of every length, from 0.0.0.0 to 255.255.255.255: each in its own /32 and
	 * in its /24, not in the /32 next to it */
	for (i = 0; i < 600; i++) {
		unsigned a[4], j;
		char ev[128], net[128];

		for (j = 0; j < 4; j++)
			a[j] = rand_r(&seed) % 4 ? (unsigned)rand_r(&seed) % 256
						 : (unsigned)(rand_r(&seed) % 2 ? 255 : 0);
		snprintf(ev, sizeof ev, "{\"ts\":1,\"ip\":\"%u.%u.%u.%u\"}", a[0], a[1], a[2], a[3]);
		snprintf(net, sizeof net, "cidr(ip, \"%u.%u.%u.%u/32\")", a[0], a[1], a[2], a[3]);
		ck_assert_msg(eval_case(net, ev) == T, "%s", ev);
		snprintf(net, sizeof net, "cidr(ip, [\"%u.%u.%u.0/24\"])", a[0], a[1], a[2]);
		ck_assert_msg(eval_case(net, ev) == T, "%s", ev);
		snprintf(net, sizeof net, "cidr(ip, \"%u.%u.%u.%u/32\")", a[0], a[1], a[2], a[3] ^ 1u);
		ck_assert_msg(eval_case(net, ev) == F, "%s", ev);
	}
}
END_TEST

/* A condition that only asks whether cidr() holds rules an address out by its first octet,
 * before any parse: it must judge as the full evaluation does (ev_eval_top, which parses
 * every address), under '!' too, where false and unknown differ. The networks begin at
 * octets on both sides of the bitmap's word bounds (63, 64, 127, 128, 255), and the strings
 * are addresses at and beside them, near misses (256, 1000, a leading zero, no dot, a
 * blank) and IPv6 addresses, some beginning with digits, some with a dotted tail. */
START_TEST(cidr_first_octet_agrees_with_the_parse)
{
	static const char *const conds[] = {
		"cidr(ip, nets)", "!cidr(ip, nets)", "cidr(ip, nets) || cidr(ip, '10.0.0.0/8')",
		"cidr(ip, nets) && ip != 'x'", "!(cidr(ip, nets) || cidr(ip, '2001:db9::/32'))",
		"cidr(ip, '2001:db8::/32')", "!cidr(ip, '2001:db8::/32')",
		"cidr(ip, '64.0.0.0/10')", "!cidr(ip, '64.0.0.0/10')", "cidr(ip, [])",
	};
	static const char *const firsts[] = { "0", "1", "9", "10", "11", "63", "64", "65", "127",
					      "128", "129", "199", "200", "201", "202", "254",
					      "255", "256", "1000", "01", "", "a", "6a", " 64" };
	static const char *const odd[] = { "", "1", "64", "64.", "255.", "::", "::ffff:64.0.0.1",
					   "2001:db8::1", "64:0::1", "64.0.0.1 ", "64.0.0",
					   "64..0.1", "64.0.0.1.5", "0.0.0.0", "999.0.0.1",
					   "12::1", "3000::5" };
	const char *rules_fmt = "lists:\n  nets: [0.0.0.0/8, 63.255.255.0/24, 64.0.0.0/10, "
				"127.1.0.0/16, 128.0.0.0/32, 200.0.0.0/7, 255.255.255.255/32, "
				"\"2001:db8::/32\", \"12::/16\", \"3000::/16\"]\nrules:\n  - id: t\n    where: \"%s\"\n";
	unsigned seed = 17;
	size_t k, seen[2] = { 0 };

	for (k = 0; k < sizeof conds / sizeof *conds; k++) {
		char rules[512];
		struct loaded l;
		struct ex_node *where;
		struct tl_value v;
		struct jd_error jerr;
		int i;

		snprintf(rules, sizeof rules, rules_fmt, conds[k]);
		load_with_event(&l, rules);
		where = l.rs->rules[0].where;
		for (i = 0; i < 3000; i++) {
			char ip[64], event[128];
			int fast, full;

			if (i % 10 == 0) {
				snprintf(ip, sizeof ip, "%s", odd[(size_t)i / 10 % (sizeof odd / sizeof *odd)]);
			} else {
				const char *f = firsts[rand_r(&seed) % (sizeof firsts / sizeof *firsts)];
				int parts = rand_r(&seed) % 5 ? 3 : rand_r(&seed) % 5;

				snprintf(ip, sizeof ip, "%s", i % 3 ? f : "");
				if (i % 3 == 0)
					snprintf(ip, sizeof ip, "%u", (unsigned)rand_r(&seed) % 256);
				while (parts-- > 0)
					snprintf(ip + strlen(ip), sizeof ip - strlen(ip), ".%u",
						 (unsigned)rand_r(&seed) % (parts == 0 ? 260 : 256));
			}
			snprintf(event, sizeof event, "{\"ip\":\"%s\"}", ip);
			ck_assert_int_eq(jd_decode(l.dec, event, strlen(event), l.slots, &jerr), 0);
			l.ctx.gen++;
			ev_eval_top(where, &l.ctx, &v);
			full = v.type == TL_BOOL && v.b;
			l.ctx.gen++;
			fast = ev_holds(where, &l.ctx);
			ck_assert_msg(fast == full, "%s with ip \"%s\": %d, parsed %d", conds[k], ip,
				      fast, full);
			seen[fast]++;
		}
		unload(&l);
	}
	ck_assert(seen[0] > 1000 && seen[1] > 1000); /* both outcomes come up often */
}
END_TEST

/* A step's field as a condition tried on a run reads it: from the values the run keeps, when
 * the context has them (rv) and the node says which (read: 1 + its place), else from the
 * step's first or last bound event. */
static struct tl_value alias_of(struct ev_ctx *c, uint8_t fn, uint32_t step, uint32_t slot,
				uint32_t read)
{
	struct ex_node n = { .kind = EX_ALIAS, .height = 1, .fn = fn, .slot = slot, .step = step,
			     .read = read };
	struct tl_value out;

	ev_reset(c);
	ev_eval(&n, c, &out);
	return out;
}

static void expect_str(const struct tl_value *v, const char *want)
{
	ck_assert_int_eq(v->type, TL_STR);
	ck_assert_uint_eq(v->len, strlen(want));
	ck_assert(memcmp(v->str, want, v->len) == 0);
}

/* What c gives for step 0's field 1, read as a.f, first(a).f and last(a).f, and for time(a),
 * the run's values being those of reads 1 (first), 2 (last) and 3 (time). */
static void expect_step(struct ev_ctx *c, const char *first, const char *last, double t)
{
	struct tl_value v;

	v = alias_of(c, EX_ALIAS_ONLY, 0, 1, 1);
	expect_str(&v, first);
	v = alias_of(c, EX_ALIAS_FIRST, 0, 1, 1);
	expect_str(&v, first);
	v = alias_of(c, EX_ALIAS_LAST, 0, 1, 2);
	expect_str(&v, last);
	v = alias_of(c, EX_ALIAS_ONLY, 0, EX_ALIAS_TIME, 3);
	ck_assert_int_eq(v.type, TL_NUM);
	ck_assert_double_eq(v.num, t);
}

START_TEST(aliases_read_the_run_values_or_the_bound_events)
{
	struct tl_value rv[3], s1[2], s2[2], v;
	struct ev_bound first[2] = { { s1, 2500000 }, { NULL, 0 } };
	struct ev_bound last[2] = { { s2, 4000000 }, { NULL, 0 } };
	struct ev_ctx c;

	memset(rv, 0, sizeof rv);
	memset(s1, 0, sizeof s1);
	memset(s2, 0, sizeof s2);
	rv[0].type = rv[1].type = s1[1].type = s2[1].type = TL_STR;
	rv[0].str = "kept-first";
	rv[0].len = 10;
	rv[1].str = "kept-last";
	rv[1].len = 9;
	rv[2].type = TL_NUM;
	rv[2].num = 3.5;
	s1[1].str = "bound-first";
	s1[1].len = 11;
	s2[1].str = "bound-last";
	s2[1].len = 10;
	ck_assert_int_eq(ev_init(&c), 0);
	c.first = first;
	c.last = last;
	/* through the bound events */
	expect_step(&c, "bound-first", "bound-last", 2.5);
	ck_assert_int_eq(alias_of(&c, EX_ALIAS_ONLY, 1, 1, 0).type, TL_MISSING);
	/* through the values the run keeps: the same reads give them, not the events */
	c.rv = rv;
	expect_step(&c, "kept-first", "kept-last", 3.5);
	/* a node that is no condition's read (an emit's) still reads the bound events */
	v = alias_of(&c, EX_ALIAS_LAST, 0, 1, 0);
	expect_str(&v, "bound-last");
	ev_fini(&c);
}
END_TEST

START_TEST(cidr_memo_holds_within_one_event_only)
{
	/* two strings made by lower() at the same place of the scratch, in two evaluations of
	 * one event; then a field whose bytes change in place between two events */
	static const char rules[] =
		"version: 1\nrules:\n"
		"  - id: a\n    where: cidr(lower(a), \"10.0.0.0/8\")\n"
		"  - id: b\n    where: cidr(lower(b), \"10.0.0.0/8\")\n"
		"  - id: c\n    where: cidr(a, \"10.0.0.0/8\")\n";
	static const char event[] = "{\"ts\":1,\"a\":\"10.0.0.1\",\"b\":\"11.0.0.1\"}";
	struct dg_sink sink = { stderr, 0, 0 };
	struct rl_ruleset *rs;
	struct jd_decoder *dec;
	struct jd_error jerr;
	struct tl_value *slots;
	struct ev_ctx ctx;
	char line[sizeof event];

	rs = rl_load_mem("t.yaml", rules, strlen(rules), &sink);
	ck_assert_ptr_nonnull(rs);
	dec = jd_decoder_new(rs->fields);
	slots = calloc(rs->n_slots, sizeof *slots);
	memcpy(line, event, sizeof event);
	ck_assert_int_eq(jd_decode(dec, line, strlen(line), slots, &jerr), 0);
	ck_assert_int_eq(ev_init(&ctx), 0);
	ctx.slots = slots;
	ctx.gen++;
	ck_assert_int_eq(ev_holds(rs->rules[0].where, &ctx), 1);
	ck_assert_int_eq(ev_holds(rs->rules[1].where, &ctx), 0);
	ck_assert_int_eq(ev_holds(rs->rules[2].where, &ctx), 1);
	/* the next event, decoded from the same buffer: a is now 12.0.0.1 at the same place */
	line[strlen("{\"ts\":1,\"a\":\"1")] = '2';
	ck_assert_int_eq(jd_decode(dec, line, strlen(line), slots, &jerr), 0);
	ctx.gen++;
	ck_assert_int_eq(ev_holds(rs->rules[2].where, &ctx), 0);
	ev_fini(&ctx);
	free(slots);
	jd_decoder_free(dec);
	rl_free(rs);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("eval");
	TCase *tc = tcase_create("eval");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, table, 0, (int)(sizeof cases / sizeof cases[0]));
	tcase_add_test(tc, scratch_grows_for_long_strings);
	tcase_add_test(tc, cidr_reads_ipv4_as_inet_pton);
	tcase_add_test(tc, case_mapping_matches_a_byte_at_a_time);
	tcase_add_test(tc, number_literal_shortcut_agrees_with_the_walk);
	tcase_add_test(tc, short_string_words_tell_strings_apart);
	tcase_add_test(tc, cidr_chain_agrees_with_the_walk);
	tcase_add_test(tc, cidr_lists_agree_with_each_network);
	tcase_add_test(tc, cidr_first_octet_agrees_with_the_parse);
	tcase_add_test(tc, cidr_memo_holds_within_one_event_only);
	tcase_add_test(tc, aliases_read_the_run_values_or_the_bound_events);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
