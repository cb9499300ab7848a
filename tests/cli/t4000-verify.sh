#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'qbk-verify: quick, --read-data, subsets, damage, --live'

sim_start
R=$(repo_location repo)
Q="--url $SIM_URL --repo $R -c /dev/null"

# fresh: put the clean copy of the repository back.
fresh() {
	repo_load repo clean
}

# chunk N: the key of the N-th chunk (sorted); its basename is its id.
chunk() {
	repo_keys repo data | sed -n "${1}p"
}

# flip FILE: change one byte in the middle of FILE.
flip() {
	python3 -c 'import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x5a
open(p, "wb").write(bytes(b))' "$1"
}

test_expect_success 'set up two collections, a repository, two backups' '
	sim_generate c1 3000 32 1 &&
	sim_generate c2 400 8 2 &&
	repo_init "$R" &&
	qbk-backup $Q --json >"$TEST_TMP/b1.json" &&
	B1=$(json_get "$TEST_TMP/b1.json" "d[\"backup_id\"]") &&
	sleep 1 &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.1,\"seed\":7}" &&
	qbk-backup $Q --json >"$TEST_TMP/b2.json" &&
	B2=$(json_get "$TEST_TMP/b2.json" "d[\"backup_id\"]") &&
	test "$B1" != "$B2" &&
	repo_save repo clean &&
	NCHUNKS=$(repo_keys repo data | wc -l) &&
	test "$NCHUNKS" -gt 4
'

test_expect_success 'a clean repository verifies (quick)' '
	qbk-verify $Q >"$TEST_TMP/out" &&
	test_grep "checked 2 backups, $NCHUNKS chunks \(0 read\), 0 snapshots: 0 problems" "$TEST_TMP/out"
'

test_expect_success 'a clean repository verifies with --read-data' '
	qbk-verify $Q --read-data --json >"$TEST_TMP/all.json" &&
	test "$(json_get "$TEST_TMP/all.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/all.json" "d[\"problems\"]")" = "[]" &&
	test "$(json_get "$TEST_TMP/all.json" "d[\"checked\"][\"chunks_read\"]")" = "$NCHUNKS" &&
	test "$(json_get "$TEST_TMP/all.json" "d[\"checked\"][\"backups\"]")" = 2 &&
	test "$(json_get "$TEST_TMP/all.json" "d[\"checked\"][\"snapshots\"] >= 3")" = true
'

test_expect_success '-q prints nothing on success' '
	qbk-verify $Q -q >"$TEST_TMP/out" 2>&1 &&
	test_cmp /dev/null "$TEST_TMP/out"
'

test_expect_success '--backup checks one backup' '
	qbk-verify $Q --backup "$B1" --read-data --json >"$TEST_TMP/one.json" &&
	test "$(json_get "$TEST_TMP/one.json" "d[\"checked\"][\"backups\"]")" = 1 &&
	test "$(json_get "$TEST_TMP/one.json" "d[\"ok\"]")" = true
'

test_expect_exit 2 '--backup with an unknown id is a usage error' '
	qbk-verify $Q --backup 20200101T000000Z-abcd
'

test_expect_exit 2 'a bad subset is a usage error' '
	qbk-verify $Q --read-data-subset 3/2
'

test_expect_success '--read-data-subset 1/2 and 2/2 together read every chunk once' '
	qbk-verify $Q --read-data-subset 1/2 --json >"$TEST_TMP/s1.json" &&
	qbk-verify $Q --read-data-subset 2/2 --json >"$TEST_TMP/s2.json" &&
	n1=$(json_get "$TEST_TMP/s1.json" "d[\"checked\"][\"chunks_read\"]") &&
	n2=$(json_get "$TEST_TMP/s2.json" "d[\"checked\"][\"chunks_read\"]") &&
	test $((n1 + n2)) -eq "$NCHUNKS" &&
	qbk-verify $Q --read-data-subset 100% --json >"$TEST_TMP/s100.json" &&
	test "$(json_get "$TEST_TMP/s100.json" "d[\"checked\"][\"chunks_read\"]")" = "$NCHUNKS"
'

test_expect_success 'one flipped byte in a chunk: --read-data names the chunk' '
	F=$(chunk 3) && CHUNK=$(basename "$F") &&
	flip "$(repo_obj repo "$F")" &&
	qbk-verify $Q >"$TEST_TMP/quick.out"
'
test_expect_exit 3 '... and exits 3' '
	qbk-verify $Q --read-data
'
test_expect_success '... with the chunk id in the message' '
	test_grep "^problem: backup .*chunk .$CHUNK.: chunk is damaged" "$TEST_TMP/stdout"
'
test_expect_success '... and exactly one of the two subsets finds it' '
	r1=0; r2=0;
	qbk-verify $Q --read-data-subset 1/2 >"$TEST_TMP/f1" || r1=$?;
	qbk-verify $Q --read-data-subset 2/2 >"$TEST_TMP/f2" || r2=$?;
	test $((r1 + r2)) -eq 3 &&
	cat "$TEST_TMP/f1" "$TEST_TMP/f2" >"$TEST_TMP/f12" &&
	test_grep "chunk .$CHUNK.: chunk is damaged" "$TEST_TMP/f12"
