#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# checkpatch.pl on every patch of the series and on our new C sources.
source "$(dirname "$0")/lib.sh"
cp="$TREE/scripts/checkpatch.pl"
rc=0
for p in $(grep -v '^#' "$REPO/patches/series"); do
	echo "== $p"
	# LEADING_SPACE: include/uapi/linux/in.h indents its enum with two
	# spaces; the patch keeps the file's style.
	perl "$cp" --no-tree --strict --ignore FILE_PATH_CHANGES,LEADING_SPACE "$REPO/patches/$p" || rc=1
done
cd "$REPO"
for f in $(git ls-files '*.c' '*.h' | grep -v '^tools/quic/'); do
	echo "== $f"
	perl "$cp" --no-tree --strict -f "$f" || rc=1
done
exit $rc
