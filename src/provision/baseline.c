/*
 * baseline.c: keeping the baseline on production's config. The baseline
 * (shadow.baseline) exists to answer as production does, so its config
 * copy must follow production's files: when the files of production's
 * config dir no longer match those the copy was made from (an operator's
 * edit, a rollback or promotion that restored production's files), the
 * copy is made again and the baseline restarted. The daemon calls
 * prov_baseline_sync when the drift watcher sees production's config
 * change; the comparison is by digest, so a call without a change costs
 * one read of the files and does nothing.
 */
#include "provision/prov_int.h"

#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <stdlib.h>
#include <string.h>

/* One line per file into the digest's input: name, NUL, content digest. */
static int sum_file(const char *rel, const char *full, void *arg)
{
	buf_t *b = arg;
	char hex[65];
	int rc = prov__sha256_file(full, hex);
	if (rc)
		return rc;
	buf_append(b, rel, strlen(rel) + 1);
	buf_puts(b, hex);
	buf_putc(b, '\n');
	return 0;
}

int prov__tree_sum(const char *root, char hex[65])
{
	buf_t b = BUF_INIT;
	int rc = prov__walk(root, sum_file, &b);
	if (!rc)
		prov__sha256(b.data ? b.data : "", b.len, hex);
	buf_free(&b);
	return rc;
}

int prov_baseline_sync(prov_t *p)
{
	const prov_spec_t *s = &p->spec[PROV_BASELINE];
	if (!p->started || p->stopping || !s->run || !s->copy_config)
		return 0;
	char now[65];
	int rc = prov__tree_sum(p->spec[PROV_PRODUCTION].config_src, now);
	if (rc) {
		log_warn("provision",
			 "cannot read production's config files; the baseline "
			 "keeps its copy",
			 LF_S("dir", p->spec[PROV_PRODUCTION].config_src),
			 LF_ERR("err", rc));
		return rc;
	}
	if (!strcmp(now, p->baseline_sum))
		return 0;
	buf_t err = BUF_INIT;
	rc = prov__config_copy(p, PROV_BASELINE, NULL, &err);
	if (rc) {
		log_error("provision",
			  "cannot copy production's config for the baseline; "
			  "it keeps the old copy",
			  LF_S("why", err.data ? err.data : err_str(rc)));
		buf_free(&err);
		return rc;
	}
	buf_free(&err);
	/* the digest of what was copied (production may have moved on
	 * meanwhile: the next call catches it) */
	char *src = xasprintf("%s/source", s->work_dir);
	if (prov__tree_sum(src, p->baseline_sum))
		p->baseline_sum[0] = '\0';
	free(src);
	log_info("provision",
		 "production's config changed: restarting the baseline on a "
		 "new copy",
		 LF_I("replicas", p->nrep[PROV_BASELINE]));
	for (int i = 0; i < p->nrep[PROV_BASELINE]; i++)
		if (p->rep[PROV_BASELINE][i])
			prov__replica_restart(p->rep[PROV_BASELINE][i]);
	return 1;
}
