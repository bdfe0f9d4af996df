"""`etagram demo` as a new user runs it: the simulated run's messages, then the tour (what
/eta, /status and /plot would answer, and what next)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from PIL import Image

from bot.adapters.plot import HEIGHT_PX, WIDTH_PX
from bot.adapters.store import Store
from bot.config import Config, General, Gpu
from bot.demo import demo_clock, demo_config, locale_language
from bot.messages import Ctx, to_plain
from bot.messages.bot_ui import demo_intro_text
from bot.messages.lang import Tr
from tests.telegram_stub import BotApiStub
from tests.test_cli import etagram

OWNER = 4242


def test_the_demo_ends_with_a_tour(tmp_path: Path) -> None:
    env = {"LD_LIBRARY_PATH": str(tmp_path), "ETAGRAM_LANGUAGE": "fr", "TMPDIR": str(tmp_path)}
    result = etagram("demo", "--speed", "100", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(
        "Démo d'etagram\u202f: un entraînement nanoGPT simulé, 100 fois plus vite"
    )
    run = out.index("Mémoire GPU épuisée (OOM)")  # the run, in the user's language
    tour = out.index("Fin de la démo")
    assert run < tour < out.index("/eta répondrait") < out.index("/status répondrait")
    eta = out[out.index("/eta répondrait") : out.index("/status répondrait")]
    # The simulated run ends on its OOM: the French answer, then the English one (`both`).
    assert "Entraînement arrêté sur une erreur à l'itération 1\u202f820" in eta
    assert "Training crashed at iteration 1,820" in eta
    assert "ETAGRAM_LANGUAGE=both" in eta
    chart = re.search(r"/plot enverrait cette image\u202f: (\S+\.png)", out)
    assert chart is not None
    with Image.open(chart.group(1)) as image:
        assert image.format == "PNG" and image.size == (WIDTH_PX, HEIGHT_PX)
    assert Path(chart.group(1)).parent.parent == tmp_path  # in the demo's own folder
    assert "suivre son log\u202f: etagram watch path/to/train.log" in out
    assert "@BotFather" in out and "ETAGRAM_TELEGRAM_ALLOWED_CHAT_IDS" in out
    assert out.index("Entraînement démarré") < out.index("Évaluation à l'itération 0")
    assert "L'heure entre crochets est celle de l'horloge de la démo" in out


def test_the_demo_tells_its_times_on_its_own_clock(tmp_path: Path) -> None:
    """The clock in brackets runs as fast as the run: the finish announced at the first eval
    (5 min ahead) has come on it when the run stops (the OOM, at 91 %). On the wall clock, the
    demo would stop seconds after announcing it. (A loaded machine slows the simulated run,
    not the demo's clock: the finish can only look earlier.)"""
    env = {"LD_LIBRARY_PATH": str(tmp_path), "ETAGRAM_LANGUAGE": "fr", "TMPDIR": str(tmp_path)}
    out = etagram("demo", "--speed", "100", env=env, timeout=120).stdout
    run = out[: out.index("Fin de la démo")]
    stamps = [clock_s(h, m, s) for h, m, s in re.findall(r"^\[(\d\d):(\d\d):(\d\d)\]", run, re.M)]
    assert (stamps[-1] - stamps[0]) % DAY_S > 5 * 60  # a 6-minute run, seen in 4 seconds
    finishes = re.findall(r"vers\s(\d+)\W+h\W*(\d\d)? à l'horloge de la démo", run)
    assert len(finishes) >= 5  # every eval's and milestone's finish says whose clock it is
    first_finish = clock_s(finishes[0][0], finishes[0][1] or "0", "0")
    assert (first_finish - stamps[-1] + DAY_S / 2) % DAY_S - DAY_S / 2 < 2 * 60


DAY_S = 24 * 3600


def clock_s(h: str, m: str, s: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s)


def test_times_say_they_are_the_demo_clock_in_both_languages() -> None:
    def finish(lang: str, demo: bool) -> str:
        return to_plain(Tr(lang, Ctx(lang=lang, now_s=0.0, demo=demo)).finish(300.0))

    assert finish("en", True) == "Done in 5\xa0min, around\xa012:05\xa0AM by the demo's clock"
    assert finish("fr", True) == "Fin dans 5\xa0min, vers\xa00\xa0h\xa005 à l'horloge de la démo"
    assert "clock" not in finish("en", False) and "horloge" not in finish("fr", False)


def test_the_demo_clock_runs_as_fast_as_the_demo() -> None:
    wall = iter([1000.0, 1002.5])
    assert demo_clock(40, lambda: next(wall))() == 1000.0 + 2.5 * 40


def test_the_demo_speaks_the_locale_language_unless_one_is_chosen(tmp_path: Path) -> None:
    french = {"LANG": "fr_FR.UTF-8"}
    assert locale_language(french) == "fr"
    assert locale_language({"LC_ALL": "C.UTF-8", **french}) == "en"  # LC_ALL comes first
    assert locale_language({}) == "en"
    config = demo_config(Config(gpu=Gpu(interval_s=5.0)), 10, tmp_path, french)
    assert (config.general.language, config.gpu.interval_s) == ("fr", 0.5)
    assert config.general.state_path == str(tmp_path / "state.sqlite3")
    assert (
        demo_config(Config(general=General(language="en")), 10, tmp_path, None).general.language
        == "en"
    )


def test_the_demo_says_its_times_are_a_real_runs() -> None:
    intro = to_plain(demo_intro_text(10, "/tmp/d/train.log", Ctx(lang="en", now_s=0)))
    assert "10 times faster than real" in intro and "/tmp/d/train.log" in intro
    assert "The time in brackets is the demo's clock" in intro


async def test_the_demo_keeps_its_clock_out_of_the_users_state(tmp_path: Path) -> None:
    """The demo's clock runs 100 times faster: written into the user's state database, its
    times would be hours ahead (a `/mute 1h` during the demo muting the real bot for half a
    day, outbox rows from the future). The demo keeps a throw-away database of its own,
    beside its log; and so it also runs while the user's etagram holds theirs."""
    user_db = tmp_path / "user.sqlite3"
    users = await Store.open(user_db)  # the user's etagram, running: it holds its database
    await users.save_prefs(OWNER, {"lang": "en"})
    async with BotApiStub() as stub:
        env = {
            "LD_LIBRARY_PATH": str(tmp_path),
            "TMPDIR": str(tmp_path),
            "ETAGRAM_LANGUAGE": "en",
            "ETAGRAM_STATE_PATH": str(user_db),
            "ETAGRAM_TELEGRAM_TOKEN": stub.token,
            "ETAGRAM_TELEGRAM_API_BASE_URL": stub.base_url,
            "ETAGRAM_TELEGRAM_ALLOWED_CHAT_IDS": str(OWNER),
        }
        result = await asyncio.to_thread(etagram, "demo", "--speed", "100", env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        assert any("Training started" in (c.text or "") for c in stub.sent)
    assert await users.outcomes() == {}  # nothing queued in the user's database
    assert await users.load_prefs(OWNER) == {"lang": "en"}
    await users.close()
    (own,) = tmp_path.glob("etagram-demo-*/state.sqlite3")
    demo = await Store.open(own)
    try:
        assert await demo.outcomes()  # the demo's messages went through its own outbox
    finally:
        await demo.close()
