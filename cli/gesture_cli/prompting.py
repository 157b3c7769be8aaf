"""Asking a person at a terminal for the required facts when ``gesture decide`` is given none.

Answers are checked as they are typed by the reader every command-line value goes through
(``Policy.complaint_from_text``, then the complaint reader's ``read_value``), so a prompt accepts
exactly what ``--fact VALUE`` accepts and says why it refuses the rest.
"""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.prompt import Confirm, InvalidResponse, Prompt
from rich.text import Text

from gesture_engine import Policy
from gesture_engine.complaint import ValueRefused, read_value
from gesture_engine.engine.facts import Fact

from ._shared import EXIT_USAGE
from .fact_options import fact_kind, fact_values

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


def interactive() -> bool:
    """Prompt only when a person is at both ends: stdin and stdout are terminals."""
    return sys.stdin.isatty() and sys.stdout.isatty()


class FactPrompt(Prompt):
    """A prompt for one fact; level/enum/boolean facts show their choices."""

    def __init__(self, policy: Policy, fact: Fact, console: Console) -> None:
        choices = list(fact_values(fact)) or None
        question = Text(fact.name, style="bold")
        if choices is None:
            question.append(f" ({fact_kind(fact, policy.currency)})")
        super().__init__(question, console=console, choices=choices)
        self.policy = policy
        self.fact = fact

    def process_response(self, value: str) -> str:
        text = value.strip()
        try:
            read_value(self.fact, self.policy.complaint_from_text({self.fact.name: text})[self.fact.name])
        except ValueRefused as refused:
            raise InvalidResponse(Text(str(refused), style="prompt.invalid")) from None
        return text


def ask_required_facts(policy: Policy) -> tuple[str, ...]:
    """``name=value`` for each required fact, asked one by one once the person agrees; empty when
    there is nothing to ask or the offer is declined (then the missing facts are reported as usual).
    Ctrl-C exits 130 and end of input exits 2, without a traceback."""
    required = [fact for fact in policy.facts.values() if fact.required]
    if not required:
        return ()
    console = Console(highlight=False)
    asking: Fact | None = None
    try:
        if not Confirm.ask(f"No facts given. Answer the {len(required)} required one(s) now?", default=True, console=console):
            return ()
        answers = []
        for asking in required:
            if asking.description:
                console.print(Text(asking.description, style="dim"))
            answers.append(f"{asking.name}={FactPrompt(policy, asking, console)()}")
        return tuple(answers)
    except KeyboardInterrupt:
        click.echo("\ngesture: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except EOFError:
        missing = f" before {asking.name} was given" if asking is not None else ""
        click.echo(f"\ngesture: input ended{missing}", err=True)
        sys.exit(EXIT_USAGE)
