"""Files sent with a studio form become the user's uploads here, called by the view before the
form validates the job, so that a form's clean() reads every input by id and stores nothing.

A form names its file fields as `FileSlot`s: the file field, the id field its accepted upload
fills in (so a re-rendered form carries the id and the file is not sent twice) and the role the
job reads it in (whose kind the entrance's rule checks). A refused file stores nothing and its
message goes to the form, shown on the file's field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

from generation.models import InputRole, Upload, UploadKind
from generation.submission import kind_problem
from generation.uploads import UploadRefused, accept_upload


@dataclass(frozen=True)
class FileSlot:
    """A form's file field, and the id field its upload fills in."""

    file_field: str
    id_field: str
    role: InputRole
    # Other choices a file sent now stands in for (a gallery video picked before).
    replaces: tuple[str, ...] = ()
    # Kept for a re-try when the form is refused; a mask drawn for a refused job is not.
    kept_if_refused: bool = True
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class SentFiles:
    """The form's data with each accepted file's id in place, and the refused files' messages
    by file field."""

    data: QueryDict
    refused: dict[str, str]
    made: list[tuple[FileSlot, Upload]]

    def discard_unkept(self, form: forms.Form) -> None:
        """After a refused form: the uploads of no use to a re-try are deleted, and the
        re-rendered form no longer names them."""
        bound = cast(QueryDict, form.data).copy()  # bound to SentFiles.data
        for slot, upload in self.made:
            if not slot.kept_if_refused:
                upload.delete()
                bound[slot.id_field] = ""
        form.data = bound


def accept_sent_files(form_class: type[forms.Form], slots: tuple[FileSlot, ...], user: Any,
                      data: QueryDict, files: MultiValueDict) -> SentFiles:
    """Each file sent in one of `slots`, after its field's own checks, accepted as an upload
    of `user`'s (checked by content, against the quota) and of the kind its role reads."""
    bound = data.copy()
    refused: dict[str, str] = {}
    made: list[tuple[FileSlot, Upload]] = []
    for slot in slots:
        if not files.get(slot.file_field):
            continue
        try:
            file = form_class.base_fields[slot.file_field].clean(files[slot.file_field])
            upload = accept_upload(user, file)
        except ValidationError as invalid:
            refused[slot.file_field] = " ".join(invalid.messages)
            continue
        except UploadRefused as refusal:
            refused[slot.file_field] = refusal.message
            continue
        problem = kind_problem(slot.role, upload.kind == UploadKind.VIDEO)
        if problem is not None:
            upload.delete()
            refused[slot.file_field] = problem
            continue
        if slot.metadata:
            upload.metadata = {**upload.metadata, **slot.metadata}
            upload.save(update_fields=["metadata"])
        made.append((slot, upload))
        bound[slot.id_field] = str(upload.id)
        for name in slot.replaces:
            bound[name] = ""
    return SentFiles(bound, refused, made)
