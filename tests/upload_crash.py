"""Run a source's product upload in a process that dies (``os._exit``) right after the N-th accepted batch was recorded.

Used by tests/integration/test_upload_faults.py:
``python tests/upload_crash.py <config.yaml> <validated.json> <batches>``. The other batches in flight at that
moment may have been stored by Stock2Shop without the client hearing of it: the run that resumes sends them again,
and nothing else that was accepted.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from stock2shop_sync import pipeline  # noqa: E402
from stock2shop_sync.config import load_source  # noqa: E402
from stock2shop_sync.fingerprints import FingerprintStore  # noqa: E402
from stock2shop_sync.hooks.stock2shop import Stock2ShopHook  # noqa: E402


def main() -> None:
    config_path, validated_path, die_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
    real = FingerprintStore.record_progress
    lock = threading.Lock()
    recorded = [0]

    def record_then_die(self: FingerprintStore, *args: object, **kwargs: object) -> None:
        real(self, *args, **kwargs)  # type: ignore[arg-type]
        with lock:
            recorded[0] += 1
            if recorded[0] == die_after:
                os._exit(137)  # as if the worker were SIGKILLed: no finally, no fingerprints saved

    FingerprintStore.record_progress = record_then_die  # type: ignore[method-assign]
    validated = json.loads(Path(validated_path).read_text())
    pipeline.upload(load_source(config_path), "products", validated, Stock2ShopHook(backoff=0.05))


if __name__ == "__main__":
    main()
