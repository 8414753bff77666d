"""The DexNDM method: a base policy's rollouts (rollouts), the data and dynamics models
(data, models, fitting), the residual adapters (adapters), model and adapter in one file
(bundle), NDMResidualWrapper (wrapper), the hands the loop compares (hands) and the loop
itself (loop, loop_report).
"""
