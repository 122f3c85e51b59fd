"""scripts/bootstrap.sh installs what the suite's own kernel builds need on a fresh machine."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]


def bootstrap_packages() -> set[str]:
    text = (REPO / "scripts/bootstrap.sh").read_text()
    body = re.search(r"^apt_packages=\((.*?)^\)", text, re.MULTILINE | re.DOTALL)
    assert body, "no apt_packages=( ... ) in bootstrap.sh"
    words = (line.split("#", 1)[0].split() for line in body.group(1).splitlines())
    return {word for line in words for word in line}


def test_every_kernel_build_dependency_is_bootstrapped() -> None:
    # tests/vm/vmtest.sh builds the fleet's packages (bindeb-pkg) with no role
    # having installed agentns_build's dependencies first.
    defaults = yaml.safe_load((REPO / "roles/agentns_build/defaults/main.yml").read_text())
    assert set(defaults["agentns_build_dependencies"]) <= bootstrap_packages()
