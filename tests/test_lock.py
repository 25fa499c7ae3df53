"""The lock is the install: uv.lock agrees with pyproject.toml, and what runs is what it names.

`make run`, `make test` and `.ci/run` install with `uv sync --locked`, which refuses a stale lock;
these tests catch the disagreement earlier and prove the check is real.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from uv import find_uv_bin

ROOT = Path(__file__).resolve().parent.parent


def _locked_versions() -> dict[str, set[str]]:
    """Each locked distribution's versions (a lock may fork one by environment markers)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    versions: dict[str, set[str]] = {}
    for package in lock["package"]:
        if "version" in package and package["name"] != "referkit":
            versions.setdefault(canonicalize_name(package["name"]), set()).add(package["version"])
    return versions


def _unlocked_requirements(pyproject_text: str, lock_text: str) -> set[str]:
    """Distributions pyproject.toml asks for (dependencies and every extra) that the lock's own
    record of the project's requirements does not name: read from the two files alone, so the
    answer does not depend on what uv's cache holds on this machine."""
    project = tomllib.loads(pyproject_text)["project"]
    declared = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        declared.extend(extra)
    wanted = {canonicalize_name(Requirement(line).name) for line in declared}
    lock = tomllib.loads(lock_text)
    (root,) = [package for package in lock["package"] if package["name"] == "referkit"]
    locked = {canonicalize_name(entry["name"]) for entry in root["metadata"]["requires-dist"]}
    return wanted - locked


def _uv_lock_check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_uv_bin(), "lock", "--check", "--offline", "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_lock_agrees_with_pyproject() -> None:
    result = _uv_lock_check(ROOT)
    assert result.returncode == 0, result.stderr
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert _unlocked_requirements(pyproject, (ROOT / "uv.lock").read_text()) == set()


def test_a_dependency_missing_from_the_lock_is_caught(tmp_path: Path) -> None:
    shutil.copy(ROOT / "uv.lock", tmp_path / "uv.lock")
    pyproject = (ROOT / "pyproject.toml").read_text()
    changed = pyproject.replace("dependencies = [\n", 'dependencies = [\n    "six>=1.16",\n', 1)
    assert changed != pyproject
    (tmp_path / "pyproject.toml").write_text(changed)
    (tmp_path / "README.md").write_text("x\n")
    # uv refuses the stale lock (with a cold cache it may say so by failing to resolve offline
    # rather than by naming the package), and the lock's own record names what is missing.
    result = _uv_lock_check(tmp_path)
    assert result.returncode != 0
    assert _unlocked_requirements(changed, (ROOT / "uv.lock").read_text()) == {"six"}


def test_installed_versions_are_the_locked_ones() -> None:
    locked = _locked_versions()
    installed = {}
    for name in locked:
        try:
            installed[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # a platform-only package (e.g. colorama)
            continue
    assert {"fastapi", "sqlalchemy", "mypy", "redis", "ruff"} <= installed.keys()
    assert {n: v for n, v in installed.items() if v not in locked[n]} == {}


def test_makefile_bootstraps_the_locked_uv() -> None:
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE)
    assert match is not None
    assert _locked_versions()["uv"] == {match.group(1)}
