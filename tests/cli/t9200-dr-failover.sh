#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'scripts/qbk-dr-failover: restore into a standby, validate, print the checklist'

FO=$QBK_TOP/scripts/qbk-dr-failover
R=$TEST_TMP/repo
NOW=1795000000

test_expect_success '--help and qbk-dr-failover(1) list the same options' '
	help_opts sh "$FO" >"$TEST_TMP/help" &&
	man_opts "$QBK_TOP/man/qbk-dr-failover.1" >"$TEST_TMP/man" &&
	test -s "$TEST_TMP/help" &&
	test_cmp "$TEST_TMP/help" "$TEST_TMP/man" &&
	sh "$FO" --help | test_grep "^usage: qbk-dr-failover --standby URL" -
'

test_expect_exit 2 '--standby is required' '
	sh "$FO" -c /dev/null
'
test_expect_success '... says so' '
	test_grep "standby URL is required" "$TEST_TMP/stderr"
'
test_expect_exit 2 '--standby must be a URL' '
	sh "$FO" --standby qdrant-b
'

sim_start
PRIMARY=$SIM_URL
test_expect_success 'set up: a primary with two collections and an alias, a backup' '
	sim_generate docs 1200 16 1 &&
	sim_generate users 200 4 2 &&
	sim_api POST /collections/aliases "{\"actions\":[{\"create_alias\":{\"collection_name\":\"docs\",\"alias_name\":\"docs_live\"}}]}" &&
	repo_init "$R" &&
	QBK_TEST_NOW=$((NOW - 5400)) qbk-backup --url "$PRIMARY" --repo "$R" -c /dev/null --json >"$TEST_TMP/b.json" &&
	B=$(json_get "$TEST_TMP/b.json" "d[\"backup_id\"]") &&
	sim_points docs >"$TEST_TMP/docs" &&
	printf "[environment]\npreset = production\n[qdrant]\nurl = %s\n[repository]\nlocation = %s\n" \
	    "$PRIMARY" "$R" >"$TEST_TMP/qbk.conf"
'

sim_start
STANDBY=$SIM_URL
test_expect_exit 0 '--dry-run: the plan and the checklist, nothing restored' '
	QBK_TEST_NOW=$NOW sh "$FO" -c "$TEST_TMP/qbk.conf" --standby "$STANDBY" -n
'
test_expect_success '... really nothing' '
	test_grep "DRY RUN: nothing was restored" "$TEST_TMP/stdout" &&
	test_grep "qbk-restore .*--url $STANDBY --backup $B" "$TEST_TMP/stderr" &&
	test "$(names "$STANDBY")" = ""
'

test_expect_exit 0 'fail over from the primary to an empty standby' '
	QBK_TEST_NOW=$NOW sh "$FO" -c "$TEST_TMP/qbk.conf" --primary "$PRIMARY" --standby "$STANDBY"
'
test_expect_success '... restores every collection, point and alias into the standby' '
	test "$(names "$STANDBY")" = "docs users" &&
	(SIM_URL=$STANDBY && sim_points docs) >"$TEST_TMP/docs.standby" &&
	test_cmp "$TEST_TMP/docs" "$TEST_TMP/docs.standby" &&
	test "$(names "$PRIMARY")" = "docs users"
'
test_expect_success '... with each phase on stderr' '
	test_grep "^==> failover to the standby $STANDBY" "$TEST_TMP/stderr" &&
	test_grep "^==> phase 3/4: restore" "$TEST_TMP/stderr" &&
	test_grep "^==> phase 4/4: validate" "$TEST_TMP/stderr"
'
test_expect_success '... and prints the checklist on stdout' '
	test_grep "^DR FAILOVER CHECKLIST$" "$TEST_TMP/stdout" &&
	test_grep "^standby: +$STANDBY$" "$TEST_TMP/stdout" &&
	test_grep "^primary: +$PRIMARY$" "$TEST_TMP/stdout" &&
	test_grep "^backup restored: +$B, taken " "$TEST_TMP/stdout" &&
	test_grep "^collections: +docs users$" "$TEST_TMP/stdout" &&
	test_grep "^restored from: +docs=$B users=$B$" "$TEST_TMP/stdout" &&
	test_grep "^aliases: +docs_live=docs$" "$TEST_TMP/stdout"
