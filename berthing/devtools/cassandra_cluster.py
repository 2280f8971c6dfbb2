"""A real Apache Cassandra cluster of local JVMs on 127.0.0.1-3, for tests, demos and benchmarks.

Cassandra has no Debian package and its binary tarball is not on Maven Central, but
``cassandra-all`` and every jar it runs with are. ``fetch()`` has Maven copy them into a
cache directory once (``~/.cache/berthing/cassandra/<version>/lib``, or the directory
named by ``BERTHING_CASSANDRA_HOME``); ``CassandraCluster`` then starts one JVM per node
(Cassandra's state is global, so one node per JVM), node *i* on 127.0.0.*i* (Linux
routes all of 127.0.0.0/8 to the loopback device), with a cassandra.yaml and a
logback.xml written here.

The cluster starts the way Cassandra's own test tooling (ccm) starts a fresh one: every
node a seed, no bootstrap, one token per node at evenly spaced positions, all nodes at
once. The harness can kill a node (SIGKILL, as a crashed host) and restart it on the
same data, and it judges readiness from the nodes' own logs, so that it needs no CQL
client; only ``session()`` and ``create_keyspace()`` use the Python driver.

Ports, from ``port`` (the CQL port, default 9042): CQL on ``port`` and inter-node
traffic on ``port + 1`` at each node's address; JMX of node *i* on 127.0.0.1 at
``port + 2 + i``. Two clusters coexist when their ports are 10 or more apart.

Run ``python -m berthing.devtools.cassandra_cluster fetch`` to fetch the jars ahead of
time (scripts/test does).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import functools
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import platformdirs

from berthing.model import StoreUnavailable

__all__ = [
    "CASSANDRA_VERSION",
    "CassandraCluster",
    "Node",
    "cassandra_home",
    "execute_schema",
    "fetch",
    "java17",
]

CASSANDRA_VERSION = "5.0.9"
# copy-dependencies named with its version: Maven's built-in default for the plugin is
# older and resolves the plugin's own dependencies more slowly.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
HOME_ENV = "BERTHING_CASSANDRA_HOME"
FETCH_TIMEOUT = 900.0
MARKER = ".berthing-complete"

DEFAULT_PORT = 9042
DATACENTER = "datacenter1"  # SimpleSnitch puts every node here
HEAP_MB = 512
START_TIMEOUT = 300.0  # generous: a loaded two-core box has taken 130 s
STOP_GRACE = 15.0
POLL = 0.2
DDL_TIMEOUT = 60.0
PROTOCOL_VERSION = 5  # CQL native protocol v5, Cassandra 4.0+
READY_LINE = "Startup complete"
LOG_TAIL_LINES = 25

_POM = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by berthing.devtools.cassandra_cluster: the jars Cassandra {version} runs with. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>berthing.devtools</groupId>
  <artifactId>cassandra-runtime</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""

# cassandra-all ships no logback.xml. One plain file per node at INFO: readiness and
# membership are read from it, and a failed start shows its tail.
_LOGBACK = """<configuration scan="false">
  <appender name="SYSTEMLOG" class="ch.qos.logback.core.FileAppender">
    <file>${cassandra.logdir}/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %logger{0} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="SYSTEMLOG"/></root>
