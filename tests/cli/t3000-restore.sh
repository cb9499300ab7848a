#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'qbk-restore: into Qdrant, to a file, choice of backup, failures'

sim_start
R=$(repo_location repo)
Q="--url $SIM_URL --repo $R -c /dev/null"

# id_time ID: the ISO 8601 time of a backup id.
id_time() {
	echo "$1" | sed -E 's/^(....)(..)(..)T(..)(..)(..)Z-.*/\1-\2-\3T\4:\5:\6Z/'
}

count_backups() {
	repo_count_backups repo
}

exists() {
	sim_api GET "/collections/$1/exists" >"$TEST_TMP/exists" &&
	json_get "$TEST_TMP/exists" "d[\"result\"][\"exists\"]"
}

test_expect_success 'set up collections, an alias, a repository, a backup' '
	sim_generate c1 3000 32 1 &&
	sim_generate c2 400 8 2 &&
	sim_api POST /collections/aliases "{\"actions\":[{\"create_alias\":{\"collection_name\":\"c1\",\"alias_name\":\"prod\"}}]}" &&
	repo_init "$R" &&
	qbk-backup $Q --json >"$TEST_TMP/b1.json" &&
	B1=$(json_get "$TEST_TMP/b1.json" "d[\"backup_id\"]") &&
	SHA1=$(json_get "$TEST_TMP/b1.json" "[c[\"sha256\"] for c in d[\"collections\"] if c[\"name\"] == \"c1\"][0]") &&
	sim_points c1 >"$TEST_TMP/c1.before"
'

test_expect_success 'restore into a new collection gives back every point' '
	qbk-restore $Q --collection c1 --as c1new --json >"$TEST_TMP/r.json" &&
	sim_points c1new >"$TEST_TMP/c1new" &&
	test_lines 3000 "$TEST_TMP/c1new" &&
	test_cmp "$TEST_TMP/c1.before" "$TEST_TMP/c1new"
'

test_expect_success '... reports it in JSON' '
	test "$(json_get "$TEST_TMP/r.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/r.json" "d[\"problems\"]")" = "[]" &&
	test "$(json_get "$TEST_TMP/r.json" "d[\"backup_id\"]")" = "$B1" &&
	test "$(json_get "$TEST_TMP/r.json" "d[\"collections\"][0][\"target\"]")" = c1new &&
	test "$(json_get "$TEST_TMP/r.json" "d[\"collections\"][0][\"sha256\"]")" = "$SHA1" &&
	test "$(json_get "$TEST_TMP/r.json" "d[\"collections\"][0][\"bytes\"] > 0")" = true
'

