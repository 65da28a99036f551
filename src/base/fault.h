/*
 * fault.h: fault injection for tests (SQLite's sqlite3FaultSim). Code that
 * does disk or network I/O asks fault_sim(FAULT_X) first and, when it
 * returns a non-zero error, behaves as if the call had failed with it.
 * Tests arm a fault through fault_arm() or the UMBRA_FAULTS environment
 * variable ("store_write=-28,upstream_connect=-111"; values are negative
 * error codes, -28 = -ENOSPC). Unarmed, fault_sim costs one relaxed load.
 */
#ifndef UMBRA_BASE_FAULT_H
#define UMBRA_BASE_FAULT_H

#include <stdatomic.h>

#define FAULT_MAP(X)                                                       \
	X(STORE_WRITE, "store_write")                                     \
	X(STORE_OPEN, "store_open")                                       \
	X(UPSTREAM_CONNECT, "upstream_connect")                           \
	X(SHADOW_CONNECT, "shadow_connect")                               \
	X(CAPTURE_WRITE, "capture_write")                                 \
	X(CONFIG_READ, "config_read")                                     \
	X(TXN_CRASH, "txn_crash") /* -K: SIGKILL at a restore's K-th step */

typedef enum fault_id {
#define FAULT__ENUM(id, name) FAULT_##id,
	FAULT_MAP(FAULT__ENUM)
#undef FAULT__ENUM
	FAULT__COUNT
} fault_id_t;

extern _Atomic int fault_armed[FAULT__COUNT];

/* 0, or the error to pretend the guarded call returned. */
static inline int fault_sim(fault_id_t id)
{
	return atomic_load_explicit(&fault_armed[id], memory_order_relaxed);
}

void fault_arm(fault_id_t id, int err);
/* Reads UMBRA_FAULTS; 0 or ERR_PARSE naming nothing (logs the bad entry). */
int fault_arm_from_env(void);

#endif
