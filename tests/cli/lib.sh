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

# Every server a test starts (simulators, s3rver, proxies, receivers) is
# registered in $TEST_TMP/.servers, a file rather than a variable, so that
# one started inside a subshell (test_expect_exit runs its commands in one)
# is stopped at exit too, whether the test passed or failed.
_servers=$TEST_TMP/.servers
: >"$_servers"

# server_add PID: stop PID when the test ends.
server_add() {
	echo "$1" >>"$_servers"
}

# server_del PID: PID was stopped already.
server_del() {
	grep -vx "$1" "$_servers" >"$_servers.new"
	mv "$_servers.new" "$_servers"
}

# server_kill PID: stop PID (TERM, then KILL after 10 s) and wait until
# it is gone, also when it is not a child of this shell.
server_kill() {
	kill "$1" 2>/dev/null || return 0
	_k=0
	while kill -0 "$1" 2>/dev/null; do
		_k=$((_k + 1))
		if [ "$_k" -eq 100 ]; then
			kill -9 "$1" 2>/dev/null
		elif [ "$_k" -gt 150 ]; then
			break
		fi
		sleep 0.1
	done
	wait "$1" 2>/dev/null
	return 0
}

_test_cleanup() {
	if [ -f "$_servers" ]; then
		while read -r _p; do
			kill "$_p" 2>/dev/null
		done <"$_servers"
		while read -r _p; do
			server_kill "$_p"
		done <"$_servers"
		: >"$_servers"
	fi
	if [ "$test_failed" -eq 0 ] && [ "${QBK_TEST_KEEP:-0}" != 1 ]; then
		chmod -R u+rwX "$TEST_TMP" 2>/dev/null
		rm -rf "$TEST_TMP"
	else
		echo "# scratch folder kept: $TEST_TMP"
	fi
}
# A signal ends the test through exit, so that the EXIT trap stops its
# servers (a reader of its output that goes away sends SIGPIPE).
trap _test_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
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
	server_add "$SIM_PID"
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
	server_kill "$SIM_PID"
	server_del "$SIM_PID"
}

