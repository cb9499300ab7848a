#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034,SC2086
. "$(dirname "$0")/lib.sh"
test_description 'S3 repositories on s3rver: every program, locks, faults, s3cmd'

sim_start
s3_start
# Every request of this file goes through the proxy, which checks its
# signature as AWS does (s3rver does not) and injects faults on demand.
s3_proxy_start
R=s3://qbk/r1
Q="--url $SIM_URL --repo $R -c /dev/null"
P="--repo $R -c /dev/null"

count_backups() {
	repo_s3_objects r1 backups | grep -vc '\.copy$'
}

test_expect_success 'qbk-init creates a repository in a bucket' '
	repo_init "$R" &&
	repo_s3_objects r1 >"$TEST_TMP/objs" &&
	test_grep "^config$" "$TEST_TMP/objs" &&
	test_grep "^keys/[0-9a-f]{16}$" "$TEST_TMP/objs"
'

test_expect_exit 2 'qbk-init refuses a second repository at the same place' '
	repo_init "$R"
'

test_expect_exit 1 'a bucket that does not exist is named as such' '
	qbk-init --repo s3://nosuchbucket/x --kdf-opslimit 1 --kdf-memlimit 8192
'
test_expect_success '... with a hint' '
	test_grep "bucket .nosuchbucket. does not exist" "$TEST_TMP/stderr"
'

test_expect_exit 1 'an unknown access key fails clearly' '
	AWS_ACCESS_KEY_ID=wrong qbk-verify $P
'
test_expect_success '... naming S3 and the credentials' '
	test_grep "HTTP 403" "$TEST_TMP/stderr" &&
	test_grep "S3 credentials" "$TEST_TMP/stderr"
'

test_expect_success 'a backup, then a restore under another name, same points' '
	sim_generate c1 3000 32 1 &&
	qbk-backup $Q --json >"$TEST_TMP/b1.json" &&
	B1=$(json_get "$TEST_TMP/b1.json" "d[\"backup_id\"]") &&
	test -n "$B1" &&
	repo_s3_objects r1 backups >"$TEST_TMP/objs" &&
	test_grep "^backups/$B1$" "$TEST_TMP/objs" &&
	qbk-restore $Q --backup "$B1" --collection c1 --as c1r -q &&
	sim_points c1 >"$TEST_TMP/p1" && sim_points c1r >"$TEST_TMP/p2" &&
	test_cmp "$TEST_TMP/p1" "$TEST_TMP/p2"
'

test_expect_success 'the objects are listable and readable with s3cmd' '
	s3cmd_run ls --recursive s3://qbk/r1/ >"$TEST_TMP/ls" &&
	test_grep "s3://qbk/r1/config$" "$TEST_TMP/ls" &&
	test_grep "s3://qbk/r1/backups/$B1$" "$TEST_TMP/ls" &&
	test "$(grep -c "s3://qbk/r1/data/" "$TEST_TMP/ls")" -eq \
	    "$(repo_s3_objects r1 data | wc -l)" &&
	s3cmd_run get --force s3://qbk/r1/config "$TEST_TMP/config" >/dev/null &&
	json_get "$TEST_TMP/config" "d[\"format\"]" >/dev/null
'

test_expect_success 'verify --read-data passes' '
	qbk-verify $P --read-data --json >"$TEST_TMP/v.json" &&
	test "$(json_get "$TEST_TMP/v.json" "d[\"ok\"]")" = true
'

test_expect_success 'the settings can come from the config and key files' '
	printf "S3RVER\n" >"$TEST_TMP/ak" && printf "S3RVER\n" >"$TEST_TMP/sk" &&
	chmod 600 "$TEST_TMP/ak" "$TEST_TMP/sk" &&
	cat >"$TEST_TMP/qbk.conf" <<-EOC &&
	[repository]
	location = $R
	s3_endpoint = $S3_PROXY_URL
	s3_uri_style = path
	s3_access_key_file = $TEST_TMP/ak
	s3_secret_key_file = $TEST_TMP/sk
	s3_transfers = 2
	EOC
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_ENDPOINT_URL \
	    qbk-verify -c "$TEST_TMP/qbk.conf" >"$TEST_TMP/out" &&
	test_grep "0 problems" "$TEST_TMP/out"
'

# Temporary credentials: a second proxy that demands a session token.
TOKEN='FwoGZXIvYXdzE/Ab+c/d=='
PROXY1_URL=$S3_PROXY_URL PROXY1_PID=$S3_PROXY_PID
test_expect_success 'a session token ($AWS_SESSION_TOKEN) is sent and signed' '
	s3_proxy_start --session-token "$TOKEN" &&
	AWS_SESSION_TOKEN=$TOKEN qbk-verify $P -q &&
	test "$(s3_proxy_stats "d[\"tokens\"]")" -gt 2 &&
	test "$(s3_proxy_stats "d[\"refused\"]")" = "{}"
