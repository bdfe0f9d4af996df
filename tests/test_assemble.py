"""Each role is built from its parts, in the order they start (they stop in reverse)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

from bot import assemble
from bot.adapters.console import Console
from bot.bus import Message
from bot.config import Config, General, Telegram
from bot.fold import Consumer, Fold
from bot.front import Delivery, TelegramFront
from bot.intake import GpuIntake, LogIntake
from bot.parts import RunSpec, Storage
from bot.service import Service


class Bus:
    def __init__(self) -> None:
        self.published: list[Message] = []
        self.closed = False

    async def publish(self, msg: Message) -> None:
        self.published.append(msg)

    async def messages(self) -> AsyncIterator[Message]:
        for msg in self.published:
            yield msg

    def idle(self) -> bool:
        return True

    async def aclose(self) -> None:
        self.closed = True


class Gpu:
    def sample(self) -> object:
        raise AssertionError("not sampled in these tests")

    def shutdown(self) -> None: ...


def kinds(service: Service) -> list[str]:
    return [type(part).__name__ for part in service.parts]


def config(tmp_path: Path, token: str = "") -> Config:
    return Config(
        general=General(timezone="UTC", state_path=str(tmp_path / "s.sqlite3")),
        telegram=Telegram(token=token),
    )


def test_embedded_without_a_token_is_the_console_only(tmp_path: Path) -> None:
    runs = [RunSpec("r", tmp_path / "train.log")]
    service = assemble.embedded(config(tmp_path), runs, gpu=Gpu(), console=Console(io.StringIO()))
    assert kinds(service) == [Storage.__name__, Fold.__name__, LogIntake.__name__, "GpuIntake"]
    assert service.front is None and isinstance(service.fold, Fold)


def test_embedded_with_a_token_has_the_front_end_and_delivery_first(tmp_path: Path) -> None:
    service = assemble.embedded(config(tmp_path, "1:x"), [], console=Console(io.StringIO()))
    assert kinds(service) == [
        Storage.__name__,
        TelegramFront.__name__,
        Delivery.__name__,
        Fold.__name__,
        LogIntake.__name__,
    ]


def test_an_agent_folds_nothing_and_closes_its_bus_after_its_producers(tmp_path: Path) -> None:
    runs = [RunSpec("r", tmp_path / "train.log")]
    service = assemble.agent(config(tmp_path, "1:x"), runs, Bus(), host="n1", gpu=Gpu())
    assert kinds(service) == [Storage.__name__, "_BusClosing", LogIntake.__name__, "GpuIntake"]
    assert service.fold is None and service.front is None
    assert service.storage.path.name == "s.sqlite3"
    logs = service.logs
    assert logs is not None and logs.host == "n1" and logs.state_elsewhere
    assert isinstance(service.parts[-1], GpuIntake) and service.parts[-1].host == "n1"


def test_a_hub_consumes_its_bus_and_caps_its_runs(tmp_path: Path) -> None:
    service = assemble.hub(config(tmp_path), Bus(), console=Console(io.StringIO()))
    assert kinds(service) == [Storage.__name__, Fold.__name__, Consumer.__name__]
    assert service.fold is not None and service.fold.max_runs == assemble.MAX_HUB_RUNS


async def test_parts_stop_in_reverse_and_the_bus_closes(tmp_path: Path) -> None:
    bus = Bus()
    service = assemble.agent(config(tmp_path), [], bus, host="n1")
    service.stop()  # before it runs: it starts every part, then stops them at once
    await service.serve()
    assert bus.closed and service.store is not None
