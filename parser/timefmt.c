/* timefmt.c - event time (epoch numbers, RFC 3339) and durations.
 *
 * Pipeline position: parser. The JSON decoder hands over the decoded time field; this file
 * turns it into int64 microseconds since the epoch and remembers how it was written, so that
 * alerts can write their time fields back the same way. The rule loader parses `within`,
 * `window`, `suppress` and `lateness` durations here; `explain` prints them back.
 *
 * Calendar arithmetic is done here in integers (proleptic Gregorian calendar, UTC), with no
 * timegm/gmtime, no locale and no time zone database: an RFC 3339 time carries its own offset.
 *
 * Choices where the contract leaves room:
 * - RFC 3339 fractions longer than 6 digits are truncated to the microsecond (not rounded), so
 *   that a time never moves into the next second or day; frac_digits records up to 9 digits.
 * - Offset "-00:00" ("local offset unknown" in RFC 3339) is read as UTC and written "+00:00".
 * - Durations are at most 100 Julian years (36525 days).
 */
#include "timefmt.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define US_PER_MS  INT64_C(1000)
#define US_PER_S   INT64_C(1000000)
#define US_PER_MIN (60 * US_PER_S)
#define US_PER_H   (60 * US_PER_MIN)
#define US_PER_DAY (24 * US_PER_H)

/* Days from 0000-03-01 to 1970-01-01 (the March-based count used by civil_from_days). */
#define DAYS_0000_03_01_TO_EPOCH INT64_C(719468)

/* Largest |time| accepted from a number: 2^62 us (about 146,000 years) leaves int64 headroom
 * for offsets, windows and lateness added later. */
#define TF_MAX_ABS_US 4611686018427387904.0

/* Largest duration: 100 Julian years. */
#define TF_MAX_DURATION_US (INT64_C(36525) * US_PER_DAY)

/* Every message text of this module, in one place. */
static const char tf_err_missing[] = "time field is missing";
static const char tf_err_not_number[] = "time field is not a number";
static const char tf_err_not_string[] = "time field is not an RFC 3339 string";
static const char tf_err_null[] = "time field is null";
static const char tf_err_bool[] = "time field is a boolean, not a time";
static const char tf_err_array[] = "time field is an array, not a time";
static const char tf_err_object[] = "time field is an object, not a time";
static const char tf_err_rfc3339[] = "invalid RFC 3339 time";
static const char tf_err_range[] = "time is out of range";
static const char tf_err_duration[] = "expected a duration such as 30s, 5m or 1h30m";
static const char tf_err_dur_order[] =
	"duration units must each appear at most once, largest first (as in 1d2h or 1h30m)";
static const char tf_err_dur_large[] = "duration is too large";

/* ---- calendar ---------------------------------------------------------------------------- */

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const uint8_t len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* Days from 1970-01-01 to y-m-d, for years 0..9999 and a valid month and day. */
static int64_t days_from_civil(int y, int m, int d)
{
	static const uint16_t before[12] = {
		0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334
	};
	/* 0000-01-01 to the start of year y: 365 per year plus the leap years 0..y-1, i.e. the
	 * multiples of 4, less those of 100, plus those of 400 (year 0 counts as leap). */
	int64_t days = INT64_C(365) * y + (y + 3) / 4 - (y + 99) / 100 + (y + 399) / 400;

	days += before[m - 1] + (m > 2 && is_leap(y)) + d - 1;
	/* 0000-01-01 is 60 days before 0000-03-01 (January + a leap February). */
	return days - (DAYS_0000_03_01_TO_EPOCH + 60);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Inverse of days_from_civil for any day count that fits an int64 time. Counts from
 * 0000-03-01 so that the leap day ends its year: a 400-year era has 146097 days, split into
 * three centuries of 36524 days and a last one of 36525; a century into 4-year groups of 1461
 * days (the last one of a non-400 century has 1460); a group into years of 365 days, the last
 * of which has the leap day. */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	/* Day of the March-based year at which each month starts, from March. */
	static const uint16_t month_start[12] = {
		0, 31, 61, 92, 122, 153, 184, 214, 245, 275, 306, 337
	};
	int64_t z = days + DAYS_0000_03_01_TO_EPOCH;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;                   /* day of era, 0..146096 */
	int64_t cent = doe / 36524 < 3 ? doe / 36524 : 3;
	int64_t doc = doe - cent * 36524;                 /* day of century */
	int64_t quad = doc / 1461;
	int64_t doq = doc - quad * 1461;                  /* day of 4-year group */
	int64_t yoq = doq / 365 < 3 ? doq / 365 : 3;
	int64_t doy = doq - yoq * 365;                    /* day of March-based year, 0..365 */
	int mi = 11;

	while (month_start[mi] > doy)
		mi--;
	*d = (int)(doy - month_start[mi]) + 1;
	*m = mi < 10 ? mi + 3 : mi - 9;
	*y = era * 400 + cent * 100 + quad * 4 + yoq + (*m <= 2);
}

