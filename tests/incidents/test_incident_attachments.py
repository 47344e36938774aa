"""Incident attachments: the size and type limits, the timeline line, and downloads that check
who is asking — through the service, the API and the browser download view."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from incidents.models import Attachment, TimelineEntry
from incidents.services import incidents as services
from tests.factories import UserFactory, open_incident

pytestmark = pytest.mark.django_db

INCIDENTS = "/api/v1/incidents/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.ATTACHMENT_MAX_MB = 1
    return tmp_path


def upload(name="trace.txt", content=b"GET / 502\n", content_type="text/plain"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def test_a_file_is_stored_with_its_name_type_size_and_a_timeline_line(alice, media):
    incident = open_incident(alice)
    attachment = services.add_attachment(incident, user=alice, uploaded_file=upload())
    assert (attachment.name, attachment.content_type, attachment.size) == ("trace.txt", "text/plain", 10)
    assert attachment.uploaded_by == alice
    assert (media / attachment.file.name).read_bytes() == b"GET / 502\n"
    line = incident.timeline.get(kind="attachment")
    assert (line.attachment, line.body, line.data["size"]) == (attachment, "trace.txt", 10)


def test_a_path_in_the_name_is_dropped(alice):
    attachment = services.add_attachment(
        open_incident(alice), user=alice, uploaded_file=upload(name="../../etc/report.csv", content_type="text/csv")
    )
    assert attachment.name == "report.csv"
    assert ".." not in attachment.file.name


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (upload(content=b"x" * (1024 * 1024 + 1)), "the limit is 1 MB"),
        (upload(content=b""), "is empty"),
        (upload(name="run.exe", content_type="application/x-msdownload"), "not accepted"),
        (upload(name="page.html", content_type="text/plain"), "text/html are not accepted"),  # disguised
        (upload(name="notes", content_type="application/octet-stream"), "Can't tell"),
    ],
    ids=["too-big", "empty", "executable", "disguised-html", "unknown-type"],
)
def test_files_over_the_limit_or_of_a_refused_type_are_a_400_and_nothing_is_kept(alice, media, file, message):
    incident = open_incident(alice)
    before = TimelineEntry.objects.count()
    with pytest.raises(ValidationError) as caught:
        services.add_attachment(incident, user=alice, uploaded_file=file)
    assert message in caught.value.message_dict["file"][0]
    assert not Attachment.objects.exists()
    assert TimelineEntry.objects.count() == before
    assert not any(path.is_file() for path in media.rglob("*"))


def test_the_accepted_types_come_from_the_settings(alice, settings):
    settings.ATTACHMENT_CONTENT_TYPES = ["image/png"]
    incident = open_incident(alice)
    assert services.add_attachment(incident, user=alice, uploaded_file=upload("shot.png", PNG, "image/png"))
    with pytest.raises(ValidationError):
        services.add_attachment(incident, user=alice, uploaded_file=upload())


# --- the API ----------------------------------------------------------------------------------


def test_uploading_listing_and_downloading_through_the_api(alice_api, alice):
    incident = open_incident(alice)
    response = alice_api.post(
        f"{INCIDENTS}{incident.pk}/attachments/", {"file": upload("shot.png", PNG, "image/png")}, format="multipart"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["content_type"], body["size"]) == ("shot.png", "image/png", len(PNG))
    assert body["web_url"] == f"/incidents/attachments/{body['id']}/"
    listed = alice_api.get(f"{INCIDENTS}{incident.pk}/attachments/").json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]
    download = alice_api.get(body["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG
    assert download["Content-Type"] == "image/png"
    assert download["Content-Disposition"] == 'attachment; filename="shot.png"'
    assert download["X-Content-Type-Options"] == "nosniff"
    timeline = alice_api.get(f"{INCIDENTS}{incident.pk}/timeline/", {"kind": "attachment"}).json()["results"]
    assert timeline[0]["attachment"]["id"] == body["id"]


def test_an_upload_refused_by_the_api_names_the_file_field(alice_api, alice):
    incident = open_incident(alice)
    response = alice_api.post(
        f"{INCIDENTS}{incident.pk}/attachments/", {"file": upload(content=b"x" * (1024 * 1024 + 1))}, format="multipart"
    )
    assert response.status_code == 400
    assert "the limit is 1 MB" in response.json()["file"][0]
    missing = alice_api.post(f"{INCIDENTS}{incident.pk}/attachments/", {}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()
    assert not Attachment.objects.exists()


def test_an_attachment_is_only_reachable_through_its_own_incident(alice_api, alice):
    attachment = services.add_attachment(open_incident(alice), user=alice, uploaded_file=upload())
    other = open_incident(alice)
    assert alice_api.get(f"{INCIDENTS}{other.pk}/attachments/{attachment.pk}/").status_code == 404


def test_viewers_may_download_but_not_upload(victor_api, alice):
    incident = open_incident(alice)
    attachment = services.add_attachment(incident, user=alice, uploaded_file=upload())
    assert victor_api.get(f"{INCIDENTS}{incident.pk}/attachments/{attachment.pk}/").status_code == 200
    refused = victor_api.post(f"{INCIDENTS}{incident.pk}/attachments/", {"file": upload()}, format="multipart")
    assert refused.status_code == 403


# --- the browser download view ----------------------------------------------------------------


def test_the_download_view_serves_the_file_to_people_who_may_see_incidents(client, alice, victor):
    attachment = services.add_attachment(open_incident(alice), user=alice, uploaded_file=upload())
    path = reverse("incidents:attachment_download", args=[attachment.pk])

    anonymous = client.get(path)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]

    client.force_login(UserFactory(username="nobody"))  # signed in, no role
    assert client.get(path).status_code == 403

    client.force_login(victor)
    response = client.get(path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"GET / 502\n"
    assert response["Content-Disposition"] == 'attachment; filename="trace.txt"'
    assert client.post(path).status_code == 405
    assert client.get(reverse("incidents:attachment_download", args=[attachment.pk + 1000])).status_code == 404


def test_a_file_gone_from_the_disk_is_a_404_not_a_500(client, alice, media):
    attachment = services.add_attachment(open_incident(alice), user=alice, uploaded_file=upload())
    (media / attachment.file.name).unlink()
    client.force_login(alice)
    assert client.get(reverse("incidents:attachment_download", args=[attachment.pk])).status_code == 404
