/*
 * test_parse.c: the kernel-file parsers of collect.h: real-shaped inputs,
 * and one test per malformed input with its reason.
 */
#include "base/err.h"
#include "metrics/collect.h"

#include <criterion/criterion.h>
#include <string.h>

#define S(x) x, strlen(x)

static const char *STAT_OK =
	"4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1200 0 3 0 "
	"150 30 7 2 20 0 3 0 99999 12345678 640 18446744073709551615 1 1 0 0 "
	"0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

Test(parse_stat, real_shape_with_parens_in_comm)
{
	metrics_pstat_t s;
	const char *why = NULL;
	cr_assert_eq(metrics_parse_stat(S(STAT_OK), &s, &why), 0, "%s", why);
	cr_assert_eq(s.pid, 4242);
	cr_assert_eq(s.ppid, 1);
	cr_assert_eq(s.utime, 150);
	cr_assert_eq(s.stime, 30);
	cr_assert_eq(s.cutime, 7);
	cr_assert_eq(s.cstime, 2);
	cr_assert_eq(s.threads, 3);
	cr_assert_eq(s.starttime, 99999);
	cr_assert_eq(s.rss_pages, 640);
}

static void stat_bad(const char *in, const char *reason)
{
	metrics_pstat_t s;
	const char *why = NULL;
	cr_assert_eq(metrics_parse_stat(S(in), &s, &why), ERR_PARSE, "%s", in);
	cr_assert_str_eq(why, reason);
}

Test(parse_stat, empty) { stat_bad("", "no pid"); }
Test(parse_stat, zero_pid) { stat_bad("0 (x) S 1", "no pid"); }
Test(parse_stat, no_paren) { stat_bad("12 x S 1", "no '(' after the pid"); }
Test(parse_stat, no_close) { stat_bad("12 (x S 1 2", "no ')' after the command name"); }
Test(parse_stat, truncated) { stat_bad("12 (x) S 1 2 3", "too few fields"); }
Test(parse_stat, no_state) { stat_bad("12 (x)  1", "no state"); }
Test(parse_stat, letters)
{
	stat_bad("12 (x) S 1 2 3 0 -1 4 5 6 7 8 abc 1 1 1 20 0 1 0 5 6 7",
		 "field is not an integer");
}
Test(parse_stat, negative_counter)
{
	stat_bad("12 (x) S 1 2 3 0 -1 4 5 6 7 8 -9 1 1 1 20 0 1 0 5 6 7",
		 "negative counter");
}
Test(parse_stat, overflow)
{
	stat_bad("12 (x) S 1 2 3 0 -1 4 5 6 7 8 99999999999999999999 1 1 1 "
		 "20 0 1 0 5 6 7",
		 "field is not an integer");
}
Test(parse_stat, negative_ppid)
{
	stat_bad("12 (x) S -1 2 3 0 -1 4 5 6 7 8 9 1 1 1 20 0 1 0 5 6 7",
		 "negative ppid");
}

static const char *STATUS_OK =
	"Name:\tsvc\nUmask:\t0022\nVmRSS:\t    1752 kB\nThreads:\t7\n"
	"Groups:\t \nvoluntary_ctxt_switches:\t120\n"
	"nonvoluntary_ctxt_switches:\t3\n";

Test(parse_status, fields)
{
	metrics_pstatus_t s;
	const char *why = NULL;
	cr_assert_eq(metrics_parse_status(S(STATUS_OK), &s, &why), 0, "%s",
		     why);
	cr_assert_eq(s.rss_kib, 1752);
	cr_assert_eq(s.threads, 7);
	cr_assert_eq(s.ctx_voluntary, 120);
	cr_assert_eq(s.ctx_involuntary, 3);
}

Test(parse_status, kernel_thread_has_no_rss)
{
	metrics_pstatus_t s;
	const char *why;
	cr_assert_eq(metrics_parse_status(S("Threads:\t1\n"
					    "voluntary_ctxt_switches:\t1\n"
					    "nonvoluntary_ctxt_switches:\t0\n"),
					  &s, &why),
		     0);
	cr_assert_eq(s.rss_kib, 0);
}

static void status_bad(const char *in, const char *reason)
{
	metrics_pstatus_t s;
	const char *why = NULL;
	cr_assert_eq(metrics_parse_status(S(in), &s, &why), ERR_PARSE, "%s",
		     in);
	cr_assert_str_eq(why, reason);
}

