#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description '[notify]: webhooks on failure, de-duplicated, quiet in maintenance'

HOOKS=$TEST_TMP/hooks
REQS=$HOOKS/requests.jsonl
REPO=$TEST_TMP/repo
CONF=$TEST_TMP/qbk.conf
# Monday 2026-09-21 14:13:20 UTC; maintenance is Tuesday 02:00-04:00 UTC.
T=1790000000
MAINT=1790046000

python3 "$QBK_TOP/tests/cli/webhook-receiver.py" --dir "$HOOKS" \
	--port-file "$TEST_TMP/hook-port" >"$TEST_TMP/hook.log" 2>&1 &
server_add $!
_i=0
while [ ! -s "$TEST_TMP/hook-port" ] && [ "$_i" -lt 100 ]; do
	_i=$((_i + 1))
	sleep 0.1
done
HOOK=http://127.0.0.1:$(cat "$TEST_TMP/hook-port")

printf 'R0UTINGKEY0123456789\n' >"$TEST_TMP/pd-key"
chmod 600 "$TEST_TMP/pd-key"
cat >"$CONF" <<EOF
[environment]
name = test-env
[qdrant]
url = http://127.0.0.1:1
retries = 0
connect_timeout = 1s
[repository]
location = $REPO
[objectives]
rpo = 1h
[notify]
webhook_url = $HOOK/generic
slack_webhook_url = $HOOK/slack/T000/B000/SECRETTOKEN
pagerduty_routing_key_file = $TEST_TMP/pd-key
pagerduty_url = $HOOK/pagerduty/v2/enqueue
state_dir = $TEST_TMP/state
min_interval = 1h
maintenance = Tue 02:00-04:00 UTC
timeout = 5s
EOF

# nreq [PATH-PREFIX]: requests received (to paths starting with the prefix).
nreq() {
	if [ ! -f "$REQS" ]; then
		echo 0
		return
	fi
	python3 -c 'import json, sys
n = 0
for l in open(sys.argv[1]):
    if json.loads(l)["path"].startswith(sys.argv[2]):
        n += 1
print(n)' "$REQS" "${1:-/}"
}

# req PATH-PREFIX EXPR: EXPR over the body (d) of the last request to it.
req() {
	python3 -c 'import json, sys
d = None
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"].startswith(sys.argv[2]):
        d = r["body"]
v = eval(sys.argv[3])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$REQS" "$1" "$2"
}

test_expect_success 'setup: the receiver listens, a repository exists' '
	test -n "$HOOK" &&
	repo_init "$REPO" &&
	test "$(nreq)" = 0
'

test_expect_exit 1 'a failing qbk-backup (unreachable Qdrant) exits 1' '
	QBK_TEST_NOW=$T qbk-backup -c "$CONF"
'

test_expect_success '... and sent one generic, one Slack and one PagerDuty event' '
	test "$(nreq)" = 3 &&
	test "$(nreq /generic)" = 1 &&
	test "$(nreq /slack/)" = 1 &&
	test "$(nreq /pagerduty/v2/enqueue)" = 1
'

test_expect_success 'the generic event has the program, kind, exit code, time and host' '
	test "$(req /generic "d[\"source\"]")" = qbk &&
	test "$(req /generic "d[\"program\"]")" = qbk-backup &&
	test "$(req /generic "d[\"kind\"]")" = net &&
	test "$(req /generic "d[\"exit_code\"]")" = 1 &&
	test "$(req /generic "d[\"severity\"]")" = error &&
	test "$(req /generic "d[\"time\"]")" = 2026-09-21T14:13:20Z &&
	test "$(req /generic "d[\"host\"]")" = "$(hostname)" &&
	test "$(req /generic "d[\"environment\"]")" = test-env &&
	test "$(req /generic "d[\"key\"]")" = "qbk-backup net @$REPO" &&
	test "$(req /generic "d[\"scope\"]")" = "$REPO" &&
	test "$(req /generic "d[\"status\"]")" = firing &&
	req /generic "d[\"summary\"]" >"$TEST_TMP/summary" &&
	test_grep "127\.0\.0\.1:1" "$TEST_TMP/summary"
'

