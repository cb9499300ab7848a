#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command/drill/qbk_drill_internal.h"
#include "command/qbk_ctx.h"
#include "command/qbk_restore.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_log.h"
#include "common/qbk_time.h"
#include "config/qbk_config.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "command/qbk_drill.h"

static const char *const level_names[] = { "basic", "comprehensive",
	"exhaustive" };
static const char *const scenario_names[] = { "latest", "pitr",
	"all-collections" };

const char *
qbk_drill_level_name(enum qbk_drill_level l)
{
	return (unsigned)l < 3 ? level_names[l] : "basic";
}

const char *
qbk_drill_scenario_name(enum qbk_drill_scenario s)
{
	return (unsigned)s < 3 ? scenario_names[s] : "latest";
}

int
qbk_drill_parse_level(const char *s, enum qbk_drill_level *out)
{
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum qbk_drill_level)i;
			return 0;
		}
	return -1;
}

int
qbk_drill_parse_scenario(const char *s, enum qbk_drill_scenario *out)
{
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, scenario_names[i]) == 0) {
			*out = (enum qbk_drill_scenario)i;
			return 0;
		}
	return -1;
}

void
qbk_drill_scratch_name(const char *id, const char *name, struct qbk_buf *out)
{
	qbk_buf_addf(out, "%s%s-%s", QBK_DRILL_PREFIX, id, name);
}

int
qbk_drill_scratch_parse(const char *name, char *id)
{
	size_t pl = strlen(QBK_DRILL_PREFIX);
	char tmp[QBK_MANIFEST_ID_LEN + 1];

	if (strncmp(name, QBK_DRILL_PREFIX, pl) != 0 ||
	    strlen(name) < pl + QBK_MANIFEST_ID_LEN + 2 ||
	    name[pl + QBK_MANIFEST_ID_LEN] != '-')
		return 0;
	memcpy(tmp, name + pl, QBK_MANIFEST_ID_LEN);
	tmp[QBK_MANIFEST_ID_LEN] = '\0';
	if (!qbk_manifest_id_valid(tmp))
		return 0;
	memcpy(id, tmp, sizeof(tmp));
	return 1;
}

int64_t
qbk_drill_pitr_time(int64_t first, int64_t last, int64_t now,
    int64_t keep_within_ms, uint64_t rnd)
{
	int64_t lo = first, hi = last;

	if (keep_within_ms > 0 && now - keep_within_ms / 1000 > lo)
		lo = now - keep_within_ms / 1000;
	if (hi < lo)
		return hi;	/* nothing within retention: the newest */
	return lo + (int64_t)(rnd % ((uint64_t)(hi - lo) + 1));
}

void
qbk_drill_result_init(struct qbk_drill_result *r)
{
	memset(r, 0, sizeof(*r));
	r->rto_met = -1;
	r->pitr_time = -1;
}

void
qbk_drill_result_release(struct qbk_drill_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	qbk_manifest_drill_free(r->rec);
	for (i = 0; i < r->ncollections; i++)
		free(r->collections[i]);
	free(r->collections);
	qbk_drill_result_init(r);
}

int
qbk_drill_target(const struct qbk_config *cfg, int validate_only,
    volatile sig_atomic_t *cancel, struct qbk_qdrant **out,
    struct qbk_err *err)
{
	struct qbk_config_secret key = QBK_CONFIG_SECRET_INIT;
	int staging = !validate_only && cfg->drill.url != NULL, rc;

	*out = NULL;
	if ((staging ? qbk_config_drill_api_key(cfg, &key, err) :
	    qbk_config_api_key(cfg, &key, err)) != 0)
		return -1;
	rc = qbk_qdrant_open(cfg, staging ? cfg->drill.url : cfg->qdrant.url,
	    key.data, cancel, out, err);
	qbk_config_secret_release(&key);
	return rc;
}

void
qbk_drill_problem(struct qbk_drill_result *res, const char *fmt, ...)
{
	struct qbk_buf b = QBK_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	qbk_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (b.len > QBK_MANIFEST_MAX_STR) {
		size_t n = QBK_MANIFEST_MAX_STR;

		/* Never cut a UTF-8 sequence in two. */
		while (n > 0 && ((unsigned char)b.buf[n] & 0xc0) == 0x80)
			n--;
		qbk_buf_setlen(&b, n);
	}
	qbk_detail("problem: %s", b.buf);
	if (res->rec->n_problems < QBK_MANIFEST_MAX_LIST)
		qbk_manifest_drill_add_problem(res->rec, b.buf);
	qbk_buf_release(&b);
}

