#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/qbk.h"
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
#include "repo/qbk_hold.h"

static void
who_am_i(char *out, size_t size)
{
	char host[256] = "";
	const char *user = getenv("USER");
	struct passwd *pw;

	if (user == NULL || user[0] == '\0') {
		pw = getpwuid(geteuid());
		user = pw != NULL ? pw->pw_name : "?";
	}
	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "?");
	snprintf(out, size, "%s@%s", user, host);
}

int
qbk_hold_set(struct qbk_repo *r, const char *id, const char *reason,
    struct qbk_err *err)
{
	struct qbk_manifest *m = NULL;
	struct qbk_buf text = QBK_BUF_INIT, obj = QBK_BUF_INIT;
	char key[QBK_LAYOUT_KEY_MAX], who[512];
	char when[QBK_TIME_LEN + 1];
	json_t *o;
	int rc = -1;

	if (qbk_repo_manifest_read(r, id, &m, err) != 0)
		return -1;
	qbk_manifest_free(m);
	who_am_i(who, sizeof(who));
	qbk_time_format(qbk_now(), when);
	o = json_pack("{s:s, s:s, s:s, s:s}", "backup_id", id, "who", who,
	    "when", when, "reason", reason != NULL ? reason : "");
	if (o == NULL)
		return qbk_err_set(err, QBK_E_INTERNAL, "cannot build hold "
		    "record of '%s'", id);
	qbk_json_dump(o, &text, 0);
	json_decref(o);
	qbk_layout_key(QBK_LAYOUT_HOLD, id, key);
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

int
qbk_hold_release(struct qbk_repo *r, const char *id,
    struct qbk_err *err)
{
	char key[QBK_LAYOUT_KEY_MAX];
	int e;

	if (!qbk_manifest_id_valid(id))
		return qbk_err_set(err, QBK_E_USAGE, "'%s' is not a backup id",
		    id);
	qbk_layout_key(QBK_LAYOUT_HOLD, id, key);
	if ((e = qbk_store_exists(qbk_repo_store(r), key, err)) < 0)
		return -1;
	if (e == 0)
		return qbk_err_set(err, QBK_E_NOTFOUND, "backup '%s' is not "
		    "held", id);
	return qbk_store_delete(qbk_repo_store(r), key, 0, err);
}

static int
hold_read(struct qbk_repo *r, const char *key, struct qbk_hold *h,
    struct qbk_err *err)
{
	struct qbk_buf obj = QBK_BUF_INIT, text = QBK_BUF_INIT;
	json_t *o = NULL;
	const char *id, *who, *when, *reason;
	int rc = -1;

	if (qbk_store_get(qbk_repo_store(r), key, QBK_HOLD_MAX, &obj,
	    err) != 0 ||
	    qbk_repo_unseal(r, key, obj.buf, obj.len, &text, err) != 0)
		goto out;
	if ((o = qbk_json_parse(text.buf, text.len, key, err)) == NULL)
		goto out;
	id = qbk_json_str(o, "backup_id");
	who = qbk_json_str(o, "who");
	when = qbk_json_str(o, "when");
	reason = qbk_json_str(o, "reason");
	if (id == NULL || who == NULL || when == NULL || reason == NULL ||
	    strcmp(id, h->backup_id) != 0) {
		qbk_err_set(err, QBK_E_INTEGRITY, "hold '%s' is malformed",
		    key);
		goto out;
	}
	h->who = qbk_xstrdup(who);
	h->when = qbk_xstrdup(when);
	h->reason = qbk_xstrdup(reason);
	rc = 0;
out:
	qbk_json_decref(o);
	qbk_buf_release(&obj);
	qbk_buf_release(&text);
	return rc;
}

int
qbk_hold_list(struct qbk_repo *r, struct qbk_hold **out, size_t *n,
    struct qbk_err *err)
{
	char **ids, key[QBK_LAYOUT_KEY_MAX];
	size_t nids, i;
	struct qbk_hold *h;

	*out = NULL;
	*n = 0;
	if (qbk_repo_ids_under(r, QBK_LAYOUT_HOLD, &ids, &nids, err) != 0)
		return -1;
	h = qbk_xcalloc(nids ? nids : 1, sizeof(*h));
	for (i = 0; i < nids; i++) {
		struct qbk_hold *x = &h[*n];
		struct qbk_err e2 = QBK_ERR_INIT;

		snprintf(x->backup_id, sizeof(x->backup_id), "%s", ids[i]);
		qbk_layout_key(QBK_LAYOUT_HOLD, ids[i], key);
		if (hold_read(r, key, x, &e2) != 0) {
			/* Unreadable, but its name still holds the backup:
			 * removing data on a damaged hold is the wrong way
			 * to fail. */
			qbk_warn("%s", e2.msg);
			x->who = qbk_xstrdup("?");
			x->when = qbk_xstrdup("?");
			x->reason = qbk_xstrdup("");
		}
		(*n)++;
	}
	qbk_repo_free_ids(ids, nids);
	*out = h;
	return 0;
}

void
qbk_hold_list_free(struct qbk_hold *h, size_t n)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(h[i].who);
		free(h[i].when);
		free(h[i].reason);
	}
	free(h);
}
