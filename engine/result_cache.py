"""Identical work done once: canonical keys, a byte-budgeted LRU of results, shared compute.

Every result in this app is a deterministic function of its settings (seeded), so two
sessions asking for the same settings may share one computation:

* :func:`canonical_key` hashes a canonical text of the settings (dataclasses by field name,
  dicts by sorted key, floats exactly via ``float.hex``, arrays by dtype, shape and bytes):
  stable across processes and runs (no ``hash()`` randomization), equal for equal settings.
* :class:`ResultCache` keeps finished results in LRU order within a budget in bytes
  (:func:`nbytes`: the ``nbytes`` of every distinct ndarray reachable through dataclasses,
  dicts, lists and tuples). A result larger than the whole budget is not kept.
* :func:`shared_compute` runs ``fn(*args)`` once per key on the executor seam
  (:mod:`engine.executor`): a second caller with the same key while it runs waits on the
  same future (blocking on it, not on the GIL); later callers get the cached result.
  :func:`shared_compute_all` does several at once: all submitted, then all awaited.

The process-wide cache's budget is ``engine.knobs.RESULT_CACHE_BYTES`` (README).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from engine import knobs
from engine.executor import Backend, default_backend


class NotCanonical(TypeError):
    """The value has no canonical text (e.g. a lambda): it cannot key a shared result."""


def canonical(obj: Any) -> str:
    """A canonical text of ``obj`` (see the module docstring); NotCanonical if it has none."""
    if obj is None or isinstance(obj, (bool, str)):
        return repr(obj)
    if isinstance(obj, (int, np.integer)):
        return f"i{int(obj)}"
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return "f" + (x.hex() if math.isfinite(x) else repr(x))
    if isinstance(obj, enum.Enum):
        return f"{type(obj).__qualname__}.{obj.name}"
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = ",".join(
            f"{f.name}={canonical(getattr(obj, f.name))}" for f in dataclasses.fields(obj)
        )
        return f"{type(obj).__module__}.{type(obj).__qualname__}({fields})"
    if isinstance(obj, dict):
        items = sorted((canonical(k), canonical(v)) for k, v in obj.items())
        return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
    if isinstance(obj, (list, tuple)):
        return ("[" if isinstance(obj, list) else "(") + ",".join(map(canonical, obj)) + ")"
    if isinstance(obj, (set, frozenset)):
        return "set(" + ",".join(sorted(map(canonical, obj))) + ")"
    if isinstance(obj, np.ndarray):
        digest = hashlib.sha256(np.ascontiguousarray(obj).tobytes()).hexdigest()
        return f"array({obj.dtype.str},{obj.shape},{digest})"
    if isinstance(obj, type) or callable(obj):
        name = getattr(obj, "__qualname__", "")
        if not name or "<" in name:  # lambdas, closures: no stable identity
            raise NotCanonical(f"{obj!r} has no canonical form")
        return f"{obj.__module__}.{name}"
    raise NotCanonical(f"{type(obj).__name__} has no canonical form")


def canonical_key(*parts: Any) -> str:
    """A stable hex key of ``parts`` (e.g. ``("reglab", lab_config)``)."""
    return hashlib.sha256(canonical(parts).encode()).hexdigest()[:32]


def nbytes(obj: Any) -> int:
    """Bytes held by ``obj``: the sum of ``nbytes`` of every distinct ndarray reachable
    through dataclasses, dicts (and mapping proxies), lists, tuples and sets."""
    seen: set[int] = set()
    total = 0
    stack = [obj]
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, np.ndarray):
            total += x.nbytes
        elif dataclasses.is_dataclass(x) and not isinstance(x, type):
            stack.extend(getattr(x, f.name) for f in dataclasses.fields(x))
        elif isinstance(x, (list, tuple, set, frozenset)):
            stack.extend(x)
        elif hasattr(x, "items") and hasattr(x, "values"):
            stack.extend(x.values())
    return total


class ResultCache:
    """Finished results by key, least recently used first out, within ``budget`` bytes."""

    def __init__(self, budget: int):
        if not (isinstance(budget, int) and budget >= 0):
            raise ValueError(f"Invalid cache budget: {budget!r} (need an int >= 0 bytes)")
        self.budget = budget
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.used = 0
        self.hits = self.misses = self.evictions = 0

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return default
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def put(self, key: str, value: Any, size: int | None = None) -> bool:
        """Keep ``value`` (evicting the least recently used); False if it exceeds the budget."""
        size = nbytes(value) if size is None else int(size)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.used -= old[1]
            if size > self.budget:
                return False
            while self._items and self.used + size > self.budget:
                _, (_, evicted) = self._items.popitem(last=False)
                self.used -= evicted
                self.evictions += 1
            self._items[key] = (value, size)
            self.used += size
            return True

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.used = 0

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(
                entries=len(self._items),
                used=self.used,
                budget=self.budget,
                hits=self.hits,
                misses=self.misses,
                evictions=self.evictions,
            )


_CACHE: ResultCache | None = None
_CACHE_LOCK = threading.Lock()


def result_cache() -> ResultCache:
    """The process-wide cache (budget ``engine.knobs.RESULT_CACHE_BYTES``)."""
    global _CACHE
    with _CACHE_LOCK:
        if _CACHE is None:
            _CACHE = ResultCache(knobs.RESULT_CACHE_BYTES)
        return _CACHE


_INFLIGHT: dict[str, Any] = {}
_INFLIGHT_LOCK = threading.Lock()


def shared_compute(
    key: str | None,
    fn: Callable,
    *args: Any,
    backend: Backend | None = None,
    cache: ResultCache | None = None,
) -> Any:
    """``fn(*args)`` computed once per ``key`` across sessions, on the executor seam.

    A cached result returns at once; a computation of the same key already running is joined
    (the caller waits on its future); otherwise ``fn(*args)`` is submitted to ``backend``
    (default: the process-wide one) and its result cached. ``key=None`` derives the key from
    ``fn`` and ``args`` (:func:`canonical_key`; they must be canonical). ``fn`` and ``args``
    must pickle for the process and Dask backends.
    """
    return shared_compute_all([(key, fn, args, backend)], cache=cache)[0]


def shared_compute_all(
    calls: Sequence[tuple[str | None, Callable, tuple, Backend | None]],
    cache: ResultCache | None = None,
) -> list[Any]:
    """:func:`shared_compute` for several ``(key, fn, args, backend)`` at once, results in
    order: every missing result is submitted before any is waited for, so the backend's
    workers compute them in parallel (e.g. one basin map per racer)."""
    cache = result_cache() if cache is None else cache  # an empty cache is falsy (len 0)
    pending = [_claim(cache, *call) for call in calls]
    results, error = [], None
    for claim in pending:  # collect every claim, even after a failure: owners must let go
        try:
            results.append(_collect(cache, claim))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            error = error or exc
            results.append(None)
    if error is not None:
        raise error
    return results


class _Claim(NamedTuple):
    """One call of :func:`shared_compute_all` after :func:`_claim`: its cached ``value``, or
    the ``future`` to wait on (``owner``: this call submitted it and must cache and release)."""

    key: str
    value: Any = None
    future: Any = None
    backend: Backend | None = None
    owner: bool = False
    fn: Callable | None = None
    args: tuple = ()

    @property
    def cached(self) -> bool:
        return self.future is None


def _claim(cache: ResultCache, key, fn, args, backend) -> _Claim:
    """The cached value of ``key``, or the running computation of ``key`` joined, or a new one
    submitted (``owner``)."""
    key = key or canonical_key(fn, *args)
    hit = cache.get(key, _MISSING)
    if hit is not _MISSING:
        return _Claim(key, value=hit)
    backend = backend or default_backend()
    with _INFLIGHT_LOCK:
        entry = _INFLIGHT.get(key)
        owner = entry is None
        if owner:
            entry = _INFLIGHT[key] = [backend.submit(fn, *args), backend]
    future, used = entry
    return _Claim(key, future=future, backend=used, owner=owner, fn=fn, args=args)


def _collect(cache: ResultCache, claim: _Claim) -> Any:
    """The value of a :func:`_claim`: waits on its future; the owner caches the result and
    takes the key out of the running computations, whatever happens."""
    if claim.cached:
        return claim.value
    try:
        value = claim.backend.result(claim.future, claim.fn, *claim.args)
    finally:
        if claim.owner:
            with _INFLIGHT_LOCK:
                _INFLIGHT.pop(claim.key, None)
    if claim.owner:
        cache.put(claim.key, value)
    return value


_MISSING = object()
