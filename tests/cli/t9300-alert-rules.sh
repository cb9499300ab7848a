#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'etc/prometheus and etc/grafana: rules parse and pass their unit tests, and name only metrics the programs emit'

P=$QBK_TOP/etc/prometheus
G=$QBK_TOP/etc/grafana/qbk-dashboard.json
R=$TEST_TMP/repo
M=$TEST_TMP/metrics

test_expect_success 'promtool check rules etc/prometheus/qbk-alerts.yml' '
	promtool check rules "$P/qbk-alerts.yml"
'
test_expect_success 'promtool test rules: every alert fires on its input series, and only then' '
	(cd "$P" && promtool test rules qbk-alerts.test.yml) &&
	(for a in $(sed -n "s/^ *- alert: *//p" "$P/qbk-alerts.yml"); do
		grep -q "alertname: $a\$" "$P/qbk-alerts.test.yml" ||
		    { echo "alert $a has no unit test"; exit 1; }
	done)
'
test_expect_success 'the Grafana dashboard is JSON with panels and queries' '
	json_get "$G" "len(d[\"panels\"])" >"$TEST_TMP/n" &&
	test "$(cat "$TEST_TMP/n")" -ge 10 &&
	json_get "$G" "[t[\"expr\"] for p in d[\"panels\"] for t in p[\"targets\"]]" >/dev/null
'

sim_start
mkdir -p "$M"
test_expect_success 'run the programs against the simulator, each writing its metrics' '
	sim_generate docs 500 8 1 &&
	sim_generate users 100 4 2 &&
	repo_init "$R" &&
	printf "[environment]\npreset = production\n[qdrant]\nurl = %s\n[repository]\nlocation = %s\n" \
	    "$SIM_URL" "$R" >"$TEST_TMP/qbk.conf" &&
	qbk-backup -c "$TEST_TMP/qbk.conf" -q --metrics-file "$M/backup.prom" &&
	qbk-verify -c "$TEST_TMP/qbk.conf" -q --read-data --metrics-file "$M/verify.prom" &&
	qbk-drill -c "$TEST_TMP/qbk.conf" -q --metrics-file "$M/drill.prom" &&
	qbk-report -c "$TEST_TMP/qbk.conf" --format prometheus >"$M/report.prom"
'
test_expect_success '... readable by the node exporter (another user), whatever the umask' '
	(umask 077 &&
	qbk-backup -c "$TEST_TMP/qbk.conf" -q --metrics-file "$M/backup.prom" &&
	qbk-verify -c "$TEST_TMP/qbk.conf" -q --metrics-file "$M/verify.prom" &&
	qbk-drill -c "$TEST_TMP/qbk.conf" -q --metrics-file "$M/drill.prom" &&
	qbk-report -c "$TEST_TMP/qbk.conf" --format prometheus --output "$M/report.prom") &&
	(for f in backup verify drill report; do
		test "$(stat -c %a "$M/$f.prom")" = 644 || { ls -l "$M/$f.prom"; exit 1; }
	done)
