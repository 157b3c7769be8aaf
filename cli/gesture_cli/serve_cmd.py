"""``gesture serve``: the HTTP decision service (needs the ``server`` extra)."""

from __future__ import annotations

import json
import logging
import sys

import click

from gesture_engine import PolicyError

from ._shared import EXIT_USAGE, fail_mapping, fail_policy


class _JsonLines(logging.Formatter):
    """Log records as they are when already JSON (access log, events), else wrapped as one."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if message.startswith("{"):
            return message
        return json.dumps({"level": record.levelname.lower(), "logger": record.name, "message": message})


@click.command("serve")
@click.option("--policy", "-p", "policy_path", metavar="PATH", help="Policy file or directory [default: the embedded default policy].")
@click.option("--ledger", "ledger_url", envvar="GESTURE_LEDGER", metavar="URL", help="Decide through a goodwill ledger [env GESTURE_LEDGER].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep it on loopback behind a TLS proxy).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free port, logged).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--tokens", "tokens_path", metavar="FILE", help="Bearer tokens, one 'name:scope,scope:token' a line [else env GESTURE_TOKENS].")
@click.option("--insecure-no-auth", is_flag=True, help="Serve without authentication: for local experiments only.")
@click.option("--mapping", "mappings", multiple=True, metavar="PATH", help="Also load this mapping file (repeatable; zendesk, freshdesk built in).")
@click.option("--watch", is_flag=True, help="Reload when the policy or a mapping file changes (SIGHUP always reloads).")
@click.option("--log", "log_path", metavar="PATH", help="Append every decision to this decision log (JSON Lines).")
@click.option("--max-body", default=1 << 20, show_default=True, type=click.IntRange(1024, 64 << 20), help="Largest request body, in bytes.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 300), help="Seconds a request body may take to arrive.")
@click.option("--quiet", is_flag=True, help="No access log (events and errors are still logged).")
def serve_command(policy_path: str | None, ledger_url: str | None, host: str, port: int, workers: int, tokens_path: str | None,
                  insecure_no_auth: bool, mappings: tuple[str, ...], watch: bool, log_path: str | None, max_body: int, timeout: float,
                  quiet: bool) -> None:
    """Serve decisions over HTTP: POST /v1/decisions, /v1/explain, GET /v1/policy, /healthz, /readyz, /metrics, /docs.

    Requests need a bearer token (--tokens FILE or GESTURE_TOKENS) with the scope of the endpoint:
    decide, approve or issue. Logs are JSON lines on stderr. SIGHUP (or --watch) reloads the policy;
    SIGTERM finishes in-flight requests and stops. See docs/service.md.

    \b
    Example:
      GESTURE_TOKENS='helpdesk:decide:$(openssl rand -hex 24)' gesture serve --workers 2
    """
    try:
        from gesture_engine.mapping import MappingError
        from gesture_engine.server import ServerConfig, TokenError, load_tokens, serve
    except ImportError as error:
        raise click.ClickException(f"gesture serve needs the server extra: pip install 'gesture-engine[server]' ({error.name} is missing)") from None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    for name, level in (("gesture", logging.INFO), ("gesture.access", logging.WARNING if quiet else logging.INFO), ("uvicorn", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if name != "gesture.access":
            logger.addHandler(handler)
            logger.propagate = False
    try:
        tokens = load_tokens(tokens_path)
    except TokenError as error:
        click.echo(f"gesture: {error}", err=True)
        sys.exit(EXIT_USAGE)
    if tokens is None and not insecure_no_auth:
        raise click.UsageError("no tokens: give --tokens FILE or set GESTURE_TOKENS (or --insecure-no-auth for local use only)")
    if tokens is not None and insecure_no_auth:
        raise click.UsageError("--insecure-no-auth and tokens contradict each other; give one")
    if insecure_no_auth:
        banner = "AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach this port can decide, approve and issue goodwill"
        logging.getLogger("gesture.serve").warning(json.dumps({"level": "warning", "event": "insecure_no_auth", "message": banner}))
        click.echo(f"gesture: WARNING: {banner}", err=True)
    config = ServerConfig(policy_path=policy_path, mapping_paths=mappings, ledger_url=ledger_url, tokens=tokens,
                          insecure_no_auth=insecure_no_auth, max_body_bytes=max_body, request_timeout=timeout, log_path=log_path, watch=watch)
    try:
        sys.exit(serve(config, host, port, workers))
    except PolicyError as error:
        fail_policy(error)
    except MappingError as error:
        fail_mapping(error)
    except OSError as error:
        click.echo(f"gesture: cannot serve on {host}:{port}: {error.strerror or error}", err=True)
        sys.exit(EXIT_USAGE)
