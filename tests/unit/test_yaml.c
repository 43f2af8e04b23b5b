/* test_yaml.c - Check suite for parser/yaml_load.c: the node tree and its positions, every
 * refusal with its exact message and caret, limits, the core-schema helpers, and allocation
 * failure at every allocation. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "diag.h"
#include "yaml_load.h"

/* One load: the source, the arena, and everything the sink printed. */
struct loaded {
	struct dg_source src;
	struct arena arena;
	struct dg_sink sink;
	char *diag;
	size_t diag_len;
	struct yl_node *root;
};

static struct yl_node *load_n(struct loaded *l, const char *text, size_t len)
{
	memset(l, 0, sizeof *l);
	ck_assert_int_eq(dg_source_init_mem(&l->src, "r.yaml", text, len), 0);
	l->sink.out = open_memstream(&l->diag, &l->diag_len);
	ck_assert_ptr_nonnull(l->sink.out);
	l->root = yl_load(&l->src, &l->arena, &l->sink);
	fclose(l->sink.out);
	l->sink.out = NULL;
	return l->root;
}

static struct yl_node *load(struct loaded *l, const char *text)
{
	return load_n(l, text, strlen(text));
}

static void unload(struct loaded *l)
{
	arena_free(&l->arena);
	dg_source_free(&l->src);
	free(l->diag);
}

/* Loads text that must be refused and compares every diagnostic. A refusal that leaves the
 * tree usable (anchor, alias, tag, duplicate key, several documents) still returns it, so
 * that the rule layer can report the file's other errors; a syntax error returns NULL. */
static void check_refused(const char *text, unsigned n_errors, const char *want)
{
	struct loaded l;

	load(&l, text);
	ck_assert_str_eq(l.diag, want);
	ck_assert_uint_eq(l.sink.n_errors, n_errors);
	unload(&l);
}

/* Loads text that must be accepted with no diagnostic. */
static struct yl_node *load_ok(struct loaded *l, const char *text)
{
	struct yl_node *root = load(l, text);

	ck_assert_msg(root != NULL, "refused: %s", l->diag);
	ck_assert_str_eq(l->diag, "");
	ck_assert_uint_eq(l->sink.n_errors, 0);
	return root;
}

static void check_pos(const struct loaded *l, size_t off, unsigned want_line, unsigned want_col)
{
	unsigned line, col;

	dg_linecol(&l->src, off, &line, &col);
	ck_assert_msg(line == want_line && col == want_col, "offset %zu: got %u:%u, want %u:%u",
		      off, line, col, want_line, want_col);
}

static void check_scalar(const struct yl_node *n, const char *str, enum yl_style style)
{
	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(n->kind, YL_SCALAR);
	ck_assert_int_eq(n->style, style);
	ck_assert_uint_eq(n->len, strlen(str));
	ck_assert_str_eq(n->str, str);
}

START_TEST(test_block_mapping)
{
	const char *text = "a: 1\n"
			   "b: [x, 'y']\n"
			   "c:\n"
			   "  - \"z\"\n"
			   "  - |\n"
			   "    lit\n"
			   "d: >\n"
			   "  fold\n"
			   "  ed\n";
	struct loaded l;
	struct yl_node *root = load_ok(&l, text), *b, *c;

	ck_assert_int_eq(root->kind, YL_MAP);
	ck_assert_int_eq(root->style, YL_BLOCK);
	ck_assert_uint_eq(root->n_items, 8);
	ck_assert_uint_eq(root->off, 0);
	check_scalar(root->items[0], "a", YL_PLAIN);
	check_pos(&l, root->items[0]->off, 1, 1);
	check_pos(&l, root->items[0]->end, 1, 2);
	check_scalar(root->items[1], "1", YL_PLAIN);
	check_pos(&l, root->items[1]->off, 1, 4);

	b = root->items[3];
	ck_assert_int_eq(b->kind, YL_SEQ);
	ck_assert_int_eq(b->style, YL_FLOW);
	ck_assert_uint_eq(b->n_items, 2);
	check_pos(&l, b->off, 2, 4);
	ck_assert_uint_eq(b->end, strstr(text, "]") + 1 - text);
	check_scalar(b->items[0], "x", YL_PLAIN);
	check_pos(&l, b->items[0]->off, 2, 5);
	check_scalar(b->items[1], "y", YL_SINGLE);
	check_pos(&l, b->items[1]->off, 2, 8);
	check_pos(&l, b->items[1]->end, 2, 11);

	c = root->items[5];
	ck_assert_int_eq(c->kind, YL_SEQ);
	ck_assert_int_eq(c->style, YL_BLOCK);
	ck_assert_uint_eq(c->n_items, 2);
	check_pos(&l, c->off, 4, 3);
	check_scalar(c->items[0], "z", YL_DOUBLE);
	check_pos(&l, c->items[0]->off, 4, 5);
	check_scalar(c->items[1], "lit\n", YL_LITERAL);
	check_pos(&l, c->items[1]->off, 5, 5);
	ck_assert_uint_eq(c->end, c->items[1]->end);

	check_scalar(root->items[6], "d", YL_PLAIN);
	check_scalar(root->items[7], "fold ed\n", YL_FOLDED);
	check_pos(&l, root->items[7]->off, 7, 4);
	ck_assert_uint_eq(root->end, root->items[7]->end);

	ck_assert_ptr_eq(yl_map_get(root, "c"), c);
	ck_assert_ptr_eq(yl_map_get(root, "a"), root->items[1]);
	ck_assert_ptr_null(yl_map_get(root, "e"));
	ck_assert_ptr_null(yl_map_get(root, "1"));
	ck_assert_ptr_null(yl_map_get(c, "a"));
	ck_assert_ptr_null(yl_map_get(NULL, "a"));
	unload(&l);
}
END_TEST

