/* value.h - the dynamic value shared by the JSON decoder, expression literals and the evaluator.
 *
 * Pipeline position: parser (lowest layer). A value never owns memory: strings and raw
 * array/object text point into a buffer owned by whoever produced the value (the decoder's line
 * or scratch buffer, the compiled rule set's arena, the evaluator's scratch).
 */
#ifndef TL_VALUE_H
#define TL_VALUE_H

#include <stdint.h>

enum tl_type {
	TL_MISSING = 0, /* absent field, or "unknown" in three-valued logic */
	TL_NULL,
	TL_BOOL,
	TL_NUM,
	TL_STR,
	TL_ARR, /* str/len hold the raw JSON text of the array */
	TL_OBJ, /* str/len hold the raw JSON text of the object */
};

struct tl_value {
	uint8_t type;    /* enum tl_type */
	uint8_t b;       /* TL_BOOL */
	uint32_t len;    /* TL_STR: bytes; TL_ARR/TL_OBJ: raw text bytes */
	union {
		double num;      /* TL_NUM */
		const char *str; /* TL_STR (UTF-8, not NUL-terminated), TL_ARR, TL_OBJ */
	};
};

#endif
