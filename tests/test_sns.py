"""SNS HTTPS deliveries on POST /events: signatures (v1 SHA1, v2 SHA256), certificate URLs, confirmations.

The real SNS fixture (tests/fixtures/aws/guardduty_ssh_bruteforce_sample_sns_http.json) is re-signed
with a local key and self-signed certificate, injected through the verifier's ``fetch``, and posted
over HTTP to a real EventsServer queuing to redis-server, and a worker running a real pipeline (moto's
server, SQLite checkpoints).
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import load_fixture
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from http_support import post_json_reply
from pipeline_support import make_pipeline
from queue_support import QueuedEventsServer

from bot.http_server import TOKEN_HEADER
from bot.sns import (
    MESSAGE_TYPE_HEADER,
    SnsMalformed,
    SnsRejected,
    SnsVerifier,
    check_certificate_url,
    check_subscribe_url,
    parse_topic_allow_list,
    string_to_sign,
)
from graph.parsing import parse_event
from runtime.incidents import thread_for

FIXTURE = "aws/guardduty_ssh_bruteforce_sample_sns_http.json"
TOKEN = "events-shared-secret"
TOPIC = "arn:aws:sns:us-east-1:123456789012:PD-GuardDuty"
CERT_URL = (
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-ac565b8b1a6c5d002d285f9598aa1d9b.pem"
)
# Shape of AWS's documented SubscriptionConfirmation (sns/latest/dg/http-subscription-confirmation-json.html)
SUBSCRIBE_URL = (
    "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
    f"&TopicArn={TOPIC}&Token=2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3"
)


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey
    pem: bytes  # a self-signed certificate for key


def _self_signed(key: rsa.RSAPrivateKey, not_after: datetime.datetime) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def _signer(days_valid: int = 30) -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    not_after = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days_valid)
    return Signer(key, _self_signed(key, not_after))


@pytest.fixture(scope="session")
def signer() -> Signer:
    return _signer()


@pytest.fixture(scope="session")
def stranger() -> Signer:
    """A key SNS never used: its signatures must not verify against the SNS certificate."""
    return _signer()


def sign(message: dict[str, Any], key: rsa.RSAPrivateKey, version: str = "1") -> dict[str, Any]:
    signed = {**message, "SignatureVersion": version}
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - SNS v1 is SHA1withRSA
    signature = key.sign(string_to_sign(signed), padding.PKCS1v15(), digest)
    signed["Signature"] = base64.b64encode(signature).decode()
    return signed


def notification(signer: Signer, version: str = "1", **changes: Any) -> dict[str, Any]:
    """The real SNS HTTP delivery fixture, re-signed by ``signer`` after ``changes``."""
    return sign({**copy.deepcopy(load_fixture(FIXTURE)), **changes}, signer.key, version)


def confirmation(signer: Signer, kind: str = "SubscriptionConfirmation", **changes: Any) -> dict[str, Any]:
    message = {
        "Type": kind,
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": parse_qs(urlsplit(SUBSCRIBE_URL).query)["Token"][0],
        "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL": SUBSCRIBE_URL,
        "Timestamp": "2012-04-26T20:45:04.751Z",
        "SigningCertURL": CERT_URL,
        **changes,
    }
    return sign(message, signer.key)


@dataclass
class CertificateFetcher:
    """Stands in for the HTTPS GET of SigningCertURL; records every URL it is asked for."""

    pem: bytes
    calls: list[str] = field(default_factory=list)
    delay: float = 0.0

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        time.sleep(self.delay)
        return self.pem


@dataclass
class Confirmer:
    calls: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> None:
        self.calls.append(url)


StartServer = Callable[..., QueuedEventsServer]


@pytest.fixture
def start_server(tmp_path: Path, aws_endpoint: str, redis_url: str) -> Iterator[StartServer]:
    servers: list[QueuedEventsServer] = []

    def start(sns: SnsVerifier, token: str | None = TOKEN) -> QueuedEventsServer:
        pipeline = make_pipeline(tmp_path, aws_endpoint, redis_url=redis_url)
        server = QueuedEventsServer(pipeline, redis_url, token, sns)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.drain(60)
        server.close()


def post(
    server: QueuedEventsServer, message: dict[str, Any], kind: str | None = None, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    """POST like SNS does: text/plain JSON with the message-type header and no custom headers."""
    headers = {"Content-Type": "text/plain; charset=UTF-8"}
    if kind is not None or "Type" in message:
        headers[MESSAGE_TYPE_HEADER] = kind if kind is not None else message["Type"]
    if token is not None:
        headers[TOKEN_HEADER] = token
    url = f"http://127.0.0.1:{server.server_port}/events"
    return post_json_reply(url, json.dumps(message).encode(), headers)


def final_state(server: QueuedEventsServer, thread_id: str) -> dict[str, Any]:
    server.drain(60)
    return dict(server.pipeline.graph.get_state({"configurable": {"thread_id": thread_id}}).values)


# --- the string to sign and the URL checks -------------------------------------------------------------


def test_string_to_sign_is_the_one_in_the_aws_documentation() -> None:
    """Both examples from "Verifying the signatures of Amazon SNS messages", byte for byte."""
    topic = "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P"
    note = {
        "Type": "Notification",
        "MessageId": "4d4dc071-ddbf-465d-bba8-08f81c89da64",
        "TopicArn": topic,
        "Subject": "My subject",
        "Message": "My Test Message",
        "Timestamp": "2019-01-31T04:37:04.321Z",
        "UnsubscribeURL": "https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe",
    }
    documented = (
        "Message\nMy Test Message\nMessageId\n4d4dc071-ddbf-465d-bba8-08f81c89da64\nSubject\nMy subject\n"
        f"Timestamp\n2019-01-31T04:37:04.321Z\nTopicArn\n{topic}\nType\nNotification\n"
    )
    assert string_to_sign(note) == documented.encode()
    del note["Subject"]
    assert b"Subject" not in string_to_sign(note)
    url = f"https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic}&Token=233..."
    confirm = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "3d891288-136d-417f-bc05-901c108273ee",
        "Token": "233...",
        "TopicArn": topic,
        "Message": "My Test Message",
        "SubscribeURL": url,
        "Timestamp": "2019-01-31T19:25:13.719Z",
    }
    documented = (
        "Message\nMy Test Message\nMessageId\n3d891288-136d-417f-bc05-901c108273ee\n"
        f"SubscribeURL\n{url}\nTimestamp\n2019-01-31T19:25:13.719Z\nToken\n233...\n"
        f"TopicArn\n{topic}\nType\nSubscriptionConfirmation\n"
    )
    assert string_to_sign(confirm) == documented.encode()


@pytest.mark.parametrize(
    "url",
    [
        CERT_URL,
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com:443/SimpleNotificationService-abc.pem",
    ],
)
def test_sns_certificate_urls_are_accepted(url: str) -> None:
    assert check_certificate_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-abc.pem",
        "https://evil.com/sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com@evil.com/x.pem",
        "https://evil.com@sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com\\@evil.com/x.pem",
        "https://sns.us-east-1.amazonaws.com:8443/x.pem",
        "https://sns.us-east-1.amazonaws.com./x.pem",
        "https://sqs.us-east-1.amazonaws.com/x.pem",
        "https://sns.amazonaws.com/x.pem",
        "https://evilsns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com/x.pem.txt",
        "https://sns.us-east-1.amazonaws.com/x.pem?next=evil",
        "https://sns.us-east-1.amazonaws.com/x.pem#frag",
        "https://sns.us-east-1.amazonaws.com /x.pem",
        "https://sns.us-east-\u0661.amazonaws.com/x.pem",
        "file:///etc/ssl/x.pem",
        "",
    ],
)
def test_look_alike_certificate_urls_are_refused(url: str) -> None:
    with pytest.raises(SnsRejected):
        check_certificate_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.com/?Action=ConfirmSubscription",
        "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        "https://sns.us-east-1.amazonaws.com.evil.com/?Action=ConfirmSubscription",
        "https://user@sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        "https://sns.us-east-1.amazonaws.com/redirect?Action=ConfirmSubscription",
    ],
)
def test_subscribe_urls_off_sns_are_refused(url: str) -> None:
    with pytest.raises(SnsRejected):
        check_subscribe_url(url)
    assert check_subscribe_url(SUBSCRIBE_URL) == SUBSCRIBE_URL


def test_a_signed_confirmation_with_a_subscribe_url_off_sns_is_never_visited(signer: Signer) -> None:
    confirmer = Confirmer()
    verifier = SnsVerifier(fetch=CertificateFetcher(signer.pem), confirm=confirmer)
    bad = "https://attacker.example/?Action=ConfirmSubscription&Token=x"
    message = verifier.verify(confirmation(signer, SubscribeURL=bad))
    with pytest.raises(SnsRejected, match="SubscribeURL"):
        verifier.confirm_subscription(message)
    assert confirmer.calls == []


def test_topic_allow_list_parsing() -> None:
    assert parse_topic_allow_list(None) == frozenset()
    assert parse_topic_allow_list(" , ") == frozenset()
    assert parse_topic_allow_list(f" {TOPIC} ,arn:aws:sns:us-east-1:123456789012:Other,") == {
        TOPIC,
        "arn:aws:sns:us-east-1:123456789012:Other",
    }


# --- the certificate cache ---------------------------------------------------------------------------


def test_injected_certificates_still_pass_the_url_check_and_expiry(signer: Signer) -> None:
    verifier = SnsVerifier(fetch=CertificateFetcher(b"unused"))
    with pytest.raises(SnsRejected, match="not sns"):
        verifier.remember_certificate("https://evil.com/SimpleNotificationService-x.pem", signer.pem)
    expired = _self_signed(signer.key, datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1))
    with pytest.raises(SnsRejected, match="expired"):
        verifier.remember_certificate(CERT_URL, expired)
    verifier.remember_certificate(CERT_URL, signer.pem)
    assert verifier.verify(notification(signer)).topic_arn == TOPIC


def test_concurrent_deliveries_fetch_a_certificate_once(signer: Signer) -> None:
    fetcher = CertificateFetcher(signer.pem, delay=0.05)
    verifier = SnsVerifier(fetch=fetcher)
    message = notification(signer)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(verifier.verify(message).message_id)) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 8
    assert fetcher.calls == [CERT_URL]


def test_the_certificate_cache_is_bounded(signer: Signer) -> None:
    fetcher = CertificateFetcher(signer.pem)
    verifier = SnsVerifier(fetch=fetcher, max_certificates=2)
    urls = [f"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-{n}.pem" for n in "abc"]
    for url in [*urls, urls[2], urls[0]]:
        verifier.verify(notification(signer, SigningCertURL=url))
    assert fetcher.calls == [*urls, urls[0]]  # c was cached; a had been evicted by c


# --- over HTTP, against a real EventsServer and pipeline --------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_notification_opens_one_incident_thread(
    start_server: StartServer, signer: Signer, version: str
) -> None:
    fetcher = CertificateFetcher(signer.pem)
    server = start_server(SnsVerifier(fetch=fetcher))
    message = notification(signer, version)
    first = post(server, message)
    repeat = post(server, message)  # SNS retries a delivery with the same body
    assert first[0] == repeat[0] == 202
    assert first[1]["thread_id"] == repeat[1]["thread_id"]
    state = final_state(server, first[1]["thread_id"])
    assert len(server.runs_on(first[1]["thread_id"])) == 1  # the repeat was counted, not run
    assert state["input"]["requester"] == "aws:sns"
    assert state["intent"]["params"]["cidr"] == "198.51.100.0/32"  # from the finding inside Message
    assert fetcher.calls == [CERT_URL]


def test_sns_needs_no_events_token_even_when_none_is_configured(
    start_server: StartServer, signer: Signer
) -> None:
    server = start_server(SnsVerifier(fetch=CertificateFetcher(signer.pem)), token=None)
    assert post(server, notification(signer))[0] == 202
    eventbridge = load_fixture("aws/guardduty_ssh_bruteforce_sample.json")
    assert post(server, eventbridge)[0] == 503  # the token path is unchanged: no token, no events


def test_a_tampered_message_is_refused_and_nothing_runs(start_server: StartServer, signer: Signer) -> None:
    server = start_server(SnsVerifier(fetch=CertificateFetcher(signer.pem)))
    message = notification(signer)
    message["Message"] = message["Message"].replace("198.51.100.0", "203.0.113.9")
    status, reply = post(server, message)
    assert status == 401
    assert "signature does not match" in reply["error"]
    message = notification(signer, "2")
    message["SignatureVersion"] = "1"  # a SHA256 signature claimed as SHA1
    assert post(server, message)[0] == 401
    assert server.queued() == 0


def test_a_message_signed_with_another_key_is_refused(
    start_server: StartServer, signer: Signer, stranger: Signer
) -> None:
    server = start_server(SnsVerifier(fetch=CertificateFetcher(signer.pem)))
    status, reply = post(server, notification(stranger))
    assert status == 401
    assert reply["error"] == "the SNS signature does not match the message"
    assert server.queued() == 0


def test_a_certificate_off_the_sns_host_is_refused_without_fetching(
    start_server: StartServer, signer: Signer
) -> None:
    fetcher = CertificateFetcher(signer.pem)
    server = start_server(SnsVerifier(fetch=fetcher))
    for url in (
        "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-x.pem",
        "https://evil.com/sns.us-east-1.amazonaws.com/x.pem",
    ):
        status, reply = post(server, notification(signer, SigningCertURL=url))
        assert status == 401
        assert "SigningCertURL" in reply["error"]
    assert fetcher.calls == []
    assert server.queued() == 0


def test_the_signing_certificate_is_fetched_once_for_many_messages(
    start_server: StartServer, signer: Signer
) -> None:
    fetcher = CertificateFetcher(signer.pem)
    server = start_server(SnsVerifier(fetch=fetcher))
    replies = [post(server, notification(signer, MessageId=f"6075324b-{n:04d}")) for n in range(6)]
    assert {status for status, _ in replies} == {202}
    assert fetcher.calls == [CERT_URL]


def test_an_unreachable_certificate_host_asks_sns_to_retry(start_server: StartServer, signer: Signer) -> None:
    def unreachable(url: str) -> bytes:
        raise urllib.error.URLError("connection refused")

    server = start_server(SnsVerifier(fetch=unreachable))
    status, reply = post(server, notification(signer))
    assert status == 503
    assert "could not fetch" in reply["error"]


def test_unsigned_fields_added_to_a_signed_envelope_are_ignored(
    start_server: StartServer, signer: Signer
) -> None:
    server = start_server(SnsVerifier(fetch=CertificateFetcher(signer.pem)))
    message = notification(signer)
    other_alert = load_fixture("aws/guardduty_crypto_bitcoin_dns.json")
    message["Records"] = [{"Sns": {"Message": json.dumps(other_alert)}}]  # not covered by the signature
    status, reply = post(server, message)
    assert status == 202
    assert reply["thread_id"] == thread_for(parse_event(load_fixture(FIXTURE)).fingerprint)


class _ConfirmEndpoint(BaseHTTPRequestHandler):
    """Stands in for sns.<region>.amazonaws.com's ConfirmSubscription."""

    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        body = b"<ConfirmSubscriptionResponse/>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def sns_endpoint() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Endpoint", (_ConfirmEndpoint,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


def via(base: str) -> Callable[[str], None]:
    """A confirm that sends the checked SubscribeURL's path and query to a local server instead of SNS."""

    def confirm(url: str) -> None:
        parts = urlsplit(url)
        with urllib.request.urlopen(f"{base}{parts.path}?{parts.query}", timeout=5) as reply:
            reply.read()

    return confirm


def test_a_subscription_confirmation_is_confirmed_at_its_subscribe_url(
    start_server: StartServer, signer: Signer, sns_endpoint: tuple[str, list[str]]
) -> None:
    base, seen = sns_endpoint
    server = start_server(SnsVerifier(fetch=CertificateFetcher(signer.pem), confirm=via(base)))
    status, reply = post(server, confirmation(signer))
    assert (status, reply) == (200, {"confirmed": True, "topic_arn": TOPIC})
    assert len(seen) == 1
    query = parse_qs(urlsplit(seen[0]).query)
    assert query["Action"] == ["ConfirmSubscription"]
    assert query["Token"] == parse_qs(urlsplit(SUBSCRIBE_URL).query)["Token"]
    assert server.queued() == 0


def test_a_forged_or_misdirected_confirmation_is_never_visited(
    start_server: StartServer, signer: Signer, stranger: Signer, sns_endpoint: tuple[str, list[str]]
) -> None:
    base, seen = sns_endpoint
    server = start_server(SnsVerifier(fetch=CertificateFetcher(signer.pem), confirm=via(base)))
    assert post(server, confirmation(stranger))[0] == 401
    status, reply = post(server, confirmation(signer, SubscribeURL=f"{base}/?Action=ConfirmSubscription"))
    assert status == 401
    assert "SubscribeURL" in reply["error"]
    assert seen == []


def test_a_confirmation_sns_cannot_take_asks_for_a_retry(start_server: StartServer, signer: Signer) -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), _ConfirmEndpoint)
    base = f"http://127.0.0.1:{closed.server_port}"
    closed.server_close()  # nothing listens there any more
    server = start_server(SnsVerifier(fetch=CertificateFetcher(signer.pem), confirm=via(base)))
    status, reply = post(server, confirmation(signer))
    assert status == 503
    assert "could not confirm" in reply["error"]


