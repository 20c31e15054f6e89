"""The one-way data flow and the import-time rules of the package layout."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(package: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(_top(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(_top(node.module))
    return names


def _top(module: str) -> str:
    """The package a module belongs to: ``cppcc_themes.train.x`` -> ``train``."""
    parts = module.split(".")
    return parts[1] if parts[0] == "cppcc_themes" and len(parts) > 1 else parts[0]


def test_features_imports_neither_train_nor_experiments():
    assert not _imported_modules("features") & {"train", "experiments", "mlflow"}


def test_train_imports_neither_experiments_nor_mlflow():
    assert not _imported_modules("train") & {"experiments", "mlflow"}


@pytest.mark.parametrize("module", ["cppcc_themes", "cppcc_themes.features",
                                    "cppcc_themes.train", "cppcc_themes.experiments",
                                    "cppcc_themes.experiments.cli",
                                    "cppcc_themes.features.tokenize",
                                    "cppcc_themes.train.predict", "cppcc_themes.train.package"])
def test_import_has_no_side_effects(module, tmp_path):
    """Importing creates no file, sets no tracking URI and imports no mlflow."""
    code = (f"import sys, os; import {module}; "
            "assert 'mlflow' not in sys.modules, 'mlflow imported'; "
            "assert 'MLFLOW_TRACKING_URI' not in os.environ; "
            "print(sorted(os.listdir('.')))")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert not (tmp_path / ".cache").exists()


def test_tagging_path_imports_neither_mlflow_nor_datasets(packaged_model_dir, seed_paths,
                                                          tmp_path):
    code = ("import sys; from cppcc_themes.experiments.cli import main; "
            f"rc = main(['tag', {str(seed_paths['seed-000'])!r}, '--model', "
            f"{str(packaged_model_dir)!r}, '--format', 'jsonl']); "
            "heavy = [m for m in ('mlflow', 'datasets') if m in sys.modules]; "
            "assert rc == 0 and not heavy, heavy")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_one_namespace_and_nothing_else_at_top_level(tmp_path):
    """Outside the checkout, the package is cppcc_themes; train, features and experiments are not
    importable as top-level modules (a user's own train.py must not collide with ours)."""
    code = ("import importlib.util as u, cppcc_themes; "
            "assert callable(cppcc_themes.load_model) and callable(cppcc_themes.tag_report); "
            "print([n for n in ('train', 'features', 'experiments') if u.find_spec(n)])")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
