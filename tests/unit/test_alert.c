/* test_alert.c - the alert writer: field order, time formats, keys, emit, evidence. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "keys.h"
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

/* Writes the alert of rule 0 for one event; returns the line (static). With key, the key
 * is made from the event's fields as the engine makes it, and must read back as key (its
 * JSON text). */
static const char *write_one(const char *rules, const char *event, const char *key,
			     const struct tf_stamp *ts)
{
	static char line[4096];
	struct rl_ruleset *rs = load(rules);
	struct jd_decoder *dec = jd_decoder_new(rs->fields);
	struct tl_value *slots = calloc(rs->n_slots, sizeof *slots);
	struct jd_error jerr;
	struct ev_ctx ctx;
	struct obuf b = { 0 }, scratch = { 0 }, kb = { 0 };
	struct al_alert a = { &rs->rules[0], ts, NULL, 0, ts, NULL, event, strlen(event), NULL };

	ck_assert_int_eq(jd_decode(dec, event, strlen(event), slots, &jerr), 0);
	if (key) {
		const struct rl_rule *r = &rs->rules[0];

		ck_assert_int_eq(kv_encode(&kb, slots, r->key_slots, r->n_keys), 0);
		a.key = kb.buf;
		a.key_len = kb.len;
		ob_lit(&scratch, "");
		kv_json(&scratch, kb.buf, kb.len, r->key_is_list);
		ck_assert_uint_eq(scratch.len, strlen(key));
		ck_assert_int_eq(memcmp(scratch.buf, key, scratch.len), 0);
		scratch.len = 0;
	}
	ck_assert_int_eq(ev_init(&ctx), 0);
	ctx.slots = slots;
	ctx.time_us = ts->us;
	al_write(&b, &scratch, rs, &a, &ctx);
	ck_assert(!b.oom);
	ck_assert_uint_lt(b.len, sizeof line);
	memcpy(line, b.buf, b.len);
	line[b.len] = '\0';
	ob_free(&b);
	ob_free(&kb);
	ob_free(&scratch);
	ev_fini(&ctx);
	free(slots);
	jd_decoder_free(dec);
	rl_free(rs);
	return line;
}

/* The output buffer: nothing put into an empty one (a template part with no text, which has
 * no bytes at all) leaves it empty, and room for nothing is still a place to write. */
START_TEST(buffer_takes_nothing_then_something)
{
	struct obuf b = { 0 };
	char *p;

	ob_put(&b, NULL, 0);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(b.oom, 0);
	p = ob_room(&b, 0);
	ck_assert_ptr_nonnull(p);
	ob_put(&b, "ab", 2);
	ob_put(&b, NULL, 0);
	ob_lit(&b, "c");
	ck_assert_uint_eq(b.len, 3);
	ck_assert(memcmp(b.buf, "abc", 3) == 0);
	ob_free(&b);
}
END_TEST

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

START_TEST(keys_of_every_type)
{
	/* the key bytes of numbers, -0, booleans and escaped strings read back as JSON, and equal
	 * values give equal bytes */
	static const char rules[] = "rules:\n  - id: k\n    key: [n, z, t, f, s, big]\n"
				    "    where: true\n";
	struct rl_ruleset *rs = load(rules);
	const struct rl_rule *r = &rs->rules[0];
	struct jd_decoder *dec = jd_decoder_new(rs->fields);
	struct tl_value *slots = calloc(rs->n_slots, sizeof *slots);
	struct jd_error jerr;
	struct obuf k1 = { 0 }, k2 = { 0 }, text = { 0 };
	static const char e1[] =
		"{\"n\":2.5,\"z\":-0,\"t\":true,\"f\":false,\"s\":\"a\\\"\\u00e9\\n\",\"big\":1e300}";
	static const char e2[] =
		"{\"big\":1E300,\"n\":25e-1,\"z\":0.0,\"t\":true,\"f\":false,\"s\":\"a\\\"\u00e9\\n\"}";

	ck_assert_int_eq(jd_decode(dec, e1, strlen(e1), slots, &jerr), 0);
	ck_assert_int_eq(kv_encode(&k1, slots, r->key_slots, r->n_keys), 0);
	kv_json(&text, k1.buf, k1.len, r->key_is_list);
	ob_lit(&text, "");
	ck_assert_uint_eq(text.len, strlen("[2.5,0,true,false,\"a\\\"\u00e9\\n\",1e300]"));
	ck_assert_int_eq(memcmp(text.buf, "[2.5,0,true,false,\"a\\\"\u00e9\\n\",1e300]", text.len),
			 0);
	ck_assert_int_eq(jd_decode(dec, e2, strlen(e2), slots, &jerr), 0);
	ck_assert_int_eq(kv_encode(&k2, slots, r->key_slots, r->n_keys), 0);
	ck_assert_uint_eq(k1.len, k2.len);
	ck_assert_int_eq(memcmp(k1.buf, k2.buf, k1.len), 0);
	/* a key field that is missing, null, an array or an object: no key */
	ck_assert_int_eq(jd_decode(dec, "{\"n\":[1]}", 9, slots, &jerr), 0);
	k2.len = 0;
	ck_assert_int_eq(kv_encode(&k2, slots, r->key_slots, r->n_keys), -1);
	ck_assert_uint_eq(k2.len, 0);
	ob_free(&k1);
	ob_free(&k2);
	ob_free(&text);
	free(slots);
	jd_decoder_free(dec);
	rl_free(rs);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("alert");
	TCase *tc = tcase_create("alert");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, buffer_takes_nothing_then_something);
	tcase_add_test(tc, filter_alert);
	tcase_add_test(tc, global_rule_and_nested_rfc3339_time);
	tcase_add_test(tc, epoch_ms_with_fraction);
	tcase_add_test(tc, keys_of_every_type);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
