/* yaml_load.c - libyaml events -> a tree of yl_node with byte positions.
 *
 * Pipeline position: parser; the only file of tripline that includes yaml.h. It pulls events one
 * by one (yaml_parser_parse / yaml_event_delete) and builds the node tree in the caller's arena,
 * refusing what a rule file never needs (anchors, aliases, tags, several documents, duplicate
 * or non-string keys) with a positioned error and, where the user most likely wrote an
 * expression that YAML read as syntax, a hint to quote it. The rule layer reads the tree.
 *
 * Positions: libyaml marks carry a 0-based line and a column in characters; dg_offset turns
 * them into byte offsets, and along one line the loader walks on from the previous mark (a
 * 16 MiB flow collection on one line would otherwise cost a walk from the line start per
 * mark). libyaml also breaks lines at a lone '\r' and at U+0085, U+2028 and U+2029, which the
 * line map does not; in a file that holds one of those, the mark's character index (counted
 * from after a byte order mark) is walked instead.
 *
 * Bounds: one node per node event, and libyaml consumes input for every few of them ("?," makes
 * a mapping and two empty scalars), so the tree is linear in the file size; aliases are
 * refused, never expanded. Nesting stops at YL_MAX_DEPTH. Empty scalars share one static "".
 */
#include "yaml_load.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define YL_MAX_DEPTH 64

/* Message texts, kept together so that they stay consistent. */
#define MSG_ANCHOR "YAML anchors and aliases are not allowed in rule files; " \
	"an expression that starts with '&' must be quoted"
#define MSG_ALIAS "YAML aliases are not allowed in rule files; " \
	"an expression that starts with '*' must be quoted"
#define MSG_TAG "YAML tag '%.*s' is not allowed; " \
	"an expression that starts with '!' must be quoted, as in %s"
#define MSG_TAG_EXAMPLE "where: \"!exists(card)\""
#define MSG_MULTI_DOC "a rule file holds one YAML document"
#define MSG_DUP_KEY "duplicate key '%s'"
#define MSG_DUP_FIRST "first given here"
#define MSG_KEY_NOT_SCALAR "mapping keys must be plain strings"
#define MSG_DEPTH "YAML nesting deeper than %d levels"
#define MSG_OOM "out of memory while loading YAML"
#define MSG_UTF16 "rule files must be UTF-8; this one starts with a UTF-16 byte order mark"
#define MSG_CONTEXT "%s starting here"
#define MSG_BAD_EVENT "unexpected YAML event"

#define HINT_BACKTICK_AT "; an expression that starts with '`' or '@' must be quoted"
#define HINT_BRACKET "; an expression that starts with '[' or '{' must be quoted"
#define HINT_CHAR "; an expression that starts with '%c' must be quoted"
#define HINT_QUOTE "; an expression that starts with a quote must be quoted as a whole"
#define HINT_TAB "; YAML indentation uses spaces, not tabs"

/* Longest key or example shown in a message, in bytes. */
#define SHOW_MAX 60

struct dup_slot {
	const struct yl_node *key; /* NULL: empty slot */
	size_t map_id;
};

struct loader {
	const struct dg_source *src;
	struct arena *arena;
	struct dg_sink *sink;
	yaml_parser_t parser;
	yaml_event_t ev;       /* the current event, valid when have_ev */
	int have_ev;
	int stop;              /* a problem that ends loading was reported */

	/* Children of the open collections, innermost last; copied into the arena at the end. */
	struct yl_node **stack;
	size_t n_stack, cap_stack;

	/* Every scalar key seen, by (mapping, text): open addressing, power-of-two capacity. */
	struct dup_slot *keys;
	size_t n_keys, cap_keys;
	size_t n_maps;

	/* Mark -> offset: the last answer, so that marks along one long line cost what they
	 * move. By line and column; by character index in a file with line breaks the line map
	 * does not know (odd_breaks). */
	size_t cur_line, cur_col, cur_off, cur_line_start;
	int have_cur;
	int odd_breaks;
	size_t base;           /* byte offset of character 0 (after a UTF-8 byte order mark) */
	size_t cur_index;
};

static int is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- positions ---- */

