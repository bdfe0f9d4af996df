"""`etagram` command line: parses arguments, loads the config, hands over to the assembly."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import logging
import os
import re
import signal
import socket
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bot import __version__
from bot.adapters.store import StoreError
from bot.config import Config, ConfigError, load_config
from bot.core.naming import name_of_command, name_of_path, unique
from bot.parts import RunSpec

log = logging.getLogger("etagram")
REDIS_URL_ENV = "ETAGRAM_REDIS_URL"


class Refused(Exception):
    """What the user gave cannot be used: `etagram: MESSAGE` on stderr, exit status 2."""


@contextlib.contextmanager
def _refusing(prefix: str) -> Iterator[None]:
    """A ValueError in the block is the user's mistake, said as `PREFIX: why`."""
    try:
        yield
    except ValueError as exc:
        raise Refused(f"{prefix}: {exc}") from None


def _positive(kind: Callable[[str], float], expected: str) -> Callable[[str], Any]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}")
        return value

    return parse


_positive_int = _positive(int, "a positive whole number")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etagram",
        description="Watch an ML training run from the outside; ETA, alerts and Telegram.",
    )
    parser.add_argument("--version", action="version", version=f"etagram {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str, *, config: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        if config:
            p.add_argument("--config", metavar="FILE", help="TOML configuration file")
        return p

    watch = command("watch", "follow a training log (it may not exist yet) and notify")
    watch.add_argument(
        "logs",
        nargs="*",
        metavar="LOG",
        help="log file(s) to follow, each as PATH or NAME=PATH; a quoted glob such as "
        "'runs/*/train.log' follows every match (default: [run] logs in the config)",
    )
    _log_options(watch, named=True)
    _metrics_options(watch)

    run = command("run", "start a training command, tee its output to a log, and monitor it")
    run.add_argument(
        "--log",
        metavar="FILE",
        help="where to write the output (default: NAME-YYYYMMDD-HHMMSS.log in [run] run_log_dir, "
        "~/.local/state/etagram/runs)",
    )
    _log_options(run, named=True)
    run.add_argument(
        "argv",
        nargs=argparse.REMAINDER,
        metavar="-- CMD ARGS",
        help="the training command, after --",
    )

    demo = command("demo", "replay a simulated nanoGPT run with simulated GPU telemetry")
    demo.add_argument(
        "--speed",
        type=_positive(float, "a positive number"),
        default=10.0,
        help="how many times faster than real time (default 10)",
    )

    replay = command("replay", "read a finished log at full speed; print JSON lines", config=False)
    replay.add_argument("log", metavar="LOG")
    replay.add_argument(
        "--jsonl",
        action="store_true",
        required=True,
        help="one JSON object per line (the only output format)",
    )
    replay.add_argument("--eval-interval", type=_positive_int, metavar="N")
    _log_options(replay)

    explain = command(
        "explain", "say what etagram reads in a log, and why there is no ETA", config=False
    )
    explain.add_argument("log", metavar="LOG")
    _log_options(explain)
    explain.add_argument("--json", action="store_true", help="one JSON object instead of text")

    command("check", "validate the config, the token, the chats and NVML; print a report")

    agent = command("agent", "on a training node: follow logs, sample GPUs, publish to Redis")
    agent.add_argument(
        "logs", nargs="*", metavar="LOG", help="log file(s) to follow (none: GPUs only)"
    )
    _redis_options(agent, "redis://hub:6379/0")
    agent.add_argument(
        "--run", metavar="NAME", help="the run (default: the log's file or folder name)"
    )
    agent.add_argument("--host", default=socket.gethostname(), help="default: the host name")

    hub = command("hub", "hold the runs' state and the Telegram bot; read what agents publish")
    _redis_options(hub, "redis://127.0.0.1:6379/0")
    _metrics_options(hub)
    return parser


def _log_options(p: argparse.ArgumentParser, *, named: bool = False) -> None:
    """How a log is read; `named`: a followed log, under a run name."""
    if named:
        p.add_argument(
            "--name",
            help="run name shown in messages (default: what the log says, such as its output "
            "folder or wandb run; else the command, or the log's file or folder name)",
        )
    p.add_argument("--format", metavar="NAME", help="log format (default: detect)")
    p.add_argument(
        "--max-iters",
        type=_positive_int,
        metavar="N",
        help="total iterations, when the log does not say",
    )
    p.add_argument(
        "--max-epochs",
        type=_positive_int,
        metavar="N",
        help="total epochs (Lightning's max_epochs), for a log that counts epochs and the "
        "iterations in each; --max-iters wins",
    )
    p.add_argument(
        "--progress-pattern",
        metavar="REGEX",
        help="your own progress line: a regex with named groups, (?P<iter>...) required "
        "(see docs/formats.md)",
    )


def _metrics_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--metrics-port",
        type=_positive_int,
        metavar="PORT",
        help="serve Prometheus metrics on this port (needs the metrics extra)",
    )
    p.add_argument(
        "--metrics-addr",
        metavar="ADDR",
        help="address to serve them on (default: [metrics] addr, 127.0.0.1; 0.0.0.0: every "
        "interface)",
    )


