/* test_diag.c - Check suite for parser/diag.c: line map, offsets <-> line:col, the exact
 * layout of positioned diagnostics, and loading rule files from disk. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "diag.h"

/* A sink that writes into memory, so tests compare the exact text. */
struct capture {
	char *buf;
	size_t len;
	struct dg_sink sink;
};

static void cap_open(struct capture *c)
{
	memset(c, 0, sizeof *c);
	c->sink.out = open_memstream(&c->buf, &c->len);
	ck_assert_ptr_nonnull(c->sink.out);
}

/* Closes the stream; c->buf then holds everything printed (free it with cap_free). */
static const char *cap_text(struct capture *c)
{
	if (c->sink.out) {
		fclose(c->sink.out);
		c->sink.out = NULL;
	}
	return c->buf;
}

static void cap_free(struct capture *c)
{
	cap_text(c);
	free(c->buf);
}

static void src_init(struct dg_source *src, const char *text)
{
	ck_assert_int_eq(dg_source_init_mem(src, "r.yaml", text, strlen(text)), 0);
}

static void check_lc(const struct dg_source *src, size_t off, unsigned want_line,
		     unsigned want_col)
{
	unsigned line, col;

	dg_linecol(src, off, &line, &col);
	ck_assert_msg(line == want_line && col == want_col,
		      "offset %zu: got %u:%u, want %u:%u", off, line, col, want_line, want_col);
}

/* Prints one error at [off, off + span) of text and compares the whole output. */
static void check_error(const char *text, size_t off, size_t span, const char *want)
{
	struct dg_source src;
	struct capture c;

	src_init(&src, text);
	cap_open(&c);
	dg_error(&c.sink, &src, off, span, "msg %d", 7);
	ck_assert_uint_eq(c.sink.n_errors, 1);
	ck_assert_str_eq(cap_text(&c), want);
	cap_free(&c);
	dg_source_free(&src);
}

START_TEST(test_line_map)
{
	struct dg_source src;

	src_init(&src, "ab\ncd\n");
	ck_assert_uint_eq(src.n_lines, 2);
	ck_assert_uint_eq(src.line_off[0], 0);
	ck_assert_uint_eq(src.line_off[1], 3);
	ck_assert_uint_eq(src.len, 6);
	ck_assert_str_eq(src.text, "ab\ncd\n");
	ck_assert_str_eq(src.name, "r.yaml");
	dg_source_free(&src);

	src_init(&src, "");
	ck_assert_uint_eq(src.n_lines, 1);
	ck_assert_uint_eq(src.line_off[0], 0);
	dg_source_free(&src);

	src_init(&src, "a\n\nb");
	ck_assert_uint_eq(src.n_lines, 3);
	ck_assert_uint_eq(src.line_off[2], 3);
	dg_source_free(&src);

	/* A byte order mark is not part of line 1. */
	src_init(&src, "\xef\xbb\xbf" "a\nb");
	ck_assert_uint_eq(src.n_lines, 2);
	ck_assert_uint_eq(src.line_off[0], 3);
	dg_source_free(&src);
}
END_TEST

