#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'qbk-init: create a repository and its first key'

# Cheap Argon2id: tests are not the place to spend 128 MiB per run.
FAST="-c /dev/null --kdf-opslimit 1 --kdf-memlimit 8192"
R=$(repo_location repo)

# slots: how many key slots the repository "repo" has.
slots() {
	repo_keys repo keys | wc -l | tr -d ' '
}

test_expect_success 'init with a passphrase from the environment' '
	qbk-init $FAST --repo "$R" >"$TEST_TMP/out" 2>"$TEST_TMP/err" &&
	grep -E "^created repository [0-9a-f]{32} at .*/repo \(xchacha20-poly1305, zstd:3\)$" "$TEST_TMP/out" &&
	test_lines 1 "$TEST_TMP/out" &&
	test_grep "keep the passphrase safe" "$TEST_TMP/err" &&
	test -f "$(repo_obj repo config)" &&
	test "$(slots)" = 1
'

test_expect_success 'the config is plaintext JSON with the id that was printed' '
	ID=$(sed -E "s/^created repository ([0-9a-f]+) .*/\1/" "$TEST_TMP/out") &&
	test "$(json_get "$(repo_obj repo config)" "d[\"id\"]")" = "$ID" &&
	test "$(json_get "$(repo_obj repo config)" "d[\"encryption\"]")" = xchacha20-poly1305 &&
	test "$(json_get "$(repo_obj repo config)" "d[\"compression\"]")" = zstd:3 &&
	test "$(json_get "$(repo_obj repo config)" "d[\"chunker\"][\"algorithm\"]")" = fastcdc &&
	test_grep -v "$QBK_PASSPHRASE" "$(repo_obj repo config)"
'

test_expect_success 'the passphrase opens it' '
	qbk-key -c /dev/null --repo "$R" list >"$TEST_TMP/list" &&
	test_grep "^\* [0-9a-f]{16} +passphrase " "$TEST_TMP/list"
'

test_expect_exit 2 'another passphrase does not' '
	QBK_PASSPHRASE=not-it qbk-key -c /dev/null --repo "$R" list
'
test_expect_success '... with a clear message' '
	test_grep "wrong passphrase" "$TEST_TMP/stderr"
'

test_expect_success 'files are 0600 and folders 0700, whatever the umask' '
	(umask 000 &&
	 qbk-init $FAST --repo "$TEST_TMP/modes/deeper" --generate-key-file "$TEST_TMP/modes.key" >/dev/null 2>&1) &&
	test -n "$(find "$TEST_TMP/modes/deeper" -type f)" &&
	test -z "$(find "$TEST_TMP/modes/deeper" -type f ! -perm 600)" &&
	test -z "$(find "$TEST_TMP/modes/deeper" -type d ! -perm 700)" &&
	test -z "$(find "$TEST_TMP/modes.key" ! -perm 600)" &&
	{
		# Folder-only: S3 objects have no file modes.
		[ "$QBK_TEST_REPO" = s3 ] ||
		{ test -z "$(find "$R" -type f ! -perm 600)" &&
		  test -z "$(find "$R" -type d ! -perm 700)"; }
	}
'

test_expect_success 'remember the repository as it is' '
	cp "$(repo_obj repo config)" "$TEST_TMP/config.before" &&
	repo_keys repo keys >"$TEST_TMP/keys.before"
'

test_expect_exit 2 'init refuses an existing repository' '
	QBK_PASSPHRASE=other qbk-init $FAST --repo "$R"
'
test_expect_success '... says so, and changes nothing' '
	test_grep "a repository exists already at .*/repo" "$TEST_TMP/stderr" &&
	test_grep "^hint: " "$TEST_TMP/stderr" &&
	test_cmp "$TEST_TMP/config.before" "$(repo_obj repo config)" &&
	repo_keys repo keys >"$TEST_TMP/keys.after" &&
	test_cmp "$TEST_TMP/keys.before" "$TEST_TMP/keys.after"
