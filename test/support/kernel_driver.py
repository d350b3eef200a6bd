"""A real Jupyter client (jupyter_client) for the tests, driven over JSON lines on stdin/stdout.

Each command is one JSON object with "op"; each answer one JSON line. See jupyter.ts for the TypeScript side.
"""
import json, os, select, signal, sys, time
from jupyter_client.manager import KernelManager
from jupyter_client.session import Session

km = None
kc = None
# Every comm message seen on iopub, whatever its parent: a comm's messages follow its own life, not a request's.
comm_log = []


def collect(msg_id, timeout):
    """All iopub messages for msg_id until its idle status."""
    out = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            m = kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
        except Exception:
            break
        if m["msg_type"] in ("comm_open", "comm_msg", "comm_close"):
            comm_log.append({"msg_type": m["msg_type"], "content": m["content"]})
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        content = m["content"]
        if m["msg_type"] == "execute_input" and len(content.get("code", "")) > 100000:
            # A huge cell's echo is not worth sending back whole: its size says what a test needs.
            content = {**content, "code": f"<{len(content['code'])} characters>"}
        out.append({"msg_type": m["msg_type"], "content": content})
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
    return out


def shell_reply(msg_id, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = kc.get_shell_msg(timeout=max(0.1, deadline - time.time()))
        if r["parent_header"].get("msg_id") == msg_id:
            return {"msg_type": r["msg_type"], "content": r["content"], "metadata": r["metadata"]}
    raise TimeoutError("no shell reply")


def start(cmd):
    global km, kc
    km = KernelManager(kernel_name="elixirlumin")
    km.start_kernel(cwd=cmd.get("cwd"))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return {"pid": km.provisioner.process.pid}


def execute(cmd):
    timeout = cmd.get("timeout", 60)
    allow_stdin = bool(cmd.get("inputs") is not None)
    msg_id = kc.execute(cmd["code"], allow_stdin=allow_stdin, stop_on_error=cmd.get("stop_on_error", True),
                        user_expressions=cmd.get("user_expressions", {}))
    prompts = []
    if allow_stdin:
        for answer in cmd["inputs"]:
            req = kc.get_stdin_msg(timeout=timeout)
            prompts.append(req["content"])
            kc.input(answer)
    if cmd.get("interrupt_after") is not None:
        time.sleep(cmd["interrupt_after"])
        km.interrupt_kernel()
    messages = collect(msg_id, timeout)
    reply = shell_reply(msg_id, timeout)
    return {"messages": messages, "reply": reply, "prompts": prompts}


def request(cmd):
    channel = cmd.get("channel", "shell")
    msg = kc.session.msg(cmd["type"], cmd.get("content", {}))
    if cmd.get("no_reply"):
        kc.shell_channel.send(msg)
        return {"reply": None, "messages": collect(msg["header"]["msg_id"], cmd.get("timeout", 3))}
    if channel == "control":
        kc.control_channel.send(msg)
        reply = kc.get_control_msg(timeout=cmd.get("timeout", 30))
        reply = {"msg_type": reply["msg_type"], "content": reply["content"]}
    else:
        kc.shell_channel.send(msg)
        reply = shell_reply(msg["header"]["msg_id"], cmd.get("timeout", 30))
    messages = collect(msg["header"]["msg_id"], 5) if cmd.get("collect") else []
    return {"reply": reply, "messages": messages}


def bad_signature(cmd):
    """A kernel_info_request signed with the wrong key, sent raw on the shell socket."""
    wrong = Session(key=b"not-the-key", session=kc.session.session)
    msg = wrong.msg("kernel_info_request", {})
    wrong.send(kc.shell_channel.socket, msg)
    try:
        r = kc.get_shell_msg(timeout=cmd.get("timeout", 2))
        return {"answered": True, "reply_to": r["parent_header"].get("msg_id") == msg["header"]["msg_id"]}
    except Exception:
        return {"answered": False}


def raw(cmd):
    """A message signed with the right key whose four parts are exactly what the test gives (null, wrong types).

    Answers what came back on that channel within `wait` seconds for it (matched by the header's msg_id when
    the header has one), and every iopub message whose parent carries that msg_id.
    """
    parts = [json.dumps(cmd.get(k)).encode() for k in ("header", "parent_header", "metadata", "content")]
    channel = kc.control_channel if cmd.get("channel") == "control" else kc.shell_channel
    get = kc.get_control_msg if cmd.get("channel") == "control" else kc.get_shell_msg
    # Replies left over from earlier requests (wait_for_ready's kernel_info) are not this message's.
    while True:
        try:
            get(timeout=0.05)
        except Exception:
            break
    channel.socket.send_multipart([b"<IDS|MSG>", kc.session.sign(parts)] + parts)
    header = cmd.get("header")
    msg_id = header.get("msg_id") if isinstance(header, dict) else None
    replies = []
    deadline = time.time() + cmd.get("wait", 2)
    while time.time() < deadline:
        try:
            r = get(timeout=max(0.05, deadline - time.time()))
        except Exception:
            break
        if msg_id is None or r["parent_header"].get("msg_id") == msg_id:
            replies.append({"msg_type": r["msg_type"], "content": r["content"], "parent_header": r["parent_header"]})
            break
    echoed = []
    while True:
        try:
            m = kc.get_iopub_msg(timeout=0.3)
        except Exception:
            break
        if msg_id is not None and m["parent_header"].get("msg_id") == msg_id:
            echoed.append({"msg_type": m["msg_type"], "parent_header": m["parent_header"]})
    return {"replies": replies, "iopub": echoed}


def restart(cmd):
    km.restart_kernel(now=cmd.get("now", False))
    kc.wait_for_ready(timeout=60)
    return {"pid": km.provisioner.process.pid}


def shutdown(cmd):
    kc.stop_channels()
    km.shutdown_kernel(now=cmd.get("now", False))
    return {}


def comms(cmd):
    """The comm messages seen so far (waiting `wait` seconds for more on iopub), then forget them."""
    deadline = time.time() + cmd.get("wait", 0)
    while time.time() < deadline:
        try:
            m = kc.get_iopub_msg(timeout=max(0.05, deadline - time.time()))
        except Exception:
            break
        if m["msg_type"] in ("comm_open", "comm_msg", "comm_close"):
            comm_log.append({"msg_type": m["msg_type"], "content": m["content"]})
    out = list(comm_log)
    comm_log.clear()
    return {"messages": out}


def alive(cmd):
    return {"alive": km.is_alive()}


def answer(text):
    """Write one answer whole. The kernel inherits this process's stdout, and Node makes its stdout non-blocking,
    which makes ours non-blocking too: a plain write of a long answer (charts' PNGs) would be cut short silently."""
    data = text.encode()
    fd = sys.stdout.fileno()
    while data:
        try:
            data = data[os.write(fd, data):]
        except BlockingIOError:
            select.select([], [fd], [])


OPS = {"start": start, "execute": execute, "request": request, "bad_signature": bad_signature,
       "restart": restart, "raw": raw, "shutdown": shutdown, "alive": alive, "comms": comms}

for line in sys.stdin:
    cmd = json.loads(line)
    try:
        result = {"ok": True, **OPS[cmd["op"]](cmd)}
    except Exception as e:  # report, keep serving
        result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    answer(json.dumps(result, default=str) + "\n")

if km is not None and km.has_kernel:
    km.shutdown_kernel(now=True)
