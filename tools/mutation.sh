#!/usr/bin/env bash
# Mutation testing with Stryker.NET (local tool in .config/dotnet-tools.json) over folders of src/FlexNet.
#   tools/mutation.sh [FOLDER...]        e.g.  tools/mutation.sh Losses IO        (default: every folder)
# A FOLDER may also be a sub-folder or one file of src/FlexNet (Autodiff/Ops, Autodiff/Ops/Binary.cs), and a
# path prefixed with ! is left out ("Autodiff !Autodiff/Ops": Autodiff without its Ops). Sub-paths default to the
# tests of their top folder (tests/FlexNet.Tests/Autodiff for Autodiff/Ops) and are scored separately.
# One Stryker run mutates every named folder (the library is compiled once with all its mutants), on a private
# copy of the repository so that builds in the working tree are not disturbed, with the Microsoft.Testing.Platform
# runner (xunit v3; see docs/testing.md for why), one test session at a time, at the lowest CPU priority.
# Tests: by default only the test folders that mirror the named folders (tests/FlexNet.Tests/<FOLDER>, plus the
# shared helpers of tests/FlexNet.Tests/Testing, and the files of other folders that declare a type those use, followed
# transitively) are compiled into the test executable, so each mutant runs a few seconds of tests, not the
# whole suite; MUTATION_TESTS="Losses Training" picks test folders, MUTATION_TESTS=all uses the whole suite.
# Reports (JSON + HTML + log) go to artifacts/mutation/. Per-folder scores and surviving mutants go to stderr;
# stdout ends with exactly one line:
#   mutation score: X% (killed K of N, survived S, timeout O, no coverage C, compile errors E)
# where K counts killed and timed-out mutants and N = killed + timeout + survived + no coverage (Stryker's score).
# Environment: MUTATION_TIMEOUT (seconds for the whole run, default 7200), MUTATION_OUT (report directory),
# MUTATION_SKIP_TESTS (test files to leave out, globs under tests/FlexNet.Tests: "IO/NetworkFile*Tests.cs"; their
# helpers then come in only if another kept file uses them),
# MUTATION_COVERAGE (Stryker's coverage-analysis: perTest, the config's default; all, perTestInIsolation, off),
# MUTATION_CONCURRENCY (test sessions at once; default: the config's), MUTATION_ADDITIONAL_TIMEOUT (ms a mutant's
# test run may take beyond the unmutated run before it counts as a timeout, i.e. killed; default: the config's 10000,
# raise it on a loaded machine, where a test host restarted after a crash needs longer for its first run), MUTATION_VERBOSITY (e.g. debug: Stryker logs
# at that level, and to a file under the report directory), MUTATION_RELAY_JANITOR=0 (no watcher of coverage relays),
# MUTATION_ONLY_NAMED=0 (instrument the whole library, not only the named folders; see below),
# MUTATION_TEST_PROJECT (the test project under tests/, default FlexNet.Tests; FlexNet.Onnx.Tests for the Onnx folder,
# whose tests need ONNX Runtime: that project's tests all run, less the MUTATION_SKIP_TESTS globs under its folder).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
limit="${MUTATION_TIMEOUT:-7200}"
out="${MUTATION_OUT:-$root/artifacts/mutation}"
fail() { echo "$1" >&2; echo "mutation score: 0% (killed 0 of 0, error: $2)"; exit 2; }

if [ "$#" -eq 0 ]; then
  set -- $(cd src/FlexNet && find . -mindepth 1 -maxdepth 1 -type d ! -name bin ! -name obj -printf '%f\n' | sort)
fi
folders=(); excluded=(); tops=()
for f in "$@"; do
  neg=""; case "$f" in '!'*) neg=1; f="${f#!}";; esac
  f="${f#src/FlexNet/}"; f="${f%/}"
  [ -e "src/FlexNet/$f" ] || fail "no such folder or file: src/FlexNet/$f" "bad folder $f"
  if [ -n "$neg" ]; then excluded+=("$f"); continue; fi
  folders+=("$f")
  top="${f%%/*}"; case " ${tops[*]} " in *" $top "*) ;; *) tops+=("$top");; esac
