#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the QUIC kernel (Linux 7.3 + this patch series) and show QUIC working
# in a VM: the IPPROTO_QUIC socket lifecycle, then a QUIC echo between two
# kernel QUIC sockets whose TLS 1.3 handshake runs in userspace (rustls,
# tools/quic/handshake).
source "$(dirname "$0")/kdev/lib.sh"

"$KDEV/toolchain.sh"
"$KDEV/fetch-source.sh"
"$KDEV/assemble.sh"
"$KDEV/configure.sh"
"$KDEV/build.sh" > "$QUIC_WORK/demo-build.log" 2>&1 ||
	{ tail -40 "$QUIC_WORK/demo-build.log"; die "kernel build failed (log: $QUIC_WORK/demo-build.log)"; }
log "kernel built: $(cat "$SRC_ROOT/.version") + QUIC"

mkdir -p "$QUIC_WORK/demo"
cc -O2 -Wall -isystem "$BUILD/usr-headers/include" -o "$QUIC_WORK/demo/quic_lifecycle" \
	"$REPO/tools/quic/demo/quic_lifecycle.c"
log "building quic-echo (the userspace TLS handshake, rustls)"
echo_bin=$("$KDEV/build-echo.sh") || die "building quic-echo failed"
"$KDEV/vm.sh" -- "$QUIC_WORK/demo/quic_lifecycle && $REPO/tools/quic/demo/guest-demo.sh $echo_bin"
