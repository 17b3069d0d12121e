"""The drop zone in a real browser, under the site's CSP: pick, paste and drop a file, see its
card, see a refusal's message, delete it."""

from __future__ import annotations

import base64

import pytest

from generation.models import Upload
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, sign_in
from tests.uploads.files import png

pytestmark = pytest.mark.e2e

SEND_FILE = """([kind, b64, name]) => {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], name, {type: "image/png"}));
    const area = document.querySelector("[data-dropzone-area]");
    if (kind === "paste") {
        document.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true}));
    } else {
        for (const type of ["dragenter", "dragover", "drop"]) {
            area.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true,
                                                    cancelable: true}));
        }
    }
}"""


def test_the_drop_zone_uploads_shows_refusals_and_deletes(page, live_site, tmp_path,
                                                          page_problems):
    page_problems.allow_refusals(f"{live_site}/uploads/")
    make_user("ada", PASSWORD)
    sign_in(page, live_site)
    page.click("nav >> text=My uploads")
    page.wait_for_url(live_site + "/uploads/")
    assert page.locator("[data-empty]").is_visible()

    picked = tmp_path / "picked.png"
    picked.write_bytes(png(120, 90))
    page.set_input_files("[data-dropzone-input]", str(picked))
    card = page.locator("#upload-grid [data-upload-id]").first
    card.wait_for()
    assert "picked.png" in card.inner_text()
    assert "120×90" in card.inner_text()
    upload = Upload.objects.get(original_name="picked.png")
    assert page.input_value("[data-dropzone-value]") == str(upload.id)
    # The thumbnail loaded through the owner-only route.
    page.wait_for_function("() => document.querySelector('#upload-grid img').naturalWidth > 0")
    assert page.locator("[data-empty]").count() == 0

    for kind in ("paste", "drop"):
        page.evaluate(SEND_FILE, [kind, base64.b64encode(png(64, 64)).decode(), f"{kind}.png"])
        page.locator(f"#upload-grid [data-upload-id] >> text={kind}.png").wait_for()

    page.evaluate(SEND_FILE, ["drop", base64.b64encode(png(1, 1)).decode(), "dot.png"])
    alert = page.locator("[data-dropzone-status] [role=alert]")
    alert.wait_for()
    assert alert.inner_text() == "This image is 1×1 pixels; it must be at least 64×64."
    assert Upload.objects.count() == 3

    page.on("dialog", lambda dialog: dialog.accept())
    page.locator(f"#upload-{upload.id} button[type=submit]").click()
    page.locator(f"#upload-{upload.id}").wait_for(state="detached")
    assert not Upload.objects.filter(pk=upload.pk).exists()


def test_a_file_chosen_in_a_job_form_is_sent_with_it_and_its_cross_only_removes_it(
        page, live_site, tmp_path, page_problems):
    """A zone inside a job's form (the swap's mask) shows no delete form of its own: pressing
    Generate sends the job form, asks nothing and deletes nothing; ✕ only clears the choice."""
    page_problems.allow_refusals(f"{live_site}/jobs/")
    ada = make_user("ada", PASSWORD)
    sign_in(page, live_site)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.check("#generation-form input[name=task][value=swap]")
    zone = page.locator("[data-dropzone]:has(input[name=mask])")
    zone.wait_for()
    (tmp_path / "mask.png").write_bytes(png(128, 128, color=(255, 255, 255)))
    zone.locator("[data-dropzone-input]").set_input_files(str(tmp_path / "mask.png"))
    page.wait_for_function("() => document.querySelector('input[name=mask]').value")
    assert zone.locator("form").count() == 0
    with page.expect_response(lambda r: r.url.endswith("/jobs/")
                              and r.request.method == "POST") as sent:
        page.click("#generation-form button[type=submit]")
    assert sent.value.status == 422  # Ada has no video or subject yet: the form says so
    assert dialogs == [] and Upload.objects.filter(owner=ada).count() == 1

    page.fill("#generation-form textarea[name=prompt]", "kept")  # the form was re-rendered
    zone = page.locator("[data-dropzone]:has(input[name=mask])")
    zone.locator("[data-dropzone-input]").set_input_files(str(tmp_path / "mask.png"))
    page.wait_for_function("() => document.querySelector('input[name=mask]').value")
    zone.locator("[data-dropzone-clear]").click()
    assert page.input_value("input[name=mask]") == ""
    assert zone.locator("[data-upload-id]").count() == 0
    assert dialogs == [] and Upload.objects.filter(owner=ada).count() == 2
