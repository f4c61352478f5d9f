from __future__ import annotations

import pytest

from worker.config import load_settings
from worker.errors import ConfigError

SECRET = "s3cr3t-value-never-shown"


def brand_env(key: str, url: str = "https://remax-cca.com/api/v1") -> dict[str, str]:
    return {
        f"REMAX_{key}_API_URL": url,
        f"REMAX_{key}_API_KEY": f"apikey-{key}",
        f"REMAX_{key}_INTEGRATOR_ID": f"integrator-{key}",
        f"REMAX_{key}_SECRET_KEY": SECRET,
    }


def test_brands_are_discovered_from_variable_names_including_underscored_keys() -> None:
    settings = load_settings({**brand_env("AZURA"), **brand_env("BLUE_OCEAN")}, env_file=None)
    assert [b.key for b in settings.brands] == ["AZURA", "BLUE_OCEAN"]
    assert settings.brands[1].api_key.get_secret_value() == "apikey-BLUE_OCEAN"
    assert settings.token_refresh_buffer_minutes == 30


def test_rei_brands_restricts_and_orders() -> None:
    env = {**brand_env("AZURA"), **brand_env("BLUE_OCEAN"), "REI_BRANDS": "blue_ocean"}
    assert [b.key for b in load_settings(env, env_file=None).brands] == ["BLUE_OCEAN"]


