/* test_keys.c - key spaces against a plain model: random adds, finds, touches, moves to a
 * rule's second list and removals, with hashes that collide on purpose so that probing and
 * backward-shift deletion are exercised; the touch order of both lists of every rule, the
 * key text of every state, and that a list's look stays one of its states are checked. And
 * the extra bytes an entry can hold after its states, and that a state is written only by its
 * own rule. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "keys.h"
#include "obuf.h"

enum { N_KEYS = 300, N_RULES = 3, STEPS = 60000 };

struct model {
	int live[N_KEYS][N_RULES];
	long touched[N_KEYS][N_RULES]; /* order of the last touch, per rule */
	int second[N_KEYS][N_RULES];   /* in the rule's second list */
};

static void key_text(int k, char *buf)
{
	sprintf(buf, "\"k%d\"", k);
}

/* Few distinct hashes: long probe runs, and removals in the middle of them. */
static uint64_t weak_hash(int k)
{
	return (uint64_t)(k % 13) * 0x9e3779b97f4a7c15ULL;
}

static struct kentry *find(struct kspace *s, int k)
{
	char buf[32];

	key_text(k, buf);
	return ks_find(s, buf, strlen(buf), weak_hash(k));
}

static void check_model(struct kspace *s, struct ktable *t, const struct model *m)
{
	int k, r;

	for (k = 0; k < N_KEYS; k++) {
		int any = 0;
		struct kentry *e = find(s, k);

		for (r = 0; r < N_RULES; r++)
			any |= m->live[k][r];
		ck_assert_msg((e != NULL) == any, "key %d: entry %p, live %d", k, (void *)e, any);
		for (r = 0; e && r < N_RULES; r++) {
			struct kstate *ks = kt_state(&t[r], e);
			char buf[32];
			size_t len;
			const char *key;

			ck_assert_int_eq(kt_is_live(&t[r], e), m->live[k][r]);
			if (!m->live[k][r])
				continue;
			key = kt_key(ks, &len);
			ck_assert_ptr_eq(kt_entry(ks), e);
			key_text(k, buf);
			ck_assert_uint_eq(len, strlen(buf));
			ck_assert_int_eq(memcmp(key, buf, len), 0);
		}
	}
	/* each list of each rule: its live states, oldest touch first */
	for (r = 0; r < 2 * N_RULES; r++) {
		const struct kstate *ks;
		long last = -1;
		size_t n = 0, want = 0;
		int rule = r % N_RULES, second = r >= N_RULES;

		int look_seen = t[r].look == NULL;

		for (ks = t[r].oldest; ks; ks = ks->next, n++) {
			int key;

			look_seen |= ks == t[r].look;
			ck_assert(kt_is_live(&t[r], kt_entry(ks)));
			ck_assert_int_eq(sscanf(kt_key(ks, &(size_t){ 0 }), "\"k%d\"", &key), 1);
			ck_assert(m->live[key][rule]);
			ck_assert_int_eq(m->second[key][rule], second);
			ck_assert_int_gt(m->touched[key][rule], last);
			last = m->touched[key][rule];
		}
		ck_assert_uint_eq(n, t[r].n);
		ck_assert_msg(look_seen, "list %d: its look is not in it", r);
		for (k = 0; k < N_KEYS; k++)
			want += m->live[k][rule] && m->second[k][rule] == second;
		ck_assert_uint_eq(n, want);
	}
}

/* Keys are copied and compared with the inline helpers of bytes.h: as memcpy and memcmp, for
 * every length up to past their widest load, with a difference at every place; each operand
 * is a block of its own of exactly its length, so that the sanitizer build sees a read or
 * write outside it. */
START_TEST(short_copies_and_compares_are_exact)
{
	unsigned seed = 3;
	size_t n, i, d;

	for (n = 0; n <= 40; n++) {
		char *a = malloc(n ? n : 1), *b = malloc(n ? n : 1), *c = malloc(n ? n : 1);

		ck_assert(a && b && c);
		for (i = 0; i < n; i++)
			a[i] = (char)(rand_r(&seed) & 0xff);
		memset(b, 0x5a, n);
		bytes_copy(b, a, n);
		ck_assert(memcmp(a, b, n) == 0);
		ck_assert(bytes_eq(a, b, n));
		for (d = 0; d < n; d++) {
			memcpy(c, a, n);
			c[d] ^= (char)(1 << (d % 8));
			ck_assert_msg(!bytes_eq(a, c, n), "length %zu, difference at %zu", n, d);
			ck_assert_msg(!bytes_eq(c, a, n), "length %zu, difference at %zu", n, d);
		}
		free(a);
		free(b);
		free(c);
	}
}
END_TEST

/* Key bytes appended to a buffer: a key of one string (made by its own short path) as the
 * same string among several key fields, and every key type. */
