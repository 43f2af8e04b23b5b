/* tripline.h - the public interface of the engine: compiled rules in, alerts out.
 *
 * Pipeline position: engine, the top of the library; the command line (main.c) and tests use
 * only this and rules/ruleset.h (to load rules). The engine knows nothing of YAML.
 *
 * Ownership: the engine borrows the rule set (which must outlive it) and owns all mutable
 * state. Lines given to tl_engine_feed are borrowed for the call only: whatever must outlive
 * the call (reorder buffer, evidence) is copied.
 *
 * Output: everything the engine writes (alerts, and input events with passthrough) goes to the
 * emit callback as complete JSON lines ending in "\n", in a deterministic order.
 */
#ifndef TRIPLINE_H
#define TRIPLINE_H

#include <stddef.h>
#include <stdint.h>

struct rl_ruleset;
struct tl_engine;

struct tl_engine_opts {
	int passthrough;   /* write every processed input event too, before its alerts */
	uint64_t max_keys; /* 0: unlimited; else the oldest key state is evicted (counted) */
	uint64_t max_runs; /* 0: unlimited; else per rule and key, the oldest run is evicted */
	uint64_t max_memory; /* 0: unlimited; else bytes of state (keys, windows, runs, held
			      * events); past it, key states are evicted oldest first (counted) */
	uint32_t batch;    /* 0 or 1: the held events the watermark has passed run after each
			    * line; N: after every N-th line and at tl_engine_sync, so that the
			    * decoder's code and data, then the rules', stay in the caches for N
			    * lines in a row. The same output, later; the events of a batch
			    * count as held (buffered, state bytes). With no lateness, every
			    * event runs as it comes. */
	/* Receives output lines; is_alert is 0 for a passed-through event. */
	void (*emit)(void *ctx, const char *line, size_t len, int is_alert);
	void *ctx;
};

enum tl_feed {
	TL_FEED_OK,        /* taken (processed now or held in the reorder buffer) */
	TL_FEED_MALFORMED, /* not one valid JSON object with a valid time: reason says why */
	TL_FEED_LATE,      /* older than the watermark: not processed */
	TL_FEED_NOMEM,     /* memory ran out while processing: alerts may be missing */
};

struct tl_rule_stats {
	uint64_t alerts;     /* written */
	uint64_t suppressed; /* dropped by suppress */
};

struct tl_stats {
	uint64_t events_in;     /* lines given to tl_engine_feed */
	uint64_t processed;
	uint64_t malformed;
	uint64_t late;
	uint64_t alerts;
	uint64_t keys;          /* live key states now */
	uint64_t peak_keys;
	uint64_t evicted_keys;  /* by max_keys */
	uint64_t runs;          /* live partial matches of sequences now */
	uint64_t peak_runs;
	uint64_t evicted_runs;  /* by max_runs */
	uint64_t evicted_memory; /* key states evicted by max_memory */
	uint64_t state_bytes;   /* memory of the state now (what max_memory bounds) */
	uint64_t peak_state_bytes;
	uint64_t regex_limit;   /* matches stopped by the PCRE2 limits (evaluated as unknown) */
	uint64_t buffered;      /* events held in the reorder buffer now */
	uint64_t peak_buffered;
	const struct tl_rule_stats *rules; /* one per rule, in rule order */
};

/* NULL on allocation failure. */
struct tl_engine *tl_engine_new(const struct rl_ruleset *rs, const struct tl_engine_opts *opts);
void tl_engine_free(struct tl_engine *e);

/* Takes one input line (no newline). Blank lines must not be passed. On TL_FEED_MALFORMED and
 * TL_FEED_LATE, reason (cap bytes) says why. */
enum tl_feed tl_engine_feed(struct tl_engine *e, const char *line, size_t len, char *reason,
			    size_t cap);

/* Runs the held events the watermark has passed: what a line does without a batch. For a
 * caller about to wait for input, or to stop without tl_engine_finish. 0, or -1 when memory
 * ran out (alerts may be missing). */
int tl_engine_sync(struct tl_engine *e);

/* End of input: the watermark goes to infinity; held events are processed and pending
 * absences fire. 0, or -1 when memory ran out on the way (alerts may be missing). */
int tl_engine_finish(struct tl_engine *e);
/* A stop that is not the end of input (a signal): held events are processed, but pending
 * absences stay pending (their deadline has not passed). 0 or -1 as tl_engine_finish. */
int tl_engine_stop(struct tl_engine *e);

void tl_engine_stats(const struct tl_engine *e, struct tl_stats *st);

#endif
