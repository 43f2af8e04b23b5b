/* diag.c - rule file sources, their line map, and positioned diagnostics.
 *
 * Pipeline position: parser. Every later stage keeps byte offsets into a dg_source and turns
 * them into FILE:LINE:COL and a caret excerpt only here, when a message is printed.
 *
 * Lines end at '\n'; a '\r' just before it (or at the very end of the file) is not part of the
 * line's text. An empty line after the final '\n' is not a line: an offset at the end of such a
 * file points just after the last character of the last line, where a reader expects "the end of
 * the file" to be. A UTF-8 byte order mark at the start is not part of line 1.
 */
#include "diag.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

#define DG_MIB ((size_t)1 << 20)

static int is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/* Number of UTF-8 characters in [p, p + n): every byte that is not a continuation byte. */
static size_t count_chars(const char *p, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (!is_cont((unsigned char)p[i]))
			k++;
	return k;
}

static size_t bom_len(const char *text, size_t len)
{
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		return 3;
	return 0;
}

/* Builds src->line_off for src->text. */
static int build_line_map(struct dg_source *src)
{
	size_t i, n = 1, k = 0;

	for (i = 0; i + 1 < src->len; i++)
		if (src->text[i] == '\n')
			n++;
	if (n > SIZE_MAX / sizeof *src->line_off)
		return -1;
	src->line_off = tl_malloc(n * sizeof *src->line_off);
	if (!src->line_off)
		return -1;
	src->line_off[k++] = bom_len(src->text, src->len);
	for (i = 0; i + 1 < src->len; i++)
		if (src->text[i] == '\n')
			src->line_off[k++] = i + 1;
	src->n_lines = n;
	return 0;
}

/* Takes ownership of text (len bytes plus a NUL) on success and on failure. */
static int init_owned(struct dg_source *src, const char *name, char *text, size_t len)
{
	memset(src, 0, sizeof *src);
	src->text = text;
	src->len = len;
	src->name = tl_strndup(name, strlen(name));
	if (!src->name)
		goto free_src;
	if (build_line_map(src) < 0)
		goto free_src;
	return 0;

free_src:
	dg_source_free(src);
	return -1;
}

int dg_source_init_mem(struct dg_source *src, const char *name, const char *text, size_t len)
{
	char *copy;

	memset(src, 0, sizeof *src);
	if (len == SIZE_MAX)
		return -1;
	copy = tl_malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, text, len);
	copy[len] = '\0';
	return init_owned(src, name, copy, len);
}

void dg_source_free(struct dg_source *src)
{
	tl_free(src->name);
	tl_free(src->text);
	tl_free(src->line_off);
	memset(src, 0, sizeof *src);
}

static void set_err(char *errbuf, size_t errcap, const char *what, int err)
{
	if (errbuf && errcap)
		snprintf(errbuf, errcap, "%s: %s", what, strerror(err));
}

static void set_too_large(char *errbuf, size_t errcap, size_t max_size)
{
	if (!errbuf || !errcap)
		return;
	if (max_size && max_size % DG_MIB == 0)
		snprintf(errbuf, errcap, "file is larger than %zu MiB", max_size / DG_MIB);
	else
		snprintf(errbuf, errcap, "file is larger than %zu byte%s", max_size,
			 max_size == 1 ? "" : "s");
}

/* Reads all of fd into a NUL-terminated buffer, refusing more than max_size bytes. Regular
 * files are refused by size up front; pipes (rules from <(...)) are read up to the limit. */
static int read_all(int fd, const struct stat *st, size_t max_size, char **out, size_t *out_len,
		    char *errbuf, size_t errcap)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (S_ISREG(st->st_mode) && (uintmax_t)st->st_size > max_size)
		goto too_large;
	for (;;) {
		ssize_t got;
		size_t want;

		if (cap - len < 2) {
			size_t need = cap ? cap * 2 : 4096;

			if (S_ISREG(st->st_mode) && !cap && (uintmax_t)st->st_size + 2 > need)
				need = (size_t)st->st_size + 2;
			void *grown = buf;

			if (need < cap || tl_grow(&grown, &cap, need, 1) < 0) {
				if (errbuf && errcap)
					snprintf(errbuf, errcap, "out of memory");
				goto free_buf;
			}
			buf = grown;
		}
		/* Leave room for the NUL; read one byte past max_size to see that it is larger. */
		want = cap - len - 1;
		got = read(fd, buf + len, want);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			set_err(errbuf, errcap, "cannot read", errno);
			goto free_buf;
		}
		if (got == 0)
			break;
		len += (size_t)got;
		if (len > max_size)
			goto too_large;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;

too_large:
	set_too_large(errbuf, errcap, max_size);
free_buf:
	tl_free(buf);
	return -1;
}

int dg_source_load(struct dg_source *src, const char *path, size_t max_size, char *errbuf,
		   size_t errcap)
{
	struct stat st;
	char *text;
	size_t len;
	int fd;

	memset(src, 0, sizeof *src);
	if (errbuf && errcap)
		errbuf[0] = '\0';
	if (strcmp(path, "-") == 0) {
		if (errbuf && errcap)
			snprintf(errbuf, errcap, "rules cannot be read from standard input");
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_err(errbuf, errcap, "cannot open", errno);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		set_err(errbuf, errcap, "cannot read", errno);
		goto close_fd;
	}
	if (S_ISDIR(st.st_mode)) {
		if (errbuf && errcap)
			snprintf(errbuf, errcap, "is a directory, not a rule file");
		goto close_fd;
	}
	if (read_all(fd, &st, max_size, &text, &len, errbuf, errcap) < 0)
		goto close_fd;
	close(fd);
	if (init_owned(src, path, text, len) < 0) {
		if (errbuf && errcap)
			snprintf(errbuf, errcap, "out of memory");
		return -1;
	}
	return 0;

close_fd:
	close(fd);
	return -1;
}

