/* regex.h - the PCRE2 wrapper; the only module that includes pcre2.h.
 *
 * Pipeline position: rules (patterns are compiled once when rules load; JIT where available)
 * and engine (matching, with match and depth limits so that a catastrophic pattern costs a
 * bounded amount of work and evaluates to unknown).
 */
#ifndef TL_REGEX_H
#define TL_REGEX_H

#include <stddef.h>

struct rx;
struct rx_scratch;

/* Compiles a UTF-8 pattern. Returns NULL on failure with the PCRE2 message in errbuf and the
 * byte offset of the problem in the pattern in *erroff. */
struct rx *rx_compile(const char *pat, size_t len, char *errbuf, size_t errcap, size_t *erroff);
void rx_free(struct rx *re);

/* Per-engine matching scratch; NULL on allocation failure. */
struct rx_scratch *rx_scratch_new(void);
void rx_scratch_free(struct rx_scratch *s);

/* 1 match, 0 no match, -1 the match or depth limit was hit (or another matching error). A
 * pattern that stands for a few literal strings ("admin", "@(mailinator|yopmail)[.]") is
 * matched without PCRE2, by searching for them (regex.c says which patterns). */
int rx_match(const struct rx *re, const char *s, size_t len, struct rx_scratch *scratch);

/* rx_match through PCRE2 whatever the pattern (for tests of the literal search). */
int rx_match_pcre2(const struct rx *re, const char *s, size_t len, struct rx_scratch *scratch);

/* 1 when re is matched by searching for literal strings. */
int rx_is_literal(const struct rx *re);

/* 1 when re is literal strings without an ASCII capital: then rx_match_lower can match what
 * lower(s) would be without making it. */
int rx_folds(const struct rx *re);

/* rx_match of re (rx_folds) on s with its ASCII capitals as small letters, as lower() maps
 * them: 1 or 0. */
int rx_match_lower(const struct rx *re, const char *s, size_t len);

#endif
