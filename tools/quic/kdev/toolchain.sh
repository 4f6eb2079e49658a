#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install the kernel toolchain (idempotent). Needs root and the machine's
# Debian registries; never names a mirror: suites are derived from the
# machine's own debian.sources.
source "$(dirname "$0")/lib.sh"

mkdir -p "$TOOLCHAIN/apt"
RUST_DEB=1.96.0+dfsg1-1~deb12u2

have_all() {
	dpkg-query -W -f='${Status} ${Version}\n' rustc-web 2>/dev/null | grep -q "installed $RUST_DEB" &&
	[ -d /usr/src/rustc-$RUST_VERSION/library ] &&
	command -v clang-19 >/dev/null && command -v ld.lld-19 >/dev/null &&
	command -v clippy-driver >/dev/null &&
	command -v qemu-system-x86_64 >/dev/null && command -v udevadm >/dev/null &&
	[ -x "$TOOLCHAIN/bin/bindgen" ] && [ -x "$TOOLCHAIN/venv/bin/vng" ] &&
	command -v flex >/dev/null && command -v bison >/dev/null && command -v bc >/dev/null
}

if have_all; then
	log "toolchain already installed"
	exit 0
fi

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

# A private apt configuration: the machine's main-archive stanza, with the
# suites we need. apt-get then resolves only against those.
sources=/etc/apt/sources.list.d/debian.sources
[ -r "$sources" ] || die "no $sources to derive package suites from"
private="$TOOLCHAIN/apt"
mkdir -p "$private/sources.d" "$private/lists/partial"
# First stanza = main archive; the security stanza is kept as is.
awk 'BEGIN{RS="";ORS="\n\n"} /debian-security/ {print; next} !done {print; done=1}' \
	"$sources" > "$private/sources.d/base.sources"
awk 'BEGIN{RS="";ORS="\n\n"} !/debian-security/ && !done {print; done=1}' "$sources" |
	sed -E 's/^Suites:.*/Suites: bookworm-backports/' > "$private/sources.d/backports.sources"
APT=(-o Dir::Etc::SourceParts="$private/sources.d" -o Dir::Etc::SourceList=/dev/null
     -o Dir::State::Lists="$private/lists" -o APT::Sandbox::User=root)

log "apt-get update (private sources)"
$SUDO apt-get "${APT[@]}" update -qq

systemd_ver=$(dpkg-query -W -f='${Version}' systemd 2>/dev/null || true)
pkgs=(rustc-web="$RUST_DEB" cargo-web="$RUST_DEB" libstd-rust-web-dev="$RUST_DEB"
      rust-web-src="$RUST_DEB" rustfmt-web="$RUST_DEB" rust-web-clippy="$RUST_DEB"
      clang-19 lld-19 llvm-19 libclang-19-dev
      build-essential flex bison bc cpio rsync kmod libelf-dev libssl-dev
      python3-venv xz-utils busybox-static iproute2 openssl)
if [ -n "$systemd_ver" ]; then
	pkgs+=(udev="$systemd_ver" libudev1="$systemd_ver")
else
	pkgs+=(udev)
fi
log "apt-get install: ${pkgs[*]}"
apt_install() {
	# A postinst that fails on the first pass (seen with udev in a chroot)
	# succeeds after dpkg --configure -a: retry once before giving up.
	$SUDO apt-get "${APT[@]}" install -y -qq --no-install-recommends "$@" >/dev/null ||
		{ $SUDO dpkg --configure -a >/dev/null;
		  $SUDO apt-get "${APT[@]}" install -y -qq --no-install-recommends "$@" >/dev/null; }
}
apt_install "${pkgs[@]}"
log "apt-get install qemu-system-x86 (bookworm-backports, matches qemu-utils)"
apt_install -t bookworm-backports qemu-system-x86

if [ ! -x "$TOOLCHAIN/bin/bindgen" ]; then
	log "cargo install bindgen-cli 0.72.1"
	cargo install --locked bindgen-cli --version 0.72.1 --root "$TOOLCHAIN" -q
fi
if [ ! -x "$TOOLCHAIN/venv/bin/vng" ]; then
	log "virtme-ng into $TOOLCHAIN/venv"
	python3 -m venv "$TOOLCHAIN/venv"
	"$TOOLCHAIN/venv/bin/pip" install -q virtme-ng
fi
have_all || die "toolchain incomplete after install"
log "toolchain ready: $(/usr/bin/rustc --version), $("$TOOLCHAIN/bin/bindgen" --version), $(clang-19 --version | head -1)"