START_TEST(test_linecol)
{
	struct dg_source src;

	src_init(&src, "ab\ncd\n");
	check_lc(&src, 0, 1, 1);
	check_lc(&src, 1, 1, 2);
	check_lc(&src, 2, 1, 3); /* the '\n': just past the line's last character */
	check_lc(&src, 3, 2, 1); /* line start */
	check_lc(&src, 5, 2, 3); /* line end */
	check_lc(&src, 6, 2, 3); /* end of file after a final newline: after the last character */
	check_lc(&src, 600, 2, 3); /* clamped */
	dg_source_free(&src);

	src_init(&src, "ab\ncd");
	check_lc(&src, 5, 2, 3); /* end of file without a final newline */
	dg_source_free(&src);

	src_init(&src, "");
	check_lc(&src, 0, 1, 1);
	check_lc(&src, 9, 1, 1);
	dg_source_free(&src);

	src_init(&src, "a\n\n");
	check_lc(&src, 2, 2, 1);
	check_lc(&src, 3, 2, 1);
	dg_source_free(&src);

	/* Columns count UTF-8 characters: é is 2 bytes, € is 3. */
	src_init(&src, "x: \xc3\xa9\xe2\x82\xacz\n\xe2\x82\xac");
	check_lc(&src, 3, 1, 4);
	check_lc(&src, 5, 1, 5);
	check_lc(&src, 8, 1, 6);
	check_lc(&src, 9, 1, 7);
	check_lc(&src, 10, 2, 1);
	check_lc(&src, 13, 2, 2);
	dg_source_free(&src);

	/* CRLF: the '\r' is not a character of the line. */
	src_init(&src, "a: 1\r\nbb: 2\r\n");
	check_lc(&src, 4, 1, 5);
	check_lc(&src, 5, 1, 5);
	check_lc(&src, 6, 2, 1);
	check_lc(&src, 11, 2, 6);
	check_lc(&src, 13, 2, 6);
	dg_source_free(&src);

	src_init(&src, "\xef\xbb\xbf" "ab");
	check_lc(&src, 0, 1, 1);
	check_lc(&src, 3, 1, 1);
	check_lc(&src, 4, 1, 2);
	dg_source_free(&src);
}
END_TEST

START_TEST(test_offset)
{
	struct dg_source src;

	src_init(&src, "ab\ncd\n");
	ck_assert_uint_eq(dg_offset(&src, 0, 0), 0);
	ck_assert_uint_eq(dg_offset(&src, 0, 2), 2);
	ck_assert_uint_eq(dg_offset(&src, 0, 9), 2); /* stops at the line break */
	ck_assert_uint_eq(dg_offset(&src, 1, 0), 3);
	ck_assert_uint_eq(dg_offset(&src, 1, 2), 5);
	ck_assert_uint_eq(dg_offset(&src, 2, 0), 6); /* libyaml's end-of-stream mark */
	ck_assert_uint_eq(dg_offset(&src, 7, 3), 6);
	dg_source_free(&src);

	src_init(&src, "x: \xc3\xa9\xe2\x82\xacz");
	ck_assert_uint_eq(dg_offset(&src, 0, 4), 5);
	ck_assert_uint_eq(dg_offset(&src, 0, 5), 8);
	ck_assert_uint_eq(dg_offset(&src, 0, 6), 9);
	ck_assert_uint_eq(dg_offset(&src, 0, 7), 9);
	dg_source_free(&src);

	src_init(&src, "a\r\nb: 1\r\n");
	ck_assert_uint_eq(dg_offset(&src, 1, 0), 3);
	ck_assert_uint_eq(dg_offset(&src, 1, 3), 6);
	ck_assert_uint_eq(dg_offset(&src, 2, 0), 9);
	dg_source_free(&src);

	src_init(&src, "\xef\xbb\xbf" "ab\nc");
	ck_assert_uint_eq(dg_offset(&src, 0, 0), 3);
	ck_assert_uint_eq(dg_offset(&src, 0, 1), 4);
	ck_assert_uint_eq(dg_offset(&src, 1, 0), 6);
	dg_source_free(&src);
}
END_TEST

START_TEST(test_caret_basic)
{
	const char *text = "rules:\n  - id: x\n    wher: amount > 5\n";

	check_error(text, strstr(text, "wher") - text, 4,
		    "r.yaml:3:5: error: msg 7\n"
		    "    wher: amount > 5\n"
		    "    ^~~~\n");
	/* Span 0 and 1 both show one caret. */
	check_error(text, strstr(text, "wher") - text, 0,
		    "r.yaml:3:5: error: msg 7\n"
		    "    wher: amount > 5\n"
		    "    ^\n");
	check_error(text, strstr(text, "wher") - text, 1,
		    "r.yaml:3:5: error: msg 7\n"
		    "    wher: amount > 5\n"
		    "    ^\n");
	/* First character of the file. */
	check_error(text, 0, 5,
		    "r.yaml:1:1: error: msg 7\n"
		    "rules:\n"
		    "^~~~~\n");
}
END_TEST

