/* reader.c - NDJSON input split into lines, from a file descriptor or a memory buffer.
 *
 * Pipeline position: engine input. The command line reads each input file (or stdin) through
 * one reader and hands every line to the JSON decoder; tests feed strings through rd_open_mem.
 *
 * An fd reader owns one buffer of max_line + 2 + RD_READ_SIZE bytes: room for the longest
 * line it may return plus its "\r\n", and always at least RD_READ_SIZE free bytes for the next
 * read() once the unread bytes are moved to the front. A memory reader scans the caller's
 * bytes in place, with the same rules.
 *
 * A line is the bytes up to "\n", less one "\r" right before the "\n"; a final line without
 * "\n" is kept as it is (a lone "\r" at the very end of the input stays). A line is too long
 * when what remains after that is longer than max_line bytes: rd_next returns its first
 * max_line bytes with too_long set as soon as it knows, without reading the rest. The rest
 * goes to hooks->on_overflow at the start of the next rd_next call, before that call reads
 * the following line. So a caller keeping the line verbatim (--rejects) writes rd_line.text
 * when it gets the line, then each chunk as it comes, then its own "\n" when the next rd_next
 * returns (whatever it returns). rd_close drops an unread rest without reading it.
 */
#include "reader.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

#define RD_READ_SIZE ((size_t)256 * 1024)

struct rd_reader {
	int fd;             /* -1 for a memory reader */
	const char *data;   /* the bytes: own for an fd reader, the caller's for a memory one */
	char *own;          /* fd readers: the buffer (cap bytes) */
	size_t cap;
	size_t start, end;  /* the unread bytes are data[start..end) */
	size_t max_line;
	size_t window;      /* max_line + 2 (saturated): bytes that decide a line's fate */
	struct rd_hooks hooks;
	uint64_t lineno;
	int eof;            /* no byte will come after data[end - 1] */
	int overflowing;    /* the rest of a too-long line has still to be streamed */
};

static const struct rd_hooks rd_no_hooks;

static struct rd_reader *reader_new(size_t max_line, const struct rd_hooks *hooks)
{
	struct rd_reader *r = tl_calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->fd = -1;
	r->max_line = max_line;
	r->window = max_line <= SIZE_MAX - 2 ? max_line + 2 : SIZE_MAX;
	r->hooks = hooks ? *hooks : rd_no_hooks;
	return r;
}

struct rd_reader *rd_open_fd(int fd, size_t max_line, const struct rd_hooks *hooks)
{
	struct rd_reader *r;

	if (max_line > SIZE_MAX - 2 - RD_READ_SIZE) {
		errno = ENOMEM;
		return NULL;
	}
	r = reader_new(max_line, hooks);
	if (!r)
		return NULL;
	r->cap = max_line + 2 + RD_READ_SIZE;
	r->own = tl_malloc(r->cap);
	if (!r->own)
		goto free_reader;
	r->fd = fd;
	r->data = r->own;
	return r;

free_reader:
	tl_free(r);
	return NULL;
}

struct rd_reader *rd_open_mem(const char *buf, size_t len, size_t max_line,
			      const struct rd_hooks *hooks)
{
	struct rd_reader *r = reader_new(max_line, hooks);

	if (!r)
		return NULL;
	r->data = buf;
	r->end = len;
	r->eof = 1;
	return r;
}

void rd_close(struct rd_reader *r)
{
	if (!r)
		return;
	tl_free(r->own);
	tl_free(r);
}

static int stop_requested(const struct rd_reader *r)
{
	return r->hooks.stop && *r->hooks.stop;
}

/* Would a read() block now? poll() with timeout 0: regular files, EOF and errors are ready.
 * An interrupted poll counts as "would block", so that the stop flag is looked at. */
static int would_block(const struct rd_reader *r)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	int n = poll(&pfd, 1, 0);

	return n == 0 || (n < 0 && errno == EINTR);
}

/* Appends at least one byte to the unread ones, or sets eof. Returns 0, or the status for
 * rd_next to return (RD_ERROR with errno from read(), or RD_STOPPED). */
