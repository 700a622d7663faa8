"""How an execution is driven: the control plane, its pump and live state, child executions,
and `assemble`, the one module that knows embedded from distributed."""
