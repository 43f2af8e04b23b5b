/* test_reader.c - Check suite for engine/reader.c: line splitting from memory, regular files
 * and pipes (with controlled and uncontrolled read boundaries), too-long lines and their
 * overflow, the before_block hook, EINTR and the stop flag, errors, allocation failures.
 *
 * Most pipe tests stay in one process: the reader calls before_block only when the pipe is
 * empty, and the hook then writes the next piece, so every read() sees exactly one piece.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "reader.h"

/* ck_assert records a checkpoint on every call (a write to Check's channel); hot loops use
 * this instead, which costs nothing until it fails. */
#define REQUIRE(cond)                                                                     \
	do {                                                                              \
		if (!(cond))                                                              \
			ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);              \
	} while (0)

/* ---- collecting lines -------------------------------------------------------------------- */

struct got {
	char *text;
	size_t len;
	uint64_t lineno;
	int too_long;
	char *over;         /* the bytes on_overflow received for this line */
	size_t over_len, over_cap;
	size_t n_chunks;
};

struct run {
	struct got *lines;
	size_t n, cap;
	int n_block;        /* before_block calls */
	/* pipe feeding from before_block */
	int wfd;
	const char *feed;
	size_t feed_len, feed_pos, max_piece;
	uint64_t seed;
	/* stop injection: every stop_every-th before_block sets stop instead of writing */
	int stop_every, n_stops;
	volatile sig_atomic_t stop;
	size_t max_chunk;   /* largest overflow chunk seen */
};

static uint64_t next_rand(uint64_t *seed)
{
	*seed ^= *seed << 13;
	*seed ^= *seed >> 7;
	*seed ^= *seed << 17;
	return *seed;
}

static char *copy_bytes(const char *p, size_t len)
{
	char *c = malloc(len ? len : 1);

	REQUIRE(c != NULL);
	if (len)
		memcpy(c, p, len);
	return c;
}

static void run_init(struct run *run)
{
	memset(run, 0, sizeof *run);
	run->wfd = -1;
	run->seed = 88172645463325252u;
}

static void run_free(struct run *run)
{
	for (size_t i = 0; i < run->n; i++) {
		free(run->lines[i].text);
		free(run->lines[i].over);
	}
	free(run->lines);
	if (run->wfd >= 0)
		close(run->wfd);
	run->lines = NULL;
	run->n = run->cap = 0;
}

static struct got *add_line(struct run *run, const char *text, size_t len, uint64_t lineno,
			    int too_long)
{
	struct got *g;

	if (run->n == run->cap) {
		run->cap = run->cap ? run->cap * 2 : 16;
		run->lines = realloc(run->lines, run->cap * sizeof *run->lines);
		REQUIRE(run->lines != NULL);
	}
	g = &run->lines[run->n++];
	memset(g, 0, sizeof *g);
	g->text = copy_bytes(text, len);
	g->len = len;
	g->lineno = lineno;
	g->too_long = too_long;
	return g;
}

static void on_overflow(void *ctx, const char *chunk, size_t len)
{
	struct run *run = ctx;
	struct got *g;

	/* the rest belongs to the last line returned, which must be too long */
	REQUIRE(run->n > 0);
	g = &run->lines[run->n - 1];
	REQUIRE(g->too_long);
	REQUIRE(len > 0);
	if (g->over_len + len > g->over_cap) {
		g->over_cap = 2 * (g->over_len + len);
		g->over = realloc(g->over, g->over_cap);
		REQUIRE(g->over != NULL);
	}
	memcpy(g->over + g->over_len, chunk, len);
	g->over_len += len;
	g->n_chunks++;
	if (len > run->max_chunk)
		run->max_chunk = len;
}

static void count_block(void *ctx)
{
	struct run *run = ctx;

	run->n_block++;
}

/* before_block: write the next piece of the feed (1..max_piece bytes), or close the pipe */
static void feed_piece(void *ctx)
{
	struct run *run = ctx;
	size_t n;

	run->n_block++;
	if (run->stop_every && run->n_block % run->stop_every == 0) {
		run->stop = 1;
		return;
	}
	if (run->feed_pos < run->feed_len) {
		n = 1 + next_rand(&run->seed) % run->max_piece;
		if (n > run->feed_len - run->feed_pos)
			n = run->feed_len - run->feed_pos;
		REQUIRE(write(run->wfd, run->feed + run->feed_pos, n) == (ssize_t)n);
		run->feed_pos += n;
	}
	if (run->feed_pos == run->feed_len && run->wfd >= 0) {
		close(run->wfd);
		run->wfd = -1;
	}
}

