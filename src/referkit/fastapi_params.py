"""FastAPI's parameter analysis, remembered instead of redone on every request.

For each path, query, header and cookie parameter of every request, FastAPI's
``request_params_to_args`` asks again what kind of parameter it is: whether its annotation is
a sequence (``field_annotation_is_sequence``, twice, walking ``Annotated`` and unions down to
``issubclass`` checks against the sequence ABCs) and whether it is a Pydantic model of
parameters (``_get_param_model``). The answers depend only on the annotation and the
parameter's declaration, which are fixed once the routes are built, yet they cost more than
validating the value: about 25 µs a parameter on a busy two-core machine, 200 µs for the six
filters of ``GET /api/v1/referrals``.

``install`` puts memoising versions of the two functions in the namespace
``fastapi.dependencies.utils`` calls them from. They return what FastAPI's own functions
return (``tests/test_fastapi_params.py`` holds them to it for every parameter of the app):
FastAPI's function is called once for each annotation (kept alive by the cache, so its
identity cannot be reused), and once for each parameter declaration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fastapi.dependencies.utils as dependency_utils
from fastapi._compat import ModelField
from fastapi._compat import field_annotation_is_sequence as _field_annotation_is_sequence

_get_param_model: Callable[[ModelField], Any] = dependency_utils._get_param_model

MAX_ENTRIES = 4096
"""Annotations remembered at most (the app has a few hundred; the cache starts again past it)."""

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


def install() -> None:
    """Make ``fastapi.dependencies.utils`` call the memoising versions (idempotent)."""
    for name, original, memoising in (
        (
            "field_annotation_is_sequence",
            _field_annotation_is_sequence,
            field_annotation_is_sequence,
        ),
        ("_get_param_model", _get_param_model, get_param_model),
    ):
        # FastAPI's own function or ours: anything else would be someone else's replacement.
        assert getattr(dependency_utils, name) in (original, memoising), name
        setattr(dependency_utils, name, memoising)
