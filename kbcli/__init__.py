"""kbcli: private, offline document search in the terminal."""

__version__ = "0.1.0"
