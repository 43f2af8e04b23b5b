/* pool.c - slabs and per-size free lists. */
#include "pool.h"

#include <stdint.h>
#include <string.h>

#include "alloc.h"

#define SLAB_SIZE (64 * 1024)

struct pool_slab {
	struct pool_slab *next;
	_Alignas(16) char data[];
};

#ifndef TL_POOL_BYPASS
static size_t class_of(size_t n)
{
	return (n + POOL_STEP - 1) / POOL_STEP;
}
#endif

void *pool_alloc(struct pool *p, size_t n)
{
	void *b;

	if (n == 0)
		n = 1;
#ifndef TL_POOL_BYPASS
	if (n <= POOL_MAX) {
		size_t c = class_of(n), size = c * POOL_STEP;

		b = p->free[c];
		if (b) {
			memcpy(&p->free[c], b, sizeof(void *));
		} else {
			if (p->left < size) {
				struct pool_slab *s = tl_malloc(sizeof *s + SLAB_SIZE);

				if (!s)
					return NULL;
				s->next = p->slabs;
				p->slabs = s;
				p->cur = s->data;
				p->left = SLAB_SIZE;
				p->reserved += sizeof *s + SLAB_SIZE;
			}
			b = p->cur;
			p->cur += size;
			p->left -= size;
		}
		p->in_use += size;
		return b;
	}
#endif
	b = tl_malloc(n);
	if (b) {
		p->in_use += n;
		p->reserved += n;
	}
	return b;
}

void *pool_calloc(struct pool *p, size_t n)
{
	void *b = pool_alloc(p, n);

	if (b)
		memset(b, 0, n ? n : 1);
	return b;
}

void pool_free(struct pool *p, void *ptr, size_t n)
{
	if (!ptr)
		return;
	if (n == 0)
		n = 1;
#ifndef TL_POOL_BYPASS
	if (n <= POOL_MAX) {
		size_t c = class_of(n);

		memcpy(ptr, &p->free[c], sizeof(void *));
		p->free[c] = ptr;
		p->in_use -= c * POOL_STEP;
		return;
	}
#endif
	tl_free(ptr);
	p->in_use -= n;
	p->reserved -= n;
}

void pool_destroy(struct pool *p)
{
	struct pool_slab *s = p->slabs, *next;

	for (; s; s = next) {
		next = s->next;
		tl_free(s);
	}
	memset(p, 0, sizeof *p);
}
