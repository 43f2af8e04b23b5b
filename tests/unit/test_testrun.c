/* test_testrun.c - `tripline test`: YAML events to JSON, partial matching of alerts, and tr_run
 * over small rule files in a scratch directory (passing, failing with the exact report, errors
 * in the tests: block, events files, allocation failures). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "diag.h"
#include "ruleset.h"
#include "testrun.h"
#include "yaml_load.h"

/* ---- YAML -> JSON ---- */

/* The JSON of a YAML document (its root node). */
static char *json_of(const char *yaml)
{
	struct dg_source src;
	struct arena a = { 0 };
	struct dg_sink sink = { stderr, 0, 0 };
	struct tr_buf b = { 0 };
	struct yl_node *root;
	char *s;

	ck_assert_int_eq(dg_source_init_mem(&src, "t.yaml", yaml, strlen(yaml)), 0);
	root = yl_load(&src, &a, &sink);
	ck_assert_ptr_nonnull(root);
	ck_assert_uint_eq(sink.n_errors, 0);
	ck_assert_int_eq(tr_yaml_to_json(root, &b), 0);
	s = strdup(b.p);
	tl_free(b.p);
	arena_free(&a);
	dg_source_free(&src);
	return s;
}

static void check_json(const char *yaml, const char *want)
{
	char *got = json_of(yaml);

	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(yaml_scalars_by_core_schema)
{
	check_json("{a: 1, b: 1.50, c: 1.0, d: 1e3, e: 0x1F, f: 0o17, g: -0, h: -2.5e-3}",
		   "{\"a\":1,\"b\":1.5,\"c\":1,\"d\":1000,\"e\":31,\"f\":15,\"g\":-0,"
		   "\"h\":-0.0025}");
	check_json("{t: true, u: False, v: TRUE, n: null, m: ~, e: , x: Null}",
		   "{\"t\":true,\"u\":false,\"v\":true,\"n\":null,\"m\":null,\"e\":null,"
		   "\"x\":null}");
	/* quoted scalars are strings, whatever they look like */
	check_json("{a: \"1\", b: 'true', c: \"null\", d: '', e: \"\"}",
		   "{\"a\":\"1\",\"b\":\"true\",\"c\":\"null\",\"d\":\"\",\"e\":\"\"}");
	/* plain text that is no number, bool or null is a string */
	check_json("{a: txn, b: .inf, c: 1e400, d: 2024-01-01T00:00:00Z, e: yes, f: 1_000}",
		   "{\"a\":\"txn\",\"b\":\".inf\",\"c\":\"1e400\","
		   "\"d\":\"2024-01-01T00:00:00Z\",\"e\":\"yes\",\"f\":\"1_000\"}");
	/* integers exact up to 2^53, without fraction or exponent */
	check_json("{ts: 1700000000123, big: 9007199254740992}",
		   "{\"ts\":1700000000123,\"big\":9007199254740992}");
}
END_TEST

START_TEST(yaml_collections_and_escapes)
{
	check_json("{k: [1, [2, x], {a: b}], o: {p: {q: []}, r: {}}}",
		   "{\"k\":[1,[2,\"x\"],{\"a\":\"b\"}],\"o\":{\"p\":{\"q\":[]},\"r\":{}}}");
	/* keys are strings, in the order written */
	check_json("{z: 1, 5: 2, true: 3, \"a b\": 4, null: 5}",
		   "{\"z\":1,\"5\":2,\"true\":3,\"a b\":4,\"null\":5}");
	check_json("{s: \"tab\\there \\\"q\\\" back\\\\ \\u0001 \\u00e9\"}",
		   "{\"s\":\"tab\\there \\\"q\\\" back\\\\ \\u0001 \xc3\xa9\"}");
	check_json("s: |\n  line one\n  line two\n", "{\"s\":\"line one\\nline two\\n\"}");
	check_json("- a\n- 2\n", "[\"a\",2]");
}
END_TEST

/* ---- partial matching ---- */

static void check_match(const char *expected, const char *actual, int want_rc,
			const char *want_why)
{
	struct tr_buf why = { 0 };
	int rc = tr_match_alert(expected, actual, &why);

	ck_assert_msg(rc == want_rc, "%s against %s: got %d (%s), want %d", expected, actual, rc,
		      why.p ? why.p : "", want_rc);
	if (want_why)
		ck_assert_str_eq(why.p ? why.p : "", want_why);
	tl_free(why.p);
}

static const char *const alert =
	"{\"rule\":\"big\",\"ts\":11,\"key\":\"c1\",\"severity\":\"high\",\"start\":11,"
	"\"n\":null,\"ok\":true,"
	"\"events\":{\"event\":{\"ts\":11,\"card\":\"c1\",\"amount\":150.5,\"tags\":[\"a\",1]}}}";

START_TEST(match_fields_and_numbers)
{
	check_match("{}", alert, 1, NULL);
	check_match("{\"rule\":\"big\",\"key\":\"c1\",\"ts\":11}", alert, 1, NULL);
	check_match("{\"ts\":11.0}", alert, 1, NULL);
	check_match("{\"ts\":1.1e1}", alert, 1, NULL);
	check_match("{\"ts\":1}", "{\"ts\":1.0}", 1, NULL);
	check_match("{\"ts\":0}", "{\"ts\":-0}", 1, NULL);
	check_match("{\"ts\":12}", alert, 0, "field 'ts' is 11, expected 12");
	check_match("{\"key\":\"c2\"}", alert, 0, "field 'key' is \"c1\", expected \"c2\"");
	check_match("{\"rule\":\"big\",\"count\":3}", alert, 0,
		    "field 'count' is missing, expected 3");
	check_match("{\"n\":null,\"ok\":true}", alert, 1, NULL);
	/* types are never mixed: "11" is not 11, a missing field is not null */
	check_match("{\"ts\":\"11\"}", alert, 0, "field 'ts' is 11, expected \"11\"");
	check_match("{\"key\":1}", "{\"key\":\"1\"}", 0, "field 'key' is \"1\", expected 1");
	check_match("{\"gone\":null}", alert, 0, "field 'gone' is missing, expected null");
	check_match("{\"ok\":\"true\"}", alert, 0, "field 'ok' is true, expected \"true\"");
	check_match("{\"ok\":false}", alert, 0, "field 'ok' is true, expected false");
	check_match("{\"n\":0}", alert, 0, "field 'n' is null, expected 0");
}
END_TEST

START_TEST(match_nested_and_lists)
{
	check_match("{\"events\":{\"event\":{\"amount\":150.5}}}", alert, 1, NULL);
	check_match("{\"events\":{\"event\":{\"amount\":150}}}", alert, 0,
		    "field 'events.event.amount' is 150.5, expected 150");
	check_match("{\"events\":{\"event\":{\"country\":\"NG\"}}}", alert, 0,
		    "field 'events.event.country' is missing, expected \"NG\"");
	check_match("{\"events\":{\"step1\":{}}}", alert, 0,
		    "field 'events.step1' is missing, expected {}");
	check_match("{\"events\":{\"event\":{\"tags\":[\"a\",1.0]}}}", alert, 1, NULL);
	check_match("{\"events\":{\"event\":{\"tags\":[\"a\",2]}}}", alert, 0,
		    "field 'events.event.tags[1]' is 1, expected 2");
	check_match("{\"events\":{\"event\":{\"tags\":[\"a\"]}}}", alert, 0,
		    "field 'events.event.tags' is [\"a\",1], expected [\"a\"]");
	check_match("{\"events\":{\"event\":{\"tags\":[]}}}", alert, 0,
		    "field 'events.event.tags' is [\"a\",1], expected []");
	/* an object expected where the alert has something else, and the other way round */
	check_match("{\"key\":{\"a\":1}}", alert, 0, "field 'key' is \"c1\", expected {\"a\":1}");
	check_match("{\"events\":1}", alert, 0,
		    "field 'events' is {\"event\":{\"ts\":11,\"card\":\"c1\",\"amount\":150.5,"
		    "\"tags\":[\"a\",1]}}, expected 1");
	/* objects inside lists match partially too (an evidence window) */
	check_match("{\"events\":{\"window\":[{\"n\":1},{\"n\":2}]}}",
		    "{\"events\":{\"window\":[{\"ts\":1,\"n\":1},{\"ts\":2,\"n\":2}]}}", 1, NULL);
	check_match("{\"events\":{\"window\":[{\"n\":1},{\"n\":3}]}}",
		    "{\"events\":{\"window\":[{\"ts\":1,\"n\":1},{\"ts\":2,\"n\":2}]}}", 0,
		    "field 'events.window[1].n' is 2, expected 3");
	/* a list key */
	check_match("{\"key\":[\"c1\",5]}", "{\"key\":[\"c1\",5.0]}", 1, NULL);
}
END_TEST

START_TEST(match_strings_unescaped_and_json_errors)
{
	/* the engine quotes events verbatim: escapes are compared by what they mean */
	check_match("{\"q\":\"x\xc3\xa9\"}", "{\"q\":\"x\\u00e9\"}", 1, NULL);
	check_match("{\"q\":\"\xf0\x9f\x98\x80\"}", "{\"q\":\"\\ud83d\\ude00\"}", 1, NULL);
	check_match("{\"q\":\"a/b\\n\"}", "{\"q\":\"a\\/b\\u000a\"}", 1, NULL);
	check_match("{\"q\":\"ab\"}", "{\"q\":\"a\\u0000b\"}", 0,
		    "field 'q' is \"a\\u0000b\", expected \"ab\"");
	/* duplicate names: the last one wins, as in the decoder */
	check_match("{\"a\":2}", "{\"a\":1,\"a\":2}", 1, NULL);
	/* white space is allowed anywhere JSON allows it */
	check_match("{\"a\":[1,{\"b\":true}]}", " { \"a\" : [ 1 , { \"b\" : true } ] } ", 1, NULL);
	check_match("{\"a\":1}", "{\"a\":1", -1,
		    "actual alert is not valid JSON: expected ',' or '}'");
	check_match("{\"a\":1}", "{\"a\":01}", -1, "actual alert is not valid JSON: invalid number");
	check_match("{\"a\":1}", "{\"a\":0x1}", -1,
		    "actual alert is not valid JSON: expected ',' or '}'");
	check_match("{\"a\":1}", "{\"a\":\"\\ud800\"}", -1,
		    "actual alert is not valid JSON: invalid \\u escape");
	check_match("{\"a\":1}", "{\"a\":1} x", -1,
		    "actual alert is not valid JSON: text after the value");
	check_match("{\"a\":1}", "{\"a\":1e999}", -1,
		    "actual alert is not valid JSON: number out of range");
	check_match("{\"a\":", "{}", -1, "expected alert is not valid JSON: unexpected end");
}
END_TEST

/* ---- tr_run over files ---- */

static char *scratch;  /* the scratch directory of the current test; it is the cwd */
static char *old_cwd;

static void setup(void)
{
	char tmpl[] = "/tmp/tripline-testrun-XXXXXX";

	old_cwd = getcwd(NULL, 0);
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	scratch = strdup(tmpl);
	ck_assert_int_eq(chdir(scratch), 0);
}

static void teardown(void)
{
	char cmd[256];

	ck_assert_int_eq(chdir(old_cwd), 0);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
	ck_assert_int_eq(system(cmd), 0);
	free(scratch);
	free(old_cwd);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
	ck_assert_int_eq(fclose(f), 0);
}

struct result {
	int rc;
	char *out, *err;
	size_t out_len, err_len;
};

static void run(struct result *r, const char *const *paths, size_t n)
{
	FILE *out = open_memstream(&r->out, &r->out_len);
	FILE *err = open_memstream(&r->err, &r->err_len);

	r->rc = tr_run(paths, n, out, err);
	fclose(out);
	fclose(err);
}

static void run1(struct result *r, const char *path)
{
	run(r, &path, 1);
}

static void done(struct result *r)
{
	free(r->out);
	free(r->err);
}

static const char *const rules_head =
	"version: 1\n"
	"rules:\n"
	"  - id: big\n"
	"    key: card\n"
	"    severity: high\n"
	"    where: amount > 100\n"
	"  - id: velocity\n"
	"    key: card\n"
	"    threshold: {where: amount < 10, window: 1m, when: count() >= 3}\n";

static char *with_tests(const char *tests)
{
	size_t n = strlen(rules_head) + strlen(tests) + 1;
	char *s = malloc(n);

	snprintf(s, n, "%s%s", rules_head, tests);
	return s;
}

static void write_rules(const char *path, const char *tests)
{
	char *text = with_tests(tests);

	write_file(path, text);
	free(text);
}

START_TEST(run_passing_tests)
{
	struct result r;

	write_rules("r.yaml",
		    "tests:\n"
		    "  - name: big fires\n"
		    "    events:\n"
		    "      - {ts: 0, card: c1, amount: 500}\n"
		    "      - {ts: 1, card: c1, amount: 50}\n"
		    "    expect:\n"
		    "      - {rule: big, key: c1, ts: 0, severity: high,\n"
		    "         events: {event: {amount: 500.0}}}\n"
		    "  - name: velocity after three small ones\n"
		    "    events:\n"
		    "      - {ts: 0, card: c1, amount: 1}\n"
		    "      - {ts: 10, card: c2, amount: 1}\n"
		    "      - {ts: 20, card: c1, amount: 2}\n"
		    "      - {ts: 30, card: c1, amount: 3}\n"
		    "    expect:\n"
		    "      - {rule: velocity, key: c1, ts: 30, start: 0, count: 3}\n"
		    "  - name: quiet\n"
		    "    events: [{ts: 0, card: c1, amount: 5}]\n"
		    "    expect: []\n"
		    "  - name: no events at all\n"
		    "    events: []\n"
		    "    expect: []\n");
	run1(&r, "r.yaml");
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(r.out, "ok   r.yaml: big fires\n"
				"ok   r.yaml: velocity after three small ones\n"
				"ok   r.yaml: quiet\n"
				"ok   r.yaml: no events at all\n"
				"4 passed, 0 failed\n");
	ck_assert_int_eq(r.rc, 0);
	done(&r);
}
END_TEST

START_TEST(run_each_test_on_a_fresh_engine)
{
	struct result r;

	/* two small events in each test: a shared engine would fire velocity in the second */
	write_rules("r.yaml",
		    "tests:\n"
		    "  - name: one\n"
		    "    events: [{ts: 0, card: c1, amount: 1}, {ts: 1, card: c1, amount: 1}]\n"
		    "    expect: []\n"
		    "  - name: two\n"
		    "    events: [{ts: 2, card: c1, amount: 1}, {ts: 3, card: c1, amount: 1}]\n"
		    "    expect: []\n");
	run1(&r, "r.yaml");
	ck_assert_str_eq(r.out, "ok   r.yaml: one\nok   r.yaml: two\n2 passed, 0 failed\n");
	ck_assert_int_eq(r.rc, 0);
	done(&r);
}
END_TEST

START_TEST(run_failing_tests_report)
{
	struct result r;

	write_rules("r.yaml",
		    "tests:\n"
		    "  - name: wrong key\n"
		    "    events:\n"
		    "      - {ts: 0, card: c2, amount: 500}\n"
		    "    expect:\n"
		    "      - {rule: big, key: c1}\n"
		    "  - name: extra alert\n"
		    "    events:\n"
		    "      - {ts: 0, card: c1, amount: 500}\n"
		    "      - {ts: 1, card: c1, amount: 600}\n"
		    "    expect:\n"
		    "      - {rule: big, ts: 0}\n"
		    "  - name: missing alerts\n"
		    "    events: [{ts: 5, card: c1, amount: 500}]\n"
		    "    expect:\n"
		    "      - {rule: big, ts: 5}\n"
		    "      - {rule: big}\n"
		    "      - {rule: velocity}\n"
		    "  - name: nothing may fire\n"
		    "    events: [{ts: 5, card: c1, amount: 500}]\n"
		    "    expect: []\n"
		    "  - name: nothing fired\n"
		    "    events: [{ts: 5, card: c1, amount: 5}]\n"
		    "    expect: [{rule: big, events: {event: {card: \"c1\"}}}]\n"
		    "  - name: still passes\n"
		    "    events: [{ts: 5, card: c1, amount: 500}]\n"
		    "    expect: [{rule: big}]\n");
	run1(&r, "r.yaml");
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(
		r.out,
		"FAIL r.yaml: wrong key\n"
		"  expected: {\"rule\":\"big\",\"key\":\"c1\"}\n"
		"  actual:   {\"rule\":\"big\",\"ts\":0,\"key\":\"c2\",\"severity\":\"high\",\"start\":0,"
		"\"events\":{\"event\":{\"ts\":0,\"card\":\"c2\",\"amount\":500}}}\n"
		"  alert 1: field 'key' is \"c2\", expected \"c1\"\n"
		"FAIL r.yaml: extra alert\n"
		"  expected: {\"rule\":\"big\",\"ts\":0}\n"
		"  actual:   {\"rule\":\"big\",\"ts\":0,\"key\":\"c1\",\"severity\":\"high\",\"start\":0,"
		"\"events\":{\"event\":{\"ts\":0,\"card\":\"c1\",\"amount\":500}}}\n"
		"  actual:   {\"rule\":\"big\",\"ts\":1,\"key\":\"c1\",\"severity\":\"high\",\"start\":1,"
		"\"events\":{\"event\":{\"ts\":1,\"card\":\"c1\",\"amount\":600}}}\n"
		"  1 more alert than expected\n"
		"FAIL r.yaml: missing alerts\n"
		"  expected: {\"rule\":\"big\",\"ts\":5}\n"
		"  expected: {\"rule\":\"big\"}\n"
		"  expected: {\"rule\":\"velocity\"}\n"
		"  actual:   {\"rule\":\"big\",\"ts\":5,\"key\":\"c1\",\"severity\":\"high\",\"start\":5,"
		"\"events\":{\"event\":{\"ts\":5,\"card\":\"c1\",\"amount\":500}}}\n"
		"  2 fewer alerts than expected\n"
		"FAIL r.yaml: nothing may fire\n"
		"  expected: (no alerts)\n"
		"  actual:   {\"rule\":\"big\",\"ts\":5,\"key\":\"c1\",\"severity\":\"high\",\"start\":5,"
		"\"events\":{\"event\":{\"ts\":5,\"card\":\"c1\",\"amount\":500}}}\n"
		"  1 more alert than expected\n"
		"FAIL r.yaml: nothing fired\n"
		"  expected: {\"rule\":\"big\",\"events\":{\"event\":{\"card\":\"c1\"}}}\n"
		"  actual:   (no alerts)\n"
		"  1 fewer alert than expected\n"
		"ok   r.yaml: still passes\n"
		"1 passed, 5 failed\n");
	ck_assert_int_eq(r.rc, 1);
	done(&r);
}
END_TEST

START_TEST(run_events_file)
{
	struct result r;

	ck_assert_int_eq(mkdir("sub", 0755), 0);
	ck_assert_int_eq(mkdir("sub/cases", 0755), 0);
	write_rules("sub/r.yaml",
		    "tests:\n"
		    "  - name: from a file\n"
		    "    events_file: cases/ok.jsonl\n"
		    "    expect: [{rule: big, ts: 2}, {rule: velocity, key: c2}]\n"
		    "  - name: malformed lines fail\n"
		    "    events_file: cases/bad.jsonl\n"
		    "    expect: [{rule: big, ts: 4}]\n");
	/* blank lines, \r\n and a missing final newline, as the run command reads them */
	write_file("sub/cases/ok.jsonl", "{\"ts\":1,\"card\":\"c1\",\"amount\":1}\r\n"
					 "\n"
					 "   \n"
					 "{\"ts\":2,\"card\":\"c1\",\"amount\":200}\n"
					 "{\"ts\":3,\"card\":\"c2\",\"amount\":1}\n"
					 "{\"ts\":4,\"card\":\"c2\",\"amount\":1}\n"
					 "{\"ts\":5,\"card\":\"c2\",\"amount\":1}");
	write_file("sub/cases/bad.jsonl", "{\"ts\":1,\"card\":\n"
					  "\n"
					  "{\"card\":\"c1\",\"amount\":500}\n"
					  "{\"ts\":4,\"card\":\"c1\",\"amount\":500}\n");
	run1(&r, "sub/r.yaml");
	ck_assert_str_eq(r.err,
			 "tripline: sub/cases/bad.jsonl:1: invalid JSON at byte 16: unexpected end of line\n"
			 "tripline: sub/cases/bad.jsonl:3: no valid event time in 'ts': time field is missing\n");
	ck_assert_str_eq(
		r.out,
		"ok   sub/r.yaml: from a file\n"
		"FAIL sub/r.yaml: malformed lines fail\n"
		"  expected: {\"rule\":\"big\",\"ts\":4}\n"
		"  actual:   {\"rule\":\"big\",\"ts\":4,\"key\":\"c1\",\"severity\":\"high\",\"start\":4,"
		"\"events\":{\"event\":{\"ts\":4,\"card\":\"c1\",\"amount\":500}}}\n"
		"  malformed event: sub/cases/bad.jsonl:1: invalid JSON at byte 16: unexpected end of line\n"
		"  malformed event: sub/cases/bad.jsonl:3: no valid event time in 'ts': time field is missing\n"
		"1 passed, 1 failed\n");
	ck_assert_int_eq(r.rc, 1);
	done(&r);
}
END_TEST

START_TEST(run_events_file_long_line_and_late_events)
{
	struct result r;
	size_t n = 1024 * 1024 + 1, i;
	char *big = malloc(n + 64);
	FILE *f;

	write_file("r.yaml", "time: {lateness: 5s}\n"
			     "rules:\n"
			     "  - id: all\n"
			     "    where: \"true\"\n"
			     "tests:\n"
			     "  - name: a late event is dropped, not an error\n"
			     "    events: [{ts: 10}, {ts: 20}, {ts: 3}, {ts: 16}]\n"
			     "    expect: [{ts: 10}, {ts: 16}, {ts: 20}]\n"
			     "  - name: long line\n"
			     "    events_file: long.jsonl\n"
			     "    expect: [{ts: 2}]\n");
	/* a line one byte over the run command's default --max-line */
	memcpy(big, "{\"ts\":1,\"pad\":\"", 16);
	for (i = 16; i < n - 2; i++)
		big[i] = 'x';
	memcpy(big + n - 2, "\"}", 2);
	f = fopen("long.jsonl", "w");
	ck_assert_ptr_nonnull(f);
	fwrite(big, 1, n, f);
	fputs("\n{\"ts\":2}\n", f);
	fclose(f);
	free(big);
	run1(&r, "r.yaml");
	ck_assert_str_eq(r.err, "tripline: long.jsonl:1: line is longer than 1048576 bytes\n");
	ck_assert_str_eq(r.out, "ok   r.yaml: a late event is dropped, not an error\n"
				"FAIL r.yaml: long line\n"
				"  expected: {\"ts\":2}\n"
				"  actual:   {\"rule\":\"all\",\"ts\":2,\"start\":2,"
				"\"events\":{\"event\":{\"ts\":2}}}\n"
				"  malformed event: long.jsonl:1: line is longer than 1048576 bytes\n"
				"1 passed, 1 failed\n");
	ck_assert_int_eq(r.rc, 1);
	done(&r);
}
END_TEST

START_TEST(run_inline_event_without_time)
{
	struct result r;

	write_rules("r.yaml",
		    "tests:\n"
		    "  - name: no ts\n"
		    "    events:\n"
		    "      - {ts: 1, card: c1, amount: 500}\n"
		    "      - {card: c1, amount: 500}\n"
		    "    expect: [{rule: big}]\n");
	run1(&r, "r.yaml");
	ck_assert_str_eq(r.err,
			 "tripline: r.yaml:14: no valid event time in 'ts': time field is missing\n");
	ck_assert_str_eq(
		r.out,
		"FAIL r.yaml: no ts\n"
		"  expected: {\"rule\":\"big\"}\n"
		"  actual:   {\"rule\":\"big\",\"ts\":1,\"key\":\"c1\",\"severity\":\"high\",\"start\":1,"
		"\"events\":{\"event\":{\"ts\":1,\"card\":\"c1\",\"amount\":500}}}\n"
		"  malformed event: r.yaml:14: no valid event time in 'ts': time field is missing\n"
		"0 passed, 1 failed\n");
	ck_assert_int_eq(r.rc, 1);
	done(&r);
}
END_TEST

START_TEST(run_no_tests_and_several_files)
{
	struct result r;
	const char *paths[] = { "a.yaml", "b.yaml", "c.yaml" };

	write_rules("a.yaml", "");
	write_rules("b.yaml",
		    "tests:\n"
		    "  - name: b1\n"
		    "    events: [{ts: 0, card: c1, amount: 500}]\n"
		    "    expect: [{rule: big}]\n");
	write_rules("c.yaml", "tests: []\n");
	run(&r, paths, 3);
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(r.out, "a.yaml: no tests\n"
				"ok   b.yaml: b1\n"
				"c.yaml: no tests\n"
				"1 passed, 0 failed\n");
	ck_assert_int_eq(r.rc, 0);
	done(&r);

	/* each file is loaded on its own: the same rule ids in two files are fine */
	run(&r, paths + 1, 1);
	ck_assert_int_eq(r.rc, 0);
	done(&r);
	write_rules("a.yaml", "tests:\n"
			      "  - name: a1\n"
			      "    events: [{ts: 0, card: c1, amount: 500}]\n"
			      "    expect: []\n");
	run(&r, paths, 2);
	ck_assert_str_eq(r.out, "FAIL a.yaml: a1\n"
				"  expected: (no alerts)\n"
				"  actual:   {\"rule\":\"big\",\"ts\":0,\"key\":\"c1\",\"severity\":\"high\","
				"\"start\":0,\"events\":{\"event\":{\"ts\":0,\"card\":\"c1\","
				"\"amount\":500}}}\n"
				"  1 more alert than expected\n"
				"ok   b.yaml: b1\n"
				"1 passed, 1 failed\n");
	ck_assert_int_eq(r.rc, 1);
	done(&r);
}
END_TEST

START_TEST(run_errors_in_tests_block)
{
	struct result r;

	write_rules("r.yaml",
		    "tests:\n"
		    "  - name: fine\n"
		    "    events: []\n"
		    "    expect: []\n"
		    "  - events:\n"
		    "      - {ts: 0}\n"
		    "    expect: []\n"
		    "    extra: 1\n"
		    "  - name: both\n"
		    "    events: []\n"
		    "    events_file: x.jsonl\n"
		    "    expect: []\n"
		    "  - name: missing file\n"
		    "    events_file: nope.jsonl\n"
		    "    expect:\n"
		    "  - name: bad events\n"
		    "    events: {ts: 0}\n"
		    "  - name: bad event\n"
		    "    events: [1, {ts: 0}]\n"
		    "    expect: [x]\n"
		    "  - 5\n"
		    "  - name: [a]\n"
		    "    events_file: \"\"\n"
		    "    expect: [{rule: big}]\n"
		    "  - name: neither\n"
		    "    expect: []\n"
		    "  - name: directory\n"
		    "    events_file: .\n"
		    "    expect: []\n");
	run1(&r, "r.yaml");
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(
		r.err,
		"r.yaml:14:5: error: a test needs a name\n"
		"  - events:\n"
		"    ^\n"
		"r.yaml:17:5: error: unknown key 'extra' in a test; a test has name, events, "
		"events_file and expect\n"
		"    extra: 1\n"
		"    ^~~~~\n"
		"r.yaml:20:5: error: a test has events or events_file, not both\n"
		"    events_file: x.jsonl\n"
		"    ^~~~~~~~~~~\n"
		"r.yaml:23:18: error: cannot read events file 'nope.jsonl': No such file or directory\n"
		"    events_file: nope.jsonl\n"
		"                 ^~~~~~~~~~\n"
		"r.yaml:24:12: error: expect must be a list of expected alerts "
		"(expect: [] when none may fire)\n"
		"    expect:\n"
		"           ^\n"
		"r.yaml:25:5: error: a test needs expect: the alerts it must produce, in order "
		"(expect: [] when none may fire)\n"
		"  - name: bad events\n"
		"    ^\n"
		"r.yaml:26:13: error: events must be a list of events, each a mapping such as "
		"{ts: 0, type: txn}\n"
		"    events: {ts: 0}\n"
		"            ^\n"
		"r.yaml:28:14: error: an event must be a mapping of fields, such as {ts: 0, type: txn}\n"
		"    events: [1, {ts: 0}]\n"
		"             ^\n"
		"r.yaml:29:14: error: an expected alert must be a mapping of alert fields, such as "
		"{rule: velocity, key: c1}\n"
		"    expect: [x]\n"
		"             ^\n"
		"r.yaml:30:5: error: a test is a mapping with name, events (or events_file) and "
		"expect\n"
		"  - 5\n"
		"    ^\n"
		"r.yaml:31:11: error: a test's name must be a non-empty line of text\n"
		"  - name: [a]\n"
		"          ^\n"
		"r.yaml:32:18: error: events_file must be a file name\n"
		"    events_file: \"\"\n"
		"                 ^~\n"
		"r.yaml:34:5: error: a test needs events (a list of events) or events_file (a file of "
		"JSON lines)\n"
		"  - name: neither\n"
		"    ^\n"
		"r.yaml:37:18: error: cannot read events file '.': Is a directory\n"
		"    events_file: .\n"
		"                 ^\n"
		"r.yaml: 14 errors\n");
	ck_assert_int_eq(r.rc, 3);
	done(&r);
}
END_TEST

START_TEST(run_nothing_when_any_file_is_bad)
{
	struct result r;
	const char *paths[] = { "good.yaml", "bad.yaml", "worse.yaml" };

	write_rules("good.yaml", "tests:\n"
				 "  - name: g\n"
				 "    events: []\n"
				 "    expect: []\n");
	write_file("bad.yaml", "rules:\n"
			       "  - id: x\n"
			       "    where: amount >\n"
			       "tests:\n"
			       "  - name: never checked while the rules are bad\n");
	write_file("worse.yaml", "rules: []\ntests: {a: 1}\n");
	run(&r, paths, 3);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "bad.yaml:3:20: error: expected a value at the end of the "
				"expression\n"
				"    where: amount >\n"
				"                   ^\n"
				"bad.yaml: 1 error\n"
				"worse.yaml:2:8: error: tests must be a list of test cases\n"
				"tests: {a: 1}\n"
				"       ^\n"
				"worse.yaml: 1 error\n");
	ck_assert_int_eq(r.rc, 3);
	done(&r);

	run(&r, (const char *[]){ "missing.yaml" }, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "missing.yaml: error: cannot open: No such file or directory\n");
	ck_assert_int_eq(r.rc, 3);
	done(&r);

	run(&r, NULL, 0);
	ck_assert_str_eq(r.err, "usage: tripline test RULES...\n");
	ck_assert_int_eq(r.rc, 2);
	done(&r);
}
END_TEST

