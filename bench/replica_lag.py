"""How long a committed write takes to be readable on a streaming replica.

    python -m bench.replica_lag postgresql://postgres@127.0.0.1:5442/postgres \\
        postgresql://postgres@127.0.0.1:5441/postgres [--writes 200]

Each round commits one row on the primary, then polls the replica until it can read it; the
baseline is the same commit followed by a read on the primary, measured in the same run. Prints
the visibility delay's median and 95th percentile and their ratio to the baseline, plus the
lag the replica itself reports (what ``REFERKIT_DATABASE_REPLICA_MAX_LAG_SECONDS`` compares).
Bounded: at most ``--writes`` rounds and 60 seconds. Uses a table ``bench_replica_lag`` of its
own (created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _until_seen(conn: asyncpg.Connection, value: int) -> None:
    async with asyncio.timeout(10):
        while not await conn.fetchval("SELECT 1 FROM bench_replica_lag WHERE n = $1", value):
            pass


async def run(primary_url: str, replica_url: str, writes: int) -> None:
    primary = await asyncpg.connect(_dsn(primary_url))
    replica = await asyncpg.connect(_dsn(replica_url))
    try:
        await primary.execute("DROP TABLE IF EXISTS bench_replica_lag")
        await primary.execute("CREATE TABLE bench_replica_lag (n bigint PRIMARY KEY)")
        await asyncio.sleep(0.5)
        baseline, delays, reported = [], [], []
        stop = time.perf_counter() + 60
        for n in range(writes):
            if time.perf_counter() > stop:
                break
            started = time.perf_counter()
            await primary.execute("INSERT INTO bench_replica_lag VALUES ($1)", 2 * n)
            await _until_seen(primary, 2 * n)
            baseline.append(time.perf_counter() - started)
            started = time.perf_counter()
            await primary.execute("INSERT INTO bench_replica_lag VALUES ($1)", 2 * n + 1)
            await _until_seen(replica, 2 * n + 1)
            delays.append(time.perf_counter() - started)
            reported.append(
                await replica.fetchval(
                    "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() "
                    "THEN 0 ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END"
                )
            )
        base = statistics.median(baseline)
        median = statistics.median(delays)
        p95 = statistics.quantiles(delays, n=20)[-1]
        print(f"rounds: {len(delays)}")
        print(f"commit + read on the primary (baseline): median {base * 1000:.2f} ms")
        print(
            f"commit + first read on the replica: median {median * 1000:.2f} ms "
            f"({median / base:.1f}x), p95 {p95 * 1000:.2f} ms ({p95 / base:.1f}x)"
        )
        print(f"lag the replica reports right after: max {max(float(r) for r in reported):.3f} s")
    finally:
        await primary.execute("DROP TABLE IF EXISTS bench_replica_lag")
        await primary.close()
        await replica.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("primary")
    parser.add_argument("replica")
    parser.add_argument("--writes", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.primary, args.replica, args.writes))


if __name__ == "__main__":
    main()
