"""Re-run the fault campaign of issue 14 and count the cases that hold.

    .venv/bin/python scripts/fault_campaign.py [--model DIR] [--skip-training]

Each case is one real ``cppcc-themes`` process (or a few), run under a time limit and an
address-space cap, its own peak memory read from ``wait4``. A case holds when it behaves as the
README documents: for a bad input, exit 1, exactly one error line naming the input, the good
file beside it still tagged, no traceback, memory under 1 GB; for a model fault, exit 2 and one
line; for a killed training, the output folder present and loadable, nothing left beside it
after the next load; for concurrent taggers, byte-identical output. Takes 10-20 minutes (the
training cases train the baseline experiment); ``--skip-training`` leaves those out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("cppcc-themes"))
MEMORY_BOUND_MB = 1000
GOOD = ROOT / "labels" / "reports" / "seed-000.txt"
GOOD_PARAGRAPHS = 9


def run(command, *, stdin=None, env=None, timeout=120, cwd=None, kill_after=None):
    """(exit code, stdout bytes, stderr lines, peak MB, seconds) of one bounded process."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
        os.setsid()

    start = time.monotonic()
    process = subprocess.Popen(command, stdin=stdin or subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, **(env or {})}, cwd=cwd, preexec_fn=limit)
    streams = {}
    readers = [threading.Thread(target=lambda n=n: streams.__setitem__(
        n, getattr(process, n).read())) for n in ("stdout", "stderr")]
    for reader in readers:
        reader.start()

    def kill():
        with_group = os.getpgid(process.pid) if process.poll() is None else None
        if with_group:
            os.killpg(with_group, signal.SIGKILL)

    timers = [threading.Timer(timeout, kill)]
    if kill_after is not None:
        timers.append(threading.Timer(kill_after, kill))
    for timer in timers:
        timer.start()
    _, status, usage = os.wait4(process.pid, 0)
    for timer in timers:
        timer.cancel()
    for reader in readers:
        reader.join()
    return (os.waitstatus_to_exitcode(status), streams["stdout"],
            streams["stderr"].decode(errors="replace").splitlines(), usage.ru_maxrss / 1024,
            time.monotonic() - start)


def without_root_powers() -> list[str]:
    if os.geteuid() == 0 and shutil.which("setpriv"):
        return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    return []


# ---- bad inputs to `tag` -------------------------------------------------------------------

