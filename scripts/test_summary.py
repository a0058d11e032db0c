# SPDX-License-Identifier: MIT
"""Prints 'tests: N passed, M failed' over one or more meson testlog.json
files (one per build the suite ran in), counting each Criterion test case
(from its 'Synthesis' line) and each other test once. Exits 1 when a log is
missing or the logs count no test at all."""
import json
import re
import sys

SYNTHESIS = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)")

def count(path):
    """(passed, failed) in one testlog.json; raises OSError when unreadable."""
    passed = failed = 0
    with open(path, encoding="utf-8") as log:
        lines = log.read().splitlines()
    for line in lines:
        entry = json.loads(line)
        output = (entry.get("stdout") or "") + (entry.get("stderr") or "")
        found = SYNTHESIS.findall(output)
        ok = entry.get("result") in ("OK", "EXPECTEDFAIL")
        if found:
            tested, passing, failing, crashing = map(int, found[-1])
            passed += passing
            failed += failing + crashing
            if not ok and failing + crashing == 0:
                failed += 1  # the binary failed outside any test case
        else:
            passed += ok
            failed += not ok
    return passed, failed

def main(paths):
    if not paths:
        print("usage: test_summary.py TESTLOG.json...", file=sys.stderr)
        return 2
    passed = failed = 0
    missing = False
    for path in paths:
        try:
            p, f = count(path)
        except OSError as e:
            print(f"stdbtel: no test log: {e}", file=sys.stderr)
            missing = True
            continue
        passed += p
        failed += f
    print(f"tests: {passed} passed, {failed} failed")
    return 0 if passed + failed > 0 and not missing else 1

sys.exit(main(sys.argv[1:]))
