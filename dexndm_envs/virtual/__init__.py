"""The virtual LEAP hand's servos: the Dynamixel servo and gear-train model (servos) and the
hardware profiles it is built from (profiles).
"""
