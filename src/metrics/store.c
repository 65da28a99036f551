/*
 * store.c: the SQLite store (see store.h).
 *
 * Threads: callers append under `mu` into `pend` (points) and `ops`
 * (records); the writer thread swaps them out under `mu` and writes them
 * without it, so a caller waits at most for a memcpy, never for the disk.
 * What the writer could not commit stays in its own `work` list (counted
 * against memory_limit) and is retried first next time. The writer has
 * its own connection (`w`); reads go through `r`, guarded by `rmu`.
 *
 * Sequence numbers tie store_flush() to commits: every accepted point or
 * record takes the next `seq_appended`; the writer remembers the sequence
 * it took and, when all of it is committed, publishes it as
 * `seq_committed`. A failed attempt bumps `fail_gen`, which wakes flush
 * waiters with the error.
 */
#include "metrics/store.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/fault.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ schema */

/* Migration i (1-based) takes the database from version i-1 to i. Never
 * edit a released step; add one. */
static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE TABLE series(id INTEGER PRIMARY KEY, service TEXT NOT NULL,"
	" side TEXT NOT NULL, metric TEXT NOT NULL,"
	" endpoint TEXT NOT NULL DEFAULT '',"
	" UNIQUE(service, side, metric, endpoint));"
	"CREATE TABLE points(series INTEGER NOT NULL, ts INTEGER NOT NULL,"
	" value REAL NOT NULL, PRIMARY KEY(series, ts)) WITHOUT ROWID;"
	"CREATE TABLE rollups(series INTEGER NOT NULL, ts INTEGER NOT NULL,"
	" min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL,"
	" count INTEGER NOT NULL, PRIMARY KEY(series, ts)) WITHOUT ROWID;"
	"CREATE TABLE events(id INTEGER PRIMARY KEY, service TEXT NOT NULL,"
	" kind TEXT NOT NULL, side TEXT NOT NULL DEFAULT '',"
	" start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,"
	" text TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '{}');"
	"CREATE INDEX events_time ON events(service, start_ns);"
	"CREATE TABLE findings(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
	" service TEXT NOT NULL, metric TEXT NOT NULL,"
	" severity TEXT NOT NULL, summary TEXT NOT NULL DEFAULT '',"
	" evidence TEXT NOT NULL DEFAULT '{}');"
	"CREATE INDEX findings_time ON findings(service, ts);"
	"CREATE TABLE actions(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
	" service TEXT NOT NULL, kind TEXT NOT NULL, finding INTEGER,"
	" dry_run INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '',"
	" outcome TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '{}');"
	"CREATE INDEX actions_time ON actions(service, ts);"
	"CREATE TABLE snapshots(id TEXT PRIMARY KEY, service TEXT NOT NULL,"
	" created_ns INTEGER NOT NULL, good_ns INTEGER NOT NULL DEFAULT 0,"
	" manifest TEXT NOT NULL DEFAULT '{}', note TEXT NOT NULL DEFAULT '')"
	" WITHOUT ROWID;"
	"CREATE INDEX snapshots_service ON snapshots(service, created_ns);",
};
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) ==
		       STORE_SCHEMA_VERSION,
	       "one migration per schema version");

const char *store_migration_sql(int v)
{
	return v >= 1 && v <= STORE_SCHEMA_VERSION ? migrations[v - 1] : NULL;
}

/* ------------------------------------------------------------ types */

typedef struct point {
	uint32_t sid;
	int64_t ts;
	double v;
} point_t;

typedef struct pvec {
	point_t *v;
	size_t n, cap;
} pvec_t;

typedef enum { OP_EVENT, OP_FINDING, OP_ACTION, OP_SNAPSHOT, OP_GOOD } op_kind_t;

#define OP_STRS 6
typedef struct op {
	op_kind_t kind;
	int64_t id, i1, i2, i3; /* per kind, see write_op() */
	char *s[OP_STRS];
	size_t bytes;
	struct op *next;
} op_t;

typedef struct ser {
	char *service, *side, *metric, *endpoint;
	uint64_t hash;
} ser_t;

struct store {
	store_opts_t o;
	char *path;
	bool readonly;

	pthread_mutex_t mu;
	pthread_cond_t wake, done;
	pthread_t writer;
	bool running, stop;
	/* the checkpointer: its own thread and connection, so that a
	 * checkpoint's fsyncs never delay a commit */
	pthread_t ckpt;
	pthread_cond_t ckpt_wake;
	bool ckpt_running;

	/* under mu: what callers handed over */
	pvec_t pend;
	op_t *ops, *ops_tail;
	size_t ops_bytes;
	uint64_t seq_appended, seq_committed, fail_gen;
	bool flush_req;
	bool maint_req;
	int64_t maint_now;
	int maint_rc;
	uint64_t maint_done_gen;
	size_t work_n, work_ops_bytes; /* the writer's backlog, for the bound */
	bool dropping;
	int64_t last_id;
	store_stats_t stats;

	/* under mu: series handles (ser_t never move) */
	ser_t **ser;
	size_t nser, capser;
	uint32_t *hidx; /* open addressing: sid + 1, 0 = empty */
	size_t hcap;

	/* writer thread only */
	sqlite3 *w;
	sqlite3_stmt *ins_point;
	int64_t *dbid; /* by sid; 0 = not in the database yet */
	size_t ndbid;
	int64_t dirty_min; /* oldest point written since the last rollup */
	int64_t next_maint_mono, next_log_mono;

	/* readers */
	pthread_mutex_t rmu;
	sqlite3 *r;
};

/* ------------------------------------------------------------ errors */

/* A negative error for SQLite result rc on db. */
static int sql_err(sqlite3 *db, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_READONLY: return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH: return -EACCES;
	case SQLITE_NOMEM: return ERR_NOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: return ERR_CORRUPT;
	case SQLITE_CANTOPEN: {
		int e = db ? sqlite3_system_errno(db) : 0;
		return e ? -e : -ENOENT;
	}
	case SQLITE_IOERR: {
		int e = db ? sqlite3_system_errno(db) : 0;
		return e ? -e : -EIO;
	}
	default: return -EIO;
	}
}

static int exec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : sql_err(db, rc);
}

/* ------------------------------------------------------------ opening */

static int pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sql_err(db, rc);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else
		*out = 0;
	int r = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_err(db, rc);
	sqlite3_finalize(s);
	return r;
}

/* Checks the database is ours and, when writable, migrates it. */
static int check_schema(sqlite3 *db, const char *path, bool migrate)
{
	int64_t ver, app, tables;
	int rc = pragma_int(db, "PRAGMA user_version", &ver);
	if (!rc)
		rc = pragma_int(db, "PRAGMA application_id", &app);
	if (!rc)
		rc = pragma_int(db,
				"SELECT count(*) FROM sqlite_master WHERE "
				"name NOT LIKE 'sqlite_%'",
				&tables);
	if (rc)
		return rc;
	if (ver > STORE_SCHEMA_VERSION) {
		log_error("store", "database schema is newer than this umbra",
			  LF_S("path", path), LF_I("schema", ver),
			  LF_I("supported", STORE_SCHEMA_VERSION));
		return ERR_UNSUPPORTED;
	}
	if ((ver == 0 && tables > 0) || (ver > 0 && app != STORE_APP_ID)) {
		log_error("store", "not an umbra store", LF_S("path", path));
		return ERR_CORRUPT;
	}
	if (!migrate) {
		if (ver < STORE_SCHEMA_VERSION) {
			log_error("store",
				  ver == 0 ? "empty database, not an umbra store"
					   : "database schema is older; the "
					     "daemon migrates it",
				  LF_S("path", path), LF_I("schema", ver));
			return ver == 0 ? ERR_NOTFOUND : ERR_UNSUPPORTED;
		}
		return 0;
	}
	for (int64_t v = ver + 1; v <= STORE_SCHEMA_VERSION; v++) {
		char tail[96];
		snprintf(tail, sizeof(tail),
			 "PRAGMA user_version=%lld; PRAGMA application_id=%d;",
			 (long long)v, STORE_APP_ID);
		rc = exec(db, "BEGIN IMMEDIATE");
		if (!rc)
			rc = exec(db, migrations[v - 1]);
		if (!rc)
			rc = exec(db, tail);
		if (!rc)
			rc = exec(db, "COMMIT");
		if (rc) {
			exec(db, "ROLLBACK");
			log_error("store", "schema migration failed",
				  LF_S("path", path), LF_I("to", v),
				  LF_ERR("err", rc));
			return rc;
		}
		log_info("store", "schema migrated", LF_S("path", path),
			 LF_I("schema", v));
	}
	return 0;
}

