/* SPDX-License-Identifier: MIT */
/*
 * test_config.c: the config schema, defaults, environment precedence and
 * the diagnostics a user sees. The environment is a table passed to
 * config_parse(), so each test states exactly what is set.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

/* A fake environment: NULL-terminated pairs of name, value. */
static const char *table_getenv(const char *name, void *ctx)
{
	const char *const *pairs = ctx;
	for (size_t i = 0; pairs[i] != NULL; i += 2)
		if (strcmp(pairs[i], name) == 0)
			return pairs[i + 1];
	return NULL;
}

static struct stdbtel_config cfg;
static struct config_diags diags;

static size_t parse_with_env(const char *text, const char *const *env)
{
	memset(&diags, 0, sizeof diags);
	return config_parse(&cfg, "test.toml", text, text ? strlen(text) : 0, env ? table_getenv : NULL,
	                    (void *)env, &diags);
}

static size_t parse(const char *text)
{
	return parse_with_env(text, NULL);
}

static void teardown(void)
{
	config_free(&cfg);
}

/* True when some diagnostic contains needle. */
static bool has_diag(const char *needle)
{
	for (size_t i = 0; i < diags.count; i++)
		if (strstr(diags.items[i].text, needle) != NULL)
			return true;
	return false;
}

static void dump_diags(void)
{
	for (size_t i = 0; i < diags.count; i++)
		fprintf(stderr, "  diag: %s\n", diags.items[i].text);
}

TestSuite(config, .fini = teardown);

Test(config, defaults_without_file_or_environment)
{
	cr_assert_eq(parse(NULL), 0);
	cr_assert_not(cfg.enabled, "telemetry is off unless enabled");
	cr_assert_str_eq(cfg.otlp_endpoint, "http://localhost:4318");
	cr_assert_str_eq(cfg.statsd_host, "localhost");
	cr_assert_eq(cfg.statsd_port, 8125);
	cr_assert_str_eq(cfg.service_name, "spacetimedb");
	cr_assert_null(cfg.service_version);
	cr_assert_eq(cfg.sampler, SAMPLER_RATE_LIMIT);
	cr_assert_eq(cfg.bsp_schedule_delay_ms, 5000);
	cr_assert_eq(cfg.bsp_max_queue_size, 2048);
	cr_assert_eq(cfg.bsp_max_export_batch_size, 512);
	cr_assert_eq(cfg.bsp_export_timeout_ms, 30000);
	cr_assert_eq(cfg.metric_export_interval_ms, 60000);
	cr_assert_eq(cfg.nhooks, 0);
	cr_assert_eq(diags.count, 0);
}

static const char full_config[] =
	"[telemetry]\n"
	"enabled = true\n"
	"otlp_endpoint = \"http://collector:4318\"\n"
	"statsd_endpoint = \"127.0.0.1:9125\"\n"
	"service_name = \"db\"\n"
	"service_version = \"2.8.3\"\n"
	"log_level = \"debug\"\n"
	"processes = [\"spacetimedb-standalone\", \"redis-*\"]\n"
	"traces_file = \"/tmp/traces.jsonl\"\n"
	"[telemetry.sampling]\n"
	"traces_per_second = 2.5\n"
	"\n"
	"[[hook]]\n"
	"symbol = \"spacetimedb::host::instance_env::InstanceEnv::insert\"\n"
	"span = \"insert\"\n"
	"kind = \"client\"\n"
	"via = \"patch\"\n"
	"optional = true\n"
	"object = \"spacetimedb-*\"\n"
	"attributes = { \"db.system.name\" = \"spacetimedb\", retries = 3, ratio = 0.5, hot = true }\n"
	"[hook.metrics]\n"
	"duration = \"spacetimedb.database.insert_duration\"\n"
	"count = \"spacetimedb.database.inserts\"\n"
	"errors = \"spacetimedb.database.insert_errors\"\n"
	"[hook.error]\n"
	"when = \"equal\"\n"
	"value = -1\n"
	"type = \"i32\"\n"
	"[[hook.arg]]\n"
	"index = 2\n"
	"type = \"u32\"\n"
	"attribute = \"db.collection.id\"\n"
	"tag = \"table\"\n"
	"[[hook.arg]]\n"
	"index = 3\n"
	"type = \"str\"\n"
	"deref = [8, 16]\n"
	"max_len = 64\n"
	"attribute = \"db.query.text\"\n"
	"\n"
	"[[hook]]\n"
	"symbol = \"call\"\n"
	"[[hook.arg]]\n"
	"return = true\n"
	"type = \"u64\"\n"
	"metric = \"rows\"\n";

