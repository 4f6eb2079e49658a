#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the fuzz targets of the protocol core and run each for a while.
#
#   tools/quic/fuzz/run.sh [--tap FILE] [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 10; TARGETs default to every target in
# fuzz_targets/. The targets are libFuzzer binaries built with the stable
# toolchain: plain cargo, release with debug assertions and overflow checks,
# and LLVM's SanitizerCoverage passes for coverage guidance (no nightly, no
# cargo-fuzz; no AddressSanitizer either: the core has no unsafe code, so
# what the fuzzers catch are panics, overflows, hangs and runaway memory).
#
# FUZZ_ARGS adds libFuzzer options, e.g. FUZZ_ARGS=-use_value_profile=1
# for long runs (it lets libFuzzer solve byte-by-byte magic comparisons).
#
# Each target starts from its committed seeds (corpus/<target>) plus the
# corpus grown by earlier runs on this machine (target/corpus/<target>), and
# runs with -rss_limit_mb and -timeout. Targets run FUZZ_JOBS at a time
# (default: the number of CPUs, at most 2). A crash, hang or OOM leaves its
# input in target/artifacts/<target>/; reproduce it with
#   target/x86_64-unknown-linux-gnu/release/<target> <file>
#
# Prints libFuzzer's final figures per target (executions, coverage,
# features, corpus) and, with --tap FILE (or FUZZ_TAP=FILE), writes one TAP
# line per target: `ok N fuzz-<target> # execs=... cov=...` or `not ok`.
# Exit status 1 if the build or any target failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

tap=${FUZZ_TAP:-}
if [ "${1:-}" = --tap ]; then
	tap=$2
	shift 2
fi
seconds=${1:-10}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	targets=($(ls fuzz_targets | sed -n 's/\.rs$//p' | sort))
fi
jobs=${FUZZ_JOBS:-$(nproc)}
[ "$jobs" -gt 2 ] && [ -z "${FUZZ_JOBS:-}" ] && jobs=2
[ "$jobs" -ge 1 ] || jobs=1
rss_mb=${FUZZ_RSS_MB:-2048}
timeout_s=${FUZZ_TIMEOUT:-10}

triple=$(rustc -vV | sed -n 's/^host: //p')
bin="$here/target/$triple/release"
tap_tmp=$(mktemp)
trap 'rm -f "$tap_tmp"' EXIT
write_tap() {
	[ -n "$tap" ] && cp "$tap_tmp" "$tap"
	return 0
}

# The coverage flags apply to the targets and the core, not to build scripts
# (an explicit --target keeps RUSTFLAGS away from them).
export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing -Cdebug-assertions -Coverflow-checks"
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
start=$(date +%s)
echo "==> building ${#targets[@]} fuzz targets"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
if ! cargo build --release --locked --target "$triple" "${bins[@]}"; then
	echo "not ok 1 fuzz-build" > "$tap_tmp"
	write_tap
	exit 1
fi
echo "==> built in $(( $(date +%s) - start )) s; ${seconds} s per target, $jobs at a time"

mkdir -p target/logs
run_one() { # target
	local t=$1
	mkdir -p "target/corpus/$t" "target/artifacts/$t" "corpus/$t"
	"$bin/$t" -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout="$timeout_s" \
		-print_final_stats=1 -close_fd_mask=1 ${FUZZ_ARGS:-} \
		-artifact_prefix="target/artifacts/$t/" \
		"target/corpus/$t" "corpus/$t" > "target/logs/$t.log" 2>&1
	echo $? > "target/logs/$t.rc"
}

running=0
for t in "${targets[@]}"; do
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

failed=0
n=0
printf '%-18s %12s %10s %6s %7s %10s  %s\n' target execs exec/s cov ft corpus result
for t in "${targets[@]}"; do
	n=$((n + 1))
	logf="target/logs/$t.log"
	rc=$(cat "target/logs/$t.rc" 2>/dev/null || echo 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logf" | tail -1)
	# The last status line: "#N DONE cov: C ft: F corp: U/Sb ...".
	status=$(grep -E '^#[0-9]+' "$logf" | tail -1)
	cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<< "$status")
	ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<< "$status")
	corp=$(sed -nE 's/.* corp: ([^ ]+).*/\1/p' <<< "$status")
	figures="execs=${execs:-0} exec/s=${rate:-0} cov=${cov:-0} ft=${ft:-0} corpus=${corp:-0}"
	if [ "$rc" = 0 ] && [ -n "$execs" ]; then
		result=ok
		echo "ok $n fuzz-$t # $figures" >> "$tap_tmp"
	else
		failed=$((failed + 1))
		artifact=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$logf" | tail -1)
		result="FAILED (exit $rc) ${artifact:-see $here/$logf}"
		echo "not ok $n fuzz-$t # $figures ${artifact:+artifact=$artifact}" >> "$tap_tmp"
		grep -E -m1 -A3 "panicked at|ERROR: libFuzzer" "$logf" | sed 's/^/    /'
	fi
	printf '%-18s %12s %10s %6s %7s %10s  %s\n' "$t" "${execs:-0}" "${rate:-0}" "${cov:-0}" \
		"${ft:-0}" "${corp:-0}" "$result"
done
write_tap
echo "==> fuzzing: $((n - failed)) passed, $failed failed in $(( $(date +%s) - start )) s"
[ "$failed" = 0 ]
