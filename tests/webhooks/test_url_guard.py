"""The SSRF guard: which webhook URLs are taken, and which addresses a delivery may reach."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from webhooks.url_guard import (
    SPECIAL_BLOCKS,
    RefusedUrl,
    SpecialBlock,
    address_refusal,
    parse_webhook_url,
    resolve_checked,
    special_block,
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
    "address",
    [
        "2002:7f00:1::", "2002:a9fe:a9fe::", "2002:a00:1::1",  # 6to4 of 127/8, 169.254/16, 10/8
        "fec0::1", "3fff::1", "3fff:fff::1",  # site-local; documentation (RFC 9637)
        "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::808:808",  # NAT64
        "2001:0:7f00:1::1",  # Teredo whose server is 127.0.0.1
        "2001:0:808:808:0:0:80ff:fffe",  # Teredo whose client is ~0x80fffffe = 127.0.0.1
        "::127.0.0.1", "::8.8.8.8",  # IPv4-compatible: deprecated
        "100::1", "2001:db8::1", "5f00::1", "4000::1",  # discard, documentation, SRv6, unassigned
        "192.0.2.1", "198.18.0.1", "198.51.100.7", "203.0.113.9", "192.88.99.1",
    ],
)  # fmt: skip
def test_addresses_found_by_the_hunt_and_their_kin_are_refused(address):
    assert address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    "address",
    [
        "2002:808:808::1", "64:ff9b::808:808", "::ffff:8.8.8.8",  # carrying 8.8.8.8
        "2001:0:808:808:0:0:f7f7:f7f7",  # Teredo, server and client 8.8.8.8
        "192.0.0.9", "192.31.196.1", "2001:4:112::1", "2620:4f:8000::1",  # IANA: reachable
    ],
)  # fmt: skip
def test_addresses_that_reach_only_public_ones_are_taken(address):
    assert address_refusal(ipaddress.ip_address(address)) is None


def inside(block: SpecialBlock) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Its first, second and last addresses, in that block and no more specific one."""
    network = block.network
    picks = {network[0], network[min(1, network.num_addresses - 1)], network[-1]}
    return [a for a in picks if special_block(a) == block]


REFUSED_IPV4 = ["127.0.0.1", "169.254.169.254", "10.0.0.1", "100.64.0.1", "0.0.0.0"]


@pytest.mark.parametrize("block", SPECIAL_BLOCKS, ids=lambda block: str(block.network))
def test_every_special_purpose_block_is_refused_unless_iana_calls_it_globally_reachable(block):
    addresses = inside(block)
    assert addresses
    if block.embeds is None:
        for address in addresses:
            assert (address_refusal(address) is None) == (block.reachable is True), address
        return
    # A block that carries IPv4 addresses: refused when one it carries would be.
    base = int(block.network[0])
    for ipv4 in REFUSED_IPV4:
        v4 = int(ipaddress.IPv4Address(ipv4))
        public = int(ipaddress.IPv4Address("8.8.8.8"))
        carriers = {
            "2002::/16": [base | (v4 << 80)],
            # Teredo: the server in bits 32..63, the client inverted in the last 32.
            "2001::/32": [
                base | (v4 << 64) | (public ^ 0xFFFFFFFF),
                base | (public << 64) | (v4 ^ 0xFFFFFFFF),
            ],
        }.get(str(block.network), [base | v4])
        for carrier in carriers:
            address = ipaddress.IPv6Address(carrier)
            assert special_block(address) == block
            assert ipv4 in str(address_refusal(address)), address


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