START_TEST(run_output_write_error)
{
	FILE *full = fopen("/dev/full", "w");
	char *errtext = NULL;
	size_t errlen = 0;
	FILE *err = open_memstream(&errtext, &errlen);
	const char *path = "r.yaml";

	if (!full) {
		fclose(err);
		free(errtext);
		return; /* no /dev/full here */
	}
	write_rules("r.yaml", "");
	ck_assert_int_eq(tr_run(&path, 1, full, err), 2);
	fclose(err);
	ck_assert_str_eq(errtext, "tripline: error writing output: No space left on device\n");
	fclose(full);
	free(errtext);
}
END_TEST

/* The number of allocations rl_load makes for a file. */
static unsigned long rl_load_allocations(const char *path)
{
	struct dg_sink sink = { stderr, 0, 0 };
	struct rl_ruleset *rs;
	unsigned long n;

	tl_alloc_count = 0;
	tl_alloc_fail_at = ~0ul;
	rs = rl_load(&path, 1, &sink);
	n = tl_alloc_count;
	tl_alloc_fail_at = 0;
	ck_assert_ptr_nonnull(rs);
	rl_free(rs);
	return n;
}

/* Every allocation of a whole run made to fail in turn: no crash, no leak (ASan, valgrind).
 * Those of rl_load (the second to the 1 + n_rl-th) are the rule loader's own business and
 * are tested with it (test_rules.c). */
