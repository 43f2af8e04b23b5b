/* json.c - the NDJSON event decoder: one line of text -> the values of the fields rules read.
 *
 * Pipeline position: parser; the hot path, called once per input event (see json.h).
 *
 * Field table: a trie of path segments. jd_fields_freeze gives every node an open-addressing
 * hash table of its children and a contiguous range [lo, hi) of a DFS-ordered list of slot
 * numbers that covers its whole subtree. When a key matches a node that has children, the
 * decoder clears that range first, so a later duplicate key drops whatever an earlier one set
 * below it: the last key wins, also for prefixes.
 *
 * Decoder: one pass over the line with an explicit stack of at most JD_MAX_DEPTH frames (no
 * recursion). An object is "tracked" while it sits on a registered path: only then are its keys
 * looked up. Everything else is validated and dropped. Strings are scanned 16 bytes at a time
 * with SSE2 (8 at a time as words elsewhere) for the bytes that need a closer look ('"', '\\',
 * control characters, non-ASCII); plain text up to the quote, the common case, is handled
 * inline and the rest out of line. Tokens that follow each other without whitespace, the
 * usual NDJSON, take no detour through the whitespace skipper. Unescaped strings go to a
 * scratch buffer that is sized to the line once, so pointers into it stay valid for the whole
 * call and no allocation happens per line after warm-up.
 */
#include "json.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SSE2 is part of x86-64; JD_NO_SIMD forces the portable code (for tests). */
#if defined(__SSE2__) && !defined(JD_NO_SIMD)
#define JD_SSE2 1
#include <emmintrin.h>
#else
#define JD_SSE2 0
#endif

#include "alloc.h"
#include "hash.h"

/* Keeps rare paths out of the hot loop. */
#if defined(__GNUC__)
#define JD_NOINLINE __attribute__((noinline))
#else
#define JD_NOINLINE
#endif

/* Error texts, in one table. The structural ones come first (up to JD_E_NUMBER): found at the
 * end of the line they read "unexpected end of line" instead, which says more. */
#define JD_ERRORS(X)                                                    \
	X(JD_E_KEY_OR_END, "expected a key or '}'")                     \
	X(JD_E_KEY, "expected a key")                                   \
	X(JD_E_COLON, "expected ':'")                                   \
	X(JD_E_VALUE, "expected a value")                               \
	X(JD_E_OBJ_END, "expected '}' or ','")                          \
	X(JD_E_ARR_END, "expected ']' or ','")                          \
	X(JD_E_LITERAL, "invalid literal")                              \
	X(JD_E_NUMBER, "invalid number")                                \
	X(JD_E_EOL, "unexpected end of line")                           \
	X(JD_E_NOT_OBJECT, "expected an object")                        \
	X(JD_E_TRAILING, "trailing characters after the object")        \
	X(JD_E_DEPTH, "nesting deeper than 64")                         \
	X(JD_E_UNTERMINATED, "unterminated string")                     \
	X(JD_E_CONTROL, "control character in string")                  \
	X(JD_E_ESCAPE, "invalid escape in string")                      \
	X(JD_E_UESCAPE, "invalid \\u escape")                           \
	X(JD_E_SURROGATE, "lone surrogate in \\u escape")               \
	X(JD_E_UTF8, "invalid UTF-8 in string")                         \
	X(JD_E_RANGE, "number out of range")                            \
	X(JD_E_NUL, "NUL byte")                                         \
	X(JD_E_TOO_LONG, "value longer than 4 GiB")                     \
	X(JD_E_NOMEM, "out of memory")

#define JD_ENUM(name, text) name,
#define JD_TEXT(name, text) text,
enum jd_err { JD_ERRORS(JD_ENUM) };
static const char *const jd_messages[] = { JD_ERRORS(JD_TEXT) };

_Static_assert(JD_MAX_DEPTH == 64, "update the text of JD_E_DEPTH");

/* A trie node: one path segment. Children always have larger indices than their parent. */
struct jd_node {
	char *name;         /* owned copy of the segment; NULL for the root */
	uint32_t len;
	int32_t slot;       /* -1 when the node is only a prefix */
	uint32_t parent;
	uint32_t first_kid; /* build-time child list; 0 = none (the root is never a child) */
	uint32_t next_sib;
	uint32_t n_kids;
	uint32_t lo, hi;    /* after freeze: the subtree's slots are order[lo .. hi) */
	uint32_t tab_off;   /* after freeze: children hash table at tab[tab_off .. +tab_mask] */
	uint32_t tab_mask;
	uint32_t all_raw;   /* after freeze: every child is in the raw-text table (jd_raw_add) */
	uint32_t guess_at;  /* after freeze: 2 * its index, its first place in a decoder's guess */
};

/* One entry of a children hash table; node == NULL marks an empty entry. */
struct jd_kid {
	uint64_t head;               /* the name's first 8 bytes, zero-padded (little-endian) */
	uint64_t len;
	const struct jd_node *node;  /* into the frozen table's nodes, which no longer move */
	const char *name;
};

/* One entry of a raw-text table: a child's name as it appears in plain NDJSON, followed by
 * '":' (the key's closing quote and the colon), for a match against the line before the key
 * is scanned. Only names of 1 to JD_RAW_MAX printable ASCII bytes other than '"' and '\\' get
 * one: a key whose text equals such a name is valid as it stands. node == NULL: empty. */
struct jd_raw {
	uint64_t text[2];            /* the 16 bytes from the name on, as two jd_load8 words */
	uint64_t mask[2];            /* the bytes of text that count: the name, '"' and ':' */
	const struct jd_node *node;
};

#define JD_RAW_MAX 14

/* A key of no entry as a decoder saw it at a place: its text from the name up to the colon
 * (the closing quote, any blanks and the colon included), masked as jd_raw holds a name's;
 * skip: the length of that text (0: none). */
struct jd_other {
	uint64_t text[2];
	uint64_t mask[2];
	uint32_t skip;
};

/* Places for the keys of no entry in a row after one place (more share the last). */
#define JD_CHAIN 8

struct jd_fields {
	struct jd_node *nodes; /* nodes[0] is the root */
	size_t n_nodes, cap_nodes;
	size_t n_slots;
	uint32_t *order;       /* slot numbers in DFS order */
	struct jd_kid *tab;    /* all children hash tables */
	struct jd_raw *raw;    /* raw-text tables, shaped as tab (same offsets and masks) */
	uint32_t *reg;         /* while registering: node indices by (parent, name), 0 empty */
	size_t reg_mask;
	int frozen;
};

