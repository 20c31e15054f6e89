"""Labelled paragraphs to a fitted, evaluated, packaged model; applying a packaged model.

The public API (``load_model``, ``tag_report``, ``tag_paths`` …) is the package's own:
``import cppcc_themes``.
"""