test_expect_success 'the Slack event is {"text": ...} naming program and host' '
	test "$(req /slack/ "sorted(d.keys())")" = "[\"text\"]" &&
	req /slack/ "d[\"text\"]" >"$TEST_TMP/slack" &&
	test_grep "^\[qbk\] error on $(hostname) \(test-env\): qbk-backup: " "$TEST_TMP/slack"
'

test_expect_success 'the PagerDuty event is an Events v2 trigger with the routing key' '
	test "$(req /pagerduty "d[\"routing_key\"]")" = R0UTINGKEY0123456789 &&
	test "$(req /pagerduty "d[\"event_action\"]")" = trigger &&
	test "$(req /pagerduty "d[\"dedup_key\"]")" = "qbk/$(hostname)/qbk-backup net @$REPO" &&
	test "$(req /pagerduty "d[\"payload\"][\"severity\"]")" = error &&
	test "$(req /pagerduty "d[\"payload\"][\"source\"]")" = "$(hostname)" &&
	test "$(req /pagerduty "d[\"payload\"][\"timestamp\"]")" = 2026-09-21T14:13:20Z &&
	test "$(req /pagerduty "d[\"payload\"][\"class\"]")" = net &&
	test "$(req /pagerduty "len(d[\"payload\"][\"summary\"]) <= 1024")" = true &&
	test_grep "application/json" "$REQS"
'

test_expect_exit 1 'a second failure within min_interval exits 1 ...' '
	QBK_TEST_NOW=$((T + 600)) qbk-backup -c "$CONF"
'

test_expect_success '... and sends nothing' '
	test "$(nreq)" = 3 &&
	test -f "$TEST_TMP/state/notify.json"
'

test_expect_exit 1 'a failure during the maintenance window exits 1 ...' '
	QBK_TEST_NOW=$MAINT qbk-verify -c "$CONF" --live
'

test_expect_success '... sends nothing and says it was suppressed' '
	test "$(nreq)" = 3 &&
	test_grep "notification suppressed during a maintenance window" "$TEST_TMP/stderr"
'

test_expect_exit 1 'after min_interval the same failure is sent again' '
	QBK_TEST_NOW=$((T + 3601)) qbk-backup -c "$CONF"
'

test_expect_success '... three more events' '
	test "$(nreq)" = 6 &&
	test "$(req /generic "d[\"time\"]")" = 2026-09-21T15:13:21Z
'

test_expect_exit 2 'a usage error exits 2 ...' '
	QBK_TEST_NOW=$((T + 9000)) qbk-backup -c "$CONF" --no-such-option
'

test_expect_success '... and sends nothing' '
	test "$(nreq)" = 6
'

test_expect_exit 5 'qbk-report --check misses the rpo of an empty repository' '
	QBK_TEST_NOW=$T qbk-report -c "$CONF" --check
'

test_expect_success '... and sends an alert about it (once per destination)' '
	test "$(nreq)" = 9 &&
	test "$(req /generic "d[\"program\"]")" = qbk-report &&
	test "$(req /generic "d[\"kind\"]")" = rpo &&
	test "$(req /generic "d[\"exit_code\"]")" = 5 &&
	test "$(req /generic "d[\"severity\"]")" = critical &&
	test "$(req /pagerduty "d[\"payload\"][\"severity\"]")" = critical &&
	req /generic "d[\"summary\"]" >"$TEST_TMP/summary" &&
	test_grep "no backup in the repository" "$TEST_TMP/summary"
'

test_expect_success 'a corrupt state file is ignored (the alert is sent)' '
	echo "{not json" >"$TEST_TMP/state/notify.json" &&
	{ QBK_TEST_NOW=$((T + 60)) qbk-report -c "$CONF" --check 2>"$TEST_TMP/err"; test $? = 5; } &&
	test "$(nreq)" = 12 &&
	python3 -c "import json, sys; json.load(open(sys.argv[1]))" "$TEST_TMP/state/notify.json"
'

test_expect_success 'a webhook that fails is a warning and does not change the exit code' '
	sed -e "s|^webhook_url = .*|webhook_url = http://127.0.0.1:1/down|" \
		-e "/^slack_webhook_url/d" -e "/^pagerduty/d" \
		-e "s|^state_dir = .*|state_dir = $TEST_TMP/state2|" \
		"$CONF" >"$TEST_TMP/down.conf" &&
	{ QBK_TEST_NOW=$T qbk-backup -c "$TEST_TMP/down.conf" 2>"$TEST_TMP/err"; test $? = 1; } &&
	test_grep "warning: notification to webhook failed" "$TEST_TMP/err" &&
	test_grep -v "SECRETTOKEN" "$TEST_TMP/err" &&
	test ! -f "$TEST_TMP/state2/notify.json"
'

test_expect_success 'a webhook that does not answer cannot hang the program: [notify] timeout' '
	python3 "$QBK_TOP/tests/cli/webhook-receiver.py" --dir "$TEST_TMP/slow" \
		--delay 30 --port-file "$TEST_TMP/slow-port" >"$TEST_TMP/slow.log" 2>&1 &
	server_add $! &&
	_i=0 &&
	while [ ! -s "$TEST_TMP/slow-port" ] && [ "$_i" -lt 100 ]; do
		_i=$((_i + 1)); sleep 0.1
	done &&
	slow=http://127.0.0.1:$(cat "$TEST_TMP/slow-port") &&
	sed -e "s|^webhook_url = .*|webhook_url = $slow/generic|" \
		-e "s|^slack_webhook_url = .*|slack_webhook_url = $slow/slack|" \
		-e "s|^pagerduty_url = .*|pagerduty_url = $slow/pd|" \
		-e "s|^timeout = .*|timeout = 2s|" \
		-e "s|^state_dir = .*|state_dir = $TEST_TMP/state3|" \
		"$CONF" >"$TEST_TMP/slow.conf" &&
	start=$(date +%s) &&
	{ QBK_TEST_NOW=$T qbk-backup -c "$TEST_TMP/slow.conf" 2>"$TEST_TMP/err"; test $? = 1; } &&
	end=$(date +%s) &&
	test $((end - start)) -le 6 &&
	test_grep "warning: notification to webhook failed" "$TEST_TMP/err" &&
	test_grep "timeout reached|timed out|Timeout" "$TEST_TMP/err"
'

test_expect_success 'the same failure of another repository is another alert, sent at once' '
	R2=$TEST_TMP/repo2 &&
	repo_init "$R2" &&
	n0=$(nreq) &&
	{ QBK_TEST_NOW=$((T + 9100)) qbk-backup -c "$CONF" --repo "$R2" 2>/dev/null; test $? = 1; } &&
	test "$(nreq)" = $((n0 + 3)) &&
	test "$(req /generic "d[\"key\"]")" = "qbk-backup net @$R2"
'

test_expect_success 'a missing repository (exit 2 at run time) is alerted too' '
	n0=$(nreq) &&
	{ QBK_TEST_NOW=$((T + 9200)) qbk-backup -c "$CONF" --repo "$TEST_TMP/nowhere" 2>/dev/null; test $? = 2; } &&
	test "$(nreq)" = $((n0 + 3)) &&
	test "$(req /generic "d[\"exit_code\"]")" = 2 &&
	test "$(req /generic "d[\"scope\"]")" = "$TEST_TMP/nowhere" &&
	req /generic "d[\"summary\"]" >"$TEST_TMP/summary" &&
	test_grep "nowhere" "$TEST_TMP/summary"
'

test_expect_success 'a successful run resolves the open alerts of its program and repository' '
	sim_start &&
	sim_generate c1 50 4 1 &&
	{ QBK_TEST_NOW=$((T + 9250)) qbk-backup -c "$CONF" 2>/dev/null; test $? = 1; } &&
	test "$(req /generic "d[\"key\"]")" = "qbk-backup net @$REPO" &&
	n0=$(nreq) &&
	QBK_TEST_NOW=$((T + 9300)) qbk-backup -c "$CONF" --url "$SIM_URL" -q &&
	test "$(nreq)" = $((n0 + 3)) &&
	test "$(req /generic "d[\"status\"]")" = resolved &&
	test "$(req /generic "d[\"key\"]")" = "qbk-backup net @$REPO" &&
	test "$(req /generic "d[\"kind\"]")" = net &&
	test "$(req /pagerduty "d[\"event_action\"]")" = resolve &&
	test "$(req /pagerduty "d[\"dedup_key\"]")" = "qbk/$(hostname)/qbk-backup net @$REPO" &&
	test "$(req /pagerduty "\"payload\" in d")" = false &&
	req /slack "d[\"text\"]" >"$TEST_TMP/slack" &&
	test_grep "^\[qbk\] resolved on " "$TEST_TMP/slack"