/* ---- the run ---------------------------------------------------------- */

/* The backup ${id}, or the newest (at or before ${at}) that holds the
 * collections of --collection as collection snapshots: a backup that is
 * not the newest of each is drilled all the same, with a warning (a drill
 * checks a backup, it brings back no data). */
static int
select_holding(struct qbk_repo *repo, const struct qbk_drill_opts *o,
    const char *id, int64_t at, char *out, struct qbk_err *err)
{
	return qbk_restore_choose(repo, id, at, o->collections,
	    o->ncollections, QBK_RESTORE_CHOOSE_SNAPSHOTS, out, err);
}

static int
choose_backup(struct qbk_repo *repo, const struct qbk_drill_opts *o,
    struct qbk_drill_result *res, char *id, struct qbk_err *err)
{
	char **ids = NULL;
	size_t n = 0;
	int64_t first, last, at;
	uint64_t rnd;
	int rc;

	if (o->backup_id != NULL || o->at >= 0 ||
	    o->scenario != QBK_DRILL_PITR)
		return select_holding(repo, o, o->backup_id, o->at, id, err);
	if (qbk_repo_backup_ids(repo, &ids, &n, err) != 0)
		return -1;
	if (n == 0 || qbk_manifest_id_time(ids[0], &first) != 0 ||
	    qbk_manifest_id_time(ids[n - 1], &last) != 0) {
		qbk_repo_free_ids(ids, n);
		return select_holding(repo, o, NULL, -1, id, err);
	}
	qbk_repo_free_ids(ids, n);
	qbk_crypto_random(&rnd, sizeof(rnd));
	at = qbk_drill_pitr_time(first, last, qbk_now(), o->keep_within_ms,
	    rnd);
	res->pitr_time = at;
	rc = select_holding(repo, o, NULL, at, id, err);
	if (rc != 0 && err->code == QBK_E_USAGE) {
		/* Only safety backups before ${at}: the newest will do. */
		qbk_err_clear(err);
		rc = select_holding(repo, o, NULL, -1, id, err);
	}
	if (rc == 0) {
		char t[QBK_TIME_LEN + 1];

		qbk_time_format(at, t);
		qbk_info("point in time %s: backup %s", t, id);
	}
	return rc;
}

static int
chosen(const struct qbk_drill_result *res, const char *name)
{
	size_t i;

	for (i = 0; i < res->ncollections; i++)
		if (strcmp(res->collections[i], name) == 0)
			return 1;
	return 0;
}

static void
add_collection(struct qbk_drill_result *res, const char *name,
    const char *backup_id)
{
	res->collections = qbk_xrealloc(res->collections,
	    (res->ncollections + 1) * sizeof(*res->collections));
	res->collections[res->ncollections++] = qbk_xstrdup(name);
	qbk_manifest_drill_add_drilled(res->rec, name, backup_id);
}

/* Add ${m} (owned from now on) as the set of collections
 * res->collections[${first}] up to [${first} + ${n} - 1]. */
static void
add_set(struct qbk_drill_set **sets, size_t *nsets, struct qbk_manifest *m,
    size_t first, size_t n)
{
	*sets = qbk_xrealloc(*sets, (*nsets + 1) * sizeof(**sets));
	(*sets)[*nsets].m = m;
	(*sets)[*nsets].first = first;
	(*sets)[*nsets].n = n;
	(*nsets)++;
}

/* all-collections: every collection any backup holds, each from the
 * newest backup that holds it (not a restore's safety backup, not a
 * full-storage one): what an operator would restore after losing the
 * whole deployment.  A collection that only backups older than the newest
 * backup of every collection hold had been deleted by then: left out. */
static int
choose_each(struct qbk_repo *repo, struct qbk_drill_result *res,
    struct qbk_drill_set **sets, size_t *nsets, struct qbk_err *err)
{
	struct qbk_manifest *m = NULL;
	const char *all = NULL;	/* newest backup of every collection */
	char **ids = NULL;
	size_t n = 0, i, k, first;
	int rc = -1;

