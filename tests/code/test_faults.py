"""Fault suite (issue 14): bad inputs, model folder faults and a training killed mid-swap.

Every bad input is generated here at test time. Cases that could eat the machine (zip bomb,
/dev/zero, huge files) run in a child process under a time limit and an address-space limit,
and the child's own peak memory is checked against the bound the README documents.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import zipfile
from pathlib import Path

import joblib
import pytest
from model_files import copy_model, edit_metadata

from cppcc_themes.experiments.cli import main
from cppcc_themes.features.readers import ReadError, read_report
from cppcc_themes.train.package import load_model, save_model

CLI = Path(sys.executable).with_name("cppcc-themes")
SEED_000_PARAGRAPHS = 9
# The README's memory bound for tagging one batch of bad inputs (peak resident set).
MEMORY_BOUND_MB = 1000
_ADDRESS_SPACE_CAP = 8 << 30  # a runaway reader hits this, not the machine
_CHILD_LIMIT_MB = 5  # CPPCC_THEMES_MAX_FILE_MB in the child: small bombs show the bound
# Random bytes come from seeded generators, the same every run: about 1 in 2,000 random
# 16-byte files still reads as a plausible scrap of Chinese text (issue 14 had 45 in 100).


def _run_bounded(command, *, stdin=subprocess.DEVNULL, env=None, timeout=120):
    """Run a command under a time limit and an address-space cap; return (exit code, stdout,
    stderr lines, peak resident MB of the child)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (_ADDRESS_SPACE_CAP, _ADDRESS_SPACE_CAP))

    process = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, preexec_fn=limit)
    streams = {}
    readers = [threading.Thread(target=lambda name=name: streams.__setitem__(
        name, getattr(process, name).read())) for name in ("stdout", "stderr")]
    for reader in readers:
        reader.start()
    expired = threading.Event()

    def expire():
        expired.set()
        process.kill()

    timer = threading.Timer(timeout, expire)
    timer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak memory
    finally:
        timer.cancel()
    for reader in readers:
        reader.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if expired.is_set():
        pytest.fail(f"{command[:3]} still running after {timeout} s")
    return (process.returncode, streams["stdout"].decode(),
            streams["stderr"].decode().splitlines(), usage.ru_maxrss / 1024)


def _child_env(**extra):
    env = {**os.environ, "CPPCC_THEMES_MAX_FILE_MB": str(_CHILD_LIMIT_MB), **extra}
    env.pop("CPPCC_THEMES_CACHE", None)  # the child gets its own, below
    return env


