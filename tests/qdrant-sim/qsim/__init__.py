"""Modules of the Qdrant simulator (tests/qdrant-sim/qdrant-sim.py)."""
