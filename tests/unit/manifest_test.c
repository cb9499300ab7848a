#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_idset.h"
#include "common/qbk_time.h"
#include "repo/qbk_manifest.h"

#define T0	INT64_C(1795299300)	/* 2026-11-21T22:15:00Z */

static const char sha_a[] =
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
static const char sha_b[] =
    "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

static void
make_chunk_id(uint8_t *id, uint32_t n)
{
	uint32_t x = n * 2654435761u + 1;
	size_t i;

	for (i = 0; i < QBK_ID_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		id[i] = (uint8_t)x;
	}
}

static void
fill_snapshot(struct qbk_manifest_snapshot *s, uint32_t seed, uint32_t n,
    const char *sha)
{
	uint8_t id[QBK_ID_LEN];
	uint32_t i;

	s->peer_id = UINT64_MAX - seed;
	qbk_manifest_strset(&s->node_url, "http://qdrant-0.qdrant:6333");
	qbk_manifest_strset(&s->name,
	    "c1-shard-0-2026-11-21-22-15-00.snapshot");
	snprintf(s->sha256, sizeof(s->sha256), "%s", sha);
	s->start = T0 + 1;
	s->end = T0 + 9;
	s->duration_ms = 8123;
	qbk_manifest_snapshot_add_entry(s, "0/segments", QBK_MANIFEST_ENTRY_DIR,
	    0);
	qbk_manifest_snapshot_add_entry(s, "0/segments/a1b2/vector_storage"
	    "/vectors/chunk_0.mmap", QBK_MANIFEST_ENTRY_FILE, 33554432);
	qbk_manifest_snapshot_add_entry(s, "config.json",
	    QBK_MANIFEST_ENTRY_FILE, 1234);
	qbk_manifest_snapshot_add_entry(s, "link", QBK_MANIFEST_ENTRY_SYMLINK,
	    0);
	for (i = 0; i < n; i++) {
		make_chunk_id(id, seed * 100000 + i);
		qbk_manifest_snapshot_add_chunk(s, id, 65536 + i * 13);
	}
	s->bytes = s->size;
	s->bytes_new = s->size / 3;
	s->chunks_new = n / 3;
}

/* A manifest with a bit of everything. */
static struct qbk_manifest *
rich_manifest(void)
{
	struct qbk_manifest *m = qbk_manifest_new();
	struct qbk_manifest_collection *c;
	struct qbk_manifest_snapshot *s;
	json_error_t jerr;
	json_t *j;
	int i;

	assert_int_equal(qbk_manifest_make_id(T0, m->backup_id), 0);
	m->type = QBK_MANIFEST_TYPE_INCREMENTAL;
	m->selection = QBK_MANIFEST_SELECTION_NAMED;
	m->start = T0;
	m->end = T0 + 42;
	qbk_manifest_strset(&m->host, "db1.example.org");
	qbk_manifest_strset(&m->tool_version, "qbk 0.1.0");
	qbk_manifest_add_qdrant_version(m, "1.12.4");
	qbk_manifest_add_qdrant_version(m, "1.12.5");
	qbk_manifest_add_source(m, "http://qdrant-0.qdrant:6333");
	qbk_manifest_add_source(m, "http://qdrant-1.qdrant:6333");
	qbk_manifest_add_tag(m, "env", "prod");
	qbk_manifest_add_tag(m, "app.kubernetes.io/name", "qdrant \"main\" é");
	qbk_manifest_add_tag(m, "empty", "");
	qbk_manifest_add_alias(m, "products", "products_v2");

	c = qbk_manifest_add_collection(m, "products_v2");
	qbk_manifest_collection_add_alias(c, "products");
	c->points_count = 1000000;
	j = json_loads("{\"params\":{\"vectors\":{\"size\":768,\"distance\":"
	    "\"Cosine\"},\"shard_number\":2,\"replication_factor\":2},"
	    "\"hnsw_config\":{\"m\":16,\"ef_construct\":100,"
	    "\"full_scan_threshold\":10000},\"optimizer_config\":"
	    "{\"deleted_threshold\":0.2,\"vacuum_min_vector_number\":1000,"
	    "\"max_optimization_threads\":null},\"quantization_config\":null,"
	    "\"names\":[\"ü\",\"\\u2603\",1e300,-0.0,12345678901234567]}", 0,
	    &jerr);
	assert_non_null(j);
	qbk_manifest_collection_set_config(c, j);
	json_decref(j);
	j = json_loads("{\"size\":768,\"distance\":\"Cosine\"}", 0, &jerr);
	qbk_manifest_collection_set_vectors(c, j);
	json_decref(j);
	qbk_manifest_collection_add_sample(c, "18446744073709551615", sha_a);
	qbk_manifest_collection_add_sample(c,
	    "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", sha_b);
	qbk_manifest_collection_add_sample(c, "0", sha_a);
	/* Optional fields: on this collection, not on "logs". */
	c->has_count_after = 1;
	c->points_count_after = 1000007;
	c->has_content = 1;
	for (i = 0; i < QBK_MANIFEST_BUCKETS; i++) {
		c->content[i].known = i % 5 != 2;
		c->content[i].points = (uint64_t)i * 1000;
		memcpy(c->content[i].hash, i % 2 ? sha_a : sha_b,
		    sizeof(c->content[i].hash));
	}
	s = qbk_manifest_add_snapshot(m, c, QBK_MANIFEST_SNAP_SHARD);
	s->shard_id = 0;
	fill_snapshot(s, 1, 1000, sha_a);
	s = qbk_manifest_add_snapshot(m, c, QBK_MANIFEST_SNAP_SHARD);
	s->shard_id = 4294967295;
	fill_snapshot(s, 2, 17, sha_b);

	c = qbk_manifest_add_collection(m, "logs");
	j = json_object();
	qbk_manifest_collection_set_config(c, j);
	qbk_manifest_collection_set_vectors(c, j);
	json_decref(j);
	s = qbk_manifest_add_snapshot(m, c, QBK_MANIFEST_SNAP_COLLECTION);
	fill_snapshot(s, 3, 1, sha_b);
	s->peer_id = 0;

	qbk_manifest_add_missing(m, "logs", 3, "no replica is active");
	qbk_manifest_add_missing(m, "logs", 4, NULL);
	qbk_manifest_add_unreachable(m, UINT64_C(18446744073709551000),
	    "http://10.0.0.3:6333", "Connection refused");
	qbk_manifest_add_unreachable(m, 7, NULL, NULL);
	qbk_manifest_compute_totals(m);
	return m;
}

static char *
to_text(const struct qbk_manifest *m)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;

	if (qbk_manifest_to_json(m, &b, &err) != 0)
		fail_msg("cannot write manifest: %s", err.msg);
	return qbk_buf_detach(&b, NULL);
}

static char *mutate(const char *, const char *, const char *);

/* Manifests written before content hashes existed lack both fields: they
 * parse, with no hash, and are written back without them. */
