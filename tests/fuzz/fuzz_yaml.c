/* fuzz_yaml.c - libFuzzer target for the YAML loader: any bytes as a rule file source, through
 * yl_load and the diagnostics printer, then everything freed. Every result is fine except a
 * crash, a sanitizer report or a leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alloc.h"
#include "diag.h"
#include "yaml_load.h"

static FILE *devnull;

static void walk(const struct yl_node *n)
{
	size_t i;
	double d;
	int b;

	if (n->kind == YL_SCALAR) {
		(void)yl_is_null(n);
		(void)yl_get_bool(n, &b);
		(void)yl_get_number(n, &d);
		return;
	}
	for (i = 0; i < n->n_items; i++)
		walk(n->items[i]);
	if (n->kind == YL_MAP)
		(void)yl_map_get(n, "id");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dg_source src;
	struct arena arena = { 0 };
	struct dg_sink sink;
	struct yl_node *root;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (!devnull)
		return 0;
	sink.out = devnull;
	sink.n_errors = 0;
	sink.max_shown = 0;
	if (dg_source_init_mem(&src, "fuzz.yaml", (const char *)data, size) < 0)
		return 0;
	root = yl_load(&src, &arena, &sink);
	if (root) {
		if (root->off > src.len || root->end > src.len)
			__builtin_trap();
		walk(root);
		/* Positions of the root and of its end print like any diagnostic. */
		dg_note(&sink, &src, root->off, root->end - root->off, "root");
	}
	arena_free(&arena);
	dg_source_free(&src);
	return 0;
}
