"""The fake's arithmetic and parsing, checked directly where the cases are easiest to read."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.stripe_fake.params import Params, decode, metadata_merge
from billing.stripe_fake.pricing import cents, cost, shift
from billing.stripe_fake.state import StripeError


def _ts(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, 12, tzinfo=UTC).timestamp())


def test_monthly_periods_keep_their_anchor_through_short_months() -> None:
    anchor = _ts(2024, 1, 31)
    ends = [shift(anchor, "month", n) for n in range(1, 4)]
    assert ends == [_ts(2024, 2, 29), _ts(2024, 3, 31), _ts(2024, 4, 30)]
    assert shift(anchor, "year", 1) == _ts(2025, 1, 31)
    assert shift(anchor, "week", 2) == _ts(2024, 2, 14)
    assert shift(anchor, "day", 3) == _ts(2024, 2, 3)


def _tiered(mode: str, tiers: list[tuple[int | None, str, str | None]]) -> dict[str, object]:
    return {
        "billing_scheme": "tiered",
        "tiers_mode": mode,
        "_tiers": [
            {"up_to": up_to, "unit_amount_decimal": unit, "flat_amount_decimal": flat}
            for up_to, unit, flat in tiers
        ],
    }


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(0, "0"), (100, "0"), (101, "2.5"), (1000, "2250"), (1001, "2251.5")],
)
def test_graduated_tiers_price_each_unit_in_its_tier(quantity: int, expected: str) -> None:
    price = _tiered("graduated", [(100, "0", None), (1000, "2.5", None), (None, "1.5", None)])
    assert cost(price, Decimal(quantity)) == Decimal(expected)


def test_graduated_flat_fees_come_with_each_tier_reached() -> None:
    price = _tiered("graduated", [(10, "100", "500"), (None, "50", "1000")])
    assert cost(price, Decimal(0)) == 0
    assert cost(price, Decimal(10)) == 1500
    assert cost(price, Decimal(12)) == 1500 + 1000 + 100


def test_volume_tiers_price_every_unit_at_the_tier_reached() -> None:
    price = _tiered("volume", [(10, "100", None), (None, "80", "200")])
    assert cost(price, Decimal(0)) == 0
    assert cost(price, Decimal(10)) == 1000
    assert cost(price, Decimal(11)) == 11 * 80 + 200


def test_amounts_round_half_up_to_a_cent() -> None:
    assert [cents(Decimal(v)) for v in ("402.5", "402.4", "-2.5")] == [403, 402, -3]
    per_unit = {"billing_scheme": "per_unit", "unit_amount_decimal": "0.333"}
    assert cents(cost(per_unit, Decimal(3))) == 1


def test_forms_decode_into_nested_dicts_and_indexed_lists() -> None:
    decoded = decode(
        [
            ("line_items[0][price]", "price_a"),
            ("line_items[0][quantity]", "2"),
            ("line_items[1][price]", "price_b"),
            ("expand[]", "customer"),
            ("expand[]", "latest_invoice"),
            ("metadata[tenant]", "alice"),
        ]
    )
    assert decoded == {
        "line_items": [{"price": "price_a", "quantity": "2"}, {"price": "price_b"}],
        "expand": ["customer", "latest_invoice"],
        "metadata": {"tenant": "alice"},
    }
    with pytest.raises(StripeError, match="also given as a hash"):
        decode([("a[b]", "1"), ("a", "2")])
    with pytest.raises(StripeError, match="also given as a value"):
        decode([("a", "2"), ("a[b]", "1")])


def test_params_refuse_what_stripe_refuses() -> None:
    params = Params({"n": "x", "flag": "yes", "items": "1", "tags": {"a": 1}})
    with pytest.raises(StripeError, match="Invalid integer: x") as bad:
        params.integer("n")
    assert bad.value.code == "parameter_invalid_integer"
    with pytest.raises(StripeError, match="Invalid boolean: yes"):
        params.boolean("flag")
    with pytest.raises(StripeError, match="list of hashes"):
        params.items("items")
    with pytest.raises(StripeError, match="hash of strings"):
        params.metadata("tags")
    with pytest.raises(StripeError, match="must be a hash"):
        params.sub("n")
    with pytest.raises(StripeError, match="list of strings"):
        Params({"keys": [{"a": "b"}]}).strings("keys")
    with pytest.raises(StripeError, match="must be a string"):
        Params({"s": {"a": "b"}}).text("s")
    assert Params({"keys": "one"}).strings("keys") == ["one"]


def test_metadata_updates_merge_unset_and_clear() -> None:
    current = {"a": "1", "b": "2"}
    assert metadata_merge(current, None) == current
    assert metadata_merge(current, {"a": "", "c": "3"}) == {"b": "2", "c": "3"}
    assert metadata_merge(current, {}) == {}