static int has_odd_breaks(const char *t, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (t[i] == '\r' && (i + 1 == len || t[i + 1] != '\n'))
			return 1;
		if (i + 1 < len && (unsigned char)t[i] == 0xc2 && (unsigned char)t[i + 1] == 0x85)
			return 1;
		if (i + 2 < len && (unsigned char)t[i] == 0xe2 && (unsigned char)t[i + 1] == 0x80 &&
		    ((unsigned char)t[i + 2] == 0xa8 || (unsigned char)t[i + 2] == 0xa9))
			return 1;
	}
	return 0;
}

/* Byte offset of a character index, walking from the last answer (marks mostly go forward). */
static size_t index_off(struct loader *ld, size_t index)
{
	const char *t = ld->src->text;
	size_t len = ld->src->len;

	while (ld->cur_index < index && ld->cur_off < len) {
		ld->cur_off++;
		while (ld->cur_off < len && is_cont((unsigned char)t[ld->cur_off]))
			ld->cur_off++;
		ld->cur_index++;
	}
	while (ld->cur_index > index) {
		ld->cur_off--;
		while (ld->cur_off > ld->base && is_cont((unsigned char)t[ld->cur_off]))
			ld->cur_off--;
		ld->cur_index--;
	}
	return ld->cur_off;
}

/* Byte offset of a line and character column, walking from the last answer on that line. */
static size_t linecol_off(struct loader *ld, size_t line, size_t col)
{
	const struct dg_source *src = ld->src;
	const char *t = src->text;
	size_t stop;

	if (!ld->have_cur || line != ld->cur_line) {
		ld->cur_line = line;
		ld->cur_line_start = dg_offset(src, line, 0);
		ld->cur_col = 0;
		ld->cur_off = ld->cur_line_start;
		ld->have_cur = 1;
	}
	/* As in dg_offset: a column may reach the line break, never pass it. */
	stop = line + 1 < src->n_lines ? dg_offset(src, line + 1, 0) - 1 : src->len;
	while (ld->cur_col < col && ld->cur_off < stop) {
		ld->cur_off++;
		while (ld->cur_off < stop && is_cont((unsigned char)t[ld->cur_off]))
			ld->cur_off++;
		ld->cur_col++;
	}
	while (ld->cur_col > col) {
		ld->cur_off--;
		while (ld->cur_off > ld->cur_line_start && is_cont((unsigned char)t[ld->cur_off]))
			ld->cur_off--;
		ld->cur_col--;
	}
	return ld->cur_off;
}

static size_t mark_off(struct loader *ld, const yaml_mark_t *m)
{
	if (ld->odd_breaks)
		return index_off(ld, m->index);
	return linecol_off(ld, m->line, m->column);
}

/* Start of the line holding off, and the end of its text. */
static void line_bounds(const struct loader *ld, size_t off, size_t *start, size_t *end)
{
	const char *t = ld->src->text;
	size_t s = off, e = off;

	while (s > 0 && t[s - 1] != '\n')
		s--;
	while (e < ld->src->len && t[e] != '\n' && t[e] != '\r')
		e++;
	*start = s;
	*end = e;
}

/* ---- diagnostics ---- */

static void oom(struct loader *ld)
{
	if (!ld->stop)
		dg_error_file(ld->sink, ld->src->name, MSG_OOM);
	ld->stop = 1;
}

/* Copies s for a message: control characters shown as '?', cut at SHOW_MAX bytes on a
 * character boundary with "..." appended. */
