#!/usr/bin/env bash
# Test-side extraction of the ELF vmlinux from a bzImage with the Debian
# command-line decompressors (the reference pvhboot's own extractor is checked
# against). Reads the boot protocol's payload_offset/payload_length fields.
# Usage: extract-vmlinux.sh VMLINUZ OUT
set -euo pipefail
in=$1 out=$2
u8() { od -An -tu1 -j "$1" -N1 "$in" | tr -d ' '; }
u32() { od -An -tu4 -j "$1" -N4 "$in" | tr -d ' '; }
setup_sects=$(u8 0x1f1); [ "$setup_sects" -eq 0 ] && setup_sects=4
base=$(( (setup_sects + 1) * 512 ))
off=$(( base + $(u32 0x248) )) len=$(u32 0x24c)
magic=$(od -An -tx1 -j "$off" -N4 "$in" | tr -d ' ')
payload() { dd if="$in" bs=64K iflag=skip_bytes,count_bytes skip="$off" count="${1:-$len}" status=none; }
case "$magic" in
    02214c18) payload $((len - 4)) | lz4 -dc >"$out" ;;  # legacy frames + size_append
    fd377a58) payload | xz -dc >"$out" 2>/dev/null || [ -s "$out" ] ;;
    1f8b*) payload | gzip -dc >"$out" 2>/dev/null || [ -s "$out" ] ;;
    28b52ffd) payload $((len - 4)) | zstd -dc >"$out" ;;       # size_append after the frame
    *) echo "extract-vmlinux: unknown payload magic $magic at $off in $in" >&2; exit 1 ;;
esac
[ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || { echo "extract-vmlinux: result is not ELF" >&2; exit 1; }
