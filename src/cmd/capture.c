/*
 * capture.c: `umbra capture`: record traffic into a capture file, convert
 * between capture files and GoReplay's, or describe a file.
 *
 *   --from-proxy        the running proxy's tap (capture.tap_socket)
 *   --pcap FILE         a pcap/pcapng file (tcpdump -w), reassembled
 *   --interface IF      live, with libpcap (needs CAP_NET_RAW)
 *   --gor FILE          a GoReplay file
 *   --file FILE         an umbra capture (to filter, compress, export)
 *   --stats FILE        describe a capture file
 *
 * Output: -w FILE, as an umbra capture (--format umbra, the default) or
 * GoReplay payloads (--format gor). Every record passes the writer's mask
 * hook first (capture.h). At the end a summary goes to stderr: what was
 * written and, by reason, every request seen but not written.
 */
#include "cmd/cmd.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/units.h"
#include "base/xmalloc.h"
#include "capture/capture.h"
#include "capture/gor.h"
#include "capture/reasm.h"
#include "capture/stats.h"
#include "proxy/proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define TAP_POLL_MS 200   /* wake to check stop and duration */
#define STATS_TOP 20      /* endpoints listed by --stats (text) */

static const cmd_opt_t opts[] = {
	{"from-proxy", 0, NULL, "record the running proxy's exchanges (tap)"},
	{"socket", 0, "PATH", "the tap's socket (default: capture.tap_socket)"},
	{"pcap", 0, "FILE", "import a pcap/pcapng file (tcpdump -w)"},
	{"interface", 'i', "IF", "capture live on an interface (libpcap)"},
	{"port", 0, "N", "the HTTP server's port (pcap, live)"},
	{"bpf", 0, "EXPR", "extra BPF filter, ANDed with the port (pcap, live)"},
	{"gor", 0, "FILE", "import a GoReplay .gor file"},
	{"file", 0, "FILE", "read an umbra capture (filter, compress, export)"},
	{"stats", 0, "FILE", "describe a capture file"},
	{"write", 'w', "FILE", "write the capture here"},
	{"format", 0, "FMT",
	 "output: umbra or gor; with --stats: text or json"},
	CMD_OPT_OUTPUT,
	{"filter", 0, "KEY=VALUE",
	 "keep matching records (method, path, host, status, endpoint); "
	 "repeatable",
	 true},
	{"compress", 'z', NULL, "zstd-compress the capture (capture.compress)"},
	{"force", 0, NULL, "replace an existing output file"},
	{"duration", 'd', "DURATION", "stop after this long (proxy, live)"},
	{"count", 0, "N", "stop after N exchanges"},
	{"max-body", 0, "SIZE", "body bytes kept per message (capture.max_body)"},
	{"config", 'c', "FILE", "settings (capture.*, service, mask)"},
	{NULL},
};

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* SIGINT/SIGTERM end a capture cleanly (interrupting blocking calls). */
static void catch_signals(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

typedef struct ctx {
	cmd_args_t *a;
	config_t *cfg;
	cap_filter_t *filter;
	const char *out;
	bool gor_out;
	cap_writer_t *w;
	cap_masker_t *masker; /* NULL: mask.enabled is false */
	uint64_t count;
	int64_t duration;
	uint64_t max_body;
} ctx_t;

/* --------------------------------------------------------------- output */

int cmd_tap_masker(proxy_t *px, const config_t *cfg, cap_masker_t **out,
		   buf_t *err)
{
	*out = NULL;
	if (!proxy_tap_socket(px) || !cfg->mask.enabled)
		return 0;
	*out = cap_masker_new(&cfg->mask, err);
	if (!*out)
		return ERR_CONFIG;
	proxy_tap_set_masker(px, *out);
	return 0;
}

/* Called by each source once it knows it can run (the tap answered, the
 * input opened): only then is anything created, the masking key (which
 * mask_key_load makes when it is missing, by default in ./umbra-data/)
 * and the output. Every record is masked before it is written (records
 * from the proxy's tap already are); off only when the config says so. */
static int open_output(ctx_t *x, const char *source, const char *service)
{
	struct stat sb;
	if (strcmp(x->out, "-") != 0 && !cmd_flag(x->a, "force") &&
	    lstat(x->out, &sb) == 0)
		return cmd_fail(x->a->cmd,
				"%s exists (use --force to replace it)",
				x->out);
	if (x->cfg->mask.enabled && !x->masker) {
		buf_t merr = BUF_INIT;
		x->masker = cap_masker_new(&x->cfg->mask, &merr);
		if (!x->masker) {
			int ex = cmd_fail(x->a->cmd, "masking: %s",
					  merr.data ? merr.data
						    : "cannot start");
			buf_free(&merr);
			return ex;
		}
		buf_free(&merr);
	} else if (!x->cfg->mask.enabled) {
		log_warn("capture", "mask.enabled is false: records are "
				    "written unmasked (the file header says "
				    "masking=none)");
	}
	cap_writer_opts_t o = {
		.zstd = cmd_flag(x->a, "compress") || x->cfg->capture.compress,
		.masker = x->masker ? x->masker : &cap_mask_passthrough,
		.source = source,
		.service = service,
		.gor = x->gor_out,
		.filter = x->filter,
	};
	int rc;
	if (strcmp(x->out, "-") == 0) {
		if (!x->gor_out && isatty(1))
			return cmd_fail(x->a->cmd,
					"not writing a binary capture to a "
					"terminal (give -w FILE)");
		x->w = cap_writer_fdopen(dup(1), "-", &o);
		rc = cap_writer_flush(x->w);
	} else {
		rc = cap_writer_open(x->out, cmd_flag(x->a, "force"), &o, &x->w);
	}
	if (rc == -EEXIST)
		return cmd_fail(x->a->cmd,
				"%s exists (use --force to replace it)",
				x->out);
	if (rc)
		return cmd_fail(x->a->cmd, "cannot write %s: %s", x->out,
				err_str(rc));
	return 0;
}

static void print_losses(const uint64_t *lost, const char *indent)
{
	uint64_t total = 0;
	for (int i = 0; i < CAP_LOSS__COUNT; i++)
		if (i != CAP_LOSS_RESPONSE_LOST)
			total += lost[i];
	fprintf(stderr, "%srequests lost: %llu", indent,
		(unsigned long long)total);
	const char *sep = " (";
	for (int i = 0; i < CAP_LOSS__COUNT; i++)
		if (lost[i] && i != CAP_LOSS_RESPONSE_LOST) {
			fprintf(stderr, "%s%s %llu", sep, cap_loss_name(i),
				(unsigned long long)lost[i]);
			sep = ", ";
		}
	fprintf(stderr, "%s\n", total ? ")" : "");
	if (lost[CAP_LOSS_RESPONSE_LOST])
		fprintf(stderr,
			"%srequests written without their (full) response: "
			"%llu\n",
			indent,
			(unsigned long long)lost[CAP_LOSS_RESPONSE_LOST]);
}

/* Closes the output and says what became of every request: seen =
 * written + filtered out + lost by reason. The writer's numbers are the
 * truth (a record the source emitted may still be refused by masking);
 * src_seen is what the source itself counted (UINT64_MAX: it does not
 * count, as the tap), and a difference is shown rather than hidden. */
static int close_output(ctx_t *x, int64_t t0, uint64_t src_seen)
{
	/* pending losses (masking's refusals) go into the file and the
	 * writer's sums first */
	int frc = cap_writer_flush(x->w);
	const cap_writer_stats_t ws = *cap_writer_stats(x->w);
	int rc = cap_writer_close(x->w);
	if (!rc)
		rc = frc;
	x->w = NULL;
	double secs = (double)(clock_mono_ns() - t0) / 1e9;
	char sz[32];
	fprintf(stderr, "umbra capture: %llu exchanges written to %s (%s, "
			"%.1f s)\n",
		(unsigned long long)ws.records, x->out,
		cap_fmt_bytes(ws.bytes, sz), secs);
	uint64_t lost = 0;
	for (int i = 0; i < CAP_LOSS__COUNT; i++)
		if (i != CAP_LOSS_RESPONSE_LOST)
			lost += ws.loss[i];
	uint64_t seen = ws.records + ws.filtered + lost;
	fprintf(stderr, "  requests seen: %llu = written %llu + filtered out "
			"%llu + lost %llu\n",
		(unsigned long long)seen, (unsigned long long)ws.records,
		(unsigned long long)ws.filtered, (unsigned long long)lost);
	print_losses(ws.loss, "  ");
	cap_masker_report(x->masker, stderr, "  ");
	if (src_seen != UINT64_MAX && src_seen > seen)
		fprintf(stderr, "  the source counted %llu requests, %llu "
				"more than accounted for above (stopped by "
				"--count or a write error)\n",
			(unsigned long long)src_seen,
			(unsigned long long)(src_seen - seen));
	if (rc)
		return cmd_fail(x->a->cmd, "writing %s: %s", x->out,
				err_str(rc));
	return CMD_EXIT_OK;
}

/* Writes a record (the writer filters and masks). <0: a write error. */
static int put(ctx_t *x, cap_rec_t *rec)
{
	int rc = cap_writer_write(x->w, rec);
	return rc < 0 ? rc : 0;
}

/* --------------------------------------------------------------- proxy */

static int from_proxy(ctx_t *x)
{
	const char *path = cmd_opt(x->a, "socket");
	if (!path)
		path = x->cfg->capture.tap_socket;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path))
		return cmd_usage_error(x->a->cmd,
				       "socket path too long (%zu bytes, at "
				       "most %zu): %s",
				       strlen(path), sizeof(sun.sun_path) - 1,
				       path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int e = -errno;
		if (fd >= 0)
			close(fd);
		return cmd_fail(x->a->cmd,
				"cannot connect to the proxy's capture tap at "
				"%s: %s (is `umbra run` or `umbra proxy` "
				"running with capture.tap on?)",
				path, err_str(e));
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	cap_reader_t *r = cap_reader_fdopen(fd, path);
	cap_rec_t rec;
	int rc;
	/* the tap speaks first: its header */
	struct pollfd pfd = {fd, POLLIN, 0};
	int64_t t0 = clock_mono_ns();
	while ((rc = cap_reader_next(r, &rec)) == ERR_AGAIN &&
	       !cap_reader_meta(r) && !stop_flag &&
	       clock_mono_ns() - t0 < 5 * NS_PER_S)
		poll(&pfd, 1, TAP_POLL_MS);
	if (rc < 0 && (rc != ERR_AGAIN || !cap_reader_meta(r))) {
		char why[700];
		snprintf(why, sizeof(why), "%s",
			 rc == ERR_AGAIN ? "the tap did not answer"
					 : cap_reader_error(r));
		cap_reader_close(r);
		return cmd_fail(x->a->cmd, "%s", why);
	}
	const cap_meta_t *m = cap_reader_meta(r);
	int ex = open_output(x, "proxy", m->service);
	if (ex) {
		cap_reader_close(r);
		return ex;
	}
	log_info("capture", "attached to the proxy", LF_S("socket", path),
		 LF_S("service", m->service), LF_S("output", x->out));
	int werr = 0;
	bool ended = false;
	for (;;) {
		if (rc == 1) {
			werr = put(x, &rec); /* LOSS records too: counted */
			if (werr)
				break;
			if (x->count &&
			    cap_writer_stats(x->w)->records >= x->count)
				break;
			rc = cap_reader_next(r, &rec);
			continue;
		}
		if (rc == 0) {
			ended = true;
			break;
		}
		if (rc != ERR_AGAIN) {
			fprintf(stderr, "umbra capture: the tap stream broke: "
					"%s\n",
				cap_reader_error(r));
			break;
		}
		/* every record received so far goes to disk before we
		 * wait: a crash loses at most what is in flight */
		werr = cap_writer_flush(x->w);
		if (werr || stop_flag ||
		    (x->duration && clock_mono_ns() - t0 >= x->duration))
			break;
		poll(&pfd, 1, TAP_POLL_MS);
		rc = cap_reader_next(r, &rec);
	}
	cap_reader_close(r);
	if (ended)
		fprintf(stderr, "umbra capture: the proxy closed the tap (it "
				"is shutting down)\n");
	ex = close_output(x, t0, UINT64_MAX);
	if (werr && !ex)
		return cmd_fail(x->a->cmd, "writing %s: %s", x->out,
				err_str(werr));
	return ex;
}

