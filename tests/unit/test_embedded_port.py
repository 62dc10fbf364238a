"""The embedded server's port check: a port that a server has just left is judged free."""

import socket

from retailmart_dagster.resources.embedded import _port_is_free


def test_a_port_just_closed_by_a_listening_server_is_free() -> None:
    # A server that accepted a connection and closed it first (as PostgreSQL does on stop) leaves
    # the port in TIME_WAIT: a plain bind() fails with EADDRINUSE, PostgreSQL's own (SO_REUSEADDR)
    # succeeds. The check must judge the port as PostgreSQL would, or the server moves to a new port.
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end goes to TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    assert _port_is_free(port)


def test_a_port_in_use_is_not_free() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert not _port_is_free(server.getsockname()[1])
