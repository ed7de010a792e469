"""Per-request records for drift reports, written off the event loop.

The proxy hands a finished `RequestRecord` to `RecordSink.put`, which never blocks: records go to
a bounded queue read by one writer thread. When the disk cannot keep up the newest records are
dropped and counted (a drift report over a sample is still a report; a stalled proxy is an
outage). Files: `<dir>/<namespace>/<deployment>/<YYYY-MM-DDTHH>Z.jsonl`, one per target and UTC
hour, so report windows are sets of files.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from metrics.request_record import RequestRecord

log = logging.getLogger(__name__)

_STOP = object()


def record_path(root: Path, namespace: str, deployment: str, ts: float) -> Path:
    hour = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H")
    return root / namespace / deployment / f"{hour}Z.jsonl"


class RecordSink:
    def __init__(self, root: Path, capacity: int) -> None:
        self._root = root
        self._queue: queue.Queue[RequestRecord | object] = queue.Queue(maxsize=capacity)
        self._thread = threading.Thread(target=self._run, name="request-records", daemon=True)
        self._dropped = 0
        self._written = 0
        self._next_warning = 0.0

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def written(self) -> int:
        return self._written

    def start(self) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def put(self, record: RequestRecord) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._dropped += 1
            now = time.monotonic()
            if now >= self._next_warning:
                self._next_warning = now + 60.0
                log.warning("request records: writer behind, %d dropped so far", self._dropped)

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is queued (bounded by timeout_s), then stop the writer."""
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(_STOP, timeout=timeout_s)
        except queue.Full:
            log.warning("request records: writer did not catch up at shutdown")
            return
        self._thread.join(timeout_s)

    def _run(self) -> None:
        files: dict[Path, IO[str]] = {}
        try:
            while True:
                item = self._queue.get()
                batch = [item]
                # Take what else is queued so a busy proxy costs one flush per batch, not per record.
                with contextlib.suppress(queue.Empty):
                    while len(batch) < 1024:
                        batch.append(self._queue.get_nowait())
                stop = False
                for entry in batch:
                    if entry is _STOP:
                        stop = True
                        continue
                    assert isinstance(entry, RequestRecord)
                    self._write(files, entry)
                for handle in files.values():
                    handle.flush()
                if stop:
                    return
        finally:
            for handle in files.values():
                handle.close()

    def _write(self, files: dict[Path, IO[str]], record: RequestRecord) -> None:
        path = record_path(self._root, record.namespace, record.deployment, record.ts)
        handle = files.get(path)
        if handle is None:
            # A new hour: close the previous hour's files of this target.
            for old in [p for p in files if p.parent == path.parent]:
                files.pop(old).close()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                handle = files[path] = path.open("a", encoding="utf-8")
            except OSError as exc:
                self._dropped += 1
                log.warning("request records: cannot open %s: %s", path, exc)
                return
        try:
            handle.write(record.to_json() + "\n")
            self._written += 1
        except (OSError, ValueError) as exc:
            self._dropped += 1
            log.warning("request records: cannot write %s: %s", path, exc)
