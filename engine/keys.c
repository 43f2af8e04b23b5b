/* keys.c - key spaces: linear probing on stored hashes, entries with every rule's state. */
#include "keys.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc.h"
#include "bytes.h"

/* Tables from this size on sit on huge pages where the kernel allows: they are read at random,
 * one slot per key and event, and with 4 KiB pages most such reads would also miss the TLB.
 * Unlike the pool's slabs (pool.c), a table asks for them when it is made: it is filled at
 * random at once, so it would fault in every 4 KiB page of it anyway (bench/ case d took 1.09
 * times the time without). */
#define TABLE_HUGE (2 * 1024 * 1024)

/* Writes the key bytes of the string v at p (5 + its length); returns the end. */
static inline char *put_str(char *p, const struct tl_value *v)
{
	*p = 's';
	memcpy(p + 1, &v->len, 4);
	bytes_copy(p + 5, v->str, v->len);
	return p + 5 + v->len;
}

int kv_encode(struct obuf *b, const struct tl_value *slots, const uint32_t *key_slots, size_t n)
{
	size_t i, need = 0, at = b->len;
	char *p;

	if (n == 1 && slots[key_slots[0]].type == TL_STR) {
		/* the commonest key, one string: without the loops below */
		const struct tl_value *v = &slots[key_slots[0]];

		if (!(p = ob_room(b, 5 + (size_t)v->len)))
			return 0;
		b->len = (size_t)(put_str(p, v) - b->buf);
		return 0;
	}
	for (i = 0; i < n; i++) {
		const struct tl_value *v = &slots[key_slots[i]];

		if (v->type == TL_STR)
			need += 5 + (size_t)v->len;
		else if (v->type == TL_NUM)
			need += 9;
		else if (v->type == TL_BOOL)
			need += 1;
		else
			return -1;
	}
	p = ob_room(b, need);
	if (!p)
		return 0;
	for (i = 0; i < n; i++) {
		const struct tl_value *v = &slots[key_slots[i]];
		double num;

		switch (v->type) {
		case TL_STR:
			p = put_str(p, v);
			break;
		case TL_NUM:
			num = v->num == 0 ? 0 : v->num;
			*p++ = 'n';
			memcpy(p, &num, 8);
			p += 8;
			break;
		default:
			*p++ = v->b ? 't' : 'f';
			break;
		}
	}
	b->len = at + need;
	return 0;
}

void kv_json(struct obuf *b, const char *key, size_t len, int is_list)
{
	const char *p = key, *end = key + len;
	uint32_t n;
	double num;

	if (is_list)
		ob_lit(b, "[");
	while (p < end) {
		if (p != key)
			ob_lit(b, ",");
		switch (*p++) {
		case 's':
			memcpy(&n, p, 4);
			ob_quote(b, p + 4, n);
			p += 4 + n;
			break;
		case 'n':
			memcpy(&num, p, 8);
			ob_num(b, num);
			p += 8;
			break;
		default:
			ob_lit(b, p[-1] == 't' ? "true" : "false");
			break;
		}
	}
	if (is_list)
		ob_lit(b, "]");
}

/* Where the states begin, after the key and its terminator, aligned for them. */
static size_t states_at(size_t key_len)
{
	size_t a = _Alignof(struct kstate);

	return (sizeof(struct kentry) + key_len + 1 + a - 1) / a * a;
}

static size_t entry_size(const struct kspace *s, size_t key_len)
{
	return states_at(key_len) + s->n_rules * sizeof(struct kstate) + s->extra;
}

static const char *entry_key(const struct kentry *e)
{
	return e->key;
}

struct kentry *kt_entry(const struct kstate *k)
{
	return (struct kentry *)((const char *)k - k->off);
}

const char *kt_key(const struct kstate *k, size_t *len)
{
	const struct kentry *e = kt_entry(k);

	*len = e->key_len;
	return entry_key(e);
}

struct kentry *ks_find(const struct kspace *s, const char *key, size_t len, uint64_t hash)
{
	size_t i;

	if (!s->tab)
		return NULL;
	for (i = hash & s->mask;; i = (i + 1) & s->mask) {
		const struct kslot *sl = &s->tab[i];

		if (!sl->e)
			return NULL;
		if (sl->hash == hash && sl->e->key_len == len &&
		    bytes_eq(entry_key(sl->e), key, len))
			return sl->e;
	}
}

