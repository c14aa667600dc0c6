"""talkdeploy: deploy and verify coTURN and Nextcloud Talk with Ansible."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("talkdeploy")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"