Test(parse_status, no_threads)
{
	status_bad("voluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t0\n",
		   "no Threads line");
}
Test(parse_status, no_ctx) { status_bad("Threads:\t1\n", "no ctxt_switches lines"); }
Test(parse_status, bad_value) { status_bad("Threads:\tmany\n", "value is not an integer"); }
Test(parse_status, junk) { status_bad("VmRSS:\t12 MB\n", "junk after the value"); }
Test(parse_status, huge)
{
	status_bad("VmRSS:\t99999999999999999999 kB\n", "value out of range");
}
Test(parse_status, rss_overflows_bytes)
{
	status_bad("VmRSS:\t18446744073709551 kB\nThreads:\t1\n"
		   "voluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t0\n",
		   "VmRSS out of range");
}

Test(parse_io, fields_and_errors)
{
	metrics_pio_t io;
	const char *why = NULL;
	cr_assert_eq(metrics_parse_io(S("rchar: 1\nwchar: 2\nread_bytes: 4096\n"
					"write_bytes: 8192\n"
					"cancelled_write_bytes: 0\n"),
				      &io, &why),
		     0);
	cr_assert_eq(io.read_bytes, 4096);
	cr_assert_eq(io.write_bytes, 8192);
	cr_assert_eq(metrics_parse_io(S("rchar: 1\n"), &io, &why), ERR_PARSE);
	cr_assert_str_eq(why, "no read_bytes/write_bytes lines");
	cr_assert_eq(metrics_parse_io(S("read_bytes: x\n"), &io, &why),
		     ERR_PARSE);
	cr_assert_str_eq(why, "value is not an integer");
}

static const char *NETDEV_OK =
	"Inter-|   Receive                                                |  Transmit\n"
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	"    lo:    6161      63    0    0    0     0          0         0     6161      63    0    0    0     0       0          0\n"
	"  eth0: 60943161    1289    0    0    0     0          0         0    56841     725    0    0    0     0       0          0\n"
	"veth-a:1000 1 0 0 0 0 0 0 2000 2 0 0 0 0 0 0\n";

Test(parse_netdev, sums_without_lo)
{
	metrics_netdev_t n;
	const char *why = NULL;
	cr_assert_eq(metrics_parse_netdev(S(NETDEV_OK), false, &n, &why), 0,
		     "%s", why);
	cr_assert_eq(n.rx_bytes, 60943161 + 1000);
	cr_assert_eq(n.tx_bytes, 56841 + 2000);
	cr_assert_eq(n.ifaces, 2);
	cr_assert_eq(metrics_parse_netdev(S(NETDEV_OK), true, &n, &why), 0);
	cr_assert_eq(n.rx_bytes, 60943161 + 1000 + 6161);
	cr_assert_eq(n.ifaces, 3);
}

static void netdev_bad(const char *in, const char *reason)
{
	metrics_netdev_t n;
	const char *why = NULL;
	cr_assert_eq(metrics_parse_netdev(S(in), false, &n, &why), ERR_PARSE,
		     "%s", in);
	cr_assert_str_eq(why, reason);
}

#define HDR "a|b\nc|d\n"
Test(parse_netdev, no_header) { netdev_bad("eth0: 1 2\n", "missing header"); }
Test(parse_netdev, short_file) { netdev_bad("a|b\n", "missing header"); }
Test(parse_netdev, no_colon) { netdev_bad(HDR "eth0 1 2 3\n", "interface line without ':'"); }
Test(parse_netdev, no_name) { netdev_bad(HDR "  : 1 2\n", "empty interface name"); }
Test(parse_netdev, few_counters) { netdev_bad(HDR "e: 1 2 3\n", "counter is not an integer"); }
Test(parse_netdev, junk)
{
	netdev_bad(HDR "e: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
		   "junk after the counters");
}
Test(parse_netdev, overflow)
{
	netdev_bad(HDR "a: 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
		       "b: 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
		   "byte counters overflow");
}

Test(parse_psi, some_and_full)
{
	metrics_psi_t p;
	const char *why = NULL;
	cr_assert_eq(metrics_parse_psi(S("some avg10=1.50 avg60=0.80 avg300=0.20 "
					 "total=300000\nfull avg10=0.00 "
					 "avg60=0.00 avg300=0.00 total=7\n"),
				       &p, &why),
		     0, "%s", why);
	cr_assert_eq(p.some_us, 300000);
	cr_assert_eq(p.full_us, 7);
	cr_assert(p.has_full);
	cr_assert_eq(metrics_parse_psi(S("some avg10=0 total=5\n"), &p, &why),
		     0);
	cr_assert_not(p.has_full);
	cr_assert_eq(metrics_parse_psi(S("half total=1\n"), &p, &why),
		     ERR_PARSE);
	cr_assert_str_eq(why, "line is neither some nor full");
	cr_assert_eq(metrics_parse_psi(S("some avg10=1\n"), &p, &why), ERR_PARSE);
	cr_assert_str_eq(why, "no total=N at the end");
	cr_assert_eq(metrics_parse_psi(S("some total=1x\n"), &p, &why), ERR_PARSE);
	cr_assert_str_eq(why, "no total=N at the end");
	cr_assert_eq(metrics_parse_psi(S("full total=1\n"), &p, &why), ERR_PARSE);
	cr_assert_str_eq(why, "no some line");
}

