"""Labelling round trips: a batch of suggested paragraphs out to Label Studio or a spreadsheet,
and the labels people gave back in as a named source of labelled paragraphs.

File formats only: no network, no Label Studio import. A bad export raises ``AnnotationError``
with one line naming the file and the problem, before anything is written.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

__all__ = [
    "FROM_NAME",
    "NONE_CHOICE",
    "TO_NAME",
    "AnnotationError",
    "csv_to_records",
    "labeling_config",
    "labelstudio_to_records",
    "read_batch",
    "to_csv",
    "to_labelstudio_tasks",
]

FROM_NAME, TO_NAME = "themes", "text"
NONE_CHOICE = "none"
BATCH_KEYS = ("id", "report", "text")
TRUE_MARKS = {"1", "x", "y", "yes", "true", "✓", "✔", "是", "对", "√"}
FALSE_MARKS = {"", "0", "n", "no", "false", "否"}


class AnnotationError(ValueError):
    """An export or batch cannot be used; the message names the file and the problem."""


def read_batch(path: Path) -> list[dict[str, Any]]:
    """The records ``cppcc-themes suggest`` wrote (JSON Lines), checked."""
    records, seen = [], set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise AnnotationError(f"{path}: cannot be read ({error})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise AnnotationError(f"{path}:{number}: not JSON ({error.msg})") from None
        missing = [k for k in BATCH_KEYS if not isinstance(record, dict) or k not in record]
        if missing:
            raise AnnotationError(f"{path}:{number}: missing keys {missing}")
        if record["id"] in seen:
            raise AnnotationError(f"{path}:{number}: duplicate id {record['id']!r}")
        seen.add(record["id"])
        records.append(record)
    return records


def labeling_config(labels: Sequence[str], names: Mapping[str, str] | None = None) -> str:
    """Label Studio labelling config: the paragraph, its report and heading, and one
    multiple-choice question over the themes and ``none``."""
    names = names or {}
    choices = "\n".join(
        f'    <Choice value="{escape(label)}" hint="{escape(names.get(label, label))}"/>'
        for label in labels)
    return f"""<View>
  <Header value="$report #$index"/>
  <Text name="heading" value="$heading"/>
  <Text name="{TO_NAME}" value="$text"/>
  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="multiple" showInLine="true"
           required="true">
{choices}
    <Choice value="{NONE_CHOICE}" hint="no theme / 无主题"/>
  </Choices>
</View>
"""


def to_labelstudio_tasks(batch: Iterable[Mapping[str, Any]],
                         model_version: str = "cppcc-themes") -> list[dict[str, Any]]:
    """Label Studio tasks (import JSON) with the model's themes as pre-annotations."""
    tasks = []
    for record in batch:
        themes = list(record.get("themes") or []) or [NONE_CHOICE]
        scores = record.get("scores") or {}
        tasks.append({
            "data": {"id": str(record["id"]), "report": str(record["report"]),
                     "index": record.get("index", ""), "heading": record.get("heading") or "",
                     "text": record["text"]},
            "predictions": [{
                "model_version": model_version,
                "score": round(1.0 - float(record.get("uncertainty", 0.0)), 4),
                "result": [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices",
                            "value": {"choices": themes}}],
                **({"meta": {"scores": scores}} if scores else {}),
            }],
        })
    return tasks


def _check_choices(choices: Any, labels: Sequence[str], where: str) -> list[str]:
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise AnnotationError(f"{where}: choices must be a list of theme ids")
    unknown = sorted(set(choices) - set(labels) - {NONE_CHOICE})
    if unknown:
        raise AnnotationError(f"{where}: unknown theme {unknown[0]!r} "
                              f"(known: {', '.join([*labels, NONE_CHOICE])})")
    if NONE_CHOICE in choices and len(choices) > 1:
        raise AnnotationError(f"{where}: 'none' chosen together with themes {choices}")
    return [label for label in labels if label in choices]


def _annotator(annotation: Mapping[str, Any]) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, Mapping):
        return str(who.get("email") or who.get("id") or "")
    return "" if who is None else str(who)


