"""Playbooks the browser tests run."""

GREET = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: greet, path: ui/greet}
workload: {names: [ada, grace, linus]}
workflow:
  - step: start
    next: [{step: greet}]
  - step: greet
    loop: {in: "{{ workload.names }}", iterator: name}
    tool:
      kind: python
      args: {n: "{{ iter.name }}"}
      code: "print('greeting ' + n)\\nresult = 'hello ' + n"
    next: [{step: end}]
  - step: end
"""

FAILING = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: failing, path: ui/failing}
workflow:
  - step: start
    next: [{step: boom}]
  - step: boom
    tool:
      kind: python
      code: |
        def explode():
            raise ValueError("the thing broke")
        explode()
"""

# Waits until the file `workload.flag` exists (the test creates it), then ends.
WAIT = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: wait, path: ui/wait}
workload: {flag: ""}
workflow:
  - step: start
    tool:
      kind: python
      args: {flag: "{{ workload.flag }}"}
      code: |
        import os, time
        deadline = time.monotonic() + 120
        while not os.path.exists(flag) and time.monotonic() < deadline:
            time.sleep(0.05)
        result = "released"
    next: [{step: end}]
  - step: end
"""

MANY = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: many, path: ui/many}
workload: {n: 1000}
workflow:
  - step: start
    loop:
      in: "{{ range(workload.n) | list }}"
      iterator: i
      spec: {mode: parallel, max_in_flight: 50}
    tool: {kind: noop}
    next: [{step: end}]
  - step: end
"""

# Reads the stored credential `signing` and hands it on inside the step: the value is masked in
# every event, so no page may show it.
SECRET = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: secret, path: ui/secret}
workflow:
  - step: start
    tool:
      - key: {kind: secrets, name: signing, key: key}
      - echo:
          kind: python
          args: {key: "{{ _prev.value }}"}
          code: "print('signing with ' + key)\\nresult = 'the key is ' + key"
"""

# Markup and bidi controls (U+202E RIGHT-TO-LEFT OVERRIDE) in a name, a result and an error.
HOSTILE = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: "<img src=x onerror=window.pwned=1>", path: ui/hostile}
workflow:
  - step: start
    tool:
      kind: python
      code: |
        result = {"<script>window.pwned=2</script>": "<img src=x onerror=window.pwned=3>",
                  "name": "invoice\\u202etxt.exe"}
    next: [{step: boom}]
  - step: boom
    tool:
      kind: python
      code: raise ValueError("<svg onload=window.pwned=4> \\u202eevil")
"""
