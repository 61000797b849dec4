"""A local Hugging Face Hub on loopback: check a publishing pipeline offline.

It implements, in memory, the calls ``huggingface_hub`` makes to create a repo, upload a folder
(preupload with ``uploadMode: regular`` so file bytes arrive inline, then an NDJSON commit),
create a branch, describe a revision, and resolve files for download: enough for
``hf-recsys push``, ``push_to_hub``, ``upload_folder``, ``snapshot_download`` and
``from_pretrained("org/name")`` to run for real, with no network and no account.

    from hf_recsys.testing.fake_hub import FakeHub

    with FakeHub() as hub:                      # sets nothing globally
        env = dict(os.environ, HF_ENDPOINT=hub.endpoint, HF_TOKEN="hf_local")
        subprocess.run(["hf-recsys", "push", "outputs/bst", "--repo-id", "me/bst"], env=env, check=True)
        hub.repos["me/bst"].tree("main")        # {path: bytes} of what was pushed

Point a process at it with ``HF_ENDPOINT=hub.endpoint``: ``hf-recsys push`` (and
``hf_recsys.hub.push_folder_to_hub``) read ``HF_ENDPOINT`` when they run, but ``transformers``
and ``huggingface_hub`` downloads read it when ``huggingface_hub`` is first imported, so load
from it in a process started with the variable set (as above). The repos live as long as the
``with`` block.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional


class _Repo:
    def __init__(self) -> None:
        self.branches: dict[str, str] = {}
        self.commits: dict[str, dict[str, bytes]] = {}

    def tree(self, revision: str) -> Optional[dict[str, bytes]]:
        commit = self.branches.get(revision, revision)
        return self.commits.get(commit)

    def commit(self, revision: str, changes: dict[str, Optional[bytes]]) -> str:
        base = dict(self.tree(revision) or {})
        for path, content in changes.items():
            if content is None:
                base.pop(path, None)
            else:
                base[path] = content
        digest = hashlib.sha1(json.dumps(sorted((p, hashlib.sha1(c).hexdigest()) for p, c in base.items())).encode())
        sha = hashlib.sha1((digest.hexdigest() + str(len(self.commits))).encode()).hexdigest()
        self.commits[sha] = base
        self.branches[revision if revision in self.branches or not re.fullmatch(r"[0-9a-f]{40}", revision) else "main"] = sha
        return sha


class FakeHub:
    """Runs the server in a daemon thread; ``endpoint`` is its base URL."""

    def __init__(self) -> None:
        self.repos: dict[str, _Repo] = {}
        self.requests: list[tuple[str, str]] = []
        #: when set, every write (POST) is answered with this status, as a Hub refusing the token would
        self.refuse_writes: Optional[int] = None
        #: the token's user: a repo created without an organisation goes under this name, as on the Hub
        self.user = "me"
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: bytes = b"", headers: Optional[dict] = None, head: bool = False) -> None:
                self.send_response(status)
                headers = {"Content-Type": "application/json", **(headers or {})}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _json(self, status: int, payload: dict, headers: Optional[dict] = None) -> None:
                self._send(status, json.dumps(payload).encode(), headers)

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_POST(self) -> None:  # noqa: N802
                hub.requests.append(("POST", self.path))
                body = self._body()
                if hub.refuse_writes:
                    return self._json(hub.refuse_writes, {"error": "Invalid credentials in Authorization header"})
                path = self.path.split("?")[0]
                if path == "/api/repos/create":
                    data = json.loads(body or b"{}")
                    name = f"{data.get('organization') or hub.user}/{data['name']}"
                    repo = hub.repos.setdefault(name, _Repo())
                    if "main" not in repo.branches:
                        repo.commit("main", {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"})
                    return self._json(200, {"url": f"{hub.endpoint}/{name}", "name": name, "id": name})
                if path == "/api/validate-yaml":
                    return self._json(200, {"errors": [], "warnings": []})
                match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/preupload/(.+)", path)
                if match:
                    files = json.loads(body)["files"]
                    return self._json(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]})
                match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/commit/(.+)", path)
                if match:
                    repo_id, revision = match.group(1), _unquote(match.group(2))
                    repo = hub.repos.get(repo_id)
                    if repo is None:
                        return self._json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
                    changes: dict[str, Optional[bytes]] = {}
                    for line in body.decode().splitlines():
                        if not line.strip():
                            continue
                        item = json.loads(line)
                        value = item.get("value", {})
                        if item.get("key") == "file":
                            changes[value["path"]] = base64.b64decode(value["content"])
                        elif item.get("key") == "deletedFile":
                            changes[value["path"]] = None
                    sha = repo.commit(revision, changes)
                    return self._json(200, {"commitUrl": f"{hub.endpoint}/{repo_id}/commit/{sha}", "commitOid": sha, "success": True})
                match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/branch/(.+)", path)
                if match:
                    repo = hub.repos[match.group(1)]
                    branch = _unquote(match.group(2))
                    repo.branches.setdefault(branch, repo.branches["main"])
                    return self._json(200, {})
                return self._json(404, {"error": f"unsupported POST {path}"})

            def do_GET(self) -> None:  # noqa: N802
                self._get(head=False)

            def do_HEAD(self) -> None:  # noqa: N802
                self._get(head=True)

            def _get(self, head: bool) -> None:
                hub.requests.append(("HEAD" if head else "GET", self.path))
                path = self.path.split("?")[0]
                match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/.*)?", path)
                if match:
                    repo = hub.repos.get(match.group(1))
                    tree = repo.tree(_unquote(match.group(2))) if repo else None
                    if tree is None:
                        return self._json(404, {"error": "not found"}, {"X-Error-Code": "RevisionNotFound"})
                    entries = [{"type": "file", "path": p, "size": len(c), "oid": hashlib.sha1(c).hexdigest()}
                               for p, c in sorted(tree.items())]
                    return self._send(200, json.dumps(entries).encode())
                match = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/(.+))?", path)
                if match:
                    repo = hub.repos.get(match.group(1))
                    revision = _unquote(match.group(2) or "main")
                    tree = repo.tree(revision) if repo else None
                    if tree is None:
                        return self._json(404, {"error": "not found"}, {"X-Error-Code": "RevisionNotFound" if repo else "RepoNotFound"})
                    sha = repo.branches.get(revision, revision)
                    return self._json(200, {"id": match.group(1), "modelId": match.group(1), "sha": sha, "private": False,
                                            "siblings": [{"rfilename": p} for p in sorted(tree)], "tags": []})
                match = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
                if match:
                    repo = hub.repos.get(match.group(1))
                    revision, filename = _unquote(match.group(2)), _unquote(match.group(3))
                    tree = repo.tree(revision) if repo else None
                    if tree is None:
                        return self._send(404, b"{}", {"X-Error-Code": "RevisionNotFound" if repo else "RepoNotFound"}, head)
                    if filename not in tree:
                        return self._send(404, b"{}", {"X-Error-Code": "EntryNotFound"}, head)
                    content = tree[filename]
                    sha = repo.branches.get(revision, revision)
                    return self._send(200, content, {
                        "Content-Type": "application/octet-stream",
                        "ETag": f'"{hashlib.sha256(content).hexdigest()}"',
                        "X-Repo-Commit": sha,
                    }, head)
                return self._json(404, {"error": f"unsupported GET {path}"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text)