static void
content_hash_optional(void **state)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest *m = rich_manifest(), *p;
	char *t1, *t2, *t3, *t4;

	(void)state;
	t1 = to_text(m);
	t2 = mutate(t1, "collections.0.content", NULL);
	t3 = mutate(t2, "selection", NULL);
	assert_int_equal(qbk_manifest_from_json(t3, strlen(t3), &p, &err), 0);
	assert_int_equal(p->collections[0]->has_content, 0);
	assert_int_equal(p->collections[0]->content[0].known, 0);
	assert_int_equal(p->selection, QBK_MANIFEST_SELECTION_UNKNOWN);
	m->collections[0]->has_content = 0;
	m->selection = QBK_MANIFEST_SELECTION_UNKNOWN;
	free(t1);
	t1 = to_text(m);
	t4 = to_text(p);
	assert_string_equal(t1, t4);
	assert_null(strstr(t4, "\"content\""));
	free(t1);
	free(t2);
	free(t3);
	free(t4);
	qbk_manifest_free(p);
	qbk_manifest_free(m);
}

static void
round_trip(void **state)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest *m = rich_manifest(), *p;
	const struct qbk_manifest_snapshot *s, *q;
	char *t1, *t2;
	size_t i;

	(void)state;
	t1 = to_text(m);
	assert_int_equal(qbk_manifest_from_json(t1, strlen(t1), &p, &err), 0);
	t2 = to_text(p);
	assert_string_equal(t1, t2);

	assert_string_equal(p->backup_id, m->backup_id);
	assert_int_equal(strncmp(p->backup_id, "20261121T221500Z-", 17), 0);
	assert_int_equal(p->type, QBK_MANIFEST_TYPE_INCREMENTAL);
	assert_int_equal(p->kind, QBK_MANIFEST_KIND_COLLECTIONS);
	assert_int_equal(p->selection, QBK_MANIFEST_SELECTION_NAMED);
	assert_non_null(strstr(t1, "\"kind\":\"collections\","
	    "\"selection\":\"named\","));
	assert_int_equal(p->start, T0);
	assert_int_equal(p->end, T0 + 42);
	assert_string_equal(p->host, "db1.example.org");
	assert_int_equal(p->n_qdrant_versions, 2);
	assert_string_equal(p->sources[1], "http://qdrant-1.qdrant:6333");
	assert_int_equal(p->n_tags, 3);
	assert_string_equal(p->tags[1].key, "app.kubernetes.io/name");
	assert_string_equal(p->tags[1].value, "qdrant \"main\" é");
	assert_string_equal(p->aliases[0].collection, "products_v2");
	assert_int_equal(p->n_collections, 2);
	assert_true(json_equal(p->collections[0]->config,
	    m->collections[0]->config));
	assert_string_equal(p->collections[0]->samples[0].id,
	    "18446744073709551615");
	assert_string_equal(p->collections[0]->samples[1].hash, sha_b);
	assert_int_equal(p->collections[0]->points_count, 1000000);
	assert_int_equal(p->collections[0]->has_count_after, 1);
	assert_int_equal(p->collections[0]->points_count_after, 1000007);
	assert_int_equal(p->collections[1]->has_count_after, 0);
	assert_null(strstr(strstr(t1, "\"name\":\"logs\""),
	    "points_count_after"));
	assert_int_equal(p->collections[0]->has_content, 1);
	for (i = 0; i < QBK_MANIFEST_BUCKETS; i++) {
		const struct qbk_manifest_bucket *b =
		    &p->collections[0]->content[i];

		assert_int_equal(b->known, i % 5 != 2);
		if (!b->known)
			continue;
		assert_int_equal(b->points, (uint64_t)i * 1000);
		assert_string_equal(b->hash, i % 2 ? sha_a : sha_b);
	}
	assert_non_null(strstr(t1, "\"content\":[{\"points\":0,\"hash\""));
	assert_non_null(strstr(t1, ",null,"));
	assert_int_equal(p->collections[1]->has_content, 0);
	assert_null(strstr(strstr(t1, "\"name\":\"logs\""),
	    "\"content\""));
	assert_int_equal(p->n_missing, 2);
	assert_string_equal(p->missing[1].reason, "");
	assert_int_equal(p->missing[0].shard_id, 3);
	assert_int_equal(qbk_manifest_missing_count(p, NULL), 2);
	assert_int_equal(qbk_manifest_missing_count(p, "logs"), 2);
	assert_int_equal(qbk_manifest_missing_count(p, "c1"), 0);
	assert_int_equal(p->n_unreachable, 2);
	assert_true(p->unreachable[0].peer_id ==
	    UINT64_C(18446744073709551000));
	assert_string_equal(p->unreachable[0].url, "http://10.0.0.3:6333");
	assert_string_equal(p->unreachable[0].reason, "Connection refused");
	assert_true(p->unreachable[1].peer_id == 7);
	assert_string_equal(p->unreachable[1].url, "");
	for (i = 0; i < 2; i++) {
		s = m->collections[0]->snapshots[i];
		q = p->collections[0]->snapshots[i];
		assert_int_equal(q->kind, QBK_MANIFEST_SNAP_SHARD);
		assert_int_equal(q->shard_id, s->shard_id);
		assert_true(q->peer_id == s->peer_id);
		assert_int_equal(q->size, s->size);
		assert_int_equal(q->n_chunks, s->n_chunks);
		assert_memory_equal(q->chunks, s->chunks,
		    s->n_chunks * sizeof(*s->chunks));
		assert_int_equal(q->n_entries, 4);
		assert_int_equal(q->entries[1].size, 33554432);
		assert_int_equal(q->entries[3].type,
		    QBK_MANIFEST_ENTRY_SYMLINK);
	}
	assert_true(p->collections[0]->snapshots[0]->peer_id ==
	    UINT64_MAX - 1);
	assert_int_equal(p->collections[0]->snapshots[1]->shard_id,
	    4294967295);
	assert_int_equal(p->collections[1]->snapshots[0]->shard_id, -1);
	assert_int_equal(p->totals.snapshots, 3);
	assert_int_equal(p->totals.chunks, 1018);
	assert_memory_equal(&p->totals, &m->totals, sizeof(m->totals));
	/* Adding to a parsed manifest works (capacity implied by count). */
	qbk_manifest_add_tag(p, "more", "x");
	qbk_manifest_snapshot_add_chunk(p->collections[0]->snapshots[1],
	    p->collections[0]->snapshots[1]->chunks[0].id, 5);
	qbk_manifest_compute_totals(p);
	free(t2);
	t2 = to_text(p);
	assert_string_not_equal(t1, t2);
	qbk_manifest_free(m);
	qbk_manifest_free(p);
	qbk_manifest_free(NULL);
	free(t1);
	free(t2);
}