Test(config, every_key_of_a_full_config)
{
	size_t errors = parse(full_config);
	dump_diags();
	cr_assert_eq(errors, 0);
	cr_assert(cfg.enabled);
	cr_assert_str_eq(cfg.source, "test.toml");
	cr_assert_str_eq(cfg.otlp_endpoint, "http://collector:4318");
	cr_assert_str_eq(cfg.statsd_host, "127.0.0.1");
	cr_assert_eq(cfg.statsd_port, 9125);
	cr_assert_str_eq(cfg.service_name, "db");
	cr_assert_str_eq(cfg.service_version, "2.8.3");
	cr_assert_eq(cfg.log_level, LOG_DEBUG);
	cr_assert_eq(cfg.nprocesses, 2);
	cr_assert_str_eq(cfg.processes[1], "redis-*");
	cr_assert_str_eq(cfg.traces_file, "/tmp/traces.jsonl");
	cr_assert_float_eq(cfg.traces_per_second, 2.5, 1e-12);
	cr_assert_eq(cfg.nhooks, 2);

	const struct hook_config *h = &cfg.hooks[0];
	cr_assert_str_eq(h->symbol, "spacetimedb::host::instance_env::InstanceEnv::insert");
	cr_assert_str_eq(h->span, "insert");
	cr_assert_eq(h->kind, SPAN_KIND_CLIENT);
	cr_assert_eq(h->via, HOOK_VIA_PATCH);
	cr_assert(h->optional);
	cr_assert_str_eq(h->object, "spacetimedb-*");
	cr_assert_eq(h->line, 13);
	cr_assert_eq(h->nattributes, 4);
	cr_assert_str_eq(h->attributes[0].key, "db.system.name");
	cr_assert_eq(h->attributes[0].type, ATTRIBUTE_STRING);
	cr_assert_str_eq(h->attributes[0].u.string, "spacetimedb");
	cr_assert_eq(h->attributes[1].type, ATTRIBUTE_INT);
	cr_assert_eq(h->attributes[1].u.integer, 3);
	cr_assert_eq(h->attributes[2].type, ATTRIBUTE_DOUBLE);
	cr_assert_eq(h->attributes[3].type, ATTRIBUTE_BOOL);
	cr_assert_str_eq(h->metric_duration, "spacetimedb.database.insert_duration");
	cr_assert_str_eq(h->metric_count, "spacetimedb.database.inserts");
	cr_assert_str_eq(h->metric_errors, "spacetimedb.database.insert_errors");
	cr_assert_eq(h->error_when, ERROR_EQUAL);
	cr_assert_eq(h->error_value, -1);
	cr_assert_eq(h->error_type, CAPTURE_I32);
	cr_assert_eq(h->ncaptures, 2);
	cr_assert_eq(h->captures[0].index, 2);
	cr_assert_eq(h->captures[0].type, CAPTURE_U32);
	cr_assert_str_eq(h->captures[0].attribute, "db.collection.id");
	cr_assert_str_eq(h->captures[0].tag, "table");
	cr_assert_eq(h->captures[0].max_len, 128, "default max_len");
	cr_assert_eq(h->captures[1].type, CAPTURE_STR);
	cr_assert_eq(h->captures[1].nderef, 2);
	cr_assert_eq(h->captures[1].deref[1], 16);
	cr_assert_eq(h->captures[1].max_len, 64);

	const struct hook_config *h2 = &cfg.hooks[1];
	cr_assert_str_eq(h2->span, "call", "span defaults to the symbol");
	cr_assert_eq(h2->kind, SPAN_KIND_INTERNAL);
	cr_assert_eq(h2->via, HOOK_VIA_AUTO, "via defaults to auto");
	cr_assert_null(h2->object);
	cr_assert_eq(h2->error_when, ERROR_NEVER);
	cr_assert(h2->captures[0].from_return);
	cr_assert_str_eq(h2->captures[0].metric, "rows");
}

