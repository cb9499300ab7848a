#!/bin/sh
# Requests that must not be repeated blindly: Qdrant finishes a snapshot
# creation or a recovery after the client is gone (a proxy's 502/504, a
# broken connection), so a lost answer is followed by a look, not a retry.
# The simulator's "after_handler" fault rules lose the answer after the work
# is done; a second rule on the same path counts any repeat.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'lost answers: snapshots adopted, recoveries never repeated'

sim_start
R=$(repo_location repo)
Q="--url $SIM_URL --repo $R -c /dev/null"

# lose_answer PATH METHOD ACTION: the next PATH request is carried out but
# its answer lost (ACTION: "status":504, "reset":true ...); a second rule
# counts the requests that follow it.
lose_answer() {
	sim_api DELETE /__sim/faults >/dev/null &&
	sim_fault "[{\"path\":\"$1\",\"method\":\"$2\",$3,\"after_handler\":true},{\"path\":\"$1\",\"method\":\"$2\",\"delay_ms\":0,\"count\":-1}]"
}

# repeats: how many requests came after the one whose answer was lost.
repeats() {
	sim_api GET /__sim/faults >"$TEST_TMP/rules" &&
	json_get "$TEST_TMP/rules" "d[\"result\"][\"rules\"][1][\"applied\"]"
}

snapshots_left() {
	sim_api GET "/collections/$1/snapshots" >"$TEST_TMP/list" &&
	json_get "$TEST_TMP/list" "len(d[\"result\"])"
}

test_expect_success 'set up a collection and a repository' '
	sim_generate c1 2000 16 1 &&
	repo_init "$R" &&
	sim_points c1 >"$TEST_TMP/c1.before"
'

test_expect_success 'a 504 after the snapshot was made: it is adopted' '
	lose_answer /collections/c1/snapshots POST "\"status\":504" &&
	qbk-backup $Q --collection c1 --method snapshot --json \
		>"$TEST_TMP/b1.json" 2>"$TEST_TMP/err" &&
	test "$(repeats)" = 0 &&
	test_grep "adopting snapshot .c1-" "$TEST_TMP/err" &&
	sim_api DELETE /__sim/faults >/dev/null
'

test_expect_success '... no full-size snapshot is left on the node' '
	test "$(snapshots_left c1)" = 0
'

test_expect_success '... and the backup is whole' '
	B1=$(json_get "$TEST_TMP/b1.json" "d[\"backup_id\"]") &&
	qbk-verify $Q --backup "$B1" -q
'

test_expect_success 'a connection reset after the snapshot was made: the same' '
	lose_answer /collections/c1/snapshots POST "\"reset\":true" &&
	qbk-backup $Q --collection c1 --method snapshot 2>"$TEST_TMP/err" &&
	test "$(repeats)" = 0 &&
	test_grep "adopting snapshot .c1-" "$TEST_TMP/err" &&
	test "$(snapshots_left c1)" = 0
'

test_expect_success 'a 502 before anything was made: asked again, once' '
	sim_api DELETE /__sim/faults >/dev/null &&
	sim_fault "{\"path\":\"/collections/c1/snapshots\",\"method\":\"POST\",\"status\":502}" &&
	qbk-backup $Q --collection c1 --method snapshot 2>"$TEST_TMP/err" &&
	test_grep "asking again" "$TEST_TMP/err" &&
	test "$(snapshots_left c1)" = 0 &&
	sim_api DELETE /__sim/faults >/dev/null
'

test_expect_success 'a 504 after a recovery: no second recovery, the data is in' '
	lose_answer /collections/c1new/snapshots/upload POST "\"status\":504" &&
	qbk-restore $Q --backup "$B1" --collection c1 --as c1new \
		2>"$TEST_TMP/err" &&
	test "$(repeats)" = 0 &&
	test_grep "waiting for its outcome" "$TEST_TMP/err" &&
	sim_points c1new >"$TEST_TMP/c1new" &&
	test_cmp "$TEST_TMP/c1.before" "$TEST_TMP/c1new" &&
	sim_api DELETE /__sim/faults >/dev/null
'

test_expect_exit 1 'a 504 after a recovery that failed: it fails, not retried' '
	sim_api DELETE /__sim/faults >/dev/null &&
	sim_fault "[{\"path\":\"/collections/c1new/snapshots/upload\",\"method\":\"POST\",\"fail_load\":true,\"status\":504,\"after_handler\":true},{\"path\":\"/collections/c1new/snapshots/upload\",\"method\":\"POST\",\"delay_ms\":0,\"count\":-1}]" &&
	qbk-restore $Q --backup "$B1" --collection c1 --as c1new --force
'
test_expect_success '... says so in one line, with the shard that is Dead' '
	test "$(repeats)" = 0 &&
	test_grep "^qbk-restore: .*the recovery failed on Qdrant: shard 0 of .c1new. is Dead" "$TEST_TMP/stderr" &&
	sim_api DELETE /__sim/faults >/dev/null
'

# Qdrant that goes on recovering for as long as the test likes: the answer
# to the upload is held (the recovery itself done) until a rule is in place
# that shows the replica still Partial to every look that follows.
test_expect_exit 130 'waiting for the outcome of a lost recovery, SIGINT stops it ...' '
	sim_api DELETE /__sim/faults >/dev/null &&
	sim_fault "{\"path\":\"/collections/c1late/snapshots/upload\",\"method\":\"POST\",\"status\":504,\"hold\":true,\"after_handler\":true}" &&
	{ qbk-restore $Q --backup "$B1" --collection c1 --as c1late & } &&
	pid=$! &&
	sim_held &&
	sim_api GET /collections/c1late/cluster >"$TEST_TMP/cl.json" &&
	python3 -c "import json, sys
d = json.load(open(sys.argv[1]))
for s in d[\"result\"][\"local_shards\"]:
    s[\"state\"] = \"Partial\"
print(json.dumps({\"path\": \"/collections/c1late/cluster\", \"method\": \"GET\", \"status\": 200, \"body\": d, \"count\": -1}))" \
		"$TEST_TMP/cl.json" >"$TEST_TMP/partial.rule" &&
	sim_fault "$(cat "$TEST_TMP/partial.rule")" &&
	sim_release &&
	_i=0 &&
	while [ "$(sim_api GET /__sim/faults | python3 -c "import json, sys; print(json.load(sys.stdin)[\"result\"][\"rules\"][-1][\"applied\"])")" -lt 1 ] &&
	    [ "$_i" -lt 1800 ]; do _i=$((_i + 1)); sleep 0.1; done &&
	kill -INT $pid
	wait $pid
'
test_expect_success '... at once, saying what it was waiting for' '
	test_grep "interrupted while waiting for the outcome of the recovery of .c1late., which Qdrant goes on with" "$TEST_TMP/stderr" &&
	sim_api DELETE /__sim/faults >/dev/null
'

test_done
