"""The rooms of the code and the direction of their dependencies (README, "Layout").

Every import is read from the source, those inside functions and under TYPE_CHECKING too (a
lazy or a type-only import still couples two rooms), and so is every string that names one of
our modules (what `importlib.import_module` or a patch target would reach). The test fails
naming the module, the line and the rule an import breaks.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("firmware_bridge", "sim", "controller")

# Which rooms each room may import (its own room always). Lower rooms never import higher ones.
ALLOWED: dict[str, set[str]] = {
    "firmware_bridge": set(),
    "sim": {"firmware_bridge"},
    "controller.planning": {"firmware_bridge"},
    "controller.analysis": {"firmware_bridge", "controller.planning"},
    "controller.core": {"firmware_bridge", "controller.planning", "controller.analysis"},
    "controller.simulated": {"firmware_bridge", "sim", "controller.planning",
                             "controller.analysis", "controller.core"},
    "controller.surfaces.mqtt": {"firmware_bridge", "controller.planning", "controller.analysis",
                                 "controller.core"},
    "controller.surfaces.panel": {"firmware_bridge", "controller.planning",
                                  "controller.analysis", "controller.core",
                                  "controller.surfaces.mqtt"},
    "controller.surfaces.cli": {"firmware_bridge", "sim", "controller.planning",
                                "controller.analysis", "controller.core", "controller.simulated",
                                "controller.surfaces.mqtt", "controller.surfaces.panel"},
}
MAX_LINES = 400


def room_of(module: str) -> str | None:
    """The longest room name the module lives in (`controller.surfaces.cli.run` -> cli)."""
    best = None
    for room in ALLOWED:
        if (module == room or module.startswith(room + ".")) and (
                best is None or len(room) > len(best)):
            best = room
    return best


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of our own packages, resolving relative imports."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from controller.core import session` imports controller.core.session
            found += [(node.lineno, f"{target}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and is_module(
                node.value):
            found.append((node.lineno, node.value))
    return [(line, m) for line, m in found if m.split(".")[0] in PACKAGES]


def is_module(name: str) -> bool:
    """A dotted name of one of our modules or packages (a logger's name is not, unless it is;
    a bare "sim" is a URL scheme far more often than a package)."""
    parts = name.split(".")
    if len(parts) < 2 or parts[0] not in PACKAGES or not all(p.isidentifier() for p in parts):
        return False
    path = ROOT.joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def crossings() -> list[str]:
    wrong = []
    for path in sources():
        name = module_name(path)
        own = room_of(name)
        for line, target in imports_of(path):
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            theirs = room_of(target) or room_of(target.rpartition(".")[0])
            if own is None or theirs is None:  # controller/ or controller/surfaces/ themselves
                if target.split(".")[0] != name.split(".")[0] or own != theirs:
                    wrong.append(f"{where}: the packages above the rooms import nothing and "
                                 "are imported by no one")
                continue
            if theirs == own:
                continue
            if theirs not in ALLOWED[own]:
                wrong.append(f"{where}: {own} may import only "
                             f"{', '.join(sorted(ALLOWED[own])) or 'itself'}")
    return wrong


def test_no_import_crosses_a_boundary_the_wrong_way() -> None:
    wrong = crossings()
    assert not wrong, "imports against the layout:\n" + "\n".join(wrong)


def test_only_the_surfaces_use_a_surface_framework() -> None:
    """click, aiohttp and aiomqtt are how people and programs reach us: below the surfaces the
    code neither parses a command line nor serves a page, so it runs the same under any."""
    frameworks = {"click", "aiohttp", "aiomqtt"}
    wrong = []
    for path in sources():
        if (room_of(module_name(path)) or "").startswith("controller.surfaces"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            wrong += [f"{path.relative_to(ROOT)}:{node.lineno} imports {n}" for n in names
                      if n.split(".")[0] in frameworks]
    assert not wrong, "\n".join(wrong)


def test_the_entry_points_start_in_the_right_rooms() -> None:
    """The command line is the CLI room's; the simulators the bridge finds are `sim`'s."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert {room_of(t.partition(":")[0]) for t in project["scripts"].values()} == {
        "controller.surfaces.cli"}
    simulators = project["entry-points"]["halfstep.simulators"]
    assert set(simulators) == {"sim", "ble", "vitruvian"}
    assert {room_of(t.partition(":")[0]) for t in simulators.values()} == {"sim"}


