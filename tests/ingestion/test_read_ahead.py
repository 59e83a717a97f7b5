"""ingestion.read_ahead: every piece handed over once, in order within a step, with bounded
look-ahead; failures raised in the caller; workers stopped when the caller stops."""
from __future__ import annotations

import threading
import time
import weakref

import pytest

from ingestion.read_ahead import read_ahead


def _steps(count: int):
    lock = threading.Lock()
    remaining = list(range(count))

    def take():
        with lock:
            return remaining.pop(0) if remaining else None
    return take


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_every_piece_once_in_order_within_its_step_then_its_end(workers):
    def read(step):
        for index in range(step % 4):  # steps of 0 to 3 pieces
            yield (step, index)

    seen: dict[int, list[int]] = {}
    ended: list[int] = []
    for step, piece in read_ahead(_steps(20), read, workers):
        if piece is None:
            assert step not in ended
            ended.append(step)
        else:
            assert step not in ended and piece[0] == step
            seen.setdefault(step, []).append(piece[1])
    assert sorted(ended) == list(range(20))
    assert seen == {step: list(range(step % 4)) for step in range(20) if step % 4}


def test_a_failing_read_is_raised_in_the_caller_after_the_pieces_before_it():
    def read(step):
        yield "first"
        raise ValueError(f"source went away in step {step}")

    received = []
    with pytest.raises(ValueError, match="source went away"):
        for _step, piece in read_ahead(_steps(1), read, workers=2):
            received.append(piece)
    assert received == ["first"]


def test_a_caller_that_stops_early_stops_the_workers_and_closes_their_reads():
    closed = []
    started = threading.Semaphore(0)

    def read(step):
        try:
            started.release()
            while True:  # endless: only the stop ends it
                yield step
        finally:
            closed.append(step)

    before = threading.active_count()
    pieces = read_ahead(_steps(2), read, workers=2)
    next(pieces)
    assert started.acquire(timeout=5) and started.acquire(timeout=5)  # both workers are reading
    pieces.close()  # the caller's error or early return
    assert sorted(closed) == [0, 1]
    assert threading.active_count() == before


def test_no_steps_ends_at_once():
    assert list(read_ahead(lambda: None, lambda step: [step], workers=2)) == []


def test_pieces_alive_while_reading_are_only_those_in_flight():
    """Memory stays bounded by the pieces in flight: when a reader starts on a new piece, the
    live pieces are at most the queue's (``workers``), one held by each other reader and the one
    the caller is writing; nobody keeps a piece the caller is done with."""
    class Piece:
        pass

    alive: weakref.WeakSet = weakref.WeakSet()
    most = 0
    lock = threading.Lock()

    def read(step):
        nonlocal most
        for _ in range(20):
            with lock:
                most = max(most, len(alive))
                piece = Piece()
                alive.add(piece)
            yield piece
            del piece

    for _step, piece in read_ahead(_steps(6), read, workers=2):
        time.sleep(0.001)  # a writer slower than the readers: every place fills
        del piece
    assert 0 < most <= 4
