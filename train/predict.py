"""Applying a packaged model: paragraphs in, themes, scores and evidence out.

This is the tagging path: it imports neither mlflow nor datasets.
"""

from __future__ import annotations

import collections
import concurrent.futures
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cppcc_themes.features.readers import (
    STDIN,
    ReadError,
    iter_report_paths,
    read_jsonl_records,
    read_report,
    read_stdin,
)
from cppcc_themes.features.segment import segment_report
from cppcc_themes.features.tables import TABLE_SUFFIXES, TableOptions

__all__ = [
    "ParagraphList",
    "Profile",
    "Report",
    "ReportInput",
    "TaggedParagraph",
    "ThemeModel",
    "each_report",
    "in_input_order",
    "read_input",
    "tag_path",
    "tag_path_safely",
    "tag_paths",
    "tag_records",
    "tag_report",
    "tag_text",
    "table_inputs",
]

EVIDENCE_SIZE = 5
# Characters of paragraphs tagged in one pass through the model: large enough to spread its
# fixed cost per call, small enough that a batch holds a few MB at most.
BATCH_CHARS = 200_000
# Chunks submitted to the process pool ahead of the one being written, per worker.
_CHUNKS_AHEAD_PER_WORKER = 4
# Files go to a worker in chunks of about this many input bytes (at most _CHUNK_FILES files):
# one task per small file cost more in pool traffic and per-call model set-up than the tagging
# itself (2,000 small files took 6x longer with 2 workers than with 1).
_CHUNK_BYTES = 1_000_000
_CHUNK_FILES = 500