def test_the_readme_shows_these_rules() -> None:
    """The README's table of who may import whom is the rule this test enforces."""
    text = (ROOT / "README.md").read_text()
    shown = {}
    for line in text.split("Who may import whom", 1)[1].split("```")[1].strip().splitlines():
        room, _, targets = line.partition("->")
        name = room.strip()
        full = name if name in ("sim", "firmware_bridge") else "controller." + name.replace(
            "/", ".")
        shown[full] = set() if "nothing" in targets else {
            t if t in ("sim", "firmware_bridge") else "controller." + t.replace("/", ".")
            for t in (x.strip() for x in targets.split(","))}
    assert shown == ALLOWED


def test_every_module_lives_in_a_room() -> None:
    homeless = [module_name(p) for p in sources()
                if room_of(module_name(p)) is None
                and module_name(p) not in ("controller", "controller.surfaces")]
    assert not homeless, f"modules outside every room: {homeless}"


def test_no_module_is_over_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in sources()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_boundary_test_sees_a_wrong_way_import(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker itself: a core module importing the panel, a lazy sim import in the bridge,
    a relative import of the CLI, a bare package, a module named in a string, a type-only
    import and an import in the package above the rooms are each caught; a string that names
    no module (a logger's) is not."""
    root = tmp_path
    for pkg, rel, text in [
        ("controller", "core/bad.py", "from controller.surfaces.panel import app\n"),
        ("controller", "planning/worse.py", "def f():\n    from ..surfaces.cli import main\n"),
        ("firmware_bridge", "lazy.py", "def g():\n    import sim.firmware\n"),
        ("sim", "fine.py", "from firmware_bridge import codec\n"),
        ("controller", "analysis/bare.py", "from controller import surfaces\n"),
        ("controller", "planning/by_name.py",
         "import importlib\nimportlib.import_module('controller.core.bad')\n"),
        ("controller", "core/typed.py",
         "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
         "    from controller.simulated import person\n"),
        ("controller", "__init__.py", "from controller.core import bad\n"),
        ("controller", "surfaces/__init__.py", '"""Nothing."""\n'),
        ("controller", "core/logger.py", "NAME = 'controller.surfaces.nothing_here'\n"),
    ]:
        f = root / pkg / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", root)
    wrong = crossings()
    assert len(wrong) == 7, "\n".join(wrong)
    assert any("analysis/bare.py:1" in w and "above the rooms" in w for w in wrong)
    assert any("planning/by_name.py:2" in w and "controller.core.bad" in w for w in wrong)
    assert any("core/typed.py:3" in w and "controller.simulated" in w for w in wrong)
    assert any(w.startswith("controller/__init__.py:1") for w in wrong)
    assert any("core/bad.py:1" in w and "controller.surfaces.panel" in w for w in wrong)
    assert any("planning/worse.py:2" in w and "controller.surfaces.cli" in w for w in wrong)
    assert any("lazy.py:2" in w and "sim.firmware" in w for w in wrong)


HEAVY = ("aiohttp", "aiomqtt", "bleak", "bumble", "numpy", "serial", "sim",
         "controller.core.session", "controller.surfaces.panel", "controller.surfaces.mqtt",
         "controller.simulated", "controller.planning.planner")
PROBE = (
    "import sys, runpy\n"
    "sys.argv = ['halfstep', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('controller.surfaces.cli.main', run_name='__main__')\n"
    "except SystemExit:\n"
    "    pass\n"
    "print('LOADED:' + ' '.join(sorted(sys.modules)))\n")


def loaded_by(*args: str) -> set[str]:
    """The modules `halfstep ARGS` imported (run in a fresh interpreter)."""
    r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                       cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Usage:" in r.stdout
    return set(r.stdout.rpartition("LOADED:")[2].split())


def test_help_loads_only_what_it_needs() -> None:
    """`halfstep --help` imports every command's module to list them, and none of them pays for
    a panel, MQTT, Bluetooth, numpy, the simulator or the session runner at import. One
    command's help loads that command alone: no other command's module, no plan models."""
    listing = loaded_by("--help")
    assert not {m for m in listing for h in HEAVY if m == h or m.startswith(h + ".")}
    for command in ("logs", "reps", "device", "history"):
        got = loaded_by(command, "--help")
        others = {f"controller.surfaces.cli.{c}" for c in ("run", "serve", "plan", "mqtt",
                                                           "demo", "sim")} - {
            f"controller.surfaces.cli.{command}"}
        wrong = {m for m in got for h in (*HEAVY, "pydantic", "controller.planning.models")
                 if m == h or m.startswith(h + ".")} | (got & others)
        assert not wrong, f"halfstep {command} --help loaded: {sorted(wrong)}"
