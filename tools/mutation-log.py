#!/usr/bin/env python3
"""Mutant statuses from the debug log of a Stryker run that did not finish (Stryker writes its report only at the end).

    MUTATION_VERBOSITY=debug tools/mutation.sh FOLDER...      (logs to artifacts/mutation/stryker.log, or MUTATION_OUT)
    python3 tools/mutation-log.py artifacts/mutation/stryker.log

Reads which file each mutant id belongs to ("Mutating <file>", then "Mutant <id> created <from> -> <to> using <mutator>"),
which mutant each test runner is testing ("MtpRunner-<r>: Testing mutant(s) [<id>]"), whether that run timed out or its
host crashed, and the outcome ("Test run for <id>: ... is failed" = killed, "is success" = survived, unless it timed out
or crashed). Prints one line per file (killed, timed out, crashed, survived, score so far) and every survivor with its
mutator and text. Timeouts and crashes count as killed, as in Stryker's score; on a loaded machine check them (a
timeout of a mutant that cannot loop, such as an emptied message string, was the machine's, not a kill).
"""
import collections
import re
import sys


def main(log: str) -> None:
    cur = None
    info, status, running, flag = {}, {}, {}, {}
    for line in open(log, errors="replace"):
        if m := re.search(r"DBG\] Mutating (\S+)", line):
            cur = m.group(1).split("/src/FlexNet/")[-1]
        elif m := re.search(r"DBG\] Mutant (\d+) created (.*) using Stryker\.Core\.Mutators\.(\w+)", line):
            info[int(m.group(1))] = (cur, m.group(2)[:160], m.group(3))
        elif m := re.search(r"MtpRunner-(\d+): Testing mutant\(s\) \[(\d+)\]", line):
            running[m.group(1)] = int(m.group(2))
        elif (m := re.search(r"MtpRunner-(\d+): Test run timed out for", line)) and m.group(1) in running:
            flag[running[m.group(1)]] = "timeout"
        elif (m := re.search(r"MtpRunner-(\d+): .*(crashed|runtime error)", line)) and m.group(1) in running:
            flag.setdefault(running[m.group(1)], "crash")
        elif m := re.search(r"Test run for (\d+): .* is (failed|success)", line):
            mid = int(m.group(1))
            status[mid] = "killed" if m.group(2) == "failed" else flag.get(mid, "survived")
    per = collections.Counter((info.get(mid, ("?",))[0], st) for mid, st in status.items())
    for f in sorted({f for f, _ in per}):
        c = {st: per[(f, st)] for st in ("killed", "timeout", "crash", "survived")}
        n = sum(c.values())
        print(f"{f}: {100 * (n - c['survived']) / n:.1f}% ({n - c['survived']} of {n} tested so far; killed {c['killed']}, "
              f"timeout {c['timeout']}, crash {c['crash']}, survived {c['survived']})")
    for mid, st in sorted(status.items()):
        if st == "survived":
            f, text, mutator = info.get(mid, ("?", "", ""))
            print(f"  survived: {mid} {f} [{mutator}] {text}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tools/mutation-log.py STRYKER_DEBUG_LOG")
    main(sys.argv[1])
