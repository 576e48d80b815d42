"""Grading past one machine: Dask executors and the PostgreSQL gradebook."""
