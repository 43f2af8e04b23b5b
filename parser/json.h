/* json.h - the NDJSON event decoder: one line of text -> the values of the fields rules read.
 *
 * Pipeline position: parser; the hot path. The compiled rule set registers every field path any
 * rule reads (jd_fields_add), then freezes the table. For each line, jd_decode validates the
 * whole line against RFC 8259 (exactly one object; UTF-8 checked; no lone surrogates; numbers
 * within double range; nesting at most JD_MAX_DEPTH) but only materialises the registered paths;
 * everything else is skipped after validation. Duplicate keys: the last one wins (including
 * for a prefix: {"g":{"c":1},"g":2} leaves g.c missing).
 *
 * Ownership: the field table owns copies of the segment names. Decoded strings point into the
 * line (no escapes) or into the decoder's scratch (escapes); they stay valid until the next
 * jd_decode call on the same decoder or until the line buffer changes.
 */
#ifndef TL_JSON_H
#define TL_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "value.h"

#define JD_MAX_DEPTH 64

struct jd_fields;
struct jd_decoder;

struct jd_fields *jd_fields_new(void);
void jd_fields_free(struct jd_fields *f);

/* Registers the path segs[0].segs[1]...; returns its slot number (>= 0; the same path always
 * gets the same slot), or -1 on allocation failure. A path may be both a leaf and a prefix of
 * another path (exists(geo) and geo.country). Not allowed after jd_fields_freeze. */
int jd_fields_add(struct jd_fields *f, const char *const *segs, const size_t *seg_lens,
		  size_t n_segs);
size_t jd_fields_count(const struct jd_fields *f);
/* Ends registration and builds the lookup structures. Returns 0 or -1 (allocation). */
int jd_fields_freeze(struct jd_fields *f);

/* A decoder for a frozen table; NULL on allocation failure. */
struct jd_decoder *jd_decoder_new(const struct jd_fields *f);
void jd_decoder_free(struct jd_decoder *d);

struct jd_error {
	const char *msg; /* static text, e.g. "invalid UTF-8 in string" */
	size_t off;      /* byte offset in the line where the problem was found */
};

/* Decodes one line (no trailing newline; may contain anything, including NUL bytes).
 * On success returns 0 and sets slots[0 .. jd_fields_count) (TL_MISSING where absent; for an
 * array or object value, TL_ARR/TL_OBJ with its raw text). On a malformed line returns -1 and
 * fills *err; slots are then unspecified. */
int jd_decode(struct jd_decoder *d, const char *line, size_t len, struct tl_value *slots,
	      struct jd_error *err);

/* After a successful jd_decode: the bytes of the decoder's scratch that its values use. When
 * 0, every string, array and object value points into the line itself. */
size_t jd_scratch_used(const struct jd_decoder *d);

/* Writes s as a JSON string literal (with quotes, escaping '"', '\\' and control characters as
 * \n \t \r \b \f \u00XX; other UTF-8 is copied) into out, which must have room for
 * 6 * len + 2 bytes. Returns the number of bytes written. */
size_t jd_quote(const char *s, size_t len, char *out);

/* Formats a double as the shortest JSON number that reads back to the same double
 * (integers up to 2^53 without exponent or fraction; -0 as "-0"). out needs 32 bytes.
 * Returns the length. */
size_t jd_format_number(double v, char *out);

#endif