static void
full_storage_round_trip(void **state)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest *m = qbk_manifest_new(), *p;
	struct qbk_manifest_snapshot *s;
	char *t1, *t2;

	(void)state;
	assert_int_equal(qbk_manifest_make_id(T0, m->backup_id), 0);
	m->kind = QBK_MANIFEST_KIND_FULL_STORAGE;
	m->start = m->end = T0;
	qbk_manifest_strset(&m->host, "h");
	qbk_manifest_strset(&m->tool_version, "qbk 0.1.0");
	s = qbk_manifest_add_snapshot(m, NULL, QBK_MANIFEST_SNAP_FULL);
	fill_snapshot(s, 9, 3, sha_a);
	qbk_manifest_compute_totals(m);
	t1 = to_text(m);
	assert_non_null(strstr(t1, "\"kind\":\"full-storage\""));
	assert_int_equal(qbk_manifest_from_json(t1, strlen(t1), &p, &err), 0);
	assert_int_equal(p->n_snapshots, 1);
	assert_int_equal(p->snapshots[0]->kind, QBK_MANIFEST_SNAP_FULL);
	assert_int_equal(p->n_collections, 0);
	t2 = to_text(p);
	assert_string_equal(t1, t2);
	qbk_manifest_free(m);
	qbk_manifest_free(p);
	free(t1);
	free(t2);
}

/* The shard layout of a distributed collection survives a round trip, is
 * optional, and is checked. */
static void
cluster_round_trip(void **state)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest *m = qbk_manifest_new(), *p;
	struct qbk_manifest_collection *c;
	struct qbk_manifest_cluster *cl;
	struct qbk_manifest_shard *sh;
	struct qbk_manifest_snapshot *s;
	json_t *cfg = json_object(), *vec = json_object();
	char *t1, *t2, *bad;

	(void)state;
	assert_int_equal(qbk_manifest_make_id(T0, m->backup_id), 0);
	m->start = m->end = T0;
	qbk_manifest_strset(&m->host, "h");
	qbk_manifest_strset(&m->tool_version, "qbk 0.1.0");
	c = qbk_manifest_add_collection(m, "c");
	qbk_manifest_collection_set_config(c, cfg);
	qbk_manifest_collection_set_vectors(c, vec);
	s = qbk_manifest_add_snapshot(m, c, QBK_MANIFEST_SNAP_SHARD);
	fill_snapshot(s, 5, 2, sha_a);
	s->shard_id = 1;
	s->peer_id = UINT64_C(18446744073709551000);
	cl = qbk_manifest_collection_set_cluster(c);
	cl->shard_number = 2;
	cl->replication_factor = 2;
	cl->write_consistency_factor = 1;
	qbk_manifest_strset(&cl->sharding_method, "auto");
	qbk_manifest_cluster_add_peer(cl, 7);
	qbk_manifest_cluster_add_peer(cl, UINT64_C(18446744073709551000));
	sh = qbk_manifest_cluster_add_shard(cl, 0);
	qbk_manifest_shard_add_replica(sh, 7, "Dead", -1);
	sh = qbk_manifest_cluster_add_shard(cl, 1);
	sh->peer_id = UINT64_C(18446744073709551000);
	sh->points_count = 42;
	qbk_manifest_strset(&sh->shard_key, "\"eu\"");
	qbk_manifest_shard_add_replica(sh, 7, "Active", 42);
	qbk_manifest_shard_add_replica(sh, UINT64_C(18446744073709551000),
	    "Active", 42);
	qbk_manifest_add_missing(m, "c", 0, "no active replica");
	cl->payload_schema = json_pack("{s:{s:s}}", "category", "data_type",
	    "keyword");
	qbk_manifest_compute_totals(m);
	t1 = to_text(m);
	assert_non_null(strstr(t1, "\"cluster\":{\"shard_number\":2,"));
	assert_int_equal(qbk_manifest_from_json(t1, strlen(t1), &p, &err), 0);
	assert_non_null(p->collections[0]->cluster);
	cl = p->collections[0]->cluster;
	assert_int_equal(cl->shard_number, 2);
	assert_int_equal(cl->replication_factor, 2);
	assert_string_equal(cl->sharding_method, "auto");
	assert_int_equal(cl->n_peers, 2);
	assert_true(cl->peers[1] == UINT64_C(18446744073709551000));
	assert_int_equal(cl->n_shards, 2);
	assert_int_equal(cl->shards[0].peer_id, 0);
	assert_null(cl->shards[0].shard_key);
	assert_string_equal(cl->shards[0].replicas[0].state, "Dead");
	assert_int_equal(cl->shards[0].replicas[0].points_count, -1);
	assert_string_equal(cl->shards[1].shard_key, "\"eu\"");
	assert_int_equal(cl->shards[1].points_count, 42);
	assert_int_equal(cl->shards[1].n_replicas, 2);
	assert_int_equal(p->n_missing, 1);
	assert_string_equal(p->missing[0].reason, "no active replica");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    cl->payload_schema, "category"), "data_type")), "keyword");
	t2 = to_text(p);
	assert_string_equal(t1, t2);
	qbk_manifest_free(p);

	/* A bad state is refused with the field named. */
	bad = strdup(t1);
	memcpy(strstr(bad, "\"Dead\""), "\"De d\"", 6);
	assert_int_equal(qbk_manifest_from_json(bad, strlen(bad), &p, &err),
	    -1);
	assert_null(p);
	assert_non_null(strstr(err.msg,
	    "collections[0].cluster.shards[0].replicas[0].state"));
	free(bad);

	/* Without the layout (single node, older manifests): NULL. */
	qbk_manifest_free(m);
	free(t2);
	m = qbk_manifest_new();
	assert_int_equal(qbk_manifest_make_id(T0, m->backup_id), 0);
	m->start = m->end = T0;
	qbk_manifest_strset(&m->host, "h");
	qbk_manifest_strset(&m->tool_version, "qbk 0.1.0");
	c = qbk_manifest_add_collection(m, "c");
	qbk_manifest_collection_set_config(c, cfg);
	qbk_manifest_collection_set_vectors(c, vec);
	qbk_manifest_compute_totals(m);
	t2 = to_text(m);
	assert_null(strstr(t2, "\"cluster\""));
	assert_int_equal(qbk_manifest_from_json(t2, strlen(t2), &p, &err), 0);
	assert_null(p->collections[0]->cluster);
	qbk_manifest_free(p);
	qbk_manifest_free(m);
	json_decref(cfg);
	json_decref(vec);
	free(t1);
	free(t2);
}

struct count {
	size_t n;
	uint64_t bytes;
	size_t stop_at;
	size_t full;
};

static int
count_chunks(void *cookie, const struct qbk_manifest_collection *c,
    const struct qbk_manifest_snapshot *s,
    const struct qbk_manifest_chunk *ch)
{
	struct count *k = cookie;

	assert_true(ch >= s->chunks && ch < s->chunks + s->n_chunks);
	if (c == NULL)
		k->full++;
	k->n++;
	k->bytes += ch->len;
	return k->n == k->stop_at ? 42 : 0;
}