/* --------------------------------------------------------------- pcap */

/* The input file can be read (and, for pcap, starts like a pcap or
 * pcapng file): checked before open_output creates anything. */
static int input_readable(ctx_t *x, const char *path, bool pcap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cmd_fail(x->a->cmd, "cannot read %s: %s", path,
				err_str(-errno));
	uint8_t m[4];
	ssize_t n = read(fd, m, sizeof(m));
	close(fd);
	if (!pcap)
		return 0;
	/* pcap (either byte order, micro- or nanosecond) and pcapng's
	 * section header block */
	static const uint8_t magics[][4] = {
	    {0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4},
	    {0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d},
	    {0x0a, 0x0d, 0x0d, 0x0a}};
	for (size_t i = 0; n == 4 && i < sizeof(magics) / sizeof(*magics);
	     i++)
		if (memcmp(m, magics[i], 4) == 0)
			return 0;
	return cmd_fail(x->a->cmd, "%s: not a pcap or pcapng file", path);
}

static void live_progress(void *arg, const cap_reasm_stats_t *st,
			  const cap_writer_stats_t *ws)
{
	(void)arg;
	if (!isatty(2))
		return;
	fprintf(stderr, "\r  %llu packets, %llu exchanges, %llu lost   ",
		(unsigned long long)st->packets,
		(unsigned long long)ws->records,
		(unsigned long long)(st->lost[CAP_LOSS_GAP] +
				     st->lost[CAP_LOSS_TRUNCATED] +
				     st->lost[CAP_LOSS_MIDSTREAM] +
				     st->lost[CAP_LOSS_PARSE] +
				     st->lost[CAP_LOSS_LIMIT]));
	fflush(stderr);
}