def _zip_bomb(path: Path, inflated_mb: int) -> Path:
    """A .docx whose document part inflates to ``inflated_mb`` MB of spaces."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        with package.open("word/document.xml", "w") as part:
            block = b" " * (1 << 20)
            for _ in range(inflated_mb):
                part.write(block)
    return path


def _sparse(path: Path, megabytes: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(megabytes * 1_000_000)
    return path


def _bad_inputs(folder: Path, seed_text: str) -> dict[str, str]:
    """Bad inputs, by path, with what their error line must say."""
    noise_source = random.Random(14)
    cases = {}
    cases[str(_zip_bomb(folder / "bomb.docx", 40))] = "inflates to 42 MB, over the 5 MB limit"
    cases[str(_zip_bomb(folder / "bomb.xlsx", 40))] = "inflates to 42 MB, over the 5 MB limit"
    for suffix in (".txt", ".jsonl", ".html", ".pdf", ".csv", ".parquet"):
        cases[str(_sparse(folder / f"huge{suffix}", 6))] = "larger than the 5 MB limit"
    truncated = folder / "truncated.pdf"
    truncated.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    cases[str(truncated)] = "not a readable PDF"
    header = folder / "header.pdf"
    header.write_bytes("这不是PDF文件".encode() * 20)
    cases[str(header)] = "not a readable PDF"
    for number in range(20):
        noise = folder / f"random-{number:02d}.txt"
        noise.write_bytes(noise_source.randbytes(16))
        cases[str(noise)] = "binary data"
    newline = folder / "two\nlines.txt"
    newline.write_bytes(noise_source.randbytes(64))
    cases[str(newline)] = "binary data"
    fifo = folder / "pipe.txt"
    os.mkfifo(fifo)
    cases[str(fifo)] = "a FIFO (named pipe), not a regular file"
    cases["/dev/zero"] = "a character device, not a regular file"
    cases["-"] = "larger than the 5 MB limit"
    inside = folder / "inside"
    inside.mkdir()
    (inside / "report.txt").write_text(seed_text, encoding="utf-8")
    (inside / "loop").symlink_to(inside)
    (inside / "self.txt").symlink_to(inside / "self.txt")
    (inside / "gone.txt").symlink_to(folder / "nowhere.txt")
    os.mkfifo(inside / "fifo.txt")
    cases[str(inside / "loop")] = "symbolic link loop (leads back to a folder above); skipped"
    cases[str(inside / "self.txt")] = "symbolic link loop; skipped"
    cases[str(inside / "gone.txt")] = "dangling symbolic link; skipped"
    cases[str(inside / "fifo.txt")] = "a FIFO (named pipe), not a regular file; skipped"
    return cases


def _shown(path: str) -> str:
    """How the error line names an input."""
    return "<stdin>" if path == "-" else path.replace("\n", "\\n")


def test_bad_inputs_fail_one_line_each_within_bounds(packaged_model_dir, seed_paths,
                                                     tmp_path):
    seed_text = seed_paths["seed-000"].read_text(encoding="utf-8")
    cases = _bad_inputs(tmp_path, seed_text)
    good = seed_paths["seed-000"]
    inputs = [path for path in cases if "/inside/" not in path]
    with open("/dev/zero", "rb") as zero:
        code, out, err, peak_mb = _run_bounded(
            [str(CLI), "tag", *inputs, str(tmp_path / "inside"), str(good),
             "--model", str(packaged_model_dir), "--format", "jsonl"],
            stdin=zero, env=_child_env(CPPCC_THEMES_CACHE=str(tmp_path / "cache")))
    assert code == 1
    assert "Traceback" not in "\n".join(err)
    errors = [line for line in err if line.startswith("cppcc-themes: error: ")]
    assert len(errors) == len(cases) == len(err) - 1, err  # nothing else: no pypdf lines
    for path, message in cases.items():
        prefix = f"cppcc-themes: error: {_shown(path)}: "
        line = next((error for error in errors if error.startswith(prefix)), None)
        assert line is not None and message in line, (path, line)
    assert err[-1] == f"cppcc-themes: 2 file(s) tagged, {len(cases)} failed"
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2 * SEED_000_PARAGRAPHS  # inside/report.txt and the good file
    assert peak_mb < MEMORY_BOUND_MB


def _without_root_powers() -> list[str]:
    """A command prefix under which permissions hold: root reads everything otherwise."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv to drop the override capabilities")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


def test_unreadable_folders_and_model_files_are_named(packaged_model_dir, seed_paths,
                                                      tmp_path):
    prefix = _without_root_powers()
    reports = tmp_path / "reports"
    (reports / "closed").mkdir(parents=True)
    shutil.copy(seed_paths["seed-000"], reports / "a.txt")
    shutil.copy(seed_paths["seed-001"], reports / "closed" / "b.txt")
    locked = tmp_path / "locked"
    locked.mkdir()
    shutil.copy(seed_paths["seed-002"], locked / "c.txt")
    model = copy_model(packaged_model_dir, tmp_path)
    env = _child_env(CPPCC_THEMES_CACHE=str(tmp_path / "cache"))
    (reports / "closed").chmod(0)
    locked.chmod(0)
    try:
        code, out, err, _ = _run_bounded(
            [*prefix, str(CLI), "tag", str(reports), str(locked), "--model", str(model),
             "--format", "jsonl"], env=env)
    finally:
        (reports / "closed").chmod(0o755)
        locked.chmod(0o755)
    assert code == 1 and len(out.splitlines()) == SEED_000_PARAGRAPHS
    assert err == [
        f"cppcc-themes: error: {reports / 'closed'}: folder permission denied; its files "
        "were skipped",
        f"cppcc-themes: error: {locked}: folder permission denied; its files were skipped",
        "cppcc-themes: 1 file(s) tagged, 2 failed"]
    for name in ("metadata.json", "model.joblib"):
        (model / name).chmod(0)
        try:
            code, out, err, _ = _run_bounded(
                [*prefix, str(CLI), "tag", str(reports / "a.txt"), "--model", str(model)],
                env=env)
        finally:
            (model / name).chmod(0o644)
        assert code == 2 and out == ""
        assert err == [f"cppcc-themes: error: {model / name}: cannot be read "
                       "(Permission denied)"]


