/* main.c - the tripline command line; not part of the library.
 *
 *   tripline [OPTIONS] -r RULES [FILE...]   run; no FILE or '-' reads stdin
 *   tripline check RULES...                 validate, one summary line per file
 *
 * Output is block-buffered into a pipe or file, line-buffered on a terminal, flushed per alert
 * with --line-buffered and whenever reading would block. Into a pipe or file, the engine takes
 * lines in batches (CLI_BATCH): their held events run after the batch, before reading would
 * block, or before a stop that skips the end of input; the output is the same. SIGPIPE keeps
 * its default action so that `tripline ... | head -1` ends quietly; SIGINT and SIGTERM only
 * set a flag that the loop checks between lines. Exit codes: 0 ok, 1 no alert (-e, -q),
 * 2 usage or I/O error, 3 rule error, 4 malformed input under --strict, 128+N after signal N.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "explain.h"
#include "reader.h"
#include "testrun.h"
#include "ruleset.h"
#include "tripline.h"

#define EXIT_NO_ALERT 1
#define EXIT_USAGE 2
#define EXIT_RULES 3
#define EXIT_STRICT 4
#define MAX_SHOWN 10
#define MAX_RULE_ERRORS 50
/* Lines decoded in a row before their events run (tl_engine_opts.batch): the held copies of
 * 256 events, some 120 KB on the benchmark, stay in the core's second-level cache, and
 * callgrind's cache model counts a sixth of the instruction cache misses of one line at a
 * time and a fifth fewer data misses (bench/README.md). */
#define CLI_BATCH 256

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

struct cli {
	const char **rules;
	size_t n_rules;
	const char *output;
	const char *rejects_path;
	int line_buffered, passthrough, strict, stats, exit_status, quiet;
	size_t max_line;
	uint64_t max_keys, max_runs, max_memory;
	FILE *out;
	FILE *rejects;
	uint64_t n_alerts;
	uint64_t n_problems; /* malformed and late lines */
	uint64_t n_too_long;
	int write_failed;
	struct tl_engine *e;
	int sync_failed;     /* memory ran out as the held events ran before a wait */
};