static struct rd_hooks hooks_for(struct run *run, void (*before_block)(void *))
{
	struct rd_hooks h = {
		.before_block = before_block,
		.on_overflow = on_overflow,
		.ctx = run,
		.stop = &run->stop,
	};

	return h;
}

/* Reads every line; RD_STOPPED (from stop injection) clears the flag and goes on. */
static enum rd_status drain(struct rd_reader *r, struct run *run)
{
	for (;;) {
		struct rd_line line;
		enum rd_status st = rd_next(r, &line);

		if (st == RD_STOPPED && run->stop_every) {
			run->stop = 0;
			run->n_stops++;
			continue;
		}
		if (st != RD_LINE)
			return st;
		add_line(run, line.text, line.len, line.lineno, line.too_long);
	}
}

/* The obviously correct model: split at "\n", drop one "\r" before it, cut at max_line. */
static void reference(const char *in, size_t len, size_t max_line, struct run *out)
{
	size_t pos = 0;
	uint64_t lineno = 0;

	while (pos < len) {
		const char *nl = memchr(in + pos, '\n', len - pos);
		size_t raw = nl ? (size_t)(nl - (in + pos)) : len - pos;
		size_t l = raw;
		struct got *g;

		if (nl && l > 0 && in[pos + l - 1] == '\r')
			l--;
		g = add_line(out, in + pos, l > max_line ? max_line : l, ++lineno, l > max_line);
		if (l > max_line) {
			g->over = copy_bytes(in + pos + max_line, l - max_line);
			g->over_len = l - max_line;
		}
		pos += raw + (nl ? 1 : 0);
	}
}

static void expect_same(const struct run *want, const struct run *got, const char *what)
{
	if (got->n != want->n)
		ck_abort_msg("%s: %zu lines, want %zu", what, got->n, want->n);
	for (size_t i = 0; i < want->n; i++) {
		const struct got *w = &want->lines[i], *g = &got->lines[i];

		if (g->lineno != w->lineno)
			ck_abort_msg("%s: line %zu numbered %llu", what, i,
				     (unsigned long long)g->lineno);
		if (g->too_long != w->too_long)
			ck_abort_msg("%s: line %zu too_long %d", what, i, g->too_long);
		if (g->len != w->len || memcmp(g->text, w->text, w->len) != 0)
			ck_abort_msg("%s: line %zu text differs (len %zu, want %zu)", what, i,
				     g->len, w->len);
		if (g->over_len != w->over_len ||
		    (w->over_len && memcmp(g->over, w->over, w->over_len) != 0))
			ck_abort_msg("%s: line %zu overflow differs (len %zu, want %zu)", what, i,
				     g->over_len, w->over_len);
	}
}

/* ---- the three sources ------------------------------------------------------------------- */

static void read_mem(const char *in, size_t len, size_t max_line, struct run *run)
{
	struct rd_hooks h = hooks_for(run, count_block);
	struct rd_reader *r = rd_open_mem(in, len, max_line, &h);

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(drain(r, run), RD_EOF);
	/* EOF stays EOF */
	{
		struct rd_line line;

		ck_assert_int_eq(rd_next(r, &line), RD_EOF);
	}
	rd_close(r);
	ck_assert_int_eq(run->n_block, 0);
}

static void read_file(const char *in, size_t len, size_t max_line, struct run *run)
{
	struct rd_hooks h = hooks_for(run, count_block);
	FILE *f = tmpfile();
	struct rd_reader *r;

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(in, 1, len, f), len);
	ck_assert_int_eq(fflush(f), 0);
	ck_assert_int_eq(lseek(fileno(f), 0, SEEK_SET), 0);
	r = rd_open_fd(fileno(f), max_line, &h);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(drain(r, run), RD_EOF);
	rd_close(r);
	fclose(f);
	/* a regular file is always ready: never a reason to flush */
	ck_assert_int_eq(run->n_block, 0);
}

