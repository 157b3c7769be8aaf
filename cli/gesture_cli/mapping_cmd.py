"""``gesture mapping check``: what facts a helpdesk payload becomes through a mapping, checked against a policy."""

from __future__ import annotations

import json
import sys

import click

from gesture_engine import ComplaintError

from ._shared import EXIT_BAD_POLICY, fail_complaint, load, load_mapping_arg, policy_option, read_complaint_source


@click.group("mapping")
def mapping_group() -> None:
    """Helpdesk mappings: YAML files turning a ticket payload into a complaint.

    Shipped: zendesk, freshdesk (rules/mappings/); or give a path to your own (docs/service.md).

    \b
    Example:
      gesture mapping check zendesk ticket.json
      gesture decide --mapping zendesk ticket.json --json
    """


@mapping_group.command("check")
@policy_option
@click.argument("mapping_name", metavar="MAPPING")
@click.argument("payload", metavar="PAYLOAD")
def check(policy_path: str | None, mapping_name: str, payload: str) -> None:
    """Print the complaint MAPPING makes of the PAYLOAD file ('-' = stdin), as JSON, and check both against the policy.

    Exits 4 when the mapping names facts or values the policy does not have, 3 when the payload does
    not fit the mapping (each problem names the JMESPath that failed) or the complaint is not valid.

    \b
    Example:
      gesture mapping check zendesk tests/fixtures/helpdesk/zendesk_urgent_twitter.json
    """
    policy = load(policy_path)
    mapping = load_mapping_arg(mapping_name)
    problems = mapping.check(policy)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"gesture: mapping {mapping.name} does not fit policy {policy.name}: {len(problems)} problem(s)", err=True)
        sys.exit(EXIT_BAD_POLICY)
    try:
        complaint = mapping.apply(read_complaint_source(payload))
        click.echo(json.dumps(complaint, indent=2, ensure_ascii=False, default=str))
        policy.decide(complaint)
    except ComplaintError as error:
        fail_complaint(error)