'

test_expect_success '... or read from s3_session_token_file' '
	printf "%s\n" "$TOKEN" >"$TEST_TMP/token" && chmod 600 "$TEST_TMP/token" &&
	printf "[repository]\ns3_session_token_file = %s\n" "$TEST_TMP/token" \
	    >"$TEST_TMP/token.conf" &&
	qbk-verify --repo "$R" -c "$TEST_TMP/token.conf" -q &&
	test "$(s3_proxy_stats "d[\"refused\"]")" = "{}"
'

test_expect_success '... and without it, or with another one, requests are refused' '
	{ qbk-verify $P -q 2>"$TEST_TMP/err"; test $? -eq 1; } &&
	test_grep "HTTP 403 InvalidToken" "$TEST_TMP/err" &&
	{ AWS_SESSION_TOKEN=other qbk-verify --repo "$R" -c "$TEST_TMP/token.conf" -q \
	    2>"$TEST_TMP/err"; test $? -eq 1; } &&
	test_grep "HTTP 403 InvalidToken" "$TEST_TMP/err" &&
	test "$(s3_proxy_stats "d[\"refused\"][\"InvalidToken\"]")" -eq 2
'
s3_proxy_stop
S3_PROXY_URL=$PROXY1_URL S3_PROXY_PID=$PROXY1_PID AWS_ENDPOINT_URL=$PROXY1_URL

test_expect_success 'a second backup stores only new chunks' '
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.1,\"seed\":2}" >/dev/null &&
	before=$(repo_s3_objects r1 data | wc -l) &&
	qbk-backup $Q --collection c1 --json >"$TEST_TMP/b2.json" &&
	B2=$(json_get "$TEST_TMP/b2.json" "d[\"backup_id\"]") &&
	after=$(repo_s3_objects r1 data | wc -l) &&
	test "$after" -gt "$before" &&
	test "$(json_get "$TEST_TMP/b2.json" "d[\"collections\"][0][\"new_bytes\"] < d[\"collections\"][0][\"snapshot_bytes\"]")" = true
'

# The chunk-index cache: $XDG_CACHE_HOME/qbk/<repository id>/chunks.
cache_keys() {
	grep '^data/' "$1" | sort
}

test_expect_success 'the chunk-index cache, named by the repository id, holds every chunk' '
	ID=$(json_get "$S3_DIR/qbk/r1/config._S3rver_object" "d[\"id\"]") &&
	C=$XDG_CACHE_HOME/qbk/$ID/chunks &&
	test "$(head -n 1 "$C")" = "qbk-s3-chunk-index 2" &&
	test_grep "^repository $ID$" "$C" &&
	test_grep "^sum [0-9a-f]{64}$" "$C" &&
	cache_keys "$C" >"$TEST_TMP/cached" &&
	repo_s3_objects r1 data >"$TEST_TMP/real" &&
	test_cmp "$TEST_TMP/real" "$TEST_TMP/cached"
'

test_expect_success '... is used, and every chunk in it is checked (no more than cache_sample)' '
	n=$(wc -l <"$TEST_TMP/real") && test "$n" -le 128 &&
	qbk-backup $Q --collection c1 -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test_grep "chunk index from the cache .*\($n chunks, $n checked\)" "$TEST_TMP/err"
'

test_expect_success 'a deleted cache is rebuilt' '
	rm -rf "$XDG_CACHE_HOME/qbk" &&
	qbk-backup $Q --collection c1 -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test_grep -v "chunk index from the cache" "$TEST_TMP/err" &&
	cache_keys "$C" >"$TEST_TMP/cached" &&
	test_cmp "$TEST_TMP/real" "$TEST_TMP/cached"
'

test_expect_success 'a cache with a chunk id appended by hand is discarded and listed again' '
	printf "data/ff/%s\n" "$(printf "%064d" 0 | tr 0 f)" >>"$C" &&
	qbk-backup $Q --collection c1 -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test_grep "chunk-index cache .* is damaged: listing the bucket" "$TEST_TMP/err" &&
	test_grep -v "^data/ff/ffff" "$C" &&
	cache_keys "$C" >"$TEST_TMP/cached" &&
	test_cmp "$TEST_TMP/real" "$TEST_TMP/cached"
'

