"""The knowledge base: Markdown articles in ``kb/`` with YAML front matter.

An article names the check ids it helps with (patterns allowed: ``linux.disk.*``) and the
symptoms people report, between ``---`` lines at its top::

    ---
    title: A file system is filling up
    checks: [linux.disk.usage, linux.disk.inodes]
    symptoms: [disk full, no space left on device]
    ---
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from runner import config
from runner.errors import ConfigError

KB_DIR = config.REPO_ROOT / "kb"


@dataclass(frozen=True)
class Article:
    path: Path
    title: str
    checks: tuple[str, ...]
    symptoms: tuple[str, ...]
    body: str

    @property
    def slug(self) -> str:
        return self.path.stem

    def matches(self, check_id: str | None) -> bool:
        return bool(check_id) and any(
            fnmatch.fnmatchcase(str(check_id), pattern) for pattern in self.checks
        )

    def describes(self, text: str) -> bool:
        """Whether one of the symptoms is in ``text``: each of its words, as whole words.

        Word order is free ("disk is full" is the symptom "disk full"), so is a plural.
        """
        found = _words(text)
        return any((wanted := _words(symptom)) and wanted <= found for symptom in self.symptoms)


def _words(text: str) -> set[str]:
    # Cutting one trailing "s" lets "write fails" meet "writes fail"; both sides are cut.
    return {
        word[:-1] if len(word) > 3 and word.endswith("s") else word
        for word in re.findall(r"[a-z0-9]+", text.lower())
    }


def read_article(path: Path) -> Article:
    text = path.read_text()
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    if match is None:
        raise ConfigError(f"{path}: a KB article starts with front matter between '---' lines")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: the front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("title"), str):
        raise ConfigError(f"{path}: the front matter needs a 'title'")
    return Article(
        path,
        meta["title"],
        tuple(str(item) for item in meta.get("checks") or []),
        tuple(str(item) for item in meta.get("symptoms") or []),
        match.group(2),
    )


def articles(folder: Path | None = None) -> list[Article]:
    folder = folder or KB_DIR
    return [read_article(path) for path in sorted(folder.glob("*.md")) if path.name != "README.md"]


def for_check(check_id: str | None, folder: Path | None = None) -> list[Article]:
    return [article for article in articles(folder) if article.matches(check_id)]


def for_incident(check_id: str | None, text: str, folder: Path | None = None) -> list[Article]:
    """Articles for an incident: those for its check first, then those whose symptoms its
    title or message names (an incident opened by hand has no check)."""
    found = articles(folder)
    by_check = [article for article in found if article.matches(check_id)]
    return by_check + [
        article for article in found if article not in by_check and article.describes(text)
    ]


def search(text: str, folder: Path | None = None) -> list[tuple[Article, int]]:
    """Articles that contain every word of ``text``, best first.

    Score: a word in the title or a symptom counts 5, in the check ids 3, in the body 1.
    """
    words = [word for word in text.lower().split() if word]
    found = []
    for article in articles(folder):
        title = article.title.lower()
        symptoms = " ".join(article.symptoms).lower()
        checks = " ".join(article.checks).lower()
        body = article.body.lower()
        score = 0
        for word in words:
            hit = 5 * (word in title or word in symptoms) + 3 * (word in checks)
            hit += min(body.count(word), 5)
            if not hit:
                break
            score += hit
        else:
            if words:
                found.append((article, score))
    found.sort(key=lambda item: (-item[1], item[0].slug))
    return found
