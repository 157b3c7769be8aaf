"""A policy's facts as command-line options: listed in ``--help``, completed by the shell, and told
apart from misspelt options of the command itself.

``decide`` and ``explain`` take ``--fact VALUE`` for whatever facts the policy declares, so click
cannot know them in advance: the command passes unknown options through as arguments, and this
module supplies what click would otherwise do for declared options.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import click
from click.shell_completion import CompletionItem

from gesture_engine import Policy, PolicyError, load_policy
from gesture_engine.engine.conditions import show
from gesture_engine.engine.facts import ENVELOPE, Fact

_ARGS = "gesture_cli.args"  # ctx.meta key: the command's raw arguments, for --help (parsed eagerly)
_AFTER_DASHES = "gesture_cli.after_dashes"  # ctx.meta key: the arguments after "--"


def after_dashes() -> tuple[str, ...]:
    """The arguments after ``--`` of the running :class:`FactCommand`: never options."""
    context = click.get_current_context(silent=True)
    return tuple(context.meta.get(_AFTER_DASHES, ())) if context is not None else ()


def option_name(name: str) -> str:
    """How a fact is written as an option: ``customer_value`` -> ``--customer-value``."""
    return "--" + name.replace("_", "-")


def fact_kind(fact: Fact, currency: str) -> str:
    """The values a fact takes, as help and prompts show them: ``low < medium < high``, ``integer ≥ 0``."""
    bounds = "".join(f" {sign} {show(limit)}" for sign, limit in (("≥", fact.minimum), ("≤", fact.maximum)) if limit is not None)
    return {
        "level": " < ".join(fact.values),
        "enum": "one of " + ", ".join(fact.values),
        "money": f"amount in {currency}{bounds}",
        "integer": f"integer{bounds}",
        "number": f"number{bounds}",
        "boolean": "true or false",
        "string": f"text of at most {fact.max_length} characters",
        "duration": "duration like 2h30m or PT2H30M",
        "date": "date like 2026-11-23",
        "datetime": "date and time with a timezone, like 2026-11-23T09:30:00Z",
        "list": "comma-separated list of " + (", ".join(fact.values) if fact.values else "text"),
    }.get(fact.type) or fact.expected()


def describe_fact(fact: Fact, currency: str) -> str:
    """One line of help: the values a fact takes, whether it is required or its default, what it means."""
    need = "required" if fact.required else "optional" if fact.default is None else f"default {show(fact.default)}"
    return f"{fact_kind(fact, currency)}; {need}." + (f" {fact.description}" if fact.description else "")


def fact_values(fact: Fact) -> tuple[str, ...]:
    """The values a shell or a prompt can offer for a fact; empty when any typed value may do."""
    if fact.finite:
        return fact.values
    return ("true", "false") if fact.type == "boolean" else ()


def policy_path_in(args: Sequence[str]) -> str | None:
    """The ``-p/--policy`` value among raw arguments (the last one wins, as when parsed)."""
    path: str | None = None
    tokens = iter(args)
    for token in tokens:
        if token == "--":
            break
        if token in ("-p", "--policy"):
            path = next(tokens, path)
        elif token.startswith("--policy="):
            path = token.partition("=")[2]
        elif token.startswith("-p") and not token.startswith("--"):
            path = token[2:]
    return path


def _policy_or_none(path: str | None) -> Policy | None:
    try:
        return load_policy(path)
    except (PolicyError, OSError):
        return None


class FactCommand(click.Command):
    """A command whose options include the facts of the policy chosen with ``-p/--policy``.

    Click passes the unknown ``--fact value`` options on as arguments, and would pass what follows
    ``--`` the same way, indistinguishable; so what follows the first ``--`` is set apart before click
    parses, to be read as arguments only (:func:`after_dashes`): ``gesture decide -- --odd-name.json``
    reads the file ``--odd-name.json``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGS] = tuple(args)  # --help is handled while parsing, before --policy has a value
        if "--" in args:
            cut = args.index("--")
            args, ctx.meta[_AFTER_DASHES] = args[:cut], tuple(args[cut + 1:])
        return super().parse_args(ctx, args)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        path = policy_path_in(ctx.meta.get(_ARGS, ()))
        try:
            policy = load_policy(path)
        except (PolicyError, OSError) as error:
            why = str(error.problems[0]) if isinstance(error, PolicyError) and error.problems else str(error)
            formatter.write_paragraph()
            formatter.write_text(f"Facts: not listed, the policy does not load: {why} (gesture validate {path} lists every problem).")
            return
        with formatter.section(f"Facts of policy {policy.name} {policy.version} (--fact VALUE, --fact=VALUE or --set fact=VALUE)"):
            formatter.write_dl([(f"{option_name(f.name)} {f.type.upper()}", describe_fact(f, policy.currency)) for f in policy.facts.values()])
        notes = [f"Also: {', '.join(option_name(n) for n in ENVELOPE)} (echoed in the decision; received_at sets respond_by)."]
        if policy.derived:
            notes.append(f"Derived by the policy, not given: {', '.join(d.fact.name for d in policy.derived)}.")
        if policy.compiled.history:
            notes.append(f"History facts, filled by the ledger with --ledger (given only without one): {', '.join(policy.compiled.history)}.")
        formatter.write_paragraph()
        with formatter.indentation():
            for note in notes:
                formatter.write_text(note)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """The command's own options, then the policy's facts (and the envelope's ids) as ``--name``."""
        items = super().shell_complete(ctx, incomplete)
        policy = _policy_or_none(ctx.params.get("policy_path"))
        if policy is None or not incomplete.startswith("-"):
            return items
        given = {token.partition("=")[0] for token in ctx.params.get("args") or ()}
        described = {**{name: fact.description for name, fact in policy.facts.items()}, **dict.fromkeys(ENVELOPE, "echoed in the decision")}
        for name, help_text in described.items():
            option = option_name(name)
            if option.startswith(incomplete) and option not in given:
                items.append(CompletionItem(option, help=help_text or None))
        return items


def complete_fact_args(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """After ``--fact``: the fact's values (level/enum values, true/false); elsewhere a COMPLAINT file."""
    tokens = [t for t in ctx.params.get("args") or () if t != "="]  # bash may pass "--fact = value" apart
    last = tokens[-1] if tokens else ""
    if last.startswith("--") and "=" not in last:
        policy = _policy_or_none(ctx.params.get("policy_path"))
        fact = policy.facts.get(last[2:].replace("-", "_")) if policy is not None else None
        if fact is not None:
            return [CompletionItem(value) for value in fact_values(fact) if value.startswith(incomplete)]
    return [CompletionItem(incomplete, type="file")]


def misspelt_option(policy: Policy, name: str, options: Sequence[str]) -> list[str] | None:
    """What an unknown ``--name`` most likely misspells, when the closest match among the command's
    options and the policy's facts is an option: that option, then facts it may also mean (close, or
    starting with ``name``). ``None`` when ``name`` is a fact or looks more like one: then the
    complaint reader reports it."""
    fact_like = [*policy.all_facts, *ENVELOPE]
    key = name.replace("-", "_")
    if key in fact_like:
        return None
    candidates = [o.lstrip("-").replace("-", "_") for o in options if o.startswith("--")]
    close = difflib.get_close_matches(key, [*candidates, *fact_like], n=3, cutoff=0.6)
    if not close or close[0] not in candidates:
        return None
    facts = [f for f in policy.facts if f in close or f.startswith(key)]
    return [option_name(n) for n in (close[0], *facts)]
