"""``gesture spark``: decide or replay complaints on Apache Spark, for people with Spark but no Python code.

Needs the ``spark`` extra. Runs on ``--master local[2]`` by default, or under ``spark-submit`` against
any master (the session spark-submit made is used; see docs/spark.md).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from gesture_engine import PolicyError
from gesture_engine.mapping import MappingError
from gesture_engine.tools.diff import diff_policies
from gesture_engine.tools.revisions import RevisionError, is_revision, materialise, relabelled

from ._shared import EXIT_BAD_POLICY, EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail_mapping, fail_policy, json_option, policy_option
from .diff_cmd import _show_replay, _show_structure, breakdown, by_option

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from gesture_engine.spark import PolicyFiles, SparkError

EXIT_SPARK = 15
"""The Spark job failed (an executor could not load the policy, the output exists, Spark itself failed)."""


def _spark_error(error: SparkError) -> NoReturn:
    click.echo(f"gesture: {error.code}: {error.message}", err=True)
    sys.exit(EXIT_USAGE if error.code in ("input", "output-exists", "json-column", "column-conflict", "mapping") else EXIT_SPARK)


def _files(spec: str | None) -> PolicyFiles:
    """A policy's files from a path, a git revision (``REV:path``) or the embedded default."""
    from gesture_engine.spark import PolicyFiles

    try:
        if spec is None or not is_revision(spec):
            return PolicyFiles.read(spec)
        with tempfile.TemporaryDirectory(prefix="gesture-rev-") as temp:
            path = materialise(spec, Path(temp))
            try:
                files = PolicyFiles.read(path)
            except PolicyError as error:
                raise relabelled(error, path, spec) from None
            return dataclasses.replace(files, source=spec.rstrip("/"))
    except PolicyError as error:
        fail_policy(error)
    except RevisionError as error:
        click.echo(f"gesture: {error}", err=True)
        sys.exit(EXIT_BAD_POLICY)


@contextmanager
def _session(master: str) -> Iterator[SparkSession]:
    """The session spark-submit made, else a new one on ``master``; Spark's own failures reported
    without a Java stack trace."""
    try:
        from pyspark.sql import SparkSession

        from gesture_engine.spark import SparkError, session
    except ImportError:
        click.echo("gesture: Spark support needs the spark extra: pip install 'gesture-engine[spark]'", err=True)
        sys.exit(EXIT_USAGE)
    active = SparkSession.getActiveSession()
    spark = active if active is not None else session(master)
    try:
        yield spark
    except SparkError as error:
        _spark_error(error)
    except Exception as error:  # Spark's own (Py4J, analysis): the first line says what
        if type(error).__module__.startswith(("pyspark", "py4j")):
            click.echo(f"gesture: spark failed: {str(error).strip().splitlines()[0][:500]}", err=True)
            sys.exit(EXIT_SPARK)
        raise


master_option = click.option("--master", default="local[2]", show_default=True,
                             help="Spark master when not run by spark-submit (spark-submit's --master wins).")
mapping_option = click.option("--mapping", "mapping_name", metavar="NAME|PATH",
                              help="Rows (Parquet) or lines (JSON Lines) are helpdesk payloads, turned into complaints by this mapping "
                                   "(e.g. zendesk).")
from_option = click.option("--from", "in_format", type=click.Choice(["parquet", "jsonl", "csv"]), help="Input format [default: by suffix].")


@click.group("spark")
def spark_group() -> None:
    """Decide or replay complaints on Apache Spark (pip install 'gesture-engine[spark]').

    Input and output are Parquet, JSON Lines or CSV, by suffix; outputs are directories of part files.

    \b
    Example:
      gesture spark decide complaints.parquet decisions.parquet
      gesture spark replay complaints.parquet --old main:rules/acme --new rules/acme
    """