START_TEST(test_rule_file_shape)
{
	const char *text = "version: 1\n"
			   "rules:\n"
			   "  - id: card-testing\n"
			   "    where: txn && amount < 5\n"
			   "    threshold: {where: txn, window: 1m, when: count() >= 10}\n"
			   "  - id: b\n"
			   "    where: \"!exists(card)\"\n";
	struct loaded l;
	struct yl_node *root = load_ok(&l, text), *rules, *r0, *th, *r1;

	rules = yl_map_get(root, "rules");
	ck_assert_int_eq(rules->kind, YL_SEQ);
	ck_assert_int_eq(rules->style, YL_BLOCK);
	ck_assert_uint_eq(rules->n_items, 2);
	r0 = rules->items[0];
	ck_assert_int_eq(r0->kind, YL_MAP);
	check_pos(&l, r0->off, 3, 5);
	check_scalar(yl_map_get(r0, "where"), "txn && amount < 5", YL_PLAIN);
	check_pos(&l, yl_map_get(r0, "where")->off, 4, 12);
	check_pos(&l, yl_map_get(r0, "where")->end, 4, 29);
	th = yl_map_get(r0, "threshold");
	ck_assert_int_eq(th->kind, YL_MAP);
	ck_assert_int_eq(th->style, YL_FLOW);
	ck_assert_uint_eq(th->n_items, 6);
	check_pos(&l, th->off, 5, 16);
	check_pos(&l, th->end, 5, 61);
	check_scalar(yl_map_get(th, "when"), "count() >= 10", YL_PLAIN);
	check_pos(&l, yl_map_get(th, "when")->off, 5, 47);
	r1 = rules->items[1];
	check_scalar(yl_map_get(r1, "where"), "!exists(card)", YL_DOUBLE);
	check_pos(&l, yl_map_get(r1, "where")->off, 7, 12);
	/* The same key in two different mappings is fine. */
	ck_assert_ptr_nonnull(yl_map_get(r1, "id"));
	unload(&l);
}
END_TEST

START_TEST(test_scalar_and_flow_roots)
{
	struct loaded l;
	struct yl_node *root;

	root = load_ok(&l, "hello world\n");
	check_scalar(root, "hello world", YL_PLAIN);
	unload(&l);

	root = load_ok(&l, "[1, [2, 3], {a: b}, ]");
	ck_assert_int_eq(root->kind, YL_SEQ);
	ck_assert_int_eq(root->style, YL_FLOW);
	ck_assert_uint_eq(root->n_items, 3);
	ck_assert_uint_eq(root->end, 21);
	ck_assert_int_eq(root->items[1]->kind, YL_SEQ);
	ck_assert_uint_eq(root->items[1]->off, 4);
	ck_assert_uint_eq(root->items[1]->end, 10);
	ck_assert_int_eq(root->items[2]->kind, YL_MAP);
	ck_assert_int_eq(root->items[2]->style, YL_FLOW);
	check_scalar(yl_map_get(root->items[2], "a"), "b", YL_PLAIN);
	unload(&l);

	/* A flow mapping entry without a value has an empty plain value. */
	root = load_ok(&l, "{a, b: }");
	ck_assert_uint_eq(root->n_items, 4);
	ck_assert(yl_is_null(root->items[1]));
	ck_assert(yl_is_null(root->items[3]));
	unload(&l);

	/* Escapes in double quotes, including a NUL: len tells. */
	root = load_ok(&l, "\"a\\0b\\u00e9\\n\"");
	ck_assert_int_eq(root->style, YL_DOUBLE);
	ck_assert_uint_eq(root->len, 6);
	ck_assert_mem_eq(root->str, "a\0b\xc3\xa9\n", 7);
	unload(&l);
}
END_TEST

START_TEST(test_empty_documents)
{
	static const char *const texts[] = {
		"", "# only\n# comments\n", "   \n\n", "---\n", "--- # c\n...\n", "\xef\xbb\xbf",
	};
	size_t i;

	for (i = 0; i < sizeof texts / sizeof *texts; i++) {
		struct loaded l;
		struct yl_node *root = load_ok(&l, texts[i]);

		check_scalar(root, "", YL_PLAIN);
		ck_assert(yl_is_null(root));
		ck_assert_uint_le(root->off, l.src.len);
		unload(&l);
	}
}
END_TEST

