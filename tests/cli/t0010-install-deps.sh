#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'scripts/install-deps installs every program and module that the build and the tests use'

D="python3 $QBK_TOP/tests/cli/deps.py"
ID=$QBK_TOP/scripts/install-deps

test_expect_success 'every program and Python module of the tests comes from a package that install-deps installs' '
	$D "$QBK_TOP" >"$TEST_TMP/deps" ||
	    { grep "^MISSING" "$TEST_TMP/deps"; false; }
'
test_expect_success '... and the scan finds the tools that only the tests need' '
	for want in "program promtool prometheus" "program systemd-analyze systemd" \
	    "module yaml python3-yaml" "program mandoc mandoc" "program s3cmd s3cmd" \
	    "program shellcheck shellcheck" "program curl curl" "program node nodejs"; do
		grep -qx "$want" "$TEST_TMP/deps" || { echo "not found: $want"; exit 1; }
	done
'
test_expect_success '... and flags a tool whose package is not listed' '
	mkdir -p "$TEST_TMP/top/scripts" "$TEST_TMP/top/tests" &&
	cp -R "$QBK_TOP/tests/cli" "$QBK_TOP/tests/s3" "$QBK_TOP/tests/qdrant-sim" \
	    "$QBK_TOP/tests/run" "$TEST_TMP/top/tests/" &&
	cp "$QBK_TOP/Makefile" "$TEST_TMP/top/" &&
	sed "s/ prometheus / /; s/python3-yaml //" "$ID" >"$TEST_TMP/top/scripts/install-deps" &&
	{ $D "$TEST_TMP/top" >"$TEST_TMP/deps2"; test $? -eq 1; } &&
	test_grep "^MISSING program promtool prometheus$" "$TEST_TMP/deps2" &&
	test_grep "^MISSING module yaml python3-yaml$" "$TEST_TMP/deps2"
'

# build_pkgs / test_pkgs: the lists of scripts/install-deps.
pkgs() {
	sed -n "/^$1=\"/,/\"$/p" "$ID" | tr -d '"' | sed "s/^$1=//" | tr " " "\n" | sed "/^$/d" | sort
}
test_expect_success 'install-deps --build: the -dev package of every library the Makefile links' '
	pkgs build_pkgs >"$TEST_TMP/build" &&
	test_grep "^build-essential$" "$TEST_TMP/build" &&
	for lib in $(sed -n "s/^PKGS = //p" "$QBK_TOP/Makefile"); do
		pc=$(pkg-config --path "$lib") &&
		pkg=$(dpkg -S "$pc" | sed -n "s/:.*//p" | head -n 1) &&
		grep -qx "$pkg" "$TEST_TMP/build" || { echo "$lib ($pc): $pkg not in build_pkgs"; exit 1; }
	done
'
test_expect_success '... and nothing of the tests (the image build installs only these)' '
	pkgs test_pkgs >"$TEST_TMP/test" &&
	comm -12 "$TEST_TMP/build" "$TEST_TMP/test" >"$TEST_TMP/both" &&
	test_cmp /dev/null "$TEST_TMP/both" &&
	test_grep -v "^(libcmocka-dev|prometheus|systemd|python3-yaml|s3cmd|nodejs)$" "$TEST_TMP/build"
'
test_expect_exit 2 'install-deps refuses an unknown option' '
	sh "$ID" --frobnicate
'
test_expect_success '... naming its usage' '
	test_grep "^usage: scripts/install-deps \[--build\]$" "$TEST_TMP/stderr"
'

test_done
