"""The NATS JetStream bus beyond the contract suite: what it keeps on the server, existing streams
and consumers it must refuse, several buses on one stream, and a NATS restart.

Most tests use the session's NATS (`nats_url`), each on a stream and subject root of its own
(a subject may belong to one stream only); the restart test starts a NATS server of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType
from nats.js.errors import NotFoundError as JsNotFound

from noetl.bus.nats import NatsBus
from noetl.bus.port import Pointer
from noetl.devservers.services import LocalNats
from noetl.errors import BusError

pytestmark = pytest.mark.integration

T = TypeVar("T")
LONG = 5.0  # seconds to wait for what must arrive
BRIEF = 0.3  # seconds to wait for what must not


def pointer(n: int, pool: str = "default") -> Pointer:
    return Pointer("e1", f"e1:s{n}:{n}:0:-", f"s{n}", pool=pool)


@dataclass
class Space:
    """A stream and subject root of one test on the shared server."""

    url: str
    stream: str
    root: str

    async def bus(self, **options: Any) -> NatsBus:
        return await NatsBus.connect(
            self.url, stream=self.stream, subject_root=self.root, **options
        )

    def run(self, body: Callable[[Any], Awaitable[T]]) -> T:
        """Run `body(js)` with a raw JetStream context beside the buses it makes."""

        async def main() -> T:
            client = await nats.connect(self.url)
            try:
                return await body(client.jetstream())
            finally:
                await client.close()

        return asyncio.run(main())


@pytest.fixture
def space(nats_url: str) -> Iterator[Space]:
    tag = uuid.uuid4().hex[:12]
    space = Space(nats_url, f"BUS_{tag}", f"bus-{tag}.commands")
    yield space

    async def delete(js: Any) -> None:
        with contextlib.suppress(JsNotFound):
            await js.delete_stream(space.stream)

    space.run(delete)


async def drain(bus: NatsBus, pool: str = "default") -> list[Pointer]:
    """Fetch and ack until nothing more arrives."""
    got = []
    while deliveries := await bus.fetch(pool, batch=10, timeout=BRIEF):
        for delivery in deliveries:
            got.append(delivery.pointer)
            await delivery.ack()
    return got


# -- what is kept on the server -------------------------------------------------------------------


def test_stream_consumer_and_pointer_messages_are_as_documented(space):
    async def body(js):
        bus = await space.bus(ack_wait=7.0, max_deliver=4)
        try:
            await bus.publish([pointer(1, pool="gpu")])
            await bus.fetch("gpu", timeout=BRIEF)  # binds the pool's consumer
            stream = await js.stream_info(space.stream)
            consumer = await js.consumer_info(space.stream, "noetl-worker-gpu")
            message = await js.get_msg(space.stream, 1)
        finally:
            await bus.close()
        return stream.config, consumer.config, message

    stream, consumer, message = space.run(body)
    assert stream.subjects == [f"{space.root}.>"]
    assert stream.retention == RetentionPolicy.WORK_QUEUE
    assert stream.storage == StorageType.FILE
    assert consumer.filter_subject == f"{space.root}.gpu"
    assert consumer.ack_policy == AckPolicy.EXPLICIT
    assert (consumer.ack_wait, consumer.max_deliver) == (7.0, 4)
    assert message.subject == f"{space.root}.gpu"
    assert json.loads(message.data) == {
        "execution_id": "e1",
        "command_id": "e1:s1:1:0:-",
        "step": "s1",
    }
    assert message.headers["Nats-Msg-Id"] == "e1:s1:1:0:-"


def test_a_pointer_published_twice_is_delivered_once(space):
    async def body(js):
        bus = await space.bus()
        try:
            await bus.publish([pointer(1)])
            await bus.publish([pointer(1), pointer(2)])
            return await drain(bus)
        finally:
            await bus.close()

    assert space.run(body) == [pointer(1), pointer(2)]


def test_a_reissued_pointer_is_delivered_again(space):
    """A command re-issued after its lease ran out is a new message, not a duplicate of its
    first publication (which NATS would drop within its duplicate window)."""

    async def body(js):
        bus = await space.bus()
        try:
            await bus.publish([pointer(1)])
            first = await drain(bus)
            await bus.publish([replace(pointer(1), reissue=1), replace(pointer(1), reissue=1)])
            return first, await drain(bus)
        finally:
            await bus.close()

    assert space.run(body) == ([pointer(1)], [pointer(1)])


def test_a_later_bus_updates_the_consumer_lease_settings(space):
    async def body(js):
        for ack_wait in (3.0, 9.0):
            bus = await space.bus(ack_wait=ack_wait, max_deliver=2)
            await bus.fetch("default", timeout=BRIEF)
            await bus.close()
        return (await js.consumer_info(space.stream, "noetl-worker-default")).config

    config = space.run(body)
    assert (config.ack_wait, config.max_deliver) == (9.0, 2)


def test_a_pool_name_that_is_not_one_subject_token_is_refused(space):
    async def body(js):
        bus = await space.bus()
        try:
            with pytest.raises(BusError, match=r"pool name 'a\.b'"):
                await bus.publish([pointer(1), pointer(2, pool="a.b")])
            with pytest.raises(BusError, match="pool name 'x >'"):
                await bus.fetch("x >", timeout=BRIEF)
            return await drain(bus)
        finally:
            await bus.close()

    assert space.run(body) == []  # nothing of the refused batch was published


def test_installations_with_their_own_subject_roots_share_a_server(space, nats_url):
    other = Space(nats_url, f"{space.stream}_B", space.root.replace(".commands", "-b.commands"))

    async def body(js):
        mine, theirs = await space.bus(), await other.bus()
        try:
            await mine.publish([pointer(1)])
            await theirs.publish([pointer(2)])
            return await drain(mine), await drain(theirs)
        finally:
            await mine.close()
            await theirs.close()
            await js.delete_stream(other.stream)

    assert space.run(body) == ([pointer(1)], [pointer(2)])


def test_a_message_that_is_no_pointer_is_dropped_not_handed_out(space):
    async def body(js):
        bus = await space.bus(ack_wait=0.3)
        try:
            await js.publish(f"{space.root}.default", b"not a pointer")
            await bus.publish([pointer(1)])
            first = await drain(bus)
            await asyncio.sleep(0.5)  # past the lease: a dropped message must not come back
            return first, await drain(bus)
        finally:
            await bus.close()

    assert space.run(body) == ([pointer(1)], [])


# -- existing objects that contradict what NoETL needs --------------------------------------------


@pytest.mark.parametrize(
    ("setting", "config", "found", "needed"),
    [
        ("retention", {"retention": RetentionPolicy.LIMITS}, "limits", "workqueue"),
        ("storage", {"storage": StorageType.MEMORY}, "memory", "file"),
        ("subjects", {"subjects": ["only.this"]}, "only.this", ">"),
    ],
)
def test_a_stream_with_other_settings_is_refused_naming_the_setting(
    space, setting, config, found, needed
):
    async def body(js):
        settings = {
            "subjects": [f"{space.root}.>"],
            "retention": RetentionPolicy.WORK_QUEUE,
            "storage": StorageType.FILE,
        }
        await js.add_stream(name=space.stream, **{**settings, **config})
        with pytest.raises(BusError) as caught:
            await space.bus()
        return str(caught.value)

    message = space.run(body)
    assert f"JetStream stream {space.stream}" in message
    assert f"{setting}=" in message
    assert found in message
    assert needed in message


def test_a_consumer_with_another_filter_is_refused_naming_it(space):
    async def body(js):
        bus = await space.bus()
        try:
            await js.add_consumer(
                space.stream,
                ConsumerConfig(
                    durable_name="noetl-worker-default",
                    filter_subject=f"{space.root}.elsewhere",
                    ack_policy=AckPolicy.EXPLICIT,
                ),
            )
            with pytest.raises(BusError) as caught:
                await bus.fetch("default", timeout=BRIEF)
            return str(caught.value)
        finally:
            await bus.close()

    message = space.run(body)
    assert "consumer noetl-worker-default" in message
    assert f"filter_subject='{space.root}.elsewhere'" in message
    assert f"filter_subject='{space.root}.default'" in message


# -- several buses on one stream ------------------------------------------------------------------


def test_two_workers_on_one_pool_share_the_pointers(space):
    async def body(js):
        server = await space.bus()
        workers = [await space.bus() for _ in range(2)]
        try:
            await server.publish([pointer(n) for n in range(30)])
            taken = await asyncio.gather(*(drain(w) for w in workers))
        finally:
            for bus in (server, *workers):
                await bus.close()
        return taken

    first, second = space.run(body)
    assert sorted(first + second, key=lambda p: p.step) == sorted(
        (pointer(n) for n in range(30)), key=lambda p: p.step
    )
    assert not set(first) & set(second)


def test_two_replicas_listening_for_dead_letters_bury_each_once(space):
    dead: list[tuple[str, Pointer]] = []

    def listener(name: str) -> Callable[[Pointer], Awaitable[None]]:
        async def on_dead(p: Pointer) -> None:
            dead.append((name, p))

        return on_dead

    async def body(js):
        replicas = [
            await space.bus(max_deliver=2, ack_wait=0.3, on_dead=listener(name))
            for name in ("r1", "r2")
        ]
        worker = await space.bus(max_deliver=2, ack_wait=0.3)
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
            info = await js.stream_info(space.stream)
        finally:
            for bus in (*replicas, worker):
                await bus.close()
        return left, info.state.messages

    left, stored = space.run(body)
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


def test_cancel_notices_reach_other_processes_buses_and_survive_a_restart(own_nats):
    """A listener's subscription is sent again when its client reconnects (nats-py does it)."""

    async def main() -> tuple[list[list[str]], list[list[str]]]:
        listening, announcing = (
            await NatsBus.connect(own_nats.url),
            await NatsBus.connect(own_nats.url),
        )
        heard: list[list[str]] = []
        await listening.on_cancel(lambda ids: heard.append(list(ids)))
        try:
            # Announced until heard: on a loaded machine one notice may take long (CI once
            # missed a single one within 5 s); what matters is that notices cross at all.
            for _ in range(int(LONG * 3 / BRIEF)):
                await announcing.announce_cancel(["before"])
                await asyncio.sleep(BRIEF)
                if heard:
                    break
            before = list(heard)
            own_nats.stop()
            await announcing.announce_cancel(["while away"])  # buffered or dropped: no error
            own_nats.restart()
            # Either client may reconnect first: announce until the listener hears one.
            for _ in range(int(LONG * 3 / BRIEF)):
                await announcing.announce_cancel(["after"])
                await asyncio.sleep(BRIEF)
                if ["after"] in heard:
                    break
            return before, heard
        finally:
            await announcing.close()
            await listening.close()

    before, heard = asyncio.run(main())
    assert before and all(ids == ["before"] for ids in before)
    assert ["after"] in heard
