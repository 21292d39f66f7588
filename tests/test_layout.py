"""The house rules of planner/ (issue 15): a small top level, rooms that import only
what they may, imports at the top of modules, and every setting in the README."""

from __future__ import annotations

import ast
import importlib
import re
import tokenize
from pathlib import Path

import pytest

from planner.config import DEFAULTS
from planner.mail.settings import MAIL_DEFAULTS
from planner.ratelimit import DEFAULTS as RATELIMIT_DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
PLANNER = ROOT / "planner"
PROJECT = ("planner", "foods")
MAX_INNER_IMPORTS = 2
# What each room may import from the project (besides itself and the shared top-level
# modules planner.config/errors/numbers/privacy/security/services/cache).
SHARED = {"planner.config", "planner.errors", "planner.numbers", "planner.pages.privacy",
          "planner.security", "planner.services", "planner.cache"}
VIEW_ROOMS = ("pages", "api", "handouts", "mail", "own_foods")


def code_files() -> list[Path]:
    return sorted([*PLANNER.rglob("*.py"), *(ROOT / "foods").glob("*.py")])


def project_imports(tree: ast.AST):
    """(node, module name, inside a function) for every import of planner or foods."""
    def walk(node, inside):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                names = ([child.module or ""] if isinstance(child, ast.ImportFrom)
                         else [a.name for a in child.names])
                for name in names:
                    if name.split(".")[0] in PROJECT:
                        if isinstance(child, ast.ImportFrom):
                            # "from planner.pages import views" imports planner.pages.views
                            yield from ((child, f"{name}.{a.name}", inside)
                                        for a in child.names)
                        else:
                            yield child, name, inside
            yield from walk(child, inside or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef))
    yield from walk(tree, False)


def inner_imports(source: str) -> list[tuple[int, bool]]:
    """(line, has a reason comment) of each project import inside a function."""
    lines = source.splitlines()
    found = []
    for node, _, inside in project_imports(ast.parse(source)):
        if inside and (node.lineno, True) not in found and (node.lineno, False) not in found:
            above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
            same = lines[node.lineno - 1]
            found.append((node.lineno, above.startswith("#") or "#" in same))
    return found


def test_planner_has_at_most_10_modules_at_its_top_level():
    modules = sorted(p.name for p in PLANNER.glob("*.py"))
    assert len(modules) <= 10, modules


def test_at_most_two_project_imports_sit_inside_functions_each_with_a_reason():
    found = {}
    for path in code_files():
        for line, reason in inner_imports(path.read_text(encoding="utf-8")):
            found[f"{path.relative_to(ROOT)}:{line}"] = reason
    assert len(found) <= MAX_INNER_IMPORTS, found
    assert all(found.values()), [where for where, reason in found.items() if not reason]


def test_the_inner_import_counter_can_fail():
    source = ("def f():\n    from planner import services\n"
              "def g():\n    # a reason\n    import foods.loader\n"
              "import planner.config\n")
    assert inner_imports(source) == [(2, False), (5, True)]


def room_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if parts[0] == "planner" and len(parts) > 1 else parts[0]


def imports_of(path: Path) -> set[str]:
    return {name for _, name, _ in project_imports(ast.parse(path.read_text(encoding="utf-8")))}


