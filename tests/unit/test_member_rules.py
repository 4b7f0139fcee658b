import pytest

from domain.members import (
    Channel,
    IdentityKey,
    InvalidIdentity,
    InvalidProfile,
    Profile,
    validate_identity,
    validate_profile,
)


def test_profile_is_trimmed_and_interests_deduplicated():
    profile = validate_profile(Profile(display_name="  小王 ", email=" w@example.cn ",
                                       interests=("Tea", "tea ", "", "hiking")))
    assert (profile.display_name, profile.email, profile.interests) == (
        "小王", "w@example.cn", ("tea", "hiking"))


@pytest.mark.parametrize(("profile", "field"), [
    (Profile(display_name=" "), "displayName"),
    (Profile(display_name="x" * 121), "displayName"),
    (Profile(display_name="a", email="a@b"), "email"),
    (Profile(display_name="a", phone="call me"), "phone"),
    (Profile(display_name="a", age_band="30ish"), "ageBand"),
    (Profile(display_name="a", interests=tuple(str(i) for i in range(21))), "interests"),
])
def test_bad_profile_values_name_their_field(profile, field):
    with pytest.raises(InvalidProfile) as raised:
        validate_profile(profile)
    assert raised.value.field == field


def test_referral_is_an_acquisition_channel_not_an_account():
    with pytest.raises(InvalidIdentity):
        validate_identity(IdentityKey(Channel.REFERRAL, "r-1"))
    assert validate_identity(IdentityKey(Channel.WECHAT, " wx ")).external_id == "wx"
