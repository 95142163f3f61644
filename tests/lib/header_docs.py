"""Lists the functions of C headers that have no comment saying what they do:
a prototype (at column 0, naming a pvh_ function) must follow a comment, or
carry one on its line; prototypes grouped under one comment, continuation
lines and forward declarations between them are fine. Prints
"FILE:LINE: prototype" per undocumented function, then "N undocumented".
Usage: header_docs.py HEADER..."""
import re, sys
bad = []
for path in sys.argv[1:]:
    lines = open(path).read().split("\n")
    for i, l in enumerate(lines):
        if not re.match(r"^(?!static|typedef|struct \w+ \{|enum \w+ \{|#)[a-z].*\bpvh_\w+\s*\(", l):
            continue
        j = i - 1
        while j >= 0 and (lines[j].startswith((" ", "\t")) and not lines[j].strip().startswith(("*", "/*")) or
                          re.match(r"^[a-z].*\);\s*$", lines[j]) or re.match(r"^[a-z].*,\s*$", lines[j]) or
                          re.match(r"^(struct \w+;|#define )", lines[j])):
            j -= 1
        prev = lines[j].strip() if j >= 0 else ""
        if not (prev.endswith("*/") or "/*" in l):
            bad.append(f"{path}:{i+1}: {l.strip()[:100]}")
print("\n".join(bad)); print(len(bad), "undocumented")
