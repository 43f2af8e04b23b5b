/* keys.h - key spaces: per key value, the state of every rule keyed the same way.
 *
 * Pipeline position: engine. Rules with the same key (the same fields, given the same way)
 * share a key space: one open-addressing table from the key (the JSON text of the key
 * value(s)) to an entry that holds, side by side, the key state of each rule of the space.
 * An event then costs one lookup per key space, not one per rule, and the states of one key
 * sit together in memory.
 *
 * Each rule still keeps its own key states in the order they were last touched (oldest
 * first), so that states that can no longer matter are found at the head in O(1) each and
 * --max-keys evicts the oldest. A state is live while the rule has it; an entry is freed when
 * none of its states is live.
 *
 * Ownership: entries come from the space's pool. What `state` points to belongs to the
 * caller, which must release it before kt_remove (it may lie in the entry's extra bytes).
 */
#ifndef TL_KEYS_H
#define TL_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "obuf.h"
#include "pool.h"
#include "value.h"

/* Keys as bytes. A key is held and compared as the bytes of its values, not as JSON text:
 * per key field a type byte, then 's' a 32-bit length and the string's bytes, 'n' a double
 * (-0 as 0: one key), 't' or 'f' nothing. Two keys are equal exactly when their bytes are,
 * and making the bytes is a copy, where JSON text needed quoting; the text is written only
 * for an alert (kv_json). */

/* Appends the key bytes of the values slots[key_slots[0 .. n)] to b: 0, or -1 when one is
 * missing, null, an array or an object (nothing appended then; b->oom on allocation
 * failure). */
int kv_encode(struct obuf *b, const struct tl_value *slots, const uint32_t *key_slots, size_t n);
/* Writes key bytes as the alert's JSON: the value, or an array of them for a list key. */
void kv_json(struct obuf *b, const char *key, size_t len, int is_list);

struct kstate {
	struct kstate *prev, *next; /* the rule's live states in touch order, oldest first */
	int64_t touched;            /* event time of the last touch */
	int64_t last_alert;         /* time of the last written alert (suppress) */
	void *state;                /* the rule's state for this key (window, runs) */
	uint32_t off;               /* bytes from the start of its entry */
	uint8_t has_alert;
};

/* An entry: this header, the key text right after it (so that a lookup reads one cache
 * line), then one state per rule of the space, at ks_off, then the space's extra bytes. Which
 * states are live is a bit each in the header: a state that is not is never written, so that
 * a key that some rules of its space keep costs no line of the others' states, and whether a
 * rule has a state is read from the line the lookup read. */
#define KS_MAX_RULES 64 /* rules with state in one space: a bit each in an entry's live */

struct kentry {
	uint64_t hash;
	uint64_t live;              /* bit i: rule i's state is live */
	uint32_t key_len;
	uint32_t ks_off;
	char key[];
};

struct kslot {
	uint64_t hash;
	struct kentry *e;           /* NULL: empty */
};

struct kspace {
	struct pool *pool;
	size_t *table_bytes;        /* a total the table's size is counted in (or NULL) */
	uint32_t n_rules;           /* rules with a state in each entry, at most KS_MAX_RULES */
	uint32_t extra;             /* bytes each entry holds after the states, for the own state
				     * of a space's only rule (its window: see engine.c); or 0 */
	struct kslot *tab;          /* at most half full */
	void *tab_mem;              /* the allocation tab is in (large tables are aligned) */
	size_t mask, n;
};

/* A rule's view of its space. */
struct ktable {
	struct kspace *space;
	uint32_t idx;
	struct kstate *oldest, *newest;
	size_t n;
	struct kstate *look;        /* a state of the list that its owner walks ahead of expiry
				     * (engine.c), or NULL; when it leaves the list, the one after
				     * it takes its place */
};

/* The entry of a key, or NULL. The hash is the caller's: any function of the key that it
 * always computes the same way (the engine hashes the key values). */
struct kentry *ks_find(const struct kspace *s, const char *key, size_t len, uint64_t hash);
/* A new entry for a key not in the space, with no live state; NULL on allocation failure. */
struct kentry *ks_add(struct kspace *s, const char *key, size_t len, uint64_t hash);
/* Asks for the table slot where entry e of s begins its probe (a hint: what ks_remove reads
 * first, at a place in the table as random as the key). */
static inline void ks_prefetch_slot(const struct kspace *s, const struct kentry *e)
{
	__builtin_prefetch(&s->tab[e->hash & s->mask]);
}
/* The extra bytes of entry e of s (kspace.extra), after its states. */
static inline void *ks_extra(const struct kspace *s, struct kentry *e)
{
	return (char *)e + e->ks_off + s->n_rules * sizeof(struct kstate);
}
/* Frees the table; every entry must have gone. */
void ks_fini(struct kspace *s);

/* The key text of a state. */
const char *kt_key(const struct kstate *k, size_t *len);
/* The state of rule t in entry e, live or not (one that is not holds whatever its bytes
 * were: only kt_live makes it anything). */
static inline struct kstate *kt_state(const struct ktable *t, struct kentry *e)
{
	return (struct kstate *)((char *)e + e->ks_off) + t->idx;
}
/* Whether rule t has a live state in entry e. */
static inline int kt_is_live(const struct ktable *t, const struct kentry *e)
{
	return (int)(e->live >> t->idx & 1);
}
/* Makes the state of rule t in entry e live (zeroed, touched at now, the newest) and returns
 * it; it must not be live. */
struct kstate *kt_live(struct ktable *t, struct kentry *e, int64_t now);
/* Marks k as touched at now and moves it to the newest end. */
void kt_touch(struct ktable *t, struct kstate *k, int64_t now);
/* Moves the live state k from t to the newest end of to, another list of the same rule (a
 * rule may keep its states in two lists, each in touch order: see engine.c). */
void kt_move(struct ktable *t, struct ktable *to, struct kstate *k);
/* The entry a state belongs to. */
struct kentry *kt_entry(const struct kstate *k);
/* Ends a live state (not k->state); frees its entry when no state of it is live. Returns 1
 * when the entry was freed. */
int kt_remove(struct ktable *t, struct kstate *k);

#endif
