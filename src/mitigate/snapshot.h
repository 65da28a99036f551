/*
 * snapshot.h: content-addressed snapshots of production's config files,
 * the known-good states a rollback returns to.
 *
 * A store is a directory (mode 0700; config files may hold secrets):
 *
 *   objects/ab/cdef...   file contents (or symlink targets), named by
 *                        their SHA-256, mode 0600, written once
 *   manifests/<id>       one snapshot: "f SHA MODE SIZE PATH" per file
 *                        ("l" for a symlink); <id> is the SHA-256 of the
 *                        manifest text, so identical trees share an id
 *   index                every snapshot: id, first taken, last current,
 *                        known-good since, files, bytes, reason; ordered
 *                        by when each last became current (last = now)
 *   hold                 present while automatic actions are held
 *
 * Taking a snapshot of an unchanged tree finds the same id and only
 * moves it to "current". A snapshot becomes known-good when the engine
 * says so (mitigation.soak without a critical finding). Restoring writes
 * each file atomically (temp file in the same directory + rename) and
 * removes files the snapshot does not have; all objects are read and
 * verified against their hashes before anything is written.
 *
 * Threads: one store is used by one thread at a time. Readers in other
 * processes (`umbra snapshots`) see whole files: the index and manifests
 * are replaced by rename.
 */
#ifndef UMBRA_MITIGATE_SNAPSHOT_H
#define UMBRA_MITIGATE_SNAPSHOT_H

#include "base/buf.h"
#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIT_SNAP_MAX_FILES 10000	   /* a config dir, not a disk */
#define MIT_SNAP_MAX_DEPTH 16		   /* directory nesting in it */
#define MIT_SNAP_MAX_FILE (16u << 20)	   /* one config file */
#define MIT_SNAP_MAX_TOTAL (256u << 20)	   /* one snapshot's files */
#define MIT_SNAP_MAX_PATH 1024		   /* a relative path */
#define MIT_SNAP_MAX_MANIFEST (12u << 20)  /* MAX_FILES lines of ~1.2 KiB */
#define MIT_SNAP_MAX_INDEX (16u << 20)	   /* index lines of ~250 bytes */
#define MIT_SNAP_REASON_MAX 96
#define MIT_SNAP_ID_LEN 64 /* hex SHA-256 */

typedef struct mit_snap_file {
	char *rel; /* path below the config dir; owned */
	char sha[MIT_SNAP_ID_LEN + 1];
	unsigned mode; /* permission bits (07777) */
	bool link;     /* a symlink; the object is its target */
	uint64_t size;
} mit_snap_file_t;

typedef struct mit_snap_info {
	char id[MIT_SNAP_ID_LEN + 1];
	int64_t taken_ns; /* first taken */
	int64_t seen_ns;  /* last became current */
	int64_t good_ns;  /* known-good since; 0 = not (yet) */
	uint64_t nfiles, bytes;
	char reason[MIT_SNAP_REASON_MAX]; /* why it was first taken */
} mit_snap_info_t;

typedef struct mit_snaps mit_snaps_t;

/* Opens the store at dir for the config files under source (production's
 * config_dir), keeping at most keep snapshots. With create, makes dir
 * (0700); without, a missing store is ERR_NOTFOUND. 0 or a negative
 * error with err set; *out is new (mit_snaps_close). */
int mit_snaps_open(const char *dir, const char *source, int keep, bool create,
		   mit_snaps_t **out, buf_t *err);
void mit_snaps_close(mit_snaps_t *s);

/* Snapshots source now: a new snapshot (*is_new), or the existing one
 * with the same content, which becomes current again. Fills *out. 0 or a
 * negative error with err set (nothing changed in the index then). Old
 * snapshots beyond keep are dropped: never a known-good one while it is
 * the latest known-good, never the current one. */
int mit_snaps_take(mit_snaps_t *s, int64_t now_ns, const char *reason,
		   mit_snap_info_t *out, bool *is_new, buf_t *err);

/* Marks snapshot id known-good at now. 0, ERR_NOTFOUND, or a write
 * error. */
int mit_snaps_mark_good(mit_snaps_t *s, const char *id, int64_t now_ns);

/* Snapshots, newest (current) first: i = 0 .. count-1. */
size_t mit_snaps_count(const mit_snaps_t *s);
const mit_snap_info_t *mit_snaps_at(const mit_snaps_t *s, size_t i);

/* The snapshot ref names: "current", "good" (the latest known-good), or
 * an id prefix of at least 4 hex digits that is unique. 0 and *out, or
 * ERR_NOTFOUND / ERR_INVAL (ambiguous or malformed) with err set. */
int mit_snaps_find(const mit_snaps_t *s, const char *ref,
		   mit_snap_info_t *out, buf_t *err);

/* The files of snapshot id, sorted by path. *files is new (free with
 * mit_snap_files_free). 0 or a negative error with err set. */
int mit_snaps_files(const mit_snaps_t *s, const char *id,
		    mit_snap_file_t **files, size_t *n, buf_t *err);
void mit_snap_files_free(mit_snap_file_t *files, size_t n);

/* Appends the content of object sha to out, checked against its hash.
 * 0, ERR_NOTFOUND, ERR_CORRUPT or a read error. */
int mit_snaps_object(const mit_snaps_t *s, const char *sha, buf_t *out);

/* Restores snapshot id into dst (normally the source). On success
 * *changed gets the number of files written or removed (0: dst already
 * was the snapshot). Files equal to the snapshot are not touched. On
 * error err says which file; files before it were restored. */
int mit_snaps_restore(const mit_snaps_t *s, const char *id, const char *dst,
		      size_t *changed, buf_t *err);

/* A unified diff from snapshot a to snapshot b (ids or refs as
 * mit_snaps_find takes; "" for the live source tree), per file, with lines naming a sensitive key redacted
 * (sensitive may be NULL). Returns 0 when equal, 1 when different, or a
 * negative error with err set. */
int mit_snaps_diff(const mit_snaps_t *s, const char *a, const char *b,
		   const config_strv_t *sensitive, const char *marker,
		   buf_t *out, buf_t *err);

/* The hold marker: set with a reason, cleared, or read (0 and the reason
 * in out when held, ERR_NOTFOUND when not). */
int mit_snaps_hold_set(mit_snaps_t *s, const char *reason);
int mit_snaps_hold_clear(mit_snaps_t *s);
int mit_snaps_hold_get(const mit_snaps_t *s, buf_t *out);

const char *mit_snaps_dir(const mit_snaps_t *s);
const char *mit_snaps_source(const mit_snaps_t *s);

/* ------------------------------------------------------------ parsers */

/* Parses manifest text (untrusted: the store is a directory a person can
 * edit) into new files. Paths must be relative, without "..", "." or
 * empty components, control characters or a trailing '/'. 0, or
 * ERR_CORRUPT with why (static text) and *line (1-based). */
int mit_snap_manifest_parse(const char *text, size_t len,
			    mit_snap_file_t **files, size_t *n, int *line,
			    const char **why);

/* Parses index text into new infos (oldest first). Same conventions. */
int mit_snap_index_parse(const char *text, size_t len, mit_snap_info_t **out,
			 size_t *n, int *line, const char **why);

/* Whether rel is an acceptable relative path (see the manifest rules). */
bool mit_snap_path_ok(const char *rel, size_t len);

#endif
