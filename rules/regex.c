/* regex.c - PCRE2 behind one file: compile once with JIT, match with limits. */
#include "regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdio.h>

#include "alloc.h"

/* Bounds on the work of one match: enough for any sane pattern, small enough that a
 * catastrophic one over a long line costs milliseconds, not minutes. */
#define RX_MATCH_LIMIT 1000000
#define RX_DEPTH_LIMIT 10000

struct rx {
	pcre2_code *code;
	int jit; /* compiled to machine code: matched through the JIT's own entry */
};

struct rx_scratch {
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit_stack;
};

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
	return re;
}

void rx_free(struct rx *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
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
int rx_match(const struct rx *re, const char *s, size_t len, struct rx_scratch *scratch)
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
