"""The upload routes: POST /uploads/ (htmx and plain), My uploads, file, thumb, delete;
owner only, strangers 404; refusals are 422 with the message; the profile shows the quota."""

from __future__ import annotations

import pytest
from django.test import Client

from generation.models import Upload
from tests.conftest import csrf_post
from tests.uploads.conftest import stored_files
from tests.uploads.files import png, uploaded, video

pytestmark = pytest.mark.django_db(transaction=True)


def post_file(client: Client, data: bytes, name: str = "a.png", htmx: bool = True):
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return csrf_post(client, "/uploads/", {"file": uploaded(data, name)}, **extra)


def test_an_htmx_upload_answers_with_its_card(owner_client, owner, media_root):
    response = post_file(owner_client, png(), "cat.png")
    assert response.status_code == 200
    upload = Upload.objects.get(owner=owner)
    html = response.content.decode()
    assert f'data-upload-id="{upload.id}"' in html
    assert "cat.png" in html
    assert f"/uploads/{upload.id}/thumb.jpg" in html


def test_a_plain_upload_redirects_to_my_uploads(owner_client, owner, media_root):
    response = post_file(owner_client, video(seconds=0.5), "clip.mp4", htmx=False)
    assert response.status_code == 302
    assert response["Location"] == "/uploads/"
    page = owner_client.get("/uploads/").content.decode()
    assert "clip.mp4" in page
    assert "128×96" in page


def test_a_refusal_is_422_with_its_message_and_leaves_nothing(owner_client, media_root):
    response = post_file(owner_client, png(1, 1), "dot.png")
    assert response.status_code == 422
    assert "This image is 1×1 pixels; it must be at least 64×64." in response.content.decode()
    plain = post_file(owner_client, b"", "empty.mp4", htmx=False)
    assert plain.status_code == 422
    assert "The file is empty (0 bytes)." in plain.content.decode()
    assert not Upload.objects.exists()
    assert stored_files(media_root) == []


def test_a_file_over_the_size_limit_is_stopped_while_it_streams(owner_client, settings,
                                                                  media_root):
    settings.FRAMECRAFT_MAX_UPLOAD_MB = 1
    # As the drop zone sends it: the CSRF token in a header (the body is not read to its end).
    owner_client.get("/uploads/")
    token = owner_client.cookies[settings.CSRF_COOKIE_NAME].value
    response = owner_client.post("/uploads/", {"file": uploaded(b"\0" * (3 * 1024 * 1024))},
                                 HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 422
    assert "The file is larger than the 1 MB limit." in response.content.decode()
    assert not Upload.objects.exists()


def test_no_file_is_a_clear_refusal(owner_client):
    response = csrf_post(owner_client, "/uploads/", {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Choose a file to upload." in response.content.decode()


def test_uploading_needs_the_csrf_token(owner_client):
    response = owner_client.post("/uploads/", {"file": uploaded(png(), "a.png")})
    assert response.status_code == 403
    assert not Upload.objects.exists()


def test_uploading_needs_a_sign_in(client):
    response = client.post("/uploads/", {"file": uploaded(png(), "a.png")})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert not Upload.objects.exists()


def test_uploads_are_rate_limited(owner_client, settings, media_root):
    from django.core.cache import cache

    cache.clear()
    settings.RATELIMIT_ENABLE = True
    settings.FRAMECRAFT_UPLOAD_RATE = "1/m"
    assert post_file(owner_client, png(), "a.png").status_code == 200
    second = post_file(owner_client, png(), "b.png")
    assert second.status_code == 422
    assert "You are uploading very fast" in second.content.decode()
    assert Upload.objects.count() == 1


def test_the_owner_gets_file_and_thumb_with_head(owner_client, owner, media_root):
    post_file(owner_client, png(), "a.png")
    upload = Upload.objects.get()
    file = owner_client.get(f"/uploads/{upload.id}/file")
    assert file.status_code == 200
    assert file["Content-Type"] == "image/png"
    assert b"".join(file.streaming_content).startswith(b"\x89PNG")
    head = owner_client.head(f"/uploads/{upload.id}/thumb.jpg")
    assert head.status_code == 200
    assert head["Content-Type"] == "image/jpeg"
    assert int(head["Content-Length"]) == upload.thumb.size
    assert head.content == b""


def test_a_stranger_gets_404_on_file_thumb_and_delete(owner_client, stranger_client,
                                                      media_root):
    post_file(owner_client, png(), "secret.png")
    upload = Upload.objects.get()
    for url in (f"/uploads/{upload.id}/file", f"/uploads/{upload.id}/thumb.jpg"):
        assert stranger_client.get(url).status_code == 404
        assert stranger_client.head(url).status_code == 404
    assert csrf_post(stranger_client, f"/uploads/{upload.id}/delete/").status_code == 404
    assert Upload.objects.filter(pk=upload.pk).exists()
    page = stranger_client.get("/uploads/").content.decode()
    assert "secret.png" not in page
    assert str(upload.id) not in page


def test_deleting_removes_the_row_and_its_files(owner_client, media_root):
    post_file(owner_client, video(seconds=0.5), "clip.mp4")
    upload = Upload.objects.get()
    assert len(stored_files(media_root)) == 2
    response = csrf_post(owner_client, f"/uploads/{upload.id}/delete/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.content == b""
    assert not Upload.objects.exists()
    assert stored_files(media_root) == []


def test_my_uploads_lists_them_with_the_drop_zone_and_the_quota(owner_client, media_root):
    post_file(owner_client, png(96, 80), "one.png")
    page = owner_client.get("/uploads/").content.decode()
    assert "one.png" in page and "96×80" in page
    assert "data-dropzone" in page
    assert 'name="file"' in page
    assert "of 2.0\xa0GB" in page
    assert 'href="/uploads/"' in page  # the nav link


def test_the_profile_shows_uploads_used_and_the_quota(owner_client, owner, media_root):
    owner.storage_quota_mb = 10
    owner.save()
    post_file(owner_client, png(), "a.png")
    upload = Upload.objects.get()
    page = owner_client.get("/profile/").content.decode()
    assert "Uploads" in page
    assert f"1 file, {upload.size_bytes}\xa0bytes of 10.0\xa0MB" in page


def test_an_upload_over_quota_says_how_much_is_used_and_free(owner_client, owner, media_root):
    owner.storage_quota_mb = 0
    owner.save()
    response = post_file(owner_client, png(), "a.png")
    assert response.status_code == 422
    assert "you use 0 bytes of 0 bytes, 0 bytes free" in response.content.decode()
    assert stored_files(media_root) == []


