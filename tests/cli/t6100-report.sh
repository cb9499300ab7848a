#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'qbk-report: list, RPO/RTO compliance, --check, prometheus'

sim_start
REPO=$(repo_location repo)
CONF=$TEST_TMP/qbk.conf
T=1790000000
H=3600
cat >"$CONF" <<EOF
[qdrant]
url = $SIM_URL
retries = 0
[repository]
location = $REPO
[objectives]
rpo = 1h
rto = 15m
EOF

# at SECONDS CMD...: run CMD with the test clock at T + SECONDS.
at() {
	_s=$1
	shift
	QBK_TEST_NOW=$((T + _s)) "$@"
}

test_expect_success 'setup: a collection and a repository' '
	sim_generate c1 300 8 1 &&
	repo_init "$REPO"
'

test_expect_exit 5 'an empty repository misses the RPO objective' '
	at 0 qbk-report -c "$CONF" --check
'

test_expect_success 'the miss of an empty repository is one line on stderr' '
	test_grep "objective missed: no backup in the repository" \
		"$TEST_TMP/stderr" &&
	test_lines 1 "$TEST_TMP/stderr" &&
	test ! -s "$TEST_TMP/stdout"
'

test_expect_success 'backup at T; the report at T+30m shows rpo 1800 s' '
	at 0 qbk-backup -c "$CONF" -q --tag env=test &&
	at 1800 qbk-report -c "$CONF" --json >"$TEST_TMP/r1.json" &&
	test "$(json_get "$TEST_TMP/r1.json" "d[\"collections\"][0][\"rpo_seconds\"]")" = 1800 &&
	test "$(json_get "$TEST_TMP/r1.json" "d[\"collections\"][0][\"name\"]")" = c1 &&
	test "$(json_get "$TEST_TMP/r1.json" "d[\"objectives_met\"]")" = true
'

test_expect_success 'backup at T+1h; the report at T+2h shows rpo 3600 s' '
	sim_api PUT "/collections/c1/points?wait=true" \
		"{\"points\":[{\"id\":1,\"vector\":[1,2,3,4,5,6,7,8],\"payload\":{\"changed\":true}}]}" >/dev/null &&
	repo_keys repo data >"$TEST_TMP/chunks-before" &&
	at $H qbk-backup -c "$CONF" -q &&
	at $((2 * H)) qbk-report -c "$CONF" --json >"$TEST_TMP/r2.json" &&
	test "$(json_get "$TEST_TMP/r2.json" "d[\"collections\"][0][\"rpo_seconds\"]")" = 3600 &&
	test "$(json_get "$TEST_TMP/r2.json" "d[\"collections\"][0][\"max_gap_seconds\"]")" = 3600 &&
	test "$(json_get "$TEST_TMP/r2.json" "d[\"collections\"][0][\"backups\"]")" = 2 &&
	test "$(json_get "$TEST_TMP/r2.json" "d[\"collections\"][0][\"rpo_met\"]")" = true &&
	test "$(json_get "$TEST_TMP/r2.json" "d[\"repository\"][\"backups\"]")" = 2
'

test_expect_success 'storage: stored bytes are the chunk objects, dedup ratio logical/stored' '
	stored=$(repo_keys repo data | while read -r k; do
		stat -c %s "$(repo_obj repo "$k")"; done |
		awk "{ s += \$1 } END { print s }") &&
	test "$(json_get "$TEST_TMP/r2.json" "d[\"repository\"][\"stored_bytes\"]")" = "$stored" &&
	json_get "$TEST_TMP/r2.json" "abs(d[\"repository\"][\"dedup_ratio\"] - d[\"repository\"][\"logical_bytes\"] / d[\"repository\"][\"stored_bytes\"]) < 1e-9" >"$TEST_TMP/ratio" &&
	test "$(cat "$TEST_TMP/ratio")" = true
'

test_expect_exit 0 '--check exits 0 when the newest backup is fresh' '
	at $((2 * H)) qbk-report -c "$CONF" --check
