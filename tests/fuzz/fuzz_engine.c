/* fuzz_engine.c - libFuzzer target for the whole engine: rules and a stream.
 *
 * The input is a rule file, a line "---8<---", then NDJSON events. When the rules load, every
 * line goes through the engine and every output line must be one valid JSON object. The whole
 * pipeline must never crash, hang or leak, whatever the rules and events are.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "ruleset.h"
#include "tripline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jd_fields *no_fields;
static struct jd_decoder *checker;

static void check_line(void *ctx, const char *line, size_t len, int is_alert)
{
	struct jd_error err;

	(void)ctx;
	(void)is_alert;
	if (!len || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
		abort();
	if (jd_decode(checker, line, len - 1, NULL, &err))
		abort(); /* an alert that is not one JSON object */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char cut[] = "\n---8<---\n";
	const char *text = (const char *)data;
	const char *sep = memmem(text, size, cut, sizeof cut - 1);
	FILE *devnull = fopen("/dev/null", "w");
	struct dg_sink sink = { devnull, 0, 0 };
	struct tl_engine_opts opts = { .passthrough = 1, .max_keys = 64, .max_runs = 64,
				       .emit = check_line };
	struct rl_ruleset *rs;
	struct tl_engine *e;
	size_t rules_len = sep ? (size_t)(sep - text) : size;
	const char *p, *end = text + size;

	if (!no_fields) {
		no_fields = jd_fields_new();
		jd_fields_freeze(no_fields);
		checker = jd_decoder_new(no_fields);
	}
	rs = rl_load_mem("fuzz.yaml", text, rules_len, &sink);
	fclose(devnull);
	if (!rs)
		return 0;
	e = tl_engine_new(rs, &opts);
	if (e) {
		char reason[256];

		for (p = sep ? sep + sizeof cut - 1 : end; p < end;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

			if (len)
				tl_engine_feed(e, p, len, reason, sizeof reason);
			p += len + 1;
		}
		tl_engine_finish(e);
		tl_engine_free(e);
	}
	rl_free(rs);
	return 0;
}