def _redis_options(p: argparse.ArgumentParser, example: str) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--redis",
        metavar="URL",
        help=f"e.g. {example}; a URL with a password is seen by every user of the machine "
        f"(ps): use --redis-file or ${REDIS_URL_ENV} instead",
    )
    where.add_argument(
        "--redis-file",
        metavar="FILE",
        help="a file holding the Redis URL (chmod 600 when it holds a password)",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except Refused as exc:
        print(f"etagram: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _main(args: argparse.Namespace) -> int:
    _check_log_options(args)
    if args.command == "replay":
        return _replay(args)
    if args.command == "explain":
        return _explain(args)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise Refused(f"config error: {exc}") from None
    if getattr(args, "progress_pattern", None):
        config = config.with_changes(run={"progress_pattern": args.progress_pattern})
    _setup_logging(config)
    try:
        return _COMMANDS[args.command](args, config)
    except StoreError as exc:  # e.g. the state path is a directory
        raise Refused(str(exc)) from None


def _check_log_options(args: argparse.Namespace) -> None:
    """Refuse an unknown --format or an unusable --progress-pattern before anything starts."""
    name, pattern = getattr(args, "format", None), getattr(args, "progress_pattern", None)
    if name is not None:
        from bot.core.parsers.registry import FORMATS

        if name not in FORMATS:
            raise Refused(
                f"{args.command}: --format '{name}': unknown log format; expected one of: "
                f"{', '.join(FORMATS)}"
            )
    if pattern:
        from bot.core.parsers.pattern import PatternError, compile_pattern

        try:
            compile_pattern(pattern)
        except PatternError as exc:
            raise Refused(
                f"{args.command}: --progress-pattern '{pattern}': {exc}; expected a regular "
                "expression with a (?P<iter>...) group"
            ) from None


def _setup_logging(config: Config) -> None:
    logging.basicConfig(
        level=config.general.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if config.general.log_level != "DEBUG":
        # Their INFO lines (one per request) drown etagram's own.
        for chatty in ("httpx", "httpcore"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
    if config.telegram.token:
        from bot.adapters.redact import install_token_redaction

        install_token_redaction(config.telegram.token)


def _regular_files(paths: list[Path]) -> None:
    """ValueError (one line) for a log path that exists and is not a regular file."""
    from bot.adapters.tail import not_a_file

    for path in paths:
        if kind := not_a_file(path):
            raise ValueError(f"{path} is {kind}; expected a regular file (a log)")


def _finished_log(args: argparse.Namespace) -> Path:
    """The log replay and explain read: it must be readable now (nothing to wait for)."""
    path = Path(args.log)
    with _refusing(args.command):
        _regular_files([path])
        try:
            path.open("rb").close()
        except FileNotFoundError:
            raise ValueError(f"{path}: no such file") from None
        except OSError as exc:
            raise ValueError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return path


def _replay(args: argparse.Namespace) -> int:
    from bot.replay import replay

    path = _finished_log(args)
    with contextlib.suppress(BrokenPipeError):
        replay(
            path,
            sys.stdout,
            fmt=args.format,
            max_iters=args.max_iters,
            max_epochs=args.max_epochs,
            eval_interval=args.eval_interval,
            progress_pattern=args.progress_pattern,
        )
    return 0


def _explain(args: argparse.Namespace) -> int:
    import json

    from bot.explain import as_json, explain, render

    path = _finished_log(args)
    report = explain(
        path,
        fmt=args.format,
        max_iters=args.max_iters,
        max_epochs=args.max_epochs,
        progress_pattern=args.progress_pattern,
    )
    with contextlib.suppress(BrokenPipeError):
        print(json.dumps(as_json(report)) + "\n" if args.json else render(report), end="")
    return 0


def _watch_specs(args: argparse.Namespace, entries: list[str]) -> list[RunSpec]:
    """Runs to follow from `PATH`, `NAME=PATH` or glob entries; ValueError when one is bad."""
    named: list[tuple[str | None, Path]] = []
    for entry in entries:
        name, _, pattern = entry.rpartition("=") if "=" in entry else ("", "", entry)
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(os.path.expanduser(pattern)))
            if not matches:
                raise ValueError(
                    f"{pattern!r} matches no file yet; name the log itself to wait for it"
                )
            named += [(None, Path(m)) for m in matches]
        else:
            named.append((name or None, Path(pattern).expanduser()))
    if args.name and len(named) == 1:
        named = [(args.name, named[0][1])]
    given = [name for name, _ in named if name]
    if len(set(given)) != len(given):
        raise ValueError("two logs have the same run name; name them with NAME=PATH")
    defaults = iter(_path_names([path for name, path in named if not name], given))
    return [
        RunSpec(
            name or next(defaults),
            path,
            args.format,
            args.max_iters,
            fixed=bool(name),
            max_epochs=args.max_epochs,
        )
        for name, path in named
    ]


def _path_names(paths: list[Path], taken: Sequence[str] = ()) -> list[str]:
    """Each log's name from its path (`runs/gpt2/train.log`: gpt2), unique among them and
    the names `taken` already."""
    names: list[str] = []
    for path in paths:
        names.append(unique(name_of_path(path.absolute()), [*taken, *names]))
    return names


def _serve(service: Any, extra: Coroutine[Any, Any, int] | None = None) -> int:
    """Run the service until a signal (or until `extra` finishes); its exit code."""

    async def main() -> int:
        _stop_on_signals(service)
        serving = asyncio.create_task(service.serve())
        code = 0
        if extra is not None:
            code = await extra
            service.stop()
        await serving
        return code

    return asyncio.run(main())


def _stop_on_signals(service: Any) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, service.stop)


def _nvml() -> Any:
    from bot.adapters.nvml import NvmlSampler

    return NvmlSampler(time.time)


def _terminal(notices: Any = None) -> Any:
    """The console of `watch` and `run`: live lines on a terminal, log records clear of them;
    notifications on `notices` (None: stdout)."""
    from bot.adapters.console import Console

    console = Console.for_terminal(notices)
    console.guard_logging()
    return console


def _metrics(args: argparse.Namespace, config: Config) -> tuple[str, int] | None:
    """Where to serve Prometheus metrics: the flags, else the config; None = off."""
    port = args.metrics_port or config.metrics.port
    return (args.metrics_addr or config.metrics.addr, port) if port else None


def _watch(args: argparse.Namespace, config: Config) -> int:
    from bot.assemble import embedded
    from bot.resources import Probes

    entries = args.logs or list(config.run.logs)
    if not entries:
        raise Refused(
            "watch: no log given; expected: etagram watch LOG… (or [run] logs in the config)"
        )
    with _refusing("watch"):
        specs = _watch_specs(args, entries)
        _regular_files([spec.path for spec in specs])
    console, metrics = _terminal(), _metrics(args, config)
    service = embedded(
        config, specs, gpu=_nvml(), console=console, metrics=metrics, probes=Probes()
    )
    return _serve(service)


def _run(args: argparse.Namespace, config: Config) -> int:
    from bot.adapters.process import run_command
    from bot.assemble import embedded
    from bot.resources import Probes

    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise Refused("run: no command given; expected: etagram run -- CMD ARGS")
    name = args.name or name_of_command(argv)
    log_path = Path(args.log).expanduser() if args.log else _run_log(config, name)
    with _refusing("run"):
        _regular_files([log_path])
    log.info("run %r: its output goes to %s", name, log_path)
    spec = RunSpec(
        name,
        log_path,
        args.format,
        args.max_iters,
        fixed=bool(args.name),
        max_epochs=args.max_epochs,
    )
    # stdout is the training's own output, as it wrote it: etagram says what it has to say
    # on stderr.
    console = _terminal(sys.stderr)
    probes = Probes(argv={spec.name: argv})
    service = embedded(config, [spec], gpu=_nvml(), console=console, probes=probes)

    async def child() -> int:
        echo = console.tee(sys.stdout.buffer)
        code = await run_command(
            argv, log_path, on_start=lambda pid: service.started(spec.name, pid), echo=echo
        )
        _stop_on_signals(service)  # run_command removed its own handlers, not ours
        await service.end_run(spec.name, code)
        return code

    return _serve(service, child())


def _run_log(config: Config, name: str) -> Path:
    """A new file in the runs' folder, named after the run and the time it starts."""
    safe = re.sub(r"[^\w.-]+", "_", name).strip("._") or "run"
    return config.resolved_run_log_dir() / f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}.log"


def _demo(args: argparse.Namespace, config: Config) -> int:
    from bot.assemble import embedded
    from bot.demo import demo_clock, demo_config, demo_gpu, intro, tour

    workdir = Path(tempfile.mkdtemp(prefix="etagram-demo-"))
    chosen = args.config or os.environ.get("ETAGRAM_LANGUAGE")  # else the locale's language
    config = demo_config(config, args.speed, workdir, None if chosen else os.environ)
    log_path = workdir / "train.log"
    spec = RunSpec(f"demo-{time.strftime('%H%M%S')}", log_path, "nanogpt", fixed=True)
    clock = demo_clock(args.speed)  # on which the times the run announces come true
    gpu = demo_gpu(clock)
    service = embedded(config, [spec], gpu=gpu, now=clock, proc_root=None, demo=True)  # no /proc
    print(intro(config, args.speed, log_path), flush=True)

    async def child() -> int:
        with log_path.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.demo", "--speed", str(args.speed), stdout=out
            )
            code = await proc.wait()
        await service.end_run(spec.name, code)
        assert service.fold is not None  # an embedded service folds
        print(await tour(service.fold, spec.name, workdir / "chart.png"), flush=True)
        return 0

    return _serve(service, child())