Test(config, http_requests_get_a_hook_of_their_own_after_the_hooks)
{
	const char *text =
		"[[hook]]\nsymbol = \"f\"\n"
		"[http]\nports = [3000, 3001]\nroutes = [\"/v1/ping\", \"/v1/database/{name}/call/{reducer}\"]\n"
		"params = { reducer = \"spacetimedb.reducer.name\" }\nspan = \"spacetimedb.api\"\n"
		"[http.metrics]\ncount = \"spacetimedb.api.requests\"\nduration = \"spacetimedb.api.request_duration\"\n";
	cr_assert_eq(parse(text), 0, "errors in a valid config");
	cr_assert_eq(cfg.nhooks, 2);
	cr_assert_eq(cfg.http_hook, 1, "after the [[hook]]s");
	const struct hook_config *h = &cfg.hooks[1];
	cr_assert(h->http);
	cr_assert_null(h->symbol, "nothing to resolve");
	cr_assert_eq(h->kind, SPAN_KIND_SERVER);
	cr_assert_str_eq(h->span, "spacetimedb.api");
	cr_assert_str_eq(h->metric_count, "spacetimedb.api.requests");
	cr_assert_eq(cfg.http.nports, 2);
	cr_assert_eq(cfg.http.ports[1], 3001);
	cr_assert_eq(cfg.http.nroutes, 2);
	cr_assert_str_eq(cfg.http.params[0].value, "spacetimedb.reducer.name");

	config_free(&cfg);
	const char *env[] = { "STDBTEL_HTTP_PORTS", "8080,9090", NULL };
	cr_assert_eq(parse_with_env("[[hook]]\nsymbol = \"f\"\n", env), 0);
	cr_assert_eq(cfg.http_hook, 1, "the environment alone turns [http] on");
	cr_assert_eq(cfg.http.nports, 2);
	cr_assert_eq(cfg.http.ports[0], 8080);
	cr_assert_str_eq(cfg.hooks[1].span, "HTTP", "the default span name");

	config_free(&cfg);
	cr_assert_eq(parse("[http]\nroutes = [\"/v1/ping\"]\n"), 0);
	cr_assert_eq(cfg.http_hook, -1, "no ports: no HTTP hook");
	cr_assert_eq(cfg.nhooks, 0);
}

Test(config, out_parameters_and_error_operands_read_at_return)
{
	const char *text =
		"[[hook]]\nsymbol = \"insert\"\n"
		"[hook.error]\nwhen = \"nonzero\"\ntype = \"u8\"\nindex = 1\nderef = [0]\n"
		"[[hook.arg]]\nindex = 1\nat = \"exit\"\nderef = [8]\ntype = \"u64\"\nmetric = \"rows\"\n"
		"[[hook.arg]]\nindex = 3\nat = \"entry\"\ntype = \"u32\"\ntag = \"table\"\n";
	cr_assert_eq(parse(text), 0, "errors in a valid config");
	const struct hook_config *h = &cfg.hooks[0];
	cr_assert_eq(h->error_index, 1);
	cr_assert_eq(h->error_nderef, 1);
	cr_assert_eq(h->error_deref[0], 0);
	cr_assert_eq(h->error_type, CAPTURE_U8);
	cr_assert(h->captures[0].at_exit);
	cr_assert_eq(h->captures[0].deref[0], 8);
	cr_assert_not(h->captures[1].at_exit, "entry is the default");
}

/*
 * Each bad input, the position and the words a user sees. Criterion runs a
 * parameterized test in a fresh process, so the strings live in the struct.
 */
struct bad_case {
	char text[256];
	char expect[160]; /* substring of a diagnostic, including file:line:col */
};

