/* eval.c - the expression evaluator: a walk over the resolved tree, three-valued. */
#define _GNU_SOURCE
#include "eval.h"

#include <arpa/inet.h>
#include <math.h>
#include <string.h>

#include "bytes.h"
#include "regex.h"

#define EV_SCRATCH_MIN 4096
#define EV_SCRATCH_MAX (64u * 1024 * 1024)

int ev_init(struct ev_ctx *c)
{
	memset(c, 0, sizeof *c);
	c->rx = rx_scratch_new();
	c->scratch = tl_malloc(EV_SCRATCH_MIN);
	if (!c->rx || !c->scratch) {
		ev_fini(c);
		return -1;
	}
	c->scratch_cap = EV_SCRATCH_MIN;
	return 0;
}

void ev_fini(struct ev_ctx *c)
{
	rx_scratch_free(c->rx);
	tl_free(c->scratch);
	c->rx = NULL;
	c->scratch = NULL;
}

void ev_reset(struct ev_ctx *c)
{
	if (c->scratch_want > c->scratch_cap && c->scratch_want <= EV_SCRATCH_MAX) {
		char *n = tl_realloc(c->scratch, c->scratch_want);

		if (n) {
			c->scratch = n;
			c->scratch_cap = c->scratch_want;
		}
	}
	c->scratch_used = 0;
	c->scratch_want = 0;
}

/* Room for n bytes of a new string, or NULL (the result is then unknown). */
static char *scratch_take(struct ev_ctx *c, size_t n)
{
	char *p;

	if (c->scratch_cap - c->scratch_used < n) {
		size_t want = (c->scratch_used + n) * 2;

		if (want > c->scratch_want)
			c->scratch_want = want;
		return NULL;
	}
	p = c->scratch + c->scratch_used;
	c->scratch_used += n;
	return p;
}

static void set_bool(struct tl_value *v, int b)
{
	v->type = TL_BOOL;
	v->b = (uint8_t)(b != 0);
}

static void set_num(struct tl_value *v, double d)
{
	if (!isfinite(d)) {
		v->type = TL_MISSING;
		return;
	}
	v->type = TL_NUM;
	v->num = d;
}

static int set_has(const struct rl_set *s, const struct tl_value *v)
{
	size_t lo = 0, hi;

	switch (v->type) {
	case TL_BOOL:
		return v->b ? s->has_true : s->has_false;
	case TL_NUM:
		hi = s->n_nums;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (s->nums[mid] < v->num)
				lo = mid + 1;
			else
				hi = mid;
		}
		return lo < s->n_nums && s->nums[lo] == v->num;
	case TL_STR:
		if (s->words) {
			uint64_t w;

			if (v->len > 7)
				return 0;
			w = rl_word(v->str, v->len);
			hi = s->n_strs;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;

				if (s->words[mid] < w)
					lo = mid + 1;
				else
					hi = mid;
			}
			return lo < s->n_strs && s->words[lo] == w;
		}
		hi = s->n_strs;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (ev_str_cmp(&s->strs[mid], v) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		return lo < s->n_strs && ev_str_cmp(&s->strs[lo], v) == 0;
	default:
		return 0;
	}
}

/* A dotted-quad IPv4 address as inet_pton reads one: four decimal parts of 0 to 255, no
 * leading zero; into *out, the first part in the high byte. 0, or -1. Every event of a
 * block-list rule goes through here: the text (7 to 15 bytes) is copied into a zeroed
 * 16-byte buffer, so that each part is read digit by digit with no test for the end (a zero
 * byte is neither a digit nor a dot), never past the buffer (a part starts at most 4 bytes
 * per part before it in, and reads at most 4). */