START_TEST(run_allocation_failures_are_clean)
{
	const char *path = "sub/r.yaml";
	unsigned long n, n_rl;
	int done_all = 0;

	ck_assert_int_eq(mkdir("sub", 0755), 0);
	write_rules(path, "tests:\n"
			  "  - name: inline\n"
			  "    events: [{ts: 0, card: c1, amount: 500, tags: [a, {b: 1}]}]\n"
			  "    expect: [{rule: big, events: {event: {tags: [a, {b: 1}]}}}]\n"
			  "  - name: file\n"
			  "    events_file: e.jsonl\n"
			  "    expect: [{rule: big}]\n");
	write_file("sub/e.jsonl", "{\"ts\":0,\"card\":\"c1\",\"amount\":500}\n");
	n_rl = rl_load_allocations(path);
	for (n = 1; !done_all && n < 100000; n = n == 1 ? n_rl + 2 : n + 1) {
		struct result r;

		tl_alloc_count = 0;
		tl_alloc_fail_at = n;
		run1(&r, path);
		done_all = tl_alloc_fail_at != 0; /* the failure was never reached */
		tl_alloc_fail_at = 0;
		if (done_all) {
			ck_assert_int_eq(r.rc, 0);
			ck_assert_str_eq(r.out, "ok   sub/r.yaml: inline\nok   sub/r.yaml: file\n"
						"2 passed, 0 failed\n");
		} else {
			/* 1 too: the engine drops an event whose key it cannot build (engine.c) */
			ck_assert_msg(r.rc >= 0 && r.rc <= 3,
				      "allocation %lu: exit status %d: %s%s", n, r.rc, r.out, r.err);
		}
		done(&r);
	}
	ck_assert(done_all);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("testrun");
	TCase *conv = tcase_create("convert");
	TCase *match = tcase_create("match");
	TCase *runs = tcase_create("run");
	SRunner *sr;
	int failed;

	tcase_add_test(conv, yaml_scalars_by_core_schema);
	tcase_add_test(conv, yaml_collections_and_escapes);
	suite_add_tcase(s, conv);

	tcase_add_test(match, match_fields_and_numbers);
	tcase_add_test(match, match_nested_and_lists);
	tcase_add_test(match, match_strings_unescaped_and_json_errors);
	suite_add_tcase(s, match);

	tcase_add_checked_fixture(runs, setup, teardown);
	tcase_set_timeout(runs, 300);
	tcase_add_test(runs, run_passing_tests);
	tcase_add_test(runs, run_each_test_on_a_fresh_engine);
	tcase_add_test(runs, run_failing_tests_report);
	tcase_add_test(runs, run_events_file);
	tcase_add_test(runs, run_events_file_long_line_and_late_events);
	tcase_add_test(runs, run_inline_event_without_time);
	tcase_add_test(runs, run_no_tests_and_several_files);
	tcase_add_test(runs, run_errors_in_tests_block);
	tcase_add_test(runs, run_nothing_when_any_file_is_bad);
	tcase_add_test(runs, run_output_write_error);
	tcase_add_test(runs, run_allocation_failures_are_clean);
	suite_add_tcase(s, runs);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
