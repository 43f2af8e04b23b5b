/* explain.c - text and Graphviz views of compiled rules. */
#include "explain.h"

#include <stdint.h>
#include <string.h>

static void duration(FILE *out, int64_t us)
{
	char buf[64];

	fwrite(buf, 1, tf_format_duration(us, buf), out);
}

static const char *kind_name(int kind)
{
	return kind == RL_FILTER ? "filter" : kind == RL_THRESHOLD ? "threshold" : "sequence";
}

static void repeat_text(FILE *out, const struct rl_step *st)
{
	if (st->min == 1 && st->max == 1)
		return;
	if (st->min == st->max)
		fprintf(out, " x%u", st->min);
	else if (st->max == UINT32_MAX)
		fprintf(out, " x%u..", st->min);
	else
		fprintf(out, " x%u..%u", st->min, st->max);
}

/* The canonical form of a compiled condition, when it differs from the text as written. */
static void canonical(FILE *out, const struct ex_node *n, const char *text, const char *indent)
{
	char buf[1024];
	size_t len = ex_unparse(n, buf, sizeof buf);

	if (len < sizeof buf && text && strcmp(buf, text) != 0)
		fprintf(out, "%s  = %s\n", indent, buf);
}

static void explain_text(FILE *out, const struct rl_rule *r)
{
	size_t i, j;

	fprintf(out, "rule %s (%s:%u): %s", r->id, r->file, r->line, kind_name(r->kind));
	if (r->n_keys)
		fprintf(out, ", key %s", r->key_text);
	else
		fprintf(out, ", one global group");
	if (r->kind == RL_THRESHOLD) {
		fprintf(out, ", window ");
		duration(out, r->window_us);
	}
	if (r->kind == RL_SEQUENCE) {
		fprintf(out, ", within ");
		duration(out, r->within_us);
		fprintf(out, ", %s, %s", r->contiguity == RL_STRICT ? "strict" : "relaxed",
			r->after_match == RL_NO_SKIP ? "no_skip" : "skip_past_last");
	}
	if (r->suppress_us) {
		fprintf(out, ", suppress ");
		duration(out, r->suppress_us);
	}
	fputc('\n', out);
	if (r->kind == RL_FILTER) {
		fprintf(out, "  alert on every event where: %s\n", r->where_text);
		canonical(out, r->where, r->where_text, "  ");
		return;
	}
	if (r->kind == RL_THRESHOLD) {
		fprintf(out, "  window holds events where: %s\n", r->where_text ? r->where_text : "(all)");
		if (r->where)
			canonical(out, r->where, r->where_text, "  ");
		fprintf(out, "  after each event, alert and empty the window when: %s\n", r->when_text);
		for (i = 0; i < r->n_aggs; i++) {
			char buf[512];

			if (r->aggs[i].arg)
				ex_unparse(r->aggs[i].arg, buf, sizeof buf);
			else
				buf[0] = '\0';
			fprintf(out, "  aggregate %zu: %s(%s), kept as events enter and leave\n", i,
				rl_agg_names[r->aggs[i].kind], buf);
		}
		return;
	}
	/* the automaton: state 0 is the start, state i+1 is "at real step i" */
	fprintf(out, "  state 0: start\n");
	fprintf(out, "    on %s: %s -> state 1 (a new run)\n", r->steps[0].name,
		r->steps[0].where_text);
	for (i = 0; i < r->n_steps; i++) {
		const struct rl_step *st = &r->steps[i], *next = i + 1 < r->n_steps ? st + 1 : NULL;
		const struct rl_step *g = next ? next->guards : r->trailing;
		size_t n_g = next ? next->n_guards : r->n_trailing;
		/* a repeated last step with no trailing not completes at min: it takes no more */
		int rep = !(st->min == 1 && st->max == 1) && (next || r->n_trailing);

		fprintf(out, "  state %zu: %s", i + 1, st->name);
		repeat_text(out, st);
		fprintf(out, "%s\n", next ? "" : r->n_trailing ? " (last step)" : " (accepting)");
		if (rep) {
			fprintf(out, "    on %s: %s -> state %zu (taken", st->name, st->where_text,
				i + 1);
			if (st->max == UINT32_MAX)
				fprintf(out, ", no maximum)\n");
			else
				fprintf(out, " while count < %u)\n", st->max);
		}
		if (next)
			fprintf(out, "    on %s: %s -> state %zu%s\n", next->name, next->where_text,
				i + 2, st->min > 1 ? " (once count >= min)" : "");
		for (j = 0; j < n_g; j++)
			fprintf(out, "    on not: %s -> dead%s\n", g[j].where_text,
				st->min > 1 ? " (once count >= min)" : "");
		if (!next && r->n_trailing)
			fprintf(out, "    at the deadline (first event + within) -> accept\n");
		if (!next && !r->n_trailing)
			fprintf(out, "    -> accept%s\n",
				st->min > 1 ? " when count reaches min" : "");
	}
	fprintf(out, "  a run dies when time - time of its first event > within");
	if (r->contiguity == RL_STRICT)
		fprintf(out, ", or at an event of its key that does not advance it");
	fputc('\n', out);
	for (i = 0; i < r->n_steps; i++)
		if (r->steps[i].reads_run)
			fprintf(out, "  %s reads earlier steps: evaluated per run\n", r->steps[i].name);
}