'
test_expect_success '... with the data-loss window against the preset RPO, as qbk-report reports it' '
	test_grep "^data-loss window: +at most 1h 30m 0s \(5400 s\)" "$TEST_TMP/stdout" &&
	test_grep "MISSES the RPO objective of 1h 0m 0s$" "$TEST_TMP/stdout"
'
test_expect_success '... and the commands that switch clients and qbk.conf over' '
	test_grep "QDRANT_URL=$STANDBY" "$TEST_TMP/stdout" &&
	test_grep "qbk-backup -c $TEST_TMP/qbk.conf --tag reason=post-failover" "$TEST_TMP/stdout" &&
	test_grep "qbk-verify -c $TEST_TMP/qbk.conf --live" "$TEST_TMP/stdout" &&
	test_grep "qbk-report -c $TEST_TMP/qbk.conf --check" "$TEST_TMP/stdout"
'
test_expect_success '... the sed command of the checklist really repoints qbk.conf' '
	cmd=$(sed -n "s/^ *\(sed -i .*\)$/\1/p" "$TEST_TMP/stdout") &&
	test -n "$cmd" &&
	cp "$TEST_TMP/qbk.conf" "$TEST_TMP/qbk.conf.orig" &&
	eval "$cmd" &&
	test_grep "^url = $STANDBY$" "$TEST_TMP/qbk.conf" &&
	qbk-verify -c "$TEST_TMP/qbk.conf" --live -q &&
	cp "$TEST_TMP/qbk.conf.orig" "$TEST_TMP/qbk.conf"
'

test_expect_success 'a data-loss window within the objective says so' '
	QBK_TEST_NOW=$((NOW - 5400 + 600)) sh "$FO" -c "$TEST_TMP/qbk.conf" --standby "$STANDBY" --force -q >"$TEST_TMP/out" &&
	test_grep "at most 10m 0s \(600 s\)" "$TEST_TMP/out" &&
	test_grep "within the RPO objective of 1h 0m 0s$" "$TEST_TMP/out"
'
test_expect_success 'the objective is the one the programs see: [objectives] rpo over the preset' '
	printf "[environment]\npreset = production\n[objectives]\nrpo = 2h\n[qdrant]\nurl = %s\n[repository]\nlocation = %s\n" \
	    "$PRIMARY" "$R" >"$TEST_TMP/rpo2h.conf" &&
	QBK_TEST_NOW=$NOW sh "$FO" -c "$TEST_TMP/rpo2h.conf" --standby "$STANDBY" -n --force -q >"$TEST_TMP/out" &&
	test_grep "within the RPO objective of 2h 0m 0s$" "$TEST_TMP/out"
'
test_expect_success '... and none without a preset or objective' '
	printf "[qdrant]\nurl = %s\n[repository]\nlocation = %s\n" "$PRIMARY" "$R" >"$TEST_TMP/norpo.conf" &&
	QBK_TEST_NOW=$NOW sh "$FO" -c "$TEST_TMP/norpo.conf" --standby "$STANDBY" -n --force -q >"$TEST_TMP/out" &&
	test_grep "; no RPO objective configured$" "$TEST_TMP/out" &&
	test_grep -v "objective of" "$TEST_TMP/out"
'
test_expect_success 'the preset RPOs are not written into the script (the programs know them)' '
	test_grep -v "rpo=[0-9]|(development|staging|production)\)" "$FO"
'

