/* test_time.c - Check suite for parser/timefmt.c: event times (epoch numbers, RFC 3339) and
 * durations, including the exact error texts users see.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timefmt.h"

/* ck_assert records a checkpoint on every call (a write to Check's channel); the random loops
 * use this instead, which costs nothing until it fails. */
#define REQUIRE(cond)                                                                     \
	do {                                                                              \
		if (!(cond))                                                              \
			ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);              \
	} while (0)

#define S  INT64_C(1000000)
#define MS INT64_C(1000)

static struct tl_value num_value(double x)
{
	struct tl_value v = { .type = TL_NUM, .num = x };

	return v;
}

static struct tl_value str_value(const char *s)
{
	struct tl_value v = { .type = TL_STR, .len = (uint32_t)strlen(s), .str = s };

	return v;
}

/* Parses s from a heap copy of exactly its length, so that ASan catches any read past len. */
static int parse_exact(const char *s, struct tf_stamp *st)
{
	size_t len = strlen(s);
	char *copy = malloc(len ? len : 1);
	int rc;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, s, len);
	rc = tf_parse_rfc3339(copy, len, st);
	free(copy);
	return rc;
}

/* ---- numbers ----------------------------------------------------------------------------- */

static const struct {
	double x;
	enum tf_kind kind;
	int64_t us;
} auto_cases[] = {
	{ 0, TF_EPOCH_S, 0 },
	{ 1700000000, TF_EPOCH_S, 1700000000 * S },
	{ 99999999999.0, TF_EPOCH_S, INT64_C(99999999999) * S },
	{ 1e11, TF_EPOCH_MS, INT64_C(100000000000) * MS },
	{ 1700000000123.0, TF_EPOCH_MS, INT64_C(1700000000123) * MS },
	{ 99999999999999.0, TF_EPOCH_MS, INT64_C(99999999999999) * MS },
	{ 1e14, TF_EPOCH_US, INT64_C(100000000000000) },
	{ 1700000000123456.0, TF_EPOCH_US, INT64_C(1700000000123456) },
	{ -1, TF_EPOCH_S, -S },
	{ -1e12, TF_EPOCH_S, INT64_C(-1000000000000) * S }, /* negative: always seconds */
	{ 1700000000.5, TF_EPOCH_S, INT64_C(1700000000500000) },
	{ 1700000000.123456, TF_EPOCH_S, INT64_C(1700000000123456) },
	{ 1700000000123.456, TF_EPOCH_MS, INT64_C(1700000000123456) },
	{ -0.25, TF_EPOCH_S, -250000 },
	{ 4e18, TF_EPOCH_US, INT64_C(4000000000000000000) },
};

START_TEST(test_auto_numbers)
{
	struct tl_value v = num_value(auto_cases[_i].x);
	struct tf_stamp st;
	const char *err = NULL;

	ck_assert_int_eq(tf_from_value(TF_AUTO, &v, &st, &err), 0);
	ck_assert_int_eq(st.kind, auto_cases[_i].kind);
	ck_assert_int_eq(st.us, auto_cases[_i].us);
}
END_TEST

START_TEST(test_explicit_formats)
{
	struct tl_value v = num_value(1e12);
	struct tf_stamp st;
	const char *err = NULL;

	/* an explicit format ignores the auto thresholds */
	ck_assert_int_eq(tf_from_value(TF_EPOCH_S, &v, &st, &err), 0);
	ck_assert_int_eq(st.kind, TF_EPOCH_S);
	ck_assert_int_eq(st.us, INT64_C(1000000000000) * S);
	v = num_value(5);
	ck_assert_int_eq(tf_from_value(TF_EPOCH_MS, &v, &st, &err), 0);
	ck_assert_int_eq(st.kind, TF_EPOCH_MS);
	ck_assert_int_eq(st.us, 5000);
	ck_assert_int_eq(tf_from_value(TF_EPOCH_US, &v, &st, &err), 0);
	ck_assert_int_eq(st.kind, TF_EPOCH_US);
	ck_assert_int_eq(st.us, 5);
	v = num_value(1700000000123.456);
	ck_assert_int_eq(tf_from_value(TF_EPOCH_MS, &v, &st, &err), 0);
	ck_assert_int_eq(st.us, INT64_C(1700000000123456));
}
END_TEST

