/* test_expr.c - the expression lexer and parser: precedence, literals, paths, errors. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

static struct arena arena;

static void setup(void)
{
	memset(&arena, 0, sizeof arena);
}

static void teardown(void)
{
	arena_free(&arena);
}

/* Parses and prints back in canonical form. */
static const char *canon(const char *src)
{
	static char buf[512];
	struct ex_error err;
	struct ex_node *n = ex_parse(src, strlen(src), &arena, &err);

	if (!n) {
		snprintf(buf, sizeof buf, "ERROR@%zu+%zu: %s", err.off, err.len, err.msg);
		return buf;
	}
	ex_unparse(n, buf, sizeof buf);
	return buf;
}

START_TEST(precedence)
{
	ck_assert_str_eq(canon("a || b && c"), "a || b && c");
	ck_assert_str_eq(canon("(a || b) && c"), "(a || b) && c");
	ck_assert_str_eq(canon("!a == b"), "!a == b");
	ck_assert_str_eq(canon("!(a == b)"), "!a == b");
	ck_assert_str_eq(canon("(!a) == b"), "(!a) == b");
	ck_assert_str_eq(canon("1 + 2 * 3"), "1 + 2 * 3");
	ck_assert_str_eq(canon("(1 + 2) * 3"), "(1 + 2) * 3");
	ck_assert_str_eq(canon("a - b - c"), "a - b - c");
	ck_assert_str_eq(canon("a - (b - c)"), "a - (b - c)");
	ck_assert_str_eq(canon("-x * 2"), "-x * 2");
	ck_assert_str_eq(canon("-(x * 2)"), "-(x * 2)");
	ck_assert_str_eq(canon("a > 1 && b < 2 || c"), "a > 1 && b < 2 || c");
	ck_assert_str_eq(canon("amount >= 500 && amount > 10 * max(probe.amount)"),
			 "amount >= 500 && amount > 10 * max(probe.amount)");
}
END_TEST

START_TEST(literals)
{
	ck_assert_str_eq(canon("x == 'single'"), "x == \"single\"");
	ck_assert_str_eq(canon("x == \"a\\\"b\\\\c\\n\""), "x == \"a\\\"b\\\\c\\n\"");
	ck_assert_str_eq(canon("x == \"\\u00e9\""), "x == \"\xc3\xa9\"");
	ck_assert_str_eq(canon("x == \"\\ud83d\\ude00\""), "x == \"\xf0\x9f\x98\x80\"");
	ck_assert_str_eq(canon("x == 1.5e3"), "x == 1500");
	ck_assert_str_eq(canon("x == -0.25"), "x == -0.25");
	ck_assert_str_eq(canon("x in [1, 'a', true, null]"), "x in [1, \"a\", true, null]");
	ck_assert_str_eq(canon("x in []"), "x in []");
	ck_assert_str_eq(canon("x == null && y != false"), "x == null && y != false");
}
END_TEST

START_TEST(paths_and_calls)
{
	ck_assert_str_eq(canon("geo.country == \"US\""), "geo.country == \"US\"");
	ck_assert_str_eq(canon("`user-agent` contains \"curl\""), "`user-agent` contains \"curl\"");
	ck_assert_str_eq(canon("a.`b c`.d"), "a.`b c`.d");
	/* names that are words of the language stay quoted (found by fuzzing: `true`.e printed
	 * as true.e, which reads back as the literal true) */
	ck_assert_str_eq(canon("`true`.e.b"), "`true`.e.b");
	ck_assert_str_eq(canon("`in` > 1 && `not`.x == `null`"), "`in` > 1 && `not`.x == `null`");
	ck_assert_str_eq(canon("x.`matches` == 1"), "x.`matches` == 1");
	ck_assert_str_eq(canon("first(a).amount > 1"), "first(a).amount > 1");
	ck_assert_str_eq(canon("count() >= 10"), "count() >= 10");
	ck_assert_str_eq(canon("cidr(ip, \"10.0.0.0/8\")"), "cidr(ip, \"10.0.0.0/8\")");
	ck_assert_str_eq(canon("x not in list"), "x not in list");
	ck_assert_str_eq(canon("name matches \"^a.*\""), "name matches \"^a.*\"");
	ck_assert_str_eq(canon("s startswith \"a\" || s endswith \"b\""),
			 "s startswith \"a\" || s endswith \"b\"");
}
END_TEST

START_TEST(errors_have_positions)
{
	ck_assert_str_eq(canon(""), "ERROR@0+0: empty expression");
	ck_assert_str_eq(canon("a &&"), "ERROR@4+0: expected a value at the end of the expression");
	ck_assert_str_eq(canon("a = 1"), "ERROR@2+1: unexpected '=' (did you mean '=='?)");
	ck_assert_str_eq(canon("a & b"), "ERROR@2+1: unexpected '&' (did you mean '&&'?)");
	ck_assert_str_eq(canon("a < b < c"),
			 "ERROR@6+1: comparisons do not chain: combine them with '&&'");
	ck_assert_str_eq(canon("(a"), "ERROR@2+0: expected ')' at the end of the expression");
	ck_assert_str_eq(canon("a b"), "ERROR@2+1: unexpected 'b' after the expression");
	ck_assert_str_eq(canon("x == \"abc"), "ERROR@5+4: unterminated string");
	ck_assert_str_eq(canon("x == \"\\q\""), "ERROR@6+2: unknown escape '\\q' in string");
	ck_assert_str_eq(canon("x == 12ab"), "ERROR@5+4: invalid number '12ab'");
	ck_assert_str_eq(canon("x not y"),
			 "ERROR@2+3: expected 'in' after 'not' (use '!' to negate)");
	ck_assert_str_eq(canon("x == $"), "ERROR@5+1: unexpected character '$'");
	ck_assert_str_eq(canon("`unterminated"), "ERROR@0+13: unterminated `quoted name`");
	ck_assert_str_eq(canon("f(a,"), "ERROR@4+0: expected a value at the end of the expression");
	ck_assert_str_eq(canon("x == \"\\ud800\""), "ERROR@6+6: lone surrogate in \\u escape");
}
END_TEST

