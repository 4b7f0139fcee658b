"""Row rules of `tierwise import-transactions`: amounts, dates, ids, whole files."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from domain import errors, events, transactions
from domain.importing import FileError, InvalidField, MissingField
from domain.members import Channel
from domain.transactions import (
    Columns,
    NegativeAmount,
    parse_amount,
    parse_date,
    purchase_external_id,
    read_transactions,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(("text", "scale", "minor"), [
    ("12.50", 100, 1250),
    ("12.5", 100, 1250),
    ("12", 100, 1200),
    ("0.01", 100, 1),
    ("0", 100, 0),
    ("+7.00", 100, 700),
    (" 3.10 ", 100, 310),
    ("1,234.00", 100, 123400),
    ("1,234,567.89", 100, 123456789),
    ("12.500", 100, 1250),  # trailing zeros are not extra precision
    ("1234", 1, 1234),  # a currency without minor units
    ("1.234", 1000, 1234),
    ("0.1", 10, 1),
    ("999999999.99", 100, 99999999999),  # 0.1 + 0.2 style float error would show here
])
def test_amounts_become_exact_minor_units(text, scale, minor):
    assert parse_amount(text, scale=scale) == minor


@pytest.mark.parametrize("text", ["12,50", "1,23", "1,2345.00", "12.", ".5", "1e3", "abc",
                                  "$12", "12.50 EUR", "(12.50)", "1.2.3", "١٢", "NaN"])
def test_malformed_amounts_are_rejected_with_the_column(text):
    with pytest.raises(InvalidField) as raised:
        parse_amount(text, name="total")
    assert raised.value.field == "total"
    assert raised.value.code == "INVALID_VALUE"


def test_more_decimals_than_the_currency_has_is_rejected_not_rounded():
    with pytest.raises(InvalidField, match="more decimals"):
        parse_amount("12.345", scale=100)
    with pytest.raises(InvalidField, match="more decimals"):
        parse_amount("5.5", scale=1)


def test_negative_amounts_are_refunds_and_rejected():
    with pytest.raises(NegativeAmount, match="refunds are not imported") as raised:
        parse_amount("-5.00")
    assert raised.value.code == "NEGATIVE_AMOUNT"
    assert parse_amount("-0.00") == 0  # minus zero is zero


def test_empty_and_huge_amounts():
    with pytest.raises(MissingField):
        parse_amount("  ")
    with pytest.raises(InvalidField, match="exceeds"):
        parse_amount("1000000000.01")


@pytest.mark.parametrize(("text", "fmt", "moment"), [
    ("2024-03-05", None, datetime(2024, 3, 5, tzinfo=UTC)),  # a day: midnight UTC
    ("2024-03-05T14:30:00Z", None, datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
    ("2024-03-05T14:30:00+08:00", None, datetime(2024, 3, 5, 6, 30, tzinfo=UTC)),
    ("2024-03-05 01:00:00-05:00", None, datetime(2024, 3, 5, 6, 0, tzinfo=UTC)),
    ("05/03/2024", "%d/%m/%Y", datetime(2024, 3, 5, tzinfo=UTC)),  # no offset: UTC
    ("05/03/2024 10:00 +0100", "%d/%m/%Y %H:%M %z", datetime(2024, 3, 5, 9, tzinfo=UTC)),
])
def test_dates_become_utc_instants(text, fmt, moment):
    assert parse_date(text, date_format=fmt) == moment


@pytest.mark.parametrize(("text", "fmt", "message"), [
    ("2024-02-30", None, "is not a date"),
    ("yesterday", None, "is not a date"),
    ("2024-03-05T14:30:00", None, "has no UTC offset"),
    ("2024-03-05", "%d/%m/%Y", "is not a date"),
])
def test_unknown_dates_are_rejected(text, fmt, message):
    with pytest.raises(InvalidField, match=message):
        parse_date(text, date_format=fmt, name="when")


def test_purchase_ids_come_from_the_row():
    us = events.microseconds(datetime(2024, 3, 5, tzinfo=UTC))
    assert (purchase_external_id(Channel.OFFLINE, "c-1", us, 1250, 1)
            == "txn:offline:20240305T000000Z:1250:1:c-1")
    assert (purchase_external_id("app", "c:1", us + 1, 0, 2)
            == "txn:app:20240305T000000.000001Z:0:2:c:1")
    long = purchase_external_id(Channel.OFFLINE, "x" * 128, us, 1, 1)
    assert long.startswith("txn:h:") and len(long) <= events.MAX_EXTERNAL_ID
    assert long != purchase_external_id(Channel.OFFLINE, "x" * 127 + "y", us, 1, 1)


def _read(text: str, **options) -> transactions.Transactions:
    return read_transactions(io.BytesIO(text.encode()), now=NOW, **options)


def test_a_file_reads_valid_rows_and_rejects_bad_ones_by_line():
    t = _read("customer_id,date,amount\n"
              "c1,2024-01-05,12.50\n"
              "c1,2024-01-05,12.50\n"  # the same purchase twice: two events
              "\n"  # blank: skipped, but lines stay physical
              ",2024-01-05,1\n"
              "c2,,1\n"
              "c2,2024-01-05,-1\n"
              "c2,2030-01-01,1\n"
              'c3,2024-01-06,"1,000"\n'
              "c4,2024-01-06\n")
    assert t.read == 8
    assert t.line == [2, 3, 9]
    assert t.amount_minor == [1250, 1250, 100000]
    assert t.external_id == ["txn:offline:20240105T000000Z:1250:1:c1",
                             "txn:offline:20240105T000000Z:1250:2:c1",
                             "txn:offline:20240106T000000Z:100000:1:c3"]
    assert [(r.line, r.code) for r in t.rejected] == [
        (5, "MISSING_FIELD"), (6, "MISSING_FIELD"), (7, "NEGATIVE_AMOUNT"),
        (8, "INVALID_VALUE"), (10, "MALFORMED_ROW")]
    assert "customer_id is missing" in t.rejected[0].reason
    assert "in the future" in t.rejected[3].reason


def test_custom_columns_match_case_insensitively_and_others_are_ignored():
    t = _read("\ufeffOrder,Client , Paid On,Total\n7,Ann,2024-01-02,3\n",
              columns=Columns(customer="client", date="paid on", amount="TOTAL"))
    assert (t.customer, t.amount_minor, t.rejected) == (["Ann"], [300], [])


def test_a_missing_column_is_a_file_error_naming_it():
    with pytest.raises(FileError, match=r"'amount' \(--amount-column\)"):
        _read("customer_id,date,total\nc1,2024-01-01,1\n")
    with pytest.raises(FileError, match="empty"):
        _read("")
    with pytest.raises(FileError, match="twice"):
        _read("customer_id,date,amount,Amount\n")


def test_the_earliest_transaction_is_the_customers_first():
    t = _read("customer_id,date,amount\nc1,2024-03-01,1\nc2,2024-01-01,1\nc1,2024-02-01,1\n")
    assert {c: events.at(us) for c, us in t.first_seen().items()} == {
        "c1": datetime(2024, 2, 1, tzinfo=UTC), "c2": datetime(2024, 1, 1, tzinfo=UTC)}


def test_only_channels_holding_accounts_and_decimal_scales():
    assert transactions.check_channel("app") is Channel.APP
    with pytest.raises(errors.InvalidValue):
        transactions.check_channel("referral")
    with pytest.raises(errors.InvalidValue):
        transactions.check_channel("fax")
    assert transactions.check_scale(1000) == 1000
    with pytest.raises(errors.InvalidValue):
        transactions.check_scale(12)
