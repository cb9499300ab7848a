# tests/cli/lib.sh: the shell test library of qbk's CLI tests (after git's
# test-lib.sh).  A test file sources it, describes itself, runs checks and
# ends with test_done, which prints the TAP plan:
#
#   . "$(dirname "$0")/lib.sh"
#   test_description 'what this file tests'
#   sim_start
#   test_expect_success 'title' 'commands && more commands'
#   test_expect_exit 3 'title' 'command that must exit 3'
#   test_done
#
# Commands run in the test's shell (variables persist between checks) with
# the built programs first on PATH; chain them with && so that any failure
# fails the check.  Every file gets its own scratch folder $TEST_TMP, removed
# at the end unless QBK_TEST_KEEP=1 or a check failed.

QBK_TOP=${QBK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
QBK_BUILD=${QBK_BUILD:-$QBK_TOP/build}
case $QBK_BUILD in /*) ;; *) QBK_BUILD=$QBK_TOP/$QBK_BUILD ;; esac
QBK_BIN=$QBK_BUILD/bin
PATH=$QBK_BIN:$QBK_TOP/scripts:$PATH
export PATH QBK_TOP QBK_BUILD QBK_BIN
# Tests never read the operator's configuration or secrets.
unset QBK_CONFIG QBK_API_KEY QBK_PASSPHRASE AWS_ACCESS_KEY_ID \
	AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
export LC_ALL=C TZ=UTC

test_count=0
test_failed=0
test_name=$(basename "$0" .sh)
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/qbk-$test_name.XXXXXX") || exit 1
export TEST_TMP
_sim_pids=""

_test_cleanup() {
	for _p in $_sim_pids; do
		kill "$_p" 2>/dev/null
	done
	for _p in $_sim_pids; do
		wait "$_p" 2>/dev/null
	done
	_sim_pids=""
	if [ "$test_failed" -eq 0 ] && [ "${QBK_TEST_KEEP:-0}" != 1 ]; then
		chmod -R u+rwX "$TEST_TMP" 2>/dev/null
		rm -rf "$TEST_TMP"
	else
		echo "# scratch folder kept: $TEST_TMP"
	fi
}
trap _test_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

test_description() {
	echo "# $test_name: $1"
}

_test_ok() {
	test_count=$((test_count + 1))
	echo "ok $test_count - $1"
}

_test_not_ok() {
	test_count=$((test_count + 1))
	test_failed=$((test_failed + 1))
	echo "not ok $test_count - $1"
	shift
	for _line in "$@"; do
		echo "#   $_line"
	done
	if [ -s "$TEST_TMP/.out" ]; then
		echo "#   output of the failed commands:"
		tail -n 30 "$TEST_TMP/.out" | sed 's/^/#     /'
	fi
}

# test_expect_success TITLE COMMANDS: COMMANDS must succeed.
test_expect_success() {
	: >"$TEST_TMP/.out"
	if (exit 0) && eval "$2" >>"$TEST_TMP/.out" 2>&1; then
		_test_ok "$1"
	else
		_test_not_ok "$1" "commands failed:" "$2"
	fi
}

# test_expect_exit CODE TITLE COMMANDS: COMMANDS, run in a subshell, must
# exit with CODE.  Their stdout and stderr are kept in $TEST_TMP/stdout and
# $TEST_TMP/stderr for later checks.
test_expect_exit() {
	: >"$TEST_TMP/.out"
	( eval "$3" ) >"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr"
	_rc=$?
	cat "$TEST_TMP/stdout" "$TEST_TMP/stderr" >>"$TEST_TMP/.out"
	if [ "$_rc" -eq "$1" ]; then
		_test_ok "$2"
	else
		_test_not_ok "$2" "expected exit $1, got $_rc:" "$3"
	fi
}

# test_cmp EXPECTED ACTUAL: the files must be equal (diff shown otherwise).
test_cmp() {
	diff -u "$1" "$2"
}

# test_grep [-v] PATTERN FILE: FILE must (not) contain PATTERN (grep -E).
test_grep() {
	if [ "$1" = -v ]; then
		shift
		if grep -E -e "$1" "$2" >/dev/null; then
			echo "'$2' should not match '$1':"
			cat "$2"
			return 1
		fi
		return 0
	fi
	if ! grep -E -e "$1" "$2" >/dev/null; then
		echo "'$2' should match '$1':"
		cat "$2"
		return 1
	fi
}

# test_lines N FILE: FILE must have exactly N lines.
test_lines() {
	_n=$(wc -l <"$2")
	if [ "$_n" -ne "$1" ]; then
		echo "'$2' has $_n lines, expected $1"
		return 1
	fi
}

test_done() {
	echo "1..$test_count"
	if [ "$test_failed" -ne 0 ]; then
		echo "# failed $test_failed of $test_count"
		exit 1
	fi
	exit 0
}

# sim_start [ARGS...]: start a Qdrant simulator on free loopback ports with
# its own storage folder.  Sets SIM_URL (node 1), SIM_URLS (every node,
# space separated), SIM_PORT, SIM_PID and SIM_DIR.  It is stopped at exit.
_sim_n=0
sim_start() {
	_sim_n=$((_sim_n + 1))
	SIM_DIR=$TEST_TMP/sim$_sim_n
	mkdir -p "$SIM_DIR/storage"
	python3 "$QBK_TOP/tests/qdrant-sim/qdrant-sim.py" --port 0 \
		--storage "$SIM_DIR/storage" --port-file "$SIM_DIR/ports" "$@" \
		>"$SIM_DIR/log" 2>&1 &
	SIM_PID=$!
	_sim_pids="$_sim_pids $SIM_PID"
	_i=0
	while [ ! -s "$SIM_DIR/ports" ]; do
		_i=$((_i + 1))
		if [ "$_i" -gt 300 ] || ! kill -0 "$SIM_PID" 2>/dev/null; then
			echo "# simulator did not start:"
			sed 's/^/#   /' "$SIM_DIR/log"
			return 1
		fi
		sleep 0.1
	done
	SIM_PORT=$(head -n 1 "$SIM_DIR/ports")
	SIM_URL=http://127.0.0.1:$SIM_PORT
	SIM_URLS=$(sed 's|^|http://127.0.0.1:|' "$SIM_DIR/ports" | tr '\n' ' ')
	export SIM_URL SIM_URLS SIM_PORT SIM_PID SIM_DIR
}

# sim_stop: stop the simulator started last.
sim_stop() {
	kill "$SIM_PID" 2>/dev/null
	wait "$SIM_PID" 2>/dev/null
	_sim_pids=$(echo "$_sim_pids" | sed "s/ $SIM_PID\b//")
	return 0
}

# sim_api METHOD PATH [JSON]: call the simulator (node 1, or $SIM_URL) with
# curl and print the body; fails on an HTTP error status.
sim_api() {
	if [ $# -ge 3 ]; then
		curl -sSf -X "$1" -H 'Content-Type: application/json' \
			--data-binary "$3" "$SIM_URL$2"
	else
		curl -sSf -X "$1" "$SIM_URL$2"
	fi
}

# json_get FILE EXPR: print the Python expression EXPR evaluated over the
# JSON document in FILE (bound to 'd'), e.g. json_get out.json 'd["ok"]'.
json_get() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2"
}

# sim_generate COLLECTION POINTS DIM [SEED]: make a collection of random
# points in the simulator (fast, deterministic).
sim_generate() {
	sim_api POST /__sim/generate "{\"collection\":\"$1\",\"points\":$2,\"dim\":$3,\"seed\":${4:-1}}" >/dev/null
}

# sim_fault JSON: add a fault rule to the simulator (see qdrant-sim.py).
sim_fault() {
	sim_api POST /__sim/faults "$1" >/dev/null
}

# sim_points COLLECTION: every point of COLLECTION (id, vector, payload),
# sorted by id, one JSON object per line: for comparing two collections.
sim_points() {
	python3 - "$SIM_URL" "$1" <<'PY'
import json, sys, urllib.request
url, coll = sys.argv[1], sys.argv[2]
offset, out = None, []
while True:
    body = {"limit": 1000, "with_payload": True, "with_vector": True}
    if offset is not None:
        body["offset"] = offset
    req = urllib.request.Request(url + "/collections/" + coll + "/points/scroll",
        data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    res = json.load(urllib.request.urlopen(req))["result"]
    out += res["points"]
    offset = res.get("next_page_offset")
    if offset is None:
        break
for p in sorted(out, key=lambda p: (isinstance(p["id"], str), p["id"])):
    print(json.dumps({"id": p["id"], "vector": p.get("vector"),
        "payload": p.get("payload")}, sort_keys=True))
PY
}

# The passphrase of test repositories, and a repository with cheap key
# derivation (tests are not the place to spend Argon2id's memory).
QBK_PASSPHRASE=test-passphrase
export QBK_PASSPHRASE

# repo_init DIR: create a test repository at DIR.
repo_init() {
	qbk-init --repo "$1" --kdf-opslimit 1 --kdf-memlimit 8192 >/dev/null
}
