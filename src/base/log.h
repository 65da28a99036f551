/*
 * log.h: structured logging to stderr, one line per record, in logfmt
 * (default) or JSON:
 *
 *   ts=2026-11-27T04:29:51.123Z level=info mod=proxy msg="listening" addr=127.0.0.1:8080
 *   {"ts":"...","level":"info","mod":"proxy","msg":"listening","addr":"127.0.0.1:8080"}
 *
 * Fields are typed, so both formats quote correctly:
 *
 *   log_info("proxy", "listening", LF_S("addr", a), LF_I("workers", n));
 *
 * Each record is formatted in a stack buffer and written with one write(2),
 * so lines from different threads never interleave. Records longer than
 * LOG_LINE_MAX are truncated (and marked). The level and format are global
 * and set once at start (log_setup); reading them is lock-free.
 */
#ifndef UMBRA_BASE_LOG_H
#define UMBRA_BASE_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define LOG_LINE_MAX 4096 /* one write(2); longer values are cut */

typedef enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
	LOG_OFF,
} log_level_t;

typedef enum log_format { LOG_FMT_LOGFMT, LOG_FMT_JSON } log_format_t;

typedef enum log_ftype {
	LOG_F_END,
	LOG_F_STR,
	LOG_F_INT,
	LOG_F_UINT,
	LOG_F_DBL,
	LOG_F_BOOL,
	LOG_F_ERR,
} log_ftype_t;

typedef struct log_field {
	const char *key;
	log_ftype_t type;
	union {
		const char *s;
		int64_t i;
		uint64_t u;
		double d;
		bool b;
	} v;
} log_field_t;

#define LF_S(k, x) ((log_field_t){(k), LOG_F_STR, {.s = (x)}})
#define LF_I(k, x) ((log_field_t){(k), LOG_F_INT, {.i = (int64_t)(x)}})
#define LF_U(k, x) ((log_field_t){(k), LOG_F_UINT, {.u = (uint64_t)(x)}})
#define LF_F(k, x) ((log_field_t){(k), LOG_F_DBL, {.d = (double)(x)}})
#define LF_B(k, x) ((log_field_t){(k), LOG_F_BOOL, {.b = (x)}})
/* An error code: logged as its message, plus key_code=ERR_NAME. */
#define LF_ERR(k, x) ((log_field_t){(k), LOG_F_ERR, {.i = (x)}})

void log_setup(log_level_t level, log_format_t format);
/* Sends records to fd instead of stderr (tests); the caller owns fd. */
void log_set_fd(int fd);
log_level_t log_get_level(void);
bool log_enabled(log_level_t level);

/* Parses "debug|info|warn|error|off" / "logfmt|json"; 0 or ERR_INVAL. */
int log_level_parse(const char *s, log_level_t *out);
int log_format_parse(const char *s, log_format_t *out);
const char *log_level_name(log_level_t level);

/* fields is terminated by an entry of type LOG_F_END. */
void log_emit(log_level_t level, const char *mod, const char *msg,
	      const log_field_t *fields);

#define LOG__AT(lvl, mod, msg, ...)                                        \
	do {                                                              \
		if (log_enabled(lvl))                                     \
			log_emit((lvl), (mod), (msg),                     \
				 (const log_field_t[]){                   \
					 __VA_ARGS__ __VA_OPT__(, ){      \
						 NULL, LOG_F_END, {0}}}); \
	} while (0)

#define log_debug(mod, msg, ...) LOG__AT(LOG_DEBUG, mod, msg, __VA_ARGS__)
#define log_info(mod, msg, ...) LOG__AT(LOG_INFO, mod, msg, __VA_ARGS__)
#define log_warn(mod, msg, ...) LOG__AT(LOG_WARN, mod, msg, __VA_ARGS__)
#define log_error(mod, msg, ...) LOG__AT(LOG_ERROR, mod, msg, __VA_ARGS__)

/* ------------------------------------------------------------ rate limits
 *
 * A log line on a hot path (an accept loop out of descriptors, a peer
 * that keeps sending garbage) must not turn into a flood: such a call
 * site is written
 *
 *   log_warn_limited("proxy", "accept: out of file descriptors",
 *                    LF_I("worker", id));
 *
 * and emits at most one record per LOG_LIMIT_INTERVAL_NS, the first of
 * each interval, carrying suppressed=N: the records of that site dropped
 * since the last one emitted. Each call site has its own state (a static
 * log_limit_t), shared by every thread that runs it: lock-free (atomics). */
#define LOG_LIMIT_INTERVAL_NS 1000000000LL /* one line a second per site:
					      enough to see it is still
					      happening */

typedef struct log_limit {
	_Atomic int64_t next_ns;      /* the next record may go from then */
	_Atomic uint64_t suppressed;  /* dropped since the last one */
} log_limit_t;

/* true when a record may be emitted at now_ns (monotonic); then
 * *suppressed is how many were dropped since the previous one (and the
 * count restarts). false: this one is dropped and counted. */
bool log_limit_pass(log_limit_t *l, int64_t now_ns, int64_t interval_ns,
		    uint64_t *suppressed);

#define LOG__LIMITED(lvl, mod, msg, ...)                                   \
	do {                                                              \
		static log_limit_t log__lim_;                             \
		uint64_t log__sup_;                                       \
		if (log_enabled(lvl) &&                                   \
		    log_limit_pass(&log__lim_, log__mono_ns(),            \
				   LOG_LIMIT_INTERVAL_NS, &log__sup_))    \
			log_emit((lvl), (mod), (msg),                     \
				 (const log_field_t[]){                   \
					 __VA_ARGS__ __VA_OPT__(, )       \
					 LF_U("suppressed", log__sup_),   \
					 {NULL, LOG_F_END, {0}}});        \
	} while (0)

int64_t log__mono_ns(void);

#define log_warn_limited(mod, msg, ...)                                    \
	LOG__LIMITED(LOG_WARN, mod, msg, __VA_ARGS__)
#define log_info_limited(mod, msg, ...)                                    \
	LOG__LIMITED(LOG_INFO, mod, msg, __VA_ARGS__)
#define log_debug_limited(mod, msg, ...)                                   \
	LOG__LIMITED(LOG_DEBUG, mod, msg, __VA_ARGS__)

#endif
