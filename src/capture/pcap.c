/*
 * pcap.c: libpcap sources for the reassembler: capture files (pcap and
 * pcapng, nanosecond timestamps) and live interfaces (immediate mode, a
 * 32 MiB kernel buffer, BPF "tcp port N" plus the user's filter). Every
 * exchange goes to the writer as it completes; live captures flush after
 * each batch of packets, so a crash loses at most what was in flight.
 * The kernel's own drop counters are reported: packets it dropped are
 * holes the reassembler counts as gaps, never silent.
 */
#include "capture/reasm.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define LIVE_SNAPLEN 262144            /* whole jumbo frames */
#define LIVE_BUFFER (32 * 1024 * 1024) /* kernel ring: a few hundred ms of
					  a busy 1 Gb/s link */
#define LIVE_POLL_MS 100               /* wake to check stop and timers */
#define PROGRESS_EVERY (250LL * 1000000)
#define FILTER_MAX 4096

typedef struct run {
	const cap_pcap_opts_t *o;
	cap_reasm_t *r;
	cap_writer_t *w;
	int linktype;
	int werr;
	bool done;
} run_t;

static void on_exchange(void *arg, cap_rec_t *rec)
{
	run_t *x = arg;
	if (x->werr)
		return;
	int rc = cap_writer_write(x->w, rec);
	if (rc < 0)
		x->werr = rc;
	if (x->o->max_records &&
	    cap_writer_stats(x->w)->records >= x->o->max_records)
		x->done = true;
}

static void on_packet(u_char *arg, const struct pcap_pkthdr *h,
		      const u_char *p)
{
	run_t *x = (run_t *)arg;
	int64_t ts = (int64_t)h->ts.tv_sec * 1000000000LL + h->ts.tv_usec;
	cap_reasm_packet(x->r, ts, x->linktype, p, h->caplen);
}

static int apply_filter(pcap_t *pc, const cap_pcap_opts_t *o, char *err,
			size_t errcap, const char *what)
{
	char f[FILTER_MAX];
	size_t n = 0;
	f[0] = '\0';
	if (o->port)
		n += (size_t)snprintf(f, sizeof(f), "tcp port %u", o->port);
	else
		n += (size_t)snprintf(f, sizeof(f), "tcp");
	if (o->filter && o->filter[0])
		snprintf(f + n, sizeof(f) - n, " and (%s)", o->filter);
	struct bpf_program prog;
	if (pcap_compile(pc, &prog, f, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, errcap, "%s: bad filter '%s': %s", what, f,
			 pcap_geterr(pc));
		return ERR_USAGE;
	}
	int rc = pcap_setfilter(pc, &prog);
	pcap_freecode(&prog);
	if (rc != 0) {
		snprintf(err, errcap, "%s: cannot set filter: %s", what,
			 pcap_geterr(pc));
		return ERR_UNSUPPORTED;
	}
	return 0;
}

static pcap_t *open_live(const cap_pcap_opts_t *o, char *err, size_t errcap)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pc = pcap_create(o->interface, eb);
	if (!pc) {
		snprintf(err, errcap, "%s: %s", o->interface, eb);
		return NULL;
	}
	pcap_set_snaplen(pc, LIVE_SNAPLEN);
	pcap_set_promisc(pc, 0);
	pcap_set_immediate_mode(pc, 1);
	pcap_set_buffer_size(pc, LIVE_BUFFER);
	pcap_set_tstamp_precision(pc, PCAP_TSTAMP_PRECISION_NANO);
	int rc = pcap_activate(pc);
	if (rc < 0) {
		snprintf(err, errcap, "%s: %s%s", o->interface,
			 pcap_statustostr(rc),
			 rc == PCAP_ERROR_PERM_DENIED
				 ? " (live capture needs root or CAP_NET_RAW)"
				 : "");
		if (rc == PCAP_ERROR && pcap_geterr(pc)[0])
			snprintf(err, errcap, "%s: %s", o->interface,
				 pcap_geterr(pc));
		pcap_close(pc);
		return NULL;
	}
	if (pcap_setnonblock(pc, 1, eb) != 0) {
		snprintf(err, errcap, "%s: %s", o->interface, eb);
		pcap_close(pc);
		return NULL;
	}
	return pc;
}

