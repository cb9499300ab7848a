#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'every program: --help, --version, and its man page agree'

MAN=$QBK_TOP/man

# help_opts PROG: the options of PROG --help, one a line: "--name" or
# "-x --name".
help_opts() {
	"$1" --help | sed -n -E \
	    -e 's/^  -([A-Za-z]), --([a-z0-9-]+).*/-\1 --\2/p' \
	    -e 's/^      --([a-z0-9-]+).*/--\1/p' | sort
}

# man_opts PAGE: the same from the OPTIONS section of PAGE, whose items
# read ".It Fl -name ..." or ".It Fl x Ar arg , Fl -name ...".
man_opts() {
	awk '
		/^\.Sh / { sec = $2; next }
		sec != "OPTIONS" || !/^\.It Fl / { next }
		{
			s = ""; l = ""
			for (i = 2; i < NF; i++) {
				if ($i != "Fl")
					continue
				if ($(i + 1) ~ /^-[a-z0-9-]+$/)
					l = "-" $(i + 1)
				else if ($(i + 1) ~ /^[A-Za-z]$/)
					s = "-" $(i + 1)
			}
			if (l != "")
				print (s != "" ? s " " : "") l
		}' "$1" | sort
}

# synopsis_opts PAGE: every "Fl -name" and "Fl x" of the SYNOPSIS, as
# "--name" and "-x".
synopsis_opts() {
	awk '
		/^\.Sh / { sec = $2; next }
		sec != "SYNOPSIS" { next }
		{
			for (i = 1; i < NF; i++)
				if ($i == "Fl" && $(i + 1) ~ /^(-[a-z0-9-]+|[A-Za-z])$/)
					print "-" $(i + 1)
		}' "$1" | sort -u
}

progs=$(cd "$QBK_BIN" && ls qbk-* 2>/dev/null)

test_expect_success 'there are programs to check' '
	test -n "$progs"
'

for p in $progs; do
	test_expect_success "$p --help exits 0 with a usage line on stdout" '
		"$p" --help >"$TEST_TMP/$p.help" 2>"$TEST_TMP/$p.err" &&
		test_grep "^usage: $p " "$TEST_TMP/$p.help" &&
		test ! -s "$TEST_TMP/$p.err"
	'

	test_expect_success "$p --version exits 0" '
		"$p" --version >"$TEST_TMP/$p.version" &&
		test_grep "^$p qbk [0-9]" "$TEST_TMP/$p.version"
	'

	test_expect_success "$p has a man page" '
		test -f "$MAN/$p.1"
	'

	test_expect_success "$p: --help and the OPTIONS of $p(1) list the same options" '
		help_opts "$p" >"$TEST_TMP/$p.help-opts" &&
		man_opts "$MAN/$p.1" >"$TEST_TMP/$p.man-opts" &&
		test -s "$TEST_TMP/$p.help-opts" &&
		test_cmp "$TEST_TMP/$p.help-opts" "$TEST_TMP/$p.man-opts"
	'

	test_expect_success "$p: every option of the SYNOPSIS of $p(1) exists" '
		synopsis_opts "$MAN/$p.1" >"$TEST_TMP/$p.syn-opts" &&
		test -s "$TEST_TMP/$p.syn-opts" &&
		tr " " "\n" <"$TEST_TMP/$p.help-opts" | sort -u >"$TEST_TMP/$p.help-words" &&
		comm -23 "$TEST_TMP/$p.syn-opts" "$TEST_TMP/$p.help-words" >"$TEST_TMP/$p.unknown" &&
		test_cmp /dev/null "$TEST_TMP/$p.unknown"
	'
done

for page in "$MAN"/*.[1-9]; do
	name=$(basename "$page")
	test_expect_success "mandoc -Tlint -Wwarning $name" '
		mandoc -Tlint -Wwarning "$page"
	'
done

test_done