static const struct bad_case bad_cases[] = {
	{ "[telemetry]\nenabled = yes\n", "test.toml:2:11:" },
	{ "[telemetry]\nenabled = \"true\"\n", "test.toml:2:11: 'enabled' in [telemetry] must be a boolean, not a string" },
	{ "[telemetry]\notlp_endpont = \"http://x\"\n", "test.toml:2:1: unknown key 'otlp_endpont' in [telemetry] (did you mean 'otlp_endpoint'?)" },
	{ "[telemetri]\nenabled = true\n", "unknown key 'telemetri' in the top level (did you mean 'telemetry'?)" },
	{ "[telemetry]\notlp_endpoint = \"localhost:4318\"\n", "test.toml:2:17: 'otlp_endpoint' must start with http:// or https://" },
	{ "[telemetry]\nstatsd_endpoint = \"localhost\"\n", "test.toml:2:19: 'statsd_endpoint' must be host:port" },
	{ "[telemetry]\nstatsd_endpoint = \"localhost:99999\"\n", "'statsd_endpoint' must be host:port (port 1-65535)" },
	{ "[telemetry]\nlog_level = \"verbose\"\n", "test.toml:2:13: 'log_level' must be error, warn, info or debug, not \"verbose\"" },
	{ "[telemetry]\nprocesses = \"x\"\n", "'processes' in [telemetry] must be an array, not a string" },
	{ "[telemetry]\nprocesses = [1]\n", "test.toml:2:14: 'processes' must hold non-empty strings" },
	{ "[telemetry.sampling]\ntraces_per_second = -1\n", "test.toml:2:21: 'traces_per_second' must be a finite number >= 0" },
	{ "[telemetry.sampling]\ntraces_per_second = \"10\"\n", "'traces_per_second' must be a number, not a string" },
	{ "[[hook]]\nspan = \"x\"\n", "test.toml:1:1: [[hook]] needs a 'symbol'" },
	{ "[[hook]]\nsymbol = \"\"\n", "test.toml:2:10: 'symbol' must be a non-empty string" },
	{ "[[hook]]\nsymbol = \"f\"\nkind = \"sever\"\n", "test.toml:3:8: 'kind' must be internal, server, client, producer or consumer, not \"sever\"" },
	{ "[[hook]]\nsymbol = \"f\"\nvia = \"plt\"\n", "test.toml:3:7: 'via' must be auto, interpose or patch, not \"plt\"" },
	{ "[[hook]]\nsymbol = \"f\"\nspan_name = \"x\"\n", "unknown key 'span_name' in [[hook]] (did you mean 'span'?)" },
	{ "[[hook]]\nsymbol = \"f\"\n[hook.metrics]\nduraton = \"a\"\n", "test.toml:4:1: unknown key 'duraton' in [hook.metrics] (did you mean 'duration'?)" },
	{ "[[hook]]\nsymbol = \"f\"\n[hook.metrics]\ncount = \"a:b\"\n", "test.toml:4:9: metric name \"a:b\" cannot contain" },
	{ "[[hook]]\nsymbol = \"f\"\n[hook.error]\nwhen = \"equal\"\n", "test.toml:3:1: [hook.error] when = \"equal\" needs 'value'" },
	{ "[[hook]]\nsymbol = \"f\"\n[hook.error]\nwhen = \"zero\"\nvalue = 1\n", "[hook.error] when = \"zero\" takes no 'value'" },
	{ "[[hook]]\nsymbol = \"f\"\n[hook.error]\nvalue = 1\n", "[hook.error] needs 'when'" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\ntype = \"u32\"\nattribute = \"a\"\n", "test.toml:3:1: [[hook.arg]] needs exactly one of 'index'" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\nindex = 1\nreturn = true\ntype = \"u32\"\nattribute = \"a\"\n", "needs exactly one of 'index'" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\nindex = 0\ntype = \"u32\"\nattribute = \"a\"\n", "test.toml:4:9: 'index' must be between 1 and 16, not 0" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\nindex = 1\nattribute = \"a\"\n", "[[hook.arg]] needs a 'type'" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\nindex = 1\ntype = \"u32\"\n", "needs at least one of 'attribute', 'tag' or 'metric'" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\nindex = 1\ntype = \"float\"\nattribute = \"a\"\n", "test.toml:5:8: 'type' must be i8, i16" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\nreturn = true\ntype = \"str\"\nattribute = \"a\"\n", "cannot capture the return value" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\nindex = 16\ntype = \"str\"\nattribute = \"a\"\n", "takes its length from argument 17" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\nindex = 1\ntype = \"cstring\"\nmetric = \"m\"\n", "'type' must be an integer type" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\nindex = 1\ntype = \"u8\"\nattribute = \"a\"\nderef = [1,2,3,4,5]\n", "'deref' holds at most 4 offsets" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\nindex = 1\ntype = \"u8\"\nattribute = \"a\"\nmax_len = 0\n", "'max_len' must be between 1 and 4096" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\nindex = 1\nat = \"exit\"\ntype = \"u8\"\nattribute = \"a\"\n", "at = \"exit\" reads through the argument" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\nreturn = true\nat = \"exit\"\ntype = \"u8\"\nattribute = \"a\"\n", "'at' is for arguments" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\nindex = 1\nat = \"later\"\ntype = \"u8\"\nattribute = \"a\"\n", "later" },
	{ "[[hook]]\nsymbol = \"f\"\n[hook.error]\nwhen = \"nonzero\"\nindex = 1\n", "'index' judges what the argument points to" },
	{ "[http]\nports = [0]\n", "'ports' must hold TCP port numbers" },
	{ "[http]\nports = [3000]\nroutes = [\"v1/ping\"]\n", "route \"v1/ping\", column 1" },
	{ "[http]\nports = [3000]\nroutess = []\n", "routess" },
	{ "[[hook]]\nsymbol = \"f\"\n[[hook.arg]]\nindex=1\ntype=\"u8\"\ntag=\"a\"\n[[hook.arg]]\nindex=1\ntype=\"u8\"\ntag=\"b\"\n"
	  "[[hook.arg]]\nindex=1\ntype=\"u8\"\ntag=\"c\"\n[[hook.arg]]\nindex=1\ntype=\"u8\"\ntag=\"d\"\n[[hook.arg]]\nindex=1\ntype=\"u8\"\ntag=\"e\"\n", "captures at most 4 values" },
	{ "[[hook]]\nsymbol = \"f\"\nattributes = { nested = { a = 1 } }\n", "test.toml:3:25: attribute 'nested' must be a string" },
	{ "hook = 3\n", "test.toml:1:8: 'hook' must be an array, not an integer" },
	{ "[telemetry]\nenabled = true\nenabled = false\n", "test.toml:3:" },
	{ "[telemetry\nenabled = true\n", "test.toml:1:" },
};