	if (qbk_repo_backup_ids(repo, &ids, &n, err) != 0)
		return -1;
	for (i = n; i > 0; i--) {
		if (qbk_repo_manifest_read(repo, ids[i - 1], &m, err) != 0) {
			qbk_err_prefix(err, "cannot read backup %s",
			    ids[i - 1]);
			goto out;
		}
		first = res->ncollections;
		if (!qbk_restore_is_safety(m) && m->kind == QBK_MANIFEST_KIND_COLLECTIONS)
			for (k = 0; k < m->n_collections; k++) {
				const char *name = m->collections[k]->name;

				if (chosen(res, name))
					continue;
				if (all != NULL) {
					qbk_detail("collection '%s' left out: "
					    "backup %s of every collection "
					    "no longer had it", name, all);
					continue;
				}
				add_collection(res, name, m->backup_id);
			}
		if (all == NULL && !qbk_restore_is_safety(m) &&
		    m->kind == QBK_MANIFEST_KIND_COLLECTIONS &&
		    m->selection == QBK_MANIFEST_SELECTION_ALL)
			all = ids[i - 1];
		if (res->ncollections > first) {
			add_set(sets, nsets, m, first,
			    res->ncollections - first);
			m = NULL;	/* handed over */
		}
		qbk_manifest_free(m);
		m = NULL;
	}
	if (*nsets == 0) {
		qbk_err_set(err, QBK_E_NOTFOUND, "the repository holds no "
		    "backup of a collection");
		qbk_err_hint(err, "take one with qbk-backup");
		goto out;
	}
	rc = 0;
out:
	qbk_repo_free_ids(ids, n);
	return rc;
}

/* The backup of --backup, --at or the scenario, and the collections of
 * it that --collection names (all of them by default). */
static int
choose_one(struct qbk_repo *repo, const struct qbk_drill_opts *o,
    struct qbk_drill_result *res, struct qbk_drill_set **sets, size_t *nsets,
    struct qbk_err *err)
{
	struct qbk_manifest *m = NULL;
	char id[QBK_MANIFEST_ID_LEN + 1];
	size_t i, k;

	if (choose_backup(repo, o, res, id, err) != 0 ||
	    qbk_repo_manifest_read(repo, id, &m, err) != 0)
		return -1;
	if (m->n_collections == 0) {
		qbk_err_set(err, QBK_E_USAGE, "backup %s holds no collection "
		    "snapshots to drill", m->backup_id);
		qbk_manifest_free(m);
		return -1;
	}
	for (i = 0; i < o->ncollections; i++)
		if (qbk_manifest_find_collection(m, o->collections[i]) ==
		    NULL) {
			qbk_err_set(err, QBK_E_USAGE, "backup %s has no "
			    "collection '%s'", m->backup_id,
			    o->collections[i]);
			qbk_manifest_free(m);
			return -1;
		}
	for (i = 0; i < m->n_collections; i++) {
		const char *name = m->collections[i]->name;
		int want = o->ncollections == 0;

		for (k = 0; !want && k < o->ncollections; k++)
			want = strcmp(o->collections[k], name) == 0;
		if (want)
			add_collection(res, name, m->backup_id);
	}
	add_set(sets, nsets, m, 0, res->ncollections);
	return 0;
}

static int
choose(struct qbk_repo *repo, const struct qbk_drill_opts *o,
    struct qbk_drill_result *res, struct qbk_drill_set **sets, size_t *nsets,
    struct qbk_err *err)
{
	size_t i, k;

	if (o->scenario == QBK_DRILL_ALL_COLLECTIONS &&
	    o->backup_id == NULL && o->at < 0) {
		if (choose_each(repo, res, sets, nsets, err) != 0)
			return -1;
	} else if (choose_one(repo, o, res, sets, nsets, err) != 0)
		return -1;
	if (o->level < QBK_DRILL_EXHAUSTIVE)
		return 0;
	for (i = 0; i < *nsets; i++)
		for (k = (*sets)[i].first; k < (*sets)[i].first +
		    (*sets)[i].n; k++) {
			const struct qbk_manifest_collection *mc =
			    qbk_manifest_find_collection((*sets)[i].m,
			    res->collections[k]);

			if (mc->has_content)
				continue;
			qbk_err_set(err, QBK_E_USAGE, "backup %s has no "
			    "content hash of collection '%s': exhaustive "
			    "validation needs a backup taken with "
			    "--content-hash", (*sets)[i].m->backup_id,
			    mc->name);
			qbk_err_hint(err, "back up with 'qbk-backup "
			    "--content-hash' (or [backup] content_hash = yes)");
			return -1;
		}
	return 0;
}