START_TEST(test_rounding)
{
	struct tl_value v;
	struct tf_stamp st;
	const char *err = NULL;

	/* to the nearest microsecond, halves away from zero */
	v = num_value(2.5);
	ck_assert_int_eq(tf_from_value(TF_EPOCH_US, &v, &st, &err), 0);
	ck_assert_int_eq(st.us, 3);
	v = num_value(-2.5);
	ck_assert_int_eq(tf_from_value(TF_EPOCH_US, &v, &st, &err), 0);
	ck_assert_int_eq(st.us, -3);
	v = num_value(2.4);
	ck_assert_int_eq(tf_from_value(TF_EPOCH_US, &v, &st, &err), 0);
	ck_assert_int_eq(st.us, 2);
	v = num_value(1.0000004);
	ck_assert_int_eq(tf_from_value(TF_EPOCH_S, &v, &st, &err), 0);
	ck_assert_int_eq(st.us, 1000000);
	v = num_value(1.0000006);
	ck_assert_int_eq(tf_from_value(TF_EPOCH_S, &v, &st, &err), 0);
	ck_assert_int_eq(st.us, 1000001);
	v = num_value(0.0004);
	ck_assert_int_eq(tf_from_value(TF_EPOCH_MS, &v, &st, &err), 0);
	ck_assert_int_eq(st.us, 0);
	/* the largest double under a half, which a half added would round up to 1 */
	v = num_value(0.49999999999999994);
	ck_assert_int_eq(tf_from_value(TF_EPOCH_US, &v, &st, &err), 0);
	ck_assert_int_eq(st.us, 0);
	v = num_value(-0.49999999999999994);
	ck_assert_int_eq(tf_from_value(TF_EPOCH_US, &v, &st, &err), 0);
	ck_assert_int_eq(st.us, 0);
}
END_TEST

/* Every epoch format against the rule written with the C library: the whole part scaled in
 * integers, the fraction scaled and rounded by llround. Times of every size, and halves. */
START_TEST(test_rounding_random)
{
	static const enum tf_kind kinds[] = { TF_EPOCH_S, TF_EPOCH_MS, TF_EPOCH_US };
	static const int64_t scales[] = { 1000000, 1000, 1 };
	unsigned seed = 3;
	int i, k;

	for (i = 0; i < 30000; i++) {
		double x = (double)rand_r(&seed) / RAND_MAX * pow(10, rand_r(&seed) % 13);
		struct tl_value v;
		struct tf_stamp st;
		const char *err = NULL;

		if (rand_r(&seed) % 4 == 0) /* a fraction of whole microseconds and a half */
			x = floor(x) + ((rand_r(&seed) % 2000) + 0.5) / 2000.0;
		if (rand_r(&seed) % 2)
			x = -x;
		for (k = 0; k < 3; k++) {
			double whole = trunc(x);

			if (fabs(x) * (double)scales[k] > 4e18)
				continue;
			v = num_value(x);
			ck_assert_int_eq(tf_from_value(kinds[k], &v, &st, &err), 0);
			ck_assert_msg(st.us == (int64_t)whole * scales[k] +
						       llround((x - whole) * (double)scales[k]),
				      "%.17g in kind %d", x, k);
		}
	}
}
END_TEST

static const struct {
	enum tf_kind fmt;
	double x;
} range_cases[] = {
	{ TF_AUTO, -5e12 },       /* seconds: -5e18 us */
	{ TF_AUTO, 1e19 },        /* microseconds beyond 2^62 */
	{ TF_AUTO, -1e300 },
	{ TF_AUTO, 1e300 },
	{ TF_EPOCH_S, 5e12 },
	{ TF_EPOCH_MS, 5e15 },
	{ TF_EPOCH_US, 4.7e18 },
	{ TF_EPOCH_US, -4.7e18 },
};

START_TEST(test_out_of_range)
{
	struct tl_value v = num_value(range_cases[_i].x);
	struct tf_stamp st;
	const char *err = NULL;

	ck_assert_int_eq(tf_from_value(range_cases[_i].fmt, &v, &st, &err), -1);
	ck_assert_str_eq(err, "time is out of range");
}
END_TEST

START_TEST(test_non_finite)
{
	struct tl_value v;
	struct tf_stamp st;
	const char *err = NULL;

	v = num_value(INFINITY);
	ck_assert_int_eq(tf_from_value(TF_AUTO, &v, &st, &err), -1);
	ck_assert_str_eq(err, "time is out of range");
	v = num_value(-INFINITY);
	ck_assert_int_eq(tf_from_value(TF_EPOCH_MS, &v, &st, &err), -1);
	ck_assert_str_eq(err, "time is out of range");
	v = num_value(NAN);
	ck_assert_int_eq(tf_from_value(TF_AUTO, &v, &st, &err), -1);
	ck_assert_str_eq(err, "time is out of range");
}
END_TEST

