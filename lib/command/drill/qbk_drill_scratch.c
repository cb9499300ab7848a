/*
 * The drill's scratch collections: those that drills which are not running
 * any more left behind, and those of this drill.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "command/drill/qbk_drill_internal.h"
#include "command/qbk_drill.h"
#include "common/qbk.h"
#include "common/qbk_err.h"
#include "common/qbk_log.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_lock.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"

struct lockscan {
	const char *own;	/* our lock id, or NULL */
	int64_t *times;		/* acquisition times of other drills */
	size_t n;
};

static int
scan_lock(void *cookie, const struct qbk_lock_info *li)
{
	struct lockscan *s = cookie;

	if (s->own != NULL && strcmp(li->id, s->own) == 0)
		return 0;
	if (strcmp(li->program, "qbk-drill") != 0)
		return 0;
	s->times = qbk_xrealloc(s->times, (s->n + 1) * sizeof(*s->times));
	s->times[s->n++] = li->time;
	return 0;
}

/* Remove scratch collections of drills that are not running any more. */
int
qbk_drill_remove_leftovers(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_drill_opts *o, const char *own_id, int64_t start,
    struct qbk_drill_result *res, struct qbk_err *err)
{
	struct lockscan ls = { NULL, NULL, 0 };
	char **names = NULL, id[QBK_MANIFEST_ID_LEN + 1];
	size_t i, k;
	int64_t t;
	int rc = -1, running;

	if (qbk_qdrant_collections(q, &names, err) != 0)
		return -1;
	for (i = 0; names[i] != NULL; i++)
		if (qbk_drill_scratch_parse(names[i], id))
			break;
	if (names[i] == NULL) {
		rc = 0;
		goto out;
	}
	ls.own = o->lock != NULL ? qbk_lock_id(o->lock) : NULL;
	if (repo != NULL && qbk_repo_locks(repo, scan_lock, &ls, err) < 0)
		goto out;
	for (i = 0; names[i] != NULL; i++) {
		if (!qbk_drill_scratch_parse(names[i], id) ||
		    strcmp(id, own_id) == 0 ||
		    qbk_manifest_id_time(id, &t) != 0 || t > start)
			continue;
		/* A drill that locked the repository before this one was
		 * made may still be at work on it. */
		for (running = 0, k = 0; k < ls.n; k++)
			if (ls.times[k] <= t)
				running = 1;
		if (running) {
			qbk_detail("'%s' may belong to a running drill: kept",
			    names[i]);
			continue;
		}
		qbk_info("removing '%s', left over by drill %s", names[i], id);
		if (qbk_qdrant_collection_delete(q, names[i], NULL, err) != 0) {
			qbk_err_prefix(err, "cannot remove leftover '%s'",
			    names[i]);
			goto out;
		}
		res->leftovers++;
	}
	rc = 0;
out:
	free(ls.times);
	qbk_qdrant_strv_free(names);
	return rc;
}

/* Remove every collection named with ${prefix} (ours only). */
int
qbk_drill_remove_scratch(struct qbk_qdrant *q, const char *prefix,
    struct qbk_err *err)
{
	char **names = NULL;
	size_t i, pl = strlen(prefix);
	int rc = 0;

	if (qbk_qdrant_collections(q, &names, err) != 0)
		return -1;
	for (i = 0; names[i] != NULL; i++) {
		if (strncmp(names[i], prefix, pl) != 0)
			continue;
		qbk_detail("removing scratch collection '%s'", names[i]);
		if (qbk_qdrant_collection_delete(q, names[i], NULL, err) != 0) {
			qbk_err_prefix(err, "cannot remove scratch collection "
			    "'%s'", names[i]);
			rc = -1;
			break;
		}
	}
	qbk_qdrant_strv_free(names);
	return rc;
}
