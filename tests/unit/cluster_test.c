#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/qbk_err.h"
#include "qdrant/qbk_cluster.h"

/* rest(uri, base): qbk_cluster_rest_url() into a static buffer, or "-". */
static const char *
rest(const char *uri, const char *base)
{
	static char out[128];

	if (qbk_cluster_rest_url(uri, base, out, sizeof(out)) != 0)
		return "-";
	return out;
}

static void
rest_url_mapping(void **state)
{
	char small[8];

	(void)state;
	/* Qdrant's defaults: p2p 6335 -> REST 6333. */
	assert_string_equal(rest("http://10.0.0.2:6335/", NULL),
	    "http://10.0.0.2:6333");
	assert_string_equal(rest("https://qdrant-1.svc:6335", NULL),
	    "https://qdrant-1.svc:6333");
	/* No port: Qdrant's default p2p port. */
	assert_string_equal(rest("http://node7/", NULL), "http://node7:6333");
	assert_string_equal(rest("http://[fd00::2]:6335/", NULL),
	    "http://[fd00::2]:6333");
	/* Another p2p port keeps the same offset. */
	assert_string_equal(rest("http://h:7002/", NULL), "http://h:7000");
	/* The scheme is the one of the URL qbk was given: TLS on the REST
	 * port behind a plain p2p port, and the other way round. */
	assert_string_equal(rest("http://10.0.0.2:6335/",
	    "https://qdrant.example:6333"), "https://10.0.0.2:6333");
	assert_string_equal(rest("https://10.0.0.2:6335/",
	    "http://127.0.0.1:6333/"), "http://10.0.0.2:6333");
	/* A base that is no http(s) URL: the p2p URI's scheme. */
	assert_string_equal(rest("https://h:6335/", "h:6333"),
	    "https://h:6333");
	/* Refused. */
	assert_string_equal(rest("grpc://h:6335", NULL), "-");
	assert_string_equal(rest("http://:6335", "https://x"), "-");
	assert_string_equal(rest("http://h:x/", NULL), "-");
	assert_string_equal(rest("http://h:70000/", NULL), "-");
	assert_string_equal(rest("http://h:2/", NULL), "-");
	assert_int_equal(qbk_cluster_rest_url("http://h:6335/", NULL, small,
	    sizeof(small)), -1);
}

/* A layout of ${n} shards, replica r of shard s on peer ((s + r) % np) + 1,
 * every replica Active. */
static struct qbk_cluster_layout *
make_layout(uint32_t n, size_t rf, uint64_t np)
{
	struct qbk_cluster_layout *l = calloc(1, sizeof(*l));
	uint32_t s;
	size_t r;

	l->shard_count = n;
	l->nshards = n;
	l->shards = calloc(n, sizeof(*l->shards));
	for (s = 0; s < n; s++) {
		l->shards[s].id = s;
		l->shards[s].nreplicas = rf;
		l->shards[s].replicas = calloc(rf,
		    sizeof(*l->shards[s].replicas));
		for (r = 0; r < rf; r++) {
			l->shards[s].replicas[r].peer_id = (s + r) % np + 1;
			strcpy(l->shards[s].replicas[r].state, "Active");
			l->shards[s].replicas[r].points_count = 10;
		}
	}
	return l;
}

static void
pick_balances_and_skips(void **state)
{
	struct qbk_cluster_layout *l = make_layout(6, 2, 3);
	uint64_t pick[6], load[4] = { 0 }, usable[2] = { 1, 3 }, order[1] =
	    { 3 };
	size_t i;

	(void)state;
	/* Every shard from one of its replicas, two per peer. */
	assert_int_equal(qbk_cluster_pick(l, 0, NULL, 0, NULL, 0, pick), 0);
	for (i = 0; i < 6; i++) {
		assert_true(pick[i] == l->shards[i].replicas[0].peer_id ||
		    pick[i] == l->shards[i].replicas[1].peer_id);
		load[pick[i]]++;
	}
	assert_int_equal(load[1], 2);
	assert_int_equal(load[2], 2);
	assert_int_equal(load[3], 2);

	/* The configured order breaks ties: shard 0 (peers 1, 2) and shard 2
	 * (peers 3, 1) with peer 3 first. */
	assert_int_equal(qbk_cluster_pick(l, 0, NULL, 0, order, 1, pick), 0);
	assert_int_equal(pick[2], 3);

	/* Peer 2 unusable: its shards come from their other replica. */
	assert_int_equal(qbk_cluster_pick(l, 0, usable, 2, NULL, 0, pick), 0);
	for (i = 0; i < 6; i++)
		assert_true(pick[i] == 1 || pick[i] == 3);

	/* Both replicas of shard 0 (peers 1, 2) Dead: no pick for it, unless
	 * any state is fine (restore into a new collection). */
	strcpy(l->shards[0].replicas[0].state, "Dead");
	strcpy(l->shards[0].replicas[1].state, "Dead");
	assert_int_equal(qbk_cluster_pick(l, 0, NULL, 0, NULL, 0, pick), 1);
	assert_int_equal(pick[0], 0);
	assert_int_not_equal(pick[1], 0);
	assert_int_equal(qbk_cluster_pick(l, 1, NULL, 0, NULL, 0, pick), 0);
	assert_int_not_equal(pick[0], 0);
	qbk_cluster_layout_free(l);
}

