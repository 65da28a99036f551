/*
 * drift.h: telling the moment production and shadow stop being twins.
 *
 * A fingerprint is a sorted list of key -> value items describing one
 * side: executable (path, SHA-256), argv, config files (SHA-256 of the
 * text the side runs, with the shadow's rendered placeholders taken back
 * to their template so the expected differences vanish), environment
 * (minus drift.env_ignore), shared libraries mapped (/proc/PID/maps),
 * kernel release, resource limits (/proc/PID/limits), cgroup limits
 * (production's scaled by the ratio) and listening sockets. Comparing
 * two fingerprints gives a drift report: the differing keys, and for
 * config files a unified diff and the first differing line.
 *
 * The watcher compares every drift.interval and at once on inotify events
 * in the config directories; each new difference is a finding (logged,
 * and passed to a callback for alerting), and each change of a side
 * against its own previous fingerprint is a configuration-change event
 * (for the analysis's context).
 *
 * Drift is between production and the shadow only: the baseline is
 * production's copy by construction (provision.h) and follows
 * production's config files (prov_baseline_sync), so it is neither
 * fingerprinted nor compared.
 */
#ifndef UMBRA_PROVISION_DRIFT_H
#define UMBRA_PROVISION_DRIFT_H

#include "base/buf.h"
#include "provision/provision.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The sides drift compares: PROV_PRODUCTION and PROV_SHADOW. */
#define PROV_DRIFT_SIDES 2

/* ------------------------------------------------------------ fingerprints */
typedef enum prov_fp_part {
	PROV_FP_EXE = 1 << 0,
	PROV_FP_ARGV = 1 << 1,
	PROV_FP_CONFIG = 1 << 2,
	PROV_FP_ENV = 1 << 3,
	PROV_FP_LIBS = 1 << 4,
	PROV_FP_KERNEL = 1 << 5,
	PROV_FP_LIMITS = 1 << 6,
	PROV_FP_CGROUP = 1 << 7,
	PROV_FP_LISTEN = 1 << 8,
} prov_fp_part_t;
/* Parts that need a running process. */
#define PROV_FP_RUNTIME (PROV_FP_LIBS | PROV_FP_LIMITS | PROV_FP_LISTEN)

#define PROV_FP_TEXT_MAX (1024 * 1024) /* config files kept for diffs */

typedef struct prov_fp_item {
	char *key;   /* "argv[1]", "config:app.conf", "env:LANG", "exe" ... */
	char *value; /* normalised value, or "sha256:<hex>" */
	char *text;  /* config files: normalised text (NULL: binary, big) */
	size_t text_len;
	char *path;    /* config files: the file on disk */
	unsigned part; /* prov_fp_part_t */
} prov_fp_item_t;

typedef struct prov_fp {
	prov_side_t side;
	int pid;	/* the replica fingerprinted; 0 = not running */
	unsigned parts; /* prov_fp_part_t collected */
	prov_fp_item_t *v;
	size_t n, cap;
} prov_fp_t;

/* What to fingerprint. */
typedef struct prov_fp_src {
	const prov_spec_t *spec;
	int pid;  /* 0: not running; runtime parts are skipped */
	int port; /* the replica's port (normalised to {port}) */
	/* The side's cgroup dirs ("" none) and versions. */
	const char *cg_cpu, *cg_mem;
	int cg_cpu_ver, cg_mem_ver;
	double scale;	  /* production: the shadow ratio; shadow: 1 */
	uint64_t mem_min; /* production: the shadow's memory floor */
	const config_strv_t *env_ignore;
	/* drift.ignore: key patterns ('*' matches anything, '/' too; the
	 * rest is literal: "argv[00]",
	 * "env:SSH_*", "config:*.log") whose items are left out of the
	 * fingerprint. NULL: none. */
	const config_strv_t *ignore;
	/* Keys whose values never appear in a fingerprint or diff
	 * (mask.sensitive_keys, substrings, any case): environment values
	 * and argv values are hashed, config lines redacted in the kept
	 * text (the file hash still covers them). NULL: none. */
	const config_strv_t *sensitive;
	const char *marker;    /* mask.redact_marker */
	const char *proc_root; /* NULL: /proc */
} prov_fp_src_t;

/* Appends text t[0..n) to out with the value of every line that names a
 * sensitive key (a substring of the line, any case) replaced by marker
 * (NULL: "[REDACTED]") after the line's first '=' or ':'. For config
 * files shown in drift diffs and snapshot diffs. */
void prov_mask_text(const config_strv_t *sensitive, const char *marker,
		    const char *t, size_t n, buf_t *out);

/* Whether key matches a drift.ignore pattern. */
bool prov_fp_ignored(const config_strv_t *ignore, const char *key);
/* Collects the fingerprint of src into out (which it initialises).
 * Unreadable parts are left out (and not in out->parts). 0 always. */
