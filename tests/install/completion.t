#!/usr/bin/env bash
# The bash completion (completion/pvhboot, issue 18), sourced into bash and
# asked as bash asks it (COMP_WORDS, COMP_CWORD): the verbs, run's and
# inspect's options, the values of --serial/--console/--load, file names for
# KERNEL and --initrd; and its list of run's options is the one
# `pvhboot run --help` prints (every --option, and the QEMU spellings of
# pvhboot's own options), so the two cannot drift apart.
set -u
cd "$(dirname "$0")/../.."
bin=build/san/pvhboot
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
touch "$tmp/vmlinuz-test" "$tmp/initrd-test.img"
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }
# complete WORDS...: the words bash would offer for the last word
complete_words() {
    bash -c '. completion/pvhboot; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _pvhboot; printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$@"
}
cases=(
  "the verbs|inspect restore run serve |pvhboot|"
  "a verb from its start|restore run |pvhboot|r"
  "run's options from --me|--mem --mem-file |pvhboot|run|k|--me"
  "run's options after -kernel|--config-file --console |pvhboot|-kernel|k|--con"
  "QEMU spelling -app|-append |pvhboot|-kernel|k|-app"
  "inspect's options|--help --json |pvhboot|inspect|--"
  "restore's options|--mem-diff --mem-file |pvhboot|restore|s.state|--mem"
  "--serial's values|file: none stdio |pvhboot|run|k|--serial|"
  "--console's values|serial virtio |pvhboot|run|k|--console|"
  "--load's values|copy map |pvhboot|run|k|--load|"
  "serve's options|--api-sock |pvhboot|serve|--api"
  "top-level options from --ve|--verbose --version |pvhboot|--ve"
  "run's --vsock from --vs|--vsock |pvhboot|run|k|--vs"
  "a kernel file after run|$tmp/vmlinuz-test |pvhboot|run|$tmp/vmlin"
  "a file after --initrd|$tmp/initrd-test.img |pvhboot|run|k|--initrd|$tmp/initrd-t"
)
echo "1..$(( ${#cases[@]} + 3 ))"
for c in "${cases[@]}"; do
    IFS='|' read -r -a f <<<"$c"
    what=${f[0]} want=${f[1]}
    words=("${f[@]:2}")
    [[ $c == *"|" ]] && words+=("")
    got=$(complete_words "${words[@]}")
    if [ "$got" = "$want" ]; then ok "$what: '${words[*]}' -> $got"; else notok "$what: '${words[*]}' -> '$got' (want '$want')"; fi
done
# run's options: --help's and the completion's
help_long=$($bin run --help | grep -o -- '\(^\|[ ([|,]\)--[a-z][a-z-]*' | sed 's/^[ ([|,]//' | sort -u | tr '\n' ' ')
comp_long=$(complete_words pvhboot run k -- | tr ' ' '\n' | grep -- '^--' | sort -u | tr '\n' ' ')
if [ "$help_long" = "$comp_long" ]; then ok "the completion's --options are run --help's: $comp_long"
else notok "run --help lists '$help_long', the completion '$comp_long'"; fi
# restore's options: --help's and the completion's
help_long=$($bin restore --help | grep -o -- '\(^  \|, \)--[a-z][a-z-]*' | sed 's/^[ ,]*//' | sort -u | tr '\n' ' ')
comp_long=$(complete_words pvhboot restore s.state -- | tr ' ' '\n' | grep -- '^--' | sort -u | tr '\n' ' ')
if [ "$help_long" = "$comp_long" ]; then ok "the completion's restore --options are restore --help's: $comp_long"
else notok "restore --help lists '$help_long', the completion '$comp_long'"; fi
qemu_own=$($bin run --help | grep -o -- '(-[a-z]*' | tr -d '(' | sort -u | tr '\n' ' ')
comp_short=$(complete_words pvhboot run k - | tr ' ' '\n' | grep -v -- '^--' | sort -u | tr '\n' ' ')
missing=
for o in $qemu_own -kernel; do [[ " $comp_short " == *" $o "* ]] || missing="$missing $o"; done
if [ -z "$missing" ]; then ok "the completion has the QEMU spellings of pvhboot's options: $qemu_own-kernel"
else notok "the completion lacks$missing"; fi
