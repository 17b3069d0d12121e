"""My LoRAs (upload, list, rename, delete: owner only, CSRF-checked) and choosing LoRAs in the
studio's forms."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from generation.loras import accept_lora
from generation.models import InputRole, Job, JobInput, Lora, Upload
from tests.conftest import csrf_post
from tests.jobs import form_data
from tests.loras.conftest import stored_files
from tests.loras.files import lora_bytes

pytestmark = pytest.mark.django_db


def _file(data: bytes | None = None, name: str = "paper.safetensors") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data if data is not None else lora_bytes("tiny"))


def _lora(user, name: str = "paper", preset: str = "tiny", **options) -> Lora:
    return accept_lora(user, _file(lora_bytes(preset, **options)), name=name, purpose="style")


def test_it_uploads_lists_and_counts_a_lora(owner_client, owner, media_root):
    response = csrf_post(owner_client, reverse("loras"), {
        "file": _file(), "name": "", "purpose": "subject", "base": "tiny"})
    assert response.status_code == 302
    lora = Lora.objects.get(owner=owner)
    assert (lora.name, lora.purpose) == ("paper", "subject")  # named after the file
    page = owner_client.get(reverse("loras")).content.decode()
    assert "paper" in page and "for Tiny random model" in page and "rank 4" in page
    assert reverse("delete_lora", args=[lora.pk]) in page
    uploads = owner_client.get(reverse("uploads")).content.decode()
    assert "paper.safetensors" not in uploads  # LoRAs have their own page


def test_an_htmx_upload_returns_a_fresh_form_and_the_new_card(owner_client, owner, media_root):
    response = csrf_post(owner_client, reverse("loras"), {
        "file": _file(), "name": "ink", "purpose": "style", "base": ""},
        HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'hx-swap-oob="afterbegin:#lora-grid"' in body and "ink" in body


def test_a_refused_upload_shows_why_and_keeps_nothing(owner_client, owner, media_root):
    data = lora_bytes("wan2.1-t2v-14b", rank=2, limit=2)
    response = csrf_post(owner_client, reverse("loras"), {
        "file": _file(data), "name": "big", "purpose": "style", "base": "wan2.1-t2v-1.3b"},
        HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "This LoRA is for Wan 2.1 14B, not Wan 2.1 1.3B" in response.content.decode()
    assert not Upload.objects.exists() and stored_files(media_root) == []


def test_the_form_after_a_refused_upload_still_says_the_size_limit(owner_client, media_root,
                                                                  settings):
    settings.FRAMECRAFT_MAX_LORA_MB = 64
    response = csrf_post(owner_client, reverse("loras"), {
        "file": _file(b"not a lora"), "name": "x", "purpose": "style", "base": ""},
        HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Files up to 64 MB." in response.text


def test_it_requires_csrf(owner, media_root):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(reverse("loras"), {"file": _file(), "name": "x", "purpose": "style"})
    assert response.status_code == 403 and not Lora.objects.exists()
    lora = _lora(owner)
    assert client.post(reverse("delete_lora", args=[lora.pk])).status_code == 403
    assert client.post(reverse("rename_lora", args=[lora.pk]), {"name": "y"}).status_code == 403


def test_rename_keeps_names_unique(owner_client, owner, media_root):
    lora, other = _lora(owner, "paper"), _lora(owner, "ink")
    response = csrf_post(owner_client, reverse("rename_lora", args=[lora.pk]),
                         {"name": "ink"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "already have a LoRA called" in response.text
    response = csrf_post(owner_client, reverse("rename_lora", args=[lora.pk]),
                         {"name": "Paper cut"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Paper cut" in response.text
    assert Lora.objects.get(pk=lora.pk).name == "Paper cut"
    assert Lora.objects.get(pk=other.pk).name == "ink"


def test_it_requires_owner(stranger_client, owner, media_root):
    lora = _lora(owner)
    for name, data in (("rename_lora", {"name": "mine"}), ("delete_lora", {})):
        assert csrf_post(stranger_client, reverse(name, args=[lora.pk]), data).status_code == 404
    assert "paper" not in stranger_client.get(reverse("loras")).content.decode()
    assert Lora.objects.get(pk=lora.pk).name == "paper"
    # Nor can a stranger's job use it.
    data = form_data(prompt="x", lora_1=str(lora.pk))
    response = csrf_post(stranger_client, reverse("submit_job"), data)
    assert response.status_code == 422 and "Choose one of your LoRAs" in response.text
    assert not Job.objects.exists()


def test_delete_removes_the_file_and_keeps_the_jobs_rows(owner_client, owner, media_root,
                                                         django_capture_on_commit_callbacks):
    lora = _lora(owner)
    response = csrf_post(owner_client, reverse("submit_job"), form_data(
        prompt="a fox", lora_1=str(lora.pk), lora_strength_1="0.8"))
    assert response.status_code == 302, response.content.decode()[:2000]
    row = JobInput.objects.get(role=InputRole.LORA)
    assert (row.upload_id, row.strength, row.position) == (lora.pk, 0.8, 0)
    assert len(stored_files(media_root)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = csrf_post(owner_client, reverse("delete_lora", args=[lora.pk]),
                             HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert stored_files(media_root) == []
    assert not Lora.objects.exists() and not Upload.objects.exists()
    row.refresh_from_db()
    assert row.upload_id is None and row.strength == 0.8


def test_the_studio_offers_only_loras_that_fit_the_model(owner_client, owner, media_root):
    fits = _lora(owner, "paper")
    _lora(owner, "big", preset="wan2.1-t2v-1.3b", rank=2, limit=2)
    page = owner_client.get(reverse("studio")).content.decode()
    assert 'name="lora_1"' in page and f'value="{fits.pk}"' in page
    assert ">big<" not in page


def test_two_loras_combine_in_one_job(owner_client, owner, media_root):
    first, second = _lora(owner, "paper"), _lora(owner, "ink", seed=3)
    response = csrf_post(owner_client, reverse("submit_job"), form_data(
        prompt="a fox", lora_1=str(first.pk), lora_strength_1="1.2",
        lora_2=str(second.pk), lora_strength_2=""))
    assert response.status_code == 302
    job = Job.objects.get()
    rows = list(job.inputs.filter(role=InputRole.LORA).order_by("position"))
    assert [(r.upload_id, r.strength) for r in rows] == [(first.pk, 1.2), (second.pk, 1.0)]
    assert "loras" not in job.params
    from generation.lifecycle import spec_of

    spec = spec_of(job)
    assert [(u.lora_id, u.strength) for u in spec.loras] == [(first.pk, 1.2), (second.pk, 1.0)]


def test_the_same_lora_twice_or_too_strong_is_refused(owner_client, owner, media_root):
    lora = _lora(owner)
    response = csrf_post(owner_client, reverse("submit_job"), form_data(
        prompt="a fox", lora_1=str(lora.pk), lora_2=str(lora.pk)))
    assert response.status_code == 422 and "Each LoRA can be chosen once." in response.text
    response = csrf_post(owner_client, reverse("submit_job"), form_data(
        prompt="a fox", lora_1=str(lora.pk), lora_strength_1="5"))
    assert response.status_code == 422 and not Job.objects.exists()


def test_retrying_a_job_whose_lora_was_deleted_is_refused(owner_client, owner, media_root):
    from generation import lifecycle
    from generation.models import JobStatus
    from generation.specs import SpecError

    lora = _lora(owner)
    csrf_post(owner_client, reverse("submit_job"), form_data(prompt="a fox",
                                                             lora_1=str(lora.pk)))
    job = Job.objects.get()
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED)
    lora.upload.delete()
    job.refresh_from_db()
    with pytest.raises(SpecError) as refused:
        lifecycle.retry(job)
    assert refused.value.errors == {"loras": "A LoRA this job used has been deleted."}
    assert Job.objects.count() == 1


def test_remix_picks_the_recipes_loras_again(owner_client, owner, media_root):
    from tests.videos import make_video

    lora = _lora(owner)
    video = make_video(owner)
    video.recipe = {**video.recipe, "loras": [{"name": "paper", "strength": 0.6,
                                               "id": str(lora.pk)}]}
    video.save()
    page = owner_client.get(reverse("studio") + f"?remix={video.id}").content.decode()
    assert f'<option value="{lora.pk}" selected>paper</option>' in page
    assert 'name="lora_strength_1" value="0.6"' in page


@pytest.mark.parametrize(("megabytes", "said"), [(1024, "1 GB"), (1536, "1.5 GB"), (512, "512 MB")])
def test_the_size_limit_reads_as_a_person_says_it(owner_client, settings, megabytes, said):
    settings.FRAMECRAFT_MAX_LORA_MB = megabytes
    assert f"Files up to {said}." in owner_client.get(reverse("loras")).content.decode()
