"""Sequence models: one file per family around the shared backbone (``backbone.py``).

Each family module exposes ``DESCRIPTION``, ``BACKENDS`` (preference order),
``DEFAULTS`` (its options), ``probe(backend, device)`` and
``make_mixer(d_model, backend, layer_index, **options)``. Nothing here knows
the harness.
"""
