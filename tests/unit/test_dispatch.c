/* test_dispatch.c - the rules an event is tried against: the guard read off each rule's
 * conditions, the field chosen, and what is left of a where past its guard. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "eval.h"
#include "json.h"
#include "ruleset.h"

static const char *const rules_text =
	"macros:\n"
	"  txn: type == \"txn\"\n"
	"rules:\n"
	"  - id: r0\n"                                   /* guarded: txn */
	"    where: txn && amount > 10\n"
	"  - id: r1\n"                                   /* guarded: txn, decline */
	"    key: card\n"
	"    threshold: {where: 'type in [\"txn\", \"decline\"]', window: 1m, when: count() > 1}\n"
	"  - id: r2\n"                                   /* unguarded: || with another test */
	"    where: type == \"login\" || amount > 1000\n"
	"  - id: r3\n"                                   /* guarded by its steps: login, 2fa */
	"    key: user\n"
	"    sequence:\n"
	"      - {as: a, where: type == \"login\"}\n"
	"      - {not: true, where: type == \"2fa\" && a.ip != ip}\n"
	"    within: 1m\n"
	"  - id: r4\n"                                   /* strict: every event matters */
	"    key: user\n"
	"    sequence:\n"
	"      - {where: type == \"login\"}\n"
	"      - {where: type == \"payout\"}\n"
	"    within: 1m\n"
	"    contiguity: strict\n"
	"  - id: r5\n"                                   /* no event can pass: && of two types */
	"    where: type == \"txn\" && type == \"decline\"\n"
	"  - id: r6\n"                                   /* another field: country is not chosen */
	"    where: country == \"NG\"\n";

static struct rl_ruleset *rs;
static struct dp_index *dp;
static struct jd_decoder *dec;
static struct tl_value *slots;

static void setup(void)
{
	struct dg_sink sink = { stderr, 0, 0 };

	rs = rl_load_mem("d.yaml", rules_text, strlen(rules_text), &sink);
	ck_assert_ptr_nonnull(rs);
	dp = dp_build(rs);
	ck_assert_ptr_nonnull(dp);
	dec = jd_decoder_new(rs->fields);
	slots = calloc(rs->n_slots, sizeof *slots);
	ck_assert_ptr_nonnull(dec);
	ck_assert_ptr_nonnull(slots);
}

static void teardown(void)
{
	free(slots);
	jd_decoder_free(dec);
	dp_free(dp);
	rl_free(rs);
}

/* The rules listed for an event, as text such as "0 1 2 4 6". */
static const char *listed(const char *event, const struct dp_rest **rest)
{
	static char buf[128];
	struct jd_error err;
	const uint32_t *r;
	size_t n, i, at = 0;
	uint32_t lit;

	ck_assert_int_eq(jd_decode(dec, event, strlen(event), slots, &err), 0);
	r = dp_rules(dp, slots, &n, rest, &lit);
	buf[0] = '\0';
	for (i = 0; i < n; i++)
		at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%u", i ? " " : "", r[i]);
	return buf;
}

START_TEST(type_is_the_field)
{
	/* r6's country == "NG" guards one rule, type guards five */
	const struct ex_node *type = rs->rules[2].where->kids[0]->kids[0];
	const struct ex_node *country = rs->rules[6].where->kids[0];

	ck_assert_int_eq(type->kind, EX_FIELD);
	ck_assert_int_eq(country->kind, EX_FIELD);
	ck_assert_int_eq(dp_field(dp), (int64_t)type->slot);
}
END_TEST

START_TEST(lists_by_value)
{
	const struct dp_rest *rest;

	/* unguarded: r2, r4, r6; plus each value's guarded rules, in rule order */
	ck_assert_str_eq(listed("{\"ts\":1,\"type\":\"txn\"}", &rest), "0 1 2 4 6");
	ck_assert_str_eq(listed("{\"ts\":1,\"type\":\"decline\"}", &rest), "1 2 4 6");
	ck_assert_str_eq(listed("{\"ts\":1,\"type\":\"login\"}", &rest), "2 3 4 6");
	ck_assert_str_eq(listed("{\"ts\":1,\"type\":\"2fa\"}", &rest), "2 3 4 6");
	ck_assert_ptr_nonnull(rest);
	/* a string no rule names: the unguarded rules */
	ck_assert_str_eq(listed("{\"ts\":1,\"type\":\"refund\"}", &rest), "2 4 6");
	ck_assert_ptr_nonnull(rest);
	/* not a string (a guard speaks of strings only): every rule, nothing known */
	ck_assert_str_eq(listed("{\"ts\":1,\"type\":5}", &rest), "0 1 2 3 4 5 6");
	ck_assert_ptr_null(rest);
	ck_assert_str_eq(listed("{\"ts\":1}", &rest), "0 1 2 3 4 5 6");
	ck_assert_ptr_null(rest);
}
END_TEST

START_TEST(rest_of_where)
{
	const struct dp_rest *rest;
	struct ev_ctx ctx;

	listed("{\"ts\":1,\"type\":\"txn\",\"amount\":20}", &rest);
	/* r0: txn is known; amount > 10 is left */
	ck_assert_uint_eq(rest[0].n, 1);
	ck_assert_int_eq(ev_init(&ctx), 0);
	ctx.slots = slots;
	ck_assert_int_eq(ev_holds(rest[0].conds[0], &ctx), 1);
	ev_fini(&ctx);
	/* r1: its where is nothing but its guard */
	ck_assert_uint_eq(rest[1].n, 0);
	/* r2: not guarded, all of it is left */
	ck_assert_uint_eq(rest[2].n, 1);
	ck_assert_ptr_eq(rest[2].conds[0], rs->rules[2].where);
}
END_TEST

