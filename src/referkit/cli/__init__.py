"""The ``referkit`` command line: serve, worker, db, keys, coupons, users."""

from __future__ import annotations

import typer

from referkit.cli import coupons, db, keys, serve, users, worker

app = typer.Typer(
    name="referkit",
    help="Referkit: referral programs and attribution on your own database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.add_typer(db.app, name="db")
app.add_typer(keys.app, name="keys")
app.add_typer(coupons.app, name="coupons")
app.add_typer(users.app, name="users")


def main() -> None:
    app()
