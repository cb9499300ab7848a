#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'strict mode: backup, restore, drill and verify --live on a collection that refuses exact counts and big pages'

sim_start
R=$(repo_location repo)
C=$TEST_TMP/all.conf
printf "[backup]\nsample_points = 1000\n[drill]\nsample_points = 1000\n" >"$C"
Q="--url $SIM_URL --repo $R -c $C"
STRICT='{"enabled":true,"max_query_limit":40,"search_allow_exact":false}'

# strict_of COLLECTION: its strict mode config as the simulator shows it.
strict_of() {
	sim_api GET "/collections/$1" >"$TEST_TMP/info" &&
	json_get "$TEST_TMP/info" 'json.dumps(d["result"]["config"]["strict_mode_config"], sort_keys=True)'
}

test_expect_success 'set up: a collection in strict mode, a repository' '
	sim_generate s1 300 4 1 &&
	sim_api PATCH /collections/s1 "{\"strict_mode_config\":$STRICT}" >/dev/null &&
	test "$(strict_of s1)" = "{\"enabled\": true, \"max_query_limit\": 40, \"search_allow_exact\": false}" &&
	! sim_api POST /collections/s1/points/count "{\"exact\":true}" 2>/dev/null &&
	repo_init "$R"
'

test_expect_success 'a backup with content hashes counts by scrolling, and says so' '
	qbk-backup $Q --content-hash -v --json >"$TEST_TMP/b.json" 2>"$TEST_TMP/b.err" &&
	test "$(json_get "$TEST_TMP/b.json" "d[\"collections\"][0][\"points_count\"]")" = 300 &&
	test_grep "strict mode of .s1. refuses an exact count: counted its points by scrolling" "$TEST_TMP/b.err" &&
	test_grep "strict mode of .s1. allows at most 40 points a request" "$TEST_TMP/b.err"
'

test_expect_success 'a restore carries the strict mode over' '
	qbk-restore $Q --collection s1 --as s1new --json >"$TEST_TMP/r.json" &&
	test "$(json_get "$TEST_TMP/r.json" "d[\"ok\"]")" = true &&
	test "$(strict_of s1new)" = "$(strict_of s1)" &&
	sim_api POST /collections/s1new/points/count "{\"exact\":false}" >"$TEST_TMP/n" &&
	test "$(json_get "$TEST_TMP/n" "d[\"result\"][\"count\"]")" = 300 &&
	sim_api DELETE /collections/s1new >/dev/null
'

test_expect_success 'an exhaustive drill passes and compares exact counts' '
	qbk-drill $Q --validation exhaustive --json >"$TEST_TMP/d.json" 2>"$TEST_TMP/d.err" &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"problems\"]")" = "[]" &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"points_checked\"] >= 300")" = true
'

test_expect_success 'verify --live matches the backup' '
	qbk-verify $Q --live --json >"$TEST_TMP/v.json" &&
	test "$(json_get "$TEST_TMP/v.json" "d[\"ok\"]")" = true
'

# Qdrant's points_count is an estimate: it adds up its segments' counts,
# and from 1.17 deferred points (optimizer_config.prevent_unoptimized)
# count there before a read can see them.  Serve an info whose estimate is
# 12 over: the exact count, by scrolling here, decides.
test_expect_success 'verify --live: an estimate that is off is checked by an exact count' '
	sim_api GET /collections/s1 >"$TEST_TMP/info" &&
	python3 -c "import json, sys
d = json.load(open(sys.argv[1])); d[\"result\"][\"points_count\"] += 12
print(json.dumps({\"method\": \"GET\", \"path_regex\": \"^/collections/s1$\", \"count\": -1, \"status\": 200, \"body\": d}))" "$TEST_TMP/info" >"$TEST_TMP/rule" &&
	sim_fault "$(cat "$TEST_TMP/rule")" &&
	sim_api GET /collections/s1 >"$TEST_TMP/info2" &&
	test "$(json_get "$TEST_TMP/info2" "d[\"result\"][\"points_count\"]")" = 312 &&
	qbk-verify $Q --live -v --json >"$TEST_TMP/v.json" 2>"$TEST_TMP/v.err" &&
	test "$(json_get "$TEST_TMP/v.json" "d[\"ok\"]")" = true &&
	test_grep "collection .s1.: 312 points by its estimate, 300 counted exactly, as the backup recorded" "$TEST_TMP/v.err" &&
	sim_api DELETE /__sim/faults >/dev/null
'

test_expect_exit 3 'verify --live finds points deleted since the backup' '
	sim_api POST "/collections/s1/points/delete?wait=true" "{\"points\":[1,2,3]}" >/dev/null &&
	qbk-verify $Q --live
'

test_expect_success '... and names the exact count' '
	test_grep "collection .s1.: collection has 297 points, the backup recorded 300" "$TEST_TMP/stdout"
'

test_done
