"""Complaints in, decisions out, for ``gesture spark``: Parquet, JSON Lines or CSV, read as the local
commands read them, and written so that a failed job leaves no output at all.

JSON Lines are read as lines of text and parsed by the engine's own JSON reader, exactly as
``gesture decide --batch`` parses them (Spark's JSON reader would guess a schema); CSV cells are text,
typed like the local CSV batch types them. A local output is written to a hidden directory beside it
and renamed into place only when every task has succeeded; a URI (``s3a://``, ``hdfs://``, ...) is
written in place by Spark's own commit protocol (its ``_SUCCESS`` marker says it completed).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from gesture_engine.spark._policy import SparkError, unwrapped

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

Format = Literal["parquet", "jsonl", "csv"]
FORMATS: tuple[Format, ...] = ("parquet", "jsonl", "csv")
_SUFFIXES: dict[str, Format] = {".parquet": "parquet", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")
JSON_COLUMN = "complaint"
"""The column that holds each JSON Lines complaint's text."""


@dataclass(frozen=True)
class Complaints:
    """A DataFrame of complaints and how the engine should read it (see ``decide_dataframe``)."""

    df: DataFrame
    json_column: str | None = None
    text: bool = False
    first_line: int = 1


def format_of(path: str, given: str | None = None) -> Format:
    """The format named, else the one the path's suffix says (a directory without one: Parquet)."""
    if given is not None:
        if given not in FORMATS:
            raise SparkError("input", f"unknown format {given!r}: expected one of {', '.join(FORMATS)}")
        return given
    return _SUFFIXES.get(Path(path.rstrip("/")).suffix.lower(), "parquet")


def read_complaints(spark: SparkSession, path: str, fmt: Format, *, keep_blank: bool = False) -> Complaints:
    """Complaints from ``path``. JSON Lines keep blank lines only when asked (a replay numbers lines)."""
    if _is_local(path) and not Path(path).exists():
        raise SparkError("input", f"no such file or directory: {path}")
    if fmt == "parquet":
        return Complaints(spark.read.parquet(path))
    if fmt == "csv":
        return Complaints(spark.read.option("header", True).option("encoding", "UTF-8").csv(path), text=True, first_line=2)
    lines = spark.read.text(path).withColumnRenamed("value", JSON_COLUMN)
    if not keep_blank:
        from pyspark.sql import functions as F

        lines = lines.where(F.trim(F.col(JSON_COLUMN)) != "")
    return Complaints(lines, json_column=JSON_COLUMN)


def write_decisions(df: DataFrame, path: str, fmt: Format, *, overwrite: bool = False) -> None:
    """Write ``df`` to ``path`` as a directory of part files, all or nothing on a local disk. Nested
    columns are written as JSON text in CSV, which has no other way to hold them."""
    if fmt == "csv":
        from pyspark.sql import functions as F
        from pyspark.sql.types import ArrayType, MapType, StructType

        nested = (ArrayType, MapType, StructType)
        df = df.select(*(F.to_json(F.col(f.name)).alias(f.name) if isinstance(f.dataType, nested) else F.col(f.name) for f in df.schema.fields))
    if not _is_local(path):
        with unwrapped():
            _writer(df, fmt, "overwrite" if overwrite else "errorifexists")(path)
        return
    target = Path(path)
    if target.exists() and not overwrite:
        raise SparkError("output-exists", f"{path} already exists (--overwrite replaces it)")
    temp = target.with_name(f".{target.name}.gesture-{uuid.uuid4().hex[:12]}")
    try:
        with unwrapped():
            _writer(df, fmt, "errorifexists")(os.fspath(temp))
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    old = target.with_name(f".{target.name}.gesture-old-{uuid.uuid4().hex[:12]}")
    if target.exists():
        target.rename(old)
    temp.rename(target)
    if old.exists():
        shutil.rmtree(old) if old.is_dir() else old.unlink()


def _writer(df: DataFrame, fmt: Format, mode: str) -> Callable[[str], None]:
    writer = df.write.mode(mode)
    if fmt == "parquet":
        return writer.parquet
    if fmt == "csv":
        return writer.option("header", True).csv
    return writer.json


def _is_local(path: str) -> bool:
    """A path on this machine's disk, not a URI (``s3a://``, ``hdfs://``, ``dbfs:/``, ``file:``)."""
    return _SCHEME.match(path) is None