static void read_pipe_fed(const char *in, size_t len, size_t max_line, size_t max_piece,
			  struct run *run)
{
	struct rd_hooks h = hooks_for(run, feed_piece);
	struct rd_reader *r;
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	run->wfd = fds[1];
	run->feed = in;
	run->feed_len = len;
	run->max_piece = max_piece;
	r = rd_open_fd(fds[0], max_line, &h);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(drain(r, run), RD_EOF);
	rd_close(r);
	close(fds[0]);
	ck_assert_uint_eq(run->feed_pos, len);
	ck_assert_int_eq(run->wfd, -1);
}

/* A forked child writes in as many pieces, with short pauses between them. */
static void read_pipe_child(const char *in, size_t len, size_t max_line, size_t max_piece,
			    uint64_t seed, struct run *run)
{
	struct rd_hooks h = hooks_for(run, count_block);
	struct rd_reader *r;
	int fds[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		size_t pos = 0;

		close(fds[0]);
		while (pos < len) {
			size_t n = 1 + next_rand(&seed) % max_piece;
			ssize_t w;

			if (n > len - pos)
				n = len - pos;
			w = write(fds[1], in + pos, n);
			if (w <= 0)
				_exit(1);
			pos += (size_t)w;
			if (next_rand(&seed) % 4 == 0)
				usleep((useconds_t)(next_rand(&seed) % 300));
		}
		_exit(0);
	}
	close(fds[1]);
	r = rd_open_fd(fds[0], max_line, &h);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(drain(r, run), RD_EOF);
	rd_close(r);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Reads in through memory, a regular file and a pipe fed 1..max_piece bytes at a time,
 * and checks each against the model. */
static void check_all(const char *in, size_t len, size_t max_line, size_t max_piece)
{
	struct run want, got;

	run_init(&want);
	reference(in, len, max_line, &want);

	run_init(&got);
	read_mem(in, len, max_line, &got);
	expect_same(&want, &got, "mem");
	run_free(&got);

	run_init(&got);
	read_file(in, len, max_line, &got);
	expect_same(&want, &got, "file");
	run_free(&got);

	run_init(&got);
	read_pipe_fed(in, len, max_line, max_piece, &got);
	expect_same(&want, &got, "pipe");
	run_free(&got);

	run_free(&want);
}

/* Reads in from memory and checks the lines against want (NULL-terminated texts; a too-long
 * line is written as "head|rest"). */
static void expect_lines(const char *in, size_t len, size_t max_line, const char *const *want)
{
	struct run got;
	size_t n = 0;

	run_init(&got);
	read_mem(in, len, max_line, &got);
	for (; want[n]; n++) {
		const char *bar = strchr(want[n], '|');
		size_t head = bar ? (size_t)(bar - want[n]) : strlen(want[n]);

		ck_assert_uint_lt(n, got.n);
		ck_assert_uint_eq(got.lines[n].lineno, n + 1);
		ck_assert_int_eq(got.lines[n].too_long, bar != NULL);
		ck_assert_uint_eq(got.lines[n].len, head);
		ck_assert(memcmp(got.lines[n].text, want[n], head) == 0);
		if (bar) {
			ck_assert_uint_eq(got.lines[n].over_len, strlen(bar + 1));
			ck_assert(memcmp(got.lines[n].over, bar + 1, strlen(bar + 1)) == 0);
		} else {
			ck_assert_uint_eq(got.lines[n].over_len, 0);
		}
	}
	ck_assert_uint_eq(got.n, n);
	run_free(&got);
	/* and the same through a file and a pipe, one byte at a time */
	check_all(in, len, max_line, 1);
}

#define LINES(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define STR(s) s, sizeof(s) - 1

/* ---- line splitting ---------------------------------------------------------------------- */

START_TEST(test_empty_input)
{
	expect_lines(STR(""), 100, (const char *const[]){ NULL });
	expect_lines(STR("\n"), 100, LINES(""));
	expect_lines(STR("\r\n"), 100, LINES(""));
}
END_TEST

START_TEST(test_crlf)
{
	expect_lines(STR("a\r\nbc\r\n"), 100, LINES("a", "bc"));
	expect_lines(STR("a\r\nb\n"), 100, LINES("a", "b"));
	/* only one "\r", and only right before "\n" */
	expect_lines(STR("a\r\r\n"), 100, LINES("a\r"));
	expect_lines(STR("a\rb\n"), 100, LINES("a\rb"));
	expect_lines(STR("\r\r\n\r"), 100, LINES("\r", "\r"));
	expect_lines(STR("a\r\nb\r"), 100, LINES("a", "b\r"));
}
END_TEST

START_TEST(test_blank_lines)
{
	expect_lines(STR("\n\n\n"), 100, LINES("", "", ""));
	expect_lines(STR("a\n\nb\n\r\n\nc"), 100, LINES("a", "", "b", "", "", "c"));
}
END_TEST

START_TEST(test_final_line)
{
	expect_lines(STR("a"), 100, LINES("a"));
	expect_lines(STR("a\nb"), 100, LINES("a", "b"));
	expect_lines(STR("{\"ts\": 1}\n{\"ts\": 2}"), 100, LINES("{\"ts\": 1}", "{\"ts\": 2}"));
}
END_TEST

START_TEST(test_nul_bytes)
{
	static const char in[] = "a\0b\n\0\n\0\0\r\n\xff\xfe\x80";
	struct run got;

	run_init(&got);
	read_mem(in, sizeof in - 1, 100, &got);
	ck_assert_uint_eq(got.n, 4);
	ck_assert_uint_eq(got.lines[0].len, 3);
	ck_assert(memcmp(got.lines[0].text, "a\0b", 3) == 0);
	ck_assert_uint_eq(got.lines[1].len, 1);
	ck_assert_int_eq(got.lines[1].text[0], '\0');
	ck_assert_uint_eq(got.lines[2].len, 2);
	ck_assert_uint_eq(got.lines[3].len, 3);
	ck_assert(memcmp(got.lines[3].text, "\xff\xfe\x80", 3) == 0);
	run_free(&got);
	check_all(in, sizeof in - 1, 2, 3);
}
END_TEST

START_TEST(test_line_numbers)
{
	static char in[10000 * 3];
	struct run got;
	size_t len = 0;

	/* 10000 lines, every third one blank */
	for (int i = 0; i < 10000; i++) {
		if (i % 3 != 2)
			in[len++] = (char)('a' + i % 26);
		in[len++] = '\n';
	}
	run_init(&got);
	read_mem(in, len, 100, &got);
	ck_assert_uint_eq(got.n, 10000);
	for (size_t i = 0; i < got.n; i++) {
		REQUIRE(got.lines[i].lineno == i + 1);
		REQUIRE(got.lines[i].len == (i % 3 != 2));
	}
	run_free(&got);
	check_all(in, len, 100, 7);
}
END_TEST

/* ---- too-long lines ---------------------------------------------------------------------- */

START_TEST(test_too_long)
{
	expect_lines(STR("abcdefgh\nxy\n"), 4, LINES("abcd|efgh", "xy"));
	expect_lines(STR("abcdefgh\r\nxy\r\n"), 4, LINES("abcd|efgh", "xy"));
	expect_lines(STR("abcdefgh"), 4, LINES("abcd|efgh"));
	expect_lines(STR("abcde\n"), 4, LINES("abcd|e"));
	expect_lines(STR("abcde\r\n"), 4, LINES("abcd|e"));
	expect_lines(STR("abcd\r\r\n"), 4, LINES("abcd|\r"));
	expect_lines(STR("a\nabcdefghij\n\nabcdefghij\r\nb"), 4,
		     LINES("a", "abcd|efghij", "", "abcd|efghij", "b"));
	/* max_line 0: every non-empty line is too long */
	expect_lines(STR("ab\n\nc"), 0, LINES("|ab", "", "|c"));
}
END_TEST

START_TEST(test_exactly_max_line)
{
	/* max_line bytes are not too long, whatever the ending */
	expect_lines(STR("abcd\nefgh\r\nijkl"), 4, LINES("abcd", "efgh", "ijkl"));
	expect_lines(STR("abcd\n"), 4, LINES("abcd"));
	expect_lines(STR("abcd\r\n"), 4, LINES("abcd"));
	/* a final "\r" without "\n" is a byte of the line */
	expect_lines(STR("abc\r"), 4, LINES("abc\r"));
	expect_lines(STR("abcd\r"), 4, LINES("abcd|\r"));
}
END_TEST

START_TEST(test_too_long_streams)
{
	/* a 20 MB line in 64 KiB pieces: it streams in many chunks, each no bigger than the
	 * reader's buffer, and the next line is intact */
	size_t big = 20u << 20, max_line = 1000, len = big + 1 + 5;
	char *in = malloc(len);
	struct run want, got;

	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < big; i++)
		in[i] = (char)('a' + i % 23);
	memcpy(in + big, "\nnext\n", 6);
	run_init(&want);
	reference(in, len, max_line, &want);

	run_init(&got);
	read_pipe_fed(in, len, max_line, 65536, &got);
	expect_same(&want, &got, "pipe");
	ck_assert_uint_gt(got.lines[0].n_chunks, 100);
	ck_assert_uint_le(got.max_chunk, 256 * 1024 + max_line + 2);
	run_free(&got);

	run_init(&got);
	read_file(in, len, max_line, &got);
	expect_same(&want, &got, "file");
	ck_assert_uint_gt(got.lines[0].n_chunks, 1);
	run_free(&got);

	run_free(&want);
	free(in);
}
END_TEST

