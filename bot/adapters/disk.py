"""The disk a run writes to: `shutil.disk_usage` of the nearest folder that exists (a run's
output folder may not be made yet), and the mount point that holds it.

The reading function is injectable (tests pass their own; no root is needed to fake a full
disk)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

from bot.core.resources import DiskUsage

UsageOf = Callable[[str], Any]  # shutil.disk_usage's shape: .total, .used, .free


def read_usage(path: str, usage_of: UsageOf = shutil.disk_usage) -> DiskUsage | None:
    """The file system holding `path` (or its nearest existing parent); None when unreadable.
    Blocks (a network file system may take a while): call it off the event loop."""
    where = existing(path)
    try:
        du = usage_of(where)
    except OSError:
        return None
    return DiskUsage(path, mount_point(where), int(du.total), int(du.used), int(du.free))


def existing(path: str) -> str:
    """`path`, or its nearest parent that exists."""
    here = os.path.abspath(path)
    while not os.path.exists(here) and os.path.dirname(here) != here:
        here = os.path.dirname(here)
    return here


def mount_point(path: str) -> str:
    """The mount point of the file system holding `path` (an existing path)."""
    here = os.path.realpath(path)
    while not os.path.ismount(here):
        here = os.path.dirname(here)
    return here