@spark_group.command("decide")
@policy_option
@master_option
@from_option
@click.option("--to", "out_format", type=click.Choice(["parquet", "jsonl", "csv"]), help="Output format [default: by suffix, else parquet].")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@mapping_option
@click.argument("input_path", metavar="INPUT")
@click.argument("output_path", metavar="OUTPUT")
def spark_decide(policy_path: str | None, master: str, in_format: str | None, out_format: str | None, overwrite: bool, mapping_name: str | None,
                 input_path: str, output_path: str) -> None:
    """Decide every complaint of INPUT and write each with its decision to OUTPUT.

    Columns named after the policy's facts are the complaint (JSON Lines: each line is one); every
    other column is kept. A row that is not a valid complaint is written too, with `error` set.
    Nothing is written unless the whole job succeeds.

    \b
    Example:
      gesture spark decide complaints.parquet decisions.parquet -p rules/acme
      spark-submit --master yarn $(which gesture) spark decide s3a://lake/complaints s3a://lake/decisions
    """
    from gesture_engine.spark import decide_dataframe
    from gesture_engine.spark.files import format_of, read_complaints, write_decisions

    files = _files(policy_path)
    with _session(master) as spark:
        started = time.perf_counter()
        source = read_complaints(spark, input_path, format_of(input_path, in_format))
        try:
            decided = decide_dataframe(source.df, files, mapping=mapping_name, json_column=source.json_column, text=source.text)
        except MappingError as error:
            fail_mapping(error)
        fmt = format_of(output_path, out_format)
        write_decisions(decided, output_path, fmt, overwrite=overwrite)
        seconds = time.perf_counter() - started
        counts = ""
        if fmt == "parquet":
            from pyspark.sql import functions as F

            written = spark.read.parquet(output_path).agg(F.count(F.lit(1)).alias("rows"), F.count("error").alias("invalid")).first()
            if written is not None:
                counts = f"{written['rows']} complaint(s), {written['invalid']} invalid; "
        click.echo(f"{output_path}: {counts}policy {files.source} ({files.fingerprint[:12]}), {seconds:.1f}s", err=True)


@spark_group.command("replay")
@json_option
@master_option
@from_option
@click.option("--old", "old_spec", required=True, metavar="OLD", help="The policy now: a path or a git revision REV:path.")
@click.option("--new", "new_spec", required=True, metavar="NEW", help="The policy proposed: a path or a git revision REV:path.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(0), help="How many of the largest changes to list.")
@click.option("--fail-on-change", is_flag=True, help="Exit 1 if any decision changed.")
@by_option
@mapping_option
@click.argument("input_path", metavar="INPUT")
def spark_replay(as_json: bool, master: str, in_format: str | None, old_spec: str, new_spec: str, top: int, fail_on_change: bool,
                 by: tuple[str, ...], mapping_name: str | None, input_path: str) -> None:
    """Decide every complaint of INPUT under OLD and NEW and report what changed, as
    `gesture diff OLD NEW --replay INPUT` does (the same report, computed on Spark): decisions
    changed by kind, action transitions, the budget delta in total, by action, by tier and by channel.

    \b
    Example:
      gesture spark replay last-year.parquet --old main:rules/acme --new rules/acme
      gesture spark replay tickets.jsonl --old main:rules/acme --new rules/acme --mapping zendesk
    """
    from gesture_engine.spark import replay_summary
    from gesture_engine.spark.files import format_of, read_complaints

    old_files, new_files = _files(old_spec), _files(new_spec)
    old, new = old_files.load(), new_files.load()
    facts = breakdown(by, old, new)
    with _session(master) as spark:
        source = read_complaints(spark, input_path, format_of(input_path, in_format), keep_blank=True)
        try:
            result = replay_summary(source.df, old_files, new_files, top=top, by=facts, mapping=mapping_name, json_column=source.json_column,
                                    text=source.text, first_line=source.first_line)
        except MappingError as error:
            fail_mapping(error)
    structure = diff_policies(old, new, old_spec, new_spec)
    if as_json:
        click.echo(json.dumps({**structure.to_dict(), "replay": result.to_dict()}, indent=2))
    else:
        _show_structure(structure)
        _show_replay(input_path, result)
    sys.exit(EXIT_FAILED if fail_on_change and result.changed else EXIT_OK)


@spark_group.command("entry")
def spark_entry() -> None:
    """Print the path of the .py file spark-submit runs as `gesture` (spark-submit "$(gesture spark entry)" spark decide ...)."""
    from . import spark_submit

    click.echo(spark_submit.__file__)

