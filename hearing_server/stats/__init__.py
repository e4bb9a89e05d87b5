"""Public board statistics (issue #16): computed from the database, cached as snapshots
that state the audit-chain head they were computed at, and re-checkable by
``heyat stats verify``."""
