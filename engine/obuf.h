/* obuf.h - a growable output buffer with JSON writers.
 *
 * Pipeline position: engine (alerts, keys, passthrough). Writes never fail one by one: an
 * allocation failure sets oom and later writes are dropped, so a caller checks once per line.
 */
#ifndef TL_OBUF_H
#define TL_OBUF_H

#include <stddef.h>
#include <stdint.h>

#include "timefmt.h"
#include "value.h"

struct obuf {
	char *buf;
	size_t len, cap;
	int oom;
};

char *ob_room_more(struct obuf *b, size_t n); /* ob_room when the buffer must grow */
/* Room for n more bytes at buf + len, or NULL. */
static inline char *ob_room(struct obuf *b, size_t n)
{
	if (b->buf && b->cap - b->len >= n)
		return b->buf + b->len;
	return ob_room_more(b, n);
}
void ob_put(struct obuf *b, const char *s, size_t n);
void ob_lit(struct obuf *b, const char *s);
void ob_quote(struct obuf *b, const char *s, size_t n); /* as a JSON string */
void ob_num(struct obuf *b, double v);
void ob_u64(struct obuf *b, uint64_t v);
/* A value as JSON (unknown is null; arrays and objects as their raw text). */
void ob_value(struct obuf *b, const struct tl_value *v);
/* A value as template text: strings without quotes, unknown as nothing. */
void ob_text(struct obuf *b, const struct tl_value *v);
/* A time as a JSON token in the format of st. */
void ob_time(struct obuf *b, const struct tf_stamp *st, int64_t us);
/* An input line without its surrounding JSON whitespace. */
void ob_line(struct obuf *b, const char *s, size_t n);
void ob_free(struct obuf *b);

#endif
