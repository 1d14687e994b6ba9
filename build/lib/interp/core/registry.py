"""Name-keyed registries: views, measures and executors are each one record per name.

A registry keeps registration order (the app shows views in it), refuses a name given twice,
and answers an unknown name with an error listing the valid ones, as Inseq's registries do.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from interp.core.errors import InterpError


class Named(Protocol):
    name: str


T = TypeVar("T", bound=Named)


class Registry(dict[str, T], Generic[T]):
    """`name → record` in registration order; `kind` names the records in messages."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def add(self, record: T) -> T:
        if record.name in self:
            raise ValueError(f"{self.kind} {record.name!r} is registered twice")
        self[record.name] = record
        return record

    def named(self, name: str, alternative: str = "") -> T:
        """The record called `name`, or an `InterpError` listing the valid names (and `alternative`,
        what else the caller accepts)."""
        if name not in self:
            also = f", or {alternative}" if alternative else ""
            raise InterpError(f"{self.kind} {name!r} is unknown; {self.kind}s: {', '.join(self)}{also}")
        return self[name]
