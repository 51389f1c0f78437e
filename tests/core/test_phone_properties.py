"""Properties of phone number normalisation (services/core/phone.py): E.164 in the ledger."""
from __future__ import annotations

import phonenumbers
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.core.errors import InvalidInput
from services.core.phone import normalize_party, phone_variants, to_e164

FAST = settings(max_examples=200, deadline=None)
REGIONS = st.sampled_from(["GB", "IE", "US", "DE", "FR", "IN", "AU"])
NATIONAL_FORMATS = (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                    phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.RFC3966)


@st.composite
def valid_numbers(draw):
    """A valid number of a region: its example number with the last digits varied."""
    region = draw(REGIONS)
    kind = draw(st.sampled_from([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]))
    example = phonenumbers.example_number_for_type(region, kind)
    assume(example is not None)
    national = str(example.national_number)
    tail = draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
    number = phonenumbers.parse(national[:-3] + tail, region)
    assume(phonenumbers.is_valid_number(number))
    return region, number


@FAST
@given(valid_numbers(), st.sampled_from(NATIONAL_FORMATS))
def test_every_written_form_of_a_valid_number_is_the_same_e164(found, form):
    region, number = found
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    written = phonenumbers.format_number(number, form).removeprefix("tel:")
    assert to_e164(written, region) == e164
    assert to_e164(e164) == e164 == to_e164(e164, "GB")  # idempotent, whatever the region
    assert normalize_party(written, region) == e164
    assert e164 in phone_variants(written, region)


@FAST
@given(st.text(max_size=30), REGIONS)
def test_strict_normalisation_is_e164_or_invalid_input(text, region):
    try:
        e164 = to_e164(text, region)
    except InvalidInput:
        return
    assert e164.startswith("+") and e164[1:].isdigit()
    assert to_e164(e164) == e164


@FAST
@given(st.one_of(st.none(), st.text(max_size=30), st.text(alphabet="+0123456789 -()", max_size=20)), REGIONS)
def test_lenient_normalisation_is_idempotent(text, region):
    once = normalize_party(text, region)
    assert normalize_party(once, region) == once
    if once is not None:
        assert once == once.strip() and once
        assert set(phone_variants(text, region)) >= {text.strip(), once}
