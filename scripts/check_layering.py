#!/usr/bin/env python3
"""Fails on an #include that points up the layer order of docs/ARCHITECTURE.md.

The order is read from the first code block after "Dependencies point down only" in
docs/ARCHITECTURE.md, top layer first: each unindented line starts with a folder (`train/`) or
files (`engine/{dtype,shape}.h`, which also name their .cpp), the rest of the line describes it.
A source file belongs to the most specific entry that names it; it may include its own layer and
any layer below, never one above. Folders the diagram does not list (test/, docs/) are not checked.

  scripts/check_layering.py [--root DIR]   check a tree (default: this repository)
  scripts/check_layering.py --self-test    show on made-up trees that the check passes and fails
"""
import argparse
import os
import re
import sys
import tempfile

SOURCE_SUFFIXES = (".h", ".hpp", ".cpp", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
ENTRY = re.compile(r"^([a-z_][\w./{},-]*)(\s|$)")


def expand(pattern):
    """engine/{dtype,shape}.h -> [engine/dtype.h, engine/shape.h]"""
    m = re.search(r"\{([^}]*)\}", pattern)
    if not m:
        return [pattern]
    out = []
    for part in m.group(1).split(","):
        out += expand(pattern[: m.start()] + part.strip() + pattern[m.end():])
    return out


def read_layers(doc):
    """[(rank, [patterns])] from the diagram, top first; raises ValueError when there is none."""
    with open(doc, encoding="utf-8") as f:
        lines = f.read().splitlines()
    start = next((i for i, l in enumerate(lines) if "Dependencies point down only" in l), None)
    if start is None:
        raise ValueError(f'{doc}: no "Dependencies point down only" line before the layer diagram')
    fence = next((i for i in range(start, len(lines)) if lines[i].startswith("```")), None)
    if fence is None:
        raise ValueError(f"{doc}: no code block after the \"Dependencies point down only\" line")
    layers = []
    for line in lines[fence + 1:]:
        if line.startswith("```"):
            break
        m = ENTRY.match(line)
        if m and "/" in m.group(1):
            layers.append(expand(m.group(1)))
    if len(layers) < 2:
        raise ValueError(f"{doc}: the layer diagram lists {len(layers)} layer(s)")
    return layers


def layer_of(path, layers):
    """Rank of the most specific entry naming `path` (a folder entry, or a file's stem), or None."""
    stem = os.path.splitext(path)[0]
    best, best_len = None, -1
    for rank, patterns in enumerate(layers):
        for p in patterns:
            if p.endswith("/"):
                hit = path.startswith(p)
            else:
                hit = stem == os.path.splitext(p)[0]
            if hit and len(p) > best_len:
                best, best_len = rank, len(p)
    return best


def describe(rank, layers):
    return " ".join(layers[rank])


def check(root, doc):
    layers = read_layers(doc)
    folders = sorted({p.split("/")[0] for patterns in layers for p in patterns})
    problems = []
    for folder in folders:
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for name in sorted(files):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                full = os.path.join(dirpath, name)
                path = os.path.relpath(full, root).replace(os.sep, "/")
                own = layer_of(path, layers)
                if own is None:
                    continue
                with open(full, encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = layer_of(m.group(1), layers)
                        if target is not None and target < own:
                            problems.append(f"{path}:{number}: includes \"{m.group(1)}\" ({describe(target, layers)}), "
                                            f"above its own layer ({describe(own, layers)})")
    return layers, problems


def run(root, doc):
    try:
        layers, problems = check(root, doc)
    except (OSError, ValueError) as e:
        print(f"check_layering: {e}", file=sys.stderr)
        return 2
    for p in problems:
        print(p)
    if problems:
        print(f"check_layering: {len(problems)} upward include(s); the order is the diagram of {doc}")
        return 1
    print(f"check_layering: no upward include across {len(layers)} layers ({doc})")
    return 0


def self_test():
    """A tree whose bottom layer includes the top one must fail, naming the file and line."""
    def tree(base, files):
        for path, text in files.items():
            full = os.path.join(base, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as f:
                f.write(text)

    doc = "# A\n\nDependencies point down only:\n\n```\ntop/     uses low\nlow/     uses the values\n" \
          "  (an indented line describes)\nlow/{value}.h   beneath low\n```\n"
    clean = {"docs/ARCHITECTURE.md": doc, "top/a.cpp": '#include "low/b.h"\n#include "low/value.h"\n',
             "low/b.h": '#include "low/value.h"\n', "low/value.h": "// plain\n", "low/value.cpp": '#include "low/value.h"\n',
             "test/t.cpp": '#include "top/a.h"\n'}
    ok = True
    with tempfile.TemporaryDirectory() as d:
        tree(d, clean)
        code = run(d, os.path.join(d, "docs/ARCHITECTURE.md"))
        ok &= code == 0
        print(f"self-test: a clean tree -> exit {code} (want 0)")
        tree(d, {"low/c.cpp": '// why\n#include "top/a.h"\n', "low/value.cpp": '#include "low/b.h"\n'})
        code = run(d, os.path.join(d, "docs/ARCHITECTURE.md"))
        _, problems = check(d, os.path.join(d, "docs/ARCHITECTURE.md"))
        ok &= code == 1 and len(problems) == 2
        ok &= any(p.startswith('low/c.cpp:2: includes "top/a.h"') for p in problems)
        ok &= any(p.startswith('low/value.cpp:1: includes "low/b.h"') for p in problems)
        print(f"self-test: upward includes -> exit {code} with {len(problems)} problem(s) (want 1 with 2)")
        tree(d, {"docs/ARCHITECTURE.md": "# no diagram\n"})
        code = run(d, os.path.join(d, "docs/ARCHITECTURE.md"))
        ok &= code == 2
        print(f"self-test: no diagram -> exit {code} (want 2)")
    print("self-test: " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=here, help="the source tree (default: this repository)")
    parser.add_argument("--self-test", action="store_true", help="check the checker on made-up trees")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    return run(args.root, os.path.join(args.root, "docs", "ARCHITECTURE.md"))


if __name__ == "__main__":
    sys.exit(main())
