#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'a shard stream that Qdrant ends early: retried, never stored'

sim_start
R=$(repo_location repo)
Q="--url $SIM_URL --repo $R -c /dev/null"
S=/collections/c1/shards/0/snapshot

# members FILE: "offset name" of each member of the tar FILE, in order.
members() {
	python3 -c 'import sys, tarfile
with tarfile.open(sys.argv[1], "r:") as t:
    for m in t:
        print(m.offset, m.name)' "$1"
}

test_expect_success 'set up a collection and a repository' '
	sim_generate c1 3000 32 1 &&
	repo_init "$R"
'

test_expect_success 'the stream ends with replica_state.json, shard_config.json' '
	curl -sSf -o "$TEST_TMP/full.tar" "$SIM_URL$S" &&
	members "$TEST_TMP/full.tar" >"$TEST_TMP/members" &&
	test_grep "segments/" "$TEST_TMP/members" &&
	test_grep " wal" "$TEST_TMP/members" &&
	tail -n 2 "$TEST_TMP/members" | cut -d " " -f 2 >"$TEST_TMP/last" &&
	printf "replica_state.json\nshard_config.json\n" >"$TEST_TMP/want" &&
	test_cmp "$TEST_TMP/want" "$TEST_TMP/last"
'

# Where shard_config.json begins, and where the members end (the full
# stream less its end: the sim, as Qdrant, writes two zero blocks).
CUT_CONFIG=$(tail -n 1 "$TEST_TMP/members" | cut -d " " -f 1)
CUT_END=$(($(wc -c <"$TEST_TMP/full.tar") - 1024))

count_backups() {
	repo_count_backups repo
}

test_expect_success 'end_after_bytes ends the chunked body cleanly' '
	sim_fault "{\"path\":\"$S\",\"end_after_bytes\":$CUT_CONFIG}" &&
	curl -sSf -o "$TEST_TMP/cut.tar" "$SIM_URL$S" &&
	test "$(wc -c <"$TEST_TMP/cut.tar")" -eq "$CUT_CONFIG" &&
	cmp -n "$CUT_CONFIG" "$TEST_TMP/cut.tar" "$TEST_TMP/full.tar"
'

test_expect_exit 3 'a stream that always ends before shard_config.json fails' '
	sim_fault "{\"path\":\"$S\",\"end_after_bytes\":$CUT_CONFIG,\"count\":-1}" &&
	qbk-backup $Q --collection c1 --method stream
'
test_expect_success '... saying why, after two more tries, storing nothing' '
	test_grep "end-of-archive" "$TEST_TMP/stderr" &&
	test "$(grep -c "streaming it again" "$TEST_TMP/stderr")" -eq 2 &&
	sim_api GET /__sim/faults >"$TEST_TMP/rules" &&
	test "$(json_get "$TEST_TMP/rules" "d[\"result\"][\"rules\"][-1][\"applied\"]")" = 3 &&
	test "$(count_backups)" -eq 0 &&
	sim_api DELETE /__sim/faults
'

test_expect_exit 3 'a stream that always ends before the end-of-archive blocks fails' '
	sim_fault "{\"path\":\"$S\",\"end_after_bytes\":$CUT_END,\"count\":-1}" &&
	qbk-backup $Q --collection c1 --method stream
'
test_expect_success '... saying so, storing nothing' '
	test_grep "end-of-archive" "$TEST_TMP/stderr" &&
	test "$(count_backups)" -eq 0 &&
	sim_api DELETE /__sim/faults
'

test_expect_exit 3 'a stream cut inside a member fails the same way' '
	sim_fault "{\"path\":\"$S\",\"end_after_bytes\":$((CUT_CONFIG - 700)),\"count\":-1}" &&
	qbk-backup $Q --collection c1 --method stream
'
test_expect_success '... storing nothing' '
	test "$(grep -c "streaming it again" "$TEST_TMP/stderr")" -eq 2 &&
	test "$(count_backups)" -eq 0 &&
	sim_api DELETE /__sim/faults
'

test_expect_success 'a stream that ends early once is streamed again and stored' '
	sim_fault "{\"path\":\"$S\",\"end_after_bytes\":$CUT_CONFIG}" &&
	qbk-backup $Q --collection c1 --method stream --json \
		>"$TEST_TMP/b.json" 2>"$TEST_TMP/b.err" &&
	test_grep "streaming it again" "$TEST_TMP/b.err" &&
	test "$(json_get "$TEST_TMP/b.json" "d[\"ok\"]")" = true &&
	test "$(count_backups)" -eq 1
