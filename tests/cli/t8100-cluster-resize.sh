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

# peer_of NODE: the peer id of simulator node NODE (1-based).
peer_of() {
	sim_api GET /__sim/state >"$TEST_TMP/state" &&
	json_get "$TEST_TMP/state" "[n[\"peer_id\"] for n in d[\"result\"][\"nodes\"] if n[\"node\"] == $1][0]"
}

test_expect_success '... naming the shard, both replicas and their counts' '
	json_get "$TEST_TMP/v2.json" "[p[\"problem\"] for p in d[\"problems\"]]" >"$TEST_TMP/p2" &&
	P2=$(peer_of 2) &&
	test_grep "shard 1: replica on peer [0-9]+ has [0-9]+ points, replica on peer [0-9]+ has [0-9]+\"" "$TEST_TMP/p2" &&
	test_grep "shard 1: replica on peer $P2 has 0 points, the backup recorded [1-9][0-9]*\"" "$TEST_TMP/p2" &&
	test_grep -v "shard 1: replica on peer [0-9]+ has [1-9][0-9]* points, the backup" "$TEST_TMP/p2" &&
	test_grep -v "shard 2" "$TEST_TMP/p2"
'

test_expect_success 'the node holding the first replica of each shard goes down, a replica of shard 0 of d loses its data' '
	json_get "$TEST_TMP/state" "sorted((n[\"peer_id\"], n[\"node\"]) for n in d[\"result\"][\"nodes\"])" >"$TEST_TMP/order" &&
	LOW=$(json_get "$TEST_TMP/order" "d[0][1]") &&
	MID=$(json_get "$TEST_TMP/order" "d[1][1]") &&
	HIGH=$(json_get "$TEST_TMP/order" "d[2][1]") &&
	PLOW=$(peer_of "$LOW") && PMID=$(peer_of "$MID") && PHIGH=$(peer_of "$HIGH") &&
	SIM_URL=$(echo "$SIM_URLS" | cut -d" " -f"$MID") sim_api POST /__sim/node "{\"node\":$LOW,\"down\":true}" >/dev/null &&
	SIM_URL=$(echo "$SIM_URLS" | cut -d" " -f"$MID") sim_api POST /__sim/wipe_shard "{\"collection\":\"d\",\"shard\":0,\"node\":$HIGH}" >/dev/null
'

test_expect_exit 3 '... qbk-verify --live finds the mismatch of the other two' '
	qbk-verify -c "$TEST_TMP/three.conf" --url "$(echo "$SIM_URLS" | cut -d" " -f"$MID")" --live --json >"$TEST_TMP/v3.json"
'

test_expect_success '... names the peers whose counts it quotes, not the Dead one' '
	json_get "$TEST_TMP/v3.json" "[p[\"problem\"] for p in d[\"problems\"] if p[\"collection\"] == \"d\"]" >"$TEST_TMP/p3" &&
	test_grep "shard 0: replica on peer $PMID has [1-9][0-9]* points, replica on peer $PHIGH has 0\"" "$TEST_TMP/p3" &&
	test_grep -v "shard 0: replica on peer $PLOW" "$TEST_TMP/p3" &&
	test_grep "shard 0 on peer $PLOW is Dead" "$TEST_TMP/p3" &&
	SIM_URL=$(echo "$SIM_URLS" | cut -d" " -f"$MID") sim_api POST /__sim/node "{\"node\":$LOW,\"down\":false}" >/dev/null
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

test_expect_success '... every replica active when it returns, as each node sees it' '
	test "$(json_get "$TEST_TMP/r2.json" "d[\"ok\"]")" = true &&
	for u in $SIM_URLS; do
		for coll in c d; do
			SIM_URL=$u sim_api GET "/collections/$coll/cluster" >"$TEST_TMP/cc" &&
			test "$(json_get "$TEST_TMP/cc" "sorted(set(s[\"state\"] for s in d[\"result\"][\"local_shards\"] + d[\"result\"][\"remote_shards\"]))")" = "[\"Active\"]" &&
			test "$(json_get "$TEST_TMP/cc" "d[\"result\"][\"shard_transfers\"]")" = "[]" || return 1
		done
	done
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

test_expect_success 'the cluster backup restored onto a single node, point by point' '
	sim_start &&
	conf "$TEST_TMP/one.conf" &&
	qbk-restore -c "$TEST_TMP/one.conf" --backup "$B" --json >"$TEST_TMP/r1.json" &&
	test "$(json_get "$TEST_TMP/r1.json" "d[\"warnings\"]")" = "[]" &&
	sim_points c >"$TEST_TMP/c.one" &&
	test_cmp "$TEST_TMP/c.before" "$TEST_TMP/c.one" &&
	sim_points d >"$TEST_TMP/d.one" &&
	test_cmp "$TEST_TMP/d.before" "$TEST_TMP/d.one" &&
	sim_api GET /collections/c >"$TEST_TMP/info" &&
	test "$(json_get "$TEST_TMP/info" "d[\"result\"][\"config\"][\"params\"][\"shard_number\"]")" = 6 &&
	sim_api GET /collections/d >"$TEST_TMP/d1.info" &&
	json_get "$TEST_TMP/d1.info" "sorted((k, v[\"data_type\"]) for k, v in d[\"result\"][\"payload_schema\"].items())" >"$TEST_TMP/d1.schema" &&
	test_cmp "$TEST_TMP/d.schema" "$TEST_TMP/d1.schema"
'

test_expect_success 'a single node with payload indexes: a collection snapshot backup' '
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
