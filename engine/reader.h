/* reader.h - line reader over a file descriptor or a memory buffer.
 *
 * Pipeline position: engine input (used by the command line; tests feed strings). Splits
 * NDJSON input into lines with large reads, strips "\n" and a "\r" before it, numbers lines from
 * 1, accepts a missing final newline, and never holds more than max_line bytes of one line: the
 * rest of a longer line is passed to the on_overflow callback (so that --rejects can keep it
 * verbatim) and the line is returned with too_long set.
 */
#ifndef TL_READER_H
#define TL_READER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct rd_reader;

struct rd_line {
	const char *text; /* valid until the next rd_next call; not NUL-terminated */
	size_t len;       /* for a too-long line: the first max_line bytes only */
	uint64_t lineno;  /* 1-based */
	int too_long;
};

struct rd_hooks {
	/* Called before a read that would block (input is a pipe or tty with no data ready):
	 * the command line flushes its output here, so `tail -f | tripline` stays live. */
	void (*before_block)(void *ctx);
	/* Bytes of a too-long line beyond those returned in rd_line.text, in order, in chunks. */
	void (*on_overflow)(void *ctx, const char *chunk, size_t len);
	void *ctx;
	/* When non-NULL and set while a read is interrupted (EINTR), rd_next returns RD_STOPPED. */
	volatile sig_atomic_t *stop;
};

enum rd_status { RD_LINE, RD_EOF, RD_ERROR, RD_STOPPED };

/* fd is not closed by the reader. NULL on allocation failure. hooks may be NULL. */
struct rd_reader *rd_open_fd(int fd, size_t max_line, const struct rd_hooks *hooks);
/* Reads from a copy-free view of buf (which must outlive the reader). */
struct rd_reader *rd_open_mem(const char *buf, size_t len, size_t max_line,
			      const struct rd_hooks *hooks);
void rd_close(struct rd_reader *r);

/* Returns RD_LINE with *line filled, RD_EOF, RD_STOPPED, or RD_ERROR (errno set). */
enum rd_status rd_next(struct rd_reader *r, struct rd_line *line);

/* 1 when a line is blank: only spaces, tabs and carriage returns. Blank lines are skipped
 * and are not events. */
int rd_blank(const char *s, size_t n);

#endif
