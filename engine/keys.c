/* keys.c - per-rule key tables: chained hashing plus a touch-ordered list. */
#include "keys.h"

#include <string.h>

#include "alloc.h"

uint64_t kt_hash(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

struct kstate *kt_find(const struct ktable *t, const char *key, size_t len, uint64_t hash)
{
	struct kstate *k;

	if (!t->n_buckets)
		return NULL;
	for (k = t->buckets[hash & (t->n_buckets - 1)]; k; k = k->hnext)
		if (k->hash == hash && k->key_len == len && memcmp(k->key, key, len) == 0)
			return k;
	return NULL;
}

static int rehash(struct ktable *t)
{
	size_t nb = t->n_buckets ? t->n_buckets * 2 : 16, i;
	struct kstate **nbk;

	if (nb > SIZE_MAX / sizeof *nbk)
		return -1;
	nbk = tl_calloc(nb, sizeof *nbk);
	if (!nbk)
		return -1;
	for (i = 0; i < t->n_buckets; i++)
		while (t->buckets[i]) {
			struct kstate *k = t->buckets[i];

			t->buckets[i] = k->hnext;
			k->hnext = nbk[k->hash & (nb - 1)];
			nbk[k->hash & (nb - 1)] = k;
		}
	tl_free(t->buckets);
	t->buckets = nbk;
	t->n_buckets = nb;
	return 0;
}

static void unlink_order(struct ktable *t, struct kstate *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		t->oldest = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		t->newest = k->prev;
	k->prev = k->next = NULL;
}

static void link_newest(struct ktable *t, struct kstate *k)
{
	k->prev = t->newest;
	k->next = NULL;
	if (t->newest)
		t->newest->next = k;
	else
		t->oldest = k;
	t->newest = k;
}

struct kstate *kt_add(struct ktable *t, const char *key, size_t len, uint64_t hash)
{
	struct kstate *k;

	if (len > UINT32_MAX || (t->n >= t->n_buckets && rehash(t)))
		return NULL;
	k = pool_calloc(t->pool, sizeof *k + len + 1);
	if (!k)
		return NULL;
	k->hash = hash;
	k->key_len = (uint32_t)len;
	memcpy(k->key, key, len);
	k->hnext = t->buckets[hash & (t->n_buckets - 1)];
	t->buckets[hash & (t->n_buckets - 1)] = k;
	link_newest(t, k);
	t->n++;
	return k;
}

void kt_touch(struct ktable *t, struct kstate *k, int64_t now)
{
	k->touched = now;
	if (t->newest == k)
		return;
	unlink_order(t, k);
	link_newest(t, k);
}

void kt_remove(struct ktable *t, struct kstate *k)
{
	struct kstate **pp = &t->buckets[k->hash & (t->n_buckets - 1)];

	while (*pp != k)
		pp = &(*pp)->hnext;
	*pp = k->hnext;
	unlink_order(t, k);
	pool_free(t->pool, k, sizeof *k + k->key_len + 1);
	t->n--;
}

void kt_fini(struct ktable *t)
{
	tl_free(t->buckets);
	memset(t, 0, sizeof *t);
}
