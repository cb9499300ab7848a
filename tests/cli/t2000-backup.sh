#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'qbk-backup: full, incremental, dedup, failures'

sim_start
R=$(repo_location repo)
Q="--url $SIM_URL --repo $R -c /dev/null"

test_expect_success 'set up a collection and a repository' '
	sim_generate c1 20000 64 1 &&
	sim_generate c2 500 16 2 &&
	sim_api POST /collections/aliases "{\"actions\":[{\"create_alias\":{\"collection_name\":\"c1\",\"alias_name\":\"prod\"}}]}" &&
	repo_init "$R"
'

test_expect_success 'first backup stores every collection' '
	qbk-backup $Q --json >"$TEST_TMP/b1.json" &&
	test "$(json_get "$TEST_TMP/b1.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/b1.json" "len(d[\"collections\"])")" = 2 &&
	B1=$(json_get "$TEST_TMP/b1.json" "d[\"backup_id\"]") &&
	test -f "$(repo_obj repo "backups/$B1")" &&
	test "$(json_get "$TEST_TMP/b1.json" "d[\"totals\"][\"new_bytes\"] > 0")" = true
'

test_expect_success 'the sha256 recorded is that of the snapshot bytes' '
	json_get "$TEST_TMP/b1.json" "[c[\"sha256\"] for c in d[\"collections\"]]" |
	grep -E "^\[\"[0-9a-f]{64}\", \"[0-9a-f]{64}\"\]$"
'

test_expect_success 'an unchanged collection stores nothing new' '
	qbk-backup $Q --json >"$TEST_TMP/b2.json" &&
	test "$(json_get "$TEST_TMP/b2.json" "d[\"totals\"][\"new_bytes\"]")" = 0
'

test_expect_success 'a small change stores a small fraction' '
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.02,\"seed\":5}" &&
	qbk-backup $Q --collection c1 --tag reason=test --json >"$TEST_TMP/b3.json" &&
	json_get "$TEST_TMP/b3.json" "d[\"totals\"][\"new_bytes\"] * 5 < d[\"totals\"][\"bytes\"]" >"$TEST_TMP/small" &&
	test "$(cat "$TEST_TMP/small")" = True -o "$(cat "$TEST_TMP/small")" = true &&
	test "$(json_get "$TEST_TMP/b3.json" "d[\"totals\"][\"new_bytes\"] > 0")" = true
'

test_expect_success 'collection snapshots work too, and are deleted from the node' '
	qbk-backup $Q --collection c2 --method snapshot --type full >"$TEST_TMP/out" &&
	grep -E "^backup [0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}: 1 collection" "$TEST_TMP/out" &&
	sim_api GET /collections/c2/snapshots >"$TEST_TMP/list" &&
	test "$(json_get "$TEST_TMP/list" "len(d[\"result\"])")" = 0
'

test_expect_success 'metrics file is written in the text format' '
	qbk-backup $Q --collection c2 --metrics-file "$TEST_TMP/qbk.prom" -q &&
	grep -E "^qbk_backup_last_run_success 1$" "$TEST_TMP/qbk.prom" &&
	grep -E "^qbk_backup_bytes\{collection=\"c2\"\} [0-9]+$" "$TEST_TMP/qbk.prom"
'

count_backups() {
	repo_count_backups repo
}

test_expect_success 'record the number of backups' '
	N=$(count_backups) && test "$N" -eq 5
'

test_expect_exit 2 'an unknown collection is a usage error' '
	qbk-backup $Q --collection nope
'
test_expect_success '... named in the message, and nothing recorded' '
	test_grep "no collection .nope." "$TEST_TMP/stderr" &&
	test "$(count_backups)" -eq "$N"
'

test_expect_exit 2 'a wrong passphrase is refused' '
	QBK_PASSPHRASE=wrong qbk-backup $Q
'
test_expect_success '... with a clear message' '
	test_grep "wrong passphrase" "$TEST_TMP/stderr"
'

test_expect_exit 2 'a missing repository is a configuration error' '
	qbk-backup --url $SIM_URL --repo "$TEST_TMP/nowhere" -c /dev/null
'
test_expect_success '... named in the message' '
	test_grep "no repository at .*nowhere" "$TEST_TMP/stderr"
'

test_expect_exit 1 'an unreachable Qdrant is a runtime failure' '
	qbk-backup --url http://127.0.0.1:1 --repo "$R" -c /dev/null
'
test_expect_success '... named in the message' '
	test_grep "127.0.0.1:1" "$TEST_TMP/stderr" &&
	test "$(count_backups)" -eq "$N"
'

test_expect_exit 2 'usage errors exit 2' '
	qbk-backup $Q --type sometimes
'

test_expect_exit 3 'a corrupted download fails the checksum check' '
	sim_fault "{\"method\":\"GET\",\"path\":\"/collections/c2/snapshots/\",\"corrupt_byte_at\":2000}" &&
	qbk-backup $Q --collection c2 --method snapshot
'
test_expect_success '... says so, leaves no backup and no snapshot on the node' '
	test_grep "checksum" "$TEST_TMP/stderr" &&
	test "$(count_backups)" -eq "$N" &&
	sim_api GET /collections/c2/snapshots >"$TEST_TMP/list" &&
	test "$(json_get "$TEST_TMP/list" "len(d[\"result\"])")" = 0
'

test_expect_success 'a download cut short is resumed where it broke' '
	sim_fault "{\"method\":\"GET\",\"path\":\"/collections/c2/snapshots/\",\"truncate_after_bytes\":5000}" &&
	qbk-backup $Q --collection c2 --method snapshot -q &&
	N=$((N + 1)) && test "$(count_backups)" -eq "$N"
'

test_expect_exit 1 'a stream cut short fails the backup' '
	sim_fault "{\"method\":\"GET\",\"path\":\"/collections/c1/shards/0/snapshot\",\"truncate_after_bytes\":30000}" &&
	qbk-backup $Q --collection c1 --method stream
'
test_expect_success '... names the collection and records nothing' '
	test_grep "c1" "$TEST_TMP/stderr" &&
	test "$(count_backups)" -eq "$N"
'

test_expect_exit 3 'a damaged tar header fails as a data problem' '
	sim_fault "{\"method\":\"GET\",\"path\":\"/collections/c1/shards/0/snapshot\",\"corrupt_byte_at\":100}" &&
	qbk-backup $Q --collection c1 --method stream
'
test_expect_success '... and records nothing' '
	test_grep "tar" "$TEST_TMP/stderr" &&
	test "$(count_backups)" -eq "$N" &&
	sim_api DELETE /__sim/faults
'

if [ "$QBK_TEST_REPO" = s3 ]; then
# Folder-only: a full local disk (ulimit -f) cannot happen to an S3
# repository.  Its equivalent there: the store refuses every chunk write
# (HTTP 500 from tests/s3/fault-proxy, after the retries).
test_expect_success 'storage refusing writes fails clearly and keeps earlier backups' '
	s3_proxy_start &&
	s3_proxy_fault "{\"method\":\"PUT\",\"path\":\"/data/\",\"status\":500,\"count\":-1}" &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.5,\"seed\":9}" >/dev/null &&
	{ qbk-backup $Q --collection c1 2>"$TEST_TMP/err"; test $? -eq 1; } &&
	test_grep "HTTP 500" "$TEST_TMP/err" &&
	test "$(count_backups)" -eq "$N" &&
	s3_proxy_fault clear
'
else
test_expect_success 'a full disk fails clearly and keeps earlier backups' '
	(ulimit -f 64 && sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.5,\"seed\":9}" >/dev/null &&
	 qbk-backup $Q --collection c1; echo $? >"$TEST_TMP/rc") 2>"$TEST_TMP/err" ;
	test "$(cat "$TEST_TMP/rc")" = 1 &&
	test_grep "File too large|No space" "$TEST_TMP/err" &&
	test "$(count_backups)" -eq "$N"
'
fi

test_expect_success 'a full storage backup holds every collection and alias' '
	qbk-backup $Q --full-storage --json >"$TEST_TMP/full.json" &&
	test "$(json_get "$TEST_TMP/full.json" "d[\"ok\"]")" = true &&
	FULL=$(json_get "$TEST_TMP/full.json" "d[\"backup_id\"]") &&
	N=$((N + 1)) && test "$(count_backups)" -eq "$N" &&
	sim_api GET /snapshots >"$TEST_TMP/list" &&
	test "$(json_get "$TEST_TMP/list" "len(d[\"result\"])")" = 0
'

test_expect_success '... and one of its collections restores exactly' '
	qbk-restore $Q --backup "$FULL" --collection c2 --as c2_full -q &&
	sim_points c2 >"$TEST_TMP/c2.points" &&
	sim_points c2_full >"$TEST_TMP/c2_full.points" &&
	test_lines 500 "$TEST_TMP/c2.points" &&
	test_cmp "$TEST_TMP/c2.points" "$TEST_TMP/c2_full.points"
'

test_expect_success 'the next backup after all these failures works' '
	qbk-backup $Q -q &&
	test "$(count_backups)" -eq $((N + 1))
'

test_expect_success 'a collection with payload indexes is backed up whole' '
	sim_api PUT "/collections/c2/index?wait=true" "{\"field_name\":\"category\",\"field_schema\":\"keyword\"}" &&
	qbk-backup $Q --collection c2 --json >"$TEST_TMP/idx.json" &&
	test "$(json_get "$TEST_TMP/idx.json" "d[\"collections\"][0][\"snapshots\"][0][\"shard_id\"]")" = -1
'

test_expect_success '... and restores with its indexes' '
	qbk-restore $Q --collection c2 --as c2_idx -q &&
	sim_api GET /collections/c2_idx >"$TEST_TMP/info" &&
	test "$(json_get "$TEST_TMP/info" "list(d[\"result\"][\"payload_schema\"])")" = "[\"category\"]"
'

test_expect_success 'a collection whose snapshots hold a member name of 5004 bytes' '
	sim_generate ln 50 4 5 &&
	LONG=$(python3 -c "print(\"0/\" + \"dd/\" * 1667 + \"x\")") &&
	sim_api POST /__sim/extra_member "{\"collection\":\"ln\",\"name\":\"$LONG\",\"data\":\"x\"}" >/dev/null &&
	N=$(count_backups)
'
test_expect_exit 3 '... cannot be backed up' '
	qbk-backup $Q --collection ln
'
test_expect_success '... fails as the snapshot is read, naming the member, and records nothing' '
	test_grep "snapshot member .0/dd/dd/dd/.*\.\.\.. has a name of 5004 bytes" "$TEST_TMP/stderr" &&
	test_lines 1 "$TEST_TMP/stderr" &&
	test "$(count_backups)" -eq "$N" &&
	sim_api POST /__sim/extra_member "{\"collection\":\"ln\",\"clear\":true}" >/dev/null &&
	qbk-backup $Q --collection ln -q
'

test_expect_success 'a Qdrant that wants an API key' '
	sim_start --api-key s3cret &&
	sim_generate c9 100 8 3
'

test_expect_exit 1 '... exit 1, with Qdrant'"'"'s answer in the message' '
	qbk-backup --url $SIM_URL --repo $R -c /dev/null
'
test_expect_success '... which names the key as the problem' '
	test_grep "401" "$TEST_TMP/stderr" &&
	test_grep "API key" "$TEST_TMP/stderr"
'

test_expect_success '... and works with the key from QBK_API_KEY' '
	QBK_API_KEY=s3cret qbk-backup --url $SIM_URL --repo $R -c /dev/null -q
'

test_expect_exit 2 'a Qdrant URL that answers with a redirect' '
	sim_fault "{\"path\":\"/\",\"count\":-1,\"status\":301,\"headers\":{\"Location\":\"https://qdrant.example:6333/collections\"}}" &&
	QBK_API_KEY=s3cret qbk-backup --url $SIM_URL --repo $R -c /dev/null
'
test_expect_success '... is not followed: the message names the target and what to do' '
	test_grep "HTTP 301 \(moved permanently\), redirecting to .https://qdrant.example:6333/collections." "$TEST_TMP/stderr" &&
	test_grep "^hint: qbk does not follow redirects.*set \[qdrant\] url" "$TEST_TMP/stderr" &&
	sim_api DELETE /__sim/faults >/dev/null
'

test_done
