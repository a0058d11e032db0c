/* SPDX-License-Identifier: MIT */
/*
 * stdbtel.c: the command-line front end. It finds functions in binaries
 * (`symbols`) and checks configs (`check`) with the same code the
 * preloaded library runs, so what it says is what the shim will do.
 *
 * Exit status: 0 success; 1 nothing matched, or the config has problems;
 * 2 usage error or unreadable input.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "config.h"
#include "glob.h"
#include "interpose_list.h"
#include "stdbtel_build.h"
#include "symbol_table.h"
#include "targets.h"

static const char usage_text[] =
	"Usage: stdbtel <command> [arguments]\n"
	"\n"
	"Time functions of an unmodified ELF server and export OpenTelemetry spans\n"
	"and StatsD metrics, by preloading libstdbtel.so:\n"
	"\n"
	"    LD_PRELOAD=libstdbtel.so STDBTEL_CONFIG=my.toml SERVER [ARGS...]\n"
	"\n"
	"Commands:\n"
	"  symbols BINARY [PATTERN]   List the functions in BINARY (an executable or\n"
	"                             shared library), or those matching PATTERN: a\n"
	"                             name as a person writes it (crate::module::Type::fn,\n"
	"                             ns::Class::method, a C name), its trailing path\n"
	"                             segments (Type::fn), a mangled name, or a glob\n"
	"                             (* ? [...]) over either. The NAME column is what\n"
	"                             a [[hook]] 'symbol' should say; HOOKABLE says\n"
	"                             whether the hook engine can patch the function,\n"
	"                             and if not, why (at the end of the line).\n"
	"  check [CONFIG [BINARY]]    Check CONFIG (default: $STDBTEL_CONFIG, else\n"
	"                             " STDBTEL_DEFAULT_CONFIG ")\n"
	"                             as the shim would read it, environment included;\n"
	"                             with BINARY, also resolve every hook's symbol in it.\n"
	"  config BINARY [PATTERN] [--metrics PREFIX] [--exclude GLOB]...\n"
	"                             Print a config that hooks every function of\n"
	"                             BINARY matching PATTERN (default: all of them)\n"
	"                             that the hook engine accepts, one [[hook]] each;\n"
	"                             the refused ones are listed as comments with the\n"
	"                             reason, and a summary goes to stderr. --metrics\n"
	"                             gives each hook a StatsD counter PREFIX.NAME.calls;\n"
	"                             --exclude leaves out the names a glob matches.\n"
	"  help                       Show this text.\n"
	"  version                    Show the version.\n"
	"\n"
	"Examples:\n"
	"  stdbtel symbols ./spacetimedb-standalone 'InstanceEnv::*'\n"
	"  stdbtel symbols /usr/bin/redis-server processCommand\n"
	"  stdbtel check my.toml ./spacetimedb-standalone\n"
	"  stdbtel config /usr/bin/redis-server '*' --metrics redis.fn > everything.toml\n"
	"\n"
	"Environment read by check and the shim: STDBTEL_CONFIG, STDBTEL_LOG,\n"
	"SPACETIMEDB_TELEMETRY_ENABLED, OTEL_SDK_DISABLED, OTEL_SERVICE_NAME, OTEL_*, STATSD_HOST,\n"
	"STATSD_PORT. See README.md for every key and variable.\n"
	"\n"
	"Exit status: 0 success, 1 no match or config problems, 2 usage or read error.\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "stdbtel: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'stdbtel help'.\n");
	return 2;
}

static const char *binding_name(uint8_t bind)
{
	switch (bind) {
	case 0: return "local";
	case 1: return "global";
	case 2: return "weak";
	case 10: return "unique";
	default: return "other";
	}
}

/*
 * Whether the hook engine can patch e, judged on the file's bytes exactly as
 * the shim judges the loaded ones. The trampoline is planned at the
 * function's own address: the shim places it within reach, and only
 * reachability of the function's own references is in question here.
 */
static enum arch_refusal judge_hookable(const struct elf_file *elf, uint64_t value, uint64_t size, char *why,
                                        size_t whylen)
{
	const uint8_t *code;
	if (size == 0)
		return arch_plan_patch(NULL, 0, value, value, &(struct arch_patch_plan){ 0 }, why, whylen);
	if (!elf_code_at(elf, value, size, &code)) {
		snprintf(why, whylen, "its bytes are not in an executable section of the file");
		return ARCH_DECODE_FAILED;
	}
	struct arch_patch_plan plan;
	return arch_plan_patch(code, size, value, value, &plan, why, whylen);
}

