# SPDX-License-Identifier: GPL-2.0
# Common settings for the QUIC kernel developer scripts (sourced, not run).
#
# Everything built or fetched lives under $QUIC_WORK, outside the clone:
#   $QUIC_WORK/toolchain   bindgen, virtme-ng venv, apt state
#   $QUIC_WORK/src         pristine Debian linux-source-7.3 (extracted once)
#   $QUIC_WORK/tree        pristine + overlay + patches (kept for incremental builds)
#   $QUIC_WORK/build       O= build directory
#   $QUIC_WORK/results     KTAP/TAP written by the guest

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
KDEV="$REPO/tools/quic/kdev"
QUIC_WORK=${QUIC_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/linux-quic}
# Toolchain and pristine source can be shared between work directories
# (e.g. a second tree for parallel work): QUIC_TOOLCHAIN, QUIC_SRC.
TOOLCHAIN="${QUIC_TOOLCHAIN:-$QUIC_WORK/toolchain}"
SRC_ROOT="${QUIC_SRC:-$QUIC_WORK/src}"
TREE="$QUIC_WORK/tree"
BUILD="$QUIC_WORK/build"
RESULTS="$QUIC_WORK/results"
# The work directory exists even when the toolchain and source live
# elsewhere.
mkdir -p "$QUIC_WORK"

# Kernel build environment: Debian's rustc-web with its matching std source,
# clang/LLVM 19, bindgen 0.72 from crates.io. rustup's toolchain must not be
# picked up, so ~/.cargo/bin is dropped from PATH for kernel make.
RUST_VERSION=1.96.0
KPATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v '/\.cargo/bin$' | paste -sd:)
KMAKE=(make -C "$TREE" O="$BUILD" LLVM=-19
       RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
       RUSTFMT=/usr/bin/rustfmt CLIPPY_DRIVER=/usr/bin/clippy-driver
       BINDGEN="$TOOLCHAIN/bin/bindgen"
       RUST_LIB_SRC=/usr/src/rustc-$RUST_VERSION/library
       -j"$(nproc)")
export LIBCLANG_PATH=/usr/lib/llvm-19/lib

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

kmake() { PATH="$KPATH" "${KMAKE[@]}" "$@"; }

# The directories of the repo that are copied into the kernel tree as-is.
OVERLAY_DIRS=(net/quic include/uapi/linux/quic.h include/net/quic rust/kernel/net
              rust/kernel/crypto.rs rust/kernel/crypto rust/kernel/random.rs rust/helpers Documentation/networking/quic.rst
              samples/rust/quic tools/testing/selftests/net/quic)
