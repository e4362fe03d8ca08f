"""A throwaway Ray cluster on this machine, for tests, benchmarks and trying the Ray executor.

:class:`LocalCluster` starts a head and worker nodes as separate processes with the ``ray`` CLI
(``ray start --head --block``, ``ray start --address ... --block``), each with fixed CPUs, its
own free ports and a small object store, so that it never collides with another cluster on the
machine. :meth:`LocalCluster.stop` ends exactly the processes it started (each node and its
descendants, found through ``/proc``), never every Ray process of the machine as ``ray stop``
does.

Examples
--------
>>> with LocalCluster(workers=2, head_cpus=0) as cluster:      # doctest: +SKIP
...     labcoat.fit(frame, "churn", executor="ray", ray_address=cluster.address)
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: Object store of each node (bytes): small, the studies put one data set in it.
OBJECT_STORE_BYTES = 256 * 2**20


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    """One ``ray start --block`` process (head or worker) and its log."""

    process: subprocess.Popen
    log: Path
    head: bool

    def descendants(self) -> list[int]:
        """Process ids started by this node (raylet, GCS, Ray workers...), itself included."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found


class LocalCluster:
    """A Ray head and ``workers`` worker nodes as separate processes on this machine.

    Parameters
    ----------
    workers : worker nodes to start with the head.
    cpus : CPUs each worker node offers.
    head_cpus : CPUs of the head node (0: the head schedules no trial).
    dashboard : start the dashboard, which Ray's state API (``ray.util.state``) needs
        (with ``ray[default]`` installed); its URL is :attr:`dashboard_url`.
    """

    def __init__(self, workers: int = 1, *, cpus: int = 1, head_cpus: int = 1, dashboard: bool = False) -> None:
        self.workers, self.cpus, self.head_cpus, self.dashboard = workers, cpus, head_cpus, dashboard
        self.nodes: list[Node] = []
        self.folder = Path(tempfile.mkdtemp(prefix="lc-ray-", dir="/tmp"))  # short: socket paths
        self.address = ""
        self.dashboard_url = ""
        self._ray = str(Path(sys.executable).with_name("ray"))
        self._ports: set[int] = set()

    def __enter__(self) -> LocalCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> LocalCluster:
        """Start the head, then the workers; return once every node has joined."""
        port = self._port()
        options = ["--head", "--port", str(port), "--num-cpus", str(self.head_cpus),
                   "--temp-dir", str(self.folder / "tmp"), "--ray-client-server-port", str(self._port())]
        if self.dashboard:
            dashboard_port = self._port()
            options += ["--include-dashboard=true", "--dashboard-host", "127.0.0.1",
                        "--dashboard-port", str(dashboard_port)]
            self.dashboard_url = f"http://127.0.0.1:{dashboard_port}"
        else:
            options += ["--include-dashboard=false"]
        self.nodes.append(self._node(options, head=True))
        # The workers start while the head does: they wait for its GCS at the known port.
        self.address = f"127.0.0.1:{port}"
        for _ in range(self.workers):
            self.add_worker()
        self.address = self._head_address(timeout)
        self.wait_for_nodes(1 + self.workers, timeout)
        return self

    def add_worker(self) -> Node:
        """Start one more worker node (joining takes a few seconds; see :meth:`wait_for_nodes`)."""
        # A temporary folder per node: nodes starting at once would otherwise race for the same
        # socket names in a shared session folder.
        node = self._node(["--address", self.address, "--num-cpus", str(self.cpus),
                           "--temp-dir", str(self.folder / f"tmp{len(self.nodes)}")], head=False)
        self.nodes.append(node)
        return node

    def wait_for_nodes(self, count: int, timeout: float = 60.0) -> None:
        """Block until ``count`` nodes are alive (asked through a short driver connection)."""
        import ray

        ray.init(address=self.address, log_to_driver=False, logging_level=logging.ERROR)
        try:
            end = time.monotonic() + timeout
            while sum(n["Alive"] for n in ray.nodes()) < count:
                if time.monotonic() > end or any(n.process.poll() is not None for n in self.nodes):
                    logs = "\n".join(f"--- {n.log.name}:\n{n.log.read_text()[-1500:]}" for n in self.nodes)
                    raise RuntimeError(f"The Ray cluster did not reach {count} nodes:\n{logs}")
                time.sleep(0.2)
        finally:
            ray.shutdown()

    def stop(self) -> None:
        """End every process this cluster started (gracefully, then SIGKILL) and remove its files."""
        pids = [pid for node in self.nodes for pid in node.descendants()]
        for node in self.nodes:
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)  # `ray start --block` stops its own processes
        end = time.monotonic() + 10
        for node in self.nodes:
            try:
                node.process.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for node in self.nodes:
            node.process.wait()
        self.nodes = []
        shutil.rmtree(self.folder, ignore_errors=True)

    # ------------------------------------------------------------------ internals
    def _port(self) -> int:
        """A free port this cluster has not handed out before: the kernel may give the same
        free port twice (CI once saw the dashboard's and the runtime env agent's equal, and the
        head refused to start)."""
        port = free_port()
        while port in self._ports:
            port = free_port()
        self._ports.add(port)
        return port

    def _node(self, options: list[str], *, head: bool) -> Node:
        ports = ["--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
                 "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port"]
        command = [self._ray, "start", "--block", "--disable-usage-stats", "--node-ip-address", "127.0.0.1",
                   "--object-store-memory", str(OBJECT_STORE_BYTES), *options]
        for flag in ports:
            command += [flag, str(self._port())]
        log = self.folder / f"node-{len(self.nodes)}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, env=self._env())
        return Node(process=process, log=log, head=head)

    @staticmethod
    def _env() -> dict[str, str]:
        """The nodes' environment. Token authentication as this process's drivers will use it:
        ``RAY_AUTH_MODE`` if set, else off (``ray start`` would turn it on whenever
        ``~/.ray/auth_token`` exists, which a local ``ray.init()`` creates, while a driver given
        an address does not)."""
        return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0",
                "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}

    def _head_address(self, timeout: float) -> str:
        """The GCS address the head wrote (Ray replaces 127.0.0.1 by the machine's address)."""
        marker = self.folder / "tmp" / "ray_current_cluster"
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if marker.exists() and marker.read_text().strip():
                return marker.read_text().strip()
            if self.nodes[0].process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"The Ray head did not start; see {self.nodes[0].log}:\n"
                           + self.nodes[0].log.read_text()[-2000:])


__all__ = ["LocalCluster", "Node", "free_port"]
