#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'point ids up to 2^64-1: backup, restore, drill and verify --live send them as JSON numbers'

sim_start
R=$(repo_location repo)
C=$TEST_TMP/all.conf
printf "[backup]\nsample_points = 1000\n[drill]\nsample_points = 1000\n" >"$C"
Q="--url $SIM_URL --repo $R -c $C"

# 50 small ids and 300 above 2^63-1, up to 2^64-1: a scroll page of 256
# ends inside the big ones, so the next page starts at one.
python3 - >"$TEST_TMP/points.json" <<'PY'
import json
ids = list(range(1, 51)) + [2**64 - 1 - k for k in range(300)]
pts = [{"id": i, "vector": [((i >> s) % 97) / 97.0 + 0.01 for s in (0, 7, 14, 21)],
        "payload": {"k": n}} for n, i in enumerate(ids)]
print(json.dumps({"points": pts}))
PY

test_expect_success 'set up: a collection with ids above 2^63-1, a repository' '
	sim_api PUT /collections/big "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"}}" >/dev/null &&
	sim_api PUT "/collections/big/points?wait=true" "$(cat "$TEST_TMP/points.json")" >/dev/null &&
	sim_points big >"$TEST_TMP/before" &&
	test "$(wc -l <"$TEST_TMP/before")" = 350 &&
	test_grep "^\{\"id\": 18446744073709551615," "$TEST_TMP/before" &&
	repo_init "$R"
'

test_expect_success 'a backup with content hashes reads every page' '
	qbk-backup $Q --content-hash --json >"$TEST_TMP/b.json" &&
	test "$(json_get "$TEST_TMP/b.json" "d[\"collections\"][0][\"points_count\"]")" = 350
'

test_expect_success 'an exhaustive drill passes: sampled big ids are retrieved as numbers' '
	qbk-drill $Q --validation exhaustive --json >"$TEST_TMP/d.json" &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"problems\"]")" = "[]" &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"points_checked\"]")" = 700
'

test_expect_success 'a restore brings every point back with its id' '
	qbk-restore $Q --collection big --as big2 -q &&
	sim_points big2 >"$TEST_TMP/after" &&
	test_cmp "$TEST_TMP/before" "$TEST_TMP/after" &&
	sim_api DELETE /collections/big2 >/dev/null
'

test_expect_success 'verify --live matches the backup' '
	qbk-verify $Q --live --json >"$TEST_TMP/v.json" &&
	test "$(json_get "$TEST_TMP/v.json" "d[\"ok\"]")" = true
'

test_done
