/* testrun.h - `tripline test RULES...`: run the tests: blocks of rule files.
 *
 * Pipeline position: engine, beside the command line; it uses the library as main.c does
 * (rl_load, then one fresh engine per test) and reads the tests: block itself from the YAML
 * tree. A test is
 *
 *   - name: TEXT
 *     events: [{ts: 0, card: c1}, ...]   # or events_file: PATH (NDJSON, relative to the file)
 *     expect: [{rule: r, key: c1}, ...]   # partial alerts, in order; [] when none may fire
 *
 * Each test runs every rule of its file (the file loaded on its own) on a fresh engine over its
 * events, as `tripline -r FILE` would over the same lines, end of input included, and passes
 * when the alerts match the expected ones one for one (tr_match_alert) and no event line was
 * malformed. A late event is dropped as in a run, silently: it may be what the test is about.
 * The tests: block of a file is checked only once its rules load, so that a broken file is not
 * reported twice.
 */
#ifndef TL_TESTRUN_H
#define TL_TESTRUN_H

#include <stddef.h>
#include <stdio.h>

#include "yaml_load.h"

/* Exit statuses of tr_run. */
#define TR_EXIT_OK 0       /* every test passed (or there were none) */
#define TR_EXIT_FAILED 1   /* at least one test failed */
#define TR_EXIT_IO 2       /* usage, output or memory error */
#define TR_EXIT_RULES 3    /* a rule file (its rules or its tests: block) has errors */

/* Loads every file, rules and tests, reporting all their errors to err (positioned, at most 50
 * per run, then "FILE: N errors"); if there is any, runs nothing and returns TR_EXIT_RULES.
 * Otherwise runs each test and writes to out one line per test ("ok   FILE: NAME" or
 * "FAIL FILE: NAME" followed by the expected and actual alerts and the first difference),
 * "FILE: no tests" for a file without tests, and finally "N passed, M failed". A malformed
 * event line is reported on err as the run command does ("tripline: FILE:LINE: REASON") and
 * fails its test. out is flushed; a write error is reported and gives TR_EXIT_IO. Neither
 * stream is closed. Returns one of the TR_EXIT_ statuses, the process exit status. */
int tr_run(const char *const *paths, size_t n_paths, FILE *out, FILE *err);

/* ---- the pieces, exposed for the unit tests ---- */

/* A growable text buffer; zero-initialise it to start, tl_free(buf.p) when done. */
struct tr_buf {
	char *p;    /* NUL-terminated once anything was added */
	size_t len;
	size_t cap;
};

/* Appends the JSON form of a YAML node to b: mappings become objects (keys in order, always
 * strings), sequences arrays, plain scalars null, bool or number by the YAML 1.2 core schema
 * (numbers in shortest form, integers without fraction), every other scalar a string. Compact,
 * without spaces. Returns 0, or -1 when memory runs out (b then holds a partial text). */
int tr_yaml_to_json(const struct yl_node *n, struct tr_buf *b);

/* Whether an actual alert (one JSON object, as the engine writes it) matches an expected one
 * (JSON text, see tr_yaml_to_json): every field of the expected object is present in the
 * actual one with an equal value (numbers by value, strings by bytes after unescaping; nested
 * objects match partially, arrays element by element with equal lengths); other fields are
 * ignored. Returns 1 on a match; 0 on a difference, with a one-line reason in why (e.g.
 * "field 'key' is \"c2\", expected \"c1\""); -1 when a text is not valid JSON or memory runs
 * out (the reason says which). */
int tr_match_alert(const char *expected, const char *actual, struct tr_buf *why);

#endif
