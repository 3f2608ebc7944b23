"""One import name: the distribution installs the single top-level package ``vqmatch``, its subpackages
are the repository's root folders mapped into it, and no file spells the old top-level names.

The wheel test builds the wheel from a copy of the source tree (an in-tree build would reuse a stale
``build/``), installs it into a fresh virtual environment that borrows only the dependencies of the
running one, and runs the console script from a folder outside the checkout, so nothing can come
from the editable install or from the repository root."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.test_imports import PACKAGES, ROOT

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11")

OLD = r"(?:theory|simulations|figures)"
# an import, a -m launch or a dotted module path that names an old top-level package
OLD_SPELLINGS = [
    re.compile(rf"^\s*(?:from|import)\s+{OLD}\b", re.M),
    re.compile(rf"-m\s+{OLD}\b"),
    re.compile(rf"(?<![\w./-]){OLD}\.(?:[a-z_]\w*)(?![\w/])"),
]
SKIP_DIRS = {".git", ".venv", "build", "dist", "out", ".hypothesis", ".pytest_cache", ".ruff_cache",
             "__pycache__"}


def tracked_text_files() -> list[Path]:
    out = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if path.is_file() and path.suffix in (".py", ".md", ".toml", ".cfg", ".txt", "") \
                and not SKIP_DIRS & set(rel.parts) and not rel.parts[0].endswith(".egg-info"):
            out.append(path)
    return out


def old_spellings(text: str, *, python: bool) -> list[str]:
    """Lines that spell an old top-level name. In Python, a dotted name through a module alias the
    file binds (``from vqmatch import theory``, then ``theory.gaussian_w2(...)``) is not one."""
    aliases = set()
    if python:
        for names in re.findall(r"^\s*from vqmatch import ([\w, ]+)$", text, re.M):
            aliases |= {n.strip() for n in names.split(",")}
    found = set()
    for i, pat in enumerate(OLD_SPELLINGS):
        for m in pat.finditer(text):
            if i == 2 and m.group(0).split(".")[0] in aliases:
                continue
            lineno = text.count("\n", 0, m.start())
            found.add((lineno + 1, text.split("\n")[lineno].strip()))
    return [f"line {n}: {line}" for n, line in sorted(found)]


def test_the_checker_sees_every_old_spelling():
    text = ("import theory\nfrom simulations.core import stats\n  from figures import make\n"
            "python -m simulations.vqvae\nsee `theory.gaussian` and simulations.cli\n")
    assert [h.split(":")[0] for h in old_spellings(text, python=False)] == [
        f"line {n}" for n in range(1, 6)]
    fine = ("from vqmatch import theory\nimport vqmatch.simulations.cli as cli\n"
            "python -m vqmatch.simulations.vqvae\n`vqmatch.theory.gaussian`, simulations/core/\n"
            "theory.gaussian_w2(m, s, m, s)\n")
    assert old_spellings(fine, python=True) == []


def test_no_file_spells_the_old_top_level_names():
    bad = []
    for path in tracked_text_files():
        if path == Path(__file__):
            continue
        hits = old_spellings(path.read_text(encoding="utf-8", errors="replace"),
                             python=path.suffix == ".py")
        bad += [f"{path.relative_to(ROOT)}: {h}" for h in hits]
    assert bad == []


def test_pyproject_lists_every_package_of_the_folders():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = config["package-dir"]
    assert mapping == {k: v for k, v in PACKAGES.items() if k.startswith("vqmatch")}
    found = {"vqmatch"}
    for pkg, folder in mapping.items():
        if pkg == "vqmatch":
            continue
        for init in (ROOT / folder).rglob("__init__.py"):
            found.add(".".join((pkg, *init.parent.relative_to(ROOT / folder).parts)))
    assert sorted(config["packages"]) == sorted(found)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"vqmatch": "vqmatch.simulations.cli:main"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src") / "vqmatch"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*SKIP_DIRS, "*.egg-info", "docs"))
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(dist), str(src)], check=True, capture_output=True, text=True)
    (found,) = dist.glob("vqmatch-*.whl")
    return found


def test_wheel_holds_one_top_level_package_and_every_module(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"vqmatch"}
    top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["vqmatch"]
    expected = set()
    for pkg, folder in PACKAGES.items():
        if not pkg.startswith("vqmatch"):
            continue
        base = ROOT / folder
        files = base.glob("*.py") if pkg == "vqmatch" else base.rglob("*.py")
        expected |= {"/".join((*pkg.split("."), *p.relative_to(base).parts)) for p in files}
    assert {n for n in names if n.endswith(".py")} == expected


def test_installed_wheel_imports_and_runs_its_console_script(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    bin_dir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    python = bin_dir / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, text=True)
    # the dependencies (numpy, torch, ...) come from the running environment, as a plain path entry:
    # its .pth files (the editable install's finder among them) are not processed
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    code = ("import vqmatch, vqmatch.simulations.cli; print(vqmatch.__file__); "
            "print(vqmatch.gaussian_w2.__module__, vqmatch.make_quantizer.__module__)")
    out = subprocess.run([str(python), "-c", code], cwd=tmp_path, check=True, capture_output=True,
                         text=True).stdout.split()
    assert Path(out[0]).is_relative_to(env_dir)
    assert out[1] == "vqmatch.theory.gaussian"
    assert out[2].startswith("vqmatch.simulations.engines.quantizers")
    script = bin_dir / "vqmatch"
    listed = subprocess.run([str(script), "list"], cwd=tmp_path, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "lemma3" in listed.stdout and "vqvae" in listed.stdout
    bad = subprocess.run([str(script), "verify", "--seed", "-1"], cwd=tmp_path, capture_output=True,
                         text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    for old in ("theory", "simulations", "figures"):
        gone = subprocess.run([str(python), "-c", f"import {old}"], cwd=tmp_path, capture_output=True,
                              text=True)
        assert gone.returncode == 1 and "ModuleNotFoundError" in gone.stderr, old
