"""The README's code blocks, run as written against a gateway of the README's default configuration (local folder
blob store, auth mode none), from a shell with no AWS configuration at all: so the snippets stay true.

Python blocks run with the gateway's address in place of 127.0.0.1:8000; where a block ends on an expression
followed by a `# {...}` comment, the quoted words of the comment must be in the answer. Blocks that elide steps
(`# ...`) are fragments, not programs, and are skipped. Shell blocks run in bash, one after the other as a reader
types them (the `export` lines of earlier blocks hold in later ones), with the `aws` CLI and `curl` when they are
installed; the blocks that install or start the gateway itself (`./scripts/...`) are not run here."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import GatewayProcess

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```", re.DOTALL | re.MULTILINE)
ADDRESSES = ("http://127.0.0.1:8000", "http://localhost:8000", "localhost:8000")


def blocks(language: str) -> list[tuple[int, str]]:
    text = README.read_text()
    return [(text[: match.start()].count("\n") + 1, match.group(2)) for match in BLOCK.finditer(text)
            if match.group(1) == language]


def is_fragment(code: str) -> bool:
    return any(line.strip().startswith("# ...") for line in code.splitlines())


def at(code: str, url: str) -> str:
    for address in ADDRESSES:
        code = code.replace(address, url if address.startswith("http") else url.removeprefix("http://"))
    return code


@pytest.fixture(scope="module")
def readme_gateway(tmp_path_factory):
    """The README's defaults: no S3 endpoint (the local folder store), auth mode none."""
    process = GatewayProcess(tmp_path_factory.mktemp("readme") / "data").start()
    yield process
    process.stop()


PYTHON = [(line, code) for line, code in blocks("python") if not is_fragment(code)]


@pytest.mark.parametrize("code", [code for _, code in PYTHON], ids=[f"line{line}" for line, _ in PYTHON])
def test_python_block(readme_gateway, tmp_path, monkeypatch, code):
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):  # no AWS configuration: the snippet must carry what it needs
        if name.startswith("AWS_") and name != "AWS_CA_BUNDLE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    code = at(code, readme_gateway.url)
    try:
        run_python(code)
    except Exception as error:  # the gateway's side of a failure, for the report
        raise AssertionError(f"README block failed: {error!r}\ngateway log:\n{readme_gateway.log()[-3000:]}") from error


def run_python(code: str) -> None:
    tree = ast.parse(code)
    namespace: dict = {}
    last = tree.body[-1]
    if isinstance(last, ast.Expr):
        exec(compile(ast.Module(tree.body[:-1], type_ignores=[]), "README", "exec"), namespace)  # noqa: S102
        answer = eval(compile(ast.Expression(last.value), "README", "eval"), namespace)
        shown = code.strip().splitlines()[-1]
        if shown.startswith("# {"):
            # The words the README shows for the answer are in it (scores and elided parts aside).
            for word in re.findall(r"'([^']*)'", shown):
                assert word in repr(answer), (word, answer)
        else:
            assert answer is not None
    else:
        exec(compile(tree, "README", "exec"), namespace)  # noqa: S102
        assert namespace  # the block ran to its end and defined what it names


SHELL = [(line, code) for line, code in blocks("bash") if "./scripts/" not in code]


def test_shell_blocks(readme_gateway, tmp_path):
    missing = [tool for tool in ("aws", "curl") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"not installed here: {', '.join(missing)}")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials")}
    for name in ("PYENV_ROOT", "PYENV_VERSION", "AWS_CA_BUNDLE"):
        if name in os.environ:
            env[name] = os.environ[name]
    assert SHELL
    exports: list[str] = []
    for line, code in SHELL:
        script = "set -euo pipefail\n" + "\n".join(exports) + "\n" + at(code, readme_gateway.url)
        done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
                              timeout=120)
        assert done.returncode == 0, f"README line {line}:\n{done.stdout}\n{done.stderr}"
        assert '"__type"' not in done.stdout, f"README line {line} answered an error:\n{done.stdout}"
        assert done.stdout.strip(), f"README line {line} printed nothing"
        exports += [text for text in code.splitlines() if text.startswith("export ")]


def test_sync_host_prefix_advice(readme_gateway, monkeypatch):
    """The README's advice for StartSyncExecution's `sync-` host prefix, through botocore: without it the call goes
    to sync-127.0.0.1 and fails; the environment variable and `Config(inject_host_prefix=False)` both fix it."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import EndpointConnectionError

    def client(**kwargs):
        return boto3.client("stepfunctions", endpoint_url=readme_gateway.url, region_name="us-east-1",
                            aws_access_key_id="any", aws_secret_access_key="any", **kwargs)

    definition = '{"StartAt": "Hi", "States": {"Hi": {"Type": "Pass", "Result": "hi", "End": true}}}'
    arn = client().create_state_machine(name="prefix-advice", type="EXPRESS", definition=definition,
                                        roleArn="arn:aws:iam::000000000000:role/any")["stateMachineArn"]
    monkeypatch.delenv("AWS_DISABLE_HOST_PREFIX_INJECTION", raising=False)
    with pytest.raises(EndpointConnectionError, match="sync-127.0.0.1"):
        client(config=Config(retries={"max_attempts": 1})).start_sync_execution(stateMachineArn=arn)
    fixed = client(config=Config(inject_host_prefix=False)).start_sync_execution(stateMachineArn=arn)
    assert fixed["status"] == "SUCCEEDED" and fixed["output"] == '"hi"'
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    assert client().start_sync_execution(stateMachineArn=arn)["output"] == '"hi"'