static int from_pcap(ctx_t *x, bool live)
{
	cap_pcap_opts_t o = {0};
	o.file = live ? NULL : cmd_opt(x->a, "pcap");
	o.interface = live ? cmd_opt(x->a, "interface") : NULL;
	const char *port = cmd_opt(x->a, "port");
	if (port) {
		int64_t v;
		if (units_parse_i64(port, 1, 65535, &v, NULL))
			return cmd_usage_error(x->a->cmd, "bad --port '%s'",
					       port);
		o.port = (uint16_t)v;
	} else if (live) {
		return cmd_usage_error(x->a->cmd,
				       "--interface needs --port N (the HTTP "
				       "server's port)");
	}
	o.filter = cmd_opt(x->a, "bpf");
	if (!live) {
		int ex = input_readable(x, o.file, true);
		if (ex)
			return ex;
	}
	const config_capture_t *cc = &x->cfg->capture;
	o.reasm = (cap_reasm_opts_t){(size_t)cc->max_connections,
				     (size_t)cc->reorder_bytes,
				     cc->memory_limit,
				     cc->flow_timeout,
				     x->max_body,
				     o.port,
				     live ? CAP_SRC_LIVE : CAP_SRC_PCAP};
	o.duration = x->duration;
	o.max_records = x->count;
	o.stop = &stop_flag;
	o.progress = live ? live_progress : NULL;
	char src[300];
	snprintf(src, sizeof(src), "%s:%s", live ? "live" : "pcap",
		 live ? o.interface : o.file);
	int ex = open_output(x, src, x->cfg->service);
	if (ex)
		return ex;
	int64_t t0 = clock_mono_ns();
	cap_pcap_result_t res;
	char err[512] = "";
	int rc = cap_pcap_run(&o, x->w, &res, err, sizeof(err));
	if (live && isatty(2))
		fputc('\n', stderr);
	if (rc && !res.reasm.packets) {
		cap_writer_close(x->w);
		if (strcmp(x->out, "-") != 0)
			unlink(x->out);
		return cmd_fail(x->a->cmd, "%s", err);
	}
	const cap_reasm_stats_t *st = &res.reasm;
	ex = close_output(x, t0, st->requests);
	char sz[32];
	double secs = (double)res.elapsed_ns / 1e9;
	if (live)
		fprintf(stderr, "  %llu packets (%s of TCP payload), %llu "
				"connections\n",
			(unsigned long long)st->packets,
			cap_fmt_bytes(st->payload_bytes, sz),
			(unsigned long long)st->flows);
	else
		fprintf(stderr, "  %llu packets, %s read in %.2f s (%.1f MB/s), "
				"%llu connections\n",
			(unsigned long long)st->packets,
			cap_fmt_bytes(res.file_bytes, sz), secs,
			secs > 0 ? (double)res.file_bytes / 1e6 / secs : 0,
			(unsigned long long)st->flows);
	if (st->no_response)
		fprintf(stderr, "  exchanges without a response: %llu\n",
			(unsigned long long)st->no_response);
	if (st->gaps)
		fprintf(stderr, "  gaps: %llu (%llu bytes never captured)\n",
			(unsigned long long)st->gaps,
			(unsigned long long)st->gap_bytes);
	if (st->retrans_bytes || st->ooo_segments)
		fprintf(stderr, "  retransmitted bytes dropped: %llu, "
				"out-of-order segments: %llu\n",
			(unsigned long long)st->retrans_bytes,
			(unsigned long long)st->ooo_segments);
	if (st->orphan_responses)
		fprintf(stderr, "  responses to requests not seen: %llu\n",
			(unsigned long long)st->orphan_responses);
	if (st->flows_joined)
		fprintf(stderr, "  connections joined mid-stream (no SYN "
				"seen): %llu\n",
			(unsigned long long)st->flows_joined);
	if (st->stray_responses)
		fprintf(stderr, "  responses skipped as answers to requests "
				"sent before the capture joined (or hidden "
				"by a gap): %llu\n",
			(unsigned long long)st->stray_responses);
	if (st->skipped[CAP_PKT_FRAGMENT])
		fprintf(stderr, "  IP fragments skipped: %llu\n",
			(unsigned long long)st->skipped[CAP_PKT_FRAGMENT]);
	if (live)
		fprintf(stderr, "  packets dropped by the kernel: %llu, by the "
				"interface: %llu%s\n",
			(unsigned long long)res.kernel_drops,
			(unsigned long long)res.if_drops,
			res.kernel_drops ? " (holes they left are counted as "
					   "gaps)"
					 : "");
	if (rc && !ex)
		return cmd_fail(x->a->cmd, "%s", err);
	return ex;
}