/* The store's findings, evidence and event texts are the service's
 * behaviour: the database is made 0600 before SQLite opens it (SQLite
 * gives its -wal and -shm files the database's mode), and an existing
 * database, WAL or SHM file that group or others may read is refused
 * (fs_check_private). 0, ERR_INSECURE (logged, naming the file) or
 * -errno. */
static int private_files(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	struct stat sb;
	buf_t why = BUF_INIT;
	int rc = fstat(fd, &sb) ? -errno : fs_check_private(&sb, path, &why);
	close(fd);
	static const char *const side[] = {"-wal", "-shm"};
	for (size_t i = 0; !rc && i < 2; i++) {
		char *p = xasprintf("%s%s", path, side[i]);
		rc = fs_check_private_path(p, &why);
		if (rc == -ENOENT)
			rc = 0;
		free(p);
	}
	if (rc == ERR_INSECURE)
		log_error("store", "the store is not private",
			  LF_S("why", why.data));
	buf_free(&why);
	return rc;
}

/* Opens a connection. */
static int open_db(const char *path, bool readonly, sqlite3 **out)
{
	*out = NULL;
	int f = fault_sim(FAULT_STORE_OPEN);
	if (f)
		return f;
	if (!readonly) {
		/* 0700: the store holds the service's behaviour */
		int rc = fs_mkdirs_for(path, 0700);
		if (!rc)
			rc = private_files(path);
		if (rc)
			return rc;
	}
	sqlite3 *db;
	int flags = (readonly ? SQLITE_OPEN_READONLY
			      : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
		    SQLITE_OPEN_NOMUTEX;
	int rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		int e = sql_err(db, rc);
		sqlite3_close(db);
		return e;
	}
	sqlite3_extended_result_codes(db, 0);
	sqlite3_busy_timeout(db, 5000);
	*out = db;
	return 0;
}

/* The checkpointer: every CKPT_NS, copies the committed WAL frames into
 * the database file (PASSIVE: it never blocks the writer), with the two
 * fsyncs that synchronous=NORMAL puts there. In the writer's commits they
 * would stall a commit for as long as the disk takes, and the crash loss
 * bound with it. */
#define CKPT_NS (250 * NS_PER_MS)
static void *ckpt_main(void *arg)
{
	store_t *st = arg;
	sqlite3 *db = NULL;
	int rc = open_db(st->path, false, &db);
	if (rc)
		log_error("store", "checkpointer cannot open the store",
			  LF_S("path", st->path), LF_ERR("err", rc));
	pthread_mutex_lock(&st->mu);
	while (!st->stop) {
		struct timespec ts;
		int64_t t = clock_mono_ns() + CKPT_NS;
		ts.tv_sec = t / NS_PER_S;
		ts.tv_nsec = t % NS_PER_S;
		pthread_cond_timedwait(&st->ckpt_wake, &st->mu, &ts);
		if (st->stop || !db)
			continue;
		pthread_mutex_unlock(&st->mu);
		sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
					  NULL, NULL);
		pthread_mutex_lock(&st->mu);
	}
	pthread_mutex_unlock(&st->mu);
	if (db)
		sqlite3_close(db);
	return NULL;
}

/* The writer's connection: WAL, schema, statements. */
static int open_writer(store_t *st)
{
	sqlite3 *db;
	int rc = open_db(st->path, false, &db);
	if (rc)
		return rc;
	/* WAL: readers never block the writer; synchronous=NORMAL: a
	 * commit is durable against a process crash without an fsync per
	 * commit (only a power loss can lose the last commits, never the
	 * database) */
	sqlite3_stmt *s;
	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		bool wal = rc == SQLITE_ROW &&
			   strcmp((const char *)sqlite3_column_text(s, 0),
				  "wal") == 0;
		sqlite3_finalize(s);
		rc = wal ? 0 : rc == SQLITE_ROW ? -EIO : sql_err(db, rc);
	} else {
		rc = sql_err(db, rc);
	}
	if (!rc)
		rc = exec(db, "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0");
	if (!rc)
		rc = check_schema(db, st->path, true);
	if (!rc &&
	    sqlite3_prepare_v2(db,
			       "INSERT OR REPLACE INTO points(series, ts, value) "
			       "VALUES(?1, ?2, ?3)",
			       -1, &st->ins_point, NULL) != SQLITE_OK)
		rc = sql_err(db, sqlite3_errcode(db));
	if (rc) {
		sqlite3_finalize(st->ins_point);
		st->ins_point = NULL;
		sqlite3_close(db);
		return rc;
	}
	/* record ids continue after the largest stored */
	int64_t mx = 0, v;
	static const char *const maxq[] = {"SELECT max(id) FROM events",
					   "SELECT max(id) FROM findings",
					   "SELECT max(id) FROM actions"};
	for (int i = 0; i < 3; i++)
		if (pragma_int(db, maxq[i], &v) == 0 && v > mx)
			mx = v;
	pthread_mutex_lock(&st->mu);
	if (mx > st->last_id)
		st->last_id = mx;
	pthread_mutex_unlock(&st->mu);
	st->w = db;
	if (pthread_create(&st->ckpt, NULL, ckpt_main, st) == 0)
		st->ckpt_running = true;
	else /* fall back on SQLite's own checkpoints, in the commits */
		exec(db, "PRAGMA wal_autocheckpoint=1000");
	return 0;
}

void store_opts_from_config(store_opts_t *o, const config_t *cfg)
{
	memset(o, 0, sizeof(*o));
	o->path = cfg->store.path;
	o->flush_interval_ns = cfg->store.flush_interval;
	o->raw_retention_ns = cfg->store.raw_retention;
	o->rollup_retention_ns = cfg->store.rollup_retention;
	o->memory_limit = cfg->store.memory_limit;
}

static void *writer_main(void *arg);

