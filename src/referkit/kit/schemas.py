"""Base classes for API schemas.

``RequestModel`` rejects unknown fields (which includes server-owned ones such as ``id`` or
``created_at``) and text a database cannot store: NUL characters and lone surrogates would
otherwise surface as a driver error instead of a 422.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


def _check_text(value: Any, path: str = "") -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path or 'value'}: NUL characters are not allowed")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{path or 'value'}: text is not valid Unicode") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, path)
            _check_text(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{path}[{index}]")


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        _check_text(data)
        return data


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
