/* pool.h - size-classed pool for per-key state.
 *
 * Pipeline position: engine. Key states, windows, their rings and distinct values are many,
 * small and short-lived; taking them from a pool keeps malloc and free off the hot path and
 * makes tearing down an engine with a million keys cheap. Blocks up to POOL_MAX bytes come from
 * slabs (64 KiB, then 2 MiB ones, offered for huge pages once full: see pool.c) and go back to
 * a free list of their size class; larger ones go to tl_malloc, on a list of the pool's. Callers
 * pass the size again when they free (as they know it). pool_destroy releases every block at
 * once, so that an engine need not visit its states to end.
 *
 * With TL_POOL_BYPASS (the sanitizer build) every block is its own tl_malloc, so that
 * AddressSanitizer sees each use after free, and is on no list: each must be freed, so that
 * a block lost while it was in use is reported as a leak.
 */
#ifndef TL_POOL_H
#define TL_POOL_H

#include <stddef.h>
#include <string.h>

#define POOL_MAX 1024
#define POOL_STEP 16

struct pool_slab;
struct pool_big;

struct pool {
	void *free[POOL_MAX / POOL_STEP + 1]; /* free lists by size class */
	struct pool_slab *slabs;
	struct pool_big *big; /* the blocks over POOL_MAX (but in the sanitizer build) */
	char *cur;        /* bump region in the newest slab */
	size_t left;
	size_t in_use;    /* bytes handed out and not given back, for --stats */
	size_t reserved;  /* bytes taken from the system */
};

/* What pool_alloc and pool_free do past their inline common case (a block from or to a free
 * list): the bump region, new slabs, large blocks. */
void *pool_alloc_more(struct pool *p, size_t n);
void pool_free_more(struct pool *p, void *ptr, size_t n);

/* n bytes (16-byte aligned, not zeroed), or NULL. */
static inline void *pool_alloc(struct pool *p, size_t n)
{
#ifndef TL_POOL_BYPASS
	size_t c = (n + POOL_STEP - 1) / POOL_STEP;
	void *b;

	if (n - 1 < POOL_MAX && (b = p->free[c])) {
		memcpy(&p->free[c], b, sizeof(void *));
		p->in_use += c * POOL_STEP;
		return b;
	}
#endif
	return pool_alloc_more(p, n);
}

void *pool_calloc(struct pool *p, size_t n);

/* Gives back a block of pool_alloc(p, n); NULL is ignored. */
static inline void pool_free(struct pool *p, void *ptr, size_t n)
{
#ifndef TL_POOL_BYPASS
	if (ptr && n - 1 < POOL_MAX) {
		size_t c = (n + POOL_STEP - 1) / POOL_STEP;

		memcpy(ptr, &p->free[c], sizeof(void *));
		p->free[c] = ptr;
		p->in_use -= c * POOL_STEP;
		return;
	}
#endif
	pool_free_more(p, ptr, n);
}

/* Whether pool_destroy releases the blocks still handed out: it does, but in the sanitizer
 * build, whose blocks must each be freed. */
#ifdef TL_POOL_BYPASS
#define POOL_DESTROY_FREES_ALL 0
#else
#define POOL_DESTROY_FREES_ALL 1
#endif

/* Releases the slabs and, where POOL_DESTROY_FREES_ALL, every block. */
void pool_destroy(struct pool *p);

#endif
