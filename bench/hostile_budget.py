#!/usr/bin/env python3
"""Measures the resource budget on the hostile corpus: every command of every case in
fixtures/hostile/*/cases.json, run with a built latte (release by default), its peak RSS and
wall time taken from wait4's rusage. Prints one row per command and the worst input of each
class, the figures docs/RELIABILITY.md quotes.

    python3 bench/hostile_budget.py [PATH/TO/latte]
"""
import json, os, shutil, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LATTE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/release/latte"))
BUDGET_RSS = 1 << 30
BUDGET_SECONDS = 10.0


def rusage_of(args, cwd):
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.chdir(cwd)
        fd = os.open(os.devnull, os.O_RDWR)
        os.dup2(fd, 0); os.dup2(fd, 1); os.dup2(fd, 2)
        os.execv(LATTE, [LATTE] + args)
    deadline = start + BUDGET_SECONDS * 3
    while True:
        wpid, status, usage = os.wait4(pid, os.WNOHANG)
        if wpid == pid:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
        time.sleep(0.002)
    return os.waitstatus_to_exitcode(status), time.monotonic() - start, usage.ru_maxrss * 1024


def main():
    if not os.access(LATTE, os.X_OK):
        sys.exit(f"no latte at {LATTE}: run `swift build -c release --product latte` first")
    rows = []
    hostile = os.path.join(ROOT, "fixtures/hostile")
    for area in sorted(os.listdir(hostile)):
        cases = os.path.join(hostile, area, "cases.json")
        if not os.path.exists(cases):
            continue
        for case in json.load(open(cases))["cases"]:
            for command in case["commands"]:
                work = tempfile.mkdtemp(prefix="latte-budget-")
                args = [a.replace("{file}", os.path.join(hostile, area, case["file"]))
                         .replace("{dir}", os.path.join(hostile, area))
                         .replace("{out}", os.path.join(work, "out")) for a in command]
                code, seconds, rss = rusage_of(args, work)
                shutil.rmtree(work, ignore_errors=True)
                rows.append((case["class"], f"{area}/{case['name']}", command[0], code, rss, seconds))
    print(f"latte: {LATTE}")
    print(f"{'class':<15} {'case':<44} {'command':<8} {'exit':>4} {'peak RSS':>10} {'time':>8}")
    for cls, name, cmd, code, rss, sec in rows:
        print(f"{cls:<15} {name:<44} {cmd:<8} {code:>4} {rss / 2**20:>7.1f} MiB {sec:>7.3f}s")
    print()
    print("worst input of each class")
    over = 0
    for cls in sorted({r[0] for r in rows}):
        mine = [r for r in rows if r[0] == cls]
        m = max(mine, key=lambda r: r[4])
        t = max(mine, key=lambda r: r[5])
        print(f"{cls:<15} memory {m[4] / 2**20:7.1f} MiB ({m[1]} {m[2]})   time {t[5]:6.3f} s ({t[1]} {t[2]})")
        over += sum(1 for r in mine if r[4] > BUDGET_RSS or r[5] > BUDGET_SECONDS or r[3] not in (0, 1, 64))
    print(f"\n{len(rows)} runs, {over} over the budget (1 GiB, 10 s) or not exiting 0, 1 or 64 (a usage error)")
    sys.exit(1 if over else 0)


if __name__ == "__main__":
    main()
