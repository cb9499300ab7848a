#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'the test library: every server a test starts is stopped when it ends, passed or failed'

# Inner test files, run as tests of their own; each writes the pid of
# every simulator it starts to $PIDS.
cat >"$TEST_TMP/sub.sh" <<'INNER'
. "$QBK_TOP/tests/cli/lib.sh"
test_description 'a simulator started in a subshell'
test_expect_exit 3 'in a subshell' '
	sim_start && echo $SIM_PID >>"$PIDS" && exit 3
'
test_done
INNER
cat >"$TEST_TMP/fail.sh" <<'INNER'
. "$QBK_TOP/tests/cli/lib.sh"
test_description 'two simulators and a failure'
test_expect_success 'two simulators, then a failure' '
	sim_start && echo $SIM_PID >>"$PIDS" &&
	sim_start && echo $SIM_PID >>"$PIDS" &&
	false
'
test_done
INNER
cat >"$TEST_TMP/stop.sh" <<'INNER'
. "$QBK_TOP/tests/cli/lib.sh"
test_description 'sim_stop'
test_expect_success 'start, stop' '
	sim_start && echo $SIM_PID >>"$PIDS" &&
	sim_stop && ! kill -0 $SIM_PID 2>/dev/null &&
	! grep -qx $SIM_PID "$TEST_TMP/.servers"
'
test_done
INNER

# inner NAME: run inner test NAME, its output in $TEST_TMP/NAME.out.
inner() {
	PIDS=$TEST_TMP/$1.pids TMPDIR=$TEST_TMP sh "$TEST_TMP/$1.sh" \
	    >"$TEST_TMP/$1.out" 2>&1
}

# gone NAME: inner test NAME started a server, and none is still running.
gone() {
	test -s "$TEST_TMP/$1.pids" &&
	while read -r p; do
		if kill -0 "$p" 2>/dev/null; then
			echo "server $p still runs"
			return 1
		fi
	done <"$TEST_TMP/$1.pids"
}

test_expect_success 'a simulator started inside test_expect_exit (a subshell) is stopped at exit' '
	inner sub &&
	test_grep "^ok 1 - in a subshell" "$TEST_TMP/sub.out" &&
	gone sub
'

test_expect_success '... and so is every one of a test that fails' '
	{ inner fail; test $? -eq 1; } &&
	test_grep "^not ok 1 - two simulators, then a failure" "$TEST_TMP/fail.out" &&
	test_lines 2 "$TEST_TMP/fail.pids" &&
	gone fail
'

test_expect_success '... and one that sim_stop stopped is off the list' '
	inner stop &&
	test_grep "^ok 1 - start, stop" "$TEST_TMP/stop.out" &&
	gone stop
'

test_done
