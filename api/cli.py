"""`framecraft`: the studio from a terminal.

    framecraft generate "a red fox in snow" --model tiny --wait -o fox.mp4
    framecraft generate "the boat sails away" --model ltx-video --image harbour.png --wait
    framecraft generate "a storm rolls in" --model ltx-video --image calm.png \
        --keyframe storm.png@32,0.8 --speed balanced --fp8 --no-sound
    framecraft generate "@Rex runs along a beach" --model wan2.1-vace-1.3b --wait
    framecraft jobs ls | show ID | cancel ID | download ID [-o FILE]
    framecraft subjects ls | show S | create NAME PHOTO... | add S FILE... | delete S
    framecraft subjects grant S USER | revoke S USER
    framecraft loras ls | upload FILE [--name N] [--base MODEL] | rename L NAME | delete L
    framecraft improve "a fox in snow" --model tiny
    framecraft presets

Subjects (S) and LoRAs (L) are named by id or by name.

The key comes from --key, FRAMECRAFT_API_KEY or ~/.config/framecraft/config.toml
(`api_key = "fc_…"`, `url = "https://studio.example.com"`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api import cli_library
from api.cli_library import lora_use, subject_id
from api.cli_output import EXIT_FAILED, ApiUsage, emit, err, out
from api.client import ApiProblem, Client, load_settings
from api.schemas import InputIn, JobIn, JobOut, SpeedName, TaskName

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130

# Which flag brings which input, and the task a flag implies when --task is not given.
MENTION_LIKE = re.compile(r"(?<![\w@])@\w")
INPUT_FLAGS = (("image", "start_image", "i2v"), ("end_image", "end_image", None),
               ("video", "source_video", "v2v"), ("mask", "mask", "edit"),
               ("reference", "reference", "personalize"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="framecraft", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="the studio's address (FRAMECRAFT_URL)")
    parser.add_argument("--key", help="an API key (FRAMECRAFT_API_KEY)")
    parser.add_argument("--json", action="store_true", help="print JSON, no progress bar")
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="make a video")
    generate.add_argument("prompt")
    generate.add_argument("--model", "-m", required=True, help="a preset id (see `presets`)")
    generate.add_argument("--task", choices=list(get_args(TaskName)))
    generate.add_argument("--negative", default="", help="what to avoid")
    generate.add_argument("--original", help="the prompt as you wrote it, where PROMPT is "
                                             "`framecraft improve`'s suggestion: the recipe "
                                             "keeps both")
    for name in ("width", "height", "frames", "steps", "seed"):
        generate.add_argument(f"--{name}", type=int)
    generate.add_argument("--guidance", type=float)
    generate.add_argument("--speed", choices=list(get_args(SpeedName)),
                          help="quality (the default), balanced, or preview where the model "
                               "has it (see `presets`)")
    generate.add_argument("--fp8", action=argparse.BooleanOptionalAction,
                          help="fp8 matrix maths, where a GPU worker has it")
    generate.add_argument("--sound", action=argparse.BooleanOptionalAction,
                          help="--no-sound: a silent video (the default keeps the sound a "
                               "model makes, or a source video's)")
    generate.add_argument("--image", help="start image: a file, or an upload id")
    generate.add_argument("--end-image", dest="end_image", help="end image: a file or upload id")
    generate.add_argument("--video", help="source video: a file, an upload id, or video:<id> "
                                          "for one of your gallery's")
    generate.add_argument("--mask", help="mask video or image: a file or an upload id")
    generate.add_argument("--keyframe", action="append", default=[],
                          metavar="IMAGE@FRAME[,STRENGTH]",
                          help="an image the clip passes through at FRAME (repeatable; with "
                               "--image, on a model that takes keyframes): a file or an "
                               "upload id, and a strength from 0 to 1 (default 1)")
    generate.add_argument("--reference", action="append", default=[],
                          help="reference image (repeatable): a file or an upload id")
    generate.add_argument("--subject", action="append", default=[],
                          help="a subject of yours or shared with you (repeatable): its id or "
                               "name; or write @name in the prompt")
    generate.add_argument("--lora", action="append", default=[],
                          metavar="LORA[:STRENGTH[:EXPERT]]",
                          help="one of your LoRAs (repeatable): its id or name, a strength, "
                               "and on a two-expert model (Wan 2.2 A14B) the expert it goes "
                               "into: both (the default), high_noise or low_noise")
    generate.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                          help="a task's own setting, e.g. fit=pad or strength=0.6")
    generate.add_argument("--remix", metavar="VIDEO_ID",
                          help="a video of yours or a public one this job remixes (lineage)")
    generate.add_argument("--idempotency-key", help="resending with the same key never makes "
                                                    "a second job (default: a fresh one)")
    generate.add_argument("--wait", action="store_true", help="follow the job to its end")
    generate.add_argument("-o", "--output", type=Path, help="save the video here (implies "
                                                             "--wait)")

    jobs = commands.add_parser("jobs", help="your jobs").add_subparsers(dest="jobs_command",
                                                                        required=True)
    ls = jobs.add_parser("ls", help="list your latest jobs")
    ls.add_argument("--limit", type=int, default=20)
    ls.add_argument("--status", choices=["queued", "running", "succeeded", "failed",
                                         "cancelled"])
    for name in ("show", "cancel"):
        jobs.add_parser(name, help=f"{name} a job").add_argument("job_id")
    download = jobs.add_parser("download", help="save a finished job's video")
    download.add_argument("job_id")
    download.add_argument("-o", "--output", type=Path)

    commands.add_parser("presets", help="the installed models")
    cli_library.add_commands(commands)
    return parser


def _emit(args: argparse.Namespace, data: BaseModel | list[Any] | dict[str, Any]) -> None:
    emit(data)


def _option(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise ApiUsage(f"--option takes NAME=VALUE, not {text!r}.")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw


def _input(client: Client, role: str, value: str, quiet: bool) -> InputIn:
    if value.startswith("video:"):
        return InputIn(role=role, video_id=uuid.UUID(value[6:]))  # type: ignore[arg-type]
    path = Path(value).expanduser()
    if path.is_file():
        if not quiet:
            err.print(f"Uploading {path.name} …")
        upload = client.upload(path)
        return InputIn(role=role, upload_id=upload.id)  # type: ignore[arg-type]
    try:
        return InputIn(role=role, upload_id=uuid.UUID(value))  # type: ignore[arg-type]
    except ValueError:
        raise ApiUsage(f"{value!r} is neither a file nor an upload id.") from None


def _keyframe(client: Client, value: str, quiet: bool) -> tuple[InputIn, list[Any]]:
    """`IMAGE@FRAME[,STRENGTH]` as a keyframe input and its place (the last `@` splits, so a
    file's name may hold one)."""
    image, sep, place = value.rpartition("@")
    frame, _, strength = place.partition(",")
    try:
        if not (sep and image):
            raise ValueError
        where = [int(frame), float(strength) if strength else 1.0]
    except ValueError:
        raise ApiUsage(f"--keyframe takes IMAGE@FRAME[,STRENGTH], e.g. storm.png@32,0.8; "
                       f"not {value!r}.") from None
    return _input(client, "keyframe", image, quiet), where


def _job_in(client: Client, args: argparse.Namespace, quiet: bool) -> JobIn:
    inputs, implied = [], None
    for flag, role, task in INPUT_FLAGS:
        given = getattr(args, flag)
        for value in given if isinstance(given, list) else [given] if given else []:
            inputs.append(_input(client, role, value, quiet))
            implied = implied or task
    if args.video and args.mask:
        implied = "edit"
    options = dict(_option(o) for o in args.option)
    if args.keyframe:
        if "keyframes" in options:
            raise ApiUsage("Place keyframes with --keyframe or --option keyframes=…, not both.")
        keyframes = [_keyframe(client, value, quiet) for value in args.keyframe]
        inputs += [image for image, _ in keyframes]
        options["keyframes"] = [place for _, place in keyframes]
        implied = implied or "i2v"
    subjects = [subject_id(client, value, shared=True) for value in args.subject]
    # Only a guess at the task: the server finds the subjects `@name` names, or says why not.
    if (subjects or MENTION_LIKE.search(args.prompt)) and not implied:
        implied = "personalize"
    return JobIn(task=args.task or implied or "t2v", preset=args.model,  # type: ignore[arg-type]
                 prompt=args.prompt, negative_prompt=args.negative,
                 prompt_original=args.original, width=args.width,
                 height=args.height, num_frames=args.frames, steps=args.steps,
                 guidance=args.guidance, seed=args.seed, speed=args.speed, fp8=args.fp8,
                 sound=args.sound, inputs=inputs, subjects=subjects,
                 loras=[lora_use(client, value) for value in args.lora], options=options,
                 remix_of=_video_id(args.remix) if args.remix else None)


def _video_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value.removeprefix("video:"))
    except ValueError:
        raise ApiUsage(f"--remix takes a video's id, not {value!r}.") from None


