#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'etc/: cron.d, the systemd timers and the Kubernetes CronJobs run what each preset schedules, and when'

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

# cron: every line of each preset's file, its command run at each time.
for preset in development staging production; do
	test_expect_success "cron.d/qbk-$preset: the $preset schedule" '
		$S spec $preset $START $DAYS >"$TEST_TMP/spec.$preset" &&
		$S cron "$E/cron.d/qbk-$preset" $START $DAYS >"$TEST_TMP/cron.$preset" &&
		test_cmp "$TEST_TMP/spec.$preset" "$TEST_TMP/cron.$preset"
	'
	test_expect_success "cron.d/qbk-$preset: prune and verify every day, verify a different seventh each day" '
		for d in 23 24 25 26 27 28 29 30; do
			test "$(grep -c "^2026-11-$d prune$" "$TEST_TMP/cron.$preset")" -eq 1 &&
			test "$(grep -c "^2026-11-$d verify [1-7]/7$" "$TEST_TMP/cron.$preset")" -eq 1 || exit 1
		done &&
		sed -n "s/^2026-11-2[3-9] verify //p" "$TEST_TMP/cron.$preset" | sort -u >"$TEST_TMP/slices" &&
		printf "%s/7\n" 1 2 3 4 5 6 7 | test_cmp - "$TEST_TMP/slices"
	'
	test_expect_success "cron.d/qbk-$preset: no job can overlap itself (timeout shorter than its period)" '
		$S limits cron "$E/cron.d/qbk-$preset"
	'
done
test_expect_success 'cron.d: no flock: a run is never skipped without a word' '
	! grep -v "^#" "$E"/cron.d/* | grep "flock"
'
test_expect_success '... a run that finds the repository locked fails with exit 4, saying who holds it, and its metrics say so' '
	R=$TEST_TMP/repo && repo_init "$R" && mkdir -p "$R/locks" &&
	t=$(date -u +%Y-%m-%dT%H:%M:%SZ) &&
	printf "{\"format\":1,\"id\":\"00000000000000aa\",\"kind\":\"exclusive\",\"program\":\"qbk-prune\",\"host\":\"elsewhere\",\"pid\":1,\"time\":\"%s\",\"refreshed\":\"%s\"}" \
	    "$t" "$t" >"$R/locks/00000000000000aa" &&
	printf "[repository]\nlocation = %s\nlock_timeout = 1s\n" "$R" >"$TEST_TMP/locked.conf" &&
	{ timeout 55m qbk-verify -c "$TEST_TMP/locked.conf" -q --read-data-subset 1/7 \
	    --metrics-file "$TEST_TMP/verify.prom" 2>"$TEST_TMP/err"; test $? -eq 4; } &&
	test_grep "qbk-prune.*elsewhere" "$TEST_TMP/err" &&
	test_grep "^qbk_verify_last_run_success 0$" "$TEST_TMP/verify.prom"
'

# systemd: every OnCalendar= of every timer, through systemd-analyze
# calendar, with the preset's drop-ins.
for preset in development staging production; do
	test_expect_success "systemd timers: the $preset schedule" '
		$S spec $preset $START $DAYS >"$TEST_TMP/spec.$preset" &&
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
for preset in development staging production; do
	test_expect_success "systemd: no job can overlap itself ($preset)" '
		$S limits systemd "$E/systemd" $preset
	'
done
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

# Kubernetes: the CronJobs are production's.
K=$E/kubernetes
test_expect_success 'Kubernetes CronJobs: the production schedule' '
	$S k8s "$K" $START $DAYS >"$TEST_TMP/k8s" &&
	test_cmp "$TEST_TMP/spec.production" "$TEST_TMP/k8s"
'
test_expect_success 'Kubernetes: no CronJob can overlap itself (Forbid, and a deadline shorter than its period)' '
	$S limits k8s "$K"
'
test_expect_success 'Kubernetes: at Sunday 00:00 the hourly CronJob leaves the slot to the full one, saying so' '
	$S k8s-run "$K/cronjob-backup.yaml" 2026-11-29T00:00:00Z >"$TEST_TMP/run" &&
	test_grep "^exit 0$" "$TEST_TMP/run" &&
	test_grep -v "^qbk-backup " "$TEST_TMP/run" &&
	test_grep "Sunday 00:00 UTC is the weekly full backup.s \(CronJob qbk-backup-full\)" "$TEST_TMP/run" &&
	$S k8s-run "$K/cronjob-backup-full.yaml" 2026-11-29T00:00:00Z >"$TEST_TMP/run" &&
	test_grep "^qbk-backup -q --type full " "$TEST_TMP/run"
'
test_expect_success 'Kubernetes: every CronJob but prune pushes its metrics file to the Pushgateway' '
	(for f in "$K"/cronjob-*.yaml; do
		job=$(basename "$f" .yaml) && job=qbk-${job#cronjob-} &&
		$S k8s-run "$f" 2026-11-24T01:00:00Z PUSHGATEWAY_URL=http://pgw:9091 QBK_INSTANCE=prod-eu-1 >"$TEST_TMP/run" &&
		grep -q "^exit 0$" "$TEST_TMP/run" || { cat "$TEST_TMP/run"; exit 1; }
		if [ "$job" = qbk-prune ]; then
			! grep -q "^curl" "$TEST_TMP/run" || exit 1
			continue
		fi
		out=$(sed -n "s/^qbk-.* \(--metrics-file\|--output\) \([^ ]*\).*/\2/p" "$TEST_TMP/run") &&
		test -n "$out" &&
		grep -q "^curl .* --data-binary @$out http://pgw:9091/metrics/job/$job/instance/prod-eu-1$" "$TEST_TMP/run" ||
		    { echo "$f:"; cat "$TEST_TMP/run"; exit 1; }
	done)
