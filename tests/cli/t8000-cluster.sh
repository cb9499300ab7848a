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
	test "$(json_get "$TEST_TMP/b1.json" "[d[\"partial\"], d[\"warnings\"], d[\"missing_shards\"], d[\"unreachable_peers\"]]")" = "[false, [], [], []]" &&
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
	: >"$TEST_TMP/listed" &&
	for u in $SIM_URLS; do
		on "$u" GET /collections/c/cluster >"$TEST_TMP/cc" &&
		for s in $(json_get "$TEST_TMP/cc" "\" \".join(str(x[\"shard_id\"]) for x in d[\"result\"][\"local_shards\"])"); do
			on "$u" GET "/collections/c/shards/$s/snapshots" >"$TEST_TMP/sl" &&
			test "$(json_get "$TEST_TMP/sl" "d[\"result\"]")" = "[]" &&
			echo "$u $s" >>"$TEST_TMP/listed" || return 1
		done || return 1
		on "$u" GET /collections/c/snapshots >"$TEST_TMP/sl" &&
		test "$(json_get "$TEST_TMP/sl" "d[\"result\"]")" = "[]" || return 1
	done &&
	test_lines 12 "$TEST_TMP/listed"
'

test_expect_success 'a node down: the backup takes its shards from the other replicas' '
	sim_api POST /__sim/node "{\"node\":2,\"down\":true}" >/dev/null &&
	qbk-backup $C --collection c --json >"$TEST_TMP/b2.json" 2>"$TEST_TMP/b2.err" &&
	B2=$(json_get "$TEST_TMP/b2.json" "d[\"backup_id\"]") &&
	qbk-restore $C --backup "$B2" --list --json >"$TEST_TMP/l2.json" &&
	P2=$(on "$URL1" GET /__sim/state | python3 -c "import json,sys; print([n[\"peer_id\"] for n in json.load(sys.stdin)[\"result\"][\"nodes\"] if n[\"node\"] == 2][0])") &&
	test "$(json_get "$TEST_TMP/l2.json" "len(d[\"collections\"][0][\"snapshots\"])")" = 6 &&
	test "$(json_get "$TEST_TMP/l2.json" "[s for s in d[\"collections\"][0][\"snapshots\"] if s[\"peer_id\"] == \"$P2\"]")" = "[]" &&
	test "$(json_get "$TEST_TMP/l2.json" "sum(s[\"points_count\"] for s in d[\"collections\"][0][\"cluster\"][\"shards\"])")" = 3000 &&
	test_grep "does not answer" "$TEST_TMP/b2.err"
'

test_expect_success '... its --json and the manifest name the peer it could not reach' '
	test "$(json_get "$TEST_TMP/b2.json" "[d[\"ok\"], d[\"partial\"], d[\"missing_shards\"]]")" = "[true, false, []]" &&
	test "$(json_get "$TEST_TMP/b2.json" "[u[\"peer_id\"] for u in d[\"unreachable_peers\"]]")" = "[\"$P2\"]" &&
	json_get "$TEST_TMP/b2.json" "d[\"warnings\"]" >"$TEST_TMP/w2b" &&
	test_grep "peer $P2 cannot be reached at .http://[^ ]*: .*Connection refused \(configured node not answering: .$URL2.\)" "$TEST_TMP/w2b" &&
	test "$(json_get "$TEST_TMP/l2.json" "[u[\"peer_id\"] for u in d[\"unreachable_peers\"]]")" = "[\"$P2\"]" &&
	qbk-restore $C --backup "$B2" --list >"$TEST_TMP/l2.txt" &&
	test_grep "unreachable: peer $P2 at http://.*: .*configured node not answering: .$URL2." "$TEST_TMP/l2.txt"
'

test_expect_exit 1 '... restoring while it is down fails: its replicas are not active' '
	sed "s/^\[qdrant\]\$/&\nreplica_timeout = 1s/" "$TEST_TMP/qbk.conf" >"$TEST_TMP/short.conf" &&
	qbk-restore -c "$TEST_TMP/short.conf" --backup "$B2" --collection c --as c2 --json
'

test_expect_success '... naming the collection, the shards, the peer and its state' '
	test "$(json_get "$TEST_TMP/stdout" "d[\"ok\"]")" = false &&
	json_get "$TEST_TMP/stdout" "d[\"problems\"]" >"$TEST_TMP/p2" &&
	test_grep "not every replica of .c2. is active after 1 s" "$TEST_TMP/p2" &&
	test_grep "shard [0-9] on peer $P2: Dead" "$TEST_TMP/p2" &&
	test "$(json_get "$TEST_TMP/stdout" "[c[\"target\"] for c in d[\"collections\"]]")" = "[\"c2\"]" &&
	test_grep "qbk-restore: not every replica of .c2. is active" "$TEST_TMP/stderr" &&
	test_grep "hint: .*allow-inactive-replicas" "$TEST_TMP/stderr"
'

test_expect_success '... --allow-inactive-replicas makes it a warning' '
	qbk-restore -c "$TEST_TMP/short.conf" --backup "$B2" --collection c --as c2w --allow-inactive-replicas --json >"$TEST_TMP/r2.json" 2>"$TEST_TMP/r2.err" &&
	test "$(json_get "$TEST_TMP/r2.json" "d[\"ok\"]")" = true &&
	json_get "$TEST_TMP/r2.json" "d[\"warnings\"]" >"$TEST_TMP/w2" &&
	test_grep "not every replica of .c2w. is active after 1 s" "$TEST_TMP/w2" &&
	test_grep "on peer $P2: Dead" "$TEST_TMP/w2" &&
	sim_api DELETE /collections/c2w >/dev/null
'

test_expect_exit 1 'both replicas of shards 0 and 3 down: the backup fails and names them' '
	on "$URL3" POST /__sim/node "{\"node\":1,\"down\":true}" >/dev/null &&
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
	qbk-backup $C --url "$URL3" --collection c --allow-partial --json --metrics-file "$TEST_TMP/b3.prom" >"$TEST_TMP/b3.json" 2>"$TEST_TMP/b3.err" &&
	B3=$(json_get "$TEST_TMP/b3.json" "d[\"backup_id\"]") &&
	test "$(json_get "$TEST_TMP/b3.json" "[m[\"shard_id\"] for m in d[\"missing_shards\"]]")" = "[0, 3]" &&
	qbk-restore $C --backup "$B3" --list --json >"$TEST_TMP/l3.json" &&
	test "$(json_get "$TEST_TMP/l3.json" "sorted(m[\"shard_id\"] for m in d[\"missing_shards\"])")" = "[0, 3]" &&
	test "$(json_get "$TEST_TMP/l3.json" "sorted(s[\"shard_id\"] for s in d[\"collections\"][0][\"snapshots\"])")" = "[1, 2, 4, 5]" &&
	qbk-restore $C --backup "$B3" --list >"$TEST_TMP/l3.txt" &&
	test_grep "missing: shard 0 of c" "$TEST_TMP/l3.txt" &&
	test_grep "not backed up" "$TEST_TMP/b3.err"
'

test_expect_success '... which its --json shows as warnings of a partial backup' '
	test "$(json_get "$TEST_TMP/b3.json" "[d[\"ok\"], d[\"partial\"], d[\"problems\"]]")" = "[true, true, []]" &&
	json_get "$TEST_TMP/b3.json" "d[\"warnings\"]" >"$TEST_TMP/w3b" &&
	test_grep "shard 0 of collection .c. is not backed up: no active replica" "$TEST_TMP/w3b" &&
	test_grep "shard 3 of collection .c. is not backed up" "$TEST_TMP/w3b" &&
	test "$(json_get "$TEST_TMP/b3.json" "len(d[\"unreachable_peers\"])")" = 2 &&
	test_grep "peer $P2 cannot be reached at .* \(configured nodes not answering: .$URL1., .$URL2.\)" "$TEST_TMP/w3b" &&
	test_grep -v "peer [0-9]+ cannot be reached at .$URL3." "$TEST_TMP/w3b"
'

test_expect_success '... and its metrics file as gauges, beside the usual ones' '
	promtool check metrics <"$TEST_TMP/b3.prom" &&
	test_grep "^qbk_backup_missing_shards\{collection=\"c\"\} 2\$" "$TEST_TMP/b3.prom" &&
	test_grep "^qbk_backup_unreachable_peers 2\$" "$TEST_TMP/b3.prom" &&
	test_grep "^qbk_backup_last_run_success 1\$" "$TEST_TMP/b3.prom" &&
	test_grep "^qbk_backup_last_success_timestamp_seconds [0-9]+\$" "$TEST_TMP/b3.prom" &&
	test_grep "^qbk_backup_bytes\{collection=\"c\"\} [1-9]" "$TEST_TMP/b3.prom" &&
	test_grep "^qbk_backup_total_new_bytes [0-9]+\$" "$TEST_TMP/b3.prom"
'

test_expect_success 'nodes back: replicas re-synced' '
	on "$URL3" POST /__sim/node "{\"node\":1,\"down\":false}" >/dev/null &&
	on "$URL3" POST /__sim/node "{\"node\":2,\"down\":false}" >/dev/null &&
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

test_expect_success 'a node lost in the middle of the backup, its replicas still Active: the next replica serves' '
	sim_api POST /__sim/faults "{\"node\":2,\"rules\":[{\"path_regex\":\"/shards/[0-9]+/snapshot\$\",\"node_down\":true,\"mark_dead\":false}]}" >/dev/null &&
	qbk-backup -c "$TEST_TMP/noretry.conf" --collection c --json >"$TEST_TMP/b6.json" 2>"$TEST_TMP/b6.err" &&
	on "$URL1" GET /collections/c/cluster >"$TEST_TMP/cc6" &&
	test "$(json_get "$TEST_TMP/cc6" "sorted(set(s[\"state\"] for s in d[\"result\"][\"remote_shards\"] if s[\"peer_id\"] == $P2))")" = "[\"Active\"]" &&
	test_grep "cannot back up shard [0-9] of collection .c. from peer $P2 .*; trying the replica on peer" "$TEST_TMP/b6.err" &&
	test "$(json_get "$TEST_TMP/b6.json" "len(d[\"collections\"][0][\"snapshots\"])")" = 6 &&
	test "$(json_get "$TEST_TMP/b6.json" "[s for s in d[\"collections\"][0][\"snapshots\"] if s[\"peer_id\"] == \"$P2\"]")" = "[]" &&
	test "$(json_get "$TEST_TMP/b6.json" "d[\"missing_shards\"]")" = "[]" &&
	B6=$(json_get "$TEST_TMP/b6.json" "d[\"backup_id\"]") &&
	on "$URL1" POST /__sim/node "{\"node\":2,\"down\":false}" >/dev/null &&
	sim_api DELETE "/__sim/faults?all=true" >/dev/null &&
	qbk-restore $C --backup "$B6" --collection c --as c6 >/dev/null 2>&1 &&
	sim_points c6 >"$TEST_TMP/c6" &&
	test_cmp "$TEST_TMP/c.before" "$TEST_TMP/c6" &&
	sim_api DELETE /collections/c6 >/dev/null
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

test_expect_success '... after a safety backup of the collection, read back first' '
	S4=$(json_get "$TEST_TMP/r4.json" "d[\"safety_backup_id\"]") &&
	test -n "$S4" &&
	qbk-restore $C --backup "$S4" --list >"$TEST_TMP/s4.list" &&
	test_grep "^  collection c: " "$TEST_TMP/s4.list"
'

test_expect_success '--shard of a shard without an Active replica: no live data, no safety backup' '
	for i in 1 2 3; do
		sim_api POST /__sim/replica_state "{\"collection\":\"c\",\"shard\":4,\"node\":$i,\"state\":\"Dead\"}" >/dev/null 2>&1
	done
	n=$(repo_count_backups repo) &&
	qbk-restore $C --backup "$B1" --collection c --shard 4 --allow-inactive-replicas --json >"$TEST_TMP/r5.json" &&
	test "$(repo_count_backups repo)" = "$n" &&
	test_grep "shard 4 of .c. has no Active replica: it holds no live data to save" "$TEST_TMP/r5.json" &&
	sim_points c >"$TEST_TMP/c.back5" &&
	test_cmp "$TEST_TMP/c.before" "$TEST_TMP/c.back5"
'

test_expect_exit 2 '--shard needs one --collection' '
	qbk-restore $C --backup "$B1" --shard 4
'

test_expect_exit 2 '--shard into a collection that does not exist' '
	qbk-restore $C --backup "$B1" --collection c --as nothere --shard 4
'

# counts COLLECTION: the points count of every replica, "shard peer count"
# per line, sorted, as each node counts its own.
counts() {
	for u in $SIM_URLS; do
		on "$u" GET "/collections/$1/cluster" >"$TEST_TMP/cc" &&
		json_get "$TEST_TMP/cc" "\"\\n\".join(\"%d %d %d\" % (s[\"shard_id\"], d[\"result\"][\"peer_id\"], s[\"points_count\"]) for s in d[\"result\"][\"local_shards\"])" || return 1
	done | sort -n
}

# diverged COLLECTION: the shards whose replicas disagree on their count.
diverged() {
	counts "$1" | awk '{ c[$1] = c[$1] " " $3 } END { for (s in c) { split(c[s], v, " "); for (i in v) if (v[i] != v[1]) { print s; break } } }' | sort -n
}

test_expect_success 'priorities into an existing collection: a backup, then the cluster moves on' '
	sim_api POST /__sim/generate "{\"collection\":\"p\",\"points\":600,\"dim\":8,\"seed\":5,\"shard_number\":3,\"replication_factor\":2}" >/dev/null &&
	sim_points p >"$TEST_TMP/p.before" &&
	qbk-backup $C --collection p --json >"$TEST_TMP/bp.json" &&
	BP=$(json_get "$TEST_TMP/bp.json" "d[\"backup_id\"]") &&
	python3 -c "import json; print(json.dumps({\"points\": [{\"id\": 900000 + i, \"vector\": [0.5] * 8, \"payload\": {\"late\": i}} for i in range(60)]}))" >"$TEST_TMP/late.json" &&
	sim_api PUT "/collections/p/points?wait=true" "$(cat "$TEST_TMP/late.json")" >/dev/null &&
	sim_points p >"$TEST_TMP/p.moved" &&
	test_lines 660 "$TEST_TMP/p.moved" &&
	test -z "$(diverged p)"
'

test_expect_success '--priority replica --force: the cluster'"'"'s data stays, and a warning says so' '
	qbk-restore $C --backup "$BP" --collection p --force --priority replica --json >"$TEST_TMP/rp.json" 2>"$TEST_TMP/rp.err" &&
	test "$(json_get "$TEST_TMP/rp.json" "d[\"ok\"]")" = true &&
	json_get "$TEST_TMP/rp.json" "d[\"warnings\"]" >"$TEST_TMP/wp" &&
	test_grep "priority .replica.: Qdrant re-syncs the restored replicas of .p. from the other Active replicas \(shard 0 on peer [0-9]+; shard 1 on peer [0-9]+; shard 2 on peer [0-9]+\): those shards keep the cluster.s data, not the backup.s" "$TEST_TMP/wp" &&
	test_grep "priority .replica." "$TEST_TMP/rp.err" &&
	all_active "$URL1" p &&
	sim_points p >"$TEST_TMP/p.replica" &&
	test_cmp "$TEST_TMP/p.moved" "$TEST_TMP/p.replica"
'

test_expect_success '--priority no_sync --force: the restored replicas and the others diverge, with a warning' '
	qbk-restore $C --backup "$BP" --collection p --force --priority no_sync --json >"$TEST_TMP/rn.json" 2>"$TEST_TMP/rn.err" &&
	json_get "$TEST_TMP/rn.json" "d[\"warnings\"]" >"$TEST_TMP/wn" &&
	test_grep "priority .no_sync.: the other Active replicas of .p. \(shard 0 on peer [0-9]+; shard 1 on peer [0-9]+; shard 2 on peer [0-9]+\) keep their data and may diverge" "$TEST_TMP/wn" &&
	test "$(diverged p | tr "\n" " ")" = "0 1 2 " &&
	counts p >"$TEST_TMP/pc" &&
	test "$(awk "{ n += \$3 } END { print n }" "$TEST_TMP/pc")" = 1260
'

test_expect_exit 3 '... which qbk-verify --live reports' '
	qbk-verify $C --live --json
'

test_expect_success '... naming the replicas that disagree' '
	test_grep "shard 0: replica on peer [0-9]+ has [0-9]+ points, replica on peer [0-9]+ has [0-9]+\"" "$TEST_TMP/stdout"
'

test_expect_success '--priority snapshot --force: every replica gets the backup'"'"'s data' '
	qbk-restore $C --backup "$BP" --collection p --force --priority snapshot --json >"$TEST_TMP/rs.json" &&
	test "$(json_get "$TEST_TMP/rs.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/rs.json" "d[\"warnings\"]")" = "[]" &&
	test -n "$(json_get "$TEST_TMP/rs.json" "d[\"safety_backup_id\"]")" &&
	all_active "$URL1" p &&
	sim_points p >"$TEST_TMP/p.snapshot" &&
	test_cmp "$TEST_TMP/p.before" "$TEST_TMP/p.snapshot" &&
	test -z "$(diverged p)" &&
	counts p >"$TEST_TMP/pc" &&
	test "$(awk "{ n += \$3 } END { print n }" "$TEST_TMP/pc")" = 1200
'

test_expect_exit 2 '--shard with --priority replica over other active replicas needs --force' '
	qbk-restore $C --backup "$BP" --collection p --shard 1 --priority replica
'

test_expect_success '... said clearly' '
	test_grep "priority .replica. keeps the cluster.s data of .p.: Qdrant re-syncs the restored replica from the other Active replicas \(shard 1 on peer [0-9]+\)" "$TEST_TMP/stderr" &&
	test_grep "hint: use --priority snapshot" "$TEST_TMP/stderr"
'

test_expect_exit 2 '--shard with --priority no_sync too' '
	qbk-restore $C --backup "$BP" --collection p --shard 1 --priority no_sync
'

test_expect_success '... said clearly; with --force it goes ahead, with a warning' '
	test_grep "priority .no_sync. leaves the other Active replicas of .p. \(shard 1 on peer [0-9]+\) as they are" "$TEST_TMP/stderr" &&
	qbk-restore $C --backup "$BP" --collection p --shard 1 --priority replica --force --json >"$TEST_TMP/rsh.json" 2>/dev/null &&
	test_grep "priority .replica.: Qdrant re-syncs" "$TEST_TMP/rsh.json" &&
	all_active "$URL1" p &&
	sim_points p >"$TEST_TMP/p.after" &&
	test_cmp "$TEST_TMP/p.before" "$TEST_TMP/p.after"
'

test_done
