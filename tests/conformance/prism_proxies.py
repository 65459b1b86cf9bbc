"""Start Prism proxies on loopback ports no other process can take meanwhile.

Picking a port with bind(0) and closing it before Prism binds leaves a window of seconds
(Prism takes 2-20 s to start) in which another test's bind(0), or any outgoing connection,
can take the same port. Then the check "something answers on the port" passes against the
wrong server, and every request fails with Prism's "route not found" from another spec.

Here each port stays reserved until its own Prism listens on it: the reservation is a socket
bound with SO_REUSEADDR and never listening, which Linux lets a second SO_REUSEADDR socket
(Node's listening socket) share, while bind(0) and connect() skip a port with a bound socket.
A proxy counts as ready only while its own process is alive.
"""

import socket
import subprocess
import time


def reserve_port():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def _answers(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def start(prism, proxies, timeout, procs):
    """proxies: {name: (spec_path, upstream_url)}. Appends every started process to procs
    (the caller kills them), returns {name: port}, or raises RuntimeError naming the proxy
    that did not start."""
    ports, held, by_name = {}, {}, {}
    try:
        for name, (spec, upstream) in proxies.items():
            held[name], ports[name] = reserve_port()
            by_name[name] = subprocess.Popen(
                [prism, "proxy", "-h", "127.0.0.1", "-p", str(ports[name]), "--errors", spec, upstream],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(by_name[name])
        deadline = time.time() + timeout
        for name, port in ports.items():
            while not _answers(port):
                if by_name[name].poll() is not None:
                    raise RuntimeError(f"Prism for {name} exited with {by_name[name].returncode} "
                                       f"before listening on port {port}")
                if time.time() > deadline:
                    raise RuntimeError(f"Prism for {name} did not start within {timeout} s")
                time.sleep(0.25)
            if by_name[name].poll() is not None:
                raise RuntimeError(f"port {port} answers but Prism for {name} exited with "
                                   f"{by_name[name].returncode}: another server has the port")
    finally:
        for s in held.values():
            s.close()
    return ports
