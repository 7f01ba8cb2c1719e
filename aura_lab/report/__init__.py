"""What people look at: charts (``plots``) and the HTML report of a run (``render``,
which executes the bundled ``report.ipynb``)."""
