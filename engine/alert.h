/* alert.h - the alert writer: one derived event as a JSON line.
 *
 * Pipeline position: engine, the last stage. Field order: rule, the time field (the input's
 * name and format), key (unless the rule is global), severity (when given), start, count
 * (thresholds), the emit fields in the order written, events.
 */
#ifndef TL_ALERT_H
#define TL_ALERT_H

#include <stddef.h>

#include "eval.h"
#include "match.h"
#include "obuf.h"
#include "ruleset.h"
#include "window.h"

struct al_alert {
	const struct rl_rule *rule;
	const struct tf_stamp *ts;    /* the alert's time (ts->us), in its format */
	const char *key;              /* the key as JSON text; unused for a global rule */
	size_t key_len;
	const struct tf_stamp *start; /* the first event of the match */
	const struct window *win;     /* thresholds: count, and events with evidence */
	const char *line;             /* filters: the matched event's line */
	size_t len;
	const struct mt_run *run;     /* sequences: the bound events */
};

/* Replaces b's contents with the alert and a "\n". Emit expressions are evaluated in ctx,
 * whose event and aggregates the caller has set; templates are rendered in scratch (kept by
 * the caller so that alerts allocate nothing once it has grown). Check b->oom afterwards. */
void al_write(struct obuf *b, struct obuf *scratch, const struct rl_ruleset *rs,
	      const struct al_alert *a, struct ev_ctx *ctx);

#endif