done
[ "${#folders[@]}" -gt 0 ] || fail "nothing to mutate" "no folder"
tests="${MUTATION_TESTS:-${tops[*]}}"
tproj="${MUTATION_TEST_PROJECT:-FlexNet.Tests}"
[ -f "tests/$tproj/$tproj.csproj" ] || fail "no test project tests/$tproj/$tproj.csproj" "bad test project $tproj"
[ "$tproj" = FlexNet.Tests ] || tests="all"  # the folder filter below knows FlexNet.Tests' layout only

dotnet tool restore >/dev/null || fail "dotnet tool restore failed" "no stryker"

work=$(mktemp -d /tmp/flexnet-mutation.XXXXXX)
janitor=""
trap '[ -n "$janitor" ] && kill "$janitor" 2>/dev/null; rm -rf "$work"' EXIT
tar -C "$root" --exclude=./artifacts --exclude='*/bin' --exclude='*/obj' --exclude=./.git -cf - . | tar -C "$work" -xf -

# Stryker mutates every file of the library and filters by --mutate afterwards, so the mutated FlexNet.dll carries a
# mutant switch at each of the ~28,000 mutation points, also in folders that are not tested, which slows every test.
# In the private copy, each file outside the named folders (and each one left out with !) starts with a
# "Stryker disable all" comment, unless MUTATION_ONLY_NAMED=0.
if [ "${MUTATION_ONLY_NAMED:-1}" != 0 ]; then
  python3 - "$work/src/FlexNet" "${#folders[@]}" "${folders[@]}" "${excluded[@]}" <<'PY' || fail "could not mark the files outside the named folders" "marking failed"
import os, sys
base, nf = sys.argv[1], int(sys.argv[2])
folders, excluded = sys.argv[3:3 + nf], sys.argv[3 + nf:]
def under(rel, f): return rel == f or rel.startswith(f + "/")
marked = 0
for dirpath, dirs, files in os.walk(base):
    dirs[:] = [d for d in dirs if d not in ("bin", "obj")]
    for name in files:
        if not name.endswith(".cs"): continue
        path = os.path.join(dirpath, name)
        rel = os.path.relpath(path, base).replace(os.sep, "/")
        if any(under(rel, f) for f in folders) and not any(under(rel, x) for x in excluded): continue
        text = open(path, encoding="utf-8-sig").read()
        open(path, "w", encoding="utf-8").write("// Stryker disable all : not among the folders of this run\n" + text)
        marked += 1
print(f"marked {marked} files outside the named folders", file=sys.stderr)
PY
fi

if [ "$tests" != "all" ] || { [ "$tproj" != FlexNet.Tests ] && [ -n "${MUTATION_SKIP_TESTS:-}" ]; }; then
  # Keep the chosen folders' files, the shared helpers (Testing/), and every file of another folder that declares a
  # type they use (e.g. IdxTests.Make), with the types those use in turn; leave every other test file out. Another
  # test project keeps every file but the MUTATION_SKIP_TESTS ones (chosen: --every-file).
  proj="$work/tests/$tproj/$tproj.csproj"
  chosen="$tests"; [ "$tproj" = FlexNet.Tests ] || chosen="--every-file"
  [ "$tproj" != FlexNet.Tests ] || for t in $tests; do [ -d "tests/FlexNet.Tests/$t" ] || echo "note: no test folder tests/FlexNet.Tests/$t" >&2; done
  python3 - "$proj" "${MUTATION_SKIP_TESTS:-}" $chosen <<'PY'
import sys, os, re, glob, fnmatch
p, skip, chosen = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
every = chosen == ["--every-file"]
root = os.path.dirname(p)
srcs = {}
for f in glob.glob(os.path.join(root, "**", "*.cs"), recursive=True):
    rel = os.path.relpath(f, root)
    if rel.split(os.sep)[0] in ("bin", "obj"): continue
    srcs[rel] = open(f, encoding="utf-8-sig").read()
def code(text): return re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)  # a type named in a comment is not used
def top(rel): return rel.split(os.sep)[0] if os.sep in rel else ""
skipped = {rel for rel in srcs if any(fnmatch.fnmatch(rel, x) for x in skip)}  # left out before their helpers are followed
kept = {rel for rel in srcs if (every or top(rel) in chosen or top(rel) == "Testing") and rel not in skipped}
declares = {}  # type named by its file (X.cs, partial parts X.Part.cs) -> the files of the other folders that declare it
for rel, text in srcs.items():
    name = os.path.basename(rel).split(".")[0]
    if rel not in kept and rel not in skipped and re.search(r"\b(?:class|record|struct|interface|enum)\s+" + name + r"\b", text):
        declares.setdefault(name, set()).add(rel)