# sim_hold MATCH: add a fault rule that keeps the requests MATCH (JSON
# members, e.g. "\"path\":\"/collections/c1/shards/\"") waiting until
# sim_release; sim_held waits (up to 60 s) until one request is held.
sim_hold() {
	sim_fault "{$1,\"hold\":true}"
}
sim_held() {
	_i=0
	while [ "$_i" -lt 600 ]; do
		sim_api GET /__sim/faults >"$TEST_TMP/.held" &&
		[ "$(json_get "$TEST_TMP/.held" \
		    "sum(r[\"held\"] for r in d[\"result\"][\"rules\"])")" -gt 0 ] &&
		return 0
		_i=$((_i + 1))
		sleep 0.1
	done
	echo "no request was held"
	return 1
}
sim_release() {
	sim_api POST /__sim/faults/release >/dev/null
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

# help_opts CMD...: the options that CMD --help lists, one a line:
# "--name" or "-x --name" (t0000 and the runbook scripts' tests check them
# against the man pages with man_opts).
help_opts() {
	"$@" --help | sed -n -E \
	    -e 's/^  -([A-Za-z]), --([a-z0-9-]+).*/-\1 --\2/p' \
	    -e 's/^      --([a-z0-9-]+).*/--\1/p' | sort
}

# man_opts PAGE: the same from the OPTIONS section of PAGE, whose items
# read ".It Fl -name ..." or ".It Fl x Ar arg , Fl -name ...".
man_opts() {
	awk '
		/^\.Sh / { sec = $2; next }
		sec != "OPTIONS" || !/^\.It Fl / { next }
		{
			s = ""; l = ""
			for (i = 2; i < NF; i++) {
				if ($i != "Fl")
					continue
				if ($(i + 1) ~ /^-[a-z0-9-]+$/)
					l = "-" $(i + 1)
				else if ($(i + 1) ~ /^[A-Za-z]$/)
					s = "-" $(i + 1)
			}
			if (l != "")
				print (s != "" ? s " " : "") l
		}' "$1" | sort
}

# names URL: the collections of the deployment at URL, sorted, on one line.
names() {
	curl -sSf "$1/collections" >"$TEST_TMP/names.json" &&
	json_get "$TEST_TMP/names.json" "\" \".join(sorted(c[\"name\"] for c in d[\"result\"][\"collections\"]))"
}

# repo_init DIR: create a test repository at DIR.
repo_init() {
	qbk-init --repo "$1" --kdf-opslimit 1 --kdf-memlimit 8192 >/dev/null
}

# ---- S3 (tests/s3/) ------------------------------------------------------
# s3_start: start s3rver on a free loopback port with its own folder and the
# bucket "qbk" (also as the virtual host qbk.s3.localhost); it is stopped at
# exit.  Sets and exports S3_PORT,
# S3_ENDPOINT, S3_DIR (s3rver's folder: object K of bucket B is the file
# $S3_DIR/B/K._S3rver_object), S3_PID, and the credentials
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (s3rver's fixed S3RVER) and
# AWS_ENDPOINT_URL, which qbk uses when no s3_endpoint is configured.
s3_start() {
	S3_DIR=$TEST_TMP/s3rver
	mkdir -p "$S3_DIR"
	_out=$("$QBK_TOP/tests/s3/s3rver-start" --directory "$S3_DIR/data" \
		--bucket qbk --service-endpoint localhost \
		--log "$S3_DIR/log") || return 1
	S3_PORT=${_out% *}
	S3_PID=${_out#* }
	server_add "$S3_PID"
	S3_DIR=$S3_DIR/data
	S3_ENDPOINT=http://127.0.0.1:$S3_PORT
	AWS_ACCESS_KEY_ID=S3RVER
	AWS_SECRET_ACCESS_KEY=S3RVER
	AWS_ENDPOINT_URL=$S3_ENDPOINT
	export S3_PORT S3_PID S3_DIR S3_ENDPOINT AWS_ACCESS_KEY_ID \
		AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL
}

# s3_stop: stop s3rver (its data stays in $S3_DIR).
s3_stop() {
	server_kill "$S3_PID"
	server_del "$S3_PID"
}

# s3_restart: start s3rver again (after s3_stop) on the same port and data.
s3_restart() {
	_out=$("$QBK_TOP/tests/s3/s3rver-start" --directory "$S3_DIR" \
		--bucket qbk --service-endpoint localhost --port "$S3_PORT" \
		--log "$S3_DIR/../log") || return 1
	S3_PID=${_out#* }
	server_add "$S3_PID"
	export S3_PID
}

# s3_proxy_start [ARGS...]: start tests/s3/fault-proxy in front of s3rver,
# checking the SigV4 signature of every request (--verify-sigv4, with
# s3rver's credentials) and with ARGS added (with --tls-cert it speaks
# HTTPS), and point AWS_ENDPOINT_URL at it.  Sets S3_PROXY_URL, S3_PROXY_PORT, S3_PROXY_PID (rules via
# s3_proxy_fault JSON); the proxy log is $TEST_TMP/proxy.log.
# shellcheck disable=SC2120
s3_proxy_start() {
	rm -f "$TEST_TMP/proxy.port"
	python3 "$QBK_TOP/tests/s3/fault-proxy" --upstream "$S3_PORT" \
		--port-file "$TEST_TMP/proxy.port" --verify-sigv4 "$@" \
		>>"$TEST_TMP/proxy.log" 2>&1 &
	S3_PROXY_PID=$!
	server_add "$S3_PROXY_PID"
	_i=0
	while [ ! -s "$TEST_TMP/proxy.port" ]; do
		_i=$((_i + 1))
		[ "$_i" -gt 100 ] && return 1
		sleep 0.1
	done
	S3_PROXY_PORT=$(cat "$TEST_TMP/proxy.port")
	case " $* " in
	*" --tls-cert "*) S3_PROXY_URL=https://127.0.0.1:$S3_PROXY_PORT ;;
	*) S3_PROXY_URL=http://127.0.0.1:$S3_PROXY_PORT ;;
	esac
	AWS_ENDPOINT_URL=$S3_PROXY_URL
	export S3_PROXY_URL S3_PROXY_PORT S3_PROXY_PID AWS_ENDPOINT_URL
}

# s3_proxy_stop: stop the proxy started last.
s3_proxy_stop() {
	server_kill "$S3_PROXY_PID"
	server_del "$S3_PROXY_PID"
}

# s3_proxy_stats EXPR: the Python expression EXPR over the proxy's
# statistics (bound to 'd'), e.g. s3_proxy_stats 'd["sig_failed"]'.
s3_proxy_stats() {
	curl -sSfk "$S3_PROXY_URL/__proxy/stats" >"$TEST_TMP/.stats" &&
	json_get "$TEST_TMP/.stats" "$1"
}

# s3_proxy_fault JSON | s3_proxy_fault clear: add a fault rule, or clear.
s3_proxy_fault() {
	if [ "$1" = clear ]; then
		curl -sSf -X DELETE "$S3_PROXY_URL/__proxy/fault" >/dev/null
	else
		curl -sSf -X POST --data-binary "$1" \
			"$S3_PROXY_URL/__proxy/fault" >/dev/null
	fi
}

# s3cmd_run ARGS...: s3cmd, a standard S3 client, pointed at s3rver.
s3cmd_run() {
	s3cmd --no-ssl --host="127.0.0.1:$S3_PORT" \
		--host-bucket="127.0.0.1:$S3_PORT" --access_key=S3RVER \
		--secret_key=S3RVER --region=us-east-1 \
		-c /dev/null "$@"
}

# repo_s3_objects NAME PREFIX: the keys under PREFIX of the S3 repository
# s3://qbk/NAME, as s3rver stores them (one per line, sorted).
repo_s3_objects() {
	(cd "$S3_DIR/qbk/$1" 2>/dev/null && find "${2:-.}" -name \
		'*._S3rver_object' 2>/dev/null | sed 's|^\./||; s|\._S3rver_object$||' |
		sort)
}

# ---- Repository helpers that work on a folder and on S3 -------------------
# QBK_TEST_REPO=s3 (tests/run sets it for its S3 re-run of the backup,
# restore, verify and prune suites) puts every repository made through these
# helpers on s3rver (bucket "qbk", started here, one per test file) instead
# of a folder, so that the same checks run on both backends.
QBK_TEST_REPO=${QBK_TEST_REPO:-folder}

# repo_location NAME: where the test repository NAME lives: $TEST_TMP/NAME,
# or s3://qbk/NAME.
repo_location() {
	if [ "$QBK_TEST_REPO" = s3 ]; then
		echo "s3://qbk/$1"
	else
		echo "$TEST_TMP/$1"
	fi
}

# repo_root NAME: the local folder that holds NAME's objects (for S3:
# s3rver's folder of it, where object KEY is the file KEY._S3rver_object).
repo_root() {
	if [ "$QBK_TEST_REPO" = s3 ]; then
		echo "$S3_DIR/qbk/$1"
	else
		echo "$TEST_TMP/$1"
	fi
}

# repo_obj NAME KEY: the file that holds the bytes of object KEY, to damage
# it in place (same size: s3rver keeps the length in its metadata).
repo_obj() {
	if [ "$QBK_TEST_REPO" = s3 ]; then
		echo "$S3_DIR/qbk/$1/$2._S3rver_object"
	else
		echo "$TEST_TMP/$1/$2"
	fi
}

# repo_keys NAME [PREFIX]: the object keys of NAME under PREFIX, sorted, one
# a line (backend files such as locks/.lock left out).
repo_keys() {
	if [ "$QBK_TEST_REPO" = s3 ]; then
		repo_s3_objects "$1" "${2:-.}"
	else
		(cd "$TEST_TMP/$1" 2>/dev/null && find "${2:-.}" -type f \
			! -name ".*" 2>/dev/null | sed 's|^\./||' | sort)
	fi
}

# repo_count_backups NAME: how many backups NAME holds.
repo_count_backups() {
	repo_keys "$1" backups | grep -c -v '\.copy$'
}

# repo_put NAME KEY FILE: store FILE as object KEY of NAME (as another
# program would: a plain PUT on S3).
repo_put() {
	if [ "$QBK_TEST_REPO" = s3 ]; then
		curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" \
			--user "S3RVER:S3RVER" -T "$3" -H "x-amz-content-sha256: $(
			sha256sum <"$3" | cut -d" " -f1)" \
			"$S3_ENDPOINT/qbk/$1/$2" >/dev/null
	else
		mkdir -p "$(dirname "$TEST_TMP/$1/$2")" &&
		cp "$3" "$TEST_TMP/$1/$2"
	fi
}

# repo_age NAME [PREFIX]: make the objects of NAME under PREFIX (default
# data/, the chunks) a day old, as if written long ago: qbk-prune keeps
# unreferenced chunks younger than [repository] lock_stale (s3rver takes an
# object's Last-Modified from its file's mtime).
repo_age() {
	find "$(repo_root "$1")/${2:-data}" -type f -exec touch -d "-1 day" {} +
}

# repo_rm NAME KEY: remove object KEY of NAME behind qbk's back.
repo_rm() {
	if [ "$QBK_TEST_REPO" = s3 ]; then
		rm -f "$S3_DIR/qbk/$1/$2._S3rver_object" \
			"$S3_DIR/qbk/$1/$2._S3rver_object.md5" \
			"$S3_DIR/qbk/$1/$2._S3rver_metadata.json"
	else
		rm -f "$TEST_TMP/$1/$2"
	fi
}

# repo_save NAME COPY / repo_load NAME COPY: keep a copy of NAME's files in
# $TEST_TMP/COPY, and put it back later (e.g. before each damage test).
repo_save() {
	rm -rf "${TEST_TMP:?}/$2" && cp -a "$(repo_root "$1")" "$TEST_TMP/$2"
}
repo_load() {
	rm -rf "$(repo_root "$1")" && cp -a "$TEST_TMP/$2" "$(repo_root "$1")"
}

# Caches (the S3 chunk-index cache) stay in the scratch folder.
XDG_CACHE_HOME=$TEST_TMP/cache
export XDG_CACHE_HOME

# In S3 mode every request goes through the signature-checking proxy, so
# that a request that a strict server (AWS, MinIO) would refuse fails here
# too (s3rver itself does not check V4 signatures).
if [ "$QBK_TEST_REPO" = s3 ]; then
	s3_start || { echo "# cannot start s3rver"; exit 1; }
	# shellcheck disable=SC2119
	s3_proxy_start || { echo "# cannot start the S3 proxy"; exit 1; }
fi