def _describe(job: JobOut) -> str:
    if job.status == "queued":
        return f"queued (position {job.queue_position})" if job.queue_position else "queued"
    if job.status == "running":
        if job.cancel_requested:
            return "cancelling"
        if job.progress.total and job.progress.step >= job.progress.total:
            return "encoding"
        if job.progress.total:
            eta = f", about {job.eta_seconds:.0f} s left" if job.eta_seconds else ""
            return f"step {job.progress.step}/{job.progress.total}{eta}"
        return "loading the model"
    return job.status


def _follow(client: Client, job: JobOut, show: bool) -> JobOut:
    """Follow to the end with a live bar; Ctrl-C offers to cancel."""
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                        console=err, disable=not show, transient=False)
    try:
        with progress:
            bar = progress.add_task(_describe(job), total=None)
            for update in client.follow(job.id):
                job = update
                progress.update(bar, description=_describe(job),
                                total=job.progress.total or None, completed=job.progress.step)
        return job
    except KeyboardInterrupt:
        answer = ""
        if sys.stdin.isatty():
            try:
                answer = input(f"\nCancel job {job.id}? [y/N] ").strip().lower()
            except (EOFError, KeyboardInterrupt):
                answer = ""
        if answer in ("y", "yes"):
            client.cancel(job.id)
            err.print(f"Cancelled job {job.id}.")
        else:
            err.print(f"Left job {job.id} running; follow it with `framecraft jobs show "
                      f"{job.id}`.")
        raise SystemExit(EXIT_INTERRUPTED) from None