</configuration>
"""

# From Cassandra 5.0's conf/jvm17-server.options: the module openings Cassandra needs on
# Java 17, plus the Netty settings the stock scripts pass.
_JAVA17_OPTIONS = [
    "-Djdk.attach.allowAttachSelf=true",
    *(
        f"--add-exports={m}=ALL-UNNAMED"
        for m in (
            "java.base/jdk.internal.misc",
            "java.base/java.lang.ref",
            "java.management.rmi/com.sun.jmx.remote.internal.rmi",
            "java.rmi/sun.rmi.registry",
            "java.rmi/sun.rmi.server",
            "java.sql/java.sql",
            "jdk.unsupported/sun.misc",
            "jdk.compiler/com.sun.tools.javac.file",
            "jdk.attach/sun.tools.attach",
        )
    ),
    *(
        f"--add-opens={m}=ALL-UNNAMED"
        for m in (
            "java.base/java.lang.module",
            "java.base/jdk.internal.loader",
            "java.base/jdk.internal.ref",
            "java.base/jdk.internal.reflect",
            "java.base/jdk.internal.math",
            "java.base/jdk.internal.module",
            "java.base/jdk.internal.util.jar",
            "jdk.management/com.sun.management.internal",
            "java.base/sun.nio.ch",
            "java.base/java.io",
            "java.base/java.lang.reflect",
            "jdk.compiler/com.sun.tools.javac",
            "java.base/java.lang",
            "java.base/java.util",
            "java.base/java.nio",
        )
    ),
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
]


# -- fetching -----------------------------------------------------------------------------


def cassandra_home() -> Path:
    """Where the jars of ``CASSANDRA_VERSION`` live (in ``lib/``).

    ``BERTHING_CASSANDRA_HOME`` names another place, e.g. a CI cache directory.
    """
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_cache_dir("berthing")) / "cassandra" / CASSANDRA_VERSION


def fetch(home: Path | None = None) -> Path:
    """The directory holding Cassandra's jars, fetched from Maven Central unless already there.

    Idempotent and cheap once done (a marker file is written last). A lock serialises
    concurrent fetches; the jars land in a staging directory renamed into place, so an
    interrupted fetch leaves no half-filled ``lib/``.
    """
    home = home or cassandra_home()
    lib = home / "lib"
    if (lib / MARKER).exists():
        return lib
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (lib / MARKER).exists():
            _copy_dependencies(home, lib)
    return lib


def _copy_dependencies(home: Path, lib: Path) -> None:
    """Run Maven's copy-dependencies on a generated pom into ``lib``."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StoreUnavailable(
            "Maven (mvn) is not on PATH; it fetches Cassandra's jars from Maven Central.",
            hint="Install it (Debian: apt-get install maven), then run "
            "`python -m berthing.devtools.cassandra_cluster fetch`.",
        )
    java = java17()
    pom = home / "pom.xml"
    pom.write_text(_POM.format(version=CASSANDRA_VERSION))
    staging = home / "lib.partial"
    shutil.rmtree(staging, ignore_errors=True)
    args = [
        mvn, "-B", "-q", "-f", str(pom),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]  # fmt: skip
    # Maven runs on the Java we found, whatever JAVA_HOME said.
    env = {**os.environ, "JAVA_HOME": str(java.parent.parent)}
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=FETCH_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise _fetch_failed(f"Maven did not finish within {FETCH_TIMEOUT:.0f}s.", "") from exc
    if done.returncode != 0 or not (staging / f"cassandra-all-{CASSANDRA_VERSION}.jar").exists():
        output = done.stdout + done.stderr
        raise _fetch_failed(f"Maven exited with status {done.returncode}.", output)
    (staging / MARKER).write_text(CASSANDRA_VERSION + "\n")
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)


def _fetch_failed(what: str, output: str) -> StoreUnavailable:
    tail = "\n".join(output.strip().splitlines()[-LOG_TAIL_LINES:])
    return StoreUnavailable(
        f"Could not fetch Cassandra {CASSANDRA_VERSION} from Maven Central: {what}"
        + (f"\n{tail}" if tail else ""),
        hint="Check that Maven Central is reachable (mvn -v; ~/.m2/settings.xml), then run "
        "`python -m berthing.devtools.cassandra_cluster fetch` again.",
    )


@functools.cache
def java17() -> Path:
    """A Java 17 binary: Cassandra 5.0 runs on 11 or 17, and Java 24+ refuse its SecurityManager.

    Looked for explicitly (JAVA_HOME, PATH, then /usr/lib/jvm) rather than taking whatever
    ``java`` is first, since machines often have a newer default.
    """
    home = os.environ.get("JAVA_HOME")
    candidates = [f"{home}/bin/java"] if home else []
    candidates += [shutil.which("java") or "", *sorted(glob.glob("/usr/lib/jvm/*/bin/java"))]
    for candidate in candidates:
        if candidate and _java_major(candidate) == 17:
            return Path(candidate).resolve()
    raise StoreUnavailable(
        "No Java 17 found (looked at JAVA_HOME, PATH and /usr/lib/jvm); Cassandra 5.0 " "needs it.",
        hint="Install it (Debian: apt-get install openjdk-17-jre-headless) or point "
        "JAVA_HOME at one.",
    )


