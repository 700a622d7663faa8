"""The tool kinds a task may name, declared once: the built-in kinds and their fields, and the
entry-point group plugins add kinds through.

`noetl validate` and the JSON Schema check task configs against `BUILTIN_KINDS`; the tool
registry (`noetl.tools.registry`) derives its implementations from the same table (built-in kind
`k` is the class whose `kind` is `k` in module `noetl.tools.k`). Every task also accepts the
common fields `kind`, `args`, `eval`, `timeout`. Kinds registered by plugins (entry-point group
`noetl.tools`) are known by name; their fields are not checked here.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points


@dataclass(frozen=True)
class KindSpec:
    """Required and optional config fields of a tool kind."""

    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    one_of: tuple[frozenset[str], ...] = ()  # each group: exactly one of these must be given

    @property
    def allowed(self) -> frozenset[str]:
        """Every field the kind accepts."""
        extra: frozenset[str] = frozenset().union(*self.one_of) if self.one_of else frozenset()
        return self.required | self.optional | extra


ENTRY_POINT_GROUP = "noetl.tools"  # entry-point name = kind, value = `module:Class`
COMMON_TASK_FIELDS = frozenset({"kind", "args", "eval", "timeout"})

BUILTIN_KINDS: dict[str, KindSpec] = {
    "noop": KindSpec(optional=frozenset({"result"})),
    "python": KindSpec(one_of=(frozenset({"code"}),)),
    "workbook": KindSpec(required=frozenset({"name"})),
    "http": KindSpec(
        required=frozenset({"url"}),
        optional=frozenset(
            {
                "method",
                "headers",
                "params",
                "json",
                "data",
                "body",
                "auth",
                "follow_redirects",
                "verify",
            }
        ),
    ),
    "postgres": KindSpec(
        optional=frozenset({"auth", "dsn", "params"}),
        one_of=(frozenset({"query", "queries"}),),
    ),
    "duckdb": KindSpec(
        optional=frozenset({"database", "params", "attach", "auth"}),
        one_of=(frozenset({"query", "queries"}),),
    ),
    "secrets": KindSpec(required=frozenset({"name"}), optional=frozenset({"provider", "key"})),
    "playbook": KindSpec(required=frozenset({"path"}), optional=frozenset({"version"})),
}


def plugin_entry_points() -> dict[str, EntryPoint]:
    """The installed plugins' kinds (entry-point group `noetl.tools`), by kind name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
