"""Per-call cost of the typed payloads: decode+validate the PUT body, encode the candidates.

Every decoder is first shown the same bad bodies and must refuse each one, so that the
fast ones are not fast because they check less.
"""

from __future__ import annotations

import argparse
import json
import time
import timeit
from collections.abc import Callable
from functools import partial
from typing import Any

import msgspec
import orjson
import payload_dataclass as dc
import payload_msgspec as ms
import payload_pydantic as pd
from shared import ApiError, put_body

BAD_BODIES: dict[str, Callable[[Any], object]] = {
    "amount 0": lambda b: b["allocations"][next(iter(b["allocations"]))]["resources"].update(
        VCPU=0
    ),
    "lower-case class": lambda b: b["allocations"][next(iter(b["allocations"]))][
        "resources"
    ].update(vcpu=1),
    "unknown field": lambda b: b.update(extra=1),
    "bad provider uuid": lambda b: b["allocations"].update(
        {"not-a-uuid": {"resources": {"VCPU": 1}}}
    ),
    "no consumer_generation": lambda b: b.pop("consumer_generation"),
    "generation as string": lambda b: b.update(consumer_generation="1"),
    "bool amount": lambda b: b["allocations"][next(iter(b["allocations"]))]["resources"].update(
        VCPU=True
    ),
    "empty resources": lambda b: b["allocations"].update(
        {"11111111-2222-3333-4444-555555555555": {"resources": {}}}
    ),
    "bad consumer_type": lambda b: b.update(consumer_type="instance"),
}

DECODERS: dict[str, Callable[[bytes], object]] = {
    "msgspec Struct": ms.decode_put,
    "pydantic v2 model_validate_json": pd.decode_put,
    "dataclasses + json.loads + checks": dc.decode_put_json,
    "dataclasses + orjson.loads + checks": dc.make_decoder(orjson.loads),
}

_ms_candidates = ms.build_candidates(10)
_pd_candidates = pd.build_candidates(10)
_dc_candidates = dc.build_candidates(10)
_ms_encoder = msgspec.json.Encoder()

ENCODERS: dict[str, Callable[[], bytes]] = {
    "msgspec Struct -> msgspec.json": lambda: _ms_encoder.encode(_ms_candidates),
    "pydantic v2 model_dump_json": lambda: pd.encode(_pd_candidates),
    "dataclasses -> asdict + json.dumps": lambda: dc.encode_json(_dc_candidates),
    "dataclasses -> orjson.dumps": lambda: orjson.dumps(_dc_candidates),
    "dataclasses -> msgspec.json": lambda: _ms_encoder.encode(_dc_candidates),
}


def check_decoders(body: dict[str, object]) -> None:
    """Each decoder accepts the good body and refuses every bad one with ApiError(400)."""
    good = json.dumps(body).encode()
    for name, decode in DECODERS.items():
        decode(good)
        for what, spoil in BAD_BODIES.items():
            bad = json.loads(good)
            spoil(bad)
            try:
                decode(json.dumps(bad).encode())
            except ApiError as err:
                assert err.status == 400, (name, what)
            else:
                raise AssertionError(f"{name} accepted a body with {what}")


def check_encoders() -> int:
    """Every encoder produces the same document; returns its size in bytes."""
    docs = {name: json.loads(encode()) for name, encode in ENCODERS.items()}
    first = next(iter(docs.values()))
    for name, doc in docs.items():
        assert doc == first, f"{name} encodes a different document"
    return len(next(iter(ENCODERS.values()))())


def per_call_us(
    fns: dict[str, Callable[[], object]], repeats: int = 7, target_s: float = 0.02
) -> dict[str, float]:
    """Best of ``repeats`` timings (~``target_s`` of CPU each) per function, taken
    round-robin so that a slow spell of this shared machine hits every library alike.

    The clock is this process's CPU time, not the wall clock: on a machine shared with other
    work, wall time also counts the slices other processes ran in, CPU time does not."""
    timers = {name: timeit.Timer(fn, timer=time.process_time) for name, fn in fns.items()}
    numbers = {
        name: max(10, int(target_s / max(timer.timeit(20) / 20, 1e-8)))
        for name, timer in timers.items()
    }
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(numbers[name]) / numbers[name] * 1e6)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    body = put_body()
    check_decoders(body)
    size = check_encoders()
    raw = json.dumps(body).encode()
    decode = per_call_us({name: partial(d, raw) for name, d in DECODERS.items()})
    encode = per_call_us(dict(ENCODERS))
    results = [
        {"operation": f"decode+validate PUT body ({len(raw)} B)", "library": name, "us": us}
        for name, us in decode.items()
    ]
    results += [
        {"operation": f"encode candidates ({size} B)", "library": name, "us": us}
        for name, us in encode.items()
    ]
    if args.json:
        print(json.dumps(results))
    else:
        for r in results:
            print(f"{r['operation']:45} {r['library']:40} {r['us']:8.1f} us")


if __name__ == "__main__":
    main()
