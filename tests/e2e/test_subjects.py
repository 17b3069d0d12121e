"""A subject in a real browser: make one from two photos through the drop zones, then
generate with it in the studio's "With a subject" form and watch the job finish (a tiny Wan
VACE checkpoint on the real worker)."""

from __future__ import annotations

import re

import pytest

from generation.models import InputRole, JobInput, Subject
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, serving, sign_in
from tests.processes import start_worker
from tests.subjects.conftest import tiny_vace_dir, vace  # noqa: F401  (fixtures)
from tests.uploads.files import png

pytestmark = pytest.mark.e2e


@pytest.fixture
def vace_studio(vace, transactional_db, tmp_path, page_problems):  # noqa: F811
    """The site and a worker that both see the tiny VACE checkpoint in the models folder."""
    with serving(tmp_path / "web.log", page_problems) as url:
        worker = start_worker(tmp_path / "worker.log", FRAMECRAFT_PROGRESS_INTERVAL="0.1")
        yield url
        worker.stop()


def test_a_subject_from_two_photos_drives_a_video(page, vace_studio, tmp_path):
    make_user("ada", PASSWORD)
    sign_in(page, vace_studio)
    page.click("nav >> text=Subjects")
    page.click("text=New subject")
    page.fill("input[name=name]", "Rex")
    page.select_option("select[name=kind]", "object")
    for index, size in enumerate(((160, 120), (120, 160))):
        photo = tmp_path / f"rex-{index}.png"
        photo.write_bytes(png(*size))
        page.locator("[data-dropzone-input]").nth(index).set_input_files(str(photo))
        page.wait_for_function(
            "(i) => document.querySelectorAll('[data-dropzone-value]')[i].value !== ''", arg=index)
    page.click("#subject-form >> text=Make the subject")
    page.wait_for_url(re.compile(r"/subjects/[0-9a-f-]{36}/$"))
    assert page.locator("h1").inner_text().startswith("@Rex")
    assert page.locator(".subject-photo").count() == 2
    subject = Subject.objects.get(name="Rex")
    assert [p.original.original_name for p in subject.photos.all()] == ["rex-0.png",
                                                                        "rex-1.png"]

    page.click("nav >> text=Studio")
    page.check("input[name=task][value=personalize]")
    page.locator("input[name=subjects]").first.wait_for()
    page.check(f"input[name=subjects][value='{subject.id}']")
    page.fill("textarea[name=prompt]", "@Rex rolls down a hill")
    page.click("summary")
    page.select_option("select[name=num_frames]", "5")
    page.fill("input[name=steps]", "2")
    page.click("#generation-form button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('.job-card')?.dataset.status === 'succeeded'",
        timeout=300_000)
    page.locator(".job-card video").wait_for()
    rows = JobInput.objects.filter(role=InputRole.REFERENCE, subject=subject)
    assert sorted(r.upload_id for r in rows) == sorted(p.original_id
                                                       for p in subject.photos.all())
