"""Where the project's own files are: one definition for every module that needs them."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# State, pid and log files of the local stand-ins (git-ignored).
LOCAL_DIR = ROOT / ".local"