static void print_symbol_row(const struct symbol_entry *e, void *ctx)
{
	const struct symbol_table *table = ctx;
	char why[256] = "";
	bool entry = elf_is_entry_point(&table->elf, e->value);
	enum arch_refusal hook = judge_hookable(&table->elf, e->value, e->size, why, sizeof why);
	printf("%#018llx %8llu  %-6s  %-17s  %s  %s", (unsigned long long)e->value, (unsigned long long)e->size,
	       binding_name(e->bind), entry ? "entry point" : hook == ARCH_HOOKABLE ? "yes" : arch_refusal_name(hook),
	       e->key, e->mangled);
	if (entry)
		printf("  (%s)", TARGETS_ENTRY_POINT_WHY);
	else if (hook != ARCH_HOOKABLE)
		printf("  (%s)", why);
	printf("\n");
}

static int cmd_symbols(int argc, char **argv)
{
	if (argc < 2 || argc > 3)
		return usage_error("%s", "symbols takes BINARY [PATTERN]");
	const char *binary = argv[1];
	const char *pattern = argc == 3 ? argv[2] : NULL;
	struct symbol_table table;
	char err[256];
	if (symbol_table_open(&table, binary, err, sizeof err) != ELF_OK) {
		fprintf(stderr, "stdbtel: %s: %s\n", binary, err);
		return 2;
	}
	if (!table.elf.has_symtab)
		fprintf(stderr, "stdbtel: %s has no .symtab (stripped); listing exported functions only\n", binary);
	printf("%-18s %8s  %-6s  %-17s  %s  %s\n", "ADDRESS", "SIZE", "BIND", "HOOKABLE", "NAME", "MANGLED");
	/* Without a pattern, "*" lists every function, in address order. */
	size_t shown = symbol_table_match(&table, pattern ? pattern : "*", MATCH_SEARCH, print_symbol_row, &table);
	symbol_table_close(&table);
	if (shown == 0) {
		fprintf(stderr, "stdbtel: no function in %s matches \"%s\"\n", binary, pattern ? pattern : "*");
		return 1;
	}
	return 0;
}

static void print_check_note(enum log_level level, const char *message, void *ctx)
{
	size_t *problems = ctx;
	if (level <= LOG_WARN)
		(*problems)++;
	fprintf(stderr, "stdbtel: %s%s\n", level <= LOG_WARN ? "" : "note: ", message);
}

/*
 * Resolves every hook of cfg in binary, as the main program unless its name
 * says it is a shared library ("lib....so"), and says how the shim would
 * hook each function: interposed, patched (with the plan), or not at all
 * (with the reason, a problem unless the hook is optional). Returns the
 * problem count.
 */
static size_t check_binary(const struct stdbtel_config *cfg, const char *binary)
{
	const char *slash = strrchr(binary, '/');
	const char *name = slash ? slash + 1 : binary;
	struct target_object object = {
		.path = binary, .name = name, .bias = 0, .is_main = strstr(name, ".so") == NULL,
	};
	struct target_set set;
	size_t problems = 0;
	if (targets_resolve(cfg, &object, 1, &set, print_check_note, &problems) != 0) {
		fprintf(stderr, "stdbtel: out of memory\n");
		return problems + 1;
	}
	if (object.failed)
		problems++;
	printf("%s: %zu of %zu hooks resolved to %zu functions", binary, set.hooks_resolved,
	       cfg->nhooks - (cfg->http_hook >= 0), set.count);
	if (set.hooks_pending)
		printf(" (%zu look only in other objects, not checked)", set.hooks_pending);
	printf("\n");
	for (size_t i = 0; i < set.count; i++) {
		const struct target *t = &set.items[i];
		const struct hook_config *hook = &cfg->hooks[t->hook_index];
		char why[256] = "", plain[128];
		snprintf(plain, sizeof plain, "%.*s", (int)strcspn(t->key, "@"), t->key);
		const char *how;
		if (t->entry_point) {
			how = "NOT HOOKABLE";
			snprintf(why, sizeof why, "%s", TARGETS_ENTRY_POINT_WHY);
		} else if (hook->via == HOOK_VIA_INTERPOSE || (hook->via == HOOK_VIA_AUTO && !object.is_main && interpose_has(plain))) {
			how = interpose_has(plain) ? "interposed" : "NOT HOOKABLE";
			if (!interpose_has(plain))
				snprintf(why, sizeof why, "via = \"interpose\", but the shim wraps only %s", interpose_names());
		} else if (judge_hookable(&object.table.elf, t->link_address, t->size, why, sizeof why) == ARCH_HOOKABLE) {
			how = "patched";
		} else {
			how = "NOT HOOKABLE";
		}
		if (strcmp(how, "NOT HOOKABLE") == 0 && !hook->optional)
			problems++;
		printf("  %-24s %#014lx  %-12s %s%s%s%s\n", hook->span, (unsigned long)t->address, how, t->key,
		       why[0] ? " (" : "", why, why[0] ? ")" : "");
	}
	targets_free(&set);
	target_objects_close(&object, 1);
	return problems;
}