'

test_expect_success '--check printed nothing' '
	test ! -s "$TEST_TMP/stdout" && test ! -s "$TEST_TMP/stderr"
'

test_expect_exit 5 '--check exits 5 when the newest backup is older than the rpo target' '
	at $((2 * H + 1)) qbk-report -c "$CONF" --check
'

test_expect_success '... and says which collection missed it, once' '
	test_grep "qbk-report: objective missed: collection .c1.: rpo 1h1s exceeds the target 1h" "$TEST_TMP/stderr" &&
	test_lines 1 "$TEST_TMP/stderr"
'

test_expect_success 'the text report shows the collection, its rpo and the verdict' '
	at $((2 * H)) qbk-report -c "$CONF" >"$TEST_TMP/r2.txt" &&
	test_grep "^c1 .* 1h +met +1h +2 " "$TEST_TMP/r2.txt" &&
	test_grep "^objectives: met" "$TEST_TMP/r2.txt" &&
	at $((3 * H)) qbk-report -c "$CONF" >"$TEST_TMP/r3.txt" &&
	test_grep "^c1 .* 2h +MISSED " "$TEST_TMP/r3.txt" &&
	test_grep "^objectives: MISSED" "$TEST_TMP/r3.txt"
'

test_expect_success '--until sets the report time (ISO 8601), --since the window' '
	until=$(date -u -d "@$((T + 2 * H))" +%Y-%m-%dT%H:%M:%SZ) &&
	qbk-report -c "$CONF" --until "$until" --since 90m --json >"$TEST_TMP/u.json" &&
	test "$(json_get "$TEST_TMP/u.json" "d[\"collections\"][0][\"rpo_seconds\"]")" = 3600 &&
	test "$(json_get "$TEST_TMP/u.json" "d[\"collections\"][0][\"backups\"]")" = 1 &&
	test "$(json_get "$TEST_TMP/u.json" "d[\"time\"]")" = "$until"
'

test_expect_success '--until before the second backup ignores it' '
	at $((2 * H)) qbk-report -c "$CONF" --until 90m --json >"$TEST_TMP/u2.json" &&
	test "$(json_get "$TEST_TMP/u2.json" "d[\"collections\"][0][\"rpo_seconds\"]")" = 1800 &&
	test "$(json_get "$TEST_TMP/u2.json" "d[\"repository\"][\"backups_in_window\"]")" = 1
'

test_expect_success 'prometheus output passes promtool check metrics (parse and lint)' '
	at $((2 * H)) qbk-report -c "$CONF" --format prometheus >"$TEST_TMP/m.prom" &&
	promtool check metrics <"$TEST_TMP/m.prom" &&
	test_grep "^qbk_collection_rpo_seconds\{collection=\"c1\"\} 3600$" "$TEST_TMP/m.prom" &&
	test_grep "^qbk_collection_rpo_met\{collection=\"c1\"\} 1$" "$TEST_TMP/m.prom" &&
	test_grep "^qbk_collection_last_backup_timestamp_seconds\{collection=\"c1\"\} $((T + H))$" "$TEST_TMP/m.prom" &&
	test_grep "^qbk_objective_rpo_seconds 3600$" "$TEST_TMP/m.prom" &&
	test_grep "^qbk_objective_rto_seconds 900$" "$TEST_TMP/m.prom" &&
	test_grep "^qbk_report_timestamp_seconds $((T + 2 * H))$" "$TEST_TMP/m.prom" &&
	test_grep "^qbk_repository_backups 2$" "$TEST_TMP/m.prom" &&
	test_grep "^qbk_drills\{result=\"fail\"\} 0$" "$TEST_TMP/m.prom" &&
	test_grep "^qbk_objectives_met 1$" "$TEST_TMP/m.prom"
'

