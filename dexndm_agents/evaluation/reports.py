"""What evaluated episodes become: tables, CSV/JSON files and plots.

dexndm_agents.evaluation.harness runs the episodes; dexndm_agents.evaluation.summary summarises
them (ConditionSummary, paired_difference); this module reports them.

Usage:
    from dexndm_agents.evaluation.reports import format_table, save_table
    print(format_table(rows))
    save_table(rows, "outputs/evaluation")
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from dexndm_agents.evaluation.harness import EpisodeRow, GridRow
from dexndm_agents.evaluation.summary import ConditionSummary
from dexndm_envs.core.atomic import atomic_write_text


def format_table(rows: Sequence[GridRow]) -> str:
    """The rows as an aligned text table: episodes and their distinct starts, RotR and TTF as
    mean ± standard error over distinct starts (the convention of every table here), RotP,
    rot (rad), drops."""
    header = [
        "object set", "wrist", "axis", "eps", "starts", "RotR ± s.e.", "TTF ± s.e.", "RotP",
        "rot (rad)", "drops",
    ]  # fmt: skip
    body = [
        [
            row.object_set,
            row.wrist,
            row.axis,
            str(s.episodes),
            "?" if s.distinct_starts is None else str(s.distinct_starts),
            f"{s.rotr:.2f} ± {s.rotr_se:.2f}",
            f"{s.ttf:.3f} ± {s.ttf_se:.3f}",
            f"{s.rotp:.3f}",
            f"{s.rotation_rad:.2f}",
            f"{s.drops:.0%}",
        ]
        for row, s in ((row, row.summary) for row in rows)
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    left = 3  # the name columns are left-aligned, the numbers right-aligned

    def fmt(line: list[str]) -> str:
        cells = [
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in body)])


def save_table(
    rows: Sequence[GridRow], out_dir: str | Path, stem: str = "evaluation"
) -> tuple[Path, Path]:
    """Write the rows to `<out_dir>/<stem>.csv` and `<out_dir>/<stem>.json` (a list of rows).

    Returns:
        The paths of the CSV and the JSON file.
    """
    return _write_csv_and_json(GridRow.COLUMNS, [row.as_dict() for row in rows], out_dir, stem)


def save_episodes(
    rows: Sequence[EpisodeRow], out_dir: str | Path, stem: str = "episodes"
) -> tuple[Path, Path]:
    """Write episode rows to `<out_dir>/<stem>.csv` and `<out_dir>/<stem>.json`, as save_table."""
    columns = tuple(f.name for f in fields(EpisodeRow))
    return _write_csv_and_json(columns, [row.as_dict() for row in rows], out_dir, stem)


def _write_csv_and_json(
    columns: Sequence[str], records: list[dict[str, Any]], out_dir: str | Path, stem: str
) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.json"
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(records)
    atomic_write_text(csv_path, table.getvalue())
    atomic_write_text(json_path, json.dumps(records, indent=2) + "\n")
    return csv_path, json_path


TILT_BINS_DEG = (0.0, 30.0, 60.0, 90.0)
"""Edges of the start-tilt bins of format_tilt_summary (the last bin includes 90)."""


def tilt_summary(rows: Sequence[EpisodeRow]) -> list[tuple[tuple[float, float], ConditionSummary]]:
    """Episodes grouped by start tilt (TILT_BINS_DEG): each bin's (low, high) and the summary
    of its episodes, whose starts are a cell's grasps; empty bins are left out."""
    summary = []
    for low, high in itertools.pairwise(TILT_BINS_DEG):
        last = high == TILT_BINS_DEG[-1]
        chosen = [r for r in rows if low <= r.start_tilt_deg and (r.start_tilt_deg < high or last)]
        if chosen:
            # one grasp under two cells' axes or wrists is two episodes, not a repeat
            starts = [f"{r.object_set} {r.wrist} {r.axis}: {r.start}" for r in chosen]
            summary.append(((low, high), ConditionSummary.of(chosen, starts=starts)))
    return summary


def format_tilt_summary(rows: Sequence[EpisodeRow]) -> str:
    """tilt_summary as a text table: how the policy does by how the object started (mean ±
    standard error over distinct starts, as format_table)."""
    lines = ["start tilt (object z to axis)  eps  starts    RotR ± s.e.    TTF  drops"]
    for (low, high), s in tilt_summary(rows):
        rotr = f"{s.rotr:.1f} ± {s.rotr_se:.1f}"
        lines.append(
            f"{f'{low:.0f}-{high:.0f} deg':<30}{s.episodes:>4}  {s.distinct_starts:>6}"
            f"  {rotr:>13}  {s.ttf:5.2f}  {s.drops:5.0%}"
        )
    return "\n".join(lines)


def plot_episodes(rows: Sequence[EpisodeRow], path: str | Path, title: str = "") -> Path:
    """Each episode's RotR against its start tilt, dropped episodes marked: one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tilt = np.array([r.start_tilt_deg for r in rows])
    rotr = np.array([r.rotr for r in rows])
    dropped = np.array([r.dropped for r in rows], dtype=bool)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    try:
        ax.scatter(tilt[~dropped], rotr[~dropped], s=14, color="tab:blue", label="held")
        ax.scatter(tilt[dropped], rotr[dropped], s=22, marker="x", color="tab:red", label="dropped")
        ax.axhline(0.0, color="0.7", linewidth=0.8)
        ax.set_xlim(-2, 92)
        ax.set_xticks(TILT_BINS_DEG)
        ax.set_xlabel("start tilt: rotation axis to the object's z axis (deg)")
        ax.set_ylabel("RotR")
        ax.set_title(title or f"{len(rows)} episodes")
        ax.legend(loc="best", frameon=False)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path