@dataclass
class TaggedParagraph:
    """A paragraph with the themes the model gave it, its score per theme, and per assigned
    theme the n-grams that pushed that theme most (feature value × coefficient)."""

    report: str
    id: str
    index: int
    heading: str | None
    text: str
    themes: list[str]
    scores: dict[str, float]
    evidence: dict[str, dict[str, float]] = field(default_factory=dict)
    # The other columns of the table row the paragraph (or its report) came from.
    columns: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict, containers copied (what ``dataclasses.asdict`` gives, without
        its generic deep copy, which took a third of the jsonl writer's time); ``columns``
        only for paragraphs read from a table."""
        fields = {"report": self.report, "id": self.id, "index": self.index,
                  "heading": self.heading, "text": self.text, "themes": list(self.themes),
                  "scores": dict(self.scores),
                  "evidence": {theme: dict(grams) for theme, grams in self.evidence.items()}}
        if self.columns:
            fields["columns"] = dict(self.columns)
        return fields


class ParagraphList(list):
    """The tagged paragraphs of a report; ``.to_frame()`` gives one row per paragraph."""

    def to_frame(self):
        """A pandas DataFrame: one row per paragraph, one ``score_<theme>`` column per theme."""
        import pandas as pd

        rows = []
        for paragraph in self:
            row = {k: v for k, v in paragraph.to_dict().items() if k not in ("scores",)}
            row.update({f"score_{theme}": s for theme, s in paragraph.scores.items()})
            rows.append(row)
        return pd.DataFrame(rows)


class Profile(dict):
    """Per theme (and ``none``): paragraphs, share of paragraphs, share of characters."""

    def to_frame(self):
        """A pandas DataFrame indexed by theme."""
        import pandas as pd

        return pd.DataFrame.from_dict(self, orient="index").rename_axis("theme")


@dataclass
class ReportInput:
    """The paragraphs of one input, ready for the model: texts, and what to carry along."""

    name: str
    texts: list[str]
    source: str = ""
    headings: list[str | None] | None = None
    ids: list[str] | None = None
    indices: list[int] | None = None
    # Table rows: the other columns of the report's row, or of each paragraph's row.
    columns: dict[str, Any] = field(default_factory=dict)
    paragraph_columns: list[dict[str, Any]] | None = None


@dataclass
class Report:
    """A tagged report: its paragraphs and its theme profile (and, for a report read from a
    table row, the other columns of that row)."""

    name: str
    paragraphs: ParagraphList = field(default_factory=ParagraphList)
    source: str = ""
    columns: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.paragraphs, ParagraphList):
            self.paragraphs = ParagraphList(self.paragraphs)

    @property
    def profile(self) -> Profile:
        """Share of paragraphs and of characters per theme, plus ``none`` (no theme)."""
        themes = list(self.paragraphs[0].scores) if self.paragraphs else []
        total_paragraphs = len(self.paragraphs) or 1
        total_chars = sum(len(p.text) for p in self.paragraphs) or 1
        profile = Profile()
        for theme in [*themes, "none"]:
            members = [p for p in self.paragraphs
                       if (theme in p.themes if theme != "none" else not p.themes)]
            chars = sum(len(p.text) for p in members)
            profile[theme] = {
                "paragraphs": len(members),
                "paragraph_share": round(len(members) / total_paragraphs, 4),
                "chars": chars,
                "char_share": round(chars / total_chars, 4),
            }
        return profile

    def to_frame(self):
        """The paragraphs as a pandas DataFrame (see ``ParagraphList.to_frame``)."""
        return self.paragraphs.to_frame()

    def to_dict(self) -> dict[str, Any]:
        fields = {"report": self.name, "source": self.source, "profile": dict(self.profile),
                  "paragraphs": [p.to_dict() for p in self.paragraphs]}
        if self.columns:
            fields["columns"] = dict(self.columns)
        return fields


def _linear_coefficients(estimator: Any) -> np.ndarray | None:
    """The coefficient row of a fitted binary classifier, or None if it has none.

    A calibrated classifier holds one fitted copy per calibration fold; their mean is the
    direction the calibrated score follows.
    """
    coef = getattr(estimator, "coef_", None)
    if coef is not None:
        return np.asarray(coef).reshape(-1)
    calibrated = getattr(estimator, "calibrated_classifiers_", None)
    if calibrated:
        rows = [_linear_coefficients(getattr(c, "estimator", None)) for c in calibrated]
        if rows and all(r is not None for r in rows):
            return np.mean(rows, axis=0)
    return None


def theme_coefficients(classifier: Any, n_labels: int, n_features: int) -> np.ndarray | None:
    """Coefficients per theme (rows) and feature (columns) of a fitted multi-label classifier.

    Accepts ``MultiLabelThemeClassifier`` (its ``classifier_``), a ``OneVsRestClassifier`` or
    a linear model with one row per theme; None when the estimators are not linear.
    """
    inner = getattr(classifier, "classifier_", classifier)
    estimators = getattr(inner, "estimators_", None)
    if estimators is None:
        coef = getattr(inner, "coef_", None)
        if coef is not None and np.shape(coef) == (n_labels, n_features):
            return np.asarray(coef)
        return None
    if len(estimators) != n_labels:
        return None
    rows = []
    for estimator in estimators:
        row = _linear_coefficients(estimator)
        # A theme seen with one class only gets a constant predictor: no n-gram pushes it.
        rows.append(row if row is not None and row.size == n_features
                    else np.zeros(n_features) if hasattr(estimator, "y_") else None)
    if any(row is None for row in rows):
        return None
    return np.vstack(rows)


class _UnionFeatureNames:
    """The names a ``FeatureUnion``'s ``get_feature_names_out`` gives ("block__n-gram"), made
    for the columns asked for only: prefixing all ~135k names of the default model took
    ~40 ms and 11 MB at every start of ``cppcc-themes tag``."""

    def __init__(self, blocks: list[tuple[str, np.ndarray]]):
        self.blocks = blocks
        self.starts = np.cumsum([0, *(len(names) for _, names in blocks)])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, columns: np.ndarray) -> list[str]:
        block_of = np.searchsorted(self.starts, columns, side="right") - 1
        return [f"{self.blocks[block][0]}__{self.blocks[block][1][column - self.starts[block]]}"
                for block, column in zip(block_of.tolist(), columns.tolist(), strict=True)]


def _feature_names(vectorizer: Any) -> Any:
    """The vectorizer's feature names, indexable by an array of columns."""
    from sklearn.pipeline import FeatureUnion

    if isinstance(vectorizer, FeatureUnion) and vectorizer.verbose_feature_names_out is True \
            and all(hasattr(part, "get_feature_names_out")
                    for _, part in vectorizer.transformer_list):
        return _UnionFeatureNames([(name, part.get_feature_names_out())
                                   for name, part in vectorizer.transformer_list])
    return np.asarray(vectorizer.get_feature_names_out(), dtype=object)


class _Explainer:
    """Feature names and coefficients per theme (rows) of a linear model, for evidence.

    The name a reader sees and whether a feature counts as evidence are worked out for the
    features paragraphs have, the first time one has them: a report has a few thousand of the
    ~10^5 features of a model, and naming all of them took a third of a second at every
    start of ``cppcc-themes tag``.
    """

    def __init__(self, feature_names: Any, coef: np.ndarray):
        self.feature_names = feature_names
        self.coef = coef
        self.names = np.empty(len(feature_names), dtype=object)  # readable, once known
        self._evidence = np.full(len(feature_names), -1, dtype=np.int8)  # -1: not yet known

    def evidence_of(self, columns: np.ndarray) -> np.ndarray:
        """Whether each of ``columns`` is shown as evidence; names them in ``names``."""
        seen = np.zeros(len(self.feature_names), dtype=bool)
        seen[columns] = True
        new = np.flatnonzero(seen & (self._evidence < 0))
        if len(new):
            readable = [readable_feature_name(name) for name in self.feature_names[new]]
            # Names before flags: a thread that finds a flag set finds its name too.
            self.names[new] = readable
            self._evidence[new] = [is_evidence(name) for name in readable]
        return self._evidence[columns] == 1


class ThemeModel:
    """A fitted pipeline with its label list, thresholds and metadata."""

    def __init__(self, pipeline: Any, metadata: dict[str, Any]):
        self.pipeline = pipeline
        self.metadata = metadata
        self.labels: list[str] = list(metadata["labels"])
        self.thresholds = np.asarray([metadata["thresholds"][label] for label in self.labels])
        self._explainer: _Explainer | None | bool = False

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_explainer"] = False  # recomputed where it is needed, not shipped to workers
        return state

    @property
    def tokenizer_backends(self) -> dict[str, str]:
        """The backend each tokenizer of the pipeline tags with, by parameter name (after
        ``load_model``'s choice, which may differ from the trained one: same tokens)."""
        from cppcc_themes.features.vectorize import find_tokenizers

        return {name: t.backend for name, t in find_tokenizers(self.pipeline).items()}

    def _steps(self) -> tuple[Any, Any] | None:
        """(feature transformer, final classifier) of a scikit-learn Pipeline, else None."""
        steps = getattr(self.pipeline, "steps", None)
        if not steps or len(steps) < 2:
            return None
        return self.pipeline[:-1], steps[-1][1]

    def _explainer_or_none(self) -> _Explainer | None:
        if self._explainer is False:
            # Threads of one process (a Dask worker) may get here at once: publish only the
            # finished result, never a placeholder another thread would read as "no explainer".
            explainer = None
            steps = self._steps()
            vectorizer = self.pipeline.steps[-2][1] if steps else None
            if vectorizer is not None and hasattr(vectorizer, "get_feature_names_out"):
                try:
                    names = _feature_names(vectorizer)
                except (AttributeError, ValueError, TypeError):
                    names = None
                if names is not None:
                    coef = theme_coefficients(steps[1], len(self.labels), len(names))
                    if coef is not None:
                        explainer = _Explainer(names, coef)
            self._explainer = explainer
        return self._explainer or None

    @property
    def uses_headings(self) -> bool:
        """Whether the model reads each paragraph's heading beside its text."""
        from cppcc_themes.train.model import uses_headings

        return uses_headings(self.pipeline)

    def predict_proba(self, texts: Sequence[str],
                      headings: Sequence[str | None] | None = None) -> np.ndarray:
        """Probability per theme for each paragraph text (under its heading, if given)."""
        return self._features_and_proba(list(texts), headings)[1]

    def _model_input(self, texts: list[str], headings: Sequence[str | None] | None) -> Any:
        """What the pipeline reads: the texts, or (text, heading) rows when it uses headings.
        The same ``paragraph_columns`` builds the rows of training, so both see one input."""
        if not self.uses_headings:
            return texts
        from cppcc_themes.train.model import paragraph_columns

        rows = np.empty((len(texts), 2), dtype=object)
        rows[:, 0] = texts
        rows[:, 1] = list(headings) if headings is not None else [None] * len(texts)
        return paragraph_columns(rows)

    def _features_and_proba(self, texts: list[str],
                            headings: Sequence[str | None] | None = None,
                            ) -> tuple[Any, np.ndarray]:
        if not texts:
            return None, np.zeros((0, len(self.labels)))
        inputs = self._model_input(texts, headings)
        steps = self._steps()
        if steps is None:
            return None, self.pipeline.predict_proba(inputs)
        features = steps[0].transform(inputs)
        return features, steps[1].predict_proba(features)

    def explain(self, features: Any, row: int, themes: Sequence[str],
                size: int = EVIDENCE_SIZE) -> dict[str, dict[str, float]]:
        """For each theme, the n-grams of paragraph ``row`` with the largest positive
        feature value × coefficient; empty when the model is not linear."""
        if features is None:
            return {}
        return self.explain_rows(features[row:row + 1], [themes], size)[0]

    def explain_rows(self, features: Any, themes_per_row: Sequence[Sequence[str]],
                     size: int = EVIDENCE_SIZE) -> list[dict[str, dict[str, float]]]:
        """``explain`` for every row of ``features`` at once, given each row's themes.

        Feature value × coefficient is one multiplication over all non-zeros per theme, not
        one sparse row extraction per paragraph, which dominated tagging time.
        """
        explainer = self._explainer_or_none()
        if explainer is None or features is None:
            return [{} for _ in themes_per_row]
        matrix = _as_csr(features)
        names, coef = explainer.names, explainer.coef
        # A lone character or a punctuation fragment means nothing to a reader: it still
        # counts in the score but is never shown as evidence.
        shown = explainer.evidence_of(matrix.indices)
        contributions: dict[int, np.ndarray] = {}
        evidence = []
        bounds = matrix.indptr.tolist()
        for row, themes in enumerate(themes_per_row):
            start, end = bounds[row], bounds[row + 1]
            columns = matrix.indices[start:end]
            found = {}
            for theme in themes:
                label = self.labels.index(theme)
                if label not in contributions:
                    contributions[label] = matrix.data * np.where(
                        shown, coef[label, matrix.indices], 0.0)
                values = contributions[label][start:end]
                order = np.argsort(-values)[:size]
                # Plain Python values per paragraph at once: numpy scalars one by one are slow.
                top = zip(names[columns[order]].tolist(), values[order].tolist(), strict=True)
                found[theme] = {str(name): round(value, 4) for name, value in top if value > 0}
            evidence.append(found)
        return evidence

    def tag(self, texts: Sequence[str], *, report: str = "", ids: Sequence[str] | None = None,
            headings: Sequence[str | None] | None = None) -> ParagraphList:
        """Tag paragraph texts; ``ids`` and ``headings`` are carried through when given."""
        if isinstance(texts, str):
            raise TypeError("pass a list of paragraphs, not a single string")
        texts = list(texts)
        return self._paragraphs(texts, *self._judge(texts, headings), report=report, ids=ids,
                                headings=headings)

    def _judge(self, texts: list[str], headings: Sequence[str | None] | None = None,
               ) -> tuple[list[list[str]], list[list[float]], list[dict[str, dict[str, float]]]]:
        """Themes, probabilities and evidence of each text, as plain Python values."""
        features, probabilities = self._features_and_proba(texts, headings)
        # Python floats and bools once per call: numpy scalars are slow one at a time.
        assigned = (probabilities >= self.thresholds).tolist()
        themes_per_row = [[label for label, yes in zip(self.labels, row, strict=True) if yes]
                          for row in assigned]
        return themes_per_row, probabilities.tolist(), self.explain_rows(features, themes_per_row)

    def _paragraphs(self, texts: list[str], themes_per_row: list[list[str]],
                    probabilities: list[list[float]],
                    evidence: list[dict[str, dict[str, float]]], *, report: str,
                    ids: Sequence[str] | None, headings: Sequence[str | None] | None,
                    ) -> ParagraphList:
        tagged = ParagraphList()
        for index, (text, row) in enumerate(zip(texts, probabilities, strict=True)):
            tagged.append(TaggedParagraph(
                report=report,
                id=str(ids[index]) if ids is not None else f"{report}#{index}",
                index=index,
                heading=headings[index] if headings is not None else None,
                text=text,
                themes=themes_per_row[index],
                scores={label: round(p, 4) for label, p in zip(self.labels, row, strict=True)},
                evidence=evidence[index],
            ))
        return tagged

    def tag_reports(self, reports: Sequence[ReportInput]) -> list[Report]:
        """Tag the paragraphs of several reports in one pass through the model.

        The same results as one ``tag`` call per report, but the model's fixed cost per call
        (input checks of every classifier, sparse matrix set-up) is paid once: with a few
        hundred paragraphs per report that cost is a third of tagging time.
        """
        texts = [text for report in reports for text in report.texts]
        headings = [heading for report in reports
                    for heading in (report.headings or [None] * len(report.texts))]
        themes, probabilities, evidence = self._judge(texts, headings)
        tagged, start = [], 0
        for report in reports:
            end = start + len(report.texts)
            paragraphs = self._paragraphs(
                report.texts, themes[start:end], probabilities[start:end], evidence[start:end],
                report=report.name, ids=report.ids, headings=report.headings)
            if report.indices is not None:
                for paragraph, index in zip(paragraphs, report.indices, strict=True):
                    paragraph.index = index
            for number, paragraph in enumerate(paragraphs):
                paragraph.columns = (report.paragraph_columns[number]
                                     if report.paragraph_columns is not None else report.columns)
            tagged.append(Report(name=report.name, paragraphs=paragraphs, source=report.source,
                                 columns=report.columns))
            start = end
        return tagged


_EVIDENCE_IGNORES = re.compile(r"[\W_]+")
# Prefixes scikit-learn puts before a feature's name: the blocks of a FeatureUnion or
# ColumnTransformer ("text__words__协商"). A heading's words are marked as such.
_BLOCK_PREFIXES = ("text__", "words__", "chars__", "tfidf__", "embeddings__")
# The codebook cue block (features/cues.py), and the marks of columns that measure rather than
# name a word: cue counts and line shape (features.cues.COUNT_PREFIX, features.shape.
# SHAPE_PREFIX; not imported, so that tagging need not load those modules).
_CUE_BLOCK = "cues__"
_COUNT_PREFIXES = ("#cues:", "#shape:")


def readable_feature_name(name: str) -> str:
    """A feature's name as evidence shows it: the n-gram, or ``heading:`` and the n-gram."""
    name = str(name)
    if name.startswith("heading__"):
        return "heading:" + readable_feature_name(name[len("heading__"):])
    while name.startswith(_BLOCK_PREFIXES):
        name = name.split("__", 1)[1]
    if name.startswith("shape__"):
        return name[len("shape__"):]
    if name.startswith(_CUE_BLOCK):
        # A codebook cue term shows as "cue:<term>"; a count column keeps its "#" name.
        term = name[len(_CUE_BLOCK):]
        return term if term.startswith(_COUNT_PREFIXES) else "cue:" + term
    return name


def is_evidence(name: str) -> bool:
    """A word or phrase: at least two characters besides spaces, punctuation and symbols.
    A measure (``#cues:…``, ``#shape:…``: cue counts, line length) is never evidence."""
    core = name.removeprefix("heading:").removeprefix("cue:")
    if core.startswith(_COUNT_PREFIXES):
        return False
    return len(_EVIDENCE_IGNORES.sub("", core)) >= 2


def _as_csr(features: Any) -> Any:
    """Features as a CSR matrix: sparse ones converted, dense rows keep only non-zeros."""
    from scipy import sparse

    return sparse.csr_matrix(features)


def segment_input(raw_text: str, name: str, source: str = "") -> ReportInput:
    """Segment raw report text into the paragraphs ``ThemeModel.tag_reports`` takes."""
    paragraphs = segment_report(raw_text)
    return ReportInput(name=name, source=source, texts=[p.text for p in paragraphs],
                       headings=[p.heading for p in paragraphs],
                       indices=[p.index for p in paragraphs])


def records_input(records: Iterable[dict[str, Any]], name: str, source: str = "") -> ReportInput:
    """Ready paragraphs, one per ``{"id", "text"}`` record (``heading`` optional), keeping
    their ids."""
    records = list(records)
    headings = [r.get("heading") for r in records]
    return ReportInput(name=name, source=source, texts=[r["text"] for r in records],
                       ids=[str(r.get("id", i)) for i, r in enumerate(records)],
                       headings=headings if any(headings) else None)


def table_inputs(path: str | Path, table: TableOptions | None = None) -> list[ReportInput]:
    """The reports of a table file: one per row (its text segmented, named by the id
    column), or one for the whole file with a paragraph per row (``table.rows``)."""
    from cppcc_themes.features.tables import TableOptions, read_table_rows

    table = table or TableOptions()
    rows = read_table_rows(path, table)
    path = Path(path)
    if table.rows == "paragraph":
        return [ReportInput(name=path.stem, source=str(path), texts=[row.text for row in rows],
                            ids=[row.id for row in rows],
                            paragraph_columns=[row.columns for row in rows])]
    reports = []
    for row in rows:
        report = segment_input(row.text, row.id if table.id_column else f"{path.stem}#{row.id}",
                               str(path))
        report.columns = row.columns
        reports.append(report)
    return reports


def read_input(path: str | Path, table: TableOptions | None = None,
               ) -> ReportInput | list[ReportInput]:
    """Read one input: a report file, a ``.jsonl`` of ready paragraphs, ``-`` (stdin), or a
    table (``.csv``, ``.tsv``, ``.parquet``, ``.xlsx``), which gives a list of reports."""
    if str(path) == STDIN:
        return segment_input(read_stdin(), "stdin", STDIN)
    path = Path(path)
    if path.suffix.lower() in TABLE_SUFFIXES:
        return table_inputs(path, table)
    if path.suffix.lower() == ".jsonl":
        return records_input(read_jsonl_records(path), path.stem, str(path))
    return segment_input(read_report(path), path.stem, str(path))


def tag_text(model: ThemeModel, raw_text: str, name: str, source: str = "") -> Report:
    """Segment raw report text and tag every paragraph."""
    return model.tag_reports([segment_input(raw_text, name, source)])[0]


def tag_report(model: ThemeModel, path: str | Path) -> Report:
    """Read, clean, segment and tag one report file (.txt, .docx, .pdf, .html)."""
    path = Path(path)
    return tag_text(model, read_report(path), path.stem, str(path))


def tag_records(model: ThemeModel, records: Iterable[dict[str, Any]], name: str,
                source: str = "") -> Report:
    """Tag ready paragraphs, one per ``{"id", "text"}`` record, keeping their ids."""
    return model.tag_reports([records_input(records, name, source)])[0]


def tag_path(model: ThemeModel, path: str | Path,
             table: TableOptions | None = None) -> Report | list[Report]:
    """Tag one input: a report file, a ``.jsonl`` of ready paragraphs, or ``-`` (stdin); a
    table gives a list of reports."""
    read = read_input(path, table)
    if isinstance(read, list):
        return model.tag_reports(read)
    return model.tag_reports([read])[0]


def _cannot_tag(path: str | Path, error: Exception) -> ReadError:
    return ReadError(f"{path}: cannot be tagged ({type(error).__name__}: {error})")


def read_input_safely(path: str | Path, table: TableOptions | None = None,
                      ) -> ReportInput | list[ReportInput] | ReadError:
    """``read_input``, with any failure turned into a one-line ReadError."""
    try:
        return read_input(path, table)
    except ReadError as error:
        return error
    except Exception as error:  # a damaged file can trip any parser; name it, go on
        return _cannot_tag(path, error)


def tag_path_safely(model: ThemeModel, path: str | Path, table: TableOptions | None = None,
                    ) -> Report | list[Report | ReadError] | ReadError:
    """Tag one input; any failure becomes a one-line ReadError so a batch goes on. A table
    gives a list, one item per report."""
    report = read_input_safely(path, table)
    if isinstance(report, ReadError):
        return report
    if isinstance(report, list):
        return tag_inputs_safely(model, report)
    return tag_inputs_safely(model, [report])[0]


def tag_inputs_safely(model: ThemeModel,
                      reports: Sequence[ReportInput]) -> list[Report | ReadError]:
    """Tag read reports together; if that fails, tag each alone so only the culprit fails."""
    try:
        return list(model.tag_reports(reports))
    except Exception as error:
        if len(reports) == 1:
            return [_cannot_tag(reports[0].source or reports[0].name, error)]
        return [tagged for report in reports for tagged in tag_inputs_safely(model, [report])]


_worker_model: ThemeModel | None = None
_worker_table: TableOptions | None = None
# fork shares the loaded model and works whatever the main module is (a script on stdin,
# `python -c`); callers must not hold locks in other threads meanwhile (the CLI's progress bar
# refreshes from the main thread). Elsewhere, spawn.
_START_METHOD = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def _start_worker(model_or_dir: ThemeModel | str, table: TableOptions | None = None) -> None:
    global _worker_model, _worker_table
    _worker_model = _as_model(model_or_dir)
    _worker_table = table


def _tag_chunk_in_worker(paths: list[str]) -> list[tuple[str, Report | ReadError]]:
    return list(_tag_in_batches(_worker_model, paths, _worker_table))


def _usable_cpus() -> int:
    """Processors this process may run on: more workers than these only take turns."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _chunks(jobs: list[str | ReadError]) -> list[list[str] | str | ReadError]:
    """Consecutive files grouped into chunks of about ``_CHUNK_BYTES``; standard input and
    errors stand alone (they are handled in this process)."""
    units: list[list[str] | str | ReadError] = []
    chunk: list[str] = []
    size = 0
    for job in jobs:
        if isinstance(job, ReadError) or job == STDIN:
            if chunk:
                units.append(chunk)
                chunk, size = [], 0
            units.append(job)
            continue
        chunk.append(job)
        size += _file_size(job)
        if size >= _CHUNK_BYTES or len(chunk) >= _CHUNK_FILES:
            units.append(chunk)
            chunk, size = [], 0
    if chunk:
        units.append(chunk)
    return units


def _as_model(model_or_dir: ThemeModel | str | Path) -> ThemeModel:
    if isinstance(model_or_dir, ThemeModel):
        return model_or_dir
    from cppcc_themes.train.package import load_model

    return load_model(model_or_dir)


def expand_inputs(inputs: Iterable[str | Path]) -> list[str | ReadError]:
    """The files behind the inputs (folders searched recursively), in order; an input that
    cannot be expanded stands as its ReadError."""
    expanded: list[str | ReadError] = []
    for raw in inputs:
        try:
            expanded.extend(str(path) for path in iter_report_paths(raw, expanded.append))
        except ReadError as error:
            expanded.append(error)
    return expanded


def tag_paths(model_or_dir: ThemeModel | str | Path, inputs: Iterable[str | Path],
              workers: int = 1, table: TableOptions | None = None,
              ) -> Iterator[tuple[str, Report | ReadError]]:
    """Tag many inputs; yield ``(path, Report or ReadError)`` per file, in input order.

    Inputs are report files, folders (searched recursively), ``.jsonl`` files and ``-`` for
    stdin. With ``workers > 1`` files are tagged in up to that many processes, in chunks of
    about ``_CHUNK_BYTES`` (input too small for two chunks is tagged in this process); the
    results are the same as with one, and come in the same order. A bad file yields its
    error and the rest go on. A bad model raises ``ModelLoadError`` before anything is tagged.
    A table file (``.csv``, ``.tsv``, ``.parquet``, ``.xlsx``, read as ``table`` says) yields
    one item per report it holds.
    """
    model = _as_model(model_or_dir)
    jobs = expand_inputs(inputs)
    # Input too small for two chunks is tagged here: starting processes would cost more.
    units = _chunks(jobs) if workers > 1 and _usable_cpus() > 1 else []
    chunks = sum(isinstance(unit, list) for unit in units)
    if chunks <= 1:
        yield from _tag_in_batches(model, jobs, table)
        return
    context = multiprocessing.get_context(_START_METHOD)
    max_workers = min(workers, chunks, _usable_cpus())
    with concurrent.futures.ProcessPoolExecutor(
            max_workers=max_workers, mp_context=context,
            initializer=_start_worker, initargs=(model, table)) as pool:
        def submit(unit: list[str] | str) -> Any:
            if isinstance(unit, list):
                return pool.submit(_tag_chunk_in_worker, unit)
            return [(unit, tag_path_safely(model, unit, table))]  # standard input

        def settle(unit: Any, outcome: Any) -> tuple[Any, Any]:
            if isinstance(outcome, concurrent.futures.Future):
                outcome = outcome.result()
            return unit, outcome

        for unit, outcome in in_input_order(units, submit, settle,
                                            _CHUNKS_AHEAD_PER_WORKER * max_workers):
            if isinstance(outcome, ReadError):
                yield unit, outcome
            else:
                yield from outcome


def each_report(results: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """``(path, result)`` pairs with the list of a table file's reports spread out, one pair
    per report."""
    for path, result in results:
        if isinstance(result, list):
            for item in result:
                yield path, item
        else:
            yield path, result


def in_input_order(jobs: Iterable[str | ReadError], submit: Callable[[str], Any],
                   settle: Callable[[str, Any], tuple[str, Any]],
                   ahead: int) -> Iterator[tuple[str, Any]]:
    """``(path, result)`` per job in input order, with at most ``ahead`` submitted jobs
    waiting: ``submit(job)`` starts one (a future, or a result at once), ``settle(path,
    outcome)`` waits for it; a job that is a ReadError passes as it is.

    The window is bounded because results that finish ahead of a slow file wait in memory:
    submitting every file at once would hold a whole corpus of results.
    """
    pending: collections.deque[tuple[str, Any]] = collections.deque()
    for job in jobs:
        pending.append((_error_path(job), job) if isinstance(job, ReadError)
                       else (job, submit(job)))
        while len(pending) > ahead:
            yield settle(*pending.popleft())
    while pending:
        yield settle(*pending.popleft())


def _tag_in_batches(model: ThemeModel, jobs: Iterable[str | ReadError],
                    table: TableOptions | None = None,
                    ) -> Iterator[tuple[str, Report | ReadError]]:
    """Read inputs in order and tag them in batches of about ``BATCH_CHARS`` characters.

    Only one batch is held in memory at a time; results come in input order.
    """
    pending: list[tuple[str, ReportInput | ReadError]] = []
    chars = 0
    for job in jobs:
        if isinstance(job, ReadError):
            pending.append((_error_path(job), job))
            continue
        read = read_input_safely(job, table)
        for report in read if isinstance(read, list) else [read]:
            pending.append((job, report))
            if not isinstance(report, ReadError):
                chars += sum(map(len, report.texts))
        if chars >= BATCH_CHARS:
            yield from _tag_pending(model, pending)
            pending, chars = [], 0
    yield from _tag_pending(model, pending)


def _tag_pending(model: ThemeModel, pending: list[tuple[str, ReportInput | ReadError]],
                 ) -> Iterator[tuple[str, Report | ReadError]]:
    reports = [item for _, item in pending if not isinstance(item, ReadError)]
    tagged = iter(tag_inputs_safely(model, reports) if reports else [])
    for path, item in pending:
        yield path, item if isinstance(item, ReadError) else next(tagged)


def _error_path(error: ReadError) -> str:
    """The path an error message starts with."""
    return str(error).split(": ", 1)[0]
