#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'the repository config is authenticated: a changed one is refused, an old one upgraded'

sim_start
R=$(repo_location repo)
Q="--url $SIM_URL --repo $R -c /dev/null"

# edit_config NAME EXPR: replace the config of repository NAME by the
# Python expression EXPR over its text t, stored as another program would.
edit_config() {
	python3 -c 'import sys
t = open(sys.argv[1]).read()
sys.stdout.write(eval(sys.argv[2]))' "$(repo_obj "$1" config)" "$2" \
		>"$TEST_TMP/config.new" &&
	repo_put "$1" config "$TEST_TMP/config.new"
}

# lower NAME: the attack of issue 13: "encryption": "none".
lower() {
	edit_config "$1" 't.replace("\"xchacha20-poly1305\"", "\"none\"")'
}

# strip NAME: remove the "mac" member (the last one) of NAME's config.
strip() {
	edit_config "$1" 't[:t.index(",\n \"mac\": ")] + "\n}"'
}

# stored_nothing BACKUPS: the repository "repo" still holds BACKUPS backups
# and the $N data objects it held before.
stored_nothing() {
	test "$(repo_count_backups repo)" = "$1" &&
	test "$(data_count repo)" = "$N"
}

# load_v1 NAME: make NAME the repository written by qbk before config
# authentication (tests/fixtures/repo-v1: passphrase test-passphrase, one
# backup of the collection "legacy": sim_generate legacy 60 4 7).
load_v1() {
	for _k in $(cd "$QBK_TOP/tests/fixtures/repo-v1" && find . -type f |
	    sed 's|^\./||'); do
		repo_put "$1" "$_k" "$QBK_TOP/tests/fixtures/repo-v1/$_k" ||
		    return 1
	done
}

data_count() {
	repo_keys "$1" data | wc -l | tr -d ' '
}

test_expect_success 'set up a collection, a repository, a backup' '
	sim_generate c1 500 16 1 &&
	repo_init "$R" &&
	qbk-backup $Q >/dev/null &&
	test "$(repo_count_backups repo)" = 1 &&
	cp "$(repo_obj repo config)" "$TEST_TMP/config.good"
'

test_expect_success 'the config carries its MAC, as the last member' '
	json_get "$(repo_obj repo config)" "d[\"mac\"]" | grep -Eq "^[0-9a-f]{64}$" &&
	test "$(json_get "$(repo_obj repo config)" "list(d)[-1]")" = mac &&
	test "$(json_get "$(repo_obj repo config)" "d[\"encryption\"]")" = xchacha20-poly1305
'

test_expect_success 'someone who can write the storage sets encryption none' '
	sim_generate c2 400 16 2 &&
	N=$(data_count repo) &&
	lower repo &&
	test "$(json_get "$(repo_obj repo config)" "d[\"encryption\"]")" = none
'

test_expect_exit 3 'the next backup fails' '
	qbk-backup $Q
'
test_expect_success '... naming the config, and stores nothing' '
	test_grep "^qbk-backup: repository config .$R/config. does not verify against the repository key: it was changed outside qbk$" "$TEST_TMP/stderr" &&
	test_grep "^hint: " "$TEST_TMP/stderr" &&
	test_lines 2 "$TEST_TMP/stderr" &&
	stored_nothing 1 &&
	test -z "$(repo_keys repo failures)"
'

test_expect_exit 3 'verify refuses it too' '
	qbk-verify $Q
'
test_expect_exit 3 '... and restore' '
	qbk-restore $Q --collection c1 --as c1x
'
test_expect_success '... which wrote nothing to Qdrant' '
	sim_api GET /collections/c1x/exists >"$TEST_TMP/exists" &&
	test "$(json_get "$TEST_TMP/exists" "d[\"result\"][\"exists\"]")" = false
'

test_expect_success 'the same with the MAC stripped' '
	repo_put repo config "$TEST_TMP/config.good" &&
	strip repo && lower repo &&
	test_grep -v "\"mac\"" "$(repo_obj repo config)"
'
test_expect_exit 3 '... is refused: the key slot wants a MAC' '
	qbk-backup $Q
'
test_expect_success '... says so, and stores nothing' '
	test_grep "repository config .$R/config. is not authenticated \(it has no MAC\), but the repository.s keys require it" "$TEST_TMP/stderr" &&
	stored_nothing 1
'

test_expect_success 'the config as qbk wrote it works again' '
	repo_put repo config "$TEST_TMP/config.good" &&
	qbk-backup $Q 2>"$TEST_TMP/err" >/dev/null &&
	test_grep -v "warning|error" "$TEST_TMP/err" &&
	test "$(repo_count_backups repo)" = 2 &&
	test "$(data_count repo)" -gt "$N"
'