static int fill(struct rd_reader *r)
{
	ssize_t n;

	if (r->start > 0) {
		memmove(r->own, r->own + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (would_block(r)) {
		/* the caller flushes its output before we may wait; a signal that arrived before
		 * the wait is not missed */
		if (r->hooks.before_block)
			r->hooks.before_block(r->hooks.ctx);
		if (stop_requested(r))
			return RD_STOPPED;
	}
	for (;;) {
		n = read(r->fd, r->own + r->end, r->cap - r->end);
		if (n > 0) {
			r->end += (size_t)n;
			return 0;
		}
		if (n == 0) {
			r->eof = 1;
			return 0;
		}
		if (errno == EINTR) {
			if (stop_requested(r))
				return RD_STOPPED;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			/* a non-blocking descriptor (say, an inherited stdin): wait for data as
			 * a blocking read would */
			struct pollfd pfd = { .fd = r->fd, .events = POLLIN };

			if (poll(&pfd, 1, -1) < 0 && errno == EINTR && stop_requested(r))
				return RD_STOPPED;
			continue;
		}
		return RD_ERROR;
	}
}

static void emit_overflow(struct rd_reader *r, const char *chunk, size_t len)
{
	if (len && r->hooks.on_overflow)
		r->hooks.on_overflow(r->hooks.ctx, chunk, len);
}

/* Streams the unread rest of a too-long line to on_overflow, up to its end. Returns 0 once
 * the line is finished, or a status for rd_next to return (the state stays valid to retry). */
static int finish_overflow(struct rd_reader *r)
{
	for (;;) {
		const char *p = r->data + r->start;
		size_t avail = r->end - r->start;
		const char *nl = avail ? memchr(p, '\n', avail) : NULL;
		size_t n;
		int rc;

		if (nl) {
			n = (size_t)(nl - p);
			emit_overflow(r, p, n > 0 && p[n - 1] == '\r' ? n - 1 : n);
			r->start += (size_t)(nl - p) + 1;
			break;
		}
		if (r->eof) {
			emit_overflow(r, p, avail);
			r->start = r->end;
			break;
		}
		/* hold back a last "\r": with a "\n" after it, it is the line ending */
		n = avail > 0 && p[avail - 1] == '\r' ? avail - 1 : avail;
		emit_overflow(r, p, n);
		r->start += n;
		rc = fill(r);
		if (rc)
			return rc;
	}
	r->overflowing = 0;
	return 0;
}

/* Returns the line of raw bytes at data[start..start+raw_len), followed by a "\n" when
 * has_nl; when it is too long, only its first max_line bytes are consumed. */
static enum rd_status take_line(struct rd_reader *r, struct rd_line *line, size_t raw_len,
				int has_nl)
{
	const char *p = r->data + r->start;
	size_t len = raw_len;

	if (has_nl && len > 0 && p[len - 1] == '\r')
		len--;
	line->text = p;
	line->lineno = ++r->lineno;
	if (len <= r->max_line) {
		line->len = len;
		line->too_long = 0;
		r->start += raw_len + (has_nl ? 1 : 0);
	} else {
		line->len = r->max_line;
		line->too_long = 1;
		r->start += r->max_line;
		r->overflowing = 1;
	}
	return RD_LINE;
}

enum rd_status rd_next(struct rd_reader *r, struct rd_line *line)
{
	int rc;

	if (r->overflowing) {
		rc = finish_overflow(r);
		if (rc)
			return rc;
	}
	for (;;) {
		const char *p = r->data + r->start;
		size_t avail = r->end - r->start;
		const char *nl;

		if (avail > 0) {
			/* a "\n" within window bytes ends a line that may fit; none means the
			 * line is too long, whatever follows */
			nl = memchr(p, '\n', avail < r->window ? avail : r->window);
			if (nl)
				return take_line(r, line, (size_t)(nl - p), 1);
			if (avail >= r->window || r->eof)
				return take_line(r, line, avail, 0);
		} else if (r->eof) {
			return RD_EOF;
		}
		rc = fill(r);
		if (rc)
			return rc;
	}
}

int rd_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}
