#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "command/qbk_prune.h"
#include "command/qbk_report.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_fs.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_failure.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "testutil.h"

#define T0	INT64_C(1795299300)	/* 2026-11-21T22:15:00Z */
#define H	INT64_C(3600)
#define PASS	"report test passphrase"

/* A manifest at ${t} with collection ${name} of ${size} bytes (one chunk
 * whose id derives from ${seed}), ${bnew} of them new. */
static struct qbk_manifest *
manifest(int64_t t, const char *name, uint32_t size, uint64_t bnew,
    unsigned seed)
{
	struct qbk_manifest *m = qbk_manifest_new();
	struct qbk_manifest_collection *c;
	struct qbk_manifest_snapshot *s;
	uint8_t id[QBK_ID_LEN];

	assert_int_equal(qbk_manifest_make_id(t, m->backup_id), 0);
	m->type = QBK_MANIFEST_TYPE_INCREMENTAL;
	m->start = t;
	m->end = t + 5;
	qbk_manifest_strset(&m->host, "db1");
	qbk_manifest_strset(&m->tool_version, "qbk " QBK_VERSION);
	qbk_manifest_add_source(m, "http://qdrant:6333");
	qbk_manifest_add_tag(m, "env", "test");
	c = qbk_manifest_add_collection(m, name);
	c->points_count = 10;
	{
		json_t *o = json_object();

		qbk_manifest_collection_set_config(c, o);
		qbk_manifest_collection_set_vectors(c, o);
		json_decref(o);
	}
	s = qbk_manifest_add_snapshot(m, c, QBK_MANIFEST_SNAP_COLLECTION);
	qbk_manifest_strset(&s->node_url, "http://qdrant:6333");
	qbk_manifest_strset(&s->name, "c.snapshot");
	memset(s->sha256, 'a', QBK_MANIFEST_HEX_LEN);
	s->sha256[QBK_MANIFEST_HEX_LEN] = '\0';
	s->start = t;
	s->end = t + 1;
	memset(id, (int)seed, sizeof(id));
	qbk_manifest_snapshot_add_chunk(s, id, size);
	s->bytes = s->size;
	s->bytes_new = bnew;
	s->chunks_new = bnew > 0;
	qbk_manifest_compute_totals(m);
	return m;
}

static void
add(struct qbk_report *r, int64_t t, const char *name, uint32_t size,
    uint64_t bnew, const char *problem)
{
	struct qbk_manifest *m = manifest(t, name, size, bnew, 1);

	qbk_report_add_backup(r, m, 0, problem);
	qbk_manifest_free(m);
}

static struct qbk_manifest_drill *
drill(int64_t t, int pass, uint64_t rto_ms)
{
	struct qbk_manifest_drill *d = qbk_manifest_drill_new();

	assert_int_equal(qbk_manifest_make_id(t, d->drill_id), 0);
	assert_int_equal(qbk_manifest_make_id(t - H, d->backup_id), 0);
	qbk_manifest_strset(&d->level, "quick");
	qbk_manifest_strset(&d->scenario, "collection");
	qbk_manifest_strset(&d->host, "runner");
	qbk_manifest_strset(&d->tool_version, "qbk " QBK_VERSION);
	d->start = t;
	d->end = t + 60;
	qbk_manifest_drill_add_phase(d, "restore", rto_ms);
	d->pass = pass;
	d->rto_ms = rto_ms;
	if (!pass)
		qbk_manifest_drill_add_problem(d, "points count differs");
	return d;
}

static struct qbk_report_opts
opts(int64_t now, int64_t rpo, int64_t rto)
{
	struct qbk_report_opts o;

	memset(&o, 0, sizeof(o));
	o.now = now;
	o.since = now - 30 * 24 * H;
	o.rpo_target = rpo;
	o.rto_target = rto;
	return o;
}

/* RPO, gaps, counts and growth follow the backups; unusable ones and those
 * after the report time do not count. */
