"""gc_paused: pauses nest and overlap across threads; the collector comes back when all end."""

from __future__ import annotations

import gc
import threading

from synapse_nb.frames.build import gc_paused


def test_overlapping_pauses_in_two_threads_keep_the_collector_off_until_both_end() -> None:
    assert gc.isenabled()
    inside_a, a_may_leave, a_left = (threading.Event() for _ in range(3))
    seen: dict[str, bool] = {}

    def first() -> None:
        with gc_paused():
            inside_a.set()
            a_may_leave.wait(10)
        a_left.set()

    thread = threading.Thread(target=first)
    thread.start()
    inside_a.wait(10)
    with gc_paused():  # the second pause starts while the first is on
        a_may_leave.set()
        a_left.wait(10)
        seen["after the first ended"] = gc.isenabled()
    thread.join(10)
    assert seen["after the first ended"] is False  # still paused: the second is running
    assert gc.isenabled()  # both ended: back on


def test_a_collector_the_user_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with gc_paused(), gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
