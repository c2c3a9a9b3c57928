"""The benchmark: ``python -m benchmarks.bench`` (see README.md here)."""
