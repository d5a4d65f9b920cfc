"""A bounded load on loopback: `nep serve` with the n-gram baseline answers every request of many
concurrent clients (suggestions and fsynced feedback), with no error. Speed and memory figures are
bench/bench_load.py's business; this test only counts answers."""

from __future__ import annotations

import collections
import threading

import httpx
from server_helpers import ServeProcess

CLIENTS = 16
REQUESTS_PER_CLIENT = 40


def test_many_concurrent_clients_get_answers_and_no_errors(tmp_path, tags_sessions):
    histories = [[event.to_json() for event in session.events[:cut]] for session in tags_sessions[:20] for cut in (3, 9, 15)]
    server = ServeProcess("--domain", "tags", "--model", "ngram", "--port", "0", "--data-dir", str(tmp_path))
    statuses: collections.Counter[int] = collections.Counter()
    suggested = collections.Counter()
    lock = threading.Lock()

    def client(index: int) -> None:
        seen: collections.Counter[int] = collections.Counter()
        answers = 0
        with httpx.Client(base_url=server.url, timeout=120) as http:
            for step in range(REQUESTS_PER_CLIENT):
                if step % 10 == 9:
                    response = http.post("/v1/feedback", json={"session": f"load-{index}", "accepted": False, "t": float(step)})
                else:
                    history = histories[(index * 7 + step) % len(histories)]
                    response = http.post("/v1/suggest", json={"session": f"load-{index}", "history": history})
                    answers += response.status_code == 200 and "suggestions" in response.json()
                seen[response.status_code] += 1
        with lock:
            statuses.update(seen)
            suggested[index] = answers

    try:
        threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        health = httpx.get(f"{server.url}/v1/health", timeout=30).json()
    finally:
        status, stderr = server.interrupt()
    assert statuses == {200: CLIENTS * REQUESTS_PER_CLIENT}
    assert sum(suggested.values()) == CLIENTS * (REQUESTS_PER_CLIENT - REQUESTS_PER_CLIENT // 10)
    assert health["status"] == "ok"
    assert health["speculation"]["hits"] + health["speculation"]["misses"] == sum(suggested.values())
    assert status == 0 and "Traceback" not in stderr
    logs = sorted(path.name for path in (tmp_path / "tags").iterdir())
    assert logs == sorted(f"load-{index}.jsonl" for index in range(CLIENTS))
