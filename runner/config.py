"""Where Opskeeper keeps its state, and the settings read from the environment."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Environment variable that moves the git-ignored state folder (lab, runs, store, reports).
STATE_DIR_ENV = "OPSKEEPER_STATE_DIR"

#: Environment variable with a SQLAlchemy URL; a SQLite file in the state folder otherwise.
DB_URL_ENV = "OPSKEEPER_DB_URL"

#: Environment variable naming the git repository of network configuration backups;
#: ``<state>/network-backups`` otherwise.
NETWORK_BACKUP_DIR_ENV = "OPSKEEPER_NETWORK_BACKUP_DIR"


def state_dir() -> Path:
    """Return the state folder, creating it with private modes on first use."""
    path = Path(os.environ.get(STATE_DIR_ENV) or REPO_ROOT / "var").resolve()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def db_url() -> str:
    """Return the store's SQLAlchemy URL."""
    url = os.environ.get(DB_URL_ENV)
    if url:
        return url
    return f"sqlite:///{state_dir() / 'opskeeper.db'}"


def network_backup_dir() -> Path:
    """Return the network backup repository's folder (it need not exist yet)."""
    value = os.environ.get(NETWORK_BACKUP_DIR_ENV)
    return Path(value).resolve() if value else state_dir() / "network-backups"


def default_inventory() -> Path:
    return REPO_ROOT / "inventory" / "lab"


def reports_dir() -> Path:
    path = state_dir() / "reports"
    path.mkdir(mode=0o755, parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    path = state_dir() / "runs"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
