"""Eight spenders racing for the last đồng: the balance never goes negative.

Each spender is an OS process with its own connections, as gunicorn workers on
several hosts would be. They all allocate from, or transfer out of, the same fund at
the same moment. The balance check runs inside the append lock, so exactly as many
spends succeed as the money allows, and every other one is refused with nothing
written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from ledger import log
from ledger.funds import state
from ledger.funds.replay import replay

SPENDERS = 8
ATTEMPTS = 12
PRICE = 30_000
FUNDED = 1_000_000  # room for 33 spends of 30,000 out of 96 attempts

WORKER = f"""
import sys

from ledger.db import Database
from ledger.errors import BalanceError
from ledger.funds.access import command_line
from ledger.funds.recorder import record
from ledger.settings import Settings

number = int(sys.argv[1])
settings = Settings.load()
db = Database(settings.database_url)
scope = command_line("spender-" + str(number))
print("ready", flush=True)
sys.stdin.readline()  # the starting gun
won = lost = 0
for attempt in range({ATTEMPTS}):
    if attempt % 3 == 2:
        move = {{"from_fund": "LS-COVID", "to_fund": "CL-COVID", "amount": {PRICE}}}
        operation = ("transfer", move)
    else:
        operation = ("allocation", {{
            "fund": "LS-COVID",
            "amount": {PRICE},
            "beneficiary": {{"display": "Trạm Y tế xã số " + str(number), "type": "organization"}},
            "purpose": "Mua bình ô-xy",
        }})
    try:
        record(db, settings, scope, [operation])
        won += 1
    except BalanceError:
        lost += 1
db.dispose()
print("done", won, lost, flush=True)
"""


def test_racing_spenders_never_overdraw_a_fund(funds: Any, env: dict[str, str]) -> None:
    funds.give(FUNDED)
    environment = {**os.environ, **env}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(number)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for number in range(SPENDERS)
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    won = lost = 0
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err
        _, wins, losses = out.split()
        won, lost = won + int(wins), lost + int(losses)

    assert won == FUNDED // PRICE
    assert lost == SPENDERS * ATTEMPTS - won
    with funds.db.session() as session:
        balance = state.fund_balances(session)[funds.fund]
        books = replay(log.entries(session, 0, 100_000))
    assert balance.available == FUNDED - won * PRICE
    assert balance.available >= 0
    assert books.negative == []
    assert books.fund_balance(funds.fund) == balance