int store_open(const store_opts_t *o, store_t **out)
{
	*out = NULL;
	if (!o->path || !o->path[0])
		return ERR_INVAL;
	store_t *st = xcalloc(1, sizeof(*st));
	st->o = *o;
	st->path = xstrdup(o->path);
	st->o.path = st->path;
	st->readonly = o->readonly;
	if (st->o.flush_interval_ns <= 0)
		st->o.flush_interval_ns = NS_PER_S;
	if (st->o.maintain_interval_ns <= 0)
		st->o.maintain_interval_ns = STORE_MAINTAIN_NS;
	if (st->o.memory_limit == 0)
		st->o.memory_limit = 64u << 20;
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->rmu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->wake, &ca);
	pthread_cond_init(&st->done, &ca);
	pthread_cond_init(&st->ckpt_wake, &ca);
	pthread_condattr_destroy(&ca);
	st->dirty_min = INT64_MAX;

	int rc;
	if (st->readonly) {
		rc = open_db(st->path, true, &st->r);
		if (!rc)
			rc = check_schema(st->r, st->path, false);
		if (rc) {
			store_close(st);
			return rc;
		}
		*out = st;
		return 0;
	}
	rc = open_writer(st);
	if (rc) {
		bool fatal = rc == ERR_CORRUPT || rc == ERR_UNSUPPORTED ||
			     rc == ERR_INSECURE;
		if (!o->degraded_start || fatal) {
			log_error("store", "cannot open the store",
				  LF_S("path", st->path), LF_ERR("err", rc));
			store_close(st);
			return rc;
		}
		log_error("store",
			  "cannot open the store: running without it, points "
			  "kept in memory, retrying",
			  LF_S("path", st->path), LF_ERR("err", rc),
			  LF_U("memory_limit", st->o.memory_limit));
		st->stats.degraded = true;
		st->stats.last_error = rc;
	}
	st->next_maint_mono = clock_mono_ns() + st->o.maintain_interval_ns;
	if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
		rc = -errno;
		store_close(st);
		return rc ? rc : -EAGAIN;
	}
	st->running = true;
	*out = st;
	return 0;
}

static void op_free(op_t *op)
{
	for (int i = 0; i < OP_STRS; i++)
		free(op->s[i]);
	free(op);
}

void store_close(store_t *st)
{
	if (!st)
		return;
	if (st->running) {
		pthread_mutex_lock(&st->mu);
		st->stop = true;
		pthread_cond_signal(&st->wake);
		pthread_mutex_unlock(&st->mu);
		pthread_join(st->writer, NULL);
	}
	if (st->ckpt_running) {
		pthread_mutex_lock(&st->mu);
		st->stop = true;
		pthread_cond_signal(&st->ckpt_wake);
		pthread_mutex_unlock(&st->mu);
		pthread_join(st->ckpt, NULL);
	}
	if (st->ins_point)
		sqlite3_finalize(st->ins_point);
	if (st->w)
		sqlite3_close(st->w);
	if (st->r)
		sqlite3_close(st->r);
	for (op_t *op = st->ops, *n; op; op = n) {
		n = op->next;
		op_free(op);
	}
	for (size_t i = 0; i < st->nser; i++) {
		ser_t *s = st->ser[i];
		free(s->service);
		free(s->side);
		free(s->metric);
		free(s->endpoint);
		free(s);
	}
	free(st->ser);
	free(st->hidx);
	free(st->dbid);
	free(st->pend.v);
	pthread_cond_destroy(&st->wake);
	pthread_cond_destroy(&st->done);
	pthread_cond_destroy(&st->ckpt_wake);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->rmu);
	free(st->path);
	free(st);
}

/* ------------------------------------------------------------ series */

static uint64_t key_hash(const char *a, const char *b, const char *c,
			 const char *d)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a over the four, \0-separated */
	const char *parts[4] = {a, b, c, d};
	for (int i = 0; i < 4; i++) {
		for (const char *p = parts[i]; *p; p++) {
			h ^= (unsigned char)*p;
			h *= 1099511628211ULL;
		}
		h ^= 0xff;
		h *= 1099511628211ULL;
	}
	return h;
}

static bool ser_is(const ser_t *s, uint64_t h, const store_key_t *k,
		   const char *ep)
{
	return s->hash == h && !strcmp(s->service, k->service) &&
	       !strcmp(s->side, k->side) && !strcmp(s->metric, k->metric) &&
	       !strcmp(s->endpoint, ep);
}

static void hidx_insert(store_t *st, uint32_t sid)
{
	size_t mask = st->hcap - 1;
	for (size_t i = st->ser[sid]->hash & mask;; i = (i + 1) & mask) {
		if (!st->hidx[i]) {
			st->hidx[i] = sid + 1;
			return;
		}
	}
}

int store_series(store_t *st, const store_key_t *k, store_sid_t *out)
{
	if (st->readonly || !k->service || !k->side || !k->metric ||
	    !k->service[0] || !k->side[0] || !k->metric[0])
		return ERR_INVAL;
	const char *ep = k->endpoint ? k->endpoint : "";
	uint64_t h = key_hash(k->service, k->side, k->metric, ep);
	pthread_mutex_lock(&st->mu);
	if (st->hcap) {
		size_t mask = st->hcap - 1;
		for (size_t i = h & mask; st->hidx[i]; i = (i + 1) & mask) {
			uint32_t sid = st->hidx[i] - 1;
			if (ser_is(st->ser[sid], h, k, ep)) {
				pthread_mutex_unlock(&st->mu);
				*out = sid;
				return 0;
			}
		}
	}
	if (st->nser >= STORE_MAX_SERIES) {
		pthread_mutex_unlock(&st->mu);
		return ERR_FULL;
	}
	if (st->nser == st->capser) {
		st->capser = st->capser ? st->capser * 2 : 64;
		st->ser = xreallocarray(st->ser, st->capser, sizeof(ser_t *));
	}
	ser_t *s = xmalloc(sizeof(*s));
	s->service = xstrdup(k->service);
	s->side = xstrdup(k->side);
	s->metric = xstrdup(k->metric);
	s->endpoint = xstrdup(ep);
	s->hash = h;
	uint32_t sid = (uint32_t)st->nser;
	st->ser[st->nser++] = s;
	/* load factor <= 1/2 */
	if (st->nser * 2 > st->hcap) {
		free(st->hidx);
		st->hcap = st->hcap ? st->hcap * 2 : 128;
		st->hidx = xcalloc(st->hcap, sizeof(uint32_t));
		for (uint32_t i = 0; i < st->nser; i++)
			hidx_insert(st, i);
	} else {
		hidx_insert(st, sid);
	}
	st->stats.series = st->nser;
	pthread_mutex_unlock(&st->mu);
	*out = sid;
	return 0;
}

/* Bytes the writer holds or will hold; under mu. */
static uint64_t held(const store_t *st)
{
	return (uint64_t)(st->pend.n + st->work_n) * sizeof(point_t) +
	       st->ops_bytes + st->work_ops_bytes;
}

/* Counts a drop; logs the first of an episode. Under mu. */
static void note_drop(store_t *st, bool record)
{
	if (record)
		st->stats.records_dropped++;
	else
		st->stats.dropped++;
	if (!st->dropping) {
		st->dropping = true;
		log_error("store",
			  "store memory bound reached: dropping new points "
			  "until the disk takes writes again",
			  LF_S("path", st->path),
			  LF_U("memory_limit", st->o.memory_limit),
			  LF_ERR("last_error", st->stats.last_error));
	}
}

int store_append(store_t *st, store_sid_t sid, int64_t ts_ns, double v)
{
	if (st->readonly || isnan(v))
		return ERR_INVAL;
	pthread_mutex_lock(&st->mu);
	if (sid >= st->nser) {
		pthread_mutex_unlock(&st->mu);
		return ERR_INVAL;
	}
	if (held(st) + sizeof(point_t) > st->o.memory_limit) {
		note_drop(st, false);
		pthread_mutex_unlock(&st->mu);
		return ERR_FULL;
	}
	pvec_t *p = &st->pend;
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 4096;
		p->v = xreallocarray(p->v, p->cap, sizeof(point_t));
	}
	p->v[p->n++] = (point_t){sid, ts_ns, v};
	st->seq_appended++;
	st->stats.appended++;
	/* a full batch wakes the writer early */
	if (p->n == STORE_BATCH_MAX)
		pthread_cond_signal(&st->wake);
	pthread_mutex_unlock(&st->mu);
	return 0;
}

