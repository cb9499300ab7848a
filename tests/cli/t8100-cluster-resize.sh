#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'cluster backups restored onto clusters of other sizes; qbk-verify --live per shard'

R=$TEST_TMP/repo

# conf FILE: a configuration for the simulator started last (its nodes are
# listed: the simulator's p2p ports are not Qdrant's).
conf() {
	cat >"$1" <<EOF
[qdrant]
url = $SIM_URL
nodes = $SIM_URLS
replica_timeout = 20s
[repository]
location = $R
EOF
}

# peers_of COLLECTION: how many replicas the cluster holds of it.
replicas_of() {
	sim_api GET "/collections/$1/cluster" >"$TEST_TMP/cc" &&
	json_get "$TEST_TMP/cc" "len(d[\"result\"][\"local_shards\"] + d[\"result\"][\"remote_shards\"])"
}

test_expect_success 'back up a 3-node cluster' '
	sim_start --nodes 3 &&
	conf "$TEST_TMP/three.conf" &&
	sim_api POST /__sim/generate "{\"collection\":\"c\",\"points\":2000,\"dim\":16,\"shard_number\":6,\"replication_factor\":2}" >/dev/null &&
	sim_api POST /__sim/generate "{\"collection\":\"d\",\"points\":300,\"dim\":8,\"seed\":3,\"shard_number\":3,\"replication_factor\":3}" >/dev/null &&
	sim_api PUT /collections/d/index "{\"field_name\":\"category\",\"field_schema\":\"keyword\"}" >/dev/null &&
	sim_api PUT /collections/d/index "{\"field_name\":\"number\",\"field_schema\":{\"type\":\"integer\",\"range\":true,\"lookup\":false}}" >/dev/null &&
	sim_api GET /collections/d >"$TEST_TMP/d.info" &&
	json_get "$TEST_TMP/d.info" "sorted((k, v[\"data_type\"]) for k, v in d[\"result\"][\"payload_schema\"].items())" >"$TEST_TMP/d.schema" &&
	test_grep category "$TEST_TMP/d.schema" &&
	repo_init "$R" &&
	sim_points c >"$TEST_TMP/c.before" &&
	sim_points d >"$TEST_TMP/d.before" &&
	qbk-backup -c "$TEST_TMP/three.conf" --parallel 3 --json >"$TEST_TMP/b.json" &&
	B=$(json_get "$TEST_TMP/b.json" "d[\"backup_id\"]")
'

test_expect_exit 1 'without [qdrant] nodes the peers are not found on the simulator: the backup fails' '
	qbk-backup --url "$SIM_URL" --repo "$R" -c /dev/null --collection c
'

test_expect_success '... naming the shards, the peers and the URLs tried' '
	test_grep "shard 1 of collection .c. has no active replica \(peer [0-9]+: Active, not reachable at .http://127.0.0.1:[0-9]+.; peer [0-9]+: Active, not reachable at" "$TEST_TMP/stderr" &&
	test_grep "shard 4 of collection .c." "$TEST_TMP/stderr" &&
	test_grep -v "shard 0 of collection" "$TEST_TMP/stderr" &&
	test_grep "is passed over: that peer cannot be reached" "$TEST_TMP/stderr" &&
	test_grep "nodes" "$TEST_TMP/stderr"
'

test_expect_success 'qbk-verify --live checks every shard of the cluster' '
	qbk-verify -c "$TEST_TMP/three.conf" --live --json >"$TEST_TMP/v1.json" &&
	test "$(json_get "$TEST_TMP/v1.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/v1.json" "d[\"problems\"]")" = "[]"
'

test_expect_exit 3 '... and finds a replica that lost its data' '
	sim_api POST /__sim/wipe_shard "{\"collection\":\"c\",\"shard\":1,\"node\":2}" >/dev/null &&
	qbk-verify -c "$TEST_TMP/three.conf" --live --json >"$TEST_TMP/v2.json"
'

test_expect_success '... naming the shard and both counts' '
	json_get "$TEST_TMP/v2.json" "[p[\"problem\"] for p in d[\"problems\"]]" >"$TEST_TMP/p2" &&
	test_grep "shard 1: replica on peer [0-9]+ has [0-9]+ points, replica on peer [0-9]+ has [0-9]+\"" "$TEST_TMP/p2" &&
	test_grep "shard 1: .* has 0( points,|\")" "$TEST_TMP/p2" &&
	test_grep "shard 1 has [0-9]+ points, the backup recorded" "$TEST_TMP/p2" &&
	test_grep -v "shard 2" "$TEST_TMP/p2"
'

