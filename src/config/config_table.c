/*
 * config_table.c: every configuration field, declared once (tmux's
 * options-table.c). Path, type, storage, default, bounds, unit and a
 * one-line doc. The loader, validation, `check-config` output and
 * docs/config.md are all driven from here.
 *
 * Bounds: durations in seconds, sizes in bytes, strings by minimum length.
 * Defaults are text and go through the same parser as the file, so a
 * default cannot be outside its own bounds (a unit test checks it).
 */
#include "config/config_int.h"

#include <stddef.h>
#include <string.h>

#define OFF(member) offsetof(config_t, member)
#define BIG 1e18

/* --------------------------------------------------------------- enums */
static const char *const forwarded_names[] = {"both", "x-forwarded-for",
					      "forwarded", "none", NULL};
static const char *const health_names[] = {"tcp", "http", "none", NULL};
static const char *const sample_names[] = {"random", "header", "cookie",
					   "query", NULL};
static const char *const where_names[] = {"header", "query", "json", "form",
					  "pattern", NULL};
static const char *const action_names[] = {"redact", "hash", "drop", "keep",
					   NULL};
static const char *const direction_names[] = {"either", "increase",
					      "decrease", NULL};
static const char *const side_names[] = {"both", "production", "shadow",
					 NULL};
static const char *const forecaster_names[] = {
	"holt", "holt_winters", "prophet", "lstm", "ensemble", NULL};
static const char *const rollback_names[] = {"auto", "reload", "restart",
					     NULL};
static const char *const msource_names[] = {"local", "prometheus", NULL};
/* Built-in masking detectors, switchable by name (DESIGN.md). */
static const char *const detector_names[] = {
#define DETECTOR_NAME(name, act) #name,
	CONFIG_MASK_DETECTORS(DETECTOR_NAME)
#undef DETECTOR_NAME
	NULL};
static const char *const action_kinds[] = {"rollback", "scale", "stress",
					   "alert", "hold", NULL};
static const char *const stress_levers[] = {"amplify", "cpu", "memory", NULL};
/* The scale hook is told the desired count, not a replica's port. */
static const char *const hook_placeholders[] = {"replicas", "service", NULL};

const char *const config_placeholders[] = {"port", "config_dir", "data_dir",
					   "replica", "side", "service", NULL};

/* --------------------------------------------------------------- sections */
const config_section_t config_sections[] = {
	{"service", "the name of the service under watch", true},
	{"listen", "where clients connect: the proxy's listener", true},
	{"production", "the production service: where it is, or how to run "
		       "it", true},
	{"shadow", "the shadow: same software, own port, a share of the "
		   "resources", true},
	{"mirror", "which requests are copied to the shadow, and how", true},
	{"mask", "masking of mirrored and captured traffic", true},
	{"analysis", "deviation, velocity, envelope, verdict, forecast",
	 true},
	{"events", "context: deploys, config changes, scheduled tasks",
	 true},
	{"drift", "production vs shadow fingerprints", true},
	{"mitigation", "policy and actions: rollback, scale, stress, alert",
	 true},
	{"metrics", "where each side's metrics come from: local collectors "
		    "or Prometheus", true},
	{"capture", "recording traffic (proxy tap, pcap, live) and replaying "
		    "it", true},
	{"store", "the embedded SQLite store", true},
	{"api", "admin API, dashboard and /metrics", true},
};
const size_t config_nsections = sizeof(config_sections) /
				sizeof(config_sections[0]);

/* --------------------------------------------------------------- lists */
#define ROFF(member) offsetof(config_mask_rule_t, member)
static const config_field_t mask_rule_fields[] = {
	{"where", CT_ENUM, ROFF(where), "header", 0, 0, NULL, where_names,
	 NULL, CF_REQUIRED,
	 "what the rule looks at: a header, a query parameter, a JSON path, "
	 "a form field, or a PCRE2 pattern over text"},
	{"name", CT_STRING, ROFF(name), "", 0, 0, NULL, NULL, NULL, 0,
	 "header, parameter or field name, or JSON path ($.user.email, "
	 "$.items[*].card)"},
	{"pattern", CT_REGEX, ROFF(pattern), "", 0, 0, NULL, NULL, NULL, 0,
	 "PCRE2 pattern (where: pattern)"},
	{"action", CT_ENUM, ROFF(action), "redact", 0, 0, NULL, action_names,
	 NULL, 0,
	 "drop the value, redact it to the marker, hash it to a keyed "
	 "pseudonym, or keep it"},
	{"replacement", CT_STRING, ROFF(replacement), "", 0, 0, NULL, NULL,
	 NULL, 0,
	 "replacement for pattern matches with action redact; $1, ${1}, "
	 "${name} insert groups, $$ a dollar (default: the marker)"},
};
#undef ROFF
static const config_table_t mask_rule_table = {
	"mask.rules[]", mask_rule_fields,
	sizeof(mask_rule_fields) / sizeof(*mask_rule_fields),
	sizeof(config_mask_rule_t)};

#define SOFF(member) offsetof(config_sched_t, member)
static const config_field_t sched_fields[] = {
	{"name", CT_STRING, SOFF(name), "", 1, 0, NULL, NULL, NULL,
	 CF_REQUIRED, "name shown in findings that the task explains"},
	{"cron", CT_CRON, SOFF(cron), "", 0, 0, NULL, NULL, NULL, CF_REQUIRED,
	 "when it starts: five-field cron expression, UTC"},
	{"duration", CT_DURATION, SOFF(duration), "10m", 1, 7 * 86400, "s",
	 NULL, NULL, 0, "how long it runs"},
	{"side", CT_ENUM, SOFF(side), "both", 0, 0, NULL, side_names, NULL, 0,
	 "which side it loads"},
};
#undef SOFF
static const config_table_t sched_table = {
	"events.scheduled[]", sched_fields,
	sizeof(sched_fields) / sizeof(*sched_fields), sizeof(config_sched_t)};

#define POFF(member) offsetof(config_policy_t, member)
static const config_field_t policy_fields[] = {
	{"name", CT_STRING, POFF(name), "", 1, 0, NULL, NULL, NULL,
	 CF_REQUIRED, "rule name, shown in the audit log"},
	{"when", CT_STRING, POFF(when), "", 1, 0, NULL, NULL, NULL,
	 CF_REQUIRED,
	 "condition, e.g. cpu.deviation > 0.10 and cpu.velocity > 0.05"},
	{"then", CT_ENUM_LIST, POFF(then), "alert", 0, 0, NULL, action_kinds,
	 NULL, 0, "actions, in order"},
	{"cooldown", CT_DURATION, POFF(cooldown), "10m", 0, 7 * 86400, "s",
	 NULL, NULL, 0,
	 "minimum time between two firings of this rule on the same findings "
	 "(a new finding is decided at once); while its condition "
	 "holds it fires again each cooldown (0: once per episode)"},
};
#undef POFF
static const config_table_t policy_table = {
	"mitigation.policy[]", policy_fields,
	sizeof(policy_fields) / sizeof(*policy_fields),
	sizeof(config_policy_t)};