'
test_expect_success '... and the stored shard is whole' '
	qbk-verify --repo $R -c /dev/null --read-data
'

# ---- a cluster: the shard comes from the other Active replica, then from
# the same again.  Each node cuts its first stream: the first replica
# tried is cut, then the other one, whose second stream is whole.
sim_start --nodes 2
cat >"$TEST_TMP/cl.conf" <<EOF
[qdrant]
url = $(echo "$SIM_URLS" | cut -d' ' -f1)
nodes = $SIM_URLS
[repository]
location = $R
EOF

test_expect_success 'set up a replicated collection on two nodes' '
	sim_api POST /__sim/generate "{\"collection\":\"r\",\"points\":2000,\"dim\":16,\"shard_number\":1,\"replication_factor\":2}" >/dev/null
'

test_expect_success 'a cut stream is taken from the other replica, then again' '
	for n in 1 2; do
		sim_api POST /__sim/faults "{\"node\":$n,\"rules\":[{\"path\":\"/collections/r/shards/0/snapshot\",\"end_after_bytes\":5000}]}" >/dev/null || return 1
	done &&
	qbk-backup -c "$TEST_TMP/cl.conf" --collection r --json \
		>"$TEST_TMP/cl.json" 2>"$TEST_TMP/cl.err" &&
	test_grep "trying the replica on peer" "$TEST_TMP/cl.err" &&
	test "$(grep -c "streaming it again" "$TEST_TMP/cl.err")" -eq 1 &&
	test "$(json_get "$TEST_TMP/cl.json" "d[\"ok\"]")" = true &&
	qbk-verify --repo $R -c /dev/null --read-data
'

# ---- a slow repository: Qdrant (1.18.2 and later) ends a stream that its
# client does not read; qbk keeps reading into its spool.  The repository
# (S3, through the fault proxy) takes no chunk until the stream has ended,
# one way or the other: with an idle limit of 10 s, qbk would have to stop
# reading for 10 s to make it fire.
if [ "$QBK_TEST_REPO" != s3 ]; then
	s3_start
	s3_proxy_start
fi
sim_start --stream-idle-timeout 10
R2=s3://qbk/slow

# stream_ended: wait (up to 120 s) until a shard stream of the simulator has
# ended, whole or not.
stream_ended() {
	_i=0
	while [ "$_i" -lt 1200 ]; do
		sim_api GET /__sim/streams >"$TEST_TMP/streams" &&
		[ "$(json_get "$TEST_TMP/streams" \
		    "d[\"result\"][\"complete\"] + d[\"result\"][\"ended_early\"]")" -gt 0 ] &&
		return 0
		_i=$((_i + 1))
		sleep 0.1
	done
	echo "no stream ended"
	return 1
}

test_expect_success 'set up a 40 MB collection and an S3 repository' '
	sim_generate c2 20000 512 3 &&
	repo_init "$R2"
'

test_expect_success 'a repository that takes no chunk does not stop the stream' '
	s3_proxy_fault "{\"method\":\"PUT\",\"path\":\"/data/\",\"mode\":\"hold\"}" &&
	{ qbk-backup --url $SIM_URL --repo $R2 -c /dev/null --collection c2 \
		--method stream --json >"$TEST_TMP/slow.json" \
		2>"$TEST_TMP/slow.err"; echo $? >"$TEST_TMP/slow.rc"; } &
	_pid=$! &&
	stream_ended; _ended=$?
	s3_proxy_fault clear &&
	curl -sSf -X POST "$S3_PROXY_URL/__proxy/release" >/dev/null &&
	wait "$_pid" &&
	test "$_ended" -eq 0 &&
	test "$(json_get "$TEST_TMP/streams" "d[\"result\"][\"complete\"]")" -eq 1 &&
	test "$(json_get "$TEST_TMP/streams" "d[\"result\"][\"idle_timeouts\"]")" -eq 0 &&
	test "$(cat "$TEST_TMP/slow.rc")" -eq 0 &&
	test "$(json_get "$TEST_TMP/slow.json" "d[\"ok\"]")" = true &&
	! grep "streaming it again" "$TEST_TMP/slow.err"
'
test_expect_success '... and the backup is whole' '
	qbk-verify --repo $R2 -c /dev/null --read-data
'

test_done