START_TEST(test_positions_utf8)
{
	struct loaded l;
	struct yl_node *root;

	/* "ключ: значение, €1": columns count characters, offsets are bytes. */
	root = load_ok(&l, "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87: x\n"
			   "k: \xe2\x82\xac 1 \xc3\xa9\n"
			   "q: [\xc3\xa9, z]\n");
	ck_assert_uint_eq(root->items[1]->off, 10);
	check_pos(&l, root->items[1]->off, 1, 7);
	check_scalar(root->items[3], "\xe2\x82\xac 1 \xc3\xa9", YL_PLAIN);
	check_pos(&l, root->items[3]->off, 2, 4);
	check_pos(&l, root->items[3]->end, 2, 9);
	ck_assert_uint_eq(root->items[3]->end - root->items[3]->off, 8);
	check_pos(&l, root->items[5]->items[1]->off, 3, 8);
	ck_assert_uint_eq(root->items[5]->items[1]->off, 32);
	unload(&l);
}
END_TEST

START_TEST(test_positions_crlf_bom)
{
	struct loaded l;
	struct yl_node *root;

	root = load_ok(&l, "a: 1\r\nbb: xyz\r\n");
	ck_assert_uint_eq(root->items[2]->off, 6);
	ck_assert_uint_eq(root->items[3]->off, 10);
	ck_assert_uint_eq(root->items[3]->end, 13);
	check_pos(&l, root->items[3]->off, 2, 5);
	unload(&l);

	root = load_ok(&l, "\xef\xbb\xbf" "a: 1\nb: 2\n");
	ck_assert_uint_eq(root->items[0]->off, 3);
	check_pos(&l, root->items[0]->off, 1, 1);
	ck_assert_uint_eq(root->items[3]->off, 11);
	unload(&l);
}
END_TEST

START_TEST(test_positions_odd_breaks)
{
	struct loaded l;
	struct yl_node *root;

	/* libyaml also breaks lines at a lone CR and at U+0085/U+2028/U+2029; offsets must still
	 * point at the right bytes. */
	root = load_ok(&l, "a: 1\rbb: 2\r");
	check_scalar(root->items[2], "bb", YL_PLAIN);
	ck_assert_uint_eq(root->items[2]->off, 5);
	ck_assert_uint_eq(root->items[3]->off, 9);
	unload(&l);

	root = load_ok(&l, "a: \"x\xc2\x85y\"\nb: \xe2\x80\xa8\n  z\n");
	ck_assert_uint_eq(root->items[2]->off, 10);
	check_pos(&l, root->items[2]->off, 2, 1);
	check_scalar(root->items[3], "z", YL_PLAIN);
	ck_assert_uint_eq(root->items[3]->off, 19);
	unload(&l);

	root = load_ok(&l, "\xef\xbb\xbf" "a: 1\rb: 2");
	ck_assert_uint_eq(root->items[2]->off, 8);
	unload(&l);
}
END_TEST

START_TEST(test_refuse_anchor_alias)
{
	check_refused("a: &x 1\n"
		      "b: *x\n",
		      2,
		      "r.yaml:1:4: error: YAML anchors and aliases are not allowed in rule files; "
		      "an expression that starts with '&' must be quoted\n"
		      "a: &x 1\n"
		      "   ^~\n"
		      "r.yaml:2:4: error: YAML aliases are not allowed in rule files; "
		      "an expression that starts with '*' must be quoted\n"
		      "b: *x\n"
		      "   ^~\n");
	/* An anchor on a collection, after a tag, and an alias as a key. */
	check_refused("a: !t &anc\n"
		      "  b: 1\n"
		      "*k : 2\n",
		      3,
		      "r.yaml:1:7: error: YAML anchors and aliases are not allowed in rule files; "
		      "an expression that starts with '&' must be quoted\n"
		      "a: !t &anc\n"
		      "      ^~~~\n"
		      "r.yaml:1:4: error: YAML tag '!t' is not allowed; an expression that starts "
		      "with '!' must be quoted, as in where: \"!exists(card)\"\n"
		      "a: !t &anc\n"
		      "   ^~\n"
		      "r.yaml:3:1: error: YAML aliases are not allowed in rule files; "
		      "an expression that starts with '*' must be quoted\n"
		      "*k : 2\n"
		      "^~\n");
}
END_TEST

