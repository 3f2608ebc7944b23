"""The house rules, read from the code's imports (AST): no import circles, no import of another
package's private (underscore) names, no study importing another study, layers pointing one way
(cli -> studies -> vqvae -> engines -> sources -> core / theory), figure modules importing only their
style, and the figures package reading a study's results only through the study's summary type.
The checker is tested on small synthetic trees first, so that it can fail."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# import name -> folder (pyproject.toml maps the root folders into the vqmatch namespace)
PACKAGES = {"vqmatch": "vqmatch", "vqmatch.theory": "theory", "vqmatch.simulations": "simulations",
            "vqmatch.figures": "figures", "benchmarks": "benchmarks"}

T, S, F = "vqmatch.theory", "vqmatch.simulations", "vqmatch.figures"
# what each layer may NOT import (prefixes of module names)
FORBIDDEN = {
    T: (S, F, "benchmarks"),
    f"{S}.core": (f"{S}.sources", f"{S}.engines", f"{S}.vqvae", f"{S}.studies", f"{S}.cli", F),
    f"{S}.sources": (f"{S}.engines", f"{S}.vqvae", f"{S}.studies", f"{S}.cli", F),
    f"{S}.engines": (f"{S}.vqvae", f"{S}.studies", f"{S}.cli", F),
    f"{S}.vqvae": (f"{S}.studies", f"{S}.cli", F),
    f"{S}.prior": (f"{S}.studies", f"{S}.cli", F),
    f"{S}.studies": (f"{S}.cli", F),
}


# the figures package (vqmatch.figures.make_figures) reads each study's summary.json through the
# study's own summary type: its one way into the simulations
FIGURES_READ = (f"{S}.core.store", f"{S}.studies")


def modules(root: Path, packages: dict[str, str] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the packages (import name -> folder)."""
    out = {}
    for pkg, folder in packages.items():
        base = root / folder
        for path in sorted(base.rglob("*.py")):
            if pkg == "vqmatch" and path.parent != base:  # vqmatch/ holds only its own modules
                continue
            parts = (*pkg.split("."), *path.relative_to(base).with_suffix("").parts)
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, tuple[str, ...]]]:
    """(target module, imported names) of every import statement of a module, at any depth
    (function-level imports count: hiding an import in a function does not remove a circle)."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = tuple(a.name for a in node.names)
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in known]
            out += [(m, ()) for m in submodules]
            rest = tuple(n for n in names if f"{target}.{n}" not in known)
            if rest or not submodules:
                out.append((target, rest))
    return [(t, n) for t, n in out if t.split(".")[0] in {k.split(".")[0] for k in known}]


def graph(known: dict[str, Path]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in known}
    for name, path in known.items():
        for target, _ in imports(name, path, known):
            while target and target not in known:  # an attribute of a module: the module
                target = target.rpartition(".")[0]
            if target and target != name:
                edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _package_of(module: str, known: dict[str, Path]) -> str:
    return module if known[module].name == "__init__.py" else module.rpartition(".")[0]


def private_imports(known: dict[str, Path]) -> list[str]:
    """Imports of an underscore module or name defined in ANOTHER package."""
    bad = []
    for name, path in known.items():
        here = _package_of(name, known)
        for target, names in imports(name, path, known):
            mod = target
            while mod and mod not in known:
                mod = mod.rpartition(".")[0]
            if not mod:
                continue
            there = _package_of(mod, known)
            if there == here:
                continue
            private_path = any(p.startswith("_") and not p.startswith("__")
                               for p in target.split("."))
            private_names = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private_path or private_names:
                bad.append(f"{name} imports {target} {private_names or ''}".strip())
    return bad


def study_imports(known: dict[str, Path]) -> list[str]:
    bad = []
    for name, path in known.items():
        if not name.startswith(f"{S}.studies.") or name.count(".") < 3:
            continue
        study = name.split(".")[3]
        for target, _ in imports(name, path, known):
            if target.startswith(f"{S}.studies.") and target.split(".")[3] != study:
                bad.append(f"{name} imports {target}")
    return bad


def layer_violations(known: dict[str, Path]) -> list[str]:
    bad = []
    for name, path in known.items():
        rules = [v for k, v in FORBIDDEN.items() if name == k or name.startswith(k + ".")]
        for target, _ in imports(name, path, known):
            for forbidden in rules:
                if any(target == f or target.startswith(f + ".") for f in forbidden):
                    bad.append(f"{name} imports {target}")
        if name.startswith(f"{F}.") and name != f"{F}.style":
            for target, _ in imports(name, path, known):
                if target not in (f"{F}.style", F):
                    bad.append(f"{name} imports {target} (figures import style only)")
        if name == F:  # make_figures: the summary.json of a study, read by the study's type
            for target, _ in imports(name, path, known):
                if not (target.startswith(f"{F}.") or target in FIGURES_READ):
                    bad.append(f"{name} imports {target} (it reads results through "
                               f"{FIGURES_READ} only)")
    return bad


# ---------------------------------------------------------------------------------------------
# the checker on synthetic trees


def _tree(tmp_path, files: dict[str, str], packages: dict[str, str] | None = None
          ) -> dict[str, Path]:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return modules(tmp_path, packages or {"pkg": "pkg"})


def test_checker_finds_a_hidden_circle(tmp_path):
    known = _tree(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "from . import b\n",
                             "pkg/b.py": "def f():\n    from .c import g\n",
                             "pkg/c.py": "from pkg.a import x\n", "pkg/d.py": "import pkg.a\n"})
    assert cycles(graph(known)) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_checker_finds_cross_package_private_imports(tmp_path):
    known = _tree(tmp_path, {"pkg/__init__.py": "", "pkg/x/__init__.py": "",
                             "pkg/x/_impl.py": "_K = 1\n", "pkg/x/ok.py": "from ._impl import _K\n",
                             "pkg/y/__init__.py": "", "pkg/y/bad.py": "from pkg.x._impl import f\n",
                             "pkg/y/bad2.py": "from ..x.ok import _K\n"})
    assert sorted(private_imports(known)) == ["pkg.y.bad imports pkg.x._impl",
                                              "pkg.y.bad2 imports pkg.x.ok ['_K']"]


# ---------------------------------------------------------------------------------------------
# the house


@pytest.fixture(scope="module")
def house():
    return modules(ROOT)


def test_no_import_circles(house):
    assert cycles(graph(house)) == []


def test_no_cross_package_private_imports(house):
    assert private_imports(house) == []


def test_studies_do_not_import_each_other(house):
    assert study_imports(house) == []


def test_layers_point_one_way(house):
    assert layer_violations(house) == []


def test_every_study_is_listed(house):
    from vqmatch.simulations.studies import ALL

    packages = {n.split(".")[3] for n in house if n.startswith(f"{S}.studies.")
                and n.count(".") >= 3}
    assert {s.name for s in ALL} == packages


def test_figures_read_results_through_the_summary_types_only(tmp_path):
    known = _tree(tmp_path, {"figures/__init__.py":
                             "from vqmatch.simulations.studies import STUDIES\n"
                             "from vqmatch.simulations.engines import kmeans\n",
                             "figures/style.py": "", "figures/a.py":
                             "from .style import x\nfrom vqmatch.simulations.studies import b\n",
                             "simulations/__init__.py": "", "simulations/engines/__init__.py": "",
                             "simulations/studies/__init__.py": ""},
                  {F: "figures", S: "simulations"})
    assert sorted(v.split(" (")[0] for v in layer_violations(known)) == [
        "vqmatch.figures imports vqmatch.simulations.engines",
        "vqmatch.figures.a imports vqmatch.simulations.studies"]
