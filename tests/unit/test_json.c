/* test_json.c - Check suite for the NDJSON event decoder (parser/json.c).
 *
 * Covers the whole JSONTestSuite corpus (as lines and wrapped as a field value), field
 * extraction, escapes, duplicate keys, numbers, limits, UTF-8, scratch reuse, the output
 * helpers, allocation failure, and differential tests of the optimised paths (8-byte string
 * scanning, UTF-8 validation, the fast number path, shortest number printing) against slow,
 * obviously correct references on random inputs.
 */
#include <check.h>
#include <dirent.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json.h"

#ifndef TL_TEST_DATA
#define TL_TEST_DATA "tests/data"
#endif
#define SUITE_DIR TL_TEST_DATA "/JSONTestSuite/test_parsing"

#define MAX_PATHS 16

/* A field table, a decoder and slots for a handful of dotted paths. */
struct dec {
	struct jd_fields *f;
	struct jd_decoder *d;
	struct tl_value slots[MAX_PATHS];
	struct jd_error err;
};

/* Registers a dotted path ("" is the path with no segments: the whole event). */
static int add_path(struct jd_fields *f, const char *dotted)
{
	const char *segs[32];
	size_t lens[32], n = 0;
	const char *s = dotted, *dot;

	if (*s) {
		for (;;) {
			dot = strchr(s, '.');
			segs[n] = s;
			lens[n] = dot ? (size_t)(dot - s) : strlen(s);
			n++;
			if (!dot)
				break;
			s = dot + 1;
		}
	}
	return jd_fields_add(f, segs, lens, n);
}

static void dec_init(struct dec *x, const char *const *paths, size_t n)
{
	size_t i;

	memset(x, 0, sizeof *x);
	x->f = jd_fields_new();
	ck_assert_ptr_nonnull(x->f);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(add_path(x->f, paths[i]), (int)i);
	ck_assert_uint_eq(jd_fields_count(x->f), n);
	ck_assert_int_eq(jd_fields_freeze(x->f), 0);
	x->d = jd_decoder_new(x->f);
	ck_assert_ptr_nonnull(x->d);
}

static void dec_fini(struct dec *x)
{
	jd_decoder_free(x->d);
	jd_fields_free(x->f);
}

static int run_n(struct dec *x, const char *line, size_t len)
{
	x->err.msg = NULL;
	return jd_decode(x->d, line, len, x->slots, &x->err);
}

static int run(struct dec *x, const char *line)
{
	return run_n(x, line, strlen(line));
}

#define OK(x, line) ck_assert_msg(run(x, line) == 0, "%s: %s at %zu", line, (x)->err.msg, \
				  (x)->err.off)
#define BAD(x, line, text) do {                                                     \
	ck_assert_msg(run(x, line) == -1, "accepted: %s", line);                    \
	ck_assert_str_eq((x)->err.msg, text);                                       \
} while (0)
#define BAD_AT(x, line, text, at) do {                                              \
	BAD(x, line, text);                                                         \
	ck_assert_uint_eq((x)->err.off, at);                                        \
} while (0)

static void expect_str_n(const struct tl_value *v, const char *s, size_t len)
{
	ck_assert_int_eq(v->type, TL_STR);
	ck_assert_uint_eq(v->len, len);
	ck_assert_msg(memcmp(v->str, s, len) == 0, "got '%.*s', want '%.*s'", (int)v->len,
		      v->str, (int)len, s);
}

static void expect_str(const struct tl_value *v, const char *s)
{
	expect_str_n(v, s, strlen(s));
}

static void expect_raw(const struct tl_value *v, int type, const char *s)
{
	ck_assert_int_eq(v->type, type);
	expect_str_n(&(struct tl_value){ .type = TL_STR, .len = v->len, .str = v->str }, s,
		     strlen(s));
}

static void expect_num(const struct tl_value *v, double n)
{
	ck_assert_int_eq(v->type, TL_NUM);
	ck_assert_msg(memcmp(&v->num, &n, sizeof n) == 0, "got %.17g, want %.17g", v->num, n);
}

/* ---- JSONTestSuite ---- */