START_TEST(test_long_line_within_max)
{
	/* lines longer than one read but within max_line come back whole */
	size_t big = 700000, len = 3 * (big + 1);
	char *in = malloc(len);
	struct run want, got;

	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < len; i++)
		in[i] = i % (big + 1) == big ? '\n' : (char)('0' + i % 10);
	in[big - 1] = '\r'; /* first line: "\r\n" ending, exactly big - 1 bytes */
	run_init(&want);
	reference(in, len, big, &want);
	ck_assert_uint_eq(want.n, 3);
	ck_assert(!want.lines[0].too_long && !want.lines[1].too_long);

	run_init(&got);
	read_file(in, len, big, &got);
	expect_same(&want, &got, "file");
	run_free(&got);
	run_init(&got);
	read_pipe_fed(in, len, big, 65536, &got);
	expect_same(&want, &got, "pipe");
	run_free(&got);
	run_init(&got);
	read_pipe_child(in, len, big, 100000, 7, &got);
	expect_same(&want, &got, "child");
	run_free(&got);
	run_free(&want);
	free(in);
}
END_TEST

START_TEST(test_too_long_without_hook)
{
	struct rd_reader *r = rd_open_mem(STR("abcdef\nxy\n"), 2, NULL);
	struct rd_line line;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(rd_next(r, &line), RD_LINE);
	ck_assert(line.too_long && line.len == 2 && memcmp(line.text, "ab", 2) == 0);
	ck_assert_int_eq(rd_next(r, &line), RD_LINE);
	ck_assert(!line.too_long && line.len == 2 && memcmp(line.text, "xy", 2) == 0);
	ck_assert_uint_eq(line.lineno, 2);
	ck_assert_int_eq(rd_next(r, &line), RD_EOF);
	rd_close(r);

	/* closing with the rest unread is fine */
	r = rd_open_mem(STR("abcdef\nxy\n"), 2, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(rd_next(r, &line), RD_LINE);
	rd_close(r);
	rd_close(NULL);
}
END_TEST

START_TEST(test_huge_max_line_mem)
{
	struct rd_reader *r = rd_open_mem(STR("abc\ndef"), SIZE_MAX, NULL);
	struct rd_line line;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(rd_next(r, &line), RD_LINE);
	ck_assert_uint_eq(line.len, 3);
	ck_assert_int_eq(rd_next(r, &line), RD_LINE);
	ck_assert_uint_eq(line.len, 3);
	ck_assert_int_eq(rd_next(r, &line), RD_EOF);
	rd_close(r);
	/* an fd reader cannot have a buffer that large */
	errno = 0;
	ck_assert_ptr_null(rd_open_fd(0, SIZE_MAX, NULL));
	ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

/* ---- read boundaries --------------------------------------------------------------------- */

START_TEST(test_split_every_position)
{
	static const char in[] = "{\"a\":1}\r\n\nxyz\r\n0123456789\nabcd\r\nq";

	/* pieces of every size, so that every boundary falls everywhere, incl. between "\r"
	 * and "\n" and right after the max_line-th byte */
	for (size_t piece = 1; piece <= sizeof in; piece++) {
		for (size_t max_line = 0; max_line <= 11; max_line++) {
			struct run want, got;

			run_init(&want);
			reference(in, sizeof in - 1, max_line, &want);
			run_init(&got);
			got.seed = piece; /* any; pieces are 1..piece bytes */
			read_pipe_fed(in, sizeof in - 1, max_line, piece, &got);
			expect_same(&want, &got, "pipe");
			run_free(&got);
			run_free(&want);
		}
	}
}
END_TEST

/* Differential: random inputs rich in "\r", "\n" and NUL, random max_line and piece sizes,
 * random stops in the middle, against the model. */
START_TEST(test_random_differential)
{
	static const char alphabet[] = "ab\r\n\0\r\n\n";
	uint64_t seed = 0x2545f4914f6cdd1du + (uint64_t)_i;
	char in[400];

	for (int iter = 0; iter < 300; iter++) {
		size_t len = next_rand(&seed) % sizeof in;
		size_t max_line = next_rand(&seed) % 12;
		size_t piece = 1 + next_rand(&seed) % 9;
		struct run want, got;

		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[next_rand(&seed) % (sizeof alphabet - 1)];
		run_init(&want);
		reference(in, len, max_line, &want);

		run_init(&got);
		read_mem(in, len, max_line, &got);
		expect_same(&want, &got, "mem");
		run_free(&got);

		run_init(&got);
		got.seed = seed | 1;
		got.stop_every = 2 + (int)(next_rand(&seed) % 5);
		read_pipe_fed(in, len, max_line, piece, &got);
		expect_same(&want, &got, "pipe with stops");
		ck_assert(got.n_block < got.stop_every || got.n_stops > 0);
		run_free(&got);

		if (iter % 10 == 0) {
			run_init(&got);
			read_file(in, len, max_line, &got);
			expect_same(&want, &got, "file");
			run_free(&got);
		}
		run_free(&want);
	}
}
END_TEST

START_TEST(test_forked_writer)
{
	uint64_t seed = 42;
	size_t len = 200000;
	char *in = malloc(len);

	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < len; i++) {
		uint64_t x = next_rand(&seed) % 40;

		in[i] = x == 0 ? '\n' : x == 1 ? '\r' : x == 2 ? '\0' : (char)('a' + x % 26);
	}
	for (size_t max_line = 0; max_line < 70; max_line += 23) {
		struct run want, got;

		run_init(&want);
		reference(in, len, max_line, &want);
		run_init(&got);
		read_pipe_child(in, len, max_line, 4000, seed + max_line, &got);
		expect_same(&want, &got, "forked writer");
		run_free(&got);
		run_free(&want);
	}
	free(in);
}
END_TEST

/* ---- blocking, signals, errors ----------------------------------------------------------- */

START_TEST(test_before_block_pipe)
{
	struct run run;
	struct rd_hooks h;
	struct rd_reader *r;
	struct rd_line line;
	int fds[2];

	run_init(&run);
	h = hooks_for(&run, feed_piece);
	ck_assert_int_eq(pipe(fds), 0);
	run.wfd = fds[1];
	run.feed = "hello\nworld\n";
	run.feed_len = 12;
	run.max_piece = 1000; /* the whole feed at once */
	r = rd_open_fd(fds[0], 100, &h);
	ck_assert_ptr_nonnull(r);

	/* nothing in the pipe: the hook runs before the read and supplies the data */
	ck_assert_int_eq(rd_next(r, &line), RD_LINE);
	ck_assert_int_eq(run.n_block, 1);
	ck_assert(line.len == 5 && memcmp(line.text, "hello", 5) == 0);
	/* the second line is already buffered: no read, no hook */
	ck_assert_int_eq(rd_next(r, &line), RD_LINE);
	ck_assert_int_eq(run.n_block, 1);
	/* the writer is closed: EOF is ready, no hook */
	ck_assert_int_eq(rd_next(r, &line), RD_EOF);
	ck_assert_int_eq(run.n_block, 1);
	rd_close(r);
	close(fds[0]);
	run_free(&run);
}
END_TEST

START_TEST(test_before_block_ready_pipe)
{
	struct run run;
	struct rd_hooks h;
	struct rd_reader *r;
	struct rd_line line;
	int fds[2];

	/* data already in the pipe and the writer closed: never a reason to flush */
	run_init(&run);
	h = hooks_for(&run, count_block);
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(write(fds[1], "a\nb", 3), 3);
	close(fds[1]);
	r = rd_open_fd(fds[0], 100, &h);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(rd_next(r, &line), RD_LINE);
	ck_assert_int_eq(rd_next(r, &line), RD_LINE);
	ck_assert_int_eq(rd_next(r, &line), RD_EOF);
	ck_assert_int_eq(run.n_block, 0);
	rd_close(r);
	close(fds[0]);
	run_free(&run);
}
END_TEST

/* before_block sets the stop flag: rd_next stops instead of waiting, and resumes later */
static void stop_then_feed(void *ctx)
{
	struct run *run = ctx;

	if (run->n_block++ == 0) {
		run->stop = 1;
		return;
	}
	ck_assert_int_eq(write(run->wfd, "x\n", 2), 2);
	close(run->wfd);
	run->wfd = -1;
}

START_TEST(test_stop_before_wait)
{
	struct run run;
	struct rd_hooks h;
	struct rd_reader *r;
	struct rd_line line;
	int fds[2];

	run_init(&run);
	h = hooks_for(&run, stop_then_feed);
	ck_assert_int_eq(pipe(fds), 0);
	run.wfd = fds[1];
	r = rd_open_fd(fds[0], 100, &h);
	ck_assert_ptr_nonnull(r);
	/* a reader that ignored the flag would wait forever: SIGALRM ends the test instead */
	alarm(10);
	ck_assert_int_eq(rd_next(r, &line), RD_STOPPED);
	alarm(0);
	run.stop = 0;
	ck_assert_int_eq(rd_next(r, &line), RD_LINE);
	ck_assert(line.len == 1 && line.text[0] == 'x' && line.lineno == 1);
	ck_assert_int_eq(rd_next(r, &line), RD_EOF);
	rd_close(r);
	close(fds[0]);
	run_free(&run);
}
END_TEST

static volatile sig_atomic_t sig_stop, sig_count;
static int sig_wfd = -1;

static void on_alarm(int sig)
{
	(void)sig;
	sig_count++;
	if (sig_wfd >= 0 && sig_count == 3) {
		/* write() is async-signal-safe: the blocked read() gets data after 3 EINTRs */
		if (write(sig_wfd, "late\n", 5) != 5)
			_exit(3);
	}
	if (sig_wfd < 0)
		sig_stop = 1;
}

/* Repeating SIGALRM without SA_RESTART, so that a blocked read() fails with EINTR. */
static void arm_alarm(struct sigaction *old)
{
	struct sigaction sa;
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } };

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	ck_assert_int_eq(sigaction(SIGALRM, &sa, old), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
}