ParameterizedTestParameters(config, bad_input_is_reported_with_position)
{
	return cr_make_param_array(struct bad_case, bad_cases, sizeof bad_cases / sizeof bad_cases[0]);
}

ParameterizedTest(const struct bad_case *c, config, bad_input_is_reported_with_position)
{
	size_t errors = parse(c->text);
	dump_diags();
	cr_assert_geq(errors, 1, "expected an error for:\n%s", c->text);
	cr_assert(has_diag(c->expect), "no diagnostic containing \"%s\"", c->expect);
	cr_assert_eq(diags.items[0].severity, CONFIG_ERROR);
}

Test(config, every_error_is_collected_not_just_the_first)
{
	size_t errors = parse("[telemetry]\nenabled = 1\nlog_level = \"x\"\nbogus = 2\n");
	cr_assert_eq(errors, 3);
	cr_assert(has_diag("test.toml:2:"));
	cr_assert(has_diag("test.toml:3:"));
	cr_assert(has_diag("test.toml:4:"));
}

Test(config, diagnostics_beyond_the_cap_are_counted)
{
	char text[8192] = "[telemetry]\n";
	for (int i = 0; i < CONFIG_MAX_DIAGS + 10; i++)
		snprintf(text + strlen(text), sizeof text - strlen(text), "unknown_%d = 1\n", i);
	size_t errors = parse(text);
	cr_assert_eq(errors, CONFIG_MAX_DIAGS + 10);
	cr_assert_eq(diags.count, CONFIG_MAX_DIAGS);
	cr_assert_eq(diags.total, CONFIG_MAX_DIAGS + 10);
}

/* ---- environment over file over defaults ---------------------------------- */

static const char file_sets_everything[] =
	"[telemetry]\n"
	"enabled = false\n"
	"otlp_endpoint = \"http://file:4318\"\n"
	"statsd_endpoint = \"file-statsd:8125\"\n"
	"service_name = \"from-file\"\n"
	"service_version = \"1.0\"\n"
	"log_level = \"error\"\n";

Test(config, file_overrides_defaults)
{
	cr_assert_eq(parse(file_sets_everything), 0);
	cr_assert_str_eq(cfg.otlp_endpoint, "http://file:4318");
	cr_assert_str_eq(cfg.statsd_host, "file-statsd");
	cr_assert_str_eq(cfg.service_name, "from-file");
	cr_assert_eq(cfg.log_level, LOG_ERROR);
}

Test(config, environment_overrides_file)
{
	const char *env[] = {
		"SPACETIMEDB_TELEMETRY_ENABLED", "true",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "https://env:4318",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://env:9999/custom/path",
		"OTEL_SERVICE_NAME", "from-env",
		"OTEL_SERVICE_VERSION", "9.9",
		"STATSD_HOST", "env-statsd",
		"STATSD_PORT", "18125",
		"STDBTEL_LOG", "debug",
		"OTEL_BSP_SCHEDULE_DELAY", "250",
		"OTEL_BSP_MAX_QUEUE_SIZE", "100",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50",
		"OTEL_BSP_EXPORT_TIMEOUT", "1000",
		"OTEL_METRIC_EXPORT_INTERVAL", "2000",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://env:9998/m",
		"OTEL_EXPORTER_OTLP_TIMEOUT", "1500",
		"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip",
		"OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf",
		NULL,
	};
	cr_assert_eq(parse_with_env(file_sets_everything, env), 0);
	dump_diags();
	cr_assert_eq(diags.count, 0);
	cr_assert(cfg.enabled);
	cr_assert_str_eq(cfg.otlp_endpoint, "https://env:4318");
	cr_assert_str_eq(cfg.otlp_traces_endpoint, "http://env:9999/custom/path");
	cr_assert_str_eq(cfg.service_name, "from-env");
	cr_assert_str_eq(cfg.service_version, "9.9");
	cr_assert_str_eq(cfg.statsd_host, "env-statsd");
	cr_assert_eq(cfg.statsd_port, 18125);
	cr_assert_eq(cfg.log_level, LOG_DEBUG);
	cr_assert_eq(cfg.bsp_schedule_delay_ms, 250);
	cr_assert_eq(cfg.bsp_max_queue_size, 100);
	cr_assert_eq(cfg.bsp_max_export_batch_size, 50);
	cr_assert_eq(cfg.bsp_export_timeout_ms, 1000);
	cr_assert_eq(cfg.metric_export_interval_ms, 2000);
	cr_assert_str_eq(cfg.otlp_metrics_endpoint, "http://env:9998/m");
	cr_assert_eq(cfg.otlp_timeout_ms, 1500);
	cr_assert(cfg.otlp_gzip);
	cr_assert_str_eq(cfg.otlp_certificate, "/etc/ca.pem");
}

