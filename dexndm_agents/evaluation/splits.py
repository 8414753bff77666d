"""Train/eval splits by episode, never by sample: one rule for every learner in dexndm_agents.

Samples of one episode are strongly correlated (neighbouring steps, overlapping history
windows), so a split by sample leaks the evaluation episodes into training and makes the eval
loss flatter than what unseen episodes give. DexNDM (arXiv 2510.08556) splits its NDM data 9:1
and keeps the best eval checkpoint; behaviour cloning of the generalist splits the same way.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def split_episode_ids(
    episode_ids: ArrayLike, eval_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split the distinct episode ids into training and evaluation ids.

    round(eval_fraction * episodes) episodes, at least one when eval_fraction > 0, are drawn
    for evaluation by a permutation seeded with `seed`.

    Args:
        episode_ids: episode ids, repeated or not (e.g. one per sample).
        eval_fraction: share of episodes held out, in [0, 1); 0 holds none out.
        seed: seeds the draw.

    Returns:
        The training and the evaluation ids, each sorted and distinct.

    Raises:
        ValueError: eval_fraction outside [0, 1), or too few episodes to leave one for
            training.
    """
    if not 0.0 <= eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in [0, 1), got {eval_fraction}")
    episodes = np.unique(np.asarray(episode_ids))
    n_eval = 0 if eval_fraction == 0 else max(1, round(eval_fraction * len(episodes)))
    if n_eval >= len(episodes):
        raise ValueError(
            f"{len(episodes)} episode(s) cannot be split by episode with eval_fraction "
            f"{eval_fraction}: no training episode would be left"
        )
    eval_ids = np.random.default_rng(seed).permutation(episodes)[:n_eval]
    return np.setdiff1d(episodes, eval_ids), np.sort(eval_ids)