static void show(char *buf, size_t cap, const char *s, size_t len)
{
	size_t i = 0, k = 0;

	while (i < len && k + 4 < cap) {
		unsigned char c = (unsigned char)s[i];

		if (k >= SHOW_MAX && !is_cont(c)) {
			memcpy(buf + k, "...", 3);
			k += 3;
			break;
		}
		buf[k++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		i++;
	}
	buf[k] = '\0';
}

/* The first character of the value on the line of off, or 0 when the value starts after off.
 * Skips indentation, "- " and "? " entries and a "key: " in front of the value; a value that
 * starts with one of YAML's indicators is never taken for a key. A heuristic for hints only. */
static char value_start_char(const struct loader *ld, size_t off)
{
	const char *t = ld->src->text;
	size_t p, q, end;

	if (off > ld->src->len)
		return 0;
	line_bounds(ld, off, &p, &end);
	for (;;) {
		while (p < end && is_blank(t[p]))
			p++;
		if (p < end && (t[p] == '-' || t[p] == '?') && (p + 1 == end || is_blank(t[p + 1])))
			p++;
		else
			break;
	}
	if (p == end)
		return 0;
	q = p;
	if (t[p] == '"' || t[p] == '\'') {
		/* A quoted key, if the closing quote is followed by ':'. */
		for (q = p + 1; q < end && t[q] != t[p]; q++)
			if (t[p] == '"' && t[q] == '\\')
				q++;
		if (q < end)
			q++;
		while (q < end && is_blank(t[q]))
			q++;
		if (!(q < end && t[q] == ':' && (q + 1 == end || is_blank(t[q + 1]))))
			q = p;
	} else if (t[p] != '\0' && !strchr("!&*[{`@%|>", t[p])) {
		/* A plain key ends at the first ": "; a " #" starts a comment. */
		while (q < end && !(t[q] == ':' && (q + 1 == end || is_blank(t[q + 1])))) {
			if (t[q] == '#' && q > p && is_blank(t[q - 1]))
				break;
			q++;
		}
		if (!(q < end && t[q] == ':'))
			q = p;
	}
	if (q != p) {
		p = q + 1;
		while (p < end && is_blank(t[p]))
			p++;
	}
	if (p >= end || p > off)
		return 0;
	return t[p];
}

/* Writes the hint for a libyaml error at off into buf (empty when there is none). */
static void hint_for(const struct loader *ld, const char *problem, size_t off, char *buf,
		     size_t cap)
{
	const char *t = ld->src->text;
	char c;

	buf[0] = '\0';
	if (off < ld->src->len &&
	    strcmp(problem, "found character that cannot start any token") == 0) {
		if (t[off] == '`' || t[off] == '@') {
			snprintf(buf, cap, HINT_BACKTICK_AT);
			return;
		}
		if (t[off] == '\t') {
			snprintf(buf, cap, HINT_TAB);
			return;
		}
	}
	c = value_start_char(ld, off);
	switch (c) {
	case '!':
	case '&':
	case '*':
	case '%':
	case '|':
	case '>':
		snprintf(buf, cap, HINT_CHAR, c);
		break;
	case '[':
	case '{':
		snprintf(buf, cap, HINT_BRACKET);
		break;
	case '`':
	case '@':
		snprintf(buf, cap, HINT_BACKTICK_AT);
		break;
	case '"':
	case '\'':
		snprintf(buf, cap, HINT_QUOTE);
		break;
	}
}

/* Reports the error that made yaml_parser_parse fail; loading ends there. */
static void report_yaml_error(struct loader *ld)
{
	const yaml_parser_t *p = &ld->parser;
	const char *problem = p->problem ? p->problem : "invalid YAML";
	size_t off, ctx_off;
	char hint[128];

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		oom(ld);
		return;
	case YAML_READER_ERROR:
		off = p->problem_offset < ld->src->len ? p->problem_offset : ld->src->len;
		if (p->problem_value < 0)
			dg_error(ld->sink, ld->src, off, 1, "%s", problem);
		else if (strstr(problem, "octet"))
			dg_error(ld->sink, ld->src, off, 1, "%s (byte 0x%02X)", problem,
				 (unsigned)p->problem_value);
		else
			dg_error(ld->sink, ld->src, off, 1, "%s (U+%04X)", problem,
				 (unsigned)p->problem_value);
		break;
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
		off = mark_off(ld, &p->problem_mark);
		hint_for(ld, problem, off, hint, sizeof hint);
		dg_error(ld->sink, ld->src, off, 0, "%s%s", problem, hint);
		if (p->context) {
			ctx_off = mark_off(ld, &p->context_mark);
			if (ctx_off != off)
				dg_note(ld->sink, ld->src, ctx_off, 0, MSG_CONTEXT, p->context);
		}
		break;
	default:
		dg_error_file(ld->sink, ld->src->name, "%s", problem);
		break;
	}
	ld->stop = 1;
}