static int parse_ipv4(const char *s, size_t len, uint32_t *out)
{
	unsigned char b[16] = { 0 };
	const unsigned char *p = b;
	uint32_t acc = 0;
	int part;

	if (len < 7 || len > 15)
		return -1;
	bytes_copy((char *)b, s, len);
	for (part = 0; part < 4; part++) {
		unsigned v = (unsigned)p[0] - '0', d1 = (unsigned)p[1] - '0', d2;

		if (v > 9)
			return -1;
		if (d1 > 9) {
			p += 1;
		} else if (v == 0) {
			return -1; /* a leading zero */
		} else if ((d2 = (unsigned)p[2] - '0') > 9) {
			v = v * 10 + d1;
			p += 2;
		} else {
			v = v * 100 + d1 * 10 + d2;
			if (v > 255 || (unsigned)p[3] - '0' <= 9)
				return -1;
			p += 3;
		}
		acc = acc << 8 | v;
		if (part < 3 && *p++ != '.')
			return -1;
	}
	*out = acc;
	return p == b + len ? 0 : -1;
}

/* Address ip, parsed: c->ip.family 4 or 6 (with a4 or a6 set), or 0 when it is neither. An
 * event's address is often tested against several networks: the last field parsed is kept
 * for the rest of the event. */
static void ip_parse(struct ev_ctx *c, const struct tl_value *ip, int field)
{
	uint8_t a[16];
	char buf[64];

	if (field && c->ip.gen == c->gen && c->ip.str == ip->str && c->ip.len == ip->len)
		return;
	c->ip.family = 0;
	if (parse_ipv4(ip->str, ip->len, &c->ip.a4) == 0) {
		c->ip.family = 4;
	} else if (ip->len && ip->len < sizeof buf && memchr(ip->str, ':', ip->len)) {
		memcpy(buf, ip->str, ip->len);
		buf[ip->len] = '\0';
		if (inet_pton(AF_INET6, buf, a) == 1) {
			c->ip.family = 6;
			rl_addr6(a, c->ip.a6);
		}
	}
	/* only a field's value is kept: a string made by a function lives in the scratch,
	 * where another one may take its place within the same event */
	c->ip.gen = field ? c->gen : c->gen - 1;
	c->ip.str = ip->str;
	c->ip.len = ip->len;
}

static int in_ranges4(const struct rl_nets *s, uint32_t x)
{
	size_t lo = 0, hi = s->n4;

	/* the last range starting at or before x */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v4[mid].lo <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && x <= s->v4[lo - 1].hi;
}

static int in_ranges6(const struct rl_nets *s, const uint64_t *x)
{
	size_t lo = 0, hi = s->n6;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rl_cmp6(s->v6[mid].lo, x) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && rl_cmp6(x, s->v6[lo - 1].hi) <= 0;
}

/* cidr() of the string ip against networks s: 1 when one of them holds the address; unknown
 * when the string is no address, or (see rl_nets) an address of the other family than a lone
 * network's; else 0. */
static int in_cidr(struct ev_ctx *c, const struct rl_nets *s, const struct tl_value *ip,
		   int field)
{
	ip_parse(c, ip, field);
	switch (c->ip.family) {
	case 4:
		return s->n4 && in_ranges4(s, c->ip.a4) ? 1 : s->lone6 ? -1 : 0;
	case 6:
		return s->n6 && in_ranges6(s, c->ip.a6) ? 1 : s->lone4 ? -1 : 0;
	default:
		return -1;
	}
}

/* The bytes of w that are ASCII letters of the case that `from` begins ('A' or 'a'), with
 * the other case: eight at a time. A byte's high bit, once cleared, leaves room for the sums
 * below without a carry into the next byte: 0x7f + 0x3f and 0x7f + 0x25 are under 0x100. */
static inline uint64_t swap_case8(uint64_t w, unsigned char from)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t low7 = w & ~high;
	uint64_t ge = low7 + (0x80u - from) * ones;        /* high bit: byte >= from */
	uint64_t gt = low7 + (0x7fu - (from + 25u)) * ones; /* high bit: byte > from + 25 */
	uint64_t letter = (ge ^ gt) & ~w & high;           /* ... and ASCII */

	return w ^ (letter >> 2);                          /* 0x80 >> 2 is the case bit 0x20 */
}