/* The item of rule i at step id j that an event of this text's type may pass: 1 or 0. */
static int may(const char *event, size_t i, size_t j)
{
	const struct dp_rest *rest;
	uint32_t lit;
	struct jd_error err;
	size_t n;

	ck_assert_int_eq(jd_decode(dec, event, strlen(event), slots, &err), 0);
	dp_rules(dp, slots, &n, &rest, &lit);
	ck_assert_ptr_nonnull(rest);
	return dp_item_may(&dp_items(dp, i)[j], lit);
}

START_TEST(sequence_items)
{
	const struct dp_item *r3 = dp_items(dp, 3), *r4 = dp_items(dp, 4);

	/* filters and thresholds have no items */
	ck_assert_ptr_null(dp_items(dp, 0));
	ck_assert_ptr_null(dp_items(dp, 1));
	ck_assert_ptr_nonnull(r3);
	ck_assert_ptr_nonnull(r4);
	/* r3: the first step is its guard alone; the not step keeps its test on the run */
	ck_assert_uint_eq(r3[0].rest.n, 0);
	ck_assert_uint_eq(r3[1].rest.n, 1);
	ck_assert_int_eq(r3[1].rest.conds[0]->kind, EX_NE);
	ck_assert_int_eq(may("{\"type\":\"login\"}", 3, 0), 1);
	ck_assert_int_eq(may("{\"type\":\"login\"}", 3, 1), 0);
	ck_assert_int_eq(may("{\"type\":\"2fa\"}", 3, 0), 0);
	ck_assert_int_eq(may("{\"type\":\"2fa\"}", 3, 1), 1);
	/* r4 is strict, so no rule is listed by "payout": its step's guard is known all the same */
	ck_assert_int_eq(may("{\"type\":\"payout\"}", 4, 1), 1);
	ck_assert_int_eq(may("{\"type\":\"payout\"}", 4, 0), 0);
	/* a type no guard names passes no guarded step */
	ck_assert_int_eq(may("{\"type\":\"refund\"}", 3, 0), 0);
	ck_assert_int_eq(may("{\"type\":\"refund\"}", 4, 1), 0);
}
END_TEST

START_TEST(unguarded_items)
{
	static const char *const text =
		"rules:\n"
		"  - id: s\n    key: u\n    sequence:\n"
		"      - {as: a, where: 'type == \"x\" || amount > 5'}\n"
		"      - {where: 'type in [\"y\", \"z\"] && amount > a.amount'}\n"
		"    within: 1m\n";
	struct dg_sink sink = { stderr, 0, 0 };
	struct rl_ruleset *r2 = rl_load_mem("u.yaml", text, strlen(text), &sink);
	struct dp_index *d2;
	const struct dp_item *it;

	ck_assert_ptr_nonnull(r2);
	d2 = dp_build(r2);
	ck_assert_ptr_nonnull(d2);
	it = dp_items(d2, 0);
	ck_assert_ptr_nonnull(it);
	/* an || with another test guards nothing: any value may pass, all of it is left */
	ck_assert_ptr_null(it[0].lits);
	ck_assert_int_eq(dp_item_may(&it[0], DP_NO_LIT), 1);
	ck_assert_uint_eq(it[0].rest.n, 1);
	ck_assert_ptr_eq(it[0].rest.conds[0], r2->rules[0].steps[0].where);
	/* in [y, z]: a value no guard names fails it */
	ck_assert_ptr_nonnull(it[1].lits);
	ck_assert_int_eq(dp_item_may(&it[1], DP_NO_LIT), 0);
	ck_assert_uint_eq(it[1].rest.n, 1);
	dp_free(d2);
	rl_free(r2);
}
END_TEST

START_TEST(no_guard_runs_everything)
{
	static const char *const text =
		"rules:\n  - id: a\n    where: amount > 1\n  - id: b\n    where: exists(x)\n";
	struct dg_sink sink = { stderr, 0, 0 };
	struct rl_ruleset *r2 = rl_load_mem("n.yaml", text, strlen(text), &sink);
	struct dp_index *d2;
	const struct dp_rest *rest;
	const uint32_t *list;
	size_t n;
	uint32_t lit;

	ck_assert_ptr_nonnull(r2);
	d2 = dp_build(r2);
	ck_assert_ptr_nonnull(d2);
	ck_assert_int_eq(dp_field(d2), -1);
	list = dp_rules(d2, slots, &n, &rest, &lit);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(list[0], 0);
	ck_assert_uint_eq(list[1], 1);
	ck_assert_ptr_null(rest);
	dp_free(d2);
	rl_free(r2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dispatch");
	TCase *tc = tcase_create("dispatch");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, type_is_the_field);
	tcase_add_test(tc, lists_by_value);
	tcase_add_test(tc, rest_of_where);
	tcase_add_test(tc, sequence_items);
	tcase_add_test(tc, unguarded_items);
	tcase_add_test(tc, no_guard_runs_everything);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