'

test_expect_success '... only once, and the other repository stays open' '
	n0=$(nreq) &&
	QBK_TEST_NOW=$((T + 9400)) qbk-backup -c "$CONF" --url "$SIM_URL" -q &&
	test "$(nreq)" = "$n0" &&
	python3 -c "import json, sys
s = json.load(open(sys.argv[1]))
keys = sorted(s[\"open\"])
assert any(k.endswith(\"@\" + sys.argv[2]) for k in keys), keys
assert not any(k.startswith(\"qbk-backup\") and k.endswith(\"@\" + sys.argv[3]) for k in keys), keys" \
	    "$TEST_TMP/state/notify.json" "$R2" "$REPO"
'

test_expect_success '... and a new failure then alerts at once, within min_interval' '
	n0=$(nreq) &&
	{ QBK_TEST_NOW=$((T + 9500)) qbk-backup -c "$CONF" 2>/dev/null; test $? = 1; } &&
	test "$(nreq)" = $((n0 + 3)) &&
	test "$(req /generic "d[\"status\"]")" = firing
'

test_expect_success 'a failed drill alerts with the drill and its first problem' '
	QBK_TEST_NOW=$((T + 9600)) qbk-backup -c "$CONF" --url "$SIM_URL" -q &&
	sim_api PUT "/collections/c1/points?wait=true" "{\"points\":[{\"id\":999,\"vector\":[1,2,3,4]}]}" >/dev/null &&
	n0=$(nreq) &&
	{ QBK_TEST_NOW=$((T + 9700)) qbk-drill -c "$CONF" --url "$SIM_URL" --validate-only --validation basic 2>/dev/null >/dev/null; test $? = 3; } &&
	test "$(nreq)" = $((n0 + 3)) &&
	test "$(req /generic "d[\"program\"]")" = qbk-drill &&
	test "$(req /generic "d[\"exit_code\"]")" = 3 &&
	req /generic "d[\"summary\"]" >"$TEST_TMP/summary" &&
	test_grep "^validation of backup [^ ]+ \(basic\) failed: collection .c1. has 51 points, the backup recorded 50" "$TEST_TMP/summary"
'

test_expect_success 'a webhook that answers HTTP 500 is a warning, and the alert is tried again next time' '
	python3 "$QBK_TOP/tests/cli/webhook-receiver.py" --dir "$TEST_TMP/h500" \
		--status 500 --port-file "$TEST_TMP/h500-port" >"$TEST_TMP/h500.log" 2>&1 &
	server_add $! &&
	_i=0 &&
	while [ ! -s "$TEST_TMP/h500-port" ] && [ "$_i" -lt 100 ]; do
		_i=$((_i + 1)); sleep 0.1
	done &&
	sed -e "s|^webhook_url = .*|webhook_url = http://127.0.0.1:$(cat "$TEST_TMP/h500-port")/generic|" \
		-e "/^slack_webhook_url/d" -e "/^pagerduty/d" \
		-e "s|^state_dir = .*|state_dir = $TEST_TMP/state5|" \
		"$CONF" >"$TEST_TMP/h500.conf" &&
	for i in 1 2; do
		{ QBK_TEST_NOW=$((T + 9800 + i)) qbk-backup -c "$TEST_TMP/h500.conf" 2>"$TEST_TMP/err"; test $? = 1; } &&
		test_grep "warning: notification to webhook failed: .*500" "$TEST_TMP/err" || return 1
	done &&
	test "$(wc -l <"$TEST_TMP/h500/requests.jsonl")" = 2
'

test_expect_success 'qbk-report --check during maintenance exits 5 and sends nothing' '
	n0=$(nreq) &&
	{ QBK_TEST_NOW=$((MAINT + 600)) qbk-report -c "$CONF" --repo "$R2" --check 2>"$TEST_TMP/err"; test $? = 5; } &&
	test "$(nreq)" = "$n0" &&
	test_grep "notification suppressed during a maintenance window" "$TEST_TMP/err"
'

test_done
