"""Mitogen's linear strategy without Mitogen's CPU pinning.

Mitogen pins its connection multiplexer to CPU 0 and, on a machine with fewer
than 4 CPUs, Ansible and every process Ansible starts to the CPUs left: on the
project's 2 cores, fleet.py's QEMU guests, the kernel build and the nested
deploy.yml runs all shared CPU 1 while CPU 0 stood idle (measured:
docs/benchmarks.md). scripts/test.sh runs the Molecule scenarios under this
strategy; the collection never needs it.
"""

from __future__ import annotations

import ansible_mitogen.affinity

# The base Policy's methods do nothing: no process is pinned.
ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]
