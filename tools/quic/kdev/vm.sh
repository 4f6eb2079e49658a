#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot the built kernel with virtme-ng and run a command in the guest:
#   vm.sh [--rwdir DIR]... -- 'command'
# The host filesystem is visible read-only in the guest; --rwdir makes a
# directory writable. Uses KVM when it works here, TCG otherwise (stock
# kernels stall under some nested KVM setups): the first boot probes KVM
# once and the verdict is cached in $QUIC_WORK/accel. Prints the accelerator.
source "$(dirname "$0")/lib.sh"

kernel="$BUILD/arch/x86/boot/bzImage"
[ -f "$kernel" ] || die "no kernel at $kernel: run build.sh first"
VNG="$TOOLCHAIN/venv/bin/vng"
rw=()
while [ $# -gt 0 ]; do
	case "$1" in
	--rwdir) rw+=(--rwdir "$2"); shift 2 ;;
	--) shift; break ;;
	*) die "usage: $0 [--rwdir DIR]... -- command" ;;
	esac
done
[ $# -ge 1 ] || die "no guest command"

verbose=()
[ "${QUIC_VM_VERBOSE:-0}" = 1 ] && verbose=(--verbose)  # the kernel console too
vng_run() { # accel-args... -- cmd
	PATH="$TOOLCHAIN/venv/bin:$KPATH" "$VNG" -r "$kernel" --cpus 2 --memory 2G --user root \
		"${verbose[@]}" "${rw[@]}" "$@" < /dev/null
}

accel_file="$QUIC_WORK/accel"
if [ ! -s "$accel_file" ]; then
	accel=tcg
	if [ -w /dev/kvm ] && [ "${QUIC_FORCE_TCG:-0}" != 1 ]; then
		log "probing KVM (a guest that does not answer in 60 s means TCG)"
		if out=$(PATH="$TOOLCHAIN/venv/bin:$KPATH" timeout 60 "$VNG" -r "$kernel" --cpus 1 --memory 512M --user root -- echo quic-kvm-ok 2>/dev/null) &&
		   grep -q quic-kvm-ok <<<"$out"; then
			accel=kvm
		fi
	fi
	echo "$accel" > "$accel_file"
fi
accel=$(cat "$accel_file")
[ "${QUIC_FORCE_TCG:-0}" = 1 ] && accel=tcg
log "booting $(basename "$kernel") from $BUILD with accelerator: $accel"
if [ "$accel" = kvm ]; then
	vng_run -- "$@"
else
	vng_run --disable-kvm -- "$@"
fi
