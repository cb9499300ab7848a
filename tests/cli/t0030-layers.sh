#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'make lint keeps the architecture: layers, the repository as the only door, short functions'

# A copy of lib/ and the check scripts, to break on purpose.
copy_tree() {
	rm -rf "$TEST_TMP/t" && mkdir -p "$TEST_TMP/t" &&
	cp -R "$QBK_TOP/lib" "$QBK_TOP/scripts" "$TEST_TMP/t/"
}

test_expect_success 'the tree passes all three checks' '
	copy_tree &&
	sh "$TEST_TMP/t/scripts/check-layers" >"$TEST_TMP/out" &&
	grep -qx "check-layers: ok" "$TEST_TMP/out" &&
	sh "$TEST_TMP/t/scripts/check-repo-door" >"$TEST_TMP/out" &&
	grep -qx "check-repo-door: ok" "$TEST_TMP/out" &&
	sh "$TEST_TMP/t/scripts/check-functions" >"$TEST_TMP/out" &&
	grep -qx "check-functions: ok" "$TEST_TMP/out"
'

test_expect_success 'an include that goes up a layer is refused, naming the file and the line' '
	copy_tree &&
	printf "#include \"command/qbk_ctx.h\"\n" >>"$TEST_TMP/t/lib/common/qbk_buf.c" &&
	! sh "$TEST_TMP/t/scripts/check-layers" >"$TEST_TMP/out" &&
	grep -q "lib/common/qbk_buf.c:[0-9]*: lib/common includes \"command/qbk_ctx.h\", a layer above it" "$TEST_TMP/out"
'

test_expect_success 'an include naming no layer folder is refused; one from a layer below passes' '
	copy_tree &&
	printf "#include \"qbk_buf.h\"\n" >>"$TEST_TMP/t/lib/repo/qbk_hold.c" &&
	! sh "$TEST_TMP/t/scripts/check-layers" >"$TEST_TMP/out" &&
	grep -q "lib/repo/qbk_hold.c:[0-9]*: \"qbk_buf.h\" names no layer folder" "$TEST_TMP/out" &&
	copy_tree &&
	printf "#include \"storage/qbk_store.h\"\n" >>"$TEST_TMP/t/lib/repo/qbk_hold.c" &&
	sh "$TEST_TMP/t/scripts/check-layers"
'

test_expect_success 'a store call or a repository key outside lib/repo is refused' '
	copy_tree &&
	printf "static int f(void) { return qbk_store_delete(0, 0, 0, 0); }\n" \
	    >>"$TEST_TMP/t/lib/command/qbk_prune.c" &&
	! sh "$TEST_TMP/t/scripts/check-repo-door" >"$TEST_TMP/out" &&
	grep -q "calls the store: lib/command/qbk_prune.c" "$TEST_TMP/out" &&
	copy_tree &&
	printf "static const char *k = \"holds/\";\n" \
	    >>"$TEST_TMP/t/lib/command/qbk_verify.c" &&
	! sh "$TEST_TMP/t/scripts/check-repo-door" >"$TEST_TMP/out" &&
	grep -q "spells a repository key: lib/command/qbk_verify.c" "$TEST_TMP/out" &&
	copy_tree &&
	printf "static const char *k = \"config\";\n" \
	    >>"$TEST_TMP/t/lib/storage/qbk_store.c" &&
	! sh "$TEST_TMP/t/scripts/check-repo-door" >"$TEST_TMP/out" &&
	grep -q "spells a repository key: lib/storage/qbk_store.c" "$TEST_TMP/out"
'

# A function of ${1} lines from its name to its closing brace, after an
# optional comment ${2}.
long_function() {
	[ -n "${2:-}" ] && printf "%s\n" "$2"
	printf "static int\nlong_one(void)\n{\n"
	i=3
	while [ "$i" -lt "$1" ]; do
		printf "\t(void)0;\n"
		i=$((i + 1))
	done
	printf "}\n"
}

test_expect_success 'a function over 120 lines is refused unless a long: comment says why' '
	copy_tree &&
	long_function 120 >>"$TEST_TMP/t/lib/common/qbk_hex.c" &&
	sh "$TEST_TMP/t/scripts/check-functions" &&
	copy_tree &&
	long_function 121 >>"$TEST_TMP/t/lib/common/qbk_hex.c" &&
	! sh "$TEST_TMP/t/scripts/check-functions" >"$TEST_TMP/out" &&
	grep -q "lib/common/qbk_hex.c:[0-9]*: long_one() is 121 lines" "$TEST_TMP/out" &&
	copy_tree &&
	long_function 121 "/* long: one table, read top to bottom */" \
	    >>"$TEST_TMP/t/lib/common/qbk_hex.c" &&
	sh "$TEST_TMP/t/scripts/check-functions"
'

test_done
