"""BLAS stays single-threaded while the method runs, whichever thread runs it.

cleantake parallelises itself (blocks in threads, NMF in blocks of frames); BLAS's own
threads beside them oversubscribe the cores. threadpoolctl 3.8 lets only one thread change
OpenBLAS's process-wide thread count at a time, and once a limit had been set and restored
in the calling thread (``like=`` learns its example there), the worker threads that clean
the blocks could no longer set it: the ``like`` path of a 4-minute stereo file ran with
both and took twice as long alone, and five times as long with a second run beside it.
"""

from __future__ import annotations

import threading

import pytest
from threadpoolctl import threadpool_info

import cleantake
from conftest import burst, organ
from cleantake.threads import single_threaded_blas


def blas_threads() -> list[int]:
    """The thread count of every BLAS library loaded."""
    return [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]


@pytest.fixture
def several_blas_threads():
    """Tests that need BLAS to run more than one thread when nothing limits it."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2, user_api="blas"):
        if not blas_threads() or min(blas_threads()) < 2:
            pytest.skip("no BLAS library here runs more than one thread")
        yield


def in_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_a_worker_thread_limits_blas_after_the_calling_thread_did(several_blas_threads):
    before = blas_threads()
    with single_threaded_blas():
        assert set(blas_threads()) == {1}
    assert blas_threads() == before

    def work():
        with single_threaded_blas():
            return blas_threads()

    assert set(in_thread(work)) == {1}
    assert blas_threads() == before


def test_the_last_thread_out_restores_whoever_came_first(several_blas_threads):
    before = blas_threads()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with single_threaded_blas():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with single_threaded_blas():
            second_in.set()
            first_out.wait(5)
            seen["after the first left"] = blas_threads()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(seen["after the first left"]) == {1}
    assert blas_threads() == before


def test_blocks_cleaned_with_like_in_worker_threads_run_single_threaded_blas(several_blas_threads):
    """The progress callback runs in the threads that clean the blocks."""
    sr = 22050
    x = organ(50.0, sr)
    b = burst(sr)
    for t in (3.0, 17.0, 31.0, 44.0):
        n = int(t * sr)
        x[n:n + b.size] += b
    seen = []
    before = blas_threads()
    cleantake.Cleaner("none").clean(x, sr, like=[(3.0, 3.3)], block_s=12.0, overlap_s=2.0,
                                    progress=lambda f: seen.append((f, tuple(blas_threads()))))
    during = {threads for f, threads in seen if 0.0 < f < 1.0}
    assert during and all(set(t) == {1} for t in during)
    assert blas_threads() == before
