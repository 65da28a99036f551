/*
 * replay.h: sending recorded traffic to a target. Each request is sent at
 * its recorded offset from the first one divided by the speed (or as fast
 * as the connections allow), on a pool of keep-alive connections, and
 * each response is compared with the recorded one by the proxy's
 * comparator (src/compare, the config's mirror.compare rules). Heads go
 * out byte for byte as recorded, except Host when asked to rewrite it
 * and a Content-Length that must match a body the capture cut short;
 * bodies recorded de-chunked go out as one chunk when the head says
 * chunked.
 *
 * Single-threaded (one libevent loop): the schedule, not the CPU, is the
 * limit at the rates a test rig replays; `bench/capture.sh` measures how
 * close the achieved rate comes to the requested one.
 */
#ifndef UMBRA_CAPTURE_REPLAY_H
#define UMBRA_CAPTURE_REPLAY_H

#include "base/addr.h"
#include "capture/stats.h"
#include "compare/compare.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define REPLAY_MAX_CONNECTIONS 4096
#define REPLAY_EXAMPLES 5 /* differing responses described in the summary */

struct cap_replay_result;

typedef struct cap_replay_opts {
	const char *file;
	addr_t target;
	double speed;          /* 1 = as recorded, 2 = twice as fast; 0 = max */
	bool loop;             /* start over at the end (until stopped) */
	int connections;       /* at most this many at once */
	const char *host;      /* Host to send; NULL keeps the recorded one */
	const cap_filter_t *filter;
	cmp_rules_t rules;
	int64_t timeout;       /* per request, ns */
	int64_t duration;      /* stop after (ns); 0 = none */
	uint64_t max_requests; /* stop after; 0 = none */
	const volatile int *stop;
	/* called about 4 times a second (progress line) */
	void (*progress)(void *arg, const struct cap_replay_result *r,
			 uint64_t total, int64_t eta_ns);
	void *progress_arg;
	bool count_first;      /* read the file once first for the total */
} cap_replay_opts_t;

typedef enum cap_replay_err {
	CAP_RE_CONNECT,  /* refused, unreachable */
	CAP_RE_TIMEOUT,  /* no (complete) response in time */
	CAP_RE_RESET,    /* closed mid-response */
	CAP_RE_PROTOCOL, /* not an HTTP response */
	CAP_RE__COUNT
} cap_replay_err_t;

typedef struct cap_replay_example {
	char request[160]; /* "GET /users/7" */
	char reasons[64];  /* "status,json" */
	char paths[160];   /* differing JSON paths */
	int recorded, got; /* statuses */
} cap_replay_example_t;

typedef struct cap_replay_result {
	uint64_t read, filtered, skipped; /* records read, filtered out,
					     unusable (unparseable head) */
	/* The capture's own losses (its LOSS records, first pass only):
	 * requests the source saw that the file does not hold, so the
	 * replay does not send them either. */
	uint64_t capture_lost[CAP_LOSS__COUNT];
	uint64_t sent, responses, cancelled;
	uint64_t errors[CAP_RE__COUNT];
	uint64_t status[600]; /* [0]: none */
	uint64_t compared, matched, differed, uncompared;
	uint64_t diff_reasons[8]; /* by bit of REQREC_DIFF_* */
	uint64_t bodies_adjusted; /* cut bodies sent with a fixed length */
	uint64_t loops;
	cap_hist_t latency_us, lag_us;
	int64_t elapsed_ns;        /* first send to last response */
	int64_t send_span_ns;      /* first send to last send */
	int64_t recorded_span_ns;  /* the same requests, as recorded */
	double speed;
	double target_rate, achieved_rate; /* req/s; target 0 at max */
	cap_replay_example_t examples[REPLAY_EXAMPLES];
	size_t nexamples;
	char file_error[640]; /* where a damaged file stopped */
} cap_replay_result_t;

/* Runs the replay to the end (or stop/duration/max_requests). Returns 0
 * (the result says how it went, including errors and a damaged file's
 * stop), or an error with err filled when nothing could start (file,
 * target resolution). */
int cap_replay_run(const cap_replay_opts_t *o, cap_replay_result_t *res,
		   char *err, size_t errcap);

/* The request as replay sends it: rec's head (Host replaced by host when
 * given, Content-Length fixed when the body was cut) and body (one chunk
 * when the head says chunked). Appends to out; 0 or ERR_PARSE. */
int cap_replay_wire(const cap_rec_t *rec, const char *host, buf_t *out,
		    bool *adjusted);

/* Parses "2x", "0.5x", "50%", "1", "max". 0 or ERR_PARSE. */
int cap_replay_parse_speed(const char *s, double *speed);

#endif
