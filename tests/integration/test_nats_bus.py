"""The NATS JetStream bus beyond the contract suite: what it keeps on the server, existing streams
and consumers it must refuse, several buses on one stream, and a NATS restart.

Most tests use the session's NATS (`nats_url`) and delete the stream first (subjects may belong
to one stream only); the restart test starts a NATS server of its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType
from nats.js.errors import NotFoundError as JsNotFound

from noetl.bus.nats import NatsBus
from noetl.bus.port import Pointer
from noetl.errors import BusError
from noetl.runtime.local_services import LocalNats

pytestmark = pytest.mark.integration

T = TypeVar("T")
STREAM = "NOETL_COMMANDS"
LONG = 5.0  # seconds to wait for what must arrive
BRIEF = 0.3  # seconds to wait for what must not


def pointer(n: int, pool: str = "default") -> Pointer:
    return Pointer("e1", f"e1:s{n}:{n}:0:-", f"s{n}", pool=pool)


async def fresh_server(url: str) -> None:
    """Delete what an earlier test left on the shared server."""
    client = await nats.connect(url)
    try:
        await client.jetstream().delete_stream(STREAM)
    except JsNotFound:
        pass
    finally:
        await client.close()


def run(url: str, body: Callable[[Any], Awaitable[T]]) -> T:
    """Run `body(js)` (a raw JetStream context) on a clean server."""

    async def main() -> T:
        await fresh_server(url)
        client = await nats.connect(url)
        try:
            return await body(client.jetstream())
        finally:
            await client.close()

    return asyncio.run(main())


async def drain(bus: NatsBus, pool: str = "default") -> list[Pointer]:
    """Fetch and ack until nothing more arrives."""
    got = []
    while deliveries := await bus.fetch(pool, batch=10, timeout=BRIEF):
        for delivery in deliveries:
            got.append(delivery.pointer)
            await delivery.ack()
    return got


# -- what is kept on the server -------------------------------------------------------------------


def test_stream_consumer_and_pointer_messages_are_as_documented(nats_url):
    async def body(js):
        bus = await NatsBus.connect(nats_url, ack_wait=7.0, max_deliver=4)
        try:
            await bus.publish([pointer(1, pool="gpu")])
            await bus.fetch("gpu", timeout=BRIEF)  # binds the pool's consumer
            stream = await js.stream_info(STREAM)
            consumer = await js.consumer_info(STREAM, "noetl-worker-gpu")
            message = await js.get_msg(STREAM, 1)
        finally:
            await bus.close()
        return stream.config, consumer.config, message

    stream, consumer, message = run(nats_url, body)
    assert stream.subjects == ["noetl.commands.>"]
    assert stream.retention == RetentionPolicy.WORK_QUEUE
    assert stream.storage == StorageType.FILE
    assert consumer.filter_subject == "noetl.commands.gpu"
    assert consumer.ack_policy == AckPolicy.EXPLICIT
    assert (consumer.ack_wait, consumer.max_deliver) == (7.0, 4)
    assert message.subject == "noetl.commands.gpu"
    assert json.loads(message.data) == {
        "execution_id": "e1",
        "command_id": "e1:s1:1:0:-",
        "step": "s1",
    }
    assert message.headers["Nats-Msg-Id"] == "e1:s1:1:0:-"


def test_a_pointer_published_twice_is_delivered_once(nats_url):
    async def body(js):
        bus = await NatsBus.connect(nats_url)
        try:
            await bus.publish([pointer(1)])
            await bus.publish([pointer(1), pointer(2)])
            return await drain(bus)
        finally:
            await bus.close()

    assert run(nats_url, body) == [pointer(1), pointer(2)]


def test_a_later_bus_updates_the_consumer_lease_settings(nats_url):
    async def body(js):
        for ack_wait in (3.0, 9.0):
            bus = await NatsBus.connect(nats_url, ack_wait=ack_wait, max_deliver=2)
            await bus.fetch("default", timeout=BRIEF)
            await bus.close()
        return (await js.consumer_info(STREAM, "noetl-worker-default")).config

    config = run(nats_url, body)
    assert (config.ack_wait, config.max_deliver) == (9.0, 2)


def test_a_pool_name_that_is_not_one_subject_token_is_refused(nats_url):
    async def body(js):
        bus = await NatsBus.connect(nats_url)
        try:
            with pytest.raises(BusError, match=r"pool name 'a\.b'"):
                await bus.publish([pointer(1), pointer(2, pool="a.b")])
            with pytest.raises(BusError, match="pool name 'x >'"):
                await bus.fetch("x >", timeout=BRIEF)
            return await drain(bus)
        finally:
            await bus.close()

    assert run(nats_url, body) == []  # nothing of the refused batch was published


# -- existing objects that contradict what NoETL needs --------------------------------------------


@pytest.mark.parametrize(
    ("setting", "config", "found", "needed"),
    [
        ("retention", {"retention": RetentionPolicy.LIMITS}, "limits", "workqueue"),
        ("storage", {"storage": StorageType.MEMORY}, "memory", "file"),
        ("subjects", {"subjects": ["noetl.commands.only"]}, "noetl.commands.only", ">"),
    ],
)
def test_a_stream_with_other_settings_is_refused_naming_the_setting(
    nats_url, setting, config, found, needed
):
    async def body(js):
        settings = {
            "subjects": ["noetl.commands.>"],
            "retention": RetentionPolicy.WORK_QUEUE,
            "storage": StorageType.FILE,
        }
        await js.add_stream(name=STREAM, **{**settings, **config})
        with pytest.raises(BusError) as caught:
            await NatsBus.connect(nats_url)
        return str(caught.value)

    message = run(nats_url, body)
    assert f"JetStream stream {STREAM}" in message
    assert f"{setting}=" in message
    assert found in message
    assert needed in message


def test_a_consumer_with_another_filter_is_refused_naming_it(nats_url):
    async def body(js):
        bus = await NatsBus.connect(nats_url)
        try:
            await js.add_consumer(
                STREAM,
                ConsumerConfig(
                    durable_name="noetl-worker-default",
                    filter_subject="noetl.commands.elsewhere",
                    ack_policy=AckPolicy.EXPLICIT,
                ),
            )
            with pytest.raises(BusError) as caught:
                await bus.fetch("default", timeout=BRIEF)
            return str(caught.value)
        finally:
            await bus.close()

    message = run(nats_url, body)
    assert "consumer noetl-worker-default" in message
    assert "filter_subject='noetl.commands.elsewhere'" in message
    assert "filter_subject='noetl.commands.default'" in message


# -- several buses on one stream ------------------------------------------------------------------


def test_two_workers_on_one_pool_share_the_pointers(nats_url):
    async def body(js):
        server = await NatsBus.connect(nats_url)
        workers = [await NatsBus.connect(nats_url) for _ in range(2)]
        try:
            await server.publish([pointer(n) for n in range(30)])
            taken = await asyncio.gather(*(drain(w) for w in workers))
        finally:
            for bus in (server, *workers):
                await bus.close()
        return taken

    first, second = run(nats_url, body)
    assert sorted(first + second, key=lambda p: p.step) == sorted(
        (pointer(n) for n in range(30)), key=lambda p: p.step
    )
    assert not set(first) & set(second)


def test_two_replicas_listening_for_dead_letters_bury_each_once(nats_url):
    dead: list[tuple[str, Pointer]] = []

    def listener(name: str) -> Callable[[Pointer], Awaitable[None]]:
        async def on_dead(p: Pointer) -> None:
            dead.append((name, p))

        return on_dead

    async def body(js):
        replicas = [
            await NatsBus.connect(nats_url, max_deliver=2, ack_wait=0.3, on_dead=listener(name))
            for name in ("r1", "r2")
        ]
        worker = await NatsBus.connect(nats_url, max_deliver=2, ack_wait=0.3)
        try:
            await replicas[0].publish([pointer(1), pointer(2)])
            for _ in range(int(LONG * 2 / 0.2)):
                if len(dead) >= 2:
                    break
                # Pointer 1 is nacked to death; pointer 2 is left to run out of leases.
                for delivery in await worker.fetch("default", batch=2, timeout=0.2):
                    if delivery.pointer == pointer(1):
                        await delivery.nack()
            await asyncio.sleep(BRIEF)  # room for a second burial, which must not happen
            left = await worker.fetch("default", timeout=BRIEF)
            info = await js.stream_info(STREAM)
        finally:
            for bus in (*replicas, worker):
                await bus.close()
        return left, info.state.messages

    left, stored = run(nats_url, body)
    assert sorted(p.step for _, p in dead) == ["s1", "s2"]
    assert left == []
    assert stored == 0  # buried pointers are taken out of the stream


# -- NATS restarts --------------------------------------------------------------------------------


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[LocalNats]:
    """A NATS server this test may stop and restart."""
    server = LocalNats.start(tmp_path / "nats")
    try:
        yield server
    finally:
        server.stop()


def test_nothing_is_lost_across_a_nats_restart(own_nats):
    async def main() -> tuple[list[Pointer], list[Pointer], list[Pointer]]:
        bus = await NatsBus.connect(own_nats.url, ack_wait=1.0)
        try:
            await bus.publish([pointer(1), pointer(2)])
            [unacked] = await bus.fetch("default", timeout=LONG)  # leased, never acked
            own_nats.stop()
            during = await bus.fetch("default", timeout=BRIEF)  # the server is away: []
            publishing = asyncio.create_task(bus.publish([pointer(3)]))  # retried until back
            await asyncio.sleep(BRIEF)
            own_nats.restart()
            await asyncio.wait_for(publishing, LONG * 3)
            after = []
            for _ in range(int(LONG * 4 / 0.5)):  # until the lease of `unacked` ran out, too
                for delivery in await bus.fetch("default", batch=10, timeout=0.5):
                    after.append(delivery.pointer)
                    await delivery.ack()
                if len(after) >= 3:
                    break
            return [unacked.pointer], during, after
        finally:
            await bus.close()

    first, during, after = asyncio.run(main())
    assert first == [pointer(1)]
    assert during == []
    assert sorted(p.step for p in after) == ["s1", "s2", "s3"]
