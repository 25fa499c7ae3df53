"""A PgBouncer of the tests' own, in transaction pooling mode, in front of a PostgreSQL server.

The suite's PostgreSQL pass goes through it (``tests/conftest.py``) so that everything the app
does is checked against the pooler production puts in front of PostgreSQL: each transaction may
land on another server connection, so prepared statements, ``SET``, advisory locks, ``LISTEN``
or temporary tables must never outlive one. The bouncer gets its own port (a free one, within
``REFERKIT_TEST_PGBOUNCER_PORTS`` such as ``6531-6539`` when set), its own configuration in a
temporary directory, and is stopped when the block ends. Without Debian's ``pgbouncer`` the
pass goes straight to PostgreSQL, except in CI, which must have it (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import make_url

from tests.processes import free_port

CANDIDATES = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")
START_TIMEOUT = 20


def executable() -> str | None:
    """Debian's pgbouncer, if installed."""
    found = shutil.which("pgbouncer")
    return found or next((path for path in CANDIDATES if os.access(path, os.X_OK)), None)


def required() -> bool:
    """CI runs one suite pass through PgBouncer: there, a missing pgbouncer is an error."""
    return bool(os.environ.get("CI"))


def _config(server_url: str, port: int, directory: Path, pool_size: int) -> str:
    url = make_url(server_url)
    target = f"host={url.host or '127.0.0.1'} port={url.port or 5432} user={url.username}"
    if url.password:
        target += f" password={url.password}"
    # ``*``: every database name the tests use (throwaway ones too) goes to the same server.
    # ``auth_type = any``: the bouncer connects as the user named above whatever the client
    # says (loopback only, tests only).
    return f"""\
[databases]
* = {target}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
server_lifetime = 600
log_connections = 0
log_disconnections = 0
logfile = {directory / "pgbouncer.log"}
pidfile = {directory / "pgbouncer.pid"}
"""


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"pgbouncer exited with {process.returncode}:\n{text}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"pgbouncer did not listen on {port} within {START_TIMEOUT}s")


@contextmanager
def pgbouncer(server_url: str, *, pool_size: int = 8) -> Iterator[str]:
    """Start PgBouncer in front of ``server_url``'s server; yield ``server_url`` through it."""
    binary = executable()
    if binary is None:
        raise RuntimeError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    port = free_port("REFERKIT_TEST_PGBOUNCER_PORTS")
    directory = Path(tempfile.mkdtemp(prefix="referkit-pgbouncer-"))
    command = [binary]
    if os.geteuid() == 0:
        # PgBouncer refuses to run as root; it drops to the postgres user, which must be able
        # to read its configuration and write its log.
        user = pwd.getpwnam("postgres")
        os.chown(directory, user.pw_uid, user.pw_gid)
        command += ["-u", "postgres"]
    config = directory / "pgbouncer.ini"
    config.write_text(_config(server_url, port, directory, pool_size))
    config.chmod(0o644)
    log = directory / "pgbouncer.log"
    process = subprocess.Popen(
        [*command, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        _wait_listening(port, process, log)
        yield (
            make_url(server_url)
            .set(host="127.0.0.1", port=port)
            .render_as_string(hide_password=False)
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # immediate shutdown
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(directory, ignore_errors=True)
