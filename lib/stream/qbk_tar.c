#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "repo/qbk_manifest.h"
#include "stream/qbk_ingest.h"
#include "stream/qbk_tar.h"

struct source {
	qbk_tar_next_fn *next;
	void *cookie;
	struct qbk_err err;	/* the callback's error */
	int failed;		/* the callback failed */
	int eof;		/* the callback said end of stream */
	struct qbk_err bad;	/* a member qbk cannot record */
	int refused;
	struct qbk_ingest_entry *entries;
	size_t n, alloc;
};

static la_ssize_t
source_read(struct archive *a, void *cookie, const void **buf)
{
	struct source *s = cookie;
	size_t len = 0;
	int r;

	(void)a;
	*buf = NULL;
	if (s->failed || s->eof)
		return s->failed ? -1 : 0;
	r = s->next(s->cookie, buf, &len, &s->err);
	if (r < 0) {
		s->failed = 1;
		return -1;
	}
	if (r == 0) {
		s->eof = 1;
		return 0;
	}
	return (la_ssize_t)len;
}

/* The type of ${e} as qbk_ingest records it. */
static char
entry_type(struct archive_entry *e)
{
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		return archive_entry_sparse_count(e) > 0 ? 's' : 'f';
	case AE_IFDIR:
		return 'd';
	default:
		return 'o';
	}
}

/*
 * A member name longer than a manifest records (QBK_MANIFEST_MAX_STR) is
 * refused here, as the snapshot is read, rather than when the manifest is
 * written after every chunk is stored: Qdrant cannot make or unpack such a
 * member (Linux's PATH_MAX is 4096 with the NUL), so the archive is damaged
 * or not Qdrant's, and a restore could not put it back anyway.
 *
 * The archive's own root folder is not an entry of the snapshot: Qdrant up
 * to 1.11 archived the snapshot folder with tar-rs append_dir_all("."),
 * whose first member is the folder "./" itself.  A member of any other type
 * without a name is damage.
 */
static int
add_entry(struct source *s, struct archive_entry *e)
{
	struct qbk_ingest_entry *x;
	const char *path = archive_entry_pathname(e);
	int64_t size = archive_entry_size(e);
	size_t len;

	if (path == NULL)
		path = "";
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	if (path[0] == '\0' || strcmp(path, ".") == 0) {
		if (archive_entry_filetype(e) == AE_IFDIR)
			return 0;
		qbk_err_set(&s->bad, QBK_E_INTEGRITY, "snapshot has a member "
		    "without a name");
		s->refused = 1;
		return -1;
	}
	if ((len = strlen(path)) > QBK_MANIFEST_MAX_STR) {
		qbk_err_set(&s->bad, QBK_E_INTEGRITY, "snapshot member "
		    "'%.60s...' has a name of %zu bytes: more than the %d a "
		    "backup records, and than a path on Linux can be", path,
		    len, QBK_MANIFEST_MAX_STR);
		s->refused = 1;
		return -1;
	}
	if (s->n == s->alloc) {
		s->alloc = s->alloc ? s->alloc * 2 : 64;
		s->entries = qbk_xrealloc(s->entries,
		    s->alloc * sizeof(*s->entries));
	}
	x = &s->entries[s->n++];
	x->path = qbk_xstrdup(path);
	x->size = size > 0 ? (uint64_t)size : 0;
	x->type = entry_type(e);
	return 0;
}

int
qbk_tar_check(qbk_tar_next_fn *next, void *cookie,
    struct qbk_ingest_entry **entries, size_t *n, struct qbk_err *err)
{
	struct source s;
	struct archive *a;
	struct archive_entry *e;
	const void *data;
	size_t len;
	int64_t pos;
	int r;