/* ---- events ---- */

/* Replaces the current event by the next one. Returns 0, or -1 after reporting. */
static int next_event(struct loader *ld)
{
	if (ld->have_ev) {
		yaml_event_delete(&ld->ev);
		ld->have_ev = 0;
	}
	if (ld->stop)
		return -1;
	if (!yaml_parser_parse(&ld->parser, &ld->ev)) {
		report_yaml_error(ld);
		return -1;
	}
	ld->have_ev = 1;
	return 0;
}

static int expect_event(struct loader *ld, yaml_event_type_t type)
{
	if (next_event(ld) < 0)
		return -1;
	if (ld->ev.type != type) {
		dg_error_file(ld->sink, ld->src->name, MSG_BAD_EVENT);
		ld->stop = 1;
		return -1;
	}
	return 0;
}

/* ---- building ---- */

static struct yl_node *new_node(struct loader *ld, enum yl_kind kind, enum yl_style style,
				size_t off, size_t end)
{
	struct yl_node *n = arena_alloc(ld->arena, sizeof *n);

	if (!n) {
		oom(ld);
		return NULL;
	}
	n->kind = kind;
	n->style = style;
	n->off = off;
	n->end = end;
	return n;
}

static int push_child(struct loader *ld, struct yl_node *n)
{
	void *grown = ld->stack;

	if (tl_grow(&grown, &ld->cap_stack, ld->n_stack + 1, sizeof *ld->stack) < 0) {
		oom(ld);
		return -1;
	}
	ld->stack = grown;
	ld->stack[ld->n_stack++] = n;
	return 0;
}

/* Moves the children pushed since base into n->items, in the arena. */
static int take_children(struct loader *ld, struct yl_node *n, size_t base)
{
	size_t k = ld->n_stack - base;

	if (k) {
		if (k > SIZE_MAX / sizeof *n->items) {
			oom(ld);
			return -1;
		}
		n->items = arena_alloc(ld->arena, k * sizeof *n->items);
		if (!n->items) {
			oom(ld);
			return -1;
		}
		memcpy(n->items, ld->stack + base, k * sizeof *n->items);
	}
	n->n_items = k;
	ld->n_stack = base;
	return 0;
}

/* Finds the property token that starts with c ('&' or '!') among the at most two properties
 * (anchor, tag, in either order) at the start of a node; *len gets its length. Falls back to
 * the node's start. */
static size_t find_prop(const struct loader *ld, size_t off, char c, size_t *len)
{
	const char *t = ld->src->text;
	size_t n = ld->src->len, p = off, q;
	int k;

	for (k = 0; k < 2 && p < n; k++) {
		while (p < n && (is_blank(t[p]) || t[p] == '\n' || t[p] == '\r'))
			p++;
		q = p;
		if (q < n && t[q] == '!' && q + 1 < n && t[q + 1] == '<') {
			while (q < n && t[q] != '>' && t[q] != '\n')
				q++;
			if (q < n && t[q] == '>')
				q++;
		} else {
			while (q < n && !is_blank(t[q]) && !strchr("\r\n,[]{}", t[q]))
				q++;
		}
		if (p < n && t[p] == c) {
			*len = q - p;
			return p;
		}
		p = q;
	}
	*len = 0;
	return off;
}

/* The tag example of the message: the node itself in double quotes after its key when it is a
 * short one-line scalar, else the example from the manual. */
static void tag_example(const struct loader *ld, char *buf, size_t cap, size_t tag_off,
			const struct yl_node *n, const struct yl_node *key)
{
	const char *t = ld->src->text;
	size_t end = n->end, i;
	char key_text[SHOW_MAX + 8];

	while (end > tag_off && is_blank(t[end - 1]))
		end--;
	if (n->kind != YL_SCALAR || !key || key->kind != YL_SCALAR || key->style != YL_PLAIN ||
	    key->len == 0 || key->len > SHOW_MAX || end - tag_off > SHOW_MAX)
		goto manual;
	for (i = tag_off; i < end; i++)
		if (t[i] == '"' || t[i] == '\\' || (unsigned char)t[i] < 0x20)
			goto manual;
	show(key_text, sizeof key_text, key->str, key->len);
	snprintf(buf, cap, "%s: \"%.*s\"", key_text, (int)(end - tag_off), t + tag_off);
	return;

manual:
	snprintf(buf, cap, "%s", MSG_TAG_EXAMPLE);
}

