"""`framecraft subjects …` and `framecraft loras …`: a person's library of subjects and LoRAs;
`framecraft improve …`: a prompt rewritten in a model's style, to generate with.

    framecraft subjects ls | show S | create NAME PHOTO... [--kind K] | add S FILE... | delete S
    framecraft subjects grant S USER | revoke S USER
    framecraft loras ls | upload FILE [--name N] [--purpose P] [--base MODEL] | rename L NAME
    framecraft loras delete L
    framecraft improve PROMPT --model M [--task T]

A subject or LoRA is named by its id or its name (a subject's case-insensitively, one's own
before one shared with you, as `@name` is read).
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path
from typing import Any, cast, get_args

from rich.markup import escape
from rich.table import Table

from api.cli_output import EXIT_FAILED, ApiUsage, emit, err, out
from api.client import Client
from api.schemas import (
    ExpertName,
    LoraPurposeName,
    LoraUseIn,
    PromptHelpIn,
    PromptTaskName,
    SubjectIn,
    SubjectKindName,
    SubjectOut,
)

COMMANDS = ("subjects", "loras", "improve")


def add_commands(commands: Any) -> None:
    subjects = commands.add_parser("subjects", help="your subjects (people, pets, objects…)")
    verbs = subjects.add_subparsers(dest="subjects_command", required=True)
    verbs.add_parser("ls", help="your subjects and those shared with you")
    verbs.add_parser("show", help="a subject's photos and grants").add_argument("subject")
    create = verbs.add_parser("create", help="make a subject from 1 to 5 photos")
    create.add_argument("name", help="written @name in a prompt")
    create.add_argument("photos", nargs="+", help="image files (uploaded first) or upload ids")
    create.add_argument("--kind", choices=get_args(SubjectKindName), default="person")
    add = verbs.add_parser("add", help="add photo files to a subject")
    add.add_argument("subject")
    add.add_argument("photos", nargs="+", type=Path)
    verbs.add_parser("delete", help="delete a subject (its videos stay)").add_argument("subject")
    for verb, what in (("grant", "let USER use the subject"),
                       ("revoke", "take USER's use of it back")):
        command = verbs.add_parser(verb, help=what)
        command.add_argument("subject")
        command.add_argument("username")

    loras = commands.add_parser("loras", help="your LoRAs")
    verbs = loras.add_subparsers(dest="loras_command", required=True)
    verbs.add_parser("ls", help="your LoRAs and the models they fit")
    upload = verbs.add_parser("upload", help="upload a .safetensors LoRA")
    upload.add_argument("file", type=Path)
    upload.add_argument("--name", default="", help="default: the file's name")
    upload.add_argument("--purpose", choices=get_args(LoraPurposeName), default="style")
    upload.add_argument("--base", default="", help="the model it was trained for (default: "
                                                   "found from the file)")
    rename = verbs.add_parser("rename", help="rename a LoRA")
    rename.add_argument("lora")
    rename.add_argument("name")
    verbs.add_parser("delete", help="delete a LoRA (its videos stay)").add_argument("lora")

    improve = commands.add_parser(
        "improve", help="rewrite a prompt in the detailed style a model was trained on",
        description="Prints the suggestion alone on stdout, to read, edit, or generate with: "
                    "framecraft generate \"$(framecraft improve 'a fox' -m M)\" -m M "
                    "--original 'a fox' (the recipe keeps both prompts).")
    improve.add_argument("prompt")
    improve.add_argument("--model", "-m", required=True, help="a preset id (see `presets`)")
    improve.add_argument("--task", choices=get_args(PromptTaskName), default="t2v",
                         help="the job it is for (i2v and extend: a prompt about motion)")


def subject_id(client: Client, value: str, shared: bool = False) -> uuid.UUID:
    """The id of the subject named `value` (an id, or a name), one's own first."""
    try:
        return uuid.UUID(value)
    except ValueError:
        pass
    listed = client.subjects()
    name = value.removeprefix("@").lower()
    found = [s.id for s in listed.own if s.name.lower() == name]
    if shared:
        found += [s.id for s in listed.shared_with_you if s.name.lower() == name]
    if not found:
        raise ApiUsage(f"You have no subject called {value!r}"
                       + (" (nor one shared with you)." if shared else "."))
    return found[0]


