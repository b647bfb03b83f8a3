"""The report: figures, notebooks run headless, and their pages.

- :mod:`~eda_lib.report.plots`: pure drawing functions over arrays and tables;
- :mod:`~eda_lib.report.gallery`: choosing and loading the images a figure shows;
- :mod:`~eda_lib.report.figures`: the figure sets of each section, from tables and images;
- :mod:`~eda_lib.report.session`: what a notebook does first (parameters, tables, style);
- :mod:`~eda_lib.report.runner`: the data pass, then every notebook (papermill), then
  the pages;
- :mod:`~eda_lib.report.records`: what a run produced, per notebook;
- :mod:`~eda_lib.report.pages`: the index page and the section pages (nbconvert);
- :mod:`~eda_lib.report.diff`: what changed between two runs' outputs, for review.
"""
