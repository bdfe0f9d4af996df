"""The disk a run writes to: the reading function injected (a full disk needs no root)."""

from __future__ import annotations

import os
import shutil
from collections import namedtuple
from pathlib import Path

from bot.adapters.disk import existing, mount_point, read_usage

Usage = namedtuple("Usage", "total used free")


def test_reads_the_nearest_existing_folder(tmp_path: Path) -> None:
    asked: list[str] = []

    def full(path: str) -> Usage:
        asked.append(path)
        return Usage(100, 96, 4)

    target = tmp_path / "out" / "not-made-yet"
    usage = read_usage(str(target), full)
    assert asked == [str(tmp_path)]
    assert usage is not None and usage.path == str(target) and usage.used_pct == 96.0
    assert usage.mount == mount_point(str(tmp_path))


def test_the_real_reader_agrees_with_shutil(tmp_path: Path) -> None:
    usage = read_usage(str(tmp_path))
    assert usage is not None and usage.total_bytes == shutil.disk_usage(tmp_path).total


def test_unreadable_is_none(tmp_path: Path) -> None:
    def refuses(path: str) -> Usage:
        raise PermissionError(13, "Permission denied", path)

    assert read_usage(str(tmp_path), refuses) is None


def test_mount_point_and_existing(tmp_path: Path) -> None:
    assert mount_point("/") == "/"
    assert os.path.ismount(mount_point(str(tmp_path)))
    assert str(tmp_path).startswith(mount_point(str(tmp_path)))
    assert existing(str(tmp_path / "a" / "b")) == str(tmp_path)