START_TEST(test_caret_span_clipped)
{
	const char *text = "a: [1,\n  2]\n";

	/* A span running past the end of the line stops at the line end. */
	check_error(text, 3, 8,
		    "r.yaml:1:4: error: msg 7\n"
		    "a: [1,\n"
		    "   ^~~\n");
	/* A caret at the line end. */
	check_error(text, 6, 3,
		    "r.yaml:1:7: error: msg 7\n"
		    "a: [1,\n"
		    "      ^\n");
}
END_TEST

START_TEST(test_caret_tabs)
{
	const char *text = "\tkey:\tvalue here\n";

	check_error(text, 6, 5,
		    "r.yaml:1:7: error: msg 7\n"
		    "\tkey:\tvalue here\n"
		    "\t    \t^~~~~\n");
}
END_TEST

START_TEST(test_caret_utf8)
{
	/* "d: é€ x": two multi-byte characters before the caret, one space each. */
	const char *text = "d: \xc3\xa9\xe2\x82\xac x\n";

	check_error(text, 9, 1,
		    "r.yaml:1:7: error: msg 7\n"
		    "d: \xc3\xa9\xe2\x82\xac x\n"
		    "      ^\n");
	/* A span over multi-byte characters has one mark per character. */
	check_error(text, 3, 5,
		    "r.yaml:1:4: error: msg 7\n"
		    "d: \xc3\xa9\xe2\x82\xac x\n"
		    "   ^~\n");
}
END_TEST

START_TEST(test_caret_eof)
{
	/* An offset at the end of the file points after the last character. */
	check_error("a: [1, 2\n", 9, 0,
		    "r.yaml:1:9: error: msg 7\n"
		    "a: [1, 2\n"
		    "        ^\n");
	check_error("a: [1, 2", 8, 0,
		    "r.yaml:1:9: error: msg 7\n"
		    "a: [1, 2\n"
		    "        ^\n");
	check_error("", 0, 3,
		    "r.yaml:1:1: error: msg 7\n"
		    "\n"
		    "^\n");
	check_error("a\n\n", 3, 0,
		    "r.yaml:2:1: error: msg 7\n"
		    "\n"
		    "^\n");
}
END_TEST

START_TEST(test_caret_crlf)
{
	const char *text = "a: 1\r\nbb: 2\r\n";

	check_error(text, 6, 2,
		    "r.yaml:2:1: error: msg 7\n"
		    "bb: 2\n"
		    "^~\n");
	/* The span stops before the '\r'. */
	check_error(text, 10, 9,
		    "r.yaml:2:5: error: msg 7\n"
		    "bb: 2\n"
		    "    ^\n");
	check_error(text, 13, 0,
		    "r.yaml:2:6: error: msg 7\n"
		    "bb: 2\n"
		    "     ^\n");
}
END_TEST

START_TEST(test_caret_bom)
{
	check_error("\xef\xbb\xbf" "ab: 1\n", 3, 2,
		    "r.yaml:1:1: error: msg 7\n"
		    "ab: 1\n"
		    "^~\n");
}
END_TEST

START_TEST(test_note_and_file_error)
{
	struct dg_source src;
	struct capture c;

	src_init(&src, "id: a\nid: b\n");
	cap_open(&c);
	dg_error(&c.sink, &src, 6, 2, "duplicate key '%s'", "id");
	dg_note(&c.sink, &src, 0, 2, "first given here");
	dg_error_file(&c.sink, "other.yaml", "cannot open: %s", "No such file or directory");
	ck_assert_uint_eq(c.sink.n_errors, 2);
	ck_assert_str_eq(cap_text(&c),
			 "r.yaml:2:1: error: duplicate key 'id'\n"
			 "id: b\n"
			 "^~\n"
			 "r.yaml:1:1: note: first given here\n"
			 "id: a\n"
			 "^~\n"
			 "other.yaml: error: cannot open: No such file or directory\n");
	cap_free(&c);
	dg_source_free(&src);
}
END_TEST