def _java_major(java: str) -> int:
    """The major version a ``java`` binary reports, or 0 if it does not run."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr)
    if found is None:
        return 0
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


# -- the cluster --------------------------------------------------------------------------


@dataclass
class Node:
    index: int
    address: str
    jmx_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    output: IO[bytes] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"node{self.index + 1}"

    @property
    def system_log(self) -> Path:
        return self.directory / "logs" / "system.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_size(self) -> int:
        try:
            return self.system_log.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> str:
        """What the node logged after byte ``offset`` of its system.log."""
        try:
            with self.system_log.open("rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self) -> str:
        """The last lines of the node's system.log and of its JVM's own output."""
        parts = []
        for path in (self.system_log, self.directory / "jvm.out"):
            with contextlib.suppress(FileNotFoundError):
                lines = path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
                parts.append(f"--- {path} ---\n" + "\n".join(lines))
        return "\n".join(parts) or "(no log yet)"

    def rss_mb(self) -> float:
        """Resident memory of the node's JVM in MiB (0 when not running)."""
        if not self.running:
            return 0.0
        assert self.process is not None
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:  # exited just now
            return 0.0
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        return int(found.group(1)) / 1024 if found else 0.0


class CassandraCluster:
    """``size`` Cassandra nodes on 127.0.0.1..size. Use as a context manager, or start()/stop()."""

    def __init__(
        self,
        data_dir: Path,
        size: int = 3,
        port: int = DEFAULT_PORT,
        heap_mb: int = HEAP_MB,
        settings: Mapping[str, object] | None = None,
        jvm_options: Sequence[str] = (),
        home: Path | None = None,
    ) -> None:
        """Nodes under ``data_dir/node<i>``; ``settings`` override cassandra.yaml entries
        and ``jvm_options`` are added after the harness's own.

        A data directory that held a cluster before keeps its port (saved in
        ``cluster.json``): nodes remember their peers by address and port.
        """
        if not 1 <= size <= 9:
            raise ValueError("size must be 1..9 (node i listens on 127.0.0.i)")
        self.data_dir = Path(data_dir).resolve()
        saved = self.data_dir / "cluster.json"
        if saved.exists():
            port = int(json.loads(saved.read_text())["port"])
        self.port = port
        self.heap_mb = heap_mb
        self.settings = dict(settings or {})
        self.jvm_options = list(jvm_options)
        self.home = home
        self.nodes = [
            Node(i, f"127.0.0.{i + 1}", port + 2 + i, self.data_dir / f"node{i + 1}")
            for i in range(size)
        ]

    # -- addresses --------------------------------------------------------------------

    @property
    def storage_port(self) -> int:
        return self.port + 1

    @property
    def hosts(self) -> list[str]:
        return [n.address for n in self.nodes]

    def url(self, keyspace: str = "") -> str:
        """A store URL naming every node and the CQL port, optionally with a keyspace."""
        base = f"cassandra://{','.join(self.hosts)}:{self.port}"
        return f"{base}/{keyspace}" if keyspace else base

    # -- lifecycle --------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> CassandraCluster:
        """Start every node at once and wait until each is up and sees all the others."""
        lib = fetch(self.home)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "cluster.json").write_text(json.dumps({"port": self.port}))
        (self.data_dir / "logback.xml").write_text(_LOGBACK)
        for node in self.nodes:
            self._check_ports_free(node)
        # A crashed test run must not leave JVMs behind.
        atexit.register(self.stop)
        marks = {}
        try:
            for node in self.nodes:
                marks[node.index] = node.log_size()
                self._spawn(node, lib)
            self._wait_ready(self.nodes, marks, timeout)
        except BaseException:
            self.stop()  # a failed start (or a Ctrl-C during it) leaves no JVM behind
            raise
        return self

    def stop(self) -> None:
        """Stop every node: SIGTERM (Cassandra drains), then SIGKILL after ``STOP_GRACE``."""
        for node in self.nodes:
            if node.running:
                assert node.process is not None
                node.process.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for node in self.nodes:
            self._reap(node, max(0.0, deadline - time.monotonic()))

    def kill(self, index: int) -> Node:
        """SIGKILL one node, as a host crash; returns it."""
        node = self.nodes[index]
        if node.running:
            assert node.process is not None
            node.process.send_signal(signal.SIGKILL)
        self._reap(node, 10.0)
        return node

    def restart(self, index: int, timeout: float = START_TIMEOUT) -> Node:
        """Start a stopped node again on its data; wait until it and its peers see each other."""
        return self.restart_many([index], timeout)[0]

    def restart_many(self, indices: Sequence[int], timeout: float = START_TIMEOUT) -> list[Node]:
        """Start several stopped nodes at once (as after losing a majority: one at a time
        would double the wait); wait until each and its peers see each other."""
        nodes = [self.nodes[i] for i in indices]
        stopped = [n for n in nodes if not n.running]
        for node in stopped:
            self._check_ports_free(node)
        marks = {n.index: n.log_size() for n in self.nodes}
        for node in stopped:
            self._spawn(node, fetch(self.home))
        self._wait_ready(stopped, marks, timeout)
        return nodes

    def __enter__(self) -> CassandraCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- CQL, through the Python driver -----------------------------------------------

    @contextlib.contextmanager
    def session(self, keyspace: str | None = None, timeout: float = 10.0) -> Iterator[Any]:
        """A driver session on the running nodes (token-aware), shut down on exit."""
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

        policy = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=DATACENTER))
        profile = ExecutionProfile(load_balancing_policy=policy, request_timeout=timeout)
        cluster = Cluster(
            [n.address for n in self.nodes if n.running],
            port=self.port,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            # Cassandra 5.0 speaks v5; named, the driver does not first try (and log) the
            # DataStax-only versions 66 and 65.
            protocol_version=PROTOCOL_VERSION,
            # A schema change returns once every node has it, so that the next statement,
            # whichever node coordinates it, sees it: that can take long on a busy box.
            max_schema_agreement_wait=int(DDL_TIMEOUT),
            # Starved nodes have paused for 30-100 s here; the default 30 s heartbeat
            # timeout then fails every request in flight on the connection.
            idle_heartbeat_timeout=DDL_TIMEOUT,
        )
        try:
            yield cluster.connect(keyspace)
        finally:
            cluster.shutdown()

    def create_keyspace(self, name: str, replication_factor: int = 3) -> None:
        """Create keyspace ``name`` (if absent) replicated on ``replication_factor`` nodes."""
        if not re.fullmatch(r"[A-Za-z0-9_]{1,48}", name):
            raise ValueError(f"not a keyspace name: {name!r}")
        with self.session(timeout=DDL_TIMEOUT) as session:
            execute_schema(
                session,
                f"CREATE KEYSPACE IF NOT EXISTS {name} WITH replication = "
                f"{{'class': 'SimpleStrategy', 'replication_factor': {replication_factor}}}",
            )

    # -- readiness --------------------------------------------------------------------

    def _wait_ready(self, fresh: list[Node], marks: dict[int, int], timeout: float) -> None:
        """Wait until every ``fresh`` node has started and it and each running peer see the
        other UP, reading only what each log gained after ``marks[node]``."""
        deadline = time.monotonic() + timeout
        for node in fresh:
            while not self._ready(node, marks):
                if not node.running:
                    raise self._not_ready(node, timeout, "exited while starting")
                if time.monotonic() > deadline:
                    raise self._not_ready(node, timeout, "did not become ready")
                time.sleep(POLL)

    def _ready(self, node: Node, marks: dict[int, int]) -> bool:
        """True if ``node`` logged start-up complete and it and every running peer saw
        each other come UP since the marks."""
        if READY_LINE not in node.log_since(marks[node.index]):
            return False
        for peer in self.nodes:
            if peer is node or not peer.running:
                continue
            if not self._saw_up(node, peer, marks) or not self._saw_up(peer, node, marks):
                return False
        return True

    def _saw_up(self, observer: Node, subject: Node, marks: dict[int, int]) -> bool:
        """True if ``observer`` logged ``subject`` coming UP (Gossiper's own words)."""
        log = observer.log_since(marks[observer.index])
        endpoint = f"/{subject.address}:{self.storage_port}"
        return f"{endpoint} is now UP" in log or f"{endpoint} has restarted, now UP" in log

    def _not_ready(self, node: Node, timeout: float, what: str) -> StoreUnavailable:
        return StoreUnavailable(
            f"Cassandra {node.name} at {node.address}:{self.port} {what} "
            f"(waited up to {timeout:.0f}s).\n{node.log_tail()}",
            hint=f"Read the logs under {node.directory}; stop any other Cassandra using "
            f"ports {self.port}-{self.port + 1 + len(self.nodes)}.",
        )

    # -- internals --------------------------------------------------------------------

    def _check_ports_free(self, node: Node) -> None:
        for host, port in (
            (node.address, self.port),
            (node.address, self.storage_port),
            ("127.0.0.1", node.jmx_port),
        ):
            if not _port_free(host, port):
                raise StoreUnavailable(
                    f"Port {host}:{port} for Cassandra {node.name} is in use.",
                    hint="Another Cassandra (a dev cluster?) may be running there: stop "
                    "it, or use another port (a cluster takes PORT to PORT+4).",
                )

    def _spawn(self, node: Node, lib: Path) -> None:
        for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw", "logs", "tmp"):
            (node.directory / sub).mkdir(parents=True, exist_ok=True)
        config = node.directory / "cassandra.yaml"
        config.write_text(_yaml(self._node_settings(node)))
        args = [str(java17()), *self._jvm_options(node, config), "-cp", f"{lib}/*"]
        args.append("org.apache.cassandra.service.CassandraDaemon")
        node.output = (node.directory / "jvm.out").open("ab")
        # Own session: a Ctrl-C in the terminal must not kill nodes behind our back.
        node.process = subprocess.Popen(
            args,
            stdout=node.output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=node.directory,
            start_new_session=True,
        )

    def _jvm_options(self, node: Node, config: Path) -> list[str]:
        tmp = node.directory / "tmp"
        return [
            f"-Xms{self.heap_mb}m",  # Xms = Xmx, as the stock scripts do
            f"-Xmx{self.heap_mb}m",
            "-Xss256k",
            "-XX:+UseG1GC",
            "-XX:+ParallelRefProcEnabled",
            # The client compiler only: three fresh JVMs on two cores spend most of their
            # first minutes in C2 compiler threads. Measured here (docs/cassandra.md):
            # start-up CPU per node 25 s -> 14 s, and LWT cycles in the first minutes
            # 3-4x faster. jvm_options=["-XX:TieredStopAtLevel=4"] restores C2.
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseThreadPriorities",
            "-XX:+PerfDisableSharedMem",
            "-ea",
            "-da:net.openhft...",
            "-Djava.net.preferIPv4Stack=true",
            *_JAVA17_OPTIONS,
            f"-Dcassandra.config={config.as_uri()}",  # must be a URL, not a path
            f"-Dcassandra.storagedir={node.directory}",
            f"-Dcassandra.logdir={node.directory / 'logs'}",
            f"-Dlogback.configurationFile={self.data_dir / 'logback.xml'}",
            f"-Dcassandra.triggers_dir={tmp}",
            "-Dcassandra-foreground=yes",
            f"-Dcassandra.jmx.local.port={node.jmx_port}",
            # A fresh test cluster: no waiting for gossip to settle or for a superuser.
            "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            "-Dcassandra.superuser_setup_delay_ms=0",
            # The first node up waits this long for a peer to gossip with before going on
            # alone (measured: 10 s of a 74 s start at 10000). Nodes never bootstrap here,
            # which is what the delay protects.
            "-Dcassandra.ring_delay_ms=1000",
            # When all nodes stop at once, each would wait up to a minute for its messages
            # to peers that are stopping too (measured: stop() ran into its SIGKILL);
            # this closes those connections at once. Memtables are still flushed.
            "-Dcassandra.test.messagingService.nonGracefulShutdown=true",
            # JNA must load (a fatal start-up check): its natives unpack here.
            f"-Djna.tmpdir={tmp}",
            f"-Djava.io.tmpdir={tmp}",
            *self.jvm_options,
        ]

    def _node_settings(self, node: Node) -> dict[str, object]:
        seeds = ",".join(f"{n.address}:{self.storage_port}" for n in self.nodes)
        d = node.directory
        settings: dict[str, object] = {
            "cluster_name": "berthing",
            "num_tokens": 1,
            "initial_token": str(_token(node.index, len(self.nodes))),
            "auto_bootstrap": False,
            "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
            "endpoint_snitch": "SimpleSnitch",
            "seed_provider": [
                {
                    "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
                    "parameters": [{"seeds": seeds}],
                }
            ],
            "listen_address": node.address,
            "rpc_address": node.address,
            "storage_port": self.storage_port,
            "native_transport_port": self.port,
            "data_file_directories": [str(d / "data")],
            "commitlog_directory": str(d / "commitlog"),
            "saved_caches_directory": str(d / "saved_caches"),
            "hints_directory": str(d / "hints"),
            "cdc_raw_directory": str(d / "cdc_raw"),
            **_COMMON_SETTINGS,
        }
        settings.update(self.settings)
        return settings

    @staticmethod
    def _reap(node: Node, timeout: float) -> None:
        if node.process is not None:
            try:
                node.process.wait(timeout)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()
        if node.output is not None:
            node.output.close()
            node.output = None


