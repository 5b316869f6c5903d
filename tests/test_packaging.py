"""The install files agree: environment.yml mirrors pyproject.toml; constraints.txt pins them all."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def declared_requirements() -> list[str]:
    project = pyproject()["project"]
    return project["dependencies"] + project["optional-dependencies"]["dev"]


def environment_pip_section() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, "environment.yml must have exactly one pip: section"
    return pip[0]["pip"]


def constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier  # exactly one '==' pin per line
            assert spec.operator == "==", f"constraints.txt must pin exactly: {line}"
            pins[canonical(req.name)] = spec.version
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_environment_yml_mirrors_pyproject():
    pip = environment_pip_section()
    requirements = [line for line in pip if not line.startswith("-")]
    assert sorted(requirements) == sorted(declared_requirements()), (
        "environment.yml's pip section and pyproject.toml's dependencies + [dev] have drifted "
        "apart: copy the list from pyproject.toml"
    )
    assert "-c constraints.txt" in pip and "-e ." in pip


def test_environment_python_satisfies_requires_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    (python,) = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    version = python.split("=")[-1]
    assert Requirement(f"python{pyproject()['project']['requires-python']}").specifier.contains(
        version + ".0"
    )


def test_every_dependency_is_pinned_in_constraints_within_its_range():
    pins = constraints()
    assert pins.get("torch") == "2.13.0", "constraints.txt must pin torch==2.13.0 (the CPU build)"
    for line in declared_requirements():
        req = Requirement(line)
        name = canonical(req.name)
        assert name in pins, f"{req.name} is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name]), f"{req.name}=={pins[name]} is outside {req.specifier}"


def test_package_list_is_explicit_and_complete():
    """setuptools' discovery is off (flat layout): every package folder must be listed."""
    listed = set(pyproject()["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "llmrec_ref").rglob("__init__.py")
    }
    assert listed == on_disk


def test_llm_extra_is_part_of_dev():
    """CI installs [dev]; it must include [llm] so chapter 07 and its tests run there too."""
    extras = pyproject()["project"]["optional-dependencies"]
    assert set(extras["llm"]) <= set(extras["dev"])


def test_onnx_extra_is_part_of_dev():
    """Chapter 10 and tests/test_serve.py export to ONNX and run ONNX Runtime: CI installs them with [dev]."""
    extras = pyproject()["project"]["optional-dependencies"]
    assert set(extras["onnx"]) <= set(extras["dev"])
