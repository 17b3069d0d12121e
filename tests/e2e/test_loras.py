"""My LoRAs in a real browser, under the site's CSP: upload (htmx), a refusal's message, rename,
the studio offering the LoRA for the model it fits, delete."""

from __future__ import annotations

import pytest

from generation.models import Lora
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, sign_in
from tests.loras.files import lora_bytes

pytestmark = pytest.mark.e2e


def test_my_loras_upload_refuse_rename_offer_and_delete(page, live_site, tmp_path, page_problems):
    page_problems.allow_refusals(f"{live_site}/loras/")
    make_user("ada", PASSWORD)
    sign_in(page, live_site)
    page.click("nav >> text=My LoRAs")
    page.wait_for_url(live_site + "/loras/")
    assert page.locator("[data-empty]").is_visible()

    good = tmp_path / "paper-cut.safetensors"
    good.write_bytes(lora_bytes("tiny", seed=1))
    page.set_input_files("#lora-form input[type=file]", str(good))
    page.select_option("#lora-form select[name=base]", "tiny")
    page.click("#lora-form button[type=submit]")
    card = page.locator("#lora-grid [data-lora-id]").first
    card.wait_for()
    assert "paper-cut" in card.inner_text() and "rank 4" in card.inner_text()
    assert page.locator("[data-empty]").count() == 0
    lora = Lora.objects.get(name="paper-cut")

    wrong = tmp_path / "big.safetensors"
    wrong.write_bytes(lora_bytes("wan2.1-t2v-14b", rank=2, limit=2))
    page.set_input_files("#lora-form input[type=file]", str(wrong))
    page.select_option("#lora-form select[name=base]", "wan2.1-t2v-1.3b")
    page.click("#lora-form button[type=submit]")
    alert = page.locator("[data-lora-error]")
    alert.wait_for()
    assert alert.inner_text().startswith("This LoRA is for Wan 2.1 14B, not Wan 2.1 1.3B")
    assert Lora.objects.count() == 1

    page.fill(f"#rename-{lora.pk}", "Paper cut")
    page.click(f"#lora-{lora.pk} .rename-form button")
    page.locator(f"#lora-{lora.pk} [data-lora-name] >> text=Paper cut").wait_for()

    page.goto(live_site + "/studio/")
    offered = page.locator("select[name=lora_1] option").all_inner_texts()
    assert offered == ["—", "Paper cut"]

    page.goto(live_site + "/loras/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"#lora-{lora.pk} button[title=Delete]")
    page.locator(f"#lora-{lora.pk}").wait_for(state="detached")
    assert not Lora.objects.exists()
