"""Settings: read only from REFERKIT_* variables, unknown ones fail fast, URLs are normalized."""

from __future__ import annotations

import multiprocessing
import os
import re
import stat
from pathlib import Path

import pytest

from referkit.config import ENV_PREFIX, Environment, Settings, SettingsError, load_settings

SECRET = "s" * 40


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No REFERKIT_* variables from the outside (the suite's own REFERKIT_TEST_* stay)."""
    for name in list(os.environ):
        if name.startswith("REFERKIT_") and not name.startswith("REFERKIT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("REFERKIT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_defaults(clean_environment: Path) -> None:
    settings = load_settings()
    assert settings.env is Environment.development
    assert settings.data_dir == clean_environment
    assert settings.database_url is None
    assert settings.db_url == f"sqlite+aiosqlite:///{(clean_environment / 'referkit.db').resolve()}"
    assert settings.is_sqlite
    assert settings.base_url == "http://127.0.0.1:8000"


def test_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERKIT_BASE_URL", "https://refer.example.com/")
    monkeypatch.setenv("REFERKIT_DB_POOL_SIZE", "3")
    monkeypatch.setenv("REFERKIT_DB_ECHO", "true")
    settings = load_settings()
    assert settings.base_url == "https://refer.example.com"
    assert settings.db_pool_size == 3
    assert settings.db_echo is True


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERKIT_BASE_URL", "https://env.example.com")
    assert load_settings(base_url="https://arg.example.com").base_url == "https://arg.example.com"


@pytest.mark.parametrize("name", ["REFERKIT_DATABSE_URL", "REFERKIT_SECRET", "REFERKIT_X"])
def test_unknown_variable_fails_naming_it(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "value")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert name in message
    assert "REFERKIT_DATABASE_URL" in message  # the known names are listed


def test_every_unknown_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERKIT_ONE", "1")
    monkeypatch.setenv("REFERKIT_TWO", "2")
    with pytest.raises(SettingsError, match="REFERKIT_ONE, REFERKIT_TWO"):
        load_settings()


def test_lowercase_names_are_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("referkit_base_url", "https://lower.example.com")
    assert load_settings().base_url == "https://lower.example.com"
    monkeypatch.setenv("referkit_databse_url", "sqlite:///typo.db")
    with pytest.raises(SettingsError, match="referkit_databse_url"):
        load_settings()


def test_test_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERKIT_TEST_DATABASE_URL", "postgresql://elsewhere/db")
    monkeypatch.setenv("REFERKIT_TEST_ANYTHING", "1")
    settings = load_settings()
    assert settings.database_url is None


def test_other_prefixes_are_not_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERKITX_DATABASE_URL", "nonsense")
    monkeypatch.setenv("DATABASE_URL", "nonsense")
    assert load_settings().database_url is None


def test_production_needs_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERKIT_ENV", "production")
    with pytest.raises(SettingsError, match="REFERKIT_SECRET_KEY"):
        load_settings()


def test_production_with_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERKIT_ENV", "production")
    monkeypatch.setenv("REFERKIT_SECRET_KEY", SECRET)
    settings = load_settings()
    assert settings.env is Environment.production
    assert settings.signing_key == SECRET.encode()


def test_short_secret_key_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERKIT_SECRET_KEY", "too-short")
    with pytest.raises(SettingsError, match="REFERKIT_SECRET_KEY"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REFERKIT_ENV", "staging"),
        ("REFERKIT_BASE_URL", "refer.example.com"),
        ("REFERKIT_DB_POOL_SIZE", "0"),
        ("REFERKIT_DB_POOL_SIZE", "many"),
    ],
)
def test_invalid_values_fail_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://user:pw@db:5432/referkit", "postgresql+asyncpg://user:pw@db:5432/referkit"),
        ("postgres://user@db/referkit", "postgresql+asyncpg://user@db/referkit"),
        ("postgresql+asyncpg://user@db/referkit", "postgresql+asyncpg://user@db/referkit"),
        ("sqlite:///relative.db", "sqlite+aiosqlite:///relative.db"),
        ("sqlite:////abs/path/referkit.db", "sqlite+aiosqlite:////abs/path/referkit.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_url_normalization(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    monkeypatch.setenv("REFERKIT_DATABASE_URL", given)
    settings = load_settings()
    assert settings.database_url == expected
    assert settings.db_url == expected
    assert settings.is_sqlite is expected.startswith("sqlite")
    assert load_settings(database_url=given).database_url == expected


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user@db/referkit",
        "postgresql+psycopg2://user@db/referkit",
        "sqlite+pysqlite:///x.db",
        "mssql+pyodbc://db",
        "referkit.db",
    ],
)
def test_unsupported_database_url_fails(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("REFERKIT_DATABASE_URL", url)
    with pytest.raises(SettingsError, match="REFERKIT_DATABASE_URL"):
        load_settings()


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.base_url = "https://changed.example.com"  # type: ignore[misc]


def test_development_secret_key_is_generated_once(clean_environment: Path) -> None:
    assert not clean_environment.exists()
    first = load_settings()
    key = first.signing_key

    path = clean_environment / "secret_key"
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 32
    assert path.read_text().strip().encode() == key

    assert load_settings().signing_key == key
    assert Settings(data_dir=clean_environment).signing_key == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _signing_key_in(data_dir: str) -> bytes | str:
    try:
        return Settings(data_dir=Path(data_dir)).signing_key
    except Exception as exc:  # reported to the parent, which fails the test
        return repr(exc)


@pytest.mark.slow
def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    """Workers started at once each generate a key; all must end up with the same, full key."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        for attempt in range(150):
            data_dir = str(tmp_path / f"data{attempt}")
            keys = set(pool.map(_signing_key_in, [data_dir] * 8, chunksize=1))
            assert len(keys) == 1, keys
            (key,) = keys
            assert isinstance(key, bytes)
            assert len(key) >= 32
            assert sorted(os.listdir(data_dir)) == ["secret_key"]  # no temporary files left


def test_empty_secret_key_file_is_refused(clean_environment: Path) -> None:
    clean_environment.mkdir()
    (clean_environment / "secret_key").write_text("\n")
    with pytest.raises(SettingsError, match="secret_key is empty"):
        _ = load_settings().signing_key


def test_each_data_dir_gets_its_own_key(tmp_path: Path) -> None:
    one = load_settings(data_dir=tmp_path / "one").signing_key
    two = load_settings(data_dir=tmp_path / "two").signing_key
    assert one != two


def test_configured_secret_key_writes_no_file(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    monkeypatch.setenv("REFERKIT_SECRET_KEY", SECRET)
    assert load_settings().signing_key == SECRET.encode()
    assert not (clean_environment / "secret_key").exists()


def test_trusted_networks_follow_the_setting(clean_environment: Path) -> None:
    settings = Settings(trusted_proxies="")
    assert settings.trusted_networks == ()
    copy = settings.model_copy(update={"trusted_proxies": "127.0.0.1, 10.0.0.0/8"})
    assert [str(network) for network in copy.trusted_networks] == ["127.0.0.1/32", "10.0.0.0/8"]
    assert settings.trusted_networks == ()


def test_readme_lists_every_setting_once() -> None:
    """The README's configuration table and the Settings model name the same variables."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = re.findall(r"^\| `(REFERKIT_[A-Z0-9_]+)` \|", readme, re.MULTILINE)
    expected = sorted(ENV_PREFIX + name.upper() for name in Settings.model_fields)
    assert sorted(rows) == expected
