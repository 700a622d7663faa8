"""The fields each built-in tool kind accepts, so `noetl validate` can check task configs.

Every task also accepts the common fields `kind`, `args`, `eval`, `timeout`. Kinds registered by
plugins (entry-point group `noetl.tools`) are known by name; their fields are not checked here.
"""

from __future__ import annotations

from dataclasses import dataclass


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
