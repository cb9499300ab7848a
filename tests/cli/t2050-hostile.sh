#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'a hostile Qdrant: endless and huge answers, trickles, no answer'

sim_start
R=$(repo_location repo)
Q="--url $SIM_URL --repo $R -c /dev/null"

# A config that makes stalls quick to see: the production window is 60 s
# (qbk(7)); the speed limit itself (1 KiB/s) is the production one.  The
# request timeout stays well above the window, so that a stall, not the
# timeout, ends a trickle.
printf '[qdrant]\nstall_timeout = 2s\nretries = 0\ntimeout = 20s\n' \
	>"$TEST_TMP/quick.conf"
QQ="--url $SIM_URL --repo $R -c $TEST_TMP/quick.conf"

# bounded CMD...: run CMD with its peak RSS (KiB) written to $TEST_TMP/rss,
# within 1 GiB of address space (so that unbounded buffering fails fast
# instead of eating the machine) and at most 120 s.
# Under AddressSanitizer (make check SANITIZE=1) the address-space limit
# cannot be set (its shadow memory alone reserves terabytes), and freed
# memory is kept in a quarantine, made small here so that the peak still
# says what the program holds; the peak is allowed ASAN_SLACK MiB more.
if ldd "$QBK_BIN/qbk-backup" 2>/dev/null | grep -q libasan; then
	bounded() {
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4 \
		    /usr/bin/time -f %M -o "$TEST_TMP/rss" timeout 120 "$@"
	}
	ASAN_SLACK=${ASAN_SLACK:-64}
else
	bounded() {
		prlimit --as=1073741824 /usr/bin/time -f %M -o "$TEST_TMP/rss" \
			timeout 120 "$@"
	}
	ASAN_SLACK=0
fi

# rss_below MIB: the last bounded command peaked below MIB MiB.
rss_below() {
	_kib=$(tail -n 1 "$TEST_TMP/rss") &&
	echo "peak RSS $_kib KiB" &&
	test "$_kib" -lt $((($1 + ASAN_SLACK) * 1024))
}

test_expect_success 'set up a collection, a repository, a backup' '
	sim_generate c1 2000 64 1 &&
	repo_init "$R" &&
	qbk-backup $Q -q
'

test_expect_exit 1 'an endless GET /collections fails (exit 1) ...' '
	sim_fault "{\"method\":\"GET\",\"path_regex\":\"^/collections$\",\"endless_body\":true,\"count\":-1}" &&
	bounded qbk-backup $Q
'
test_expect_success '... with one clear line, after one attempt, in bounded memory' '
	test_grep "^qbk-backup: cannot list collections: answer of GET .http://127.0.0.1:[0-9]+/collections. is larger than 64 MiB: not a Qdrant answer$" "$TEST_TMP/stderr" &&
	test_grep -v "retrying" "$TEST_TMP/stderr" &&
	rss_below 150 &&
	sim_api DELETE /__sim/faults
'

test_expect_exit 1 'a huge Content-Length is refused before its body is read' '
	sim_fault "{\"method\":\"GET\",\"path_regex\":\"^/collections$\",\"endless_body\":true,\"content_length\":5000000000}" &&
	bounded qbk-backup $Q
'
test_expect_success '... saying what it announced, in little memory' '
	test_grep "answer of GET .*/collections. announces 5000000000 bytes, more than 64 MiB: not a Qdrant answer$" "$TEST_TMP/stderr" &&
	rss_below 64 &&
	sim_api DELETE /__sim/faults
'

test_expect_exit 1 'an endless scroll answer fails (exit 1) ...' '
	sim_fault "{\"method\":\"POST\",\"path\":\"/collections/c1/points/scroll\",\"endless_body\":true,\"count\":-1}" &&
	bounded qbk-backup $Q --collection c1 --content-hash
'
test_expect_success '... after asking for ever smaller pages, in bounded memory' '
	test_grep "^qbk-backup: cannot back up collection .c1.: cannot read the points of .c1.: answer of POST .*/collections/c1/points/scroll. is larger than 64 MiB: not a Qdrant answer$" "$TEST_TMP/stderr" &&
	rss_below 150 &&
	sim_api DELETE /__sim/faults