/* --------------------------------------------------------------- gor, file */

static int from_gor(ctx_t *x)
{
	const char *in = cmd_opt(x->a, "gor");
	int ex0 = input_readable(x, in, false);
	if (ex0)
		return ex0;
	char src[300];
	snprintf(src, sizeof(src), "gor:%s", in);
	int ex = open_output(x, src, x->cfg->service);
	if (ex)
		return ex;
	int64_t t0 = clock_mono_ns();
	cap_gor_stats_t st;
	char err[512] = "";
	int rc;
	rc = cap_gor_import(in, x->max_body, x->w, &st, err, sizeof(err));
	if (rc && st.items == 0) {
		cap_writer_close(x->w);
		if (strcmp(x->out, "-") != 0)
			unlink(x->out);
		return cmd_fail(x->a->cmd, "%s", err);
	}
	ex = close_output(x, t0, st.requests);
	fprintf(stderr, "  payloads: %llu (%llu requests, %llu responses, %llu "
			"replayed responses skipped, %llu unreadable)\n",
		(unsigned long long)st.items, (unsigned long long)st.requests,
		(unsigned long long)st.responses,
		(unsigned long long)st.replayed,
		(unsigned long long)st.bad_items);
	fprintf(stderr, "  exchanges: %llu (%llu without response)\n",
		(unsigned long long)st.exchanges,
		(unsigned long long)st.no_response);
	if (st.orphan_responses)
		fprintf(stderr, "  responses to requests not in the file: "
				"%llu\n",
			(unsigned long long)st.orphan_responses);
	if (rc && !ex)
		return cmd_fail(x->a->cmd, "%s", err);
	return ex;
}

