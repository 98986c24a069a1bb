"""The small ones of issue 25, through the CLI: the password policy, the
reserved user name, init's .gitignore, no writes through symlinks."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from conftest import ROOT
from handoutgen.cli import cli
from handoutgen.content.workspace import Workspace
from handoutgen.web import auth


@pytest.fixture(autouse=True)
def _private_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path / "private"))


def _add(name: str, password: str):
    return CliRunner().invoke(
        cli, ["--workspace", str(ROOT), "users", "add", name, "--password-stdin"],
        input=password + "\n",
    )  # fmt: skip


@pytest.mark.parametrize(
    "password,reason",
    [
        (" " * 16, "the password is blank"),
        ("short pass1", "at least 12 characters"),
        ("Password1234", "too easy to guess"),
        ("qwertyuiop12", "too easy to guess"),
        ("aaaaaaaaaaaaaaaa", "too easy to guess"),
        ("123456789012", "too easy to guess"),
        ("dr.lee is my password", "too easy to guess"),  # holds the user name
    ],
)
def test_weak_passwords_are_refused(password, reason):
    result = _add("dr.lee", password)
    assert result.exit_code == 1 and reason in result.output, result.output
    assert "dr.lee" not in auth.users(Workspace.at(ROOT))


def test_a_good_password_is_accepted_and_passwd_has_the_same_policy():
    assert _add("dr.lee", "correct horse battery").exit_code == 0
    result = CliRunner().invoke(
        cli, ["--workspace", str(ROOT), "users", "passwd", "dr.lee", "--password-stdin"],
        input="letmein12345\n",
    )  # fmt: skip
    assert result.exit_code == 1 and "too easy to guess" in result.output


@pytest.mark.parametrize("name", ["local", "LOCAL"])
def test_the_loopback_users_audit_name_is_reserved(name):
    result = _add(name, "correct horse battery")
    assert result.exit_code == 1 and "is reserved" in result.output


def test_init_keeps_private_files_out_of_git(tmp_path, run):
    result = run("init", str(tmp_path / "ws"))
    assert result.exit_code == 0, result.stderr
    lines = (tmp_path / "ws" / ".gitignore").read_text().splitlines()
    assert ".handoutgen/" in lines and "output/" in lines
    # A folder that already has a .gitignore keeps it, with the lines added once.
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / ".gitignore").write_text("node_modules/\noutput/\n")
    assert run("init", str(tmp_path / "repo")).exit_code == 0
    lines = (tmp_path / "repo" / ".gitignore").read_text().splitlines()
    assert lines[0] == "node_modules/" and lines.count("output/") == 1
    assert lines.count(".handoutgen/") == 1


@pytest.mark.parametrize("link", ["templates", "schemas", ".gitignore"])
def test_init_refuses_to_write_through_a_symlink(tmp_path, run, link):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / link).symlink_to(elsewhere / "x" if link == ".gitignore" else elsewhere)
    result = run("init", str(ws))
    assert result.exit_code == 1 and "is a symbolic link; nothing was written" in result.stderr
    assert list(elsewhere.iterdir()) == [] and not (ws / "handouts").exists()


def test_schema_refuses_to_write_through_a_symlink(tmp_path, tmp_ws, run):
    target = tmp_path / "victim.json"
    target.write_text('{"$schema": "x"}')
    (tmp_path / "link.json").symlink_to(target)
    result = run("schema", "option", "-o", str(tmp_path / "link.json"))
    assert result.exit_code == 1 and "is a symbolic link" in result.stderr
    assert target.read_text() == '{"$schema": "x"}'
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    import shutil

    shutil.rmtree(tmp_ws / "schemas", ignore_errors=True)
    (tmp_ws / "schemas").symlink_to(elsewhere)
    result = run("schema", workspace=tmp_ws)
    assert result.exit_code == 1 and "is a symbolic link" in result.stderr
    assert list(elsewhere.iterdir()) == []
