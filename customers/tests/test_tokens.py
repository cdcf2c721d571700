"""The customer links' tokens: exactly what Django's signer makes, so links
already sent keep working, and read back only when ours."""

import pytest
from django.core import signing
from django.test import override_settings

from customers.tokens import SALT, customer_token_make, customer_token_read


@pytest.mark.parametrize("customer_id", [1, 42, 9_999_999, 2**40])
def test_a_token_is_the_signers_own_and_reads_back(customer_id):
    token = customer_token_make(customer_id=customer_id)
    assert token == signing.Signer(salt=SALT).sign_object(customer_id)
    assert customer_token_read(token=token) == customer_id


def test_a_new_secret_key_makes_other_tokens_and_the_old_ones_stop_reading():
    old = customer_token_make(customer_id=7)
    with override_settings(SECRET_KEY="another-secret-key-of-enough-length-0123456789"):
        new = customer_token_make(customer_id=7)
        assert new == signing.Signer(salt=SALT).sign_object(7)
        assert new != old
        assert customer_token_read(token=old) is None
        assert customer_token_read(token=new) == 7


def test_a_tampered_token_reads_as_nobody():
    value, signature = customer_token_make(customer_id=7).split(":")
    other_value = customer_token_make(customer_id=8).split(":")[0]
    assert customer_token_read(token=f"{other_value}:{signature}") is None
    assert customer_token_read(token=f"{value}:{signature[:-1]}") is None
