"""Run leases against a real redis-server: exclusivity, expiry, fencing, heartbeat."""

from __future__ import annotations

import time

import redis

from service_contracts import protocol
from worker.lease import RunLease

RUN = "1" * 32


def lease(db: redis.Redis, owner: str, ttl_s: float = 1.0) -> RunLease:
    return RunLease(db, RUN, ttl_s=ttl_s, owner=owner)


def test_only_one_owner_at_a_time(db: redis.Redis) -> None:
    a, b = lease(db, "a"), lease(db, "b")
    assert a.try_acquire() and not b.try_acquire()
    b.release()  # not the owner: no effect
    assert db.get(protocol.lease_key(RUN)) == "a"
    a.release()
    assert b.try_acquire()


def test_expired_lease_passes_to_the_next_owner_and_fences_the_old_one(db: redis.Redis) -> None:
    a, b = lease(db, "a", ttl_s=0.3), lease(db, "b")
    assert a.try_acquire()
    assert a.update({"status": "running"})
    assert b.acquire(wait_s=2.0, poll_s=0.05)  # waits out a's expiry
    assert not a.refresh() and a.lost.is_set()
    assert not a.update({"status": "failed"})  # fenced: the new owner's state stays
    assert db.hget(protocol.run_key(RUN), "status") == "running"
    assert b.update({"status": "succeeded"}) and not b.lost.is_set()
    assert db.hget(protocol.run_key(RUN), "status") == "succeeded"


def test_acquire_gives_up_while_a_live_owner_holds_it(db: redis.Redis) -> None:
    a, b = lease(db, "a", ttl_s=5), lease(db, "b")
    assert a.try_acquire()
    started = time.monotonic()
    assert not b.acquire(wait_s=0.3, poll_s=0.05)
    assert 0.3 <= time.monotonic() - started < 2


def test_heartbeat_keeps_the_lease_past_its_ttl_and_stops_after(db: redis.Redis) -> None:
    a = lease(db, "a", ttl_s=0.5)
    assert a.try_acquire()
    with a.heartbeat(0.1):
        time.sleep(1.2)
        assert db.get(protocol.lease_key(RUN)) == "a"
    time.sleep(0.8)
    assert db.get(protocol.lease_key(RUN)) is None  # no more beats: it expired


def test_heartbeat_notices_a_stolen_lease(db: redis.Redis) -> None:
    a = lease(db, "a", ttl_s=2)
    assert a.try_acquire()
    with a.heartbeat(0.05):
        db.set(protocol.lease_key(RUN), "intruder")
        deadline = time.monotonic() + 2
        while not a.lost.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
    assert a.lost.is_set()