START_TEST(test_wrong_types)
{
	struct tl_value v = { .type = TL_MISSING };
	struct tf_stamp st;
	const char *err = NULL;

	ck_assert_int_eq(tf_from_value(TF_AUTO, &v, &st, &err), -1);
	ck_assert_str_eq(err, "time field is missing");
	ck_assert_int_eq(tf_from_value(TF_EPOCH_S, NULL, &st, &err), -1);
	ck_assert_str_eq(err, "time field is missing");
	v.type = TL_NULL;
	ck_assert_int_eq(tf_from_value(TF_AUTO, &v, &st, &err), -1);
	ck_assert_str_eq(err, "time field is null");
	v.type = TL_BOOL;
	v.b = 1;
	ck_assert_int_eq(tf_from_value(TF_AUTO, &v, &st, &err), -1);
	ck_assert_str_eq(err, "time field is a boolean, not a time");
	v = (struct tl_value){ .type = TL_ARR, .len = 2, .str = "[]" };
	ck_assert_int_eq(tf_from_value(TF_AUTO, &v, &st, &err), -1);
	ck_assert_str_eq(err, "time field is an array, not a time");
	v = (struct tl_value){ .type = TL_OBJ, .len = 2, .str = "{}" };
	ck_assert_int_eq(tf_from_value(TF_RFC3339, &v, &st, &err), -1);
	ck_assert_str_eq(err, "time field is an object, not a time");

	/* epoch formats need a number, rfc3339 a string */
	v = str_value("1700000000");
	ck_assert_int_eq(tf_from_value(TF_EPOCH_S, &v, &st, &err), -1);
	ck_assert_str_eq(err, "time field is not a number");
	v = str_value("2023-11-14T22:13:20Z");
	ck_assert_int_eq(tf_from_value(TF_EPOCH_MS, &v, &st, &err), -1);
	ck_assert_str_eq(err, "time field is not a number");
	ck_assert_int_eq(tf_from_value(TF_EPOCH_US, &v, &st, &err), -1);
	ck_assert_str_eq(err, "time field is not a number");
	v = num_value(1700000000);
	ck_assert_int_eq(tf_from_value(TF_RFC3339, &v, &st, &err), -1);
	ck_assert_str_eq(err, "time field is not an RFC 3339 string");
}
END_TEST

START_TEST(test_strings)
{
	struct tl_value v = str_value("2023-11-15T00:13:20.25+02:00");
	struct tf_stamp st;
	const char *err = NULL;

	ck_assert_int_eq(tf_from_value(TF_AUTO, &v, &st, &err), 0);
	ck_assert_int_eq(st.kind, TF_RFC3339);
	ck_assert_int_eq(st.us, INT64_C(1700000000250000));
	ck_assert_int_eq(st.frac_digits, 2);
	ck_assert_int_eq(st.zulu, 0);
	ck_assert_int_eq(st.offset_min, 120);
	ck_assert_int_eq(tf_from_value(TF_RFC3339, &v, &st, &err), 0);
	ck_assert_int_eq(st.us, INT64_C(1700000000250000));

	v = str_value("1700000000");
	ck_assert_int_eq(tf_from_value(TF_AUTO, &v, &st, &err), -1);
	ck_assert_str_eq(err, "invalid RFC 3339 time");
	v = str_value("");
	ck_assert_int_eq(tf_from_value(TF_RFC3339, &v, &st, &err), -1);
	ck_assert_str_eq(err, "invalid RFC 3339 time");
	/* the value's length counts, not a NUL: a shorter view of a valid time is invalid */
	v = str_value("2023-11-14T22:13:20Z");
	v.len = 19;
	ck_assert_int_eq(tf_from_value(TF_AUTO, &v, &st, &err), -1);
	ck_assert_str_eq(err, "invalid RFC 3339 time");
}
END_TEST

/* ---- RFC 3339 ---------------------------------------------------------------------------- */

static const struct {
	const char *text;
	int64_t us;
	int frac_digits, zulu, offset_min;
} rfc_valid[] = {
	{ "1970-01-01T00:00:00Z", 0, 0, 1, 0 },
	{ "1970-01-01t00:00:00z", 0, 0, 1, 0 },
	{ "1970-01-01 00:00:00Z", 0, 0, 1, 0 },
	{ "1970-01-01T00:00:00+00:00", 0, 0, 0, 0 },
	{ "1970-01-01T00:00:00-00:00", 0, 0, 0, 0 },
	{ "2023-11-14T22:13:20Z", 1700000000 * S, 0, 1, 0 },
	{ "2023-11-15T00:13:20+02:00", 1700000000 * S, 0, 0, 120 },
	{ "2023-11-14T16:43:20-05:30", 1700000000 * S, 0, 0, -330 },
	{ "2023-11-15T22:12:20+23:59", 1700000000 * S, 0, 0, 1439 },
	{ "2023-11-13T22:14:20-23:59", 1700000000 * S, 0, 0, -1439 },
	{ "2024-02-29T00:00:00Z", 1709164800 * S, 0, 1, 0 },
	{ "2000-02-29T12:00:00Z", 951825600 * S, 0, 1, 0 },
	{ "0000-01-01T00:00:00Z", INT64_C(-62167219200) * S, 0, 1, 0 },
	{ "0001-01-01T00:00:00Z", INT64_C(-62135596800) * S, 0, 1, 0 },
	{ "9999-12-31T23:59:59.999999Z", INT64_C(253402300799) * S + 999999, 6, 1, 0 },
	{ "1969-12-31T23:59:59.5Z", -500000, 1, 1, 0 },
	{ "2016-12-31T23:59:60Z", 1483228800 * S, 0, 1, 0 },
	{ "2023-11-14T22:13:20.1Z", 1700000000 * S + 100000, 1, 1, 0 },
	{ "2023-11-14T22:13:20.120Z", 1700000000 * S + 120000, 3, 1, 0 },
	{ "2023-11-14T22:13:20.000001Z", 1700000000 * S + 1, 6, 1, 0 },
	{ "2023-11-14T22:13:20.123456789Z", 1700000000 * S + 123456, 9, 1, 0 },
	/* more than 9 digits: still valid, truncated, frac_digits capped at 9 */
	{ "2023-11-14T22:13:20.99999999999999Z", 1700000000 * S + 999999, 9, 1, 0 },
	{ "2023-11-14T22:13:20.0000009Z", 1700000000 * S, 7, 1, 0 },
	{ "2023-11-15T00:13:20.5+02:00", 1700000000 * S + 500000, 1, 0, 120 },
	{ "2023-12-31T23:59:59Z", 1704067199 * S, 0, 1, 0 },
	{ "2024-12-31T12:00:00Z", 1735646400 * S, 0, 1, 0 },
};

