/* agg.c - value identity and compensated sums for the aggregates. */
#include "agg.h"

#include <math.h>

size_t agg_value_id(const struct tl_value *v, char *tag, const char **bytes)
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

void agg_sum_add(double *sum, double *comp, double x)
{
	double t = *sum + x;

	if (fabs(*sum) >= fabs(x))
		*comp += (*sum - t) + x;
	else
		*comp += (x - t) + *sum;
	*sum = t;
}
