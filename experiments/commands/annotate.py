"""``cppcc-themes annotate export|import``: label a suggested batch in Label Studio or a
spreadsheet, and bring the labels back as a named source under ``labels/``.

    cppcc-themes annotate export batch.jsonl --to labelstudio --out tasks.json
    cppcc-themes annotate export batch.jsonl --to csv --out batch.csv
    cppcc-themes annotate import export.json --name my-province
    cppcc-themes annotate import batch.csv --name my-province

An import writes ``labels/<name>/<file stem>.jsonl`` (records: report_id, source, text, labels,
id, index, heading, annotator, time), which ``[data] sources = ["labels/<name>"]`` trains on.
A bad export is named in one line and nothing is written.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from cppcc_themes.experiments.commands import EXIT_FATAL, EXIT_OK, print_error

SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
RESERVED_SOURCES = {"gold", "authored", "silver-gov", "silver"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "annotate", help="export a batch to Label Studio or CSV; import the labels back",
        description="Round trip of a batch written by `suggest` through Label Studio (JSON "
                    "tasks with the model's themes as pre-annotations, and a labelling config) "
                    "or a spreadsheet (CSV, UTF-8 with BOM for Excel).")
    actions = parser.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="write the batch as Label Studio tasks or CSV")
    export.add_argument("batch", help="batch file written by `cppcc-themes suggest`")
    export.add_argument("--to", choices=["labelstudio", "csv"], default="labelstudio")
    export.add_argument("--out", required=True, help="tasks .json or .csv to write")
    export.add_argument("--config", help="Label Studio labelling config to write (default: "
                        "beside --out, named <stem>.config.xml)")
    export.set_defaults(func=run_export)
    imported = actions.add_parser("import", help="read a Label Studio JSON export or a "
                                  "filled-in CSV into labels/<name>/")
    imported.add_argument("export", help="Label Studio JSON export (.json) or the CSV (.csv)")
    imported.add_argument("--name", required=True,
                          help="source name: the records' `source` and the folder labels/<name>")
    imported.add_argument("--labels-dir", default="labels", help="labels folder (default labels)")
    imported.add_argument("--replace", action="store_true",
                          help="replace an earlier import of the same file")
    imported.set_defaults(func=run_import)


def _theme_labels() -> tuple[list[str], dict[str, str]]:
    from cppcc_themes.train.render import theme_names
    from cppcc_themes.train.themes import theme_ids

    labels = list(theme_ids())
    return labels, theme_names(labels)


def run_export(args: argparse.Namespace) -> int:
    from cppcc_themes.experiments.commands.suggest import write_atomically
    from cppcc_themes.train.annotation import (
        AnnotationError,
        labeling_config,
        read_batch,
        to_csv,
        to_labelstudio_tasks,
    )

    try:
        batch = read_batch(Path(args.batch))
    except AnnotationError as error:
        print_error(str(error))
        return EXIT_FATAL
    labels, names = _theme_labels()
    out = Path(args.out)
    try:
        if args.to == "csv":
            # The byte order mark makes Excel read the file as UTF-8.
            write_atomically(out, to_csv(batch, labels), encoding="utf-8-sig")
            print(f"{len(batch)} paragraphs written to {out}: mark theme columns with 1 or x "
                  f"(none for no theme), then `cppcc-themes annotate import {out} --name NAME`")
            return EXIT_OK
        config = Path(args.config) if args.config else out.with_suffix(".config.xml")
        write_atomically(out, json.dumps(to_labelstudio_tasks(batch), ensure_ascii=False,
                                         indent=1) + "\n")
        write_atomically(config, labeling_config(labels, names))
    except OSError as error:
        print_error(f"{error.filename or out}: cannot write ({error.strerror or error})")
        return EXIT_FATAL
    print(f"{len(batch)} tasks written to {out}, labelling config to {config}: create a Label "
          "Studio project with that config, import the tasks, label, export as JSON, then "
          "`cppcc-themes annotate import EXPORT.json --name NAME`")
    return EXIT_OK


def run_import(args: argparse.Namespace) -> int:
    from cppcc_themes.experiments.commands.suggest import write_atomically
    from cppcc_themes.train.annotation import (
        AnnotationError,
        csv_to_records,
        labelstudio_to_records,
    )

    if not SOURCE_NAME.match(args.name) or args.name in RESERVED_SOURCES:
        print_error(f"--name {args.name!r}: use letters, digits, '-', '_' or '.', and not one of "
                    f"{sorted(RESERVED_SOURCES)}")
        return EXIT_FATAL
    path = Path(args.export)
    if not path.is_file():
        print_error(f"{path}: no such file")
        return EXIT_FATAL
    labels, _ = _theme_labels()
    reader = csv_to_records if path.suffix.lower() == ".csv" else labelstudio_to_records
    try:
        records, unlabelled = reader(path, labels, args.name)
    except AnnotationError as error:
        print_error(str(error))
        return EXIT_FATAL
    if not records:
        print_error(f"{path}: no labelled paragraph in it ({unlabelled} left unlabelled)")
        return EXIT_FATAL
    folder = Path(args.labels_dir) / args.name
    target = folder / f"{path.stem}.jsonl"
    if target.exists() and not args.replace:
        print_error(f"{target}: already imported; pass --replace to overwrite it")
        return EXIT_FATAL
    clash = _ids_in_other_files(folder, target, {r["id"] for r in records})
    if clash:
        print_error(f"{path}: paragraph {clash[1]!r} is already labelled in {clash[0]}")
        return EXIT_FATAL
    try:
        write_atomically(target, "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                         for r in records))
    except OSError as error:
        print_error(f"{target}: cannot write ({error.strerror or error})")
        return EXIT_FATAL
    print(f"{len(records)} labelled paragraphs written to {target} (source {args.name!r}; "
          f"{unlabelled} left unlabelled); train on them with "
          f"[data] sources = [..., \"{folder}\"]")
    return EXIT_OK


def _ids_in_other_files(folder: Path, target: Path, ids: set[str]) -> tuple[Path, str] | None:
    if not folder.is_dir():
        return None
    for other in sorted(folder.glob("*.jsonl")):
        if other == target:
            continue
        for line in other.read_text(encoding="utf-8").splitlines():
            try:
                found = json.loads(line).get("id")
            except (json.JSONDecodeError, AttributeError):
                continue
            if found in ids:
                return other, found
    return None
