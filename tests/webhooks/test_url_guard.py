"""The SSRF guard: which webhook URLs are taken, and which addresses a delivery may reach."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from webhooks.url_guard import (
    RefusedUrl,
    address_refusal,
    parse_webhook_url,
    resolve_checked,
)


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example/hook",
        "ftp://shop.example/hook",
        "https://user:pw@shop.example/hook",
        "https://user@shop.example/hook",
        "https:///hook",
        "https://shop.example:99999/",
        "https://shop.example/a b",
        "shop.example/hook",
    ],
)
def test_a_url_that_is_not_plain_https_to_a_host_is_refused(url):
    with pytest.raises(RefusedUrl):
        parse_webhook_url(url, allow_http=False)


def test_plain_http_is_taken_only_when_allowed():
    target = parse_webhook_url("http://shop.example:8080/hook?x=1", allow_http=True)

    assert (target.scheme, target.host, target.port, target.path) == (
        "http",
        "shop.example",
        8080,
        "/hook?x=1",
    )


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
        "0.0.0.0", "224.0.0.1", "240.0.0.1", "100.64.0.1", "255.255.255.255",
        "::1", "::", "fe80::1", "fc00::1", "fd12::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address):
    assert address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_are_taken(address):
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/", "https://[::1]:8443/", "https://[::ffff:7f00:1]/"]
)
def test_a_literal_loopback_host_is_refused_without_resolving(url):
    def no_dns(*args, **kwargs):
        raise AssertionError("a literal address needs no resolution")

    target = parse_webhook_url(url, allow_http=False)
    with pytest.raises(RefusedUrl, match="WEBHOOK_ALLOW_PRIVATE_HOSTS"):
        resolve_checked(target, allow_private=False, resolver=no_dns)


def test_localhost_is_refused_through_its_resolved_address():
    target = parse_webhook_url("https://localhost:8443/hook", allow_http=False)

    with pytest.raises(RefusedUrl, match="loopback"):
        resolve_checked(target, allow_private=False)
    assert address_refusal(resolve_checked(target, allow_private=True)) is not None


def fake_dns(*answers: str):
    def resolve(host, port, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, port)) for answer in answers]

    return resolve


def test_a_name_with_one_private_address_among_public_ones_is_refused():
    target = parse_webhook_url("https://shop.example/", allow_http=False)

    with pytest.raises(RefusedUrl, match=r"10\.0\.0\.7"):
        resolve_checked(target, allow_private=False, resolver=fake_dns("8.8.8.8", "10.0.0.7"))


def test_the_address_returned_is_the_one_checked():
    target = parse_webhook_url("https://shop.example/", allow_http=False)

    assert resolve_checked(target, allow_private=False, resolver=fake_dns("8.8.4.4")) == (
        ipaddress.ip_address("8.8.4.4")
    )


def test_a_host_that_does_not_resolve_is_refused():
    def nxdomain(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    target = parse_webhook_url("https://nowhere.invalid/", allow_http=False)
    with pytest.raises(RefusedUrl, match="cannot be resolved"):
        resolve_checked(target, allow_private=False, resolver=nxdomain)