static void
chunk_iteration(void **state)
{
	struct qbk_manifest *m = rich_manifest();
	struct qbk_manifest_snapshot *s;
	struct count k = { 0, 0, 0, 0 };

	(void)state;
	s = qbk_manifest_add_snapshot(m, NULL, QBK_MANIFEST_SNAP_FULL);
	fill_snapshot(s, 4, 2, sha_a);
	qbk_manifest_compute_totals(m);
	assert_int_equal(qbk_manifest_foreach_chunk(m, count_chunks, &k), 0);
	assert_int_equal(k.n, m->totals.chunks);
	assert_int_equal(k.n, 1020);
	assert_int_equal(k.bytes, m->totals.size);
	assert_int_equal(k.full, 2);
	memset(&k, 0, sizeof(k));
	k.stop_at = 10;
	assert_int_equal(qbk_manifest_foreach_chunk(m, count_chunks, &k), 42);
	assert_int_equal(k.n, 10);
	assert_non_null(qbk_manifest_find_collection(m, "logs"));
	assert_null(qbk_manifest_find_collection(m, "nope"));

	/* Dropping a collection's snapshots (a backup that switches method)
	 * leaves a consistent manifest that can grow again. */
	qbk_manifest_collection_drop_snapshots(m->collections[0]);
	assert_int_equal(m->collections[0]->n_snapshots, 0);
	s = qbk_manifest_add_snapshot(m, m->collections[0],
	    QBK_MANIFEST_SNAP_COLLECTION);
	fill_snapshot(s, 6, 5, sha_b);
	qbk_manifest_compute_totals(m);
	memset(&k, 0, sizeof(k));
	assert_int_equal(qbk_manifest_foreach_chunk(m, count_chunks, &k), 0);
	assert_int_equal(k.n, 5 + 1 + 2);
	free(to_text(m));
	qbk_manifest_free(m);
}

/* ---- malformed manifests ---- */

/* Find the parent of the dotted ${path} in ${root}; *last = last part. */
static json_t *
walk(json_t *root, const char *path, char *last, size_t size)
{
	char buf[256], *part, *next, *save = NULL;
	json_t *cur = root;

	snprintf(buf, sizeof(buf), "%s", path);
	part = strtok_r(buf, ".", &save);
	while ((next = strtok_r(NULL, ".", &save)) != NULL) {
		if (json_is_array(cur))
			cur = json_array_get(cur, strtoul(part, NULL, 10));
		else
			cur = json_object_get(cur, part);
		assert_non_null(cur);
		part = next;
	}
	snprintf(last, size, "%s", part);
	return cur;
}

/* Set (or with value NULL delete) ${path} in the JSON ${text}. */
static char *
mutate(const char *text, const char *path, const char *value)
{
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_ALLOW_NUL, &jerr), *parent;
	json_t *v = NULL;
	char last[128], *out;

	assert_non_null(root);
	parent = walk(root, path, last, sizeof(last));
	if (value != NULL) {
		v = json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
		if (v == NULL)
			fail_msg("bad test value %s: %s", value, jerr.text);
	}
	if (json_is_array(parent)) {
		size_t i = strtoul(last, NULL, 10);

		if (v == NULL)
			json_array_remove(parent, i);
		else if (i >= json_array_size(parent))
			json_array_append_new(parent, v);
		else
			json_array_set_new(parent, i, v);
	} else if (v == NULL) {
		assert_int_equal(json_object_del(parent, last), 0);
	} else {
		json_object_set_new(parent, last, v);
	}
	out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return out;
}

static void
assert_rejected(const char *text, const char *want)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest *m = (struct qbk_manifest *)&err;

	if (qbk_manifest_from_json(text, strlen(text), &m, &err) == 0)
		fail_msg("accepted a manifest that should fail with '%s'",
		    want);
	assert_null(m);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_int_equal(qbk_err_exit_code(&err), 3);
	if (strstr(err.msg, want) == NULL)
		fail_msg("message '%s' does not contain '%s'", err.msg, want);
}