int prov_fp_collect(const prov_fp_src_t *src, prov_fp_t *out);
void prov_fp_free(prov_fp_t *fp);
/* Adds an item (copies the strings); keeps the list sorted by key. */
void prov_fp_add(prov_fp_t *fp, unsigned part, const char *key,
		 const char *value, const char *text, size_t text_len,
		 const char *path);
const prov_fp_item_t *prov_fp_get(const prov_fp_t *fp, const char *key);
/* One item per line: "key = value". */
void prov_fp_print(const prov_fp_t *fp, buf_t *out);

/* ------------------------------------------------------------ comparison */
typedef struct prov_drift_item {
	char *key;
	char *production, *shadow; /* values; NULL when absent there */
	char *file;		   /* config files: production's path */
	int line;		   /* first differing line, 0 = n/a */
	char *diff;		   /* config files: unified diff, or NULL */
} prov_drift_item_t;

typedef struct prov_drift_report {
	prov_drift_item_t *v;
	size_t n, cap;
} prov_drift_report_t;

/* Appends to out every key whose values differ, over the parts both
 * fingerprints collected. */
void prov_fp_compare(const prov_fp_t *prod, const prov_fp_t *shadow,
		     prov_drift_report_t *out);
/* The keys of a and b that differ, as the change events of one side
 * (a = before, b = after), same shape: production = before. */
void prov_fp_changes(const prov_fp_t *before, const prov_fp_t *after,
		     prov_drift_report_t *out);
void prov_drift_report_free(prov_drift_report_t *r);
/* Human text: one block per item, diffs included. */
void prov_drift_report_print(const prov_drift_report_t *r, buf_t *out);

/* ------------------------------------------------------------ line diff */
#define PROV_DIFF_CONTEXT   3	   /* lines around a change, as diff -u */
#define PROV_DIFF_MAX_LINES 100000 /* per side; more is not a config */
/* Myers' D: its trace is O(D^2) memory (4 MB at 1000); beyond, a summary
 * only, which is what a reader could use anyway. */
#define PROV_DIFF_MAX_EDITS 1000

typedef struct prov_edit {
	char op;     /* '=' both, '-' only in a, '+' only in b */
	size_t a, b; /* line index in a and b (the one that applies) */
} prov_edit_t;

/* The shortest edit script from a to b by lines (Myers 1986, "An O(ND)
 * Difference Algorithm and Its Variations", greedy forward search).
 * *edits is new (free it). 0, or ERR_TOOBIG past the bounds above. */
int prov_diff_script(const char *a, size_t alen, const char *b, size_t blen,
		     prov_edit_t **edits, size_t *n);

/* A unified diff (---/+++ headers, @@ hunks, PROV_DIFF_CONTEXT lines of
 * context) of a and b appended to out; *first_line (when not NULL) gets
 * the 1-based line in a of the first change (in b when a has none).
 * Returns 0 when equal, 1 when different, ERR_TOOBIG when the difference
 * is past the bounds (then out holds a one-line summary). */
int prov_diff_unified(const char *a, size_t alen, const char *b, size_t blen,
		      const char *aname, const char *bname, buf_t *out,
		      int *first_line);

/* ------------------------------------------------------------ watcher */
/* A drift finding: the report at the moment the two sides started to
 * differ (or differ differently), or resolved when they agree again. */
typedef struct prov_drift_finding {
	int64_t wall_ns;
	const char *service;
	const char *trigger; /* "start", "interval", "inotify:app.conf" */
	const prov_drift_report_t *report; /* empty when resolved */
	bool resolved;
} prov_drift_finding_t;

/* A configuration-change event: one side's item changed from before. */
typedef struct prov_change_ev {
	int64_t wall_ns;
	const char *service;
	prov_side_t side;
	const prov_drift_item_t *item; /* production = before, shadow = after */
} prov_change_ev_t;

typedef struct prov_drift_hooks {
	void (*on_finding)(const prov_drift_finding_t *f, void *arg);
	void (*on_change)(const prov_change_ev_t *ev, void *arg);
	void *arg;
} prov_drift_hooks_t;

typedef struct prov_drift prov_drift_t;

/* A watcher over p's two sides, on p's loop: a timer every
 * drift.interval and, when drift.watch, inotify on the config dirs.
 * Borrows p (which must outlive it). hooks may be NULL (logging only).
 * 0 or a negative error with err set. */
int prov_drift_new(prov_t *p, const prov_drift_hooks_t *hooks,
		   prov_drift_t **out, buf_t *err);
/* Compares now (trigger names why, for the log). */
void prov_drift_check(prov_drift_t *d, const char *trigger);
void prov_drift_free(prov_drift_t *d);

/* For `umbra drift`: fingerprints both sides of cfg from the spec and,
 * when `umbra run` is running them, from the live processes (found
 * through <work_dir>/state). Fills fps[PROV_DRIFT_SIDES] and rep. 0 or a
 * negative error with err set. */
int prov_drift_snapshot(const config_t *cfg, prov_fp_t fps[PROV_DRIFT_SIDES],
			prov_drift_report_t *rep, buf_t *err);

#endif