Test(parse_io_stat, sums_devices)
{
	uint64_t r, w;
	const char *why = NULL;
	cr_assert_eq(metrics_parse_io_stat(S("8:0 rbytes=10 wbytes=20 rios=1 "
					     "wios=2 dbytes=0 dios=0\n"
					     "259:0 rbytes=5 wbytes=0\n"),
					   &r, &w, &why),
		     0, "%s", why);
	cr_assert_eq(r, 15);
	cr_assert_eq(w, 20);
	cr_assert_eq(metrics_parse_io_stat(S(""), &r, &w, &why), 0);
	cr_assert_eq(r, 0);
	cr_assert_eq(metrics_parse_io_stat(S("x rbytes=1\n"), &r, &w, &why),
		     ERR_PARSE);
	cr_assert_str_eq(why, "line does not start with MAJ:MIN");
	cr_assert_eq(metrics_parse_io_stat(S("8:0 rbytes\n"), &r, &w, &why),
		     ERR_PARSE);
	cr_assert_str_eq(why, "field without '='");
	cr_assert_eq(metrics_parse_io_stat(S("8:0 rbytes=x\n"), &r, &w, &why),
		     ERR_PARSE);
	cr_assert_str_eq(why, "field value is not an integer");
	cr_assert_eq(metrics_parse_io_stat(S("8:0 rbytes=1x\n"), &r, &w, &why),
		     ERR_PARSE);
	cr_assert_str_eq(why, "junk after a field value");
	cr_assert_eq(metrics_parse_io_stat(
			     S("8:0 rbytes=18446744073709551615\n"
			       "8:1 rbytes=1\n"),
			     &r, &w, &why),
		     ERR_PARSE);
	cr_assert_str_eq(why, "sum overflows");
}

Test(parse_blkio, sums_read_write)
{
	uint64_t r, w;
	const char *why = NULL;
	cr_assert_eq(metrics_parse_blkio(S("8:0 Read 4096\n8:0 Write 8192\n"
					   "8:0 Sync 0\n8:0 Total 12288\n"
					   "8:16 Read 100\nTotal 12388\n"),
					 &r, &w, &why),
		     0, "%s", why);
	cr_assert_eq(r, 4196);
	cr_assert_eq(w, 8192);
	cr_assert_eq(metrics_parse_blkio(S("Read 1\n"), &r, &w, &why),
		     ERR_PARSE);
	cr_assert_str_eq(why, "line does not start with MAJ:MIN");
	cr_assert_eq(metrics_parse_blkio(S("8:0\n"), &r, &w, &why), ERR_PARSE);
	cr_assert_str_eq(why, "no operation after MAJ:MIN");
	cr_assert_eq(metrics_parse_blkio(S("8:0 Read\n"), &r, &w, &why),
		     ERR_PARSE);
	cr_assert_str_eq(why, "no value after the operation");
	cr_assert_eq(metrics_parse_blkio(S("8:0 Read 1x\n"), &r, &w, &why),
		     ERR_PARSE);
	cr_assert_str_eq(why, "value is not an integer");
	cr_assert_eq(metrics_parse_blkio(S("8:0 Read 18446744073709551615\n"
					   "8:1 Read 1\n"),
					 &r, &w, &why),
		     ERR_PARSE);
	cr_assert_str_eq(why, "sum overflows");
}

Test(parse_keyed, finds_key_exactly)
{
	uint64_t v;
	const char *why = NULL;
	const char *in = "nr_periods 100\nnr_throttled 25\nthrottled_usec 4\n";
	cr_assert_eq(metrics_parse_keyed(S(in), "nr_throttled", &v, &why), 0);
	cr_assert_eq(v, 25);
	cr_assert_eq(metrics_parse_keyed(S(in), "throttled", &v, &why),
		     ERR_NOTFOUND);
	cr_assert_eq(metrics_parse_keyed(S("user 1x\n"), "user", &v, &why),
		     ERR_PARSE);
	cr_assert_str_eq(why, "value is not an integer");
}
