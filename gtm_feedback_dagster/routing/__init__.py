"""Semantic matching and three-tier routing of feedback entries (plain Python, no Dagster)."""