static int cmd_check(int argc, char **argv)
{
	if (argc > 3)
		return usage_error("%s", "check takes [CONFIG [BINARY]]");
	if (argc >= 2)
		setenv("STDBTEL_CONFIG", argv[1], 1);
	struct stdbtel_config cfg;
	struct config_diags diags = { 0 };
	size_t errors = config_load(&cfg, STDBTEL_DEFAULT_CONFIG, &diags);
	for (size_t i = 0; i < diags.count; i++)
		fprintf(stderr, "stdbtel: %s%s\n", diags.items[i].severity == CONFIG_ERROR ? "" : "warning: ",
		        diags.items[i].text);
	if (diags.total > diags.count)
		fprintf(stderr, "stdbtel: ... and %zu more problems\n", diags.total - diags.count);
	if (errors) {
		fprintf(stderr, "stdbtel: %s: %zu error%s; the shim would not trace with this config\n", cfg.source,
		        errors, errors == 1 ? "" : "s");
		config_free(&cfg);
		return 1;
	}
	printf("%s: ok: %zu hooks, telemetry %s, processes %s", cfg.source, cfg.nhooks - (cfg.http_hook >= 0),
	       cfg.enabled ? "enabled" : "disabled (set [telemetry] enabled = true)",
	       cfg.nprocesses ? "" : "any");
	for (size_t i = 0; i < cfg.nprocesses; i++)
		printf("%s%s", i ? ", " : "", cfg.processes[i]);
	printf("\n");
	if (cfg.http_hook >= 0) {
		/* [http] needs no symbol: say what the socket layer will follow */
		printf("%s: [http]: requests on port%s ", cfg.source, cfg.http.nports == 1 ? "" : "s");
		for (size_t i = 0; i < cfg.http.nports; i++)
			printf("%s%u", i ? ", " : "", (unsigned)cfg.http.ports[i]);
		printf(" timed at the socket layer, %zu route%s, %zu path parameter%s kept\n", cfg.http.nroutes,
		       cfg.http.nroutes == 1 ? "" : "s", cfg.http.nparams, cfg.http.nparams == 1 ? "" : "s");
	}
	size_t problems = 0;
	if (argc == 3)
		problems = check_binary(&cfg, argv[2]);
	config_free(&cfg);
	return problems ? 1 : 0;
}

/* One function `config` looked at, in the order the table gave it. */
struct config_candidate {
	const struct symbol_entry *entry;
	enum arch_refusal refusal;
	bool ambiguous; /* hookable, but its name is another function's too */
	bool entry_point;
	char why[160];
};

struct config_scan {
	const struct symbol_table *table;
	char **excludes;
	size_t nexcludes;
	struct config_candidate *items;
	size_t count, cap;
	size_t excluded;
	bool out_of_memory;
};

