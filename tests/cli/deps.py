#!/usr/bin/env python3
"""deps.py: every program and Python module that the tests use, and the
Debian package it comes from; used by tests/cli/t0010-install-deps.sh.

    deps.py TOP

Scans the shell and Python files of the tests (tests/run, tests/cli,
tests/s3, tests/qdrant-sim), the runbook scripts they run (scripts/qbk-*)
and the recipes of the Makefile for the words in command position (the
first word of a line, and after | || && ; ( $( { ` ! then do else, and
after env, exec, timeout DURATION and xargs) and for "import" lines.  A
word counts when it is a program on PATH, not a shell builtin, not a
function those files define and not one of qbk's own programs.  Each
program and each module outside the standard library is looked up with
dpkg -S (through /usr/bin/python3 for modules).

Prints "program NAME PACKAGE" and "module NAME PACKAGE" lines, and
"MISSING ..." for each whose package is neither listed in
scripts/install-deps, nor pulled in by one listed (Depends and
Pre-Depends, recursively, as installed), nor in every Debian system
(Essential, or of Priority required); exits 1 if there is any.
"""

import glob
import os
import re
import shutil
import subprocess
import sys

BUILTINS = set("""
alias bg break cd command continue echo eval exec exit export false fc fg
getopts hash jobs kill local printf pwd read readonly return set shift
test times trap true type ulimit umask unalias unset wait [ ] if then else
elif fi case esac for while until do done in function select time
""".split())

SEPARATORS = re.compile(
    r"\|\||&&|[|;&(){}`!]|\$\(|\b(?:then|do|else|elif|if|while|until)\b")
WORD = re.compile(r"^[a-z][a-z0-9._+-]*$")


def shell_words(text):
    """Words in command position of shell TEXT."""
    out = set()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            continue
        line = re.sub(r"\s#.*$", "", line)
        for seg in SEPARATORS.split(line):
            words = seg.split()
            # Assignments, and the programs that run another.
            while words and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0])
                             or words[0] in ("env", "exec", "xargs",
                                             "nohup", "command")):
                if words[0] == "env":
                    words = words[1:]
                    while words and words[0].startswith("-"):
                        words = words[2:] if words[0] == "-u" else words[1:]
                    continue
                if words[0] == "command" and len(words) > 1 and \
                        words[1] == "-v":
                    words = words[2:]
                    continue
                words = words[1:]
            if len(words) >= 2 and words[0] == "timeout":
                out.add("timeout")
                words = words[2:]
            if words:
                w = words[0].lstrip("@-").strip("\"'")
                if WORD.match(w):
                    out.add(w)
    return out


def python_programs(text):
    return set(re.findall(r"""\[\s*["']([a-z][a-z0-9._-]*)["']\s*,""",
                          text))


def python_modules(text):
    mods = set()
    for m in re.finditer(r"^[ \t]*import[ \t]+([\w \t,.]+)$|"
                         r"^[ \t]*from[ \t]+(\w+)[ \t]+import", text, re.M):
        if m.group(2):
            mods.add(m.group(2))
        else:
            for part in m.group(1).split(","):
                part = part.strip().split(" as ")[0].split(".")[0]
                if part:
                    mods.add(part)
    return mods


def defined_functions(text):
    return set(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\)", text,
                          re.M))


def variants(path):
    """PATH, its real path, and both with and without the /usr merge."""
    cands = [path, os.path.realpath(path)]
    for c in list(cands):
        for a, b in (("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/"),
                     ("/usr/lib/", "/lib/")):
            if c.startswith(a):
                cands.append(b + c[len(a):])
            elif c.startswith(b):
                cands.append(a + c[len(b):])
    return cands