/* Refuses the anchor and the tag a node may carry. */
static void check_props(struct loader *ld, struct yl_node *n, const yaml_char_t *anchor,
			const yaml_char_t *tag, const struct yl_node *key)
{
	size_t off, len;
	char example[2 * SHOW_MAX + 16];

	if (anchor || tag)
		n->bad = 1;
	if (anchor) {
		off = find_prop(ld, n->off, '&', &len);
		dg_error(ld->sink, ld->src, off, len, MSG_ANCHOR);
	}
	if (tag) {
		off = find_prop(ld, n->off, '!', &len);
		tag_example(ld, example, sizeof example, off, n, key);
		if (len)
			dg_error(ld->sink, ld->src, off, len, MSG_TAG, (int)len,
				 ld->src->text + off, example);
		else
			dg_error(ld->sink, ld->src, off, 0, MSG_TAG, (int)strlen((const char *)tag),
				 (const char *)tag, example);
	}
}

static size_t key_hash(size_t map_id, const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL ^ map_id;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return (size_t)(h ^ (h >> 29));
}

static int grow_keys(struct loader *ld)
{
	struct dup_slot *old = ld->keys, *fresh;
	size_t old_cap = ld->cap_keys, cap = old_cap ? old_cap * 2 : 64, i;

	if (cap < old_cap || cap > SIZE_MAX / sizeof *fresh)
		return -1;
	fresh = tl_calloc(cap, sizeof *fresh);
	if (!fresh)
		return -1;
	for (i = 0; i < old_cap; i++) {
		size_t j;

		if (!old[i].key)
			continue;
		j = key_hash(old[i].map_id, old[i].key->str, old[i].key->len) & (cap - 1);
		while (fresh[j].key)
			j = (j + 1) & (cap - 1);
		fresh[j] = old[i];
	}
	tl_free(old);
	ld->keys = fresh;
	ld->cap_keys = cap;
	return 0;
}

/* Records key k of mapping map_id. Returns the earlier key with the same text, or NULL. */
static const struct yl_node *remember_key(struct loader *ld, size_t map_id,
					  const struct yl_node *k)
{
	size_t j;

	if ((ld->n_keys + 1) * 2 > ld->cap_keys && grow_keys(ld) < 0) {
		oom(ld);
		return NULL;
	}
	j = key_hash(map_id, k->str, k->len) & (ld->cap_keys - 1);
	for (; ld->keys[j].key; j = (j + 1) & (ld->cap_keys - 1)) {
		const struct yl_node *o = ld->keys[j].key;

		if (ld->keys[j].map_id == map_id && o->len == k->len &&
		    memcmp(o->str, k->str, k->len) == 0)
			return o;
	}
	ld->keys[j].key = k;
	ld->keys[j].map_id = map_id;
	ld->n_keys++;
	return NULL;
}

static void check_key(struct loader *ld, size_t map_id, const struct yl_node *k)
{
	const struct yl_node *first;
	char text[SHOW_MAX + 8];

	if (k->kind != YL_SCALAR) {
		dg_error(ld->sink, ld->src, k->off, k->end - k->off, "%s%s", MSG_KEY_NOT_SCALAR,
			 k->style == YL_FLOW ? HINT_BRACKET : "");
		return;
	}
	first = remember_key(ld, map_id, k);
	if (!first)
		return;
	show(text, sizeof text, k->str, k->len);
	dg_error(ld->sink, ld->src, k->off, k->end - k->off, MSG_DUP_KEY, text);
	dg_note(ld->sink, ld->src, first->off, first->end - first->off, MSG_DUP_FIRST);
}

static struct yl_node *load_node(struct loader *ld, unsigned depth, const struct yl_node *key);

