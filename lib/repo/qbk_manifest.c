#include <sys/random.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "common/qbk_idset.h"
#include "common/qbk_time.h"
#include "repo/qbk_manifest.h"


static const char *const type_names[] = { "full", "incremental", NULL };
static const char *const kind_names[] = { "collections", "full-storage",
	NULL };
static const char *const snapkind_names[] = { "collection", "shard", "full",
	NULL };
static const char *const entry_names[] = { "file", "dir", "symlink",
	"hardlink", "other", NULL };
static const char *const result_names[] = { "fail", "pass", NULL };

/*
 * Arrays grow by doubling; their capacity is not stored but implied by the
 * count: 0 for none, else the next power of two.  The parser allocates
 * exactly that, so that the add functions work on parsed manifests too.
 */
static size_t
cap_for(size_t n)
{
	size_t c = 1;

	if (n == 0)
		return 0;
	while (c < n)
		c <<= 1;
	return c;
}

static void *
grow(void *p, size_t n, size_t size)
{
	if (n != 0 && (n & (n - 1)) != 0)
		return p;	/* room left */
	return qbk_xrealloc(p, (n == 0 ? 1 : 2 * n) * size);
}

static void *
alloc_for(size_t n, size_t size)
{
	return n == 0 ? NULL : qbk_xcalloc(cap_for(n), size);
}

/* ---- ids ---- */

int
qbk_manifest_make_id(int64_t t, char *out)
{
	struct timespec ts;
	struct qbk_time_civil c;
	uint16_t r;

	out[0] = '\0';
	if (qbk_time_to_civil(t, &c))
		return -1;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		r = (uint16_t)(ts.tv_nsec ^ (ts.tv_nsec >> 16));
	}
	snprintf(out, QBK_MANIFEST_ID_LEN + 1,
	    "%04d%02d%02dT%02d%02d%02dZ-%04x", (int)c.y, (int)c.m, (int)c.d,
	    (int)c.hh, (int)c.mm, (int)c.ss, (unsigned)r);
	return 0;
}

int
qbk_manifest_id_time(const char *id, int64_t *t)
{
	struct qbk_time_civil c;

	if (strlen(id) != QBK_MANIFEST_ID_LEN || id[8] != 'T' ||
	    id[15] != 'Z' || id[16] != '-')
		return -1;
	if (!qbk_hex_is_lower(id + 17, 4))
		return -1;
	c.y = qbk_time_digits(id, 4);
	c.m = qbk_time_digits(id + 4, 2);
	c.d = qbk_time_digits(id + 6, 2);
	c.hh = qbk_time_digits(id + 9, 2);
	c.mm = qbk_time_digits(id + 11, 2);
	c.ss = qbk_time_digits(id + 13, 2);
	return qbk_time_from_civil(&c, t);
}

int
qbk_manifest_id_valid(const char *id)
{
	int64_t t;

	return qbk_manifest_id_time(id, &t) == 0;
}

/* ---- building ---- */

void
qbk_manifest_strset(char **field, const char *value)
{
	free(*field);
	*field = value != NULL ? qbk_xstrdup(value) : NULL;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? qbk_xstrdup(s) : NULL;
}

struct qbk_manifest *
qbk_manifest_new(void)
{
	struct qbk_manifest *m = qbk_xcalloc(1, sizeof(*m));

	m->format = QBK_MANIFEST_FORMAT;
	return m;
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
snapshot_free(struct qbk_manifest_snapshot *s)
{
	size_t i;

	if (s == NULL)
		return;
	free(s->node_url);
	free(s->name);
	for (i = 0; i < s->n_entries; i++)
		free(s->entries[i].path);
	free(s->entries);
	free(s->chunks);
	free(s);
}

static void
cluster_free(struct qbk_manifest_cluster *cl)
{
	size_t i, k;

	if (cl == NULL)
		return;
	free(cl->sharding_method);
	free(cl->peers);
	json_decref(cl->payload_schema);
	for (i = 0; i < cl->n_shards; i++) {
		free(cl->shards[i].shard_key);
		for (k = 0; k < cl->shards[i].n_replicas; k++)
			free(cl->shards[i].replicas[k].state);
		free(cl->shards[i].replicas);
	}
	free(cl->shards);
	free(cl);
}

static void
collection_free(struct qbk_manifest_collection *c)
{
	size_t i;

	if (c == NULL)
		return;
	cluster_free(c->cluster);
	free(c->name);
	free_strv(c->aliases, c->n_aliases);
	json_decref(c->vectors);
	json_decref(c->config);
	json_decref(c->payload_schema);
	for (i = 0; i < c->n_samples; i++)
		free(c->samples[i].id);
	free(c->samples);
	for (i = 0; i < c->n_snapshots; i++)
		snapshot_free(c->snapshots[i]);
	free(c->snapshots);
	free(c);
}

void
qbk_manifest_free(struct qbk_manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	free(m->host);
	free(m->tool_version);
	free_strv(m->qdrant_versions, m->n_qdrant_versions);
	free_strv(m->sources, m->n_sources);
	for (i = 0; i < m->n_tags; i++) {
		free(m->tags[i].key);
		free(m->tags[i].value);
	}
	free(m->tags);
	for (i = 0; i < m->n_aliases; i++) {
		free(m->aliases[i].alias);
		free(m->aliases[i].collection);
	}
	free(m->aliases);
	for (i = 0; i < m->n_collections; i++)
		collection_free(m->collections[i]);
	free(m->collections);
	for (i = 0; i < m->n_snapshots; i++)
		snapshot_free(m->snapshots[i]);
	free(m->snapshots);
	for (i = 0; i < m->n_missing; i++) {
		free(m->missing[i].collection);
		free(m->missing[i].reason);
	}
	free(m->missing);
	for (i = 0; i < m->n_unreachable; i++) {
		free(m->unreachable[i].url);
		free(m->unreachable[i].reason);
	}
	free(m->unreachable);
	free(m);
}

void
qbk_manifest_add_tag(struct qbk_manifest *m, const char *key,
    const char *value)
{
	m->tags = grow(m->tags, m->n_tags, sizeof(*m->tags));
	m->tags[m->n_tags].key = dup_or_null(key);
	m->tags[m->n_tags].value = dup_or_null(value);
	m->n_tags++;
}

void
qbk_manifest_add_alias(struct qbk_manifest *m, const char *alias,
    const char *collection)
{
	m->aliases = grow(m->aliases, m->n_aliases, sizeof(*m->aliases));
	m->aliases[m->n_aliases].alias = dup_or_null(alias);
	m->aliases[m->n_aliases].collection = dup_or_null(collection);
	m->n_aliases++;
}

static void
strv_add(char ***v, size_t *n, const char *s)
{
	*v = grow(*v, *n, sizeof(**v));
	(*v)[(*n)++] = dup_or_null(s);
}

void
qbk_manifest_add_qdrant_version(struct qbk_manifest *m, const char *version)
{
	strv_add(&m->qdrant_versions, &m->n_qdrant_versions, version);
}

void
qbk_manifest_add_source(struct qbk_manifest *m, const char *url)
{
	strv_add(&m->sources, &m->n_sources, url);
}

void
qbk_manifest_add_missing(struct qbk_manifest *m, const char *collection,
    int64_t shard_id, const char *reason)
{
	struct qbk_manifest_missing *x;

	m->missing = grow(m->missing, m->n_missing, sizeof(*m->missing));
	x = &m->missing[m->n_missing++];
	x->collection = dup_or_null(collection);
	x->shard_id = shard_id;
	x->reason = qbk_xstrdup(reason != NULL ? reason : "");
}

void
qbk_manifest_add_unreachable(struct qbk_manifest *m, uint64_t peer_id,
    const char *url, const char *reason)
{
	struct qbk_manifest_unreachable *x;

	m->unreachable = grow(m->unreachable, m->n_unreachable,
	    sizeof(*m->unreachable));
	x = &m->unreachable[m->n_unreachable++];
	x->peer_id = peer_id;
	x->url = qbk_xstrdup(url != NULL ? url : "");
	x->reason = qbk_xstrdup(reason != NULL ? reason : "");
}

size_t
qbk_manifest_missing_count(const struct qbk_manifest *m,
    const char *collection)
{
	size_t i, n = 0;

	for (i = 0; i < m->n_missing; i++)
		if (collection == NULL ||
		    strcmp(m->missing[i].collection, collection) == 0)
			n++;
	return n;
}

struct qbk_manifest_collection *
qbk_manifest_add_collection(struct qbk_manifest *m, const char *name)
{
	struct qbk_manifest_collection *c = qbk_xcalloc(1, sizeof(*c));

	c->name = dup_or_null(name);
	m->collections = grow(m->collections, m->n_collections,
	    sizeof(*m->collections));
	m->collections[m->n_collections++] = c;
	return c;
}

void
qbk_manifest_collection_add_alias(struct qbk_manifest_collection *c,
    const char *alias)
{
	strv_add(&c->aliases, &c->n_aliases, alias);
}

void
qbk_manifest_collection_set_config(struct qbk_manifest_collection *c,
    struct json_t *config)
{
	json_decref(c->config);
	c->config = json_incref(config);
}

void
qbk_manifest_collection_set_vectors(struct qbk_manifest_collection *c,
    struct json_t *vectors)
{
	json_decref(c->vectors);
	c->vectors = json_incref(vectors);
}

void
qbk_manifest_collection_add_sample(struct qbk_manifest_collection *c,
    const char *id, const char *hash)
{
	struct qbk_manifest_sample *s;
	char copy[QBK_MANIFEST_HEX_LEN + 1];

	/* ${hash} may point into c->samples, which grow() may move. */
	snprintf(copy, sizeof(copy), "%s", hash != NULL ? hash : "");
	c->samples = grow(c->samples, c->n_samples, sizeof(*c->samples));
	s = &c->samples[c->n_samples++];
	s->id = dup_or_null(id);
	memcpy(s->hash, copy, sizeof(copy));
}

struct qbk_manifest_cluster *
qbk_manifest_collection_set_cluster(struct qbk_manifest_collection *c)
{
	cluster_free(c->cluster);
	c->cluster = qbk_xcalloc(1, sizeof(*c->cluster));
	return c->cluster;
}

void
qbk_manifest_cluster_add_peer(struct qbk_manifest_cluster *cl, uint64_t id)
{
	cl->peers = grow(cl->peers, cl->n_peers, sizeof(*cl->peers));
	cl->peers[cl->n_peers++] = id;
}

struct qbk_manifest_shard *
qbk_manifest_cluster_add_shard(struct qbk_manifest_cluster *cl,
    int64_t shard_id)
{
	struct qbk_manifest_shard *sh;

	cl->shards = grow(cl->shards, cl->n_shards, sizeof(*cl->shards));
	sh = &cl->shards[cl->n_shards++];
	memset(sh, 0, sizeof(*sh));
	sh->shard_id = shard_id;
	return sh;
}

void
qbk_manifest_shard_add_replica(struct qbk_manifest_shard *sh,
    uint64_t peer_id, const char *state, int64_t points_count)
{
	struct qbk_manifest_replica *r;

	sh->replicas = grow(sh->replicas, sh->n_replicas,
	    sizeof(*sh->replicas));
	r = &sh->replicas[sh->n_replicas++];
	r->peer_id = peer_id;
	r->state = dup_or_null(state);
	r->points_count = points_count;
}

struct qbk_manifest_snapshot *
qbk_manifest_add_snapshot(struct qbk_manifest *m,
    struct qbk_manifest_collection *c, enum qbk_manifest_snapkind kind)
{
	struct qbk_manifest_snapshot *s = qbk_xcalloc(1, sizeof(*s));
	struct qbk_manifest_snapshot ***v;
	size_t *n;

	s->kind = kind;
	s->shard_id = -1;
	v = c != NULL ? &c->snapshots : &m->snapshots;
	n = c != NULL ? &c->n_snapshots : &m->n_snapshots;
	*v = grow(*v, *n, sizeof(**v));
	(*v)[(*n)++] = s;
	return s;
}

void
qbk_manifest_snapshot_add_entry(struct qbk_manifest_snapshot *s,
    const char *path, enum qbk_manifest_entrytype type, uint64_t size)
{
	struct qbk_manifest_entry *e;

	s->entries = grow(s->entries, s->n_entries, sizeof(*s->entries));
	e = &s->entries[s->n_entries++];
	e->path = dup_or_null(path);
	e->type = type;
	e->size = size;
}

void
qbk_manifest_snapshot_add_chunk(struct qbk_manifest_snapshot *s,
    const uint8_t *id, uint32_t len)
{
	struct qbk_manifest_chunk *ch;
	uint8_t copy[QBK_ID_LEN];

	/* ${id} may point into s->chunks, which grow() may move. */
	memcpy(copy, id, QBK_ID_LEN);
	s->chunks = grow(s->chunks, s->n_chunks, sizeof(*s->chunks));
	ch = &s->chunks[s->n_chunks++];
	memcpy(ch->id, copy, QBK_ID_LEN);
	ch->len = len;
	s->size += len;
}

/* Add to ${*sum}; nonzero if it overflowed (the sum then wraps). */
static int
add_u64(uint64_t *sum, uint64_t x)
{
	*sum += x;
	return *sum < x;
}

static int
add_totals(struct qbk_manifest_totals *t,
    struct qbk_manifest_snapshot *const *v, size_t n)
{
	int over = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		over |= add_u64(&t->snapshots, 1);
		over |= add_u64(&t->size, v[i]->size);
		over |= add_u64(&t->bytes, v[i]->bytes);
		over |= add_u64(&t->bytes_new, v[i]->bytes_new);
		over |= add_u64(&t->chunks, v[i]->n_chunks);
		over |= add_u64(&t->chunks_new, v[i]->chunks_new);
	}
	return over;
}

