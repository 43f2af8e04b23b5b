/* test_regex.c - the PCRE2 wrapper: which patterns are searched as literal strings, and that
 * the search answers as PCRE2 does, on many subjects made of the patterns' own pieces (so that
 * near misses, overlaps, capitals and multi-byte characters are common), with lower() applied
 * in place where the pattern allows it. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "regex.h"
#include "xorshift.h"

static struct rx *compile(const char *pat)
{
	char msg[256];
	size_t off;
	struct rx *re = rx_compile(pat, strlen(pat), msg, sizeof msg, &off);

	ck_assert_msg(re != NULL, "%s: %s", pat, msg);
	return re;
}

#define TEN "0123456789"

/* pattern, searched as literal strings, and then without an ASCII capital among them */
static const struct {
	const char *pat;
	int literal, folds;
} kinds[] = {
	{ "admin", 1, 1 },
	{ "@(mailinator|yopmail|guerrillamail)[.]", 1, 1 },
	{ "(?:ab|cd)e", 1, 1 },
	{ "a|b|", 1, 1 },
	{ "", 1, 1 },
	{ "()", 1, 1 },
	{ "[.]", 1, 1 },
	{ "[.,;]x", 1, 1 },
	{ "\\.\\*\\(\\\\", 1, 1 },
	{ "caf\xc3\xa9 au lait", 1, 1 },
	{ "a#b c", 1, 1 },
	{ "Admin", 1, 0 },
	{ "x|(y|(Z))", 1, 0 },
	/* not literal strings: PCRE2 matches them */
	{ "^admin", 0, 0 },
	{ "admin$", 0, 0 },
	{ "a.b", 0, 0 },
	{ "ab*", 0, 0 },
	{ "ab+", 0, 0 },
	{ "ab?", 0, 0 },
	{ "ab{2}", 0, 0 },
	{ "(ab)?", 0, 0 },
	{ "(ab){2}", 0, 0 },
	{ "[ab]+", 0, 0 },
	{ "(?i)admin", 0, 0 },
	{ "(?=a)a", 0, 0 },
	{ "(*UTF)a", 0, 0 },
	{ "[a-z]", 0, 0 },
	{ "[^a]", 0, 0 },
	{ "[]a]", 0, 0 },
	{ "[\\]]", 0, 0 },
	{ "[[:alpha:]]", 0, 0 },
	{ "[\xc3\xa9]", 0, 0 },
	{ "a]", 0, 0 },
	{ "a}", 0, 0 },
	{ "\\d", 0, 0 },
	{ "\\x41", 0, 0 },
	{ "\\Qa\\E", 0, 0 },
	{ "(a)\\1", 0, 0 },
	{ "a\\ b", 0, 0 },
	/* past the bounds: 33 strings, a string of 128 bytes (127 is the
	 * most), 17 groups deep */
	{ "(a|b|c|d)(e|f|g|h)(i|j)", 1, 1 },
	{ "(a|b|c|d)(e|f|g|h)(i|j|k)", 0, 0 },
	{ TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN "0123456", 1, 1 },
	{ TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN "01234567", 0, 0 },
	{ "((((((((((((((((x))))))))))))))))", 1, 1 },
	{ "(((((((((((((((((x)))))))))))))))))", 0, 0 },
};

START_TEST(which_patterns_are_literal_strings)
{
	size_t i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		struct rx *re = compile(kinds[i].pat);

		ck_assert_msg(rx_is_literal(re) == kinds[i].literal, "%s: literal %d", kinds[i].pat,
			      rx_is_literal(re));
		ck_assert_msg(rx_folds(re) == kinds[i].folds, "%s: folds %d", kinds[i].pat,
			      rx_folds(re));
		rx_free(re);
	}
}
END_TEST

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t next_rand(void)
{
	return xorshift_next(&rng);
}

/* Literal patterns for the comparison with PCRE2, and the pieces their subjects are made of. */
static const char *const lit_patterns[] = {
	"@(mailinator|yopmail|guerrillamail|sharklasers|10minutemail|trashmail)[.]",
	"ab|abc|b", "abc|bc|c", "aa", "aab|ab", "[.@]a", "a(b|)c", "caf\xc3\xa9",
	"x", "ADMIN|root", "a\xc3\xa9|\xc3\xa9\xc3\xa9", "(a|A)(b|B)", "mail[.]|@", "a|b|",
};
static const char *const pieces[] = {
	"a", "b", "c", "A", "B", "C", "@", ".", "x", "X", "mail", "MAIL", "inator", "yop",
	"Yop", "guerrilla", "trash", "10", "minute", "\xc3\xa9", "\xc3\x89", "caf", "CAF",
	"admin", "ADMIN", "root", "Root", " ", "\n", "sharklasers", "SharkLasers",
};

