/* explain.h - the compiled rule set in print: what `tripline explain` shows.
 *
 * Pipeline position: rules (reads the compiled set only). Text: for each rule its kind, key and
 * time bounds; for a sequence its automaton: states, transitions with their predicates as
 * written, kill transitions of `not` steps, the accepting state and deadlines. --dot: the same
 * automata as one Graphviz digraph, a cluster per rule.
 */
#ifndef TL_EXPLAIN_H
#define TL_EXPLAIN_H

#include <stdio.h>

#include "ruleset.h"

/* Prints the rule with id `id`, or every rule when id is NULL. Returns 0, or -1 when no rule
 * has that id. */
int rl_explain(FILE *out, const struct rl_ruleset *rs, const char *id, int dot);

#endif
