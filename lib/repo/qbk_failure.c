#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "common/qbk_time.h"
#include "repo/qbk_layout.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "repo/qbk_repo_internal.h"
#include "storage/qbk_store.h"
#include "repo/qbk_failure.h"

int
qbk_failure_record(struct qbk_repo *r, const struct qbk_failure *f,
    struct qbk_err *err)
{
	struct qbk_buf text = QBK_BUF_INIT, obj = QBK_BUF_INIT;
	char key[QBK_LAYOUT_KEY_MAX];
	char id[QBK_MANIFEST_ID_LEN + 1], when[QBK_TIME_LEN + 1];
	json_t *o, *cs;
	size_t i;
	int rc = -1;

	if (qbk_manifest_make_id(f->time, id) != 0 ||
	    qbk_time_format(f->time, when) != 0)
		return qbk_err_set(err, QBK_E_INTERNAL, "cannot make a "
		    "failure record id");
	cs = json_array();
	for (i = 0; i < f->n_collections; i++)
		json_array_append_new(cs, json_string(f->collections[i]));
	/* json_string() refuses invalid UTF-8, which an error message
	 * quoting a server may hold: such a field becomes "?". */
	o = json_pack("{s:i, s:s, s:s, s:s?, s:s?, s:o, s:b, s:i, s:s?}",
	    "format", 1, "id", id, "time", when, "host", f->host, "program",
	    f->program, "collections", cs, "full_storage",
	    f->full_storage != 0, "exit_code", f->exit_code, "error",
	    f->error);
	if (o == NULL)
		return qbk_err_set(err, QBK_E_INTERNAL, "cannot build the "
		    "failure record");
	qbk_json_dump(o, &text, 0);
	json_decref(o);
	qbk_layout_key(QBK_LAYOUT_FAILURE, id, key);
	if (qbk_repo_seal(r, key, text.buf, text.len, &obj, err) != 0 ||
	    qbk_store_put(qbk_repo_store(r), key, obj.buf, obj.len, 0,
	    err) != 0)
		goto out;
	rc = 0;
out:
	qbk_buf_release(&text);
	qbk_buf_release(&obj);
	return rc;
}

static char *
dup_field(const json_t *o, const char *name)
{
	const char *s = qbk_json_str(o, name);

	return qbk_xstrdup(s != NULL ? s : "");
}

/* Read record ${id} into ${f}. */
static int
read_one(struct qbk_repo *r, const char *id, struct qbk_failure *f,
    struct qbk_err *err)
{
	struct qbk_buf obj = QBK_BUF_INIT, text = QBK_BUF_INIT;
	char key[QBK_LAYOUT_KEY_MAX];
	json_t *o = NULL, *cs, *v;
	size_t i;
	int rc = -1;

	qbk_layout_key(QBK_LAYOUT_FAILURE, id, key);
	if (qbk_store_get(qbk_repo_store(r), key, QBK_FAILURE_MAX, &obj,
	    err) != 0 ||
	    qbk_repo_unseal(r, key, obj.buf, obj.len, &text, err) != 0 ||
	    (o = qbk_json_parse(text.buf, text.len, key, err)) == NULL)
		goto out;
	cs = json_object_get(o, "collections");
	if (qbk_json_str(o, "id") == NULL ||
	    strcmp(qbk_json_str(o, "id"), id) != 0 || !json_is_array(cs) ||
	    qbk_manifest_id_time(id, &f->time) != 0) {
		qbk_err_set(err, QBK_E_INTEGRITY, "failure record '%s' is "
		    "malformed", key);
		goto out;
	}
	snprintf(f->id, sizeof(f->id), "%s", id);
	f->host = dup_field(o, "host");
	f->program = dup_field(o, "program");
	f->error = dup_field(o, "error");
	f->full_storage = json_is_true(json_object_get(o, "full_storage"));
	v = json_object_get(o, "exit_code");
	f->exit_code = json_is_integer(v) ? (int)json_integer_value(v) : 1;
	f->collections = qbk_xcalloc(json_array_size(cs) + 1, sizeof(char *));
	json_array_foreach(cs, i, v)
		if (json_is_string(v))
			f->collections[f->n_collections++] =
			    qbk_xstrdup(json_string_value(v));
	rc = 0;
out:
	json_decref(o);
	qbk_buf_release(&obj);
	qbk_buf_release(&text);
	return rc;
}

static void
release_one(struct qbk_failure *f)
{
	size_t i;

	free(f->host);
	free(f->program);
	free(f->error);
	for (i = 0; i < f->n_collections; i++)
		free(f->collections[i]);
	free(f->collections);
}

int
qbk_failure_list(struct qbk_repo *r, struct qbk_failure **out, size_t *n,
    struct qbk_err *err)
{
	struct qbk_failure *v;
	char **ids = NULL;
	size_t nids = 0, i;

	*out = NULL;
	*n = 0;
	if (qbk_repo_ids_under(r, QBK_LAYOUT_FAILURE, &ids, &nids, err) != 0)
		return -1;
	v = qbk_xcalloc(nids + 1, sizeof(*v));
	for (i = 0; i < nids; i++) {
		struct qbk_err e2 = QBK_ERR_INIT;

		if (read_one(r, ids[i], &v[*n], &e2) != 0) {
			release_one(&v[*n]);
			memset(&v[*n], 0, sizeof(v[*n]));
			qbk_warn("failure record %s left out: %s", ids[i],
			    e2.msg);
			continue;
		}
		(*n)++;
	}
	qbk_repo_free_ids(ids, nids);
	*out = v;
	return 0;
}

void
qbk_failure_list_free(struct qbk_failure *v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		release_one(&v[i]);
	free(v);
}

int
qbk_failure_covers(const struct qbk_failure *f, const char *collection)
{
	size_t i;

	if (f->full_storage)
		return strcmp(collection, QBK_MANIFEST_FULL_STORAGE) == 0;
	if (f->n_collections == 0)
		return strcmp(collection, QBK_MANIFEST_FULL_STORAGE) != 0;
	for (i = 0; i < f->n_collections; i++)
		if (strcmp(f->collections[i], collection) == 0)
			return 1;
	return 0;
}

int
qbk_failure_prune(struct qbk_repo *r, int64_t before, size_t *removed,
    struct qbk_err *err)
{
	char **ids = NULL, key[QBK_LAYOUT_KEY_MAX];
	size_t nids = 0, i;
	int64_t t;
	int rc = -1;

	if (qbk_repo_ids_under(r, QBK_LAYOUT_FAILURE, &ids, &nids, err) != 0)
		return -1;
	for (i = 0; i < nids; i++) {
		if (qbk_manifest_id_time(ids[i], &t) != 0 || t >= before)
			continue;
		qbk_layout_key(QBK_LAYOUT_FAILURE, ids[i], key);
		if (qbk_store_delete(qbk_repo_store(r), key, 0, err) != 0)
			goto out;
		if (removed != NULL)
			(*removed)++;
	}
	rc = 0;
out:
	qbk_repo_free_ids(ids, nids);
	return rc;
}
