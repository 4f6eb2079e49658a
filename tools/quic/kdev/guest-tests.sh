#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest (virtme-ng): collect the boot-time KUnit report and
# run the QUIC kselftests the way a developer would:
#   make -C tools/testing/selftests TARGETS=net/quic run_tests
# and real TLS handshakes over QUIC sockets (guest-tls.sh) when QUIC_ECHO
# is given.
# Usage: guest-tests.sh RESULTS_DIR TREE HEADERS_DIR [QUIC_ECHO]
results=$1 tree=$2 headers=$3 echo_bin=${4:-}
set -u

echo "guest: $(uname -r), $(nproc) CPUs"
mount -t debugfs none /sys/kernel/debug 2>/dev/null
dmesg > "$results/ktap.txt"
if [ -d /sys/kernel/debug/kunit ]; then
	for s in /sys/kernel/debug/kunit/*/; do
		name=$(basename "$s")
		cat "$s/results" > "$results/kunit-$name.txt" 2>/dev/null
	done
fi

# Append mode: the kselftest runner appends each test's TAP to /dev/stdout,
# which must not be overwritten by make's own later writes. virtme-ng points
# /dev/stdout at its console port, not at the process's stdout: point it
# back for the run, or the per-case TAP lands on the console.
: > "$results/kselftest.txt"
old_stdout=$(readlink /dev/stdout)
ln -sfn /proc/self/fd/1 /dev/stdout
make -C "$tree/tools/testing/selftests" TARGETS=net/quic \
	KHDR_INCLUDES="-isystem $headers" run_tests >> "$results/kselftest.txt" 2>&1
echo "kselftest exit: $?"
[ -n "$old_stdout" ] && ln -sfn "$old_stdout" /dev/stdout
if [ -n "$echo_bin" ]; then
	"$(dirname "$0")/guest-tls.sh" "$results" "$echo_bin"
	echo "tls exit: $?"
fi
dmesg | grep -E "BUG:|WARNING:|Oops|Kernel panic|cut here|kmemleak|UBSAN|KASAN" \
	> "$results/dmesg-problems.txt"
dmesg > "$results/dmesg-after.txt"
