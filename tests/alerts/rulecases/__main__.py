from __future__ import annotations

from tests.alerts.rulecases import TESTS_DIR, files

if __name__ == "__main__":
    TESTS_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in files().items():
        (TESTS_DIR / name).write_text(text)
        print(f"wrote {TESTS_DIR / name}")
