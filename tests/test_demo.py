"""`etagram demo` as a new user runs it: the simulated run's messages, then the tour (what
/eta, /status and /plot would answer, and what next)."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from bot.adapters.plot import HEIGHT_PX, WIDTH_PX
from bot.config import Config, General, Gpu
from bot.demo import demo_config, locale_language
from bot.messages import Ctx, to_plain
from bot.messages.bot_ui import demo_intro_text
from tests.test_cli import etagram


def test_the_demo_ends_with_a_tour(tmp_path: Path) -> None:
    env = {"LD_LIBRARY_PATH": str(tmp_path), "ETAGRAM_LANGUAGE": "fr", "TMPDIR": str(tmp_path)}
    result = etagram("demo", "--speed", "100", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Démo d'etagram\u202f: un entraînement nanoGPT simulé, 100 fois plus vite")
    run = out.index("Mémoire GPU épuisée (OOM)")  # the run, in the user's language
    tour = out.index("Fin de la démo")
    assert run < tour < out.index("/eta répondrait") < out.index("/status répondrait")
    eta = out[out.index("/eta répondrait") : out.index("/status répondrait")]
    assert "Entraînement terminé à l'itération 1\u202f820" in eta  # the French answer
    assert "Training ended at iteration 1,820" in eta  # and the English one: `both`
    assert "ETAGRAM_LANGUAGE=both" in eta
    chart = re.search(r"/plot enverrait cette image\u202f: (\S+\.png)", out)
    assert chart is not None
    with Image.open(chart.group(1)) as image:
        assert image.format == "PNG" and image.size == (WIDTH_PX, HEIGHT_PX)
    assert Path(chart.group(1)).parent.parent == tmp_path  # in the demo's own folder
    assert "suivre son log\u202f: etagram watch path/to/train.log" in out
    assert "@BotFather" in out and "ETAGRAM_TELEGRAM_ALLOWED_CHAT_IDS" in out


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