static void usage(FILE *f)
{
	fputs("usage: tripline [OPTIONS] -r RULES [FILE...]   run rules over NDJSON events\n"
	      "       tripline check RULES...                 validate rule files\n"
	      "       tripline explain [--dot] RULES [ID]     print the compiled rules\n"
	      "       tripline test RULES...                  run the tests: blocks of rule files\n"
	      "\n"
	      "Reads one JSON event per line from the FILEs (or stdin, also as '-') and writes\n"
	      "one JSON alert per line to stdout.\n"
	      "\n"
	      "options:\n"
	      "  -r, --rules FILE      rule file (repeatable; rule ids stay unique across files)\n"
	      "  -o, --output FILE     write alerts to FILE instead of stdout\n"
	      "      --line-buffered   flush after every alert\n"
	      "      --passthrough     copy every input event to the output, alerts after it\n"
	      "      --strict          stop at the first malformed line (exit 4)\n"
	      "      --rejects FILE    write malformed and late lines to FILE, verbatim\n"
	      "      --max-line N      longest accepted line in bytes (K, M, G suffixes;\n"
	      "                        default 1M); longer lines are malformed\n"
	      "      --max-keys N      keep at most N key states; the oldest are evicted\n"
	      "      --max-runs N      keep at most N partial matches per rule and key; the\n"
	      "                        oldest are evicted\n"
	      "      --max-memory N    keep the state (keys, windows, partial matches, held\n"
	      "                        events) under N bytes (K, M, G suffixes); the oldest\n"
	      "                        key states are evicted\n"
	      "      --stats           print a JSON summary on stderr at exit\n"
	      "  -e, --exit-status     exit 1 when no alert fired\n"
	      "  -q, --quiet           write no alerts; stop at the first one; exit 0 if one\n"
	      "                        fired, else 1\n"
	      "  -h, --help            this help\n"
	      "  -V, --version         print the version\n"
	      "\n"
	      "exit status: 0 ok, 1 no alert (-e, -q), 2 usage or I/O error, 3 rule error,\n"
	      "4 malformed input with --strict, 128+N on signal N\n",
	      f);
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end == 'k' || *end == 'K')
		mult = 1024;
	else if (*end == 'm' || *end == 'M')
		mult = 1024 * 1024;
	else if (*end == 'g' || *end == 'G')
		mult = 1024ull * 1024 * 1024;
	else if (*end)
		return -1;
	if (*end && end[1])
		return -1;
	if (v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static void fail_write(struct cli *c)
{
	if (!c->write_failed)
		fprintf(stderr, "tripline: error writing %s: %s\n",
			c->output ? c->output : "output", strerror(errno));
	c->write_failed = 1;
}

static void emit(void *ctx, const char *line, size_t len, int is_alert)
{
	struct cli *c = ctx;

	if (is_alert)
		c->n_alerts++;
	if (c->quiet || c->write_failed)
		return;
	if (fwrite(line, 1, len, c->out) != len) {
		fail_write(c);
		return;
	}
	if (c->line_buffered && fflush(c->out))
		fail_write(c);
}

static void flush_output(void *ctx)
{
	struct cli *c = ctx;

	/* the alerts of the lines read so far, as without a batch, before the wait */
	if (c->e && tl_engine_sync(c->e))
		c->sync_failed = 1;
	if (!c->write_failed && fflush(c->out))
		fail_write(c);
}

static void overflow_to_rejects(void *ctx, const char *chunk, size_t len)
{
	struct cli *c = ctx;

	if (c->rejects)
		fwrite(chunk, 1, len, c->rejects);
}

static void problem(struct cli *c, const char *name, uint64_t lineno, const char *reason)
{
	if (++c->n_problems <= MAX_SHOWN)
		fprintf(stderr, "tripline: %s:%llu: %s\n", name, (unsigned long long)lineno, reason);
}

static void reject(struct cli *c, const char *line, size_t len, int head_only)
{
	if (!c->rejects)
		return;
	fwrite(line, 1, len, c->rejects);
	if (!head_only)
		fputc('\n', c->rejects);
}

static void out_of_memory_at(const char *name, uint64_t lineno)
{
	fprintf(stderr, "tripline: %s:%llu: out of memory\n", name, (unsigned long long)lineno);
}

/* A stop under --strict skips the end of input: the held events the watermark has passed
 * run first, as they would have without a batch. EXIT_STRICT, or EXIT_USAGE when memory ran
 * out. */
static int strict_stop(struct tl_engine *e, const char *name, uint64_t lineno)
{
	if (!tl_engine_sync(e))
		return EXIT_STRICT;
	out_of_memory_at(name, lineno);
	return EXIT_USAGE;
}

/* Reads one input. Returns 0, EXIT_USAGE on an I/O error, EXIT_STRICT, or -1 to stop. */
static int run_input(struct cli *c, const char *path)
{
	struct tl_engine *e = c->e;
	const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
	struct rd_hooks hooks = { flush_output, overflow_to_rejects, c, &got_signal };
	struct rd_reader *rd;
	struct rd_line ln;
	enum rd_status st;
	char reason[512];
	int fd = 0, rc = 0, ln_too_long = 0;
	uint64_t last = 0; /* the number of the line read last */

	if (strcmp(path, "-") != 0) {
		fd = open(path, O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, "tripline: %s: %s\n", path, strerror(errno));
			return EXIT_USAGE;
		}
	}
	rd = rd_open_fd(fd, c->max_line, &hooks);
	if (!rd) {
		fprintf(stderr, "tripline: out of memory\n");
		if (fd)
			close(fd);
		return EXIT_USAGE;
	}
	for (;;) {
		enum tl_feed f;
		int pending_newline = c->rejects && ln_too_long;

		st = rd_next(rd, &ln);
		/* the rest of an over-long line went to the rejects during that call: end it */
		if (pending_newline)
			fputc('\n', c->rejects);
		ln_too_long = 0;
		if (c->sync_failed) {
			/* the held events ran out of memory before the reader waited */
			out_of_memory_at(name, last);
			c->sync_failed = 0;
			rc = EXIT_USAGE;
			break;
		}
		if (st != RD_LINE)
			break;
		last = ln.lineno;

		if (got_signal || c->write_failed || (c->quiet && c->n_alerts)) {
			rc = -1;
			break;
		}
		if (ln.too_long) {
			snprintf(reason, sizeof reason,
				 "line is longer than %zu bytes (--max-line)", c->max_line);
			problem(c, name, ln.lineno, reason);
			c->n_too_long++;
			reject(c, ln.text, ln.len, 1);
			ln_too_long = 1;
			if (c->strict) {
				/* stop now: the rejects keep the head of the line only */
				if (c->rejects)
					fputc('\n', c->rejects);
				rc = strict_stop(e, name, ln.lineno);
				break;
			}
			continue;
		}
		if (rd_blank(ln.text, ln.len))
			continue;
		f = tl_engine_feed(e, ln.text, ln.len, reason, sizeof reason);
		if (f == TL_FEED_OK)
			continue;
		if (f == TL_FEED_NOMEM) {
			out_of_memory_at(name, ln.lineno);
			rc = EXIT_USAGE;
			break;
		}
		problem(c, name, ln.lineno, reason);
		reject(c, ln.text, ln.len, 0);
		if (f == TL_FEED_MALFORMED && c->strict) {
			rc = strict_stop(e, name, ln.lineno);
			break;
		}
	}
	if (!rc && st == RD_ERROR) {
		fprintf(stderr, "tripline: %s: read error: %s\n", name, strerror(errno));
		rc = EXIT_USAGE;
	} else if (!rc && st == RD_STOPPED) {
		rc = -1;
	}
	rd_close(rd);
	if (fd)
		close(fd);
	return rc;
}

