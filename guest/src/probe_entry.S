.globl pvh_start
.text
pvh_start: call probe_main
