"""A bounded cache of built plans, kept per app in the web layer.

A plan is a pure function of the profile, the ISO week, the food table and
the reference data (the core reads no clock and no randomness it does not
seed from the profile and week), so a plan built once can be served again.
Entries are keyed by

* the profile's canonical JSON (``planner.domain.profile.canonical_profile_json``: sorted keys,
  so equal profiles give equal text),
* the week, and
* a SHA-256 fingerprint of the food table's *content*
  (:func:`table_fingerprint`): a table with one row more, less or changed,
  e.g. one layered with a person's own foods, gets another key, never
  another table's plan.

The reference data is read once per process (``load_reference`` is cached)
and is part of the deployed code, so it needs no key of its own.

The cache holds at most ``PLAN_CACHE_SIZE`` entries (a plan, or the JSON
body the API sends for one; least recently used dropped first; ``0`` turns
it off). The largest plans (14 days, 5 meals) take about 50 KiB with their
JSON, so the default 256 costs a few MiB per gunicorn worker; each worker
has its own cache. Plans are frozen dataclasses and JSON bodies are bytes,
so sharing one between requests is safe.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Sequence
from typing import Any

from planner.domain.model import Food

#: Fingerprints of the most recent tables, by ``id`` (the table is kept alive
#: by the entry, so an id cannot be reused while it is listed).
_FINGERPRINTS: OrderedDict[int, tuple[Sequence[Food], str]] = OrderedDict()
_FINGERPRINTS_MAX = 64
_LOCK = threading.Lock()


def _canonical(value: Any) -> str:
    if isinstance(value, frozenset | set):
        return repr(sorted(value))
    return repr(value)


def table_fingerprint(foods: Sequence[Food]) -> str:
    """SHA-256 of every field of every row, in table order (hex).

    Equal content gives an equal fingerprint in any process; it is worked
    out once per table object and remembered for the most recent tables.
    """
    with _LOCK:
        known = _FINGERPRINTS.get(id(foods))
        if known is not None and known[0] is foods:
            _FINGERPRINTS.move_to_end(id(foods))
            return known[1]
    digest = hashlib.sha256()
    for food in foods:
        row = "\x1f".join(_canonical(getattr(food, name))
                          for name in food.__dataclass_fields__)
        digest.update(row.encode("utf-8") + b"\x1e")
    fingerprint = digest.hexdigest()
    with _LOCK:
        _FINGERPRINTS[id(foods)] = (foods, fingerprint)
        while len(_FINGERPRINTS) > _FINGERPRINTS_MAX:
            _FINGERPRINTS.popitem(last=False)
    return fingerprint


class PlanCache:
    """A thread-safe LRU mapping of keys to built values (plans)."""

    def __init__(self, size: int):
        self.size = max(0, int(size))
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_build(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The value cached under ``key``, or ``build()``'s (cached when it returns).

        Exceptions from ``build`` pass through and nothing is cached.
        """
        if self.size == 0:
            return build()
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
            self.misses += 1
        value = build()  # outside the lock: two threads may build the same plan once each
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0