static void
phase(struct qbk_drill_result *res, const char *name, int64_t t0)
{
	int64_t ms = qbk_clock_ms() - t0;

	qbk_manifest_drill_add_phase(res->rec, name, ms > 0 ? (uint64_t)ms :
	    0);
}

static void
set_host(struct qbk_manifest_drill *d)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	qbk_manifest_strset(&d->host, host);
	qbk_manifest_strset(&d->tool_version, "qbk " QBK_VERSION);
}

static int
restore(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_drill_set *ds, const char *prefix,
    const struct qbk_drill_opts *o, struct qbk_drill_result *res,
    struct qbk_err *err)
{
	struct qbk_restore_opts ro;
	struct qbk_restore_report rep;
	int rc;

	memset(&ro, 0, sizeof(ro));
	ro.collections = (const char *const *)res->collections + ds->first;
	ro.ncollections = ds->n;
	ro.prefix = prefix;
	ro.no_aliases = 1;
	ro.priority = o->priority;
	ro.workers = o->workers;
	ro.cancel = o->cancel;
	ro.lock = o->lock;
	ro.cleanup = o->cleanup;
	ro.nodes = o->nodes;
	ro.nnodes = o->nnodes;
	ro.node_parallelism = o->node_parallelism;
	ro.replica_timeout_ms = o->replica_timeout_ms;
	/* Replicas that do not become Active in time are a finding of the
	 * validation (check_shards), not a failure to restore. */
	ro.allow_inactive = 1;
	qbk_restore_report_init(&rep);
	rc = qbk_restore_run(repo, q, ds->m, &ro, &rep, err);
	qbk_restore_report_release(&rep);
	if (rc != 0 && (err->code == QBK_E_INTEGRITY ||
	    err->code == QBK_E_NOTFOUND)) {
		/* Damaged or missing data is what a drill is there to find:
		 * a verdict, not an error. */
		qbk_drill_problem(res, "restore of backup %s failed: %s",
		    ds->m->backup_id, err->msg);
		qbk_err_clear(err);
		return 1;
	}
	return rc;
}

/* Start the drill record of ${res}: level, scenario, host, times. */
static struct qbk_manifest_drill *
begin_record(const struct qbk_drill_opts *o, struct qbk_drill_result *res,
    int64_t now)
{
	struct qbk_manifest_drill *d;

	res->validate_only = o->validate_only;
	res->rec = d = qbk_manifest_drill_new();
	qbk_manifest_strset(&d->level, qbk_drill_level_name(o->level));
	qbk_manifest_strset(&d->scenario,
	    qbk_drill_scenario_name(o->scenario));
	set_host(d);
	d->start = d->end = now;
	if (o->rto_target_ms > 0)
		d->rto_target_ms = (uint64_t)o->rto_target_ms;
	return d;
}

/* Close the drill record of ${res} with the verdict of the run (${rc},
 * ${failed} if the drill target failed) and write it to the repository.
 * Returns ${rc}, or -1 if the record cannot be written after a success. */
static int
finish(struct qbk_repo *repo, const struct qbk_drill_opts *o,
    struct qbk_drill_result *res, int rc, int failed, struct qbk_err *err)
{
	struct qbk_manifest_drill *d = res->rec;
	struct qbk_err cerr = QBK_ERR_INIT;

	d->pass = rc == 0 && d->n_problems == 0;
	d->end = qbk_now();
	if (d->end < d->start)
		d->end = d->start;
	if (res->ran && !o->validate_only && d->rto_target_ms > 0)
		res->rto_met = d->rto_ms <= d->rto_target_ms;
	/* Record drills that got to a verdict or failed on their way; not
	 * one that was interrupted or never chose its backup. */
	if (!o->validate_only && o->record && d->drill_id[0] != '\0' &&
	    (rc == 0 || (failed && err->code != QBK_E_INTERRUPTED)) &&
	    (o->cancel == NULL || *o->cancel == 0)) {
		int added = failed && d->n_problems < QBK_MANIFEST_MAX_LIST;

		if (added)
			qbk_manifest_drill_add_problem(d, err->msg);
		if (qbk_repo_drill_write(repo, d, rc == 0 ? err : &cerr) != 0) {
			if (rc == 0)
				rc = -1;
			else
				qbk_warn("cannot record drill: %s", cerr.msg);
		} else
			res->recorded = 1;
		if (added) {
			/* The error stays in ${err}; keep it out of the
			 * in-memory problem list (the JSON adds it). */
			free(d->problems[--d->n_problems]);
			d->problems[d->n_problems] = NULL;
		}
	}
	return rc;
}

