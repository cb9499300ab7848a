#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'cluster backups and replicas in the states of a resharding (ActiveRead, Resharding, ReshardingScaleDown)'

R=$TEST_TMP/repo
C=$TEST_TMP/qbk.conf

# state SHARD NODE STATE: put the replica of SHARD of "r" on NODE in STATE.
state() {
	sim_api POST /__sim/replica_state "{\"collection\":\"r\",\"shard\":$1,\"node\":$2,\"state\":\"$3\"}" >/dev/null
}

test_expect_success 'set up a 2-node cluster: shard 0 on node 1 only, shard 1 on both' '
	sim_start --nodes 2 &&
	cat >"$C" <<-EOF &&
	[qdrant]
	url = $SIM_URL
	nodes = $SIM_URLS
	[repository]
	location = $R
	EOF
	sim_api POST /__sim/generate "{\"collection\":\"r\",\"points\":400,\"dim\":8,\"shard_number\":2,\"replication_factor\":1}" >/dev/null &&
	sim_api POST /__sim/generate "{\"collection\":\"s\",\"points\":300,\"dim\":8,\"shard_number\":1,\"replication_factor\":2}" >/dev/null &&
	sim_api GET /__sim/state >"$TEST_TMP/state" &&
	P1=$(json_get "$TEST_TMP/state" "d[\"result\"][\"nodes\"][0][\"peer_id\"]") &&
	P2=$(json_get "$TEST_TMP/state" "d[\"result\"][\"nodes\"][1][\"peer_id\"]") &&
	sim_api GET /collections/r/cluster >"$TEST_TMP/cc" &&
	test "$(json_get "$TEST_TMP/cc" "[s[\"shard_id\"] for s in d[\"result\"][\"local_shards\"]]")" = "[0]" &&
	repo_init "$R"
'

test_expect_success 'the simulator puts a replica in any of Qdrant'"'"'s states, and refuses others' '
	state 0 1 ActiveRead &&
	sim_api GET /collections/r/cluster >"$TEST_TMP/cc" &&
	test "$(json_get "$TEST_TMP/cc" "d[\"result\"][\"local_shards\"][0][\"state\"]")" = ActiveRead &&
	! state 0 1 Sleeping
'

test_expect_success 'a shard whose only replica is ActiveRead is backed up from it' '
	qbk-backup -c "$C" --collection r --json >"$TEST_TMP/b.json" &&
	test "$(json_get "$TEST_TMP/b.json" "d[\"ok\"]")" = true
'

test_expect_success 'a shard whose only replica is ReshardingScaleDown is backed up from it' '
	state 0 1 ReshardingScaleDown &&
	qbk-backup -c "$C" --collection r -q
'

test_expect_success 'the backup restores every point' '
	sim_points r >"$TEST_TMP/r.before" &&
	qbk-restore -c "$C" --collection r --as r2 -q &&
	sim_points r2 >"$TEST_TMP/r2" &&
	test_cmp "$TEST_TMP/r.before" "$TEST_TMP/r2"
'

test_expect_success 'set up: a shard whose only replica is Resharding' '
	state 0 1 Resharding
'

test_expect_exit 1 'it is not read: the backup fails' '
	qbk-backup -c "$C" --collection r
'

test_expect_success '... naming the shard and its state' '
	test_grep "shard 0.*Resharding" "$TEST_TMP/stderr" &&
	state 0 1 Active
'

test_expect_success 'an Active replica is taken before an ActiveRead one' '
	sim_api POST /__sim/replica_state "{\"collection\":\"s\",\"shard\":0,\"node\":1,\"state\":\"ActiveRead\"}" >/dev/null &&
	qbk-backup -c "$C" --collection s --json >"$TEST_TMP/b.json" &&
	B=$(json_get "$TEST_TMP/b.json" "d[\"backup_id\"]") &&
	test "$(json_get "$TEST_TMP/b.json" "[s[\"peer_id\"] for c in d[\"collections\"] for s in c[\"snapshots\"]]")" = "[\"$P2\"]"
'

test_done
