# Copyright: (c) 2026, the agentns contributors
# GNU General Public License v2.0 only (see https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)
# SPDX-License-Identifier: GPL-2.0-only
"""Which kernel GRUB boots by default, worked out from grub.cfg and grubenv
the way GRUB resolves its C(default) variable (Debian's 00_header sets it to
a fixed entry or to C(${saved_entry}); an entry is a number, an id or a
title, nested with C(>); an entry that cannot be found means entry 0)."""

from __future__ import annotations

import re

_BLOCK_START = re.compile(r"""^\s*(menuentry|submenu)\s+(['"])(.*?)\2(.*)\{\s*$""")
_ENTRY_ID = re.compile(r"""\$menuentry_id_option\s+(['"])(.*?)\1""")
_LINUX = re.compile(r"^\s*linux(?:efi|16)?\s+(\S+)")
_SET_DEFAULT = re.compile(r"""^\s*set\s+default=(["']?)(.*?)\1\s*$""")


class MenuEntry:
    """A menuentry (release: the kernel it boots, if any) or a submenu (children)."""

    def __init__(self, kind: str, title: str, ident: str | None) -> None:
        self.kind = kind
        self.title = title
        self.ident = ident
        self.release: str | None = None
        self.children: list[MenuEntry] = []


def parse_menu(text: str) -> list[MenuEntry]:
    """The top-level entries of a grub.cfg, submenus with their entries."""
    top: list[MenuEntry] = []
    # One item per open brace: the entry it opened, or None for any other
    # block (a function, a submenu's if/fi has no brace).
    stack: list[MenuEntry | None] = []
    for line in text.splitlines():
        match = _BLOCK_START.match(line)
        if match:
            ident = _ENTRY_ID.search(match.group(4))
            entry = MenuEntry(match.group(1), match.group(3), ident.group(2) if ident else None)
            parent = next((item for item in reversed(stack) if item is not None), None)
            (parent.children if parent else top).append(entry)
            stack.append(entry)
            continue
        stripped = line.strip()
        if stripped.endswith("{"):
            stack.append(None)
        elif stripped == "}" and stack:
            stack.pop()
        elif stack and stack[-1] is not None and stack[-1].kind == "menuentry":
            linux = _LINUX.match(line)
            if linux:
                name = linux.group(1).rsplit("/", 1)[-1]
                if name.startswith("vmlinuz-"):
                    stack[-1].release = name[len("vmlinuz-") :]
    return top


def parse_grubenv(text: str | None) -> dict[str, str]:
    """grubenv's variables (a 1 KiB block of NAME=VALUE lines padded with #)."""
    env: dict[str, str] = {}
    for line in (text or "").splitlines():
        if "=" in line and not line.startswith("#"):
            name, value = line.split("=", 1)
            env[name] = value
    return env


def default_setting(text: str) -> str:
    """The value grub.cfg gives C(default) when no one-shot entry is pending."""
    for line in text.splitlines():
        match = _SET_DEFAULT.match(line)
        if match and match.group(2) != "${next_entry}":
            return match.group(2)
    return "0"


def _find(entries: list[MenuEntry], part: str) -> MenuEntry | None:
    if part.isdigit():
        index = int(part)
        return entries[index] if index < len(entries) else None
    for entry in entries:
        if entry.ident == part:
            return entry
    return next((entry for entry in entries if entry.title == part), None)


def resolve(entries: list[MenuEntry], spec: str) -> MenuEntry | None:
    """The menuentry SPEC names ("2", "ID", "TITLE", "SUBMENU>ENTRY"), None if none."""
    level = entries
    found: MenuEntry | None = None
    for part in spec.split(">"):
        found = _find(level, part)
        if found is None:
            return None
        level = found.children
    return found if found is not None and found.kind == "menuentry" else None


def entry_ids(grub_cfg: str) -> dict[str, str]:
    """Each kernel's stable menu id, for grub-reboot and grub-set-default: the
    id of Debian's "advanced" entry gnulinux-RELEASE-advanced-ROOTUUID, as
    "SUBMENU>ENTRY", or "ENTRY" where it is at the top level
    (GRUB_DISABLE_SUBMENU=y). The top-level "simple" entry follows whichever
    kernel sorts newest, so it is never used; the first entry of a release wins."""
    ids: dict[str, str] = {}

    def walk(entries: list[MenuEntry], prefix: str) -> None:
        for entry in entries:
            if entry.kind == "submenu":
                walk(entry.children, f"{prefix}{entry.ident}>" if entry.ident else prefix)
            elif entry.release and entry.ident and entry.ident.startswith(f"gnulinux-{entry.release}-advanced-"):
                ids.setdefault(entry.release, prefix + entry.ident)

    walk(parse_menu(grub_cfg), "")
    return ids


def boot_targets(grub_cfg: str, grubenv: str | None) -> dict[str, str | None]:
    """The releases GRUB boots: "default" when nothing is pending (None if that
    entry boots no Linux kernel) and "next", a pending one-shot entry
    (grub-reboot), None if none is pending."""
    entries = parse_menu(grub_cfg)
    env = parse_grubenv(grubenv)
    setting = default_setting(grub_cfg)
    if setting == "${saved_entry}":
        setting = env.get("saved_entry", "") or "0"
    default = resolve(entries, setting) or resolve(entries, "0")
    pending = resolve(entries, env["next_entry"]) if env.get("next_entry") else None
    return {"default": default.release if default else None, "next": pending.release if pending else None}
