"""NoETL: event-sourced workflow orchestration.

The public Python API (docs/python.md); names are imported on first use, so `import noetl`
stays cheap:

- `load_playbook(file_or_text) -> Playbook`, `validate(file_or_text) -> list[Problem]`
- `run(playbook, payload, db=...) -> Outcome` and `await run_async(...)`: one run in this process
- `Embedded(db=...)`: a runtime kept open for many runs (`async with`)
- `Client(url, token=...)` (synchronous) and `AsyncClient`: a NoETL server
- `Outcome`: execution_id, status, result, error
- `NoetlError`, the root of every error raised on purpose; `PlaybookError` carries `problems`
"""

TYPE_CHECKING = False  # `typing` alone costs more than the rest of `import noetl`

__version__ = "0.1.0"

_EXPORTS = {
    "AsyncClient": "noetl.api.remote",
    "Client": "noetl.api.remote",
    "Embedded": "noetl.api.embedded",
    "NoetlError": "noetl.errors",
    "Outcome": "noetl.api.outcome",
    "Playbook": "noetl.api.playbooks",
    "PlaybookError": "noetl.errors",
    "Problem": "noetl.errors",
    "load_playbook": "noetl.api.playbooks",
    "run": "noetl.api.embedded",
    "run_async": "noetl.api.embedded",
    "validate": "noetl.api.playbooks",
}

__all__ = [
    "AsyncClient",
    "Client",
    "Embedded",
    "NoetlError",
    "Outcome",
    "Playbook",
    "PlaybookError",
    "Problem",
    "__version__",
    "load_playbook",
    "run",
    "run_async",
    "validate",
]

if TYPE_CHECKING:
    from noetl.api.embedded import Embedded, run, run_async
    from noetl.api.outcome import Outcome
    from noetl.api.playbooks import Playbook, load_playbook, validate
    from noetl.api.remote import AsyncClient, Client
    from noetl.errors import NoetlError, PlaybookError, Problem


def __getattr__(name: str) -> object:
    """Import a public name on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'noetl' has no attribute {name!r}")
    # `__import__` with a fromlist answers the leaf module; `importlib` would cost an import.
    value = getattr(__import__(module, fromlist=[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
