"""Collect chaos-box data: replay action trajectories on the LEAP hand, with noise, no resets.

The hand sits in a box of soft balls (arXiv 2510.08556, "Chaos Box") and replays action
trajectories open loop at 20 Hz through DexNDM-Real-v0, half of them with Gaussian noise
(sigma 0.01 on the normalised action). The env is reset once; an episode is a chunk of --steps
steps and the hand goes straight on into the next. Each episode is written atomically when it
is complete: a killed run loses at most one episode; run the same command again to resume (an
episode file that does not load whole is set aside and collected again). Ctrl-C, SIGTERM and
SIGHUP (a dropped SSH session; run under nohup to keep going) stop it at the next step with the
torque off; a second collector on the same --out is refused. Action generator, noise units,
resume rules: dexndm_envs/chaos/collection.py; what SIGKILL leaves: real/README.md.

Usage:
    python real/collect_chaos_box.py --port /dev/ttyUSB0 --out data/chaos_box/palm_down \\
        --actions rollouts.npz --wrist palm_down --hand-config real/leap_hand.yaml
    # against the virtual hand (prints PORT=...):
    python real/virtual_hand.py --scene chaos_box --wrist palm_down --lockstep
    python real/collect_chaos_box.py --port /dev/pts/3 --episodes 10 --steps 100 \\
        --out /tmp/chaos --no-realtime --hardware-note "virtual default seed 0"
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import gymnasium as gym
from tqdm import tqdm

import dexndm_envs  # noqa: F401  (registers DexNDM-Real-v0)
from dexndm_envs.chaos import actions as chaos_actions
from dexndm_envs.chaos import collection as chaos
from dexndm_envs.core.cli import run
from dexndm_envs.core.shutdown import ShutdownSignal
from dexndm_envs.data.episodes import EpisodeDataError, EpisodeWriter
from dexndm_envs.hand.config import HandConfig, HandConfigError, load_hand_config
from dexndm_envs.real.bus import DynamixelError


@dataclass
class Args:
    """Replay action trajectories on the hand in the chaos box and record them."""

    out: Path
    """Directory of the episodes (episode_<index>.npz) and collection.json; one collector at a
time (it holds out/.writer.lock)."""
    port: str = "/dev/ttyUSB0"
    """The hand's serial device, or the virtual hand's PORT=... path."""
    episodes: int = 4000
    """Episode indices 0 .. episodes-1 are collected (those already on disk are skipped)."""
    steps: int = 400
    """Control steps (20 Hz) per episode; 400 = 20 s, as in the paper."""
    actions: Path | None = None
    """.npz/.npy of action trajectories (n_traj x steps x 16, in [-1, 1]), e.g. sim rollouts.
Episode e replays trajectory e mod n_traj. Default: the built-in smooth random generator."""
    hand_config: Path | None = None
    """Hand config YAML/JSON (real/leap_hand.yaml); the LEAP default when not given."""
    wrist: str = "palm_down"
    """How the hand is mounted: palm_up, palm_down, base_up, base_down, thumb_up, thumb_down."""
    seed: int = 0
    """Episode e's trajectory and noise draw come from (seed, e)."""
    realtime: bool = True
    """Keep the 20 Hz period; --no-realtime steps as fast as the bus allows (lockstep hand)."""
    hardware_note: str = ""
    """Recorded with every episode, e.g. "virtual default seed 0" or the hand's serial."""
    target_noise_rad: float = 0.0
    """Sigma (rad) of i.i.d. offsets on the commanded targets past the action bound (off: the
paper's collection). Excites what replayed policy actions at the bound cannot. A target then
moves up to 1/24 + 6 sigma rad in a step, which must fit the hand config's max_target_step_rad
(checked before anything moves): at most 0.026 with the default 0.2 rad, e.g. 0.02."""
    bus_timeout_ms: float = 0.0
    """Least wait for a motor's reply (0: the SDK's ~34 ms); raise it (e.g. 200) for a lockstep
    virtual hand in the chaos box, which computes a control period of physics per write."""