def execute_schema(session: Any, statement: str, timeout: float = DDL_TIMEOUT) -> None:
    """Run an idempotent schema statement (``... IF NOT EXISTS``) until every node has it.

    On a saturated two-core box a node can stall for half a minute or more; the driver
    then gives up on its connection ("defunct by heartbeat") and the statement times out
    although it may well have been applied. Being idempotent, it is simply sent again
    until ``timeout``.
    """
    from cassandra import OperationTimedOut
    from cassandra.cluster import NoHostAvailable

    deadline = time.monotonic() + timeout
    while True:
        try:
            done = session.execute(statement, timeout=max(1.0, deadline - time.monotonic()))
        except (OperationTimedOut, NoHostAvailable) as exc:
            if time.monotonic() >= deadline:
                raise StoreUnavailable(
                    f"Schema statement not done within {timeout:.0f}s: {exc}",
                    hint="The nodes may be starved of CPU; read their logs.",
                ) from exc
            continue
        if done.response_future.is_schema_agreed:
            return
        raise StoreUnavailable(
            f"The nodes did not agree on the schema within {timeout:.0f}s after: {statement}",
            hint="The nodes may be starved of CPU; read their logs.",
        )


# Every node's settings apart from its addresses and directories.
_COMMON_SETTINGS: dict[str, object] = {
    "commitlog_sync": "periodic",
    "commitlog_sync_period": "10000ms",
    # A fresh cluster of 5.0 nodes only: no need to speak 4.x formats.
    "storage_compatibility_mode": "NONE",
    "paxos_variant": "v2",
    # Three JVMs share two cores: small pools, one compactor, one flusher.
    "concurrent_reads": 8,
    "concurrent_writes": 8,
    "concurrent_counter_writes": 4,
    "concurrent_materialized_view_writes": 4,
    "concurrent_compactors": 1,
    "memtable_flush_writers": 1,
    # A busy shared box stalls JVMs now and then: convict peers later, time out later.
    "phi_convict_threshold": 12,
    "read_request_timeout": "10000ms",
    "range_request_timeout": "20000ms",
    "write_request_timeout": "5000ms",
    "cas_contention_timeout": "5000ms",
    "request_timeout": "20000ms",
    # Tests drop and truncate tables freely; snapshots would only fill the disk.
    "auto_snapshot": False,
}


