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

test_done
