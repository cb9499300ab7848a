#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'grey and yellow restores: restore wakes the optimizers, drill and verify --live count them readable, drill records the time until green'

# Qdrant never triggers the optimizers of a recovered shard
# (src/common/snapshots.rs): the collection is grey until something wakes
# them, then yellow while they run.  The simulator does the same, and
# POST /__sim/optimizer holds its optimizations (yellow until released),
# so that nothing here depends on timing.
sim_start
R=$(repo_location repo)
C=$TEST_TMP/wait.conf
printf "[drill]\ngreen_wait = 1s\n" >"$C"
Q="--url $SIM_URL --repo $R -c /dev/null"
QD="--url $SIM_URL --repo $R -c $C"

# status NAME: the status the simulator reports for collection NAME.
status() {
	sim_api GET "/collections/$1" >"$TEST_TMP/info" &&
	json_get "$TEST_TMP/info" 'd["result"]["status"]'
}

# hold PATTERN true|false: hold or release the optimizations of the
# collections matching PATTERN.
hold() {
	sim_api POST /__sim/optimizer "{\"collection\":\"$1\",\"hold\":$2}" >/dev/null
}

test_expect_success 'set up a collection and a backup of it' '
	sim_generate c1 300 4 1 &&
	repo_init "$R" &&
	qbk-backup $Q --json >"$TEST_TMP/b.json" &&
	B=$(json_get "$TEST_TMP/b.json" "d[\"backup_id\"]")
'

test_expect_success 'qbk-restore wakes the optimizers of the shards it recovered (yellow, not grey)' '
	hold r1 true &&
	qbk-restore $Q --collection c1 --as r1 &&
	test "$(status r1)" = yellow &&
	test "$(sim_points r1 | wc -l)" = 300
'

test_expect_success '... and the collection turns green once they are done' '
	hold r1 false &&
	test "$(status r1)" = green &&
	sim_api DELETE /collections/r1 >/dev/null
'

test_expect_success 'qbk-drill: a restore still optimizing (yellow) is restored and readable, not a failure' '
	hold "qbk-drill-*" true &&
	qbk-drill $QD --json >"$TEST_TMP/d.json" &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"problems\"]")" = "[]" &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"rto_ms\"] >= d[\"phases\"][\"restore\"]")" = true &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"green_ms\"]")" = null
'

test_expect_success '... the record says it was not green within the wait' '
	D=$(json_get "$TEST_TMP/d.json" "d[\"drill_id\"]") &&
	qbk-drill $QD --list --json >"$TEST_TMP/list.json" &&
	test "$(json_get "$TEST_TMP/list.json" "[x[\"green_ms\"] for x in d[\"drills\"] if x[\"drill_id\"] == \"$D\"]")" = "[null]" &&
	qbk-drill $QD --list >"$TEST_TMP/list.txt" &&
	test_grep "^$D backup $B [a-z]* latest pass rto [0-9.]* s not green$" "$TEST_TMP/list.txt"
'

test_expect_success '... and the text output says so' '
	qbk-drill $QD >"$TEST_TMP/d.txt" &&
	test_grep "^drill .*: passed, recovery time " "$TEST_TMP/d.txt" &&
	test_grep "^not green yet .optimizations pending or running.: readable, restored$" "$TEST_TMP/d.txt"
'

test_expect_success 'qbk-drill: the time until green is measured apart from the RTO' '
	hold "qbk-drill-*" false &&
	qbk-drill $QD --json >"$TEST_TMP/g.json" &&
	test "$(json_get "$TEST_TMP/g.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/g.json" "d[\"green_ms\"] >= d[\"rto_ms\"]")" = true &&
	D=$(json_get "$TEST_TMP/g.json" "d[\"drill_id\"]") &&
	qbk-drill $QD --list --json >"$TEST_TMP/list.json" &&
	test "$(json_get "$TEST_TMP/list.json" "[x[\"green_ms\"] == $(json_get "$TEST_TMP/g.json" "d[\"green_ms\"]") for x in d[\"drills\"] if x[\"drill_id\"] == \"$D\"]")" = "[true]" &&
	qbk-drill $QD --metrics-file "$TEST_TMP/g.prom" >"$TEST_TMP/g.txt" &&
	test_grep "^green after [0-9.]* s$" "$TEST_TMP/g.txt" &&
	test_grep "^qbk_drill_green_seconds [0-9.]*$" "$TEST_TMP/g.prom"
'

test_expect_success 'qbk-report shows the time until green of the last drill' '
	qbk-report --repo "$R" -c "$C" --json >"$TEST_TMP/r.json" &&
	test "$(json_get "$TEST_TMP/r.json" "d[\"drills\"][\"last\"][\"green_seconds\"] is not None")" = true &&
	qbk-report --repo "$R" -c "$C" >"$TEST_TMP/r.txt" &&
	test_grep "^last drill green after " "$TEST_TMP/r.txt"
'

test_expect_exit 2 '[drill] green_wait must be a duration' '
	printf "[drill]\ngreen_wait = soon\n" >"$TEST_TMP/bad.conf" &&
	qbk-drill --url $SIM_URL --repo "$R" -c "$TEST_TMP/bad.conf"
'
test_expect_success '... named in a one-line error' '
	test_grep "green_wait" "$TEST_TMP/stderr" &&
	test "$(wc -l <"$TEST_TMP/stderr")" = 1
'

# A collection whose shard was recovered by hand (as Qdrant's API allows):
# grey, its optimizations pending, its data whole.
test_expect_success 'a shard recovered outside qbk leaves its collection grey' '
	sim_api POST /collections/c1/shards/0/snapshots >"$TEST_TMP/s.json" &&
	N=$(json_get "$TEST_TMP/s.json" "d[\"result\"][\"name\"]") &&
	curl -sSf -o "$TEST_TMP/s.snapshot" "$SIM_URL/collections/c1/shards/0/snapshots/$N" &&
	curl -sSf -F "snapshot=@$TEST_TMP/s.snapshot" "$SIM_URL/collections/c1/shards/0/snapshots/upload" >/dev/null &&
	test "$(status c1)" = grey
'

test_expect_success 'qbk-verify --live: a grey collection is readable and matches the backup' '
	qbk-verify $Q --live --json >"$TEST_TMP/v.json" &&
	test "$(json_get "$TEST_TMP/v.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/v.json" "d[\"problems\"]")" = "[]"
'

test_expect_success 'qbk-verify --live: so is a yellow one (optimizing)' '
	hold c1 true &&
	sim_api PATCH /collections/c1 "{\"optimizers_config\":{}}" >/dev/null &&
	test "$(status c1)" = yellow &&
	qbk-verify $Q --live --json >"$TEST_TMP/v.json" &&
	test "$(json_get "$TEST_TMP/v.json" "d[\"ok\"]")" = true &&
	hold c1 false
'

test_done
