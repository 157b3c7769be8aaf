"""One family of errors: every failure a caller can act on is a ``GestureError``.

Each error keeps its facts as attributes (``problems``) so integrations can show them field by
field; ``str(error)`` gives the same problems as readable lines.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One located mistake in a policy: ``file:line:col: path: message``."""

    file: str
    line: int
    column: int
    path: str
    message: str
    code: str = "invalid"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


@dataclass(frozen=True)
class FieldProblem:
    """One mistake in a complaint: which field, the value given, what was expected, and a stable ``code``
    (e.g. ``required``, ``wrong_type``, ``out_of_range``, ``invalid_json``) for programs to act on."""

    field: str
    message: str
    value: object = None
    code: str = "invalid"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


MAX_PROBLEMS = 50
"""Problems of one complaint that are kept: reading a complaint stops building them past this, and counts the rest."""
MAX_LISTED = 50
"""Problems an error's message lists; the rest are counted ("... and 1234 more problems"), so a
hostile input with a million mistakes gets a report of a readable size."""


def listing(head: str, problems: tuple[object, ...], count: int, prefix: str = "  ") -> list[str]:
    """The lines of a report: ``head``, then the first ``MAX_LISTED`` problems, then how many more."""
    shown = problems[:MAX_LISTED]
    lines = [head, *(f"{prefix}{problem}" for problem in shown)]
    rest = count - len(shown)
    if rest > 0:
        lines.append(f"{prefix}... and {rest} more problem{'s' if rest != 1 else ''}")
    return lines


class GestureError(Exception):
    """Base of every error the engine raises on purpose."""


class PolicyError(GestureError, ValueError):
    """A policy could not be loaded; ``problems`` lists every mistake found, sorted by position.

    Also a ``ValueError``: bad input, so integrations that map ValueError to a client error just work."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(sorted(problems))
        super().__init__(self._summary())

    def _summary(self) -> str:
        count = len(self.problems)
        return "\n".join(listing(f"policy has {count} problem{'s' if count != 1 else ''}", self.problems, count))


class ComplaintError(GestureError, ValueError):
    """A complaint cannot be decided; ``problems`` lists every field that is missing or wrong.

    Also a ``ValueError``, so web frameworks that map ValueError to a client error (4xx) do so here."""

    def __init__(self, problems: list[FieldProblem] | tuple[FieldProblem, ...], more: int = 0) -> None:
        self.problems = tuple(problems)
        self.more = more
        """Problems found but not kept: reading stops keeping them at ``MAX_PROBLEMS`` and counts the rest."""
        super().__init__(self._summary())

    @property
    def count(self) -> int:
        """Every problem found, kept or not."""
        return len(self.problems) + self.more

    def _summary(self) -> str:
        count = self.count
        return "\n".join(listing(f"complaint has {count} problem{'s' if count != 1 else ''}", self.problems, count))

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form, used for error records in batch output (``more_problems``: how many
        were found beyond those listed, when some were)."""
        record: dict[str, object] = {
            "error": "invalid_complaint",
            "problems": [{"field": p.field, "message": p.message} for p in self.problems],
        }
        if self.more:
            record["more_problems"] = self.more
        return record


class ComplaintFileError(GestureError, ValueError):
    """A file of complaints that cannot be read as one at all, as opposed to one bad record in it (which
    becomes an error record in its place): a broken or ambiguous CSV header, for instance. ``line`` is
    where (1-based), ``code`` a stable code (``csv_header``, ``repeated_column``, ...)."""

    def __init__(self, line: int, message: str, code: str) -> None:
        self.line = line
        self.message = message
        self.code = code
        super().__init__(f"line {line}: {message}")


class LedgerError(GestureError):
    """A goodwill ledger refused an operation or could not be used; nothing was written.

    ``code`` is stable for programs (``unknown_reservation``, ``already_issued``, ``exceeds_reservation``,
    ``unreachable``, ...; listed in docs/ledger.md), ``reservation_id`` names the reservation concerned when
    there is one, and ``line`` the line of an import file at fault."""

    def __init__(self, code: str, message: str, *, reservation_id: str | None = None, line: int | None = None) -> None:
        self.code = code
        self.message = message
        self.reservation_id = reservation_id
        self.line = line
        super().__init__(f"{code}: {message}")

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form, for ``--json`` output."""
        record: dict[str, object] = {"error": self.code, "message": self.message}
        if self.reservation_id is not None:
            record["reservation_id"] = self.reservation_id
        if self.line is not None:
            record["line"] = self.line
        return record