static void collect_candidate(const struct symbol_entry *e, void *ctx)
{
	struct config_scan *scan = ctx;
	for (size_t i = 0; i < scan->nexcludes; i++)
		if (glob_match(scan->excludes[i], e->key) || glob_match(scan->excludes[i], e->mangled)) {
			scan->excluded++;
			return;
		}
	if (scan->count == scan->cap) {
		size_t cap = scan->cap ? scan->cap * 2 : 1024;
		struct config_candidate *items = realloc(scan->items, cap * sizeof *items);
		if (items == NULL) {
			scan->out_of_memory = true;
			return;
		}
		scan->items = items;
		scan->cap = cap;
	}
	struct config_candidate *c = &scan->items[scan->count++];
	c->entry = e;
	c->ambiguous = false;
	c->entry_point = elf_is_entry_point(&scan->table->elf, e->value);
	c->why[0] = '\0';
	c->refusal = judge_hookable(&scan->table->elf, e->value, e->size, c->why, sizeof c->why);
}

static int compare_candidate_keys(const void *a, const void *b)
{
	const struct config_candidate *const *x = a, *const *y = b;
	return strcmp((*x)->entry->key, (*y)->entry->key);
}

/* Writes s as the body of a TOML basic string. */
static void put_toml_string(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
}

/*
 * The symbol a generated hook names its function by. The match key reads
 * best, but a key with glob characters (C++ operator[], a Rust <impl [T]>)
 * would be taken as a glob, and a key several functions share (generic
 * instances, same-named statics) names them all: there the mangled name
 * picks the one function, when it is unique.
 */
static const char *hook_symbol_for(const struct config_candidate *c, bool key_shared)
{
	const char *key = c->entry->key;
	if (!key_shared && strpbrk(key, "*?[") == NULL)
		return key;
	return c->entry->mangled;
}

