/* test_rules.c - the rule loader and compiler: schema, names, several files, failures. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ruleset.h"

static char *errtext;
static size_t errlen;

static struct rl_ruleset *load_text(const char *text)
{
	FILE *err = open_memstream(&errtext, &errlen);
	struct dg_sink sink = { err, 0, 0 };
	struct rl_ruleset *rs;

	free(errtext);
	errtext = NULL;
	rs = rl_load_mem("r.yaml", text, strlen(text), &sink);
	fclose(err);
	return rs;
}

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/tripline-rules-XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static const char *const full =
	"version: 1\n"
	"time: {field: meta.when, format: epoch_ms, lateness: 1m30s}\n"
	"lists:\n  risky: [NG, RU, 7, true]\n"
	"macros:\n  txn: type == \"txn\"\n  big: txn && amount > 1000\n"
	"rules:\n"
	"  - id: f1\n    description: d\n    severity: high\n    key: card\n"
	"    where: big && country in risky\n    suppress: 1h\n"
	"    emit: {a: 1, b: true, c: null, d: \"{{ amount }}\", e: \"x {{ card }} y\"}\n"
	"  - id: t-1\n    key: [card, merchant]\n"
	"    threshold: {where: txn, window: 1d, when: \"count() >= 3 && sum(amount) > 10\"}\n"
	"    evidence: true\n"
	"tests:\n  - name: one\n  - name: two\n";

START_TEST(full_file_compiles)
{
	struct rl_ruleset *rs = load_text(full);

	ck_assert_msg(rs != NULL, "%s", errtext);
	ck_assert_uint_eq(rs->n_rules, 2);
	ck_assert_uint_eq(rs->n_lists, 1);
	ck_assert_uint_eq(rs->n_macros, 2);
	ck_assert_uint_eq(rs->n_tests, 2);
	ck_assert_int_eq(rs->time_format, TF_EPOCH_MS);
	ck_assert_int_eq(rs->lateness_us, 90000000);
	ck_assert_uint_eq(rs->n_time_segs, 2);
	ck_assert_str_eq(rs->time_segs[1], "when");
	ck_assert_int_eq(rs->rules[0].kind, RL_FILTER);
	ck_assert_str_eq(rs->rules[0].severity, "high");
	ck_assert_int_eq(rs->rules[0].suppress_us, 3600000000LL);
	ck_assert_uint_eq(rs->rules[0].n_emits, 5);
	ck_assert_int_eq(rs->rules[0].emits[0].kind, RL_EMIT_JSON);
	ck_assert_int_eq(rs->rules[0].emits[3].kind, RL_EMIT_EXPR);
	ck_assert_int_eq(rs->rules[0].emits[4].kind, RL_EMIT_TEMPLATE);
	ck_assert_int_eq(rs->rules[1].kind, RL_THRESHOLD);
	ck_assert_uint_eq(rs->rules[1].n_keys, 2);
	ck_assert_int_eq(rs->rules[1].key_is_list, 1);
	ck_assert_int_eq(rs->rules[1].window_us, 86400000000LL);
	ck_assert_uint_eq(rs->rules[1].n_aggs, 2);
	ck_assert_int_eq(rs->rules[1].evidence, 1);
	rl_free(rs);
}
END_TEST

START_TEST(every_error_is_reported)
{
	struct rl_ruleset *rs = load_text("rules:\n"
					  "  - id: A\n    where: x > 1\n"
					  "  - id: b\n    where: x in nope\n"
					  "  - id: c\n    threshold: {window: 1m}\n"
					  "  - id: d\n    where: \"1 + 'a' > 2\"\n");

	ck_assert_ptr_null(rs);
	ck_assert_ptr_nonnull(strstr(errtext, "r.yaml:2:9: error: a rule id is made of"));
	ck_assert_ptr_nonnull(strstr(errtext, "r.yaml:5:17: error: unknown list 'nope'"));
	ck_assert_ptr_nonnull(strstr(errtext, "r.yaml:7:16: error: threshold needs a when"));
	ck_assert_ptr_nonnull(strstr(errtext, "r.yaml:9:13: error: type error: '+' needs numbers"));
	ck_assert_ptr_nonnull(strstr(errtext, "r.yaml: 4 errors\n"));
}
END_TEST

/* cidr() takes a network, a list of them or a list from lists:; each bad network is reported
 * where it is written (in lists:, once however many rules use the list). */