def lora_id(client: Client, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        pass
    found = [lora.id for lora in client.loras() if lora.name == value]
    if not found:
        raise ApiUsage(f"You have no LoRA called {value!r}.")
    return found[0]


def lora_use(client: Client, value: str) -> LoraUseIn:
    """`NAME_OR_ID[:STRENGTH[:EXPERT]]` (a name may hold colons: only a number after the last
    one is a strength, or a number and then an expert after the last two)."""
    head, sep, last = value.rpartition(":")
    name, middle, strength = head.rpartition(":")
    if sep and middle and name and _number(strength) is not None and _number(last) is None:
        experts = get_args(ExpertName)
        if last not in experts:
            raise ApiUsage(f"--lora {value}: after the strength comes the expert the LoRA goes "
                           f"into, one of {', '.join(experts)}.")
        return LoraUseIn(id=lora_id(client, name), strength=float(strength),
                         expert=cast(ExpertName, last))
    weight = _number(last) if sep and head else None
    if weight is None:
        return LoraUseIn(id=lora_id(client, value), strength=1.0, expert="both")
    return LoraUseIn(id=lora_id(client, head), strength=weight, expert="both")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _photo(client: Client, value: str, quiet: bool) -> uuid.UUID:
    path = Path(value).expanduser()
    if path.is_file():
        if not quiet:
            err.print(f"Uploading {path.name} …")
        return client.upload(path).id
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiUsage(f"{value!r} is neither a file nor an upload id.") from None


def _show(subject: SubjectOut) -> None:
    out.print(f"@{subject.name}  {subject.kind}  {subject.id}")
    for photo in subject.photos:
        version = "background removed" if photo.used_upload_id == photo.cutout_upload_id \
            else "original"
        out.print(f"  photo {photo.id}: {version} ({photo.cutout_status})")
    for grant in subject.grants:
        out.print(f"  may be used by {grant.username}")


def _subjects(client: Client, args: argparse.Namespace) -> int:
    command = args.subjects_command
    if command == "ls":
        listed = client.subjects()
        if args.json:
            emit(listed)
            return 0
        table = Table("id", "name", "kind", "photos", "owner")
        for s in listed.own:
            table.add_row(str(s.id), f"@{s.name}", s.kind, str(len(s.photos)), "you")
        for shared in listed.shared_with_you:
            table.add_row(str(shared.id), f"@{shared.name}", shared.kind, "", shared.owner)
        out.print(table)
        return 0
    if command == "create":
        photos = [_photo(client, value, args.json) for value in args.photos]
        subject = client.create_subject(SubjectIn(name=args.name, kind=args.kind,
                                                  photos=photos))
    elif command == "add":
        subject = client.add_photos(subject_id(client, args.subject), args.photos)
    else:
        subject = client.subject(subject_id(client, args.subject))
    if command == "delete":
        client.delete_subject(subject.id)
        return _done(args, {"deleted": str(subject.id)}, f"Deleted @{subject.name}; videos "
                                                         "made with it stay.")
    if command == "grant":
        grant = client.grant(subject.id, args.username)
        return _done(args, grant, f"{grant.username} may now use @{subject.name}.")
    if command == "revoke":
        grant_id = next((g.id for g in subject.grants
                         if g.username.lower() == args.username.lower()), None)
        if grant_id is None:
            raise ApiUsage(f"{args.username} may not use @{subject.name} anyway.")
        revoked = client.revoke(subject.id, grant_id)
        note = f" {revoked.failed_jobs} of their waiting jobs used it and failed." \
            if revoked.failed_jobs else ""
        return _done(args, revoked, f"{args.username} may no longer use @{subject.name}.{note}")
    if args.json:
        emit(subject)
    else:
        _show(subject)
    return 0


def _loras(client: Client, args: argparse.Namespace) -> int:
    command = args.loras_command
    if command == "ls":
        loras = client.loras()
        if args.json:
            emit(loras)
            return 0
        table = Table("id", "name", "for", "made for", "rank", "size")
        for lora in loras:
            table.add_row(str(lora.id), lora.name, lora.purpose, lora.base_label,
                          str(lora.rank), f"{lora.size_bytes / 1e6:.1f} MB")
        out.print(table)
        return 0
    if command == "upload":
        lora = client.upload_lora(args.file, args.name, args.purpose, args.base)
        return _done(args, lora, f"Added the LoRA “{lora.name}” ({lora.id}), for "
                                 f"{lora.base_label}.")
    target = lora_id(client, args.lora)
    if command == "rename":
        lora = client.rename_lora(target, args.name)
        return _done(args, lora, f"Renamed it “{lora.name}”.")
    client.delete_lora(target)
    return _done(args, {"deleted": str(target)}, "Deleted the LoRA; videos made with it stay.")


def _done(args: argparse.Namespace, data: Any, message: str) -> int:
    if args.json:
        emit(data)
    else:
        out.print(message)
    return 0


def _improve(client: Client, args: argparse.Namespace) -> int:
    if not args.json:
        err.print(f"Asking for a better prompt for {args.model} …")
    answer = client.improve_prompt(PromptHelpIn(preset=args.model, prompt=args.prompt,
                                                task=args.task))
    if args.json:
        emit(answer)
    elif answer.status == "succeeded":
        err.print(f"In {answer.style}'s style, by {answer.helper} ({answer.seconds:.1f} s):")
        # Plain print: rich would wrap the words and read brackets as markup.
        print(answer.suggestion)
    else:
        err.print(f"[red]No suggestion:[/red] {escape(answer.message)}")
    return 0 if answer.status == "succeeded" else EXIT_FAILED


def run(client: Client, args: argparse.Namespace) -> int:
    if args.command == "improve":
        return _improve(client, args)
    return _subjects(client, args) if args.command == "subjects" else _loras(client, args)