static int from_file(ctx_t *x)
{
	const char *in = cmd_opt(x->a, "file");
	cap_reader_t *r;
	char err[700];
	if (cap_reader_open(in, &r, err, sizeof(err)))
		return cmd_fail(x->a->cmd, "%s", err);
	const cap_meta_t *m = cap_reader_meta(r);
	int ex = open_output(x, m->source, m->service);
	if (ex) {
		cap_reader_close(r);
		return ex;
	}
	int64_t t0 = clock_mono_ns();
	cap_rec_t rec;
	int rc, werr = 0;
	while (!werr && !stop_flag && (rc = cap_reader_next(r, &rec)) == 1) {
		werr = put(x, &rec);
		if (x->count && cap_writer_stats(x->w)->records >= x->count)
			break;
	}
	char stopped[700] = "";
	snprintf(stopped, sizeof(stopped), "%s", cap_reader_error(r));
	cap_reader_close(r);
	ex = close_output(x, t0, UINT64_MAX);
	if (stopped[0]) {
		fprintf(stderr, "umbra capture: %s (the records before it were "
				"copied)\n",
			stopped);
		return CMD_EXIT_FAIL;
	}
	if (werr && !ex)
		return cmd_fail(x->a->cmd, "writing %s: %s", x->out,
				err_str(werr));
	return ex;
}

/* --------------------------------------------------------------- stats */

static void fmt_ns(int64_t ns, char *out, size_t cap)
{
	char iso[CLOCK_ISO_LEN];
	snprintf(out, cap, "%s", ns ? clock_iso8601(ns, iso) : "-");
}

