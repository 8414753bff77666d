"""What the DexNDM loop's results say: the table and the plots.

dexndm_agents.dexndm.loop.run_loop measures every condition on the same seeds; each condition's
gain is its seed-paired RotR difference to direct transfer and its share is that gain over the
RotR direct transfer loses from the ideal sim (LoopResults.paired_difference, share_of_loss).

Usage:
    results = run_loop(policy, cfg)
    print(format_table(results))
    plot_results(results, cfg.out_dir)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dexndm_agents.dexndm.results import EVALUATED, MODEL_CONDITIONS, REACHABLE_HAND, LoopResults


def format_table(results: LoopResults) -> str:
    """The comparison as a text table, one row per condition (the reachable hand last, when
    the results have it), and what each residual regains of the loss and of the reachable
    hand's share. Every +- is a standard error over distinct starts."""
    lines = [
        f"{'condition':<12} {'RotR +- s.e.':>14} {'TTF':>6} {'RotP':>6} {'drops':>6} "
        f"{'RotR - direct (paired)':>24} {'of the loss':>12} {'tracking (mrad)':>16}"
    ]
    shown = [c for c in EVALUATED if c in results.conditions]
    for condition in shown:
        row = results.conditions[condition]
        rotr = f"{row.rotr:.1f} +- {row.rotr_se:.1f}"
        mean, error = results.paired_difference(condition)
        share = results.share_of_loss(condition)
        share_text = "-" if condition in ("ideal", "direct") or np.isnan(share) else f"{share:.0%}"
        tracking = row.tracking_error_rad
        tracking_text = "-" if tracking is None else f"{tracking * 1e3:.2f}"
        lines.append(
            f"{condition:<12} {rotr:>14} {row.ttf:>6.2f} {row.rotp:>6.2f} "
            f"{row.drops:>6.0%} {f'{mean:+.1f} +- {error:.1f}':>24} {share_text:>12} "
            f"{tracking_text:>16}"
        )
    reachable = (
        results.share_of_loss(REACHABLE_HAND) if REACHABLE_HAND in results.conditions else np.nan
    )
    if reachable > 0:
        for condition in MODEL_CONDITIONS:
            share = results.share_of_loss(condition)
            lines.append(
                f"{condition} regains {share:.0%} of the loss, {share / reachable:.0%} of the "
                f"reachable hand's {reachable:.0%}"
            )
    return "\n".join(lines)


def target_title(config: Mapping[str, Any]) -> str:
    """The hand a run's config (LoopResults.config) targets, in words; runs from before the
    loop had targets were on MuJoCo's virtual hand."""
    virtual = f"virtual hand, profile {config.get('hardware_profile', 'default')}"
    if config.get("engine", "mujoco") == "mujoco":
        return virtual
    hand = virtual if config.get("target_hardware") == "virtual" else "ideal hand"
    return f"PhysX (world {config.get('world_profile', 'default')}), {hand}"


def plot_results(results: LoopResults, out_dir: Path) -> list[Path]:
    """Two figures: the comparison (RotR, TTF and the replayed tracking error per condition)
    and the model study."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = [out_dir / "comparison.png", out_dir / "model_study.png"]
    colors = dict(
        zip(EVALUATED, ("grey", "tab:red", "tab:orange", "tab:blue", "silver"), strict=True)
    )
    rows = {c: results.conditions[c] for c in EVALUATED if c in results.conditions}
    shown = list(rows)
    fig, (ax_rotr, ax_ttf, ax_track) = plt.subplots(1, 3, figsize=(14, 3.5))
    rotr = [rows[c].rotr for c in shown]
    spread = [rows[c].rotr_se for c in shown]
    ax_rotr.bar(shown, rotr, yerr=spread, color=[colors[c] for c in shown])
    ax_rotr.set_ylabel("RotR (mean +- s.e.)")
    ax_ttf.bar(shown, [rows[c].ttf for c in shown], color="tab:green")
    ax_ttf.set_ylabel("TTF")
    tracked = [c for c in shown if rows[c].tracking_error_rad is not None]
    ax_track.bar(
        tracked,
        [rows[c].tracking_error_rad * 1e3 for c in tracked],
        color=[colors[c] for c in tracked],
    )
    ax_track.set_ylabel("replayed tracking error (mrad)")
    for ax in (ax_rotr, ax_ttf, ax_track):
        ax.tick_params(axis="x", labelrotation=20)
    fig.suptitle(target_title(results.config))
    fig.tight_layout()
    fig.savefig(paths[0], dpi=120)
    plt.close(fig)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    study = results.model_study["rows"]
    for ax, key, title in zip(
        axes,
        ("in_distribution_error_rad", "out_of_distribution_error_rad"),
        ("chaos box (in distribution)", "task rollouts (out of distribution)"),
        strict=True,
    ):
        for kind in ("joint_wise", "whole_hand"):
            mine = [r for r in study if r["model"] == kind]
            ax.plot(
                [r["transitions"] for r in mine], [r[key] * 1e3 for r in mine], "o-", label=kind
            )
        ax.set_xscale("log")
        ax.set_xlabel("training transitions")
        ax.set_title(title)
    axes[0].set_ylabel("next-step error (mrad)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(paths[1], dpi=120)
    plt.close(fig)
    return paths
