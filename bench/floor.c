/* floor.c - tripline-floor: decoding and one key lookup per key space, per event of a file.
 *
 *   tripline-floor [--decode-only] FILE
 *
 * A measuring stick for bench/README.md, not part of the product. It does two things per line
 * of FILE (NDJSON as bench/gen.c writes it): decodes it with tripline's own decoder (the fields
 * examples/fraud.yaml reads, the whole line validated), then, unless --decode-only, finds the
 * line's key in each of fraud.yaml's five key spaces (card, device, ip, email, user) in an
 * open-addressing table and updates a count and a sum there. Each key is one 64-byte slot, so a
 * lookup touches one cache line (two when it probes on), and the slots of an event are asked for
 * eight events ahead.
 * Nothing expires and no rule is evaluated: any engine that keeps state per key for these rules
 * fetches at least these lines per event (though not necessarily as slowly: see
 * bench/README.md). It prints, on stdout, one line per space with its number of distinct keys,
 * count total and sum total (which test_floor.sh checks against jq), and on stderr the events
 * and the time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../parser/json.h"

static const char *const field_names[] = {
	"ts", "type", "card", "user", "email", "amount", "currency", "country", "merchant",
	"mcc", "device", "ip", "new_device", "beneficiary", "ref",
};
#define N_FIELDS (sizeof field_names / sizeof field_names[0])
#define F_AMOUNT 5

/* the key spaces, by field index */
static const int space_field[] = { 2, 10, 11, 4, 3 };
#define N_SPACES (sizeof space_field / sizeof space_field[0])

#define KEY_MAX 38 /* longer keys are counted apart (none in the benchmark's data) */
#define AHEAD 8    /* events decoded, and their slots asked for, ahead of the one updated */

struct slot {
	uint64_t hash;
	double sum;
	uint32_t count;
	uint8_t used, len;
	char key[KEY_MAX];
};

_Static_assert(sizeof(struct slot) == 64, "a slot is one cache line");

struct space {
	struct slot *tab;
	size_t mask, n, n_long;
};

struct pending {
	struct tl_value slots[N_FIELDS];
	uint64_t hash[N_SPACES];
	int ok[N_SPACES];
};

/* A hash of s[0 .. n), eight bytes at a time (keys here are 5 to 30 bytes). The bytes are
 * loaded straight from s: copied into a local word first, the word's load would wait for the
 * copy's stores to retire, and so would the prefetch that needs the hash (on this machine that
 * doubled the cost of the lookups). */
static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
	uint32_t lo, hi;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	if (n >= 4) {
		memcpy(&lo, s, 4);
		memcpy(&hi, s + n - 4, 4);
		w = lo | (uint64_t)hi << 32;
	} else if (n) {
		w = (unsigned char)s[0] | (uint64_t)(unsigned char)s[n / 2] << 8 |
		    (uint64_t)(unsigned char)s[n - 1] << 16;
	} else {
		w = 0;
	}
	h = (h ^ w) * 0xff51afd7ed558ccdULL;
	/* every byte into the low bits, which pick the place */
	h ^= h >> 32;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

/* n zeroed slots, in huge pages where the kernel has them, as tripline's key tables are (with
 * 4 KiB pages nearly every lookup would also miss the TLB); NULL when out of memory. */
static struct slot *table_new(size_t n)
{
	void *p = mmap(NULL, n * sizeof(struct slot), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, n * sizeof(struct slot), MADV_HUGEPAGE);
	return p;
}

static void table_free(struct slot *tab, size_t n)
{
	if (tab)
		munmap(tab, n * sizeof *tab);
}

static int space_init(struct space *sp, size_t bits)
{
	sp->tab = table_new((size_t)1 << bits);
	sp->mask = ((size_t)1 << bits) - 1;
	sp->n = sp->n_long = 0;
	return sp->tab ? 0 : -1;
}

static struct slot *probe(struct slot *tab, size_t mask, uint64_t h, const char *s, size_t n)
{
	struct slot *sl;

	for (sl = &tab[h & mask];; sl = &tab[(sl - tab + 1) & mask])
		if (!sl->used || (sl->hash == h && sl->len == n && !memcmp(sl->key, s, n)))
			return sl;
}

static int grow(struct space *sp)
{
	size_t old = sp->mask + 1, i;
	struct slot *tab = table_new(2 * old);

	if (!tab)
		return -1;
	for (i = 0; i < old; i++)
		if (sp->tab[i].used)
			*probe(tab, 2 * old - 1, sp->tab[i].hash, sp->tab[i].key, sp->tab[i].len) =
				sp->tab[i];
	table_free(sp->tab, old);
	sp->tab = tab;
	sp->mask = 2 * old - 1;
	return 0;
}