static void
rpo_and_gaps(void **state)
{
	struct qbk_report_opts o = opts(T0 + 10 * H, H, -1);
	struct qbk_report *r = qbk_report_new(&o);
	const struct qbk_report_collection *c;

	(void)state;
	/* Added out of order: compute sorts. */
	add(r, T0 + 4 * H, "c1", 3000, 1000, NULL);
	add(r, T0, "c1", 1000, 1000, NULL);
	add(r, T0 + H, "c1", 2000, 500, NULL);
	add(r, T0 + 9 * H, "c1", 9000, 700, "1 chunk reference missing");
	add(r, T0 + 11 * H, "c1", 5000, 100, NULL);	/* after now */
	add(r, T0 + 2 * H, "c2", 400, 400, NULL);
	r->stored_bytes = 2000;
	qbk_report_compute(r);

	assert_int_equal(r->n_backups, 6);
	assert_string_equal(r->backups[0].id, r->backups[0].id);
	assert_int_equal(r->backups[0].start, T0);
	assert_int_equal(r->backups[5].start, T0 + 11 * H);
	assert_int_equal(r->n_collections, 2);
	c = &r->collections[0];
	assert_string_equal(c->name, "c1");
	assert_int_equal(c->last, T0 + 4 * H);
	assert_int_equal(c->rpo, 6 * H);
	assert_int_equal(c->rpo_met, 0);
	assert_int_equal(c->max_gap, 3 * H);
	assert_int_equal(c->backups, 3);
	assert_int_equal(c->unusable, 1);
	assert_int_equal(c->size, 3000);
	/* 2000 bytes in 4 hours: 2000 * 42 per week. */
	assert_true(c->growth_per_week > 83999.0 && c->growth_per_week <
	    84001.0);
	c = &r->collections[1];
	assert_string_equal(c->name, "c2");
	assert_int_equal(c->rpo, 8 * H);
	assert_int_equal(c->max_gap, 0);
	assert_int_equal(c->backups, 1);

	/* Logical bytes count every backup; the ratio is against stored. */
	assert_int_equal(r->logical_bytes, 1000 + 2000 + 3000 + 9000 + 5000 +
	    400);
	assert_true(r->dedup_ratio > 10.19 && r->dedup_ratio < 10.21);
	assert_int_equal(r->backups_in_window, 5);
	/* Usable in window: T0, T0+1h, T0+2h(c2), T0+4h: new bytes after the
	 * first, 500 + 400 + 1000, over 4 hours. */
	assert_true(r->growth_per_week > 1900.0 * 42 - 1 &&
	    r->growth_per_week < 1900.0 * 42 + 1);

	assert_int_equal(r->n_misses, 2);
	assert_string_equal(r->misses[0].kind, "rpo");
	assert_string_equal(r->misses[0].collection, "c1");
	assert_non_null(strstr(r->misses[0].text, "rpo 6h exceeds the target "
	    "1h"));
	assert_string_equal(r->misses[1].collection, "c2");
	assert_int_equal(r->objectives_met, 0);

	/* Compute again: the same, nothing leaks or doubles. */
	qbk_report_compute(r);
	assert_int_equal(r->n_collections, 2);
	assert_int_equal(r->n_misses, 2);
	qbk_report_free(r);
}

/* The window: a gap whose later backup is in the window counts, older
 * gaps do not; without a target nothing is missed. */
static void
window_and_no_target(void **state)
{
	struct qbk_report_opts o = opts(T0 + 100 * H, -1, -1);
	struct qbk_report *r;

	(void)state;
	o.since = T0 + 50 * H;
	r = qbk_report_new(&o);
	add(r, T0, "c1", 10, 0, NULL);
	add(r, T0 + 40 * H, "c1", 10, 0, NULL);	/* gap 40h, before window */
	add(r, T0 + 60 * H, "c1", 10, 0, NULL);	/* gap 20h, in window */
	add(r, T0 + 70 * H, "c1", 10, 0, NULL);
	qbk_report_compute(r);
	assert_int_equal(r->collections[0].max_gap, 20 * H);
	assert_int_equal(r->collections[0].backups, 2);
	assert_int_equal(r->collections[0].rpo, 30 * H);
	assert_int_equal(r->collections[0].rpo_met, -1);
	assert_int_equal(r->n_misses, 0);
	assert_int_equal(r->objectives_met, 1);
	assert_int_equal(r->dedup_ratio == 0.0, 1);
	qbk_report_free(r);

	/* An empty repository misses an RPO target. */
	o = opts(T0, H, -1);
	r = qbk_report_new(&o);
	qbk_report_compute(r);
	assert_int_equal(r->n_misses, 1);
	assert_null(r->misses[0].collection);
	assert_int_equal(r->objectives_met, 0);
	qbk_report_free(r);
}

