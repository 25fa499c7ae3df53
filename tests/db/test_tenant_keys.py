"""Every tenant table keys its rows by workspace, in the models and in the migrated database.

The rules are Citus's for a table distributed by ``workspace_id``: the column exists and is not
null, the primary key and every unique constraint or unique index contain it, and a foreign key
to another distributed table carries it on both sides (a foreign key to a reference table is
fine; one from a reference table to a distributed table is not). ``referkit.db.tenancy`` lists
which table is which, with the reason for every exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Connection, MetaData, UniqueConstraint, inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import referkit.models  # noqa: F401  (registers every table on the metadata)
from referkit.db import tenancy
from referkit.db.base import Base
from referkit.db.partitions import PARTITIONED

WS = tenancy.DISTRIBUTION_COLUMN


@dataclass
class Shape:
    """What the check needs of one table, from the models or from a live database."""

    nullable: dict[str, bool]
    primary_key: tuple[str, ...]
    uniques: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    foreign_keys: list[tuple[str, tuple[str, ...], str, tuple[str, ...]]] = field(
        default_factory=list
    )


def shapes_of_metadata(metadata: MetaData) -> dict[str, Shape]:
    shapes = {}
    for name, table in metadata.tables.items():
        shape = Shape(
            nullable={c.name: bool(c.nullable) for c in table.columns},
            primary_key=tuple(c.name for c in table.primary_key.columns),
        )
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint):
                columns = tuple(c.name for c in constraint.columns)
                shape.uniques.append((str(constraint.name), columns))
        for index in table.indexes:
            if index.unique:
                shape.uniques.append((str(index.name), tuple(c.name for c in index.columns)))
        for fk in table.foreign_key_constraints:
            shape.foreign_keys.append(
                (
                    str(fk.name),
                    tuple(fk.column_keys),
                    fk.referred_table.name,
                    tuple(element.column.name for element in fk.elements),
                )
            )
        shapes[name] = shape
    return shapes


def _partition_machinery(conn: Connection) -> set[str]:
    """PostgreSQL's monthly partitions of clicks, events and app_clicks (and pg_partman's
    templates, and event_keys, the events' idempotency keys): parts of their parent table, which
    is what the check classifies. event_keys is checked on its own below."""
    if conn.dialect.name != "postgresql":
        return set()
    rows = conn.exec_driver_sql(
        "SELECT relname FROM pg_class WHERE relispartition OR relname LIKE 'template_public_%%'"
    )
    return {str(row[0]) for row in rows} | {"event_keys"}


def shapes_of_database(conn: Connection) -> dict[str, Shape]:
    inspector = inspect(conn)
    shapes = {}
    for name in inspector.get_table_names():
        if name == "alembic_version" or name in _partition_machinery(conn):
            continue
        shape = Shape(
            nullable={c["name"]: bool(c["nullable"]) for c in inspector.get_columns(name)},
            primary_key=tuple(inspector.get_pk_constraint(name)["constrained_columns"]),
        )
        for unique in inspector.get_unique_constraints(name):
            shape.uniques.append((str(unique["name"]), tuple(unique["column_names"])))
        for index in inspector.get_indexes(name):
            if index["unique"]:
                columns = tuple(str(c) for c in index["column_names"])
                shape.uniques.append((str(index["name"]), columns))
        for fk in inspector.get_foreign_keys(name):
            shape.foreign_keys.append(
                (
                    str(fk["name"]),
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
            )
        shapes[name] = shape
    return shapes


def _distributed() -> set[str]:
    return set(tenancy.DISTRIBUTED_TABLES) | set(tenancy.OWNED_ELSEWHERE)


def table_problems(name: str, shape: Shape, distributed: set[str]) -> list[str]:
    """What keeps ``name`` (a distributed table) from being distributed by workspace."""
    problems = []
    if WS not in shape.nullable:
        return [f"{name}: has no {WS} column"]
    if shape.nullable[WS]:
        problems.append(f"{name}: {WS} is nullable")
    if WS not in shape.primary_key:
        problems.append(f"{name}: primary key {shape.primary_key} lacks {WS}")
    for constraint, columns in shape.uniques:
        if WS not in columns and (name, columns) not in tenancy.GLOBAL_UNIQUE_NOT_YET:
            problems.append(f"{name}: unique {constraint} {columns} lacks {WS}")
    for constraint, columns, referred, referred_columns in shape.foreign_keys:
        if referred in distributed and not _carries_workspace(columns, referred_columns):
            problems.append(
                f"{name}: foreign key {constraint} {columns} -> {referred}{referred_columns} "
                f"does not match {WS} to {WS}"
            )
    return problems


def _carries_workspace(columns: tuple[str, ...], referred_columns: tuple[str, ...]) -> bool:
    return (WS, WS) in zip(columns, referred_columns, strict=True)


def reference_problems(name: str, shape: Shape, distributed: set[str]) -> list[str]:
    return [
        f"{name}: reference table has a foreign key {constraint} to distributed {referred}"
        for constraint, _, referred, _ in shape.foreign_keys
        if referred in distributed
    ]


def problems_of(shapes: dict[str, Shape]) -> list[str]:
    distributed = _distributed()
    problems = []
    for name, shape in sorted(shapes.items()):
        if name in tenancy.DISTRIBUTED_TABLES:
            problems += table_problems(name, shape, distributed)
        elif name in tenancy.REFERENCE_TABLES:
            problems += reference_problems(name, shape, distributed)
        elif name in tenancy.OWNED_ELSEWHERE or name in tenancy.NOT_YET:
            # Their own keys are someone else's work (or not done yet); what points at a
            # distributed table from them must still carry the workspace.
            problems += [
                problem
                for problem in table_problems(name, shape, distributed)
                if "foreign key" in problem
            ]
        else:
            problems.append(f"{name}: not classified in referkit.db.tenancy")
    return problems


async def database_problems(url: str) -> tuple[list[str], dict[str, Shape]]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            shapes = await conn.run_sync(shapes_of_database)
    finally:
        await engine.dispose()
    return problems_of(shapes), shapes


def test_every_table_is_classified_once() -> None:
    lists: list[set[str]] = [
        set(tenancy.REFERENCE_TABLES),
        set(tenancy.DISTRIBUTED_TABLES),
        set(tenancy.OWNED_ELSEWHERE),
        set(tenancy.NOT_YET),
    ]
    assert len(tenancy.DISTRIBUTED_TABLES) == len(set(tenancy.DISTRIBUTED_TABLES))
    assert sum(len(names) for names in lists) == len(set().union(*lists))
    assert set().union(*lists) == set(Base.metadata.tables)


def test_models_key_every_tenant_table_by_workspace() -> None:
    assert problems_of(shapes_of_metadata(Base.metadata)) == []


async def test_migrated_database_keys_every_tenant_table_by_workspace(database_url: str) -> None:
    problems, shapes = await database_problems(database_url)
    assert problems == []
    assert set(shapes) == set(Base.metadata.tables)
    # The database and the models agree on every key the check looked at.
    models = shapes_of_metadata(Base.metadata)
    for name, shape in shapes.items():
        if name in PARTITIONED and database_url.startswith("postgresql"):
            # Partitioned by month: the key carries the partition column too, and events'
            # idempotency key lives in event_keys, itself keyed by workspace first.
            assert shape.primary_key == ("workspace_id", "id", "created_at"), name
            continue
        assert shape.primary_key == models[name].primary_key, name
        assert {c for _, c in shape.uniques} == {c for _, c in models[name].uniques}, name
        assert {(c, r, rc) for _, c, r, rc in shape.foreign_keys} == {
            (c, r, rc) for _, c, r, rc in models[name].foreign_keys
        }, name


def test_the_exceptions_are_still_true() -> None:
    """A 'not yet' that got done must leave the list, so the list stays honest."""
    shapes = shapes_of_metadata(Base.metadata)
    distributed = _distributed()
    for name in tenancy.NOT_YET:
        assert table_problems(name, shapes[name], distributed), f"{name} is done: distribute it"
    for table, columns in tenancy.GLOBAL_UNIQUE_NOT_YET:
        assert columns in {c for _, c in shapes[table].uniques}, (table, columns)


@pytest.mark.parametrize(
    ("shape", "mentions"),
    [
        pytest.param(Shape({"id": False}, ("id",)), "has no workspace_id", id="no-column"),
        pytest.param(
            Shape({"id": False, WS: True}, (WS, "id")), "workspace_id is nullable", id="nullable"
        ),
        pytest.param(
            Shape({"id": False, WS: False}, ("id",)), "primary key ('id',)", id="primary-key"
        ),
        pytest.param(
            Shape({"id": False, WS: False}, (WS, "id"), uniques=[("uq_x", ("slug",))]),
            "unique uq_x",
            id="unique",
        ),
        pytest.param(
            Shape(
                {"id": False, WS: False},
                (WS, "id"),
                foreign_keys=[("fk_x", ("program_id",), "programs", ("id",))],
            ),
            "foreign key fk_x",
            id="foreign-key",
        ),
        pytest.param(
            Shape(
                {"id": False, WS: False},
                (WS, "id"),
                foreign_keys=[("fk_y", (WS, "click_id"), "clicks", ("id", WS))],
            ),
            "foreign key fk_y",
            id="foreign-key-to-clicks-crossed",
        ),
    ],
)
def test_the_check_names_the_table_and_what_is_wrong(shape: Shape, mentions: str) -> None:
    shapes = shapes_of_metadata(Base.metadata)
    shapes["programs"] = shape
    problems = problems_of(shapes)
    assert len(problems) == 1
    assert problems[0].startswith("programs: ")
    assert mentions in problems[0]


def test_the_check_catches_reference_and_unclassified_tables() -> None:
    shapes = shapes_of_metadata(Base.metadata)
    shapes["api_keys"].foreign_keys.append(("fk_z", (WS, "app_id"), "apps", (WS, "id")))
    shapes["stray"] = Shape({"id": False}, ("id",))
    assert problems_of(shapes) == [
        "api_keys: reference table has a foreign key fk_z to distributed apps",
        "stray: not classified in referkit.db.tenancy",
    ]


def test_the_citus_commands_in_the_docs_follow_the_lists() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "scaling.md").read_text()
    reference = re.findall(r"create_reference_table\('(\w+)'\)", doc)
    distributed = re.findall(r"create_distributed_table\('(\w+)', 'workspace_id'", doc)
    assert reference == list(tenancy.REFERENCE_TABLES)
    assert distributed == [*tenancy.DISTRIBUTED_TABLES, *tenancy.OWNED_ELSEWHERE]
    # Parents before children: each foreign key's parent is distributed earlier.
    shapes = shapes_of_metadata(Base.metadata)
    for position, name in enumerate(distributed):
        for _, _, referred, _ in shapes[name].foreign_keys:
            assert referred in reference or referred in distributed[:position], (name, referred)


async def test_event_keys_are_keyed_by_workspace_first(database_url: str) -> None:
    """On PostgreSQL the events' idempotency keys live in ``event_keys`` (a partitioned table
    cannot hold that unique constraint): the workspace leads its key like every tenant key."""
    if not database_url.startswith("postgresql"):
        pytest.skip("event_keys is PostgreSQL's")
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            key = await conn.run_sync(
                lambda sync: inspect(sync).get_pk_constraint("event_keys")["constrained_columns"]
            )
    finally:
        await engine.dispose()
    assert key == ["workspace_id", "livemode", "event_id"]