@pytest.mark.parametrize("path", sorted((PLANNER / "domain").glob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_nothing_from_outside_the_domain(path):
    outside = {m for m in imports_of(path) if not m.startswith("planner.domain")}
    assert outside == set()


@pytest.mark.parametrize("room", VIEW_ROOMS)
def test_no_room_imports_another_rooms_views(room):
    """pages, api, handouts, mail and own_foods share helpers, never each other's views."""
    found = {}
    for path in sorted((PLANNER / room).glob("*.py")):
        views = {m for m in imports_of(path)
                 if re.fullmatch(r"planner\.(\w+)\.views", m) and room_of(m) != room}
        if views:
            found[path.name] = views
    assert found == {}


def test_the_store_and_the_data_loader_import_no_pages_or_mail():
    for room in ("store", "data"):
        for path in (PLANNER / room).glob("*.py"):
            rooms = {room_of(m) for m in imports_of(path)}
            assert not rooms & {*VIEW_ROOMS, "commands", "app", "cli"}, (path, rooms)


SETTING = re.compile(r"\bB12_[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")


def settings_in_code() -> set[str]:
    """B12_* names in the code's strings and comments (Python names such as the
    constant ``B12_NUTRIENT_ID`` are not settings)."""
    names = set()
    for path in code_files():
        with tokenize.open(path) as f:
            for token in tokenize.generate_tokens(f.readline):
                if token.type in (tokenize.STRING, tokenize.COMMENT):
                    names |= set(SETTING.findall(token.string))
    return names


def config_keys() -> set[str]:
    """Every key of the defaults (config, mail, rate limits): each is a B12_* setting."""
    return {f"B12_{k}" for k in (*DEFAULTS, *MAIL_DEFAULTS, *RATELIMIT_DEFAULTS)}


def readme_settings() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    first_cells = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `")]
    return {name for cell in first_cells for name in re.findall(r"`(B12_[A-Z0-9_]+)`", cell)}


def test_every_setting_the_code_reads_is_in_the_readme_settings_table():
    missing = (settings_in_code() | config_keys()) - readme_settings()
    assert missing == set()


def test_the_readme_lists_no_setting_the_code_does_not_know():
    unknown = readme_settings() - settings_in_code() - config_keys() - config_read()
    assert unknown == set()


def config_read() -> set[str]:
    """Config keys read through ``config.get("KEY")`` / ``config["KEY"]`` anywhere."""
    keys = set()
    pattern = re.compile(r"config(?:\.get\(|\[|\.setdefault\()\s*\"([A-Z][A-Z0-9_]+)\"")
    for path in code_files():
        keys |= set(pattern.findall(path.read_text(encoding="utf-8")))
    return {f"B12_{k}" for k in keys}


def test_every_config_key_the_code_reads_is_in_the_readme_settings_table():
    flask_own = {"B12_SECRET_KEY", "B12_SERVER_NAME", "B12_TESTING", "B12_SQLALCHEMY_DATABASE_URI",
                 "B12_SQLALCHEMY_TRACK_MODIFICATIONS", "B12_SQLALCHEMY_ENGINE_OPTIONS",
                 "B12_SESSION_COOKIE_SECURE"}
    missing = config_read() - readme_settings() - (flask_own - {"B12_SECRET_KEY",
                                                                 "B12_SERVER_NAME"})
    assert missing == set()


def test_the_factory_shows_each_setup_step_as_one_register_line():
    """create_app calls one register_* function per step, the database, the mail
    settings and CSRF each on their own line (issue 15)."""
    tree = ast.parse((PLANNER / "app.py").read_text(encoding="utf-8"))
    factory = next(n for n in tree.body if isinstance(n, ast.FunctionDef)
                   and n.name == "create_app")
    steps = [n.value.func.id for n in factory.body
             if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
             and isinstance(n.value.func, ast.Name)]
    assert steps[0] == "load_config"  # the config layers come first
    assert all(step.startswith("register_") for step in steps[1:])
    for step in ("register_security", "register_foods", "register_errors", "register_db",
                 "register_mail_config", "register_blueprints", "register_csrf",
                 "register_rate_limits"):
        assert steps.count(step) == 1, step
    assert steps.index("register_csrf") > steps.index("register_blueprints")


# ---------------------------------------------------------------------------
# The README's layout table, ARCHITECTURE.md and the code agree

# Rooms whose table row names each of their modules (the domain's and the commands'
# rows describe them instead: one module per rule or per command area).
LISTED_ROOMS = ("planner/store", "planner/pages", "planner/api", "planner/handouts",
                "planner/mail", "planner/own_foods", "planner/data", "foods")


def table_rows(name: str) -> dict[str, str]:
    """The first column's backticked paths of a markdown table, each with its row."""
    rows = {}
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            for path in re.findall(r"`([^`]+)`", first):
                rows[path] = line
    return rows


def rooms() -> list[str]:
    """planner/ and foods/ as the code has them: top-level modules and packages."""
    found = [f"planner/{p.name}" for p in PLANNER.glob("*.py") if p.name != "__init__.py"]
    found += [f"{p.parent.relative_to(ROOT)}/" for p in PLANNER.glob("*/__init__.py")]
    return sorted([*found, "foods/"])


def test_the_readme_layout_table_names_every_room_and_module_of_the_top_level():
    rows = table_rows("README.md")
    assert [r for r in rooms() if r not in rows] == []


# Shared top-level helpers ARCHITECTURE.md's rooms table does not list (the README does).
HELPERS = ("planner/config.py", "planner/errors.py", "planner/numbers.py",
           "planner/ratelimit.py", "planner/security.py")


def test_architecture_names_every_room():
    rows = table_rows("ARCHITECTURE.md")
    assert [r for r in rooms() if r not in rows and r not in HELPERS] == []


def test_every_path_the_tables_name_exists():
    for name in ("README.md", "ARCHITECTURE.md"):
        named = [p for p in table_rows(name) if p.startswith(("planner/", "foods/"))]
        assert [p for p in named if not (ROOT / p).exists()] == [], name


@pytest.mark.parametrize("room", LISTED_ROOMS)
def test_the_readme_row_of_a_room_names_each_of_its_modules(room):
    rows = table_rows("README.md")
    row = rows[f"{room}/"]
    stems = sorted(p.stem for p in (ROOT / room).glob("*.py") if p.name != "__init__.py")
    assert stems
    missing = [s for s in stems if f"`{s}`" not in row and f"`{s}.py`" not in row]
    assert missing == [], f"{room}: {missing}"


def test_architecture_names_each_module_of_foods():
    row = table_rows("ARCHITECTURE.md")["foods/"]
    stems = sorted(p.stem for p in (ROOT / "foods").glob("*.py") if p.name != "__init__.py")
    assert [s for s in stems if f"`{s}.py`" not in row] == []


def test_the_user_table_code_lives_in_foods_and_the_command_only_calls_it():
    """Issue 15's shape: foods/ holds loader.py, fdc.py and the user-table code; the
    CLI module keeps the command and its talk, and reads or writes no table itself."""
    command = ast.parse((PLANNER / "commands" / "fdc.py").read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(command) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(command) if isinstance(n, ast.ImportFrom)}
    assert "pandas" not in imported
    assert "foods.user_table" in imported
    defined = {n.name for n in ast.walk(command) if isinstance(n, ast.FunctionDef)}
    assert not defined & {"write_table", "apply_changes", "plan_changes", "read_user_table",
                          "_read_user_table"}


def dotted_planner_names(source: str) -> set[str]:
    """Dotted planner.x names in code, comments and prose; a quoted key such as
    ``"planner.foods"`` (an app.extensions entry) is a key, not a module."""
    return {m.group(1) for m in re.finditer(r"(?<![\w\"'])(planner(?:\.\w+)+)(?![\w\"'])",
                                            source)}


def names_gone(names: set[str]) -> list[str]:
    """The names whose module does not exist, or whose module has no such attribute."""
    def is_module(parts: list[str]) -> bool:
        where = ROOT.joinpath(*parts)
        return where.with_suffix(".py").exists() or (where / "__init__.py").exists()
    gone = []
    for name in sorted(names):
        parts = name.split(".")
        k = max(k for k in range(1, len(parts) + 1) if is_module(parts[:k]))
        if k < len(parts) and not hasattr(importlib.import_module(".".join(parts[:k])),
                                          parts[k]):
            gone.append(name)
    return gone


def test_the_gone_name_check_can_fail():
    assert names_gone(dotted_planner_names(
        "load it with planner.reference.load_reference(); see planner.domain.optimizer, "
        "planner.domain.planning.make_plan, app.extensions['planner.foods']")) == [
        "planner.domain.optimizer", "planner.reference.load_reference"]


def test_no_code_names_a_module_that_is_gone():
    """Docstrings and messages point at modules that exist (the regroup left some
    naming planner.reference, and the item optimiser is gone)."""
    gone = []
    for path in code_files():
        where = str(path.relative_to(ROOT))
        found = names_gone(dotted_planner_names(path.read_text(encoding="utf-8")))
        gone += [(where, n) for n in found]
    assert gone == []
