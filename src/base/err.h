/*
 * err.h: umbra's error codes. Functions return 0 on success or a negative
 * code: either one of the ERR_* codes below or -errno for a system error
 * (libuv's convention, UV_ERRNO_MAP). One X-macro list yields the codes,
 * err_name() and err_str(), so a code, its name and its message cannot
 * drift apart.
 */
#ifndef UMBRA_BASE_ERR_H
#define UMBRA_BASE_ERR_H

/* X(NAME, value, message). Values sit below -1000, clear of every errno. */
#define ERR_MAP(X)                                                        \
	X(NOMEM, -1001, "out of memory")                                  \
	X(INVAL, -1002, "invalid argument")                               \
	X(PARSE, -1003, "malformed input")                                \
	X(RANGE, -1004, "value out of range")                             \
	X(TOOBIG, -1005, "input too large")                               \
	X(EOF, -1006, "unexpected end of input")                          \
	X(AGAIN, -1007, "incomplete, try again with more input")          \
	X(CONFIG, -1008, "invalid configuration")                         \
	X(INSECURE, -1009, "file permissions too open for a secret")      \
	X(NOTFOUND, -1010, "not found")                                   \
	X(EXISTS, -1011, "already exists")                                \
	X(TIMEOUT, -1012, "timed out")                                    \
	X(CLOSED, -1013, "closed by peer")                                \
	X(FULL, -1014, "queue full")                                      \
	X(CORRUPT, -1015, "corrupt data")                                 \
	X(UNSUPPORTED, -1016, "not supported")                            \
	X(USAGE, -1017, "bad command-line usage")                         \
	X(BADSTATE, -1018, "operation not valid in the current state")

enum err_code {
	ERR_OK = 0,
#define ERR__ENUM(name, val, msg) ERR_##name = (val),
	ERR_MAP(ERR__ENUM)
#undef ERR__ENUM
};

/* "ERR_PARSE", or "ENOENT" for -ENOENT; "ERR_UNKNOWN" for anything else.
 * Returns a static string. */
const char *err_name(int code);

/* Human message for code: ours from ERR_MAP, strerror() for -errno.
 * Returns a static string (thread-safe). */
const char *err_str(int code);

#endif
