"""Reference data (data files) and its idempotent loader."""
