"""TAP for the script suites' Python checks (tests/*/*.t run with cwd = the
repository root and add tests/lib to sys.path): check() records one result,
finish() prints the plan and the lines; sections() splits a machine's output
into the parts a suite bracketed with "=== BEGIN name" / "=== END name rc=N"."""
import re

results = []


def check(ok, what):
    results.append((bool(ok), what))
    return bool(ok)


def sections(text):
    """{name: (text between the markers, rc)} for every bracketed part."""
    return {m.group(1): (m.group(2), int(m.group(3)))
            for m in re.finditer(r"=== BEGIN (\S+)\n(.*?)=== END \1 rc=(\d+)", text, re.S)}


def finish():
    print(f"1..{len(results)}")
    for i, (ok, what) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {what}")
