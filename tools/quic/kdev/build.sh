#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the kernel incrementally in $BUILD (outside the clone), then export
# the uapi headers for userspace test programs. Pass make targets/options
# through, e.g. `build.sh CLIPPY=1`.
source "$(dirname "$0")/lib.sh"

# One kernel build at a time on the machine: work dirs that share a
# toolchain (QUIC_TOOLCHAIN) share the lock.
lock="$TOOLCHAIN/.build.lock"
exec 9>"$lock"
flock -n 9 || { log "another kernel build is running; waiting"; flock 9; }

start=$(date +%s)
log "building $(cat "$SRC_ROOT/.version") in $BUILD"
kmake "$@" bzImage
kmake -s headers_install INSTALL_HDR_PATH="$BUILD/usr-headers" >/dev/null
log "built $BUILD/arch/x86/boot/bzImage in $(( $(date +%s) - start )) s"
