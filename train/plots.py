"""PNG plots a person would rather look at than a CSV: training curves and the confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # figures drawn straight to files (Agg): no pyplot, no display, no global state

from edge.core import atomic


def _save(fig, path: Path) -> Path:
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    return Path(path)


def plot_curves(history: Sequence[dict], path: str | Path, best_epoch: int | None = None) -> Path:
    """Loss and accuracy per epoch (train vs validation, best epoch marked) and the learning rate."""
    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(14, 4))
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [3, 3, 2]})
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, [row.get(key) for row in history], marker=".", label="train")
        ax.plot(epochs, [row.get(f"val_{key}") for row in history], marker=".", label="validation")
        ax.set_title(key)
    axes[2].plot(epochs, [row.get("lr") for row in history], marker=".", color="tab:green")
    axes[2].set_yscale("log")
    axes[2].set_title("learning rate")
    for ax in axes:
        if best_epoch:
            ax.axvline(best_epoch, color="gray", linestyle=":", label=f"best (epoch {best_epoch})")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in axes[:2]:
        ax.legend(loc="best")
    fig.tight_layout()
    return _save(fig, Path(path))


def plot_confusion(confusion: Sequence[Sequence[int]], labels: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (recall per true class) annotated with counts."""
    cm = np.asarray(confusion, dtype=np.int64)
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(1.0 + 0.8 * len(labels), 0.8 + 0.7 * len(labels)))
    ax = fig.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{rates[i, j]:.2f}\n{cm[i, j]}", ha="center", va="center", fontsize=7,
                    color="white" if rates[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    if title:
        ax.set_title(title)
    return _save(fig, Path(path))
