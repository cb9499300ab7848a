#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'scripts/qbk-emergency-recover: restore everything into an empty deployment, validate'

ER=$QBK_TOP/scripts/qbk-emergency-recover
R=$TEST_TMP/repo
NOW=1795000000

# points_at URL COLLECTION: sim_points against another deployment.
points_at() {
	_save=$SIM_URL
	SIM_URL=$1
	sim_points "$2"
	_rc=$?
	SIM_URL=$_save
	return $_rc
}
# id_time ID: the ISO 8601 time of a backup id.
id_time() {
	echo "$1" | sed -E 's/^(....)(..)(..)T(..)(..)(..)Z-.*/\1-\2-\3T\4:\5:\6Z/'
}
field() {
	sed -n "s/^$1: *//p" "$TEST_TMP/stdout"
}

test_expect_success '--help and qbk-emergency-recover(1) list the same options' '
	help_opts sh "$ER" >"$TEST_TMP/help" &&
	man_opts "$QBK_TOP/man/qbk-emergency-recover.1" >"$TEST_TMP/man" &&
	test -s "$TEST_TMP/help" &&
	test_cmp "$TEST_TMP/help" "$TEST_TMP/man" &&
	sh "$ER" --help | test_grep "^usage: qbk-emergency-recover " - &&
	sh "$ER" --version | test_grep "^qbk-emergency-recover qbk [0-9]" -
'

test_expect_exit 2 'an unknown option is a usage error' '
	sh "$ER" --frobnicate
'
test_expect_exit 2 '--at and --backup together are a usage error' '
	sh "$ER" --url http://127.0.0.1:1 --at 1h --backup x
'

sim_start
SRC=$SIM_URL
test_expect_success 'set up: two collections, an alias, a repository, two backups' '
	sim_generate c1 2000 16 1 &&
	sim_generate c2 300 8 2 &&
	sim_api POST /collections/aliases "{\"actions\":[{\"create_alias\":{\"collection_name\":\"c1\",\"alias_name\":\"prod\"}}]}" &&
	repo_init "$R" &&
	QBK_TEST_NOW=$((NOW - 7200)) qbk-backup --url "$SRC" --repo "$R" -c /dev/null --json >"$TEST_TMP/b1.json" &&
	B1=$(json_get "$TEST_TMP/b1.json" "d[\"backup_id\"]") &&
	sim_points c1 >"$TEST_TMP/c1.b1" &&
	find "$R/data" -type f | sort >"$TEST_TMP/chunks.b1" &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.2,\"seed\":5}" &&
	QBK_TEST_NOW=$((NOW - 1800)) qbk-backup --url "$SRC" --repo "$R" -c /dev/null --json >"$TEST_TMP/b2.json" &&
	B2=$(json_get "$TEST_TMP/b2.json" "d[\"backup_id\"]") &&
	sim_points c1 >"$TEST_TMP/c1.b2" &&
	sim_points c2 >"$TEST_TMP/c2.b2" &&
	find "$R/data" -type f | sort >"$TEST_TMP/chunks.b2" &&
	test "$B1" != "$B2"
'

sim_start
T1=$SIM_URL
test_expect_exit 0 '--dry-run against an empty deployment' '
	sh "$ER" --url "$T1" --repo "$R" -c /dev/null --dry-run
'
test_expect_success '... prints every phase and the commands, and changes nothing' '
	test_grep "^==> phase 1/4: check" "$TEST_TMP/stderr" &&
	test_grep "^==> phase 4/4: validate" "$TEST_TMP/stderr" &&
	test_grep "qbk-verify .*--backup $B2 --read-data" "$TEST_TMP/stderr" &&
	test_grep "qbk-restore .*--url $T1 --backup $B2" "$TEST_TMP/stderr" &&
	test_grep "qbk-drill .*--validate-only --url $T1 --backup $B2" "$TEST_TMP/stderr" &&
	test_grep "backup $B2 is intact" "$TEST_TMP/stderr" &&
	test_grep "POST $T1/collections/aliases: prod -> c1" "$TEST_TMP/stderr" &&
	test_grep "nothing was restored" "$TEST_TMP/stderr" &&
	test "$(field collections)" = "c1 c2" &&
	test "$(field aliases)" = "prod=c1" &&
	test "$(field backup)" = "$B2" &&
	test "$(field dry_run)" = yes &&
	test "$(names "$T1")" = ""
