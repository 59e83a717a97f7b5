"""Reads that run ahead of the writer, in pieces, with bounded memory.

``read_ahead(take, read, workers)`` runs ``workers`` threads; each takes the next step
(``take()``, None when there is none left) and iterates ``read(step)``, handing each piece to the
caller through one shared queue of ``workers`` places. The caller receives ``(step, piece)`` for
every piece and ``(step, None)`` once a step's pieces have all been handed over. Pieces of
different steps arrive interleaved; pieces of one step in the order ``read`` yields them.

At most ``workers`` pieces wait in the queue and each worker holds the one it is reading: memory
is bounded by the piece size, not by the size of a step. A failure in a worker is raised in the
caller; when the caller stops early (an error while writing, a closed generator) the workers stop
at their next piece and the pool is joined before ``read_ahead`` returns.
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Generic, Iterable, Iterator, TypeVar

Step = TypeVar("Step")
Piece = TypeVar("Piece")

_WAIT = 0.05  # seconds between looks at the stop flag while the queue is full


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


class _Done(Generic[Step]):
    def __init__(self, step: Step):
        self.step = step


class _WorkerExit:
    pass


def read_ahead(take: Callable[[], Step | None], read: Callable[[Step], Iterable[Piece]],
               workers: int, thread_name: str = "read-ahead") -> Iterator[tuple[Step, Piece | None]]:
    workers = max(1, workers)
    handed: queue.Queue = queue.Queue(maxsize=workers)
    stop = threading.Event()

    def hand(item) -> bool:
        while not stop.is_set():
            try:
                handed.put(item, timeout=_WAIT)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            while not stop.is_set() and (step := take()) is not None:
                pieces = iter(read(step))
                try:
                    for piece in pieces:
                        if not hand((step, piece)):
                            return
                        del piece  # the caller owns it now: not held while the next one is read
                finally:
                    close = getattr(pieces, "close", None)
                    if close is not None:
                        close()
                if not hand(_Done(step)):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the caller, who raises it
            hand(_Failed(error))
            return
        hand(_WorkerExit())

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=thread_name) as pool:
        try:
            for _ in range(workers):
                pool.submit(work)
            running = workers
            while running:
                item = handed.get()
                if isinstance(item, _WorkerExit):
                    running -= 1
                elif isinstance(item, _Failed):
                    raise item.error
                elif isinstance(item, _Done):
                    yield item.step, None
                else:
                    step, piece = item
                    del item
                    yield step, piece
                    del piece  # written by now: not held while waiting for the next one
        finally:
            stop.set()  # workers still reading stop at their next piece; the pool joins them