/* scalar:  plain | 'single' | "double" | |literal | >folded  (no &anchor, no !tag) */
static struct yl_node *load_scalar(struct loader *ld, const struct yl_node *key)
{
	const yaml_event_t *e = &ld->ev;
	enum yl_style style;
	struct yl_node *n;
	size_t off, end;

	switch (e->data.scalar.style) {
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
		style = YL_SINGLE;
		break;
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		style = YL_DOUBLE;
		break;
	case YAML_LITERAL_SCALAR_STYLE:
		style = YL_LITERAL;
		break;
	case YAML_FOLDED_SCALAR_STYLE:
		style = YL_FOLDED;
		break;
	default:
		style = YL_PLAIN;
		break;
	}
	off = mark_off(ld, &e->start_mark);
	end = mark_off(ld, &e->end_mark);
	n = new_node(ld, YL_SCALAR, style, off, end < off ? off : end);
	if (!n)
		return NULL;
	if (e->data.scalar.length == 0)
		n->str = "";
	else
		n->str = arena_strndup(ld->arena, (const char *)e->data.scalar.value,
				       e->data.scalar.length);
	if (!n->str) {
		oom(ld);
		return NULL;
	}
	n->len = e->data.scalar.length;
	check_props(ld, n, e->data.scalar.anchor, e->data.scalar.tag, key);
	return n;
}

/* alias:  *name  -- always refused; an empty scalar stands in so loading can go on. */
static struct yl_node *load_alias(struct loader *ld)
{
	size_t off = mark_off(ld, &ld->ev.start_mark);
	size_t end = mark_off(ld, &ld->ev.end_mark);
	struct yl_node *n;

	if (end < off)
		end = off;
	dg_error(ld->sink, ld->src, off, end - off, MSG_ALIAS);
	n = new_node(ld, YL_SCALAR, YL_PLAIN, off, end);
	if (!n)
		return NULL;
	n->str = "";
	n->bad = 1;
	return n;
}

static int too_deep(struct loader *ld, unsigned depth, size_t off)
{
	if (depth <= YL_MAX_DEPTH)
		return 0;
	dg_error(ld->sink, ld->src, off, 1, MSG_DEPTH, YL_MAX_DEPTH);
	ld->stop = 1;
	return 1;
}

/* Block collections end with their last item (their end event sits at the next token);
 * flow collections end just past the closing bracket. */
static void set_end(struct loader *ld, struct yl_node *n)
{
	if (n->style == YL_FLOW) {
		size_t end = mark_off(ld, &ld->ev.end_mark);

		n->end = end < n->off ? n->off : end;
	} else {
		n->end = n->n_items ? n->items[n->n_items - 1]->end : n->off;
	}
}

/* sequence:  "- item" lines  |  [item, item, ...] */
static struct yl_node *load_seq(struct loader *ld, unsigned depth, const struct yl_node *key)
{
	const yaml_event_t *e = &ld->ev;
	size_t base = ld->n_stack;
	struct yl_node *n, *item;

	n = new_node(ld, YL_SEQ,
		     e->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE ? YL_FLOW : YL_BLOCK,
		     mark_off(ld, &e->start_mark), 0);
	if (!n)
		return NULL;
	check_props(ld, n, e->data.sequence_start.anchor, e->data.sequence_start.tag, key);
	if (too_deep(ld, depth, n->off))
		return NULL;
	for (;;) {
		if (next_event(ld) < 0)
			return NULL;
		if (ld->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		item = load_node(ld, depth + 1, NULL);
		if (!item || push_child(ld, item) < 0)
			return NULL;
	}
	if (take_children(ld, n, base) < 0)
		return NULL;
	set_end(ld, n);
	return n;
}

/* mapping:  "key: value" lines  |  {key: value, ...}   keys: strings, each once */
static struct yl_node *load_map(struct loader *ld, unsigned depth, const struct yl_node *key)
{
	const yaml_event_t *e = &ld->ev;
	size_t base = ld->n_stack, map_id = ++ld->n_maps;
	struct yl_node *n, *k, *v;
	int key_is_alias;

