#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The stack frame check of the kernel object (stack-frames.py on quic.o),
# run on the host: builds the protocol core's unit tests (the KUnit suites)
# with the `stack` profile (release with debug assertions, close to the
# kernel's code) and reports every function of the core, test or not,
# whose frame exceeds LIMIT bytes (default 2048). The core's generic code
# is also checked as instantiated with the RustCrypto provider by the
# connection integration tests. Exits 1 if any frame is over the limit.
#   host-stack-frames.sh [LIMIT]
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-2048}
# v0 symbols, as in the kernel: they name the generic arguments, so that
# test bodies inlined into `FnOnce::call_once::<closure>` and std code
# instantiated with the core's types still match the core's name.
export RUSTFLAGS="${RUSTFLAGS:-} -Csymbol-mangling-version=v0"
executables() { # cargo test arguments...
	cargo test --profile stack -p quic-protocol --no-run --message-format=json "$@" |
		python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])'
}
rc=0
for exe in $(executables --lib); do
	echo "== $exe (unit tests: the KUnit suites)"
	python3 kdev/stack-frames.py --match 'quic_protocol|kernel::alloc' "$exe" "$limit" || rc=1
done
for exe in $(executables --test conn_handshake); do
	echo "== $exe (the core with RustCrypto)"
	python3 kdev/stack-frames.py --match '^(<)?quic_protocol::net_quic' "$exe" "$limit" || rc=1
done
exit $rc
