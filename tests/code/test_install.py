"""An installed package works without a checkout: the wheel holds the code, the experiment
files and the labelled data; tagging finds a model where training put it, or says exactly
what to do."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from cppcc_themes.experiments.commands.train import experiment_file
from cppcc_themes.train.locate import (
    DATA_ENV,
    MODEL_ENV,
    ModelNotFoundError,
    find_model_dir,
    package_dir_for,
    user_model_dir,
)

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"


def _fake_model(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text("{}", encoding="utf-8")
    return folder


def test_model_is_looked_for_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    monkeypatch.delenv(MODEL_ENV, raising=False)
    with pytest.raises(ModelNotFoundError) as error:
        find_model_dir()
    message = str(error.value)
    assert "cppcc-themes train" in message and "--model" in message and MODEL_ENV in message
    assert str(user_model_dir()) in message and "models/default" in message
    _fake_model(user_model_dir())
    assert find_model_dir() == user_model_dir()
    _fake_model(tmp_path / "models" / "default")
    assert find_model_dir() == Path("models/default")
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "elsewhere"))
    assert find_model_dir() == tmp_path / "elsewhere"
    assert find_model_dir("given") == Path("given")


def test_training_outside_a_checkout_packages_into_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    monkeypatch.chdir(ROOT)
    assert package_dir_for("models/default") == Path("models/default")
    monkeypatch.chdir(tmp_path)
    assert package_dir_for("models/default") == tmp_path / "data" / "models" / "default"
    assert package_dir_for(tmp_path / "abs") == tmp_path / "abs"


def test_shipped_experiments_are_found_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert experiment_file("baseline") == ROOT / "experiments" / "baseline.toml"
    assert experiment_file("no-such-experiment") == Path("no-such-experiment")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A throwaway venv with the project's wheel installed (no network: the wheel without
    dependencies; the dependencies are the locked environment's, put on the path by a .pth
    file, which does not bring this checkout's own editable install along)."""
    if not UV.exists():
        pytest.skip("the pinned uv is not installed")
    folder = tmp_path_factory.mktemp("install")
    subprocess.run([str(UV), "build", "--wheel", "--quiet", "-o", str(folder / "dist")],
                   cwd=ROOT, check=True, timeout=300)
    [wheel] = (folder / "dist").glob("*.whl")
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    purelib = Path(subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "locked-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(UV), "pip", "install", "--quiet", "--offline", "--no-deps", "--python",
                    str(venv / "bin" / "python"), str(wheel)], check=True, timeout=300)
    return venv


def _run(venv: Path, arguments: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "MLFLOW_DISABLE_TELEMETRY": "true",
                   "HF_DATASETS_OFFLINE": "1", DATA_ENV: str(cwd / "data"), **env}
    return subprocess.run([str(venv / "bin" / arguments[0]), *arguments[1:]], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_installed_wheel_is_one_namespace_and_tags(installed, packaged_model_dir, seed_paths,
                                                   tmp_path):
    code = ("import importlib.util as u, cppcc_themes; cppcc_themes.load_model; "
            "print(cppcc_themes.__file__); "
            "print([n for n in ('train', 'features', 'experiments') if u.find_spec(n)])")
    result = _run(installed, ["python", "-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    location, top_level = result.stdout.splitlines()
    assert location.startswith(str(installed)) and top_level == "[]"
    no_model = _run(installed, ["cppcc-themes", "tag", str(seed_paths["seed-001"])], tmp_path)
    assert no_model.returncode == 2
    assert "cppcc-themes train baseline" in no_model.stderr
    tagged = _run(installed, ["cppcc-themes", "tag", str(seed_paths["seed-001"]), "--format",
                              "jsonl"], tmp_path, **{MODEL_ENV: str(packaged_model_dir)})
    assert tagged.returncode == 0, tagged.stderr
    assert len(tagged.stdout.splitlines()) > 10


@pytest.mark.slow
def test_installed_package_trains_the_default_experiment_and_tags_with_it(installed,
                                                                          seed_paths,
                                                                          tmp_path):
    trained = _run(installed, ["cppcc-themes", "train", "--quiet"], tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "data" / "models" / "default" / "model.joblib").is_file()
    tagged = _run(installed, ["cppcc-themes", "tag", str(seed_paths["seed-001"])], tmp_path)
    assert tagged.returncode == 0, tagged.stderr
    assert "seed-001" in tagged.stdout
    assert not os.path.exists(tmp_path / "models")
