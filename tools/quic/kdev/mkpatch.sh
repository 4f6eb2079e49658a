#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Regenerate a patch of the series from edits made in the assembled tree:
#   BODY="why" mkpatch.sh 0002-net-quic-build-hooks "net: quic: hook into Kconfig and Makefile" net/Kconfig net/Makefile
# Writes patches/<name>.patch (pristine vs $TREE for the given files) and adds
# it to patches/series if it is not listed yet.
source "$(dirname "$0")/lib.sh"
[ $# -ge 3 ] || die "usage: $0 NAME SUBJECT FILE..."
name=$1 subject=$2
shift 2
out="$REPO/patches/$name.patch"
mkdir -p "$REPO/patches"
header=$(mktemp)
trap 'rm -f "$header"' EXIT
if [ -f "$out" ] && grep -qx -- '---' "$out"; then
	# Keep the hand-written message of an existing patch.
	sed '/^---$/q' "$out" > "$header"
else
	author=$(git -C "$REPO" config user.name) email=$(git -C "$REPO" config user.email)
	printf 'From: %s <%s>\nSubject: [PATCH] %s\n\n%s\n\nSigned-off-by: %s <%s>\n---\n' \
		"$author" "$email" "$subject" "${BODY:-$subject.}" "$author" "$email" > "$header"
fi
# The patch's base is pristine + the patches listed before it in the series,
# so several patches may edit one file.
base=$(mktemp -d)
trap 'rm -rf "$header" "$base"' EXIT
for f in "$@"; do
	mkdir -p "$base/$(dirname "$f")"
	[ -e "$SRC_ROOT/linux/$f" ] && cp "$SRC_ROOT/linux/$f" "$base/$f"
done
while read -r p; do
	case "$p" in ''|'#'*) continue ;; esac
	[ "$p" = "$name.patch" ] && break
	for f in "$@"; do
		if grep -q "^+++ b/$f\(\s\|$\)" "$REPO/patches/$p"; then
			filterdiff_out=$(mktemp)
			# Apply only this file's hunks of the earlier patch.
			awk -v f="$f" '/^--- a\//{keep=($0 ~ "^--- a/" f "([ \t]|$)")} /^diff /{keep=0} keep' \
				"$REPO/patches/$p" > "$filterdiff_out"
			patch -s -d "$base" -p1 < "$filterdiff_out" || die "cannot stack on $p for $f"
			rm -f "$filterdiff_out"
		fi
	done
done < <(cat "$REPO/patches/series" 2>/dev/null)
{
	cat "$header"
	for f in "$@"; do
		diff -u --label "a/$f" --label "b/$f" "$base/$f" "$TREE/$f" || true
	done
} > "$out"
grep -q '^+++ ' "$out" || die "no changes in $*"
grep -qx "$name.patch" "$REPO/patches/series" 2>/dev/null || echo "$name.patch" >> "$REPO/patches/series"
log "wrote $out"
