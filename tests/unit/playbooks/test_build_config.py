"""Where a distro build's kernel config comes from: a host of the fleet, not
the controller (deploy.yml's build play in check mode on this machine)."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest
from playbook_run import PLAYBOOK_BIN, REPO, run_playbook

pytestmark = pytest.mark.skipif(not PLAYBOOK_BIN.exists(), reason="ansible-playbook not in the venv")


def fleet_inventory(tmp_path: Path, config_dirs: dict[str, Path]) -> Path:
    """web1 and web2 are this machine over connection local, each with its own config directory
    and module listing (tmp_path/NAME-modules)."""
    inventory = tmp_path / "hosts.yml"
    hosts = "".join(
        f"    {name}:\n      ansible_connection: local\n      ansible_python_interpreter: {sys.executable}\n"
        f"      agentns_build_config_dir: {directory}\n      agentns_build_modules_file: {tmp_path / (name + '-modules')}\n"
        for name, directory in config_dirs.items()
    )
    inventory.write_text(f"all:\n  hosts:\n{hosts}")
    return inventory


def build_check(tmp_path: Path, inventory: Path, *extra: str):
    return run_playbook(
        REPO / "deploy.yml",
        inventory,
        "--tags",
        "build",
        "--check",
        "-e",
        "agentns_build_config=distro",
        "-e",
        "agentns_build_install_dependencies=false",
        # web1 and web2 are reached over connection local, as a controller is.
        "-e",
        "agentns_rollout_controller=true",
        # The selftest role's default for this unpacks the kernel source
        # (scripts/build.sh --source) into the empty cache: minutes under load.
        "-e",
        f"agentns_selftest_kselftest_dir={tmp_path / 'none'}",
        *extra,
        env={"AGENTNS_CACHE_DIR": str(tmp_path / "cache")},
    )


def test_the_config_comes_from_the_first_canary_and_the_modules_from_every_host(tmp_path: Path) -> None:
    """One run: the first canary's config is the one kept, and with localmodconfig the
    listing holds every rollout host's modules (/proc/modules of one, lsmod's format of the other)."""
    release = platform.release()
    dirs = {"web1": tmp_path / "web1-boot", "web2": tmp_path / "web2-boot"}
    for name, directory in dirs.items():
        directory.mkdir()
        (directory / f"config-{release}").write_text(f"# {name}'s kernel\nCONFIG_EXAMPLE=y\n")
    (tmp_path / "web1-modules").write_text("virtio_blk 20480 2 - Live 0x0\next4 1003520 1 - Live 0x0\n")
    (tmp_path / "web2-modules").write_text("Module                  Size  Used by\nnvme 57344 3\next4 1003520 1\n")
    result = build_check(tmp_path, fleet_inventory(tmp_path, dirs), "-e", "agentns_build_localmodconfig=true")
    assert result.returncode == 0, result.stdout + result.stderr
    kept = tmp_path / "cache" / "configs" / f"base-web1-{release}.config"
    assert kept.read_text() == "# web1's kernel\nCONFIG_EXAMPLE=y\n"
    listings = list((tmp_path / "cache" / "configs").glob("modules-*.txt"))
    assert len(listings) == 1
    assert listings[0].read_text().split() == ["ext4", "nvme", "virtio_blk"]


def test_the_operator_names_the_config_host(tmp_path: Path) -> None:
    release = platform.release()
    dirs = {"web1": tmp_path / "web1-boot", "web2": tmp_path / "web2-boot"}
    dirs["web2"].mkdir()
    (dirs["web2"] / f"config-{release}").write_text("# web2's kernel\n")
    result = build_check(tmp_path, fleet_inventory(tmp_path, dirs), "-e", "agentns_build_config_host=web2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "cache" / "configs" / f"base-web2-{release}.config").read_text() == "# web2's kernel\n"


def test_a_fleet_host_without_its_config_is_named(tmp_path: Path) -> None:
    """Not the controller's /boot: the message names the fleet host and what to set."""
    dirs = {"web1": tmp_path / "empty"}
    result = build_check(tmp_path, fleet_inventory(tmp_path, dirs))
    assert result.returncode != 0
    assert f"Cannot read {dirs['web1']}/config-{platform.release()} on web1" in result.stdout, result.stdout
    assert "agentns_build_base_config" in result.stdout
