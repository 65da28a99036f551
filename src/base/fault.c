/*
 * fault.c: the fault table and its UMBRA_FAULTS parser (see fault.h).
 */
#include "base/fault.h"

#include "base/err.h"
#include "base/log.h"
#include "base/units.h"

#include <stdlib.h>
#include <string.h>

_Atomic int fault_armed[FAULT__COUNT];

static const char *const fault_names[] = {
#define FAULT__NAME(id, name) name,
	FAULT_MAP(FAULT__NAME)
#undef FAULT__NAME
};

void fault_arm(fault_id_t id, int err)
{
	atomic_store(&fault_armed[id], err);
}

int fault_arm_from_env(void)
{
	const char *env = getenv("UMBRA_FAULTS");
	if (!env || !*env)
		return 0;
	char tmp[512];
	if (strlen(env) >= sizeof(tmp))
		return ERR_TOOBIG;
	strcpy(tmp, env);
	char *save = NULL;
	for (char *tok = strtok_r(tmp, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		int64_t v = -5; /* -EIO unless a code is given */
		if (eq) {
			*eq = '\0';
			if (units_parse_i64(eq + 1, -100000, -1, &v, NULL)) {
				log_error("fault", "bad UMBRA_FAULTS value",
					  LF_S("fault", tok));
				return ERR_PARSE;
			}
		}
		size_t i;
		for (i = 0; i < FAULT__COUNT; i++)
			if (strcmp(tok, fault_names[i]) == 0)
				break;
		if (i == FAULT__COUNT) {
			log_error("fault", "unknown fault in UMBRA_FAULTS",
				  LF_S("fault", tok));
			return ERR_PARSE;
		}
		fault_arm((fault_id_t)i, (int)v);
		log_warn("fault", "fault armed", LF_S("fault", tok),
			 LF_I("err", v));
	}
	return 0;
}
