"""Scans and kernels the mixers use."""