'

test_expect_exit 0 'recover into an empty deployment' '
	QBK_TEST_NOW=$NOW sh "$ER" --url "$T1" --repo "$R" -c /dev/null
'
test_expect_success '... prints each phase with its duration' '
	(for p in "1/4: check" "2/4: select" "3/4: restore" "4/4: validate"; do
		test_grep "^==> phase $p" "$TEST_TMP/stderr" || exit 1
	done) &&
	test "$(grep -c "done in [0-9]" "$TEST_TMP/stderr")" -eq 4 &&
	test_grep "backup $B2 is intact" "$TEST_TMP/stderr"
'
test_expect_success '... restores the newest backup: every collection, point and alias' '
	test "$(names "$T1")" = "c1 c2" &&
	points_at "$T1" c1 >"$TEST_TMP/t1.c1" &&
	test_cmp "$TEST_TMP/c1.b2" "$TEST_TMP/t1.c1" &&
	points_at "$T1" c2 >"$TEST_TMP/t1.c2" &&
	test_cmp "$TEST_TMP/c2.b2" "$TEST_TMP/t1.c2" &&
	curl -sSf "$T1/aliases" >"$TEST_TMP/al" &&
	test "$(json_get "$TEST_TMP/al" "[(a[\"alias_name\"], a[\"collection_name\"]) for a in d[\"result\"][\"aliases\"]]")" = "[[\"prod\", \"c1\"]]"
'
test_expect_success '... and reports it on stdout' '
	test "$(field backup)" = "$B2" &&
	test "$(field backups)" = "$B2" &&
	test "$(field restored)" = "c1=$B2 c2=$B2" &&
	test "$(field target)" = "$T1" &&
	test "$(field collections)" = "c1 c2" &&
	test "$(field aliases)" = "prod=c1" &&
	test "$(field data_loss_seconds)" = 1800 &&
	test "$(field dry_run)" = no
'

test_expect_exit 2 'a deployment that holds collections is refused' '
	sh "$ER" --url "$T1" --repo "$R" -c /dev/null
'
test_expect_success '... saying why, and nothing restored' '
	test_grep "is not empty: it holds 2 collection" "$TEST_TMP/stderr" &&
	test_grep "^hint: .*--force" "$TEST_TMP/stderr" &&
	test_grep -v "phase 2/4" "$TEST_TMP/stderr"
'

test_expect_exit 0 '--force restores over it' '
	SIM_URL=$T1 sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.5,\"seed\":9}" >/dev/null &&
	sh "$ER" --url "$T1" --repo "$R" -c /dev/null --force --at "$(id_time "$B1")"
'
test_expect_success '... with --at: the data of the older backup' '
	test "$(field backup)" = "$B1" &&
	points_at "$T1" c1 >"$TEST_TMP/t1.c1" &&
	test_cmp "$TEST_TMP/c1.b1" "$TEST_TMP/t1.c1"
'

test_expect_success 'damage a chunk that only the newest backup uses' '
	comm -13 "$TEST_TMP/chunks.b1" "$TEST_TMP/chunks.b2" >"$TEST_TMP/new" &&
	test -s "$TEST_TMP/new" &&
	CH=$(head -n 1 "$TEST_TMP/new") &&
	cp "$CH" "$TEST_TMP/chunk.good" &&
	printf "\001" | dd of="$CH" bs=1 seek=60 conv=notrunc 2>/dev/null
'

sim_start
T2=$SIM_URL
test_expect_exit 0 'a damaged newest backup: the next older one is restored' '
	sh "$ER" --url "$T2" --repo "$R" -c /dev/null
'
test_expect_success '... saying so' '
	test_grep "WARNING: backup $B2 is damaged" "$TEST_TMP/stderr" &&
	test_grep "NOTE: passed over damaged or unusable backups: $B2$" "$TEST_TMP/stderr" &&
	test "$(field restored)" = "c1=$B1 c2=$B1" &&
	test "$(field backup)" = "$B1" &&
	test "$(field skipped_damaged)" = "$B2" &&
	points_at "$T2" c1 >"$TEST_TMP/t2.c1" &&
	test_cmp "$TEST_TMP/c1.b1" "$TEST_TMP/t2.c1"
'

sim_start
T3=$SIM_URL
test_expect_exit 3 '--backup of a damaged backup stops with exit 3' '
	sh "$ER" --url "$T3" --repo "$R" -c /dev/null --backup "$B2"
'
test_expect_success '... before restoring anything' '
	test_grep "backup $B2 is damaged" "$TEST_TMP/stderr" &&
	test "$(names "$T3")" = ""
'

test_expect_exit 3 '--no-verify restores it anyway, and qbk-restore exit 3 passes through' '
	sh "$ER" --url "$T3" --repo "$R" -c /dev/null --backup "$B2" --no-verify
'
test_expect_success '... naming the failed phase' '
	test_grep "restore of backup $B2 into $T3 failed \(qbk-restore exit 3\)" "$TEST_TMP/stderr"
'

R1=$TEST_TMP/repo1
test_expect_success 'a repository whose only backup is damaged' '
	repo_init "$R1" &&
	qbk-backup --url "$SRC" --repo "$R1" -c /dev/null --collection c2 -q &&
	for f in $(find "$R1/data" -type f); do
		printf "\001" | dd of="$f" bs=1 seek=60 conv=notrunc 2>/dev/null
	done
'
sim_start
T4=$SIM_URL
test_expect_exit 3 'no intact backup at all: exit 3' '
	sh "$ER" --url "$T4" --repo "$R1" -c /dev/null
'
test_expect_success '... with a clear message, and nothing restored' '
	test_grep "no intact backup: every candidate failed verification" "$TEST_TMP/stderr" &&
	test "$(names "$T4")" = ""
'

test_expect_exit 4 'a locked repository: exit 4 passes through' '
	cp "$TEST_TMP/chunk.good" "$CH" &&
	t=$(date -u +%Y-%m-%dT%H:%M:%SZ) &&
	printf "{\"format\":1,\"id\":\"00000000000000aa\",\"kind\":\"exclusive\",\"program\":\"qbk-prune\",\"host\":\"elsewhere\",\"pid\":1,\"time\":\"%s\",\"refreshed\":\"%s\"}" \
	    "$t" "$t" >"$R/locks/00000000000000aa" &&
	sh "$ER" --url "$T4" --repo "$R" -c /dev/null
'
test_expect_success '... and the lock holder is named' '
	test_grep "qbk-prune.*elsewhere" "$TEST_TMP/stderr" &&
	rm "$R/locks/00000000000000aa"
'

test_expect_exit 1 'an unreachable deployment is a runtime failure' '
	sh "$ER" --url http://127.0.0.1:1 --repo "$R" -c /dev/null
'
test_expect_success '... named in the message' '
	test_grep "cannot list the collections of http://127.0.0.1:1" "$TEST_TMP/stderr"
'

# A deployment with an API key: the key comes from $QBK_API_KEY or the
# api_key_file of the configuration, never from the command line.
sim_start --api-key s3cret
T5=$SIM_URL
test_expect_exit 1 'a deployment with an API key refuses us without it' '
	sh "$ER" --url "$T5" --repo "$R" -c /dev/null
'
test_expect_success 'with api_key_file in the configuration it works' '
	printf "s3cret\n" >"$TEST_TMP/api-key" &&
	printf "[qdrant]\nurl = %s\napi_key_file = api-key\n[repository]\nlocation = %s\n" \
	    "$T5" "$R" >"$TEST_TMP/t5.conf" &&
	sh "$ER" -c "$TEST_TMP/t5.conf" >"$TEST_TMP/stdout" &&
	test "$(field backup)" = "$B2" &&
	test "$(field collections)" = "c1 c2"
'

# A target that answers point lookups wrongly: the restore works, the
# validation (comprehensive: sampled points) must catch it.
sim_start
T6=$SIM_URL
test_expect_exit 3 'a failed validation: qbk-drill exit 3 passes through' '
	sim_fault "{\"method\":\"POST\",\"path_regex\":\"^/collections/c2/points\$\",\"count\":-1,\"status\":200,\"body\":{\"result\":[],\"status\":\"ok\",\"time\":0}}" &&
	sh "$ER" --url "$T6" --repo "$R" -c /dev/null
'
test_expect_success '... after the restore, naming the phase, with no result on stdout' '
	test_grep "^==> phase 3/4: restore" "$TEST_TMP/stderr" &&
	test_grep "validation of $T6 against backup $B2 failed \(qbk-drill exit 3\)" "$TEST_TMP/stderr" &&
	test ! -s "$TEST_TMP/stdout"
'

# The README's pre-migration backup: after a backup of everything, one of
# a single collection.  Every collection must come back, each from the
# newest backup that holds it, and the aliases as the newest one recorded.
R3=$TEST_TMP/repo3
sim_start
S3=$SIM_URL
test_expect_success 'set up: a backup of three collections, then one of a single collection' '
	sim_generate c1 400 8 11 &&
	sim_generate c2 200 8 12 &&
	sim_generate c3 100 4 13 &&
	sim_api POST /collections/aliases "{\"actions\":[{\"create_alias\":{\"collection_name\":\"c1\",\"alias_name\":\"prod\"}},{\"create_alias\":{\"collection_name\":\"c2\",\"alias_name\":\"users_live\"}}]}" &&
	repo_init "$R3" &&
	QBK_TEST_NOW=$((NOW - 7200)) qbk-backup --url "$S3" --repo "$R3" -c /dev/null --json >"$TEST_TMP/b31.json" &&
	B31=$(json_get "$TEST_TMP/b31.json" "d[\"backup_id\"]") &&
	for c in c1 c2 c3; do sim_points $c >"$TEST_TMP/$c.b31" || exit 1; done &&
	find "$R3/data" -type f | sort >"$TEST_TMP/chunks.b31" &&
	sim_api POST /__sim/mutate "{\"collection\":\"c1\",\"fraction\":0.3,\"seed\":7}" &&
	sim_api POST /collections/aliases "{\"actions\":[{\"create_alias\":{\"collection_name\":\"c3\",\"alias_name\":\"prod\"}}]}" &&
	QBK_TEST_NOW=$((NOW - 600)) qbk-backup --url "$S3" --repo "$R3" -c /dev/null \
	    --collection c1 --tag reason=pre-migration --json >"$TEST_TMP/b32.json" &&
	B32=$(json_get "$TEST_TMP/b32.json" "d[\"backup_id\"]") &&
	sim_points c1 >"$TEST_TMP/c1.b32" &&
	find "$R3/data" -type f | sort >"$TEST_TMP/chunks.b32"
'
sim_start
T7=$SIM_URL
test_expect_exit 0 'the newest backup holds one collection: every collection is recovered all the same' '
	QBK_TEST_NOW=$NOW sh "$ER" --url "$T7" --repo "$R3" -c /dev/null
'
test_expect_success '... each from the newest backup that holds it' '
	test "$(names "$T7")" = "c1 c2 c3" &&
	points_at "$T7" c1 >"$TEST_TMP/t7.c1" && test_cmp "$TEST_TMP/c1.b32" "$TEST_TMP/t7.c1" &&
	points_at "$T7" c2 >"$TEST_TMP/t7.c2" && test_cmp "$TEST_TMP/c2.b31" "$TEST_TMP/t7.c2" &&
	points_at "$T7" c3 >"$TEST_TMP/t7.c3" && test_cmp "$TEST_TMP/c3.b31" "$TEST_TMP/t7.c3" &&
	test "$(field restored)" = "c1=$B32 c2=$B31 c3=$B31" &&
	test "$(field backups)" = "$B32 $B31" &&
	test "$(field backup)" = "$B32"
'
test_expect_success '... with the aliases that the newest backup recorded' '
	test "$(field aliases)" = "prod=c3 users_live=c2" &&
	curl -sSf "$T7/aliases" >"$TEST_TMP/al7" &&
	test "$(json_get "$TEST_TMP/al7" "sorted((a[\"alias_name\"], a[\"collection_name\"]) for a in d[\"result\"][\"aliases\"])")" = "[[\"prod\", \"c3\"], [\"users_live\", \"c2\"]]"
'
test_expect_success '... and the data loss bounded by the oldest backup used' '
	test "$(field data_loss_seconds)" = 7200 &&
	test_grep "the oldest, $B31, bounds the data loss" "$TEST_TMP/stderr" &&
	test "$(grep -c "qbk-drill\|validation of" "$TEST_TMP/stderr")" -ge 2
'

sim_start
test_expect_exit 0 '--at before the single-collection backup: everything from the older one' '
	QBK_TEST_NOW=$NOW sh "$ER" --url "$SIM_URL" --repo "$R3" -c /dev/null --at "$(id_time "$B31")"
'
test_expect_success '... with its aliases' '
	test "$(field restored)" = "c1=$B31 c2=$B31 c3=$B31" &&
	test "$(field aliases)" = "prod=c1 users_live=c2" &&
	points_at "$SIM_URL" c1 >"$TEST_TMP/at.c1" && test_cmp "$TEST_TMP/c1.b31" "$TEST_TMP/at.c1"
'

sim_start
test_expect_exit 0 '--collection: only the collections named' '
	sh "$ER" --url "$SIM_URL" --repo "$R3" -c /dev/null --collection c2
'
test_expect_success '... with only their aliases' '
	test "$(names "$SIM_URL")" = c2 &&
	test "$(field restored)" = "c2=$B31" &&
	test "$(field aliases)" = "users_live=c2"
'
test_expect_exit 2 '--collection that no backup holds is a usage error' '
	sh "$ER" --url "$SIM_URL" --repo "$R3" -c /dev/null --collection nope --force
'
test_expect_success '... saying so' '
	test_grep "no backup holds collection .nope." "$TEST_TMP/stderr"
'

test_expect_success 'damage a chunk that only the single-collection backup uses' '
	comm -13 "$TEST_TMP/chunks.b31" "$TEST_TMP/chunks.b32" >"$TEST_TMP/new32" &&
	test -s "$TEST_TMP/new32" &&
	printf "\001" | dd of="$(head -n 1 "$TEST_TMP/new32")" bs=1 seek=60 conv=notrunc 2>/dev/null
'
sim_start
test_expect_exit 0 '--dry-run verifies too: the damaged backup is found, and the plan takes the older one' '
	sh "$ER" --url "$SIM_URL" --repo "$R3" -c /dev/null -n
'
test_expect_success '... restoring nothing' '
	test_grep "WARNING: backup $B32 is damaged" "$TEST_TMP/stderr" &&
	test "$(field restored)" = "c1=$B31 c2=$B31 c3=$B31" &&
	test "$(field skipped_damaged)" = "$B32" &&
	test "$(field dry_run)" = yes &&
	test "$(names "$SIM_URL")" = ""
'
test_expect_exit 0 'then the real run: the collection of the damaged backup comes from the older one' '
	sh "$ER" --url "$SIM_URL" --repo "$R3" -c /dev/null
'
test_expect_success '... with the data it held' '
	points_at "$SIM_URL" c1 >"$TEST_TMP/dmg.c1" && test_cmp "$TEST_TMP/c1.b31" "$TEST_TMP/dmg.c1" &&
	test "$(names "$SIM_URL")" = "c1 c2 c3"
'

test_expect_exit 0 'a backup whose manifest cannot be read (not usable for qbk-report) is passed over before any verification' '
	for f in "$R3/backups/$B32" "$R3/backups/$B32.copy"; do
		test ! -f "$f" || printf "\001\002\003" | dd of="$f" bs=1 seek=40 conv=notrunc 2>/dev/null
	done &&
	sh "$ER" --url "$SIM_URL" --repo "$R3" -c /dev/null -n --force
'
test_expect_success '... saying so' '
	test_grep "WARNING: backup $B32 is not usable \(.+\); passed over" "$TEST_TMP/stderr" &&
	test_grep -v "verifying backup $B32" "$TEST_TMP/stderr" &&
	test "$(field restored)" = "c1=$B31 c2=$B31 c3=$B31" &&
	test "$(field skipped_damaged)" = "$B32"
'

# One collection whose every backup is damaged, another intact.
R4=$TEST_TMP/repo4
test_expect_success 'set up: c2 and c3 in backups of their own; every chunk of c2 damaged' '
	repo_init "$R4" &&
	qbk-backup --url "$S3" --repo "$R4" -c /dev/null --collection c2 -q &&
	find "$R4/data" -type f | sort >"$TEST_TMP/chunks.c2" &&
	qbk-backup --url "$S3" --repo "$R4" -c /dev/null --collection c3 -q &&
	find "$R4/data" -type f | sort >"$TEST_TMP/chunks.c3" &&
	test "$(comm -13 "$TEST_TMP/chunks.c2" "$TEST_TMP/chunks.c3" | wc -l)" -gt 0 &&
	for f in $(cat "$TEST_TMP/chunks.c2"); do
		printf "\001" | dd of="$f" bs=1 seek=60 conv=notrunc 2>/dev/null
	done
'
sim_start
T8=$SIM_URL
test_expect_exit 3 'a collection with no intact backup: exit 3 before anything is restored' '
	sh "$ER" --url "$T8" --repo "$R4" -c /dev/null
'
test_expect_success '... naming it, and how to restore the others' '
	test_grep "no intact backup of c2: every backup that holds it failed verification" "$TEST_TMP/stderr" &&
	test_grep "^hint: restore the other collections with --collection" "$TEST_TMP/stderr" &&
	test "$(names "$T8")" = ""
'
test_expect_exit 0 '... which --collection then does' '
	sh "$ER" --url "$T8" --repo "$R4" -c /dev/null --collection c3
'
test_expect_success '... and only them' '
	test "$(names "$T8")" = c3
'

# A cluster of three nodes, restored into another cluster of three.
sim_start --nodes 3
# shellcheck disable=SC2153
CSRC=$SIM_URLS
test_expect_success 'cluster: a sharded, replicated collection backed up from 3 nodes' '
	sim_api POST /__sim/generate "{\"collection\":\"cc\",\"points\":1500,\"dim\":8,\"seed\":3,\"shard_number\":3,\"replication_factor\":2}" >/dev/null &&
	sim_points cc >"$TEST_TMP/cc" &&
	RC=$TEST_TMP/repo-cluster && repo_init "$RC" &&
	printf "[qdrant]\nnodes = %s\n[repository]\nlocation = %s\n" "$CSRC" "$RC" >"$TEST_TMP/csrc.conf" &&
	qbk-backup -c "$TEST_TMP/csrc.conf" --json >"$TEST_TMP/cb.json" &&
	CB=$(json_get "$TEST_TMP/cb.json" "d[\"backup_id\"]")
'
sim_start --nodes 3
test_expect_success 'cluster: recovered into an empty 3-node deployment' '
	printf "[qdrant]\nnodes = %s\n[repository]\nlocation = %s\n" "$SIM_URLS" "$RC" >"$TEST_TMP/cdst.conf" &&
	sh "$ER" -c "$TEST_TMP/cdst.conf" >"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr" &&
	test "$(field backup)" = "$CB" &&
	test "$(field collections)" = cc &&
	sim_points cc >"$TEST_TMP/cc.restored" &&
	test_cmp "$TEST_TMP/cc" "$TEST_TMP/cc.restored"
'
test_expect_success 'cluster: every shard is back with its replicas' '
	sim_api GET /collections/cc/cluster >"$TEST_TMP/cl" &&
	json_get "$TEST_TMP/cl" "d[\"result\"]" >/dev/null &&
	sim_api GET /collections/cc >"$TEST_TMP/ci" &&
	test "$(json_get "$TEST_TMP/ci" "d[\"result\"][\"config\"][\"params\"][\"shard_number\"]")" = 3 &&
	test "$(json_get "$TEST_TMP/ci" "d[\"result\"][\"points_count\"]")" = 1500
'

# The configuration of the source cluster names its nodes: recovering
# into another cluster by --url alone would let the programs use those.
sim_start --nodes 3
CNEW=${SIM_URLS% }
test_expect_exit 2 'cluster: --url of another cluster while [qdrant] nodes names the source: refused' '
	sh "$ER" -c "$TEST_TMP/csrc.conf" --url "$SIM_URL"
'
test_expect_success '... saying why, before anything is restored' '
	test_grep "the target $SIM_URL is not one of the nodes that the programs would use" "$TEST_TMP/stderr" &&
	test_grep "^hint: name every node of the target with --nodes" "$TEST_TMP/stderr" &&
	test "$(names "$SIM_URL")" = ""
'
test_expect_exit 0 'cluster: --nodes names the target cluster instead' '
	sh "$ER" -c "$TEST_TMP/csrc.conf" --nodes "$(echo "$CNEW" | tr " " ",")"
'
test_expect_success '... which gets every point; the source is left alone' '
	test_grep "nodes of the target: $CNEW" "$TEST_TMP/stderr" &&
	test "$(field target)" = "$SIM_URL" &&
	sim_points cc >"$TEST_TMP/cc.new" &&
	test_cmp "$TEST_TMP/cc" "$TEST_TMP/cc.new" &&
	(SIM_URL=${CSRC%% *} && sim_points cc) >"$TEST_TMP/cc.src" &&
	test_cmp "$TEST_TMP/cc" "$TEST_TMP/cc.src" &&
	test "$(names "${CSRC%% *}")" = cc
'
test_expect_exit 2 '--url that is not one of --nodes is refused' '
	sh "$ER" -c /dev/null --repo "$RC" --url http://127.0.0.1:1 --nodes "$SIM_URL"
'

# A collection deleted on purpose: the newest backup of every collection
# lacks it, so a recovery does not bring it back; a per-collection backup
# taken after that one still counts.
R4=$TEST_TMP/repo-gone
sim_start
S4=$SIM_URL
test_expect_success 'set up: backups of every collection, one deleted in between, then one of a single collection' '
	sim_generate keep 60 4 21 &&
	sim_generate gone 40 4 22 &&
	repo_init "$R4" &&
	QBK_TEST_NOW=$((NOW - 7200)) qbk-backup --url "$S4" --repo "$R4" -c /dev/null -q &&
	sim_api DELETE /collections/gone >/dev/null &&
	QBK_TEST_NOW=$((NOW - 3600)) qbk-backup --url "$S4" --repo "$R4" -c /dev/null -q &&
	sim_generate late 30 4 23 &&
	QBK_TEST_NOW=$((NOW - 600)) qbk-backup --url "$S4" --repo "$R4" -c /dev/null --collection late -q &&
	qbk-report --repo "$R4" -c /dev/null --list --json >"$TEST_TMP/l4.json" &&
	test "$(json_get "$TEST_TMP/l4.json" "[b[\"selection\"] for b in d[\"backups\"]]")" = "[\"all\", \"all\", \"named\"]"
'
sim_start
test_expect_exit 0 'a recovery leaves out the collection deleted before the newest backup of every collection' '
	QBK_TEST_NOW=$NOW sh "$ER" --url "$SIM_URL" --repo "$R4" -c /dev/null
'
test_expect_success '... saying so, and restores the others, the later one too' '
	test "$(names "$SIM_URL")" = "keep late" &&
	test_grep "collection gone left out: backup [^ ]+ of every collection no longer had it" "$TEST_TMP/stderr"
'
sim_start
test_expect_exit 0 '--collection brings it back when asked' '
	QBK_TEST_NOW=$NOW sh "$ER" --url "$SIM_URL" --repo "$R4" -c /dev/null --collection gone
'
test_expect_success '... from the older backup' '
	test "$(names "$SIM_URL")" = gone
'

test_done
