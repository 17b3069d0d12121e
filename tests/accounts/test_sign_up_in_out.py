from django.urls import reverse

from accounts.models import User
from tests.conftest import csrf_token_of


def test_it_signs_up_signs_out_and_signs_back_in(csrf_client, db, password):
    token = csrf_token_of(csrf_client, reverse("account_signup"))
    response = csrf_client.post(reverse("account_signup"), {
        "csrfmiddlewaretoken": token, "email": "ada@example.com", "username": "ada",
        "password1": password, "password2": password,
    })
    assert response.status_code == 302
    assert response["Location"] == reverse("studio")
    assert User.objects.filter(username="ada", email="ada@example.com").exists()
    assert "ada" in csrf_client.get(reverse("studio")).content.decode()

    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post(reverse("account_logout"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert csrf_client.get(reverse("studio")).status_code == 302

    token = csrf_token_of(csrf_client, reverse("account_login"))
    response = csrf_client.post(reverse("account_login"), {
        "csrfmiddlewaretoken": token, "login": "ada@example.com", "password": password,
    })
    assert response.status_code == 302
    assert response["Location"] == reverse("studio")
    assert csrf_client.get(reverse("studio")).status_code == 200


def test_it_refuses_a_sign_in_without_a_csrf_token(csrf_client, owner, password):
    response = csrf_client.post(reverse("account_login"), {
        "login": owner.email, "password": password,
    })
    assert response.status_code == 403


def test_it_shows_a_clear_message_for_a_wrong_password(csrf_client, owner):
    token = csrf_token_of(csrf_client, reverse("account_login"))
    response = csrf_client.post(reverse("account_login"), {
        "csrfmiddlewaretoken": token, "login": owner.email, "password": "not-it",
    })
    assert response.status_code == 200
    assert "not correct" in response.content.decode()


def test_it_redirects_anonymous_users_from_the_studio_to_sign_in(client, db):
    response = client.get(reverse("studio"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_it_redirects_anonymous_users_from_the_profile(client, db):
    response = client.get(reverse("profile"))
    assert response.status_code == 302


def test_it_sends_a_password_reset_mail(csrf_client, owner, mailoutbox):
    token = csrf_token_of(csrf_client, reverse("account_reset_password"))
    response = csrf_client.post(reverse("account_reset_password"), {
        "csrfmiddlewaretoken": token, "email": owner.email,
    })
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert owner.email in mailoutbox[0].to
    assert "/accounts/password/reset/key/" in mailoutbox[0].body


def test_profile_shows_usage_and_saves_public_details(owner_client, owner):
    page = owner_client.get(reverse("profile"))
    assert page.status_code == 200
    assert f"0 of {owner.active_job_limit}" in page.content.decode()
    token = owner_client.cookies["csrftoken"].value
    response = owner_client.post(reverse("profile"), {
        "csrfmiddlewaretoken": token, "display_name": "Ada L.", "bio": "Makes loops.",
    })
    assert response.status_code == 302
    owner.refresh_from_db()
    assert (owner.display_name, owner.bio) == ("Ada L.", "Makes loops.")