def labelstudio_to_records(path: Path, labels: Sequence[str], source: str,
                           ) -> tuple[list[dict[str, Any]], int]:
    """Labelled records of a Label Studio JSON export, and the number of tasks left unlabelled.

    A task's label is its latest annotation that was not cancelled; a task without one is
    left out (counted). Anything malformed raises ``AnnotationError`` naming the task.
    """
    try:
        tasks = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as error:
        raise AnnotationError(f"{path}: cannot be read ({error})") from None
    except json.JSONDecodeError as error:
        raise AnnotationError(f"{path}: not JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(tasks, list):
        raise AnnotationError(f"{path}: not a Label Studio JSON export (expected a list of "
                              "tasks; export with the 'JSON' format)")
    records, unlabelled, seen = [], 0, set()
    for position, task in enumerate(tasks, 1):
        where = f"{path}: task {position}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise AnnotationError(f"{where}: no 'data' object; not a Label Studio JSON export")
        data = task["data"]
        missing = [k for k in BATCH_KEYS if k not in data]
        if missing:
            raise AnnotationError(f"{where}: data lacks {missing} (was the batch exported by "
                                  "`cppcc-themes annotate export`?)")
        where = f"{path}: task {data['id']!r}"
        if data["id"] in seen:
            raise AnnotationError(f"{where}: duplicate id")
        seen.add(data["id"])
        annotations = task.get("annotations", [])
        if not isinstance(annotations, list):
            raise AnnotationError(f"{where}: 'annotations' is not a list")
        kept = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
        if not kept:
            unlabelled += 1
            continue
        annotation = max(kept, key=lambda a: str(a.get("updated_at") or a.get("created_at")
                                                 or ""))
        results = [r for r in annotation.get("result") or []
                   if isinstance(r, dict) and r.get("from_name") == FROM_NAME]
        if not results:
            unlabelled += 1
            continue
        value = results[-1].get("value")
        if not isinstance(value, dict) or "choices" not in value:
            raise AnnotationError(f"{where}: result has no 'choices' value")
        records.append(_record(data, _check_choices(value["choices"], labels, where), source,
                               _annotator(annotation),
                               str(annotation.get("updated_at") or annotation.get("created_at")
                                   or "")))
    return records, unlabelled


def _record(data: Mapping[str, Any], themes: list[str], source: str, annotator: str,
            time: str) -> dict[str, Any]:
    index = data.get("index")
    return {"report_id": str(data["report"]), "source": source, "text": data["text"],
            "labels": themes, "id": str(data["id"]),
            "index": int(index) if str(index).lstrip("-").isdigit() else None,
            "heading": data.get("heading") or None, "annotator": annotator,
            "time": time or datetime.now(UTC).isoformat(timespec="seconds")}


def to_csv(batch: Iterable[Mapping[str, Any]], labels: Sequence[str]) -> str:
    """A spreadsheet to label in: one column per theme and ``none`` to mark (1 or x).

    Written with a UTF-8 byte order mark by the caller so Excel reads the Chinese text.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", "report", "index", "heading", "text", "model_themes",
                     *labels, NONE_CHOICE, "annotator"])
    for record in batch:
        writer.writerow([record["id"], record["report"], record.get("index", ""),
                         record.get("heading") or "", record["text"],
                         " ".join(record.get("themes") or []) or NONE_CHOICE,
                         *([""] * (len(labels) + 1)), ""])
    return out.getvalue()


def csv_to_records(path: Path, labels: Sequence[str], source: str,
                   ) -> tuple[list[dict[str, Any]], int]:
    """Labelled records of a filled-in ``to_csv`` sheet, and the number of rows left unmarked."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise AnnotationError(f"{path}: not UTF-8 (save it from Excel as 'CSV UTF-8')") from None
    except OSError as error:
        raise AnnotationError(f"{path}: cannot be read ({error.strerror})") from None
    reader = csv.DictReader(io.StringIO(text))
    needed = ["id", "report", "text", *labels, NONE_CHOICE]
    missing = [c for c in needed if c not in (reader.fieldnames or [])]
    if missing:
        raise AnnotationError(f"{path}: missing columns {missing}")
    extra = [c for c in reader.fieldnames or [] if c not in
             {*needed, "index", "heading", "model_themes", "annotator"}]
    if extra:
        raise AnnotationError(f"{path}: unknown columns {extra} (theme columns are "
                              f"{', '.join([*labels, NONE_CHOICE])})")
    records, unmarked, seen = [], 0, set()
    stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")
    for line, row in enumerate(reader, 2):
        where = f"{path}:{line}"
        if row["id"] in seen:
            raise AnnotationError(f"{where}: duplicate id {row['id']!r}")
        seen.add(row["id"])
        chosen = []
        for column in [*labels, NONE_CHOICE]:
            mark = (row[column] or "").strip().lower()
            if mark in TRUE_MARKS:
                chosen.append(column)
            elif mark not in FALSE_MARKS:
                raise AnnotationError(f"{where}: column {column!r} holds {row[column]!r}; "
                                      "mark a theme with 1 or x, leave it empty otherwise")
        if not chosen:
            unmarked += 1
            continue
        records.append(_record(row, _check_choices(chosen, labels, where), source,
                               (row.get("annotator") or "").strip(), stamp))
    return records, unmarked