todo = list(kept)
while todo:
    words = set(re.findall(r"\b[A-Z][A-Za-z0-9_]*\b", code(srcs[todo.pop()])))
    for name in words & declares.keys():
        for rel in declares[name] - kept:
            kept.add(rel); todo.append(rel)
items = "".join(f'<Compile Remove="{rel}" />' for rel in sorted(srcs) if rel not in kept)
helpers = [] if every else sorted(rel for rel in kept if top(rel) not in chosen and top(rel) != "Testing")
print(f"test files: {len(kept)} of {len(srcs)}; from other folders: {' '.join(helpers) or 'none'}", file=sys.stderr)
s = open(p).read()
s = s.replace("</Project>", "  <ItemGroup>" + items + "</ItemGroup>\n</Project>")
open(p, "w").write(s)
PY
fi

if [ -n "${MUTATION_COVERAGE:-}${MUTATION_CONCURRENCY:-}${MUTATION_ADDITIONAL_TIMEOUT:-}" ] || [ "$tproj" != FlexNet.Tests ]; then
  python3 - "$work/tools/stryker-config.json" "${MUTATION_COVERAGE:-}" "${MUTATION_CONCURRENCY:-}" "${MUTATION_ADDITIONAL_TIMEOUT:-}" "$tproj" <<'PY' || fail "bad MUTATION_COVERAGE/MUTATION_CONCURRENCY/MUTATION_ADDITIONAL_TIMEOUT" "bad override"
import json, sys
p, cov, conc, extra, tproj = sys.argv[1:6]
c = json.load(open(p))
s = c["stryker-config"]
s["test-projects"] = [tproj + ".csproj"]
if cov:
    if cov not in ("all", "perTest", "perTestInIsolation", "off"): sys.exit(f"unknown coverage analysis {cov}")
    s["coverage-analysis"] = cov
if conc: s["concurrency"] = int(conc)
if extra: s["additional-timeout"] = int(extra)
json.dump(c, open(p, "w"), indent=2)
PY
fi
verbose=(); [ -n "${MUTATION_VERBOSITY:-}" ] && verbose=(--verbosity "$MUTATION_VERBOSITY" --log-to-file)

glob() { if [ -d "src/FlexNet/$1" ]; then echo "**/src/FlexNet/$1/**/*.cs"; else echo "**/src/FlexNet/$1"; fi; }
mutate=()
for f in "${folders[@]}"; do mutate+=(--mutate "$(glob "$f")"); done
for f in "${excluded[@]}"; do mutate+=(--mutate "!$(glob "$f")"); done
rm -rf "$out"; mkdir -p "$out"
echo "mutating: ${folders[*]}${excluded[*]:+ except ${excluded[*]}}; tests: $tproj $tests; coverage: $(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["stryker-config"]; print(s["coverage-analysis"], "concurrency", s["concurrency"])' "$work/tools/stryker-config.json")" >&2
# Per-test coverage (perTest) with Stryker 5.1.0's MTP runner: after each test the runner asks every "epoch relay"
# file of the test host (/tmp/stryker-epoch-<run>-<assembly>-<guid>.txt, one per process that loaded the mutated
# library, kept alive by a polling thread in that process) to acknowledge, and waits up to 10 s. When a test host is
# replaced (a test that times out, a crash) or a test starts a child process that loads the mutated library, the dead
# process's relay file stays, and every later test waits the full 10 s and is marked Dubious. Stryker never removes
# it, so this watcher does: a relay of this run that no process has open or mapped on two checks 2 s apart is
# deleted, with the coverage file of the same process (which would otherwise be added to every later test's).
relay_janitor() {
  local tmp="${TMPDIR:-/tmp}" f pid seen=" "
  while sleep 2; do
    for f in "$tmp"/stryker-epoch-*.txt; do
      [[ "${f##*-}" =~ ^[0-9a-f]{32}\.txt$ ]] || continue # a process's relay, not the name handed out
      pid="${f##*/stryker-epoch-}"; pid="${pid%%-*}"
      tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$work/tools/stryker-config.json" || continue
      if fuser -s "$f" 2>/dev/null; then seen="${seen// $f / }"; continue; fi
      case "$seen" in
        *" $f "*) rm -f "$f" "$tmp/stryker-coverage-pt-${f#"$tmp"/stryker-epoch-}"; seen="${seen// $f / }"
                  echo "$(date -u +%T) removed the dead coverage relay ${f##*/}" >>"$out/relay-janitor.log";;
        *) seen="$seen$f ";;
      esac
    done
  done
}
start=$(date +%s)
[ "${MUTATION_RELAY_JANITOR:-1}" = 0 ] || { relay_janitor & janitor=$!; }
( cd "$work/tests/$tproj" &&
  timeout "$limit" nice -n 19 dotnet stryker --config-file "$work/tools/stryker-config.json" "${mutate[@]}" "${verbose[@]}" --output "$out" ) >"$out/stryker.log" 2>&1