# etc/qbk-production.conf has a [drill] url besides the [qdrant] one, and
# nodes: the checklist must repoint [qdrant] only.
test_expect_success 'etc/qbk-production.conf: the checklist command changes [qdrant] url and nodes only' '
	cp "$QBK_TOP/etc/qbk-production.conf" "$TEST_TMP/prod.conf" &&
	QBK_API_KEY=unused sh "$FO" -c "$TEST_TMP/prod.conf" --repo "$R" -n --force -q \
	    --standby "$STANDBY" --standby-nodes "$STANDBY" >"$TEST_TMP/out" &&
	test_grep "^standby nodes: +$STANDBY$" "$TEST_TMP/out" &&
	cmd=$(sed -n "s/^ *\(sed -i .*\)$/\1/p" "$TEST_TMP/out") &&
	test -n "$cmd" &&
	eval "$cmd" &&
	{ diff "$QBK_TOP/etc/qbk-production.conf" "$TEST_TMP/prod.conf" >"$TEST_TMP/diff" || :; } &&
	test "$(grep -c "^[<>]" "$TEST_TMP/diff")" -eq 4 &&
	test_grep "^> url = $STANDBY$" "$TEST_TMP/diff" &&
	test_grep "^> nodes = $STANDBY$" "$TEST_TMP/diff" &&
	python3 - "$TEST_TMP/prod.conf" "$STANDBY" <<-PYEOF
	import configparser, sys
	c = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(" ;",))
	c.read(sys.argv[1])
	assert c["qdrant"]["url"] == sys.argv[2], c["qdrant"]["url"]
	assert c["qdrant"]["nodes"] == sys.argv[2], c["qdrant"]["nodes"]
	assert c["drill"]["url"] == "http://qdrant-drill:6333", c["drill"]["url"]
	PYEOF
'
test_expect_success '... and a configuration without [qdrant] url gets one' '
	printf "[qdrant]\ntimeout = 5m\n[drill]\nurl = http://drill:6333\n[repository]\nlocation = %s\n" "$R" >"$TEST_TMP/nourl.conf" &&
	cp "$TEST_TMP/nourl.conf" "$TEST_TMP/nourl.orig" &&
	sh "$FO" -c "$TEST_TMP/nourl.conf" --standby "$STANDBY" -n --force -q >"$TEST_TMP/out" &&
	cmd=$(sed -n "s/^ *\(sed -i .*\)$/\1/p" "$TEST_TMP/out") &&
	eval "$cmd" &&
	test "$(sed -n "/^\[qdrant\]/,/^\[drill\]/p" "$TEST_TMP/nourl.conf" | grep -c "^url = $STANDBY$")" -eq 1 &&
	test_grep "^url = http://drill:6333$" "$TEST_TMP/nourl.conf" &&
	qbk-verify -c "$TEST_TMP/nourl.conf" --live -q
'

test_expect_exit 2 'a standby that holds collections is refused' '
	sh "$FO" -c "$TEST_TMP/qbk.conf" --standby "$STANDBY"
'
test_expect_success '... without a checklist: clients stay where they are' '
	test_grep -v "CHECKLIST" "$TEST_TMP/stdout" &&
	test_grep "is not empty" "$TEST_TMP/stderr" &&
	test_grep "stopped \(exit 2\); clients must stay where they are" "$TEST_TMP/stderr"
'

test_expect_exit 1 'an unreachable standby is a runtime failure' '
	sh "$FO" -c "$TEST_TMP/qbk.conf" --standby http://127.0.0.1:1
'

sim_start
test_expect_exit 3 'a standby that fails validation: exit 3, no checklist' '
	sim_fault "{\"method\":\"POST\",\"path_regex\":\"^/collections/docs/points\$\",\"count\":-1,\"status\":200,\"body\":{\"result\":[],\"status\":\"ok\",\"time\":0}}" &&
	sh "$FO" -c "$TEST_TMP/qbk.conf" --standby "$SIM_URL"
'
test_expect_success '... clients must stay where they are' '
	test_grep -v "CHECKLIST" "$TEST_TMP/stdout" &&
	test_grep "qbk-drill exit 3" "$TEST_TMP/stderr" &&
	test_grep "stopped \(exit 3\); clients must stay where they are" "$TEST_TMP/stderr"
'

