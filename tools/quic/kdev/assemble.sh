#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Assemble the kernel tree: pristine 7.3 source + the repo's overlay (new
# files at their in-tree paths) + the patch series (edits to existing files).
#
# The tree is kept between runs so that `make O=` stays incremental: files
# are only rewritten when their content changes (rsync --checksum), and files
# the previous run added or patched but this run does not are restored to
# pristine. A patch that does not apply fails the run loudly.
source "$(dirname "$0")/lib.sh"

PRISTINE="$SRC_ROOT/linux"
[ -d "$PRISTINE" ] || die "no kernel source: run fetch-source.sh first"
MANIFEST="$TREE/.quic-managed"

if [ ! -f "$TREE/Makefile" ]; then
	log "creating $TREE from pristine source"
	rm -rf "$TREE"
	cp -a "$PRISTINE" "$TREE"
	: > "$MANIFEST"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# 1. Overlay: new files only. An overlay file that exists in the pristine
#    tree would silently replace upstream code: that must be a patch instead.
: > "$stage/.files"
for p in "${OVERLAY_DIRS[@]}"; do
	[ -e "$REPO/$p" ] || continue
	(cd "$REPO" && git ls-files --cached --others --exclude-standard -- "$p") |
	while read -r f; do
		[ -f "$REPO/$f" ] || continue
		[ -e "$PRISTINE/$f" ] && die "overlay file $f exists upstream: make it a patch"
		mkdir -p "$stage/tree/$(dirname "$f")"
		cp "$REPO/$f" "$stage/tree/$f"
		echo "$f" >> "$stage/.files"
	done
done

# 2. Patches, in series order, applied to pristine copies of what they touch.
series="$REPO/patches/series"
if [ -f "$series" ]; then
	while read -r patch; do
		case "$patch" in ''|'#'*) continue ;; esac
		pf="$REPO/patches/$patch"
		[ -f "$pf" ] || die "patch listed in series is missing: $patch"
		grep -E '^\+\+\+ b/' "$pf" | sed -E 's#^\+\+\+ b/##; s#\t.*##' > "$stage/.touched"
		while read -r f; do
			if [ ! -e "$stage/tree/$f" ] && [ -e "$PRISTINE/$f" ]; then
				mkdir -p "$stage/tree/$(dirname "$f")"
				cp "$PRISTINE/$f" "$stage/tree/$f"
			fi
			echo "$f" >> "$stage/.files"
		done < "$stage/.touched"
		if ! patch -d "$stage/tree" -p1 -N -s --no-backup-if-mismatch -r - < "$pf"; then
			die "patch does not apply to $(cat "$SRC_ROOT/.version"): $patch"
		fi
	done < "$series"
fi
sort -u "$stage/.files" -o "$stage/.files"

# 3. Restore files managed last time but not now.
comm -23 <(sort -u "$MANIFEST") "$stage/.files" | while read -r f; do
	if [ -e "$PRISTINE/$f" ]; then
		cp "$PRISTINE/$f" "$TREE/$f"  # new mtime: make sees the change
	else
		rm -f "$TREE/$f"
	fi
done

# 4. Copy changed content only, so unchanged files keep their mtime.
rsync -rc "$stage/tree/" "$TREE/"
cp "$stage/.files" "$MANIFEST"
log "tree assembled: $(wc -l < "$MANIFEST") files from the repo in $TREE"