START_TEST(test_refuse_tags)
{
	check_refused("where: !exists(card)\n", 1,
		      "r.yaml:1:8: error: YAML tag '!exists(card)' is not allowed; an expression "
		      "that starts with '!' must be quoted, as in where: \"!exists(card)\"\n"
		      "where: !exists(card)\n"
		      "       ^~~~~~~~~~~~~\n");
	/* The message shows the tag as written, not as libyaml resolves it. */
	check_refused("rules:\n  - when: !!str count() > 3\n", 1,
		      "r.yaml:2:11: error: YAML tag '!!str' is not allowed; an expression that "
		      "starts with '!' must be quoted, as in when: \"!!str count() > 3\"\n"
		      "  - when: !!str count() > 3\n"
		      "          ^~~~~\n");
	check_refused("- !<tag:x.org,1:y> z\n", 1,
		      "r.yaml:1:3: error: YAML tag '!<tag:x.org,1:y>' is not allowed; an "
		      "expression that starts with '!' must be quoted, as in where: "
		      "\"!exists(card)\"\n"
		      "- !<tag:x.org,1:y> z\n"
		      "  ^~~~~~~~~~~~~~~~\n");
	check_refused("a: {k: !x [1]}\n", 1,
		      "r.yaml:1:8: error: YAML tag '!x' is not allowed; an expression that starts "
		      "with '!' must be quoted, as in where: \"!exists(card)\"\n"
		      "a: {k: !x [1]}\n"
		      "       ^~\n");
	/* A value holding a double quote cannot be shown quoted: the manual's example. */
	check_refused("where: !a == \"b\"\n", 1,
		      "r.yaml:1:8: error: YAML tag '!a' is not allowed; an expression that starts "
		      "with '!' must be quoted, as in where: \"!exists(card)\"\n"
		      "where: !a == \"b\"\n"
		      "       ^~\n");
}
END_TEST

START_TEST(test_refuse_multi_document)
{
	check_refused("a: 1\n"
		      "---\n"
		      "b: &x 2\n"
		      "---\n"
		      "c: 3\n",
		      2,
		      "r.yaml:2:1: error: a rule file holds one YAML document\n"
		      "---\n"
		      "^~~\n"
		      "r.yaml:3:4: error: YAML anchors and aliases are not allowed in rule files; "
		      "an expression that starts with '&' must be quoted\n"
		      "b: &x 2\n"
		      "   ^~\n");
	check_refused("--- a\n...\n--- b\n", 1,
		      "r.yaml:3:1: error: a rule file holds one YAML document\n"
		      "--- b\n"
		      "^~~\n");
}
END_TEST

START_TEST(test_refuse_duplicate_keys)
{
	check_refused("id: a\n"
		      "x: 1\n"
		      "id: b\n",
		      1,
		      "r.yaml:3:1: error: duplicate key 'id'\n"
		      "id: b\n"
		      "^~\n"
		      "r.yaml:1:1: note: first given here\n"
		      "id: a\n"
		      "^~\n");
	/* Quoting does not make a different key; every repeat points back at the first. */
	check_refused("k: 1\n"
		      "\"k\": 2\n"
		      "'k': 3\n",
		      2,
		      "r.yaml:2:1: error: duplicate key 'k'\n"
		      "\"k\": 2\n"
		      "^~~\n"
		      "r.yaml:1:1: note: first given here\n"
		      "k: 1\n"
		      "^\n"
		      "r.yaml:3:1: error: duplicate key 'k'\n"
		      "'k': 3\n"
		      "^~~\n"
		      "r.yaml:1:1: note: first given here\n"
		      "k: 1\n"
		      "^\n");
	/* Nested and flow mappings; errors come in source order. */
	check_refused("a: {b: 1, b: 2}\n"
		      "c:\n"
		      "  d: 1\n"
		      "  d: 2\n"
		      "a: 3\n",
		      3,
		      "r.yaml:1:11: error: duplicate key 'b'\n"
		      "a: {b: 1, b: 2}\n"
		      "          ^\n"
		      "r.yaml:1:5: note: first given here\n"
		      "a: {b: 1, b: 2}\n"
		      "    ^\n"
		      "r.yaml:4:3: error: duplicate key 'd'\n"
		      "  d: 2\n"
		      "  ^\n"
		      "r.yaml:3:3: note: first given here\n"
		      "  d: 1\n"
		      "  ^\n"
		      "r.yaml:5:1: error: duplicate key 'a'\n"
		      "a: 3\n"
		      "^\n"
		      "r.yaml:1:1: note: first given here\n"
		      "a: {b: 1, b: 2}\n"
		      "^\n");
}
END_TEST

START_TEST(test_refused_nodes_are_flagged)
{
	struct loaded l;
	struct yl_node *root = load(&l, "a: !tag x\nb: *ref\nc: &anc y\nd: fine\n");

	ck_assert_ptr_nonnull(root);
	ck_assert_uint_eq(l.sink.n_errors, 3);
	ck_assert_int_eq(yl_map_get(root, "a")->bad, 1);
	ck_assert_int_eq(yl_map_get(root, "b")->bad, 1);
	ck_assert_int_eq(yl_map_get(root, "c")->bad, 1);
	ck_assert_int_eq(yl_map_get(root, "d")->bad, 0);
	unload(&l);
	ck_assert_ptr_null(load(&l, "a: [1, 2\n"));
	ck_assert_uint_eq(l.sink.n_errors, 1);
	unload(&l);
}
END_TEST

