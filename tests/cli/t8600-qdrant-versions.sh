#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'every Qdrant release qbk supports: backup, restore, verify, drill against 1.7 to 1.19'

R=$(repo_location repo)

test_expect_success 'set up a repository' '
	repo_init "$R"
'

for V in 1.7 1.9 1.11 1.12 1.14 1.17 1.19; do
	test_expect_success "Qdrant $V: the simulator reports its release" '
		sim_start --qdrant-version '$V' &&
		Q="--url $SIM_URL --repo $R -c /dev/null" &&
		sim_api GET / >"$TEST_TMP/root.json" &&
		test "$(json_get "$TEST_TMP/root.json" "d[\"version\"].rsplit(\".\", 1)[0]")" = '$V' &&
		sim_generate v 300 8 3 &&
		sim_points v >"$TEST_TMP/v.before"
	'

	test_expect_success "Qdrant $V: qbk-backup stores the collection" '
		qbk-backup $Q --collection v --json >"$TEST_TMP/b.json" &&
		test "$(json_get "$TEST_TMP/b.json" "d[\"ok\"]")" = true &&
		B=$(json_get "$TEST_TMP/b.json" "d[\"backup_id\"]") &&
		SHA=$(json_get "$TEST_TMP/b.json" "d[\"collections\"][0][\"sha256\"]")
	'

	test_expect_success "Qdrant $V: qbk-restore --to-file gives the snapshot byte for byte" '
		qbk-restore $Q --backup "$B" --collection v --to-file "$TEST_TMP/v'$V'.snapshot" &&
		test "$(sha256sum <"$TEST_TMP/v'$V'.snapshot" | cut -c1-64)" = "$SHA"
	'

	test_expect_success "Qdrant $V: qbk-restore into the same release gives back every point" '
		qbk-restore $Q --backup "$B" --collection v --as v2 --json >"$TEST_TMP/r.json" &&
		test "$(json_get "$TEST_TMP/r.json" "d[\"ok\"]")" = true &&
		sim_points v2 >"$TEST_TMP/v2" &&
		test_lines 300 "$TEST_TMP/v2" &&
		test_cmp "$TEST_TMP/v.before" "$TEST_TMP/v2"
	'

	test_expect_success "Qdrant $V: qbk-verify --read-data finds the backup good" '
		qbk-verify $Q --backup "$B" --read-data --json >"$TEST_TMP/ver.json" &&
		test "$(json_get "$TEST_TMP/ver.json" "d[\"ok\"]")" = true &&
		test "$(json_get "$TEST_TMP/ver.json" "d[\"problems\"]")" = "[]"
	'

	test_expect_success "Qdrant $V: qbk-drill restores and validates it" '
		qbk-drill $Q --backup "$B" --json >"$TEST_TMP/d.json" &&
		test "$(json_get "$TEST_TMP/d.json" "d[\"ok\"]")" = true &&
		test "$(json_get "$TEST_TMP/d.json" "d[\"problems\"]")" = "[]"
	'

	test_expect_success "Qdrant $V: stop the simulator" '
		sim_stop
	'
done

# Across releases: Qdrant takes a snapshot on its own release and the next
# minor one; qbk-restore refuses any other target before it changes it.
test_expect_success 'across releases: backups of Qdrant 1.11 and 1.19' '
	sim_start --qdrant-version 1.11 && U11=$SIM_URL &&
	sim_generate x 200 8 4 &&
	qbk-backup --url "$U11" --repo "$R" -c /dev/null --collection x --json >"$TEST_TMP/x11.json" &&
	X11=$(json_get "$TEST_TMP/x11.json" "d[\"backup_id\"]") &&
	sim_start --qdrant-version 1.19 && U19=$SIM_URL &&
	sim_generate x 200 8 4 &&
	qbk-backup --url "$U19" --repo "$R" -c /dev/null --collection x --method snapshot --json >"$TEST_TMP/x19.json" &&
	X19=$(json_get "$TEST_TMP/x19.json" "d[\"backup_id\"]") &&
	qbk-restore --url "$U19" --repo "$R" -c /dev/null --backup "$X19" --collection x --to-file "$TEST_TMP/x19.snapshot" &&
	sim_start --qdrant-version 1.12 && U12=$SIM_URL
'

test_expect_success 'across releases: a 1.11 backup restores into 1.12 (the next minor)' '
	qbk-restore --url "$U12" --repo "$R" -c /dev/null --backup "$X11" --collection x --json >"$TEST_TMP/r12.json" &&
	test "$(json_get "$TEST_TMP/r12.json" "d[\"ok\"]")" = true &&
	sim_points x >"$TEST_TMP/x12" &&
	test_lines 200 "$TEST_TMP/x12"
'

test_expect_exit 2 'across releases: a 1.11 backup is refused by 1.19' '
	qbk-restore --url "$U19" --repo "$R" -c /dev/null --backup "$X11" --collection x --as x11
'
test_expect_success '... with a one-line reason, and nothing created' '
	test_grep "was taken from Qdrant 1.11.0 and .* runs 1.19.0: Qdrant recovers snapshots only on the same or the next minor release" "$TEST_TMP/stderr" &&
	! curl -sf "$U19/collections/x11" >/dev/null
'

test_expect_exit 2 'across releases: a 1.19 backup is refused by 1.12 (an older release)' '
	qbk-restore --url "$U12" --repo "$R" -c /dev/null --backup "$X19" --collection x --as x19
'

test_expect_success '... as Qdrant 1.11 itself fails on a 1.19 snapshot (no RocksDB backups in its segments)' '
	test_grep "runs 1.12.0" "$TEST_TMP/stderr" &&
	code=$(curl -s -o "$TEST_TMP/up.json" -w "%{http_code}" -F "snapshot=@$TEST_TMP/x19.snapshot" "$U11/collections/y/snapshots/upload") &&
	test "$code" = 500 &&
	test_grep "RocksDB backup restore error" "$TEST_TMP/up.json"
'

test_done
