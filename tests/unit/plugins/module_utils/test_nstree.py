# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""The namespace tree reader with a fake listns(2); the real one runs in the fleet VMs
(molecule/default/modules.yml) against the agentns kernel."""

from __future__ import annotations

import ctypes
import os

import pytest
from ansible_collections.agentns.fleet.plugins.module_utils import agentns, nstree


def test_the_request_is_the_kernels_first_version():
    assert ctypes.sizeof(nstree.NsIdReq) == 32


def fake_listns(ids: list[int]):
    """listns(2) over a sorted id list: a page after `after`, ENOENT past the end."""
    calls = []

    def listns(ns_type: int, after: int) -> list[int]:
        calls.append((ns_type, after))
        return [i for i in ids if i > after][: nstree.LISTNS_PAGE]

    return listns, calls


@pytest.mark.parametrize("count", [0, 1, nstree.LISTNS_PAGE - 1, nstree.LISTNS_PAGE, 2 * nstree.LISTNS_PAGE + 5])
def test_every_page_is_read(count):
    ids = list(range(9, 9 + count))
    listns, calls = fake_listns(ids)
    assert nstree.list_namespaces(nstree.AGENT_NS_TYPE, listns) == ids
    assert all(call[0] == nstree.AGENT_NS_TYPE for call in calls)
    # Each page starts after the last id of the one before.
    assert [call[1] for call in calls][1:] == [ids[(k + 1) * nstree.LISTNS_PAGE - 1] for k in range(len(calls) - 1)]


def test_a_kernel_without_the_tree_reports_none(tmp_path):
    # A regular file where /proc/1/ns/agent would be: the ioctls fail like on a
    # kernel whose agent namespace is not an nsfs file, and nothing is listed.
    (tmp_path / "1" / "ns").mkdir(parents=True)
    (tmp_path / "1" / "ns" / "agent").write_text("")
    listns, calls = fake_listns([9])
    paths = agentns.HostPaths(proc=str(tmp_path), dpkg_query=None, listns=listns)
    assert agentns.read_tree(paths) == {"initial_namespace": None, "namespaces_alive": None}
    assert calls == []


def test_no_agent_namespace_at_all_reports_none(tmp_path):
    paths = agentns.HostPaths(proc=str(tmp_path), dpkg_query=None)
    assert agentns.read_tree(paths) == {"initial_namespace": None, "namespaces_alive": None}


@pytest.mark.skipif(not os.path.exists("/proc/1/ns/agent"), reason="needs an agentns kernel")
def test_the_running_kernel_names_its_initial_namespace():
    tree = nstree.read_tree("/proc")
    assert tree["initial_namespace"] == {"id": nstree.AGENT_NS_INIT_ID, "type": nstree.AGENT_NS_TYPE}
