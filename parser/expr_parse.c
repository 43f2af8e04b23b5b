/* expr_parse.c - lexer and precedence-climbing parser for rule expressions.
 *
 * Pipeline position: parser. Text of a `where`, `when` or an `emit` template part -> ex_node
 * tree (see expr.h for the grammar). One error stops the parse; the rule layer reports it at its
 * place in the rule file.
 */
#include "expr.h"
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ex_kind_text[EX_N_KINDS] = {
#define EX_TEXT(name, text) text,
	EX_KINDS(EX_TEXT)
#undef EX_TEXT
};

#define EX_MAX_DEPTH 200

enum tok {
	T_END, T_NUM, T_STR, T_NAME, T_QNAME, /* QNAME: `quoted name` */
	T_LP, T_RP, T_LB, T_RB, T_COMMA, T_DOT,
	T_OR, T_AND, T_BANG, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
	T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PCT,
	T_ERR,
};

struct lexer {
	const char *src;
	size_t len, pos;
	enum tok tok;
	size_t tok_off, tok_len;
	const char *str; /* T_STR (unescaped), T_NAME, T_QNAME */
	size_t str_len;
	double num;
	struct arena *a;
	struct ex_error *err;
	int failed;
	int depth;
};

static void fail(struct lexer *lx, size_t off, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fail(struct lexer *lx, size_t off, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (lx->failed)
		return;
	lx->failed = 1;
	va_start(ap, fmt);
	vsnprintf(lx->err->msg, sizeof lx->err->msg, fmt, ap);
	va_end(ap);
	lx->err->off = off;
	lx->err->len = len;
}

static int is_name_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(int c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* "..." or '...' with escapes \" \' \\ \/ \n \t \r \b \f \uXXXX (surrogate pairs joined). */
static void lex_string(struct lexer *lx)
{
	char q = lx->src[lx->pos];
	size_t start = lx->pos, i = lx->pos + 1, n = 0;
	char *out = arena_alloc(lx->a, lx->len - lx->pos + 1);

	if (!out) {
		fail(lx, start, 1, "out of memory");
		lx->tok = T_ERR;
		return;
	}
	for (;;) {
		char c;

		if (i >= lx->len) {
			fail(lx, start, i - start, "unterminated string");
			lx->tok = T_ERR;
			return;
		}
		c = lx->src[i];
		if (c == q) {
			i++;
			break;
		}
		if (c != '\\') {
			out[n++] = c;
			i++;
			continue;
		}
		if (i + 1 >= lx->len) {
			fail(lx, i, 1, "unterminated string");
			lx->tok = T_ERR;
			return;
		}
		c = lx->src[i + 1];
		i += 2;
		switch (c) {
		case '"': case '\'': case '\\': case '/':
			out[n++] = c;
			break;
		case 'n': out[n++] = '\n'; break;
		case 't': out[n++] = '\t'; break;
		case 'r': out[n++] = '\r'; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'u': {
			unsigned long cp = 0;
			int k;

			for (k = 0; k < 4; k++) {
				int h = i + k < lx->len ? hexval((unsigned char)lx->src[i + k]) : -1;

				if (h < 0) {
					fail(lx, i - 2, 2, "\\u needs four hex digits");
					lx->tok = T_ERR;
					return;
				}
				cp = cp * 16 + (unsigned long)h;
			}
			i += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= lx->len && lx->src[i] == '\\' &&
			    lx->src[i + 1] == 'u') {
				unsigned long lo = 0;

				for (k = 0; k < 4; k++) {
					int h = hexval((unsigned char)lx->src[i + 2 + k]);

					if (h < 0)
						break;
					lo = lo * 16 + (unsigned long)h;
				}
				if (k == 4 && lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					i += 6;
				}
			}
			if (cp >= 0xD800 && cp <= 0xDFFF) {
				fail(lx, i - 6, 6, "lone surrogate in \\u escape");
				lx->tok = T_ERR;
				return;
			}
			n += put_utf8(out + n, cp);
			break;
		}
		default:
			fail(lx, i - 2, 2, "unknown escape '\\%c' in string", c);
			lx->tok = T_ERR;
			return;
		}
	}
	out[n] = '\0';
	lx->str = out;
	lx->str_len = n;
	lx->tok = T_STR;
	lx->tok_len = i - start;
	lx->pos = i;
}

static void lex_number(struct lexer *lx)
{
	size_t start = lx->pos, i = lx->pos;
	char buf[64];
	char *end;

	while (i < lx->len && is_digit(lx->src[i]))
		i++;
	if (i < lx->len && lx->src[i] == '.' && i + 1 < lx->len && is_digit(lx->src[i + 1])) {
		i++;
		while (i < lx->len && is_digit(lx->src[i]))
			i++;
	}
	if (i < lx->len && (lx->src[i] == 'e' || lx->src[i] == 'E')) {
		size_t j = i + 1;

		if (j < lx->len && (lx->src[j] == '+' || lx->src[j] == '-'))
			j++;
		if (j < lx->len && is_digit(lx->src[j])) {
			i = j;
			while (i < lx->len && is_digit(lx->src[i]))
				i++;
		}
	}
	if (i < lx->len && is_name_char(lx->src[i])) {
		size_t j = i;

		while (j < lx->len && is_name_char(lx->src[j]))
			j++;
		fail(lx, start, j - start, "invalid number '%.*s'", (int)(j - start),
		     lx->src + start);
		lx->tok = T_ERR;
		return;
	}
	if (i - start >= sizeof buf) {
		fail(lx, start, i - start, "number is too long");
		lx->tok = T_ERR;
		return;
	}
	memcpy(buf, lx->src + start, i - start);
	buf[i - start] = '\0';
	lx->num = strtod(buf, &end);
	if (lx->num > 1.7976931348623157e308) {
		fail(lx, start, i - start, "number is out of range");
		lx->tok = T_ERR;
		return;
	}
	lx->tok = T_NUM;
	lx->tok_len = i - start;
	lx->pos = i;
}

static void next(struct lexer *lx)
{
	const char *s = lx->src;
	size_t i;

	if (lx->failed) {
		lx->tok = T_ERR;
		return;
	}
	while (lx->pos < lx->len &&
	       (s[lx->pos] == ' ' || s[lx->pos] == '\t' || s[lx->pos] == '\n' || s[lx->pos] == '\r'))
		lx->pos++;
	i = lx->pos;
	lx->tok_off = i;
	lx->tok_len = 1;
	if (i >= lx->len) {
		lx->tok = T_END;
		lx->tok_len = 0;
		return;
	}
	switch (s[i]) {
	case '(': lx->tok = T_LP; break;
	case ')': lx->tok = T_RP; break;
	case '[': lx->tok = T_LB; break;
	case ']': lx->tok = T_RB; break;
	case ',': lx->tok = T_COMMA; break;
	case '.': lx->tok = T_DOT; break;
	case '+': lx->tok = T_PLUS; break;
	case '-': lx->tok = T_MINUS; break;
	case '*': lx->tok = T_STAR; break;
	case '/': lx->tok = T_SLASH; break;
	case '%': lx->tok = T_PCT; break;
	case '"': case '\'':
		lex_string(lx);
		return;
	case '`': {
		size_t j = i + 1;

		while (j < lx->len && s[j] != '`')
			j++;
		if (j >= lx->len) {
			fail(lx, i, j - i, "unterminated `quoted name`");
			lx->tok = T_ERR;
			return;
		}
		if (j == i + 1) {
			fail(lx, i, 2, "empty `quoted name`");
			lx->tok = T_ERR;
			return;
		}
		lx->tok = T_QNAME;
		lx->str = s + i + 1;
		lx->str_len = j - i - 1;
		lx->tok_len = j + 1 - i;
		lx->pos = j + 1;
		return;
	}
	case '|': case '&':
		if (i + 1 < lx->len && s[i + 1] == s[i]) {
			lx->tok = s[i] == '|' ? T_OR : T_AND;
			lx->tok_len = 2;
			break;
		}
		fail(lx, i, 1, "unexpected '%c' (did you mean '%c%c'?)", s[i], s[i], s[i]);
		lx->tok = T_ERR;
		return;
	case '=':
		if (i + 1 < lx->len && s[i + 1] == '=') {
			lx->tok = T_EQ;
			lx->tok_len = 2;
			break;
		}
		fail(lx, i, 1, "unexpected '=' (did you mean '=='?)");
		lx->tok = T_ERR;
		return;
	case '!':
		if (i + 1 < lx->len && s[i + 1] == '=') {
			lx->tok = T_NE;
			lx->tok_len = 2;
		} else {
			lx->tok = T_BANG;
		}
		break;
	case '<': case '>':
		if (i + 1 < lx->len && s[i + 1] == '=') {
			lx->tok = s[i] == '<' ? T_LE : T_GE;
			lx->tok_len = 2;
		} else {
			lx->tok = s[i] == '<' ? T_LT : T_GT;
		}
		break;
	default:
		if (is_digit(s[i])) {
			lex_number(lx);
			return;
		}
		if (is_name_start(s[i])) {
			size_t j = i;

			while (j < lx->len && is_name_char(s[j]))
				j++;
			lx->tok = T_NAME;
			lx->str = s + i;
			lx->str_len = j - i;
			lx->tok_len = j - i;
			lx->pos = j;
			return;
		}
		if ((unsigned char)s[i] >= 0x80)
			fail(lx, i, 1, "unexpected non-ASCII character (quote names with `backticks`)");
		else
			fail(lx, i, 1, "unexpected character '%c'", s[i]);
		lx->tok = T_ERR;
		return;
	}
	lx->pos = i + lx->tok_len;
}

static int is_word(const struct lexer *lx, const char *w)
{
	size_t n = strlen(w);

	return lx->tok == T_NAME && lx->str_len == n && memcmp(lx->str, w, n) == 0;
}

static struct ex_node *new_node(struct lexer *lx, enum ex_kind kind, size_t off, size_t end)
{
	struct ex_node *n = arena_alloc(lx->a, sizeof *n);

	if (!n) {
		fail(lx, off, 0, "out of memory");
		return NULL;
	}
	n->kind = (uint8_t)kind;
	n->height = 1;
	n->off = (uint32_t)off;
	n->len = (uint32_t)(end > off ? end - off : 0);
	return n;
}

/* Sets the height of n from its kids; 0, or -1 when the tree grows too deep for the walkers
 * that recurse over it (chains such as a + b + c ... grow it without nesting parentheses). */
static int tall_at(struct lexer *lx, struct ex_node *n, size_t off, size_t len)
{
	size_t i;
	unsigned h = 0;

	for (i = 0; i < n->n_kids; i++)
		if (n->kids[i]->height > h)
			h = n->kids[i]->height;
	if (h + 1 > EX_MAX_DEPTH) {
		fail(lx, off, len, "expression is nested too deeply");
		return -1;
	}
	n->height = (uint16_t)(h + 1);
	return 0;
}

static int tall(struct lexer *lx, struct ex_node *n)
{
	return tall_at(lx, n, n->off, n->len);
}

static struct ex_node *binary(struct lexer *lx, enum ex_kind kind, struct ex_node *l,
			      struct ex_node *r)
{
	struct ex_node *n;

	if (!l || !r)
		return NULL;
	n = new_node(lx, kind, l->off, r->off + r->len);
	if (!n)
		return NULL;
	n->kids = arena_alloc(lx->a, 2 * sizeof *n->kids);
	if (!n->kids) {
		fail(lx, l->off, 0, "out of memory");
		return NULL;
	}
	n->kids[0] = l;
	n->kids[1] = r;
	n->n_kids = 2;
	return tall_at(lx, n, r->off, r->len) ? NULL : n; /* points at the operand too many */
}

/* Appends to a growable array of nodes kept in the arena (copied on growth). */
static int push_kid(struct lexer *lx, struct ex_node ***kids, size_t *n, size_t *cap,
		    struct ex_node *k)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct ex_node **nk = arena_alloc(lx->a, ncap * sizeof *nk);

		if (!nk) {
			fail(lx, k->off, 0, "out of memory");
			return -1;
		}
		if (*n)
			memcpy(nk, *kids, *n * sizeof *nk);
		*kids = nk;
		*cap = ncap;
	}
	(*kids)[(*n)++] = k;
	return 0;
}