/* The totals over every snapshot of ${m}; nonzero if a sum overflowed. */
static int
sum_totals(const struct qbk_manifest *m, struct qbk_manifest_totals *t)
{
	int over = 0;
	size_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < m->n_collections; i++)
		over |= add_totals(t, m->collections[i]->snapshots,
		    m->collections[i]->n_snapshots);
	over |= add_totals(t, m->snapshots, m->n_snapshots);
	return over;
}

void
qbk_manifest_compute_totals(struct qbk_manifest *m)
{
	(void)sum_totals(m, &m->totals);
}

struct qbk_manifest_collection *
qbk_manifest_find_collection(const struct qbk_manifest *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n_collections; i++)
		if (m->collections[i]->name != NULL &&
		    strcmp(m->collections[i]->name, name) == 0)
			return m->collections[i];
	return NULL;
}

static int
foreach_in(const struct qbk_manifest_collection *c,
    struct qbk_manifest_snapshot *const *v, size_t n,
    qbk_manifest_chunk_fn *fn, void *cookie)
{
	size_t i, j;
	int rc;

	for (i = 0; i < n; i++)
		for (j = 0; j < v[i]->n_chunks; j++)
			if ((rc = fn(cookie, c, v[i], &v[i]->chunks[j])) != 0)
				return rc;
	return 0;
}

int
qbk_manifest_foreach_chunk(const struct qbk_manifest *m,
    qbk_manifest_chunk_fn *fn, void *cookie)
{
	size_t i;
	int rc;

	for (i = 0; i < m->n_collections; i++)
		if ((rc = foreach_in(m->collections[i],
		    m->collections[i]->snapshots,
		    m->collections[i]->n_snapshots, fn, cookie)) != 0)
			return rc;
	return foreach_in(NULL, m->snapshots, m->n_snapshots, fn, cookie);
}

/* ---- parsing and checking ---- */

struct pctx {
	const char *what;	/* "manifest", "drill record" */
	struct qbk_buf path;	/* of the current value: "collections[0]" */
	struct qbk_err *err;
};

static int
bad(struct pctx *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fail with "invalid <what> field '<path>.<key>': <fmt>". */
static int
bad(struct pctx *c, const char *key, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (key == NULL && c->path.len == 0)
		qbk_err_set(c->err, QBK_E_INTEGRITY, "invalid %s: %s",
		    c->what, msg);
	else
		qbk_err_set(c->err, QBK_E_INTEGRITY,
		    "invalid %s field '%.200s%s%.64s': %s", c->what,
		    c->path.buf, key != NULL && c->path.len > 0 ? "." : "",
		    key != NULL ? key : "", msg);
	return -1;
}

static size_t
push_key(struct pctx *c, const char *key)
{
	size_t old = c->path.len;

	if (old > 0)
		qbk_buf_addch(&c->path, '.');
	qbk_buf_addstr(&c->path, key);
	return old;
}

static size_t
push_index(struct pctx *c, size_t i)
{
	size_t old = c->path.len;

	qbk_buf_addf(&c->path, "[%zu]", i);
	return old;
}

static void
pop(struct pctx *c, size_t old)
{
	qbk_buf_setlen(&c->path, old);
}

static int
check_keys(struct pctx *c, json_t *obj, const char *const *allowed)
{
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(obj, k, v) {
		(void)v;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], k) == 0)
				break;
		if (allowed[i] == NULL)
			return bad(c, k, "unknown field");
	}
	return 0;
}

static json_t *
get(struct pctx *c, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		bad(c, key, "missing");
	return v;
}

static int
is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
hexval(char ch)
{
	return ch <= '9' ? ch - '0' : ch - 'a' + 10;
}

static int
no_controls(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int
is_u64_text(const char *s, size_t n)
{
	size_t i;

	if (n < 1 || n > 20 || (n > 1 && s[0] == '0'))
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n < 20 || strcmp(s, "18446744073709551615") <= 0;
}

static int
is_uuid(const char *s, size_t n)
{
	return n == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' &&
	    s[23] == '-' && is_hex(s, 8) && is_hex(s + 9, 4) &&
	    is_hex(s + 14, 4) && is_hex(s + 19, 4) && is_hex(s + 24, 12);
}

static int
is_token(const char *s, size_t n, const char *extra)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    ch == '-' || (ch != '\0' && strchr(extra, ch) != NULL)))
			return 0;
	}
	return 1;
}

/* String rules. */
enum srule { S_ANY, S_NAME, S_TOKEN, S_TAGKEY, S_HEX64, S_TIME, S_ID,
	S_U64, S_POINT };

/*
 * Check the string value ${v} (field ${key} of the current path, or the
 * current path itself if ${key} is NULL) against ${rule} and a length of
 * ${min}..${max} bytes; ${*out} points into ${v}.
 */
