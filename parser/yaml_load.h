/* yaml_load.h - libyaml events -> a tree of YAML nodes with source positions.
 *
 * Pipeline position: parser; the only module that includes yaml.h. The rule layer walks this
 * tree with the schema. The loader refuses what tripline never accepts in a rule file, each as a
 * positioned error with a hint: anchors and aliases (no alias bombs), tags (a plain scalar that
 * starts with '!' is read by YAML as a tag), more than one document, duplicate keys in a
 * mapping, non-scalar mapping keys, and any libyaml syntax error (with a hint when the
 * offending character is one YAML reserves at the start of a plain scalar: ` @ * & ! [ {).
 */
#ifndef TL_YAML_LOAD_H
#define TL_YAML_LOAD_H

#include <stddef.h>

#include "alloc.h"
#include "diag.h"

enum yl_kind { YL_SCALAR, YL_SEQ, YL_MAP };
enum yl_style { YL_PLAIN, YL_SINGLE, YL_DOUBLE, YL_LITERAL, YL_FOLDED, YL_FLOW, YL_BLOCK };

struct yl_node {
	enum yl_kind kind;
	enum yl_style style;  /* scalars: how it was quoted; SEQ/MAP: YL_FLOW or YL_BLOCK */
	size_t off;           /* byte offset of the node's first character in the source */
	size_t end;           /* byte offset just past the node in the source */
	const char *str;      /* YL_SCALAR: the value, NUL-terminated (may hold NULs: use len) */
	size_t len;
	struct yl_node **items; /* YL_SEQ: the items; YL_MAP: key0, value0, key1, value1, ...
				 * (a key that is not a scalar was reported: skip it) */
	size_t n_items;         /* YL_MAP: twice the number of pairs */
	int bad;                /* refused (anchor, tag, alias) and reported: callers skip it */
};

/* Parses the whole source. Returns the root node (an empty document gives a plain scalar of
 * length 0), or NULL after a problem that ends loading (a YAML syntax error, nesting, memory).
 * Refusals that leave the tree usable (anchors, tags, aliases, duplicate keys, more than one
 * document) are reported into sink, the refused nodes flagged bad, and the root returned so
 * that the caller can report the rest of the file's errors too: check sink->n_errors. Nodes
 * live in the arena. */
struct yl_node *yl_load(const struct dg_source *src, struct arena *a, struct dg_sink *sink);

/* YAML 1.2 core schema resolution of a plain scalar. Quoted scalars are always strings, so
 * these return 0 for them. */
int yl_is_null(const struct yl_node *n);             /* "", ~, null, Null, NULL */
int yl_get_bool(const struct yl_node *n, int *out);  /* true/True/TRUE/false/... */
int yl_get_number(const struct yl_node *n, double *out); /* ints, floats, .inf, .nan excluded */

/* Looks a key up in a YL_MAP; NULL if absent. */
struct yl_node *yl_map_get(const struct yl_node *map, const char *key);

#endif