static struct ex_node *parse_or(struct lexer *lx);

static int expect(struct lexer *lx, enum tok t, const char *what)
{
	if (lx->tok == t) {
		next(lx);
		return 0;
	}
	if (lx->tok == T_END)
		fail(lx, lx->tok_off, 0, "expected %s at the end of the expression", what);
	else
		fail(lx, lx->tok_off, lx->tok_len, "expected %s, found '%.*s'", what,
		     (int)lx->tok_len, lx->src + lx->tok_off);
	return -1;
}

/* '(' or-expr [',' or-expr]* ')' or '[' ... ']', already past the opener. */
static int parse_items(struct lexer *lx, enum tok close, struct ex_node ***kids, size_t *n)
{
	size_t cap = 0;

	*kids = NULL;
	*n = 0;
	if (lx->tok == close) {
		next(lx);
		return 0;
	}
	for (;;) {
		struct ex_node *k = parse_or(lx);

		if (!k || push_kid(lx, kids, n, &cap, k))
			return -1;
		if (lx->tok == T_COMMA) {
			next(lx);
			continue;
		}
		return expect(lx, close, close == T_RP ? "',' or ')'" : "',' or ']'");
	}
}

/* name ('.' name)* where the first name is already the current token. */
static int parse_segs(struct lexer *lx, struct ex_node *n)
{
	size_t cap = 0;

	for (;;) {
		if (n->n_segs == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			const char **s = arena_alloc(lx->a, ncap * sizeof *s);
			size_t *l = arena_alloc(lx->a, ncap * sizeof *l);

			if (!s || !l) {
				fail(lx, lx->tok_off, 0, "out of memory");
				return -1;
			}
			if (n->n_segs) {
				memcpy(s, n->segs, n->n_segs * sizeof *s);
				memcpy(l, n->seg_lens, n->n_segs * sizeof *l);
			}
			n->segs = s;
			n->seg_lens = l;
			cap = ncap;
		}
		n->segs[n->n_segs] = arena_strndup(lx->a, lx->str, lx->str_len);
		if (!n->segs[n->n_segs]) {
			fail(lx, lx->tok_off, 0, "out of memory");
			return -1;
		}
		n->seg_lens[n->n_segs++] = lx->str_len;
		n->len = (uint32_t)(lx->tok_off + lx->tok_len - n->off);
		next(lx);
		if (lx->tok != T_DOT)
			return 0;
		next(lx);
		if (lx->tok != T_NAME && lx->tok != T_QNAME) {
			expect(lx, T_NAME, "a field name after '.'");
			return -1;
		}
	}
}