static int
check_rules(struct pctx *c, const char *key, json_t *v, enum srule rule,
    size_t min, size_t max)
{
	const char *s;
	size_t n;
	int64_t t;

	if (!json_is_string(v) || (s = json_string_value(v)) == NULL)
		return bad(c, key, "expected a string");
	n = json_string_length(v);
	if (strlen(s) != n)
		return bad(c, key, "contains a NUL byte");
	switch (rule) {
	case S_ANY:
		break;
	case S_NAME:
		if (!no_controls(s, n))
			return bad(c, key, "contains a control character");
		break;
	case S_TOKEN:
		if (!is_token(s, n, ""))
			return bad(c, key, "expected letters, digits, "
			    "'.', '_' or '-'");
		break;
	case S_TAGKEY:
		if (!is_token(s, n, ":/"))
			return bad(c, key, "expected letters, digits, "
			    "'.', '_', '-', ':' or '/'");
		break;
	case S_HEX64:
		if (n != QBK_MANIFEST_HEX_LEN || !is_hex(s, n))
			return bad(c, key, "expected %d lowercase hex digits",
			    QBK_MANIFEST_HEX_LEN);
		break;
	case S_TIME:
		if (qbk_time_parse(s, &t))
			return bad(c, key, "expected a UTC time "
			    "YYYY-MM-DDTHH:MM:SSZ");
		break;
	case S_ID:
		if (!qbk_manifest_id_valid(s))
			return bad(c, key, "expected an id "
			    "YYYYMMDDTHHMMSSZ-xxxx");
		break;
	case S_U64:
		if (!is_u64_text(s, n))
			return bad(c, key, "expected a decimal number "
			    "0..18446744073709551615 as a string");
		break;
	case S_POINT:
		if (!is_u64_text(s, n) && !is_uuid(s, n))
			return bad(c, key, "expected a decimal point id or "
			    "a lowercase hyphenated UUID");
		break;
	}
	if (n < min || n > max) {
		if (min == max)
			return bad(c, key, "expected %zu bytes", min);
		return bad(c, key, "expected %zu..%zu bytes, not %zu", min,
		    max, n);
	}
	return 0;
}

/* The string value ${v} if it passes check_rules(), else NULL. */
static const char *
check_str(struct pctx *c, const char *key, json_t *v, enum srule rule,
    size_t min, size_t max)
{
	if (check_rules(c, key, v, rule, min, max) != 0)
		return NULL;
	return json_string_value(v);
}

static int
get_str(struct pctx *c, json_t *obj, const char *key, enum srule rule,
    size_t min, size_t max, char **out)
{
	const char *s = NULL;
	json_t *v;

	if ((v = get(c, obj, key)) == NULL ||
	    (s = check_str(c, key, v, rule, min, max)) == NULL)
		return -1;
	*out = qbk_xstrdup(s);
	return 0;
}

/* A string into a fixed buffer of ${size} bytes (hex digests, ids). */
static int
get_fixed(struct pctx *c, json_t *obj, const char *key, enum srule rule,
    char *out, size_t size)
{
	const char *s = NULL;
	json_t *v;

	if ((v = get(c, obj, key)) == NULL ||
	    (s = check_str(c, key, v, rule, 0, size - 1)) == NULL)
		return -1;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int
get_time(struct pctx *c, json_t *obj, const char *key, int64_t *t)
{
	const char *s = NULL;
	json_t *v;

	if ((v = get(c, obj, key)) == NULL ||
	    (s = check_str(c, key, v, S_TIME, 0,
	    QBK_TIME_LEN)) == NULL)
		return -1;
	return qbk_time_parse(s, t);
}

static int
get_u64str(struct pctx *c, json_t *obj, const char *key, uint64_t *out)
{
	const char *s = NULL;
	json_t *v;

	if ((v = get(c, obj, key)) == NULL ||
	    (s = check_str(c, key, v, S_U64, 1, 20)) == NULL)
		return -1;
	*out = strtoull(s, NULL, 10);
	return 0;
}

static int
check_int(struct pctx *c, const char *key, json_t *v, int64_t min,
    int64_t max, int64_t *out)
{
	json_int_t x;

	if (!json_is_integer(v))
		return bad(c, key, "expected an integer");
	x = json_integer_value(v);
	if (x < min || x > max)
		return bad(c, key, "expected an integer in %lld..%lld, not "
		    "%lld", (long long)min, (long long)max, (long long)x);
	*out = (int64_t)x;
	return 0;
}

static int
get_int(struct pctx *c, json_t *obj, const char *key, int64_t min,
    int64_t max, int64_t *out)
{
	json_t *v;

	if ((v = get(c, obj, key)) == NULL)
		return -1;
	return check_int(c, key, v, min, max, out);
}

static int
get_uint(struct pctx *c, json_t *obj, const char *key, uint64_t *out)
{
	int64_t x = 0;

	if (get_int(c, obj, key, 0, INT64_MAX, &x))
		return -1;
	*out = (uint64_t)x;
	return 0;
}

static int
get_enum(struct pctx *c, json_t *obj, const char *key,
    const char *const *names, int *out)
{
	const char *s;
	json_t *v;
	int i;

	if ((v = get(c, obj, key)) == NULL)
		return -1;
	if (!json_is_string(v))
		return bad(c, key, "expected a string");
	s = json_string_value(v);
	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0) {
			*out = i;
			return 0;
		}
	return bad(c, key, "unknown value '%.40s'", s);
}

static json_t *
get_array(struct pctx *c, json_t *obj, const char *key, size_t max)
{
	json_t *v;

	if ((v = get(c, obj, key)) == NULL)
		return NULL;
	if (!json_is_array(v)) {
		bad(c, key, "expected an array");
		return NULL;
	}
	if (json_array_size(v) > max) {
		bad(c, key, "more than %zu elements", max);
		return NULL;
	}
	return v;
}

static json_t *
get_object(struct pctx *c, json_t *obj, const char *key, size_t max)
{
	json_t *v;

	if ((v = get(c, obj, key)) == NULL)
		return NULL;
	if (!json_is_object(v)) {
		bad(c, key, "expected an object");
		return NULL;
	}
	if (json_object_size(v) > max) {
		bad(c, key, "more than %zu fields", max);
		return NULL;
	}
	return v;
}

/* An element of an array must be an object with only ${allowed} keys. */
static int
check_element(struct pctx *c, json_t *v, const char *const *allowed)
{
	if (!json_is_object(v))
		return bad(c, NULL, "expected an object");
	return check_keys(c, v, allowed);
}

static int
parse_strv(struct pctx *c, json_t *obj, const char *key, enum srule rule,
    size_t maxlen, char ***out, size_t *n)
{
	json_t *a, *v;
	const char *s;
	size_t i, old;

	if ((a = get_array(c, obj, key, QBK_MANIFEST_MAX_LIST)) == NULL)
		return -1;
	*out = alloc_for(json_array_size(a), sizeof(char *));
	old = push_key(c, key);
	json_array_foreach(a, i, v) {
		size_t o2 = push_index(c, i);

		if ((s = check_str(c, NULL, v, rule, 1, maxlen)) == NULL)
			return -1;
		(*out)[(*n)++] = qbk_xstrdup(s);
		pop(c, o2);
	}
	pop(c, old);
	return 0;
}

static int
parse_chunk(struct pctx *c, json_t *v, struct qbk_manifest_chunk *ch)
{
	const char *s, *p;
	uint64_t len = 0;
	size_t n, i;

	if (!json_is_string(v))
		return bad(c, NULL, "expected a string \"<id>:<length>\"");
	s = json_string_value(v);
	n = json_string_length(v);
	if (n < QBK_ID_LEN * 2 + 2 || n > QBK_ID_LEN * 2 + 11 ||
	    !is_hex(s, QBK_ID_LEN * 2) || s[QBK_ID_LEN * 2] != ':')
		return bad(c, NULL, "expected \"<64 lowercase hex>:<length>\"");
	for (i = 0; i < QBK_ID_LEN; i++)
		ch->id[i] = (uint8_t)(hexval(s[2 * i]) << 4 |
		    hexval(s[2 * i + 1]));
	p = s + QBK_ID_LEN * 2 + 1;
	if (*p == '0')
		return bad(c, NULL, "chunk length must be 1..%u without "
		    "leading zeros", (unsigned)QBK_MANIFEST_MAX_CHUNK_LEN);
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return bad(c, NULL, "expected \"<64 lowercase hex>:"
			    "<length>\"");
		len = len * 10 + (uint64_t)(*p - '0');
		if (len > QBK_MANIFEST_MAX_CHUNK_LEN)
			return bad(c, NULL, "chunk length must be 1..%u",
			    (unsigned)QBK_MANIFEST_MAX_CHUNK_LEN);
	}
	if ((size_t)(p - s) != n)
		return bad(c, NULL, "contains a NUL byte");
	ch->len = (uint32_t)len;
	return 0;
}

static const char *const snapshot_keys[] = { "kind", "shard_id", "peer_id",
	"node_url", "name", "size", "sha256", "start", "end", "duration_ms",
	"bytes", "bytes_new", "chunks_new", "entries", "chunks", NULL };
static const char *const entry_keys[] = { "path", "type", "size", NULL };

