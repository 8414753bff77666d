"""Physics engines under the sim environments: MuJoCo, and PhysX (SAPIEN) as a world nobody
here wrote. An engine advances a scene's MuJoCo state (`mujoco.MjData`) as `mujoco.mj_step`
does, so that the task, the virtual hand's servo model and the chaos box run unchanged on
either; a world profile (engines.world) says how PhysX runs a scene. Imports core only.
"""