START_TEST(test_rfc3339_valid)
{
	struct tf_stamp st;

	memset(&st, 0xa5, sizeof st);
	ck_assert_msg(parse_exact(rfc_valid[_i].text, &st) == 0, "rejected %s",
		      rfc_valid[_i].text);
	ck_assert_int_eq(st.us, rfc_valid[_i].us);
	ck_assert_int_eq(st.kind, TF_RFC3339);
	ck_assert_int_eq(st.frac_digits, rfc_valid[_i].frac_digits);
	ck_assert_int_eq(st.zulu, rfc_valid[_i].zulu);
	ck_assert_int_eq(st.offset_min, rfc_valid[_i].offset_min);
}
END_TEST

static const char *const rfc_invalid[] = {
	"",
	"2023-02-29T00:00:00Z",       /* 2023 is not a leap year */
	"1900-02-29T00:00:00Z",       /* divisible by 100, not by 400 */
	"2100-02-29T00:00:00Z",
	"2024-02-30T00:00:00Z",
	"2023-04-31T00:00:00Z",
	"2023-06-31T00:00:00Z",
	"2023-01-32T00:00:00Z",
	"2023-01-00T00:00:00Z",
	"2023-00-10T00:00:00Z",
	"2023-13-01T00:00:00Z",
	"2023-01-01T24:00:00Z",
	"2023-01-01T23:60:00Z",
	"2023-01-01T23:59:61Z",
	"2023-01-01T00:00Z",          /* seconds are required */
	"2023-01-01T00:00:00",        /* so is the offset */
	"2023-01-01",
	"2023-01-01T",
	"2023-01-01T00:00:00Z ",      /* trailing junk */
	"2023-01-01T00:00:00Zx",
	"2023-01-01T00:00:00ZZ",
	"2023-01-01T00:00:00+01:00x",
	"2023-01-01T00:00:00+01:00Z",
	" 2023-01-01T00:00:00Z",
	"2023-01-01T00:00:00.Z",      /* a point needs a digit */
	"2023-01-01T00:00:00.",
	"2023-01-01T00:00:00,5Z",
	"2023-01-01T00:00:00.5",
	"2023-01-01T00:00:00+24:00",
	"2023-01-01T00:00:00+01:60",
	"2023-01-01T00:00:00+0100",
	"2023-01-01T00:00:00+01",
	"2023-01-01T00:00:00+01:0",
	"2023-01-01T00:00:00+1:00",
	"2023-01-01T00:00:00 +01:00",
	"2023-01-01T00:00:00UTC",
	"2023-01-01x00:00:00Z",
	"2023-01-01_00:00:00Z",
	"2023-01-01T00-00-00Z",
	"2023/01/01T00:00:00Z",
	"23-01-01T00:00:00Z",
	"12023-01-01T00:00:00Z",
	"-2023-01-01T00:00:00Z",
	"+2023-01-01T00:00:00Z",
	"2023-1-01T00:00:00Z",
	"2023-+1-01T00:00:00Z",
	"2023-01-01T0:00:00Z",
	"2023-01-01T 0:00:00Z",
	"2023-01-01T00:00:0Z",
	"２023-01-01T00:00:00Z",
	"2023-01-01T00:00:00\0Z",
};

START_TEST(test_rfc3339_invalid)
{
	struct tf_stamp st;

	ck_assert_msg(parse_exact(rfc_invalid[_i], &st) == -1, "accepted \"%s\"",
		      rfc_invalid[_i]);
}
END_TEST

START_TEST(test_rfc3339_len_bound)
{
	static const char text[] = "2023-11-14T22:13:20.123+01:00";
	struct tf_stamp st;
	size_t len = sizeof text - 1;

	/* every proper prefix is invalid, and none is read past its end (ASan) */
	for (size_t n = 0; n < len; n++) {
		char *copy = malloc(n ? n : 1);

		ck_assert_ptr_nonnull(copy);
		memcpy(copy, text, n);
		ck_assert_msg(tf_parse_rfc3339(copy, n, &st) == -1, "prefix %zu accepted", n);
		free(copy);
	}
	ck_assert_int_eq(parse_exact(text, &st), 0);
	/* a NUL inside the length is not an end */
	ck_assert_int_eq(tf_parse_rfc3339("2023-11-14T22:13:20Z\0", 21, &st), -1);
}
END_TEST

