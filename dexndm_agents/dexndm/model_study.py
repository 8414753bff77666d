"""The DexNDM loop's model study: joint-wise against whole-hand models as the data grows.

The paper's argument for the joint-wise NDM is that it needs less data and generalises to
loads it was not fitted on. dexndm_agents.dexndm.loop runs this study on every run's chaos box
and writes model_study.json; dexndm_agents.dexndm.loop_report plots it.

Usage:
    figures = model_study(chaos, direct, window=10, sizes=(1_000, 10_000), min_epochs=20, seed=0)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch

from dexndm_agents.dexndm.data import make_windows, split_windows, take_transitions, usable_episodes
from dexndm_agents.dexndm.fitting import fit, hold_error, prediction_error
from dexndm_agents.dexndm.models import JointWiseNDM, WholeHandNDM
from dexndm_envs.data.episodes import Episode

logger = logging.getLogger(__name__)


STUDY_SAMPLE_PASSES = 400_000
"""Training samples each study fit processes at least: small sets get more epochs..."""

STUDY_MAX_EPOCHS = 200
"""... up to this many."""


def model_study(
    chaos: list[Episode],
    direct: list[Episode],
    *,
    window: int,
    sizes: Sequence[int],
    min_epochs: int,
    seed: int,
) -> dict[str, Any]:
    """Next-step error of joint-wise vs whole-hand models as chaos-box data grows.

    Each model is fitted from scratch (no sim pretraining: the data alone) on a random subset
    of the chaos box's training windows and measured on its eval episodes (in distribution)
    and on the base policy's rollouts on the same target hand holding the task's object (out
    of distribution: another load, and policy-driven rather than replayed motion).

    Args:
        chaos: the chaos box's episodes (split 9:1 by episode, as the loop's models are).
        direct: the base policy's rollouts on the same hand.
        window: the models' W.
        sizes: training transitions per fit (capped at what there is).
        min_epochs: the fewest epochs a fit runs (STUDY_SAMPLE_PASSES gives small sets more).
        seed: the split's, the subsets' and the models' seed.

    Returns:
        {"rows": one per (size, model) with both errors (rad), "hold_error_rad": the error of
        predicting no motion, in and out of distribution}.
    """
    train, evaluation = split_windows(chaos, window, seed=seed)
    ood = make_windows(usable_episodes(direct, window), window)
    rows = []
    for size in sorted({min(n, len(train)) for n in sizes}):
        subset = take_transitions(train, size, seed=seed)
        epochs = max(min_epochs, min(STUDY_MAX_EPOCHS, STUDY_SAMPLE_PASSES // size))
        for kind, model_class in (("joint_wise", JointWiseNDM), ("whole_hand", WholeHandNDM)):
            torch.manual_seed(seed)
            model = model_class(window=window)
            fit(model, subset, evaluation, epochs=epochs, seed=seed, progress=False)
            rows.append(
                {
                    "transitions": size,
                    "model": kind,
                    "in_distribution_error_rad": prediction_error(model, evaluation),
                    "out_of_distribution_error_rad": prediction_error(model, ood),
                }
            )
            logger.info("model study: %s", rows[-1])
    return {
        "rows": rows,
        "hold_error_rad": {
            "in_distribution": hold_error(evaluation),
            "out_of_distribution": hold_error(ood),
        },
    }