int store_flush(store_t *st)
{
	if (st->readonly || !st->running)
		return ERR_BADSTATE;
	pthread_mutex_lock(&st->mu);
	uint64_t target = st->seq_appended, fg = st->fail_gen;
	st->flush_req = true;
	pthread_cond_signal(&st->wake);
	while (st->seq_committed < target && st->fail_gen == fg && !st->stop)
		pthread_cond_wait(&st->done, &st->mu);
	int rc = st->seq_committed >= target ? 0
		 : st->stats.last_error	     ? st->stats.last_error
					     : ERR_BADSTATE;
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_maintain(store_t *st, int64_t now_ns)
{
	if (st->readonly || !st->running)
		return ERR_BADSTATE;
	pthread_mutex_lock(&st->mu);
	while (st->maint_req) /* one request at a time */
		pthread_cond_wait(&st->done, &st->mu);
	uint64_t gen = st->maint_done_gen;
	st->maint_req = true;
	st->maint_now = now_ns;
	pthread_cond_signal(&st->wake);
	while (st->maint_done_gen == gen && !st->stop)
		pthread_cond_wait(&st->done, &st->mu);
	int rc = st->maint_done_gen != gen ? st->maint_rc : ERR_BADSTATE;
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ------------------------------------------------------------ records */

/* Queues op (taking it), setting its id. */
static int queue_op(store_t *st, op_t *op, int64_t *id)
{
	if (st->readonly) {
		op_free(op);
		return ERR_INVAL;
	}
	for (int i = 0; i < OP_STRS; i++)
		if (op->s[i] && strlen(op->s[i]) > STORE_TEXT_MAX) {
			op_free(op);
			return ERR_TOOBIG;
		}
	op->bytes = sizeof(*op);
	for (int i = 0; i < OP_STRS; i++)
		op->bytes += op->s[i] ? strlen(op->s[i]) + 1 : 0;
	pthread_mutex_lock(&st->mu);
	if (held(st) + op->bytes > st->o.memory_limit) {
		note_drop(st, true);
		pthread_mutex_unlock(&st->mu);
		/* the audit trail keeps it in the log at least */
		log_error("store", "record dropped (memory bound)",
			  LF_I("kind", op->kind), LF_S("service", op->s[0]),
			  LF_S("a", op->s[1]), LF_S("b", op->s[2]),
			  LF_S("c", op->s[3]), LF_S("d", op->s[4]));
		op_free(op);
		return ERR_FULL;
	}
	if (op->kind != OP_SNAPSHOT && op->kind != OP_GOOD) {
		int64_t now_us = clock_wall_ns() / 1000;
		st->last_id = now_us > st->last_id ? now_us : st->last_id + 1;
		op->id = st->last_id;
	}
	if (id)
		*id = op->id;
	op->next = NULL;
	if (st->ops_tail)
		st->ops_tail->next = op;
	else
		st->ops = op;
	st->ops_tail = op;
	st->ops_bytes += op->bytes;
	st->seq_appended++;
	pthread_mutex_unlock(&st->mu);
	return 0;
}

static char *dup0(const char *s)
{
	return xstrdup(s ? s : "");
}

int store_event_add(store_t *st, const store_event_t *ev, int64_t *id)
{
	op_t *op = xcalloc(1, sizeof(*op));
	op->kind = OP_EVENT;
	op->i1 = ev->start_ns;
	op->i2 = ev->end_ns;
	op->s[0] = dup0(ev->service);
	op->s[1] = dup0(ev->kind);
	op->s[2] = dup0(ev->side);
	op->s[3] = dup0(ev->text);
	op->s[4] = xstrdup(ev->detail && ev->detail[0] ? ev->detail : "{}");
	return queue_op(st, op, id);
}

int store_finding_add(store_t *st, const store_finding_t *f, int64_t *id)
{
	op_t *op = xcalloc(1, sizeof(*op));
	op->kind = OP_FINDING;
	op->i1 = f->ts_ns;
	op->s[0] = dup0(f->service);
	op->s[1] = dup0(f->metric);
	op->s[2] = dup0(f->severity);
	op->s[3] = dup0(f->summary);
	op->s[4] = xstrdup(f->evidence && f->evidence[0] ? f->evidence : "{}");
	return queue_op(st, op, id);
}

int store_action_add(store_t *st, const store_action_t *a, int64_t *id)
{
	op_t *op = xcalloc(1, sizeof(*op));
	op->kind = OP_ACTION;
	op->i1 = a->ts_ns;
	op->i2 = a->finding_id;
	op->i3 = a->dry_run;
	op->s[0] = dup0(a->service);
	op->s[1] = dup0(a->kind);
	op->s[2] = dup0(a->reason);
	op->s[3] = dup0(a->outcome);
	op->s[4] = xstrdup(a->detail && a->detail[0] ? a->detail : "{}");
	return queue_op(st, op, id);
}

int store_snapshot_put(store_t *st, const store_snapshot_t *s)
{
	if (!s->id || !s->id[0])
		return ERR_INVAL;
	op_t *op = xcalloc(1, sizeof(*op));
	op->kind = OP_SNAPSHOT;
	op->i1 = s->created_ns;
	op->i2 = s->good_ns;
	op->s[0] = dup0(s->service);
	op->s[1] = dup0(s->id);
	op->s[2] = xstrdup(s->manifest && s->manifest[0] ? s->manifest : "{}");
	op->s[3] = dup0(s->note);
	return queue_op(st, op, NULL);
}

int store_snapshot_mark_good(store_t *st, const char *id, int64_t good_ns)
{
	if (!id || !id[0])
		return ERR_INVAL;
	op_t *op = xcalloc(1, sizeof(*op));
	op->kind = OP_GOOD;
	op->i1 = good_ns;
	op->s[1] = xstrdup(id);
	return queue_op(st, op, NULL);
}

/* ------------------------------------------------------------ writer */

/* Binds s[i] as text at index idx. */
static void bind_s(sqlite3_stmt *q, int idx, const char *s)
{
	sqlite3_bind_text(q, idx, s ? s : "", -1, SQLITE_STATIC);
}

static int write_op(store_t *st, const op_t *op)
{
	static const char *const sql[] = {
		[OP_EVENT] = "INSERT OR REPLACE INTO events(id, service, kind,"
			     " side, text, detail, start_ns, end_ns)"
			     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
		[OP_FINDING] = "INSERT OR REPLACE INTO findings(id, service,"
			       " metric, severity, summary, evidence, ts)"
			       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
		[OP_ACTION] = "INSERT OR REPLACE INTO actions(id, service, kind,"
			      " reason, outcome, detail, ts, finding, dry_run)"
			      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
		[OP_SNAPSHOT] = "INSERT OR IGNORE INTO snapshots(service, id,"
				" manifest, note, created_ns, good_ns)"
				" VALUES(?2, ?3, ?4, ?5, ?7, ?8)",
		[OP_GOOD] = "UPDATE snapshots SET good_ns = ?7 WHERE id = ?3",
	};
	sqlite3_stmt *q;
	int rc = sqlite3_prepare_v2(st->w, sql[op->kind], -1, &q, NULL);
	if (rc != SQLITE_OK)
		return sql_err(st->w, rc);
	sqlite3_bind_int64(q, 1, op->id);
	for (int i = 0; i < 5; i++)
		if (op->s[i])
			bind_s(q, 2 + i, op->s[i]);
	sqlite3_bind_int64(q, 7, op->i1);
	sqlite3_bind_int64(q, 8, op->i2);
	sqlite3_bind_int64(q, 9, op->i3);
	if (op->kind == OP_ACTION && op->i2 == 0)
		sqlite3_bind_null(q, 8);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : sql_err(st->w, rc);
}

/* The database id of series sid, adding the row when new. The sids
 * resolved inside the current transaction are listed in *fresh so that
 * a rollback can forget them. */
static int resolve(store_t *st, uint32_t sid, int64_t *dbid, uint32_t **fresh,
		   size_t *nfresh, size_t *capfresh)
{
	if (sid < st->ndbid && st->dbid[sid]) {
		*dbid = st->dbid[sid];
		return 0;
	}
	pthread_mutex_lock(&st->mu);
	const ser_t *s = st->ser[sid];
	pthread_mutex_unlock(&st->mu);
	sqlite3_stmt *q;
	int rc = sqlite3_prepare_v2(
		st->w,
		"INSERT INTO series(service, side, metric, endpoint)"
		" VALUES(?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE SET"
		" service = service RETURNING id",
		-1, &q, NULL);
	if (rc != SQLITE_OK)
		return sql_err(st->w, rc);
	bind_s(q, 1, s->service);
	bind_s(q, 2, s->side);
	bind_s(q, 3, s->metric);
	bind_s(q, 4, s->endpoint);
	rc = sqlite3_step(q);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE || id == 0)
		return sql_err(st->w, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
	if (sid >= st->ndbid) {
		size_t n = st->ndbid ? st->ndbid : 256;
		while (n <= sid)
			n *= 2;
		st->dbid = xreallocarray(st->dbid, n, sizeof(int64_t));
		memset(st->dbid + st->ndbid, 0,
		       (n - st->ndbid) * sizeof(int64_t));
		st->ndbid = n;
	}
	st->dbid[sid] = id;
	if (*nfresh == *capfresh) {
		*capfresh = *capfresh ? *capfresh * 2 : 64;
		*fresh = xreallocarray(*fresh, *capfresh, sizeof(uint32_t));
	}
	(*fresh)[(*nfresh)++] = sid;
	*dbid = id;
	return 0;
}

/* Writes points v[0..n) in one transaction. */
static int write_chunk(store_t *st, const point_t *v, size_t n)
{
	int rc = fault_sim(FAULT_STORE_WRITE);
	if (rc)
		return rc;
	uint32_t *fresh = NULL;
	size_t nfresh = 0, capfresh = 0;
	rc = exec(st->w, "BEGIN");
	int64_t mn = INT64_MAX;
	for (size_t i = 0; i < n && !rc; i++) {
		int64_t id = 0;
		rc = resolve(st, v[i].sid, &id, &fresh, &nfresh, &capfresh);
		if (rc)
			break;
		sqlite3_bind_int64(st->ins_point, 1, id);
		sqlite3_bind_int64(st->ins_point, 2, v[i].ts);
		sqlite3_bind_double(st->ins_point, 3, v[i].v);
		int s = sqlite3_step(st->ins_point);
		sqlite3_reset(st->ins_point);
		if (s != SQLITE_DONE)
			rc = sql_err(st->w, s);
		if (v[i].ts < mn)
			mn = v[i].ts;
	}
	if (!rc)
		rc = exec(st->w, "COMMIT");
	if (rc) {
		exec(st->w, "ROLLBACK");
		for (size_t i = 0; i < nfresh; i++)
			st->dbid[fresh[i]] = 0;
	} else if (mn < st->dirty_min) {
		st->dirty_min = mn;
	}
	free(fresh);
	return rc;
}

/* Writes the queued records (all or none). */
static int write_ops(store_t *st, op_t *ops)
{
	if (!ops)
		return 0;
	int rc = fault_sim(FAULT_STORE_WRITE);
	if (rc)
		return rc;
	rc = exec(st->w, "BEGIN");
	for (op_t *op = ops; op && !rc; op = op->next)
		rc = write_op(st, op);
	if (!rc)
		rc = exec(st->w, "COMMIT");
	if (rc)
		exec(st->w, "ROLLBACK");
	return rc;
}

/* Floor of ts to its minute. */
static int64_t minute_of(int64_t ts)
{
	int64_t r = ts % STORE_ROLLUP_NS;
	return ts - (r < 0 ? r + STORE_ROLLUP_NS : r);
}

/* Rollups of the complete minutes before now, then expiry. */
static int maintain(store_t *st, int64_t now, uint64_t *rolled,
		    uint64_t *exp_points, uint64_t *exp_rollups)
{
	int rc = fault_sim(FAULT_STORE_WRITE);
	if (rc)
		return rc;
	int64_t done = 0;
	sqlite3_stmt *q = NULL;
	rc = exec(st->w, "BEGIN");
	if (!rc &&
	    sqlite3_prepare_v2(st->w,
			       "SELECT CAST(value AS INTEGER) FROM meta"
			       " WHERE key = 'rollup_done'",
			       -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW)
			done = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	int64_t to = minute_of(now);
	int64_t from = done;
	if (st->dirty_min != INT64_MAX && minute_of(st->dirty_min) < from)
		from = minute_of(st->dirty_min);
	int64_t raw_cut = now - st->o.raw_retention_ns;
	int64_t roll_cut = now - st->o.rollup_retention_ns;
	static const char *const per_series[3] = {
		"INSERT OR REPLACE INTO rollups(series, ts, min, max, sum,"
		" count) SELECT series, ts - ((ts % ?4) + ?4) % ?4 AS m,"
		" min(value), max(value), sum(value), count(*) FROM points"
		" WHERE series = ?1 AND ts >= ?2 AND ts < ?3 GROUP BY m",
		"DELETE FROM points WHERE series = ?1 AND ts < ?2",
		"DELETE FROM rollups WHERE series = ?1 AND ts < ?2",
	};
	sqlite3_stmt *ps[3] = {NULL, NULL, NULL}, *ids = NULL;
	for (int i = 0; i < 3 && !rc; i++)
		if (sqlite3_prepare_v2(st->w, per_series[i], -1, &ps[i], NULL) !=
		    SQLITE_OK)
			rc = sql_err(st->w, sqlite3_errcode(st->w));
	if (!rc && sqlite3_prepare_v2(st->w, "SELECT id FROM series", -1, &ids,
				      NULL) != SQLITE_OK)
		rc = sql_err(st->w, sqlite3_errcode(st->w));
	uint64_t counts[3] = {0, 0, 0};
	while (!rc) {
		int s = sqlite3_step(ids);
		if (s == SQLITE_DONE)
			break;
		if (s != SQLITE_ROW) {
			rc = sql_err(st->w, s);
			break;
		}
		int64_t id = sqlite3_column_int64(ids, 0);
		for (int i = 0; i < 3 && !rc; i++) {
			sqlite3_bind_int64(ps[i], 1, id);
			if (i == 0) {
				if (from >= to)
					continue;
				sqlite3_bind_int64(ps[i], 2, from);
				sqlite3_bind_int64(ps[i], 3, to);
				sqlite3_bind_int64(ps[i], 4, STORE_ROLLUP_NS);
			} else {
				sqlite3_bind_int64(ps[i], 2,
						   i == 1 ? raw_cut : roll_cut);
			}
			int r = sqlite3_step(ps[i]);
			sqlite3_reset(ps[i]);
			if (r != SQLITE_DONE)
				rc = sql_err(st->w, r);
			else
				counts[i] += (uint64_t)sqlite3_changes(st->w);
		}
	}
	for (int i = 0; i < 3; i++)
		sqlite3_finalize(ps[i]);
	sqlite3_finalize(ids);
	static const char *const rec_sql[3] = {
		"DELETE FROM events WHERE end_ns < ?1",
		"DELETE FROM findings WHERE ts < ?1",
		"DELETE FROM actions WHERE ts < ?1",
	};
	for (int i = 0; i < 3 && !rc; i++) {
		if (sqlite3_prepare_v2(st->w, rec_sql[i], -1, &q, NULL) !=
		    SQLITE_OK) {
			rc = sql_err(st->w, sqlite3_errcode(st->w));
			break;
		}
		sqlite3_bind_int64(q, 1, roll_cut);
		int r = sqlite3_step(q);
		sqlite3_finalize(q);
		if (r != SQLITE_DONE)
			rc = sql_err(st->w, r);
	}
	if (!rc && to > done) {
		char sql[128];
		snprintf(sql, sizeof(sql),
			 "INSERT OR REPLACE INTO meta(key, value) VALUES"
			 "('rollup_done', '%lld')",
			 (long long)to);
		rc = exec(st->w, sql);
	}
	if (!rc)
		rc = exec(st->w, "COMMIT");
	if (rc) {
		exec(st->w, "ROLLBACK");
		return rc;
	}
	st->dirty_min = INT64_MAX;
	*rolled = counts[0];
	*exp_points = counts[1];
	*exp_rollups = counts[2];
	return 0;
}

static void pvec_append(pvec_t *dst, const point_t *v, size_t n)
{
	if (n == 0)
		return;
	if (dst->n + n > dst->cap) {
		size_t cap = dst->cap ? dst->cap : 4096;
		while (cap < dst->n + n)
			cap *= 2;
		dst->v = xreallocarray(dst->v, cap, sizeof(point_t));
		dst->cap = cap;
	}
	memcpy(dst->v + dst->n, v, n * sizeof(point_t));
	dst->n += n;
}

static void mono_deadline(int64_t mono_ns, struct timespec *ts)
{
	ts->tv_sec = mono_ns / NS_PER_S;
	ts->tv_nsec = mono_ns % NS_PER_S;
}

static void *writer_main(void *arg)
{
	store_t *st = arg;
	pvec_t work = {0};
	op_t *wops = NULL, *wops_tail = NULL;
	size_t wops_bytes = 0;
	int64_t half = st->o.flush_interval_ns / 2;
	if (half < NS_PER_MS)
		half = NS_PER_MS;

	/* Rounds start every half interval from the previous round's start,
	 * not its end, so a crash loses at most half an interval plus one
	 * round's write: within flush_interval while a round takes less than
	 * half of it (slower rounds are counted as slow_batches). */
	int64_t deadline = clock_mono_ns() + half;
	pthread_mutex_lock(&st->mu);
	for (;;) {
		while (!st->stop && !st->flush_req && !st->maint_req &&
		       st->pend.n < STORE_BATCH_MAX &&
		       clock_mono_ns() < deadline) {
			struct timespec ts;
			mono_deadline(deadline, &ts);
			pthread_cond_timedwait(&st->wake, &st->mu, &ts);
		}
		bool stop = st->stop, maint = st->maint_req;
		int64_t maint_now = st->maint_now;
		int64_t now_round = clock_mono_ns();
		deadline = deadline + half > now_round ? deadline + half
						       : now_round + half;
		st->flush_req = false;
		/* take what callers handed over */
		if (work.n == 0) {
			pvec_t t = work;
			work = st->pend;
			st->pend = t;
			st->pend.n = 0;
		} else {
			pvec_append(&work, st->pend.v, st->pend.n);
			st->pend.n = 0;
		}
		if (st->ops) {
			if (wops_tail)
				wops_tail->next = st->ops;
			else
				wops = st->ops;
			wops_tail = st->ops_tail;
			wops_bytes += st->ops_bytes;
		}
		st->ops = st->ops_tail = NULL;
		st->ops_bytes = 0;
		st->work_n = work.n;
		st->work_ops_bytes = wops_bytes;
		uint64_t taken_seq = st->seq_appended;
		pthread_mutex_unlock(&st->mu);

		/* write, without the lock */
		int rc = 0;
		int64_t t0 = clock_mono_ns();
		if (!st->w)
			rc = open_writer(st); /* degraded start: each round */
		if (!rc) {
			rc = write_ops(st, wops);
		}
		size_t written_ops = 0;
		if (!rc) {
			for (op_t *op = wops, *n; op; op = n) {
				n = op->next;
				op_free(op);
				written_ops++;
			}
			wops = wops_tail = NULL;
			wops_bytes = 0;
		}
		size_t done = 0;
		uint64_t batches = 0;
		while (!rc && done < work.n) {
			size_t n = work.n - done;
			if (n > STORE_BATCH_MAX)
				n = STORE_BATCH_MAX;
			rc = write_chunk(st, work.v + done, n);
			if (!rc) {
				done += n;
				batches++;
			}
		}
		if (done) {
			memmove(work.v, work.v + done,
				(work.n - done) * sizeof(point_t));
			work.n -= done;
		}
		int64_t dur = clock_mono_ns() - t0;
		int mrc = 0;
		uint64_t rolled = 0, xp = 0, xr = 0;
		bool do_maint = st->w && (maint || t0 >= st->next_maint_mono);
		if (do_maint) {
			mrc = maintain(st, maint ? maint_now : clock_wall_ns(),
				       &rolled, &xp, &xr);
			st->next_maint_mono = t0 + st->o.maintain_interval_ns;
			if (mrc && !maint)
				log_error("store", "rollup and expiry failed",
					  LF_S("path", st->path),
					  LF_ERR("err", mrc));
		}

		pthread_mutex_lock(&st->mu);
		st->stats.written += done;
		st->stats.records_written += written_ops;
		st->stats.batches += batches;
		st->stats.rollups += rolled;
		st->stats.expired_points += xp;
		st->stats.expired_rollups += xr;
		if (dur > half && batches)
			st->stats.slow_batches++;
		st->work_n = work.n;
		st->work_ops_bytes = wops_bytes;
		if (rc) {
			st->stats.write_errors++;
			st->fail_gen++;
			int64_t now = clock_mono_ns();
			if (!st->stats.degraded || st->stats.last_error != rc ||
			    now >= st->next_log_mono) {
				log_error("store",
					  st->stats.degraded
						  ? "store writes still failing"
						  : "cannot write the store: "
						    "keeping points in memory",
					  LF_S("path", st->path),
					  LF_ERR("err", rc),
					  LF_U("pending",
					       st->pend.n + st->work_n),
					  LF_U("dropped", st->stats.dropped),
					  LF_U("memory_limit",
					       st->o.memory_limit));
				st->next_log_mono = now + STORE_LOG_REPEAT_NS;
			}
			st->stats.degraded = true;
			st->stats.last_error = rc;
		} else {
			st->seq_committed = taken_seq;
			if (st->stats.degraded)
				log_warn("store", "store writes recovered",
					 LF_S("path", st->path),
					 LF_U("written", st->stats.written),
					 LF_U("dropped", st->stats.dropped));
			st->stats.degraded = false;
			st->stats.last_error = 0;
			st->dropping = false;
		}
		if (maint) {
			st->maint_rc = rc ? rc : mrc;
			st->maint_req = false;
			st->maint_done_gen++;
		}
		pthread_cond_broadcast(&st->done);
		if (stop)
			break;
	}
	uint64_t lost = work.n + st->pend.n;
	st->stats.lost += lost;
	pthread_mutex_unlock(&st->mu);
	if (lost || wops)
		log_error("store", "store closed with unwritten points",
			  LF_S("path", st->path), LF_U("points", lost),
			  LF_B("records", wops != NULL));
	for (op_t *op = wops, *n; op; op = n) {
		n = op->next;
		op_free(op);
	}
	free(work.v);
	return NULL;
}

/* ------------------------------------------------------------ reads */

/* Locks the reader, opening it when needed. 0 or an error (unlocked). */
static int reader(store_t *st)
{
	pthread_mutex_lock(&st->rmu);
	if (st->r)
		return 0;
	int rc = open_db(st->path, true, &st->r);
	if (rc) {
		pthread_mutex_unlock(&st->rmu);
		return rc;
	}
	return 0;
}

static const char *col(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);
	return t ? (const char *)t : "";
}

/* Steps q to the end, calling row(q, ctx) per row; returns 0, the
 * callback's non-zero, or an error. Finalizes q. */
static int each_row(sqlite3 *db, sqlite3_stmt *q,
		    int (*row)(sqlite3_stmt *q, void *ctx), void *ctx)
{
	int rc = 0;
	for (;;) {
		int s = sqlite3_step(q);
		if (s == SQLITE_DONE)
			break;
		if (s != SQLITE_ROW) {
			rc = sql_err(db, s);
			break;
		}
		rc = row(q, ctx);
		if (rc)
			break;
	}
	sqlite3_finalize(q);
	return rc;
}

typedef struct cbctx {
	void *cb;
	void *arg;
	bool rollup;
} cbctx_t;

static int series_row(sqlite3_stmt *q, void *c)
{
	cbctx_t *x = c;
	store_series_info_t s = {sqlite3_column_int64(q, 0), col(q, 1),
				 col(q, 2), col(q, 3), col(q, 4)};
	return ((store_series_cb)x->cb)(x->arg, &s);
}

int store_series_find(store_t *st, const store_key_t *pat, store_series_cb cb,
		      void *arg)
{
	int rc = reader(st);
	if (rc)
		return rc;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->r,
			       "SELECT id, service, side, metric, endpoint"
			       " FROM series WHERE service GLOB ?1 AND side GLOB"
			       " ?2 AND metric GLOB ?3 AND endpoint GLOB ?4"
			       " ORDER BY service, side, metric, endpoint",
			       -1, &q, NULL) != SQLITE_OK) {
		rc = sql_err(st->r, sqlite3_errcode(st->r));
		pthread_mutex_unlock(&st->rmu);
		return rc;
	}
	const char *p[4] = {pat ? pat->service : NULL, pat ? pat->side : NULL,
			    pat ? pat->metric : NULL,
			    pat ? pat->endpoint : NULL};
	for (int i = 0; i < 4; i++)
		bind_s(q, i + 1, p[i] ? p[i] : "*");
	cbctx_t x = {(void *)cb, arg, false};
	rc = each_row(st->r, q, series_row, &x);
	pthread_mutex_unlock(&st->rmu);
	return rc;
}

