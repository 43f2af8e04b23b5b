/* pool.c - slabs and per-size free lists. */
#include "pool.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc.h"

#define SLAB_SIZE (64 * 1024)
/* Once the pool is big, slabs are 2 MiB and aligned, and each is offered to the kernel for
 * huge pages once the bump region has left it (it is full): key states spread over hundreds of
 * megabytes are read in random order, and with 4 KiB pages most cache misses also miss the TLB.
 * Not before it is full: a slab advised at once is faulted in as a huge page, and on a virtual
 * machine whose host takes back the memory a guest frees (free page reporting), a huge page
 * fault on such memory costs about five times the 4 KiB faults of the same bytes (2.4 against
 * 0.46 s per GiB here): bench/ case b, 530 MB, spent a quarter of its time zeroing huge pages.
 * Advised when full, a slab is faulted in 4 KiB pages as it fills, and khugepaged, the kernel's
 * own thread, turns it into a huge page in the background: a run of a few seconds pays only
 * the cheap faults, a long one gets huge pages as its state settles. The unaligned rest of the
 * allocation is never touched, so it costs address space, not memory.
 * A new 2 MiB slab is faulted in at once, in one call (MADV_POPULATE_WRITE, Linux 5.14), rather
 * than a fault per 4 KiB page as the bump region reaches it: the pages and their zeroing are
 * the same, but each fault taken alone costs a trap into the kernel and its handling (bench/
 * case b, 530 MB: 0.43 to 0.30 s of system time). The slab is about to be filled anyway: at
 * most one slab is resident before its time. */
#define HUGE_SLAB (2 * 1024 * 1024)
#define HUGE_AFTER (8 * 1024 * 1024)

struct pool_slab {
	struct pool_slab *next;
	char *data;
	size_t size;
};

/* The header of a block over POOL_MAX: its place on the pool's list. 16 bytes, so that the
 * block after it keeps malloc's alignment. */
struct pool_big {
	struct pool_big *prev, *next;
};

_Static_assert(sizeof(struct pool_big) == 16, "a large block stays 16-byte aligned");

#ifndef TL_POOL_BYPASS
/* A new slab for the bump region; 0 or -1. */
static int new_slab(struct pool *p)
{
	size_t size = p->reserved >= HUGE_AFTER ? HUGE_SLAB : SLAB_SIZE;
	size_t extra = size == HUGE_SLAB ? HUGE_SLAB : 0;
	struct pool_slab *s = tl_malloc(sizeof *s + 16 + size + extra);
	uintptr_t at;

	if (!s)
		return -1;
	at = ((uintptr_t)(s + 1) + 15) & ~(uintptr_t)15;
	if (extra)
		at = ((uintptr_t)(s + 1) + HUGE_SLAB - 1) & ~(uintptr_t)(HUGE_SLAB - 1);
#ifdef MADV_HUGEPAGE
	if (p->slabs && p->slabs->size == HUGE_SLAB) /* the slab just filled */
		madvise(p->slabs->data, HUGE_SLAB, MADV_HUGEPAGE); /* a hint: failure is harmless */
#endif
#ifdef MADV_POPULATE_WRITE
	if (size == HUGE_SLAB) /* the slab just made */
		madvise((void *)at, HUGE_SLAB, MADV_POPULATE_WRITE); /* a hint: failure is harmless */
#endif
	s->data = (char *)at;
	s->size = size;
	s->next = p->slabs;
	p->slabs = s;
	p->cur = s->data;
	p->left = size;
	p->reserved += size;
	return 0;
}

static size_t class_of(size_t n)
{
	return (n + POOL_STEP - 1) / POOL_STEP;
}
#endif

void *pool_alloc_more(struct pool *p, size_t n)
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
			if (p->left < size && new_slab(p))
				return NULL;
			b = p->cur;
			p->cur += size;
			p->left -= size;
		}
		p->in_use += size;
		return b;
	}
	{
		struct pool_big *h = n > SIZE_MAX - sizeof *h ? NULL : tl_malloc(sizeof *h + n);

		if (!h)
			return NULL;
		h->prev = NULL;
		h->next = p->big;
		if (p->big)
			p->big->prev = h;
		p->big = h;
		b = h + 1;
	}
#else
	b = tl_malloc(n);
	if (!b)
		return NULL;
#endif
	p->in_use += n;
	p->reserved += n;
	return b;
}

void *pool_calloc(struct pool *p, size_t n)
{
	void *b = pool_alloc(p, n);

	if (b)
		memset(b, 0, n ? n : 1);
	return b;
}

void pool_free_more(struct pool *p, void *ptr, size_t n)
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
	{
		struct pool_big *h = (struct pool_big *)ptr - 1;

		if (h->prev)
			h->prev->next = h->next;
		else
			p->big = h->next;
		if (h->next)
			h->next->prev = h->prev;
		ptr = h;
	}
#endif
	tl_free(ptr);
	p->in_use -= n;
	p->reserved -= n;
}

void pool_destroy(struct pool *p)
{
	struct pool_slab *s = p->slabs, *next;
	struct pool_big *b = p->big, *b_next;

	for (; s; s = next) {
		next = s->next;
		tl_free(s);
	}
	for (; b; b = b_next) {
		b_next = b->next;
		tl_free(b);
	}
	memset(p, 0, sizeof *p);
}
