from datetime import UTC, datetime

import pytest

from api.relay import (
    InvalidCursor,
    InvalidGlobalId,
    decode_cursor,
    encode_cursor,
    from_global_id,
    to_global_id,
)
from domain.access import GRANTS, Permission, Role, hash_token, new_token


def test_global_ids_round_trip_and_check_their_type():
    gid = to_global_id("Member", 42)
    assert from_global_id(gid, expected="Member") == ("Member", 42)
    with pytest.raises(InvalidGlobalId, match="is a Member id, expected Tier"):
        from_global_id(gid, expected="Tier")


@pytest.mark.parametrize("bad", ["", "!!!", to_global_id("Member", 0).replace("MA", "LTE"),
                                 "TWVtYmVyOmFiYw"])  # "Member:abc"
def test_malformed_global_ids_are_refused(bad):
    with pytest.raises(InvalidGlobalId):
        from_global_id(bad)


def test_cursors_round_trip_and_belong_to_one_order():
    key = (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), 17)
    cursor = encode_cursor("joined_at_asc", key)
    assert decode_cursor(cursor, "joined_at_asc", (datetime, int)) == key
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, "joined_at_desc", (datetime, int))


def test_tokens_are_random_and_stored_as_sha256():
    first, second = new_token(), new_token()
    assert first != second and first.startswith("tw_") and len(first) > 40
    assert len(hash_token(first)) == 64 and hash_token(first) != first


def test_only_admins_and_operators_may_read_personal_data():
    readers = {role for role, grants in GRANTS.items()
               if Permission.READ_PERSONAL_DATA in grants}
    assert readers == {Role.ADMIN, Role.OPERATOR}
    assert GRANTS[Role.INVESTOR] == {Permission.READ_COMMUNITY}