static int point_row(sqlite3_stmt *q, void *c)
{
	cbctx_t *x = c;
	store_point_t p;
	p.ts_ns = sqlite3_column_int64(q, 0);
	p.rollup = x->rollup;
	if (x->rollup) {
		p.min = sqlite3_column_double(q, 1);
		p.max = sqlite3_column_double(q, 2);
		p.count = (uint64_t)sqlite3_column_int64(q, 4);
		p.mean = p.count ? sqlite3_column_double(q, 3) / (double)p.count
				 : NAN;
	} else {
		p.min = p.max = p.mean = sqlite3_column_double(q, 1);
		p.count = 1;
	}
	return ((store_point_cb)x->cb)(x->arg, &p);
}

/* Streams one table's rows of series id in [from, to]. */
static int stream(store_t *st, int64_t id, bool rollup, int64_t from,
		  int64_t to, store_point_cb cb, void *arg)
{
	sqlite3_stmt *q;
	const char *sql = rollup ? "SELECT ts, min, max, sum, count FROM rollups"
				   " WHERE series = ?1 AND ts >= ?2 AND ts <= ?3"
				   " ORDER BY ts"
				 : "SELECT ts, value FROM points WHERE series = ?1"
				   " AND ts >= ?2 AND ts <= ?3 ORDER BY ts";
	if (sqlite3_prepare_v2(st->r, sql, -1, &q, NULL) != SQLITE_OK)
		return sql_err(st->r, sqlite3_errcode(st->r));
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, from);
	sqlite3_bind_int64(q, 3, to);
	cbctx_t x = {(void *)cb, arg, rollup};
	return each_row(st->r, q, point_row, &x);
}

