"""A WS-Management stand-in: enough of a WinRM server for pywinrm 0.5 and Ansible's winrm plugin.

This is NOT Windows and runs no command. It is a small HTTP/1.1 server on 127.0.0.1 that
speaks the WS-Management SOAP messages of the Windows remote shell (Create a shell, Command,
Send, Receive, Signal, Delete) and answers every command with canned output. Tests use it to
exercise the transport: pywinrm's envelopes, Ansible's winrm connection plugin, credentials
that are rejected.

Authentication:

* HTTP basic, checked against ``username`` and ``password``.
* NTLM, under the ``Negotiate`` or ``NTLM`` scheme, accepted by pyspnego's own NTLM acceptor.
  That acceptor takes its accounts only from the file named by the environment variable
  ``NTLM_USER_FILE`` (lines ``DOMAIN:USER:PASSWORD``), so whoever starts the stand-in writes
  that file and sets the variable; ``username``/``password`` are not used for NTLM. NTLM
  authenticates the connection, not a request: the security context lives with the
  keep-alive connection, and later requests on it carry no ``Authorization`` header.
* WinRM message encryption over such a connection (MS-WSMV 2.2.9.1.1): a
  ``multipart/encrypted; protocol="application/HTTP-SPNEGO-session-encrypted"`` body is
  unsealed with the connection's context and the reply is sealed the same way.

What it answers:

* ``commands`` maps a command line (``ipconfig /all``) to ``(stdout, stderr, exit code)``.
  A ``PowerShell ... -EncodedCommand B64`` line (what Ansible sends) is decoded first and
  matched against the same keys as a substring, so ``raw: ipconfig /all`` finds its answer.
* ``modules`` maps an Ansible module name to the JSON result to print when that name occurs
  in the input a command received through Send (Ansible pipes its module wrapper that way).
  The module is not run; its recorded result is returned. A list of results is answered in
  turn, one per execution (the last one repeats): win_updates' action plugin runs its
  module twice, "start" then "poll".
* Anything else exits 1 with ``stand-in: no canned output for ...`` on stderr.

Replies carry the ``ShellId`` selector and a ``RelatesTo`` that names the request's
``MessageID`` (pywinrm 0.5 needs both; Debian's Go winrmtest gives neither).
"""

from __future__ import annotations

import base64
import json
import re
import struct
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape

import spnego
from spnego.exceptions import SpnegoError

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
}
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
ACTIONS = {
    f"{TRANSFER}/Create": "create",
    f"{TRANSFER}/Delete": "delete",
    f"{SHELL}/Command": "command",
    f"{SHELL}/Send": "send",
    f"{SHELL}/Receive": "receive",
    f"{SHELL}/Signal": "signal",
}
ENCODED = re.compile(r"-EncodedCommand\s+(\S+)", re.IGNORECASE)
SOAP = "application/soap+xml;charset=UTF-8"
SESSION_ENCRYPTED = b"application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED = (
    f'multipart/encrypted;protocol="{SESSION_ENCRYPTED.decode()}";boundary="Encrypted Boundary"'
)
BOUNDARY = b"--Encrypted Boundary"
OCTETS = b"\tContent-Type: application/octet-stream\r\n"
ORIGINAL_LENGTH = re.compile(rb"OriginalContent: type=[^\r\n]*Length=(\d+)\r\n")

Canned = tuple[str, str, int]


@dataclass
class Command:
    """One command started in a shell: its line, the input it got, whether it was read."""

    line: str
    stdin: bytearray = field(default_factory=bytearray)
    done: bool = False


@dataclass
class Shell:
    commands: dict[str, Command] = field(default_factory=dict)


