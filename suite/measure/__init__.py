"""Measurement in this process: one cell, its timing, memory, energy and training. Imports torch."""