/* A Graphviz label: the text with quotes and backslashes escaped. */
static void dot_label(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void explain_dot(FILE *out, const struct rl_rule *r, size_t idx)
{
	size_t i, j;

	fprintf(out, "  subgraph cluster_%zu {\n    label=\"", idx);
	dot_label(out, r->id);
	fprintf(out, " (%s)\";\n", kind_name(r->kind));
	if (r->kind != RL_SEQUENCE) {
		fprintf(out, "    r%zu_s0 [shape=point];\n    r%zu_acc [label=\"alert\", shape=doublecircle];\n",
			idx, idx);
		fprintf(out, "    r%zu_s0 -> r%zu_acc [label=\"", idx, idx);
		if (r->kind == RL_FILTER) {
			dot_label(out, r->where_text);
		} else {
			dot_label(out, r->where_text ? r->where_text : "(all)");
			fprintf(out, "\\nwhen ");
			dot_label(out, r->when_text);
		}
		fprintf(out, "\"];\n  }\n");
		return;
	}
	fprintf(out, "    r%zu_s0 [label=\"start\", shape=point];\n", idx);
	for (i = 0; i < r->n_steps; i++) {
		const struct rl_step *st = &r->steps[i];

		fprintf(out, "    r%zu_s%zu [label=\"", idx, i + 1);
		dot_label(out, st->name);
		repeat_text(out, st); /* plain text, no quotes to escape */
		fprintf(out, "\"%s];\n",
			i + 1 == r->n_steps && !r->n_trailing ? ", shape=doublecircle" : "");
	}
	if (r->n_trailing)
		fprintf(out, "    r%zu_acc [label=\"alert\", shape=doublecircle];\n", idx);
	for (i = 0, j = r->n_trailing; i < r->n_steps; i++)
		j += r->steps[i].n_guards;
	if (j)
		fprintf(out, "    r%zu_dead [label=\"dead\", shape=box, style=dashed];\n", idx);
	for (i = 0; i < r->n_steps; i++) {
		const struct rl_step *st = &r->steps[i], *next = i + 1 < r->n_steps ? st + 1 : NULL;
		const struct rl_step *g = next ? next->guards : r->trailing;
		size_t n_g = next ? next->n_guards : r->n_trailing;

		fprintf(out, "    r%zu_s%zu -> r%zu_s%zu [label=\"", idx, i, idx, i + 1);
		dot_label(out, st->where_text);
		fprintf(out, "\"];\n");
		if (!(st->min == 1 && st->max == 1) && (next || r->n_trailing)) {
			fprintf(out, "    r%zu_s%zu -> r%zu_s%zu [label=\"", idx, i + 1, idx, i + 1);
			dot_label(out, st->where_text);
			fprintf(out, "\", style=dotted];\n");
		}
		for (j = 0; j < n_g; j++) {
			fprintf(out, "    r%zu_s%zu -> r%zu_dead [label=\"not ", idx, i + 1, idx);
			dot_label(out, g[j].where_text);
			fprintf(out, "\", color=red, fontcolor=red];\n");
		}
		if (!next && r->n_trailing) {
			fprintf(out, "    r%zu_s%zu -> r%zu_acc [label=\"deadline: first + ", idx,
				i + 1, idx);
			duration(out, r->within_us);
			fprintf(out, "\", style=dashed];\n");
		}
	}
	fprintf(out, "  }\n");
}

int rl_explain(FILE *out, const struct rl_ruleset *rs, const char *id, int dot)
{
	size_t i;
	int found = 0;

	if (dot)
		fprintf(out, "digraph tripline {\n  rankdir=LR;\n  graph [fontname=\"Helvetica\"];\n"
			     "  node [fontname=\"Helvetica\"];\n"
			     "  edge [fontname=\"Helvetica\", fontsize=10];\n");
	for (i = 0; i < rs->n_rules; i++) {
		if (id && strcmp(rs->rules[i].id, id) != 0)
			continue;
		if (found++ && !dot)
			fputc('\n', out);
		if (dot)
			explain_dot(out, &rs->rules[i], i);
		else
			explain_text(out, &rs->rules[i]);
	}
	if (dot)
		fprintf(out, "}\n");
	return found ? 0 : -1;
}