test_expect_success '... and so is one with an id changed, or cut short' '
	k=$(grep -m 1 "^data/" "$C") &&
	case $k in *0) k2=${k%?}1 ;; *) k2=${k%?}0 ;; esac &&
	sed -i "s|^$k$|$k2|" "$C" && test_grep -v "^$k$" "$C" &&
	qbk-backup $Q --collection c1 -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test_grep "chunk-index cache .* is damaged" "$TEST_TMP/err" &&
	test_grep "^$k$" "$C" &&
	truncate -s -20 "$C" &&
	qbk-backup $Q --collection c1 -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test_grep "chunk-index cache .* is damaged" "$TEST_TMP/err" &&
	qbk-backup $Q --collection c1 -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test_grep "chunk index from the cache" "$TEST_TMP/err"
'

test_expect_success 'a cache listed longer ago than cache_max_age is listed again' '
	printf "[repository]\ncache_max_age = 1s\n" >"$TEST_TMP/age.conf" &&
	sleep 1 &&
	qbk-backup --url "$SIM_URL" --repo "$R" -c "$TEST_TMP/age.conf" \
	    --collection c1 -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test_grep "chunk-index cache .* is older than cache_max_age" "$TEST_TMP/err"
'

# Chunks removed behind qbk's back, on a repository of its own.
R4=s3://qbk/r4
Q4="--url $SIM_URL --repo $R4 -c /dev/null"
test_expect_success 'a chunk deleted behind qbk'"'"'s back is noticed by the next backup, which stores it again' '
	repo_init "$R4" &&
	qbk-backup $Q4 --collection c1 -q &&
	repo_s3_objects r4 data >"$TEST_TMP/real4" &&
	test "$(wc -l <"$TEST_TMP/real4")" -le 128 &&
	obj=$(sed -n 3p "$TEST_TMP/real4") &&
	s3cmd_run del "s3://qbk/r4/$obj" >/dev/null &&
	qbk-backup $Q4 --collection c1 -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test_grep "chunk .$obj. of the chunk-index cache is missing" "$TEST_TMP/err" &&
	repo_s3_objects r4 data >"$TEST_TMP/now4" &&
	test_cmp "$TEST_TMP/real4" "$TEST_TMP/now4" &&
	qbk-verify --repo "$R4" -c /dev/null -q
'

test_expect_success 'with cache_sample = 0 it is not, but --type full never trusts the cache' '
	printf "[repository]\ncache_sample = 0\n" >"$TEST_TMP/nosample.conf" &&
	s3cmd_run del "s3://qbk/r4/$obj" >/dev/null &&
	qbk-backup --url "$SIM_URL" --repo "$R4" -c "$TEST_TMP/nosample.conf" \
	    --collection c1 -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test_grep "chunk index from the cache .*, 0 checked\)" "$TEST_TMP/err" &&
	{ qbk-verify --repo "$R4" -c /dev/null -q; test $? -eq 3; } &&
	qbk-backup --url "$SIM_URL" --repo "$R4" -c "$TEST_TMP/nosample.conf" \
	    --collection c1 --type full 2>"$TEST_TMP/err" >/dev/null &&
	test_grep "storing the chunk again" "$TEST_TMP/err" &&
	qbk-verify --repo "$R4" -c /dev/null -q
'

test_expect_success 'a live exclusive lock record makes a backup exit 4' '
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ) &&
	printf "{\"format\":1,\"id\":\"00000000000000aa\",\"kind\":\"exclusive\",\"program\":\"qbk-prune\",\"host\":\"otherhost\",\"pid\":4242,\"time\":\"%s\",\"refreshed\":\"%s\"}" \
	    "$now" "$now" >"$TEST_TMP/lock" &&
	s3cmd_run put "$TEST_TMP/lock" s3://qbk/r1/locks/00000000000000aa >/dev/null &&
	{ qbk-backup $Q -q 2>"$TEST_TMP/err"; test $? -eq 4; } &&
	test_grep "locked exclusively by qbk-prune .pid 4242 on host otherhost" "$TEST_TMP/err"
'

test_expect_success 'a stale lock record (not refreshed for long) is broken' '
	printf "{\"format\":1,\"id\":\"00000000000000aa\",\"kind\":\"exclusive\",\"program\":\"qbk-prune\",\"host\":\"otherhost\",\"pid\":4242,\"time\":\"2020-01-01T00:00:00Z\",\"refreshed\":\"2020-01-01T00:00:00Z\"}" \
	    >"$TEST_TMP/lock" &&
	s3cmd_run put "$TEST_TMP/lock" s3://qbk/r1/locks/00000000000000aa >/dev/null &&
	qbk-verify $P -q &&
	qbk-backup $Q --collection c1 -q &&
	test -z "$(repo_s3_objects r1 locks)"