'

test_expect_success 'a scroll page over the cap is asked again for fewer points' '
	sim_fault "{\"method\":\"POST\",\"path\":\"/collections/c1/points/scroll\",\"endless_body\":true,\"content_length\":100000000}" &&
	bounded qbk-backup $Q --collection c1 --content-hash -vv 2>"$TEST_TMP/err" &&
	test_grep "a page of 256 points of .c1. is too large: asking for 128" "$TEST_TMP/err" &&
	sim_api DELETE /__sim/faults
'

test_expect_success 'sampled records over the cap come by id, in smaller parts' '
	sim_fault "{\"method\":\"POST\",\"path\":\"/collections/c1/points/query\",\"endless_body\":true}" &&
	sim_fault "{\"method\":\"POST\",\"path_regex\":\"^/collections/c1/points$\",\"endless_body\":true}" &&
	bounded qbk-backup $Q --collection c1 -vv --json >"$TEST_TMP/b.json" 2>"$TEST_TMP/err" &&
	test_grep "the records of 100 points of .c1. are too large" "$TEST_TMP/err" &&
	B=$(json_get "$TEST_TMP/b.json" "d[\"backup_id\"]") &&
	qbk-verify $Q --backup "$B" -q &&
	sim_api DELETE /__sim/faults
'

test_expect_exit 0 'an endless snapshot list (cleanup after a restore) ...' '
	sim_fault "{\"method\":\"GET\",\"path_regex\":\"^/collections/c1r/(shards/0/)?snapshots$\",\"endless_body\":true}" &&
	bounded qbk-restore $Q --collection c1 --as c1r
'
test_expect_success '... is only a warning that says why, in bounded memory' '
	test_grep "cannot list the snapshots of .c1r..*answer of GET .*/collections/c1r/shards/0/snapshots. is larger than 64 MiB: not a Qdrant answer" "$TEST_TMP/stderr" &&
	rss_below 150 &&
	sim_api DELETE /__sim/faults
'

test_expect_exit 1 'a 2-byte/s answer is abandoned (stall_timeout) ...' '
	sim_fault "{\"method\":\"GET\",\"path_regex\":\"^/collections$\",\"endless_body\":true,\"rate_bytes_per_sec\":2}" &&
	bounded qbk-backup $QQ
'
test_expect_success '... saying so' '
	test_grep "cannot list collections: GET .*/collections. failed: the answer came slower than 1024 bytes/s for 2 s$" "$TEST_TMP/stderr" &&
	sim_api DELETE /__sim/faults
'

test_expect_exit 1 'a 2-byte/s snapshot stream is abandoned too ...' '
	sim_fault "{\"method\":\"GET\",\"path\":\"/collections/c1/shards/0/snapshot\",\"rate_bytes_per_sec\":2}" &&
	bounded qbk-backup $QQ --collection c1
'
test_expect_success '... saying so' '
	test_grep "the answer came slower than 1024 bytes/s for 2 s" "$TEST_TMP/stderr" &&
	sim_api DELETE /__sim/faults
'

test_expect_exit 1 'a download whose headers never come is given up (timeout)' '
	sim_fault "{\"method\":\"GET\",\"path\":\"/collections/c1/shards/0/snapshot\",\"delay_ms\":40000}" &&
	bounded qbk-backup $QQ --collection c1
'
test_expect_success '... saying so' '
	test_grep "no answer within 20 s" "$TEST_TMP/stderr" &&
	sim_api DELETE /__sim/faults
'

test_expect_exit 1 'a stored snapshot that goes on past its announced size ...' '
	sim_fault "{\"method\":\"GET\",\"path\":\"/collections/c1/snapshots/\",\"endless_body\":true}" &&
	bounded qbk-backup $Q --collection c1 --method snapshot
'
test_expect_success '... is refused, in bounded memory' '
	test_grep "snapshot of .c1. goes on past the [0-9]+ bytes Qdrant announced" "$TEST_TMP/stderr" &&
	rss_below 150 &&
	sim_api DELETE /__sim/faults
'

test_expect_success 'with the faults gone, a backup works' '
	qbk-backup $Q -q
'

test_done
