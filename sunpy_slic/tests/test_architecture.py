"""
The package's shape, checked: one-way layers (import-linter), imports at the top, no private names
across modules, no module importing the package itself (see docs/dev/architecture.rst).
"""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sunpy_slic

PACKAGE = Path(sunpy_slic.__file__).parent
ROOT = PACKAGE.parent
CONFIG = ROOT / "pyproject.toml"
LINT_IMPORTS = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
    "lint-imports"
)

# Imports of the package below the top level that are there on purpose: the benchmarks are loaded
# only by the command that runs them, and ``python -m sunpy_slic.train`` (torchrun) hands over to the
# module proper, so that its classes are the package's and not copies in ``__main__``.
ALLOWED_LOCAL = {("sunpy_slic/cli.py", "sunpy_slic._bench"), ("sunpy_slic/train.py", "sunpy_slic.train")}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if "/tests/" in rel or rel.endswith("conftest.py") or rel.endswith("_version.py"):
            continue
        yield rel, ast.parse(path.read_text(), filename=rel)


def _module_name(rel):
    name = rel[: -len(".py")].replace("/", ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def _package_of(name, rel):
    return name if rel.endswith("__init__.py") else name.rpartition(".")[0]


def _resolve(node, name, rel):
    """The absolute module an ImportFrom node imports from."""
    if node.level == 0:
        return node.module
    base = _package_of(name, rel).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def test_no_private_names_cross_modules():
    offences = []
    for rel, tree in _modules():
        name = _module_name(rel)
        package = _package_of(name, rel)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = _resolve(node, name, rel)
            if not source or not source.startswith("sunpy_slic"):
                continue
            for alias in node.names:
                if not alias.name.startswith("_") or alias.name == "__version__":
                    continue
                # Allowed: a subpackage's own private modules sharing helpers among themselves.
                same_subpackage = source.rpartition(".")[0] == package and package != "sunpy_slic"
                if not same_subpackage:
                    offences.append(f"{rel}:{node.lineno} imports {alias.name} from {source}")
    assert not offences, "\n".join(offences)


def test_imports_of_the_package_are_at_the_top():
    offences = []
    for rel, tree in _modules():
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in top:
                continue
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for module in names:
                ours = (isinstance(node, ast.ImportFrom) and node.level) or module.startswith("sunpy_slic")
                if ours and (rel, module) not in ALLOWED_LOCAL:
                    offences.append(f"{rel}:{node.lineno} imports {module} inside a function")
    assert not offences, "\n".join(offences)


def test_no_module_imports_the_package_itself():
    offences = []
    for rel, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "sunpy_slic":
                offences.append(f"{rel}:{node.lineno}: from sunpy_slic import ...")
            if isinstance(node, ast.Import) and any(a.name == "sunpy_slic" for a in node.names):
                offences.append(f"{rel}:{node.lineno}: import sunpy_slic")
    assert not offences, "\n".join(offences)


def test_inference_does_not_load_training():
    code = (
        "import sys, sunpy_slic.classification, sunpy_slic.overlay, sunpy_slic.batch; "
        "print(sorted(m for m in sys.modules if m in "
        "('sunpy_slic.train', 'sunpy_slic._bench', 'sunpy_slic._bench.suite')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is not installed")
def test_import_contracts_hold_and_catch_a_forbidden_import(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    shutil.copytree(PACKAGE, tmp_path / "sunpy_slic", ignore=shutil.ignore_patterns("tests", "data"))
    (tmp_path / "sunpy_slic" / "data").mkdir()
    for path in (PACKAGE / "data").rglob("*.py"):
        target = tmp_path / "sunpy_slic" / "data" / path.relative_to(PACKAGE / "data")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    shutil.copy(CONFIG, tmp_path / "pyproject.toml")
    run = [LINT_IMPORTS, str(tmp_path / "pyproject.toml"), "--no-cache"]
    ok = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # Inference reaching into training must break the contracts.
    classification = tmp_path / "sunpy_slic" / "classification.py"
    classification.write_text(classification.read_text() + "\nimport sunpy_slic.train  # noqa\n")
    broken = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert broken.returncode != 0
    assert "sunpy_slic.classification -> sunpy_slic.train" in broken.stdout
