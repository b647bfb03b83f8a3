"""Dataset-level analysis: what the measured tables say about the whole dataset.

- :mod:`~eda_lib.analysis.derive`: the tables computed after every pass (health flags,
  leakage groups, folds);
- :mod:`~eda_lib.analysis.folds`: leakage groups and grouped, stratified folds;
- :mod:`~eda_lib.analysis.stats`: the summary tables the notebooks show;
- :mod:`~eda_lib.analysis.summary`: findings and recommendations, each computed from the tables;
- :mod:`~eda_lib.analysis.scoring`: a submission scored or validated against a dataset.
"""