def bad_inputs(folder: Path) -> list[tuple[str, list[str], str, dict]]:
    """(case name, paths to tag before the good file, what the error says, options)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from documents import write_docx, write_pdf

    text = GOOD.read_text(encoding="utf-8")
    cases = []

    def file(name: str, data: bytes) -> str:
        path = folder / name
        path.write_bytes(data)
        return str(path)

    cases.append(("empty", [file("empty.txt", b"")], "empty file", {}))
    cases.append(("whitespace", [file("blank.txt", " \n\t\u3000\n".encode())], "empty file", {}))
    cases.append(("png-as-txt", [file("image.txt", b"\x89PNG\r\n\x1a\n" + os.urandom(4000))],
                  "binary data", {}))
    whole = write_docx(text, folder / "whole.docx")
    cases.append(("truncated-docx", [file("truncated.docx", whole.read_bytes()[:2000])],
                  "not a readable .docx", {}))
    cases.append(("docx-not-zip", [file("text.docx", text.encode())], "not a readable .docx",
                  {}))
    cases.append(("protected-docx", [file("ole.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
                                          + b"\0" * 4096)], "password-protected", {}))
    bomb = folder / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        with package.open("word/document.xml", "w", force_zip64=True) as part:
            for _ in range(1024):
                part.write(b" " * (1 << 20))
    cases.append(("zip-bomb-docx-1GB", [str(bomb)], "over the 50 MB limit per part", {}))
    whole_pdf = write_pdf(text, folder / "whole.pdf")
    for cut in (100, 1500, len(whole_pdf.read_bytes()) - 30):
        cases.append((f"truncated-pdf-{cut}", [file(f"cut{cut}.pdf",
                                                    whole_pdf.read_bytes()[:cut])],
                      "not a readable PDF", {}))
    cases.append(("pdf-bad-header", [file("header.pdf", "不是PDF".encode() * 100)],
                  "not a readable PDF", {}))
    cases.append(("pdf-empty", [file("empty.pdf", b"")], "not a readable PDF", {}))
    cases.append(("protected-pdf", [str(write_pdf(text, folder / "locked.pdf",
                                                  password="secret"))],
                  "password-protected PDF", {}))
    cases.append(("jsonl-not-json", [file("bad.jsonl", '{"text": "好"}\nnot json\n'.encode())],
                  "line is not JSON", {}))
    cases.append(("jsonl-no-text", [file("nt.jsonl", b'{"id": 1}\n')], "no string 'text'", {}))
    cases.append(("jsonl-deep", [file("deep.jsonl", b"[" * 100_000 + b"]" * 100_000)],
                  "deep.jsonl", {}))
    cases.append(("jsonl-empty", [file("none.jsonl", b"\n\n")], "empty file", {}))
    cases.append(("missing", [str(folder / "missing.txt")], "no such file", {}))
    cases.append(("unknown-type", [file("report.odt", b"PK\x03\x04")],
                  "unsupported file type .odt", {}))
    for suffix in (".txt", ".jsonl", ".html", ".pdf", ".docx"):
        path = folder / f"huge{suffix}"
        with path.open("wb") as handle:
            handle.truncate(60_000_000)
        cases.append((f"huge{suffix}-60MB", [str(path)], "50 MB limit", {}))
    cases.append(("stdin-dev-zero", ["-"], "<stdin>: larger than the 50 MB limit",
                  {"stdin": "/dev/zero"}))
    fifo = folder / "pipe.txt"
    os.mkfifo(fifo)
    cases.append(("fifo-given", [str(fifo)], "a FIFO (named pipe), not a regular file", {}))
    cases.append(("dev-zero-given", ["/dev/zero"], "a character device, not a regular file", {}))
    cases.append(("folder-as-file-jsonl", [str(folder)], "", {"skip": True}))
    for number in range(20):
        cases.append((f"random-16-bytes-{number:02d}", [file(f"r{number}.txt", os.urandom(16))],
                      "binary data", {}))
    cases.append(("newline-in-name", [file("a\nb.txt", os.urandom(64))], "a\\nb.txt: ", {}))
    cases.append(("escape-in-name", [file("a\x1b[31mb.txt", b"\x00" * 100)], "a\\x1b[31mb.txt",
                  {}))
    for kind in ("loop", "self", "dangling", "fifo", "closed"):
        sub = folder / f"tree-{kind}"
        sub.mkdir()
        if kind == "loop":
            (sub / "up").symlink_to(sub)
        elif kind == "self":
            (sub / "me.txt").symlink_to(sub / "me.txt")
        elif kind == "dangling":
            (sub / "gone.txt").symlink_to(folder / "nowhere")
        elif kind == "fifo":
            os.mkfifo(sub / "f.txt")
        else:
            (sub / "closed").mkdir()
            (sub / "closed" / "x.txt").write_text(text, encoding="utf-8")
            (sub / "closed").chmod(0)
        cases.append((f"folder-{kind}", [str(sub)], "skipped", {"priv": kind == "closed"}))
    top = folder / "top-closed"
    top.mkdir()
    (top / "x.txt").write_text(text, encoding="utf-8")
    top.chmod(0)
    cases.append(("folder-unreadable-given", [str(top)], "folder permission denied",
                  {"priv": True}))
    locked = folder / "locked.txt"
    locked.write_text(text, encoding="utf-8")
    locked.chmod(0)
    cases.append(("file-unreadable", [str(locked)], "permission denied", {"priv": True}))
    return [case for case in cases if not case[3].get("skip")]


def shown(path: str) -> str:
    return "<stdin>" if path == "-" else path.encode("unicode_escape").decode().replace(
        "\\\\", "\\")


def tag_input_cases(model: Path, work: Path) -> list[tuple[str, bool, str]]:
    results = []
    for name, paths, message, options in bad_inputs(work):
        prefix = without_root_powers() if options.get("priv") else []
        with open(options.get("stdin", os.devnull), "rb") as stdin:
            code, out, err, peak, seconds = run(
                [*prefix, CLI, "tag", *paths, str(GOOD), "--model", str(model), "--format",
                 "jsonl"], stdin=stdin, env={"CPPCC_THEMES_CACHE": str(work / "cache")})
        errors = [line for line in err if line.startswith("cppcc-themes: error: ")]
        rows = out.decode().splitlines()
        held = (code == 1 and len(errors) == 1 and len(err) == 2 and message in errors[0]
                and "\n" not in errors[0] and len(rows) == GOOD_PARAGRAPHS
                and peak < MEMORY_BOUND_MB and not any("Traceback" in line for line in err))
        results.append((f"tag/{name}", held, f"exit {code}, {peak:.0f} MB, {seconds:.1f} s, "
                        f"{err[0] if err else ''}"))
    # Inputs that must be read, not refused.
    text = GOOD.read_text(encoding="utf-8")
    stray = work / "stray-ff.txt"
    stray.write_bytes(text.encode()[:600] + b"\xff" + text.encode()[600:])
    nul = work / "nul.txt"
    nul.write_bytes((text[:50] + "\x00" + text[50:]).encode())
    gbk, big5, utf16 = work / "gbk.txt", work / "big5.txt", work / "utf16.txt"
    gbk.write_bytes(text.encode("gb18030"))
    big5.write_bytes("一、堅持黨的領導\n加強政協黨的建設，提高履職能力。".encode("big5"))
    utf16.write_bytes(text.encode("utf-16"))
    for path in (stray, nul, gbk, big5, utf16):
        code, out, err, peak, _ = run([CLI, "tag", str(path), "--model", str(model),
                                       "--format", "jsonl"])
        held = code == 0 and not err and out and b"\\u0000" not in out
        results.append((f"tag/read-{path.stem}", held, f"exit {code} {err[:1]}"))
    all_bad = [str(work / "r0.txt"), str(work / "r1.txt")]
    code, out, err, _, _ = run([CLI, "tag", *all_bad, "--model", str(model)])
    results.append(("tag/every-file-fails", code == 1 and err[-1] ==
                    "cppcc-themes: 0 file(s) tagged, 2 failed", f"exit {code}"))
    return results


# ---- model folder faults -------------------------------------------------------------------

def model_faults(model: Path, work: Path) -> list[tuple[str, bool, str]]:
    import joblib

    meta = json.loads((model / "metadata.json").read_text(encoding="utf-8"))

    def edit(directory, **changes):
        data = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
        data.update(changes)
        (directory / "metadata.json").write_text(json.dumps(data), encoding="utf-8")

    def write(name, data):
        return lambda d: (d / name).write_bytes(data)

    def chmod(name):
        return lambda d: (d / name).chmod(0)

    def pickle_other(d):
        joblib.dump({"a": 1}, d / "model.joblib")
        edit(d, model_sha256=hashlib.sha256((d / "model.joblib").read_bytes()).hexdigest())

    thresholds_short = dict(meta["thresholds"])
    thresholds_short.pop(meta["labels"][0])
    faults = {
        "missing-dir": lambda d: shutil.rmtree(d),
        "dir-is-file": lambda d: (shutil.rmtree(d), d.write_text("x")),
        "dir-unreadable": lambda d: d.chmod(0),
        "dir-symlink-loop": lambda d: (shutil.rmtree(d), d.symlink_to(d)),
        "metadata-missing": lambda d: (d / "metadata.json").unlink(),
        "metadata-empty": write("metadata.json", b""),
        "metadata-not-json": write("metadata.json", b"{not json"),
        "metadata-list": write("metadata.json", b"[1, 2]"),
        "metadata-string": write("metadata.json", b'"model"'),
        "metadata-bad-utf8": write("metadata.json", b'{"a": "\xff"}'),
        "metadata-11MB": write("metadata.json", b" " * 11_000_000 + b"{}"),
        "metadata-unreadable": chmod("metadata.json"),
        "format-99": lambda d: edit(d, format_version=99),
        "format-string": lambda d: edit(d, format_version="3"),
        "sklearn-0.24": lambda d: edit(d, library_versions={**meta["library_versions"],
                                                             "scikit-learn": "0.24.2"}),
        "sklearn-number": lambda d: edit(d, library_versions={**meta["library_versions"],
                                                               "scikit-learn": 1.9}),
        "versions-string": lambda d: edit(d, library_versions="sklearn"),
        "threshold-missing": lambda d: edit(d, thresholds=thresholds_short),
        "threshold-2": lambda d: edit(d, thresholds={**meta["thresholds"],
                                                     meta["labels"][0]: 2}),
        "labels-empty": lambda d: edit(d, labels=[]),
        "labels-duplicate": lambda d: edit(d, labels=meta["labels"][:1] * 2),
        "label-count": lambda d: edit(d, labels=meta["labels"][:-1]),
        "sha-missing": lambda d: (lambda m: (m.pop("model_sha256"), (
            d / "metadata.json").write_text(json.dumps(m))))(json.loads(
                (d / "metadata.json").read_text())),
        "model-missing": lambda d: (d / "model.joblib").unlink(),
        "model-truncated": lambda d: (d / "model.joblib").write_bytes(
            (d / "model.joblib").read_bytes()[:1000]),
        "model-unreadable": chmod("model.joblib"),
        "model-not-pipeline": pickle_other,
    }
    results = []
    for name, damage in faults.items():
        directory = work / f"model-{name}"
        shutil.copytree(model, directory)
        damage(directory)
        code, out, err, _, _ = run([*without_root_powers(), CLI, "tag", str(GOOD), "--model",
                                    str(directory)])
        held = code == 2 and not out and len(err) == 1 and err[0].startswith(
            "cppcc-themes: error: ") and str(directory) in err[0]
        results.append((f"model/{name}", held, f"exit {code} {err[:2]}"))
        if directory.is_dir() and not directory.is_symlink():
            directory.chmod(0o755)
    return results


# ---- kill -9 during training, concurrent taggers and trains --------------------------------

def _train(output: Path, work: Path, **kwargs):
    return run([CLI, "train", str(ROOT / "experiments" / "baseline.toml"), "--output",
                str(output), "--tracking-uri", f"sqlite:///{work / 'mlflow.db'}", "--quiet"],
               env={"CPPCC_THEMES_CACHE": str(work / "cache")}, timeout=600, **kwargs)


def _model_whole(output: Path) -> tuple[bool, str]:
    code, out, err, _, _ = run([CLI, "tag", str(GOOD), "--model", str(output), "--format",
                                "jsonl"])
    leftovers = sorted(p.name for p in output.parent.iterdir() if p.name != output.name)
    return (code == 0 and len(out.splitlines()) == GOOD_PARAGRAPHS and not leftovers,
            f"tag exit {code}, leftovers {leftovers}")


def kill_during_training(model: Path, work: Path) -> list[tuple[str, bool, str]]:
    results = []
    strace = shutil.which("strace")
    kills = [("strace-rename-1", 1), ("strace-rename-2", 2)] if strace else []
    kills += [(f"after-{seconds}s", seconds) for seconds in (3, 8, 15, 25, 35, 45, 55, 65)]
    for name, when in kills:
        output = work / f"train-{name}" / "default"
        shutil.copytree(model, output)
        if name.startswith("strace"):
            calls = "rename,renameat,renameat2"
            code, _, err, _, _ = run(["strace", "-f", "-qq", "-o", "/dev/null", "-e",
                                      f"trace={calls}", "-e",
                                      f"inject={calls}:signal=SIGKILL:when={when}",
                                      CLI, "train", str(ROOT / "experiments" / "baseline.toml"),
                                      "--output", str(output), "--tracking-uri",
                                      f"sqlite:///{work / 'mlflow.db'}", "--quiet"],
                                     env={"CPPCC_THEMES_CACHE": str(work / "cache")},
                                     timeout=600)
        else:
            code, _, err, _, _ = _train(output, work, kill_after=when)
        present = output.is_dir()
        whole, detail = _model_whole(output)
        results.append((f"kill9-train/{name}", present and whole,
                        f"exit {code}, present right after: {present}, {detail}"))
    return results


def concurrent_taggers(model: Path, work: Path, rounds: int = 4) -> list[tuple[str, bool, str]]:
    results = []
    inputs = [str(ROOT / "labels" / "reports")]
    for number in range(rounds):
        processes = [subprocess.Popen([CLI, "tag", *inputs, "--model", str(model), "--format",
                                       "jsonl"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      env={**os.environ,
                                           "CPPCC_THEMES_CACHE": str(work / "cache")})
                     for _ in range(4)]
        outputs = [process.communicate(timeout=300) for process in processes]
        reference = outputs[0][0]
        for index, (process, (out, err)) in enumerate(zip(processes, outputs, strict=True)):
            held = process.returncode == 0 and out == reference and out and not err
            results.append((f"concurrent-tag/round{number}-{index}", held,
                            f"exit {process.returncode} {err[:80]!r}"))
    return results


def concurrent_trains(work: Path, rounds: int = 1) -> list[tuple[str, bool, str]]:
    results = []
    for number in range(rounds):
        output = work / f"both-{number}" / "default"
        processes = [subprocess.Popen(
            [CLI, "train", str(ROOT / "experiments" / "baseline.toml"), "--output", str(output),
             "--tracking-uri", f"sqlite:///{work / f'mlflow-{number}.db'}", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "CPPCC_THEMES_CACHE": str(work / "cache")}) for _ in range(2)]
        finished = [(process, *process.communicate(timeout=900)) for process in processes]
        whole, detail = _model_whole(output)
        for index, (process, _, err) in enumerate(finished):
            results.append((f"concurrent-train/round{number}-{index}",
                            process.returncode == 0 and whole,
                            f"exit {process.returncode}, {detail}, {err[-200:]!r}"))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "tests" / "fixtures" / "format2-model"))
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    os.environ.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true",
                      HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    work = Path(tempfile.mkdtemp(prefix="fault-campaign-"))
    work.chmod(0o755)
    model = Path(shutil.copytree(args.model, work / "model"))
    groups = [("tag inputs", lambda: tag_input_cases(model, work)),
              ("model faults", lambda: model_faults(model, work)),
              ("concurrent taggers", lambda: concurrent_taggers(model, work))]
    if not args.skip_training:
        groups += [("kill -9 training", lambda: kill_during_training(model, work)),
                   ("concurrent trains", lambda: concurrent_trains(work))]
    total = held = 0
    try:
        for title, cases in groups:
            results = cases()
            group_held = sum(ok for _, ok, _ in results)
            for name, ok, detail in results:
                if not ok:
                    print(f"  FAILED {name}: {detail}")
            print(f"{title}: {group_held}/{len(results)} held", flush=True)
            total, held = total + len(results), held + group_held
    finally:
        for path in work.rglob("*"):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
            elif path.is_file() and not path.is_symlink():
                path.chmod(0o644)
        shutil.rmtree(work, ignore_errors=True)
    print(f"all: {held}/{total} held")
    return 0 if held == total else 1


if __name__ == "__main__":
    sys.exit(main())
