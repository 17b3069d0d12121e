"""Image to video in a real browser: drop an image on the studio's image form, see it, generate
with the tiny LTX-Video checkpoint on a real worker and watch the result play; move the crop
box and find the job's crop where it was left."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from generation.models import Job, JobStatus
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, serving, sign_in
from tests.processes import start_worker, wait_for
from tests.uploads.files import png
from worker.catalogue import build_pipeline

pytestmark = pytest.mark.e2e
PRESET = "ltx-video"

MAKE_FILES = """([b64, name]) => {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], name, {type: "image/png"}));
    return data;
}"""

PLAYBACK = """async (selector) => {
    const video = document.querySelector(selector);
    video.muted = true;
    video.loop = true;
    if (video.readyState < 2) {
        await new Promise(resolve => video.addEventListener('loadeddata', resolve, {once: true}));
    }
    const ready = video.readyState;
    await video.play();
    const start = video.currentTime;
    // Playback starts when the (busy) machine gets to it: wait for the clock to move.
    let later = start;
    for (let waited = 0; later === start && waited < 5000; waited += 50) {
        await new Promise(resolve => setTimeout(resolve, 50));
        later = video.currentTime;
    }
    const played = video.played.length ? video.played.end(video.played.length - 1) : 0;
    return {ready, start, later, played, error: video.error && video.error.code};
}"""


@pytest.fixture
def ltx_site(models: Path, transactional_db, tmp_path: Path, page_problems):
    """The site and (on demand) a worker, both seeing the tiny LTX checkpoint installed."""
    build_pipeline(PRESET, "tiny", seed=0).save_pretrained(models / PRESET)
    with serving(tmp_path / "web.log", page_problems) as url:
        yield url


def _open_image_form(page, base_url: str) -> None:
    make_user("ada", PASSWORD)
    sign_in(page, base_url)
    page.click("label.task-option >> text=From an image")
    page.locator("input[name=start_image]").wait_for(state="attached")
    # The built-in demo models come first; these tests are about the LTX-Video checkpoint.
    page.eval_on_selector("#generation-form", "form => { form.dataset.stale = '1'; }")
    page.select_option("select[name=preset]", PRESET)
    page.wait_for_function("() => !document.querySelector('#generation-form').dataset.stale"
                           " && !document.querySelector('.htmx-request')")


def _drop(page, size: tuple[int, int], name: str) -> None:
    """A real drop: dragenter, dragover and drop carrying a DataTransfer with the file."""
    files = page.evaluate_handle(MAKE_FILES, [base64.b64encode(png(*size)).decode(), name])
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event("[data-dropzone-area]", event, {"dataTransfer": files})


def test_a_dropped_image_is_shown_generated_from_and_plays(page, ltx_site, tmp_path):
    worker = start_worker(tmp_path / "worker.log", FRAMECRAFT_PROGRESS_INTERVAL="0.1")
    try:
        _open_image_form(page, ltx_site)
        _drop(page, (300, 200), "harbour.png")
        # The form re-rendered with the image: its preview, and the size nearest its 3:2.
        preview = page.locator(".image-input img.input-thumb")
        preview.wait_for()
        page.wait_for_function(
            "() => document.querySelector('.image-input img.input-thumb')?.naturalWidth > 0")
        assert "harbour.png" in page.locator(".image-input").inner_text()
        assert page.input_value("select[name=size]") == "768x512"

        page.fill("textarea[name=prompt]", "a harbour at dawn, boats rocking")
        page.click("summary >> text=Settings")
        page.select_option("select[name=num_frames]", "9")
        page.fill("input[name=steps]", "2")
        page.click("#generation-form button[type=submit]")
        page.wait_for_function(
            "() => document.querySelector('.job-card')?.dataset.status === 'succeeded'",
            timeout=240_000)
        job = Job.objects.get()
        assert job.status == JobStatus.SUCCEEDED, worker.log()
        assert job.inputs.get().upload.original_name == "harbour.png"

        page.locator(".job-card video").wait_for()
        playback = page.evaluate(PLAYBACK, ".job-card video")
        assert playback["error"] is None
        assert playback["ready"] >= 2
        assert playback["later"] != playback["start"] and playback["played"] > 0
    finally:
        worker.stop()


def _crop_fields(page) -> list[int]:
    return [int(page.input_value(f"input[name={name}]"))
            for name in ("crop_left", "crop_top", "crop_right", "crop_bottom")]


def test_the_crop_box_moves_and_the_job_gets_that_crop(page, ltx_site):
    _open_image_form(page, ltx_site)
    _drop(page, (400, 200), "panorama.png")
    box = page.locator("[data-crop-box]")
    box.wait_for()
    page.wait_for_function("() => document.querySelector('[data-crop-image]').naturalWidth > 0")
    width, height = (int(v) for v in page.input_value("select[name=size]").split("x"))
    left, top, right, bottom = _crop_fields(page)
    # Centred, the video's shape, as tall as the image.
    assert (top, bottom) == (0, 200)
    assert abs((right - left) - 200 * width / height) <= 1
    assert abs((left + right) / 2 - 200) <= 1

    box.scroll_into_view_if_needed()
    before = box.bounding_box()
    page.mouse.move(before["x"] + before["width"] / 2, before["y"] + before["height"] / 2)
    page.mouse.down()
    page.mouse.move(before["x"] + before["width"] / 2 - 30, before["y"] + 40, steps=5)
    page.mouse.up()
    after = box.bounding_box()
    assert after["x"] < before["x"] - 20 and after["y"] == before["y"]  # no room to move down
    moved = _crop_fields(page)
    assert moved[0] < left and moved[2] - moved[0] == right - left
    assert (moved[1], moved[3]) == (0, 200)

    page.fill("textarea[name=prompt]", "the left side of the view")
    page.click("#generation-form button[type=submit]")
    job = wait_for(lambda: Job.objects.first(), 30, "the job")
    assert job.params["crop"] == moved


def test_keyframes_are_placed_on_the_timeline_and_sent_snapped(page, ltx_site):
    _open_image_form(page, ltx_site)
    _drop(page, (300, 200), "start.png")
    page.locator(".image-input img.input-thumb").wait_for()
    page.click("summary >> text=Settings")
    page.select_option("select[name=num_frames]", "33")
    page.click("[data-keyframe-add]")
    row = page.locator("[data-keyframe]").first
    row.wait_for()
    # A new keyframe takes the clip's last free frame, and its length is kept on re-render.
    assert page.input_value("select[name=num_frames]") == "33"
    assert page.input_value("[data-keyframe-frame]") == "32"

    files = page.evaluate_handle(MAKE_FILES, [base64.b64encode(png(200, 300)).decode(), "k.png"])
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event("[data-keyframe] [data-dropzone-area]", event, {"dataTransfer": files})
    page.locator("[data-keyframe] img.keyframe-thumb").wait_for()
    marker = page.locator('.timeline [data-marker="1"]')
    marker.locator("img").wait_for()

    # Dragged to a third of the clip, the keyframe snaps to the nearest 8th frame.
    timeline = page.locator("[data-timeline]")
    timeline.scroll_into_view_if_needed()
    line = timeline.bounding_box()
    handle = marker.bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(line["x"] + line["width"] * 0.3, handle["y"] + handle["height"] / 2,
                    steps=6)
    page.mouse.up()
    assert page.input_value("[data-keyframe-frame]") == "8"  # 0.3 x 32 = 9.6 -> 8
    assert page.locator("[data-keyframe-time]").inner_text() == "0.32 s"
    page.evaluate(  # a range input: set it as a drag would
        "() => { const s = document.querySelector('[data-keyframe-strength]');"
        " s.value = '0.6'; s.dispatchEvent(new Event('input', {bubbles: true})); }")
    assert page.locator("[data-keyframe-strength-value]").inner_text() == "0.6"

    # A second keyframe from the user's earlier uploads (the start image), at the end.
    page.click("[data-keyframe-add]")
    second = page.locator('[data-keyframe="2"]')
    second.wait_for()
    second.locator("summary >> text=Or use one of your uploads").click()
    second.locator('[data-pick-upload] img[alt="start.png"]').click()
    page.locator('[data-keyframe="2"] img.keyframe-thumb').wait_for()
    assert page.input_value('[data-keyframe="1"] [data-keyframe-frame]') == "8"
    assert page.input_value('[data-keyframe="2"] [data-keyframe-frame]') == "32"

    page.fill("textarea[name=prompt]", "a kite rises")
    page.click("#generation-form button[type=submit]")
    job = wait_for(lambda: Job.objects.first(), 30, "the job")
    assert job.params["keyframes"] == [[8, 0.6], [32, 1.0]]
    names = [row.upload.original_name
             for row in job.inputs.filter(role="keyframe").order_by("position")]
    assert names == ["k.png", "start.png"]


def test_animate_a_frame_seeks_the_player_and_opens_the_studio_with_that_frame(page,
                                                                               live_site,
                                                                               tmp_path):
    import numpy as np
    from django.core.files import File

    from generation.models import Upload
    from tests.videos import make_video
    from worker.runtime.encode import encode_mp4

    ada = make_user("ada", PASSWORD)
    frames = np.zeros((8, 96, 128, 3), np.uint8)
    for index in range(8):
        frames[index] = (30 * index, 240 - 30 * index, 90)
    encode_mp4(frames, 8, tmp_path / "clip.mp4", metadata={})
    video = make_video(ada, prompt="a lantern swinging")
    video.frame_count = 8
    with (tmp_path / "clip.mp4").open("rb") as stream:
        video.file.save("clip.mp4", File(stream))

    sign_in(page, live_site)
    page.goto(f"{live_site}/videos/{video.id}/")
    page.wait_for_function("() => document.querySelector('video.player').readyState >= 1")
    page.fill("[data-frame-input]", "5")
    page.wait_for_function(
        "() => Math.abs(document.querySelector('video.player').currentTime - 5.5 / 8) < 0.01")
    assert page.locator("[data-frame-readout]").inner_text().startswith("frame 5 of 8")
    page.click("text=Animate this frame")
    page.wait_for_url(f"{live_site}/studio/?*")
    upload = Upload.objects.get(owner=ada)
    assert upload.metadata["frame"] == 5
    assert page.input_value("input[name=start_image]") == str(upload.id)
    assert page.input_value("textarea[name=prompt]") == "a lantern swinging"
