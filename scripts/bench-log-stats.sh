#!/usr/bin/env bash
# Benchmark: `ollama-chat stats` over a generated log of N turns (default 1,000,000), release build.
# Prints the log's size, then wall time, CPU time and peak memory of each run (RUNS, default 3).
# Not part of the tests.
#
#   scripts/bench-log-stats.sh [TURNS]
#
# The log is generated once into target/bench-logs/ and reused while TURNS stays the same.
set -euo pipefail
cd "$(dirname "$0")/.."

turns="${1:-1000000}"
cargo build --release --quiet --bin ollama-chat --example gen_turn_log
dir=target/bench-logs
mkdir -p "$dir"
log="$dir/turns-$turns.jsonl"
if [ ! -s "$log" ]; then
    echo "generating $turns turns into $log"
    target/release/examples/gen_turn_log "$turns" "$log.tmp"
    mv "$log.tmp" "$log"
fi
echo "log: $(du -h "$log" | cut -f1), $(wc -l < "$log") lines; $(nproc) cores"

runs="${RUNS:-3}"
run() {
    # Warm the page cache first, so that the figures measure parsing, not the disk. Several runs:
    # on a shared machine the fastest is the one least disturbed by others.
    target/release/ollama-chat stats "$log" "$@" > /dev/null
    if [ -x /usr/bin/time ]; then
        for _ in $(seq "$runs"); do
            /usr/bin/time -f "  %e s wall, %U s user + %S s system CPU, %M KiB peak memory" \
                target/release/ollama-chat stats "$log" "$@" > /dev/null
        done
    else
        local start end
        start=$(date +%s.%N)
        target/release/ollama-chat stats "$log" "$@" > /dev/null
        end=$(date +%s.%N)
        echo "  $(echo "$end - $start" | bc) s wall"
    fi
}

for args in "" "--by model" "--by day" "--by session" "--json --model qwen3 --status ok"; do
    echo "stats $args"
    # shellcheck disable=SC2086
    run $args
done
