"""``python -m bench.pages [--gifts 10000]``: what each public page costs to render.

The ledger is the one ``ledger demo`` fills (``ledger.funds.demo``), through the real
write path: the Lạng Sơn campaign with ``--gifts`` gifts to its 2021 campaigns,
remittances, allocations and payments with their documents, acknowledged findings,
award nominations and the board's decisions, and a demo witness's cosignature on the
final checkpoint, so that every page has something to show.

The pages are found in the app's URL map when the benchmark runs: every GET route
outside ``/api/`` except static files, the C2SP tiles and the health checks. Path
arguments get real values from that ledger (the province's fund, campaign and unit,
a gift's entry index and receipt, the nomination with the most evidence); a route
whose argument has no known value, or that does not answer 200 with HTML, is listed
apart and not timed. A few query strings a reader would type are timed too.

Each page is fetched through ``app.test_client()``, interleaved with the baseline in
the same process: a minimal Jinja template (a title and a paragraph, compiled once)
rendered by ``flask.render_template`` through the same app and test client, which is
the floor of Flask, Jinja and the test client. For context, the pages' layout alone
(``pages/layout.html`` with an empty content block) is timed in the same rounds.
The first fetch of each page (after the app starts: caches cold) is reported apart;
the verdict, under one second, is on the slowest fetch, the first included.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

from flask import Flask, render_template, url_for
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from audit.awards import nominations
from audit.awards.evidence import gift_indices
from bench import workload
from bench.report import Table, median, ms, ratio, secs, times, verdict
from ledger import log
from ledger.funds import demo_data
from ledger.funds.demo import DemoResult, run_demo
from ledger.funds.demo_audit import witness_demo
from ledger.funds.models import ContributionRow
from public_api import create_app

SAMPLES = 15
LIMIT = 1.0  # seconds: a page over the benchmark's ledger must render well under it
FLOOR = "bench_floor"
LAYOUT = "bench_layout"
# Routes that are not pages: files, the C2SP tiles, the load balancers' checks.
NOT_PAGES = ("static", "tiles.", "health.")
FLOOR_TEMPLATE = "<!doctype html><html lang=vi><title>{{ title }}</title><p>{{ text }}</p></html>"


@dataclass(frozen=True)
class Values:
    """Real values for path arguments and searches, from the demo ledger."""

    codes: tuple[str, ...]  # tried in turn for a ``code``: a fund, a campaign, a unit, a mobiliser
    index: int
    receipt_id: str
    nomination_id: str | None
    donor: str  # a donor's published name
    family: str  # a common family name: a search with many answers


@dataclass
class Page:
    """A URL to time, the route it came from, and its samples (seconds)."""

    url: str
    rule: str
    first: float = 0.0
    samples: list[float] = field(default_factory=list)
    size: int = 0


def build(folder: Path, gifts: int, seed: int) -> tuple[workload.BenchLedger, DemoResult]:
    ledger = workload.make_ledger(folder)
    result = run_demo(ledger.database, ledger.settings, seed=seed, gifts=gifts)
    witness_demo(ledger.database, ledger.settings)
    return ledger, result


def values_of(ledger: workload.BenchLedger, result: DemoResult) -> Values:
    province = demo_data.PROVINCE.code
    with ledger.database.session() as session:
        row = session.scalars(
            select(ContributionRow).where(ContributionRow.receipt_id == result.sample_receipt)
        ).one()
        gift = log.entry(session, row.entry_index)
        found = nominations.load(session)
    busiest = max(found, key=lambda x: len(gift_indices(x.body)), default=None)
    return Values(
        codes=(f"{province}-COVID", f"{province}-COVID-2021", province, f"{province}-HLHPN"),
        index=gift.index,
        receipt_id=result.sample_receipt,
        nomination_id=busiest.id if busiest else None,
        donor=str(gift.body["donor"].get("display", "")),
        family=demo_data.FAMILY_NAMES[0],
    )


def make_app(ledger: workload.BenchLedger) -> Flask:
    """The app over the bench ledger, with the baseline's two routes added."""
    settings = ledger.settings
    app = create_app(
        {
            "LEDGER_INSTANCE_DIR": str(settings.instance_dir),
            "LEDGER_DATABASE_URL": settings.database_url,
            "LEDGER_ORIGIN": settings.origin,
            "LEDGER_RATELIMIT_ENABLED": "false",  # hundreds of fetches from one address
        }
    )
    floor = app.jinja_env.from_string(FLOOR_TEMPLATE)  # compiled once, as a file would be

    def floor_page() -> str:
        return render_template(floor, title="Sổ cái", text="Quỹ phòng, chống COVID-19")

    def layout_page() -> str:
        return render_template("pages/layout.html")

    app.add_url_rule("/_bench/floor", FLOOR, floor_page)
    app.add_url_rule("/_bench/layout", LAYOUT, layout_page)
    return app


def page_rules(app: Flask) -> list[Rule]:
    """Every GET route outside /api/ that may be a page, in URL order."""
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if "GET" in (rule.methods or ())
            and not rule.rule.startswith(("/api/", "/_bench/"))
            and not rule.endpoint.startswith(NOT_PAGES)
        ),
        key=lambda rule: rule.rule,
    )


def candidates(name: str, values: Values) -> tuple[Any, ...]:
    return {
        "code": values.codes,
        "index": (values.index,),
        "receipt_id": (values.receipt_id,),
        "nomination_id": (values.nomination_id,) if values.nomination_id else (),
    }.get(name, ())