/* The newest drill decides: failed, or RTO above the target, is a miss. */
static void
drills(void **state)
{
	struct qbk_report_opts o = opts(T0 + 10 * H, -1, 900);
	struct qbk_manifest_drill *d;
	struct qbk_report *r = qbk_report_new(&o);

	(void)state;
	d = drill(T0 + 2 * H, 0, 1000);
	qbk_report_add_drill(r, d);
	qbk_manifest_drill_free(d);
	d = drill(T0 + 5 * H, 1, 1200 * 1000);	/* passed, but 20m > 15m */
	qbk_report_add_drill(r, d);
	qbk_manifest_drill_free(d);
	d = drill(T0 + 20 * H, 0, 1000);	/* after now: ignored */
	qbk_report_add_drill(r, d);
	qbk_manifest_drill_free(d);
	qbk_report_compute(r);
	assert_int_equal(r->last_drill, 1);
	assert_int_equal(r->drills_pass, 1);
	assert_int_equal(r->drills_fail, 1);
	assert_int_equal(r->rto_met, 0);
	assert_int_equal(r->n_misses, 1);
	assert_string_equal(r->misses[0].kind, "rto");
	assert_non_null(strstr(r->misses[0].text, "restore took 20m, more "
	    "than the rto target 15m"));
	qbk_report_free(r);

	/* A failed newest drill within the RTO: a drill miss only. */
	o.now = T0 + 3 * H;
	r = qbk_report_new(&o);
	d = drill(T0 + 2 * H, 0, 1000);
	qbk_report_add_drill(r, d);
	qbk_manifest_drill_free(d);
	qbk_report_compute(r);
	assert_int_equal(r->rto_met, 1);
	assert_int_equal(r->n_misses, 1);
	assert_string_equal(r->misses[0].kind, "drill");
	assert_non_null(strstr(r->misses[0].text, "points count differs"));
	qbk_report_free(r);
}

/* Prometheus text: every family has HELP and TYPE, labels are escaped,
 * targets and drill gauges appear only when they exist. */
static void
prometheus(void **state)
{
	struct qbk_report_opts o = opts(T0 + 2 * H, H, -1);
	struct qbk_report *r = qbk_report_new(&o);
	struct qbk_buf out = QBK_BUF_INIT;

	(void)state;
	add(r, T0 + H, "we\"ird\\name", 10, 10, NULL);
	add(r, T0 + H, "broken", 10, 10, "damaged");
	qbk_report_compute(r);
	qbk_report_prometheus(r, &out);
	assert_non_null(strstr(out.buf, "# HELP qbk_report_timestamp_seconds "));
	assert_non_null(strstr(out.buf, "# TYPE qbk_report_timestamp_seconds "
	    "gauge\nqbk_report_timestamp_seconds 1795306500\n"));
	assert_non_null(strstr(out.buf, "qbk_objective_rpo_seconds 3600\n"));
	assert_null(strstr(out.buf, "qbk_objective_rto_seconds"));
	assert_non_null(strstr(out.buf, "qbk_collection_rpo_seconds{collection="
	    "\"we\\\"ird\\\\name\"} 3600\n"));
	assert_non_null(strstr(out.buf, "qbk_collection_rpo_seconds{collection="
	    "\"broken\"} +Inf\n"));
	assert_non_null(strstr(out.buf, "qbk_collection_rpo_met{collection="
	    "\"broken\"} 0\n"));
	assert_null(strstr(out.buf, "qbk_drill_last_success"));
	assert_non_null(strstr(out.buf, "qbk_drills{result=\"pass\"} 0\n"));
	assert_non_null(strstr(out.buf, "qbk_objectives_met 0\n"));
	qbk_report_free(r);
	qbk_buf_release(&out);
}

/* From a repository: a drill written with qbk_repo_drill_write(), a legal
 * hold, and a backup whose chunk is missing. */
