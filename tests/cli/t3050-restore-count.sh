#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'restore and drill count the points after every restore path, so that one Qdrant answered well but that does not hold the data fails'

R=$(repo_location repo)

# extra COLLECTION: a fault rule that writes one more point into
# COLLECTION when its points are counted, as if the restored collection
# held other data than the backup: the count is the only request that
# sees it, so a restore that does not count passes.
extra() {
	sim_fault "{\"method\":\"POST\",\"path_regex\":\"^/collections/$1/points/count\$\",\"count\":1,\"upsert\":{\"collection\":\"$1\",\"points\":[{\"id\":999999,\"vector\":[1,2,3,4,5,6,7,8]}]}}"
}

# held_or_done: wait until the simulator holds a request or the drill run
# in the background has written its exit status (a qbk that never counts
# sends nothing to hold).
held_or_done() {
	until [ -s "$TEST_TMP/d.rc" ]; do
		sim_api GET /__sim/faults >"$TEST_TMP/.held" &&
		[ "$(json_get "$TEST_TMP/.held" \
		    "sum(r[\"held\"] for r in d[\"result\"][\"rules\"])")" -gt 0 ] &&
		return 0
		sleep 0.1
	done
	return 1
}

exists() {
	sim_api GET "/collections/$1/exists" >"$TEST_TMP/exists" &&
	json_get "$TEST_TMP/exists" "d[\"result\"][\"exists\"]"
}

test_expect_success 'a standalone node: backups as collection snapshots and as shard streams' '
	sim_start &&
	Q="--url $SIM_URL --repo $R -c /dev/null" &&
	sim_generate c 300 8 5 &&
	repo_init "$R" &&
	qbk-backup $Q --method snapshot --json >"$TEST_TMP/bs.json" &&
	BS=$(json_get "$TEST_TMP/bs.json" "d[\"backup_id\"]") &&
	qbk-backup $Q --method stream --json >"$TEST_TMP/bt.json" &&
	BT=$(json_get "$TEST_TMP/bt.json" "d[\"backup_id\"]") &&
	qbk-restore $Q --backup "$BS" --list --json >"$TEST_TMP/ls.json" &&
	test "$(json_get "$TEST_TMP/ls.json" "d[\"collections\"][0][\"snapshots\"][0][\"kind\"]")" = collection &&
	qbk-restore $Q --backup "$BT" --list --json >"$TEST_TMP/lt.json" &&
	test "$(json_get "$TEST_TMP/lt.json" "d[\"collections\"][0][\"snapshots\"][0][\"kind\"]")" = shard
'

test_expect_exit 3 'collection snapshot recovery: a count that differs from the backup fails the restore' '
	extra c1 &&
	qbk-restore $Q --backup "$BS" --as c1
'

test_expect_success '... naming both counts, and the half-restored collection is gone' '
	test_grep "collection .c1. holds 301 points after the restore, backup .$BS. recorded 300" "$TEST_TMP/stderr" &&
	test "$(exists c1)" = false
'

test_expect_success '... and a restore that holds the data passes' '
	qbk-restore $Q --backup "$BS" --as c1 --json >"$TEST_TMP/r1.json" &&
	test "$(json_get "$TEST_TMP/r1.json" "d[\"ok\"]")" = true
'

test_expect_exit 3 'shard recovery on a single node: the same' '
	extra c2 &&
	qbk-restore $Q --backup "$BT" --as c2
'

test_expect_success '... naming both counts' '
	test_grep "collection .c2. holds 301 points after the restore, backup .$BT. recorded 300" "$TEST_TMP/stderr" &&
	test "$(exists c2)" = false
'

test_expect_success 'qbk-drill: a count after its restore that differs is a finding' '
	sim_hold "\"method\":\"POST\",\"path_regex\":\"^/collections/qbk-drill-[^/]*/points/count\$\"" &&
	rm -f "$TEST_TMP/d.rc" &&
	{ qbk-drill $Q --backup "$BS" --json >"$TEST_TMP/d.json" 2>"$TEST_TMP/d.err"; echo $? >"$TEST_TMP/d.rc"; } &
	D=$! &&
	held_or_done &&
	sim_api GET /collections >"$TEST_TMP/colls" &&
	S=$(json_get "$TEST_TMP/colls" "[c[\"name\"] for c in d[\"result\"][\"collections\"] if c[\"name\"].startswith(\"qbk-drill-\")][0]") &&
	sim_api PUT "/collections/$S/points?wait=true" "{\"points\":[{\"id\":999999,\"vector\":[1,2,3,4,5,6,7,8]}]}" >/dev/null &&
	sim_release &&
	wait "$D" &&
	test "$(cat "$TEST_TMP/d.rc")" = 3 &&
	json_get "$TEST_TMP/d.json" "d[\"problems\"]" >"$TEST_TMP/dp" &&
	test_grep "holds 301 points after the restore, backup .$BS. recorded 300" "$TEST_TMP/dp"
'

test_expect_success 'a cluster of two: the restore shard by shard is counted too' '
	sim_start --nodes 2 &&
	printf "[qdrant]\nnodes = %s\n" "$SIM_URLS" >"$TEST_TMP/two.conf" &&
	Q="--url $SIM_URL --repo $R -c $TEST_TMP/two.conf" &&
	sim_generate k 300 8 6 &&
	qbk-backup $Q --collection k --json >"$TEST_TMP/bk.json" &&
	BK=$(json_get "$TEST_TMP/bk.json" "d[\"backup_id\"]") &&
	qbk-restore $Q --backup "$BK" --list --json >"$TEST_TMP/lk.json" &&
	test "$(json_get "$TEST_TMP/lk.json" "sorted(set(s[\"kind\"] for s in d[\"collections\"][0][\"snapshots\"]))")" = "[\"shard\"]"
'

test_expect_exit 3 '... and a count that differs fails it' '
	extra k1 &&
	qbk-restore $Q --backup "$BK" --as k1
'

test_expect_success '... naming both counts' '
	test_grep "collection .k1. holds 301 points after the restore, backup .$BK. recorded 300" "$TEST_TMP/stderr"
'

test_done
