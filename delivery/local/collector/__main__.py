"""``python -m delivery.local.collector --publish CONTAINER:HOST ...``: the stand-in, running.

Its configuration is the ``AOT_CONFIG_CONTENT`` environment variable, as ADOT reads it; AWS is
whatever the AWS variables point at (the emulator). Runs until SIGTERM or SIGINT, then sends what
it holds and exits 0; a configuration it cannot run is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from delivery.errors import DeliveryError
from delivery.local.collector.config import LOG_LEVELS, SOURCE, parse
from delivery.local.collector.server import Collector


def _publish(value: str) -> tuple[int, int]:
    container, _, host = value.partition(":")
    if not (container.isdigit() and host.isdigit()):
        raise argparse.ArgumentTypeError(f"{value!r} is not CONTAINER_PORT:HOST_PORT")
    return int(container), int(host)


def main(argv: list[str]) -> int:
    """Run the stand-in until it is signalled; its exit status."""
    parser = argparse.ArgumentParser(prog="python -m delivery.local.collector")
    parser.add_argument("--publish", type=_publish, action="append", default=[])
    arguments = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "")
    try:
        config = parse(os.environ.get(SOURCE, ""))
        logging.getLogger().setLevel(LOG_LEVELS[config.log_level])
        collector = Collector(config, dict(arguments.publish), region).start()
    except (DeliveryError, OSError, ValueError) as exc:
        print(f"collector: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    collector.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
