"""rg 14.1.0's built-in file types (`-t`/`-T`): the table `rg --type-list` prints.

Kept as data in rg's listing order (names sorted, each type's globs sorted), so the listing
is rebuilt from it verbatim. Globs match a file's name, never its directory.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import groupby
from operator import itemgetter

from trigrep.errors import PatternError
from trigrep.ignore import glob_to_regex
from trigrep.options import TypeChange

TYPES: dict[str, tuple[str, ...]] = {
    "ada": (
        "*.adb",
        "*.ads",
    ),
    "agda": (
        "*.agda",
        "*.lagda",
    ),
    "aidl": ("*.aidl",),
    "alire": ("alire.toml",),
    "amake": (
        "*.bp",
        "*.mk",
    ),
    "asciidoc": (
        "*.adoc",
        "*.asc",
        "*.asciidoc",
    ),
    "asm": (
        "*.S",
        "*.asm",
        "*.s",
    ),
    "asp": (
        "*.ascx",
        "*.ascx.cs",
        "*.ascx.vb",
        "*.asp",
        "*.aspx",
        "*.aspx.cs",
        "*.aspx.vb",
    ),
    "ats": (
        "*.ats",
        "*.dats",
        "*.hats",
        "*.sats",
    ),
    "avro": (
        "*.avdl",
        "*.avpr",
        "*.avsc",
    ),
    "awk": ("*.awk",),
    "bat": ("*.bat",),
    "batch": ("*.bat",),
    "bazel": (
        "*.BUILD",
        "*.bazel",
        "*.bazelrc",
        "*.bzl",
        "BUILD",
        "MODULE.bazel",
        "WORKSPACE",
        "WORKSPACE.bazel",
    ),
    "bitbake": (
        "*.bb",
        "*.bbappend",
        "*.bbclass",
        "*.conf",
        "*.inc",
    ),
    "brotli": ("*.br",),
    "buildstream": ("*.bst",),
    "bzip2": (
        "*.bz2",
        "*.tbz2",
    ),
    "c": (
        "*.[chH]",
        "*.[chH].in",
        "*.cats",
    ),
    "cabal": ("*.cabal",),
    "candid": ("*.did",),
    "carp": ("*.carp",),
    "cbor": ("*.cbor",),
    "ceylon": ("*.ceylon",),
    "clojure": (
        "*.clj",
        "*.cljc",
        "*.cljs",
        "*.cljx",
    ),
    "cmake": (
        "*.cmake",
        "CMakeLists.txt",
    ),
    "cmd": (
        "*.bat",
        "*.cmd",
    ),
    "cml": ("*.cml",),
    "coffeescript": ("*.coffee",),
    "config": (
        "*.cfg",
        "*.conf",
        "*.config",
        "*.ini",
    ),
    "coq": ("*.v",),
    "cpp": (
        "*.[ChH]",
        "*.[ChH].in",
        "*.[ch]pp",
        "*.[ch]pp.in",
        "*.[ch]xx",
        "*.[ch]xx.in",
        "*.cc",
        "*.cc.in",
        "*.hh",
        "*.hh.in",
        "*.inl",
    ),
    "creole": ("*.creole",),
    "crystal": (
        "*.cr",
        "*.ecr",
        "Projectfile",
        "shard.yml",
    ),
    "cs": ("*.cs",),
    "csharp": ("*.cs",),
    "cshtml": ("*.cshtml",),
    "csproj": ("*.csproj",),
    "css": (
        "*.css",
        "*.scss",
    ),
    "csv": ("*.csv",),
    "cuda": (
        "*.cu",
        "*.cuh",
    ),
    "cython": (
        "*.pxd",
        "*.pxi",
        "*.pyx",
    ),
    "d": ("*.d",),
    "dart": ("*.dart",),
    "devicetree": (
        "*.dts",
        "*.dtsi",
    ),
    "dhall": ("*.dhall",),
    "diff": (
        "*.diff",
        "*.patch",
    ),
    "dita": (
        "*.dita",
        "*.ditamap",
        "*.ditaval",
    ),
    "docker": ("*Dockerfile*",),
    "dockercompose": (
        "docker-compose.*.yml",
        "docker-compose.yml",
    ),
    "dts": (
        "*.dts",
        "*.dtsi",
    ),
    "dvc": (
        "*.dvc",
        "Dvcfile",
    ),
    "ebuild": (
        "*.ebuild",
        "*.eclass",
    ),
    "edn": ("*.edn",),
    "elisp": ("*.el",),
    "elixir": (
        "*.eex",
        "*.ex",
        "*.exs",
        "*.heex",
        "*.leex",
        "*.livemd",
    ),
    "elm": ("*.elm",),
    "erb": ("*.erb",),
    "erlang": (
        "*.erl",
        "*.hrl",
    ),
    "fennel": ("*.fnl",),
    "fidl": ("*.fidl",),
    "fish": ("*.fish",),
    "flatbuffers": ("*.fbs",),
    "fortran": (
        "*.F",
        "*.F77",
        "*.F90",
        "*.F95",
        "*.f",
        "*.f77",
        "*.f90",
        "*.f95",
        "*.pfo",
    ),
    "fsharp": (
        "*.fs",
        "*.fsi",
        "*.fsx",
    ),
    "fut": ("*.fut",),
    "gap": (
        "*.g",
        "*.gap",
        "*.gd",
        "*.gi",
        "*.tst",
    ),
    "gn": (
        "*.gn",
        "*.gni",
    ),
    "go": ("*.go",),
    "gprbuild": ("*.gpr",),
    "gradle": (
        "*.gradle",
        "*.gradle.kts",
        "gradle-wrapper.*",
        "gradle.properties",
        "gradlew",
        "gradlew.bat",
    ),
    "graphql": (
        "*.graphql",
        "*.graphqls",
    ),
    "groovy": (
        "*.gradle",
        "*.groovy",
    ),
    "gzip": (
        "*.gz",
        "*.tgz",
    ),
    "h": (
        "*.h",
        "*.hh",
        "*.hpp",
    ),
    "haml": ("*.haml",),
    "hare": ("*.ha",),
    "haskell": (
        "*.c2hs",
        "*.cpphs",
        "*.hs",
        "*.hsc",
        "*.lhs",
    ),
    "hbs": ("*.hbs",),
    "hs": (
        "*.hs",
        "*.lhs",
    ),
    "html": (
        "*.ejs",
        "*.htm",
        "*.html",
    ),
    "hy": ("*.hy",),
    "idris": (
        "*.idr",
        "*.lidr",
    ),
    "janet": ("*.janet",),
    "java": (
        "*.java",
        "*.jsp",
        "*.jspx",
        "*.properties",
    ),
    "jinja": (
        "*.j2",
        "*.jinja",
        "*.jinja2",
    ),
    "jl": ("*.jl",),
    "js": (
        "*.cjs",
        "*.js",
        "*.jsx",
        "*.mjs",
        "*.vue",
    ),
    "json": (
        "*.json",
        "*.sarif",
        "composer.lock",
    ),
    "jsonl": ("*.jsonl",),
    "julia": ("*.jl",),
    "jupyter": (
        "*.ipynb",
        "*.jpynb",
    ),
    "k": ("*.k",),
    "kotlin": (
        "*.kt",
        "*.kts",
    ),
    "lean": ("*.lean",),
    "less": ("*.less",),
    "license": (
        "*[.-]LICEN[CS]E*",
        "AGPL-*[0-9]*",
        "APACHE-*[0-9]*",
        "BSD-*[0-9]*",
        "CC-BY-*",
        "COPYING",
        "COPYING[.-]*",
        "COPYRIGHT",
        "COPYRIGHT[.-]*",
        "EULA",
        "EULA[.-]*",
        "GFDL-*[0-9]*",
        "GNU-*[0-9]*",
        "GPL-*[0-9]*",
        "LGPL-*[0-9]*",
        "LICEN[CS]E",
        "LICEN[CS]E[.-]*",
        "MIT-*[0-9]*",
        "MPL-*[0-9]*",
        "NOTICE",
        "NOTICE[.-]*",
        "OFL-*[0-9]*",
        "PATENTS",
        "PATENTS[.-]*",
        "UNLICEN[CS]E",
        "UNLICEN[CS]E[.-]*",
        "agpl[.-]*",
        "gpl[.-]*",
        "lgpl[.-]*",
        "licen[cs]e",
        "licen[cs]e.*",
    ),
    "lilypond": (
        "*.ily",
        "*.ly",
    ),
    "lisp": (
        "*.el",
        "*.jl",
        "*.lisp",
        "*.lsp",
        "*.sc",
        "*.scm",
    ),
    "lock": (
        "*.lock",
        "package-lock.json",
    ),
    "log": ("*.log",),
    "lua": ("*.lua",),
    "lz4": ("*.lz4",),
    "lzma": ("*.lzma",),
    "m4": (
        "*.ac",
        "*.m4",
    ),
    "make": (
        "*.mak",
        "*.mk",
        "[Gg][Nn][Uu]makefile",
        "[Gg][Nn][Uu]makefile.am",
        "[Gg][Nn][Uu]makefile.in",
        "[Mm]akefile",
        "[Mm]akefile.am",
        "[Mm]akefile.in",
    ),
    "mako": (
        "*.mako",
        "*.mao",
    ),
    "man": (
        "*.[0-9][cEFMmpSx]",
        "*.[0-9lnpx]",
    ),
    "markdown": (
        "*.markdown",
        "*.md",
        "*.mdown",
        "*.mdwn",
        "*.mdx",
        "*.mkd",
        "*.mkdn",
    ),
    "matlab": ("*.m",),
    "md": (
        "*.markdown",
        "*.md",
        "*.mdown",
        "*.mdwn",
        "*.mdx",
        "*.mkd",
        "*.mkdn",
    ),
    "meson": (
        "meson.build",
        "meson.options",
        "meson_options.txt",
    ),
    "minified": (
        "*.min.css",
        "*.min.html",
        "*.min.js",
    ),
    "mint": ("*.mint",),
    "mk": ("mkfile",),
    "ml": ("*.ml",),
    "motoko": ("*.mo",),
    "msbuild": (
        "*.csproj",
        "*.fsproj",
        "*.proj",
        "*.props",
        "*.sln",
        "*.targets",
        "*.vcxproj",
    ),
    "nim": (
        "*.nim",
        "*.nimble",
        "*.nimf",
        "*.nims",
    ),
    "nix": ("*.nix",),
    "objc": (
        "*.h",
        "*.m",
    ),
    "objcpp": (
        "*.h",
        "*.mm",
    ),
    "ocaml": (
        "*.ml",
        "*.mli",
        "*.mll",
        "*.mly",
    ),
    "org": (
        "*.org",
        "*.org_archive",
    ),
    "pants": ("BUILD",),
    "pascal": (
        "*.dpr",
        "*.inc",
        "*.lpr",
        "*.pas",
        "*.pp",
    ),
    "pdf": ("*.pdf",),
    "perl": (
        "*.PL",
        "*.perl",
        "*.pl",
        "*.plh",
        "*.plx",
        "*.pm",
        "*.t",
    ),
    "php": (
        "*.php",
        "*.php3",
        "*.php4",
        "*.php5",
        "*.php7",
        "*.php8",
        "*.pht",
        "*.phtml",
    ),
    "po": ("*.po",),
    "pod": ("*.pod",),
    "postscript": (
        "*.eps",
        "*.ps",
    ),
    "prolog": (
        "*.P",
        "*.pl",
        "*.pro",
        "*.prolog",
    ),
    "protobuf": ("*.proto",),
    "ps": (
        "*.cdxml",
        "*.ps1",
        "*.ps1xml",
        "*.psd1",
        "*.psm1",
    ),
    "puppet": (
        "*.epp",
        "*.erb",
        "*.pp",
        "*.rb",
    ),
    "purs": ("*.purs",),
    "py": (
        "*.py",
        "*.pyi",
    ),
    "python": (
        "*.py",
        "*.pyi",
    ),
    "qmake": (
        "*.prf",
        "*.pri",
        "*.pro",
    ),
    "qml": ("*.qml",),
    "r": (
        "*.R",
        "*.Rmd",
        "*.Rnw",
        "*.r",
    ),
    "racket": ("*.rkt",),
    "raku": (
        "*.p6",
        "*.pl6",
        "*.pm6",
        "*.raku",
        "*.rakudoc",
        "*.rakumod",
        "*.rakutest",
    ),
    "rdoc": ("*.rdoc",),
    "readme": (
        "*README",
        "README*",
    ),
    "reasonml": (
        "*.re",
        "*.rei",
    ),
    "red": (
        "*.r",
        "*.red",
        "*.reds",
    ),
    "rescript": (
        "*.res",
        "*.resi",
    ),
    "robot": ("*.robot",),
    "rst": ("*.rst",),
    "ruby": (
        "*.gemspec",
        "*.rb",
        "*.rbw",
        ".irbrc",
        "Gemfile",
        "Rakefile",
        "config.ru",
    ),
    "rust": ("*.rs",),
    "sass": (
        "*.sass",
        "*.scss",
    ),
    "scala": (
        "*.sbt",
        "*.scala",
    ),
    "sh": (
        "*.bash",
        "*.bashrc",
        "*.csh",
        "*.cshrc",
        "*.ksh",
        "*.kshrc",
        "*.sh",
        "*.tcsh",
        "*.zsh",
        ".bash_login",
        ".bash_logout",
        ".bash_profile",
        ".bashrc",
        ".cshrc",
        ".kshrc",
        ".login",
        ".logout",
        ".profile",
        ".tcshrc",
        ".zlogin",
        ".zlogout",
        ".zprofile",
        ".zshenv",
        ".zshrc",
        "bash_login",
        "bash_logout",
        "bash_profile",
        "bashrc",
        "profile",
        "zlogin",
        "zlogout",
        "zprofile",
        "zshenv",
        "zshrc",
    ),
    "slim": (
        "*.skim",
        "*.slim",
        "*.slime",
    ),
    "smarty": ("*.tpl",),
    "sml": (
        "*.sig",
        "*.sml",
    ),
    "solidity": ("*.sol",),
    "soy": ("*.soy",),
    "spark": ("*.spark",),
    "spec": ("*.spec",),
    "sql": (
        "*.psql",
        "*.sql",
    ),
    "stylus": ("*.styl",),
    "sv": (
        "*.h",
        "*.sv",
        "*.svh",
        "*.v",
        "*.vg",
    ),
    "svelte": ("*.svelte",),
    "svg": ("*.svg",),
    "swift": ("*.swift",),
    "swig": (
        "*.def",
        "*.i",
    ),
    "systemd": (
        "*.automount",
        "*.conf",
        "*.device",
        "*.link",
        "*.mount",
        "*.path",
        "*.scope",
        "*.service",
        "*.slice",
        "*.socket",
        "*.swap",
        "*.target",
        "*.timer",
    ),
    "taskpaper": ("*.taskpaper",),
    "tcl": ("*.tcl",),
    "tex": (
        "*.bib",
        "*.cls",
        "*.dtx",
        "*.ins",
        "*.ltx",
        "*.sty",
        "*.tex",
    ),
    "texinfo": ("*.texi",),
    "textile": ("*.textile",),
    "tf": (
        "*.auto.tfvars",
        "*.auto.tfvars.json",
        "*.terraform.lock.hcl",
        "*.terraformrc",
        "*.tf",
        "*.tf.json",
        "*.tfrc",
        "terraform.rc",
        "terraform.tfvars",
        "terraform.tfvars.json",
    ),
    "thrift": ("*.thrift",),
    "toml": (
        "*.toml",
        "Cargo.lock",
    ),
    "ts": (
        "*.cts",
        "*.mts",
        "*.ts",
        "*.tsx",
    ),
    "twig": ("*.twig",),
    "txt": ("*.txt",),
    "typescript": (
        "*.cts",
        "*.mts",
        "*.ts",
        "*.tsx",
    ),
    "typoscript": (
        "*.ts",
        "*.typoscript",
    ),
    "usd": (
        "*.usd",
        "*.usda",
        "*.usdc",
    ),
    "v": (
        "*.v",
        "*.vsh",
    ),
    "vala": ("*.vala",),
    "vb": ("*.vb",),
    "vcl": ("*.vcl",),
    "verilog": (
        "*.sv",
        "*.svh",
        "*.v",
        "*.vh",
    ),
    "vhdl": (
        "*.vhd",
        "*.vhdl",
    ),
    "vim": (
        "*.vim",
        ".gvimrc",
        ".vimrc",
        "_gvimrc",
        "_vimrc",
        "gvimrc",
        "vimrc",
    ),
    "vimscript": (
        "*.vim",
        ".gvimrc",
        ".vimrc",
        "_gvimrc",
        "_vimrc",
        "gvimrc",
        "vimrc",
    ),
    "vue": ("*.vue",),
    "webidl": (
        "*.idl",
        "*.webidl",
        "*.widl",
    ),
    "wgsl": ("*.wgsl",),
    "wiki": (
        "*.mediawiki",
        "*.wiki",
    ),
    "xml": (
        "*.dtd",
        "*.rng",
        "*.sch",
        "*.xhtml",
        "*.xjb",
        "*.xml",
        "*.xml.dist",
        "*.xsd",
        "*.xsl",
        "*.xslt",
    ),
    "xz": (
        "*.txz",
        "*.xz",
    ),
    "yacc": ("*.y",),
    "yaml": (
        "*.yaml",
        "*.yml",
    ),
    "yang": ("*.yang",),
    "z": ("*.Z",),
    "zig": ("*.zig",),
    "zsh": (
        "*.zsh",
        ".zlogin",
        ".zlogout",
        ".zprofile",
        ".zshenv",
        ".zshrc",
        "zlogin",
        "zlogout",
        "zprofile",
        "zshenv",
        "zshrc",
    ),
    "zstd": (
        "*.zst",
        "*.zstd",
    ),
}

ALL_TYPES = "all"  # rg's pseudo type selecting every defined type
_BAD_DEFINITION = "invalid definition (format is type:glob, e.g., html:*.html)"


class FileTypes:
    """The type definitions and selections after rg's `--type-add`, `--type-clear`, `-t` and
    `-T`, applied in command-line order (a definition added after `-t NAME` still counts,
    but `-t all` selects only the types defined where it stands).

    Raises PatternError (rg's wording) for a bad definition.
    """

    def __init__(self, changes: Sequence[TypeChange] = ()) -> None:
        self.definitions = {name: list(globs) for name, globs in TYPES.items()}
        self.selections: list[tuple[str, bool]] = []  # (name, keep), in order
        for kind, value in changes:
            if kind == "add":
                self._add_definition(value)
            elif kind == "clear":
                self.definitions.pop(value, None)
            else:
                names = list(self.definitions) if value == ALL_TYPES else [value]
                self.selections.extend((name, kind == "select") for name in names)

    def _add_definition(self, definition: str) -> None:
        """`name:glob`, or `name:include:a,b` (the globs the named types have now)."""
        parts = definition.split(":")
        if len(parts) == 2 and all(parts):
            name, globs = parts[0], [parts[1]]
        elif len(parts) == 3 and parts[0] and parts[1] == "include" and parts[2]:
            name, included = parts[0], parts[2].split(",")
            if any(t not in self.definitions for t in included):
                raise PatternError(_BAD_DEFINITION)
            globs = [glob for t in included for glob in self.definitions[t]]
        else:
            raise PatternError(_BAD_DEFINITION)
        if name == ALL_TYPES or not name.isalnum():
            raise PatternError(_BAD_DEFINITION)
        self.definitions.setdefault(name, []).extend(globs)

    def globs_of(self, name: str) -> list[str]:
        """The globs a selection of `name` stands for; PatternError if it is not defined."""
        if name not in self.definitions:
            raise PatternError(f"unrecognized file type: {name}")
        return self.definitions[name]

    def listing(self) -> str:
        """Exactly what `rg --type-list` prints with these definitions."""
        return "".join(
            f"{name}: {', '.join(sorted(globs))}\n"
            for name, globs in sorted(self.definitions.items())
        )


def type_list(changes: Sequence[TypeChange] = ()) -> str:
    """Exactly what `rg --type-list` prints (with `--type-add`/`--type-clear` applied)."""
    return FileTypes(changes).listing()


class TypeMatcher:
    """rg's `-t`/`-T` filter: the last selection with a glob matching the file name decides.

    Raises PatternError as rg does: a bad definition first, then, in selection order, an
    unknown name or a bad glob of a selected type.
    """

    def __init__(self, changes: Sequence[TypeChange]) -> None:
        types = FileTypes(changes)
        # A run of selections that all keep (or all drop) decides as their union would.
        runs = groupby(types.selections, key=itemgetter(1))
        rules = [(re.compile(b"(?s)" + b"|".join(_union(types.globs_of(t)) for t, _ in run)),
                  keep) for keep, run in runs]  # `*` takes a \n
        self._rules = rules[::-1]  # the last selection first
        self._any_selected = any(keep for _, keep in types.selections)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def matched(self, name: bytes) -> bool | None:
        """True: keep the file, False: drop it, None: types have no opinion."""
        for regex, keep in self._rules:
            if regex.fullmatch(name):
                return keep
        return False if self._any_selected else None


def _union(globs: Sequence[str]) -> bytes:
    if not globs:
        return b"(?!)"  # a type left without globs matches nothing
    return b"|".join(b"(?:" + glob_to_regex(glob, literal_separator=False) + b")" for glob in globs)
