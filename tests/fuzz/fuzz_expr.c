/* fuzz_expr.c - libFuzzer target for the expression parser (parser/expr_parse.c).
 *
 * Parses each input as an expression. On success the canonical text (ex_unparse) must parse
 * again, to the same canonical text: printing is a fixed point, so `explain` shows what runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a = { 0 };
	struct ex_error err;
	struct ex_node *n = ex_parse((const char *)data, size, &a, &err);

	if (err.off > size)
		abort();
	if (n) {
		size_t len = ex_unparse(n, NULL, 0);
		char *once = malloc(len + 1), *twice;
		struct ex_node *m;

		ex_unparse(n, once, len + 1);
		m = ex_parse(once, len, &a, &err);
		if (!m)
			abort(); /* the canonical text must parse */
		twice = malloc(len + 1);
		if (ex_unparse(m, twice, len + 1) != len || memcmp(once, twice, len) != 0)
			abort();
		free(once);
		free(twice);
	}
	arena_free(&a);
	return 0;
}
