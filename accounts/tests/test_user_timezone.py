"""An engineer's or admin's time zone: an IANA name, UTC until they choose one."""

import pytest
from django.core.exceptions import ValidationError

from accounts.services import user_update


@pytest.mark.django_db
class TestUserTimezone:
    def test_it_starts_in_utc(self, engineer):
        assert engineer.timezone == "UTC"

    def test_an_admin_sets_it_through_the_api(self, admin_client_api, engineer):
        response = admin_client_api.patch(
            f"/api/users/{engineer.pk}/", {"timezone": "Asia/Yekaterinburg"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["timezone"] == "Asia/Yekaterinburg"
        engineer.refresh_from_db()
        assert engineer.timezone == "Asia/Yekaterinburg"

    def test_an_unknown_zone_is_refused_with_a_sentence(self, admin_client_api, engineer):
        response = admin_client_api.patch(
            f"/api/users/{engineer.pk}/", {"timezone": "Mars/Base"}, format="json"
        )
        assert response.status_code == 400
        assert "not a known time zone" in response.json()["timezone"][0]
        engineer.refresh_from_db()
        assert engineer.timezone == "UTC"

    def test_the_service_refuses_an_unknown_zone_too(self, engineer):
        with pytest.raises(ValidationError):
            user_update(user=engineer, data={"timezone": "Europe/Nowhere"})
        engineer.refresh_from_db()
        assert engineer.timezone == "UTC"
