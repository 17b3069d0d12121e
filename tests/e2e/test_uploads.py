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


def test_the_drop_zone_uploads_shows_refusals_and_deletes(page, live_site, tmp_path):
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
