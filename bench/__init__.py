"""Benchmarks and reproducible measurement commands (`python -m bench.<name>`)."""
