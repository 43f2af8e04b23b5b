/* gen.c - tripline-gen, the benchmark's data: streams of card-payment events for
 * examples/fraud.yaml with fraud scenarios woven in, and the many-rule file of case (c).
 *
 *   tripline-gen [-n EVENTS] [-k CARDS] [-s SEED] [--mode normal|distinct|adversarial]
 *   tripline-gen --rules N [-s SEED]
 *
 * The output depends on the arguments only, byte for byte, on every machine: the PRNG is our
 * own (xoshiro256**, seeded by splitmix64), numbers are formatted by hand (no locale), and the
 * logarithm and exponential are computed here from + - * / (sqrt comes from libm: IEEE 754
 * rounds it exactly), with FMA contraction turned off for this file in bench/CMakeLists.txt.
 *
 * Attributes of cards and users (home country, devices, address, mailbox) are a pure function
 * of the seed and the id, so nothing but the card activity table grows with the stream.
 * Events go through one min-heap ordered by time: the background traffic arrives as a Poisson
 * process, and follow-ups (a confirm after a transfer, a retry after a decline) and injected
 * scenarios are pushed ahead into the heap. See bench/README.md for the mix and the scenarios.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2

#define T0_MS 1767225600000LL	/* 2026-01-01T00:00:00Z */
#define SEC 1000LL
#define MIN (60 * SEC)

/* Arrivals, events per second: a day's worth of payments at a mid-sized issuer per 1M events. */
#define RATE_NORMAL 10.0
/* The adversarial stream comes in faster, so that runs pile up within fraud.yaml's `within`. */
#define RATE_ADVERSARIAL 50.0
/* Share of background events written up to 3 s behind their time (lateness in fraud.yaml is
 * 5 s, so they are put back in order, never dropped as late). */
#define LATE_SHARE 0.01
#define LATE_MAX_MS 3000
/* Mailboxes at throwaway domains among ordinary users: disposable-email fires now and then. */
#define DISPOSABLE_SHARE 0.0001
/* Injected scenarios per million events; small streams get at least MIN_SCENARIOS. */
#define SCENARIOS_PER_M 400
#define MIN_SCENARIOS 45

static void die(const char *msg)
{
	fprintf(stderr, "tripline-gen: %s\n", msg);
	exit(1);
}

/* --- randomness and the few functions of it --------------------------------------------- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

/* A stream of its own for one entity (a user, a card pair...): its attributes stay the same
 * whenever and however often they are asked for. */