def urls_for(rule: Rule, values: Values) -> Iterator[dict[str, Any]]:
    """Each way to fill the rule's arguments, first choices first."""
    names = sorted(rule.arguments)
    if not names:
        yield {}
        return
    choices = [candidates(name, values) for name in names]
    if not all(choices):
        return
    for position in range(max(len(c) for c in choices)):
        yield {n: c[min(position, len(c) - 1)] for n, c in zip(names, choices, strict=True)}


def _fetch(client: FlaskClient, url: str) -> tuple[float, Any]:
    started = time.perf_counter()
    answer = client.get(url)
    answer.get_data()
    return time.perf_counter() - started, answer


def discover(client: FlaskClient, app: Flask, values: Values) -> tuple[list[Page], list[str]]:
    """The pages to time, each fetched once (its first fetch), and the routes left out.

    A route is tried with each candidate value until one answers 200 with HTML: a
    ``code`` is a fund's on ``/quy``, a campaign's on ``/chien-dich``, a unit's on
    ``/don-vi``. A candidate that answers 404 reads next to nothing, so the first
    fetch of the page that answers is still the first after the app started.
    """
    pages, left_out = [], []
    queries: Mapping[str, tuple[dict[str, str], ...]] = {
        "/tra-cuu": ({"donor": values.donor}, {"donor": values.family}),
    }
    for rule in page_rules(app):
        answered = "no value for " + ", ".join(sorted(rule.arguments))
        for arguments in urls_for(rule, values):
            with app.test_request_context():
                url = url_for(rule.endpoint, **arguments)
            found = [url, *(f"{url}?{urlencode(q)}" for q in queries.get(url, ()))]
            first, answer = _fetch(client, url)
            if answer.status_code == 200 and answer.mimetype == "text/html":
                pages.append(Page(url, rule.rule, first, size=len(answer.get_data())))
                for more in found[1:]:
                    first, answer = _fetch(client, more)
                    pages.append(Page(more, rule.rule, first, size=len(answer.get_data())))
                break
            answered = f"{url} answered {answer.status_code} {answer.mimetype}"
        else:
            left_out.append(f"{rule.rule}: {answered}")
    return pages, left_out


def _timed(client: FlaskClient, url: str) -> float:
    seconds, answer = _fetch(client, url)
    if answer.status_code != 200:
        raise RuntimeError(f"{url} answered {answer.status_code} during the run")
    return seconds


def measure(
    client: FlaskClient, pages: list[Page], samples: int, say: Callable[[str], None]
) -> dict[str, list[float]]:
    """``samples`` rounds of: floor, layout, page, for every page in turn."""
    baseline: dict[str, list[float]] = {"floor": [], "layout": []}
    for number in range(samples):
        for page in pages:
            baseline["floor"].append(_timed(client, "/_bench/floor"))
            baseline["layout"].append(_timed(client, "/_bench/layout"))
            page.samples.append(_timed(client, page.url))
        say(f"round {number + 1} of {samples} done")
    return baseline


def report(
    pages: list[Page],
    baseline: Mapping[str, list[float]],
    left_out: list[str],
    result: DemoResult,
    build_seconds: float,
    gifts: int,
) -> str:
    floor = median(baseline["floor"])
    table = Table(
        f"Public pages over the demo ledger: {gifts:,} gifts, {result.entries:,} entries; "
        f"median of {len(pages[0].samples) if pages else 0} fetches",
        ("page", "first", "median", "slowest", "floor", "ratio", "HTML", "< 1 s"),
    )
    for page in pages:
        slowest = max([page.first, *page.samples])
        value = median(page.samples)
        table.add(
            unquote(page.url),  # as a reader types it
            ms(page.first),
            ms(value),
            ms(slowest),
            ms(floor),
            times(ratio(value, floor)),
            f"{page.size / 1024:.0f} KB",
            verdict(slowest < LIMIT),
        )
    layout = median(baseline["layout"])
    table.add(
        "(the layout alone)", "", ms(layout), "", ms(floor), times(ratio(layout, floor)), "", ""
    )
    table.notes += [
        "floor: a minimal Jinja template (title and paragraph, compiled once) through",
        "flask.render_template, the same app and the same test client, fetched before each page.",
        "first: the page's first fetch after the app started; ratio: median / floor;",
        "< 1 s: the slowest fetch, the first included.",
        f"Building the ledger (ledger demo, witness included) took {secs(build_seconds)}.",
    ]
    table.notes += [f"not timed: {why}" for why in left_out]
    return table.render()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__)
    parser.add_argument("--gifts", type=int, default=10_000, help="gifts to the 2021 campaigns")
    parser.add_argument("--samples", type=int, default=SAMPLES, help="fetches of each page")
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    folder = Path(tempfile.mkdtemp(prefix="ledger-bench-pages-"))
    try:
        started = time.perf_counter()
        ledger, result = build(folder, args.gifts, args.seed)
        built = time.perf_counter() - started
        say(f"demo ledger of {result.entries:,} entries built in {secs(built)}")
        values = values_of(ledger, result)
        app = make_app(ledger)
        client = app.test_client()
        pages, left_out = discover(client, app, values)
        say(f"{len(pages)} pages to time; {len(left_out)} routes left out")
        baseline = measure(client, pages, args.samples, say)
        app.extensions["ledger.database"].dispose()
        ledger.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(report(pages, baseline, left_out, result, built, args.gifts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
