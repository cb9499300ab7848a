#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'qbk-backup killed with SIGKILL at 24 points leaves no visible backup'

sim_start
R=$TEST_TMP/repo
Q="--url $SIM_URL --repo $R -c /dev/null"

count_backups() {
	find "$R/backups" -type f ! -name "*.copy" ! -name ".*" 2>/dev/null | wc -l
}

# temps: the temporary files in backups/, one a line, sorted.
temps() {
	(cd "$R/backups" && find . -maxdepth 1 -name ".*.tmp.*" |
		sed "s|^\./||" | sort)
}

test_expect_success 'set up: a collection, a repository, one good backup' '
	sim_generate c1 30000 128 1 &&
	repo_init "$R" &&
	qbk-backup $Q -q &&
	test "$(count_backups)" -eq 1
'

# Each round changes some points (so the backup has new chunks to write),
# starts a backup and kills it after a growing delay: from start-up through
# the index load, the stream, the chunk writes, up to the manifest commit.
i=1
while [ $i -le 24 ]; do
	delay=$(awk "BEGIN { printf \"%.3f\", $i * 0.035 }")
	test_expect_success "kill -9 after ${delay}s leaves no partial backup" '
		before=$(count_backups) &&
		temps >"$TEST_TMP/temps.before" &&
		sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.05,\"seed\":$i}" >/dev/null &&
		{ qbk-backup $Q -q & pid=$!; } &&
		sleep $delay &&
		{ kill -9 $pid 2>/dev/null; wait $pid; true; } &&
		after=$(count_backups) &&
		test "$after" -eq "$before" -o "$after" -eq $((before + 1)) &&
		bad=0 &&
		for m in "$R"/backups/*; do
			case $m in *.copy) continue ;; esac
			test -s "$m" || bad=1
		done &&
		test $bad = 0 &&
		temps | comm -13 "$TEST_TMP/temps.before" - >"$TEST_TMP/temps.new" &&
		! grep -v "\.tmp\.$pid\." "$TEST_TMP/temps.new"
	'
	i=$((i + 1))
done

# A kill in the commit window may leave the temporary file of the manifest
# (or its twin) that the killed process was writing: invisible to readers,
# and removed by the next prune once it is stale (an hour old).
test_expect_success 'temporary files left by the kills go with the next prune once stale' '
	for t in $(temps); do
		touch -d "2 hours ago" "$R/backups/$t" || return 1
	done &&
	qbk-prune --repo "$R" -c /dev/null -q &&
	test -z "$(temps)"
'

test_expect_success 'the next backup works and every backup is complete' '
	qbk-backup $Q --json >"$TEST_TMP/last.json" &&
	test "$(json_get "$TEST_TMP/last.json" "d[\"ok\"]")" = true
'

test_expect_success 'every visible backup restores to its recorded SHA-256' '
	bad=0 &&
	for m in "$R"/backups/*; do
		case $m in *.copy) continue ;; esac
		id=$(basename "$m")
		rm -f "$TEST_TMP/c1.snap" &&
		qbk-restore $Q --backup "$id" --collection c1 --to-file "$TEST_TMP/c1.snap" -q &&
		test -s "$TEST_TMP/c1.snap" || bad=1
	done &&
	test $bad = 0
'

test_done
