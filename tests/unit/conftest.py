# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""Make the checkout importable as ansible_collections.agentns.fleet.

The modules import their shared code by its collection name. Under
ansible-test the tree already sits at .../ansible_collections/agentns/fleet;
when pytest runs straight from a checkout, a throw-away directory holding an
ansible_collections/agentns/fleet symlink to the checkout stands in for it.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import shutil
import sys
import tempfile

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collection_importable() -> bool:
    try:
        importlib.import_module("ansible_collections.agentns.fleet.plugins.module_utils.agentns")
    except ImportError:
        return False
    return True


def _expose_checkout_as_collection() -> None:
    if _collection_importable():
        return
    top = tempfile.mkdtemp(prefix="agentns-collections-")
    atexit.register(shutil.rmtree, top, True)
    namespace_dir = os.path.join(top, "ansible_collections", "agentns")
    os.makedirs(namespace_dir)
    os.symlink(REPO_ROOT, os.path.join(namespace_dir, "fleet"))
    sys.path.insert(0, top)
    # A failed import above may have cached a namespace package without our path.
    for name in list(sys.modules):
        if name == "ansible_collections" or name.startswith("ansible_collections."):
            del sys.modules[name]
    importlib.invalidate_caches()


_expose_checkout_as_collection()


@pytest.fixture
def run_module(monkeypatch, capsys):
    """Run a module's main() with the given args and return the JSON it printed.

    exit_json/fail_json run for real (result formatting, warnings, JSON
    encoding); only their sys.exit is caught.
    """
    from ansible.module_utils.common import warnings
    from ansible.module_utils.testing import patch_module_args

    def run(main, args, **main_kwargs):
        # Warnings are process-wide in module_utils; start each run clean.
        monkeypatch.setattr(warnings, "_global_warnings", {})
        monkeypatch.setattr(warnings, "_global_deprecations", {})
        capsys.readouterr()
        with patch_module_args(args), pytest.raises(SystemExit):
            main(**main_kwargs)
        return json.loads(capsys.readouterr().out)

    return run
