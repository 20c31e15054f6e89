"""Figures logged with each run: confusion matrices, reliability curve, top n-grams per theme.

Chinese n-grams are drawn with Noto Sans CJK SC from the ``noto-cjk-sans-otc`` dependency, so
they render the same on every install, never as boxes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cppcc_themes.train.render import CJK_FAMILY, register_cjk_font

__all__ = ["CJK_FAMILY", "confusion_figure", "register_cjk_font", "reliability_figure",
           "top_features_figure"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_figure(confusion: dict[str, list[list[int]]], path: Path) -> None:
    """One 2x2 matrix per theme: rows true 0/1, columns predicted 0/1."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(confusion), figsize=(3 * len(confusion), 3))
    for ax, (label, matrix) in zip(axes, confusion.items(), strict=True):
        ax.imshow(matrix, cmap="Blues")
        for i in range(2):
            for j in range(2):
                ax.text(j, i, str(matrix[i][j]), ha="center", va="center")
        ax.set_title(label)
        ax.set_xticks([0, 1], ["pred 0", "pred 1"])
        ax.set_yticks([0, 1], ["true 0", "true 1"])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def reliability_figure(calibration: dict[str, Any], path: Path) -> None:
    """Observed share of positives against mean predicted probability, pooled over themes."""
    plt = _pyplot()
    curve = calibration["curve"]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(curve["predicted"], curve["observed"], marker="o",
            label=f"model (mean Brier {calibration['brier_mean']:.3f})")
    for x, y, n in zip(curve["predicted"], curve["observed"], curve["bin_counts"], strict=False):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("predicted probability (out of fold)")
    ax.set_ylabel("observed share of positives")
    ax.set_title("Reliability, all themes pooled\n(numbers: scores per bin)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def top_features_figure(top: dict[str, list[tuple[str, float]]], path: Path, n: int = 12) -> None:
    """Horizontal bars of the heaviest n-grams per theme, in the CJK font."""
    family = register_cjk_font()
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(top), figsize=(3.2 * len(top), 0.32 * n + 1.2))
    for ax, (label, features) in zip(axes, top.items(), strict=True):
        features = features[:n][::-1]
        ax.barh(range(len(features)), [w for _, w in features], color="tab:blue")
        ax.set_yticks(range(len(features)), [name for name, _ in features], family=family,
                      fontsize=9)
        ax.set_title(label)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle("Top n-grams per theme (weight toward the theme)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
