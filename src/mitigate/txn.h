/*
 * txn.h: restoring a snapshot into production's config directory as a
 * transaction (rollbacks and promotions). The live tree is, at every
 * instant a crash can see, either the tree before or the whole target;
 * every step is journaled before the next begins, and umbra finishes or
 * undoes an interrupted transaction at its next start.
 *
 * Two methods:
 *
 *   exchange  the target tree is staged beside the live directory, on
 *             the same file system (PARENT/.NAME.umbra-stage.ID), then
 *             the two directories trade places in one
 *             renameat2(RENAME_EXCHANGE); the old tree, now at the
 *             staging path, is removed. A config_dir that is a symlink
 *             is resolved first: the directory it points to is
 *             exchanged, and the link (a deploy tool's) stays as it was.
 *   files     where a directory exchange cannot be used: config_dir is
 *             a mount point (or holds one), it holds entries a snapshot
 *             cannot carry (sockets, FIFOs: other tools' files, left in
 *             place), or the file system refuses the exchange. Each
 *             changed file is staged beside itself (NAME.umbra-stage.ID),
 *             then all are renamed over their targets; an interruption
 *             before the journal says "switched" is undone by restoring
 *             the "from" snapshot file by file (each atomically).
 *
 * The journal is the snapshot store's file "txn" (written whole, fsync'd,
 * one at a time):
 *
 *   umbra-txn 1
 *   id ID                 the engine's action id
 *   kind KIND             rollback or promote
 *   state STATE           intent staged switched reloaded verified
 *                         finished undone
 *   method METHOD         exchange or files
 *   from SHA              the live tree's snapshot when it began (undo)
 *   to SHA                the target snapshot (in the store it came from)
 *   live PATH             the directory changed (real path)
 *   stage PATH            exchange: the staged tree
 *   stage_ino DEV INO     exchange: the staged directory's inode
 *   started NS            wall clock, for the record
 *   dir REL               files: a directory it created (repeated)
 *
 * Recovery (mit_txn_recover): intent or staged: undone, unless the
 * exchange already happened (the live directory is the staged inode),
 * which finishes it; switched or reloaded: finished (the old tree and
 * staged files removed); verified, finished, undone: only the clean-up.
 * Every leftover staging or temporary file of umbra's under the live
 * directory, and staging directories beside it, are removed.
 *
 * Threads: one transaction at a time per store, on the thread that owns
 * the store. The fault "txn_crash" (UMBRA_FAULTS=txn_crash=-K) kills the
 * process with SIGKILL at the K-th step of a transaction or a recovery,
 * for the crash tests.
 */
#ifndef UMBRA_MITIGATE_TXN_H
#define UMBRA_MITIGATE_TXN_H

#include "base/buf.h"
#include "mitigate/snapshot.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIT_TXN_KIND_MAX 16
#define MIT_TXN_MAX_JOURNAL (1u << 20) /* MAX_DIRS lines of ~1 KiB */
#define MIT_TXN_MAX_DIRS 1000 /* directories a files transaction makes */

typedef enum mit_txn_state {
	MIT_TXN_INTENT,
	MIT_TXN_STAGED,
	MIT_TXN_SWITCHED,
	MIT_TXN_RELOADED,
	MIT_TXN_VERIFIED,
	MIT_TXN_FINISHED,
	MIT_TXN_UNDONE,
	MIT_TXN__COUNT
} mit_txn_state_t;

typedef enum mit_txn_method { MIT_TXN_EXCHANGE, MIT_TXN_FILES } mit_txn_method_t;

typedef struct mit_txn mit_txn_t;

/* Told after each journaled step (t->state is the new one). */
typedef void (*mit_txn_step_cb)(void *arg, const mit_txn_t *t);

struct mit_txn {
	uint64_t id;
	char kind[MIT_TXN_KIND_MAX];
	mit_txn_state_t state;
	mit_txn_state_t was; /* recovery: the state it was interrupted in */
	mit_txn_method_t method;
	char from[MIT_SNAP_ID_LEN + 1], to[MIT_SNAP_ID_LEN + 1];
	char *live, *stage; /* owned */
	uint64_t stage_dev, stage_ino;
	int64_t started_ns;
	char **dirs; /* owned; relative to live */
	size_t ndirs;
	char why[256]; /* exchange not used, or what recovery did */
	/* not journaled */
	mit_txn_step_cb on_step;
	void *arg;
};

const char *mit_txn_state_name(mit_txn_state_t s);
const char *mit_txn_method_name(mit_txn_method_t m);

/* Begins a transaction on s's source: from is the snapshot (in s) of
 * the live tree now, to the target's id (in the store apply reads).
 * files_only forces the files method (tests; otherwise it is chosen).
 * Journals "intent". 0, or ERR_BADSTATE when a transaction is open (its
 * journal exists: recover first), or another error; err says why and
 * nothing changed. On success *t is owned by the caller until
 * mit_txn_close. */
int mit_txn_begin(mit_snaps_t *s, const char *kind, uint64_t id,
		  const char *from, const char *to, int64_t now_ns,
		  bool files_only, mit_txn_step_cb cb, void *arg, mit_txn_t *t,
		  buf_t *err);

/* Stages t->to (read and verified from src) and switches it in:
 * "staged", "switched". *changed: files written or removed. On an error
 * before the switch the transaction is undone ("undone"; t->state says
 * so) and the error returned with err set. */
int mit_txn_apply(mit_snaps_t *s, mit_txn_t *t, const mit_snaps_t *src,
		  size_t *changed, buf_t *err);

/* Journals a later step: MIT_TXN_RELOADED. 0 or a write error. */
int mit_txn_mark(mit_snaps_t *s, mit_txn_t *t, mit_txn_state_t st);

/* Ends t: journals its final state (MIT_TXN_VERIFIED, _FINISHED or
 * _UNDONE), removes the journal and frees t's memory. 0 or the error of
 * removing the journal. */
int mit_txn_close(mit_snaps_t *s, mit_txn_t *t, mit_txn_state_t final);

/* At start, before anything reads the live tree: finishes or undoes the
 * transaction the journal names. 0: none (leftover staging files are
 * still removed); 1: *t filled (t->was, and t->state MIT_TXN_FINISHED,
 * _UNDONE or _VERIFIED, journaled; the caller audits it, then calls
 * mit_txn_close); negative: the journal is unreadable or the work
 * failed (err says which; the journal is left for a person). */
int mit_txn_recover(mit_snaps_t *s, mit_txn_t *t, buf_t *err);

/* Frees t's memory (not the journal). */
void mit_txn_free(mit_txn_t *t);

/* Parses journal text (untrusted: the store is a directory a person can
 * edit) into *t (new memory, mit_txn_free). 0, or ERR_CORRUPT with why
 * (static text) and *line (1-based). */
int mit_txn_parse(const char *text, size_t len, mit_txn_t *t, int *line,
		  const char **why);

#endif
