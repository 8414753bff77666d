"""The task's objects: primitive shapes (shapes), the paper's object designs (designs) and the
named object sets (catalog).
"""
