#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'qbk-prune: retention, dry run, holds, limits, locks'

sim_start
R=$(repo_location repo)
Q="--url $SIM_URL --repo $R -c /dev/null"
P="--repo $R -c /dev/null"

count_backups() {
	repo_count_backups repo
}
repo_kb() {
	du -sk "$(repo_root repo)" | cut -f1
}
# $Q holds several words on purpose in the two helpers below.
# shellcheck disable=SC2086
# backup_c1 N: back up c1 into b$N.json and set B$N, after a change.
backup_c1() {
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.5,\"seed\":$1}" >/dev/null &&
	qbk-backup $Q --collection c1 --json >"$TEST_TMP/b$1.json" &&
	eval "B$1=\$(json_get \"\$TEST_TMP/b$1.json\" 'd[\"backup_id\"]')" &&
	sleep 1
}
# restores_ok N: backup B$N restores c1 to a file with the recorded SHA-256.
# shellcheck disable=SC2086
restores_ok() {
	_id= &&
	eval "_id=\$B$1" &&
	rm -f "$TEST_TMP/r$1.snapshot" &&
	qbk-restore $Q --backup "$_id" --collection c1 --to-file "$TEST_TMP/r$1.snapshot" -q &&
	test "$(sha256sum <"$TEST_TMP/r$1.snapshot" | cut -d" " -f1)" = \
	    "$(json_get "$TEST_TMP/b$1.json" 'd["collections"][0]["sha256"]')"
}

test_expect_success 'four backups of c1 and one of c2' '
	sim_generate c1 3000 32 1 &&
	sim_generate c2 200 8 2 &&
	repo_init "$R" &&
	backup_c1 1 && backup_c1 2 && backup_c1 3 && backup_c1 4 &&
	qbk-backup $Q --collection c2 -q &&
	test "$(count_backups)" -eq 5
'

test_expect_success 'without a policy everything is kept, and it says so' '
	qbk-prune $P >"$TEST_TMP/out" &&
	test_grep "no retention policy" "$TEST_TMP/out" &&
	test "$(count_backups)" -eq 5
'

test_expect_success 'a dry run shows what it would do and changes nothing' '
	repo_age repo &&
	(cd "$(repo_root repo)" && find . -type f | sort) >"$TEST_TMP/before" &&
	qbk-prune $P --keep-last 2 --dry-run >"$TEST_TMP/out" &&
	test_grep "^remove $B1 " "$TEST_TMP/out" &&
	test_grep "^remove $B2 " "$TEST_TMP/out" &&
	test_grep "^keep +$B4 +\[c1\] +\(last\)" "$TEST_TMP/out" &&
	test_grep "^would remove 2 of 5 backups" "$TEST_TMP/out" &&
	qbk-prune $P --keep-last 2 --dry-run --json >"$TEST_TMP/d.json" &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"removed\"]")" = 2 &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"bytes_freed\"] > 0")" = true &&
	(cd "$(repo_root repo)" && find . -type f | sort) >"$TEST_TMP/after" &&
	test_cmp "$TEST_TMP/before" "$TEST_TMP/after"
'

test_expect_success 'without --keep-* options the config [retention] applies' '
	printf "[retention]\nkeep_last = 3\n" >"$TEST_TMP/qbk.conf" &&
	qbk-prune --repo "$R" -c "$TEST_TMP/qbk.conf" --dry-run >"$TEST_TMP/out" &&
	test_grep "^would remove 1 of 5 backups" "$TEST_TMP/out" &&
	test_grep "^remove $B1 " "$TEST_TMP/out" &&
	qbk-prune --repo "$R" -c "$TEST_TMP/qbk.conf" --keep-last 1 --dry-run >"$TEST_TMP/out" &&
	test_grep "^would remove 3 of 5 backups" "$TEST_TMP/out"
'

test_expect_success 'a backup is put under legal hold' '
	qbk-prune $P --hold "$B1" --reason "case 4711" &&
	test -f "$(repo_obj repo "holds/$B1")" &&
	! grep -q "case 4711" "$(repo_obj repo "holds/$B1")"
'

test_expect_exit 1 'a hold on a backup that does not exist fails' '
	qbk-prune $P --hold 20200101T000000Z-abcd
