"""The TokenStore contract, the same suite over memory and Postgres; encryption at rest."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from tests.auth.conftest import SecretLedger, StoreFactory
from worker.auth.crypto import TokenCipher, generate_key
from worker.auth.postgres import PostgresTokenStore, brand_lock_key
from worker.auth.token import Token
from worker.errors import ConfigError, TokenStoreError, TransientAuthError

SECRET_TOKEN = "opaque-" + "x" * 40


def token(value: str = SECRET_TOKEN, at: float = 1000.0) -> Token:
    return Token(value, obtained_at=at, expires_at=at + 86000, refresh_at=at + 84000)


def test_empty_store_has_no_token(store_factory: StoreFactory) -> None:
    assert store_factory().load("AZURA", "cred") is None


def test_renew_stores_what_the_renewal_returns(store_factory: StoreFactory) -> None:
    store = store_factory()
    seen: list[Token | None] = []

    def renewal(current: Token | None) -> Token:
        seen.append(current)
        return token()

    stored = store.renew("AZURA", "cred", renewal)
    assert seen == [None]
    loaded = store.load("AZURA", "cred")
    assert loaded is not None
    assert loaded.access_token == SECRET_TOKEN
    assert (loaded.obtained_at, loaded.expires_at, loaded.refresh_at) == pytest.approx(
        (stored.obtained_at, stored.expires_at, stored.refresh_at)
    )


def test_renew_hands_over_the_stored_token(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.renew("AZURA", "cred", lambda _current: token())
    handed: list[Token | None] = []

    def keep(current: Token | None) -> Token:
        handed.append(current)
        assert current is not None
        return current

    assert store.renew("AZURA", "cred", keep).access_token == SECRET_TOKEN
    assert handed[0] is not None
    assert handed[0].access_token == SECRET_TOKEN


def test_a_failing_renewal_writes_nothing(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.renew("AZURA", "cred", lambda _current: token("first-token-value"))

    def boom(_current: Token | None) -> Token:
        raise TransientAuthError("AZURA", "token endpoint answered HTTP 503")

    with pytest.raises(TransientAuthError):
        store.renew("AZURA", "cred", boom)
    loaded = store.load("AZURA", "cred")
    assert loaded is not None
    assert loaded.access_token == "first-token-value"


def test_rows_are_keyed_by_brand_and_credentials(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.renew("AZURA", "old-cred", lambda _c: token("azura-old-token"))
    store.renew("BLUE_OCEAN", "cred", lambda _c: token("blue-token-value"))
    store.renew("AZURA", "new-cred", lambda _c: token("azura-new-token"))
    assert store.load("AZURA", "old-cred") is None, "a credential change must drop the old token"
    new = store.load("AZURA", "new-cred")
    blue = store.load("BLUE_OCEAN", "cred")
    assert new is not None
    assert new.access_token == "azura-new-token"
    assert blue is not None
    assert blue.access_token == "blue-token-value"


def test_renewals_of_one_brand_are_serialised(store_factory: StoreFactory) -> None:
    """Eight concurrent renewals: each sees the previous one's token (no lost update)."""
    store = store_factory()
    inside = 0
    most_inside = 0
    lock = threading.Lock()

    someone_else_inside = threading.Event()

    def renewal(current: Token | None) -> Token:
        nonlocal inside, most_inside
        with lock:
            inside += 1
            most_inside = max(most_inside, inside)
            if inside > 1:
                someone_else_inside.set()
        # A rendezvous: without the brand's lock another renewal gets in while this one
        # waits here, and the test fails (a wait for another thread, not for time to pass).
        someone_else_inside.wait(0.1)
        count = 0 if current is None else int(current.access_token.rsplit("-", 1)[1])
        with lock:
            inside -= 1
        return token(f"token-value-{count + 1}")

    threads = [
        threading.Thread(target=lambda: store_factory().renew("AZURA", "cred", renewal))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    final = store.load("AZURA", "cred")
    assert final is not None
    assert final.access_token == "token-value-8"
    assert most_inside == 1


def test_postgres_row_holds_no_plaintext_token(pg_engine: sa.Engine, cipher: TokenCipher) -> None:
    store = PostgresTokenStore(pg_engine, cipher)
    store.renew("AZURA", "cred", lambda _c: token())
    with pg_engine.connect() as connection:
        row = connection.execute(sa.text("SELECT * FROM oauth_tokens")).mappings().one()
    everything = " ".join(str(v) for v in row.values())
    assert SECRET_TOKEN not in everything
    assert SECRET_TOKEN.encode() not in bytes(row["token_ciphertext"])
    assert row["token_fingerprint"] == token().fingerprint
    assert row["brand"] == "AZURA"


def test_rotated_keys_still_read_old_rows_and_removed_keys_do_not(
    pg_engine: sa.Engine, ledger: SecretLedger
) -> None:
    old_key, new_key = generate_key(), generate_key()
    ledger.add(old_key, new_key)
    PostgresTokenStore(pg_engine, TokenCipher([old_key])).renew("AZURA", "cred", lambda _c: token())
    rotated = PostgresTokenStore(pg_engine, TokenCipher([new_key, old_key]))
    loaded = rotated.load("AZURA", "cred")
    assert loaded is not None
    assert loaded.access_token == SECRET_TOKEN
    assert PostgresTokenStore(pg_engine, TokenCipher([new_key])).load("AZURA", "cred") is None


def test_a_row_moved_to_another_brand_does_not_decrypt(
    pg_engine: sa.Engine, cipher: TokenCipher
) -> None:
    store = PostgresTokenStore(pg_engine, cipher)
    store.renew("AZURA", "cred", lambda _c: token())
    with pg_engine.begin() as connection:
        connection.execute(sa.text("UPDATE oauth_tokens SET brand = 'BLUE_OCEAN'"))
    assert store.load("BLUE_OCEAN", "cred") is None


def test_an_unreachable_database_is_a_retryable_store_error(cipher: TokenCipher) -> None:
    engine = sa.create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:9/none", connect_args={"connect_timeout": 2}
    )
    store = PostgresTokenStore(engine, cipher)
    with pytest.raises(TokenStoreError) as caught:
        store.load("AZURA", "cred")
    assert caught.value.retryable
    with pytest.raises(TokenStoreError):
        store.renew("AZURA", "cred", lambda _c: token())