	*entries = NULL;
	*n = 0;
	memset(&s, 0, sizeof(s));
	s.next = next;
	s.cookie = cookie;
	qbk_err_clear(&s.err);
	qbk_err_clear(&s.bad);
	if ((a = archive_read_new()) == NULL)
		return qbk_err_set(err, QBK_E_NOMEM, "cannot start libarchive");
	archive_read_support_format_tar(a);
	if (archive_read_open(a, &s, NULL, source_read, NULL) != ARCHIVE_OK) {
		if (!s.failed)
			qbk_err_set(err, QBK_E_INTEGRITY, "snapshot is not a "
			    "tar archive: %s", archive_error_string(a) != NULL ?
			    archive_error_string(a) : "empty");
		goto fail;
	}
	pos = archive_filter_bytes(a, 0);
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK ||
	    r == ARCHIVE_WARN) {
		if (add_entry(&s, e) != 0) {
			*err = s.bad;
			archive_read_free(a);
			qbk_tar_entries_free(s.entries, s.n);
			return -1;
		}
		if (archive_read_data_skip(a) < ARCHIVE_WARN) {
			r = ARCHIVE_FATAL;
			break;
		}
		pos = archive_filter_bytes(a, 0);
	}
	/*
	 * libarchive also ends without complaint where the stream stops at a
	 * member boundary; a whole tar ends with two zero blocks, which it
	 * consumes.  Qdrant ends a shard stream it cannot finish just so: a
	 * clean end of the body without those blocks.
	 */
	if (r == ARCHIVE_EOF && !s.failed &&
	    archive_filter_bytes(a, 0) - pos < 1024) {
		qbk_err_set(err, QBK_E_SHORT, "snapshot ends after %zu "
		    "entries without the end-of-archive blocks of a whole tar "
		    "(the stream was cut short)", s.n);
		goto fail;
	}
	if (r != ARCHIVE_EOF) {
		if (!s.failed && s.eof)
			qbk_err_set(err, QBK_E_SHORT, "snapshot is not a "
			    "whole tar archive: it ends inside a member after "
			    "%zu entries (the stream was cut short): %s", s.n,
			    archive_error_string(a) != NULL ?
			    archive_error_string(a) : "unexpected end");
		else if (!s.failed)
			qbk_err_set(err, QBK_E_INTEGRITY, "snapshot is not a "
			    "whole tar archive after %zu entries: %s", s.n,
			    archive_error_string(a) != NULL ?
			    archive_error_string(a) : "unexpected end");
		goto fail;
	}
	/* The rest (end-of-archive padding) still belongs to the stream: the
	 * source checks its hash when it hands out the last piece. */
	while (!s.failed && !s.eof) {
		r = next(cookie, &data, &len, &s.err);
		if (r < 0)
			s.failed = 1;
		else if (r == 0)
			s.eof = 1;
	}
	if (s.failed)
		goto fail;
	archive_read_free(a);
	*entries = s.entries;
	*n = s.n;
	return 0;
fail:
	if (s.failed)
		*err = s.err;
	archive_read_free(a);
	qbk_tar_entries_free(s.entries, s.n);
	return -1;
}

void
qbk_tar_entries_free(struct qbk_ingest_entry *entries, size_t n)
{
	size_t i;

	if (entries == NULL)
		return;
	for (i = 0; i < n; i++)
		free(entries[i].path);
	free(entries);
}

/* ---- pulling members one by one ------------------------------------ */

struct qbk_tar {
	struct source s;
	qbk_tar_rewind_fn *rewind;
	struct archive *a;
	uint64_t count;		/* members read since the start */
	char *path;		/* of the current member */
};

/* The error of a failed libarchive call on ${t}: the callback's, or
 * QBK_E_INTEGRITY with ${what} and libarchive's reason. */
static int
tar_fail(struct qbk_tar *t, const char *what, struct qbk_err *err)
{
	const char *why = archive_error_string(t->a);

	if (t->s.failed) {
		*err = t->s.err;
		return -1;
	}
	return qbk_err_set(err, QBK_E_INTEGRITY, "%s: %s", what,
	    why != NULL ? why : "unexpected end");
}