START_TEST(key_bytes_of_each_type)
{
	struct tl_value slots[4] = { { 0 } };
	const uint32_t one[] = { 0 }, all[] = { 0, 1, 2, 3 }, bad[] = { 3, 0 };
	struct obuf b = { 0 };
	double num = 0;
	uint32_t len;

	slots[0].type = TL_STR;
	slots[0].str = "card-42";
	slots[0].len = 7;
	slots[1].type = TL_NUM;
	slots[1].num = -0.0;
	slots[2].type = TL_BOOL;
	slots[2].b = 1;
	slots[3].type = TL_NULL;
	ob_put(&b, "xy", 2);
	ck_assert_int_eq(kv_encode(&b, slots, one, 1), 0);
	ck_assert_uint_eq(b.len, 2 + 5 + 7);
	memcpy(&len, b.buf + 3, 4);
	ck_assert(memcmp(b.buf, "xys", 3) == 0 && len == 7 && memcmp(b.buf + 7, "card-42", 7) == 0);
	ck_assert_int_eq(kv_encode(&b, slots, all, 3), 0);
	ck_assert_uint_eq(b.len, 14 + 12 + 9 + 1);
	ck_assert(memcmp(b.buf + 2, b.buf + 14, 12) == 0); /* the string, as alone */
	ck_assert(b.buf[26] == 'n' && memcmp(b.buf + 27, &num, 8) == 0 && b.buf[35] == 't');
	ck_assert_int_eq(kv_encode(&b, slots, bad, 2), -1);
	ck_assert_uint_eq(b.len, 36); /* nothing appended */
	slots[0].len = 0;
	ck_assert_int_eq(kv_encode(&b, slots, one, 1), 0);
	memcpy(&len, b.buf + 37, 4);
	ck_assert(b.len == 41 && b.buf[36] == 's' && len == 0);
	ob_free(&b);
}
END_TEST

START_TEST(random_operations_match_the_model)
{
	static struct model m;
	struct pool pool = { 0 };
	struct kspace s = { 0 };
	struct ktable t[2 * N_RULES]; /* rule r's lists: t[r] and t[N_RULES + r] */
	unsigned seed = 3;
	long clock = 0;
	int step, r;

	memset(&m, 0, sizeof m);
	s.pool = &pool;
	s.n_rules = N_RULES;
	for (r = 0; r < 2 * N_RULES; r++) {
		memset(&t[r], 0, sizeof t[r]);
		t[r].space = &s;
		t[r].idx = (uint32_t)(r % N_RULES);
	}
	for (step = 0; step < STEPS; step++) {
		int k = rand_r(&seed) % N_KEYS, op = rand_r(&seed) % 5;
		struct kentry *e = find(&s, k);
		struct kstate *ks;
		struct ktable *list;

		r = rand_r(&seed) % N_RULES;
		list = &t[m.second[k][r] ? N_RULES + r : r];
		if (op < 2) { /* a rule takes an event of key k: live and touched */
			char buf[32];

			if (!e) {
				key_text(k, buf);
				e = ks_add(&s, buf, strlen(buf), weak_hash(k));
				ck_assert_ptr_nonnull(e);
			}
			if (kt_is_live(list, e)) {
				kt_touch(list, kt_state(list, e), clock);
			} else {
				list = &t[r];
				kt_live(list, e, clock);
				m.second[k][r] = 0;
			}
			m.live[k][r] = 1;
			m.touched[k][r] = clock++;
		} else if (op == 2 && e && kt_is_live(list, e) && !m.second[k][r]) {
			/* touched, then moved to the rule's second list (as a key that alerts) */
			ks = kt_state(list, e);
			kt_touch(list, ks, clock);
			kt_move(list, &t[N_RULES + r], ks);
			m.second[k][r] = 1;
			m.touched[k][r] = clock++;
		} else if (op == 4) { /* a walk ahead stops at a state of a list: it must stay in it */
			struct ktable *w = &t[rand_r(&seed) % (2 * N_RULES)];
			int steps = rand_r(&seed) % 6;

			for (ks = w->oldest; ks && steps--; ks = ks->next)
				;
			w->look = ks;
		} else if (op == 3 && e && kt_is_live(list, e)) { /* the rule's state for k ends */
			int others = 0, i;

			for (i = 0; i < N_RULES; i++)
				others += i != r && m.live[k][i];
			ck_assert_int_eq(kt_remove(list, kt_state(list, e)), others == 0);
			m.live[k][r] = 0;
		}
		if (step % 997 == 0)
			check_model(&s, t, &m);
	}
	check_model(&s, t, &m);
	/* and everything goes */
	for (r = 0; r < 2 * N_RULES; r++)
		while (t[r].oldest)
			kt_remove(&t[r], t[r].oldest);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_uint_eq(pool.in_use, 0);
	ks_fini(&s);
	pool_destroy(&pool);
}
END_TEST

/* A space whose entries hold extra bytes after their states (a window, for a space of one
 * threshold rule): they begin after the last state, aligned for a window's fields, and each
 * entry's bytes are its own: filled, they leave every key and every other entry's bytes as
 * they were, and the entries go back to the pool whole. */
