/* alert.c - alerts as JSON lines. */
#include "alert.h"

#include <string.h>

#include "keys.h"

static void put_emits(struct obuf *b, struct obuf *text, const struct rl_rule *r,
		      struct ev_ctx *ctx)
{
	struct tl_value v;
	size_t i, j;

	for (i = 0; i < r->n_emits; i++) {
		const struct rl_emit *em = &r->emits[i];

		ob_lit(b, ",");
		ob_quote(b, em->name, em->name_len);
		ob_lit(b, ":");
		switch (em->kind) {
		case RL_EMIT_JSON:
			ob_put(b, em->json, em->json_len);
			break;
		case RL_EMIT_EXPR:
			ev_eval_top(em->expr, ctx, &v);
			ob_value(b, &v);
			break;
		default:
			/* the text first (each part may reuse the scratch), then quoted */
			text->len = 0;
			for (j = 0; j < em->n_parts; j++) {
				ob_put(text, em->parts[j].text, em->parts[j].len);
				if (em->parts[j].expr) {
					ev_eval_top(em->parts[j].expr, ctx, &v);
					ob_text(text, &v);
				}
			}
			ob_quote(b, text->buf ? text->buf : "", text->len);
			if (text->oom) {
				text->oom = 0;
				b->oom = 1;
			}
			break;
		}
	}
}

/* "ts":T, or "meta":{"ts":T} for a nested time field. */
static void put_time_field(struct obuf *b, const struct rl_ruleset *rs,
			   const struct tf_stamp *st)
{
	size_t i;

	ob_lit(b, ",");
	for (i = 0; i < rs->n_time_segs; i++) {
		ob_quote(b, rs->time_segs[i], rs->time_seg_lens[i]);
		ob_lit(b, i + 1 < rs->n_time_segs ? ":{" : ":");
	}
	ob_time(b, st, st->us);
	for (i = 1; i < rs->n_time_segs; i++)
		ob_lit(b, "}");
}

void al_write(struct obuf *b, struct obuf *scratch, const struct rl_ruleset *rs,
	      const struct al_alert *a, struct ev_ctx *ctx)
{
	const struct rl_rule *r = a->rule;
	size_t i, n;

	b->len = 0;
	ob_lit(b, "{\"rule\":");
	ob_quote(b, r->id, strlen(r->id));
	put_time_field(b, rs, a->ts);
	if (r->n_keys) {
		ob_lit(b, ",\"key\":");
		kv_json(b, a->key, a->key_len, r->key_is_list);
	}
	if (r->severity) {
		ob_lit(b, ",\"severity\":");
		ob_quote(b, r->severity, strlen(r->severity));
	}
	ob_lit(b, ",\"start\":");
	ob_time(b, a->start, a->start->us);
	if (a->win) {
		ob_lit(b, ",\"count\":");
		ob_u64(b, win_count(a->win));
	}
	put_emits(b, scratch, r, ctx);
	if (a->run) {
		const uint32_t *taken = mt_taken(r, a->run);
		size_t j = 0; /* the first bound event of step i: the steps took them in order */

		ob_lit(b, ",\"events\":{");
		for (i = 0; i < r->n_steps; i++) {
			const struct rl_step *st = &r->steps[i];
			int rep = !(st->min == 1 && st->max == 1);
			size_t k;

			if (i)
				ob_lit(b, ",");
			ob_quote(b, st->name, strlen(st->name));
			ob_lit(b, rep ? ":[" : ":");
			for (k = 0; k < taken[i]; k++, j++) {
				if (k)
					ob_lit(b, ",");
				ob_line(b, a->run->bound[j]->line, a->run->bound[j]->len);
			}
			if (rep)
				ob_lit(b, "]");
			else if (!taken[i])
				ob_lit(b, "null");
		}
		ob_lit(b, "}");
	} else if (!a->win) {
		ob_lit(b, ",\"events\":{\"event\":");
		ob_line(b, a->line, a->len);
		ob_lit(b, "}");
	} else if (r->evidence) {
		ob_lit(b, ",\"events\":{\"window\":[");
		n = win_count(a->win);
		for (i = 0; i < n; i++) {
			size_t len;
			const char *line = win_line(a->win, i, &len);

			if (i)
				ob_lit(b, ",");
			ob_line(b, line, len);
		}
		ob_lit(b, "]}");
	}
	ob_lit(b, "}\n");
}
