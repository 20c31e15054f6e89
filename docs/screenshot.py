"""Regenerate docs/tag-html.png: `cppcc-themes tag --html` on a seed, shot in headless Chromium.

    .venv/bin/python docs/screenshot.py [--model DIR] [--report PATH] [--output PNG]

Without --model it fits a gold-only model in a temporary folder (as the tests do). Chromium
comes from Debian (`apt-get install -y chromium`); its Chinese text uses the Noto Sans CJK
collection of the `noto-cjk-sans-otc` package through a private fontconfig file, so no system
CJK font is needed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fit_gold_model(directory: Path) -> Path:
    """Fit and package a model on the gold paragraphs (no MLflow)."""
    from cppcc_themes.train.data import label_matrix, label_names, load_paragraphs
    from cppcc_themes.train.model import build_pipeline
    from cppcc_themes.train.package import save_model

    gold = load_paragraphs(["gold"], ROOT / "labels")
    labels = label_names(gold)
    pipeline = build_pipeline().fit(list(gold["text"]),
                                    label_matrix(gold["labels"], len(labels)))
    return save_model(pipeline, {"experiment": "screenshot (gold only)", "labels": labels,
                                 "thresholds": dict.fromkeys(labels, 0.5)}, directory)


def fontconfig_file(directory: Path) -> Path:
    """A fontconfig file that adds the packaged Noto Sans CJK collection to the system fonts."""
    font_dir = Path(str(files("noto_cjk_sans_otc")))
    cache = directory / "fontcache"
    path = directory / "fonts.conf"
    path.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>{font_dir}</dir>
  <cachedir>{cache}</cachedir>
</fontconfig>
""", encoding="utf-8")
    return path


def screenshot(page: Path, output: Path, work: Path, width: int = 1100,
               height: int = 2000) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("screenshot.py: chromium not found; install it with "
                 "`apt-get update && apt-get install -y chromium`")
    env = {"FONTCONFIG_FILE": str(fontconfig_file(work)), "HOME": str(work),
           "PATH": "/usr/bin:/bin"}
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", f"--window-size={width},{height}",
                    f"--screenshot={output}", page.as_uri()],
                   env=env, check=True, capture_output=True, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--report", type=Path, default=ROOT / "labels/reports/seed-001.txt")
    parser.add_argument("--output", type=Path, default=ROOT / "docs/tag-html.png")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from cppcc_themes.experiments.cli import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = args.model or fit_gold_model(work / "model")
        page = work / "tags.html"
        code = cli(["tag", str(args.report), "--model", str(model), "--format", "jsonl",
                    "--output", str(work / "tags.jsonl"), "--html", str(page)])
        if code != 0:
            sys.exit(f"screenshot.py: tagging failed with exit code {code}")
        screenshot(page, args.output.resolve(), work)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
