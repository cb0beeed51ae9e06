"""
A private, throw-away PostgreSQL server for tests and benchmarks: Debian's binaries, ``initdb`` and
``pg_ctl`` on a temporary directory, a free localhost port, trust authentication. As root the
server runs as the ``postgres`` user (PostgreSQL refuses to run as root).
"""

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


class PostgresUnavailable(Exception):
    """Why no PostgreSQL server could be started here."""


def find_binaries() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresUnavailable("no initdb found (apt-get install postgresql)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runner() -> tuple[list[str], int | None, int | None]:
    """The command prefix running as an unprivileged user, and that user's ids (as root)."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError as e:
        raise PostgresUnavailable("running as root and there is no postgres user") from e
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and there is no runuser")
    return [runuser, "-u", "postgres", "--"], user.pw_uid, user.pw_gid


@contextlib.contextmanager
def private_postgres() -> Iterator[str]:
    """
    Start a PostgreSQL server for the duration of the block.
    :return: the URL of its ``postgres`` database (user ``postgres``, no password)
    :raises PostgresUnavailable: when it cannot be started here, saying why
    """
    bindir = find_binaries()
    prefix, uid, gid = _runner()
    root = Path(tempfile.mkdtemp(prefix="posmgmt-pg-"))
    if uid is not None:
        os.chown(root, uid, gid)
    data, port = root / "data", free_port()
    try:
        _run(prefix, bindir / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync")
        _run(
            prefix, bindir / "pg_ctl", "-D", data, "-l", root / "log", "-w", "-t", "60", "start",
            "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200",
        )  # fmt: skip
    except PostgresUnavailable:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """A new, empty database on the server; its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def _run(prefix: list[str], *command: object) -> None:
    proc = subprocess.run(
        [*prefix, *map(str, command)], capture_output=True, text=True, check=False, timeout=120
    )
    if proc.returncode != 0:
        output = (proc.stderr or proc.stdout).strip().splitlines()
        raise PostgresUnavailable(f"{Path(str(command[0])).name} failed: {output[-1:]}")