static void disarm_alarm(const struct sigaction *old)
{
	struct itimerval off = { { 0, 0 }, { 0, 0 } };

	ck_assert_int_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
	ck_assert_int_eq(sigaction(SIGALRM, old, NULL), 0);
}

START_TEST(test_eintr_stop)
{
	struct rd_hooks h = { .stop = &sig_stop };
	struct sigaction old;
	struct rd_reader *r;
	struct rd_line line;
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	sig_stop = 0;
	sig_count = 0;
	sig_wfd = -1;
	r = rd_open_fd(fds[0], 100, &h);
	ck_assert_ptr_nonnull(r);
	arm_alarm(&old);
	ck_assert_int_eq(rd_next(r, &line), RD_STOPPED);
	disarm_alarm(&old);
	ck_assert_int_ge(sig_count, 1);
	/* cleared, with data: reading goes on */
	sig_stop = 0;
	ck_assert_int_eq(write(fds[1], "go\n", 3), 3);
	close(fds[1]);
	ck_assert_int_eq(rd_next(r, &line), RD_LINE);
	ck_assert(line.len == 2 && memcmp(line.text, "go", 2) == 0);
	ck_assert_int_eq(rd_next(r, &line), RD_EOF);
	rd_close(r);
	close(fds[0]);
}
END_TEST

