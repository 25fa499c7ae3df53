"""Looking for a person's data in every column of every table (the erasure acceptance test).

Tables and columns come from the models' metadata, so a table added later is scanned too.
Text and JSON columns are searched in SQL (cast to text, case-insensitive); binary columns
(stored responses) are read and searched here.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy import JSON, LargeBinary, String, Text, cast, or_, select

import referkit.models  # noqa: F401  (registers every table on the metadata)
from referkit.db.base import Base


@dataclass(frozen=True)
class Person:
    """Values unique to one test run, so a hit anywhere in the shared database is theirs."""

    email: str
    external_id: str
    name: str
    ip: str
    user_agent: str

    @classmethod
    def new(cls) -> Person:
        tag = uuid.uuid4().hex
        groups = [tag[i : i + 4] for i in range(0, 16, 4)]
        return cls(
            email=f"erase-{tag[:12]}@example.org",
            external_id=f"ext-{tag[12:24]}",
            name=f"Zed{tag[24:30]}",
            # In the form the API stores (normalized), so a search finds every copy.
            ip=ipaddress.ip_address(f"2001:db8:{':'.join(groups)}::7").compressed,
            user_agent=f"Mozilla/5.0 (X11; Linux x86_64) ErasureTest/{tag[:10]}",
        )

    def values(self) -> list[str]:
        return [self.email, self.external_id, self.name, self.ip, self.user_agent]


def _searchable(column: object) -> bool:
    kind = getattr(column, "type", None)
    return isinstance(kind, String | Text | JSON) or "JSON" in type(kind).__name__.upper()


async def where_found(app: FastAPI, values: list[str]) -> dict[str, set[str]]:
    """``{"table.column": {value, ...}}`` for every column holding one of ``values``."""
    found: dict[str, set[str]] = {}
    async with app.state.sessions.transaction(write=False) as session:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                key = f"{table.name}.{column.name}"
                if isinstance(column.type, LargeBinary):
                    stored = await session.scalars(select(column).where(column.is_not(None)))
                    for raw in stored:
                        text = bytes(raw).decode("utf-8", "replace").lower()
                        found.setdefault(key, set()).update(v for v in values if v.lower() in text)
                    continue
                if not _searchable(column):
                    continue
                as_text = cast(column, Text)
                for value in values:
                    pattern = f"%{value.lower()}%"
                    stmt = select(column).where(or_(as_text.ilike(pattern))).limit(1)
                    if (await session.execute(stmt)).first() is not None:
                        found.setdefault(key, set()).add(value)
    return {key: hits for key, hits in found.items() if hits}
