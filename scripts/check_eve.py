#!/usr/bin/env python3
"""Checks EVE JSON lines (NetVigil's alerts) against docs/eve-alert.schema.json with the
`jsonschema` package (Debian: python3-jsonschema), formats included.
Usage: scripts/check_eve.py FILE.eve.json   (exit 0: every line valid; 1: the first invalid
line and why; 2: usage or a missing package)."""
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:
    print("check_eve.py needs the jsonschema package (apt install python3-jsonschema)", file=sys.stderr)
    sys.exit(2)

if len(sys.argv) != 2:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
schema = json.loads((pathlib.Path(__file__).resolve().parent.parent / "docs" / "eve-alert.schema.json").read_text())
validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
lines = pathlib.Path(sys.argv[1]).read_text().splitlines()
for n, line in enumerate(lines, 1):
    errors = sorted(validator.iter_errors(json.loads(line)), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        print(f"{sys.argv[1]}:{n}: {'/'.join(map(str, e.path)) or '(record)'}: {e.message}", file=sys.stderr)
        sys.exit(1)
print(f"{len(lines)} records valid")
