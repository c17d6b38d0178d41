"""The report's sections, one module per section, each a builder
``builder(inputs: suite.report.html.ReportInputs) -> Section | None`` that renders from the run's
analysis (``inputs.analysis``, built once per report):

- ``header``: the first screen (run identity, provenance, warnings);
- ``headline``: the headline (best per task and length, the verdicts), accuracy-vs-length curves,
  the accuracy/throughput Pareto plot and the table of every record;
- ``status``, ``summary``, ``accuracy``, ``perf``, ``not_ok``, ``provenance``: one section each;
- ``questions`` (with ``question_figures``): which family solves what;
- ``compute``: steps and seconds to the target; ``paper``: paper vs measured; ``speed``: ``bench speed``;
- ``hybrids``: attention layers in recurrent stacks; ``real_data``: language models and classifiers on real data.
"""
