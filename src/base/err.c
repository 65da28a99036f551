/*
 * err.c: names and messages for the codes of err.h. System errors are
 * named through strerrorname_np/strerrordesc_np (glibc >= 2.32), which are
 * thread-safe and return static strings, unlike strerror().
 */
#include "base/err.h"

#include <string.h>

const char *err_name(int code)
{
	switch (code) {
	case ERR_OK:
		return "OK";
#define ERR__NAME(name, val, msg)                                          \
	case ERR_##name:                                                  \
		return "ERR_" #name;
		ERR_MAP(ERR__NAME)
#undef ERR__NAME
	default:
		break;
	}
	if (code < 0 && code > -4096) {
		const char *n = strerrorname_np(-code);
		if (n)
			return n;
	}
	return "ERR_UNKNOWN";
}

const char *err_str(int code)
{
	switch (code) {
	case ERR_OK:
		return "success";
#define ERR__STR(name, val, msg)                                           \
	case ERR_##name:                                                  \
		return msg;
		ERR_MAP(ERR__STR)
#undef ERR__STR
	default:
		break;
	}
	if (code < 0 && code > -4096) {
		const char *d = strerrordesc_np(-code);
		if (d)
			return d;
	}
	return "unknown error";
}