static int
parse_snapshot(struct pctx *c, json_t *o, struct qbk_manifest_snapshot *s,
    int toplevel)
{
	json_t *a, *v;
	size_t i, old;
	uint64_t sum = 0;
	int kind = 0;

	if (check_element(c, o, snapshot_keys) ||
	    get_enum(c, o, "kind", snapkind_names, &kind))
		return -1;
	s->kind = (enum qbk_manifest_snapkind)kind;
	if (toplevel && s->kind != QBK_MANIFEST_SNAP_FULL)
		return bad(c, "kind", "expected \"full\" in the top-level "
		    "snapshot list");
	if (!toplevel && s->kind == QBK_MANIFEST_SNAP_FULL)
		return bad(c, "kind", "a full-storage snapshot belongs to the "
		    "top-level snapshot list");
	if (s->kind == QBK_MANIFEST_SNAP_SHARD) {
		if (get_int(c, o, "shard_id", 0, UINT32_MAX, &s->shard_id))
			return -1;
	} else if (get_int(c, o, "shard_id", -1, -1, &s->shard_id)) {
		return -1;
	}
	if (get_u64str(c, o, "peer_id", &s->peer_id) ||
	    get_str(c, o, "node_url", S_NAME, 1, QBK_MANIFEST_MAX_STR,
	    &s->node_url) ||
	    get_str(c, o, "name", S_NAME, 1, QBK_MANIFEST_MAX_NAME,
	    &s->name) ||
	    get_uint(c, o, "size", &s->size) ||
	    get_fixed(c, o, "sha256", S_HEX64, s->sha256,
	    sizeof(s->sha256)) ||
	    get_time(c, o, "start", &s->start) ||
	    get_time(c, o, "end", &s->end) ||
	    get_uint(c, o, "duration_ms", &s->duration_ms) ||
	    get_uint(c, o, "bytes", &s->bytes) ||
	    get_uint(c, o, "bytes_new", &s->bytes_new) ||
	    get_uint(c, o, "chunks_new", &s->chunks_new))
		return -1;
	if (s->end < s->start)
		return bad(c, "end", "earlier than start");
	if (s->bytes_new > s->bytes)
		return bad(c, "bytes_new", "larger than bytes");

	if ((a = get_array(c, o, "entries", QBK_MANIFEST_MAX_ENTRIES)) == NULL)
		return -1;
	s->entries = alloc_for(json_array_size(a), sizeof(*s->entries));
	old = push_key(c, "entries");
	json_array_foreach(a, i, v) {
		struct qbk_manifest_entry *e = &s->entries[i];
		size_t o2 = push_index(c, i);
		int type = 0;

		if (check_element(c, v, entry_keys) ||
		    get_str(c, v, "path", S_ANY, 1, QBK_MANIFEST_MAX_STR,
		    &e->path))
			return -1;
		s->n_entries++;
		if (get_enum(c, v, "type", entry_names, &type) ||
		    get_uint(c, v, "size", &e->size))
			return -1;
		e->type = (enum qbk_manifest_entrytype)type;
		pop(c, o2);
	}
	pop(c, old);

	if ((a = get_array(c, o, "chunks", QBK_MANIFEST_MAX_CHUNKS)) == NULL)
		return -1;
	s->chunks = alloc_for(json_array_size(a), sizeof(*s->chunks));
	old = push_key(c, "chunks");
	json_array_foreach(a, i, v) {
		size_t o2 = push_index(c, i);

		if (parse_chunk(c, v, &s->chunks[i]))
			return -1;
		s->n_chunks++;
		sum += s->chunks[i].len;	/* < 2^26 * 2^30: no overflow */
		pop(c, o2);
	}
	pop(c, old);
	if (sum != s->size)
		return bad(c, "size", "%llu is not the sum of the chunk "
		    "lengths (%llu)", (unsigned long long)s->size,
		    (unsigned long long)sum);
	if (s->chunks_new > s->n_chunks)
		return bad(c, "chunks_new", "larger than the number of chunks");
	return 0;
}

static int
parse_snapshots(struct pctx *c, json_t *o,
    struct qbk_manifest_snapshot ***out, size_t *n, int toplevel)
{
	json_t *a, *v;
	size_t i, old;

	if ((a = get_array(c, o, "snapshots", QBK_MANIFEST_MAX_SNAPSHOTS)) ==
	    NULL)
		return -1;
	*out = alloc_for(json_array_size(a), sizeof(**out));
	old = push_key(c, "snapshots");
	json_array_foreach(a, i, v) {
		size_t o2 = push_index(c, i);

		(*out)[i] = qbk_xcalloc(1, sizeof(***out));
		(*n)++;
		if (parse_snapshot(c, v, (*out)[i], toplevel))
			return -1;
		pop(c, o2);
	}
	pop(c, old);
	return 0;
}

static const char *const collection_keys[] = { "name", "aliases",
	"points_count", "points_count_after", "vectors", "config", "sample",
	"content", "cluster", "payload_schema", "snapshots", NULL };
static const char *const bucket_keys[] = { "points", "hash", NULL };
static const char *const cluster_keys[] = { "shard_number",
	"replication_factor", "write_consistency_factor", "sharding_method",
	"peers", "shards", "payload_schema", NULL };
static const char *const cshard_keys[] = { "shard_id", "shard_key",
	"peer_id", "points_count", "replicas", NULL };
static const char *const replica_keys[] = { "peer_id", "state",
	"points_count", NULL };

static int
parse_cluster(struct pctx *c, json_t *o, struct qbk_manifest_cluster *cl)
{
	json_t *a, *v, *r, *x;
	size_t i, k, old, o2, o3;
	const char *s;

	if (check_element(c, o, cluster_keys) ||
	    get_uint(c, o, "shard_number", &cl->shard_number) ||
	    get_uint(c, o, "replication_factor", &cl->replication_factor) ||
	    get_uint(c, o, "write_consistency_factor",
	    &cl->write_consistency_factor) ||
	    get_str(c, o, "sharding_method", S_TOKEN, 1,
	    QBK_MANIFEST_MAX_TOKEN, &cl->sharding_method))
		return -1;
	if ((a = get_array(c, o, "peers", QBK_MANIFEST_MAX_LIST)) == NULL)
		return -1;
	cl->peers = alloc_for(json_array_size(a), sizeof(*cl->peers));
	old = push_key(c, "peers");
	json_array_foreach(a, i, v) {
		o2 = push_index(c, i);
		if ((s = check_str(c, NULL, v, S_U64, 1, 20)) == NULL)
			return -1;
		cl->peers[cl->n_peers++] = strtoull(s, NULL, 10);
		pop(c, o2);
	}
	pop(c, old);
	if ((a = get_array(c, o, "shards", QBK_MANIFEST_MAX_SNAPSHOTS)) ==
	    NULL)
		return -1;
	cl->shards = alloc_for(json_array_size(a), sizeof(*cl->shards));
	old = push_key(c, "shards");
	json_array_foreach(a, i, v) {
		struct qbk_manifest_shard *sh = &cl->shards[i];

		o2 = push_index(c, i);
		if (check_element(c, v, cshard_keys))
			return -1;
		cl->n_shards++;
		if (get_int(c, v, "shard_id", 0, UINT32_MAX, &sh->shard_id) ||
		    (json_object_get(v, "shard_key") != NULL &&
		    get_str(c, v, "shard_key", S_NAME, 1, QBK_MANIFEST_MAX_STR,
		    &sh->shard_key)) ||
		    get_u64str(c, v, "peer_id", &sh->peer_id) ||
		    get_uint(c, v, "points_count", &sh->points_count))
			return -1;
		if ((r = get_array(c, v, "replicas", QBK_MANIFEST_MAX_LIST)) ==
		    NULL)
			return -1;
		sh->replicas = alloc_for(json_array_size(r),
		    sizeof(*sh->replicas));
		o3 = push_key(c, "replicas");
		json_array_foreach(r, k, x) {
			struct qbk_manifest_replica *rp = &sh->replicas[k];
			size_t o4 = push_index(c, k);

			if (check_element(c, x, replica_keys))
				return -1;
			sh->n_replicas++;
			if (get_u64str(c, x, "peer_id", &rp->peer_id) ||
			    get_str(c, x, "state", S_TOKEN, 1,
			    QBK_MANIFEST_MAX_TOKEN, &rp->state) ||
			    get_int(c, x, "points_count", -1, INT64_MAX,
			    &rp->points_count))
				return -1;
			pop(c, o4);
		}
		pop(c, o3);
		pop(c, o2);
	}
	pop(c, old);
	if ((v = json_object_get(o, "payload_schema")) != NULL) {
		if (!json_is_object(v))
			return bad(c, "payload_schema", "expected an object");
		cl->payload_schema = json_incref(v);
	}
	return 0;
}
static const char *const sample_keys[] = { "id", "hash", NULL };

static int
parse_collection(struct pctx *c, json_t *o,
    struct qbk_manifest_collection *col)
{
	json_t *a, *v;
	size_t i, old;

	if (check_element(c, o, collection_keys) ||
	    get_str(c, o, "name", S_NAME, 1, QBK_MANIFEST_MAX_NAME,
	    &col->name) ||
	    parse_strv(c, o, "aliases", S_NAME, QBK_MANIFEST_MAX_NAME,
	    &col->aliases, &col->n_aliases) ||
	    get_uint(c, o, "points_count", &col->points_count))
		return -1;
	if (json_object_get(o, "points_count_after") != NULL) {
		if (get_uint(c, o, "points_count_after",
		    &col->points_count_after))
			return -1;
		col->has_count_after = 1;
	}
	if ((v = get(c, o, "vectors")) == NULL)
		return -1;
	if (!json_is_object(v))
		return bad(c, "vectors", "expected an object");
	col->vectors = json_incref(v);
	if ((v = get(c, o, "config")) == NULL)
		return -1;
	if (!json_is_object(v))
		return bad(c, "config", "expected an object");
	col->config = json_incref(v);

