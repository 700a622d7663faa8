"""The playbook DSL: YAML -> validated, immutable `PlaybookDef`; templating."""