static const struct variant {
	const char *path;
	const char *value;	/* JSON text; NULL deletes */
	const char *want;
} variants[] = {
	{ "format", "2", "field 'format': version 2 is not supported" },
	{ "format", "\"1\"", "field 'format': expected an integer" },
	{ "format", NULL, "field 'format': missing" },
	{ "backup_id", NULL, "field 'backup_id': missing" },
	{ "backup_id", "\"2026-11-21\"", "field 'backup_id': expected an id" },
	{ "backup_id", "\"20261121T221500Z-3F9A\"", "expected an id" },
	{ "backup_id", "\"20261321T221500Z-3f9a\"", "expected an id" },
	{ "type", "\"differential\"",
	    "field 'type': unknown value 'differential'" },
	{ "type", "0", "field 'type': expected a string" },
	{ "kind", "null", "field 'kind': expected a string" },
	{ "start", "\"2026-02-30T00:00:00Z\"",
	    "field 'start': expected a UTC time" },
	{ "start", "\"2026-11-21 22:15:00Z\"", "expected a UTC time" },
	{ "start", "\"2026-11-21T22:15:60Z\"", "expected a UTC time" },
	{ "start", "1795299300", "field 'start': expected a string" },
	{ "end", "\"1970-01-01T00:00:00Z\"",
	    "field 'end': earlier than start" },
	{ "host", "42", "field 'host': expected a string" },
	{ "host", "\"\"", "field 'host': expected 1..255 bytes, not 0" },
	{ "host", "\"a\\nb\"", "field 'host': contains a control character" },
	{ "host", "\"a\\u0000b\"", "invalid manifest: " },
	{ "tool_version", "[]", "field 'tool_version': expected a string" },
	{ "qdrant_versions", "{}",
	    "field 'qdrant_versions': expected an array" },
	{ "qdrant_versions.0", "1",
	    "field 'qdrant_versions[0]': expected a string" },
	{ "sources.1", "\"\"", "field 'sources[1]': expected 1..4096 bytes" },
	{ "tags", "[]", "field 'tags': expected an object" },
	{ "tags.bad key", "\"v\"", "field 'tags.bad key': tag keys are" },
	{ "tags.a=b", "\"v\"", "field 'tags.a=b': tag keys are" },
	{ "tags.env", "5", "field 'tags.env': expected a string" },
	{ "aliases.x", "\"\"", "field 'aliases.x': expected 1..255 bytes" },
	{ "extra", "1", "field 'extra': unknown field" },
	{ "collections", "{}", "field 'collections': expected an array" },
	{ "collections.0", "[]", "field 'collections[0]': expected an object" },
	{ "collections.0.name", NULL, "field 'collections[0].name': missing" },
	{ "collections.1.name", "\"products_v2\"",
	    "field 'collections': collection 'products_v2' appears twice" },
	{ "collections.0.config", "[]",
	    "field 'collections[0].config': expected an object" },
	{ "collections.0.vectors", NULL,
	    "field 'collections[0].vectors': missing" },
	{ "collections.0.points_count", "-1", "field 'collections[0]."
	    "points_count': expected an integer in 0..9223372036854775807, "
	    "not -1" },
	{ "collections.0.points_count", "1.5",
	    "field 'collections[0].points_count': expected an integer" },
	{ "collections.0.aliases.0", "7",
	    "field 'collections[0].aliases[0]': expected a string" },
	{ "collections.0.sample.0.id", "\"01\"",
	    "field 'collections[0].sample[0].id': expected a decimal point "
	    "id or a lowercase hyphenated UUID" },
	{ "collections.0.sample.0.id", "\"18446744073709551616\"",
	    "expected a decimal point id" },
	{ "collections.0.sample.0.id", "42", "field 'collections[0].sample[0]"
	    ".id': expected a string" },
	{ "collections.0.sample.1.id",
	    "\"5C56C793-69F3-4FBF-87E6-C4BF54C28C26\"",
	    "expected a decimal point id" },
	{ "collections.0.sample.0.hash", "\"zz\"", "field 'collections[0]."
	    "sample[0].hash': expected 64 lowercase hex digits" },
	{ "collections.0.sample.0.extra", "1",
	    "field 'collections[0].sample[0].extra': unknown field" },
	{ "selection", "\"some\"", "field 'selection': unknown value "
	    "'some'" },
	{ "collections.0.points_count_after", "\"9\"", "field "
	    "'collections[0].points_count_after': expected an integer" },
	{ "collections.0.content", "5", "field 'collections[0].content': "
	    "expected an array" },
	{ "collections.0.content", "[]", "field 'collections[0].content': "
	    "expected 64 buckets" },
	{ "collections.0.content.0.hash", "\"zz\"", "field 'collections[0]."
	    "content[0].hash': expected 64 lowercase hex digits" },
	{ "collections.0.content.1.points", "-1", "field 'collections[0]."
	    "content[1].points': expected an integer in "
	    "0..9223372036854775807" },
	{ "collections.0.content.0.extra", "1", "field 'collections[0]."
	    "content[0].extra': unknown field" },
	{ "collections.0.content.3", "7", "field 'collections[0].content[3]':"
	    " expected an object" },
	{ "collections.0.content.4.hash", NULL, "field 'collections[0]."
	    "content[4].hash': missing" },
	{ "collections.0.snapshots.0.kind", "\"full\"",
	    "field 'collections[0].snapshots[0].kind': a full-storage "
	    "snapshot belongs to the top-level snapshot list" },
	{ "collections.0.snapshots.0.kind", "\"shards\"",
	    "unknown value 'shards'" },
	{ "collections.0.snapshots.0.shard_id", "-1",
	    "field 'collections[0].snapshots[0].shard_id': expected an integer "
	    "in 0..4294967295, not -1" },
	{ "collections.0.snapshots.0.shard_id", "4294967296",
	    "expected an integer in 0..4294967295" },
	{ "collections.1.snapshots.0.shard_id", "3",
	    "field 'collections[1].snapshots[0].shard_id': expected an integer "
	    "in -1..-1, not 3" },
	{ "collections.0.snapshots.0.peer_id", "5",
	    "field 'collections[0].snapshots[0].peer_id': expected a string" },
	{ "collections.0.snapshots.0.peer_id", "\"18446744073709551616\"",
	    "expected a decimal number 0..18446744073709551615 as a string" },
	{ "collections.0.snapshots.0.peer_id", "\"-1\"",
	    "expected a decimal number" },
	{ "collections.0.snapshots.0.peer_id", "\"\"",
	    "expected a decimal number" },
	{ "collections.0.snapshots.0.name", "\"\"", "field 'collections[0]."
	    "snapshots[0].name': expected 1..255 bytes" },
	{ "collections.0.snapshots.0.sha256", "\"9F86D081884C7D659A2FEAA0C55AD"
	    "015A3BF4F1B2B0B822CD15D6C15B0F00A08\"", "field 'collections[0]."
	    "snapshots[0].sha256': expected 64 lowercase hex digits" },
	{ "collections.0.snapshots.0.sha256", "\"9f86\"",
	    "expected 64 lowercase hex digits" },
	{ "collections.0.snapshots.0.end", "\"2026-11-21T22:15:00Z\"",
	    "field 'collections[0].snapshots[0].end': earlier than start" },
	{ "collections.0.snapshots.0.duration_ms", "\"8\"",
	    "field 'collections[0].snapshots[0].duration_ms': expected an "
	    "integer" },
	{ "collections.0.snapshots.0.chunks.5", "\"xyz\"",
	    "field 'collections[0].snapshots[0].chunks[5]': expected "
	    "\"<64 lowercase hex>:<length>\"" },
	{ "collections.0.snapshots.0.chunks.5", "7",
	    "field 'collections[0].snapshots[0].chunks[5]': expected a "
	    "string" },
	{ "collections.0.snapshots.1.chunks.0", "\"0000000000000000000000000000"
	    "000000000000000000000000000000000000:0\"",
	    "chunk length must be 1..1073741824" },
	{ "collections.0.snapshots.1.chunks.0", "\"0000000000000000000000000000"
	    "000000000000000000000000000000000000:065536\"",
	    "without leading zeros" },
	{ "collections.0.snapshots.1.chunks.0", "\"0000000000000000000000000000"
	    "000000000000000000000000000000000000:1073741825\"",
	    "chunk length must be 1..1073741824" },
	{ "collections.0.snapshots.1.chunks.0", "\"0000000000000000000000000000"
	    "000000000000000000000000000000000000:12a\"",
	    "expected \"<64 lowercase hex>:<length>\"" },
	{ "collections.0.snapshots.1.chunks.0", "\"000000000000000000000000000A"
	    "000000000000000000000000000000000000:65536\"",
	    "expected \"<64 lowercase hex>:<length>\"" },
	{ "collections.0.snapshots.1.chunks.0", "\"0000000000000000000000000000"
	    "000000000000000000000000000000000000;65536\"",
	    "expected \"<64 lowercase hex>:<length>\"" },
	{ "collections.0.snapshots.0.chunks.1000",
	    "\"00000000000000000000000000000000000000000000000000000000000000"
	    "00:7\"", "field 'collections[0].snapshots[0].size': " },
	{ "collections.0.snapshots.0.size", "1", "field 'collections[0]."
	    "snapshots[0].size': 1 is not the sum of the chunk lengths" },
	{ "collections.0.snapshots.0.bytes_new", "999999999999",
	    "field 'collections[0].snapshots[0].bytes_new': larger than "
	    "bytes" },
	{ "collections.0.snapshots.0.chunks_new", "1001",
	    "field 'collections[0].snapshots[0].chunks_new': larger than the "
	    "number of chunks" },
	{ "collections.0.snapshots.0.entries.0.type", "\"fifo\"",
	    "field 'collections[0].snapshots[0].entries[0].type': unknown "
	    "value 'fifo'" },
	{ "collections.0.snapshots.0.entries.0.path", "\"\"",
	    "field 'collections[0].snapshots[0].entries[0].path': expected "
	    "1..4096 bytes, not 0" },
	{ "collections.0.snapshots.0.entries.0.size", "null",
	    "entries[0].size': expected an integer" },
	{ "collections.0.snapshots.0.entries", "{}",
	    "field 'collections[0].snapshots[0].entries': expected an array" },
	{ "collections.0.snapshots.0.node_url", NULL,
	    "field 'collections[0].snapshots[0].node_url': missing" },
	{ "collections.0.snapshots.0.x", "1",
	    "field 'collections[0].snapshots[0].x': unknown field" },
	{ "snapshots.0", "{}", "field 'snapshots[0].kind': missing" },
	{ "missing_shards.0.shard_id", "4294967296",
	    "field 'missing_shards[0].shard_id': expected an integer in "
	    "0..4294967295" },
	{ "missing_shards.0.reason", "false",
	    "field 'missing_shards[0].reason': expected a string" },
	{ "missing_shards.0", "\"logs/3\"",
	    "field 'missing_shards[0]': expected an object" },
	{ "unreachable_peers.0.peer_id", "7",
	    "field 'unreachable_peers[0].peer_id': expected a string" },
	{ "unreachable_peers.1.url", NULL,
	    "field 'unreachable_peers[1].url': missing" },
	{ "unreachable_peers.0.reason", "1",
	    "field 'unreachable_peers[0].reason': expected a string" },
	{ "unreachable_peers.0.port", "1",
	    "field 'unreachable_peers[0].port': unknown field" },
	{ "unreachable_peers", "[]",
	    "field 'unreachable_peers': left out when empty" },
	{ "unreachable_peers", "{}",
	    "field 'unreachable_peers': expected an array" },
	{ "totals.chunks", "5", "field 'totals.chunks': 5 is not the sum over "
	    "the snapshots (1018)" },
	{ "totals.bytes_new", "0", "field 'totals.bytes_new': 0 is not the "
	    "sum" },
	{ "totals.snapshots", "2", "field 'totals.snapshots'" },
	{ "totals.extra", "0", "field 'totals.extra': unknown field" },
	{ "totals", NULL, "field 'totals': missing" },
};