	if ((a = get_array(c, o, "sample", QBK_MANIFEST_MAX_SAMPLES)) == NULL)
		return -1;
	col->samples = alloc_for(json_array_size(a), sizeof(*col->samples));
	old = push_key(c, "sample");
	json_array_foreach(a, i, v) {
		struct qbk_manifest_sample *s = &col->samples[i];
		size_t o2 = push_index(c, i);

		if (check_element(c, v, sample_keys) ||
		    get_str(c, v, "id", S_POINT, 1, 36, &s->id))
			return -1;
		col->n_samples++;
		if (get_fixed(c, v, "hash", S_HEX64, s->hash, sizeof(s->hash)))
			return -1;
		pop(c, o2);
	}
	pop(c, old);
	/* Optional: exactly QBK_MANIFEST_BUCKETS buckets, each null (not
	 * known) or {points, hash}. */
	if (json_object_get(o, "content") != NULL) {
		if ((a = get_array(c, o, "content", QBK_MANIFEST_BUCKETS)) ==
		    NULL)
			return -1;
		if (json_array_size(a) != QBK_MANIFEST_BUCKETS)
			return bad(c, "content", "expected %d buckets",
			    QBK_MANIFEST_BUCKETS);
		old = push_key(c, "content");
		json_array_foreach(a, i, v) {
			struct qbk_manifest_bucket *b = &col->content[i];
			size_t o2 = push_index(c, i);

			if (!json_is_null(v)) {
				if (check_element(c, v, bucket_keys) ||
				    get_uint(c, v, "points", &b->points) ||
				    get_fixed(c, v, "hash", S_HEX64, b->hash,
				    sizeof(b->hash)))
					return -1;
				b->known = 1;
			}
			pop(c, o2);
		}
		pop(c, old);
		col->has_content = 1;
	}
	if (json_object_get(o, "cluster") != NULL) {
		size_t o2 = push_key(c, "cluster");

		col->cluster = qbk_xcalloc(1, sizeof(*col->cluster));
		if (parse_cluster(c, json_object_get(o, "cluster"),
		    col->cluster))
			return -1;
		pop(c, o2);
	}
	if ((v = json_object_get(o, "payload_schema")) != NULL) {
		if (!json_is_object(v))
			return bad(c, "payload_schema", "expected an object");
		col->payload_schema = json_incref(v);
	}
	return parse_snapshots(c, o, &col->snapshots, &col->n_snapshots, 0);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
check_totals(struct pctx *c, const struct qbk_manifest *m)
{
	struct qbk_manifest_totals want;
	const struct qbk_manifest_totals *t = &m->totals;
	size_t old;
	int rc = -1;

	old = push_key(c, "totals");
	if (sum_totals(m, &want)) {
		bad(c, NULL, "a sum over the snapshots overflows");
		goto out;
	}
#define CHECK(f) \
	if (t->f != want.f) { \
		bad(c, #f, "%llu is not the sum over the snapshots (%llu)", \
		    (unsigned long long)t->f, (unsigned long long)want.f); \
		goto out; \
	}
	CHECK(snapshots)
	CHECK(size)
	CHECK(bytes)
	CHECK(bytes_new)
	CHECK(chunks)
	CHECK(chunks_new)
#undef CHECK
	rc = 0;
out:
	pop(c, old);
	return rc;
}

static const char *const selection_names[] = { "all", "named", NULL };
static const char *const manifest_keys[] = { "format", "backup_id", "type",
	"kind", "selection", "start", "end", "host", "tool_version", "qdrant_versions",
	"sources", "tags", "aliases", "collections", "snapshots",
	"missing_shards", "unreachable_peers", "totals", NULL };
static const char *const missing_keys[] = { "collection", "shard_id",
	"reason", NULL };
static const char *const unreachable_keys[] = { "peer_id", "url",
	"reason", NULL };
static const char *const totals_keys[] = { "snapshots", "size", "bytes",
	"bytes_new", "chunks", "chunks_new", NULL };

static int
parse_format(struct pctx *c, json_t *o, int *format)
{
	int64_t f;

	if (!json_is_object(o))
		return bad(c, NULL, "expected a JSON object");
	if (get_int(c, o, "format", 0, INT64_MAX, &f))
		return -1;
	if (f != QBK_MANIFEST_FORMAT) {
		bad(c, "format", "version %lld is not supported (this qbk "
		    "reads version %d)", (long long)f, QBK_MANIFEST_FORMAT);
		qbk_err_hint(c->err, "a newer qbk wrote it: upgrade qbk");
		return -1;
	}
	*format = (int)f;
	return 0;
}

/* "tags": key to value. */
static int
parse_tags(struct pctx *c, json_t *o, struct qbk_manifest *m)
{
	json_t *a, *v;
	const char *k;
	size_t old;

	if ((a = get_object(c, o, "tags", QBK_MANIFEST_MAX_LIST)) == NULL)
		return -1;
	m->tags = alloc_for(json_object_size(a), sizeof(*m->tags));
	old = push_key(c, "tags");
	json_object_foreach(a, k, v) {
		struct qbk_manifest_tag *t = &m->tags[m->n_tags];
		const char *s;
		size_t kl = strlen(k);

		if (kl < 1 || kl > QBK_MANIFEST_MAX_TOKEN ||
		    !is_token(k, kl, ":/"))
			return bad(c, k, "tag keys are 1..%d letters, digits, "
			    "'.', '_', '-', ':' or '/'",
			    QBK_MANIFEST_MAX_TOKEN);
		if ((s = check_str(c, k, v, S_ANY, 0,
		    QBK_MANIFEST_MAX_STR)) == NULL)
			return -1;
		t->key = qbk_xstrdup(k);
		t->value = qbk_xstrdup(s);
		m->n_tags++;
	}
	pop(c, old);
	return 0;
}

/* "aliases": alias to collection. */
static int
parse_aliases(struct pctx *c, json_t *o, struct qbk_manifest *m)
{
	json_t *a, *v;
	const char *k;
	size_t old;

	if ((a = get_object(c, o, "aliases", QBK_MANIFEST_MAX_LIST)) == NULL)
		return -1;
	m->aliases = alloc_for(json_object_size(a), sizeof(*m->aliases));
	old = push_key(c, "aliases");
	json_object_foreach(a, k, v) {
		struct qbk_manifest_alias *al = &m->aliases[m->n_aliases];
		const char *s;
		size_t kl = strlen(k);

		if (kl < 1 || kl > QBK_MANIFEST_MAX_NAME || !no_controls(k, kl))
			return bad(c, k, "alias names are 1..%d bytes without "
			    "control characters", QBK_MANIFEST_MAX_NAME);
		if ((s = check_str(c, k, v, S_NAME, 1,
		    QBK_MANIFEST_MAX_NAME)) == NULL)
			return -1;
		al->alias = qbk_xstrdup(k);
		al->collection = qbk_xstrdup(s);
		m->n_aliases++;
	}
	pop(c, old);
	return 0;
}

/* "collections", each name once. */
static int
parse_collections(struct pctx *c, json_t *o, struct qbk_manifest *m)
{
	json_t *a, *v;
	size_t i, old;
	const char **names;

	if ((a = get_array(c, o, "collections",
	    QBK_MANIFEST_MAX_COLLECTIONS)) == NULL)
		return -1;
	m->collections = alloc_for(json_array_size(a),
	    sizeof(*m->collections));
	old = push_key(c, "collections");
	json_array_foreach(a, i, v) {
		size_t o2 = push_index(c, i);

		m->collections[i] = qbk_xcalloc(1, sizeof(**m->collections));
		m->n_collections++;
		if (parse_collection(c, v, m->collections[i]))
			return -1;
		pop(c, o2);
	}
	pop(c, old);
	if (m->n_collections > 1) {
		names = qbk_xcalloc(m->n_collections, sizeof(*names));
		for (i = 0; i < m->n_collections; i++)
			names[i] = m->collections[i]->name;
		qsort(names, m->n_collections, sizeof(*names), by_name);
		for (i = 1; i < m->n_collections; i++)
			if (strcmp(names[i - 1], names[i]) == 0)
				break;
		if (i < m->n_collections) {
			bad(c, "collections", "collection '%.200s' appears "
			    "twice", names[i]);
			free(names);
			return -1;
		}
		free(names);
	}
	return 0;
}

/* "missing_shards". */
static int
parse_missing(struct pctx *c, json_t *o, struct qbk_manifest *m)
{
	json_t *a, *v;
	size_t i, old;

	if ((a = get_array(c, o, "missing_shards", QBK_MANIFEST_MAX_LIST)) ==
	    NULL)
		return -1;
	m->missing = alloc_for(json_array_size(a), sizeof(*m->missing));
	old = push_key(c, "missing_shards");
	json_array_foreach(a, i, v) {
		struct qbk_manifest_missing *miss = &m->missing[i];
		size_t o2 = push_index(c, i);

		if (check_element(c, v, missing_keys) ||
		    get_str(c, v, "collection", S_NAME, 1,
		    QBK_MANIFEST_MAX_NAME, &miss->collection))
			return -1;
		m->n_missing++;
		if (get_int(c, v, "shard_id", 0, UINT32_MAX,
		    &miss->shard_id) ||
		    get_str(c, v, "reason", S_ANY, 0, QBK_MANIFEST_MAX_STR,
		    &miss->reason))
			return -1;
		pop(c, o2);
	}
	pop(c, old);
	return 0;
}

/* "unreachable_peers": optional, written only when a peer could not be
 * reached. */
static int
parse_unreachable(struct pctx *c, json_t *o, struct qbk_manifest *m)
{
	json_t *a, *v;
	size_t i, old;

	if (json_object_get(o, "unreachable_peers") == NULL)
		return 0;
	if ((a = get_array(c, o, "unreachable_peers",
	    QBK_MANIFEST_MAX_LIST)) == NULL)
		return -1;
	if (json_array_size(a) == 0)
		return bad(c, "unreachable_peers", "left out when "
		    "empty");
	m->unreachable = alloc_for(json_array_size(a),
	    sizeof(*m->unreachable));
	old = push_key(c, "unreachable_peers");
	json_array_foreach(a, i, v) {
		struct qbk_manifest_unreachable *u =
		    &m->unreachable[i];
		size_t o2 = push_index(c, i);

		if (check_element(c, v, unreachable_keys) ||
		    get_u64str(c, v, "peer_id", &u->peer_id) ||
		    get_str(c, v, "url", S_ANY, 0, QBK_MANIFEST_MAX_STR,
		    &u->url))
			return -1;
		m->n_unreachable++;
		if (get_str(c, v, "reason", S_ANY, 0,
		    QBK_MANIFEST_MAX_STR, &u->reason))
			return -1;
		pop(c, o2);
	}
	pop(c, old);
	return 0;
}

/* "totals", checked against the snapshots. */
static int
parse_totals(struct pctx *c, json_t *o, struct qbk_manifest *m)
{
	json_t *a;
	size_t old;

	if ((a = get_object(c, o, "totals", 16)) == NULL)
		return -1;
	old = push_key(c, "totals");
	if (check_keys(c, a, totals_keys) ||
	    get_uint(c, a, "snapshots", &m->totals.snapshots) ||
	    get_uint(c, a, "size", &m->totals.size) ||
	    get_uint(c, a, "bytes", &m->totals.bytes) ||
	    get_uint(c, a, "bytes_new", &m->totals.bytes_new) ||
	    get_uint(c, a, "chunks", &m->totals.chunks) ||
	    get_uint(c, a, "chunks_new", &m->totals.chunks_new))
		return -1;
	pop(c, old);
	return check_totals(c, m);
}

static int
parse_manifest(struct pctx *c, json_t *o, struct qbk_manifest *m)
{
	int x;

	if (parse_format(c, o, &m->format) ||
	    check_keys(c, o, manifest_keys) ||
	    get_fixed(c, o, "backup_id", S_ID, m->backup_id,
	    sizeof(m->backup_id)) ||
	    get_enum(c, o, "type", type_names, &x))
		return -1;
	m->type = (enum qbk_manifest_type)x;
	if (get_enum(c, o, "kind", kind_names, &x))
		return -1;
	m->kind = (enum qbk_manifest_kind)x;
	if (json_object_get(o, "selection") != NULL) {
		if (get_enum(c, o, "selection", selection_names, &x))
			return -1;
		m->selection = (enum qbk_manifest_selection)(x + 1);
	}
	if (get_time(c, o, "start", &m->start) ||
	    get_time(c, o, "end", &m->end))
		return -1;
	if (m->end < m->start)
		return bad(c, "end", "earlier than start");
	if (get_str(c, o, "host", S_NAME, 1, QBK_MANIFEST_MAX_NAME,
	    &m->host) ||
	    get_str(c, o, "tool_version", S_NAME, 1, QBK_MANIFEST_MAX_NAME,
	    &m->tool_version) ||
	    parse_strv(c, o, "qdrant_versions", S_NAME, QBK_MANIFEST_MAX_NAME,
	    &m->qdrant_versions, &m->n_qdrant_versions) ||
	    parse_strv(c, o, "sources", S_NAME, QBK_MANIFEST_MAX_STR,
	    &m->sources, &m->n_sources))
		return -1;
	if (parse_tags(c, o, m) || parse_aliases(c, o, m) ||
	    parse_collections(c, o, m) ||
	    parse_snapshots(c, o, &m->snapshots, &m->n_snapshots, 1) ||
	    parse_missing(c, o, m) || parse_unreachable(c, o, m))
		return -1;
	return parse_totals(c, o, m);
}

static const char *const drill_keys[] = { "format", "drill_id",
	"backup_id", "level", "scenario", "host", "tool_version", "start",
	"end", "phases", "result", "rto_ms", "rto_target_ms", "green_ms",
	"problems", "collections", NULL };
static const char *const drilled_keys[] = { "name", "backup_id", NULL };

/* "green_ms": ms, null (not green in time) or absent (older record). */
static int
parse_green(struct pctx *c, json_t *o, int64_t *out)
{
	json_t *v = json_object_get(o, "green_ms");

	*out = QBK_MANIFEST_GREEN_UNKNOWN;
	if (v == NULL)
		return 0;
	*out = QBK_MANIFEST_GREEN_NOT_YET;
	if (json_is_null(v))
		return 0;
	return check_int(c, "green_ms", v, 0, INT64_MAX, out);
}

static int
parse_drill(struct pctx *c, json_t *o, struct qbk_manifest_drill *d)
{
	json_t *a, *v;
	const char *k;
	size_t old, i;

	if (parse_format(c, o, &d->format) ||
	    check_keys(c, o, drill_keys) ||
	    get_fixed(c, o, "drill_id", S_ID, d->drill_id,
	    sizeof(d->drill_id)) ||
	    get_fixed(c, o, "backup_id", S_ID, d->backup_id,
	    sizeof(d->backup_id)) ||
	    get_str(c, o, "level", S_TOKEN, 1, QBK_MANIFEST_MAX_TOKEN,
	    &d->level) ||
	    get_str(c, o, "scenario", S_TOKEN, 1, QBK_MANIFEST_MAX_TOKEN,
	    &d->scenario) ||
	    get_str(c, o, "host", S_NAME, 1, QBK_MANIFEST_MAX_NAME,
	    &d->host) ||
	    get_str(c, o, "tool_version", S_NAME, 1, QBK_MANIFEST_MAX_NAME,
	    &d->tool_version) ||
	    get_time(c, o, "start", &d->start) ||
	    get_time(c, o, "end", &d->end))
		return -1;
	if (d->end < d->start)
		return bad(c, "end", "earlier than start");
	if ((a = get_object(c, o, "phases", QBK_MANIFEST_MAX_LIST)) == NULL)
		return -1;
	d->phases = alloc_for(json_object_size(a), sizeof(*d->phases));
	old = push_key(c, "phases");
	json_object_foreach(a, k, v) {
		struct qbk_manifest_phase *p = &d->phases[d->n_phases];
		int64_t ms = 0;
		size_t kl = strlen(k);

		if (kl < 1 || kl > QBK_MANIFEST_MAX_TOKEN ||
		    !is_token(k, kl, ""))
			return bad(c, k, "phase names are 1..%d letters, "
			    "digits, '.', '_' or '-'", QBK_MANIFEST_MAX_TOKEN);
		if (check_int(c, k, v, 0, INT64_MAX, &ms))
			return -1;
		p->name = qbk_xstrdup(k);
		p->ms = (uint64_t)ms;
		d->n_phases++;
	}
	pop(c, old);
	if (get_enum(c, o, "result", result_names, &d->pass) ||
	    get_uint(c, o, "rto_ms", &d->rto_ms) ||
	    get_uint(c, o, "rto_target_ms", &d->rto_target_ms) ||
	    parse_green(c, o, &d->green_ms) ||
	    parse_strv(c, o, "problems", S_ANY, QBK_MANIFEST_MAX_STR,
	    &d->problems, &d->n_problems))
		return -1;
	if (json_object_get(o, "collections") == NULL)
		return 0;
	if ((a = get_array(c, o, "collections",
	    QBK_MANIFEST_MAX_COLLECTIONS)) == NULL)
		return -1;
	d->drilled = alloc_for(json_array_size(a), sizeof(*d->drilled));
	old = push_key(c, "collections");
	json_array_foreach(a, i, v) {
		struct qbk_manifest_drilled *x = &d->drilled[i];
		size_t o2 = push_index(c, i);

		if (check_element(c, v, drilled_keys) ||
		    get_str(c, v, "name", S_NAME, 1, QBK_MANIFEST_MAX_NAME,
		    &x->name))
			return -1;
		d->n_drilled++;
		if (get_fixed(c, v, "backup_id", S_ID, x->backup_id,
		    sizeof(x->backup_id)))
			return -1;
		pop(c, o2);
	}
	pop(c, old);
	return 0;
}

static json_t *
load(struct pctx *c, const void *text, size_t len)
{
	json_error_t jerr;
	json_t *j;

	if (len > QBK_MANIFEST_MAX_BYTES) {
		bad(c, NULL, "larger than %zu bytes", QBK_MANIFEST_MAX_BYTES);
		return NULL;
	}
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		bad(c, NULL, "%s at line %d, column %d", jerr.text, jerr.line,
		    jerr.column);
	return j;
}

int
qbk_manifest_from_json(const void *text, size_t len,
    struct qbk_manifest **out, struct qbk_err *err)
{
	struct pctx c = { "manifest", QBK_BUF_INIT, err };
	struct qbk_manifest *m;
	json_t *j;
	int rc;