Test(config, exporters_run_only_where_an_endpoint_is_named)
{
	cr_assert_eq(parse("[telemetry]\nenabled = true\n"), 0);
	cr_assert(!cfg.otlp_traces && !cfg.otlp_metrics && !cfg.statsd_metrics, "no endpoint named: nothing sent");
	config_free(&cfg);
	cr_assert_eq(parse("[telemetry]\notlp_endpoint = \"http://c:4318\"\nstatsd_endpoint = \"s:8125\"\n"), 0);
	cr_assert(cfg.otlp_traces && cfg.otlp_metrics && cfg.statsd_metrics);
	config_free(&cfg);
	const char *env[] = { "OTEL_EXPORTER_OTLP_ENDPOINT", "http://e:4318", "OTEL_METRICS_EXPORTER", "none",
		              "STATSD_PORT", "9125", NULL };
	cr_assert_eq(parse_with_env("", env), 0);
	cr_assert(cfg.otlp_traces && !cfg.otlp_metrics && cfg.statsd_metrics);
	config_free(&cfg);
	const char *env2[] = { "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://e:4318/t", "OTEL_TRACES_EXPORTER", "zipkin",
		               NULL };
	cr_assert_eq(parse_with_env("", env2), 0);
	cr_assert(cfg.otlp_traces && !cfg.otlp_metrics, "a traces endpoint alone sends traces");
	cr_assert(has_diag("OTEL_TRACES_EXPORTER: \"zipkin\" is not otlp or none"));
}

Test(config, statsd_settings)
{
	cr_assert_eq(parse("[telemetry]\n"), 0);
	cr_assert(!cfg.statsd_plain, "DogStatsD tags by default");
	cr_assert_eq(cfg.statsd_timer_budget, 1000);
	cr_assert_eq(cfg.statsd_max_payload, 1432);
	config_free(&cfg);
	cr_assert_eq(parse("[telemetry]\nstatsd_tags = \"none\"\nstatsd_timer_budget = 100\nstatsd_max_payload = 8932\n"), 0);
	cr_assert(cfg.statsd_plain);
	cr_assert_eq(cfg.statsd_timer_budget, 100);
	cr_assert_eq(cfg.statsd_max_payload, 8932);
	config_free(&cfg);
	cr_assert_eq(parse("[telemetry]\nstatsd_timer_budget = 10\nstatsd_max_payload = 70000\nstatsd_tags = \"influx\"\n"), 3);
	cr_assert(has_diag("'statsd_timer_budget' must be between 64 and"));
	cr_assert(has_diag("'statsd_max_payload' must be between 512 and 65507"));
	cr_assert(has_diag("'statsd_tags' must be dogstatsd or none"));
}

Test(config, otlp_transport_defaults_file_keys_and_bad_values)
{
	cr_assert_eq(parse("[telemetry]\nenabled = true\n"), 0);
	cr_assert_eq(cfg.otlp_timeout_ms, 10000, "the spec's default");
	cr_assert(!cfg.otlp_gzip);
	cr_assert_null(cfg.otlp_certificate);
	cr_assert_null(cfg.otlp_metrics_endpoint);
	config_free(&cfg);
	cr_assert_eq(parse("[telemetry]\notlp_compression = \"gzip\"\notlp_timeout_ms = 2500\n"
	                   "otlp_certificate = \"/ca.pem\"\n"), 0);
	cr_assert(cfg.otlp_gzip);
	cr_assert_eq(cfg.otlp_timeout_ms, 2500);
	cr_assert_str_eq(cfg.otlp_certificate, "/ca.pem");
	config_free(&cfg);
	const char *env[] = { "OTEL_EXPORTER_OTLP_COMPRESSION", "zstd", "OTEL_EXPORTER_OTLP_TIMEOUT", "soon",
		              "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", NULL };
	cr_assert_eq(parse_with_env("[telemetry]\notlp_compression = \"gzip\"\n", env), 0, "bad variables only warn");
	cr_assert(cfg.otlp_gzip, "a bad value keeps what the file said");
	cr_assert_eq(cfg.otlp_timeout_ms, 10000);
	cr_assert_eq(diags.count, 3);
	cr_assert(has_diag("OTEL_EXPORTER_OTLP_COMPRESSION: \"zstd\" is not gzip or none; using gzip"));
	cr_assert(has_diag("OTEL_EXPORTER_OTLP_PROTOCOL: \"grpc\" is not supported"));
	config_free(&cfg);
	cr_assert_eq(parse("[telemetry]\notlp_compression = \"zip\"\n"), 1, "a bad file value is an error");
	cr_assert(has_diag("'otlp_compression' must be none or gzip"));
}

