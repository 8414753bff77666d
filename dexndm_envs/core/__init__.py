"""What every part of the package shares: constants of the LEAP hand, geometry, the one
observation/action interface of sim and hardware, the task's metrics and start poses, crash-safe
writes, build provenance and settings files. Imports nothing else of dexndm_envs.
"""
