"""The ``referkit`` command line: serve, db, keys."""

from __future__ import annotations

import typer

from referkit.cli import db, keys, serve

app = typer.Typer(
    name="referkit",
    help="Referkit: referral programs and attribution on your own database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.add_typer(db.app, name="db")
app.add_typer(keys.app, name="keys")


def main() -> None:
    app()
