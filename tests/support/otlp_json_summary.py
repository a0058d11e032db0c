# SPDX-License-Identifier: MIT
"""Reads OTLP/JSON lines on stdin with Python's own json parser and prints
one canonical line per resource attribute and per span, so a C test can
compare what stdbtel wrote with what it meant, through a parser that is not
stdbtel's. With --attribute KEY it prints instead one "attr SPANID VALUE"
line per span that has string attribute KEY, the value with backslashes
and newlines escaped (\\ and \\n) so that it stays on one line. Checks
the OTLP/JSON rules on the way: lowercase hex ids of the right length,
integer enums, 64-bit integers as decimal strings."""
import json
import re
import sys

HEX = re.compile(r"^[0-9a-f]+$")

def value_text(v):
    (kind, x), = v.items()
    if kind == "intValue":
        assert isinstance(x, str) and re.match(r"^-?[0-9]+$", x), x
    return f"{kind}={x}"

def attribute_lines(key):
    for line in sys.stdin:
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for sp in ss["spans"]:
                    for a in sp.get("attributes", []):
                        if a["key"] == key:
                            text = a["value"]["stringValue"].replace("\\", "\\\\").replace("\n", "\\n")
                            print(f"attr {sp['spanId']} {text}")

def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--attribute":
        attribute_lines(sys.argv[2])
        return
    for line in sys.stdin:
        doc = json.loads(line)
        for rs in doc["resourceSpans"]:
            for a in rs["resource"]["attributes"]:
                print(f"resource {a['key']} {value_text(a['value'])}")
            for ss in rs["scopeSpans"]:
                print(f"scope {ss['scope']['name']} {ss['scope']['version']}")
                for sp in ss["spans"]:
                    assert HEX.match(sp["traceId"]) and len(sp["traceId"]) == 32, sp["traceId"]
                    assert HEX.match(sp["spanId"]) and len(sp["spanId"]) == 16, sp["spanId"]
                    parent = sp.get("parentSpanId", "-")
                    assert parent == "-" or (HEX.match(parent) and len(parent) == 16), parent
                    assert isinstance(sp["kind"], int)
                    assert isinstance(sp["startTimeUnixNano"], str) and sp["startTimeUnixNano"].isdigit()
                    assert isinstance(sp["endTimeUnixNano"], str) and sp["endTimeUnixNano"].isdigit()
                    attrs = " ".join(f"{a['key']}:{value_text(a['value'])}" for a in sp.get("attributes", []))
                    status = sp.get("status", {})
                    print(f"span {sp['traceId']} {sp['spanId']} {parent} {sp['name']!r} {sp['kind']} "
                          f"{sp['startTimeUnixNano']} {sp['endTimeUnixNano']} status={status.get('code', 0)} [{attrs}]")

main()