'
test_expect_success '... in the Prometheus text format (promtool check metrics)' '
	(for f in "$M"/*.prom; do
		test -s "$f" && promtool check metrics <"$f" || { echo "$f"; exit 1; }
	done)
'
test_expect_success 'every metric of the alert rules is emitted by a program' '
	cat "$M"/*.prom | sed -n "/^qbk_/s/[{ ].*//p" | sort -u >"$TEST_TMP/emitted" &&
	grep -o "qbk_[a-z0-9_]*" "$P/qbk-alerts.yml" | sort -u >"$TEST_TMP/used" &&
	test -s "$TEST_TMP/used" &&
	comm -23 "$TEST_TMP/used" "$TEST_TMP/emitted" >"$TEST_TMP/unknown" &&
	test_cmp /dev/null "$TEST_TMP/unknown"
'
test_expect_success 'every metric of the Grafana dashboard is emitted by a program' '
	grep -o "qbk_[a-z0-9_]*" "$G" | sort -u >"$TEST_TMP/used" &&
	test -s "$TEST_TMP/used" &&
	comm -23 "$TEST_TMP/used" "$TEST_TMP/emitted" >"$TEST_TMP/unknown" &&
	test_cmp /dev/null "$TEST_TMP/unknown"
'
test_expect_success 'the unit tests of the rules use only emitted metrics too' '
	grep -o "qbk_[a-z0-9_]*{" "$P/qbk-alerts.test.yml" | tr -d "{" | sort -u >"$TEST_TMP/used" &&
	comm -23 "$TEST_TMP/used" "$TEST_TMP/emitted" >"$TEST_TMP/unknown" &&
	test_cmp /dev/null "$TEST_TMP/unknown"
'

# exits CODE COMMAND...: COMMAND exits with CODE.
exits() {
	_want=$1
	shift
	"$@"
	test $? -eq "$_want"
}

# After a failed run the metrics file must still say when the last backup
# succeeded: the alert "older than the RPO" needs that series exactly
# when backups fail.  Times are small (QBK_TEST_NOW) so that promtool,
# whose clock starts at 0, can evaluate the rules over the real file.
R2=$TEST_TMP/repo2
test_expect_success 'a successful backup, then a failed one: the metrics file after each' '
	repo_init "$R2" &&
	printf "[environment]\npreset = production\n[qdrant]\nurl = %s\nretries = 0\n[repository]\nlocation = %s\n" \
	    "$SIM_URL" "$R2" >"$TEST_TMP/q2.conf" &&
	QBK_TEST_NOW=600 qbk-backup -c "$TEST_TMP/q2.conf" -q --metrics-file "$M/b2.prom" &&
	test_grep "^qbk_backup_last_success_timestamp_seconds 600$" "$M/b2.prom" &&
	test_grep "^qbk_backup_last_run_success 1$" "$M/b2.prom" &&
	cp "$M/b2.prom" "$TEST_TMP/b2.ok" &&
	exits 1 env QBK_TEST_NOW=4000 qbk-backup -c "$TEST_TMP/q2.conf" -q \
	    --url http://127.0.0.1:1 --metrics-file "$M/b2.prom" &&
	test_grep "^qbk_backup_last_run_success 0$" "$M/b2.prom" &&
	test_grep "^qbk_backup_last_run_timestamp_seconds 4000$" "$M/b2.prom" &&
	test_grep "^qbk_backup_last_success_timestamp_seconds 600$" "$M/b2.prom" &&
	test_grep "^# TYPE qbk_backup_last_success_timestamp_seconds gauge$" "$M/b2.prom" &&
	promtool check metrics <"$M/b2.prom"
'
test_expect_success '... and after a second failure still (carried over from a carried-over value)' '
	exits 1 env QBK_TEST_NOW=7600 qbk-backup -c "$TEST_TMP/q2.conf" -q \
	    --url http://127.0.0.1:1 --metrics-file "$M/b2.prom" &&
	test_grep "^qbk_backup_last_run_timestamp_seconds 7600$" "$M/b2.prom" &&
	test_grep "^qbk_backup_last_success_timestamp_seconds 600$" "$M/b2.prom"
'
test_expect_success 'a backup that started before the last success (a long full one) keeps the later time' '
	sed "s/^qbk_backup_last_success_timestamp_seconds .*/qbk_backup_last_success_timestamp_seconds 9000/" \
	    "$TEST_TMP/b2.ok" >"$M/b3.prom" &&
	QBK_TEST_NOW=8000 qbk-backup -c "$TEST_TMP/q2.conf" -q --metrics-file "$M/b3.prom" &&
	test_grep "^qbk_backup_last_success_timestamp_seconds 9000$" "$M/b3.prom" &&
	test_grep "^qbk_backup_last_run_success 1$" "$M/b3.prom"
'
test_expect_success 'no earlier file and a failed run: no success time is made up' '
	exits 1 qbk-backup -c "$TEST_TMP/q2.conf" -q --url http://127.0.0.1:1 \
	    --metrics-file "$M/b4.prom" &&
	test_grep "^qbk_backup_last_run_success 0$" "$M/b4.prom" &&
	test_grep -v "last_success" "$M/b4.prom" &&
	rm "$M/b4.prom"
'
# failed_run_test SAMPLES: a promtool unit test of the alert rules whose
# input series are the "name value" lines of SAMPLES, constant for two hours
# (what the textfile collector scrapes from the files of the failed run).
failed_run_test() {
	printf 'rule_files:\n  - %s\nevaluation_interval: 1m\ntests:\n' "$P/qbk-alerts.yml"
	printf '  - interval: 1m\n    input_series:\n'
	while read -r name value; do
		printf "      - series: '%s{instance=\"h1\",job=\"node\"}'\n" "$name"
		printf "        values: '%sx120'\n" "$value"
	done <"$1"
	cat <<-'EOF'
	    alert_rule_test:
	      # The last success at 600 s, the RPO 1 h: not yet at 65 min ...
	      - eval_time: 65m
	        alertname: QbkBackupOlderThanRPO
	        exp_alerts: []
	      # ... but at 76 min (after the 5 min of "for").
	      - eval_time: 76m
	        alertname: QbkBackupOlderThanRPO
	        exp_alerts:
	          - exp_labels: {severity: critical, instance: h1}
	            exp_annotations:
	              description: "h1: the last successful backup finished 1h 6m 0s ago, beyond the RPO target."
	              summary: "Last successful qbk backup is older than the RPO"
	      - eval_time: 1m
	        alertname: QbkBackupFailed
	        exp_alerts:
	          - exp_labels: {severity: warning, instance: h1, job: node}
	            exp_annotations:
	              description: "qbk-backup on h1 failed at its last run; the next scheduled run may recover, the RPO alert fires if not."
	              summary: "The last qbk backup run failed"
	EOF
}
test_expect_success 'promtool: over the file of the failed run, the RPO alert fires once the RPO has passed' '
	QBK_TEST_NOW=4000 qbk-report -c "$TEST_TMP/q2.conf" --format prometheus >"$TEST_TMP/r2.prom" &&
	cat "$M/b2.prom" "$TEST_TMP/r2.prom" |
	    grep -E "^(qbk_backup_last_[a-z_]*|qbk_objective_rpo_seconds) " >"$TEST_TMP/samples" &&
	test "$(wc -l <"$TEST_TMP/samples")" -eq 4 &&
	test_grep "^qbk_backup_last_success_timestamp_seconds 600$" "$TEST_TMP/samples" &&
	failed_run_test "$TEST_TMP/samples" >"$TEST_TMP/failed.test.yml" &&
	promtool test rules "$TEST_TMP/failed.test.yml"
'

test_done
