"""FastAPI's parameter and dependency analysis, remembered instead of redone on every request.

For each path, query, header and cookie parameter of every request, FastAPI's
``request_params_to_args`` asks again what kind of parameter it is: whether its annotation is
a sequence (``field_annotation_is_sequence``, twice, walking ``Annotated`` and unions down to
``issubclass`` checks against the sequence ABCs) and whether it is a Pydantic model of
parameters (``_get_param_model``). The answers depend only on the annotation and the
parameter's declaration, which are fixed once the routes are built, yet they cost more than
validating the value: about 25 µs a parameter on a busy two-core machine, 200 µs for the six
filters of ``GET /api/v1/referrals``.

Likewise ``solve_dependencies`` works out, for every dependency of every request, the key
its result is cached under within the request (``_get_cache_key``: the callable, its OAuth
scopes if any dependency below it uses them, found by unwrapping every callable below it, and
its scope): 45 µs for the four dependencies of ``GET /api/v1/programs/{id}``. The key depends
on the dependency's declaration, fixed once the routes are built.

Two more questions are asked of every parameter on every request and answered from its
declaration alone: the names it may arrive under (``_get_param_aliases``) and whether it is a
``Json`` field (``_is_json_field``). An absent parameter's default is deep-copied
(``deepcopy``): a default that is an atom (None, a number, a string, an enum member) is its
own copy, as ``copy.deepcopy`` would answer, without its dispatch.

``install`` puts these versions of the six functions in the namespace
``fastapi.dependencies.utils`` calls them from. They return what FastAPI's own functions
return (``tests/test_fastapi_params.py`` holds them to it for every parameter and dependency of
the app): FastAPI's function is called once for each annotation or dependency (kept alive by
the cache, so its identity cannot be reused), and once for each parameter declaration.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable
from typing import Any

import fastapi.dependencies.utils as dependency_utils
from fastapi._compat import ModelField
from fastapi._compat import field_annotation_is_sequence as _field_annotation_is_sequence
from fastapi.dependencies.models import Dependant, _get_cache_key, _UsesScopesCache
from fastapi.types import DependencyCacheKey

_get_param_model: Callable[[ModelField], Any] = dependency_utils._get_param_model
_get_param_aliases: Callable[..., list[tuple[str, str]]] = dependency_utils._get_param_aliases
_is_json_field: Callable[[ModelField], bool] = dependency_utils._is_json_field

MAX_ENTRIES = 4096
"""Annotations, and dependencies, remembered at most (the app has a few hundred of each; a
cache starts again past it)."""

_sequence_answers: dict[int, tuple[object, bool]] = {}


def field_annotation_is_sequence(annotation: object) -> bool:
    answer = _sequence_answers.get(id(annotation))
    if answer is not None and answer[0] is annotation:
        return answer[1]
    result = _field_annotation_is_sequence(annotation)
    if len(_sequence_answers) >= MAX_ENTRIES:
        _sequence_answers.clear()
    _sequence_answers[id(annotation)] = (annotation, result)
    return result


_MODEL_MEMO = "_referkit_param_model"


def get_param_model(field: ModelField) -> Any:
    # Remembered on the field itself, with what the answer was worked out from: the field's
    # declaration (its FieldInfo, annotation and metadata), compared by identity.
    info = field.field_info
    memo = field.__dict__.get(_MODEL_MEMO)
    if (
        memo is not None
        and memo[0] is info
        and memo[1] is info.annotation
        and memo[2] == len(info.metadata)
    ):
        return memo[3]
    result = _get_param_model(field)
    field.__dict__[_MODEL_MEMO] = (info, info.annotation, len(info.metadata), result)
    return result


_ALIASES_MEMO = "_referkit_param_aliases"


def get_param_aliases(
    field: ModelField, *, convert_underscores: bool = False
) -> list[tuple[str, str]]:
    # Remembered on the field, with what the answer was worked out from: the declaration and
    # the model config (by identity), and whether underscores become dashes (headers).
    info = field.field_info
    memo = field.__dict__.get(_ALIASES_MEMO)
    if memo is not None and memo[0] is info and memo[1] is field.config:
        answer = memo[2].get(convert_underscores)
        if answer is not None:
            return list(answer)
    else:
        answers: dict[bool, tuple[tuple[str, str], ...]] = {}
        memo = (info, field.config, answers)
        field.__dict__[_ALIASES_MEMO] = memo
    result = _get_param_aliases(field, convert_underscores=convert_underscores)
    memo[2][convert_underscores] = tuple(result)
    return result


_JSON_MEMO = "_referkit_json_field"


def is_json_field(field: ModelField) -> bool:
    info = field.field_info
    memo = field.__dict__.get(_JSON_MEMO)
    if memo is not None and memo[0] is info and memo[1] == len(info.metadata):
        return bool(memo[2])
    result = _is_json_field(field)
    field.__dict__[_JSON_MEMO] = (info, len(info.metadata), result)
    return result


_ATOMS = frozenset({type(None), bool, int, float, str, bytes})


def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    # An absent parameter gets a deep copy of its default: almost always None, a number or a
    # string, which ``copy.deepcopy`` answers with the value itself after its dispatch.
    kind = type(value)
    if kind in _ATOMS or (
        isinstance(value, enum.Enum) and kind.__deepcopy__ is enum.Enum.__deepcopy__
    ):
        return value
    return copy.deepcopy(value, memo)


_cache_keys: dict[int, tuple[Dependant, Any, str | None, DependencyCacheKey]] = {}


def get_cache_key(
    *, dependant: Dependant, uses_scopes_cache: _UsesScopesCache | None = None
) -> DependencyCacheKey:
    # Checked against the dependency's callable and scope (the declaration of a route's
    # dependency is not changed once built; FastAPI reassigns ``call`` with the same value).
    known = _cache_keys.get(id(dependant))
    if (
        known is not None
        and known[0] is dependant
        and known[1] is dependant.call
        and known[2] == dependant.scope
    ):
        return known[3]
    key = _get_cache_key(dependant=dependant, uses_scopes_cache=uses_scopes_cache)
    if len(_cache_keys) >= MAX_ENTRIES:
        _cache_keys.clear()
    _cache_keys[id(dependant)] = (dependant, dependant.call, dependant.scope, key)
    return key


def install() -> None:
    """Make ``fastapi.dependencies.utils`` call the memoising versions (idempotent)."""
    for name, original, memoising in (
        (
            "field_annotation_is_sequence",
            _field_annotation_is_sequence,
            field_annotation_is_sequence,
        ),
        ("_get_param_model", _get_param_model, get_param_model),
        ("_get_param_aliases", _get_param_aliases, get_param_aliases),
        ("_is_json_field", _is_json_field, is_json_field),
        ("deepcopy", copy.deepcopy, deepcopy),
        ("_get_cache_key", _get_cache_key, get_cache_key),
    ):
        # FastAPI's own function or ours: anything else would be someone else's replacement.
        assert getattr(dependency_utils, name) in (original, memoising), name
        setattr(dependency_utils, name, memoising)
