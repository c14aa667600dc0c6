#!/usr/bin/python
"""Documentation of the action plugin talkdeploy.talk.check_settings (plugins/action/).

The check runs on the controller only; like ansible.builtin.set_fact (lib/ansible/modules/
set_fact.py in ansible-core), the module file holds the documentation and nothing runs here.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: check_settings
short_description: Check a talkdeploy role's variables before any host is touched
description:
  - Runs on the controller. Fails with every invalid variable of the role at once, naming
    the variable and the fix; returns the values in normal form as C(settings) (secrets left out).
options:
  role:
    description: The role whose variables are checked.
    type: str
    required: true
    choices: [coturn, firewall, nextcloud_talk]
author: talkdeploy developers
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Settings are valid before any host is touched
  talkdeploy.talk.check_settings:
    role: coturn
  register: coturn__checked
"""

RETURN = r"""
settings:
  description: The role's variables in normal form, secrets left out.
  returned: success
  type: dict
findings:
  description: The errors (key, message, fix, severity) when the check failed.
  returned: failure
  type: list
  elements: dict
"""
