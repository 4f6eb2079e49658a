#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fetch Debian's linux-source-7.3 (whatever 7.3.y trixie-backports carries)
# and extract it once under $QUIC_WORK/src. Prints the version used.
source "$(dirname "$0")/lib.sh"

stamp="$SRC_ROOT/.version"
if [ -s "$stamp" ] && [ -d "$SRC_ROOT/linux" ]; then
	log "kernel source present: $(cat "$stamp")"
	cat "$stamp"
	exit 0
fi

private="$TOOLCHAIN/apt-src"
mkdir -p "$private/sources.d" "$private/lists/partial" "$private/dl"
awk 'BEGIN{RS="";ORS="\n\n"} !/debian-security/ && !done {print; done=1}' \
	/etc/apt/sources.list.d/debian.sources |
	sed -E 's/^Suites:.*/Suites: trixie-backports/' > "$private/sources.d/src.sources"
APT=(-o Dir::Etc::SourceParts="$private/sources.d" -o Dir::Etc::SourceList=/dev/null
     -o Dir::State::Lists="$private/lists" -o APT::Sandbox::User=root)
log "apt-get update (trixie-backports, private)"
apt-get "${APT[@]}" update -qq
ver=$(apt-cache "${APT[@]}" show linux-source-7.3 2>/dev/null | awk '/^Version:/{print $2; exit}')
[ -n "$ver" ] || die "linux-source-7.3 not found in trixie-backports"
log "downloading linux-source-7.3 $ver"
(cd "$private/dl" && rm -f linux-source-7.3_*.deb && apt-get "${APT[@]}" download -q linux-source-7.3)
deb=$(ls "$private/dl"/linux-source-7.3_*.deb)

rm -rf "$SRC_ROOT.tmp"
mkdir -p "$SRC_ROOT.tmp/deb"
dpkg-deb -x "$deb" "$SRC_ROOT.tmp/deb"
tar -C "$SRC_ROOT.tmp" -xf "$SRC_ROOT.tmp/deb/usr/src/linux-source-7.3.tar.xz"
mv "$SRC_ROOT.tmp/linux-source-7.3" "$SRC_ROOT.tmp/linux"
rm -rf "$SRC_ROOT.tmp/deb" "$deb"
kver=$(make -s -C "$SRC_ROOT.tmp/linux" kernelversion)
echo "linux-source-7.3 $ver (kernel $kver)" > "$SRC_ROOT.tmp/.version"
rm -rf "$SRC_ROOT"
mv "$SRC_ROOT.tmp" "$SRC_ROOT"
cat "$stamp"
