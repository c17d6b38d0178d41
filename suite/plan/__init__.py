"""The plan: what a run is made of, before anything is measured.

- :mod:`suite.plan.preset_groups`: what a preset holds, in typed groups (model, accuracy, training,
  stopping, perf, run), each field with one flat name;
- :mod:`suite.plan.preset_checks`: which values each preset field accepts;
- :mod:`suite.plan.presets` and :mod:`suite.plan.paper_presets`: the named presets;
- :mod:`suite.plan.overrides`: ``--set key=value`` and ``--config file.toml`` applied to a preset;
- :mod:`suite.plan.settings`: the typed run options, run context and child settings;
- :mod:`suite.plan.matching`: parameter-matched widths (``run --match params``);
- :mod:`suite.plan.cells` and :mod:`suite.plan.cell_configs`: the typed cells, one kind per dataclass,
  each keyed by a hash of what defines its result;
- :mod:`suite.plan.planning`: the cells a run measures, built from a preset and the run's choices.

It may import the registry (models and tasks) and the core helpers of ``suite``; measurement,
executors and commands import it, never the other way.
"""