static int stats_text(const cap_summary_t *s, const char *path)
{
	char a[40], b[40], sz[32], sz2[32];
	printf("file       %s (%s, umbra capture v%d%s)\n", path,
	       cap_fmt_bytes(s->file_bytes, sz), s->meta.version,
	       s->meta.zstd ? ", zstd" : "");
	printf("source     %s%s%s, created %s, masking %s\n",
	       s->meta.source[0] ? s->meta.source : "-",
	       s->meta.service[0] ? ", service " : "", s->meta.service,
	       s->meta.created[0] ? s->meta.created : "-",
	       s->meta.masking[0] ? s->meta.masking : "-");
	printf("exchanges  %llu (%llu without response, %llu with a partial "
	       "response, %llu tunnels)\n",
	       (unsigned long long)s->exchanges,
	       (unsigned long long)s->no_response,
	       (unsigned long long)s->resp_partial,
	       (unsigned long long)s->tunnels);
	uint64_t lost = 0;
	for (int i = 0; i < CAP_LOSS__COUNT; i++)
		if (i != CAP_LOSS_RESPONSE_LOST)
			lost += s->lost[i];
	printf("lost       %llu requests seen but not recorded",
	       (unsigned long long)lost);
	const char *sep = " (";
	for (int i = 0; i < CAP_LOSS__COUNT; i++)
		if (s->lost[i] && i != CAP_LOSS_RESPONSE_LOST) {
			printf("%s%s %llu", sep, cap_loss_name(i),
			       (unsigned long long)s->lost[i]);
			sep = ", ";
		}
	printf("%s\n", lost ? ")" : "");
	printf("seen       %llu requests = %llu recorded + %llu lost\n",
	       (unsigned long long)(s->exchanges + lost),
	       (unsigned long long)s->exchanges, (unsigned long long)lost);
	fmt_ns(s->first_ns, a, sizeof(a));
	fmt_ns(s->last_ns, b, sizeof(b));
	double span = (double)(s->last_ns - s->first_ns) / 1e9;
	printf("span       %s .. %s (%.3f s", a, b, span);
	if (span > 0)
		printf(", %.1f req/s", (double)(s->exchanges - 1) / span);
	printf(")\n");
	printf("sizes      request bodies %s (max %s), response bodies %s "
	       "(max %s)",
	       cap_fmt_bytes(s->req_body_bytes, sz),
	       cap_fmt_bytes(s->req_body_max, sz2),
	       cap_fmt_bytes(s->resp_body_bytes, a),
	       cap_fmt_bytes(s->resp_body_max, b));
	printf("; cut bodies %llu/%llu\n", (unsigned long long)s->req_trunc,
	       (unsigned long long)s->resp_trunc);
	if (s->latency_us.n)
		printf("latency    p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max "
		       "%.3f ms (as recorded)\n",
		       (double)cap_hist_quantile(&s->latency_us, 0.5) / 1e3,
		       (double)cap_hist_quantile(&s->latency_us, 0.9) / 1e3,
		       (double)cap_hist_quantile(&s->latency_us, 0.99) / 1e3,
		       (double)s->latency_us.max / 1e3);
	printf("status    ");
	for (int i = 1; i < 600; i++)
		if (s->status[i])
			printf(" %d:%llu", i, (unsigned long long)s->status[i]);
	if (s->status[0])
		printf(" none:%llu", (unsigned long long)s->status[0]);
	printf("\nendpoints  %zu%s\n", s->nendpoints,
	       s->other_endpoints ? " (and more, grouped as other)" : "");
	printf("  %8s  %10s  %10s  %s\n", "count", "req bytes", "mean ms",
	       "endpoint");
	for (size_t i = 0; i < s->nendpoints && i < STATS_TOP; i++) {
		const cap_endpoint_stat_t *e = &s->endpoints[i];
		printf("  %8llu  %10llu  %10.3f  %s\n",
		       (unsigned long long)e->count,
		       (unsigned long long)e->req_bytes,
		       e->with_latency ? (double)e->latency_sum_us /
						 (double)e->with_latency / 1e3
				       : 0.0,
		       e->name);
	}
	if (s->nendpoints > STATS_TOP)
		printf("  ... %zu more (--format json lists them all)\n",
		       s->nendpoints - STATS_TOP);
	if (s->error[0])
		printf("damaged    %s\n", s->error);
	return 0;
}

