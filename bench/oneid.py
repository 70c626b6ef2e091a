"""OneID on the planted duplicates: precision and recall of merges, and records/s.

    .venv/bin/python -m bench.oneid --size S [--database-url URL] [--runs 3]

bench/generate.py wrote ground truth: every record of each planted duplicate person (a
Taobao buyer + mobile record and a WeCom contact + the same mobile record) and as many
single-record persons, many sharing a name and city with a duplicate. Each run replays
those records, shuffled, through `siyu.customers.oneid.resolve_many` into a fresh
workspace of the same database, in batches of 1,000, one transaction per batch — as an
import or the event API would. Then every record is looked up again to find the live
customer it ended in. Two records are "merged" when they share a customer.

precision = true merged pairs / merged pairs; recall = true merged pairs / true pairs.
Target: 100% and 100%.
"""

import argparse
import itertools
import json
import random
import time
import uuid
from collections import defaultdict
from typing import Any

from bench.common import DEFAULT_DATABASE_URL, Dataset, database_label, median
from siyu.customers import oneid
from siyu.customers.identities import IdentityRef, normalize
from siyu.db.engine import build_engine
from siyu.db.session import unit_of_work
from siyu.workspace import service as workspace_service

BATCH = 1000


def pairs(groups: dict[Any, list[int]]) -> set[tuple[int, int]]:
    return {
        (a, b) for members in groups.values() for a, b in itertools.combinations(sorted(members), 2)
    }


def run_once(url: str, records: list[dict[str, Any]], seed: int) -> dict[str, float]:
    engine = build_engine(url)
    with unit_of_work(engine) as session:
        slug = f"oneid-{uuid.uuid4().hex[:10]}"
        workspace_id = workspace_service.create_workspace(session, slug=slug, name=slug).id
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    refs: list[list[IdentityRef]] = [
        [normalize(kind, value) for kind, value in record["identities"]] for record in records
    ]
    started = time.perf_counter()
    for start in range(0, len(order), BATCH):
        batch = order[start : start + BATCH]
        with unit_of_work(engine) as session:
            oneid.resolve_many(
                session, workspace_id, [refs[i] for i in batch], source="bench", actor="bench"
            )
    elapsed = time.perf_counter() - started
    customer_of: dict[int, int | None] = {}
    with unit_of_work(engine) as session:
        for start in range(0, len(records), BATCH):
            chunk = list(range(start, min(start + BATCH, len(records))))
            found = oneid.resolve_many(
                session, workspace_id, [refs[i] for i in chunk], create=False, source="bench"
            )
            for i, resolution in zip(chunk, found, strict=True):
                customer_of[i] = resolution.customer_id
    engine.dispose()
    predicted: dict[Any, list[int]] = defaultdict(list)
    truth: dict[Any, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        predicted[customer_of[i] if customer_of[i] is not None else ("lost", i)].append(i)
        truth[record["person"]].append(i)
    predicted_pairs, true_pairs = pairs(predicted), pairs(truth)
    hits = len(predicted_pairs & true_pairs)
    return {
        "records_per_s": len(records) / elapsed,
        "precision": hits / len(predicted_pairs) if predicted_pairs else 1.0,
        "recall": hits / len(true_pairs) if true_pairs else 1.0,
        "true_pairs": len(true_pairs),
        "predicted_pairs": len(predicted_pairs),
        "customers": len(predicted),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="S")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    dataset = Dataset.load(args.database_url, args.size)
    with open(dataset.truth_path) as truth_file:
        records = [json.loads(line) for line in truth_file]
    print(
        f"OneID on {database_label(args.database_url)}, size {args.size}: "
        f"{len(records):,} records, {dataset.duplicate_pairs:,} planted duplicate pairs"
    )
    results = []
    for run in range(args.runs):
        result = run_once(args.database_url, records, seed=run)
        results.append(result)
        print(
            f"  run {run + 1}: {result['records_per_s']:,.0f} records/s, "
            f"precision {result['precision']:.2%}, recall {result['recall']:.2%} "
            f"({result['predicted_pairs']:,} merged pairs, {result['true_pairs']:,} true)"
        )
    print(
        f"median over {args.runs} runs: "
        f"{median([r['records_per_s'] for r in results]):,.0f} records/s, "
        f"precision {median([r['precision'] for r in results]):.2%} (target 100%), "
        f"recall {median([r['recall'] for r in results]):.2%} (target 100%)"
    )


if __name__ == "__main__":
    main()