rc=$?
[ -n "$janitor" ] && kill "$janitor" 2>/dev/null
json=$(find "$out" -name 'mutation-report.json' | head -1)
if [ -z "$json" ]; then
  tail -15 "$out/stryker.log" >&2
  fail "Stryker produced no report (exit $rc); see $out/stryker.log" "no report, exit $rc"
fi

echo "duration: $(( ($(date +%s) - start) / 60 )) min (exit $rc)" >&2
python3 - "$json" "${#folders[@]}" "${folders[@]}" "${excluded[@]}" <<'PY'
import json, sys, os
report, nf = sys.argv[1], int(sys.argv[2])
folders, excluded = sys.argv[3:3 + nf], sys.argv[3 + nf:]
r = json.load(open(report))
per = {f: {} for f in folders}
perfile = {}
survivors = []
def under(rel, f): return rel == f or rel.startswith(f + "/")
for path, fi in sorted(r["files"].items()):
    parts = path.replace("\\", "/").split("/src/FlexNet/")
    rel = parts[-1] if len(parts) > 1 else path
    if any(under(rel, x) for x in excluded): continue
    owners = [f for f in folders if under(rel, f)]
    if not owners: continue
    folder = max(owners, key=len)
    for m in fi["mutants"]:
        st = m["status"]
        per[folder][st] = per[folder].get(st, 0) + 1
        perfile.setdefault(rel, {}).setdefault(st, 0)
        perfile[rel][st] += 1
        if st in ("Survived", "NoCoverage"):
            line = m["location"]["start"]["line"]
            survivors.append(f"  {st.lower()}: {rel}:{line} {m['mutatorName']}: {m.get('replacement', '')[:90]!r}")
tot = {}
for f in folders:
    c = per[f]
    for k, v in c.items(): tot[k] = tot.get(k, 0) + v
    k = c.get("Killed", 0) + c.get("Timeout", 0)
    n = k + c.get("Survived", 0) + c.get("NoCoverage", 0)
    pct = f"{100 * k / n:.1f}%" if n else "n/a"
    print(f"{f}: {pct} (killed {k} of {n}, of which timeout {c.get('Timeout', 0)}, survived {c.get('Survived', 0)}, no coverage {c.get('NoCoverage', 0)}, "
          f"compile errors {c.get('CompileError', 0)}, ignored {c.get('Ignored', 0)})", file=sys.stderr)
for rel, c in sorted(perfile.items()):
    k = c.get("Killed", 0) + c.get("Timeout", 0)
    n = k + c.get("Survived", 0) + c.get("NoCoverage", 0)
    if n: print(f"  {rel}: {100 * k / n:.1f}% ({k} of {n})", file=sys.stderr)
print("\n".join(survivors), file=sys.stderr)
k = tot.get("Killed", 0) + tot.get("Timeout", 0)
n = k + tot.get("Survived", 0) + tot.get("NoCoverage", 0)
pct = 100 * k / n if n else 0
print(f"mutation score: {pct:.1f}% (killed {k} of {n}, survived {tot.get('Survived', 0)}, timeout {tot.get('Timeout', 0)}, "
      f"no coverage {tot.get('NoCoverage', 0)}, compile errors {tot.get('CompileError', 0)})")
PY