Test(config, empty_environment_values_count_as_unset)
{
	const char *env[] = {
		"SPACETIMEDB_TELEMETRY_ENABLED", "", "OTEL_EXPORTER_OTLP_ENDPOINT", "",
		"OTEL_SERVICE_NAME", "", "STATSD_PORT", "", "OTEL_SDK_DISABLED", "", NULL,
	};
	cr_assert_eq(parse_with_env("[telemetry]\nenabled = true\nservice_name = \"f\"\n", env), 0);
	cr_assert_eq(diags.count, 0);
	cr_assert(cfg.enabled);
	cr_assert_str_eq(cfg.otlp_endpoint, "http://localhost:4318");
	cr_assert_str_eq(cfg.service_name, "f");
	cr_assert_eq(cfg.statsd_port, 8125);
}

Test(config, otel_sdk_disabled_wins_over_enabled)
{
	const char *env[] = { "SPACETIMEDB_TELEMETRY_ENABLED", "1", "OTEL_SDK_DISABLED", "TRUE", NULL };
	cr_assert_eq(parse_with_env("[telemetry]\nenabled = true\n", env), 0);
	cr_assert_not(cfg.enabled);
}

Test(config, telemetry_can_be_disabled_from_the_environment)
{
	const char *env[] = { "SPACETIMEDB_TELEMETRY_ENABLED", "off", NULL };
	cr_assert_eq(parse_with_env("[telemetry]\nenabled = true\n", env), 0);
	cr_assert_not(cfg.enabled);
}

Test(config, otel_service_name_wins_over_resource_attributes)
{
	const char *env[] = {
		"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs, deployment.environment=dev%20box,service.version=3",
		"OTEL_SERVICE_NAME", "from-name", NULL,
	};
	cr_assert_eq(parse_with_env(file_sets_everything, env), 0);
	cr_assert_str_eq(cfg.service_name, "from-name");
	cr_assert_str_eq(cfg.service_version, "3");
	cr_assert_eq(cfg.nresource_attributes, 3);
	cr_assert_str_eq(cfg.resource_attributes[1].key, "deployment.environment");
	cr_assert_str_eq(cfg.resource_attributes[1].value, "dev box", "values are percent-decoded and trimmed");
}

Test(config, resource_service_name_overrides_file)
{
	const char *env[] = { "OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs", NULL };
	cr_assert_eq(parse_with_env(file_sets_everything, env), 0);
	cr_assert_str_eq(cfg.service_name, "from-attrs");
}

Test(config, otlp_headers_are_parsed_and_bad_items_warned)
{
	const char *env[] = { "OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret%3D1,bogus, x-team = db ", NULL };
	cr_assert_eq(parse_with_env(NULL, env), 0);
	cr_assert_eq(cfg.notlp_headers, 2);
	cr_assert_str_eq(cfg.otlp_headers[0].key, "api-key");
	cr_assert_str_eq(cfg.otlp_headers[0].value, "secret=1");
	cr_assert_str_eq(cfg.otlp_headers[1].key, "x-team");
	cr_assert_str_eq(cfg.otlp_headers[1].value, "db");
	cr_assert_eq(diags.count, 1);
	cr_assert_eq(diags.items[0].severity, CONFIG_WARNING);
	cr_assert(has_diag("OTEL_EXPORTER_OTLP_HEADERS: ignoring \"bogus\""));
}

Test(config, samplers_from_the_environment)
{
	const char *ratio[] = { "OTEL_TRACES_SAMPLER", "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG", "0.25", NULL };
	cr_assert_eq(parse_with_env(NULL, ratio), 0);
	cr_assert_eq(cfg.sampler, SAMPLER_PARENTBASED_TRACEID_RATIO);
	cr_assert_float_eq(cfg.sampler_ratio, 0.25, 1e-12);
	config_free(&cfg);

	const char *off[] = { "OTEL_TRACES_SAMPLER", "always_off", NULL };
	cr_assert_eq(parse_with_env(NULL, off), 0);
	cr_assert_eq(cfg.sampler, SAMPLER_ALWAYS_OFF);
	config_free(&cfg);

	const char *unsupported[] = { "OTEL_TRACES_SAMPLER", "jaeger_remote", NULL };
	cr_assert_eq(parse_with_env(NULL, unsupported), 0);
	cr_assert_eq(cfg.sampler, SAMPLER_RATE_LIMIT, "an unsupported sampler keeps the rate limit");
	cr_assert(has_diag("OTEL_TRACES_SAMPLER: \"jaeger_remote\" is not supported"));
}