static void print_stats(const struct cli *c, const struct rl_ruleset *rs,
			const struct tl_engine *e)
{
	struct tl_stats st;
	struct rusage ru;
	size_t i;

	tl_engine_stats(e, &st);
	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr,
		"{\"events_read\":%llu,\"processed\":%llu,\"rejected\":%llu,\"malformed\":%llu,"
		"\"late\":%llu,\"buffered\":%llu,\"alerts\":%llu,\"alerts_by_rule\":{",
		(unsigned long long)(st.events_in + c->n_too_long), (unsigned long long)st.processed,
		(unsigned long long)(st.malformed + c->n_too_long + st.late),
		(unsigned long long)(st.malformed + c->n_too_long), (unsigned long long)st.late,
		(unsigned long long)st.buffered, (unsigned long long)st.alerts);
	for (i = 0; i < rs->n_rules; i++)
		fprintf(stderr, "%s\"%s\":%llu", i ? "," : "", rs->rules[i].id,
			(unsigned long long)st.rules[i].alerts);
	fprintf(stderr, "},\"suppressed_by_rule\":{");
	for (i = 0; i < rs->n_rules; i++)
		fprintf(stderr, "%s\"%s\":%llu", i ? "," : "", rs->rules[i].id,
			(unsigned long long)st.rules[i].suppressed);
	fprintf(stderr,
		"},\"keys\":%llu,\"peak_keys\":%llu,\"evicted_keys\":%llu,\"runs\":%llu,"
		"\"peak_runs\":%llu,\"evicted_runs\":%llu,\"evicted_for_memory\":%llu,"
		"\"state_bytes\":%llu,\"peak_state_bytes\":%llu,"
		"\"peak_buffered\":%llu,\"regex_limit_hits\":%llu,\"peak_rss_bytes\":%llu}\n",
		(unsigned long long)st.keys, (unsigned long long)st.peak_keys,
		(unsigned long long)st.evicted_keys, (unsigned long long)st.runs,
		(unsigned long long)st.peak_runs, (unsigned long long)st.evicted_runs,
		(unsigned long long)st.evicted_memory, (unsigned long long)st.state_bytes,
		(unsigned long long)st.peak_state_bytes, (unsigned long long)st.peak_buffered,
		(unsigned long long)st.regex_limit, (unsigned long long)ru.ru_maxrss * 1024);
}

