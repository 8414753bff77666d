"""The simulated rotation task DexNDM-Rotate-v0: the MuJoCo scene, the ideal hand, rewards,
domain randomisation, the objects and the cached grasps.
"""
