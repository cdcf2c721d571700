"""Attachments: checked by size and by content, stored under random names
outside the static root, downloadable only by those who may see the ticket;
a hostile upload is a 400 and leaves nothing behind."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import client_for
from tickets.models import Attachment
from tickets.tests.conftest import PNG

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00"
    b"\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 60


def _stored_files(media_root):
    folder = media_root / "attachments"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _post(client, ticket, name, content):
    return client.post(
        f"/api/tickets/{ticket.pk}/attachments/",
        {"file": SimpleUploadedFile(name, content)},
        format="multipart",
    )


@pytest.mark.django_db
class TestAcceptedFiles:
    @pytest.mark.parametrize(
        "name,content,content_type",
        [
            ("router.png", PNG, "image/png"),
            ("photo.JPG", JPEG, "image/jpeg"),
            ("blink.gif", GIF, "image/gif"),
            ("contract.pdf", PDF, "application/pdf"),
            ("log.txt", "Ошибка подключения\r\nretry\tok\n".encode(), "text/plain"),
            ("speeds.csv", b"time,mbps\n09:00,12\n", "text/csv"),
        ],
    )
    def test_it_stores_allowed_types_under_a_random_name(
        self, ticket_of_a, customer_user, attachments_in_tmp, name, content, content_type
    ):
        response = _post(client_for(customer_user), ticket_of_a, name, content)
        assert response.status_code == 201, response.json()
        body = response.json()
        assert (body["name"], body["content_type"], body["size"]) == (
            name,
            content_type,
            len(content),
        )
        stored = _stored_files(attachments_in_tmp)
        assert len(stored) == 1
        assert name.rsplit(".", 1)[0] not in stored[0]
        assert len(stored[0].split(".")[0]) == 32

    def test_it_serves_the_file_only_through_the_checked_download(
        self, ticket_of_a, customer_user, engineer
    ):
        attachment = _post(client_for(customer_user), ticket_of_a, "log.txt", b"hello\n").json()
        response = client_for(engineer).get(attachment["download_url"])
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"hello\n"
        assert response["Content-Type"] == "text/plain"
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"

    def test_it_records_the_upload_in_the_audit_trail(self, ticket_of_a, customer_user):
        _post(client_for(customer_user), ticket_of_a, "router.png", PNG)
        event = ticket_of_a.events.get(kind="attached")
        assert event.actor == customer_user
        assert event.changes.get().new_value == "router.png"

    def test_it_lists_the_attachments_of_the_ticket(self, ticket_of_a, customer_user):
        client = client_for(customer_user)
        _post(client, ticket_of_a, "router.png", PNG)
        listed = client.get(f"/api/tickets/{ticket_of_a.pk}/attachments/").json()
        assert [a["name"] for a in listed["results"]] == ["router.png"]


@pytest.mark.django_db
class TestHostileUploads:
    @pytest.mark.parametrize(
        "name,content,words",
        [
            ("setup.png", ELF, "application/x-executable"),
            ("archive.pdf", ZIP, "application/zip"),
            ("notes.txt", PNG, "image/png but its name ends in .txt"),
            ("page.html", b"<html><script>alert(1)</script></html>", "ends in .html"),
            ("image.svg", b"<svg onload='alert(1)'/>", "ends in .svg"),
            ("binary.txt", b"abc\x00\x01def", "unknown type"),
            ("latin1.txt", "café".encode("latin-1"), "unknown type"),
            ("empty.txt", b"", "empty"),
        ],
    )
    def test_it_rejects_wrong_content_with_400_and_stores_nothing(
        self, ticket_of_a, customer_user, attachments_in_tmp, name, content, words
    ):
        response = _post(client_for(customer_user), ticket_of_a, name, content)
        assert response.status_code == 400
        assert words in response.json()["file"][0]
        assert not Attachment.objects.exists()
        assert _stored_files(attachments_in_tmp) == []

    def test_it_rejects_an_oversize_file(
        self, ticket_of_a, customer_user, attachments_in_tmp, monkeypatch
    ):
        monkeypatch.setenv("TICKET_ATTACHMENT_MAX_BYTES", "1000")
        response = _post(client_for(customer_user), ticket_of_a, "big.txt", b"a" * 1001)
        assert response.status_code == 400
        assert "limit is 1000 bytes" in response.json()["file"][0]
        assert not Attachment.objects.exists()
        assert _stored_files(attachments_in_tmp) == []

    @pytest.mark.parametrize(
        "filename", ["../../etc/passwd.txt", "..\\..\\boot.txt", "/tmp/abs.txt", ".."]
    )
    def test_it_rejects_a_path_in_the_file_name(
        self, ticket_of_a, customer_user, attachments_in_tmp, filename
    ):
        # The test client strips directories itself, so the request is built by hand.
        boundary = "BoUnDaRy"
        body = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
            "root:x:0:0\r\n"
            f"--{boundary}--\r\n"
        ).encode()
        response = client_for(customer_user).generic(
            "POST",
            f"/api/tickets/{ticket_of_a.pk}/attachments/",
            body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )
        assert response.status_code == 400
        assert "path" in response.json()["detail"]
        assert not Attachment.objects.exists()
        assert _stored_files(attachments_in_tmp) == []

    def test_it_asks_for_a_file_when_none_is_sent(self, ticket_of_a, customer_user):
        response = client_for(customer_user).post(
            f"/api/tickets/{ticket_of_a.pk}/attachments/", {}, format="multipart"
        )
        assert response.status_code == 400
        assert "file" in response.json()

    def test_it_answers_404_for_an_attachment_of_another_ticket(
        self, ticket_of_a, customer_user, other_customer_user
    ):
        from tickets.tests.conftest import open_ticket

        other = open_ticket(other_customer_user)
        attachment = _post(client_for(customer_user), ticket_of_a, "router.png", PNG).json()
        response = client_for(other_customer_user).get(
            f"/api/tickets/{other.pk}/attachments/{attachment['id']}/download/"
        )
        assert response.status_code == 404
