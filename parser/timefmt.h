/* timefmt.h - event time and durations.
 *
 * Pipeline position: parser. Times are int64 microseconds since the Unix epoch (UTC). A
 * tf_stamp also remembers how the input wrote the time, so that an alert carries its time field
 * in the same format as the input (an alert is an event that can be piped into tripline again).
 */
#ifndef TL_TIMEFMT_H
#define TL_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#include "value.h"

enum tf_kind { TF_AUTO, TF_EPOCH_S, TF_EPOCH_MS, TF_EPOCH_US, TF_RFC3339 };

struct tf_stamp {
	int64_t us;         /* microseconds since 1970-01-01T00:00:00Z */
	uint8_t kind;       /* the detected kind: never TF_AUTO */
	uint8_t frac_digits;/* RFC 3339: digits after the seconds' point in the input (0..9) */
	uint8_t zulu;       /* RFC 3339: the input ended in Z (or z) */
	int16_t offset_min; /* RFC 3339: the input's UTC offset in minutes */
};

/* Interprets a decoded time field. fmt TF_AUTO: a number below 1e11 is seconds, below 1e14
 * milliseconds, else microseconds; a string is RFC 3339. Fractions are rounded to the nearest
 * microsecond. Returns 0, or -1 with a static reason in *err ("time field is missing",
 * "time field is not a number", "invalid RFC 3339 time", "time is out of range"). */
int tf_from_value(enum tf_kind fmt, const struct tl_value *v, struct tf_stamp *out,
		  const char **err);

/* RFC 3339 date-time: YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|+HH:MM|-HH:MM).
 * Checks the calendar (month lengths, leap years); accepts second 60 as the next second.
 * Returns 0 or -1. */
int tf_parse_rfc3339(const char *s, size_t len, struct tf_stamp *out);

/* Writes time us as a JSON token in the format of st (st->us is ignored): epoch kinds as a
 * number (integer when whole, else the shortest decimal fraction, never an exponent); RFC 3339
 * as a quoted string in st's offset (Z when st->zulu), with st->frac_digits fraction digits, or
 * more when needed to show us exactly. Returns the length; out needs TF_JSON_MAX bytes. */
#define TF_JSON_MAX 48
size_t tf_format_json(const struct tf_stamp *st, int64_t us, char *out);

/* Durations: a sum of <digits><unit> with units ms, s, m, h, d, e.g. "250ms", "1h30m"; also a
 * bare YAML number of seconds is not accepted here (the caller decides). Returns 0, or -1 with
 * a static reason in *err ("expected a duration such as 30s, 5m or 1h30m",
 * "duration is too large"). Durations above 100 years are too large. */
int tf_parse_duration(const char *s, size_t len, int64_t *us, const char **err);
/* Shortest canonical text of a duration, e.g. 5400000000 -> "1h30m"; out needs 64 bytes. */
size_t tf_format_duration(int64_t us, char *out);

#endif
