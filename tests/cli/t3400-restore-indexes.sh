#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'qbk-restore: payload indexes over an existing collection'

sim_start
R=$(repo_location repo)
Q="--url $SIM_URL --repo $R -c /dev/null"

# schema COLLECTION: the payload indexes of COLLECTION, [field, data_type]
# pairs sorted by field.
schema() {
	sim_api GET "/collections/$1" >"$TEST_TMP/info" &&
	json_get "$TEST_TMP/info" \
	    "sorted([k, v[\"data_type\"]] for k, v in d[\"result\"][\"payload_schema\"].items())"
}

test_expect_success 'set up a collection with two payload indexes and a backup' '
	sim_generate c1 500 8 1 &&
	sim_api PUT "/collections/c1/index?wait=true" "{\"field_name\":\"category\",\"field_schema\":\"keyword\"}" >/dev/null &&
	sim_api PUT "/collections/c1/index?wait=true" "{\"field_name\":\"number\",\"field_schema\":\"integer\"}" >/dev/null &&
	schema c1 >"$TEST_TMP/schema.before" &&
	test_grep "category.*keyword" "$TEST_TMP/schema.before" &&
	repo_init "$R" &&
	qbk-backup $Q --collection c1 -q &&
	sim_points c1 >"$TEST_TMP/c1.before"
'

test_expect_success 'the simulator keeps the existing schema on recovery, as Qdrant does' '
	sim_api DELETE "/collections/c1/index/category?wait=true" >/dev/null &&
	sim_api DELETE "/collections/c1/index/number?wait=true" >/dev/null &&
	sim_api POST "/collections/c1/snapshots?wait=true" >"$TEST_TMP/snap" &&
	N=$(json_get "$TEST_TMP/snap" "d[\"result\"][\"name\"]") &&
	sim_api PUT "/collections/c1/index?wait=true" "{\"field_name\":\"category\",\"field_schema\":\"keyword\"}" >/dev/null &&
	sim_api PUT "/collections/c1/snapshots/recover?wait=true" "{\"location\":\"file://$SIM_DIR/storage/node-1/snapshots/c1/$N\"}" >/dev/null &&
	test "$(schema c1)" = "[[\"category\", \"keyword\"]]" &&
	sim_api DELETE "/collections/c1/snapshots/$N?wait=true" >/dev/null
'

test_expect_success 'restore --force over the collection without them re-creates them' '
	sim_api DELETE "/collections/c1/index/category?wait=true" >/dev/null &&
	test "$(schema c1)" = "[]" &&
	qbk-restore $Q --collection c1 --force -q &&
	schema c1 >"$TEST_TMP/schema.after" &&
	test_cmp "$TEST_TMP/schema.before" "$TEST_TMP/schema.after" &&
	sim_points c1 >"$TEST_TMP/c1.after" &&
	test_cmp "$TEST_TMP/c1.before" "$TEST_TMP/c1.after"
'

test_expect_success 'set up: an index request that always fails' '
	sim_api DELETE "/collections/c1/index/category?wait=true" >/dev/null &&
	sim_fault "{\"method\":\"PUT\",\"path\":\"/collections/c1/index\",\"status\":400,\"count\":-1}"
'

test_expect_exit 1 '... a failure to create one fails the restore, naming it' '
	qbk-restore $Q --collection c1 --force -q
'

test_expect_success '... in one line, and names the safety backup' '
	head -n 1 "$TEST_TMP/stderr" >"$TEST_TMP/first" &&
	test_grep "payload indexes of collection .c1. were not restored: .*category" "$TEST_TMP/first" &&
	test_grep "^hint: .*safety backup" "$TEST_TMP/stderr" &&
	sim_api DELETE /__sim/faults >/dev/null
'

test_expect_success 'a restore into a new collection has them too' '
	qbk-restore $Q --collection c1 --as c1new -q &&
	schema c1new >"$TEST_TMP/schema.new" &&
	test_cmp "$TEST_TMP/schema.before" "$TEST_TMP/schema.new"
'

test_expect_success 'a backup by shard streams records them, without a warning' '
	sim_api PUT "/collections/c1/index?wait=true" "{\"field_name\":\"category\",\"field_schema\":\"keyword\"}" >/dev/null &&
	test "$(schema c1)" = "$(cat "$TEST_TMP/schema.before")" &&
	qbk-backup $Q --collection c1 --method stream 2>"$TEST_TMP/err" &&
	! grep -i "payload ind" "$TEST_TMP/err"
'

test_expect_success '... and restore --force of it over the collection re-creates them' '
	sim_api DELETE "/collections/c1/index/number?wait=true" >/dev/null &&
	qbk-restore $Q --collection c1 --force -q &&
	schema c1 >"$TEST_TMP/schema.stream" &&
	test_cmp "$TEST_TMP/schema.before" "$TEST_TMP/schema.stream"
'

test_expect_success '... as does a restore of it into a new collection' '
	qbk-restore $Q --collection c1 --as c1stream -q &&
	schema c1stream >"$TEST_TMP/schema.stream2" &&
	test_cmp "$TEST_TMP/schema.before" "$TEST_TMP/schema.stream2"
'

test_done
