"""Regenerate every registered figure: ``python -m papers [--out figures] [--only NAME] [--quick]``."""

from __future__ import annotations

import argparse
import os
import sys
import time

import matplotlib

matplotlib.use("Agg")

import jax  # noqa: E402

from papers import load_all  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="figures", help="output folder (default: figures/)")
    parser.add_argument("--only", action="append", help="figure name to run (repeatable)")
    parser.add_argument("--quick", action="store_true", help="smaller samples, for a smoke run")
    parser.add_argument("--list", action="store_true", help="list the registered figures and exit")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)  # an application entry point, not an import side effect
    figures = load_all()
    if args.list:
        print("\n".join(sorted(figures)))
        return 0
    names = args.only or sorted(figures)
    unknown = [n for n in names if n not in figures]
    if unknown:
        parser.error(f"unknown figure(s) {unknown}; registered: {sorted(figures)}")
    os.makedirs(args.out, exist_ok=True)
    for name in names:
        start = time.perf_counter()
        paths = figures[name](args.out, quick=args.quick)
        print(f"{name}: {', '.join(os.path.abspath(p) for p in paths)} ({time.perf_counter() - start:.1f} s)")
    print(f"{len(names)} figure(s) written to {os.path.abspath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