static int stats_json(const cap_summary_t *s, const char *path)
{
	json_t *o = json_object();
	json_object_set_new(o, "file", json_string(path));
	json_object_set_new(o, "bytes", json_integer((json_int_t)s->file_bytes));
	json_object_set_new(o, "version", json_integer(s->meta.version));
	json_object_set_new(o, "compressed", json_boolean(s->meta.zstd));
	json_object_set_new(o, "source", json_string(s->meta.source));
	json_object_set_new(o, "service", json_string(s->meta.service));
	json_object_set_new(o, "created", json_string(s->meta.created));
	json_object_set_new(o, "masking", json_string(s->meta.masking));
	json_object_set_new(o, "exchanges",
			    json_integer((json_int_t)s->exchanges));
	json_object_set_new(o, "no_response",
			    json_integer((json_int_t)s->no_response));
	json_object_set_new(o, "partial_response",
			    json_integer((json_int_t)s->resp_partial));
	json_object_set_new(o, "tunnels", json_integer((json_int_t)s->tunnels));
	json_t *l = json_object();
	for (int i = 0; i < CAP_LOSS__COUNT; i++)
		json_object_set_new(l, cap_loss_name(i),
				    json_integer((json_int_t)s->lost[i]));
	json_object_set_new(o, "lost", l);
	uint64_t lost = 0;
	for (int i = 0; i < CAP_LOSS__COUNT; i++)
		if (i != CAP_LOSS_RESPONSE_LOST)
			lost += s->lost[i];
	json_object_set_new(o, "requests_seen",
			    json_integer((json_int_t)(s->exchanges + lost)));
	char a[40];
	fmt_ns(s->first_ns, a, sizeof(a));
	json_object_set_new(o, "first", json_string(a));
	fmt_ns(s->last_ns, a, sizeof(a));
	json_object_set_new(o, "last", json_string(a));
	json_object_set_new(o, "span_s", json_real((double)(s->last_ns -
							       s->first_ns) /
						   1e9));
	json_t *sz = json_object();
	json_object_set_new(sz, "request_heads",
			    json_integer((json_int_t)s->req_head_bytes));
	json_object_set_new(sz, "request_bodies",
			    json_integer((json_int_t)s->req_body_bytes));
	json_object_set_new(sz, "response_heads",
			    json_integer((json_int_t)s->resp_head_bytes));
	json_object_set_new(sz, "response_bodies",
			    json_integer((json_int_t)s->resp_body_bytes));
	json_object_set_new(sz, "request_body_max",
			    json_integer((json_int_t)s->req_body_max));
	json_object_set_new(sz, "response_body_max",
			    json_integer((json_int_t)s->resp_body_max));
	json_object_set_new(sz, "requests_cut",
			    json_integer((json_int_t)s->req_trunc));
	json_object_set_new(sz, "responses_cut",
			    json_integer((json_int_t)s->resp_trunc));
	json_object_set_new(o, "sizes", sz);
	json_t *lat = json_object();
	json_object_set_new(lat, "p50_ms",
			    json_real((double)cap_hist_quantile(&s->latency_us,
								0.5) /
				      1e3));
	json_object_set_new(lat, "p90_ms",
			    json_real((double)cap_hist_quantile(&s->latency_us,
								0.9) /
				      1e3));
	json_object_set_new(lat, "p99_ms",
			    json_real((double)cap_hist_quantile(&s->latency_us,
								0.99) /
				      1e3));
	json_object_set_new(lat, "max_ms",
			    json_real((double)s->latency_us.max / 1e3));
	json_object_set_new(o, "latency", lat);
	json_t *st = json_object();
	for (int i = 0; i < 600; i++)
		if (s->status[i]) {
			char k[16];
			snprintf(k, sizeof(k), "%d", i);
			json_object_set_new(st, i ? k : "none",
					    json_integer(
						    (json_int_t)s->status[i]));
		}
	json_object_set_new(o, "status", st);
	json_t *eps = json_array();
	for (size_t i = 0; i < s->nendpoints; i++) {
		const cap_endpoint_stat_t *e = &s->endpoints[i];
		json_t *x = json_object();
		json_object_set_new(x, "endpoint", json_string(e->name));
		json_object_set_new(x, "count", json_integer((json_int_t)e->count));
		json_object_set_new(x, "request_bytes",
				    json_integer((json_int_t)e->req_bytes));
		json_object_set_new(x, "response_bytes",
				    json_integer((json_int_t)e->resp_bytes));
		json_object_set_new(
			x, "mean_ms",
			json_real(e->with_latency
					  ? (double)e->latency_sum_us /
						    (double)e->with_latency / 1e3
					  : 0));
		json_array_append_new(eps, x);
	}
	json_object_set_new(o, "endpoints", eps);
	json_object_set_new(o, "other_endpoints",
			    json_integer((json_int_t)s->other_endpoints));
	json_object_set_new(o, "error", s->error[0] ? json_string(s->error)
						    : json_null());
	cmd_print_value(o);
	json_decref(o);
	return 0;
}

static int do_stats(ctx_t *x)
{
	const char *path = cmd_opt(x->a, "stats");
	const char *fmt = cmd_opt(x->a, "format");
	if (fmt && strcmp(fmt, "text") != 0 && strcmp(fmt, "json") != 0)
		return cmd_usage_error(x->a->cmd,
				       "bad --format '%s' with --stats (text or "
				       "json)",
				       fmt);
	cap_summary_t s;
	char err[700];
	int rc = cap_summarize(path, x->filter, &s, err, sizeof(err));
	if (rc)
		return cmd_fail(x->a->cmd, "%s", err);
	if ((fmt && strcmp(fmt, "json") == 0) ||
	    cmd_out_format() != CMD_OUT_TABLE)
		stats_json(&s, path);
	else
		stats_text(&s, path);
	bool damaged = s.error[0] != 0;
	if (damaged)
		fprintf(stderr, "umbra capture: %s (the counts above are the "
				"records before it)\n",
			s.error);
	cap_summary_free(&s);
	return damaged ? CMD_EXIT_FAIL : CMD_EXIT_OK;
}

/* --------------------------------------------------------------- main */