static struct ex_node *parse_primary(struct lexer *lx)
{
	struct ex_node *n;
	size_t off = lx->tok_off;

	switch (lx->tok) {
	case T_NUM:
		n = new_node(lx, EX_LIT, off, off + lx->tok_len);
		if (n) {
			n->val.type = TL_NUM;
			n->val.num = lx->num;
		}
		next(lx);
		return n;
	case T_STR:
		n = new_node(lx, EX_LIT, off, off + lx->tok_len);
		if (n) {
			n->val.type = TL_STR;
			n->val.str = lx->str;
			n->val.len = (uint32_t)lx->str_len;
		}
		next(lx);
		return n;
	case T_LP:
		next(lx);
		n = parse_or(lx);
		if (!n || expect(lx, T_RP, "')'"))
			return NULL;
		return n;
	case T_LB:
		n = new_node(lx, EX_LIST, off, off);
		next(lx);
		if (!n || parse_items(lx, T_RB, &n->kids, &n->n_kids))
			return NULL;
		n->len = (uint32_t)(lx->tok_off > off ? lx->src + lx->tok_off - (lx->src + off) : 0);
		return tall(lx, n) ? NULL : n;
	case T_QNAME:
		n = new_node(lx, EX_PATH, off, off);
		if (!n || parse_segs(lx, n))
			return NULL;
		return n;
	case T_NAME:
		if (is_word(lx, "true") || is_word(lx, "false") || is_word(lx, "null")) {
			n = new_node(lx, EX_LIT, off, off + lx->tok_len);
			if (n) {
				n->val.type = is_word(lx, "null") ? TL_NULL : TL_BOOL;
				n->val.b = is_word(lx, "true");
			}
			next(lx);
			return n;
		}
		if (lx->pos < lx->len && lx->src[lx->pos] == '(') {
			n = new_node(lx, EX_CALL, off, off);
			if (!n)
				return NULL;
			n->name = arena_strndup(lx->a, lx->str, lx->str_len);
			n->name_len = lx->str_len;
			if (!n->name) {
				fail(lx, off, 0, "out of memory");
				return NULL;
			}
			next(lx);
			next(lx);
			if (parse_items(lx, T_RP, &n->kids, &n->n_kids))
				return NULL;
			n->len = (uint32_t)(lx->tok_off - off);
			if (lx->tok == T_END)
				n->len = (uint32_t)(lx->len - off);
			/* trim trailing spaces out of the span */
			while (n->len && (lx->src[off + n->len - 1] == ' '))
				n->len--;
			if (tall(lx, n))
				return NULL;
			while (lx->tok == T_DOT) {
				struct ex_node *m = new_node(lx, EX_MEMBER, off, off);

				next(lx);
				if (!m)
					return NULL;
				if (lx->tok != T_NAME && lx->tok != T_QNAME) {
					expect(lx, T_NAME, "a field name after '.'");
					return NULL;
				}
				m->kids = arena_alloc(lx->a, sizeof *m->kids);
				if (!m->kids) {
					fail(lx, off, 0, "out of memory");
					return NULL;
				}
				m->kids[0] = n;
				m->n_kids = 1;
				if (parse_segs(lx, m) || tall(lx, m))
					return NULL;
				n = m;
			}
			return n;
		}
		n = new_node(lx, EX_PATH, off, off);
		if (!n || parse_segs(lx, n))
			return NULL;
		return n;
	case T_END:
		fail(lx, off, 0, "expected a value at the end of the expression");
		return NULL;
	case T_ERR:
		return NULL;
	default:
		fail(lx, off, lx->tok_len, "expected a value, found '%.*s'", (int)lx->tok_len,
		     lx->src + off);
		return NULL;
	}
}