/* ---- RFC 3339 ---------------------------------------------------------------------------- */

/* Reads exactly n decimal digits at s. Returns the value, or -1 if one is not a digit. */
static int read_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int tf_parse_rfc3339(const char *s, size_t len, struct tf_stamp *out)
{
	int year, mon, day, hour, min, sec, off_h, off_m, offset = 0, zulu = 0;
	int64_t frac = 0, secs;
	size_t p, n_frac = 0;

	/* full-date "T" partial-time: the fixed 19 characters "YYYY-MM-DDTHH:MM:SS" */
	if (len < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':')
		return -1;
	if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
		return -1;
	year = read_digits(s, 4);
	mon = read_digits(s + 5, 2);
	day = read_digits(s + 8, 2);
	hour = read_digits(s + 11, 2);
	min = read_digits(s + 14, 2);
	sec = read_digits(s + 17, 2);
	if (year < 0 || mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon))
		return -1;
	if (hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
		return -1;

	/* time-secfrac = "." 1*DIGIT; digits past the microsecond are truncated */
	p = 19;
	if (s[p] == '.') {
		for (p++; p < len && s[p] >= '0' && s[p] <= '9'; p++, n_frac++)
			if (n_frac < 6)
				frac = frac * 10 + (s[p] - '0');
		if (n_frac == 0)
			return -1;
		for (size_t i = n_frac; i < 6; i++)
			frac *= 10;
	}

	/* time-offset = "Z" / time-numoffset, and then the end of the text */
	if (p >= len)
		return -1;
	if (s[p] == 'Z' || s[p] == 'z') {
		zulu = 1;
		p++;
	} else if (s[p] == '+' || s[p] == '-') {
		if (len - p < 6 || s[p + 3] != ':')
			return -1;
		off_h = read_digits(s + p + 1, 2);
		off_m = read_digits(s + p + 4, 2);
		if (off_h < 0 || off_h > 23 || off_m < 0 || off_m > 59)
			return -1;
		offset = off_h * 60 + off_m;
		if (s[p] == '-')
			offset = -offset;
		p += 6;
	} else {
		return -1;
	}
	if (p != len)
		return -1;

	/* second 60 (a leap second) simply counts as the first second of the next minute */
	secs = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
	secs -= (int64_t)offset * 60;
	out->us = secs * US_PER_S + frac;
	out->kind = TF_RFC3339;
	out->frac_digits = (uint8_t)(n_frac > 9 ? 9 : n_frac);
	out->zulu = (uint8_t)zulu;
	out->offset_min = (int16_t)offset;
	return 0;
}

/* ---- decoded values ---------------------------------------------------------------------- */

/* llround(y) for |y| < 2^52 without the library call: the truncation, moved by one when the
 * rest is a half or more. The rest y - r is exact: it keeps only bits y has. */
static inline int64_t round_half_away(double y)
{
	int64_t r = (int64_t)y;
	double rest = y - (double)r;

	return r + (rest >= 0.5) - (rest <= -0.5);
}

static int from_number(enum tf_kind fmt, double x, struct tf_stamp *out, const char **err)
{
	enum tf_kind kind = fmt;
	int64_t scale;
	double whole;

	if (!isfinite(x)) {
		*err = tf_err_range;
		return -1;
	}
	if (kind == TF_AUTO) {
		/* negative numbers are "below" the thresholds: seconds */
		if (x < 1e11)
			kind = TF_EPOCH_S;
		else if (x < 1e14)
			kind = TF_EPOCH_MS;
		else
			kind = TF_EPOCH_US;
	}
	scale = kind == TF_EPOCH_S ? US_PER_S : kind == TF_EPOCH_MS ? US_PER_MS : 1;
	if (!(fabs(x) * (double)scale <= TF_MAX_ABS_US)) {
		*err = tf_err_range;
		return -1;
	}
	/* Scale the integer part in int64, not in double: x * 1000 as a double would lose
	 * microseconds once a time passes 2^53 us (about year 2255). */
	whole = trunc(x);
	out->us = (int64_t)whole * scale + round_half_away((x - whole) * (double)scale);
	out->kind = (uint8_t)kind;
	out->frac_digits = 0;
	out->zulu = 0;
	out->offset_min = 0;
	return 0;
}