static void rng_for(struct rng *r, uint64_t seed, uint64_t tag, uint64_t id)
{
	uint64_t x = seed ^ (tag * 0xd6e8feb86659fd93ULL);

	x = splitmix64(&x) ^ id;
	rng_seed(r, x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* uniform in [0, 1) */
static double unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* uniform in [0, n); the modulo bias is below 2^-40 for the n used here */
static uint64_t below(struct rng *r, uint64_t n)
{
	return rng_next(r) % n;
}

/* uniform in [lo, hi] */
static int64_t between(struct rng *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t)below(r, (uint64_t)(hi - lo) + 1);
}

static bool chance(struct rng *r, double p)
{
	return unit(r) < p;
}

#define LN2 0.69314718055994530942
#define SQRT2 1.41421356237309504880

/* Natural logarithm of a positive normal double. libm's may differ in the last bit between
 * libraries; this one is the same everywhere. ln x = e ln 2 + 2 atanh((m - 1) / (m + 1)). */
static double det_log(double x)
{
	uint64_t bits;
	double m, s, s2, term, sum = 0;
	int e;

	memcpy(&bits, &x, sizeof bits);
	e = (int)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
	memcpy(&m, &bits, sizeof m);
	if (m > SQRT2) {
		m /= 2;
		e++;
	}
	s = (m - 1) / (m + 1);	/* |s| < 0.172: 14 terms are plenty */
	s2 = s * s;
	term = s;
	for (int k = 1; k < 29; k += 2) {
		sum += term / k;
		term *= s2;
	}
	return e * LN2 + 2 * sum;
}

/* e^x for |x| < 700, as 2^k e^r with |r| <= ln2 / 2. */
static double det_exp(double x)
{
	double r, term = 1, sum = 1, scale;
	uint64_t bits;
	int64_t k;

	if (x > 700)
		x = 700;
	if (x < -700)
		x = -700;
	k = (int64_t)(x / LN2 + (x < 0 ? -0.5 : 0.5));
	r = x - (double)k * LN2;
	for (int i = 1; i < 20; i++) {
		term *= r / i;
		sum += term;
	}
	bits = (uint64_t)(k + 1023) << 52;
	memcpy(&scale, &bits, sizeof scale);
	return sum * scale;
}

/* standard normal deviate (Marsaglia's polar method, one of the pair) */
static double normal(struct rng *r)
{
	double u, v, s;

	do {
		u = 2 * unit(r) - 1;
		v = 2 * unit(r) - 1;
		s = u * u + v * v;
	} while (s >= 1 || s == 0);
	return u * sqrt(-2 * det_log(s) / s);
}

/* exponential deviate of mean 1 */
static double expo(struct rng *r)
{
	return -det_log(1 - unit(r));
}

/* A Zipf-like rank in [0, n): P(k) ~ 1 / (k + 1.5), the head popular, the tail long. */
static uint32_t zipf(struct rng *r, uint32_t n)
{
	uint32_t k = (uint32_t)det_exp(unit(r) * det_log(n + 1.0)) - 1;

	return k < n ? k : n - 1;
}

/* index drawn from integer weights */
static unsigned pick_weighted(struct rng *r, const unsigned short *w, unsigned n)
{
	unsigned total = 0, x;

	for (unsigned i = 0; i < n; i++)
		total += w[i];
	x = (unsigned)below(r, total);
	for (unsigned i = 0; i < n; i++) {
		if (x < w[i])
			return i;
		x -= w[i];
	}
	return n - 1;
}

/* --- reference data ------------------------------------------------------------------------ */

struct country {
	const char *code;
	const char *currency;
	unsigned short home;	/* cardholders living there, per mille or so */
	unsigned short away;	/* weight as a second country: travel, online shops abroad */
	const char *isp_mail;	/* the local mailbox provider, if any */
};

/* Homes first, then countries only visited or shopped in, then fraud.yaml's risky list, whose
 * merchants only the scenarios use. */
static const struct country countries[] = {
	{"GB", "GBP", 160, 10, "btinternet.com"},
	{"DE", "EUR", 140, 6, "gmx.de"},
	{"FR", "EUR", 110, 6, "orange.fr"},
	{"US", "USD", 130, 15, "comcast.net"},
	{"ES", "EUR", 75, 8, "telefonica.net"},
	{"IT", "EUR", 70, 6, "libero.it"},
	{"NL", "EUR", 50, 10, "ziggo.nl"},
	{"PL", "PLN", 40, 2, "wp.pl"},
	{"BE", "EUR", 25, 2, "skynet.be"},
	{"SE", "SEK", 25, 2, "telia.com"},
	{"IE", "EUR", 20, 20, "eircom.net"},
	{"PT", "EUR", 20, 4, "sapo.pt"},
	{"AT", "EUR", 20, 3, "gmx.at"},
	{"CH", "CHF", 15, 3, "bluewin.ch"},
	{"DK", "DKK", 12, 1, NULL},
	{"CA", "CAD", 25, 2, "rogers.com"},
	{"AU", "AUD", 12, 1, "bigpond.com"},
	{"IN", "INR", 10, 1, NULL},
	{"BR", "BRL", 8, 1, "uol.com.br"},
	{"LU", "EUR", 0, 15, NULL},
	{"TH", "THB", 0, 2, NULL},
	{"AE", "AED", 0, 2, NULL},
	{"JP", "JPY", 0, 2, NULL},
	{"TR", "TRY", 0, 2, NULL},
	{"MX", "MXN", 0, 2, NULL},
	{"RU", "RUB", 0, 0, NULL},
	{"BY", "BYN", 0, 0, NULL},
	{"IR", "IRR", 0, 0, NULL},
	{"KP", "KPW", 0, 0, NULL},
	{"SY", "SYP", 0, 0, NULL},
	{"NG", "NGN", 0, 0, NULL},
	{"VE", "VES", 0, 0, NULL},
	{"MM", "MMK", 0, 0, NULL},
};

#define N_COUNTRY (sizeof countries / sizeof countries[0])
#define FIRST_RISKY 25

struct category {
	const char *mcc;
	unsigned short share;	/* of payments, per 10000 */
	unsigned short shops;	/* merchants per 100 of a country's weight */
	unsigned median;	/* amount, cents */
	unsigned short sigma;	/* of the amount's log, hundredths */
};

enum {
	CAT_GROCERY, CAT_RESTAURANT, CAT_FAST_FOOD, CAT_MISC, CAT_DEPARTMENT, CAT_FUEL,
	CAT_TRANSIT, CAT_TAXI, CAT_PHARMACY, CAT_CLOTHING, CAT_ELECTRONICS, CAT_AIRLINE,
	CAT_HOTEL, CAT_DIGITAL, CAT_TELECOM, CAT_CASH, N_CAT = CAT_CASH + 4
};

/* Amounts are log-normal per category: overall median about 30 EUR, a tail into thousands. */
static const struct category categories[N_CAT] = {
	{"5411", 2000, 60, 3200, 80},	/* grocery */
	{"5812", 1100, 90, 3500, 60},	/* restaurants */
	{"5814", 1100, 40, 800, 50},	/* fast food, coffee */
	{"5999", 900, 60, 3500, 100},	/* miscellaneous retail */
	{"5311", 600, 15, 5500, 90},	/* department stores, marketplaces */
	{"5541", 700, 20, 5500, 40},	/* fuel */
	{"4111", 600, 5, 350, 50},	/* local transport */
	{"4121", 400, 5, 1800, 60},	/* taxis, ride hailing */
	{"5912", 400, 25, 1500, 70},	/* pharmacies */
	{"5651", 500, 30, 6000, 70},	/* clothing */
	{"5732", 300, 15, 15000, 110},	/* electronics */
	{"4511", 150, 4, 18000, 80},	/* airlines */
	{"7011", 150, 30, 16000, 80},	/* hotels */
	{"5815", 500, 6, 1000, 60},	/* digital goods, app stores */
	{"4814", 200, 4, 2000, 40},	/* telecom top-ups */
	/* fraud.yaml's cash_like_mcc: quasi-cash and crypto, money transfer, stored value,
	 * betting; rare in ordinary spending */
	{"6051", 60, 3, 5000, 100},
	{"4829", 50, 2, 5000, 100},
	{"6540", 40, 2, 5000, 100},
	{"7995", 50, 3, 5000, 100},
};

/* the largest ordinary payment: issuers' limits cut the tail (redrawn above it) */
#define MAX_CENTS 450000

static const char *const first_names[] = {
	"anna", "ben", "carla", "david", "emma", "felix", "giulia", "hugo", "ines", "jan",
	"julia", "karl", "laura", "lucas", "maria", "mateo", "nina", "oliver", "paula", "pierre",
	"rosa", "sam", "sofia", "tom", "vera", "will", "zoe", "lea", "marco", "sara", "noah",
	"eva", "leon", "mia", "ivan", "olga", "ahmed", "priya", "chen", "yuki",
};

static const char *const last_names[] = {
	"smith", "muller", "martin", "garcia", "rossi", "jansen", "nowak", "dubois", "silva",
	"brown", "schmidt", "lopez", "bianchi", "peeters", "kowalski", "murphy", "wilson",
	"schneider", "moreau", "fernandez", "ricci", "visser", "berg", "larsen", "walsh",
	"novak", "costa", "meyer", "taylor", "hansen",
};

static const char *const mail_domains[] = {
	"gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com", "proton.me",
};
static const unsigned short mail_weights[] = {45, 13, 11, 11, 8, 2};

/* fraud.yaml's disposable-email pattern matches these */
static const char *const throwaway_domains[] = {
	"mailinator.com", "yopmail.com", "guerrillamail.com", "sharklasers.com",
};

/* where mule accounts of the scenarios bank */
static const char *const mule_banks[] = {"LT", "CY", "MT", "LV", "EE", "BG", "RO"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* --- events -------------------------------------------------------------------------------- */

enum {
	EV_TXN, EV_DECLINE, EV_LOGIN, EV_REFUND, EV_RESET, EV_PAYOUT, EV_TRANSFER, EV_CONFIRM,
	N_EV
};

static const char *const type_names[N_EV] = {
	"txn", "decline", "login", "refund", "password_reset", "payout", "transfer", "confirm",
};

/* fields written, in this order: ts type card user email ref amount currency beneficiary
 * country merchant mcc device ip new_device */
enum {
	HAS_CARD = 1 << 0, HAS_EMAIL = 1 << 1, HAS_REF = 1 << 2, HAS_AMOUNT = 1 << 3,
	HAS_BENE = 1 << 4, HAS_COUNTRY = 1 << 5, HAS_SHOP = 1 << 6, HAS_DEVICE = 1 << 7,
	HAS_IP = 1 << 8, HAS_NEW_DEVICE = 1 << 9,
};

/* As fraud.yaml's header says: refunds carry no device, IP or email; account events no card. */
static const unsigned short fields_of[N_EV] = {
	[EV_TXN] = HAS_CARD | HAS_EMAIL | HAS_AMOUNT | HAS_COUNTRY | HAS_SHOP | HAS_DEVICE |
		HAS_IP,
	[EV_DECLINE] = HAS_CARD | HAS_EMAIL | HAS_AMOUNT | HAS_COUNTRY | HAS_SHOP |
		HAS_DEVICE | HAS_IP,
	[EV_LOGIN] = HAS_EMAIL | HAS_COUNTRY | HAS_DEVICE | HAS_IP | HAS_NEW_DEVICE,
	[EV_REFUND] = HAS_CARD | HAS_AMOUNT | HAS_COUNTRY | HAS_SHOP,
	[EV_RESET] = HAS_EMAIL | HAS_COUNTRY | HAS_DEVICE | HAS_IP,
	[EV_PAYOUT] = HAS_EMAIL | HAS_AMOUNT | HAS_BENE | HAS_DEVICE | HAS_IP,
	[EV_TRANSFER] = HAS_EMAIL | HAS_REF | HAS_AMOUNT | HAS_BENE | HAS_DEVICE | HAS_IP,
	[EV_CONFIRM] = HAS_REF | HAS_DEVICE,
};

/* event flags */
enum {
	F_SCENARIO = 1 << 0,	/* injected: written at its exact time */
	F_NEW_DEVICE = 1 << 1,
	F_THROWAWAY = 1 << 2,	/* the account's mailbox is at a throwaway domain */
};

struct event {
	int64_t t;		/* ms since the epoch */
	uint64_t seq;		/* order of creation: ties in t keep it */
	int64_t cents;
	uint32_t card, user, device, ip, merchant, ref;
	uint16_t bene_digits;
	uint8_t type, country, cat, flags, bene_bank;	/* bene_bank: 0 own, else mule bank + 1 */
};

struct heap {
	struct event *v;
	size_t len, cap;
};

static bool ev_before(const struct event *a, const struct event *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(struct heap *h, const struct event *e)
{
	size_t i;

	if (h->len == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 1024;
		struct event *v;

		if (cap > SIZE_MAX / sizeof *v)
			die("out of memory");
		v = realloc(h->v, cap * sizeof *v);
		if (!v)
			die("out of memory");
		h->v = v;
		h->cap = cap;
	}
	i = h->len++;
	while (i > 0 && ev_before(e, &h->v[(i - 1) / 2])) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = *e;
}

static void heap_pop(struct heap *h, struct event *out)
{
	struct event last;
	size_t i = 0;

	*out = h->v[0];
	last = h->v[--h->len];
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->len)
			break;
		if (c + 1 < h->len && ev_before(&h->v[c + 1], &h->v[c]))
			c++;
		if (!ev_before(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->len)
		h->v[i] = last;
}

/* --- the generator's state ----------------------------------------------------------------- */

enum mode { MODE_NORMAL, MODE_DISTINCT, MODE_ADVERSARIAL };

struct shop_group {
	uint32_t first, n;
};

struct gen {
	enum mode mode;
	uint64_t seed;
	uint64_t n_events;
	uint32_t n_cards;	/* cards of the card table, ids 0..n_cards-1 */
	struct rng rng;
	struct heap heap;
	uint64_t n_pushed;
	int64_t now;		/* time of the last event taken from the heap */
	int64_t max_ts;		/* greatest time written */
	double rate;		/* arrivals per second, on average over a day */
	double *activity;	/* cumulative activity weight per card (normal mode) */
	uint32_t next_card;	/* fresh cards and users: past every id of the card table */
	uint32_t next_device;	/* fresh devices: past every user's own */
	uint32_t next_ref;
	uint8_t *login_country;	/* adversarial: each user's current login country */
	struct shop_group shops[N_COUNTRY][N_CAT];
};

struct user {
	uint32_t id;
	uint8_t home, away, n_devices;
	uint32_t ip;		/* home connection */
	uint16_t bank;		/* digits of their own IBAN, for payouts */
};

enum { TAG_USER = 1, TAG_MAIL, TAG_PAIR, TAG_CARD };

/* Merchants of each country and category, numbered in one sequence: a few thousand. */
static void build_shops(struct gen *g)
{
	uint32_t next = 0;

	for (unsigned c = 0; c < N_COUNTRY; c++) {
		unsigned weight = countries[c].home + 8;

		for (unsigned k = 0; k < N_CAT; k++) {
			uint32_t n = categories[k].shops * weight / 100;

			g->shops[c][k].first = next;
			g->shops[c][k].n = n ? n : 1;
			next += g->shops[c][k].n;
		}
	}
}

static uint32_t pick_merchant(struct gen *g, unsigned country, unsigned cat)
{
	const struct shop_group *s = &g->shops[country][cat];

	return s->first + zipf(&g->rng, s->n);
}

static unsigned pick_category(struct rng *r, bool cash_like)
{
	static unsigned short w[N_CAT];

	if (!w[0])
		for (unsigned k = 0; k < N_CAT; k++)
			w[k] = categories[k].share;
	if (cash_like)
		return CAT_CASH + (unsigned)below(r, N_CAT - CAT_CASH);
	return pick_weighted(r, w, N_CAT);
}

static int64_t pick_amount(struct rng *r, unsigned cat)
{
	const struct category *k = &categories[cat];
	int64_t cents;

	do
		cents = (int64_t)(k->median * det_exp(k->sigma / 100.0 * normal(r)) + 0.5);
	while (cents > MAX_CENTS);
	return cents < 50 ? 50 : cents;
}

static uint32_t public_ip(struct rng *r)
{
	for (;;) {
		uint32_t ip = (uint32_t)(rng_next(r) >> 32);
		unsigned a = ip >> 24;

		/* no private, loopback, multicast or documentation space (the blocklist of
		 * fraud.yaml is 203.0.113.0/24 and 198.51.100.0/24: scenarios only) */
		if (a == 0 || a == 10 || a == 100 || a == 127 || a == 169 || a == 172 ||
		    a == 192 || a == 198 || a == 203 || a >= 224)
			continue;
		return ip;
	}
}

static void user_get(const struct gen *g, uint32_t id, struct user *u)
{
	static unsigned short home_w[N_COUNTRY], away_w[N_COUNTRY];
	struct rng r;

	if (!home_w[0])
		for (unsigned c = 0; c < N_COUNTRY; c++) {
			home_w[c] = countries[c].home;
			away_w[c] = countries[c].away;
		}
	rng_for(&r, g->seed, TAG_USER, id);
	u->id = id;
	u->home = (uint8_t)pick_weighted(&r, home_w, N_COUNTRY);
	do
		u->away = (uint8_t)pick_weighted(&r, away_w, N_COUNTRY);
	while (u->away == u->home);
	u->n_devices = chance(&r, 0.5) ? 1 : chance(&r, 0.7) ? 2 : 3;
	if (chance(&r, 0.1))
		u->ip = (10u << 24) | (uint32_t)below(&r, 1u << 24);	/* behind a corporate VPN */
	else
		u->ip = public_ip(&r);
	u->bank = (uint16_t)below(&r, 10000);
}

/* Cards come in pairs 2j, 2j+1: a quarter of the pairs belong to one user (owning both). */
static uint32_t owner(const struct gen *g, uint32_t card)
{
	struct rng r;

	if (g->mode != MODE_NORMAL || card >= g->n_cards)
		return card;
	rng_for(&r, g->seed, TAG_PAIR, card >> 1);
	return below(&r, 4) == 0 ? card & ~1u : card;
}

/* Some cards are used far more than others: a log-normal weight, capped so that no ordinary
 * card reaches the velocity or daily-spend limits by itself. */
static void build_activity(struct gen *g)
{
	double sum = 0;

	g->activity = malloc((size_t)g->n_cards * sizeof *g->activity);
	if (!g->activity)
		die("out of memory");
	for (uint32_t c = 0; c < g->n_cards; c++) {
		struct rng r;
		double w;

		rng_for(&r, g->seed, TAG_CARD, c);
		w = det_exp(0.9 * normal(&r));
		sum += w < 12 ? w : 12;
		g->activity[c] = sum;
	}
}

/* the card of the next background event: by activity, or a new one in distinct mode */
static uint32_t pick_card(struct gen *g)
{
	double x;
	uint32_t lo = 0, hi;

	if (g->mode == MODE_DISTINCT)
		return g->next_card++;
	if (g->mode == MODE_ADVERSARIAL)
		return (uint32_t)below(&g->rng, g->n_cards);
	hi = g->n_cards - 1;
	x = unit(&g->rng) * g->activity[hi];
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (g->activity[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* a card the fraudsters hold: any customer's, unweighted; a new one in distinct mode */
static uint32_t victim_card(struct gen *g)
{
	if (g->mode == MODE_DISTINCT)
		return g->next_card++;
	return (uint32_t)below(&g->rng, g->n_cards);
}

static uint32_t user_device(struct gen *g, const struct user *u)
{
	unsigned k = chance(&g->rng, 0.7) ? 0 : (unsigned)below(&g->rng, u->n_devices);

	return 3 * u->id + k;
}

/* at home mostly, else on a mobile network */
static uint32_t user_ip(struct gen *g, const struct user *u)
{
	return chance(&g->rng, 0.8) ? u->ip : public_ip(&g->rng);
}

static void push(struct gen *g, struct event *e)
{
	e->seq = g->n_pushed++;
	heap_push(&g->heap, e);
}

/* --- output -------------------------------------------------------------------------------- */

static struct {
	char buf[1 << 16];
	size_t len;
} out;

static void out_flush(void)
{
	if (out.len && fwrite(out.buf, 1, out.len, stdout) != out.len)
		die("cannot write the output");
	out.len = 0;
}

static void put_mem(const char *s, size_t n)
{
	if (out.len + n > sizeof out.buf)
		out_flush();
	memcpy(out.buf + out.len, s, n);
	out.len += n;
}

static void put(const char *s)
{
	put_mem(s, strlen(s));
}

static void put_u(uint64_t v)
{
	char tmp[24];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put_mem(tmp + i, sizeof tmp - i);
}

/* the last width digits of v, zero-padded (width <= 8) */
static void put_padded(uint64_t v, unsigned width)
{
	char tmp[8];

	for (unsigned i = width; i > 0; i--) {
		tmp[i - 1] = (char)('0' + v % 10);
		v /= 10;
	}
	put_mem(tmp, width);
}

/* a non-negative integer count of 1/10^decimals as a decimal number: cents as "12.34",
 * milliseconds as "12.345" */
static void put_fixed(int64_t v, unsigned decimals, uint64_t scale)
{
	put_u((uint64_t)v / scale);
	put(".");
	put_padded((uint64_t)v % scale, decimals);
}

static void put_ip(uint32_t ip)
{
	for (int shift = 24; shift >= 0; shift -= 8) {
		put_u((ip >> shift) & 0xff);
		if (shift)
			put(".");
	}
}

static void put_email(const struct gen *g, const struct user *u, bool throwaway)
{
	const char *first, *last, *domain;
	unsigned n, year;
	struct rng r;

	rng_for(&r, g->seed, TAG_MAIL, u->id);
	first = first_names[below(&r, N_OF(first_names))];
	last = last_names[below(&r, N_OF(last_names))];
	n = (unsigned)below(&r, 100);
	year = 1950 + (unsigned)below(&r, 56);
	if (throwaway || chance(&r, DISPOSABLE_SHARE))
		domain = throwaway_domains[below(&r, N_OF(throwaway_domains))];
	else if (countries[u->home].isp_mail && chance(&r, 0.2))
		domain = countries[u->home].isp_mail;
	else
		domain = mail_domains[pick_weighted(&r, mail_weights, N_OF(mail_weights))];
	/* anna.smith, anna_smith42, asmith42, annasmith, anna1987 */
	switch (below(&r, 5)) {
	case 0:
		put(first);
		put(".");
		put(last);
		break;
	case 1:
		put(first);
		put("_");
		put(last);
		put_u(n);
		break;
	case 2:
		put_mem(first, 1);
		put(last);
		put_u(n);
		break;
	case 3:
		put(first);
		put(last);
		break;
	default:
		put(first);
		put_u(year);
		break;
	}
	put("@");
	put(domain);
}

static void put_key(const char *name, char prefix, uint64_t id)
{
	char p[2] = {prefix, 0};

	put(",\"");
	put(name);
	put("\":\"");
	put(p);
	put_u(id);
	put("\"");
}

static void put_text(const char *name, const char *value)
{
	put(",\"");
	put(name);
	put("\":\"");
	put(value);
	put("\"");
}

static void write_event(struct gen *g, const struct event *e)
{
	unsigned f = fields_of[e->type];
	int64_t ts = e->t;
	struct user u;

	/* a gateway forwarding late: behind the greatest time written, by 3 s at most */
	if (!(e->flags & F_SCENARIO) && chance(&g->rng, LATE_SHARE))
		ts -= between(&g->rng, 1, LATE_MAX_MS);
	if (ts < g->max_ts - 4 * SEC)
		die("internal error: an event would be late");
	if (ts > g->max_ts)
		g->max_ts = ts;
	user_get(g, e->user, &u);

	put("{\"ts\":");
	put_fixed(ts, 3, 1000);
	put_text("type", type_names[e->type]);
	if (f & HAS_CARD)
		put_key("card", 'c', e->card);
	put_key("user", 'u', e->user);
	if (f & HAS_EMAIL) {
		put(",\"email\":\"");
		put_email(g, &u, e->flags & F_THROWAWAY);
		put("\"");
	}
	if (f & HAS_REF)
		put_key("ref", 't', e->ref);
	if (f & HAS_AMOUNT) {
		put(",\"amount\":");
		put_fixed(e->cents, 2, 100);
		put_text("currency", f & HAS_SHOP ? countries[e->country].currency : "EUR");
	}
	if (f & HAS_BENE) {
		/* a masked IBAN: the bank's country and the last four digits */
		put(",\"beneficiary\":\"");
		put(e->bene_bank ? mule_banks[e->bene_bank - 1] : countries[u.home].code);
		put("**");
		put_padded(e->bene_digits, 4);
		put("\"");
	}
	if (f & HAS_COUNTRY)
		put_text("country", countries[e->country].code);
	if (f & HAS_SHOP) {
		put_key("merchant", 'm', e->merchant);
		put_text("mcc", categories[e->cat].mcc);
	}
	if (f & HAS_DEVICE)
		put_key("device", 'd', e->device);
	if (f & HAS_IP) {
		put(",\"ip\":\"");
		put_ip(e->ip);
		put("\"");
	}
	if (f & HAS_NEW_DEVICE)
		put(e->flags & F_NEW_DEVICE ? ",\"new_device\":true" : ",\"new_device\":false");
	put("}\n");
}

/* --- events of a kind ---------------------------------------------------------------------- */

/* A payment (txn or decline) of card at a merchant of (country, cat). */
static struct event payment(struct gen *g, int64_t t, unsigned type, uint32_t card,
			    unsigned country, unsigned cat, int64_t cents)
{
	struct event e = {0};
	struct user u;

	e.t = t;
	e.type = (uint8_t)type;
	e.card = card;
	e.user = owner(g, card);
	e.country = (uint8_t)country;
	e.cat = (uint8_t)cat;
	e.merchant = pick_merchant(g, country, cat);
	e.cents = cents;
	user_get(g, e.user, &u);
	e.device = user_device(g, &u);
	e.ip = user_ip(g, &u);
	return e;
}

/* An event of the account without a card: login, reset, payout, transfer, confirm. */
static struct event account(struct gen *g, int64_t t, unsigned type, const struct user *u)
{
	struct event e = {0};

	e.t = t;
	e.type = (uint8_t)type;
	e.user = u->id;
	e.country = u->home;
	e.device = user_device(g, u);
	e.ip = user_ip(g, u);
	e.bene_digits = u->bank;
	return e;
}

static uint32_t fresh_device(struct gen *g)
{
	return g->next_device++;
}

static void set_mule(struct gen *g, struct event *e)
{
	e->bene_bank = (uint8_t)(1 + below(&g->rng, N_OF(mule_banks)));
	e->bene_digits = (uint16_t)below(&g->rng, 10000);
}

/* --- background traffic -------------------------------------------------------------------- */

/* One ordinary event at time t, with what follows from it pushed ahead. The mix, per 1000
 * arrivals: 790 txn, 80 decline, 80 login, 20 refund, 5 password_reset, 9 payout, 16 transfer;
 * confirms, retries and logins after resets come on top as follow-ups (about 38 more). */
static void arrive_normal(struct gen *g, int64_t t)
{
	struct rng *r = &g->rng;
	uint32_t card = pick_card(g);
	unsigned x = (unsigned)below(r, 1000);
	struct event e, f;
	struct user u;

	user_get(g, owner(g, card), &u);
	if (x < 870) {
		unsigned type = x < 790 ? EV_TXN : EV_DECLINE;
		unsigned country = chance(r, 0.1) ? u.away : u.home;
		unsigned cat = pick_category(r, false);

		e = payment(g, t, type, card, country, cat, pick_amount(r, cat));
		push(g, &e);
		/* a declined customer tries once more, sometimes successfully (not in distinct
		 * mode, where a card is seen once) */
		if (type == EV_DECLINE && g->mode == MODE_NORMAL && chance(r, 0.25)) {
			f = e;
			f.t = t + between(r, 5 * SEC, 90 * SEC);
			f.type = chance(r, 0.6) ? EV_TXN : EV_DECLINE;
			push(g, &f);
		}
	} else if (x < 950) {
		e = account(g, t, EV_LOGIN, &u);
		if (chance(r, 0.02)) {
			e.device = fresh_device(g);
			e.flags |= F_NEW_DEVICE;
		}
		push(g, &e);
	} else if (x < 970) {
		unsigned cat = pick_category(r, false);

		e = payment(g, t, EV_REFUND, card, u.home, cat, pick_amount(r, cat));
		push(g, &e);
	} else if (x < 975) {
		e = account(g, t, EV_RESET, &u);
		push(g, &e);
		/* then the user signs in, now and then on a new phone */
		if (chance(r, 0.7)) {
			f = account(g, t + between(r, 1 * MIN, 10 * MIN), EV_LOGIN, &u);
			if (chance(r, 0.1)) {
				f.device = fresh_device(g);
				f.flags |= F_NEW_DEVICE;
			}
			push(g, &f);
		}
	} else if (x < 984) {
		e = account(g, t, EV_PAYOUT, &u);
		e.cents = (int64_t)(15000 * det_exp(normal(r))) + 100;
		if (e.cents > 2000000)
			e.cents = 2000000;
		push(g, &e);
	} else {
		e = account(g, t, EV_TRANSFER, &u);
		e.ref = g->next_ref++;
		e.cents = (int64_t)(12000 * det_exp(1.3 * normal(r))) + 100;
		if (e.cents > 5000000)
			e.cents = 5000000;
		e.bene_digits = (uint16_t)below(r, 10000);
		push(g, &e);
		/* the holder approves it in the app a little later, nearly always */
		if (chance(r, 0.96)) {
			f = account(g, t + between(r, 20 * SEC, 5 * MIN), EV_CONFIRM, &u);
			f.ref = e.ref;
			push(g, &f);
		}
	}
}

/* The adversarial stream: few keys, and events that each open a run of a sequence of
 * fraud.yaml and rarely complete one (completion discards the key's runs). Per 1000 arrivals:
 * 450 probes under 5 EUR (card-testing), 60 ordinary payments, 1 cash-out of 500 EUR or more,
 * 250 logins in the user's current country, which changes now and then (impossible-travel),
 * a third of them from a new device, 100 password resets (account-takeover), 4 payouts,
 * 135 transfers of 5000 EUR or more (unconfirmed-transfer), half of them confirmed. */
static void arrive_adversarial(struct gen *g, int64_t t)
{
	struct rng *r = &g->rng;
	uint32_t card = pick_card(g);
	unsigned x = (unsigned)below(r, 1000);
	struct event e, f;
	struct user u;

	user_get(g, card, &u);
	if (x < 450) {
		e = payment(g, t, EV_TXN, card, u.home, CAT_DIGITAL, between(r, 50, 499));
	} else if (x < 510) {
		unsigned cat = pick_category(r, false);

		e = payment(g, t, EV_TXN, card, u.home, cat, pick_amount(r, cat));
	} else if (x < 511) {
		e = payment(g, t, EV_TXN, card, u.home, CAT_ELECTRONICS, between(r, 50000, 200000));
	} else if (x < 761) {
		uint8_t *c = &g->login_country[card];

		if (*c == 0xff)
			*c = u.home;
		else if (chance(r, 0.01))
			*c = (uint8_t)below(r, FIRST_RISKY);
		e = account(g, t, EV_LOGIN, &u);
		e.country = *c;
		if (chance(r, 0.33)) {
			e.device = fresh_device(g);
			e.flags |= F_NEW_DEVICE;
		}
	} else if (x < 861) {
		e = account(g, t, EV_RESET, &u);
	} else if (x < 865) {
		e = account(g, t, EV_PAYOUT, &u);
		e.cents = between(r, 10000, 300000);
	} else {
		e = account(g, t, EV_TRANSFER, &u);
		e.ref = g->next_ref++;
		e.cents = between(r, 500000, 2000000);
		set_mule(g, &e);
		if (chance(r, 0.5)) {
			f = account(g, t + between(r, 30 * SEC, 10 * MIN), EV_CONFIRM, &u);
			f.ref = e.ref;
			push(g, &f);
		}
	}
	push(g, &e);
}

/* --- injected fraud: one kind per rule of fraud.yaml ----------------------------------------- */

enum {
	SC_VELOCITY, SC_COUNTRY_HOPPING, SC_RISKY_BIG_TICKET, SC_SHARED_DEVICE, SC_IP_MANY_CARDS,
	SC_DAILY_SPEND, SC_DISPOSABLE_EMAIL, SC_BLOCKLISTED, SC_DECLINE_BURST,
	SC_CREDENTIAL_STUFFING, SC_CASH_OUT, SC_CARD_TESTING, SC_ACCOUNT_TAKEOVER,
	SC_IMPOSSIBLE_TRAVEL, SC_UNCONFIRMED_TRANSFER, N_SCENARIO
};

/* a country to pay or log in from that is none of the user's two, nor on the risky list */
static unsigned foreign_country(struct gen *g, const struct user *u, unsigned not_this)
{
	unsigned c;

	do
		c = (unsigned)below(&g->rng, FIRST_RISKY);
	while (c == u->home || c == u->away || c == not_this);
	return c;
}

/* a scenario's payment: at its exact time, from the fraudster's device and address */
static void fraud_payment(struct gen *g, int64_t t, unsigned type, uint32_t card,
			  unsigned country, unsigned cat, int64_t cents, uint32_t dev, uint32_t ip)
{
	struct event e = payment(g, t, type, card, country, cat, cents);

	e.device = dev;
	e.ip = ip;
	e.flags |= F_SCENARIO;
	push(g, &e);
}

static void fraud_login(struct gen *g, int64_t t, const struct user *u, unsigned country,
			uint32_t dev, uint32_t ip, bool new_device)
{
	struct event e = account(g, t, EV_LOGIN, u);

	e.country = (uint8_t)country;
	e.device = dev;
	e.ip = ip;
	e.flags |= F_SCENARIO | (new_device ? F_NEW_DEVICE : 0);
	push(g, &e);
}

/* an ordinary-looking payment category and amount, for scenarios that are about counts */
static unsigned plain_category(struct rng *r)
{
	static const uint8_t plain[] = {
		CAT_GROCERY, CAT_RESTAURANT, CAT_MISC, CAT_DEPARTMENT, CAT_CLOTHING, CAT_FUEL,
	};

	return plain[below(r, N_OF(plain))];
}

/* Every draw from the PRNG is a statement of its own: the order in which a compiler evaluates
 * function arguments or the operands of | is unspecified, and gcc and clang differ. */
static void start_scenario(struct gen *g, unsigned kind, int64_t t)
{
	struct rng *r = &g->rng;
	uint32_t card = victim_card(g);
	uint32_t dev = fresh_device(g);
	uint32_t ip = public_ip(r);
	unsigned n, type, cat, country;
	int64_t cents;
	struct user u, v;
	struct event e;

	user_get(g, owner(g, card), &u);
	switch (kind) {
	case SC_VELOCITY:
		/* 10 to 14 approvals on one card, 2 to 4.5 s apart */
		n = (unsigned)between(r, 10, 14);
		for (unsigned i = 0; i < n; i++) {
			cat = plain_category(r);
			cents = between(r, 1000, 8000);
			fraud_payment(g, t, EV_TXN, card, u.home, cat, cents, dev, ip);
			t += between(r, 2 * SEC, 4500);
		}
		break;
	case SC_COUNTRY_HOPPING: {
		/* home, then two or three other countries, 5 to 15 min apart */
		unsigned prev = u.home, prev2 = u.home;

		country = u.home;
		n = (unsigned)between(r, 3, 4);
		for (unsigned i = 0; i < n; i++) {
			cat = plain_category(r);
			cents = between(r, 3000, 40000);
			fraud_payment(g, t, EV_TXN, card, country, cat, cents, dev, ip);
			prev2 = prev;
			prev = country;
			do
				country = foreign_country(g, &u, prev);
			while (country == prev2);
			t += between(r, 5 * MIN, 15 * MIN);
		}
		break;
	}
	case SC_RISKY_BIG_TICKET:
		/* one payment of 1000 to 4000 EUR at a merchant in a high-risk country */
		country = FIRST_RISKY + (unsigned)below(r, N_COUNTRY - FIRST_RISKY);
		cents = between(r, 100000, 400000);
		fraud_payment(g, t, EV_TXN, card, country, CAT_ELECTRONICS, cents, dev, ip);
		break;
	case SC_SHARED_DEVICE:
	case SC_IP_MANY_CARDS:
		/* 5 to 7 cards on one device within 10 min, 30 to 90 s apart; or 8 to 11 cards
		 * behind one address within 30 min, 1 to 3 min apart, a device each */
		if (kind == SC_SHARED_DEVICE)
			n = (unsigned)between(r, 5, 7);
		else
			n = (unsigned)between(r, 8, 11);
		for (unsigned i = 0; i < n; i++) {
			uint32_t c = i ? victim_card(g) : card;

			user_get(g, owner(g, c), &v);
			type = chance(r, 0.8) ? EV_TXN : EV_DECLINE;
			cat = plain_category(r);
			cents = between(r, 2000, 30000);
			if (kind == SC_IP_MANY_CARDS && i)
				dev = fresh_device(g);
			fraud_payment(g, t, type, c, v.home, cat, cents, dev, ip);
			if (kind == SC_SHARED_DEVICE)
				t += between(r, 30 * SEC, 90 * SEC);
			else
				t += between(r, 1 * MIN, 3 * MIN);
		}
		break;
	case SC_DAILY_SPEND: {
		/* 4 or 5 payments of 1300 to 2400 EUR: over 5000 in less than an hour */
		static const uint8_t dear[] = {CAT_ELECTRONICS, CAT_DEPARTMENT, CAT_HOTEL};

		n = (unsigned)between(r, 4, 5);
		for (unsigned i = 0; i < n; i++) {
			cat = dear[below(r, N_OF(dear))];
			cents = between(r, 130000, 240000);
			fraud_payment(g, t, EV_TXN, card, u.home, cat, cents, dev, ip);
			t += between(r, 3 * MIN, 10 * MIN);
		}
		break;
	}
	case SC_DISPOSABLE_EMAIL:
		/* a new account with a throwaway mailbox pays 2 to 4 times */
		card = g->next_card++;
		user_get(g, owner(g, card), &u);
		n = (unsigned)between(r, 2, 4);
		for (unsigned i = 0; i < n; i++) {
			cat = plain_category(r);
			cents = pick_amount(r, cat);
			e = payment(g, t, EV_TXN, card, u.home, cat, cents);
			e.flags |= F_SCENARIO | F_THROWAWAY;
			push(g, &e);
			t += between(r, 1 * MIN, 10 * MIN);
		}
		break;
	case SC_BLOCKLISTED:
		/* a login, then a payment or two, from a blocklisted network */
		ip = chance(r, 0.5) ? 0xcb007100u : 0xc6336400u;	/* 203.0.113.0, 198.51.100.0 */
		ip |= (uint32_t)between(r, 1, 254);
		fraud_login(g, t, &u, u.home, dev, ip, true);
		n = (unsigned)between(r, 1, 2);
		for (unsigned i = 0; i < n; i++) {
			t += between(r, 1 * MIN, 5 * MIN);
			cat = plain_category(r);
			cents = between(r, 2000, 50000);
			fraud_payment(g, t, EV_TXN, card, u.home, cat, cents, dev, ip);
		}
		break;
	case SC_DECLINE_BURST:
		/* 5 to 8 declines on one card, 20 to 90 s apart */
		n = (unsigned)between(r, 5, 8);
		for (unsigned i = 0; i < n; i++) {
			cat = plain_category(r);
			cents = between(r, 2000, 30000);
			fraud_payment(g, t, EV_DECLINE, card, u.home, cat, cents, dev, ip);
			t += between(r, 20 * SEC, 90 * SEC);
		}
		break;
	case SC_CREDENTIAL_STUFFING:
		/* logins to 10 to 15 accounts from one address abroad within 5 min */
		country = foreign_country(g, &u, u.home);
		n = (unsigned)between(r, 10, 15);
		for (unsigned i = 0; i < n; i++) {
			user_get(g, owner(g, i ? victim_card(g) : card), &v);
			fraud_login(g, t, &v, country, dev, ip, true);
			t += between(r, 5 * SEC, 20 * SEC);
		}
		break;
	case SC_CASH_OUT:
		/* 3 or 4 cash-like payments of 500 to 950 EUR, 5 to 15 min apart */
		n = (unsigned)between(r, 3, 4);
		for (unsigned i = 0; i < n; i++) {
			cat = pick_category(r, true);
			cents = between(r, 50000, 95000);
			fraud_payment(g, t, EV_TXN, card, u.home, cat, cents, dev, ip);
			t += between(r, 5 * MIN, 15 * MIN);
		}
		break;
	case SC_CARD_TESTING:
		/* 3 to 6 probes under 5 EUR, then 500 to 2500 EUR, all within 30 min */
		n = (unsigned)between(r, 3, 6);
		for (unsigned i = 0; i < n; i++) {
			cat = chance(r, 0.5) ? CAT_DIGITAL : CAT_MISC;
			cents = between(r, 50, 499);
			fraud_payment(g, t, EV_TXN, card, u.home, cat, cents, dev, ip);
			t += between(r, 20 * SEC, 2 * MIN);
		}
		t += between(r, 0, 6 * MIN);
		cents = between(r, 50000, 250000);
		fraud_payment(g, t, EV_TXN, card, u.home, CAT_ELECTRONICS, cents, dev, ip);
		break;
	case SC_ACCOUNT_TAKEOVER:
		/* a password reset, a login on a new device, then the balance paid out */
		e = account(g, t, EV_RESET, &u);
		e.device = dev;
		e.ip = ip;
		e.flags |= F_SCENARIO;
		push(g, &e);
		t += between(r, 1 * MIN, 8 * MIN);
		fraud_login(g, t, &u, u.home, dev, ip, true);
		t += between(r, 3 * MIN, 30 * MIN);
		e = account(g, t, EV_PAYOUT, &u);
		e.device = dev;
		e.ip = ip;
		e.cents = between(r, 40000, 400000);
		e.flags |= F_SCENARIO;
		set_mule(g, &e);
		push(g, &e);
		break;
	case SC_IMPOSSIBLE_TRAVEL: {
		/* a login at home, then one from another country 10 to 50 min later */
		bool new_device;

		fraud_login(g, t, &u, u.home, 3 * u.id, u.ip, false);
		t += between(r, 10 * MIN, 50 * MIN);
		country = foreign_country(g, &u, u.home);
		new_device = chance(r, 0.5);
		fraud_login(g, t, &u, country, dev, ip, new_device);
		break;
	}
	case SC_UNCONFIRMED_TRANSFER:
		/* 5000 to 25000 EUR to a mule account, never confirmed */
		e = account(g, t, EV_TRANSFER, &u);
		e.ref = g->next_ref++;
		e.cents = between(r, 500000, 2500000);
		e.device = dev;
		e.ip = ip;
		e.flags |= F_SCENARIO;
		set_mule(g, &e);
		push(g, &e);
		break;
	}
}

/* --- the stream ---------------------------------------------------------------------------- */

/* Traffic by hour of the day, UTC (most cardholders are in Europe), in percent of the mean
 * after normalising; between hours it is interpolated. */
static const unsigned short hourly[24] = {
	40, 30, 24, 22, 24, 35, 55, 80, 105, 125, 135, 145,
	150, 148, 142, 140, 145, 150, 150, 140, 120, 95, 70, 52,
};

static double rate_at(const struct gen *g, int64_t t)
{
	int64_t in_day = (t - T0_MS) % (24 * 60 * MIN);
	unsigned h = (unsigned)(in_day / (60 * MIN));
	double frac = (double)(in_day % (60 * MIN)) / (60 * MIN);
	double sum = 0;

	for (unsigned i = 0; i < 24; i++)
		sum += hourly[i];
	return g->rate * (hourly[h] + frac * (hourly[(h + 1) % 24] - hourly[h])) * 24 / sum;
}

static uint64_t n_scenarios(uint64_t n_events)
{
	uint64_t n = n_events * SCENARIOS_PER_M / 1000000;
	uint64_t floor = n_events / 250 < MIN_SCENARIOS ? n_events / 250 : MIN_SCENARIOS;

	return n > floor ? n : floor;
}

static void stream(struct gen *g)
{
	uint64_t n_written = 0, n_scen = 0, total_scen = 0;
	uint8_t order[N_SCENARIO];
	int64_t t_next = T0_MS;
	struct event e;

	if (g->mode != MODE_ADVERSARIAL)
		total_scen = n_scenarios(g->n_events);
	while (n_written < g->n_events) {
		/* scenarios spread evenly over the first 96% of the events, the kinds in turn,
		 * shuffled in each round */
		if (n_scen < total_scen &&
		    n_written >= (2 * n_scen + 1) * (g->n_events * 96 / 100) / (2 * total_scen)) {
			unsigned i = (unsigned)(n_scen % N_SCENARIO);

			if (i == 0) {
				for (unsigned k = 0; k < N_SCENARIO; k++)
					order[k] = (uint8_t)k;
				for (unsigned k = N_SCENARIO - 1; k > 0; k--) {
					unsigned j = (unsigned)below(&g->rng, k + 1);
					uint8_t tmp = order[k];

					order[k] = order[j];
					order[j] = tmp;
				}
			}
			start_scenario(g, order[i], g->now);
			n_scen++;
			continue;
		}
		if (!g->heap.len || g->heap.v[0].t > t_next) {
			if (g->mode == MODE_ADVERSARIAL)
				arrive_adversarial(g, t_next);
			else
				arrive_normal(g, t_next);
			t_next += (int64_t)(expo(&g->rng) * 1000 / rate_at(g, t_next) + 0.5);
			continue;
		}
		heap_pop(&g->heap, &e);
		g->now = e.t;
		write_event(g, &e);
		n_written++;
	}
	out_flush();
}

/* --- the rule file of case (c) ------------------------------------------------------------- */

/* event types the stream never carries, then real ones it carries rarely */
static const char *const decoy_types[] = {
	"kyc_check", "chargeback", "card_issued", "pin_change", "limit_change",
	"address_change", "token_provisioned", "wallet_topup", "atm_withdrawal", "dispute",
	"3ds_challenge", "email_change", "phone_change", "card_blocked", "card_unblocked",
	"direct_debit", "standing_order", "fx_exchange", "loan_application", "statement",
};
static const char *const rare_types[] = {
	"refund", "payout", "password_reset", "transfer", "confirm",
};
static const char *const keys[] = {"card", "user", "device", "ip"};
static const char *const windows[] = {"1m", "2m", "5m", "10m", "15m", "30m", "1h"};

/* The rules on the real types: the work of case (a), told differently. */
static const char *const real_rules[] = {
	"    key: card\n"
	"    threshold: {where: txn, window: 2m, when: count() >= 15}\n"
	"    suppress: 10m\n",
	"    key: card\n"
	"    where: txn && amount >= 2500 && country in risky_countries\n",
	"    key: device\n"
	"    threshold: {where: payment, window: 15m, when: distinct(card) >= 6}\n"
	"    suppress: 1h\n",
	"    key: ip\n"
	"    threshold: {where: payment, window: 1h, when: distinct(card) >= 10}\n"
	"    suppress: 1h\n",
	"    key: card\n"
	"    threshold: {where: decline, window: 5m, when: count() >= 4}\n"
	"    suppress: 30m\n",
	"    key: ip\n"
	"    threshold: {where: login, window: 10m, when: distinct(user) >= 12}\n"
	"    suppress: 30m\n",
	"    key: card\n"
	"    threshold: {where: txn, window: 12h, when: sum(amount) > 4000}\n"
	"    emit:\n"
	"      total: \"{{ sum(amount) }}\"\n"
	"    suppress: 12h\n",
	"    key: card\n"
	"    sequence:\n"
	"      - {as: probe, where: txn && amount < 3, repeat: {min: 4}}\n"
	"      - {as: big, where: txn && amount >= 800 && amount > 100 * max(probe.amount)}\n"
	"    within: 20m\n"
	"    suppress: 1h\n",
	"    key: user\n"
	"    sequence:\n"
	"      - {as: a, where: login}\n"
	"      - {as: b, where: login && country != a.country}\n"
	"    within: 30m\n"
	"    suppress: 1h\n",
	"    key: card\n"
	"    threshold: {where: txn, window: 2h, when: distinct(country) >= 3}\n"
	"    suppress: 2h\n",
};

static const char *const real_names[] = {
	"txn-burst", "risky-big-ticket", "device-cards", "ip-cards", "decline-run",
	"login-spray", "card-spend-12h", "micro-then-big", "login-country-change",
	"card-countries-2h",
};

/* the guard of a decoy: type == "..." with a type the stream never carries, or (rare_ok) one
 * it carries rarely */
static void decoy_type(struct rng *r, unsigned i, bool rare_ok, char *buf, size_t size)
{
	if (rare_ok && chance(r, 0.15))
		snprintf(buf, size, "%s", rare_types[below(r, N_OF(rare_types))]);
	else if (chance(r, 0.5))
		snprintf(buf, size, "%s", decoy_types[below(r, N_OF(decoy_types))]);
	else
		snprintf(buf, size, "t%u", i);
}

/* A rule on an event type that matters little to the stream: 55% filters, 35% thresholds,
 * 10% sequences (which never start on a real type, lest their absences fire all the time). */
static void write_decoy(struct rng *r, unsigned i)
{
	unsigned form = (unsigned)below(r, 100);
	const char *key = keys[below(r, N_OF(keys))];
	const char *win = windows[below(r, N_OF(windows))];
	const char *severity = chance(r, 0.5) ? "low" : "medium";
	char type[32];

	decoy_type(r, i, form < 90, type, sizeof type);
	if (form < 55) {
		static const char *const conds[] = {
			"country in risky_countries", "mcc in cash_like_mcc",
			"lower(email) endswith \"@example.com\"", "cidr(ip, \"10.0.0.0/8\")",
		};
		unsigned c = (unsigned)below(r, N_OF(conds) + 1);

		printf("  - id: r%03u-filter-%s\n    severity: %s\n    key: %s\n", i, type,
		       severity, key);
		if (c < N_OF(conds))
			printf("    where: type == \"%s\" && %s\n", type, conds[c]);
		else
			printf("    where: type == \"%s\" && amount > %u\n", type,
			       (unsigned)between(r, 1, 50) * 100);
	} else if (form < 90) {
		unsigned c = (unsigned)below(r, 3);
		unsigned bar = (unsigned)between(r, 3, 20);

		printf("  - id: r%03u-threshold-%s\n    severity: %s\n    key: %s\n", i, type,
		       severity, key);
		printf("    threshold:\n      where: type == \"%s\"\n      window: %s\n", type, win);
		if (c == 0)
			printf("      when: count() >= %u\n", bar);
		else if (c == 1)
			printf("      when: sum(amount) > %u\n", bar * 250);
		else
			printf("      when: distinct(%s) >= %u\n",
			       strcmp(key, "card") ? "card" : "merchant", bar / 2);
		if (chance(r, 0.5))
			fputs("    emit:\n      total: \"{{ sum(amount) }}\"\n", stdout);
		printf("    suppress: %s\n", win);
	} else {
		const char *second = decoy_types[below(r, N_OF(decoy_types))];

		key = chance(r, 0.5) ? "user" : "card";
		printf("  - id: r%03u-sequence-%s\n    severity: %s\n    key: %s\n", i, type,
		       severity, key);
		printf("    sequence:\n      - {as: a, where: type == \"%s\"}\n", type);
		if (chance(r, 0.5))
			printf("      - {as: b, where: type == \"%s\" && amount > a.amount}\n", second);
		else
			printf("      - {not: true, where: type == \"%s\"}\n", second);
		printf("    within: %s\n", win);
	}
}

static void write_rules(uint64_t n, uint64_t seed)
{
	uint64_t n_real = (n + 9) / 10, done_real = 0;
	struct rng r;

	if (n_real > N_OF(real_rules))
		n_real = N_OF(real_rules);
	rng_seed(&r, seed ^ 0x52554c4553ULL);
	printf("# %" PRIu64 " rules for case (c) of bench/run.sh, written by tripline-gen --rules %"
	       PRIu64 " -s %" PRIu64 ":\n", n, n, seed);
	fputs("# most are guarded by an event type the stream does not carry, or carries rarely;\n"
	      "# about a tenth work on the real types (txn, decline, login), as fraud.yaml does.\n"
	      "version: 1\n"
	      "time: {field: ts, format: auto, lateness: 5s}\n"
	      "\n"
	      "lists:\n"
	      "  risky_countries: [RU, BY, IR, KP, SY, NG, VE, MM]\n"
	      "  cash_like_mcc: [\"6051\", \"4829\", \"6540\", \"7995\"]\n"
	      "\n"
	      "macros:\n"
	      "  txn: type == \"txn\"\n"
	      "  decline: type == \"decline\"\n"
	      "  login: type == \"login\"\n"
	      "  payment: type in [\"txn\", \"decline\"]\n"
	      "\n"
	      "rules:\n", stdout);
	for (uint64_t i = 0; i < n; i++) {
		/* the real rules spread through the file, one in each ten */
		if (done_real < n_real && (i % 10 == 5 || n - i <= n_real - done_real)) {
			printf("  - id: r%03" PRIu64 "-%s\n    severity: high\n%s", i,
			       real_names[done_real], real_rules[done_real]);
			done_real++;
		} else {
			write_decoy(&r, (unsigned)i);
		}
	}
	if (fflush(stdout) || ferror(stdout))
		die("cannot write the output");
}

/* --- command line -------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: tripline-gen [-n EVENTS] [-k CARDS] [-s SEED] [--mode MODE]\n"
	      "       tripline-gen --rules N [-s SEED]\n"
	      "\n"
	      "Writes a stream of card-payment events for examples/fraud.yaml, one JSON object\n"
	      "per line, to stdout; the same arguments give the same bytes on every machine.\n"
	      "\n"
	      "  -n, --events N   events to write (default 1000000)\n"
	      "  -k, --cards N    cards of the customers (default 100000; 100 in adversarial\n"
	      "                   mode; unused in distinct mode)\n"
	      "  -s, --seed N     seed (default 1)\n"
	      "      --mode MODE  normal: customers' traffic with fraud scenarios woven in;\n"
	      "                   distinct: a new card, user, device and address for every\n"
	      "                   background event; adversarial: few keys, a stream that opens\n"
	      "                   as many sequence runs per key as it can\n"
	      "      --rules N    write instead a rule file of N rules (case (c) of bench/run.sh)\n"
	      "  -h, --help       this help\n", f);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"events", required_argument, NULL, 'n'},
		{"cards", required_argument, NULL, 'k'},
		{"seed", required_argument, NULL, 's'},
		{"mode", required_argument, NULL, 'm'},
		{"rules", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct gen g = {0};
	uint64_t n_cards = 0, n_rules = 0;
	bool rules = false, cards_given = false;
	int opt;

	g.n_events = 1000000;
	g.seed = 1;
	while ((opt = getopt_long(argc, argv, "n:k:s:h", longopts, NULL)) != -1) {
		uint64_t v = 0;

		switch (opt) {
		case 'n':
		case 'k':
		case 's':
		case 'R':
			if (parse_u64(optarg, &v)) {
				fprintf(stderr, "tripline-gen: not a number: '%s'\n", optarg);
				return EXIT_USAGE;
			}
			if (opt == 'n') {
				g.n_events = v;
			} else if (opt == 'k') {
				n_cards = v;
				cards_given = true;
			} else if (opt == 's') {
				g.seed = v;
			} else {
				n_rules = v;
				rules = true;
			}
			break;
		case 'm':
			if (!strcmp(optarg, "normal"))
				g.mode = MODE_NORMAL;
			else if (!strcmp(optarg, "distinct"))
				g.mode = MODE_DISTINCT;
			else if (!strcmp(optarg, "adversarial"))
				g.mode = MODE_ADVERSARIAL;
			else {
				fprintf(stderr, "tripline-gen: unknown mode '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tripline-gen: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (rules) {
		if (n_rules == 0 || n_rules > 100000) {
			fputs("tripline-gen: --rules takes 1 to 100000\n", stderr);
			return EXIT_USAGE;
		}
		write_rules(n_rules, g.seed);
		return 0;
	}
	if (cards_given && !n_cards) {
		fputs("tripline-gen: -k takes 1 or more\n", stderr);
		return EXIT_USAGE;
	}
	if (!cards_given)
		n_cards = g.mode == MODE_ADVERSARIAL ? 100 : 100000;
	/* ids stay below 2^32 with room for the fresh ones (at most one per event) */
	if (g.n_events > 100000000 || n_cards > 100000000) {
		fputs("tripline-gen: at most 100000000 events and cards\n", stderr);
		return EXIT_USAGE;
	}
	g.n_cards = g.mode == MODE_DISTINCT ? 0 : (uint32_t)n_cards;
	g.next_card = g.n_cards;
	g.next_device = 3 * (uint32_t)(g.n_cards + 2 * g.n_events + 1000);
	g.next_ref = 100000;
	g.rate = g.mode == MODE_ADVERSARIAL ? RATE_ADVERSARIAL : RATE_NORMAL;
	g.now = T0_MS;
	g.max_ts = T0_MS;
	rng_seed(&g.rng, g.seed);
	build_shops(&g);
	if (g.mode == MODE_NORMAL)
		build_activity(&g);
	if (g.mode == MODE_ADVERSARIAL) {
		g.login_country = malloc(g.n_cards);
		if (!g.login_country)
			die("out of memory");
		memset(g.login_country, 0xff, g.n_cards);
	}
	stream(&g);
	if (fflush(stdout) || ferror(stdout))
		die("cannot write the output");
	free(g.activity);
	free(g.login_country);
	free(g.heap.v);
	return 0;
}