static void
map_shards_by_key(void **state)
{
	/* A backup: auto shards 0 and 1, key "eu" on 3 and 2 (out of order),
	 * key 7 on 5, key "gone" on 6. */
	static const struct qbk_cluster_keyed from[] = { { 0, NULL },
	    { 1, NULL }, { 3, "\"eu\"" }, { 2, "\"eu\"" }, { 5, "7" },
	    { 6, "\"gone\"" } };
	/* The target: the keys created again with other ids. */
	static const struct qbk_cluster_keyed to[] = { { 0, NULL },
	    { 1, NULL }, { 12, "7" }, { 10, "\"eu\"" }, { 11, "\"eu\"" } };
	int64_t map[6];

	(void)state;
	assert_int_equal(qbk_cluster_map_shards(from, 6, to, 5, map), 1);
	assert_int_equal(map[0], 0);
	assert_int_equal(map[1], 1);
	/* Rank within the key: 2 is the first of "eu", 3 the second. */
	assert_int_equal(map[3], 10);
	assert_int_equal(map[2], 11);
	assert_int_equal(map[4], 12);
	assert_int_equal(map[5], -1);
	/* A key with fewer shards there: the extra one has no match. */
	assert_int_equal(qbk_cluster_map_shards(from + 2, 2, to + 2, 2, map),
	    1);
	assert_int_equal(map[1], 10);
	assert_int_equal(map[0], -1);
	/* Auto sharding: the same ids, none if the shard count shrank. */
	assert_int_equal(qbk_cluster_map_shards(from, 2, to, 1, map), 1);
	assert_int_equal(map[0], 0);
	assert_int_equal(map[1], -1);
}

/* What the jobs saw, checked by the main thread afterwards (cmocka's
 * asserts belong to the thread that runs the test). */
struct jobs {
	pthread_mutex_t mu;
	uint64_t node_of[12];
	int running[4];		/* per node */
	int max_running;	/* overall */
	int max_per_node;	/* most jobs of one node at once */
	int now;
	int done[12];
	size_t fail_at;
};

static int
job(void *cookie, size_t i, struct qbk_err *err)
{
	struct jobs *j = cookie;
	uint64_t n = j->node_of[i];

	pthread_mutex_lock(&j->mu);
	j->running[n]++;
	j->now++;
	if (j->now > j->max_running)
		j->max_running = j->now;
	if (j->running[n] > j->max_per_node)
		j->max_per_node = j->running[n];
	pthread_mutex_unlock(&j->mu);
	nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	pthread_mutex_lock(&j->mu);
	j->running[n]--;
	j->now--;
	j->done[i] = 1;
	pthread_mutex_unlock(&j->mu);
	if (i == j->fail_at)
		return qbk_err_set(err, QBK_E_NET, "job %zu failed", i);
	return 0;
}

static void
run_bounds_parallelism(void **state)
{
	struct jobs j;
	struct qbk_err err = QBK_ERR_INIT;
	size_t i, ndone = 0;

	(void)state;
	memset(&j, 0, sizeof(j));
	pthread_mutex_init(&j.mu, NULL);
	for (i = 0; i < 12; i++)
		j.node_of[i] = i % 3 + 1;
	j.fail_at = SIZE_MAX;
	assert_int_equal(qbk_cluster_run(12, j.node_of, 2, job, &j, NULL,
	    &err), 0);
	for (i = 0; i < 12; i++)
		assert_int_equal(j.done[i], 1);
	assert_int_equal(j.max_running, 2);
	assert_int_equal(j.max_per_node, 1);	/* one job per node */

	/* As many threads as nodes: all three nodes at once, never more. */
	memset(j.done, 0, sizeof(j.done));
	j.max_running = 0;
	j.max_per_node = 0;
	assert_int_equal(qbk_cluster_run(12, j.node_of, 8, job, &j, NULL,
	    &err), 0);
	assert_int_equal(j.max_running, 3);
	assert_int_equal(j.max_per_node, 1);

	/* Jobs of one node only: one at a time whatever the threads. */
	for (i = 0; i < 12; i++)
		j.node_of[i] = 2;
	memset(j.done, 0, sizeof(j.done));
	j.max_running = 0;
	j.max_per_node = 0;
	assert_int_equal(qbk_cluster_run(12, j.node_of, 8, job, &j, NULL,
	    &err), 0);
	assert_int_equal(j.max_running, 1);
	assert_int_equal(j.max_per_node, 1);
	for (i = 0; i < 12; i++) {
		assert_int_equal(j.done[i], 1);
		j.node_of[i] = i % 3 + 1;
	}

	/* A failure stops new jobs and is reported. */
	memset(j.done, 0, sizeof(j.done));
	j.fail_at = 1;
	assert_int_equal(qbk_cluster_run(12, j.node_of, 1, job, &j, NULL,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_NET);
	assert_string_equal(err.msg, "job 1 failed");
	for (i = 0; i < 12; i++)
		ndone += (size_t)j.done[i];
	assert_int_equal(ndone, 2);
	pthread_mutex_destroy(&j.mu);
}

static void
run_cancel(void **state)
{
	struct jobs j;
	struct qbk_err err = QBK_ERR_INIT;
	volatile sig_atomic_t cancel = 1;

	(void)state;
	memset(&j, 0, sizeof(j));
	pthread_mutex_init(&j.mu, NULL);
	j.fail_at = SIZE_MAX;
	assert_int_equal(qbk_cluster_run(3, j.node_of, 2, job, &j, &cancel,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_INTERRUPTED);
	assert_int_equal(j.done[0] + j.done[1] + j.done[2], 0);
	assert_int_equal(qbk_cluster_run(0, NULL, 2, job, &j, NULL, &err), 0);
	pthread_mutex_destroy(&j.mu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rest_url_mapping),
		cmocka_unit_test(pick_balances_and_skips),
		cmocka_unit_test(map_shards_by_key),
		cmocka_unit_test(run_bounds_parallelism),
		cmocka_unit_test(run_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