test_expect_success 'damage every chunk of the repository' '
	for f in $(find "$R/data" -type f); do
		printf "\001" | dd of="$f" bs=1 seek=60 conv=notrunc 2>/dev/null
	done
'
sim_start
test_expect_exit 3 'no intact backup: exit 3, and the standby is left empty' '
	sh "$FO" -c "$TEST_TMP/qbk.conf" --standby "$SIM_URL"
'
test_expect_success '... without a checklist' '
	test_grep -v "CHECKLIST" "$TEST_TMP/stdout" &&
	test "$(names "$SIM_URL")" = ""
'

# A 3-node primary failed over to a 3-node standby.
sim_start --nodes 3
# shellcheck disable=SC2153
CPRIMARY=$SIM_URLS
RC=$TEST_TMP/repo-cluster
test_expect_success 'cluster: back up a sharded, replicated collection of 3 nodes' '
	sim_api POST /__sim/generate "{\"collection\":\"cc\",\"points\":900,\"dim\":8,\"seed\":4,\"shard_number\":3,\"replication_factor\":2}" >/dev/null &&
	sim_points cc >"$TEST_TMP/cc" &&
	repo_init "$RC" &&
	printf "[qdrant]\nnodes = %s\n[repository]\nlocation = %s\n" "$CPRIMARY" "$RC" >"$TEST_TMP/c.conf" &&
	qbk-backup -c "$TEST_TMP/c.conf" -q
'
sim_start --nodes 3
CSTANDBY=${SIM_URLS% }
test_expect_exit 2 'cluster: --standby alone while the configuration names the primary nodes: refused' '
	sh "$FO" -c "$TEST_TMP/c.conf" --standby "$SIM_URL"
'
test_expect_success '... before anything is restored, without a checklist' '
	test_grep "is not one of the nodes that the programs would use" "$TEST_TMP/stderr" &&
	test_grep "hint: name every node of the target with --nodes" "$TEST_TMP/stderr" &&
	test_grep -v "CHECKLIST" "$TEST_TMP/stdout" &&
	test "$(names "$SIM_URL")" = ""
'
test_expect_success 'cluster: fail over to a 3-node standby named by --standby-nodes' '
	(SIM_URL=${CPRIMARY%% *} && sim_api POST /__sim/generate "{\"collection\":\"other\",\"points\":10,\"dim\":4,\"seed\":9}" >/dev/null) &&
	sh "$FO" -c "$TEST_TMP/c.conf" --standby "$SIM_URL" \
	    --standby-nodes "$(echo "$CSTANDBY" | tr " " ",")" >"$TEST_TMP/out" 2>"$TEST_TMP/err" &&
	test_grep "^collections: +cc$" "$TEST_TMP/out" &&
	test_grep "^standby nodes: +$(echo "$CSTANDBY" | sed "s/ /, /g")$" "$TEST_TMP/out" &&
	sim_points cc >"$TEST_TMP/cc.standby" &&
	test_cmp "$TEST_TMP/cc" "$TEST_TMP/cc.standby"
'
test_expect_success '... the primary left alone' '
	test "$(names "${CPRIMARY%% *}")" = "cc other" &&
	(SIM_URL=${CPRIMARY%% *} && sim_points cc) >"$TEST_TMP/cc.primary" &&
	test_cmp "$TEST_TMP/cc" "$TEST_TMP/cc.primary"
'
test_expect_success '... and the checklist command puts the standby nodes into [qdrant]' '
	cp "$TEST_TMP/c.conf" "$TEST_TMP/c.conf.orig" &&
	cmd=$(sed -n "s/^ *\(sed -i .*\)$/\1/p" "$TEST_TMP/out") &&
	eval "$cmd" &&
	test_grep "^nodes = $(echo "$CSTANDBY" | sed "s/ /, /g")$" "$TEST_TMP/c.conf" &&
	qbk-verify -c "$TEST_TMP/c.conf" --live -q &&
	cp "$TEST_TMP/c.conf.orig" "$TEST_TMP/c.conf"
'

test_done
