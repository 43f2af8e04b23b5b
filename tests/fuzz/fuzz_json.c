/* fuzz_json.c - libFuzzer target for the NDJSON event decoder (parser/json.c).
 *
 * Decodes each input as one line against a few registered paths (a leaf that is also a prefix,
 * a nested path, the whole event) and checks what a success promises: every string slot is
 * valid UTF-8 and every raw array/object span lies inside the line. Then re-quotes each string
 * with jd_quote and decodes it back, and round-trips each number through jd_format_number.
 * Every input is also decoded by a new decoder, which must give the same result as the one
 * that has seen every input before (and guesses keys from them).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json.h"

static struct jd_fields *fields;
static struct jd_decoder *decoder, *checker;
static int n_paths;

static int add(const char *a, const char *b, const char *c)
{
	const char *segs[3] = { a, b, c };
	size_t lens[3], n = 0;

	while (n < 3 && segs[n]) {
		lens[n] = strlen(segs[n]);
		n++;
	}
	return jd_fields_add(fields, segs, lens, n);
}

static void setup(void)
{
	fields = jd_fields_new();
	if (!fields)
		abort();
	add("a", NULL, NULL);
	add("a", "b", NULL);
	add("a", "b", "c");
	add("geo", "country", NULL);
	add("s", NULL, NULL);
	add("n", NULL, NULL);
	add("", NULL, NULL);
	add("\xc3\xa9", NULL, NULL);
	if (jd_fields_add(fields, NULL, NULL, 0) < 0 || jd_fields_freeze(fields))
		abort();
	n_paths = (int)jd_fields_count(fields);
	decoder = jd_decoder_new(fields);
	checker = jd_decoder_new(fields);
	if (!decoder || !checker)
		abort();
}

/* Textbook UTF-8 check, independent of the decoder's. */
static int valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0, k, len;
	uint32_t cp;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0)
			len = 2, cp = s[i] & 0x1f;
		else if ((s[i] & 0xf0) == 0xe0)
			len = 3, cp = s[i] & 0x0f;
		else if ((s[i] & 0xf8) == 0xf0)
			len = 4, cp = s[i] & 0x07;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* Quotes s, decodes {"s":<quoted>} and expects the same bytes back. */
static void check_quote(const char *s, size_t len)
{
	struct tl_value slots[16];
	struct jd_error err;
	char *buf = malloc(6 * len + 16);
	size_t n;

	if (!buf)
		abort();
	memcpy(buf, "{\"s\":", 5);
	n = jd_quote(s, len, buf + 5);
	if (n > 6 * len + 2)
		abort();
	buf[5 + n] = '}';
	if (jd_decode(checker, buf, n + 6, slots, &err))
		abort();
	if (slots[4].type != TL_STR || slots[4].len != len ||
	    (len && memcmp(slots[4].str, s, len)))
		abort();
	free(buf);
}

static void check_number(double v)
{
	struct tl_value slots[16];
	struct jd_error err;
	char buf[64];
	size_t n;

	memcpy(buf, "{\"n\":", 5);
	n = jd_format_number(v, buf + 5);
	buf[5 + n] = '}';
	if (jd_decode(checker, buf, n + 6, slots, &err))
		abort();
	if (slots[5].type != TL_NUM || memcmp(&slots[5].num, &v, sizeof v))
		abort();
}

/* Decodes data again with a decoder of its own, which has seen no line before (decoder has
 * seen every input of the run, and guesses keys from them), and expects the same result. */
static void check_cold(const uint8_t *data, size_t size, int rc, const struct tl_value *slots,
		       const struct jd_error *err)
{
	struct jd_decoder *cold = jd_decoder_new(fields);
	struct tl_value again[16];
	struct jd_error err2;
	int i;

	if (!cold)
		abort();
	if (jd_decode(cold, (const char *)data, size, again, &err2) != rc)
		abort();
	if (rc && (err->msg != err2.msg || err->off != err2.off))
		abort();
	for (i = 0; !rc && i < n_paths; i++) {
		const struct tl_value *a = &slots[i], *b = &again[i];

		if (a->type != b->type)
			abort();
		if ((a->type == TL_NUM && memcmp(&a->num, &b->num, sizeof a->num)) ||
		    (a->type == TL_BOOL && a->b != b->b) ||
		    ((a->type == TL_STR || a->type == TL_ARR || a->type == TL_OBJ) &&
		     (a->len != b->len || (a->len && memcmp(a->str, b->str, a->len)))))
			abort();
	}
	jd_decoder_free(cold);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tl_value slots[16];
	struct jd_error err;
	int i, rc;

	if (!fields)
		setup();
	rc = jd_decode(decoder, (const char *)data, size, slots, &err);
	check_cold(data, size, rc, slots, &err);
	if (rc) {
		if (!err.msg || err.off > size)
			abort();
		return 0;
	}
	for (i = 0; i < n_paths; i++) {
		const struct tl_value *v = &slots[i];

		switch (v->type) {
		case TL_STR:
			if (!valid_utf8((const unsigned char *)v->str, v->len))
				abort();
			check_quote(v->str, v->len);
			break;
		case TL_ARR:
		case TL_OBJ:
			if (v->str < (const char *)data || v->len > size ||
			    v->str + v->len > (const char *)data + size)
				abort();
			break;
		case TL_NUM:
			if (isnan(v->num) || isinf(v->num))
				abort();
			check_number(v->num);
			break;
		default:
			break;
		}
	}
	return 0;
}