int tf_from_value(enum tf_kind fmt, const struct tl_value *v, struct tf_stamp *out,
		  const char **err)
{
	switch (v ? v->type : TL_MISSING) {
	case TL_MISSING:
		*err = tf_err_missing;
		return -1;
	case TL_NULL:
		*err = tf_err_null;
		return -1;
	case TL_BOOL:
		*err = tf_err_bool;
		return -1;
	case TL_ARR:
		*err = tf_err_array;
		return -1;
	case TL_OBJ:
		*err = tf_err_object;
		return -1;
	case TL_NUM:
		if (fmt == TF_RFC3339) {
			*err = tf_err_not_string;
			return -1;
		}
		return from_number(fmt, v->num, out, err);
	case TL_STR:
		if (fmt != TF_AUTO && fmt != TF_RFC3339) {
			*err = tf_err_not_number;
			return -1;
		}
		if (tf_parse_rfc3339(v->str, v->len, out) < 0) {
			*err = tf_err_rfc3339;
			return -1;
		}
		return 0;
	}
	*err = tf_err_missing;
	return -1;
}

/* ---- writing times ----------------------------------------------------------------------- */

/* Writes v in decimal, zero-padded to at least width digits. Returns the length. */
static size_t put_uint(char *out, uint64_t v, int width)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width)
		tmp[n++] = '0';
	for (int i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return (size_t)n;
}

/* us as a decimal number of units of unit_us microseconds: an integer when whole, else the
 * shortest fraction (at most frac_width digits, enough to be exact). */
static size_t put_epoch(char *out, int64_t us, uint64_t unit_us, int frac_width)
{
	uint64_t mag = us < 0 ? 0 - (uint64_t)us : (uint64_t)us;
	uint64_t frac = mag % unit_us;
	size_t n = 0;

	if (us < 0)
		out[n++] = '-';
	n += put_uint(out + n, mag / unit_us, 1);
	if (frac) {
		while (frac % 10 == 0) {
			frac /= 10;
			frac_width--;
		}
		out[n++] = '.';
		n += put_uint(out + n, frac, frac_width);
	}
	return n;
}

/* The fraction digits to print for sub-second part frac (us): the input's count, or 3 or 6
 * when that count cannot show frac exactly. */
static int frac_width(int want, int64_t frac)
{
	static const int64_t unit[7] = { 1000000, 100000, 10000, 1000, 100, 10, 1 };

	if (want > 9)
		want = 9;
	if (want >= 6 || frac % unit[want] == 0)
		return want;
	return want < 3 && frac % 1000 == 0 ? 3 : 6;
}

static size_t put_rfc3339(char *out, const struct tf_stamp *st, int64_t us)
{
	int64_t days = us / US_PER_DAY, rem = us % US_PER_DAY;
	int64_t year, sod, frac;
	int mon, day, width, off;
	size_t n = 0;

	if (rem < 0) {
		/* floor, so that rem is the time of day (us may be INT64_MIN: no multiplying) */
		rem += US_PER_DAY;
		days--;
	}
	if (!st->zulu) {
		/* local time = UTC + offset; the offset may move it to another day */
		rem += (int64_t)st->offset_min * US_PER_MIN;
		days += floor_div(rem, US_PER_DAY);
		rem -= floor_div(rem, US_PER_DAY) * US_PER_DAY;
	}
	civil_from_days(days, &year, &mon, &day);
	sod = rem / US_PER_S;
	frac = rem % US_PER_S;

	out[n++] = '"';
	/* years outside 0000..9999 (only from epoch input) still give a readable string */
	if (year < 0)
		out[n++] = '-';
	n += put_uint(out + n, (uint64_t)(year < 0 ? -year : year), 4);
	out[n++] = '-';
	n += put_uint(out + n, (uint64_t)mon, 2);
	out[n++] = '-';
	n += put_uint(out + n, (uint64_t)day, 2);
	out[n++] = 'T';
	n += put_uint(out + n, (uint64_t)(sod / 3600), 2);
	out[n++] = ':';
	n += put_uint(out + n, (uint64_t)(sod / 60 % 60), 2);
	out[n++] = ':';
	n += put_uint(out + n, (uint64_t)(sod % 60), 2);

	width = frac_width(st->frac_digits, frac);
	if (width > 0) {
		/* digits past the microsecond print as 0 */
		char digits[6];

		put_uint(digits, (uint64_t)frac, 6);
		out[n++] = '.';
		for (int i = 0; i < width; i++)
			out[n++] = i < 6 ? digits[i] : '0';
	}

	if (st->zulu) {
		out[n++] = 'Z';
	} else {
		off = st->offset_min;
		out[n++] = off < 0 ? '-' : '+';
		if (off < 0)
			off = -off;
		n += put_uint(out + n, (uint64_t)(off / 60), 2);
		out[n++] = ':';
		n += put_uint(out + n, (uint64_t)(off % 60), 2);
	}
	out[n++] = '"';
	return n;
}