START_TEST(test_eintr_retry)
{
	struct rd_hooks h = { .stop = &sig_stop };
	struct sigaction old;
	struct rd_reader *r;
	struct rd_line line;
	int fds[2];

	/* interrupted reads with the stop flag clear are retried until data comes */
	ck_assert_int_eq(pipe(fds), 0);
	sig_stop = 0;
	sig_count = 0;
	sig_wfd = fds[1];
	r = rd_open_fd(fds[0], 100, &h);
	ck_assert_ptr_nonnull(r);
	arm_alarm(&old);
	ck_assert_int_eq(rd_next(r, &line), RD_LINE);
	disarm_alarm(&old);
	sig_wfd = -1;
	ck_assert_int_ge(sig_count, 3);
	ck_assert(line.len == 4 && memcmp(line.text, "late", 4) == 0);
	close(fds[1]);
	ck_assert_int_eq(rd_next(r, &line), RD_EOF);
	rd_close(r);
	close(fds[0]);

	/* and without any hooks at all */
	ck_assert_int_eq(pipe(fds), 0);
	sig_count = 0;
	sig_wfd = fds[1];
	r = rd_open_fd(fds[0], 100, NULL);
	ck_assert_ptr_nonnull(r);
	arm_alarm(&old);
	ck_assert_int_eq(rd_next(r, &line), RD_LINE);
	disarm_alarm(&old);
	sig_wfd = -1;
	ck_assert(line.len == 4 && memcmp(line.text, "late", 4) == 0);
	rd_close(r);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(test_nonblocking_fd)
{
	struct run run;
	struct rd_hooks h;
	struct rd_reader *r;
	struct rd_line line;
	int fds[2], status;
	pid_t pid;

	/* O_NONBLOCK input with no data yet: read() says EAGAIN; the reader waits anyway */
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		usleep(50000);
		if (write(fds[1], "slow\n", 5) != 5)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	run_init(&run);
	h = hooks_for(&run, count_block);
	r = rd_open_fd(fds[0], 100, &h);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(rd_next(r, &line), RD_LINE);
	ck_assert(line.len == 4 && memcmp(line.text, "slow", 4) == 0);
	ck_assert_int_ge(run.n_block, 1);
	ck_assert_int_eq(rd_next(r, &line), RD_EOF);
	rd_close(r);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	run_free(&run);
}
END_TEST

START_TEST(test_read_error)
{
	struct rd_reader *r;
	struct rd_line line;
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	close(fds[0]);
	close(fds[1]);
	/* a closed descriptor: poll reports it ready (POLLNVAL), read fails */
	r = rd_open_fd(fds[0], 100, NULL);
	ck_assert_ptr_nonnull(r);
	errno = 0;
	ck_assert_int_eq(rd_next(r, &line), RD_ERROR);
	ck_assert_int_eq(errno, EBADF);
	rd_close(r);
}
END_TEST

START_TEST(test_alloc_failure)
{
	struct rd_reader *r;

	/* the reader itself, then its buffer: both fail cleanly (ASan checks for leaks) */
	for (unsigned long n = 1; n <= 2; n++) {
		tl_alloc_count = 0;
		tl_alloc_fail_at = n;
		r = rd_open_fd(0, 100, NULL);
		ck_assert_ptr_null(r);
		tl_alloc_fail_at = 0;
	}
	tl_alloc_count = 0;
	tl_alloc_fail_at = 1;
	ck_assert_ptr_null(rd_open_mem(STR("a\n"), 100, NULL));
	tl_alloc_fail_at = 0;
	/* with the third allocation failing, the fd reader needs only two */
	tl_alloc_count = 0;
	tl_alloc_fail_at = 3;
	r = rd_open_fd(0, 100, NULL);
	ck_assert_ptr_nonnull(r);
	rd_close(r);
	tl_alloc_fail_at = 0;
}
END_TEST

static Suite *reader_suite(void)
{
	Suite *s = suite_create("reader");
	TCase *tc;

	tc = tcase_create("lines");
	tcase_add_test(tc, test_empty_input);
	tcase_add_test(tc, test_crlf);
	tcase_add_test(tc, test_blank_lines);
	tcase_add_test(tc, test_final_line);
	tcase_add_test(tc, test_nul_bytes);
	tcase_add_test(tc, test_line_numbers);
	suite_add_tcase(s, tc);

	tc = tcase_create("too_long");
	tcase_add_test(tc, test_too_long);
	tcase_add_test(tc, test_exactly_max_line);
	tcase_add_test(tc, test_too_long_streams);
	tcase_add_test(tc, test_long_line_within_max);
	tcase_add_test(tc, test_too_long_without_hook);
	tcase_add_test(tc, test_huge_max_line_mem);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("boundaries");
	tcase_add_test(tc, test_split_every_position);
	tcase_add_loop_test(tc, test_random_differential, 0, 8);
	tcase_add_test(tc, test_forked_writer);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("blocking");
	tcase_add_test(tc, test_before_block_pipe);
	tcase_add_test(tc, test_before_block_ready_pipe);
	tcase_add_test(tc, test_stop_before_wait);
	tcase_add_test(tc, test_eintr_stop);
	tcase_add_test(tc, test_eintr_retry);
	tcase_add_test(tc, test_nonblocking_fd);
	tcase_add_test(tc, test_read_error);
	tcase_add_test(tc, test_alloc_failure);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(reader_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