int
qbk_drill_run(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_drill_opts *o, struct qbk_drill_result *res,
    struct qbk_err *err)
{
	struct qbk_manifest_drill *d;
	struct qbk_qdrant *cq = o->cleanup != NULL ? o->cleanup : q;
	struct qbk_buf prefix = QBK_BUF_INIT;
	struct qbk_err cerr = QBK_ERR_INIT;
	struct qbk_drill_set *sets = NULL, *ok = NULL;
	size_t nsets = 0, nok = 0, i;
	int64_t t0, trestore = 0, now = qbk_now();
	int rc = -1, failed = 0, scratch = 0;

	d = begin_record(o, res, now);
	t0 = qbk_clock_ms();
	if (choose(repo, o, res, &sets, &nsets, err) != 0)
		goto out;
	/* The newest backup drilled stands for the drill. */
	memcpy(d->backup_id, sets[0].m->backup_id, sizeof(d->backup_id));
	phase(res, "select", t0);

	if (o->validate_only) {
		t0 = qbk_clock_ms();
		if (qbk_drill_validate(q, sets, nsets, "", o, res, err) != 0)
			goto out;
		phase(res, "validate", t0);
		res->ran = 1;
		rc = 0;
		goto out;
	}

	if (qbk_manifest_make_id(now, d->drill_id) != 0) {
		qbk_err_set(err, QBK_E_INTERNAL, "cannot make a drill id");
		goto out;
	}
	qbk_buf_addf(&prefix, "%s%s-", QBK_DRILL_PREFIX, d->drill_id);
	if (nsets == 1)
		qbk_info("drill %s of backup %s (%s, %s)", d->drill_id,
		    d->backup_id, d->level, d->scenario);
	else
		qbk_info("drill %s of %zu collections from %zu backups (%s, "
		    "%s)", d->drill_id, res->ncollections, nsets, d->level,
		    d->scenario);

	t0 = qbk_clock_ms();
	if (qbk_drill_remove_leftovers(repo, q, o, d->drill_id, now, res,
	    err) != 0) {
		failed = 1;	/* the drill target failed: worth a record */
		goto out;
	}
	phase(res, "leftovers", t0);

	/* From here on scratch collections may exist: remove them below
	 * whatever happens.  A set whose data turns out damaged is a
	 * problem found; the others are restored and validated still. */
	scratch = 1;
	trestore = t0 = qbk_clock_ms();
	ok = qbk_xcalloc(nsets, sizeof(*ok));
	for (i = 0; i < nsets; i++) {
		if ((rc = restore(repo, q, &sets[i], prefix.buf, o, res,
		    err)) < 0)
			goto fail;
		if (rc == 0)
			ok[nok++] = sets[i];
	}
	phase(res, "restore", t0);
	t0 = qbk_clock_ms();
	if (nok > 0 && qbk_drill_validate(q, ok, nok, prefix.buf, o, res,
	    err) != 0)
		goto fail;
	if (nok > 0)
		phase(res, "validate", t0);
	d->rto_ms = (uint64_t)(qbk_clock_ms() - trestore);
	/* Readable is restored (the RTO); green may take the optimizers
	 * minutes more: measured, not waited for by the RTO. */
	if (nok > 0 && qbk_drill_wait_green(q, ok, nok, prefix.buf, o, trestore,
	    res, err) != 0)
		goto fail;
	res->ran = 1;
	rc = 0;
	goto clean;
fail:
	rc = -1;
	failed = 1;
	d->rto_ms = (uint64_t)(qbk_clock_ms() - trestore);
clean:
	t0 = qbk_clock_ms();
	if (qbk_drill_remove_scratch(cq, prefix.buf, rc == 0 ? err :
	    &cerr) != 0) {
		if (rc == 0) {
			rc = -1;
			failed = 1;
		} else
			qbk_warn("%s", cerr.msg);
	}
	phase(res, "cleanup", t0);
	scratch = 0;
out:
	if (scratch && qbk_drill_remove_scratch(cq, prefix.buf, &cerr) != 0)
		qbk_warn("%s", cerr.msg);
	rc = finish(repo, o, res, rc, failed, err);
	for (i = 0; i < nsets; i++)
		qbk_manifest_free(sets[i].m);
	free(sets);
	free(ok);
	qbk_buf_release(&prefix);
	return rc;
}