/* Writes text to a new temporary file; returns its path (static buffer). */
static const char *temp_file(const char *text, size_t len)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof path, "/tmp/tl_diag_XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

START_TEST(test_load_file)
{
	struct dg_source src;
	char err[128];
	const char *path = temp_file("a: 1\r\nb: 2\n", 11);

	ck_assert_int_eq(dg_source_load(&src, path, 16u << 20, err, sizeof err), 0);
	ck_assert_str_eq(src.name, path);
	ck_assert_uint_eq(src.len, 11);
	ck_assert_str_eq(src.text, "a: 1\r\nb: 2\n");
	ck_assert_uint_eq(src.n_lines, 2);
	dg_source_free(&src);

	/* Exactly max_size bytes is allowed; one more is not. */
	ck_assert_int_eq(dg_source_load(&src, path, 11, err, sizeof err), 0);
	dg_source_free(&src);
	ck_assert_int_eq(dg_source_load(&src, path, 10, err, sizeof err), -1);
	ck_assert_str_eq(err, "file is larger than 10 bytes");
	ck_assert_ptr_null(src.text);
	ck_assert_int_eq(dg_source_load(&src, path, 1, err, sizeof err), -1);
	ck_assert_str_eq(err, "file is larger than 1 byte");
	unlink(path);

	path = temp_file("", 0);
	ck_assert_int_eq(dg_source_load(&src, path, 16u << 20, err, sizeof err), 0);
	ck_assert_uint_eq(src.len, 0);
	ck_assert_str_eq(src.text, "");
	dg_source_free(&src);
	unlink(path);
}
END_TEST

START_TEST(test_load_too_large)
{
	struct dg_source src;
	char err[128];
	const char *path = temp_file("", 0);
	int fd;

	/* A sparse file one byte over 16 MiB: refused by its size, never read. */
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (16 << 20) + 1), 0);
	close(fd);
	ck_assert_int_eq(dg_source_load(&src, path, 16u << 20, err, sizeof err), -1);
	ck_assert_str_eq(err, "file is larger than 16 MiB");
	unlink(path);

	/* A small max_size that is a whole number of MiB... */
	path = temp_file("", 0);
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(ftruncate(fd, (1 << 20) + 1), 0);
	close(fd);
	ck_assert_int_eq(dg_source_load(&src, path, 1u << 20, err, sizeof err), -1);
	ck_assert_str_eq(err, "file is larger than 1 MiB");
	ck_assert_int_eq(dg_source_load(&src, path, 2u << 20, err, sizeof err), 0);
	ck_assert_uint_eq(src.len, (1 << 20) + 1);
	dg_source_free(&src);
	unlink(path);
}
END_TEST

START_TEST(test_load_errors)
{
	struct dg_source src;
	char err[128];

	ck_assert_int_eq(dg_source_load(&src, "/nonexistent/tl/r.yaml", 100, err, sizeof err), -1);
	ck_assert_str_eq(err, "cannot open: No such file or directory");
	ck_assert_int_eq(dg_source_load(&src, "/tmp", 100, err, sizeof err), -1);
	ck_assert_str_eq(err, "is a directory, not a rule file");
	ck_assert_int_eq(dg_source_load(&src, "-", 100, err, sizeof err), -1);
	ck_assert_str_eq(err, "rules cannot be read from standard input");
	/* No error buffer is fine too. */
	ck_assert_int_eq(dg_source_load(&src, "/nonexistent/x", 100, NULL, 0), -1);
	/* A character device is read like a pipe, up to the limit. */
	ck_assert_int_eq(dg_source_load(&src, "/dev/null", 100, err, sizeof err), 0);
	ck_assert_uint_eq(src.len, 0);
	dg_source_free(&src);
	ck_assert_int_eq(dg_source_load(&src, "/dev/zero", 100, err, sizeof err), -1);
	ck_assert_str_eq(err, "file is larger than 100 bytes");
}
END_TEST