'

test_expect_success 'prune keeps the last backup and removes unreferenced chunks' '
	test "$(count_backups)" -ge 2 &&
	chunks=$(repo_s3_objects r1 data | wc -l) &&
	find "$S3_DIR/qbk/r1/data" -type f -exec touch -d "-1 day" {} + &&
	qbk-prune $P --keep-last 1 -q &&
	test "$(repo_s3_objects r1 data | wc -l)" -lt "$chunks" &&
	test "$(count_backups)" -eq 1 &&
	qbk-verify $P --read-data -q
'

test_expect_success '... and the prune made every cache out of date' '
	test -f "$S3_DIR/qbk/r1/index-generation._S3rver_object" &&
	qbk-backup $Q --collection c1 -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test_grep "cache .* is out of date" "$TEST_TMP/err" &&
	cache_keys "$C" >"$TEST_TMP/cached" &&
	repo_s3_objects r1 data >"$TEST_TMP/real" &&
	test_cmp "$TEST_TMP/real" "$TEST_TMP/cached"
'

test_expect_success 'a damaged chunk is found by verify --read-data (exit 3)' '
	obj=$(repo_s3_objects r1 data | head -n 1) &&
	f="$S3_DIR/qbk/r1/$obj._S3rver_object" &&
	python3 -c "import sys
