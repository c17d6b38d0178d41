"""The plan: what a run is made of, before anything is measured.

- :mod:`suite.plan.presets`: the named presets (grids, budgets, model sizes) and their values' checks;
- :mod:`suite.plan.overrides`: ``--set key=value`` and ``--config file.toml`` applied to a preset;
- :mod:`suite.plan.settings`: the typed run options, run context and child settings;
- :mod:`suite.plan.matching`: parameter-matched widths (``run --match params``);
- :mod:`suite.plan.planning`: the cells a run measures, each keyed by a hash of what defines its result.

It may import the registry (models and tasks) and the core helpers of ``suite``; measurement,
executors and commands import it, never the other way.
"""
