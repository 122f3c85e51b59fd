# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""GRUB's default entry, resolved from a grub.cfg shaped like Debian 12's update-grub output."""

from __future__ import annotations

import pytest
from ansible_collections.agentns.fleet.plugins.module_utils import grub

UUID = "0f1e2d3c-aaaa-bbbb-cccc-1234567890ab"


def menu(default: str = "0", extra: str = "") -> str:
    """Newest kernel first at the top level, every kernel again in the submenu, as 10_linux writes them."""

    def entry(release: str, suffix: str, indent: str = "") -> str:
        return (
            f"{indent}menuentry 'Debian GNU/Linux, with Linux {release}' --class debian "
            f"$menuentry_id_option 'gnulinux-{release}-{suffix}-{UUID}' {{\n"
            f"{indent}\tinsmod ext2\n"
            f"{indent}\tif [ x$feature_platform_search_hint = xy ]; then\n"
            f"{indent}\t  search --no-floppy --fs-uuid --set=root {UUID}\n"
            f"{indent}\tfi\n"
            f"{indent}\tlinux\t/boot/vmlinuz-{release} root=UUID={UUID} ro quiet\n"
            f"{indent}\tinitrd\t/boot/initrd.img-{release}\n"
            f"{indent}}}\n"
        )

    return (
        "function load_video {\n  insmod all_video\n}\n"
        'if [ "${next_entry}" ] ; then\n   set default="${next_entry}"\n   set next_entry=\n'
        f'   save_env next_entry\n   set boot_once=true\nelse\n   set default="{default}"\nfi\n'
        f"menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-{UUID}' {{\n"
        "\tlinux\t/boot/vmlinuz-7.3.4-agentns-1a2b3c4 root=UUID=x ro quiet\n}\n"
        f"submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-{UUID}' {{\n"
        + entry("7.3.4-agentns-1a2b3c4", "advanced", "\t")
        + entry("7.3.4-agentns-1a2b3c4", "recovery", "\t")
        + entry("6.1.0-28-amd64", "advanced", "\t")
        + "}\n"
        + extra
    )


SAVED_OLD = f"gnulinux-advanced-{UUID}>gnulinux-6.1.0-28-amd64-advanced-{UUID}"


def env(**values: str) -> str:
    body = "".join(f"{name}={value}\n" for name, value in values.items())
    return "# GRUB Environment Block\n" + body + "#" * (1024 - len(body) - 24)


def test_debian_default_boots_the_first_entry() -> None:
    assert grub.boot_targets(menu(), env())["default"] == "7.3.4-agentns-1a2b3c4"


def test_saved_entry_by_submenu_id_path() -> None:
    assert grub.boot_targets(menu("${saved_entry}"), env(saved_entry=SAVED_OLD))["default"] == "6.1.0-28-amd64"


@pytest.mark.parametrize(
    ("saved", "release"),
    [
        ("1>2", "6.1.0-28-amd64"),
        ("Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-28-amd64", "6.1.0-28-amd64"),
        (f"gnulinux-simple-{UUID}", "7.3.4-agentns-1a2b3c4"),
    ],
)
def test_saved_entry_by_number_or_title(saved: str, release: str) -> None:
    assert grub.boot_targets(menu("${saved_entry}"), env(saved_entry=saved))["default"] == release


def test_a_saved_entry_that_is_gone_falls_back_to_the_first() -> None:
    gone = f"gnulinux-advanced-{UUID}>gnulinux-6.1.0-9-amd64-advanced-{UUID}"
    assert grub.boot_targets(menu("${saved_entry}"), env(saved_entry=gone))["default"] == "7.3.4-agentns-1a2b3c4"


def test_no_saved_entry_means_the_first() -> None:
    assert grub.boot_targets(menu("${saved_entry}"), None)["default"] == "7.3.4-agentns-1a2b3c4"


def test_a_submenu_is_not_a_kernel() -> None:
    assert grub.resolve(grub.parse_menu(menu()), "1") is None


def test_a_pending_one_shot_entry() -> None:
    trial = "menuentry 'agentns trial' $menuentry_id_option 'agentns-trial' {\n\tlinux /boot/vmlinuz-7.3.5-agentns-9f9f9f9 ro\n}\n"
    cfg = menu("${saved_entry}", extra=trial)
    assert grub.boot_targets(cfg, env(saved_entry=SAVED_OLD, next_entry="agentns-trial"))["next"] == "7.3.5-agentns-9f9f9f9"
    assert grub.boot_targets(cfg, env(saved_entry=SAVED_OLD, next_entry="agentns-trial"))["default"] == "6.1.0-28-amd64"
    assert grub.boot_targets(cfg, env(saved_entry=SAVED_OLD))["next"] is None


def test_entry_ids_are_the_advanced_entries_in_their_submenu() -> None:
    # Not the "simple" top-level entry (it follows the newest kernel), not the recovery one.
    assert grub.entry_ids(menu()) == {
        "7.3.4-agentns-1a2b3c4": f"gnulinux-advanced-{UUID}>gnulinux-7.3.4-agentns-1a2b3c4-advanced-{UUID}",
        "6.1.0-28-amd64": SAVED_OLD,
    }


def test_entry_ids_without_the_submenu() -> None:
    """GRUB_DISABLE_SUBMENU=y: the entries at the top level, ids without a "SUBMENU>" prefix."""
    flat = "".join(
        f"menuentry 'Debian GNU/Linux, with Linux {release}' $menuentry_id_option 'gnulinux-{release}-advanced-{UUID}' {{\n"
        f"\tlinux\t/boot/vmlinuz-{release} root=UUID={UUID} ro quiet\n}}\n"
        for release in ("7.3.4-agentns-1a2b3c4", "6.1.0-28-amd64")
    )
    assert grub.entry_ids(flat) == {
        "7.3.4-agentns-1a2b3c4": f"gnulinux-7.3.4-agentns-1a2b3c4-advanced-{UUID}",
        "6.1.0-28-amd64": f"gnulinux-6.1.0-28-amd64-advanced-{UUID}",
    }