def test_lock_keys_differ_per_brand_and_fit_a_bigint() -> None:
    keys = {brand_lock_key(f"BRAND{i}") for i in range(100)}
    assert len(keys) == 100
    assert all(-(2**63) <= k < 2**63 for k in keys)


def test_the_cipher_refuses_bad_keys_without_echoing_them() -> None:
    with pytest.raises(ConfigError, match="gen-key") as missing:
        TokenCipher.from_setting("")
    assert missing.value.variable == "TOKEN_ENCRYPTION_KEY"
    with pytest.raises(ConfigError, match="key #2") as bad:
        TokenCipher.from_setting(f"{generate_key()},not-a-key-at-all")
    assert "not-a-key-at-all" not in str(bad.value)


def test_the_cipher_binds_tokens_to_brand_and_credentials(cipher: TokenCipher) -> None:
    sealed = cipher.seal("tok-value", brand="AZURA", credentials="c1")
    assert cipher.open(sealed, brand="AZURA", credentials="c1") == "tok-value"
    assert cipher.open(sealed, brand="AZURA", credentials="c2") is None
    assert cipher.open(b"garbage", brand="AZURA", credentials="c1") is None
    assert "keys=1" in repr(cipher)


def test_a_decrypted_row_does_not_show_its_token_in_repr() -> None:
    from worker.auth.crypto import Sealed

    sealed = Sealed(SECRET_TOKEN, "AZURA", "cred")
    assert SECRET_TOKEN not in repr(sealed)
    assert "AZURA" in repr(sealed)