test_expect_success 'every metric name of the output is in the contract' '
	sed -n "s/^# TYPE \([a-z_]*\) gauge$/\1/p" "$TEST_TMP/m.prom" | sort >"$TEST_TMP/names" &&
	test -s "$TEST_TMP/names" &&
	missing=0 &&
	for n in $(cat "$TEST_TMP/names"); do
		grep -q "^\.It Li $n" "$QBK_TOP/man/qbk-report.1" || { echo "not in qbk-report(1): $n"; missing=1; }
	done &&
	test "$missing" = 0 &&
	test "$(grep -c "^# HELP" "$TEST_TMP/m.prom")" = "$(wc -l <"$TEST_TMP/names")"
'

test_expect_success '--output writes the file atomically, nothing on stdout' '
	at $((3 * H)) qbk-report -c "$CONF" --format prometheus --output "$TEST_TMP/out.prom" >"$TEST_TMP/o.stdout" &&
	test ! -s "$TEST_TMP/o.stdout" &&
	promtool check metrics <"$TEST_TMP/out.prom" &&
	test_grep "^qbk_objectives_met 0$" "$TEST_TMP/out.prom" &&
	test_grep "^qbk_collection_rpo_met\{collection=\"c1\"\} 0$" "$TEST_TMP/out.prom" &&
	test -z "$(find "$TEST_TMP" -maxdepth 1 -name ".out.prom.tmp*")"
'

test_expect_success '--list shows both backups with tags and held flag' '
	first=$(repo_keys repo backups | grep -v copy | head -n 1 | sed "s|^backups/||") &&
	qbk-prune -c "$CONF" --hold "$first" --reason test >/dev/null &&
	at $((2 * H)) qbk-report -c "$CONF" --list >"$TEST_TMP/list.txt" &&
	test_grep "^$first .* yes +c1 +env=test$" "$TEST_TMP/list.txt" &&
	test_grep " no +c1 +-$" "$TEST_TMP/list.txt" &&
	test_grep "^2 backups$" "$TEST_TMP/list.txt" &&
	test_grep "^0 drills$" "$TEST_TMP/list.txt"
'