def test_an_unsubscribe_confirmation_is_acknowledged_and_nothing_else(
    start_server: StartServer, signer: Signer
) -> None:
    confirmer = Confirmer()
    server = start_server(SnsVerifier(fetch=CertificateFetcher(signer.pem), confirm=confirmer))
    status, reply = post(server, confirmation(signer, "UnsubscribeConfirmation"))
    assert (status, reply) == (200, {"unsubscribed": True, "topic_arn": TOPIC})
    assert confirmer.calls == []
    assert server.queued() == 0


def test_unknown_types_and_missing_fields_get_a_400(start_server: StartServer, signer: Signer) -> None:
    fetcher = CertificateFetcher(signer.pem)
    server = start_server(SnsVerifier(fetch=fetcher))
    status, reply = post(server, {**notification(signer), "Type": "Surprise"})
    assert (status, reply["error"]) == (400, "unknown SNS message type 'Surprise'")
    assert post(server, notification(signer), kind="SubscriptionConfirmation")[0] == 400  # header != Type
    missing = notification(signer)
    del missing["MessageId"]
    status, reply = post(server, missing)
    assert (status, reply["error"]) == (400, "the SNS Notification has no string 'MessageId'")
    unsigned = notification(signer)
    del unsigned["Signature"]
    assert post(server, unsigned)[0] == 400
    assert fetcher.calls == []
    assert server.queued() == 0


