"""Shared by the examples: where figures go, and matplotlib only when it is installed.

Every example takes ``--figures DIR`` (default: the current directory). Without matplotlib the
examples still run and print their numbers; they say which figure they skipped.
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from typing import Any


def figure_dir(argv: Sequence[str] | None = None, description: str = "") -> str:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--figures", default=".", help="folder for the PNG figures (default: .)")
    args = parser.parse_args(argv)
    os.makedirs(args.figures, exist_ok=True)
    return str(args.figures)


def save_figure(folder: str, name: str, draw: Callable[[Any], None]) -> str | None:
    """Call draw(pyplot) on a new figure and save it as folder/name; None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")             # files only: no window, works without a display
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"(matplotlib is not installed: skipping the figure {name}; pip install matplotlib)")
        return None
    fig = plt.figure(figsize=(6.4, 4.0))
    try:
        draw(plt)
        path = os.path.join(folder, name)
        fig.savefig(path, dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)
    print(f"figure saved: {path}")
    return path


def section(title: str) -> None:
    print(f"\n== {title}")