def test_dotenv_is_read_and_environment_wins(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env_file = tmp_path / ".env"
    env_file.write_text(
        "\n".join(f"{k}={v}" for k, v in brand_env("AZURA").items())
        + "\nTOKEN_REFRESH_BUFFER_MINUTES=10\n"
    )
    settings = load_settings({"TOKEN_REFRESH_BUFFER_MINUTES": "12"}, env_file=env_file)
    assert settings.brands[0].key == "AZURA"
    assert settings.token_refresh_buffer_minutes == 12


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        (
            {k: v for k, v in brand_env("AZURA").items() if "SECRET" not in k},
            "REMAX_AZURA_SECRET_KEY",
        ),
        ({**brand_env("AZURA"), "REMAX_AZURA_API_KEY": "  "}, "REMAX_AZURA_API_KEY"),
        (
            {**brand_env("AZURA"), "TOKEN_REFRESH_BUFFER_MINUTES": "soon"},
            "TOKEN_REFRESH_BUFFER_MINUTES",
        ),
        (
            {**brand_env("AZURA"), "TOKEN_REFRESH_BUFFER_MINUTES": "-1"},
            "TOKEN_REFRESH_BUFFER_MINUTES",
        ),
        (
            {**brand_env("AZURA"), "TOKEN_REFRESH_BUFFER_MINUTES": "2.5"},
            "TOKEN_REFRESH_BUFFER_MINUTES",
        ),
        (brand_env("AZURA", url="not a url"), "REMAX_AZURA_API_URL"),
        (brand_env("AZURA", url="ftp://remax-cca.com/api/v1"), "REMAX_AZURA_API_URL"),
        (brand_env("AZURA", url="https://remax-cca.com:99999/api"), "REMAX_AZURA_API_URL"),
        (brand_env("AZURA", url="http://remax-cca.com/api/v1"), "REMAX_AZURA_API_URL"),
        ({}, "REMAX_<BRAND>_API_URL"),
        ({**brand_env("AZURA"), "REI_BRANDS": "NOPE"}, "REI_BRANDS"),
        ({**brand_env("AZURA"), "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_bad_config_names_the_variable_and_never_the_secret(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env, env_file=None)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable)
    assert "\n" not in str(caught.value)
    assert SECRET not in str(caught.value)


def test_plain_http_is_allowed_to_loopback_or_when_explicitly_allowed() -> None:
    assert load_settings(
        brand_env("AZURA", url="http://127.0.0.1:8080/api/v1"), env_file=None
    ).brands
    assert load_settings(brand_env("AZURA", url="http://localhost/api/v1/"), env_file=None).brands[
        0
    ].api_url == ("http://localhost/api/v1")
    env = {**brand_env("AZURA", url="http://remax.internal/api/v1"), "REI_ALLOW_INSECURE_HTTP": "1"}
    assert load_settings(env, env_file=None).brands


def test_secrets_are_masked_in_repr_and_fingerprint_tracks_credentials() -> None:
    brand = load_settings(brand_env("AZURA"), env_file=None).brands[0]
    assert SECRET not in repr(brand)
    other = load_settings(
        {**brand_env("AZURA"), "REMAX_AZURA_SECRET_KEY": "rotated"}, env_file=None
    )
    assert brand.credentials_fingerprint() != other.brands[0].credentials_fingerprint()


def test_sync_parallelism_defaults_to_4_and_is_bounded_1_to_32() -> None:
    assert load_settings(brand_env("AZURA"), env_file=None).rei_sync_parallelism == 4
    env = {**brand_env("AZURA"), "REI_SYNC_PARALLELISM": "12"}
    assert load_settings(env, env_file=None).rei_sync_parallelism == 12
    for bad in ("0", "33", "four"):
        with pytest.raises(ConfigError) as caught:
            load_settings({**brand_env("AZURA"), "REI_SYNC_PARALLELISM": bad}, env_file=None)
        assert caught.value.variable == "REI_SYNC_PARALLELISM"


def test_commands_without_the_api_can_skip_half_filled_brands() -> None:
    half = {"REMAX_AZURA_API_URL": "https://remax-cca.com/api/v1", "REMAX_AZURA_API_KEY": ""}
    with pytest.raises(ConfigError):
        load_settings(half, env_file=None, require_brands=False)
    assert load_settings(half, env_file=None, require_brands=False, with_brands=False).brands == ()


def test_secret_values_lists_every_configured_secret_exactly() -> None:
    new, old = "N" * 43 + "=", "O" * 43 + "="
    env = {
        **brand_env("AZURA"),
        "TOKEN_ENCRYPTION_KEY": f"{new}, {old} ",
        "DATABASE_URL": "postgresql://sync:db-pass-word@db.example:5432/rei",
        "ALERT_WEBHOOK_URL": "https://hooks.example/T0/secret-hook",
        "SUPABASE_SERVICE_ROLE_KEY": "service-role-key-value",
    }
    values = load_settings(env, env_file=None).secret_values()
    assert set(values) == {
        "apikey-AZURA",
        "integrator-AZURA",
        SECRET,
        "db-pass-word",
        new,
        old,  # the rotated key after ", " is registered without its space, so it is redacted
        "https://hooks.example/T0/secret-hook",
        "service-role-key-value",
    }
    assert all(v == v.strip() and v for v in values)


def test_the_image_concurrency_cap_defaults_to_32_and_a_bad_one_names_its_variable() -> None:
    settings = load_settings(environ={}, env_file=None, require_brands=False)
    assert settings.rei_image_concurrency_max == 32
    with pytest.raises(ConfigError) as raised:
        load_settings(
            environ={"REI_IMAGE_CONCURRENCY_MAX": "0"}, env_file=None, require_brands=False
        )
    assert "REI_IMAGE_CONCURRENCY_MAX: input should be greater than or equal to 1" in str(
        raised.value
    )


def test_the_scan_window_is_4_mb_by_default_and_a_bad_one_names_its_variable() -> None:
    from worker.runtime import Runtime

    settings = load_settings(
        environ={"REI_SYNC_WINDOW_MB": "16"}, env_file=None, require_brands=False
    )
    runtime = Runtime(settings, None, None, None, store=object())  # type: ignore[arg-type]
    assert runtime.options().window_bytes == 16 * 2**20
    assert load_settings(environ={}, env_file=None, require_brands=False).rei_sync_window_mb == 4
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"REI_SYNC_WINDOW_MB": "0"}, env_file=None, require_brands=False)
    assert "REI_SYNC_WINDOW_MB: input should be greater than or equal to 1" in str(raised.value)
