"""Plots of dataset health: issue counts, duplicate clusters, class size distributions.

matplotlib is imported when a plot is drawn (it is part of the ``lab`` extra). Every function
returns a ``matplotlib.figure.Figure`` (shown by Jupyter when it is a cell's value) or draws
on the ``ax`` given.

Example:
    >>> import pandas as pd
    >>> summary = pd.DataFrame({"level": ["image", "image"], "issue": ["dark", "blurry"],
    ...                         "count": [3, 0], "share": [0.3, 0.0]})
    >>> fig = plot_issue_counts(summary)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['image · blurry', 'image · dark']
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from PIL import Image, ImageOps

from synapse_nb.health._errors import HealthInputError
from synapse_nb.health.distributions import annotation_geometry
from synapse_nb.health.images import ImageHealth
from synapse_nb.health.measure import ImageSource

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_class_sizes", "plot_duplicate_clusters", "plot_issue_counts"]

_LEVEL_COLOURS = {"image": "#4C72B0", "annotation": "#DD8452"}


def _figure(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    if ax is not None:
        owner = ax.figure
        return (owner if isinstance(owner, Figure) else owner.figure), ax

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def plot_issue_counts(*summaries: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """Horizontal bars of the count per issue, from one or more ``summary()`` tables.

    Issues with no finding are kept (a zero bar says the check ran). Bars are coloured by
    level (image, annotation) and labelled with count and share.
    """
    if not summaries:
        raise HealthInputError("summaries", (), "give at least one summary() table")
    table = pd.concat(summaries, ignore_index=True).iloc[::-1]
    fig, ax = _figure(ax, (7.0, 0.32 * len(table) + 1.0))
    labels = [f"{lev} · {iss}" for lev, iss in zip(table["level"], table["issue"], strict=True)]
    colours = [_LEVEL_COLOURS.get(str(level), "#8172B3") for level in table["level"]]
    bars = ax.barh(labels, table["count"], color=colours)
    ax.bar_label(bars, labels=[f"{c} ({s:.1%})" for c, s in
                               zip(table["count"], table["share"], strict=True)], padding=3,
                 fontsize=8)
    ax.set_xlabel("flagged items")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Dataset health: issues found")
    ax.margins(x=0.15)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def _horizontal() -> dict[str, Any]:
    import matplotlib

    major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def _thumb(source: ImageSource, size: int) -> Image.Image:
    import io

    if isinstance(source, Image.Image):
        image = source.copy()
    elif isinstance(source, bytes | bytearray):
        image = Image.open(io.BytesIO(bytes(source)))
    else:
        image = Image.open(source)
    image.draft("RGB", (size, size))
    return ImageOps.pad(image.convert("RGB"), (size, size), color=(255, 255, 255))


def plot_duplicate_clusters(report: ImageHealth,
                            images: Mapping[Any, ImageSource] | Iterable[
                                tuple[Hashable, ImageSource]],
                            *, max_clusters: int = 6, max_members: int = 6,
                            thumb_size: int = 160) -> Figure:
    """One thumbnail strip per near-duplicate cluster, largest clusters first.

    The representative comes first, framed in green; each other member is captioned with its
    data unit id, its Hamming distance to the representative and ``exact`` for byte copies.
    """
    from matplotlib.figure import Figure

    sources = dict(images.items() if isinstance(images, Mapping) else images)
    clusters = report.clusters().sort_values(["size", "cluster"], ascending=[False, True])
    clusters = clusters.head(max_clusters)
    widest = int(clusters["size"].max()) if len(clusters) else 1
    rows, cols = max(len(clusters), 1), max(min(max_members, widest), 2)
    fig = Figure(figsize=(2.0 * cols, 2.3 * rows), layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, cols, squeeze=False))
    for ax in axes.ravel():
        ax.set_axis_off()
    if clusters.empty:
        axes[0, 0].text(0, 0.5, "no near-duplicate clusters", fontsize=11)
    phash = report.images["phash"]
    content = report.images["content_hash"]
    split = report.images["split"]
    leak = report.images["is_leak"]
    for r, (_, cluster) in enumerate(clusters.iterrows()):
        rep = cluster["representative"]
        for c, member in enumerate(cluster["members"][:cols]):
            ax = axes[r, c]
            ax.imshow(_thumb(sources[member], thumb_size))
            distance = bin(int(phash[member], 16) ^ int(phash[rep], 16)).count("1")
            exact = member != rep and content[member] == content[rep]
            caption = "representative" if member == rep else (
                "exact copy" if exact else f"distance {distance}")
            if pd.notna(split[member]):
                caption += f" · {split[member]}" + (" (leak)" if leak[member] else "")
            ax.set_title(f"{member}\n{caption}", fontsize=8,
                         color="#C0392B" if leak[member] else "black")
            ax.set_axis_on()
            ax.set_xticks([])
            ax.set_yticks([])
            colour = "#2CA02C" if member == rep else "#BBBBBB"
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(3 if member == rep else 1)
        extra = int(cluster["size"]) - cols
        if extra > 0:
            axes[r, cols - 1].set_xlabel(f"+{extra} more", fontsize=8)
    fig.suptitle("Near-duplicate clusters", fontsize=11)
    return fig


def plot_class_sizes(annotations: pd.DataFrame | Iterable[Mapping[str, Any]],
                     image_sizes: Mapping[Any, Any] | pd.DataFrame, *,
                     ax: Axes | None = None) -> Figure:
    """Box plot of box sizes (square root of area, px, log scale) per class, with counts.

    Example:
        >>> rows = [{"annotation_id": k, "data_unit_id": 1, "class_name": c,
        ...          "x": 0, "y": 0, "w": s, "h": s}
        ...         for k, (c, s) in enumerate([("car", 30), ("car", 60), ("dog", 8)])]
        >>> fig = plot_class_sizes(rows, {1: (100, 100)})
        >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]  # bottom to top
        ['dog (n=1)', 'car (n=2)']
    """
    geometry = annotation_geometry(annotations, image_sizes)
    sizes = geometry["size"].astype("float64")
    groups = {str(k): v.dropna().to_numpy() for k, v in sizes.groupby(geometry["class_name"])}
    groups = {k: v[v > 0] for k, v in groups.items() if (v > 0).any()}
    names = sorted(groups, reverse=True)
    fig, ax = _figure(ax, (7.0, 0.45 * len(names) + 1.2))
    if names:
        ax.boxplot([groups[n] for n in names], widths=0.6, showfliers=True,
                   flierprops={"markersize": 2, "alpha": 0.4}, **_horizontal())
        ax.set_yticks(range(1, len(names) + 1),
                      [f"{n} (n={len(groups[n])})" for n in names])
        ax.set_xscale("log")
    ax.set_xlabel("box size: √(width × height), px")
    ax.set_title("Annotation sizes per class")
    ax.grid(axis="x", which="both", alpha=0.3)
    return fig