def test_the_topic_allow_list_admits_only_its_topics(start_server: StartServer, signer: Signer) -> None:
    fetcher = CertificateFetcher(signer.pem)
    allowed = parse_topic_allow_list(f"arn:aws:sns:us-east-1:123456789012:Other, {TOPIC}")
    server = start_server(SnsVerifier(allowed, fetch=fetcher))
    assert post(server, notification(signer))[0] == 202
    other = notification(signer, TopicArn="arn:aws:sns:us-east-1:999999999999:Elsewhere")
    status, reply = post(server, other)
    assert status == 403
    assert "Elsewhere is not in OPSBOT_SNS_TOPIC_ARNS" in reply["error"]
    assert server.queued() == 1


def test_the_verifier_reports_malformed_messages_in_one_sentence(signer: Signer) -> None:
    verifier = SnsVerifier(fetch=CertificateFetcher(signer.pem))
    with pytest.raises(SnsMalformed, match="unknown SNS message type None"):
        verifier.verify({"Message": "hi"})
    with pytest.raises(SnsRejected, match="SignatureVersion '3'"):
        verifier.verify({**notification(signer), "SignatureVersion": "3"})
    with pytest.raises(SnsRejected, match="not base64"):
        verifier.verify({**notification(signer), "Signature": "not base64!"})
