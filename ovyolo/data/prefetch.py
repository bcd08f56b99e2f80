"""Run a generator a few items ahead in a background thread: the reading stage of validation (decoding,
letterboxing, labels) overlaps the inference of the images before it, as in :mod:`ovyolo.deploy.pipeline`."""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

_END = object()


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(items: Iterable, depth: int, name: str = "ovyolo-prefetch") -> Iterator:
    """Yield the items of ``items`` in their order while a daemon thread produces up to ``depth`` of them ahead.

    Memory holds at most ``depth + 1`` items. An exception raised while producing is raised here, at the item
    where it happened; closing the generator early (``break``, an exception in the consumer) stops the thread.
    """
    depth = max(1, int(depth))
    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(obj) -> bool:
        while not stop.is_set():
            try:
                out.put(obj, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put(_Raised(exc))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(timeout=10)
