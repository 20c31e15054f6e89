"""Helpers for tests that damage a copy of a packaged model."""

import json
import shutil


def copy_model(model_dir, tmp_path):
    """A private copy of a packaged model directory."""
    target = tmp_path / "model"
    shutil.copytree(model_dir, target)
    return target


def edit_metadata(directory, **changes):
    """Overwrite keys of a model directory's metadata.json."""
    path = directory / "metadata.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta.update(changes)
    path.write_text(json.dumps(meta), encoding="utf-8")