START_TEST(test_duplicate_keys_many)
{
	/* Enough keys to grow the key table several times; one repeat at the end. */
	char *text = malloc(20000), *p = text;
	struct loaded l;
	int i;

	for (i = 0; i < 1000; i++)
		p += sprintf(p, "key%d: %d\n", i, i);
	strcpy(p, "key500: again\n");
	ck_assert_ptr_nonnull(load(&l, text)); /* reported, and the tree is usable */
	ck_assert_uint_eq(l.sink.n_errors, 1);
	ck_assert_str_eq(l.diag, "r.yaml:1001:1: error: duplicate key 'key500'\n"
				 "key500: again\n"
				 "^~~~~~\n"
				 "r.yaml:501:1: note: first given here\n"
				 "key500: 500\n"
				 "^~~~~~\n");
	unload(&l);
	free(text);
}
END_TEST

START_TEST(test_refuse_key_kinds)
{
	check_refused("[a]: 1\n", 1,
		      "r.yaml:1:1: error: mapping keys must be plain strings; an expression that "
		      "starts with '[' or '{' must be quoted\n"
		      "[a]: 1\n"
		      "^~~\n");
	check_refused("? - a\n"
		      ": 1\n",
		      1,
		      "r.yaml:1:3: error: mapping keys must be plain strings\n"
		      "? - a\n"
		      "  ^~~\n");
	/* An unquoted template reads as a mapping inside a mapping. */
	check_refused("emit:\n  probes: {{ count(probe) }}\n", 1,
		      "r.yaml:2:12: error: mapping keys must be plain strings; an expression that "
		      "starts with '[' or '{' must be quoted\n"
		      "  probes: {{ count(probe) }}\n"
		      "           ^~~~~~~~~~~~~~~~\n");
}
END_TEST

START_TEST(test_refuse_reserved_characters)
{
	check_refused("where: `user-agent` == \"x\"\n", 1,
		      "r.yaml:1:8: error: found character that cannot start any token; an "
		      "expression that starts with '`' or '@' must be quoted\n"
		      "where: `user-agent` == \"x\"\n"
		      "       ^\n");
	check_refused("rules:\n  - where: @timestamp > 5\n", 1,
		      "r.yaml:2:12: error: found character that cannot start any token; an "
		      "expression that starts with '`' or '@' must be quoted\n"
		      "  - where: @timestamp > 5\n"
		      "           ^\n");
	check_refused("where: [a, b] contains x\n", 1,
		      "r.yaml:1:15: error: did not find expected key; an expression that starts "
		      "with '[' or '{' must be quoted\n"
		      "where: [a, b] contains x\n"
		      "              ^\n"
		      "r.yaml:1:1: note: while parsing a block mapping starting here\n"
		      "where: [a, b] contains x\n"
		      "^\n");
	/* "!exists(card) && x": the tag scans, then "&&" fails as an anchor. */
	check_refused("where: !exists(card) && x\n", 1,
		      "r.yaml:1:23: error: did not find expected alphabetic or numeric character; "
		      "an expression that starts with '!' must be quoted\n"
		      "where: !exists(card) && x\n"
		      "                      ^\n"
		      "r.yaml:1:22: note: while scanning an anchor starting here\n"
		      "where: !exists(card) && x\n"
		      "                     ^\n");
	check_refused("where: && x\n", 1,
		      "r.yaml:1:9: error: did not find expected alphabetic or numeric character; "
		      "an expression that starts with '&' must be quoted\n"
		      "where: && x\n"
		      "        ^\n"
		      "r.yaml:1:8: note: while scanning an anchor starting here\n"
		      "where: && x\n"
		      "       ^\n");
	check_refused("- * 2\n", 1,
		      "r.yaml:1:4: error: did not find expected alphabetic or numeric character; "
		      "an expression that starts with '*' must be quoted\n"
		      "- * 2\n"
		      "   ^\n"
		      "r.yaml:1:3: note: while scanning an alias starting here\n"
		      "- * 2\n"
		      "  ^\n");
	check_refused("when: >= 10\n", 1,
		      "r.yaml:1:8: error: did not find expected comment or line break; an "
		      "expression that starts with '>' must be quoted\n"
		      "when: >= 10\n"
		      "       ^\n"
		      "r.yaml:1:7: note: while scanning a block scalar starting here\n"
		      "when: >= 10\n"
		      "      ^\n");
	check_refused("where: %x\n", 1,
		      "r.yaml:1:8: error: found character that cannot start any token; an "
		      "expression that starts with '%' must be quoted\n"
		      "where: %x\n"
		      "       ^\n");
	check_refused("a:\n\tb: 1\n", 1,
		      "r.yaml:2:1: error: found character that cannot start any token; YAML "
		      "indentation uses spaces, not tabs\n"
		      "\tb: 1\n"
		      "^\n");
	check_refused("where: \"login\" == type\n", 1,
		      "r.yaml:1:16: error: did not find expected key; an expression that starts "
		      "with a quote must be quoted as a whole\n"
		      "where: \"login\" == type\n"
		      "               ^\n"
		      "r.yaml:1:1: note: while parsing a block mapping starting here\n"
		      "where: \"login\" == type\n"
		      "^\n");
}
END_TEST