static void place(struct kslot *tab, size_t mask, uint64_t hash, struct kentry *e)
{
	size_t i = hash & mask;

	while (tab[i].e)
		i = (i + 1) & mask;
	tab[i].hash = hash;
	tab[i].e = e;
}

/* A zeroed table of size slots; *mem is what to free. */
static struct kslot *table_new(size_t size, void **mem)
{
	size_t bytes = size * sizeof(struct kslot);
	uintptr_t at;

	if (bytes < TABLE_HUGE)
		return *mem = tl_calloc(size, sizeof(struct kslot));
	if (bytes > SIZE_MAX - TABLE_HUGE || !(*mem = tl_calloc(1, bytes + TABLE_HUGE)))
		return NULL;
	at = ((uintptr_t)*mem + TABLE_HUGE - 1) & ~(uintptr_t)(TABLE_HUGE - 1);
#ifdef MADV_HUGEPAGE
	madvise((void *)at, bytes, MADV_HUGEPAGE); /* a hint: failure is harmless */
#endif
	return (struct kslot *)at;
}

static int grow(struct kspace *s)
{
	size_t size = s->tab ? 2 * (s->mask + 1) : 16, i;
	struct kslot *nt;
	void *mem;

	if (size > SIZE_MAX / sizeof *nt)
		return -1;
	nt = table_new(size, &mem);
	if (!nt)
		return -1;
	for (i = 0; s->tab && i <= s->mask; i++)
		if (s->tab[i].e)
			place(nt, size - 1, s->tab[i].hash, s->tab[i].e);
	if (s->table_bytes)
		*s->table_bytes += (size - (s->tab ? s->mask + 1 : 0)) * sizeof *nt;
	tl_free(s->tab_mem);
	s->tab = nt;
	s->tab_mem = mem;
	s->mask = size - 1;
	return 0;
}

struct kentry *ks_add(struct kspace *s, const char *key, size_t len, uint64_t hash)
{
	struct kentry *e;

	if (len > UINT32_MAX / 2 || ((!s->tab || 2 * (s->n + 1) > s->mask + 1) && grow(s)))
		return NULL;
	e = pool_alloc(s->pool, entry_size(s, len));
	if (!e)
		return NULL;
	e->hash = hash;
	e->key_len = (uint32_t)len;
	e->live = 0;
	e->ks_off = (uint32_t)states_at(len);
	bytes_copy(e->key, key, len);
	e->key[len] = '\0';
	place(s->tab, s->mask, hash, e);
	s->n++;
	return e;
}

/* Takes e out of the table, moving back the entries after it that probed past its place
 * (no tombstones, so lookups stay short). */
static void ks_remove(struct kspace *s, struct kentry *e)
{
	size_t i = e->hash & s->mask, j;

	while (s->tab[i].e != e)
		i = (i + 1) & s->mask;
	for (j = (i + 1) & s->mask; s->tab[j].e; j = (j + 1) & s->mask) {
		size_t home = s->tab[j].hash & s->mask;

		/* the entry at j may fill the hole at i when its home is not in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			s->tab[i] = s->tab[j];
			i = j;
		}
	}
	s->tab[i].e = NULL;
	s->n--;
	pool_free(s->pool, e, entry_size(s, e->key_len));
}

void ks_fini(struct kspace *s)
{
	if (s->table_bytes && s->tab)
		*s->table_bytes -= (s->mask + 1) * sizeof *s->tab;
	tl_free(s->tab_mem);
	s->tab = NULL;
	s->tab_mem = NULL;
	s->mask = s->n = 0;
}

static void unlink_order(struct ktable *t, struct kstate *k)
{
	if (t->look == k)
		t->look = k->next;
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

struct kstate *kt_live(struct ktable *t, struct kentry *e, int64_t now)
{
	struct kstate *k = kt_state(t, e);

	k->off = (uint32_t)((char *)k - (char *)e);
	k->touched = now;
	k->last_alert = 0;
	k->state = NULL;
	k->has_alert = 0;
	e->live |= (uint64_t)1 << t->idx;
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

void kt_move(struct ktable *t, struct ktable *to, struct kstate *k)
{
	unlink_order(t, k);
	t->n--;
	link_newest(to, k);
	to->n++;
}

int kt_remove(struct ktable *t, struct kstate *k)
{
	struct kentry *e = kt_entry(k);

	unlink_order(t, k);
	t->n--;
	e->live &= ~((uint64_t)1 << t->idx);
	if (e->live)
		return 0;
	ks_remove(t->space, e);
	return 1;
}
