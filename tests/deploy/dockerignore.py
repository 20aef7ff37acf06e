""".dockerignore, read the way Docker's builder reads it, and the build context it leaves.

Docker's rules differ from .gitignore's: a pattern is anchored at the context's root (`tests`
matches `./tests` only, `**/__pycache__` matches at any depth), `*` and `?` stay within one path
element, a pattern that matches a directory excludes everything in it, and a later `!pattern`
takes a path back. The last pattern that decides about a path wins.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class IgnorePattern:
    text: str
    regex: re.Pattern[str]
    #: A `!pattern`: takes back what an earlier pattern excluded.
    exception: bool

    def matches(self, relative: str) -> bool:
        """The path, or one of the directories it lies in, matches (Docker's parent rule)."""
        parts = relative.split("/")
        return any(self.regex.fullmatch("/".join(parts[:end])) for end in range(len(parts), 0, -1))


def _translate(pattern: str) -> str:
    """A Docker pattern as a regular expression over `/`-separated relative paths."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")  # any number of directories, none included
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.index("]", index + 1)
            body = pattern[index + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            index = end
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def parse_dockerignore(text: str) -> list[IgnorePattern]:
    patterns: list[IgnorePattern] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        # Docker cleans each pattern like a path and anchors it at the context's root.
        cleaned = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
        patterns.append(IgnorePattern(line, re.compile(_translate(cleaned)), exception))
    return patterns


def is_ignored(relative: str, patterns: list[IgnorePattern]) -> bool:
    """Whether the builder leaves a context path (relative, `/`-separated) out of COPY."""
    ignored = False
    for pattern in patterns:
        # An exclusion cannot change an excluded path, nor an exception an included one.
        if pattern.exception != ignored:
            continue
        if pattern.matches(relative):
            ignored = not pattern.exception
    return ignored


def context_files(root: Path, patterns: list[IgnorePattern]) -> Iterator[str]:
    """Relative paths of the files (and symlinks) the builder sends, in a stable order."""
    # Without exceptions an ignored directory cannot hold a kept file: skip it whole (.venv,
    # .git and .data are large).
    prune = not any(pattern.exception for pattern in patterns)
    for directory, subdirectories, files in os.walk(root):
        base = Path(directory).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        if prune:
            subdirectories[:] = [
                name for name in subdirectories if not is_ignored(prefix + name, patterns)
            ]
        subdirectories.sort()
        for name in sorted(files):
            if not is_ignored(prefix + name, patterns):
                yield prefix + name
        for name in subdirectories:
            # A symlink to a directory is sent as the link itself, not followed.
            if (Path(directory) / name).is_symlink() and not is_ignored(prefix + name, patterns):
                yield prefix + name
