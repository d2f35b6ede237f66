"""The moto server the suite runs against: ours or the one given, reset on demand, signed to with
throwaway keys only."""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from cli.eval_cases import EvalError


def reset_moto(endpoint: str) -> None:
    """Empty the moto server; anything that does not answer the reset is not moto and is never used."""
    if not endpoint.startswith(("http://", "https://")):
        raise EvalError(f"endpoint {endpoint} is not an http(s) URL")
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - http(s) only
            reply.read()
    except (urllib.error.URLError, OSError) as error:
        raise EvalError(f"{endpoint} is not a moto server (POST /moto-api/reset failed: {error})") from None


@contextmanager
def _fake_aws_credentials() -> Iterator[None]:
    """Throwaway keys in the environment for as long as the suite runs; the shell's are put back after."""
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "eval", "AWS_SECRET_ACCESS_KEY": "eval", "AWS_SESSION_TOKEN": "eval"}
    )
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def moto_endpoint(endpoint: str | None) -> Iterator[str]:
    """``endpoint`` as given, or a ThreadedMotoServer of our own on a free loopback port; either way it
    is signed to with throwaway keys, never with whatever credentials the shell holds."""
    if endpoint is not None:
        with _fake_aws_credentials():
            yield endpoint.rstrip("/")
        return
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(
        logging.CRITICAL
    )  # moto logs every request, and a traceback per API it lacks
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        with _fake_aws_credentials():
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
    finally:
        server.stop()