struct jd_decoder {
	const struct jd_fields *f; /* not owned; must outlive the decoder */
	char *scratch;             /* unescaped strings and long number copies */
	size_t scratch_cap;
	size_t used;               /* scratch bytes of the last line decoded */
	/* The raw-text entry of the key seen last at each place of a tracked object: at 2 * i
	 * the key after node i's own, at 2 * i + 1 the first key of node i, and from 2 * n_nodes
	 * on the places of the keys of no entry that follow one of those places, JD_CHAIN of
	 * them for each (see after_other). Lines of one stream list their keys in one order, so
	 * the key at a place is most often the one seen there before: one comparison, where the
	 * table takes a hash and a probe that wait on the key's bytes. NULL: none, or a key of
	 * no entry last time. */
	const struct jd_raw **guess;
	/* Per place, the key of no entry seen there last, when it had no escape and its text
	 * up to the colon fits in 16 bytes: the same text is the same key, of no entry again,
	 * and is passed over with one comparison. */
	struct jd_other *other;
	uint32_t *after_other;     /* per place, the place of the key after one of no entry */
};

/* One open array or object. */
struct jd_frame {
	const struct jd_node *node; /* tracked object: look its keys up here; else NULL */
	const unsigned char *start; /* the '{' or '[' */
	int32_t slot;               /* slot that receives the raw text on close, or -1 */
	uint32_t place;             /* its next key's place in guess, kept while a child is open */
	int is_arr;
	unsigned char closer;       /* '}' or ']' */
};

/* Per-call state shared by the helpers. */
struct jd_ctx {
	const unsigned char *base, *end;
	struct jd_decoder *d;
	struct jd_error *err;
	size_t used; /* scratch bytes holding values of this line */
};

/* ---- field table ---- */

struct jd_fields *jd_fields_new(void)
{
	struct jd_fields *f = tl_calloc(1, sizeof *f);
	void *nodes = NULL;

	if (!f)
		return NULL;
	if (tl_grow(&nodes, &f->cap_nodes, 1, sizeof *f->nodes))
		goto free_f;
	f->nodes = nodes;
	memset(&f->nodes[0], 0, sizeof f->nodes[0]);
	f->nodes[0].slot = -1;
	f->n_nodes = 1;
	return f;

free_f:
	tl_free(f);
	return NULL;
}

void jd_fields_free(struct jd_fields *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->n_nodes; i++)
		tl_free(f->nodes[i].name);
	tl_free(f->nodes);
	tl_free(f->order);
	tl_free(f->tab);
	tl_free(f->raw);
	tl_free(f->reg);
	tl_free(f);
}

/* The place of (parent, name) in the registration table: where its node is, or the empty
 * place where it would go (rules with tens of thousands of fields must not take minutes). */
static size_t jd_reg_place(const struct jd_fields *f, uint32_t parent, const char *name,
			   size_t len)
{
	uint64_t h = tl_hash_feed(tl_hash_feed(TL_HASH_SEED, &parent, sizeof parent), name, len);
	size_t i = (size_t)tl_hash_end(h) & f->reg_mask;

	for (;; i = (i + 1) & f->reg_mask) {
		const struct jd_node *n = &f->nodes[f->reg[i]];

		if (!f->reg[i] || (n->parent == parent && n->len == len &&
				   (!len || memcmp(n->name, name, len) == 0)))
			return i;
	}
}

/* Makes room in the registration table for one more node; 0 or -1. */
static int jd_reg_room(struct jd_fields *f)
{
	size_t size = f->reg ? 2 * (f->reg_mask + 1) : 64, i;
	uint32_t *old = f->reg;

	if (f->reg && 2 * f->n_nodes < f->reg_mask + 1)
		return 0;
	f->reg = tl_calloc(size, sizeof *f->reg);
	if (!f->reg) {
		f->reg = old;
		return -1;
	}
	f->reg_mask = size - 1;
	for (i = 1; i < f->n_nodes; i++)
		f->reg[jd_reg_place(f, f->nodes[i].parent, f->nodes[i].name, f->nodes[i].len)] =
			(uint32_t)i;
	tl_free(old);
	return 0;
}

/* Appends a child named name[0 .. len) to parent; returns its index, or 0 on failure. */
static uint32_t jd_node_add(struct jd_fields *f, uint32_t parent, const char *name, size_t len)
{
	void *nodes = f->nodes;
	struct jd_node *n;
	char *copy;

	if (f->n_nodes >= UINT32_MAX)
		return 0;
	if (tl_grow(&nodes, &f->cap_nodes, f->n_nodes + 1, sizeof *f->nodes))
		return 0;
	f->nodes = nodes;
	copy = tl_malloc(len + 1);
	if (!copy)
		return 0;
	if (len)
		memcpy(copy, name, len);
	copy[len] = '\0';
	n = &f->nodes[f->n_nodes];
	memset(n, 0, sizeof *n);
	n->name = copy;
	n->len = (uint32_t)len;
	n->slot = -1;
	n->parent = parent;
	n->next_sib = f->nodes[parent].first_kid;
	f->nodes[parent].first_kid = (uint32_t)f->n_nodes;
	f->nodes[parent].n_kids++;
	return (uint32_t)f->n_nodes++;
}

int jd_fields_add(struct jd_fields *f, const char *const *segs, const size_t *seg_lens,
		  size_t n_segs)
{
	uint32_t cur = 0, k;
	size_t i, place;

	if (f->frozen)
		return -1;
	for (i = 0; i < n_segs; i++) {
		size_t len = seg_lens[i];

		if (len > UINT32_MAX)
			return -1;
		if (jd_reg_room(f))
			return -1;
		place = jd_reg_place(f, cur, segs[i], len);
		k = f->reg[place];
		if (!k) {
			k = jd_node_add(f, cur, segs[i], len);
			if (!k)
				return -1;
			f->reg[place] = k;
		}
		cur = k;
	}
	if (f->nodes[cur].slot < 0) {
		if (f->n_slots >= INT32_MAX)
			return -1;
		f->nodes[cur].slot = (int32_t)f->n_slots++;
	}
	return f->nodes[cur].slot;
}

size_t jd_fields_count(const struct jd_fields *f)
{
	return f->n_slots;
}

