"""``python -m billing.stripe_fake``: the fake on a fixed port, until Ctrl-C.

Its clock ticks on its own (``--tick``), so a trial ends and a payment is retried while the
person watching only waits; ``/_fake/`` moves it faster.
"""

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .server import StripeFake


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m billing.stripe_fake", description=__doc__)
    parser.add_argument("--port", type=int, default=12111, help="port on 127.0.0.1 (default 12111)")
    parser.add_argument("--webhook-url", help="where to POST events (e.g. the app's webhook view)")
    parser.add_argument("--webhook-secret", help="whsec_… to sign them with (default: a new one)")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between clock checks")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, *, stop: threading.Event | None = None) -> int:
    options = arguments(argv)
    fake = StripeFake(
        port=options.port,
        tick_seconds=options.tick,
        webhook_url=options.webhook_url,
        webhook_secret=options.webhook_secret,
    )
    for endpoint in fake.webhooks.endpoints:
        print(f"Webhooks to {endpoint.url}, signed with {endpoint.secret}", flush=True)
    stopping = stop or threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
    with fake:
        print(f"Stripe fake on {fake.url} (clock: {fake.url}/_fake/)", flush=True)
        stopping.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
