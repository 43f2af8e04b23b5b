/* fuzz_cond.c - libFuzzer target for the evaluation of conditions (engine/eval.c).
 *
 * The input is a condition, a newline, then one JSON event. The condition becomes the `where`
 * of a rule, beside lists of networks, strings and numbers and a macro it may refer to, and
 * its negation the `where` of a second rule. Each is judged on the event two ways: by
 * ev_holds, which takes shortcuts (a comparison with a number literal read in place, a block
 * list of cidr() searched once, an address ruled out by its first octet, no values made for
 * the logic between), and by ev_eval_top, which makes every value and then asks whether the
 * result is true. The two must agree: a shortcut may save work, never change a verdict.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "json.h"
#include "ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char head[] =
	"lists:\n"
	"  nets: [10.0.0.0/8, 192.168.1.0/24, 64.0.0.0/10, 255.255.255.255/32, \"2001:db8::/32\","
	" \"12::/16\"]\n"
	"  v6: [\"2001:db8::/32\"]\n"
	"  words: [a, bb, txn, \"a longer string\"]\n"
	"  nums: [1, 2.5, -3, 1e300]\n"
	"macros:\n"
	"  big: amount > 100\n"
	"rules:\n";

/* ev_holds and ev_eval_top on condition n must agree. */
static void judge(const struct ex_node *n, struct ev_ctx *c)
{
	struct tl_value v;
	int fast, full;

	c->gen++;
	fast = ev_holds(n, c);
	c->gen++; /* nothing the shortcut parsed is reused */
	ev_eval_top(n, c, &v);
	full = v.type == TL_BOOL && v.b;
	if (fast != full)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	struct dg_sink sink = { NULL, 0, 0 };
	struct rl_ruleset *rs;
	struct jd_decoder *dec;
	struct tl_value *slots;
	struct jd_error jerr;
	struct ev_ctx ctx;
	size_t n, cap;
	char *rules;
	int i;

	if (!nl || nl - (const char *)data > 2048)
		return 0;
	n = (size_t)(nl - (const char *)data);
	cap = sizeof head + 2 * n + 128;
	rules = malloc(cap);
	if (!rules)
		return 0;
	snprintf(rules, cap, "%s  - id: t\n    where: |-\n      %.*s\n"
			     "  - id: f\n    where: |-\n      !(%.*s)\n",
		 head, (int)n, (const char *)data, (int)n, (const char *)data);
	sink.out = fopen("/dev/null", "w");
	rs = rl_load_mem("t.yaml", rules, strlen(rules), &sink);
	if (sink.out)
		fclose(sink.out);
	free(rules);
	if (!rs)
		return 0;
	dec = jd_decoder_new(rs->fields);
	slots = calloc(rs->n_slots + 1, sizeof *slots);
	if (dec && slots && ev_init(&ctx) == 0) {
		size_t len = size - n - 1;

		if (jd_decode(dec, nl + 1, len, slots, &jerr) == 0) {
			ctx.slots = slots;
			ctx.time_us = 1700000000000000LL;
			for (i = 0; i < 2; i++)
				if (rs->rules[i].where)
					judge(rs->rules[i].where, &ctx);
		}
		ev_fini(&ctx);
	}
	free(slots);
	jd_decoder_free(dec);
	rl_free(rs);
	return 0;
}
