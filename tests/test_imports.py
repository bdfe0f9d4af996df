"""The import graph of `bot`: no cycle (each module can be read, and changed, after the ones it
imports), and the core imports nothing but itself and the standard library."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bot"
SIDE_EFFECTS = {"asyncio", "aiosqlite", "telegram", "httpx", "redis", "socket", "sqlite3"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """The modules `name` imports, TYPE_CHECKING blocks and function bodies included."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from package import module` needs the module; the package's own code only
            # when a name comes from it.
            named = {f"{base}.{alias.name}" for alias in node.names}
            found |= named
            if not named <= MODULES.keys():
                found.add(base)
    return found


def graph() -> dict[str, set[str]]:
    return {name: {m for m in imports(name) if m in MODULES and m != name} for name in MODULES}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it; None when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_of_bot_takes_part_in_an_import_cycle() -> None:
    assert cycle(graph()) is None


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("bot.core")))
def test_each_core_module_imports_alone_and_only_the_core(name: str) -> None:
    outside = {
        m
        for m in imports(name)
        if m.split(".")[0] == "bot"
        and not m.startswith("bot.core")
        or m.split(".")[0] in SIDE_EFFECTS
    }
    assert not outside, f"{name} imports {sorted(outside)}"
    # In a fresh interpreter: importing it alone works whatever was imported before.
    code = f"import importlib; importlib.import_module({name!r})"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_the_package_imports() -> None:
    assert importlib.import_module("bot.assemble")
