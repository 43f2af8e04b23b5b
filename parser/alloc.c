/* alloc.c - allocation wrappers with failure injection, and the bump arena. */
#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

unsigned long tl_alloc_fail_at;
unsigned long tl_alloc_count;

static int should_fail(void)
{
	if (tl_alloc_fail_at == 0)
		return 0;
	if (++tl_alloc_count == tl_alloc_fail_at) {
		tl_alloc_fail_at = 0;
		return 1;
	}
	return 0;
}

void *tl_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *tl_calloc(size_t count, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(count ? count : 1, size ? size : 1);
}

void *tl_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

void tl_free(void *p)
{
	free(p);
}

char *tl_strndup(const char *s, size_t len)
{
	char *d = tl_malloc(len + 1);

	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

int tl_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 8;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -1;
		ncap *= 2;
	}
	if (elem && ncap > SIZE_MAX / elem)
		return -1;
	np = tl_realloc(*p, ncap * elem);
	if (!np)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	size_t need = (n + 15) & ~(size_t)15;
	void *p;

	if (need < n || n > PTRDIFF_MAX) /* no object is larger than PTRDIFF_MAX */
		return NULL;
#ifdef TL_POOL_BYPASS
	/* The sanitizer build: each allocation is a chunk of its own, of exactly n bytes, so
	 * that AddressSanitizer sees a use past its end as it does for the pool's blocks. */
	if (n > SIZE_MAX - sizeof *c)
		return NULL;
	c = tl_malloc(sizeof *c + n);
	if (!c)
		return NULL;
	c->used = c->cap = n;
	c->next = a->head;
	a->head = c;
	a->total += sizeof *c + n;
	memset(c->data, 0, n);
	return c->data;
#endif
	if (!c || c->cap - c->used < need) {
		size_t cap = need > 16384 ? need : 16384;

		if (cap > SIZE_MAX - sizeof *c)
			return NULL;
		c = tl_malloc(sizeof *c + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
		a->total += sizeof *c + cap;
	}
	p = c->data + c->used;
	c->used += need;
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *d;

	if (len == SIZE_MAX)
		return NULL;
	d = arena_alloc(a, len + 1);
	if (!d)
		return NULL;
	if (len) /* s may be NULL then (a YAML node with no text) */
		memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

void arena_free(struct arena *a)
{
	struct arena_chunk *c = a->head, *next;

	for (; c; c = next) {
		next = c->next;
		tl_free(c);
	}
	a->head = NULL;
	a->total = 0;
}