/* Unicode-unaware case mapping of ASCII letters; other bytes are copied. */
static void map_case(const struct tl_value *in, struct ev_ctx *c, struct tl_value *out, int up)
{
	char *p = scratch_take(c, in->len);
	unsigned char from = up ? 'a' : 'A';
	uint32_t i = 0;
	uint64_t w;

	if (!p && in->len) {
		out->type = TL_MISSING;
		return;
	}
	for (; i + 8 <= in->len; i += 8) {
		memcpy(&w, in->str + i, 8);
		w = swap_case8(w, from);
		memcpy(p + i, &w, 8);
	}
	if (i < in->len && in->len >= 8) {
		/* the last 1 to 7 bytes: the last 8 of the source, again (what was written there
		 * is written the same) */
		i = in->len - 8;
		memcpy(&w, in->str + i, 8);
		w = swap_case8(w, from);
		memcpy(p + i, &w, 8);
	} else if (i < in->len) {
		/* a string of 1 to 7 bytes, through a word */
		w = 0;
		bytes_copy((char *)&w, in->str, in->len);
		w = swap_case8(w, from);
		bytes_copy(p, (const char *)&w, in->len);
	}
	out->type = TL_STR;
	out->str = p ? p : "";
	out->len = in->len;
}

static void eval_func(const struct ex_node *n, struct ev_ctx *c, struct tl_value *out)
{
	struct tl_value a;

	out->type = TL_MISSING;
	switch (n->fn) {
	case RL_FN_EXISTS:
		set_bool(out, c->slots[n->kids[0]->slot].type != TL_MISSING);
		return;
	case RL_FN_TIME:
		set_num(out, (double)c->time_us / 1e6);
		return;
	default:
		break;
	}
	ev_eval(n->kids[0], c, &a);
	switch (n->fn) {
	case RL_FN_LOWER: case RL_FN_UPPER:
		if (a.type == TL_STR)
			map_case(&a, c, out, n->fn == RL_FN_UPPER);
		return;
	case RL_FN_LEN:
		if (a.type == TL_STR) {
			uint32_t i, chars = 0;

			for (i = 0; i < a.len; i++)
				chars += ((unsigned char)a.str[i] & 0xC0) != 0x80;
			set_num(out, chars);
		}
		return;
	case RL_FN_ABS:
		if (a.type == TL_NUM)
			set_num(out, fabs(a.num));
		return;
	case RL_FN_CIDR:
		if (a.type == TL_STR) {
			int r = in_cidr(c, n->ref, &a, n->kids[0]->kind == EX_FIELD);

			if (r >= 0)
				set_bool(out, r);
		}
		return;
	default:
		return;
	}
}

static int truth(const struct tl_value *v)
{
	/* 1 true, 0 false, -1 unknown */
	if (v->type != TL_BOOL)
		return -1;
	return v->b;
}

/* The value of a leaf read in place (a literal, a field, an aggregate), or NULL for a node that
 * must be evaluated: most operands are leaves, and reading them costs no call and no copy. */
static inline const struct tl_value *leaf(const struct ex_node *n, const struct ev_ctx *c)
{
	switch (n->kind) {
	case EX_LIT:
		return &n->val;
	case EX_FIELD:
		return &c->slots[n->slot];
	case EX_AGG:
		return &c->aggs[n->slot];
	default:
		return NULL;
	}
}

/* The value of operand n: in place when it is a leaf, else evaluated into *tmp. */
static inline const struct tl_value *operand(const struct ex_node *n, struct ev_ctx *c,
					     struct tl_value *tmp)
{
	const struct tl_value *v = leaf(n, c);

	if (v)
		return v;
	ev_eval(n, c, tmp);
	return tmp;
}