static char *read_file(const char *dir, const char *name, size_t *len)
{
	char path[1024];
	FILE *fp;
	char *buf;
	long n;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fp = fopen(path, "rb");
	ck_assert_msg(fp != NULL, "cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 16);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* Top-level kind of a valid document: its first non-whitespace byte. */
static int first_byte(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i < len ? (unsigned char)s[i] : -1;
}

/* Files of the i_ group that this decoder accepts wrapped as a value: numbers that round to a
 * finite double (huge integers, underflow to 0). Everything else in i_ is invalid UTF-8, a lone
 * surrogate, an overflowing number, too deep, UTF-16 or a BOM: malformed per SPEC section 1. */
static const char *const i_accepted_wrapped[] = {
	"i_number_double_huge_neg_exp.json", "i_number_real_underflow.json",
	"i_number_too_big_neg_int.json", "i_number_too_big_pos_int.json",
	"i_number_very_big_negative_int.json",
};

static int i_accepts(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof i_accepted_wrapped / sizeof i_accepted_wrapped[0]; i++)
		if (strcmp(name, i_accepted_wrapped[i]) == 0)
			return 1;
	return 0;
}

START_TEST(test_json_test_suite)
{
	static const char *const paths[] = { "", "k", "k.a" };
	struct dec x;
	DIR *dir = opendir(SUITE_DIR);
	struct dirent *de;
	unsigned n_files = 0, n_fail = 0, n_y = 0, n_n = 0, n_i = 0;

	ck_assert_msg(dir != NULL, "cannot open %s", SUITE_DIR);
	dec_init(&x, paths, 3);
	while ((de = readdir(dir))) {
		const char *name = de->d_name;
		size_t len, wlen;
		char *text, *wrapped;
		int rc, wrc, kind = name[0];

		if ((kind != 'y' && kind != 'n' && kind != 'i') || name[1] != '_')
			continue;
		n_files++;
		text = read_file(SUITE_DIR, name, &len);
		rc = run_n(&x, text, len);
		if (kind == 'y' && first_byte(text, len) == '{') {
			n_y++;
			if (rc != 0 || x.slots[0].type != TL_OBJ) {
				fprintf(stderr, "%s: rejected: %s at %zu\n", name, x.err.msg,
					x.err.off);
				n_fail++;
			}
		} else if (kind == 'y') {
			n_y++;
			if (rc != -1 || strcmp(x.err.msg, "expected an object") != 0) {
				fprintf(stderr, "%s: not rejected as a non-object\n", name);
				n_fail++;
			}
		} else if (kind == 'n') {
			n_n++;
			if (rc != -1) {
				fprintf(stderr, "%s: accepted\n", name);
				n_fail++;
			}
		} else {
			n_i++;
			if (rc != -1) {
				fprintf(stderr, "%s: accepted\n", name);
				n_fail++;
			}
		}

		/* The same text as the value of a registered field, so that every string and
		 * number is materialised, not only validated. */
		wrapped = malloc(len + 16);
		ck_assert_ptr_nonnull(wrapped);
		memcpy(wrapped, "{\"k\":", 5);
		memcpy(wrapped + 5, text, len);
		wrapped[5 + len] = '}';
		wlen = len + 6;
		wrc = run_n(&x, wrapped, wlen);
		if (kind == 'y' && (wrc != 0 || x.slots[1].type == TL_MISSING)) {
			fprintf(stderr, "%s: wrapped: rejected: %s at %zu\n", name, x.err.msg,
				x.err.off);
			n_fail++;
		} else if (kind == 'n' && wrc != -1) {
			fprintf(stderr, "%s: wrapped: accepted\n", name);
			n_fail++;
		} else if (kind == 'i' && wrc != (i_accepts(name) ? 0 : -1)) {
			fprintf(stderr, "%s: wrapped: unexpected result %d\n", name, wrc);
			n_fail++;
		}
		free(wrapped);
		free(text);
	}
	closedir(dir);
	dec_fini(&x);
	ck_assert_uint_eq(n_y, 95);
	ck_assert_uint_eq(n_n, 188);
	ck_assert_uint_eq(n_i, 35);
	ck_assert_uint_eq(n_files, 318);
	ck_assert_uint_eq(n_fail, 0);
}
END_TEST

/* ---- field extraction ---- */

START_TEST(test_fields_nested)
{
	static const char *const paths[] = { "type", "geo.country", "geo", "amount", "ts",
					     "geo.city.name", "absent", "flag", "nul" };
	struct dec x;
	const char *line = "{\"ts\":1700000000,\"type\":\"txn\",\"amount\":12.5,"
			   "\"geo\":{\"country\":\"US\",\"city\":\"Boston\"},"
			   "\"flag\":true,\"nul\":null,\"other\":{\"type\":\"inner\"}}";

	dec_init(&x, paths, 9);
	OK(&x, line);
	expect_str(&x.slots[0], "txn");
	ck_assert_ptr_eq(x.slots[0].str, strstr(line, "txn\"")); /* no copy without escapes */
	expect_str(&x.slots[1], "US");
	expect_raw(&x.slots[2], TL_OBJ, "{\"country\":\"US\",\"city\":\"Boston\"}");
	expect_num(&x.slots[3], 12.5);
	expect_num(&x.slots[4], 1700000000.0);
	ck_assert_int_eq(x.slots[5].type, TL_MISSING); /* city is a string, not an object */
	ck_assert_int_eq(x.slots[6].type, TL_MISSING);
	ck_assert_int_eq(x.slots[7].type, TL_BOOL);
	ck_assert_int_eq(x.slots[7].b, 1);
	ck_assert_int_eq(x.slots[8].type, TL_NULL);

	/* Slots are reset on every call. */
	OK(&x, "{\"geo\":{\"city\":{\"name\":\"B\"}},\"flag\":false}");
	ck_assert_int_eq(x.slots[0].type, TL_MISSING);
	ck_assert_int_eq(x.slots[1].type, TL_MISSING);
	expect_raw(&x.slots[2], TL_OBJ, "{\"city\":{\"name\":\"B\"}}");
	expect_str(&x.slots[5], "B");
	ck_assert_int_eq(x.slots[7].type, TL_BOOL);
	ck_assert_int_eq(x.slots[7].b, 0);
	dec_fini(&x);
}
END_TEST

START_TEST(test_fields_table)
{
	struct jd_fields *f = jd_fields_new();
	const char *segs[] = { "a.b", "c" };
	size_t lens[] = { 3, 1 }, one = 1;
	const char *odd[] = { "x\0y" };
	size_t odd_len[] = { 3 };
	struct jd_decoder *d;
	struct tl_value slots[4];
	struct jd_error err;
	const char line[] = "{\"a.b\":{\"c\":1},\"x\\u0000y\":\"nul key\",\"a\":{\"b\":{\"c\":2}}}";

	ck_assert_ptr_null(jd_decoder_new(f)); /* not frozen */
	ck_assert_int_eq(jd_fields_add(f, segs, lens, 2), 0);
	ck_assert_int_eq(jd_fields_add(f, segs, lens, 1), 1); /* a prefix becomes a leaf */
	ck_assert_int_eq(jd_fields_add(f, segs, lens, 2), 0); /* same path, same slot */
	ck_assert_int_eq(jd_fields_add(f, odd, odd_len, 1), 2);
	ck_assert_uint_eq(jd_fields_count(f), 3);
	ck_assert_int_eq(jd_fields_freeze(f), 0);
	ck_assert_int_eq(jd_fields_freeze(f), 0);
	ck_assert_int_eq(jd_fields_add(f, segs, &one, 1), -1); /* frozen */
	d = jd_decoder_new(f);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(jd_decode(d, line, sizeof line - 1, slots, &err), 0);
	expect_num(&slots[0], 1); /* the segment "a.b" is one key, not a and b */
	expect_raw(&slots[1], TL_OBJ, "{\"c\":1}");
	expect_str(&slots[2], "nul key"); /* escaped key matched after unescaping */
	jd_decoder_free(d);
	jd_fields_free(f);
	jd_fields_free(NULL);
	jd_decoder_free(NULL);
}
END_TEST

START_TEST(test_fields_many)
{
	/* Enough keys at one level and below to exercise the hash tables with collisions. */
	struct jd_fields *f = jd_fields_new();
	struct jd_decoder *d;
	struct tl_value slots[600];
	struct jd_error err;
	char names[300][16], *line, *o;
	const char *segs[2];
	size_t lens[2];
	int i;

	for (i = 0; i < 300; i++) {
		snprintf(names[i], sizeof names[i], "k%d", i);
		segs[0] = names[i];
		lens[0] = strlen(names[i]);
		ck_assert_int_eq(jd_fields_add(f, segs, lens, 1), 2 * i);
		segs[1] = "v";
		lens[1] = 1;
		ck_assert_int_eq(jd_fields_add(f, segs, lens, 2), 2 * i + 1);
	}
	ck_assert_int_eq(jd_fields_freeze(f), 0);
	d = jd_decoder_new(f);
	line = malloc(300 * 64);
	o = line;
	*o++ = '{';
	for (i = 0; i < 300; i++) {
		if (i % 2)
			o += sprintf(o, "%s\"k%d\":%d,\"x%d\":0", i ? "," : "", i, i, i);
		else
			o += sprintf(o, "%s\"k%d\":{\"v\":%d}", i ? "," : "", i, i);
	}
	*o++ = '}';
	ck_assert_int_eq(jd_decode(d, line, (size_t)(o - line), slots, &err), 0);
	for (i = 0; i < 300; i++) {
		if (i % 2) {
			expect_num(&slots[2 * i], i);
			ck_assert_int_eq(slots[2 * i + 1].type, TL_MISSING);
		} else {
			ck_assert_int_eq(slots[2 * i].type, TL_OBJ);
			expect_num(&slots[2 * i + 1], i);
		}
	}
	free(line);
	jd_decoder_free(d);
	jd_fields_free(f);
}
END_TEST

START_TEST(test_whole_event_path)
{
	static const char *const paths[] = { "" };
	struct dec x;

	dec_init(&x, paths, 1);
	OK(&x, "  {\"a\" : [1]}\t");
	expect_raw(&x.slots[0], TL_OBJ, "{\"a\" : [1]}");
	dec_fini(&x);
}
END_TEST

START_TEST(test_no_fields)
{
	struct jd_fields *f = jd_fields_new();
	struct jd_decoder *d;
	struct jd_error err;

	ck_assert_int_eq(jd_fields_freeze(f), 0);
	d = jd_decoder_new(f);
	ck_assert_int_eq(jd_decode(d, "{\"a\":{\"b\":[\"\\n\"]}}", 18, NULL, &err), 0);
	ck_assert_int_eq(jd_decode(d, NULL, 0, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "expected an object");
	ck_assert_int_eq(jd_decode(d, "[", 1, NULL, NULL), -1); /* err may be NULL */
	jd_decoder_free(d);
	jd_fields_free(f);
}
END_TEST

/* ---- escapes ---- */

START_TEST(test_escapes)
{
	static const char *const paths[] = { "s", "t", "e\xc3\xa9" };
	struct dec x;
	const char nul_line[] = "{\"s\":\"a\\u0000b\"}";

	dec_init(&x, paths, 3);
	OK(&x, "{\"s\":\"caf\\u00e9\",\"t\":\"\\ud83d\\ude00!\"}");
	expect_str(&x.slots[0], "caf\xc3\xa9");
	expect_str(&x.slots[1], "\xf0\x9f\x98\x80!");
	OK(&x, "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"t\":\"\\u20AC\\u0041\\uFFFF\"}");
	expect_str(&x.slots[0], "\"\\/\b\f\n\r\t");
	expect_str(&x.slots[1], "\xe2\x82\xac" "A" "\xef\xbf\xbf");
	OK(&x, "{\"s\":\"\\uDBFF\\uDFFF\",\"t\":\"\\u07ff\\u0080\"}");
	expect_str(&x.slots[0], "\xf4\x8f\xbf\xbf");
	expect_str(&x.slots[1], "\xdf\xbf\xc2\x80");
	ck_assert_int_eq(run_n(&x, nul_line, sizeof nul_line - 1), 0);
	expect_str_n(&x.slots[0], "a\0b", 3);
	/* Keys are compared after unescaping; raw UTF-8 in keys and values is kept. */
	OK(&x, "{\"\\u0073\":\"\xc3\xa9t\xc3\xa9\",\"e\\u00e9\":1,\"\\t\":2}");
	expect_str(&x.slots[0], "\xc3\xa9t\xc3\xa9");
	expect_num(&x.slots[2], 1);

	BAD_AT(&x, "{\"s\":\"\\x\"}", "invalid escape in string", 6);
	BAD_AT(&x, "{\"s\":\"\\u12G4\"}", "invalid \\u escape", 6);
	BAD(&x, "{\"s\":\"\\u12\"}", "invalid \\u escape");
	BAD_AT(&x, "{\"s\":\"ab\\ud800\"}", "lone surrogate in \\u escape", 8);
	BAD(&x, "{\"s\":\"\\udc00\"}", "lone surrogate in \\u escape");
	BAD(&x, "{\"s\":\"\\ud800\\u0041\"}", "lone surrogate in \\u escape");
	BAD(&x, "{\"s\":\"\\ud800\\ud800\"}", "lone surrogate in \\u escape");
	BAD(&x, "{\"s\":\"\\ud800x\"}", "lone surrogate in \\u escape");
	BAD(&x, "{\"s\":\"\\ud800\\n\"}", "lone surrogate in \\u escape");
	BAD(&x, "{\"s\":\"\\ud800\\uZZZZ\"}", "invalid \\u escape");
	BAD(&x, "{\"x\":\"\\udfff\"}", "lone surrogate in \\u escape"); /* skipped, still checked */
	BAD(&x, "{\"\\udfff\":1}", "lone surrogate in \\u escape");
	BAD_AT(&x, "{\"s\":\"a\tb\"}", "control character in string", 7);
	BAD(&x, "{\"s\":\"a\nb\"}", "control character in string");
	BAD(&x, "{\"s\":\"\x1f\"}", "control character in string");
	BAD(&x, "{\"s\":\"abc", "unterminated string");
	BAD(&x, "{\"s\":\"abc\\", "unterminated string");
	BAD(&x, "{\"s\":\"abcdefghijklmnop", "unterminated string");
	OK(&x, "{\"s\":\"\x7f\"}"); /* DEL is not a control character in JSON */
	dec_fini(&x);
}
END_TEST

START_TEST(test_escaped_values_stable)
{
	/* Several unescaped values in one line: earlier ones must stay valid (no realloc of the
	 * scratch buffer in the middle of a line), and strings longer than the line so far. */
	static const char *const paths[] = { "a", "b", "c" };
	struct dec x;
	char *line = malloc(200000), *o = line;
	int i;

	dec_init(&x, paths, 3);
	o += sprintf(o, "{\"a\":\"\\n1\",\"b\":\"");
	for (i = 0; i < 10000; i++)
		o += sprintf(o, "\\u00e9x");
	o += sprintf(o, "\",\"c\":\"\\t3\"}");
	ck_assert_int_eq(run_n(&x, line, (size_t)(o - line)), 0);
	expect_str(&x.slots[0], "\n1");
	ck_assert_uint_eq(x.slots[1].len, 30000);
	ck_assert(memcmp(x.slots[1].str + 29997, "\xc3\xa9x", 3) == 0);
	expect_str(&x.slots[2], "\t3");
	free(line);
	dec_fini(&x);
}
END_TEST

/* jd_scratch_used tells whether every value points into the line: the engine decodes events it
 * holds from their own copy, and needs a second copy only when a value is in the scratch. */
START_TEST(test_scratch_used)
{
	static const char *const paths[] = { "a", "b", "o" };
	struct dec x;
	const char *line;
	size_t i;

	dec_init(&x, paths, 3);
	OK(&x, "{\"a\":\"plain\",\"b\":12345678901234567890.5,\"o\":{\"k\":\"\\n\"},\"z\":\"\\t\"}");
	ck_assert_uint_eq(jd_scratch_used(x.d), 0);
	line = "{\"a\":\"plain\",\"b\":2,\"o\":[1]}";
	OK(&x, line);
	ck_assert_uint_eq(jd_scratch_used(x.d), 0);
	for (i = 0; i < 3; i++)
		ck_assert(x.slots[i].type == TL_NUM ||
			  (x.slots[i].str >= line && x.slots[i].str < line + strlen(line)));
	OK(&x, "{\"a\":\"x\",\"b\":\"\\u0031\"}");
	ck_assert_uint_eq(jd_scratch_used(x.d), 1);
	expect_str(&x.slots[1], "1");
	OK(&x, "{\"a\":\"tab\\t\"}");
	ck_assert_uint_eq(jd_scratch_used(x.d), 4);
	OK(&x, "{\"a\":1}");
	ck_assert_uint_eq(jd_scratch_used(x.d), 0);
	dec_fini(&x);
}
END_TEST

/* ---- duplicate keys ---- */

START_TEST(test_duplicates)
{
	static const char *const paths[] = { "g", "g.c", "g.h.c", "a" };
	struct dec x;

	dec_init(&x, paths, 4);
	OK(&x, "{\"g\":{\"c\":1},\"g\":2}");
	expect_num(&x.slots[0], 2);
	ck_assert_int_eq(x.slots[1].type, TL_MISSING);
	OK(&x, "{\"g\":1,\"g\":{\"c\":3}}");
	expect_raw(&x.slots[0], TL_OBJ, "{\"c\":3}");
	expect_num(&x.slots[1], 3);
	OK(&x, "{\"a\":1,\"a\":\"two\"}");
	expect_str(&x.slots[3], "two");
	OK(&x, "{\"g\":{\"c\":1,\"c\":[2]}}");
	expect_raw(&x.slots[1], TL_ARR, "[2]");
	OK(&x, "{\"g\":{\"h\":{\"c\":1},\"c\":5},\"g\":{\"h\":7}}");
	expect_raw(&x.slots[0], TL_OBJ, "{\"h\":7}");
	ck_assert_int_eq(x.slots[1].type, TL_MISSING);
	ck_assert_int_eq(x.slots[2].type, TL_MISSING);
	OK(&x, "{\"g\":{\"h\":{\"c\":1},\"h\":{\"d\":1}}}");
	ck_assert_int_eq(x.slots[2].type, TL_MISSING);
	OK(&x, "{\"g\":{\"h\":{\"c\":1}},\"g\":{\"c\":4,\"h\":{\"c\":2}}}");
	expect_num(&x.slots[1], 4);
	expect_num(&x.slots[2], 2);
	/* A key spelled with an escape is the same key. */
	OK(&x, "{\"g\":{\"c\":1},\"\\u0067\":null}");
	ck_assert_int_eq(x.slots[0].type, TL_NULL);
	ck_assert_int_eq(x.slots[1].type, TL_MISSING);
	dec_fini(&x);
}
END_TEST

/* ---- fast paths of the decoder ---- */

/* Registered keys are matched against the raw text (name, quote, colon) while 16 bytes remain
 * and the name is 1 to 14 plain ASCII bytes; everything else takes the scanned, hashed path.
 * Both must give the same slots and the same errors. */
START_TEST(test_fast_keys)
{
	static const char *const paths[] = {
		"k", "ab", "abc", "abcdefg", "abcdefgh", "abcdefghijklm", "abcdefghijklmn",
		"abcdefghijklmno", "abcdefghijklmnop", "a b", "q\"", "\xc3\xa9", "", "g.c",
	};
	static const char pad[] = ",\"zzzzzzzzzzzzzzzzzzzzzz\":0";
	struct dec x;
	char line[256];
	size_t i;
	int padded;

	dec_init(&x, paths, 14);
	/* Every name, as the last member (few bytes left: general path) and followed by a long
	 * member (raw path where eligible); also as an unregistered key one byte longer. */
	for (padded = 0; padded < 2; padded++) {
		for (i = 0; i < 9; i++) {
			snprintf(line, sizeof line, "{\"%s\":%zu%s}", paths[i], i + 1,
				 padded ? pad : "");
			OK(&x, line);
			expect_num(&x.slots[i], (double)(i + 1));
			snprintf(line, sizeof line, "{\"%sx\":1,\"%s\":\"v%zu\"%s}", paths[i],
				 paths[i], i, padded ? pad : "");
			OK(&x, line);
			snprintf(line, sizeof line, "v%zu", i);
			expect_str(&x.slots[i], line);
			snprintf(line, sizeof line, "{\"%sx\":1%s}", paths[i], padded ? pad : "");
			OK(&x, line);
			ck_assert_int_eq(x.slots[i].type, TL_MISSING);
		}
	}
	/* A registered name is no prefix match: "ab" is not "abc", "abcdefg" not "abcdefgh". */
	OK(&x, "{\"abcdefgh\":1,\"abc\":2,\"abcd\":3,\"abcdefghi\":4,\"zzzzzzzzzzzzzzzzzz\":0}");
	expect_num(&x.slots[2], 2);
	expect_num(&x.slots[4], 1);
	ck_assert_int_eq(x.slots[1].type, TL_MISSING);
	ck_assert_int_eq(x.slots[3].type, TL_MISSING);
	/* Whitespace before the colon, escapes, names that are not plain ASCII. */
	OK(&x, "{\"ab\" :1,\"\\u0061bc\":2,\"a b\":3,\"q\\\"\":4,\"\xc3\xa9\":5,\"\":6,"
	       "\"zzzzzzzzzzzzzzzzzzzz\":0}");
	expect_num(&x.slots[1], 1);
	expect_num(&x.slots[2], 2);
	expect_num(&x.slots[9], 3);
	expect_num(&x.slots[10], 4);
	expect_num(&x.slots[11], 5);
	ck_assert_int_eq(x.slots[12].type, TL_OBJ); /* "" registers the whole event */
	/* Nested: the prefix is cleared by a later duplicate, also on the raw path. */
	OK(&x, "{\"g\":{\"c\":1,\"zzzzzzzzzzzzzzzzzz\":0},\"g\":2,\"zzzzzzzzzzzzzzzzzzz\":0}");
	ck_assert_int_eq(x.slots[13].type, TL_MISSING);
	OK(&x, "{\"g\":2,\"g\":{\"c\":\"x\",\"zzzzzzzzzzzzzzzzzz\":0},\"zzzzzzzzzzzzzz\":0}");
	expect_str(&x.slots[13], "x");
	/* Errors right after a registered name, with and without room for the raw match. */
	BAD_AT(&x, "{\"ab\":}", "expected a value", 6);
	BAD_AT(&x, "{\"ab\":,\"zzzzzzzzzzzzzzzzzzzz\":0}", "expected a value", 6);
	BAD_AT(&x, "{\"ab\" 1,\"zzzzzzzzzzzzzzzzzzzz\":0}", "expected ':'", 6);
	BAD_AT(&x, "{\"ab\":1", "unexpected end of line", 7);
	BAD_AT(&x, "{\"ab\":", "unexpected end of line", 6);
	BAD_AT(&x, "{\"ab\"", "unexpected end of line", 5);
	BAD_AT(&x, "{\"ab", "unterminated string", 4);
	BAD_AT(&x, "{\"ab\x01\":1,\"zzzzzzzzzzzzzzzzzzzz\":0}", "control character in string", 4);
	BAD_AT(&x, "{\"ab\xff\":1,\"zzzzzzzzzzzzzzzzzzzz\":0}", "invalid UTF-8 in string", 4);
	BAD_AT(&x, "{\"ab\\x\":1,\"zzzzzzzzzzzzzzzzzzzz\":0}", "invalid escape in string", 4);
	BAD_AT(&x, "{\"ab\":1 \"k\":2,\"zzzzzzzzzzzzzzzzzzzz\":0}", "expected '}' or ','", 8);
	BAD_AT(&x, "{\"ab\":1,}", "expected a key", 8);
	dec_fini(&x);
}
END_TEST

/* When every name registered in an object is in its raw-text table, a key the table did not
 * match is known to be unregistered without a hash lookup if it is plain and its colon follows
 * at once, or if it is longer than any raw name; whitespace before the colon or an escape still
 * takes the lookup. Found, skipped and malformed keys must all come out as on the general path. */
START_TEST(test_fast_unregistered_keys)
{
	static const char *const paths[] = { "type", "card", "abcdefghijklmn", "g.c", "g.dd" };
	static const char pad[] = ",\"zzzzzzzzzzzzzzzzzzzzzz\":0";
	struct dec x;
	char line[256];
	int padded;

	dec_init(&x, paths, 5);
	for (padded = 0; padded < 2; padded++) {
		const char *tail = padded ? pad : "";

		/* Unregistered keys of every kind around registered ones. */
		snprintf(line, sizeof line,
			 "{\"typ\":1,\"types\":2,\"abcdefghijklmno\" : 3,\"abcdefghijklmnopqrstu\":4,"
			 "\"\xc3\xa9\":5,\"\":6,\"ty\\u0070e\":\"t\",\"card\" :\"c1\","
			 "\"abcdefghijklmn\":7,\"g\":{\"cc\":8,\"c\":9,\"d\\u0064\" :10,\"e\":[1,{\"c\":2}]}%s}",
			 tail);
		OK(&x, line);
		expect_str(&x.slots[0], "t");
		expect_str(&x.slots[1], "c1");
		expect_num(&x.slots[2], 7);
		expect_num(&x.slots[3], 9);
		expect_num(&x.slots[4], 10);
		/* Nothing registered: every slot stays missing. */
		snprintf(line, sizeof line, "{\"a\":\"x\",\"cardx\":{\"type\":1},\"typ\":null%s}", tail);
		OK(&x, line);
		ck_assert_int_eq(x.slots[0].type, TL_MISSING);
		ck_assert_int_eq(x.slots[1].type, TL_MISSING);
		ck_assert_int_eq(x.slots[3].type, TL_MISSING);
	}
	/* Malformed after an unregistered key: the colon, the value, the key itself. */
	BAD_AT(&x, "{\"typ\" 1,\"zzzzzzzzzzzzzzzzzzzz\":0}", "expected ':'", 7);
	BAD_AT(&x, "{\"abcdefghijklmnopq\" 1,\"zzzzzzzzzzzzzzzzzzzz\":0}", "expected ':'", 21);
	BAD_AT(&x, "{\"typ\":tru,\"zzzzzzzzzzzzzzzzzzzz\":0}", "invalid literal", 7);
	BAD_AT(&x, "{\"typ\x01\":1,\"zzzzzzzzzzzzzzzzzzzz\":0}", "control character in string", 5);
	BAD_AT(&x, "{\"typ\":1,\"zzzzzzzzzzzzzzzzzzzz\":}", "expected a value", 32);
	dec_fini(&x);
}
END_TEST

/* The decoder guesses each key of a tracked object from the key seen at the same place before
 * (first in its object, after a given key, after an unregistered one). A guess only saves the
 * lookup: keys in another order, unregistered keys between them, and one name in two objects
 * (g.ts registered, h.ts not) must come out as if nothing had been seen before. */
START_TEST(test_guessed_keys)
{
	static const char *const paths[] = { "ts", "type", "card", "amount", "g.ts", "g.type",
					     "h.type" };
	static const char pad[] = ",\"zzzzzzzzzzzzzzzzzz\":0}";
	struct dec x;
	char line[256];
	int round;

	dec_init(&x, paths, 7);
	for (round = 0; round < 3; round++) {
		/* the same order line after line: every key guessed from the second on */
		snprintf(line, sizeof line, "{\"ts\":%d,\"type\":\"t\",\"card\":\"c%d\","
			 "\"amount\":2.5%s", round, round, pad);
		OK(&x, line);
		expect_num(&x.slots[0], round);
		expect_str(&x.slots[1], "t");
		snprintf(line, sizeof line, "c%d", round);
		expect_str(&x.slots[2], line);
		expect_num(&x.slots[3], 2.5);
	}
	/* another order: each place now holds a key other than the one guessed */
	OK(&x, "{\"card\":\"c9\",\"amount\":7,\"type\":\"u\",\"ts\":8,\"zzzzzzzzzzzzzzzzzz\":0}");
	expect_str(&x.slots[2], "c9");
	expect_num(&x.slots[3], 7);
	expect_str(&x.slots[1], "u");
	expect_num(&x.slots[0], 8);
	/* unregistered keys between and in place of registered ones */
	OK(&x, "{\"ts\":1,\"tsx\":2,\"type\":\"v\",\"cardy\":3,\"amount\":4,\"typ\":5,"
	       "\"zzzzzzzzzzzzzzzzzz\":0}");
	expect_num(&x.slots[0], 1);
	expect_str(&x.slots[1], "v");
	ck_assert_int_eq(x.slots[2].type, TL_MISSING);
	expect_num(&x.slots[3], 4);
	OK(&x, "{\"ts\":3,\"card\":\"c1\",\"amount\":6,\"zzzzzzzzzzzzzzzzzz\":0}");
	expect_num(&x.slots[0], 3);
	ck_assert_int_eq(x.slots[1].type, TL_MISSING);
	expect_str(&x.slots[2], "c1");
	expect_num(&x.slots[3], 6);
	/* g.ts guessed first in g; in h, where only type is registered, ts is nobody's */
	snprintf(line, sizeof line,
		 "{\"g\":{\"ts\":5,\"type\":\"x\",\"zzzzzzzzzzzzzzzzz\":0},\"ts\":6%s", pad);
	OK(&x, line);
	expect_num(&x.slots[4], 5);
	expect_str(&x.slots[5], "x");
	expect_num(&x.slots[0], 6);
	snprintf(line, sizeof line,
		 "{\"h\":{\"ts\":9,\"type\":\"y\",\"zzzzzzzzzzzzzzzzz\":0},\"ts\":7%s", pad);
	OK(&x, line);
	ck_assert_int_eq(x.slots[4].type, TL_MISSING);
	ck_assert_int_eq(x.slots[5].type, TL_MISSING);
	expect_str(&x.slots[6], "y");
	expect_num(&x.slots[0], 7);
	/* the same after an unregistered key: in g, ts is g.ts; in h, nobody's */
	snprintf(line, sizeof line, "{\"ts\":1,\"g\":{\"zz\":0,\"ts\":5,\"zzzzzzzzzzzzzzzzz\":0}%s",
		 pad);
	OK(&x, line);
	expect_num(&x.slots[4], 5);
	snprintf(line, sizeof line,
		 "{\"ts\":1,\"h\":{\"zz\":0,\"ts\":9,\"type\":\"y\",\"zzzzzzzzzzzzzzzzz\":0}%s", pad);
	OK(&x, line);
	ck_assert_int_eq(x.slots[4].type, TL_MISSING);
	expect_str(&x.slots[6], "y");
	/* the key after g's object at the top, and g's first key, each where the other was */
	snprintf(line, sizeof line,
		 "{\"ts\":2,\"g\":{\"type\":\"w\",\"ts\":4,\"zzzzzzzzzzzzzzzzz\":0}%s", pad);
	OK(&x, line);
	expect_num(&x.slots[0], 2);
	expect_num(&x.slots[4], 4);
	expect_str(&x.slots[5], "w");
	/* a guess is no licence for a malformed key or value */
	BAD_AT(&x, "{\"ts\" 1,\"zzzzzzzzzzzzzzzzzzzz\":0}", "expected ':'", 6);
	BAD_AT(&x, "{\"ts\":1,\"type\":,\"zzzzzzzzzzzzzzzzzzzz\":0}", "expected a value", 15);
	dec_fini(&x);
}
END_TEST

/* Whether slots a and b hold the same values (strings and raw texts byte for byte). */
static void expect_same_slots(const struct tl_value *a, const struct tl_value *b, size_t n,
			      const char *line)
{
	size_t i;

	for (i = 0; i < n; i++) {
		ck_assert_msg(a[i].type == b[i].type, "slot %zu: %s", i, line);
		switch (a[i].type) {
		case TL_NUM:
			ck_assert_msg(memcmp(&a[i].num, &b[i].num, sizeof a[i].num) == 0,
				      "slot %zu: %s", i, line);
			break;
		case TL_BOOL:
			ck_assert_msg(a[i].b == b[i].b, "slot %zu: %s", i, line);
			break;
		case TL_STR:
		case TL_ARR:
		case TL_OBJ:
			ck_assert_msg(a[i].len == b[i].len && memcmp(a[i].str, b[i].str, a[i].len) == 0,
				      "slot %zu: %s", i, line);
			break;
		default:
			break;
		}
	}
}

/* Guesses, of registered keys and of keys of no entry, only save work: a decoder that has seen
 * the lines before decodes each line as a new one does (the same values, the same error at the
 * same byte), whatever the keys: mostly in one order, as a stream's are, sometimes shuffled,
 * near misses of registered names, escapes, whitespace before the colon, the same names in
 * objects where they are registered and where they are not. */
START_TEST(test_guesses_change_nothing)
{
	static const char *const paths[] = { "ts", "type", "card", "amount", "g.ts", "g.type",
					     "h.type" };
	static const char *const keys[] = { "ts", "type", "card", "amount", "currency",
					    "merchant", "typ", "types", "tsx", "ty\\u0070e",
					    "card ", "abcdefghijklmn", "abcdefghijklmnop", "", "g",
					    "h" };
	static const char *const vals[] = { "1", "\"x\"", "2.5", "null", "[1,2]", "true",
					    "{\"ts\":3,\"type\":\"y\",\"zz\":1,\"cc\":2}",
					    "\"a\\\"b\"", "tru" };
	static const char *const colons[] = { ":", ":", ":", ":", " :", ": " };
	enum { N_KEYS = sizeof keys / sizeof keys[0] };
	struct dec x;
	unsigned seed = 5;
	int order[N_KEYS], i, j, n_bad = 0;

	dec_init(&x, paths, 7);
	for (i = 0; i < N_KEYS; i++)
		order[i] = i;
	for (i = 0; i < 6000; i++) {
		struct tl_value fresh[MAX_PATHS];
		struct jd_error ferr = { 0 };
		struct jd_decoder *d = jd_decoder_new(x.f);
		char line[1024];
		int perm[N_KEYS], n = 3 + rand_r(&seed) % 8, len = 0, rc, frc;

		ck_assert_ptr_nonnull(d);
		memcpy(perm, order, sizeof perm);
		if (rand_r(&seed) % 4 == 0) /* a line in another order */
			for (j = N_KEYS - 1; j > 0; j--) {
				int k = rand_r(&seed) % (j + 1), t = perm[j];

				perm[j] = perm[k];
				perm[k] = t;
			}
		len += snprintf(line + len, sizeof line - (size_t)len, "{");
		for (j = 0; j < n; j++) {
			int key = perm[(j + (i % 3)) % N_KEYS];
			int val = keys[key][0] == 'g' || keys[key][0] == 'h' ? 6 :
				  rand_r(&seed) % 8 ? (key + j) % 6 : rand_r(&seed) % 9;
			const char *colon = rand_r(&seed) % 8 ? ":" : colons[rand_r(&seed) % 6];

			len += snprintf(line + len, sizeof line - (size_t)len, "%s\"%s\"%s%s",
					j ? "," : "", keys[key], colon, vals[val]);
		}
		len += snprintf(line + len, sizeof line - (size_t)len,
				",\"zzzzzzzzzzzzzzzzzzzz\":0}");
		rc = run_n(&x, line, (size_t)len);
		frc = jd_decode(d, line, (size_t)len, fresh, &ferr);
		ck_assert_msg(rc == frc, "%s", line);
		if (rc) {
			ck_assert_msg(x.err.off == ferr.off && strcmp(x.err.msg, ferr.msg) == 0,
				      "%s: %s at %zu, new %s at %zu", line, x.err.msg, x.err.off,
				      ferr.msg, ferr.off);
			n_bad++;
		} else {
			expect_same_slots(x.slots, fresh, jd_fields_count(x.f), line);
		}
		jd_decoder_free(d);
	}
	/* both kinds of line came */
	ck_assert_int_gt(n_bad, 100);
	ck_assert_int_lt(n_bad, 5900);
	dec_fini(&x);
}
END_TEST

/* One decoded string with a special token at each position around the 8/16/32-byte steps of
 * the scan: plain before it, plain after it, the line ending 2 bytes or far after the value. */
START_TEST(test_string_boundaries)
{
	static const struct {
		const char *text;  /* as written in the line */
		const char *value; /* decoded; NULL: an error at the token */
		const char *err;
	} toks[] = {
		{ "\\\"", "\"", NULL },
		{ "\\\\", "\\", NULL },
		{ "\\n", "\n", NULL },
		{ "\\u00e9", "\xc3\xa9", NULL },
		{ "\\ud83d\\ude00", "\xf0\x9f\x98\x80", NULL },
		{ "\xc3\xa9", "\xc3\xa9", NULL },
		{ "\xe2\x82\xac", "\xe2\x82\xac", NULL },
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", NULL },
		{ "\x7f", "\x7f", NULL },
		{ " ", " ", NULL },
		{ "\x01", NULL, "control character in string" },
		{ "\x1f", NULL, "control character in string" },
		{ "\t", NULL, "control character in string" },
		{ "\xff", NULL, "invalid UTF-8 in string" },
		{ "\x80", NULL, "invalid UTF-8 in string" },
		{ "\xc3", NULL, "invalid UTF-8 in string" },
		{ "\\x", NULL, "invalid escape in string" },
		{ "\\ud800", NULL, "lone surrogate in \\u escape" },
	};
	static const char *const paths[] = { "s" };
	static const char *const tails[] = { "\"}", "\",\"t\":\"0123456789abcdefghijklmnopq\"}" };
	struct dec x;
	char line[256], want[128];
	size_t n, i, k, t, len, wlen;

	dec_init(&x, paths, 1);
	for (n = 1; n <= 40; n++) {
		for (i = 0; i < n; i++) {
			for (k = 0; k < sizeof toks / sizeof toks[0]; k++) {
				for (t = 0; t < 2; t++) {
					/* body: i plain bytes, the token, plain up to n bytes */
					len = (size_t)sprintf(line, "{\"s\":\"");
					memset(line + len, 'a', i);
					len += i;
					len += (size_t)sprintf(line + len, "%s", toks[k].text);
					memset(line + len, 'b', n - i - 1);
					len += n - i - 1;
					len += (size_t)sprintf(line + len, "%s", tails[t]);
					if (!toks[k].value) {
						ck_assert_msg(run_n(&x, line, len) == -1,
							      "n %zu i %zu tok %zu", n, i, k);
						ck_assert_str_eq(x.err.msg, toks[k].err);
						ck_assert_uint_eq(x.err.off, 6 + i);
						continue;
					}
					ck_assert_msg(run_n(&x, line, len) == 0,
						      "n %zu i %zu tok %zu: %s at %zu", n, i, k,
						      x.err.msg, x.err.off);
					memset(want, 'a', i);
					wlen = i + (size_t)sprintf(want + i, "%s", toks[k].value);
					memset(want + wlen, 'b', n - i - 1);
					wlen += n - i - 1;
					expect_str_n(&x.slots[0], want, wlen);
				}
			}
		}
		/* Plain strings of every length, unterminated at the end of the line. */
		len = (size_t)sprintf(line, "{\"s\":\"");
		memset(line + len, 'c', n);
		ck_assert_int_eq(run_n(&x, line, len + n), -1);
		ck_assert_str_eq(x.err.msg, "unterminated string");
		ck_assert_uint_eq(x.err.off, len + n);
		line[len + n] = '"';
		ck_assert_int_eq(run_n(&x, line, len + n + 1), -1);
		ck_assert_str_eq(x.err.msg, "unexpected end of line");
		ck_assert_uint_eq(x.err.off, len + n + 1);
		line[len + n + 1] = '}';
		ck_assert_int_eq(run_n(&x, line, len + n + 2), 0);
		memset(want, 'c', n);
		expect_str_n(&x.slots[0], want, n);
	}
	dec_fini(&x);
}
END_TEST

/* The short-number path (at most 15 digits, no exponent) and its limits, as the last value
 * of the line and followed by more text. */
START_TEST(test_number_fast_path)
{
	static const char *const ok[] = {
		"0", "-0", "0.0", "-0.0", "7", "-7", "0.5", "33.40", "1767225600.652",
		"123456789012345", "-123456789012345", "12345678901234.5", "0.12345678901234",
		"0.000000000000001", "1234567890123456", "12345678901234567890",
		"1.234567890123456", "0.1234567890123456789", "9007199254740993",
		"1e5", "1E-3", "2.5e+2", "0.00000000000000000000001", "100000000000000000000000",
	};
	static const struct {
		const char *text;
		const char *err;
		size_t at; /* from the start of the number */
	} bad[] = {
		{ "01", "invalid number", 1 },  { "-01", "invalid number", 2 },
		{ "00.5", "invalid number", 1 }, { "1.", "invalid number", 2 },
		{ "-", "invalid number", 1 },   { "-a", "invalid number", 1 },
		{ "1.e5", "invalid number", 2 }, { "1e", "invalid number", 2 },
		{ ".5", "expected a value", 0 },
	};
	static const char *const paths[] = { "n" };
	struct dec x;
	char line[128];
	size_t i, len;
	double want;
	int t;

	dec_init(&x, paths, 1);
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		want = strtod(ok[i], NULL);
		for (t = 0; t < 3; t++) {
			snprintf(line, sizeof line, t == 0 ? "{\"n\":%s}" :
				 t == 1 ? "{\"n\":%s,\"pad\":\"0123456789abcdefghij\"}" :
				 "{\"n\":%s }", ok[i]);
			OK(&x, line);
			expect_num(&x.slots[0], want);
			snprintf(line, sizeof line, "{\"m\":%s}", ok[i]);
			OK(&x, line);
		}
		/* The line ending right after the number. */
		len = (size_t)sprintf(line, "{\"n\":%s", ok[i]);
		ck_assert_int_eq(run_n(&x, line, len), -1);
		ck_assert_str_eq(x.err.msg, "unexpected end of line");
		ck_assert_uint_eq(x.err.off, len);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		for (t = 0; t < 2; t++) {
			snprintf(line, sizeof line, t ? "{\"n\":%s,\"pad\":\"0123456789abcdefghij\"}" :
				 "{\"m\":%s}", bad[i].text);
			BAD_AT(&x, line, bad[i].err, 5 + bad[i].at);
		}
	}
	/* Out of range, also past the 15-digit limit. */
	BAD_AT(&x, "{\"n\":1234567890123456e300}", "number out of range", 5);
	BAD_AT(&x, "{\"n\":-1e309,\"pad\":\"0123456789abcdefghij\"}", "number out of range", 5);
	dec_fini(&x);
}
END_TEST

/* ---- arrays and objects ---- */

START_TEST(test_raw_spans)
{
	static const char *const paths[] = { "a", "a.b", "o", "e", "ea" };
	struct dec x;

	dec_init(&x, paths, 5);
	OK(&x, "{ \"a\" : [1, {\"b\":2}, \"]\"] , \"o\":{ \"x\" : { } } ,\"e\":{},\"ea\":[ ] }");
	expect_raw(&x.slots[0], TL_ARR, "[1, {\"b\":2}, \"]\"]");
	ck_assert_int_eq(x.slots[1].type, TL_MISSING); /* paths do not index arrays */
	expect_raw(&x.slots[2], TL_OBJ, "{ \"x\" : { } }");
	expect_raw(&x.slots[3], TL_OBJ, "{}");
	expect_raw(&x.slots[4], TL_ARR, "[ ]");
	BAD(&x, "{\"a\":[1,]}", "expected a value");
	BAD(&x, "{\"a\":[1 2]}", "expected ']' or ','");
	BAD(&x, "{\"a\":{\"b\":1,}}", "expected a key");
	BAD(&x, "{\"a\":{\"b\" 1}}", "expected ':'");
	BAD(&x, "{\"a\":{1:1}}", "expected a key or '}'");
	BAD(&x, "{\"a\":1 \"b\":2}", "expected '}' or ','");
	BAD(&x, "{\"a\":[1}", "expected ']' or ','");
	BAD(&x, "{\"a\":{]}", "expected a key or '}'");
	dec_fini(&x);
}
END_TEST

/* ---- numbers ---- */

START_TEST(test_numbers)
{
	static const char *const paths[] = { "n" };
	struct dec x;
	char line[512];
	int i;

	dec_init(&x, paths, 1);
	OK(&x, "{\"n\":-0}");
	expect_num(&x.slots[0], -0.0);
	ck_assert(signbit(x.slots[0].num));
	OK(&x, "{\"n\":-0.0e7}");
	expect_num(&x.slots[0], -0.0);
	OK(&x, "{\"n\":0}");
	expect_num(&x.slots[0], 0.0);
	OK(&x, "{\"n\":1e-400}");
	expect_num(&x.slots[0], 0.0);
	OK(&x, "{\"n\":-1e-400}");
	expect_num(&x.slots[0], -0.0);
	OK(&x, "{\"n\":4.9e-324}");
	expect_num(&x.slots[0], 4.9e-324);
	OK(&x, "{\"n\":0e999999999999999}");
	expect_num(&x.slots[0], 0.0);
	OK(&x, "{\"n\":0.000e-99999999999999}");
	expect_num(&x.slots[0], 0.0);
	OK(&x, "{\"n\":9007199254740993}");
	expect_num(&x.slots[0], 9007199254740992.0);
	OK(&x, "{\"n\":9007199254740991}");
	expect_num(&x.slots[0], 9007199254740991.0);
	OK(&x, "{\"n\":123456789012345678901234567890}");
	expect_num(&x.slots[0], 123456789012345678901234567890.0);
	OK(&x, "{\"n\":12.5}");
	expect_num(&x.slots[0], 12.5);
	OK(&x, "{\"n\":0.1}");
	expect_num(&x.slots[0], 0.1);
	OK(&x, "{\"n\":-1.5E+3}");
	expect_num(&x.slots[0], -1500.0);
	OK(&x, "{\"n\":2.5e-3}");
	expect_num(&x.slots[0], 0.0025);
	OK(&x, "{\"n\":1.7976931348623157e308}");
	expect_num(&x.slots[0], DBL_MAX);
	OK(&x, "{\"n\":10e307}");
	expect_num(&x.slots[0], 1e308);
	OK(&x, "{\"n\":0.001e311}");
	expect_num(&x.slots[0], 1e308);
	OK(&x, "{\"x\":1.7976931348623157e308}");
	OK(&x, "{\"x\":-17976931348623157e292}");

	BAD_AT(&x, "{\"n\":1e400}", "number out of range", 5);
	BAD_AT(&x, "{\"x\":1e400}", "number out of range", 5); /* skipped, still checked */
	BAD(&x, "{\"x\":[-1e400]}", "number out of range");
	BAD(&x, "{\"n\":1.7976931348623159e308}", "number out of range");
	BAD(&x, "{\"x\":1.7976931348623159e308}", "number out of range");
	BAD(&x, "{\"x\":1e309}", "number out of range");
	BAD(&x, "{\"x\":0.1e310}", "number out of range");
	BAD(&x, "{\"x\":1e99999999999999999999}", "number out of range");

	BAD_AT(&x, "{\"n\":01}", "invalid number", 6);
	BAD(&x, "{\"n\":-01}", "invalid number");
	BAD(&x, "{\"n\":1.}", "invalid number");
	BAD(&x, "{\"n\":1.e5}", "invalid number");
	BAD(&x, "{\"n\":1e}", "invalid number");
	BAD(&x, "{\"n\":1e+}", "invalid number");
	BAD(&x, "{\"n\":-}", "invalid number");
	BAD(&x, "{\"n\":-a}", "invalid number");
	BAD(&x, "{\"n\":.5}", "expected a value");
	BAD(&x, "{\"n\":+1}", "expected a value");
	BAD(&x, "{\"n\":0x10}", "expected '}' or ','");
	BAD(&x, "{\"n\":NaN}", "expected a value");
	BAD(&x, "{\"n\":nan}", "invalid literal");
	BAD(&x, "{\"n\":Infinity}", "expected a value");
	BAD(&x, "{\"n\":1", "unexpected end of line");
	BAD(&x, "{\"n\":1e", "unexpected end of line");

	/* Long numbers go through a copy in scratch, not the 64-byte stack buffer. */
	strcpy(line, "{\"n\":0.");
	for (i = 0; i < 300; i++)
		strcat(line, "0");
	strcat(line, "1e301}");
	OK(&x, line);
	expect_num(&x.slots[0], 1.0);
	line[5] = '1';
	line[6] = '0';
	line[7] = '.';
	strcpy(line + strlen(line) - 6, "1e308}");
	BAD(&x, line, "number out of range");
	dec_fini(&x);
}
END_TEST

START_TEST(test_literals)
{
	static const char *const paths[] = { "v" };
	struct dec x;

	dec_init(&x, paths, 1);
	BAD_AT(&x, "{\"v\":tru}", "invalid literal", 5);
	BAD(&x, "{\"v\":True}", "expected a value");
	BAD(&x, "{\"v\":nul", "invalid literal");
	BAD(&x, "{\"v\":fals", "invalid literal");
	BAD(&x, "{\"v\":nulll}", "expected '}' or ','");
	OK(&x, "{\"v\":false}");
	ck_assert_int_eq(x.slots[0].type, TL_BOOL);
	dec_fini(&x);
}
END_TEST

/* ---- structure and limits ---- */

START_TEST(test_top_level)
{
	static const char *const paths[] = { "a" };
	struct dec x;
	const char nul_after[] = "{\"a\":1}\0";
	const char nul_in[] = "{\"a\":\"x\0y\"}";
	const char nul_key[] = "{\0\"a\":1}";

	dec_init(&x, paths, 1);
	OK(&x, " \t\r\n{}\r\n\t ");
	ck_assert_int_eq(x.slots[0].type, TL_MISSING);
	OK(&x, "{\"a\":1}");
	BAD_AT(&x, "", "expected an object", 0);
	BAD_AT(&x, "   ", "expected an object", 3);
	BAD(&x, "[]", "expected an object");
	BAD(&x, "\"a\"", "expected an object");
	BAD(&x, "1", "expected an object");
	BAD(&x, "null", "expected an object");
	BAD(&x, "\xef\xbb\xbf{}", "expected an object");
	BAD(&x, "\f{}", "expected an object");
	BAD_AT(&x, "{\"a\":1} x", "trailing characters after the object", 8);
	BAD(&x, "{\"a\":1}{}", "trailing characters after the object");
	BAD(&x, "{\"a\":1}}", "trailing characters after the object");
	BAD_AT(&x, "{", "unexpected end of line", 1);
	BAD(&x, "{\"a\"", "unexpected end of line");
	BAD(&x, "{\"a\":", "unexpected end of line");
	BAD(&x, "{\"a\":1,", "unexpected end of line");
	BAD(&x, "{\"a\":[", "unexpected end of line");
	BAD(&x, "{\"a\":[1,", "unexpected end of line");
	BAD(&x, "{\"a\":{}", "unexpected end of line");

	ck_assert_int_eq(run_n(&x, nul_after, sizeof nul_after - 1), -1);
	ck_assert_str_eq(x.err.msg, "NUL byte");
	ck_assert_uint_eq(x.err.off, 7);
	ck_assert_int_eq(run_n(&x, nul_in, sizeof nul_in - 1), -1);
	ck_assert_str_eq(x.err.msg, "NUL byte");
	ck_assert_uint_eq(x.err.off, 7);
	ck_assert_int_eq(run_n(&x, nul_key, sizeof nul_key - 1), -1);
	ck_assert_str_eq(x.err.msg, "NUL byte");
	ck_assert_uint_eq(x.err.off, 1);
	/* The length, not a terminator, ends the line. */
	ck_assert_int_eq(run_n(&x, "{\"a\":12}garbage", 8), 0);
	expect_num(&x.slots[0], 12);
	ck_assert_int_eq(run_n(&x, "{\"a\":\"xy\"}", 8), -1);
	ck_assert_str_eq(x.err.msg, "unterminated string");
	dec_fini(&x);
}
END_TEST

/* A line nested n levels deep: {"a":{"a":...[...]...}}, alternating objects and arrays
 * after the first few levels. */
static size_t nested(char *buf, int n)
{
	char *o = buf;
	int i;

	for (i = 0; i < n; i++) {
		if (i < 3 || i % 2)
			o += sprintf(o, "{\"a\":");
		else
			*o++ = '[';
	}
	o += sprintf(o, "1");
	for (i = n - 1; i >= 0; i--)
		*o++ = (i < 3 || i % 2) ? '}' : ']';
	return (size_t)(o - buf);
}

START_TEST(test_depth)
{
	static const char *const paths[] = { "a.a.a.a" };
	struct dec x;
	char buf[2048];
	size_t len;
	int i;

	dec_init(&x, paths, 1);
	len = nested(buf, 64);
	ck_assert_int_eq(run_n(&x, buf, len), 0);
	ck_assert_int_eq(x.slots[0].type, TL_ARR);
	len = nested(buf, 65);
	ck_assert_int_eq(run_n(&x, buf, len), -1);
	ck_assert_str_eq(x.err.msg, "nesting deeper than 64");
	/* Objects only: 64 levels are fine, 65 are not. */
	for (len = 0, i = 0; i < 64; i++)
		len += (size_t)sprintf(buf + len, "{\"a\":");
	len += (size_t)sprintf(buf + len, "0");
	for (i = 0; i < 64; i++)
		buf[len++] = '}';
	ck_assert_int_eq(run_n(&x, buf, len), 0);
	ck_assert_int_eq(x.slots[0].type, TL_OBJ);
	memmove(buf + 5, buf, len);
	memcpy(buf, "{\"a\":", 5);
	buf[len + 5] = '}';
	ck_assert_int_eq(run_n(&x, buf, len + 6), -1);
	ck_assert_str_eq(x.err.msg, "nesting deeper than 64");
	/* Deeply unbalanced input stops at the limit. */
	memset(buf, '[', sizeof buf);
	buf[0] = '{';
	buf[1] = '"';
	buf[2] = '"';
	buf[3] = ':';
	ck_assert_int_eq(run_n(&x, buf, sizeof buf), -1);
	ck_assert_str_eq(x.err.msg, "nesting deeper than 64");
	ck_assert_uint_eq(x.err.off, 4 + 63);
	dec_fini(&x);
}
END_TEST

START_TEST(test_utf8)
{
	static const char *const paths[] = { "s" };
	static const char *const bad[] = {
		"\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xf0\x80\x80\x80",
		"\xf0\x8f\xbf\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80",
		"\xf5\x80\x80\x80", "\xff", "\xfe", "\x80", "\xbf", "\xc3", "\xe2\x82",
		"\xf0\x9f\x98", "\xc3\x28", "\xe2\x28\xa1", "\xf8\x88\x80\x80\x80",
		"\xfc\x84\x80\x80\x80\x80", "abcdefgh\xc3", "abcdefghijklmnop\xe2\x82\xacq\xa0",
	};
	static const char *const good[] = {
		"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
		"\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "caf\xc3\xa9",
		"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
	};
	struct dec x;
	char line[128];
	size_t i;

	dec_init(&x, paths, 1);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(line, sizeof line, "{\"s\":\"%s\"}", bad[i]);
		BAD(&x, line, "invalid UTF-8 in string");
		snprintf(line, sizeof line, "{\"x\":[\"%s\"]}", bad[i]);
		BAD(&x, line, "invalid UTF-8 in string");
		snprintf(line, sizeof line, "{\"%s\":0}", bad[i]);
		BAD(&x, line, "invalid UTF-8 in string");
	}
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(line, sizeof line, "{\"s\":\"%s\"}", good[i]);
		OK(&x, line);
		expect_str(&x.slots[0], good[i]);
	}
	BAD_AT(&x, "{\"s\":\"ab\xed\xa0\x80\"}", "invalid UTF-8 in string", 8);
	BAD(&x, "{\"s\":1,\xc3\xa9:1}", "expected a key");
	dec_fini(&x);
}
END_TEST

