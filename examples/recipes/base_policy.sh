#!/usr/bin/env bash
# The shipped base policy from scratch: a gait and an oracle specialist for each share of the
# starts (cylinders flat against the axis, and on their side), each specialist trained on the
# nominal hand first and then on under domain randomisation, and one proprioceptive
# generalist distilled from both under randomisation (docs/training.md).
#
# Usage:
#   bash examples/recipes/base_policy.sh [RUNS_DIR]     # default runs/base_policy
#
# Every step writes its own directory under RUNS_DIR and is skipped when its result exists;
# a training step that was stopped (Ctrl-C, a crash) continues from its newest checkpoint when
# the recipe runs again (train.py does that itself, and returns at once for a run that
# completed). The specialists observe 3 steps of history (the generalist 10). The generalist is
# RUNS_DIR/generalist/generalist.pt; ship it with `cp` to dexndm_agents/policies/pretrained/.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-runs/base_policy}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # the shipped file was made so: same digits

REWARD='{"reward": {"rot_clip_rad_s": 1.0, "drop": 50, "pose": 0.0, "work": 0.2, "torque": 0.01}}'
PPO='{"n_steps": 256, "learning_rate": 3e-4, "target_kl": 0.02}'
# the shipped specialists observe 3 steps of history (the env's default is 10, which the
# generalist uses); a gait records it, and training on offsets from the gait needs the same
HISTORY=(--env.history-len 3)
GAIT=(--space target --generations 60 --population 24 --elite 6 --episodes 3 "${HISTORY[@]}")
TEACHER=(--env.obs-mode oracle --eval-every 250000 --eval-episodes 10 "${HISTORY[@]}"
         --env.config "$REWARD" --hyperparams "$PPO")

step() { echo; echo "== $(date +%H:%M:%S) $*"; }

# train OUT STEPS ARGS...: train.py starts the run, continues it from its newest checkpoint,
# or returns at once when it has completed (its final_model.zip is written only then)
train() {
  local out=$1 steps=$2
  shift 2
  python examples/train.py "${TEACHER[@]}" "$@" --total-timesteps "$steps" --out-dir "$out"
}

step "gait for flat starts (start tilt 0-30 deg)"
[ -f "$RUNS/gait_flat/gait.json" ] || python examples/search_gait.py "${GAIT[@]}" \
    --env.start-tilt-deg 0 30 --out-dir "$RUNS/gait_flat"
step "gait for starts on the side (60-90 deg)"
[ -f "$RUNS/gait_side/gait.json" ] || python examples/search_gait.py "${GAIT[@]}" \
    --env.start-tilt-deg 60 90 --out-dir "$RUNS/gait_side"

# then_randomised OUT STEPS CHECKPOINT ARGS...: go on from the nominal run's CHECKPOINT under
# domain randomisation, to STEPS in all; OUT's run records where it started, and later calls
# continue OUT's own run
then_randomised() {
  local out=$1 steps=$2 checkpoint=$3
  shift 3
  local start=()
  [ -f "$out/config.json" ] || start=(--resume "$checkpoint")
  train "$out" "$steps" --env.domain-randomization "$@" ${start[@]+"${start[@]}"}
}

FLAT=(--gait "$RUNS/gait_flat/gait.json" --env.start-tilt-deg 0 60)
SIDE=(--gait "$RUNS/gait_side/gait.json" --env.start-tilt-deg 60 90)
step "flat specialist (0-60 deg): nominal hand"
train "$RUNS/flat_nominal" 3000000 "${FLAT[@]}"
step "flat specialist: randomised"
then_randomised "$RUNS/teacher_flat" 4500000 \
    "$RUNS/flat_nominal/checkpoints/ppo_3000000_steps.zip" "${FLAT[@]}"
step "on-side specialist (60-90 deg): nominal hand"
train "$RUNS/side_nominal" 2000000 "${SIDE[@]}"
step "on-side specialist: randomised"
then_randomised "$RUNS/teacher_side" 3000000 \
    "$RUNS/side_nominal/checkpoints/ppo_2000000_steps.zip" "${SIDE[@]}"
step "distil the generalist"
[ -f "$RUNS/generalist/generalist.pt" ] || python examples/distill.py \
    --specialists "$RUNS/teacher_flat/final_model.zip" "$RUNS/teacher_side/final_model.zip" \
    --episodes 400 --width 256 --blocks 3 --epochs 40 --action-noise 0.2 \
    --out-dir "$RUNS/generalist"  # collected under the specialists' randomisation
step "done: $RUNS/generalist/generalist.pt"