	*out = NULL;
	if ((j = load(&c, text, len)) == NULL)
		return -1;
	m = qbk_xcalloc(1, sizeof(*m));
	rc = parse_manifest(&c, j, m);
	json_decref(j);
	qbk_buf_release(&c.path);
	if (rc != 0) {
		qbk_manifest_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

/* ---- writing ---- */

/* A JSON string, or null where there is none (the check then names it). */
static json_t *
jstr(const char *s)
{
	json_t *j;

	if (s == NULL)
		return json_null();
	j = json_string(s);
	return j != NULL ? j : json_null();	/* invalid UTF-8 */
}

/* A fixed buffer that may lack its NUL. */
static json_t *
jfixed(const char *s, size_t size)
{
	json_t *j = json_stringn(s, strnlen(s, size));

	return j != NULL ? j : json_null();
}

static json_t *
jtime(int64_t t)
{
	char buf[QBK_TIME_LEN + 1];

	qbk_time_format(t, buf);	/* "" if out of range */
	return json_string(buf);
}

/* u64 values above 2^63-1 become negative: the check rejects them. */
static json_t *
juint(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *
ju64str(uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_string(buf);
}

/* Failures to allocate are counted and reported once at the end. */
static void
set(int *fail, json_t *obj, const char *key, json_t *v)
{
	if (obj == NULL || v == NULL || json_object_set_new(obj, key, v))
		*fail = 1;
}

static void
append(int *fail, json_t *arr, json_t *v)
{
	if (arr == NULL || v == NULL || json_array_append_new(arr, v))
		*fail = 1;
}

static const char *
name_of(const char *const *names, int n, int i)
{
	return i >= 0 && i < n ? names[i] : "?";
}

static json_t *
jstrv(int *fail, char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		append(fail, a, jstr(v[i]));
	return a;
}

static json_t *
build_snapshot(int *fail, const struct qbk_manifest_snapshot *s)
{
	json_t *o = json_object(), *a;
	char buf[QBK_ID_LEN * 2 + 16];
	size_t i;

	set(fail, o, "kind", jstr(name_of(snapkind_names, 3, (int)s->kind)));
	set(fail, o, "shard_id", json_integer(s->shard_id));
	set(fail, o, "peer_id", ju64str(s->peer_id));
	set(fail, o, "node_url", jstr(s->node_url));
	set(fail, o, "name", jstr(s->name));
	set(fail, o, "size", juint(s->size));
	set(fail, o, "sha256", jfixed(s->sha256, sizeof(s->sha256)));
	set(fail, o, "start", jtime(s->start));
	set(fail, o, "end", jtime(s->end));
	set(fail, o, "duration_ms", juint(s->duration_ms));
	set(fail, o, "bytes", juint(s->bytes));
	set(fail, o, "bytes_new", juint(s->bytes_new));
	set(fail, o, "chunks_new", juint(s->chunks_new));
	a = json_array();
	for (i = 0; i < s->n_entries; i++) {
		json_t *e = json_object();

		set(fail, e, "path", jstr(s->entries[i].path));
		set(fail, e, "type", jstr(name_of(entry_names, 5,
		    (int)s->entries[i].type)));
		set(fail, e, "size", juint(s->entries[i].size));
		append(fail, a, e);
	}
	set(fail, o, "entries", a);
	a = json_array();
	for (i = 0; i < s->n_chunks; i++) {
		qbk_id_to_hex(s->chunks[i].id, buf);
		snprintf(buf + QBK_ID_LEN * 2, sizeof(buf) - QBK_ID_LEN * 2,
		    ":%lu", (unsigned long)s->chunks[i].len);
		append(fail, a, json_string_nocheck(buf));
	}
	set(fail, o, "chunks", a);
	return o;
}

static json_t *
build_snapshots(int *fail, struct qbk_manifest_snapshot *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		append(fail, a, build_snapshot(fail, v[i]));
	return a;
}

static json_t *
verbatim(json_t *v)
{
	return v != NULL ? json_incref(v) : json_null();
}

static json_t *
build_cluster(int *fail, const struct qbk_manifest_cluster *cl)
{
	json_t *o = json_object(), *a = json_array(), *sa = json_array();
	size_t i, k;

	set(fail, o, "shard_number", juint(cl->shard_number));
	set(fail, o, "replication_factor", juint(cl->replication_factor));
	set(fail, o, "write_consistency_factor",
	    juint(cl->write_consistency_factor));
	set(fail, o, "sharding_method", jstr(cl->sharding_method));
	for (i = 0; i < cl->n_peers; i++)
		append(fail, a, ju64str(cl->peers[i]));
	set(fail, o, "peers", a);
	for (i = 0; i < cl->n_shards; i++) {
		const struct qbk_manifest_shard *sh = &cl->shards[i];
		json_t *so = json_object(), *ra = json_array();

		set(fail, so, "shard_id", json_integer(sh->shard_id));
		if (sh->shard_key != NULL)
			set(fail, so, "shard_key", jstr(sh->shard_key));
		set(fail, so, "peer_id", ju64str(sh->peer_id));
		set(fail, so, "points_count", juint(sh->points_count));
		for (k = 0; k < sh->n_replicas; k++) {
			json_t *ro = json_object();

			set(fail, ro, "peer_id",
			    ju64str(sh->replicas[k].peer_id));
			set(fail, ro, "state", jstr(sh->replicas[k].state));
			set(fail, ro, "points_count",
			    json_integer(sh->replicas[k].points_count));
			append(fail, ra, ro);
		}
		set(fail, so, "replicas", ra);
		append(fail, sa, so);
	}
	set(fail, o, "shards", sa);
	if (cl->payload_schema != NULL)
		set(fail, o, "payload_schema", verbatim(cl->payload_schema));
	return o;
}

static json_t *
build_content(int *fail, const struct qbk_manifest_collection *c)
{
	json_t *ca = json_array();
	size_t j;

	for (j = 0; j < QBK_MANIFEST_BUCKETS; j++) {
		const struct qbk_manifest_bucket *b =
		    &c->content[j];
		json_t *bo;

		if (!b->known) {
			append(fail, ca, json_null());
			continue;
		}
		bo = json_object();
		set(fail, bo, "points", juint(b->points));
		set(fail, bo, "hash", jfixed(b->hash,
		    sizeof(b->hash)));
		append(fail, ca, bo);
	}
	return ca;
}

static json_t *
build_collection(int *fail, const struct qbk_manifest_collection *c)
{
	json_t *co = json_object(), *sa = json_array();
	size_t j;

	set(fail, co, "name", jstr(c->name));
	set(fail, co, "aliases", jstrv(fail, c->aliases,
	    c->n_aliases));
	set(fail, co, "points_count", juint(c->points_count));
	if (c->has_count_after)
		set(fail, co, "points_count_after",
		    juint(c->points_count_after));
	set(fail, co, "vectors", verbatim(c->vectors));
	set(fail, co, "config", verbatim(c->config));
	for (j = 0; j < c->n_samples; j++) {
		json_t *so = json_object();

		set(fail, so, "id", jstr(c->samples[j].id));
		set(fail, so, "hash", jfixed(c->samples[j].hash,
		    sizeof(c->samples[j].hash)));
		append(fail, sa, so);
	}
	set(fail, co, "sample", sa);
	if (c->has_content)
		set(fail, co, "content", build_content(fail, c));
	if (c->cluster != NULL)
		set(fail, co, "cluster", build_cluster(fail,
		    c->cluster));
	if (c->payload_schema != NULL)
		set(fail, co, "payload_schema",
		    verbatim(c->payload_schema));
	set(fail, co, "snapshots", build_snapshots(fail,
	    c->snapshots, c->n_snapshots));
	return co;
}

static json_t *
build_manifest(int *fail, const struct qbk_manifest *m)
{
	json_t *o = json_object(), *a, *x;
	size_t i;

	set(fail, o, "format", json_integer(m->format));
	set(fail, o, "backup_id", jfixed(m->backup_id, sizeof(m->backup_id)));
	set(fail, o, "type", jstr(name_of(type_names, 2, (int)m->type)));
	set(fail, o, "kind", jstr(name_of(kind_names, 2, (int)m->kind)));
	if (m->selection != QBK_MANIFEST_SELECTION_UNKNOWN)
		set(fail, o, "selection", jstr(name_of(selection_names, 2,
		    (int)m->selection - 1)));
	set(fail, o, "start", jtime(m->start));
	set(fail, o, "end", jtime(m->end));
	set(fail, o, "host", jstr(m->host));
	set(fail, o, "tool_version", jstr(m->tool_version));
	set(fail, o, "qdrant_versions", jstrv(fail, m->qdrant_versions,
	    m->n_qdrant_versions));
	set(fail, o, "sources", jstrv(fail, m->sources, m->n_sources));
	x = json_object();
	for (i = 0; i < m->n_tags; i++) {
		/* A repeated or missing key makes the check fail. */
		if (m->tags[i].key == NULL ||
		    json_object_get(x, m->tags[i].key) != NULL)
			set(fail, x, "", jstr(NULL));
		else
			set(fail, x, m->tags[i].key, jstr(m->tags[i].value));
	}
	set(fail, o, "tags", x);
	x = json_object();
	for (i = 0; i < m->n_aliases; i++) {
		if (m->aliases[i].alias == NULL ||
		    json_object_get(x, m->aliases[i].alias) != NULL)
			set(fail, x, "", jstr(NULL));
		else
			set(fail, x, m->aliases[i].alias,
			    jstr(m->aliases[i].collection));
	}
	set(fail, o, "aliases", x);
	a = json_array();
	for (i = 0; i < m->n_collections; i++)
		append(fail, a, build_collection(fail, m->collections[i]));
	set(fail, o, "collections", a);
	set(fail, o, "snapshots", build_snapshots(fail, m->snapshots,
	    m->n_snapshots));
	a = json_array();
	for (i = 0; i < m->n_missing; i++) {
		json_t *mo = json_object();

		set(fail, mo, "collection", jstr(m->missing[i].collection));
		set(fail, mo, "shard_id", json_integer(m->missing[i].shard_id));
		set(fail, mo, "reason", jstr(m->missing[i].reason));
		append(fail, a, mo);
	}
	set(fail, o, "missing_shards", a);
	if (m->n_unreachable > 0) {
		a = json_array();
		for (i = 0; i < m->n_unreachable; i++) {
			json_t *uo = json_object();

			set(fail, uo, "peer_id",
			    ju64str(m->unreachable[i].peer_id));
			set(fail, uo, "url", jstr(m->unreachable[i].url));
			set(fail, uo, "reason",
			    jstr(m->unreachable[i].reason));
			append(fail, a, uo);
		}
		set(fail, o, "unreachable_peers", a);
	}
	x = json_object();
	set(fail, x, "snapshots", juint(m->totals.snapshots));
	set(fail, x, "size", juint(m->totals.size));
	set(fail, x, "bytes", juint(m->totals.bytes));
	set(fail, x, "bytes_new", juint(m->totals.bytes_new));
	set(fail, x, "chunks", juint(m->totals.chunks));
	set(fail, x, "chunks_new", juint(m->totals.chunks_new));
	set(fail, o, "totals", x);
	return o;
}

static json_t *
build_drill(int *fail, const struct qbk_manifest_drill *d)
{
	json_t *o = json_object(), *x;
	size_t i;

	set(fail, o, "format", json_integer(d->format));
	set(fail, o, "drill_id", jfixed(d->drill_id, sizeof(d->drill_id)));
	set(fail, o, "backup_id", jfixed(d->backup_id, sizeof(d->backup_id)));
	set(fail, o, "level", jstr(d->level));
	set(fail, o, "scenario", jstr(d->scenario));
	set(fail, o, "host", jstr(d->host));
	set(fail, o, "tool_version", jstr(d->tool_version));
	set(fail, o, "start", jtime(d->start));
	set(fail, o, "end", jtime(d->end));
	x = json_object();
	for (i = 0; i < d->n_phases; i++) {
		if (d->phases[i].name == NULL ||
		    json_object_get(x, d->phases[i].name) != NULL)
			set(fail, x, "", jstr(NULL));
		else
			set(fail, x, d->phases[i].name,
			    juint(d->phases[i].ms));
	}
	set(fail, o, "phases", x);
	set(fail, o, "result", jstr(d->pass ? "pass" : "fail"));
	set(fail, o, "rto_ms", juint(d->rto_ms));
	set(fail, o, "rto_target_ms", juint(d->rto_target_ms));
	if (d->green_ms >= 0)
		set(fail, o, "green_ms", juint((uint64_t)d->green_ms));
	else if (d->green_ms == QBK_MANIFEST_GREEN_NOT_YET)
		set(fail, o, "green_ms", json_null());
	set(fail, o, "problems", jstrv(fail, d->problems, d->n_problems));
	if (d->n_drilled > 0) {
		x = json_array();
		for (i = 0; i < d->n_drilled; i++) {
			json_t *e = json_object();

			set(fail, e, "name", jstr(d->drilled[i].name));
			set(fail, e, "backup_id", jfixed(d->drilled[i].backup_id,
			    sizeof(d->drilled[i].backup_id)));
			append(fail, x, e);
		}
		set(fail, o, "collections", x);
	}
	return o;
}

static int
dump_cb(const char *data, size_t len, void *cookie)
{
	qbk_buf_add(cookie, data, len);
	return 0;
}

/*
 * Dump ${j} onto ${out}, then parse what was written with ${check} (which
 * frees its own result): a document that would not read back is never
 * handed out.
 */
static int
dump_checked(json_t *j, int fail, const char *what,
    int (*check)(const void *, size_t, struct qbk_err *), struct qbk_buf *out,
    struct qbk_err *err)
{
	size_t start = out->len;

	if (fail || j == NULL) {
		json_decref(j);
		return qbk_err_set(err, QBK_E_NOMEM,
		    "cannot build the %s: out of memory or invalid UTF-8 "
		    "in a name", what);
	}
	if (json_dump_callback(j, dump_cb, out, JSON_COMPACT) != 0) {
		json_decref(j);
		qbk_buf_setlen(out, start);
		return qbk_err_set(err, QBK_E_INTERNAL,
		    "cannot write the %s as JSON", what);
	}
	json_decref(j);
	if (check(out->buf + start, out->len - start, err)) {
		qbk_buf_setlen(out, start);
		if (err != NULL)
			err->code = QBK_E_INTERNAL;
		qbk_err_prefix(err, "cannot write %s", what);
		return -1;
	}
	return 0;
}

static int
check_manifest(const void *text, size_t len, struct qbk_err *err)
{
	struct qbk_manifest *m;

	if (qbk_manifest_from_json(text, len, &m, err))
		return -1;
	qbk_manifest_free(m);
	return 0;
}

int
qbk_manifest_to_json(const struct qbk_manifest *m, struct qbk_buf *out,
    struct qbk_err *err)
{
	int fail = 0;
	json_t *j = build_manifest(&fail, m);

	return dump_checked(j, fail, "manifest", check_manifest, out, err);
}

/* ---- drill records ---- */

struct qbk_manifest_drill *
qbk_manifest_drill_new(void)
{
	struct qbk_manifest_drill *d = qbk_xcalloc(1, sizeof(*d));

	d->format = QBK_MANIFEST_FORMAT;
	d->green_ms = QBK_MANIFEST_GREEN_UNKNOWN;
	return d;
}

void
qbk_manifest_drill_free(struct qbk_manifest_drill *d)
{
	size_t i;

	if (d == NULL)
		return;
	free(d->level);
	free(d->scenario);
	free(d->host);
	free(d->tool_version);
	for (i = 0; i < d->n_phases; i++)
		free(d->phases[i].name);
	free(d->phases);
	free_strv(d->problems, d->n_problems);
	for (i = 0; i < d->n_drilled; i++)
		free(d->drilled[i].name);
	free(d->drilled);
	free(d);
}

void
qbk_manifest_drill_add_phase(struct qbk_manifest_drill *d, const char *name,
    uint64_t ms)
{
	d->phases = grow(d->phases, d->n_phases, sizeof(*d->phases));
	d->phases[d->n_phases].name = dup_or_null(name);
	d->phases[d->n_phases].ms = ms;
	d->n_phases++;
}

void
qbk_manifest_drill_add_problem(struct qbk_manifest_drill *d,
    const char *text)
{
	strv_add(&d->problems, &d->n_problems, text);
}

void
qbk_manifest_drill_add_drilled(struct qbk_manifest_drill *d,
    const char *name, const char *backup_id)
{
	d->drilled = grow(d->drilled, d->n_drilled, sizeof(*d->drilled));
	d->drilled[d->n_drilled].name = dup_or_null(name);
	snprintf(d->drilled[d->n_drilled].backup_id,
	    sizeof(d->drilled[d->n_drilled].backup_id), "%s", backup_id);
	d->n_drilled++;
}

int
qbk_manifest_drill_from_json(const void *text, size_t len,
    struct qbk_manifest_drill **out, struct qbk_err *err)
{
	struct pctx c = { "drill record", QBK_BUF_INIT, err };
	struct qbk_manifest_drill *d;
	json_t *j;
	int rc;

	*out = NULL;
	if ((j = load(&c, text, len)) == NULL)
		return -1;
	d = qbk_xcalloc(1, sizeof(*d));
	rc = parse_drill(&c, j, d);
	json_decref(j);
	qbk_buf_release(&c.path);
	if (rc != 0) {
		qbk_manifest_drill_free(d);
		return -1;
	}
	*out = d;
	return 0;
}

static int
check_drill(const void *text, size_t len, struct qbk_err *err)
{
	struct qbk_manifest_drill *d;

	if (qbk_manifest_drill_from_json(text, len, &d, err))
		return -1;
	qbk_manifest_drill_free(d);
	return 0;
}

int
qbk_manifest_drill_to_json(const struct qbk_manifest_drill *d,
    struct qbk_buf *out, struct qbk_err *err)
{
	int fail = 0;
	json_t *j = build_drill(&fail, d);

	return dump_checked(j, fail, "drill record", check_drill, out, err);
}

void
qbk_manifest_collection_drop_snapshots(struct qbk_manifest_collection *c)
{
	size_t i;

	for (i = 0; i < c->n_snapshots; i++)
		snapshot_free(c->snapshots[i]);
	c->n_snapshots = 0;
}
