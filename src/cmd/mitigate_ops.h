/*
 * mitigate_ops.h: the mitigation engine's actuators (mit_ops_t) on the
 * real provisioner and proxy. The engine may not depend on the proxy
 * (DESIGN.md: mitigate uses analysis, metrics, provision), so the command
 * layer joins them, as analysis_config.h does for the analysis. Used by
 * `umbra run` (the lead wires it), `umbra stress` and the e2e driver.
 */
#ifndef UMBRA_CMD_MITIGATE_OPS_H
#define UMBRA_CMD_MITIGATE_OPS_H

#include "mitigate/mitigate.h"
#include "provision/provision.h"
#include "proxy/proxy.h"

#include <jansson.h>
#include <stdbool.h>

/* The state behind the ops: borrowed prov and proxy (either may be NULL:
 * the ops that need it say ERR_UNSUPPORTED), and the last rolling
 * restart's result. Lives as long as the engine. */
typedef struct cmd_mit_live {
	prov_t *prov;
	proxy_t *px;
	bool rolling, restart_ok;
	char restart_why[256];
	/* The shadow's limits before any squeeze (read once). */
	bool have_limits;
	prov_limits_t shadow_normal;
} cmd_mit_live_t;

/* Ops over l (borrowed). */
mit_ops_t cmd_mit_ops(cmd_mit_live_t *l);

/* A stress run as JSON (umbra stress --json, GET /api/v1/stress): its
 * state, points (the curve), per-lever results and capacity; prod_rps
 * (NaN: unknown) is production's load during the run. New reference. */
json_t *cmd_stress_json(const mit_stress_t *t, double prod_rps);

#endif
