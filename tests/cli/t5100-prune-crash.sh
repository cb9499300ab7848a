#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'qbk-prune killed with SIGKILL at 12 points: what remains verifies, a rerun finishes'

sim_start
T=$TEST_TMP/template
R=$TEST_TMP/repo
Q="--url $SIM_URL --repo $T -c /dev/null"

count_backups() {
	find "$1/backups" -type f ! -name "*.copy" ! -name ".*" | wc -l
}

test_expect_success 'set up: six backups of a changing collection' '
	sim_generate c1 6000 64 1 &&
	repo_init "$T" &&
	bad=0 &&
	for i in 1 2 3 4 5 6; do
		sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.2,\"seed\":$i}" >/dev/null &&
		qbk-backup $Q -q || bad=1
	done &&
	test $bad = 0 &&
	test "$(count_backups "$T")" -eq 6
'

i=0
while [ $i -lt 12 ]; do
	delay=$(awk "BEGIN { printf \"%.3f\", $i * 0.02 }")
	test_expect_success "kill -9 after ${delay}s: every remaining backup verifies, a rerun finishes" '
		rm -rf "$R" && cp -a "$T" "$R" &&
		{ qbk-prune --repo "$R" -c /dev/null --keep-last 1 -q & pid=$!; } &&
		sleep $delay &&
		{ kill -9 $pid 2>/dev/null; wait $pid; true; } &&
		qbk-verify --repo "$R" -c /dev/null --read-data -q &&
		qbk-prune --repo "$R" -c /dev/null --keep-last 1 -q &&
		test "$(count_backups "$R")" -eq 1 &&
		qbk-verify --repo "$R" -c /dev/null --read-data -q &&
		newest=$(find "$T/backups" -type f ! -name "*.copy" ! -name ".*" | sort | tail -n 1) &&
		newest=$(basename "$newest") &&
		test -f "$R/backups/$newest"
	'
	i=$((i + 1))
done

test_done
