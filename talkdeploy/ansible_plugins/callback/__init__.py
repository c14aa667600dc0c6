"""Callback plugins: ansible-playbook finds them through ANSIBLE_CALLBACK_PLUGINS."""