START_TEST(test_long_lines)
{
	/* Lines well over 1 MiB: a long string, a long array, many keys. */
	static const char *const paths[] = { "s", "arr", "z" };
	struct dec x;
	size_t cap = 3u << 20, n = 0, i;
	char *line = malloc(cap);

	dec_init(&x, paths, 3);
	n += (size_t)sprintf(line, "{\"s\":\"");
	for (i = 0; i < (1u << 20); i++)
		line[n++] = (char)('a' + i % 26);
	n += (size_t)sprintf(line + n, "\",\"arr\":[");
	for (i = 0; i < 100000; i++)
		n += (size_t)sprintf(line + n, "%s%zu.5", i ? "," : "", i);
	n += (size_t)sprintf(line + n, "],");
	for (i = 0; i < 20000; i++)
		n += (size_t)sprintf(line + n, "\"k%zu\":{\"s\":\"\\n\"},", i);
	n += (size_t)sprintf(line + n, "\"z\":\"\\u00e9\"}");
	ck_assert_uint_lt(n, cap);
	ck_assert_int_eq(run_n(&x, line, n), 0);
	ck_assert_uint_eq(x.slots[0].len, 1u << 20);
	ck_assert_int_eq(x.slots[1].type, TL_ARR);
	expect_str(&x.slots[2], "\xc3\xa9");
	/* Cut anywhere: never a crash, always an error. */
	for (i = 1; i < n; i += n / 97)
		ck_assert_int_eq(run_n(&x, line, n - i), -1);
	free(line);
	dec_fini(&x);
}
END_TEST