'
test_expect_success '... the report with PUT (the whole group), the others with POST (a failed run keeps the last success)' '
	$S k8s-run "$K/cronjob-report.yaml" 2026-11-24T01:00:00Z >"$TEST_TMP/run" &&
	test_grep "^curl .* -X PUT " "$TEST_TMP/run" &&
	$S k8s-run "$K/cronjob-drill.yaml" 2026-11-24T01:00:00Z >"$TEST_TMP/run" &&
	test_grep "^curl .* -X POST " "$TEST_TMP/run"
'
test_expect_success 'Kubernetes: without a Pushgateway the run fails after its work, saying so' '
	$S k8s-run "$K/cronjob-verify.yaml" 2026-11-24T05:15:00Z PUSHGATEWAY_URL= >"$TEST_TMP/run" &&
	test_grep "^qbk-verify -q --read-data-subset 2/7 " "$TEST_TMP/run" &&
	test_grep "^exit 1$" "$TEST_TMP/run" &&
	test_grep "PUSHGATEWAY_URL is empty: metrics of qbk-verify not delivered" "$TEST_TMP/run"
'
test_expect_success 'Kubernetes: the Pushgateway and the instance label come from the ConfigMap, which names them' '
	python3 - "$K" <<-PYEOF
	import glob, sys, yaml
	cm = yaml.safe_load(open(sys.argv[1] + "/qbk-configmap.yaml"))["data"]
	assert cm["pushgateway-url"].startswith("http"), cm
	assert cm["instance"], cm
	for f in glob.glob(sys.argv[1] + "/cronjob-*.yaml"):
	    d = yaml.safe_load(open(f))
	    c = d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
	    env = {e["name"]: e for e in c["env"]}
	    if "push " not in c["args"][0]:
	        continue
	    for k, key in (("PUSHGATEWAY_URL", "pushgateway-url"), ("QBK_INSTANCE", "instance")):
	        ref = env[k]["valueFrom"]["configMapKeyRef"]
	        assert ref == {"name": "qbk-config", "key": key}, (f, ref)
	PYEOF
'

test_done