'

test_expect_exit 2 '... also with encryption none' '
	qbk-init -c /dev/null --repo "$R" --encryption none
'

test_expect_exit 2 'init without any secret fails' '
	unset QBK_PASSPHRASE &&
	qbk-init $FAST --repo "$TEST_TMP/nosecret"
'
test_expect_success '... with a clear message, and creates nothing' '
	test_grep "no passphrase or key file" "$TEST_TMP/stderr" &&
	test_grep "QBK_PASSPHRASE" "$TEST_TMP/stderr" &&
	test_grep "[-]-generate-key-file" "$TEST_TMP/stderr" &&
	test ! -e "$TEST_TMP/nosecret"
'

test_expect_success 'init with the passphrase_file and location of the config' '
	printf "secret from a file\n" >"$TEST_TMP/pass" &&
	chmod 600 "$TEST_TMP/pass" &&
	cat >"$TEST_TMP/conf" <<-EOF &&
	[repository]
	location = $TEST_TMP/fromconf
	passphrase_file = $TEST_TMP/pass
	compression = zstd:9
	EOF
	(unset QBK_PASSPHRASE &&
	 qbk-init -c "$TEST_TMP/conf" --kdf-opslimit 1 --kdf-memlimit 8192 &&
	 qbk-key -c "$TEST_TMP/conf" list) &&
	test "$(json_get "$TEST_TMP/fromconf/config" "d[\"compression\"]")" = zstd:9 &&
	QBK_PASSPHRASE="secret from a file" qbk-key -c /dev/null --repo "$TEST_TMP/fromconf" list
'

test_expect_success '$QBK_REPOSITORY names the repository too' '
	QBK_REPOSITORY=$TEST_TMP/fromenv qbk-init $FAST &&
	test -f "$TEST_TMP/fromenv/config"
'

test_expect_success '--generate-key-file writes a new key file and uses it' '
	qbk-init $FAST --repo "$TEST_TMP/kf" --generate-key-file "$TEST_TMP/kf.key" --comment "k8s secret" >"$TEST_TMP/out" 2>"$TEST_TMP/err" &&
	test_grep "keep the key file safe" "$TEST_TMP/err" &&
	test "$(head -n 1 "$TEST_TMP/kf.key")" = qbk-keyfile-v1 &&
	test -z "$(find "$TEST_TMP/kf.key" ! -perm 600)" &&
	printf "[repository]\nkey_file = %s\n" "$TEST_TMP/kf.key" >"$TEST_TMP/kf.conf" &&
	(unset QBK_PASSPHRASE &&
	 qbk-key -c "$TEST_TMP/kf.conf" --repo "$TEST_TMP/kf" list >"$TEST_TMP/list") &&
	test_grep "^\* [0-9a-f]{16} +keyfile .*k8s secret$" "$TEST_TMP/list"
'

test_expect_exit 2 'the passphrase in the environment does not open it' '
	qbk-key -c /dev/null --repo "$TEST_TMP/kf" list
'

test_expect_exit 2 '--generate-key-file never overwrites a file' '
	echo precious >"$TEST_TMP/precious" &&
	qbk-init $FAST --repo "$TEST_TMP/kf2" --generate-key-file "$TEST_TMP/precious"
'
test_expect_success '... and creates no repository' '
	test_grep "refusing to overwrite" "$TEST_TMP/stderr" &&
	test "$(cat "$TEST_TMP/precious")" = precious &&
	test ! -e "$TEST_TMP/kf2/config"
'

test_expect_exit 2 'a key file generated for an existing repository' '
	qbk-init $FAST --repo "$R" --generate-key-file "$TEST_TMP/orphan.key"
'
test_expect_success '... is removed again' '
	test ! -e "$TEST_TMP/orphan.key"
'