START_TEST(extra_bytes_follow_the_states)
{
	enum { N = 64, EXTRA = 88 };
	struct pool pool = { 0 };
	struct kspace s = { 0 };
	struct ktable t = { 0 };
	struct kentry *ents[N];
	char buf[96];
	int k, j;

	s.pool = &pool;
	s.n_rules = 1;
	s.extra = EXTRA;
	t.space = &s;
	for (k = 0; k < N; k++) {
		unsigned char *x;

		/* keys of 1 to 64 bytes: the states, and so the extra bytes, begin at every
		 * alignment the key's length can give them */
		memset(buf, 'a' + k % 26, (size_t)k + 1);
		ents[k] = ks_add(&s, buf, (size_t)k + 1, weak_hash(k));
		ck_assert_ptr_nonnull(ents[k]);
		kt_live(&t, ents[k], k);
		x = ks_extra(&s, ents[k]);
		ck_assert_uint_eq((uintptr_t)x % 8, 0);
		ck_assert_uint_ge((uintptr_t)x, (uintptr_t)(kt_state(&t, ents[k]) + 1));
		memset(x, k, EXTRA);
	}
	for (k = 0; k < N; k++) {
		const unsigned char *x = ks_extra(&s, ents[k]);
		size_t len;
		const char *key = kt_key(kt_state(&t, ents[k]), &len);

		ck_assert_uint_eq(len, (size_t)k + 1);
		for (j = 0; j <= k; j++)
			ck_assert_int_eq(key[j], 'a' + k % 26);
		for (j = 0; j < EXTRA; j++)
			ck_assert_int_eq(x[j], k);
	}
	while (t.oldest)
		ck_assert_int_eq(kt_remove(&t, t.oldest), 1);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_uint_eq(pool.in_use, 0);
	ks_fini(&s);
	pool_destroy(&pool);
}
END_TEST

/* The states of an entry are written only by their own rule: a new entry leaves the bytes of
 * its states as the pool's last user left them, and a key that some rules of a space keep
 * leaves the bytes of the others' states as they were, through their making live, touches, a
 * move to the second list and their end; the first line of the entry tells which states are
 * live. (Sixteen rules: an entry of 64 would be a block past the pool's sizes, which malloc
 * need not give back. The golden case many-rules-one-key has 64 rules in a space.) */
START_TEST(a_state_not_live_is_never_written)
{
	enum { R = 16 };
	struct pool pool = { 0 };
	struct kspace s = { 0 };
	struct ktable t[R], second = { 0 };
	struct kentry *e;
	unsigned char *bytes;
	int r;

	s.pool = &pool;
	s.n_rules = R;
	for (r = 0; r < R; r++) {
		memset(&t[r], 0, sizeof t[r]);
		t[r].space = &s;
		t[r].idx = (uint32_t)r;
	}
	second.space = &s;
	second.idx = R - 1;
	/* an entry whose states but rule 1's are marked, then freed with rule 1's end */
	e = ks_add(&s, "k", 1, 7);
	ck_assert_ptr_nonnull(e);
	kt_live(&t[1], e, 0);
	bytes = (unsigned char *)kt_state(&t[0], e);
	memset(bytes, 0xa5, sizeof(struct kstate));
	memset(bytes + 2 * sizeof(struct kstate), 0xa5, (R - 2) * sizeof(struct kstate));
	ck_assert_int_eq(kt_remove(&t[1], kt_state(&t[1], e)), 1);
	/* a new entry of the same size: the pool gives the same block back */
	e = ks_add(&s, "k", 1, 7);
	ck_assert_ptr_nonnull(e);
	for (r = 0; r < R; r++)
		ck_assert(!kt_is_live(&t[r], e));
	kt_live(&t[R - 1], e, 1);
	kt_touch(&t[R - 1], kt_state(&t[R - 1], e), 2);
	kt_move(&t[R - 1], &second, kt_state(&t[R - 1], e));
	kt_live(&t[0], e, 3);
	for (r = 0; r < R; r++)
		ck_assert_int_eq(kt_is_live(&t[r], e), r == 0 || r == R - 1);
	ck_assert_ptr_eq(kt_entry(kt_state(&t[R - 1], e)), e);
	ck_assert_int_eq(kt_remove(&t[0], kt_state(&t[0], e)), 0);
	ck_assert(!kt_is_live(&t[0], e));
#ifndef TL_POOL_BYPASS /* the sanitizer build's pool makes each block a new allocation */
	{
		size_t i;

		ck_assert_ptr_eq(kt_state(&t[0], e), (struct kstate *)bytes);
		for (i = 2 * sizeof(struct kstate); i < (R - 1) * sizeof(struct kstate); i++)
			ck_assert_msg(bytes[i] == 0xa5, "byte %zu of the states written", i);
	}
#endif
	ck_assert_int_eq(kt_remove(&second, kt_state(&second, e)), 1);
	ck_assert_ptr_null(ks_find(&s, "k", 1, 7));
	ck_assert_uint_eq(pool.in_use, 0);
	ks_fini(&s);
	pool_destroy(&pool);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("keys");
	TCase *tc = tcase_create("keys");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, random_operations_match_the_model);
	tcase_add_test(tc, key_bytes_of_each_type);
	tcase_add_test(tc, short_copies_and_compares_are_exact);
	tcase_add_test(tc, extra_bytes_follow_the_states);
	tcase_add_test(tc, a_state_not_live_is_never_written);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