static void
malformed_variants(void **state)
{
	char *good, *bad;
	size_t i;

	(void)state;
	{
		struct qbk_manifest *m = rich_manifest();

		good = to_text(m);
		qbk_manifest_free(m);
	}
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		bad = mutate(good, variants[i].path, variants[i].value);
		assert_rejected(bad, variants[i].want);
		free(bad);
	}
	free(good);
}

static void
malformed_documents(void **state)
{
	struct qbk_manifest *m = rich_manifest();
	struct qbk_manifest_snapshot *s;
	struct qbk_buf b = QBK_BUF_INIT;
	char *good, *bad, *p;
	size_t i;

	(void)state;
	assert_rejected("", "invalid manifest: ");
	assert_rejected("{", "invalid manifest: ");
	assert_rejected("[]", "invalid manifest: expected a JSON object");
	assert_rejected("{\"format\":1,\"format\":1}", "duplicate");
	assert_rejected("{\"format\":1} x", "invalid manifest: end of file "
	    "expected");
	assert_rejected("\xff\xfe{}", "invalid manifest: ");
	assert_rejected("{\"format\":1}", "field 'backup_id': missing");

	/* Integers beyond JSON's int64 are refused by the JSON reader. */
	good = to_text(m);
	p = strstr(good, "\"points_count\":1000000");
	assert_non_null(p);
	qbk_buf_add(&b, good, (size_t)(p - good));
	qbk_buf_addstr(&b, "\"points_count\":9223372036854775808");
	qbk_buf_addstr(&b, p + strlen("\"points_count\":1000000"));
	assert_rejected(b.buf, "invalid manifest: too big integer");
	qbk_buf_reset(&b);
	free(good);

	/* A sum over the snapshots that overflows 64 bits is caught even
	 * when the totals are set to the wrapped value. */
	s = qbk_manifest_add_snapshot(m, m->collections[1],
	    QBK_MANIFEST_SNAP_COLLECTION);
	fill_snapshot(s, 5, 1, sha_a);
	qbk_manifest_compute_totals(m);
	good = to_text(m);
	bad = mutate(good, "collections.0.snapshots.0.bytes",
	    "9223372036854775807");
	p = mutate(bad, "collections.0.snapshots.1.bytes",
	    "9223372036854775807");
	free(bad);
	bad = mutate(p, "collections.1.snapshots.0.bytes",
	    "9223372036854775807");
	free(p);
	p = mutate(bad, "collections.1.snapshots.1.bytes",
	    "9223372036854775807");
	free(bad);
	assert_rejected(p, "field 'totals': a sum over the snapshots "
	    "overflows");
	free(p);

	/* Too many elements. */
	qbk_buf_addstr(&b, "[");
	for (i = 0; i <= QBK_MANIFEST_MAX_LIST; i++)
		qbk_buf_addf(&b, "%s\"1.0\"", i > 0 ? "," : "");
	qbk_buf_addstr(&b, "]");
	bad = mutate(good, "qdrant_versions", b.buf);
	assert_rejected(bad, "field 'qdrant_versions': more than 4096 "
	    "elements");
	free(bad);
	qbk_buf_reset(&b);
	qbk_buf_addstr(&b, "{");
	for (i = 0; i <= QBK_MANIFEST_MAX_LIST; i++)
		qbk_buf_addf(&b, "%s\"k%zu\":\"v\"", i > 0 ? "," : "", i);
	qbk_buf_addstr(&b, "}");
	bad = mutate(good, "tags", b.buf);
	assert_rejected(bad, "field 'tags': more than 4096 fields");
	free(bad);
	qbk_buf_reset(&b);
	qbk_buf_addstr(&b, "[");
	for (i = 0; i <= QBK_MANIFEST_MAX_SAMPLES; i++)
		qbk_buf_addf(&b, "%s{\"id\":\"%zu\",\"hash\":\"%s\"}",
		    i > 0 ? "," : "", i, sha_a);
	qbk_buf_addstr(&b, "]");
	bad = mutate(good, "collections.0.sample", b.buf);
	assert_rejected(bad, "field 'collections[0].sample': more than 65536 "
	    "elements");
	free(bad);
	qbk_buf_reset(&b);
	qbk_buf_addstr(&b, "\"");
	for (i = 0; i <= QBK_MANIFEST_MAX_STR; i++)
		qbk_buf_addch(&b, 'x');
	qbk_buf_addstr(&b, "\"");
	bad = mutate(good, "sources.0", b.buf);
	assert_rejected(bad, "field 'sources[0]': expected 1..4096 bytes, "
	    "not 4097");
	free(bad);
	qbk_buf_release(&b);
	free(good);
	qbk_manifest_free(m);
}