START_TEST(test_syntax_errors)
{
	/* Errors at the end of the file point after the last character. */
	check_refused("x: [1, 2\n", 1,
		      "r.yaml:1:9: error: did not find expected ',' or ']'\n"
		      "x: [1, 2\n"
		      "        ^\n"
		      "r.yaml:1:4: note: while parsing a flow sequence starting here\n"
		      "x: [1, 2\n"
		      "   ^\n");
	check_refused("a: 1\nb: \"abc\n", 1,
		      "r.yaml:2:8: error: found unexpected end of stream\n"
		      "b: \"abc\n"
		      "       ^\n"
		      "r.yaml:2:4: note: while scanning a quoted scalar starting here\n"
		      "b: \"abc\n"
		      "   ^\n");
	check_refused("a: b: c\n", 1,
		      "r.yaml:1:5: error: mapping values are not allowed in this context\n"
		      "a: b: c\n"
		      "    ^\n");
	/* Errors before a syntax error are all reported. */
	check_refused("a: &x 1\nb: *x\nc: [\n", 3,
		      "r.yaml:1:4: error: YAML anchors and aliases are not allowed in rule files; "
		      "an expression that starts with '&' must be quoted\n"
		      "a: &x 1\n"
		      "   ^~\n"
		      "r.yaml:2:4: error: YAML aliases are not allowed in rule files; "
		      "an expression that starts with '*' must be quoted\n"
		      "b: *x\n"
		      "   ^~\n"
		      "r.yaml:3:5: error: did not find expected node content\n"
		      "c: [\n"
		      "    ^\n");
}
END_TEST

START_TEST(test_reader_errors)
{
	struct loaded l;

	check_refused("a: \x01\n", 1,
		      "r.yaml:1:4: error: control characters are not allowed (U+0001)\n"
		      "a: \x01\n"
		      "   ^\n");
	check_refused("a: \xff\n", 1,
		      "r.yaml:1:4: error: invalid leading UTF-8 octet (byte 0xFF)\n"
		      "a: \xff\n"
		      "   ^\n");
	check_refused("a: \xc3\n", 1,
		      "r.yaml:1:5: error: invalid trailing UTF-8 octet (byte 0x0A)\n"
		      "a: \xc3\n"
		      "    ^\n");
	check_refused("\xff\xfe" "a\0:\0 \0" "1\0", 1,
		      "r.yaml:1:1: error: rule files must be UTF-8; this one starts with a UTF-16 "
		      "byte order mark\n"
		      "\xff\xfe" "a\n"
		      "^\n");
	ck_assert_ptr_null(load_n(&l, "a: b\0c\n", 7));
	ck_assert_uint_eq(l.sink.n_errors, 1);
	ck_assert_ptr_nonnull(strstr(l.diag, "error: control characters are not allowed (U+0000)"));
	unload(&l);
}
END_TEST

