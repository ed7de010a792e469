"""Read activator request records (JSONL) for a time window, sampled and cached per file.

Files are `<dir>/<namespace>/<deployment>/<YYYY-MM-DDTHH>Z.jsonl` (serving/activator/records.py),
one per target and UTC hour, so a window is a set of files: files wholly outside it are never
opened. Each file is read once into a seeded uniform sample of at most `per_file` records and
kept while its size and mtime stay the same, so an hourly job over a 7-day reference re-reads only
the file of the current hour. Malformed lines are skipped and counted, never fatal.
"""

from __future__ import annotations

import logging
import random
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from metrics.request_record import RequestRecord

log = logging.getLogger(__name__)
HOUR_S = 3600.0


def file_hour(path: Path) -> float | None:
    """Start of the UTC hour a record file covers, from its name; None for other names."""
    try:
        return datetime.strptime(path.name, "%Y-%m-%dT%HZ.jsonl").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def record_files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*.jsonl") if p.is_file()))
        elif path.is_file():
            out.append(path)
        else:
            raise ValueError(f"records: {path} is neither a file nor a directory")
    return out


@dataclass
class RecordCache:
    per_file: int = 20_000
    seed: int = 0
    _files: dict[Path, tuple[tuple[int, int], tuple[RequestRecord, ...], int]] = field(default_factory=dict)

    def records(self, path: Path) -> tuple[RequestRecord, ...]:
        stat = path.stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
        cached = self._files.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        sample, bad = self._read(path)
        if bad:
            log.warning("records: %d malformed lines skipped in %s", bad, path)
        self._files[path] = (stamp, sample, bad)
        return sample

    def _read(self, path: Path) -> tuple[tuple[RequestRecord, ...], int]:
        # Reservoir sampling (algorithm R), seeded by the file name: the same file always gives
        # the same sample, and a large hour costs memory for per_file records only.
        rng = random.Random(zlib.crc32(path.name.encode()) ^ self.seed)
        reservoir: list[RequestRecord] = []
        seen = bad = 0
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    record = RequestRecord.from_json(line)
                except (ValueError, TypeError, KeyError):
                    bad += 1
                    continue
                seen += 1
                if len(reservoir) < self.per_file:
                    reservoir.append(record)
                else:
                    j = rng.randrange(seen)
                    if j < self.per_file:
                        reservoir[j] = record
        return tuple(reservoir), bad

    def forget_missing(self) -> None:
        for path in [p for p in self._files if not p.exists()]:
            del self._files[path]


def read_records(
    paths: Sequence[Path], start: float | None = None, end: float | None = None, cache: RecordCache | None = None
) -> Iterator[RequestRecord]:
    """Records with start <= ts < end from the files under `paths` (None: unbounded)."""
    cache = cache or RecordCache()
    for path in record_files(paths):
        hour = file_hour(path)
        if hour is not None and ((end is not None and hour >= end) or (start is not None and hour + HOUR_S <= start)):
            continue
        for record in cache.records(path):
            if (start is None or record.ts >= start) and (end is None or record.ts < end):
                yield record
