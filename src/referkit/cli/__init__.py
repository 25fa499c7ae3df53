"""The ``referkit`` command line: serve, worker, db, keys, coupons, secrets, users, export,
import."""

from __future__ import annotations

import typer

from referkit.cli import coupons, db, keys, secrets, serve, transfer, users, worker

# Referral Rock hooks get Referral Rock bodies also for changes made from the CLI (imports)
# and messages the worker writes: the format registers itself on import.
from referkit.compat.referral_rock import hooks as _referral_rock_hooks  # noqa: F401

app = typer.Typer(
    name="referkit",
    help="Referkit: referral programs and attribution on your own database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.command("export")(transfer.export)
app.command("import")(transfer.import_)
app.add_typer(db.app, name="db")
app.add_typer(keys.app, name="keys")
app.add_typer(coupons.app, name="coupons")
app.add_typer(secrets.app, name="secrets")
app.add_typer(users.app, name="users")


def main() -> None:
    app()
