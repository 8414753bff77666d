"""The residual adapter: bounded, identity at first, numpy = torch, and trained through an NDM
it shrinks the predicted tracking error of a synthetic reality gap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dexndm_agents.ndm import JointWiseNDM
from dexndm_agents.ndm_data import make_windows, split_episodes, synthetic_episodes
from dexndm_agents.ndm_training import fit
from dexndm_agents.residual import (
    NumpyAdapter,
    ResidualAdapter,
    corrected_targets,
    segment_length,
    tracking_error,
    train_residual,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_history(batch: int, history: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    joint_pos = torch.rand(batch, history, 16, generator=generator) * 0.8
    targets = joint_pos + 0.05 * torch.randn(batch, history, 16, generator=generator)
    return joint_pos, targets


def test_a_fresh_adapter_corrects_nothing():
    joint_pos, targets = random_history(8, 3)
    assert torch.equal(ResidualAdapter(history=3)(joint_pos, targets), torch.zeros(8, 16))


def test_corrections_never_exceed_the_bound_whatever_the_weights():
    adapter = ResidualAdapter(history=2, bound_rad=0.03)
    with torch.no_grad():
        for parameter in adapter.parameters():
            parameter.normal_(0.0, 5.0)
    joint_pos, targets = random_history(256, 2)
    corrections = adapter(joint_pos * 10, targets * 10)
    assert corrections.abs().max() <= 0.03
    assert corrections.abs().max() > 0.02  # large weights saturate near the bound


def test_numpy_forward_matches_torch():
    torch.manual_seed(0)
    adapter = ResidualAdapter(history=4, hidden=32)
    with torch.no_grad():
        adapter.net[-1].weight.normal_(0.0, 0.1)
    joint_pos, targets = random_history(3, 4)
    expected = adapter(joint_pos, targets).detach().numpy()
    fast = NumpyAdapter(adapter)
    for row in range(3):
        got = fast(joint_pos[row].double().numpy(), targets[row].double().numpy())
        np.testing.assert_allclose(got, expected[row], atol=1e-6)


def test_every_step_of_the_window_gets_its_own_correction():
    adapter = ResidualAdapter(history=3, hidden=16)
    with torch.no_grad():
        adapter.net[-1].weight.normal_(0.0, 0.5)
    joint_pos, targets = random_history(2, 5 + 3 - 1)
    executed, corrections = corrected_targets(adapter, joint_pos, targets, window=5)
    assert executed.shape == corrections.shape == (2, 5, 16)
    # step j of the window is corrected from readings j-2..j of the segment alone
    expected = adapter(joint_pos[:, 2:5], targets[:, 2:5])
    torch.testing.assert_close(corrections[:, 2], expected)
    torch.testing.assert_close(executed, targets[:, 2:] + corrections)


def test_training_through_the_model_shrinks_the_predicted_tracking_error():
    """The hardware is the sim with motors half as strong; the NDM learns the hardware, and the
    adapter makes the hardware's predicted next positions follow the sim's."""
    torch.manual_seed(0)
    hardware = synthetic_episodes(40, 150, seed=0, gain_scale=0.5)
    train, evaluation = windows_of(hardware, window=6)
    ndm = JointWiseNDM(window=6, hidden=32)
    fit(ndm, train, evaluation, epochs=8, progress=False)
    adapter = ResidualAdapter(history=2, hidden=64, bound_rad=0.1)
    sim_train, sim_eval = windows_of(
        synthetic_episodes(30, 150, seed=0), window=segment_length(ndm, adapter)
    )
    before = tracking_error(ndm, None, sim_eval)
    # a light penalty: closing this gap takes corrections of several hundredths of a radian
    result = train_residual(
        ndm, adapter, sim_train, sim_eval, epochs=10, lr=1e-2, reg=1.0, progress=False
    )
    after = tracking_error(ndm, adapter, sim_eval)
    assert after < 0.65 * before  # 7.3 -> 4.2 mrad here; the model's own error is 2 mrad
    assert result.eval_error_rad[result.best_epoch] == pytest.approx(after, rel=1e-4)


def windows_of(episodes, window):
    train, evaluation = split_episodes(episodes, eval_fraction=0.2, seed=0)
    return make_windows(train, window), make_windows(evaluation, window)


def test_windows_of_the_wrong_length_are_refused():
    ndm, adapter = JointWiseNDM(window=4, hidden=8), ResidualAdapter(history=3)
    windows = make_windows(synthetic_episodes(4, 30), window=4)
    with pytest.raises(ValueError, match="W \\+ H - 1 = 6"):
        train_residual(ndm, adapter, windows, windows, epochs=1, progress=False)


@pytest.mark.parametrize("kwargs", [{"history": 0}, {"bound_rad": 0.0}, {"layers": 0}])
def test_bad_sizes_are_refused(kwargs):
    with pytest.raises(ValueError, match="ResidualAdapter needs"):
        ResidualAdapter(**kwargs)