def test_text_checks(tmp_path):
    text = "一、坚持党的领导\n加强政协党的建设，提高履职能力。" * 40
    damaged = tmp_path / "damaged.txt"
    damaged.write_bytes(text.encode() + b"\xff" + text.encode())
    assert read_report(damaged).count("\ufffd") == 1
    nul = tmp_path / "nul.txt"
    nul.write_bytes((text[:10] + "\x00" + text[10:]).encode())
    assert "\x00" not in read_report(nul)
    accepted, noise_source = 0, random.Random(15)
    for number in range(100):
        noise = tmp_path / f"noise-{number}.txt"
        noise.write_bytes(noise_source.randbytes(16))
        try:
            read_report(noise)
            accepted += 1
        except ReadError:
            pass
    assert accepted == 0


def _model_as_list(directory):
    (directory / "metadata.json").write_text("[1, 2]", encoding="utf-8")
    return "must hold a JSON object, not a list"


def _version_as_number(directory):
    meta = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
    edit_metadata(directory, library_versions={**meta["library_versions"], "scikit-learn": 1.9})
    return "'library_versions' must be an object of version strings"


def _versions_as_string(directory):
    edit_metadata(directory, library_versions="scikit-learn 1.9")
    return "'library_versions' must be an object of version strings"


def _threshold_missing(directory):
    meta = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
    thresholds = dict(meta["thresholds"])
    thresholds.pop(meta["labels"][-1])
    edit_metadata(directory, thresholds=thresholds)
    return f"no threshold for {meta['labels'][-1]!r}"


def _label_count(directory):
    meta = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
    edit_metadata(directory, labels=meta["labels"][:-1])
    return "the pipeline scores 5 themes but metadata.json lists 4"


def _not_a_pipeline(directory):
    import hashlib

    joblib.dump({"not": "a pipeline"}, directory / "model.joblib")
    edit_metadata(directory, model_sha256=hashlib.sha256(
        (directory / "model.joblib").read_bytes()).hexdigest())
    return "holds a dict, not a fitted pipeline"


MODEL_FAULTS = {"metadata-list": _model_as_list, "version-number": _version_as_number,
                "versions-string": _versions_as_string, "threshold-missing": _threshold_missing,
                "label-count": _label_count, "not-a-pipeline": _not_a_pipeline}


@pytest.mark.parametrize("fault", sorted(MODEL_FAULTS))
def test_model_folder_faults_exit_2_with_one_line(fault, packaged_model_dir, seed_paths,
                                                  tmp_path, capsys):
    directory = copy_model(packaged_model_dir, tmp_path)
    message = MODEL_FAULTS[fault](directory)
    code = main(["tag", str(seed_paths["seed-000"]), "--model", str(directory)])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert code == 2 and captured.out == ""
    assert len(err) == 1 and err[0].startswith(f"cppcc-themes: error: {directory}")
    assert message in err[0]


def test_saved_model_folders_follow_the_umask(packaged_model_dir, tmp_path):
    pipeline = load_model(packaged_model_dir).pipeline
    meta = json.loads((packaged_model_dir / "metadata.json").read_text(encoding="utf-8"))
    previous = os.umask(0o022)
    try:
        save_model(pipeline, {"labels": meta["labels"], "thresholds": meta["thresholds"]},
                   tmp_path / "shared")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o755


