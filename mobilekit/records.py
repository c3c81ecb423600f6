"""Helpers for the dataclass records every stage returns: plain dicts for JSON, strict loading."""
from __future__ import annotations

import dataclasses
from pathlib import Path


# Field metadata of what a record carries in memory for the next stage but never writes (a parsed
# BenchResult beside the summary of its run, say): ``field(..., metadata=IN_MEMORY)``.
IN_MEMORY = {"record": False}


def to_dict(record):
    """A dataclass record (possibly nested) as JSON-ready plain data, without IN_MEMORY fields."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {field.name: to_dict(getattr(record, field.name)) for field in dataclasses.fields(record)
                if field.metadata.get("record", True)}
    if isinstance(record, dict):
        return {str(key): to_dict(value) for key, value in record.items()}
    if isinstance(record, (list, tuple)):
        return [to_dict(value) for value in record]
    if isinstance(record, Path):
        return str(record)
    try:
        import numpy as np

        if isinstance(record, np.generic):
            return record.item()
        if isinstance(record, np.ndarray):
            return record.tolist()
    except ImportError:  # pragma: no cover
        pass
    return record


def from_dict(cls, data: dict, *, where: str = ""):
    """Build dataclass ``cls`` from ``data``, refusing unknown fields (records never drift silently)."""
    from .errors import ProtocolError

    names = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ProtocolError(f"unknown field(s) {', '.join(unknown)} in {where or cls.__name__}")
    return cls(**data)
