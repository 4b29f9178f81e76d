"""``ledger init``: create or upgrade the database, the keys and the genesis entry.

Two secrets live in the instance folder: the log's signing key and the privacy key
that keys the hashes of private facts in leaves (see ``ledger.funds.privacy``).

Running it again is harmless: migrations are idempotent, an existing key is kept and
an existing genesis entry is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger import log, migrate
from ledger.db import Database, sqlite_path
from ledger.entries import GENESIS, Draft, Entry
from ledger.errors import ConfigurationError
from ledger.funds.privacy import PrivacyKey
from ledger.keys import SigningKey
from ledger.settings import Settings

GENESIS_ACTOR = "ledger-init"


@dataclass(frozen=True)
class InitResult:
    genesis: Entry
    created: bool
    checkpoint: str


def init_ledger(settings: Settings, database: Database | None = None) -> InitResult:
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    db_file = sqlite_path(settings.database_url)
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
    PrivacyKey.load_or_create(settings.privacy_key_file)
    db = database or Database(settings.database_url)
    try:
        migrate.upgrade(db.engine)
        with db.writing() as session:
            if log.tree_size(session) > 0:
                genesis = log.genesis(session)
                if genesis.body["origin"] != settings.origin:
                    raise ConfigurationError(
                        f"this ledger's origin is {genesis.body['origin']!r} but "
                        f"LEDGER_ORIGIN is {settings.origin!r}; the genesis origin cannot change"
                    )
                return InitResult(genesis, False, log.latest_checkpoint(session).note)
            key_file = settings.signing_key_file
            if key_file.exists():
                signer = SigningKey.load(key_file, settings.origin)
            else:
                signer = SigningKey.generate(settings.origin)
                signer.save(key_file)
            draft = Draft(
                GENESIS,
                {
                    "origin": settings.origin,
                    "verifier_key": str(signer.verifier),
                    "name": settings.ledger_name,
                },
                GENESIS_ACTOR,
            )
            appended = log.append(session, [draft], signer)
            return InitResult(appended.entries[0], True, appended.checkpoint)
    finally:
        if database is None:
            db.dispose()
