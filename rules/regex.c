/* regex.c - PCRE2 behind one file: compile once with JIT, match with limits. */
#include "regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

/* Bounds on the work of one match: enough for any sane pattern, small enough that a
 * catastrophic one over a long line costs milliseconds, not minutes. */
#define RX_MATCH_LIMIT 1000000
#define RX_DEPTH_LIMIT 10000

/* A pattern that stands for a few literal strings and nothing else ("admin",
 * "@(mailinator|yopmail)[.]") matches where one of them occurs in the subject: that is found
 * by comparing bytes, without PCRE2 (whose call alone costs more than most such searches).
 * Bounds on what a pattern may stand for: */
#define LIT_MAX 32   /* strings */
#define LIT_LEN 128  /* bytes in each */
#define LIT_DEPTH 16 /* groups within groups */

/* A set of literal strings, as the pattern's analysis builds it. */
struct lset {
	size_t n;
	uint8_t len[LIT_MAX];
	char s[LIT_MAX][LIT_LEN];
};

/* The strings of a literal pattern, as the search reads them. */
#define LIT_PAIRS 1024 /* chains by the first two bytes */

struct rx_lits {
	int any;      /* the empty string is one of them: every subject matches */
	int folds;    /* no ASCII capital in any: lower(s) is matched without making it */
	int first;    /* the byte all of them start with, or -1 */
	int first_fold; /* ... when folding: the same, unless it is a small letter (whose capital
			 * starts a match too) */
	uint32_t min_len;
	uint8_t starts[256];      /* 1 when a string starts with the byte */
	uint8_t starts_fold[256]; /* the same for the byte read as lower() maps it */
	uint8_t one[256];         /* 1 when the byte alone is one of the strings */
	uint8_t pair[LIT_PAIRS];  /* 1 + the first string of two bytes or more whose first two
				   * hash there (pair_hash), or 0 */
	uint8_t next[LIT_MAX];    /* 1 + the next string in its chain, or 0 */
	struct lset set;
};

struct rx {
	pcre2_code *code;
	int jit; /* compiled to machine code: matched through the JIT's own entry */
	struct rx_lits *lits; /* when the pattern is literal strings (then PCRE2 is not called) */
};

struct rx_scratch {
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit_stack;
};

/* ---- patterns that are literal strings ---- */

/* The analysis reads a strict subset of PCRE2's syntax, and gives up (-1) on anything else,
 * which PCRE2 then matches as ever: characters that are not special, a backslash before ASCII
 * punctuation, a class of plain ASCII characters ("[.]", "[-_.]" is not: no ranges, no
 * negation, no escapes), groups "(...)" and "(?:...)" with alternatives "|", and nothing
 * quantified, anchored or flagged. Such a pattern matches a subject exactly where one of the
 * strings it stands for occurs in it (captures change nothing to whether it matches); bytes
 * compare as characters do, since pattern and subject are valid UTF-8. */
struct lparse {
	const unsigned char *p, *end;
	int depth;
};

static int lp_alt(struct lparse *lp, struct lset *out);

/* out = out followed by each string of item; -1 past the bounds. */
static int lset_product(struct lset *out, const struct lset *item, struct lset *tmp)
{
	size_t i, j;

	if (out->n * item->n > LIT_MAX)
		return -1;
	tmp->n = 0;
	for (i = 0; i < out->n; i++)
		for (j = 0; j < item->n; j++) {
			size_t a = out->len[i], b = item->len[j];

			if (a + b > LIT_LEN - 1)
				return -1;
			memcpy(tmp->s[tmp->n], out->s[i], a);
			memcpy(tmp->s[tmp->n] + a, item->s[j], b);
			tmp->len[tmp->n++] = (uint8_t)(a + b);
		}
	memcpy(out, tmp, sizeof *out);
	return 0;
}

static int is_quantifier(const struct lparse *lp)
{
	return lp->p < lp->end && (*lp->p == '?' || *lp->p == '*' || *lp->p == '+' || *lp->p == '{');
}

/* A class of plain ASCII characters, after its '[': the strings of one character. */
static int lp_class(struct lparse *lp, struct lset *item)
{
	uint8_t seen[256] = { 0 };

	item->n = 0;
	if (lp->p < lp->end && *lp->p == ']')
		return -1; /* "[]...]": a ']' first is a member */
	for (; lp->p < lp->end && *lp->p != ']'; lp->p++) {
		unsigned char ch = *lp->p;

		if (ch < 0x20 || ch > 0x7e || ch == '\\' || ch == '[' || ch == '-' || ch == '^')
			return -1;
		if (seen[ch]++)
			continue;
		if (item->n == LIT_MAX)
			return -1;
		item->s[item->n][0] = (char)ch;
		item->len[item->n++] = 1;
	}
	if (lp->p == lp->end || !item->n)
		return -1;
	lp->p++;
	return 0;
}