START_TEST(cidr_network_lists)
{
	struct rl_ruleset *rs = load_text(
		"lists:\n  good: [10.0.0.0/8, \"2001:db8::/32\"]\n"
		"  bad: [10.0.0.0/8, 10.0.0.0/33, 7, \"1.2.3.4\"]\n"
		"rules:\n"
		"  - id: a\n    where: cidr(ip, good) || cidr(ip, [\"1.2.3.0/24\"])\n"
		"  - id: b\n    where: cidr(ip, bad)\n"
		"  - id: c\n    where: cidr(ip, bad) && cidr(ip, nope)\n"
		"  - id: d\n    where: cidr(ip, [\"1.2.3.0/24\", 7, \"300.0.0.0/8\"])\n"
		"  - id: e\n    where: cidr(ip, 7)\n");

	ck_assert_ptr_null(rs);
	ck_assert_ptr_nonnull(strstr(errtext, "r.yaml:3:21: error: invalid network \"10.0.0.0/33\" "
					      "in list 'bad', used by cidr(): expected an address/prefix"));
	ck_assert_ptr_nonnull(strstr(errtext, "r.yaml:3:34: error: invalid network \"7\" in list"));
	ck_assert_ptr_nonnull(strstr(errtext, "r.yaml:3:37: error: invalid network \"1.2.3.4\" in list"));
	ck_assert_ptr_nonnull(strstr(errtext, "r.yaml:10:38: error: unknown list 'nope'"));
	ck_assert_ptr_nonnull(strstr(errtext, "r.yaml:12:36: error: cidr() needs networks in string "
					      "literals"));
	ck_assert_ptr_nonnull(strstr(errtext, "r.yaml:12:39: error: invalid network \"300.0.0.0/8\""));
	ck_assert_ptr_nonnull(strstr(errtext, "r.yaml:14:21: error: cidr() needs a network in a string "
					      "literal"));
	ck_assert_ptr_nonnull(strstr(errtext, "r.yaml: 7 errors\n"));

	rs = load_text("lists:\n  nets: [10.0.0.0/8, 10.1.0.0/16, \"2001:db8::/32\", 11.0.0.0/8]\n"
		       "rules:\n  - id: a\n    where: cidr(ip, nets)\n"
		       "  - id: b\n    where: cidr(ip, nets) || cidr(ip, [\"12.0.0.0/8\", \"::/0\"])\n");
	ck_assert_msg(rs != NULL, "%s", errtext);
	{
		const struct rl_nets *a = rs->rules[0].where->ref, *b = rs->rules[1].where->ref;

		/* 10/8 holds 10.1/16; 10/8 and 11/8 touch: one range */
		ck_assert_uint_eq(a->n4, 1);
		ck_assert_uint_eq(a->v4[0].lo, 0x0a000000u);
		ck_assert_uint_eq(a->v4[0].hi, 0x0bffffffu);
		ck_assert_uint_eq(a->n6, 1);
		ck_assert_uint_eq(a->v6[0].lo[0], 0x20010db800000000ull);
		ck_assert_uint_eq(a->v6[0].hi[0], 0x20010db8ffffffffull);
		ck_assert_uint_eq(a->v6[0].hi[1], UINT64_MAX);
		ck_assert_int_eq(rs->rules[1].where->kind, EX_OR);
		ck_assert_uint_eq(b->n4, 1); /* 10/8, 11/8 and 12/8 */
		ck_assert_uint_eq(b->v4[0].hi, 0x0cffffffu);
		ck_assert_uint_eq(b->n6, 1); /* ::/0 holds the rest */
		ck_assert_uint_eq(b->v6[0].lo[0], 0);
		ck_assert_uint_eq(b->v6[0].hi[0], UINT64_MAX);
	}
	rl_free(rs);
}
END_TEST

START_TEST(macros_cannot_recurse)
{
	struct rl_ruleset *rs = load_text("macros:\n  a: b\n  b: a && x\n"
					  "rules:\n  - id: r\n    where: a\n");

	ck_assert_ptr_null(rs);
	ck_assert_ptr_nonnull(strstr(errtext, "macro 'a' uses itself"));
}
END_TEST

START_TEST(several_files)
{
	char *p1 = write_tmp("time: {lateness: 5s}\nrules:\n  - id: a\n    where: x\n");
	char *p2 = write_tmp("rules:\n  - id: b\n    where: y\n");
	char *p3 = write_tmp("rules:\n  - id: a\n    where: z\n");
	char *p4 = write_tmp("time: {lateness: 6s}\nrules:\n  - id: c\n    where: z\n");
	const char *ok[] = { p1, p2 };
	const char *dup[] = { p1, p3 };
	const char *clash[] = { p1, p4 };
	FILE *err = fopen("/dev/null", "w");
	struct dg_sink sink = { err, 0, 0 };
	struct rl_ruleset *rs = rl_load(ok, 2, &sink);

	ck_assert_ptr_nonnull(rs);
	ck_assert_uint_eq(rs->n_rules, 2);
	ck_assert_int_eq(rs->lateness_us, 5000000);
	rl_free(rs);
	ck_assert_ptr_null(rl_load(dup, 2, &sink));
	ck_assert_ptr_null(rl_load(clash, 2, &sink));
	fclose(err);
	unlink(p1);
	unlink(p2);
	unlink(p3);
	unlink(p4);
	free(p1);
	free(p2);
	free(p3);
	free(p4);
}
END_TEST

START_TEST(missing_file)
{
	const char *paths[] = { "/nonexistent/rules.yaml" };
	char *text = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&text, &len);
	struct dg_sink sink = { err, 0, 0 };

	ck_assert_ptr_null(rl_load(paths, 1, &sink));
	fclose(err);
	ck_assert_ptr_nonnull(strstr(text, "/nonexistent/rules.yaml"));
	ck_assert_ptr_nonnull(strstr(text, "No such file or directory"));
	free(text);
}
END_TEST

START_TEST(allocation_failures_are_clean)
{
	unsigned long n;
	int done = 0;

	for (n = 1; !done && n < 20000; n++) {
		FILE *err = fopen("/dev/null", "w");
		struct dg_sink sink = { err, 0, 0 };
		struct rl_ruleset *rs;

		tl_alloc_count = 0;
		tl_alloc_fail_at = n;
		rs = rl_load_mem("r.yaml", full, strlen(full), &sink);
		if (tl_alloc_fail_at) {
			/* no failure was injected: the load got through */
			tl_alloc_fail_at = 0;
			ck_assert_ptr_nonnull(rs);
			done = 1;
		}
		rl_free(rs);
		fclose(err);
	}
	ck_assert(done);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("load");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, full_file_compiles);
	tcase_add_test(tc, every_error_is_reported);
	tcase_add_test(tc, macros_cannot_recurse);
	tcase_add_test(tc, cidr_network_lists);
	tcase_add_test(tc, several_files);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, allocation_failures_are_clean);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	free(errtext);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