static void
from_repository(void **state)
{
	struct qbk_repo_create_opts co;
	struct qbk_repo_secret sec = { PASS, NULL };
	struct qbk_report_opts o = opts(T0 + 3 * H, H, 600);
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest *m[2];
	struct qbk_manifest_drill *d;
	struct qbk_report *r = NULL;
	struct qbk_repo *repo = NULL;
	struct qbk_buf loc = QBK_BUF_INIT, out = QBK_BUF_INIT;
	char *dir = tu_tmpdir("report");
	unsigned i;

	(void)state;
	assert_non_null(dir);
	qbk_buf_addf(&loc, "%s/repo", dir);
	memset(&co, 0, sizeof(co));
	co.location = loc.buf;
	co.aead = QBK_CRYPTO_AEAD_XCHACHA;
	co.zstd_level = 3;
	co.passphrase = PASS;
	co.opslimit = QBK_CRYPTO_PWHASH_OPSLIMIT_MIN;
	co.memlimit = QBK_CRYPTO_PWHASH_MEMLIMIT_MIN;
	assert_int_equal(qbk_repo_create(&co, NULL, &err), 0);
	assert_int_equal(qbk_repo_open(loc.buf, &sec, &repo, &err), 0);

	/* Backup 0's chunk is stored, backup 1's is not. */
	m[0] = manifest(T0, "c1", 100, 100, 7);
	m[1] = manifest(T0 + H, "c1", 100, 100, 8);
	{
		const struct qbk_manifest_chunk *ch =
		    &m[0]->collections[0]->snapshots[0]->chunks[0];
		char key[QBK_REPO_CHUNK_KEY_LEN];
		struct qbk_buf k = QBK_BUF_INIT;

		qbk_repo_chunk_key(ch->id, key);
		qbk_buf_addf(&k, "%s/%s", loc.buf, key);
		qbk_buf_setlen(&k, (size_t)(strrchr(k.buf, '/') - k.buf));
		assert_int_equal(qbk_fs_mkdir_p(k.buf, QBK_FS_NOSYNC, &err),
		    0);
		qbk_buf_addf(&k, "/%s", strrchr(key, '/') + 1);
		assert_int_equal(tu_write_file(k.buf, "0123456789"), 0);
		qbk_buf_release(&k);
	}
	for (i = 0; i < 2; i++)
		if (qbk_repo_manifest_write(repo, m[i], &err) != 0)
			fail_msg("manifest: %s", err.msg);
	assert_int_equal(qbk_hold_set(repo, m[0]->backup_id, "audit",
	    &err), 0);
	d = drill(T0 + 2 * H, 1, 42000);
	d->rto_target_ms = 600000;
	assert_int_equal(qbk_repo_drill_write(repo, d, &err), 0);
	{
		static const char *const names[] = { "c1", "c2" };
		struct qbk_failure f, *fl = NULL;
		size_t nf = 0, removed = 0;

		memset(&f, 0, sizeof(f));
		f.time = T0 + 2 * H + 60;
		f.host = (char *)(uintptr_t)"db1";
		f.program = (char *)(uintptr_t)"qbk-backup";
		f.collections = (char **)(uintptr_t)names;
		f.n_collections = 2;
		f.exit_code = 1;
		f.error = (char *)(uintptr_t)"cannot reach Qdrant";
		assert_int_equal(qbk_failure_record(repo, &f, &err), 0);
		f.time = T0 - 24 * H;
		f.n_collections = 0;
		f.full_storage = 1;
		assert_int_equal(qbk_failure_record(repo, &f, &err), 0);
		assert_int_equal(qbk_failure_list(repo, &fl, &nf, &err), 0);
		assert_int_equal(nf, 2);
		assert_int_equal(fl[0].time, T0 - 24 * H);
		assert_int_equal(fl[0].full_storage, 1);
		assert_int_equal(qbk_failure_covers(&fl[0], "full-storage"), 1);
		assert_int_equal(qbk_failure_covers(&fl[0], "c1"), 0);
		assert_int_equal(fl[1].n_collections, 2);
		assert_string_equal(fl[1].collections[1], "c2");
		assert_string_equal(fl[1].error, "cannot reach Qdrant");
		assert_string_equal(fl[1].host, "db1");
		assert_int_equal(qbk_failure_covers(&fl[1], "c2"), 1);
		assert_int_equal(qbk_failure_covers(&fl[1], "c9"), 0);
		qbk_failure_list_free(fl, nf);
		/* Prune-style removal of the older one. */
		assert_int_equal(qbk_failure_prune(repo, T0, &removed, &err),
		    0);
		assert_int_equal(removed, 1);
	}

	o.check_chunks = 1;
	assert_int_equal(qbk_report_load(repo, &o, &r, &err), 0);
	assert_int_equal(r->n_backups, 2);
	assert_int_equal(r->backups[0].held, 1);
	assert_int_equal(r->backups[1].held, 0);
	assert_int_equal(r->backups[0].usable, 1);
	assert_int_equal(r->backups[1].usable, 0);
	assert_non_null(strstr(r->backups[1].problem, "1 chunk reference "
	    "missing"));
	assert_int_equal(r->stored_chunks, 1);
	assert_int_equal(r->stored_bytes, 10);
	assert_int_equal(r->collections[0].rpo, 3 * H);
	assert_int_equal(r->n_drills, 1);
	assert_string_equal(r->drills[0].id, d->drill_id);
	assert_int_equal(r->drills[0].pass, 1);
	assert_int_equal(r->drills[0].rto_ms, 42000);
	assert_int_equal(r->last_drill, 0);
	assert_int_equal(r->rto_met, 1);
	assert_int_equal(r->drills_pass, 1);
	assert_int_equal(r->n_failures, 1);
	assert_int_equal(r->collections[0].failed, 1);
	/* The misses are RPOs: c1's (3h > 1h), and c2, only named by the
	 * failed run, has no usable backup. */
	assert_int_equal(r->n_collections, 2);
	assert_int_equal(r->n_misses, 2);
	assert_string_equal(r->misses[0].kind, "rpo");
	assert_string_equal(r->misses[1].collection, "c2");

	qbk_buf_reset(&out);
	qbk_report_list_json(r, &out);
	assert_non_null(strstr(out.buf, "\"drills\":[{"));
	assert_non_null(strstr(out.buf, d->drill_id));
	assert_non_null(strstr(out.buf, "\"held\":true"));
	assert_non_null(strstr(out.buf, "\"result\":\"pass\""));
	qbk_buf_reset(&out);
	qbk_report_list_text(r, &out);
	assert_non_null(strstr(out.buf, "1 drill\n"));
	assert_non_null(strstr(out.buf, " pass "));
	qbk_buf_reset(&out);
	qbk_report_prometheus(r, &out);
	assert_non_null(strstr(out.buf, "qbk_drill_last_success 1\n"));
	assert_non_null(strstr(out.buf, "qbk_drill_last_rto_seconds 42\n"));
	assert_non_null(strstr(out.buf, "qbk_drill_last_rto_met 1\n"));
	assert_non_null(strstr(out.buf, "qbk_drills{result=\"pass\"} 1\n"));
	qbk_buf_reset(&out);
	qbk_report_text(r, &out);
	assert_non_null(strstr(out.buf, "last drill: "));
	assert_non_null(strstr(out.buf, "objectives: MISSED"));
	qbk_buf_reset(&out);
	qbk_report_json(r, &out);
	assert_non_null(strstr(out.buf, "\"objectives_met\":false"));
	qbk_report_free(r);

	/* Without the chunk check both are usable (what --list does). */
	o.check_chunks = 0;
	assert_int_equal(qbk_report_load(repo, &o, &r, &err), 0);
	assert_int_equal(r->backups[1].usable, 1);
	assert_int_equal(r->collections[0].rpo, 2 * H);
	qbk_report_free(r);

	qbk_manifest_drill_free(d);
	for (i = 0; i < 2; i++)
		qbk_manifest_free(m[i]);
	qbk_repo_close(repo);
	qbk_buf_release(&loc);
	qbk_buf_release(&out);
	tu_rmrf(dir);
}