/* A single integer from sql with ?1 = id (and text binds); *found says
 * whether a non-NULL row came. */
static int one_int(sqlite3 *db, const char *sql, const char *const *texts,
		   int ntexts, int64_t id, int64_t *out, bool *found)
{
	sqlite3_stmt *q;
	*found = false;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return sql_err(db, sqlite3_errcode(db));
	for (int i = 0; i < ntexts; i++)
		bind_s(q, i + 1, texts[i]);
	if (!ntexts)
		sqlite3_bind_int64(q, 1, id);
	int s = sqlite3_step(q);
	if (s == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
		*out = sqlite3_column_int64(q, 0);
		*found = true;
	}
	sqlite3_finalize(q);
	return s == SQLITE_ROW || s == SQLITE_DONE ? 0 : sql_err(db, s);
}

int store_query(store_t *st, const store_key_t *key, int64_t from,
		int64_t to, store_res_t res, store_point_cb cb, void *arg)
{
	int rc = reader(st);
	if (rc)
		return rc;
	const char *k[4] = {key->service, key->side, key->metric,
			    key->endpoint ? key->endpoint : ""};
	int64_t id = 0, oldest = 0;
	bool found, have_raw = false;
	rc = one_int(st->r,
		     "SELECT id FROM series WHERE service = ?1 AND side = ?2"
		     " AND metric = ?3 AND endpoint = ?4",
		     k, 4, 0, &id, &found);
	if (rc || !found)
		goto out;
	if (res == STORE_RAW) {
		rc = stream(st, id, false, from, to, cb, arg);
	} else if (res == STORE_ROLLUP) {
		rc = stream(st, id, true, from, to, cb, arg);
	} else {
		rc = one_int(st->r,
			     "SELECT min(ts) FROM points WHERE series = ?1",
			     NULL, 0, id, &oldest, &have_raw);
		if (rc)
			goto out;
		/* rollups of the minutes wholly before the oldest raw point,
		 * then the raw points */
		int64_t rto = have_raw ? oldest - STORE_ROLLUP_NS : to;
		if (rto > to)
			rto = to;
		if (rto >= from)
			rc = stream(st, id, true, from, rto, cb, arg);
		if (!rc && have_raw)
			rc = stream(st, id, false, from > oldest ? from : oldest,
				    to, cb, arg);
	}
out:
	pthread_mutex_unlock(&st->rmu);
	return rc;
}