/* --------------------------------------------------------------- root */
/* Deviation floors per metric, in the metric's unit: the production value
 * under which |p - s| / p divides by the floor instead (the reasons are in
 * src/analysis/analysis.h, AN_METRICS, and docs/analysis.md). */
#define FLOOR_cpu "0.05"
#define FLOOR_memory "16777216"
#define FLOOR_disk_read "65536"
#define FLOOR_disk_write "65536"
#define FLOOR_net_rx "65536"
#define FLOOR_net_tx "65536"
#define FLOOR_latency_p50 "0.001"
#define FLOOR_latency_p90 "0.001"
#define FLOOR_latency_p99 "0.001"
#define FLOOR_error_rate "0.01"
#define FLOOR_diff_rate "1"

#define METRIC_FIELDS(m, thr, crit, dir, grp)                              \
	{"analysis.metrics." #m ".threshold", CT_REAL,                     \
	 OFF(analysis.metrics[CONFIG_METRIC_##m].threshold), thr, 0, 100,  \
	 "ratio", NULL, NULL, 0,                                           \
	 "deviation |p-s|/p above which " #m " is off (before the "        \
	 "envelope)"},                                                     \
	{"analysis.metrics." #m ".critical", CT_REAL,                      \
	 OFF(analysis.metrics[CONFIG_METRIC_##m].critical), crit, 0, 1000, \
	 "ratio", NULL, NULL, 0,                                           \
	 "deviation that is a finding on its own, velocity or not"},       \
	{"analysis.metrics." #m ".direction", CT_ENUM,                     \
	 OFF(analysis.metrics[CONFIG_METRIC_##m].direction), dir, 0, 0,    \
	 NULL, direction_names, NULL, 0,                                   \
	 "which way of moving counts as bad"},                             \
	{"analysis.metrics." #m ".weight", CT_REAL,                        \
	 OFF(analysis.metrics[CONFIG_METRIC_##m].weight), "1", 0, 100,     \
	 NULL, NULL, NULL, 0, "weight of the metric in the verdict score"}, \
	{"analysis.metrics." #m ".group", CT_STRING,                       \
	 OFF(analysis.metrics[CONFIG_METRIC_##m].group), grp, 1, 0, NULL,  \
	 NULL, NULL, 0, "metric group for the verdict"},                   \
	{"analysis.metrics." #m ".critical_metric", CT_BOOL,               \
	 OFF(analysis.metrics[CONFIG_METRIC_##m].critical_metric),         \
	 "false", 0, 0, NULL, NULL, NULL, 0,                               \
	 "a failing verdict on this metric fails the whole verdict"},      \
	{"analysis.metrics." #m ".floor", CT_REAL,                         \
	 OFF(analysis.metrics[CONFIG_METRIC_##m].floor), FLOOR_##m, 1e-12, \
	 1e15, "metric unit", NULL, NULL, 0,                               \
	 "production value under which the deviation divides by this "     \
	 "instead"},

#define PROM_QUERY_FIELD(m, def)                                           \
	{"metrics.prometheus.queries." #m, CT_STRING,                      \
	 OFF(metrics.prometheus.queries[CONFIG_PQ_##m]), def, 0, 0, NULL,  \
	 NULL, NULL, 0,                                                    \
	 "PromQL for " #m " per side; {service} {side} {range} are filled " \
	 "in; \"\" = not queried"},

static const config_field_t root_fields[] = {
	{"service", CT_STRING, OFF(service), "", 1, 0, NULL, NULL, NULL,
	 CF_REQUIRED,
	 "service name: a label on every metric, finding and alert"},

	/* listen */
	{"listen.address", CT_ADDR, OFF(listen.address), ":8080", 1, 0, NULL,
	 NULL, NULL, 0, "address clients connect to"},
	{"listen.workers", CT_INT, OFF(listen.workers), "0", 0, 256, NULL,
	 NULL, NULL, 0, "proxy worker threads; 0 = one per core"},
	{"listen.backlog", CT_INT, OFF(listen.backlog), "511", 1, 65535, NULL,
	 NULL, NULL, 0, "listen(2) backlog"},
	{"listen.max_connections", CT_INT, OFF(listen.max_connections),
	 "10000", 1, 1000000, NULL, NULL, NULL, 0,
	 "client connections held at once; at the limit the proxy stops "
	 "accepting (more wait in the backlog) until one closes"},
	{"listen.header_timeout", CT_DURATION, OFF(listen.header_timeout),
	 "10s", 0.001, 3600, "s", NULL, NULL, 0,
	 "a client must send a request's headers within this (slowloris)"},
	{"listen.body_timeout", CT_DURATION, OFF(listen.body_timeout), "30s",
	 0.001, 3600, "s", NULL, NULL, 0,
	 "longest pause while a client sends a body (408)"},
	{"listen.body_deadline", CT_DURATION, OFF(listen.body_deadline),
	 "600s", 0.001, 86400, "s", NULL, NULL, 0,
	 "a request body must be received whole within this of its first "
	 "byte (408)"},
	{"listen.body_min_rate", CT_SIZE, OFF(listen.body_min_rate), "256", 0,
	 1 << 30, "bytes/s", NULL, NULL, 0,
	 "a body arriving slower than this on average, after its first 5s, "
	 "gets 408 (as Kestrel's MinRequestBodyDataRate); 0 = off"},
	{"listen.max_body", CT_SIZE, OFF(listen.max_body), "64MiB", 1, BIG,
	 "bytes", NULL, NULL, 0,
	 "largest request body; larger gets 413 and the connection closes"},
	{"listen.send_timeout", CT_DURATION, OFF(listen.send_timeout), "60s",
	 0.001, 86400, "s", NULL, NULL, 0,
	 "a client that reads nothing of its response for this long is "
	 "closed (nginx send_timeout)"},
	{"listen.idle_timeout", CT_DURATION, OFF(listen.idle_timeout), "60s",
	 0.001, 86400, "s", NULL, NULL, 0,
	 "keep-alive connections idle longer are closed"},
	{"listen.drain_timeout", CT_DURATION, OFF(listen.drain_timeout), "30s",
	 0, 3600, "s", NULL, NULL, 0,
	 "on SIGTERM, how long in-flight requests may finish"},
	{"listen.max_request_line", CT_SIZE, OFF(listen.max_request_line),
	 "8KiB", 256, 1 << 20, "bytes", NULL, NULL, 0,
	 "longest request line; longer gets 414"},
	{"listen.max_header_bytes", CT_SIZE, OFF(listen.max_header_bytes),
	 "64KiB", 1024, 16 << 20, "bytes", NULL, NULL, 0,
	 "largest header block; larger gets 431"},
	{"listen.max_headers", CT_INT, OFF(listen.max_headers), "100", 1,
	 10000, NULL, NULL, NULL, 0, "most header fields; more gets 431"},
	{"listen.forwarded", CT_ENUM, OFF(listen.forwarded), "both", 0, 0,
	 NULL, forwarded_names, NULL, 0,
	 "client address headers added upstream"},
	{"listen.sandbox", CT_BOOL, OFF(listen.sandbox), "true", 0, 0, NULL,
	 NULL, NULL, 0,
	 "proxy worker threads run under a seccomp filter: no exec, fork, "
	 "ptrace, id or capability change, mount, module, BPF, or file "
	 "creation or change (docs/security.md)"},

	/* production */
	{"production.upstreams", CT_ADDR_LIST, OFF(production.upstreams), "",
	 0, 0, NULL, NULL, NULL, 0,
	 "replica addresses when umbra does not run production itself"},
	{"production.command", CT_ARGV, OFF(production.command), "", 0, 0,
	 NULL, NULL, NULL, 0,
	 "argv to run a replica; placeholders {port} {config_dir} "
	 "{data_dir} {replica}"},
	{"production.env", CT_MAP, OFF(production.env), "", 0, 0, NULL, NULL,
	 NULL, CF_ENVKEYS, "environment added to the command's"},
	{"production.vars", CT_MAP, OFF(production.vars), "", 0, 0, NULL,
	 NULL, NULL, 0,
	 "placeholders of your own (name: value), rendered like {port} in "
	 "config files and env values of every side and replica"},
	{"production.cwd", CT_PATH, OFF(production.cwd), "", 0, 0, NULL, NULL,
	 NULL, 0, "working directory of the command"},
	{"production.config_dir", CT_PATH, OFF(production.config_dir), "", 0,
	 0, NULL, NULL, NULL, 0,
	 "production's config files: snapshotted, copied for the shadow"},
	{"production.data_dir", CT_PATH, OFF(production.data_dir), "", 0, 0,
	 NULL, NULL, NULL, 0, "production's data, copied when shadow.copy_data"},
	{"production.port", CT_INT, OFF(production.port), "0", 0, 65535, NULL,
	 NULL, NULL, 0,
	 "port of replica 0 (replica i: port+i); 0 = pick free ports"},
	{"production.replicas", CT_INT, OFF(production.replicas), "1", 1, 64,
	 NULL, NULL, NULL, 0, "replicas umbra runs"},
	{"production.health.type", CT_ENUM, OFF(production.health.type), "tcp",
	 0, 0, NULL, health_names, NULL, 0,
	 "readiness check: TCP connect, HTTP GET path (2xx/3xx), or none"},
	{"production.health.path", CT_STRING, OFF(production.health.path), "/",
	 1, 0, NULL, NULL, NULL, 0, "path of the HTTP health check"},
	{"production.health.interval", CT_DURATION,
	 OFF(production.health.interval), "2s", 0.01, 3600, "s", NULL, NULL, 0,
	 "time between health checks"},
	{"production.health.timeout", CT_DURATION,
	 OFF(production.health.timeout), "1s", 0.001, 600, "s", NULL, NULL, 0,
	 "a health check slower than this fails"},
	{"production.health.eject_after", CT_INT,
	 OFF(production.health.eject_after), "3", 1, 1000, NULL, NULL, NULL, 0,
	 "consecutive proxy errors that take a replica out of rotation"},
	{"production.health.eject_for", CT_DURATION,
	 OFF(production.health.eject_for), "10s", 0.1, 3600, "s", NULL, NULL,
	 0, "how long an ejected replica stays out before it is retried"},
	{"production.start_timeout", CT_DURATION, OFF(production.start_timeout),
	 "30s", 0.1, 3600, "s", NULL, NULL, 0,
	 "a replica must pass its health check within this"},
	{"production.stop_signal", CT_SIGNAL, OFF(production.stop_signal),
	 "TERM", 1, 64, NULL, NULL, NULL, 0, "signal that asks it to stop"},
	{"production.stop_grace", CT_DURATION, OFF(production.stop_grace),
	 "10s", 0, 3600, "s", NULL, NULL, 0,
	 "time between the stop signal and SIGKILL"},
	{"production.restart.backoff", CT_DURATION,
	 OFF(production.restart.backoff), "1s", 0, 3600, "s", NULL, NULL, 0,
	 "first restart delay; doubles on each crash"},
	{"production.restart.backoff_max", CT_DURATION,
	 OFF(production.restart.backoff_max), "30s", 0, 86400, "s", NULL, NULL,
	 0, "longest restart delay"},
	{"production.restart.max", CT_INT, OFF(production.restart.max), "5", 0,
	 1000, NULL, NULL, NULL, 0,
	 "crashes within restart.window that count as a crash loop (give up)"},
	{"production.restart.window", CT_DURATION,
	 OFF(production.restart.window), "60s", 1, 86400, "s", NULL, NULL, 0,
	 "window over which crashes are counted"},
	{"production.cpu_limit", CT_REAL, OFF(production.cpu_limit), "0", 0,
	 1024, "cores", NULL, NULL, 0,
	 "CPU limit per replica (cgroup); 0 = none"},
	{"production.memory_limit", CT_SIZE, OFF(production.memory_limit), "0",
	 0, BIG, "bytes", NULL, NULL, 0,
	 "memory limit per replica (cgroup); 0 = none"},
	{"production.reload.command", CT_ARGV, OFF(production.reload.command),
	 "", 0, 0, NULL, NULL, NULL, 0,
	 "command that makes production re-read its config"},
	{"production.reload.signal", CT_SIGNAL, OFF(production.reload.signal),
	 "", 0, 64, NULL, NULL, NULL, 0,
	 "or: signal that makes it re-read its config (e.g. HUP)"},
	{"production.validate", CT_ARGV, OFF(production.validate), "", 0, 0,
	 NULL, NULL, NULL, 0,
	 "the service's own config check, run with {config_dir} set to the "
	 "directory checked (e.g. [nginx, -t, -c, \"{config_dir}/nginx.conf\"]) "
	 "on a proposal's candidate and a rollback's target before "
	 "production is switched to it; a non-zero exit stops the action "
	 "with its output"},
	{"production.cgroup_parent", CT_STRING, OFF(production.cgroup_parent),
	 "", 0, 0, NULL, NULL, NULL, 0,
	 "where umbra makes its cgroups: \"\" = below its own group in each "
	 "hierarchy, or a path from the hierarchy root such as /umbra"},
	{"production.user", CT_STRING, OFF(production.user), "", 0, 0, NULL,
	 NULL, NULL, 0,
	 "user (name or uid) production's replicas run as; \"\" = umbra's "
	 "own (needs umbra to run as root to differ; see docs/security.md)"},
	{"production.group", CT_STRING, OFF(production.group), "", 0, 0, NULL,
	 NULL, NULL, 0,
	 "group (name or gid) production runs as; \"\" = the user's primary "
	 "group"},
	{"production.capabilities", CT_STR_LIST,
	 OFF(production.capabilities), "", 0, 0, NULL, NULL, NULL, 0,
	 "capabilities production keeps (e.g. CAP_NET_BIND_SERVICE for port "
	 "80); every other is dropped from its bounding set"},
	{"production.attach.pid", CT_INT, OFF(production.attach.pid), "0", 0,
	 4194304, NULL, NULL, NULL, 0,
	 "attach to a running production umbra does not own: its pid"},
	{"production.attach.cgroup", CT_PATH, OFF(production.attach.cgroup),
	 "", 0, 0, NULL, NULL, NULL, 0, "or its cgroup directory"},
	{"production.attach.url", CT_URL, OFF(production.attach.url), "", 0, 0,
	 NULL, NULL, NULL, 0, "base URL of the attached production"},
	{"production.attach.command", CT_ARGV, OFF(production.attach.command),
	 "", 0, 0, NULL, NULL, NULL, 0,
	 "argv that starts a copy of the attached process (its shadow); "
	 "needed when it rewrote its title and no attach.unit is set"},
	{"production.attach.unit", CT_STRING, OFF(production.attach.unit), "", 0,
	 0, NULL, NULL, NULL, 0,
	 "systemd unit of the attached process: its ExecStart= is the "
	 "command (read through systemctl show)"},
	{"production.connect_timeout", CT_DURATION,
	 OFF(production.connect_timeout), "1s", 0.001, 600, "s", NULL, NULL, 0,
	 "connecting to a replica longer than this tries the next one once, "
	 "then answers 502"},
	{"production.response_timeout", CT_DURATION,
	 OFF(production.response_timeout), "60s", 0.001, 86400, "s", NULL,
	 NULL, 0, "a replica silent for longer answers 504"},
	{"production.pool_size", CT_INT, OFF(production.pool_size), "256", 0,
	 100000, NULL, NULL, NULL, 0,
	 "idle keep-alive connections kept per replica and worker"},
	{"production.pool_idle", CT_DURATION, OFF(production.pool_idle), "60s",
	 0, 86400, "s", NULL, NULL, 0,
	 "idle upstream connections older than this are closed"},

	/* shadow */
	{"shadow.upstreams", CT_ADDR_LIST, OFF(shadow.upstreams), "", 0, 0,
	 NULL, NULL, NULL, 0,
	 "shadow replica addresses when umbra does not run the shadow"},
	{"shadow.command", CT_ARGV, OFF(shadow.command), "", 0, 0, NULL, NULL,
	 NULL, 0, "argv of the shadow; default: production's"},
	{"shadow.env", CT_MAP, OFF(shadow.env), "", 0, 0, NULL, NULL, NULL,
	 CF_ENVKEYS, "environment added for the shadow (UMBRA_SIDE=shadow is "
		     "always set)"},
	{"shadow.config_dir", CT_PATH, OFF(shadow.config_dir), "", 0, 0, NULL,
	 NULL, NULL, 0,
	 "the shadow's config files; default: a copy of production's"},
	{"shadow.port", CT_INT, OFF(shadow.port), "0", 0, 65535, NULL, NULL,
	 NULL, 0, "port of shadow replica 0; 0 = pick free ports"},
	{"shadow.replicas", CT_INT, OFF(shadow.replicas), "1", 1, 64, NULL,
	 NULL, NULL, 0, "shadow replicas"},
	{"shadow.ratio", CT_RATIO, OFF(shadow.ratio), "0.1", 0, 1, "ratio",
	 NULL, NULL, 0,
	 "share of production's traffic mirrored and of its resources given"},
	{"shadow.memory_min", CT_SIZE, OFF(shadow.memory_min), "0", 0, BIG,
	 "bytes", NULL, NULL, 0,
	 "the shadow's memory limit is never set below this (a base "
	 "footprint does not shrink with traffic)"},
	{"shadow.work_dir", CT_PATH, OFF(shadow.work_dir), "umbra-shadow",
	 0, 0, NULL, NULL, NULL, 0,
	 "where the shadow's config copy, data copy and run state live"},
	{"shadow.copy_data", CT_BOOL, OFF(shadow.copy_data), "false", 0, 0,
	 NULL, NULL, NULL, 0, "copy production.data_dir for the shadow"},
	{"shadow.isolate_network", CT_BOOL, OFF(shadow.isolate_network),
	 "false", 0, 0, NULL, NULL, NULL, 0,
	 "run the shadow in its own network namespace"},
	{"shadow.netns_subnet", CT_STRING, OFF(shadow.netns_subnet),
	 "169.254.213.0/30", 0, 0, NULL, NULL, NULL, 0,
	 "IPv4 subnet of the veth pair to an isolated shadow (umbra: .1, "
	 "shadow: .2); distinct per service on one host"},
	{"shadow.allow_outbound", CT_STR_LIST, OFF(shadow.allow_outbound), "",
	 0, 0, NULL, NULL, NULL, 0,
	 "addresses (host:port or CIDR) an isolated shadow may reach"},
	{"shadow.user", CT_STRING, OFF(shadow.user), "", 0, 0, NULL, NULL,
	 NULL, 0,
	 "user (name or uid) the shadow and baseline run as; \"\" = "
	 "umbra-shadow (made by scripts/deps.sh, else nobody) when umbra "
	 "runs as root, umbra's own user otherwise"},
	{"shadow.group", CT_STRING, OFF(shadow.group), "", 0, 0, NULL, NULL,
	 NULL, 0,
	 "group (name or gid) of the shadow; \"\" = the user's primary group"},
	{"shadow.capabilities", CT_STR_LIST, OFF(shadow.capabilities), "", 0,
	 0, NULL, NULL, NULL, 0,
	 "capabilities the shadow keeps (ambient for a non-root user); none "
	 "by default"},
	{"shadow.connect_timeout", CT_DURATION, OFF(shadow.connect_timeout),
	 "1s", 0.001, 600, "s", NULL, NULL, 0, "connecting to the shadow"},
	{"shadow.response_timeout", CT_DURATION, OFF(shadow.response_timeout),
	 "10s", 0.001, 3600, "s", NULL, NULL, 0,
	 "a shadow silent for longer is counted as a timeout"},
	{"shadow.response_deadline", CT_DURATION,
	 OFF(shadow.response_deadline), "30s", 0.001, 86400, "s", NULL, NULL,
	 0,
	 "a copy's whole response must be in within this of sending it; "
	 "past it the shadow connection is closed (counted)"},
	{"shadow.pool_size", CT_INT, OFF(shadow.pool_size), "64", 1, 100000,
	 NULL, NULL, NULL, 0,
	 "connections to the shadow per worker (idle and busy)"},
	{"shadow.pipeline", CT_INT, OFF(shadow.pipeline), "8", 1, 64,
	 "requests", NULL, NULL, 0,
	 "copies pipelined on one shadow connection (HTTP/1.1), written "
	 "together once per event-loop pass; 1 = one copy per connection "
	 "at a time"},
	{"shadow.baseline.enabled", CT_BOOL, OFF(shadow.baseline.enabled),
	 "false", 0, 0, NULL, NULL, NULL, 0,
	 "run a second shadow with production's exact config, to tell "
	 "noise from change"},
	{"shadow.baseline.upstreams", CT_ADDR_LIST,
	 OFF(shadow.baseline.upstreams), "", 0, 0, NULL, NULL, NULL, 0,
	 "baseline addresses when umbra does not run it"},
	{"shadow.baseline.port", CT_INT, OFF(shadow.baseline.port), "0", 0,
	 65535, NULL, NULL, NULL, 0,
	 "port of the baseline umbra runs (production's command and config); "
	 "0 = pick a free port"},

	/* mirror */
	{"mirror.enabled", CT_BOOL, OFF(mirror.enabled), "true", 0, 0, NULL,
	 NULL, NULL, 0, "copy requests to the shadow"},
	{"mirror.methods", CT_METHOD_LIST, OFF(mirror.methods),
	 "GET,HEAD,OPTIONS", 0, 0, NULL, NULL, NULL, 0,
	 "methods mirrored; only safe ones unless listed"},
	{"mirror.sample.by", CT_ENUM, OFF(mirror.sample.by), "random", 0, 0,
	 NULL, sample_names, NULL, 0,
	 "sampling: random, or consistent by a header, cookie or query "
	 "parameter"},
	{"mirror.sample.key", CT_STRING, OFF(mirror.sample.key), "", 0, 0,
	 NULL, NULL, NULL, 0, "name of that header, cookie or parameter"},
	{"mirror.max_body", CT_SIZE, OFF(mirror.max_body), "8MiB", 0, 1 << 30,
	 "bytes", NULL, NULL, 0,
	 "larger request bodies are not mirrored, and a shadow response "
	 "body past it closes the shadow connection (both counted)"},
	{"mirror.amplification", CT_INT, OFF(mirror.amplification), "1", 1, 64,
	 NULL, NULL, NULL, 0, "copies sent per sampled request"},
	{"mirror.queue_requests", CT_INT, OFF(mirror.queue_requests), "4096",
	 1, 1000000, NULL, NULL, NULL, 0,
	 "mirror queue bound per worker, in requests; over it copies drop"},
	{"mirror.queue_bytes", CT_SIZE, OFF(mirror.queue_bytes), "64MiB",
	 64 * 1024, BIG, "bytes", NULL, NULL, 0,
	 "mirror queue bound per worker, in bytes; over it copies drop"},
	{"mirror.rate", CT_REAL, OFF(mirror.rate), "0", 0, 1e7, "req/s", NULL,
	 NULL, 0, "token bucket rate toward the shadow; 0 = unlimited"},
	{"mirror.burst", CT_REAL, OFF(mirror.burst), "0", 0, 1e7, "requests",
	 NULL, NULL, 0, "token bucket depth; 0 = one second of rate"},
	{"mirror.mark_header", CT_HEADER, OFF(mirror.mark_header),
	 "X-Umbra-Shadow: 1", 0, 0, NULL, NULL, NULL, 0,
	 "header added to mirrored requests; \"\" for none"},
	{"mirror.compare.ignore_headers", CT_STR_LIST,
	 OFF(mirror.compare.ignore_headers),
	 "Date,Server,Age,Expires,Last-Modified,ETag,Set-Cookie,X-Request-Id,"
	 "X-Correlation-Id,X-Trace-Id,Traceparent,Via",
	 0, 0, NULL, NULL, NULL, 0, "response headers left out of comparison"},
	{"mirror.compare.identity_headers", CT_STR_LIST,
	 OFF(mirror.compare.identity_headers), "", 0, 0, NULL, NULL, NULL, 0,
	 "headers that name the instance (X-Side, a pod name): left out of the "
	 "pair's comparison; others like them are learned in the warm-up "
	 "(docs/proxy.md)"},
	{"mirror.compare.ignore_json_paths", CT_STR_LIST,
	 OFF(mirror.compare.ignore_json_paths), "", 0, 0, NULL, NULL, NULL, 0,
	 "JSON paths left out of body comparison ($.meta.time)"},
	{"mirror.compare.unordered_arrays", CT_STR_LIST,
	 OFF(mirror.compare.unordered_arrays), "", 0, 0, NULL, NULL, NULL, 0,
	 "JSON arrays compared as multisets ($.items)"},
	{"mirror.compare.max_body", CT_SIZE, OFF(mirror.compare.max_body),
	 "1MiB", 0, 1 << 30, "bytes", NULL, NULL, 0,
	 "larger bodies are compared by digest only"},
	{"mirror.max_endpoints", CT_INT, OFF(mirror.max_endpoints), "500", 1,
	 100000, NULL, NULL, NULL, 0,
	 "distinct endpoint templates tracked; the rest are grouped as other"},

	/* mask */
	{"mask.enabled", CT_BOOL, OFF(mask.enabled), "true", 0, 0, NULL, NULL,
	 NULL, 0, "mask mirrored and captured traffic"},
	{"mask.key_file", CT_PATH, OFF(mask.key_file), "umbra-data/mask.key",
	 0, 0, NULL, NULL, NULL, CF_SECRET,
	 "HMAC key for pseudonyms; made (0600) at first start if missing; "
	 "rotation: docs/masking.md."},
	{"mask.disable", CT_ENUM_LIST, OFF(mask.disable), "", 0, 0, NULL,
	 detector_names, NULL, 0, "built-in detectors switched off, by name"},
	{"mask.sensitive_keys", CT_STR_LIST, OFF(mask.sensitive_keys),
	 "password,passwd,secret,token,api_key,apikey,ssn,card", 0, 0, NULL,
	 NULL, NULL, 0,
	 "JSON, form, query and multipart keys (and header names) whose "
	 "values are always masked (substring; case, '-', '_' and '.' "
	 "ignored)"},
	/* 8 MiB: mirror.max_body's default, so that a body the proxy
	 * mirrors is one masking reads; list and export endpoints return
	 * several MiB of JSON, which 1 MiB refused. Masking holds the
	 * body, its masked copy and scratch no larger than the largest
	 * value, and frees what one large body grew (MASK_SCRATCH_KEEP). */
	{"mask.max_scan", CT_SIZE, OFF(mask.max_scan), "8MiB", 1024, 1 << 30,
	 "bytes", NULL, NULL, 0,
	 "larger bodies (before or after decoding) are not mirrored or "
	 "captured (masking fails closed; the refusal names the request); "
	 "8MiB matches mirror.max_body"},
	{"mask.redact_marker", CT_STRING, OFF(mask.redact_marker),
	 "[REDACTED]", 0, 0, NULL, NULL, NULL, 0, "text that replaces a value"},
	{"mask.memo", CT_INT, OFF(mask.memo), "1024", 0, 65536, NULL, NULL,
	 NULL, 0,
	 "values (up to 96 bytes) whose masked form each worker remembers, "
	 "256 bytes each, rounded down to a power of two; 0: none "
	 "(docs/masking.md)"},
#define DETECTOR_ACTION(name, act)                                         \
	{"mask.actions." #name, CT_ENUM,                                   \
	 OFF(mask.actions[CONFIG_MASK_DET_##name]), act, 0, 0, NULL,       \
	 action_names, NULL, 0,                                            \
	 "what the " #name " detector does to what it finds"},
	CONFIG_MASK_DETECTORS(DETECTOR_ACTION)
#undef DETECTOR_ACTION
	{"mask.rules", CT_LIST, OFF(mask.rules), "", 0, 0, NULL, NULL,
	 &mask_rule_table, 0, "custom rules, applied before the built-ins"},

	/* analysis */
	{"analysis.interval", CT_DURATION, OFF(analysis.interval), "1s", 0.1,
	 1800, "s", NULL, NULL, 0,
	 "the tick: collect, analyse, decide, act (live loop; `analyze` "
	 "uses the files' own spacing); analysis.velocity_window (at most "
	 "1h) must span two ticks, so a tick over 2.5s needs it raised"},
	{"analysis.warmup", CT_DURATION, OFF(analysis.warmup), "5m", 0,
	 86400, "s", NULL, NULL, 0,
	 "a metric is judged only after this much of its data: until then it "
	 "teaches the noise envelope, the baselines and the forecaster (the "
	 "default is the envelope's 300 ticks at 1 s; docs/analysis.md)"},
	{"analysis.window", CT_DURATION, OFF(analysis.window), "10m", 10,
	 86400, "s", NULL, NULL, 0, "points kept in memory per series"},
	{"analysis.smoothing", CT_REAL, OFF(analysis.smoothing), "0.3", 0.01,
	 1, NULL, NULL, NULL, 0,
	 "EWMA weight of the newest deviation (1 = no smoothing)"},
	{"analysis.velocity_window", CT_DURATION, OFF(analysis.velocity_window),
	 "5s", 2, 3600, "s", NULL, NULL, 0,
	 "window of the Theil-Sen slope that gives velocity (at most 32 "
	 "ticks are used)"},
	{"analysis.velocity_threshold", CT_REAL,
	 OFF(analysis.velocity_threshold), "0.05", 0, 100, "1/s", NULL, NULL,
	 0, "velocity that, with a deviation over threshold, is a finding"},
	{"analysis.envelope.enabled", CT_BOOL, OFF(analysis.envelope.enabled),
	 "true", 0, 0, NULL, NULL, NULL, 0,
	 "learn the A/A noise envelope while both sides run the same config"},
	{"analysis.envelope.quantile", CT_REAL, OFF(analysis.envelope.quantile),
	 "0.99", 0.5, 0.9999, NULL, NULL, NULL, 0,
	 "quantile of A/A deviation taken as the noise level"},
	{"analysis.envelope.half_life", CT_DURATION,
	 OFF(analysis.envelope.half_life), "1h", 60, 30 * 86400, "s", NULL,
	 NULL, 0, "how fast the envelope forgets"},
	{"analysis.horizon", CT_DURATION, OFF(analysis.horizon), "5m", 1,
	 86400, "s", NULL, NULL, 0, "how far ahead deviations are forecast"},
	{"analysis.forecaster", CT_ENUM, OFF(analysis.forecaster), "holt", 0,
	 0, NULL, forecaster_names, NULL, 0, "forecasting model"},
	{"analysis.verdict.window", CT_DURATION, OFF(analysis.verdict.window),
	 "5m", 10, 86400, "s", NULL, NULL, 0, "window the judge compares"},
	{"analysis.verdict.pass", CT_PERCENT, OFF(analysis.verdict.pass), "80",
	 0, 100, "%", NULL, NULL, 0, "score at or above which the shadow passes"},
	{"analysis.verdict.marginal", CT_PERCENT,
	 OFF(analysis.verdict.marginal), "60", 0, 100, "%", NULL, NULL, 0,
	 "score at or above which it is marginal (below: fail)"},
	{"analysis.verdict.alpha", CT_REAL, OFF(analysis.verdict.alpha), "0.05",
	 0.0001, 0.5, NULL, NULL, NULL, 0,
	 "significance level of the Mann-Whitney test"},
	CONFIG_METRICS(METRIC_FIELDS)

	/* events */
	{"events.after_change", CT_DURATION, OFF(events.after_change), "10m",
	 0, 86400, "s", NULL, NULL, 0,
	 "a deviation this soon after a deploy or config change is "
	 "attributed to it"},
	{"events.scheduled", CT_LIST, OFF(events.scheduled), "", 0, 0, NULL,
	 NULL, &sched_table, 0, "scheduled tasks (cron jobs) that explain load"},

	/* drift */
	{"drift.interval", CT_DURATION, OFF(drift.interval), "10s", 1, 86400,
	 "s", NULL, NULL, 0, "how often fingerprints are compared"},
	{"drift.watch", CT_BOOL, OFF(drift.watch), "true", 0, 0, NULL, NULL,
	 NULL, 0, "also compare at once on inotify events in config dirs"},
	{"drift.env_ignore", CT_STR_LIST, OFF(drift.env_ignore),
	 "UMBRA_SIDE,PORT,HOSTNAME,PWD,OLDPWD,SHLVL,_,INVOCATION_ID,HOME,USER,"
	 "LOGNAME,"
	 "JOURNAL_STREAM",
	 0, 0, NULL, NULL, NULL, 0,
	 "environment variables expected to differ between the sides"},
	{"drift.ignore", CT_STR_LIST, OFF(drift.ignore),
	 "env:UMBRA_*,env:SSH_*,env:SUDO_*,env:XDG_*,env:TERM,env:TERM_*,"
	 "env:COLORTERM,env:LS_COLORS,env:MAIL,env:DISPLAY,env:WINDOWID,"
	 "env:MOTD_SHOWN,env:LESSOPEN,env:LESSCLOSE",
	 0, 0, NULL, NULL, NULL, 0,
	 "fingerprint keys that never count as drift; '*' matches any run of "
	 "characters, the rest is literal: argv positions (argv[00]), env names "
	 "(env:NAME), config files (config:REL), or any key umbra drift "
	 "shows; the defaults are what umbra or a login shell sets"},

	/* mitigation */
	{"mitigation.dry_run", CT_BOOL, OFF(mitigation.dry_run), "false", 0, 0,
	 NULL, NULL, NULL, 0, "log actions as recommendations, do nothing"},
	{"mitigation.soak", CT_DURATION, OFF(mitigation.soak), "10m", 0,
	 7 * 86400, "s", NULL, NULL, 0,
	 "clean running time after which a snapshot is known-good"},
	{"mitigation.verify", CT_DURATION, OFF(mitigation.verify), "2m", 1,
	 86400, "s", NULL, NULL, 0,
	 "after a rollback the deviation must recover within this"},
	{"mitigation.cooldown", CT_DURATION, OFF(mitigation.cooldown), "10m",
	 0, 7 * 86400, "s", NULL, NULL, 0, "time between two actions "
					   "of one kind for one finding"},
	{"mitigation.max_actions_per_hour", CT_INT,
	 OFF(mitigation.max_actions_per_hour), "6", 0, 1000, NULL, NULL, NULL,
	 0, "automatic actions allowed per hour for one finding, all "
	    "kinds"},
	{"mitigation.policy", CT_LIST, OFF(mitigation.policy), "", 0, 0, NULL,
	 NULL, &policy_table, 0,
	 "rules; empty = the default policy (critical deviation with high "
	 "velocity: rollback, scale, alert)"},
	{"mitigation.rollback.mode", CT_ENUM, OFF(mitigation.rollback.mode),
	 "auto", 0, 0, NULL, rollback_names, NULL, 0,
	 "after restoring files: reload, rolling restart, or auto (reload "
	 "when configured)"},
	{"mitigation.scale.enabled", CT_BOOL, OFF(mitigation.scale.enabled),
	 "true", 0, 0, NULL, NULL, NULL, 0, "scale production replicas"},
	{"mitigation.scale.min", CT_INT, OFF(mitigation.scale.min), "1", 1, 64,
	 NULL, NULL, NULL, 0, "fewest replicas"},
	{"mitigation.scale.max", CT_INT, OFF(mitigation.scale.max), "8", 1, 64,
	 NULL, NULL, NULL, 0, "most replicas"},
	{"mitigation.scale.lead", CT_DURATION, OFF(mitigation.scale.lead),
	 "5m", 0, 86400, "s", NULL, NULL, 0,
	 "add replicas this long before the forecast crosses capacity"},
	{"mitigation.scale.cooldown", CT_DURATION,
	 OFF(mitigation.scale.cooldown), "10m", 0, 86400, "s", NULL, NULL, 0,
	 "time after a scale-up before replicas are removed"},
	{"mitigation.scale.capacity", CT_REAL, OFF(mitigation.scale.capacity),
	 "0", 0, 1e9, "req/s", NULL, NULL, 0,
	 "requests/s one replica handles; 0 = learned by stress tests"},
	{"mitigation.scale.target_utilization", CT_RATIO,
	 OFF(mitigation.scale.target_utilization), "0.7", 0.05, 1, "ratio",
	 NULL, NULL, 0, "share of capacity to plan for"},
	{"mitigation.scale.hook", CT_ARGV, OFF(mitigation.scale.hook), "", 0, 0,
	 NULL, hook_placeholders, NULL, 0,
	 "command for external scalers; {replicas} is the desired count, "
	 "{service} the service (also in $UMBRA_REPLICAS, $UMBRA_SERVICE)"},
	{"mitigation.stress.enabled", CT_BOOL, OFF(mitigation.stress.enabled),
	 "false", 0, 0, NULL, NULL, NULL, 0, "run scheduled stress tests"},
	{"mitigation.stress.schedule", CT_CRON, OFF(mitigation.stress.schedule),
	 "", 0, 0, NULL, NULL, NULL, 0, "when they run (cron, UTC)"},
	{"mitigation.stress.max_amplification", CT_INT,
	 OFF(mitigation.stress.max_amplification), "16", 1, 64, NULL, NULL,
	 NULL, 0, "highest mirror amplification tried"},
	{"mitigation.stress.step", CT_DURATION, OFF(mitigation.stress.step),
	 "30s", 1, 3600, "s", NULL, NULL, 0, "time spent at each step"},
	{"mitigation.stress.p99_target", CT_DURATION,
	 OFF(mitigation.stress.p99_target), "500ms", 0.001, 600, "s", NULL,
	 NULL, 0, "shadow p99 above this marks the knee"},
	{"mitigation.stress.error_target", CT_RATIO,
	 OFF(mitigation.stress.error_target), "0.01", 0, 1, "ratio", NULL, NULL,
	 0, "shadow error rate above this marks the knee"},
	{"mitigation.stress.min_cpu", CT_RATIO, OFF(mitigation.stress.min_cpu),
	 "0.1", 0.01, 1, "ratio", NULL, NULL, 0,
	 "smallest share of its CPU quota the shadow is squeezed to"},
	{"mitigation.stress.min_memory", CT_RATIO,
	 OFF(mitigation.stress.min_memory), "0.25", 0.01, 1, "ratio", NULL,
	 NULL, 0,
	 "smallest share of its memory limit the shadow is squeezed to"},
	{"mitigation.stress.levers", CT_ENUM_LIST, OFF(mitigation.stress.levers),
	 "amplify,cpu", 0, 0, NULL, stress_levers, NULL, 0,
	 "what a stress test turns, in order: mirror amplification x1, x2, "
	 "x4 ...; the shadow's CPU quota or memory limit 1, 1/2, 1/4 ..."},
	{"mitigation.alert.alertmanager", CT_URL,
	 OFF(mitigation.alert.alertmanager), "", 0, 0, NULL, NULL, NULL, 0,
	 "Alertmanager base URL (API v2)"},
	{"mitigation.alert.webhook", CT_URL, OFF(mitigation.alert.webhook), "",
	 0, 0, NULL, NULL, NULL, 0, "generic JSON webhook URL"},
	{"mitigation.alert.repeat", CT_DURATION, OFF(mitigation.alert.repeat),
	 "5m", 1, 86400, "s", NULL, NULL, 0,
	 "a firing alert is re-sent this often"},
	{"mitigation.alert.labels", CT_MAP, OFF(mitigation.alert.labels), "",
	 0, 0, NULL, NULL, NULL, 0,
	 "labels added to every alert (e.g. team: payments)"},
	{"mitigation.snapshots.dir", CT_PATH, OFF(mitigation.snapshots.dir),
	 "", 0, 0, NULL, NULL, NULL, 0,
	 "where known-good snapshots of production's config live; \"\" = "
	 "snapshots/ beside store.path"},
	{"mitigation.snapshots.keep", CT_INT, OFF(mitigation.snapshots.keep),
	 "100", 2, 100000, NULL, NULL, NULL, 0,
	 "snapshots kept; older ones that are not known-good go first"},
	{"mitigation.propose.roots", CT_STR_LIST,
	 OFF(mitigation.propose.roots), "", 0, 0, NULL, NULL, NULL, 0,
	 "absolute directories a proposal's candidate config_dir must lie "
	 "in; none = proposals are refused"},

	/* metrics */
	{"metrics.source", CT_ENUM, OFF(metrics.source), "local", 0, 0, NULL,
	 msource_names, NULL, 0,
	 "local: /proc, cgroups and the proxy's request records; "
	 "prometheus: PromQL queries, for services umbra does not run"},
	{"metrics.proc_root", CT_PATH, OFF(metrics.proc_root), "/proc", 0, 0,
	 NULL, NULL, NULL, 0,
	 "where procfs is mounted (/host/proc when umbra runs in a "
	 "container)"},
	{"metrics.prometheus.url", CT_URL, OFF(metrics.prometheus.url), "", 0,
	 0, NULL, NULL, NULL, 0,
	 "Prometheus base URL (HTTP API v1); needed when source is "
	 "prometheus"},
	{"metrics.prometheus.timeout", CT_DURATION,
	 OFF(metrics.prometheus.timeout), "5s", 0.01, 600, "s", NULL, NULL, 0,
	 "each query fails after this; an unreachable server costs one "
	 "timeout per side and tick"},
	{"metrics.prometheus.range", CT_DURATION, OFF(metrics.prometheus.range),
	 "1m", 1, 86400, "s", NULL, NULL, 0,
	 "{range} in the queries: the rate() window (at least 2 scrape "
	 "intervals)"},
	CONFIG_PROM_QUERIES(PROM_QUERY_FIELD)

	/* capture */
	{"capture.tap", CT_BOOL, OFF(capture.tap), "true", 0, 0, NULL, NULL,
	 NULL, 0,
	 "the proxy offers its exchanges to one local capture client "
	 "(umbra capture --from-proxy); costs nothing while none is attached"},
	{"capture.tap_socket", CT_PATH, OFF(capture.tap_socket),
	 "umbra-data/capture.sock", 1, 0, NULL, NULL, NULL, 0,
	 "Unix socket of the tap, mode 0600 (at most 107 bytes)"},
	{"capture.tap_queue", CT_INT, OFF(capture.tap_queue), "4096", 16,
	 1000000, NULL, NULL, NULL, 0,
	 "exchanges queued per worker for the capture client; over it they "
	 "are dropped and counted, never waited for"},
	{"capture.tap_bytes", CT_SIZE, OFF(capture.tap_bytes), "64MiB",
	 1 << 20, 16.0 * (1 << 30), "bytes", NULL, NULL, 0,
	 "bytes per worker held for the capture client (queued and being "
	 "assembled); over it exchanges are dropped and counted"},
	{"capture.max_body", CT_SIZE, OFF(capture.max_body), "1MiB", 0,
	 64 << 20, "bytes", NULL, NULL, 0,
	 "body bytes kept per request and per response; longer bodies are "
	 "cut and flagged"},
	{"capture.compress", CT_BOOL, OFF(capture.compress), "false", 0, 0,
	 NULL, NULL, NULL, 0, "zstd-compress capture files"},
	{"capture.max_connections", CT_INT, OFF(capture.max_connections),
	 "65536", 1, 10000000, NULL, NULL, NULL, 0,
	 "TCP connections followed at once (pcap, live); the least recently "
	 "active is finished first and what it loses is counted"},
	{"capture.reorder_bytes", CT_SIZE, OFF(capture.reorder_bytes), "1MiB",
	 4096, 1 << 30, "bytes", NULL, NULL, 0,
	 "out-of-order bytes held per connection direction before a hole is "
	 "declared a gap"},
	{"capture.memory_limit", CT_SIZE, OFF(capture.memory_limit), "512MiB",
	 16 << 20, 1024.0 * (1 << 30), "bytes", NULL, NULL, 0,
	 "memory reassembly may hold; beyond it holes become gaps and bodies "
	 "are cut (all counted)"},
	{"capture.flow_timeout", CT_DURATION, OFF(capture.flow_timeout),
	 "2m", 1, 86400, "s", NULL, NULL, 0,
	 "a connection silent this long (capture time) is finished"},

	/* store */
	{"store.path", CT_PATH, OFF(store.path), "umbra-data/umbra.db", 0, 0,
	 NULL, NULL, NULL, 0, "SQLite database (WAL mode)"},
	{"store.flush_interval", CT_DURATION, OFF(store.flush_interval), "1s",
	 0.01, 60, "s", NULL, NULL, 0,
	 "points are written at least this often; a crash loses at most this"},
	{"store.raw_retention", CT_DURATION, OFF(store.raw_retention), "24h",
	 60, 365 * 86400, "s", NULL, NULL, 0,
	 "raw points kept this long"},
	{"store.rollup_retention", CT_DURATION, OFF(store.rollup_retention),
	 "30d", 60, 10 * 365 * 86400.0, "s", NULL, NULL, 0,
	 "1-minute rollups kept this long"},
	{"store.memory_limit", CT_SIZE, OFF(store.memory_limit), "64MiB",
	 1 << 20, BIG, "bytes", NULL, NULL, 0,
	 "points held in memory while the disk fails; beyond, dropped and "
	 "counted"},

	/* api */
	{"api.listen", CT_ADDR, OFF(api.listen), "127.0.0.1:9900", 0, 0, NULL,
	 NULL, NULL, 0, "admin API, dashboard and /metrics; port 0 = off"},
	{"api.token_file", CT_PATH, OFF(api.token_file), "umbra-data/api.token",
	 0, 0, NULL, NULL, NULL, CF_SECRET,
	 "bearer token for the API; made (0600) at first start if missing"},
	{"api.allow_remote", CT_BOOL, OFF(api.allow_remote), "false", 0, 0,
	 NULL, NULL, NULL, 0, "allow api.listen on a non-loopback address"},
	{"api.dashboard", CT_BOOL, OFF(api.dashboard), "true", 0, 0, NULL, NULL,
	 NULL, 0, "serve the HTML dashboard at /"},
};

const config_table_t config_root_table = {
	"config", root_fields, sizeof(root_fields) / sizeof(*root_fields),
	sizeof(config_t)};

const config_section_t *config__section_of(const char *path)
{
	size_t n = strcspn(path, ".");
	for (size_t i = 0; i < config_nsections; i++)
		if (strlen(config_sections[i].name) == n &&
		    strncmp(config_sections[i].name, path, n) == 0)
			return &config_sections[i];
	return NULL;
}

const char *config_metric_name(config_metric_t m)
{
	static const char *const names[] = {
#define CONFIG__METRIC_NAME(name, t, c, d, g) #name,
		CONFIG_METRICS(CONFIG__METRIC_NAME)
#undef CONFIG__METRIC_NAME
	};
	return (unsigned)m < CONFIG_METRIC__COUNT ? names[m] : "?";
}

const char *config_prom_query_name(config_prom_query_t q)
{
	static const char *const names[] = {
#define CONFIG__PQ_NAME(name, def) #name,
		CONFIG_PROM_QUERIES(CONFIG__PQ_NAME)
#undef CONFIG__PQ_NAME
	};
	return (unsigned)q < CONFIG_PQ__COUNT ? names[q] : "?";
}