static int cmd_check(int argc, char **argv)
{
	struct dg_sink sink = { stderr, 0, MAX_RULE_ERRORS };
	int i, bad = 0;

	if (argc < 1) {
		fprintf(stderr, "usage: tripline check RULES...\n");
		return EXIT_USAGE;
	}
	for (i = 0; i < argc; i++) {
		const char *p = argv[i];
		struct rl_ruleset *rs = rl_load(&p, 1, &sink);
		size_t j, n_k[3] = { 0, 0, 0 };

		if (!rs) {
			bad = 1;
			continue;
		}
		for (j = 0; j < rs->n_rules; j++)
			n_k[rs->rules[j].kind]++;
		printf("%s: ok: %zu rule%s (%zu filter%s, %zu threshold%s, %zu sequence%s), %zu list%s, %zu macro%s, %zu test%s\n",
		       p, rs->n_rules, rs->n_rules == 1 ? "" : "s", n_k[RL_FILTER],
		       n_k[RL_FILTER] == 1 ? "" : "s", n_k[RL_THRESHOLD],
		       n_k[RL_THRESHOLD] == 1 ? "" : "s", n_k[RL_SEQUENCE],
		       n_k[RL_SEQUENCE] == 1 ? "" : "s", rs->n_lists, rs->n_lists == 1 ? "" : "s",
		       rs->n_macros, rs->n_macros == 1 ? "" : "s", rs->n_tests,
		       rs->n_tests == 1 ? "" : "s");
		rl_free(rs);
	}
	if (!bad && argc > 1) {
		/* the files must also hold together: unique ids, one time setting */
		struct rl_ruleset *rs = rl_load((const char *const *)argv, (size_t)argc, &sink);

		if (!rs)
			bad = 1;
		rl_free(rs);
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "tripline: error writing output: %s\n", strerror(errno));
		return EXIT_USAGE;
	}
	return bad ? EXIT_RULES : 0;
}