static int cmd_config(int argc, char **argv)
{
	const char *binary = NULL, *pattern = NULL, *metrics = NULL;
	struct config_scan scan = { 0 };
	char *excludes[64];
	scan.excludes = excludes;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--metrics") == 0 || strcmp(argv[i], "--exclude") == 0) {
			if (i + 1 == argc)
				return usage_error("%s needs a value", argv[i]);
			if (argv[i][2] == 'm') {
				metrics = argv[++i];
			} else {
				if (scan.nexcludes == sizeof excludes / sizeof excludes[0])
					return usage_error("%s", "at most 64 --exclude globs");
				excludes[scan.nexcludes++] = argv[++i];
			}
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			return usage_error("unknown option '%s'", argv[i]);
		} else if (binary == NULL) {
			binary = argv[i];
		} else if (pattern == NULL) {
			pattern = argv[i];
		} else {
			return usage_error("%s", "config takes BINARY [PATTERN] [--metrics PREFIX] [--exclude GLOB]...");
		}
	}
	if (binary == NULL)
		return usage_error("%s", "config takes BINARY [PATTERN] [--metrics PREFIX] [--exclude GLOB]...");
	if (pattern == NULL)
		pattern = "*";

	struct symbol_table table;
	char err[256];
	if (symbol_table_open(&table, binary, err, sizeof err) != ELF_OK) {
		fprintf(stderr, "stdbtel: %s: %s\n", binary, err);
		return 2;
	}
	scan.table = &table;
	symbol_table_match(&table, pattern, MATCH_SEARCH, collect_candidate, &scan);
	struct config_candidate **by_key = scan.out_of_memory ? NULL : malloc((scan.count + 1) * sizeof *by_key);
	if (by_key == NULL) {
		fprintf(stderr, "stdbtel: out of memory\n");
		free(scan.items);
		symbol_table_close(&table);
		return 2;
	}
	for (size_t i = 0; i < scan.count; i++)
		by_key[i] = &scan.items[i];
	qsort(by_key, scan.count, sizeof *by_key, compare_candidate_keys);
	/* shared[i]: scan.items[i]'s key is also another candidate's */
	bool *shared = calloc(scan.count + 1, sizeof *shared);
	if (shared == NULL) {
		fprintf(stderr, "stdbtel: out of memory\n");
		free(by_key);
		free(scan.items);
		symbol_table_close(&table);
		return 2;
	}
	for (size_t i = 1; i < scan.count; i++)
		if (strcmp(by_key[i - 1]->entry->key, by_key[i]->entry->key) == 0)
			shared[by_key[i - 1] - scan.items] = shared[by_key[i] - scan.items] = true;
	free(by_key);

	/* A hook per accepted function; a mangled name shared too (two
	 * same-named statics) cannot name one function, so it is left out. */
	size_t accepted = 0, ambiguous = 0, entry_points = 0, refused_by[ARCH_OUT_OF_RANGE + 1] = { 0 };
	for (size_t i = 0; i < scan.count; i++) {
		struct config_candidate *c = &scan.items[i];
		if (c->entry_point) {
			entry_points++;
			continue;
		}
		if (c->refusal != ARCH_HOOKABLE) {
			refused_by[c->refusal]++;
			continue;
		}
		if (shared[i] && strcmp(c->entry->key, c->entry->mangled) == 0) {
			ambiguous++;
			c->ambiguous = true;
			continue;
		}
		accepted++;
	}

	const char *slash = strrchr(binary, '/');
	char *real = realpath(binary, NULL);
	const char *process = real ? strrchr(real, '/') + 1 : slash ? slash + 1 : binary;
	printf("# stdbtel config: every function of %s matching \"%s\" that the hook engine accepts.\n", binary,
	       pattern);
	printf("# Written by `stdbtel config`: %zu hooks; %zu functions refused, listed at the end.\n", accepted,
	       scan.count - accepted);
	printf("# Name an exporter before use: statsd_endpoint, otlp_endpoint or traces_file here, or\n"
	       "# STATSD_HOST/STATSD_PORT, OTEL_EXPORTER_OTLP_ENDPOINT in the environment.\n");
	printf("[telemetry]\nenabled = true\nservice_name = \"");
	put_toml_string(process);
	printf("\"\nprocesses = [\"");
	put_toml_string(process); /* the executable's basename, as the kernel names it (symlinks resolved) */
	printf("\"]\n");
	for (size_t i = 0; i < scan.count; i++) {
		const struct config_candidate *c = &scan.items[i];
		if (c->refusal != ARCH_HOOKABLE || c->ambiguous || c->entry_point)
			continue;
		printf("\n[[hook]]\nsymbol = \"");
		put_toml_string(hook_symbol_for(c, shared[i]));
		printf("\"\n");
		if (metrics != NULL) {
			printf("[hook.metrics]\ncount = \"");
			put_toml_string(metrics);
			putchar('.');
			put_toml_string(c->entry->key);
			printf(".calls\"\n");
		}
	}
	if (accepted < scan.count)
		printf("\n# Refused:\n");
	for (size_t i = 0; i < scan.count; i++) {
		const struct config_candidate *c = &scan.items[i];
		if (c->refusal == ARCH_HOOKABLE && !c->ambiguous && !c->entry_point)
			continue;
		printf("# %s: ", c->entry->key);
		if (c->entry_point)
			printf("entry point (%s)\n", TARGETS_ENTRY_POINT_WHY);
		else if (c->ambiguous)
			printf("another function has the same name; a hook could not tell them apart\n");
		else
			printf("%s (%s)\n", arch_refusal_name(c->refusal), c->why);
	}

	fprintf(stderr, "stdbtel: %s: %zu of %zu functions matching \"%s\" can be hooked", binary, accepted,
	        scan.count, pattern);
	const char *sep = "; refused:";
	for (int r = ARCH_TOO_SHORT; r <= ARCH_OUT_OF_RANGE; r++)
		if (refused_by[r]) {
			fprintf(stderr, "%s %zu %s", sep, refused_by[r], arch_refusal_name((enum arch_refusal)r));
			sep = ",";
		}
	if (entry_points) {
		fprintf(stderr, "%s %zu entry point", sep, entry_points);
		sep = ",";
	}
	if (ambiguous)
		fprintf(stderr, "%s %zu sharing a name", sep, ambiguous);
	if (scan.excluded)
		fprintf(stderr, " (%zu excluded by --exclude)", scan.excluded);
	fprintf(stderr, "\n");
	if (!table.elf.has_symtab)
		fprintf(stderr, "stdbtel: %s has no .symtab (stripped): only its exported functions were seen\n", binary);
	free(real);
	free(shared);
	free(scan.items);
	symbol_table_close(&table);
	return accepted ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("%s", "missing command");
	const char *cmd = argv[1];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("stdbtel %s\n", STDBTEL_VERSION);
		return 0;
	}
	if (strcmp(cmd, "symbols") == 0)
		return cmd_symbols(argc - 1, argv + 1);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(cmd, "config") == 0)
		return cmd_config(argc - 1, argv + 1);
	return usage_error("unknown command '%s'", cmd);
}
