"""Ansible plugins talkdeploy ships (loaded by ansible-playbook, not imported by the CLI)."""