/* Eight bytes as a little-endian word, so that the first byte is the lowest. */
static inline uint64_t jd_load8(const unsigned char *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

/* The first bytes of a name (up to 8) as jd_load8 reads them, the rest zero. */
static uint64_t jd_head(const char *name, size_t len)
{
	unsigned char b[8] = { 0 };

	memcpy(b, name, len < 8 ? len : 8);
	return jd_load8(b);
}

/* The first bytes of a key (up to 8) as jd_head gives them; avail: bytes readable from k.
 * One load and a mask when 8 bytes can be read, the common case. */
static inline uint64_t jd_key_head(const unsigned char *k, size_t len, size_t avail)
{
	uint64_t w;

	if (avail < 8)
		return jd_head((const char *)k, len);
	w = jd_load8(k);
	return len >= 8 ? w : w & ((1ull << (8 * len)) - 1);
}

/* A cheap hash of a key from its head (jd_key_head) and, past 8 bytes, its last 8 bytes and
 * its length, mixed by one multiplication. Only registered keys live in the tables, so bad
 * spreading costs a probe, never more. */
static inline uint32_t jd_hash(uint64_t head, const unsigned char *k, size_t len)
{
	uint64_t x = head;

	if (len > 8)
		x ^= (jd_load8(k + len - 8) ^ len) * 0x9e3779b97f4a7c15ull;
	x *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(x >> 32);
}

/* The hash of a raw-text table: the first three bytes of the key text, which are the name's,
 * its closing quote or the colon, so fixed for every name the table holds. */
static inline uint32_t jd_raw_hash(uint64_t text0)
{
	return (uint32_t)(((text0 & 0xffffff) * 0x9e3779b97f4a7c15ull) >> 32);
}

/* The masks that keep the first n bytes (at most 16) of two jd_load8 words. */
static void jd_prefix_mask(size_t n, uint64_t mask[2])
{
	mask[0] = n >= 8 ? ~(uint64_t)0 : ((uint64_t)1 << (8 * n)) - 1;
	mask[1] = n >= 16 ? ~(uint64_t)0 : n > 8 ? ((uint64_t)1 << (8 * (n - 8))) - 1 : 0;
}

/* Whether the two jd_load8 words w0, w1 hold text under mask. */
static inline int jd_text_is(const uint64_t text[2], const uint64_t mask[2], uint64_t w0,
			     uint64_t w1)
{
	return (((w0 ^ text[0]) & mask[0]) | ((w1 ^ text[1]) & mask[1])) == 0;
}

/* Enters node (a child) in the raw-text table t of mask + 1 entries if its name is eligible;
 * returns 1 when it was. */
static int jd_raw_add(struct jd_raw *t, uint32_t mask, const struct jd_node *node)
{
	unsigned char text[16] = { 0 };
	size_t i;
	uint32_t h;

	if (node->len < 1 || node->len > JD_RAW_MAX)
		return 0;
	for (i = 0; i < node->len; i++) {
		unsigned char ch = (unsigned char)node->name[i];

		if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\')
			return 0;
	}
	memcpy(text, node->name, node->len);
	text[node->len] = '"';
	text[node->len + 1] = ':';
	for (h = jd_raw_hash(jd_load8(text)); t[h & mask].node; h++)
		;
	t[h & mask].text[0] = jd_load8(text);
	t[h & mask].text[1] = jd_load8(text + 8);
	jd_prefix_mask(node->len + 2, t[h & mask].mask);
	t[h & mask].node = node;
	return 1;
}

int jd_fields_freeze(struct jd_fields *f)
{
	struct jd_node *nodes = f->nodes;
	size_t n = f->n_nodes, n_tab = 0, i;
	uint32_t *order;
	struct jd_kid *tab;
	struct jd_raw *raw;

	if (f->frozen)
		return 0;
	if (n > UINT32_MAX / 3)
		return -1;
	/* Hash tables at most a quarter full: a probe always ends at an empty entry, and most
	 * names are found (or found missing) at the first one. */
	for (i = 0; i < n; i++) {
		size_t size = 4;

		if (!nodes[i].n_kids)
			continue;
		while (size < 4 * (size_t)nodes[i].n_kids)
			size *= 2;
		if (n_tab + size > UINT32_MAX)
			return -1;
		nodes[i].tab_off = (uint32_t)n_tab;
		nodes[i].tab_mask = (uint32_t)(size - 1);
		n_tab += size;
	}
	order = tl_calloc(f->n_slots ? f->n_slots : 1, sizeof *order);
	if (!order)
		return -1;
	tab = tl_calloc(n_tab ? n_tab : 1, sizeof *tab);
	if (!tab)
		goto free_order;
	raw = tl_calloc(n_tab ? n_tab : 1, sizeof *raw);
	if (!raw)
		goto free_tab;

	/* Subtree sizes (in slots), children before parents; kept in hi for now. */
	for (i = 0; i < n; i++)
		nodes[i].hi = 0;
	for (i = n; i-- > 0;) {
		nodes[i].hi += nodes[i].slot >= 0;
		if (i)
			nodes[nodes[i].parent].hi += nodes[i].hi;
	}
	/* Ranges, parents before children: a node's own slot, then each child's subtree. */
	nodes[0].lo = 0;
	for (i = 0; i < n; i++) {
		struct jd_node *nd = &nodes[i];
		uint32_t cur = nd->lo, k;

		if (nd->slot >= 0)
			order[cur++] = (uint32_t)nd->slot;
		nd->guess_at = 2 * (uint32_t)i;
		nd->all_raw = 1;
		for (k = nd->first_kid; k; k = nodes[k].next_sib) {
			uint64_t head = jd_head(nodes[k].name, nodes[k].len);
			uint32_t h = jd_hash(head, (const unsigned char *)nodes[k].name,
					     nodes[k].len);
			struct jd_kid *t = tab + nd->tab_off;

			nodes[k].lo = cur;
			cur += nodes[k].hi;
			while (t[h & nd->tab_mask].node)
				h++;
			t[h & nd->tab_mask].name = nodes[k].name;
			t[h & nd->tab_mask].len = nodes[k].len;
			t[h & nd->tab_mask].node = &nodes[k];
			t[h & nd->tab_mask].head = head;
			if (!jd_raw_add(raw + nd->tab_off, nd->tab_mask, &nodes[k]))
				nd->all_raw = 0;
		}
		nd->hi = cur;
	}
	f->order = order;
	f->tab = tab;
	f->raw = raw;
	f->frozen = 1;
	tl_free(f->reg); /* lookups go through the children tables from now on */
	f->reg = NULL;
	return 0;

free_tab:
	tl_free(tab);
free_order:
	tl_free(order);
	return -1;
}

/* The rest of jd_lookup: probes from h on, for names past 8 bytes and collisions. */
static JD_NOINLINE const struct jd_node *jd_lookup_rest(const struct jd_node *n,
							const struct jd_kid *t, uint64_t head,
							uint32_t h, const unsigned char *k,
							size_t len)
{
	for (;; h++) {
		const struct jd_kid *e = &t[h & n->tab_mask];

		if (!e->node)
			return NULL;
		if (e->head == head && e->len == len &&
		    (len <= 8 || memcmp(e->name + 8, k + 8, len - 8) == 0))
			return e->node;
	}
}

/* The child of n named k[0 .. len), or NULL. avail: bytes readable from k (at least len).
 * The first 8 bytes compare as one word (all of most names); only the rest goes to memcmp.
 * Inline for the common cases: a name of up to 8 bytes found at the first probe, or an empty
 * first probe. */
static inline const struct jd_node *jd_lookup(const struct jd_fields *f, const struct jd_node *n,
					      const unsigned char *k, size_t len, size_t avail)
{
	const struct jd_kid *t = f->tab + n->tab_off;
	uint64_t head = jd_key_head(k, len, avail);
	uint32_t h = jd_hash(head, k, len);
	const struct jd_kid *e = &t[h & n->tab_mask];

	if (e->head == head && e->len == len && len <= 8)
		return e->node;
	if (!e->node)
		return NULL;
	return jd_lookup_rest(n, t, head, h, k, len);
}

/* Notes the key of no entry at place p: its text w0, w1 (two jd_load8 words) of n bytes,
 * the closing quote and the colon included (at most 16). */
static void jd_note_other(struct jd_decoder *d, uint32_t p, uint64_t w0, uint64_t w1, size_t n)
{
	struct jd_other *o = &d->other[p];

	jd_prefix_mask(n, o->mask);
	o->text[0] = w0 & o->mask[0];
	o->text[1] = w1 & o->mask[1];
	o->skip = (uint32_t)n;
}

/* Whether the 16 bytes of key text w0, w1 (two jd_load8 words) start with e's name, its
 * closing quote and the colon. */
static inline int jd_raw_is(const struct jd_raw *e, uint64_t w0, uint64_t w1)
{
	return jd_text_is(e->text, e->mask, w0, w1);
}

/* The entry of n's raw-text table whose name, a closing quote and a colon start the key text
 * w0, w1; NULL if none (the key then takes the general path). A match is a valid key, its
 * colon included: the names entered are plain. */
static inline const struct jd_raw *jd_lookup_raw(const struct jd_fields *f,
						 const struct jd_node *n, uint64_t w0, uint64_t w1)
{
	const struct jd_raw *t = f->raw + n->tab_off;
	uint32_t h;

	for (h = jd_raw_hash(w0);; h++) {
		const struct jd_raw *e = &t[h & n->tab_mask];

		if (!e->node)
			return NULL;
		if (jd_raw_is(e, w0, w1))
			return e;
	}
}

/* ---- decoder ---- */

struct jd_decoder *jd_decoder_new(const struct jd_fields *f)
{
	struct jd_decoder *d;
	size_t n, p;

	if (!f->frozen)
		return NULL;
	d = tl_calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->f = f;
	n = 2 * f->n_nodes; /* the places of the nodes' keys; after them, the chains */
	d->guess = tl_calloc(n * (1 + JD_CHAIN), sizeof *d->guess);
	d->other = tl_calloc(n * (1 + JD_CHAIN), sizeof *d->other);
	d->after_other = tl_calloc(n * (1 + JD_CHAIN), sizeof *d->after_other);
	if (!d->guess || !d->other || !d->after_other) {
		jd_decoder_free(d);
		return NULL;
	}
	/* after a key of no entry at place p: the first place of p's chain, or the next place
	 * in the chain p is in (the last is kept by the keys past it). A chain's places belong
	 * to the object its first place does. */
	for (p = 0; p < n * (1 + JD_CHAIN); p++)
		d->after_other[p] = (uint32_t)(p < n ? n + p * JD_CHAIN
					       : (p - n) % JD_CHAIN == JD_CHAIN - 1 ? p : p + 1);
	return d;
}

void jd_decoder_free(struct jd_decoder *d)
{
	if (!d)
		return;
	tl_free(d->scratch);
	tl_free(d->guess);
	tl_free(d->other);
	tl_free(d->after_other);
	tl_free(d);
}

/* Records an error at byte at and returns -1. */
static int jd_fail(struct jd_ctx *c, const unsigned char *at, enum jd_err code)
{
	if (at < c->end && *at == '\0' && code != JD_E_NOMEM)
		code = JD_E_NUL;
	else if (at >= c->end && code <= JD_E_NUMBER)
		code = JD_E_EOL;
	if (c->err) {
		c->err->msg = jd_messages[code];
		c->err->off = (size_t)(at - c->base);
	}
	return -1;
}

/* Makes sure the scratch buffer holds the whole line plus a NUL. Every unescaped string is no
 * longer than its source text, and those texts do not overlap, so the buffer is never grown
 * again during this call and pointers into it stay valid. */
static int jd_scratch(struct jd_ctx *c, const unsigned char *at)
{
	struct jd_decoder *d = c->d;
	size_t need = (size_t)(c->end - c->base) + 1;
	void *p = d->scratch;

	if (need <= d->scratch_cap)
		return 0;
	if (need == 0 || tl_grow(&p, &d->scratch_cap, need, 1))
		return jd_fail(c, at, JD_E_NOMEM);
	d->scratch = p;
	return 0;
}

static inline int jd_is_ws(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static inline const unsigned char *jd_ws(const unsigned char *p, const unsigned char *end)
{
	while (p < end && *p <= ' ' && jd_is_ws(*p))
		p++;
	return p;
}

static inline int jd_is_digit(unsigned char ch)
{
	return (unsigned)(ch - '0') < 10;
}

#define JD_ONES 0x0101010101010101ull
#define JD_HIGH 0x8080808080808080ull

#if !JD_SSE2
/* High bit set in each byte of x that is '"', '\\', below 0x20 or above 0x7f. A borrow can
 * only mark bytes above a real match, so the lowest marked byte is always exact. */
static inline uint64_t jd_attention(uint64_t x)
{
	uint64_t q = x ^ (JD_ONES * '"');
	uint64_t b = x ^ (JD_ONES * '\\');

	return (((q - JD_ONES) & ~q) | ((b - JD_ONES) & ~b) | ((x - JD_ONES * 0x20) & ~x) | x) &
	       JD_HIGH;
}
#endif

static inline int jd_plain(unsigned char ch)
{
	return ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\';
}

/* Length of the valid UTF-8 sequence (RFC 3629) that starts with the non-ASCII byte at p,
 * or 0: no overlong forms, no surrogates, nothing above U+10FFFF, no truncation. */
static inline size_t jd_utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t avail = (size_t)(end - p);
	unsigned lo = 0x80, hi = 0xbf;

	if (p[0] < 0xc2)
		return 0;
	if (p[0] < 0xe0)
		return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] < 0xf0) {
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
		if (avail < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (p[0] < 0xf5) {
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
		if (avail < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

/* The byte each one-letter escape stands for; 0 for letters that are not escapes. */
static const char jd_unesc[256] = {
	['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b',
	['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
};

static inline int jd_hex_digit(unsigned char ch)
{
	if (jd_is_digit(ch))
		return ch - '0';
	ch |= 0x20;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* The four hex digits at p as a number, or -1. */
static long jd_hex4(const unsigned char *p, const unsigned char *end)
{
	long v = 0;
	int i, h;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		h = jd_hex_digit(p[i]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/* Validates the escape at p (a backslash); returns its length (2, 6 or 12: a surrogate pair
 * is taken whole), or 0 after recording the error. */
static size_t jd_escape_len(struct jd_ctx *c, const unsigned char *p)
{
	const unsigned char *end = c->end;
	long u, lo;

	if (end - p < 2) {
		jd_fail(c, end, JD_E_UNTERMINATED);
		return 0;
	}
	if (p[1] != 'u') {
		if (jd_unesc[p[1]])
			return 2;
		jd_fail(c, p, JD_E_ESCAPE);
		return 0;
	}
	u = jd_hex4(p + 2, end);
	if (u < 0) {
		jd_fail(c, p, JD_E_UESCAPE);
		return 0;
	}
	if (u < 0xd800 || u > 0xdfff)
		return 6;
	if (u >= 0xdc00 || end - p < 8 || p[6] != '\\' || p[7] != 'u') {
		jd_fail(c, p, JD_E_SURROGATE);
		return 0;
	}
	lo = jd_hex4(p + 8, end);
	if (lo < 0) {
		jd_fail(c, p + 6, JD_E_UESCAPE);
		return 0;
	}
	if (lo < 0xdc00 || lo > 0xdfff) {
		jd_fail(c, p, JD_E_SURROGATE);
		return 0;
	}
	return 12;
}

/* The first byte in [p, end) that needs a closer look in a string ('"', '\\', control
 * characters, non-ASCII), or end. base: the start of the line, which must be at or before p;
 * the SSE2 version may read bytes between base and p (never past end) and ignores them. */
static inline const unsigned char *jd_scan(const unsigned char *p, const unsigned char *base,
					   const unsigned char *end)
{
#if JD_SSE2
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
	const __m128i space = _mm_set1_epi8(' ');
	__m128i x;
	unsigned m;

	/* Exact per byte: a signed compare with ' ' catches control characters and every byte
	 * above 0x7f at once. */
#define JD_SSE_MASK(x)                                                                    \
	((unsigned)_mm_movemask_epi8(_mm_or_si128(                                        \
		_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),        \
		_mm_cmplt_epi8(x, space))))
	while (end - p >= 16) {
		x = _mm_loadu_si128((const __m128i *)(const void *)p);
		m = JD_SSE_MASK(x);
		if (m)
			return p + __builtin_ctz(m);
		p += 16;
	}
	if (p < end && end - base >= 16) {
		/* Fewer than 16 bytes left: the line's last 16, without the ones before p. */
		x = _mm_loadu_si128((const __m128i *)(const void *)(end - 16));
		m = JD_SSE_MASK(x) >> (16 - (end - p));
		return m ? p + __builtin_ctz(m) : end;
	}
#undef JD_SSE_MASK
#else
	(void)base;
	while (end - p >= 8) {
		uint64_t m = jd_attention(jd_load8(p));

		if (m)
			return p + (__builtin_ctzll(m) >> 3);
		p += 8;
	}
#endif
	while (p < end && jd_plain(*p))
		p++;
	return p;
}

/* The rest of jd_string from p, the first byte of the body that jd_scan stopped at (or end):
 * validates escapes and UTF-8 up to the closing quote. Returns the byte after it and sets
 * *esc when the body holds escapes; NULL after recording an error. */
static JD_NOINLINE const unsigned char *jd_string_rest(struct jd_ctx *c, const unsigned char *p,
						       int *esc)
{
	const unsigned char *end = c->end;
	size_t n;

	*esc = 0;
	for (;;) {
		if (p == end) {
			jd_fail(c, p, JD_E_UNTERMINATED);
			return NULL;
		}
		if (*p == '"')
			return p + 1;
		if (*p == '\\') {
			n = jd_escape_len(c, p);
			if (!n)
				return NULL;
			*esc = 1;
		} else if (*p < 0x20) {
			jd_fail(c, p, JD_E_CONTROL);
			return NULL;
		} else {
			n = jd_utf8_len(p, end);
			if (!n) {
				jd_fail(c, p, JD_E_UTF8);
				return NULL;
			}
		}
		p = jd_scan(p + n, c->base, end);
	}
}

/* Validates a string body starting at p (after the opening quote). Returns the byte after the
 * closing quote and sets *esc when the body holds escapes; NULL after recording an error.
 * Inline for the common case, plain text up to the quote; anything else goes out of line.
 * base and end: c->base and c->end, passed so that they stay in registers. */
static inline const unsigned char *jd_string(struct jd_ctx *c, const unsigned char *p,
					     const unsigned char *base, const unsigned char *end,
					     int *esc)
{
	p = jd_scan(p, base, end);
	if (p < end && *p == '"') {
		*esc = 0;
		return p + 1;
	}
	return jd_string_rest(c, p, esc);
}

/* Unescapes the validated string body [s, e) into out; returns the length written, which is
 * never more than e - s. */
static size_t jd_unescape(const unsigned char *s, const unsigned char *e, char *out)
{
	char *o = out;
	unsigned long cp;

	while (s < e) {
		const unsigned char *bs = memchr(s, '\\', (size_t)(e - s));

		if (!bs)
			bs = e;
		memcpy(o, s, (size_t)(bs - s));
		o += bs - s;
		if (bs == e)
			break;
		s = bs + 2;
		if (bs[1] != 'u') {
			*o++ = jd_unesc[bs[1]];
			continue;
		}
		cp = (unsigned long)jd_hex4(s, e);
		s += 4;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned long)jd_hex4(s + 2, e) - 0xdc00);
			s += 6;
		}
		if (cp < 0x80) {
			*o++ = (char)cp;
		} else if (cp < 0x800) {
			*o++ = (char)(0xc0 | cp >> 6);
			*o++ = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			*o++ = (char)(0xe0 | cp >> 12);
			*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
			*o++ = (char)(0x80 | (cp & 0x3f));
		} else {
			*o++ = (char)(0xf0 | cp >> 18);
			*o++ = (char)(0x80 | (cp >> 12 & 0x3f));
			*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
			*o++ = (char)(0x80 | (cp & 0x3f));
		}
	}
	return (size_t)(o - out);
}

/* Stores the string body [s, e) in v: a pointer into the line, or an unescaped copy. */
static JD_NOINLINE int jd_set_string(struct jd_ctx *c, struct tl_value *v,
				      const unsigned char *s, const unsigned char *e, int esc)
{
	size_t n = (size_t)(e - s);

	if (n > UINT32_MAX)
		return jd_fail(c, s - 1, JD_E_TOO_LONG);
	if (esc) {
		char *o;

		if (jd_scratch(c, s - 1))
			return -1;
		o = c->d->scratch + c->used;
		n = jd_unescape(s, e, o);
		c->used += n;
		v->str = o;
	} else {
		v->str = (const char *)s;
	}
	v->type = TL_STR;
	v->len = (uint32_t)n;
	return 0;
}

/* Exact powers of ten for the fast path. */
static const double jd_pow10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* strtod on a NUL-terminated copy of [s, e) (strtod needs the terminator; the line has none). */
static int jd_strtod(struct jd_ctx *c, const unsigned char *s, const unsigned char *e,
		     double *out)
{
	char buf[64], *b = buf;
	size_t n = (size_t)(e - s);

	if (n >= sizeof buf) {
		/* Fits: the values so far and this number are disjoint parts of the line. */
		if (jd_scratch(c, s))
			return -1;
		b = c->d->scratch + c->used;
	}
	memcpy(b, s, n);
	b[n] = '\0';
	*out = strtod(b, NULL);
	return 0;
}

/* Validates the number at p (RFC 8259 grammar, within double range). When v is not NULL,
 * also converts it: small cases exactly by one IEEE operation (Clinger's fast path), the rest
 * by strtod. Returns the byte after the number, or NULL after recording an error. */
static JD_NOINLINE const unsigned char *jd_number(struct jd_ctx *c, const unsigned char *p,
						  struct tl_value *v)
{
	const unsigned char *start = p, *end = c->end, *d;
	uint64_t mant = 0;   /* the first 19 significant digits */
	size_t n_sig = 0;    /* significant digits, from the first non-zero one */
	int64_t mag = 0;     /* decimal exponent of the first significant digit, before e */
	int64_t n_frac = 0;  /* digits after the point */
	int64_t exp = 0;     /* the e part, saturated */
	size_t zeros = 0;
	int exp_neg = 0;
	double val;

	if (*p == '-')
		p++;
	if (p < end && *p == '0') {
		p++;
		if (p < end && jd_is_digit(*p)) {
			jd_fail(c, p, JD_E_NUMBER);
			return NULL;
		}
	} else if (p < end && jd_is_digit(*p)) {
		d = p;
		do {
			if (n_sig < 19)
				mant = mant * 10 + (*p - '0');
			n_sig++;
			p++;
		} while (p < end && jd_is_digit(*p));
		mag = (int64_t)(p - d) - 1;
	} else {
		jd_fail(c, p, JD_E_NUMBER);
		return NULL;
	}
	if (p < end && *p == '.') {
		int int_zero = n_sig == 0;

		p++;
		if (p == end || !jd_is_digit(*p)) {
			jd_fail(c, p, JD_E_NUMBER);
			return NULL;
		}
		d = p;
		do {
			if (!n_sig && *p == '0') {
				zeros++;
			} else {
				if (n_sig < 19)
					mant = mant * 10 + (*p - '0');
				n_sig++;
			}
			p++;
		} while (p < end && jd_is_digit(*p));
		n_frac = (int64_t)(p - d);
		if (int_zero)
			mag = -(int64_t)zeros - 1;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			exp_neg = *p++ == '-';
		if (p == end || !jd_is_digit(*p)) {
			jd_fail(c, p, JD_E_NUMBER);
			return NULL;
		}
		do {
			if (exp < 1000000000)
				exp = exp * 10 + (*p - '0');
			p++;
		} while (p < end && jd_is_digit(*p));
		if (exp_neg)
			exp = -exp;
	}

	/* |value| < 10^308 < DBL_MAX is safe, >= 10^309 overflows; strtod decides in between. */
	if (n_sig && mag + exp >= 308) {
		if (mag + exp > 308) {
			jd_fail(c, start, JD_E_RANGE);
			return NULL;
		}
		if (jd_strtod(c, start, p, &val))
			return NULL;
		if (isinf(val)) {
			jd_fail(c, start, JD_E_RANGE);
			return NULL;
		}
	} else if (!v) {
		return p;
	} else if (!n_sig) {
		val = *start == '-' ? -0.0 : 0.0;
	}
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
	else if (n_sig <= 15 && exp - n_frac >= -22 && exp - n_frac <= 22) {
		/* Both operands are exact doubles, so one rounding gives the correct result. */
		val = (double)mant;
		if (exp - n_frac < 0)
			val /= jd_pow10[n_frac - exp];
		else
			val *= jd_pow10[exp - n_frac];
		if (*start == '-')
			val = -val;
	}
#endif
	else {
		if (jd_strtod(c, start, p, &val))
			return NULL;
	}
	if (v) {
		v->type = TL_NUM;
		v->num = val;
	}
	return p;
}

/* Reads the run of ASCII digits at p, stopping at end or after 16 digits (one bound for both),
 * and appends them to *mant (mant * 10^n + run; it wraps past 19 digits, which callers do not
 * use). Returns n. */
static inline size_t jd_digit_run(const unsigned char *p, const unsigned char *end,
				  uint64_t *mant)
{
	const unsigned char *d = p, *lim = end - p > 16 ? p + 16 : end;
	uint64_t m = *mant;

	while (p < lim && jd_is_digit(*p))
		m = m * 10 + (uint64_t)(*p++ - '0');
	*mant = m;
	return (size_t)(p - d);
}

/* jd_number for the common short case: an integer part without leading zeros, maybe a
 * fraction, no exponent, at most 15 digits in all. The value is then mant / 10^n_frac with
 * both operands exact, the same single operation jd_number does. Anything else, errors
 * included, goes to jd_number from the start. */
static inline const unsigned char *jd_number_short(struct jd_ctx *c, const unsigned char *p,
						   struct tl_value *v)
{
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
	const unsigned char *start = p, *end = c->end;
	uint64_t mant = 0;
	size_t n_int, n_frac = 0;
	double val;

	p += *p == '-';
	n_int = jd_digit_run(p, end, &mant);
	if (n_int == 0 || (*p == '0' && n_int > 1))
		return jd_number(c, start, v);
	p += n_int;
	if (p < end && *p == '.') {
		p++;
		n_frac = jd_digit_run(p, end, &mant);
		if (n_frac == 0)
			return jd_number(c, start, v);
		p += n_frac;
	}
	/* A run shorter than 16 digits ends at a non-digit or at the end of the line. */
	if (n_int + n_frac > 15 || (p < end && (*p | 0x20) == 'e'))
		return jd_number(c, start, v);
	if (v) {
		val = (double)mant / jd_pow10[n_frac];
		v->type = TL_NUM;
		v->num = *start == '-' ? -val : val;
	}
	return p;
#else
	return jd_number(c, p, v);
#endif
}

/* Stores a string value for jd_decode: plain bodies inline, escaped ones in jd_set_string. */
static inline int jd_put_string(struct jd_ctx *c, struct tl_value *v, const unsigned char *s,
				const unsigned char *e, int esc)
{
	if (esc || (size_t)(e - s) > UINT32_MAX)
		return jd_set_string(c, v, s, e, esc);
	v->type = TL_STR;
	v->len = (uint32_t)(e - s);
	v->str = (const char *)s;
	return 0;
}

int jd_decode(struct jd_decoder *d, const char *line, size_t len, struct tl_value *slots,
	      struct jd_error *err)
{
	const struct jd_fields *f = d->f;
	struct jd_frame stack[JD_MAX_DEPTH];
	struct jd_frame *fr = NULL; /* the frame on top of the stack */
	const struct jd_node *tn; /* registered node of the value being parsed, or NULL */
	struct tl_value *sv = NULL; /* its slot, or NULL (set with tn, except for the root) */
	const unsigned char *p, *base, *end, *s;
	struct jd_ctx c;
	int depth = 0, esc;
	uint32_t place = 0; /* in a tracked object fr: where its next key is guessed */
	size_t i;

	if (!line)
		line = "";
	c.base = base = (const unsigned char *)line;
	c.end = end = base + len;
	c.d = d;
	c.err = err;
	c.used = 0;
	for (i = 0; i + 4 <= f->n_slots; i += 4) {
		slots[i].type = TL_MISSING;
		slots[i + 1].type = TL_MISSING;
		slots[i + 2].type = TL_MISSING;
		slots[i + 3].type = TL_MISSING;
	}
	for (; i < f->n_slots; i++)
		slots[i].type = TL_MISSING;

	p = jd_ws(base, end);
	if (p == end || *p != '{')
		return jd_fail(&c, p, JD_E_NOT_OBJECT);
	tn = &f->nodes[0];
	goto open_object;

	/* The common case, no whitespace between tokens, takes no detour through jd_ws: a value
	 * meets the whitespace in its switch, the end of a value in next. */
value:
	if (p == end)
		return jd_fail(&c, p, JD_E_VALUE);
	if (*p == '"') {
		s = p + 1;
		p = jd_string(&c, s, base, end, &esc);
		if (!p)
			return -1;
		if (sv && jd_put_string(&c, sv, s, p - 1, esc))
			return -1;
		goto next;
	}
	switch (*p) {
	case ' ': case '\t': case '\n': case '\r':
		p = jd_ws(p, end);
		goto value;
	case '{':
open_object:
		if (depth == JD_MAX_DEPTH)
			return jd_fail(&c, p, JD_E_DEPTH);
		if (depth)
			fr->place = place;
		fr = &stack[depth++];
		fr->node = tn && tn->n_kids ? tn : NULL;
		place = fr->node ? fr->node->guess_at + 1 : 0;
		fr->start = p;
		fr->slot = tn ? tn->slot : -1;
		fr->is_arr = 0;
		fr->closer = '}';
		p++;
		if (p < end && *p == '"')
			goto key;
		p = jd_ws(p, end);
		if (p < end && *p == '}') {
			p++;
			goto close;
		}
		if (p == end || *p != '"')
			return jd_fail(&c, p, JD_E_KEY_OR_END);
		goto key;
	case '[':
		if (depth == JD_MAX_DEPTH)
			return jd_fail(&c, p, JD_E_DEPTH);
		if (depth)
			fr->place = place;
		fr = &stack[depth++];
		fr->node = NULL;
		fr->start = p;
		fr->slot = tn ? tn->slot : -1;
		fr->is_arr = 1;
		fr->closer = ']';
		p = jd_ws(p + 1, end);
		if (p < end && *p == ']') {
			p++;
			goto close;
		}
		tn = NULL;
		sv = NULL;
		goto value;
	case 't':
		if (end - p < 4 || memcmp(p, "true", 4) != 0)
			return jd_fail(&c, p, JD_E_LITERAL);
		if (sv) {
			sv->type = TL_BOOL;
			sv->b = 1;
		}
		p += 4;
		break;
	case 'f':
		if (end - p < 5 || memcmp(p, "false", 5) != 0)
			return jd_fail(&c, p, JD_E_LITERAL);
		if (sv) {
			sv->type = TL_BOOL;
			sv->b = 0;
		}
		p += 5;
		break;
	case 'n':
		if (end - p < 4 || memcmp(p, "null", 4) != 0)
			return jd_fail(&c, p, JD_E_LITERAL);
		if (sv)
			sv->type = TL_NULL;
		p += 4;
		break;
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		p = jd_number_short(&c, p, sv);
		if (!p)
			return -1;
		break;
	default:
		return jd_fail(&c, p, JD_E_VALUE);
	}

next: /* after a value inside the container fr */
	if (p < end && *p == ',') {
		p++;
		if (fr->is_arr) {
			tn = NULL;
			sv = NULL;
			goto value;
		}
		if (p < end && *p == '"')
			goto key;
		p = jd_ws(p, end);
		if (p == end || *p != '"')
			return jd_fail(&c, p, JD_E_KEY);
		goto key;
	}
	if (p < end && *p == fr->closer) {
		p++;
		goto close;
	}
	if (p < end && jd_is_ws(*p)) {
		p = jd_ws(p, end);
		goto next;
	}
	return jd_fail(&c, p, fr->is_arr ? JD_E_ARR_END : JD_E_OBJ_END);

key: /* p is at the opening quote of a key of the object fr */
	s = p + 1;
	sv = NULL;
	/* Most keys of a tracked object are registered names followed by the colon at once. */
	if (fr->node && end - s >= 16) {
		uint64_t w0 = jd_load8(s), w1 = jd_load8(s + 8);
		const struct jd_raw *re = d->guess[place];

		if (!re || !jd_raw_is(re, w0, w1)) {
			const struct jd_raw *was = re;
			const struct jd_other *o = &d->other[place];

			if (o->skip && jd_text_is(o->text, o->mask, w0, w1)) {
				/* the key of no entry seen here before */
				p = s + o->skip;
				place = d->after_other[place];
				tn = NULL;
				goto value;
			}
			re = jd_lookup_raw(f, fr->node, w0, w1);
			if (re || was)
				d->guess[place] = re;
		}
		if (re) {
			tn = re->node;
			place = tn->guess_at;
			p = s + tn->len + 2;
			goto key_found;
		}
	}
	p = jd_string(&c, s, base, end, &esc);
	if (!p)
		return -1;
	tn = NULL;
	/* Not found in a raw-text table that holds every name of the object, a plain key is no
	 * registered name when the colon follows it at once (the table would have matched it),
	 * or when it is longer than any name the table holds. */
	if (fr->node && !(end - s >= 16 && fr->node->all_raw && !esc &&
			  ((size_t)(p - 1 - s) > JD_RAW_MAX || (p < end && *p == ':')))) {
		const unsigned char *k = s;
		size_t klen = (size_t)(p - 1 - s);

		if (esc) {
			/* Unescaped at the free end of scratch, not kept. */
			if (jd_scratch(&c, s - 1))
				return -1;
			klen = jd_unescape(s, p - 1, d->scratch + c.used);
			k = (const unsigned char *)d->scratch + c.used;
		}
		tn = jd_lookup(f, fr->node, k, klen,
			       esc ? klen : (size_t)(end - k));
	}
	if (p < end && *p == ':') {
		p++;
	} else {
		p = jd_ws(p, end);
		if (p == end || *p != ':')
			return jd_fail(&c, p, JD_E_COLON);
		p++;
	}
	if (fr->node) {
		if (tn) {
			place = tn->guess_at;
		} else {
			/* a key of no entry without escapes is noted for the next line, its
			 * text up to the colon (16 bytes at most) */
			if (!esc && end - s >= 16 && (size_t)(p - s) <= 16)
				jd_note_other(d, place, jd_load8(s), jd_load8(s + 8),
					      (size_t)(p - s));
			place = d->after_other[place];
		}
	}
	if (!tn)
		goto value;
key_found: /* tn: the registered node of the key; p is just past the colon */
	/* A repeated key replaces everything the earlier one set below it. */
	if (tn->n_kids)
		for (i = tn->lo; i < tn->hi; i++)
			slots[f->order[i]].type = TL_MISSING;
	if (tn->slot >= 0)
		sv = &slots[tn->slot];
	goto value;

close: /* p is just past the '}' or ']' of the frame fr on top */
	depth--;
	if (fr->slot >= 0) {
		struct tl_value *v = &slots[fr->slot];

		if ((size_t)(p - fr->start) > UINT32_MAX)
			return jd_fail(&c, fr->start, JD_E_TOO_LONG);
		v->type = fr->is_arr ? TL_ARR : TL_OBJ;
		v->str = (const char *)fr->start;
		v->len = (uint32_t)(p - fr->start);
	}
	if (depth) {
		fr = &stack[depth - 1];
		place = fr->place;
		goto next;
	}
	p = jd_ws(p, end);
	if (p != end)
		return jd_fail(&c, p, JD_E_TRAILING);
	d->used = c.used;
	return 0;
}

size_t jd_scratch_used(const struct jd_decoder *d)
{
	return d->used;
}

/* ---- output helpers ---- */

/* The letter of the short escape for a byte that needs one; 0: use \u00XX. */
static const char jd_esc_letter[128] = {
	['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
	['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
};

size_t jd_quote(const char *s, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end, *run;
	char *o = out;

	*o++ = '"';
	if (!len)
		goto done;
	end = p + len;
	while (p < end) {
		run = p;
		/* eight plain bytes at a time (UTF-8 is copied, so bytes above 0x7f are plain) */
		while (end - p >= 8) {
			uint64_t x = jd_load8(p), q = x ^ (JD_ONES * '"'), b = x ^ (JD_ONES * '\\');
			uint64_t m = (((q - JD_ONES) & ~q) | ((b - JD_ONES) & ~b) |
				      ((x - JD_ONES * 0x20) & ~x)) & JD_HIGH;

			if (m) {
				p += __builtin_ctzll(m) >> 3;
				break;
			}
			p += 8;
		}
		while (p < end && *p >= 0x20 && *p != '"' && *p != '\\')
			p++;
		memcpy(o, run, (size_t)(p - run));
		o += p - run;
		if (p == end)
			break;
		*o++ = '\\';
		if (jd_esc_letter[*p]) {
			*o++ = jd_esc_letter[*p];
		} else {
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
		p++;
	}
done:
	*o++ = '"';
	return (size_t)(o - out);
}

/* printf writes exponents as e+21 and e-07; JSON needs neither the '+' nor the zeros. */
static size_t tidy_exponent(char *out, size_t len)
{
	char *e = memchr(out, 'e', len), *src, *dst;

	if (!e)
		return len;
	src = e + 1;
	dst = e + 1;
	if (*src == '+')
		src++;
	else if (*src == '-')
		*dst++ = *src++;
	while (*src == '0' && src[1])
		src++;
	while (*src)
		*dst++ = *src++;
	*dst = '\0';
	return (size_t)(dst - out);
}

/* The decimal digits of u at out; their number. */
static size_t put_uint(char *out, uint64_t u)
{
	char digits[20];
	size_t n = 0, k = 0;

	do {
		digits[k++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (k)
		out[n++] = digits[--k];
	return n;
}

/* v (1e-4 <= |v| < 1e15, not an integer) as printf's %.15g writes it, when it is a decimal of at
 * most 15 significant digits and 9 places: m / 10^d for the fewest places d. Reading that back
 * gives v exactly when m / 10^d, both exact doubles, divides to v (division rounds correctly,
 * as strtod does), and %.15g of such a v is that decimal: v is within half an ulp of it, far
 * less than half a unit of its 15th digit. Formats then with integers, without snprintf and
 * strtod; 0 for other numbers. */
static size_t short_decimal(double v, char *out)
{
	static const double pow10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9 };
	double a = fabs(v), m;
	uint64_t u, ip, fp;
	size_t n = 0;
	int d, i;

	for (d = 1; d <= 9; d++) {
		m = nearbyint(a * pow10[d]);
		if (m >= 1e15)
			return 0;
		if (m / pow10[d] == a)
			break;
	}
	if (d > 9)
		return 0;
	u = (uint64_t)m;
	ip = u / (uint64_t)pow10[d];
	fp = u % (uint64_t)pow10[d];
	if (v < 0)
		out[n++] = '-';
	n += put_uint(out + n, ip);
	out[n++] = '.';
	for (i = d - 1; i >= 0; i--) {
		out[n + (size_t)i] = (char)('0' + fp % 10);
		fp /= 10;
	}
	n += (size_t)d;
	out[n] = '\0';
	return n;
}

size_t jd_format_number(double v, char *out)
{
	size_t n = 0;
	int prec, len = 0;

	if (isnan(v) || isinf(v)) {
		memcpy(out, "null", 5);
		return 4;
	}
	/* Integers below 2^53 are exact: plain digits, keeping the sign of -0. */
	if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v) {
		if (signbit(v))
			out[n++] = '-';
		n += put_uint(out + n, (uint64_t)fabs(v));
		out[n] = '\0';
		return n;
	}
	if (fabs(v) >= 1e-4 && fabs(v) < 1e15 && (n = short_decimal(v, out)))
		return n;
	/* Any decimal of up to 15 digits survives a round trip through a normal double (DBL_DIG),
	 * so when %.15g reads back, no lower precision gives shorter text; else 16, else 17
	 * (always exact). Subnormals hold fewer digits: search them from 1. */
	for (prec = fabs(v) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
		len = snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			break;
	}
	return tidy_exponent(out, (size_t)len);
}