test_expect_success 'encryption none warns loudly, even with -q' '
	qbk-init -c /dev/null -q --repo "$TEST_TMP/plain" --encryption none >"$TEST_TMP/out" 2>"$TEST_TMP/err" &&
	test_grep "WARNING: .*NOT ENCRYPTED" "$TEST_TMP/err" &&
	test "$(json_get "$TEST_TMP/plain/config" "d[\"encryption\"]")" = none
'

test_expect_success '... and needs no secret to open' '
	(unset QBK_PASSPHRASE &&
	 qbk-key -c /dev/null --repo "$TEST_TMP/plain" list >"$TEST_TMP/list") &&
	test_grep "^\* [0-9a-f]{16} +plain " "$TEST_TMP/list"
'

test_expect_success 'encryption none from the config warns too' '
	printf "[repository]\nencryption = none\n" >"$TEST_TMP/none.conf" &&
	qbk-init -c "$TEST_TMP/none.conf" --repo "$TEST_TMP/plain2" 2>"$TEST_TMP/err" >/dev/null &&
	test_grep "NOT ENCRYPTED" "$TEST_TMP/err"
'

test_expect_success 'no warning for an encrypted repository' '
	qbk-init $FAST --repo "$TEST_TMP/enc" --encryption xchacha20-poly1305 2>"$TEST_TMP/err" >/dev/null &&
	test_grep -v "NOT ENCRYPTED" "$TEST_TMP/err"
'

test_expect_success '--json prints one object with the settings' '
	qbk-init $FAST --repo "$TEST_TMP/js" --compression none --json >"$TEST_TMP/init.json" &&
	test_lines 1 "$TEST_TMP/init.json" &&
	test "$(json_get "$TEST_TMP/init.json" "d[\"repository_id\"]")" = "$(json_get "$TEST_TMP/js/config" "d[\"id\"]")" &&
	test "$(json_get "$TEST_TMP/init.json" "d[\"location\"]")" = "$TEST_TMP/js" &&
	test "$(json_get "$TEST_TMP/init.json" "d[\"encryption\"]")" = xchacha20-poly1305 &&
	test "$(json_get "$TEST_TMP/init.json" "d[\"compression\"]")" = none &&
	test "$(json_get "$TEST_TMP/init.json" "d[\"chunker\"][\"algorithm\"]")" = fastcdc &&
	test "$(json_get "$TEST_TMP/init.json" "d[\"chunker\"][\"avg\"]")" = 65536 &&
	test "$(json_get "$TEST_TMP/js/config" "d[\"compression\"]")" = none
'

test_expect_success 'aes256-gcm is recorded when asked for' '
	qbk-init $FAST --repo "$TEST_TMP/gcm" --encryption aes256-gcm >/dev/null 2>&1 &&
	test "$(json_get "$TEST_TMP/gcm/config" "d[\"encryption\"]")" = aes256-gcm &&
	qbk-key -c /dev/null --repo "$TEST_TMP/gcm" list >/dev/null
'

test_expect_exit 2 'a bad --encryption' '
	qbk-init $FAST --repo "$TEST_TMP/bad1" --encryption rot13
'
test_expect_success '... is named' '
	test_grep "rot13" "$TEST_TMP/stderr" &&
	test ! -e "$TEST_TMP/bad1"
'

test_expect_exit 2 'a bad --compression' '
	qbk-init $FAST --repo "$TEST_TMP/bad2" --compression zstd:42
'

test_expect_exit 2 'Argon2id memory below the minimum' '
	qbk-init -c /dev/null --repo "$TEST_TMP/bad3" --kdf-memlimit 1
'

test_expect_exit 2 'a file as the repository is a configuration error' '
	echo not-a-folder >"$TEST_TMP/afile" &&
	qbk-key -c /dev/null --repo "$TEST_TMP/afile" list
'
test_expect_success '... naming it' '
	test_grep "repository .*/afile. is not a folder" "$TEST_TMP/stderr"
