#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'qbk-backup and qbk-restore on a 3-node cluster: shards, replicas, nodes down, one shard'

sim_start --nodes 3
R=$TEST_TMP/repo
URL1=$(echo "$SIM_URLS" | cut -d' ' -f1)
URL2=$(echo "$SIM_URLS" | cut -d' ' -f2)
URL3=$(echo "$SIM_URLS" | cut -d' ' -f3)

# The simulator's p2p ports are its REST ports + 10000, not Qdrant's
# 6335 -> 6333: the nodes are listed in the configuration.
cat >"$TEST_TMP/qbk.conf" <<EOF
[qdrant]
url = $URL1
nodes = $SIM_URLS
[repository]
location = $R
EOF
C="-c $TEST_TMP/qbk.conf"

# on URL METHOD PATH [JSON]: sim_api through another node.
on() {
	_u=$1
	shift
	SIM_URL=$_u sim_api "$@"
}

# all_active URL COLLECTION: wait (up to 10 s) until every replica of
# COLLECTION is Active as URL sees it.
all_active() {
	_i=0
	while [ $_i -lt 100 ]; do
		on "$1" GET "/collections/$2/cluster" >"$TEST_TMP/cc" &&
		if [ "$(json_get "$TEST_TMP/cc" "all(s[\"state\"] == \"Active\" for s in d[\"result\"][\"local_shards\"] + d[\"result\"][\"remote_shards\"]) and not d[\"result\"][\"shard_transfers\"]")" = true ]; then
			return 0
		fi
		_i=$((_i + 1))
		sleep 0.1
	done
	cat "$TEST_TMP/cc"
	return 1
}

test_expect_success 'set up a sharded, replicated collection and a repository' '
	sim_api POST /__sim/generate "{\"collection\":\"c\",\"points\":3000,\"dim\":16,\"shard_number\":6,\"replication_factor\":2}" &&
	sim_api POST /__sim/generate "{\"collection\":\"d\",\"points\":500,\"dim\":8,\"seed\":2,\"shard_number\":3,\"replication_factor\":3}" &&
	repo_init "$R" &&
	sim_points c >"$TEST_TMP/c.before" &&
	sim_points d >"$TEST_TMP/d.before" &&
	test_lines 3000 "$TEST_TMP/c.before"
'

test_expect_success 'a backup takes every shard once' '
	qbk-backup $C --json >"$TEST_TMP/b1.json" &&
	B1=$(json_get "$TEST_TMP/b1.json" "d[\"backup_id\"]") &&
	test "$(json_get "$TEST_TMP/b1.json" "sorted(s[\"shard_id\"] for s in d[\"collections\"][0][\"snapshots\"])")" = "[0, 1, 2, 3, 4, 5]" &&
	qbk-restore $C --list --json >"$TEST_TMP/l1.json"
'

test_expect_success '... spread over the nodes' '
	test "$(json_get "$TEST_TMP/l1.json" "len(set(s[\"peer_id\"] for s in d[\"collections\"][0][\"snapshots\"]))")" = 3 &&
	test "$(json_get "$TEST_TMP/l1.json" "len(set(s[\"node_url\"] for s in d[\"collections\"][0][\"snapshots\"]))")" = 3
'

test_expect_success '... and records the shard layout' '
	test "$(json_get "$TEST_TMP/l1.json" "d[\"collections\"][0][\"cluster\"][\"shard_number\"]")" = 6 &&
	test "$(json_get "$TEST_TMP/l1.json" "d[\"collections\"][0][\"cluster\"][\"replication_factor\"]")" = 2 &&
	test "$(json_get "$TEST_TMP/l1.json" "d[\"collections\"][0][\"cluster\"][\"sharding_method\"]")" = auto &&
	test "$(json_get "$TEST_TMP/l1.json" "len(d[\"collections\"][0][\"cluster\"][\"peers\"])")" = 3 &&
	test "$(json_get "$TEST_TMP/l1.json" "[len(s[\"replicas\"]) for s in d[\"collections\"][0][\"cluster\"][\"shards\"]]")" = "[2, 2, 2, 2, 2, 2]" &&
	test "$(json_get "$TEST_TMP/l1.json" "sum(s[\"points_count\"] for s in d[\"collections\"][0][\"cluster\"][\"shards\"])")" = 3000 &&
	test "$(json_get "$TEST_TMP/l1.json" "d[\"missing_shards\"]")" = "[]"
'

test_expect_success 'wipe the cluster, restore: every point is back' '
	sim_api DELETE /collections/c >/dev/null &&
	sim_api DELETE /collections/d >/dev/null &&
	qbk-restore $C --backup "$B1" --json >"$TEST_TMP/r1.json" &&
	test "$(json_get "$TEST_TMP/r1.json" "d[\"ok\"]")" = true &&
	sim_points c >"$TEST_TMP/c.after" &&
	test_cmp "$TEST_TMP/c.before" "$TEST_TMP/c.after" &&
	sim_points d >"$TEST_TMP/d.after" &&
	test_cmp "$TEST_TMP/d.before" "$TEST_TMP/d.after"
'

test_expect_success '... with the layout of the backup, every replica active' '
	sim_api GET /collections/c >"$TEST_TMP/info" &&
	test "$(json_get "$TEST_TMP/info" "d[\"result\"][\"config\"][\"params\"][\"shard_number\"]")" = 6 &&
	test "$(json_get "$TEST_TMP/info" "d[\"result\"][\"config\"][\"params\"][\"replication_factor\"]")" = 2 &&
	sim_api GET /collections/c/cluster >"$TEST_TMP/cc" &&
	test "$(json_get "$TEST_TMP/cc" "sorted(set(s[\"state\"] for s in d[\"result\"][\"local_shards\"] + d[\"result\"][\"remote_shards\"]))")" = "[\"Active\"]" &&
	test "$(json_get "$TEST_TMP/cc" "len(d[\"result\"][\"local_shards\"] + d[\"result\"][\"remote_shards\"])")" = 12
'

test_expect_success '... and no uploaded file left on any node' '
	for u in $SIM_URLS; do
		for s in 0 1 2 3 4 5; do
			on "$u" GET /collections/c/shards/$s/snapshots >"$TEST_TMP/sl" 2>/dev/null || continue
			test "$(json_get "$TEST_TMP/sl" "len(d[\"result\"])")" = 0 || return 1
		done
	done
'

test_expect_success 'a node down: the backup takes its shards from the other replicas' '
	sim_api POST /__sim/node "{\"node\":2,\"down\":true}" >/dev/null &&
	sleep 0.3 &&
	qbk-backup $C --collection c --json >"$TEST_TMP/b2.json" 2>"$TEST_TMP/b2.err" &&
	B2=$(json_get "$TEST_TMP/b2.json" "d[\"backup_id\"]") &&
	qbk-restore $C --backup "$B2" --list --json >"$TEST_TMP/l2.json" &&
	P2=$(on "$URL1" GET /__sim/state | python3 -c "import json,sys; print([n[\"peer_id\"] for n in json.load(sys.stdin)[\"result\"][\"nodes\"] if n[\"node\"] == 2][0])") &&
	test "$(json_get "$TEST_TMP/l2.json" "len(d[\"collections\"][0][\"snapshots\"])")" = 6 &&
	test "$(json_get "$TEST_TMP/l2.json" "[s for s in d[\"collections\"][0][\"snapshots\"] if s[\"peer_id\"] == \"$P2\"]")" = "[]" &&
	test "$(json_get "$TEST_TMP/l2.json" "sum(s[\"points_count\"] for s in d[\"collections\"][0][\"cluster\"][\"shards\"])")" = 3000 &&
	test_grep "does not answer" "$TEST_TMP/b2.err"
'

test_expect_success '... restoring while it is down warns about its replicas' '
	sed "s/^\[qdrant\]\$/&\nreplica_timeout = 1s/" "$TEST_TMP/qbk.conf" >"$TEST_TMP/short.conf" &&
	qbk-restore -c "$TEST_TMP/short.conf" --backup "$B2" --collection c --as c2 --json >"$TEST_TMP/r2.json" 2>"$TEST_TMP/r2.err" &&
	json_get "$TEST_TMP/r2.json" "d[\"warnings\"]" >"$TEST_TMP/w2" &&
	test_grep "not every replica of .c2. is active after 1 s" "$TEST_TMP/w2" &&
	test_grep "on peer $P2: Dead" "$TEST_TMP/w2"
'

test_expect_exit 1 'both replicas of shards 0 and 3 down: the backup fails and names them' '
	on "$URL3" POST /__sim/node "{\"node\":1,\"down\":true}" >/dev/null &&
	sleep 0.3 &&
	qbk-backup $C --url "$URL3" --collection c
'

test_expect_success '... with the shards named, and no backup written' '
	test_grep "shard 0 of collection .c. has no active replica" "$TEST_TMP/stderr" &&
	test_grep "shard 3 of collection .c. has no active replica" "$TEST_TMP/stderr" &&
	test_grep -v "shard 1 of" "$TEST_TMP/stderr" &&
	test_grep "allow-partial" "$TEST_TMP/stderr" &&
	test "$(find "$R/backups" -type f ! -name "*.copy" | wc -l)" = 2
'

test_expect_success '--allow-partial backs up the rest and records the missing shards' '
	qbk-backup $C --url "$URL3" --collection c --allow-partial --json >"$TEST_TMP/b3.json" 2>"$TEST_TMP/b3.err" &&
	B3=$(json_get "$TEST_TMP/b3.json" "d[\"backup_id\"]") &&
	test "$(json_get "$TEST_TMP/b3.json" "[m[\"shard_id\"] for m in d[\"missing_shards\"]]")" = "[0, 3]" &&
	qbk-restore $C --backup "$B3" --list --json >"$TEST_TMP/l3.json" &&
	test "$(json_get "$TEST_TMP/l3.json" "sorted(m[\"shard_id\"] for m in d[\"missing_shards\"])")" = "[0, 3]" &&
	test "$(json_get "$TEST_TMP/l3.json" "sorted(s[\"shard_id\"] for s in d[\"collections\"][0][\"snapshots\"])")" = "[1, 2, 4, 5]" &&
	qbk-restore $C --backup "$B3" --list >"$TEST_TMP/l3.txt" &&
	test_grep "missing: shard 0 of c" "$TEST_TMP/l3.txt" &&
	test_grep "not backed up" "$TEST_TMP/b3.err"
'

test_expect_success 'nodes back: replicas re-synced' '
	on "$URL3" POST /__sim/node "{\"node\":1,\"down\":false}" >/dev/null &&
	on "$URL3" POST /__sim/node "{\"node\":2,\"down\":false}" >/dev/null &&
	sleep 0.5 &&
	all_active "$URL1" c
'

test_expect_success 'the backup with a node down restores every point' '
	all_active "$URL1" c2 &&
	sim_points c2 >"$TEST_TMP/c2" &&
	test_cmp "$TEST_TMP/c.before" "$TEST_TMP/c2" &&
	sim_api DELETE /collections/c2 >/dev/null
'

test_expect_success 'a node failing during the backup: its shards come from the other replicas' '
	sed "s/^\[qdrant\]\$/&\nretries = 0/" "$TEST_TMP/qbk.conf" >"$TEST_TMP/noretry.conf" &&
	sim_api POST /__sim/faults "{\"node\":2,\"rules\":[{\"path_regex\":\"/shards/[0-9]+/snapshot\$\",\"reset_after_bytes\":3000,\"count\":-1}]}" >/dev/null &&
	qbk-backup -c "$TEST_TMP/noretry.conf" --collection c --json >"$TEST_TMP/b5.json" 2>"$TEST_TMP/b5.err" &&
	sim_api DELETE "/__sim/faults?all=true" >/dev/null &&
	test_grep "trying the replica on peer" "$TEST_TMP/b5.err" &&
	test "$(json_get "$TEST_TMP/b5.json" "[s for c in d[\"collections\"] for s in c[\"snapshots\"] if s[\"peer_id\"] == \"$P2\"]")" = "[]" &&
	test "$(json_get "$TEST_TMP/b5.json" "len(d[\"collections\"][0][\"snapshots\"])")" = 6 &&
	B5=$(json_get "$TEST_TMP/b5.json" "d[\"backup_id\"]") &&
	qbk-restore $C --backup "$B5" --collection c --as c5 >/dev/null 2>&1 &&
	sim_points c5 >"$TEST_TMP/c5" &&
	test_cmp "$TEST_TMP/c.before" "$TEST_TMP/c5" &&
	sim_api DELETE /collections/c5 >/dev/null
'

test_expect_success 'restoring the partial backup warns about the missing shards' '
	qbk-restore $C --backup "$B3" --collection c --as c3 --json >"$TEST_TMP/r3.json" 2>"$TEST_TMP/r3.err" &&
	test_grep "no data of shard 0 of collection .c." "$TEST_TMP/r3.err" &&
	json_get "$TEST_TMP/r3.json" "d[\"warnings\"]" >"$TEST_TMP/w3" &&
	test_grep "no data of shard 3" "$TEST_TMP/w3" &&
	sim_api POST /collections/c3/points/count "{\"exact\":true}" >"$TEST_TMP/n3" &&
	test "$(json_get "$TEST_TMP/n3" "d[\"result\"][\"count\"]")" -lt 3000 &&
	test "$(json_get "$TEST_TMP/n3" "d[\"result\"][\"count\"]")" -gt 1000 &&
	sim_api DELETE /collections/c3 >/dev/null
'

test_expect_success 'a shard loses its data' '
	sim_api POST /__sim/wipe_shard "{\"collection\":\"c\",\"shard\":4}" >/dev/null &&
	sim_points c >"$TEST_TMP/c.lost" &&
	! test_cmp "$TEST_TMP/c.before" "$TEST_TMP/c.lost" >/dev/null
'

test_expect_success 'qbk-restore --shard puts that shard back' '
	qbk-restore $C --backup "$B1" --collection c --shard 4 --json >"$TEST_TMP/r4.json" &&
	test "$(json_get "$TEST_TMP/r4.json" "[s[\"shard_id\"] for s in d[\"collections\"][0][\"snapshots\"]]")" = "[4]" &&
	all_active "$URL1" c &&
	sim_points c >"$TEST_TMP/c.back" &&
	test_cmp "$TEST_TMP/c.before" "$TEST_TMP/c.back"
'

test_expect_success '... on every replica of it' '
	for u in $SIM_URLS; do
		on "$u" GET /collections/c/cluster >"$TEST_TMP/cc" &&
		json_get "$TEST_TMP/cc" "[s[\"points_count\"] for s in d[\"result\"][\"local_shards\"] if s[\"shard_id\"] == 4]" >>"$TEST_TMP/counts" || return 1
	done &&
	test "$(grep -c "\[[1-9]" "$TEST_TMP/counts")" = 2
'

test_expect_exit 2 '--shard needs one --collection' '
	qbk-restore $C --backup "$B1" --shard 4
'

test_expect_exit 2 '--shard into a collection that does not exist' '
	qbk-restore $C --backup "$B1" --collection c --as nothere --shard 4
'

test_done
