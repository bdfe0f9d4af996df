import os
import tomllib
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, keys, load_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"


def test_example_documents_every_key_and_loads() -> None:
    table = tomllib.loads(EXAMPLE.read_text())
    for section, name, env in keys():
        assert name in table.get(section, {}), f"{section}.{name} missing from the example"
        assert env in EXAMPLE.read_text(), f"{env} not documented"
    assert load_config(EXAMPLE, env={}) == Config()


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[general]\nlanguage = "fr"\ntimezone = "Europe/Paris"\n')
    env = {
        "ETAGRAM_LANGUAGE": "both",
        "ETAGRAM_TELEGRAM_ALLOWED_CHAT_IDS": "12, -100200",
        "ETAGRAM_TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot",
        "ETAGRAM_GPU_INTERVAL_S": "2",
        "ETAGRAM_LOG_LEVEL": "debug",
        "ETAGRAM_STATE_PATH": str(tmp_path / "s.db"),
    }
    cfg = load_config(path, env=env)
    assert cfg.general.language == "both" and cfg.general.timezone == "Europe/Paris"
    assert cfg.telegram.allowed_chat_ids == (12, -100200)
    assert cfg.telegram.api_base_url == "http://127.0.0.1:8081/bot"
    assert cfg.gpu.interval_s == 2.0 and cfg.general.log_level == "DEBUG"
    assert cfg.resolved_state_path() == tmp_path / "s.db"


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ('[general]\nlanguge = "fr"\n', {}, "general.languge: unknown key"),
        ("[generl]\n", {}, "[generl]: unknown section"),
        ("[general\n", {}, "not valid TOML"),
        ('[general]\nlanguage = "de"\n', {}, "general.language = 'de': expected fr, en or both"),
        ("", {"ETAGRAM_TIMEZONE": "Mars/Olympus"}, "ETAGRAM_TIMEZONE = 'Mars/Olympus'"),
        ("", {"ETAGRAM_GPU_INTERVAL_S": "-1"}, "expected a positive number of seconds"),
        ("", {"ETAGRAM_TELEGRAM_ALLOWED_CHAT_IDS": "me"}, "expected comma-separated integer"),
        ("", {"ETAGRAM_TELEGRAM_API_BASE_URL": "ftp://x"}, "expected an http(s) URL"),
        (
            "[run]\nprogress_pattern = 'step (\\d+)'\n",
            {},
            "run.progress_pattern = 'step (\\\\d+)': no (?P<iter>...) group for the iteration; "
            "expected a regular expression",
        ),
        ("", {"ETAGRAM_PROGRESS_PATTERN": "step (?P<iter>"}, "not a regular expression"),
        (
            "",
            {"ETAGRAM_MILESTONES_PCT": "50, 120"},
            "ETAGRAM_MILESTONES_PCT = '50, 120': expected a list of percentages between 0 and 100",
        ),
        ("[notify]\ncritical_alerts = ['OOM!']\n", {}, "notify.critical_alerts = ['OOM!']"),
        ("[metrics]\nport = 70000\n", {}, "metrics.port = 70000: expected a TCP port number"),
        ('general = "fr"\n', {}, "general: expected a [general] table"),
        ("[gpu]\ninterval_s = 'often'\n", {}, "gpu.interval_s = 'often': expected a positive"),
    ],
)
def test_bad_values_name_the_key(
    tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    message = str(info.value)
    assert expected in message and "\n" not in message


def test_token_file_must_be_private(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("123:abc\n")
    os.chmod(token_file, 0o644)
    env = {"ETAGRAM_TELEGRAM_TOKEN_FILE": str(token_file)}
    with pytest.raises(ConfigError, match="chmod 600"):
        load_config(None, env=env)
    os.chmod(token_file, 0o600)
    assert load_config(None, env=env).telegram.token == "123:abc"


def test_progress_pattern_loads(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[run]\nprogress_pattern = 'it (?P<iter>\\d+)/(?P<total>\\d+)'\n")
    assert load_config(path, env={}).run.progress_pattern == r"it (?P<iter>\d+)/(?P<total>\d+)"


def test_a_config_file_with_the_token_inline_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[telegram]\ntoken = "123:abcdefghij"\n')
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="holds telegram.token and is readable by others") as info:
        load_config(path, env={})
    assert "abcdefghij" not in str(info.value)
    os.chmod(path, 0o600)
    assert load_config(path, env={}).telegram.token == "123:abcdefghij"
    path.write_text('[general]\nlanguage = "fr"\n')  # no token in it: any mode will do
    os.chmod(path, 0o644)
    assert load_config(path, env={}).general.language == "fr"