static void
writer_refuses_bad_manifests(void **state)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_manifest *m;
	struct qbk_manifest_snapshot *s;
	json_t *j;

	(void)state;
	qbk_buf_addstr(&b, "keep");
	m = qbk_manifest_new();
	assert_int_equal(qbk_manifest_to_json(m, &b, &err), -1);
	assert_int_equal(err.code, QBK_E_INTERNAL);
	assert_non_null(strstr(err.msg, "cannot write manifest: invalid "
	    "manifest field 'backup_id'"));
	assert_string_equal(b.buf, "keep");
	qbk_manifest_free(m);

	m = rich_manifest();
	qbk_manifest_strset(&m->host, NULL);
	assert_int_equal(qbk_manifest_to_json(m, &b, &err), -1);
	assert_non_null(strstr(err.msg, "field 'host': expected a string"));
	qbk_manifest_strset(&m->host, "h");
	m->collections[0]->points_count = (uint64_t)INT64_MAX + 1;
	assert_int_equal(qbk_manifest_to_json(m, &b, &err), -1);
	assert_non_null(strstr(err.msg, "points_count"));
	m->collections[0]->points_count = 1;
	/* A chunk added without updating the totals. */
	s = m->collections[1]->snapshots[0];
	qbk_manifest_snapshot_add_chunk(s, s->chunks[0].id, 10);
	assert_int_equal(qbk_manifest_to_json(m, &b, &err), -1);
	assert_non_null(strstr(err.msg, "field 'totals"));
	qbk_manifest_compute_totals(m);
	s->size++;
	assert_int_equal(qbk_manifest_to_json(m, &b, &err), -1);
	assert_non_null(strstr(err.msg, "is not the sum of the chunk"));
	s->size--;
	/* Tags with the same key twice. */
	qbk_manifest_add_tag(m, "env", "dev");
	assert_int_equal(qbk_manifest_to_json(m, &b, &err), -1);
	assert_non_null(strstr(err.msg, "tags"));
	m->n_tags--;
	free(m->tags[m->n_tags].key);
	free(m->tags[m->n_tags].value);
	/* A config that is not an object, and invalid UTF-8. */
	j = json_array();
	qbk_manifest_collection_set_config(m->collections[1], j);
	json_decref(j);
	assert_int_equal(qbk_manifest_to_json(m, &b, &err), -1);
	assert_non_null(strstr(err.msg, "collections[1].config"));
	qbk_manifest_collection_set_config(m->collections[1], NULL);
	assert_int_equal(qbk_manifest_to_json(m, &b, &err), -1);
	j = json_object();
	qbk_manifest_collection_set_config(m->collections[1], j);
	json_decref(j);
	qbk_manifest_strset(&m->tool_version, "qbk \xff");
	assert_int_equal(qbk_manifest_to_json(m, &b, &err), -1);
	assert_non_null(strstr(err.msg, "tool_version"));
	qbk_manifest_strset(&m->tool_version, "qbk 0.1.0");
	assert_int_equal(qbk_manifest_to_json(m, &b, &err), 0);
	assert_int_equal(strncmp(b.buf, "keep{\"format\":1,\"backup_id\":", 28),
	    0);
	qbk_manifest_free(m);
	qbk_buf_release(&b);
}

static void
times_and_ids(void **state)
{
	char buf[QBK_TIME_LEN + 1], id[QBK_MANIFEST_ID_LEN + 1];
	char id2[QBK_MANIFEST_ID_LEN + 1];
	int64_t t;
	int i, differ = 0;

	(void)state;
	assert_int_equal(qbk_time_format(T0, buf), 0);
	assert_string_equal(buf, "2026-11-21T22:15:00Z");
	assert_int_equal(qbk_time_parse(buf, &t), 0);
	assert_int_equal(t, T0);
	assert_int_equal(qbk_time_parse("2024-02-29T12:00:00Z", &t),
	    0);
	assert_int_equal(t, 1709208000);
	assert_int_equal(qbk_time_parse("2000-03-01T00:00:00Z", &t),
	    0);
	assert_int_equal(t, 951868800);
	assert_int_equal(qbk_time_parse("1970-01-01T00:00:00Z", &t),
	    0);
	assert_int_equal(t, 0);
	assert_int_equal(qbk_time_parse("9999-12-31T23:59:59Z", &t),
	    0);
	assert_int_equal(t, INT64_C(253402300799));
	assert_int_equal(qbk_time_format(t, buf), 0);
	assert_string_equal(buf, "9999-12-31T23:59:59Z");
	assert_int_equal(qbk_time_format(t + 1, buf), -1);
	assert_string_equal(buf, "");
	assert_int_equal(qbk_time_format(-1, buf), -1);
	assert_int_equal(qbk_time_parse("2023-02-29T12:00:00Z", &t),
	    -1);
	assert_int_equal(qbk_time_parse("1900-02-28T12:00:00Z", &t),
	    -1);
	assert_int_equal(qbk_time_parse("2026-11-21T24:00:00Z", &t),
	    -1);
	assert_int_equal(qbk_time_parse("2026-11-21T22:15:00", &t),
	    -1);
	assert_int_equal(qbk_time_parse("2026-11-21T22:15:00+00:00",
	    &t), -1);
	assert_int_equal(qbk_time_parse("+026-11-21T22:15:00Z", &t),
	    -1);
	assert_int_equal(qbk_time_parse("2026-1a-21T22:15:00Z", &t),
	    -1);
	/* Every day of a leap year round trips. */
	for (i = 0; i < 366; i++) {
		int64_t day = INT64_C(1704067200) + (int64_t)i * 86400 + 3599;

		assert_int_equal(qbk_time_format(day, buf), 0);
		assert_int_equal(qbk_time_parse(buf, &t), 0);
		assert_int_equal(t, day);
	}

	assert_int_equal(qbk_manifest_make_id(T0, id), 0);
	assert_int_equal(strlen(id), QBK_MANIFEST_ID_LEN);
	assert_int_equal(strncmp(id, "20261121T221500Z-", 17), 0);
	assert_true(qbk_manifest_id_valid(id));
	assert_int_equal(qbk_manifest_id_time(id, &t), 0);
	assert_int_equal(t, T0);
	for (i = 0; i < 20; i++) {
		assert_int_equal(qbk_manifest_make_id(T0, id2), 0);
		differ |= strcmp(id, id2) != 0;
	}
	assert_true(differ);
	/* Ids sort by time. */
	assert_int_equal(qbk_manifest_make_id(T0 + 1, id2), 0);
	assert_true(strcmp(id, id2) < 0);
	assert_int_equal(qbk_manifest_make_id(-5, id2), -1);
	assert_false(qbk_manifest_id_valid("20261121T221500Z-3f9"));
	assert_false(qbk_manifest_id_valid("20261121T221500Z-3f9g"));
	assert_false(qbk_manifest_id_valid("20261121t221500Z-3f9a"));
	assert_false(qbk_manifest_id_valid("20261121T221500Z_3f9a"));
	assert_false(qbk_manifest_id_valid("20261131T221500Z-3f9a"));
	assert_false(qbk_manifest_id_valid("20261121T221500Z-3f9a0"));
	assert_true(qbk_manifest_id_valid("20261121T221500Z-3f9a"));
}

static struct qbk_manifest_drill *
rich_drill(void)
{
	struct qbk_manifest_drill *d = qbk_manifest_drill_new();

	assert_int_equal(qbk_manifest_make_id(T0 + 3600, d->drill_id), 0);
	assert_int_equal(qbk_manifest_make_id(T0, d->backup_id), 0);
	qbk_manifest_strset(&d->level, "full");
	qbk_manifest_strset(&d->scenario, "collection");
	qbk_manifest_strset(&d->host, "drill-runner");
	qbk_manifest_strset(&d->tool_version, "qbk 0.1.0");
	d->start = T0 + 3600;
	d->end = T0 + 3700;
	qbk_manifest_drill_add_phase(d, "download", 30000);
	qbk_manifest_drill_add_phase(d, "restore", 60000);
	qbk_manifest_drill_add_phase(d, "validate", 5000);
	qbk_manifest_drill_add_phase(d, "cleanup", 0);
	d->pass = 0;
	d->rto_ms = 95000;
	d->rto_target_ms = 60000;
	d->green_ms = 400000;
	qbk_manifest_drill_add_problem(d, "RTO 95s exceeds the target 60s");
	qbk_manifest_drill_add_problem(d, "collection 'c1': point 42 differs");
	qbk_manifest_drill_add_drilled(d, "c1", d->backup_id);
	qbk_manifest_drill_add_drilled(d, "logs", "20261120T010000Z-0a0b");
	return d;
}

