"""``fleethub bench``: end-to-end figures for docs/performance.md (never a timed test)."""