/* A prefix operator at the current token, its operand parsed by sub one level deeper.
 * A minus before a number literal folds into the literal. */
static struct ex_node *prefix(struct lexer *lx, enum ex_kind kind,
			      struct ex_node *(*sub)(struct lexer *))
{
	size_t off = lx->tok_off;
	struct ex_node *k, *n;

	if (++lx->depth > EX_MAX_DEPTH) {
		fail(lx, off, 1, "expression is nested too deeply");
		return NULL;
	}
	next(lx);
	k = sub(lx);
	lx->depth--;
	if (!k)
		return NULL;
	if (kind == EX_NEG && k->kind == EX_LIT && k->val.type == TL_NUM) {
		k->val.num = -k->val.num;
		k->len += (uint32_t)(k->off - off);
		k->off = (uint32_t)off;
		return k;
	}
	n = new_node(lx, kind, off, k->off + k->len);
	if (!n)
		return NULL;
	n->kids = arena_alloc(lx->a, sizeof *n->kids);
	if (!n->kids) {
		fail(lx, off, 0, "out of memory");
		return NULL;
	}
	n->kids[0] = k;
	n->n_kids = 1;
	return tall(lx, n) ? NULL : n;
}

static struct ex_node *parse_unary(struct lexer *lx)
{
	if (lx->tok == T_MINUS)
		return prefix(lx, EX_NEG, parse_unary);
	return parse_primary(lx);
}

