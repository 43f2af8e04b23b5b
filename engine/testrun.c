/* testrun.c - `tripline test RULES...`: the tests: blocks of rule files, run and checked.
 *
 * Pipeline position: engine, beside the command line. For each file: rl_load compiles its rules
 * (and reports their errors); the file is then read once more into a YAML tree for its tests:
 * block, which no other module reads. Inline events become JSON lines (YAML 1.2 core schema),
 * an events_file is read whole; expected alerts become JSON texts. Only when every file and
 * every test is valid do the tests run, each on a fresh engine, and the alerts it writes are
 * compared with the expected ones by a small JSON-to-tree parser: clarity before speed, since
 * this is not the hot path.
 *
 * Memory: one arena per file holds its YAML tree and the tests made from it; an events file's
 * text is its own allocation; each comparison parses into an arena freed right after it.
 */
#include "testrun.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "diag.h"
#include "json.h"
#include "reader.h"
#include "ruleset.h"
#include "tripline.h"

#define TR_MAX_FILE (16u * 1024 * 1024) /* as rl_load: a larger rule file never gets here */
#define TR_MAX_LINE ((size_t)1024 * 1024) /* the run command's default --max-line */
#define TR_MAX_ERRORS 50                  /* rule errors printed per run, as the run command */
#define TR_MAX_DEPTH 256                  /* JSON nesting: events (64) inside an alert */

/* Message texts, kept together so that they stay consistent. */
#define MSG_TESTS_NOT_LIST "tests must be a list of test cases"
#define MSG_TEST_NOT_MAP "a test is a mapping with name, events (or events_file) and expect"
#define MSG_UNKNOWN_KEY "unknown key '%s' in a test; a test has name, events, events_file " \
	"and expect"
#define MSG_NO_NAME "a test needs a name"
#define MSG_BAD_NAME "a test's name must be a non-empty line of text"
#define MSG_NO_EVENTS "a test needs events (a list of events) or events_file (a file of " \
	"JSON lines)"
#define MSG_BOTH_EVENTS "a test has events or events_file, not both"
#define MSG_EVENTS_NOT_LIST "events must be a list of events, each a mapping such as " \
	"{ts: 0, type: txn}"
#define MSG_EVENT_NOT_MAP "an event must be a mapping of fields, such as {ts: 0, type: txn}"
#define MSG_BAD_EVENTS_FILE "events_file must be a file name"
#define MSG_UNREADABLE "cannot read events file '%s': %s"
#define MSG_NO_EXPECT "a test needs expect: the alerts it must produce, in order " \
	"(expect: [] when none may fire)"
#define MSG_EXPECT_NOT_LIST "expect must be a list of expected alerts " \
	"(expect: [] when none may fire)"
#define MSG_ALERT_NOT_MAP "an expected alert must be a mapping of alert fields, such as " \
	"{rule: velocity, key: c1}"
#define MSG_OOM "tripline: out of memory\n"
/* why an alert does not match */
#define MSG_FIELD_DIFFERS "field '%s' is %.*s, expected %.*s"
#define MSG_FIELD_MISSING "field '%s' is missing, expected %.*s"
#define MSG_ALERT_DIFFERS "alert is %.*s, expected %.*s"
#define MSG_BAD_JSON "%s alert is not valid JSON: %s"
/* the report of a failed test */
#define MSG_MALFORMED "  malformed event: %s:%llu: %s\n"
#define MSG_TOO_LONG "line is longer than %zu bytes"
#define MSG_ALERT_N "  alert %zu: %s\n"
#define MSG_COUNT "  %zu %s alert%s than expected\n"

/* ---- text buffer ---- */

static int buf_reserve(struct tr_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - 1 - b->len)
		return -1;
	return tl_grow((void **)&b->p, &b->cap, b->len + extra + 1, 1);
}

