#!/usr/bin/env bash
# The memory a pair of tiny tensors costs, gated (issue 26): 50,000 pairs of W5's tensors
# (bench/many_tensors.sh), compared with --verbose, whose phase lines say how much the allocator
# holds in use (glibc's mallinfo2: the sum of the live blocks, whatever the load, the arenas or
# the thread count; resident memory moves with all three), at the end of each phase; once with
# -q alone and once writing the JSON report, whose details (histograms, worst elements, first
# nonzeros: ~1.1 KB a pair) are streamed to a file as each pair finishes, not held. The
# largest: 46 MiB both ways (2026-12-06, ~960 bytes a pair; 1.6 KB at the start of 2026-12-05's
# second session; with the details held, ~100 MiB). The limit is that + 10%: a change that adds
# bytes to every pair on purpose measures again and moves it.
# Usage: tests/many_tensors_memory.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
limit_mib=51
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/tensordiff_gen" --out-a "$work/a.h5" --out-b "$work/b.h5" --tensors 50000 --tiny >/dev/null
for report in "" "--json $work/r.json"; do
  set +e
  # shellcheck disable=SC2086 # the report's two words
  "$build/tensordiff" -q --verbose --threads 2 "$work/a.h5" "$work/b.h5" $report 2>"$work/log.txt"
  status=$?
  set -e
  if [[ $status != 1 ]]; then
    echo "many_tensors_memory: tensordiff ${report:+$report }exited $status (1 expected: the pairs differ)"
    cat "$work/log.txt"
    exit 1
  fi
  peak=$(grep -o 'heap in use [0-9]* MiB' "$work/log.txt" | awk '{print $4}' | sort -n | tail -1)
  if [[ -z $peak ]]; then
    echo "many_tensors_memory: no 'heap in use' in the --verbose lines (not glibc >= 2.33?): nothing measured"
    cat "$work/log.txt"
    exit 1
  fi
  echo "many_tensors_memory: 50000 pairs${report:+, --json}, heap in use at most $peak MiB (limit $limit_mib MiB)"
  if (( peak > limit_mib )); then
    grep "heap in use" "$work/log.txt"
    exit 1
  fi
  if [[ -n $report ]] && ! grep -q "details of each pair to a temporary file" "$work/log.txt"; then
    echo "many_tensors_memory: --json did not stream the details"
    cat "$work/log.txt"
    exit 1
  fi
done
