"""Where each node of a converted document came from, so problems point at the original file.

The importer builds a new (canonical) document. For every node it places, it records the
document path the node was taken from (`Origins.place`). A `TracedLocator` answers position
questions about the *new* document by following the longest recorded prefix back to the
original path and asking the original document's `Locator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from noetl.dsl.check import DocPath, Locator, Position


@dataclass
class Origins:
    """New document path -> original document path, for the nodes the importer placed."""

    paths: dict[DocPath, DocPath] = field(default_factory=dict)

    def place(self, new: DocPath, old: DocPath) -> None:
        """Record that the node at `new` (and, unless told otherwise, its subtree) came from
        `old`."""
        self.paths[new] = old

    def original(self, new: DocPath) -> DocPath | None:
        """The original path of `new`: the longest recorded prefix, extended by the rest."""
        for end in range(len(new), -1, -1):
            found = self.paths.get(new[:end])
            if found is not None:
                return found + new[end:]
        return None


class TracedLocator(Locator):
    """A `Locator` for a converted document that reports positions in the original file."""

    def __init__(self, original: Locator, origins: Origins) -> None:
        super().__init__(original.file, original.values, original.keys)
        self.origins = origins

    def position(self, path: DocPath, *, key: bool = False) -> Position | None:
        """The original position of the node that `path` (a converted path) came from."""
        old = self.origins.original(path)
        if old is None:
            return None
        return super().position(old, key=key)
