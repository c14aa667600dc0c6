"""Ship roles/, playbooks/ and templates/ inside the wheel as talkdeploy/share/.

They live at the top of the repository because that is where Ansible, molecule and
ansible-lint expect them; an installed talkdeploy finds the copy through
talkdeploy.resources.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHARED_DIRS = ("roles", "playbooks", "templates")
NOT_SHIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".molecule", ".cache")


class BuildPyWithAnsibleContent(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout directly
        root = Path(__file__).parent
        for name in SHARED_DIRS:
            target = Path(self.build_lib) / "talkdeploy" / "share" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(root / name, target, ignore=NOT_SHIPPED)


setup(cmdclass={"build_py": BuildPyWithAnsibleContent})
