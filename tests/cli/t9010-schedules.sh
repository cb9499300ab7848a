#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'etc/: the systemd timers run what each preset schedules, and when'

E=$QBK_TOP/etc
S="python3 $QBK_TOP/tests/cli/schedules.py"
# Eight days from a Monday: every day of the week, Sunday 00:00, and two
# Mondays (the weekly staging drill).
START=2026-11-23T00:00:00Z
DAYS=8

test_expect_success 'the schedule evaluator: the spec of production' '
	$S spec production $START $DAYS >"$TEST_TMP/spec" &&
	test "$(grep -c " backup$" "$TEST_TMP/spec")" -eq $((DAYS * 24 - 1)) &&
	test "$(grep -c " backup-full$" "$TEST_TMP/spec")" -eq 1 &&
	test_grep "^2026-11-29T00:00 backup-full$" "$TEST_TMP/spec" &&
	test_grep -v "^2026-11-29T00:00 backup$" "$TEST_TMP/spec" &&
	test "$(grep -c " drill$" "$TEST_TMP/spec")" -eq $DAYS &&
	test "$(grep -c "^[0-9-]* prune$" "$TEST_TMP/spec")" -eq $DAYS &&
	test_grep "^2026-11-29 verify 7/7$" "$TEST_TMP/spec"
'

# systemd: every OnCalendar= of every timer, through systemd-analyze
# calendar, with the preset's drop-ins.
for preset in development staging production; do
	test_expect_success "systemd timers: the $preset schedule" '
		$S spec $preset $START $DAYS | grep -v " report$" >"$TEST_TMP/spec.$preset" &&
		$S systemd "$E/systemd" $preset $START $DAYS >"$TEST_TMP/systemd.$preset" &&
		test_cmp "$TEST_TMP/spec.$preset" "$TEST_TMP/systemd.$preset"
	'
done
test_expect_success 'systemd: the drop-ins of development and staging are valid for systemd-analyze' '
	(for d in "$E"/systemd/development/*.d "$E"/systemd/staging/*.d; do
		test -f "$d/schedule.conf" || exit 1
		for e in $(sed -n "s/^OnCalendar=\(..*\)$/\1/p" "$d/schedule.conf" | tr " " "_"); do
			systemd-analyze calendar "$(echo "$e" | tr "_" " ")" >/dev/null || exit 1
		done
	done)
'
test_expect_success 'systemd: no unit conflicts with another (Conflicts= stops the other)' '
	test_grep -v "^Conflicts=" "$E"/systemd/qbk-backup-full@.service &&
	! grep -l "^Conflicts=" "$E"/systemd/*.service
'
test_expect_success 'systemd: the weekly full backup and the hourly one never start together' '
	$S systemd "$E/systemd" production $START 28 >"$TEST_TMP/4w" &&
	sed -n "s/ backup-full$//p" "$TEST_TMP/4w" >"$TEST_TMP/full" &&
	test "$(wc -l <"$TEST_TMP/full")" -eq 4 &&
	(while read -r t; do
		grep -q "^$t backup$" "$TEST_TMP/4w" && { echo "both at $t"; exit 1; }
		case $(date -u -d "$t" +%u%H%M) in 70000) ;; *) echo "full at $t"; exit 1 ;; esac
	done <"$TEST_TMP/full")
'

test_done