# The plain slot of a repository of one's own (encryption none), whose
# master key is anybody's.
test_expect_success 'a plain key slot added beside the sealed one' '
	E=$(repo_location evil) &&
	(unset QBK_PASSPHRASE && qbk-init -c /dev/null --repo "$E" --encryption none >/dev/null 2>&1) &&
	P=$(repo_keys evil keys | sed "s|^keys/||") &&
	S=$(repo_keys repo keys | sed "s|^keys/||") &&
	repo_put repo "keys/$P" "$(repo_obj evil "keys/$P")" &&
	N=$(data_count repo) &&
	qbk-backup $Q 2>"$TEST_TMP/err" >/dev/null &&
	test "$(repo_count_backups repo)" = 3
'
test_expect_success '... is not used, and named if seen' '
	qbk-key -c /dev/null --repo "$R" list >"$TEST_TMP/list" &&
	test_grep "^\* $S +passphrase " "$TEST_TMP/list" &&
	test_grep "^  $P +plain " "$TEST_TMP/list" &&
	if [ "$(printf "%s\n%s\n" "$P" "$S" | sort | head -n 1)" = "$P" ]; then
		test_grep "key slot .$P. is a plain slot .* not used" "$TEST_TMP/err"
	fi
'

test_expect_success 'and with the config of that repository put in place' '
	repo_put repo config "$(repo_obj evil config)"
'
test_expect_exit 2 '... a backup with the passphrase still does not use it' '
	qbk-backup $Q
'
test_expect_success '... and stores nothing' '
	test_grep "plain key slot" "$TEST_TMP/stderr" &&
	stored_nothing 3
'

test_expect_success 'cleaned up: the real config back, the plain slot removed' '
	repo_put repo config "$TEST_TMP/config.good" &&
	qbk-key -c /dev/null --repo "$R" remove "$P" >/dev/null &&
	qbk-verify $Q
'

O=$(repo_location old)
test_expect_success 'a repository of an older qbk: no MAC, a slot of format 1' '
	load_v1 old &&
	test_grep -v "\"mac\"" "$(repo_obj old config)" &&
	test "$(json_get "$(repo_obj old keys/5a79c6fd3d40ae20)" "d[\"format\"]")" = 1
'
test_expect_success '... restores, and is upgraded, with a notice' '
	sim_generate legacy 60 4 7 &&
	qbk-restore -c /dev/null --url "$SIM_URL" --repo "$O" --collection legacy --as legacy2 2>"$TEST_TMP/err" >/dev/null &&
	test_grep "^qbk-restore: warning: upgraded repository .$O.: its config is now authenticated by the repository key" "$TEST_TMP/err" &&
	sim_points legacy >"$TEST_TMP/legacy" &&
	sim_points legacy2 >"$TEST_TMP/legacy2" &&
	test_lines 60 "$TEST_TMP/legacy2" &&
	test_cmp "$TEST_TMP/legacy" "$TEST_TMP/legacy2"
'
test_expect_success '... its config has a MAC now, its key slot format 2' '
	json_get "$(repo_obj old config)" "d[\"mac\"]" | grep -Eq "^[0-9a-f]{64}$" &&
	test "$(json_get "$(repo_obj old keys/5a79c6fd3d40ae20)" "d[\"format\"]")" = 2 &&
	test "$(json_get "$(repo_obj old keys/5a79c6fd3d40ae20)" "d[\"comment\"]")" = "pre-authentication fixture"
'
test_expect_success '... once: the next run says nothing' '
	qbk-verify -c /dev/null --repo "$O" 2>"$TEST_TMP/err" >/dev/null &&
	test_grep -v "." "$TEST_TMP/err"
'
test_expect_success 'its MAC stripped again' '
	strip old &&
	test_grep -v "\"mac\"" "$(repo_obj old config)"
'
test_expect_exit 3 '... is refused' '
	qbk-verify -c /dev/null --repo "$O"
'
test_expect_success '... naming the config' '
	test_grep "^qbk-verify: repository config .$O/config. is not authenticated" "$TEST_TMP/stderr"
'

O2=$(repo_location old2)
test_expect_success 'an old config changed before its upgrade' '
	load_v1 old2 &&
	lower old2
'
test_expect_exit 3 '... is not blessed by it' '
	qbk-backup -c /dev/null --url "$SIM_URL" --repo "$O2" --collection legacy
'
test_expect_success '... the newest backup tells: it is encrypted' '
	test_grep "repository config .$O2/config. says encryption .none., but backup .20261207T191408Z-d704. is sealed with .xchacha20-poly1305.: the config was changed outside qbk" "$TEST_TMP/stderr" &&
	test_grep -v "\"mac\"" "$(repo_obj old2 config)" &&
	test "$(repo_count_backups old2)" = 1 &&
	test "$(data_count old2)" = 1
'

test_done