void ev_eval(const struct ex_node *n, struct ev_ctx *c, struct tl_value *out)
{
	struct tl_value a, b, ta, tb;
	const struct tl_value *pa, *pb;
	int t;

	switch (n->kind) {
	case EX_LIT:
		*out = n->val;
		return;
	case EX_FIELD:
		*out = c->slots[n->slot];
		return;
	case EX_AGG:
		*out = c->aggs[n->slot];
		return;
	case EX_ALIAS: {
		const struct ev_bound *b;

		if (c->rv && n->read) { /* a condition tried on a run: the run keeps the value */
			*out = c->rv[n->read - 1];
			return;
		}
		b = n->fn == EX_ALIAS_LAST ? &c->last[n->step] : &c->first[n->step];
		if (!b->slots)
			out->type = TL_MISSING;
		else if (n->slot == EX_ALIAS_TIME)
			set_num(out, (double)b->time_us / 1e6);
		else
			*out = b->slots[n->slot];
		return;
	}
	case EX_FUNC:
		eval_func(n, c, out);
		return;
	case EX_NOT:
		ev_eval(n->kids[0], c, &a);
		t = truth(&a);
		if (t < 0)
			out->type = TL_MISSING;
		else
			set_bool(out, !t);
		return;
	case EX_NEG:
		ev_eval(n->kids[0], c, &a);
		if (a.type == TL_NUM)
			set_num(out, -a.num);
		else
			out->type = TL_MISSING;
		return;
	case EX_AND: case EX_OR: {
		int stop = n->kind == EX_OR; /* the value that decides alone */
		int ta, tb;

		ev_eval(n->kids[0], c, &a);
		ta = truth(&a);
		if (ta == stop) {
			set_bool(out, stop);
			return;
		}
		ev_eval(n->kids[1], c, &b);
		tb = truth(&b);
		if (tb == stop)
			set_bool(out, stop);
		else if (ta < 0 || tb < 0)
			out->type = TL_MISSING;
		else
			set_bool(out, !stop);
		return;
	}
	case EX_IN: case EX_NOT_IN:
		ev_eval(n->kids[0], c, &a);
		if (a.type == TL_MISSING || a.type == TL_NULL || a.type == TL_ARR ||
		    a.type == TL_OBJ) {
			out->type = TL_MISSING;
			return;
		}
		t = set_has(n->kids[1]->ref, &a);
		set_bool(out, n->kind == EX_IN ? t : !t);
		return;
	case EX_REGEX:
		/* fn: lower(s) matches literal strings of small letters (load.c) */
		ev_eval(n->fn ? n->kids[0]->kids[0] : n->kids[0], c, &a);
		if (a.type != TL_STR) {
			out->type = TL_MISSING;
			return;
		}
		if (n->fn) {
			set_bool(out, rx_match_lower(n->ref, a.str, a.len));
			return;
		}
		t = rx_match(n->ref, a.str, a.len, c->rx);
		if (t < 0) {
			c->n_regex_limit++;
			out->type = TL_MISSING;
		} else {
			set_bool(out, t);
		}
		return;
	default:
		break;
	}
	/* binary operators on values */
	pa = operand(n->kids[0], c, &ta);
	pb = operand(n->kids[1], c, &tb);
	if (n->kind >= EX_EQ && n->kind <= EX_GE) {
		t = ev_compare(n, pa, pb);
		if (t < 0)
			out->type = TL_MISSING;
		else
			set_bool(out, t);
		return;
	}
	a = *pa;
	b = *pb;
	out->type = TL_MISSING;
	switch (n->kind) {
	case EX_CONTAINS: case EX_STARTSWITH: case EX_ENDSWITH:
		if (a.type != TL_STR || b.type != TL_STR)
			return;
		if (b.len > a.len) {
			set_bool(out, 0);
		} else if (n->kind == EX_STARTSWITH) {
			set_bool(out, memcmp(a.str, b.str, b.len) == 0);
		} else if (n->kind == EX_ENDSWITH) {
			set_bool(out, memcmp(a.str + a.len - b.len, b.str, b.len) == 0);
		} else {
			set_bool(out, b.len == 0 || memmem(a.str, a.len, b.str, b.len) != NULL);
		}
		return;
	default:
		break;
	}
	if (a.type != TL_NUM || b.type != TL_NUM)
		return;
	switch (n->kind) {
	case EX_ADD: set_num(out, a.num + b.num); return;
	case EX_SUB: set_num(out, a.num - b.num); return;
	case EX_MUL: set_num(out, a.num * b.num); return;
	case EX_DIV:
		if (b.num != 0)
			set_num(out, a.num / b.num);
		return;
	case EX_MOD:
		if (b.num != 0)
			set_num(out, fmod(a.num, b.num));
		return;
	default:
		return;
	}
}

