/* keys.h - the per-rule table of key states, kept in the order they were last touched.
 *
 * Pipeline position: engine. Each rule has one table; a key is the JSON text of the event's
 * key value(s). Keys are chained in touch order (oldest first), so that keys whose state can
 * no longer matter are found at the head in O(1) each, and --max-keys evicts the oldest.
 *
 * Ownership: the table owns its kstate records; what `state` points to belongs to the caller,
 * which must release it before kt_remove.
 */
#ifndef TL_KEYS_H
#define TL_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

struct kstate {
	struct kstate *prev, *next; /* touch order, oldest first */
	struct kstate *hnext;       /* hash chain */
	uint64_t hash;
	int64_t touched;            /* event time of the last touch */
	int64_t last_alert;         /* time of the last written alert (suppress) */
	uint8_t has_alert;
	void *state;                /* the rule's state for this key (a threshold's window) */
	uint32_t key_len;
	char key[];                 /* the key as JSON text */
};

struct ktable {
	struct pool *pool;          /* where records come from (set before the first kt_add) */
	struct kstate **buckets;
	size_t n_buckets, n;
	struct kstate *oldest, *newest;
};

uint64_t kt_hash(const char *key, size_t len);
struct kstate *kt_find(const struct ktable *t, const char *key, size_t len, uint64_t hash);
/* A new zeroed record for a key not in the table, linked as the newest; NULL on allocation
 * failure. */
struct kstate *kt_add(struct ktable *t, const char *key, size_t len, uint64_t hash);
/* Marks k as touched at now and moves it to the newest end. */
void kt_touch(struct ktable *t, struct kstate *k, int64_t now);
/* Unlinks and frees k (not k->state). */
void kt_remove(struct ktable *t, struct kstate *k);
/* Frees the table's index; every record must have been removed. */
void kt_fini(struct ktable *t);

#endif