Test(config, invalid_environment_values_warn_and_keep_the_previous_value)
{
	const char *env[] = {
		"OTEL_BSP_MAX_QUEUE_SIZE", "lots", "STATSD_PORT", "0", "STDBTEL_LOG", "loud",
		"OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "1.5",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "OTEL_SDK_DISABLED", "maybe",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096", NULL,
	};
	cr_assert_eq(parse_with_env(NULL, env), 0, "environment problems are warnings, not errors");
	dump_diags();
	cr_assert_eq(cfg.bsp_max_queue_size, 2048);
	cr_assert_eq(cfg.statsd_port, 8125);
	cr_assert_eq(cfg.log_level, LOG_INFO);
	cr_assert_float_eq(cfg.sampler_ratio, 1.0, 1e-12);
	cr_assert_str_eq(cfg.otlp_endpoint, "http://localhost:4318");
	cr_assert_eq(cfg.bsp_max_export_batch_size, 2048, "batch is clamped to the queue size");
	cr_assert_eq(diags.count, 7);
	for (size_t i = 0; i < diags.count; i++)
		cr_assert_eq(diags.items[i].severity, CONFIG_WARNING);
	cr_assert(has_diag("OTEL_BSP_MAX_QUEUE_SIZE: \"lots\""));
	cr_assert(has_diag("STATSD_PORT: \"0\""));
	cr_assert(has_diag("STDBTEL_LOG: \"loud\""));
	cr_assert(has_diag("OTEL_TRACES_SAMPLER_ARG: \"1.5\""));
}

Test(config, ipv6_statsd_endpoint)
{
	cr_assert_eq(parse("[telemetry]\nstatsd_endpoint = \"[::1]:8126\"\n"), 0);
	cr_assert_str_eq(cfg.statsd_host, "::1");
	cr_assert_eq(cfg.statsd_port, 8126);
}

Test(config, process_globs)
{
	cr_assert_eq(parse("[telemetry]\nprocesses = [\"spacetimedb-standalone\", \"redis-*\"]\n"), 0);
	cr_assert(config_process_matches(&cfg, "spacetimedb-standalone"));
	cr_assert(config_process_matches(&cfg, "redis-server"));
	cr_assert_not(config_process_matches(&cfg, "spacetimedb-cli"));
	cr_assert_not(config_process_matches(&cfg, "sh"));
	config_free(&cfg);
	cr_assert_eq(parse("[telemetry]\n"), 0);
	cr_assert(config_process_matches(&cfg, "anything"), "no list means every process");
}

Test(config, config_load_reports_a_missing_file)
{
	setenv("STDBTEL_CONFIG", "/nonexistent/stdbtel.toml", 1);
	memset(&diags, 0, sizeof diags);
	size_t errors = config_load(&cfg, "/also/missing.toml", &diags);
	unsetenv("STDBTEL_CONFIG");
	cr_assert_eq(errors, 1);
	cr_assert(has_diag("/nonexistent/stdbtel.toml: cannot open: No such file or directory"));
}

Test(config, config_load_uses_the_default_path_when_unset_or_empty)
{
	char path[] = "/tmp/stdbtel-config-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	const char text[] = "[telemetry]\nservice_name = \"default-file\"\n";
	cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
	close(fd);
	setenv("STDBTEL_CONFIG", "", 1);
	memset(&diags, 0, sizeof diags);
	size_t errors = config_load(&cfg, path, &diags);
	unsetenv("STDBTEL_CONFIG");
	unlink(path);
	cr_assert_eq(errors, 0);
	cr_assert_str_eq(cfg.service_name, "default-file");
	cr_assert_str_eq(cfg.source, path);
}

Test(config, shipped_packs_are_valid)
{
	const char *root = getenv("STDBTEL_SOURCE_ROOT");
	cr_assert(root != NULL, "STDBTEL_SOURCE_ROOT is not set: run through meson test");
	const char *packs[] = { "symbols/spacetimedb.toml", "symbols/demo.toml" };
	for (size_t i = 0; i < sizeof packs / sizeof packs[0]; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", root, packs[i]);
		setenv("STDBTEL_CONFIG", path, 1);
		memset(&diags, 0, sizeof diags);
		size_t errors = config_load(&cfg, "/missing", &diags);
		dump_diags();
		cr_assert_eq(errors, 0, "%s has errors", packs[i]);
		cr_assert_eq(diags.count, 0, "%s has warnings", packs[i]);
		cr_assert_gt(cfg.nhooks, 0);
		config_free(&cfg);
	}
	unsetenv("STDBTEL_CONFIG");
}
