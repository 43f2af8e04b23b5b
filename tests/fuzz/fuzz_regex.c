/* fuzz_regex.c - libFuzzer target for the search of literal strings (rules/regex.c).
 *
 * The input is a pattern, a newline, then a subject. A pattern that regex.c searches as
 * literal strings must match the subject exactly where PCRE2 does; and where lower() of a
 * subject can be matched in place, that must answer as PCRE2 does on the lowered copy.
 * Subjects that are not valid UTF-8 are skipped: the engine never passes one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when s[0 .. len) is valid UTF-8 (no overlong forms, surrogates, or past U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n, k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rx_scratch *scr;
	const uint8_t *nl = memchr(data, '\n', size);
	const char *subj;
	size_t plen, slen, i;
	char msg[256], *low;
	struct rx *re;
	int want, got;

	if (!nl)
		return 0;
	if (!scr && !(scr = rx_scratch_new()))
		abort();
	plen = (size_t)(nl - data);
	subj = (const char *)nl + 1;
	slen = size - plen - 1;
	if (!valid_utf8((const unsigned char *)subj, slen))
		return 0;
	re = rx_compile((const char *)data, plen, msg, sizeof msg, &i);
	if (!re || !rx_is_literal(re)) {
		rx_free(re);
		return 0;
	}
	want = rx_match_pcre2(re, subj, slen, scr);
	got = rx_match(re, subj, slen, scr);
	if (want >= 0 && want != got) {
		fprintf(stderr, "literal search %d, PCRE2 %d\n", got, want);
		abort();
	}
	if (rx_folds(re) && (low = malloc(slen + 1))) {
		for (i = 0; i < slen; i++)
			low[i] = subj[i] >= 'A' && subj[i] <= 'Z' ? (char)(subj[i] + 32) : subj[i];
		want = rx_match_pcre2(re, low, slen, scr);
		got = rx_match_lower(re, subj, slen);
		free(low);
		if (want >= 0 && want != got) {
			fprintf(stderr, "literal search of lower() %d, PCRE2 %d\n", got, want);
			abort();
		}
	}
	rx_free(re);
	return 0;
}
