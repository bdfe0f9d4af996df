"""`etagram demo` as a new user runs it: the simulated run's messages, then the tour (what
/eta, /status and /plot would answer, and what next)."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from bot.adapters.plot import HEIGHT_PX, WIDTH_PX
from tests.test_cli import etagram


def test_the_demo_ends_with_a_tour(tmp_path: Path) -> None:
    env = {"LD_LIBRARY_PATH": str(tmp_path), "ETAGRAM_LANGUAGE": "fr", "TMPDIR": str(tmp_path)}
    result = etagram("demo", "--speed", "100", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
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