def _save(client: Client, job: JobOut, target: Path | None, quiet: bool) -> Path:
    if job.video_id is None:
        raise ApiUsage(f"Job {job.id} has no video (it is {job.status}).")
    target = target or Path(f"framecraft-{str(job.id)[:8]}.mp4")
    size = client.download(job.video_id, target)
    if not quiet:
        err.print(f"Saved {target} ({size / 1e6:.1f} MB).")
    return target


def _generate(client: Client, args: argparse.Namespace) -> int:
    quiet = args.json
    job = client.create_job(_job_in(client, args, quiet),
                            args.idempotency_key or str(uuid.uuid4()))
    if not (args.wait or args.output):
        if args.json:
            _emit(args, job)
        else:
            out.print(f"Job {job.id} is {_describe(job)}.")
        return 0
    job = _follow(client, job, show=not quiet and err.is_terminal)
    saved = None
    if job.status == "succeeded" and (args.output or args.wait):
        saved = _save(client, job, args.output, quiet)
    if args.json:
        _emit(args, {"job": job.model_dump(mode="json"),
                     "file": str(saved) if saved else None})
    elif job.status == "succeeded":
        out.print(f"Done: job {job.id}, video {job.video_id}.")
    else:
        message = f": {job.error.message}" if job.error else ""
        out.print(f"Job {job.id} {job.status}{message}")
    return 0 if job.status == "succeeded" else EXIT_FAILED


def _jobs(client: Client, args: argparse.Namespace) -> int:
    if args.jobs_command == "ls":
        page = client.jobs(limit=args.limit, status=args.status)
        if args.json:
            _emit(args, page)
            return 0
        table = Table("id", "status", "model", "created", "prompt")
        for job in page.items:
            table.add_row(str(job.id), _describe(job), job.preset,
                          job.created_at.strftime("%Y-%m-%d %H:%M"),
                          str(job.params.get("prompt", ""))[:50])
        out.print(table)
        return 0
    if args.jobs_command == "show":
        job = client.job(args.job_id)
    elif args.jobs_command == "cancel":
        job = client.cancel(args.job_id)
    else:
        job = client.job(args.job_id)
        saved = _save(client, job, args.output, args.json)
        if args.json:
            _emit(args, {"job": job.model_dump(mode="json"), "file": str(saved)})
        return 0
    if args.json:
        _emit(args, job)
    else:
        out.print(f"{job.id}  {_describe(job)}  {job.preset}  {job.params.get('prompt', '')}")
        if job.error:
            out.print(f"  {job.error.code}: {job.error.message}")
        if job.video_id:
            out.print(f"  video {job.video_id}")
    return 0


def _presets(client: Client, args: argparse.Namespace) -> int:
    presets = client.presets()
    if args.json:
        _emit(args, presets)
        return 0
    table = Table("id", "tasks", "sizes", "frames", "steps", "speeds", "sound")
    for p in presets:
        table.add_row(p.id, ", ".join(p.tasks), " ".join(f"{w}x{h}" for w, h in p.sizes[:3]),
                      f"{p.frame_choices[0]}–{p.frame_choices[-1]}", f"≤ {p.max_steps}",
                      ", ".join(p.speeds), "yes" if p.makes_sound else "")
    out.print(table)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings(args.url, args.key)
    if not settings.api_key:
        err.print("No API key: make one on your profile page, then set FRAMECRAFT_API_KEY or "
                  "put `api_key = \"…\"` in ~/.config/framecraft/config.toml.")
        return EXIT_USAGE
    client = Client(settings)
    try:
        if args.command == "generate":
            return _generate(client, args)
        if args.command == "jobs":
            return _jobs(client, args)
        if args.command in cli_library.COMMANDS:
            return cli_library.run(client, args)
        return _presets(client, args)
    except ApiProblem as problem:
        err.print(f"[red]Error[/red] ({problem.status} {problem.problem.code}): {problem}")
        return EXIT_FAILED
    except ApiUsage as usage:
        err.print(f"[red]Error:[/red] {usage}")
        return EXIT_USAGE
    except OSError as problem:
        err.print(f"[red]Error:[/red] {problem}")
        return EXIT_USAGE
    finally:
        client.close()


if __name__ == "__main__":
    raise SystemExit(main())
