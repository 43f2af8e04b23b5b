/* agg.h - what the aggregates of threshold windows and of sequence runs share.
 *
 * Pipeline position: engine (window.c, match.c). distinct() needs the identity of a value:
 * values are the same when their type and content are (1 and "1" differ; -0 is 0; arrays and
 * objects by their text). Sums are compensated (Neumaier) so that adding and removing many
 * values does not drift.
 */
#ifndef TL_AGG_H
#define TL_AGG_H

#include <math.h>
#include <stddef.h>

#include "value.h"

/* The identity of v as a type tag and bytes (which may point into v or static storage). Inline:
 * a window takes it for every distinct value of every event. */
static inline size_t agg_value_id(const struct tl_value *v, char *tag, const char **bytes)
{
	static const double zero = 0;

	switch (v->type) {
	case TL_BOOL:
		*tag = v->b ? 't' : 'f';
		*bytes = "";
		return 0;
	case TL_NUM:
		*tag = 'n';
		*bytes = (const char *)(v->num == 0 ? &zero : &v->num);
		return sizeof v->num;
	case TL_STR:
		*tag = 's';
		*bytes = v->str;
		return v->len;
	default:
		*tag = 'r'; /* arrays and objects by their raw text */
		*bytes = v->str;
		return v->len;
	}
}

/* Adds x to the compensated sum (*sum, *comp); the value is *sum + *comp. */
static inline void agg_sum_add(double *sum, double *comp, double x)
{
	double t = *sum + x;

	if (fabs(*sum) >= fabs(x))
		*comp += (*sum - t) + x;
	else
		*comp += (x - t) + *sum;
	*sum = t;
}

#endif
