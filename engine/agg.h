/* agg.h - what the aggregates of threshold windows and of sequence runs share.
 *
 * Pipeline position: engine (window.c, match.c). distinct() needs the identity of a value:
 * values are the same when their type and content are (1 and "1" differ; -0 is 0; arrays and
 * objects by their text). Sums are compensated (Neumaier) so that adding and removing many
 * values does not drift.
 */
#ifndef TL_AGG_H
#define TL_AGG_H

#include <stddef.h>

#include "value.h"

/* The identity of v as a type tag and bytes (which may point into v or static storage). */
size_t agg_value_id(const struct tl_value *v, char *tag, const char **bytes);

/* Adds x to the compensated sum (*sum, *comp); the value is *sum + *comp. */
void agg_sum_add(double *sum, double *comp, double x);

#endif