f = open(sys.argv[1], \"r+b\"); f.seek(40); b = f.read(1)
f.seek(40); f.write(bytes([b[0] ^ 0xff]))" "$f" &&
	{ qbk-verify $P --read-data -q; test $? -eq 3; }
'

test_expect_success 'a missing chunk is found by a quick verify (exit 3)' '
	s3cmd_run del "s3://qbk/r1/$obj" >/dev/null &&
	{ qbk-verify $P -q; test $? -eq 3; }
'

# Faults, through tests/s3/fault-proxy in front of s3rver.
R=s3://qbk/r2
Q="--url $SIM_URL --repo $R -c /dev/null"
P="--repo $R -c /dev/null"

test_expect_success 'with a proxy: 503 SlowDown on some PUTs is retried' '
	repo_init "$R" &&
	s3_proxy_fault "{\"method\":\"PUT\",\"path\":\"/data/\",\"status\":503,\"count\":4}" &&
	qbk-backup $Q --json >"$TEST_TMP/f1.json" &&
	curl -sS "$S3_PROXY_URL/__proxy/stats" >"$TEST_TMP/st.json" &&
	test "$(json_get "$TEST_TMP/st.json" "d[\"faults\"]")" -eq 4 &&
	qbk-verify $P --read-data -q
'

test_expect_success 'connection resets are retried too' '
	s3_proxy_fault clear &&
	s3_proxy_fault "{\"method\":\"PUT\",\"path\":\"/data/\",\"mode\":\"reset\",\"count\":3}" &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.2,\"seed\":3}" >/dev/null &&
	qbk-backup $Q -q && qbk-verify $P -q
'

test_expect_success 'a 503 with Retry-After is retried after the time it asks' '
	s3_proxy_fault clear &&
	s3_proxy_fault "{\"method\":\"PUT\",\"path\":\"/data/\",\"status\":503,\"retry_after\":2,\"count\":1}" &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.1,\"seed\":13}" >/dev/null &&
	qbk-backup $Q -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test_grep "HTTP 503 SlowDown.*; retrying" "$TEST_TMP/err" &&
	test_grep "waiting 2000 ms as the server.s Retry-After asks" "$TEST_TMP/err" &&
	qbk-verify $P -q
'

test_expect_success 'a chunk GET cut short is retried: the restore succeeds' '
	s3_proxy_fault clear &&
	faults=$(s3_proxy_stats "d[\"faults\"]") &&
	s3_proxy_fault "{\"method\":\"GET\",\"path\":\"/data/\",\"mode\":\"truncate\",\"count\":1}" &&
	qbk-restore $Q --collection c1 --as c1cut -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test "$(s3_proxy_stats "d[\"faults\"]")" -eq $((faults + 1)) &&
	test_grep "; retrying" "$TEST_TMP/err" &&
	sim_points c1 >"$TEST_TMP/p1" && sim_points c1cut >"$TEST_TMP/p2" &&
	test_cmp "$TEST_TMP/p1" "$TEST_TMP/p2"
'

test_expect_success '... and so is a listing cut short' '
	s3_proxy_fault clear &&
	s3_proxy_fault "{\"method\":\"GET\",\"path\":\"&prefix=\",\"mode\":\"truncate\",\"bytes\":100,\"count\":1}" &&
	qbk-verify $P -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test_grep "; retrying" "$TEST_TMP/err" &&
	s3_proxy_fault clear
'

test_expect_success 'a PUT answered with an ETag that is not its MD5 is sent again' '
	s3_proxy_fault clear &&
	faults=$(s3_proxy_stats "d[\"faults\"]") &&
	s3_proxy_fault "{\"method\":\"PUT\",\"path\":\"/data/\",\"mode\":\"etag\",\"count\":2}" &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.1,\"seed\":14}" >/dev/null &&
	qbk-backup $Q -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test "$(s3_proxy_stats "d[\"faults\"]")" -eq $((faults + 2)) &&
	test "$(grep -c "ETag [0-9a-f]* is not the MD5 .*; retrying" "$TEST_TMP/err")" -eq 2 &&
	qbk-verify $P --read-data -q
'

test_expect_success '... but with SSE-KMS the ETag is no MD5, and is not compared' '
	s3_proxy_fault clear &&
	s3_proxy_fault "{\"method\":\"PUT\",\"mode\":\"sse-kms\",\"count\":-1}" &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.1,\"seed\":15}" >/dev/null &&
	qbk-backup $Q -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test_grep -v "retrying" "$TEST_TMP/err" &&
	s3_proxy_fault clear &&
	qbk-verify $P --read-data -q
'

test_expect_success 'read-only credentials (every PUT and DELETE refused, 403): restore and verify work without a lock' '
	s3_proxy_fault clear &&
	qbk-backup $Q --collection c1 --json >"$TEST_TMP/ro.json" &&
	sha=$(json_get "$TEST_TMP/ro.json" "d[\"collections\"][0][\"sha256\"]") &&
	s3_proxy_fault "{\"method\":\"PUT\",\"status\":403,\"count\":-1}" &&
	s3_proxy_fault "{\"method\":\"DELETE\",\"status\":403,\"count\":-1}" &&
	qbk-restore $P --list >"$TEST_TMP/ro.list" 2>"$TEST_TMP/ro.err" &&
	test_grep "collection c1: " "$TEST_TMP/ro.list" &&
	test_grep "warning: cannot lock the repository, reading it without a lock .*403" "$TEST_TMP/ro.err" &&
	qbk-restore $P --collection c1 --to-file "$TEST_TMP/ro.snapshot" 2>/dev/null &&
	test "$(sha256sum <"$TEST_TMP/ro.snapshot" | cut -d" " -f1)" = "$sha" &&
	qbk-verify $P --read-data 2>"$TEST_TMP/ro.err" >/dev/null &&
	test_grep "without a lock" "$TEST_TMP/ro.err" &&
	{ qbk-backup $Q -q 2>"$TEST_TMP/ro.err"; test $? -ne 0; } &&
	test_grep "locks/.*403" "$TEST_TMP/ro.err" &&
	s3_proxy_fault clear
'

test_expect_success 'a server that keeps failing: the backup fails, no backup is visible' '
	s3_proxy_fault clear &&
	repo_s3_objects r2 backups >"$TEST_TMP/bk1" &&
	s3_proxy_fault "{\"method\":\"PUT\",\"path\":\"/data/\",\"status\":503,\"count\":-1}" &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.3,\"seed\":4}" >/dev/null &&
	{ qbk-backup $Q -q 2>"$TEST_TMP/err"; test $? -eq 1; } &&
	test_grep "503" "$TEST_TMP/err" &&
	repo_s3_objects r2 backups >"$TEST_TMP/bk2" &&
	test_cmp "$TEST_TMP/bk1" "$TEST_TMP/bk2"
'

test_expect_success '... and the next backup succeeds' '
	s3_proxy_fault clear &&
	qbk-backup $Q --json >"$TEST_TMP/f3.json" &&
	qbk-verify $P --read-data -q
'

test_expect_success 'a stalled request times out (s3_timeout) and is retried' '
	s3_proxy_fault clear &&
	# s3_timeout far above what a busy machine needs for a request that
	# moves, far below the stall: the backup ends only if it gave up the
	# stalled requests and sent them again.
	printf "[repository]\ns3_timeout = 5s\n" >"$TEST_TMP/to.conf" &&
	s3_proxy_fault "{\"method\":\"PUT\",\"path\":\"/data/\",\"mode\":\"stall\",\"seconds\":900,\"count\":2}" &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.2,\"seed\":11}" >/dev/null &&
	start=$(date +%s) &&
	qbk-backup --url "$SIM_URL" --repo "$R" -c "$TEST_TMP/to.conf" -q &&
	test $(($(date +%s) - start)) -lt 900 &&
	qbk-verify --repo "$R" -c /dev/null --read-data -q
'

test_expect_success 'a server that never answers: the backup fails clearly, no backup' '
	s3_proxy_fault clear &&
	repo_s3_objects r2 backups >"$TEST_TMP/bk1" &&
	s3_proxy_fault "{\"method\":\"PUT\",\"path\":\"/data/\",\"mode\":\"stall\",\"seconds\":900,\"count\":-1}" &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.2,\"seed\":12}" >/dev/null &&
	{ qbk-backup --url "$SIM_URL" --repo "$R" -c "$TEST_TMP/to.conf" -q 2>"$TEST_TMP/err"; test $? -eq 1; } &&
	test_grep "giving up after 6 attempts" "$TEST_TMP/err" &&
	repo_s3_objects r2 backups >"$TEST_TMP/bk2" &&
	test_cmp "$TEST_TMP/bk1" "$TEST_TMP/bk2" &&
	s3_proxy_fault clear
'

# Object lock.  s3rver has none (GET ?object-lock: 501 NotImplemented); the
# proxy stands in for it once told to (POST /__proxy/config).
cat >"$TEST_TMP/lock.conf" <<EOC
[repository]
s3_object_lock_days = 7
s3_object_lock_mode = compliance
EOC
LQ="--url $SIM_URL --repo $R -c $TEST_TMP/lock.conf"

test_expect_exit 2 'object lock on a store without it: the backup fails before any upload' '
	repo_s3_objects r2 backups >"$TEST_TMP/bk1" &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.2,\"seed\":5}" >/dev/null &&
	qbk-backup $LQ -q
'
test_expect_success '... saying why, and no backup is made' '
	test_grep "s3_object_lock_days is 7, but the bucket of .s3://qbk/r2. does not support object lock.*HTTP 501" "$TEST_TMP/stderr" &&
	repo_s3_objects r2 backups >"$TEST_TMP/bk2" &&
	test_cmp "$TEST_TMP/bk1" "$TEST_TMP/bk2"
'

test_expect_success 'a bucket without object lock enabled is refused too' '
	curl -sSf -X POST --data-binary "{\"object_lock\":\"disabled\"}" \
	    "$S3_PROXY_URL/__proxy/config" >/dev/null &&
	{ qbk-backup $LQ -q 2>"$TEST_TMP/err"; test $? -eq 2; } &&
	test_grep "does not have object lock enabled" "$TEST_TMP/err"
'

test_expect_success 'object lock: every chunk and manifest PUT is locked until now + 7 days, nothing else' '
	curl -sSf -X POST --data-binary "{\"object_lock\":\"enabled\"}" \
	    "$S3_PROXY_URL/__proxy/config" >/dev/null &&
	curl -sSf -X DELETE "$S3_PROXY_URL/__proxy/puts" >/dev/null &&
	qbk-backup $LQ -q &&
	curl -sSf "$S3_PROXY_URL/__proxy/puts" >"$TEST_TMP/puts.json" &&
	python3 - "$TEST_TMP/puts.json" <<-\EOP
	import calendar, json, sys, time
	seen, bad = {}, []
	for p in json.load(open(sys.argv[1])):
	    key = p["path"].split("/", 3)[3]
	    kind = key.split("/")[0]
	    seen[kind] = seen.get(kind, 0) + 1
	    if kind in ("data", "backups"):
	        # Reused chunks get their lock extended (next test): 2 days
	        # (a quarter of 7, rounded up) further.
	        days = 9 if p.get("retention") else 7
	        until = p["lock_until"]
	        t = calendar.timegm(time.strptime(until, "%Y-%m-%dT%H:%M:%SZ")) \
	            if until else None
	        if p["lock_mode"] != "COMPLIANCE" or t is None or \
	                abs(t - (p["time"] + days * 86400)) > 60:
	            bad.append(p)
	    elif p["lock_mode"] is not None or p["lock_until"] is not None:
	        bad.append(p)
	print(seen, bad)
	sys.exit(1 if bad or not seen.get("data") or seen.get("backups", 0) < 2
	         or not seen.get("locks") else 0)
	EOP
'

test_expect_success 'object lock: a backup extends the lock of the chunks it reuses' '
	cp "$TEST_TMP/puts.json" "$TEST_TMP/puts1.json" &&
	sleep 1 &&
	curl -sSf -X DELETE "$S3_PROXY_URL/__proxy/puts" >/dev/null &&
	start=$(date +%s) &&
	qbk-backup $LQ --json -v -v >"$TEST_TMP/l2.json" 2>"$TEST_TMP/err" &&
	L2=$(json_get "$TEST_TMP/l2.json" "d[\"backup_id\"]") &&
	# Those the previous backup stored (locked until then + 7 days) need
	# it; those it extended (+ 9 days) do not yet.
	n=$(json_get "$TEST_TMP/puts1.json" "len({p[\"path\"] for p in d if \"/data/\" in p[\"path\"] and not p.get(\"retention\")})") &&
	test "$n" -gt 0 &&
	test_grep "extending the object lock of $n reused chunks" "$TEST_TMP/err" &&
	curl -sSf -X DELETE "$S3_PROXY_URL/__proxy/gets" >/dev/null &&
	qbk-verify --repo "$R" -c /dev/null --backup "$L2" --read-data -q &&
	curl -sSf "$S3_PROXY_URL/__proxy/gets" >"$TEST_TMP/gets.json" &&
	curl -sSf "$S3_PROXY_URL/__proxy/retention" >"$TEST_TMP/ret.json" &&
	python3 - "$TEST_TMP/gets.json" "$TEST_TMP/ret.json" "$start" <<-\EOP
	import calendar, json, sys, time
	gets, ret, start = json.load(open(sys.argv[1])), \
	    json.load(open(sys.argv[2])), int(sys.argv[3])
	# Every chunk a restore of this backup reads is locked until at least
	# its start + 7 days.
	chunks = [g.split("/", 2)[2] for g in gets if "/data/" in g]
	short = [c for c in chunks if c not in ret or calendar.timegm(
	    time.strptime(ret[c][1], "%Y-%m-%dT%H:%M:%SZ")) < start + 7 * 86400]
	print(len(chunks), short)
	sys.exit(1 if short or not chunks else 0)
	EOP
'

test_expect_success '... which the next backup knows (from the chunk-index cache): no request' '
	curl -sSf -X DELETE "$S3_PROXY_URL/__proxy/puts" >/dev/null &&
	qbk-backup $LQ -v -v 2>"$TEST_TMP/err" >/dev/null &&
	test_grep -v "extending the object lock" "$TEST_TMP/err" &&
	curl -sSf "$S3_PROXY_URL/__proxy/puts" >"$TEST_TMP/puts.json" &&
	test "$(json_get "$TEST_TMP/puts.json" "len([p for p in d if p.get(\"retention\")])")" -eq 0 &&
	test "$(json_get "$TEST_TMP/puts.json" "len([p for p in d if \"/backups/\" in p[\"path\"]])")" -eq 2
'

# HTTPS with a throw-away CA, and virtual-host addressing (libcurl resolves
# every *.localhost name to the loopback address; s3rver serves the bucket
# qbk as the host qbk.s3.localhost).
test_expect_success 'HTTPS: a throw-away CA, and a certificate for 127.0.0.1 and *.s3.localhost' '
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -days 2 -subj "/CN=qbk test CA" \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign \
	    -keyout "$TEST_TMP/ca.key" -out "$TEST_TMP/ca.pem" 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	    -subj "/CN=127.0.0.1" -keyout "$TEST_TMP/srv.key" \
	    -out "$TEST_TMP/srv.csr" 2>/dev/null &&
	printf "subjectAltName=IP:127.0.0.1,DNS:s3.localhost,DNS:*.s3.localhost\n" \
	    >"$TEST_TMP/srv.ext" &&
	openssl x509 -req -in "$TEST_TMP/srv.csr" -CA "$TEST_TMP/ca.pem" \
	    -CAkey "$TEST_TMP/ca.key" -CAcreateserial -days 2 \
	    -extfile "$TEST_TMP/srv.ext" -out "$TEST_TMP/srv.pem" 2>/dev/null &&
	openssl verify -CAfile "$TEST_TMP/ca.pem" "$TEST_TMP/srv.pem"
'

PROXY1_URL=$S3_PROXY_URL PROXY1_PID=$S3_PROXY_PID
test_expect_success 'a repository over HTTPS, its certificate checked against s3_ca_file' '
	s3_proxy_start --tls-cert "$TEST_TMP/srv.pem" --tls-key "$TEST_TMP/srv.key" &&
	case $S3_PROXY_URL in https://*) ;; *) false ;; esac &&
	cat >"$TEST_TMP/tls.conf" <<-EOC &&
	[repository]
	location = s3://qbk/r5
	s3_endpoint = $S3_PROXY_URL
	s3_ca_file = $TEST_TMP/ca.pem
	EOC
	qbk-init -c "$TEST_TMP/tls.conf" --kdf-opslimit 1 --kdf-memlimit 8192 >/dev/null &&
	qbk-backup --url "$SIM_URL" -c "$TEST_TMP/tls.conf" --collection c1 -q &&
	qbk-verify -c "$TEST_TMP/tls.conf" --read-data -q &&
	test "$(s3_proxy_stats "d[\"refused\"]")" = "{}"
'

test_expect_success '... without it the certificate is refused at once, with a hint, not retried' '
	grep -v s3_ca_file "$TEST_TMP/tls.conf" >"$TEST_TMP/notrust.conf" &&
	n=$(s3_proxy_stats "d[\"requests\"]") &&
	{ qbk-verify -c "$TEST_TMP/notrust.conf" -q 2>"$TEST_TMP/err"; test $? -eq 1; } &&
	test_grep "S3 GET qbk: TLS: .*certificate" "$TEST_TMP/err" &&
	test_grep "hint: .*set s3_ca_file" "$TEST_TMP/err" &&
	test_grep -v "giving up after" "$TEST_TMP/err" &&
	test "$(s3_proxy_stats "d[\"requests\"]")" -eq "$n"
'

test_expect_success 'virtual-host addressing (s3_uri_style = host), over HTTPS too' '
	cat >"$TEST_TMP/host.conf" <<-EOC &&
	[repository]
	location = s3://qbk/r5
	s3_endpoint = https://s3.localhost:$S3_PROXY_PORT
	s3_uri_style = host
	s3_ca_file = $TEST_TMP/ca.pem
	EOC
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.1,\"seed\":16}" >/dev/null &&
	qbk-backup --url "$SIM_URL" -c "$TEST_TMP/host.conf" --collection c1 -q &&
	qbk-verify -c "$TEST_TMP/host.conf" --read-data -q &&
	test "$(s3_proxy_stats "\"qbk.s3.localhost:$S3_PROXY_PORT\" in d[\"hosts\"]")" = true &&
	test "$(s3_proxy_stats "d[\"refused\"]")" = "{}" &&
	test "$(repo_s3_objects r5 backups | grep -vc "\.copy$")" -eq 2
'
s3_proxy_stop
S3_PROXY_URL=$PROXY1_URL S3_PROXY_PID=$PROXY1_PID AWS_ENDPOINT_URL=$PROXY1_URL

test_expect_exit 2 'an S3 endpoint that answers with a redirect' '
	s3_proxy_fault "{\"path\":\"/\",\"status\":307,\"location\":\"https://qbk.s3.eu-west-1.amazonaws.com/r1/config?X-Amz-Signature=abc\",\"count\":-1}" &&
	qbk-verify $P
'
test_expect_success '... is not followed: the message names the target and what to do' '
	s3_proxy_fault clear &&
	test_grep "HTTP 307 TemporaryRedirect.*redirecting to .https://qbk.s3.eu-west-1.amazonaws.com/r1/config.$" "$TEST_TMP/stderr" &&
	test_grep "^hint: qbk does not follow redirects.*s3_endpoint" "$TEST_TMP/stderr" &&
	qbk-verify $P -q
'

test_expect_success 's3rver stopped in the middle: the backup fails, then succeeds' '
	repo_s3_objects r2 backups >"$TEST_TMP/bk1" &&
	sim_generate big 40000 64 7 &&
	before=$(repo_s3_objects r2 data | wc -l) &&
	# At 2 MB/s the snapshot takes seconds, however fast the machine: the
	# backup is still running when s3rver stops.
	sim_fault "{\"method\":\"GET\",\"path\":\"/collections/big/shards/\",\"rate_bytes_per_sec\":2000000,\"count\":1}" &&
	{ qbk-backup $Q --collection big -q 2>"$TEST_TMP/err" & pid=$!; } &&
	n=0 && while [ "$(repo_s3_objects r2 data | wc -l)" -le "$before" ] && [ $n -lt 200 ]; do
		sleep 0.05; n=$((n + 1)); done &&
	s3_stop &&
	{ wait $pid; test $? -eq 1; } &&
	test_grep "S3" "$TEST_TMP/err" &&
	# s3rver itself is not crash-safe: killed while storing an object it
	# can leave an empty metadata file that breaks its bucket requests.
	# Remove such torn objects, as a real S3 never shows them.
	find "$S3_DIR" -name "*._S3rver_metadata.json" -size 0 | while read -r m; do
		rm -f "$m" "${m%._S3rver_metadata.json}._S3rver_object" \
		    "${m%._S3rver_metadata.json}._S3rver_object.md5"; done &&
	s3_restart &&
	repo_s3_objects r2 backups >"$TEST_TMP/bk2" &&
	test_cmp "$TEST_TMP/bk1" "$TEST_TMP/bk2" &&
	qbk-backup $Q -q && qbk-verify $P --read-data -q
'

test_done
