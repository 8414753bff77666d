"""Pictures of what DexNDM-Rotate-v0 offers: every object in the hand, every wrist orientation.

Writes two PNG contact sheets, objects.png and wrists.png, to --out-dir (outputs/gallery): one
tile per object of an object set, held in its first cached grasp, and one tile per named wrist
orientation. The README shows the ones in examples/images; the last command rebuilds them.

Usage:
    MUJOCO_GL=egl python examples/gallery.py
    MUJOCO_GL=egl python examples/gallery.py --object-set cylinder --tile 240
    MUJOCO_GL=egl python examples/gallery.py --out-dir examples/images   # the README's images
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering unless the user chose otherwise

import gymnasium as gym
import imageio.v2 as imageio
import numpy as np

import dexndm_envs  # noqa: F401
from dexndm_envs.core.cli import check_at_least, checking_input, run
from dexndm_envs.core.task import WRISTS
from dexndm_envs.sim.objects.catalog import resolve_object_set


@dataclass
class Args:
    """Render contact sheets of objects and wrist orientations."""

    object_set: str = "all"
    """A category, "all", or an object name: one tile each."""
    out_dir: Path = Path("outputs/gallery")
    """Where objects.png and wrists.png go (examples/images: the README's)."""
    tile: int = 160
    """Tile size in pixels."""
    columns: int = 11


def render_tile(object_set: str, wrist: str, tile: int) -> np.ndarray:
    env = gym.make(
        "DexNDM-Rotate-v0",
        object_set=object_set,
        wrist=wrist,
        render_mode="rgb_array",
        width=tile,
        height=tile,
    )
    env.reset(seed=0)
    frame = env.render()
    env.close()
    return frame


def sheet(tiles: list[np.ndarray], columns: int) -> np.ndarray:
    rows = -(-len(tiles) // columns)
    blank = np.zeros_like(tiles[0])
    tiles = tiles + [blank] * (rows * columns - len(tiles))
    return np.concatenate(
        [np.concatenate(tiles[r * columns : (r + 1) * columns], axis=1) for r in range(rows)],
        axis=0,
    )


def main(args: Args) -> None:
    check_at_least({"--tile": (args.tile, 16), "--columns": (args.columns, 1)})
    with checking_input("--object-set"):
        names = [spec.name for spec in resolve_object_set(args.object_set)]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    objects = [render_tile(name, "palm_up", args.tile) for name in names]
    path = args.out_dir / "objects.png"
    imageio.imwrite(path, sheet(objects, args.columns))
    print(f"{path}: {len(names)} objects, palm up, in this order: {', '.join(names)}")
    wrists = [render_tile("cube", wrist, 2 * args.tile) for wrist in WRISTS]
    path = args.out_dir / "wrists.png"
    imageio.imwrite(path, sheet(wrists, len(wrists)))
    print(f"{path}: {', '.join(WRISTS)}")


if __name__ == "__main__":
    run(main, Args)