static struct ex_node *parse_mul(struct lexer *lx)
{
	struct ex_node *l = parse_unary(lx);

	while (l && (lx->tok == T_STAR || lx->tok == T_SLASH || lx->tok == T_PCT)) {
		enum ex_kind k = lx->tok == T_STAR ? EX_MUL : lx->tok == T_SLASH ? EX_DIV : EX_MOD;

		next(lx);
		l = binary(lx, k, l, parse_unary(lx));
	}
	return l;
}

static struct ex_node *parse_add(struct lexer *lx)
{
	struct ex_node *l = parse_mul(lx);

	while (l && (lx->tok == T_PLUS || lx->tok == T_MINUS)) {
		enum ex_kind k = lx->tok == T_PLUS ? EX_ADD : EX_SUB;

		next(lx);
		l = binary(lx, k, l, parse_mul(lx));
	}
	return l;
}

/* The comparison operator at the current token, or -1; consumes 'not' of 'not in'. */
static int cmp_op(struct lexer *lx)
{
	switch (lx->tok) {
	case T_EQ: return EX_EQ;
	case T_NE: return EX_NE;
	case T_LT: return EX_LT;
	case T_LE: return EX_LE;
	case T_GT: return EX_GT;
	case T_GE: return EX_GE;
	default: break;
	}
	if (is_word(lx, "in"))
		return EX_IN;
	if (is_word(lx, "matches"))
		return EX_MATCHES;
	if (is_word(lx, "contains"))
		return EX_CONTAINS;
	if (is_word(lx, "startswith"))
		return EX_STARTSWITH;
	if (is_word(lx, "endswith"))
		return EX_ENDSWITH;
	if (is_word(lx, "not")) {
		size_t off = lx->tok_off;

		next(lx);
		if (!is_word(lx, "in")) {
			fail(lx, off, 3, "expected 'in' after 'not' (use '!' to negate)");
			return -2;
		}
		return EX_NOT_IN;
	}
	return -1;
}

