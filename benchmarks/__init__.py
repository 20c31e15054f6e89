"""Side-by-side benchmarks: each prints a ratio measured in one run against a reference on the
same input, the absolute figures, and PASS/FAIL against the targets of issue 6.

Run all with ``make bench`` (``python -m benchmarks``); ``--only NAME`` runs one.
"""