/* ---- writing times back ------------------------------------------------------------------ */

static void expect_json(const struct tf_stamp *st, int64_t us, const char *want)
{
	char out[TF_JSON_MAX];
	size_t n = tf_format_json(st, us, out);

	ck_assert_msg(n == strlen(want) && memcmp(out, want, n) == 0,
		      "us %lld: got %.*s, want %s", (long long)us, (int)n, out, want);
	ck_assert_int_eq(out[n], '\0');
}

static const struct {
	const char *in, *out;
} rfc_round[] = {
	{ "2023-11-14T22:13:20Z", "2023-11-14T22:13:20Z" },
	{ "2023-11-14t22:13:20z", "2023-11-14T22:13:20Z" },
	{ "2023-11-14 22:13:20Z", "2023-11-14T22:13:20Z" },
	{ "2023-11-14T22:13:20.5Z", "2023-11-14T22:13:20.5Z" },
	{ "2023-11-14T22:13:20.50Z", "2023-11-14T22:13:20.50Z" },
	{ "2023-11-14T22:13:20.500Z", "2023-11-14T22:13:20.500Z" },
	{ "2023-11-14T22:13:20.000Z", "2023-11-14T22:13:20.000Z" },
	{ "2023-11-14T22:13:20.123456Z", "2023-11-14T22:13:20.123456Z" },
	{ "2023-11-14T22:13:20.123456789Z", "2023-11-14T22:13:20.123456000Z" },
	{ "2023-11-14T22:13:20.1234567891Z", "2023-11-14T22:13:20.123456000Z" },
	{ "2023-11-15T00:13:20+02:00", "2023-11-15T00:13:20+02:00" },
	{ "2023-11-14T16:43:20-05:30", "2023-11-14T16:43:20-05:30" },
	{ "2023-11-14T22:13:20+00:00", "2023-11-14T22:13:20+00:00" },
	{ "2023-11-14T22:13:20-00:00", "2023-11-14T22:13:20+00:00" },
	{ "2023-11-14T00:30:00+23:59", "2023-11-14T00:30:00+23:59" },
	{ "2023-11-14T23:30:00-23:59", "2023-11-14T23:30:00-23:59" },
	{ "2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z" },
	{ "2016-12-31T23:59:60.25+01:00", "2017-01-01T00:00:00.25+01:00" },
	{ "2024-02-29T23:59:59Z", "2024-02-29T23:59:59Z" },
	{ "2024-03-01T00:30:00+01:00", "2024-03-01T00:30:00+01:00" },
	{ "1969-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z" },
	{ "1900-03-01T00:00:00Z", "1900-03-01T00:00:00Z" },
	{ "0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z" },
	{ "0000-01-01T00:30:00+01:00", "0000-01-01T00:30:00+01:00" },
	{ "0000-02-29T12:00:00Z", "0000-02-29T12:00:00Z" },
	{ "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z" },
	{ "9999-12-31T23:30:00-01:00", "9999-12-31T23:30:00-01:00" },
};

START_TEST(test_rfc3339_round_trip)
{
	struct tf_stamp st;
	char want[64];

	ck_assert_int_eq(parse_exact(rfc_round[_i].in, &st), 0);
	snprintf(want, sizeof want, "\"%s\"", rfc_round[_i].out);
	expect_json(&st, st.us, want);
}
END_TEST

START_TEST(test_rfc3339_fraction_widths)
{
	struct tf_stamp st = { .kind = TF_RFC3339, .zulu = 1 };
	int64_t t = 1700000000 * S;

	/* the input's digits, or 3 or 6 when the value needs more */
	st.frac_digits = 0;
	expect_json(&st, t, "\"2023-11-14T22:13:20Z\"");
	expect_json(&st, t + 500000, "\"2023-11-14T22:13:20.500Z\"");
	expect_json(&st, t + 123000, "\"2023-11-14T22:13:20.123Z\"");
	expect_json(&st, t + 1, "\"2023-11-14T22:13:20.000001Z\"");
	st.frac_digits = 1;
	expect_json(&st, t, "\"2023-11-14T22:13:20.0Z\"");
	expect_json(&st, t + 500000, "\"2023-11-14T22:13:20.5Z\"");
	expect_json(&st, t + 520000, "\"2023-11-14T22:13:20.520Z\"");
	st.frac_digits = 2;
	expect_json(&st, t + 120000, "\"2023-11-14T22:13:20.12Z\"");
	expect_json(&st, t + 123000, "\"2023-11-14T22:13:20.123Z\"");
	expect_json(&st, t + 123400, "\"2023-11-14T22:13:20.123400Z\"");
	st.frac_digits = 4;
	expect_json(&st, t + 123400, "\"2023-11-14T22:13:20.1234Z\"");
	expect_json(&st, t + 123000, "\"2023-11-14T22:13:20.1230Z\"");
	expect_json(&st, t + 123450, "\"2023-11-14T22:13:20.123450Z\"");
	st.frac_digits = 9;
	expect_json(&st, t + 7, "\"2023-11-14T22:13:20.000007000Z\"");
	st.frac_digits = 200; /* never from the parser; treated as 9 */
	expect_json(&st, t + 7, "\"2023-11-14T22:13:20.000007000Z\"");
}
END_TEST

