#!/bin/sh
# A recovery over live data that fails: Qdrant clears the live shard before
# it loads the new data, so a failed load leaves the replica Dead and empty
# (the simulator's "fail_load" fault rule does as Qdrant does).  qbk-restore
# --force must have a complete, verified safety backup before it starts,
# and after the failure say what state the collection is in and how to get
# its data back.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'qbk-restore --force: a failed recovery over live data'

sim_start
R=$(repo_location repo)
Q="--url $SIM_URL --repo $R -c /dev/null"

shard_states() {
	sim_api GET "/collections/$1/cluster" >"$TEST_TMP/cl" &&
	json_get "$TEST_TMP/cl" "\" \".join(\"%d:%s\" % (s[\"shard_id\"], s[\"state\"]) for s in d[\"result\"][\"local_shards\"])"
}

test_expect_success 'set up a two-shard collection, a backup, then new data' '
	sim_api PUT /collections/c1 "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},\"shard_number\":2}" >/dev/null &&
	sim_api PUT "/collections/c1/points?wait=true" "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0]},{\"id\":2,\"vector\":[0,1,0,0]},{\"id\":3,\"vector\":[0,0,1,0]}]}" >/dev/null &&
	repo_init "$R" &&
	qbk-backup $Q --json >"$TEST_TMP/b1.json" &&
	B1=$(json_get "$TEST_TMP/b1.json" "d[\"backup_id\"]") &&
	sim_api PUT "/collections/c1/points?wait=true" "{\"points\":[{\"id\":4,\"vector\":[0,0,0,1]},{\"id\":5,\"vector\":[1,1,0,0]}]}" >/dev/null &&
	sim_points c1 >"$TEST_TMP/c1.live" &&
	test_lines 5 "$TEST_TMP/c1.live"
'

test_expect_exit 1 'a recovery whose load fails after the live shard was cleared' '
	sim_fault "{\"path_regex\":\"^/collections/c1/(shards/0/)?snapshots/upload$\",\"fail_load\":true}" &&
	qbk-restore $Q --backup "$B1" --collection c1 --force -v
'

test_expect_success '... came after a verified safety backup' '
	test_grep "safety backup [0-9A-Za-z-]+ taken and verified" "$TEST_TMP/stderr"
'

test_expect_success '... says what state the collection is left in' '
	test "$(shard_states c1)" = "0:Dead 1:Active" &&
	test_grep "warning: collection .c1. on .* after the failed recovery: shard 0 Dead \(its data was cleared\)$" "$TEST_TMP/stderr"
'

test_expect_success '... and gives the command that brings the data back' '
	S=$(sed -n "s/.*qbk-restore --backup \([^ ]*\) --collection c1 --force brings it back.*/\1/p" "$TEST_TMP/stderr") &&
	test -n "$S" &&
	test_grep "^hint: its data from before the restore is in safety backup $S" "$TEST_TMP/stderr" &&
	qbk-restore $Q --backup "$S" --collection c1 --force 2>"$TEST_TMP/err" &&
	test_grep "backup $S is a safety backup and .c1. has a replica that is not Active" "$TEST_TMP/err" &&
	sim_points c1 >"$TEST_TMP/c1.back" &&
	test_cmp "$TEST_TMP/c1.live" "$TEST_TMP/c1.back" &&
	test "$(shard_states c1)" = "0:Active 1:Active"
'

# damage_chunks: flip one byte in the middle of every chunk of the
# repository (same size), as a failing disk would.
damage_chunks() {
	for k in $(repo_keys repo data); do
		f=$(repo_obj repo "$k") &&
		chmod u+w "$f" &&
		python3 -c "import sys
p = sys.argv[1]
b = bytearray(open(p, \"rb\").read())
b[len(b) // 2] ^= 0xff
open(p, \"wb\").write(b)" "$f" || return 1
	done
}

test_expect_exit 3 'a safety backup that does not read back stops the restore' '
	qbk-backup $Q -q &&
	sim_points c1 >"$TEST_TMP/c1.now" &&
	damage_chunks &&
	qbk-restore $Q --backup "$B1" --collection c1 --force
'
test_expect_success '... before anything was recovered, and says why' '
	test_grep "^qbk-restore: safety backup [0-9A-Za-z-]+ does not read back whole: .*\(nothing was changed\)" "$TEST_TMP/stderr" &&
	sim_points c1 >"$TEST_TMP/c1.after" &&
	test_cmp "$TEST_TMP/c1.now" "$TEST_TMP/c1.after"
'

test_done
