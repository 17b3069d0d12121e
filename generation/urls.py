from django.urls import path
from django.views.generic import RedirectView

from generation import gallery_views, lora_views, upload_views, views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="studio"), name="home"),
    path("studio/", views.studio, name="studio"),
    path("studio/form/", views.generation_form, name="generation_form"),
    path("jobs/", views.submit, name="submit_job"),
    path("jobs/<uuid:job_id>/", views.job_card, name="job_card"),
    path("jobs/<uuid:job_id>/cancel/", views.cancel, name="cancel_job"),
    path("jobs/<uuid:job_id>/retry/", views.retry, name="retry_job"),
    path("videos/<uuid:video_id>/file.mp4", views.video_file, name="video_file"),
    path("videos/<uuid:video_id>/poster.jpg", views.video_poster, name="video_poster"),
    path("videos/<uuid:video_id>/download/", gallery_views.video_download,
         name="video_download"),
    path("uploads/", upload_views.uploads, name="uploads"),
    path("uploads/<uuid:upload_id>/file", upload_views.upload_file, name="upload_file"),
    path("uploads/<uuid:upload_id>/thumb.jpg", upload_views.upload_thumb, name="upload_thumb"),
    path("uploads/<uuid:upload_id>/delete/", upload_views.delete_upload, name="delete_upload"),
    path("loras/", lora_views.loras, name="loras"),
    path("loras/<uuid:lora_id>/rename/", lora_views.rename_lora, name="rename_lora"),
    path("loras/<uuid:lora_id>/delete/", lora_views.delete_lora, name="delete_lora"),
    path("gallery/", gallery_views.gallery_page, name="gallery"),
    path("videos/<uuid:video_id>/", gallery_views.video_detail, name="video_detail"),
    path("videos/<uuid:video_id>/favourite/", gallery_views.toggle_favourite,
         name="toggle_favourite"),
    path("videos/<uuid:video_id>/continue/", gallery_views.continue_from_last_frame,
         name="continue_from_last_frame"),
    path("videos/<uuid:video_id>/delete/", gallery_views.delete_video, name="delete_video"),
    path("videos/<uuid:video_id>/share/", gallery_views.share_video, name="share_video"),
    path("s/<str:slug>/", gallery_views.shared_video, name="shared_video"),
    path("s/<str:slug>/video.mp4", gallery_views.shared_file, name="shared_file"),
    path("s/<str:slug>/poster.jpg", gallery_views.shared_poster, name="shared_poster"),
    path("u/<str:username>/", gallery_views.public_profile, name="public_profile"),
    path("explore/", gallery_views.explore, name="explore"),
]
