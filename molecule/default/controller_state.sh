#!/bin/sh
# What a rollout would change on a host, printed the same way each time:
# prepare.yml keeps it for the controller before the rollout and
# tests/test_controller.py compares it with the controller after it.
# Read-only, and needs no root.
echo "kernel $(uname -r)"
dpkg-query -W -f '${Package} ${Version} ${Status}\n' 'linux-image-*' 'linux-headers-*' 2>/dev/null | sort
for path in /etc/sysctl.d/60-agentns.conf /usr/local/bin/agentns-unshare /var/lib/agentns \
	/etc/default/grub.d/zz-agentns-kernel.cfg /etc/grub.d/42_agentns_trial /boot/grub/grubenv; do
	if [ -e "$path" ]; then
		echo "$path $(stat -c '%s %Y' "$path")"
	else
		echo "$path absent"
	fi
done