void ev_eval_top(const struct ex_node *n, struct ev_ctx *c, struct tl_value *out)
{
	if (c->scratch_want)
		ev_reset(c);
	c->scratch_used = 0;
	ev_eval(n, c, out);
	if (c->scratch_want) {
		/* a string did not fit: grow the scratch and evaluate again, so that a result
		 * never depends on what was evaluated before */
		ev_reset(c);
		ev_eval(n, c, out);
	}
}

/* 1 when the string ip begins as an IPv4 address does, 1 to 3 digits and a dot (no IPv6
 * address does), with a first octet that no IPv4 network of s holds: cidr() is then false
 * or unknown, and not true. Most addresses of a stream are ruled out so, unparsed. */
static int first_octet_out(const struct rl_nets *s, const struct tl_value *ip)
{
	const unsigned char *p = (const unsigned char *)ip->str;
	unsigned v = 0, d;
	uint32_t i;

	for (i = 0; i < 3 && i < ip->len && (d = (unsigned)p[i] - '0') <= 9; i++)
		v = v * 10 + d;
	if (i == 0 || i == ip->len || p[i] != '.')
		return 0;
	return v > 255 || !(s->first4[v / 64] >> (v % 64) & 1);
}

/* An || of cidr() over one field, marked by the compiler (fn, ref: the networks of all its
 * sides): as truth_of would judge it, the field read once and searched once. With holds,
 * only whether it is true matters (1, or 0 for false and unknown alike). */
static int cidr_any(const struct ex_node *n, struct ev_ctx *c, const struct tl_value *ip,
		    int holds)
{
	if (ip->type != TL_STR)
		return -1;
	if (holds && first_octet_out(n->ref, ip))
		return 0;
	return in_cidr(c, n->ref, ip, 1);
}

/* The truth of condition n (1, 0, or -1 for unknown), as ev_eval then truth() would give it,
 * without making values for the logic between: conditions are mostly && and || over
 * comparisons of fields with literals. With holds, the caller asks only whether n is true,
 * and 0 may stand for unknown: so it is for the sides of an && or an || whose value is so
 * asked for (each is true exactly when the sides are), but not under a ! (!unknown is
 * unknown, !false is true). */
static int truth_of(const struct ex_node *n, struct ev_ctx *c, int holds)
{
	const struct tl_value *pa, *pb;
	struct tl_value ta, tb;
	int a, b;

	switch (n->kind) {
	case EX_AND: case EX_OR: {
		int stop = n->kind == EX_OR; /* the value that decides alone */

		if (n->fn)
			return cidr_any(n, c, &c->slots[n->slot], holds);
		a = truth_of(n->kids[0], c, holds);
		if (a == stop)
			return stop;
		b = truth_of(n->kids[1], c, holds);
		if (b == stop)
			return stop;
		return a < 0 || b < 0 ? -1 : !stop;
	}
	case EX_NOT:
		a = truth_of(n->kids[0], c, 0);
		return a < 0 ? -1 : !a;
	case EX_LT: case EX_LE: case EX_GT: case EX_GE:
		if (n->fn)
			return ev_num_vs_literal(n, c);
		/* fall through */
	case EX_EQ: case EX_NE:
		pa = operand(n->kids[0], c, &ta);
		pb = operand(n->kids[1], c, &tb);
		return ev_compare(n, pa, pb);
	case EX_FUNC:
		/* cidr() of a field, a block list most often: as an || of them */
		if (n->fn == RL_FN_CIDR && n->kids[0]->kind == EX_FIELD)
			return cidr_any(n, c, &c->slots[n->kids[0]->slot], holds);
		/* fall through */
	default:
		ev_eval(n, c, &ta);
		return truth(&ta);
	}
}

int ev_holds_walk(const struct ex_node *n, struct ev_ctx *c)
{
	int t;

	if (c->scratch_want)
		ev_reset(c);
	c->scratch_used = 0;
	t = truth_of(n, c, 1);
	if (c->scratch_want) {
		/* as ev_eval_top: a string did not fit; again with a larger scratch */
		ev_reset(c);
		t = truth_of(n, c, 1);
	}
	return t == 1;
}