test_expect_success '... leaves no uploaded file on the node' '
	sim_api GET /collections/c1new/snapshots >"$TEST_TMP/list" &&
	test "$(json_get "$TEST_TMP/list" "len(d[\"result\"])")" = 0
'

test_expect_success '... and does not steal an alias from a live collection' '
	json_get "$TEST_TMP/r.json" "d[\"warnings\"]" >"$TEST_TMP/w" &&
	test_grep "alias .prod. points at .c1.: not re-pointed" "$TEST_TMP/w" &&
	sim_api GET /aliases >"$TEST_TMP/aliases" &&
	test "$(json_get "$TEST_TMP/aliases" "[a[\"collection_name\"] for a in d[\"result\"][\"aliases\"] if a[\"alias_name\"] == \"prod\"]")" = "[\"c1\"]"
'

test_expect_success '--to-file writes the original snapshot byte for byte' '
	qbk-restore $Q --collection c1 --to-file "$TEST_TMP/c1.snapshot" >"$TEST_TMP/out" &&
	test "$(sha256sum <"$TEST_TMP/c1.snapshot" | cut -d" " -f1)" = "$SHA1" &&
	ls -a "$TEST_TMP" >"$TEST_TMP/ls" &&
	test_grep -v "\.tmp\." "$TEST_TMP/ls"
'

test_expect_success '--to-file - writes it to standard output' '
	qbk-restore $Q --collection c1 --to-file - >"$TEST_TMP/stdout.snapshot" &&
	cmp "$TEST_TMP/c1.snapshot" "$TEST_TMP/stdout.snapshot"
'

test_expect_success '--to-file onto a named pipe writes into it and keeps it' '
	mkfifo "$TEST_TMP/pipe" &&
	{ cat "$TEST_TMP/pipe" >"$TEST_TMP/piped.snapshot" & reader=$!; } &&
	qbk-restore $Q --collection c1 --to-file "$TEST_TMP/pipe" -q &&
	wait $reader &&
	test -p "$TEST_TMP/pipe" &&
	cmp "$TEST_TMP/c1.snapshot" "$TEST_TMP/piped.snapshot"
'

test_expect_exit 2 '--to-file does not replace an existing file' '
	echo precious >"$TEST_TMP/precious" &&
	qbk-restore $Q --collection c1 --to-file "$TEST_TMP/precious"
'
test_expect_success '... says so in one line naming it and --force, and keeps it' '
	test_grep "^qbk-restore: .*precious. exists: give --force to replace it$" "$TEST_TMP/stderr" &&
	test_lines 1 "$TEST_TMP/stderr" &&
	test "$(cat "$TEST_TMP/precious")" = precious
'

test_expect_success '--to-file --force replaces it' '
	qbk-restore $Q --collection c1 --to-file "$TEST_TMP/precious" --force -q &&
	cmp "$TEST_TMP/c1.snapshot" "$TEST_TMP/precious"
'

test_expect_success '--to-file onto a device writes into it without --force' '
	qbk-restore $Q --collection c1 --to-file /dev/null -q &&
	test -c /dev/null
'

test_expect_exit 2 '--to-file refuses to pick one of several snapshots' '
	qbk-restore $Q --to-file "$TEST_TMP/both.snapshot"
'
test_expect_success '... says why, and writes nothing' '
	test_grep "holds 2 snapshots" "$TEST_TMP/stderr" &&
	test ! -e "$TEST_TMP/both.snapshot"
'

test_expect_success '--to-file into a folder writes every snapshot' '
	mkdir "$TEST_TMP/dir" &&
	qbk-restore $Q --to-file "$TEST_TMP/dir" -q &&
	test "$(ls "$TEST_TMP/dir" | wc -l)" -eq 2 &&
	cmp "$TEST_TMP/c1.snapshot" "$TEST_TMP/dir/$(ls "$TEST_TMP/dir" | grep "^c1-")"
'

test_expect_exit 2 '... but not over the files already there' '
	ls -li "$TEST_TMP/dir" >"$TEST_TMP/dir.before" &&
	qbk-restore $Q --to-file "$TEST_TMP/dir"
'
test_expect_success '... naming one, and writing none without --force' '
	test_grep "dir/c[12]-.*exists: give --force" "$TEST_TMP/stderr" &&
	ls -li "$TEST_TMP/dir" >"$TEST_TMP/dir.after" &&
	test_cmp "$TEST_TMP/dir.before" "$TEST_TMP/dir.after" &&
	qbk-restore $Q --to-file "$TEST_TMP/dir" --force -q &&
	test "$(ls "$TEST_TMP/dir" | wc -l)" -eq 2
'

test_expect_success '--list shows what a backup holds' '
	qbk-restore $Q --list >"$TEST_TMP/list.txt" &&
	test_grep "^backup $B1" "$TEST_TMP/list.txt" &&
	test_grep "collection c1: 3000 points, 1 snapshot, .*aliases prod" "$TEST_TMP/list.txt" &&
	test_grep "sha256 $SHA1" "$TEST_TMP/list.txt" &&
	qbk-restore $Q --list --json >"$TEST_TMP/list.json" &&
	test "$(json_get "$TEST_TMP/list.json" "sorted(c[\"name\"] for c in d[\"collections\"])")" = "[\"c1\", \"c2\"]" &&
	test "$(json_get "$TEST_TMP/list.json" "d[\"aliases\"]")" = "{\"prod\": \"c1\"}"
'

test_expect_success 'a second backup after a change' '
	sleep 1 &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.1,\"seed\":7}" &&
	sim_points c1 >"$TEST_TMP/c1.after" &&
	! cmp -s "$TEST_TMP/c1.before" "$TEST_TMP/c1.after" &&
	qbk-backup $Q --collection c1 --json >"$TEST_TMP/b2.json" &&
	B2=$(json_get "$TEST_TMP/b2.json" "d[\"backup_id\"]") &&
	test "$B1" != "$B2"
'

test_expect_success 'the newest backup is the default' '
	qbk-restore $Q --list >"$TEST_TMP/l" &&
	test_grep "^backup $B2" "$TEST_TMP/l"
'

test_expect_success '--collection picks the newest backup that holds it' '
	qbk-restore $Q --collection c2 --list >"$TEST_TMP/l" &&
	test_grep "^backup $B1" "$TEST_TMP/l" &&
	qbk-restore $Q --collection c1 --list >"$TEST_TMP/l" &&
	test_grep "^backup $B2" "$TEST_TMP/l" &&
	qbk-restore $Q --collection c2 --as c2b1 --json >"$TEST_TMP/c.json" &&
	test "$(json_get "$TEST_TMP/c.json" "d[\"backup_id\"]")" = "$B1" &&
	sim_points c2 >"$TEST_TMP/c2.now" &&
	sim_points c2b1 >"$TEST_TMP/c2b1" &&
	test_cmp "$TEST_TMP/c2.now" "$TEST_TMP/c2b1"
'

test_expect_success '... also with --at' '
	qbk-restore $Q --collection c1 --at "$(id_time "$B1")" --list >"$TEST_TMP/l" &&
	test_grep "^backup $B1" "$TEST_TMP/l"
'

test_expect_exit 2 'several --collection: one backup must hold them all, and be the newest of each' '
	qbk-restore $Q --collection c1 --collection c2 --list
'
test_expect_success '... else it says which backup is newer, and what to do' '
	test_grep "backup $B1, the newest that holds .c1. and .c2., is older than backup $B2 of .c1." "$TEST_TMP/stderr" &&
	test_grep "^hint: .*--backup $B1.*qbk-emergency-recover" "$TEST_TMP/stderr"
'

test_expect_success '... which the newest holding them all is, at or before --at' '
	qbk-restore $Q --collection c1 --collection c2 --at "$(id_time "$B1")" --list >"$TEST_TMP/l" &&
	test_grep "^backup $B1" "$TEST_TMP/l"
'

test_expect_exit 2 'a collection no backup holds' '
	qbk-restore $Q --collection nope --list
'
test_expect_success '... is named' '
	test_grep "no backup holds collection .nope." "$TEST_TMP/stderr"
'

test_expect_success '--at picks the newest backup at or before the time' '
	qbk-restore $Q --at "$(id_time "$B1")" --list >"$TEST_TMP/l" &&
	test_grep "^backup $B1" "$TEST_TMP/l" &&
	qbk-restore $Q --at "$(id_time "$B2")" --list >"$TEST_TMP/l" &&
	test_grep "^backup $B2" "$TEST_TMP/l" &&
	qbk-restore $Q --at now --list >"$TEST_TMP/l" &&
	test_grep "^backup $B2" "$TEST_TMP/l"
'

test_expect_exit 2 '--at takes a duration back from now' '
	qbk-restore $Q --at 2d --list
'
test_expect_success '... here before the first backup' '
	test_grep "no backup was taken at or before" "$TEST_TMP/stderr"
'

test_expect_success '--at restores the data of that time' '
	qbk-restore $Q --at "$(id_time "$B1")" --collection c1 --as c1old -q &&
	sim_points c1old >"$TEST_TMP/c1old" &&
	test_cmp "$TEST_TMP/c1.before" "$TEST_TMP/c1old"
'

test_expect_exit 2 '--at before the first backup is an error' '
	qbk-restore $Q --at 2020-01-01T00:00:00Z --list
'
test_expect_success '... naming the oldest backup' '
	test_grep "no backup was taken at or before 2020-01-01T00:00:00Z" "$TEST_TMP/stderr" &&
	test_grep "$B1" "$TEST_TMP/stderr"
'

test_expect_exit 2 'a bad time is a usage error' '
	qbk-restore $Q --at yesterday --list
'

test_expect_exit 2 'an existing collection is not overwritten' '
	qbk-restore $Q --backup "$B1" --collection c1
'
test_expect_success '... with a clear message and a hint, and c1 unchanged' '
	test_grep "collection .c1. exists on" "$TEST_TMP/stderr" &&
	test_grep "^hint: .*--as NEWNAME.*--force" "$TEST_TMP/stderr" &&
	sim_points c1 >"$TEST_TMP/c1.now" &&
	test_cmp "$TEST_TMP/c1.after" "$TEST_TMP/c1.now"
'

test_expect_success '--force replaces it, after a safety backup' '
	N=$(count_backups) &&
	qbk-restore $Q --backup "$B1" --collection c1 --force --json >"$TEST_TMP/f.json" &&
	test "$(json_get "$TEST_TMP/f.json" "d[\"collections\"][0][\"replaced\"]")" = true &&
	S=$(json_get "$TEST_TMP/f.json" "d[\"safety_backup_id\"]") &&
	test "$(count_backups)" -eq $((N + 1)) &&
	sim_points c1 >"$TEST_TMP/c1.now" &&
	test_cmp "$TEST_TMP/c1.before" "$TEST_TMP/c1.now"
'

test_expect_success '... the safety backup holds what was replaced' '
	qbk-restore $Q --backup "$S" --list >"$TEST_TMP/l" &&
	test_grep "tags: .*reason=pre-restore" "$TEST_TMP/l" &&
	qbk-restore $Q --backup "$S" --collection c1 --as c1safety -q &&
	sim_points c1safety >"$TEST_TMP/c1safety" &&
	test_cmp "$TEST_TMP/c1.after" "$TEST_TMP/c1safety"
'

test_expect_success '... and is not taken for the newest backup' '
	qbk-restore $Q --list >"$TEST_TMP/l" &&
	test_grep "^backup $B2" "$TEST_TMP/l"
'

test_expect_success 'a lost collection comes back with its alias' '
	sim_api DELETE /collections/c1 >/dev/null &&
	test "$(exists c1)" = false &&
	qbk-restore $Q --backup "$B1" --collection c1 -q &&
	sim_points c1 >"$TEST_TMP/c1.now" &&
	test_cmp "$TEST_TMP/c1.before" "$TEST_TMP/c1.now" &&
	sim_api GET /aliases >"$TEST_TMP/aliases" &&
	test "$(json_get "$TEST_TMP/aliases" "[a[\"collection_name\"] for a in d[\"result\"][\"aliases\"] if a[\"alias_name\"] == \"prod\"]")" = "[\"c1\"]"
'

test_expect_success 'collection snapshots (backup --method snapshot) restore too' '
	qbk-backup $Q --collection c2 --method snapshot --json >"$TEST_TMP/b3.json" &&
	B3=$(json_get "$TEST_TMP/b3.json" "d[\"backup_id\"]") &&
	sim_points c2 >"$TEST_TMP/c2" &&
	qbk-restore $Q --backup "$B3" --as c2new -q &&
	sim_points c2new >"$TEST_TMP/c2new" &&
	test_cmp "$TEST_TMP/c2" "$TEST_TMP/c2new" &&
	sim_api GET /collections/c2new/snapshots >"$TEST_TMP/list" &&
	test "$(json_get "$TEST_TMP/list" "len(d[\"result\"])")" = 0
'

test_expect_success 'a full storage backup restores a collection from inside it' '
	qbk-backup $Q --full-storage --json >"$TEST_TMP/b4.json" &&
	B4=$(json_get "$TEST_TMP/b4.json" "d[\"backup_id\"]") &&
	qbk-restore $Q --backup "$B4" --list >"$TEST_TMP/l" &&
	test_grep "collection c2: " "$TEST_TMP/l" &&
	qbk-restore $Q --backup "$B4" --collection c2 --as c2full -q &&
	sim_points c2full >"$TEST_TMP/c2full" &&
	test_cmp "$TEST_TMP/c2" "$TEST_TMP/c2full" &&
	qbk-restore $Q --backup "$B4" --collection c2 --to-file "$TEST_TMP/c2m.snapshot" -q &&
	qbk-restore $Q --backup "$B4" --to-file "$TEST_TMP/full.snapshot" -q &&
	mkdir "$TEST_TMP/full" && (cd "$TEST_TMP/full" && tar xf ../full.snapshot) &&
	cmp "$TEST_TMP/c2m.snapshot" "$TEST_TMP/full/$(ls "$TEST_TMP/full" | grep "^c2-")"
'

test_expect_success '--force over a collection of other vectors re-creates it' '
	sim_generate odd 50 4 9 &&
	sim_api POST /collections/aliases "{\"actions\":[{\"create_alias\":{\"collection_name\":\"odd\",\"alias_name\":\"oddal\"}}]}" &&
	qbk-restore $Q --backup "$B1" --collection c2 --as odd --force -q &&
	sim_points odd >"$TEST_TMP/odd" &&
	test_cmp "$TEST_TMP/c2" "$TEST_TMP/odd"
'
test_expect_success '... and keeps its aliases' '
	sim_api GET /aliases >"$TEST_TMP/aliases" &&
	test "$(json_get "$TEST_TMP/aliases" "[a[\"collection_name\"] for a in d[\"result\"][\"aliases\"] if a[\"alias_name\"] == \"oddal\"]")" = "[\"odd\"]"
'

test_expect_exit 2 'an unknown collection is a usage error' '
	qbk-restore $Q --backup "$B1" --collection nope --as x
'
test_expect_success '... naming it and what the backup holds' '
	test_grep "holds no collection .nope." "$TEST_TMP/stderr" &&
	test_grep "^hint: it holds: c1, c2" "$TEST_TMP/stderr" &&
	test "$(exists x)" = false
'

test_expect_exit 2 'an unknown backup is a usage error' '
	qbk-restore $Q --backup 20200101T000000Z-0000 --list
'

test_expect_exit 2 '--as with several collections is a usage error' '
	qbk-restore $Q --backup "$B1" --as x
'

test_expect_exit 2 'a wrong passphrase is refused' '
	QBK_PASSPHRASE=wrong qbk-restore $Q --list
'
test_expect_success '... with a clear message' '
	test_grep "wrong passphrase" "$TEST_TMP/stderr"
'

test_expect_exit 2 'a missing repository is a configuration error' '
	qbk-restore --url "$SIM_URL" --repo "$TEST_TMP/nowhere" -c /dev/null --list
'
test_expect_success '... named in the message' '
	test_grep "no repository at .*nowhere" "$TEST_TMP/stderr"
'

test_expect_exit 1 'an unreachable Qdrant is a runtime failure' '
	qbk-restore --url http://127.0.0.1:1 --repo "$R" -c /dev/null --backup "$B1" --collection c1 --as x
'

test_expect_exit 4 'a repository locked exclusively by another host' '
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ) &&
	printf "{\"format\":1,\"id\":\"00000000000000aa\",\"kind\":\"exclusive\",\"program\":\"qbk-prune\",\"host\":\"elsewhere\",\"pid\":1,\"time\":\"%s\",\"refreshed\":\"%s\"}" \
	    "$now" "$now" >"$TEST_TMP/lockrec" &&
	repo_put repo locks/00000000000000aa "$TEST_TMP/lockrec" &&
	qbk-restore $Q --list
'
test_expect_success '... names the holder' '
	test_grep "qbk-prune.*elsewhere" "$TEST_TMP/stderr" &&
	repo_rm repo locks/00000000000000aa
'

# A repository holding c2 alone, so that every chunk belongs to it.
R2=$(repo_location repo2)
test_expect_success 'a repository with one collection, one chunk damaged' '
	repo_init "$R2" &&
	qbk-backup --url "$SIM_URL" --repo "$R2" -c /dev/null --collection c2 -q &&
	CHK=$(repo_keys repo2 data | head -n 1) &&
	CH=$(repo_obj repo2 "$CHK") &&
	printf "\001" | dd of="$CH" bs=1 seek=60 conv=notrunc 2>/dev/null
'

test_expect_exit 3 'a damaged chunk stops the restore' '
	qbk-restore --url "$SIM_URL" --repo "$R2" -c /dev/null --as c2bad
'
test_expect_success '... names the chunk, and recovers nothing' '
	test_grep "chunk .$(basename "$CHK"). is damaged" "$TEST_TMP/stderr" &&
	test "$(exists c2bad)" = false
'

test_expect_exit 3 '... also for --to-file, which leaves no file' '
	qbk-restore --url "$SIM_URL" --repo "$R2" -c /dev/null --to-file "$TEST_TMP/bad.snapshot"
'
test_expect_success '... really none' '
	test ! -e "$TEST_TMP/bad.snapshot" &&
	ls -a "$TEST_TMP" >"$TEST_TMP/ls" &&
	test_grep -v "bad\.snapshot" "$TEST_TMP/ls"
'

test_expect_exit 3 'a damaged backup does not cost the collection it would replace' '
	sim_generate odd2 60 3 4 &&
	sim_points odd2 >"$TEST_TMP/odd2" &&
	qbk-restore --url "$SIM_URL" --repo "$R2" -c /dev/null --as odd2 --force
'
test_expect_success '... which is left as it was' '
	test_grep "collection .odd2. was left as it was" "$TEST_TMP/stderr" &&
	sim_points odd2 >"$TEST_TMP/odd2.now" &&
	test_cmp "$TEST_TMP/odd2" "$TEST_TMP/odd2.now"
'

test_expect_exit 3 'a missing chunk stops the restore too' '
	repo_rm repo2 "$CHK" &&
	qbk-restore --url "$SIM_URL" --repo "$R2" -c /dev/null --as c2bad --json >"$TEST_TMP/bad.json"
'
test_expect_success '... reported in JSON, and nothing recovered' '
	test "$(json_get "$TEST_TMP/bad.json" "d[\"ok\"]")" = false &&
	json_get "$TEST_TMP/bad.json" "d[\"problems\"][0]" >"$TEST_TMP/p" &&
	test_grep "missing" "$TEST_TMP/p" &&
	test "$(exists c2bad)" = false
'

test_done
