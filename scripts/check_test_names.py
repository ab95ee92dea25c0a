#!/usr/bin/env python3
"""Fails when a Catch2 test name holds a character CTest's test discovery cannot keep.

catch_discover_tests turns the names into a CMake list, so a ';' splits a name: the CTest entry
gets a cut name whose filter matches no test case, and the case never runs under CTest. This runs
the test binary's --list-test-names-only and names every such test.

  scripts/check_test_names.py TEST_BINARY
  scripts/check_test_names.py --self-test    show on a made-up listing that the check fails
"""
import subprocess
import sys

FORBIDDEN = ";"


def bad_names(listing):
    names = [line.rstrip("\r") for line in listing.splitlines() if line.strip()]
    return names, [n for n in names if FORBIDDEN in n]


def report(listing, source):
    names, bad = bad_names(listing)
    for n in bad:
        print(f"{source}: test name with '{FORBIDDEN}' (CTest would cut it and never run it): {n}")
    if bad:
        return 1
    if not names:
        print(f"{source}: listed no test names")
        return 2
    print(f"{source}: {len(names)} test names, none with '{FORBIDDEN}'")
    return 0


def self_test():
    good = "tensor: shapes\nloader: batches cover the epoch, drop_last and subset\n"
    bad = good + "loader: batches cover the epoch; drop_last and subset\n"
    ok = report(good, "self-test (clean)") == 0 and report(bad, "self-test (one bad)") == 1 and report("", "self-test (empty)") == 2
    print("self-test: " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "--self-test":
        return self_test()
    run = subprocess.run([sys.argv[1], "--list-test-names-only"], capture_output=True, text=True)
    if run.returncode != 0 and not run.stdout:
        print(f"{sys.argv[1]} --list-test-names-only failed ({run.returncode}): {run.stderr.strip()}")
        return 2
    return report(run.stdout, sys.argv[1])


if __name__ == "__main__":
    sys.exit(main())
