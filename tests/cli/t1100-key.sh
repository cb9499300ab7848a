#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'qbk-key: list, add, remove keys; passphrase rotation'

R=$(repo_location repo)
K="-c /dev/null --repo $R"
FAST="--kdf-opslimit 1 --kdf-memlimit 8192"
OLD=$QBK_PASSPHRASE

# opened_slot: the id of the slot that opens $R with the current secret.
opened_slot() {
	# shellcheck disable=SC2086
	qbk-key $K list | sed -n 's/^\* \([0-9a-f]*\) .*/\1/p'
}

test_expect_success 'set up a repository' '
	repo_init "$R" &&
	A=$(opened_slot) &&
	test -n "$A"
'

test_expect_success 'list shows the one key, marked as the one that opened' '
	qbk-key $K list >"$TEST_TMP/list" &&
	test_lines 2 "$TEST_TMP/list" &&
	test_grep "^  ID +KIND +CREATED +HOST +COMMENT$" "$TEST_TMP/list" &&
	test_grep "^\* $A +passphrase +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +$(hostname | cut -c1-16)" "$TEST_TMP/list"
'

test_expect_success 'list --json' '
	qbk-key $K list --json >"$TEST_TMP/list.json" &&
	test "$(json_get "$TEST_TMP/list.json" "len(d[\"slots\"])")" = 1 &&
	test "$(json_get "$TEST_TMP/list.json" "d[\"slots\"][0][\"id\"]")" = "$A" &&
	test "$(json_get "$TEST_TMP/list.json" "d[\"slots\"][0][\"kind\"]")" = passphrase &&
	test "$(json_get "$TEST_TMP/list.json" "d[\"slots\"][0][\"opened\"]")" = true
'

test_expect_success 'add a passphrase from $QBK_NEW_PASSPHRASE' '
	QBK_NEW_PASSPHRASE=new-one qbk-key $K add $FAST --comment "rotation 1" >"$TEST_TMP/out" &&
	B=$(sed -n "s/^added key slot \([0-9a-f]\{16\}\) (passphrase)$/\1/p" "$TEST_TMP/out") &&
	test -n "$B" &&
	qbk-key $K list >"$TEST_TMP/list" &&
	test_lines 3 "$TEST_TMP/list" &&
	test_grep "^  $B +passphrase .* rotation 1$" "$TEST_TMP/list" &&
	test_grep "^\* $A " "$TEST_TMP/list"
'

test_expect_success 'the new passphrase opens the repository' '
	test "$(QBK_PASSPHRASE=new-one opened_slot)" = "$B"
'

test_expect_success 'add a passphrase from a file (trailing newline ignored)' '
	printf "from a file\n" >"$TEST_TMP/newpass" &&
	chmod 600 "$TEST_TMP/newpass" &&
	qbk-key $K add $FAST --new-passphrase-file "$TEST_TMP/newpass" --json >"$TEST_TMP/add.json" &&
	C=$(json_get "$TEST_TMP/add.json" "d[\"slot_id\"]") &&
	test "$(json_get "$TEST_TMP/add.json" "d[\"kind\"]")" = passphrase &&
	test "$(QBK_PASSPHRASE="from a file" opened_slot)" = "$C"
'

test_expect_success 'add a new key file' '
	qbk-key $K add --generate-key-file "$TEST_TMP/k1" --comment cronjob >"$TEST_TMP/out" &&
	D=$(sed -n "s/^added key slot \([0-9a-f]\{16\}\) (keyfile)$/\1/p" "$TEST_TMP/out") &&
	test -n "$D" &&
	test -z "$(find "$TEST_TMP/k1" ! -perm 600)" &&
	printf "[repository]\nlocation = %s\nkey_file = %s\n" "$R" "$TEST_TMP/k1" >"$TEST_TMP/k1.conf" &&
	(unset QBK_PASSPHRASE && qbk-key -c "$TEST_TMP/k1.conf" list >"$TEST_TMP/list") &&
	test_grep "^\* $D +keyfile .* cronjob$" "$TEST_TMP/list"
'

test_expect_success 'add an existing key file' '
	qbk-init -c /dev/null --repo "$TEST_TMP/other" --generate-key-file "$TEST_TMP/k2" >/dev/null 2>&1 &&
	qbk-key $K add --key-file "$TEST_TMP/k2" >"$TEST_TMP/out" &&
	E=$(sed -n "s/^added key slot \([0-9a-f]\{16\}\) (keyfile)$/\1/p" "$TEST_TMP/out") &&
	printf "[repository]\nkey_file = %s\n" "$TEST_TMP/k2" >"$TEST_TMP/k2.conf" &&
	(unset QBK_PASSPHRASE && qbk-key -c "$TEST_TMP/k2.conf" --repo "$R" list >"$TEST_TMP/list") &&
	test_grep "^\* $E +keyfile " "$TEST_TMP/list" &&
	test "$(qbk-key $K list | wc -l)" -eq 6
'

test_expect_exit 2 'add without a new key' '
	qbk-key $K add
'
test_expect_success '... says what to give' '
	test_grep "QBK_NEW_PASSPHRASE" "$TEST_TMP/stderr" &&
	test "$(qbk-key $K list | wc -l)" -eq 6
'

test_expect_exit 2 'add with two new keys' '
	QBK_NEW_PASSPHRASE=x qbk-key $K add --key-file "$TEST_TMP/k2"
'

test_expect_exit 2 'add --generate-key-file never overwrites a file' '
	echo precious >"$TEST_TMP/precious" &&
	qbk-key $K add --generate-key-file "$TEST_TMP/precious"
'
test_expect_success '... and adds nothing' '
	test "$(cat "$TEST_TMP/precious")" = precious &&
	test "$(qbk-key $K list | wc -l)" -eq 6
'

test_expect_exit 2 'add with a missing --key-file' '
	qbk-key $K add --key-file "$TEST_TMP/nonexistent"
'

test_expect_exit 2 'an empty new passphrase is refused' '
	: >"$TEST_TMP/empty" &&
	qbk-key $K add --new-passphrase-file "$TEST_TMP/empty"
'

test_expect_exit 2 'remove an unknown slot' '
	qbk-key $K remove 0123456789abcdef
'
test_expect_success '... is named' '
	test_grep "no key slot .0123456789abcdef." "$TEST_TMP/stderr"
'

test_expect_exit 2 'the key that opened the repository is not removed' '
	qbk-key $K remove "$A"
'
test_expect_success '... with a hint on how to do it' '
	test_grep "opened the repository" "$TEST_TMP/stderr" &&
	test_grep "^hint: open the repository with another key" "$TEST_TMP/stderr" &&
	qbk-key $K list | grep -q "^\* $A "
'

test_expect_success 'rotate: the new passphrase removes the old one' '
	QBK_PASSPHRASE=new-one qbk-key $K remove "$A" >"$TEST_TMP/out" &&
	test "$(cat "$TEST_TMP/out")" = "removed key slot $A" &&
	QBK_PASSPHRASE=new-one qbk-key $K list >"$TEST_TMP/list" &&
	test_grep -v "$A" "$TEST_TMP/list" &&
	test_lines 5 "$TEST_TMP/list"
'

test_expect_exit 2 'the old passphrase no longer opens the repository' '
	QBK_PASSPHRASE=$OLD qbk-key $K list
'
test_expect_success '... with a clear message' '
	test_grep "wrong passphrase or key file" "$TEST_TMP/stderr"
'

test_expect_success 'remove the other keys, down to one' '
	QBK_PASSPHRASE=new-one qbk-key $K remove "$C" &&
	QBK_PASSPHRASE=new-one qbk-key $K remove --json "$D" >"$TEST_TMP/rm.json" &&
	test "$(json_get "$TEST_TMP/rm.json" "d[\"removed\"]")" = "$D" &&
	QBK_PASSPHRASE=new-one qbk-key $K remove "$E" &&
	test "$(QBK_PASSPHRASE=new-one qbk-key $K list | wc -l)" -eq 2
'

test_expect_exit 2 'a removed key file no longer opens the repository' '
	unset QBK_PASSPHRASE &&
	qbk-key -c "$TEST_TMP/k1.conf" list
'

test_expect_exit 2 'removing the last key is refused' '
	QBK_PASSPHRASE=new-one qbk-key $K remove "$B"
'
test_expect_success '... says so, and the key stays' '
	test_grep "last key of the repository" "$TEST_TMP/stderr" &&
	test "$(QBK_PASSPHRASE=new-one opened_slot)" = "$B"
'

test_expect_success 'a plain repository (encryption none)' '
	qbk-init -c /dev/null --repo "$TEST_TMP/plain" --encryption none >/dev/null 2>&1 &&
	P=$(unset QBK_PASSPHRASE && qbk-key -c /dev/null --repo "$TEST_TMP/plain" list | sed -n "s/^\* \([0-9a-f]*\) .*/\1/p") &&
	test -n "$P"
'
test_expect_exit 2 '... keeps its last key too' '
	unset QBK_PASSPHRASE &&
	qbk-key -c /dev/null --repo "$TEST_TMP/plain" remove "$P"
'
test_expect_success '... says so' '
	test_grep "last key of the repository" "$TEST_TMP/stderr"
'
test_expect_success '... which still opens it' '
	(unset QBK_PASSPHRASE &&
	 qbk-key -c /dev/null --repo "$TEST_TMP/plain" list) | grep -q "^\* $P  plain"
'
test_expect_exit 2 '... but not when a passphrase is given: its plain slot may be anybody'"'"'s' '
	qbk-key -c /dev/null --repo "$TEST_TMP/plain" list
'
test_expect_success '... and the message says why' '
	test_grep "only plain key slots .* never used when a passphrase or key file is given" "$TEST_TMP/stderr" &&
	test_grep "^hint: .*--encryption none" "$TEST_TMP/stderr"
'

test_expect_exit 2 'a passphrase for a key-file-only repository is the wrong kind' '
	qbk-key -c /dev/null --repo "$TEST_TMP/other" list
'
test_expect_success '... and the message says so' '
	test_grep "no passphrase key slot" "$TEST_TMP/stderr" &&
	test_grep "key_file" "$TEST_TMP/stderr"
'

test_expect_exit 2 'no secret at all' '
	unset QBK_PASSPHRASE &&
	qbk-key $K list
'
test_expect_success '... says what to set' '
	test_grep "QBK_PASSPHRASE" "$TEST_TMP/stderr"
'

test_expect_exit 2 'a missing repository' '
	qbk-key -c /dev/null --repo "$TEST_TMP/nowhere" list
'
test_expect_success '... is named' '
	test_grep "no repository at .*nowhere" "$TEST_TMP/stderr"
'

test_expect_exit 2 'no command' '
	qbk-key $K
'
test_expect_exit 2 'an unknown command' '
	qbk-key $K rotate
'
test_expect_exit 2 'remove without an id' '
	qbk-key $K remove
'
test_expect_exit 2 'an extra operand' '
	QBK_PASSPHRASE=new-one qbk-key $K list extra
'
test_expect_exit 2 'an option of add given to list' '
	QBK_PASSPHRASE=new-one qbk-key $K list --comment x
'
test_expect_exit 2 'an option given before and after the command' '
	QBK_PASSPHRASE=new-one qbk-key $K --json list --json
'
test_expect_exit 2 'an unknown option' '
	qbk-key $K list --bogus
'
test_expect_success '... is named' '
	test_grep "unknown option .--bogus." "$TEST_TMP/stderr"
'

test_expect_success 'secrets are never taken from the command line' '
	qbk-key --help >"$TEST_TMP/help" &&
	test_grep -v "[-]-passphrase " "$TEST_TMP/help" &&
	test_grep -v "[-]-new-passphrase " "$TEST_TMP/help"
'

test_expect_success '--help exits 0 and lists every option' '
	qbk-key --help >"$TEST_TMP/help" &&
	missing= &&
	for o in comment config generate-key-file help json kdf-memlimit \
		kdf-opslimit key-file new-passphrase-file quiet repo verbose \
		version; do
		grep -Eq "^  (-[a-zA-Z], |    )--$o( |\$)" "$TEST_TMP/help" ||
		missing="$missing $o"
	done &&
	test -z "$missing" &&
	test_grep "^usage: qbk-key \[options\] list \| add \| remove ID$" "$TEST_TMP/help"
'

test_done
