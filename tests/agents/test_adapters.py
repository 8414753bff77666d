"""The residual adapter: bounded, identity at first, numpy = torch, and trained through an NDM
it shrinks the predicted tracking error of a synthetic reality gap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dexndm_agents.dexndm.adapters import (
    LeadAdapter,
    MLPAdapter,
    NumpyAdapter,
    build_adapter,
    corrected_targets,
    segment_length,
    tracking_error,
    train_residual,
)
from dexndm_agents.dexndm.data import make_windows, split_episodes, synthetic_episodes
from dexndm_agents.dexndm.fitting import fit
from dexndm_agents.dexndm.models import JointWiseNDM

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_history(batch: int, history: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    joint_pos = torch.rand(batch, history, 16, generator=generator) * 0.8
    targets = joint_pos + 0.05 * torch.randn(batch, history, 16, generator=generator)
    return joint_pos, targets


def test_a_fresh_adapter_corrects_nothing():
    joint_pos, targets = random_history(8, 3)
    assert torch.equal(MLPAdapter(history=3)(joint_pos, targets), torch.zeros(8, 16))


def test_corrections_never_exceed_the_bound_whatever_the_weights():
    adapter = MLPAdapter(history=2, bound_rad=0.03)
    with torch.no_grad():
        for parameter in adapter.parameters():
            parameter.normal_(0.0, 5.0)
    joint_pos, targets = random_history(256, 2)
    corrections = adapter(joint_pos * 10, targets * 10)
    assert corrections.abs().max() <= 0.03
    assert corrections.abs().max() > 0.02  # large weights saturate near the bound


def random_mlp() -> MLPAdapter:
    torch.manual_seed(0)
    adapter = MLPAdapter(history=4, hidden=32)
    with torch.no_grad():
        adapter.net[-1].weight.normal_(0.0, 0.1)
    return adapter


@pytest.mark.parametrize("make", [random_mlp, lambda: random_lead(history=4)], ids=["mlp", "lead"])
def test_numpy_forward_matches_torch(make):
    adapter = make()
    joint_pos, targets = random_history(3, 4)
    expected = adapter(joint_pos, targets).detach().numpy()
    fast = NumpyAdapter(adapter)
    for row in range(3):
        got = fast(joint_pos[row].double().numpy(), targets[row].double().numpy())
        np.testing.assert_allclose(got, expected[row], atol=1e-6)


def test_every_step_of_the_window_gets_its_own_correction():
    adapter = MLPAdapter(history=3, hidden=16)
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
    adapter = MLPAdapter(history=2, hidden=64, bound_rad=0.1)
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
    ndm, adapter = JointWiseNDM(window=4, hidden=8), MLPAdapter(history=3)
    windows = make_windows(synthetic_episodes(4, 30), window=4)
    with pytest.raises(ValueError, match="W \\+ H - 1 = 6"):
        train_residual(ndm, adapter, windows, windows, epochs=1, progress=False)


@pytest.mark.parametrize("kwargs", [{"history": 0}, {"bound_rad": 0.0}, {"layers": 0}])
def test_bad_sizes_are_refused(kwargs):
    with pytest.raises(ValueError, match="MLPAdapter needs"):
        MLPAdapter(**kwargs)


def random_lead(history: int = 3, bound_rad: float = 0.05) -> LeadAdapter:
    adapter = LeadAdapter(history=history, bound_rad=bound_rad)
    with torch.no_grad():
        adapter.lead.normal_(0.0, 2.0)
    return adapter


def test_a_lead_adapter_corrects_nothing_while_the_targets_hold_still():
    joint_pos, targets = random_history(8, 3)
    assert torch.equal(LeadAdapter(history=3)(joint_pos, targets), torch.zeros(8, 16))
    held = targets[:, -1:].expand(-1, 3, -1)  # whatever its weights and the readings
    assert torch.equal(random_lead()(joint_pos, held), torch.zeros(8, 16))


def test_a_lead_adapter_leads_each_joint_by_its_own_weight_and_stays_bounded():
    adapter = LeadAdapter(history=2, bound_rad=0.05)
    with torch.no_grad():
        adapter.lead[0] = torch.linspace(0.0, 1.5, 16)
    joint_pos, _ = random_history(1, 2)
    targets = torch.zeros(1, 2, 16)
    targets[:, 1] = 0.01  # every joint's target moved 0.01 rad
    corrections = adapter(joint_pos, targets)[0]
    # small changes pass nearly linearly: joint i gets lead_i * 0.01 rad
    torch.testing.assert_close(corrections, torch.linspace(0.0, 0.015, 16), atol=2e-4, rtol=0.05)
    big = adapter(joint_pos, targets * 100)
    assert big.abs().max() <= 0.05 and big.abs().max() > 0.04


def test_training_a_lead_through_the_model_shrinks_the_predicted_tracking_error():
    """The synthetic hardware's motors are half as strong: its joints lag the sim's, and a lead
    on the target changes makes up part of it."""
    torch.manual_seed(0)
    train, evaluation = windows_of(synthetic_episodes(40, 150, seed=0, gain_scale=0.5), window=6)
    ndm = JointWiseNDM(window=6, hidden=32)
    fit(ndm, train, evaluation, epochs=8, progress=False)
    adapter = LeadAdapter(history=2)
    sim_train, sim_eval = windows_of(
        synthetic_episodes(30, 150, seed=0), window=segment_length(ndm, adapter)
    )
    before = tracking_error(ndm, None, sim_eval)
    train_residual(ndm, adapter, sim_train, sim_eval, epochs=10, lr=3e-2, progress=False)
    after = tracking_error(ndm, adapter, sim_eval)
    # 7.3 -> 6.1 mrad here: the targets random-walk, so only part of the lag is predictable
    assert after < 0.9 * before
    assert adapter.lead.min() > 0.0  # every joint is sent ahead of its motion


def test_adapters_are_built_from_their_configs():
    lead = build_adapter(random_lead().config())
    assert isinstance(lead, LeadAdapter) and lead.history == 3
    assert isinstance(build_adapter({"history": 2}), MLPAdapter)  # bundles before kinds
    with pytest.raises(ValueError, match="unknown adapter kind 'gru'; known: lead, mlp"):
        build_adapter({"kind": "gru"})
    with pytest.raises(ValueError, match="bad arguments for a 'lead' adapter"):
        build_adapter({"kind": "lead", "hidden": 3})
    with pytest.raises(ValueError, match="LeadAdapter needs history >= 2"):
        LeadAdapter(history=1)
