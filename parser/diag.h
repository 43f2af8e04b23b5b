/* diag.h - rule file sources and positioned diagnostics.
 *
 * Pipeline position: parser. A dg_source is one rule file in memory with its line map; every
 * position in the rule AST is a byte offset into it. Diagnostics print as
 *
 *   FILE:LINE:COL: error: MESSAGE
 *       <the source line, tabs kept>
 *       <spaces, tabs kept> ^~~~   (caret under the span)
 *
 * LINE and COL are 1-based; COL counts UTF-8 characters. libyaml marks (0-based line and
 * character column) are converted in one place: dg_offset.
 */
#ifndef TL_DIAG_H
#define TL_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct dg_source {
	char *name;       /* as given by the user */
	char *text;       /* NUL-terminated copy of the file */
	size_t len;
	size_t *line_off; /* byte offset of the start of each line */
	size_t n_lines;
};

/* Reads a whole file (path "-" is not accepted) refusing files over max_size bytes.
 * Returns 0, or -1 with a message ("cannot open: No such file or directory",
 * "file is larger than 16 MiB") in errbuf. */
int dg_source_load(struct dg_source *src, const char *path, size_t max_size, char *errbuf,
		   size_t errcap);
/* Copies text into a source (for tests and inline rule text). Returns 0 or -1. */
int dg_source_init_mem(struct dg_source *src, const char *name, const char *text, size_t len);
void dg_source_free(struct dg_source *src);

/* 1-based line and column (in characters) of a byte offset (clamped to the text). */
void dg_linecol(const struct dg_source *src, size_t off, unsigned *line, unsigned *col);
/* Byte offset of a 0-based line and 0-based character column (a libyaml mark). */
size_t dg_offset(const struct dg_source *src, size_t line0, size_t col0);

struct dg_sink {
	FILE *out;          /* usually stderr */
	unsigned n_errors;
	unsigned max_shown; /* 0: print every error; else the first max_shown (the rest count) */
};

/* A source line longer than this is shown as a window around the caret, with "..." marks. */
#define DG_LINE_WINDOW 200

/* Prints an error at [off, off+span) (span 0 is shown as one caret) and counts it. */
void dg_error(struct dg_sink *sink, const struct dg_source *src, size_t off, size_t span,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Same layout with "note:"; not counted. */
void dg_note(struct dg_sink *sink, const struct dg_source *src, size_t off, size_t span,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* An error that has no position: "FILE: error: MESSAGE". Counted. */
void dg_error_file(struct dg_sink *sink, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