def _token(index: int, count: int) -> int:
    """The Murmur3 token of node ``index`` of ``count``, evenly spaced over the ring."""
    return -(2**63) + index * (2**64 // count)


def _yaml(settings: Mapping[str, object]) -> str:
    """cassandra.yaml text: one key a line, each value in JSON, which is YAML flow style."""
    lines = ["# Written by berthing.devtools.cassandra_cluster."]
    lines += [f"{key}: {json.dumps(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def _port_free(host: str, port: int) -> bool:
    """True if nothing listens on host:port (TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m berthing.devtools.cassandra_cluster fetch``: fetch the jars ahead of time."""
    parser = argparse.ArgumentParser(prog="python -m berthing.devtools.cassandra_cluster")
    parser.add_argument("command", choices=["fetch"], help="fetch Cassandra's jars if absent")
    parser.parse_args(argv)
    started = time.monotonic()
    try:
        lib = fetch()
    except StoreUnavailable as exc:
        print(f"error: {exc.message}\nnext: {exc.hint}", file=sys.stderr)
        return 2
    jars = list(lib.glob("*.jar"))
    size_mb = sum(j.stat().st_size for j in jars) / 2**20
    print(
        f"Cassandra {CASSANDRA_VERSION}: {len(jars)} jars, {size_mb:.0f} MiB in {lib} "
        f"({time.monotonic() - started:.1f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