START_TEST(test_rfc3339_other_times)
{
	struct tf_stamp st = { .kind = TF_RFC3339, .offset_min = -330 };
	char out[TF_JSON_MAX];
	int64_t extremes[] = { INT64_MIN, INT64_MIN + 1, INT64_MAX, -(INT64_C(1) << 62),
			       INT64_C(1) << 62 };

	/* a stamp's format applies to any time, e.g. the start of a match */
	expect_json(&st, 0, "\"1969-12-31T18:30:00-05:30\"");
	expect_json(&st, -1, "\"1969-12-31T18:29:59.999999-05:30\"");
	st.offset_min = 60;
	expect_json(&st, 1700000000 * S, "\"2023-11-14T23:13:20+01:00\"");
	/* years beyond 0000..9999 (only from numbers) still make a string that fits */
	st.offset_min = 0;
	expect_json(&st, INT64_C(-62167219201) * S, "\"-0001-12-31T23:59:59+00:00\"");
	expect_json(&st, INT64_C(253402300800) * S, "\"10000-01-01T00:00:00+00:00\"");
	for (size_t i = 0; i < sizeof extremes / sizeof extremes[0]; i++) {
		for (int off = -1439; off <= 1439; off += 1439) {
			st.offset_min = (int16_t)off;
			st.frac_digits = 9;
			ck_assert_uint_lt(tf_format_json(&st, extremes[i], out), TF_JSON_MAX);
		}
	}
}
END_TEST

START_TEST(test_epoch_format)
{
	struct tf_stamp st = { .kind = TF_EPOCH_S };

	expect_json(&st, 0, "0");
	expect_json(&st, 1700000000 * S, "1700000000");
	expect_json(&st, 1700000000 * S + 500000, "1700000000.5");
	expect_json(&st, 1700000000 * S + 120000, "1700000000.12");
	expect_json(&st, 1700000000 * S + 1, "1700000000.000001");
	expect_json(&st, 1700000000 * S + 123456, "1700000000.123456");
	expect_json(&st, -1500000, "-1.5");
	expect_json(&st, -500000, "-0.5");
	expect_json(&st, -S, "-1");
	expect_json(&st, INT64_MIN, "-9223372036854.775808");
	expect_json(&st, INT64_MAX, "9223372036854.775807");

	st.kind = TF_EPOCH_MS;
	expect_json(&st, 0, "0");
	expect_json(&st, INT64_C(1700000000123000), "1700000000123");
	expect_json(&st, INT64_C(1700000000123456), "1700000000123.456");
	expect_json(&st, INT64_C(1700000000123400), "1700000000123.4");
	expect_json(&st, 1500, "1.5");
	expect_json(&st, -1, "-0.001");
	expect_json(&st, -2000, "-2");
	expect_json(&st, INT64_MIN, "-9223372036854775.808");

	st.kind = TF_EPOCH_US;
	expect_json(&st, 0, "0");
	expect_json(&st, -5, "-5");
	expect_json(&st, INT64_C(1700000000123456), "1700000000123456");
	expect_json(&st, INT64_MIN, "-9223372036854775808");
	expect_json(&st, INT64_MAX, "9223372036854775807");
}
END_TEST

static const struct {
	double x;
	const char *text;
} epoch_round[] = {
	{ 1700000000, "1700000000" },
	{ 1700000000.5, "1700000000.5" },
	{ 1700000000.25, "1700000000.25" },
	{ 1700000000123.0, "1700000000123" },
	{ 1700000000123.5, "1700000000123.5" },
	{ 1700000000123456.0, "1700000000123456" },
	{ -1.25, "-1.25" },
	{ 0, "0" },
	{ 99999999999.0, "99999999999" },
	{ 1e11, "100000000000" },
	{ 1e14, "100000000000000" },
};

START_TEST(test_epoch_round_trip)
{
	struct tl_value v = num_value(epoch_round[_i].x);
	struct tf_stamp st;
	const char *err = NULL;

	ck_assert_int_eq(tf_from_value(TF_AUTO, &v, &st, &err), 0);
	expect_json(&st, st.us, epoch_round[_i].text);
}
END_TEST

/* Differential: RFC 3339 text written from random times against the C library's gmtime_r,
 * and parsed back to the same time. */