/* Also NUL-terminates out (not counted in the length). A kind of TF_AUTO, which a stamp never
 * has, prints as microseconds: exact, and still a number. */
size_t tf_format_json(const struct tf_stamp *st, int64_t us, char *out)
{
	size_t n;

	switch (st->kind) {
	case TF_EPOCH_S:
		n = put_epoch(out, us, US_PER_S, 6);
		break;
	case TF_EPOCH_MS:
		n = put_epoch(out, us, US_PER_MS, 3);
		break;
	case TF_RFC3339:
		n = put_rfc3339(out, st, us);
		break;
	default:
		n = put_epoch(out, us, 1, 0);
		break;
	}
	out[n] = '\0';
	return n;
}

/* ---- durations --------------------------------------------------------------------------- */

/* Units, largest first: a duration names them in this order, each at most once. */
static const struct {
	char name[3];
	int64_t us;
} tf_units[] = {
	{ "d", US_PER_DAY },
	{ "h", US_PER_H },
	{ "m", US_PER_MIN },
	{ "s", US_PER_S },
	{ "ms", US_PER_MS },
};

#define TF_N_UNITS (sizeof tf_units / sizeof tf_units[0])

/* duration := (1*DIGIT unit)+ ; unit := "d" / "h" / "m" / "s" / "ms" */
int tf_parse_duration(const char *s, size_t len, int64_t *us, const char **err)
{
	int64_t total = 0;
	size_t p = 0, next_unit = 0;
	int too_large = 0;

	if (len == 0)
		goto bad_syntax;
	while (p < len) {
		/* digits; anything above the 100-year limit in every unit just marks too_large */
		uint64_t n = 0;
		size_t start = p, u;

		for (; p < len && s[p] >= '0' && s[p] <= '9'; p++)
			if (n <= UINT64_C(1000000000000000000))
				n = n * 10 + (uint64_t)(s[p] - '0');
		if (p == start || p == len)
			goto bad_syntax;

		/* the unit: "ms" before "m" */
		if (s[p] == 'm' && p + 1 < len && s[p + 1] == 's') {
			u = TF_N_UNITS - 1;
			p += 2;
		} else {
			for (u = 0; u < TF_N_UNITS - 1; u++)
				if (s[p] == tf_units[u].name[0])
					break;
			if (u == TF_N_UNITS - 1)
				goto bad_syntax;
			p++;
		}
		if (u < next_unit) {
			*err = tf_err_dur_order;
			return -1;
		}
		next_unit = u + 1;

		if (n > (uint64_t)(TF_MAX_DURATION_US / tf_units[u].us))
			too_large = 1;
		else
			total += (int64_t)n * tf_units[u].us;
		if (total > TF_MAX_DURATION_US)
			too_large = 1;
	}
	if (too_large) {
		*err = tf_err_dur_large;
		return -1;
	}
	*us = total;
	return 0;

bad_syntax:
	*err = tf_err_duration;
	return -1;
}

/* Each non-zero unit, largest first; a remainder below a millisecond (which no parsed
 * duration has) prints as "us", a negative duration with a leading "-". Also NUL-terminates. */
size_t tf_format_duration(int64_t us, char *out)
{
	uint64_t rest = us < 0 ? 0 - (uint64_t)us : (uint64_t)us;
	size_t n = 0;

	if (us == 0) {
		memcpy(out, "0s", 3);
		return 2;
	}
	if (us < 0)
		out[n++] = '-';
	for (size_t u = 0; u < TF_N_UNITS; u++) {
		uint64_t k = rest / (uint64_t)tf_units[u].us;

		if (k == 0)
			continue;
		rest %= (uint64_t)tf_units[u].us;
		n += put_uint(out + n, k, 1);
		for (const char *c = tf_units[u].name; *c; c++)
			out[n++] = *c;
	}
	if (rest) {
		n += put_uint(out + n, rest, 1);
		out[n++] = 'u';
		out[n++] = 's';
	}
	out[n] = '\0';
	return n;
}
