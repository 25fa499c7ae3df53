"""The bases of every model: responses keep unknown fields, requests send only what is set."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Request(BaseModel):
    """Request bodies: unset fields are not sent; extra keys pass through to the server."""

    model_config = ConfigDict(extra="allow")


# Envelopes -------------------------------------------------------------------------------------


class PageMeta(Model):
    has_more: bool = Field(alias="hasMore")
    cursor: str | None = None
    limit: int
    offset: int | None = None
    total: int | None = None


class Page(Model, Generic[T]):
    data: list[T]
    meta: PageMeta


# Resources -------------------------------------------------------------------------------------


class Resource(Model):
    """Any object the API answers; the typed models name the common fields."""

    id: str | None = None