/* One alternative: items up to a '|', a ')' or the end. */
static int lp_seq(struct lparse *lp, struct lset *out)
{
	struct lset *item = tl_malloc(sizeof *item), *tmp = tl_malloc(sizeof *tmp);
	int rc = -1;

	if (!item || !tmp)
		goto out_free;
	out->n = 1;
	out->len[0] = 0;
	while (lp->p < lp->end && *lp->p != '|' && *lp->p != ')') {
		unsigned char ch = *lp->p++;

		if (ch == '(') {
			if (lp->end - lp->p >= 2 && lp->p[0] == '?' && lp->p[1] == ':')
				lp->p += 2;
			if (++lp->depth > LIT_DEPTH || lp_alt(lp, item) || lp->p == lp->end ||
			    *lp->p != ')')
				goto out_free;
			lp->p++;
			lp->depth--;
		} else if (ch == '[') {
			if (lp_class(lp, item))
				goto out_free;
		} else {
			if (ch == '\\') {
				/* an escaped ASCII punctuation character is itself */
				if (lp->p == lp->end || *lp->p < 0x21 || *lp->p > 0x7e ||
				    (*lp->p >= '0' && *lp->p <= '9') || ((*lp->p | 0x20) >= 'a' &&
				    (*lp->p | 0x20) <= 'z'))
					goto out_free;
				ch = *lp->p++;
			} else if (ch && strchr("^$.|()?*+{}[]", ch)) {
				goto out_free;
			}
			item->n = 1;
			item->s[0][0] = (char)ch;
			item->len[0] = 1;
		}
		if (is_quantifier(lp) || lset_product(out, item, tmp))
			goto out_free;
	}
	rc = 0;
out_free:
	tl_free(item);
	tl_free(tmp);
	return rc;
}

/* Alternatives separated by '|', up to a ')' or the end. */
static int lp_alt(struct lparse *lp, struct lset *out)
{
	struct lset *seq = tl_malloc(sizeof *seq);
	int rc = -1;

	if (!seq)
		return -1;
	out->n = 0;
	for (;;) {
		if (lp_seq(lp, seq) || out->n + seq->n > LIT_MAX)
			goto out_free;
		memcpy(out->len + out->n, seq->len, seq->n);
		memcpy(out->s + out->n, seq->s, seq->n * sizeof seq->s[0]);
		out->n += seq->n;
		if (lp->p == lp->end || *lp->p != '|')
			break;
		lp->p++;
	}
	rc = 0;
out_free:
	tl_free(seq);
	return rc;
}

static int is_capital(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z';
}

static inline unsigned char fold(unsigned char ch)
{
	return is_capital(ch) ? (unsigned char)(ch + 32) : ch;
}

static inline size_t pair_hash(unsigned char a, unsigned char b)
{
	return ((size_t)a * 31 + b) & (LIT_PAIRS - 1);
}

/* The literal strings pattern pat stands for, chained for the search; NULL when it is not
 * such a pattern (or on allocation failure: PCRE2 then matches it). */
static struct rx_lits *lits_of(const char *pat, size_t len)
{
	struct lparse lp = { (const unsigned char *)pat, (const unsigned char *)pat + len, 0 };
	struct rx_lits *l = tl_calloc(1, sizeof *l);
	size_t i, j;

	if (!l)
		return NULL;
	if (lp_alt(&lp, &l->set) || lp.p != lp.end) {
		tl_free(l);
		return NULL;
	}
	l->folds = 1;
	l->min_len = LIT_LEN;
	l->first = (unsigned char)l->set.s[0][0];
	/* chained from the last, so that each chain keeps the pattern's order */
	for (i = l->set.n; i-- > 0;) {
		const unsigned char *t = (const unsigned char *)l->set.s[i];

		if (!l->set.len[i]) {
			l->any = 1;
			continue;
		}
		for (j = 0; j < l->set.len[i]; j++)
			if (is_capital(t[j]))
				l->folds = 0;
		if (l->set.len[i] < l->min_len)
			l->min_len = l->set.len[i];
		if (t[0] != l->first)
			l->first = -1;
		l->starts[t[0]] = 1;
		if (l->set.len[i] == 1) {
			l->one[t[0]] = 1;
		} else {
			l->next[i] = l->pair[pair_hash(t[0], t[1])];
			l->pair[pair_hash(t[0], t[1])] = (uint8_t)(i + 1);
		}
	}
	if (l->any)
		l->first = -1;
	l->first_fold = l->first >= 'a' && l->first <= 'z' ? -1 : l->first;
	for (i = 0; i < 256; i++)
		l->starts_fold[i] = l->starts[fold((unsigned char)i)];
	return l;
}

/* 1 when one of the strings of l starts at p, with room bytes from p on (at least one);
 * folding: the subject's capitals read as small letters (l has none then). */
