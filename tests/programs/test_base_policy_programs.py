"""The base-policy programs end to end: train_specialists and distill, evaluate."""

from __future__ import annotations

import json

import pytest
from helpers import run_program

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_agents.base_policy.distillation import (
    BCDataset,
)
from dexndm_agents.policies.files import load_policy
from dexndm_agents.policies.generalist import Generalist


def test_train_specialists_then_distill_end_to_end(repo_root, tmp_path):
    specialists_dir, generalist_dir = tmp_path / "specialists", tmp_path / "generalist"
    out = run_program(
        "examples/train_specialists.py",
        *("--categories", "cuboid", "--total-timesteps", "200", "--n-envs", "2"),
        *("--eval-every", "0", "--checkpoint-every", "0", "--no-progress"),
        *("--out-dir", str(specialists_dir)),
    )
    final = specialists_dir / "cuboid" / "final_model.zip"
    assert f"SPECIALIST cuboid {final}" in out.splitlines()
    index = specialists_dir / "specialists.json"
    assert json.loads(index.read_text()) == {"cuboid": "cuboid/final_model.zip"}
    assert load_policy(final).env_kwargs["obs_mode"] == "oracle"

    out = run_program(
        "examples/distill.py",
        *("--specialists", str(index), "--episodes", "2", "--episode-steps", "20"),
        *("--epochs", "2", "--width", "32", "--blocks", "1", "--eval-episodes", "1"),
        *("--out-dir", str(generalist_dir)),
    )
    lines = out.splitlines()
    assert lines[-1] == f"MODEL={generalist_dir / 'generalist.pt'}"
    assert "cuboid: kept 2/2 episodes" in lines
    evaluation = json.loads((generalist_dir / "evaluation.json").read_text())
    assert [(r["object_set"], r["wrist"], r["axis"], r["episodes"]) for r in evaluation] == [
        ("cuboid", "palm_up", "+z", 1)
    ]
    generalist = load_policy(generalist_dir / "generalist.pt")
    assert isinstance(generalist, Generalist) and generalist.history_len == 10
    assert generalist.env_kwargs["object_set"] == ["cuboid"]
    assert (generalist.net.width, generalist.net.num_blocks) == (32, 1)
    dataset = BCDataset.load(generalist_dir / "bc_dataset.npz")
    assert dataset.obs.shape == (40, 327) and dataset.episode_steps == 20
    assert (generalist_dir / "bc_loss.png").stat().st_size > 5_000

    # a policy file instead of the index: its category comes from its own options
    out = run_program(
        "examples/distill.py",
        *("--specialists", str(final), "--episodes", "1", "--episode-steps", "5"),
        *("--epochs", "1", "--width", "8", "--blocks", "1", "--val-fraction", "0"),
        *("--eval-episodes", "0", "--no-success-only", "--out-dir", str(tmp_path / "g2")),
        "--domain-randomization", "True",
    )  # fmt: skip
    assert "cuboid: kept 1/1 episodes" in out and out.splitlines()[-1].startswith("MODEL=")
    # collected under randomisation, it still acts on the nominal task
    assert (
        load_policy(tmp_path / "g2" / "generalist.pt").env_kwargs["domain_randomization"] is False
    )


def test_train_specialists_refuses_unknown_categories():
    err = run_program(
        "examples/train_specialists.py", "--categories", "cuboid", "cube", expect_failure=True
    )
    assert "unknown or none given (cube); valid: cylinder" in err and "Traceback" not in err


@pytest.mark.parametrize("hardware", ["ideal", "virtual"])
def test_evaluate_program_prints_and_saves_the_table(repo_root, tmp_path, hardware):
    video = ["--video"] if hardware == "virtual" else []
    out = run_program(
        "examples/evaluate.py",
        *("--policy", "zero", "--episodes", "1", "--max-steps", "8", "--hardware", hardware),
        *("--object-sets", "cube", "--wrists", "palm_up", "palm_down", "--out-dir", str(tmp_path)),
        *video,
    )
    assert f"hardware: {hardware}" in out
    header = next(line for line in out.splitlines() if line.startswith("object set"))
    assert "RotR" in header and "TTF" in header and "RotP" in header
    assert f"csv: {tmp_path / 'evaluation.csv'}" in out
    saved = json.loads((tmp_path / "evaluation.json").read_text())
    assert [(r["wrist"], r["episodes"]) for r in saved] == [("palm_up", 1), ("palm_down", 1)]
    assert (tmp_path / "evaluation.csv").read_text().count("\n") == 3
    assert "start tilt" in out and f"episodes: {tmp_path / 'episodes.csv'}" in out
    episodes = json.loads((tmp_path / "episodes.json").read_text())
    assert [(e["wrist"], e["seed"]) for e in episodes] == [("palm_up", 0), ("palm_down", 0)]
    assert all(0.0 <= e["start_tilt_deg"] <= 90.0 for e in episodes)
    assert (tmp_path / "episodes.png").stat().st_size > 5_000
    videos = sorted(p.name for p in tmp_path.glob("*.mp4"))
    assert videos == (["cube_palm_down_pz.mp4", "cube_palm_up_pz.mp4"] if video else [])
    assert all((tmp_path / name).stat().st_size > 5_000 for name in videos)
