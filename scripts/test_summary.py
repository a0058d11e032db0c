# SPDX-License-Identifier: MIT
"""Prints 'tests: N passed, M failed' from meson's testlog.json, counting
each Criterion test case (from its 'Synthesis' line) and each other test
once. Exits 1 when the log is missing or counts no test at all."""
import json
import re
import sys

SYNTHESIS = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)")

def main(path):
    passed = failed = 0
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        print(f"stdbtel: no test log: {e}", file=sys.stderr)
        return 1
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
    print(f"tests: {passed} passed, {failed} failed")
    return 0 if passed + failed > 0 else 1

sys.exit(main(sys.argv[1]))
