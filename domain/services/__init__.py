"""Use cases: each takes an AsyncSession (the unit of work) and plain values."""