static int update(struct space *sp, const struct pending *p, size_t i)
{
	const struct tl_value *v = &p->slots[space_field[i]];
	const struct tl_value *amount = &p->slots[F_AMOUNT];
	struct slot *sl;

	if (!p->ok[i])
		return 0;
	if (v->len > KEY_MAX) {
		sp->n_long++;
		return 0;
	}
	sl = probe(sp->tab, sp->mask, p->hash[i], v->str, v->len);
	if (!sl->used) {
		if (2 * (sp->n + 1) > sp->mask + 1) {
			if (grow(sp))
				return -1;
			sl = probe(sp->tab, sp->mask, p->hash[i], v->str, v->len);
		}
		sl->used = 1;
		sl->hash = p->hash[i];
		sl->len = (uint8_t)v->len;
		memcpy(sl->key, v->str, v->len);
		sp->n++;
	}
	sl->count++;
	if (amount->type == TL_NUM)
		sl->sum += amount->num;
	return 0;
}

int main(int argc, char **argv)
{
	struct jd_decoder *dec[AHEAD + 1] = { NULL };
	static struct pending ring[AHEAD + 1];
	struct space spaces[N_SPACES] = { { NULL, 0, 0, 0 } };
	struct jd_fields *fields = NULL;
	struct timespec t0, t1;
	int decode_only = 0, fd, rc = 1;
	const char *path, *p, *end, *nl;
	uint64_t n_events = 0, done = 0, line_no = 0;
	struct stat st;
	char *map = NULL;
	size_t i, j;

	if (argc == 3 && !strcmp(argv[1], "--decode-only"))
		decode_only = 1;
	else if (argc != 2) {
		fprintf(stderr, "usage: tripline-floor [--decode-only] FILE\n");
		return 2;
	}
	path = argv[argc - 1];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "tripline-floor: %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			fprintf(stderr, "tripline-floor: %s: %s\n", path, strerror(errno));
			close(fd);
			return 2;
		}
		madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
	}
	close(fd);

	if (!(fields = jd_fields_new()))
		goto out_of_memory;
	for (i = 0; i < N_FIELDS; i++) {
		size_t len = strlen(field_names[i]);

		if (jd_fields_add(fields, &field_names[i], &len, 1) != (int)i)
			goto out_of_memory;
	}
	if (jd_fields_freeze(fields))
		goto out_of_memory;
	for (i = 0; i <= AHEAD; i++)
		if (!(dec[i] = jd_decoder_new(fields)))
			goto out_of_memory;
	for (i = 0; i < N_SPACES; i++)
		if (space_init(&spaces[i], 10))
			goto out_of_memory;

	/* Event n is decoded into ring[n % (AHEAD + 1)] (by its own decoder, so that its escaped
	 * strings stay put) and updated AHEAD events later. */
	p = map;
	end = map ? map + st.st_size : NULL;
	for (;;) {
		struct pending *q;
		struct jd_error err;

		while (p && p < end && n_events - done < AHEAD) {
			nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl)
				nl = end;
			line_no++;
			q = &ring[n_events % (AHEAD + 1)];
			if (jd_decode(dec[n_events % (AHEAD + 1)], p, (size_t)(nl - p), q->slots,
				      &err)) {
				fprintf(stderr, "tripline-floor: %s:%llu:%zu: %s\n", path,
					(unsigned long long)line_no, err.off + 1, err.msg);
				goto out;
			}
			p = nl + 1;
			for (j = 0; j < N_SPACES && !decode_only; j++) {
				const struct tl_value *v = &q->slots[space_field[j]];

				q->ok[j] = v->type == TL_STR;
				if (!q->ok[j])
					continue;
				q->hash[j] = hash_bytes(v->str, v->len);
				/* the key's place and the one after (a slot is a line: four
				 * lookups in ten go on to the next) */
				__builtin_prefetch(&spaces[j].tab[q->hash[j] & spaces[j].mask]);
				__builtin_prefetch(&spaces[j].tab[(q->hash[j] + 1) & spaces[j].mask]);
			}
			n_events++;
		}
		if (done == n_events)
			break;
		q = &ring[done % (AHEAD + 1)];
		for (j = 0; j < N_SPACES && !decode_only; j++)
			if (update(&spaces[j], q, j))
				goto out_of_memory;
		done++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	for (j = 0; j < N_SPACES && !decode_only; j++) {
		uint64_t count = 0;
		double sum = 0;

		for (i = 0; i <= spaces[j].mask; i++) {
			count += spaces[j].tab[i].count;
			sum += spaces[j].tab[i].sum;
		}
		printf("%s keys %zu events %llu sum %.2f long %zu\n", field_names[space_field[j]],
		       spaces[j].n, (unsigned long long)count, sum, spaces[j].n_long);
	}
	{
		double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

		fprintf(stderr, "events %llu seconds %.3f ns/event %.0f\n",
			(unsigned long long)n_events, s, n_events ? s * 1e9 / (double)n_events : 0);
	}
	rc = 0;
	goto out;
out_of_memory:
	fprintf(stderr, "tripline-floor: out of memory\n");
out:
	for (i = 0; i < N_SPACES; i++)
		table_free(spaces[i].tab, spaces[i].mask + 1);
	for (i = 0; i <= AHEAD; i++)
		jd_decoder_free(dec[i]);
	jd_fields_free(fields);
	if (map)
		munmap(map, (size_t)st.st_size);
	return rc;
}
