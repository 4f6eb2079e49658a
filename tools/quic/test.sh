#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run every test of the project and print one verdict:
#   host:      cargo test of the protocol core and host crates, clippy, rustfmt,
#              and every fuzz target of the core for a few seconds
#   checks:    kernel build with CLIPPY=1 free of warnings in our code,
#              rustfmtcheck, checkpatch on the patches and C files, no
#              stack frame over 2 KiB in net/quic (kernel object and host
#              build)
#   kunit:     every KUnit suite, run at boot of the QUIC kernel
#   kselftest: tools/testing/selftests/net/quic in the guest
# Ends with "N passed, N failed"; exits non-zero on any failure.
# The kernel build is incremental and lives in $QUIC_WORK (default
# ~/.cache/linux-quic), outside the clone.
source "$(dirname "$0")/kdev/lib.sh"
set +e
start=$(date +%s)

"$KDEV/toolchain.sh" || die "toolchain installation failed"
"$KDEV/fetch-source.sh" >/dev/null || die "could not fetch linux-source-7.3"
"$KDEV/assemble.sh" || die "assembling the kernel tree failed"
"$KDEV/configure.sh" || die "kernel configuration failed"

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
checks="$RESULTS/checks.txt"
n=0
check() { # name, command...
	local name=$1
	shift
	n=$((n + 1))
	if "$@" > "$RESULTS/check-$name.log" 2>&1; then
		echo "ok $n $name" >> "$checks"
	else
		echo "not ok $n $name" >> "$checks"
		log "check $name failed: see $RESULTS/check-$name.log"
		tail -20 "$RESULTS/check-$name.log" >&2
	fi
}

# Kernel build. Our crate and the kernel crate are always recompiled so
# that their compiler and clippy warnings are seen on every run.
rm -f "$BUILD/net/quic/quic.o" "$BUILD/rust/kernel.o"
log "building the kernel (CLIPPY=1)"
"$KDEV/build.sh" CLIPPY=1 > "$RESULTS/build.log" 2>&1
build_ok=$?
check kernel-build test "$build_ok" = 0
our_warnings() {
	! grep -E -A8 '^(warning|error)' "$RESULTS/build.log" |
		grep -E -B2 -- '--> .*(net/quic/|rust/kernel/net/|rust/kernel/crypto/|rust/kernel/random.rs|samples/rust/quic/)'
}
check kernel-clippy our_warnings
check kernel-rustfmt kmake -s rustfmtcheck
check checkpatch "$KDEV/checkpatch.sh"
# Kernel stacks are 16 KiB: no function of the QUIC object, code or KUnit
# test, may have a frame over 2 KiB.
check stack-frames python3 "$KDEV/stack-frames.py" "$BUILD/net/quic/quic.o" 2048

# Host tests: the same protocol core files, built with cargo.
log "host: cargo test, clippy, fmt"
(cd "$REPO/tools/quic" && cargo test --workspace --no-fail-fast) > "$RESULTS/cargo.txt" 2>&1
echo $? > "$RESULTS/cargo.rc"
check host-clippy bash -c "cd '$REPO/tools/quic' && cargo clippy --workspace --all-targets -- -D warnings"
check host-rustfmt bash -c "cd '$REPO/tools/quic' && cargo fmt --all --check"
check host-stack-frames "$KDEV/host-stack-frames.sh" 2048

# Fuzzing: every libFuzzer target of the core for QUIC_FUZZ_SECONDS (default
# 10) each, two at a time; one TAP line per target (or fuzz-build).
log "host: fuzz targets, ${QUIC_FUZZ_SECONDS:-10} s each"
rm -f "$RESULTS/fuzz.tap"
"$REPO/tools/quic/fuzz/run.sh" --tap "$RESULTS/fuzz.tap" "${QUIC_FUZZ_SECONDS:-10}" \
	> "$RESULTS/check-fuzz.log" 2>&1
[ -s "$RESULTS/fuzz.tap" ] || echo "not ok 1 fuzz # no results: see check-fuzz.log" > "$RESULTS/fuzz.tap"
while read -r line; do
	n=$((n + 1))
	sed -E "s/^(not ok|ok) [0-9]+/\1 $n/" <<< "$line" >> "$checks"
	case $line in not*) log "$line: see $RESULTS/check-fuzz.log" ;; esac
done < "$RESULTS/fuzz.tap"

# Every KUnit suite the sources declare must be reported by the kernel.
grep -rhoE 'kunit_tests\([a-z0-9_]+\)' "$REPO/net/quic" "$REPO/rust/kernel" 2>/dev/null |
	sed -E 's/kunit_tests\((.*)\)/\1/' | sort -u > "$RESULTS/expected-suites.txt"

if [ "$build_ok" = 0 ]; then
	log "building the kselftests against the tree's uapi headers"
	make -s -C "$TREE/tools/testing/selftests" TARGETS=net/quic \
		KHDR_INCLUDES="-isystem $BUILD/usr-headers/include" > "$RESULTS/kselftest-build.log" 2>&1 ||
		{ cat "$RESULTS/kselftest-build.log" >&2; }
	log "building quic-echo for the TLS handshakes in the guest"
	echo_bin=$("$KDEV/build-echo.sh" 2> "$RESULTS/echo-build.log") ||
		{ cat "$RESULTS/echo-build.log" >&2; echo_bin=; }
	log "booting the QUIC kernel: KUnit at boot, then the kselftests and TLS handshakes"
	QUIC_VM_VERBOSE=1 timeout 1200 "$KDEV/vm.sh" --rwdir "$RESULTS" --rwdir "$TREE/tools/testing/selftests" -- \
		"$KDEV/guest-tests.sh" "$RESULTS" "$TREE" "$BUILD/usr-headers/include" "$echo_bin" \
		> "$RESULTS/vm.log" 2>&1
	grep -E "^(guest|kselftest exit|tls exit)" "$RESULTS/vm.log"
fi

log "total time $(( $(date +%s) - start )) s; results in $RESULTS"
python3 "$KDEV/summarize.py" "$RESULTS"