START_TEST(deep_nesting_is_refused)
{
	char buf[4096];
	size_t i;

	for (i = 0; i < 1000; i++)
		buf[i] = '(';
	buf[i++] = 'x';
	buf[i] = '\0';
	ck_assert_ptr_nonnull(strstr(canon(buf), "nested too deeply"));
	for (i = 0; i < 1000; i++)
		buf[i] = '!';
	buf[i++] = 'x';
	buf[i] = '\0';
	ck_assert_ptr_nonnull(strstr(canon(buf), "nested too deeply"));
	for (i = 0; i < 1000; i++)
		buf[i] = '-';
	buf[i++] = 'x';
	buf[i] = '\0';
	ck_assert_ptr_nonnull(strstr(canon(buf), "nested too deeply"));
	/* a modest depth is fine */
	ck_assert_str_eq(canon("((((((x))))))"), "x");
}
END_TEST

/* Chains grow a tree as deep without any nesting: x + 1 + 1 ... is ((x + 1) + 1) ...; the
 * walkers that recurse over trees (evaluation, printing, rule analysis) must never meet one
 * deeper than the limit. */
static void chain(char *buf, size_t cap, const char *head, const char *link, size_t n)
{
	size_t i, at = (size_t)snprintf(buf, cap, "%s", head);

	for (i = 0; i < n && at + strlen(link) < cap; i++)
		at += (size_t)snprintf(buf + at, cap - at, "%s", link);
}

START_TEST(long_chains_are_refused)
{
	static char buf[1 << 20];
	static const char *const links[] = { " + 1", " * 2", " && y", " || y", " - 3" };
	static const char *const heads[] = { "x", "x", "y", "y", "-x" };
	size_t i;

	for (i = 0; i < sizeof links / sizeof links[0]; i++) {
		const char *got;

		chain(buf, sizeof buf, heads[i], links[i], 100000);
		got = canon(buf);
		ck_assert_msg(strstr(got, "nested too deeply") != NULL, "%s...: %.80s", links[i], got);
		/* a chain of 150 is fine */
		chain(buf, sizeof buf, heads[i], links[i], 150);
		got = canon(buf);
		ck_assert_msg(strncmp(got, "ERROR", 5) != 0, "%s: %.80s", links[i], got);
	}
}
END_TEST

START_TEST(spans)
{
	struct ex_error err;
	struct ex_node *n = ex_parse("amount > 10 && country in risky", 31, &arena, &err);

	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(n->kind, EX_AND);
	ck_assert_int_eq(n->off, 0);
	ck_assert_int_eq(n->len, 31);
	ck_assert_int_eq(n->kids[1]->kind, EX_IN);
	ck_assert_int_eq(n->kids[1]->off, 15);
	ck_assert_int_eq(n->kids[1]->kids[1]->off, 26);
	ck_assert_int_eq(n->kids[1]->kids[1]->len, 5);
}
END_TEST

START_TEST(path_parser)
{
	const char **segs;
	size_t *lens;
	struct ex_error err;

	ck_assert_int_eq(ex_parse_path("geo.country", 11, &arena, &segs, &lens, &err), 2);
	ck_assert_str_eq(segs[0], "geo");
	ck_assert_str_eq(segs[1], "country");
	ck_assert_int_eq(ex_parse_path("`user-agent`", 12, &arena, &segs, &lens, &err), 1);
	ck_assert_str_eq(segs[0], "user-agent");
	ck_assert_int_eq(ex_parse_path("a b", 3, &arena, &segs, &lens, &err), -1);
	ck_assert_str_eq(err.msg, "unexpected 'b' in a field path");
	ck_assert_int_eq(ex_parse_path("1x", 2, &arena, &segs, &lens, &err), -1);
}
END_TEST

START_TEST(allocation_failures_are_clean)
{
	unsigned long n;

	for (n = 1; n < 200; n++) {
		static const char src[] = "a.b > 1 && c in [1, 2, 3] || lower(d) == \"x\"";
		struct arena a = { 0 };
		struct ex_error err;
		struct ex_node *root;

		tl_alloc_count = 0;
		tl_alloc_fail_at = n;
		root = ex_parse(src, strlen(src), &a, &err);
		arena_free(&a);
		if (tl_alloc_fail_at == 0) {
			ck_assert_ptr_null(root);
			ck_assert_str_eq(err.msg, "out of memory");
		} else {
			ck_assert_ptr_nonnull(root);
			tl_alloc_fail_at = 0;
			break;
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("expr");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, precedence);
	tcase_add_test(tc, literals);
	tcase_add_test(tc, paths_and_calls);
	tcase_add_test(tc, errors_have_positions);
	tcase_add_test(tc, deep_nesting_is_refused);
	tcase_add_test(tc, long_chains_are_refused);
	tcase_add_test(tc, spans);
	tcase_add_test(tc, path_parser);
	tcase_add_test(tc, allocation_failures_are_clean);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
