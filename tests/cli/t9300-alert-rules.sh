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

test_done