'

test_expect_exit 2 '--max-delete refuses to remove more' '
	qbk-prune $P --keep-last 2 --max-delete 0
'
test_expect_success '... says why, and removed nothing' '
	test_grep "refusing to remove 1 backups" "$TEST_TMP/stderr" &&
	test "$(count_backups)" -eq 5
'

test_expect_success 'prune --keep-last 2 removes B2, the held B1 survives' '
	K0=$(repo_kb) &&
	repo_age repo &&
	qbk-prune $P --keep-last 2 --max-delete 1 --json >"$TEST_TMP/p.json" &&
	test "$(json_get "$TEST_TMP/p.json" "d[\"removed\"]")" = 1 &&
	test "$(json_get "$TEST_TMP/p.json" "d[\"bytes_freed\"] > 0")" = true &&
	json_get "$TEST_TMP/p.json" "[b[\"reasons\"] for b in d[\"backups\"] if b[\"backup_id\"] == \"$B1\"][0]" >"$TEST_TMP/r" &&
	test_grep "hold" "$TEST_TMP/r" &&
	test ! -e "$(repo_obj repo "backups/$B2")" && test ! -e "$(repo_obj repo "backups/$B2.copy")" &&
	test -f "$(repo_obj repo "backups/$B1")" && test "$(count_backups)" -eq 4 &&
	test "$(repo_kb)" -lt "$K0"
'

test_expect_success 'every remaining backup restores' '
	restores_ok 1 && restores_ok 3 && restores_ok 4
'

test_expect_success 'after --release the backup goes' '
	qbk-prune $P --release "$B1" &&
	test ! -e "$(repo_obj repo "holds/$B1")" &&
	K0=$(repo_kb) &&
	qbk-prune $P --keep-last 2 -q &&
	test ! -e "$(repo_obj repo "backups/$B1")" && test "$(count_backups)" -eq 3 &&
	test "$(repo_kb)" -lt "$K0" &&
	restores_ok 3 && restores_ok 4
'

test_expect_exit 1 'releasing a backup that is not held fails' '
	qbk-prune $P --release "$B3"
'

test_expect_success 'orphan twins and unreferenced chunks are removed' '
	repo_put repo backups/20200101T000000Z-abcd.copy "$(repo_obj repo "backups/$B3.copy")" &&
	echo junk >"$TEST_TMP/junk" &&
	repo_put repo data/ab/ab00000000000000000000000000000000000000000000000000000000000000 "$TEST_TMP/junk" &&
	repo_age repo &&
	qbk-prune $P --keep-last 2 --json >"$TEST_TMP/o.json" &&
	test "$(json_get "$TEST_TMP/o.json" "d[\"copies_removed\"]")" = 1 &&
	test "$(json_get "$TEST_TMP/o.json" "d[\"chunks_removed\"]")" = 1 &&
	test ! -e "$(repo_obj repo "backups/20200101T000000Z-abcd.copy")" &&
	test ! -e "$(repo_obj repo "data/ab/ab00000000000000000000000000000000000000000000000000000000000000")" &&
	test "$(count_backups)" -eq 3 && restores_ok 3 && restores_ok 4
'

test_expect_success 'start a slow backup that holds the shared lock' '
	sim_hold "\"method\":\"GET\",\"path\":\"/collections/c1/shards/\",\"count\":1" &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.5,\"seed\":9}" >/dev/null &&
	{ qbk-backup $Q --collection c1 --json >"$TEST_TMP/b5.json" 2>"$TEST_TMP/b5.err" & } &&
	BG=$! &&
	sim_held &&
	test "$(repo_keys repo locks | wc -l)" -eq 1
'

test_expect_exit 4 'a prune while a backup runs exits 4' '
	qbk-prune $P --keep-last 1
'
test_expect_success '... naming the holder, and nothing was removed' '
	test_grep "locked.*qbk-backup" "$TEST_TMP/stderr" &&
	test "$(count_backups)" -eq 3
'