/* Start libarchive on the stream of ${t}, from its first byte. */
static int
tar_start(struct qbk_tar *t, struct qbk_err *err)
{
	t->s.failed = t->s.eof = 0;
	t->count = 0;
	if ((t->a = archive_read_new()) == NULL)
		return qbk_err_set(err, QBK_E_NOMEM, "cannot start libarchive");
	archive_read_support_format_tar(t->a);
	if (archive_read_open(t->a, &t->s, NULL, source_read, NULL) !=
	    ARCHIVE_OK)
		return tar_fail(t, "the snapshot is not a tar archive", err);
	return 0;
}

/* Read the next header of ${t} into ${*e}: 1, 0 at the end, -1. */
static int
tar_header(struct qbk_tar *t, struct archive_entry **e, struct qbk_err *err)
{
	char what[96];
	int r;

	if (t->a == NULL)
		return qbk_err_set(err, QBK_E_INTERNAL, "the tar stream "
		    "could not be read again");
	r = archive_read_next_header(t->a, e);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
		if (t->s.eof)
			snprintf(what, sizeof(what), "the archive ends inside "
			    "the header of member %llu",
			    (unsigned long long)t->count + 1);
		else
			snprintf(what, sizeof(what), "the snapshot is not a "
			    "tar archive (bad header after byte %llu)",
			    (unsigned long long)archive_filter_bytes(t->a, 0));
		return tar_fail(t, what, err);
	}
	t->count++;
	return 1;
}

int
qbk_tar_open(qbk_tar_next_fn *next, qbk_tar_rewind_fn *rewind, void *cookie,
    struct qbk_tar **out, struct qbk_err *err)
{
	struct qbk_tar *t;

	t = qbk_xcalloc(1, sizeof(*t));
	t->s.next = next;
	t->s.cookie = cookie;
	qbk_err_clear(&t->s.err);
	t->rewind = rewind;
	if (tar_start(t, err) != 0) {
		qbk_tar_close(t);
		*out = NULL;
		return -1;
	}
	*out = t;
	return 0;
}

int
qbk_tar_next(struct qbk_tar *t, struct qbk_tar_member *mb,
    struct qbk_err *err)
{
	struct archive_entry *e;
	const char *path;
	int64_t size;
	int r;

	if ((r = tar_header(t, &e, err)) <= 0)
		return r;
	if ((path = archive_entry_pathname(e)) == NULL)
		path = "";
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	free(t->path);
	t->path = qbk_xstrdup(path);
	size = archive_entry_size(e);
	mb->path = t->path;
	mb->type = archive_entry_hardlink(e) != NULL ? 'o' : entry_type(e);
	mb->size = size > 0 ? (uint64_t)size : 0;
	return 1;
}

int
qbk_tar_data(struct qbk_tar *t, const void **data, size_t *len,
    struct qbk_err *err)
{
	char what[96];
	int64_t off;
	int r;

	*len = 0;
	if (t->a == NULL)
		return qbk_err_set(err, QBK_E_INTERNAL, "the tar stream "
		    "could not be read again");
	r = archive_read_data_block(t->a, data, len, &off);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
		snprintf(what, sizeof(what), "the archive %s '%.60s'",
		    t->s.eof ? "ends inside" : "is damaged inside",
		    t->path != NULL ? t->path : "");
		return tar_fail(t, what, err);
	}
	return 1;
}

int
qbk_tar_restart(struct qbk_tar *t, struct qbk_err *err)
{
	struct archive_entry *e;
	uint64_t want = t->count, i;
	int r;

	if (t->rewind == NULL)
		return qbk_err_set(err, QBK_E_INTERNAL, "this tar stream "
		    "cannot be read again");
	archive_read_free(t->a);
	t->a = NULL;
	if (t->rewind(t->s.cookie, err) != 0 || tar_start(t, err) != 0)
		return -1;
	for (i = 0; i < want; i++) {
		if ((r = tar_header(t, &e, err)) < 0)
			return -1;
		if (r == 0)
			return qbk_err_set(err, QBK_E_INTEGRITY, "the archive "
			    "ends before member %llu when read again",
			    (unsigned long long)want);
	}
	return 0;
}

void
qbk_tar_close(struct qbk_tar *t)
{
	if (t == NULL)
		return;
	archive_read_free(t->a);
	free(t->path);
	free(t);
}
