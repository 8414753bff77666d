"""Episodes on disk: the file format (format) and reading and writing episodes (episodes)."""
