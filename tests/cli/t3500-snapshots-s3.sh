#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'a Qdrant with snapshots_storage s3: backup, restore, drill'

sim_start --snapshots-storage s3
R=$(repo_location repo)
Q="--url $SIM_URL --repo $R -c /dev/null"
NODE=$SIM_DIR/storage/node-1

# files: every snapshot file the node holds, in its bucket or on its disk.
files() {
	find "$NODE/s3-bucket" "$NODE/snapshots" -type f | sort
}

test_expect_success 'set up: a collection with a payload index, one without' '
	sim_generate c1 400 8 1 &&
	sim_generate c2 300 8 2 &&
	sim_api PUT "/collections/c1/index?wait=true" "{\"field_name\":\"category\",\"field_schema\":\"keyword\"}" >/dev/null &&
	repo_init "$R"
'

test_expect_success 'the simulator: stored snapshots are listed without checksum' '
	sim_api POST "/collections/c2/snapshots?wait=true" >"$TEST_TMP/snap" &&
	N=$(json_get "$TEST_TMP/snap" "d[\"result\"][\"name\"]") &&
	test -f "$NODE/s3-bucket/c2/$N" &&
	sim_api GET /collections/c2/snapshots >"$TEST_TMP/list" &&
	test "$(json_get "$TEST_TMP/list" "[\"checksum\" in s for s in d[\"result\"]]")" = "[false]"
'

test_expect_success '... and sent as a stream: no length, no range' '
	curl -sSf -D "$TEST_TMP/h" -H "Range: bytes=0-9" -o "$TEST_TMP/dl" "$SIM_URL/collections/c2/snapshots/$N" &&
	test_grep "^HTTP/1.1 200" "$TEST_TMP/h" &&
	grep -i "^transfer-encoding: chunked" "$TEST_TMP/h" &&
	! grep -i "^content-length\|^accept-ranges\|^content-range" "$TEST_TMP/h" &&
	cmp "$TEST_TMP/dl" "$NODE/s3-bucket/c2/$N" &&
	sim_api DELETE "/collections/c2/snapshots/$N?wait=true" >/dev/null &&
	test -z "$(files)"
'

test_expect_success '... while an upload stays on the local disk, out of reach' '
	curl -sSf -F "snapshot=@$TEST_TMP/dl;filename=up.snapshot" "$SIM_URL/collections/c3/snapshots/upload?wait=true" >/dev/null &&
	test -f "$NODE/snapshots/c3/up.snapshot" &&
	sim_api GET /collections/c3/snapshots >"$TEST_TMP/list" &&
	test "$(json_get "$TEST_TMP/list" "len(d[\"result\"])")" = 0 &&
	test_expect_code=$(curl -s -o /dev/null -w "%{http_code}" -X DELETE "$SIM_URL/collections/c3/snapshots/up.snapshot?wait=true") &&
	test "$test_expect_code" = 404 &&
	rm "$NODE/snapshots/c3/up.snapshot" &&
	sim_api DELETE /collections/c3 >/dev/null
'

test_expect_success 'a backup by collection snapshot and by shards leaves no snapshot' '
	qbk-backup $Q --json >"$TEST_TMP/b.json" &&
	B=$(json_get "$TEST_TMP/b.json" "d[\"backup_id\"]") &&
	test "$(json_get "$TEST_TMP/b.json" "sorted(c[\"name\"] for c in d[\"collections\"])")" = "[\"c1\", \"c2\"]" &&
	qbk-backup $Q --method snapshot -q &&
	test -z "$(files)"
'

test_expect_success 'a full storage backup leaves none either' '
	qbk-backup $Q --full-storage -q &&
	test -z "$(files)"
'

test_expect_success 'a restore by shards leaves nothing and warns of nothing' '
	qbk-restore $Q --backup "$B" --collection c2 --as c2new --json >"$TEST_TMP/r.json" &&
	test "$(json_get "$TEST_TMP/r.json" "d[\"warnings\"]")" = "[]" &&
	test -z "$(files)"
'

test_expect_success 'a restore by collection snapshot says which file the node keeps' '
	qbk-backup $Q --collection c1 --json >"$TEST_TMP/b1.json" &&
	B1=$(json_get "$TEST_TMP/b1.json" "d[\"backup_id\"]") &&
	qbk-restore $Q --backup "$B1" --collection c1 --as c1new --json >"$TEST_TMP/r.json" &&
	test "$(json_get "$TEST_TMP/r.json" "d[\"ok\"]")" = true &&
	F=$(cd "$NODE/snapshots/c1new" && ls) &&
	json_get "$TEST_TMP/r.json" "d[\"warnings\"]" >"$TEST_TMP/w" &&
	test_grep "keeps the uploaded snapshot file .$F. in its local snapshots folder .c1new/." "$TEST_TMP/w" &&
	rm "$NODE/snapshots/c1new/$F"
'

test_expect_success 'a drill of it says so too' '
	qbk-drill $Q --backup "$B1" 2>"$TEST_TMP/err" &&
	test_grep "warning: the node keeps the uploaded snapshot file" "$TEST_TMP/err"
'

test_done