static struct ex_node *parse_cmp(struct lexer *lx)
{
	struct ex_node *l = parse_add(lx);
	int op;

	if (!l)
		return NULL;
	op = cmp_op(lx);
	if (op == -2)
		return NULL;
	if (op < 0)
		return l;
	next(lx);
	l = binary(lx, (enum ex_kind)op, l, parse_add(lx));
	if (l && cmp_op(lx) >= 0) {
		fail(lx, lx->tok_off, lx->tok_len,
		     "comparisons do not chain: combine them with '&&'");
		return NULL;
	}
	return l;
}

static struct ex_node *parse_not(struct lexer *lx)
{
	if (lx->tok == T_BANG)
		return prefix(lx, EX_NOT, parse_not);
	return parse_cmp(lx);
}

static struct ex_node *parse_and(struct lexer *lx)
{
	struct ex_node *l = parse_not(lx);

	while (l && lx->tok == T_AND) {
		next(lx);
		l = binary(lx, EX_AND, l, parse_not(lx));
	}
	return l;
}

static struct ex_node *parse_or(struct lexer *lx)
{
	struct ex_node *l;

	if (++lx->depth > EX_MAX_DEPTH) {
		fail(lx, lx->tok_off, lx->tok_len, "expression is nested too deeply");
		return NULL;
	}
	l = parse_and(lx);
	while (l && lx->tok == T_OR) {
		next(lx);
		l = binary(lx, EX_OR, l, parse_and(lx));
	}
	lx->depth--;
	return l;
}

