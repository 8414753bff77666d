"""Wrist orientations and rotation axes."""

from __future__ import annotations

import numpy as np
import pytest

from dexndm_envs.core import geometry, task

PALM_FACE = np.array([0.0, 0.0, -1.0])  # palm frame


@pytest.mark.parametrize(
    ("wrist", "face", "fingers"),
    [
        ("palm_up", (0, 0, 1), (1, 0, 0)),
        ("palm_down", (0, 0, -1), (1, 0, 0)),
        ("base_up", (0, -1, 0), (0, 0, -1)),
        ("base_down", (0, -1, 0), (0, 0, 1)),
        ("thumb_up", (0, 1, 0), (1, 0, 0)),
        ("thumb_down", (0, -1, 0), (1, 0, 0)),
    ],
)
def test_named_wrists_point_palm_and_fingers_as_named(wrist, face, fingers):
    rot = geometry.quat_to_mat(task.WRISTS[wrist])
    np.testing.assert_allclose(rot @ PALM_FACE, face, atol=1e-9)
    np.testing.assert_allclose(rot @ [1, 0, 0], fingers, atol=1e-9)
    if wrist.startswith("thumb"):  # the thumb side (palm +y) points up or down
        assert (rot @ [0, 1, 0])[2] == pytest.approx(1.0 if wrist == "thumb_up" else -1.0)


def test_general_axes_are_26_evenly_spread_non_principal_unit_vectors():
    axes = task.general_axes()
    assert axes.shape == (26, 3)
    np.testing.assert_allclose(np.linalg.norm(axes, axis=1), 1.0)
    everything = np.concatenate([axes, np.eye(3), -np.eye(3)])
    cos = everything @ everything.T
    np.fill_diagonal(cos, -1.0)
    nearest = np.degrees(np.arccos(cos.max(axis=1)))
    assert nearest.min() > 30.0  # 32 points: no two closer than 30 degrees
    assert nearest.max() < 45.0  # and no hole
    # symmetric under v -> -v, so rotating either way about every axis is covered
    for v in axes:
        assert np.min(np.linalg.norm(axes + v, axis=1)) < 1e-9


def test_resolve_rejects_unknown_names_listing_valid_ones():
    with pytest.raises(ValueError, match="palm_up"):
        task.resolve_wrist("palm_sideways")
    with pytest.raises(ValueError, match=r"\+z"):
        task.resolve_axis("up")
    with pytest.raises(ValueError, match="3 finite"):
        task.resolve_axis([0, 0, 0])
    with pytest.raises(ValueError, match="quaternion"):
        task.resolve_wrist([1, 0, 0])


def test_vectors_are_normalised():
    np.testing.assert_allclose(task.resolve_axis([0, 0, 2]), [0, 0, 1])
    np.testing.assert_allclose(task.resolve_wrist([2, 0, 0, 0]), [1, 0, 0, 0])


def test_sampling_covers_the_options():
    rng = np.random.default_rng(0)
    seen = {tuple(task.sample_axis("random", rng)) for _ in range(200)}
    assert len(seen) == 6
    quats = [task.sample_wrist("random", rng)[1] for _ in range(200)]
    # uniform rotations: the palm face points up about as often as down
    up = np.mean([(geometry.quat_to_mat(q) @ PALM_FACE)[2] > 0 for q in quats])
    assert 0.35 < up < 0.65


def test_nearest_named_wrist_uses_gravity_in_the_palm_frame():
    tilt = geometry.axis_angle_quat(np.array([1.0, 0, 0]), 0.3)
    almost_palm_up = geometry.quat_mul(tilt, task.WRISTS["palm_up"])
    assert task.nearest_named_wrist(almost_palm_up) == "palm_up"
    for name, quat in task.WRISTS.items():
        assert task.nearest_named_wrist(quat) == name  # gravity differs in every named one
