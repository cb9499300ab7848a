/* Unit tests of lib/command/qbk_prune.c: holds, dry run, --max-delete, and what a
 * prune removes from a real (local) repository. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command/qbk_prune.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_idset.h"
#include "common/qbk_time.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "repo/qbk_repo_internal.h"
#include "storage/qbk_store.h"
#include "testutil.h"

#define NB	4
#define NC	5
#define DAY	86400

struct fx {
	char *dir;
	struct qbk_repo *r;
	char ids[NB][QBK_MANIFEST_ID_LEN + 1];
	uint8_t chunks[NB][NC][QBK_ID_LEN];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct qbk_repo_create_opts o;
	struct qbk_repo_secret sec = { "pw", NULL };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf loc = QBK_BUF_INIT;
	size_t b, c;

	assert_non_null(f);
	f->dir = tu_tmpdir("prune");
	qbk_buf_addf(&loc, "%s/repo", f->dir);
	memset(&o, 0, sizeof(o));
	o.location = loc.buf;
	o.aead = QBK_CRYPTO_AEAD_XCHACHA;
	o.passphrase = "pw";
	o.opslimit = QBK_CRYPTO_PWHASH_OPSLIMIT_MIN;
	o.memlimit = QBK_CRYPTO_PWHASH_MEMLIMIT_MIN;
	assert_int_equal(qbk_repo_create(&o, NULL, &err), 0);
	assert_int_equal(qbk_repo_open(loc.buf, &sec, &f->r, &err), 0);
	qbk_buf_release(&loc);
	/* Backups a day apart, each with its own chunks of 1000 + i bytes,
	 * and chunk 0 shared by all of them. */
	for (b = 0; b < NB; b++) {
		struct qbk_manifest *m = qbk_manifest_new();
		struct qbk_manifest_snapshot *s;
		int64_t t = 1790000000 + (int64_t)b * DAY;
		uint8_t obj[2000];

		assert_int_equal(qbk_manifest_make_id(t, m->backup_id), 0);
		snprintf(f->ids[b], sizeof(f->ids[b]), "%s", m->backup_id);
		m->start = t;
		m->end = t + 5;
		qbk_manifest_strset(&m->host, "db1");
		qbk_manifest_strset(&m->tool_version, "qbk " QBK_VERSION);
		qbk_manifest_add_source(m, "http://qdrant:6333");
		m->kind = QBK_MANIFEST_KIND_FULL_STORAGE;
		s = qbk_manifest_add_snapshot(m, NULL, QBK_MANIFEST_SNAP_FULL);
		qbk_manifest_strset(&s->node_url, "http://qdrant:6333");
		qbk_manifest_strset(&s->name, "full.snapshot");
		memset(s->sha256, 'a', QBK_MANIFEST_HEX_LEN);
		s->sha256[QBK_MANIFEST_HEX_LEN] = '\0';
		s->start = t;
		s->end = t + 1;
		for (c = 0; c < NC; c++) {
			memset(f->chunks[b][c], (int)(c + 1), QBK_ID_LEN);
			if (c > 0)
				f->chunks[b][c][0] = (uint8_t)(0x10 + b);
			qbk_manifest_snapshot_add_chunk(s, f->chunks[b][c],
			    (uint32_t)(1000 + c));
			memset(obj, 'x', sizeof(obj));
			assert_int_equal(qbk_repo_chunk_put(f->r,
			    f->chunks[b][c], obj, 1000 + c, 0, &err), 0);
		}
		s->bytes = s->size;
		qbk_manifest_compute_totals(m);
		assert_int_equal(qbk_repo_manifest_write(f->r, m, &err), 0);
		qbk_manifest_free(m);
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	qbk_repo_close(f->r);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

static int
chunk_exists(struct fx *f, const uint8_t *id)
{
	char key[QBK_REPO_CHUNK_KEY_LEN];
	struct qbk_err err = QBK_ERR_INIT;

	qbk_repo_chunk_key(id, key);
	return qbk_store_exists(qbk_repo_store(f->r), key, &err);
}

static int
backup_exists(struct fx *f, size_t b)
{
	char key[64];
	struct qbk_err err = QBK_ERR_INIT;

	snprintf(key, sizeof(key), "backups/%s", f->ids[b]);
	return qbk_store_exists(qbk_repo_store(f->r), key, &err);
}

static void
holds_roundtrip(void **state)
{
	struct fx *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_hold *h = NULL;
	size_t n = 9;

	assert_int_equal(qbk_hold_list(f->r, &h, &n, &err), 0);
	assert_int_equal(n, 0);
	qbk_hold_list_free(h, n);
	assert_int_equal(qbk_hold_set(f->r, f->ids[2], "case 4711",
	    &err), 0);
	assert_int_equal(qbk_hold_set(f->r, f->ids[0], NULL, &err), 0);
	assert_int_equal(qbk_hold_list(f->r, &h, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(h[0].backup_id, f->ids[0]);
	assert_string_equal(h[0].reason, "");
	assert_string_equal(h[1].backup_id, f->ids[2]);
	assert_string_equal(h[1].reason, "case 4711");
	assert_non_null(strchr(h[1].who, '@'));
	assert_int_equal(strlen(h[1].when), QBK_TIME_LEN);
	qbk_hold_list_free(h, n);

	assert_int_equal(qbk_hold_release(f->r, f->ids[2], &err), 0);
	assert_int_equal(qbk_hold_release(f->r, f->ids[2], &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_int_equal(qbk_hold_set(f->r, "20200101T000000Z-abcd",
	    NULL, &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_int_equal(qbk_hold_release(f->r, "../x", &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_int_equal(qbk_hold_list(f->r, &h, &n, &err), 0);
	assert_int_equal(n, 1);
	qbk_hold_list_free(h, n);
}

static void
prune_dry_run_and_limits(void **state)
{
	struct fx *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_prune_opts o = { .policy = QBK_RETENTION_POLICY_INIT,
	    .dry_run = 1, .max_delete = -1 };
	struct qbk_prune_result *res = NULL;
	struct qbk_buf json = QBK_BUF_INIT;
	size_t b;

	/* No policy: everything stays. */
	assert_int_equal(qbk_prune_run(f->r, &o, &res, &err), 0);
	assert_int_equal(res->n_backups, NB);
	assert_int_equal(res->n_remove, 0);
	assert_int_equal(res->chunks_removed, 0);
	qbk_prune_result_free(res);

	o.policy.keep_last = 1;
	assert_int_equal(qbk_prune_run(f->r, &o, &res, &err), 0);
	assert_int_equal(res->n_remove, NB - 1);
	/* Their own chunks (not the shared one): 4 each of 1001..1004. */
	assert_int_equal(res->chunks_removed, (NB - 1) * (NC - 1));
	assert_true(res->bytes_freed > (NB - 1) * 4000);
	assert_int_equal(res->backups[NB - 1].keep,
	    1u << QBK_RETENTION_LAST);
	qbk_prune_report_json(res, 1, NULL, &json);
	assert_non_null(strstr(json.buf, "\"removed\": 3"));
	assert_non_null(strstr(json.buf, "\"dry_run\": true"));
	assert_non_null(strstr(json.buf, "\"policy\": \"--keep-last 1\""));
	qbk_buf_release(&json);
	qbk_prune_result_free(res);
	for (b = 0; b < NB; b++)
		assert_int_equal(backup_exists(f, b), 1);

	o.dry_run = 0;
	o.max_delete = 2;
	assert_int_equal(qbk_prune_run(f->r, &o, &res, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_non_null(strstr(err.msg, "--max-delete 2"));
	qbk_prune_result_free(res);
	for (b = 0; b < NB; b++)
		assert_int_equal(backup_exists(f, b), 1);
}

static void
prune_removes(void **state)
{
	struct fx *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_prune_opts o = { .policy = QBK_RETENTION_POLICY_INIT,
	    .max_delete = 1, .force = 1 };
	struct qbk_prune_result *res = NULL;
	size_t c;

	/* Held backup 0 and the newest survive; --force beats max_delete;
	 * an orphan twin goes. */
	assert_int_equal(qbk_hold_set(f->r, f->ids[0], "audit", &err),
	    0);
	assert_int_equal(qbk_store_put(qbk_repo_store(f->r),
	    "backups/20200101T000000Z-abcd.copy", "x", 1, 0, &err), 0);
	o.policy.keep_last = 1;
	assert_int_equal(qbk_prune_run(f->r, &o, &res, &err), 0);
	assert_int_equal(res->n_remove, 2);
	assert_int_equal(res->copies_removed, 1);
	assert_int_equal(res->chunks_removed, 2 * (NC - 1));
	assert_int_equal(res->backups[0].keep, 1u << QBK_RETENTION_HOLD);
	qbk_prune_result_free(res);
	assert_int_equal(backup_exists(f, 0), 1);
	assert_int_equal(backup_exists(f, 1), 0);
	assert_int_equal(backup_exists(f, 2), 0);
	assert_int_equal(backup_exists(f, 3), 1);
	for (c = 0; c < NC; c++) {
		assert_int_equal(chunk_exists(f, f->chunks[0][c]), 1);
		assert_int_equal(chunk_exists(f, f->chunks[3][c]), 1);
		assert_int_equal(chunk_exists(f, f->chunks[1][c]), c == 0);
		assert_int_equal(chunk_exists(f, f->chunks[2][c]), c == 0);
	}
	/* A rerun has nothing left to do. */
	assert_int_equal(qbk_prune_run(f->r, &o, &res, &err), 0);
	assert_int_equal(res->n_remove, 0);
	assert_int_equal(res->chunks_removed, 0);
	assert_int_equal(res->copies_removed, 0);
	qbk_prune_result_free(res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(holds_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(prune_dry_run_and_limits,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(prune_removes, setup,
		    teardown),
	};
	struct qbk_err err = QBK_ERR_INIT;

	if (qbk_init(&err) != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
