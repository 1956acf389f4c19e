"""A WS-Management stand-in: enough of a WinRM server for pywinrm 0.5 and Ansible's winrm plugin.

This is NOT Windows and runs no command. It is a small HTTP server on 127.0.0.1 that speaks
the WS-Management SOAP messages of the Windows remote shell (Create a shell, Command, Send,
Receive, Signal, Delete) with HTTP basic authentication, and answers every command with
canned output. Tests use it to exercise the transport: pywinrm's envelopes, Ansible's
winrm connection plugin, credentials that are rejected.

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
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape

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
        #: Every request as (action, ShellId or ""), in order; 401s as ("unauthorized", "").
        self.requests: list[tuple[str, str]] = []
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

    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.username and password == self.password

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
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.path != "/wsman":
                    self.reply(404, b"", "text/plain")
                    return
                if not standin.authorized(self.headers.get("Authorization")):
                    with standin.lock:
                        standin.requests.append(("unauthorized", ""))
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="WSMAN"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    answer = standin.handle(body)
                except (ValueError, KeyError, ET.ParseError) as exc:
                    self.reply(500, fault(str(exc)), "application/soap+xml;charset=UTF-8")
                    return
                self.reply(200, answer, "application/soap+xml;charset=UTF-8")

            def reply(self, code: int, payload: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


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