static int event_row(sqlite3_stmt *q, void *c)
{
	cbctx_t *x = c;
	store_event_t e = {.id = sqlite3_column_int64(q, 0),
			   .service = col(q, 1),
			   .kind = col(q, 2),
			   .side = col(q, 3),
			   .text = col(q, 4),
			   .detail = col(q, 5),
			   .start_ns = sqlite3_column_int64(q, 6),
			   .end_ns = sqlite3_column_int64(q, 7)};
	return ((store_event_cb)x->cb)(x->arg, &e);
}

static int finding_row(sqlite3_stmt *q, void *c)
{
	cbctx_t *x = c;
	store_finding_t f = {.id = sqlite3_column_int64(q, 0),
			     .service = col(q, 1),
			     .metric = col(q, 2),
			     .severity = col(q, 3),
			     .summary = col(q, 4),
			     .evidence = col(q, 5),
			     .ts_ns = sqlite3_column_int64(q, 6)};
	return ((store_finding_cb)x->cb)(x->arg, &f);
}

static int action_row(sqlite3_stmt *q, void *c)
{
	cbctx_t *x = c;
	store_action_t a = {.id = sqlite3_column_int64(q, 0),
			    .service = col(q, 1),
			    .kind = col(q, 2),
			    .reason = col(q, 3),
			    .outcome = col(q, 4),
			    .detail = col(q, 5),
			    .ts_ns = sqlite3_column_int64(q, 6),
			    .finding_id = sqlite3_column_int64(q, 7),
			    .dry_run = sqlite3_column_int(q, 8) != 0};
	return ((store_action_cb)x->cb)(x->arg, &a);
}

