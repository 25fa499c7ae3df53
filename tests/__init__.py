"""Referkit's test suite.

Under pytest-xdist (``make test`` runs ``pytest -n auto``) each worker process gets a
PostgreSQL database of its own, ``<name>_<worker>`` on the server of
``REFERKIT_TEST_DATABASE_URL``: the variable is rewritten here, before any test module reads it,
and ``tests/conftest.py`` creates the database when it is missing. Redis keys already carry a
prefix per test, and servers started by tests take free ports (or a fixed base plus
``worker_index() * 50``, see ``tests/processes.py``).
"""

from __future__ import annotations

import os

from sqlalchemy.engine import make_url

_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
_PG = os.environ.get("REFERKIT_TEST_DATABASE_URL")
if _WORKER and _PG and not os.environ.get("REFERKIT_TEST_DATABASE_SHARED_URL"):
    _url = make_url(_PG)
    os.environ["REFERKIT_TEST_DATABASE_SHARED_URL"] = _PG
    os.environ["REFERKIT_TEST_DATABASE_URL"] = _url.set(
        database=f"{_url.database}_{_WORKER}"
    ).render_as_string(hide_password=False)
