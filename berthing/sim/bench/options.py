"""What one benchmark invocation measures, read from the command line.

``--quick`` fills in small values for CI; any option given explicitly still wins.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

from platformdirs import user_cache_dir

from berthing.model import InvalidInput

__all__ = ["QUICK", "BenchOptions", "options_from_args", "parse_counts", "parse_max_size"]


@dataclass(frozen=True, slots=True)
class BenchOptions:
    sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    schedulers: tuple[int, ...] = (1, 2, 4)
    requests: int = 2_000
    """Timed requests per scheduler process."""
    warmup: int = 100
    """Requests per process placed before timing starts (caches, imports, JIT-free)."""
    seed: int = 1
    store_dir: Path = Path(user_cache_dir("berthing")) / "bench"
    output: Path | None = None
    markdown: Path | None = None
    reruns: int = 2
    """Times a run is repeated while other processes take a noticeable share of the CPU."""
    max_fill: float = 0.8
    """Fewer requests are placed if the cloud would otherwise end up fuller than this."""
    stores: tuple[str, ...] = ()
    """Remote engines to run every configuration on as well, side by side with SQLite
    (``berthing.sim.bench.sites``: ``etcd-local``, ``etcd://...``, ``cassandra-local``,
    ``cassandra://...``); empty: SQLite only."""
    max_sizes: tuple[tuple[str, int], ...] = ()
    """(engine, providers): that engine runs only the sizes up to this many providers
    (registering a large cloud on Cassandra takes long on a small machine)."""

    def max_size(self, engine: str) -> int | None:
        return dict(self.max_sizes).get(engine)

    def command(self) -> str:
        """The command line that repeats this run exactly."""
        parts = [
            "berthing bench scheduler",
            f"--sizes {','.join(map(str, self.sizes))}",
            f"--schedulers {','.join(map(str, self.schedulers))}",
            f"--requests {self.requests}",
            f"--warmup {self.warmup}",
            f"--seed {self.seed}",
            f"--reruns {self.reruns}",
        ]
        if self.stores:
            parts.append(f"--store {','.join(('sqlite', *self.stores))}")
        parts += [f"--max-size {engine}={n}" for engine, n in self.max_sizes]
        return " ".join(parts)


QUICK = BenchOptions(sizes=(200,), schedulers=(1, 2), requests=60, warmup=10, reruns=0)


def parse_counts(text: str) -> tuple[int, ...]:
    """``"1000,10k,100k"`` -> ``(1000, 10000, 100000)``."""
    counts = []
    for part in text.split(","):
        part = part.strip().lower()
        scale = 1000 if part.endswith("k") else 1
        try:
            value = int(part.removesuffix("k")) * scale
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not a count like 1000 or 10k") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"counts must be positive, got {value}")
        counts.append(value)
    return tuple(counts)


def parse_max_size(text: str) -> tuple[str, int]:
    """``"cassandra=3k"`` -> ``("cassandra", 3000)``."""
    engine, sep, count = text.partition("=")
    if not sep or not engine.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not ENGINE=PROVIDERS, e.g. cassandra=3000")
    [value] = parse_counts(count)
    return engine.strip(), value


def options_from_args(args: argparse.Namespace) -> BenchOptions:
    # Here, not at the top: the CLI imports this module to build its parser.
    from berthing.sim.bench.sites import ENGINES, parse_stores

    base = QUICK if args.quick else BenchOptions()
    given = {
        "sizes": args.sizes,
        "schedulers": args.schedulers,
        "requests": args.requests,
        "warmup": args.warmup,
        "seed": args.seed,
        "store_dir": args.store_dir,
        "output": args.output,
        "markdown": args.markdown,
        "reruns": args.reruns,
        "stores": parse_stores(args.store) if getattr(args, "store", None) else None,
        "max_sizes": tuple(args.max_size) if getattr(args, "max_size", None) else None,
    }
    values = {k: v for k, v in given.items() if v is not None}
    opts = replace(base, **values)
    if opts.requests < 1 or opts.warmup < 0 or opts.reruns < 0:
        raise InvalidInput("--requests must be at least 1, --warmup and --reruns at least 0.")
    unknown = {e for e, _ in opts.max_sizes} - set(ENGINES)
    if unknown:
        raise InvalidInput(
            f"--max-size names {', '.join(sorted(unknown))}, not a remote engine.",
            hint=f"Use one of {', '.join(ENGINES)}, e.g. --max-size cassandra=3000.",
        )
    return opts