static int snapshot_row(sqlite3_stmt *q, void *c)
{
	cbctx_t *x = c;
	store_snapshot_t s = {.id = col(q, 0),
			      .service = col(q, 1),
			      .manifest = col(q, 2),
			      .note = col(q, 3),
			      .created_ns = sqlite3_column_int64(q, 4),
			      .good_ns = sqlite3_column_int64(q, 5)};
	return ((store_snapshot_cb)x->cb)(x->arg, &s);
}

/* Runs sql with ?1 = service ("" = all), ?2 from, ?3 to / ?2 id. */
static int records(store_t *st, const char *sql, const char *service,
		   const char *text2, int64_t from, int64_t to,
		   int (*row)(sqlite3_stmt *, void *), void *cb, void *arg)
{
	int rc = reader(st);
	if (rc)
		return rc;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->r, sql, -1, &q, NULL) != SQLITE_OK) {
		rc = sql_err(st->r, sqlite3_errcode(st->r));
		pthread_mutex_unlock(&st->rmu);
		return rc;
	}
	bind_s(q, 1, service ? service : "");
	if (text2) {
		bind_s(q, 2, text2);
	} else {
		sqlite3_bind_int64(q, 2, from);
		sqlite3_bind_int64(q, 3, to);
	}
	cbctx_t x = {cb, arg, false};
	rc = each_row(st->r, q, row, &x);
	pthread_mutex_unlock(&st->rmu);
	return rc;
}

int store_events(store_t *st, const char *service, int64_t from, int64_t to,
		 store_event_cb cb, void *arg)
{
	return records(st,
		       "SELECT id, service, kind, side, text, detail, start_ns,"
		       " end_ns FROM events WHERE (?1 = '' OR service = ?1)"
		       " AND end_ns >= ?2 AND start_ns <= ?3"
		       " ORDER BY start_ns, id",
		       service, NULL, from, to, event_row, (void *)cb, arg);
}

int store_findings(store_t *st, const char *service, int64_t from,
		   int64_t to, store_finding_cb cb, void *arg)
{
	return records(st,
		       "SELECT id, service, metric, severity, summary, evidence,"
		       " ts FROM findings WHERE (?1 = '' OR service = ?1)"
		       " AND ts >= ?2 AND ts <= ?3 ORDER BY ts, id",
		       service, NULL, from, to, finding_row, (void *)cb, arg);
}

int store_actions(store_t *st, const char *service, int64_t from, int64_t to,
		  store_action_cb cb, void *arg)
{
	return records(st,
		       "SELECT id, service, kind, reason, outcome, detail, ts,"
		       " coalesce(finding, 0), dry_run FROM actions WHERE"
		       " (?1 = '' OR service = ?1) AND ts >= ?2 AND ts <= ?3"
		       " ORDER BY ts, id",
		       service, NULL, from, to, action_row, (void *)cb, arg);
}

int store_snapshots(store_t *st, const char *service, const char *id,
		    store_snapshot_cb cb, void *arg)
{
	return records(st,
		       "SELECT id, service, manifest, note, created_ns, good_ns"
		       " FROM snapshots WHERE (?1 = '' OR service = ?1) AND"
		       " (?2 = '' OR id = ?2) ORDER BY created_ns DESC, id",
		       service, id ? id : "", 0, 0, snapshot_row, (void *)cb,
		       arg);
}

/* ------------------------------------------------------------ health */

void store_get_stats(store_t *st, store_stats_t *out)
{
	pthread_mutex_lock(&st->mu);
	*out = st->stats;
	out->pending = st->pend.n + st->work_n;
	out->memory_bytes = held(st);
	out->series = st->nser;
	pthread_mutex_unlock(&st->mu);
}

void store_expose(metrics_expo_t *e, store_t *st, const char *service)
{
	store_stats_t s;
	store_get_stats(st, &s);
	metrics_label_t l[2] = {{"service", service}, {"result", NULL}};
	metrics_expo_family(e, "umbra_store_points_total", METRICS_EXPO_COUNTER,
			    "metric points handed to the store, by result");
	static const char *const res[] = {"written", "dropped", "lost"};
	const uint64_t pv[] = {s.written, s.dropped, s.lost};
	for (int i = 0; i < 3; i++) {
		l[1].value = res[i];
		metrics_expo_sample(e, "", l, 2, (double)pv[i]);
	}
	metrics_expo_family(e, "umbra_store_records_total",
			    METRICS_EXPO_COUNTER,
			    "events, findings, actions and snapshots, by "
			    "result");
	const uint64_t rv[] = {s.records_written, s.records_dropped};
	for (int i = 0; i < 2; i++) {
		l[1].value = res[i];
		metrics_expo_sample(e, "", l, 2, (double)rv[i]);
	}
	static const struct {
		const char *name, *help;
		metrics_expo_type_t type;
	} one[] = {
		{"umbra_store_pending_points",
		 "points in memory not yet committed", METRICS_EXPO_GAUGE},
		{"umbra_store_memory_bytes",
		 "memory held for the writer (bounded by store.memory_limit)",
		 METRICS_EXPO_GAUGE},
		{"umbra_store_degraded",
		 "1 while the last write to the store failed", METRICS_EXPO_GAUGE},
		{"umbra_store_write_errors_total", "failed write attempts",
		 METRICS_EXPO_COUNTER},
		{"umbra_store_batches_total", "committed point transactions",
		 METRICS_EXPO_COUNTER},
		{"umbra_store_slow_batches_total",
		 "write rounds slower than half the flush interval (the crash "
		 "loss bound widens)",
		 METRICS_EXPO_COUNTER},
		{"umbra_store_series", "series handles", METRICS_EXPO_GAUGE},
	};
	const double ov[] = {(double)s.pending,	     (double)s.memory_bytes,
			     s.degraded ? 1.0 : 0.0, (double)s.write_errors,
			     (double)s.batches,	     (double)s.slow_batches,
			     (double)s.series};
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		metrics_expo_family(e, one[i].name, one[i].type, one[i].help);
		metrics_expo_sample(e, "", l, 1, ov[i]);
	}
}