	n = new_node(ld, YL_MAP,
		     e->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE ? YL_FLOW : YL_BLOCK,
		     mark_off(ld, &e->start_mark), 0);
	if (!n)
		return NULL;
	check_props(ld, n, e->data.mapping_start.anchor, e->data.mapping_start.tag, key);
	if (too_deep(ld, depth, n->off))
		return NULL;
	for (;;) {
		if (next_event(ld) < 0)
			return NULL;
		if (ld->ev.type == YAML_MAPPING_END_EVENT)
			break;
		key_is_alias = ld->ev.type == YAML_ALIAS_EVENT;
		k = load_node(ld, depth + 1, NULL);
		if (!k)
			return NULL;
		if (!key_is_alias)
			check_key(ld, map_id, k);
		if (ld->stop || push_child(ld, k) < 0)
			return NULL;
		if (next_event(ld) < 0)
			return NULL;
		v = load_node(ld, depth + 1, k);
		if (!v || push_child(ld, v) < 0)
			return NULL;
	}
	if (take_children(ld, n, base) < 0)
		return NULL;
	set_end(ld, n);
	return n;
}

/* node:  scalar | alias | sequence | mapping */
static struct yl_node *load_node(struct loader *ld, unsigned depth, const struct yl_node *key)
{
	switch (ld->ev.type) {
	case YAML_SCALAR_EVENT:
		return load_scalar(ld, key);
	case YAML_ALIAS_EVENT:
		return load_alias(ld);
	case YAML_SEQUENCE_START_EVENT:
		return load_seq(ld, depth, key);
	case YAML_MAPPING_START_EVENT:
		return load_map(ld, depth, key);
	default:
		dg_error_file(ld->sink, ld->src->name, MSG_BAD_EVENT);
		ld->stop = 1;
		return NULL;
	}
}

/* stream:  [document]   -- a second document is an error, still checked for more errors.
 * document:  [---] node [...] */
static struct yl_node *load_stream(struct loader *ld)
{
	struct yl_node *root = NULL, *node;
	unsigned n_docs = 0;

	if (expect_event(ld, YAML_STREAM_START_EVENT) < 0)
		return NULL;
	for (;;) {
		if (next_event(ld) < 0)
			return NULL;
		if (ld->ev.type == YAML_STREAM_END_EVENT)
			break;
		if (ld->ev.type != YAML_DOCUMENT_START_EVENT) {
			dg_error_file(ld->sink, ld->src->name, MSG_BAD_EVENT);
			return NULL;
		}
		if (++n_docs == 2) {
			size_t off = mark_off(ld, &ld->ev.start_mark);
			size_t end = mark_off(ld, &ld->ev.end_mark);

			dg_error(ld->sink, ld->src, off, end > off ? end - off : 0, MSG_MULTI_DOC);
		}
		if (next_event(ld) < 0)
			return NULL;
		node = load_node(ld, 1, NULL);
		if (!node)
			return NULL;
		if (!root)
			root = node;
		if (expect_event(ld, YAML_DOCUMENT_END_EVENT) < 0)
			return NULL;
	}
	if (!root) {
		/* No document at all: an empty file, or only comments. */
		root = new_node(ld, YL_SCALAR, YL_PLAIN, ld->base, ld->base);
		if (root)
			root->str = "";
	}
	return root;
}

struct yl_node *yl_load(const struct dg_source *src, struct arena *a, struct dg_sink *sink)
{
	struct loader ld;
	struct yl_node *root = NULL;
	unsigned n_errors = sink->n_errors;

	memset(&ld, 0, sizeof ld);
	ld.src = src;
	ld.arena = a;
	ld.sink = sink;
	/* libyaml would decode UTF-16 and its marks would no longer match the bytes. */
	if (src->len >= 2 && (memcmp(src->text, "\xff\xfe", 2) == 0 ||
			      memcmp(src->text, "\xfe\xff", 2) == 0)) {
		dg_error(sink, src, 0, 0, MSG_UTF16);
		return NULL;
	}
	if (src->len >= 3 && memcmp(src->text, "\xef\xbb\xbf", 3) == 0)
		ld.base = 3;
	ld.cur_off = ld.base;
	ld.odd_breaks = has_odd_breaks(src->text, src->len);
	if (!yaml_parser_initialize(&ld.parser)) {
		oom(&ld);
		return NULL;
	}
	yaml_parser_set_input_string(&ld.parser, (const unsigned char *)src->text, src->len);

