"""Reading corpora kept as tables: ``.csv`` and ``.tsv`` (any Chinese encoding), ``.parquet``
and ``.xlsx``, with one report or one paragraph per row.

A row's text is in the text column (``TableOptions.text_column``, else a column named
``text``); the id column, when given, names each row; every other column is carried along
with the row, as plain strings, numbers or None. Errors are one line naming the file.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cppcc_themes.features.readers import ReadError, check_zip_parts, decode_text, read_bounded

__all__ = ["ROW_KINDS", "TABLE_SUFFIXES", "TableOptions", "TableRow", "is_table",
           "read_table_rows"]

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".xlsx")
ROW_KINDS = ("report", "paragraph")
DEFAULT_TEXT_COLUMN = "text"


@dataclass(frozen=True)
class TableOptions:
    """How to read a table: which column holds the text, which names the rows, and whether
    a row is a whole report (segmented into paragraphs) or one paragraph."""

    text_column: str | None = None
    id_column: str | None = None
    rows: str = "report"

    def __post_init__(self) -> None:
        if self.rows not in ROW_KINDS:
            raise ValueError(f"rows must be one of {ROW_KINDS}, not {self.rows!r}")


@dataclass
class TableRow:
    """One row: its id (the id column, else its row number from 1), its text, and the values
    of the other columns."""

    id: str
    text: str
    columns: dict[str, Any]


def is_table(path: str | Path) -> bool:
    """Whether ``path`` names a table file this module reads."""
    return Path(str(path)).suffix.lower() in TABLE_SUFFIXES


def _frame(path: Path) -> Any:
    """The table at ``path`` as a pandas DataFrame (cells as read, header from the first
    row); raises ReadError."""
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            # Decoded like any report, so GB18030, Big5 or UTF-16 tables read as well.
            text = decode_text(read_bounded(path), str(path))
            return pd.read_csv(io.StringIO(text), sep="\t" if suffix == ".tsv" else ",",
                               dtype=str, keep_default_na=False)
        if suffix == ".parquet":
            return pd.read_parquet(io.BytesIO(read_bounded(path)))
        check_zip_parts(path)
        return pd.read_excel(path, sheet_name=0, engine="openpyxl")
    except ReadError:
        raise
    except PermissionError:
        raise ReadError(f"{path}: permission denied") from None
    except ImportError as error:
        raise ReadError(f"{path}: reading {suffix} needs {error.name or error}") from None
    except Exception as error:  # each format's parser raises its own kinds of error
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ReadError(f"{path}: not a readable {suffix} table ({detail})") from None


def _plain(value: Any) -> Any:
    """A cell as a JSON-ready value: None for missing, Python numbers, else a string."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _column(frame: Any, wanted: str, role: str, path: Path) -> str:
    columns = [str(column) for column in frame.columns]
    if wanted not in columns:
        raise ReadError(f"{path}: no {role} column {wanted!r}; its columns: "
                        f"{', '.join(columns) or '(none)'}")
    return wanted


def read_table_rows(path: str | Path, options: TableOptions | None = None) -> list[TableRow]:
    """The rows of a table file that have text, in file order; raises ReadError (one line:
    a missing column names the file and the columns it has)."""
    path = Path(path)
    options = options or TableOptions()
    if not path.is_file():
        raise ReadError(f"{path}: no such file")
    frame = _frame(path)
    frame.columns = [str(column) for column in frame.columns]
    text_column = _column(frame, options.text_column or DEFAULT_TEXT_COLUMN, "text", path)
    id_column = (None if options.id_column is None
                 else _column(frame, options.id_column, "id", path))
    rows = []
    for number, record in enumerate(frame.to_dict(orient="records"), 1):
        text = _plain(record.pop(text_column))
        if text is None or not str(text).strip():
            continue
        identifier = _plain(record.pop(id_column)) if id_column else None
        rows.append(TableRow(id=str(identifier if identifier is not None else number),
                             text=str(text),
                             columns={key: _plain(value) for key, value in record.items()}))
    if not rows:
        raise ReadError(f"{path}: no rows with text in column {text_column!r}")
    return rows