/* ---- scratch reuse ---- */

START_TEST(test_scratch_reuse)
{
	static const char *const paths[] = { "s", "n" };
	struct dec x;
	const char *first;
	char num[200];
	int i;

	dec_init(&x, paths, 2);
	OK(&x, "{\"s\":\"\\u00e9 first line, long enough to size the buffer\",\"n\":1,"
	       "\"pad\":\"....................................................................\"}");
	first = x.slots[0].str;
	/* Count allocations from here on: none after warm-up. */
	tl_alloc_count = 0;
	tl_alloc_fail_at = ULONG_MAX;
	for (i = 0; i < 1000; i++) {
		OK(&x, "{\"s\":\"\\tshort\",\"\\u006e\":2.5,\"x\":\"\\n\"}");
		expect_str(&x.slots[0], "\tshort");
		ck_assert_ptr_eq(x.slots[0].str, first);
		expect_num(&x.slots[1], 2.5);
	}
	snprintf(num, sizeof num, "{\"n\":%0100d}", 7);
	num[5] = '7'; /* no leading zero: 7000...0007 with 100 digits */
	OK(&x, num);
	ck_assert_int_eq(x.slots[1].type, TL_NUM);
	ck_assert_uint_eq(tl_alloc_count, 0);
	tl_alloc_fail_at = 0;
	dec_fini(&x);
}
END_TEST