static char *nested(const char *open, const char *close, int depth)
{
	size_t lo = strlen(open), lc = strlen(close);
	char *s = malloc(depth * (lo + lc) + 2), *p = s;
	int i;

	for (i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	*p++ = 'x';
	for (i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

START_TEST(test_depth_limit)
{
	struct loaded l;
	struct yl_node *n;
	char *text;
	int i;

	text = nested("[", "]", 64);
	n = load_ok(&l, text);
	for (i = 1; i < 64; i++)
		n = n->items[0];
	check_scalar(n->items[0], "x", YL_PLAIN);
	unload(&l);
	free(text);

	text = nested("[", "]", 65);
	ck_assert_ptr_null(load(&l, text));
	ck_assert_uint_eq(l.sink.n_errors, 1);
	ck_assert_ptr_nonnull(strstr(l.diag, "r.yaml:1:65: error: YAML nesting deeper than 64 "
					     "levels\n"));
	unload(&l);
	free(text);

	/* Far deeper than the limit: stops early, no crash, bounded work. */
	text = nested("{a: [", "]}", 200000);
	ck_assert_ptr_null(load(&l, text));
	ck_assert_uint_eq(l.sink.n_errors, 1);
	ck_assert_ptr_nonnull(strstr(l.diag, "r.yaml:1:161: error: YAML nesting deeper than 64 "
					     "levels\n"));
	unload(&l);
	free(text);
}
END_TEST

START_TEST(test_depth_limit_block)
{
	char *text = malloc(70 * 80), *p = text;
	struct loaded l;
	int i;

	/* 65 block mappings, one inside the other. */
	for (i = 0; i < 65; i++)
		p += sprintf(p, "%*sk:\n", i, "");
	sprintf(p, "%*sv\n", 65, "");
	ck_assert_ptr_null(load(&l, text));
	ck_assert_uint_eq(l.sink.n_errors, 1);
	ck_assert_ptr_nonnull(strstr(l.diag, "r.yaml:65:65: error: YAML nesting deeper than 64 "
					     "levels\n"));
	unload(&l);
	free(text);
}
END_TEST

static struct yl_node plain(const char *s)
{
	struct yl_node n;

	memset(&n, 0, sizeof n);
	n.kind = YL_SCALAR;
	n.style = YL_PLAIN;
	n.str = s;
	n.len = strlen(s);
	return n;
}

START_TEST(test_core_schema_null_bool)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	static const char *const not_nulls[] = { "nULL", "none", "0", "~~", " " };
	static const char *const trues[] = { "true", "True", "TRUE" };
	static const char *const falses[] = { "false", "False", "FALSE" };
	static const char *const not_bools[] = { "yes", "no", "on", "off", "y", "tRUE", "1", "" };
	struct yl_node n;
	size_t i;
	int b;

	for (i = 0; i < sizeof nulls / sizeof *nulls; i++) {
		n = plain(nulls[i]);
		ck_assert_msg(yl_is_null(&n), "%s", nulls[i]);
		n.style = YL_DOUBLE;
		ck_assert_msg(!yl_is_null(&n), "\"%s\"", nulls[i]);
	}
	for (i = 0; i < sizeof not_nulls / sizeof *not_nulls; i++) {
		n = plain(not_nulls[i]);
		ck_assert_msg(!yl_is_null(&n), "%s", not_nulls[i]);
	}
	for (i = 0; i < sizeof trues / sizeof *trues; i++) {
		n = plain(trues[i]);
		b = -1;
		ck_assert(yl_get_bool(&n, &b));
		ck_assert_int_eq(b, 1);
		n.style = YL_SINGLE;
		ck_assert(!yl_get_bool(&n, &b));
	}
	for (i = 0; i < sizeof falses / sizeof *falses; i++) {
		n = plain(falses[i]);
		b = -1;
		ck_assert(yl_get_bool(&n, &b));
		ck_assert_int_eq(b, 0);
	}
	for (i = 0; i < sizeof not_bools / sizeof *not_bools; i++) {
		n = plain(not_bools[i]);
		b = -1;
		ck_assert_msg(!yl_get_bool(&n, &b), "%s", not_bools[i]);
		ck_assert_int_eq(b, -1);
	}
	ck_assert(!yl_is_null(NULL));
}
END_TEST

START_TEST(test_core_schema_numbers)
{
	static const struct {
		const char *text;
		double value;
	} numbers[] = {
		{ "0", 0 },        { "-12", -12 },    { "+7", 7 },         { "007", 7 },
		{ "0x1F", 31 },    { "0xff", 255 },   { "0o17", 15 },      { "0o0", 0 },
		{ "1.5", 1.5 },    { "-2e3", -2000 }, { ".5", 0.5 },       { "+1.", 1 },
		{ "1e5", 1e5 },    { "1E-2", 0.01 },  { "-.25e+1", -2.5 }, { "1e-400", 0 },
		{ "9007199254740993", 9007199254740992.0 },
	};
	static const char *const not_numbers[] = {
		".inf", "-.inf", "+.Inf", ".nan", ".NaN", "1_000", "0x", "0o", "0o8", "0X1F", "0O7",
		"-0x1", "+0o7", "0b101", "1.2.3", "e5", "1e", "1e+", "+", "-", ".", "", " 1", "1 ",
		"abc", "1e999", "-1e400", "0x1p3", "inf", "nan", "1,5",
	};
	struct yl_node n;
	size_t i;
	double v;

	for (i = 0; i < sizeof numbers / sizeof *numbers; i++) {
		n = plain(numbers[i].text);
		v = -99;
		ck_assert_msg(yl_get_number(&n, &v), "%s", numbers[i].text);
		ck_assert_msg(v == numbers[i].value, "%s: %g", numbers[i].text, v);
		n.style = YL_DOUBLE;
		ck_assert_msg(!yl_get_number(&n, &v), "\"%s\"", numbers[i].text);
	}
	for (i = 0; i < sizeof not_numbers / sizeof *not_numbers; i++) {
		n = plain(not_numbers[i]);
		v = -99;
		ck_assert_msg(!yl_get_number(&n, &v), "%s", not_numbers[i]);
		ck_assert(v == -99);
	}
	/* Not scalars at all. */
	n = plain("1");
	n.kind = YL_SEQ;
	ck_assert(!yl_get_number(&n, &v));
	ck_assert(!yl_get_number(NULL, &v));
}
END_TEST

START_TEST(test_core_schema_from_yaml)
{
	struct loaded l;
	struct yl_node *root = load_ok(&l, "a: 12\nb: '12'\nc: ~\nd:\ne: TRUE\nf: \"true\"\n");
	double v;
	int b;

	ck_assert(yl_get_number(yl_map_get(root, "a"), &v));
	ck_assert(v == 12);
	ck_assert(!yl_get_number(yl_map_get(root, "b"), &v));
	ck_assert(yl_is_null(yl_map_get(root, "c")));
	ck_assert(yl_is_null(yl_map_get(root, "d")));
	ck_assert(yl_get_bool(yl_map_get(root, "e"), &b) && b == 1);
	ck_assert(!yl_get_bool(yl_map_get(root, "f"), &b));
	unload(&l);
}
END_TEST

/* Runs one load with the Nth allocation failing, for every N until none fails. Each run must
 * either succeed or fail cleanly with a message; ASan's leak check covers the rest. */
static void alloc_failure_sweep(const char *text, int want_ok)
{
	unsigned long n;
	int done = 0;

	for (n = 1; !done; n++) {
		struct dg_source src;
		struct arena arena = { 0 };
		struct dg_sink sink;
		char *diag = NULL;
		size_t diag_len = 0;
		struct yl_node *root = NULL;
		int init_ok;

		sink.out = open_memstream(&diag, &diag_len);
		sink.n_errors = 0;
		sink.max_shown = 0;
		tl_alloc_count = 0;
		tl_alloc_fail_at = n;
		init_ok = dg_source_init_mem(&src, "r.yaml", text, strlen(text)) == 0;
		if (init_ok) {
			root = yl_load(&src, &arena, &sink);
			dg_source_free(&src);
		}
		done = tl_alloc_fail_at != 0;
		tl_alloc_fail_at = 0;
		fclose(sink.out);
		if (done)
			ck_assert_int_eq(root != NULL && sink.n_errors == 0, want_ok);
		/* Every refusal is reported; a good file fails only for lack of memory. */
		if (init_ok && !root)
			ck_assert_uint_gt(sink.n_errors, 0);
		if (init_ok && !root && want_ok)
			ck_assert_str_eq(diag, "r.yaml: error: out of memory while loading YAML\n");
		arena_free(&arena);
		free(diag);
	}
	ck_assert_uint_gt(n, 3);
}

START_TEST(test_alloc_failure)
{
	char *big = malloc(40000), *p = big;
	int i;

	/* Enough keys and items to grow the child stack and the key table several times, and a
	 * scalar larger than an arena chunk. */
	for (i = 0; i < 300; i++)
		p += sprintf(p, "k%d: [%d, {x: y}]\n", i, i);
	p += sprintf(p, "long: \"");
	memset(p, 'z', 20000);
	p += 20000;
	strcpy(p, "\"\n");
	alloc_failure_sweep(big, 1);
	free(big);

	alloc_failure_sweep("a: 1\nb: [x, y]\nc: {d: e}\n", 1);
	alloc_failure_sweep("", 1);
	alloc_failure_sweep("a: &x 1\nb: *x\na: !t 2\n[k]: 3\n", 0);
	alloc_failure_sweep("a: 1\n---\nb: [\n", 0);
}
END_TEST

static Suite *yaml_suite(void)
{
	Suite *s = suite_create("yaml_load");
	TCase *tree = tcase_create("tree");
	TCase *refuse = tcase_create("refusals");
	TCase *schema = tcase_create("schema");

	tcase_add_test(tree, test_block_mapping);
	tcase_add_test(tree, test_rule_file_shape);
	tcase_add_test(tree, test_scalar_and_flow_roots);
	tcase_add_test(tree, test_empty_documents);
	tcase_add_test(tree, test_positions_utf8);
	tcase_add_test(tree, test_positions_crlf_bom);
	tcase_add_test(tree, test_positions_odd_breaks);
	tcase_add_test(tree, test_alloc_failure);
	suite_add_tcase(s, tree);

	tcase_add_test(refuse, test_refuse_anchor_alias);
	tcase_add_test(refuse, test_refuse_tags);
	tcase_add_test(refuse, test_refuse_multi_document);
	tcase_add_test(refuse, test_refuse_duplicate_keys);
	tcase_add_test(refuse, test_duplicate_keys_many);
	tcase_add_test(refuse, test_refused_nodes_are_flagged);
	tcase_add_test(refuse, test_refuse_key_kinds);
	tcase_add_test(refuse, test_refuse_reserved_characters);
	tcase_add_test(refuse, test_syntax_errors);
	tcase_add_test(refuse, test_reader_errors);
	tcase_add_test(refuse, test_depth_limit);
	tcase_add_test(refuse, test_depth_limit_block);
	suite_add_tcase(s, refuse);

	tcase_add_test(schema, test_core_schema_null_bool);
	tcase_add_test(schema, test_core_schema_numbers);
	tcase_add_test(schema, test_core_schema_from_yaml);
	suite_add_tcase(s, schema);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(yaml_suite());
	int n_failed;

	srunner_run_all(sr, CK_NORMAL);
	n_failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