struct ex_node *ex_parse(const char *text, size_t len, struct arena *a, struct ex_error *err)
{
	struct lexer lx = { .src = text, .len = len, .a = a, .err = err };
	struct ex_node *n;

	memset(err, 0, sizeof *err);
	next(&lx);
	if (lx.tok == T_END) {
		fail(&lx, 0, 0, "empty expression");
		return NULL;
	}
	n = parse_or(&lx);
	if (n && lx.tok != T_END)
		fail(&lx, lx.tok_off, lx.tok_len, "unexpected '%.*s' after the expression",
		     (int)lx.tok_len, text + lx.tok_off);
	return lx.failed ? NULL : n;
}

int ex_parse_path(const char *text, size_t len, struct arena *a, const char ***segs,
		  size_t **seg_lens, struct ex_error *err)
{
	struct lexer lx = { .src = text, .len = len, .a = a, .err = err };
	struct ex_node n = { 0 };

	memset(err, 0, sizeof *err);
	next(&lx);
	if (lx.tok != T_NAME && lx.tok != T_QNAME) {
		fail(&lx, lx.tok_off, lx.tok_len, "expected a field path such as card or geo.country");
		return -1;
	}
	if (parse_segs(&lx, &n))
		return -1;
	if (lx.tok != T_END) {
		fail(&lx, lx.tok_off, lx.tok_len, "unexpected '%.*s' in a field path",
		     (int)lx.tok_len, text + lx.tok_off);
		return -1;
	}
	*segs = n.segs;
	*seg_lens = n.seg_lens;
	return (int)n.n_segs;
}

/* Unparsing, for `explain` and messages. */

struct sbuf {
	char *buf;
	size_t cap, len;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++, b->len++)
		if (b->len + 1 < b->cap)
			b->buf[b->len] = s[i];
	if (b->cap)
		b->buf[b->len < b->cap ? b->len : b->cap - 1] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* A name that reads back as itself without backticks: an identifier, and not a word of the
 * language (`true`.x written plainly would be the literal true). */
