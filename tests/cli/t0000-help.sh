#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'every program: --help, --version, and its man page agree'

MAN=$QBK_TOP/man

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

# env_read FILES...: the environment variables that C sources read, through
# getenv(), the config's env() and credential() helpers, or the table of
# variables that override configuration keys ({ "QBK_URL", "qdrant",
# "url" }); one a line, sorted.
env_read() {
	cat "$@" | grep -oE '(getenv|env|credential)\("[A-Z][A-Z0-9_]*"|\{ "[A-Z][A-Z0-9_]*", "[a-z]+", "[a-z_]+" \}' |
	    grep -oE '"[A-Z][A-Z0-9_]*"' | tr -d '"' | sort -u
}

# script_env SCRIPT: the variables that a shell script reads (upper case,
# not its own: those it assigns; comments left out); one a line, sorted.
script_env() {
	grep -v '^[[:space:]]*#' "$1" >"$TEST_TMP/code"
	grep -oE '\$\{?[A-Z][A-Z0-9_]*' "$TEST_TMP/code" | tr -d '${' | sort -u >"$TEST_TMP/read"
	grep -oE '(^|[[:space:]])[A-Z][A-Z0-9_]*=' "$TEST_TMP/code" | tr -d ' \t=' | sort -u >"$TEST_TMP/set"
	comm -23 "$TEST_TMP/read" "$TEST_TMP/set"
}

# env_documented PAGE: the variables of the ENVIRONMENT section of PAGE
# (".It Ev NAME", ".It Ev A , Ev B"); one a line, sorted.
env_documented() {
	awk '
		/^\.Sh / { on = $2 == "ENVIRONMENT"; next }
		on && /^\.It / {
			for (i = 2; i <= NF; i++)
				if ($(i - 1) == "Ev")
					print $i
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
	# groff, through man-db, as a reader sees the page: at 80 columns it
	# must set every line (no "can't break line").
	test_expect_success "man --warnings $name" '
		MANWIDTH=80 man --warnings -l "$page" >"$TEST_TMP/page" 2>"$TEST_TMP/warn" &&
		test -s "$TEST_TMP/page" &&
		test_cmp /dev/null "$TEST_TMP/warn"
	'
done

test_expect_success 'qbk(7) ENVIRONMENT names every variable that the programs read' '
	env_read $(find "$QBK_TOP"/lib -name "*.c") "$QBK_TOP"/cmd/*.c >"$TEST_TMP/vars" &&
	(for v in QBK_CONFIG QBK_URL QBK_API_KEY QBK_DRILL_API_KEY QBK_NEW_PASSPHRASE \
	    AWS_SESSION_TOKEN AWS_ENDPOINT_URL XDG_CACHE_HOME XDG_STATE_HOME; do
		grep -qx "$v" "$TEST_TMP/vars" || { echo "env_read misses $v"; exit 1; }
	done) &&
	env_documented "$MAN/qbk.7" >"$TEST_TMP/documented" &&
	comm -23 "$TEST_TMP/vars" "$TEST_TMP/documented" >"$TEST_TMP/undocumented" &&
	test_cmp /dev/null "$TEST_TMP/undocumented"
'
for script in "$QBK_TOP"/scripts/qbk-*; do
	name=$(basename "$script")
	test_expect_success "$name(1) ENVIRONMENT names every variable that $name reads" '
		script_env "$script" >"$TEST_TMP/vars" &&
		test -s "$TEST_TMP/vars" &&
		env_documented "$MAN/$name.1" >"$TEST_TMP/documented" &&
		comm -23 "$TEST_TMP/vars" "$TEST_TMP/documented" >"$TEST_TMP/undocumented" &&
		test_cmp /dev/null "$TEST_TMP/undocumented"
	'
done

test_done
