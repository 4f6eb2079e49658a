#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds quic-echo (tools/quic/handshake) for the guest, which shares the
# host's root file system; prints its path.
source "$(dirname "$0")/lib.sh"
cd "$REPO/tools/quic" &&
	cargo build -q -p quic-handshake --bin quic-echo >&2 &&
	echo "${CARGO_TARGET_DIR:-$REPO/tools/quic/target}/debug/quic-echo"
