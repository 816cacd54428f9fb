#!/usr/bin/python3
"""Adds up scripts/test.sh's results into one closing line: `N passed, M failed`.

Counts every TAP line of every meson test (a test without TAP output counts once, by its
result), every pytest case from the JUnit XML, and the extra lines (`name: ok|FAILED`) that
test.sh writes for builds and fuzz runs. Prints what failed, then the line; exits 1 on failure.
"""
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

results = Path(sys.argv[1])
passed = failed = 0
failures = []

TAP = re.compile(r"^(not ok|ok)\b\s*\d*\s*-?\s*(.*)$")

for log in sorted(results.glob("testlog-*.json")):
    build = log.stem.split("-", 1)[1]
    for line in log.read_text().splitlines():
        if not line.strip():
            continue
        t = json.loads(line)
        name, result = t.get("name", "?"), t.get("result", "?")
        tap = [TAP.match(l) for l in (t.get("stdout") or "").splitlines()]
        tap = [m for m in tap if m]
        if result in ("SKIP",):
            continue
        if tap:
            for m in tap:
                if m.group(1) == "ok":
                    passed += 1
                else:
                    failed += 1
                    failures.append(f"{build}: {name}: {m.group(2)}")
            # A TAP program that crashed or reported a bad plan fails once more on its own.
            if result not in ("OK", "EXPECTEDFAIL") and not any(m.group(1) != "ok" for m in tap):
                failed += 1
                failures.append(f"{build}: {name}: {result}")
        elif result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        else:
            failed += 1
            failures.append(f"{build}: {name}: {result}")

for xml in sorted(results.glob("pytest-*.xml")):
    build = xml.stem.split("-", 1)[1]
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("skipped") is not None:
            continue
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            failures.append(f"{build}: {name}")
        else:
            passed += 1

extra = results / "extra.txt"
if extra.exists():
    for line in extra.read_text().splitlines():
        name, _, res = line.rpartition(": ")
        if res == "ok":
            passed += 1
        else:
            failed += 1
            failures.append(name)

for f in failures:
    print(f"FAILED {f}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
