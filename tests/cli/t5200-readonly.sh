#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'a repository that cannot be written: restores and verify work without a lock; prune frees a full disk'

# The repository sits on a real read-only mount or a real full file system
# (a bind mount or a tmpfs in a mount namespace of the test's own: root).
sim_start
R=$TEST_TMP/repo
Q="--url $SIM_URL --repo $R -c /dev/null"

# ro CMD...: run CMD with the repository on a read-only bind mount.
ro() {
	unshare --mount sh -c 'mount --bind "$1" "$1" &&
	    mount -o remount,ro,bind "$1" && shift && exec "$@"' ro "$R" "$@"
}
# files: every file of the repository with its size and mtime.
files() {
	(cd "$R" && find . -type f -printf "%p %s %T@\n" | sort)
}

test_expect_success 'a repository with two backups of c1' '
	sim_generate c1 2000 16 1 &&
	repo_init "$R" &&
	qbk-backup $Q -q &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.3,\"seed\":2}" >/dev/null &&
	qbk-backup $Q --json >"$TEST_TMP/b2.json" &&
	SHA=$(json_get "$TEST_TMP/b2.json" "d[\"collections\"][0][\"sha256\"]") &&
	files >"$TEST_TMP/before"
'

test_expect_success 'on a read-only mount, qbk-restore --list works, saying it has no lock' '
	ro qbk-restore $Q --list >"$TEST_TMP/list" 2>"$TEST_TMP/list.err" &&
	test_grep "^  collection c1: 2000 points" "$TEST_TMP/list" &&
	test_grep "warning: cannot lock the repository, reading it without a lock .*Read-only file system" "$TEST_TMP/list.err" &&
	test_lines 1 "$TEST_TMP/list.err"
'

test_expect_success '... --to-file gives the snapshot with its SHA-256' '
	ro qbk-restore $Q --collection c1 --to-file "$TEST_TMP/c1.snapshot" -q 2>/dev/null &&
	test "$(sha256sum <"$TEST_TMP/c1.snapshot" | cut -d" " -f1)" = "$SHA"
'

test_expect_success '... a restore into Qdrant gives every point back' '
	ro qbk-restore $Q --collection c1 --as c1_ro -q 2>/dev/null &&
	sim_points c1 >"$TEST_TMP/p1" && sim_points c1_ro >"$TEST_TMP/p2" &&
	test_cmp "$TEST_TMP/p1" "$TEST_TMP/p2"
'

test_expect_success '... qbk-verify --read-data checks every chunk' '
	ro qbk-verify $Q --read-data >/dev/null 2>"$TEST_TMP/v.err" &&
	test_grep "without a lock" "$TEST_TMP/v.err"
'

test_expect_exit 1 '... but qbk-backup, which must write, fails' '
	ro qbk-backup $Q
'

test_expect_success '... saying why; nothing in the repository changed' '
	test_grep "^qbk-backup: .*locks/.*Read-only file system" "$TEST_TMP/stderr" &&
	files >"$TEST_TMP/after" &&
	test_cmp "$TEST_TMP/before" "$TEST_TMP/after"
'

test_expect_exit 4 'a reader without a lock still keeps out of a running prune' '
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ) &&
	printf "{\"format\":1,\"id\":\"00000000000000aa\",\"kind\":\"exclusive\",\"program\":\"qbk-prune\",\"host\":\"elsewhere\",\"pid\":1,\"time\":\"%s\",\"refreshed\":\"%s\"}" \
	    "$now" "$now" >"$R/locks/00000000000000aa" &&
	ro qbk-restore $Q --list
'

test_expect_success '... naming it' '
	test_grep "locked exclusively by qbk-prune .pid 1 on host elsewhere" "$TEST_TMP/stderr" &&
	rm "$R/locks/00000000000000aa"
'

# The full-disk scenario runs in one mount namespace, since the tmpfs lives
# only as long as it: each step's exit status goes to $TEST_TMP/full.rc.
cat >"$TEST_TMP/full.sh" <<'SCRIPT'
F=$TEST_TMP/full
step() {
	name=$1
	shift
	"$@" >"$TEST_TMP/full.$name.out" 2>"$TEST_TMP/full.$name.err"
	echo "$name $?" >>"$TEST_TMP/full.rc"
}
mkdir -p "$F" &&
mount -t tmpfs -o size=4m tmpfs "$F" &&
printf "[repository]\nlock_stale = 2s\n" >"$TEST_TMP/full.conf" &&
FQ="--url $SIM_URL --repo $F/repo -c $TEST_TMP/full.conf" &&
qbk-init --repo "$F/repo" --kdf-opslimit 1 --kdf-memlimit 8192 >/dev/null &&
qbk-backup $FQ --collection c1 -q &&
curl -sSf -X POST -H "Content-Type: application/json" \
    --data-binary '{"collection":"c1","fraction":0.5,"seed":3}' \
    "$SIM_URL/__sim/mutate" >/dev/null &&
qbk-backup $FQ --collection c1 -q &&
test -f "$F/repo/locks/.reserve" || { echo "setup 1" >>"$TEST_TMP/full.rc"; exit 1; }
# Fill it up, as a growing repository or another program would.
dd if=/dev/zero of="$F/filler" bs=4k >/dev/null 2>&1
step backup qbk-backup $FQ --collection c1
step verify qbk-verify $FQ
step restore qbk-restore $FQ --collection c1 --to-file "$TEST_TMP/full.snapshot"
# The older backup's chunks are not young any more.
find "$F/repo/data" -type f -exec touch -d "-1 day" {} +
step prune qbk-prune --repo "$F/repo" -c "$TEST_TMP/full.conf" --keep-last 1 --json
step verify2 qbk-verify $FQ --read-data
test -f "$F/repo/locks/.reserve"
echo "reserve $?" >>"$TEST_TMP/full.rc"
SCRIPT

test_expect_success 'on a full file system ...' '
	: >"$TEST_TMP/full.rc" &&
	unshare --mount sh "$TEST_TMP/full.sh" &&
	cat "$TEST_TMP/full.rc"
'

test_expect_success '... a backup fails, saying the disk is full' '
	test_grep "^backup 1$" "$TEST_TMP/full.rc" &&
	test_grep "No space left on device" "$TEST_TMP/full.backup.err"
'

test_expect_success '... qbk-verify and qbk-restore work without a lock' '
	test_grep "^verify 0$" "$TEST_TMP/full.rc" &&
	test_grep "^restore 0$" "$TEST_TMP/full.rc" &&
	test_grep "reading it without a lock .*No space left on device" "$TEST_TMP/full.restore.err" &&
	test -s "$TEST_TMP/full.snapshot"
'

test_expect_success '... qbk-prune takes its lock with the space reserve and frees space' '
	test_grep "^prune 0$" "$TEST_TMP/full.rc" &&
	test_grep "is full: used its space reserve to write lock record" "$TEST_TMP/full.prune.err" &&
	test "$(json_get "$TEST_TMP/full.prune.out" "d[\"removed\"]")" = 1 &&
	test "$(json_get "$TEST_TMP/full.prune.out" "d[\"bytes_freed\"] > 0")" = true
'

test_expect_success '... after which runs lock again and the reserve is back' '
	test_grep "^verify2 0$" "$TEST_TMP/full.rc" &&
	test_grep -v "without a lock" "$TEST_TMP/full.verify2.err" &&
	test_grep "^reserve 0$" "$TEST_TMP/full.rc"
'

test_done