static int exec(cmd_args_t *a)
{
	static const char *const sources[] = {"from-proxy", "pcap", "interface",
					      "gor", "file", "stats"};
	int nsrc = 0;
	for (size_t i = 0; i < sizeof(sources) / sizeof(*sources); i++)
		nsrc += cmd_flag(a, sources[i]);
	if (nsrc != 1)
		return cmd_usage_error(a->cmd,
				       "give exactly one of --from-proxy, --pcap, "
				       "--interface, --gor, --file, --stats");
	if (!cmd_flag(a, "stats") &&
	    (cmd_opt(a, "output") || cmd_flag(a, "json")))
		return cmd_usage_error(a->cmd, "-o and --json are for --stats "
						"(a capture is written with -w)");
	ctx_t x = {.a = a};
	const char *cfile = cmd_opt(a, "config");
	if (cfile) {
		int rc = cmd_load_config(cfile, &x.cfg);
		if (rc)
			return rc;
	} else {
		x.cfg = config_new_default("capture");
	}
	int ex = CMD_EXIT_OK;
	size_t nf;
	const char *const *fs = cmd_opt_all(a, "filter", &nf);
	for (size_t i = 0; i < nf; i++) {
		char err[256];
		if (cap_filter_add(&x.filter, fs[i], err, sizeof(err))) {
			ex = cmd_usage_error(a->cmd, "%s", err);
			goto out;
		}
	}
	x.max_body = x.cfg->capture.max_body;
	const char *mb = cmd_opt(a, "max-body");
	if (mb && (units_parse_size(mb, &x.max_body, NULL) ||
		   x.max_body > CAP_BODY_MAX)) {
		ex = cmd_usage_error(a->cmd, "bad --max-body '%s' (a size up "
					     "to 64MiB)",
				     mb);
		goto out;
	}
	const char *d = cmd_opt(a, "duration");
	if (d && units_parse_duration(d, &x.duration, NULL)) {
		ex = cmd_usage_error(a->cmd, "bad --duration '%s'", d);
		goto out;
	}
	const char *n = cmd_opt(a, "count");
	int64_t cnt = 0;
	if (n && units_parse_i64(n, 1, INT64_MAX, &cnt, NULL)) {
		ex = cmd_usage_error(a->cmd, "bad --count '%s'", n);
		goto out;
	}
	x.count = (uint64_t)cnt;
	if (cmd_flag(a, "stats")) {
		ex = do_stats(&x);
		goto out;
	}
	x.out = cmd_opt(a, "write");
	if (!x.out) {
		ex = cmd_usage_error(a->cmd, "give -w FILE (the capture to "
					     "write)");
		goto out;
	}
	const char *fmt = cmd_opt(a, "format");
	if (fmt && strcmp(fmt, "umbra") != 0 && strcmp(fmt, "gor") != 0) {
		ex = cmd_usage_error(a->cmd, "bad --format '%s' (umbra or gor)",
				     fmt);
		goto out;
	}
	x.gor_out = fmt && strcmp(fmt, "gor") == 0;
	catch_signals();
	if (cmd_flag(a, "from-proxy"))
		ex = from_proxy(&x);
	else if (cmd_flag(a, "pcap"))
		ex = from_pcap(&x, false);
	else if (cmd_flag(a, "interface"))
		ex = from_pcap(&x, true);
	else if (cmd_flag(a, "gor"))
		ex = from_gor(&x);
	else
		ex = from_file(&x);
out:
	if (x.w)
		cap_writer_close(x.w);
	cap_masker_free(x.masker);
	cap_filter_free(x.filter);
	config_free(x.cfg);
	return ex;
}

const cmd_entry_t cmd_capture = {
	.name = "capture",
	.usage = "--from-proxy|--pcap FILE|--interface IF --port N|--gor "
		 "FILE|--file FILE -w OUT [--format umbra|gor] | --stats FILE",
	.summary = "record traffic to a capture file, convert, or describe one",
	.help = "Records HTTP exchanges (request and response, timestamps, "
		"latency, connection)\ninto an append-only file of "
		"CRC-checked records (docs/capture.md): from the\nrunning "
		"proxy's tap, a pcap file or a live interface (TCP reassembly), "
		"or a\nGoReplay file. Every request seen but not recorded whole "
		"is counted and\nreported by reason. --format gor writes "
		"GoReplay payloads instead; --stats\ndescribes a file (counts, "
		"span, endpoints, sizes, statuses, losses).\nA damaged file is "
		"read up to its first bad record, which is named by byte\n"
		"offset (exit 1). SIGINT/SIGTERM end a live capture cleanly.",
	.opts = opts,
	.min_pos = 0,
	.max_pos = 0,
	.exec = exec,
};