/* lower() of s, as the engine maps it: ASCII capitals only */
static void lower(const char *s, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
}

#define ROUNDS 6000 /* subjects per pattern */

START_TEST(literal_search_answers_as_pcre2)
{
	struct rx_scratch *scr = rx_scratch_new();
	size_t i, round, n_match = 0, n_fold_match = 0;
	char subj[512], low[512];

	ck_assert_ptr_nonnull(scr);
	for (i = 0; i < sizeof lit_patterns / sizeof lit_patterns[0]; i++) {
		struct rx *re = compile(lit_patterns[i]);

		ck_assert_msg(rx_is_literal(re), "%s", lit_patterns[i]);
		for (round = 0; round < ROUNDS; round++) {
			size_t len = 0, n = next_rand() % 12;
			int want, got;

			while (n--) {
				const char *p = pieces[next_rand() % (sizeof pieces / sizeof pieces[0])];

				memcpy(subj + len, p, strlen(p));
				len += strlen(p);
			}
			want = rx_match_pcre2(re, subj, len, scr);
			got = rx_match(re, subj, len, scr);
			ck_assert_msg(want == got, "%s on '%.*s': pcre2 %d, search %d",
				      lit_patterns[i], (int)len, subj, want, got);
			n_match += (size_t)want;
			if (!rx_folds(re))
				continue;
			lower(subj, len, low);
			want = rx_match_pcre2(re, low, len, scr);
			got = rx_match_lower(re, subj, len);
			ck_assert_msg(want == got, "%s on lower('%.*s'): pcre2 %d, search %d",
				      lit_patterns[i], (int)len, subj, want, got);
			n_fold_match += (size_t)want;
		}
		rx_free(re);
	}
	/* the subjects match often enough, and not always, for the comparison to mean something */
	ck_assert_uint_gt(n_match, ROUNDS);
	ck_assert_uint_lt(n_match, 10 * ROUNDS);
	ck_assert_uint_gt(n_fold_match, ROUNDS / 2);
	rx_scratch_free(scr);
}
END_TEST

/* A subject with a NUL byte, and strings at the very end of the subject. */
START_TEST(edges_of_the_subject)
{
	struct rx *re = compile("ab|b\xc3\xa9");
	struct rx_scratch *scr = rx_scratch_new();

	ck_assert_int_eq(rx_match(re, "xxab", 4, scr), 1);
	ck_assert_int_eq(rx_match(re, "xxa", 3, scr), 0);
	ck_assert_int_eq(rx_match(re, "xa\0b", 4, scr), 0);
	ck_assert_int_eq(rx_match(re, "\0ab", 3, scr), 1);
	ck_assert_int_eq(rx_match(re, "b\xc3\xa9", 3, scr), 1);
	ck_assert_int_eq(rx_match(re, "b\xc3", 2, scr), 0); /* the first bytes of a longer subject */
	ck_assert_int_eq(rx_match(re, "", 0, scr), 0);
	ck_assert_int_eq(rx_match_lower(re, "AB", 2), 1);
	ck_assert_int_eq(rx_match_lower(re, "B\xc3\xa9", 3), 1);
	ck_assert_int_eq(rx_match_lower(re, "B\xc3\x89", 3), 0); /* É is not lowered */
	rx_free(re);
	re = compile("a|");
	ck_assert_int_eq(rx_match(re, "", 0, scr), 1);
	rx_free(re);
	rx_scratch_free(scr);
}
END_TEST

/* Every allocation of the analysis may fail: the pattern is then matched by PCRE2, or not
 * compiled at all, and nothing leaks. */
START_TEST(analysis_survives_failed_allocations)
{
	unsigned long n;

	for (n = 1; n < 200; n++) {
		char msg[256];
		size_t off;
		struct rx *re;

		tl_alloc_fail_at = n;
		tl_alloc_count = 0;
		re = rx_compile("(ab|(c|d))e[.]", 14, msg, sizeof msg, &off);
		tl_alloc_fail_at = 0;
		if (re) {
			struct rx_scratch *scr = rx_scratch_new();

			ck_assert_ptr_nonnull(scr);
			ck_assert_int_eq(rx_match(re, "xxde.", 5, scr), 1);
			ck_assert_int_eq(rx_match(re, "xxdf.", 5, scr), 0);
			rx_scratch_free(scr);
			rx_free(re);
		}
		if (tl_alloc_count < n)
			break; /* every allocation has failed once */
	}
	ck_assert_uint_lt(n, 200);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("regex");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, which_patterns_are_literal_strings);
	tcase_add_test(tc, literal_search_answers_as_pcre2);
	tcase_add_test(tc, edges_of_the_subject);
	tcase_add_test(tc, analysis_survives_failed_allocations);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