/* Index of the line holding off (off already clamped to the text). */
static size_t line_of(const struct dg_source *src, size_t off)
{
	size_t lo = 0, hi = src->n_lines;

	/* The last line whose start is <= off; line 0 also takes a BOM before its start. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (src->line_off[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* End of line i's text: before its '\n' and a '\r' just before that. */
static size_t line_text_end(const struct dg_source *src, size_t i)
{
	size_t start = src->line_off[i], end;

	if (i + 1 < src->n_lines) {
		end = src->line_off[i + 1] - 1; /* the '\n' */
	} else {
		end = src->len;
		if (end > start && src->text[end - 1] == '\n')
			end--; /* the final newline belongs to the last line */
	}
	if (end > start && src->text[end - 1] == '\r')
		end--;
	return end;
}

static size_t clamp_off(const struct dg_source *src, size_t i, size_t off)
{
	size_t end = line_text_end(src, i);

	if (off < src->line_off[i])
		return src->line_off[i];
	return off < end ? off : end;
}

static unsigned to_unsigned(size_t v)
{
	return v > UINT_MAX ? UINT_MAX : (unsigned)v;
}

void dg_linecol(const struct dg_source *src, size_t off, unsigned *line, unsigned *col)
{
	size_t i;

	if (off > src->len)
		off = src->len;
	i = line_of(src, off);
	off = clamp_off(src, i, off);
	*line = to_unsigned(i + 1);
	*col = to_unsigned(count_chars(src->text + src->line_off[i], off - src->line_off[i]) + 1);
}

size_t dg_offset(const struct dg_source *src, size_t line0, size_t col0)
{
	size_t p, end;

	if (line0 >= src->n_lines)
		return src->len;
	p = src->line_off[line0];
	/* A column may reach the line break itself (a mark just past the last character). */
	end = line0 + 1 < src->n_lines ? src->line_off[line0 + 1] - 1 : src->len;
	while (col0 > 0 && p < end) {
		p++;
		while (p < end && is_cont((unsigned char)src->text[p]))
			p++;
		col0--;
	}
	return p;
}

/* Moves p back to the start of its UTF-8 character. */
static size_t char_start(const struct dg_source *src, size_t lo, size_t p)
{
	while (p > lo && is_cont((unsigned char)src->text[p]))
		p--;
	return p;
}

/* Prints the header, the source line and the caret line for [off, off + span). A long line is
 * cut to a window around the span, marked with "..." on the side(s) cut. */
static void emit(struct dg_sink *sink, const struct dg_source *src, size_t off, size_t span,
		 const char *kind, const char *fmt, va_list ap)
{
	FILE *out = sink->out;
	unsigned line, col;
	size_t i, start, end, stop, p, n_marks, ws, we;

	if (off > src->len)
		off = src->len;
	dg_linecol(src, off, &line, &col);
	fprintf(out, "%s:%u:%u: %s: ", src->name, line, col, kind);
	vfprintf(out, fmt, ap);
	fputc('\n', out);

	i = line_of(src, off);
	start = src->line_off[i];
	end = line_text_end(src, i);
	off = clamp_off(src, i, off);
	stop = span > end - off ? end : off + span;
	ws = start;
	we = end;
	if (end - start > DG_LINE_WINDOW) {
		if (off - start > DG_LINE_WINDOW / 2)
			ws = char_start(src, start, off - DG_LINE_WINDOW / 2);
		if (end - stop > DG_LINE_WINDOW / 2)
			we = char_start(src, stop, stop + DG_LINE_WINDOW / 2);
		if (we - stop > DG_LINE_WINDOW)
			we = stop;
		if (stop - off > DG_LINE_WINDOW) /* a huge span: show its start */
			stop = we = char_start(src, off, off + DG_LINE_WINDOW);
	}
	if (ws > start)
		fputs("...", out);
	fwrite(src->text + ws, 1, we - ws, out);
	if (we < end)
		fputs("...", out);
	fputc('\n', out);

	/* One space per character before the caret; tabs stay tabs so the caret lines up. */
	if (ws > start)
		fputs("   ", out);
	for (p = ws; p < off; p++) {
		unsigned char c = (unsigned char)src->text[p];

		if (c == '\t')
			fputc('\t', out);
		else if (!is_cont(c))
			fputc(' ', out);
	}
	n_marks = count_chars(src->text + off, stop - off);
	fputc('^', out);
	while (n_marks-- > 1)
		fputc('~', out);
	fputc('\n', out);
}

static int shown(const struct dg_sink *sink)
{
	return !sink->max_shown || sink->n_errors < sink->max_shown;
}

void dg_error(struct dg_sink *sink, const struct dg_source *src, size_t off, size_t span,
	      const char *fmt, ...)
{
	va_list ap;

	if (shown(sink)) {
		va_start(ap, fmt);
		emit(sink, src, off, span, "error", fmt, ap);
		va_end(ap);
	}
	sink->n_errors++;
}

void dg_note(struct dg_sink *sink, const struct dg_source *src, size_t off, size_t span,
	     const char *fmt, ...)
{
	va_list ap;

	/* a note belongs to the error just printed: hidden with it */
	if (sink->max_shown && sink->n_errors > sink->max_shown)
		return;
	va_start(ap, fmt);
	emit(sink, src, off, span, "note", fmt, ap);
	va_end(ap);
}

void dg_error_file(struct dg_sink *sink, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (shown(sink)) {
		fprintf(sink->out, "%s: error: ", name);
		va_start(ap, fmt);
		vfprintf(sink->out, fmt, ap);
		va_end(ap);
		fputc('\n', sink->out);
	}
	sink->n_errors++;
}