static pcap_t *open_file(const cap_pcap_opts_t *o, char *err, size_t errcap)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(
		o->file, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!pc)
		snprintf(err, errcap, "%s: %s", o->file, eb);
	return pc;
}

/* Writes the reassembler's losses (if any) as one LOSS record. */
static int write_losses(cap_writer_t *w, const cap_reasm_stats_t *st)
{
	cap_rec_t l = {.kind = CAP_KIND_LOSS, .req_ns = clock_wall_ns()};
	bool any = false;
	for (int i = 0; i < CAP_LOSS__COUNT; i++) {
		l.loss[i] = st->lost[i];
		any = any || l.loss[i];
	}
	return any ? cap_writer_write(w, &l) : 0;
}

int cap_pcap_run(const cap_pcap_opts_t *o, cap_writer_t *w,
		 cap_pcap_result_t *res, char *err, size_t errcap)
{
	memset(res, 0, sizeof(*res));
	const char *what = o->file ? o->file : o->interface;
	pcap_t *pc = o->file ? open_file(o, err, errcap)
			     : open_live(o, err, errcap);
	if (!pc)
		return ERR_NOTFOUND;
	run_t x = {.o = o, .w = w};
	x.linktype = pcap_datalink(pc);
	res->linktype = x.linktype;
	if (!cap_linktype_supported(x.linktype)) {
		snprintf(err, errcap, "%s: link type %s (%d) not supported",
			 what, pcap_datalink_val_to_name(x.linktype)
				       ? pcap_datalink_val_to_name(x.linktype)
				       : "?",
			 x.linktype);
		pcap_close(pc);
		return ERR_UNSUPPORTED;
	}
	int rc = apply_filter(pc, o, err, errcap, what);
	if (rc) {
		pcap_close(pc);
		return rc;
	}
	x.r = cap_reasm_new(&o->reasm, on_exchange, &x);
	int64_t t0 = clock_mono_ns(), next_progress = t0 + PROGRESS_EVERY;
	if (o->file) {
		struct stat st;
		if (stat(o->file, &st) == 0)
			res->file_bytes = (uint64_t)st.st_size;
		int n = 0;
		while (!x.werr && !x.done && !(o->stop && *o->stop) &&
		       (n = pcap_dispatch(pc, 4096, on_packet, (u_char *)&x)) >
			       0)
			;
		if (n == PCAP_ERROR) {
			snprintf(err, errcap, "%s: %s", o->file,
				 pcap_geterr(pc));
			rc = ERR_CORRUPT;
		}
	} else {
		struct pollfd pfd = {pcap_get_selectable_fd(pc), POLLIN, 0};
		while (!x.werr && !x.done && !(o->stop && *o->stop)) {
			int64_t now = clock_mono_ns();
			if (o->duration && now - t0 >= o->duration)
				break;
			poll(&pfd, 1, LIVE_POLL_MS);
			int n = pcap_dispatch(pc, -1, on_packet, (u_char *)&x);
			if (n == PCAP_ERROR) {
				snprintf(err, errcap, "%s: %s", o->interface,
					 pcap_geterr(pc));
				rc = ERR_CLOSED;
				break;
			}
			/* live time drives idle expiry between packets */
			cap_reasm_expire(x.r, clock_wall_ns());
			if (!x.werr)
				x.werr = cap_writer_flush(w);
			if (o->progress && now >= next_progress) {
				o->progress(o->progress_arg, cap_reasm_stats(x.r),
					    cap_writer_stats(w));
				next_progress = now + PROGRESS_EVERY;
			}
		}
		struct pcap_stat ps;
		if (pcap_stats(pc, &ps) == 0) {
			res->kernel_drops = ps.ps_drop;
			res->if_drops = ps.ps_ifdrop;
		}
	}
	cap_reasm_finish(x.r);
	res->reasm = *cap_reasm_stats(x.r);
	if (!x.werr)
		x.werr = write_losses(w, &res->reasm);
	if (!x.werr)
		x.werr = cap_writer_flush(w);
	if (x.werr < 0 && !rc) {
		snprintf(err, errcap, "writing the capture: %s",
			 err_str(x.werr));
		rc = x.werr;
	}
	res->elapsed_ns = clock_mono_ns() - t0;
	cap_reasm_free(x.r);
	pcap_close(pc);
	return rc;
}
