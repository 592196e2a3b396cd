"""Gene calls: each knockout line tested against its matched controls, at a stated FDR.

Plain Python on numpy arrays and DataFrames (no Kedro). ``calls.call_genes`` is the entry
point; ``evidence`` (each mouse against its matched controls), ``statistics`` (per line),
``null`` (the Monte Carlo null from the controls) hold its parts; ``line_test`` is the
plain baseline it must beat, ``scores`` scores line calls against a truth file.
"""