/* tripline explain [--dot] RULES [ID] */
static int cmd_explain(int argc, char **argv)
{
	struct dg_sink sink = { stderr, 0, MAX_RULE_ERRORS };
	struct rl_ruleset *rs;
	const char *path, *id = NULL;
	int dot = 0, rc = 0, i = 0;

	if (i < argc && strcmp(argv[i], "--dot") == 0) {
		dot = 1;
		i++;
	}
	if (argc - i < 1 || argc - i > 2) {
		fprintf(stderr, "usage: tripline explain [--dot] RULES [ID]\n");
		return EXIT_USAGE;
	}
	path = argv[i];
	if (argc - i == 2)
		id = argv[i + 1];
	rs = rl_load(&path, 1, &sink);
	if (!rs)
		return EXIT_RULES;
	if (rl_explain(stdout, rs, id, dot)) {
		fprintf(stderr, "tripline: %s: no rule with id '%s'\n", path, id);
		rc = EXIT_USAGE;
	}
	rl_free(rs);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "tripline: error writing output: %s\n", strerror(errno));
		return EXIT_USAGE;
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ "line-buffered", no_argument, NULL, 'L' },
		{ "passthrough", no_argument, NULL, 'P' },
		{ "strict", no_argument, NULL, 'S' },
		{ "rejects", required_argument, NULL, 'R' },
		{ "max-line", required_argument, NULL, 'M' },
		{ "max-keys", required_argument, NULL, 'K' },
		{ "max-runs", required_argument, NULL, 'U' },
		{ "max-memory", required_argument, NULL, 'B' },
		{ "stats", no_argument, NULL, 's' },
		{ "exit-status", no_argument, NULL, 'e' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli c = { .max_line = 1024 * 1024 };
	struct dg_sink sink = { stderr, 0, MAX_RULE_ERRORS };
	struct tl_engine_opts eo = { 0 };
	struct rl_ruleset *rs;
	struct tl_engine *e;
	struct sigaction sa;
	int opt, rc = 0, i;
	uint64_t v;

	signal(SIGPIPE, SIG_DFL);
	if (argc > 1 && strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 2, argv + 2);
	if (argc > 1 && strcmp(argv[1], "explain") == 0)
		return cmd_explain(argc - 2, argv + 2);
	if (argc > 1 && strcmp(argv[1], "test") == 0)
		return tr_run((const char *const *)argv + 2, (size_t)argc - 2, stdout, stderr);
	c.rules = calloc((size_t)argc, sizeof *c.rules);
	if (!c.rules)
		return EXIT_USAGE;
	while ((opt = getopt_long(argc, argv, "r:o:eqhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r': c.rules[c.n_rules++] = optarg; break;
		case 'o': c.output = optarg; break;
		case 'L': c.line_buffered = 1; break;
		case 'P': c.passthrough = 1; break;
		case 'S': c.strict = 1; break;
		case 'R': c.rejects_path = optarg; break;
		case 's': c.stats = 1; break;
		case 'e': c.exit_status = 1; break;
		case 'q': c.quiet = 1; break;
		case 'M':
			if (parse_size(optarg, &v) || v == 0 || v > SIZE_MAX / 2) {
				fprintf(stderr, "tripline: --max-line needs a size in bytes such as 65536 or 4M, not '%s'\n", optarg);
				free(c.rules);
				return EXIT_USAGE;
			}
			c.max_line = (size_t)v;
			break;
		case 'K':
			if (parse_size(optarg, &v) || v == 0) {
				fprintf(stderr, "tripline: --max-keys needs a positive number, not '%s'\n", optarg);
				free(c.rules);
				return EXIT_USAGE;
			}
			c.max_keys = v;
			break;
		case 'U':
			if (parse_size(optarg, &v) || v == 0) {
				fprintf(stderr, "tripline: --max-runs needs a positive number, not '%s'\n", optarg);
				free(c.rules);
				return EXIT_USAGE;
			}
			c.max_runs = v;
			break;
		case 'B':
			if (parse_size(optarg, &v) || v == 0) {
				fprintf(stderr, "tripline: --max-memory needs a size in bytes such as 256M or 2G, not '%s'\n", optarg);
				free(c.rules);
				return EXIT_USAGE;
			}
			c.max_memory = v;
			break;
		case 'h':
			usage(stdout);
			free(c.rules);
			return fflush(stdout) ? EXIT_USAGE : 0;
		case 'V':
			printf("tripline %s\n", TRIPLINE_VERSION);
			free(c.rules);
			return fflush(stdout) ? EXIT_USAGE : 0;
		default:
			fprintf(stderr, "Try 'tripline --help' for more information.\n");
			free(c.rules);
			return EXIT_USAGE;
		}
	}
	if (!c.n_rules) {
		fprintf(stderr, "tripline: no rules: give -r RULES (see tripline --help)\n");
		free(c.rules);
		return EXIT_USAGE;
	}
	for (i = 0; (size_t)i < c.n_rules; i++) {
		FILE *f = fopen(c.rules[i], "r");

		if (!f) {
			fprintf(stderr, "tripline: %s: %s\n", c.rules[i], strerror(errno));
			free(c.rules);
			return EXIT_USAGE;
		}
		fclose(f);
	}
	rs = rl_load(c.rules, c.n_rules, &sink);
	if (!rs) {
		free(c.rules);
		return EXIT_RULES;
	}
	c.out = stdout;
	if (c.output && !(c.out = fopen(c.output, "w"))) {
		fprintf(stderr, "tripline: %s: %s\n", c.output, strerror(errno));
		rc = EXIT_USAGE;
		goto out_rules;
	}
	if (c.rejects_path && !(c.rejects = fopen(c.rejects_path, "w"))) {
		fprintf(stderr, "tripline: %s: %s\n", c.rejects_path, strerror(errno));
		rc = EXIT_USAGE;
		goto out_output;
	}
	if (isatty(fileno(c.out)))
		c.line_buffered = 1;
	else
		setvbuf(c.out, NULL, _IOFBF, 1 << 16);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: a blocked read returns EINTR */
	sigaction(SIGTERM, &sa, NULL);

	eo.passthrough = c.passthrough;
	eo.max_keys = c.max_keys;
	eo.max_runs = c.max_runs;
	eo.max_memory = c.max_memory;
	/* not on a terminal (line by line there), under -q (which stops at the first alert: no
	 * line more may be read) nor under --max-memory (whose budget the held events count in) */
	eo.batch = c.line_buffered || c.quiet || c.max_memory ? 1 : CLI_BATCH;
	eo.emit = emit;
	eo.ctx = &c;
	e = tl_engine_new(rs, &eo);
	if (!e) {
		fprintf(stderr, "tripline: out of memory\n");
		rc = EXIT_USAGE;
		goto out_rejects;
	}
	c.e = e;
	if (optind >= argc) {
		rc = run_input(&c, "-");
	} else {
		for (i = optind; i < argc; i++) {
			int r = run_input(&c, argv[i]);

			if (r == EXIT_USAGE) {
				rc = EXIT_USAGE; /* go on with the other files, as grep does */
				continue;
			}
			if (r) {
				rc = r;
				break;
			}
		}
	}
	/* end of input (or a stop): held events are processed, pending absences fire */
	if (rc != EXIT_STRICT && (got_signal ? tl_engine_stop(e) : tl_engine_finish(e))) {
		fprintf(stderr, "tripline: out of memory at the end of input\n");
		rc = EXIT_USAGE;
	}
	if (c.n_problems > MAX_SHOWN)
		fprintf(stderr, "tripline: %llu more malformed or late lines not shown (%llu in all)\n",
			(unsigned long long)(c.n_problems - MAX_SHOWN),
			(unsigned long long)c.n_problems);
	{
		struct tl_stats st;

		/* a cap that dropped state may have dropped alerts: never silently */
		tl_engine_stats(e, &st);
		if (st.evicted_keys)
			fprintf(stderr, "tripline: --max-keys evicted %llu key state%s; alerts may be missing\n",
				(unsigned long long)st.evicted_keys, st.evicted_keys == 1 ? "" : "s");
		if (st.evicted_memory)
			fprintf(stderr, "tripline: --max-memory evicted %llu key state%s; alerts may be missing\n",
				(unsigned long long)st.evicted_memory, st.evicted_memory == 1 ? "" : "s");
		if (st.evicted_runs)
			fprintf(stderr, "tripline: --max-runs evicted %llu partial match%s; alerts may be missing\n",
				(unsigned long long)st.evicted_runs, st.evicted_runs == 1 ? "" : "es");
	}
	if (c.stats)
		print_stats(&c, rs, e);
	tl_engine_free(e);
	if (rc < 0)
		rc = 0;
out_rejects:
	if (c.rejects && fclose(c.rejects)) {
		fprintf(stderr, "tripline: %s: %s\n", c.rejects_path, strerror(errno));
		rc = EXIT_USAGE;
	}
out_output:
	if ((fflush(c.out) || ferror(c.out)) && !c.write_failed)
		fail_write(&c);
	if (fclose(c.out) && !c.write_failed)
		fail_write(&c);
	if (c.write_failed)
		rc = EXIT_USAGE;
out_rules:
	rl_free(rs);
	free(c.rules);
	if (got_signal)
		return 128 + got_signal;
	if (rc == 0 && (c.exit_status || c.quiet) && c.n_alerts == 0)
		return EXIT_NO_ALERT;
	return rc;
}