test_expect_success 'the backup completes, and a prune afterwards too' '
	sim_release &&
	wait "$BG" &&
	B5=$(json_get "$TEST_TMP/b5.json" "d[\"backup_id\"]") &&
	qbk-prune $P --keep-last 1 -q &&
	test -f "$(repo_obj repo "backups/$B5")" && test "$(count_backups)" -eq 2 &&
	restores_ok 5
'

# Locks that must hold while a backup waits: records expire after 3 s
# here, the backup's thread refreshes every second, whatever it waits on.
test_expect_success 'a backup that waits on Qdrant longer than the lock stale limit ...' '
	printf "[repository]\nlock_stale = 3s\n" >"$TEST_TMP/stale.conf" &&
	S="--repo $R -c $TEST_TMP/stale.conf" &&
	N0=$(count_backups) &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.5,\"seed\":21}" >/dev/null &&
	sim_hold "\"method\":\"GET\",\"path\":\"/collections/c1/shards/\"" &&
	{ qbk-backup $S --url $SIM_URL --collection c1 --json >"$TEST_TMP/b6.json" 2>"$TEST_TMP/b6.err" & } &&
	BG=$! &&
	sim_held &&
	sleep 5 &&
	repo_age repo
'
test_expect_exit 4 '... keeps its lock: a prune meanwhile exits 4' '
	qbk-prune $S --keep-last 1
'
test_expect_success '... naming the backup, and removing nothing' '
	test_grep "locked \(shared\) by qbk-backup" "$TEST_TMP/stderr" &&
	test "$(count_backups)" -eq "$N0"
'
test_expect_exit 4 '... and so does a prune in another PID namespace of this host' '
	unshare --pid --fork --mount-proc qbk-prune $S --keep-last 1
'
test_expect_success '... which does not take the backup for dead' '
	test_grep "locked \(shared\) by qbk-backup" "$TEST_TMP/stderr" &&
	test_grep -v "removed stale lock" "$TEST_TMP/stderr" &&
	test "$(count_backups)" -eq "$N0"
'
test_expect_success '... and the backup completes, every chunk of it there' '
	sim_release &&
	wait "$BG" &&
	B6=$(json_get "$TEST_TMP/b6.json" "d[\"backup_id\"]") &&
	test "$(count_backups)" -eq $((N0 + 1)) &&
	qbk-verify $P --read-data -q
'

test_expect_success 'a backup whose lock record another process removed ...' '
	N0=$(count_backups) &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.5,\"seed\":22}" >/dev/null &&
	sim_hold "\"method\":\"GET\",\"path\":\"/collections/c1/shards/\"" &&
	{ qbk-backup $Q --collection c1 2>"$TEST_TMP/b7.err" & } &&
	BG=$! &&
	sim_held &&
	test "$(repo_keys repo locks | wc -l)" -eq 1 &&
	repo_rm repo "$(repo_keys repo locks)" &&
	sim_release &&
	{ wait "$BG"; test $? -eq 4; }
'
test_expect_success '... stops, says why, and records no backup' '
	test_grep "^qbk-backup: .*lost the repository lock: another process removed .locks/[0-9a-f]{16}. as stale" "$TEST_TMP/b7.err" &&
	test "$(count_backups)" -eq "$N0" &&
	test "$(repo_keys repo locks | wc -l)" -eq 0
'

test_expect_success 'with --group-by collections,tags each tag set keeps its own' '
	qbk-backup $Q --collection c2 --tag kind=nightly -q &&
	qbk-backup $Q --collection c2 --tag kind=manual -q &&
	qbk-prune $P --keep-last 1 --dry-run --json >"$TEST_TMP/g1.json" &&
	qbk-prune $P --keep-last 1 --group-by collections,tags --dry-run --json >"$TEST_TMP/g2.json" &&
	k1=$(json_get "$TEST_TMP/g1.json" "len([b for b in d[\"backups\"] if b[\"keep\"] and b[\"group\"].startswith(\"c2\")])") &&
	k2=$(json_get "$TEST_TMP/g2.json" "len([b for b in d[\"backups\"] if b[\"keep\"] and \"kind=\" in b[\"group\"]])") &&
	test "$k1" -eq 1 && test "$k2" -eq 2
'

test_expect_exit 2 '--group-by takes collections or collections,tags' '
	qbk-prune $P --keep-last 1 --group-by hosts
'

test_done