test_expect_success 'restore onto a 2-node cluster: every point, the layout kept' '
	sim_start --nodes 2 &&
	conf "$TEST_TMP/two.conf" &&
	qbk-restore -c "$TEST_TMP/two.conf" --backup "$B" --json >"$TEST_TMP/r2.json" 2>"$TEST_TMP/r2.err" &&
	sim_points c >"$TEST_TMP/c.two" &&
	test_cmp "$TEST_TMP/c.before" "$TEST_TMP/c.two" &&
	sim_points d >"$TEST_TMP/d.two" &&
	test_cmp "$TEST_TMP/d.before" "$TEST_TMP/d.two" &&
	sim_api GET /collections/c >"$TEST_TMP/info" &&
	test "$(json_get "$TEST_TMP/info" "d[\"result\"][\"config\"][\"params\"][\"shard_number\"]")" = 6 &&
	test "$(replicas_of c)" = 12
'

test_expect_success '... with the replication factor clamped to 2 peers, and a warning' '
	sim_api GET /collections/d >"$TEST_TMP/info" &&
	test "$(json_get "$TEST_TMP/info" "d[\"result\"][\"config\"][\"params\"][\"replication_factor\"]")" = 2 &&
	test "$(replicas_of d)" = 6 &&
	json_get "$TEST_TMP/r2.json" "d[\"warnings\"]" >"$TEST_TMP/w2" &&
	test_grep "replication factor 3; the target has 2 peers" "$TEST_TMP/w2" &&
	test_grep "replication factor 3" "$TEST_TMP/r2.err"
'

test_expect_success '... and the payload indexes re-created' '
	sim_api GET /collections/d >"$TEST_TMP/d2.info" &&
	json_get "$TEST_TMP/d2.info" "sorted((k, v[\"data_type\"]) for k, v in d[\"result\"][\"payload_schema\"].items())" >"$TEST_TMP/d2.schema" &&
	test_cmp "$TEST_TMP/d.schema" "$TEST_TMP/d2.schema"
'

test_expect_success '... and it verifies live' '
	qbk-verify -c "$TEST_TMP/two.conf" --live --json >"$TEST_TMP/v3.json" &&
	test "$(json_get "$TEST_TMP/v3.json" "d[\"problems\"]")" = "[]"
'

test_expect_success 'restore onto a 4-node cluster: every point, on all four nodes' '
	sim_start --nodes 4 &&
	conf "$TEST_TMP/four.conf" &&
	qbk-restore -c "$TEST_TMP/four.conf" --backup "$B" --json >"$TEST_TMP/r4.json" &&
	test "$(json_get "$TEST_TMP/r4.json" "d[\"warnings\"]")" = "[]" &&
	sim_points c >"$TEST_TMP/c.four" &&
	test_cmp "$TEST_TMP/c.before" "$TEST_TMP/c.four" &&
	sim_points d >"$TEST_TMP/d.four" &&
	test_cmp "$TEST_TMP/d.before" "$TEST_TMP/d.four" &&
	test "$(replicas_of c)" = 12 &&
	test "$(replicas_of d)" = 9 &&
	for u in $SIM_URLS; do
		SIM_URL=$u sim_api GET /collections/c/cluster >"$TEST_TMP/cc" &&
		test "$(json_get "$TEST_TMP/cc" "len(d[\"result\"][\"local_shards\"]) > 0 and all(s[\"points_count\"] > 0 for s in d[\"result\"][\"local_shards\"])")" = true || return 1
	done
'

test_expect_success 'a backup of the 4-node cluster streams from all four nodes' '
	qbk-backup -c "$TEST_TMP/four.conf" --collection c --json >"$TEST_TMP/b4.json" &&
	qbk-restore -c "$TEST_TMP/four.conf" --list --json >"$TEST_TMP/l4.json" &&
	test "$(json_get "$TEST_TMP/l4.json" "len(set(s[\"peer_id\"] for s in d[\"collections\"][0][\"snapshots\"]))")" = 4
'

test_expect_success 'a single node with payload indexes: a collection snapshot backup' '
	sim_start &&
	sim_generate s 100 8 &&
	sim_api PUT /collections/s/index "{\"field_name\":\"category\",\"field_schema\":\"keyword\"}" >/dev/null &&
	qbk-backup --url "$SIM_URL" --repo "$R" -c /dev/null --collection s >/dev/null
'

test_expect_exit 2 '... cannot go into a cluster' '
	qbk-restore -c "$TEST_TMP/four.conf" --collection s
'

test_expect_success '... said clearly' '
	test_grep "distributed deployment, and backup .* holds collection .s. as a collection snapshot" "$TEST_TMP/stderr"
'

test_done
