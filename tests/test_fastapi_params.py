"""The remembered parameter analysis (``referkit.fastapi_params``) answers as FastAPI does."""

from __future__ import annotations

import copy
import enum
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import fastapi.dependencies.utils as dependency_utils
import httpx
import pytest
from fastapi import FastAPI, Query
from fastapi._compat import ModelField
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Json

from referkit import fastapi_params
from referkit.app import create_app
from referkit.config import Settings


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    tmp: Path = tmp_path_factory.mktemp("params")
    return create_app(
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp / 'unused.db'}",
            data_dir=tmp,
            secret_key="test-secret-key-" + "x" * 32,
        )
    )


def _fields(dependant: Dependant) -> Iterator[ModelField]:
    yield from dependant.path_params
    yield from dependant.query_params
    yield from dependant.header_params
    yield from dependant.cookie_params
    yield from dependant.body_params
    for sub in dependant.dependencies:
        yield from _fields(sub)


def _all_fields(app: FastAPI) -> list[ModelField]:
    fields = []
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        if dependant is not None:
            fields.extend(_fields(dependant))
    return fields


def test_create_app_installs_them(app: FastAPI) -> None:
    assert dependency_utils.field_annotation_is_sequence is (
        fastapi_params.field_annotation_is_sequence
    )
    assert dependency_utils._get_param_model is fastapi_params.get_param_model
    assert dependency_utils._get_cache_key is fastapi_params.get_cache_key
    assert dependency_utils._get_param_aliases is fastapi_params.get_param_aliases
    assert dependency_utils._is_json_field is fastapi_params.is_json_field
    assert dependency_utils.deepcopy is fastapi_params.deepcopy
    fastapi_params.install()  # again: nothing changes
    assert dependency_utils._get_param_model is fastapi_params.get_param_model


def test_every_parameter_of_the_app_is_classified_as_fastapi_classifies_it(app: FastAPI) -> None:
    fields = _all_fields(app)
    assert len(fields) > 200
    kinds = set()
    for _ in range(2):  # the first answer is worked out, the second remembered
        for field in fields:
            annotation = field.field_info.annotation
            expected = fastapi_params._field_annotation_is_sequence(annotation)
            assert fastapi_params.field_annotation_is_sequence(annotation) is expected
            model = fastapi_params._get_param_model(field)
            assert fastapi_params.get_param_model(field) is model
            for dashes in (False, True):
                assert fastapi_params.get_param_aliases(
                    field, convert_underscores=dashes
                ) == fastapi_params._get_param_aliases(field, convert_underscores=dashes)
            assert fastapi_params.is_json_field(field) is fastapi_params._is_json_field(field)
            kinds.add((expected, model is not None))
    assert (True, False) in kinds  # the app has sequence parameters, and others
    assert (False, False) in kinds


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependants(sub)


def test_every_dependency_of_the_app_has_the_cache_key_fastapi_gives_it(app: FastAPI) -> None:
    dependants = [
        sub
        for context in iter_route_contexts(app.routes)
        if getattr(context, "dependant", None) is not None
        for sub in _dependants(context.dependant)
    ]
    assert len(dependants) > 200
    for _ in range(2):  # the first answer is worked out, the second remembered
        for dependant in dependants:
            expected = fastapi_params._get_cache_key(dependant=dependant)
            assert fastapi_params.get_cache_key(dependant=dependant, uses_scopes_cache={}) == (
                expected
            )


def test_a_dependency_given_another_callable_has_another_cache_key() -> None:
    async def first() -> int:
        return 1

    async def second() -> int:
        return 2

    dependant = Dependant(call=first, name="value")
    assert fastapi_params.get_cache_key(dependant=dependant)[0] is first
    dependant.call = second
    assert fastapi_params.get_cache_key(dependant=dependant)[0] is second
    dependant.scope = "function"
    assert fastapi_params.get_cache_key(dependant=dependant)[2] == "function"


class Filters(BaseModel):
    limit: int = 10


@pytest.mark.parametrize(
    "annotation",
    [
        str,
        str | None,
        list[str],
        list[str] | None,
        Annotated[list[int], Query()],
        Annotated[str | None, Query(max_length=3)],
        tuple[int, ...],
        set[str],
        bytes,
        dict[str, int],
        Filters,
        Filters | None,
        Json[list[int]],
    ],
)
def test_annotations_are_classified_as_fastapi_classifies_them(annotation: Any) -> None:
    expected = fastapi_params._field_annotation_is_sequence(annotation)
    assert fastapi_params.field_annotation_is_sequence(annotation) is expected
    assert fastapi_params.field_annotation_is_sequence(annotation) is expected


def test_a_changed_declaration_is_classified_again() -> None:
    app = FastAPI()

    @app.get("/items")
    async def items(filters: Annotated[Filters, Query()], tag: str | None = None) -> None:
        """A query model and a plain parameter."""

    route = next(r for r in iter_route_contexts(app.routes) if r.path == "/items")
    model_field, plain_field = route.dependant.query_params
    assert fastapi_params.get_param_model(model_field) is Filters
    assert fastapi_params.get_param_model(plain_field) is None
    plain_field.field_info, model_field.field_info = model_field.field_info, plain_field.field_info
    assert fastapi_params.get_param_model(plain_field) is Filters
    assert fastapi_params.get_param_model(model_field) is None


def test_a_changed_declaration_gets_its_own_aliases_and_json_answer() -> None:
    app = FastAPI()

    @app.get("/items")
    async def items(
        raw: Annotated[Json[list[int]], Query()],
        tag: Annotated[str | None, Query(alias="the-tag")] = None,
    ) -> None:
        """An aliased parameter and a JSON one."""

    route = next(r for r in iter_route_contexts(app.routes) if r.path == "/items")
    raw, tag = route.dependant.query_params
    assert fastapi_params.get_param_aliases(tag) == [("the-tag", "the-tag")]
    assert fastapi_params.get_param_aliases(raw) == [("raw", "raw")]
    assert fastapi_params.is_json_field(raw)
    assert not fastapi_params.is_json_field(tag)
    aliases = fastapi_params.get_param_aliases(tag)
    aliases.append(("mutated", "mutated"))  # a caller's list is its own
    assert fastapi_params.get_param_aliases(tag) == [("the-tag", "the-tag")]
    tag.field_info, raw.field_info = raw.field_info, tag.field_info
    assert fastapi_params.is_json_field(tag)
    assert not fastapi_params.is_json_field(raw)
    assert fastapi_params.get_param_aliases(tag) == fastapi_params._get_param_aliases(tag)


class Color(enum.Enum):
    red = "red"


@pytest.mark.parametrize("default", [None, True, 3, 2.5, "text", b"raw", Color.red])
def test_an_atom_default_is_its_own_copy(default: Any) -> None:
    assert fastapi_params.deepcopy(default) is copy.deepcopy(default)


def test_a_mutable_default_is_copied_deeply() -> None:
    default = {"tags": ["a"], "nested": {"n": [1]}}
    copied = fastapi_params.deepcopy(default)
    assert copied == default
    assert copied is not default
    assert copied["tags"] is not default["tags"]
    assert copied["nested"]["n"] is not default["nested"]["n"]


async def test_an_absent_list_parameter_gets_a_fresh_default() -> None:
    app = FastAPI()

    @app.get("/items")
    async def items(tags: Annotated[list[str], Query()] = ["x"]) -> list[str]:  # noqa: B006
        tags.append("added")  # a default shared between requests would grow
        return tags

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        for _ in range(2):
            assert (await http.get("/items")).json() == ["x", "added"]