/* ---- allocation failure ---- */

/* Builds a table, a decoder, decodes lines that need scratch; 0 when all of it worked. */
static int alloc_scenario(void)
{
	static const char *const paths[] = { "a", "a.b", "c.d.e", "f", "g", "h", "i", "j",
					     "k", "l", "m" };
	struct jd_fields *f;
	struct jd_decoder *d;
	struct tl_value slots[16];
	struct jd_error err;
	const char *line = "{\"a\":{\"b\":\"\\u00e9\"},\"c\":{\"d\":{\"e\":1}},\"\\u0066\":\"x\"}";
	int rc = -1;
	size_t i;

	f = jd_fields_new();
	if (!f)
		return -1;
	for (i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if (add_path(f, paths[i]) < 0)
			goto free_fields;
	if (jd_fields_freeze(f))
		goto free_fields;
	d = jd_decoder_new(f);
	if (!d)
		goto free_fields;
	if (jd_decode(d, line, strlen(line), slots, &err)) {
		ck_assert_str_eq(err.msg, "out of memory");
		goto free_decoder;
	}
	expect_str(&slots[1], "\xc3\xa9");
	expect_str(&slots[3], "x");
	rc = 0;
free_decoder:
	jd_decoder_free(d);
free_fields:
	jd_fields_free(f);
	return rc;
}

START_TEST(test_alloc_failure)
{
	unsigned long n;
	int rc, injected;

	for (n = 1;; n++) {
		tl_alloc_count = 0;
		tl_alloc_fail_at = n;
		rc = alloc_scenario();
		injected = tl_alloc_fail_at == 0;
		tl_alloc_fail_at = 0;
		if (!injected)
			break;
		ck_assert_int_eq(rc, -1);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_gt(n, 10);
}
END_TEST

/* ---- output helpers ---- */

static void expect_quote(const char *s, size_t len, const char *want)
{
	char out[256];
	size_t n = jd_quote(s, len, out);

	ck_assert_uint_le(n, 6 * len + 2);
	ck_assert_uint_eq(n, strlen(want));
	ck_assert_msg(memcmp(out, want, n) == 0, "got %.*s, want %s", (int)n, out, want);
}

START_TEST(test_quote)
{
	static const char *const paths[] = { "s" };
	char all[32], out[6 * 32 + 2 + 16], line[256];
	struct dec x;
	size_t n;
	int i;

	expect_quote("", 0, "\"\"");
	expect_quote(NULL, 0, "\"\"");
	expect_quote("plain", 5, "\"plain\"");
	expect_quote("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	expect_quote("\n\t\r\b\f", 5, "\"\\n\\t\\r\\b\\f\"");
	expect_quote("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
	expect_quote("a\0b", 3, "\"a\\u0000b\"");
	expect_quote("caf\xc3\xa9 \xf0\x9f\x98\x80 /", 12, "\"caf\xc3\xa9 \xf0\x9f\x98\x80 /\"");
	/* Worst case fits the documented bound and reads back. */
	for (i = 0; i < 32; i++)
		all[i] = (char)i;
	n = jd_quote(all, 32, out);
	ck_assert_uint_le(n, 6 * 32 + 2);
	dec_init(&x, paths, 1);
	memcpy(line, "{\"s\":", 5);
	memcpy(line + 5, out, n);
	line[5 + n] = '}';
	ck_assert_int_eq(run_n(&x, line, n + 6), 0);
	expect_str_n(&x.slots[0], all, 32);
	dec_fini(&x);
}
END_TEST

static void expect_format(double v, const char *want)
{
	char out[32];
	size_t n = jd_format_number(v, out);

	ck_assert_uint_eq(n, strlen(want));
	ck_assert_str_eq(out, want);
}

START_TEST(test_format_number)
{
	expect_format(3, "3");
	expect_format(0, "0");
	expect_format(-0.0, "-0");
	expect_format(-42, "-42");
	expect_format(12.5, "12.5");
	expect_format(0.1, "0.1");
	expect_format(-0.25, "-0.25");
	expect_format(1.0 / 3, "0.3333333333333333");
	expect_format(2.0 / 3, "0.6666666666666666");
	expect_format(0.1 + 0.2, "0.30000000000000004");
	expect_format(1700000000, "1700000000");
	expect_format(9007199254740991.0, "9007199254740991");
	expect_format(-9007199254740991.0, "-9007199254740991");
	expect_format(9007199254740992.0, "9007199254740992");
	expect_format(1e21, "1e21");
	expect_format(1e-7, "1e-7");
	expect_format(123456.789, "123456.789");
	expect_format(DBL_MAX, "1.7976931348623157e308");
	expect_format(-DBL_MAX, "-1.7976931348623157e308");
	expect_format(5e-324, "5e-324");
	expect_format(-1.5e-320, "-1.5e-320");
	expect_format(DBL_MIN, "2.2250738585072014e-308");
	expect_format(NAN, "null");
	expect_format(INFINITY, "null");
	expect_format(-INFINITY, "null");
}
END_TEST

/* ---- differential tests against slow references ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64*: reproducible, no libc state. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static unsigned rnd(unsigned n)
{
	return (unsigned)(rng() % n);
}

/* Reference decoder for a string body: decodes code point by code point with the textbook
 * UTF-8 rules. Returns the decoded length, -1 when invalid, -2 when the body holds a raw '"'
 * (the line then has another shape and is not compared). */
static long ref_string(const unsigned char *s, size_t n, unsigned char *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		unsigned long cp;
		size_t k, len;

		if (s[i] == '"')
			return -2;
		if (s[i] < 0x20)
			return -1;
		if (s[i] == '\\') {
			unsigned long u = 0;

			if (i + 1 >= n)
				return -1;
			switch (s[i + 1]) {
			case '"': out[o++] = '"'; i += 2; continue;
			case '\\': out[o++] = '\\'; i += 2; continue;
			case '/': out[o++] = '/'; i += 2; continue;
			case 'b': out[o++] = 8; i += 2; continue;
			case 'f': out[o++] = 12; i += 2; continue;
			case 'n': out[o++] = 10; i += 2; continue;
			case 'r': out[o++] = 13; i += 2; continue;
			case 't': out[o++] = 9; i += 2; continue;
			case 'u': break;
			default: return -1;
			}
			if (i + 6 > n)
				return -1;
			for (k = 0; k < 4; k++) {
				char h[2] = { (char)s[i + 2 + k], 0 };

				if (!strchr("0123456789abcdefABCDEF", h[0]) || !h[0])
					return -1;
				u = u * 16 + strtoul(h, NULL, 16);
			}
			i += 6;
			if (u >= 0xdc00 && u <= 0xdfff)
				return -1;
			if (u >= 0xd800 && u <= 0xdbff) {
				unsigned long lo = 0;

				if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u')
					return -1;
				for (k = 0; k < 4; k++) {
					char h[2] = { (char)s[i + 2 + k], 0 };

					if (!strchr("0123456789abcdefABCDEF", h[0]) || !h[0])
						return -1;
					lo = lo * 16 + strtoul(h, NULL, 16);
				}
				if (lo < 0xdc00 || lo > 0xdfff)
					return -1;
				i += 6;
				u = 0x10000 + (u - 0xd800) * 0x400 + (lo - 0xdc00);
			}
			cp = u;
			if (cp < 0x80) {
				out[o++] = (unsigned char)cp;
			} else if (cp < 0x800) {
				out[o++] = (unsigned char)(0xc0 + cp / 64);
				out[o++] = (unsigned char)(0x80 + cp % 64);
			} else if (cp < 0x10000) {
				out[o++] = (unsigned char)(0xe0 + cp / 4096);
				out[o++] = (unsigned char)(0x80 + cp / 64 % 64);
				out[o++] = (unsigned char)(0x80 + cp % 64);
			} else {
				out[o++] = (unsigned char)(0xf0 + cp / 262144);
				out[o++] = (unsigned char)(0x80 + cp / 4096 % 64);
				out[o++] = (unsigned char)(0x80 + cp / 64 % 64);
				out[o++] = (unsigned char)(0x80 + cp % 64);
			}
			continue;
		}
		if (s[i] < 0x80) {
			out[o++] = s[i++];
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4;
			cp = s[i] & 0x07;
		} else {
			return -1;
		}
		if (i + len > n)
			return -1;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -1;
			cp = cp * 64 + (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		memcpy(out + o, s + i, len);
		o += len;
		i += len;
	}
	return (long)o;
}

START_TEST(test_diff_strings)
{
	static const char *const tokens[] = {
		"a", "b", "z", " ", "~", "\x7f", "\t", "\n", "\x01", "\\n", "\\\\", "\\/", "\\\"",
		"\\u00e9", "\\u00E9", "\\ud83d\\ude00", "\\ud800", "\\udc00", "\\u12", "\\x", "\\",
		"\\u0000", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc0\x80",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80", "\xff", "\"",
		"\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "abcdefgh", "0123456789abcdef", "\\ud83d",
		"\\ude00", "\xe0\xa0", "\xf0\x90",
	};
	static const char *const paths[] = { "s" };
	struct dec x;
	unsigned char body[1024], line[1100], ref[1024];
	unsigned iter, n_ok = 0, n_bad = 0;

	dec_init(&x, paths, 1);
	for (iter = 0; iter < 200000; iter++) {
		size_t blen = 0, llen, k, n_tok = rnd(24);
		long want;
		int rc, skipped = rnd(4) == 0;

		for (k = 0; k < n_tok; k++) {
			/* Mostly plain text, so that long runs take the 8-byte path. */
			const char *t = rnd(3) ? tokens[rnd(4)] :
					tokens[rnd(sizeof tokens / sizeof tokens[0])];
			size_t tl = strlen(t);

			memcpy(body + blen, t, tl);
			blen += tl;
		}
		if (rnd(50) == 0)
			body[rnd((unsigned)blen + 1) % (blen ? blen : 1)] = (unsigned char)rnd(256);
		want = ref_string(body, blen, ref);
		if (want == -2)
			continue;
		llen = (size_t)sprintf((char *)line, "{\"%s\":\"", skipped ? "x" : "s");
		memcpy(line + llen, body, blen);
		llen += blen;
		line[llen++] = '"';
		line[llen++] = '}';
		rc = run_n(&x, (const char *)line, llen);
		ck_assert_msg(rc == (want >= 0 ? 0 : -1), "iteration %u: rc %d, reference %ld",
			      iter, rc, want);
		if (rc == 0 && !skipped)
			expect_str_n(&x.slots[0], (const char *)ref, (size_t)want);
		if (rc == 0)
			n_ok++;
		else
			n_bad++;
	}
	/* Both outcomes are well represented. */
	ck_assert_uint_gt(n_ok, 20000);
	ck_assert_uint_gt(n_bad, 20000);
	dec_fini(&x);
}
END_TEST

/* A random number in JSON grammar: 1 to 25 integer digits, maybe a fraction, maybe an
 * exponent reaching past both ends of the double range. */
static size_t random_number(char *o)
{
	char *s = o;
	unsigned i, n;

	if (rnd(2))
		*o++ = '-';
	if (rnd(5) == 0) {
		*o++ = '0';
	} else {
		n = 1 + rnd(rnd(4) ? 17 : 25);
		*o++ = (char)('1' + rnd(9));
		for (i = 1; i < n; i++)
			*o++ = (char)('0' + (rnd(4) ? rnd(10) : 0));
	}
	if (rnd(2)) {
		*o++ = '.';
		n = 1 + rnd(rnd(4) ? 8 : 30);
		for (i = 0; i < n; i++)
			*o++ = (char)('0' + (rnd(3) ? rnd(10) : 0));
	}
	if (rnd(2)) {
		*o++ = rnd(2) ? 'e' : 'E';
		if (rnd(2))
			*o++ = rnd(2) ? '-' : '+';
		o += sprintf(o, "%u", rnd(3) ? rnd(30) : rnd(420));
	}
	*o = '\0';
	return (size_t)(o - s);
}

START_TEST(test_diff_numbers)
{
	static const char *const paths[] = { "n" };
	struct dec x;
	char num[128], line[160];
	unsigned iter, n_range = 0;

	dec_init(&x, paths, 1);
	for (iter = 0; iter < 300000; iter++) {
		double want;
		int ok;

		random_number(num);
		want = strtod(num, NULL);
		ok = !isinf(want);
		n_range += !ok;
		snprintf(line, sizeof line, "{\"n\":%s}", num);
		ck_assert_msg(run(&x, line) == (ok ? 0 : -1), "%s", num);
		if (ok)
			ck_assert_msg(memcmp(&x.slots[0].num, &want, sizeof want) == 0,
				      "%s: got %.17g, want %.17g", num, x.slots[0].num, want);
		else
			ck_assert_str_eq(x.err.msg, "number out of range");
		snprintf(line, sizeof line, "{\"skipped\":[%s]}", num);
		ck_assert_msg(run(&x, line) == (ok ? 0 : -1), "skipped %s", num);
	}
	ck_assert_uint_gt(n_range, 1000);
	dec_fini(&x);
}
END_TEST

START_TEST(test_diff_format_number)
{
	static const char *const paths[] = { "n" };
	struct dec x;
	char out[32], line[64], shortest[40];
	unsigned iter;
	int k;

	dec_init(&x, paths, 1);
	for (iter = 0; iter < 100000; iter++) {
		uint64_t bits = rng();
		double v;
		size_t n;

		if (iter % 3 == 0)
			v = (double)(int64_t)(rng() >> rnd(64)) * (rnd(2) ? 1 : -1);
		else if (iter % 3 == 1)
			v = (double)rnd(100000) / (1 + rnd(1000));
		else
			memcpy(&v, &bits, sizeof v);
		if (isnan(v) || isinf(v))
			continue;
		n = jd_format_number(v, out);
		ck_assert_uint_lt(n, 32);
		ck_assert_uint_eq(n, strlen(out));
		/* Reads back exactly, as JSON too. */
		ck_assert_msg(strtod(out, NULL) == v && signbit(strtod(out, NULL)) == signbit(v),
			      "%s", out);
		snprintf(line, sizeof line, "{\"n\":%s}", out);
		ck_assert_msg(run(&x, line) == 0, "%s", out);
		expect_num(&x.slots[0], v);
		/* No shorter %g form reads back (integers below 2^53 are always plain). */
		if (fabs(v) < 9007199254740992.0 && v == floor(v))
			continue;
		for (k = 1; k <= 17; k++) {
			snprintf(shortest, sizeof shortest, "%.*g", k, v);
			if (strtod(shortest, NULL) == v)
				break;
		}
		ck_assert_msg(n <= strlen(shortest), "%s longer than %s", out, shortest);
	}
	dec_fini(&x);
}
END_TEST


/* printf's %.15g (then %.16g, %.17g: the first that reads back) as the decoder's first
 * formatter wrote every number that is not an integer. */
static void format_reference(double v, char *out, size_t size)
{
	int prec;

	for (prec = 15; prec <= 17; prec++) {
		snprintf(out, size, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* Decimals of up to 15 digits and 9 places between 1e-4 and 1e15 are written without printf:
 * the text is printf's, byte for byte, for amounts, for decimals of every length and place,
 * for any double of that range, and at the range's edges (where printf turns to exponents). */
START_TEST(format_number_writes_what_printf_does)
{
	static const double pow10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
					1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16 };
	static const double edges[] = { 1e-4, 1e15, 999999999999999.9, 99999999999999.99,
					0.00010000000000000002, 0.1, 0.5, 0.999999999, 1.08,
					123456789.123456789, 4.35, 0.0001234, 9.999999999999999e14 };
	char out[32], want[40];
	unsigned iter;

	for (iter = 0; iter < 60000 + sizeof edges / sizeof edges[0]; iter++) {
		double v;
		size_t n;

		if (iter >= 60000) {
			v = edges[iter - 60000];
			v = nextafter(v, (iter & 1) ? 0 : 2e15); /* and its neighbours */
			v = (iter & 2) ? v : edges[iter - 60000];
		} else if (iter % 4 == 0) {
			v = (double)(rng() % (uint64_t)pow10[1 + rnd(15)]) / pow10[1 + rnd(9)];
		} else if (iter % 4 == 1) {
			v = (double)rnd(10000000) / 100; /* amounts */
		} else if (iter % 4 == 2) {
			v = pow(10, -4.5 + 20 * ((double)(rng() >> 11) / 9007199254740992.0));
		} else {
			v = (double)(rng() % 1000000000000000ull) / pow10[rnd(17)];
		}
		if (rnd(2))
			v = -v;
		if (v == floor(v) && fabs(v) < 9007199254740992.0)
			continue; /* integers: plain digits, another path */
		n = jd_format_number(v, out);
		format_reference(v, want, sizeof want);
		if (strchr(want, 'e')) {
			ck_assert_msg(strchr(out, 'e') != NULL, "%s for %s", out, want);
			continue; /* exponents are tidied: test_format_number */
		}
		ck_assert_msg(strcmp(out, want) == 0, "%s, printf %s", out, want);
		ck_assert_uint_eq(n, strlen(want));
	}
}
END_TEST
static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("decoder");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_json_test_suite);
	tcase_add_test(tc, test_fields_nested);
	tcase_add_test(tc, test_fields_table);
	tcase_add_test(tc, test_fields_many);
	tcase_add_test(tc, test_whole_event_path);
	tcase_add_test(tc, test_no_fields);
	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_escaped_values_stable);
	tcase_add_test(tc, test_scratch_used);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_fast_keys);
	tcase_add_test(tc, test_string_boundaries);
	tcase_add_test(tc, test_number_fast_path);
	tcase_add_test(tc, test_raw_spans);
	tcase_add_test(tc, test_fast_unregistered_keys);
	tcase_add_test(tc, test_guessed_keys);
	tcase_add_test(tc, test_guesses_change_nothing);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_literals);
	tcase_add_test(tc, test_top_level);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_long_lines);
	tcase_add_test(tc, test_scratch_reuse);
	tcase_add_test(tc, test_alloc_failure);
	tcase_add_test(tc, test_quote);
	tcase_add_test(tc, test_format_number);
	tcase_add_test(tc, format_number_writes_what_printf_does);
	tcase_add_test(tc, test_diff_strings);
	tcase_add_test(tc, test_diff_numbers);
	tcase_add_test(tc, test_diff_format_number);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(json_suite());
	int n_failed;

	srunner_run_all(sr, CK_NORMAL);
	n_failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return n_failed ? 1 : 0;
}
