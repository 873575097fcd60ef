"""``dhnet detect --dask``: chunks of series run on a Dask distributed cluster.

``--dask local:N`` starts a :class:`distributed.LocalCluster` of ``N`` worker
*processes* (one thread each) listening on 127.0.0.1 only, without dashboard,
and closes it at the end; ``--dask tcp://host:port`` connects to a running
scheduler (its workers must have ``dhnet`` installed).

Each chunk is scattered to the cluster and :func:`~dhnet.cli._engine.run_chunk`
is submitted on it; at most ``2 x workers`` chunks are in flight, so memory
stays bounded, and results are taken back **in submission order**, so the
output is identical to a single-process run.  An exception on a worker (for
example an :class:`~dhnet.cli._errors.InputError`) is re-raised here.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from dhnet.cli._errors import InputError

_LOCAL = re.compile(r"^local:(\d+)$")
_LOGGERS = ("distributed", "distributed.scheduler", "distributed.worker", "distributed.nanny", "distributed.core")


def parse_address(spec: str) -> tuple[str, int | str]:
    """``("local", n)`` or ``("remote", address)``; ``InputError`` otherwise."""
    m = _LOCAL.match(spec.strip())
    if m:
        n = int(m.group(1))
        if n < 1:
            raise InputError(f"--dask {spec}: need at least one worker")
        return "local", n
    if re.match(r"^(tcp|tls|inproc|ucx|ws|wss)://.+", spec.strip()) or re.match(r"^[\w.\-]+:\d+$", spec.strip()):
        return "remote", spec.strip()
    raise InputError(f"--dask {spec!r}: expected local:N or a scheduler address such as tcp://127.0.0.1:8786")


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Silence distributed's INFO/WARNING chatter for the lifetime of the cluster."""
    saved = {name: logging.getLogger(name).level for name in _LOGGERS}
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def dask_client(spec: str) -> Iterator[Any]:
    """A connected ``distributed.Client`` (and its LocalCluster for ``local:N``), closed on exit."""
    kind, value = parse_address(spec)
    import dask
    import distributed

    client_type: Any = distributed.Client  # distributed's constructors are untyped
    cluster_type: Any = distributed.LocalCluster

    with _quiet_logs(), dask.config.set({"distributed.admin.system-monitor.gil.enabled": False}):
        if kind == "local":
            assert isinstance(value, int)
            cluster = cluster_type(
                n_workers=value,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                scheduler_port=0,
                dashboard_address=None,
                silence_logs=logging.CRITICAL,  # a failed task logs at ERROR on the worker
            )
            try:
                with client_type(cluster) as client:
                    yield client
            finally:
                cluster.close()
        else:
            try:
                client = client_type(str(value), timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise InputError(
                    f"--dask {value}: cannot connect to the scheduler ({exc})", about_input=False
                ) from None
            try:
                yield client
            finally:
                client.close()


def map_ordered(
    client: Any, fn: Callable[..., Any], items: Iterable[Any], *args: Any, in_flight: int | None = None
) -> Iterator[Any]:
    """``fn(item, *args)`` for every item on the cluster, yielded in input order."""
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    limit = in_flight or 2 * workers
    pending: deque[Any] = deque()
    try:
        for item in items:
            [data] = client.scatter([item], hash=False)
            pending.append((data, client.submit(fn, data, *args, pure=False)))
            while len(pending) >= limit:
                data, fut = pending.popleft()
                result = fut.result()
                fut.release()
                data.release()
                yield result
        while pending:
            data, fut = pending.popleft()
            result = fut.result()
            fut.release()
            data.release()
            yield result
    finally:
        for data, fut in pending:
            fut.cancel()
            data.cancel()