static int buf_add(struct tr_buf *b, const char *s, size_t len)
{
	if (buf_reserve(b, len))
		return -1;
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

static int buf_str(struct tr_buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

static int buf_printf(struct tr_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int buf_printf(struct tr_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n))
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

static int buf_quote(struct tr_buf *b, const char *s, size_t len)
{
	if (len > (SIZE_MAX - 2) / 6 || buf_reserve(b, 6 * len + 2))
		return -1;
	b->len += jd_quote(s, len, b->p + b->len);
	b->p[b->len] = '\0';
	return 0;
}

static int buf_number(struct tr_buf *b, double v)
{
	if (buf_reserve(b, 32))
		return -1;
	b->len += jd_format_number(v, b->p + b->len);
	b->p[b->len] = '\0';
	return 0;
}

/* ---- YAML -> JSON ---- */

int tr_yaml_to_json(const struct yl_node *n, struct tr_buf *b)
{
	size_t i;
	double num;
	int flag;

	switch (n->kind) {
	case YL_MAP:
		if (buf_add(b, "{", 1))
			return -1;
		for (i = 0; i + 1 < n->n_items; i += 2) {
			const struct yl_node *k = n->items[i];

			if ((i && buf_add(b, ",", 1)) || buf_quote(b, k->str, k->len) ||
			    buf_add(b, ":", 1) || tr_yaml_to_json(n->items[i + 1], b))
				return -1;
		}
		return buf_add(b, "}", 1);
	case YL_SEQ:
		if (buf_add(b, "[", 1))
			return -1;
		for (i = 0; i < n->n_items; i++)
			if ((i && buf_add(b, ",", 1)) || tr_yaml_to_json(n->items[i], b))
				return -1;
		return buf_add(b, "]", 1);
	case YL_SCALAR:
		/* the yl_ resolvers answer for plain scalars only: a quoted one is a string */
		if (yl_is_null(n))
			return buf_add(b, "null", 4);
		if (yl_get_bool(n, &flag))
			return flag ? buf_add(b, "true", 4) : buf_add(b, "false", 5);
		if (yl_get_number(n, &num))
			return buf_number(b, num);
		return buf_quote(b, n->str, n->len);
	}
	return -1;
}

/* ---- JSON -> tree, for comparing ---- */

enum tr_type { TR_NULL, TR_BOOL, TR_NUM, TR_STR, TR_ARR, TR_OBJ };

struct tr_val {
	enum tr_type type;
	int b;                 /* TR_BOOL */
	double num;            /* TR_NUM */
	const char *str;       /* TR_STR: the decoded bytes, NUL-terminated */
	size_t len;
	const char *key;       /* a member of an object: its decoded key */
	size_t key_len;
	const char *raw;       /* the value's text in the source, for messages */
	size_t raw_len;
	struct tr_val *first;  /* TR_ARR, TR_OBJ: the items or members, in order */
	struct tr_val *next;
	size_t n_items;
};

struct tr_parser {
	const char *p, *end;
	struct arena *arena;
	const char *err; /* static text; NULL while all is well */
	int oom;
};

static int jp_fail(struct tr_parser *jp, const char *msg)
{
	if (!jp->err)
		jp->err = msg;
	return -1;
}

static void *jp_alloc(struct tr_parser *jp, size_t n)
{
	void *p = arena_alloc(jp->arena, n);

	if (!p) {
		jp->oom = 1;
		jp_fail(jp, "out of memory");
	}
	return p;
}

static void jp_space(struct tr_parser *jp)
{
	while (jp->p < jp->end &&
	       (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *d, unsigned cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | cp >> 6);
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | cp >> 12);
		d[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | cp >> 18);
	d[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	d[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Reads one \uXXXX (a surrogate pair as one code point) at s, at most up to end. Returns the
 * number of bytes read, or 0 if it is not valid. */
static size_t read_u_escape(const char *s, const char *end, unsigned *cp)
{
	unsigned hi, lo;

	if (end - s < 6 || hex4(s + 2, &hi))
		return 0;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return 0;
	if (hi < 0xd800 || hi > 0xdbff) {
		*cp = hi;
		return 6;
	}
	if (end - s < 12 || s[6] != '\\' || s[7] != 'u' || hex4(s + 8, &lo) || lo < 0xdc00 ||
	    lo > 0xdfff)
		return 0;
	*cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	return 12;
}

/* string:  '"' ( char | '\' escape )* '"'   -> the decoded bytes in the arena */
static int jp_string(struct tr_parser *jp, const char **out, size_t *out_len)
{
	const char *s = ++jp->p, *q = s;
	char *d;
	size_t n = 0;

	/* find the closing quote first, so that the copy is as long as the text at most */
	while (q < jp->end && *q != '"') {
		if ((unsigned char)*q < 0x20)
			return jp_fail(jp, "control character in a string");
		q += *q == '\\' ? 2 : 1;
	}
	if (q >= jp->end)
		return jp_fail(jp, "unterminated string");
	d = jp_alloc(jp, (size_t)(q - s) + 1);
	if (!d)
		return -1;
	while (s < q) {
		size_t used;
		unsigned cp;

		if (*s != '\\') {
			d[n++] = *s++;
			continue;
		}
		switch (s[1]) {
		case '"': d[n++] = '"'; break;
		case '\\': d[n++] = '\\'; break;
		case '/': d[n++] = '/'; break;
		case 'b': d[n++] = '\b'; break;
		case 'f': d[n++] = '\f'; break;
		case 'n': d[n++] = '\n'; break;
		case 'r': d[n++] = '\r'; break;
		case 't': d[n++] = '\t'; break;
		case 'u':
			used = read_u_escape(s, q, &cp);
			if (!used)
				return jp_fail(jp, "invalid \\u escape");
			n += put_utf8(d + n, cp); /* at most as long as the escape */
			s += used;
			continue;
		default:
			return jp_fail(jp, "invalid escape");
		}
		s += 2;
	}
	d[n] = '\0';
	*out = d;
	*out_len = n;
	jp->p = q + 1;
	return 0;
}

static size_t count_digits(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && *q >= '0' && *q <= '9')
		q++;
	return (size_t)(q - p);
}

/* number:  '-'? ( '0' | [1-9][0-9]* ) ( '.' [0-9]+ )? ( [eE] [-+]? [0-9]+ )? */
static int jp_number(struct tr_parser *jp, double *out)
{
	const char *s = jp->p, *q = s;
	size_t n;
	char *copy;

	if (q < jp->end && *q == '-')
		q++;
	n = count_digits(q, jp->end);
	if (n == 0 || (n > 1 && *q == '0'))
		return jp_fail(jp, "invalid number");
	q += n;
	if (q < jp->end && *q == '.') {
		n = count_digits(++q, jp->end);
		if (n == 0)
			return jp_fail(jp, "invalid number");
		q += n;
	}
	if (q < jp->end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < jp->end && (*q == '-' || *q == '+'))
			q++;
		n = count_digits(q, jp->end);
		if (n == 0)
			return jp_fail(jp, "invalid number");
		q += n;
	}
	/* strtod on a copy: it must not read on past the number (hex, inf) */
	copy = arena_strndup(jp->arena, s, (size_t)(q - s));
	if (!copy) {
		jp->oom = 1;
		return jp_fail(jp, "out of memory");
	}
	*out = strtod(copy, NULL);
	if (!isfinite(*out))
		return jp_fail(jp, "number out of range");
	jp->p = q;
	return 0;
}

static int jp_word(struct tr_parser *jp, const char *word)
{
	size_t len = strlen(word);

	if ((size_t)(jp->end - jp->p) < len || memcmp(jp->p, word, len) != 0)
		return jp_fail(jp, "unexpected character");
	jp->p += len;
	return 0;
}

static struct tr_val *jp_value(struct tr_parser *jp, unsigned depth);

/* array:  '[' ( value ( ',' value )* )? ']'   object:  '{' ( string ':' value ( ',' ... )* )? '}' */
static int jp_items(struct tr_parser *jp, struct tr_val *v, unsigned depth)
{
	char close = v->type == TR_ARR ? ']' : '}';
	struct tr_val **tail = &v->first;

	jp->p++;
	jp_space(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		return 0;
	}
	for (;;) {
		const char *key = NULL;
		size_t key_len = 0;
		struct tr_val *item;

		if (v->type == TR_OBJ) {
			if (jp->p >= jp->end || *jp->p != '"')
				return jp_fail(jp, "expected a member name");
			if (jp_string(jp, &key, &key_len))
				return -1;
			jp_space(jp);
			if (jp->p >= jp->end || *jp->p != ':')
				return jp_fail(jp, "expected ':'");
			jp->p++;
		}
		item = jp_value(jp, depth + 1);
		if (!item)
			return -1;
		item->key = key;
		item->key_len = key_len;
		*tail = item;
		tail = &item->next;
		v->n_items++;
		jp_space(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			jp_space(jp);
			continue;
		}
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			return 0;
		}
		return jp_fail(jp, v->type == TR_ARR ? "expected ',' or ']'" : "expected ',' or '}'");
	}
}

/* value:  object | array | string | number | true | false | null   (after white space) */
static struct tr_val *jp_value(struct tr_parser *jp, unsigned depth)
{
	struct tr_val *v;
	int rc;

	if (depth > TR_MAX_DEPTH) {
		jp_fail(jp, "nesting too deep");
		return NULL;
	}
	jp_space(jp);
	if (jp->p >= jp->end) {
		jp_fail(jp, "unexpected end");
		return NULL;
	}
	v = jp_alloc(jp, sizeof *v);
	if (!v)
		return NULL;
	v->raw = jp->p;
	switch (*jp->p) {
	case '{':
		v->type = TR_OBJ;
		rc = jp_items(jp, v, depth);
		break;
	case '[':
		v->type = TR_ARR;
		rc = jp_items(jp, v, depth);
		break;
	case '"':
		v->type = TR_STR;
		rc = jp_string(jp, &v->str, &v->len);
		break;
	case 't':
		v->type = TR_BOOL;
		v->b = 1;
		rc = jp_word(jp, "true");
		break;
	case 'f':
		v->type = TR_BOOL;
		rc = jp_word(jp, "false");
		break;
	case 'n':
		v->type = TR_NULL;
		rc = jp_word(jp, "null");
		break;
	default:
		v->type = TR_NUM;
		rc = jp_number(jp, &v->num);
		break;
	}
	if (rc)
		return NULL;
	v->raw_len = (size_t)(jp->p - v->raw);
	return v;
}

/* Parses one JSON text into the arena. NULL with jp->err set when it is not exactly one
 * value (or memory ran out: jp->oom). */
static struct tr_val *json_parse(struct tr_parser *jp, const char *text, struct arena *a)
{
	struct tr_val *v;

	memset(jp, 0, sizeof *jp);
	jp->p = text;
	jp->end = text + strlen(text);
	jp->arena = a;
	v = jp_value(jp, 0);
	if (!v)
		return NULL;
	jp_space(jp);
	if (jp->p != jp->end) {
		jp_fail(jp, "text after the value");
		return NULL;
	}
	return v;
}

/* ---- partial matching ---- */

/* The member of an object named key; the last one when the name repeats (as the decoder). */
static const struct tr_val *obj_get(const struct tr_val *obj, const char *key, size_t len)
{
	const struct tr_val *m, *found = NULL;

	for (m = obj->first; m; m = m->next)
		if (m->key_len == len && memcmp(m->key, key, len) == 0)
			found = m;
	return found;
}

/* Writes why: "field 'PATH' is ACTUAL, expected EXPECTED" (ACTUAL NULL: missing). */
static int mismatch(const struct tr_buf *path, const struct tr_val *e, const struct tr_val *a,
		    struct tr_buf *why)
{
	int rc;

	if (path->len == 0)
		rc = buf_printf(why, MSG_ALERT_DIFFERS, (int)a->raw_len, a->raw, (int)e->raw_len,
				e->raw);
	else if (!a)
		rc = buf_printf(why, MSG_FIELD_MISSING, path->p, (int)e->raw_len, e->raw);
	else
		rc = buf_printf(why, MSG_FIELD_DIFFERS, path->p, (int)a->raw_len, a->raw,
				(int)e->raw_len, e->raw);
	return rc ? -1 : 0;
}

/* Returns 1 when a matches e, 0 with why written when not, -1 when memory runs out. path is
 * the field path of the pair ("" at the top), restored before returning. */
static int match_val(const struct tr_val *e, const struct tr_val *a, struct tr_buf *path,
		     struct tr_buf *why)
{
	const struct tr_val *ei, *ai;
	size_t mark = path->len, i;
	int rc;

	if (e->type != a->type)
		return mismatch(path, e, a, why);
	switch (e->type) {
	case TR_NULL:
		return 1;
	case TR_BOOL:
		return e->b == a->b ? 1 : mismatch(path, e, a, why);
	case TR_NUM:
		return e->num == a->num ? 1 : mismatch(path, e, a, why);
	case TR_STR:
		return e->len == a->len && memcmp(e->str, a->str, e->len) == 0 ?
			       1 : mismatch(path, e, a, why);
	case TR_ARR:
		if (e->n_items != a->n_items)
			return mismatch(path, e, a, why);
		for (ei = e->first, ai = a->first, i = 0; ei; ei = ei->next, ai = ai->next, i++) {
			if (buf_printf(path, "[%zu]", i))
				return -1;
			rc = match_val(ei, ai, path, why);
			path->len = mark;
			path->p[mark] = '\0';
			if (rc != 1)
				return rc;
		}
		return 1;
	case TR_OBJ:
		for (ei = e->first; ei; ei = ei->next) {
			if ((mark && buf_add(path, ".", 1)) || buf_add(path, ei->key, ei->key_len))
				return -1;
			ai = obj_get(a, ei->key, ei->key_len);
			rc = ai ? match_val(ei, ai, path, why) : mismatch(path, ei, NULL, why);
			path->len = mark;
			path->p[mark] = '\0';
			if (rc != 1)
				return rc;
		}
		return 1;
	}
	return -1;
}

/* After a failed json_parse: -1 with the reason in why, or -2 when memory ran out. */
static int bad_json(const struct tr_parser *jp, const char *which, struct tr_buf *why)
{
	if (jp->oom || buf_printf(why, MSG_BAD_JSON, which, jp->err))
		return -2;
	return -1;
}

/* tr_match_alert with memory exhaustion told apart: -2. */
static int match_alert(const char *expected, const char *actual, struct tr_buf *why)
{
	struct arena a = { 0 };
	struct tr_parser jp;
	struct tr_buf path = { 0 };
	const struct tr_val *e, *act;
	int rc;

	e = json_parse(&jp, expected, &a);
	if (!e) {
		rc = bad_json(&jp, "expected", why);
		goto out_arena;
	}
	act = json_parse(&jp, actual, &a);
	if (!act) {
		rc = bad_json(&jp, "actual", why);
		goto out_arena;
	}
	if (buf_reserve(&path, 0)) { /* path->p is a string from the start */
		rc = -2;
		goto out_arena;
	}
	path.p[0] = '\0';
	rc = match_val(e, act, &path, why);
	if (rc < 0)
		rc = -2;
	tl_free(path.p);
out_arena:
	arena_free(&a);
	return rc;
}

int tr_match_alert(const char *expected, const char *actual, struct tr_buf *why)
{
	int rc = match_alert(expected, actual, why);

	if (rc == -2) {
		why->len = 0;
		buf_str(why, "out of memory");
		return -1;
	}
	return rc;
}

/* ---- the tests: block ---- */

struct tr_event {
	const char *json; /* one JSON line made from the YAML mapping */
	size_t len;
	unsigned line;    /* where it is in the rule file */
};

struct tr_test {
	const char *name;
	struct tr_event *events;  /* inline events */
	size_t n_events;
	const char *events_path;  /* events_file, as opened; NULL for inline events */
	char *file_text;          /* its contents (owned) */
	size_t file_len;
	const char **expect;      /* the expected alerts as JSON texts */
	size_t n_expect;
};

struct tr_file {
	const char *path;
	struct rl_ruleset *rs;
	struct dg_source src;
	int have_src;
	struct arena arena;       /* the YAML tree and the tests */
	struct tr_test *tests;
	size_t n_tests;
};

/* The state of loading one file's tests. */
struct tr_loader {
	struct tr_file *f;
	struct dg_sink *sink;
	int oom;
};

static void report_count(struct dg_sink *sink, const char *name, unsigned n)
{
	fprintf(sink->out, "%s: %u error%s", name, n, n == 1 ? "" : "s");
	if (sink->max_shown && sink->n_errors > sink->max_shown)
		fprintf(sink->out, " (only the first %u of the run are shown)", sink->max_shown);
	fputc('\n', sink->out);
}

/* The span a caret marks for a node: a scalar whole, else its first character. */
static size_t span_of(const struct yl_node *n)
{
	return n->kind == YL_SCALAR && n->end > n->off ? n->end - n->off : 1;
}

/* Converts a YAML node to JSON text in the file's arena; NULL when memory runs out. */
static const char *to_json(struct tr_loader *ld, const struct yl_node *n, size_t *len)
{
	struct tr_buf b = { 0 };
	char *s = NULL;

	if (tr_yaml_to_json(n, &b) == 0)
		s = arena_strndup(&ld->f->arena, b.p, b.len);
	tl_free(b.p);
	if (!s) {
		ld->oom = 1;
		return NULL;
	}
	if (len)
		*len = b.len;
	return s;
}

/* Reads a whole file. Returns 0, or an errno value. */
static int read_file(const char *path, char **out, size_t *out_len)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return errno;
	for (;;) {
		if (tl_grow((void **)&buf, &cap, len + 65536, 1)) {
			rc = ENOMEM;
			goto out_buf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = errno;
			goto out_buf;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*out = buf;
	*out_len = len;
	return 0;
out_buf:
	tl_free(buf);
	close(fd);
	return rc;
}

/* events_file is relative to the directory of the rule file. */
static const char *resolve_path(struct tr_loader *ld, const struct yl_node *v)
{
	const char *slash = strrchr(ld->f->path, '/');
	size_t dir_len = v->str[0] == '/' || !slash ? 0 : (size_t)(slash - ld->f->path) + 1;
	char *p = arena_alloc(&ld->f->arena, dir_len + v->len + 1);

	if (!p) {
		ld->oom = 1;
		return NULL;
	}
	memcpy(p, ld->f->path, dir_len);
	memcpy(p + dir_len, v->str, v->len + 1);
	return p;
}

/* events:  [ {field: value, ...}, ... ] */
static void load_events(struct tr_loader *ld, const struct yl_node *v, struct tr_test *t)
{
	const struct tr_file *f = ld->f;
	size_t i;

	if (v->kind != YL_SEQ) {
		dg_error(ld->sink, &f->src, v->off, span_of(v), MSG_EVENTS_NOT_LIST);
		return;
	}
	if (v->n_items > SIZE_MAX / sizeof *t->events)
		goto oom;
	t->events = arena_alloc(&ld->f->arena, v->n_items * sizeof *t->events);
	if (!t->events && v->n_items)
		goto oom;
	for (i = 0; i < v->n_items; i++) {
		const struct yl_node *ev = v->items[i];
		struct tr_event *te = &t->events[t->n_events];
		unsigned col;

		if (ev->kind != YL_MAP) {
			dg_error(ld->sink, &f->src, ev->off, span_of(ev), MSG_EVENT_NOT_MAP);
			continue;
		}
		te->json = to_json(ld, ev, &te->len);
		if (!te->json)
			return;
		dg_linecol(&f->src, ev->off, &te->line, &col);
		t->n_events++;
	}
	return;
oom:
	ld->oom = 1;
}

/* events_file:  PATH   (NDJSON, relative to the rule file) */
static void load_events_file(struct tr_loader *ld, const struct yl_node *v, struct tr_test *t)
{
	const char *path;
	int rc;

	if (v->kind != YL_SCALAR || v->len == 0 || yl_is_null(v)) {
		dg_error(ld->sink, &ld->f->src, v->off, span_of(v), MSG_BAD_EVENTS_FILE);
		return;
	}
	path = resolve_path(ld, v);
	if (!path)
		return;
	rc = read_file(path, &t->file_text, &t->file_len);
	if (rc == ENOMEM) {
		ld->oom = 1;
		return;
	}
	if (rc) {
		dg_error(ld->sink, &ld->f->src, v->off, span_of(v), MSG_UNREADABLE, path,
			 strerror(rc));
		return;
	}
	t->events_path = path;
}

/* expect:  [ {alert field: value, ...}, ... ]   ([] when no alert may fire) */
static void load_expect(struct tr_loader *ld, const struct yl_node *v, struct tr_test *t)
{
	const struct tr_file *f = ld->f;
	size_t i;

	if (v->kind != YL_SEQ) {
		dg_error(ld->sink, &f->src, v->off, span_of(v), MSG_EXPECT_NOT_LIST);
		return;
	}
	if (v->n_items > SIZE_MAX / sizeof *t->expect)
		goto oom;
	t->expect = arena_alloc(&ld->f->arena, v->n_items * sizeof *t->expect);
	if (!t->expect && v->n_items)
		goto oom;
	for (i = 0; i < v->n_items; i++) {
		const struct yl_node *al = v->items[i];

		if (al->kind != YL_MAP) {
			dg_error(ld->sink, &f->src, al->off, span_of(al), MSG_ALERT_NOT_MAP);
			continue;
		}
		t->expect[t->n_expect] = to_json(ld, al, NULL);
		if (!t->expect[t->n_expect])
			return;
		t->n_expect++;
	}
	return;
oom:
	ld->oom = 1;
}

/* name:  a non-empty line of text */
static void load_name(struct tr_loader *ld, const struct yl_node *v, struct tr_test *t)
{
	if (v->kind != YL_SCALAR || v->len == 0 || memchr(v->str, '\n', v->len))
		dg_error(ld->sink, &ld->f->src, v->off, span_of(v), MSG_BAD_NAME);
	else
		t->name = v->str;
}

/* test:  {name: TEXT, events: [...] | events_file: PATH, expect: [...]}
 * Missing keys are reported at the start of the test, then each key in the order written. */
static void load_test(struct tr_loader *ld, const struct yl_node *m, struct tr_test *t)
{
	const struct dg_source *src = &ld->f->src;
	const struct yl_node *events, *file;
	size_t i;

	if (m->kind != YL_MAP) {
		dg_error(ld->sink, src, m->off, span_of(m), MSG_TEST_NOT_MAP);
		return;
	}
	events = yl_map_get(m, "events");
	file = yl_map_get(m, "events_file");
	if (!yl_map_get(m, "name"))
		dg_error(ld->sink, src, m->off, 1, MSG_NO_NAME);
	if (!events && !file)
		dg_error(ld->sink, src, m->off, 1, MSG_NO_EVENTS);
	if (!yl_map_get(m, "expect"))
		dg_error(ld->sink, src, m->off, 1, MSG_NO_EXPECT);
	for (i = 0; i + 1 < m->n_items && !ld->oom; i += 2) {
		const struct yl_node *k = m->items[i], *v = m->items[i + 1];

		if (strcmp(k->str, "name") == 0) {
			load_name(ld, v, t);
		} else if (strcmp(k->str, "events") == 0 || strcmp(k->str, "events_file") == 0) {
			/* with both, the second one is the error, and neither is read */
			if (events && file) {
				if (v == (events->off > file->off ? events : file))
					dg_error(ld->sink, src, k->off, span_of(k), MSG_BOTH_EVENTS);
			} else if (v == events) {
				load_events(ld, v, t);
			} else {
				load_events_file(ld, v, t);
			}
		} else if (strcmp(k->str, "expect") == 0) {
			load_expect(ld, v, t);
		} else {
			dg_error(ld->sink, src, k->off, span_of(k), MSG_UNKNOWN_KEY, k->str);
		}
	}
}

/* Loads a file's rules and tests. Returns 0, TR_EXIT_RULES after reporting errors, or
 * TR_EXIT_IO when memory runs out. */
static int load_file(struct tr_file *f, struct dg_sink *sink, FILE *err)
{
	struct tr_loader ld = { f, sink, 0 };
	const struct yl_node *root, *tests;
	unsigned before = sink->n_errors;
	char errbuf[256];
	size_t i;

	f->rs = rl_load(&f->path, 1, sink);
	if (!f->rs)
		return TR_EXIT_RULES; /* reported, with the count; the tests wait for good rules */
	if (dg_source_load(&f->src, f->path, TR_MAX_FILE, errbuf, sizeof errbuf)) {
		dg_error_file(sink, f->path, "%s", errbuf);
		return TR_EXIT_RULES;
	}
	f->have_src = 1;
	/* the rules loaded, so this tree has no refusals: nothing is reported twice */
	root = yl_load(&f->src, &f->arena, sink);
	if (!root || root->kind != YL_MAP)
		goto out_count;
	tests = yl_map_get(root, "tests");
	if (!tests || yl_is_null(tests))
		return 0;
	if (tests->kind != YL_SEQ) {
		dg_error(sink, &f->src, tests->off, span_of(tests), MSG_TESTS_NOT_LIST);
		goto out_count;
	}
	if (tests->n_items > SIZE_MAX / sizeof *f->tests)
		goto out_oom;
	f->tests = arena_alloc(&f->arena, tests->n_items * sizeof *f->tests);
	if (!f->tests && tests->n_items)
		goto out_oom;
	f->n_tests = tests->n_items;
	for (i = 0; i < tests->n_items && !ld.oom; i++)
		load_test(&ld, tests->items[i], &f->tests[i]);
	if (ld.oom)
		goto out_oom;
out_count:
	if (sink->n_errors == before)
		return 0;
	report_count(sink, f->path, sink->n_errors - before);
	return TR_EXIT_RULES;
out_oom:
	fputs(MSG_OOM, err);
	return TR_EXIT_IO;
}

static void free_file(struct tr_file *f)
{
	size_t i;

	for (i = 0; i < f->n_tests; i++)
		tl_free(f->tests[i].file_text);
	arena_free(&f->arena);
	if (f->have_src)
		dg_source_free(&f->src);
	rl_free(f->rs);
}

/* ---- running a test ---- */

struct tr_capture {
	char **alerts; /* each without its "\n" */
	size_t n_alerts, cap_alerts;
	int oom;
};

static void collect(void *ctx, const char *line, size_t len, int is_alert)
{
	struct tr_capture *c = ctx;
	char *s;

	if (!is_alert || c->oom)
		return;
	if (len && line[len - 1] == '\n')
		len--;
	if (tl_grow((void **)&c->alerts, &c->cap_alerts, c->n_alerts + 1, sizeof *c->alerts) ||
	    !(s = tl_strndup(line, len))) {
		c->oom = 1;
		return;
	}
	c->alerts[c->n_alerts++] = s;
}

/* What one test did, for the report. */
struct tr_result {
	struct tr_capture cap;
	struct tr_buf notes; /* the lines that say why it failed */
	int failed;
};

/* A malformed event line: reported on err as the run command does, and it fails the test.
 * Returns 0, or -1 when memory runs out. */
static int malformed(struct tr_result *res, FILE *err, const char *name, uint64_t lineno,
		     const char *reason)
{
	fprintf(err, "tripline: %s:%llu: %s\n", name, (unsigned long long)lineno, reason);
	res->failed = 1;
	return buf_printf(&res->notes, MSG_MALFORMED, name, (unsigned long long)lineno, reason);
}

/* Feeds one line. Returns 0, or -1 when memory runs out. */
static int feed(struct tl_engine *e, struct tr_result *res, FILE *err, const char *name,
		uint64_t lineno, const char *line, size_t len)
{
	char reason[512];

	switch (tl_engine_feed(e, line, len, reason, sizeof reason)) {
	case TL_FEED_OK:
	case TL_FEED_LATE: /* a late event is dropped, as in a run, and may be what is tested */
		return 0;
	case TL_FEED_MALFORMED:
		break;
	case TL_FEED_NOMEM:
	default:
		return -1;
	}
	return malformed(res, err, name, lineno, reason);
}

/* Feeds an events file line by line, as the run command reads an input. */
static int feed_file(struct tl_engine *e, struct tr_result *res, FILE *err,
		     const struct tr_test *t)
{
	struct rd_reader *rd = rd_open_mem(t->file_text, t->file_len, TR_MAX_LINE, NULL);
	struct rd_line ln;
	char reason[64];
	int rc = 0;

	if (!rd)
		return -1;
	while (rc == 0 && rd_next(rd, &ln) == RD_LINE) {
		if (ln.too_long) {
			snprintf(reason, sizeof reason, MSG_TOO_LONG, TR_MAX_LINE);
			rc = malformed(res, err, t->events_path, ln.lineno, reason);
			continue;
		}
		if (rd_blank(ln.text, ln.len))
			continue;
		rc = feed(e, res, err, t->events_path, ln.lineno, ln.text, ln.len);
	}
	rd_close(rd);
	return rc;
}

/* Compares the alerts with the expected ones: the first that differs, then the count. */
static int compare(const struct tr_test *t, struct tr_result *res)
{
	size_t n_act = res->cap.n_alerts, n, i;
	struct tr_buf why = { 0 };
	int rc = 0;

	n = n_act < t->n_expect ? n_act : t->n_expect;
	for (i = 0; i < n; i++) {
		why.len = 0;
		rc = match_alert(t->expect[i], res->cap.alerts[i], &why);
		if (rc == -2)
			goto out_why;
		if (rc != 1) {
			res->failed = 1;
			if (buf_printf(&res->notes, MSG_ALERT_N, i + 1, why.p))
				rc = -2;
			break;
		}
	}
	if (rc != -2 && n_act != t->n_expect) {
		size_t d = n_act > t->n_expect ? n_act - t->n_expect : t->n_expect - n_act;

		res->failed = 1;
		if (buf_printf(&res->notes, MSG_COUNT, d, n_act > t->n_expect ? "more" : "fewer",
			       d == 1 ? "" : "s"))
			rc = -2;
	}
out_why:
	tl_free(why.p);
	return rc == -2 ? -1 : 0;
}

static void print_result(const struct tr_file *f, const struct tr_test *t,
			 const struct tr_result *res, FILE *out)
{
	size_t i;

	if (!res->failed) {
		fprintf(out, "ok   %s: %s\n", f->path, t->name);
		return;
	}
	fprintf(out, "FAIL %s: %s\n", f->path, t->name);
	if (!t->n_expect)
		fputs("  expected: (no alerts)\n", out);
	for (i = 0; i < t->n_expect; i++)
		fprintf(out, "  expected: %s\n", t->expect[i]);
	if (!res->cap.n_alerts)
		fputs("  actual:   (no alerts)\n", out);
	for (i = 0; i < res->cap.n_alerts; i++)
		fprintf(out, "  actual:   %s\n", res->cap.alerts[i]);
	if (res->notes.len)
		fputs(res->notes.p, out);
}

/* Runs one test on a fresh engine and prints its result. Returns 1 passed, 0 failed, -1 when
 * memory runs out. */
static int run_test(const struct tr_file *f, const struct tr_test *t, FILE *out, FILE *err)
{
	struct tr_result res = { 0 };
	struct tl_engine_opts opts = { 0 };
	struct tl_engine *e;
	size_t i;
	int rc = -1;

	opts.emit = collect;
	opts.ctx = &res.cap;
	e = tl_engine_new(f->rs, &opts);
	if (!e)
		goto out_result;
	if (t->events_path) {
		if (feed_file(e, &res, err, t))
			goto out_engine;
	} else {
		for (i = 0; i < t->n_events; i++)
			if (feed(e, &res, err, f->path, t->events[i].line, t->events[i].json,
				 t->events[i].len))
				goto out_engine;
	}
	if (tl_engine_finish(e) || res.cap.oom || compare(t, &res))
		goto out_engine;
	print_result(f, t, &res, out);
	rc = !res.failed;
out_engine:
	tl_engine_free(e);
out_result:
	for (i = 0; i < res.cap.n_alerts; i++)
		tl_free(res.cap.alerts[i]);
	tl_free(res.cap.alerts);
	tl_free(res.notes.p);
	return rc;
}

int tr_run(const char *const *paths, size_t n_paths, FILE *out, FILE *err)
{
	struct dg_sink sink = { err, 0, TR_MAX_ERRORS };
	struct tr_file *files;
	unsigned long n_passed = 0, n_failed = 0;
	size_t i, j;
	int rc = TR_EXIT_OK;

	if (n_paths == 0) {
		fputs("usage: tripline test RULES...\n", err);
		return TR_EXIT_IO;
	}
	files = tl_calloc(n_paths, sizeof *files);
	if (!files) {
		fputs(MSG_OOM, err);
		return TR_EXIT_IO;
	}
	/* every file first: nothing runs unless all of them, rules and tests, are valid */
	for (i = 0; i < n_paths; i++) {
		int r;

		files[i].path = paths[i];
		r = load_file(&files[i], &sink, err);
		if (r == TR_EXIT_IO) {
			rc = TR_EXIT_IO;
			goto out_files;
		}
		if (r)
			rc = r;
	}
	if (rc)
		goto out_files;
	for (i = 0; i < n_paths; i++) {
		const struct tr_file *f = &files[i];

		if (!f->n_tests)
			fprintf(out, "%s: no tests\n", f->path);
		for (j = 0; j < f->n_tests; j++) {
			int r = run_test(f, &f->tests[j], out, err);

			if (r < 0) {
				fputs(MSG_OOM, err);
				rc = TR_EXIT_IO;
				goto out_files;
			}
			if (r)
				n_passed++;
			else
				n_failed++;
		}
	}
	fprintf(out, "%lu passed, %lu failed\n", n_passed, n_failed);
	rc = n_failed ? TR_EXIT_FAILED : TR_EXIT_OK;
out_files:
	for (i = 0; i < n_paths; i++)
		free_file(&files[i]);
	tl_free(files);
	if (fflush(out) || ferror(out)) {
		fprintf(err, "tripline: error writing output: %s\n", strerror(errno));
		rc = TR_EXIT_IO;
	}
	return rc;
}
