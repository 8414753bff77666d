"""The LEAP hand on its Dynamixel bus: the client bus, calibration, DexNDM-Real-v0 (env) and
the simulated hand that the emulated bus serves (emulated_hand).
"""