	root = load_stream(&ld);

	if (ld.have_ev)
		yaml_event_delete(&ld.ev);
	yaml_parser_delete(&ld.parser);
	tl_free(ld.stack);
	tl_free(ld.keys);
	if (ld.stop || (!root && sink->n_errors != n_errors))
		return NULL;
	if (!root)
		dg_error_file(sink, src->name, MSG_BAD_EVENT);
	return root;
}

/* ---- YAML 1.2 core schema, plain scalars only ---- */

static int is_plain(const struct yl_node *n)
{
	return n && n->kind == YL_SCALAR && n->style == YL_PLAIN;
}

static int str_is(const struct yl_node *n, const char *s)
{
	size_t len = strlen(s);

	return n->len == len && memcmp(n->str, s, len) == 0;
}

int yl_is_null(const struct yl_node *n)
{
	if (!is_plain(n))
		return 0;
	return n->len == 0 || str_is(n, "~") || str_is(n, "null") || str_is(n, "Null") ||
	       str_is(n, "NULL");
}

int yl_get_bool(const struct yl_node *n, int *out)
{
	if (!is_plain(n))
		return 0;
	if (str_is(n, "true") || str_is(n, "True") || str_is(n, "TRUE")) {
		*out = 1;
		return 1;
	}
	if (str_is(n, "false") || str_is(n, "False") || str_is(n, "FALSE")) {
		*out = 0;
		return 1;
	}
	return 0;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

/* 0x[0-9a-fA-F]+ and 0o[0-7]+, digits after the prefix. */
static int radix_int(const char *s, size_t len, int radix, double *out)
{
	double v = 0;
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		int d = digit_value(s[i]);

		if (d >= radix)
			return 0;
		v = v * radix + d;
	}
	if (!isfinite(v))
		return 0;
	*out = v;
	return 1;
}

static size_t count_digits(const char *s, size_t len, size_t i)
{
	size_t k = i;

	while (k < len && s[k] >= '0' && s[k] <= '9')
		k++;
	return k - i;
}

/* [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )?  (ints are a subset) */
static int is_decimal(const char *s, size_t len)
{
	size_t i = 0, n_int, n_frac = 0, n_exp;

	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	n_int = count_digits(s, len, i);
	i += n_int;
	if (i < len && s[i] == '.') {
		i++;
		n_frac = count_digits(s, len, i);
		i += n_frac;
	}
	if (n_int == 0 && n_frac == 0)
		return 0;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		n_exp = count_digits(s, len, i);
		if (n_exp == 0)
			return 0;
		i += n_exp;
	}
	return i == len;
}

int yl_get_number(const struct yl_node *n, double *out)
{
	const char *s;
	char *end;
	double v;

	if (!is_plain(n))
		return 0;
	s = n->str;
	if (n->len > 2 && s[0] == '0' && s[1] == 'x')
		return radix_int(s + 2, n->len - 2, 16, out);
	if (n->len > 2 && s[0] == '0' && s[1] == 'o')
		return radix_int(s + 2, n->len - 2, 8, out);
	if (!is_decimal(s, n->len))
		return 0;
	/* The text is NUL-terminated and holds only [-+.eE0-9]; strtod must take all of it (a
	 * locale with a decimal comma would not, and then it is not a number here). */
	v = strtod(s, &end);
	if (end != s + n->len || !isfinite(v))
		return 0;
	*out = v;
	return 1;
}

struct yl_node *yl_map_get(const struct yl_node *map, const char *key)
{
	size_t len = strlen(key), i;

	if (!map || map->kind != YL_MAP)
		return NULL;
	for (i = 0; i + 1 < map->n_items; i += 2) {
		const struct yl_node *k = map->items[i];

		if (k->kind == YL_SCALAR && k->len == len && memcmp(k->str, key, len) == 0)
			return map->items[i + 1];
	}
	return NULL;
}