START_TEST(test_rfc3339_random)
{
	const int64_t lo = INT64_C(-62167219200), hi = INT64_C(253402300799);
	struct tf_stamp st = { .kind = TF_RFC3339, .zulu = 1, .frac_digits = 6 }, back;
	uint64_t seed = 0x9e3779b97f4a7c15u;

	for (int i = 0; i < 200000; i++) {
		char out[TF_JSON_MAX], want[64];
		int64_t secs, us;
		time_t tt;
		struct tm tm;
		size_t n;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		/* mostly uniform over the range, sometimes near a year boundary */
		secs = lo + (int64_t)(seed % (uint64_t)(hi - lo + 1));
		if (i % 4 == 0)
			secs -= secs % 31556952 + (int64_t)(seed >> 60);
		if (secs < lo)
			secs = lo;
		us = secs * S + (int64_t)((seed >> 20) % 1000000);
		tt = (time_t)secs;
		REQUIRE(gmtime_r(&tt, &tm) != NULL);
		snprintf(want, sizeof want, "\"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ\"",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (int)(us - secs * S));
		n = tf_format_json(&st, us, out);
		if (strcmp(out, want) != 0)
			ck_abort_msg("us %lld: got %s, want %s", (long long)us, out, want);
		REQUIRE(tf_parse_rfc3339(out + 1, n - 2, &back) == 0);
		REQUIRE(back.us == us);
	}
}
END_TEST

/* ---- durations --------------------------------------------------------------------------- */

static const struct {
	const char *text;
	int64_t us;
} dur_valid[] = {
	{ "250ms", 250 * MS },
	{ "30s", 30 * S },
	{ "5m", 300 * S },
	{ "2h", 7200 * S },
	{ "1d", 86400 * S },
	{ "1h30m", 5400 * S },
	{ "1d2h", 93600 * S },
	{ "1m30s500ms", 90 * S + 500 * MS },
	{ "1d1h1m1s1ms", 90061 * S + MS },
	{ "1m1ms", 60 * S + MS },
	{ "0s", 0 },
	{ "0ms", 0 },
	{ "0d0h0m0s0ms", 0 },
	{ "1d0h", 86400 * S },
	{ "007s", 7 * S },
	{ "90m", 5400 * S },
	{ "1500ms", 1500 * MS },
	{ "36525d", INT64_C(36525) * 86400 * S },
	{ "876600h", INT64_C(36525) * 86400 * S },
	{ "3155760000000ms", INT64_C(36525) * 86400 * S },
	{ "36524d23h59m59s999ms", INT64_C(36525) * 86400 * S - MS },
};

START_TEST(test_duration_valid)
{
	int64_t us = -1;
	const char *err = NULL;
	const char *text = dur_valid[_i].text;

	ck_assert_msg(tf_parse_duration(text, strlen(text), &us, &err) == 0, "%s: %s", text,
		      err ? err : "");
	ck_assert_int_eq(us, dur_valid[_i].us);
}
END_TEST

static const struct {
	const char *text;
	const char *err;
} dur_invalid[] = {
#define SYNTAX "expected a duration such as 30s, 5m or 1h30m"
#define ORDER "duration units must each appear at most once, largest first (as in 1d2h or 1h30m)"
#define LARGE "duration is too large"
	{ "", SYNTAX },
	{ "5", SYNTAX },
	{ "s", SYNTAX },
	{ "ms", SYNTAX },
	{ "5x", SYNTAX },
	{ "5S", SYNTAX },
	{ "5M", SYNTAX },
	{ "5us", SYNTAX },
	{ "5sec", SYNTAX },
	{ "5mss", SYNTAX },
	{ "-5s", SYNTAX },
	{ "+5s", SYNTAX },
	{ "1.5s", SYNTAX },
	{ "1,5s", SYNTAX },
	{ " 5s", SYNTAX },
	{ "5s ", SYNTAX },
	{ "5 s", SYNTAX },
	{ "1h 30m", SYNTAX },
	{ "1h30", SYNTAX },
	{ "1h-30m", SYNTAX },
	{ "5s\n", SYNTAX },
	{ "1e3s", SYNTAX },
	{ "30m1h", ORDER },
	{ "1s1s", ORDER },
	{ "1m1m", ORDER },
	{ "500ms1s", ORDER },
	{ "1s2m", ORDER },
	{ "1h1d", ORDER },
	{ "1ms1ms", ORDER },
	{ "36526d", LARGE },
	{ "876601h", LARGE },
	{ "3155760000001ms", LARGE },
	{ "36525d1ms", LARGE },
	{ "36524d24h1s", LARGE },
	{ "18446744073709551616s", LARGE },
	{ "99999999999999999999999999999999d", LARGE },
	{ "9223372036854775807ms9223372036854775807ms", ORDER },
	{ "1d99999999999999999999h99999999999999999999m", LARGE },
#undef SYNTAX
#undef ORDER
#undef LARGE
};

START_TEST(test_duration_invalid)
{
	int64_t us = 12345;
	const char *err = NULL;
	const char *text = dur_invalid[_i].text;

	ck_assert_msg(tf_parse_duration(text, strlen(text), &us, &err) == -1, "accepted \"%s\"",
		      text);
	ck_assert_str_eq(err, dur_invalid[_i].err);
	ck_assert_int_eq(us, 12345); /* untouched on failure */
}
END_TEST

