/* obuf.c - growable output buffer and JSON writers. */
#include "obuf.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "json.h"

char *ob_room_more(struct obuf *b, size_t n)
{
	/* an empty buffer has no memory yet: even room for nothing makes some */
	if (b->cap - b->len < n || !b->buf) {
		if (n > SIZE_MAX - b->len - 1 ||
		    tl_grow((void **)&b->buf, &b->cap, b->len + (n ? n : 1), 1)) {
			b->oom = 1;
			return NULL;
		}
	}
	return b->buf + b->len;
}

void ob_put(struct obuf *b, const char *s, size_t n)
{
	char *p;

	if (!n) /* s may be NULL then */
		return;
	p = ob_room(b, n);
	if (!p)
		return;
	memcpy(p, s, n);
	b->len += n;
}

void ob_lit(struct obuf *b, const char *s)
{
	ob_put(b, s, strlen(s));
}

void ob_quote(struct obuf *b, const char *s, size_t n)
{
	char *p;

	if (n > (SIZE_MAX - 2) / 6) {
		b->oom = 1;
		return;
	}
	p = ob_room(b, 6 * n + 2);
	if (p)
		b->len += jd_quote(s, n, p);
}

void ob_num(struct obuf *b, double v)
{
	char *p = ob_room(b, 32);

	if (p)
		b->len += jd_format_number(v, p);
}

void ob_u64(struct obuf *b, uint64_t v)
{
	char tmp[24];

	ob_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v));
}

void ob_value(struct obuf *b, const struct tl_value *v)
{
	switch (v->type) {
	case TL_BOOL: ob_lit(b, v->b ? "true" : "false"); break;
	case TL_NUM: ob_num(b, v->num); break;
	case TL_STR: ob_quote(b, v->str, v->len); break;
	case TL_ARR: case TL_OBJ: ob_put(b, v->str, v->len); break;
	default: ob_lit(b, "null"); break;
	}
}

void ob_text(struct obuf *b, const struct tl_value *v)
{
	switch (v->type) {
	case TL_STR: ob_put(b, v->str, v->len); break;
	case TL_NULL: ob_lit(b, "null"); break;
	case TL_MISSING: break;
	default: ob_value(b, v); break;
	}
}

void ob_time(struct obuf *b, const struct tf_stamp *st, int64_t us)
{
	char *p = ob_room(b, TF_JSON_MAX);

	if (p)
		b->len += tf_format_json(st, us, p);
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void ob_line(struct obuf *b, const char *s, size_t n)
{
	while (n && is_ws(*s)) {
		s++;
		n--;
	}
	while (n && is_ws(s[n - 1]))
		n--;
	ob_put(b, s, n);
}

void ob_free(struct obuf *b)
{
	tl_free(b->buf);
	memset(b, 0, sizeof *b);
}