test_expect_success '--list --json: backups with backup_id, ISO time, held; drills' '
	at $((2 * H)) qbk-report -c "$CONF" --list --json >"$TEST_TMP/list.json" &&
	test "$(json_get "$TEST_TMP/list.json" "len(d[\"backups\"])")" = 2 &&
	test "$(json_get "$TEST_TMP/list.json" "d[\"backups\"][0][\"backup_id\"]")" = "$first" &&
	test "$(json_get "$TEST_TMP/list.json" "d[\"backups\"][0][\"time\"]")" = "$(date -u -d "@$T" +%Y-%m-%dT%H:%M:%SZ)" &&
	test "$(json_get "$TEST_TMP/list.json" "d[\"backups\"][0][\"held\"]")" = true &&
	test "$(json_get "$TEST_TMP/list.json" "d[\"backups\"][1][\"held\"]")" = false &&
	test "$(json_get "$TEST_TMP/list.json" "d[\"backups\"][0][\"tags\"]")" = "{\"env\": \"test\"}" &&
	test "$(json_get "$TEST_TMP/list.json" "d[\"drills\"]")" = "[]"
'

test_expect_success 'a drill recorded by qbk-drill appears in --list and the report' '
	at $((H + 1800)) qbk-drill -c "$CONF" -q &&
	at $((2 * H)) qbk-report -c "$CONF" --list >"$TEST_TMP/list2.txt" &&
	test_grep "^[0-9T]{15}Z-[0-9a-f]{4} +2026-09-21T15:43:20Z +[0-9T]{15}Z-[0-9a-f]{4} +pass " "$TEST_TMP/list2.txt" &&
	test_grep "^1 drill$" "$TEST_TMP/list2.txt" &&
	at $((2 * H)) qbk-report -c "$CONF" --list --json >"$TEST_TMP/list2.json" &&
	test "$(json_get "$TEST_TMP/list2.json" "d[\"drills\"][0][\"result\"]")" = pass &&
	test "$(json_get "$TEST_TMP/list2.json" "d[\"drills\"][0][\"backup_id\"]")" = "$(json_get "$TEST_TMP/list2.json" "d[\"backups\"][1][\"backup_id\"]")" &&
	at $((2 * H)) qbk-report -c "$CONF" --json >"$TEST_TMP/rd.json" &&
	test "$(json_get "$TEST_TMP/rd.json" "d[\"drills\"][\"pass\"]")" = 1 &&
	test "$(json_get "$TEST_TMP/rd.json" "d[\"drills\"][\"last\"][\"rto_met\"]")" = true &&
	test "$(json_get "$TEST_TMP/rd.json" "d[\"objectives_met\"]")" = true &&
	at $((2 * H)) qbk-report -c "$CONF" --format prometheus >"$TEST_TMP/md.prom" &&
	promtool check metrics <"$TEST_TMP/md.prom" &&
	test_grep "^qbk_drill_last_success 1$" "$TEST_TMP/md.prom" &&
	test_grep "^qbk_drill_last_rto_met 1$" "$TEST_TMP/md.prom" &&
	test_grep "^qbk_drill_last_timestamp_seconds $((T + H + 1800))$" "$TEST_TMP/md.prom" &&
	test_grep "^qbk_drills\{result=\"pass\"\} 1$" "$TEST_TMP/md.prom"
'

test_expect_success 'qbk-verify --metrics-file writes the qbk_verify_* metrics' '
	qbk-verify -c "$CONF" -q --metrics-file "$TEST_TMP/verify.prom" &&
	promtool check metrics <"$TEST_TMP/verify.prom" &&
	test_grep "^qbk_verify_last_run_success 1$" "$TEST_TMP/verify.prom" &&
	test_grep "^qbk_verify_problems 0$" "$TEST_TMP/verify.prom" &&
	test_grep "^qbk_verify_duration_seconds [0-9.]+$" "$TEST_TMP/verify.prom" &&
	test_grep "^qbk_verify_last_run_timestamp_seconds [0-9]+$" "$TEST_TMP/verify.prom"
'

test_expect_exit 1 'a backup that fails (Qdrant cannot be reached) ...' '
	at $((H + 2000)) qbk-backup -c "$CONF" --url http://127.0.0.1:9 --collection c1
'

test_expect_success '... is recorded in the repository and counted by the report' '
	at $((2 * H)) qbk-report -c "$CONF" --json >"$TEST_TMP/rf.json" &&
	test "$(json_get "$TEST_TMP/rf.json" "d[\"collections\"][0][\"failed_backups\"]")" = 1 &&
	test "$(json_get "$TEST_TMP/rf.json" "d[\"collections\"][0][\"backups\"]")" = 2 &&
	test "$(json_get "$TEST_TMP/rf.json" "d[\"failed_backups\"][\"in_window\"]")" = 1 &&
	test "$(json_get "$TEST_TMP/rf.json" "d[\"failed_backups\"][\"last\"][\"collections\"]")" = "[\"c1\"]" &&
	test "$(json_get "$TEST_TMP/rf.json" "d[\"failed_backups\"][\"last\"][\"exit_code\"]")" = 1 &&
	json_get "$TEST_TMP/rf.json" "d[\"failed_backups\"][\"last\"][\"error\"]" >"$TEST_TMP/ferr" &&
	test_grep "127.0.0.1:9" "$TEST_TMP/ferr" &&
	at $((2 * H)) qbk-report -c "$CONF" --list >"$TEST_TMP/lf.txt" &&
	test_grep "^1 failed run$" "$TEST_TMP/lf.txt" &&
	test_grep "^[0-9T]{15}Z-[0-9a-f]{4} +$(date -u -d "@$((T + H + 2000))" +%Y-%m-%dT%H:%M:%SZ) +c1 " "$TEST_TMP/lf.txt" &&
	at $((2 * H)) qbk-report -c "$CONF" >"$TEST_TMP/rf.txt" &&
	test_grep "\(1 failed backup run in the window\)" "$TEST_TMP/rf.txt" &&
	at $((2 * H)) qbk-report -c "$CONF" --format prometheus >"$TEST_TMP/mf.prom" &&
	promtool check metrics <"$TEST_TMP/mf.prom" &&
	test_grep "^qbk_collection_failed_backups\{collection=\"c1\"\} 1$" "$TEST_TMP/mf.prom" &&
	test_grep "^qbk_failed_backups 1$" "$TEST_TMP/mf.prom"
'

test_expect_success '... but not a usage error, which is not a run' '
	{ at $((H + 2100)) qbk-backup -c "$CONF" --collection nosuch 2>/dev/null; test $? = 2; } &&
	at $((2 * H)) qbk-report -c "$CONF" --json >"$TEST_TMP/rf2.json" &&
	test "$(json_get "$TEST_TMP/rf2.json" "d[\"failed_backups\"][\"in_window\"]")" = 1
'

test_expect_success 'a backup whose chunk is gone does not count for the rpo' '
	repo_keys repo data >"$TEST_TMP/chunks-after" &&
	new=$(comm -13 "$TEST_TMP/chunks-before" "$TEST_TMP/chunks-after" | grep -E "^data/[0-9a-f]{2}/[0-9a-f]{64}$" | head -n 1) &&
	test -n "$new" &&
	repo_rm repo "$new" &&
	at $((2 * H)) qbk-report -c "$CONF" --json >"$TEST_TMP/r4.json" &&
	test "$(json_get "$TEST_TMP/r4.json" "d[\"collections\"][0][\"rpo_seconds\"]")" = 7200 &&
	test "$(json_get "$TEST_TMP/r4.json" "d[\"collections\"][0][\"unusable_backups\"]")" = 1 &&
	test "$(json_get "$TEST_TMP/r4.json" "d[\"objectives_met\"]")" = false
'

test_expect_exit 3 'qbk-verify finds the missing chunk ...' '
	QBK_TEST_NOW=$((T + 4 * H)) qbk-verify -c "$CONF" --metrics-file "$TEST_TMP/verify.prom"
'

test_expect_success '... and its metrics file says so' '
	promtool check metrics <"$TEST_TMP/verify.prom" &&
	test_grep "^qbk_verify_last_run_success 0$" "$TEST_TMP/verify.prom" &&
	test_grep "^qbk_verify_problems [1-9][0-9]*$" "$TEST_TMP/verify.prom" &&
	test_grep "^qbk_verify_last_run_timestamp_seconds $((T + 4 * H))$" "$TEST_TMP/verify.prom"
'

test_expect_exit 2 'qbk-verify --metrics-file on a missing repository still writes the file' '
	rm -f "$TEST_TMP/verify.prom" &&
	qbk-verify --repo "$TEST_TMP/nowhere" --metrics-file "$TEST_TMP/verify.prom"
'

test_expect_success '... with success 0' '
	test_grep "^qbk_verify_last_run_success 0$" "$TEST_TMP/verify.prom" &&
	test_grep "^qbk_verify_problems 1$" "$TEST_TMP/verify.prom"
'

test_expect_exit 2 'no repository: exit 2, and --json says ok false' '
	qbk-report --repo "$TEST_TMP/nowhere" --json
'

test_expect_success '... in one JSON document with the problem' '
	test "$(json_get "$TEST_TMP/stdout" "d[\"ok\"]")" = false &&
	test "$(json_get "$TEST_TMP/stdout" "len(d[\"problems\"])")" = 1
'

test_expect_exit 2 'a bad --format is a usage error' '
	qbk-report -c "$CONF" --format xml
'

test_expect_exit 2 '--list and --check exclude each other' '
	qbk-report -c "$CONF" --list --check
'

test_expect_exit 2 'a bad --since is a usage error' '
	qbk-report -c "$CONF" --since yesterday
'

test_done