START_TEST(test_duration_len_bound)
{
	int64_t us;
	const char *err = NULL;
	char *copy = malloc(4);

	/* "1h30m" cut to 4 bytes in an exact heap block: "1h30" has no unit */
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, "1h30", 4);
	ck_assert_int_eq(tf_parse_duration(copy, 4, &us, &err), -1);
	ck_assert_str_eq(err, "expected a duration such as 30s, 5m or 1h30m");
	memcpy(copy, "10ms", 4);
	ck_assert_int_eq(tf_parse_duration(copy, 3, &us, &err), 0);
	ck_assert_int_eq(us, 600 * S); /* "10m" */
	ck_assert_int_eq(tf_parse_duration(copy, 4, &us, &err), 0);
	ck_assert_int_eq(us, 10 * MS);
	free(copy);
}
END_TEST

static const struct {
	int64_t us;
	const char *text;
} dur_format[] = {
	{ 0, "0s" },
	{ 5400 * S, "1h30m" },
	{ 1500 * MS, "1s500ms" },
	{ 250 * MS, "250ms" },
	{ 30 * S, "30s" },
	{ 86400 * S, "1d" },
	{ 93600 * S, "1d2h" },
	{ 90061 * S + MS, "1d1h1m1s1ms" },
	{ 60 * S + MS, "1m1ms" },
	{ INT64_C(36525) * 86400 * S, "36525d" },
	{ 1, "1us" },
	{ S + 1, "1s1us" },
	{ -60 * S, "-1m" },
	{ INT64_MAX, "106751991d4h54s775ms807us" },
	{ INT64_MIN, "-106751991d4h54s775ms808us" },
};

START_TEST(test_duration_format)
{
	char out[64];
	size_t n = tf_format_duration(dur_format[_i].us, out);

	ck_assert_str_eq(out, dur_format[_i].text);
	ck_assert_uint_eq(n, strlen(dur_format[_i].text));
}
END_TEST

START_TEST(test_duration_round_trip)
{
	const char *text = dur_valid[_i].text;
	char out[64];
	int64_t us, back;
	const char *err = NULL;

	/* text -> us -> canonical text -> the same us; canonical text is a fixed point */
	ck_assert_int_eq(tf_parse_duration(text, strlen(text), &us, &err), 0);
	tf_format_duration(us, out);
	ck_assert_int_eq(tf_parse_duration(out, strlen(out), &back, &err), 0);
	ck_assert_int_eq(back, us);
}
END_TEST

START_TEST(test_duration_canonical_random)
{
	uint64_t seed = 12345;

	for (int i = 0; i < 100000; i++) {
		char out[64], again[64];
		int64_t us, back;
		const char *err = NULL;

		seed = seed * 6364136223846793005u + 1442695040888963407u;
		us = (int64_t)((seed >> 11) % (uint64_t)(INT64_C(36525) * 86400000 + 1)) * MS;
		tf_format_duration(us, out);
		if (tf_parse_duration(out, strlen(out), &back, &err) != 0)
			ck_abort_msg("%s: %s", out, err);
		REQUIRE(back == us);
		tf_format_duration(back, again);
		REQUIRE(strcmp(again, out) == 0);
	}
}
END_TEST

static Suite *time_suite(void)
{
	Suite *s = suite_create("timefmt");
	TCase *tc;

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
	tc = tcase_create("numbers");
	tcase_add_loop_test(tc, test_auto_numbers, 0, N(auto_cases));
	tcase_add_test(tc, test_explicit_formats);
	tcase_add_test(tc, test_rounding);
	tcase_add_test(tc, test_rounding_random);
	tcase_add_loop_test(tc, test_out_of_range, 0, N(range_cases));
	tcase_add_test(tc, test_non_finite);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_strings);
	suite_add_tcase(s, tc);

	tc = tcase_create("rfc3339");
	tcase_add_loop_test(tc, test_rfc3339_valid, 0, N(rfc_valid));
	tcase_add_loop_test(tc, test_rfc3339_invalid, 0, N(rfc_invalid));
	tcase_add_test(tc, test_rfc3339_len_bound);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_loop_test(tc, test_rfc3339_round_trip, 0, N(rfc_round));
	tcase_add_test(tc, test_rfc3339_fraction_widths);
	tcase_add_test(tc, test_rfc3339_other_times);
	tcase_add_test(tc, test_epoch_format);
	tcase_add_loop_test(tc, test_epoch_round_trip, 0, N(epoch_round));
	tcase_add_test(tc, test_rfc3339_random);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("durations");
	tcase_add_loop_test(tc, test_duration_valid, 0, N(dur_valid));
	tcase_add_loop_test(tc, test_duration_invalid, 0, N(dur_invalid));
	tcase_add_test(tc, test_duration_len_bound);
	tcase_add_loop_test(tc, test_duration_format, 0, N(dur_format));
	tcase_add_loop_test(tc, test_duration_round_trip, 0, N(dur_valid));
	tcase_add_test(tc, test_duration_canonical_random);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
#undef N
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(time_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
