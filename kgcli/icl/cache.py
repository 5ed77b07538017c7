"""A disk cache of replies, so that re-running a batch (or resuming one) pays for no request twice.

The key is a SHA-256 of everything that decides a reply: the model string, the API base, the messages and
the sampling parameters. API keys are never part of a request description, so they never reach the key or
the stored row. One SQLite file (``$KGC_CACHE/icl/replies.sqlite`` by default); every reply is committed
as it arrives, so a killed run keeps what it paid for.

Replies are private: the folder kgc makes for them is 0700, and the database is created 0600 before
SQLite opens it, so its ``-wal`` and ``-shm`` files, which SQLite creates with the database's own mode,
are 0600 from their first byte (during a run and after a kill too).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Reply:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    cached: bool = False


def request_key(description: dict) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True,
                                     ensure_ascii=False).encode("utf-8")).hexdigest()


def default_cache_dir() -> Path:
    from kgcli.model.builders import cache_root

    return cache_root() / "icl"


class ReplyCache:
    def __init__(self, folder: str | Path | None = None):
        path = Path(folder) if folder else default_cache_dir()
        if not path.is_dir() or not folder:  # a folder the user named and made keeps its own mode
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(path, 0o700)
        self.path = path / "replies.sqlite"
        for name in ("", "-wal", "-shm", "-journal"):  # files an earlier version left readable
            if Path(f"{self.path}{name}").exists():
                os.chmod(f"{self.path}{name}", 0o600)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, text TEXT NOT NULL, "
                         "prompt_tokens INTEGER, completion_tokens INTEGER, cost REAL)")
        self._db.commit()

    def get(self, key: str) -> Reply | None:
        with self._lock:
            row = self._db.execute("SELECT text, prompt_tokens, completion_tokens, cost FROM replies WHERE "
                                   "key = ?",
                                   (key,)).fetchone()
        return Reply(row[0], row[1] or 0, row[2] or 0, row[3], cached=True) if row else None

    def put(self, key: str, reply: Reply) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?)",
                             (key, reply.text, reply.prompt_tokens, reply.completion_tokens, reply.cost))
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()
