"""Mitogen's free strategy without Mitogen's CPU pinning.

For the plays that let each host run ahead of the others (`strategy: free`),
such as the default scenario's prepare: with Ansible's own free strategy
there, every task of the play pays a whole module run on its host again
(about 4 s of guest CPU under TCG), Mitogen or not. scripts/test.sh names it
in AGENTNS_MOLECULE_FREE_STRATEGY beside mitogen_unpinned.py, whose note on
pinning applies here too.
"""

from __future__ import annotations

import ansible_mitogen.affinity

# The base Policy's methods do nothing: no process is pinned.
ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()

from ansible_mitogen.plugins.strategy.mitogen_free import StrategyModule

__all__ = ["StrategyModule"]
