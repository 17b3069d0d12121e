"""Forwarded client addresses are believed only from the configured proxies, so a client that
reaches the server directly cannot dodge per-address sign-in limits with X-Forwarded-For."""

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tests.processes import ROOT, Service, free_port, service_env, wait_for
from webapp.env import Env
from webapp.launcher import web_command

LIMITED = "Too many failed login attempts"


def test_trusted_proxies_parse_strictly():
    env = Env({"P": " 10.0.0.1 , 172.16.0.0/12,::1 "})
    assert env.addresses("P", ["127.0.0.1"]) == ["10.0.0.1", "172.16.0.0/12", "::1"]
    assert Env({}).addresses("P", ["127.0.0.1"]) == ["127.0.0.1"]
    for bad in ("*", "proxy.local", "10.0.0.1,,10.0.0.2", "10.0.0.0/33"):
        with pytest.raises(ImproperlyConfigured, match="P"):
            Env({"P": bad}).addresses("P", ["127.0.0.1"])


def test_the_setting_defaults_to_the_local_host():
    assert settings.FRAMECRAFT_TRUSTED_PROXIES == ["127.0.0.1"]
    # allauth takes the address Django sees (uvicorn already resolved any trusted proxy),
    # never X-Forwarded-For or another header of its own.
    assert settings.ALLAUTH_TRUSTED_PROXY_COUNT == 0
    assert getattr(settings, "ALLAUTH_TRUSTED_CLIENT_IP_HEADER", None) is None


def test_the_web_command_trusts_only_the_given_proxies():
    command = web_command("0.0.0.0", "8000", ["10.0.0.1", "172.16.0.0/12"])
    assert command[command.index("--forwarded-allow-ips") + 1] == "10.0.0.1,172.16.0.0/12"
    assert "--proxy-headers" in command


def test_the_docker_image_and_compose_file_trust_only_the_configured_proxies():
    dockerfile = (ROOT / "docker/web.Dockerfile").read_text()
    cmd = json.loads(dockerfile.split("\nCMD ", 1)[1].splitlines()[0])
    script = cmd[-1]
    assert "'*'" not in script and '"*"' not in script
    assert '--forwarded-allow-ips "${FRAMECRAFT_TRUSTED_PROXIES:-127.0.0.1}"' in script
    compose = (ROOT / "docker/compose.yaml").read_text()
    assert "FRAMECRAFT_TRUSTED_PROXIES: ${FRAMECRAFT_TRUSTED_PROXIES:-127.0.0.1}" in compose
    assert "FRAMECRAFT_TRUSTED_PROXIES=" in (ROOT / "docker/.env.example").read_text()
    assert "`FRAMECRAFT_TRUSTED_PROXIES`" in (ROOT / "README.md").read_text()


def _clear_sign_in_limits() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(match="*allauth:rl:*"):
        client.delete(key)


def _failed_sign_ins(base: str, count: int) -> list[bool]:
    """``count`` failed sign-ins, each claiming another address; whether each was limited."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    limited = []
    for n in range(count):
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "login": f"nobody{n}",
                                       "password": "wrong-password"}).encode()
        request = urllib.request.Request(f"{base}/accounts/login/", data=data, headers={
            "X-Forwarded-For": f"203.0.113.{n + 1}", "Referer": f"{base}/accounts/login/"})
        try:
            body = opener.open(request, timeout=10).read().decode()
        except urllib.error.HTTPError as error:
            body = error.read().decode()
            assert error.code in (400, 429), error.code
        limited.append(LIMITED in body)
    return limited


def _serve(tmp_path, name: str, trusted: list[str]) -> tuple[Service, str]:
    port = free_port()
    env = service_env(FRAMECRAFT_TRUSTED_PROXIES=",".join(trusted))
    server = Service(web_command("127.0.0.1", str(port), trusted, access_log=True), env,
                     tmp_path / f"{name}.log")
    wait_for(lambda: "Uvicorn running" in server.log() or server.process.poll() is not None,
             60, "the web server to start")
    assert server.process.poll() is None, server.log()
    return server, f"http://127.0.0.1:{port}"


def _attempts_at_once(folder, trusting: dict[str, list[str]]
                     ) -> dict[str, tuple[list[bool], str]]:
    """12 failed sign-ins, each claiming another address, at several servers at once (each
    trusting its own proxies): per server, whether each attempt was limited, and its log."""
    _clear_sign_in_limits()
    servers = {name: _serve(folder, name, trusted) for name, trusted in trusting.items()}
    try:
        with ThreadPoolExecutor(len(servers)) as pool:
            runs = {name: pool.submit(_failed_sign_ins, base, 12)
                    for name, (_, base) in servers.items()}
            limited = {name: run.result() for name, run in runs.items()}
    finally:
        for server, _ in servers.values():
            server.stop()
        _clear_sign_in_limits()
    # Logs are read once the servers stopped, when all of them is written.
    return {name: (limited[name], server.log()) for name, (server, _) in servers.items()}


def test_forwarded_addresses_count_only_from_a_trusted_proxy(transactional_db, tmp_path):
    attempts = _attempts_at_once(tmp_path, {
        "direct": ["10.1.2.3"],  # trusts a proxy elsewhere; this client connects directly
        "proxied": ["127.0.0.1"],  # the control: this client is the trusted proxy
    })
    limited, log = attempts["direct"]
    assert limited[:10] == [False] * 10  # allauth: 10 failed sign-ins a minute per address
    assert all(limited[10:]), limited
    # The address Django saw (and uvicorn logged) is the real peer, never the claimed one.
    assert log.count('127.0.0.1:') >= 12 and "203.0.113." not in log
    # Behind the trusted proxy each forwarded address counts alone.
    limited, log = attempts["proxied"]
    assert not any(limited), limited
    assert "203.0.113.12:" in log