static int is_plain_name(const char *s, size_t n)
{
	static const char *const words[] = { "true", "false", "null", "in", "not", "matches",
					      "contains", "startswith", "endswith" };
	size_t i;

	if (!n || !is_name_start((unsigned char)s[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!is_name_char((unsigned char)s[i]))
			return 0;
	for (i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strlen(words[i]) == n && memcmp(words[i], s, n) == 0)
			return 0;
	return 1;
}

static void sb_segs(struct sbuf *b, const struct ex_node *n)
{
	size_t i;

	for (i = 0; i < n->n_segs; i++) {
		if (i)
			sb_put(b, ".", 1);
		if (is_plain_name(n->segs[i], n->seg_lens[i])) {
			sb_put(b, n->segs[i], n->seg_lens[i]);
		} else {
			sb_put(b, "`", 1);
			sb_put(b, n->segs[i], n->seg_lens[i]);
			sb_put(b, "`", 1);
		}
	}
}

static int prec(const struct ex_node *n)
{
	switch (n->kind) {
	case EX_OR: return 1;
	case EX_AND: return 2;
	case EX_NOT: return 3;
	case EX_EQ: case EX_NE: case EX_LT: case EX_LE: case EX_GT: case EX_GE:
	case EX_IN: case EX_NOT_IN: case EX_MATCHES: case EX_CONTAINS: case EX_STARTSWITH:
	case EX_ENDSWITH: case EX_REGEX:
		return 4;
	case EX_ADD: case EX_SUB: return 5;
	case EX_MUL: case EX_DIV: case EX_MOD: return 6;
	case EX_NEG: return 7;
	default: return 8;
	}
}

static void unparse(struct sbuf *b, const struct ex_node *n);

static void unparse_kid(struct sbuf *b, const struct ex_node *k, int min_prec)
{
	if (prec(k) < min_prec) {
		sb_put(b, "(", 1);
		unparse(b, k);
		sb_put(b, ")", 1);
	} else {
		unparse(b, k);
	}
}

static void unparse_lit(struct sbuf *b, const struct tl_value *v)
{
	char num[40];
	size_t i;

	switch (v->type) {
	case TL_NULL: sb_str(b, "null"); break;
	case TL_BOOL: sb_str(b, v->b ? "true" : "false"); break;
	case TL_NUM:
		sb_put(b, num, jd_format_number(v->num, num));
		break;
	case TL_STR:
		sb_put(b, "\"", 1);
		for (i = 0; i < v->len; i++) {
			char c = v->str[i];

			if (c == '"' || c == '\\') {
				sb_put(b, "\\", 1);
				sb_put(b, &c, 1);
			} else if (c == '\n') {
				sb_str(b, "\\n");
			} else if (c == '\t') {
				sb_str(b, "\\t");
			} else if ((unsigned char)c < 0x20) {
				snprintf(num, sizeof num, "\\u%04x", (unsigned char)c);
				sb_str(b, num);
			} else {
				sb_put(b, &c, 1);
			}
		}
		sb_put(b, "\"", 1);
		break;
	default:
		sb_str(b, "?");
	}
}

static void unparse(struct sbuf *b, const struct ex_node *n)
{
	size_t i;
	int p = prec(n);

	switch (n->kind) {
	case EX_LIT:
		unparse_lit(b, &n->val);
		return;
	case EX_ALIAS:
		if (n->name && n->n_kids == 1 && n->kids[0]->kind == EX_PATH &&
		    n->slot == EX_ALIAS_TIME) { /* time(a) */
			sb_put(b, n->name, n->name_len);
			sb_put(b, "(", 1);
			unparse(b, n->kids[0]);
			sb_put(b, ")", 1);
		} else if (n->n_kids == 1) { /* first(a).f, last(a).f */
			unparse(b, n->kids[0]);
			sb_put(b, ".", 1);
			sb_segs(b, n);
		} else { /* a.f */
			sb_segs(b, n);
		}
		return;
	case EX_SET:
		if (n->n_segs) { /* a named list */
			sb_segs(b, n);
			return;
		}
		/* fall through */
	case EX_LIST:
		sb_put(b, "[", 1);
		for (i = 0; i < n->n_kids; i++) {
			if (i)
				sb_put(b, ", ", 2);
			unparse(b, n->kids[i]);
		}
		sb_put(b, "]", 1);
		return;
	case EX_PATH: case EX_FIELD:
		sb_segs(b, n);
		return;
	case EX_CALL: case EX_FUNC: case EX_AGG:
		sb_put(b, n->name, n->name_len);
		sb_put(b, "(", 1);
		for (i = 0; i < n->n_kids; i++) {
			if (i)
				sb_put(b, ", ", 2);
			unparse(b, n->kids[i]);
		}
		sb_put(b, ")", 1);
		return;
	case EX_MEMBER:
		unparse(b, n->kids[0]);
		sb_put(b, ".", 1);
		sb_segs(b, n);
		return;
	case EX_NOT:
		sb_put(b, "!", 1);
		unparse_kid(b, n->kids[0], p);
		return;
	case EX_NEG:
		sb_put(b, "-", 1);
		unparse_kid(b, n->kids[0], p);
		return;
	default:
		break;
	}
	/* binary operators; comparisons do not chain, so both sides need a tighter operator */
	unparse_kid(b, n->kids[0], p == 4 ? p + 1 : p);
	sb_put(b, " ", 1);
	sb_str(b, n->kind == EX_REGEX ? "matches" : ex_kind_text[n->kind]);
	sb_put(b, " ", 1);
	unparse_kid(b, n->kids[1], p + 1);
}

size_t ex_unparse(const struct ex_node *n, char *buf, size_t cap)
{
	struct sbuf b = { buf, cap, 0 };

	if (cap)
		buf[0] = '\0';
	unparse(&b, n);
	return b.len;
}
