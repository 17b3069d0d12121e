from django.urls import path

from storyboards import views

urlpatterns = [
    path("storyboards/", views.storyboard_list, name="storyboards"),
    path("storyboards/<uuid:storyboard_id>/", views.storyboard_detail, name="storyboard"),
    path("storyboards/<uuid:storyboard_id>/title/", views.rename, name="rename_storyboard"),
    path("storyboards/<uuid:storyboard_id>/delete/", views.delete, name="delete_storyboard"),
    path("storyboards/<uuid:storyboard_id>/shots/", views.add_shot, name="add_shot"),
    path("storyboards/<uuid:storyboard_id>/shots/<uuid:shot_id>/", views.edit_shot,
         name="edit_shot"),
    path("storyboards/<uuid:storyboard_id>/shots/<uuid:shot_id>/delete/", views.delete_shot,
         name="delete_shot"),
    path("storyboards/<uuid:storyboard_id>/shots/<uuid:shot_id>/move/", views.move_shot,
         name="move_shot"),
    path("storyboards/<uuid:storyboard_id>/render/", views.render_board,
         name="render_storyboard"),
    path("storyboards/<uuid:storyboard_id>/progress/", views.board_progress,
         name="storyboard_progress"),
]
