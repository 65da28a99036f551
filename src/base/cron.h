/*
 * cron.h: five-field cron expressions (minute hour day-of-month month
 * day-of-week) as crontab(5) defines them: '*', lists, ranges, steps,
 * month and weekday names, 7 = Sunday, and the macros @yearly @annually
 * @monthly @weekly @daily @midnight @hourly. Day-of-month and day-of-week,
 * when both are restricted, match if either does (the crontab rule).
 * Times are UTC.
 */
#ifndef UMBRA_BASE_CRON_H
#define UMBRA_BASE_CRON_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

typedef struct cron {
	uint64_t minutes; /* bit m: minute m (0..59) */
	uint32_t hours;   /* bit h: 0..23 */
	uint32_t mdays;   /* bit d: 1..31 */
	uint16_t months;  /* bit m: 1..12 */
	uint8_t wdays;    /* bit d: 0..6, Sunday = 0 */
	bool mday_any, wday_any;
} cron_t;

/* 0, or ERR_PARSE with *why pointing to a static reason. */
int cron_parse(const char *expr, cron_t *out, const char **why);

/* True when the minute containing t (Unix seconds) matches. */
bool cron_matches(const cron_t *c, time_t t);

/* The first matching minute strictly after t (Unix seconds, aligned to the
 * minute), or -1 when none within 5 years (e.g. "0 0 30 2 *"). */
time_t cron_next(const cron_t *c, time_t t);

#endif
