/* alloc.h - the one allocation entry point of tripline, and a bump arena.
 *
 * Every module allocates through tl_malloc/tl_realloc so that a test can make the Nth allocation
 * fail (tl_alloc_fail_at) and prove that each failure path cleans up. Functions return NULL on
 * failure; none of them aborts.
 */
#ifndef TL_ALLOC_H
#define TL_ALLOC_H

#include <stddef.h>

void *tl_malloc(size_t n);
void *tl_calloc(size_t count, size_t size);
void *tl_realloc(void *p, size_t n);
void tl_free(void *p);
char *tl_strndup(const char *s, size_t len);

/* Grows *p (an array of elem-byte items with capacity *cap) to hold at least need items,
 * doubling; overflow-checked. Returns 0, or -1 with *p and *cap unchanged. */
int tl_grow(void **p, size_t *cap, size_t need, size_t elem);

/* Tests: when > 0, the allocation with this 1-based ordinal fails (and the counter stops). */
extern unsigned long tl_alloc_fail_at;
extern unsigned long tl_alloc_count;

/* Bump arena: many small allocations freed in one call. Zero-initialise the struct to start. */
struct arena_chunk;
struct arena {
	struct arena_chunk *head;
	size_t total; /* bytes reserved from the system, for --stats */
};

void *arena_alloc(struct arena *a, size_t n);            /* 16-byte aligned, zeroed */
char *arena_strndup(struct arena *a, const char *s, size_t len); /* NUL-terminated copy */
void arena_free(struct arena *a);

#endif