class Plan(NamedTuple):
    """What was checked before the hand moves."""

    source: chaos_actions.ActionSource
    hand: HandConfig
    settings: chaos.CollectionSettings
    writer: EpisodeWriter
    todo: list[int]


def prepare(args: Args) -> Plan:
    """Read and check the inputs and the output directory; nothing moves yet."""
    if args.episodes < 1 or args.steps < 1:
        raise chaos.CollectionError("--episodes and --steps must be at least 1")
    if args.actions is None:
        source: chaos_actions.ActionSource = chaos_actions.SmoothRandomActions(args.steps)
    else:
        source = chaos_actions.ActionFile.load(args.actions, args.steps)
    hand = load_hand_config(args.hand_config)
    settings = chaos.collection_settings(
        port=args.port,
        wrist=args.wrist,
        hand_config_file=args.hand_config,
        hand=hand,
        source=source,
        seed=args.seed,
        realtime=args.realtime,
        hardware_note=args.hardware_note,
        target_noise_rad=args.target_noise_rad,
        max_target_step_rad=hand.max_target_step_rad,
    )
    writer, todo = chaos.prepare_directory(args.out, settings, args.episodes)
    return Plan(source, hand, settings, writer, todo)


def collect(args: Args, plan: Plan) -> tuple[int, int, int]:
    """Run the missing episodes; returns (episodes, steps, overruns). Torque off in any case."""
    env = gym.make(
        "DexNDM-Real-v0",
        port=args.port,
        hand_config=plan.hand,
        wrist=args.wrist,
        realtime=args.realtime,
        bus_timeout_ms=args.bus_timeout_ms,
    )
    episodes = steps = 0
    stop = chaos.StopRequest()
    collector = chaos.ChaosBoxCollector(env, plan.writer, plan.source, plan.settings, stop)
    try:
        collector.start()  # opens the bus: the StopRequest comes after its SIGINT handler
        with stop, tqdm(plan.todo, desc="episodes", unit="ep", file=sys.stderr) as bar:
            for index in bar:
                stats = collector.collect(index)
                episodes, steps = episodes + 1, steps + stats.steps
                rate = stats.steps / max(stats.duration_s, 1e-9)
                bar.set_postfix(steps_per_s=f"{rate:.1f}", overruns=collector.overruns)
    finally:
        env.close()  # torque off, also on Ctrl-C and errors
    return episodes, steps, collector.overruns


def main(args: Args) -> int:
    try:
        plan = prepare(args)
    except (chaos.CollectionError, HandConfigError, OSError) as err:  # OSError: --out
        print(f"error: {err}", file=sys.stderr)
        return 2
    directory = plan.writer.directory
    if not plan.todo:
        print(f"all {args.episodes} episodes are already in {directory}")
        return 0
    started_s = time.monotonic()
    try:
        episodes, steps, overruns = collect(args, plan)
    except (KeyboardInterrupt, ShutdownSignal) as err:  # the torque is off
        signum = getattr(err, "signum", signal.SIGINT)
        with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
            print(
                f"\ninterrupted by {signal.Signals(signum).name}; torque off; "
                "run the same command again to resume",
                file=sys.stderr,
            )
        return 128 + signum
    except (DynamixelError, EpisodeDataError) as err:
        print(f"error: {err}\nrun the same command again to resume", file=sys.stderr)
        return 1
    duration_s = time.monotonic() - started_s
    print(
        f"collected {episodes} episodes ({steps} steps) in {duration_s:.1f} s, "
        f"{steps / duration_s:.1f} steps/s, {overruns} overruns; "
        f"{args.episodes - len(plan.todo) + episodes}/{args.episodes} episodes in {directory}"
    )
    return 0


if __name__ == "__main__":
    run(main, Args)
