# Sourced by suites, on the host and inside the emulated machine (POSIX sh,
# busybox ash): run a guest until a line appears on its console, then end it,
# for kernels that never end by themselves (tboot halts, GNU Mach panics).
#
#   pvhboot_until PATTERN MAXSEC OUT ./pvhboot run KERNEL [options]
#       stdin is fed Ctrl-A x once OUT holds PATTERN (or after MAXSEC
#       seconds, saying so on stderr): pvhboot ends with status 0 and prints
#       its --verbose report.
#   qemu_until PATTERN MAXSEC OUT qemu-system-x86_64 [options]
#       QEMU is killed once OUT holds PATTERN (or after MAXSEC seconds);
#       the status is 0 when the pattern was seen, else 124.
# OUT receives the program's stdout and stderr.

# Polls OUT every 0.2 s for PATTERN, at most MAXSEC seconds; 0 when seen,
# a second after (the guest may be in the middle of the line that holds it:
# ended at once, tboot's "shutdown_system() called for shutdow" was all a
# check found, 1 run in 6 on 2026-11-28).
until_line_wait() {
    _pat=$1 _max=$2 _out=$3 _i=0
    while [ "$_i" -lt $((_max * 5)) ]; do
        grep -q -- "$_pat" "$_out" 2>/dev/null && { sleep 1; return 0; }
        sleep 0.2
        _i=$((_i + 1))
    done
    return 1
}

pvhboot_until() {
    _pat=$1 _max=$2 _out=$3
    shift 3
    : >"$_out"
    { until_line_wait "$_pat" "$_max" "$_out" || echo "until-line: '$_pat' not seen in $_max s" >&2
      printf '\001x'; } | "$@" >"$_out" 2>&1
}

qemu_until() {
    _pat=$1 _max=$2 _out=$3
    shift 3
    "$@" >"$_out" 2>&1 </dev/null &
    _pid=$!
    if until_line_wait "$_pat" "$_max" "$_out"; then _rc=0; else _rc=124; fi
    kill "$_pid" 2>/dev/null
    wait "$_pid" 2>/dev/null
    return $_rc
}