static inline int lits_at(const struct rx_lits *l, const unsigned char *p, size_t room,
			  int folding)
{
	unsigned char a = folding ? fold(p[0]) : p[0], b;
	size_t i, k;

	if (l->one[a])
		return 1;
	if (room < 2)
		return 0;
	b = folding ? fold(p[1]) : p[1];
	for (i = l->pair[pair_hash(a, b)]; i; i = l->next[i - 1]) {
		const unsigned char *t = (const unsigned char *)l->set.s[i - 1];
		size_t n = l->set.len[i - 1];

		if (n > room || t[0] != a || t[1] != b)
			continue;
		if (!folding) {
			if (memcmp(p + 2, t + 2, n - 2) == 0)
				return 1;
			continue;
		}
		for (k = 2; k < n && fold(p[k]) == t[k]; k++)
			;
		if (k == n)
			return 1;
	}
	return 0;
}

/* 1 when one of the strings of l occurs in s[0 .. len) (folding: in its lower() form). */
static int lits_find(const struct rx_lits *l, const unsigned char *s, size_t len, int folding)
{
	const uint8_t *starts = folding ? l->starts_fold : l->starts;
	const unsigned char *p = s, *last;
	int first = folding ? l->first_fold : l->first;

	if (l->any)
		return 1;
	if (len < l->min_len)
		return 0;
	last = s + (len - l->min_len);
	if (first >= 0) {
		/* one first byte, which folding leaves alone: jump to it */
		for (; p <= last && (p = memchr(p, first, (size_t)(last - p) + 1)); p++)
			if (lits_at(l, p, (size_t)(s + len - p), folding))
				return 1;
		return 0;
	}
	for (; p <= last; p++)
		if (starts[*p] && lits_at(l, p, (size_t)(s + len - p), folding))
			return 1;
	return 0;
}

struct rx *rx_compile(const char *pat, size_t len, char *errbuf, size_t errcap, size_t *erroff)
{
	struct rx *re;
	int errcode;
	PCRE2_SIZE off;

	re = tl_malloc(sizeof *re);
	if (!re) {
		if (errcap)
			snprintf(errbuf, errcap, "out of memory");
		*erroff = 0;
		return NULL;
	}
	re->code = pcre2_compile((PCRE2_SPTR)pat, len, PCRE2_UTF, &errcode, &off, NULL);
	if (!re->code) {
		pcre2_get_error_message(errcode, (PCRE2_UCHAR *)errbuf, errcap);
		*erroff = off;
		tl_free(re);
		return NULL;
	}
	/* JIT is an optimisation: where it is unavailable the interpreter runs instead. */
	re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
	re->lits = lits_of(pat, len);
	return re;
}

void rx_free(struct rx *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
	tl_free(re->lits);
	tl_free(re);
}

struct rx_scratch *rx_scratch_new(void)
{
	struct rx_scratch *s = tl_calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->md = pcre2_match_data_create(1, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	s->jit_stack = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
	if (!s->md || !s->mctx) {
		rx_scratch_free(s);
		return NULL;
	}
	pcre2_set_match_limit(s->mctx, RX_MATCH_LIMIT);
	pcre2_set_depth_limit(s->mctx, RX_DEPTH_LIMIT);
	if (s->jit_stack)
		pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
	return s;
}

void rx_scratch_free(struct rx_scratch *s)
{
	if (!s)
		return;
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	pcre2_jit_stack_free(s->jit_stack);
	tl_free(s);
}

/* Subjects are always valid UTF-8 (the JSON decoder checks every string, and the functions
 * that make strings keep it valid), so the subject is not checked again: pcre2_jit_match,
 * which skips the checks of pcre2_match, where the pattern was JIT-compiled, else
 * pcre2_match with PCRE2_NO_UTF_CHECK. Both keep the match limit. */
int rx_match_pcre2(const struct rx *re, const char *s, size_t len, struct rx_scratch *scratch)
{
	int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, len, 0, 0, scratch->md,
					   scratch->mctx)
			 : pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK,
				       scratch->md, scratch->mctx);

	if (rc >= 0)
		return 1; /* 0 means matched with a too-small ovector: still a match */
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	return -1; /* limits */
}

int rx_match(const struct rx *re, const char *s, size_t len, struct rx_scratch *scratch)
{
	if (re->lits)
		return lits_find(re->lits, (const unsigned char *)s, len, 0);
	return rx_match_pcre2(re, s, len, scratch);
}

int rx_is_literal(const struct rx *re)
{
	return re->lits != NULL;
}

int rx_folds(const struct rx *re)
{
	return re->lits && re->lits->folds;
}

int rx_match_lower(const struct rx *re, const char *s, size_t len)
{
	return lits_find(re->lits, (const unsigned char *)s, len, 1);
}