'

test_expect_exit 3 'a deleted chunk: even the quick check finds it' '
	fresh && F=$(chunk 2) && CHUNK=$(basename "$F") && repo_rm repo "$F" &&
	echo "$CHUNK" >"$TEST_TMP/deleted" &&
	qbk-verify $Q --read-data
'
test_expect_success '... and names it' '
	CHUNK=$(cat "$TEST_TMP/deleted") &&
	test_grep "^problem: backup .*chunk .$CHUNK.: chunk is missing" "$TEST_TMP/stdout"
'

test_expect_exit 3 'a truncated manifest is found' '
	fresh && M=$(repo_obj repo "backups/$B1") &&
	head -c 100 "$M" >"$TEST_TMP/m.t" && repo_put repo "backups/$B1" "$TEST_TMP/m.t" &&
	qbk-verify $Q --read-data
'
test_expect_success '... named by its backup id' '
	test_grep "^problem: backup .$B1.: manifest .backups/$B1. is damaged" "$TEST_TMP/stdout" &&
	test_grep -v "backup .$B2." "$TEST_TMP/stdout"
'

test_expect_exit 3 'a truncated manifest and copy are found' '
	fresh && : >"$TEST_TMP/empty" &&
	repo_put repo "backups/$B2" "$TEST_TMP/empty" &&
	repo_put repo "backups/$B2.copy" "$TEST_TMP/empty" &&
	qbk-verify $Q --json
'
test_expect_success '... named by its backup id in the JSON' '
	test "$(json_get "$TEST_TMP/stdout" "d[\"ok\"]")" = false &&
	test "$(json_get "$TEST_TMP/stdout" "sorted(set(p[\"backup\"] for p in d[\"problems\"]))")" = "[\"$B2\"]" &&
	test "$(json_get "$TEST_TMP/stdout" "any(\"cannot be read\" in p[\"problem\"] for p in d[\"problems\"])")" = true
'

test_expect_exit 3 'two swapped chunk files are both found' '
	fresh && F1=$(chunk 1) && F2=$(chunk 4) &&
	echo "$(basename "$F1") $(basename "$F2")" >"$TEST_TMP/swapped" &&
	cp "$(repo_obj repo "$F1")" "$TEST_TMP/x1" && cp "$(repo_obj repo "$F2")" "$TEST_TMP/x2" &&
	repo_put repo "$F1" "$TEST_TMP/x2" && repo_put repo "$F2" "$TEST_TMP/x1" &&
	qbk-verify $Q --read-data --json
'
test_expect_success '... each named in the JSON' '
	read -r C1 C2 <"$TEST_TMP/swapped" &&
	json_get "$TEST_TMP/stdout" "sorted(set(p[\"chunk\"] for p in d[\"problems\"] if p[\"chunk\"]))" >"$TEST_TMP/chunks" &&
	test_grep "$C1" "$TEST_TMP/chunks" &&
	test_grep "$C2" "$TEST_TMP/chunks"
'

test_expect_exit 3 'every problem is reported, not just the first' '
	fresh && repo_rm repo "$(chunk 1)" && flip "$(repo_obj repo "$(chunk 5)")" &&
	: >"$TEST_TMP/empty" && repo_put repo "backups/$B1" "$TEST_TMP/empty" &&
	qbk-verify $Q --read-data --json
'
test_expect_success '... missing, damaged and manifest problems together' '
	json_get "$TEST_TMP/stdout" "d[\"problems\"]" >"$TEST_TMP/p" &&
	test_grep "chunk is missing" "$TEST_TMP/p" &&
	test_grep "chunk is damaged" "$TEST_TMP/p" &&
	test_grep "manifest .backups/$B1. is damaged" "$TEST_TMP/p"
'

test_expect_success '--live: a healthy deployment matches the newest backup' '
	fresh &&
	qbk-verify $Q --live --json >"$TEST_TMP/live.json" &&
	test "$(json_get "$TEST_TMP/live.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/live.json" "d[\"live_backup\"]")" = "$B2" &&
	test "$(json_get "$TEST_TMP/live.json" "d[\"checked\"][\"collections\"]")" = 2 &&
	test "$(json_get "$TEST_TMP/live.json" "d[\"checked\"][\"backups\"]")" = 1
'

test_expect_exit 3 '--live: points deleted since the backup' '
	sim_api POST "/collections/c2/points/delete?wait=true" "{\"points\":[1,2,3]}" >/dev/null &&
	qbk-verify $Q --live
'
test_expect_success '... is reported with both counts' '
	test_grep "^problem: backup .$B2., collection .c2.: collection has 397 points, the backup recorded 400" "$TEST_TMP/stdout"
'

test_expect_exit 3 '--live: a collection that is not in the backup' '
	sim_generate c3 10 4 3 &&
	qbk-verify $Q --live
'
test_expect_success '... is reported' '
	test_grep "collection .c3.: collection is not in the backup" "$TEST_TMP/stdout"
'

test_done