def _check(args: argparse.Namespace, config: Config) -> int:
    from bot.check import run_check

    return asyncio.run(run_check(config, sys.stdout))


def _redis_url(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    """The Redis URL from --redis, --redis-file or $ETAGRAM_REDIS_URL; ValueError (one line)
    when none is given, or when the file is unreadable or readable by others with a
    password in it."""
    if args.redis:
        return str(args.redis)
    if args.redis_file:
        path = Path(args.redis_file).expanduser()
        try:
            mode, url = path.stat().st_mode, path.read_text().strip()
        except OSError as exc:
            raise ValueError(f"--redis-file {path}: cannot be read ({exc.strerror})") from None
        if mode & 0o077 and urllib.parse.urlsplit(url).password:
            raise ValueError(
                f"--redis-file {path}: holds a password and is readable by others (mode "
                f"{mode & 0o777:o}); expected chmod 600"
            )
        return url
    if env.get(REDIS_URL_ENV):
        return env[REDIS_URL_ENV]
    raise ValueError(f"no Redis URL; expected --redis URL, --redis-file FILE or ${REDIS_URL_ENV}")


def _redis_bus(args: argparse.Namespace) -> Any:
    """The Redis bus; Refused when there is no URL, no `redis` package or a bad URL."""
    with _refusing(args.command):
        url = _redis_url(args, os.environ)
    try:
        from bot.adapters.redis_bus import RedisBus
    except ImportError:
        raise Refused("the Redis bus needs: pip install 'etagram[redis]'") from None
    with _refusing("--redis"):  # not the URL itself: it may hold a password
        bus = RedisBus(url)
    return bus


def _agent(args: argparse.Namespace, config: Config) -> int:
    from bot.assemble import agent

    paths = [Path(p) for p in args.logs]
    with _refusing("agent"):
        _regular_files(paths)
    bus = _redis_bus(args)
    names = [args.run] if args.run and len(paths) == 1 else _path_names(paths)
    specs = [RunSpec(n, p) for n, p in zip(names, paths, strict=True)]
    gpu_run = args.run or (names[0] if len(names) == 1 else "")
    return _serve(agent(config, specs, bus, host=args.host, gpu_run=gpu_run, gpu=_nvml()))


def _hub(args: argparse.Namespace, config: Config) -> int:
    from bot.assemble import hub

    return _serve(hub(config, _redis_bus(args), metrics=_metrics(args, config)))


_COMMANDS: dict[str, Callable[[argparse.Namespace, Config], int]] = {
    "watch": _watch,
    "run": _run,
    "demo": _demo,
    "check": _check,
    "agent": _agent,
    "hub": _hub,
}