class WinRMStandIn:
    """The stand-in server. Use as a context manager; ``endpoint`` is the URL to connect to."""

    def __init__(
        self,
        username: str,
        password: str,
        commands: dict[str, Canned] | None = None,
        modules: dict[str, dict[str, Any] | list[dict[str, Any]]] | None = None,
    ) -> None:
        self.username = username
        self.password = password
        self.commands = dict(commands or {})
        self.modules = {
            name: list(result) if isinstance(result, list) else [result]
            for name, result in (modules or {}).items()
        }
        self.shells: dict[str, Shell] = {}
        #: Every request as (action, ShellId or ""), in order; a 401 that refuses as
        #: ("unauthorized", ""), one that carries an NTLM challenge as ("challenge", "").
        self.requests: list[tuple[str, str]] = []
        #: The Content-Type of every request that had a body, in order.
        self.content_types: list[str] = []
        #: The user (DOMAIN\\user) of every connection NTLM authenticated.
        self.ntlm_users: list[str] = []
        #: Every command line run, after decoding -EncodedCommand.
        self.command_lines: list[str] = []
        #: The module name each answered module execution matched ("" when none matched).
        self.module_runs: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/wsman"

    def __enter__(self) -> WinRMStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def basic_authorized(self, token: str) -> bool:
        try:
            user, _, password = base64.b64decode(token).decode().partition(":")
        except ValueError:
            return False
        return user == self.username and password == self.password

    def record(self, kind: str) -> None:
        with self.lock:
            self.requests.append((kind, ""))

    def answer(self, line: str, stdin: bytes) -> Canned:
        """The canned (stdout, stderr, exit code) for a command line and its input."""
        text = stdin.decode("utf-8", "replace")
        for name, results in self.modules.items():
            if text and name in text:
                result = results.pop(0) if len(results) > 1 else results[0]
                self.module_runs.append(name)
                return json.dumps(result) + "\r\n", "", 0
        if text:
            self.module_runs.append("")

        if line in self.commands:
            return self.commands[line]
        for key, canned in self.commands.items():
            if key in line:
                return canned
        return "", f"stand-in: no canned output for {line!r}\r\n", 1

    def handle(self, body: bytes) -> bytes:
        """Answer one SOAP envelope; raise ValueError for what the stand-in does not speak."""
        root = ET.fromstring(body)
        action = root.findtext("s:Header/a:Action", "", NS).strip()
        message_id = root.findtext("s:Header/a:MessageID", "", NS).strip()
        shell_id = ""
        for selector in root.iterfind("s:Header/w:SelectorSet/w:Selector", NS):
            if selector.get("Name") == "ShellId":
                shell_id = (selector.text or "").strip()
        kind = ACTIONS.get(action)
        with self.lock:
            self.requests.append((kind or action, shell_id))
        if kind is None:
            raise ValueError(f"the stand-in does not implement action {action!r}")

        if kind == "create":
            shell_id = str(uuid.uuid4()).upper()
            self.shells[shell_id] = Shell()
            return envelope(f"{TRANSFER}/CreateResponse", message_id, created_shell(shell_id, self))

        shell = self.shells.get(shell_id)
        if shell is None:
            raise ValueError(f"no shell {shell_id!r}")

        body_node = root.find("s:Body", NS)
        assert body_node is not None
        if kind == "delete":
            del self.shells[shell_id]
            return envelope(f"{TRANSFER}/DeleteResponse", message_id, "")

        if kind == "command":
            line = command_line(body_node)
            command_id = str(uuid.uuid4()).upper()
            shell.commands[command_id] = Command(line)
            with self.lock:
                self.command_lines.append(line)
            reply = (
                f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId>"
                "</rsp:CommandResponse>"
            )
            return envelope(f"{SHELL}/CommandResponse", message_id, reply)

        if kind == "send":
            for stream in body_node.iterfind("rsp:Send/rsp:Stream", NS):
                command = shell.commands[stream.get("CommandId", "")]
                command.stdin += base64.b64decode(stream.text or "")
            return envelope(f"{SHELL}/SendResponse", message_id, "<rsp:SendResponse/>")

        if kind == "signal":
            signal = body_node.find("rsp:Signal", NS)
            command_id = signal.get("CommandId", "") if signal is not None else ""
            shell.commands.pop(command_id, None)
            return envelope(f"{SHELL}/SignalResponse", message_id, "<rsp:SignalResponse/>")

        desired = body_node.find("rsp:Receive/rsp:DesiredStream", NS)
        command_id = desired.get("CommandId", "") if desired is not None else ""
        command = shell.commands[command_id]
        stdout, stderr, code = self.answer(command.line, bytes(command.stdin))
        command.done = True
        return envelope(
            f"{SHELL}/ReceiveResponse", message_id, received(command_id, stdout, stderr, code)
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1 keeps the connection open, which NTLM needs: the context set up by the
            # handshake is the connection's and authenticates every later request on it.
            protocol_version = "HTTP/1.1"
            # An idle client that never closes must not pin a handler thread for ever.
            timeout = 30

            def setup(self) -> None:
                super().setup()
                self.ntlm: spnego.ContextProxy | None = None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.path != "/wsman":
                    self.reply(404, b"", "text/plain")
                    return
                if not self.authenticate():
                    return

                content_type = self.headers.get("Content-Type", "")
                if body:
                    with standin.lock:
                        standin.content_types.append(content_type)
                encrypted = content_type.startswith("multipart/encrypted")
                if encrypted:
                    if self.ntlm is None:
                        self.reply(400, b"encryption needs an NTLM connection", "text/plain")
                        return
                    try:
                        body = unseal(self.ntlm, body)
                    except (ValueError, SpnegoError) as exc:
                        self.reply(400, str(exc).encode(), "text/plain")
                        return

                # pywinrm posts an empty body to set up the context before it encrypts.
                if not body:
                    self.reply(200, b"", SOAP)
                    return
                try:
                    code, answer = 200, standin.handle(body)
                except (ValueError, KeyError, ET.ParseError) as exc:
                    code, answer = 500, fault(str(exc))
                if encrypted and self.ntlm is not None:
                    self.reply(code, seal(self.ntlm, answer), ENCRYPTED)
                else:
                    self.reply(code, answer, SOAP)

            def authenticate(self) -> bool:
                """Whether the request may go on; when not, the 401 has been sent."""
                scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
                if not scheme:
                    if self.ntlm is not None and self.ntlm.complete:
                        return True
                    return self.refuse()
                if scheme.lower() == "basic":
                    return standin.basic_authorized(token) or self.refuse()
                if scheme.lower() not in ("negotiate", "ntlm"):
                    return self.refuse()

                # A Negotiate message starts a new handshake, even on an authenticated connection.
                if self.ntlm is None or self.ntlm.complete:
                    try:
                        self.ntlm = spnego.server(
                            protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm
                        )
                    except SpnegoError as exc:
                        # No NTLM_USER_FILE: a fault of the test's setup, not a bad login.
                        self.reply(500, str(exc).encode(), "text/plain")
                        return False
                try:
                    answer = self.ntlm.step(base64.b64decode(token))
                except (ValueError, SpnegoError):
                    self.ntlm = None
                    return self.refuse()
                if not self.ntlm.complete:
                    standin.record("challenge")
                    challenge = base64.b64encode(answer or b"").decode()
                    self.unauthorized([f"{scheme} {challenge}"])
                    return False
                with standin.lock:
                    standin.ntlm_users.append(self.ntlm.client_principal or "")
                return True

            def refuse(self) -> bool:
                standin.record("unauthorized")
                self.unauthorized(["Negotiate", 'Basic realm="WSMAN"'])
                return False

            def unauthorized(self, challenges: list[str]) -> None:
                self.send_response(401)
                for challenge in challenges:
                    self.send_header("WWW-Authenticate", challenge)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def reply(self, code: int, payload: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def unseal(context: spnego.ContextProxy, body: bytes) -> bytes:
    """The SOAP envelope inside an encrypted body, as pywinrm's winrm/encryption.py frames it.

    One part for NTLM: a header naming the original length, then the signature's length
    (4 bytes, little-endian), the signature and the sealed envelope. RC4 sealing keeps the
    length, so the sealed bytes are cut by that length rather than by searching for the
    boundary, which the ciphertext may happen to contain.
    """
    head, found, payload = body.partition(OCTETS)
    match = ORIGINAL_LENGTH.search(head)
    if not found or not match or len(payload) < 4:
        raise ValueError("not a multipart/encrypted body as WinRM frames it")
    length = int(match.group(1))
    (signature_length,) = struct.unpack("<i", payload[:4])
    signature = payload[4 : 4 + signature_length]
    sealed = payload[4 + signature_length : 4 + signature_length + length]
    if payload[4 + signature_length + length :] != BOUNDARY + b"--\r\n":
        raise ValueError(f"the encrypted body does not end after the {length} bytes it names")
    return context.unwrap_winrm(signature, sealed)


def seal(context: spnego.ContextProxy, message: bytes) -> bytes:
    """An encrypted body for ``message``, framed as pywinrm parses it."""
    wrapped = context.wrap_winrm(message)
    return (
        BOUNDARY
        + b"\r\n\tContent-Type: "
        + SESSION_ENCRYPTED
        + b"\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
        + str(len(message)).encode()
        + b"\r\n"
        + BOUNDARY
        + b"\r\n"
        + OCTETS
        + struct.pack("<i", len(wrapped.header))
        + wrapped.header
        + wrapped.data
        + BOUNDARY
        + b"--\r\n"
    )


def command_line(body: ET.Element) -> str:
    """The command line of a Command request; PowerShell -EncodedCommand decoded to its script."""
    command = (body.findtext("rsp:CommandLine/rsp:Command", "", NS) or "").strip().strip('"')
    arguments = [(node.text or "") for node in body.iterfind("rsp:CommandLine/rsp:Arguments", NS)]
    line = " ".join([command, *arguments]).strip()
    match = ENCODED.search(line)
    if match:
        return base64.b64decode(match.group(1)).decode("utf-16-le")
    return line


def envelope(action: str, relates_to: str, body: str) -> bytes:
    message_id = f"uuid:{str(uuid.uuid4()).upper()}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:w="{NS["w"]}"'
        f' xmlns:rsp="{NS["rsp"]}">'
        "<s:Header>"
        f"<a:Action>{action}</a:Action>"
        f"<a:MessageID>{message_id}</a:MessageID>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        "</s:Header>"
        f"<s:Body>{body}</s:Body>"
        "</s:Envelope>"
    ).encode()


def created_shell(shell_id: str, standin: WinRMStandIn) -> str:
    return (
        '<x:ResourceCreated xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer">'
        f"<a:Address>{standin.endpoint}</a:Address>"
        "<a:ReferenceParameters>"
        f"<w:ResourceURI>{SHELL}/cmd</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters>"
        "</x:ResourceCreated>"
        f"<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId>"
        f"<rsp:ResourceUri>{SHELL}/cmd</rsp:ResourceUri>"
        "<rsp:State>Connected</rsp:State></rsp:Shell>"
    )


def received(command_id: str, stdout: str, stderr: str, code: int) -> str:
    streams = []
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        if text:
            data = base64.b64encode(text.encode()).decode()
            streams.append(
                f'<rsp:Stream Name="{name}" CommandId="{command_id}">{data}</rsp:Stream>'
            )
        streams.append(
            f'<rsp:Stream Name="{name}" CommandId="{command_id}" End="true"></rsp:Stream>'
        )
    return (
        "<rsp:ReceiveResponse>"
        + "".join(streams)
        + f'<rsp:CommandState CommandId="{command_id}" State="{SHELL}/CommandState/Done">'
        f"<rsp:ExitCode>{code}</rsp:ExitCode></rsp:CommandState>"
        "</rsp:ReceiveResponse>"
    )


def fault(reason: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:w="{NS["w"]}"><s:Body><s:Fault>'
        "<s:Code><s:Value>s:Receiver</s:Value></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(reason)}</s:Text></s:Reason>'
        "<s:Detail><w:FaultDetail>stand-in</w:FaultDetail></s:Detail>"
        "</s:Fault></s:Body></s:Envelope>"
    ).encode()
