/* test_alert.c - the alert writer: field order, time formats, keys, emit, evidence. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "json.h"

static struct rl_ruleset *load(const char *text)
{
	FILE *err = fopen("/dev/null", "w");
	struct dg_sink sink = { err, 0, 0 };
	struct rl_ruleset *rs = rl_load_mem("a.yaml", text, strlen(text), &sink);

	fclose(err);
	ck_assert_ptr_nonnull(rs);
	return rs;
}

/* Writes the alert of rule 0 for one event; returns the line (static). */
static const char *write_one(const char *rules, const char *event, const char *key,
			     const struct tf_stamp *ts)
{
	static char line[4096];
	struct rl_ruleset *rs = load(rules);
	struct jd_decoder *dec = jd_decoder_new(rs->fields);
	struct tl_value *slots = calloc(rs->n_slots, sizeof *slots);
	struct jd_error jerr;
	struct ev_ctx ctx;
	struct obuf b = { 0 }, scratch = { 0 };
	struct al_alert a = { &rs->rules[0], ts, key, key ? strlen(key) : 0, ts, NULL, event,
			      strlen(event) , NULL };

	ck_assert_int_eq(jd_decode(dec, event, strlen(event), slots, &jerr), 0);
	ck_assert_int_eq(ev_init(&ctx), 0);
	ctx.slots = slots;
	ctx.time_us = ts->us;
	al_write(&b, &scratch, rs, &a, &ctx);
	ck_assert(!b.oom);
	ck_assert_uint_lt(b.len, sizeof line);
	memcpy(line, b.buf, b.len);
	line[b.len] = '\0';
	ob_free(&b);
	ob_free(&scratch);
	ev_fini(&ctx);
	free(slots);
	jd_decoder_free(dec);
	rl_free(rs);
	return line;
}

START_TEST(filter_alert)
{
	struct tf_stamp ts = { .us = 1700000000000000LL, .kind = TF_EPOCH_S };

	ck_assert_str_eq(write_one("rules:\n  - id: r\n    key: card\n    severity: low\n"
				   "    where: true\n"
				   "    emit: {a: \"{{ amount * 2 }}\", b: \"x={{ nope }};y={{ card }}\","
				   " c: \"{{ nope }}\", d: 1.50, e: \"{{ tags }}\"}\n",
				   "  {\"ts\":1700000000,\"card\":\"c\\\"1\",\"amount\":2.25,\"tags\":[1, 2]} ",
				   "\"c\\\"1\"", &ts),
			 "{\"rule\":\"r\",\"ts\":1700000000,\"key\":\"c\\\"1\",\"severity\":\"low\","
			 "\"start\":1700000000,\"a\":4.5,\"b\":\"x=;y=c\\\"1\",\"c\":null,\"d\":1.5,"
			 "\"e\":[1, 2],\"events\":{\"event\":{\"ts\":1700000000,\"card\":\"c\\\"1\","
			 "\"amount\":2.25,\"tags\":[1, 2]}}}\n");
}
END_TEST

START_TEST(global_rule_and_nested_rfc3339_time)
{
	struct tf_stamp ts = { .us = 1704067205500000LL, .kind = TF_RFC3339, .frac_digits = 1,
			       .offset_min = 120 };

	ck_assert_str_eq(write_one("time: {field: meta.at}\nrules:\n  - id: g\n    where: true\n",
				   "{\"meta\":{\"at\":\"2024-01-01T02:00:05.5+02:00\"}}", NULL, &ts),
			 "{\"rule\":\"g\",\"meta\":{\"at\":\"2024-01-01T02:00:05.5+02:00\"},"
			 "\"start\":\"2024-01-01T02:00:05.5+02:00\","
			 "\"events\":{\"event\":{\"meta\":{\"at\":\"2024-01-01T02:00:05.5+02:00\"}}}}\n");
}
END_TEST

START_TEST(epoch_ms_with_fraction)
{
	struct tf_stamp ts = { .us = 1700000000123500LL, .kind = TF_EPOCH_MS };

	ck_assert_str_eq(write_one("rules:\n  - id: m\n    key: [a, b]\n    where: true\n",
				   "{\"ts\":1700000000123.5,\"a\":1,\"b\":\"x\"}", "[1,\"x\"]", &ts),
			 "{\"rule\":\"m\",\"ts\":1700000000123.5,\"key\":[1,\"x\"],"
			 "\"start\":1700000000123.5,"
			 "\"events\":{\"event\":{\"ts\":1700000000123.5,\"a\":1,\"b\":\"x\"}}}\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("alert");
	TCase *tc = tcase_create("alert");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, filter_alert);
	tcase_add_test(tc, global_rule_and_nested_rfc3339_time);
	tcase_add_test(tc, epoch_ms_with_fraction);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
