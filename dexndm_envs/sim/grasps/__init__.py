"""Start grasps: the cache every reset draws from (cache) and the search that builds it
(synthesis).
"""
