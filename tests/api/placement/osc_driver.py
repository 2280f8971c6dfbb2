"""Run many ``openstack`` command lines from one warm interpreter of the client's venv.

Started as ``<client venv>/bin/python osc_driver.py``; reads one JSON object per line
from stdin (``{"argv": [...], "env": {...}}``) and writes ``{"exit", "stdout",
"stderr"}`` back, one line each.

Why fork: importing the client costs about a second of CPU, 79 times per backend, which
is CI minutes. Running every command in this one process instead is not the same thing:
the client keeps state between commands in module globals (the negotiated microversion,
logging handlers bound to the first command's stderr), so later commands behave unlike a
fresh ``openstack``. So the modules are imported once here, and each command runs in a
forked child: the client's own code, a fresh state, a private stdout and stderr, as a
new process would have. Standard library only: it runs outside berthing's venv. POSIX.
"""

import json
import os
import sys
import tempfile
from typing import Any


def _warm() -> None:
    """Import what every command imports, so that children only run it."""
    import importlib
    import pkgutil

    for name in ("openstackclient.shell", "osc_placement.plugin", "osc_placement.resources"):
        importlib.import_module(name)
    resources = sys.modules["osc_placement.resources"]
    for module in pkgutil.iter_modules(resources.__path__):
        importlib.import_module(f"{resources.__name__}.{module.name}")


def _child(argv: list[str], env: dict[str, str], out_fd: int, err_fd: int) -> int:
    from openstackclient import shell

    os.environ.clear()
    os.environ.update(env)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    sys.stdout = os.fdopen(1, "w", closefd=False)
    sys.stderr = os.fdopen(2, "w", closefd=False)
    try:
        code = shell.main(argv) or 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    sys.stdout.flush()
    sys.stderr.flush()
    return int(code)


def run_one(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # the child never returns into the loop below
            code = 1
            try:
                code = _child(argv, env, out.fileno(), err.fileno())
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return {
            "exit": os.waitstatus_to_exitcode(status),
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"),
        }


def main() -> None:
    _warm()
    for line in sys.stdin:
        request = json.loads(line)
        answer = run_one(request["argv"], request["env"])
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
