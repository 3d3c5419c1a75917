#!/usr/bin/env bash
# A move with no change of behaviour (issue 21): the reports of two builds, byte for byte, over
# every input format (scripts/reports_unchanged/). Usage:
#   scripts/reports_unchanged.sh OLD_BUILD/tensordiff NEW_BUILD/tensordiff
# Prints "N files, 0 differ" and exits 0 when every report is the same, timings aside.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
old=$1 new=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/tensordiff_unchanged.XXXXXX")
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/reports_unchanged/make_fixtures.py" "$work/fixtures" >/dev/null
bash "$here/reports_unchanged/run_all.sh" "$old" "$work/old" "$work/fixtures"
bash "$here/reports_unchanged/run_all.sh" "$new" "$work/new" "$work/fixtures"
/usr/bin/python3 "$here/reports_unchanged/compare.py" "$work/old" "$work/new"
