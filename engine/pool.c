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
 * allocation is never touched, so it costs address space, not memory. */
#define HUGE_SLAB (2 * 1024 * 1024)
#define HUGE_AFTER (8 * 1024 * 1024)

struct pool_slab {
	struct pool_slab *next;
	char *data;
	size_t size;
};

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
#endif
	tl_free(ptr);
	p->in_use -= n;
	p->reserved -= n;
}

/* ---- the line log ---- */

/* Chunks are aligned to their size, so that a line's chunk is its address rounded down; they
 * are cut from regions of LOG_REGION bytes, aligned too (no chunk wastes memory on its
 * alignment). A line too long for a chunk gets one of its own, as long as it needs (aligned
 * the same way: the line starts within its first LOG_CHUNK bytes), freed with the line. */
#define LOG_CHUNK (64 * 1024)
#define LOG_REGION (2 * 1024 * 1024)

struct pool_chunk {
	struct pool_chunk *next;      /* p->chunks (a region's first chunk only) */
	struct pool_chunk *next_free; /* p->log_free */
	void *raw;                    /* as tl_malloc gave it (the same) */
	size_t size;                  /* LOG_CHUNK, or more for a line of its own */
	size_t refs;                  /* lines not given back */
};

#define LOG_HEAD ((sizeof(struct pool_chunk) + 63) & ~(size_t)63)

#ifndef TL_POOL_BYPASS
/* A block of size bytes, aligned to align, for a chunk header at its start, or NULL. */
static struct pool_chunk *aligned_chunk(size_t size, size_t align)
{
	void *raw = size <= SIZE_MAX - align ? tl_malloc(size + align) : NULL;
	struct pool_chunk *c;

	if (!raw)
		return NULL;
	c = (struct pool_chunk *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	c->raw = raw;
	c->size = size;
	c->refs = 0;
	c->next = c->next_free = NULL;
	return c;
}

/* Appends lines to a chunk with no line left (reused, or new: the next of the newest region,
 * or the first of a new one); 0 or -1. */
static int log_next(struct pool *p)
{
	struct pool_chunk *c = p->log_free;

	if (c) {
		p->log_free = c->next_free;
	} else {
		if (p->log_region_at == p->log_region_end) {
			struct pool_chunk *r = aligned_chunk(LOG_REGION, LOG_REGION);

			if (!r)
				return -1;
			r->next = p->chunks;
			p->chunks = r;
			p->log_region_at = r;
			p->log_region_end = (char *)r + LOG_REGION;
		}
		c = p->log_region_at;
		p->log_region_at = (char *)c + LOG_CHUNK;
		c->size = LOG_CHUNK;
		c->refs = 0;
		p->reserved += LOG_CHUNK;
	}
	/* the chunk left behind waits for its lines, unless none is left */
	if (p->log && !p->log->refs) {
		p->log->next_free = p->log_free;
		p->log_free = p->log;
	}
	p->log = c;
	p->log_cur = (char *)c + LOG_HEAD;
	p->log_left = LOG_CHUNK - LOG_HEAD;
	return 0;
}
#endif

/* Out of line: one call per line costs nothing beside the copy, and inlined by link-time
 * optimisation into a caller whose pool is a local, gcc 12 takes the chunk for a part of that
 * struct and warns of an overflow that cannot happen. */
__attribute__((noinline)) char *pool_line(struct pool *p, const char *s, size_t n)
{
	char *line;

#ifdef TL_POOL_BYPASS
	line = n < SIZE_MAX ? tl_malloc(n + 1) : NULL;
	if (line)
		p->reserved += n + 1;
#else
	struct pool_chunk *c;

	if (n >= LOG_CHUNK - LOG_HEAD) {
		/* a line of its own */
		if (n > SIZE_MAX - LOG_HEAD - 1 || !(c = aligned_chunk(LOG_HEAD + n + 1, LOG_CHUNK)))
			return NULL;
		p->reserved += c->size;
		line = (char *)c + LOG_HEAD;
	} else {
		if (n + 1 > p->log_left && log_next(p))
			return NULL;
		c = p->log;
		line = p->log_cur;
		p->log_cur += n + 1;
		p->log_left -= n + 1;
	}
	c->refs++;
#endif
	if (!line)
		return NULL;
	memcpy(line, s, n);
	line[n] = '\0';
	p->in_use += n + 1;
	return line;
}

void pool_line_free(struct pool *p, char *line, size_t n)
{
	if (!line)
		return;
	p->in_use -= n + 1;
#ifdef TL_POOL_BYPASS
	tl_free(line);
	p->reserved -= n + 1;
#else
	{
		struct pool_chunk *c =
			(struct pool_chunk *)((uintptr_t)line & ~(uintptr_t)(LOG_CHUNK - 1));

		if (--c->refs || c == p->log)
			return;
		if (c->size != LOG_CHUNK) {
			p->reserved -= c->size;
			tl_free(c->raw);
			return;
		}
		c->next_free = p->log_free;
		p->log_free = c;
	}
#endif
}

void pool_destroy(struct pool *p)
{
	struct pool_slab *s = p->slabs, *next;
	struct pool_chunk *c = p->chunks, *cn;

	for (; s; s = next) {
		next = s->next;
		tl_free(s);
	}
	for (; c; c = cn) {
		cn = c->next;
		tl_free(c->raw);
	}
	memset(p, 0, sizeof *p);
}