'
test_expect_exit 2 '... also below it, and for qbk-init' '
	! qbk-key -c /dev/null --repo "$TEST_TMP/afile/sub" list 2>"$TEST_TMP/err" &&
	test_grep "afile/sub. is not a folder" "$TEST_TMP/err" &&
	test "$(qbk-key -c /dev/null --repo "$TEST_TMP/afile/sub" list 2>/dev/null; echo $?)" = 2 &&
	qbk-init $FAST --repo "$TEST_TMP/afile"
'

test_expect_exit 2 'a folder of another tool is not a qbk repository' '
	printf "[core]\n\trepositoryformatversion = 0\n" >"$TEST_TMP/gitconfig" &&
	repo_put foreign config "$TEST_TMP/gitconfig" &&
	qbk-key -c /dev/null --repo "$(repo_location foreign)" list
'
test_expect_success '... says so' '
	test_grep "^qbk-key: .*foreign. is not a qbk repository \(its config is not qbk.s\)$" "$TEST_TMP/stderr"
'
test_expect_exit 2 '... also when its config is JSON' '
	printf "{\"version\": 2, \"id\": \"x\"}\n" >"$TEST_TMP/otherjson" &&
	repo_put foreign2 config "$TEST_TMP/otherjson" &&
	qbk-key -c /dev/null --repo "$(repo_location foreign2)" list
'

test_expect_exit 3 'a qbk repository whose config is damaged is damaged data' '
	qbk-init $FAST --repo "$(repo_location damaged)" -q &&
	printf "{\"format\": 1, garbled" >"$TEST_TMP/garbled" &&
	repo_put damaged config "$TEST_TMP/garbled" &&
	qbk-key -c /dev/null --repo "$(repo_location damaged)" list
'
test_expect_success '... said so' '
	test_grep "repository config is not JSON" "$TEST_TMP/stderr"
'
test_expect_exit 3 '... also when only its key slots show it is qbk s' '
	printf "\001\002 garbage" >"$TEST_TMP/garbage" &&
	repo_put damaged config "$TEST_TMP/garbage" &&
	qbk-key -c /dev/null --repo "$(repo_location damaged)" list
'

test_expect_exit 2 'no location at all' '
	qbk-init $FAST
'
test_expect_success '... says where to set one' '
	test_grep "no repository given" "$TEST_TMP/stderr" &&
	test_grep "[-]-repo" "$TEST_TMP/stderr"
'

test_expect_exit 2 'an unknown option' '
	qbk-init $FAST --repo "$TEST_TMP/x" --bogus
'
test_expect_success '... is named, with a hint' '
	test_grep "unknown option .--bogus." "$TEST_TMP/stderr" &&
	test_grep "qbk-init --help" "$TEST_TMP/stderr" &&
	test ! -e "$TEST_TMP/x"
'

test_expect_exit 2 'a shortened option is unknown too' '
	qbk-init $FAST --repo "$TEST_TMP/x" --generate "$TEST_TMP/x.key"
'

test_expect_exit 2 'an operand' '
	qbk-init $FAST --repo "$TEST_TMP/x" extra
'

test_expect_success '--help exits 0 and lists every option' '
	qbk-init --help >"$TEST_TMP/help" &&
	missing= &&
	for o in comment compression config encryption generate-key-file help \
		json kdf-memlimit kdf-opslimit quiet repo verbose version; do
		grep -Eq "^  (-[a-zA-Z], |    )--$o( |\$)" "$TEST_TMP/help" ||
		missing="$missing $o"
	done &&
	test -z "$missing" &&
	test_grep "^usage: qbk-init " "$TEST_TMP/help" &&
	test_grep -v "[-]-url" "$TEST_TMP/help"
'

test_expect_success '--version exits 0' '
	qbk-init --version >"$TEST_TMP/version" &&
	test_grep "^qbk-init qbk " "$TEST_TMP/version"
'

test_done
