/*
 * shadow_config.c: replacing the shadow's config copy while umbra runs,
 * for proposals (`umbra propose`): a candidate config directory becomes
 * the shadow's template (<work_dir>/source) and is rendered into its
 * config dir, exactly as prov_start prepares it; later the shadow's usual
 * source (production's config_dir) is put back the same way. The running
 * replicas keep what they read: a rolling restart of the shadow makes
 * them read the new files. Production is never touched. The baseline's
 * copy is refreshed the same way (prov__config_copy), from production's
 * files only (baseline.c).
 */
#include "provision/prov_int.h"

#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int prov_shadow_config(prov_t *p, const char *src, buf_t *err)
{
	return prov__config_copy(p, PROV_SHADOW, src, err);
}

int prov__config_copy(prov_t *p, prov_side_t side, const char *src,
		      buf_t *err)
{
	const prov_spec_t *s = &p->spec[side];
	if (!p->started || p->stopping || !s->run || !s->copy_config) {
		buf_printf(err,
			   "umbra does not run the %s with a copy of the "
			   "config (%s not run, or no production.config_dir)",
			   prov_side_name(side), prov_side_name(side));
		return ERR_BADSTATE;
	}
	if (!src)
		src = s->config_src;
	struct stat st;
	if (stat(src, &st) || !S_ISDIR(st.st_mode)) {
		buf_printf(err, "%s is not a directory", src);
		return ERR_INVAL;
	}
	/* Copy first: an unreadable source changes nothing. */
	char *fresh = xasprintf("%s/source.new", s->work_dir);
	char *tmpl = xasprintf("%s/source", s->work_dir);
	prov__rmtree(fresh);
	int rc = prov__copytree(src, fresh, NULL, err);
	if (rc) {
		prov__rmtree(fresh);
		goto out;
	}
	prov__rmtree(tmpl);
	if (rename(fresh, tmpl)) {
		rc = ERR_INVAL;
		buf_printf(err, "cannot rename %s to %s", fresh, tmpl);
		goto out;
	}
	prov__rmtree(s->config_dir);
	prov_vars_t v = prov_spec_vars(
	    s, 0, p->rep[side][0] ? p->rep[side][0]->port : s->port);
	rc = prov__copytree(tmpl, s->config_dir, &v, err);
	if (!rc)
		rc = prov__creds_give(&s->creds, s->config_dir, err);
	if (!rc)
		log_info("provision", "config copy replaced",
			 LF_S("side", prov_side_name(side)), LF_S("from", src),
			 LF_S("config_dir", s->config_dir));
out:
	free(fresh);
	free(tmpl);
	return rc;
}