def packages_of(files):
    """{key: package or None} for {key: [candidate files]}, with one dpkg -S
    for all of them."""
    cands = {k: [v for f in fs if f for v in variants(f)]
             for k, fs in files.items()}
    paths = sorted({c for cs in cands.values() for c in cs})
    own = {}
    if paths:
        r = subprocess.run(["dpkg", "-S"] + paths, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        for line in r.stdout.splitlines():
            if line.startswith("diversion ") or ": " not in line:
                continue
            pkgs, path = line.split(": ", 1)
            own.setdefault(path.strip(),
                           pkgs.split(",")[0].strip().split(":")[0])
    return {k: next((own[c] for c in cs if c in own), None)
            for k, cs in cands.items()}


def installed_depends(pkgs):
    """PKGS and every installed package they depend on, recursively."""
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        r = subprocess.run(["dpkg-query", "-W", "-f",
                            "${Status}\n${Depends}, ${Pre-Depends}\n", p],
                           stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        lines = r.stdout.split("\n")
        if r.returncode != 0 or "installed" not in lines[0]:
            continue
        for alt in lines[1].split(","):
            for choice in alt.split("|"):
                name = choice.strip().split(" ")[0].split(":")[0]
                if name:
                    todo.append(name)
    return seen


def in_every_debian(pkg):
    """PKG is Essential or of Priority required: in every Debian system,
    the slim images included."""
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Essential} ${Priority}",
                        pkg], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    ess, _, prio = r.stdout.strip().partition(" ")
    return ess == "yes" or prio == "required"


def main(top):
    deps = open(os.path.join(top, "scripts/install-deps")).read()
    listed = set()
    for var in ("build_pkgs", "test_pkgs"):
        m = re.search(var + r'="([^"]*)"', deps)
        if not m:
            sys.exit("deps.py: no %s in scripts/install-deps" % var)
        listed.update(m.group(1).split())
    provided = installed_depends(listed)

    shell_files = (glob.glob(top + "/tests/cli/*.sh") +
                   [top + "/tests/run"] +
                   glob.glob(top + "/scripts/qbk-*"))
    py_files = (glob.glob(top + "/tests/cli/*.py") +
                glob.glob(top + "/tests/s3/*") +
                glob.glob(top + "/tests/qdrant-sim/*.py"))
    make = open(top + "/Makefile").read()
    recipes = "\n".join(l[1:] for l in make.splitlines()
                        if l.startswith("\t"))

    texts = {f: open(f).read() for f in shell_files + py_files}
    funcs = set()
    for t in texts.values():
        funcs |= defined_functions(t)
    progs, mods = set(), set()
    for f, t in texts.items():
        if f in py_files and t.startswith("#!/usr/bin/env python3"):
            progs |= python_programs(t)
        else:
            progs |= shell_words(t)
        # Python in files of both kinds (heredocs and -c in shell tests).
        mods |= python_modules(t)
    progs |= shell_words(recipes)
    progs = {p for p in progs if p not in BUILTINS and p not in funcs and
             not p.startswith("qbk-") and shutil.which(p)}
    local = set()
    for d in ("tests/cli", "tests/s3", "tests/qdrant-sim"):
        local |= {os.path.splitext(n)[0] for n in os.listdir(top + "/" + d)}
    mods = {m for m in mods if m not in sys.stdlib_module_names and
            m not in local and m != "__future__"}

    files = {("program", p): [shutil.which(p)] + [
        d + "/" + p for d in ("/usr/bin", "/bin", "/usr/sbin", "/sbin")
        if os.path.exists(d + "/" + p)] for p in progs}
    for m in mods:
        r = subprocess.run(["/usr/bin/python3", "-c",
                            "import %s; print(%s.__file__)" % (m, m)],
                           stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        files[("module", m)] = [r.stdout.strip()] if r.returncode == 0 \
            else []
    missing = 0
    for (kind, name), pkg in sorted(packages_of(files).items()):
        ok = pkg is not None and (pkg in provided or in_every_debian(pkg))
        print("%s%s %s %s" % ("" if ok else "MISSING ", kind, name, pkg))
        missing += not ok
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: deps.py TOP")
    main(sys.argv[1])
