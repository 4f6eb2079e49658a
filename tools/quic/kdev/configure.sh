#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Configure $BUILD: tinyconfig + quic.config, then verify every requested
# option really is set (Kconfig silently drops options whose dependencies
# are not met). Reconfigures only when the fragment or the Kconfig files of
# the tree changed, so incremental builds stay incremental.
source "$(dirname "$0")/lib.sh"

frag="$KDEV/quic.config"
mkdir -p "$BUILD"
sum=$(cat "$frag" "$TREE/net/quic/Kconfig" "$TREE/net/Kconfig" | sha256sum | cut -d' ' -f1)
if [ -f "$BUILD/.config" ] && [ "$(cat "$BUILD/.quic-config-sum" 2>/dev/null)" = "$sum" ]; then
	log "config up to date"
else
	log "configuring: tinyconfig + $(basename "$frag")"
	kmake -s tinyconfig >/dev/null
	(cd "$BUILD" && PATH="$KPATH" "$TREE/scripts/kconfig/merge_config.sh" -m -O "$BUILD" \
		"$BUILD/.config" "$frag" >/dev/null)
	kmake -s olddefconfig >/dev/null
	echo "$sum" > "$BUILD/.quic-config-sum"
fi

missing=0
while read -r line; do
	case "$line" in
	CONFIG_*=*)
		if ! grep -qx "$line" "$BUILD/.config"; then
			echo "error: $line requested but .config has: $(grep -E "^(# )?${line%%=*}[= ]" "$BUILD/.config" || echo "nothing")" >&2
			missing=1
		fi ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }; opt=${opt%% *}
		if grep -q "^$opt=y" "$BUILD/.config"; then
			echo "error: $opt must not be set" >&2; missing=1
		fi ;;
	esac
done < "$frag"
[ "$missing" = 0 ] || { rm -f "$BUILD/.quic-config-sum"; die "configuration incomplete (see above)"; }
log "all $(grep -c '^CONFIG_.*=y' "$frag") requested options are set"
