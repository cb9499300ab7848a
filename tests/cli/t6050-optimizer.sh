#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'grey and yellow restores: restore wakes the optimizers, verify --live counts them readable'

# Qdrant never triggers the optimizers of a recovered shard
# (src/common/snapshots.rs): the collection is grey until something wakes
# them, then yellow while they run.  The simulator does the same, and
# POST /__sim/optimizer holds its optimizations (yellow until released),
# so that nothing here depends on timing.
sim_start
R=$(repo_location repo)
Q="--url $SIM_URL --repo $R -c /dev/null"

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
	_i=0 &&
	while [ "$(status r1)" != green ] && [ "$_i" -lt 300 ]; do
		_i=$((_i + 1)); sleep 0.1
	done &&
	test "$(status r1)" = green &&
	sim_api DELETE /collections/r1 >/dev/null
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
