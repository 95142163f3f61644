"""TAP for the script suites' Python checks (tests/*/*.t run with cwd = the
repository root and add tests/lib to sys.path): check() records one result,
finish() prints the plan and the lines; sections() splits a machine's output
into the parts a suite bracketed with "=== BEGIN name" / "=== END name rc=N"."""
import re

results = []


def check(ok, what, todo=None):
    """todo: a known bug, named; a failure is then printed "not ok ... # TODO
    <todo>" (counted as skipped by tests/run-all.sh, shown in every log)."""
    results.append((bool(ok), what, todo))
    return bool(ok)


def sections(text):
    """{name: (text between the markers, rc)} for every bracketed part."""
    return {m.group(1): (m.group(2), int(m.group(3)))
            for m in re.finditer(r"=== BEGIN (\S+)\n(.*?)=== END \1 rc=(\d+)", text, re.S)}


OOPS = re.compile(r"BUG:|Oops|double fault|general protection|Kernel panic|exc_debug_kernel|soft lockup|timeout:")


def show_failed_boot(name, text, rc, tail=8):
    """TAP comments for a guest boot that did not end as expected: its exit
    status, its first oops-like lines and its last lines (the VMM's
    unhandled-port counts left out), so that a CI log says what happened."""
    lines = text.splitlines()
    bad = [l[:200] for l in lines if OOPS.search(l)][:3]
    print(f"# {name}: rc {rc}, {len(lines)} lines of output; first oops lines: {bad or 'none'}; the last lines:")
    for l in [l for l in lines if "unhandled port" not in l][-tail:]:
        print(f"#   {l[:200]}")


def finish():
    print(f"1..{len(results)}")
    for i, (ok, what, todo) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {what}{' # TODO ' + todo if todo and not ok else ''}")