START_TEST(test_alloc_failure)
{
	const char *path = temp_file("a: 1\nb: 2\n", 10);
	unsigned long n;
	int done = 0;

	for (n = 1; !done; n++) {
		struct dg_source src, src2;
		char err[64];
		int r1, r2;

		tl_alloc_count = 0;
		tl_alloc_fail_at = n;
		r1 = dg_source_init_mem(&src, "m.yaml", "x\ny\n", 4);
		r2 = dg_source_load(&src2, path, 100, err, sizeof err);
		done = tl_alloc_fail_at != 0; /* no allocation failed: every path is covered */
		tl_alloc_fail_at = 0;
		if (r1 == 0) {
			ck_assert_uint_eq(src.n_lines, 2);
			dg_source_free(&src);
		} else {
			ck_assert_ptr_null(src.text);
		}
		if (r2 == 0)
			dg_source_free(&src2);
		else
			ck_assert_str_eq(err, "out of memory");
		ck_assert(!done || (r1 == 0 && r2 == 0));
	}
	ck_assert_uint_gt(n, 5);
	unlink(path);
}
END_TEST

START_TEST(test_long_line_window)
{
	struct capture c;
	struct dg_source src;
	char text[1200], want[1024];
	size_t i;

	/* a 1000-character line with a marker at 600: the excerpt is cut on both sides */
	for (i = 0; i < 1000; i++)
		text[i] = (char)('a' + i % 26);
	memcpy(text + 600, "BAD", 3);
	text[1000] = '\n';
	text[1001] = '\0';
	src_init(&src, text);
	cap_open(&c);
	dg_error(&c.sink, &src, 600, 3, "here");
	snprintf(want, sizeof want, "r.yaml:1:601: error: here\n...%.*s...\n%*s^~~\n",
		 (int)(DG_LINE_WINDOW / 2 + 3 + DG_LINE_WINDOW / 2), text + 600 - DG_LINE_WINDOW / 2,
		 3 + DG_LINE_WINDOW / 2, "");
	ck_assert_str_eq(cap_text(&c), want);
	cap_free(&c);
	dg_source_free(&src);
}
END_TEST

START_TEST(test_max_shown)
{
	struct capture c;
	struct dg_source src;
	int i;

	src_init(&src, "a: 1\n");
	cap_open(&c);
	c.sink.max_shown = 2;
	for (i = 0; i < 5; i++) {
		dg_error(&c.sink, &src, 0, 1, "e%d", i);
		dg_note(&c.sink, &src, 0, 1, "n%d", i);
	}
	dg_error_file(&c.sink, "r.yaml", "last");
	ck_assert_uint_eq(c.sink.n_errors, 6);
	ck_assert_str_eq(cap_text(&c), "r.yaml:1:1: error: e0\na: 1\n^\n"
				       "r.yaml:1:1: note: n0\na: 1\n^\n"
				       "r.yaml:1:1: error: e1\na: 1\n^\n"
				       "r.yaml:1:1: note: n1\na: 1\n^\n");
	cap_free(&c);
	dg_source_free(&src);
}
END_TEST

static Suite *diag_suite(void)
{
	Suite *s = suite_create("diag");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_line_map);
	tcase_add_test(tc, test_long_line_window);
	tcase_add_test(tc, test_max_shown);
	tcase_add_test(tc, test_linecol);
	tcase_add_test(tc, test_offset);
	tcase_add_test(tc, test_caret_basic);
	tcase_add_test(tc, test_caret_span_clipped);
	tcase_add_test(tc, test_caret_tabs);
	tcase_add_test(tc, test_caret_utf8);
	tcase_add_test(tc, test_caret_eof);
	tcase_add_test(tc, test_caret_crlf);
	tcase_add_test(tc, test_caret_bom);
	tcase_add_test(tc, test_note_and_file_error);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_too_large);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_alloc_failure);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(diag_suite());
	int n_failed;

	srunner_run_all(sr, CK_NORMAL);
	n_failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