/* Add a failed run of qbk-backup to ${r}. */
static void
failure(struct qbk_report *r, const char *id, int64_t t, const char *host,
    const char *const *colls, size_t n, int code, const char *error)
{
	struct qbk_failure f;

	memset(&f, 0, sizeof(f));
	snprintf(f.id, sizeof(f.id), "%s", id);
	f.time = t;
	f.host = (char *)(uintptr_t)host;
	f.program = (char *)(uintptr_t)"qbk-backup";
	f.collections = (char **)(uintptr_t)colls;
	f.n_collections = n;
	f.exit_code = code;
	f.error = (char *)(uintptr_t)error;
	qbk_report_add_failure(r, &f);
}

/* A backup that lacks shards of a collection is partial: it does not
 * count for that collection's RPO; failed runs are counted per collection
 * and name collections that never had a backup. */
static void
partial_and_failed(void **state)
{
	static const char *const c3[] = { "c3" };
	static const char *const c1[] = { "c1" };
	struct qbk_report_opts o = opts(T0 + 10 * H, 2 * H, -1);
	struct qbk_report *r = qbk_report_new(&o);
	struct qbk_manifest *m;
	struct qbk_buf out = QBK_BUF_INIT;
	const struct qbk_report_collection *c;

	(void)state;
	add(r, T0 + 2 * H, "c1", 1000, 1000, NULL);
	m = manifest(T0 + 9 * H, "c1", 1000, 0, 1);
	qbk_manifest_add_missing(m, "c1", 3, "no active replica");
	qbk_manifest_add_missing(m, "c1", 4, "");
	qbk_report_add_backup(r, m, 0, NULL);
	qbk_manifest_free(m);
	failure(r, "20261122T050000Z-0a0a", T0 + 7 * H, "db1", c1, 1, 1,
	    "cannot create snapshot of 'c1': HTTP 500");
	failure(r, "20261122T060000Z-0b0b", T0 + 8 * H, "db1", NULL, 0, 1,
	    "Qdrant unreachable");
	failure(r, "20261122T070000Z-0c0c", T0 + 9 * H, "db2", c3, 1, 4,
	    "repository locked");
	failure(r, "20261122T080000Z-0d0d", T0 + 11 * H, "db2", c3, 1, 1,
	    "after now");
	qbk_report_compute(r);

	assert_int_equal(r->n_collections, 2);
	c = &r->collections[0];
	assert_string_equal(c->name, "c1");
	/* The partial backup at 9h does not count: rpo from 2h. */
	assert_int_equal(c->last, T0 + 2 * H);
	assert_int_equal(c->rpo, 8 * H);
	assert_int_equal(c->rpo_met, 0);
	assert_int_equal(c->backups, 1);
	assert_int_equal(c->partial, 1);
	assert_int_equal(c->failed, 2);	/* its own and the "all" run */
	c = &r->collections[1];
	assert_string_equal(c->name, "c3");
	assert_int_equal(c->last, -1);
	assert_int_equal(c->failed, 2);	/* "all" and its own, not later */
	assert_int_equal(r->failures_in_window, 3);
	assert_int_equal(r->last_failure, 2);
	assert_int_equal(r->n_misses, 2);
	assert_non_null(strstr(r->misses[1].text, "collection 'c3': no usable "
	    "backup"));

	qbk_report_list_text(r, &out);
	assert_non_null(strstr(out.buf, "PARTIAL: 2 shards of c1 missing"));
	assert_non_null(strstr(out.buf, "20261122T050000Z-0a0a"));
	assert_non_null(strstr(out.buf, "(all)"));
	assert_non_null(strstr(out.buf, "4 failed runs\n"));
	qbk_buf_reset(&out);
	qbk_report_list_json(r, &out);
	assert_non_null(strstr(out.buf, "\"missing_shards\":{\"c1\":2}"));
	assert_non_null(strstr(out.buf, "\"error\":\"repository locked\""));
	qbk_buf_reset(&out);
	qbk_report_json(r, &out);
	assert_non_null(strstr(out.buf, "\"partial_backups\":1"));
	assert_non_null(strstr(out.buf, "\"failed_backups\":2"));
	assert_non_null(strstr(out.buf, "\"in_window\":3"));
	qbk_buf_reset(&out);
	qbk_report_text(r, &out);
	assert_non_null(strstr(out.buf, "(1 partial backup in the window"));
	assert_non_null(strstr(out.buf, "(2 failed backup runs in the "
	    "window)"));
	assert_non_null(strstr(out.buf, "last failed run: "));
	qbk_buf_reset(&out);
	qbk_report_prometheus(r, &out);
	assert_non_null(strstr(out.buf, "qbk_collection_partial_backups"
	    "{collection=\"c1\"} 1\n"));
	assert_non_null(strstr(out.buf, "qbk_collection_failed_backups"
	    "{collection=\"c3\"} 2\n"));
	assert_non_null(strstr(out.buf, "qbk_failed_backups 3\n"));
	qbk_buf_release(&out);
	qbk_report_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rpo_and_gaps),
		cmocka_unit_test(window_and_no_target),
		cmocka_unit_test(drills),
		cmocka_unit_test(prometheus),
		cmocka_unit_test(from_repository),
		cmocka_unit_test(partial_and_failed),
	};
	struct qbk_err err = QBK_ERR_INIT;

	if (qbk_init(&err) != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