_SAVE_AND_DIE = textwrap.dedent("""
    import json, os, signal, sys
    import joblib
    from cppcc_themes.train import package, swap

    source, target, kill_at = sys.argv[1:]
    meta = json.loads(open(os.path.join(source, "metadata.json"), encoding="utf-8").read())
    pipeline = joblib.load(os.path.join(source, "model.joblib"))

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if kill_at == "before-swap":
        package.swap_into_place = lambda staging, target: die()
    elif kill_at == "after-exchange":
        exchange = swap._exchange
        swap._exchange = lambda a, b: (exchange(a, b), die())
    elif kill_at == "between-renames":  # where renameat2 is missing: two renames
        swap._renameat2 = None
        rename = os.rename
        swap.os = type(os)("os_with_kill")
        swap.os.__dict__.update(os.__dict__)
        swap.os.rename = lambda a, b: (rename(a, b), die())
    package.save_model(pipeline, {"experiment": "new", "labels": meta["labels"],
                                  "thresholds": meta["thresholds"]}, target)
""")


@pytest.mark.parametrize("kill_at", ["after-exchange", "between-renames", "strace-rename"])
def test_training_killed_during_the_swap_leaves_a_whole_model(kill_at, packaged_model_dir,
                                                              tmp_path):
    target = tmp_path / "models" / "default"
    pipeline = load_model(packaged_model_dir).pipeline
    meta = json.loads((packaged_model_dir / "metadata.json").read_text(encoding="utf-8"))
    save_model(pipeline, {"experiment": "old", "labels": meta["labels"],
                          "thresholds": meta["thresholds"]}, target)
    command = [sys.executable, "-c", _SAVE_AND_DIE, str(packaged_model_dir), str(target),
               kill_at]
    if kill_at == "strace-rename":
        if shutil.which("strace") is None:
            pytest.skip("strace is not installed")
        probe = subprocess.run(["strace", "-f", "-o", "/dev/null", "true"], capture_output=True)
        if probe.returncode != 0:
            pytest.skip("strace cannot trace here")
        syscalls = "rename,renameat,renameat2"
        command = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={syscalls}",
                   "-e", f"inject={syscalls}:signal=SIGKILL:when=1", *command[:-1], "none"]
    code, _, err, _ = _run_bounded(command, env={**os.environ}, timeout=120)
    assert code in (-signal.SIGKILL, 128 + signal.SIGKILL), err
    siblings = sorted(p.name for p in target.parent.iterdir())
    if kill_at != "between-renames":
        assert target.is_dir(), siblings  # never missing, not even for a moment
    model = load_model(target)  # recovers a two-rename swap cut in half, cleans up
    assert model.metadata["experiment"] in {"old", "new"}
    assert sorted(p.name for p in target.parent.iterdir()) == ["default"], siblings
    expected = {"after-exchange": "new", "before-swap": "old", "between-renames": "old"}
    if kill_at in expected:
        assert model.metadata["experiment"] == expected[kill_at]


def test_what_an_older_release_left_after_a_kill_is_recovered(packaged_model_dir, tmp_path):
    """The issue's state: no model folder, the old model in ``.default.old.XXXXXXXX`` and the
    new one in ``.default.XXXXXXXX`` (mkdtemp names, no writer id)."""
    models = tmp_path / "models"
    shutil.copytree(packaged_model_dir, models / ".default.old.k2_9x0ab")
    shutil.copytree(packaged_model_dir, models / ".default.q8z1m4c7")
    unrelated = models / ".default.notes123"
    unrelated.mkdir()
    (unrelated / "mine.txt").write_text("not a model file", encoding="utf-8")
    long_ago = os.stat(models).st_mtime - 2 * 3600
    for path in models.iterdir():
        os.utime(path, (long_ago, long_ago))
    load_model(models / "default")
    assert sorted(p.name for p in models.iterdir()) == [".default.notes123", "default"]