static void
drill_round_trip(void **state)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b1 = QBK_BUF_INIT, b2 = QBK_BUF_INIT;
	struct qbk_manifest_drill *d = rich_drill(), *p;

	(void)state;
	assert_int_equal(qbk_manifest_drill_to_json(d, &b1, &err), 0);
	assert_int_equal(qbk_manifest_drill_from_json(b1.buf, b1.len, &p,
	    &err), 0);
	assert_int_equal(qbk_manifest_drill_to_json(p, &b2, &err), 0);
	assert_string_equal(b1.buf, b2.buf);
	assert_non_null(strstr(b1.buf, "\"phases\":{\"download\":30000,"
	    "\"restore\":60000,\"validate\":5000,\"cleanup\":0},"
	    "\"result\":\"fail\",\"rto_ms\":95000,\"rto_target_ms\":60000,"));
	assert_string_equal(p->drill_id, d->drill_id);
	assert_string_equal(p->backup_id, d->backup_id);
	assert_string_equal(p->level, "full");
	assert_int_equal(p->n_phases, 4);
	assert_string_equal(p->phases[1].name, "restore");
	assert_int_equal(p->phases[1].ms, 60000);
	assert_int_equal(p->pass, 0);
	assert_int_equal(p->green_ms, 400000);
	assert_int_equal(p->n_problems, 2);
	assert_string_equal(p->problems[1],
	    "collection 'c1': point 42 differs");
	assert_int_equal(p->n_drilled, 2);
	assert_string_equal(p->drilled[0].name, "c1");
	assert_string_equal(p->drilled[0].backup_id, d->backup_id);
	assert_string_equal(p->drilled[1].backup_id, "20261120T010000Z-0a0b");
	qbk_manifest_drill_free(p);
	qbk_manifest_drill_free(NULL);

	/* Records written before drills named their backups per collection
	 * parse, with none. */
	{
		char *old = mutate(b1.buf, "collections", NULL);

		assert_int_equal(qbk_manifest_drill_from_json(old,
		    strlen(old), &p, &err), 0);
		assert_int_equal(p->n_drilled, 0);
		qbk_manifest_drill_free(p);
		free(old);
	}

	/* Records written before green_ms parse as "unknown" and are
	 * written back without it; null (not green within the wait) stays
	 * null. */
	{
		char *old = mutate(b1.buf, "green_ms", NULL);
		char *notyet = mutate(b1.buf, "green_ms", "null");
		struct qbk_buf b3 = QBK_BUF_INIT;

		assert_int_equal(qbk_manifest_drill_from_json(old,
		    strlen(old), &p, &err), 0);
		assert_int_equal(p->green_ms, QBK_MANIFEST_GREEN_UNKNOWN);
		assert_int_equal(qbk_manifest_drill_to_json(p, &b3, &err), 0);
		assert_null(strstr(b3.buf, "green_ms"));
		qbk_manifest_drill_free(p);
		assert_int_equal(qbk_manifest_drill_from_json(notyet,
		    strlen(notyet), &p, &err), 0);
		assert_int_equal(p->green_ms, QBK_MANIFEST_GREEN_NOT_YET);
		qbk_buf_reset(&b3);
		assert_int_equal(qbk_manifest_drill_to_json(p, &b3, &err), 0);
		assert_non_null(strstr(b3.buf, "\"green_ms\":null"));
		qbk_manifest_drill_free(p);
		qbk_buf_release(&b3);
		free(old);
		free(notyet);
	}

	/* Malformed drill records. */
	{
		static const struct variant dv[] = {
			{ "result", "\"maybe\"", "invalid drill record field "
			    "'result': unknown value 'maybe'" },
			{ "drill_id", "\"x\"", "field 'drill_id': expected an "
			    "id" },
			{ "level", "\"full level\"", "field 'level': expected "
			    "letters, digits" },
			{ "phases.bad name", "1", "field 'phases.bad name': "
			    "phase names are" },
			{ "phases.restore", "-5", "field 'phases.restore': "
			    "expected an integer in 0.." },
			{ "rto_ms", "-1",
			    "field 'rto_ms': expected an integer" },
			{ "green_ms", "-1",
			    "field 'green_ms': expected an integer" },
			{ "problems.0", "{}", "field 'problems[0]': expected a "
			    "string" },
			{ "problems.0", "\"\"", "field 'problems[0]': expected "
			    "1..4096 bytes" },
			{ "end", "\"2026-11-21T22:15:00Z\"", "field 'end': "
			    "earlier than start" },
			{ "format", "3", "field 'format': version 3 is not "
			    "supported" },
			{ "extra", "1", "field 'extra': unknown field" },
			{ "scenario", NULL, "field 'scenario': missing" },
			{ "collections.1.backup_id", "\"latest\"", "field "
			    "'collections[1].backup_id': expected an id" },
			{ "collections.0.name", NULL, "field "
			    "'collections[0].name': missing" },
			{ "collections", "{}", "field 'collections': "
			    "expected an array" },
		};
		size_t i;

		for (i = 0; i < sizeof(dv) / sizeof(dv[0]); i++) {
			char *bad = mutate(b1.buf, dv[i].path, dv[i].value);

			assert_int_equal(qbk_manifest_drill_from_json(bad,
			    strlen(bad), &p, &err), -1);
			assert_null(p);
			assert_int_equal(err.code, QBK_E_INTEGRITY);
			if (strstr(err.msg, dv[i].want) == NULL)
				fail_msg("'%s' lacks '%s'", err.msg,
				    dv[i].want);
			free(bad);
		}
	}
	/* The writer refuses an invalid record and keeps ${out}. */
	qbk_buf_reset(&b2);
	qbk_manifest_drill_add_phase(d, "restore", 1);
	assert_int_equal(qbk_manifest_drill_to_json(d, &b2, &err), -1);
	assert_int_equal(err.code, QBK_E_INTERNAL);
	assert_int_equal(b2.len, 0);
	qbk_manifest_drill_free(d);
	qbk_buf_release(&b1);
	qbk_buf_release(&b2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(content_hash_optional),
		cmocka_unit_test(full_storage_round_trip),
		cmocka_unit_test(cluster_round_trip),
		cmocka_unit_test(chunk_iteration),
		cmocka_unit_test(malformed_variants),
		cmocka_unit_test(malformed_documents),
		cmocka_unit_test(writer_refuses_bad_manifests),
		cmocka_unit_test(times_and_ids),
		cmocka_unit_test(drill_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
