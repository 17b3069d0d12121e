"""What a video's page says was made from it: each job named by how it used the video, with a
short model name and a plain age."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from generation.formatting import ago, short_label
from generation.models import InputRole, Job, JobInput, JobOrigin
from tests.videos import make_video


def _made_from(video, kind: str, prompt: str, role: str = InputRole.SOURCE_VIDEO,
               origin: str = JobOrigin.NEW, **params) -> Job:
    job = make_video(video.owner, prompt).job
    Job.objects.filter(pk=job.pk).update(kind=kind, origin=origin, preset="wan2.1-t2v-14b",
                                         params={**job.params, **params})
    JobInput.objects.create(job=job, role=role, video=video)
    return job


def _made_list(page: str) -> str:
    return page[page.index("Made from this video"):]


def test_each_job_made_from_a_video_says_how_it_used_it(owner_client, owner):
    source = make_video(owner, "a harbour at noon")
    _made_from(source, "v2v", "Restyle as a watercolour")
    _made_from(source, "edit", "a red door", mode="change")
    _made_from(source, "edit", "wider", mode="reframe")
    _made_from(source, "extend", "the boat sails on")
    _made_from(source, "t2v", "the harbour at night", role=InputRole.REMIX_OF,
               origin=JobOrigin.REMIX)
    made = _made_list(owner_client.get(reverse("video_detail", args=[source.id])).text)
    assert "Restyled into" in made and "Restyle as a watercolour" in made
    assert "Edited into" in made and "Reframed into" in made and "Extended into" in made
    assert "Remixed into" in made
    assert "New:" not in made


def test_each_card_names_the_model_briefly_and_says_just_now(owner_client, owner):
    source = make_video(owner, "a harbour at noon")
    _made_from(source, "v2v", "Restyle as a watercolour")
    made = _made_list(owner_client.get(reverse("video_detail", args=[source.id])).text)
    cards = made.split("</ul>")[0]
    assert "Wan 2.1 text-to-video 14B" in cards and "(720p)" not in cards
    assert "just now" in made and "0 minutes" not in made


def test_short_label_cuts_the_parenthetical():
    assert short_label("tiny") == "Tiny random model"
    assert short_label("no-such-model") == "no-such-model"


def test_ago_says_just_now_for_the_first_minute():
    now = timezone.now()
    assert ago(now - timedelta(seconds=5)) == "just now"
    assert ago(now - timedelta(minutes=3)) == "3\xa0minutes ago"  # as timesince spaces it
    assert ago(None) == ""


def test_an_edits_page_shows_the_result_beside_its_source(owner_client, owner):
    source = make_video(owner, "a harbour at noon")
    edit = make_video(owner, "a red door")
    JobInput.objects.create(job=edit.job, role=InputRole.SOURCE_VIDEO, video=source)
    page = owner_client.get(reverse("video_detail", args=[edit.id])).text
    compare = page[page.index('<div class="compare">'):page.index("</div>", page.index(
        'class="compare-result"'))]
    assert compare.index("Source") < compare.index("Result")  # before, then after
    assert reverse("video_file", args=[edit.id]) in compare
    assert reverse("video_file", args=[source.id]) in compare
    # The result is the page's only .player: "Animate a frame" seeks that one.
    assert page.count('class="player"') == 1 and 'class="source-player"' in page


def test_a_video_made_from_a_prompt_has_one_player(owner_client, owner):
    video = make_video(owner)
    page = owner_client.get(reverse("video_detail", args=[video.id])).text
    assert 'class="compare"' not in page and page.count("<video") == 1
