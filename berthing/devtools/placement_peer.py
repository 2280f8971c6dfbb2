"""The real OpenStack Placement 16.0 on 127.0.0.1, to compare berthing with it.

berthing speaks Placement's API; the only honest reference for "speaks it the same way"
and "is it faster" is Placement itself. This module installs openstack-placement 16.0.0
and its dependencies, at versions pinned below, into a venv of its own under a cache
directory (``~/.cache/berthing/placement-peer``, or ``$BERTHING_PLACEMENT_PEER_CACHE``),
never into berthing's environment, and runs it as an operator would: ``placement.conf``,
``placement-manage db sync``, then gunicorn. The database is a SQLite file (one worker:
SQLite takes one writer) or PostgreSQL, either a URL you give or a throwaway cluster of
Debian's ``postgresql`` package started on loopback for the peer's lifetime.

Authentication is Placement's ``noauth2`` strategy, as in its own functional tests: the
token ``admin`` is an admin, so ``X-Auth-Token: admin`` (or the openstack client with
``OS_AUTH_TYPE=admin_token OS_TOKEN=admin``) may do everything.

    with PlacementPeer() as peer:          # SQLite, one worker
        urllib.request.urlopen(peer.url)   # {"versions": [...]}

``python -m berthing.devtools.placement_peer --help`` runs one until Ctrl-C.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from berthing.devtools.ports import HOST, free_port

__all__ = [
    "CONSTRAINTS",
    "PLACEMENT_VERSION",
    "PeerError",
    "PlacementPeer",
    "PostgresCluster",
    "default_cache_dir",
    "ensure_venv",
    "install",
]

PLACEMENT_VERSION = "16.0.0"
CACHE_ENV = "BERTHING_PLACEMENT_PEER_CACHE"
# What the peer's venv gets: Placement, the WSGI server, and PostgreSQL's driver.
PACKAGES = ("openstack-placement", "gunicorn", "psycopg2-binary")
# Every distribution in the peer's venv, as `pip freeze` listed it after installing
# PACKAGES on Python 3.11: a benchmark must not move because a library released.
CONSTRAINTS = (
    "openstack-placement==16.0.0",
    "gunicorn==27.0.1",
    "psycopg2-binary==2.9.13",
    "alembic==1.20.1",
    "attrs==26.1.0",
    "bcrypt==5.0.0",
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
    "debtcollector==3.1.0",
    "decorator==5.3.1",
    "dogpile.cache==1.5.0",
    "fasteners==0.20",
    "greenlet==3.5.6",
    "idna==3.20",
    "iso8601==2.1.0",
    "Jinja2==3.1.6",
    "jsonschema==4.26.0",
    "jsonschema-specifications==2025.9.1",
    "keystoneauth1==5.18.1",
    "keystonemiddleware==13.0.1",
    "Mako==1.4.3",
    "MarkupSafe==3.0.4",
    "microversion_parse==2.1.0",
    "msgpack==1.2.4",
    "netaddr==1.3.0",
    "os-resource-classes==1.1.0",
    "os-service-types==1.9.0",
    "os-traits==3.9.0",
    "oslo.cache==4.3.0",
    "oslo.concurrency==7.6.1",
    "oslo.config==10.7.0",
    "oslo.context==6.5.0",
    "oslo.db==18.1.1",
    "oslo.i18n==6.9.0",
    "oslo.log==8.3.2",
    "oslo.middleware==8.2.0",
    "oslo.policy==6.0.1",
    "oslo.serialization==5.11.0",
    "oslo.upgradecheck==2.8.0",
    "oslo.utils==10.2.0",
    "packaging==26.4",
    "pbr==7.1.3",
    "prettytable==3.18.0",
    "psutil==7.2.2",
    "pycadf==4.1.0",
    "PyJWT==2.15.1",
    "pyparsing==3.3.3",
    "python-dateutil==4.0.0",
    "python-keystoneclient==6.0.0",
    "PyYAML==6.0.4",
    "referencing==0.37.0",
    "repoze-lru==0.8",
    "requests==2.34.2",
    "rfc3986==2.0.0",
    "Routes==2.5.1",
    "rpds-py==2026.9.1",
    "six==1.17.0",
    "SQLAlchemy==2.1.9",
    "statsd==4.0.1",
    "stevedore==5.10.0",
    "testresources==2.1.2",
    "testscenarios==0.7.0",
    "typing_extensions==4.16.0",
    "tzdata==2026.6",
    "urllib3==2.8.0",
    "wcwidth==0.9.4",
    "WebOb==1.8.11",
    "wrapt==2.5.2",
)
START_TIMEOUT = 90.0
STOP_GRACE = 15.0
# gunicorn kills a worker silent for this long; a_c over 10k providers takes seconds.
WORKER_TIMEOUT = 300
LOG_TAIL_LINES = 30


class PeerError(RuntimeError):
    """The peer could not be installed, started or reached; the message says what to do."""


def default_cache_dir() -> Path:
    """Where the peer's venv lives: ``$BERTHING_PLACEMENT_PEER_CACHE`` or the user cache."""
    override = os.environ.get(CACHE_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "berthing" / "placement-peer"


# -- installation ---------------------------------------------------------------------


def install(cache_dir: Path | None = None, *, quiet: bool = True) -> Path:
    """The peer's venv (installed now if missing or pinned differently); its ``bin``."""
    return ensure_venv((cache_dir or default_cache_dir()) / "venv", PACKAGES, CONSTRAINTS, quiet)


def ensure_venv(
    venv: Path, packages: Sequence[str], constraints: Sequence[str], quiet: bool = True
) -> Path:
    """A venv holding ``packages`` at exactly ``constraints``, built if missing; its ``bin``.

    A marker file holds the constraints it was built with: a venv pinned differently
    is rebuilt whole rather than upgraded in place, so that it holds nothing stale.
    """
    marker = venv / "berthing-constraints.txt"
    wanted = "\n".join(constraints) + "\n"
    if marker.exists() and marker.read_text() == wanted:
        return venv / "bin"
    if venv.exists():
        shutil.rmtree(venv)
    _run_install_step([sys.executable, "-m", "venv", str(venv)], venv)
    pinned = venv / "constraints.txt"
    pinned.write_text(wanted)
    pip = [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check"]
    _run_install_step([*pip, *(["-q"] if quiet else []), "-c", str(pinned), *packages], venv)
    marker.write_text(wanted)
    return venv / "bin"


def _run_install_step(args: list[str], venv: Path) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PeerError(
            f"Installing {venv} failed ({' '.join(args[:4])} ... exited "
            f"{done.returncode}):\n{_tail(done.stdout + done.stderr)}\n"
            f"It needs PyPI and a Python with venv (Debian: apt-get install python3-venv). "
            f"Remove {venv} and try again, or point ${CACHE_ENV} elsewhere."
        )


# -- PostgreSQL -----------------------------------------------------------------------


class PostgresCluster:
    """A throwaway PostgreSQL cluster of Debian's ``postgresql`` package on loopback.

    Its data lives in a temporary directory removed by ``stop``. initdb refuses to run
    as root, so as root the server runs as the ``postgres`` user the package creates.
    Durability settings are PostgreSQL's defaults: the peer is measured as deployed.
    """

    def __init__(self, port: int | None = None, database: str = "placement") -> None:
        self.port = port or free_port()
        self.database = database
        self.root: Path | None = None
        self._user = _postgres_user()

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the cluster's database, as oslo.db takes it."""
        return f"postgresql+psycopg2://postgres@{HOST}:{self.port}/{self.database}"

    def start(self) -> PostgresCluster:
        """initdb, start on loopback, create the database; all undone if a step fails."""
        self.root = Path(tempfile.mkdtemp(prefix="berthing-pg-"))
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        atexit.register(self.stop)
        try:
            self._create_and_start(postgres_bindir(), self.root)
        except BaseException:
            self.stop()
            raise
        return self

    def _create_and_start(self, bindir: Path, root: Path) -> None:
        data = root / "data"
        # --no-sync: a cluster that lives for one run needs no fsync of its catalogue.
        self._pg([bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync"])
        options = f"-c listen_addresses={HOST} -p {self.port} -c unix_socket_directories={root}"
        log = root / "postgres.log"
        self._pg(
            [bindir / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"]
        )
        self._pg(
            [bindir / "createdb", "-h", HOST, "-p", str(self.port), "-U", "postgres", self.database]
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its data."""
        if self.root is None:
            return
        root, self.root = self.root, None
        if (root / "data" / "postmaster.pid").exists():
            pg_ctl = postgres_bindir() / "pg_ctl"
            with contextlib.suppress(PeerError):
                self._pg([pg_ctl, "-D", root / "data", "-m", "fast", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _pg(self, args: list[Any]) -> None:
        user = self._user.pw_name if self._user is not None else None
        done = subprocess.run(
            [str(a) for a in args], capture_output=True, text=True, check=False, user=user
        )
        if done.returncode != 0:
            log = self.root / "postgres.log" if self.root else None
            logged = _tail(log.read_text()) if log and log.exists() else ""
            raise PeerError(
                f"{Path(str(args[0])).name} failed (exit {done.returncode}):\n"
                f"{_tail(done.stdout + done.stderr)}\n{logged}".rstrip()
            )


def postgres_bindir() -> Path:
    """Debian's PostgreSQL server binaries (the newest installed major version)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise PeerError(
            "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb. "
            "Install Debian's server: apt-get install postgresql "
            "(or pass database='sqlite', or a postgresql:// URL of a server you run)."
        )
    return Path(initdb).parent


def _postgres_user() -> pwd.struct_passwd | None:
    """The user the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PeerError(
            "As root, PostgreSQL must run as another user and there is no 'postgres' user. "
            "Install Debian's postgresql package (it creates one), or run as a normal user."
        ) from None


# -- Placement ------------------------------------------------------------------------


class PlacementPeer:
    """Placement 16.0 under gunicorn on 127.0.0.1. A context manager; ``.url`` is its base.

    ``database``: ``"sqlite"`` (a file in the run directory), ``"postgresql"`` (a
    throwaway local cluster), or a SQLAlchemy URL used as is. ``run_dir`` keeps the
    configuration, SQLite file and log; a temporary one (removed on stop) by default,
    a given one is kept and reused (``db sync`` is idempotent).
    """

    def __init__(
        self,
        database: str = "sqlite",
        workers: int = 1,
        port: int | None = None,
        run_dir: Path | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        if workers < 1:
            raise PeerError(f"workers must be at least 1, not {workers}.")
        if workers > 1 and _is_sqlite(database):
            raise PeerError(
                f"SQLite takes one writer: run the peer with 1 worker, not {workers}, "
                "or use database='postgresql'."
            )
        self.database = database
        self.workers = workers
        self.port = port or free_port()
        self.cache_dir = cache_dir
        self._given_run_dir = run_dir
        self.run_dir: Path | None = None
        self.postgres: PostgresCluster | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        if self.run_dir is None:
            raise PeerError("The Placement peer has not been started.")
        return self.run_dir / "placement.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> PlacementPeer:
        """Install if needed, configure, sync the schema, start gunicorn, wait for GET /."""
        bindir = install(self.cache_dir)
        self.run_dir = self._given_run_dir or Path(tempfile.mkdtemp(prefix="berthing-placement-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        try:
            self._write_config(self._connection())
            self._sync(bindir)
            self._spawn(bindir)
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop gunicorn (SIGTERM, SIGKILL after a grace), any PostgreSQL we started, and
        remove a temporary run directory. Safe to call twice."""
        if self.process is not None:
            _terminate_group(self.process, STOP_GRACE)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        if self.run_dir is not None and self._given_run_dir is None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run_dir = None

    def __enter__(self) -> PlacementPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of gunicorn's and Placement's log, for error messages."""
        if self.run_dir is None or not self.log_path.exists():
            return ""
        return _tail(self.log_path.read_text(errors="replace"), lines)

    # -- steps of start ---------------------------------------------------------------

    def _connection(self) -> str:
        if self.database == "sqlite":
            assert self.run_dir is not None
            return f"sqlite:///{self.run_dir / 'placement.sqlite'}"
        if self.database in ("postgresql", "postgres"):
            self.postgres = PostgresCluster().start()
            return self.postgres.url
        if "://" in self.database:
            return self.database
        raise PeerError(
            f"database must be 'sqlite', 'postgresql' or a SQLAlchemy URL, not {self.database!r}."
        )

    def _write_config(self, connection: str) -> None:
        """placement.conf: noauth2 (token 'admin' is admin) and the database URL."""
        assert self.run_dir is not None
        (self.run_dir / "placement.conf").write_text(
            "[DEFAULT]\ndebug = False\n"
            "[api]\nauth_strategy = noauth2\n"
            f"[placement_database]\nconnection = {connection}\n"
        )

    def _sync(self, bindir: Path) -> None:
        assert self.run_dir is not None
        conf = self.run_dir / "placement.conf"
        args = [str(bindir / "placement-manage"), "--config-file", str(conf), "db", "sync"]
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PeerError(
                f"placement-manage db sync failed (exit {done.returncode}):\n"
                f"{_tail(done.stdout + done.stderr)}\nCheck the database URL in {conf}."
            )

    def _spawn(self, bindir: Path) -> None:
        assert self.run_dir is not None
        args = [
            str(bindir / "gunicorn"),
            f"--bind={HOST}:{self.port}",
            f"--workers={self.workers}",
            f"--timeout={WORKER_TIMEOUT}",
            # gunicorn 27 opens a control socket at a fixed path under ~: a second peer
            # (or another helper's) would fight over it, and nothing here uses it.
            "--no-control-socket",
            "placement.wsgi.api:application",
        ]
        env = {**os.environ, "OS_PLACEMENT_CONFIG_DIR": str(self.run_dir)}
        self._log = self.log_path.open("ab")
        # Own session: a Ctrl-C in the terminal must not reach the server behind our back,
        # and stop() can end the master and its workers as one group.
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    def _wait_ready(self, timeout: float) -> None:
        def answered() -> bool:
            if not self.running:
                raise PeerError(
                    f"Placement exited during start-up; its log ({self.log_path}) ends:\n"
                    f"{self.log_tail()}"
                )
            return version_document(self.url) is not None

        if not _poll(answered, timeout):
            raise PeerError(
                f"Placement at {self.url} did not answer GET / within {timeout:.0f}s; "
                f"its log ({self.log_path}) ends:\n{self.log_tail()}"
            )


def version_document(url: str) -> dict[str, Any] | None:
    """Placement's GET / body, or None if nothing (or not Placement) answers there."""
    try:
        with urllib.request.urlopen(url + "/", timeout=2.0) as resp:
            body = json.loads(resp.read())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) and "versions" in body else None


# -- small helpers --------------------------------------------------------------------


def _is_sqlite(database: str) -> bool:
    return database == "sqlite" or database.startswith("sqlite:")


def _poll(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _terminate_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM gunicorn's master (it stops its workers), SIGKILL its group after ``grace``."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the group start_new_session made
        process.wait()


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


# -- command line ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run a peer until Ctrl-C, printing how to reach it."""
    parser = argparse.ArgumentParser(prog="python -m berthing.devtools.placement_peer")
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql, or a URL")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (default 1)")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--run-dir", type=Path, default=None, help="keep config, db, log here")
    parser.add_argument("--install-only", action="store_true", help="install, then exit")
    args = parser.parse_args(argv)
    # SIGTERM (kill PID) must stop the peer as Ctrl-C does: gunicorn and PostgreSQL run
    # in sessions of their own and would otherwise outlive this process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.install_only:
            print(install(quiet=False).parent)
            return 0
        with PlacementPeer(args.database, args.workers, args.port, args.run_dir) as peer:
            _announce(peer)
            with contextlib.suppress(KeyboardInterrupt):
                while peer.running:
                    time.sleep(1)
            return 0 if peer.running else 1
    except PeerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _announce(peer: PlacementPeer) -> None:
    print(
        f"Placement {PLACEMENT_VERSION} at {peer.url} ({peer.workers} worker(s), "
        f"{peer.database}); log {peer.log_path}"
    )
    print(f"  export OS_AUTH_TYPE=admin_token OS_TOKEN=admin OS_ENDPOINT={peer.url}")
    print("Ctrl-C stops it.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
